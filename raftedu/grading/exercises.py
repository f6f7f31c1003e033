"""The exercises and their checks: what each student function must do, judged by behaviour.

Each :class:`Exercise` names the functions a student writes and the checks
that grade them. Every check is a probe (it runs student code on plain-data
cases and returns raw observations) and a judge (it decides from the
observations alone), see :mod:`raftedu.grading.core`. Public checks run
when a student calls :func:`raftedu.grading.check` and their cases are fixed
and readable here; hidden checks run in the instructor's grader and draw
their cases and seeds from the instructor's secret, so this source shows
what kind of cases they run, never which. Points and names here are what
the CSV, the feedback and the Gradescope JSON show.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..raft import (CANDIDATE, LEADER, AppendEntries, Entry, Message, RaftNode, RequestVote,
                    RequestVoteReply)
from .core import Check, Failed, accepts_keyword, call_student
from .observe import as_int, as_real, encode_message, plain
from .scenarios import _show, case_spec, judge_case, judge_scenario, make_node, node_class, probe_case, probe_scenario
from .bughunt import bug_hunt_checks
from .kv_store import (CAPSTONE_CLASSES, CLASS_NAME as KV_CLASS, KV_REFERENCE_RULES, capstone_checks, capstone_class,
                       kv_checks, kv_class)
from .whole_server import CLASS_NAME, REFERENCE_RULES, server_class
from .extensions import PREVOTE_RULES, prevote_checks
from .snapshots import SNAPSHOT_RULES, SWITCHED_OFF as SNAPSHOT_SWITCHED_OFF, snapshot_checks
from .membership import MEMBERSHIP_RULES, membership_checks

__all__ = ["EXERCISES", "Exercise", "get_exercise"]


@dataclass(frozen=True)
class Exercise:
    """One exercise: id (``"02"``), title, notebook stem, the functions students write, and the checks."""

    id: str
    title: str
    notebook: str
    functions: tuple[str, ...]
    checks: tuple[Check, ...]
    build: Callable[[Mapping[str, Any]], type[Any]] = node_class
    """Makes the node class under test from the student's functions (default: RaftNode with them plugged in)."""
    switched_off: tuple[str, ...] = ()
    """The reference RaftNode methods switched off while graded (default: those named like ``functions``)."""
    near_copies: bool = True
    """Also switch off RaftNode's extension handlers that repeat a Figure 2 rule (the sandbox's ``_NEAR_COPIES``);
    False for an exercise whose rules no such handler repeats and whose runs use the handlers (12: pre-vote on)."""

    @property
    def reference_rules(self) -> tuple[str, ...]:
        """The reference methods that are unavailable while this exercise is graded."""
        return self.switched_off or self.functions

    def selected(self, hidden: bool, only: Iterable[str] | str | None = None) -> list[Check]:
        """The public checks, plus the hidden ones when ``hidden``; only those named in ``only`` if given."""
        chosen = [c for c in self.checks if c.public or hidden]
        if only is None:
            return chosen
        names = [only] if isinstance(only, str) else list(only)
        known = {c.name for c in self.checks}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"exercise {self.id} has no check {', '.join(map(repr, unknown))}; "
                             f"its checks: {', '.join(sorted(known))}")
        return [c for c in self.checks if c.name in names and (c.public or hidden)]

    @property
    def max_score(self) -> float:
        """Points from the automatic checks (manual answers excluded)."""
        return sum(c.points for c in self.checks if not c.manual)


def _shown(obs: Any) -> str:
    """An observed value the way a student wrote it (tagged objects by their repr)."""
    if isinstance(obs, dict):
        if "object" in obs:
            return f"{obs.get('repr')} (a {obs['object']})"
        if "int" in obs or "real" in obs:
            return f"{obs.get('int', obs.get('real'))} (a {obs.get('type')})"
        if "dict" in obs:
            return "{" + ", ".join(f"{_shown(k)}: {_shown(v)}" for k, v in obs["dict"]) + "}"
    if isinstance(obs, list):
        return "[" + ", ".join(_shown(v) for v in obs) + "]"
    return repr(obs)


def _fixed(values: Iterable[Any]) -> Callable[[random.Random], list[Any]]:
    """Cases of a public check: the same for everyone, whatever the secret."""
    frozen = list(values)
    return lambda rng: list(frozen)


def _scenario_check(name: str, points: float, public: bool, needs: tuple[str, ...], exercise: str,
                    scenario: str, seeds: Callable[[random.Random], list[int]], description: str,
                    build: Callable[[Mapping[str, Any]], type[Any]] | None = None) -> Check:
    """A check that runs ``scenario`` with the student's node class (made by ``build``) for each seed and judges
    the traces."""
    return Check(name, points, public, needs, description,
                 cases=lambda rng: [{"scenario": scenario, "seed": s} for s in seeds(rng)],
                 probe=partial(probe_scenario, build=build) if build else probe_scenario,
                 judge=partial(judge_scenario, exercise=exercise),
                 label=lambda case: f"scenario {case['scenario']}, seed {case['seed']}" + (  # a secret seed: no replay
                     f"; replay: raftedu.grading.replay('{exercise}', '{case['scenario']}', seed={case['seed']})"
                     if public else ""))


def _secret_seeds(count: int) -> Callable[[random.Random], list[int]]:
    return lambda rng: rng.sample(range(1_000, 10**6), count)


def _fault_checks(name: str, needs: tuple[str, ...], exercise: str, hidden_count: int) -> list[Check]:
    """The pair every Raft exercise has: 5 public seeds of random faults, and more secret ones."""
    return [
        _scenario_check(name, 2, True, needs, exercise, "faults", _fixed(range(1, 6)),
                        "5 seeds of crashes, partitions, lost/duplicated/late messages"),
        _scenario_check(f"{name}_hidden", 2, False, needs, exercise, "faults", _secret_seeds(hidden_count),
                        f"{hidden_count} more seeds of faults (drawn from the instructor's secret)"),
    ]


def _case_check(name: str, points: float, public: bool, needs: tuple[str, ...],
                cases: Callable[[random.Random], list[dict[str, Any]]], description: str) -> Check:
    """A check comparing the student's node with the reference node case by case."""
    return Check(name, points, public, needs, description, cases=cases, probe=probe_case, judge=judge_case,
                 label=lambda spec: f"the node that {spec['what']}")


def deliver(*msgs: Message) -> list[Message]:
    """The messages a case's node receives, in order."""
    return list(msgs)


# --------------------------------------------------------------------------
# 01 quorums
# --------------------------------------------------------------------------


def _majority(n: int) -> int:
    return n // 2 + 1


def _tolerance(n: int) -> int:
    return (n - 1) // 2


_FORMULA = {"majority": _majority, "failure_tolerance": _tolerance}


def _probe_formula(names: tuple[str, ...], funcs: Mapping[str, Callable[..., Any]], n: int) -> list[Any]:
    return [call_student(funcs, name, n) for name in names]


def _judge_formula(names: tuple[str, ...], n: int, obs: list[Any]) -> None:
    for name, got in zip(names, obs):
        want = _FORMULA[name](n)
        if as_int(got) != want:
            raise Failed(f"{name}({n}) returned {_shown(got)}; expected {want} (etcd: majority = N//2 + 1, "
                         f"failure tolerance = (N-1)//2)")


def _formula_check(name: str, points: float, public: bool, names: tuple[str, ...], description: str,
                   ns: Callable[[random.Random], list[int]]) -> Check:
    return Check(name, points, public, names, description, cases=ns, probe=partial(_probe_formula, names),
                 judge=partial(_judge_formula, names), label=lambda n: f"N = {n}")


def _probe_table(funcs: Mapping[str, Callable[..., Any]], n: int) -> Any:
    return call_student(funcs, "quorum_table", n, rows=True)


def _whole_numbers(values: Any) -> list[int] | None:
    """The whole numbers (:func:`~raftedu.grading.observe.as_int`) ``values`` holds, or None when one is not (a
    :class:`TypeError` when ``values`` is not iterable)."""
    found = [as_int(x) for x in values]
    ints = [x for x in found if x is not None]
    return ints if len(ints) == len(found) else None


def _judge_table(n: int, obs: Any) -> None:
    found = [_whole_numbers(row) if isinstance(row, list) else None for row in obs] if isinstance(obs, list) else None
    rows = [r for r in found if r is not None] if found is not None else []
    if found is None or len(rows) != len(found):
        raise Failed(f"quorum_table({n}) must return rows (n, majority, failure_tolerance) of whole numbers; "
                     f"got {_shown(obs)[:200]}")
    want = [[k, _majority(k), _tolerance(k)] for k in range(1, n + 1)]
    if rows != want:
        bad = [f"row for N={w[0]}: expected {tuple(w)}, got {tuple(r)}" for r, w in zip(rows, want) if r != w]
        if len(rows) != len(want):
            bad.insert(0, f"expected {len(want)} rows (N = 1..{n}), got {len(rows)}")
        raise Failed(f"quorum_table({n}) is wrong: " + "; ".join(bad[:3]))


def _judge_intersect(n: int, obs: list[Any]) -> None:
    m, t = as_int(obs[0]), as_int(obs[1])
    if m is None or t is None:
        raise Failed(f"majority({n}) and failure_tolerance({n}) must be whole numbers; got {_shown(obs)}")
    if 2 * m <= n:
        raise Failed(f"for N={n} two disjoint groups of majority({n})={m} servers fit: they need not intersect")
    if 2 * (m - 1) > n:
        raise Failed(f"for N={n}, {m - 1} servers would already always intersect: majority({n})={m} is not the smallest")
    if n - t < m:
        raise Failed(f"for N={n}, after failure_tolerance({n})={t} failures fewer than a majority remain")


_MT = ("majority", "failure_tolerance")
EX01 = Exercise("01", "Quorums and etcd's failure-tolerance table", "01_quorums",
                ("majority", "failure_tolerance", "quorum_table"), (
    _formula_check("majority_1_to_10", 2, True, ("majority",), "majority(N) for N = 1..10 (a majority of 10 is 6)",
                   _fixed(range(1, 11))),
    _formula_check("tolerance_1_to_10", 2, True, ("failure_tolerance",), "failure_tolerance(N) for N = 1..10",
                   _fixed(range(1, 11))),
    Check("table_1_to_10", 1, True, ("quorum_table",), "the table of N, majority, tolerance for N = 1..10",
          cases=_fixed([10]), probe=_probe_table, judge=_judge_table, label=lambda n: f"quorum_table({n})"),
    _formula_check("larger_clusters", 1, False, _MT, "both formulas for 40 larger N (drawn from the secret)",
                   lambda rng: sorted(rng.sample(range(11, 1_000), 40))),
    Check("majorities_intersect", 1, False, _MT,
          "majorities intersect, are the smallest such groups, and survive the tolerated failures",
          cases=lambda rng: list(range(1, 16)) + sorted(rng.sample(range(16, 500), 10)),
          probe=partial(_probe_formula, _MT), judge=_judge_intersect, label=lambda n: f"N = {n}"),
    Check("why_intersect", 2, True, (), "written answer: why any two majorities share a server", manual=True),
))


# --------------------------------------------------------------------------
# 02 RequestVote
# --------------------------------------------------------------------------


def _up_to_date_cases() -> list[tuple[list[int], int, int]]:
    """(receiver's log terms, candidate's last index, candidate's last term)."""
    return [([], 0, 0), ([1], 0, 0), ([], 1, 1), ([1, 1, 2], 2, 3), ([1, 1, 2], 5, 1), ([1, 1, 2], 3, 2),
            ([1, 1, 2], 2, 2), ([1, 1, 2], 4, 2), ([2, 2], 1, 2), ([1, 3], 9, 2), ([1, 3], 1, 4)]


def _probe_up_to_date(funcs: Mapping[str, Callable[..., Any]], case: list[Any]) -> dict[str, Any]:
    terms, index, term = case
    node = make_node(node_class(funcs), log_terms=terms, term=max(terms, default=0))
    got = node.log_is_up_to_date(index, term)
    return {"truth": bool(got), "value": plain(got)}


def _judge_up_to_date(case: list[Any], obs: dict[str, Any]) -> None:
    terms, index, term = case
    node = make_node(RaftNode, log_terms=terms, term=max(terms, default=0))
    want = node.log_is_up_to_date(index, term)
    if obs.get("truth") is not want:
        raise Failed(f"a receiver with log terms {terms} (last term {node.last_log_term}, last index "
                     f"{node.last_log_index}) asked about a candidate log with last index {index}, last term "
                     f"{term}: expected {want}, got {_shown(obs.get('value'))}\n  rule §5.4.1: compare last terms "
                     "first; only if they are equal, the longer log is more up to date")


def _random_up_to_date(rng: random.Random) -> list[Any]:
    term = rng.randint(1, 5)
    terms = sorted(rng.randint(1, term) for _ in range(rng.randint(0, 5)))
    last_term = rng.randint(0, term + 1)
    return [terms, 0 if last_term == 0 else rng.randint(1, 7), last_term]


def _vote_cases() -> list[dict[str, Any]]:
    rv = partial(RequestVote, dst=2)
    rule = "§5.2/§5.4.1 RequestVote receiver: term, votedFor, up-to-date log; grant → record the vote, reset the timer"
    return [
        case_spec(dict(term=3), deliver(rv(3, 1, last_log_index=0, last_log_term=0)),
             "gets RequestVote from S1 for term 3 with an empty log", rule),
        case_spec(dict(term=3), deliver(rv(2, 1, last_log_index=5, last_log_term=2)),
             "gets RequestVote from S1 for the older term 2", rule + " (reply false if term < currentTerm)"),
        case_spec(dict(term=3, voted_for=4), deliver(rv(3, 1, last_log_index=0, last_log_term=0)),
             "gets RequestVote from S1 for term 3", rule + " (one vote per term)"),
        case_spec(dict(term=3, voted_for=1), deliver(rv(3, 1, last_log_index=0, last_log_term=0)),
             "gets the same RequestVote from S1 again (a duplicate)", rule + " (votedFor is candidateId → grant again)"),
        case_spec(dict(term=3, log_terms=[1, 2]), deliver(rv(3, 1, last_log_index=5, last_log_term=1)),
             "gets RequestVote from S1 whose longer log ends in the older term 1", rule),
        case_spec(dict(term=3, log_terms=[1, 2, 2]), deliver(rv(3, 1, last_log_index=2, last_log_term=2)),
             "gets RequestVote from S1 whose log ends in the same term but is shorter", rule),
        case_spec(dict(term=3, log_terms=[1, 2]), deliver(rv(3, 1, last_log_index=1, last_log_term=3)),
             "gets RequestVote from S1 whose shorter log ends in the newer term 3", rule),
        case_spec(dict(term=3, voted_for=4), deliver(rv(4, 1, last_log_index=0, last_log_term=0)),
             "gets RequestVote from S1 for the newer term 4", rule + " (a new term clears votedFor, §5.1)"),
        case_spec(dict(term=3, voted_for=2, role=CANDIDATE), deliver(rv(3, 1, last_log_index=0, last_log_term=0)),
             "(a candidate that voted for itself) gets RequestVote from S1 for the same term", rule),
        case_spec(dict(term=3), deliver(rv(3, 1, last_log_index=0, last_log_term=0), rv(3, 4, last_log_index=0, last_log_term=0)),
             "gets RequestVote from S1 and then from S4, both for term 3", rule + " (one vote per term)"),
    ]


def _count_cases() -> list[dict[str, Any]]:
    yes = partial(RequestVoteReply, dst=2, vote_granted=True)
    no = partial(RequestVoteReply, dst=2, vote_granted=False)
    cand = dict(term=3, voted_for=2, role=CANDIDATE)
    rule = "§5.2 candidate: count granted votes of the current term, each voter once; a majority → leader"
    return [
        case_spec(cand, deliver(yes(3, 1), yes(3, 3)), "gets votes granted by S1 and S3", rule),
        case_spec(cand, deliver(yes(3, 1), yes(3, 1), yes(3, 1)), "gets S1's granted vote three times (duplicates)", rule),
        case_spec(cand, deliver(yes(2, 1), yes(2, 3)), "gets granted votes from S1 and S3 for the old term 2 (late replies)",
             rule + " (ignore replies for another term)"),
        case_spec(cand, deliver(no(3, 1), no(3, 3), no(3, 4)), "gets three refusals", rule),
        case_spec(cand, deliver(yes(3, 1), no(3, 3), yes(3, 5)), "gets S1 yes, S3 no, S5 yes", rule),
        case_spec(dict(term=3, voted_for=1), deliver(yes(3, 1), yes(3, 3), yes(3, 4)),
             "(a follower, not a candidate) gets granted votes", rule + " (only a candidate counts votes)"),
        case_spec(dict(cand, n=3), deliver(yes(3, 3)), "(in a cluster of 3) gets S3's vote", rule),
    ]


def _peers(rng: random.Random) -> tuple[int, list[int]]:
    n = rng.choice([3, 5, 5])
    return n, [p for p in range(1, n + 1) if p != 2]


def _random_vote_case(rng: random.Random) -> dict[str, Any]:
    """A random situation of a follower or candidate S2 receiving RequestVotes and vote replies."""
    n, peers = _peers(rng)
    term = rng.randint(1, 5)
    situation: dict[str, Any] = dict(n=n, term=term, log_terms=sorted(rng.randint(1, term) for _ in range(rng.randint(0, 4))))
    if rng.random() < 0.4:
        situation.update(role=CANDIDATE, voted_for=2, votes=rng.sample(peers, rng.randint(0, n // 2 - 1)))
    else:
        situation["voted_for"] = rng.choice([None, None, *peers])
    msgs: list[Message] = []
    for _ in range(rng.randint(1, 3)):
        src = rng.choice(peers)
        if rng.random() < 0.55:
            last_term = rng.randint(0, term + 1)
            msgs.append(RequestVote(max(0, term + rng.choice([-1, 0, 0, 1])), src, 2,
                                    last_log_index=0 if last_term == 0 else rng.randint(1, 6), last_log_term=last_term))
        else:
            msgs.append(RequestVoteReply(term + rng.choice([-1, 0, 0]), src, 2, vote_granted=rng.random() < 0.7))
    return case_spec(situation, msgs, "gets " + ", then ".join(_show(encode_message(m)) for m in msgs),
                     "§5.1/§5.2/§5.4.1 RequestVote receiver and vote counting (a situation drawn from the secret)")


def _random_append_case(rng: random.Random) -> dict[str, Any]:
    """A random follower (or candidate) S2 receiving one AppendEntries: stale, mismatched, conflicting or fine."""
    n, peers = _peers(rng)
    term = rng.randint(1, 5)
    log_terms = sorted(rng.randint(1, term) for _ in range(rng.randint(0, 5)))
    leader = rng.choice(peers)
    situation: dict[str, Any] = dict(n=n, term=term, log_terms=log_terms)
    if rng.random() < 0.2:
        situation.update(role=CANDIDATE, voted_for=2)
    else:
        situation["voted_for"] = rng.choice([None, leader])
    prev = rng.randint(0, len(log_terms) + 1)
    situation["commit_index"] = rng.randint(0, min(prev, len(log_terms)))
    mterm = max(1, term + rng.choice([-1, 0, 0, 0, 1]))
    if prev == 0:
        prev_term = 0
    elif prev <= len(log_terms) and rng.random() < 0.75:
        prev_term = log_terms[prev - 1]
    else:
        prev_term = rng.randint(1, mterm)
    low = max(prev_term, 1)
    entry_terms = sorted(rng.randint(low, max(low, mterm)) for _ in range(rng.randint(0, 3)))
    entries = tuple(Entry(t, f"c{prev + 1 + i}") for i, t in enumerate(entry_terms))
    msg = AppendEntries(mterm, leader, 2, prev_log_index=prev, prev_log_term=prev_term, entries=entries,
                        leader_commit=rng.randint(0, prev + len(entries) + 1))
    return case_spec(situation, [msg], "gets " + _show(encode_message(msg)),
                     "§5.3 AppendEntries receiver steps 1-5 (a situation drawn from the secret)")


def _random_commit_case(rng: random.Random) -> dict[str, Any]:
    """A random leader S2 with random matchIndex values calling advance_commit_index."""
    n, peers = _peers(rng)
    term = rng.randint(2, 5)
    log_terms = sorted(rng.randint(1, term) for _ in range(rng.randint(1, 6)))
    match = {p: rng.randint(0, len(log_terms)) for p in peers}
    situation = dict(n=n, term=term, log_terms=log_terms, role=LEADER, voted_for=2, match_index=match,
                     commit_index=rng.randint(0, len(log_terms) - 1))
    stretch = rng.random() < 0.3
    return case_spec(situation, "advance", "sees matchIndex " + ", ".join(f"S{p}:{i}" for p, i in sorted(match.items()))
                     + (" (and has sent everything: nextIndex at the end)" if stretch else ""),
                     "§5.3/§5.4.2 leader commit rule (a situation drawn from the secret)", stretch=stretch)


def _random_cases(make: Callable[[random.Random], dict[str, Any]], count: int) -> Callable[[random.Random], list[Any]]:
    return lambda rng: [make(rng) for _ in range(count)]


_V = ("log_is_up_to_date", "handle_request_vote", "handle_request_vote_reply")
EX02 = Exercise("02", "RequestVote: who may become leader", "02_request_vote", _V, (
    Check("up_to_date_rule", 2, True, ("log_is_up_to_date",), "log_is_up_to_date compares last terms, then last indexes",
          cases=_fixed(_up_to_date_cases()), probe=_probe_up_to_date, judge=_judge_up_to_date,
          label=lambda c: f"log terms {c[0]}, candidate's last index {c[1]} and term {c[2]}"),
    _case_check("vote_receiver_rules", 3, True, ("handle_request_vote",), _fixed(_vote_cases()),
                "RequestVote receiver: stale terms, one vote per term, up-to-date logs, timer reset"),
    _case_check("vote_counting", 2, True, ("handle_request_vote_reply",), _fixed(_count_cases()),
                "a candidate counts each current-term vote once and leads with a majority"),
    _scenario_check("stale_log_loses", 2, True, _V, "02", "stale_log_election", _fixed([0]),
                    "a candidate missing a committed entry cannot win (§5.4.1); the setup's elections must happen"),
    _scenario_check("majority_elects", 1, True, _V, "02", "majority_side", _fixed([1, 2]),
                    "a bare majority elects a leader"),
    *_fault_checks("elections_under_faults", _V, "02", 40),
    _case_check("vote_rules_hidden", 2, False, _V, _random_cases(_random_vote_case, 40),
                "40 situations drawn from the secret, compared with the reference node"),
    _scenario_check("majority_elects_hidden", 1, False, _V, "02", "majority_side", _secret_seeds(10),
                    "a bare majority elects a leader, 10 more seeds"),
))


# --------------------------------------------------------------------------
# 03 AppendEntries
# --------------------------------------------------------------------------


def _entries(*terms: int, start: int = 1) -> tuple[Entry, ...]:
    """Entries whose commands match the ones :func:`make_node` puts at the same indexes."""
    return tuple(Entry(t, f"c{i}") for i, t in enumerate(terms, start=start))


def _append_cases() -> list[dict[str, Any]]:
    ae = partial(AppendEntries, src=1, dst=2)
    rule = "§5.3 AppendEntries receiver steps 1-5"
    return [
        case_spec(dict(term=3), deliver(ae(2, prev_log_index=0, prev_log_term=0, entries=_entries(2), leader_commit=0)),
             "gets AppendEntries from an old leader of term 2", rule + " (1: reply false if term < currentTerm)"),
        case_spec(dict(term=3, log_terms=[1, 3]), deliver(ae(3, prev_log_index=2, prev_log_term=3, entries=(), leader_commit=0)),
             "gets a heartbeat from leader S1 of term 3 that matches its log",
             rule + " (accept: remember the leader, reset the election timer, reply success)"),
        case_spec(dict(term=3, log_terms=[1]), deliver(ae(3, prev_log_index=3, prev_log_term=3, entries=_entries(3, start=4),
                                                     leader_commit=0)),
             "gets entries after index 3, beyond the end of its log", rule + " (2: no entry at prevLogIndex → false)"),
        case_spec(dict(term=3, log_terms=[1, 1, 2]), deliver(ae(3, prev_log_index=3, prev_log_term=3, entries=(),
                                                           leader_commit=0)),
             "is told the entry at index 3 has term 3 (its own has term 2)", rule + " (2: term mismatch → false)"),
        case_spec(dict(term=3, log_terms=[1]), deliver(ae(3, prev_log_index=1, prev_log_term=1, entries=_entries(3, 3, start=2),
                                                     leader_commit=0)),
             "gets two new entries after index 1", rule + " (4: append new entries)"),
        case_spec(dict(term=3, log_terms=[1, 3, 3, 3]), deliver(ae(3, prev_log_index=1, prev_log_term=1,
                                                              entries=_entries(3, start=2), leader_commit=0)),
             "gets a late copy of an AppendEntries it already applied (entry 2 only)",
             rule + " (3: delete only on a real conflict — matching entries and those after them stay)"),
        case_spec(dict(term=3, log_terms=[1, 2, 2]), deliver(ae(3, prev_log_index=1, prev_log_term=1,
                                                           entries=_entries(3, start=2), leader_commit=0)),
             "gets entry 2 of term 3 where it holds entries of term 2",
             rule + " (3: conflicting entry → delete it and all that follow, then append)"),
        case_spec(dict(term=3, log_terms=[1, 1, 2, 2]), deliver(ae(3, prev_log_index=2, prev_log_term=1, entries=(),
                                                              leader_commit=4)),
             "gets a heartbeat matching up to index 2 with leaderCommit 4 (its entries 3-4 are unverified)",
             rule + " (5: commitIndex = min(leaderCommit, index of last new entry))"),
        case_spec(dict(term=3, log_terms=[1]), deliver(ae(3, prev_log_index=1, prev_log_term=1, entries=_entries(3, 3, start=2),
                                                     leader_commit=2)),
             "gets two entries with leaderCommit 2", rule + " (5: commitIndex = min(leaderCommit, last new))"),
        case_spec(dict(term=3, voted_for=2, role=CANDIDATE), deliver(ae(3, prev_log_index=0, prev_log_term=0, entries=(),
                                                                   leader_commit=0)),
             "(a candidate) hears from the leader S1 of its own term", rule + " (a candidate steps down, §5.2)"),
    ]


_A = ("handle_append_entries",)
EX03 = Exercise("03", "AppendEntries: keeping logs consistent", "03_append_entries", _A, (
    _case_check("append_receiver_rules", 4, True, _A, _fixed(_append_cases()),
                "AppendEntries receiver: stale terms, consistency check, conflicts, append, commitIndex"),
    _scenario_check("healthy_replication", 2, True, _A, "03", "healthy_replication", _fixed([1]),
                    "ten requests commit and all logs agree"),
    *_fault_checks("replication_under_faults", _A, "03", 40),
    _case_check("append_rules_hidden", 2, False, _A, _random_cases(_random_append_case, 40),
                "40 AppendEntries situations drawn from the secret, compared with the reference node"),
))


# --------------------------------------------------------------------------
# 04 the commit rule
# --------------------------------------------------------------------------


def _commit_cases() -> list[dict[str, Any]]:
    rule = "§5.3/§5.4.2 leader: highest N > commitIndex on a majority (itself included) with log[N].term == currentTerm"
    lead = dict(role=LEADER, voted_for=2)
    return [
        case_spec(dict(lead, term=2, log_terms=[1, 2, 2], match_index={1: 3, 3: 3}), "advance",
             "sees indexes 1-3 on S1 and S3 too", rule + " (commit the highest such N)"),
        case_spec(dict(lead, term=3, log_terms=[1, 2], match_index={1: 2, 3: 2, 4: 2}), "advance",
             "sees its term-2 entry on a majority but holds no entry of its term 3", rule + " (Figure 8: never count old-term replicas)"),
        case_spec(dict(lead, term=3, log_terms=[1, 2, 3], match_index={1: 3, 3: 3}), "advance",
             "sees its term-3 entry at index 3 on a majority", rule + " (committing N commits everything before it)"),
        case_spec(dict(lead, term=3, log_terms=[3, 3], match_index={1: 2}), "advance",
             "sees index 2 on S1 only (2 of 5)", rule + " (a minority is not enough)"),
        case_spec(dict(lead, term=3, n=3, log_terms=[3, 3], match_index={1: 2}), "advance",
             "in a cluster of 3 sees index 2 on S1", rule + " (the leader counts itself: 2 of 3)"),
        case_spec(dict(lead, term=3, log_terms=[3, 3, 3], match_index={1: 3, 3: 1, 4: 2}, commit_index=1), "advance",
             "sees index 2 on S1 and S4 (index 3 on S1 only)", rule),
    ]


def _commit_cases_optimistic() -> list[dict[str, Any]]:
    rule = "§5.3 leader: count matchIndex (what followers confirmed), not nextIndex (a guess)"
    lead = dict(role=LEADER, voted_for=2, term=4, log_terms=[4, 4])
    return [case_spec(dict(lead, match_index={1: 1}), "advance",
                      "has sent index 2 to everyone (nextIndex 3) but only S1 confirmed index 1", rule, stretch=True)]


_C = ("advance_commit_index",)
EX04 = Exercise("04", "The commit rule and Figure 8", "04_commit_rule", _C, (
    _case_check("commit_rule_cases", 3, True, _C, _fixed(_commit_cases() + _commit_cases_optimistic()),
                "commitIndex advances to the highest current-term index on a majority"),
    _scenario_check("figure8", 3, True, _C, "04", "figure8", _fixed([0]),
                    "the paper's Figure 8 run under the safety checks; the final command must commit"),
    _scenario_check("commit_with_nodes_down", 1, True, _C, "04", "commit_with_nodes_down", _fixed([1]),
                    "a leader with a bare majority up commits"),
    *_fault_checks("commit_under_faults", _C, "04", 40),
    _case_check("commit_rules_hidden", 2, False, _C, _random_cases(_random_commit_case, 40),
                "40 leader situations drawn from the secret, compared with the reference node"),
    _scenario_check("commit_with_nodes_down_hidden", 1, False, _C, "04", "commit_with_nodes_down", _secret_seeds(5),
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


_QUORUM: dict[str, Callable[[int], int]] = {"raft": _majority, "unanimous": lambda n: n, "three_quarters": lambda n: -(-3 * n // 4)}
_CLUSTERS = {"raft": "Raft's own nodes", "unanimous": "a node class that needs every server (quorum = N)",
             "three_quarters": "a node class that needs three quarters of the servers (quorum = ceil(3N/4))",
             "only_s1": "a node class where only S1 ever stands for election"}
"""The node classes an experiment is handed (:func:`raftedu.nodehost.experiment_nodes`), by the name a case uses."""


def _probe05(funcs: Mapping[str, Callable[..., Any]], case: dict[str, Any]) -> Any:
    """Call the student's exercise 05 function that ``case["kind"]`` names (runs student code)."""
    kind = case["kind"]
    if kind == "predict":
        return call_student(funcs, "predict", case["n"])
    if kind == "misprints":
        return call_student(funcs, "etcd_misprints", {int(n): int(m) for n, m in case["printed"]})
    if kind == "partition":
        return call_student(funcs, "stalling_partition", case["n"])
    if kind == "unavailability":
        return call_student(funcs, "unavailability", case["n"], case["p"])
    if kind == "even_odd":
        return [[call_student(funcs, "unavailability", 2 * k - 1, case["p"]),
                 call_student(funcs, "unavailability", 2 * k, case["p"])] for k in range(1, 6)]
    name = "crash_success_rate" if kind in ("rate", "victims") else "measured_tolerance"
    cls = case["nodes"]
    if cls != "raft" and not accepts_keyword(funcs, name, "node_class"):
        return {"accepts_node_class": False}
    kwargs = {} if cls == "raft" else {"node_class": cls}
    if kind in ("rate", "victims"):
        return {"value": call_student(funcs, name, case["n"], case["k"], trials=case["trials"], seed=case["seed"],
                                      **kwargs)}
    first = call_student(funcs, name, case["n"], trials=case["trials"], seed=case["seed"], **kwargs)
    again = call_student(funcs, name, case["n"], trials=case["trials"], seed=case["seed"], **kwargs) \
        if case.get("again") else first
    return {"value": first, "again": again}


def _no_node_class(name: str) -> Failed:
    return Failed(f"{name} must keep its node_class=RaftNode parameter and build Cluster(..., node_class=node_class) "
                  "with it")


def _judge05(case: dict[str, Any], obs: Any) -> None:
    """Judge one exercise 05 observation (runs no student code; the partition is re-run here, in the judge)."""
    kind = case["kind"]
    judges = {"predict": _judge_predict, "misprints": _judge_misprints, "partition": _judge_partition,
                     "unavailability": _judge_unavailability, "even_odd": _judge_even_odd, "rate": _judge_rate,
                     "victims": _judge_victims, "tolerance": _judge_tolerance}
    judges[kind](case, obs)


def _judge_predict(case: dict[str, Any], obs: Any) -> None:
    n = case["n"]
    want = (_majority(n), _tolerance(n))
    got = tuple(as_int(x) for x in obs) if isinstance(obs, list) else None
    if got != want:
        raise Failed(f"predict({n}) returned {_shown(obs)}; expected (majority, tolerance) = {want}: a majority is "
                     f"more than half of N, and the tolerance is how many can fail while a majority is still up")


def _judge_misprints(case: dict[str, Any], obs: Any) -> None:
    printed = {int(n): int(m) for n, m in case["printed"]}
    want = [n for n in sorted(printed) if printed[n] != _majority(n)]
    got = sorted(-1 if v is None else v for v in map(as_int, obs)) if isinstance(obs, list) else None
    if got != want:
        raise Failed(f"etcd_misprints({printed}) returned {_shown(obs)}; expected {want} "
                     "(the N whose printed majority is not a majority of N)")


def _judge_rate(case: dict[str, Any], obs: Any) -> None:
    n, k, trials, seed, cls = case["n"], case["k"], case["trials"], case["seed"], case["nodes"]
    if not obs.get("accepts_node_class", True):
        raise _no_node_class("crash_success_rate")
    got = as_real(obs.get("value"))
    call = f"crash_success_rate({n}, {k}, trials={trials}, seed={seed})"
    if got is None or not 0 <= got <= 1:
        raise Failed(f"{call} returned {_shown(obs.get('value'))}; expected a success rate: a number from 0 to 1")
    quorum = _QUORUM[cls](n)
    want = 1.0 if n - k >= quorum else 0.0
    if got != want:
        up = f"{n - k} of {n} servers stay up and {quorum} are needed"
        raise Failed(f"{call} with {_CLUSTERS[cls]} returned {got:g}; expected {want:g}: {up}, so "
                     + ("every trial must commit (is your time bound long enough for a new election? a request sent "
                        "while there is no leader is rejected: send it again once there is one)"
                        if want else "no request can ever commit (count commits, not leaders: a leader "
                        "that lost its majority still believes it leads)"))


def _judge_victims(case: dict[str, Any], obs: Any) -> None:
    """With only S1 standing for election, random victims give a rate strictly between 0 and 1."""
    n, k, seed = case["n"], case["k"], case["seed"]
    if not obs.get("accepts_node_class", True):
        raise _no_node_class("crash_success_rate")
    rate = as_real(obs.get("value"))
    if rate is None or not 0 < rate < 1:
        raise Failed(f"crash_success_rate({n}, {k}, trials={case['trials']}, seed={seed}) with a node class where only "
                     f"S1 ever stands for election returned {_shown(obs.get('value'))}: a cluster survives exactly when "
                     "S1 is not among the victims, so k victims chosen at random (the leader S1 sometimes among them, "
                     "sometimes not) give a rate between 0 and 1; pick the victims at random from all n nodes")


def _judge_tolerance(case: dict[str, Any], obs: Any) -> None:
    n, trials, seed, cls = case["n"], case["trials"], case["seed"], case["nodes"]
    if not obs.get("accepts_node_class", True):
        raise _no_node_class("measured_tolerance")
    got = obs.get("value")
    want = n - _QUORUM[cls](n)
    if as_int(got) != want:
        raise Failed(f"measured_tolerance({n}, trials={trials}, seed={seed}) with {_CLUSTERS[cls]} "
                     f"returned {_shown(got)}; the simulated cluster survives {want} crash(es) but not "
                     f"{want + 1}: measure it by running the node_class you are given, do not compute it")
    if obs.get("again") != got:
        raise Failed(f"measured_tolerance({n}, trials={trials}, seed={seed}) gave another answer when "
                     "called again: derive every random choice from seed")


def _judge_partition(case: dict[str, Any], obs: Any) -> None:
    from ..experiments import partition_progress

    n = case["n"]
    try:
        groups = [_whole_numbers(g) for g in obs]
        clean = [sorted(g) for g in groups if g is not None]
        if len(clean) != len(groups):
            raise TypeError
    except TypeError:
        raise Failed(f"stalling_partition({n}) returned {_shown(obs)}; expected a list of groups of node ids, "
                     "e.g. [[1, 2], [3, 4]]") from None
    if sorted(i for g in clean for i in g) != list(range(1, n + 1)):
        raise Failed(f"stalling_partition({n}) returned {_shown(obs)}: list every node 1..{n} in exactly one group")
    fewest = 2 if n % 2 == 0 else 3
    if len(clean) != fewest:
        raise Failed(f"stalling_partition({n}) returned {len(clean)} groups; use as few as can stop a {n}-node "
                     f"cluster ({fewest}: " + ("an even cluster can be cut in two equal halves)" if fewest == 2
                                               else "every cut of an odd cluster in two leaves a majority side)"))
    try:
        runs = partition_progress(n, clean, trials=case["trials"], seed=case["seed"], progress=False)
    except ValueError as e:
        raise Failed(f"stalling_partition({n}) returned {_shown(obs)}: {e}") from None
    for row in runs.itertuples():
        for group, progressed in zip(row.groups, row.progress):
            if progressed:
                raise Failed(f"stalling_partition({n}) = {clean}: in the simulator (seed {row.seed}) the side "
                             f"{{{', '.join(f'S{i}' for i in group)}}} elected a leader and committed a request "
                             f"-- {len(group)} of {n} servers are a majority")


def _closed_form_unavailability(n: int, p: float) -> float:
    from ..experiments import availability_closed_form

    return float(availability_closed_form(n, p)["unavailable"].iloc[0])


def _judge_unavailability(case: dict[str, Any], obs: Any) -> None:
    n, p = case["n"], case["p"]
    got, want = as_real(obs), _closed_form_unavailability(n, p)
    if got is None or not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-12):
        raise Failed(f"unavailability({n}, {p}) returned {_shown(obs)}; expected {want:.6g}: the probability "
                     f"that fewer than a majority ({_majority(n)}) of {n} servers are up when each is down "
                     f"with probability {p}, independently (a binomial sum)")


def _judge_even_odd(case: dict[str, Any], obs: Any) -> None:
    p = case["p"]
    for k, pair in enumerate(obs, start=1):
        odd, even = (as_real(x) for x in pair)
        if odd is None or even is None or not even > odd:
            raise Failed(f"your unavailability says {2 * k} servers ({_shown(pair[1])}) are at least as available as "
                         f"{2 * k - 1} ({_shown(pair[0])}) at p={p}; the extra server raises the majority and is one "
                         "more server that can fail")


def _printed_tables(rng: random.Random) -> list[dict[int, int]]:
    """Printed majority tables for N = 1..15: a right one, one with N//2 for even N, and misprints drawn from ``rng``."""
    right = {n: _majority(n) for n in range(1, 16)}
    tables = [dict(right), {n: n // 2 if n % 2 == 0 else m for n, m in right.items()}]
    for _ in range(4):
        wrong = dict(right)
        for n in rng.sample(sorted(right), rng.randint(1, 4)):
            wrong[n] = rng.choice([m for m in range(0, n + 2) if m != right[n]])
        tables.append(wrong)
    return tables


def _etcd_printed() -> dict[int, int]:
    from ..experiments import etcd_table

    return {int(r.n): int(r.printed_majority) for r in etcd_table().itertuples()}


def _rates(ns: Iterable[int], trials: int, seed: int, nodes: str = "raft") -> list[dict[str, Any]]:
    return [dict(kind="rate", n=n, k=k, trials=trials, seed=seed + 1_000 * n + k, nodes=nodes)
            for n in ns for k in range(n + 1)]


def _tolerances(ns: Iterable[int], trials: int, seeds: Iterable[int], nodes: str = "raft",
                again: Iterable[int] = ()) -> list[dict[str, Any]]:
    return [dict(kind="tolerance", n=n, trials=trials, seed=seed, nodes=nodes, again=n in set(again))
            for seed in seeds for n in ns]


def _check05(name: str, points: float, public: bool, needs: tuple[str, ...], description: str,
             cases: Callable[[random.Random], list[dict[str, Any]]]) -> Check:
    return Check(name, points, public, needs, description, cases=cases, probe=_probe05, judge=_judge05,
                 label=lambda c: ", ".join(f"{k}={v}" for k, v in c.items() if k not in ("kind", "printed")))


def _seed(rng: random.Random) -> int:
    return rng.randrange(10**6)


_E = ("predict", "etcd_misprints", "crash_success_rate", "measured_tolerance", "stalling_partition", "unavailability")
EX05 = Exercise("05", "Even vs odd: fault tolerance by experiment", "05_even_vs_odd", _E, (
    _check05("predict_1_to_10", 2, True, ("predict",), "predict(N) = (majority, tolerance) for N = 1..10",
             _fixed(dict(kind="predict", n=n) for n in range(1, 11))),
    _check05("etcd_misprint", 1, True, ("etcd_misprints",),
             "finds the misprint in a tutorial's copy of etcd's v2 admin-guide table (N = 10)",
             lambda rng: [dict(kind="misprints", printed=sorted(_etcd_printed().items()))]),
    _check05("crash_rates", 2, True, ("crash_success_rate",),
             "the crash experiment: success rate 1 while a majority survives, 0 after (N = 3, 4; every k)",
             _fixed(_rates((3, 4), trials=4, seed=1))),
    _check05("measured_tolerance_1_to_10", 2, True, ("measured_tolerance",),
             "the tolerance measured in the simulator equals (N-1)//2 for N = 1..10",
             _fixed(_tolerances(range(1, 11), 3, [0]))),
    _check05("uses_node_class", 1, True, ("crash_success_rate", "measured_tolerance"),
             "the experiment runs the node class it is given (a cluster needing every server tolerates 0)",
             _fixed(_rates((3,), 3, 2, "unanimous") + _tolerances((3, 4), 3, [0], "unanimous"))),
    _check05("stalls_4_nodes", 2, True, ("stalling_partition",),
             "a two-way split of 4 nodes where no side commits, shown in the simulator",
             _fixed([dict(kind="partition", n=4, trials=3, seed=0)])),
    _check05("unavailability_3_to_6", 2, True, ("unavailability",), "unavailability(N, 0.05) for N = 3..6",
             _fixed(dict(kind="unavailability", n=n, p=0.05) for n in range(3, 7))),
    Check("why_odd", 3, True, (), "written answer: why etcd recommends odd sizes, and when an even size still makes "
          "sense", manual=True),
    _check05("predict_larger", 1, False, ("predict",), "predict(N) for 40 N up to 999 (drawn from the secret)",
             lambda rng: [dict(kind="predict", n=n) for n in sorted(rng.sample(range(11, 1_000), 40))]),
    _check05("misprints_hidden", 1, False, ("etcd_misprints",), "other printed tables, with and without misprints",
             lambda rng: [dict(kind="misprints", printed=sorted(t.items())) for t in _printed_tables(rng)]),
    _check05("crash_rates_hidden", 2, False, ("crash_success_rate",), "the crash experiment for N = 5..10, other seeds",
             lambda rng: _rates(range(5, 11), trials=3, seed=_seed(rng))),
    _check05("measured_tolerance_hidden", 1, False, ("measured_tolerance",),
             "measured tolerance for N = 1..10 with another seed and more trials, the same answer twice",
             lambda rng: _tolerances(range(1, 11), 4, [_seed(rng)], again=rng.sample(range(3, 11), 2))),
    _check05("node_class_hidden", 2, False, ("crash_success_rate", "measured_tolerance"),
             "the experiment measures other clusters: one needing three quarters of the servers, one needing all",
             lambda rng: _tolerances((5, 8, 9), 3, [_seed(rng)], "three_quarters") + _rates((5,), 2, _seed(rng),
                                                                                          "unanimous")),
    _check05("random_victims", 1, False, ("crash_success_rate",),
             "victims are chosen at random: sometimes the leader, sometimes not",
             lambda rng: [dict(kind="victims", n=3, k=1, trials=30, seed=_seed(rng), nodes="only_s1"),
                          dict(kind="victims", n=5, k=2, trials=30, seed=_seed(rng), nodes="only_s1")]),
    _check05("stalling_partition_hidden", 2, False, ("stalling_partition",),
             "the fewest groups that stop N = 2, 3, 5..10 (three for odd N), shown in the simulator",
             lambda rng: [dict(kind="partition", n=n, trials=2, seed=_seed(rng)) for n in (2, 3, 5, 6, 7, 8, 9, 10)]),
    _check05("unavailability_hidden", 1, False, ("unavailability",), "unavailability for N = 1..10 and p from 0 to 1",
             lambda rng: [dict(kind="unavailability", n=n, p=p) for p in
                          [0.0, 1.0] + [round(rng.uniform(0.0005, 0.95), 4) for _ in range(6)] for n in range(1, 11)]),
    _check05("even_never_better", 1, False, ("unavailability",),
             "by your unavailability, N = 2k is less available than 2k-1 for every p tried",
             lambda rng: [dict(kind="even_odd", p=p) for p in [0.01, 0.05, 0.5] +
                          [round(rng.uniform(0.001, 0.99), 4) for _ in range(4)]]),
))

# --------------------------------------------------------------------------
# 06 the whole server (MIT 6.5840 3A-3C style; scenarios in whole_server.py)
# --------------------------------------------------------------------------


def _ws(name: str, points: float, public: bool, scenario: str, seeds: Callable[[random.Random], list[int]],
        description: str) -> Check:
    return _scenario_check(name, points, public, (CLASS_NAME,), "06", scenario, seeds, description, server_class)


_WS_PUBLIC = [
    ("initial_election", 2, "initial_election", "3A: three servers elect one leader and keep it while nothing fails"),
    ("reelection", 2, "reelection", "3A: a cut-off leader is replaced; servers cut apart elect no leader"),
    ("basic_agreement", 2, "basic_agreement", "3B: three requests commit on every server, in order"),
    ("follower_failure", 2, "follower_failure", "3B: agreement despite a crashed follower; none with one of three"),
    ("persist_restart", 2, "persist_restart", "3C: every server, the leader, a follower crash and restart; "
                                              "nothing committed is lost"),
    ("crash_after_vote", 2, "crash_after_vote", "3C: a vote survives a crash right after the reply (one vote per term)"),
    ("crash_after_ack", 2, "crash_after_ack", "3C: an acknowledged entry survives a crash right after the reply"),
    ("figure8", 2, "figure8", "the paper's Figure 8 (§5.4.2), endings (d) and (e)"),
]
_WS_HIDDEN = [
    ("many_elections", 2, "many_elections", 2, "3A: seven servers, six rounds with three of them cut off"),
    ("no_leader_without_majority", 2, "no_leader_without_majority", 1, "3A: five servers cut into 1+1+1+2"),
    ("leader_failure", 2, "leader_failure", 1, "3B: agreement after the leader crashes; none with one of three"),
    ("rejoin_follower", 2, "rejoin_follower", 1, "3B: a follower cut off during four commits catches up"),
    ("no_agreement_without_majority", 2, "no_agreement_without_majority", 1,
     "3B: a leader with two of five servers commits nothing"),
    ("concurrent_starts", 1, "concurrent_starts", 1, "3B: five requests at one instant commit, each once"),
    ("rejoin_partitioned_leader", 2, "rejoin_partitioned_leader", 1,
     "3B: an old leader's stranded entries are overwritten when it rejoins"),
    ("fast_backup", 2, "fast_backup", 2, "3B: two servers catch up over a 50-entry divergent log in a few round trips"),
    ("rpc_counts", 2, "rpc_counts", 1, "3B: message counts of an election, ten agreements and an idle second"),
    ("persist_churn", 2, "persist_churn", 2, "3C: five servers, two and four of them crash at a time"),
    ("persist_partitioned", 2, "persist_partitioned", 1,
     "3C: an entry committed on two servers survives their crash"),
    ("stale_log_election", 2, "stale_log_election", 1, "§5.4.1: candidates whose logs miss a committed entry lose"),
    ("stale_replies", 2, "stale_replies", 1, "§5.2, §5.3: votes and replies of an earlier term count for nothing"),
    ("figure8_unreliable", 3, "figure8_unreliable", 4, "3C: leader crashes on a lossy, reordering network"),
    ("unreliable_agreement", 2, "unreliable_agreement", 3, "3B: twenty requests on a lossy, reordering network"),
    ("churn", 3, "faults", 6, "3C: random crashes, restarts, partitions and message faults, then recovery"),
]
EX06 = Exercise("06", "The whole server", "06_whole_server", (CLASS_NAME,), tuple(
    [_ws(name, pts, True, scen, _fixed([1]), desc) for name, pts, scen, desc in _WS_PUBLIC]
    + [_ws(name, pts, False, scen, _secret_seeds(k), f"{desc} ({k} seed{'s' if k > 1 else ''} from the secret)")
       for name, pts, scen, k, desc in _WS_HIDDEN]), build=server_class, switched_off=REFERENCE_RULES)

# --------------------------------------------------------------------------
# 07 bug hunt (suspects and the judge in bughunt.py)
# --------------------------------------------------------------------------

EX07 = Exercise("07", "Bug hunt", "07_bug_hunt", ("hunt_a", "hunt_b", "hunt_c", "hunt_d"), bug_hunt_checks())

# --------------------------------------------------------------------------
# 08 a linearizable key-value store (scenarios and judges in kv_store.py)
# --------------------------------------------------------------------------

EX08 = Exercise("08", "A linearizable key-value store", "08_kv_store", (KV_CLASS,), kv_checks(), build=kv_class,
                switched_off=KV_REFERENCE_RULES)

# --------------------------------------------------------------------------
# 09 the capstone: the student's 06 server under the student's 08 rules (kv_store.py)
# --------------------------------------------------------------------------

EX09 = Exercise("09", "Capstone: your server, your store", "09_capstone", CAPSTONE_CLASSES, capstone_checks(),
                build=capstone_class, switched_off=REFERENCE_RULES + KV_REFERENCE_RULES)

# --------------------------------------------------------------------------
# 10 snapshots and log compaction (dissertation ch. 5; cases and scenarios in snapshots.py)
# --------------------------------------------------------------------------

EX10 = Exercise("10", "Snapshots and log compaction", "10_snapshots", SNAPSHOT_RULES, snapshot_checks(),
                switched_off=SNAPSHOT_SWITCHED_OFF)

# --------------------------------------------------------------------------
# 11 pre-vote and check-quorum (etcd's election extensions; cases and scenarios in extensions.py)
# --------------------------------------------------------------------------

EX11 = Exercise("11", "Pre-vote and check-quorum", "11_prevote_checkquorum", PREVOTE_RULES, prevote_checks())


# --------------------------------------------------------------------------
# 12 membership changes (single-server changes, learners, removed servers; cases and scenarios in membership.py)
# --------------------------------------------------------------------------

EX12 = Exercise("12", "Membership changes", "12_membership", MEMBERSHIP_RULES, membership_checks(),
                near_copies=False)

EXERCISES: dict[str, Exercise] = {e.id: e for e in (EX01, EX02, EX03, EX04, EX05, EX06, EX07, EX08, EX09, EX10,
                                                    EX11, EX12)}
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
