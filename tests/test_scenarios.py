"""Whole-cluster scenarios, in the spirit of the MIT 6.5840 Raft lab tests, run in the deterministic simulator.

Every run has the safety checks on: a test passes only if no safety property
broke at any event along the way.
"""

from __future__ import annotations

import random

import pytest

from raftedu import Cluster, Network, RaftNode, SafetyViolation
from raftedu.scenarios import SCRIPTED, figure_8, longer_log_older_term, shorter_log_same_term

FAST_NET = Network(delay=(1, 1))


def elect(c: Cluster, within: int = 3_000) -> int:
    """Run until some node leads; return it."""
    assert c.run_until(lambda c: c.leader() is not None, within), f"no leader within {within} ms (t={c.now})"
    return c.leader()


def agree(c: Cluster, command: object, expected: int, within: int = 3_000) -> int:
    """Submit ``command`` (retrying as a client would) until ``expected`` running nodes applied it; return its index."""
    end = c.now + within
    while c.now < end:
        if c.leader() is None:
            c.run(50)
            continue
        req = c.request(command)
        c.run_until(lambda c: req.status != "pending" or c.leader() != req.node, 1_000)
        if req.status == "committed":
            assert c.run_until(lambda c: applied_by(c, command) >= expected, end - c.now)
            return req.index
    raise AssertionError(f"{command!r} was not agreed by {expected} nodes within {within} ms")


def applied_by(c: Cluster, command: object) -> int:
    """How many running nodes have applied ``command``."""
    return sum(command in c.nodes[i].applied for i in c.up())


def terms_now(c: Cluster) -> list[int]:
    return [c.nodes[i].current_term for i in c.up()]


def test_initial_election():
    """A leader is elected, and with no failures the term stays put."""
    c = Cluster(3, seed=1)
    elect(c)
    term = c.nodes[c.leader()].current_term
    assert len(set(terms_now(c))) == 1
    c.run(2_000)
    assert c.nodes[c.leader()].current_term == term, "term changed although nothing failed"


def test_re_election_after_leader_loss():
    """Crash the leader: a new one is elected; the old one rejoins as follower; no majority → no leader."""
    c = Cluster(3, seed=2)
    first = elect(c)
    c.crash(first)
    second = elect(c)
    assert second != first
    c.restart(first)
    c.run(1_000)
    assert c.leader() == second
    others = [i for i in c.ids if i != second]
    c.crash(second)
    c.crash(others[0] if others[0] != first else others[1])
    c.run(2_000)
    assert c.leader() is None, "a single node out of three must not become leader"
    c.restart(second)
    elect(c)


def test_no_leader_without_a_majority_partitioned():
    """Partitions instead of crashes: a 2-of-5 side never elects, the 3-of-5 side does."""
    c = Cluster(5, seed=3)
    elect(c)
    c.partition([1, 2], [3, 4, 5])
    c.run(3_000)
    leaders = [i for i in c.up() if c.nodes[i].role == "leader"]
    minority_leaders = [i for i in leaders if i in (1, 2) and c.nodes[i].current_term == max(terms_now(c))]
    assert not minority_leaders
    assert any(i in (3, 4, 5) for i in leaders)


def test_many_elections_with_random_disconnects_7_nodes():
    """Seven nodes; repeatedly cut three random nodes off: the other four always elect a leader."""
    c = Cluster(7, seed=4)
    rng = random.Random(4)
    elect(c)
    for _ in range(10):
        cut = rng.sample(c.ids, 3)
        c.partition(cut)
        rest = [i for i in c.ids if i not in cut]
        assert c.run_until(lambda c: any(c.nodes[i].role == "leader" and c.nodes[i].current_term == max(terms_now(c))
                                         for i in rest), 3_000)
        c.heal()
        elect(c)


def test_basic_agreement():
    """Commands commit at consecutive indexes on every node."""
    c = Cluster(3, seed=5)
    elect(c)
    for k in range(1, 4):
        assert agree(c, f"cmd{k}", 3) == k
    assert all(c.nodes[i].applied == ["cmd1", "cmd2", "cmd3"] for i in c.ids)


def test_a_follower_fails_and_catches_up():
    """With one follower cut off, the other two commit; on return the follower catches up."""
    c = Cluster(3, seed=6)
    leader = elect(c)
    agree(c, "a", 3)
    follower = next(i for i in c.ids if i != leader)
    c.isolate(follower)
    agree(c, "b", 2)
    agree(c, "c", 2)
    c.heal()
    agree(c, "d", 3)
    assert c.nodes[follower].applied == ["a", "b", "c", "d"]


def test_no_agreement_with_a_majority_gone():
    """Three of five followers cut off: the leader cannot commit; after healing the cluster goes on."""
    c = Cluster(5, seed=7, timing=SCRIPTED, network=FAST_NET)
    c.timeout_now(1)
    c.run(10)
    assert c.leader() == 1
    c.partition([1, 2])
    req = c.request("blocked")
    c.run(2_000)
    assert req.status == "pending" and c.nodes[1].commit_index == 0
    c.heal()
    c.run(200)
    assert req.status == "committed" and applied_by(c, "blocked") == 5


def test_rejoin_of_a_partitioned_old_leader():
    """An old leader keeps uncommitted entries while cut off; on rejoining it steps down and adopts the new log."""
    c = Cluster(3, seed=8, timing=SCRIPTED, network=FAST_NET)
    c.timeout_now(1)
    c.run(10)
    c.request("ok")
    c.run(50)
    c.isolate(1)
    stale = [c.request(f"stale{k}") for k in range(3)]
    c.timeout_now(2)
    c.run(20)
    assert c.leader() == 2 or c.nodes[2].role == "leader"
    fresh = c.request("fresh")
    c.run(50)
    assert fresh.status == "committed"
    c.heal()
    c.run(200)
    assert c.nodes[1].role == "follower"
    assert all(c.nodes[i].applied == ["ok", "fresh"] for i in c.ids)
    assert all(r.status in ("pending", "lost") for r in stale)
    assert not any(f"stale{k}" in [e.command for e in c.nodes[1].log] for k in range(3))


def test_fast_backup_over_50_conflicting_entries():
    """MIT's TestBackup: a leader with 50 uncommitted entries is replaced; logs are repaired quickly."""
    c = Cluster(5, seed=9, timing=SCRIPTED, network=FAST_NET)
    c.timeout_now(1)
    c.run(10)
    c.request("base")
    c.run(50)
    c.partition([1, 2])
    for k in range(50):
        c.request(f"lost{k}")
    c.run(50)
    c.timeout_now(3)
    c.run(20)
    assert c.nodes[3].role == "leader"
    for k in range(50):
        c.request(f"kept{k}")
    c.run(100)
    assert c.nodes[3].commit_index == 51
    mark = len(c.trace)
    c.heal()
    c.run(500)
    for i in c.ids:
        assert c.nodes[i].applied == ["base", *[f"kept{k}" for k in range(50)]]
    rejections = [e for e in c.trace.events[mark:]
                  if e.kind == "deliver" and type(e.msg).__name__ == "AppendEntriesReply" and not e.msg.success]
    # one rejection per lagging follower suffices with the §5.3 conflict hint (one-by-one back-off would need 50 each)
    assert len(rejections) <= 4, len(rejections)


def test_persistence_across_crashes_of_every_node():
    """Crash every node and restart them all: committed entries are still there and still agreed."""
    c = Cluster(3, seed=10)
    elect(c)
    agree(c, "before", 3)
    for i in c.ids:
        c.crash(i)
    c.run(500)
    for i in c.ids:
        c.restart(i)
    assert all(c.nodes[i].applied == [] and c.nodes[i].log[0].command == "before" for i in c.ids)
    elect(c)
    agree(c, "after", 3)
    assert all(c.nodes[i].applied == ["before", "after"] for i in c.ids)


def test_figure_8_scenario_the_current_term_rule_keeps_it_safe():
    """§5.4.2: S1 must not commit "x" in term 4 by counting replicas, so S5 overwriting it in term 5 is safe."""
    c = figure_8()
    assert c.leader() == 5 and c.nodes[5].current_term == 5
    assert all([e.command for e in c.nodes[i].log] == ["init", "y"] for i in c.ids)


class CountsOldTermReplicas(RaftNode):
    """Broken commit rule: commits any entry stored on a majority, whatever its term."""

    def advance_commit_index(self) -> None:
        for n in range(self.last_log_index, self.commit_index, -1):
            if 1 + sum(self.match_index[p] >= n for p in self.peers) >= self.quorum:
                self.set_commit_index(n, "broken: counts replicas of old-term entries")
                return


def test_figure_8_broken_commit_rule_is_caught():
    with pytest.raises(SafetyViolation) as caught:
        figure_8(CountsOldTermReplicas)
    assert caught.value.property == "Leader Completeness"
    assert caught.value.seed == 11 and "S5" in str(caught.value)


def test_figure_8_broken_commit_rule_is_caught_at_the_commit_with_the_up_to_date_check():
    """etcd-io/raft's MoreUpToDateCorrectInv: S1 commits x while S5 (last term 2) could still be elected without it."""
    def make(n, **settings):
        return Cluster(n, seed=11, node_class=CountsOldTermReplicas, up_to_date_check=True, **settings)

    with pytest.raises(SafetyViolation) as caught:
        figure_8(make=make)
    v = caught.value
    assert v.property == "Up-to-date logs hold what is committed" and (v.event.kind, v.event.node) == ("commit", 1)
    assert "S5's log is at least as up to date as S1's" in v.detail


class ComparesLogLengthOnly(RaftNode):
    """Broken vote rule: a longer log counts as more up to date, whatever its last term."""

    def log_is_up_to_date(self, last_log_index: int, last_log_term: int) -> bool:
        return last_log_index >= self.last_log_index


def test_vote_rule_refuses_a_longer_log_with_an_older_last_term():
    c = longer_log_older_term(RaftNode)
    assert c.nodes[1].role == "candidate"


def test_vote_rule_refuses_a_shorter_log_with_the_same_last_term():
    c = shorter_log_same_term()
    assert c.nodes[3].role == "candidate" and c.leader() != 3


def test_broken_vote_rule_comparing_log_length_only_is_caught():
    with pytest.raises(SafetyViolation) as caught:
        longer_log_older_term(ComparesLogLengthOnly)
    assert caught.value.property == "Leader Completeness"


def test_figure_8_unreliable_network():
    """MIT's TestFigure8Unreliable: long delays, loss and leader crashes, then a final command must commit."""
    c = Cluster(5, seed=13, network=Network(delay=(1, 30), drop_rate=0.1, long_delay_rate=0.1, long_delay=(100, 800)))
    rng = random.Random(13)
    for k in range(40):
        if c.leader() is not None:
            c.request(f"u{k}")
        c.run(rng.randrange(10, 300))
        if c.leader() is not None and rng.random() < 0.5:
            c.crash(c.leader())
        down = [i for i in c.ids if c.nodes[i] is None]
        if len(down) >= 3 or (down and rng.random() < 0.3):
            c.restart(rng.choice(down))
    for i in c.ids:
        if c.nodes[i] is None:
            c.restart(i)
    c.set_network(drop_rate=0.0, long_delay_rate=0.0)
    agree(c, "final", 5, within=10_000)


def test_churn_with_crashes_and_restarts_loses_no_acknowledged_request():
    """Random crashes and restarts with steady client load: every committed request survives on every node."""
    c = Cluster(5, seed=14, network=Network(delay=(2, 20)))
    rng = random.Random(14)
    for k in range(60):
        if c.leader() is not None:
            c.request(f"w{k}")
        c.run(rng.randrange(20, 200))
        if rng.random() < 0.2:
            up = c.up()
            if len(up) > 2:
                c.crash(rng.choice(up))
        down = [i for i in c.ids if c.nodes[i] is None]
        if down and rng.random() < 0.3:
            c.restart(rng.choice(down))
    for i in c.ids:
        if c.nodes[i] is None:
            c.restart(i)
    agree(c, "end", 5, within=10_000)
    acked = [r for r in c.requests if r.status == "committed"]
    assert len(acked) > 20
    for i in c.ids:
        log = c.nodes[i].applied
        for r in acked:
            assert log[r.index - 1] == r.command, f"S{i} lost acknowledged {r.command!r}"


class NeverStepsDown(RaftNode):
    """Ignores higher terms while it leads (§5.1 broken): it never steps down."""

    def observe_term(self, term: int) -> None:
        if self.role != "leader":
            super().observe_term(term)


def test_a_script_that_goes_off_course_raises_script_error_naming_the_step():
    from raftedu.scenarios import ScriptError

    with pytest.raises(ScriptError, match="S1 still leads term 1 at t=.*S1 should have stepped down on hearing S3's term 2"):
        longer_log_older_term(NeverStepsDown)


def test_stale_messages_scenarios_end_as_the_paper_says():
    from raftedu.scenarios import restart_between_votes, stale_replies_across_reelection, vote_replies_delayed_across_reelection

    c = stale_replies_across_reelection()
    assert c.leader() == 1 and c.nodes[1].current_term == 3 and c.nodes[1].commit_index == 3
    assert [r.status for r in c.requests if r.command in ("base", "new", "z")] == ["committed"] * 3
    assert any(e.kind == "deliver" and e.node == 1 and e.msg.term == 1 and e.time > 300 for e in c.trace), \
        "S2's slowed term-1 acknowledgements must reach S1 while it leads term 3"
    c = restart_between_votes()
    refused = [e for e in c.trace if e.kind == "vote" and e.node == 3 and e.peer == 2]
    assert c.leader() == 1 and [(e.term, e.value) for e in refused] == [(1, False)]
    c = vote_replies_delayed_across_reelection()
    late = [e for e in c.trace if e.kind == "deliver" and e.node == 1 and type(e.msg).__name__ == "RequestVoteReply"
            and e.msg.term == 1 and e.time >= 200]
    assert len(late) == 4 and c.leader() == 1 and c.nodes[1].current_term == 3
