"""What a student calls from a notebook: :func:`check` (public checks, a table) and :func:`replay` (rerun a failure)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from ..sim import Cluster
from .core import Report, run_check
from .exercises import get_exercise
from .scenarios import SCENARIOS, Run, node_class

__all__ = ["RETRY_LIMIT", "check", "kernel_report", "replay", "run_checks"]

RETRY_LIMIT = 2.0
"""Seconds a check gets when a function it calls already ran out of time in an earlier check."""


def _caller_namespace(namespace: Mapping[str, Any] | None, depth: int = 2) -> Mapping[str, Any]:
    """The namespace to find student functions in: the one given, else the caller's globals (a notebook's)."""
    if namespace is not None:
        if not isinstance(namespace, Mapping):
            raise TypeError(f"namespace must be a dict of names (e.g. globals()); got {type(namespace).__name__}")
        return namespace
    return sys._getframe(depth).f_globals


def run_checks(exercise: str | int, namespace: Mapping[str, Any], *, hidden: bool = False,
               time_limit: float = 20.0) -> Report:
    """Run the exercise's public checks (and hidden ones if ``hidden``) on the functions in ``namespace``."""
    ex = get_exercise(exercise)
    report = Report(ex.id, hidden=hidden)
    looped: set[str] = set()  # functions that already ran out of time once
    for c in ex.selected(hidden):
        limit = min(time_limit, RETRY_LIMIT) if looped.intersection(c.needs) else time_limit
        result = run_check(c, namespace, time_limit=limit)
        if result.status == "timeout":
            looped.update(c.needs)
        report.results.append(result)
    return report


def check(exercise: str | int, *, namespace: Mapping[str, Any] | None = None, hidden: bool = False,
          quiet: bool = False) -> Report:
    """Run an exercise's public checks on the functions defined in your notebook and print a table.

    ``check("02")`` finds ``log_is_up_to_date``, ``handle_request_vote`` ...
    among the caller's global names (pass ``namespace=`` to look elsewhere).
    Each row names the check, its points and the result; a failing row has
    a hint with the scenario and seed, and how to replay it. Nothing is
    written to stderr. Passing every public check is not full marks: the
    grader also runs hidden checks (more seeds and scenarios).
    """
    ns = _caller_namespace(namespace)
    report = run_checks(exercise, ns, hidden=hidden)
    if not quiet:
        print(report.table(), file=sys.stdout)
    return report


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
    funcs = {name: ns[name] for name in ex.functions if callable(ns.get(name))}
    run = Run(node_class(funcs), seed)
    try:
        SCENARIOS[scenario](run)
        print(f"scenario {scenario}, seed {seed}: ran to the end without a problem")
    except AssertionError as e:  # SafetyViolation and Failed are both AssertionErrors
        print(f"scenario {scenario}, seed {seed} stopped: {e}")
    if run.cluster is None:
        raise RuntimeError(f"scenario {scenario} built no cluster")
    return run.cluster


def kernel_report(exercise: str, marker: str, time_limit: float = 20.0) -> None:
    """Run every check (public and hidden) on the caller's globals and print them as JSON after ``marker``.

    The grader appends a call to this as the last cell of a submission it
    executes; it reads the line that starts with its one-time ``marker``.
    """
    import json

    ns = _caller_namespace(None)
    report = run_checks(exercise, ns, hidden=True, time_limit=time_limit)
    print(marker + json.dumps([r.to_dict() for r in report.results]), file=sys.stdout, flush=True)
