"""The bulk grader: every submission observed in its own worker process, judged in this one.

Trust model (DESIGN.md principle 10, "observe in the worker, judge in the
parent"). For one submission (:func:`grade_one`) this process -- the
*parent*, which never imports or runs student code -- copies the notebook
into a fresh temporary folder, creates a pipe and starts ``python -m
raftedu.grading.runner`` (the *worker*) in a new session with
``RLIMIT_AS``/``RLIMIT_FSIZE`` set. The worker reads the plan (every check's
cases; hidden ones derived here from the instructor's secret, which the
worker never sees), switches raftedu's own versions of the rules the
exercise asks for off, executes the notebook's cells in an IPython shell
(test cells skipped, a time limit per cell), puts back anything the notebook
replaced in raftedu (and reports it), and runs each check's *probe*: the
student's functions on each case, streaming raw observations -- return
values, node states and messages, the traces of scenario runs -- down the
pipe as numbered JSON records. The parent reads them as data, re-checks the
traces, computes every verdict and score with the checks' *judges*, and
takes the worker's end from the operating system (exit code or signal): a
worker that dies, is killed or exits early is a failure, whatever it wrote.

This is **not a security sandbox**: student code still runs as your user,
with your network and your files, and can fabricate observations for the
cases it is shown (it still has to behave correctly on the hidden ones).
Grade untrusted work inside a container (README, "Exercises and grading").
:func:`grade` does a folder on any ``concurrent.futures`` executor, journals
each result as soon as it exists (so a rerun resumes), and writes the CSV,
per-student feedback and Gradescope JSON.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .core import SECRET_ENV, SECRET_FILE_ENV, STATUSES, instructor_secret
from .exercises import Exercise, get_exercise

__all__ = [
    "SUBMISSION_STATUSES",
    "Limits",
    "Submission",
    "SubmissionResult",
    "csv_columns",
    "csv_row",
    "feedback_markdown",
    "find_submissions",
    "grade",
    "grade_one",
    "grading_secret",
    "gradescope_json",
]

SUBMISSION_STATUSES = {
    "ok": "graded",
    "unparseable": "the notebook does not parse (not valid notebook JSON, or Python with syntax errors)",
    "no_notebook": "no notebook for this exercise was found in the submission",
    "tampered": "the notebook changed the grader or its channel (what was seen is in the notes); score 0",
    "timeout": "something ran over its time limit (an endless loop?) and was stopped",
    "memory": "the code ran out of memory",
    "kernel_died": "the Python kernel died while running the notebook",
    "deleted_files": "the notebook deleted files in its working folder",
    "copied": "raftedu's own reference code was handed in (or called) as an answer",
    "missing_function": "a required function is not defined",
    "error": "a cell or a check raised an exception",
    "grader_error": "the grader itself failed on this submission (please report it)",
}
"""Every status a submission can get, most serious first (the CSV's ``status`` is the first that applies)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission."""

    cell_timeout: float = 30.0
    """Seconds one notebook cell may run before the kernel is interrupted (nbgrader's default)."""
    check_timeout: float = 20.0
    """Seconds one check may run before it is stopped and scored 0."""
    submission_timeout: float = 240.0
    """Seconds for the whole submission (kernel start, cells, checks) before everything is killed."""
    memory_mb: int = 2048
    """Address-space limit (``RLIMIT_AS``) for the worker and its kernel, in MiB."""
    file_mb: int = 64
    """Largest file the submission may write (``RLIMIT_FSIZE``), in MiB."""

    def __post_init__(self) -> None:
        for name in ("cell_timeout", "check_timeout", "submission_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds; got {value!r}")
        for name in ("memory_mb", "file_mb"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 64:
                raise ValueError(f"{name} must be a whole number of MiB, at least 64; got {value!r}")


@dataclass(frozen=True)
class Submission:
    """One student's submission: the student's name, the notebook, and (``folder``) the folder to copy with it."""

    student: str
    notebook: Path | None
    root: Path
    problem: str = ""
    folder: bool = False


@dataclass
class SubmissionResult:
    """Everything the grader learned about one submission (one line of the journal)."""

    student: str
    exercise: str
    status: str
    score: float
    max_score: float
    checks: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    fingerprint: str = ""

    def to_json(self) -> str:
        """One journal line."""
        return json.dumps(asdict(self), ensure_ascii=False)


# --------------------------------------------------------------------------
# Finding submissions
# --------------------------------------------------------------------------


def _pick_notebook(folder: Path, ex: Exercise) -> tuple[Path | None, str]:
    found = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    named = [p for p in found if p.stem == ex.notebook]
    if len(named) == 1:
        return named[0], ""
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, f"no .ipynb file in {folder.name}/"
    return None, f"{len(found)} notebooks in {folder.name}/ and none is named {ex.notebook}.ipynb"


def find_submissions(path: str | Path, exercise: str | Exercise) -> list[Submission]:
    """The submissions under ``path``: each ``*.ipynb`` in it is one student, and so is each sub-folder.

    A sub-folder may hold the notebook anywhere inside (nbgrader's
    ``submitted/<student>/<assignment>/`` works); the one named like the
    exercise (``02_request_vote.ipynb``) wins, else the only one. ``path``
    may also be a single notebook.
    """
    ex = exercise if isinstance(exercise, Exercise) else get_exercise(exercise)
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"no submissions at {root}: give a folder of notebooks (or of student folders)")
    if root.is_file():
        if root.suffix != ".ipynb":
            raise ValueError(f"{root} is not a notebook (.ipynb) or a folder of them")
        return [Submission(root.stem, root, root.parent)]
    subs = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            subs.append(Submission(entry.stem, entry, root))
        elif entry.is_dir():
            nb, problem = _pick_notebook(entry, ex)
            subs.append(Submission(entry.name, nb, entry, problem, folder=True))
    if not subs:
        raise FileNotFoundError(f"{root} holds no notebooks and no student folders")
    return _distinct_names(subs)


def _distinct_names(subs: list[Submission]) -> list[Submission]:
    """Two submissions that map to one student (``alice.ipynb`` and ``alice/``) both stay: each gets its own name."""
    from collections import Counter
    from dataclasses import replace

    counts = Counter(s.student for s in subs)
    taken = {s.student for s in subs}
    out = []
    for s in subs:
        if counts[s.student] == 1:
            out.append(s)
            continue
        kind = "folder" if s.folder else "file"
        name, k = f"{s.student} ({kind})", 2
        while name in taken:
            name, k = f"{s.student} ({kind} {k})", k + 1
        taken.add(name)
        where = f"{s.student}/" if s.folder else s.notebook.name if s.notebook else s.student
        note = (f"two submissions map to student {s.student!r}; this one ({where}) is graded as {name!r} -- "
                "both are graded, pick one")
        out.append(replace(s, student=name, problem="; ".join(p for p in (s.problem, note) if p)))
    return out


# --------------------------------------------------------------------------
# The worker: runs inside the subprocess (student code runs here, verdicts never)
# --------------------------------------------------------------------------


def _set_limits(limits: Limits) -> None:
    import resource

    mem = limits.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    size = limits.file_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _syntax_errors(nb: Any) -> list[str]:
    from IPython.core.inputtransformer2 import TransformerManager

    tm, bad = TransformerManager(), []
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            compile(tm.transform_cell(cell.source), f"cell {k + 1}", "exec")
        except SyntaxError as e:
            bad.append(f"cell {k + 1} does not parse: {e.msg} (line {e.lineno})")
        except Exception as e:  # a transformer may choke on odd input: that is a parse failure too
            bad.append(f"cell {k + 1} does not parse: {type(e).__name__}: {e}")
    return bad


class _Channel:
    """The worker's end of the pipe to the judge: numbered JSON lines, written with functions saved before student code."""

    def __init__(self, fd: int) -> None:
        self.fd, self.n = fd, 0
        self._write, self._dumps = os.write, json.dumps

    def send(self, kind: str, **data: Any) -> None:
        """Write one record (a line of JSON with its sequence number)."""
        record = {"n": self.n, "kind": kind}
        record.update(data)
        payload = (self._dumps(record, ensure_ascii=True) + "\n").encode()
        self.n += 1
        view = memoryview(payload)
        while view:
            written = self._write(self.fd, view)
            view = view[written:]


_WATCHED_STDLIB = ("builtins", "json", "json.encoder", "json.decoder", "os", "math", "random", "functools",
                   "dataclasses", "inspect", "heapq", "hashlib", "types", "gc", "signal", "traceback", "copy",
                   "numbers", "io", "contextlib", "threading")


class _Guard:
    """Before student code: remember raftedu's modules and classes, a few stdlib modules, threads and hooks.

    :meth:`restore` puts back anything student code replaced and says what,
    so the probes run raftedu's own code; what it lists is reported as
    tampering.
    """

    def __init__(self, shell: Any) -> None:
        import threading

        self.shell = shell
        self.modules = {name: m for name, m in sys.modules.items()
                        if name == "raftedu" or name.startswith("raftedu.") or name in _WATCHED_STDLIB}
        self.saved: list[tuple[str, Any, dict[str, Any]]] = []
        self.tables: list[tuple[str, dict[Any, Any], dict[Any, Any]]] = []
        for name, m in self.modules.items():
            self.saved.append((f"{name}.", m, dict(vars(m))))
            if name.startswith("raftedu"):
                for key, v in list(vars(m).items()):
                    if isinstance(v, type) and getattr(v, "__module__", "") == name:
                        self.saved.append((f"{name}.{key}.", v, dict(vars(v))))
                    elif type(v) is dict and not key.startswith("__"):
                        self.tables.append((f"{name}.{key}", v, dict(v)))
        self.threads = set(threading.enumerate())
        self.hooks = {event: list(cbs) for event, cbs in shell.events.callbacks.items()}

    def restore(self) -> list[str]:
        """Undo student changes to what was remembered; return a description of each."""
        import threading

        changed = []
        for name, m in self.modules.items():
            if sys.modules.get(name) is not m:
                changed.append(f"sys.modules[{name!r}] was replaced")
                sys.modules[name] = m
        for prefix, obj, before in self.saved:
            now = vars(obj)
            for key, value in before.items():
                if now.get(key, _Guard) is not value and key not in ("__dict__", "__weakref__"):
                    changed.append(f"{prefix}{key} was replaced")
                    setattr(obj, key, value)
            for key in [k for k in now if k not in before]:
                value = now[key]
                if (key.startswith("__") and key.endswith("__")) or prefix == "builtins." or \
                        (isinstance(value, types.ModuleType) and value.__name__.startswith(prefix[:-1])):
                    continue  # a lazily imported submodule, a cache dunder, or a builtin IPython adds
                changed.append(f"{prefix}{key} was added")
                delattr(obj, key)
        for label, table, before in self.tables:
            if table.keys() != before.keys() or any(table[k] is not v for k, v in before.items()):
                changed.append(f"the contents of {label} were changed")
                table.clear()
                table.update(before)
        if sys.gettrace() is not None or sys.getprofile() is not None:
            changed.append("a trace or profile function was installed (sys.settrace / sys.setprofile)")
            sys.settrace(None)
            sys.setprofile(None)
        for event, before in self.hooks.items():
            now = self.shell.events.callbacks.get(event, [])
            extra = [cb for cb in now if cb not in before]
            if extra:
                changed.append(f"an IPython {event} hook was registered ({', '.join(getattr(cb, '__name__', '?') for cb in extra)})")
                self.shell.events.callbacks[event] = list(before)
        for t in threading.enumerate():
            if t not in self.threads and t.is_alive():
                changed.append(f"a thread the notebook started is still running ({t.name})")
        return changed


class CellTimeout(BaseException):
    """Raised in a notebook cell that ran over its time limit."""


def _run_cells(nb: Any, shell: Any, skip: set[int], limits: Limits, channel: _Channel) -> None:
    """Execute the notebook's code cells (test cells skipped) in ``shell``; report what went wrong, cell by cell."""
    from .core import _Alarm
    from .observe import REFERENCE_PREFIX

    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or k in skip or not cell.source.strip():
            continue
        err, size = io.StringIO(), _stderr_size()
        old = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = io.StringIO(), err
        error: BaseException | None = None
        try:
            with _Alarm(limits.cell_timeout, CellTimeout):
                result = shell.run_cell(cell.source, store_history=False)
            error = result.error_in_exec or result.error_before_exec
        except BaseException as e:  # the alarm may fire outside the cell's own code
            error = e
        finally:
            sys.stdout, sys.stderr = old
        text = err.getvalue() + _stderr_since(size)
        if text.strip():
            channel.send("note", text=f"cell {k + 1} wrote to stderr (no points lost): {text.strip()[:120]!r}")
        if isinstance(error, CellTimeout):
            channel.send("flag", flag="timeout", note=f"cell {k + 1} ran over {limits.cell_timeout:g} s and was stopped")
        elif isinstance(error, MemoryError):
            channel.send("flag", flag="memory", note=f"cell {k + 1} ran out of memory ({limits.memory_mb} MiB)")
        elif error is not None and str(error).startswith(REFERENCE_PREFIX):
            channel.send("flag", flag="copied", note=f"cell {k + 1}: {str(error)[:250]}")
        elif error is not None:
            channel.send("flag", flag="error", note=f"cell {k + 1} raised {type(error).__name__}: {str(error)[:200]}")


def _stderr_size() -> int:
    try:
        return os.fstat(2).st_size
    except OSError:
        return 0


def _stderr_since(size: int) -> str:
    """What went to file descriptor 2 (the worker's stderr file) since it had ``size`` bytes."""
    try:
        with open(f"/proc/self/fd/2", "rb") as f:
            f.seek(size)
            return f.read(2_000).decode(errors="replace")
    except OSError:
        return ""


class _Cell:
    """One notebook cell as the worker needs it: type, source text, metadata."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.cell_type = str(raw.get("cell_type", ""))
        source = raw.get("source", "")
        self.source = "".join(source) if isinstance(source, list) else str(source)
        self.metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}


class _Notebook:
    """A notebook read as plain JSON (nbformat 4); nbformat itself is slow to import and only needed for older files."""

    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
            if isinstance(data, dict) and data.get("nbformat", 4) < 4:
                import nbformat

                data = json.loads(nbformat.writes(nbformat.read(path, as_version=4)))
            else:
                raise ValueError("no list of cells")
        self.cells = [_Cell(c) for c in data["cells"] if isinstance(c, dict)]


def _run_worker(exercise: str, notebook: Path, plan: list[dict[str, Any]], limits: Limits, channel: _Channel) -> None:
    """Execute one submission and probe its functions; every finding goes to ``channel`` as it happens."""
    from . import student
    from .core import describe_functions, observe_check, student_functions
    from .exercises import get_exercise
    from .notebooks import test_cells
    from .observe import ReferenceLock, guard_reference_source, scan_for_copies

    ex = get_exercise(exercise)
    try:
        nb = _Notebook(notebook)
    except Exception as e:
        channel.send("flag", flag="unparseable",
                     note=f"the notebook is not valid notebook JSON: {type(e).__name__}: {str(e)[:200]}")
        return
    for note in _syntax_errors(nb):
        channel.send("flag", flag="unparseable", note=note)
    try:
        import tqdm

        tqdm.tqdm.monitor_interval = 0  # no monitor thread: any thread left running is the notebook's
    except ImportError:
        pass
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "NoColor"
    shell = InteractiveShell.instance(config=config)
    shell.showtraceback = shell.showsyntaxerror = lambda *a, **k: None  # an error becomes a flag, not stderr text
    student.IN_GRADER = True
    guard_reference_source(ex.reference_rules)
    ReferenceLock(ex.reference_rules, permanent=True).__enter__()  # for the worker's whole life: cells and probes
    guard = _Guard(shell)
    _run_cells(nb, shell, set(test_cells(nb)), limits, channel)
    changes = guard.restore()
    if changes:
        channel.send("tamper", what=changes[:20])
    namespace = dict(shell.user_ns)
    found = describe_functions(namespace, ex.functions)
    channel.send("functions", found=found)
    if scan_for_copies(ex.reference_rules):
        ReferenceLock(ex.reference_rules, permanent=True).__enter__()  # the copies found are switched off too
        channel.send("flag", flag="copied", note="the notebook holds a verbatim copy of raftedu's own "
                     f"{'/'.join(ex.reference_rules)} (switched off while graded)")
    looped: set[str] = set()
    for item in plan:
        check = next((c for c in ex.checks if c.name == item["check"]), None)
        if check is None or check.manual or not all(found[n]["callable"] for n in check.needs):
            continue
        limit = min(limits.check_timeout, student.RETRY_LIMIT) if looped.intersection(check.needs) else limits.check_timeout
        records, stderr = observe_check(check, student_functions(namespace, ex.functions), item["cases"], limit,
                                        ex.reference_rules)
        if any(r.get("status") == "timeout" for r in records):
            looped.update(check.needs)
        channel.send("check", check=check.name, records=records, stderr=stderr[:2_000])


_NANNY = ("import os, subprocess, sys\n"
          "fd = int(sys.argv[-1])\n"
          "p = subprocess.Popen(sys.argv[1:], pass_fds=(fd,))\n"
          "os.close(fd)\n"
          "code = p.wait()\n"
          "os._exit(code if code >= 0 else 128 - code)\n")
"""The worker's parent: a small process that only waits for it and passes its end on as an exit code (a worker
killed by signal N gives 128 + N). A notebook that kills its parent kills this, not the grader."""

_WORKER_COMMAND = "import sys; from raftedu.grading.runner import _worker_main; sys.exit(_worker_main(sys.argv[1:]))"


def _worker_main(argv: list[str]) -> int:
    """``python -c _WORKER_COMMAND EXERCISE NOTEBOOK WORKDIR LIMITS_JSON FD`` (the grader starts this).

    Reads the plan (each check's cases) from stdin, writes findings to file
    descriptor FD, and ends with ``os._exit`` so nothing the notebook
    registered runs after the last record.
    """
    exercise, notebook, workdir, limits_json, fd = argv
    limits = Limits(**json.loads(limits_json))
    channel = _Channel(int(fd))
    plan = json.loads(sys.stdin.read())
    sys.stdin = open(os.devnull)  # noqa: SIM115  (the notebook gets no input)
    _set_limits(limits)
    os.chdir(workdir)
    import raftedu.grading  # noqa: F401  (raftedu's own modules are in place before any student code)

    _run_worker(exercise, Path(notebook), plan, limits, channel)
    channel.send("done")
    os._exit(0)


# --------------------------------------------------------------------------
# The parent: one submission (never imports or runs student code)
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _grader_source_hash() -> str:
    """Hash of the code that decides a grade: this package and the core it runs student code in."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(here.glob("*.py")) + [here.parent / f"{m}.py" for m in ("raft", "sim", "checks", "trace",
                                                                                "scenarios", "sweep")]:
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()


def _fingerprint(sub: Submission, ex: Exercise, limits: Limits, secret: str | None = None) -> str:
    """What a journaled grade depends on: the notebook's bytes, the exercise, the limits, the secret, the grader's code."""
    key = hashlib.sha256((secret or "").encode()).hexdigest()
    h = hashlib.sha256(repr((_grader_source_hash(), ex.id, asdict(limits), key)).encode())
    if sub.notebook is not None and sub.notebook.exists():
        h.update(sub.notebook.read_bytes())
    return h.hexdigest()[:16]


_CHANNEL_LIMIT = 256 << 20
"""Bytes of observations the parent reads from one worker at most (a correct submission sends a few MiB)."""


def _kill(pgid: int) -> None:
    """Kill the worker's whole session (it and anything it started that stayed in it)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def _checks_as(ex: Exercise, status: str, hint: str) -> list[dict[str, Any]]:
    return [dict(name=c.name, points=0.0, max_points=c.points, status="manual" if c.manual else status,
                 public=c.public, description=c.description, hint="an instructor grades this answer by hand"
                 if c.manual else hint, seconds=0.0, note="") for c in ex.checks]


def _status(flags: Iterable[str], checks: list[dict[str, Any]]) -> str:
    found = set(flags)
    statuses = {c["status"] for c in checks}
    found |= {s for s in ("timeout", "memory", "copied") if s in statuses}
    if "missing" in statuses:
        found.add("missing_function")
    if "error" in statuses:
        found.add("error")
    return next((s for s in SUBMISSION_STATUSES if s in found), "ok")


def _read_records(raw: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """The worker's records in order, and what was wrong with the stream (forged or out-of-order lines)."""
    records, problems = [], []
    for k, line in enumerate(raw.split(b"\n")):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(f"line {k + 1} of the worker's channel is not JSON")
            continue
        if not isinstance(record, dict) or record.get("n") != len(records):
            problems.append(f"record {len(records)} arrived out of order or twice (someone else wrote to the channel)")
            continue
        if records and records[-1].get("kind") == "done":
            problems.append("records arrived after the worker said it was done")
            continue
        records.append(record)
    return records, problems


def _ended(code: int, stderr_tail: str, done: bool) -> tuple[str, str] | None:
    """(status, note) when the worker did not end normally, from the operating system's view of the processes.

    ``code`` is the exit code of the worker's parent (:data:`_NANNY`): the
    worker's exit code, 128 + N when signal N killed the worker, negative
    when the parent itself was killed.
    """
    if code == 0 and done:
        return None
    if "MemoryError" in stderr_tail:
        return "memory", f"the worker ran out of memory (exit code {code})"
    if code < 0 or code > 128:
        number = -code if code < 0 else code - 128
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
        who = "the worker's parent process" if code < 0 else "the worker"
        return "kernel_died", (f"{who} was killed by signal {name} before the checks finished (often: the notebook "
                               "killed a process, or memory ran out)")
    return "kernel_died", (f"the worker exited with code {code} before the checks finished (the notebook called "
                           f"os._exit or exit?)" if code == 0 or not stderr_tail.strip() else
                           f"the worker exited with code {code}: {stderr_tail.strip()[-300:]}")


def grade_one(sub: Submission, exercise: str | Exercise, limits: Limits = Limits(),
              secret: str | None = None) -> SubmissionResult:
    """Grade one submission; never raises for anything it does.

    The notebook runs in a worker subprocess (its own session, temporary
    copy, resource limits) that reads each check's cases, runs the student's
    functions on them and streams raw observations back over a pipe this
    process created. This process never imports student code: it reads the
    observations as data, judges them with the exercise's judges, and takes
    the worker's fate (exit code or signal) from the operating system, not
    from anything the worker wrote.
    """
    from .core import CheckResult, judge_check, precheck, stderr_note

    ex = exercise if isinstance(exercise, Exercise) else get_exercise(exercise)
    start = time.perf_counter()
    fp = _fingerprint(sub, ex, limits, secret)
    extra = [sub.problem] if sub.problem and sub.notebook is not None else []

    def result(status: str, checks: list[dict[str, Any]], notes: list[str]) -> SubmissionResult:
        score = 0.0 if status == "tampered" else sum(c["points"] for c in checks if c["status"] != "manual")
        return SubmissionResult(sub.student, ex.id, status, round(score, 4), ex.max_score, checks, extra + notes,
                                round(time.perf_counter() - start, 2), fp)

    if sub.notebook is None:
        note = sub.problem or "no notebook found"
        return result("no_notebook", _checks_as(ex, "missing", note), [note])
    plan = [{"check": c.name, "cases": c.plan(secret)} for c in ex.checks if not c.manual]
    cases = {item["check"]: item["cases"] for item in plan}
    with tempfile.TemporaryDirectory(prefix="raftedu-grade-") as tmp:
        tmp_path = Path(tmp)
        work = tmp_path / "work"
        if sub.folder:  # a student's own folder: copy it whole, so relative paths keep working
            shutil.copytree(sub.root, work, symlinks=True)
            notebook = work / sub.notebook.relative_to(sub.root)
        else:
            work.mkdir()
            notebook = work / sub.notebook.name
            shutil.copy2(sub.notebook, notebook)
        before = _listing(work)
        env = {k: v for k, v in os.environ.items() if k not in (SECRET_ENV, SECRET_FILE_ENV)}
        env.update(MALLOC_ARENA_MAX="2", PYDEVD_DISABLE_FILE_VALIDATION="1", JUPYTER_PLATFORM_DIRS="1",
                   MPLBACKEND="Agg")
        read_end, write_end = os.pipe()
        cmd = [sys.executable, "-I", "-S", "-c", _NANNY, sys.executable, "-c", _WORKER_COMMAND, ex.id, str(notebook),
               str(work), json.dumps(asdict(limits)), str(write_end)]
        chunks: list[bytes] = []
        overflow: list[bool] = []

        def drain() -> None:
            size = 0
            while True:
                chunk = os.read(read_end, 1 << 16)
                if not chunk:
                    return
                size += len(chunk)
                if size > _CHANNEL_LIMIT:  # a flood of bytes is not observations: stop reading, stop the worker
                    overflow.append(True)
                    _kill(proc.pid)
                    return
                chunks.append(chunk)

        with open(tmp_path / "stderr.log", "w+b") as err:
            try:
                proc = subprocess.Popen(cmd, cwd=work, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                        env=env, start_new_session=True, pass_fds=(write_end,))
            finally:
                os.close(write_end)
            reader = threading.Thread(target=drain, daemon=True)
            reader.start()
            try:
                proc.stdin.write(json.dumps(plan).encode())
                proc.stdin.close()
            except OSError:
                pass  # the worker died before reading its plan: its exit code says why
            timed_out = False
            try:
                proc.wait(timeout=limits.submission_timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            _kill(proc.pid)  # whatever the notebook left running in the worker's session goes too
            proc.wait()
            reader.join(timeout=5)
            os.close(read_end)
            err.seek(0)
            stderr_tail = err.read()[-2_000:].decode(errors="replace")
        gone = sorted(before - _listing(work)) if work.exists() else ["(the whole working folder)"]
    if timed_out:
        note = f"the submission ran over its {limits.submission_timeout:g} s limit and was stopped"
        return result("timeout", _checks_as(ex, "timeout", note), [note])
    records, problems = _read_records(b"".join(chunks))
    if overflow:
        problems.append(f"the worker sent more than {_CHANNEL_LIMIT >> 20} MiB down the channel")
    ended = _ended(proc.returncode, stderr_tail, bool(records) and records[-1].get("kind") == "done")
    flags, notes = [], []
    for r in records:
        if r.get("kind") == "flag":
            flags.append(str(r.get("flag")))
            notes.append(str(r.get("note", ""))[:300])
        elif r.get("kind") == "note":
            notes.append(str(r.get("text", ""))[:300])
        elif r.get("kind") == "tamper":
            flags.append("tampered")
            notes += [f"tampering: {w}"[:300] for w in r.get("what", [])][:20]
    if problems:
        flags.append("tampered")
        notes += [f"tampering: {p}" for p in problems[:5]]
    if gone:
        flags.append("deleted_files")
        notes.append(f"deleted {len(gone)} file(s) in its working folder: {', '.join(gone[:5])}")
    if ended is not None:
        status, note = ended
        checks = _checks_as(ex, {"kernel_died": "error"}.get(status, status), note)
        if "tampered" in flags:
            status = "tampered"
        return result(status, checks, notes + [note])
    if "unparseable" in flags and not any(r.get("kind") == "functions" for r in records):
        return result("unparseable", _checks_as(ex, "error", notes[-1] if notes else "unparseable"), notes)
    found = next((r.get("found") for r in records if r.get("kind") == "functions"), None)
    if not isinstance(found, dict):
        found = {}
    observed = {r.get("check"): r for r in records if r.get("kind") == "check"}
    checks = []
    for c in ex.checks:
        bad = None if c.manual else precheck(c, {n: found.get(n, {}) for n in ex.functions})
        if bad is not None:
            checks.append(bad.to_dict())
            continue
        r = observed.get(c.name, {})
        records_of = r.get("records") if isinstance(r.get("records"), list) else []
        res = judge_check(c, cases.get(c.name, []), records_of)
        res.note = stderr_note(str(r.get("stderr", "")))
        if res.note:
            notes.append(f"check {c.name}: {res.note}")
        checks.append(res.to_dict())
    return result(_status(flags, checks), checks, notes)


# --------------------------------------------------------------------------
# Outputs: CSV, feedback, Gradescope JSON
# --------------------------------------------------------------------------


def csv_columns(ex: Exercise) -> list[str]:
    """The CSV header: nbgrader-like columns, then points and status for each check."""
    cols = ["student", "exercise", "score", "max_score", "status", "notes"]
    for c in ex.checks:
        cols += [c.name, f"{c.name}_status"]
    return cols


def csv_row(r: SubmissionResult, ex: Exercise) -> dict[str, Any]:
    """One CSV row (manual checks leave their points empty for the instructor)."""
    row: dict[str, Any] = {"student": r.student, "exercise": r.exercise, "score": f"{r.score:g}",
                           "max_score": f"{r.max_score:g}", "status": r.status, "notes": " | ".join(r.notes)}
    by_name = {c["name"]: c for c in r.checks}
    for c in ex.checks:
        got = by_name.get(c.name)
        row[c.name] = "" if got is None or got["status"] == "manual" else f"{got['points']:g}"
        row[f"{c.name}_status"] = got["status"] if got else "not run"
    return row


def feedback_markdown(r: SubmissionResult, ex: Exercise) -> str:
    """Per-student feedback: each check's result and hint; never the hidden checks' source."""
    lines = [f"# Exercise {ex.id} — {ex.title}", "", f"Feedback for **{r.student}**", "",
             f"**Score: {r.score:g} / {r.max_score:g}** (automatic checks)", "",
             f"Status: {r.status} — {SUBMISSION_STATUSES.get(r.status, r.status)}", "",
             "| check | kind | points | result |", "|---|---|---|---|"]
    for c in r.checks:
        kind = "public" if c["public"] else "hidden"
        pts = f"– / {c['max_points']:g}" if c["status"] == "manual" else f"{c['points']:g} / {c['max_points']:g}"
        lines.append(f"| {c['name']} | {kind} | {pts} | {STATUSES.get(c['status'], c['status'])} |")
    failing = [c for c in r.checks if c["status"] not in ("pass", "manual")]
    if failing:
        lines += ["", "## What to look at", ""]
        for c in failing:
            lines += [f"### {c['name']} ({'public' if c['public'] else 'hidden'}): {c['description']}", "",
                      "```", c["hint"] or STATUSES.get(c["status"], c["status"]), "```", ""]
    manual = [c for c in r.checks if c["status"] == "manual"]
    if manual:
        lines += ["", "Graded by hand: " + ", ".join(f"{c['name']} ({c['max_points']:g} points)" for c in manual)]
    if r.notes:
        lines += ["", "## Notes from running your notebook", ""] + [f"- {n}" for n in r.notes]
    return "\n".join(lines) + "\n"


def gradescope_json(r: SubmissionResult) -> dict[str, Any]:
    """The submission in Gradescope's autograder ``results.json`` format (hidden checks: after publishing)."""
    tests = []
    for c in r.checks:
        test = {"name": c["name"], "output": c["hint"] if c["status"] != "pass" else "",
                "visibility": "visible" if c["public"] else "after_published"}
        if c["status"] != "manual":
            test.update(score=c["points"], max_score=c["max_points"],
                        status="passed" if c["status"] == "pass" else "failed")
        tests.append(test)
    return {"score": r.score, "output": f"status: {r.status}" + "".join(f"\n- {n}" for n in r.notes),
            "tests": tests, "stdout_visibility": "hidden"}


def _write_outputs(r: SubmissionResult, ex: Exercise, feedback: Path | None, gradescope: Path | None) -> None:
    if feedback is not None:
        feedback.mkdir(parents=True, exist_ok=True)
        (feedback / f"{r.student}.md").write_text(feedback_markdown(r, ex), encoding="utf-8")
    if gradescope is not None:
        gradescope.mkdir(parents=True, exist_ok=True)
        (gradescope / f"{r.student}.json").write_text(json.dumps(gradescope_json(r), indent=1), encoding="utf-8")


# --------------------------------------------------------------------------
# The batch
# --------------------------------------------------------------------------


def _load_journal(path: Path, ex: Exercise) -> dict[str, SubmissionResult]:
    done: dict[str, SubmissionResult] = {}
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = SubmissionResult(**json.loads(line))
        except (ValueError, TypeError):
            continue  # a line cut short by an interrupted run: grade that student again
        if record.exercise == ex.id:
            done[record.student] = record
    return done


def _grade_safely(sub: Submission, exercise: str, limits: Limits, secret: str | None,
                  fingerprint: str) -> SubmissionResult:
    """:func:`grade_one` for an executor (a top-level function, so process pools and Dask can pickle it)."""
    try:
        return grade_one(sub, exercise, limits, secret)
    except Exception as e:  # the batch must finish: a grader failure is one student's status, not a crash
        ex = get_exercise(exercise)
        note = f"grader error: {type(e).__name__}: {e}"
        return SubmissionResult(sub.student, ex.id, "grader_error", 0.0, ex.max_score,
                                _checks_as(ex, "error", note), [note], 0.0, fingerprint)


SECRET_FILE_NAME = ".raftedu-secret"
"""Where :func:`grade` keeps a secret it made, beside the CSV, when the instructor gave none."""


def grading_secret(out_dir: Path, secret: str | None = None, secret_file: str | Path | None = None) -> tuple[str, str]:
    """The instructor's secret and where it came from: given, a file, the environment, or one made once and kept
    in ``out_dir/.raftedu-secret`` (readable by you only) so reruns draw the same hidden cases."""
    key = instructor_secret(secret, secret_file)
    if key is not None:
        return key, "given" if secret is not None else f"from {secret_file}" if secret_file else "from the environment"
    path = out_dir / SECRET_FILE_NAME
    if not path.exists():
        import secrets as _secrets

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(_secrets.token_hex(16) + "\n")
    return instructor_secret(secret_file=path) or "", f"made once and kept in {path}"


def grade(
    submissions: str | Path,
    exercise: str | int,
    out: str | Path = "grades.csv",
    *,
    jobs: int = 1,
    limits: Limits = Limits(),
    feedback: str | Path | None = None,
    gradescope: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
    on_result: Callable[[SubmissionResult], None] | None = None,
    secret: str | None = None,
    secret_file: str | Path | None = None,
    executor: Executor | None = None,
) -> list[SubmissionResult]:
    """Grade every submission under ``submissions`` for ``exercise`` and write ``out`` (CSV).

    Each result is appended to a journal (``out`` with suffix ``.jsonl``) and
    to the CSV the moment it exists; with ``resume`` a rerun skips students
    whose unchanged notebook is already in the journal (graded by the same
    raftedu version, checks, limits and secret). ``feedback`` and
    ``gradescope`` are folders for ``<student>.md`` and ``<student>.json``
    (default: ``feedback/`` and ``gradescope/`` beside ``out``).

    Hidden cases derive from the instructor's secret: ``secret``, else the
    first line of ``secret_file``, else ``RAFTEDU_GRADING_SECRET`` /
    ``RAFTEDU_GRADING_SECRET_FILE``, else one made once and kept beside the
    CSV in ``.raftedu-secret``. Submissions are graded on ``executor`` (any
    ``concurrent.futures.Executor``: a process pool, Dask's
    ``client.get_executor()``, ...) or else on ``jobs`` threads, each
    driving one worker process; the CSV is the same whichever runs them.
    """
    ex = get_exercise(exercise)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a whole number >= 1; got {jobs!r}")
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor (e.g. ProcessPoolExecutor, or Dask's "
                        f"client.get_executor()); got {type(executor).__name__}")
    subs = find_submissions(submissions, ex)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    feedback_dir = Path(feedback) if feedback is not None else out.parent / "feedback"
    gradescope_dir = Path(gradescope) if gradescope is not None else out.parent / "gradescope"
    journal = out.with_suffix(".jsonl")
    key, _ = grading_secret(out.parent, secret, secret_file)
    done = _load_journal(journal, ex) if resume else {}
    if not resume and journal.exists():
        journal.unlink()
    fingerprints = {s.student: _fingerprint(s, ex, limits, key) for s in subs}
    results = {name: r for name, r in done.items() if name in fingerprints and r.fingerprint == fingerprints[name]}
    todo = [s for s in subs if s.student not in results]
    columns = csv_columns(ex)
    lock = threading.Lock()
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        for r in results.values():
            writer.writerow(csv_row(r, ex))

    def record(r: SubmissionResult) -> None:
        with lock:
            with open(journal, "a", encoding="utf-8") as j:
                j.write(r.to_json() + "\n")
                j.flush()
                os.fsync(j.fileno())
            with open(out, "a", newline="", encoding="utf-8") as f:
                csv.DictWriter(f, columns).writerow(csv_row(r, ex))
            _write_outputs(r, ex, feedback_dir, gradescope_dir)
            results[r.student] = r
            if on_result is not None:
                on_result(r)

    from tqdm import tqdm

    pool = executor or ThreadPoolExecutor(max_workers=jobs)
    try:
        with tqdm(total=len(subs), initial=len(subs) - len(todo), desc=f"grading {ex.id}", unit="submission",
                  disable=not progress, file=sys.stderr) as bar:
            futures = [pool.submit(_grade_safely, s, ex.id, limits, key, fingerprints[s.student]) for s in todo]
            for fut in as_completed(futures):
                record(fut.result())
                bar.update(1)
    finally:
        if executor is None:
            pool.shutdown()
    for r in results.values():
        _write_outputs(r, ex, feedback_dir, gradescope_dir)
    ordered = [results[s.student] for s in subs]
    with open(out, "w", newline="", encoding="utf-8") as f:  # final CSV: one row per student, in order
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        for r in ordered:
            writer.writerow(csv_row(r, ex))
    return ordered

