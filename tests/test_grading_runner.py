"""The bulk grader on real notebooks: correct, wrong, starter and hostile submissions, one batch, no grade lost.

These tests start Jupyter kernels (a few seconds each), so the sample batch is
graded once per session and shared.
"""

from __future__ import annotations

import csv
import fcntl
import os
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from raftedu.__main__ import main
from raftedu.grading import EXERCISES, Limits, grade
from raftedu.grading.runner import SUBMISSION_STATUSES, find_submissions

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "submissions_02"
LIMITS = Limits(cell_timeout=10, check_timeout=60, submission_timeout=600, memory_mb=1024)
SECRET = "test-secret-for-hidden-cases"
"""The instructor's secret these tests grade with (hidden cases and seeds derive from it)."""

# student -> (status, score) for exercise 02 (17 points)
EXPECTED = {
    "correct (file)": ("ok", 17),
    "correct (folder)": ("ok", 3),  # the same name as correct.ipynb: both graded, neither lost (unsafe: halved)
    "wrong_log_length_only": ("ok", 3),  # unsafe (the sweep's stale messages catch it): half of the 6 points it earns
    "starter_untouched": ("error", 0),
    "unparseable": ("unparseable", 0),
    "syntax_error": ("unparseable", 4),
    "lacks_function": ("missing_function", 5),
    "raises_in_cell": ("error", 17),
    "hostile_loops_at_top_level": ("timeout", 17),
    "hostile_writes_stderr": ("ok", 17),  # stderr costs no points; the notes say so
    "hostile_exhausts_memory": ("memory", 4),
    "hostile_kills_kernel": ("kernel_died", 0),
    "hostile_deletes_files": ("review", 17),  # it deletes files in its sandbox's copy: harmless, but worth a look
}
NOT_IN_THE_BATCH = {
    "folder_student": "a folder with a notebook and a note: found by test_submission_discovery; a folder is graded as "
                      "'correct (folder)' is, full marks as 'correct (file)' (each a sweep of ~30 s CPU under load)",
    "logs_and_warns": "graded whole by tests/test_grading_trust.py (nbgrader's points), which also checks that its "
                      "stderr is not copied out; stderr in a batch: hostile_writes_stderr",
    "hostile_loops_in_function": "its own test, with a short check limit: the batch's 60 s limit (for the honest "
                                 "sweeps under load) would be 60 s of a looping worker",
}
"""Fixture submissions the shared batch leaves out (and where what they show is shown)."""


@pytest.fixture(scope="module")
def batch_submissions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample class (the fixtures but :data:`NOT_IN_THE_BATCH`), in a folder all pytest-xdist workers share."""
    root = tmp_path_factory.getbasetemp()
    shared = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "raftedu-grading-batch"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "submissions").exists():
            shutil.copytree(FIXTURES, shared / "submissions.tmp",
                            ignore=lambda _, names: [n for n in names if Path(n).stem in NOT_IN_THE_BATCH])
            (shared / "submissions.tmp").rename(shared / "submissions")
    return shared / "submissions"


@pytest.fixture(scope="module")
def batch(batch_submissions: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    """The sample class graded once per test session, even across pytest-xdist workers.

    The first worker grades while holding a lock on a folder all workers
    share; the others then call grade() on the same journal, which resumes
    and grades nobody again.
    """
    shared = batch_submissions.parent
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = grade(batch_submissions, "02", shared / "out" / "grades.csv", jobs=2, limits=LIMITS, progress=False,
                        secret=SECRET)
        mine = tmp_path_factory.mktemp("grades") / "out"
        shutil.copytree(shared / "out", mine)  # this worker's own copy: no one rewrites it under our feet
    return mine / "grades.csv", results


def test_every_submission_gets_its_own_status_and_score(batch: tuple[Path, list], batch_submissions: Path) -> None:
    _, results = batch
    got = {r.student: (r.status, r.score) for r in results}
    assert got == EXPECTED
    assert (batch_submissions / "hostile_deletes_files.ipynb").exists(), "it ran in a temporary copy"
    assert set(EXPECTED.values()) and {s for s, _ in EXPECTED.values()} <= set(SUBMISSION_STATUSES)


def test_csv_has_nbgrader_like_columns_and_per_check_points(batch: tuple[Path, list]) -> None:
    out, _ = batch
    rows = {r["student"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert sorted(rows) == sorted(EXPECTED)
    correct = rows["correct (file)"]
    assert (correct["exercise"], correct["score"], correct["max_score"], correct["status"]) == ("02", "17", "17", "ok")
    for check in EXERCISES["02"].checks:
        assert correct[check.name] == f"{check.points:g}" and correct[f"{check.name}_status"] == "pass"
    wrong = rows["wrong_log_length_only"]
    assert wrong["up_to_date_rule_status"] == "fail" and wrong["up_to_date_rule"] == "0"
    assert rows["hostile_writes_stderr"]["up_to_date_rule_status"] == "pass"
    # what the worker writes costs nothing, and its raw text is never copied out (logs_and_warns: test_grading_trust.py)
    assert "stderr" not in rows["hostile_writes_stderr"]["notes"] or "review" in rows["hostile_writes_stderr"]["notes"]
    assert rows["hostile_exhausts_memory"]["vote_receiver_rules_status"] == "memory"
    assert "os.remove" in rows["hostile_deletes_files"]["notes"]  # harmless in its sandbox's copy: flagged
    assert "two submissions map to student 'correct'" in rows["correct (folder)"]["notes"]
    assert "seconds" not in rows["correct (file)"], "the CSV holds no timings: the same notebooks give the same CSV"
    journal = out.with_suffix(".jsonl").read_text(encoding="utf-8").splitlines()
    assert len(journal) == len(EXPECTED)


def test_feedback_explains_without_showing_hidden_tests(batch: tuple[Path, list]) -> None:
    out, _ = batch
    text = (out.parent / "feedback" / "wrong_log_length_only.md").read_text(encoding="utf-8")
    assert "**Score: 3 / 17**" in text and "up_to_date_rule" in text and "stale_log_election" in text
    assert "Leader Completeness" in text and "replay" in text
    ours = [line for line in text.splitlines() if line.startswith("import raftedu.explore, raftedu.grading; ")]
    assert len(ours) == 1  # the grader's own line (the public check's run, shrunk), the one import allowed here
    for secret in ("BEGIN HIDDEN", "run_checks", "def ", "import "):
        assert secret not in text.replace(ours[0], "")
    assert "ran over" in (out.parent / "feedback" / "hostile_loops_at_top_level.md").read_text(encoding="utf-8")


def test_a_public_safety_failure_offers_its_run_shrunk_as_one_line_that_breaks_it_again(batch: tuple[Path, list]) -> None:
    out, results = batch
    feedback = {path.stem: path.read_text(encoding="utf-8") for path in (out.parent / "feedback").glob("*.md")}
    offered = {name for name, text in feedback.items() if "raftedu.explore.replay(" in text}
    unsafe = {r.student for r in results if r.checks and any(c.get("unsafe") and c["public"] for c in r.checks)}
    assert offered == unsafe == {"wrong_log_length_only", "correct (folder)"}, "only a server that broke a property"
    text = feedback["wrong_log_length_only"]
    section = text.split("### stale_log_loses (public)", 1)[1].split("###", 1)[0]  # under the public check it broke
    lines = [line for line in section.splitlines() if "raftedu.explore.replay(" in line]
    assert len(lines) == 1 and "schedule items" in section and text.count("raftedu.explore.replay(") == 1
    notebook: dict = {}  # the student's notebook: its import and function cells, then the pasted line
    cells = nbformat.read(FIXTURES / "wrong_log_length_only.ipynb", as_version=4).cells
    for cell in [c for c in cells if c.cell_type == "code"][:4]:
        exec(cell.source, notebook)
    statement, call = lines[0].rsplit(".explain()", 1)[0].split("; ", 1)
    exec(statement, notebook)
    ce = eval(call, notebook)
    assert ce.property == "Leader Completeness" and ce.replay().property == "Leader Completeness"
    assert len(ce.schedule) < 9  # the scenario's run had 9 items


def test_gradescope_json_follows_the_results_format(batch: tuple[Path, list]) -> None:
    out, _ = batch
    data = json.loads((out.parent / "gradescope" / "wrong_log_length_only.json").read_text(encoding="utf-8"))
    assert data["score"] == 3  # 6 points earned, halved: it broke Leader Completeness
    tests = {t["name"]: t for t in data["tests"]}
    assert tests["up_to_date_rule"]["status"] == "failed" and tests["up_to_date_rule"]["max_score"] == 2
    assert tests["elections_under_faults_hidden"]["visibility"] == "after_published"
    assert tests["up_to_date_rule"]["visibility"] == "visible"


def test_a_rerun_resumes_from_the_journal(batch: tuple[Path, list], batch_submissions: Path) -> None:
    out, results = batch
    before = out.read_text(encoding="utf-8")
    regraded = []
    again = grade(batch_submissions, "02", out, jobs=2, limits=LIMITS, progress=False, on_result=regraded.append,
                  secret=SECRET)
    assert regraded == []
    assert [(r.student, r.score) for r in again] == [(r.student, r.score) for r in results]
    assert out.read_text(encoding="utf-8") == before


GRADED_ELSEWHERE = {"06": ("solution",), "08": ("solution",), "09": ("solution",),
                    "10": ("solution", "starter"), "11": ("solution", "starter"), "12": ("solution", "starter")}
"""What tests/test_exercise_NN.py already grades through the grader, with the same claims (the solution: full marks,
status ok, no note; the starter: 0): not graded a second time here."""


def test_solutions_score_full_marks_and_starters_zero_through_the_grader(tmp_path: Path) -> None:
    for ex in EXERCISES.values():
        kinds = [k for k in ("solution", "starter") if k not in GRADED_ELSEWHERE.get(ex.id, ())]
        if not kinds:
            continue
        one = tmp_path / ex.id
        one.mkdir()
        for kind in kinds:
            shutil.copy(ROOT / ("solutions" if kind == "solution" else "exercises") / f"{ex.notebook}.ipynb",
                        one / f"{kind}.ipynb")
        results = {r.student: r for r in grade(one, ex.id, tmp_path / f"{ex.id}.csv", jobs=2, limits=LIMITS,
                                               progress=False, secret=SECRET)}
        if "solution" in kinds:
            assert results["solution"].score == ex.max_score and results["solution"].status == "ok", results["solution"]
            assert results["solution"].notes == []
        assert results["starter"].score == 0


def test_solution_notebooks_run_top_to_bottom_with_their_test_cells(tmp_path: Path) -> None:
    """What nbgrader would do: every cell, tests included, runs without an error or a byte on stderr."""
    for ex in ("01", "04", "05"):
        nb = nbformat.read(ROOT / "solutions" / f"{EXERCISES[ex].notebook}.ipynb", as_version=4)
        NotebookClient(nb, timeout=60, kernel_name="python3", store_widget_state=False,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
        assert any("public checks passed — the grader runs more" in o.get("text", "") for o in outputs)
        assert "widgets" not in nb.metadata


def test_cli_grade_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(FIXTURES / "wrong_log_length_only.ipynb", subs / "bob.ipynb")
    out = tmp_path / "g.csv"
    assert main(["grade", str(subs), "--exercise", "02", "--out", str(out), "--no-progress", "--jobs", "1"]) == 0
    shown = capsys.readouterr().out
    assert "graded 1 submission(s)" in shown
    assert "hidden cases come from your secret" in shown
    assert (tmp_path / "feedback" / "bob.md").exists() and (tmp_path / "gradescope" / "bob.json").exists()
    assert main(["check", str(FIXTURES / "wrong_log_length_only.ipynb"), "--exercise", "02"]) == 1
    shown = capsys.readouterr().out
    assert "up_to_date_rule" in shown and "FAIL" in shown and "_hidden" not in shown


def test_submission_discovery(tmp_path: Path) -> None:
    subs = find_submissions(FIXTURES, "02")
    by_name = {s.student: s for s in subs}
    assert by_name["folder_student"].folder and by_name["folder_student"].notebook.name == "02_request_vote.ipynb"
    (tmp_path / "empty_student").mkdir()
    (tmp_path / "two").mkdir()
    for name in ("a.ipynb", "b.ipynb"):
        (tmp_path / "two" / name).write_text("{}")
    found = {s.student: s for s in find_submissions(tmp_path, "02")}
    assert found["empty_student"].notebook is None and "no .ipynb" in found["empty_student"].problem
    assert found["two"].notebook is None and "2 notebooks" in found["two"].problem
    with pytest.raises(FileNotFoundError, match="no submissions at"):
        find_submissions(tmp_path / "missing", "02")
    with pytest.raises(ValueError, match="memory_mb"):
        Limits(memory_mb=1)


def test_a_function_that_loops_times_out_its_checks_and_the_others_still_count() -> None:
    from raftedu.grading.runner import Submission, grade_one

    path = FIXTURES / "hostile_loops_in_function.ipynb"  # handle_request_vote_reply loops; the rest is the solution
    r = grade_one(Submission(path.stem, path, path.parent), "02", Limits(cell_timeout=10, check_timeout=5,
                                                                          memory_mb=1024), secret=SECRET)
    statuses = {c["name"]: c["status"] for c in r.checks}
    assert (r.status, r.score) == ("timeout", 5), (r.status, r.score, statuses)
    assert statuses["vote_counting"] == "timeout" and statuses["up_to_date_rule"] == "pass", statuses


def test_submission_time_limit_stops_everything_and_reports_it() -> None:
    from raftedu.grading.runner import Submission, grade_one

    path = FIXTURES / "hostile_loops_at_top_level.ipynb"
    r = grade_one(Submission(path.stem, path, path.parent), "02",
                  Limits(cell_timeout=60, submission_timeout=5, memory_mb=1024))
    assert r.status == "timeout" and r.score == 0 and "ran over its 5 s limit" in r.notes[0]
    assert r.seconds < 15
    assert {c["status"] for c in r.checks} == {"timeout"}
