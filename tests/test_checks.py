"""Every safety check can fail: each is shown a trace that breaks exactly its property."""

from __future__ import annotations

import pytest

from raftedu import PROPERTIES, Cluster, Entry, Event, RequestVoteReply, SafetyViolation, check_trace
from raftedu.sweep import run_seed

START = Event(0, "start", value=(("n", 3), ("seed", 0)))
A1, B1, C2 = Entry(1, "a"), Entry(1, "b"), Entry(2, "c")


def leader(t: int, node: int, term: int) -> list[Event]:
    return [Event(t, "term", node=node, term=term, value=term), Event(t, "role", node=node, term=term, value="leader")]


def violated(*events: Event) -> str:
    with pytest.raises(SafetyViolation) as caught:
        check_trace([START, *events], seed=99)
    assert caught.value.seed == 99 and caught.value.time == events[-1].time
    return caught.value.property


def test_election_safety():
    assert violated(*leader(1, 1, 1), *leader(2, 2, 1)) == "Election Safety"


def test_leader_append_only():
    events = [*leader(1, 1, 1), Event(2, "append", node=1, term=1, index=1, entry=A1),
              Event(3, "truncate", node=1, term=1, index=1)]
    assert violated(*events) == "Leader Append-Only"


def test_log_matching():
    events = [Event(1, "append", node=1, term=1, index=1, entry=A1), Event(1, "append", node=1, term=1, index=2, entry=A1),
              Event(2, "append", node=2, term=1, index=1, entry=B1), Event(2, "append", node=2, term=1, index=2, entry=A1)]
    assert violated(*events) == "Log Matching"


def test_leader_completeness():
    events = [Event(1, "append", node=1, term=1, index=1, entry=A1), Event(2, "commit", node=1, term=1, index=1),
              *leader(3, 2, 2)]
    assert violated(*events) == "Leader Completeness"


def test_state_machine_safety_on_commit():
    events = [Event(1, "append", node=1, term=1, index=1, entry=A1), Event(2, "commit", node=1, term=1, index=1),
              Event(3, "append", node=2, term=2, index=1, entry=C2), Event(4, "commit", node=2, term=2, index=1)]
    assert violated(*events) == "State Machine Safety"


def test_state_machine_safety_on_apply():
    """Two servers apply different commands at the same index."""
    events = [Event(1, "append", node=1, term=1, index=1, entry=A1), Event(2, "commit", node=1, term=1, index=1),
              Event(3, "apply", node=1, term=1, index=1, entry=A1),
              Event(4, "append", node=2, term=1, index=1, entry=A1), Event(5, "commit", node=2, term=1, index=1),
              Event(6, "apply", node=2, term=1, index=1, entry=B1)]
    assert violated(*events) == "State Machine Safety"


def test_terms_never_decrease():
    events = [Event(1, "term", node=1, term=3, value=3), Event(2, "crash", node=1), Event(3, "restart", node=1),
              Event(4, "term", node=1, term=2, value=2)]
    assert violated(*events) == "Terms never decrease"


def test_one_vote_per_term_across_a_restart():
    events = [Event(1, "vote", node=3, term=2, peer=1, value=True), Event(2, "crash", node=3),
              Event(3, "restart", node=3), Event(4, "vote", node=3, term=2, peer=2, value=True)]
    assert violated(*events) == "One vote per term"


def test_one_vote_per_term_is_read_from_granted_replies_too():
    """A node that forgets to record votedFor still gets caught by what it sends."""
    events = [Event(1, "send", node=3, msg=RequestVoteReply(2, 3, 1, True), msg_id=1, value=5),
              Event(2, "send", node=3, msg=RequestVoteReply(2, 3, 2, True), msg_id=2, value=6)]
    assert violated(*events) == "One vote per term"


def test_commit_index_never_beyond_last_index():
    assert violated(Event(1, "commit", node=1, term=1, index=2)) == "commitIndex ≤ last index"


def test_committed_entry_deleted_is_caught():
    events = [Event(1, "append", node=2, term=1, index=1, entry=A1), Event(2, "commit", node=2, term=1, index=1),
              Event(3, "truncate", node=2, term=2, index=1)]
    assert violated(*events) == "commitIndex ≤ last index"


def test_apply_contiguous():
    events = [Event(1, "append", node=1, term=1, index=1, entry=A1), Event(1, "append", node=1, term=1, index=2, entry=A1),
              Event(2, "commit", node=1, term=1, index=2), Event(3, "apply", node=1, term=1, index=2, entry=A1)]
    assert violated(*events) == "Apply contiguous"


def test_every_listed_property_has_a_failing_test_above():
    tested = {"Election Safety", "Leader Append-Only", "Log Matching", "Leader Completeness", "State Machine Safety",
              "Terms never decrease", "One vote per term", "commitIndex ≤ last index", "Apply contiguous"}
    assert tested == set(PROPERTIES)


def test_offline_check_of_a_real_trace_agrees_with_the_online_one():
    c = Cluster(5, seed=3)
    c.run(1_000)
    c.crash(c.leader())
    c.request("x")
    c.run(2_000)
    assert check_trace(c.trace) == len(c.trace) > 100


class ForgetsItsVote:
    """Mix-in: grants votes without recording votedFor (a classic bug)."""

    def handle_request_vote(self, m):  # type: ignore[no-untyped-def]
        from raftedu import RequestVoteReply

        granted = m.term >= self.current_term and self.log_is_up_to_date(m.last_log_index, m.last_log_term)
        if granted:
            self.reset_election_timer()
        self.send(RequestVoteReply(self.current_term, self.id, m.src, granted))


def test_sweep_catches_a_node_that_votes_twice_per_term():
    from raftedu import RaftNode

    broken = type("ForgetsItsVote", (ForgetsItsVote, RaftNode), {})
    results = [run_seed(5, seed, node_class=broken) for seed in range(10)]
    assert any(r.violation and "One vote per term" in r.violation for r in results)
