"""Exercise 07, the bug hunt: four broken servers, each with one plausible bug; the student finds a fault schedule
under which the always-on safety checks catch it.

A student's answer for suspect X is a function ``hunt_x()`` returning plain data::

    {"n": 3, "seed": 1, "scripted": True, "run": 500, "schedule": [(0, "timeout_now", 1), (50, "crash", 1), ...]}

``scripted`` picks the paper scenarios' settings (:data:`raftedu.scenarios.SCRIPTED`: no server times out by
itself, messages take 1 ms), so only the schedule's ``timeout_now`` starts elections; otherwise the default timing
and network. The probe only calls ``hunt_x()`` (student code) and returns its data; the judge, in the trusted
parent, validates it and runs the simulator itself twice: the suspect must break a safety property, raftedu's
reference node must not. A sentence naming the broken rule (a written answer in the notebook) is graded by hand.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ..checks import SafetyViolation
from ..raft import CANDIDATE, AppendEntries, RaftNode, RequestVoteReply
from ..scenarios import SCRIPTED
from ..sim import Cluster, Network
from .core import Check, Failed, call_student
from .observe import plain, unplain

__all__ = ["SUSPECTS", "LIMITS", "HUNT_ACTIONS", "bug_hunt_checks", "run_hunt", "try_hunt"]

LIMITS: dict[str, Any] = {"n": (3, 7), "run": 20_000, "items": 200}
"""Cluster sizes allowed, the longest run (virtual ms) and the most schedule items."""
HUNT_ACTIONS = ("crash", "restart", "restart_all", "crash_leader", "timeout_now", "isolate", "partition", "cut", "heal",
                "drop_next", "delay_next", "request", "set_network")
"""The schedule actions a hunt may use: Figure 2's faults and requests (etcd's operations and snapshots are off); a
hunt's shrunk story (``shrink``: a slow spell becomes one ``delay_next``) can be pasted back as a hunt."""


class SuspectA(RaftNode):
    """Suspect A (a RequestVote receiver)."""

    def log_is_up_to_date(self, last_log_index: int, last_log_term: int) -> bool:
        return True


class SuspectB(RaftNode):
    """Suspect B (a candidate counting votes)."""

    def handle_request_vote_reply(self, m: RequestVoteReply) -> None:
        if self.role != CANDIDATE or not m.vote_granted:
            return
        self.votes.add(m.src)
        if self.has_quorum(self.votes):
            self.become_leader()


class SuspectC(RaftNode):
    """Suspect C (what a server keeps on its disk)."""

    def sync(self) -> None:
        if self.unsaved():
            self.persist()
            self.disk.voted_for = None


class SuspectD(RaftNode):
    """Suspect D (an AppendEntries receiver)."""

    def handle_append_entries(self, m: AppendEntries) -> None:
        if m.term >= self.current_term and m.prev_log_index <= self.last_log_index:
            m = replace(m, prev_log_term=self.term_at(m.prev_log_index))
        super().handle_append_entries(m)


SUSPECTS: dict[str, type[RaftNode]] = {"a": SuspectA, "b": SuspectB, "c": SuspectC, "d": SuspectD}
"""The broken servers by letter; each differs from RaftNode in one rule."""


def _bad(why: str) -> Failed:
    return Failed(f"your hunt is not a schedule the grader can run: {why}")


def _settings(answer: Any) -> dict[str, Any]:
    """The answer checked: n, seed, scripted, run and schedule, each within :data:`LIMITS`."""
    if not isinstance(answer, dict):
        raise _bad(f"hunt must return a dict with n, seed, run and schedule; it returned {str(answer)[:80]}")
    unknown = sorted(set(answer) - {"n", "seed", "scripted", "run", "schedule"})
    if unknown:
        raise _bad(f"unknown key(s) {unknown}; allowed: n, seed, scripted, run, schedule")
    n, seed, run = answer.get("n"), answer.get("seed", 0), answer.get("run")
    low, high = LIMITS["n"]
    if type(n) is not int or not low <= n <= high:
        raise _bad(f"n must be a whole number from {low} to {high}; got {n!r}")
    if type(seed) is not int:
        raise _bad(f"seed must be a whole number; got {seed!r}")
    if type(run) is not int or not 0 < run <= LIMITS["run"]:
        raise _bad(f"run must be whole milliseconds from 1 to {LIMITS['run']}; got {run!r}")
    schedule = answer.get("schedule")
    if not isinstance(schedule, list) or len(schedule) > LIMITS["items"]:
        raise _bad(f"schedule must be a list of at most {LIMITS['items']} items (time_ms, action, *args)")
    items = []
    for item in schedule:
        if not isinstance(item, list) or len(item) < 2 or item[1] not in HUNT_ACTIONS:
            raise _bad(f"each schedule item is (time_ms, action, *args) with an action from {', '.join(HUNT_ACTIONS)}; "
                       f"got {str(item)[:80]}")
        if item[1] == "set_network" and len(item) == 3 and isinstance(item[2], dict) \
                and not (isinstance(item[2].get("duplicate_rate", 0), (int, float))
                         and item[2].get("duplicate_rate", 0) <= 0.5):
            raise _bad(f"duplicate_rate may be at most 0.5 in a hunt; got {item[2].get('duplicate_rate')!r}")
        items.append(tuple(item[:2]) + tuple(tuple(a) if isinstance(a, list) else a for a in item[2:]))
    return {"n": n, "seed": seed, "scripted": answer.get("scripted") is True, "run": run, "schedule": items}


def _cluster(node_class: type[RaftNode], settings: Mapping[str, Any]) -> tuple[Cluster, str | None]:
    """Run a hunt's schedule with ``node_class``: the cluster, and its first safety violation or None."""
    extra: dict[str, Any] = {"timing": SCRIPTED, "network": Network(delay=(1, 1))} if settings["scripted"] else {}
    try:
        c = Cluster(settings["n"], seed=settings["seed"], node_class=node_class, schedule=settings["schedule"], **extra)
    except ValueError as e:
        raise _bad(str(e)) from None
    try:
        c.run(settings["run"])
    except SafetyViolation as e:
        return c, f"{e.property} at t={e.time} ms: {e.detail}"
    except ValueError as e:
        raise _bad(str(e)) from None
    return c, None


def run_hunt(node_class: type[RaftNode], settings: Mapping[str, Any]) -> str | None:
    """Run a hunt's schedule with ``node_class``: the first safety violation (property: detail), or None."""
    return _cluster(node_class, settings)[1]


def try_hunt(suspect: str, answer: Any) -> Cluster:
    """Run ``answer`` (a hunt's dict) against suspect ``suspect`` and the reference, print what each did, and return
    the suspect's cluster (stopped at its violation, if any) to look at: ``raftedu.viz.animate(cluster.trace)``."""
    if suspect not in SUSPECTS:
        raise ValueError(f"unknown suspect {suspect!r}; the suspects are {', '.join(SUSPECTS)}")
    try:
        settings = _settings(unplain(plain(answer)))
        c, caught = _cluster(SUSPECTS[suspect], settings)
        wrong = run_hunt(RaftNode, settings)
    except Failed as e:
        print(e.hint)
        raise ValueError(e.hint) from None
    print(f"suspect {suspect.upper()}: " + (f"caught: {caught}" if caught else "kept every safety property"))
    print("reference: " + (f"broke {wrong}" if wrong else "kept every safety property"))
    return c


def _probe(funcs: Mapping[str, Any], case: Mapping[str, Any]) -> Any:
    return call_student(funcs, f"hunt_{case['suspect']}")


def _judge(case: Mapping[str, Any], observed: Any) -> None:
    x = case["suspect"]
    settings = _settings(unplain(observed))
    caught = run_hunt(SUSPECTS[x], settings)
    if caught is None:
        raise Failed(f"suspect {x.upper()} ran your schedule for {settings['run']} ms without breaking any safety "
                     "property: which rule does it break, and which faults would make that matter?")
    wrong = run_hunt(RaftNode, settings)
    if wrong is not None:  # pragma: no cover - the reference keeps every property
        raise Failed(f"the reference node also broke {wrong}: the schedule shows no bug of suspect {x.upper()}")


def _suspect_case(x: str) -> Callable[[random.Random], list[dict[str, str]]]:
    """The cases of suspect ``x``'s check: just the suspect (the student's schedule is the answer)."""
    return lambda rng: [{"suspect": x}]


def bug_hunt_checks() -> tuple[Check, ...]:
    """Per suspect: the schedule (3 points, automatic) and the sentence naming the broken rule (1 point, by hand)."""
    checks: list[Check] = []
    for x in SUSPECTS:
        checks.append(Check(f"catches_{x}", 3, True, (f"hunt_{x}",),
                            f"your schedule makes suspect {x.upper()} break a safety property, the reference none",
                            cases=_suspect_case(x), probe=_probe, judge=_judge,
                            label=lambda case: f"hunt_{case['suspect']}()"))
        checks.append(Check(f"names_rule_{x}", 1, True, (), f"written answer: one sentence naming the rule suspect "
                            f"{x.upper()} breaks (graded by hand)", manual=True))
    return tuple(checks)
