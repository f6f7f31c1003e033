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
(currentTerm, votedFor, log[]) is kept in memory and written to the server's
disk by :meth:`Server.persist`; a crash keeps only the disk, and everything
else on the node is volatile and lost with it. The reference node persists
whatever a step changed before any of the step's messages leave
(:meth:`RaftNode.sync`): "updated on stable storage before responding to
RPCs" (Figure 2). :class:`Server` is the plumbing without Figure 2's rules.

Only the standard library is used here.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterable
from dataclasses import MISSING, dataclass, field, fields
from itertools import repeat
from typing import Any, SupportsIndex, TypeVar

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
    "PreVote",
    "PreVoteReply",
    "TimeoutNow",
    "ConfigChange",
    "Snapshot",
    "InstallSnapshot",
    "InstallSnapshotReply",
    "Event",
    "EVENT_FIELDS",
    "FieldText",
    "new_event",
    "Log",
    "PersistentState",
    "Timing",
    "Server",
    "RaftNode",
    "LOST_IN_CRASH",
    "majority",
]

LOST_IN_CRASH = "Figure 2: only what was persisted survives a crash"
"""The ``rule`` of the events a restart records for state the server had not persisted before it crashed."""

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
    transfer: bool = False
    """True when the candidate campaigns because the leader handed over (§3.10, etcd's campaignTransfer)."""

    @property
    def candidate_id(self) -> int:
        """The candidate requesting the vote (the paper's ``candidateId``)."""
        return self.src

    def __repr__(self) -> str:  # ``transfer`` is shown only when set, so Figure 2 traces read as before
        extra = ", transfer=True" if self.transfer else ""
        return (f"RequestVote(term={self.term!r}, src={self.src!r}, dst={self.dst!r}, "
                f"last_log_index={self.last_log_index!r}, last_log_term={self.last_log_term!r}{extra})")


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


# ---- etcd's extensions (Ongaro's dissertation, 2014); off by default ----------


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """A configuration stored as a log entry's command (dissertation §4.1): who votes, who only listens.

    Each change adds or removes one server, or promotes a learner (§4.2.1)
    to voter; a server uses the latest configuration in its log, committed
    or not (§4.1).
    """

    voters: tuple[int, ...]
    learners: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class PreVote(Message):
    """Pre-vote request (dissertation §9.6): "could I win an election?" ``term`` is the term the sender
    would campaign in (its currentTerm + 1); neither side changes its term or vote."""

    last_log_index: int
    last_log_term: int


@dataclass(frozen=True, slots=True)
class PreVoteReply(Message):
    """Pre-vote answer (§9.6): ``term`` is the asked term when granted, the voter's own term when refused."""

    vote_granted: bool


@dataclass(frozen=True, slots=True)
class TimeoutNow(Message):
    """Leadership transfer (dissertation §3.10): the leader tells an up-to-date server to start an election now."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A snapshot of the state machine (dissertation §5.1, Figure 5.2): it replaces log entries 1..``index``.

    ``index`` and ``term`` are the last included index and term (the entry the
    snapshot ends with, for the AppendEntries consistency check that follows
    it); ``config`` is the latest configuration at or before ``index``, held at
    ``config_index`` (dissertation §5.1: "the latest configuration as of the last included
    index"). raftedu's state machine remembers every command it applied, so
    ``state`` is that sequence; a key-value store would keep its map instead.
    """

    index: int
    term: int
    state: tuple[Any, ...]
    config: ConfigChange
    config_index: int = 0

    def __repr__(self) -> str:  # the state can be long: a trace line shows its size
        return (f"Snapshot(index={self.index!r}, term={self.term!r}, commands={len(self.state)}, "
                f"config={self.config!r}, config_index={self.config_index!r})")


@dataclass(frozen=True, slots=True)
class InstallSnapshot(Message):
    """InstallSnapshot RPC (dissertation §5.1, Figure 5.3): the leader sends a follower that lags behind its
    snapshot the snapshot itself. ``leaderId`` is ``src``. raftedu sends the whole snapshot in one message
    (Figure 5.3 splits it into chunks with ``offset`` and ``done``)."""

    snapshot: Snapshot

    @property
    def last_included_index(self) -> int:
        """The snapshot replaces all entries up through and including this index (Figure 5.3)."""
        return self.snapshot.index

    @property
    def last_included_term(self) -> int:
        """Term of ``last_included_index`` (Figure 5.3)."""
        return self.snapshot.term


@dataclass(frozen=True, slots=True)
class InstallSnapshotReply(Message):
    """InstallSnapshot results (Figure 5.3: ``term``); ``match_index`` says how far the follower's log now
    matches the leader's (the snapshot's last index, or its commitIndex when the snapshot was stale), as
    etcd's reply does."""

    match_index: int


def _set_slots_directly(cls: type[Any]) -> None:
    """Give a frozen, slotted dataclass an ``__init__`` that fills its slots through their descriptors.

    The ``__init__`` that dataclasses writes for a frozen class calls
    ``object.__setattr__`` once per field; this one does the same work in
    about half the time (every step makes messages and entries). Fields,
    defaults, ``repr``, equality, hashing and immutability stay the dataclass's.
    """
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__, which this __init__ would skip")
    params, body, env = [], [], {}
    for f in fields(cls):
        owner = next(k for k in cls.__mro__ if f.name in k.__dict__)
        env[f"_set_{f.name}"] = owner.__dict__[f.name].__set__
        if f.default is MISSING:
            params.append(f.name)
        else:
            env[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        body.append(f"    _set_{f.name}(self, {f.name})")
    exec(f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body), env)
    init = env["__init__"]
    init.__qualname__, init.__doc__ = f"{cls.__qualname__}.__init__", cls.__init__.__doc__
    cls.__init__ = init


for _cls in (Entry, RequestVote, RequestVoteReply, AppendEntries, AppendEntriesReply, PreVote, PreVoteReply,
             TimeoutNow, InstallSnapshot, InstallSnapshotReply):
    _set_slots_directly(_cls)


# --------------------------------------------------------------------------
# Events: what happened, when, where and why -- the raw material of the trace
# --------------------------------------------------------------------------


class FieldText(str):
    """An event's sentence written with the event's own fields, e.g. ``FieldText("S{e.node} applied index
    {e.index}")``: formatted when the sentence is first read, and, unlike ``(template, args)``, nothing is built
    per event (one shared template; a long trace keeps fewer objects for the garbage collector to visit)."""

    __slots__ = ()


EVENT_FIELDS = ("time", "kind", "node", "term", "peer", "index", "entry", "value", "msg", "msg_id", "rule", "text")
"""The fields of an :class:`Event`, in order (the columns of ``Trace.to_frame``)."""


try:  # the C accessor namedtuple uses for its fields; a plain itemgetter property where it is missing
    from _collections import _tuplegetter  # type: ignore[import-not-found]  # CPython's private module: no stub
except ImportError:  # pragma: no cover
    from operator import itemgetter

    def _tuplegetter(index: int, doc: str) -> Any:
        return property(itemgetter(index), doc=doc)


class Event(tuple):  # type: ignore[type-arg]
    """One thing that happened in the cluster.

    Nodes emit events about themselves (``timeout``, ``timer``, ``term``,
    ``role``, ``vote``, ``append``, ``truncate``, ``commit``, ``apply``,
    ``progress``); the simulator adds network, fault and client events
    (``send``, ``deliver``, ``drop``, ``crash``, ``restart``, ``partition``,
    ``heal``, ``cut``, ``client_request``, ``client_reply``, ...).

    Fields not used by a kind stay ``None``. ``rule`` names the Figure 2 rule
    that fired, ``text`` says it in a sentence for students. Events are
    records (read-only). The sentence may be given as ``(template, args)``,
    or as a :class:`FieldText` that names the event's own fields; it is then
    formatted only when ``text`` is read (most sentences of a long run are
    never read).

    An event is stored as the tuple of its :data:`EVENT_FIELDS` values (the
    sentence as given), so a :class:`~raftedu.trace.Trace` keeps a run as
    plain cells and rebuilds events when they are read. Two events are equal
    when their fields and sentences are.
    """

    __slots__ = ()

    def __new__(cls, time: int, kind: str, node: int | None = None, term: int | None = None,
                peer: int | None = None, index: int | None = None, entry: Entry | None = None, value: Any = None,
                msg: Message | None = None, msg_id: int | None = None, rule: str = "",
                text: str | tuple[str, tuple[Any, ...]] = "") -> "Event":
        """Record ``kind`` at virtual ``time``; the other fields as the kind needs them."""
        return tuple.__new__(cls, (time, kind, node, term, peer, index, entry, value, msg, msg_id, rule, text))

    time: int = _tuplegetter(0, "Virtual time in milliseconds.")
    kind: str = _tuplegetter(1, "What happened (``append``, ``send``, ``crash``, ...).")
    node: int | None = _tuplegetter(2, "The server it happened on (for network events: the receiver).")
    term: int | None = _tuplegetter(3, "That server's currentTerm (a message's term for network events).")
    peer: int | None = _tuplegetter(4, "The other server involved (a vote's candidate, a message's sender, ...).")
    index: int | None = _tuplegetter(5, "The log index concerned.")  # type: ignore[assignment]  # shadows tuple.index
    entry: Entry | None = _tuplegetter(6, "The log entry concerned.")
    value: Any = _tuplegetter(7, "The kind's value (the new role, term, deadline, due time, ...).")
    msg: Message | None = _tuplegetter(8, "The message, for network events.")
    msg_id: int | None = _tuplegetter(9, "The message's id on the wire, for network events.")
    rule: str = _tuplegetter(10, "The Figure 2 rule that fired.")

    @property
    def text(self) -> str:
        """The sentence for students (formatted when read if it was given as a template)."""
        text = self[11]
        if type(text) is str:
            return text
        return text.format(e=self) if type(text) is FieldText else text[0].format(*text[1])

    def astuple(self) -> tuple[Any, ...]:
        """The field values in the order of :data:`EVENT_FIELDS` (the sentence formatted)."""
        return (*self[:11], self.text)

    def __eq__(self, other: object) -> bool:
        return type(other) is Event and self.astuple() == other.astuple()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.astuple())

    def __repr__(self) -> str:
        return "Event(" + ", ".join(f"{n}={v!r}" for n, v in zip(EVENT_FIELDS, self.astuple())) + ")"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Event, self.astuple())


new_event: Callable[[tuple[Any, ...]], Event] = functools.partial(tuple.__new__, Event)
new_event.__doc__ = """``new_event((time, kind, node, term, peer, index, entry, value, msg, msg_id, rule, text))``: the Event with
all twelve fields given in order -- what ``Event(...)`` makes, without its keyword handling (several times faster:
the simulator's and the reference node's most frequent events are made this way)."""

# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------


_L = TypeVar("_L", bound="Log")


class Log(list[Entry]):
    """A Raft log: a list of :class:`Entry` that remembers where it was last changed other than by appending.

    ``low`` is the lowest 0-based position written, deleted or moved since
    it was last reset (a huge number when only appends happened). The
    simulator uses it to notice, cheaply, a change a node made without
    reporting it; to the node it is an ordinary list.
    """

    __slots__ = ("low", "unsaved")
    UNTOUCHED = 1 << 62
    """The value of ``low`` when nothing but appends happened."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        """A log holding ``entries`` (index 1 first)."""
        super().__init__(entries)
        self.low = Log.UNTOUCHED
        self.unsaved = Log.UNTOUCHED
        """Like ``low``, but since the node last persisted this log (:meth:`Server.persist` resets it)."""

    def _touch(self, where: Any) -> None:
        if isinstance(where, slice):
            where = where.indices(len(self))[0]
        elif where < 0:
            where += len(self)
        if where < self.low:
            self.low = max(0, where)
        if where < self.unsaved:
            self.unsaved = max(0, where)

    def __setitem__(self, where: Any, value: Any) -> None:
        self._touch(where)
        super().__setitem__(where, value)

    def __delitem__(self, where: Any) -> None:
        self._touch(where)
        super().__delitem__(where)

    def __iadd__(self: _L, other: Iterable[Entry]) -> _L:  # type: ignore[override, misc]  # as list's own (typeshed)
        self.extend(other)
        return self

    def __imul__(self: _L, times: SupportsIndex) -> _L:
        self.low = self.unsaved = 0
        return super().__imul__(times)

    def pop(self, where: SupportsIndex = -1) -> Entry:
        """Remove and return the entry at 0-based position ``where`` (the last by default)."""
        self._touch(where)
        return super().pop(where)

    def remove(self, entry: Entry) -> None:
        """Remove the first occurrence of ``entry``."""
        self.low = self.unsaved = 0
        super().remove(entry)

    def insert(self, where: SupportsIndex, entry: Entry) -> None:
        """Insert ``entry`` before 0-based position ``where``."""
        self._touch(min(where.__index__(), len(self)))
        super().insert(where, entry)

    def clear(self) -> None:
        """Delete every entry."""
        self.low = self.unsaved = 0
        super().clear()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        """Sort in place (never right for a log, but recorded)."""
        self.low = self.unsaved = 0
        super().sort(*args, **kwargs)

    def reverse(self) -> None:
        """Reverse in place (never right for a log, but recorded)."""
        self.low = self.unsaved = 0
        super().reverse()


_UNTOUCHED = Log.UNTOUCHED


@dataclass
class PersistentState:
    """Figure 2 "Persistent state on all servers": what a server keeps on stable storage.

    A server holds two of these: its disk (:attr:`Server.disk`, which
    survives a crash) and the copy it works on in memory (:attr:`Server.state`),
    written to the disk by :meth:`Server.persist`. ``log`` is 1-indexed in the
    paper; here ``log[0]`` holds index 1 -- or, once entries were compacted
    (dissertation §5.1), index ``offset + 1``. Without a tail of entries kept
    behind the snapshot (``RaftNode.snapshot_tail``, as etcd keeps for slow
    followers) ``offset`` is ``snapshot.index``; with one it is lower.
    """

    current_term: int = 0
    voted_for: int | None = None
    log: list[Entry] = field(default_factory=Log)
    snapshot: Snapshot | None = None
    """The latest snapshot (dissertation §5.1); None until the first one is taken or installed."""
    offset: int = 0
    """Index of the last entry compacted out of ``log`` (0: none); ``log[0]`` holds index ``offset + 1``."""
    offset_term: int = 0
    """Term of the entry at ``offset`` (for the consistency check of the entry after it, §5.3; etcd's dummy entry)."""

    def __post_init__(self) -> None:
        if type(self.log) is not Log:
            self.log = Log(self.log)

    def copy(self) -> "PersistentState":
        """An independent copy (entries are immutable and shared): what a server reads from its disk at boot."""
        return PersistentState(self.current_term, self.voted_for, Log(self.log), self.snapshot, self.offset,
                               self.offset_term)


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
# The plumbing every server has, and the node
# --------------------------------------------------------------------------


class Server:
    """What every server has before any of Figure 2's rules: identity, a disk, an outbox, a timer, a journal.

    * ``state`` -- currentTerm, votedFor and the log in memory; ``disk`` --
      the same on stable storage. Only :meth:`persist` writes the disk, and
      a crash keeps only the disk: a server restarts from what it persisted.
    * :meth:`send` queues a message, :meth:`take_output` hands the step's
      messages and events to the simulator, which sends them after the step.
    * ``deadline`` -- when :meth:`on_timer` is due (set it with
      :meth:`set_timer`); ``rng`` -- the server's own random numbers.
    * :meth:`note` records what happened, and why, in the trace.

    :class:`RaftNode` adds Figure 2's rules. A server written from scratch
    (exercise 06) subclasses this class and writes :meth:`receive`,
    :meth:`on_timer` and :meth:`propose` itself.
    """

    runs_extensions: bool = False
    """True for a server that implements etcd's extensions as :class:`RaftNode` does: ``enable``, the operations
    the simulator asks a leader for (``configuration_change_refused``, ``promotion_refused``,
    ``propose_configuration``, ``transfer_leadership``, ``take_snapshot``) and the state they read (``config``,
    ``voters``, ``learners``, ``transferee``, ``match_index``). A server of its own (Figure 2 only) has none."""

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
        """Create server ``node_id`` of the cluster ``ids`` at virtual time ``now``.

        ``state`` is the server's disk (a restart passes the disk that
        survived the crash; default: an empty one); the server works on a
        copy of it in memory. ``rng`` is the server's random number generator.
        """
        self.id = node_id
        self.cluster_ids: tuple[int, ...] = tuple(ids)
        """The servers of the cluster as it started (without this one when it joined later, dissertation §4.1)."""
        self.peers: tuple[int, ...] = tuple(i for i in ids if i != node_id)
        self.rng = rng
        self.timing = timing
        self.disk = state if state is not None else PersistentState()
        """Stable storage: survives a crash; written only by :meth:`persist`."""
        self.state = self.disk.copy()
        """currentTerm, votedFor and the log in memory (lost in a crash unless persisted)."""
        self._saved_log: list[Entry] | None = self.state.log
        # Volatile state on all servers (Figure 2).
        self.role = FOLLOWER
        self.commit_index = 0
        self.last_applied = 0
        self.leader_id: int | None = None
        # The replicated state machine: the commands applied so far, in order.
        self.applied: list[Any] = []
        self.now = now
        self.deadline: int | None = None
        self._outbox: list[Message] = []
        self._events: list[Event] = []

    # ---- persistent state ------------------------------------------------

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
        """The log (persistent); ``log[i - 1]`` is the entry at index ``i`` (``log[i - 1 - log_offset]`` once
        entries were compacted: use :meth:`entry_at`)."""
        return self.state.log

    @property
    def snapshot_index(self) -> int:
        """Last index the snapshot replaces (dissertation §5.1); 0 without a snapshot."""
        snapshot = self.state.snapshot
        return 0 if snapshot is None else snapshot.index

    @property
    def log_offset(self) -> int:
        """Index of the last entry compacted out of the log (0: none); the log's first entry is at ``log_offset + 1``.
        It is :attr:`snapshot_index` unless a tail of entries is kept behind the snapshot (``snapshot_tail``)."""
        return self.state.offset

    @property
    def last_log_index(self) -> int:
        """Index of the last log entry (0 when the log is empty; the snapshot's last index when it holds all)."""
        state = self.state
        return len(state.log) + state.offset

    @property
    def last_log_term(self) -> int:
        """Term of the last log entry (0 when the log is empty; the snapshot's last term when it holds all)."""
        state = self.state
        return state.log[-1].term if state.log else state.offset_term

    def term_at(self, index: int) -> int:
        """Term of the entry at ``index``; 0 for index 0 (the empty prefix); at the log's offset, the term of the
        last entry compacted (the snapshot's last term when no tail is kept)."""
        state = self.state
        off = state.offset
        if index == off:
            return state.offset_term
        if off == 0:
            return state.log[index - 1].term
        return self.entry_at(index).term

    def entry_at(self, index: int) -> Entry:
        """The entry at ``index`` (1 ≤ index ≤ last index, after the log's offset: compacted entries are gone, dissertation §5.1)."""
        state = self.state
        position = index - 1 - state.offset
        if position >= 0:  # (a negative position would read from the end of the list)
            try:
                return state.log[position]
            except IndexError:
                pass
        off, log = state.offset, state.log
        raise IndexError(f"S{self.id} has no entry at index {index}: its log holds indexes {off + 1}.."
                         f"{off + len(log)}" + (f" (1..{off} were compacted into its snapshot)" if off else ""))

    def unsaved(self) -> bool:
        """Whether currentTerm, votedFor or the log in memory differ from the disk (a cheap test)."""
        state, disk = self.state, self.disk
        log = state.log
        if log is self._saved_log and type(log) is Log:  # changed other than by appending, appended, or the same
            saved = disk.log
            if log.unsaved != _UNTOUCHED or len(log) != len(saved) or (log and log[-1] is not saved[-1]):
                return True
        elif log != disk.log:  # the log in memory was replaced by another list: compare it all
            return True
        return (state.current_term != disk.current_term or state.voted_for != disk.voted_for
                or state.snapshot is not disk.snapshot or state.offset != disk.offset)  # dissertation §5.1: persistent too

    def persist(self) -> None:
        """Write currentTerm, votedFor and the log to stable storage (Figure 2, "Persistent state on all servers"),
        and the snapshot with them (dissertation §5.1: snapshot and log are saved together).

        Only what was written here survives a crash. The log is written from
        the first position that changed since the last call.
        """
        state, disk = self.state, self.disk
        log, saved = state.log, disk.log
        disk.current_term, disk.voted_for, disk.snapshot = state.current_term, state.voted_for, state.snapshot
        disk.offset, disk.offset_term = state.offset, state.offset_term
        if log is self._saved_log and type(log) is Log:
            if log.unsaved == _UNTOUCHED:  # only appended to since the last call: write the new entries
                saved.extend(log[len(saved):])
                return
            start = min(log.unsaved, len(saved), len(log))
            log.unsaved = _UNTOUCHED
        else:  # the log in memory was replaced by another list: compare it all
            start = 0
            if type(log) is Log:
                log.unsaved = _UNTOUCHED
            self._saved_log = log
        while start < len(saved) and start < len(log) and saved[start] is log[start]:
            start += 1
        if start < len(saved):
            del saved[start:]
        saved.extend(log[start:])

    # ---- plumbing --------------------------------------------------------

    def apply(self, index: int, entry: Entry) -> None:
        """Hand one committed entry to the state machine; here it is simply remembered in ``applied``."""
        self.applied.append(entry.command)

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

    def set_timer(self, deadline: int | None, rule: str = "") -> None:
        """Ask for :meth:`on_timer` at virtual time ``deadline`` (None: no timer); the trace shows it."""
        self.deadline = deadline
        self._events.append(new_event((self.now, "timer", self.id, self.state.current_term, None, None, None,
                                       deadline, None, None, rule, "")))

    # ---- inputs (a server class writes these) -----------------------------

    def receive(self, msg: Message, now: int) -> None:
        """A message arrived at virtual time ``now`` (a server class writes this)."""
        raise NotImplementedError(f"{type(self).__name__}.receive is not written yet")

    def on_timer(self, now: int) -> None:
        """The time in ``deadline`` has come (a server class writes this)."""
        raise NotImplementedError(f"{type(self).__name__}.on_timer is not written yet")

    def propose(self, command: Any, now: int) -> int | None:
        """A client asks this server to append ``command``: its log index if this server leads, else None."""
        raise NotImplementedError(f"{type(self).__name__}.propose is not written yet")


_LEADER_APPENDED = FieldText("leader S{e.node} appended {e.entry.command!r} at index {e.index}")
_FOLLOWER_APPENDED = FieldText("S{e.node} appended {e.entry.command!r} at index {e.index} from S{e.peer}")
_APPLIED = FieldText("S{e.node} applied {e.entry.command!r} (index {e.index})")
_APPLY_RULE = "§5.3 commitIndex > lastApplied → apply"
_APPEND_RULE = "§5.3 AppendEntries step 4: append new entries"
_COMMITTED = FieldText("S{e.node} now knows entries up to index {e.index} are committed")


class RaftNode(Server):
    """One Raft server, Figure 2 to the letter, one rule per method.

    Subclass and override a single method to change a single rule (that is
    how exercises and deliberately broken variants plug in); pass the class
    to :class:`raftedu.Cluster` as ``node_class``. Persistence happens in
    one place, :meth:`sync`, before any message leaves (Figure 2), so a
    rule overridden without a call to :meth:`persist` is persisted all the same.
    """

    noop_on_election: bool = False
    """§8: append a no-op entry (command ``None``) on becoming leader, as read-serving systems like etcd do."""
    pre_vote: bool = False
    """Dissertation §9.6: ask for pre-votes before raising the term (etcd's ``--pre-vote``). A server that heard from
    a live leader within the minimum election timeout refuses a pre-vote (§9.6); etcd-io/raft refuses it only under
    CheckQuorum (``inLease`` in ``Step``), so etcd's PreVote alone grants any asker whose log is up to date."""
    check_quorum: bool = False
    """etcd's CheckQuorum: a leader that heard from no majority within a minimum election timeout steps down
    (dissertation §6.2); a server that heard from a live leader within it ignores RequestVote (§4.2.3). It does not
    stop a server whose term ran ahead from deposing the leader: its reply to a heartbeat carries that term
    (Figure 2, rules for all servers); only :attr:`pre_vote` (§9.6) keeps the term from running ahead."""
    snapshot_every: int = 0
    """Dissertation §5.1: snapshot the state machine and compact the log every this many applied entries (0: never)."""
    snapshot_tail: int = 0
    """How many entries up to a snapshot's last index stay in the log after compaction (0: none, as in the
    dissertation's §5.1), so a follower only slightly behind still gets AppendEntries rather than the whole snapshot
    (etcd compacts its raft log to the snapshot index minus ``SnapshotCatchUpEntries``, 5,000)."""
    extended: bool = False
    """True once any of etcd's extensions is on (:meth:`enable`); Figure 2 nodes skip the extension hooks."""
    runs_extensions = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Create a server with :class:`Server`'s arguments (id, cluster ids, rng, timing, disk, now), starting as a
        follower with a fresh election timer (§5.2)."""
        super().__init__(*args, **kwargs)
        self.votes: set[int] = set()
        # Volatile state on leaders, reinitialized after election (Figure 2).
        self.next_index: dict[int, int] = {}
        self.match_index: dict[int, int] = {}
        self.in_flight: dict[int, int] = {}
        """Flow control (§5.3): for a follower with an unanswered AppendEntries carrying entries, the last index it carried."""
        self.sent_at: dict[int, int] = {}
        """When this leader last sent each follower an AppendEntries (heartbeats go out only in idle periods, §5.2)."""
        self.init_extensions(self.cluster_ids)
        if self.state.snapshot is not None:
            self.restore_snapshot(self.state.snapshot)
        self.reset_election_timer()

    @property
    def quorum(self) -> int:
        """How many servers, this one included, make a majority of the cluster."""
        return majority(len(self.voters))

    def take_output(self) -> tuple[list[Message], list[Event]]:
        """Persist (:meth:`sync`), then hand back (and forget) the messages to send and the events recorded."""
        self.sync()
        return super().take_output()

    def sync(self) -> None:
        """Figure 2: persistent state is "updated on stable storage before responding to RPCs".

        A step's messages leave only through :meth:`take_output`, which calls
        this first: whatever the step changed in currentTerm, votedFor or the
        log is on the disk before any message that depends on it is sent --
        the order etcd's Ready contract prescribes (save the HardState and
        entries, then send). A crash between steps therefore never loses what
        another server was told.
        """
        if self.unsaved():
            self.persist()

    # ---- inputs ---------------------------------------------------------

    def receive(self, msg: Message, now: int) -> None:
        """Handle one incoming message at virtual time ``now``."""
        if not isinstance(msg, Message):
            raise TypeError(f"S{self.id} cannot handle {type(msg).__name__}; expected a Raft message")
        self.now = now
        if self.extended and self.intercept(msg):
            self.after_step()
            return
        self.observe_term(msg.term)
        match msg:  # the most frequent first
            case AppendEntries():
                self.handle_append_entries(msg)
            case AppendEntriesReply():
                self.handle_append_entries_reply(msg)
            case RequestVote():
                self.handle_request_vote(msg)
            case RequestVoteReply():
                self.handle_request_vote_reply(msg)
            case _:
                raise TypeError(f"S{self.id} cannot handle {type(msg).__name__}; a RaftNode handles the four Raft RPCs")
        self.apply_committed()
        if self.extended:
            self.after_step()

    def on_timer(self, now: int) -> None:
        """The deadline has passed: a follower or candidate times out, a leader sends heartbeats."""
        self.now = now
        match self.role:
            case "leader":
                if self.extended:
                    self.leader_tick()
                if self.role == LEADER:
                    self.send_heartbeats()
            case _:
                self.note("timeout", "§5.2 election timeout", f"S{self.id}'s election timer ran out")
                if self.extended:
                    self.campaign()
                else:
                    self.start_election()
        self.apply_committed()
        if self.extended:
            self.after_step()

    def propose(self, command: Any, now: int) -> int | None:
        """Client request (§5.3): a leader appends ``command`` and returns its index; others return None."""
        self.now = now
        if self.role != LEADER or self.refuses_proposals():
            return None
        index = self.append_own(command, "§5.3 Leaders: client command → append entry to local log")
        for peer in self.peers:
            if peer not in self.in_flight:  # flow control: the others get it with the answer to what is in flight
                self.send_append_entries(peer)
        self.advance_commit_index()  # a one-server cluster commits at once
        self.apply_committed()
        if self.extended:
            self.after_step()
        return index

    def refuses_proposals(self) -> bool:
        """§3.10: whether this leader refuses client commands now: while it hands leadership over, until the transfer
        ends (a log that keeps growing could keep the target from catching up)."""
        return self.transferee is not None

    def append_own(self, command: Any, rule: str) -> int:
        """A leader appends an entry of its current term to its own log; returns the new index."""
        self.state.log.append(Entry(self.current_term, command))
        index = self.last_log_index
        self.note("append", rule, _LEADER_APPENDED, index=index, entry=self.state.log[-1])
        return index

    # ---- Rules for All Servers (Figure 2) --------------------------------

    def observe_term(self, term: int) -> None:
        """§5.1: if an RPC request or response has term T > currentTerm, set currentTerm = T and become follower."""
        if term > self.state.current_term:
            self.state.current_term = term
            self.state.voted_for = None
            self.note("term", "§5.1 term T > currentTerm → update term", f"S{self.id} moved to term {term}", value=term)
            self.become_follower(None)

    def apply_committed(self) -> None:
        """§5.3: while commitIndex > lastApplied, increment lastApplied and apply log[lastApplied]."""
        while self.last_applied < self.commit_index:
            self.last_applied = index = self.last_applied + 1
            entry = self.entry_at(index)
            self.apply(index, entry)
            self._events.append(new_event((self.now, "apply", self.id, self.state.current_term, None, index, entry,
                                           None, None, None, _APPLY_RULE, _APPLIED)))

    def reset_election_timer(self) -> None:
        """§5.2: pick a fresh random election timeout from [low, high)."""
        low, high = self.timing.election_timeout
        self.set_timer(self.now + self.rng.randrange(low, high), "§5.2 randomized election timeout")

    def become_follower(self, leader_id: int | None) -> None:
        """Convert to follower (§5.1, §5.2), remembering the leader if known."""
        if self.role != FOLLOWER:
            was_leader = self.role == LEADER
            self.role = FOLLOWER
            self.note("role", "§5.1, §5.2 convert to follower", f"S{self.id} became a follower", value=FOLLOWER)
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
            self.send(RequestVote(self.current_term, self.id, peer, self.last_log_index, self.last_log_term,
                                  self.forced_campaign))
        if self.has_quorum(self.votes):
            self.become_leader()

    def handle_request_vote_reply(self, m: RequestVoteReply) -> None:
        """§5.2: count votes for the current term; with votes from a majority, become leader.

        Replies for another term or arriving after the election is decided are stale and ignored.
        """
        if self.role != CANDIDATE or m.term != self.current_term or not m.vote_granted:
            return
        self.votes.add(m.src)
        if self.has_quorum(self.votes):
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
        self.next_index, self.match_index, self.in_flight, self.sent_at = {}, {}, {}, {}
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
        state = self.state
        if m.term < state.current_term:
            self.send(AppendEntriesReply(state.current_term, self.id, m.src, False))
            return
        self.become_follower(m.leader_id)
        self.reset_election_timer()
        prev = m.prev_log_index
        if prev < state.offset:  # never without snapshots
            self.append_below_snapshot(m)
            return
        last = self.last_log_index
        if prev > last or self.term_at(prev) != m.prev_log_term:
            hint = self.conflict_hint(prev)
            self.send(AppendEntriesReply(state.current_term, self.id, m.src, False, 0, hint))
            return
        index = prev
        for entry in m.entries:
            index += 1
            if index <= last and self.term_at(index) != entry.term:
                del state.log[index - 1 - state.offset :]
                last = index - 1
                self.note(
                    "truncate",
                    "§5.3 AppendEntries step 3: conflicting entry → "
                    "delete it and all that follow",
                    f"S{self.id} deleted its entries from index {index} on "
                    f"(term {entry.term} conflicts)",
                    index=index,
                )
            if index > last:
                state.log.append(entry)
                last = index
                self._events.append(new_event((self.now, "append", self.id, state.current_term,
                                               m.src, index, entry, None, None, None,
                                               _APPEND_RULE, _FOLLOWER_APPENDED)))
        last_new = prev + len(m.entries)
        if m.leader_commit > self.commit_index:
            rule = "§5.3 AppendEntries step 5: commitIndex = min(leaderCommit, last new)"
            self.set_commit_index(min(m.leader_commit, last_new), rule)
        self.send(AppendEntriesReply(state.current_term, self.id, m.src, True, last_new))

    def conflict_hint(self, prev_log_index: int) -> int:
        """§5.3 (end): where the leader should retry: past our last entry, or the first index of the conflicting term."""
        if prev_log_index > self.last_log_index:
            return self.last_log_index + 1
        term = self.term_at(prev_log_index)
        index = prev_log_index
        low = self.snapshot_index + 1  # entries below the snapshot are committed: never retry below it
        while index > low and self.term_at(index - 1) == term:
            index -= 1
        return index

    def set_commit_index(self, index: int, rule: str) -> None:
        """Raise commitIndex to ``index`` (never lowers it) and record why."""
        if index > self.commit_index:
            self.commit_index = index
            self._events.append(new_event((self.now, "commit", self.id, self.state.current_term, None, index, None,
                                           None, None, None, rule, _COMMITTED)))

    # ---- Leaders (§5.2, §5.3, §5.4.2) -------------------------------------

    def send_heartbeats(self) -> None:
        """§5.2: "repeat during idle periods": send AppendEntries to every peer this leader sent nothing for a heartbeat
        interval, then wake up when the next one falls due.

        The AppendEntries is empty when the peer is up to date; otherwise it carries the entries from nextIndex, so
        it also resends entries whose AppendEntries or answer was lost (flow control, :meth:`propose`).
        """
        now, interval, sent = self.now, self.timing.heartbeat, self.sent_at
        for peer in self.peers:
            if now - sent.get(peer, now - interval) >= interval:
                self.send_append_entries(peer)
        self.deadline = min([sent[p] for p in self.peers], default=now) + interval

    def send_append_entries(self, peer: int) -> None:
        """§5.3: send ``peer`` the log entries starting at nextIndex, with the consistency check fields.

        Flow control: the last index sent is remembered in ``in_flight`` until ``peer`` answers it.
        """
        prev = self.next_index[peer] - 1
        self.sent_at[peer] = self.now
        off = self.state.offset
        if prev < off:  # never without snapshots: the entry after prev was compacted (dissertation §5.1)
            self.send_snapshot(peer)
            return
        entries = tuple(self.state.log[prev - off:])
        if entries:
            self.in_flight[peer] = prev + len(entries)
        self.send(AppendEntries(self.current_term, self.id, peer, prev, self.term_at(prev), entries, self.commit_index))

    def handle_append_entries_reply(self, m: AppendEntriesReply) -> None:
        """§5.3: on success update matchIndex/nextIndex and try to commit; on failure back off nextIndex and retry.

        Replies from another term, or arriving when this server is no longer
        leader, are stale and ignored, and so are replies from a server this
        leader keeps no progress for (one removed from its configuration,
        §4.1; etcd-io/raft's ``stepLeader``: "no progress available").
        nextIndex never falls to or below matchIndex, so a late or duplicated
        failure cannot undo progress.
        """
        p = m.src
        if self.role != LEADER or m.term != self.state.current_term or p not in self.match_index:
            return
        match, nxt = self.match_index[p], self.next_index[p]
        if m.success:
            grew = m.match_index > match
            match = max(match, m.match_index)
            self.set_progress(p, match, max(nxt, match + 1), "§5.3 success → update nextIndex and matchIndex")
            if grew:  # commitIndex can move only when a matchIndex does
                self.advance_commit_index()
            if m.match_index >= self.in_flight.get(p, 0):  # flow control: what was in flight is answered
                self.in_flight.pop(p, None)
                if self.next_index[p] <= self.last_log_index:
                    self.send_append_entries(p)
        else:
            self.set_progress(p, match, max(match + 1, min(nxt - 1, m.conflict_index)),
                              "§5.3 fails because of log inconsistency → decrement nextIndex and retry")
            self.send_append_entries(p)

    def set_progress(self, peer: int, match: int, next_index: int, rule: str) -> None:
        """Set the leader's matchIndex and nextIndex for ``peer``, recording a change (pictures draw them)."""
        match_index, next_index_of = self.match_index, self.next_index
        if match_index.get(peer) != match or next_index_of.get(peer) != next_index:
            match_index[peer], next_index_of[peer] = match, next_index
            self._events.append(new_event((self.now, "progress", self.id, self.state.current_term, peer, match, None,
                                           next_index, None, None, rule, "")))

    def advance_commit_index(self) -> None:
        """§5.3, §5.4.2: commit the highest N > commitIndex with matchIndex ≥ N on a majority and log[N].term == currentTerm.

        The highest N stored on a majority is the quorum-th highest matchIndex
        of the voters (the leader counts its own last index; learners never
        count, §4.2.1), and never above the last index. A leader that votes
        stores every N up to its last index, so it takes the quorum - 1
        others at that N: the (quorum - 1)-th highest of the other voters'
        matchIndex (the same N as sorting its last index in with them).
        Entries from earlier terms are never committed by
        counting replicas (Figure 8); they are committed indirectly with the
        first entry of the current term. Terms only grow along a log, so when
        log[N] is of an earlier term, no entry below N is of the current one.
        """
        state, voters, me = self.state, self.voters, self.id
        last = self.last_log_index
        others = sorted(map(self.match_index.get, voters - {me}, repeat(0)), reverse=True)
        needed = self.quorum - (me in voters)  # other voters that must store N (a leader being removed, §4.2.2:
        # every voter of the quorum is another server)
        n = min(others[needed - 1], last) if needed else last
        if n > self.commit_index and self.term_at(n) == state.current_term:
            self.set_commit_index(n, "§5.3/§5.4.2 leader: majority matchIndex ≥ N and log[N].term == currentTerm")

    # ======================================================================
    # etcd's extensions (Ongaro's dissertation, 2014), off by default.
    # A Figure 2 node (``extended`` False) never runs any of the methods
    # below except ``init_extensions`` and ``has_quorum``.
    # ======================================================================

    def init_extensions(self, ids: tuple[int, ...] | list[int]) -> None:
        """Volatile state of the extensions; the configuration starts as every server in ``ids`` voting (§4.1). A server
        not among ``ids`` joins a running cluster: it starts as a learner (§4.2.1) until its log says more -- it must
        not campaign on a configuration that counts it as a voter before any leader made it one."""
        joining = self.id not in ids
        self.voters: frozenset[int] = frozenset(ids) if joining else frozenset(ids) | {self.id}
        if joining:
            self.learners = frozenset({self.id})
        self.base_config = ConfigChange(tuple(sorted(self.voters)), tuple(sorted(self.learners)))
        """The configuration before the first ConfigChange in the log (the initial servers, or a snapshot's)."""
        self.config = self.base_config
        """The configuration in use: the latest in the log (§4.1)."""
        self.heard_at: dict[int, int] = {}
        # The rest of the extensions' volatile state starts at the class-level defaults below, set on the server when
        # it changes: a Figure 2 node then keeps few enough attributes of its own for Python to store them compactly
        # (at most 30 share one key table; attribute access on every step is faster so).

    learners: frozenset[int] = frozenset()
    """Servers of the configuration that receive the log but do not vote (§4.2.1)."""
    base_index: int = 0
    """Log index of ``base_config`` (0 for the initial servers; the snapshot's ``config_index``)."""
    config_index: int = 0
    """Log index of the entry holding ``config`` (0: ``base_config``)."""
    tracks_config: bool = False
    """True once configuration changes may appear in logs; the node then reads its configuration from its log."""
    _scanned: tuple[int, Entry | None] = (0, None)
    _scanned_offset: int = 0
    pre_votes: set[int] | None = None
    """Servers that granted a pre-vote while this server is a pre-candidate (§9.6), else None."""
    forced_campaign: bool = False
    leader_heard_at: int | None = None
    _leader_term: int = -1
    leader_since: int = 0
    transferee: int | None = None
    """The server this leader is handing leadership to (§3.10), else None."""
    transfer_deadline: int = 0
    _timeout_sent: bool = False

    def enable(self, *, pre_vote: bool = False, check_quorum: bool = False, membership: bool = False,
               snapshot_every: int = 0, snapshot_tail: int = 0) -> None:
        """Switch on etcd's extensions for this server (the simulator calls it for ``Cluster(..., pre_vote=True)``)."""
        self.pre_vote = self.pre_vote or pre_vote
        self.check_quorum = self.check_quorum or check_quorum
        self.snapshot_every = snapshot_every or self.snapshot_every
        self.snapshot_tail = snapshot_tail or self.snapshot_tail
        if membership and not self.tracks_config:
            self.tracks_config = True
            self.refresh_configuration()
        self.extended = True

    def has_quorum(self, ids: Iterable[int]) -> bool:
        """Whether ``ids`` include a majority of the voters (Figure 2: of all servers; §4.1: of the latest
        configuration's voters; learners never count, §4.2.1)."""
        voters = self.voters
        return sum(1 for i in ids if i in voters) >= self.quorum

    def intercept(self, msg: Message) -> bool:
        """Let the extensions see a message before Figure 2 does; True when they handled it entirely."""
        kind = type(msg)  # mypy does not narrow ``msg`` by ``kind is ...``: the calls below say it with an ignore
        if kind is AppendEntries or kind is InstallSnapshot:
            if msg.term >= self.current_term:
                self.leader_heard_at = self.now  # a leader's message: for the lease (§4.2.3, §9.6)
        elif kind is RequestVote:
            if self.ignores_vote_request(msg):  # type: ignore[arg-type]  # kind is RequestVote
                return True
        elif kind is PreVote:
            self.handle_pre_vote(msg)  # type: ignore[arg-type]  # kind is PreVote
            return True
        elif kind is PreVoteReply:
            self.handle_pre_vote_reply(msg)  # type: ignore[arg-type]  # kind is PreVoteReply
            return True
        elif kind is TimeoutNow:
            self.observe_term(msg.term)
            self.handle_timeout_now(msg)  # type: ignore[arg-type]  # kind is TimeoutNow
            return True
        if msg.term >= self.current_term:
            self.heard_at[msg.src] = self.now  # for check-quorum (§6.2)
        if kind is InstallSnapshot or kind is InstallSnapshotReply:  # dissertation §5.1
            self.observe_term(msg.term)
            (self.handle_install_snapshot if kind is InstallSnapshot
             else self.handle_install_snapshot_reply)(msg)  # type: ignore[arg-type]  # kind says which
            return True
        return False

    def after_step(self) -> None:
        """Bookkeeping after every input: configuration from the log (§4.1), leader duties, stale state, snapshots
        (dissertation §5.1)."""
        if self.tracks_config:
            self.refresh_configuration()
        if self.snapshot_every and self.last_applied - self.snapshot_index >= self.snapshot_every:
            self.take_snapshot()
        if self.role == LEADER:
            if self._leader_term != self.current_term:  # first step as leader of this term
                self._leader_term, self.leader_since, self.heard_at = self.current_term, self.now, {}
            self.step_down_when_removed()
            if self.role == LEADER:
                self.send_timeout_now_when_caught_up()
        else:
            self.transferee = None
            if self.role != FOLLOWER or self.leader_id is not None:
                self.pre_votes = None

    def in_lease(self) -> bool:
        """Whether this server heard from a live leader within the minimum election timeout (§4.2.3, §9.6)."""
        if self.role == LEADER:
            return True
        heard = self.leader_heard_at
        return self.leader_id is not None and heard is not None and self.now - heard < self.timing.election_timeout[0]

    # ---- pre-vote (dissertation §9.6) -------------------------------------

    def campaign(self) -> None:
        """Election timeout with extensions on: only a voter campaigns (§4.1, §4.2.1), or a server whose removal
        is not committed yet (§4.2.2); with pre-vote it first asks whether it could win (§9.6)."""
        if self.id not in self.voters and not self.removal_pending():
            self.note("timeout", "§4.2.1 learners and removed servers never campaign",
                      f"S{self.id} is not a voter of its configuration: it does not campaign")
            self.reset_election_timer()
        elif self.pre_vote:
            self.start_pre_vote()
        else:
            self.start_election()

    def removal_pending(self) -> bool:
        """§4.2.2: a server left out of its latest configuration still campaigns while that configuration is not
        committed, if it voted in the one before: it may be needed to commit the change (it does not count its
        own vote, :meth:`has_quorum`)."""
        if self.config_index <= self.commit_index:
            return False
        return self.id in self.config_at(self.config_index - 1)[1].voters

    def start_pre_vote(self) -> None:
        """§9.6: become a pre-candidate: ask every server for a pre-vote for term currentTerm + 1 without raising
        the term or voting (etcd's ``becomePreCandidate``)."""
        if self.role != FOLLOWER:
            self.become_follower(None)  # a candidate that timed out goes back to asking first (etcd)
        self.leader_id = None
        self.pre_votes = {self.id}
        term = self.current_term + 1
        self.note("precampaign", "§9.6 pre-vote: ask before raising the term",
                  f"S{self.id} asks whether it could win an election for term {term} (its term stays "
                  f"{self.current_term})", value=term)
        self.reset_election_timer()
        for peer in self.peers:
            self.send(PreVote(term, self.id, peer, self.last_log_index, self.last_log_term))
        if self.has_quorum(self.pre_votes):
            self.pre_votes = None
            self.start_election()

    def handle_pre_vote(self, m: PreVote) -> None:
        """§9.6 pre-vote receiver: grant when the asked term is not behind ours, we have not heard from a live
        leader within the minimum election timeout, and the candidate's log is at least as up to date
        (RequestVote's up-to-date rule, :meth:`log_is_up_to_date`).
        Nothing changes here: no term, no vote, no timer."""
        c = m.src
        if m.term < self.current_term:
            granted, why = False, f"term {m.term} is older than S{self.id}'s term {self.current_term}"
        elif m.term == self.current_term and self.voted_for not in (None, c):
            granted, why = False, f"S{self.id} already voted for S{self.voted_for} in term {m.term}"
        elif self.in_lease():
            who = "it is the leader" if self.role == LEADER else f"it heard from leader S{self.leader_id} recently"
            granted, why = False, who
        elif not self.log_is_up_to_date(m.last_log_index, m.last_log_term):
            granted, why = False, f"S{c}'s log is less up to date than S{self.id}'s"
        else:
            granted, why = True, f"no live leader and S{c}'s log is at least as up to date"
        verb = "would vote" if granted else "would not vote"
        self.note("prevote", "§9.6 pre-vote receiver", f"S{self.id} {verb} for S{c} in term {m.term}: {why}",
                  peer=c, value=granted)
        self.send(PreVoteReply(m.term if granted else self.current_term, self.id, c, granted))

    def handle_pre_vote_reply(self, m: PreVoteReply) -> None:
        """§9.6: count pre-votes for currentTerm + 1; with a majority, start the real election (:meth:`start_election`).

        A refusal from a later term makes this server a follower of that term (etcd)."""
        if not m.vote_granted:
            self.observe_term(m.term)
            return
        if self.pre_votes is None or m.term != self.current_term + 1:
            return  # stale
        self.pre_votes.add(m.src)
        if self.has_quorum(self.pre_votes):
            self.pre_votes = None
            self.start_election()

    # ---- check-quorum (dissertation §6.2 for leaders, §4.2.3 for followers; etcd's CheckQuorum) -------------

    def ignores_vote_request(self, m: RequestVote) -> bool:
        """Dissertation §4.2.3 (etcd turns it on with CheckQuorum): a server that heard from a live leader within the
        minimum election timeout ignores a RequestVote of a higher term: no vote, no term change, no reply.
        A campaign the leader asked for (§3.10, ``transfer``) is not ignored.

        This keeps a returning server from winning votes, not from deposing the leader: the leader's next
        heartbeat reaches it and its reply carries the higher term (Figure 2, rules for all servers; etcd answers
        a lower-term AppendEntries for exactly that, raft.go ``Step``). Pre-vote (§9.6) prevents that."""
        if not (self.check_quorum and m.term > self.current_term and not m.transfer and self.in_lease()):
            return False
        self.note("vote_ignored", "§4.2.3 check-quorum: heard from a live leader → ignore RequestVote",
                  f"S{self.id} ignored S{m.src}'s RequestVote for term {m.term}: it heard from a live leader "
                  f"less than {self.timing.election_timeout[0]} ms ago", peer=m.src, value=m.term)
        return True

    def lost_quorum(self) -> bool:
        """§6.2: whether a whole minimum election timeout passed as leader without hearing from a majority."""
        window = self.timing.election_timeout[0]
        if self.now - self.leader_since < window:
            return False
        return not self.has_quorum([self.id, *(p for p, t in self.heard_at.items() if self.now - t < window)])

    def leader_tick(self) -> None:
        """Leader timer duties of the extensions: check-quorum (§6.2) and the transfer timeout (§3.10)."""
        if self.check_quorum and self.lost_quorum():
            self.note("stepdown", "§6.2 check-quorum: no majority heard within an election timeout → step down",
                      f"S{self.id} stepped down: it heard from no majority in the last "
                      f"{self.timing.election_timeout[0]} ms")
            self.become_follower(None)
        elif self.transferee is not None:
            to = self.transferee
            self.abort_transfer_when_late()
            if self.transferee is None:  # the trace (and the safety monitor) learn that the transfer ended
                self.note("transfer", "§3.10 transfer not done within an election timeout → abort",
                          f"S{self.id} gave up handing leadership to S{to}", peer=to, value=None)

    # ---- leadership transfer (dissertation §3.10) ---------------------------

    def transfer_leadership(self, to: int, now: int) -> None:
        """§3.10: hand leadership to voter ``to``: stop taking proposals, bring ``to``'s log up to date, then send
        it TimeoutNow. Gives up after a minimum election timeout."""
        self.now = now
        if self.role != LEADER:
            raise ValueError(f"S{self.id} is not the leader; only the leader can transfer leadership")
        if to == self.id or to not in self.voters:
            raise ValueError(f"S{to} is not a voter of S{self.id}'s configuration other than S{self.id} "
                             f"(voters: {', '.join(f'S{i}' for i in sorted(self.voters))})")
        self.extended = True  # the transfer's rules run in the extension hooks
        self.transferee, self.transfer_deadline, self._timeout_sent = to, now + self.timing.election_timeout[0], False
        self.note("transfer", "§3.10 leadership transfer: stop proposals, catch the target up",
                  f"S{self.id} hands leadership to S{to}", peer=to, value=to)
        if self.match_index[to] < self.last_log_index:
            self.send_append_entries(to)
        self.after_step()

    def abort_transfer_when_late(self) -> None:
        """§3.10: a transfer not done by ``transfer_deadline`` (an election timeout after it began) is given up at the
        leader's next heartbeat (``leader_tick`` notes it); the leader takes client requests again."""
        if self.transferee is not None and self.now >= self.transfer_deadline:
            self.transferee = None

    def send_timeout_now_when_caught_up(self) -> None:
        """§3.10: once the transfer target's log matches ours, tell it to time out now."""
        to = self.transferee
        if to is not None and not self._timeout_sent and self.match_index.get(to, 0) >= self.last_log_index:
            self._timeout_sent = True
            self.send(TimeoutNow(self.current_term, self.id, to))

    def handle_timeout_now(self, m: TimeoutNow) -> None:
        """§3.10: the leader of our term asks us to start an election at once -- no pre-vote, and voters in a
        lease do not ignore it (etcd's forced campaign)."""
        if m.term != self.current_term or self.id not in self.voters:
            return
        self.note("timeout", "§3.10 TimeoutNow → start an election at once",
                  f"S{self.id} starts an election now: leader S{m.src} hands over")
        self.forced_campaign = True
        self.start_election()
        self.forced_campaign = False

    # ---- membership changes (dissertation §4.1, §4.2) ------------------------

    def refresh_configuration(self) -> None:
        """§4.1: a server uses the latest configuration in its log, committed or not (re-read after each step)."""
        log, off = self.state.log, self.state.offset
        last = off + len(log)
        upto, entry = self._scanned  # (index scanned up to, the entry there): only newer entries need a look
        if self._scanned_offset == off and off <= upto <= last and (upto == off or log[upto - 1 - off] is entry):
            found = next((i for i in range(last, upto, -1) if type(log[i - 1 - off].command) is ConfigChange), None)
        else:  # entries we read were deleted (§5.3 step 3), or a snapshot moved the offset: look again from the end
            found = self.config_at(last)[0]
        self._scanned, self._scanned_offset = (last, log[-1] if log else None), off
        if found is not None:
            config = self.entry_at(found).command if found > off else self.base_config
            if found != self.config_index or config != self.config:
                self.apply_configuration(found, config)

    def config_at(self, index: int) -> tuple[int, ConfigChange]:
        """§4.1: the latest configuration at or before log ``index`` and the index holding it (the snapshot's, or
        the initial servers' at 0, when no entry in the log holds one). Once entries were compacted, ``index`` must be
        at least the snapshot's last index (earlier configurations may be gone with the entries)."""
        log, off = self.state.log, self.state.offset
        for i in range(min(index, off + len(log)), off, -1):
            command = log[i - 1 - off].command
            if type(command) is ConfigChange:
                return i, command
        return self.base_index, self.base_config

    def apply_configuration(self, index: int, config: ConfigChange) -> None:
        """§4.1: switch to ``config`` (held at log ``index``): voters, learners, the servers to replicate to."""
        self.config_index, self.config = index, config
        old = set(self.peers)
        self.voters, self.learners = frozenset(config.voters), frozenset(config.learners)
        self.peers = tuple(sorted((self.voters | self.learners) - {self.id}))
        if self.role == LEADER:
            for p in self.peers:
                if p not in old:
                    self.set_progress(p, 0, self.last_log_index + 1, "§4.1 a new server: replicate to it")
            for p in old.difference(self.peers):  # a server left the configuration: no progress kept for it (etcd)
                for progress in (self.match_index, self.next_index, self.in_flight, self.sent_at):
                    progress.pop(p, None)
        self.note("config", "§4.1 the latest configuration in the log takes effect",
                  f"S{self.id} now uses voters {{{', '.join(f'S{i}' for i in config.voters)}}}"
                  + (f", learners {{{', '.join(f'S{i}' for i in config.learners)}}}" if config.learners else ""),
                  index=index, value=config)

    def configuration_change_refused(self) -> str | None:
        """§4.1: why this server cannot start a configuration change now; None when it can."""
        if self.role != LEADER:
            return f"S{self.id} is not the leader"
        if self.transferee is not None:
            return f"S{self.id} is handing leadership to S{self.transferee} (§3.10)"
        if self.config_index > self.commit_index:
            return (f"the configuration change at index {self.config_index} is not committed yet: one change at "
                    "a time, each committed before the next (§4.1)")
        if self.term_at(self.commit_index) != self.current_term:
            return (f"leader S{self.id} has not committed an entry of its term {self.current_term} yet; a new leader "
                    "must do so before changing the configuration (the fix of the single-server change bug, "
                    "Ongaro 2015) -- send a client request first")
        return None

    def promotion_refused(self, learner: int) -> str | None:
        """§4.2.1: why ``learner`` cannot be made a voter now; None when it can. Only a learner of this leader's
        configuration whose log has caught up (matchIndex ≥ commitIndex: etcd promotes only a learner that is
        ready), and only when a configuration change may start (:meth:`configuration_change_refused`): a voter
        that still lacks committed entries cannot help commit anything, and a majority that needs it stalls."""
        if learner not in self.learners:
            return f"S{learner} is not a learner of leader S{self.id}'s configuration"
        match = self.match_index.get(learner, 0)
        if match < self.commit_index:
            return (f"S{learner} is still catching up (matchIndex {match} < commitIndex {self.commit_index}); a new "
                    "server votes only once its log is up to date (§4.2.1)")
        return self.configuration_change_refused()

    def propose_configuration(self, config: ConfigChange, now: int) -> int | None:
        """§4.1: a leader appends ``config`` to its log and uses it at once; returns its index (None if refused)."""
        self.now = now
        if self.configuration_change_refused() is not None:
            return None
        self.tracks_config = self.extended = True
        index = self.append_own(config, "§4.1 a configuration change is a log entry")
        self.refresh_configuration()
        for peer in self.peers:
            self.send_append_entries(peer)
        self.advance_commit_index()
        self.apply_committed()
        self.after_step()
        return index

    def step_down_when_removed(self) -> None:
        """§4.2.2: a leader removed from the configuration steps down once the change is committed."""
        if self.id not in self.voters and self.commit_index >= self.config_index:
            self.note("stepdown", "§4.2.2 the leader was removed: step down once the change commits",
                      f"S{self.id} stepped down: it is no longer a voter")
            self.become_follower(None)

    # ---- snapshots and log compaction (dissertation ch. 5) ---------------------

    def snapshot_state(self) -> tuple[Any, ...]:
        """The state machine's state to put in a snapshot (here: the commands applied, in order)."""
        return tuple(self.applied)

    def restore_state(self, state: tuple[Any, ...]) -> None:
        """Reset the state machine to a snapshot's ``state`` (dissertation Figure 5.3, step 8)."""
        self.applied = list(state)

    def take_snapshot(self) -> None:
        """Dissertation §5.1: snapshot the state machine as of lastApplied (committed entries only), with the last included
        index and term and the latest configuration up to it, then discard the log entries it replaces -- all but the
        last ``snapshot_tail`` of them, kept for followers only slightly behind (etcd's ``SnapshotCatchUpEntries``)."""
        index = self.last_applied
        config_index, config = self.config_at(index)
        snapshot = Snapshot(index, self.term_at(index), self.snapshot_state(), config, config_index)
        self.compact(max(self.state.offset, index - self.snapshot_tail))
        self.state.snapshot = snapshot
        self.base_index, self.base_config = config_index, config
        kept = index - self.state.offset
        self.note("snapshot", "dissertation §5.1 snapshot the applied state, discard the log up to it",
                  f"S{self.id} took a snapshot up to index {index} (term {snapshot.term}) and discarded those "
                  "entries from its log" + (f" but the last {kept}" if kept else ""), index=index, value=snapshot)

    def compact(self, upto: int) -> None:
        """Discard the log entries up to index ``upto`` (covered by a snapshot, dissertation §5.1), remembering the last
        one's term for the AppendEntries consistency check of the entry after it."""
        state = self.state
        state.offset_term = self.term_at(upto)
        del state.log[: upto - state.offset]
        state.offset = upto

    def restore_snapshot(self, snapshot: Snapshot) -> None:
        """Dissertation §5.1: a server restarting with a snapshot starts from it: its state machine holds the
        snapshot and every entry up to the snapshot's index counts as committed and applied."""
        self.load_snapshot(snapshot)
        self.note("restore", "dissertation §5.1 restart from the snapshot",
                  f"S{self.id} restored its state machine from its snapshot up to index {snapshot.index}",
                  index=snapshot.index, value=snapshot)

    def send_snapshot(self, peer: int) -> None:
        """Dissertation §5.1: the entries ``peer`` needs next were compacted: send it the snapshot instead
        (InstallSnapshot, Figure 5.3), then go on from the entry after it as etcd does (``BecomeSnapshot``);
        if the snapshot is lost, the next AppendEntries fails and the snapshot is sent again."""
        snapshot = self.state.snapshot
        assert snapshot is not None
        self.send(InstallSnapshot(self.current_term, self.id, peer, snapshot))
        self.set_progress(peer, self.match_index[peer], snapshot.index + 1,
                          "dissertation §5.1 snapshot sent: continue after its last index")

    def append_below_snapshot(self, m: AppendEntries) -> None:
        """AppendEntries whose prevLogIndex lies inside our snapshot: those entries are committed, and the leader
        holds every committed entry (Leader Completeness), so our log matches its up to our commitIndex: say so (etcd's
        ``handleAppendEntries`` answers with its committed index)."""
        self.send(AppendEntriesReply(self.current_term, self.id, m.src, True, self.commit_index))

    def handle_install_snapshot(self, m: InstallSnapshot) -> None:
        """InstallSnapshot receiver (dissertation Figure 5.3; one message, so steps 2-4 on chunks do not apply).

        1. Reply immediately if term < currentTerm.
        5. Save the snapshot (a snapshot no newer than what we committed is stale: ignore it).
        6. If an existing log entry has the same index and term as the snapshot's last included entry, retain
           the log entries following it. (Figure 5.3 then replies at once, keeping its state machine; raftedu resets
           it from the snapshot here as well. That is safe: this point is reached only when the snapshot's index is
           above our commitIndex, so lastApplied < snapshot index and nothing applied is undone, and the snapshot
           holds exactly the committed commands up to its index, which the monitor checks.)
        7. Otherwise discard the entire log.
        8. Reset the state machine using the snapshot contents (and its configuration).
        """
        if m.term < self.current_term:
            self.send(InstallSnapshotReply(self.current_term, self.id, m.src, 0))
            return
        self.become_follower(m.src)
        self.reset_election_timer()
        snapshot = m.snapshot
        if snapshot.index <= self.commit_index:
            self.send(InstallSnapshotReply(self.current_term, self.id, m.src, self.commit_index))
            return
        index, off, log = snapshot.index, self.state.offset, self.state.log
        if index <= self.last_log_index and self.term_at(index) == snapshot.term:
            kept = Log(log[index - off:])
        else:
            kept = Log()
            if self.last_log_index > index:
                self.note("truncate", "dissertation Figure 5.3 step 7: no entry matches the snapshot → discard the log",
                          f"S{self.id} discarded its entries from index {index + 1} on", index=index + 1)
        self.state.snapshot = snapshot
        self.state.log, self.state.offset, self.state.offset_term = kept, index, snapshot.term
        self.load_snapshot(snapshot)
        self.note("install", "dissertation Figure 5.3 InstallSnapshot receiver: the snapshot replaces the log up to "
                  "its last index", f"S{self.id} installed S{m.src}'s snapshot up to index {index} (term "
                  f"{snapshot.term}); its log now holds {len(kept)} entries after it",
                  peer=m.src, index=index, value=snapshot)
        self.send(InstallSnapshotReply(self.current_term, self.id, m.src, index))

    def load_snapshot(self, snapshot: Snapshot) -> None:
        """The volatile side of starting from ``snapshot`` (a restart or an install): commitIndex and lastApplied, the state machine, the
        configuration (re-read from the snapshot and the log entries kept after it, §4.1)."""
        self.commit_index = max(self.commit_index, snapshot.index)
        self.last_applied = snapshot.index
        self.base_index, self.base_config = snapshot.config_index, snapshot.config
        self.restore_state(snapshot.state)

    def handle_install_snapshot_reply(self, m: InstallSnapshotReply) -> None:
        """Dissertation §5.1: the follower now matches the leader's log up to ``match_index``: update its
        matchIndex and nextIndex as for a successful AppendEntries and try to commit (a server this leader keeps no
        progress for, one removed from its configuration, is ignored)."""
        p = m.src
        if self.role != LEADER or m.term != self.current_term or not m.match_index or p not in self.match_index:
            return
        match = max(self.match_index[p], m.match_index)
        self.set_progress(p, match, max(self.next_index[p], match + 1), "dissertation §5.1 snapshot installed → "
                          "update nextIndex and matchIndex")
        self.advance_commit_index()
