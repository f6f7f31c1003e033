"""raftedu.scenarios.figure_8 draws the paper's Figure 8 exactly: the same servers, terms, logs and votes, panel by panel.

The expected logs are read off Figure 8 of Ongaro & Ousterhout (2014): one list of entry terms per server,
S1..S5, index 1 first. ``None`` marks a crashed server where the state is not the paper's point.
"""

from __future__ import annotations

import pytest

from raftedu import Cluster, RaftNode, SafetyViolation
from raftedu.scenarios import figure_8
from test_scenarios import CountsOldTermReplicas  # tests/ is on sys.path (conftest.py)

PAPER = {  # panel -> (leader, its term, logs as terms per server)
    "a": (1, 2, {1: [1, 2], 2: [1, 2], 3: [1], 4: [1], 5: [1]}),
    "b": (5, 3, {1: [1, 2], 2: [1, 2], 3: [1], 4: [1], 5: [1, 3]}),
    "c": (1, 4, {1: [1, 2, 4], 2: [1, 2], 3: [1, 2], 4: [1], 5: [1, 3]}),
    "d": (5, 5, {1: [1, 2, 4], 2: [1, 3], 3: [1, 3], 4: [1, 3], 5: [1, 3]}),  # S1 down with 1, 2, 4, as drawn
    "e": (1, 4, {1: [1, 2, 4], 2: [1, 2, 4], 3: [1, 2, 4], 4: [1], 5: [1, 3]}),
}


def run(branch: str, node_class: type[RaftNode] = RaftNode) -> tuple[Cluster, list[tuple[str, dict]]]:
    """Run one branch; record at each step the label and what the paper draws (leader, term, logs, commit, up)."""
    steps: list[tuple[str, dict]] = []

    def seen(label: str, c: Cluster) -> None:
        leader = c.leader()
        steps.append((label, dict(
            leader=leader, term=c.nodes[leader].current_term if leader else None,
            logs={i: [e.term for e in c.disks[i].log] if c.nodes[i] is None else [e.term for e in c.nodes[i].log]
                  for i in c.ids},
            commit={i: c.nodes[i].commit_index for i in c.up()}, up=c.up())))

    return figure_8(node_class, branch=branch, on_step=seen), steps


def granted(c: Cluster, term: int, candidate: int) -> list[int]:
    """Servers other than ``candidate`` that granted it their vote in ``term``."""
    return sorted(e.node for e in c.trace
                  if e.kind == "vote" and e.term == term and e.peer == candidate and e.value is True and e.node != candidate)


@pytest.mark.parametrize("branch", ["d", "e"])
def test_every_panel_matches_the_paper(branch):
    c, steps = run(branch)
    panels = [label[1] for label, _ in steps]
    assert panels == (["a", "b", "c", "d", "d"] if branch == "d" else ["a", "b", "c", "e", "e"])
    for label, state in steps[:4]:  # (d, later) and (e, later) are checked below
        leader, term, logs = PAPER[label[1]]
        assert state["logs"] == logs, label
        assert (state["leader"], state["term"]) == (leader, term), label


def test_d_shows_s1_down_with_its_old_log_and_later_overwritten():
    """The paper's panel (d) draws S1 crashed with 1, 2, 4; the overwrite of its index 2 comes after its restart."""
    _, steps = run("d")
    (label_d, d), (label_later, later) = steps[3:]
    assert label_d.startswith("(d) ") and 1 not in d["up"] and d["logs"][1] == [1, 2, 4]
    assert label_later.startswith("(d, later)") and 1 in later["up"]
    assert later["logs"] == {i: [1, 3] for i in range(1, 6)} and later["leader"] == 5


def test_index_1_is_committed_everywhere_before_a():
    c, steps = run("d")
    first = next(e.time for e in c.trace if e.kind == "partition")
    assert sorted(e.node for e in c.trace if e.kind == "commit" and e.index == 1 and e.time < first) == [1, 2, 3, 4, 5]


def test_votes_are_the_papers():
    c, _ = run("d")
    assert granted(c, 3, 5) == [3, 4]          # (b) S5 with votes of S3, S4 and itself
    assert granted(c, 5, 5) == [2, 3, 4]       # (d) S5 with votes of S2, S3 and S4
    assert granted(c, 4, 1) == [2, 3]          # (c) S1 with S2 and S3 (S4 is cut off, S5 is down)


def test_c_has_x_on_a_majority_but_not_committed():
    _, steps = run("d")
    state = steps[2][1]
    assert sum(log[1:2] == [2] for log in state["logs"].values()) == 3
    assert all(k < 2 for k in state["commit"].values())


def test_e_commits_index_2_and_3_and_s5_never_wins():
    c, steps = run("e")
    assert steps[3][1]["commit"][1] == 3
    later = steps[4][1]
    assert later["leader"] is None and 1 not in later["up"]
    assert not any(e.kind == "role" and e.value == "leader" and e.node == 5 and e.term > 3 for e in c.trace)
    assert [e.term for e in c.trace if e.kind == "role" and e.value == "candidate" and e.node == 5 and e.term > 3] == [4, 5, 6]


class GrantsAnyLog(RaftNode):
    """Broken vote rule: every log counts as up to date."""

    def log_is_up_to_date(self, last_log_index: int, last_log_term: int) -> bool:
        return True


def test_counting_old_replicas_breaks_leader_completeness_in_d():
    with pytest.raises(SafetyViolation) as caught:
        run("d", CountsOldTermReplicas)
    assert caught.value.property == "Leader Completeness" and "S5" in str(caught.value)


def test_a_vote_rule_ignoring_logs_lets_s5_win_in_e_and_is_caught():
    with pytest.raises(SafetyViolation) as caught:
        run("e", GrantsAnyLog)
    assert caught.value.property == "Leader Completeness"


def test_unknown_branch_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="'d' or 'e'"):
        figure_8(branch="f")
