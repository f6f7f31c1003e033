"""Broken variants of exercise 08's solution store, each with one plausible bug and the check that must catch it.

Each mutant is a subclass of the solution notebook's ``MyKV`` that overrides one method; ``catch`` names the
exercise-08 check designed to notice (tests/test_exercise_08.py asserts it fails there).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from gradecheats import SolutionMutant, solution_class, variant

from raftedu.kvmodel import Result

MyKV: Any = solution_class("08_kv_store.ipynb", "MyKV")
Mutant08 = SolutionMutant  # ``breaks``: the rule, e.g. "§6.4 ReadIndex step 3"
_mutant = partial(variant, MyKV)


def no_sessions(self: Any, op: Any) -> Any:
    """Applies every committed command, retries included (no client sessions)."""
    return self.store.execute(op)


def duplicate_answered_failed(self: Any, op: Any) -> Any:
    """Detects the duplicate but answers it ``failed`` instead of with the saved result."""
    last = self.sessions.get(op.client)
    if last is not None and op.seq <= last[0]:
        return Result(False)
    result = self.store.execute(op)
    self.sessions[op.client] = (op.seq, result)
    return result


def one_session_for_all(self: Any, op: Any) -> Any:
    """Keeps one latest sequence number for all clients together: another client's op looks like a duplicate."""
    last = self.sessions.get("everyone")
    if last is not None and op.seq <= last[0]:
        return last[1]
    result = self.store.execute(op)
    self.sessions["everyone"] = (op.seq, result)
    return result


def local_read(self: Any, w: Any) -> None:
    """A leader answers a read from its own store at once, without asking a majority whether it still leads."""
    self.answer(w, True, self.preview(w.op))


def no_own_term_commit(self: Any, w: Any) -> None:
    """Skips ReadIndex step 1: a new leader uses a commitIndex it inherited, before committing its own no-op (§8)."""
    self.count_round(self.ask_followers(self.commit_index, w))


def two_are_enough(self: Any, n: int) -> None:
    """Counts two confirmations (the leader and one follower) as a majority, whatever the cluster size."""
    r = self.rounds[n]
    if len(r.acks) >= 2:
        del self.rounds[n]
        self.reads.extend((r.read_index, w) for w in r.waiting)
        self.serve_reads()


def serves_without_waiting(self: Any) -> None:
    """Skips ReadIndex step 4: answers every confirmed read at once, whatever the state machine has applied."""
    for _, w in self.reads:
        self.answer(w, True, self.preview(w.op))
    self.reads = []


def never_serves(self: Any) -> None:
    """Confirmed reads are never answered."""


MUTANTS08 = (
    Mutant08("no_sessions", "§6.3 sessions", _mutant("NoSessions", apply_command=no_sessions), "retried_write"),
    Mutant08("duplicate_answered_failed", "§6.3 sessions", _mutant("DuplicateFailed",
                                                                   apply_command=duplicate_answered_failed),
             "retried_write"),
    Mutant08("one_session_for_all", "§6.3 sessions", _mutant("OneSession", apply_command=one_session_for_all),
             "faults"),
    Mutant08("local_read", "§6.4 ReadIndex step 3", _mutant("LocalRead", start_read=local_read), "stale_read"),
    Mutant08("two_are_enough", "§6.4 ReadIndex step 3", _mutant("TwoAreEnough", count_round=two_are_enough),
             "stale_read"),
    Mutant08("no_own_term_commit", "§6.4 ReadIndex step 1", _mutant("NoOwnTerm", start_read=no_own_term_commit),
             "new_leader_read"),
    Mutant08("serves_without_waiting", "§6.4 ReadIndex step 4", _mutant("NoWait", serve_reads=serves_without_waiting),
             "reads_wait_for_apply"),
    Mutant08("never_serves", "§6.4 ReadIndex step 4", _mutant("NeverServes", serve_reads=never_serves), "liveness"),
)
"""The broken stores, each with the check meant to catch it."""
