"""Lesson 11 (learners, membership, leadership transfer): what its prose says is what its runs compute."""

from __future__ import annotations

import pytest

from test_lesson_claims_a import claim, lesson, predictions_read_back, prose  # tests/ is on sys.path (conftest.py)

NAME = "11_membership.ipynb"
pytestmark = pytest.mark.kernel


def test_every_prediction_is_read_back_by_the_next_cell():
    assert len(predictions_read_back(NAME)) == 4


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


def test_an_empty_voter_is_an_availability_risk_not_a_safety_risk():
    """Issue 24 (2): §4.2.1 by a run -- 3 + 1 empty voter, one crash, the write stalls until the newcomer catches up."""
    ns = lesson(NAME)
    claim(NAME, "raftedu, like etcd, refuses. Not because it would be unsafe")
    claim(NAME, "The reason is availability (§4.2.1)")
    assert "slows every commit" not in prose(NAME)
    (e, newcomer, first, later), learner = ns["voter"], ns["learner"]
    assert newcomer == 4 and sorted(e.nodes[e.leader()].voters) == [1, 2, 3, 4] and e.nodes[e.leader()].quorum == 3
    assert (first, later) == ("pending", "committed")
    assert e.nodes[newcomer].log == e.nodes[e.leader()].log  # once healed, the newcomer caught up
    e, newcomer, first, later = learner
    assert sorted(e.nodes[e.leader()].voters) == [1, 2, 3] and newcomer in e.nodes[e.leader()].learners
    assert (first, later) == ("committed", "committed")
    claim(NAME, "With the empty voter the majority is 3 of 4, and only two servers that can acknowledge are left")


def test_the_2015_bug_is_replayed_with_the_fix_off_and_on():
    ns = lesson(NAME)
    claim(NAME, "a leader may change the configuration only once an entry of its **own term** is committed")
    assert ns["broken"] == "Leader Completeness"
    assert [label[:3] for _, label, _ in ns["bug_steps"]] == ["(0)", "(1)", "(2)", "(3)"]
    assert [label[:3] for _, label in ns["fixed_steps"]] == ["(0)", "(1)", "(2)", "(3)", "(4)"]
    assert "may not change the configuration yet" in ns["fixed_steps"][3][1]
    claim(NAME, "their majorities {S1, S4, S5} and {S2, S3, S6} have no server in common")
    claim(NAME, "At step (4) S1 won term 3 with S4 and S5")
    bug = ns["bug"]
    won = [e for e in bug.trace if e.kind == "role" and e.value == "leader" and e.node == 1 and e.term == 3]
    voters = {e.node for e in bug.trace if e.kind == "vote" and e.peer == 1 and e.term == 3 and e.value}
    assert won and voters == {1, 4, 5}  # itself, S4 and S5: a majority of voters S1-S5, none of S2, S3, S6


def test_joint_consensus_and_etcds_conf_change_v2_are_taught():
    claim(NAME, "every election and every commit needs a majority of C<sub>old</sub> **and** a majority of C<sub>new</sub>")
    claim(NAME, "a `ConfChangeV2` with a single change takes effect directly")
    claim(NAME, "raftedu implements single-server changes only")
