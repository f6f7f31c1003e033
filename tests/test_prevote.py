"""Pre-vote (dissertation §9.6): a server that rejoins after isolation does not disrupt a working leader.

The contrast is the lesson: without pre-vote the isolated server raises its
term again and again and deposes the leader when it comes back; with
pre-vote it never raises its term while it cannot win, so nothing happens.
"""

from __future__ import annotations

import random

import pytest

from raftedu import Cluster
from raftedu.raft import FOLLOWER, PreVote, PreVoteReply, RaftNode, RequestVote, Timing


def rejoin(pre_vote: bool, seed: int = 3) -> tuple[Cluster, int, int, int]:
    """Isolate a follower for 3 s, heal, run 1 s; return (cluster, old leader, its term, the rejoined server)."""
    c = Cluster(5, seed=seed, pre_vote=pre_vote)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    c.request("a")
    c.run(200)
    leader = c.leader()
    term = c.nodes[leader].current_term
    x = next(i for i in c.ids if i != leader)
    c.isolate(x)
    c.run(3_000)
    c.heal()
    c.run(1_000)
    return c, leader, term, x


@pytest.mark.parametrize("seed", [1, 3, 8])
def test_without_pre_vote_the_rejoining_server_deposes_the_leader(seed):
    c, leader, term, x = rejoin(False, seed)
    assert c.nodes[x].current_term > term  # it campaigned alone, raising its term
    assert all(c.nodes[i].current_term > term for i in c.ids)  # and dragged everyone into a new term
    assert any(e.kind == "role" and e.node == leader and e.value == FOLLOWER for e in c.trace)


@pytest.mark.parametrize("seed", [1, 3, 8])
def test_with_pre_vote_the_rejoining_server_changes_nothing(seed):
    c, leader, term, x = rejoin(True, seed)
    assert c.leader() == leader
    assert [c.nodes[i].current_term for i in c.ids] == [term] * 5
    asked = [e for e in c.trace if e.kind == "precampaign" and e.node == x]
    assert len(asked) >= 5 and all(e.value == term + 1 for e in asked)  # it kept asking, never raising its term
    assert not any(e.kind == "role" and e.node == leader and e.value == FOLLOWER for e in c.trace)


def test_pre_vote_still_elects_after_the_leader_crashes():
    c = Cluster(5, seed=2, pre_vote=True)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    old = c.crash_leader()
    assert c.run_until(lambda c: c.leader() not in (None, old), 3_000)
    c.request("x")
    c.run(300)
    assert c.requests[-1].status == "committed"


def node(i: int = 1, **kw) -> RaftNode:
    n = RaftNode(i, [1, 2, 3], rng=random.Random(0), timing=Timing())
    n.enable(pre_vote=True, **kw)
    n.take_output()
    return n


def test_pre_candidate_asks_for_the_next_term_without_raising_its_own():
    n = node()
    n.on_timer(n.deadline)
    out, _ = n.take_output()
    assert n.current_term == 0 and n.voted_for is None and n.role == FOLLOWER
    assert sorted((type(m), m.term, m.dst) for m in out) == [(PreVote, 1, 2), (PreVote, 1, 3)]
    n.receive(PreVoteReply(1, 2, 1, True), n.now + 1)  # one pre-vote + its own: a majority of 3
    out, _ = n.take_output()
    assert n.current_term == 1 and n.role == "candidate"
    assert {type(m) for m in out} == {RequestVote}


def test_pre_vote_receiver_changes_nothing_and_refuses_while_it_hears_a_leader():
    from raftedu.raft import AppendEntries
    n = node(2)
    n.receive(PreVote(1, 1, 2, 0, 0), 10)
    (reply,), _ = n.take_output()
    assert reply == PreVoteReply(1, 2, 1, True)
    assert (n.current_term, n.voted_for) == (0, None)  # a pre-vote is not a vote
    n.receive(AppendEntries(1, 3, 2, 0, 0, (), 0), 20)  # a live leader S3 of term 1
    n.take_output()
    n.receive(PreVote(2, 1, 2, 0, 0), 30)
    (reply,), _ = n.take_output()
    assert reply == PreVoteReply(1, 2, 1, False) and n.current_term == 1
    n.receive(PreVote(2, 1, 2, 0, 0), 20 + Timing().election_timeout[0])  # the lease ran out
    (reply,), _ = n.take_output()
    assert reply.vote_granted


def test_pre_vote_is_refused_to_a_less_up_to_date_log():
    from raftedu.raft import Entry
    n = node(2)
    n.state.log.append(Entry(1, "a"))
    n.state.current_term = 1
    n.receive(PreVote(2, 1, 2, 0, 0), 10)
    (reply,), _ = n.take_output()
    assert not reply.vote_granted
