"""The exercises and their checks: what each student function must do, judged by behaviour.

Each :class:`Exercise` names the functions a student writes and the checks
that grade them. Public checks run when a student calls
:func:`raftedu.grading.check`; hidden checks (more seeds, more scenarios)
run only in the instructor's grader. Points and names here are what the CSV,
the feedback and the Gradescope JSON show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..raft import CANDIDATE, LEADER, AppendEntries, Entry, RequestVote, RequestVoteReply
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

EXERCISES: dict[str, Exercise] = {e.id: e for e in (EX01, EX02, EX03, EX04)}
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
