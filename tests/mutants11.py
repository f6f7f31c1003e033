"""Known-wrong variants of exercise 11's methods (pre-vote and check-quorum), each with the check that must catch it.

Every mutant changes one rule of one of the solution's six methods; ``catch`` names the check designed to notice and
``names`` a word its hint must contain (the method or rule that broke), so the student is pointed at the right place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from raftedu.raft import FOLLOWER, LEADER, PreVote, PreVoteReply, RaftNode, RequestVote


@dataclass(frozen=True)
class Mutant11:
    """A wrong ``function`` for exercise 11 that the check ``catch`` must fail with a hint naming ``names``."""

    name: str
    function: str
    fn: Callable[..., Any]
    catch: str
    names: str


# ---- in_lease --------------------------------------------------------------------


def _lease(self: RaftNode, *, timed: bool = True, inclusive: bool = False) -> bool:
    if self.role == LEADER:
        return True
    if self.leader_id is None or self.leader_heard_at is None:
        return False
    if not timed:
        return True
    low = self.timing.election_timeout[0]
    return self.now <= self.leader_heard_at + low if inclusive else self.now < self.leader_heard_at + low


def lease_never_ends(self: RaftNode) -> bool:
    return _lease(self, timed=False)


def lease_one_ms_too_long(self: RaftNode) -> bool:
    return _lease(self, inclusive=True)


# ---- start_pre_vote --------------------------------------------------------------


def _ask(self: RaftNode, *, raise_term: bool = False, reset_timer: bool = True, demote: bool = True,
         forget: bool = True) -> None:
    if demote and self.role != FOLLOWER:
        self.become_follower(None)
    if forget:
        self.leader_id = None
    self.pre_votes = {self.id}
    if raise_term:  # a real election's first step, taken too early
        self.state.current_term += 1
    term = self.current_term if raise_term else self.current_term + 1
    if reset_timer:
        self.reset_election_timer()
    for peer in self.peers:
        self.send(PreVote(term, self.id, peer, self.last_log_index, self.last_log_term))
    if self.has_quorum(self.pre_votes):
        self.pre_votes = None
        self.start_election()


def ask_after_raising_term(self: RaftNode) -> None:
    _ask(self, raise_term=True)


def ask_without_resetting_timer(self: RaftNode) -> None:
    _ask(self, reset_timer=False)


def candidate_stays_candidate(self: RaftNode) -> None:
    _ask(self, demote=False)


def keeps_the_old_leader(self: RaftNode) -> None:
    """The leader it last heard is still 'known': the plumbing then ends the pre-campaign at once (etcd)."""
    _ask(self, forget=False)


# ---- handle_pre_vote ---------------------------------------------------------------


def _grant(self: RaftNode, m: PreVote, *, lease: bool = True, log: bool = True, record: bool = False,
           any_known_leader: bool = False) -> None:
    if m.term < self.current_term:
        granted = False
    elif m.term == self.current_term and self.voted_for not in (None, m.src):
        granted = False
    elif lease and self.in_lease():
        granted = False
    elif any_known_leader and self.leader_id is not None:  # "a leader exists" read from a stale leader_id
        granted = False
    else:
        granted = not log or self.log_is_up_to_date(m.last_log_index, m.last_log_term)
    if granted and record:  # a pre-vote taken for a vote
        self.state.current_term, self.state.voted_for = m.term, m.src
    self.send(PreVoteReply(m.term if granted else self.current_term, self.id, m.src, granted))


def grant_in_lease(self: RaftNode, m: PreVote) -> None:
    _grant(self, m, lease=False)


def grant_stale_log(self: RaftNode, m: PreVote) -> None:
    _grant(self, m, log=False)


def pre_vote_is_a_vote(self: RaftNode, m: PreVote) -> None:
    _grant(self, m, record=True)


def refuse_while_any_leader_known(self: RaftNode, m: PreVote) -> None:
    _grant(self, m, any_known_leader=True)


# ---- handle_pre_vote_reply -----------------------------------------------------------


def _count(self: RaftNode, m: PreVoteReply, *, dedupe: bool = True, check_term: bool = True,
           observe: bool = True, lead: bool = False, observe_grants: bool = False) -> None:
    if observe_grants:  # a grant carries currentTerm + 1: observing it makes the pre-candidate a follower of that term
        self.observe_term(m.term)
    if not m.vote_granted:
        if observe:
            self.observe_term(m.term)
        return
    if self.pre_votes is None or (check_term and m.term != self.current_term + 1):
        return
    if dedupe:
        self.pre_votes.add(m.src)
        enough = self.has_quorum(self.pre_votes)
    else:
        self.tally = getattr(self, "tally", 1) + 1
        enough = self.tally >= self.quorum
    if enough:
        self.pre_votes = None
        if lead:  # a majority of pre-votes taken for a won election: no new term, no real votes
            self.become_leader()
        else:
            self.start_election()


def leads_on_pre_votes(self: RaftNode, m: PreVoteReply) -> None:
    _count(self, m, lead=True)


def count_duplicates(self: RaftNode, m: PreVoteReply) -> None:
    _count(self, m, dedupe=False)


def count_any_term(self: RaftNode, m: PreVoteReply) -> None:
    _count(self, m, check_term=False)


def ignore_refusal_term(self: RaftNode, m: PreVoteReply) -> None:
    _count(self, m, observe=False)


def observes_a_grants_term(self: RaftNode, m: PreVoteReply) -> None:
    _count(self, m, observe_grants=True)


# ---- ignores_vote_request ---------------------------------------------------------------


def _ignore(self: RaftNode, m: RequestVote, *, option: bool = True, transfer: bool = True, higher: bool = True) -> bool:
    return ((not option or self.check_quorum) and (not higher or m.term > self.current_term)
            and (not transfer or not m.transfer) and self.in_lease())


def ignore_transfers_too(self: RaftNode, m: RequestVote) -> bool:
    return _ignore(self, m, transfer=False)


def ignore_without_check_quorum(self: RaftNode, m: RequestVote) -> bool:
    return _ignore(self, m, option=False)


def ignore_own_term_too(self: RaftNode, m: RequestVote) -> bool:
    return _ignore(self, m, higher=False)


# ---- lost_quorum -------------------------------------------------------------------------


def _lost(self: RaftNode, *, grace: bool = True, window: bool = True, count_self: bool = True) -> bool:
    low = self.timing.election_timeout[0]
    if grace and self.now - self.leader_since < low:
        return False
    live = ([self.id] if count_self else []) + [p for p, t in self.heard_at.items() if not window or self.now - t < low]
    return not self.has_quorum(live)


def never_lost(self: RaftNode) -> bool:
    return False


def lost_without_grace(self: RaftNode) -> bool:
    return _lost(self, grace=False)


def heard_ever_counts(self: RaftNode) -> bool:
    return _lost(self, window=False)


def leader_does_not_count_itself(self: RaftNode) -> bool:
    return _lost(self, count_self=False)


MUTANTS11 = [
    Mutant11("lease never ends", "in_lease", lease_never_ends, "checkquorum_rules", "in_lease"),
    Mutant11("lease one ms too long", "in_lease", lease_one_ms_too_long, "prevote_rules", "in_lease"),
    Mutant11("asks after raising its term", "start_pre_vote", ask_after_raising_term, "rejoin_with_prevote",
             "start_pre_vote"),
    Mutant11("asks without resetting its timer", "start_pre_vote", ask_without_resetting_timer, "prevote_rules",
             "start_pre_vote"),
    Mutant11("keeps the old leader", "start_pre_vote", keeps_the_old_leader, "lonely_leader", "start_pre_vote"),
    Mutant11("a candidate stays candidate", "start_pre_vote", candidate_stays_candidate, "prevote_rules",
             "start_pre_vote"),
    Mutant11("grants in a lease", "handle_pre_vote", grant_in_lease, "prevote_rules", "in_lease"),
    Mutant11("grants a stale log", "handle_pre_vote", grant_stale_log, "prevote_rules", "handle_pre_vote"),
    Mutant11("a pre-vote is a vote", "handle_pre_vote", pre_vote_is_a_vote, "prevote_rules", "handle_pre_vote"),
    Mutant11("refuses while any leader is known", "handle_pre_vote", refuse_while_any_leader_known,
             "prevote_rules", "in_lease"),
    Mutant11("leads on pre-votes", "handle_pre_vote_reply", leads_on_pre_votes, "both_under_faults", "broken"),
    Mutant11("counts duplicates", "handle_pre_vote_reply", count_duplicates, "prevote_rules", "handle_pre_vote_reply"),
    Mutant11("counts any term", "handle_pre_vote_reply", count_any_term, "prevote_rules", "handle_pre_vote_reply"),
    Mutant11("ignores a refusal's term", "handle_pre_vote_reply", ignore_refusal_term, "prevote_rules",
             "handle_pre_vote_reply"),
    Mutant11("observes a grant's term", "handle_pre_vote_reply", observes_a_grants_term, "prevote_rules",
             "only a refusal's term"),
    Mutant11("ignores transfers too", "ignores_vote_request", ignore_transfers_too, "checkquorum_rules",
             "ignores_vote_request"),
    Mutant11("ignores without check-quorum", "ignores_vote_request", ignore_without_check_quorum,
             "checkquorum_rules", "ignores_vote_request"),
    Mutant11("ignores its own term too", "ignores_vote_request", ignore_own_term_too, "checkquorum_rules",
             "ignores_vote_request"),
    Mutant11("never steps down", "lost_quorum", never_lost, "lonely_leader", "lost_quorum"),
    Mutant11("steps down without a grace window", "lost_quorum", lost_without_grace, "checkquorum_rules",
             "lost_quorum"),
    Mutant11("counts servers heard ever", "lost_quorum", heard_ever_counts, "lonely_leader", "lost_quorum"),
    Mutant11("the leader does not count itself", "lost_quorum", leader_does_not_count_itself, "checkquorum_rules",
             "lost_quorum"),
]
"""Exercise 11's mutants: one broken rule each, and the check (and the word in its hint) that must catch it."""
