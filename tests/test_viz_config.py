"""raftedu.viz.config: configurations over time, read from the trace (issue 24: lesson 11's picture)."""

from __future__ import annotations

import pytest

from mutants import ChangesConfigurationAtOnce  # tests/ is on sys.path (conftest.py)
from raftedu import Cluster, SafetyViolation
from raftedu.raft import ConfigChange
from raftedu.scenarios import single_server_change_bug
from raftedu.viz.config import configuration_names, configuration_timeline, configurations


def fixed_run() -> tuple[Cluster, list[tuple[int, str]]]:
    steps: list[tuple[int, str]] = []
    c = single_server_change_bug(on_step=lambda label, cluster: steps.append((cluster.now, label)))
    return c, steps


def test_without_the_2015_fix_the_monitor_stops_the_second_change_as_it_is_appended() -> None:
    """The lesson's picture without the fix ends at S2's append in step (3): C1 (voters S1-S5) on S1's disk and S5,
    C2 (voters S1-S4 and S6) on S2 -- two configurations two servers apart, neither committed."""
    steps: list[tuple[str, Cluster]] = []
    with pytest.raises(SafetyViolation) as caught:
        single_server_change_bug(ChangesConfigurationAtOnce, on_step=lambda label, c: steps.append((label, c)))
    v = caught.value
    assert v.property == "Configuration change after a commit of the leader's term"
    assert "leader S2 of term 2 appended a configuration at index 4" in str(v) and "commitIndex 3, of term 1" in str(v)
    assert [label[:3] for label, _ in steps] == ["(0)", "(1)", "(2)"]
    c = steps[-1][1]
    assert v.event.kind == "append" and v.event.node == 2 and v.event.entry.command.voters == (1, 2, 3, 4, 6)
    latest = {i: [e.command for e in c.disks[i].log if isinstance(e.command, ConfigChange)][-1].voters for i in c.ids}
    assert latest == {1: (1, 2, 3, 4, 5), 2: (1, 2, 3, 4, 6), 3: (1, 2, 3, 4), 4: (1, 2, 3, 4), 5: (1, 2, 3, 4, 5),
                      6: (1, 2, 3, 4)}
    assert c.nodes[1] is None and all(c.nodes[i].commit_index == 3 for i in c.up())  # C1 and C2 are at index 4


def test_with_the_fix_the_second_change_is_refused_and_nothing_committed_is_lost() -> None:
    c, steps = fixed_run()
    assert [label[:3] for _, label in steps] == ["(0)", "(1)", "(2)", "(3)", "(4)"]
    assert "may not change the configuration yet" in steps[3][1] and "of its term 2" in steps[3][1]
    assert c.leader() == 1 and c.nodes[1].current_term == 3
    voters = {e.value.voters for e in c.trace if e.kind == "config"}
    assert (1, 2, 3, 4, 5) in voters and (1, 2, 3, 4, 6) not in voters  # only one of the two changes ever existed


def test_configurations_follow_each_server_through_changes_crashes_and_additions() -> None:
    c, steps = fixed_run()
    stretches = configurations(c.trace)
    names = configuration_names(stretches)
    assert list(names.values()) == ["C0", "C1", "C2", "C3"]
    assert list(names)[0] == ConfigChange((1, 2, 3, 4)) and list(names)[3] == ConfigChange((1, 2, 3, 4, 5), (6,))
    for node in c.ids:  # each server's stretches follow one another without gaps
        mine = [s for s in stretches if s.node == node]
        assert all(a.end == b.start for a, b in zip(mine, mine[1:])), node
    crash = next(e.time for e in c.trace if e.kind == "crash" and e.node == 1)
    restart = next(e.time for e in c.trace if e.kind == "restart" and e.node == 1)
    assert any(s.node == 1 and s.config is None and (s.start, s.end) == (crash, restart) for s in stretches)
    added = next(e.time for e in c.trace if e.kind == "server_added" and e.node == 6)
    first6 = min((s for s in stretches if s.node == 6), key=lambda s: s.start)
    assert first6.start > added and first6.config.learners == (5, 6)  # drawn from the first configuration in its log
    promoted = [s for s in stretches if s.config == ConfigChange((1, 2, 3, 4, 5), (6,))]
    assert {s.node for s in promoted} == {1, 4, 5} and all(s.committed_at is None for s in promoted if s.node == 5)
    learners = [s for s in stretches if s.config == ConfigChange((1, 2, 3, 4), (5, 6)) and s.node == 2]
    assert learners and learners[0].committed_at is not None


def test_the_picture_names_every_configuration_on_its_bars_and_in_its_legend() -> None:
    c, steps = fixed_run()
    fig = configuration_timeline(c.trace, steps=[(t, label[:3]) for t, label in steps], title="t")
    bars = [t for t in fig.data if t.type == "bar"]
    for bar in bars:
        name = bar.name.split(":")[0]
        assert set(bar.text) == ({"down"} if name == "down (crashed)" else {name})  # never colour alone
    assert [b.name for b in bars][:4] == ["C0: voters S1, S2, S3, S4", "C1: voters S1, S2, S3, S4; learners S5",
                                         "C2: voters S1, S2, S3, S4; learners S5, S6",
                                         "C3: voters S1, S2, S3, S4, S5; learners S6"]
    assert len({b.marker.color for b in bars}) == len(bars)
    assert any(t.name.startswith("◆") for t in fig.data) and any(t.name.startswith("★") for t in fig.data)
    assert [a.text for a in fig.layout.annotations] == ["(0)", "(1)", "(2)", "(3)", "(4)"]
    assert fig.layout.xaxis.title.text == "virtual time (ms)" and fig.layout.yaxis.title.text == "server"


def test_a_removed_server_lane_ends_with_a_label() -> None:
    c = Cluster(3, seed=4)
    c.run_until(lambda c: c.leader() is not None, 3_000)
    c.request("a")
    c.run(200)
    gone = next(i for i in c.ids if i != c.leader())
    c.remove_server(gone)
    c.run(500)
    stretches = configurations(c.trace)
    removed_at = next(e.time for e in c.trace if e.kind == "server_removed")
    assert max(s.end for s in stretches if s.node == gone) == removed_at
    fig = configuration_timeline(c.trace)
    assert [a.text for a in fig.layout.annotations] == ["removed"]


def test_configurations_needs_a_whole_trace() -> None:
    with pytest.raises(ValueError, match="needs a whole trace, from its 'start' event"):
        configurations([])
    c = Cluster(3, seed=1)
    c.run(100)
    with pytest.raises(ValueError, match="start"):
        configurations(list(c.trace)[1:])
