"""Broken variants of exercise 06's solution server, each with one plausible bug and the check that must catch it.

Each mutant is a subclass of the solution notebook's ``MyServer`` that overrides one method; ``catch`` names
the exercise-06 check designed to notice (tests/test_exercise_06.py asserts it fails there).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from gradecheats import SolutionMutant, solution_class, variant

from raftedu import LEADER, AppendEntriesReply, RequestVoteReply

MyServer: Any = solution_class("06_whole_server.ipynb", "MyServer")
Mutant06 = SolutionMutant  # ``breaks``: the kind of bug (election, replication, commit, persistence, liveness)
_mutant = partial(variant, MyServer)


def ignores_heartbeats(self: Any, m: Any) -> None:
    """Handles AppendEntries without restarting the election timer."""
    self.restart_election_timer = lambda: None
    try:
        MyServer.on_append_entries(self, m)
    finally:
        del self.restart_election_timer


def fixed_timeout(self: Any) -> None:
    """The same election timeout every time and on every server: split votes repeat forever."""
    self.set_timer(self.now + self.timing.election_timeout[0])


def _answer_vote(self: Any, m: Any, granted: bool) -> None:
    """Grant (votedFor, persist, new timer) or refuse, then reply: the solution's ending of on_request_vote."""
    if granted:
        self.state.voted_for = m.src
        self.persist()
        self.restart_election_timer()
    self.send(RequestVoteReply(self.current_term, self.id, m.src, granted))


def votes_twice(self: Any, m: Any) -> None:
    """Forgets to check votedFor: grants every up-to-date candidate of the current term."""
    last = len(self.log)
    _answer_vote(self, m, m.term == self.current_term and (m.last_log_term, m.last_log_index) >= (self.term_at(last), last))


def votes_for_any_log(self: Any, m: Any) -> None:
    """Skips the §5.4.1 up-to-date check."""
    _answer_vote(self, m, m.term == self.current_term and self.voted_for in (None, m.src))


def no_consistency_check(self: Any, m: Any) -> None:
    """Appends without checking prevLogIndex/prevLogTerm (AppendEntries step 2 missing)."""
    if m.term < self.current_term:
        self.send(AppendEntriesReply(self.current_term, self.id, m.src, False))
        return
    self.role, self.leader_id = "follower", m.src
    self.restart_election_timer()
    prev = min(m.prev_log_index, len(self.log))
    del self.log[prev:]
    self.log.extend(m.entries)
    self.persist()
    last_new = prev + len(m.entries)
    if m.leader_commit > self.commit_index:
        self.commit_index = max(self.commit_index, min(m.leader_commit, last_new))
    self.send(AppendEntriesReply(self.current_term, self.id, m.src, True, last_new))


def backs_off_by_one(self: Any, m: Any) -> None:
    """Ignores the follower's conflict_index: nextIndex goes back one entry per refusal."""
    if self.role == LEADER and m.term == self.current_term and not m.success:
        self.next_index[m.src] = max(self.match_index[m.src] + 1, self.next_index[m.src] - 1)
        self.replicate(m.src)
        return
    MyServer.on_append_reply(self, m)


def commits_old_terms(self: Any) -> None:
    """Commits any entry stored on a majority, whatever its term (the Figure 8 mistake)."""
    for n in range(len(self.log), self.commit_index, -1):
        if 1 + sum(1 for peer in self.peers if self.match_index[peer] >= n) >= self.majority():
            self.commit_index = n
            break


def never_applies(self: Any) -> None:
    """Commits but never applies: lastApplied stays 0."""


def forgets_vote_on_disk(self: Any, m: Any) -> None:
    """Grants a vote without persisting votedFor (a crash right after the reply forgets it)."""
    self.persist = lambda: None
    try:
        MyServer.on_request_vote(self, m)
    finally:
        del self.persist


def acks_before_persisting(self: Any, m: Any) -> None:
    """Appends entries and acknowledges them without persisting the log."""
    self.persist = lambda: None
    try:
        MyServer.on_append_entries(self, m)
    finally:
        del self.persist


def storm(self: Any, m: Any) -> None:
    """Answers every AppendEntries reply with another AppendEntries at once: a ping-pong instead of heartbeats."""
    MyServer.on_append_reply(self, m)
    if self.role == LEADER and m.success:
        self.replicate(m.src)


def never_steps_down(self: Any, term: int) -> None:
    """Adopts a newer term but stays leader (the Rules for All Servers' 'convert to follower' missing)."""
    self.state.current_term, self.state.voted_for = term, None
    self.persist()
    if self.role != LEADER:
        self.role, self.leader_id = "follower", None


def counts_stale_votes(self: Any, m: Any) -> None:
    """Counts granted votes of any term while a candidate."""
    if self.role != "candidate" or not m.vote_granted:
        return
    self.votes.add(m.src)
    if len(self.votes) >= self.majority():
        self.become_leader()


MUTANTS06 = [
    Mutant06("ignores heartbeats", "liveness", _mutant("IgnoresHeartbeats", on_append_entries=ignores_heartbeats),
             "initial_election"),
    Mutant06("one fixed election timeout", "liveness", _mutant("FixedTimeout", restart_election_timer=fixed_timeout),
             "initial_election"),
    Mutant06("votes twice in a term", "election", _mutant("VotesTwice", on_request_vote=votes_twice),
             "many_elections"),
    Mutant06("votes for stale logs", "election", _mutant("VotesForAnyLog", on_request_vote=votes_for_any_log),
             "stale_log_election"),
    Mutant06("counts votes of older terms", "election", _mutant("CountsStaleVotes", on_vote=counts_stale_votes),
             "stale_replies"),
    Mutant06("never steps down", "election", _mutant("NeverStepsDown", step_down=never_steps_down),
             "rejoin_partitioned_leader"),
    Mutant06("no consistency check", "replication", _mutant("NoConsistencyCheck", on_append_entries=no_consistency_check),
             "rejoin_partitioned_leader"),
    Mutant06("backs off one entry at a time", "replication", _mutant("BacksOffByOne", on_append_reply=backs_off_by_one),
             "fast_backup"),
    Mutant06("AppendEntries ping-pong", "replication", _mutant("Storm", on_append_reply=storm), "rpc_counts"),
    Mutant06("commits entries of older terms", "commit", _mutant("CommitsOldTerms", commit_what_is_safe=commits_old_terms),
             "figure8"),
    Mutant06("never applies", "commit", _mutant("NeverApplies", apply_new_commits=never_applies), "basic_agreement"),
    Mutant06("vote not persisted", "persistence", _mutant("ForgetsVoteOnDisk", on_request_vote=forgets_vote_on_disk),
             "crash_after_vote"),
    Mutant06("acknowledges before persisting", "persistence",
             _mutant("AcksBeforePersisting", on_append_entries=acks_before_persisting), "crash_after_ack"),
]
"""Every mutant of exercise 06 (election, replication, commit, persistence and liveness bugs)."""
