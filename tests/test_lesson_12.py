"""Lesson 12 (snapshots and log compaction): what its prose says is what its runs compute."""

from __future__ import annotations

import pytest

from test_lesson_claims_a import claim, lesson, predictions_read_back, printed  # tests/ is on sys.path (conftest.py)

NAME = "12_snapshots.ipynb"
pytestmark = pytest.mark.kernel


def test_every_prediction_is_read_back_by_the_next_cell():
    assert len(predictions_read_back(NAME)) == 4


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
    assert ns["left"] == 5 and "The run says: 5." in printed(ns)
    claim(NAME, "the state machines are the same as in the cluster without snapshots")
    assert ns["same_machines"] is True
    claim(NAME, "nothing about it is sent to the others")
    assert not any(e.kind == "send" and type(e.msg).__name__ == "InstallSnapshot" for e in c.trace)


def test_a_lagging_follower_gets_the_snapshot_then_the_entries_after_it():
    ns = lesson(NAME)
    claim(NAME, "the leader sends the snapshot itself")
    assert ns["caught_up_by"] == "InstallSnapshot" and len(ns["snapshots"]) >= 1
    assert ns["snapshots"][0].last_included_index == 20
    claim(NAME, "The leader goes on with AppendEntries from the next index")
    claim(NAME, "it keeps the entries that follow and replies at once (step 6)")  # Figure 5.3, and where raftedu differs
    claim(NAME, "raftedu differs in one respect: in the first case it resets its state machine from the snapshot as well")
    assert ns["entries"] == [21, 22, 23, 24, 25] and ns["entries_without"] == list(range(1, 26))
    c, f = ns["with_snap"], ns["follower"]
    assert c.nodes[f].applied == c.nodes[c.leader()].applied


def test_a_restart_starts_from_the_snapshot_and_without_one_from_nothing():
    ns = lesson(NAME)
    claim(NAME, "right away its state machine holds every command up to the snapshot's index")
    assert "with snapshots (applied, commitIndex): (20, 20)" in printed(ns)
    claim(NAME, "restarts with an empty state machine and commitIndex 0")
    assert "without snapshots (applied, commitIndex): (0, 0)" in printed(ns)


def test_a_snapshot_that_forgets_a_command_is_stopped_at_the_first_snapshot():
    ns = lesson(NAME)
    claim(NAME, "A server whose snapshot forgets one command is stopped at its first snapshot")
    assert ns["caught"] == "Snapshots keep the committed commands"
    assert "snapshot up to index 10 holds 9 commands" in printed(ns)


def test_a_tail_lets_a_follower_slightly_behind_catch_up_from_the_log():
    ns = lesson(NAME)
    runs = ns["runs"]
    claim(NAME, "A follower holds the first 18 entries, then is down while 7 more commit (the leader snapshots at index "
                "20 meanwhile)")
    for c, follower, had, _snapshots, _entries in runs.values():
        assert had == 18 and c.nodes[c.leader()].snapshot_index == 20 and c.nodes[c.leader()].last_log_index == 25
        assert c.nodes[follower].applied == c.nodes[c.leader()].applied
    c, _, had, snapshots, entries = runs[0]
    claim(NAME, "here a 20-command snapshot and 5 entries to deliver 7")
    assert [len(m.snapshot.state) for m in snapshots] == [20] and 25 - had == 7
    claim(NAME, "Without a tail the leader's log starts at index 21, so the follower, which needs index 19 next, gets "
                "the snapshot up to index 20 and then entries 21–25")
    assert c.nodes[c.leader()].log_offset + 1 == 21 and entries == [21, 22, 23, 24, 25]
    c, _, _, snapshots, entries = runs[5]
    claim(NAME, "With a tail of 5 the leader's log still starts at index 16: the follower gets entries 19–25 in "
                "AppendEntries and no snapshot, at the price of 5 more entries in every log")
    assert c.nodes[c.leader()].log_offset + 1 == 16 and snapshots == [] and entries == list(range(19, 26))
    assert len(c.nodes[c.leader()].log) - len(runs[0][0].nodes[runs[0][0].leader()].log) == 5
    assert printed(ns).count("The run says: 'InstallSnapshot'.") == 2  # both predictions: the lag, then the short lag


def test_a_key_value_store_snapshot_keeps_the_small_state_not_the_long_history():
    """Issue 24: lesson 12's snapshots of the key-value store (small state, long history)."""
    ns = lesson(NAME)
    claim(NAME, "Two hundred writes, and the snapshot's store holds three keys")
    snap, leader = ns["kv_snap"], ns["kv_leader"]
    store = dict(snap.state.store.items())
    assert store == {"k0": 198, "k1": 199, "k2": 197} and snap.state.store.revision == 200
    assert snap.index == leader.last_log_index and len(snap.state) == snap.index  # the commands kept for the monitor
    assert leader.store.snapshot() == store and "The run says: 3." in printed(ns)


def test_no_printed_line_is_wider_than_100_characters():
    """JupyterLab breaks a longer output line wherever the window ends, even mid-word: lessons print through say()."""
    wide = [line for line in lesson(NAME)["_stdout"].splitlines() if len(line) > 100]
    assert not wide, f"{NAME} prints lines over 100 characters: {wide[:3]}"


def test_the_key_value_snapshot_ends_at_201_the_no_op_and_the_200_writes():
    """A fresh read (s8-24d): ``snapshot_every=50`` and a snapshot up to 201 needed saying why."""
    ns = lesson(NAME)
    claim(NAME, "The snapshot ends at index 201, not 200")
    claim(NAME, "here at 50, 100, 150 and, as the last two entries were applied together, 201.")
    kv, leader = ns["kv"], ns["kv_leader"]
    assert [e.index for e in kv.trace if e.kind == "snapshot" and e.node == leader.id] == [50, 100, 150, 201]
    assert next(e for e in kv.trace if e.kind == "append" and e.node == leader.id and e.index == 1).term == 1
    assert ns["kv_snap"].state[0] is None  # index 1 is the no-op a new leader of this store commits first (§8)
