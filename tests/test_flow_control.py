"""Flow control in the reference node's replication (§5.2, §5.3): what a leader sends, and when.

A leader keeps at most one AppendEntries carrying entries unanswered per
follower (new entries go with the answer), and sends heartbeats only to
followers it sent nothing for a heartbeat interval ("repeat during idle
periods", Figure 2). Figure 2 allows a leader to send fewer messages; these
tests pin down that it still sends enough.
"""

from __future__ import annotations

from raftedu import Cluster, Network, RaftNode, Timing
from raftedu.raft import AppendEntries, AppendEntriesReply


def _loaded(node_class: type[RaftNode] = RaftNode, network: Network = Network(delay=(10, 15)), ms: int = 3_000) -> Cluster:
    c = Cluster(5, seed=4, network=network, timing=Timing(election_timeout=(100, 200), heartbeat=50),
                node_class=node_class)
    c.run_until(lambda c: c.leader() is not None, 2_000)
    end = c.now + ms
    k = 0
    while c.now < end:
        if c.leader() is not None:
            k += 1
            c.request(f"cmd{k}")
        c.run(10)
    return c


def _unanswered_sends(c: Cluster, heartbeat: int) -> list[str]:
    """AppendEntries carrying entries sent to a follower with no answer from it since the previous such send and
    less than a heartbeat interval after it (what flow control forbids)."""
    wrong = []
    last_sent: dict[tuple[int, int, int], int] = {}  # (leader, follower, term) -> time of the last send with entries
    answered: dict[tuple[int, int, int], bool] = {}
    for e in c.trace:
        m = e.msg
        if e.kind == "send" and type(m) is AppendEntries and m.entries:
            key = (m.src, m.dst, m.term)
            if key in last_sent and not answered[key] and e.time - last_sent[key] < heartbeat:
                wrong.append(f"t={e.time}: S{m.src} sent S{m.dst} entries again {e.time - last_sent[key]} ms after "
                             "the last ones, unanswered")
            last_sent[key], answered[key] = e.time, False
        elif e.kind == "deliver" and type(m) is AppendEntriesReply:
            answered[(m.dst, m.src, m.term)] = True
    return wrong


def test_one_appendentries_with_entries_in_flight_per_follower_and_every_request_commits() -> None:
    c = _loaded()
    assert _unanswered_sends(c, 50) == []
    sends = [e for e in c.trace if e.kind == "send" and type(e.msg) is AppendEntries and e.msg.entries]
    assert max(len(e.msg.entries) for e in sends) > 1, "entries that arrived meanwhile go together"
    statuses = [r.status for r in c.requests]
    assert statuses[:-5].count("committed") == len(statuses) - 5  # all but the last few, still under way


def test_a_leader_sending_every_entry_at_once_breaks_the_rule() -> None:
    class NoFlowControl(RaftNode):
        def propose(self, command: object, now: int) -> int | None:
            self.in_flight.clear()  # forget what is in flight: every proposal goes to every follower
            return super().propose(command, now)

    assert _unanswered_sends(_loaded(NoFlowControl, ms=500), 50)


def test_heartbeats_in_idle_periods_only() -> None:
    c = Cluster(5, seed=4, network=Network(delay=(10, 15)), timing=Timing(election_timeout=(100, 200), heartbeat=50))
    c.run_until(lambda c: c.leader() is not None, 2_000)
    leader = c.leader()
    idle_from = c.now
    c.run(500)
    sends: dict[int, list[int]] = {}
    for e in c.trace:
        if e.kind == "send" and type(e.msg) is AppendEntries and e.msg.src == leader and e.time >= idle_from:
            sends.setdefault(e.msg.dst, []).append(e.time)
    assert sorted(sends) == [i for i in c.ids if i != leader]
    for times in sends.values():  # idle: every follower hears from the leader exactly once per heartbeat interval
        assert {b - a for a, b in zip(times, times[1:])} == {50}
    busy = _loaded(ms=1_000)
    beats = [e for e in busy.trace if e.kind == "send" and type(e.msg) is AppendEntries and not e.msg.entries
             and e.time > 1_000]
    assert beats == [], "under steady load the entries themselves keep the followers' timers reset"


def test_lost_appendentries_are_sent_again_with_the_heartbeat() -> None:
    c = _loaded(network=Network(delay=(10, 15), drop_rate=0.2), ms=2_000)
    c.set_network(drop_rate=0.0)
    c.run(1_000)
    leader = c.nodes[c.leader()]
    assert all(leader.match_index[p] == len(leader.log) for p in leader.peers)
    assert all(c.nodes[i].commit_index == len(leader.log) for i in c.ids)
