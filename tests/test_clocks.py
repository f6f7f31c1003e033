"""Clock drift and process pauses (issue 24, "leases made honest"): the simulator's ``set_clock_rate`` and ``pause``.

A server times everything on its own clock; the trace keeps true time; the same seed and schedule give the same run;
bad input is named; the safety monitor judges check-quorum's promises on the server's own clock.
"""

from __future__ import annotations

import pytest

from raftedu import Cluster, ClusterView
from raftedu.sim import Refused
from raftedu.kv import paused_leader_read
from raftedu.trace import Clock
from raftedu.viz.cluster import cluster_figure
from raftedu.viz.timeline import timeline
from test_lesson_claims_a import claim  # tests/ is on sys.path (conftest.py)


def first_leader_time(rate: float | None, seed: int = 4) -> tuple[int, int]:
    """A one-server cluster: (its first election deadline on its own clock, the true time it becomes leader)."""
    c = Cluster(1, seed=seed, schedule=[(0, "set_clock_rate", 1, rate)] if rate is not None else ())
    c.run(2_000)
    deadline = next(e.value for e in c.trace if e.kind == "timer")  # set at boot, before any drift: its own clock
    return deadline, next(e.time for e in c.trace if e.kind == "role" and e.value == "leader")


@pytest.mark.parametrize("rate", [0.5, 2, 1.5])
def test_a_drifting_server_times_out_when_its_own_clock_says_so(rate: float) -> None:
    deadline, exact = first_leader_time(None)
    assert exact == deadline  # Figure 2's run: the election timeout on true time
    _, drifted = first_leader_time(rate)
    assert drifted == -(-deadline * 2 // int(rate * 2))  # its clock reaches the deadline at ⌈deadline / rate⌉


def test_clock_arithmetic_is_exact_and_a_pause_is_lost() -> None:
    clock = Clock()
    clock.set_rate(1.1, 0)
    assert clock.read(1_000) == 1_100 and clock.when(1_100, 0) == 1_000  # 11/10 exactly, no float rounding
    clock.freeze(1_000)
    assert clock.read(1_300) == 1_100  # paused: it stands still
    clock.resume(1_300)
    assert clock.read(1_400) == 1_210  # it goes on from where it stood, the 300 ms lost


def run_with_faults(seed: int, check_quorum: bool = False) -> Cluster:
    c = Cluster(5, seed=seed, check_quorum=check_quorum, pre_vote=check_quorum,
                schedule=[(0, "set_clock_rate", 2, 0.5), (0, "set_clock_rate", 3, 2), (700, "pause", 1, 300),
                          (1_500, "crash_leader"), (1_600, "pause", 4, 500), (1_700, "crash", 4),
                          (2_500, "restart_all"), (2_600, "isolate", 2), (3_500, "heal")])
    c.run(5_000)
    return c


def test_drift_and_pauses_are_deterministic_recorded_in_true_time_and_replayable() -> None:
    claim("09_linearizable_reads.ipynb", "A server times everything on its own clock — election timeouts, heartbeats, "
          "its lease — while the trace keeps true time.")
    a, b = run_with_faults(3), run_with_faults(3)
    assert a.trace.digest() == b.trace.digest()
    times = [e.time for e in a.trace]
    assert times == sorted(times)  # every event at true time, whatever clock its server read
    texts: dict[str, str] = {}
    for e in a.trace:
        if e.kind in ("clock", "pause", "resume"):
            texts.setdefault(e.kind, e.text)  # the first of each kind
    assert texts["clock"] == "S2's clock now runs slow: 0.5 ms on it per true ms"
    assert texts["pause"].startswith("S1's process is paused for 300 ms (a GC pause)")
    assert "believing no time passed" in texts["resume"]
    view = ClusterView.at(a.trace)  # the trace alone rebuilds each server's clock
    assert view.nodes[2].clock.rate == 0.5 and view.nodes[1].clock.read(a.now) == a._clocks[1].read(a.now)
    assert view.nodes[1].clock.read(a.now) == a.now - 300  # the pause is lost on S1's clock


def test_a_paused_server_handles_nothing_until_it_resumes_then_every_message_that_waited() -> None:
    claim("09_linearizable_reads.ipynb", "ms server `i` handles nothing — no timer fires, messages wait.")
    claim("09_linearizable_reads.ipynb", "The simulator models this check-then-act race by stopping the server's clock "
          "for the pause: it resumes believing no time passed")
    c = Cluster(5, seed=1)
    c.run_until(lambda c: c.leader() is not None, 2_000)
    leader = c.leader()
    start = c.now
    c.pause(leader, 400)
    c.run(400)
    during = [e for e in c.trace if start < e.time < start + 400 and e.node == leader
              and e.kind not in ("drop", "send")]  # a message to it is sent by others; it neither gets nor sends any
    assert during == []
    resume = next(e for e in c.trace if e.kind == "resume")
    assert resume.time == start + 400 and resume.value > 0
    handled = [e for e in c.trace if e.kind == "deliver" and e.node == leader and e.time == resume.time]
    assert len(handled) == resume.value  # each message that waited is delivered at the resume, none lost
    assert c.leader() != leader  # the others elected a new leader meanwhile, and it heard of it


def test_a_crash_ends_a_pause_and_the_waiting_messages_are_lost() -> None:
    c = Cluster(3, seed=2)
    c.run_until(lambda c: c.leader() is not None, 2_000)
    follower = next(i for i in c.ids if i != c.leader())
    c.pause(follower, 1_000)
    c.run(200)
    c.crash(follower)
    lost = [e for e in c.trace if e.kind == "drop" and e.node == follower and e.time == c.now]
    assert lost and all(e.value == "receiver is down" for e in lost)
    c.run(1_000)  # the resume that was due finds no pause
    assert not any(e.kind == "resume" for e in c.trace)
    c.restart(follower)
    c.run(500)
    assert c.node(follower).role == "follower"


@pytest.mark.parametrize("call, message", [
    (lambda c: c.set_clock_rate(1, 0), "a clock rate is a number > 0"),
    (lambda c: c.set_clock_rate(1, -1.5), "a clock rate is a number > 0"),
    (lambda c: c.set_clock_rate(1, True), "a clock rate is a number > 0"),
    (lambda c: c.set_clock_rate(1, "fast"), "a clock rate is a number > 0"),
    (lambda c: c.set_clock_rate(1, float("inf")), "a clock rate is a number > 0"),
    (lambda c: c.set_clock_rate(9, 2), "unknown node id 9"),
    (lambda c: c.pause(1, 0), "a pause lasts a whole number of milliseconds >= 1"),
    (lambda c: c.pause(1, 2.5), "a pause lasts a whole number of milliseconds >= 1"),
    (lambda c: (c.crash(1), c.pause(1, 100)), "S1 is crashed: only a running server's process can pause"),
    (lambda c: (c.pause(1, 100), c.pause(1, 100)), "S1 is already paused until t=100 ms"),
])
def test_bad_clock_faults_say_what_is_allowed(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(Cluster(3, seed=0))


def test_a_bad_clock_fault_in_a_schedule_is_named_when_given() -> None:
    with pytest.raises(ValueError, match=r"schedule item 0 \(10, 'set_clock_rate', 1, 0\): a clock rate is a number > 0"):
        Cluster(3, schedule=[(10, "set_clock_rate", 1, 0)])
    with pytest.raises(ValueError, match=r"schedule item 0 \(10, 'pause', 1\): pause takes"):
        Cluster(3, schedule=[(10, "pause", 1)])


def test_a_paused_leader_takes_no_client_request_and_no_operation() -> None:
    c = Cluster(3, seed=0)
    c.run_until(lambda c: c.leader() is not None, 2_000)
    leader = c.leader()
    c.pause(leader, 100)
    req = c.request("x")
    assert (req.status, req.reason) == ("rejected", f"S{leader} is paused: its process is stopped")
    with pytest.raises(Refused, match=rf"a leadership transfer: S{leader} is paused until t=\d+ ms"):
        c.transfer_leadership(next(i for i in c.ids if i != leader))
    c.run(100)
    assert c.request("y").status == "pending"  # resumed (it may still lead: nobody else timed out in 100 ms)


@pytest.mark.parametrize("seed", range(4))
def test_the_monitor_judges_check_quorum_on_each_servers_own_clock(seed: int) -> None:
    """A check-quorum leader with a slow clock, cut off, steps down late in true time but on time on its own clock:
    no violation; on true time the same run would break "Check-quorum leaders step down"."""
    c = Cluster(5, seed=seed, check_quorum=True)
    c.run_until(lambda c: c.leader() is not None, 2_000)
    leader = c.leader()
    c.set_clock_rate(leader, 0.5)
    cut = c.now
    c.isolate(leader)
    c.run(1_500)
    down = next(e.time for e in c.trace if e.kind == "role" and e.node == leader and e.time > cut)
    window, heartbeat = c.timing.election_timeout[0], c.timing.heartbeat
    assert down - cut > window + heartbeat  # later than the promise in true time ...
    assert (down - cut) * 0.5 <= window + 2 * heartbeat  # ... on time on its clock (last contact just before the cut)
    run_with_faults(seed, check_quorum=True)  # pauses and drift with check-quorum and pre-vote: no violation


@pytest.mark.parametrize("seed", range(3))
def test_a_paused_leader_serves_a_stale_lease_read_that_the_checker_rejects_and_readindex_does_not(seed: int) -> None:
    """dissertation §6.4.1: a lease assumes bounded clock drift. A cut-off leader paused 300 ms (or whose clock runs at
    a quarter speed) answers x=1 after x=2 was acknowledged; the linearizability checker rejects the history. With
    perfect clocks the lease has run out in time; ReadIndex, which asks a majority, reads 2 under the same faults."""
    for faults in ({"pause": 300}, {"pause": 0, "clock_rate": 0.25}):
        lease = paused_leader_read("lease", seed=seed, **faults)
        assert lease.history[2].response < lease.history[3].invoke  # the read starts after x=2 was acknowledged
        assert lease.history[3].result.value == 1
        assert lease.check().linearizable is False
        safe = paused_leader_read("readindex", seed=seed, **faults)
        assert safe.history[3].result.value == 2 and safe.check().linearizable is True
    honest = paused_leader_read("lease", pause=0, seed=seed)
    assert honest.history[3].result.value == 2 and honest.check().linearizable is True


def test_the_timeline_marks_a_pause_with_a_dashed_band_and_a_clock_change_with_its_own_symbol() -> None:
    c = Cluster(5, seed=1, schedule=[(100, "set_clock_rate", 3, 0.5), (300, "pause", 2, 300)])
    c.run(900)
    fig = timeline(c.trace, start=0, end=900)
    named = {t.name: t for t in fig.data if len(t.x)}
    assert named["process paused (dashed band: its clock stands still)"].marker.symbol == "square-open"
    assert list(named["process resumed"].x) == [600] and list(named["process resumed"].y) == [2]
    assert list(named["clock rate changed (drift)"].y) == [3]
    band = [s for s in fig.layout.shapes if s.line.dash == "dash"]
    assert [(b.x0, b.x1, b.y0, b.y1) for b in band] == [(300, 600, 1.7, 2.3)]


def test_the_cluster_picture_says_a_server_is_paused_and_its_clock_drifts() -> None:
    c = Cluster(3, seed=1, schedule=[(100, "set_clock_rate", 3, 0.5), (300, "pause", 2, 300)])
    c.run(700)
    during, after = cluster_figure(c.trace, time=400), cluster_figure(c.trace, time=700)
    labels = [next(t for t in fig.data if t.name == "labels").text for fig in (during, after)]
    assert "paused: its clock stands still" in labels[0][1] and "paused" not in labels[1][1]
    hover = next(t for t in during.data if t.name == "servers").hovertext
    assert "paused" in hover[1] and "its clock runs at 0.5× true time" in hover[2]


def test_a_server_removed_while_paused_never_resumes() -> None:
    c = Cluster(5, seed=3)
    c.run_until(lambda c: c.leader() is not None, 2_000)
    c.request("x")  # a new leader commits an entry of its term before it changes the configuration
    c.run(200)
    victim = next(i for i in c.ids if i != c.leader())
    c.pause(victim, 2_000)
    c.remove_server(victim)
    c.run(2_500)
    assert victim in c.retired and not any(e.kind == "resume" for e in c.trace)
    assert not ClusterView.at(c.trace).nodes[victim].paused
