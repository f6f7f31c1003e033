"""The exercises and their checks: what each student function must do, judged by behaviour.

Each :class:`Exercise` names the functions a student writes and the checks
that grade them. Public checks run when a student calls
:func:`raftedu.grading.check`; hidden checks (more seeds, more scenarios)
run only in the instructor's grader. Points and names here are what the CSV,
the feedback and the Gradescope JSON show.
"""

from __future__ import annotations

import inspect
import math
import numbers
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..raft import CANDIDATE, LEADER, AppendEntries, Entry, RaftNode, RequestVote, RequestVoteReply
from .core import Check, Failed
from .scenarios import Case, compare_cases, deliver, make_node, node_class, run_scenario

__all__ = ["EXERCISES", "Exercise", "get_exercise"]


@dataclass(frozen=True)
class Exercise:
    """One exercise: id (``"02"``), title, notebook stem, the functions students write, and the checks."""

    id: str
    title: str
    notebook: str
    functions: tuple[str, ...]
    checks: tuple[Check, ...]

    def selected(self, hidden: bool) -> list[Check]:
        """The public checks, plus the hidden ones when ``hidden``."""
        return [c for c in self.checks if c.public or hidden]

    @property
    def max_score(self) -> float:
        """Points from the automatic checks (manual answers excluded)."""
        return sum(c.points for c in self.checks if not c.manual)


def _scenario_check(name: str, points: float, public: bool, needs: tuple[str, ...], exercise: str,
                    scenario: str, seeds: Iterable[int], description: str) -> Check:
    """A check that runs ``scenario`` with the student's node class for each seed."""
    seeds = tuple(seeds)

    def run(funcs: Mapping[str, Callable[..., Any]]) -> None:
        cls = node_class(funcs)
        for seed in seeds:
            run_scenario(scenario, cls, seed, exercise=exercise)

    return Check(name, points, public, needs, description, run)


def _fault_checks(name: str, needs: tuple[str, ...], exercise: str, hidden_seeds: range) -> list[Check]:
    """The pair every Raft exercise has: 5 public seeds of random faults, and more hidden ones."""
    return [
        _scenario_check(name, 2, True, needs, exercise, "faults", range(1, 6),
                        "5 seeds of crashes, partitions, lost/duplicated/late messages"),
        _scenario_check(f"{name}_hidden", 4, False, needs, exercise, "faults", hidden_seeds,
                        f"{len(hidden_seeds)} more seeds of faults"),
    ]


def _case_check(name: str, points: float, needs: tuple[str, ...], cases: Callable[[], list[Case]],
                description: str) -> Check:
    """A public check comparing the student's node with the reference node case by case."""

    def run(funcs: Mapping[str, Callable[..., Any]]) -> None:
        compare_cases(node_class(funcs), cases())

    return Check(name, points, True, needs, description, run)


# --------------------------------------------------------------------------
# 01 quorums
# --------------------------------------------------------------------------


def _expect(fn: Callable[[int], Any], name: str, formula: Callable[[int], int], ns: Iterable[int]) -> None:
    for n in ns:
        got = fn(n)
        if got != formula(n) or isinstance(got, bool):
            raise Failed(f"{name}({n}) returned {got!r}; expected {formula(n)} (etcd: majority = N//2 + 1, "
                         f"failure tolerance = (N-1)//2)")


def _majority(n: int) -> int:
    return n // 2 + 1


def _tolerance(n: int) -> int:
    return (n - 1) // 2


def _check_table(funcs: Mapping[str, Callable[..., Any]]) -> None:
    rows = funcs["quorum_table"](10)
    if hasattr(rows, "itertuples"):  # a pandas DataFrame is a fine table too
        rows = list(rows.itertuples(index=False))
    try:
        rows = [tuple(int(x) for x in row) for row in rows]
    except (TypeError, ValueError):
        raise Failed("quorum_table(10) must return rows (n, majority, failure_tolerance) of whole numbers") from None
    want = [(n, _majority(n), _tolerance(n)) for n in range(1, 11)]
    if rows != want:
        bad = [f"row for N={w[0]}: expected {w}, got {r}" for r, w in zip(rows, want) if r != w]
        if len(rows) != len(want):
            bad.insert(0, f"expected {len(want)} rows (N = 1..10), got {len(rows)}")
        raise Failed("quorum_table(10) is wrong: " + "; ".join(bad[:3]))


def _check_intersect(funcs: Mapping[str, Callable[..., Any]]) -> None:
    majority, tolerance = funcs["majority"], funcs["failure_tolerance"]
    for n in range(1, 16):
        m = majority(n)
        if 2 * m <= n:
            raise Failed(f"for N={n} two disjoint groups of majority({n})={m} servers fit: they need not intersect")
        if 2 * (m - 1) > n:
            raise Failed(f"for N={n}, {m - 1} servers would already always intersect: majority({n})={m} is not the smallest")
        if n - tolerance(n) < m:
            raise Failed(f"for N={n}, after failure_tolerance({n})={tolerance(n)} failures fewer than a majority remain")


EX01 = Exercise("01", "Quorums and etcd's failure-tolerance table", "01_quorums",
                ("majority", "failure_tolerance", "quorum_table"), (
    Check("majority_1_to_10", 2, True, ("majority",), "majority(N) for N = 1..10 (a majority of 10 is 6)",
          lambda f: _expect(f["majority"], "majority", _majority, range(1, 11))),
    Check("tolerance_1_to_10", 2, True, ("failure_tolerance",), "failure_tolerance(N) for N = 1..10",
          lambda f: _expect(f["failure_tolerance"], "failure_tolerance", _tolerance, range(1, 11))),
    Check("table_1_to_10", 1, True, ("quorum_table",), "the table of N, majority, tolerance for N = 1..10", _check_table),
    Check("larger_clusters", 1, False, ("majority", "failure_tolerance"), "both formulas for N up to 99",
          lambda f: (_expect(f["majority"], "majority", _majority, range(11, 100)),
                     _expect(f["failure_tolerance"], "failure_tolerance", _tolerance, range(11, 100)))),
    Check("majorities_intersect", 1, False, ("majority", "failure_tolerance"),
          "majorities intersect, are the smallest such groups, and survive the tolerated failures", _check_intersect),
    Check("why_intersect", 2, True, (), "written answer: why any two majorities share a server", manual=True),
))


# --------------------------------------------------------------------------
# 02 RequestVote
# --------------------------------------------------------------------------


def _up_to_date_cases() -> list[tuple[list[int], int, int]]:
    """(receiver's log terms, candidate's last index, candidate's last term)."""
    return [([], 0, 0), ([1], 0, 0), ([], 1, 1), ([1, 1, 2], 2, 3), ([1, 1, 2], 5, 1), ([1, 1, 2], 3, 2),
            ([1, 1, 2], 2, 2), ([1, 1, 2], 4, 2), ([2, 2], 1, 2), ([1, 3], 9, 2), ([1, 3], 1, 4)]


def _check_up_to_date(funcs: Mapping[str, Callable[..., Any]]) -> None:
    cls = node_class(funcs)
    for terms, index, term in _up_to_date_cases():
        node = make_node(cls, log_terms=terms, term=max(terms, default=0))
        got = node.log_is_up_to_date(index, term)
        want = make_node(node_class({}), log_terms=terms, term=max(terms, default=0)).log_is_up_to_date(index, term)
        if bool(got) != want:
            raise Failed(f"a receiver with log terms {terms} (last term {node.last_log_term}, last index "
                         f"{node.last_log_index}) asked about a candidate log with last index {index}, last term "
                         f"{term}: expected {want}, got {got!r}\n  rule §5.4.1: compare last terms first; only "
                         "if they are equal, the longer log is more up to date")


def _vote_cases() -> list[Case]:
    rv = partial(RequestVote, dst=2)
    rule = "§5.2/§5.4.1 RequestVote receiver: term, votedFor, up-to-date log; grant → record the vote, reset the timer"
    return [
        Case(dict(term=3), deliver(rv(3, 1, last_log_index=0, last_log_term=0)),
             "gets RequestVote from S1 for term 3 with an empty log", rule),
        Case(dict(term=3), deliver(rv(2, 1, last_log_index=5, last_log_term=2)),
             "gets RequestVote from S1 for the older term 2", rule + " (reply false if term < currentTerm)"),
        Case(dict(term=3, voted_for=4), deliver(rv(3, 1, last_log_index=0, last_log_term=0)),
             "gets RequestVote from S1 for term 3", rule + " (one vote per term)"),
        Case(dict(term=3, voted_for=1), deliver(rv(3, 1, last_log_index=0, last_log_term=0)),
             "gets the same RequestVote from S1 again (a duplicate)", rule + " (votedFor is candidateId → grant again)"),
        Case(dict(term=3, log_terms=[1, 2]), deliver(rv(3, 1, last_log_index=5, last_log_term=1)),
             "gets RequestVote from S1 whose longer log ends in the older term 1", rule),
        Case(dict(term=3, log_terms=[1, 2, 2]), deliver(rv(3, 1, last_log_index=2, last_log_term=2)),
             "gets RequestVote from S1 whose log ends in the same term but is shorter", rule),
        Case(dict(term=3, log_terms=[1, 2]), deliver(rv(3, 1, last_log_index=1, last_log_term=3)),
             "gets RequestVote from S1 whose shorter log ends in the newer term 3", rule),
        Case(dict(term=3, voted_for=4), deliver(rv(4, 1, last_log_index=0, last_log_term=0)),
             "gets RequestVote from S1 for the newer term 4", rule + " (a new term clears votedFor, §5.1)"),
        Case(dict(term=3, voted_for=2, role=CANDIDATE), deliver(rv(3, 1, last_log_index=0, last_log_term=0)),
             "(a candidate that voted for itself) gets RequestVote from S1 for the same term", rule),
        Case(dict(term=3), deliver(rv(3, 1, last_log_index=0, last_log_term=0), rv(3, 4, last_log_index=0, last_log_term=0)),
             "gets RequestVote from S1 and then from S4, both for term 3", rule + " (one vote per term)"),
    ]


def _count_cases() -> list[Case]:
    yes = partial(RequestVoteReply, dst=2, vote_granted=True)
    no = partial(RequestVoteReply, dst=2, vote_granted=False)
    cand = dict(term=3, voted_for=2, role=CANDIDATE)
    rule = "§5.2 candidate: count granted votes of the current term, each voter once; a majority → leader"
    return [
        Case(cand, deliver(yes(3, 1), yes(3, 3)), "gets votes granted by S1 and S3", rule),
        Case(cand, deliver(yes(3, 1), yes(3, 1), yes(3, 1)), "gets S1's granted vote three times (duplicates)", rule),
        Case(cand, deliver(yes(2, 1), yes(2, 3)), "gets granted votes from S1 and S3 for the old term 2 (late replies)",
             rule + " (ignore replies for another term)"),
        Case(cand, deliver(no(3, 1), no(3, 3), no(3, 4)), "gets three refusals", rule),
        Case(cand, deliver(yes(3, 1), no(3, 3), yes(3, 5)), "gets S1 yes, S3 no, S5 yes", rule),
        Case(dict(term=3, voted_for=1), deliver(yes(3, 1), yes(3, 3), yes(3, 4)),
             "(a follower, not a candidate) gets granted votes", rule + " (only a candidate counts votes)"),
        Case(dict(cand, n=3), deliver(yes(3, 3)), "(in a cluster of 3) gets S3's vote", rule),
    ]


_V = ("log_is_up_to_date", "handle_request_vote", "handle_request_vote_reply")
EX02 = Exercise("02", "RequestVote: who may become leader", "02_request_vote", _V, (
    Check("up_to_date_rule", 2, True, ("log_is_up_to_date",), "log_is_up_to_date compares last terms, then last indexes",
          _check_up_to_date),
    _case_check("vote_receiver_rules", 3, ("handle_request_vote",), _vote_cases,
                "RequestVote receiver: stale terms, one vote per term, up-to-date logs, timer reset"),
    _case_check("vote_counting", 2, ("handle_request_vote_reply",), _count_cases,
                "a candidate counts each current-term vote once and leads with a majority"),
    _scenario_check("stale_log_loses", 2, True, _V, "02", "stale_log_election", [0],
                    "a candidate missing a committed entry cannot win (§5.4.1)"),
    _scenario_check("majority_elects", 1, True, _V, "02", "majority_side", [1, 2],
                    "a bare majority elects a leader"),
    *_fault_checks("elections_under_faults", _V, "02", range(100, 160)),
    _scenario_check("majority_elects_hidden", 1, False, _V, "02", "majority_side", range(100, 110),
                    "a bare majority elects a leader, 10 more seeds"),
))


# --------------------------------------------------------------------------
# 03 AppendEntries
# --------------------------------------------------------------------------


def _entries(*terms: int, start: int = 1) -> tuple[Entry, ...]:
    """Entries whose commands match the ones :func:`make_node` puts at the same indexes."""
    return tuple(Entry(t, f"c{i}") for i, t in enumerate(terms, start=start))


def _append_cases() -> list[Case]:
    ae = partial(AppendEntries, src=1, dst=2)
    rule = "§5.3 AppendEntries receiver steps 1-5"
    return [
        Case(dict(term=3), deliver(ae(2, prev_log_index=0, prev_log_term=0, entries=_entries(2), leader_commit=0)),
             "gets AppendEntries from an old leader of term 2", rule + " (1: reply false if term < currentTerm)"),
        Case(dict(term=3, log_terms=[1, 3]), deliver(ae(3, prev_log_index=2, prev_log_term=3, entries=(), leader_commit=0)),
             "gets a heartbeat from leader S1 of term 3 that matches its log",
             rule + " (accept: remember the leader, reset the election timer, reply success)"),
        Case(dict(term=3, log_terms=[1]), deliver(ae(3, prev_log_index=3, prev_log_term=3, entries=_entries(3, start=4),
                                                     leader_commit=0)),
             "gets entries after index 3, beyond the end of its log", rule + " (2: no entry at prevLogIndex → false)"),
        Case(dict(term=3, log_terms=[1, 1, 2]), deliver(ae(3, prev_log_index=3, prev_log_term=3, entries=(),
                                                           leader_commit=0)),
             "is told the entry at index 3 has term 3 (its own has term 2)", rule + " (2: term mismatch → false)"),
        Case(dict(term=3, log_terms=[1]), deliver(ae(3, prev_log_index=1, prev_log_term=1, entries=_entries(3, 3, start=2),
                                                     leader_commit=0)),
             "gets two new entries after index 1", rule + " (4: append new entries)"),
        Case(dict(term=3, log_terms=[1, 3, 3, 3]), deliver(ae(3, prev_log_index=1, prev_log_term=1,
                                                              entries=_entries(3, start=2), leader_commit=0)),
             "gets a late copy of an AppendEntries it already applied (entry 2 only)",
             rule + " (3: delete only on a real conflict — matching entries and those after them stay)"),
        Case(dict(term=3, log_terms=[1, 2, 2]), deliver(ae(3, prev_log_index=1, prev_log_term=1,
                                                           entries=_entries(3, start=2), leader_commit=0)),
             "gets entry 2 of term 3 where it holds entries of term 2",
             rule + " (3: conflicting entry → delete it and all that follow, then append)"),
        Case(dict(term=3, log_terms=[1, 1, 2, 2]), deliver(ae(3, prev_log_index=2, prev_log_term=1, entries=(),
                                                              leader_commit=4)),
             "gets a heartbeat matching up to index 2 with leaderCommit 4 (its entries 3-4 are unverified)",
             rule + " (5: commitIndex = min(leaderCommit, index of last new entry))"),
        Case(dict(term=3, log_terms=[1]), deliver(ae(3, prev_log_index=1, prev_log_term=1, entries=_entries(3, 3, start=2),
                                                     leader_commit=2)),
             "gets two entries with leaderCommit 2", rule + " (5: commitIndex = min(leaderCommit, last new))"),
        Case(dict(term=3, voted_for=2, role=CANDIDATE), deliver(ae(3, prev_log_index=0, prev_log_term=0, entries=(),
                                                                   leader_commit=0)),
             "(a candidate) hears from the leader S1 of its own term", rule + " (a candidate steps down, §5.2)"),
    ]


_A = ("handle_append_entries",)
EX03 = Exercise("03", "AppendEntries: keeping logs consistent", "03_append_entries", _A, (
    _case_check("append_receiver_rules", 4, _A, _append_cases,
                "AppendEntries receiver: stale terms, consistency check, conflicts, append, commitIndex"),
    _scenario_check("healthy_replication", 2, True, _A, "03", "healthy_replication", [1],
                    "ten requests commit and all logs agree"),
    *_fault_checks("replication_under_faults", _A, "03", range(200, 260)),
))


# --------------------------------------------------------------------------
# 04 the commit rule
# --------------------------------------------------------------------------


def _advance(node: Any) -> None:
    node.advance_commit_index()


def _commit_cases() -> list[Case]:
    rule = "§5.3/§5.4.2 leader: highest N > commitIndex on a majority (itself included) with log[N].term == currentTerm"
    lead = dict(role=LEADER, voted_for=2)
    return [
        Case(dict(lead, term=2, log_terms=[1, 2, 2], match_index={1: 3, 3: 3}), _advance,
             "sees indexes 1-3 on S1 and S3 too", rule + " (commit the highest such N)"),
        Case(dict(lead, term=3, log_terms=[1, 2], match_index={1: 2, 3: 2, 4: 2}), _advance,
             "sees its term-2 entry on a majority but holds no entry of its term 3", rule + " (Figure 8: never count old-term replicas)"),
        Case(dict(lead, term=3, log_terms=[1, 2, 3], match_index={1: 3, 3: 3}), _advance,
             "sees its term-3 entry at index 3 on a majority", rule + " (committing N commits everything before it)"),
        Case(dict(lead, term=3, log_terms=[3, 3], match_index={1: 2}), _advance,
             "sees index 2 on S1 only (2 of 5)", rule + " (a minority is not enough)"),
        Case(dict(lead, term=3, n=3, log_terms=[3, 3], match_index={1: 2}), _advance,
             "in a cluster of 3 sees index 2 on S1", rule + " (the leader counts itself: 2 of 3)"),
        Case(dict(lead, term=3, log_terms=[3, 3, 3], match_index={1: 3, 3: 1, 4: 2}, commit_index=1), _advance,
             "sees index 2 on S1 and S4 (index 3 on S1 only)", rule),
    ]


def _stretch_next_index(node: Any) -> None:
    """Leaders' nextIndex runs ahead of matchIndex: a rule that reads nextIndex must not commit."""
    for p in node.peers:
        node.next_index[p] = node.last_log_index + 1


def _commit_cases_optimistic() -> list[Case]:
    rule = "§5.3 leader: count matchIndex (what followers confirmed), not nextIndex (a guess)"
    lead = dict(role=LEADER, voted_for=2, term=4, log_terms=[4, 4])

    def act(node: Any) -> None:
        _stretch_next_index(node)
        node.advance_commit_index()

    return [Case(dict(lead, match_index={1: 1}), act,
                 "has sent index 2 to everyone (nextIndex 3) but only S1 confirmed index 1", rule)]


_C = ("advance_commit_index",)
EX04 = Exercise("04", "The commit rule and Figure 8", "04_commit_rule", _C, (
    _case_check("commit_rule_cases", 3, _C, lambda: _commit_cases() + _commit_cases_optimistic(),
                "commitIndex advances to the highest current-term index on a majority"),
    _scenario_check("figure8", 3, True, _C, "04", "figure8", [0],
                    "the paper's Figure 8 run under the safety checks"),
    _scenario_check("commit_with_nodes_down", 1, True, _C, "04", "commit_with_nodes_down", [1],
                    "a leader with a bare majority up commits"),
    *_fault_checks("commit_under_faults", _C, "04", range(300, 360)),
    _scenario_check("commit_with_nodes_down_hidden", 1, False, _C, "04", "commit_with_nodes_down", range(300, 305),
                    "a bare majority commits, 5 more seeds"),
))

# --------------------------------------------------------------------------
# 05 even vs odd
# --------------------------------------------------------------------------
#
# What these checks can tell: every answer is judged by what it does on inputs
# the student did not see (other N, seeds, p, printed tables), and the crash
# experiment is judged by behaviour through the node class it is handed: a
# cluster needing every server, or three quarters of them, has another
# tolerance than Raft's, so an "experiment" that returns (N-1)//2 without
# running the given nodes fails; a cluster where only S1 ever stands for
# election succeeds exactly when S1 survives, so victims that never (or
# always) include the leader show up as a rate of 1 or 0 instead of one in
# between. What they cannot tell: how the student built the cluster, whether
# the victims are uniform, or whether code that special-cases these node
# classes by name is honest -- an instructor reading the notebook can.


class _Unanimous(RaftNode):
    """Needs every server for an election and for a commit: tolerates no crash at all."""

    @property
    def quorum(self) -> int:
        return len(self.peers) + 1


class _ThreeQuarters(RaftNode):
    """Needs three quarters of the servers (rounded up): tolerates N - ceil(3N/4) crashes."""

    @property
    def quorum(self) -> int:
        return -(-3 * (len(self.peers) + 1) // 4)


class _OnlyS1Stands(RaftNode):
    """Only S1 ever stands for election: the cluster survives follower crashes, never S1's."""

    def start_election(self) -> None:
        if self.id == 1:
            super().start_election()
        else:
            self.reset_election_timer()


_QUORUM_OF = {RaftNode: _majority, _Unanimous: lambda n: n, _ThreeQuarters: lambda n: -(-3 * n // 4)}
_CLUSTERS = {RaftNode: "Raft's own nodes", _Unanimous: "a node class that needs every server (quorum = N)",
             _ThreeQuarters: "a node class that needs three quarters of the servers (quorum = ceil(3N/4))"}


def _check_predict(funcs: Mapping[str, Callable[..., Any]], ns: Iterable[int]) -> None:
    for n in ns:
        got = funcs["predict"](n)
        want = (_majority(n), _tolerance(n))
        try:
            ok = len(got) == 2 and not any(isinstance(x, bool) for x in got) and tuple(int(x) for x in got) == want
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise Failed(f"predict({n}) returned {got!r}; expected (majority, tolerance) = {want}: a majority is more "
                         f"than half of N, and the tolerance is how many can fail while a majority is still up")


def _printed_tables() -> list[dict[int, int]]:
    """Printed majority tables with misprints, for N = 1..15 (seeded, so the same for every student)."""
    rng = random.Random(5)
    right = {n: _majority(n) for n in range(1, 16)}
    tables = [dict(right), {n: n // 2 if n % 2 == 0 else m for n, m in right.items()}]
    for _ in range(4):
        wrong = dict(right)
        for n in rng.sample(sorted(right), rng.randint(1, 4)):
            wrong[n] = rng.choice([m for m in range(0, n + 2) if m != right[n]])
        tables.append(wrong)
    return tables


def _check_misprints(funcs: Mapping[str, Callable[..., Any]], tables: Iterable[dict[int, int]]) -> None:
    for printed in tables:
        got = funcs["etcd_misprints"](dict(printed))
        want = [n for n in sorted(printed) if printed[n] != _majority(n)]
        try:
            ok = sorted(int(n) for n in got) == want
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise Failed(f"etcd_misprints({printed}) returned {got!r}; expected {want} "
                         "(the N whose printed majority is not a majority of N)")


def _etcd_printed() -> dict[int, int]:
    from ..experiments import etcd_table

    return {int(r.n): int(r.printed_majority) for r in etcd_table().itertuples()}


def _rate(fn: Callable[..., Any], n: int, k: int, trials: int, seed: int, cls: type[RaftNode]) -> float:
    kwargs = {} if cls is RaftNode else {"node_class": cls}
    got = fn(n, k, trials=trials, seed=seed, **kwargs)
    if isinstance(got, bool) or not isinstance(got, numbers.Real) or not 0 <= got <= 1:
        raise Failed(f"crash_success_rate({n}, {k}, trials={trials}, seed={seed}) returned {got!r}; "
                     "expected a success rate: a number from 0 to 1")
    return float(got)


def _accepts_node_class(fn: Callable[..., Any]) -> None:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    if "node_class" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise Failed(f"{getattr(fn, '__name__', 'your function')} must keep its node_class=RaftNode parameter "
                     "and build Cluster(..., node_class=node_class) with it")


def _check_rates(funcs: Mapping[str, Callable[..., Any]], ns: Iterable[int], trials: int, seed: int,
                 cls: type[RaftNode] = RaftNode) -> None:
    """crash_success_rate must be 1 while a quorum survives and 0 once it cannot."""
    fn = funcs["crash_success_rate"]
    if cls is not RaftNode:
        _accepts_node_class(fn)
    for n in ns:
        quorum = _QUORUM_OF[cls](n)
        for k in range(n + 1):
            s = seed + 1_000 * n + k
            got = _rate(fn, n, k, trials, s, cls)
            want = 1.0 if n - k >= quorum else 0.0
            if got != want:
                up = f"{n - k} of {n} servers stay up and {quorum} are needed"
                raise Failed(f"crash_success_rate({n}, {k}, trials={trials}, seed={s}) with {_CLUSTERS[cls]} "
                             f"returned {got:g}; expected {want:g}: {up}, so "
                             + ("every trial must commit (is your time bound long enough for a new election? a request sent "
                                "while there is no leader is rejected: send it again once there is one)"
                                if want else "no request can ever commit (count commits, not leaders: a leader "
                                "that lost its majority still believes it leads)"))


def _check_tolerance(funcs: Mapping[str, Callable[..., Any]], ns: Iterable[int], trials: int,
                     seeds: Iterable[int], cls: type[RaftNode] = RaftNode, again: Iterable[int] = ()) -> None:
    """measured_tolerance must equal N - quorum(N) of ``cls``; for N in ``again`` a second call must agree."""
    fn = funcs["measured_tolerance"]
    again = set(again)
    if cls is not RaftNode:
        _accepts_node_class(fn)
    kwargs = {} if cls is RaftNode else {"node_class": cls}
    for seed in seeds:
        for n in ns:
            got = fn(n, trials=trials, seed=seed, **kwargs)
            want = n - _QUORUM_OF[cls](n)
            if isinstance(got, bool) or not isinstance(got, numbers.Integral) or got != want:
                raise Failed(f"measured_tolerance({n}, trials={trials}, seed={seed}) with {_CLUSTERS[cls]} "
                             f"returned {got!r}; the simulated cluster survives {want} crash(es) but not "
                             f"{want + 1}: measure it by running the node_class you are given, do not compute it")
            if n in again and fn(n, trials=trials, seed=seed, **kwargs) != got:
                raise Failed(f"measured_tolerance({n}, trials={trials}, seed={seed}) gave another answer when "
                             "called again: derive every random choice from seed")


def _check_victims(funcs: Mapping[str, Callable[..., Any]]) -> None:
    """With only S1 standing for election, random victims give a rate strictly between 0 and 1."""
    fn = funcs["crash_success_rate"]
    _accepts_node_class(fn)
    for n, k, seed in ((3, 1, 7), (5, 2, 8)):
        rate = fn(n, k, trials=30, seed=seed, node_class=_OnlyS1Stands)
        if not 0 < rate < 1:
            raise Failed(f"crash_success_rate({n}, {k}, trials=30, seed={seed}) with a node class where only S1 ever "
                         f"stands for election returned {rate!r}: a cluster survives exactly when S1 is not among "
                         "the victims, so k victims chosen at random (the leader S1 sometimes among them, sometimes "
                         "not) give a rate between 0 and 1; pick the victims at random from all n nodes")


def _check_partition(funcs: Mapping[str, Callable[..., Any]], ns: Iterable[int], trials: int, seed: int) -> None:
    from ..experiments import partition_progress

    for n in ns:
        groups = funcs["stalling_partition"](n)
        try:
            clean = [sorted(int(i) for i in g) for g in groups]
        except (TypeError, ValueError):
            raise Failed(f"stalling_partition({n}) returned {groups!r}; expected a list of groups of node ids, "
                         "e.g. [[1, 2], [3, 4]]") from None
        if sorted(i for g in clean for i in g) != list(range(1, n + 1)):
            raise Failed(f"stalling_partition({n}) returned {groups!r}: list every node 1..{n} in exactly one group")
        fewest = 2 if n % 2 == 0 else 3
        if len(clean) != fewest:
            raise Failed(f"stalling_partition({n}) returned {len(clean)} groups; use as few as can stop a {n}-node "
                         f"cluster ({fewest}: " + ("an even cluster can be cut in two equal halves)" if fewest == 2
                                                   else "every cut of an odd cluster in two leaves a majority side)"))
        try:
            runs = partition_progress(n, clean, trials=trials, seed=seed, progress=False)
        except ValueError as e:
            raise Failed(f"stalling_partition({n}) returned {groups!r}: {e}") from None
        for row in runs.itertuples():
            for group, progressed in zip(row.groups, row.progress):
                if progressed:
                    raise Failed(f"stalling_partition({n}) = {clean}: in the simulator (seed {row.seed}) the side "
                                 f"{{{', '.join(f'S{i}' for i in group)}}} elected a leader and committed a request "
                                 f"-- {len(group)} of {n} servers are a majority")


def _closed_form_unavailability(n: int, p: float) -> float:
    from ..experiments import availability_closed_form

    return float(availability_closed_form(n, p)["unavailable"].iloc[0])


def _check_unavailability(funcs: Mapping[str, Callable[..., Any]], ns: Iterable[int], ps: Iterable[float]) -> None:
    fn = funcs["unavailability"]
    for p in ps:
        for n in ns:
            got = fn(n, p)
            want = _closed_form_unavailability(n, p)
            if isinstance(got, bool) or not isinstance(got, numbers.Real) or not math.isclose(got, want, rel_tol=1e-6,
                                                                                             abs_tol=1e-12):
                raise Failed(f"unavailability({n}, {p}) returned {got!r}; expected {want:.6g}: the probability "
                             f"that fewer than a majority ({_majority(n)}) of {n} servers are up when each is down "
                             f"with probability {p}, independently (a binomial sum)")


def _check_even_never_better(funcs: Mapping[str, Callable[..., Any]]) -> None:
    fn = funcs["unavailability"]
    for p in (0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7):
        for k in range(1, 6):
            odd, even = fn(2 * k - 1, p), fn(2 * k, p)
            if not even > odd:
                raise Failed(f"your unavailability says {2 * k} servers ({even:.4g}) are at least as available as "
                             f"{2 * k - 1} ({odd:.4g}) at p={p}; the extra server raises the majority and is one "
                             "more server that can fail")


_E = ("predict", "etcd_misprints", "crash_success_rate", "measured_tolerance", "stalling_partition", "unavailability")
EX05 = Exercise("05", "Even vs odd: fault tolerance by experiment", "05_even_vs_odd", _E, (
    Check("predict_1_to_10", 2, True, ("predict",), "predict(N) = (majority, tolerance) for N = 1..10",
          partial(_check_predict, ns=range(1, 11))),
    Check("etcd_misprint", 1, True, ("etcd_misprints",), "finds the misprint in etcd's printed table (N = 10)",
          lambda f: _check_misprints(f, [_etcd_printed()])),
    Check("crash_rates", 2, True, ("crash_success_rate",),
          "the crash experiment: success rate 1 while a majority survives, 0 after (N = 3, 4; every k)",
          partial(_check_rates, ns=(3, 4), trials=4, seed=1)),
    Check("measured_tolerance_1_to_10", 2, True, ("measured_tolerance",),
          "the tolerance measured in the simulator equals (N-1)//2 for N = 1..10",
          partial(_check_tolerance, ns=range(1, 11), trials=3, seeds=[0])),
    Check("uses_node_class", 1, True, ("crash_success_rate", "measured_tolerance"),
          "the experiment runs the node class it is given (a cluster needing every server tolerates 0)",
          lambda f: (_check_rates(f, (3,), 3, 2, _Unanimous),
                     _check_tolerance(f, (3, 4), 3, [0], _Unanimous))),
    Check("stalls_4_nodes", 2, True, ("stalling_partition",),
          "a two-way split of 4 nodes where no side commits, shown in the simulator",
          partial(_check_partition, ns=(4,), trials=3, seed=0)),
    Check("unavailability_3_to_6", 2, True, ("unavailability",), "unavailability(N, 0.05) for N = 3..6",
          partial(_check_unavailability, ns=range(3, 7), ps=(0.05,))),
    Check("why_odd", 3, True, (), "written answer: why etcd recommends odd sizes, and when an even size still makes "
          "sense", manual=True),
    Check("predict_larger", 1, False, ("predict",), "predict(N) for N up to 99",
          partial(_check_predict, ns=range(11, 100))),
    Check("misprints_hidden", 1, False, ("etcd_misprints",), "other printed tables, with and without misprints",
          lambda f: _check_misprints(f, _printed_tables())),
    Check("crash_rates_hidden", 2, False, ("crash_success_rate",), "the crash experiment for N = 5..10, other seeds",
          partial(_check_rates, ns=range(5, 11), trials=3, seed=50)),
    Check("measured_tolerance_hidden", 1, False, ("measured_tolerance",),
          "measured tolerance for N = 1..10 with another seed and more trials, the same answer twice",
          partial(_check_tolerance, ns=range(1, 11), trials=4, seeds=[101], again=(5, 8))),
    Check("node_class_hidden", 2, False, ("crash_success_rate", "measured_tolerance"),
          "the experiment measures other clusters: one needing three quarters of the servers, one needing all",
          lambda f: (_check_tolerance(f, (5, 8, 9), 3, [7], _ThreeQuarters),
                     _check_rates(f, (5,), 2, 70, _Unanimous))),
    Check("random_victims", 1, False, ("crash_success_rate",),
          "victims are chosen at random: sometimes the leader, sometimes not", _check_victims),
    Check("stalling_partition_hidden", 2, False, ("stalling_partition",),
          "the fewest groups that stop N = 2, 3, 5..10 (three for odd N), shown in the simulator",
          partial(_check_partition, ns=(2, 3, 5, 6, 7, 8, 9, 10), trials=2, seed=9)),
    Check("unavailability_hidden", 1, False, ("unavailability",), "unavailability for N = 1..10 and p from 0 to 1",
          partial(_check_unavailability, ns=range(1, 11), ps=(0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0))),
    Check("even_never_better", 1, False, ("unavailability",),
          "by your unavailability, N = 2k is less available than 2k-1 for every p tried", _check_even_never_better),
))

EXERCISES: dict[str, Exercise] = {e.id: e for e in (EX01, EX02, EX03, EX04, EX05)}
"""Every exercise by id."""


def get_exercise(exercise: str | int) -> Exercise:
    """The exercise ``"02"`` (also accepts ``2``, ``"2"`` or a notebook stem like ``"02_request_vote"``)."""
    key = str(exercise).strip()
    key = key.split("_")[0]
    if key.isdigit():
        key = f"{int(key):02d}"
    if key not in EXERCISES:
        raise ValueError(f"unknown exercise {exercise!r}; choose one of: "
                         + ", ".join(f"{e.id} ({e.title})" for e in EXERCISES.values()))
    return EXERCISES[key]
