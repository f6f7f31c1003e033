"""Known-wrong variants of the exercise functions, each with the check that must catch it.

Every mutant changes one rule of the reference :class:`raftedu.raft.RaftNode`
method it replaces; ``catch`` names the check designed to notice. The mutation
test asserts each loses points there (and that the reference scores full marks).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from raftedu.raft import (
    CANDIDATE,
    LEADER,
    AppendEntries,
    AppendEntriesReply,
    Message,
    RaftNode,
    RequestVote,
    RequestVoteReply,
    TimeoutNow,
)


@dataclass(frozen=True)
class Mutant:
    """A wrong ``function`` for ``exercise`` that the check ``catch`` must fail."""

    name: str
    exercise: str
    function: str
    fn: Callable[..., Any]
    catch: str


# ---- 02 RequestVote --------------------------------------------------------


def up_to_date_length_only(self: RaftNode, last_log_index: int, last_log_term: int) -> bool:
    return last_log_index >= self.last_log_index


def up_to_date_term_only(self: RaftNode, last_log_index: int, last_log_term: int) -> bool:
    return last_log_term >= self.last_log_term


def _vote(self: RaftNode, m: RequestVote, *, check_term: bool = True, check_vote: bool = True,
          record_vote: bool = True) -> None:
    c = m.candidate_id
    granted = ((not check_term or m.term >= self.current_term)
               and (not check_vote or self.voted_for in (None, c))
               and self.log_is_up_to_date(m.last_log_index, m.last_log_term))
    if granted:
        if record_vote:
            self.state.voted_for = c
        self.reset_election_timer()
    self.send(RequestVoteReply(self.current_term, self.id, c, granted))


def _count(self: RaftNode, m: RequestVoteReply, *, check_term: bool = True, check_granted: bool = True,
           dedupe: bool = True, strict: bool = False) -> None:
    if self.role != CANDIDATE or (check_term and m.term != self.current_term) or (check_granted and not m.vote_granted):
        return
    if dedupe:
        self.votes.add(m.src)
        tally = len(self.votes)
    else:
        tally = self.tally = getattr(self, "tally", 1) + 1
    if tally > self.quorum if strict else tally >= self.quorum:
        self.become_leader()


# ---- 03 AppendEntries ------------------------------------------------------


def _append(self: RaftNode, m: AppendEntries, *, check_term: bool = True, consistency: bool = True,
            truncate_always: bool = False, clamp_commit: bool = True, reset_timer: bool = True,
            match_last: bool = False) -> None:
    if check_term and m.term < self.current_term:
        self.send(AppendEntriesReply(self.current_term, self.id, m.src, False))
        return
    self.become_follower(m.leader_id)
    if reset_timer:
        self.reset_election_timer()
    prev = m.prev_log_index
    if consistency and (prev > self.last_log_index or self.term_at(prev) != m.prev_log_term):
        self.send(AppendEntriesReply(self.current_term, self.id, m.src, False, 0, self.conflict_hint(prev)))
        return
    if truncate_always:
        del self.state.log[prev:]
    for offset, entry in enumerate(m.entries):
        index = prev + 1 + offset
        if index <= self.last_log_index and self.term_at(index) != entry.term:
            del self.state.log[index - 1:]
        if index > self.last_log_index:
            self.state.log.append(entry)
    last_new = prev + len(m.entries)
    if m.leader_commit > self.commit_index:
        target = min(m.leader_commit, last_new) if clamp_commit else min(m.leader_commit, self.last_log_index)
        self.set_commit_index(target, "mutant")
    self.send(AppendEntriesReply(self.current_term, self.id, m.src, True, self.last_log_index if match_last else last_new))


# ---- 04 the commit rule ----------------------------------------------------


def _commit(self: RaftNode, *, current_term_only: bool = True, count_self: bool = True,
            index_of: str = "match_index", strict: bool = False) -> None:
    seen = getattr(self, index_of)
    for n in range(self.last_log_index, self.commit_index, -1):
        if current_term_only and self.term_at(n) != self.current_term:
            break
        replicas = int(count_self) + sum(1 for p in self.peers if seen[p] - (index_of == "next_index") >= n)
        if replicas > self.quorum if strict else replicas >= self.quorum:
            self.set_commit_index(n, "mutant")
            return


MUTANTS = [
    Mutant("log length only", "02", "log_is_up_to_date", up_to_date_length_only, "up_to_date_rule"),
    Mutant("log length only (scenario)", "02", "log_is_up_to_date", up_to_date_length_only, "stale_log_loses"),
    Mutant("last term only", "02", "log_is_up_to_date", up_to_date_term_only, "up_to_date_rule"),
    Mutant("last term only (scenario)", "02", "log_is_up_to_date", up_to_date_term_only, "stale_log_loses"),
    Mutant("votes twice per term", "02", "handle_request_vote", partial(_vote, check_vote=False), "vote_receiver_rules"),
    Mutant("votes in stale terms", "02", "handle_request_vote", partial(_vote, check_term=False), "vote_receiver_rules"),
    Mutant("vote not recorded", "02", "handle_request_vote", partial(_vote, record_vote=False), "vote_receiver_rules"),
    Mutant("counts stale vote replies", "02", "handle_request_vote_reply", partial(_count, check_term=False), "vote_counting"),
    Mutant("counts duplicate votes", "02", "handle_request_vote_reply", partial(_count, dedupe=False), "vote_counting"),
    Mutant("counts refused votes", "02", "handle_request_vote_reply", partial(_count, check_granted=False), "vote_counting"),
    Mutant("needs more than a majority", "02", "handle_request_vote_reply", partial(_count, strict=True), "majority_elects"),
    Mutant("accepts a stale leader", "03", "handle_append_entries", partial(_append, check_term=False), "append_receiver_rules"),
    Mutant("no consistency check", "03", "handle_append_entries", partial(_append, consistency=False), "append_receiver_rules"),
    Mutant("truncates on every AppendEntries", "03", "handle_append_entries", partial(_append, truncate_always=True), "append_receiver_rules"),
    Mutant("commitIndex = leaderCommit", "03", "handle_append_entries", partial(_append, clamp_commit=False), "append_receiver_rules"),
    Mutant("no election timer reset", "03", "handle_append_entries", partial(_append, reset_timer=False), "append_receiver_rules"),
    Mutant("reports the whole log as matching", "03", "handle_append_entries", partial(_append, match_last=True), "append_receiver_rules"),
    Mutant("counts old-term replicas (Figure 8)", "04", "advance_commit_index", partial(_commit, current_term_only=False), "figure8"),
    Mutant("counts old-term replicas (cases)", "04", "advance_commit_index", partial(_commit, current_term_only=False), "commit_rule_cases"),
    Mutant("forgets to count itself", "04", "advance_commit_index", partial(_commit, count_self=False), "commit_with_nodes_down"),
    Mutant("counts nextIndex", "04", "advance_commit_index", partial(_commit, index_of="next_index"), "commit_rule_cases"),
    Mutant("needs more than a majority", "04", "advance_commit_index", partial(_commit, strict=True), "commit_with_nodes_down"),
]
"""The mutation suite for 02-04 (22 rows, 19 distinct wrong functions; each a reference rule with one thing changed);
exercise 05's rows are appended below."""


# ---- 05 even vs odd ----------------------------------------------------------
# Plausible wrong answers a student could hand in; each a correct answer with one thing changed.


def _predict(n: int, *, tolerance: str = "right", majority: str = "right") -> tuple[int, int]:
    m = {"right": n // 2 + 1, "half for even N": n // 2 if n % 2 == 0 else n // 2 + 1,
         "etcd's printed table": 5 if n == 10 else n // 2 + 1}[majority]
    return m, n // 2 if tolerance == "N//2" else n - m


def misprints_against_half(printed: dict[int, int]) -> list[int]:
    return sorted(n for n, m in printed.items() if m != n // 2)


def _crash_rate(n: int, k: int, trials: int, seed: int, node_class: type[RaftNode] = RaftNode, *,
                victims: str = "random", bound: int = 3_000, verdict: str = "commit",
                use_node_class: bool = True) -> float:
    from raftedu import Cluster

    rng = random.Random(seed)
    successes = 0
    for _ in range(trials):
        c = Cluster(n, seed=rng.randrange(10**9), node_class=node_class if use_node_class else RaftNode)
        c.run_until(lambda c: c.leader() is not None, within=3_000)
        leader = c.leader()
        others = [i for i in c.ids if i != leader]
        order = {"random": rng.sample(c.ids, n), "followers first": others + [leader],
                 "lowest ids": list(c.ids)}[victims]
        for victim in order[:k]:
            c.crash(victim)
        if verdict == "leader":
            successes += c.run_until(lambda c: c.leader() is not None, within=bound)
            continue
        sent: list[Any] = []

        def committed(c: Any) -> bool:
            if (not sent or sent[-1].status in ("rejected", "lost")) and c.leader() is not None:
                sent.append(c.request("x"))
            return bool(sent) and sent[-1].status == "committed"

        successes += c.run_until(committed, within=bound)
    return successes / trials


def tolerance_by_formula(n: int, trials: int, seed: int, node_class: type[RaftNode] = RaftNode) -> int:
    return (n - 1) // 2


def tolerance_first_failure(n: int, trials: int, seed: int, node_class: type[RaftNode] = RaftNode) -> int:
    return next(k for k in range(n + 1) if _crash_rate(n, k, trials, seed, node_class) < 1)


def three_one_split(n: int) -> list[list[int]]:
    return [list(range(1, n)), [n]]


def halves(n: int) -> list[list[int]]:
    return [list(range(1, n // 2 + 1)), list(range(n // 2 + 1, n + 1))]


def every_node_alone(n: int) -> list[list[int]]:
    return [[i] for i in range(1, n + 1)]


def _unavailability(n: int, p: float, *, needed: str = "majority") -> float:
    if needed == "all down":
        return p ** n
    m = n // 2 + 1 if needed == "majority" else (n + 1) // 2
    return math.fsum(math.comb(n, j) * (1 - p) ** j * p ** (n - j) for j in range(m))


MUTANTS += [
    Mutant("tolerance N//2", "05", "predict", partial(_predict, tolerance="N//2"), "predict_1_to_10"),
    Mutant("majority N//2 for even N", "05", "predict", partial(_predict, majority="half for even N"), "predict_1_to_10"),
    Mutant("believes etcd's printed table", "05", "predict", partial(_predict, majority="etcd's printed table"),
           "predict_1_to_10"),
    Mutant("misprints against N//2", "05", "etcd_misprints", misprints_against_half, "etcd_misprint"),
    Mutant("counts a leader, not a commit", "05", "crash_success_rate", partial(_crash_rate, verdict="leader"),
           "crash_rates"),
    Mutant("time bound shorter than an election", "05", "crash_success_rate", partial(_crash_rate, bound=100),
           "crash_rates"),
    Mutant("ignores node_class", "05", "crash_success_rate", partial(_crash_rate, use_node_class=False),
           "uses_node_class"),
    Mutant("crashes followers only", "05", "crash_success_rate", partial(_crash_rate, victims="followers first"),
           "random_victims"),
    Mutant("crashes S1..Sk", "05", "crash_success_rate", partial(_crash_rate, victims="lowest ids"), "random_victims"),
    Mutant("returns (N-1)//2 without simulating", "05", "measured_tolerance", tolerance_by_formula, "uses_node_class"),
    Mutant("returns (N-1)//2 without simulating (hidden)", "05", "measured_tolerance", tolerance_by_formula,
           "node_class_hidden"),
    Mutant("returns the first k that fails", "05", "measured_tolerance", tolerance_first_failure,
           "measured_tolerance_1_to_10"),
    Mutant("3|1 split", "05", "stalling_partition", three_one_split, "stalls_4_nodes"),
    Mutant("two halves for odd N too", "05", "stalling_partition", halves, "stalling_partition_hidden"),
    Mutant("every node alone", "05", "stalling_partition", every_node_alone, "stalls_4_nodes"),
    Mutant("off-by-one majority", "05", "unavailability", partial(_unavailability, needed="half"),
           "unavailability_3_to_6"),
    Mutant("off-by-one majority (even vs odd)", "05", "unavailability", partial(_unavailability, needed="half"),
           "even_never_better"),
    Mutant("probability all are down", "05", "unavailability", partial(_unavailability, needed="all down"),
           "unavailability_3_to_6"),
]


# ---- whole-node variants for the core's own checks ------------------------------------------------------------
# Each kind slipped past the monitor, the sweep and the scenarios before issue 17; each is now caught by the check
# named in ``catch``: a scenario of raftedu.scenarios (with the safety property it must break), the random sweep,
# or the quantitative liveness comparison (raftedu.sweep.compare_liveness).


@dataclass(frozen=True)
class NodeMutant:
    """A broken :class:`RaftNode` subclass and the check that must catch it: ``(where, what)``."""

    name: str
    node_class: type[RaftNode]
    where: str
    """``scenario:<name>``, ``run:healthy`` (a healthy cluster serving requests), ``liveness`` (the sweep's
    comparison) or ``churn`` (``scenarios.compare_leader_churn``: leaders per election on a lossy network)."""
    what: str
    """The safety property that must break (for a scenario or run), ``ScriptError`` (a script's liveness promise), or
    ``slower`` (for liveness and churn)."""
    sweep: tuple[int, int] | None = None
    """A size and seed on which the sweep (``run_seed(n, seed, node_class=..., features="all")``) catches it too."""


class CountsOldTermVotes(RaftNode):
    """Counts granted vote replies from any term while a candidate (the term check is missing)."""

    def handle_request_vote_reply(self, m: RequestVoteReply) -> None:
        _count(self, m, check_term=False)


class AppliesTwice(RaftNode):
    """Applies the second entry twice, reporting it once."""

    def apply(self, index: int, entry: Any) -> None:
        super().apply(index, entry)
        if index == 2:
            self.applied.append(entry.command)


class SkipsAnApply(RaftNode):
    """Leaves the second entry out of its state machine, reporting it as applied."""

    def apply(self, index: int, entry: Any) -> None:
        if index != 2:
            super().apply(index, entry)


class _NextIndexInLog(RaftNode):
    """Keeps nextIndex within its log (at most lastLogIndex + 1), as every leader must: a stale matchIndex beyond its
    log then breaks the property it is meant to break ("Committed entries on a majority") instead of stopping the
    run at an IndexError one heartbeat later (a "Node failure", which would hide it from the search).

    Only :class:`KeepsOldMatchIndex` has it. :class:`TakesOldReplies` with it was found by no search of 90 s (seeds
    0-2, before one-message faults); with ``delay_next`` items seed 0 still finds nothing in 60 s and seed 1 finds
    the property at 42 s, 13 items (issue 27, load 4): its late reply must arrive after a re-election and count for
    an entry not on a majority, while the IndexError comes with any late reply past its log, so without it the
    search reports that crash (a finding too: explain() names the stale reply the method took)."""

    def set_progress(self, peer: int, match: int, next_index: int, rule: str) -> None:
        super().set_progress(peer, match, min(next_index, self.last_log_index + 1), rule)


class TakesOldReplies(RaftNode):
    """Uses AppendEntries replies from an earlier term of its own (checks only that it still leads)."""

    def handle_append_entries_reply(self, m: AppendEntriesReply) -> None:
        if self.role != "leader":
            return
        p = m.src
        match, nxt = self.match_index[p], self.next_index[p]
        if m.success:
            match = max(match, m.match_index)
            self.set_progress(p, match, max(nxt, match + 1), "mutant")
            self.advance_commit_index()
        else:
            self.set_progress(p, match, max(match + 1, min(nxt - 1, m.conflict_index)), "mutant")
            self.send_append_entries(p)


class KeepsOldMatchIndex(_NextIndexInLog):
    """Does not reinitialize matchIndex on becoming leader: values from its earlier leadership still count."""

    def become_leader(self) -> None:
        kept = dict(self.match_index)
        super().become_leader()
        for p, m in kept.items():
            self.match_index[p] = max(self.match_index[p], m)


class VolatileVote(RaftNode):
    """Keeps its vote in memory only, not in votedFor on disk: after a restart it can vote again in the same term."""

    def handle_request_vote(self, m: RequestVote) -> None:
        c = m.candidate_id
        memory = getattr(self, "vote_in_memory", None)
        free = memory is None or memory[0] != m.term or memory[1] == c
        granted = m.term >= self.current_term and free and self.log_is_up_to_date(m.last_log_index, m.last_log_term)
        if granted:
            self.vote_in_memory = (m.term, c)
            self.reset_election_timer()
        self.send(RequestVoteReply(self.current_term, self.id, c, granted))


class ForgetsVoteOnDisk(RaftNode):
    """Persists currentTerm and the log but never votedFor: after a crash it can vote again in the same term."""

    def sync(self) -> None:
        self.disk.current_term = self.current_term
        self.disk.log[:] = self.log


class AcksBeforePersisting(RaftNode):
    """Writes its log to disk one step late: the AppendEntries reply leaves before the entries are stable."""

    def sync(self) -> None:
        later = getattr(self, "_later", None)
        if later is not None:
            self.disk.log[:] = later
        self.disk.current_term, self.disk.voted_for = self.current_term, self.voted_for
        self._later = list(self.log)


class ResetsTimerOnAnyRequestVote(RaftNode):
    """Resets its election timer on every RequestVote, refused ones too: stale candidates hold elections back."""

    def handle_request_vote(self, m: RequestVote) -> None:
        super().handle_request_vote(m)
        self.reset_election_timer()


class SameTimeoutEveryTime(RaftNode):
    """Draws its election timeout once and reuses it: no fresh randomness per election, so split votes repeat."""

    def reset_election_timer(self) -> None:
        low, high = self.timing.election_timeout
        if not hasattr(self, "_fixed"):
            self._fixed = low + (high - low) // 8 + self.id % 2
        self.deadline = self.now + self._fixed
        self.note("timer", "mutant", value=self.deadline)


NODE_MUTANTS = [
    NodeMutant("counts vote replies from an older term", CountsOldTermVotes,
               "scenario:vote_replies_delayed_across_reelection", "Leader elected by a majority"),
    NodeMutant("applies an entry twice without reporting it", AppliesTwice, "run:healthy", "State machine = log"),
    NodeMutant("skips an entry without reporting it", SkipsAnApply, "run:healthy", "State machine = log"),
    NodeMutant("uses AppendEntries replies from an earlier leadership", TakesOldReplies,
               "scenario:stale_replies_across_reelection", "Committed entries on a majority"),
    NodeMutant("keeps matchIndex from an earlier leadership", KeepsOldMatchIndex,
               "scenario:stale_replies_across_reelection", "Committed entries on a majority"),
    NodeMutant("keeps votedFor in volatile state", VolatileVote,
               "scenario:restart_between_votes", "One vote per term"),
    NodeMutant("never persists votedFor", ForgetsVoteOnDisk, "scenario:restart_between_votes", "One vote per term"),
    NodeMutant("acknowledges entries before persisting them", AcksBeforePersisting,
               "scenario:crash_after_acknowledging", "Committed entries on a majority"),
    NodeMutant("resets its election timer on every RequestVote", ResetsTimerOnAnyRequestVote, "liveness", "slower"),
    NodeMutant("reuses one election timeout", SameTimeoutEveryTime, "liveness", "slower"),
]
"""One variant per kind that slipped through before issue 17 (tests/test_mutants_core.py runs them)."""


# ---- etcd's extensions (issue 25) ------------------------------------------------------------------------------
# Each kind escaped the always-on net before issue 25 (the monitor, the sweep with --features all, the scenarios):
# now each is caught by a scenario of raftedu.scenarios, by the property named in ``what`` (or, for a liveness
# promise, by the script stopping with ScriptError) -- and the sweep draws the situation too (tests/test_mutants_core.py).


class CheckQuorumCountsLearners(RaftNode):
    """Check-quorum (§6.2) counts every server it heard from, learners too: cut off with two learners, it stays leader."""

    def lost_quorum(self) -> bool:
        window = self.timing.election_timeout[0]
        if self.now - self.leader_since < window:
            return False
        return sum(1 for t in self.heard_at.values() if self.now - t < window) + 1 < self.quorum


class LeaseFromAnyTerm(RaftNode):
    """Lets an AppendEntries of an older term renew its lease (§4.2.3): an old leader's messages keep it ignoring votes."""

    def intercept(self, msg: Message) -> bool:
        if type(msg) is AppendEntries:
            self.leader_heard_at = self.now
        return super().intercept(msg)


class ObeysStaleTimeoutNow(RaftNode):
    """Obeys a TimeoutNow of any term (§3.10): a duplicated or late one starts a needless election."""

    def handle_timeout_now(self, m: TimeoutNow) -> None:
        if self.id not in self.voters:
            return
        self.forced_campaign = True
        self.start_election()
        self.forced_campaign = False


class TransfersToLearners(RaftNode):
    """Hands leadership to any server it replicates to, learners too (§3.10 says: to a voter)."""

    def transfer_leadership(self, to: int, now: int) -> None:
        self.now = now
        if self.role != LEADER or to == self.id or to not in self.peers:
            raise ValueError(f"S{self.id} cannot hand leadership to S{to}")
        self.extended = True
        self.transferee, self.transfer_deadline, self._timeout_sent = to, now + self.timing.election_timeout[0], False
        self.note("transfer", "mutant", f"S{self.id} hands leadership to S{to}", peer=to, value=to)
        if self.match_index[to] < self.last_log_index:
            self.send_append_entries(to)
        self.after_step()


class LearnerCampaigns(RaftNode):
    """Campaigns on an election timeout whatever its configuration says: learners too (§4.2.1 says never)."""

    def campaign(self) -> None:
        if self.pre_vote:
            self.start_pre_vote()
        else:
            self.start_election()


class NoCampaignWhileRemovalPending(RaftNode):
    """Never campaigns once its latest configuration leaves it out, even while that change is not committed (§4.2.2)."""

    def removal_pending(self) -> bool:
        return False


class ChangesConfigurationAtOnce(RaftNode):
    """A new leader changes the configuration before committing an entry of its term (the 2015 single-server bug)."""

    def configuration_change_refused(self) -> str | None:
        if self.role != LEADER:
            return f"S{self.id} is not the leader"
        if self.transferee is not None:
            return f"S{self.id} is handing leadership over"
        if self.config_index > self.commit_index:
            return "one change at a time"
        return None


class ProposesWhileHandingOver(RaftNode):
    """Takes client requests while handing leadership over (§3.10 says stop): entries the target may not hold."""

    def propose(self, command: Any, now: int) -> int | None:
        transferee, self.transferee = self.transferee, None
        try:
            return super().propose(command, now)
        finally:
            self.transferee = transferee


class NoTimerResetOnVote(RaftNode):
    """Figure 2: grants a vote without resetting its election timer (§5.2: "granting vote to candidate")."""

    def handle_request_vote(self, m: RequestVote) -> None:
        c = m.candidate_id
        granted = (m.term >= self.current_term and self.voted_for in (None, c)
                   and self.log_is_up_to_date(m.last_log_index, m.last_log_term))
        if granted:
            self.state.voted_for = c
        self.note("vote", "mutant", peer=c, value=granted)
        self.send(RequestVoteReply(self.current_term, self.id, c, granted))


NODE_MUTANTS += [
    NodeMutant("check-quorum counts learners", CheckQuorumCountsLearners,
               "scenario:cut_off_leader_with_learners", "Check-quorum leaders step down", (3, 5)),
    NodeMutant("an older term's AppendEntries renews the lease", LeaseFromAnyTerm,
               "scenario:stale_append_renews_no_lease", "Lease only from the current leader", (5, 26)),
    NodeMutant("obeys a stale TimeoutNow", ObeysStaleTimeoutNow, "scenario:stale_timeout_now",
               "Stale TimeoutNow is ignored", (3, 29)),
    NodeMutant("hands leadership to a learner", TransfersToLearners, "scenario:transfer_to_learner_or_crashed",
               "Transfer only to a caught-up voter", (3, 17)),
    NodeMutant("a learner campaigns", LearnerCampaigns, "scenario:cut_off_leader_with_learners",
               "Learners never campaign or lead", (3, 5)),
    NodeMutant("never campaigns while its removal is pending", NoCampaignWhileRemovalPending,
               "scenario:removal_pending_campaigns", "ScriptError", (2, 16)),
    NodeMutant("changes the configuration before committing in its term", ChangesConfigurationAtOnce,
               "scenario:single_server_change_bug", "Configuration change after a commit of the leader's term",
               (3, 0)),
    NodeMutant("takes client requests while handing over", ProposesWhileHandingOver,
               "scenario:transfer_to_learner_or_crashed", "No proposals during a transfer", (3, 4)),
    NodeMutant("grants a vote without resetting its election timer", NoTimerResetOnVote, "churn", "slower"),
]
"""The kinds that escaped before issue 25; ``what`` "ScriptError": the script stops, a liveness promise is broken."""
