"""Persistence as an explicit step (issue 15 item 1): only what a server persisted survives a crash."""

from __future__ import annotations

import random

import pytest

from raftedu import Cluster, Network, RaftNode, SafetyViolation
from raftedu.raft import LOST_IN_CRASH, Entry, Log, PersistentState, Server
from raftedu.scenarios import SCRIPTED, elect


def server(disk: PersistentState | None = None) -> Server:
    return Server(1, (1, 2, 3), rng=random.Random(0), state=disk)


def test_a_server_works_on_a_copy_and_only_persist_writes_the_disk() -> None:
    disk = PersistentState(2, 3, [Entry(1, "a")])
    s = server(disk)
    assert s.disk is disk and s.state == disk and s.state.log is not disk.log
    s.state.current_term, s.state.voted_for = 3, None
    s.state.log.append(Entry(3, "b"))
    assert s.unsaved() and disk == PersistentState(2, 3, [Entry(1, "a")])
    s.persist()
    assert not s.unsaved() and disk == PersistentState(3, None, [Entry(1, "a"), Entry(3, "b")])


@pytest.mark.parametrize("seed", range(20))
def test_persist_writes_the_log_whatever_was_done_to_it(seed: int) -> None:
    """Appends, truncations, overwrites, whole-list replacement (even by a plain list), in random order."""
    rng = random.Random(seed)
    s = server()
    for step in range(60):
        log = s.state.log
        op = rng.randrange(7)
        if op <= 2:
            log.append(Entry(rng.randrange(5), step))
        elif op == 3 and log:
            del log[rng.randrange(len(log)):]
        elif op == 4 and log:
            log[rng.randrange(len(log))] = Entry(9, step)
        elif op == 5:
            s.state.log = (Log if rng.random() < 0.5 else list)(log[: rng.randrange(len(log) + 1)])
        else:
            s.state.current_term += 1
        if rng.random() < 0.5:
            assert s.unsaved() or s.state == s.disk, step  # it may persist needlessly, never miss a change
            s.persist()
            assert s.disk == s.state and not s.unsaved(), step
            assert s.disk.log is not s.state.log


def test_the_reference_has_persisted_everything_whenever_a_step_ends() -> None:
    c = Cluster(5, seed=3, network=Network(drop_rate=0.1, duplicate_rate=0.05),
                schedule=[(600, "crash_leader"), (900, "restart_all"), (1200, "partition", [1, 2]), (1800, "heal")])
    for t in range(0, 2500, 25):
        c.run(25)
        if t % 100 == 0:
            c.request(f"c{t}")
        for i in c.up():
            node = c.node(i)
            assert node.disk is c.disks[i] and node.disk == node.state, (i, c.now)
    assert sum(r.status == "committed" for r in c.requests) >= 10


class NeverPersists(RaftNode):
    """Keeps everything in memory only."""

    def sync(self) -> None:
        pass


def test_a_crash_keeps_only_the_disk_and_the_trace_says_what_was_lost() -> None:
    c = Cluster(3, seed=1, timing=SCRIPTED, network=Network(delay=(1, 1)), node_class=NeverPersists)
    elect(c, 1)
    c.crash(2)
    with pytest.raises(SafetyViolation) as caught:
        c.restart(2)
    assert caught.value.property == "Terms never decrease"
    assert "never got the later term" in str(caught.value)
    restart = [e for e in c.trace if e.kind == "restart"][-1]
    assert restart.value == (0, None, 0) and "term 0, no vote, 0 log entries" in restart.text
    assert c.trace[-1].rule == LOST_IN_CRASH and c.trace[-1].kind == "term"


def test_an_unpersisted_log_is_truncated_at_restart_and_a_lost_commit_is_caught() -> None:
    class KeepsTermAndVoteOnly(RaftNode):
        def sync(self) -> None:
            self.disk.current_term, self.disk.voted_for = self.current_term, self.voted_for

    c = Cluster(3, seed=1, timing=SCRIPTED, network=Network(delay=(1, 1)), node_class=KeepsTermAndVoteOnly)
    elect(c, 1)
    c.request("x")
    c.run(5)
    c.crash(2)
    c.restart(2)  # S1 and S3 still hold x: a majority, no violation yet
    lost = [e for e in c.trace if e.rule == LOST_IN_CRASH]
    assert [(e.kind, e.node, e.index) for e in lost] == [("truncate", 2, 1)]
    assert c.node(2).log == [] and c.view.nodes[2].log == [] and c.view.nodes[2].voted_for == 1
    c.crash(3)
    with pytest.raises(SafetyViolation) as caught:
        c.restart(3)
    assert caught.value.property == "Committed entries on a majority"


def test_the_reference_restarts_with_everything_it_said() -> None:
    c = Cluster(3, seed=1, timing=SCRIPTED, network=Network(delay=(1, 1)))
    elect(c, 1)
    c.request("x")
    c.run(5)
    for i in (1, 2, 3):
        c.crash(i)
    c.restart_all()
    assert not [e for e in c.trace if e.rule == LOST_IN_CRASH]
    assert all(c.node(i).log == [Entry(1, "x")] and c.node(i).current_term == 1 for i in (1, 2, 3))
    assert c.node(2).voted_for == 1 and c.view.nodes[2].voted_for == 1
