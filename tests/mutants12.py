"""Known-wrong variants of exercise 12's methods (membership changes), each with the check that must catch it.

Every mutant changes one rule of one of the solution's ten methods; ``catch`` names the check designed to notice and
``names`` a word its hint must contain (the method or rule that broke), so the student is pointed at the right place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from raftedu.raft import LEADER, ConfigChange, RaftNode, TimeoutNow, majority


@dataclass(frozen=True)
class Mutant12:
    """A wrong ``function`` for exercise 12 that the check ``catch`` must fail with a hint naming ``names``."""

    name: str
    function: str
    fn: Callable[..., Any]
    catch: str
    names: str


# ---- refresh_configuration ---------------------------------------------------------


def uses_committed_configuration(self: RaftNode) -> None:
    """Waits for a configuration to commit before using it (§4.1 says: at once, committed or not)."""
    index, config = self.config_at(self.commit_index)
    if index != self.config_index or config != self.config:
        self.apply_configuration(index, config)


def only_a_new_last_entry(self: RaftNode) -> None:
    """Looks only at the last entry: misses a configuration followed by a command, never reverts after a deletion."""
    if self.log and type(self.log[-1].command) is ConfigChange and self.last_log_index != self.config_index:
        self.apply_configuration(self.last_log_index, self.log[-1].command)


# ---- configuration_change_refused ----------------------------------------------------


def _refused(self: RaftNode, *, fix: bool = True, one_at_a_time: bool = True, transfer: bool = True) -> str | None:
    if self.role != LEADER:
        return "not the leader"
    if transfer and self.transferee is not None:
        return "handing over"
    if one_at_a_time and self.config_index > self.commit_index:
        return "a change is in flight"
    if fix and self.term_at(self.commit_index) != self.current_term:
        return "nothing of my term committed"
    return None


def without_the_2015_fix(self: RaftNode) -> str | None:
    return _refused(self, fix=False)


def two_changes_in_flight(self: RaftNode) -> str | None:
    return _refused(self, one_at_a_time=False)


def changes_while_handing_over(self: RaftNode) -> str | None:
    return _refused(self, transfer=False)


# ---- promotion_refused ---------------------------------------------------------------


def _promotion(self: RaftNode, learner: int, *, caught_up: bool = True, learner_only: bool = True) -> str | None:
    if learner_only and learner not in self.learners:
        return "not a learner"
    if caught_up and self.match_index.get(learner, 0) < self.commit_index:
        return "still catching up"
    return self.configuration_change_refused()


def promotes_before_catching_up(self: RaftNode, learner: int) -> str | None:
    return _promotion(self, learner, caught_up=False)


def promotes_anyone(self: RaftNode, learner: int) -> str | None:
    return _promotion(self, learner, learner_only=False)


# ---- has_quorum -------------------------------------------------------------------------


def learners_count(self: RaftNode, ids: Iterable[int]) -> bool:
    """Counts every server of the configuration, learners included."""
    members = self.voters | self.learners
    return sum(1 for i in set(ids) if i in members) >= self.quorum


def majority_of_everyone(self: RaftNode, ids: Iterable[int]) -> bool:
    """Counts voters but needs a majority of voters and learners together."""
    return sum(1 for i in set(ids) if i in self.voters) >= majority(len(self.voters | self.learners))


def counts_any_server(self: RaftNode, ids: Iterable[int]) -> bool:
    """Counts whoever answered, members or not (a removed server, a learner)."""
    return len(set(ids)) >= self.quorum


# ---- campaign -------------------------------------------------------------------------------


def _campaign(self: RaftNode, *, voters_only: bool = True, pending: bool = True, pre_vote: bool = True) -> None:
    if voters_only and self.id not in self.voters and not (pending and self.removal_pending()):
        self.reset_election_timer()
    elif pre_vote and self.pre_vote:
        self.start_pre_vote()
    else:
        self.start_election()


def learner_campaigns(self: RaftNode) -> None:
    _campaign(self, voters_only=False)


def never_while_removal_pending(self: RaftNode) -> None:
    _campaign(self, pending=False)


def forgets_pre_vote(self: RaftNode) -> None:
    _campaign(self, pre_vote=False)


# ---- step_down_when_removed ---------------------------------------------------------------------


def never_steps_down(self: RaftNode) -> None:
    return None


def steps_down_at_once(self: RaftNode) -> None:
    if self.id not in self.voters:
        self.become_follower(None)


MUTANTS12 = [
    Mutant12("uses only committed configurations", "refresh_configuration", uses_committed_configuration,
             "membership_rules", "refresh_configuration"),
    Mutant12("looks only at the last entry", "refresh_configuration", only_a_new_last_entry, "membership_rules",
             "refresh_configuration"),
    Mutant12("no 2015 fix", "configuration_change_refused", without_the_2015_fix, "membership_rules",
             "configuration_change_refused"),
    Mutant12("two changes in flight", "configuration_change_refused", two_changes_in_flight, "membership_rules",
             "configuration_change_refused"),
    Mutant12("changes while handing over", "configuration_change_refused", changes_while_handing_over,
             "membership_rules", "configuration_change_refused"),
    Mutant12("promotes before catching up", "promotion_refused", promotes_before_catching_up, "learner_availability",
             "promotion_refused"),
    Mutant12("promotes anyone", "promotion_refused", promotes_anyone, "membership_rules", "promotion_refused"),
    Mutant12("learners count", "has_quorum", learners_count, "membership_rules", "has_quorum"),
    Mutant12("a majority of everyone", "has_quorum", majority_of_everyone, "learners_never_count", "has_quorum"),
    Mutant12("counts any server", "has_quorum", counts_any_server, "membership_rules", "has_quorum"),
    Mutant12("a learner campaigns", "campaign", learner_campaigns, "learners_never_count", "campaign"),
    Mutant12("never campaigns while its removal is pending", "campaign", never_while_removal_pending,
             "removal_pending", "campaign"),
    Mutant12("forgets pre-vote", "campaign", forgets_pre_vote, "membership_rules", "campaign"),
    Mutant12("never steps down", "step_down_when_removed", never_steps_down, "remove_leader", "step_down_when_removed"),
    Mutant12("steps down at once", "step_down_when_removed", steps_down_at_once, "remove_leader",
             "step_down_when_removed"),
]
"""Exercise 12's mutants: one broken rule each, and the check (and the word in its hint) that must catch it."""


# ---- send_timeout_now_when_caught_up ---------------------------------------------------------------


def _timeout_now(self: RaftNode, *, caught_up: bool = True, once: bool = True) -> None:
    to = self.transferee
    if to is None or (once and self._timeout_sent):
        return
    if caught_up and self.match_index.get(to, 0) < self.last_log_index:
        return
    self._timeout_sent = True
    self.send(TimeoutNow(self.current_term, self.id, to))


def timeout_now_before_catching_up(self: RaftNode) -> None:
    _timeout_now(self, caught_up=False)


def timeout_now_again_and_again(self: RaftNode) -> None:
    _timeout_now(self, once=False)


# ---- handle_timeout_now ------------------------------------------------------------------------------


def _obey(self: RaftNode, m: TimeoutNow, *, current: bool = True, voters_only: bool = True,
          forced: bool = True) -> None:
    if (current and m.term != self.current_term) or (voters_only and self.id not in self.voters):
        return
    self.forced_campaign = forced
    self.start_election()
    self.forced_campaign = False


def obeys_a_stale_timeout_now(self: RaftNode, m: TimeoutNow) -> None:
    _obey(self, m, current=False)


def a_learner_obeys(self: RaftNode, m: TimeoutNow) -> None:
    _obey(self, m, voters_only=False)


def an_ordinary_election(self: RaftNode, m: TimeoutNow) -> None:
    _obey(self, m, forced=False)


MUTANTS12 += [
    Mutant12("TimeoutNow before the target caught up", "send_timeout_now_when_caught_up",
             timeout_now_before_catching_up, "transfer_rules", "send_timeout_now_when_caught_up"),
    Mutant12("TimeoutNow again and again", "send_timeout_now_when_caught_up", timeout_now_again_and_again,
             "transfer_rules", "send_timeout_now_when_caught_up"),
    Mutant12("obeys a stale TimeoutNow", "handle_timeout_now", obeys_a_stale_timeout_now, "stale_timeout_now",
             "handle_timeout_now"),
    Mutant12("a learner obeys TimeoutNow", "handle_timeout_now", a_learner_obeys, "transfer_rules",
             "handle_timeout_now"),
    Mutant12("an ordinary election", "handle_timeout_now", an_ordinary_election, "transfer_rules",
             "handle_timeout_now"),
]


# ---- refuses_proposals ------------------------------------------------------------------------------


def never_refuses(self: RaftNode) -> bool:
    return False


def refuses_only_until_timeout_now(self: RaftNode) -> bool:
    return self.transferee is not None and not self._timeout_sent


# ---- abort_transfer_when_late ------------------------------------------------------------------------------


def _give_up(self: RaftNode, *, late: Callable[[RaftNode], bool]) -> None:
    if self.transferee is not None and late(self):
        self.transferee = None


def never_gives_up(self: RaftNode) -> None:
    return None


def gives_up_one_heartbeat_late(self: RaftNode) -> None:
    _give_up(self, late=lambda n: n.now > n.transfer_deadline)


def gives_up_at_the_first_heartbeat(self: RaftNode) -> None:
    _give_up(self, late=lambda n: True)


MUTANTS12 += [
    Mutant12("takes proposals during a transfer", "refuses_proposals", never_refuses, "transfer_rules",
             "refuses_proposals"),
    Mutant12("takes proposals once TimeoutNow went out", "refuses_proposals", refuses_only_until_timeout_now,
             "transfer_rules", "refuses_proposals"),
    Mutant12("never gives a transfer up", "abort_transfer_when_late", never_gives_up, "transfer_rules",
             "abort_transfer_when_late"),
    Mutant12("gives a transfer up after its deadline", "abort_transfer_when_late", gives_up_one_heartbeat_late,
             "transfer_rules", "abort_transfer_when_late"),
    Mutant12("gives a transfer up at once", "abort_transfer_when_late", gives_up_at_the_first_heartbeat,
             "transfer_rules", "abort_transfer_when_late"),
]
