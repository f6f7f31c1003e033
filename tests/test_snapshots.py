"""Snapshots and log compaction (Ongaro's dissertation, ch. 5): off by default, one rule per test.

Paper-style tests drive one sans-I/O node with hand-made messages (dissertation §5.1 and Figure 5.3,
InstallSnapshot); scenario tests run a cluster with and without ``snapshot_every``; each new safety property
is broken once by a synthetic trace and once by a broken node in a real run.
"""

from __future__ import annotations

import random

import pytest

from raftedu import AppendEntries, AppendEntriesReply, Cluster, Entry, Event, PersistentState, RaftNode, \
    RequestVoteReply, SafetyViolation, check_trace
from raftedu.checks import EXTENSION_PROPERTIES
from raftedu.raft import LEADER, ConfigChange, InstallSnapshot, InstallSnapshotReply, Snapshot
from raftedu.sim import Refused

CONFIG = ConfigChange((1, 2, 3))


def make(log: tuple[int, ...] = (), term: int = 0, commit: int = 0, every: int = 0, i: int = 2) -> RaftNode:
    """Node ``i`` of a 3-node cluster whose log holds entries ``c1, c2, ...`` with the given terms, applied up
    to ``commit``."""
    state = PersistentState(term, None, [Entry(t, f"c{k}") for k, t in enumerate(log, 1)])
    node = RaftNode(i, [1, 2, 3], rng=random.Random(0), state=state)
    node.enable(snapshot_every=every)
    node.commit_index = commit
    node.apply_committed()
    node.take_output()
    return node


def kinds(node: RaftNode) -> list[str]:
    return [e.kind for e in node.take_output()[1]]


def snap(index: int, term: int, commands: int | None = None) -> Snapshot:
    return Snapshot(index, term, tuple(f"c{k}" for k in range(1, (index if commands is None else commands) + 1)),
                    CONFIG)


# ---- taking a snapshot (dissertation §5.1) ---------------------------------------------------


def test_a_snapshot_replaces_the_applied_prefix_of_the_log():
    node = make(log=(1, 1, 2, 2, 3), term=3, commit=4)
    node.take_snapshot()
    s = node.state.snapshot
    assert (s.index, s.term, s.state, s.config) == (4, 2, ("c1", "c2", "c3", "c4"), CONFIG)
    assert node.log == [Entry(3, "c5")] and node.snapshot_index == 4
    # the log's indexes do not move: index 5 is still index 5, the snapshot answers for index 4
    assert (node.last_log_index, node.last_log_term, node.term_at(4), node.entry_at(5)) == (5, 3, 2, Entry(3, "c5"))
    with pytest.raises(IndexError, match="1..4 were compacted into its snapshot"):
        node.entry_at(3)


def test_snapshot_every_k_applied_entries_and_never_when_off():
    on, off = make(log=(1,) * 7, term=1, every=3), make(log=(1,) * 7, term=1)
    seen = []
    for commit in (2, 5, 7):  # the leader's commitIndex reaches 2, then 5, then 7
        for node in (on, off):
            node.receive(AppendEntries(1, 1, 2, 7, 1, (), commit), 10)
        seen.append(on.snapshot_index)
    assert seen == [0, 5, 5]  # 2 < 3 applied: none yet; 5 ≥ 3: a snapshot as of lastApplied; 7 - 5 < 3: none
    assert on.last_log_index == 7 and len(on.log) == 2
    assert off.state.snapshot is None and len(off.log) == 7
    assert on.applied == off.applied == [f"c{k}" for k in range(1, 8)]


def test_an_empty_log_after_a_snapshot_has_the_snapshots_last_index_and_term():
    node = make(log=(1, 2), term=2, commit=2)
    node.take_snapshot()
    assert node.log == [] and (node.last_log_index, node.last_log_term) == (2, 2)


def test_the_snapshot_carries_the_latest_configuration_up_to_its_index():
    node = make(term=1)
    node.state.log.extend([Entry(1, "a"), Entry(1, ConfigChange((1, 2, 3), (4,))), Entry(1, "b"),
                           Entry(1, ConfigChange((1, 2, 3, 4)))])
    node.enable(membership=True)
    node.commit_index = 3
    node.apply_committed()
    node.take_snapshot()
    assert (node.state.snapshot.config, node.state.snapshot.config_index) == (ConfigChange((1, 2, 3), (4,)), 2)
    assert node.voters == {1, 2, 3, 4} and node.config_index == 4  # the uncommitted change in the log still rules
    del node.state.log[:]  # were the change at index 4 gone, the snapshot's configuration would apply (§4.1)
    node.refresh_configuration()
    assert (node.voters, node.learners, node.config_index) == ({1, 2, 3}, {4}, 2)


# ---- the leader: InstallSnapshot when the entries a follower needs are compacted ---------------


def leader_with_snapshot(tail: int = 0) -> RaftNode:
    """S1 leads term 2; its snapshot covers 1..4 (term 1), its log keeps the last ``tail`` of them, then c5 (term 2)."""
    node = make(log=(1, 1, 1, 1), term=1, commit=4, i=1)
    node.enable(snapshot_tail=tail)
    node.take_snapshot()
    node.state.log.append(Entry(2, "c5"))
    node.on_timer(node.deadline)  # becomes a candidate of term 2
    for peer in (2, 3):
        node.receive(RequestVoteReply(2, peer, 1, True), node.now)
    assert node.role == LEADER
    node.take_output()
    return node


def test_a_leader_sends_the_snapshot_when_next_index_is_inside_it():
    node = leader_with_snapshot()
    node.receive(AppendEntriesReply(2, 2, 1, False, 0, 1), node.now)  # S2's log is empty: retry from index 1
    msgs = node.take_output()[0]
    assert [type(m) for m in msgs] == [InstallSnapshot]
    assert (msgs[0].last_included_index, msgs[0].last_included_term, msgs[0].snapshot) == (4, 1, node.state.snapshot)
    assert node.next_index[2] == 5 and node.match_index[2] == 0  # etcd: go on after it; no match until the reply
    node.send_append_entries(2)
    m = node.take_output()[0][0]
    assert type(m) is AppendEntries and (m.prev_log_index, m.prev_log_term, m.entries) == (4, 1, (Entry(2, "c5"),))


def test_the_reply_to_a_snapshot_moves_match_index_and_commits():
    node = leader_with_snapshot()
    node.receive(InstallSnapshotReply(2, 2, 1, 4), node.now)
    assert (node.match_index[2], node.next_index[2]) == (4, 6)  # nextIndex was already past it (§5.3)
    node.receive(AppendEntriesReply(2, 3, 1, True, 5), node.now)
    assert node.commit_index == 5  # an entry of term 2 on a majority (§5.4.2)
    node.receive(InstallSnapshotReply(1, 2, 1, 9), node.now)  # a reply of an older term is stale
    assert node.match_index[2] == 4


# ---- the follower: InstallSnapshot receiver (dissertation Figure 5.3) ---------------------------


def test_rule_1_reply_immediately_if_term_is_older():
    node = make(log=(2,), term=2)
    node.receive(InstallSnapshot(1, 1, 2, snap(3, 1)), 5)
    assert node.take_output()[0] == [InstallSnapshotReply(2, 2, 1, 0)]
    assert node.state.snapshot is None and node.last_log_index == 1


def test_rules_5_8_save_the_snapshot_discard_the_log_reset_the_state_machine():
    node = make(log=(1, 1), term=1, commit=1)  # entry 2 is not committed, and it conflicts
    node.receive(InstallSnapshot(2, 1, 2, snap(3, 2)), 5)
    msgs, events = node.take_output()
    assert msgs == [InstallSnapshotReply(2, 2, 1, 3)]
    assert node.state.snapshot == snap(3, 2) and node.log == [] and node.last_log_index == 3
    assert (node.commit_index, node.last_applied, node.applied) == (3, 3, ["c1", "c2", "c3"])
    assert node.leader_id == 1 and "install" in [e.kind for e in events]


def test_rule_6_a_log_that_matches_the_snapshots_last_entry_keeps_what_follows():
    node = make(log=(1, 1, 1, 2), term=2, commit=1)
    node.receive(InstallSnapshot(2, 1, 2, snap(3, 1)), 5)
    assert node.log == [Entry(2, "c4")] and node.last_log_index == 4 and node.commit_index == 3


def test_rule_7_a_log_that_does_not_match_is_discarded_and_the_discard_is_reported():
    node = make(log=(1, 1, 1, 1, 1), term=1, commit=1)
    node.receive(InstallSnapshot(2, 1, 2, snap(3, 2)), 5)
    events = node.take_output()[1]
    assert node.log == [] and node.last_log_index == 3
    truncate = next(e for e in events if e.kind == "truncate")
    assert truncate.index == 4 and "Figure 5.3 step 7" in truncate.rule


def test_a_snapshot_no_newer_than_the_commit_index_is_ignored():
    node = make(log=(1, 1, 1), term=1, commit=3)
    node.receive(InstallSnapshot(1, 1, 2, snap(2, 1)), 5)
    assert node.take_output()[0] == [InstallSnapshotReply(1, 2, 1, 3)]
    assert node.state.snapshot is None and len(node.log) == 3


def test_append_entries_inside_the_snapshot_answers_with_the_commit_index():
    node = make(log=(1, 1, 1), term=1, commit=3)
    node.take_snapshot()
    node.receive(AppendEntries(1, 1, 2, 1, 1, (Entry(1, "c2"), Entry(1, "c3"), Entry(1, "c4")), 3), 5)
    assert node.take_output()[0] == [AppendEntriesReply(1, 2, 1, True, 3)]
    assert node.last_log_index == 3  # the leader resends from index 4 (etcd does the same)


def test_the_retry_hint_never_points_inside_the_snapshot():
    node = make(log=(1, 1, 1, 1), term=1, commit=2)
    node.take_snapshot()
    assert node.conflict_hint(4) == 3  # all of term 1, down to the first index after the snapshot


# ---- the cluster: with and without snapshots -----------------------------------------------------


def requests(c: Cluster, count: int, gap: int, settle: int = 200) -> Cluster:
    """Elect a leader, then send ``count`` client requests ``r0, r1, ...`` ``gap`` ms apart and let them settle."""
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    for k in range(count):
        c.request(f"r{k}")
        c.run(gap)
    c.run(settle)
    return c


def lagging_follower(**options) -> tuple[Cluster, int, int]:
    """A follower down while the leader commits 20 entries, then back."""
    c = Cluster(3, seed=4, **options)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    leader = c.leader()
    follower = next(i for i in c.ids if i != leader)
    c.request("a")
    c.run(100)
    c.crash(follower)
    for k in range(20):
        c.request(f"b{k}")
        c.run(20)
    c.run(100)
    c.restart(follower)
    c.run(500)
    return c, leader, follower


def test_a_follower_too_far_behind_catches_up_from_the_snapshot_and_without_snapshots_from_the_log():
    with_, leader, follower = lagging_follower(snapshot_every=5)
    without, leader2, follower2 = lagging_follower()
    assert (leader, follower) == (leader2, follower2)
    for c in (with_, without):
        assert c.nodes[follower].applied == c.nodes[leader].applied and len(c.nodes[leader].applied) == 21
    installs = [e.msg for e in with_.trace if e.kind == "send" and type(e.msg) is InstallSnapshot]
    assert installs and {m.dst for m in installs} == {follower}
    assert with_.nodes[leader].snapshot_index == 20 and len(with_.nodes[leader].log) == 1
    assert not any(type(e.msg) is InstallSnapshot for e in without.trace if e.kind == "send")
    assert len(without.nodes[leader].log) == 21
    # the view keeps the whole log for pictures, and marks where each server's snapshot ends
    assert with_.view.nodes[follower].log == without.view.nodes[follower].log
    assert with_.view.nodes[leader].snapshot_index == 20 and without.view.nodes[leader].snapshot_index == 0


def test_snapshots_are_off_by_default_and_then_change_nothing():
    a, b = Cluster(3, seed=9, schedule=[(400, "request", "x")]), Cluster(3, seed=9, schedule=[(400, "request", "x")],
                                                                           snapshot_every=None)
    a.run(1_000), b.run(1_000)
    assert a.trace.digest() == b.trace.digest() and all(a.nodes[i].snapshot_every == 0 for i in a.ids)


def test_a_restart_starts_from_the_snapshot():
    c = requests(Cluster(3, seed=4, snapshot_every=4), 9, 60, 100)
    follower = next(i for i in c.ids if i != c.leader())
    saved = c.nodes[follower].state.snapshot
    assert saved is not None and saved.index == 8
    c.crash(follower)
    c.restart(follower)
    node = c.nodes[follower]
    assert node.state.snapshot is saved and node.applied == [f"r{k}" for k in range(8)]
    assert (node.commit_index, node.last_applied) == (8, 8)
    assert any(e.kind == "restore" and e.node == follower and e.index == 8 for e in c.trace)
    c.run(300)
    assert node.applied == [f"r{k}" for k in range(9)]


def test_configurations_survive_compaction_and_restarts():
    c = Cluster(3, seed=4, snapshot_every=2)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    c.request("a")
    c.run(200)
    new = c.add_server()
    c.run(300)
    for k in range(4):
        c.request(f"r{k}")
    c.run(300)
    assert all(c.nodes[i].snapshot_index >= c.nodes[i].config_index > 0 for i in c.up())  # the change is compacted
    c.crash(new)
    c.restart(new)
    assert (c.nodes[new].voters, c.nodes[new].learners) == ({1, 2, 3}, {new})
    c.promote(new)
    c.run(300)
    assert all(c.nodes[i].voters == {1, 2, 3, new} for i in c.up())


def test_the_snapshot_action_and_its_refusals():
    c = Cluster(3, seed=4, schedule=[(10, "snapshot", 1)])
    c.run(20)
    assert "snapshot refused: S1 has applied nothing" in next(e.text for e in c.trace if e.kind == "note")
    with pytest.raises(ValueError, match="a server id is a whole number"):
        Cluster(3, schedule=[(10, "snapshot", "S1")])
    with pytest.raises(Refused, match="S7 is unknown"):
        c.snapshot(7)
    with pytest.raises(ValueError, match="snapshot_every must be a whole number"):
        Cluster(3, snapshot_every=0)
    with pytest.raises(ValueError, match="snapshot_every must be a whole number"):
        Cluster(3, snapshot_every="5")


# ---- the monitor: each snapshot property, broken on purpose ---------------------------------------

START = Event(0, "start", value=(("n", 3), ("seed", 0)))
A, B = Entry(1, "a"), Entry(1, "b")


def committed_ab() -> list[Event]:
    """S1 leads term 1 and commits a, b on S1 and S2; both apply them."""
    events = [Event(1, "term", node=i, term=1, value=1) for i in (1, 2, 3)]
    events += [Event(1, "vote", node=i, term=1, peer=1, value=True) for i in (1, 2)]
    events.append(Event(1, "role", node=1, term=1, value="leader"))
    for node in (1, 2):
        events += [Event(2, "append", node=node, term=1, index=1, entry=A),
                   Event(2, "append", node=node, term=1, index=2, entry=B)]
    for node in (1, 2):
        events += [Event(3, "commit", node=node, term=1, index=2), Event(3, "apply", node=node, term=1, index=1, entry=A),
                   Event(3, "apply", node=node, term=1, index=2, entry=B)]
    return events


def violated(*events: Event) -> str:
    with pytest.raises(SafetyViolation) as caught:
        check_trace([START, *committed_ab(), *events])
    return caught.value.property


def snapshot_of(index: int, term: int, state: tuple) -> Snapshot:
    return Snapshot(index, term, state, ConfigChange((1, 2, 3)))


def test_snapshot_properties_accept_a_faithful_snapshot_and_install():
    good = snapshot_of(2, 1, ("a", "b"))
    check_trace([START, *committed_ab(), Event(4, "snapshot", node=1, term=1, index=2, value=good),
                 Event(5, "install", node=3, term=1, peer=1, index=2, value=good),
                 Event(9, "crash", node=3), Event(9, "restart", node=3), Event(9, "restore", node=3, index=2, value=good)])


def test_snapshot_index_at_most_the_commit_index():
    early = Event(2, "snapshot", node=1, term=1, index=2, value=snapshot_of(2, 1, ("a", "b")))
    events = committed_ab()
    with pytest.raises(SafetyViolation) as caught:  # before the commit
        check_trace([START, *events[:10], early])
    assert caught.value.property == "Snapshot index ≤ commit index"
    assert violated(Event(5, "install", node=3, term=1, index=3, value=snapshot_of(3, 1, ("a", "b", "c")))) == \
        "Snapshot index ≤ commit index"


def test_a_snapshot_ends_with_the_committed_entry():
    assert violated(Event(4, "snapshot", node=1, term=1, index=2, value=snapshot_of(2, 2, ("a", "b")))) == \
        "Snapshot matches the committed entry"
    assert violated(Event(4, "install", node=3, term=1, index=2, value=snapshot_of(2, 3, ("a", "b")))) == \
        "Snapshot matches the committed entry"


def test_a_snapshot_keeps_every_committed_command():
    for state in (("a",), ("b", "a"), ("a", "b", "x")):
        assert violated(Event(4, "snapshot", node=1, term=1, index=2, value=snapshot_of(2, 1, state))) == \
            "Snapshots keep the committed commands"
        assert violated(Event(4, "install", node=3, term=1, index=2, value=snapshot_of(2, 1, state))) == \
            "Snapshots keep the committed commands"


def test_a_restart_from_a_snapshot_that_lost_a_command():
    good, bad = snapshot_of(2, 1, ("a", "b")), snapshot_of(2, 1, ("a",))
    before = [Event(4, "snapshot", node=1, term=1, index=2, value=good), Event(5, "crash", node=1),
              Event(5, "restart", node=1)]
    assert violated(*before, Event(5, "restore", node=1, index=2, value=bad)) == "Snapshots keep the committed commands"
    assert violated(*before, Event(5, "restore", node=1, index=3, value=snapshot_of(3, 1, ("a", "b", "c")))) == \
        "Snapshot index ≤ commit index"


def test_every_snapshot_property_has_a_failing_test_above():
    others = {"One configuration change at a time", "Single-server changes",  # tests/test_membership.py
              "Configuration change after a commit of the leader's term", "Learners never campaign or lead",
              "Removed servers do not campaign", "Transfer only to a caught-up voter",  # tests/test_extension_checks.py
              "Stale TimeoutNow is ignored", "No proposals during a transfer", "Check-quorum leaders step down",
              "Lease only from the current leader"}
    assert set(EXTENSION_PROPERTIES) == others | {"Snapshot index ≤ commit index",
                                                      "Snapshot matches the committed entry",
                                                      "Snapshots keep the committed commands"}


# ---- broken nodes in real runs: each caught by its property ---------------------------------------


class SnapshotsTheWholeLog(RaftNode):
    """Broken: snapshots every entry it holds, committed or not."""

    def take_snapshot(self) -> None:
        index = self.last_log_index
        state = tuple(self.applied) + tuple(self.entry_at(i).command for i in range(self.last_applied + 1, index + 1))
        config_index, config = self.config_at(index)
        snapshot = Snapshot(index, self.term_at(index), state, config, config_index)
        self.compact(max(self.log_offset, index - self.snapshot_tail))
        self.state.snapshot = snapshot
        self.note("snapshot", "broken", index=index, value=snapshot)


class SnapshotInCurrentTerm(RaftNode):
    """Broken: labels the snapshot with the current term instead of the term of its last entry."""

    def term_at(self, index: int) -> int:
        return self.current_term if index == self.last_applied and self.last_applied > self.snapshot_index \
            else super().term_at(index)


class SnapshotDropsTheLastCommand(RaftNode):
    """Broken: an off-by-one in the state it saves."""

    def snapshot_state(self) -> tuple:
        return tuple(self.applied[:-1])


def caught(c: Cluster, action) -> str:
    with pytest.raises(SafetyViolation) as err:
        action(c)
    return err.value.property


def burst(c: Cluster) -> None:
    """Requests 3 ms apart: while the first commit, later ones are still in flight."""
    requests(c, 12, 3, 500)


def test_a_node_that_snapshots_uncommitted_entries_is_caught():
    c = Cluster(3, seed=4, snapshot_every=3, node_class=SnapshotsTheWholeLog)
    assert caught(c, burst) == "Snapshot index ≤ commit index"


def test_a_node_that_labels_its_snapshot_with_the_wrong_term_is_caught():
    def old_entries_new_term(c: Cluster) -> None:
        assert c.run_until(lambda c: c.leader() is not None, 3_000)
        c.request("a")
        c.run(200)  # committed and applied everywhere in term 1
        follower = next(i for i in c.ids if i != c.leader())
        c.timeout_now(follower)  # a new term, no new entry
        c.run(200)
        c.snapshot(next(i for i in c.ids if i != c.leader()))

    c = Cluster(3, seed=4, node_class=SnapshotInCurrentTerm)
    assert caught(c, old_entries_new_term) == "Snapshot matches the committed entry"


def test_a_node_whose_snapshot_loses_a_command_is_caught():
    c = Cluster(3, seed=4, snapshot_every=3, node_class=SnapshotDropsTheLastCommand)
    assert caught(c, burst) == "Snapshots keep the committed commands"


def test_the_reference_passes_the_runs_that_catch_the_broken_nodes():
    for every in (1, 3):
        c = Cluster(3, seed=4, snapshot_every=every)
        burst(c)
        assert len({tuple(c.nodes[i].applied) for i in c.up()}) == 1


def test_a_snapshot_is_refused_with_a_sentence_on_a_crashed_server():
    c = Cluster(3, seed=4)
    c.crash(2)
    with pytest.raises(Refused, match="S2 is crashed"):
        c.snapshot(2)
    with pytest.raises(Refused):
        c.snapshot(1)


# ---- pictures: the snapshot boundary in the log grid ------------------------------------------------


def test_the_log_grid_draws_compacted_cells_hollow_with_a_bar_where_the_snapshot_ends():
    from raftedu.viz import log_frame, log_grid
    from raftedu.viz.logs import COMPACTED_SYMBOL

    c = requests(Cluster(3, seed=4, snapshot_every=4), 6, 30)
    fig = log_grid(c.trace)
    cells = fig.data[0]
    view = c.view
    expected = [COMPACTED_SYMBOL if x <= view.nodes[round(y)].snapshot_index else "square" for x, y in zip(cells.x, cells.y)]
    assert list(cells.marker.symbol) == expected and expected.count(COMPACTED_SYMBOL) == 3 * 4
    assert all("compacted into" in h for h, s in zip(cells.hovertext, expected) if s == COMPACTED_SYMBOL)
    bars = [s for s in fig.layout.shapes if s.line.width == 4]
    assert sorted((round(s.y0 + 0.4 + 0.12), s.x0) for s in bars) == [(1, 4.5), (2, 4.5), (3, 4.5)]
    assert "hollow = compacted" in fig.layout.title.text
    assert list(log_frame(c.trace)["snapshot_index"]) == [4, 4, 4]
    plain = Cluster(3, seed=4, schedule=[(600, "request", "x")])  # without snapshots: the picture as it always was
    plain.run(1_000)
    fig = log_grid(plain.trace)
    assert fig.data[0].marker.symbol == "square" and "hollow" not in fig.layout.title.text
    assert not [s for s in fig.layout.shapes if s.line.width == 4] and "snapshot_index" not in log_frame(plain.trace)


class Silent(RaftNode):
    """Reports neither its snapshots nor its installs: the simulator must notice and record them itself."""

    def note(self, kind, rule, text="", **fields):
        if kind not in ("snapshot", "install", "truncate"):
            super().note(kind, rule, text, **fields)


def test_snapshots_a_node_does_not_report_are_recorded_and_checked_all_the_same():
    from raftedu.sim import _QUIET

    c, leader, follower = lagging_follower(snapshot_every=5, node_class=Silent)
    quiet = [(e.kind, e.index) for e in c.trace if e.rule == _QUIET and e.node == follower]
    assert quiet == [("install", 20)]
    assert {(e.kind, e.index) for e in c.trace if e.rule == _QUIET and e.node == leader} == {("snapshot", k)
                                                                                          for k in (5, 10, 15, 20)}
    assert c.nodes[follower].applied == c.nodes[leader].applied and c.view.nodes[follower].snapshot_index == 20


def test_the_snapshot_is_written_to_disk_with_the_log():
    c = requests(Cluster(3, seed=4, snapshot_every=3), 4, 40, 100)
    for i in c.ids:
        node, disk = c.nodes[i], c.disks[i]
        assert disk.snapshot is node.state.snapshot and disk.snapshot.index == 3 and list(disk.log) == list(node.log)
    node = c.nodes[1]
    node.take_snapshot()
    assert node.unsaved() and c.disks[1].snapshot.index == 3  # in memory only, until the step's output is taken
    node.take_output()
    assert not node.unsaved() and c.disks[1].snapshot.index == 4


def test_pictures_draw_etcds_messages_in_flight_and_name_them():
    """InstallSnapshot (and pre-vote's messages) are drawn with their own marker and named in the hover text."""
    from raftedu.viz import animate, cluster_figure, timeline
    from raftedu.viz.style import describe_message, message_kind, message_ok

    c = Cluster(3, seed=4, snapshot_every=3, pre_vote=True)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    follower = next(i for i in c.ids if i != c.leader())
    c.crash(follower)
    requests(c, 8, 30, 0)
    c.restart(follower)
    c.run_until(lambda c: any(type(f.msg) is InstallSnapshot for f in c.view.in_flight.values()), 500)
    flying = next(f.msg for f in c.view.in_flight.values() if type(f.msg) is InstallSnapshot)
    assert message_kind(flying) == "InstallSnapshot" and describe_message(flying).startswith("InstallSnapshot S")
    assert "snapshot of entries 1–" in describe_message(flying)
    hover = [h for d in cluster_figure(c.trace).data for h in (d.hovertext or ())]
    assert any(str(h).startswith("InstallSnapshot") for h in hover)
    c.run(300)
    animate(c.trace, 0, c.now), timeline(c.trace, 0, c.now)  # every message of the run is drawn
    assert message_ok(InstallSnapshotReply(1, 2, 1, 0)) is False and message_ok(InstallSnapshotReply(1, 2, 1, 5))


# ---- a tail of entries kept behind the snapshot (etcd's SnapshotCatchUpEntries) ----------------------


def make_tail(log: tuple[int, ...], term: int, commit: int, tail: int, i: int = 2) -> RaftNode:
    node = make(log=log, term=term, commit=commit, i=i)
    node.enable(snapshot_tail=tail)
    return node


def test_a_snapshot_with_a_tail_keeps_the_last_entries_it_covers_and_their_indexes():
    node = make_tail(log=(1, 1, 2, 2, 3), term=3, commit=4, tail=2)
    node.take_snapshot()
    assert node.snapshot_index == 4 and node.log_offset == 2  # the snapshot covers 1..4, the log keeps 3..5
    assert node.log == [Entry(2, "c3"), Entry(2, "c4"), Entry(3, "c5")]
    assert (node.term_at(2), node.term_at(3), node.term_at(4), node.entry_at(4)) == (1, 2, 2, Entry(2, "c4"))
    assert (node.last_log_index, node.last_log_term) == (5, 3)
    with pytest.raises(IndexError, match="1..2 were compacted"):
        node.entry_at(2)
    node.commit_index = 5
    node.apply_committed()
    node.take_snapshot()  # the next snapshot moves the tail along
    assert (node.snapshot_index, node.log_offset, node.log) == (5, 3, [Entry(2, "c4"), Entry(3, "c5")])
    short = make_tail(log=(1, 1), term=1, commit=2, tail=5)
    short.take_snapshot()  # a tail longer than the log keeps all of it
    assert (short.snapshot_index, short.log_offset, len(short.log)) == (2, 0, 2)
    assert make_tail(log=(1, 1), term=1, commit=2, tail=0).snapshot_tail == 0


def test_a_follower_one_entry_behind_the_snapshot_gets_append_entries_when_a_tail_is_kept():
    with_tail, without = leader_with_snapshot(2), leader_with_snapshot(0)
    for node in (with_tail, without):
        node.receive(AppendEntriesReply(2, 2, 1, False, 0, 4), node.now)  # S2 has 1..3: retry from index 4
    m = with_tail.take_output()[0]
    assert [type(x) for x in m] == [AppendEntries]
    assert (m[0].prev_log_index, m[0].prev_log_term, m[0].entries) == (3, 1, (Entry(1, "c4"), Entry(2, "c5")))
    assert [type(x) for x in without.take_output()[0]] == [InstallSnapshot]  # the dissertation's §5.1, no tail


def test_a_follower_behind_the_tail_gets_the_snapshot():
    node = leader_with_snapshot(2)  # keeps entries 3 and 4 of the snapshot: the consistency check needs index 2's term
    node.receive(AppendEntriesReply(2, 2, 1, False, 0, 3), node.now)  # S2 has 1..2: the first kept entry is next
    m = node.take_output()[0]
    assert [type(x) for x in m] == [AppendEntries] and (m[0].prev_log_index, m[0].prev_log_term) == (2, 1)
    node.receive(AppendEntriesReply(2, 3, 1, False, 0, 2), node.now)  # S3 has 1 only: index 2 was compacted
    m = node.take_output()[0]
    assert [type(x) for x in m] == [InstallSnapshot] and m[0].last_included_index == 4


def test_a_follower_with_a_tail_checks_append_entries_inside_its_tail_as_figure_2_says():
    node = make_tail(log=(1, 1, 1), term=1, commit=3, tail=2)
    node.take_snapshot()  # snapshot 1..3, entries 2..3 kept
    node.receive(AppendEntries(1, 1, 2, 2, 1, (Entry(1, "c3"), Entry(1, "c4")), 3), 5)
    assert node.take_output()[0] == [AppendEntriesReply(1, 2, 1, True, 4)] and node.last_log_index == 4
    node.receive(AppendEntries(1, 1, 2, 2, 9, (), 3), 6)  # a wrong term at a kept index fails the check (§5.3)
    assert node.take_output()[0][0].success is False
    node.receive(AppendEntries(1, 1, 2, 0, 0, (Entry(1, "c1"),), 3), 7)  # below the tail: answered with commitIndex
    assert node.take_output()[0] == [AppendEntriesReply(1, 2, 1, True, 3)]


def test_the_tail_is_persistent_state_and_a_restart_keeps_it():
    c = requests(Cluster(3, seed=4, snapshot_every=4, snapshot_tail=3), 9, 60, 100)
    follower = next(i for i in c.ids if i != c.leader())
    node, disk = c.nodes[follower], c.disks[follower]
    assert (node.snapshot_index, node.log_offset, node.last_log_index) == (8, 5, 9)
    assert (disk.offset, disk.offset_term, list(disk.log)) == (5, node.term_at(5), list(node.log))
    c.crash(follower)
    c.restart(follower)
    node = c.nodes[follower]
    assert (node.snapshot_index, node.log_offset, node.commit_index, node.last_log_index) == (8, 5, 8, 9)
    assert node.applied == [f"r{k}" for k in range(8)]
    c.request("after")
    c.run(300)
    assert len({tuple(c.nodes[i].applied) for i in c.up()}) == 1 and c.nodes[follower].applied[-1] == "after"


def test_with_a_tail_the_lagging_follower_of_the_bench_gets_entries_and_the_state_machines_agree():
    short, leader, follower = lagging_follower(snapshot_every=5)  # 20 entries behind: the snapshot
    tail, *_ = lagging_follower(snapshot_every=5, snapshot_tail=25)  # a tail longer than the lag: entries
    installs = [sum(1 for e in c.trace if e.kind == "send" and type(e.msg) is InstallSnapshot) for c in (short, tail)]
    assert installs[0] > 0 and installs[1] == 0
    assert tail.nodes[leader].snapshot_index == 20 and tail.nodes[leader].log_offset == 0
    assert tail.nodes[follower].applied == short.nodes[follower].applied == short.nodes[leader].applied


def test_snapshot_tail_is_checked():
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="snapshot_tail must be a whole number of entries >= 0"):
            Cluster(3, snapshot_tail=bad)
    assert Cluster(3, snapshot_every=2, snapshot_tail=3).options == {"snapshot_every": 2, "snapshot_tail": 3}


def test_a_node_that_compacts_past_its_commit_index_is_caught_with_a_tail_too():
    c = Cluster(3, seed=4, snapshot_every=3, snapshot_tail=2, node_class=SnapshotsTheWholeLog)
    assert caught(c, burst) == "Snapshot index ≤ commit index"


# ---- a key-value store with snapshots: the store and its sessions table travel in the snapshot -----------------


def kv_lagging_follower(node_class: type[RaftNode]) -> tuple[Cluster, int]:
    """A 3-server KV cluster snapshotting every 3 entries; a follower is down while two clients write, then back."""
    from raftedu.kv import CLIENT_BASE, KVClient
    from raftedu.linearizability import LINEARIZABLE, History, check

    c = Cluster(3, seed=4, node_class=node_class, snapshot_every=3)
    history = History()
    clients = [KVClient(CLIENT_BASE + k, c.ids, history, random.Random(k)) for k in (1, 2)]
    for client in clients:
        c.attach(client)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    follower = next(i for i in c.ids if i != c.leader())
    c.crash(follower)
    for k, client in enumerate(clients):
        for j in range(5):
            client.submit("put", f"k{j % 2}", 10 * k + j)
        client.submit("cas", "k0", 99, 10 * k + 4)  # k0: 10k+4 → 99 (only one of the two clients wins)
        client.wake(c.now)
        c.sync(client.id)
    c.run(2_000)
    c.restart(follower)
    c.run(1_000)
    assert check(history).verdict == LINEARIZABLE and not any(client.current or client.plan for client in clients)
    return c, follower


def test_a_kv_follower_caught_up_by_snapshot_has_the_same_store_and_the_same_dedup_answers():
    from raftedu.kv import CLIENT_BASE, KVNode, StoreSnapshot, kv_node_class
    from raftedu.kvmodel import Op

    class StoreLeftOut(kv_node_class()):
        """Broken: its snapshot holds only the commands (RaftNode's hooks), not the store and its sessions."""

        snapshot_state, restore_state = RaftNode.snapshot_state, RaftNode.restore_state

    retried = Op("cas", "k0", 99, 4, client=CLIENT_BASE + 1, seq=6)  # client 1's last call, sent again (paper §8)
    results = {}
    for node_class in (kv_node_class(), StoreLeftOut):
        c, follower = kv_lagging_follower(node_class)
        leader, node = c.nodes[c.leader()], c.nodes[follower]
        installs = [e.msg for e in c.trace if e.kind == "send" and type(e.msg) is InstallSnapshot and e.msg.dst == follower]
        assert installs and leader.snapshot_index >= 12 and isinstance(node, KVNode)
        assert node.applied == leader.applied  # the commands agree either way (the monitor checks those)
        answers = [n.store.copy().apply(retried) for n in (node, leader)]
        results[node_class is StoreLeftOut] = (node.store == leader.store, answers[0] == answers[1], answers[1].duplicate)
        if node_class is not StoreLeftOut:
            state = installs[-1].snapshot.state
            assert isinstance(state, StoreSnapshot) and state.store is not leader.store  # a copy, not the live store
    assert results[False] == (True, True, True)  # same store, same sessions: the retry gets the remembered answer
    assert results[True][:2] == (False, False)  # without the store in the snapshot the follower's store is off
