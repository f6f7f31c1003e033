"""The etcd-like KV service on the Raft core: clients, read paths, de-duplication, and the checker's verdicts."""

from __future__ import annotations

import random

import pytest

from raftedu import AppendEntries, RequestVote, RequestVoteReply
from raftedu.kv import ClientAnswer, KVService, kv_node_class, old_leader_read, under_faults

def minority_read(**kwargs) -> tuple[KVService, int, tuple[int, int]]:
    """The scripted old-leader read, plus the old leader and the time window of the read."""
    svc = old_leader_read(**kwargs)
    isolated = next(e for e in svc.cluster.trace if e.kind == "partition")
    old = isolated.value[0][0]
    read = svc.history[2]
    return svc, old, (read.invoke, svc.cluster.now)


@pytest.mark.parametrize("mode", ["readindex", "lease", "log"])
def test_every_operation_is_answered_and_the_history_is_linearizable(mode):
    svc = KVService(5, clients=3, seed=1, read_mode=mode)
    svc.workload(20, keys=3)
    svc.run(3_000)
    svc.finish()
    frame = svc.history.to_frame()
    assert len(frame) == 60 and set(frame.status) == {"ok"}
    assert svc.check().linearizable is True


@pytest.mark.parametrize("mode", ["readindex", "lease", "log"])
def test_random_faults_keep_every_history_linearizable(mode):
    for seed in range(6):
        svc = under_faults(seed, read_mode=mode)
        result = svc.check()
        assert result.linearizable is True, f"seed {seed}: {result}"
        assert set(svc.history.to_frame().status) == {"ok"}


def test_all_servers_end_with_the_same_store():
    svc = under_faults(2)
    stores = {i: svc.cluster.nodes[i].store.snapshot() for i in svc.cluster.ids}
    svc.run(500)
    assert len({tuple(sorted(s.items())) for s in stores.values()}) == 1


def test_readindex_old_leader_in_a_minority_never_answers_a_read():
    svc, old, (start, end) = minority_read(read_mode="readindex")
    answers = [e for e in svc.cluster.trace if e.kind == "send" and isinstance(e.msg, ClientAnswer)
               and e.msg.src == old and e.msg.ok and start <= e.time <= end]
    assert answers == []
    assert svc.history[2].result.value == 2 and svc.check().linearizable is True


def test_local_reads_serve_a_stale_value_and_the_checker_shows_it():
    svc, old, _ = minority_read(read_mode="local")
    assert svc.history[2].result.value == 1
    result = svc.check()
    assert result.linearizable is False
    assert 2 in result.explanation.ops and "get('x')" in str(result)


def test_lease_reads_from_an_old_leader_stop_when_its_lease_runs_out():
    svc, old, _ = minority_read(read_mode="lease")
    assert svc.history[2].result.value == 2 and svc.check().linearizable is True


def test_in_lease_mode_a_follower_ignores_vote_requests_while_its_leader_is_current():
    """Dissertation §4.2.3: what makes the lease safe -- no new leader before it runs out."""
    node = kv_node_class("lease")(2, [1, 2, 3], rng=random.Random(0))
    node.receive(AppendEntries(1, 1, 2, 0, 0, (), 0), 100)
    node.take_output()
    node.receive(RequestVote(2, 3, 2, 0, 0), 100 + 149)
    assert node.current_term == 1 and node.take_output()[0] == []
    node.receive(RequestVote(2, 3, 2, 0, 0), 100 + 150)
    assert node.current_term == 2 and node.take_output()[0] == [RequestVoteReply(2, 2, 3, True)]


def test_retried_writes_are_applied_once_with_sessions_and_twice_without():
    without = [under_faults(seed, dedup=False).check().linearizable for seed in range(6)]
    assert False in without
    duplicates = 0
    for seed in range(6):
        svc = under_faults(seed)
        duplicates += sum(1 for o in svc.history if o.result is not None and o.result.duplicate)
        assert svc.check().linearizable is True
    assert duplicates > 0, "the faults should have made some client retry a write that had already been applied"


def test_acknowledging_a_write_before_it_commits_loses_it():
    svc = KVService(5, clients=2, seed=4, ack_after_commit=False)
    c = svc.cluster
    c.run_until(lambda c: c.leader() is not None, 2_000)
    old = c.leader()
    c.isolate(old)
    svc.submit(1, "put", "x", "lost", to=old)
    svc.run(1_300)
    svc.submit(2, "get", "x", to=c.leader())
    svc.run(300)
    svc.finish()
    assert svc.history[0].status == "ok" and svc.history[1].result.value is None
    assert svc.check().linearizable is False


def test_a_restarted_server_rebuilds_its_store_from_the_log():
    svc = KVService(3, clients=1, seed=5)
    svc.workload(10, keys=2)
    svc.run(2_000)
    follower = next(i for i in svc.cluster.ids if i != svc.cluster.leader())
    before = svc.cluster.nodes[follower].store.snapshot()
    svc.cluster.crash(follower)
    svc.cluster.restart(follower)
    assert svc.cluster.nodes[follower].store.snapshot() == {}
    svc.run(300)
    assert svc.cluster.nodes[follower].store.snapshot() == before


@pytest.mark.parametrize("call,message", [
    (lambda: kv_node_class("fast"), "read_mode must be one of log, readindex, lease, local"),
    (lambda: KVService(3, clients=2).submit(3, "get", "x"), "client must be a number from 1 to 2"),
    (lambda: KVService(3, clients=1).submit(1, "get", "x", to=9), "unknown node id 9"),
    (lambda: KVService(3, clients=0), "clients must be a whole number >= 1"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_history_picture_marks_the_stale_read():
    from raftedu.viz.history import HISTORY_COLORS, history_figure

    svc, _, _ = minority_read(read_mode="local")
    result = svc.check()
    fig = history_figure(svc.history, result)
    flagged = next(t for t in fig.data if t.name == "cannot be ordered next (the violation)")
    stale = next(o for o in svc.history if o.op.kind == "get")
    assert flagged.marker.color == HISTORY_COLORS["stuck"]
    assert list(flagged.y) == [f"op {stale.id} · client {stale.client}: get('x') → 1 @1"]
    assert "NOT linearizable" in fig.layout.title.text and fig.layout.xaxis.title.text == "virtual time (ms)"
    rows = [y for t in fig.data for y in t.y]
    assert len(rows) == len(set(rows)) == len(svc.history)  # one row (and one label) per operation
    top_down = [r.split(":")[0] for r in reversed(fig.layout.yaxis.categoryarray)]
    assert top_down == [f"op {o.id} · client {o.client}" for o in sorted(svc.history, key=lambda o: (o.invoke, o.id))]
    assert fig.layout.xaxis.tickformat == ",d"  # whole milliseconds shown as whole numbers


def test_a_one_way_cut_may_name_a_client_and_an_unknown_id_is_still_refused() -> None:
    """Cluster.cut takes an attached client's id (exercise 10's session run loses a leader's answers that way): the
    answer is dropped and the cut is in the trace; an id that is neither a server nor an attached client is refused."""
    svc = KVService(3, clients=1, seed=1)
    c = svc.cluster
    c.run_until(lambda c: c.leader() is not None, 2_000)
    leader, client = c.leader(), svc.clients[0].id
    c.cut(leader, client)
    svc.submit(1, "put", "x", 1, to=leader)
    svc.run(200)
    assert any(e.kind == "cut" and (e.node, e.peer) == (leader, client) for e in c.trace)
    assert not any(e.kind == "deliver" and isinstance(e.msg, ClientAnswer) for e in c.trace)
    assert c.nodes[leader].store.get("x") == 1  # applied, its answer lost
    with pytest.raises(ValueError, match="unknown node id 99"):
        c.cut(leader, 99)
