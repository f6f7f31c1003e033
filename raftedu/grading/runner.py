"""The bulk grader: every submission judged by a trusted process of its own; student code only in a sandbox.

Trust model (DESIGN.md principle 10, "the student's server is a black box").
For one submission (:func:`grade_one`) this process copies the notebook into
a fresh temporary folder, writes the reduced raftedu the student's code may
use (:func:`raftedu.grading.sandbox.package`) and starts a *judge process*
(:func:`judge_submission`, trusted code only) with a time limit that covers
the worker and the judging. The judge reads the notebook as data, reviews the
answer cells (:mod:`raftedu.grading.review`: ``review`` and ``copied``), and
starts the *worker* -- ``raftedu.nodehost`` in a bubblewrap sandbox
(:mod:`raftedu.grading.sandbox`) -- which runs the cells and then answers one
call at a time for the student's nodes and functions
(:mod:`raftedu.grading.boundary`). Every check runs in the judge: the
simulator, the network, the scenarios, the safety monitor, every count and
every verdict. The worker never sees a case, a seed or the secret; a worker
that stops costs the check it was in, one that breaks the protocol makes the
submission ``tampered``.

:func:`grade` does a folder on any ``concurrent.futures`` executor, journals
each result as soon as it exists (so a rerun resumes), and writes the CSV,
per-student feedback and Gradescope JSON.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core import SECRET_ENV, SECRET_FILE_ENV, STATUSES, instructor_secret
from .exercises import Exercise, get_exercise

if TYPE_CHECKING:
    from .cluster import DaskClient

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
    "copied": "raftedu's own reference code was handed in (or called) as an answer",
    "review": "the answer cells load code at run time or reach into the machinery (the lines are quoted in the notes): "
              "an instructor should read them; the computed points are kept",
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
    stats: dict[str, Any] = field(default_factory=dict)
    """How the boundary was used: calls to the sandboxed worker, its starts, seconds spent waiting for it, the CPU
    seconds its workers used, the mode."""

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
# The notebook, read as data (never executed here)
# --------------------------------------------------------------------------


class _Cell:
    """One notebook cell as the grader needs it: type, source text, metadata."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.cell_type = str(raw.get("cell_type", ""))
        source = raw.get("source", "")
        self.source = "".join(source) if isinstance(source, list) else str(source)
        metadata = raw.get("metadata")
        self.metadata: dict[str, Any] = metadata if isinstance(metadata, dict) else {}


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


def _syntax_errors(cells: list[tuple[int, str]]) -> list[str]:
    from IPython.core.inputtransformer2 import TransformerManager

    tm, bad = TransformerManager(), []
    for number, source in cells:
        try:
            compile(tm.transform_cell(source), f"cell {number}", "exec")
        except SyntaxError as e:
            bad.append(f"cell {number} does not parse: {e.msg} (line {e.lineno})")
        except Exception as e:  # a transformer may choke on odd input: that is a parse failure too
            bad.append(f"cell {number} does not parse: {type(e).__name__}: {e}")
    return bad


def _answer_cells(nb: _Notebook) -> list[tuple[int, str]]:
    """(cell number, source) of the code cells the worker runs: every non-empty code cell but nbgrader's tests."""
    out = []
    for k, c in enumerate(nb.cells):
        grading = c.metadata.get("nbgrader")
        if not isinstance(grading, dict):
            grading = {}
        if c.cell_type == "code" and c.source.strip() and not (grading.get("grade") and not grading.get("solution")):
            out.append((k + 1, c.source))
    return out


@functools.lru_cache(maxsize=16)
def _released_sources(notebook: str) -> frozenset[str]:
    """The code cells of the released exercise (what every student starts with: not read for review)."""
    from ..course import course_root

    path = course_root() / "exercises" / f"{notebook}.ipynb"
    if not path.is_file():
        return frozenset()
    return frozenset(c.source.strip() for c in _Notebook(Path(str(path))).cells if c.cell_type == "code")


# --------------------------------------------------------------------------
# One submission, judged in a trusted process of its own (student code runs only in its sandboxed worker)
# --------------------------------------------------------------------------


def _checks_as(ex: Exercise, status: str, hint: str) -> list[dict[str, Any]]:
    return [dict(name=c.name, points=0.0, max_points=c.points, status="manual" if c.manual else status,
                 public=c.public, description=c.description, hint="an instructor grades this answer by hand"
                 if c.manual else hint, seconds=0.0, note="") for c in ex.checks]


def _status(flags: Iterable[str], checks: list[dict[str, Any]]) -> str:
    found = set(flags)
    statuses = {c["status"] for c in checks}
    found |= {s for s in ("timeout", "memory", "copied", "kernel_died") if s in statuses}
    if "missing" in statuses:
        found.add("missing_function")
    if "error" in statuses:
        found.add("error")
    return next((s for s in SUBMISSION_STATUSES if s in found), "ok")


def judge_submission(exercise: str, notebook: Path, work: Path, box: Path, limits: Limits, secret: str | None,
                     how: str) -> dict[str, Any]:
    """Grade one submission in this (trusted) process: the student's code runs only in a sandboxed worker.

    Reads the notebook as data, reviews its answer cells (:mod:`~raftedu.grading.review`),
    starts the worker (:class:`~raftedu.grading.boundary.Worker`), and runs
    every check here with the student's functions and nodes as stand-ins
    that call into the worker. Returns ``{"status", "checks", "notes",
    "flags", "stats"}``.
    """
    from .boundary import RemoteFunctions, Worker
    from .core import judge_check, observe_check, precheck
    from .review import copied_functions, suspicious_lines
    from .sandbox import MODES, launch

    ex = get_exercise(exercise)
    deadline = time.monotonic() + limits.submission_timeout
    flags: list[str] = []
    notes: list[str] = [] if how == "bubblewrap" else [MODES[how]]
    try:
        nb = _Notebook(notebook)
    except Exception as e:
        note = f"the notebook is not valid notebook JSON: {type(e).__name__}: {str(e)[:200]}"
        return {"status": "unparseable", "checks": _checks_as(ex, "error", note), "notes": notes + [note]}
    cells = _answer_cells(nb)
    worker = Worker(lambda: launch(box, work, how=how, memory_mb=limits.memory_mb, file_mb=limits.file_mb,
                                   cpu_s=int(limits.submission_timeout) + 10),
                    ex.id, ex.functions, [list(c) for c in cells], limits.cell_timeout, deadline)
    worker.begin()  # the worker starts and runs the cells while this process reviews them
    checks: list[dict[str, Any]] = []
    try:
        broken = _syntax_errors(cells)
        if broken:
            flags.append("unparseable")
            notes += broken[:5]
        released = _released_sources(ex.notebook)
        written = [(k, src) for k, src in cells if src.strip() not in released]
        copies = copied_functions(written, ex.reference_rules)
        if copies:
            flags.append("copied")
            notes += copies[:5]
        looks = suspicious_lines(written)
        if looks:
            flags.append("review")
            notes += [f"review: {line}" for line in looks]
        try:
            worker.start()
        except BaseException as e:  # the notebook's cells could not run to the end: every check stands for it
            status, hint = _lost_worker(e, limits)
            return {"status": "tampered" if worker.broken else status,
                    "checks": _checks_as(ex, {"kernel_died": "error"}.get(status, status), hint),
                    "notes": notes + [hint] + [f"tampering: {b}" for b in worker.broken[:5]], "flags": flags}
        for f in worker.findings:
            flag = str(f.get("flag"))
            flags.append(flag if flag in ("timeout", "memory", "copied") else "error")
            what = {"timeout": f"ran over {limits.cell_timeout:g} s and was stopped",
                    "memory": f"ran out of memory ({limits.memory_mb} MiB)"}.get(flag) or \
                f"raised {str(f.get('error'))[:60]}: {str(f.get('text'))[:200]}"
            notes.append(f"cell {f.get('cell')} {what}")
        funcs = RemoteFunctions(worker)
        looped: set[str] = set()
        unsafe: list[Any] = []  # results of public checks whose run broke a property (only the first is shrunk)
        for c in ex.checks:
            bad = None if c.manual else precheck(c, {n: worker.defined.get(n, {}) for n in ex.functions})
            if bad is not None:
                checks.append(bad.to_dict())
                continue
            if "copied" in flags and not c.manual:
                checks.append(dict(name=c.name, points=0.0, max_points=c.points, status="copied", public=c.public,
                                   description=c.description, hint=copies[0] if copies else "copied", seconds=0.0,
                                   note=""))
                continue
            from . import student

            limit = min(limits.check_timeout, student.RETRY_LIMIT) if looped.intersection(c.needs) \
                else limits.check_timeout
            limit = max(0.5, min(limit, deadline - time.monotonic()))
            started = time.perf_counter()
            cases = c.plan(secret)
            records, _ = ([], "") if c.manual else observe_check(c, funcs, cases, limit, sandboxed=True)
            if any(r.get("status") == "timeout" for r in records):
                looped.update(c.needs)
            res = judge_check(c, cases, records)
            res.seconds = round(time.perf_counter() - started, 3)
            checks.append(res.to_dict())
            if res.replay:
                unsafe.append((len(checks) - 1, res))
        if unsafe and deadline - time.monotonic() > limits.check_timeout:  # the run shrunk: one per submission
            from .counterexamples import GRADER_RUNS, offer_counterexample

            where, res = unsafe[0]
            if offer_counterexample(ex, [res], funcs, max_runs=GRADER_RUNS, time_limit=limits.check_timeout,
                                    sandboxed=True):
                checks[where]["hint"] = res.hint
    finally:
        worker.close()
    from .core import CheckResult, unsafe_rule

    results = [CheckResult(**c) for c in checks]
    rule = unsafe_rule(results)
    if rule:
        notes.append(rule)
        checks = [r.to_dict() for r in results]
    if worker.broken:
        flags.append("tampered")
        notes += [f"tampering: {b}" for b in worker.broken[:5]]
    stats = {"calls": worker.calls, "steps_ahead": worker.steps_ahead, "starts": worker.starts,
             "waiting_s": round(worker.seconds_waiting, 3), "worker_cpu_s": round(worker.cpu_seconds, 3)}
    return {"status": _status(flags, checks), "checks": checks, "notes": notes, "flags": flags, "stats": stats}


def _lost_worker(e: BaseException, limits: Limits) -> tuple[str, str]:
    from .boundary import HostGone, ProtocolBroken

    if isinstance(e, HostGone):
        if e.status == "timeout":
            return "timeout", (f"the submission ran over its {limits.submission_timeout:g} s limit (its cells did not "
                               "finish) and was stopped")
        return e.status, f"the notebook's cells did not run to the end: {e}"
    if isinstance(e, ProtocolBroken):
        return "tampered", f"the worker broke the grading protocol while the cells ran: {e}"
    return "grader_error", f"the worker could not be started: {type(e).__name__}: {e}"


_JUDGE_COMMAND = "import sys; from raftedu.grading.runner import _judge_main; sys.exit(_judge_main())"


def _judge_main() -> int:
    """The trusted judge process (``python -c _JUDGE_COMMAND``): its task as JSON on stdin, its result as JSON on
    stdout. It runs no student code: that runs in the sandboxed worker it starts."""
    task = json.loads(sys.stdin.read())
    sys.stdin = open(os.devnull)  # noqa: SIM115
    result = judge_submission(task["exercise"], Path(task["notebook"]), Path(task["work"]), Path(task["box"]),
                              Limits(**task["limits"]), task["secret"], task["how"])
    sys.stdout.write("\n" + _RESULT_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


_RESULT_MARK = "raftedu-judge-result:"


def _fingerprint(sub: Submission, ex: Exercise, limits: Limits, secret: str | None = None) -> str:
    """What a journaled grade depends on: the notebook's bytes, the exercise, the limits, the secret, the grader's code."""
    key = hashlib.sha256((secret or "").encode()).hexdigest()
    h = hashlib.sha256(repr((_grader_source_hash(), ex.id, asdict(limits), key)).encode())
    if sub.notebook is not None and sub.notebook.exists():
        h.update(sub.notebook.read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def _grader_source_hash() -> str:
    """Hash of the code that decides a grade: this package and the core it runs student code in."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(here.glob("*.py")) + [here.parent / f"{m}.py" for m in ("raft", "sim", "checks", "trace",
                                                                                "scenarios", "sweep", "nodehost",
                                                                                "kv", "kvmodel")]:
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()


def grade_one(sub: Submission, exercise: str | Exercise, limits: Limits = Limits(),
              secret: str | None = None, sandbox: str | None = None) -> SubmissionResult:
    """Grade one submission; never raises for anything it does.

    A trusted judge process (this package, never student code) runs every
    check; the student's code runs only in the sandboxed worker it starts
    (:mod:`raftedu.grading.sandbox`; ``sandbox`` names the mode, default the
    strongest available). The judge process, the worker and all they
    started are gone when this returns; the judge's time counts in
    ``limits.submission_timeout``.
    """
    from .sandbox import mode, package

    ex = exercise if isinstance(exercise, Exercise) else get_exercise(exercise)
    start = time.perf_counter()
    fp = _fingerprint(sub, ex, limits, secret)
    extra = [sub.problem] if sub.problem and sub.notebook is not None else []
    how = mode(sandbox)

    def result(status: str, checks: list[dict[str, Any]], notes: list[str]) -> SubmissionResult:
        score = 0.0 if status == "tampered" else sum(c["points"] for c in checks if c["status"] != "manual")
        return SubmissionResult(sub.student, ex.id, status, round(score, 4), ex.max_score, checks, extra + notes,
                                round(time.perf_counter() - start, 2), fp)

    if sub.notebook is None:
        note = sub.problem or "no notebook found"
        return result("no_notebook", _checks_as(ex, "missing", note), [note])
    with tempfile.TemporaryDirectory(prefix="raftedu-grade-") as tmp:
        tmp_path = Path(tmp)
        work = tmp_path / "work"
        if sub.folder:  # a student's own folder: copy it whole, so relative paths keep working
            shutil.copytree(sub.root, work, symlinks=False, ignore_dangling_symlinks=True)
            notebook = work / sub.notebook.relative_to(sub.root)
        else:
            work.mkdir()
            notebook = work / sub.notebook.name
            shutil.copy2(sub.notebook, notebook)
        trusted_copy = tmp_path / "submitted.ipynb"  # what the judge reads: the worker cannot reach this folder
        shutil.copy2(notebook, trusted_copy)
        box = package(tmp_path / "box", ex.id, ex.reference_rules, near_copies=ex.near_copies)
        task = {"exercise": ex.id, "notebook": str(trusted_copy), "work": str(work), "box": str(box),
                "limits": asdict(limits), "secret": secret, "how": how}
        env = {k: v for k, v in os.environ.items() if k not in (SECRET_ENV, SECRET_FILE_ENV)}
        proc = subprocess.Popen([sys.executable, "-c", _JUDGE_COMMAND], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, start_new_session=True, cwd=tmp)
        try:
            out, err = proc.communicate(json.dumps(task).encode(), timeout=limits.submission_timeout + 20)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(proc.pid)
            out, err = proc.communicate()
        _kill(proc.pid)
    if timed_out:
        note = f"grading this submission ran over its {limits.submission_timeout:g} s limit and was stopped"
        return result("timeout", _checks_as(ex, "timeout", note), [note])
    text = out.decode(errors="replace")
    mark = text.rfind(_RESULT_MARK)
    if proc.returncode != 0 or mark < 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        note = f"grader error: the judge process failed: {tail[0][:300]}"
        return result("grader_error", _checks_as(ex, "error", note), [note])
    verdict = json.loads(text[mark + len(_RESULT_MARK):].splitlines()[0])
    graded = result(verdict["status"], verdict["checks"], list(verdict.get("notes", [])))
    graded.stats = dict(verdict.get("stats") or {}, sandbox=how)
    return graded


def _kill(pgid: int) -> None:
    """Kill a process's whole session (it and anything it started that stayed in it)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


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
        lines += ["", "Graded by hand: " + ", ".join(
            f"{c['name']} ({c['max_points']:g} point{'' if c['max_points'] == 1 else 's'})" for c in manual)]
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
                  fingerprint: str, sandbox: str | None = None) -> SubmissionResult:
    """:func:`grade_one` for an executor (a top-level function, so process pools and Dask can pickle it)."""
    try:
        return grade_one(sub, exercise, limits, secret, sandbox)
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
    executor: Executor | DaskClient | None = None,
    sandbox: str | None = None,
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
    ``concurrent.futures.Executor``: a process pool, ...; or a Dask
    ``distributed.Client`` or its ``client.get_executor()``) or else on
    ``jobs`` threads, each driving one worker process; the CSV is the same
    whichever runs them. On Dask, every worker is first asked whether it can
    grade (:func:`raftedu.grading.cluster.check_workers`: it reads the
    submissions at these paths, has this raftedu and the sandbox mode): if one
    cannot, a :class:`RuntimeError` says which and why, and nothing is graded.

    Student code runs only in sandboxed workers (:mod:`raftedu.grading.sandbox`):
    ``sandbox`` names the mode (``"bubblewrap"``, ``"unsandboxed"``; default:
    the strongest available here, or on Dask the strongest every worker has);
    a weaker mode is said in every row's notes.
    """
    from .cluster import check_workers, dask_client_of
    from .sandbox import mode

    ex = get_exercise(exercise)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a whole number >= 1; got {jobs!r}")
    client = dask_client_of(executor) if executor is not None else None
    if executor is not None and client is None and not isinstance(executor, Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor (e.g. ProcessPoolExecutor), a Dask "
                        f"distributed.Client or its client.get_executor(); got {type(executor).__name__}")
    subs = find_submissions(Path(submissions).absolute(), ex)  # absolute: a Dask worker runs in another folder
    if client is None:
        how = mode(sandbox)
    else:
        how = check_workers(client, [s.root if s.folder else s.notebook for s in subs if s.notebook is not None],
                            ex.notebook, sandbox)
    pool = executor if isinstance(executor, Executor) else \
        client.get_executor() if client is not None else ThreadPoolExecutor(max_workers=jobs)
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

    try:
        with tqdm(total=len(subs), initial=len(subs) - len(todo), desc=f"grading {ex.id}", unit="submission",
                  disable=not progress, file=sys.stderr) as bar:
            futures = [pool.submit(_grade_safely, s, ex.id, limits, key, fingerprints[s.student], how) for s in todo]
            for fut in as_completed(futures):
                record(fut.result())
                bar.update(1)
    finally:
        if pool is not executor:
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

