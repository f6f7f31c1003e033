"""Exercise 12, membership changes: the solution gets full marks through the sandboxed grader, the starter, a do-nothing
answer and a cheat get nothing, every mutant loses the check meant for it with a hint naming the broken rule, and a
remote run of the student's node through configuration changes is the same run as a local one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import raftedu.grading as grading
from mutants12 import MUTANTS12  # tests/ is on sys.path (conftest.py)
from raftedu import Cluster, RaftNode
from raftedu.grading.membership import MEMBERSHIP_RULES, membership_cases, transfer_cases
from raftedu.grading.notebooks import solution_namespace

ROOT = Path(__file__).resolve().parents[1]
EX = grading.get_exercise("12")
SOLUTION = solution_namespace(ROOT / "solutions" / "12_membership.ipynb", EX.functions)
SECRET = "test-secret-for-hidden-cases"


def test_the_exercise_asks_for_the_ten_methods_and_grades_each_kind_of_evidence() -> None:
    assert EX.functions == MEMBERSHIP_RULES == ("refresh_configuration", "configuration_change_refused",
                                                "promotion_refused", "has_quorum", "campaign", "step_down_when_removed",
                                                "send_timeout_now_when_caught_up", "handle_timeout_now",
                                                "refuses_proposals", "abort_transfer_when_late")
    names = {c.name: c for c in EX.checks}
    for public in ("membership_rules", "learner_availability", "remove_leader", "learners_never_count",
                   "removal_pending", "transfer_rules", "stale_timeout_now", "membership_under_faults"):
        assert names[public].public and not names[public].manual
    for hidden in ("membership_rules_hidden", "change_bug_2015", "learner_availability_hidden", "remove_leader_hidden",
                   "membership_under_faults_hidden"):
        assert not names[hidden].public
        assert names[hidden].plan("first-secret-123") != names[hidden].plan("second-secret-456")
    assert names["why_one_change_at_a_time"].manual
    assert len(membership_cases()) >= 20 and len(transfer_cases()) >= 17
    assert not EX.near_copies  # pre-vote's handlers stay available: the runs switch pre-vote on


def test_the_solution_scores_every_automatic_point_and_the_starter_none() -> None:
    report = grading.run_checks("12", SOLUTION, hidden=True, secret=SECRET)
    assert report.passed and report.score == report.max_score == EX.max_score, report.table()
    starter = solution_namespace(ROOT / "exercises" / "12_membership.ipynb", EX.functions)
    report = grading.run_checks("12", starter, hidden=True, secret=SECRET)
    assert report.score == 0 and {r.status for r in report.results} == {"not_implemented", "manual"}, report.table()


def test_the_reference_methods_pass_the_checks_too() -> None:
    """The judges ask for the rules, not for the solution's shape: the reference's own methods pass (run unlocked)."""
    reference = {name: getattr(RaftNode, name) for name in EX.functions}
    for check in EX.selected(hidden=True):
        if check.manual:
            continue
        cases = check.plan(SECRET)
        records, _ = grading.core.observe_check(check, reference, cases, 60, locked=())
        result = grading.core.judge_check(check, cases, records)
        assert result.passed, (check.name, result.hint)


def test_the_public_fault_seeds_change_the_configuration() -> None:
    """The sweep's faults check is about membership only if its public runs change the configuration."""
    from raftedu.grading.scenarios import drive_scenario

    seen = set()
    for seed in (2, 3):
        run, stopped = drive_scenario("faults_membership", RaftNode, seed)
        assert stopped == ""
        kinds = [e.kind for e in run.cluster.trace]
        assert kinds.count("config") >= 5, seed
        seen.update(kinds)
    assert {"server_added", "server_removed", "transfer"} <= seen


def test_the_kinds_of_mutants() -> None:
    assert len(MUTANTS12) >= 12
    assert {m.function for m in MUTANTS12} == set(EX.functions)
    assert {m.catch for m in MUTANTS12} <= {c.name for c in EX.checks}
    assert {m.catch for m in MUTANTS12} >= {"membership_rules", "learner_availability", "remove_leader",
                                            "learners_never_count", "removal_pending", "transfer_rules",
                                            "stale_timeout_now"}


@pytest.mark.parametrize("mutant", MUTANTS12, ids=lambda m: m.name)
def test_every_mutant_loses_the_check_meant_for_it_with_a_hint_naming_the_rule(mutant: Any) -> None:
    namespace = dict(SOLUTION, **{mutant.function: mutant.fn})
    check = next(c for c in EX.checks if c.name == mutant.catch)
    result = grading.core.run_check(check, namespace, functions=EX.functions, secret=SECRET)
    assert result.status == "fail" and result.points == 0, result
    assert mutant.names in result.hint, result.hint


def test_the_2015_interleaving_fails_a_leader_that_changes_too_early() -> None:
    """The hidden check replays Ongaro's 2015 interleaving: the monitor stops a leader that changes the configuration
    before committing an entry of its term, and the hint names the rule to look at."""
    mutant = next(m for m in MUTANTS12 if m.name == "no 2015 fix")
    check = next(c for c in EX.checks if c.name == "change_bug_2015")
    result = grading.core.run_check(check, dict(SOLUTION, **{mutant.function: mutant.fn}), functions=EX.functions,
                                    secret=SECRET)
    assert result.status == "fail" and result.unsafe == "Configuration change after a commit of the leader's term"
    assert "configuration_change_refused (the 2015 fix" in result.hint, result.hint


def test_a_failing_case_says_the_situation_the_inputs_and_the_rule() -> None:
    mutant = next(m for m in MUTANTS12 if m.name == "uses only committed configurations")
    result = grading.core.run_check(next(c for c in EX.checks if c.name == "membership_rules"),
                                    dict(SOLUTION, refresh_configuration=mutant.fn), functions=EX.functions)
    assert "S2 (follower, term 3, log [1]" in result.hint and "it uses voters {S1, S2, S3, S4}" in result.hint
    assert "AppendEntries(S1→S2" in result.hint and "voters: expected [1, 2, 3], got [1, 2, 3, 4]" in result.hint
    assert "rule: §4.1 refresh_configuration" in result.hint


def test_a_failing_scenario_names_its_seed_and_the_replay_line() -> None:
    mutant = next(m for m in MUTANTS12 if m.name == "never steps down")
    namespace = dict(SOLUTION, step_down_when_removed=mutant.fn)
    result = grading.core.run_check(next(c for c in EX.checks if c.name == "remove_leader"), namespace,
                                    functions=EX.functions)
    assert "seed 1" in result.hint and "replay('12', 'remove_leader', seed=1)" in result.hint, result.hint
    c = grading.replay("12", "remove_leader", seed=1, namespace=namespace)
    assert isinstance(c, Cluster) and any(e.kind == "config" for e in c.trace)


# ---- through the trusted grader: the student's node in the sandboxed worker -----------------------------------


@pytest.mark.kernel
def test_a_remote_node_runs_the_same_membership_runs_as_a_local_one(tmp_path: Path) -> None:
    """The simulator asks the student's remote leader (may a change start, may this learner be promoted, append this
    configuration, hand over) and mirrors its configuration: the runs equal a local node's event for event."""
    import nbformat

    from raftedu import scenarios
    from raftedu.grading import sandbox
    from raftedu.grading.boundary import RemoteFunctions, Worker
    from raftedu.grading.scenarios import node_class

    nb = nbformat.read(ROOT / "solutions" / "12_membership.ipynb", as_version=4)
    cells = [[k + 1, c.source] for k, c in enumerate(nb.cells) if c.cell_type == "code"
             and not c.metadata.get("nbgrader", {}).get("grade")]
    box = sandbox.package(tmp_path / "box", "12", EX.reference_rules, near_copies=EX.near_copies)
    (tmp_path / "work").mkdir()
    worker = Worker(lambda: sandbox.launch(box, tmp_path / "work", how=sandbox.mode()), "12", EX.functions, cells,
                    60, time.monotonic() + 600)
    worker.start()
    try:
        assert worker.findings == []
        remote = RemoteFunctions(worker).node_class("rules")
        local = node_class({name: SOLUTION[name] for name in EX.functions})
        assert remote.runs_extensions
        for script in (scenarios.single_server_change_bug, scenarios.removal_pending_campaigns,
                       scenarios.transfer_to_learner_or_crashed):
            a, b = script(local), script(remote)
            assert [e.astuple() for e in a.trace] == [e.astuple() for e in b.trace], script.__name__
        kinds = {e.kind for e in b.trace}
        assert {"config", "transfer"} <= kinds, kinds
        leader = b.nodes[b.leader()]
        assert leader.voters == frozenset(leader.config.voters) and leader.match_index  # the mirror
        assert worker.broken == []
    finally:
        worker.close()


_NO_2015_FIX = """def configuration_change_refused(self):
    if self.role != LEADER:
        return "not the leader"
    if self.transferee is not None:
        return "handing over"
    if self.config_index > self.commit_index:
        return "a change is in flight"
    return None
"""
"""A student's rule without the 2015 fix: graded through the sandbox, the hidden replay must catch it."""

_DELEGATES = {name: f"def {name}(self, *args):\n    return raftedu.RaftNode.{name}(self, *args)"
              for name in MEMBERSHIP_RULES}
_NOTHING = {name: f"def {name}(self, *args):\n    return None" for name in MEMBERSHIP_RULES}


def _pasted(name: str) -> str:
    """The reference method's source under the student's function name (a copy the review must see)."""
    import inspect
    import textwrap

    return textwrap.dedent(inspect.getsource(getattr(RaftNode, name)))


@pytest.mark.kernel
def test_the_grader_gives_the_solution_full_marks_and_starter_nothing_cheats_nothing(tmp_path: Path) -> None:
    import nbformat

    from raftedu.grading import Limits, grade

    folder = tmp_path / "submissions"
    folder.mkdir()
    solution = nbformat.read(ROOT / "solutions" / "12_membership.ipynb", as_version=4)
    nbformat.write(solution, folder / "solution.ipynb")
    nbformat.write(nbformat.read(ROOT / "exercises" / "12_membership.ipynb", as_version=4), folder / "starter.ipynb")
    for kind, sources in (("nothing", _NOTHING), ("delegates", _DELEGATES),
                          ("pasted", {n: _pasted(n) for n in MEMBERSHIP_RULES}),
                          ("no_2015_fix", {"configuration_change_refused": _NO_2015_FIX})):
        nb = nbformat.read(ROOT / "solutions" / "12_membership.ipynb", as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in sources:
                cell.source = sources[grade_id]
        nbformat.write(nb, folder / f"{kind}.ipynb")
    started = time.monotonic()
    results = {r.student: r for r in grade(folder, "12", tmp_path / "grades.csv", jobs=2, progress=False,
                                          limits=Limits(check_timeout=60, submission_timeout=600), secret=SECRET)}
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
    assert "not available while exercise 12 is graded" in said, said[:500]
    rows = {c["name"]: c for c in results["no_2015_fix"].checks}
    assert rows["change_bug_2015"]["status"] == "fail" and results["no_2015_fix"].score < EX.max_score / 2
    assert "Configuration change after a commit of the leader's term" in rows["change_bug_2015"]["hint"]
    assert "look at configuration_change_refused" in rows["change_bug_2015"]["hint"]


@pytest.mark.kernel
def test_the_solution_notebook_runs_top_to_bottom_with_its_test_cells(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """What nbgrader's autograde does: every cell, hidden tests included (the secret in the environment), runs
    without an error or a byte on stderr; the demo shows the early promotion refused and w committed."""
    import nbformat
    from nbclient import NotebookClient

    from raftedu.grading.core import SECRET_ENV

    monkeypatch.setenv(SECRET_ENV, SECRET)
    nb = nbformat.read(ROOT / "solutions" / "12_membership.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "still catching up" in text and "w is committed" in text and "leadership moved" in text, text[-2000:]
    assert "public checks passed — the grader runs more" in text, text[-2000:]


def test_the_mirror_of_a_remote_nodes_configuration_is_checked_for_type() -> None:
    """What a worker says about a node's configuration is believed only as data of the right shape."""
    from types import SimpleNamespace

    from raftedu import nodehost
    from raftedu.grading.boundary import BadNodeState, ProtocolBroken, RemoteNode
    from raftedu.raft import ConfigChange

    codec = nodehost.registry()
    node = SimpleNamespace(id=2)
    good = [ConfigChange((1, 2, 3), (4,)), 5, frozenset({1, 2, 3}), frozenset({4}), None, {1: 3, 3: 5, 4: 0}]
    RemoteNode._mirror_extensions(node, [nodehost.encode(v) for v in good], codec)
    assert (node.voters, node.learners, node.config_index, node.match_index) == (frozenset({1, 2, 3}), frozenset({4}),
                                                                                 5, {1: 3, 3: 5, 4: 0})
    for k, bad in ((0, (1, 2)), (2, ["S1"]), (3, frozenset({"S4"})), (4, "S3"), (5, {"S1": 3})):
        values = list(good)
        values[k] = bad
        with pytest.raises(BadNodeState):
            RemoteNode._mirror_extensions(node, [nodehost.encode(v) for v in values], codec)
    with pytest.raises(ProtocolBroken):
        RemoteNode._mirror_extensions(node, [nodehost.encode(v) for v in good[:-1]], codec)
