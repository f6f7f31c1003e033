"""Exercise 09, the capstone: the solution (06's server under 08's rules, pasted) gets every automatic point, the
released starter 0, and neither class may build on raftedu's RaftNode or KVNode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import raftedu.grading as grading
from gradecheats import assert_solution_full_and_cheats_nothing  # tests/ is on sys.path (conftest.py)
from mutants06 import MUTANTS06  # tests/ is on sys.path (conftest.py)
from raftedu import RaftNode
from raftedu.grading.notebooks import solution_namespace
from raftedu.kv import KVNode, kv_on

ROOT = Path(__file__).resolve().parents[1]
EX = grading.get_exercise("09")
SECRET = "test-secret-for-hidden-cases"
SOLUTION = solution_namespace(ROOT / "solutions" / "09_capstone.ipynb", EX.functions)


def test_the_solution_gets_every_automatic_point_and_the_report_is_manual() -> None:
    report = grading.run_checks("09", SOLUTION, hidden=True, secret=SECRET)
    assert report.score == EX.max_score == 16, report.table()
    assert {r.name: r.status for r in report.results}["design_report"] == "manual"
    assert (ROOT / "solutions" / "09_capstone_rubric.md").read_text(encoding="utf-8").count("| ") > 20


def test_the_released_starter_scores_zero() -> None:
    starter = solution_namespace(ROOT / "exercises" / "09_capstone.ipynb", EX.functions)
    report = grading.run_checks("09", starter, hidden=True, secret=SECRET)
    assert report.score == 0 and {r.status for r in report.results} == {"not_implemented", "manual"}, report.table()


def _rules_on(server: type) -> type:
    """The solution's 08 rules over ``server`` (what a student with that 06 server hands in)."""
    rules = {k: v for k, v in vars(SOLUTION["MyKV"]).items() if not k.startswith("__") or k == "__init__"}
    init = rules.pop("__init__")

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        self.sessions = {}
        kv_on(server).__init__(self, *args, **kwargs)

    del init
    return type("MyKV", (kv_on(server),), dict(rules, __init__=__init__))


def test_a_server_that_breaks_safety_loses_the_sweep() -> None:
    broken = next(m for m in MUTANTS06 if m.name == "no consistency check").node_class
    report = grading.run_checks("09", {"MyServer": broken, "MyKV": _rules_on(broken)}, hidden=True, secret=SECRET,
                                only=["sweep", "sweep_hidden"])
    assert report.score < 16 and any(r.status == "fail" for r in report.results), report.table()


class OnTheReferenceServer(RaftNode):
    """RaftNode under the student's name."""


@pytest.mark.parametrize("which", ["server", "store"])
def test_building_on_the_reference_is_refused(which: str) -> None:
    if which == "server":
        funcs = {"MyServer": OnTheReferenceServer, "MyKV": SOLUTION["MyKV"]}
    else:
        funcs = {"MyServer": SOLUTION["MyServer"], "MyKV": type("MyKV", (KVNode,), {})}
    report = grading.run_checks("09", funcs, only=["single_client", "sweep"])
    assert report.score == 0 and {r.status for r in report.results} == {"copied"}, report.table()


def test_the_store_must_sit_on_the_students_own_server() -> None:
    other = next(m for m in MUTANTS06 if m.name == "never applies").node_class
    report = grading.run_checks("09", {"MyServer": SOLUTION["MyServer"], "MyKV": _rules_on(other)},
                                only="single_client")
    assert report.results[0].status == "error" and "kv_on(MyServer)" in report.results[0].hint, report.table()


CHEATS09 = {"store_on_the_reference": ("copied", "subclasses KVNode", "class MyKV(raftedu.kv.KVNode):\n    pass")}


@pytest.mark.kernel
def test_the_grader_gives_the_solution_full_marks_and_cheats_nothing(tmp_path: Path) -> None:
    assert_solution_full_and_cheats_nothing(tmp_path, "09", "09_capstone.ipynb", "MyKV", CHEATS09, EX.max_score)
