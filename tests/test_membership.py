"""Membership changes, one server at a time through the log (dissertation §4.1), with learners (§4.2.1)."""

from __future__ import annotations

import pytest

from raftedu import Cluster, Entry, Event, SafetyViolation, check_trace
from raftedu.checks import EXTENSION_PROPERTIES
from raftedu.raft import LEADER, ConfigChange
from raftedu.sim import Refused


def ready(n: int = 3, seed: int = 4, **options) -> Cluster:
    c = Cluster(n, seed=seed, **options)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    c.request("a")
    c.run(200)
    return c


def configs(c: Cluster) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
    return {i: (tuple(sorted(c.nodes[i].voters)), tuple(sorted(c.nodes[i].learners))) for i in c.up()}


def test_a_new_leader_must_commit_in_its_term_before_a_change():
    c = Cluster(3, seed=4)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    with pytest.raises(Refused, match="has not committed an entry of its term"):
        c.add_server()


def test_add_server_joins_as_a_learner_that_catches_up_then_promote_makes_it_a_voter():
    c = ready()
    new = c.add_server()
    assert new == 4 and c.n == 4
    with pytest.raises(Refused, match="catching up"):
        c.promote(new)  # its log is still empty
    c.run(300)
    assert set(configs(c).values()) == {((1, 2, 3), (4,))}  # the configuration took effect everywhere
    assert c.nodes[new].applied == c.nodes[c.leader()].applied  # the learner caught up
    learner_votes = [e for e in c.trace if e.kind == "vote" and e.peer == new]
    assert not learner_votes
    c.promote(new)
    c.run(300)
    assert set(configs(c).values()) == {((1, 2, 3, 4), ())}
    assert c.nodes[c.leader()].quorum == 3  # four voters: a majority is three


def test_one_change_at_a_time():
    c = ready()
    c.add_server()
    with pytest.raises(Refused, match="one change at a time"):
        c.add_server()


def test_learners_never_count_for_a_majority():
    c = ready()
    new = c.add_server()
    c.run(300)
    leader = c.leader()
    others = [i for i in c.ids if i not in (leader, new)]
    for i in others:
        c.crash(i)  # the leader and the learner remain: 1 voter of 3
    r = c.request("needs a majority")
    c.run(1_000)
    assert r.status == "pending" and c.nodes[new].last_log_index >= r.index  # the learner holds it: not enough


def test_learners_never_campaign():
    c = ready()
    new = c.add_server()
    c.run(300)
    for i in c.initial_ids:
        c.crash(i)
    c.run(2_000)
    assert c.nodes[new].role != LEADER
    assert any(e.kind == "timeout" and e.node == new and e.rule.startswith("§4.2.1") for e in c.trace)
    assert not any(e.kind == "role" and e.node == new and e.value == "candidate" for e in c.trace)


@pytest.mark.parametrize("seed", [4, 7])
def test_removing_the_leader_it_steps_down_after_the_change_commits(seed):
    c = ready(seed=seed)
    old = c.leader()
    c.remove_server(old)
    assert c.run_until(lambda c: old in c.retired, 500)
    down = next(e for e in c.trace if e.kind == "stepdown" and e.node == old)
    assert down.rule.startswith("§4.2.2")
    assert c.run_until(lambda c: c.leader() is not None, 2_000)
    assert c.leader() != old and set(configs(c).values()) == {(tuple(i for i in (1, 2, 3) if i != old), ())}
    c.request("z")
    c.run(300)
    assert c.requests[-1].status == "committed"
    with pytest.raises(Refused, match="removed"):
        c.restart(old)


def test_a_removed_follower_shuts_down_and_the_rest_go_on():
    c = ready(5)
    leader = c.leader()
    gone = next(i for i in c.ids if i != leader)
    c.remove_server(gone)
    c.run(300)
    assert gone in c.retired and c.nodes[gone] is None
    assert c.nodes[leader].quorum == 3 and all(gone not in c.nodes[i].voters for i in c.up())


def test_configuration_survives_a_restart():
    c = ready()
    new = c.add_server()
    c.run(300)
    c.crash(new)
    c.restart(new)
    assert (tuple(sorted(c.nodes[new].voters)), tuple(c.nodes[new].learners)) == ((1, 2, 3), (4,))


START = Event(0, "start", value=(("n", 3), ("seed", 0)))


def leader_appends(*entries: Entry, commit: int = 0) -> list[Event]:
    events = [Event(1, "term", node=1, term=1, value=1), Event(1, "vote", node=1, term=1, peer=1, value=True),
              Event(1, "vote", node=2, term=1, peer=1, value=True), Event(1, "role", node=1, term=1, value="leader")]
    events += [Event(2, "append", node=i, term=1, index=1, entry=Entry(1, None)) for i in (1, 2)]
    events.append(Event(2, "commit", node=1, term=1, index=1))  # an entry of its term first (Ongaro 2015)
    for k, entry in enumerate(entries, start=2):
        events.append(Event(2 + k, "append", node=1, term=1, index=k, entry=entry))
        events.append(Event(2 + k, "append", node=2, term=1, index=k, entry=entry))
        if k == commit + 1:
            events.append(Event(2 + k, "commit", node=1, term=1, index=k))
    return events


def violated(events: list[Event]) -> str:
    with pytest.raises(SafetyViolation) as caught:
        check_trace([START, *events])
    return caught.value.property


def test_monitor_catches_two_changes_in_flight():
    first, second = Entry(1, ConfigChange((1, 2, 3), (4,))), Entry(1, ConfigChange((1, 2, 3, 4)))
    assert violated(leader_appends(first, second)) == "One configuration change at a time"
    check_trace([START, *leader_appends(first, second, commit=1)])  # committed first: allowed


def test_monitor_catches_a_change_of_two_voters_at_once():
    assert violated(leader_appends(Entry(1, ConfigChange((1, 2, 3, 4, 5))))) == "Single-server changes"
    assert violated(leader_appends(Entry(1, ConfigChange((1, 4))))) == "Single-server changes"
    check_trace([START, *leader_appends(Entry(1, ConfigChange((1, 2, 3), (4, 5))))])  # learners are free


def test_every_extension_property_has_a_failing_test_above():
    assert {"One configuration change at a time", "Single-server changes"} <= set(EXTENSION_PROPERTIES)


def test_a_server_whose_removal_is_not_committed_still_campaigns():
    """§4.2.2: found by the sweep (N=3, seed 577): leader S2 appended its own removal, lost its majority before
    committing it and stepped down; S1 needs S2's vote, S2's log is ahead, and S2 is out of its latest
    configuration. If S2 never campaigned, no leader could ever be elected again."""
    from raftedu.sweep import run_seed

    assert run_seed(3, 577, features="all").live


def test_monitor_counts_only_voters_of_the_candidates_configuration():
    """A learner's vote (they answer RequestVote, etcd) does not make a majority (§4.2.1)."""
    config = ConfigChange((1, 2, 3), (4,))
    base = [Event(1, "server_added", node=4), Event(2, "config", node=1, index=1, value=config),
            Event(3, "term", node=1, term=1, value=1), Event(3, "vote", node=1, term=1, peer=1, value=True)]
    learner = [Event(4, "vote", node=4, term=1, peer=1, value=True), Event(5, "role", node=1, term=1, value="leader")]
    assert violated(base + learner) == "Leader elected by a majority"
    voter = [Event(4, "vote", node=2, term=1, peer=1, value=True), Event(5, "role", node=1, term=1, value="leader")]
    check_trace([START, *base, *voter])


def test_monitor_stops_a_leader_that_starts_a_second_change_before_the_first_commits():
    """A broken leader that skips §4.1's one-at-a-time rule is caught in a real run, at the second change."""
    from raftedu import RaftNode

    class NoWaiting(RaftNode):
        def configuration_change_refused(self):
            return None if self.role == LEADER else "not the leader"

    c = Cluster(3, seed=4, node_class=NoWaiting)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    c.request("a")
    c.run(200)
    c.add_server()
    with pytest.raises(SafetyViolation) as caught:
        c.add_server()
    assert caught.value.property == "One configuration change at a time"
