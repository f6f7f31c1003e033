"""Lesson 11 (learners, membership, leadership transfer): what its prose says is what its runs compute."""

from __future__ import annotations

import pytest

from test_lesson_claims_a import claim, lesson, predictions_read_back  # tests/ is on sys.path (conftest.py)

NAME = "11_membership.ipynb"
pytestmark = pytest.mark.kernel


def test_every_prediction_is_read_back_by_the_next_cell():
    assert len(predictions_read_back(NAME)) == 2


def test_a_learner_catches_up_and_only_then_can_be_promoted():
    ns = lesson(NAME)
    claim(NAME, "raftedu, like etcd, refuses")
    assert ns["promoted"] == "no"
    claim(NAME, "while it catches up, the cluster's majority does not change")
    assert any(e.kind == "config" and e.value.learners == (4,) and e.value.voters == (1, 2, 3) for e in ns["c"].trace)


def test_four_voters_survive_one_crash_not_two_five_survive_two():
    ns = lesson(NAME)
    claim(NAME, "like three voters — they survive one crash, not two")
    assert ns["one"] is True and ns["two"] is False
    assert "5 voters: commits with 2 crashed: True" in ns["_stdout"]


def test_transfer_is_faster_than_an_election_timeout_and_refuses_requests():
    ns = lesson(NAME)
    claim(NAME, "The target wins before any timer would have run out")
    assert ns["during"].status == "rejected"
    took = int(ns["_stdout"].split(f"S{ns['to']} leads ")[1].split(" ms")[0])
    assert took < ns["c"].timing.election_timeout[0]


def test_the_removed_leader_steps_down_after_the_change_commits_and_shuts_down():
    ns = lesson(NAME)
    c, leader = ns["c"], ns["leader"]
    claim(NAME, "then steps down (§4.2.2); the removed server shuts down")
    down = next(e for e in c.trace if e.kind == "stepdown" and e.node == leader)
    config_index = max(e.index for e in c.trace if e.kind == "config" and e.node == leader)
    committed = next(e for e in c.trace if e.kind == "commit" and e.node == leader and e.index >= config_index)
    assert committed.time <= down.time and leader in c.retired and c.leader() not in (None, leader)
