"""Lesson 10 (pre-vote and check-quorum): what its prose says is what its runs compute."""

from __future__ import annotations

import pytest

from test_lesson_claims_a import claim, lesson, predictions_read_back, printed, prose  # tests/ is on sys.path (conftest.py)

NAME = "10_prevote_checkquorum.ipynb"
pytestmark = pytest.mark.kernel


def test_every_prediction_is_read_back_by_the_next_cell():
    assert len(predictions_read_back(NAME)) == 4


def test_how_long_a_follower_must_be_away_to_depose_the_leader():
    """Issue 24 (repeated runs replaced by variations): lesson 10 opens with the absence varied, not lesson 04's run."""
    ns = lesson(NAME)
    rows = {r["away (ms)"]: r for r in ns["rows"]}
    assert list(rows) == [100, 200, 300, 1_000, 3_000]
    assert not rows[100]["leader deposed"] and all(rows[ms]["leader deposed"] for ms in (200, 300, 1_000, 3_000))
    assert ns["shortest"] == 200
    claim(NAME, "With seed 3, a 100 ms absence did nothing")
    assert rows[200]["its term at the heal"] == 1 and rows[200]["deposed by its"] == "RequestVote"
    assert rows[200]["new leader"].endswith("term 2")
    claim(NAME, "At 200 ms the follower's term was still 1 at the heal, yet the leader fell")
    claim(NAME, "the follower's RequestVote for term 2 deposed the leader")
    for ms in (300, 1_000, 3_000):
        assert rows[ms]["its term at the heal"] > 1 and rows[ms]["deposed by its"] == "AppendEntriesReply", ms
    claim(NAME, "From 300 ms on the follower's term had already risen, and the leader fell on the *reply* to its own")
    assert rows[3_000]["its term at the heal"] == 14
    claim(NAME, "term 2 or term 14, it costs one election")
    x = ns["x"]
    assert all(r["new leader"].startswith(f"S{x},") for r in rows.values() if r["leader deposed"])
    claim(NAME, "The returning follower won each time")
    claim(NAME, "either through the server's RequestVote requests or through its AppendEntries response")
    c, leader, term, x4, away, deposed = ns["rejoin"](pre_vote=False, seed=4, away_ms=100)
    assert deposed and away == term  # the silence it heard was longer than the cut
    claim(NAME, "with `seed=4`, even the 100 ms cut deposes the leader")


def test_without_pre_vote_the_rejoining_follower_deposes_the_leader():
    ns = lesson(NAME)
    c, leader, term, x, away, deposed = ns["rejoin"](pre_vote=False)
    claim(NAME, "each time it becomes a candidate and raises its term (paper §5.2)")
    assert away > term + 3 and deposed
    claim(NAME, "the leader's next heartbeat reaches the cut-off follower, and its answer carries the follower's high "
                "term. A server that sees a higher term adopts it and becomes a follower (paper §5.1): the leader steps down.")
    cause, step = ns["cause"], ns["step"]  # what the student saw (the same seeded run as this one)
    assert type(cause.msg).__name__ == "AppendEntriesReply" and not cause.msg.success and cause.msg.src == x
    assert cause.msg.term == away > term  # its term is higher than the heartbeat's
    assert step.node == leader and step.value == "follower" and step.term == away and step.time == cause.time
    assert ns["elected"].term == away + 1  # the election that follows
    assert [c.nodes[i].current_term for i in c.ids] == [c.nodes[x].current_term] * 5
    assert c.nodes[x].current_term > away  # after healing, at least one more election


def test_with_pre_vote_nothing_changes():
    ns = lesson(NAME)
    c, leader, term, x, away, deposed = ns["rejoin"](pre_vote=True)
    assert ns["away_term"] == term and ns["deposed"] is False  # what the student saw
    claim(NAME, "it never started an election and its term stayed where it was")
    assert not deposed and away == term and c.leader() == leader
    assert [c.nodes[i].current_term for i in c.ids] == [term] * 5
    assert not any(e.kind == "role" and e.node == x and e.value == "candidate" for e in c.trace)


def test_check_quorum_contrast():
    ns = lesson(NAME)
    c, old, cut, leaders = ns["minority_leader"](check_quorum=False)
    claim(NAME, "Two leaders, in different terms")
    assert len(leaders) == 2 and len({c.nodes[i].current_term for i in leaders}) == 2
    c, old, cut, leaders = ns["c"], ns["old"], ns["cut"], ns["leaders"]
    down = [e for e in c.trace if e.kind == "stepdown" and e.node == old]
    claim(NAME, "at its first heartbeat after a full minimum election timeout it stepped down")
    low, beat = c.timing.election_timeout[0], c.timing.heartbeat
    assert down and low <= down[0].time - cut <= low + beat
    assert old not in leaders


def test_check_quorum_alone_does_not_protect_the_leader_from_a_rejoin_pre_vote_does():
    """Issue 24 (1): the followers' lease rule (§4.2.3) ignores the returning server's RequestVote, but the reply to
    the leader's heartbeat carries its higher term and the leader steps down (Figure 2, rules for all servers)."""
    ns = lesson(NAME)
    claim(NAME, "The followers did ignore the returning server's vote requests — yet the leader fell all the same")
    claim(NAME, "Only pre-vote stops the term from running ahead in the first place, so only pre-vote protects the leader here")
    claim(NAME, "it does **not** stop a returning server from deposing the leader (the heartbeat's reply carries its term)")
    for seed in range(3, 8):
        c, leader, term, x, away, deposed = ns["rejoin"](pre_vote=False, check_quorum=True, seed=seed)
        assert deposed and away > term, seed
        assert any(e.kind == "vote_ignored" and e.peer == x for e in c.trace), seed  # the §4.2.3 rule did act
        events = list(c.trace)
        fell = next(k for k, e in enumerate(events) if e.kind == "role" and e.node == leader and e.value == "follower")
        cause = next(e for e in reversed(events[:fell]) if e.kind == "deliver" and e.msg.dst == leader)
        assert type(cause.msg).__name__ == "AppendEntriesReply" and cause.msg.src == x and cause.msg.term == away, seed
        for check_quorum in (False, True):
            c, leader, term, x, away, deposed = ns["rejoin"](pre_vote=True, check_quorum=check_quorum, seed=seed)
            assert not deposed and away == term and c.leader() == leader, (seed, check_quorum)
    assert ns["cq_deposed"] is True and ns["depositions"] == {s: True for s in range(3, 8)}
    assert ns["kept"] == {s: True for s in range(3, 8)}
    assert "leader deposed 5 of 5 times; with pre-vote as well: leader kept 5 of 5 times" in printed(ns)


def test_lesson_10_cites_the_followers_vote_rule_as_section_4_2_3_and_never_credits_check_quorum_with_the_rejoin():
    claim(NAME, "etcd's check-quorum has a second half, for followers, from the dissertation's §4.2.3 (disruptive servers)")
    text = prose(NAME)
    assert "cannot depose a working leader by its term alone" not in text
    assert "two options that fix exactly these" not in text


def test_the_answer_key_quotes_what_the_lesson_computes():
    from pathlib import Path

    key = " ".join((Path(__file__).resolve().parent.parent / "solutions" / "lessons"
                    / "10_prevote_checkquorum_answers.md").read_text().split())
    ns = lesson(NAME)
    asks = len(ns["asks"])
    assert f"S{ns['x']} asked for a pre-vote {asks} times" in printed(ns)
    assert f"asked for pre-votes {asks} times for term {ns['term'] + 1}" in key
    assert f"About one minimum election timeout ({ns['took']} ms)" in key and ns["took"] == ns["low"]
    assert "on seeds 3–7 every time; with pre-vote added, never" in key
    assert f"after which the leader is deposed: {ns['shortest']} ms; the new leader is the returning follower" in key


def test_no_printed_line_is_wider_than_100_characters():
    """JupyterLab breaks a longer output line wherever the window ends, even mid-word: lessons print through say()."""
    wide = [line for line in lesson(NAME)["_stdout"].splitlines() if len(line) > 100]
    assert not wide, f"{NAME} prints lines over 100 characters: {wide[:3]}"


def test_the_check_quorum_prediction_is_asked_before_the_rule_names_its_length():
    """A fresh read (s8-24d): the cell before the prediction said "a whole election timeout", half its answer."""
    text = prose(NAME)
    asked = text.index("about how long after the split does the old leader step down")
    told = text.index("a leader steps down when an election timeout passes without a successful round of heartbeats to a majority")
    assert "election timeout passes" not in text[text.index("## With check-quorum"):asked]
    assert asked < told
    ns = lesson(NAME)
    claim(NAME, "raftedu looks back at every heartbeat over the last minimum election timeout, so its leader steps down one "
                "minimum election timeout after it last heard from a majority, at most one heartbeat late")
    assert ns["took"] == ns["low"] == ns["c"].timing.election_timeout[0]
    # s8 third read: "like etcd" was wrong — etcd-io/raft's tickHeartbeat steps MsgCheckQuorum once per electionTimeout
    # and QuorumActive() looks at RecentActive since the previous check; lesson 13 measures 1-2 timeouts on real etcd
    # (tests/test_lesson_claims_b.py::test_lesson_13_check_quorum_on_real_etcd checks that measure)
    claim(NAME, "So an etcd leader steps down between about one and two election timeouts after the cut (lesson 13 "
                "measures it)")
    assert "like etcd, counts" not in prose(NAME)
