"""The bulk grader: every submission in its own subprocess and kernel, with limits; results as they come.

This is **not a security sandbox**. Limits (time per cell, per check and per
submission; address-space memory; file size) and a temporary copy of each
submission contain accidents and ordinary bad code, so one misbehaving
notebook never costs anyone else's grade. Student code still runs as your
user, with your network and your files: grade untrusted work inside a
container (see the README, "Exercises and grading").

Flow for one submission (:func:`grade_one`): copy it into a fresh temporary
folder, start ``python -m raftedu.grading.runner`` there (the *worker*) in a
new session with ``RLIMIT_AS``/``RLIMIT_FSIZE`` set, which executes the
notebook's cells with nbclient (test cells skipped, widget state off,
per-cell timeout, interrupt on timeout) and finally a cell that runs every
check in that kernel and prints the results behind a one-time marker. The
parent kills the whole thing if it overruns, then turns whatever happened
into a status. :func:`grade` does a folder in parallel, journals each result
as soon as it exists (so a rerun resumes), and writes the CSV, per-student
feedback and Gradescope JSON.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .core import STATUSES
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
    "gradescope_json",
]

SUBMISSION_STATUSES = {
    "ok": "graded",
    "unparseable": "the notebook does not parse (not valid notebook JSON, or Python with syntax errors)",
    "no_notebook": "no notebook for this exercise was found in the submission",
    "timeout": "something ran over its time limit (an endless loop?) and was stopped",
    "memory": "the code ran out of memory",
    "kernel_died": "the Python kernel died while running the notebook",
    "deleted_files": "the notebook deleted files in its working folder",
    "stderr": "the code wrote to stderr",
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
    return subs


# --------------------------------------------------------------------------
# The worker: runs inside the subprocess
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


def _run_worker(exercise: str, notebook: Path, workdir: Path, result_path: Path, limits: Limits) -> None:
    """Execute one submission and write the raw findings to ``result_path`` (JSON)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    from .notebooks import test_cells

    findings: dict[str, Any] = {"flags": [], "notes": [], "checks": None}

    def flag(kind: str, note: str) -> None:
        findings["flags"].append(kind)
        findings["notes"].append(note)

    def save() -> None:
        result_path.write_text(json.dumps(findings), encoding="utf-8")

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception as e:
        flag("unparseable", f"the notebook is not valid notebook JSON: {type(e).__name__}: {str(e)[:200]}")
        save()
        return
    for note in _syntax_errors(nb):
        flag("unparseable", note)
    before = _listing(workdir)
    skip = set(test_cells(nb))
    marker = "@@raftedu-result-" + secrets.token_hex(8) + "@@"
    run_nb = nbformat.v4.new_notebook(metadata=nb.metadata)
    origin = []
    for k, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and k not in skip:
            run_nb.cells.append(nbformat.v4.new_code_cell(cell.source))
            origin.append(k + 1)
    report = nbformat.v4.new_code_cell(
        f"import raftedu.grading.student as _raftedu_grader\n"
        f"_raftedu_grader.kernel_report({exercise!r}, {marker!r}, time_limit={limits.check_timeout!r})")
    run_nb.cells.append(report)
    report_timeout = math.ceil(limits.check_timeout * 10 + 30)
    cell_timeout = max(1, math.ceil(limits.cell_timeout))
    client = NotebookClient(
        run_nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
        interrupt_on_timeout=True, store_widget_state=False, record_timing=False, shutdown_kernel="immediate",
        timeout_func=lambda cell: report_timeout if cell is report else cell_timeout,
        resources={"metadata": {"path": str(workdir)}},
        error_on_timeout={"ename": "CellTimeoutError", "evalue": "cell timed out", "traceback": []},
    )
    pid_file = result_path.with_suffix(".kernel-pid")
    try:
        with client.setup_kernel():
            pid = getattr(client.km.provisioner, "pid", None) if client.km and client.km.provisioner else None
            if pid:
                pid_file.write_text(str(pid))
            for index, cell in enumerate(run_nb.cells):
                client.execute_cell(cell, index)
    except DeadKernelError:
        flag("kernel_died", "the kernel died (often: memory exhausted, or the code exited the process)")
    except Exception as e:
        flag("grader_error", f"executing the notebook failed: {type(e).__name__}: {str(e)[:300]}")
    for cell, where in zip(run_nb.cells, origin + ["grading"]):
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name == "stdout" and cell is report:
                for line in out.text.splitlines():
                    if line.startswith(marker):
                        findings["checks"] = json.loads(line[len(marker):])
            elif out.output_type == "stream" and out.name == "stderr" and cell is not report:
                flag("stderr", f"cell {where} wrote to stderr: {out.text.strip()[:120]!r}")
            elif out.output_type == "error":
                if out.ename == "KeyboardInterrupt" or out.ename == "CellTimeoutError":
                    flag("timeout", f"cell {where} ran over {limits.cell_timeout:g} s and was interrupted")
                elif out.ename == "MemoryError":
                    flag("memory", f"cell {where} ran out of memory ({limits.memory_mb} MiB)")
                elif cell is report:
                    flag("grader_error", f"the checks could not run: {out.ename}: {out.evalue[:200]}")
                else:
                    flag("error", f"cell {where} raised {out.ename}: {out.evalue[:200]}")
    gone = sorted(before - _listing(workdir)) if workdir.exists() else ["(the whole working folder)"]
    if gone:
        flag("deleted_files", f"deleted {len(gone)} file(s) in its working folder: {', '.join(gone[:5])}")
    save()


def _worker_main(argv: list[str]) -> int:
    """``python -m raftedu.grading.runner EXERCISE NOTEBOOK WORKDIR RESULT LIMITS_JSON`` (used by the grader)."""
    exercise, notebook, workdir, result, limits_json = argv
    limits = Limits(**json.loads(limits_json))
    _set_limits(limits)
    os.chdir(workdir)
    _run_worker(exercise, Path(notebook), Path(workdir), Path(result), limits)
    return 0


# --------------------------------------------------------------------------
# The parent: one submission
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _grader_source_hash() -> str:
    """Hash of the code that decides a grade: this package and the core it runs student code in."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(here.glob("*.py")) + [here.parent / f"{m}.py" for m in ("raft", "sim", "checks", "trace")]:
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()


def _fingerprint(sub: Submission, ex: Exercise, limits: Limits) -> str:
    """What a journaled grade depends on: the notebook's bytes, the exercise, the limits and the grader's code."""
    h = hashlib.sha256(repr((_grader_source_hash(), ex.id, asdict(limits))).encode())
    if sub.notebook is not None and sub.notebook.exists():
        h.update(sub.notebook.read_bytes())
    return h.hexdigest()[:16]


def _kill(proc: subprocess.Popen[bytes], pid_file: Path) -> None:
    """Kill an overrunning worker's session and its kernel's session (the kernel runs in one of its own).

    Only called while the worker is still running, so both ids still name
    the processes this grader started.
    """
    targets = [proc.pid]
    try:
        targets.append(int(pid_file.read_text()))
    except (OSError, ValueError):
        pass  # the kernel had not started yet
    for pgid in reversed(targets):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    proc.wait()


def _checks_as(ex: Exercise, status: str, hint: str) -> list[dict[str, Any]]:
    return [dict(name=c.name, points=0.0, max_points=c.points, status="manual" if c.manual else status,
                 public=c.public, description=c.description, hint="an instructor grades this answer by hand"
                 if c.manual else hint, seconds=0.0) for c in ex.checks]


def _status(flags: Iterable[str], checks: list[dict[str, Any]]) -> str:
    found = set(flags)
    statuses = {c["status"] for c in checks}
    found |= {s for s in ("timeout", "memory", "stderr") if s in statuses}
    if "missing" in statuses:
        found.add("missing_function")
    if "error" in statuses:
        found.add("error")
    return next((s for s in SUBMISSION_STATUSES if s in found), "ok")


def grade_one(sub: Submission, exercise: str | Exercise, limits: Limits = Limits()) -> SubmissionResult:
    """Grade one submission in its own temporary folder and subprocess; never raises for anything it does."""
    ex = exercise if isinstance(exercise, Exercise) else get_exercise(exercise)
    start = time.perf_counter()
    fp = _fingerprint(sub, ex, limits)

    def result(status: str, checks: list[dict[str, Any]], notes: list[str]) -> SubmissionResult:
        score = sum(c["points"] for c in checks if c["status"] != "manual")
        return SubmissionResult(sub.student, ex.id, status, round(score, 4), ex.max_score, checks, notes,
                                round(time.perf_counter() - start, 2), fp)

    if sub.notebook is None:
        note = sub.problem or "no notebook found"
        return result("no_notebook", _checks_as(ex, "missing", note), [note])
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
        result_path = tmp_path / "result.json"
        env = dict(os.environ, MALLOC_ARENA_MAX="2", PYDEVD_DISABLE_FILE_VALIDATION="1", JUPYTER_PLATFORM_DIRS="1")
        cmd = [sys.executable, "-m", "raftedu.grading.runner", ex.id, str(notebook), str(work), str(result_path),
               json.dumps(asdict(limits))]
        with open(tmp_path / "worker.log", "wb") as log:
            proc = subprocess.Popen(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True)
            try:
                proc.wait(timeout=limits.submission_timeout)
            except subprocess.TimeoutExpired:
                _kill(proc, result_path.with_suffix(".kernel-pid"))
                note = f"the submission ran over its {limits.submission_timeout:g} s limit and was stopped"
                return result("timeout", _checks_as(ex, "timeout", note), [note])
        try:
            findings = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            tail = (tmp_path / "worker.log").read_text(errors="replace")[-400:]
            note = f"the grading process ended without a result (exit code {proc.returncode}): {tail.strip()}"
            flag = "memory" if "MemoryError" in tail else "grader_error"
            return result(flag, _checks_as(ex, flag if flag == "memory" else "error", note), [note])
    flags, notes = findings["flags"], findings["notes"]
    checks = findings["checks"]
    if checks is None:
        why = notes[-1] if notes else "the checks did not run"
        flag = next((f for f in ("unparseable", "timeout", "memory", "kernel_died") if f in flags), "grader_error")
        checks = _checks_as(ex, {"unparseable": "error", "kernel_died": "error"}.get(flag, flag), why)
        if flag == "grader_error" and "grader_error" not in flags:
            flags.append("grader_error")
    return result(_status(flags, checks), checks, notes)


# --------------------------------------------------------------------------
# Outputs: CSV, feedback, Gradescope JSON
# --------------------------------------------------------------------------


def csv_columns(ex: Exercise) -> list[str]:
    """The CSV header: nbgrader-like columns, then points and status for each check."""
    cols = ["student", "exercise", "score", "max_score", "status", "notes", "seconds"]
    for c in ex.checks:
        cols += [c.name, f"{c.name}_status"]
    return cols


def csv_row(r: SubmissionResult, ex: Exercise) -> dict[str, Any]:
    """One CSV row (manual checks leave their points empty for the instructor)."""
    row: dict[str, Any] = {"student": r.student, "exercise": r.exercise, "score": f"{r.score:g}",
                           "max_score": f"{r.max_score:g}", "status": r.status, "notes": " | ".join(r.notes),
                           "seconds": r.seconds}
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
) -> list[SubmissionResult]:
    """Grade every submission under ``submissions`` for ``exercise`` and write ``out`` (CSV).

    Each result is appended to a journal (``out`` with suffix ``.jsonl``) and
    to the CSV the moment it exists; with ``resume`` a rerun skips students
    whose unchanged notebook is already in the journal (graded by the same
    raftedu version, checks and limits). ``feedback`` and
    ``gradescope`` are folders for ``<student>.md`` and ``<student>.json``
    (default: ``feedback/`` and ``gradescope/`` beside ``out``).
    """
    ex = get_exercise(exercise)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a whole number >= 1; got {jobs!r}")
    subs = find_submissions(submissions, ex)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    feedback_dir = Path(feedback) if feedback is not None else out.parent / "feedback"
    gradescope_dir = Path(gradescope) if gradescope is not None else out.parent / "gradescope"
    journal = out.with_suffix(".jsonl")
    done = _load_journal(journal, ex) if resume else {}
    if not resume and journal.exists():
        journal.unlink()
    fingerprints = {s.student: _fingerprint(s, ex, limits) for s in subs}
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

    def safe(sub: Submission) -> SubmissionResult:
        try:
            return grade_one(sub, ex, limits)
        except Exception as e:  # the batch must finish: a grader failure is one student's status, not a crash
            note = f"grader error: {type(e).__name__}: {e}"
            return SubmissionResult(sub.student, ex.id, "grader_error", 0.0, ex.max_score,
                                    _checks_as(ex, "error", note), [note], 0.0, fingerprints[sub.student])

    from tqdm import tqdm

    with tqdm(total=len(subs), initial=len(subs) - len(todo), desc=f"grading {ex.id}", unit="submission",
              disable=not progress, file=sys.stderr) as bar, ThreadPoolExecutor(max_workers=jobs) as pool:
        for fut in as_completed([pool.submit(safe, s) for s in todo]):
            record(fut.result())
            bar.update(1)
    for r in results.values():
        _write_outputs(r, ex, feedback_dir, gradescope_dir)
    ordered = [results[s.student] for s in subs]
    with open(out, "w", newline="", encoding="utf-8") as f:  # final CSV: one row per student, in order
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        for r in ordered:
            writer.writerow(csv_row(r, ex))
    return ordered


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
