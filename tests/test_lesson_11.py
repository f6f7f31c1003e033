"""Lesson 11 (learners, membership, leadership transfer): what its prose says is what its runs compute."""

from __future__ import annotations

import pytest
from test_lesson_claims_a import claim, lesson, predictions_read_back, printed, prose  # tests/ is on sys.path (conftest.py)

from raftedu.viz.config import configurations

NAME = "11_membership.ipynb"
pytestmark = pytest.mark.kernel


def test_every_prediction_is_read_back_by_the_next_cell():
    assert len(predictions_read_back(NAME)) == 5


def test_a_learner_catches_up_and_only_then_can_be_promoted():
    ns = lesson(NAME)
    claim(NAME, "raftedu, like etcd, refuses")
    assert ns["promoted"] == "no"
    claim(NAME, "while it catches up, the cluster's majority does not change")
    assert any(e.kind == "config" and e.value.learners == (4,) and e.value.voters == (1, 2, 3) for e in ns["c"].trace)


def test_four_voters_survive_one_crash_not_two_five_survive_two():
    ns = lesson(NAME)
    claim(NAME, "like three voters — they survive one crash, not two")
    assert ns["one"] is True and ns["two"] is False
    assert "5 voters: commits with 2 crashed: True" in printed(ns)


def test_transfer_is_faster_than_an_election_timeout_and_refuses_requests():
    ns = lesson(NAME)
    claim(NAME, "The target wins before any timer would have run out")
    assert ns["during"].status == "rejected"
    took = int(printed(ns).split(f"S{ns['to']} leads ")[1].split(" ms")[0])
    assert took < ns["c"].timing.election_timeout[0]


def test_the_removed_leader_steps_down_after_the_change_commits_and_shuts_down():
    ns = lesson(NAME)
    c, leader = ns["c"], ns["leader"]
    claim(NAME, "then steps down (§4.2.2); the removed server shuts down")
    down = next(e for e in c.trace if e.kind == "stepdown" and e.node == leader)
    config_index = max(e.index for e in c.trace if e.kind == "config" and e.node == leader)
    committed = next(e for e in c.trace if e.kind == "commit" and e.node == leader and e.index >= config_index)
    assert committed.time <= down.time and leader in c.retired and c.leader() not in (None, leader)


def test_an_empty_voter_is_an_availability_risk_not_a_safety_risk():
    """Issue 24 (2): §4.2.1 by a run -- 3 + 1 empty voter, one crash, the write stalls until the newcomer catches up."""
    ns = lesson(NAME)
    claim(NAME, "raftedu, like etcd, refuses. Not because it would be unsafe")
    claim(NAME, "The reason is another (§4.2.1): the next run lets you find it.")
    text = prose(NAME)  # a fresh read (s8-24d): the reason was named just before the prediction that finds it
    asked = text.index("Does a client's write commit within a second")
    assert "availability" not in text[text.index("raftedu, like etcd, refuses."):asked]
    claim(NAME, "That is the whole of §4.2.1's argument: nothing unsafe happens either way")
    assert "slows every commit" not in prose(NAME)
    (e, newcomer, first, later), learner = ns["voter"], ns["learner"]
    assert newcomer == 4 and sorted(e.nodes[e.leader()].voters) == [1, 2, 3, 4] and e.nodes[e.leader()].quorum == 3
    assert (first, later) == ("pending", "committed")
    assert e.nodes[newcomer].log == e.nodes[e.leader()].log  # once healed, the newcomer caught up
    e, newcomer, first, later = learner
    assert sorted(e.nodes[e.leader()].voters) == [1, 2, 3] and newcomer in e.nodes[e.leader()].learners
    assert (first, later) == ("committed", "committed")
    claim(NAME, "With the empty voter the majority is 3 of 4, and only two servers that can acknowledge are left")


def test_the_2015_bug_is_replayed_with_the_fix_off_and_on():
    ns = lesson(NAME)
    claim(NAME, "a leader may change the configuration only once an entry of its **own term** is committed")
    claim(NAME, "where does it stop the replay: during step (3), as S2 changes the configuration, or at step (4)")
    assert ns["broken"] == "Configuration change after a commit of the leader's term" and ns["stopped_in"] == "(3)"
    assert [label[:3] for _, label, _ in ns["bug_steps"]] == ["(0)", "(1)", "(2)"]
    assert [label[:3] for _, label in ns["fixed_steps"]] == ["(0)", "(1)", "(2)", "(3)", "(4)"]
    assert "may not change the configuration yet" in ns["fixed_steps"][3][1]
    claim(NAME, "their majorities {S1, S4, S5} and {S2, S3, S6} have no server in common")

    claim(NAME, "The monitor stopped the run during step (3), at S2's append itself")
    claim(NAME, "its commitIndex 3 points at an entry of term 1")
    assert "leader S2 of term 2 appended a configuration at index 4" in printed(ns)
    assert "(commitIndex 3, of term 1)" in printed(ns)
    bug = ns["bug"]
    claim(NAME, "S5 has voters S1–S5 (so has S1's disk), S2 has voters S1–S4 and S6")
    assert bug.nodes[1] is None and bug.nodes[5].voters == {1, 2, 3, 4, 5} and bug.nodes[2].voters == {1, 2, 3, 4, 6}
    assert bug.disks[1].log[-1].command.voters == (1, 2, 3, 4, 5)
    assert "'S2': ([1, 2, 3, 4, 6], [5])" in printed(ns) and "'S5': ([1, 2, 3, 4, 5], [6])" in printed(ns)
    claim(NAME, "S1 moved to voters S1–S5 at step (1), alone with S5, and is down since step (2); no diamond")
    claim(NAME, "The lanes end at the ✗, the append, before S2 uses its new configuration")
    stretches = configurations(bug.trace)
    assert max(s.end for s in stretches) == ns["broke_at"] == ns["bug_steps"][2][0]
    s2 = max((s for s in stretches if s.node == 2), key=lambda s: s.end)
    assert s2.config.voters == (1, 2, 3, 4)  # the picture never shows S2 in its new configuration
    wider = [s for s in stretches if s.config is not None and s.config.voters == (1, 2, 3, 4, 5)]
    assert {s.node for s in wider} == {1, 5} and all(s.committed_at is None for s in wider)
    s1 = max((s for s in stretches if s.node == 1), key=lambda s: s.end)
    crash = next(e.time for e in bug.trace if e.kind == "crash" and e.node == 1)
    assert s1.config is None and s1.start == crash and ns["bug_steps"][1][0] <= crash <= ns["bug_steps"][2][0]
    claim(NAME, "whose last entry (index 4, term 1) is at least as up to date as S4's and S5's")
    last = {i: (len(bug.disks[i].log), bug.disks[i].log[-1].term) for i in (1, 4, 5)}
    assert last[1] == (4, 1) and all(last[1] >= last[i] for i in (4, 5))  # same term: the longer log (§5.4.1)

    claim(NAME, "At step (4) S1 won term 3 with S4 and S5")
    fixed = ns["fixed"]
    won = [e for e in fixed.trace if e.kind == "role" and e.value == "leader" and e.node == 1 and e.term == 3]
    voters = {e.node for e in fixed.trace if e.kind == "vote" and e.peer == 1 and e.term == 3 and e.value}
    assert won and voters == {1, 4, 5}  # itself, S4 and S5: a majority of voters S1-S5, none of S2, S3, S6
    claim(NAME, "only S1's change (voters S1–S5) was ever in a log")
    assert {e.value.voters for e in fixed.trace if e.kind == "config"} == {(1, 2, 3, 4), (1, 2, 3, 4, 5)}


def test_with_s4_reachable_s2_commits_its_client_request_first_and_s4_refuses_s1():
    """s8 third read: "S2's entry of term 2" named an entry the fixed run never has; the lesson now says S2 would first
    have to commit a client request. The 2015 script with S4 left reachable at step (2): S2 commits it on S3 and S4,
    and S4 then refuses S1 (its log is less up to date), so S1 cannot win with S4 and S5."""
    from raftedu import Cluster, Network
    from raftedu.scenarios import SCRIPTED, ScriptError, elect

    claim(NAME, "Had S4 been reachable, S2 could have committed an entry of term 2 — the client request it would first "
                "have to commit, before any change — on S3 and S4, and S4 (with a log more up to date than S1's) would "
                "no longer have voted for S1.")
    c = Cluster(4, seed=21, timing=SCRIPTED, network=Network(delay=(1, 1)))  # single_server_change_bug's steps (0)-(2), S4 not cut off
    elect(c, 1)
    c.request("a")
    c.run(60)
    for _ in range(2):
        c.add_server()
        c.run(100)
    c.partition([1, 5], [2, 3, 4, 6])
    c.promote(5)
    c.run(10)
    c.crash(1)
    elect(c, 2)
    c.run(100)
    request = c.request("b")
    c.run(100)
    assert request.status == "committed" and all(c.nodes[i].log[-1].term == 2 for i in (2, 3, 4))
    c.partition([1, 4, 5], [2, 3, 6])
    c.restart(1)
    with pytest.raises(ScriptError):
        elect(c, 1)
    refused = {e.node for e in c.trace if e.kind == "vote" and e.peer == 1 and not e.value and "less up to date" in e.text}
    assert refused == {4}


def test_joint_consensus_and_etcds_conf_change_v2_are_taught():
    claim(NAME, "every election and every commit needs a majority of C<sub>old</sub> **and** a majority of C<sub>new</sub>")
    claim(NAME, "a `ConfChangeV2` with a single change takes effect directly")
    claim(NAME, "raftedu implements single-server changes only")
    claim(NAME, "No moment exists at which C<sub>old</sub> and C<sub>new</sub> could both decide independently")


def test_a_removed_server_that_keeps_running_deposes_the_leader_only_without_the_followers_rule():
    """Issue 24 (membership, §4.2.3): a removed server's campaigns, by a run; the rule suffices here because the
    leader sends the removed server no heartbeats (unlike lesson 10's returning follower)."""
    ns = lesson(NAME)
    without, with_rule = ns["removed_runs"]
    assert without["its campaigns"] > 1 and without["leader stepped down"] >= 2 and without["elections won"] >= 2
    assert without["leader at the end"] == "none" and without["RequestVotes ignored"] == 0
    claim(NAME, "the leader stepped down — again and again, with elections in between, and at the end of the 2 s no "
                "leader at all")
    assert with_rule["leader stepped down"] == with_rule["elections won"] == 0
    assert with_rule["RequestVotes ignored"] > 0 and with_rule["its campaigns"] == without["its campaigns"]
    removed = int(with_rule["removed"][1:])
    terms = with_rule["terms at the end"]
    assert terms[removed - 1] == 9 and all(t == 1 for i, t in enumerate(terms, 1) if i != removed)
    claim(NAME, "the leader kept leading term 1 while the removed server's term ran to 9")
    claim(NAME, "the disruptive server will time out again and the process will repeat, resulting in poor availability")
    claim(NAME, "a removed node will send MsgVotes (or MsgPreVotes) which will be ignored, but it will not receive "
                "MsgApp or MsgHeartbeat, so it will not create disruptive term increases")


def test_no_printed_line_is_wider_than_100_characters():
    """JupyterLab breaks a longer output line wherever the window ends, even mid-word: lessons print through say()."""
    wide = [line for line in lesson(NAME)["_stdout"].splitlines() if len(line) > 100]
    assert not wide, f"{NAME} prints lines over 100 characters: {wide[:3]}"
