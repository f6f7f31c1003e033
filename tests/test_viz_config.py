"""raftedu.viz.config: configurations over time, read from the trace (issue 24: lesson 11's picture)."""

from __future__ import annotations

import pytest

from raftedu import Cluster, RaftNode, SafetyViolation
from raftedu.raft import LEADER, ConfigChange
from raftedu.scenarios import single_server_change_bug
from raftedu.viz.config import configuration_names, configuration_timeline, configurations


class Before2015(RaftNode):
    """The configuration-change rule without the 2015 fix: no entry of the leader's own term needed first."""

    def configuration_change_refused(self) -> str | None:
        if self.role == LEADER and self.transferee is None and self.config_index <= self.commit_index:
            return None
        return super().configuration_change_refused()


def fixed_run() -> tuple[Cluster, list[tuple[int, str]]]:
    steps: list[tuple[int, str]] = []
    c = single_server_change_bug(on_step=lambda label, cluster: steps.append((cluster.now, label)))
    return c, steps


def test_without_the_2015_fix_two_one_server_changes_break_leader_completeness() -> None:
    steps: list[str] = []
    with pytest.raises(SafetyViolation) as caught:
        single_server_change_bug(Before2015, on_step=lambda label, cluster: steps.append(label))
    assert caught.value.property == "Leader Completeness" and "S1 (new leader of term 3)" in str(caught.value)
    assert [s[:3] for s in steps] == ["(0)", "(1)", "(2)", "(3)"] and "committed" in steps[3]


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
