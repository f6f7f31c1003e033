"""A failing safety check offers the shortest run found that breaks the student's server, as one line to paste.

DESIGN.md principle 11, counterexamples not seeds. A scenario run records
what was done to its cluster (:class:`raftedu.explore.Recorder`): when the
always-on monitor stops it, that run *is* a schedule, and shrinking a run
known to fail (:func:`raftedu.explore.shrink`) costs a few dozen short runs,
far less than a search. :func:`offer_counterexample` shrinks it with the
student's own functions, guarded like any probe (time limit, output caught,
reference rules switched off; in the grader through the sandboxed worker),
within :data:`KERNEL_RUNS` runs in a student's ``check()`` and
:data:`GRADER_RUNS` in the grader, for one check per report or submission,
and adds to that check's hint a line such as::

    import raftedu.explore; raftedu.explore.replay(raftedu.grading.my_node("02"), n=3, schedule=[...]).explain()

Hidden cases stay hidden: :func:`~raftedu.grading.core.judge_check` keeps a
run only for a public check, so a hidden case's schedule (its crashes,
partitions, seed) never reaches a result, let alone a line. Budgets are
counted in runs, not seconds, so the same submission gets the same line on
any machine; a shrink stopped by its budget still breaks the property (every
schedule it kept did when it ran), the line just says it may not be the
shortest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from .core import Check, CheckResult, observe_check
from .exercises import Exercise

__all__ = ["GRADER_RUNS", "KERNEL_RUNS", "offer_counterexample", "shrink_probe"]

KERNEL_RUNS = 200
"""Runs a student's ``check()`` may spend shrinking one failing run (a scripted scenario's: about 0.5 s)."""
GRADER_RUNS = 120
"""Runs the grader may spend per submission (each run calls the sandboxed worker for every node step: a scripted
scenario's run is about 35 calls)."""


def shrink_probe(build: Callable[[Mapping[str, Any]], type], max_runs: int, funcs: Mapping[str, Any],
                 case: Mapping[str, Any]) -> dict[str, Any] | None:
    """Replay ``case`` (a recorded run: :func:`raftedu.explore.replay`'s arguments) with the node class ``build``
    makes of ``funcs`` and shrink it: the shortest schedule kept, as plain data (None: it broke nothing on replay;
    runs student code)."""
    from ..explore import replay, shrink

    try:
        found = replay(build(funcs), **case)
    except ValueError:  # the replay differs from the check's run (it broke nothing): no line rather than a wrong one
        return None
    shrunk = shrink(found, max_runs=max_runs)
    return {"schedule": [list(item) for item in shrunk.schedule], "property": shrunk.property,
            "until": shrunk.until, "minimal": bool(shrunk.stats and shrunk.stats.minimal)}


def _line(ex: Exercise, case: Mapping[str, Any], shrunk: Mapping[str, Any]) -> str:
    from ..explore import replay_line

    line = replay_line(f"raftedu.grading.my_node({ex.id!r})", case["n"], shrunk["schedule"], case["features"],
                       case["seed"], timing=case["timing"], network=case["network"], until=shrunk["until"],
                       up_to_date_check=case["up_to_date_check"])
    size = len(shrunk["schedule"])
    how = ("shrunk until removing any one item loses it" if shrunk["minimal"]
           else "shrunk as far as the budget allowed")
    return (f"the shortest run found that breaks {shrunk['property']} ({size} schedule item{'s' * (size != 1)}, "
            f"{how}); paste this line in your notebook to watch it:\n{line}")


def offer_counterexample(ex: Exercise, results: list[CheckResult], funcs: Mapping[str, Any], *, max_runs: int,
                         time_limit: float, sandboxed: bool = False) -> CheckResult | None:
    """Shrink the run of the first public check in ``results`` that broke a safety property and add the line that
    replays it to that check's hint; returns that result (None: no such check, or the shrink gave no line).

    ``funcs`` are the student's functions (in the grader: stand-ins for the sandboxed worker's,
    ``sandboxed=True``); the shrink runs as a probe (:func:`~raftedu.grading.core.observe_check`) within
    ``time_limit`` seconds and ``max_runs`` runs. Whatever goes wrong in it costs nothing: the hint stays as it was.
    """
    failing = next((r for r in results if r.public and r.unsafe and r.replay), None)
    if failing is None:
        return None
    case = failing.replay
    if case is None:
        return None
    probe = Check(f"{failing.name} (shrinking its run)", 0, True, (), "the failing run, shrunk", cases=lambda rng: [],
                  probe=partial(shrink_probe, ex.build, max_runs), label=lambda case: "its failing run, shrunk")
    records, _ = observe_check(probe, funcs, [case], time_limit, locked=ex.reference_rules, sandboxed=sandboxed)
    shrunk = records[0].get("obs") if records else None
    if not isinstance(shrunk, dict):
        return None
    failing.hint = f"{failing.hint}\n{_line(ex, case, shrunk)}"
    return failing
