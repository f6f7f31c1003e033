"""Grades an instructor can trust: cheats get nothing, doing nothing earns nothing, and every grader agrees.

The notebooks in ``tests/fixtures/cheats_02`` (built by ``tests/fixtures/build.py``)
each try one way of getting marks for exercise 02 without solving it; the
functions are left as the starter leaves them (or do nothing at all).
"""

from __future__ import annotations

import csv
import inspect
import shutil
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import raftedu.grading as grading
from raftedu.__main__ import main
from raftedu.grading import EXERCISES, Limits, grade
from raftedu.grading.core import SECRET_ENV
from raftedu.grading.kv_store import capstone_class, kv_class
from raftedu.grading.notebooks import solution_namespace
from raftedu.grading.core import UNSAFE_SHARE
from raftedu.grading.runner import Submission, grade_one
from raftedu.grading.whole_server import server_class
from raftedu.kv import KVServer, kv_on
from raftedu.raft import RaftNode, Server

ROOT = Path(__file__).resolve().parents[1]
CHEATS = ROOT / "tests" / "fixtures" / "cheats_02"
FIXTURES = ROOT / "tests" / "fixtures" / "submissions_02"
LIMITS = Limits(cell_timeout=20, check_timeout=60, submission_timeout=600, memory_mb=1024)
SECRET = "test-secret-for-hidden-cases"

# cheat -> the status it gets, and a phrase its notes (or first hint) must contain. Written for the grader before
# the sandbox (tests/test_hostile.py has the fresh set): each still gets 0 -- what it patched is in a sandboxed
# worker whose answers are only its nodes' and functions' -- and a status that says why.
CAUGHT = {
    "patches_run_check": ("error", "NotImplementedError"),  # the patch is harmless now; the rules are not written
    "replaces_exercises": ("error", "NotImplementedError"),
    "patches_print": ("review", "imports builtins"),
    "post_run_cell_hook": ("review", "uses IPython's shell"),
    "forges_result_and_kills_parent": ("tampered", "tampering:"),
    "floods_the_channel": ("tampered", "a frame of"),
    "forges_records_and_exits": ("tampered", "tampering:"),
    "assigns_the_reference": ("copied", "not available while exercise 02 is graded"),
    "delegates_to_the_reference": ("copied", "not available while exercise 02 is graded"),
    "saved_reference_early": ("copied", "not available while exercise 02 is graded"),
    "execs_raft_source": ("review", "runs code from a string"),
    "imports_a_second_raft": ("copied", "not available while exercise 02 is graded"),
    "execs_source_inside_the_function": ("review", "runs code from a string"),
    "thread_keeps_patching": ("review", "imports threading"),
    "swaps_a_module": ("review", "uses sys.modules"),
    "installs_a_tracer": ("review", "uses sys.settrace"),
    "never_votes": ("ok", ""),
}

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def cheats(tmp_path_factory: pytest.TempPathFactory) -> dict[str, grading.runner.SubmissionResult]:
    out = tmp_path_factory.mktemp("cheats") / "grades.csv"
    return {r.student: r for r in grade(CHEATS, "02", out, jobs=2, limits=LIMITS, progress=False, secret=SECRET)}


def test_the_cheat_suite_covers_every_class_of_the_issue() -> None:
    assert sorted(p.stem for p in CHEATS.glob("*.ipynb")) == sorted(CAUGHT)


@pytest.mark.parametrize("name", sorted(CAUGHT))
def test_no_cheat_gets_a_point_and_each_is_told_why(cheats: dict, name: str) -> None:
    r = cheats[name]
    status, phrase = CAUGHT[name]
    assert r.score == 0, (name, r.status, [(c["name"], c["status"]) for c in r.checks if c["points"]])
    assert r.status == status, (name, r.status, r.notes)
    said = " | ".join(r.notes) + " | " + " | ".join(c["hint"] for c in r.checks)
    assert phrase in said, (name, said[:600])


def test_a_node_that_never_votes_scores_zero_on_every_behaviour_check(cheats: dict) -> None:
    r = cheats["never_votes"]
    assert {c["status"] for c in r.checks} == {"fail"}
    hints = {c["name"]: c["hint"] for c in r.checks}
    assert "setup: S1 never became leader" in hints["stale_log_loses"]
    assert "elected no leader" in hints["majority_elects"]


def test_do_nothing_answers_score_zero_on_every_behaviour_check_of_every_exercise() -> None:
    """A function that does nothing (``pass``, or returns None) earns no behaviour check, in any exercise."""

    def nothing(*args: object, **kwargs: object) -> None:
        return None

    class Nothing(Server):  # exercise 06 asks for a whole server class
        def receive(self, msg: object, now: int) -> None:
            return None

        def on_timer(self, now: int) -> None:
            return None

        def propose(self, command: object, now: int) -> None:
            return None

    class NothingKV(KVServer):  # exercise 08 asks for a key-value server class
        def apply_command(self, op: object) -> None:
            return None

        def start_read(self, w: object) -> None:
            return None

        def on_read_confirmed(self, m: object) -> None:
            return None

        def serve_reads(self) -> None:
            return None

    class NothingOnNothing(kv_on(Nothing)):  # type: ignore[misc]  # exercise 09: 08's class over 06's
        apply_command = start_read = on_read_confirmed = serve_reads = nothing

    classes = {"MyServer": Nothing, "MyKV": NothingOnNothing}
    for ex in EXERCISES.values():
        answer = {server_class: Nothing, kv_class: NothingKV}.get(ex.build, nothing)
        funcs = {name: classes[name] if ex.build is capstone_class else answer for name in ex.functions}
        report = grading.run_checks(ex.id, funcs, hidden=True, secret=SECRET)
        earned = [(r.name, r.status) for r in report.results if r.points]
        assert earned == [], (ex.id, earned)
        # exercise 10's do-nothing entry_at and send_append_entries leave the node without the entries and the
        # bookkeeping (sent_at) the reference's Figure 2 code then reads: the node raises, an error, still 0 points
        allowed = {"fail", "manual", "error"} if ex.id == "10" else {"fail", "manual"}
        assert {r.status for r in report.results} <= allowed, ex.id


def test_the_known_do_nothing_loopholes_are_closed() -> None:
    ref = {}
    for ex in ("02", "04"):
        ref.update(solution_namespace(ROOT / "solutions" / f"{EXERCISES[ex].notebook}.ipynb", EXERCISES[ex].functions))

    def never_grants(self, m):
        from raftedu import RequestVoteReply

        self.send(RequestVoteReply(self.current_term, self.id, m.candidate_id, False))

    def does_not_commit(self):
        pass

    rows = {r.name: r for r in grading.run_checks("02", dict(ref, handle_request_vote=never_grants)).results}
    assert rows["stale_log_loses"].status == "fail" and "setup" in rows["stale_log_loses"].hint
    rows = {r.name: r for r in grading.run_checks("04", dict(ref, advance_commit_index=does_not_commit)).results}
    assert rows["figure8"].status == "fail" and "init must commit" in rows["figure8"].hint


def test_delegating_to_the_reference_fails_in_a_students_own_kernel_too() -> None:
    ref = solution_namespace(ROOT / "solutions" / "02_request_vote.ipynb", EXERCISES["02"].functions)

    def delegates(self, m):
        return RaftNode.handle_request_vote(self, m)

    rows = {r.name: r for r in grading.run_checks("02", dict(ref, handle_request_vote=delegates)).results}
    assert rows["vote_receiver_rules"].status == "copied"
    assert "switched off while your handle_request_vote is graded" in rows["vote_receiver_rules"].hint
    rows = {r.name: r for r in grading.run_checks("02", dict(ref, log_is_up_to_date=RaftNode.log_is_up_to_date)).results}
    assert {r.status for r in rows.values()} == {"copied"}
    assert RaftNode.handle_request_vote.__code__.co_name == "handle_request_vote"  # the lock let go afterwards
    assert grading.run_checks("02", ref).passed


def test_values_that_claim_to_equal_everything_are_just_objects() -> None:
    class Everything:
        def __eq__(self, other: object) -> bool:
            return True

        def __ne__(self, other: object) -> bool:
            return False

        def __bool__(self) -> bool:
            return True

    def sly(*args: object, **kwargs: object) -> Everything:
        return Everything()

    for ex in ("01", "05"):
        report = grading.run_checks(ex, {name: sly for name in EXERCISES[ex].functions}, hidden=True, secret=SECRET)
        assert report.score == 0, (ex, [(r.name, r.status) for r in report.results if r.points])


def test_hidden_cases_come_from_the_secret_not_from_the_source() -> None:
    source = inspect.getsource(grading.exercises)
    for ex in EXERCISES.values():
        for c in ex.checks:
            if c.manual:
                continue
            a, b = c.plan("first-secret-123"), c.plan("second-secret-456")
            if c.public:
                assert a == b == c.plan(None), c.name
            else:
                assert a != b and a == c.plan("first-secret-123"), c.name
    seeds = [case["seed"] for case in EXERCISES["02"].checks[6].plan(SECRET)]
    assert not any(str(s) in source for s in seeds if s > 1_000)
    with pytest.raises(ValueError, match="at least 8 characters"):
        grading.run_checks("02", {}, hidden=True, secret="short")


def test_grade_keeps_a_secret_it_made_and_the_worker_never_sees_one(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    subs = tmp_path / "subs"
    subs.mkdir()
    nb = nbformat.read(FIXTURES / "correct.ipynb", as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell(
        "import os\nassert not any('SECRET' in k for k in os.environ), sorted(os.environ)"))
    nbformat.write(nb, subs / "alice.ipynb")
    monkeypatch.setenv(SECRET_ENV, "instructor-secret-in-the-environment")
    first = grade(subs, "02", tmp_path / "a" / "g.csv", limits=LIMITS, progress=False)
    assert first[0].status == "review" and first[0].score == 17, first[0].notes  # it reads os.environ: a look
    monkeypatch.delenv(SECRET_ENV)
    grade(subs, "02", tmp_path / "b" / "g.csv", limits=LIMITS, progress=False)
    kept = tmp_path / "b" / ".raftedu-secret"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and len(kept.read_text().strip()) == 32


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding="utf-8")))


def test_the_csv_is_the_same_on_any_executor(tmp_path: Path) -> None:
    """Threads, a process pool, and `raftedu grade --scheduler` on a local Dask cluster (one worker process, which
    checks first that it can grade): the same CSV, byte for byte."""
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("lacks_function", "syntax_error", "starter_untouched"):  # real checks, points, three statuses: cheap
        shutil.copy(FIXTURES / f"{name}.ipynb", subs / f"{name}.ipynb")
    grade(subs, "02", tmp_path / "threads" / "g.csv", jobs=2, limits=LIMITS, progress=False, secret=SECRET)
    with ProcessPoolExecutor(2) as pool:
        grade(subs, "02", tmp_path / "processes" / "g.csv", limits=LIMITS, progress=False, secret=SECRET,
              executor=pool)
    threads, processes = _csv(tmp_path / "threads" / "g.csv"), _csv(tmp_path / "processes" / "g.csv")
    assert threads == processes and len(threads) == 3
    assert (tmp_path / "threads" / "g.csv").read_bytes() == (tmp_path / "processes" / "g.csv").read_bytes()
    assert [(r["status"], r["score"]) for r in threads] == [("missing_function", "5"), ("error", "0"),
                                                            ("unparseable", "4")]
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        grade(subs, "02", tmp_path / "x.csv", executor=object(), progress=False, secret=SECRET)
    distributed = pytest.importorskip("distributed", reason='Dask is not installed (pip install "raftedu[dask]")')
    (tmp_path / "secret").write_text(SECRET + "\n")
    limits = ["--cell-timeout", f"{LIMITS.cell_timeout:g}", "--check-timeout", f"{LIMITS.check_timeout:g}",
              "--timeout", f"{LIMITS.submission_timeout:g}", "--memory-mb", str(LIMITS.memory_mb)]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as lc:
        assert main(["grade", str(subs), "-e", "02", "-o", str(tmp_path / "dask" / "g.csv"), "--no-progress",
                     "--secret-file", str(tmp_path / "secret"), "--scheduler", lc.scheduler_address, *limits]) == 0
    assert (tmp_path / "dask" / "g.csv").read_bytes() == (tmp_path / "threads" / "g.csv").read_bytes()


def _nbgrader_points(nb: nbformat.NotebookNode) -> dict[str, float]:
    """What nbgrader's autograder gives each test cell: its points, unless it raised or wrote to stderr."""
    points = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            bad = any(o.output_type == "error" or o.get("name") == "stderr" for o in cell.outputs)
            points[meta["grade_id"]] = 0.0 if bad else float(meta["points"])
    return points


@pytest.mark.parametrize("name", ["wrong_log_length_only", "logs_and_warns", "lacks_function"])
def test_nbgrader_and_raftedu_grade_give_the_same_points_per_check(tmp_path: Path, name: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """One test cell per check, same points: executed as nbgrader does (the secret in the environment), a
    notebook scores exactly what ``raftedu grade`` gives it, check by check."""
    path = FIXTURES / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    release = nbformat.read(ROOT / "solutions" / "02_request_vote.ipynb", as_version=4)
    tests = {c.metadata["nbgrader"]["grade_id"]: c.source for c in release.cells
             if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    for cell in nb.cells:  # the instructor's copy of the test cells, hidden tests included (nbgrader's autograde)
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in tests:
            cell.source = tests[gid]
    monkeypatch.setenv(SECRET_ENV, SECRET)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True, store_widget_state=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    by_nbgrader = _nbgrader_points(nb)
    r = grade_one(Submission(name, path, path.parent), "02", LIMITS, secret=SECRET)
    by_raftedu = {c["name"]: float(c["points"]) for c in r.checks if c["status"] != "manual"}
    if any(n.startswith("your server broke") for n in r.notes):  # nbgrader scores each test cell alone: it cannot
        by_nbgrader = {k: v * UNSAFE_SHARE for k, v in by_nbgrader.items()}  # apply the unsafe rule (README)
    assert by_nbgrader == by_raftedu, (r.status, r.notes)
    assert sum(by_nbgrader.values()) == r.score
    assert not any("debugging" in n or "just a warning" in n for n in r.notes), r.notes  # the worker's raw
    # stderr (logs_and_warns prints, logs and warns) is never copied into what the student or instructor reads
