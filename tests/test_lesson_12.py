"""Lesson 12 (snapshots and log compaction): what its prose says is what its runs compute."""

from __future__ import annotations

import pytest

from test_lesson_claims_a import claim, lesson, predictions_read_back  # tests/ is on sys.path (conftest.py)

NAME = "12_snapshots.ipynb"
pytestmark = pytest.mark.kernel


def test_every_prediction_is_read_back_by_the_next_cell():
    assert len(predictions_read_back(NAME)) == 2


def test_without_snapshots_every_log_holds_every_entry():
    ns = lesson(NAME)
    claim(NAME, "every server's log holds all 25 entries")
    trace = ns["plain"].trace  # (the lesson restarts a server of this cluster later: read the trace)
    assert not any(e.kind == "snapshot" for e in trace)
    assert {i: max(e.index for e in trace if e.kind == "append" and e.node == i) for i in (1, 2, 3)} == {1: 25, 2: 25, 3: 25}


def test_snapshots_at_10_and_20_leave_5_entries_and_lose_nothing():
    ns = lesson(NAME)
    c = ns["compact"]
    claim(NAME, "took a snapshot at index 10 and again at index 20")
    taken = {i: [e.index for e in c.trace if e.kind == "snapshot" and e.node == i] for i in c.initial_ids}
    assert taken == {i: [10, 20] for i in c.initial_ids}
    claim(NAME, "only the 5 entries after index 20 are left in the log")
    assert ns["left"] == 5 and "The run says: 5." in ns["_stdout"]
    claim(NAME, "the state machines are the same as in the cluster without snapshots")
    assert ns["same_machines"] is True
    claim(NAME, "nothing about it is sent to the others")
    assert not any(e.kind == "send" and type(e.msg).__name__ == "InstallSnapshot" for e in c.trace)


def test_a_lagging_follower_gets_the_snapshot_then_the_entries_after_it():
    ns = lesson(NAME)
    claim(NAME, "the leader sends the snapshot itself")
    assert ns["caught_up_by"] == "InstallSnapshot" and len(ns["snapshots"]) >= 1
    assert ns["snapshots"][0].last_included_index == 20
    claim(NAME, "the leader goes on with AppendEntries from the next index")
    assert ns["entries"] == [21, 22, 23, 24, 25] and ns["entries_without"] == list(range(1, 26))
    c, f = ns["with_snap"], ns["follower"]
    assert c.nodes[f].applied == c.nodes[c.leader()].applied


def test_a_restart_starts_from_the_snapshot_and_without_one_from_nothing():
    ns = lesson(NAME)
    claim(NAME, "right away its state machine holds every command up to the snapshot's index")
    assert "with snapshots   (applied, commitIndex): (20, 20)" in ns["_stdout"]
    claim(NAME, "restarts with an empty state machine and commitIndex 0")
    assert "without snapshots (applied, commitIndex): (0, 0)" in ns["_stdout"]


def test_a_snapshot_that_forgets_a_command_is_stopped_at_the_first_snapshot():
    ns = lesson(NAME)
    claim(NAME, "A server whose snapshot forgets one command is stopped at its first snapshot")
    assert ns["caught"] == "Snapshots keep the committed commands"
    assert "snapshot up to index 10 holds 9 commands" in ns["_stdout"]
