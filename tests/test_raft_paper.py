"""The Raft paper, sentence by sentence, against one node at a time.

In the style of etcd-io/raft's raft_paper_test.go: each test drives a single
sans-I/O RaftNode with hand-made messages and checks what it sends back and
how its state changed. Each test names the section of the paper it checks.
"""

from __future__ import annotations

import random

import pytest

from raftedu import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    AppendEntries,
    AppendEntriesReply,
    Entry,
    PersistentState,
    RaftNode,
    RequestVote,
    RequestVoteReply,
)


def make(i: int = 1, n: int = 3, term: int = 0, log: tuple[int, ...] = (), voted_for: int | None = None,
         seed: int = 0) -> RaftNode:
    """A node of an n-node cluster whose log holds entries with the given terms."""
    state = PersistentState(term, voted_for, [Entry(t, f"c{k}") for k, t in enumerate(log, 1)])
    node = RaftNode(i, list(range(1, n + 1)), rng=random.Random(seed), state=state)
    node.take_output()
    return node


def sent(node: RaftNode) -> list:
    """The messages the node produced since the last call."""
    return node.take_output()[0]


def leader(n: int = 3, term: int = 1, log: tuple[int, ...] = ()) -> RaftNode:
    """A node made leader of ``term`` directly (as etcd's tests do with becomeCandidate/becomeLeader)."""
    node = make(1, n, term - 1, log)
    node.on_timer(node.deadline)
    for peer in node.peers:
        node.receive(RequestVoteReply(term, peer, 1, True), node.now)
    assert node.role == LEADER and node.current_term == term
    sent(node)
    return node


def terms(node: RaftNode) -> list[int]:
    return [e.term for e in node.log]


# ---- §5.1 terms -------------------------------------------------------------


@pytest.mark.parametrize("role", [FOLLOWER, CANDIDATE, LEADER])
def test_5_1_any_server_adopts_a_higher_term_and_becomes_follower(role):
    """§5.1: "If a server's current term is smaller than the other's, it updates its term; a candidate or
    leader that discovers its term is out of date reverts to follower state"."""
    node = leader(term=2) if role == LEADER else make(term=2)
    if role == CANDIDATE:
        node.on_timer(node.deadline)
    node.receive(AppendEntries(9, 2, 1, 0, 0, (), 0), 1000)
    assert node.current_term == 9 and node.role == FOLLOWER and node.voted_for is None


@pytest.mark.parametrize("msg", [
    RequestVote(7, 2, 1, 0, 0),
    RequestVoteReply(7, 2, 1, False),
    AppendEntries(7, 2, 1, 0, 0, (), 0),
    AppendEntriesReply(7, 2, 1, False),
])
def test_5_1_every_message_and_reply_carries_term_rules(msg):
    """Figure 2, Rules for All Servers: term T > currentTerm in *any* RPC request or response → update."""
    node = make(term=3)
    node.receive(msg, 10)
    assert node.current_term == 7


def test_5_1_stale_term_request_is_rejected_with_current_term():
    """§5.1: "If a server receives a request with a stale term number, it rejects the request"."""
    node = make(term=5, log=(1, 2))
    node.receive(AppendEntries(4, 2, 1, 2, 2, (Entry(4, "x"),), 2), 10)
    (reply,) = sent(node)
    assert reply == AppendEntriesReply(5, 1, 2, False)
    assert terms(node) == [1, 2] and node.commit_index == 0


# ---- §5.2 leader election -------------------------------------------------------


def test_5_2_servers_start_as_followers():
    """§5.2: "When servers start up, they begin as followers"."""
    node = make()
    assert node.role == FOLLOWER and node.current_term == 0 and node.leader_id is None


def test_5_2_election_timeout_is_random_within_the_range_and_comes_from_the_injected_rng():
    """§5.2: "election timeouts are chosen randomly from a fixed interval (e.g., 150-300 ms)"."""
    timeouts = {make(seed=s).deadline for s in range(200)}
    assert min(timeouts) >= 150 and max(timeouts) < 300 and len(timeouts) > 50
    assert make(seed=42).deadline == make(seed=42).deadline


def test_5_2_follower_times_out_and_starts_an_election():
    """§5.2: increment currentTerm, vote for self, reset the election timer, send RequestVote to all others."""
    node = make(i=2, n=5, term=3, log=(1, 3))
    old_deadline = node.deadline
    node.on_timer(old_deadline)
    assert node.role == CANDIDATE and node.current_term == 4 and node.voted_for == 2
    assert node.deadline > old_deadline
    assert sorted(sent(node), key=lambda m: m.dst) == [RequestVote(4, 2, p, 2, 3) for p in (1, 3, 4, 5)]


@pytest.mark.parametrize("n,granted,wins", [
    (1, [], True), (3, [2], True), (3, [], False), (5, [2], False), (5, [2, 3], True), (5, [2, 3, 4, 5], True),
])
def test_5_2_candidate_wins_with_votes_from_a_majority(n, granted, wins):
    """§5.2: "A candidate wins an election if it receives votes from a majority of the servers"."""
    node = make(n=n)
    node.on_timer(node.deadline)
    for peer in range(2, n + 1):
        node.receive(RequestVoteReply(1, peer, 1, peer in granted), 10)
    assert (node.role == LEADER) is wins


def test_5_2_new_leader_sends_heartbeats_at_once_and_then_every_interval():
    """§5.2: the leader sends heartbeats (empty AppendEntries) "to all of the servers to establish its authority"."""
    node = make(n=3)
    node.on_timer(node.deadline)
    sent(node)
    node.receive(RequestVoteReply(1, 2, 1, True), 300)
    first = sent(node)
    assert sorted(m.dst for m in first) == [2, 3]
    assert all(isinstance(m, AppendEntries) and m.entries == () for m in first)
    assert node.deadline == 300 + node.timing.heartbeat
    node.on_timer(node.deadline)
    assert sorted(m.dst for m in sent(node)) == [2, 3]


def test_5_2_a_server_votes_for_at_most_one_candidate_per_term():
    """§5.2: "each server will vote for at most one candidate in a given term, on a first-come-first-served basis"."""
    node = make(i=3)
    node.receive(RequestVote(1, 1, 3, 0, 0), 10)
    node.receive(RequestVote(1, 2, 3, 0, 0), 11)
    node.receive(RequestVote(1, 1, 3, 0, 0), 12)  # a retransmission from the same candidate is granted again
    assert [m.vote_granted for m in sent(node)] == [True, False, True]
    assert node.voted_for == 1


def test_5_2_vote_is_refused_for_a_stale_term():
    """Figure 2, RequestVote receiver 1: "Reply false if term < currentTerm"."""
    node = make(i=3, term=4)
    node.receive(RequestVote(3, 1, 3, 0, 0), 10)
    assert sent(node) == [RequestVoteReply(4, 3, 1, False)]


def test_5_2_granting_a_vote_resets_the_election_timer_and_refusing_does_not():
    """Figure 2, Followers: timeout only "without ... granting vote to candidate"."""
    node = make(i=3, term=1, voted_for=2)
    before = node.deadline
    node.receive(RequestVote(1, 1, 3, 0, 0), 100)
    assert node.deadline == before
    node.receive(RequestVote(2, 1, 3, 0, 0), 100)
    assert node.deadline >= 100 + 150


def test_5_2_candidate_steps_down_when_a_leader_of_its_term_appears():
    """§5.2: "If the leader's term is at least as large as the candidate's current term, ... returns to follower"."""
    node = make(i=2)
    node.on_timer(node.deadline)
    node.receive(AppendEntries(1, 3, 2, 0, 0, (), 0), 400)
    assert node.role == FOLLOWER and node.leader_id == 3 and node.current_term == 1


def test_5_2_split_vote_times_out_and_starts_a_new_election():
    """§5.2: "each candidate will time out and start a new election by incrementing its term"."""
    node = make(n=5)
    node.on_timer(node.deadline)
    node.receive(RequestVoteReply(1, 2, 1, True), 10)
    node.on_timer(node.deadline)
    assert node.role == CANDIDATE and node.current_term == 2 and node.votes == {1}


def test_5_2_duplicated_and_stale_vote_replies_are_not_counted_twice():
    """Votes are counted per server and only for the current term."""
    node = make(n=5)
    node.on_timer(node.deadline)
    node.on_timer(node.deadline)  # term 2 now
    node.receive(RequestVoteReply(1, 2, 1, True), 10)  # stale: for term 1
    node.receive(RequestVoteReply(2, 3, 1, True), 10)
    node.receive(RequestVoteReply(2, 3, 1, True), 11)  # duplicate
    assert node.role == CANDIDATE and node.votes == {1, 3}


# ---- §5.3 log replication -------------------------------------------------------


def test_5_3_leader_appends_a_client_command_and_replicates_it():
    """§5.3: the leader "appends the command to its log as a new entry, then issues AppendEntries RPCs in parallel"."""
    node = leader(term=2, log=(1,))
    assert node.propose("x", 500) == 2
    assert node.log[-1] == Entry(2, "x")
    msgs = sent(node)
    assert [m.dst for m in msgs] == [2, 3]
    assert msgs[0] == AppendEntries(2, 1, 2, 1, 1, (Entry(2, "x"),), 0)


def test_5_3_non_leaders_refuse_client_commands():
    """§5.3/§8: only the leader accepts client requests."""
    node = make()
    assert node.propose("x", 0) is None and node.log == []


def test_5_3_leader_commits_once_a_majority_stores_the_entry():
    """§5.3: "A log entry is committed once the leader that created the entry has replicated it on a majority"."""
    node = leader(n=5, term=1)
    node.propose("x", 1)
    node.receive(AppendEntriesReply(1, 2, 1, True, 1), 2)
    assert node.commit_index == 0
    node.receive(AppendEntriesReply(1, 3, 1, True, 1), 3)
    assert node.commit_index == 1 and node.applied == ["x"]


def test_5_3_committing_an_entry_commits_all_preceding_entries():
    """§5.3: committing an entry "also commits all preceding entries in the leader's log"."""
    node = leader(n=3, term=1)
    for c in "abc":
        node.propose(c, 1)
    node.receive(AppendEntriesReply(1, 2, 1, True, 3), 2)
    assert node.commit_index == 3 and node.applied == ["a", "b", "c"]


def test_5_3_follower_consistency_check_rejects_a_missing_or_mismatched_previous_entry():
    """§5.3: "If the follower does not find an entry in its log with the same index and term, then it refuses"."""
    node = make(i=2, term=2, log=(1, 1))
    node.receive(AppendEntries(2, 1, 2, 3, 2, (Entry(2, "x"),), 0), 10)  # no entry at 3
    node.receive(AppendEntries(2, 1, 2, 2, 2, (Entry(2, "x"),), 0), 11)  # entry at 2 has term 1, not 2
    assert [m.success for m in sent(node)] == [False, False]
    assert terms(node) == [1, 1]


def test_5_3_follower_deletes_a_conflicting_entry_and_all_that_follow():
    """Figure 2, AppendEntries receiver 3: same index, different terms → delete it and all that follow."""
    node = make(i=2, term=3, log=(1, 2, 2, 2))
    node.receive(AppendEntries(3, 1, 2, 1, 1, (Entry(3, "y"),), 0), 10)
    assert terms(node) == [1, 3]
    assert sent(node) == [AppendEntriesReply(3, 2, 1, True, 2)]


def test_5_3_follower_keeps_entries_when_there_is_no_conflict():
    """Receiver 3 deletes only on a real conflict: a late, shorter AppendEntries must not cut the log."""
    node = make(i=2, term=2, log=(1, 2, 2))
    node.receive(AppendEntries(2, 1, 2, 0, 0, (Entry(1, "c1"), Entry(2, "c2")), 0), 10)
    assert terms(node) == [1, 2, 2] and [e.command for e in node.log] == ["c1", "c2", "c3"]


def test_5_3_follower_appends_new_entries_and_resets_its_timer():
    """Receiver 4: "Append any new entries not already in the log"; heartbeat resets the election timer."""
    node = make(i=2, term=1, log=(1,))
    node.receive(AppendEntries(1, 1, 2, 1, 1, (Entry(1, "b"), Entry(1, "c")), 0), 120)
    assert [e.command for e in node.log] == ["c1", "b", "c"]
    assert node.leader_id == 1 and node.deadline >= 120 + 150


def test_5_3_follower_commit_index_is_min_of_leader_commit_and_last_new_entry():
    """Receiver 5: commitIndex = min(leaderCommit, index of last new entry) — not the follower's last index."""
    node = make(i=2, term=2, log=(1, 1, 1))
    node.receive(AppendEntries(2, 1, 2, 1, 1, (), 3), 10)  # heartbeat checks index 1 only
    assert node.commit_index == 1 and node.applied == ["c1"]
    node.receive(AppendEntries(2, 1, 2, 1, 1, (Entry(1, "c2"),), 3), 11)
    assert node.commit_index == 2


def test_5_3_leader_backs_off_next_index_and_retries_after_a_rejection():
    """§5.3: "After a rejection, the leader decrements nextIndex and retries the AppendEntries RPC"."""
    node = leader(term=3, log=(1, 1, 2))
    assert node.next_index[2] == 4
    node.receive(AppendEntriesReply(3, 2, 1, False, 0, 3), 10)
    (retry,) = sent(node)
    assert node.next_index[2] == 3 and retry.prev_log_index == 2 and retry.entries == (Entry(2, "c3"),)


def test_5_3_stale_failure_replies_never_move_next_index_below_match_index():
    """Late or duplicated replies are harmless: nextIndex > matchIndex always."""
    node = leader(term=3, log=(1, 1, 2))
    node.receive(AppendEntriesReply(3, 2, 1, True, 3), 10)
    node.receive(AppendEntriesReply(3, 2, 1, False, 0, 1), 11)
    assert node.match_index[2] == 3 and node.next_index[2] == 4


def test_5_3_replies_from_an_older_term_are_ignored():
    """A reply for an earlier term says nothing about the current leadership."""
    node = leader(term=3, log=(1, 1))
    node.receive(AppendEntriesReply(2, 2, 1, True, 2), 10)
    assert node.match_index[2] == 0 and node.commit_index == 0


FIGURE_7_LEADER = (1, 1, 1, 4, 4, 5, 5, 6, 6, 6)
FIGURE_7_FOLLOWERS = {
    "a": (1, 1, 1, 4, 4, 5, 5, 6, 6),
    "b": (1, 1, 1, 4),
    "c": (1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6),
    "d": (1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7),
    "e": (1, 1, 1, 4, 4, 4, 4),
    "f": (1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3),
}


@pytest.mark.parametrize("case", sorted(FIGURE_7_FOLLOWERS))
def test_5_3_figure_7_the_leader_brings_every_follower_log_into_agreement(case):
    """§5.3, Figure 7: whatever the follower's log (missing or extra uncommitted entries), the leader of term 8
    forces it to duplicate its own log through the consistency check and nextIndex back-off."""
    boss = leader(n=2, term=8, log=FIGURE_7_LEADER)
    boss.propose("term-8 entry", 0)
    follower_terms = FIGURE_7_FOLLOWERS[case]
    follower = make(i=2, n=2, term=max(follower_terms), log=follower_terms)
    inbox = sent(boss)
    rounds = 0
    while inbox and rounds < 50:
        rounds += 1
        replies = []
        for m in inbox:
            follower.receive(m, rounds)
            replies += sent(follower)
        inbox = []
        for r in replies:
            boss.receive(r, rounds)
            inbox += sent(boss)
    assert terms(follower) == [*FIGURE_7_LEADER, 8]
    assert boss.match_index[2] == 11 and boss.commit_index == 11


# ---- §5.4 safety ------------------------------------------------------------------


@pytest.mark.parametrize("mine,theirs,granted", [
    ((1, 2), (1, 2), True),     # identical logs
    ((1, 2), (1, 2, 2), True),  # same last term, longer
    ((1, 2, 2), (1, 2), False),  # same last term, shorter
    ((1, 2), (3,), True),       # later last term wins even when shorter
    ((3,), (1, 2, 2, 2), False),  # earlier last term loses even when longer
    ((), (), True),
    ((1,), (), False),
])
def test_5_4_1_vote_only_for_a_candidate_whose_log_is_at_least_as_up_to_date(mine, theirs, granted):
    """§5.4.1: compare the index and term of the last entries: later term wins; same term, longer log wins."""
    voter = make(i=2, term=3, log=mine)
    last_term = theirs[-1] if theirs else 0
    voter.receive(RequestVote(4, 1, 2, len(theirs), last_term), 10)
    assert sent(voter)[0].vote_granted is granted


def test_5_4_2_leader_never_commits_an_older_term_entry_by_counting_replicas():
    """§5.4.2, Figure 8: "Raft never commits log entries from previous terms by counting replicas"."""
    node = leader(n=5, term=4, log=(1, 2))
    for peer in (2, 3):
        node.receive(AppendEntriesReply(4, peer, 1, True, 2), 10)
    assert node.commit_index == 0


def test_5_4_2_older_entries_commit_indirectly_with_a_current_term_entry():
    """§5.4.2: "once an entry from the current term has been committed ..., all prior entries are committed"."""
    node = leader(n=5, term=4, log=(1, 2))
    node.propose("now", 10)
    for peer in (2, 3):
        node.receive(AppendEntriesReply(4, peer, 1, True, 3), 11)
    assert node.commit_index == 3 and node.applied == ["c1", "c2", "now"]


def test_5_5_state_survives_in_persistent_state_only():
    """Figure 2: currentTerm, votedFor and log[] are persistent; commitIndex, lastApplied, role are volatile."""
    node = leader(term=2, log=(1,))
    node.propose("x", 1)
    node.receive(AppendEntriesReply(2, 2, 1, True, 2), 2)
    assert node.commit_index == 2
    reborn = RaftNode(1, [1, 2, 3], rng=random.Random(1), state=node.state, now=50)
    assert (reborn.current_term, reborn.voted_for, terms(reborn)) == (2, 1, [1, 2])
    assert (reborn.role, reborn.commit_index, reborn.last_applied, reborn.applied) == (FOLLOWER, 0, 0, [])


def test_5_3_entries_are_applied_in_log_order_exactly_once():
    """Figure 2, All Servers: "If commitIndex > lastApplied: increment lastApplied, apply log[lastApplied]"."""
    node = make(i=2, term=1, log=(1, 1, 1))
    node.receive(AppendEntries(1, 1, 2, 3, 1, (), 2), 1)
    node.receive(AppendEntries(1, 1, 2, 3, 1, (), 1), 2)  # an older leaderCommit never lowers commitIndex
    node.receive(AppendEntries(1, 1, 2, 3, 1, (), 3), 3)
    assert node.applied == ["c1", "c2", "c3"] and node.last_applied == 3 == node.commit_index
    applies = [e.index for e in node.take_output()[1] if e.kind == "apply"]
    assert applies == [1, 2, 3]
