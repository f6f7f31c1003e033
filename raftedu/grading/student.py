"""What a student calls from a notebook: :func:`check` (public checks, a table), :func:`replay` (rerun a failure) and
:func:`my_node` (the node class the checks run, for the line a failing safety check offers).

Here both halves of a check run in the student's own kernel: the probe on
the student's functions, then the judge. The instructor's grader runs the
same probes in a worker process and the judges in its own process
(:mod:`raftedu.grading.runner`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

from ..sim import Cluster
from .core import Failed, Report, instructor_secret, run_check, student_functions, timers_available, unsafe_rule
from .counterexamples import KERNEL_RUNS, offer_counterexample
from .exercises import get_exercise
from .observe import scan_for_copies
from .scenarios import SCENARIOS, drive_scenario, judge_scenario, probe_scenario

__all__ = ["IN_GRADER", "RETRY_LIMIT", "check", "my_node", "replay", "run_checks"]

RETRY_LIMIT = 2.0
"""Seconds a check gets when a function it calls already ran out of time in an earlier check."""

IN_GRADER = False
"""True inside the grader's worker: a ``check(...)`` cell left in a notebook then does nothing (the grader checks)."""


def _caller_namespace(namespace: Mapping[str, Any] | None, depth: int = 2) -> Mapping[str, Any]:
    """The namespace to find student functions in: the one given, else the caller's globals (a notebook's)."""
    if namespace is not None:
        if not isinstance(namespace, Mapping):
            raise TypeError(f"namespace must be a dict of names (e.g. globals()); got {type(namespace).__name__}")
        return namespace
    return sys._getframe(depth).f_globals


def run_checks(exercise: str | int, namespace: Mapping[str, Any], *, hidden: bool = False,
               only: Iterable[str] | str | None = None, time_limit: float = 20.0,
               secret: str | None = None) -> Report:
    """Run the exercise's public checks (and hidden ones if ``hidden``) on the functions in ``namespace``.

    ``only`` names the checks to run (one name or several; default all).
    Hidden cases come from ``secret``, else the ``RAFTEDU_GRADING_SECRET``
    (or ``RAFTEDU_GRADING_SECRET_FILE``) environment variable; without one
    they are public practice cases and the report says so. The first public
    check whose run broke a safety property gets, under its hint, the line
    that replays that run shrunk (:mod:`~raftedu.grading.counterexamples`).
    """
    ex = get_exercise(exercise)
    key = instructor_secret(secret)
    chosen = ex.selected(hidden, only)
    report = Report(ex.id, hidden=hidden, practice=key is None and any(not c.public for c in chosen),
                    untimed=time_limit > 0 and not timers_available())
    looped: set[str] = set()  # functions that already ran out of time once
    scan_for_copies(ex.reference_rules)
    for c in chosen:
        limit = min(time_limit, RETRY_LIMIT) if looped.intersection(c.needs) else time_limit
        result = run_check(c, namespace, time_limit=limit, secret=key, functions=ex.functions,
                           locked=ex.reference_rules)
        if result.status == "timeout":
            looped.update(c.needs)
        report.results.append(result)
    offer_counterexample(ex, report.results, student_functions(namespace, ex.functions), max_runs=KERNEL_RUNS,
                         time_limit=time_limit)
    rule = unsafe_rule(report.results)
    if rule:
        report.results[0].note = "; ".join(n for n in (report.results[0].note, rule) if n)
    return report


def check(exercise: str | int, only: Iterable[str] | str | None = None, *, namespace: Mapping[str, Any] | None = None,
          hidden: bool = False, quiet: bool = False) -> Report:
    """Run an exercise's public checks on the functions defined in your notebook and print a table.

    ``check("02")`` finds ``log_is_up_to_date``, ``handle_request_vote`` ...
    among the caller's global names (pass ``namespace=`` to look elsewhere);
    ``check("02", "vote_counting")`` runs one check. Each row names the
    check, its points and the result; a failing row has a hint with the
    scenario and seed, and how to replay it. Nothing is written to stderr:
    what your code writes there is caught and shown as a note. Passing every
    public check is not full marks: the grader also runs hidden checks.
    """
    ns = _caller_namespace(namespace)
    if IN_GRADER:
        report = Report(get_exercise(exercise).id, hidden=hidden)
        if not quiet:
            print("(the grader runs the checks itself)")
        return report
    report = run_checks(exercise, ns, hidden=hidden, only=only)
    if not quiet:
        print(report.table(), file=sys.stdout)
    return report


def my_node(exercise: str | int, *, namespace: Mapping[str, Any] | None = None) -> type:
    """The node class the checks of ``exercise`` run: the reference node with your functions in it (or, for exercise
    06, your server class), from the caller's global names (pass ``namespace=`` to look elsewhere). The line a
    failing safety check offers, ``raftedu.explore.replay(raftedu.grading.my_node("02"), ...)``, uses it (a subclass
    whose ``replay_code`` is that code, so the lines a counterexample prints name it so too)."""
    ex = get_exercise(exercise)
    cls = ex.build(student_functions(_caller_namespace(namespace), ex.functions))
    return type(cls.__name__, (cls,), {"replay_code": f"raftedu.grading.my_node({ex.id!r})",
                                       "__module__": cls.__module__})


def replay(exercise: str | int, scenario: str, seed: int = 0, *, namespace: Mapping[str, Any] | None = None) -> Cluster:
    """Rerun scenario ``scenario`` with ``seed`` using your functions for ``exercise``; return the cluster.

    The run stops where it went wrong (a safety violation or a failed
    expectation is printed, not raised), so ``c.trace.to_frame()`` or the
    explorer shows exactly what happened up to that moment.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of: {', '.join(SCENARIOS)}")
    ex = get_exercise(exercise)
    ns = _caller_namespace(namespace)
    funcs = student_functions(ns, ex.functions)
    run, stopped = drive_scenario(scenario, ex.build(funcs), seed, raise_failures=False)
    case = {"scenario": scenario, "seed": seed}
    if stopped.startswith("Node failure"):
        print(f"scenario {scenario}, seed {seed} stopped: {stopped}")
    else:
        try:
            judge_scenario(case, probe_scenario(funcs, case, ex.build), ex.id)
            print(f"scenario {scenario}, seed {seed}: ran to the end without a problem")
        except Failed as e:  # the check's hint, without its own heading and the replay line just run
            said = e.hint.removeprefix(f"scenario {scenario}, seed {seed}: ")
            print(f"scenario {scenario}, seed {seed} stopped: {said.rpartition(chr(10) + 'replay')[0] or said}")
    if run.cluster is None:
        raise RuntimeError(f"scenario {scenario} built no cluster")
    return run.cluster
