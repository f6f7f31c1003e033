"""The Raft core: one server as a pure state machine (sans-I/O).

This module is the paper's Figure 2 ("Raft consensus algorithm, condensed",
Ongaro & Ousterhout, *In Search of an Understandable Consensus Algorithm*,
2014), written out one rule per method. Section numbers in comments (``§5.3``)
point into that paper.

A :class:`RaftNode` never sleeps, reads a clock, touches a network or uses
global randomness. It is handed an input together with the current virtual
time in integer milliseconds:

* :meth:`RaftNode.receive` -- a message arrived;
* :meth:`RaftNode.on_timer` -- the time in :attr:`RaftNode.deadline` has come;
* :meth:`RaftNode.propose` -- a client asks the leader to append a command;

and afterwards :meth:`RaftNode.take_output` hands back the messages to send and
the :class:`Event` records that say what happened inside the node and which
Figure 2 rule made it happen. The random election timeout is drawn from the
``random.Random`` the node is given.

State is split the way Figure 2 splits it: :class:`PersistentState`
(currentTerm, votedFor, log[]) survives a crash; everything else on the node
is volatile and is lost with it. The node updates its persistent state before
it emits any message, which is what "updated on stable storage before
responding to RPCs" means in a model where a step cannot be interrupted.

Only the standard library is used here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from collections.abc import Iterable
from typing import Any

__all__ = [
    "FOLLOWER",
    "CANDIDATE",
    "LEADER",
    "Entry",
    "Message",
    "RequestVote",
    "RequestVoteReply",
    "AppendEntries",
    "AppendEntriesReply",
    "Event",
    "EVENT_FIELDS",
    "Log",
    "PersistentState",
    "Timing",
    "RaftNode",
    "majority",
]

FOLLOWER = "follower"
CANDIDATE = "candidate"
LEADER = "leader"


def majority(n: int) -> int:
    """Return the number of servers that form a majority of ``n`` (``n // 2 + 1``)."""
    return n // 2 + 1


# --------------------------------------------------------------------------
# Log entries and messages (Figure 2, "RequestVote RPC" / "AppendEntries RPC")
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: the command and the term in which a leader received it (§5.3)."""

    term: int
    command: Any


@dataclass(frozen=True, slots=True)
class Message:
    """Fields every Raft message carries: the sender's term, sender and receiver ids."""

    term: int
    src: int
    dst: int


@dataclass(frozen=True, slots=True)
class RequestVote(Message):
    """RequestVote RPC arguments (§5.2, §5.4.1); ``candidateId`` is ``src``."""

    last_log_index: int
    last_log_term: int

    @property
    def candidate_id(self) -> int:
        """The candidate requesting the vote (the paper's ``candidateId``)."""
        return self.src


@dataclass(frozen=True, slots=True)
class RequestVoteReply(Message):
    """RequestVote RPC results: ``term`` for the candidate to update itself, ``vote_granted``."""

    vote_granted: bool


@dataclass(frozen=True, slots=True)
class AppendEntries(Message):
    """AppendEntries RPC arguments (§5.3); ``leaderId`` is ``src``; no entries = heartbeat."""

    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int

    @property
    def leader_id(self) -> int:
        """The leader sending the entries (the paper's ``leaderId``)."""
        return self.src


@dataclass(frozen=True, slots=True)
class AppendEntriesReply(Message):
    """AppendEntries RPC results (§5.3).

    Besides the paper's ``term`` and ``success`` a reply names what it
    answers, because replies can arrive late, twice or out of order:
    ``match_index`` is ``prevLogIndex + len(entries)`` of the request on
    success; on failure ``conflict_index`` is where the follower suggests the
    leader retry (the back-off optimisation at the end of §5.3).
    """

    success: bool
    match_index: int = 0
    conflict_index: int = 0


# --------------------------------------------------------------------------
# Events: what happened, when, where and why -- the raw material of the trace
# --------------------------------------------------------------------------


EVENT_FIELDS = ("time", "kind", "node", "term", "peer", "index", "entry", "value", "msg", "msg_id", "rule", "text")
"""The fields of an :class:`Event`, in order (the columns of ``Trace.to_frame``)."""


class Event:
    """One thing that happened in the cluster.

    Nodes emit events about themselves (``timeout``, ``timer``, ``term``,
    ``role``, ``vote``, ``append``, ``truncate``, ``commit``, ``apply``,
    ``progress``); the simulator adds network, fault and client events
    (``send``, ``deliver``, ``drop``, ``crash``, ``restart``, ``partition``,
    ``heal``, ``cut``, ``client_request``, ``client_reply``, ...).

    Fields not used by a kind stay ``None``. ``rule`` names the Figure 2 rule
    that fired, ``text`` says it in a sentence for students. Events are
    records: treat them as read-only. The sentence may be given as
    ``(template, args)`` and is then formatted only when ``text`` is read
    (most sentences of a long run are never read).
    """

    __slots__ = ("time", "kind", "node", "term", "peer", "index", "entry", "value", "msg", "msg_id", "rule", "_text")

    def __init__(self, time: int, kind: str, node: int | None = None, term: int | None = None,
                 peer: int | None = None, index: int | None = None, entry: Entry | None = None, value: Any = None,
                 msg: Message | None = None, msg_id: int | None = None, rule: str = "",
                 text: str | tuple[str, tuple[Any, ...]] = "") -> None:
        """Record ``kind`` at virtual ``time``; the other fields as the kind needs them."""
        self.time = time
        self.kind = kind
        self.node = node
        self.term = term
        self.peer = peer
        self.index = index
        self.entry = entry
        self.value = value
        self.msg = msg
        self.msg_id = msg_id
        self.rule = rule
        self._text = text

    @property
    def text(self) -> str:
        """The sentence for students (formatted on first use when it was given as a template)."""
        text = self._text
        if type(text) is not str:
            text = self._text = text[0].format(*text[1])
        return text

    def astuple(self) -> tuple[Any, ...]:
        """The field values in the order of :data:`EVENT_FIELDS`."""
        return (self.time, self.kind, self.node, self.term, self.peer, self.index, self.entry, self.value,
                self.msg, self.msg_id, self.rule, self.text)

    def __eq__(self, other: object) -> bool:
        return type(other) is Event and self.astuple() == other.astuple()

    def __hash__(self) -> int:
        return hash(self.astuple())

    def __repr__(self) -> str:
        return "Event(" + ", ".join(f"{n}={v!r}" for n, v in zip(EVENT_FIELDS, self.astuple())) + ")"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Event, self.astuple())


# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------


class Log(list):  # type: ignore[type-arg]
    """A Raft log: a list of :class:`Entry` that remembers where it was last changed other than by appending.

    ``low`` is the lowest 0-based position written, deleted or moved since
    it was last reset (a huge number when only appends happened). The
    simulator uses it to notice, cheaply, a change a node made without
    reporting it; to the node it is an ordinary list.
    """

    __slots__ = ("low",)
    UNTOUCHED = 1 << 62
    """The value of ``low`` when nothing but appends happened."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        """A log holding ``entries`` (index 1 first)."""
        super().__init__(entries)
        self.low = Log.UNTOUCHED

    def _touch(self, where: Any) -> None:
        if isinstance(where, slice):
            where = where.indices(len(self))[0]
        elif where < 0:
            where += len(self)
        if where < self.low:
            self.low = max(0, where)

    def __setitem__(self, where: Any, value: Any) -> None:
        self._touch(where)
        super().__setitem__(where, value)

    def __delitem__(self, where: Any) -> None:
        self._touch(where)
        super().__delitem__(where)

    def __iadd__(self, other: Iterable[Entry]) -> "Log":
        self.extend(other)
        return self

    def __imul__(self, times: int) -> "Log":
        self.low = 0
        return super().__imul__(times)  # type: ignore[return-value]

    def pop(self, where: int = -1) -> Entry:
        """Remove and return the entry at 0-based position ``where`` (the last by default)."""
        self._touch(where)
        return super().pop(where)

    def remove(self, entry: Entry) -> None:
        """Remove the first occurrence of ``entry``."""
        self.low = 0
        super().remove(entry)

    def insert(self, where: int, entry: Entry) -> None:
        """Insert ``entry`` before 0-based position ``where``."""
        self._touch(min(where, len(self)))
        super().insert(where, entry)

    def clear(self) -> None:
        """Delete every entry."""
        self.low = 0
        super().clear()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        """Sort in place (never right for a log, but recorded)."""
        self.low = 0
        super().sort(*args, **kwargs)

    def reverse(self) -> None:
        """Reverse in place (never right for a log, but recorded)."""
        self.low = 0
        super().reverse()


@dataclass
class PersistentState:
    """Figure 2 "Persistent state on all servers": survives crashes.

    ``log`` is 1-indexed in the paper; here ``log[0]`` holds index 1.
    """

    current_term: int = 0
    voted_for: int | None = None
    log: list[Entry] = field(default_factory=Log)

    def __post_init__(self) -> None:
        if type(self.log) is not Log:
            self.log = Log(self.log)


@dataclass(frozen=True)
class Timing:
    """Timer settings in virtual milliseconds (§5.2, §9.3 defaults: 150-300 ms, 50 ms)."""

    election_timeout: tuple[int, int] = (150, 300)
    """Election timeouts are drawn uniformly from ``[low, high)``."""
    heartbeat: int = 50
    """How often an idle leader sends empty AppendEntries."""

    def __post_init__(self) -> None:
        pair = self.election_timeout
        low, high = pair if isinstance(pair, (tuple, list)) and len(pair) == 2 else (None, None)
        if not (isinstance(low, int) and isinstance(high, int) and 0 < low < high):
            raise ValueError(
                f"election_timeout must be two whole milliseconds low < high, both > 0; got {self.election_timeout!r}"
            )
        if not (isinstance(self.heartbeat, int) and self.heartbeat > 0):
            raise ValueError(f"heartbeat must be a whole number of milliseconds > 0; got {self.heartbeat!r}")


# --------------------------------------------------------------------------
# The node
# --------------------------------------------------------------------------


class RaftNode:
    """One Raft server, Figure 2 to the letter, one rule per method.

    Subclass and override a single method to change a single rule (that is
    how exercises and deliberately broken variants plug in); pass the class
    to :class:`raftedu.Cluster` as ``node_class``.
    """

    noop_on_election: bool = False
    """§8: append a no-op entry (command ``None``) on becoming leader, as read-serving systems like etcd do."""

    def __init__(
        self,
        node_id: int,
        ids: tuple[int, ...] | list[int],
        *,
        rng: random.Random,
        timing: Timing = Timing(),
        state: PersistentState | None = None,
        now: int = 0,
    ) -> None:
        """Create a server ``node_id`` of the cluster ``ids``, starting as a follower (§5.2).

        ``state`` is the persistent state to start from (a restart passes the
        state that survived the crash); ``rng`` draws election timeouts.
        """
        self.id = node_id
        self.peers: tuple[int, ...] = tuple(i for i in ids if i != node_id)
        self.rng = rng
        self.timing = timing
        self.state = state if state is not None else PersistentState()
        # Volatile state on all servers (Figure 2).
        self.role = FOLLOWER
        self.commit_index = 0
        self.last_applied = 0
        self.leader_id: int | None = None
        self.votes: set[int] = set()
        # Volatile state on leaders, reinitialized after election (Figure 2).
        self.next_index: dict[int, int] = {}
        self.match_index: dict[int, int] = {}
        # The replicated state machine: the commands applied so far, in order.
        self.applied: list[Any] = []
        self.now = now
        self.deadline = now
        self._outbox: list[Message] = []
        self._events: list[Event] = []
        self.reset_election_timer()

    # ---- small helpers --------------------------------------------------

    @property
    def current_term(self) -> int:
        """Latest term this server has seen (persistent)."""
        return self.state.current_term

    @property
    def voted_for(self) -> int | None:
        """Candidate that received this server's vote in the current term (persistent)."""
        return self.state.voted_for

    @property
    def log(self) -> list[Entry]:
        """The log (persistent); ``log[i - 1]`` is the entry at index ``i``."""
        return self.state.log

    @property
    def last_log_index(self) -> int:
        """Index of the last log entry (0 when the log is empty)."""
        return len(self.state.log)

    @property
    def last_log_term(self) -> int:
        """Term of the last log entry (0 when the log is empty)."""
        return self.state.log[-1].term if self.state.log else 0

    @property
    def quorum(self) -> int:
        """How many servers, this one included, make a majority of the cluster."""
        return majority(len(self.peers) + 1)

    def term_at(self, index: int) -> int:
        """Term of the entry at ``index``; 0 for index 0 (the empty prefix)."""
        return self.state.log[index - 1].term if index > 0 else 0

    def take_output(self) -> tuple[list[Message], list[Event]]:
        """Hand back (and forget) the messages to send and the events recorded since the last call."""
        out, events = self._outbox, self._events
        self._outbox, self._events = [], []
        return out, events

    def send(self, msg: Message) -> None:
        """Queue ``msg`` to be sent when the simulator collects this step's output."""
        self._outbox.append(msg)

    def note(self, kind: str, rule: str, text: str | tuple[str, tuple[Any, ...]] = "", **fields: Any) -> None:
        """Record an event about this node (kind, the Figure 2 rule that fired, a sentence for students)."""
        self._events.append(Event(self.now, kind, self.id, self.state.current_term, rule=rule, text=text, **fields))

    # ---- inputs ---------------------------------------------------------

    def receive(self, msg: Message, now: int) -> None:
        """Handle one incoming message at virtual time ``now``."""
        if not isinstance(msg, Message):
            raise TypeError(f"S{self.id} cannot handle {type(msg).__name__}; expected a Raft message")
        self.now = now
        self.observe_term(msg.term)
        match msg:
            case RequestVote():
                self.handle_request_vote(msg)
            case RequestVoteReply():
                self.handle_request_vote_reply(msg)
            case AppendEntries():
                self.handle_append_entries(msg)
            case AppendEntriesReply():
                self.handle_append_entries_reply(msg)
            case _:
                raise TypeError(f"S{self.id} cannot handle {type(msg).__name__}; a RaftNode handles the four Raft RPCs")
        self.apply_committed()

    def on_timer(self, now: int) -> None:
        """The deadline has passed: a follower or candidate times out, a leader sends heartbeats."""
        self.now = now
        match self.role:
            case "leader":
                self.send_heartbeats()
            case _:
                self.note("timeout", "§5.2 election timeout", f"S{self.id}'s election timer ran out")
                self.start_election()
        self.apply_committed()

    def propose(self, command: Any, now: int) -> int | None:
        """Client request (§5.3): a leader appends ``command`` and returns its index; others return None."""
        self.now = now
        if self.role != LEADER:
            return None
        index = self.append_own(command, "§5.3 Leaders: client command → append entry to local log")
        for peer in self.peers:
            self.send_append_entries(peer)
        self.advance_commit_index()  # a one-server cluster commits at once
        self.apply_committed()
        return index

    def append_own(self, command: Any, rule: str) -> int:
        """A leader appends an entry of its current term to its own log; returns the new index."""
        self.state.log.append(Entry(self.current_term, command))
        index = self.last_log_index
        self.note("append", rule, ("leader S{} appended {!r} at index {}", (self.id, command, index)),
                  index=index, entry=self.state.log[-1])
        return index

    # ---- Rules for All Servers (Figure 2) --------------------------------

    def observe_term(self, term: int) -> None:
        """§5.1: if an RPC request or response has term T > currentTerm, set currentTerm = T and become follower."""
        if term > self.current_term:
            self.state.current_term = term
            self.state.voted_for = None
            self.note("term", "§5.1 term T > currentTerm → update term", f"S{self.id} moved to term {term}", value=term)
            self.become_follower(None)

    def apply_committed(self) -> None:
        """§5.3: while commitIndex > lastApplied, increment lastApplied and apply log[lastApplied]."""
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            index = self.last_applied
            entry = self.state.log[index - 1]
            self.apply(index, entry)
            self._events.append(Event(self.now, "apply", self.id, self.state.current_term, None, index, entry, None,
                                      None, None, "§5.3 commitIndex > lastApplied → apply",
                                      ("S{} applied {!r} (index {})", (self.id, entry.command, index))))

    def apply(self, index: int, entry: Entry) -> None:
        """Hand one committed entry to the state machine; here it is simply remembered in ``applied``."""
        self.applied.append(entry.command)

    def reset_election_timer(self) -> None:
        """§5.2: pick a fresh random election timeout from [low, high)."""
        low, high = self.timing.election_timeout
        self.deadline = deadline = self.now + self.rng.randrange(low, high)
        self._events.append(Event(self.now, "timer", self.id, self.state.current_term, None, None, None, deadline,
                                  None, None, "§5.2 randomized election timeout"))

    def become_follower(self, leader_id: int | None) -> None:
        """Convert to follower (§5.1, §5.2), remembering the leader if known."""
        if self.role != FOLLOWER:
            was_leader = self.role == LEADER
            self.role = FOLLOWER
            self.note("role", "§5.2 convert to follower", f"S{self.id} became a follower", value=FOLLOWER)
            if was_leader:  # a leader runs no election timer: start one
                self.reset_election_timer()
        self.leader_id = leader_id

    # ---- Candidates (§5.2) ------------------------------------------------

    def start_election(self) -> None:
        """§5.2: convert to candidate, increment currentTerm, vote for self, reset timer, send RequestVote to all."""
        self.role = CANDIDATE
        self.leader_id = None
        self.state.current_term += 1
        self.state.voted_for = self.id
        self.votes = {self.id}
        self.note("term", "§5.2 start election: increment currentTerm", value=self.current_term)
        self.note(
            "role", "§5.2 election timeout → candidate", f"S{self.id} started an election for term {self.current_term}",
            value=CANDIDATE,
        )
        self.note("vote", "§5.2 candidate votes for itself", peer=self.id, value=True)
        self.reset_election_timer()
        for peer in self.peers:
            self.send(RequestVote(self.current_term, self.id, peer, self.last_log_index, self.last_log_term))
        if len(self.votes) >= self.quorum:
            self.become_leader()

    def handle_request_vote_reply(self, m: RequestVoteReply) -> None:
        """§5.2: count votes for the current term; with votes from a majority, become leader.

        Replies for another term or arriving after the election is decided are stale and ignored.
        """
        if self.role != CANDIDATE or m.term != self.current_term or not m.vote_granted:
            return
        self.votes.add(m.src)
        if len(self.votes) >= self.quorum:
            self.become_leader()

    def become_leader(self) -> None:
        """§5.2, §5.3: become leader, reinitialize nextIndex/matchIndex, send initial empty AppendEntries."""
        self.role = LEADER
        self.leader_id = self.id
        self.note(
            "role", "§5.2 votes from a majority → leader",
            f"S{self.id} won the election for term {self.current_term} with votes from "
            + ", ".join(f"S{v}" for v in sorted(self.votes)),
            value=LEADER,
        )
        self.next_index, self.match_index = {}, {}
        for p in self.peers:
            self.set_progress(p, 0, self.last_log_index + 1, "§5.3 leader (re)initializes nextIndex and matchIndex")
        if self.noop_on_election:
            self.append_own(None, "§8 a new leader commits a no-op entry to learn what is committed")
        self.send_heartbeats()
        self.advance_commit_index()  # a one-server cluster commits the no-op at once

    # ---- RequestVote receiver (§5.2, §5.4.1) -------------------------------

    def log_is_up_to_date(self, last_log_index: int, last_log_term: int) -> bool:
        """§5.4.1: a log is at least as up-to-date as ours if its last term is higher, or equal with index ≥ ours."""
        if last_log_term != self.last_log_term:
            return last_log_term > self.last_log_term
        return last_log_index >= self.last_log_index

    def handle_request_vote(self, m: RequestVote) -> None:
        """RequestVote receiver (§5.1, §5.2, §5.4.1).

        1. Reply false if term < currentTerm.
        2. If votedFor is null or candidateId, and the candidate's log is at
           least as up-to-date as the receiver's log, grant the vote (and,
           as a follower granting a vote, reset the election timer).
        """
        c = m.candidate_id
        if m.term < self.current_term:
            granted, why = False, f"its term {m.term} is older than S{self.id}'s term {self.current_term}"
        elif self.voted_for not in (None, c):
            granted, why = False, f"S{self.id} already voted for S{self.voted_for} in term {self.current_term}"
        elif not self.log_is_up_to_date(m.last_log_index, m.last_log_term):
            granted, why = False, (
                f"S{c}'s log (last term {m.last_log_term}, index {m.last_log_index}) is less up to date than "
                f"S{self.id}'s (last term {self.last_log_term}, index {self.last_log_index})"
            )
        else:
            granted, why = True, f"S{c}'s log is at least as up to date"
            self.state.voted_for = c
            self.reset_election_timer()
        verb = "granted its vote to" if granted else "refused its vote to"
        self.note(
            "vote", "§5.2/§5.4.1 RequestVote receiver",
            f"S{self.id} {verb} S{c} for term {m.term}: {why}", peer=c, value=granted,
        )
        self.send(RequestVoteReply(self.current_term, self.id, c, granted))

    # ---- AppendEntries receiver (§5.3) --------------------------------------

    def handle_append_entries(self, m: AppendEntries) -> None:
        """AppendEntries receiver (§5.1, §5.2, §5.3).

        1. Reply false if term < currentTerm.
           (A candidate that hears from the leader of its term steps down;
           any valid AppendEntries resets the election timer.)
        2. Reply false if the log has no entry at prevLogIndex whose term
           matches prevLogTerm.
        3. If an existing entry conflicts with a new one (same index,
           different terms), delete it and all that follow it.
        4. Append any new entries not already in the log.
        5. If leaderCommit > commitIndex, set commitIndex =
           min(leaderCommit, index of last new entry).
        """
        if m.term < self.current_term:
            self.send(AppendEntriesReply(self.current_term, self.id, m.src, False))
            return
        self.become_follower(m.leader_id)
        self.reset_election_timer()
        prev = m.prev_log_index
        if prev > self.last_log_index or self.term_at(prev) != m.prev_log_term:
            self.send(AppendEntriesReply(self.current_term, self.id, m.src, False, 0, self.conflict_hint(prev)))
            return
        for offset, entry in enumerate(m.entries):
            index = prev + 1 + offset
            if index <= self.last_log_index and self.term_at(index) != entry.term:
                del self.state.log[index - 1 :]
                self.note(
                    "truncate", "§5.3 AppendEntries step 3: conflicting entry → delete it and all that follow",
                    f"S{self.id} deleted its entries from index {index} on (term {entry.term} conflicts)",
                    index=index,
                )
            if index > self.last_log_index:
                self.state.log.append(entry)
                self._events.append(Event(self.now, "append", self.id, self.state.current_term, None, index, entry,
                                          None, None, None, "§5.3 AppendEntries step 4: append new entries",
                                          ("S{} appended {!r} at index {} from S{}", (self.id, entry.command, index,
                                                                                     m.src))))
        last_new = prev + len(m.entries)
        if m.leader_commit > self.commit_index:
            self.set_commit_index(min(m.leader_commit, last_new), "§5.3 AppendEntries step 5: commitIndex = min(leaderCommit, last new)")
        self.send(AppendEntriesReply(self.current_term, self.id, m.src, True, last_new))

    def conflict_hint(self, prev_log_index: int) -> int:
        """§5.3 (end): where the leader should retry: past our last entry, or the first index of the conflicting term."""
        if prev_log_index > self.last_log_index:
            return self.last_log_index + 1
        term = self.term_at(prev_log_index)
        index = prev_log_index
        while index > 1 and self.term_at(index - 1) == term:
            index -= 1
        return index

    def set_commit_index(self, index: int, rule: str) -> None:
        """Raise commitIndex to ``index`` (never lowers it) and record why."""
        if index > self.commit_index:
            self.commit_index = index
            self._events.append(Event(self.now, "commit", self.id, self.state.current_term, None, index, None, None,
                                      None, None, rule,
                                      ("S{} now knows entries up to index {} are committed", (self.id, index))))

    # ---- Leaders (§5.2, §5.3, §5.4.2) -------------------------------------

    def send_heartbeats(self) -> None:
        """§5.2: send AppendEntries to every peer (empty when it is up to date) and schedule the next round."""
        for peer in self.peers:
            self.send_append_entries(peer)
        self.deadline = self.now + self.timing.heartbeat

    def send_append_entries(self, peer: int) -> None:
        """§5.3: send ``peer`` the log entries starting at nextIndex, with the consistency check fields."""
        prev = self.next_index[peer] - 1
        entries = tuple(self.state.log[prev:])
        self.send(AppendEntries(self.current_term, self.id, peer, prev, self.term_at(prev), entries, self.commit_index))

    def handle_append_entries_reply(self, m: AppendEntriesReply) -> None:
        """§5.3: on success update matchIndex/nextIndex and try to commit; on failure back off nextIndex and retry.

        Replies from another term, or arriving when this server is no longer
        leader, are stale and ignored. nextIndex never falls to or below
        matchIndex, so a late or duplicated failure cannot undo progress.
        """
        if self.role != LEADER or m.term != self.current_term:
            return
        p = m.src
        match, nxt = self.match_index[p], self.next_index[p]
        if m.success:
            match = max(match, m.match_index)
            self.set_progress(p, match, max(nxt, match + 1), "§5.3 success → update nextIndex and matchIndex")
            self.advance_commit_index()
        else:
            self.set_progress(p, match, max(match + 1, min(nxt - 1, m.conflict_index)),
                              "§5.3 fails because of log inconsistency → decrement nextIndex and retry")
            self.send_append_entries(p)

    def set_progress(self, peer: int, match: int, next_index: int, rule: str) -> None:
        """Set the leader's matchIndex and nextIndex for ``peer``, recording a change (pictures draw them)."""
        if (self.match_index.get(peer), self.next_index.get(peer)) != (match, next_index):
            self.match_index[peer], self.next_index[peer] = match, next_index
            self._events.append(Event(self.now, "progress", self.id, self.state.current_term, peer, match, None,
                                      next_index, None, None, rule))

    def advance_commit_index(self) -> None:
        """§5.3, §5.4.2: commit the highest N > commitIndex with matchIndex ≥ N on a majority and log[N].term == currentTerm.

        Entries from earlier terms are never committed by counting replicas
        (Figure 8); they are committed indirectly with the first entry of the
        current term.
        """
        for n in range(self.last_log_index, self.commit_index, -1):
            if self.term_at(n) != self.current_term:
                break  # terms only fall going left: no entry of this term below (§5.4.2)
            replicas = 1 + sum(1 for p in self.peers if self.match_index[p] >= n)
            if replicas >= self.quorum:
                self.set_commit_index(n, "§5.3/§5.4.2 leader: majority matchIndex ≥ N and log[N].term == currentTerm")
                return
