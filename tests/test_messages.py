"""Raft messages and entries: frozen dataclasses whose ``__init__`` fills the slots directly (for speed)."""

from __future__ import annotations

import dataclasses

import pytest

from raftedu.raft import (AppendEntries, AppendEntriesReply, ConfigChange, Entry, InstallSnapshot, InstallSnapshotReply, Message,
                          PreVote, PreVoteReply, RequestVote, RequestVoteReply, Snapshot, TimeoutNow)

CLASSES = [Entry, RequestVote, RequestVoteReply, AppendEntries, AppendEntriesReply, PreVote, PreVoteReply, TimeoutNow,
           InstallSnapshot, InstallSnapshotReply]


@pytest.mark.parametrize("cls", CLASSES)
def test_each_field_lands_in_its_slot_by_position_and_by_name(cls):
    names = [f.name for f in dataclasses.fields(cls)]
    values = [f"v{k}" for k in range(len(names))]
    by_position, by_name = cls(*values), cls(**dict(zip(names, values)))
    assert [getattr(by_position, n) for n in names] == values == [getattr(by_name, n) for n in names]
    assert by_position == by_name and hash(by_position) == hash(by_name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(by_position, names[0], "changed")
    with pytest.raises(TypeError):
        cls(*values, "one too many")


def test_defaults_and_repr_are_the_dataclasses():
    assert AppendEntriesReply(3, 1, 2, True) == AppendEntriesReply(3, 1, 2, True, 0, 0)
    assert RequestVote(1, 2, 3, 0, 0).transfer is False
    assert repr(Entry(2, "x")) == "Entry(term=2, command='x')"
    assert repr(AppendEntriesReply(3, 1, 2, False, conflict_index=4)) == (
        "AppendEntriesReply(term=3, src=1, dst=2, success=False, match_index=0, conflict_index=4)")
    assert isinstance(TimeoutNow(1, 2, 3), Message) and dataclasses.replace(Entry(1, "a"), command="b") == Entry(1, "b")
    snap = Snapshot(0, 0, (), ConfigChange((1, 2, 3)))
    assert InstallSnapshot(1, 2, 3, snap).snapshot is snap
