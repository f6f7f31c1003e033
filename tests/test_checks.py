"""Every safety check can fail: each is shown a trace that breaks exactly its property."""

from __future__ import annotations

import pytest

from raftedu import PROPERTIES, Cluster, Entry, Event, NodeFailure, RequestVoteReply, SafetyViolation, check_trace
from raftedu.sweep import run_seed

START = Event(0, "start", value=(("n", 3), ("seed", 0)))
A1, B1, C2 = Entry(1, "a"), Entry(1, "b"), Entry(2, "c")


def leader(t: int, node: int, term: int, voter: int | None = None) -> list[Event]:
    """``node`` becomes leader of ``term`` with its own vote and one more (a majority of 3)."""
    voter = voter if voter is not None else node % 3 + 1
    return [Event(t, "term", node=node, term=term, value=term),
            Event(t, "vote", node=node, term=term, peer=node, value=True),
            Event(t, "vote", node=voter, term=term, peer=node, value=True),
            Event(t, "role", node=node, term=term, value="leader")]


def violated(*events: Event) -> str:
    with pytest.raises(SafetyViolation) as caught:
        check_trace([START, *events], seed=99, up_to_date_check=True)
    assert caught.value.seed == 99 and caught.value.time == events[-1].time
    return caught.value.property


def stored(t: int, nodes: tuple[int, ...], index: int, entry: Entry) -> list[Event]:
    """``entry`` appended at ``index`` on each of ``nodes``."""
    return [Event(t, "append", node=i, term=entry.term, index=index, entry=entry) for i in nodes]


def test_election_safety():
    """S2 claims term 1 too (checked before its votes, so the older property speaks first)."""
    assert violated(*leader(1, 1, 1), Event(2, "role", node=2, term=1, value="leader")) == "Election Safety"


def test_leader_append_only():
    events = [*leader(1, 1, 1), Event(2, "append", node=1, term=1, index=1, entry=A1),
              Event(3, "truncate", node=1, term=1, index=1)]
    assert violated(*events) == "Leader Append-Only"


def test_log_matching():
    events = [Event(1, "append", node=1, term=1, index=1, entry=A1), Event(1, "append", node=1, term=1, index=2, entry=A1),
              Event(2, "append", node=2, term=1, index=1, entry=B1), Event(2, "append", node=2, term=1, index=2, entry=A1)]
    assert violated(*events) == "Log Matching"


def test_leader_completeness():
    events = [*stored(1, (1, 2), 1, A1), Event(2, "commit", node=1, term=1, index=1), *leader(3, 3, 2)]
    assert violated(*events) == "Leader Completeness"


def test_state_machine_safety_on_commit():
    """S3's log is less up to date than S1's, so only the commit itself can tell."""
    events = [*stored(1, (1, 2), 1, C2), Event(2, "commit", node=1, term=2, index=1),
              *stored(3, (3,), 1, A1), Event(4, "commit", node=3, term=2, index=1)]
    assert violated(*events) == "State Machine Safety"


def test_state_machine_safety_on_apply():
    """Two servers apply different commands at the same index."""
    events = [*stored(1, (1, 2), 1, A1), Event(2, "commit", node=1, term=1, index=1),
              Event(3, "apply", node=1, term=1, index=1, entry=A1), Event(5, "commit", node=2, term=1, index=1),
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
    events = [*stored(1, (1, 2), 1, A1), Event(2, "commit", node=2, term=1, index=1),
              Event(3, "truncate", node=2, term=2, index=1)]
    assert violated(*events) == "commitIndex ≤ last index"


def test_apply_contiguous():
    events = [*stored(1, (1, 2), 1, A1), *stored(1, (1, 2), 2, A1),
              Event(2, "commit", node=1, term=1, index=2), Event(3, "apply", node=1, term=1, index=2, entry=A1)]
    assert violated(*events) == "Apply contiguous"


def test_leader_elected_by_a_majority_of_its_own_term():
    """S1 holds S2's vote from term 1 only; in term 2 it has its own vote: not a majority of 3."""
    events = [Event(1, "vote", node=2, term=1, peer=1, value=True), Event(2, "term", node=1, term=2, value=2),
              Event(2, "vote", node=1, term=2, peer=1, value=True), Event(3, "role", node=1, term=2, value="leader")]
    assert violated(*events) == "Leader elected by a majority"
    events[1:1] = [Event(1, "vote", node=3, term=2, peer=1, value=True)]  # with S3's vote of term 2 it is legal
    assert check_trace([START, *events], up_to_date_check=True) == len(events) + 1


def test_state_machine_equals_the_log():
    """A ``machine`` event is what the node's state machine really holds; it must be the log up to lastApplied."""
    events = [*stored(1, (1, 2), 1, A1), Event(2, "commit", node=1, term=1, index=1),
              Event(3, "apply", node=1, term=1, index=1, entry=A1)]
    assert check_trace([START, *events, Event(3, "machine", node=1, index=1, value=("a",))],
                       up_to_date_check=True) == len(events) + 2
    assert violated(*events, Event(3, "machine", node=1, index=1, value=("a", "a"))) == "State machine = log"
    assert violated(*events, Event(3, "machine", node=1, index=1, value=())) == "State machine = log"


def test_committed_entries_on_a_majority():
    events = [*stored(1, (1,), 1, A1), Event(2, "commit", node=1, term=1, index=1)]
    assert violated(*events) == "Committed entries on a majority"
    lost = [*stored(1, (1, 2), 1, A1), Event(2, "commit", node=1, term=1, index=1),
            Event(3, "truncate", node=2, term=1, index=1)]
    assert violated(*lost) == "Committed entries on a majority"


def test_up_to_date_logs_hold_what_is_committed():
    """S3's log (last term 2) beats S1's (last term 1) but lacks what S1 committed: S3 could be elected without it."""
    events = [*stored(1, (1, 2), 1, A1), Event(2, "commit", node=1, term=1, index=1), *stored(3, (3,), 1, C2)]
    assert violated(*events) == "Up-to-date logs hold what is committed"
    assert check_trace([START, *events]) == len(events) + 1  # checked only when asked for


def test_check_trace_reads_only_events():
    with pytest.raises(TypeError, match="check_trace reads raftedu Events; item 1 is tuple"):
        check_trace([START, (1, "commit")])


def test_node_failure():
    with pytest.raises(NodeFailure) as caught:
        check_trace([START, Event(5, "failure", node=2, term=1, value="S2 raised IndexError")], seed=4)
    assert (caught.value.property, caught.value.node, caught.value.time, caught.value.seed) == ("Node failure", 2, 5, 4)


def test_every_listed_property_has_a_failing_test_above():
    tested = {"Election Safety", "Leader Append-Only", "Log Matching", "Leader Completeness", "State Machine Safety",
              "Terms never decrease", "One vote per term", "commitIndex ≤ last index", "Apply contiguous",
              "Leader elected by a majority", "State machine = log", "Committed entries on a majority",
              "Up-to-date logs hold what is committed", "Node failure"}
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
