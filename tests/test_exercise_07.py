"""Exercise 07, the bug hunt: each solution schedule catches its suspect and no other, the reference never; bad
answers get a clear message; the starter and do-nothing answers score nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import raftedu.grading as grading
from raftedu import RaftNode
from raftedu.grading.bughunt import SUSPECTS, _cluster, _settings, run_hunt, try_hunt
from raftedu.grading.core import Failed
from raftedu.grading.notebooks import solution_namespace
from raftedu.grading.observe import plain, unplain

ROOT = Path(__file__).resolve().parents[1]
EX = grading.get_exercise("07")
SOLUTION = solution_namespace(ROOT / "solutions" / "07_bug_hunt.ipynb", EX.functions)


def settings(answer: Any) -> dict:
    return _settings(unplain(plain(answer)))


@pytest.mark.parametrize("suspect", sorted(SUSPECTS))
def test_each_hunt_catches_its_suspect_only_and_never_the_reference(suspect: str) -> None:
    hunt = settings(SOLUTION[f"hunt_{suspect}"]())
    assert run_hunt(SUSPECTS[suspect], hunt) is not None
    assert run_hunt(RaftNode, hunt) is None
    others = [x for x in SUSPECTS if x != suspect and run_hunt(SUSPECTS[x], hunt) is not None]
    assert others == [], "each suspect has its own bug: one schedule should not catch them all"


def test_each_suspect_keeps_every_property_in_a_healthy_busy_cluster() -> None:
    """The bugs need faults: a cluster serving requests without faults catches none of them."""
    healthy = settings({"n": 5, "seed": 3, "run": 3_000,
                        "schedule": [(300 + 100 * k, "request", f"c{k}") for k in range(20)]})
    assert [x for x, cls in SUSPECTS.items() if run_hunt(cls, healthy) is not None] == []


def test_the_solution_scores_every_automatic_point_and_the_starter_none() -> None:
    report = grading.run_checks("07", SOLUTION)
    assert report.score == report.max_score == 12, report.table()
    assert {r.status for r in report.results} == {"pass", "manual"}
    starter = solution_namespace(ROOT / "exercises" / "07_bug_hunt.ipynb", EX.functions)
    assert grading.run_checks("07", starter).score == 0


def test_a_swapped_or_empty_hunt_earns_nothing() -> None:
    swapped = {f"hunt_{x}": SOLUTION[f"hunt_{y}"] for x, y in zip("abcd", "badc")}
    empty = {f"hunt_{x}": (lambda: {"n": 3, "run": 1_000, "schedule": []}) for x in "abcd"}
    for answers in (swapped, empty):
        report = grading.run_checks("07", answers)
        assert report.score == 0, report.table()
        assert all("without breaking any safety property" in r.hint for r in report.results if not r.passed
                   and r.status != "manual")


@pytest.mark.parametrize("answer, says", [
    (None, "must return a dict"),
    ({"n": 2, "run": 10, "schedule": []}, "n must be a whole number from 3 to 7"),
    ({"n": 3, "run": 10**6, "schedule": []}, "run must be whole milliseconds from 1 to 20000"),
    ({"n": 3, "run": 10, "schedule": [(0, "explode", 1)]}, "with an action from"),
    ({"n": 3, "run": 10, "schedule": [(0, "snapshot", 1)]}, "with an action from crash, restart"),
    ({"n": 3, "run": 10, "schedule": [(0, "crash", 9)]}, "unknown node id 9"),
    ({"n": 3, "run": 10, "schedule": [], "speed": 2}, "unknown key(s) ['speed']"),
    ({"n": 3, "run": 10, "schedule": [(0, "set_network", {"duplicate_rate": 1.0})]}, "duplicate_rate may be at most"),
    ({"n": 3, "run": 10, "schedule": [(0, "delay_next", 2, 1, 0)]}, "delay_next slows a message down by a whole"),
])
def test_a_bad_hunt_is_told_what_is_wrong(answer: Any, says: str) -> None:
    with pytest.raises(Failed, match="not a schedule the grader can run") as caught:
        run_hunt(SUSPECTS["a"], settings(answer))
    assert says in caught.value.hint


def test_a_hunt_may_lose_or_delay_one_message_as_a_shrunk_story_does() -> None:
    hunt = {"n": 3, "run": 300, "scripted": True,
            "schedule": [(0, "timeout_now", 1), (5, "delay_next", 2, 1, 50, "AppendEntriesReply"),
                         (5, "drop_next", 3, 1)]}
    c, violation = _cluster(SUSPECTS["a"], settings(hunt))
    assert violation is None and [e.value for e in c.trace.events if e.kind == "drop"] == ["lost (a drop_next item)"]
    assert [e.rule for e in c.trace.events if e.kind == "send" and e.rule] == ["a delay_next item: 50 ms late"]


def test_try_hunt_shows_both_runs(capsys: pytest.CaptureFixture[str]) -> None:
    c = try_hunt("c", SOLUTION["hunt_c"]())
    out = capsys.readouterr().out
    assert "suspect C: caught: One vote per term" in out and "reference: kept every safety property" in out
    assert c.now < 100, "the cluster comes back stopped at the violation"
    with pytest.raises(ValueError, match="unknown suspect"):
        try_hunt("z", {})
