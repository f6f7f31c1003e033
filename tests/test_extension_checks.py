"""The extensions' promises as monitor properties (issue 25): each fails on a trace that breaks it, and passes on the
nearest trace that keeps it; the scripts of raftedu.scenarios that exercise them run clean on the reference."""

from __future__ import annotations

import pytest

from raftedu import Cluster, Entry, Event, SafetyViolation, check_trace, scenarios
from raftedu.raft import AppendEntries, AppendEntriesReply, ConfigChange, TimeoutNow
from raftedu.scenarios import ScriptError
from raftedu.sim import Refused

TIMING = ("timing", {"election_timeout": (150, 300), "heartbeat": 50})
START = Event(0, "start", value=(("n", 3), ("seed", 0), TIMING))
START_CQ = Event(0, "start", value=(("n", 3), ("seed", 0), TIMING, ("options", ("check_quorum",))))


def violated(*events: Event) -> str | None:
    """The property the trace breaks (None: it keeps them all)."""
    try:
        check_trace(events)
    except SafetyViolation as v:
        return v.property
    return None


def elected(t: int = 1, leader: int = 1, term: int = 1) -> list[Event]:
    voter = 2 if leader != 2 else 3
    return [Event(t, "term", node=leader, term=term, value=term),
            Event(t, "vote", node=leader, term=term, peer=leader, value=True),
            Event(t, "vote", node=voter, term=term, peer=leader, value=True),
            Event(t, "role", node=leader, term=term, value="leader")]


def sent(t: int, m, k: int = 0) -> Event:
    return Event(t, "send", node=m.src, term=m.term, peer=m.dst, value=t + 1, msg=m, msg_id=k)


def delivered(t: int, m, k: int = 0) -> Event:
    return Event(t, "deliver", node=m.dst, term=m.term, peer=m.src, msg=m, msg_id=k)


def heartbeat(t: int, to: int = 2, term: int = 1) -> Event:
    return sent(t, AppendEntries(term, 1, to, 0, 0, (), 0))


def answer(t: int, frm: int = 2, term: int = 1) -> Event:
    return delivered(t, AppendEntriesReply(term, frm, 1, True))


def with_learner(t: int = 0) -> list[Event]:
    """S4 joins every configuration as a learner."""
    config = ConfigChange((1, 2, 3), (4,))
    return [Event(t, "server_added", node=4)] + [Event(t, "config", node=i, term=1, index=1, value=config)
                                                 for i in (1, 2, 3, 4)]


# ---- check-quorum (§6.2) ----------------------------------------------------------------------------------------


def test_a_check_quorum_leader_must_step_down_an_election_timeout_and_a_heartbeat_after_its_majority_went_quiet():
    base = [START_CQ, *elected(), answer(10)]
    assert violated(*base, heartbeat(210)) is None  # 10 + 150 + 50: still allowed
    assert violated(*base, heartbeat(211)) == "Check-quorum leaders step down"
    assert violated(*base, answer(200), heartbeat(300)) is None  # S2 answered again
    assert violated(*base, Event(205, "role", node=1, term=1, value="follower"), heartbeat(300, term=1)) is None
    assert violated(START, *elected(), answer(10), heartbeat(1_000)) is None  # without check-quorum: no such promise


def test_check_quorum_counts_voters_only_and_a_new_configuration_from_its_change_on():
    base = [START_CQ, *with_learner(), *elected(1), answer(10)]
    assert violated(*base, answer(150, frm=4), heartbeat(211)) == "Check-quorum leaders step down"
    smaller = ConfigChange((1, 2), ())  # S3 removed at 190: S2 alone is the majority from then on
    assert violated(*base, Event(190, "config", node=1, term=1, index=2, value=smaller), heartbeat(240)) is None
    assert violated(*base, Event(190, "config", node=1, term=1, index=2, value=smaller), heartbeat(241)) == \
        "Check-quorum leaders step down"


# ---- the lease (§4.2.3) -----------------------------------------------------------------------------------


def ignored(t: int, node: int = 2, term: int = 2) -> Event:
    return Event(t, "vote_ignored", node=node, term=term, peer=3, value=term + 1)


def test_a_vote_is_ignored_only_within_an_election_timeout_of_the_current_leaders_message():
    base = [START_CQ, *elected(1, leader=1, term=2), Event(1, "term", node=2, term=2, value=2)]
    fresh = delivered(10, AppendEntries(2, 1, 2, 0, 0, (), 0))
    assert violated(*base, fresh, ignored(159)) is None
    assert violated(*base, fresh, ignored(160)) == "Lease only from the current leader"
    old = delivered(100, AppendEntries(1, 3, 2, 0, 0, (), 0))  # an older leader's message renews nothing
    assert violated(*base, fresh, old, ignored(170)) == "Lease only from the current leader"
    assert violated(*base, ignored(5, node=1)) is None  # a leader is its own lease


# ---- leadership transfer (§3.10) ----------------------------------------------------------------------------------


def test_timeout_now_goes_only_to_a_caught_up_voter():
    entry = Entry(1, "a")
    logs = [Event(2, "append", node=i, term=1, index=1, entry=entry) for i in (1, 2)]
    now = TimeoutNow(1, 1, 2)
    assert violated(START, *elected(), *logs, sent(3, now)) is None
    assert violated(START, *elected(), logs[0], sent(3, now)) == "Transfer only to a caught-up voter"
    assert violated(START, *with_learner(), *elected(1), sent(3, TimeoutNow(1, 1, 4))) == \
        "Transfer only to a caught-up voter"
    assert violated(START, *with_learner(), *elected(1), Event(3, "transfer", node=1, term=1, peer=4, value=4)) == \
        "Transfer only to a caught-up voter"


def test_a_stale_timeout_now_starts_no_election():
    base = [START, *elected(1, leader=1, term=1), sent(4, TimeoutNow(1, 1, 2)), Event(5, "term", node=2, term=2, value=2),
            Event(5, "role", node=2, term=2, value="candidate"), Event(5, "vote", node=2, term=2, peer=2, value=True)]
    stale = delivered(6, TimeoutNow(1, 1, 2))
    again = [Event(6, "term", node=2, term=3, value=3), Event(6, "role", node=2, term=3, value="candidate")]
    assert violated(*base, stale, *again) == "Stale TimeoutNow is ignored"
    timer = Event(6, "timeout", node=2, term=2, rule="§5.2 election timeout")  # its own timer, in a later step
    assert violated(*base, stale, timer, *again) is None


def test_a_leader_handing_over_takes_no_proposal():
    base = [START, *elected(), Event(3, "transfer", node=1, term=1, peer=2, value=2)]
    append = Event(4, "append", node=1, term=1, index=1, entry=Entry(1, "x"))
    assert violated(*base, append) == "No proposals during a transfer"
    assert violated(*base, Event(4, "transfer", node=1, term=1, peer=2, value=None), append) is None


# ---- membership (§4.1, §4.2) ---------------------------------------------------------------------------------------


def test_learners_never_campaign_or_lead():
    assert violated(START, *with_learner(), Event(5, "role", node=4, term=1, value="candidate")) == \
        "Learners never campaign or lead"
    assert violated(START, *with_learner(), Event(5, "precampaign", node=4, term=0, value=1)) == \
        "Learners never campaign or lead"
    assert violated(START, *with_learner(), Event(5, "role", node=2, term=1, value="candidate")) is None


def test_a_removed_server_campaigns_only_while_its_removal_is_pending():
    without_3 = ConfigChange((1, 2), ())
    base = [START, *[Event(1, "append", node=i, term=0, index=1, entry=Entry(0, without_3)) for i in (2, 3)],
            Event(1, "config", node=3, term=0, index=1, value=without_3)]
    assert violated(*base, Event(5, "role", node=3, term=1, value="candidate")) is None  # pending: it may
    committed = Event(3, "commit", node=3, term=0, index=1)
    assert violated(*base, committed, Event(5, "role", node=3, term=1, value="candidate")) == \
        "Removed servers do not campaign"


def test_a_new_leader_commits_in_its_term_before_changing_the_configuration():
    first = Entry(1, "a")
    before = [START, *elected(1, term=1)] + [Event(2, "append", node=i, term=1, index=1, entry=first) for i in (1, 2)]
    before += [Event(2, "commit", node=1, term=1, index=1), *elected(3, leader=1, term=2)]
    change = Event(4, "append", node=1, term=2, index=2, entry=Entry(2, ConfigChange((1, 2, 3), (4,))))
    assert violated(*before, change) == "Configuration change after a commit of the leader's term"
    mine = Entry(2, "b")
    own = [Event(4, "append", node=i, term=2, index=2, entry=mine) for i in (1, 2)]
    own.append(Event(4, "commit", node=1, term=2, index=2))
    later = Event(5, "append", node=1, term=2, index=3, entry=Entry(2, ConfigChange((1, 2, 3), (4,))))
    assert violated(*before, *own, later) is None


# ---- the scripts and the simulator ---------------------------------------------------------------------------------

EXTENSION_SCRIPTS = ["single_server_change_bug", "cut_off_leader_with_learners", "stale_timeout_now",
                     "transfer_to_learner_or_crashed", "removed_server_keeps_running", "removal_pending_campaigns",
                     "stale_append_renews_no_lease"]


@pytest.mark.parametrize("name", EXTENSION_SCRIPTS)
def test_the_reference_keeps_every_promise_of_each_extension_script(name):
    steps: list[str] = []
    c = getattr(scenarios, name)(on_step=lambda label, cluster: steps.append(label))
    assert steps and steps[0][:3] in ("(a)", "(0)"), steps  # step-labelled: (a), (b), ... or (0), (1), ... (2015 bug)
    assert all(r.status == ("rejected" if r.command == "during" else "committed") for r in c.requests), c.requests
    assert c.leader() is not None


def test_a_transfer_to_a_crashed_or_removed_server_is_refused_at_the_call():
    c = Cluster(3, seed=4)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    other = next(i for i in c.ids if i != c.leader())
    c.crash(other)
    with pytest.raises(Refused, match=f"S{other} is crashed"):
        c.transfer_leadership(other)
    with pytest.raises(Refused, match="not a voter"):
        c.transfer_leadership(9)


def test_bad_ids_in_schedule_items_are_named_when_the_schedule_is_given():
    for item in [(10, "transfer_leadership", "S2"), (10, "promote", 0), (10, "remove_server", 100),
                 (10, "snapshot", -1)]:
        with pytest.raises(ValueError, match=r"schedule item 0 .*a server id is a whole number from 1 to 99"):
            Cluster(3, schedule=[item])
    Cluster(3, schedule=[(10, "promote", 7), (20, "remove_server", 4)])  # ids of servers yet to join are fine


def test_a_removed_server_keeps_running_for_retire_after_then_shuts_down():
    c = Cluster(3, seed=4, retire_after=400)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    c.request("a")
    c.run(200)
    gone = next(i for i in c.ids if i != c.leader())
    c.remove_server(gone)
    c.run(200)
    assert c.nodes[gone] is not None and gone not in c.retired  # committed, still running
    c.run(300)
    assert c.nodes[gone] is None and gone in c.retired
    assert any(e.kind == "server_removed" and e.node == gone for e in c.trace)
    with pytest.raises(ValueError, match="retire_after must be whole milliseconds"):
        Cluster(3, retire_after=-1)


class NeverGrants(scenarios.RaftNode):
    """Refuses every vote: no election ever succeeds."""

    def log_is_up_to_date(self, last_log_index: int, last_log_term: int) -> bool:
        return False


class AlwaysGrants(scenarios.RaftNode):
    """Grants every vote of a current or later term, whatever the log."""

    def log_is_up_to_date(self, last_log_index: int, last_log_term: int) -> bool:
        return True


@pytest.mark.parametrize("node_class", [NeverGrants, AlwaysGrants], ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", [*EXTENSION_SCRIPTS, "figure_8", "longer_log_older_term", "shorter_log_same_term",
                                  "stale_replies_across_reelection", "restart_between_votes",
                                  "crash_after_acknowledging", "vote_replies_delayed_across_reelection"])
def test_a_deviating_node_stops_a_script_with_script_error_or_a_safety_violation_only(name, node_class):
    try:
        getattr(scenarios, name)(node_class)
    except (ScriptError, SafetyViolation):
        pass


def test_figure_8_branch_e_stops_with_script_error_when_s5_wins():
    class S5Wins(AlwaysGrants):
        pass

    with pytest.raises((ScriptError, SafetyViolation)):
        scenarios.figure_8(S5Wins, branch="e")


def test_a_leader_ignores_replies_from_a_server_it_removed():
    """Found by the sweep once removed servers kept running (N=4 seed 177, N=5 seeds 124 and 381, N=6 seed 801):
    a removed server answered an old leader's AppendEntries with its newer term, which the old leader, re-elected in
    that term without it, looked up in its progress (KeyError). etcd's leader ignores a server it keeps no progress
    for; so does raftedu's, and it drops the progress of a server that leaves its configuration."""
    from raftedu.raft import InstallSnapshotReply
    from raftedu.sweep import run_seed

    c = Cluster(3, seed=4, retire_after=10_000)
    assert c.run_until(lambda c: c.leader() is not None, 3_000)
    c.request("a")
    c.run(200)
    leader = c.node(c.leader())
    gone = next(i for i in c.ids if i != leader.id)
    c.remove_server(gone)
    c.run(100)
    assert gone not in leader.match_index and gone not in leader.next_index
    leader.receive(AppendEntriesReply(leader.current_term, gone, leader.id, True, 5), c.now)
    leader.receive(InstallSnapshotReply(leader.current_term, gone, leader.id, 5), c.now)
    assert leader.take_output() == ([], []) and leader.role == "leader"
    result = run_seed(4, 177, features="all")
    assert result.violation is None and result.live


def test_the_sweep_draws_the_extensions_failure_situations_and_keeps_removed_servers_running():
    from raftedu.sweep import RETIRE_AFTER, random_schedule, retire_after

    items = [item for seed in range(20) for item in random_schedule(3, seed, features="all")]
    assert any(i[1] == "set_network" and i[2] == {"duplicate_rate": 1.0} for i in items)  # TimeoutNow twice
    assert any(i[1] == "set_network" and i[2] == {"long_delay_rate": 0.6} for i in items)  # an old leader, late
    after = {(items[k][0], items[k][1]) for k in range(len(items) - 1) if items[k][1] == "crash_leader"}
    assert any(i[1] in ("add_server", "remove_server", "promote") and any(0 < i[0] - t < 450 for t, _ in after)
               for i in items)  # a configuration change asked of a new leader (the 2015 interleaving)
    assert any(i[1] == "isolate" and (i[0] + 1, "remove_server", i[2]) in items for i in items)  # its own removal
    assert {retire_after(3, seed) for seed in range(40)} == set(RETIRE_AFTER)
    assert random_schedule(3, 5) == random_schedule(3, 5, features="none")  # Figure 2's schedules stay as they were
