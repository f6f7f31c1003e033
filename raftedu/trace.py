"""The trace: every event of a run, and a replay that redraws the cluster at any instant.

A :class:`Trace` is the ordered list of :class:`~raftedu.raft.Event` records a
simulation produced. It is the single source of truth for everything above
the simulator: pictures, safety checks, grading and experiments read the
trace (or its pandas view, :meth:`Trace.to_frame`), never the simulator.

:class:`ClusterView` replays events one by one into a plain picture of the
cluster (each node's role, term, vote, log, commitIndex, timer; partitions;
messages in flight), so any instant can be redrawn without the simulator.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, overload

from .raft import EVENT_FIELDS, FOLLOWER, AppendEntries, Entry, Event, Message, Snapshot

if TYPE_CHECKING:  # pandas is imported only when a frame is asked for
    import pandas as pd

__all__ = ["Trace", "EventList", "Clock", "NodeView", "InFlight", "ClusterView"]

CRASHED = "crashed"
_NO_ENTRY = Entry(0, None)
"""What :attr:`ClusterView.applied` holds at index 0, where logs have no entry."""


_NAMES: dict[tuple[type, str], tuple[str, ...]] = {}


def _names(cls: type, prefix: str) -> tuple[str, ...]:
    """The names of ``cls``'s attributes that start with ``prefix`` (looked up once per class: dir() is slow)."""
    found = _NAMES.get((cls, prefix))
    if found is None:
        found = _NAMES[(cls, prefix)] = tuple(name for name in dir(cls) if name.startswith(prefix))
    return found


if TYPE_CHECKING:
    class KindEvent(Event):
        """An :class:`~raftedu.raft.Event` as read by a handler its kind chose (``_on_<kind>``, ``_check_<kind>``).

        ``Event`` types its fields as optional, since each kind sets only some of them. A handler is looked up
        by the event's kind and reads only the fields that kind sets; it declares its event as a ``KindEvent``,
        whose fields are read as set. The lookup (a dict of bound methods by kind) is where the kind decides: no
        check at run time, and none needed in the handlers. At run time ``KindEvent`` is ``Event`` itself.
        """

        node: int
        term: int
        peer: int
        index: int
        entry: Entry
        msg: Message
        msg_id: int
else:
    KindEvent = Event


_WIDTH = len(EVENT_FIELDS)
"""A stored event is its :data:`EVENT_FIELDS` values in a row of this many cells."""
_rebuild = tuple.__new__
"""``_rebuild(Event, row)``: the event whose stored fields are ``row`` (an Event is the tuple of them)."""


class Trace:
    """An append-only sequence of events with helpers to query, hash and tabulate them.

    Storage is compact: the fields of each event (:data:`EVENT_FIELDS`, the
    sentence still unformatted) lie one after another in one flat list, so a
    long trace holds no Python object per event for the garbage collector to
    visit. Reading an event (indexing, iterating, :attr:`events`) rebuilds an
    equal :class:`~raftedu.raft.Event` on demand: every reader sees the same
    fields, sentences and ``repr`` as the simulator recorded, and the digest is
    computed from them.
    """

    def __init__(self, events: Iterable[Event] = ()) -> None:
        """Create a trace holding ``events`` (in order)."""
        self.cells: list[Any] = []
        """The stored fields, :data:`~raftedu.raft.EVENT_FIELDS` per event, one event after another (read-only:
        add events with :meth:`append`)."""
        for e in events:
            self.append(e)

    def append(self, event: Event) -> None:
        """Add one event at the end."""
        if not isinstance(event, Event) or len(event) != _WIDTH:
            raise TypeError(f"a Trace holds raftedu Events; got {type(event).__name__}: {event!r:.80}")
        self.cells.extend(event)

    @property
    def events(self) -> "EventList":
        """The events, as a read-only sequence (index, slice, iterate, ``len``); each read rebuilds the event."""
        return EventList(self.cells)

    def __len__(self) -> int:
        return len(self.cells) // _WIDTH

    def __iter__(self) -> Iterator[Event]:
        cells = self.cells
        for k in range(0, len(cells), _WIDTH):
            yield _rebuild(Event, cells[k : k + _WIDTH])

    def __getitem__(self, i: int) -> Event:
        return self.events[i]

    def since(self, start: int, kinds: Iterable[str] | None = None) -> list[Event]:
        """The events from position ``start`` on (of ``kinds`` only, when given), in order; cheaper than rebuilding
        every event when few kinds are wanted."""
        cells, out = self.cells, []
        wanted = None if kinds is None else frozenset(kinds)
        for k in range(max(0, start) * _WIDTH, len(cells), _WIDTH):
            if wanted is None or cells[k + 1] in wanted:
                out.append(_rebuild(Event, cells[k : k + _WIDTH]))
        return out

    def of_kind(self, *kinds: str) -> list[Event]:
        """The events whose kind is one of ``kinds``, in order."""
        return self.since(0, kinds)

    def until(self, time: int) -> "Trace":
        """A new trace with the events that happened at or before ``time``."""
        out = Trace()
        cells = self.cells
        k = 0
        while k < len(cells) and cells[k] <= time:
            k += _WIDTH
        out.cells = cells[:k]
        return out

    def digest(self) -> str:
        """SHA-256 of the whole trace: equal digests mean identical runs, event for event."""
        h = hashlib.sha256()
        for e in self:
            h.update(repr(e).encode())
            h.update(b"\n")
        return h.hexdigest()

    def to_frame(self) -> "pd.DataFrame":
        """The trace as a pandas DataFrame, one row per event.

        Columns: the :class:`~raftedu.raft.Event` fields (``seq`` first), the
        message flattened into ``msg_type``, ``src``, ``dst`` and
        ``msg_term``, and the entry into ``entry_term`` and ``command``.
        """
        import pandas as pd

        names = list(EVENT_FIELDS)
        rows = []
        for seq, e in enumerate(self):
            row: dict[str, Any] = {"seq": seq}
            row.update({n: getattr(e, n) for n in names})
            m = e.msg
            row["msg_type"] = type(m).__name__ if m is not None else None
            row["src"] = m.src if m is not None else None
            row["dst"] = m.dst if m is not None else None
            row["msg_term"] = m.term if m is not None else None
            row["entry_term"] = e.entry.term if e.entry is not None else None
            row["command"] = e.entry.command if e.entry is not None else None
            rows.append(row)
        frame = pd.DataFrame(rows, columns=["seq", *names, "msg_type", "src", "dst", "msg_term", "entry_term", "command"])
        for col in ("node", "term", "peer", "index", "msg_id", "src", "dst", "msg_term", "entry_term"):
            frame[col] = frame[col].astype("Int64")
        return frame


class EventList(Sequence[Event]):
    """A read-only view of a trace's events (:attr:`Trace.events`): a sequence like a list, rebuilding each event it
    hands out; slices are lists. It sees events appended to the trace later too."""

    __slots__ = ("_cells",)

    def __init__(self, cells: list[Any]) -> None:
        """The view of the stored ``cells`` of a :class:`Trace`."""
        self._cells = cells

    def __len__(self) -> int:
        return len(self._cells) // _WIDTH

    @overload
    def __getitem__(self, i: int) -> Event: ...

    @overload
    def __getitem__(self, i: slice) -> list[Event]: ...

    def __getitem__(self, i: int | slice) -> Event | list[Event]:
        cells = self._cells
        n = len(cells) // _WIDTH
        if isinstance(i, slice):
            return [_rebuild(Event, cells[k * _WIDTH : (k + 1) * _WIDTH]) for k in range(*i.indices(n))]
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError(f"trace events are indexed by whole numbers or slices; got {i!r}")
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"event {i} is not in a trace of {n} events")
        return _rebuild(Event, cells[i * _WIDTH : (i + 1) * _WIDTH])

    def __iter__(self) -> Iterator[Event]:
        cells = self._cells
        for k in range(0, len(cells), _WIDTH):
            yield _rebuild(Event, cells[k : k + _WIDTH])

    def __reversed__(self) -> Iterator[Event]:
        cells = self._cells
        for k in range(len(cells) - _WIDTH, -1, -_WIDTH):
            yield _rebuild(Event, cells[k : k + _WIDTH])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (EventList, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # unhashable, like the list it reads as: the way to say so

    def __repr__(self) -> str:
        return f"<{len(self)} trace events>"


@dataclass
class Clock:
    """A server's own clock, once its clock drifts or its process was paused (the simulator's ``set_clock_rate`` and
    ``pause`` faults; dissertation §6.4.1: a lease assumes bounded clock drift).

    At true time ``t`` it reads ``base_local + ⌊(t - base_true) × rate⌋`` whole milliseconds. While the process is
    paused the clock stands still at ``frozen``, and when it resumes it goes on from there, the pause lost: the
    server believes no time passed. (etcd's raft counts time in ticks that a Go ``time.Ticker`` delivers; a ticker
    drops the ticks a stalled receiver misses, so a paused etcd node's clock lags in just this way.) A server's timers
    run out when *its* clock reaches them (:meth:`when`). Without drift or pause a server has no Clock: it reads true
    time (Figure 2's runs).
    """

    rate: Fraction = Fraction(1)
    base_true: int = 0
    base_local: int = 0
    frozen: int | None = None

    def read(self, t: int) -> int:
        """What the server's clock shows at true time ``t``."""
        if self.frozen is not None:
            return self.frozen
        return self.base_local + math.floor((t - self.base_true) * self.rate)

    def set_rate(self, rate: float, t: int) -> None:
        """From true time ``t`` on, the clock runs ``rate`` times as fast as true time (going on from what it shows)."""
        if self.frozen is None:
            self.base_local, self.base_true = self.read(t), t
        self.rate = Fraction(str(rate))  # exact: 1.1 is 11/10, so the same rate gives the same run on every machine

    def freeze(self, t: int) -> None:
        """The process stops at true time ``t``: its clock stands still."""
        self.frozen = self.read(t)

    def resume(self, t: int) -> None:
        """The process goes on at true time ``t``; its clock goes on from where it stood (the pause is lost)."""
        if self.frozen is not None:
            self.base_local, self.base_true, self.frozen = self.frozen, t, None

    def when(self, local: int, t: int) -> int:
        """The first true time, not before ``t``, at which the (running) clock shows ``local``: when a timer this
        server set for ``local`` runs out."""
        return max(t, self.base_true + math.ceil((local - self.base_local) / self.rate))


@dataclass
class NodeView:
    """What a picture needs to know about one server at one instant."""

    id: int
    alive: bool = True
    role: str = FOLLOWER
    term: int = 0
    voted_for: int | None = None
    log: list[Entry] = field(default_factory=list)
    commit_index: int = 0
    last_applied: int = 0
    deadline: int | None = None
    """When the election timer runs out (None for leaders and crashed nodes)."""
    leader_id: int | None = None
    """The leader this node last heard from in its current term."""
    config: Any = None
    """The latest configuration in this node's log (a ConfigChange; None: the servers the run started with)."""
    removed: bool = False
    """The server was removed from the cluster and shut down (§4.1)."""
    snapshot: Snapshot | None = None
    """The server's latest snapshot (dissertation §5.1); ``log`` still holds the entries it replaced, for pictures."""
    clock: Clock | None = None
    """The server's own clock once it drifts or was paused (None: it reads true time)."""
    paused: bool = False
    """The server's process is paused: no timer fires, no message is handled until it resumes."""

    @property
    def snapshot_index(self) -> int:
        """The last index the server's snapshot replaces (0: no snapshot); entries up to it are compacted."""
        return 0 if self.snapshot is None else self.snapshot.index

    def holds(self, snapshot: Snapshot) -> bool:
        """Whether this log has the entry a snapshot ends with (same index and term, dissertation Figure 5.3)."""
        i = snapshot.index
        return i == 0 or (i <= len(self.log) and self.log[i - 1].term == snapshot.term)

    @property
    def shown_role(self) -> str:
        """The role to draw: ``crashed`` for a server that is down."""
        return self.role if self.alive else CRASHED


@dataclass(slots=True)
class InFlight:
    """A message on the wire: sent at ``sent``, due at ``due``."""

    msg_id: int
    msg: Message
    sent: int
    due: int


class ClusterView:
    """Replays a trace into the state of every node, the network and the messages in flight.

    Call :meth:`apply` with events in order (or use :meth:`at`). Only the
    trace is read: this is the proof that the trace is enough to redraw the
    cluster.

    Each event kind has up to two handlers: ``_on_<kind>`` keeps the state
    the safety checks read (terms, roles, votes, logs, commit and apply
    indexes, snapshots, configurations, partitions) and ``_draw_<kind>``
    what only pictures show (messages in flight, election deadlines, the
    leader each node follows, the leader's matchIndex/nextIndex). The
    simulator's monitor runs the first kind as events happen and the second
    only when the view is read (:meth:`draw`): a third of a run's events
    (timers, deliveries, progress) then cost nothing while it runs.
    """

    def __init__(self) -> None:
        """An empty view, waiting for the run's ``start`` event."""
        self.time = 0
        self.nodes: dict[int, NodeView] = {}
        self.groups: tuple[tuple[int, ...], ...] = ()
        self.cuts: set[tuple[int, int]] = set()
        self.in_flight: dict[int, InFlight] = {}
        self.progress: dict[int, dict[int, tuple[int, int]]] = {}
        """``progress[leader][peer] == (matchIndex, nextIndex)`` for every live leader."""
        self.config: dict[str, Any] = {}
        self.applied: list[Entry] = [_NO_ENTRY]
        """``applied[i]`` is the entry the first server to apply index ``i`` applied there: the committed log,
        which rebuilds a log an installed snapshot replaced (dissertation §5.1). Index 0 holds no entry (logs
        start at 1)."""
        self._handlers = {name[len("_on_"):]: getattr(self, name) for name in _names(type(self), "_on_")}
        self._draws = {name[len("_draw_"):]: getattr(self, name) for name in _names(type(self), "_draw_")}
        self._terms: dict[int, int] = {}  # node -> its term as of the last event drawn (for _draw_deliver)

    @classmethod
    def at(cls, trace: Iterable[Event], time: int | None = None) -> "ClusterView":
        """The view after every event at or before ``time`` (the end of the trace when None)."""
        view = cls()
        for e in trace:
            if time is not None and e.time > time:
                break
            view.apply(e)
        if time is not None:
            view.time = time
        return view

    def apply(self, e: Event) -> None:
        """Update the view with one event."""
        self.time = e.time
        handler = self._handlers.get(e.kind)
        if handler is not None:
            handler(e)
        draw = self._draws.get(e.kind)
        if draw is not None:
            draw(e)

    def update(self, e: Event) -> None:
        """Update only the state the safety checks read with one event (its ``_on_`` handler; see :meth:`draw`)."""
        handler = self._handlers.get(e.kind)
        if handler is not None:
            handler(e)

    def draw(self, events: Iterable[Event]) -> None:
        """Bring what only pictures show up to date with ``events`` (in order), whose ``_on_`` handlers already ran."""
        draws = self._draws
        for e in events:
            draw = draws.get(e.kind)
            if draw is not None:
                draw(e)

    # One small handler per event kind that changes the picture.
    def _on_start(self, e: KindEvent) -> None:
        self.config = dict(e.value)
        self.nodes = {i: NodeView(i) for i in range(1, self.config["n"] + 1)}

    def _on_term(self, e: KindEvent) -> None:
        node = self.nodes[e.node]
        node.term, node.voted_for = e.value, None

    def _on_vote(self, e: KindEvent) -> None:
        if e.value:
            self.nodes[e.node].voted_for = e.peer

    def _on_role(self, e: KindEvent) -> None:
        self.nodes[e.node].role = e.value

    def _draw_role(self, e: KindEvent) -> None:
        node = self.nodes[e.node]
        if e.value == "leader":  # a leader runs no election timer
            node.deadline = None
        if e.value != "follower":
            node.leader_id = e.node if e.value == "leader" else None
        if e.value == "leader":
            self.progress[e.node] = {}
        else:
            self.progress.pop(e.node, None)

    def _draw_term(self, e: KindEvent) -> None:
        self._terms[e.node] = e.value

    def _draw_progress(self, e: KindEvent) -> None:
        self.progress.setdefault(e.node, {})[e.peer] = (e.index, e.value)

    def _on_append(self, e: KindEvent) -> None:
        self.nodes[e.node].log.append(e.entry)

    def _on_truncate(self, e: KindEvent) -> None:
        del self.nodes[e.node].log[e.index - 1 :]

    def _on_commit(self, e: KindEvent) -> None:
        self.nodes[e.node].commit_index = e.index

    def _on_apply(self, e: KindEvent) -> None:
        self.nodes[e.node].last_applied = e.index
        if e.index == len(self.applied):
            self.applied.append(e.entry)

    def _on_snapshot(self, e: KindEvent) -> None:
        self.nodes[e.node].snapshot = e.value

    def _on_install(self, e: KindEvent) -> None:
        """The snapshot replaces the log up to its last index with the committed entries (dissertation Figure 5.3);
        entries after it stay (a discarded log was recorded as a ``truncate`` just before)."""
        node, snapshot = self.nodes[e.node], e.value
        node.log[: snapshot.index] = self.applied[1 : snapshot.index + 1]
        node.snapshot = snapshot
        node.commit_index = max(node.commit_index, snapshot.index)
        node.last_applied = snapshot.index

    def _on_restore(self, e: KindEvent) -> None:
        node = self.nodes[e.node]  # a restart from the snapshot on its disk
        node.snapshot = e.value
        node.commit_index = node.last_applied = e.value.index

    def _draw_timer(self, e: KindEvent) -> None:
        self.nodes[e.node].deadline = e.value

    def _on_crash(self, e: KindEvent) -> None:
        self._stop(e)

    def _stop(self, e: KindEvent) -> None:
        """The server is down (crashed or shut down): that ends a pause; the machine's clock goes on."""
        node = self.nodes[e.node]
        node.alive = node.paused = False
        if node.clock is not None:
            node.clock.resume(e.time)

    def _on_clock(self, e: KindEvent) -> None:
        node = self.nodes[e.node]
        if node.clock is None:
            node.clock = Clock()
        node.clock.set_rate(e.value, e.time)

    def _on_pause(self, e: KindEvent) -> None:
        node = self.nodes[e.node]
        if node.clock is None:
            node.clock = Clock()
        node.clock.freeze(e.time)
        node.paused = True

    def _on_resume(self, e: KindEvent) -> None:
        node = self.nodes[e.node]
        node.paused = False
        if node.clock is not None:  # a pause gave it one
            node.clock.resume(e.time)

    def _draw_crash(self, e: KindEvent) -> None:
        self.nodes[e.node].deadline = None
        self.progress.pop(e.node, None)

    def _on_restart(self, e: KindEvent) -> None:
        old = self.nodes[e.node]  # persistent state survives; volatile state starts over
        vote = e.value[1] if isinstance(e.value, (tuple, list)) and len(e.value) == 3 else old.voted_for  # the disk's
        self.nodes[e.node] = NodeView(e.node, term=old.term, voted_for=vote, log=old.log,  # a snapshot: ``restore``
                                      clock=old.clock)  # the machine's clock runs on

    def _draw_restart(self, e: KindEvent) -> None:
        node = self.nodes[e.node]  # drawn late, events before the restart may have drawn on the new NodeView
        node.deadline = node.leader_id = None

    def _draw_send(self, e: KindEvent) -> None:
        self.in_flight[e.msg_id] = InFlight(e.msg_id, e.msg, e.time, e.value)

    def _draw_deliver(self, e: KindEvent) -> None:
        self.in_flight.pop(e.msg_id, None)
        node = self.nodes.get(e.node)  # None for clients and other endpoints
        if node is not None and type(e.msg) is AppendEntries and e.msg.term >= self._terms.get(e.node, 0):
            node.leader_id = e.msg.src  # the sender is the leader this node now follows

    def _draw_drop(self, e: KindEvent) -> None:
        self.in_flight.pop(e.msg_id, None)

    def _on_partition(self, e: KindEvent) -> None:
        self.groups = e.value

    def _on_cut(self, e: KindEvent) -> None:
        self.cuts.add((e.node, e.peer))

    def _on_heal(self, e: KindEvent) -> None:
        self.groups, self.cuts = (), set()

    def _on_config(self, e: KindEvent) -> None:
        self.nodes[e.node].config = e.value

    def _on_server_added(self, e: KindEvent) -> None:
        self.nodes[e.node] = NodeView(e.node)

    def _on_server_removed(self, e: KindEvent) -> None:
        self._stop(e)
        self.nodes[e.node].removed = True

    def _draw_server_removed(self, e: KindEvent) -> None:
        self.nodes[e.node].deadline = None
        self.progress.pop(e.node, None)

    def voters(self, i: int) -> tuple[int, ...]:
        """The voters of node ``i``'s latest configuration (all servers the run started with, until a change)."""
        config = self.nodes[i].config
        return tuple(range(1, self.config["n"] + 1)) if config is None else config.voters

    def learners(self, i: int) -> tuple[int, ...]:
        """The learners of node ``i``'s latest configuration (§4.2.1)."""
        config = self.nodes[i].config
        return () if config is None else config.learners

    def leaders(self) -> list[int]:
        """Ids of the live nodes that believe they are leader (more than one is possible across terms)."""
        return [i for i, n in self.nodes.items() if n.alive and n.role == "leader"]
