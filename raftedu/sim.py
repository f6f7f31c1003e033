"""Deterministic simulation of a Raft cluster: virtual clock, seeded network, faults as data.

One process, one event heap ordered by ``(time, sequence)``, integer virtual
milliseconds and seeded random number generators: the same seed and the same
fault schedule give the same :class:`~raftedu.trace.Trace`, event for event.
Every event is recorded in the trace and checked by the always-on
:class:`~raftedu.checks.SafetyMonitor` as it happens.

Example::

    c = Cluster(5, seed=7)
    c.run_until(lambda c: c.leader() is not None, within=2_000)
    c.crash(c.leader())
    c.run(1_000)
"""

from __future__ import annotations

import functools
import heapq
import inspect
import math
import operator
import os
import random
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, NoReturn, Protocol, TypeGuard, cast

from .checks import NodeFailure, SafetyMonitor
from .raft import (EVENT_FIELDS, LEADER, LOST_IN_CRASH, AppendEntries, AppendEntriesReply, ConfigChange, Event,
                   FieldText, InstallSnapshot, InstallSnapshotReply, Log, Message, PersistentState, PreVote,
                   PreVoteReply, RaftNode, RequestVote, RequestVoteReply, Server, TimeoutNow, Timing, new_event)
from .trace import Clock, ClusterView, Trace

__all__ = ["Network", "Cluster", "ClientRequest", "Endpoint", "Refused", "ACTIONS", "MAX_NODES"]

MAX_NODES = 99
ACTIONS = ("crash", "restart", "restart_all", "crash_leader", "timeout_now", "isolate", "partition", "cut", "heal",
           "drop_next", "delay_next", "request", "set_network", "transfer_leadership", "add_server", "promote",
           "remove_server", "snapshot", "set_clock_rate", "pause")
"""Names a fault schedule may use; each is the :class:`Cluster` method of that name."""

_DELIVER, _TIMER, _ACTION = 0, 1, 2
_WINDOW_SAFE = frozenset(("pre_vote", "check_quorum"))  # options that keep lookahead windows (:meth:`Cluster.lookahead`)
_STAGES = ("term", "role", "vote", "log", "commit", "apply", "snapshot")
_STAGE_OF = {"term": "term", "vote": "vote", "role": "role", "append": "log", "truncate": "log", "install": "log",
             "commit": "commit", "apply": "apply", "snapshot": "snapshot"}
_EARLIER = {stage: frozenset(_STAGES[:k]) for k, stage in enumerate(_STAGES)} | {"end": frozenset(_STAGES)}
_QUIET = "state change the node did not report"
_UNTOUCHED = Log.UNTOUCHED
_PASS_THROUGH = (NotImplementedError, MemoryError)
"""Exceptions from a node that are not its failure: unwritten code (an exercise starter) and running out of memory."""
_WIDTH = len(EVENT_FIELDS)  # cells per event in the trace's storage
_command = operator.attrgetter("command")  # an entry's command


def _own(cls: type) -> dict[str, Any]:
    """A class's own attributes, without ``__slotnames__`` (a cache ``copyreg`` adds when an instance is copied or
    pickled -- the explorer's checkpoints deep-copy nodes -- which changes no behaviour)."""
    return {k: v for k, v in vars(cls).items() if k != "__slotnames__"}


_SHIPPED = {cls: _own(cls) for cls in (RaftNode, Server)}  # the reference node's methods as imported


def _shipped_reference(node_class: type) -> bool:
    """Whether ``node_class`` is the reference RaftNode with its methods (and Server's) as raftedu ships them, not
    patched in a notebook: only that node is trusted to report every state change itself (:meth:`Cluster._flush`)."""
    return node_class is RaftNode and all(_own(cls) == methods for cls, methods in _SHIPPED.items())


_CLIENT_SENT = FieldText("client sent {e.value!r} to S{e.node}")
_CLIENT_UNSENT = FieldText("client sent {e.value!r} to no one (no leader)")


class Refused(ValueError):
    """The cluster cannot do this now (no leader, a change still in flight, ...): a state, not a bad argument.

    Run from a fault schedule, a refused action is recorded as a ``note`` in the trace instead of stopping the run.
    """


class Endpoint(Protocol):
    """What the simulator needs from anything attached to the network: a node or a client."""

    id: int
    deadline: int | None
    """When ``on_timer`` should next be called (None: no timer)."""

    def receive(self, msg: Message, now: int) -> None:
        """Handle a delivered message."""

    def on_timer(self, now: int) -> None:
        """The deadline has come."""

    def take_output(self) -> tuple[list[Message], list[Event]]:
        """Messages to send and events to record since the last call."""


class _RunsExtensions(Endpoint, Protocol):
    """What the cluster asks of a server that runs etcd's extensions (its class says ``runs_extensions``): the
    reference :class:`~raftedu.raft.RaftNode`, or the grader's stand-in for a student's subclass of it."""

    runs_extensions: bool
    transferee: int | None
    config: ConfigChange
    last_applied: int

    @property
    def current_term(self) -> int:
        """The server's currentTerm."""

    @property
    def snapshot_index(self) -> int:
        """The last log index its latest snapshot covers (0: none)."""

    def enable(self, *, pre_vote: bool = False, check_quorum: bool = False, membership: bool = False,
               snapshot_every: int = 0, snapshot_tail: int = 0) -> None:
        """Switch on etcd's extensions."""

    def take_snapshot(self) -> None:
        """Snapshot the state machine and compact the log now (dissertation §5.1)."""

    def configuration_change_refused(self) -> str | None:
        """Why this leader cannot start a configuration change now (None: it can, §4.1)."""

    def promotion_refused(self, learner: int) -> str | None:
        """Why ``learner`` cannot be made a voter now (None: it can, §4.2.1)."""

    def propose_configuration(self, config: ConfigChange, now: int) -> int | None:
        """Append the configuration ``config`` (§4.1): its log index, or None."""

    def transfer_leadership(self, to: int, now: int) -> None:
        """Hand leadership to ``to`` (§3.10); a refusal is a ValueError."""


def _runs_extensions(node: Server) -> TypeGuard[_RunsExtensions]:
    """Whether ``node`` runs etcd's extensions (:attr:`~raftedu.raft.Server.runs_extensions`)."""
    return node.runs_extensions


@functools.cache
def _signature(action: str) -> inspect.Signature:
    """The signature of the Cluster method ``action`` (looked up once: every schedule item is checked with it)."""
    return inspect.signature(getattr(Cluster, action))


def _settings(settings: Any) -> dict[str, Any]:
    """The fields of a Timing or Network as a dict (``dataclasses.asdict`` without its deep copy: they hold numbers
    and tuples of numbers)."""
    return {f.name: getattr(settings, f.name) for f in fields(settings)}


def _rate(name: str, value: Any) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a probability between 0 and 1; got {value!r}")


def _span(name: str, value: Any) -> None:
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value)
    if not (ok and 0 <= value[0] <= value[1]):
        raise ValueError(f"{name} must be two whole milliseconds (low, high) with 0 <= low <= high; got {value!r}")


def _clock_rate(rate: Any) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < math.inf:
        raise ValueError(f"a clock rate is a number > 0 (1: the clock keeps true time, 0.5: it runs at half speed, "
                         f"2: twice as fast); got {rate!r}")


_MESSAGE_KINDS = tuple(kind.__name__ for kind in (RequestVote, RequestVoteReply, AppendEntries, AppendEntriesReply,
                                                  PreVote, PreVoteReply, TimeoutNow, InstallSnapshot,
                                                  InstallSnapshotReply))
"""The kinds of message a ``drop_next`` / ``delay_next`` item may single out (class names)."""
_OneShot = tuple[int, int, str | None, int | None]  # (src, dst, kind or None: any, extra ms or None: lost)


def _message_kind(kind: Any) -> None:
    if kind is not None and kind not in _MESSAGE_KINDS:
        raise ValueError(f"kind must be None (any message) or a message kind: {', '.join(_MESSAGE_KINDS)}; "
                         f"got {kind!r}")


def _extra_delay(ms: Any) -> None:
    if isinstance(ms, bool) or not isinstance(ms, int) or ms < 1:
        raise ValueError(f"delay_next slows a message down by a whole number of milliseconds >= 1; got {ms!r}")


def _pause_length(ms: Any) -> None:
    if isinstance(ms, bool) or not isinstance(ms, int) or ms < 1:
        raise ValueError(f"a pause lasts a whole number of milliseconds >= 1; got {ms!r}")


@dataclass(frozen=True)
class Network:
    """How the simulated network treats each message.

    Each message takes ``delay`` ms (uniform, both ends included), or with
    probability ``long_delay_rate`` a ``long_delay`` -- which reorders it
    behind later messages. It is lost with probability ``drop_rate`` and
    delivered twice with probability ``duplicate_rate``.
    """

    delay: tuple[int, int] = (5, 15)
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    long_delay_rate: float = 0.0
    long_delay: tuple[int, int] = (200, 600)

    def __post_init__(self) -> None:
        _span("delay", self.delay)
        _span("long_delay", self.long_delay)
        _rate("drop_rate", self.drop_rate)
        _rate("duplicate_rate", self.duplicate_rate)
        _rate("long_delay_rate", self.long_delay_rate)


@dataclass
class ClientRequest:
    """A client command and what became of it: ``pending``, ``committed``, ``rejected`` or ``lost``."""

    id: int
    command: Any
    submitted: int
    node: int | None = None
    index: int | None = None
    term: int | None = None
    status: str = "pending"
    reason: str = ""
    replied: int | None = None


class Cluster:
    """A simulated Raft cluster of ``n`` nodes with ids 1..n.

    ``node_class`` replaces the reference :class:`~raftedu.raft.RaftNode`
    (a subclass overriding one rule, for exercises and broken variants, or a
    whole server written on :class:`~raftedu.raft.Server`, exercise 06).
    ``schedule`` is a list of timed actions ``(time_ms, name, *args)`` with
    a name from :data:`ACTIONS`, e.g. ``[(500, "crash_leader"), (900,
    "partition", [1, 2], [3, 4, 5]), (2000, "heal")]``.
    """

    def __init__(
        self,
        n: int,
        *,
        seed: int = 0,
        timing: Timing = Timing(),
        network: Network = Network(),
        node_class: type[Server] = RaftNode,
        schedule: Iterable[Sequence[Any]] = (),
        up_to_date_check: bool = False,
        pre_vote: bool = False,
        check_quorum: bool = False,
        snapshot_every: int | None = None,
        snapshot_tail: int = 0,
        retire_after: int = 0,
    ) -> None:
        """Start ``n`` followers at time 0; the fault ``schedule`` is validated now and run as time passes.

        ``up_to_date_check`` also checks etcd-io/raft's ``MoreUpToDateCorrectInv``
        (see :mod:`raftedu.checks`): a wrong commit is caught when it happens.
        ``pre_vote`` (dissertation §9.6) and ``check_quorum`` (§6.2 for leaders, §4.2.3 for followers) switch
        on etcd's options of the same names on every node; off, the nodes are Figure 2 exactly. ``snapshot_every=K`` (dissertation §5.1)
        has every node snapshot its state machine and compact its log every K applied entries; a follower
        that lags behind the leader's snapshot gets it in an InstallSnapshot message. ``snapshot_tail=T`` keeps the
        last T entries up to each snapshot's last index in the log (etcd's ``SnapshotCatchUpEntries``): a follower
        less than T entries behind still gets AppendEntries, and InstallSnapshot goes only to one further behind.
        ``retire_after=R``: a server whose removal (:meth:`remove_server`) committed keeps running R ms before it
        shuts down, as a real one does until it learns of its removal (dissertation §4.2.3: it may time out and
        disrupt the others); 0 shuts it down at once.
        """
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_NODES:
            raise ValueError(f"cluster size must be a whole number from 1 to {MAX_NODES}; got {n!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer; got {seed!r}")
        if not isinstance(timing, Timing):
            raise TypeError(f"timing must be a raftedu.Timing; got {type(timing).__name__}")
        if not isinstance(network, Network):
            raise TypeError(f"network must be a raftedu.Network; got {type(network).__name__}")
        if not (isinstance(node_class, type) and issubclass(node_class, Server)):
            raise TypeError(f"node_class must be RaftNode, a subclass of it, or a server written on raftedu.Server; "
                            f"got {node_class!r}")
        for name, flag in (("pre_vote", pre_vote), ("check_quorum", check_quorum)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False; got {flag!r}")
            if flag and not node_class.runs_extensions:
                raise ValueError(f"{name} is an option of raftedu's RaftNode; {node_class.__name__} is a server of "
                                 "its own (Figure 2 only)")
        if snapshot_every is not None and (isinstance(snapshot_every, bool) or not isinstance(snapshot_every, int)
                                           or snapshot_every < 1):
            raise ValueError(f"snapshot_every must be a whole number of entries >= 1 (or None: never); "
                             f"got {snapshot_every!r}")
        if isinstance(retire_after, bool) or not isinstance(retire_after, int) or retire_after < 0:
            raise ValueError(f"retire_after must be whole milliseconds >= 0 (0: a removed server stops at once); "
                             f"got {retire_after!r}")
        if isinstance(snapshot_tail, bool) or not isinstance(snapshot_tail, int) or snapshot_tail < 0:
            raise ValueError(f"snapshot_tail must be a whole number of entries >= 0 (0: keep none); got {snapshot_tail!r}")
        for name, value in (("snapshot_every", snapshot_every), ("snapshot_tail", snapshot_tail or None)):
            if value is not None and not node_class.runs_extensions:
                raise ValueError(f"{name} is an option of raftedu's RaftNode; {node_class.__name__} is a server of "
                                 "its own (Figure 2 only)")
        self.options: dict[str, Any] = {name: True for name, flag in (("pre_vote", pre_vote),
                                                                      ("check_quorum", check_quorum)) if flag}
        """etcd's extensions switched on for every node (empty: Figure 2)."""
        if snapshot_every:
            self.options["snapshot_every"] = snapshot_every
        if snapshot_tail:
            self.options["snapshot_tail"] = snapshot_tail
        self.n = n
        self.ids = tuple(range(1, n + 1))
        self.initial_ids = self.ids
        """The servers the cluster started with; later ones join through configuration changes (§4.1)."""
        self.retired: set[int] = set()
        """Servers removed from the cluster (§4.1): shut down for good once their removal committed."""
        self._membership = False
        self._extended = bool(self.options)
        self._beyond = bool(self.options.keys() - _WINDOW_SAFE)  # extensions whose steps reach beyond the nodes
        self._retiring: dict[int, tuple[int, ConfigChange]] = {}
        self._removed: set[int] = set()  # removal committed, still running (``retire_after``)
        self.retire_after = retire_after
        self.seed = seed
        self.timing = timing
        self.net = network
        self.node_class = node_class
        self._step_ahead: Callable[[Cluster, int], None] | None = getattr(node_class, "step_ahead", None)
        """The node class's way of taking a lookahead window's steps in one call (:meth:`run`), if it has one (looked
        up once: a failed look-up of a class attribute costs as much as a step)."""
        self.now = 0
        self.trace = Trace()
        self.monitor = SafetyMonitor(seed, up_to_date_check=bool(up_to_date_check))
        self._cells, self._view = self.trace.cells, self.monitor.view
        self._drawn = 0  # the events the view has drawn (see :attr:`view`)
        self._checks = self.monitor.checks  # no bound method of the cluster in it: no reference cycle to collect
        self.requests: list[ClientRequest] = []
        self._rng = random.Random(f"raftedu:{seed}:network")
        self._randbelow: Callable[[int], int] = self._rng._randbelow  # type: ignore[attr-defined]  # private: no stub
        # (what randint(lo, hi) calls: lo + _randbelow(hi - lo + 1))
        self._node_rngs = {i: random.Random(f"raftedu:{seed}:node:{i}") for i in self.ids}
        self._heap: list[tuple[int, bool, int, int, Any, Message | None]] = []
        """(time, is an action, sequence number, kind, what, message): a delivery's message id and message, a
        timer's node id, a scheduled action's (name, *args); the first three order them."""
        self._seq = 0
        self._msg_ids = 0
        self._timer_due: dict[int, int | None] = {}
        self._logs: dict[int, Log] = {}  # node -> the log object last compared with the trace
        self._machine: dict[int, int] = {}  # node -> how many applied commands were compared with its log
        self._pending: dict[tuple[int, int], ClientRequest] = {}
        self.disks: dict[int, PersistentState] = {i: PersistentState() for i in self.ids}
        self.nodes: dict[int, Server | None] = {i: None for i in self.ids}
        self.endpoints: dict[int, Endpoint] = {}
        self.groups: tuple[tuple[int, ...], ...] = ()
        self.cuts: set[tuple[int, int]] = set()
        self._once: list[_OneShot] = []  # drop_next / delay_next items waiting for their message, oldest first
        self._clocks: dict[int, Clock] = {}  # servers whose clock drifts or whose process was paused (set_clock_rate)
        self._paused: dict[int, tuple[int, list[tuple[int, Message]]]] = {}  # paused server -> (resume time, the
        # deliveries that wait for it)
        self._record(Event(0, "start", value=(("n", n), ("seed", seed), ("timing", _settings(timing)),
                                              ("network", _settings(network)), ("node_class", node_class.__name__))
                                             + ((("options", tuple(self.options)),) if self.options else ())
                                             + ((("snapshot_every", snapshot_every),) if snapshot_every else ())
                                             + ((("snapshot_tail", snapshot_tail),) if snapshot_tail else ())
                                             + ((("retire_after", retire_after),) if retire_after else ())))
        for action in self._validate_schedule(schedule):
            self._push(action[0], _ACTION, tuple(action[1:]))
        for i in self.ids:
            self._boot(i)

    # ---- reading the cluster ----------------------------------------------

    @property
    def view(self) -> ClusterView:
        """The cluster as the trace shows it now: the safety monitor keeps the state it checks up to date as events
        happen; what only pictures show (messages in flight, deadlines, progress) is drawn now from the events
        since the last look (:meth:`ClusterView.draw`)."""
        monitor, view, cells = self.monitor, self._view, self._cells
        view.draw(self.trace.since(self._drawn, view._draws))
        self._drawn = monitor.events = len(cells) // _WIDTH  # the simulator hands the monitor every event
        view.time = cells[-_WIDTH] if cells else 0  # as observe() leaves it: the last event's time
        return view

    def up(self) -> list[int]:
        """Ids of the nodes that are running."""
        return [i for i in self.ids if self.nodes[i] is not None]

    def leader(self, among: Iterable[int] | None = None) -> int | None:
        """The running node (of ``among``, default all) that believes it leads the highest term, or None."""
        if among is not None and (isinstance(among, (str, bytes)) or not isinstance(among, Iterable)):
            raise ValueError(f"among must be a list of node ids; got {among!r}")
        nodes, best = self.nodes, None  # ``nodes`` holds every id of ``ids``, in the same order
        for node in nodes.values() if among is None else [nodes[self._check_id(i)] for i in among]:
            if node is not None and node.role == LEADER and (best is None or node.current_term > best.current_term):
                best = node
        return None if best is None else best.id

    def node(self, i: int) -> Server:
        """The running node ``i`` (an error if it is crashed)."""
        node = self.nodes[self._check_id(i)]
        if node is None:
            if i in self.retired:
                raise Refused(f"S{i} was removed from the cluster (§4.1) and has shut down")
            raise ValueError(f"S{i} is crashed; restart it first with cluster.restart({i})")
        return node

    # ---- time ---------------------------------------------------------------

    def step(self) -> list[Event]:
        """Process the next event on the heap and return the trace events it produced."""
        if not self._heap:
            return []
        start = len(self.trace)
        self._step()
        return self.trace.events[start:]

    def _step(self) -> None:
        time, _, _, kind, what, msg = heapq.heappop(self._heap)
        self.now = time
        if kind == _DELIVER:
            self._deliver(what, msg)  # type: ignore[arg-type]  # a delivery always carries its message
        elif kind == _TIMER:
            self._fire_timer(what, time)
        else:
            self._perform(what)

    def run(self, ms: int) -> None:
        """Advance virtual time by ``ms`` milliseconds, processing every event due by then."""
        if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
            raise ValueError(f"run() takes a whole number of milliseconds >= 0; got {ms!r}")
        end = self.now + ms
        heap = self._heap
        plain = type(self).step is Cluster.step
        step = self._step if plain else self.step  # a subclass may count steps
        ahead = self._step_ahead if plain else None  # the grader's stand-ins for a student's nodes take the steps of
        while heap and heap[0][0] <= end:  # a lookahead window in one call
            if ahead is not None:
                ahead(self, end)
            step()
        self.now = end

    def lookahead(self, end: int, most: int = 6) -> tuple[int, list[tuple[Server, Message | None, int]]]:
        """The node steps that may come next, in order, up to time ``end``: (the network's shortest delay, at most
        ``most`` steps [(node, the message it gets or None for its timer, time)]).

        Which of them do come next, whatever the nodes do, is decided step by step, as in parallel discrete-event
        simulation (a window that widens while nothing new is scheduled): no message sent from now on arrives before
        its send time + the shortest delay, a node's new timer fires at its new deadline, and only a scheduled
        action changes who is up and who reaches whom (the list stops before the first one). So whoever takes the
        steps takes them in order while each one's time is below a horizon, which starts past ``end`` and drops to
        t + the shortest delay after a step at t that sent a message, and to the new deadline after a step that
        moved the node's timer; and skips a timer whose node's deadline moved off it (:meth:`_fire_timer` does the
        same). Deliveries the network drops are left out. Empty with endpoints, snapshots, etcd's operations or
        membership changes (their steps reach beyond the nodes), or a network without delay; pre-vote and
        check-quorum keep it (they change what a node does at a step, never when its timer fires or a message
        arrives).
        """
        net = self.net
        shortest = min(net.delay[0], net.long_delay[0]) if net.long_delay_rate else net.delay[0]
        if (shortest <= 0 or not self._heap or self.endpoints or self._beyond or self._membership or self._retiring
                or self._clocks or self._paused):  # a drifting or paused clock times its node's steps itself
            return 0, []
        nodes, due, faulty = self.nodes, self._timer_due, self.cuts or self.groups
        steps: list[tuple[Server, Message | None, int]] = []
        heap, pop = self._heap[:], heapq.heappop  # a copy, taken in order only as far as needed
        while heap and len(steps) < most:
            time, is_action, _, kind, what, msg = pop(heap)
            if is_action or time > end:
                break
            if kind == _DELIVER:
                node = nodes.get(msg.dst)  # type: ignore[union-attr]
                if node is not None and not (faulty and self._blocked(msg.src, msg.dst)):  # type: ignore[union-attr]
                    steps.append((node, msg, time))
            else:
                node = nodes.get(what)
                if node is not None and node.deadline == time and due[what] == time:  # not stale already
                    steps.append((node, None, time))
        return shortest, steps

    def run_until(self, condition: Callable[["Cluster"], Any], within: int) -> bool:
        """Run until ``condition(cluster)`` is true or ``within`` ms pass; return whether it became true."""
        if isinstance(within, bool) or not isinstance(within, int) or within < 0:
            raise ValueError(f"within must be a whole number of milliseconds >= 0; got {within!r}")
        if not callable(condition):
            raise ValueError(f"run_until needs a condition: a function of the cluster, e.g. lambda c: c.leader(); "
                             f"got {condition!r}")
        end = self.now + within
        heap = self._heap
        step = self._step if type(self).step is Cluster.step else self.step  # a subclass may count steps
        while not condition(self):
            if not heap or heap[0][0] > end:
                self.now = end
                return bool(condition(self))
            step()
        return True

    # ---- faults (also usable from a schedule) --------------------------------

    def crash(self, i: int) -> None:
        """Crash node ``i``: volatile state is lost; its disk (``disks[i]``) keeps what it persisted."""
        self.node(i)
        self.nodes[i] = None
        self._timer_due[i] = None
        self._record(Event(self.now, "crash", node=i, text=f"S{i} crashed"))
        self._end_pause(i)

    def restart(self, i: int) -> None:
        """Restart crashed node ``i`` from its disk, as a follower (§5.2).

        The trace records what came back (term, vote, log length) and, as
        ``term``/``truncate``/``append`` events, whatever the node had not
        persisted before it crashed; the safety checks judge that loss.
        """
        if self.nodes[self._check_id(i)] is not None:
            raise ValueError(f"S{i} is running; only a crashed node can be restarted")
        if i in self.retired:
            raise Refused(f"S{i} was removed from the cluster (§4.1); it cannot restart")
        disk = self.disks[i]
        vote = f"voted for S{disk.voted_for}" if disk.voted_for is not None else "no vote"
        self._record(Event(self.now, "restart", node=i, value=(disk.current_term, disk.voted_for, len(disk.log)),
                           text=f"S{i} restarted from its disk: term {disk.current_term}, {vote}, "
                                f"{len(disk.log)} log entries"))
        self._record_lost(i, disk)
        self._boot(i)

    def _record_lost(self, i: int, disk: PersistentState) -> None:
        """Record how the disk differs from what S``i`` last held in memory: the state it never persisted."""
        seen = self._view.nodes[i]
        if disk.current_term != seen.term:
            self._record(Event(self.now, "term", node=i, term=disk.current_term, value=disk.current_term,
                               rule=LOST_IN_CRASH, text=f"S{i} is back in term {disk.current_term}: term {seen.term} "
                                                    "was never persisted"))
            if disk.voted_for is not None:
                self._record(Event(self.now, "vote", node=i, term=disk.current_term, peer=disk.voted_for, value=True,
                                   rule=LOST_IN_CRASH, text=f"S{i}'s disk holds its vote for S{disk.voted_for}"))
        old, new = seen.log, disk.log
        off = min(disk.offset, len(old))  # the disk's log starts after its compacted entries
        same = 0
        while off + same < len(old) and same < len(new) and old[off + same] == new[same]:
            same += 1
        if off + same < len(old):
            self._record(Event(self.now, "truncate", node=i, term=disk.current_term, index=off + same + 1,
                               rule=LOST_IN_CRASH, text=f"S{i} came back without its entries from index "
                                                        f"{off + same + 1} on: they were never persisted"))
        for pos in range(same, len(new)):
            self._record(Event(self.now, "append", node=i, term=disk.current_term, index=off + pos + 1, entry=new[pos],
                               rule=LOST_IN_CRASH, text=f"S{i}'s disk holds an older entry at index {off + pos + 1}"))

    def restart_all(self) -> None:
        """Restart every crashed node."""
        for i in self.ids:
            if self.nodes[i] is None and i not in self.retired:
                self.restart(i)

    def crash_leader(self) -> int | None:
        """Crash the current leader; return its id (None, and a note in the trace, when there is none)."""
        leader = self.leader()
        if leader is None:
            self._record(Event(self.now, "note", text="crash_leader: there was no leader to crash"))
        else:
            self.crash(leader)
        return leader

    def timeout_now(self, i: int) -> None:
        """Make follower or candidate ``i``'s election timer run out now (§5.2)."""
        node = self.node(i)
        if node.role == LEADER:
            raise ValueError(f"S{i} is the leader and runs no election timer; pick a follower or candidate")
        self._awake(i, "timeout_now")
        self._record(Event(self.now, "timeout_now", node=i, text=f"S{i}'s election timer was forced to run out"))
        try:
            node.on_timer(self._time_of(i))
        except _PASS_THROUGH:
            raise
        except Exception as err:
            self._node_failed(i, node, err, "its election timer was forced to run out")
        self._flush(node)

    def partition(self, *groups: Iterable[int]) -> None:
        """Cut the network into ``groups``; nodes listed nowhere form one more group together.

        Messages cross no group boundary, including those already in flight.
        """
        self.groups = self._groups(groups)
        text = " | ".join("{" + ",".join(f"S{i}" for i in g) + "}" for g in self.groups)
        self._record(Event(self.now, "partition", value=self.groups, text=f"network split into {text}"))

    def isolate(self, i: int) -> None:
        """Cut node ``i`` off from every other node."""
        self.partition([i])

    def cut(self, src: int, dst: int) -> None:
        """Cut the one-way link from ``src`` to ``dst`` (messages the other way still pass); either may be an attached
        endpoint (a client)."""
        self._check_link(src, dst)
        self.cuts.add((src, dst))
        self._record(Event(self.now, "cut", node=src, peer=dst, text=f"link S{src} → S{dst} cut"))

    def heal(self) -> None:
        """Remove every partition and link cut."""
        self.groups, self.cuts = (), set()
        self._record(Event(self.now, "heal", text="network healed"))

    def drop_next(self, src: int, dst: int, kind: str | None = None) -> None:
        """Lose the next message S``src`` sends to S``dst`` from now on (of ``kind``, e.g. ``"AppendEntriesReply"``,
        if given): one lost message, a fault of one schedule item (a :meth:`cut` loses every message until a heal)."""
        self._check_one_shot(src, dst, kind)
        self._once.append((src, dst, kind, None))
        what = "message" if kind is None else kind
        self._record(Event(self.now, "note", node=src, peer=dst, value=kind,
                           text=f"the next {what} from S{src} to S{dst} will be lost"))

    def delay_next(self, src: int, dst: int, ms: int, kind: str | None = None) -> None:
        """Slow down the next message S``src`` sends to S``dst`` from now on (of ``kind``, if given) by ``ms``
        milliseconds more than the network's delay: one late message, a fault of one schedule item."""
        self._check_one_shot(src, dst, kind)
        _extra_delay(ms)
        self._once.append((src, dst, kind, ms))
        what = "message" if kind is None else kind
        self._record(Event(self.now, "note", node=src, peer=dst, value=ms,
                           text=f"the next {what} from S{src} to S{dst} will take {ms} ms longer"))

    def _check_one_shot(self, src: Any, dst: Any, kind: Any) -> None:
        self._check_id(src), self._check_id(dst)
        if src == dst:
            raise ValueError(f"a message goes from one node to another; got S{src} to itself")
        _message_kind(kind)

    def _one_shot(self, m: Message) -> _OneShot | None:
        """The oldest drop_next / delay_next item that ``m`` matches, used up (None: none does)."""
        for k, rule in enumerate(self._once):
            if rule[0] == m.src and rule[1] == m.dst and (rule[2] is None or rule[2] == type(m).__name__):
                del self._once[k]
                return rule
        return None

    def set_network(self, **changes: Any) -> None:
        """Change network settings from now on, e.g. ``cluster.set_network(drop_rate=0.1)``."""
        self._check_network(changes)
        self.net = replace(self.net, **changes)
        self._record(Event(self.now, "set_network", value=tuple(sorted(changes.items())),
                           text="network changed: " + ", ".join(f"{k}={v}" for k, v in sorted(changes.items()))))

    def set_clock_rate(self, i: int, rate: float) -> None:
        """Make server ``i``'s clock run ``rate`` times as fast as true time from now on: clock drift.

        ``rate`` 0.5 is a clock running slow (a 150 ms timeout then lasts 300 ms), 1.5 one running fast, 1 an exact
        one again. The server times everything on its own clock -- election timeouts, heartbeats, a lease (its
        ``now`` is what its clock shows) -- while the trace keeps true time. Raft's safety does not depend on clocks
        (§5.6); a lease does (dissertation §6.4.1). A crashed server's clock runs on, and the rate stays.
        """
        self._check_id(i)
        _clock_rate(rate)
        self._clocks.setdefault(i, Clock()).set_rate(rate, self.now)
        how = "keeps true time" if rate == 1 else f"runs {'slow' if rate < 1 else 'fast'}: {rate} ms on it per true ms"
        self._record(Event(self.now, "clock", node=i, value=rate, text=f"S{i}'s clock now {how}"))
        node = self.nodes[i]
        if node is not None:
            if node.deadline is not None:  # the picture's deadline moves with the clock
                self._record(new_event((self.now, "timer", i, node.current_term, None, None, None,
                                        self._clocks[i].when(node.deadline, self.now), None, None, "clock drift", "")))
            self._flush(node)  # its timer runs out when its clock reaches it: later or sooner now

    def pause(self, i: int, ms: int) -> None:
        """Stop server ``i``'s process for ``ms`` ms, as a long garbage-collection pause or a stopped VM does.

        Nothing runs on it: no timer fires, no message is handled (they wait for it, in order), and its clock stands
        still. It resumes believing no time passed: its clock goes on from where it stood, ``ms`` behind -- a lease
        it held looks valid ``ms`` longer. (etcd's raft counts time in ticks of a Go ``time.Ticker``, which drops the
        ticks a stalled process misses: a paused etcd node lags the same way.) Then it handles the messages that
        waited, in order. Crashing it ends the pause; the messages that waited are lost. A server that is down or
        already paused cannot pause (:class:`Refused`; in a schedule, a note).
        """
        if self.nodes[self._check_id(i)] is None:  # a state, not a bad argument: in a schedule, a note
            raise Refused(f"S{i} is {'removed' if i in self.retired else 'crashed'}: only a running server's process "
                          "can pause")
        _pause_length(ms)
        if i in self._paused:
            raise Refused(f"S{i} is already paused until t={self._paused[i][0]} ms")
        clock = self._clocks.setdefault(i, Clock())
        clock.freeze(self.now)
        self._paused[i] = (self.now + ms, [])
        self._timer_due[i] = None  # no timer fires while it is paused
        self._record(Event(self.now, "pause", node=i, value=ms,
                           text=f"S{i}'s process is paused for {ms} ms (a GC pause): no timer fires, messages wait, "
                                f"its clock stands still at {clock.frozen} ms"))
        self._push(self.now + ms, _ACTION, ("_resume", i, self.now + ms))

    def _resume(self, i: int, until: int) -> None:
        """The end of S``i``'s pause (if it is still paused, not crashed meanwhile): its clock goes on from where it
        stood, then it handles the messages that waited, in order, and its timer runs on its clock."""
        held = self._paused.get(i)
        if held is None or held[0] != until:
            return  # it crashed during the pause (and maybe was paused again since)
        clock = self._clocks[i]
        del self._paused[i]
        clock.resume(self.now)
        self._record(Event(self.now, "resume", node=i, value=len(held[1]),
                           text=f"S{i} resumed, believing no time passed: its clock shows {clock.read(self.now)} ms, "
                                f"at true time {self.now} ms; {len(held[1])} message(s) waited for it"))
        for msg_id, m in held[1]:
            self._deliver(msg_id, m)
        node = self.nodes[i]
        if node is not None:
            self._flush(node)  # its timer, on its clock

    def _end_pause(self, i: int) -> None:
        """S``i`` went down during a pause (crashed or shut down): the messages that waited are lost with it; the
        machine's clock goes on (:meth:`_resume` then finds no pause)."""
        if self._paused and i in self._paused:
            for msg_id, m in self._paused.pop(i)[1]:
                self._record(Event(self.now, "drop", i, None, m.src, None, None, "receiver is down", m, msg_id))
            self._clocks[i].resume(self.now)

    def _time_of(self, i: int) -> int:
        """What server ``i`` believes the time is: true time, unless its clock drifts or its process was paused."""
        clock = self._clocks.get(i)
        return self.now if clock is None else clock.read(self.now)

    def _on_true_time(self, i: int, events: list[Event]) -> list[Event]:
        """Server ``i``'s events, which it stamped with its own clock, at true time; a timer at the true time its
        clock reaches the deadline (the trace, pictures and checks keep one time)."""
        clock, now = self._clocks[i], self.now
        return [new_event((now, *e[1:7], clock.when(e[7], now) if e[1] == "timer" and e[7] is not None else e[7],
                           *e[8:])) for e in events]

    def _awake(self, i: int, what: str) -> None:
        """:class:`Refused` when server ``i``'s process is paused: it can do nothing until it resumes."""
        if i in self._paused:
            raise Refused(f"{what}: S{i} is paused until t={self._paused[i][0]} ms")

    # ---- etcd's operations (dissertation §3.10, ch. 4); also usable from a schedule ------

    def _leader_for(self, what: str) -> _RunsExtensions:
        """The current leader, or :class:`Refused` saying that ``what`` needs one."""
        leader = self.leader()
        if leader is None:
            raise Refused(f"{what} needs a leader and there is none right now")
        self._awake(leader, what)
        node = self.node(leader)
        if not _runs_extensions(node):  # a RaftNode, or a server declaring the extensions (the grader's remote nodes)
            raise Refused(f"{what} is one of etcd's operations of raftedu's RaftNode; {type(node).__name__} is a "
                          "server of its own (Figure 2 only)")
        return node

    def _member(self, i: Any) -> int:
        """``i`` as a server id: a positive whole number (whether it is a member is the leader's to say)."""
        if isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= MAX_NODES:
            raise ValueError(f"a server id is a whole number from 1 to {MAX_NODES}; got {i!r}")
        return i

    def transfer_leadership(self, to: int) -> None:
        """Ask the leader to hand leadership to voter ``to`` (dissertation §3.10, ``etcdctl move-leader``).

        The leader stops taking client requests, brings ``to``'s log up to
        date and sends it TimeoutNow; ``to`` starts an election at once. The
        leader gives up after a minimum election timeout. A crashed or removed
        target is refused here; whether ``to`` is a voter is the leader's to
        say (its configuration), and the safety monitor checks what it says.
        """
        leader = self._leader_for("a leadership transfer")
        to = self._member(to)
        if to == leader.id:
            raise Refused(f"S{to} already leads; transfer to another voter")
        if to in self.retired or to in self._removed:
            raise Refused(f"S{to} was removed from the cluster (§4.1); only a voter can take over")
        if to in self.nodes and self.nodes[to] is None:
            raise Refused(f"S{to} is crashed: it can neither catch up nor start an election; restart it first "
                          f"(cluster.restart({to})) or pick a running voter")
        if leader.transferee is not None:
            raise Refused(f"S{leader.id} is already handing leadership to S{leader.transferee}")
        self._record(Event(self.now, "transfer_request", node=leader.id, peer=to,
                           text=f"asked leader S{leader.id} to hand leadership to S{to}"))
        self._enable_extensions(membership=False)
        try:
            leader.transfer_leadership(to, self._time_of(leader.id))
        except _PASS_THROUGH:
            raise
        except ValueError as refusal:  # the leader's own answer (§3.10: only to another voter of its configuration)
            self._flush(leader)
            raise Refused(f"leader S{leader.id} refused: {refusal}") from None
        except Exception as err:
            self._node_failed(leader.id, leader, err, f"asked to hand leadership to S{to}")
        self._flush(leader)

    def _change_configuration(self, what: str, make: Callable[[ConfigChange], ConfigChange]
                              ) -> tuple[_RunsExtensions, int]:
        """Have the leader append the configuration ``make(current)`` (§4.1); :class:`Refused` when it cannot."""
        leader = self._leader_for(what)
        why = leader.configuration_change_refused()
        if why is not None:
            raise Refused(f"{what}: {why}")
        self._enable_extensions(membership=True)
        config = make(leader.config)
        index = leader.propose_configuration(config, self._time_of(leader.id))
        self._flush(leader)
        assert index is not None
        return leader, index

    def _enable_extensions(self, membership: bool) -> None:
        """From the first etcd operation on, every node runs the extension hooks; from the first configuration
        change on, every node reads its configuration from its log (§4.1)."""
        self._beyond = True  # no lookahead windows from now on (:meth:`lookahead`)
        if self._extended and self._membership >= membership:
            return
        self._extended, self._membership = True, self._membership or membership
        for node in self.nodes.values():
            if node is not None:  # every node runs the extensions: checked by _leader_for and snapshot before
                cast(_RunsExtensions, node).enable(membership=self._membership)
                self._flush(node)

    def add_server(self) -> int:
        """Start a new server and add it as a learner (dissertation §4.1, §4.2.1); return its id (n + 1).

        The learner receives the log but does not vote or count for a
        majority until :meth:`promote` makes it a voter. Like ``etcdctl
        member add --learner``.
        """
        if self.n >= MAX_NODES:
            raise Refused(f"a cluster has at most {MAX_NODES} servers")
        leader = self._leader_for("adding a server")
        why = leader.configuration_change_refused()
        if why is not None:
            raise Refused(f"adding a server: {why}")
        new = self.n + 1
        self.n, self.ids = new, (*self.ids, new)
        self.disks[new] = PersistentState()
        self.nodes[new] = None
        self._node_rngs[new] = random.Random(f"raftedu:{self.seed}:node:{new}")
        self._record(Event(self.now, "server_added", node=new, text=f"S{new} started, empty, to join as a learner"))
        self._enable_extensions(membership=True)
        self._boot(new)
        self._change_configuration(f"adding S{new}", lambda c: ConfigChange(c.voters, (*c.learners, new)))
        return new

    def promote(self, i: int) -> None:
        """Make learner ``i`` a voter (§4.2.1, ``etcdctl member promote``) once its log has caught up."""
        leader = self._leader_for("a promotion")
        i = self._member(i)
        why = leader.promotion_refused(i)  # the leader's rule (§4.2.1): a learner, caught up, no change in flight
        if why is not None:
            raise Refused(f"promoting S{i}: {why}")
        self._change_configuration(f"promoting S{i}", lambda c: ConfigChange(
            tuple(sorted((*c.voters, i))), tuple(v for v in c.learners if v != i)))

    def remove_server(self, i: int) -> None:
        """Remove server ``i`` (§4.1, ``etcdctl member remove``); it shuts down once the change commits.

        Removing the leader: it keeps leading until the change commits, not
        counting itself, then steps down (§4.2.2).
        """
        leader = self._leader_for("removing a server")
        i = self._member(i)
        config = leader.config
        if i not in config.voters and i not in config.learners:
            raise Refused(f"S{i} is not in leader S{leader.id}'s configuration")
        if config.voters == (i,):
            raise Refused(f"S{i} is the only voter; a cluster needs at least one")
        _, index = self._change_configuration(f"removing S{i}", lambda c: ConfigChange(
            tuple(v for v in c.voters if v != i), tuple(v for v in c.learners if v != i)))
        self._retiring[i] = (index, leader.config)
        self._retire_removed()

    def snapshot(self, i: int) -> None:
        """Have server ``i`` snapshot its state machine now and compact its log (dissertation §5.1), whatever
        ``snapshot_every`` says; from then on its leader sends InstallSnapshot to a follower that lags behind."""
        i = self._member(i)
        node = self.nodes.get(i)
        if node is None:
            raise Refused(f"S{i} is {'removed' if i in self.retired else 'crashed' if i in self.nodes else 'unknown'}"
                          ": only a running server takes a snapshot")
        if not _runs_extensions(node):
            raise Refused(f"snapshots are an option of raftedu's RaftNode; {type(node).__name__} is a server of its own "
                          "(Figure 2 only)")
        if node.last_applied <= node.snapshot_index:
            raise Refused(f"S{i} has applied nothing since its last snapshot (index {node.snapshot_index})")
        self._awake(i, "a snapshot")
        self._enable_extensions(membership=False)  # InstallSnapshot is handled by the extension hooks
        try:
            node.take_snapshot()
        except _PASS_THROUGH:
            raise
        except Exception as err:
            self._node_failed(i, node, err, "taking a snapshot")
        self._flush(node)

    def _retire_removed(self) -> None:
        """Shut down every server whose removal has committed somewhere (etcd: a removed member stops), at once or,
        with ``retire_after``, that many ms later: until then it runs on, like a server that has not learned of its
        removal (dissertation §4.2.3)."""
        for i, (index, config) in list(self._retiring.items()):
            for node in self.nodes.values():  # the view's log: entries a node compacted are still drawn there
                if node is not None and node.commit_index >= index and self._view.nodes[node.id].log[index - 1].command == config:
                    del self._retiring[i]
                    if self.retire_after:
                        self._removed.add(i)
                        self._push(self.now + self.retire_after, _ACTION, ("_retire", i))
                        self._record(Event(self.now, "note", node=i, text=f"S{i}'s removal is committed; it keeps "
                                           f"running for {self.retire_after} ms, until it learns of it (§4.2.3)"))
                    else:
                        self._retire(i)
                    break

    def _retire(self, i: int) -> None:
        """Shut removed server ``i`` down for good (crashed or not)."""
        self._removed.discard(i)
        if self.nodes[i] is not None:
            self.nodes[i] = None
            self._timer_due[i] = None
        self.retired.add(i)
        self._record(Event(self.now, "server_removed", node=i, text=f"S{i} was removed from the cluster and shut down"))
        self._end_pause(i)

    # ---- clients ---------------------------------------------------------------

    def attach(self, endpoint: Endpoint) -> None:
        """Add a participant that is not a Raft node (e.g. a client) with an id above ``n``.

        It speaks the node protocol (``receive``, ``on_timer``, ``deadline``,
        ``take_output``), its messages travel the same simulated network,
        one-way cuts apply to it, partitions do not.
        """
        missing = [name for name in ("id", "deadline", "receive", "on_timer", "take_output") if not hasattr(endpoint, name)]
        if missing:
            raise TypeError(f"attach() needs an endpoint with id, deadline, receive, on_timer and take_output; "
                            f"{type(endpoint).__name__} lacks {', '.join(missing)}")
        if isinstance(endpoint.id, bool) or not isinstance(endpoint.id, int):
            raise ValueError(f"an endpoint's id must be a whole number above {self.n}; got {endpoint.id!r}")
        if endpoint.id in self.nodes or endpoint.id in self.endpoints or endpoint.id <= 0:
            raise ValueError(f"endpoint id {endpoint.id} is taken or invalid: use an id above {self.n}, not in use")
        self.endpoints[endpoint.id] = endpoint
        self._timer_due[endpoint.id] = None
        self._flush(endpoint)

    def request(self, command: Any, node: int | None = None) -> ClientRequest:
        """Send a client command to ``node`` (default: the current leader) and return its tracking record.

        The request is ``rejected`` when there is no leader or ``node`` is not
        the leader; ``committed`` once that leader applies it; ``lost`` if the
        leader's entry is overwritten by another leader's.
        """
        if node is not None:
            self.node(node)
        target = self.leader() if node is None else node
        paused = target is not None and target in self._paused
        req = ClientRequest(len(self.requests) + 1, command, self.now, target)
        self.requests.append(req)
        self._record(new_event((self.now, "client_request", target, None, None, None, None, command, None, None, "",
                                _CLIENT_SENT if target else _CLIENT_UNSENT)))
        leader = None if target is None or paused else self.nodes[target]  # running: the leader, or checked above
        index = None
        if target is not None and leader is not None:
            try:
                index = leader.propose(command, self._time_of(target))
            except _PASS_THROUGH:
                raise
            except Exception as err:
                self._node_failed(target, leader, err, f"proposing the client command {command!r}")
        if target is None or leader is None or index is None:
            req.status = "rejected"
            req.reason = ("no leader" if target is None else f"S{target} is paused: its process is stopped" if paused
                          else f"S{target} is not the leader"
                          if getattr(self.nodes[target], "transferee", None) is None
                          else f"S{target} is handing leadership over (§3.10)")
            self._record(Event(self.now, "client_reply", node=target, value="rejected", text=req.reason))
            return req
        req.index, req.term = index, leader.current_term
        self._pending[(target, index)] = req
        self._flush(leader)
        return req

    def sync(self, endpoint_id: int) -> None:
        """Collect the output and re-arm the timer of an attached endpoint that was changed from outside."""
        if endpoint_id not in self.endpoints:
            raise ValueError(f"no endpoint {endpoint_id} is attached; attached: {sorted(self.endpoints)}")
        self._flush(self.endpoints[endpoint_id])

    # ---- internals ---------------------------------------------------------------

    def _check_id(self, i: Any) -> int:
        if isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= self.n:
            raise ValueError(f"unknown node id {i!r}: this cluster has nodes 1..{self.n}")
        return i

    def _check_link(self, src: Any, dst: Any) -> None:
        for i in (src, dst):  # a server, or an attached endpoint (a client: one-way cuts apply to it)
            if not (type(i) is int and i in self.endpoints):
                self._check_id(i)
        if src == dst:
            raise ValueError(f"cut() needs two different nodes; got {src!r} twice")

    def _check_network(self, changes: Any) -> None:
        """Network settings must be known names with allowed values (checked by building a :class:`Network`)."""
        if not isinstance(changes, dict):
            raise ValueError(f"set_network takes settings by name, e.g. {{'drop_rate': 0.1}}; got {changes!r}")
        allowed = Network.__dataclass_fields__
        unknown = sorted(set(changes) - set(allowed))
        if unknown:
            raise ValueError(f"unknown network setting(s) {unknown}; allowed: {', '.join(allowed)}")
        replace(Network(), **changes)

    def _groups(self, groups: tuple[Any, ...]) -> tuple[tuple[int, ...], ...]:
        """Check partition groups (lists of node ids, none empty, none sharing a node); add the nodes listed nowhere."""
        if not groups:
            raise ValueError("partition() needs at least one group of node ids, e.g. partition([1, 2], [3, 4, 5])")
        seen: set[int] = set()
        clean = []
        for group in groups:
            if isinstance(group, (str, bytes, dict)) or not isinstance(group, Iterable):
                raise ValueError("each partition group is a list of node ids, e.g. partition([1, 2], [3, 4, 5]); "
                                 f"got {group!r} in partition{tuple(groups)!r}")
            members = sorted(self._check_id(i) for i in group)
            if not members:
                raise ValueError("partition groups must not be empty")
            overlap = seen.intersection(members)
            if overlap:
                raise ValueError(f"partition groups overlap: {', '.join(f'S{i}' for i in sorted(overlap))} "
                                 "appear in more than one group; each node may be in one group only")
            seen.update(members)
            clean.append(tuple(members))
        rest = tuple(i for i in self.ids if i not in seen)
        if rest:
            clean.append(rest)
        return tuple(clean)

    def _check_action(self, name: str, args: tuple[Any, ...]) -> None:
        """Raise ValueError unless ``cluster.<name>(*args)`` is given arguments it accepts.

        Only the arguments are checked here; whether the action can run (a
        node to crash must be up, ...) depends on the state when it runs.
        """
        if name == "set_network":
            if len(args) != 1:
                raise ValueError(f"set_network takes one dict of settings, e.g. (t, 'set_network', "
                                 f"{{'drop_rate': 0.1}}); got {len(args)} argument(s)")
            self._check_network(args[0])
            return
        signature = _signature(name)
        try:
            signature.bind(self, *args)
        except TypeError:
            wanted = ", ".join(str(p) for p in list(signature.parameters.values())[1:])
            raise ValueError(f"{name} takes ({wanted}); got {len(args)} argument(s): {args!r}") from None
        if name in ("crash", "restart", "timeout_now", "isolate"):
            self._check_id(args[0])
        elif name == "cut":
            self._check_link(*args)
        elif name == "partition":
            self._groups(args)
        elif name in ("drop_next", "delay_next"):
            self._check_one_shot(args[0], args[1], args[-1] if len(args) == (3 if name == "drop_next" else 4) else None)
            if name == "delay_next":
                _extra_delay(args[2])
        elif name in ("set_clock_rate", "pause"):
            self._check_id(args[0])
            (_clock_rate if name == "set_clock_rate" else _pause_length)(args[1])
        elif name in ("snapshot", "transfer_leadership", "promote", "remove_server"):
            self._member(args[0])  # servers may join later: any id a cluster can have
        elif name == "request" and len(args) > 1 and args[1] is not None:
            self._check_id(args[1])

    def _validate_schedule(self, schedule: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
        if isinstance(schedule, (str, bytes, dict)) or not isinstance(schedule, Iterable):
            raise ValueError(f"schedule must be a list of (time_ms, action, *args); got {schedule!r}")
        actions = []
        for k, item in enumerate(schedule):
            if not isinstance(item, (tuple, list)) or len(item) < 2:
                raise ValueError(f"schedule item {k} must be (time_ms, action, *args); got {item!r}")
            time, name = item[0], item[1]
            if isinstance(time, bool) or not isinstance(time, int) or time < 0:
                raise ValueError(f"schedule item {k} {tuple(item)!r}: time must be whole milliseconds >= 0; got {time!r}")
            if name not in ACTIONS:
                raise ValueError(f"schedule item {k} {tuple(item)!r}: unknown action {name!r}; "
                                 f"allowed: {', '.join(ACTIONS)}")
            try:
                self._check_action(name, tuple(item[2:]))
            except ValueError as e:
                raise ValueError(f"schedule item {k} {tuple(item)!r}: {e}") from None
            actions.append(tuple(item))
        return actions

    def _perform(self, action: tuple[Any, ...]) -> None:
        name, args = action[0], action[1:]
        try:
            if name == "set_network":
                self.set_network(**args[0])
            else:
                getattr(self, name)(*args)
        except Refused as e:
            self._record(Event(self.now, "note", text=f"{name} refused: {e}"))
        except ValueError as e:
            raise ValueError(f"schedule item {(self.now, *action)!r} could not run at t={self.now} ms: {e}") from None

    def _push(self, time: int, kind: int, what: Any, msg: Message | None = None) -> None:
        # Scheduled actions at time t run after everything else due at t, exactly like a call made after run(t).
        self._seq += 1
        heapq.heappush(self._heap, (time, kind == _ACTION, self._seq, kind, what, msg))

    def _record(self, event: Event) -> None:
        self._record_all((event,))

    def _record_all(self, events: Sequence[Event]) -> None:
        """Append ``events`` to the trace one at a time, each checked by the safety monitor as it is appended
        (:meth:`SafetyMonitor.observe`, inlined: this runs for every event; :attr:`view` sets the monitor's
        ``time`` and ``events`` when read)."""
        extend, check_of, pending = self._cells.extend, self._checks.get, self._pending
        for e in events:
            extend(e)  # Trace.append, inlined: an event is the tuple of its stored fields
            kind = e.kind
            check = check_of(kind)  # looked up for each event: the monitor adds checks as a run goes
            if check is not None:
                check(e)
            if kind == "apply" and pending:
                req = pending.pop((e.node, e.index), None)  # type: ignore[arg-type]  # an apply has both
                if req is not None:
                    self._settle_request(req, e)

    def _settle_request(self, req: ClientRequest, e: Event) -> None:
        req.replied = self.now
        if e.entry.term == req.term and e.entry.command == req.command:  # type: ignore[union-attr]  # an apply's entry
            req.status = "committed"
            text: tuple[str, tuple[Any, ...]] = ("S{} answered the client: {!r} is committed at index {}",
                                                 (e.node, req.command, e.index))
        else:
            req.status, req.reason = "lost", "another leader's entry took its place"
            text = ("{!r} was overwritten at index {}; the client must retry", (req.command, e.index))
        self._record(new_event((self.now, "client_reply", e.node, None, None, e.index, None, req.status, None, None, "",
                                text)))

    def _boot(self, i: int) -> None:
        options = dict(self.options, membership=self._membership) if self._extended else None
        # the grader's stand-ins for a student's nodes are created and switched on in one call to their sandbox
        early = {"enable": options} if options is not None and getattr(self.node_class, "enables_at_boot", False) \
            else {}
        try:
            node = cast(Any, self.node_class)(i, self.initial_ids, rng=self._node_rngs[i], timing=self.timing,
                                              state=self.disks[i], now=self._time_of(i), **early)
        except _PASS_THROUGH:
            raise
        except Exception as err:
            self._node_failed(i, None, err, "starting up")
        self.nodes[i] = node
        if options is not None:  # only when the nodes run the extensions (checked by __init__, _leader_for, snapshot)
            cast(_RunsExtensions, node).enable(**options)
        self._timer_due[i] = None
        self._logs.pop(i, None)  # the first look compares the whole log
        self._machine[i] = 0
        self._trusted = _shipped_reference(self.node_class)  # checked again at each boot: a patch made meanwhile
        self._flush(node)

    def _node_failed(self, i: int, node: Server | _RunsExtensions | None, err: Exception, doing: str) -> NoReturn:
        """A node raised inside a step: record what it did up to then, then stop the run with :class:`NodeFailure`.

        The state changes made before the exception are recorded and checked
        first, so a safety violation (say a commitIndex past the log, which
        then fails on indexing) is reported as that violation.
        """
        if node is not None:
            _, events = node.take_output()
            self._record_output(node, events)
        where = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
        at = f" (at {os.path.basename(where.filename)}:{where.lineno} in {where.name})" if where else ""
        term = node.current_term if node is not None else None
        what = f"S{i} raised {type(err).__name__}: {err} while {doing}{at}"
        try:
            self._record(Event(self.now, "failure", i, term, value=what, text=what))
        except NodeFailure as failure:
            failure.error, failure.trace = err, self.trace
            raise failure from err
        raise AssertionError("the safety monitor did not stop the run at a node failure")  # pragma: no cover

    def _flush(self, node: Endpoint) -> None:
        """Record a node's events, put its messages on the wire, (re)arm its timer."""
        msgs, events = node.take_output()
        self._record_output(node, events)
        if msgs:
            self._transmit(msgs)
        if self._retiring:
            self._retire_removed()
        deadline, due = node.deadline, self._timer_due
        if self._clocks and deadline is not None and node.id in self._clocks:  # set on its own clock
            deadline = None if node.id in self._paused else self._clocks[node.id].when(deadline, self.now)
        if due[node.id] != deadline:
            due[node.id] = deadline
            if deadline is not None:  # _push, inlined: a follower's timer is re-armed at every AppendEntries
                self._seq = seq = self._seq + 1
                heapq.heappush(self._heap, (deadline, False, seq, _TIMER, node.id, None))

    def _record_output(self, node: Endpoint, events: list[Event]) -> None:
        """Record the events of one step; for a Raft node, also whatever it changed without reporting it."""
        if self._clocks and events and node.id in self._clocks:
            events = self._on_true_time(node.id, events)
        if type(node) is RaftNode and self._trusted:  # the reference as shipped reports every change itself, in order
            self._record_all(events)
            if not node.extended:  # Figure 2's: only its state machine is compared with its log (tests/test_sim.py
                n = node.last_applied  # runs it and a subclass, which gets every comparison, to the same trace)
                if n != self._machine[node.id] or len(node.applied) != n:
                    self._check_machine(node)
                return
            self._reconcile(node)  # the extensions' changes are compared after the step, as for every server
        elif isinstance(node, Server):  # any other server: its unreported changes are recorded before each event
            record, reconcile = self._record, self._reconcile
            last_role = max((k for k, e in enumerate(events) if e.kind == "role"), default=-1)
            for k, e in enumerate(events):
                before = _STAGE_OF.get(e.kind)
                if before is not None:  # a role the node reports later in the step is not taken ahead of it (a
                    reconcile(node, before, k < last_role)  # candidate's own vote comes before it leads, §5.2)
                record(e)
            reconcile(node)  # always: whatever the node did not report is recorded now
        else:
            self._record_all(events)

    def _reconcile(self, node: Server, before: str = "end", role_reported_later: bool = False) -> None:
        """Record any state change the node made without reporting it, so checks see what really happened.

        The reference node reports every change itself; an exercise or a
        broken variant may not, and must not slip past the safety checks.
        State is compared in the order a step changes it (term, role, vote,
        log, commit, apply); with ``before`` set to one of those stages only
        the earlier ones are brought up to date, so that an event the node
        did report (say a commit) is never checked against a log the node
        changed silently. The log is compared from the lowest position the
        node changed other than by appending (:class:`~raftedu.raft.Log`
        keeps it), so an unchanged log costs nothing to compare. With
        ``role_reported_later`` the role is left alone: a role event of the
        same step will bring it (a one-voter candidate votes for itself, then
        leads), and what it leaves out is recorded at the end of the step.
        """
        seen = self._view.nodes[node.id]
        state = node.state
        log = state.log
        snap = state.snapshot  # the view keeps full logs: a node's log starts after its compacted entries (§5.1)
        if (state.current_term == seen.term and node.role == seen.role
                and (state.voted_for is None or state.voted_for == seen.voted_for)
                and type(log) is Log and log.low == _UNTOUCHED
                and len(log) + state.offset == len(seen.log)
                and snap is seen.snapshot
                and log is self._logs.get(node.id)
                and node.commit_index == seen.commit_index and node.last_applied == seen.last_applied):
            if before == "end":
                self._check_machine(node)
            return
        stages = _EARLIER[before]

        def record(kind: str, **fields: Any) -> None:
            self._record(Event(self.now, kind, node=node.id, term=node.current_term, rule=_QUIET, **fields))

        if "term" in stages and node.current_term != seen.term:
            record("term", value=node.current_term)
        if "role" in stages and node.role != seen.role and not role_reported_later:
            record("role", value=node.role)
        if "vote" in stages and node.voted_for is not None and node.voted_for != seen.voted_for:
            record("vote", peer=node.voted_for, value=True)
        if "log" in stages:
            off = state.offset
            if snap is not seen.snapshot and snap is not None and not seen.holds(snap):
                if len(seen.log) > snap.index:  # Figure 5.3 step 7: a log without the snapshot's last entry is
                    record("truncate", index=snap.index + 1)  # discarded first, as the reference notes it
                record("install", index=snap.index, value=snap)  # the view's log must reach the snapshot to line up
            old = seen.log
            tracked = type(log) is Log and log is self._logs.get(node.id)
            if not tracked:
                self._machine[node.id] = 0  # a new log object (say, an installed snapshot): compare everything
            same = min(log.low, len(old) - off, len(log)) if tracked else 0  # type: ignore[attr-defined]  # a Log
            while same < min(len(log), len(old) - off) and log[same] == old[off + same]:
                same += 1
            if off + same < len(old):
                record("truncate", index=off + same + 1)
            for pos in range(same, len(log)):
                record("append", index=off + pos + 1, entry=log[pos])
            if type(log) is not Log:
                log = state.log = Log(log)
            log.low = _UNTOUCHED
            self._logs[node.id] = log
        if "commit" in stages and node.commit_index != seen.commit_index:
            record("commit", index=node.commit_index)
        if "apply" in stages:
            if node.last_applied < seen.last_applied:
                record("apply", index=node.last_applied,
                       entry=seen.log[node.last_applied - 1] if 0 < node.last_applied <= len(seen.log) else None)
            for index in range(seen.last_applied + 1, node.last_applied + 1):
                record("apply", index=index, entry=seen.log[index - 1] if index <= len(seen.log) else None)
        if "snapshot" in stages and snap is not seen.snapshot and snap is not None:
            record("snapshot", index=snap.index, value=snap)
        if before == "end":
            self._check_machine(node)

    def _check_machine(self, node: Server) -> None:
        """Compare what the node's state machine applied (``node.applied``) with its log up to lastApplied.

        Only commands applied since the last look are compared. When they
        depart from the log (an entry applied twice, skipped, or out of
        order), the whole state machine is recorded as a ``machine`` event,
        which the safety monitor judges ("State machine = log").
        """
        applied = getattr(node, "applied", None)
        n = node.last_applied
        done = self._machine.get(node.id, 0)
        if applied is None or len(applied) == n == done:
            return
        log = self._view.nodes[node.id].log  # the node's whole log as recorded, its snapshot's entries included
        if len(applied) == n <= len(log) and done <= n and applied[done:n] == list(map(_command, log[done:n])):
            self._machine[node.id] = n  # (list equality compares item by item, each by identity first, then ==)
            return
        self._record(Event(self.now, "machine", node.id, node.current_term, None, n, None, tuple(applied), None, None,
                           _QUIET, f"S{node.id}'s state machine holds {len(applied)} commands, lastApplied is {n}"))
        self._machine[node.id] = n

    def _blocked(self, src: int, dst: int) -> str | None:
        if (src, dst) in self.cuts:
            return f"link S{src} → S{dst} is cut"
        if src in self.nodes and dst in self.nodes:  # attached endpoints (clients) stand outside partitions
            for group in self.groups:
                if (src in group) != (dst in group):
                    return "partition"
        return None

    def _party(self, i: int) -> Endpoint | None:
        """The running node or attached endpoint with id ``i`` (None when crashed)."""
        return self.nodes[i] if i in self.nodes else self.endpoints[i]

    def _transmit(self, msgs: list[Message]) -> None:
        """Put one step's messages on the wire, in order: each is recorded as sent (checked like every event),
        then lost, duplicated or delayed as the network's settings draw it."""
        net, rand, randbelow, now, heap = self.net, self._rng.random, self._randbelow, self.now, self._heap
        extend, check_send = self._cells.extend, self._checks["send"]  # _record_all, inlined for one event
        faulty, once = self.cuts or self.groups, self._once
        duplicate_rate, long_delay_rate, drop_rate = net.duplicate_rate, net.long_delay_rate, net.drop_rate
        low, high = net.delay
        for m in msgs:
            copies = 2 if duplicate_rate and rand() < duplicate_rate else 1
            for copy in range(copies):
                self._msg_ids = msg_id = self._msg_ids + 1
                lo, hi = net.long_delay if long_delay_rate and rand() < long_delay_rate else (low, high)
                due = now + lo + randbelow(hi - lo + 1)  # = randint(lo, hi), the same draws, less overhead
                shot = self._one_shot(m) if once and not copy else None  # a drop_next / delay_next item
                late = ""
                if shot is not None and shot[3] is not None:
                    due += shot[3]
                    late = f"a delay_next item: {shot[3]} ms late"  # the send's rule (the timeline says it)
                e = new_event((now, "send", m.src, m.term, m.dst, None, None, due, m, msg_id,
                               late, "duplicate" if copy else ""))
                extend(e)
                check_send(e)
                why = self._blocked(m.src, m.dst) if faulty else None
                if why is None and drop_rate and rand() < drop_rate:
                    why = "lost"
                if why is None and shot is not None and shot[3] is None:
                    why = "lost (a drop_next item)"
                if why:
                    self._record(Event(now, "drop", m.dst, None, m.src, None, None, why, m, msg_id))
                else:
                    self._seq = seq = self._seq + 1
                    heapq.heappush(heap, (due, False, seq, _DELIVER, msg_id, m))

    def _deliver(self, msg_id: int, m: Message) -> None:
        nodes, dst, src = self.nodes, m.dst, m.src  # read once: messages of several classes pass here, so Python
        # cannot specialize these reads
        node = nodes[dst] if dst in nodes else self.endpoints[dst]  # _party, inlined
        why = "receiver is down" if node is None else (self._blocked(src, dst) if (self.cuts or self.groups) else None)
        if why:
            self._record(Event(self.now, "drop", dst, None, src, None, None, why, m, msg_id))
            return
        if self._paused and dst in self._paused:
            self._paused[dst][1].append((msg_id, m))  # it waits (in the receiver's socket) for the end of the pause
            return
        fields = (self.now, "deliver", dst, m.term, src, None, None, None, m, msg_id, "", "")
        self._cells.extend(fields)  # _record_all, inlined for the one event: the trace stores its fields
        check = self._checks.get("deliver")  # none (a delivery changes only what pictures show) until check-quorum
        # or a leadership transfer makes deliveries count (SafetyMonitor._watch_deliveries)
        if check is not None:
            check(new_event(fields))  # the Event is built only for a check that reads it
        try:
            node.receive(m, self._time_of(m.dst) if self._clocks else self.now)  # type: ignore[union-attr]  # up: no why
        except _PASS_THROUGH:
            raise
        except Exception as err:
            if not isinstance(node, Server):
                raise
            self._node_failed(node.id, node, err, f"handling a {type(m).__name__} from S{m.src}")
        self._flush(node)  # type: ignore[arg-type]  # up: no why

    def _fire_timer(self, i: int, due: int) -> None:
        node = self._party(i)
        if node is None or self._timer_due[i] != due:
            return  # stale: the node reset its timer or crashed since (or it is paused)
        deadline = node.deadline
        clock = self._clocks.get(i) if self._clocks else None
        if clock is not None and deadline is not None:
            deadline = clock.when(deadline, due)  # the node set it on its own clock
        if deadline != due:
            return
        try:
            node.on_timer(self.now if clock is None else clock.read(self.now))
        except _PASS_THROUGH:
            raise
        except Exception as err:
            if not isinstance(node, Server):
                raise
            self._node_failed(i, node, err, "its timer ran out")
        self._flush(node)
