"""An etcd-like key-value service on the Raft core: replicated KV store, clients, linearizable reads.

* :class:`KVNode` -- a Raft server whose state machine is a
  :class:`~raftedu.kvmodel.KVStore`. Writes go through the log; a leader
  answers a write once the entry is applied. Reads are served one of four ways
  (``read_mode``):

  - ``"log"``: a read is a log entry like a write (linearizable, slow);
  - ``"readindex"`` (default): the ReadIndex protocol of the Raft dissertation
    §6.4 -- the leader waits until an entry of its own term is committed (the
    §8 no-op), records commitIndex as the read index, confirms with a round
    of messages that a majority still follows it, waits until the read index
    is applied, then answers from its state machine (linearizable);
  - ``"lease"`` (dissertation §6.4.1): after a confirmation round started at
    time t the leader trusts its leadership until t + the minimum election
    timeout and answers reads locally. This is safe only because servers in
    lease mode also ignore RequestVote for a minimum election timeout after
    hearing from their leader (dissertation §4.2.3), so no new leader can be
    elected before the lease ends -- and only with clocks that run at the same
    rate (§6.4.1). The simulator's clocks are perfect unless a fault makes one
    drift or pauses a process (``Cluster.set_clock_rate``, ``Cluster.pause``):
    then a cut-off leader can serve a stale read (:func:`paused_leader_read`),
    which is why the etcd server always confirms reads with ReadIndex (its Raft
    library's lease-based reads need check-quorum and warn of clock drift);
  - ``"local"``: deliberately broken -- a node that believes it leads answers
    at once, so an old leader cut off in a minority serves stale reads.

* :class:`KVClient` -- a client in the simulator: one operation at a time,
  sent to the node it believes leads, following redirects, retrying on
  timeout with the same (client id, sequence number) so the state machine
  applies a retried write once. Every operation is recorded in a
  :class:`~raftedu.linearizability.History` for the checker.

* :class:`KVService` -- builds the cluster and its clients, runs a random
  workload and checks the history.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from .kvmodel import KeyEntry, KVStore, Op, Result, apply_to_key
from .linearizability import CheckResult, History, check
from .raft import LEADER, AppendEntries, Entry, Message, RaftNode, RequestVote, Server, Timing
from .sim import Cluster, Network
from .sweep import random_schedule

__all__ = [
    "READ_MODES",
    "ClientCall",
    "ClientAnswer",
    "ReadConfirm",
    "ReadConfirmReply",
    "KVNode",
    "KVOnServer",
    "KVPlumbing",
    "KVServer",
    "ReadRound",
    "Waiting",
    "KVClient",
    "KVService",
    "kv_node_class",
    "kv_on",
    "old_leader_read",
    "paused_leader_read",
    "retried_write",
    "under_faults",
]

READ_MODES = ("log", "readindex", "lease", "local")
CLIENT_BASE = 100
"""Client ids start above this number (node ids are 1..n)."""


@dataclass(frozen=True, slots=True)
class ClientCall(Message):
    """A client operation sent to a server (``term`` is unused and 0)."""

    call: int
    op: Op


@dataclass(frozen=True, slots=True)
class ClientAnswer(Message):
    """A server's answer: ``ok`` with ``result``, or not ok with a ``leader_hint`` (redirect) or none (retry)."""

    call: int
    ok: bool
    result: Any = None
    leader_hint: int | None = None


@dataclass(frozen=True, slots=True)
class ReadConfirm(Message):
    """ReadIndex (dissertation §6.4): "am I still your leader?" for read round ``round``."""

    round: int


@dataclass(frozen=True, slots=True)
class ReadConfirmReply(Message):
    """The follower's answer to :class:`ReadConfirm`; its ``term`` tells whether the leader is still current."""

    round: int


@dataclass
class Waiting:
    """A client waiting for an answer: who (``client``), which of its calls (``call``), and the operation."""

    client: int
    call: int
    op: Op


@dataclass
class ReadRound:
    """One ReadIndex confirmation round: the read index, when it started, who confirmed, the reads it carries."""

    read_index: int
    started: int
    acks: set[int]
    waiting: list[Waiting]


class StoreSnapshot(tuple):  # type: ignore[type-arg]
    """A KV server's snapshot state (dissertation §5.1): the commands applied, in order, and ``store``, the key-value
    store with its sessions table as of the snapshot's last index (what a real KV server's snapshot holds)."""

    store: KVStore

    def __new__(cls, commands: Iterable[Any], store: KVStore) -> "StoreSnapshot":
        """The commands ``commands`` with ``store`` (a copy the snapshot owns)."""
        snapshot = super().__new__(cls, commands)
        snapshot.store = store
        return snapshot

    def to_codec(self) -> tuple[Any, ...]:
        """Plain data for the sandbox boundary's codec (:func:`raftedu.nodehost.encode`): the commands, the store's
        revision, its keys as (key, value, mod_revision) and its sessions as (client, seq, result)."""
        store = self.store
        return (tuple(self), store.revision, tuple((k, e.value, e.mod_revision) for k, e in store._keys.items()),
                tuple((c, seq, result) for c, (seq, result) in store._sessions.items()))

    @classmethod
    def from_codec(cls, data: Any) -> "StoreSnapshot":
        """The snapshot :meth:`to_codec` described (``ValueError`` for anything else: the codec's input is not
        trusted)."""
        if type(data) is not tuple or len(data) != 4:
            raise ValueError("a key-value snapshot is (commands, revision, keys, sessions)")
        commands, revision, keys, sessions = data
        if type(commands) is not tuple or type(revision) is not int or type(keys) is not tuple or \
                type(sessions) is not tuple:
            raise ValueError("a key-value snapshot is (commands, revision, keys, sessions)")
        store = KVStore()
        store.revision = revision
        for row in keys:
            if type(row) is not tuple or len(row) != 3 or type(row[2]) is not int:
                raise ValueError("a key of a key-value snapshot is (key, value, mod_revision)")
            store._keys[row[0]] = KeyEntry(row[1], row[2])
        for row in sessions:
            if type(row) is not tuple or len(row) != 3 or type(row[1]) is not int or not isinstance(row[2], Result):
                raise ValueError("a session of a key-value snapshot is (client, seq, result)")
            store._sessions[row[0]] = (row[1], row[2])
        return cls(commands, store)


class KVPlumbing:
    """The plumbing of a key-value server over any Raft server class; the state-machine rules are left to subclasses.

    It does what is not a rule: takes client calls (a follower redirects to
    the leader it knows; a leader appends a write to its log and remembers
    who waits for it, or starts a read), answers clients, answers a
    leader's :class:`ReadConfirm` ("am I still your leader?"), hands every
    committed command to :meth:`apply_command` and the result to the client
    waiting for it, and on stepping down tells every waiting client to
    retry. The rules are four methods (:class:`KVNode` writes them;
    exercise 08's students write them too):

    * :meth:`apply_command` -- apply one committed command to ``self.store``
      (a :class:`~raftedu.kvmodel.KVStore`), with client sessions
      (dissertation §6.3);
    * :meth:`start_read` -- a leader got a read: the ReadIndex protocol's
      first steps (dissertation §6.4);
    * :meth:`on_read_confirmed` -- a follower confirmed a round;
    * :meth:`serve_reads` -- called after every applied command: answer the
      confirmed reads whose read index has been applied.

    Reads waiting for confirmation live in ``self.rounds`` (round number →
    :class:`ReadRound`), confirmed reads in ``self.reads`` ((read index,
    :class:`Waiting`) pairs), so that stepping down can answer them all.
    """

    read_mode: str = "readindex"
    """``"log"`` sends reads through the log like writes; any other mode calls :meth:`start_read`."""
    ack_after_commit: bool = True
    """When False (deliberately broken) the leader acknowledges a write as soon as it is in its own log."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Create the server; its store is volatile and is rebuilt by re-applying the log after a restart."""
        self.store = KVStore()
        self.writes: dict[int, Waiting] = {}  # log index -> the client waiting for it
        self.reads: list[tuple[int, Waiting]] = []  # (read index, client) confirmed, waiting to be applied
        self.rounds: dict[int, ReadRound] = {}
        self.round = 0
        super().__init__(*args, **kwargs)

    # ---- the rules (subclasses write these) -------------------------------------

    def apply_command(self, op: Op) -> Result:
        """Apply one committed command to ``self.store`` and return its result (a subclass writes this)."""
        raise NotImplementedError(f"{type(self).__name__}.apply_command is not written yet")

    def start_read(self, waiting: Waiting) -> None:
        """The leader got a read from ``waiting.client`` (a subclass writes this)."""
        raise NotImplementedError(f"{type(self).__name__}.start_read is not written yet")

    def on_read_confirmed(self, m: ReadConfirmReply) -> None:
        """Server ``m.src`` answered this leader's :class:`ReadConfirm` of round ``m.round`` in term ``m.term``
        (a subclass writes this)."""
        raise NotImplementedError(f"{type(self).__name__}.on_read_confirmed is not written yet")

    def serve_reads(self) -> None:
        """Called after every applied command: answer the reads that may be answered now (a subclass writes this)."""
        raise NotImplementedError(f"{type(self).__name__}.serve_reads is not written yet")

    # ---- plumbing ---------------------------------------------------------------

    def apply(self, index: int, entry: Entry) -> None:
        """Apply a committed entry to the store; answer the client waiting for it (if this node took it)."""
        super().apply(index, entry)
        if entry.command is None:  # the §8 no-op
            return
        result = self.apply_command(entry.command)
        waiting = self.writes.pop(index, None)
        if waiting is not None and waiting.op == entry.command:
            self.answer(waiting, True, result)
        self.serve_reads()

    def receive(self, msg: Message, now: int) -> None:
        """Client calls and read confirmations are handled here; Raft messages by the core."""
        match msg:
            case ClientCall():
                self.now = now
                self.handle_client_call(msg)
            case ReadConfirm():
                self.now = now
                self.observe_term(msg.term)
                self.confirm_read(msg)
            case ReadConfirmReply():
                self.now = now
                self.observe_term(msg.term)
                self.on_read_confirmed(msg)
            case _:
                super().receive(msg, now)

    def confirm_read(self, m: ReadConfirm) -> None:
        """Answer a leader's "am I still your leader?" with this server's current term."""
        self.send(ReadConfirmReply(self.current_term, self.id, m.src, m.round))

    def answer(self, waiting: Waiting, ok: bool, result: Any = None, hint: int | None = None) -> None:
        """Send a client its answer: ``ok`` with ``result``, or not ok (the client retries, at ``hint`` if given)."""
        self.send(ClientAnswer(0, self.id, waiting.client, waiting.call, ok, result, hint))

    def handle_client_call(self, m: ClientCall) -> None:
        """A leader takes the call; any other server redirects the client to the leader it knows."""
        waiting = Waiting(m.src, m.call, m.op)
        if self.role != LEADER:
            self.answer(waiting, False, hint=self.leader_id)
            return
        if m.op.kind == "get" and self.read_mode != "log":
            self.start_read(waiting)
            return
        index = self.append_write(m.op)
        if index is None:  # the Raft server refused it after all
            self.answer(waiting, False, hint=self.leader_id)
            return
        if self.ack_after_commit:
            self.writes[index] = waiting
        else:  # broken on purpose: the entry may still be lost
            self.answer(waiting, True, self.preview(m.op))
        self.after_write()

    def append_write(self, op: Op) -> int | None:
        """Hand a write to the Raft server: its log index, or None when it was not taken (a Raft class writes this)."""
        raise NotImplementedError(f"{type(self).__name__}.append_write is not written yet")

    def after_write(self) -> None:
        """Called once the client waiting for a write is recorded (a one-server cluster may commit it now)."""

    def fail_waiting(self) -> None:
        """Stepping down: every client still waiting is told to retry elsewhere."""
        for w in [*self.writes.values(), *(w for _, w in self.reads),
                  *(w for r in self.rounds.values() for w in r.waiting)]:
            self.answer(w, False)
        self.writes, self.reads, self.rounds = {}, [], {}

    def ask_followers(self, read_index: int, waiting: Waiting) -> int:
        """Start a confirmation round for ``waiting``'s read at ``read_index``: send every other server a
        :class:`ReadConfirm` of this term, record the round in ``self.rounds`` (this server's own ack
        counted) and return its number."""
        self.round += 1
        self.rounds[self.round] = ReadRound(read_index, self.now, {self.id}, [waiting])
        for peer in self.peers:
            self.send(ReadConfirm(self.current_term, self.id, peer, self.round))
        return self.round

    def preview(self, op: Op) -> Result:
        """The result ``op`` would have on the store as it is now, without applying it (reads answer this way)."""
        return apply_to_key(self.store.entry(op.key), op, self.store.revision + 1).result



class KVServer(KVPlumbing, RaftNode):
    """:class:`KVPlumbing` on the reference Raft node (exercise 08 builds on it); the four rules are left open."""

    noop_on_election = True  # §8: needed before a new leader can know its commit index for reads

    def append_write(self, op: Op) -> int:
        """The leader appends the write to its log and sends it to every follower (§5.3)."""
        index = self.append_own(op, "§5.3 Leaders: client command → append entry to local log")
        for peer in self.peers:
            self.send_append_entries(peer)
        return index

    def after_write(self) -> None:
        """A one-server cluster commits and applies at once."""
        self.advance_commit_index()
        self.apply_committed()

    def become_follower(self, leader_id: int | None) -> None:
        """Stepping down: every client still waiting is told to retry elsewhere."""
        if self.role == LEADER:
            self.fail_waiting()
        super().become_follower(leader_id)

    def snapshot_state(self) -> tuple[Any, ...]:
        """Dissertation §5.1: the snapshot keeps a copy of the store with its sessions table (``.store``), so a server
        that installs or restarts from it answers reads and retried writes as the others do; it is still the tuple
        of commands applied, which the safety monitor compares with the committed entries."""
        return StoreSnapshot(super().snapshot_state(), self.store.copy())

    def restore_state(self, state: tuple[Any, ...]) -> None:
        """Dissertation Figure 5.3 step 8: reset the store and its sessions to the snapshot's."""
        if not isinstance(state, StoreSnapshot):
            held = getattr(self.state.snapshot, "state", None)  # the snapshot this server keeps: who changed it?
            rule = ("load_snapshot must hand snapshot.state to restore_state() unchanged (no tuple(...), list(...) or "
                    "a state of its own)" if isinstance(held, StoreSnapshot) else "take_snapshot must keep "
                    "snapshot_state() in the Snapshot as it is (no tuple(...)), load_snapshot hand it back unchanged")
            raise TypeError(f"a key-value server restores what snapshot_state() returned (store and sessions, §6.3); "
                            f"restore_state got a {type(state).__name__}, this server's snapshot holds a "
                            f"{type(held).__name__}: {rule}")
        super().restore_state(state)
        self.store = state.store.copy()  # type: ignore[attr-defined]


class KVOnServer(KVPlumbing):
    """:class:`KVPlumbing` over a Raft server written on :class:`~raftedu.raft.Server` (exercise 06's), for the
    capstone: build its base with :func:`kv_on`.

    It needs from the server only what :class:`~raftedu.raft.Server` promises: ``propose`` (a write goes into the
    log through it), ``apply`` called for each committed entry in order, ``role``, ``leader_id``, ``commit_index``,
    ``last_applied``, ``current_term``, ``term_at``. Around each step it watches the role: a new leader proposes the
    §8 no-op (ReadIndex needs an entry of its own term committed), a leader that stepped down tells its waiting
    clients to retry. A :class:`ReadConfirm` does not change the server's term (that is the Raft server's business):
    a follower answers with its own term, and a reply of another term is not counted by the leader.
    """

    @property
    def quorum(self) -> int:
        """How many servers, this one included, make a majority of the cluster."""
        return (len(self.peers) + 1) // 2 + 1

    def observe_term(self, term: int) -> None:
        """Terms are the Raft server's to change; a confirmation round only reads them."""

    def append_write(self, op: Op) -> int | None:
        """Through the server's own ``propose``: its log index, or None when it does not lead."""
        return self.propose(op, self.now)

    def receive(self, msg: Message, now: int) -> None:
        """One step of the server, then a look at its role."""
        was = self.role
        super().receive(msg, now)
        self.after_step(was)

    def on_timer(self, now: int) -> None:
        """One step of the server, then a look at its role."""
        was = self.role
        super().on_timer(now)
        self.after_step(was)

    def after_step(self, was: str) -> None:
        """A new leader proposes the §8 no-op; a leader that stepped down tells its waiting clients to retry."""
        if was == LEADER and self.role != LEADER:
            self.fail_waiting()
        elif was != LEADER and self.role == LEADER:
            self.propose(None, self.now)


def kv_on(server: type[Server]) -> type[KVOnServer]:
    """The base class for a key-value server whose Raft is ``server`` (a :class:`~raftedu.raft.Server` subclass
    that is not the reference RaftNode, e.g. exercise 06's ``MyServer``): subclass it and write the four rules of
    :class:`KVPlumbing` (exercise 08's), e.g. ``class MyKV(kv_on(MyServer)): ...``."""
    if not (isinstance(server, type) and issubclass(server, Server)) or issubclass(server, RaftNode):
        raise TypeError(f"kv_on needs a Raft server class written on raftedu.Server (not RaftNode); got {server!r}")
    return type(f"KVOn{server.__name__}", (KVOnServer, server), {"__doc__": f"KVOnServer over {server.__name__}."})


class KVNode(KVServer):
    """A Raft server replicating a :class:`~raftedu.kvmodel.KVStore` and answering clients: :class:`KVServer`'s
    four rules, with the read path chosen by ``read_mode``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Create the server (see :class:`KVServer`)."""
        self.lease_until = -1
        self.heard_leader_at = -(10**9)
        super().__init__(*args, **kwargs)

    def apply_command(self, op: Op) -> Result:
        """Apply one operation to the store; its (client, seq) lets the store apply a retried write once (§6.3)."""
        return self.store.apply(op)

    def handle_append_entries(self, m: AppendEntries) -> None:
        """The core receiver rule; also remembers when the current leader was last heard from (for leases)."""
        super().handle_append_entries(m)
        if m.term == self.current_term:
            self.heard_leader_at = self.now

    def receive(self, msg: Message, now: int) -> None:
        """In lease mode a RequestVote is ignored while a leader is current (§4.2.3); the rest as :class:`KVServer`."""
        if isinstance(msg, RequestVote) and self.read_mode == "lease" and \
                now < self.heard_leader_at + self.timing.election_timeout[0]:
            self.now = now  # §4.2.3: a leader was heard from recently; ignore the vote request entirely
            self.note("vote", "dissertation §4.2.3: ignore RequestVote while a leader is current (lease)",
                      f"S{self.id} ignored S{msg.src}'s vote request: it heard from its leader recently",
                      peer=msg.src, value=False)
            return
        super().receive(msg, now)

    def confirm_read(self, m: ReadConfirm) -> None:
        """Answer the leader; hearing it also counts as hearing from the current leader (for leases)."""
        if m.term == self.current_term:
            self.heard_leader_at = self.now
        super().confirm_read(m)

    # ---- reads ------------------------------------------------------------------

    def own_term_committed(self) -> bool:
        """§8: has an entry of the current term (at least the no-op) been committed?"""
        return self.commit_index > 0 and self.term_at(self.commit_index) == self.current_term

    def start_read(self, waiting: Waiting) -> None:
        """Serve a read by the configured read mode (ReadIndex: dissertation §6.4)."""
        if self.read_mode == "local" or (self.read_mode == "lease" and self.now < self.lease_until):
            self.answer(waiting, True, self.preview(waiting.op))
            return
        if not self.own_term_committed():
            self.answer(waiting, False)  # not ready: the client retries shortly
            return
        self.check_round(self.ask_followers(self.commit_index, waiting))

    def on_read_confirmed(self, m: ReadConfirmReply) -> None:
        """Count a follower's confirmation of this leader's term for a read round."""
        if self.role != LEADER or m.term != self.current_term or m.round not in self.rounds:
            return
        self.rounds[m.round].acks.add(m.src)
        self.check_round(m.round)

    def check_round(self, round_: int) -> None:
        """Once a majority confirms a round, its reads may be served when the read index is applied."""
        r = self.rounds[round_]
        if len(r.acks) < self.quorum:
            return
        del self.rounds[round_]
        if self.read_mode == "lease":
            self.lease_until = max(self.lease_until, r.started + self.timing.election_timeout[0])
        self.reads.extend((r.read_index, w) for w in r.waiting)
        self.serve_reads()

    def serve_reads(self) -> None:
        """Answer the confirmed reads whose read index has been applied."""
        ready = [(i, w) for i, w in self.reads if i <= self.last_applied]
        self.reads = [(i, w) for i, w in self.reads if i > self.last_applied]
        for _, w in ready:
            self.answer(w, True, self.preview(w.op))


def _endpoint_name(i: int, client: int) -> str:
    """``client 101`` for the client, ``S3`` for a server."""
    return f"client {i}" if i == client else f"S{i}"


def kv_node_class(read_mode: str = "readindex", dedup: bool = True, ack_after_commit: bool = True) -> type[KVNode]:
    """A KVNode class with the given read path; ``dedup=False`` and ``ack_after_commit=False`` are broken on purpose."""
    if read_mode not in READ_MODES:
        raise ValueError(f"read_mode must be one of {', '.join(READ_MODES)}; got {read_mode!r}")
    attrs: dict[str, Any] = {"read_mode": read_mode, "ack_after_commit": ack_after_commit}
    if not dedup:
        attrs["apply_command"] = _apply_without_session
    name = f"KVNode_{read_mode}" + ("" if dedup else "_nodedup") + ("" if ack_after_commit else "_earlyack")
    return type(name, (KVNode,), attrs)


def _apply_without_session(self: KVNode, op: Op) -> Result:
    """Broken on purpose: forget who sent the operation, so a retried write is applied again."""
    return self.store.apply(replace(op, client=None, seq=None))


class KVClient:
    """A simulated client: one operation at a time, redirects followed, retries on timeout (same client, seq)."""

    def __init__(self, client_id: int, servers: Iterable[int], history: History, rng: random.Random,
                 retry_after: int = 300, think: tuple[int, int] = (0, 50)) -> None:
        """Create client ``client_id`` talking to ``servers``, recording into ``history``."""
        self.id = client_id
        self.servers = list(servers)
        self.history = history
        self.rng = rng
        self.retry_after = retry_after
        self.think = think
        self.leader_guess = self.servers[0]
        self.plan: list[Op] = []
        self.seq = 0
        self.call = 0
        self.current: tuple[int, Op] | None = None  # (history op id, op)
        self.deadline: int | None = None
        self.now = 0
        self._out: list[Message] = []

    def take_output(self) -> tuple[list[Message], list[Any]]:
        """Messages to send since the last call (clients record no trace events of their own)."""
        out, self._out = self._out, []
        return out, []

    def submit(self, kind: str, key: str, value: Any = None, expected: Any = None) -> None:
        """Queue one operation; it starts when the previous one finished."""
        self.seq += 1
        self.plan.append(Op(kind, key, value, expected, client=self.id, seq=self.seq))

    def wake(self, now: int) -> None:
        """Start working through the planned operations at ``now`` if idle (then call ``Cluster.sync``)."""
        if self.current is None and self.deadline is None:
            self.deadline = now

    def on_timer(self, now: int) -> None:
        """Start the next planned operation, or retry the current one on another server."""
        self.now = now
        if self.current is None:
            if not self.plan:
                self.deadline = None
                return
            op = self.plan.pop(0)
            self.current = (self.history.invoke(self.id, op, now), op)
        else:
            self.leader_guess = self.rng.choice(self.servers)
        self.send_current()

    def send_current(self) -> None:
        """(Re)send the current operation to the server believed to lead."""
        assert self.current is not None
        self.call += 1
        self._out.append(ClientCall(0, self.id, self.leader_guess, self.call, self.current[1]))
        self.deadline = self.now + self.retry_after

    def receive(self, msg: Message, now: int) -> None:
        """An answer: record the result, or follow the redirect / retry."""
        self.now = now
        if not isinstance(msg, ClientAnswer) or self.current is None or msg.call != self.call:
            return  # late answer to an earlier attempt
        if msg.ok:
            if isinstance(msg.result, Result):
                self.history.respond(self.current[0], msg.result, now)
            else:  # not an answer a client can read: it may or may not have happened
                self.history.timeout(self.current[0], now)
            self.current = None
            self.deadline = now + self.rng.randint(*self.think)
            return
        self.leader_guess = msg.leader_hint or self.rng.choice(self.servers)
        if msg.leader_hint:
            self.send_current()
        else:
            self.deadline = now + 20  # no leader known: back off a little

    def give_up(self) -> None:
        """Stop: an operation still in flight is recorded as timed out (it may or may not have happened)."""
        if self.current is not None:
            self.history.timeout(self.current[0])
        self.current, self.plan, self.deadline = None, [], None


class KVService:
    """A replicated KV store of ``n`` servers and ``clients`` clients on one simulated network."""

    def __init__(self, n: int = 5, clients: int = 3, *, seed: int = 0, read_mode: str = "readindex",
                 dedup: bool = True, ack_after_commit: bool = True, network: Network = Network(),
                 timing: Timing = Timing(), schedule: Iterable[Any] = (),
                 node_class: type[KVPlumbing] | None = None) -> None:
        """Build the cluster (node class ``node_class``, default :func:`kv_node_class` of the settings) and attach
        the clients."""
        if isinstance(clients, bool) or not isinstance(clients, int) or clients < 1:
            raise ValueError(f"clients must be a whole number >= 1; got {clients!r}")
        if node_class is not None and not (isinstance(node_class, type) and (issubclass(node_class, KVPlumbing) or
                                                                             getattr(node_class, "serves_kv", False))):
            raise TypeError(f"node_class must be a subclass of raftedu.kv.KVServer (or of kv_on(...)); "
                            f"got {node_class!r}")
        self.cluster = Cluster(n, seed=seed, network=network, timing=timing, schedule=schedule,
                               node_class=node_class or kv_node_class(read_mode, dedup, ack_after_commit))
        self.history = History()
        self.clients = [KVClient(CLIENT_BASE + c, self.cluster.ids, self.history,
                                 random.Random(f"raftedu-kv:{seed}:client:{c}")) for c in range(1, clients + 1)]
        for client in self.clients:
            self.cluster.attach(client)

    def workload(self, ops_per_client: int, keys: int = 3, seed: int = 0) -> None:
        """Queue a random mix of puts, gets, deletes and compare-and-swaps for every client."""
        rng = random.Random(f"raftedu-kv-workload:{seed}")
        for client in self.clients:
            for _ in range(ops_per_client):
                key = f"k{rng.randrange(keys)}"
                kind = rng.choices(["put", "get", "cas", "delete"], weights=[4, 4, 2, 1])[0]
                value = rng.randrange(100) if kind in ("put", "cas") else None
                expected = rng.randrange(100) if kind == "cas" else None
                client.submit(kind, key, value, expected)
            client.wake(self.cluster.now)
            self.cluster.sync(client.id)

    def submit(self, client: int, kind: str, key: str, value: Any = None, expected: Any = None,
               to: int | None = None) -> None:
        """Have client number ``client`` (1-based) start one operation now, sent first to server ``to`` if given."""
        if isinstance(client, bool) or not isinstance(client, int) or not 1 <= client <= len(self.clients):
            raise ValueError(f"client must be a number from 1 to {len(self.clients)}; got {client!r}")
        c = self.clients[client - 1]
        if to is not None:
            self.cluster.node(to)  # a clear error for an unknown or crashed server
            c.leader_guess = to
        c.submit(kind, key, value, expected)
        c.wake(self.cluster.now)
        self.cluster.sync(c.id)

    def run(self, ms: int) -> None:
        """Advance the simulation by ``ms`` milliseconds."""
        self.cluster.run(ms)

    def finish(self) -> None:
        """Stop every client; operations still in flight are recorded as timed out."""
        for client in self.clients:
            client.give_up()

    def check(self) -> CheckResult:
        """Check the recorded history for linearizability."""
        return check(self.history)

    def conversation(self, client: int, since: int = 0) -> Any:
        """What client number ``client`` (1-based) sent and received from virtual time ``since`` on, as a DataFrame.

        One row per message delivered to or from the client, read from the
        trace: time, from, to, and the message in words (a call, an answer,
        a redirect to the leader a server knows, or "no leader known").
        """
        import pandas as pd

        if isinstance(client, bool) or not isinstance(client, int) or not 1 <= client <= len(self.clients):
            raise ValueError(f"client must be a number from 1 to {len(self.clients)}; got {client!r}")
        me = self.clients[client - 1].id
        rows = []
        for e in self.cluster.trace:
            if e.time < since or e.kind != "deliver" or not isinstance(e.msg, (ClientCall, ClientAnswer)):
                continue
            m = e.msg
            if me not in (m.src, m.dst):
                continue
            if isinstance(m, ClientCall):
                text = f"call {m.call}: {m.op} (seq {m.op.seq})"
            elif m.ok:
                text = f"answer to call {m.call}: {m.result.describe(self._op_of(m)) if m.result is not None else 'ok'}" + (
                    " (from the session table: already applied)" if getattr(m.result, "duplicate", False) else "")
            elif m.leader_hint:
                text = f"answer to call {m.call}: not the leader - try S{m.leader_hint}"
            else:
                text = f"answer to call {m.call}: cannot serve it now - retry"
            rows.append({"time": e.time, "from": _endpoint_name(m.src, me), "to": _endpoint_name(m.dst, me), "message": text})
        return pd.DataFrame(rows, columns=["time", "from", "to", "message"])

    def _op_of(self, answer: ClientAnswer) -> Op:
        """The operation a client's answer belongs to (the call it answers), from the trace."""
        for e in self.cluster.trace:
            if e.kind == "send" and isinstance(e.msg, ClientCall) and e.msg.src == answer.dst and e.msg.call == answer.call:
                return e.msg.op
        raise LookupError(f"no call {answer.call} from client {answer.dst} in the trace")


def _leader_took_x1(read_mode: str, seed: int, node_class: type[KVPlumbing] | None) -> tuple[KVService, Cluster, int | None]:
    """A 5-server store with two clients whose elected leader was just sent client 1's put x=1: (service, cluster,
    that leader) — the start of the stale-read scripts."""
    svc = KVService(5, clients=2, seed=seed, read_mode=read_mode, node_class=node_class)
    c = svc.cluster
    c.run_until(lambda c: c.leader() is not None, 2_000)
    c.run(300)
    old = c.leader()
    svc.submit(1, "put", "x", 1, to=old)
    return svc, c, old


def old_leader_read(read_mode: str = "readindex", seed: int = 3, node_class: type[KVPlumbing] | None = None) -> KVService:
    """The classic split-brain read, scripted: can an old leader cut off in a minority serve a stale value?

    Client 1 writes x=1 through the leader; the leader is cut off from the
    other servers (clients still reach it); the majority elects a new leader
    and client 2 writes x=2 through it; then client 1 asks the *old* leader
    for x. Linearizable read paths answer 2 (after the client times out and
    finds the new leader); ``read_mode="local"`` answers the stale 1.
    Returns the finished service: ``history``, ``check()``, ``cluster``.
    ``node_class`` replaces the node class ``read_mode`` gives.
    """
    svc, c, old = _leader_took_x1(read_mode, seed, node_class)
    svc.run(300)
    c.isolate(old)
    svc.run(1_000)
    svc.submit(2, "put", "x", 2, to=c.leader())
    svc.run(300)
    svc.submit(1, "get", "x", to=old)
    svc.run(2_000)
    svc.finish()
    return svc


def paused_leader_read(read_mode: str = "lease", pause: int = 300, clock_rate: float = 1, seed: int = 0,
                       node_class: type[KVPlumbing] | None = None, cut: bool = True) -> KVService:
    """A lease meets an unreliable clock, scripted: can a cut-off leader whose process pauses serve a stale read?

    Client 1 writes x=1 and reads it through the leader (in lease mode the
    read's confirmation round gives the leader its lease, dissertation
    §6.4.1). At once the leader is cut off from the other servers (clients
    still reach it) and its process pauses for ``pause`` ms, resuming
    believing no time passed (:meth:`~raftedu.sim.Cluster.pause`), or its
    clock runs at ``clock_rate`` (:meth:`~raftedu.sim.Cluster.set_clock_rate`).
    The others elect a new leader, client 2 writes x=2 through it, and 20 ms
    after that write is answered client 1 asks the *old* leader for x. In lease
    mode the old leader, trusting a lease that its clock says still runs,
    answers the stale 1; ReadIndex asks a majority first and answers 2. With
    perfect clocks (``pause=0, clock_rate=1``) the lease has run out before the
    new leader is elected. ``cut=False`` leaves the network whole: the paused
    leader then first handles the new term's vote requests that waited for it,
    and steps down. Returns the finished service; the reads are ``history[1]``
    (under the lease) and ``history[3]`` (the one that matters).
    """
    svc, c, old = _leader_took_x1(read_mode, seed, node_class)
    svc.run(200)
    svc.submit(1, "get", "x", to=old)
    if not c.run_until(lambda c: len(svc.history) > 1 and svc.history[1].response is not None, 1_000):
        raise RuntimeError(f"seed {seed}: the leader did not answer the first read; try another seed")
    if cut:
        c.isolate(old)
    if clock_rate != 1:
        c.set_clock_rate(old, clock_rate)
    if pause:
        c.pause(old, pause)
    others = [i for i in c.ids if i != old]
    if not c.run_until(lambda c: c.leader(others) is not None, 2_000):
        raise RuntimeError(f"seed {seed}: the other servers elected no leader; try another seed")
    svc.submit(2, "put", "x", 2, to=c.leader(others))
    if not c.run_until(lambda c: len(svc.history) > 2 and svc.history[2].response is not None, 1_000):
        raise RuntimeError(f"seed {seed}: the new leader did not answer the write; try another seed")
    svc.run(20)
    svc.submit(1, "get", "x", to=old)
    svc.run(1_500)
    svc.finish()
    return svc


def retried_write(dedup: bool = True, seed: int = 3, node_class: type[KVPlumbing] | None = None) -> KVService:
    """The Raft paper's §8 example, scripted: the leader crashes after its write is stored, before it answers.

    Client 1 puts x=1 through the leader; as soon as three of the four
    followers store the entry (so the next leader must have it, §5.4.1)
    and before the leader has applied it and answered, the leader crashes.
    A new leader commits the entry. Client 2 reads x (1) and puts x=2. Only
    then does client 1, which never got an answer, retry its put (its
    time-out is 1.5 s here, so that client 2 acts first); the old leader is
    back by then. Finally client 2 reads x again. With sessions
    (``dedup=True``) the retry is answered from the session table and the
    read gives 2; without them the put is applied a second time and the read
    gives 1 -- a history the checker rejects. Returns the finished service.
    ``node_class`` replaces the node class ``dedup`` gives.
    """
    svc = KVService(5, clients=2, seed=seed, dedup=dedup, node_class=node_class)
    c = svc.cluster
    c.run_until(lambda c: c.leader() is not None, 2_000)
    c.run(300)
    old = c.leader()
    svc.clients[0].retry_after = 1_500
    index = c.nodes[old].last_log_index + 1  # where the put will go once the call reaches the leader
    svc.submit(1, "put", "x", 1, to=old)
    c.run_until(lambda c: sum(1 for i in c.ids if i != old and c.nodes[i].last_log_index >= index) >= 3, 500)
    if c.nodes[old].last_applied >= index:
        raise RuntimeError(f"seed {seed}: the leader answered before the crash; try another seed")
    c.crash(old)
    c.run_until(lambda c: c.leader() not in (None, old) and c.nodes[c.leader()].last_applied >= index, 2_000)
    new = c.leader()
    svc.submit(2, "get", "x", to=new)
    svc.run(150)
    svc.submit(2, "put", "x", 2, to=new)
    svc.run(150)
    c.restart(old)
    svc.run(1_800)
    svc.submit(2, "get", "x", to=new)
    svc.run(500)
    svc.finish()
    return svc


LOSSY = Network(delay=(1, 30), drop_rate=0.1, duplicate_rate=0.05, long_delay_rate=0.05, long_delay=(100, 800))
"""A network that loses, duplicates, delays and reorders messages."""


def under_faults(seed: int, *, clients: int = 4, ops: int = 40, faults_ms: int = 6_000, settle_ms: int = 4_000,
                 **settings: Any) -> KVService:
    """A random workload on 5 servers under ``faults_ms`` of random faults, then ``settle_ms`` to finish.

    The faults are :func:`raftedu.sweep.random_schedule`'s crashes, restarts,
    partitions, cuts and loss (its client requests left out: the clients here
    make their own) on the lossy :data:`LOSSY` network; then the network
    heals, every server restarts and the clients finish. ``settings`` go to
    :class:`KVService` (``read_mode``, ``dedup``, ``ack_after_commit``).
    """
    faults = [a for a in random_schedule(5, seed, horizon=faults_ms) if a[1] != "request"]
    svc = KVService(5, clients=clients, seed=seed, network=LOSSY, schedule=faults, **settings)
    svc.workload(ops, keys=3, seed=seed)
    svc.run(faults_ms)
    svc.cluster.heal()
    svc.cluster.restart_all()
    svc.cluster.set_network(drop_rate=0.0, duplicate_rate=0.0, long_delay_rate=0.0)
    svc.run(settle_ms)
    svc.finish()
    return svc
