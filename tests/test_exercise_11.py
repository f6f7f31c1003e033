"""Exercise 11, pre-vote and check-quorum: the solution gets full marks through the sandboxed grader, the starter, a
do-nothing answer and a cheat get nothing, every mutant loses the check meant for it with a hint naming the broken
rule, and a remote run of the student's extended node is the same run as a local one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import raftedu.grading as grading
from gradecheats import (assert_reference_methods_pass, autograde_output, grade_variants, rule_cheats,
                         solution_worker)  # tests/ is on sys.path (conftest.py)
from mutants11 import MUTANTS11
from raftedu import Cluster, RaftNode
from raftedu.grading.extensions import PREVOTE_RULES, checkquorum_cases, prevote_cases
from raftedu.grading.notebooks import solution_namespace

ROOT = Path(__file__).resolve().parents[1]
EX = grading.get_exercise("11")
SOLUTION = solution_namespace(ROOT / "solutions" / "11_prevote_checkquorum.ipynb", EX.functions)
SECRET = "test-secret-for-hidden-cases"


def test_the_exercise_asks_for_the_six_extension_methods_and_grades_each_kind_of_evidence() -> None:
    assert EX.functions == PREVOTE_RULES == ("in_lease", "start_pre_vote", "handle_pre_vote", "handle_pre_vote_reply",
                                             "ignores_vote_request", "lost_quorum")
    names = {c.name: c for c in EX.checks}
    for public in ("prevote_rules", "checkquorum_rules", "rejoin_with_prevote", "lonely_leader", "checkquorum_alone",
                   "both_under_faults"):
        assert names[public].public and not names[public].manual
    for hidden in ("extension_rules_hidden", "rejoin_hidden", "lonely_leader_hidden", "checkquorum_alone_hidden",
                   "both_under_faults_hidden"):
        assert not names[hidden].public
        assert names[hidden].plan("first-secret-123") != names[hidden].plan("second-secret-456")
    assert names["why_checkquorum_alone"].manual
    assert len(prevote_cases()) >= 12 and len(checkquorum_cases()) >= 10


def test_the_solution_scores_every_automatic_point_and_the_starter_none() -> None:
    report = grading.run_checks("11", SOLUTION, hidden=True, secret=SECRET)
    assert report.passed and report.score == report.max_score == EX.max_score, report.table()
    starter = solution_namespace(ROOT / "exercises" / "11_prevote_checkquorum.ipynb", EX.functions)
    report = grading.run_checks("11", starter, hidden=True, secret=SECRET)
    assert report.score == 0 and {r.status for r in report.results} == {"not_implemented", "manual"}, report.table()


def test_the_reference_methods_pass_the_checks_too() -> None:
    assert_reference_methods_pass("11", SECRET)


def test_the_kinds_of_mutants() -> None:
    assert len(MUTANTS11) >= 15
    assert {m.function for m in MUTANTS11} == set(EX.functions)
    assert {m.catch for m in MUTANTS11} <= {c.name for c in EX.checks}
    assert {m.catch for m in MUTANTS11} >= {"prevote_rules", "checkquorum_rules", "rejoin_with_prevote",
                                            "lonely_leader", "both_under_faults"}


@pytest.mark.parametrize("mutant", MUTANTS11, ids=lambda m: m.name)
def test_every_mutant_loses_the_check_meant_for_it_with_a_hint_naming_the_rule(mutant: Any) -> None:
    namespace = dict(SOLUTION, **{mutant.function: mutant.fn})
    check = next(c for c in EX.checks if c.name == mutant.catch)
    result = grading.core.run_check(check, namespace, functions=EX.functions, secret=SECRET)
    assert result.status == "fail" and result.points == 0, result
    assert mutant.names in result.hint, result.hint
    again = grading.core.run_check(check, namespace, functions=EX.functions, secret=SECRET)
    assert again.hint == result.hint, "the checks are deterministic: the same case fails the same way"


def test_a_failing_case_says_the_situation_the_inputs_and_the_rule() -> None:
    mutant = next(m for m in MUTANTS11 if m.name == "grants in a lease")
    result = grading.core.run_check(next(c for c in EX.checks if c.name == "prevote_rules"),
                                    dict(SOLUTION, handle_pre_vote=mutant.fn), functions=EX.functions)
    assert "S2 (follower, term 3" in result.hint and "with pre-vote on" in result.hint
    assert "at 300 ms it gets AppendEntries(S1→S2" in result.hint and "PreVoteReply(S2→S4: term=3" in result.hint
    assert "in_lease" in result.hint and "rule: §9.6 handle_pre_vote" in result.hint


def test_a_failing_scenario_names_its_seed_and_the_replay_line(capsys: pytest.CaptureFixture[str]) -> None:
    mutant = next(m for m in MUTANTS11 if m.name == "never steps down")
    namespace = dict(SOLUTION, lost_quorum=mutant.fn)
    result = grading.core.run_check(next(c for c in EX.checks if c.name == "lonely_leader"), namespace,
                                    functions=EX.functions)
    assert "seed 3" in result.hint and "replay('11', 'lonely_leader', seed=3)" in result.hint, result.hint
    c = grading.replay("11", "lonely_leader", seed=3, namespace=namespace)
    assert isinstance(c, Cluster) and any(e.kind == "partition" for e in c.trace)


def test_check_quorum_alone_still_deposes_the_leader_and_pre_vote_does_not() -> None:
    """What the written answer explains, measured with the reference node in the checks' own scenarios."""
    from raftedu.grading.extensions import EXTENSION_SCENARIOS
    from raftedu.grading.scenarios import Run

    for scenario, deposed in (("rejoin_checkquorum_only", True), ("rejoin_prevote", False)):
        run = Run(RaftNode, 3)
        EXTENSION_SCENARIOS[scenario].drive(run)
        c = run.cluster
        healed = next(e.time for e in c.trace if e.kind == "heal")
        leader = int(next(label for _, label, _, _ in run.marks if label.startswith("cut off")).split("leader S")[1]
                     .split()[0])
        assert any(e.kind == "role" and e.node == leader and e.time > healed for e in c.trace) is deposed, scenario


# ---- through the trusted grader: the student's node in the sandboxed worker -----------------------------------


@pytest.mark.kernel
def test_a_remote_extended_node_runs_the_same_run_as_a_local_one(tmp_path: Path) -> None:
    from raftedu.grading.boundary import RemoteFunctions
    from raftedu.grading.scenarios import node_class

    with solution_worker(tmp_path, "11") as worker:
        remote = RemoteFunctions(worker).node_class("rules")
        local = node_class({name: SOLUTION[name] for name in EX.functions})
        both = {"pre_vote": True, "check_quorum": True}
        for seed in (3, 4):
            a = Cluster(5, seed=seed, node_class=local, **both)
            b = Cluster(5, seed=seed, node_class=remote, **both)
            for c in (a, b):
                c.run(600)
                c.isolate(c.leader() or 1)
                c.run(1_200)
                c.heal()
                c.crash_leader()
                c.run(1_000)
            assert [e.astuple() for e in a.trace] == [e.astuple() for e in b.trace], seed
            kinds = {e.kind for e in b.trace}
            assert {"precampaign", "stepdown"} <= kinds, kinds  # the student's own notes crossed the boundary
        assert worker.steps_ahead > 100 and worker.broken == []  # the options keep the lookahead windows


@pytest.mark.kernel
def test_the_grader_gives_the_solution_full_marks_and_starter_nothing_cheats_nothing(tmp_path: Path) -> None:
    started = time.monotonic()
    results = grade_variants(tmp_path, "11", "11_prevote_checkquorum.ipynb", rule_cheats(PREVOTE_RULES))
    assert time.monotonic() - started < 1_200  # generous: the batch always finishes
    r = results["solution"]
    assert r.status == "ok" and r.score == r.max_score == EX.max_score and r.notes == [], (r.status, r.notes, r.checks)
    assert r.stats["calls"] > 1_000 and r.stats["sandbox"] in ("bubblewrap", "unsandboxed")
    assert results["starter"].score == 0
    assert results["nothing"].score == 0 and {c["status"] for c in results["nothing"].checks} <= {"fail", "manual"}
    for kind in ("delegates", "pasted"):
        said = " | ".join(results[kind].notes) + " | " + " | ".join(c["hint"] for c in results[kind].checks)
        assert results[kind].score == 0 and results[kind].status == "copied", (kind, results[kind].status, said[:500])
    said = " | ".join(c["hint"] for c in results["delegates"].checks)
    assert "not available while exercise 11 is graded" in said, said[:500]
    assert "is raftedu's own RaftNode.lost_quorum" in " | ".join(results["pasted"].notes)


@pytest.mark.kernel
def test_the_solution_notebook_runs_top_to_bottom_with_its_test_cells(tmp_path: Path) -> None:
    """What nbgrader's autograde does: every cell, hidden tests included (the secret in the environment), runs
    without an error or a byte on stderr; the demo shows the rejoin cured."""
    text = autograde_output(tmp_path, "11_prevote_checkquorum.ipynb", SECRET)
    assert "still leads: True" in text and "public checks passed — the grader runs more" in text, text[-2000:]
