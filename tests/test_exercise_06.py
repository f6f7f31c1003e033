"""Exercise 06, the whole server: the suite passes the solution, fails the starter, a do-nothing server, cheats and
every mutant on the check meant for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import raftedu.grading as grading
from gradecheats import assert_solution_full_and_cheats_nothing  # tests/ is on sys.path (conftest.py)
from mutants06 import MUTANTS06, MyServer  # tests/ is on sys.path (conftest.py)
from raftedu import Cluster, RaftNode, Server
from raftedu.grading.notebooks import solution_namespace
from raftedu.sim import Refused

ROOT = Path(__file__).resolve().parents[1]
EX = grading.get_exercise("06")


def test_the_suite_is_named_and_big_enough() -> None:
    names = [c.name for c in EX.checks]
    assert len(names) >= 20 and len(set(names)) == len(names)
    for wanted in ("initial_election", "reelection", "many_elections", "no_leader_without_majority", "basic_agreement",
                   "follower_failure", "no_agreement_without_majority", "concurrent_starts",
                   "rejoin_partitioned_leader", "fast_backup", "rpc_counts", "persist_restart", "persist_churn",
                   "persist_partitioned", "figure8", "figure8_unreliable", "unreliable_agreement", "churn"):
        assert wanted in names


def test_the_released_starter_scores_zero() -> None:
    starter = solution_namespace(ROOT / "exercises" / "06_whole_server.ipynb", EX.functions)
    report = grading.run_checks("06", starter, hidden=True)
    assert report.score == 0 and {r.status for r in report.results} == {"not_implemented"}, report.table()


class DoesNothing(Server):
    """Never sets a timer, never answers, never leads."""

    def receive(self, msg: Any, now: int) -> None:
        self.now = now

    def on_timer(self, now: int) -> None:
        self.now = now

    def propose(self, command: Any, now: int) -> None:
        return None


class ClaimsToLead(DoesNothing):
    """Calls itself leader of term 1 at once and 'commits' whatever it is sent, without asking anyone."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state.current_term, self.role = 1, "leader"
        self.persist()

    def propose(self, command: Any, now: int) -> int:
        from raftedu import Entry

        self.log.append(Entry(self.current_term, command))
        self.commit_index = self.last_applied = len(self.log)
        self.apply(len(self.log), self.log[-1])
        return len(self.log)


@pytest.mark.parametrize("cls", [DoesNothing, ClaimsToLead], ids=lambda c: c.__name__)
def test_a_server_that_does_nothing_or_lies_scores_zero(cls: type) -> None:
    report = grading.run_checks("06", {"MyServer": cls}, hidden=True)
    assert report.score == 0, report.table()
    assert all(r.status == "fail" and r.hint for r in report.results), report.table()


class SubclassesTheReference(RaftNode):
    """The reference itself, under the student's name."""


class Delegates(Server):
    """Forwards every input to the reference's methods."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        RaftNode.init_extensions(self, (self.id, *self.peers))
        RaftNode.reset_election_timer(self)

    def receive(self, msg: Any, now: int) -> None:
        RaftNode.receive(self, msg, now)  # type: ignore[arg-type]

    def on_timer(self, now: int) -> None:
        RaftNode.on_timer(self, now)  # type: ignore[arg-type]

    def propose(self, command: Any, now: int) -> int | None:
        return RaftNode.propose(self, command, now)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [SubclassesTheReference, Delegates], ids=lambda c: c.__name__)
def test_building_on_the_reference_node_is_refused(cls: type) -> None:
    report = grading.run_checks("06", {"MyServer": cls}, only=["initial_election", "basic_agreement"])
    assert report.score == 0 and {r.status for r in report.results} == {"copied"}, report.table()
    assert "RaftNode" in report.results[0].hint
    assert RaftNode.receive.__code__.co_filename.endswith("raft.py"), "the switch-off ends with the check"


def test_a_failure_names_its_seed_and_the_line_that_replays_and_draws_it(capsys: pytest.CaptureFixture[str]) -> None:
    broken = next(m for m in MUTANTS06 if m.catch == "figure8")
    report = grading.run_checks("06", {"MyServer": broken.node_class}, only="figure8")
    hint = report.results[0].hint
    assert "seed 1" in hint and "raftedu.viz.animate(replay('06', 'figure8', seed=1).trace)" in hint, hint
    c = grading.replay("06", "figure8", seed=1, namespace={"MyServer": broken.node_class})
    assert isinstance(c, Cluster) and c.node_class is broken.node_class
    assert "stopped" in capsys.readouterr().out


def test_kinds_of_mutants() -> None:
    assert len(MUTANTS06) >= 10
    assert {m.breaks for m in MUTANTS06} == {"election", "replication", "commit", "persistence", "liveness"}
    assert {m.catch for m in MUTANTS06} <= {c.name for c in EX.checks}


@pytest.mark.parametrize("mutant", MUTANTS06, ids=lambda m: m.name)
def test_every_mutant_loses_points_on_the_check_meant_for_it(mutant: Any) -> None:
    check = next(c for c in EX.checks if c.name == mutant.catch)
    result = grading.core.run_check(check, {"MyServer": mutant.node_class}, functions=EX.functions,
                                    locked=EX.reference_rules)
    assert result.status == "fail" and result.points == 0 and result.hint, result
    again = grading.core.run_check(check, {"MyServer": mutant.node_class}, functions=EX.functions,
                                   locked=EX.reference_rules)
    assert again.hint == result.hint, "the suite is deterministic: the same seed fails the same way"
    solution = grading.core.run_check(check, {"MyServer": MyServer}, functions=EX.functions, locked=EX.reference_rules)
    assert solution.passed, solution


def test_a_server_of_its_own_runs_figure_2_only() -> None:
    with pytest.raises(ValueError, match="pre_vote is an option of raftedu's RaftNode"):
        Cluster(3, node_class=MyServer, pre_vote=True)
    c = Cluster(3, seed=1, node_class=MyServer)
    c.run_until(lambda c: c.leader() is not None, within=2_000)
    with pytest.raises(Refused, match="Figure 2 only"):
        c.transfer_leadership(next(i for i in c.ids if i != c.leader()))
    with pytest.raises(Refused, match="Figure 2 only"):
        c.snapshot(1)
    with pytest.raises(ValueError, match="snapshot_every is an option of raftedu's RaftNode"):
        Cluster(3, node_class=MyServer, snapshot_every=5)
    with pytest.raises(TypeError, match="raftedu.Server"):
        Cluster(3, node_class=object)  # type: ignore[arg-type]


# ---- through the trusted grader (a worker runs the notebook; the parent judges) -------------------------------

CHEATS06 = {
    "subclasses_the_reference": ("copied", "subclasses RaftNode",
                                 "class MyServer(raftedu.RaftNode):\n    pass"),
    "delegates_to_the_reference": ("copied", "not available while exercise 06 is graded",
                                   "class MyServer(Server):\n"
                                   "    def __init__(self, *a, **k):\n"
                                   "        super().__init__(*a, **k)\n"
                                   "        raftedu.RaftNode.init_extensions(self, (self.id, *self.peers))\n"
                                   "        raftedu.RaftNode.reset_election_timer(self)\n"
                                   "    def receive(self, msg, now):\n"
                                   "        raftedu.RaftNode.receive(self, msg, now)\n"
                                   "    def on_timer(self, now):\n"
                                   "        raftedu.RaftNode.on_timer(self, now)\n"
                                   "    def propose(self, command, now):\n"
                                   "        return raftedu.RaftNode.propose(self, command, now)"),
    # patching the judges in the sandbox changes nothing (they run in the grader): an empty server gets nothing
    "patches_the_judges": ("ok", "replace `raise NotImplementedError()`",
                           "import raftedu.grading.scenarios as s\n"
                           "for name, sc in list(s.SCENARIOS.items()):\n"
                           "    s.SCENARIOS[name] = sc.__class__(sc.drive, lambda facts, stopped: None, sc.doc)\n"
                           "class MyServer(Server):\n    pass"),
}


@pytest.mark.kernel
def test_the_grader_gives_the_solution_full_marks_and_cheats_nothing(tmp_path: Path) -> None:
    assert_solution_full_and_cheats_nothing(tmp_path, "06", "06_whole_server.ipynb", "MyServer", CHEATS06, EX.max_score)


def test_the_reference_node_passes_every_scenario_too() -> None:
    """The judges ask for Raft, not for the solution's shape: raftedu's own RaftNode passes them (seed 1 each)."""
    from raftedu.grading.scenarios import probe_scenario

    for check in EX.checks:
        for case in check.plan(None)[:1]:
            check.judge(case, probe_scenario({}, case, build=lambda funcs: RaftNode))
