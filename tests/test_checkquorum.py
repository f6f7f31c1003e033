"""Check-quorum (dissertation §6.2, etcd's CheckQuorum): a leader cut off from a majority steps down.

Without it, the leader of a minority partition goes on believing it leads
(lesson 07's stale leader); with it, it steps down within an election
timeout and followers that hear a live leader ignore RequestVote.
"""

from __future__ import annotations

import random

import pytest

from raftedu import Cluster
from raftedu.raft import FOLLOWER, LEADER, AppendEntries, RaftNode, RequestVote, Timing


def minority_leader(check_quorum: bool, seed: int) -> tuple[Cluster, int]:
    c = Cluster(5, seed=seed, check_quorum=check_quorum)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    old = c.leader()
    c.partition([old, next(i for i in c.ids if i != old)])
    c.run(1_000)
    return c, old


@pytest.mark.parametrize("seed", [1, 3, 5])
def test_without_check_quorum_the_minority_leader_stays_leader(seed):
    c, old = minority_leader(False, seed)
    assert c.nodes[old].role == LEADER
    assert len([i for i in c.ids if c.nodes[i].role == LEADER]) == 2  # two leaders, of different terms


@pytest.mark.parametrize("seed", [1, 3, 5])
def test_with_check_quorum_the_minority_leader_steps_down_within_an_election_timeout(seed):
    c, old = minority_leader(True, seed)
    assert c.nodes[old].role == FOLLOWER
    down = next(e for e in c.trace if e.kind == "stepdown" and e.node == old)
    cut = next(e for e in c.trace if e.kind == "partition")
    low, high = c.timing.election_timeout
    assert down.time - cut.time <= low + c.timing.heartbeat  # heard nothing for one minimum timeout
    assert [i for i in c.ids if c.nodes[i].role == LEADER] != [old]


def test_majority_side_keeps_its_leader_with_check_quorum():
    c = Cluster(5, seed=4, check_quorum=True)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    old = c.leader()
    c.isolate(next(i for i in c.ids if i != old))
    c.run(2_000)
    assert c.leader() == old and not any(e.kind == "stepdown" for e in c.trace)


def test_a_follower_that_hears_a_live_leader_ignores_requestvote():
    n = RaftNode(2, [1, 2, 3], rng=random.Random(0), timing=Timing())
    n.enable(check_quorum=True)
    n.receive(AppendEntries(1, 1, 2, 0, 0, (), 0), 10)
    n.take_output()
    n.receive(RequestVote(5, 3, 2, 0, 0), 20)
    out, events = n.take_output()
    assert out == [] and n.current_term == 1 and n.voted_for is None
    assert [e.kind for e in events] == ["vote_ignored"]
    n.receive(RequestVote(5, 3, 2, 0, 0, transfer=True), 30)  # a handed-over campaign (§3.10) is heard
    out, _ = n.take_output()
    assert n.current_term == 5 and out[0].vote_granted
