"""Checks and how they run: one check = a name, points, public or hidden, and a function that judges behaviour.

A check receives the student's functions (by name) and raises :class:`Failed`
(or lets a :class:`~raftedu.checks.SafetyViolation` escape) when the behaviour
is wrong. :func:`run_check` runs one check in a guarded way: a time limit
(``SIGALRM``, main thread only), stdout and stderr captured (a check that
makes student code write to stderr scores zero, as nbgrader would), and every
way student code can misbehave turned into a :class:`CheckResult` status
instead of an exception.
"""

from __future__ import annotations

import io
import os
import signal
import threading
import traceback
from collections.abc import Callable, Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import asdict, dataclass, field
from typing import Any

from ..checks import SafetyViolation

__all__ = [
    "STATUSES",
    "Check",
    "CheckResult",
    "CheckTimeout",
    "Failed",
    "Report",
    "run_check",
]

STATUSES = {
    "pass": "passed",
    "fail": "wrong behaviour",
    "not_implemented": "still raises NotImplementedError",
    "missing": "the function is not defined",
    "error": "the code raised an exception",
    "timeout": "ran out of time (an endless loop?)",
    "memory": "ran out of memory",
    "stderr": "wrote to stderr",
    "manual": "graded by hand",
}
"""Every status a check result can have, with the sentence feedback uses for it."""

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Failed(AssertionError):
    """A check saw wrong behaviour; ``hint`` says what, and how to replay it."""

    def __init__(self, hint: str) -> None:
        """Fail with a message for the student."""
        super().__init__(hint)
        self.hint = hint


class CheckTimeout(BaseException):
    """Raised inside student code when a check runs out of time (a BaseException: ``except Exception`` cannot eat it)."""


@dataclass(frozen=True)
class Check:
    """One graded check of an exercise.

    ``needs`` names the student functions the check calls; ``run`` receives
    them as a dict and raises :class:`Failed` or
    :class:`~raftedu.checks.SafetyViolation` on wrong behaviour. A check with
    ``manual=True`` has no ``run``: an instructor grades it by hand.
    """

    name: str
    points: float
    public: bool
    needs: tuple[str, ...]
    description: str
    run: Callable[[Mapping[str, Callable[..., Any]]], None] | None = None
    manual: bool = False


@dataclass
class CheckResult:
    """What one check gave for one submission."""

    name: str
    points: float
    max_points: float
    status: str
    public: bool
    description: str = ""
    hint: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether the check passed (a manual check never counts as passed here)."""
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return asdict(self)


@dataclass
class Report:
    """The results of running an exercise's checks on one set of student functions."""

    exercise: str
    results: list[CheckResult] = field(default_factory=list)
    hidden: bool = False

    @property
    def score(self) -> float:
        """Points earned by the automatic checks."""
        return sum(r.points for r in self.results if r.status != "manual")

    @property
    def max_score(self) -> float:
        """Points available from the automatic checks."""
        return sum(r.max_points for r in self.results if r.status != "manual")

    @property
    def passed(self) -> bool:
        """Whether every automatic check passed."""
        return all(r.passed for r in self.results if r.status != "manual")

    def require(self) -> None:
        """Raise ``AssertionError`` unless every automatic check passed (for nbgrader test cells)."""
        failing = [r.name for r in self.results if r.status not in ("pass", "manual")]
        if failing:
            raise AssertionError(f"exercise {self.exercise}: {len(failing)} check(s) failed: {', '.join(failing)}")

    def table(self) -> str:
        """The results as a small plain-text table with hints under failing rows."""
        width = max([len(r.name) for r in self.results] + [5])
        kind = "public and hidden" if self.hidden else "public"
        lines = [f"raftedu exercise {self.exercise}: {kind} checks", f"{'check':<{width}}  points  result"]
        for r in self.results:
            manual = r.status == "manual"
            pts = f"-/{_num(r.max_points)}" if manual else f"{_num(r.points)}/{_num(r.max_points)}"
            result = "pass" if r.passed else STATUSES["manual"] if manual else "FAIL: " + STATUSES[r.status]
            lines.append(f"{r.name:<{width}}  {pts:>6}  {result}")
            if r.hint and not r.passed and not manual:
                lines.extend("    " + line for line in r.hint.splitlines())
        lines.append(f"score: {_num(self.score)}/{_num(self.max_score)}")
        if self.passed:
            lines.append("public checks passed — the grader runs more" if not self.hidden
                         else "checks passed")
        else:
            lines.append("some checks failed: read the hint under the first failing row, fix, and run again")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<raftedu check report {self.exercise}: {_num(self.score)}/{_num(self.max_score)} points>"


def _num(x: float) -> str:
    return f"{x:g}"


def _student_line(exc: BaseException) -> str:
    """Where in the student's code (outside the raftedu package) an exception came from."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_PACKAGE_DIR)]
    if not frames:
        return ""
    f = frames[-1]
    where = "a notebook cell" if f.filename.startswith("<") or "ipykernel" in f.filename else os.path.basename(f.filename)
    return f" (in {f.name}, line {f.lineno} of {where})"


class _Alarm:
    """A per-check time limit that keeps firing until the check gives up (main thread only)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.active = seconds > 0 and threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")

    def __enter__(self) -> "_Alarm":
        if self.active:
            def fire(signum: int, frame: Any) -> None:
                raise CheckTimeout()

            self.old = signal.signal(signal.SIGALRM, fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds, 0.25)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)


def run_check(check: Check, namespace: Mapping[str, Any], time_limit: float = 20.0) -> CheckResult:
    """Run ``check`` on the functions found in ``namespace``; never raises for anything student code does."""
    import time

    result = CheckResult(check.name, 0.0, check.points, "fail", check.public, check.description)
    if check.manual or check.run is None:
        result.status, result.hint = "manual", "an instructor grades this answer by hand"
        return result
    funcs = {}
    for name in check.needs:
        fn = namespace.get(name)
        if not callable(fn):
            result.status = "missing"
            result.hint = (f"define a function named {name}(...) in the notebook (found "
                           f"{'nothing' if fn is None else type(fn).__name__} under that name)")
            return result
        funcs[name] = fn
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    try:
        with _Alarm(time_limit), redirect_stdout(out), redirect_stderr(err):
            check.run(funcs)
        result.status = "pass"
    except CheckTimeout:
        result.status = "timeout"
        result.hint = f"the check did not finish within {time_limit:g} s: look for a loop that never ends"
    except SafetyViolation as e:
        result.hint = f"safety property broken: {e.property} at t={e.time} ms (seed {e.seed}): {e.detail}"
    except Failed as e:
        result.hint = e.hint
    except NotImplementedError:
        result.status = "not_implemented"
        result.hint = "replace `raise NotImplementedError()` with your code"
    except MemoryError:
        result.status = "memory"
        result.hint = "your code used up the memory limit: look for a list that grows without end"
    except RecursionError as e:
        result.status = "error"
        result.hint = f"RecursionError{_student_line(e)}: a function calls itself without end"
    except Exception as e:  # student code may raise anything: report it, never crash the grader
        result.status = "error"
        result.hint = f"your code raised {type(e).__name__}: {e}{_student_line(e)}"
    finally:
        result.seconds = round(time.perf_counter() - start, 3)
    if err.getvalue() and result.status in ("pass", "fail"):
        result.status = "stderr"
        text = err.getvalue().strip().splitlines()
        result.hint = (f"your code wrote to stderr ({text[0][:120] if text else ''!r}); "
                       "graders score such checks 0 — remove prints to sys.stderr and warnings")
    if result.status == "pass":
        result.points = check.points
    return result
