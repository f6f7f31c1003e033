"""Exercise 08, a linearizable key-value store: the state-machine side of a Raft server, judged by what clients saw.

The student writes a class ``MyKV(raftedu.kv.KVServer)``: the reference
Raft node with the key-value plumbing (client calls, redirects, answers,
the ReadIndex confirmation messages) and four rules left open --
``apply_command`` (apply a committed command with client sessions,
dissertation §6.3), ``start_read``, ``on_read_confirmed`` and
``serve_reads`` (linearizable reads with ReadIndex, dissertation §6.4).

Each check runs a named scenario with that class and real simulated
clients (:class:`~raftedu.kv.KVClient`), probe in the worker, judge in the
parent. The probe returns the trace's plain facts only: every message a
client sent or received, and the Raft events (commands as text). The judge
rebuilds the clients' history itself from those messages -- the same rule
the client follows: an operation starts with its first call, ends with
the first ``ok`` answer to the client's latest call -- re-runs the Figure 3
safety checks on the Raft events, checks the scenario's own setup happened
(a leader was deposed, a write was retried, ...), and hands the history
to :func:`raftedu.linearizability.check`, quoting its explanation when it
fails. A store that answers nothing passes nothing: every judge asks for
the answers its scenario needs.

Delegating is refused: :func:`kv_class` rejects a subclass of the
reference :class:`~raftedu.kv.KVNode`, and the reference rules
(:data:`KV_REFERENCE_RULES`, with the store's own sessions
``KVStore.apply``) are switched off while 08 is graded.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..checks import NodeFailure, SafetyViolation, check_trace
from ..kv import (CLIENT_BASE, ClientAnswer, ClientCall, KVNode, KVPlumbing, KVServer, KVService,
                  ReadConfirm, ReadConfirmReply, retried_write, under_faults)
from ..kvmodel import KINDS, KVStore, Op, Result
from ..linearizability import History, check as check_linearizable
from ..raft import LEADER, Entry, Event, Log, PersistentState, Timing
from ..nodehost import build_class
from .boundary import RemoteFunctions
from .core import Check, Failed, Unsafe, broken_property
from .observe import REFERENCE_CLASSES, decode_events, encode_events, plain
from .scenarios import likely_cause, safety_cause, situate
from .whole_server import CLASS_NAME as SERVER_CLASS

__all__ = ["CAPSTONE_CLASSES", "CLASS_NAME", "capstone_checks", "capstone_class", "KV_REFERENCE_RULES", "KV_SCENARIOS", "SINGLE_CLIENT_OPS", "judge_apply_lag", "judge_kv",
           "kv_checks", "kv_class", "probe_apply_lag", "probe_kv", "rebuild", "replay_kv"]

CLASS_NAME = "MyKV"
"""The name of the class a student defines in exercise 08."""

KV_REFERENCE_RULES: tuple[str, ...] = ("KVNode.apply_command", "KVNode.start_read", "KVNode.on_read_confirmed",
                                       "KVNode.check_round", "KVNode.serve_reads", "KVNode.own_term_committed",
                                       "KVStore.apply")
"""The reference rules switched off while exercise 08 is graded (``KVStore.apply`` keeps sessions itself)."""
REFERENCE_CLASSES.update(KVNode=KVNode, KVStore=KVStore)


def kv_class(funcs: Mapping[str, Any]) -> type[KVServer]:
    """The student's class from ``funcs`` (``{"MyKV": cls}``); refuses anything built on the reference KVNode
    (:func:`raftedu.nodehost.build_class`; in the grader, the class as nodes in the sandboxed worker)."""
    if isinstance(funcs, RemoteFunctions):
        return funcs.node_class("kv")  # type: ignore[return-value]  # a stand-in for the student's class (RemoteNode)
    return build_class("kv", funcs)


# --------------------------------------------------------------------------
# Drives: the scenarios (student code runs)
# --------------------------------------------------------------------------


@dataclass
class KVRun:
    """One scenario run: the class under test, the seed, the service it built, and marks between steps."""

    node_class: type[KVPlumbing]
    seed: int
    service: KVService | None = None
    marks: list[tuple[str, int]] = field(default_factory=list)

    def make(self, n: int, clients: int) -> KVService:
        """Build (and remember) a service of ``n`` servers of the class under test and ``clients`` clients."""
        self.service = KVService(n, clients=clients, seed=self.seed, node_class=self.node_class)
        return self.service

    def mark(self, label: str) -> None:
        """Note that the step ``label`` is done, at the cluster's virtual time."""
        self.marks.append((label, self.service.cluster.now if self.service else 0))


SINGLE_CLIENT_OPS: tuple[tuple[str, str, Any, Any], ...] = (
    ("put", "x", 1, None), ("get", "x", None, None), ("put", "x", 2, None), ("cas", "x", 1, 5),
    ("cas", "x", 2, 3), ("get", "x", None, None), ("delete", "x", None, None), ("get", "x", None, None),
    ("put", "y", 7, None), ("get", "y", None, None))
"""The single-client scenario's operations, in order: (kind, key, value, expected)."""


def _single_client(run: KVRun) -> None:
    svc = run.make(3, clients=1)
    c = svc.cluster
    c.run_until(lambda c: c.leader() is not None, within=2_000)
    c.run(200)
    run.mark(f"leader {c.leader()}")
    for kind, key, value, expected in SINGLE_CLIENT_OPS:
        svc.submit(1, kind, key, value, expected)
    svc.run(3_000)
    run.mark("end")


def _retried_write(run: KVRun) -> None:
    try:
        run.service = retried_write(seed=run.seed, node_class=run.node_class)
    except RuntimeError as e:
        if "answered before the crash" not in str(e):
            raise
        run.mark(f"setup failed: {e}")
        return
    run.mark("end")


def _x1_through_leader(run: KVRun) -> tuple[KVService, int | None]:
    """Five servers and two clients; once a leader is elected, client 1 puts x=1 through it: (service, leader)."""
    svc = run.make(5, clients=2)
    c = svc.cluster
    c.run_until(lambda c: c.leader() is not None, within=2_000)
    c.run(300)
    old = c.leader()
    run.mark(f"leader {old}")
    if old is not None:
        svc.submit(1, "put", "x", 1, to=old)
        svc.run(300)
    return svc, old


def _stale_read(run: KVRun) -> None:
    svc, old = _x1_through_leader(run)
    c = svc.cluster
    if old is None:
        return
    buddy = next(i for i in c.ids if i != old)
    c.partition([old, buddy])  # the old leader keeps one follower: two of five, a minority
    run.mark(f"cut off {old} {buddy}")
    c.run_until(lambda c: c.leader(among=[i for i in c.ids if i not in (old, buddy)]) is not None, within=2_000)
    c.run(200)
    new = c.leader(among=[i for i in c.ids if i not in (old, buddy)])
    run.mark(f"new leader {new}")
    if new is None:
        return
    svc.submit(2, "put", "x", 2, to=new)
    svc.run(300)
    run.mark("read at the old leader")
    svc.submit(1, "get", "x", to=old)
    svc.run(2_000)
    run.mark("end")


def _new_leader_read(run: KVRun) -> None:
    svc, old = _x1_through_leader(run)
    c = svc.cluster
    if old is None:
        return
    a, b, *behind = [i for i in c.ids if i != old]
    c.partition([old, a, b])  # x=2 will reach only a bare majority: old, a, b
    index = c.node(old).last_log_index + 1  # where x=2 goes
    svc.submit(1, "put", "x", 2, to=old)
    c.run_until(lambda c: c.node(old).last_applied >= index, within=500)  # committed, applied and answered
    c.crash(old)  # at once: before its next heartbeat tells a and b that x=2 is committed
    c.heal()
    run.mark(f"crashed {old}, behind {behind[0]} {behind[1]}")
    c.run_until(lambda c: c.leader() is not None, within=3_000)
    new = c.leader()
    run.mark(f"new leader {new}")
    if new is None:
        return
    svc.submit(2, "get", "x", to=new)  # at once: before the new leader commits an entry of its own term
    svc.run(1_500)
    run.mark("end")


def _faults(ops: int, faults_ms: int, settle_ms: int) -> Callable[[KVRun], None]:
    def drive(run: KVRun) -> None:
        run.service = under_faults(run.seed, clients=3, ops=ops, faults_ms=faults_ms, settle_ms=settle_ms,
                                   node_class=run.node_class)
        run.mark("end")
    return drive


# --------------------------------------------------------------------------
# Probe: the plain facts of a run
# --------------------------------------------------------------------------


def _command_text(command: Any) -> Any:
    """A log command as text the trace encoding keeps (``put('x', 1) by 101 #3``); the §8 no-op stays None."""
    if isinstance(command, Op):
        return f"{command} by {command.client} #{command.seq}"
    return command if command is None or isinstance(command, (str, int)) else repr(command)[:200]


def _raft_events(events: Sequence[Event]) -> list[Event]:
    out = []
    for e in events:
        if e.entry is not None and isinstance(e.entry, Entry) and not isinstance(e.entry.command, (str, type(None))):
            e = Event(e.time, e.kind, e.node, e.term, e.peer, e.index, Entry(e.entry.term, _command_text(e.entry.command)),
                      e.value, e.msg, e.msg_id, e.rule)
        out.append(e)
    return out


def _result_row(result: Any) -> list[Any]:
    if isinstance(result, Result):
        return [result.ok, plain(result.value), plain(result.revision)]
    return [{"not a Result": plain(result)}]


def _client_rows(events: Sequence[Event]) -> list[list[Any]]:
    """Every call a client sent and every answer a client received, in trace order, as plain rows."""
    rows: list[list[Any]] = []
    for e in events:
        m = e.msg
        if e.kind == "send" and type(m) is ClientCall and m.src > CLIENT_BASE:
            op = m.op
            rows.append([e.time, "call", m.src, m.dst, plain(m.call), plain(op.kind), plain(op.key), plain(op.value),
                         plain(op.expected), plain(op.seq)])
        elif e.kind == "deliver" and type(m) is ClientAnswer and m.dst > CLIENT_BASE:
            rows.append([e.time, "answer", m.dst, m.src, plain(m.call), plain(m.ok)] + _result_row(m.result))
    return rows


def _drive(name: str, cls: type[KVPlumbing], seed: int) -> tuple[KVRun, str]:
    run = KVRun(cls, seed)
    stopped = ""
    try:
        KV_SCENARIOS[name].drive(run)
    except NodeFailure:
        raise
    except SafetyViolation as e:
        stopped = f"{e.property} broken at t={e.time} ms"
    if run.service is not None:
        run.service.finish()
    return run, stopped


def probe_kv(funcs: Mapping[str, Any], case: Mapping[str, Any],
             build: Callable[[Mapping[str, Any]], type[KVPlumbing]] | None = None) -> dict[str, Any]:
    """Run scenario ``case["scenario"]`` with seed ``case["seed"]`` on the student's class (made by ``build``,
    default :func:`kv_class`); return the plain facts (runs student code)."""
    run, stopped = _drive(case["scenario"], (build or kv_class)(funcs), case["seed"])
    events = run.service.cluster.trace.events if run.service else []
    return {"clients": _client_rows(events), "raft": encode_events(_raft_events(events)),
            "marks": [[label, t] for label, t in run.marks], "stopped": stopped}


def replay_kv(scenario: str, seed: int, node_class: type[KVPlumbing]) -> KVService:
    """Run scenario ``scenario`` with ``seed`` and ``node_class`` again; the finished service to look at
    (``svc.history.to_frame()``, ``svc.check()``, ``svc.cluster.trace``)."""
    if scenario not in KV_SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of: {', '.join(KV_SCENARIOS)}")
    run, stopped = _drive(scenario, node_class, seed)
    if stopped:
        print(f"scenario {scenario}, seed {seed} stopped: {stopped}")
    if run.service is None:
        raise RuntimeError(f"scenario {scenario} built no service")
    return run.service


# --------------------------------------------------------------------------
# Judge: rebuild the history from the messages, then decide (no student code)
# --------------------------------------------------------------------------


@dataclass
class ClientOp:
    """One client operation as the judge rebuilt it from the messages."""

    id: int
    client: int
    op: Op
    invoked: int
    first_server: int
    calls: int = 1
    answered: int | None = None
    result: Result | None = None
    by: int | None = None

    def describe(self) -> str:
        """``client 101: put('x', 1), sent at 500 ms to S3, answered ok @2 by S3 at 512 ms``."""
        end = (f"answered {self.result.describe(self.op)} by S{self.by} at {self.answered} ms"
               if self.result is not None else "never answered")
        return f"client {self.client}: {self.op}, sent at {self.invoked} ms to S{self.first_server}, {end}"


def _row_op(row: list[Any]) -> Op:
    kind, key, value, expected, seq = row[5:10]
    if kind not in KINDS or not isinstance(key, str) or type(seq) is not int:
        raise ValueError
    return Op(kind, key, value, expected, client=row[2], seq=seq)


def rebuild(rows: Any) -> list[ClientOp]:
    """The clients' operations from the message rows, by the rule :class:`~raftedu.kv.KVClient` follows."""
    if not isinstance(rows, list):
        raise Failed("no client messages came back")
    ops: list[ClientOp] = []
    by_key: dict[tuple[int, int], ClientOp] = {}
    latest: dict[int, tuple[int, ClientOp]] = {}  # client -> (call number, op) of its latest call
    for row in rows:
        try:
            if not isinstance(row, list) or len(row) < 6 or type(row[0]) is not int or type(row[2]) is not int:
                raise ValueError
            if row[1] == "call" and len(row) == 10:
                op = _row_op(row)
                client, seq = row[2], row[9]  # whole numbers: checked above and by _row_op
                o = by_key.get((client, seq))
                if o is None:
                    o = ClientOp(len(ops), client, op, row[0], row[3])
                    ops.append(o)
                    by_key[(client, seq)] = o
                else:
                    o.calls += 1
                latest[row[2]] = (row[4], o)
            elif row[1] == "answer":
                call = latest.get(row[2])
                if call is None or call[0] != row[4] or row[5] is not True or call[1].result is not None:
                    continue  # a late answer to an earlier call, a redirect, or a duplicate: the client ignores it
                o = call[1]
                if len(row) != 9:
                    raise Failed(f"S{row[3]} answered {o.op} for client {o.client} with "
                                 f"{str(row[6:])[:120]}: apply_command must return the Result of the operation")
                o.result, o.answered, o.by = Result(row[6], row[7], row[8]), row[0], row[3]
            else:
                raise ValueError
        except (ValueError, TypeError):
            raise Failed(f"a client message that came back is not one a client sends or reads: {str(row)[:120]}") \
                from None
    return ops


def _history(ops: list[ClientOp]) -> History:
    h = History()
    for o in ops:
        k = h.invoke(o.client, o.op, o.invoked)
        if o.result is not None and o.answered is not None:  # set together by rebuild()
            h.respond(k, o.result, o.answered)
        else:
            h.timeout(k)
    return h


def _linearizable(ops: list[ClientOp], what: str) -> None:
    """Raise :class:`Failed` quoting the checker's explanation when the history is not linearizable."""
    verdict = check_linearizable(_history(ops))
    if verdict.linearizable is False:
        focus = verdict.explanation.focus if verdict.explanation else ()
        listed = "\n".join(f"    op {k}: {ops[k].describe()}" for k in sorted(set(focus))[:6])
        raise Unsafe(f"{what}: the clients' history is not linearizable -- the checker says:\n{verdict.explanation}"
                     + (f"\n  the operations it names:\n{listed}" if listed else ""), "Linearizability")
    if verdict.linearizable is None:
        raise Failed(f"{what}: the linearizability checker gave up (too many possible orders): {verdict}")


@dataclass
class KVFacts:
    """What a run showed: the clients' operations, the Raft events, the marks and why it stopped (if it did)."""

    ops: list[ClientOp]
    events: list[Event]
    marks: list[tuple[str, int]]
    stopped: str

    def setup(self, ok: bool, what: str) -> None:
        """A step the scenario's later assertions rely on: when it did not happen, a failure that says so first,
        with why the run stopped and the broken rule the Raft events show
        (:func:`~raftedu.grading.scenarios.likely_cause`), if any."""
        if not ok:
            raise self.setup_failed(what)

    def setup_failed(self, what: str) -> Failed:
        """The failure :meth:`setup` raises when the step ``what`` did not happen."""
        return Failed(f"setup: {what}{self._why()}{likely_cause(self.events)}")

    def mark(self, prefix: str) -> tuple[str, int]:
        """The first mark whose label starts with ``prefix``; a setup failure saying the run stopped before it."""
        found = next(((label, t) for label, t in self.marks if label.startswith(prefix)), None)
        failed = next((label for label, _ in self.marks if label.startswith("setup failed")), None)
        if found is None:
            raise self.setup_failed(f"the scenario stopped before the step '{prefix}'" + (f" ({failed})" if failed else ""))
        return found

    def server(self, prefix: str) -> int:
        """The server a mark's label ends with (``leader 3``); a setup failure when there was none."""
        label, _ = self.mark(prefix)
        word = label.split()[-1]
        self.setup(word.isdigit(), f"no leader was elected when the scenario needed one (step '{prefix}')")
        return int(word)

    def find(self, client: int, kind: str, key: str, value: Any = None) -> list[ClientOp]:
        """The operations of client number ``client`` (1-based) of a kind on a key (and value, if given)."""
        return [o for o in self.ops if o.client == CLIENT_BASE + client and o.op.kind == kind and o.op.key == key
                and (value is None or o.op.value == value)]

    def one(self, client: int, kind: str, key: str, value: Any = None) -> ClientOp:
        """The one such operation; a setup failure when the clients never sent it."""
        found = self.find(client, kind, key, value)
        shown = f"{kind}({key!r}{'' if value is None else f', {value!r}'})"
        self.setup(bool(found), f"client {CLIENT_BASE + client} never sent {shown}")
        return found[0]

    def _why(self) -> str:
        return f" (the run stopped: {self.stopped})" if self.stopped else ""

    def answered(self, o: ClientOp, what: str) -> Result:
        """The operation's result; a failure naming it when it was never answered."""
        if o.result is None:
            raise Failed(f"{what}: {o.describe()} (it was sent {o.calls} time(s)){self._why()}")
        return o.result

    def commits(self, node: int, until: int) -> int:
        """The highest commit index server ``node`` reached by time ``until`` (0 if none)."""
        return max((e.index for e in self.events if e.kind == "commit" and e.node == node and e.time <= until
                    and type(e.index) is int), default=0)

    def index_of(self, text: str, node: int) -> int | None:
        """The log index where ``node`` appended the command whose text is ``text``."""
        return next((e.index for e in self.events if e.kind == "append" and e.node == node and e.entry is not None
                     and e.entry.command == text), None)

    def applied_on(self, text: str) -> set[int]:
        """The servers that applied the command ``text`` (only committed entries are applied)."""
        return {e.node for e in self.events if e.kind == "apply" and e.node is not None and e.entry is not None
                and e.entry.command == text}

    def applied_at(self, text: str) -> set[int]:
        """The log indexes at which some server applied the command ``text``."""
        return {e.index for e in self.events if e.kind == "apply" and e.index is not None and e.entry is not None
                and e.entry.command == text}


def _judge_single(f: KVFacts) -> None:
    f.server("leader")
    store = KVStore()
    mine = {o.op.seq: o for o in f.ops if o.client == CLIENT_BASE + 1}
    for seq, (kind, key, value, expected) in enumerate(SINGLE_CLIENT_OPS, start=1):
        o = mine.get(seq)
        if o is None or o.op != Op(kind, key, value, expected, client=CLIENT_BASE + 1, seq=seq):
            raise Failed(f"the client never got to send {Op(kind, key, value, expected)}: the operations before it "
                         f"were not answered{f._why()}")
        want = store.execute(o.op)
        got = f.answered(o, "one client, no faults: every operation must be answered")
        applied = f.applied_on(_command_text(o.op))
        if o.op.is_write and len(applied) < 2:
            raise Failed(f"{o.op} was answered, but {len(applied)} of 3 servers applied it from their log: a write is "
                         "answered only once its log entry is committed, i.e. stored on a majority (§5.3)")
        if got != want:
            raise Failed(f"one client, one operation at a time, no faults: {o.op} was answered "
                         f"{got.describe(o.op)} (ok={got.ok}, value={got.value!r}, revision={got.revision!r}); "
                         f"the store applying every operation once, in order, gives {want.describe(o.op)} "
                         f"(ok={want.ok}, value={want.value!r}, revision={want.revision!r})")


def _judge_retried(f: KVFacts) -> None:
    f.mark("end")
    put = f.one(1, "put", "x", 1)
    text = _command_text(put.op)
    f.setup(put.calls >= 2 and len(f.applied_at(text)) >= 2,
            f"the leader should crash after storing {put.op} on a majority and before answering, so that the client "
            f"retries it and the new leader appends it a second time; the put was sent {put.calls} time(s) and "
            f"applied at log indexes {sorted(f.applied_at(text)) or 'none'}")
    second = f.one(2, "put", "x", 2)
    reads = f.find(2, "get", "x")
    f.setup(len(reads) >= 2, "client 102 should read x twice")
    f.answered(second, "client 102's put x=2 after the crash")
    f.answered(put, "the retried put (the new leader committed it a second time)")
    last = f.answered(reads[-1], "client 102's last read")
    _linearizable(f.ops, "a write retried after the leader crashed before answering")
    if last.value != 2:
        raise Failed(f"client 102's last read gave {last.describe(reads[-1].op)}, not 2")


def _judge_stale(f: KVFacts) -> None:
    old = f.server("leader")
    f.mark("cut off")
    new = f.server("new leader")
    f.answered(f.one(1, "put", "x", 1), "put x=1 through the leader, no faults yet")
    f.answered(f.one(2, "put", "x", 2), f"put x=2 through the new leader S{new}")
    _, asked = f.mark("read at the old leader")
    read = f.one(1, "get", "x")
    f.setup(read.first_server == old and read.invoked >= asked,
            f"the read should go first to the old leader S{old}: {read.describe()}")
    _linearizable(f.ops, f"S{old}, the old leader, was cut off with one follower (two of five) and S{new} "
                  f"was elected; x=2 was written through S{new}, then x was read asking S{old} first")
    f.answered(read, f"the read of x asked the deposed leader S{old} first; once the client times out "
               "and asks another server, the new leader must answer it")


def _judge_new_leader(f: KVFacts) -> None:
    old = f.server("leader")
    _, crashed = f.mark("crashed")
    new = f.server("new leader")
    put = f.one(1, "put", "x", 2)
    f.answered(put, f"setup: the old leader S{old} should answer put x=2 before it crashes")
    read = f.one(2, "get", "x")
    index = f.index_of(_command_text(put.op), new)
    f.setup(read.first_server == new and index is not None and f.commits(new, read.invoked) < index,
            f"the read should reach the new leader S{new} before it knows that x=2 (index {index}) is committed "
            "-- it did not happen this way")
    _linearizable(f.ops, f"x=2 was committed and answered by S{old}, which crashed before telling the others; "
                  f"the read of x went at once to the new leader S{new}, whose commitIndex ({f.commits(new, read.invoked)}) "
                  "was still below x=2's index: a new leader knows what is committed only once an entry of its own "
                  "term is (§8)")
    f.answered(read, f"the read at the new leader S{new} (or wherever the client retried)")


def _judge_faults(least: int) -> Callable[[KVFacts], None]:
    def judge(f: KVFacts) -> None:
        f.mark("end")
        done = [o for o in f.ops if o.result is not None]
        f.setup(len(done) >= least, f"under faults the clients got answers to only {len(done)} of {len(f.ops)} "
                f"operations (at least {least} needed to judge anything)")
        _linearizable(f.ops, "three clients under crashes, partitions and lost, duplicated, late messages")
    return judge


def _judge_liveness(ops: int) -> Callable[[KVFacts], None]:
    def judge(f: KVFacts) -> None:
        f.mark("end")
        _linearizable(f.ops, "three clients under faults, then the network healed")
        for c in range(1, 4):
            mine = {o.op.seq: o for o in f.ops if o.client == CLIENT_BASE + c}
            missing = [s for s in range(1, ops + 1) if s not in mine or mine[s].result is None]
            if missing:
                o = mine.get(missing[0])
                raise Failed(f"after the faults stopped and every server restarted, client {CLIENT_BASE + c} got no "
                             f"answer to {len(missing)} of its {ops} operations in 6 s: "
                             + (o.describe() if o else f"operation #{missing[0]} was never sent (the one before it "
                                "never ended)"))
    return judge


@dataclass(frozen=True)
class KVScenario:
    """A scenario: ``drive(run)`` runs the service (student code runs); ``judge(facts)`` decides."""

    drive: Callable[[KVRun], None]
    judge: Callable[[KVFacts], None]
    doc: str


LIVENESS_OPS = 10
KV_SCENARIOS: dict[str, KVScenario] = {
    "single_client": KVScenario(_single_client, _judge_single, "one client, ten operations, no faults"),
    "retried_write": KVScenario(_retried_write, _judge_retried,
                                "the leader crashes after storing a put, before answering; the client retries"),
    "stale_read": KVScenario(_stale_read, _judge_stale, "a leader cut off with one follower is asked to read"),
    "new_leader_read": KVScenario(_new_leader_read, _judge_new_leader,
                                  "a read reaches a new leader before it knows the last commit"),
    "faults": KVScenario(_faults(12, 4_000, 4_000), _judge_faults(6),
                         "three clients, 4 s of random crashes, partitions and message faults"),
    "liveness": KVScenario(_faults(LIVENESS_OPS, 2_000, 6_000), _judge_liveness(LIVENESS_OPS),
                           "three clients, 2 s of faults, then 6 s healed: every operation answered"),
}
"""Exercise 08's scenarios by name."""


def judge_kv(case: Mapping[str, Any], observed: Any) -> None:
    """Re-check the Raft events for safety, rebuild the history, then judge the scenario; raise :class:`Failed`."""
    name, seed = case["scenario"], case["seed"]
    replay = (f"replay: svc = raftedu.grading.kv_store.replay_kv({name!r}, {seed}, {CLASS_NAME}) then "
              "svc.history.to_frame(), svc.check() or raftedu.viz.animate(svc.cluster.trace)")
    if not isinstance(observed, dict) or not isinstance(observed.get("raft"), list):
        raise Failed(f"scenario {name}, seed {seed}: no trace came back")
    try:
        events = decode_events(observed["raft"])
        check_trace(events, seed)
    except ValueError:
        raise Failed(f"scenario {name}, seed {seed}: the trace that came back is not a trace") from None
    except SafetyViolation as e:
        raise broken_property(f"scenario {name}, seed {seed}: {e.property} broken at t={e.time} ms: {e.detail}"
                              f"{safety_cause(events)}\n{replay}", e.property) from None
    marks = [(str(m[0]), int(m[1])) for m in observed.get("marks", []) if isinstance(m, list) and len(m) == 2
             and type(m[1]) is int]
    try:
        ops = rebuild(observed.get("clients"))
        KV_SCENARIOS[name].judge(KVFacts(ops, events, marks, str(observed.get("stopped") or "")[:300]))
    except Failed as e:
        raise e.again(f"scenario {name}, seed {seed}: {e.hint}\n{replay}") from None


# --------------------------------------------------------------------------
# Step 4 on its own: a leader whose state machine lags its commit index
# --------------------------------------------------------------------------


def _answers(messages: list[Any]) -> list[list[Any]]:
    return [[m.dst, plain(m.ok)] + _result_row(m.result) for m in messages if type(m) is ClientAnswer]


def probe_apply_lag(funcs: Mapping[str, Any], case: Mapping[str, Any]) -> dict[str, Any]:
    """ReadIndex step 4 in a stated situation (runs student code): leader S1 of term 2 in a cluster of five has
    committed x=2 (commitIndex 4) but applied only up to x=1 (lastApplied 2), as a server whose state machine
    applies in the background (etcd's) can be; a get arrives and ``case["confirm"]`` followers confirm the round.
    Observed: the answers sent before the log is applied further, and after."""
    cls = kv_class(funcs)
    log = [Entry(1, None), Entry(1, Op.put("x", 1, client=CLIENT_BASE + 1, seq=1)), Entry(2, None),
           Entry(2, Op.put("x", 2, client=CLIENT_BASE + 1, seq=2))]
    node = cls(1, (1, 2, 3, 4, 5), rng=random.Random(case["seed"]), timing=Timing(),
               state=PersistentState(2, 1, Log(log)), now=0)
    situate(node, role=LEADER, leader_id=1, next_index={p: 5 for p in node.peers},
            match_index={p: 4 for p in node.peers}, commit_index=2)
    node.apply_committed()  # the state machine reaches x=1 ...
    situate(node, commit_index=4)  # ... and x=2 is committed but not applied yet
    node.take_output()
    node.receive(ClientCall(0, CLIENT_BASE + 2, 1, 1, Op.get("x", client=CLIENT_BASE + 2, seq=1)), 100)
    sent, _ = node.take_output()
    rounds = sorted({m.round for m in sent if type(m) is ReadConfirm})
    before = _answers(sent)
    for k, peer in enumerate(node.peers[:case["confirm"]]):
        for r in rounds:
            node.receive(ReadConfirmReply(2, peer, 1, r), 101 + k)
        before += _answers(node.take_output()[0])
    situate(node, now=110)
    node.apply_committed()
    after = _answers(node.take_output()[0])
    return {"rounds": len(rounds), "confirm asked": sorted({m.dst for m in sent if type(m) is ReadConfirm}),
            "before": before, "after": after}


def judge_apply_lag(case: Mapping[str, Any], observed: Any) -> None:
    """An ``ok`` answer only after lastApplied reaches the read index (4), and then with x=2."""
    what = ("leader S1 (term 2, five servers) has committed x=2 at index 4 but applied only up to index 2 (x=1); "
            f"a get of x arrived and {case['confirm']} followers confirmed the round")
    if not isinstance(observed, dict) or not all(isinstance(observed.get(k), list) for k in ("before", "after")):
        raise Failed(f"{what}: no observation of the leader came back")
    if len(observed.get("confirm asked") or []) < 4 or observed.get("rounds") != 1:
        raise Failed(f"{what}: setup: the leader should start one confirmation round with the four others "
                     f"(ask_followers); it asked {observed.get('confirm asked')} in {observed.get('rounds')} round(s)")
    early = [a for a in observed["before"] if len(a) > 1 and a[1] is True]
    if early:
        raise Failed(f"{what}: it answered {early[0][2:]} (ok, value, revision) before applying index 3..4 -- "
                     "ReadIndex step 4: wait until lastApplied >= the read index, then read the store "
                     "(dissertation §6.4); here x=1 is a stale answer")
    late = [a for a in observed["after"] if len(a) > 1 and a[1] is True]
    if not late or late[0][0] != CLIENT_BASE + 2 or late[0][2:4] != [True, 2]:
        raise Failed(f"{what}: once the log was applied up to index 4 the read should be answered x=2; the answers "
                     f"were {observed['after'] or 'none'} (serve_reads runs after every applied command)")


# --------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------


def _check(name: str, points: float, public: bool, scenario: str, seeds: Callable[[random.Random], list[int]],
           description: str, build: Callable[[Mapping[str, Any]], type[KVPlumbing]] | None = None,
           needs: tuple[str, ...] = (CLASS_NAME,)) -> Check:
    return Check(name, points, public, needs, description,
                 cases=lambda rng: [{"scenario": scenario, "seed": s} for s in seeds(rng)],
                 probe=partial(probe_kv, build=build) if build else probe_kv, judge=judge_kv,
                 label=lambda case: f"scenario {case['scenario']}, seed {case['seed']}")


def _fixed(*seeds: int) -> Callable[[random.Random], list[int]]:
    return lambda rng: list(seeds)


def _secret(count: int) -> Callable[[random.Random], list[int]]:
    return lambda rng: rng.sample(range(1_000, 10**6), count)


def kv_checks() -> tuple[Check, ...]:
    """Exercise 08's checks: six public (fixed seeds) and four hidden (seeds from the instructor's secret)."""
    return (
        _check("single_client", 2, True, "single_client", _fixed(1),
               "one client, no faults: puts, gets, compare-and-swaps, a delete, each answered as the store says"),
        _check("retried_write", 2, True, "retried_write", _fixed(3),
               "§6.3 sessions: a put committed but never answered is retried; applied once, same answer"),
        _check("stale_read", 2, True, "stale_read", _fixed(3),
               "§6.4 ReadIndex: a leader cut off with one follower must not answer a read"),
        _check("new_leader_read", 2, True, "new_leader_read", _fixed(1),
               "§8: a new leader answers reads only once an entry of its own term is committed"),
        _check("faults", 2, True, "faults", _fixed(1),
               "three clients under crashes, partitions, lost/duplicated/late messages: the history is linearizable"),
        Check("reads_wait_for_apply", 2, True, (CLASS_NAME,), "§6.4 step 4: a confirmed read waits until the "
              "state machine has applied the read index (a leader whose applying lags its commits)",
              cases=lambda rng: [{"seed": 0, "confirm": 2}], probe=probe_apply_lag, judge=judge_apply_lag,
              label=lambda case: "a leader with lastApplied 2 < commitIndex 4"),
        _check("stale_read_hidden", 2, False, "stale_read", _secret(2),
               "a deposed leader serves no read (2 seeds from the secret)"),
        _check("new_leader_read_hidden", 2, False, "new_leader_read", _secret(3),
               "a new leader's reads wait for its own term's first commit (3 seeds from the secret)"),
        _check("faults_hidden", 3, False, "faults", _secret(3),
               "histories under faults are linearizable (3 seeds from the secret)"),
        _check("liveness", 2, False, "liveness", _secret(2),
               "after the faults heal every operation is answered (2 seeds from the secret)"),
    )


# --------------------------------------------------------------------------
# 09, the capstone: the student's own 06 server under the student's own 08 rules
# --------------------------------------------------------------------------

CAPSTONE_CLASSES = (SERVER_CLASS, CLASS_NAME)
"""The capstone's two classes: the 06 server, and the 08 rules on ``kv_on(MyServer)``."""


def capstone_class(funcs: Mapping[str, Any]) -> type[KVPlumbing]:
    """``MyKV`` built on ``kv_on(MyServer)``, both the student's; refuses RaftNode and KVNode as bases
    (:func:`raftedu.nodehost.build_class`; in the grader, the class as nodes in the sandboxed worker)."""
    if isinstance(funcs, RemoteFunctions):
        return funcs.node_class("capstone")  # type: ignore[return-value]  # a stand-in for the student's class
    return build_class("capstone", funcs)


def capstone_checks() -> tuple[Check, ...]:
    """The capstone's automatic part (the randomized fault sweep, judged for safety and linearizability) and its
    written part (a design report, graded by hand with solutions/09_capstone_rubric.md)."""
    b, needs = capstone_class, CAPSTONE_CLASSES
    return (
        _check("single_client", 2, True, "single_client", _fixed(1), "one client, no faults, through your server",
               b, needs),
        _check("stale_read", 2, True, "stale_read", _fixed(3), "a leader cut off with one follower serves no read",
               b, needs),
        _check("sweep", 4, True, "faults", _fixed(1, 2, 3), "the randomized fault sweep, 3 seeds: no safety "
               "violation, every history linearizable", b, needs),
        _check("sweep_hidden", 6, False, "faults", _secret(12), "the sweep on 12 seeds from the instructor's secret",
               b, needs),
        _check("liveness", 2, False, "liveness", _secret(3), "after the faults heal every operation is answered "
               "(3 seeds from the secret)", b, needs),
        Check("design_report", 6, True, (), "written part: the design report, graded by hand with "
              "solutions/09_capstone_rubric.md", manual=True),
    )
