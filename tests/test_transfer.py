"""Leadership transfer (dissertation §3.10, ``etcdctl move-leader``)."""

from __future__ import annotations

import pytest

from raftedu import Cluster
from raftedu.raft import TimeoutNow
from raftedu.sim import Refused


def ready(seed: int = 4, **options) -> Cluster:
    c = Cluster(5, seed=seed, **options)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    for k in range(3):
        c.request(f"r{k}")
    c.run(200)
    return c


@pytest.mark.parametrize("options", [{}, {"pre_vote": True, "check_quorum": True}])
@pytest.mark.parametrize("seed", [2, 4])
def test_target_leads_within_one_election_timeout_and_nothing_committed_is_lost(options, seed):
    c = ready(seed, **options)
    old = c.leader()
    to = next(i for i in c.ids if i != old)
    c.crash(to)  # the target misses an entry, then comes back behind
    c.request("while away")
    c.run(100)
    c.restart(to)
    committed = list(c.nodes[old].applied)
    start = c.now
    c.transfer_leadership(to)
    assert c.run_until(lambda c: c.leader() == to, c.timing.election_timeout[0])
    assert c.now - start < c.timing.election_timeout[0]
    assert any(e.kind == "send" and type(e.msg) is TimeoutNow and e.msg.dst == to for e in c.trace)
    c.request("after")
    c.run(200)
    assert all(c.nodes[i].applied[: len(committed)] == committed for i in c.up())
    assert c.requests[-1].status == "committed"


def test_proposals_are_refused_while_transferring_and_the_transfer_aborts_after_a_timeout():
    c = ready()
    old = c.leader()
    to = next(i for i in c.ids if i != old)
    c.isolate(to)  # it can never catch up nor get TimeoutNow
    c.transfer_leadership(to)
    r = c.request("during")
    assert r.status == "rejected" and "handing leadership" in r.reason
    c.run(c.timing.election_timeout[0] + c.timing.heartbeat)
    assert c.leader() == old and c.nodes[old].transferee is None
    assert any(e.kind == "transfer" and e.value is None for e in c.trace)  # aborted
    assert c.request("later").status == "pending"


def test_bad_or_impossible_transfers_say_why():
    c = ready()
    with pytest.raises(Refused, match="already leads"):
        c.transfer_leadership(c.leader())
    with pytest.raises(ValueError, match="whole number"):
        c.transfer_leadership("S2")
    with pytest.raises(Refused, match="not a voter"):
        c.transfer_leadership(9)
