"""The checks judge behaviour: the reference scores full marks, starters zero, every mutant loses the right points."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import raftedu.grading as grading
from mutants import MUTANTS  # tests/ is on sys.path (conftest.py)
from raftedu.grading.notebooks import solution_namespace
from raftedu.raft import RaftNode

ROOT = Path(__file__).resolve().parents[1]

REFERENCE: dict = {}
for _ex in ("02", "03", "04"):
    REFERENCE.update(solution_namespace(ROOT / "solutions" / f"{grading.EXERCISES[_ex].notebook}.ipynb",
                                        grading.EXERCISES[_ex].functions))
REFERENCE.update(
    majority=lambda n: n // 2 + 1,
    failure_tolerance=lambda n: (n - 1) // 2,
    quorum_table=lambda m: [(n, n // 2 + 1, (n - 1) // 2) for n in range(1, m + 1)],
)
_EX05 = grading.EXERCISES["05"].functions
_SOLUTION05 = solution_namespace(ROOT / "solutions" / "05_even_vs_odd.ipynb", _EX05)
REFERENCE.update({name: _SOLUTION05[name] for name in _EX05})
"""Exercise 05's reference is its solution notebook: the experiment a student writes there."""
REFERENCE.update(solution_namespace(ROOT / "solutions" / "06_whole_server.ipynb", grading.EXERCISES["06"].functions))
"""Exercise 06's reference is its solution notebook's server (not derived from RaftNode)."""
REFERENCE.update(solution_namespace(ROOT / "solutions" / "07_bug_hunt.ipynb", grading.EXERCISES["07"].functions))
"""Exercise 07's reference: the solution notebook's hunts (fault schedules as data)."""
REFERENCE.update(solution_namespace(ROOT / "solutions" / "08_kv_store.ipynb", grading.EXERCISES["08"].functions))
"""Exercise 08's reference: the solution notebook's key-value server class (not derived from KVNode)."""
REFERENCE.update(solution_namespace(ROOT / "solutions" / "10_snapshots.ipynb", grading.EXERCISES["10"].functions))
"""Exercise 10's reference: the solution notebook's snapshot methods."""
REFERENCE.update(solution_namespace(ROOT / "solutions" / "11_prevote_checkquorum.ipynb", grading.EXERCISES["11"].functions))
"""Exercise 11's reference: the solution notebook's pre-vote and check-quorum methods."""
REFERENCE.update(solution_namespace(ROOT / "solutions" / "12_membership.ipynb", grading.EXERCISES["12"].functions))
"""Exercise 12's reference: the solution notebook's membership and transfer methods."""
OWN_NAMESPACE = {"09": solution_namespace(ROOT / "solutions" / "09_capstone.ipynb", grading.EXERCISES["09"].functions)}
"""Exercise 09 reuses the names MyServer and MyKV for other classes (08's rules over 06's server): its own namespace."""


def _starter(*args: object, **kwargs: object) -> None:
    raise NotImplementedError()


@pytest.mark.parametrize("exercise", sorted(grading.EXERCISES))
def test_reference_scores_full_marks_and_starter_zero(exercise: str) -> None:
    reference = OWN_NAMESPACE.get(exercise, REFERENCE)
    full = grading.run_checks(exercise, reference, hidden=True)
    assert full.passed and full.score == full.max_score > 0, full.table()
    again = grading.run_checks(exercise, reference, hidden=True)
    assert [(r.name, r.status, r.points) for r in again.results] == [(r.name, r.status, r.points) for r in full.results]
    starter = grading.run_checks(exercise, {name: _starter for name in REFERENCE}, hidden=True)
    assert starter.score == 0
    assert {r.status for r in starter.results} <= {"not_implemented", "manual"}


def test_the_mutation_suite_is_big_enough() -> None:
    assert len({(m.exercise, m.name.split(" (")[0]) for m in MUTANTS}) >= 12
    assert {m.exercise for m in MUTANTS} == {"02", "03", "04", "05"}


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: f"{m.exercise}-{m.name}")
def test_every_mutant_loses_points_on_its_check(mutant) -> None:
    """Every check that calls the mutated function runs (the others cannot see it); the designated one must fail."""
    namespace = dict(REFERENCE, **{mutant.function: mutant.fn})
    checks = {c.name: c for c in grading.get_exercise(mutant.exercise).selected(hidden=True)
              if mutant.function in c.needs}
    functions = grading.get_exercise(mutant.exercise).functions
    results = {name: grading.core.run_check(c, namespace, functions=functions) for name, c in checks.items()}
    result = results[mutant.catch]
    assert result.status == "fail" and result.points == 0, result
    assert result.hint, "a failing check must say why"
    assert sum(r.points for r in results.values()) < sum(c.points for c in checks.values())
    again = grading.core.run_check(checks[mutant.catch], namespace, functions=functions)
    assert again.hint == result.hint, "checks are deterministic: the same seed fails the same way"


def test_quorum_table_may_be_a_dataframe() -> None:
    import pandas as pd

    table = dict(REFERENCE, quorum_table=lambda m: pd.DataFrame(REFERENCE["quorum_table"](m), columns=["n", "maj", "tol"]))
    assert {r.name: r for r in grading.run_checks("01", table).results}["table_1_to_10"].passed


def test_quorum_checks_catch_etcds_misprint() -> None:
    """etcd's table prints 5 as the majority of 10; the checks say a majority of 10 is 6."""
    wrong = dict(REFERENCE, majority=lambda n: 5 if n == 10 else n // 2 + 1)
    report = grading.run_checks("01", wrong)
    row = {r.name: r for r in report.results}["majority_1_to_10"]
    assert row.status == "fail" and "majority(10) returned 5; expected 6" in row.hint


def test_student_check_prints_a_table_and_never_claims_all_passed(capsys: pytest.CaptureFixture[str]) -> None:
    report = grading.check("04", namespace=REFERENCE)
    out = capsys.readouterr()
    assert report.passed and out.err == ""
    assert "public checks passed — the grader runs more" in out.out
    assert "all passed" not in out.out.lower()
    assert "commit_rule_cases" in out.out and "figure8" in out.out
    assert "raftedu.explore.replay(" not in out.out  # no safety check failed: no counterexample line


def test_failing_check_names_scenario_seed_and_replay(capsys: pytest.CaptureFixture[str]) -> None:
    broken = next(m for m in MUTANTS if m.catch == "figure8")
    report = grading.check("04", namespace=dict(REFERENCE, advance_commit_index=broken.fn))
    out = capsys.readouterr().out
    assert not report.passed
    assert "Leader Completeness" in out and "seed 0" in out
    assert "raftedu.grading.replay('04', 'figure8', seed=0)" in out
    with pytest.raises(AssertionError, match="figure8"):
        report.require()
    # the run that broke it, shrunk, as one line to paste: run where the student's functions are, it breaks it again
    lines = [line.strip() for line in out.splitlines() if "raftedu.explore.replay(" in line]
    assert len(lines) == 1 and lines[0].startswith("import raftedu.explore, raftedu.grading; ")
    assert "raftedu.grading.my_node('04')" in lines[0] and "removing any one item loses it" in out
    statement, call = lines[0].rsplit(".explain()", 1)[0].split("; ", 1)
    notebook = {"advance_commit_index": broken.fn}
    exec(statement, notebook)
    ce = eval(call, notebook)
    assert ce.property == "Leader Completeness" and ce.replay().property == "Leader Completeness"
    recorded = next(r for r in report.results if r.name == broken.catch).replay["schedule"]  # the check's own run
    assert len(ce.schedule) < len(recorded)


def test_only_a_public_check_keeps_the_run_that_broke_a_property() -> None:
    """A hidden case's run (its crashes, partitions, seed) never reaches a result, so no line can carry it."""
    from raftedu.grading.core import Check, Unsafe, judge_check

    run = {"n": 3, "schedule": [[0, "crash", 2]], "seed": 4711}

    def judge(case, obs):
        raise Unsafe("broke it", "Election Safety", run)

    for public in (True, False):
        check = Check("c", 1, public, (), "", cases=lambda rng: [0], judge=judge)
        result = judge_check(check, [0], [{"case": 0, "obs": None}])
        assert result.unsafe == "Election Safety" and (result.replay == run) is public
        assert "replay" not in result.to_dict()  # nor is it written to a journal or feedback


def test_replay_returns_the_cluster_stopped_at_the_violation(capsys: pytest.CaptureFixture[str]) -> None:
    broken = next(m for m in MUTANTS if m.catch == "figure8")
    cluster = grading.replay("04", "figure8", seed=0, namespace={"advance_commit_index": broken.fn})
    assert "Leader Completeness" in capsys.readouterr().out
    assert len(cluster.trace) > 0 and cluster.trace.of_kind("commit")


def test_misbehaving_student_code_gets_a_status_not_an_exception() -> None:
    def loops(self, *a):
        while True:
            pass

    def writes_stderr(self, *a):
        print("debug", file=sys.stderr)
        return REFERENCE["log_is_up_to_date"](self, *a)

    def raises(self, *a):
        return {}["oops"]

    def hogs(self, *a):
        raise MemoryError()

    check = grading.get_exercise("02").checks[0]
    for fn, status, points in ((loops, "timeout", 0), (writes_stderr, "pass", 2), (raises, "error", 0),
                               (hogs, "memory", 0)):
        r = grading.core.run_check(check, {"log_is_up_to_date": fn}, time_limit=0.5)
        assert (r.status, r.points) == (status, points), (fn.__name__, r)
    r = grading.core.run_check(check, {"log_is_up_to_date": writes_stderr})
    assert "wrote to stderr ('debug'" in r.note and "costs no points" in r.note
    r = grading.core.run_check(check, {"log_is_up_to_date": 3})
    assert r.status == "missing" and "log_is_up_to_date" in r.hint


def test_a_timeout_names_the_function_the_case_and_the_seed() -> None:
    def loops(self, *a):
        while True:
            pass

    namespace = dict(REFERENCE, handle_request_vote_reply=loops)
    rows = {r.name: r for r in grading.run_checks("02", namespace, time_limit=0.5).results}
    assert rows["vote_counting"].status == "timeout"
    assert "handle_request_vote_reply on case 1 of 7" in rows["vote_counting"].hint
    hint = rows["majority_elects"].hint
    assert rows["majority_elects"].status == "timeout" and "handle_request_vote_reply" in hint
    assert "scenario majority_side, seed 1" in hint


def test_05s_endless_loop_is_a_timeout_not_a_memory_problem() -> None:
    from raftedu import Cluster

    def never_gives_up(n, k, trials, seed, node_class=RaftNode):
        c = Cluster(n, seed=seed, node_class=node_class)
        for victim in range(1, k + 1):
            c.crash(victim)
        while c.leader() is None:  # never true once a majority is down
            c.run(10)
        return 1.0

    rows = {r.name: r for r in grading.run_checks("05", dict(REFERENCE, crash_success_rate=never_gives_up),
                                                  only="crash_rates", time_limit=1.0).results}
    row = rows["crash_rates"]
    assert row.status == "timeout", row
    assert "crash_success_rate on case" in row.hint and "seed=" in row.hint and "memory" not in row.hint


def test_unknown_exercise_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown exercise '99'.*01 .*02"):
        grading.get_exercise("99")
    assert grading.get_exercise(2).id == grading.get_exercise("02_request_vote").id == "02"


def test_code_that_never_calls_note_is_judged_on_what_it_did() -> None:
    """A correct receiver that reports nothing must not trip a false violation (commit before append)."""
    from mutants import _append, _commit

    assert grading.run_checks("03", {"handle_append_entries": _append}, hidden=True).passed
    assert grading.run_checks("04", {"advance_commit_index": _commit}, hidden=True).passed


def test_grading_imports_only_the_layers_below() -> None:
    import subprocess

    code = ("import sys, raftedu.grading, raftedu.grading.runner, raftedu.__main__; "
            "bad = [m for m in sys.modules if m.startswith(('raftedu.viz', 'raftedu.widgets', 'plotly', "
            "'ipywidgets', 'nbclient', 'nbformat'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]" and out.stderr == ""


def test_05_public_checks_are_quick_and_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    report = grading.check("05", namespace=REFERENCE)
    out = capsys.readouterr()
    assert report.passed and out.err == ""
    assert "why_odd" in out.out and "graded by hand" in out.out
    assert sum(r.seconds for r in report.results) < 5


def test_05_an_experiment_that_computes_instead_of_measuring_is_told_so() -> None:
    from mutants import _crash_rate, tolerance_by_formula

    def no_node_class(n: int, k: int, trials: int, seed: int) -> float:
        return _crash_rate(n, k, trials, seed)

    report = grading.run_checks("05", dict(REFERENCE, measured_tolerance=tolerance_by_formula,
                                           crash_success_rate=no_node_class), hidden=True)
    rows = {r.name: r for r in report.results}
    assert rows["measured_tolerance_1_to_10"].passed and rows["crash_rates"].passed
    assert rows["uses_node_class"].status == "fail"
    assert "must keep its node_class=RaftNode parameter" in rows["uses_node_class"].hint
    formula_only = grading.run_checks("05", dict(REFERENCE, measured_tolerance=tolerance_by_formula))
    hint = {r.name: r for r in formula_only.results}["uses_node_class"].hint
    assert "needs every server" in hint and "do not compute it" in hint
