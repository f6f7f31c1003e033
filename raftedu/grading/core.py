"""Checks and how they run: a probe that observes student code, and a judge that decides without running it.

A :class:`Check` lists its cases (hidden ones drawn from the instructor's
secret), *probes* student code on each case -- in the grader this happens
only in the worker process -- and *judges* the raw observations, which in
the grader happens only in the parent (DESIGN.md principle 10). For a
student's own ``check()`` both halves run in the notebook.
:func:`observe_check` is the guarded probe: a time limit (``SIGALRM``, main
thread only), everything written to stdout/stderr caught (stderr becomes a
note, never a lost point), raftedu's own reference rules switched off, and
every way student code can misbehave turned into a record with a status.
:func:`judge_check` turns records into a :class:`CheckResult`.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import asdict, dataclass, field
from typing import Any

from ..checks import NodeFailure, SafetyViolation

__all__ = [
    "PRACTICE_SECRET",
    "SECRET_ENV",
    "SECRET_FILE_ENV",
    "STATUSES",
    "Check",
    "CheckResult",
    "CheckTimeout",
    "Failed",
    "Quiet",
    "Report",
    "UNSAFE_SHARE",
    "Unsafe",
    "broken_property",
    "accepts_keyword",
    "call_student",
    "classify",
    "describe_functions",
    "student_functions",
    "hidden_rng",
    "instructor_secret",
    "judge_check",
    "observe_check",
    "precheck",
    "run_check",
    "stderr_note",
    "unsafe_rule",
]

STATUSES = {
    "pass": "passed",
    "fail": "wrong behaviour",
    "not_implemented": "still raises NotImplementedError",
    "missing": "the function is not defined",
    "copied": "raftedu's own reference code handed in (or called) as the answer",
    "error": "the code raised an exception",
    "timeout": "ran out of time (an endless loop?)",
    "memory": "ran out of memory",
    "manual": "graded by hand",
}
"""Every status a check result can have, with the sentence feedback uses for it."""

SECRET_ENV = "RAFTEDU_GRADING_SECRET"
"""Environment variable holding the instructor's secret (hidden cases and seeds derive from it)."""
SECRET_FILE_ENV = "RAFTEDU_GRADING_SECRET_FILE"
"""Environment variable naming a file whose first line is the instructor's secret."""
PRACTICE_SECRET = "raftedu practice cases"
"""Used when no secret is set: the hidden checks then run public practice cases (fine to learn, not to grade)."""

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_GRADING_DIR = os.path.dirname(os.path.abspath(__file__))


def instructor_secret(secret: str | None = None, secret_file: str | os.PathLike[str] | None = None) -> str | None:
    """The secret to derive hidden cases from: ``secret``, else ``secret_file``, else the environment, else None."""
    if secret is not None:
        text = str(secret)
    else:
        path = secret_file if secret_file is not None else os.environ.get(SECRET_FILE_ENV)
        if path:
            try:
                text = open(path, encoding="utf-8").read().strip().splitlines()[0] if os.path.getsize(path) else ""
            except OSError as e:
                raise ValueError(f"cannot read the grading secret file {path}: {e.strerror}") from None
        else:
            text = os.environ.get(SECRET_ENV, "")
    text = text.strip()
    if secret is not None or secret_file is not None or text:
        if len(text) < 8:
            raise ValueError("the grading secret must be at least 8 characters (e.g. `openssl rand -hex 16`)")
        return text
    return None


def hidden_rng(secret: str | None, name: str) -> random.Random:
    """The random source of check ``name``'s cases: a function of the secret and the name only."""
    digest = hashlib.sha256(f"{secret or PRACTICE_SECRET}\0{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class Failed(AssertionError):
    """A check saw wrong behaviour; ``hint`` says what, and how to replay it."""

    def __init__(self, hint: str) -> None:
        """Fail with a message for the student."""
        super().__init__(hint)
        self.hint = hint

    def again(self, hint: str) -> "Failed":
        """The same failure with another hint (a judge adding the scenario and the replay line)."""
        return Failed(hint)


class Unsafe(Failed):
    """A check saw the student's server break a safety property (``prop``, as :class:`~raftedu.checks.SafetyViolation`
    names it): besides this check, the submission keeps at most half its points (:func:`unsafe_rule`)."""

    def __init__(self, hint: str, prop: str, replay: dict[str, Any] | None = None) -> None:
        """Fail with a message for the student, naming the property broken; ``replay`` is the run that broke it as
        plain data (:meth:`raftedu.explore.Recorder.replay_args`), when it can be replayed."""
        super().__init__(hint)
        self.property = prop
        self.replay = replay

    def again(self, hint: str) -> "Failed":
        """The same failure with another hint (a judge adding the scenario and the replay line)."""
        return Unsafe(hint, self.property, self.replay)


def broken_property(hint: str, prop: str, replay: dict[str, Any] | None = None) -> Failed:
    """The failure for a run that stopped at a :class:`~raftedu.checks.SafetyViolation` of ``prop``: :class:`Unsafe`,
    except for ``Node failure`` (the node raised an exception: wrong, not unsafe). ``replay``: see :class:`Unsafe`."""
    return Failed(hint) if prop == "Node failure" else Unsafe(hint, prop, replay)


UNSAFE_SHARE = 0.5
"""The share of its points a check keeps when the submission broke a safety property in any check."""


class CheckTimeout(BaseException):
    """Raised inside student code when a check runs out of time (a BaseException: ``except Exception`` cannot eat it)."""


@dataclass(frozen=True)
class Check:
    """One graded check of an exercise, in two halves that never meet in one process when grading.

    ``cases(rng)`` lists the check's cases as plain data (a public check
    ignores ``rng``; a hidden one draws its cases from it, and ``rng`` comes
    from the instructor's secret). ``probe(funcs, case)`` runs the student's
    functions (given by name in ``funcs``) on one case and returns raw
    observations as plain data (:func:`~raftedu.grading.observe.plain`).
    ``judge(case, observation)`` raises :class:`Failed` when the observation
    shows wrong behaviour; it never calls student code. ``label(case)``
    names a case in a timeout message. A check with ``manual=True`` has no
    probe: an instructor grades it by hand.
    """

    name: str
    points: float
    public: bool
    needs: tuple[str, ...]
    description: str
    cases: Callable[[random.Random], list[Any]] | None = None
    probe: Callable[[Mapping[str, Callable[..., Any]], Any], Any] | None = None
    judge: Callable[[Any, Any], None] | None = None
    label: Callable[[Any], str] | None = None
    manual: bool = False

    def plan(self, secret: str | None = None) -> list[Any]:
        """This check's cases (for a hidden check: derived from ``secret``)."""
        if self.manual or self.cases is None:
            return []
        return self.cases(hidden_rng(secret, self.name))

    def describe(self, case: Any) -> str:
        """A case in a few words, for a timeout message."""
        try:
            return self.label(case) if self.label is not None else _short(case)
        except Exception:
            return _short(case)


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
    note: str = ""
    """Something worth knowing that costs no points (e.g. the code wrote to stderr)."""
    unsafe: str = ""
    """The safety property this check saw broken (the check failed with :class:`Unsafe`), else ""."""
    replay: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    """A public check's run that broke :attr:`unsafe`, as :func:`raftedu.explore.replay`'s arguments (to shrink it:
    :mod:`raftedu.grading.counterexamples`); never kept in :meth:`to_dict`. A hidden check never has one."""

    @property
    def passed(self) -> bool:
        """Whether the check passed (a manual check never counts as passed here)."""
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready), without :attr:`replay`."""
        data = asdict(self)
        del data["replay"]
        return data


@dataclass
class Report:
    """The results of running an exercise's checks on one set of student functions."""

    exercise: str
    results: list[CheckResult] = field(default_factory=list)
    hidden: bool = False
    practice: bool = False
    """Hidden checks ran the public practice cases (no instructor secret was set)."""
    untimed: bool = False
    """The checks ran without a time limit (no OS timer here, e.g. in JupyterLite's browser Python)."""

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
        failing = [r for r in self.results if r.status not in ("pass", "manual")]
        if failing:
            first = failing[0]
            raise AssertionError(f"exercise {self.exercise}: {len(failing)} check(s) failed: "
                                 f"{', '.join(r.name for r in failing)}\n{first.name}: {first.hint}")

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
            if r.note:
                lines.append("    note (no points lost): " + r.note)
        lines.append(f"score: {_num(self.score)}/{_num(self.max_score)}")
        if self.practice:
            lines.append("hidden checks ran practice cases: no instructor secret is set")
        if self.untimed:
            lines.append("no time limit here (this Python has no OS timer, as in the browser): a check whose code "
                         "loops forever hangs this notebook; interrupt or restart the kernel")
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


def _short(case: Any) -> str:
    text = repr(case)
    return text if len(text) <= 100 else text[:97] + "..."


def _student_line(exc: BaseException) -> str:
    """Where in the student's code (outside the raftedu package) an exception came from."""
    every = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in every if not f.filename.startswith(_PACKAGE_DIR)]
    if not frames:  # raised by raftedu's own node code: say which method met the state the student's code left
        if not every or every[-1].filename.startswith(_GRADING_DIR):  # the grader's (a worker's report): said there
            return ""
        named = [f.name for f in every if not f.name.startswith("<")]  # not a <listcomp> or <genexpr>
        return f" (raised in raftedu's {named[-1]}, from the state the node was left in)" if named else ""
    f = frames[-1]
    where = "a notebook cell" if f.filename.startswith("<") or "ipykernel" in f.filename else os.path.basename(f.filename)
    return f" (in {f.name}, line {f.lineno} of {where})"


def timers_available() -> bool:
    """Whether this Python can interrupt a check that runs too long (no OS timers in Pyodide / JupyterLite)."""
    return sys.platform != "emscripten" and hasattr(signal, "setitimer")


class _Alarm:
    """A time limit that keeps firing until the code gives up (main thread only; ``seconds <= 0``: none)."""

    def __init__(self, seconds: float, exc: type[BaseException] = CheckTimeout) -> None:
        self.seconds, self.exc = seconds, exc
        self.active = seconds > 0 and threading.current_thread() is threading.main_thread() and timers_available()

    def __enter__(self) -> "_Alarm":
        if self.active:
            exc = self.exc

            def fire(signum: int, frame: Any) -> None:
                raise exc()

            self.old = signal.signal(signal.SIGALRM, fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds, 0.25)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)


class Quiet:
    """Catch everything student code writes -- print, ``sys.stderr``, warnings, logging, tqdm, raw fd 1/2 -- while active.

    Afterwards ``stderr`` holds what went to stderr (reported in a note, never
    a lost point). Logging handlers that captured the real stderr before the
    check started are pointed at the capture too, so logging cannot slip past
    it (and, under nbgrader, cannot zero a test cell).
    """

    def __init__(self) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()
        self.stderr = ""

    def __enter__(self) -> "Quiet":
        import logging
        import tempfile

        self._redirects = [redirect_stdout(self.out), redirect_stderr(self.err)]
        streams = {id(sys.stderr), id(sys.__stderr__), id(sys.stdout), id(sys.__stdout__)}
        self._handlers = []
        loggers = [logging.getLogger()] + [v for v in logging.Logger.manager.loggerDict.values()
                                           if isinstance(v, logging.Logger)]
        for logger in loggers:
            for h in logger.handlers:
                if isinstance(h, logging.StreamHandler) and id(getattr(h, "stream", None)) in streams:
                    self._handlers.append((h, h.stream))
                    h.stream = self.err
        for r in self._redirects:
            r.__enter__()
        self._fds = []
        for fd in (1, 2):
            try:
                saved = os.dup(fd)
            except OSError:
                continue
            tmp = tempfile.TemporaryFile()
            os.dup2(tmp.fileno(), fd)
            self._fds.append((fd, saved, tmp))
        return self

    def __exit__(self, *exc: Any) -> None:
        for fd, saved, tmp in self._fds:
            try:
                sys.__stdout__.flush() if fd == 1 and sys.__stdout__ else None
            except (OSError, ValueError):
                pass
            os.dup2(saved, fd)
            os.close(saved)
            if fd == 2:
                tmp.seek(0)
                self.err.write(tmp.read(4096).decode(errors="replace"))
            tmp.close()
        for r in reversed(self._redirects):
            r.__exit__(None, None, None)
        for h, stream in self._handlers:
            h.stream = stream
        self.stderr = self.err.getvalue()


def stderr_note(text: str) -> str:
    """The note for output on stderr (it costs no points)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return f"your code wrote to stderr ({lines[0][:120]!r}{' ...' if len(lines) > 1 else ''}); it costs no points" \
        if lines else ""


def _root_cause(e: BaseException) -> BaseException:
    """A raftedu wrapper around an exception raised inside a node (e.g. NodeFailure) stands for its cause."""
    seen = 0
    while (type(e).__module__.startswith("raftedu") and e.__cause__ is not None and seen < 5
           and not isinstance(e, Failed) and (isinstance(e, NodeFailure) or not isinstance(e, SafetyViolation))):
        e, seen = e.__cause__, seen + 1
    return e


def _in_simulator(exc: BaseException) -> bool:
    """Whether memory ran out inside the simulator's own bookkeeping (the trace of a run that never ends)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(_PACKAGE_DIR) and \
        os.path.basename(frames[-1].filename) in ("sim.py", "trace.py", "checks.py", "raft.py")


def classify(exc: BaseException, where: str, limit: float) -> tuple[str, str]:
    """(status, hint) for an exception student code raised while a check ran ``where`` (function, case, seed)."""
    from .boundary import HostGone, ProtocolBroken

    if isinstance(exc, HostGone):
        if exc.status == "timeout":
            return "timeout", (f"the check did not finish within {limit:g} s: it was still running {where}; look for a "
                               "loop that never ends")
        return exc.status, f"{exc} while running {where}"
    if isinstance(exc, ProtocolBroken):
        return "error", f"the sandboxed worker broke the grading protocol while running {where}"
    e = _root_cause(exc)
    if isinstance(exc, CheckTimeout) or isinstance(e, CheckTimeout):
        return "timeout", f"the check did not finish within {limit:g} s: it was still running {where}; look for a loop that never ends"
    if isinstance(e, NotImplementedError):
        return "not_implemented", "replace `raise NotImplementedError()` with your code"
    if isinstance(e, RuntimeError) and str(e).startswith("raftedu: the reference "):
        return "copied", f"{e} (while running {where})"
    if isinstance(e, MemoryError):
        if _in_simulator(exc) or _in_simulator(e):
            return "timeout", (f"the simulation kept running until memory ran out in {where}: an endless loop that keeps "
                               "simulating (every event is kept in the trace) -- give each loop a bound, e.g. "
                               "c.run_until(..., within=...)")
        return "memory", f"your code used up the memory limit in {where}: look for a list that grows without end"
    if isinstance(e, RecursionError):
        return "error", f"RecursionError{_student_line(e)}: a function calls itself without end ({where})"
    return "error", f"your code raised {type(e).__name__}: {str(e)[:300]}{_student_line(e)} ({where})"


def observe_check(check: Check, funcs: Mapping[str, Callable[..., Any]], cases: list[Any],
                  time_limit: float = 20.0, locked: Iterable[str] | None = None,
                  sandboxed: bool = False) -> tuple[list[dict[str, Any]], str]:
    """Probe every case of ``check`` with the student's ``funcs``: (one record per case, what went to stderr).

    Each record is ``{"case": k, "obs": ...}`` or, once student code failed,
    ``{"case": k, "status": ..., "hint": ...}`` (and the remaining cases are
    skipped). In a student's kernel the functions are the notebook's own:
    the reference rules the check's functions replace are switched off
    meanwhile (:class:`~raftedu.grading.observe.ReferenceLock`), or those
    named in ``locked``, and what they print is caught. In the grader
    (``sandboxed``) ``funcs`` are stand-ins for the student's code in the
    sandboxed worker (:class:`~raftedu.grading.boundary.RemoteFunctions`):
    the probe runs here, the student's code there.
    """
    from contextlib import nullcontext

    from .observe import ReferenceLock, codes_of, student_frame_name

    probe = check.probe
    if probe is None:  # a check graded by hand observes nothing
        return [], ""
    records: list[dict[str, Any]] = []
    quiet = Quiet()
    k = 0
    try:
        with _Alarm(time_limit), (nullcontext() if sandboxed else quiet), \
                (nullcontext() if sandboxed else ReferenceLock(funcs if locked is None else locked, yours=funcs)):
            for k, case in enumerate(cases):
                records.append({"case": k, "obs": probe(funcs, case)})
    except BaseException as e:  # student code may raise anything: it becomes the record, never a crash
        if isinstance(e, (KeyboardInterrupt, SystemExit)) and not isinstance(e, CheckTimeout):
            e = RuntimeError(f"{type(e).__name__} raised inside the check")
        who = (None if sandboxed else student_frame_name(e.__traceback__, codes_of(dict(funcs)))) \
            or ", ".join(check.needs) or "your code"
        where = f"{who} on case {k + 1} of {len(cases)} ({check.describe(cases[k]) if k < len(cases) else '?'})"
        status, hint = classify(e, where, time_limit)
        records.append({"case": k, "status": status, "hint": hint})
    return records, quiet.stderr


def judge_check(check: Check, cases: list[Any], records: list[dict[str, Any]]) -> CheckResult:
    """The verdict on ``check`` from the records its probe produced; runs no student code."""
    result = CheckResult(check.name, 0.0, check.points, "fail", check.public, check.description)
    if check.manual or check.judge is None:
        result.status, result.hint = "manual", "an instructor grades this answer by hand"
        return result
    by_case: dict[int, dict[str, Any]] = {}
    for r in records:
        if isinstance(r, dict) and type(r.get("case")) is int:
            by_case.setdefault(r["case"], r)
    for k, case in enumerate(cases):
        record = by_case.get(k)
        if record is None:
            result.status, result.hint = "error", f"no observation came back for case {k + 1} (the run stopped before it)"
            return result
        if "status" in record:
            status = record.get("status")
            result.status = status if status in STATUSES and status not in ("pass", "manual") else "error"
            result.hint = str(record.get("hint", ""))[:2000]
            return result
        try:
            check.judge(case, record.get("obs"))
        except Failed as e:
            result.hint = e.hint
            result.unsafe = e.property if isinstance(e, Unsafe) else ""
            if isinstance(e, Unsafe) and check.public:  # a hidden case's run never leaves the judge
                result.replay = e.replay
            return result
        except Exception as e:  # an observation the judge cannot read is wrong behaviour, never a pass
            result.hint = f"case {k + 1}: the observation could not be judged ({type(e).__name__}: {str(e)[:200]})"
            return result
    result.status, result.points = "pass", check.points
    return result


def unsafe_rule(results: list[CheckResult]) -> str:
    """A server that breaks a safety property cannot keep most of its points: when any result saw one broken, every
    check keeps :data:`UNSAFE_SHARE` of its points (the rows still say which passed). Returns the note saying so,
    or ""."""
    broken = [r for r in results if r.unsafe]
    if not broken:
        return ""
    for r in results:
        if r.status == "pass":
            r.points = round(r.points * UNSAFE_SHARE, 4)
    first = broken[0]
    return (f"your server broke {first.unsafe} (check {first.name}"
            + (f" and {len(broken) - 1} more" if len(broken) > 1 else "") + f"): a server that is not safe keeps "
            f"at most {UNSAFE_SHARE:.0%} of the points of the checks it passed")


def precheck(check: Check, found: Mapping[str, Any]) -> CheckResult | None:
    """A failing result when a function ``check`` needs is missing or is raftedu's own code, else None.

    ``found[name]`` is ``{"callable": bool, "type": str, "fingerprint": str | None}``
    as :func:`describe_functions` makes it. Every function in ``found`` that
    is raftedu's own code fails the check; a missing one fails it only if
    the check needs it.
    """
    from .observe import reference_fingerprints

    result = CheckResult(check.name, 0.0, check.points, "fail", check.public, check.description)
    reference = reference_fingerprints(found)
    for name in sorted(found, key=lambda n: n not in check.needs):
        info = found.get(name) or {}
        if not info.get("callable") and name not in check.needs:
            continue
        if not info.get("callable"):
            kind = info.get("type") or "nothing"
            result.status = "missing"
            result.hint = f"define a function named {name}(...) in the notebook (found {kind} under that name)"
            return result
        if name in reference and info.get("fingerprint") == reference[name]:
            result.status = "copied"
            result.hint = (f"{name} is raftedu's own RaftNode.{name} (the same code), not an answer: "
                           "write the rule yourself")
            return result
    return None


def describe_functions(namespace: Mapping[str, Any], names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """What the judge needs to know about each named function without calling it.

    A function object that *is* raftedu's reference method (even while the
    reference is switched off, or a copy of the switched-off stub) gets the
    reference's fingerprint, so the judge recognises it.
    """
    from ..raft import RaftNode
    from .observe import STUB_FILE, code_fingerprint, reference_fingerprints

    out = {}
    for name in names:
        fn = namespace.get(name)
        fingerprint = code_fingerprint(fn) if callable(fn) else None
        code = getattr(getattr(fn, "__func__", fn), "__code__", None)
        if callable(fn) and (fn is RaftNode.__dict__.get(name) or getattr(code, "co_filename", "") == STUB_FILE):
            fingerprint = reference_fingerprints([getattr(code, "co_name", name)]).get(getattr(code, "co_name", name))
        out[name] = {"callable": callable(fn), "type": "nothing" if fn is None else type(fn).__name__,
                     "fingerprint": fingerprint}
    return out


def _not_written(name: str) -> Callable[..., Any]:
    def missing(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{name} is not defined in the notebook")

    missing.__name__ = name
    return missing


def student_functions(namespace: Mapping[str, Any], names: Iterable[str]) -> dict[str, Callable[..., Any]]:
    """The student's functions ``names`` from ``namespace``; one that is not defined raises NotImplementedError.

    Every probe plugs *all* of an exercise's functions into the node, never
    raftedu's reference for one the student left out: the node under test is
    the student's.
    """
    return {name: namespace[name] if callable(namespace.get(name)) else _not_written(name) for name in names}


def call_student(funcs: Mapping[str, Callable[..., Any]], name: str, *args: Any, rows: bool = False,
                 **kwargs: Any) -> Any:
    """The student's ``name(*args, **kwargs)`` as plain data (:func:`~raftedu.nodehost.plain`; ``rows``: a table
    as rows, a pandas frame included), called here or -- when ``funcs`` stand for the sandboxed worker's
    functions -- there. A ``node_class`` keyword names one of :func:`~raftedu.nodehost.experiment_nodes`."""
    from .. import nodehost
    from .boundary import RemoteFunctions

    if isinstance(funcs, RemoteFunctions):
        return funcs.call(name, args, kwargs, rows=rows)
    if "node_class" in kwargs:
        kwargs["node_class"] = nodehost.experiment_nodes()[kwargs["node_class"]]
    value = funcs[name](*args, **kwargs)
    return nodehost.as_rows(value) if rows else nodehost.plain(value)


def accepts_keyword(funcs: Mapping[str, Callable[..., Any]], name: str, keyword: str) -> bool:
    """Whether the student's ``name`` takes the keyword argument ``keyword`` (True when its signature is unreadable)."""
    import inspect

    from .boundary import RemoteFunctions

    if isinstance(funcs, RemoteFunctions):
        return funcs.accepts(name, keyword)
    try:
        params = inspect.signature(funcs[name]).parameters
    except (TypeError, ValueError):
        return True
    return keyword in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def run_check(check: Check, namespace: Mapping[str, Any], time_limit: float = 20.0,
              secret: str | None = None, functions: Iterable[str] | None = None,
              locked: Iterable[str] | None = None) -> CheckResult:
    """Probe and judge ``check`` on the functions found in ``namespace``, in this process; never raises for student code.

    ``functions`` names every function of the exercise (default: the ones the
    check needs); all of them go into the node under test, and raftedu's own
    versions of them (or the methods named in ``locked``) are switched off while it runs.
    """
    import time

    start = time.perf_counter()
    names = tuple(functions) if functions is not None else check.needs
    bad = precheck(check, describe_functions(namespace, names)) if not check.manual else None
    if bad is not None:
        return bad
    cases = check.plan(secret)
    records, stderr = ([], "") if check.manual else observe_check(check, student_functions(namespace, names), cases,
                                                                 time_limit, locked)
    result = judge_check(check, cases, records)
    result.note = stderr_note(stderr)
    result.seconds = round(time.perf_counter() - start, 3)
    return result
