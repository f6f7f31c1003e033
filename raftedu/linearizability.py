"""Histories of client operations and a linearizability checker in the style of Porcupine.

A **history** records, for every client operation, when it was invoked, when
the response came back (or that it never did: timed out or still pending) and
what it returned. A history is **linearizable** if every operation can be
given a single instant between its invocation and its response at which it
takes effect, such that the results are those of a sequential
:class:`~raftedu.kvmodel.KVStore` executing the operations in that order.
An operation without a response may take effect at any instant after its
invocation, or never.

Recording (what a simulated client does)::

    h = History()
    i = h.invoke(client=1, op=Op.put("x", 1), time=10)
    h.respond(i, Result(ok=True, revision=1), time=25)
    j = h.invoke(client=2, op=Op.get("x"), time=12)
    h.timeout(j)                 # no answer: it may or may not have happened
    verdict = h.check()          # or check(h)
    verdict.linearizable         # True / False / None (= unknown: step bound hit)
    print(verdict.explanation)   # when not linearizable: what cannot be ordered

The checker (:func:`check`) is the algorithm of Wing & Gong as improved by
Lowe and used by Porcupine (github.com/anishathalye/porcupine): a depth-first
search over the call/return events that tries to linearize, one by one, the
operations whose invocation precedes the first pending response, backtracking
when stuck, with memoisation on (set of linearized operations as a bitset,
model state) so no configuration is explored twice.

**Partitioning by key** (P-compositionality, Horn & Kroening): a history is
linearizable iff its sub-history for every key is, because each operation
touches one key and the sequential specification of one key does not depend
on the others -- *except for revisions*, which come from one global counter.
What the checker does with revisions, and why:

* per key, the model checks only what one key can know: the revisions of
  successive changes of a key strictly increase in the linearization order,
  a read reports the revision of the key's last change (0 if absent), and a
  failed cas reports the current one. The per-key model carries the last
  change's revision as *observed* by clients (exact), or, when nobody saw
  it (a timed-out write), only "above the last revision seen";
* across keys, one cheap global check: successful writes have distinct
  revisions, and a write that responded before another was invoked has the
  smaller revision (real-time order; sound because revisions follow the
  linearization order).

What this does not check: that revisions are dense (every number used once),
since a timed-out write may or may not have consumed one, nor how far a run
of unseen changes moved the revision (see ``_step``). A per-key model
with exact global revisions would need the whole store as one partition, and
that search is exponential in the number of keys' worth of concurrency.

Standard library only; pandas is imported inside :meth:`History.to_frame`.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .kvmodel import KeyEntry, KVStore, Op, Result, apply_to_key

__all__ = [
    "LINEARIZABLE",
    "NOT_LINEARIZABLE",
    "UNKNOWN",
    "Operation",
    "History",
    "Explanation",
    "CheckResult",
    "check",
    "simulate_history",
]

LINEARIZABLE = "linearizable"
"""Verdict: an order exists."""
NOT_LINEARIZABLE = "not linearizable"
"""Verdict: no order exists; :attr:`CheckResult.explanation` says where the search got stuck."""
UNKNOWN = "unknown"
"""Verdict: the step bound was reached before the search finished."""

DEFAULT_MAX_STEPS = 2_000_000
"""Default search-step bound per key (a realistic 1,000-op key needs a few thousand)."""


def _time(name: str, t: Any) -> float:
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        raise ValueError(f"{name} must be a finite number (virtual ms); got {t!r}")
    return t


@dataclass(frozen=True)
class Operation:
    """One client operation in a history.

    ``response`` and ``result`` are None while the operation has no answer:
    ``status`` is then ``"timeout"`` (the client gave up, at ``gave_up`` if
    known) or ``"pending"``; the checker treats both alike -- the operation
    may have taken effect at any instant after ``invoke``, or never.
    """

    id: int
    client: Hashable
    op: Op
    invoke: float
    response: float | None = None
    result: Result | None = None
    timed_out: bool = False
    gave_up: float | None = None

    @property
    def key(self) -> Hashable:
        """The key the operation touches."""
        return self.op.key

    @property
    def status(self) -> str:
        """``"ok"`` (answered), ``"timeout"`` or ``"pending"``."""
        return "ok" if self.result is not None else ("timeout" if self.timed_out else "pending")

    def __str__(self) -> str:
        outcome = self.result.describe(self.op) if self.result is not None else self.status
        return f"op {self.id} [client {self.client}] {self.op} -> {outcome}"


class History:
    """A recorder of client operations, convenient for a simulator-driven client.

    ``invoke`` when the client sends, ``respond`` when it gets its answer,
    ``timeout`` when it gives up. Op ids are 0, 1, 2, ... in invocation order.
    Times are the simulator's virtual milliseconds (any finite numbers).
    """

    def __init__(self, operations: Iterable[Operation] = ()) -> None:
        """An empty history, or one holding ``operations`` (their ids must be 0..n-1 in order)."""
        self._ops: list[Operation] = []
        for o in operations:
            if not isinstance(o, Operation) or o.id != len(self._ops):
                raise ValueError(f"History(operations) needs Operation objects with ids 0, 1, 2, ... in order; got {o!r}")
            self._ops.append(o)

    def invoke(self, client: Hashable, op: Op, time: float) -> int:
        """Record that ``client`` sent ``op`` at ``time``; return the op id."""
        if not isinstance(op, Op):
            raise ValueError(f"History.invoke takes an Op (e.g. Op.get('x')); got {type(op).__name__} {op!r}")
        if client is None:
            raise ValueError("History.invoke needs a client id (any hashable value except None)")
        if op.client is not None and op.client != client:
            raise ValueError(f"the op carries client {op.client!r} but was invoked by client {client!r}")
        self._ops.append(Operation(len(self._ops), client, op, _time("invocation time", time)))
        return len(self._ops) - 1

    def _open(self, op_id: int, what: str) -> Operation:
        if not isinstance(op_id, int) or not 0 <= op_id < len(self._ops):
            raise ValueError(f"{what}: no operation with id {op_id!r} (ids 0..{len(self._ops) - 1} have been invoked)")
        o = self._ops[op_id]
        if o.status != "pending":
            raise ValueError(f"{what}: operation {op_id} already has an outcome ({o.status}); each operation ends once")
        return o

    def respond(self, op_id: int, result: Result, time: float) -> None:
        """Record that operation ``op_id`` returned ``result`` at ``time`` (not before its invocation)."""
        o = self._open(op_id, "respond")
        if not isinstance(result, Result):
            raise ValueError(f"respond: result must be a Result (e.g. Result(ok=True, value=1)); got {result!r}")
        t = _time("response time", time)
        if t < o.invoke:
            raise ValueError(f"respond: operation {op_id} was invoked at {o.invoke}; its response time {t} cannot be earlier")
        self._ops[op_id] = replace(o, response=t, result=result)

    def timeout(self, op_id: int, time: float | None = None) -> None:
        """Record that the client gave up on ``op_id`` (at ``time`` if given): its outcome is unknown."""
        o = self._open(op_id, "timeout")
        t = None if time is None else _time("time-out time", time)
        self._ops[op_id] = replace(o, timed_out=True, gave_up=t)

    def add(self, client: Hashable, op: Op, invoke: float, response: float | None, result: Result | None = None) -> int:
        """Record a whole operation at once (for histories written by hand); ``response=None`` = timed out."""
        op_id = self.invoke(client, op, invoke)
        if response is None:
            if result is not None:
                raise ValueError("add: an operation without a response time cannot have a result")
            self.timeout(op_id)
        else:
            if result is None:
                raise ValueError("add: an operation with a response time needs its Result")
            self.respond(op_id, result, response)
        return op_id

    @property
    def operations(self) -> tuple[Operation, ...]:
        """The operations, by id."""
        return tuple(self._ops)

    def __len__(self) -> int:
        return len(self._ops)

    def __iter__(self) -> Iterator[Operation]:
        return iter(tuple(self._ops))

    def __getitem__(self, op_id: int) -> Operation:
        return self._ops[op_id]

    def check(self, max_steps: int | None = DEFAULT_MAX_STEPS) -> CheckResult:
        """Run :func:`check` on this history."""
        return check(self, max_steps=max_steps)

    def to_frame(self) -> Any:
        """The history as a pandas DataFrame, one row per operation (for tables and timeline pictures)."""
        import pandas as pd

        rows = [{
            "id": o.id, "client": o.client, "kind": o.op.kind, "key": o.op.key, "value": o.op.value,
            "expected": o.op.expected, "invoke": o.invoke, "response": o.response, "gave_up": o.gave_up,
            "status": o.status, "ok": None if o.result is None else o.result.ok,
            "result": None if o.result is None else o.result.value,
            "revision": None if o.result is None else o.result.revision, "op": str(o.op),
        } for o in self._ops]
        columns = ["id", "client", "kind", "key", "value", "expected", "invoke", "response", "gave_up",
                   "status", "ok", "result", "revision", "op"]
        return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class Explanation:
    """Why a history is not linearizable: where the search for an order got stuck.

    For a key (``key`` not None): the longest order the search found
    (``linearized``, op ids, in order), after which none of the operations
    that could come next (``stuck``) fits -- one reason each in ``reasons``.
    ``deadline`` is the op whose response forces one of them to have taken
    effect by then. For a cross-key revision conflict, ``key`` is None,
    ``linearized`` is empty and ``stuck`` names the two writes.
    ``cause`` is the write in the prefix that set the state the stuck
    operations disagree with (None if the key was never written).
    ``ops`` is everything involved; ``focus`` the few ops a timeline should
    highlight first.
    """

    key: Hashable | None
    linearized: tuple[int, ...]
    stuck: tuple[int, ...]
    reasons: tuple[str, ...]
    state: str
    deadline: int | None = None
    cause: int | None = None

    @property
    def ops(self) -> tuple[int, ...]:
        """All op ids involved: the linearized prefix, then the ones that cannot follow it."""
        return self.linearized + self.stuck

    @property
    def focus(self) -> tuple[int, ...]:
        """The short version of :attr:`ops`: the write that set the state, then the ops that cannot follow."""
        return ((self.cause,) if self.cause is not None else ()) + self.stuck

    def __str__(self) -> str:
        if self.key is None:
            return "revisions out of order: " + "; ".join(self.reasons)
        prefix = ", ".join(map(str, self.linearized)) if self.linearized else "nothing"
        lines = [f"key {self.key!r}: after ordering {prefix} ({self.state}), no operation can come next:"]
        lines += [f"  - {r}" for r in self.reasons]
        return "\n".join(lines)


@dataclass(frozen=True)
class CheckResult:
    """The checker's answer.

    ``verdict`` is :data:`LINEARIZABLE`, :data:`NOT_LINEARIZABLE` or
    :data:`UNKNOWN`; ``keys`` the verdict per key; ``order`` the order found
    per linearizable key (op ids; operations with no response that come last
    may equally never have happened; timed-out gets are left out, they cannot
    matter); ``explanation`` the first failure; ``steps`` the search steps.
    """

    verdict: str
    keys: Mapping[Hashable, str]
    order: Mapping[Hashable, tuple[int, ...]]
    explanation: Explanation | None
    steps: int

    @property
    def linearizable(self) -> bool | None:
        """True, False, or None when unknown (step bound reached)."""
        return {LINEARIZABLE: True, NOT_LINEARIZABLE: False}.get(self.verdict)

    def __str__(self) -> str:
        text = f"{self.verdict} ({len(self.keys)} keys, {self.steps} search steps)"
        return text if self.explanation is None else f"{text}\n{self.explanation}"


# ----------------------------------------------------------------------------------------------
# The per-key model: the KVStore's rule for one key, with revisions as clients observed them.
# A state is (value, revision, exact): the key's value and the revision of its last change --
# exactly, or (exact=False) only "at least this", when nobody saw the revision of that change.
# After several such changes in a row the bound stays one above the last revision seen: counting
# them would be sharper but multiplies the states the search must tell apart (measured: 5-50x
# more steps for a hot key with timed-out writes), and a weaker bound can only accept more.

_State = tuple[Hashable | None, int, bool]
_INITIAL: _State = (None, 0, True)


def _step(state: _State, op: Op, observed: Result | None) -> _State | None:
    """The state after ``op`` returning ``observed`` (None = unknown), or None if it cannot return that here."""
    value, rev, exact = state
    unseen = rev + 1 if exact else rev  # after a change nobody saw the revision of: above the last one seen
    if observed is None:
        t = apply_to_key(KeyEntry(value, rev), op, unseen)
        return (t.entry.value, unseen, False) if t.wrote else state
    r = observed.revision
    t = apply_to_key(KeyEntry(value, rev), op, unseen if r is None else r)
    if t.result.ok != observed.ok or t.result.value != observed.value:
        return None
    if t.wrote:
        if r is None:
            return (t.entry.value, unseen, False)
        return (t.entry.value, r, True) if r > rev else None
    if r is None:
        return state
    if value is None:
        return state if r == 0 else None
    if exact:
        return state if r == rev else None
    return (value, r, True) if r >= rev else None


def _describe(key: Hashable, state: _State) -> str:
    value, rev, exact = state
    if value is None:
        return f"{key!r} absent"
    return f"{key!r} = {value!r} at revision {rev if exact else f'>= {rev} (not observed)'}"


def _why(state: _State, o: Operation, fits: bool) -> str:
    """One sentence on why ``o`` cannot be linearized next in ``state``."""
    if fits:
        return f"{o} could come next, but every order continuing from there fails later"
    value, rev, exact = state
    t = apply_to_key(KeyEntry(value, rev), o.op, rev + 1)
    seen = o.result
    if t.result.ok != seen.ok or t.result.value != seen.value:
        expected = t.result if seen.revision is not None else replace(t.result, revision=None)
        return f"{o}, but at this point it would give {expected.describe(o.op)}"
    if t.wrote:
        return f"{o}, but its revision must be greater than {rev}, the revision of the key's last change"
    need = 0 if value is None else (rev if exact else f">= {rev}")
    return f"{o}, but here the key's revision is {need}"


class _Memo:
    """The configurations (linearized set, state) already explored, with subsumption for unknown outcomes.

    Lowe's memo skips a configuration seen before. Operations whose outcome is
    unknown add a stronger rule: a *finished* configuration (fully explored,
    so it has no completion) rules out every configuration it dominates: same
    value, same answered operations linearized, a subset of the unknown ones
    (those need never take effect), and every revision the other allows (the
    model is monotone in that set). Only finished ones count: a configuration
    still on the search path may be an ancestor whose exploration relies on
    the very branch that would be skipped.
    """

    def __init__(self, unknown_mask: int) -> None:
        self.unknown_mask = unknown_mask
        self.exact: set[tuple[int, _State]] = set()
        self.buckets: dict[tuple[int, Hashable], list[list]] = {}

    def visit(self, linearized: int, state: _State) -> list | None:
        """Record a configuration about to be explored and return its handle; None to skip it."""
        if not self.unknown_mask:
            if (linearized, state) in self.exact:
                return None
            self.exact.add((linearized, state))
            return _NO_HANDLE
        value, lo, exact = state
        unknown = linearized & self.unknown_mask
        bucket = self.buckets.setdefault((linearized ^ unknown, value), [])
        for entry in bucket:
            other, other_lo, other_exact, finished = entry
            if other == unknown and other_lo == lo and other_exact == exact:
                return None
            # {other_lo} or [other_lo, inf) must contain {lo} or [lo, inf) respectively
            wider = (exact and lo == other_lo) if other_exact else other_lo <= lo
            if finished and wider and not other & ~unknown:
                return None
        entry = [unknown, lo, exact, False]
        bucket.append(entry)
        return entry

    @staticmethod
    def finish(handle: list) -> None:
        """Mark a configuration as fully explored (the search backtracked out of it)."""
        handle[3] = True


_NO_HANDLE: list = [0, 0, False, False]


@dataclass
class _KeyOutcome:
    verdict: str
    order: tuple[int, ...]
    explanation: Explanation | None
    steps: int


def _check_key(key: Hashable, ops: list[Operation], max_steps: int | None) -> _KeyOutcome:
    """Lowe's search with memoisation over one key's operations (Porcupine's checkSingle).

    Call and return events sit in a doubly linked list sorted by time (calls
    first at equal times: touching intervals count as concurrent); an
    operation without an answer returns at infinity, so it may be linearized
    anywhere after its call, or last (= never). Walking from the head, each
    call before the first return may be linearized next; reaching a return
    means its operation was not, so the search backtracks.
    """
    m = len(ops)
    events = sorted([(o.invoke, 0, i) for i, o in enumerate(ops)] +
                    [(math.inf if o.result is None else o.response, 1, i) for i, o in enumerate(ops)])
    n = len(events)
    head = n
    is_call = [kind == 0 for _, kind, _ in events]
    op_of = [i for _, _, i in events]
    ret_pos = [0] * m
    for pos, (_, kind, i) in enumerate(events):
        if kind == 1:
            ret_pos[i] = pos
    # Identical operations without a response are interchangeable: the search linearizes them in
    # invocation order only (if an order uses a later one first, swapping the two gives another
    # order), which removes the factorial blow-up of many timed-out retries of the same write.
    twin = [-1] * m
    last_unknown: dict[tuple, int] = {}
    for _, kind, i in events:
        if kind == 0 and ops[i].result is None:
            o = ops[i].op
            signature = (o.kind, o.value, o.expected)  # client and seq do not change what it does
            twin[i] = last_unknown.get(signature, -1)
            last_unknown[signature] = i
    nxt = list(range(1, n + 1)) + [0]  # position n is the head sentinel
    nxt[n - 1] = -1
    prv = [head] + list(range(n - 1)) + [-1]

    def lift(p: int) -> None:
        r = ret_pos[op_of[p]]
        for q in (p, r):
            nxt[prv[q]] = nxt[q]
            if nxt[q] != -1:
                prv[nxt[q]] = prv[q]

    def unlift(p: int) -> None:
        r = ret_pos[op_of[p]]
        for q in (r, p):
            nxt[prv[q]] = q
            if nxt[q] != -1:
                prv[nxt[q]] = q

    state, linearized = _INITIAL, 0
    memo = _Memo(sum(1 << i for i, o in enumerate(ops) if o.result is None))
    calls: list[tuple[int, _State, list]] = []
    best: tuple[tuple[int, ...], _State, list[int], int, int | None] | None = None
    steps = 0
    p = nxt[head]
    while nxt[head] != -1:
        steps += 1
        if max_steps is not None and steps > max_steps:
            return _KeyOutcome(UNKNOWN, (), None, steps - 1)
        if is_call[p]:
            i = op_of[p]
            if twin[i] >= 0 and not linearized >> twin[i] & 1:
                p = nxt[p]
                continue
            after = _step(state, ops[i].op, ops[i].result)
            if after is not None:
                handle = memo.visit(linearized | (1 << i), after)
                if handle is not None:
                    calls.append((p, state, handle))
                    state, linearized = after, linearized | (1 << i)
                    lift(p)
                    p = nxt[head]
                    continue
            p = nxt[p]
            continue
        # A response with its operation not yet linearized: backtrack.
        if best is None or len(calls) > len(best[0]):
            candidates, q = [], nxt[head]
            while q != p:
                candidates.append(op_of[q])  # only calls lie before the first response
                q = nxt[q]
            after = [c[1] for c in calls[1:]] + [state]
            cause = next((op_of[c[0]] for c, a in zip(reversed(calls), reversed(after))
                          if ops[op_of[c[0]]].op.is_write and c[1] != a), None)
            best = (tuple(ops[op_of[c]].id for c, _, _ in calls), state, candidates, op_of[p],
                    None if cause is None else ops[cause].id)
        if not calls:
            prefix, at, candidates, due, cause = best
            reasons = tuple(_why(at, ops[i], _step(at, ops[i].op, ops[i].result) is not None) for i in candidates)
            return _KeyOutcome(NOT_LINEARIZABLE, (), Explanation(
                key, prefix, tuple(ops[i].id for i in candidates), reasons, _describe(key, at), ops[due].id, cause), steps)
        p, state, handle = calls.pop()
        memo.finish(handle)
        linearized &= ~(1 << op_of[p])
        unlift(p)
        p = nxt[p]
    return _KeyOutcome(LINEARIZABLE, tuple(ops[op_of[c]].id for c, _, _ in calls), None, steps)


def _revision_conflict(ops: list[Operation]) -> Explanation | None:
    """Cross-key check: distinct revisions for successful writes, increasing in real-time order."""
    writes = [o for o in ops if o.result is not None and o.result.ok and o.op.is_write and o.result.revision is not None]
    by_revision: dict[int, Operation] = {}
    for o in writes:
        other = by_revision.setdefault(o.result.revision, o)
        if other is not o:
            return Explanation(None, (), (other.id, o.id),
                               (f"{other} and {o} both claim revision {o.result.revision}",), "")
    by_response = sorted(writes, key=lambda o: (o.response, o.id))
    latest: Operation | None = None  # highest revision among writes that responded so far
    k = 0
    for o in sorted(writes, key=lambda o: (o.invoke, o.id)):
        while k < len(by_response) and by_response[k].response < o.invoke:
            w = by_response[k]
            if latest is None or w.result.revision > latest.result.revision:
                latest = w
            k += 1
        if latest is not None and latest.result.revision > o.result.revision:
            return Explanation(None, (), (latest.id, o.id), (
                f"{latest} finished at {latest.response} before {o} began at {o.invoke}, "
                f"yet has the higher revision",), "")
    return None


def check(history: History | Iterable[Operation], max_steps: int | None = DEFAULT_MAX_STEPS) -> CheckResult:
    """Decide whether ``history`` is linearizable with respect to :class:`~raftedu.kvmodel.KVStore`.

    Each key's operations are checked on their own (see the module docstring
    for why, and how revisions are handled), then revisions across keys.
    ``max_steps`` bounds the search steps per key: a key that needs more gets
    :data:`UNKNOWN` (and so does the whole history, unless another key is
    not linearizable). Deterministic: no clock is read.
    """
    ops = history.operations if isinstance(history, History) else tuple(history)
    if max_steps is not None and (not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1):
        raise ValueError(f"max_steps must be a whole number >= 1, or None for no bound; got {max_steps!r}")
    ids = set()
    for o in ops:
        if not isinstance(o, Operation):
            raise ValueError(f"check takes a History or Operation objects; got {type(o).__name__} {o!r}")
        if o.id in ids:
            raise ValueError(f"operation id {o.id} appears twice in the history; ids must be unique")
        ids.add(o.id)
    by_key: dict[Hashable, list[Operation]] = {}
    for o in ops:
        if o.result is None and not o.op.is_write:
            continue  # a read nobody saw the answer of cannot constrain anything
        by_key.setdefault(o.key, []).append(o)
    verdicts: dict[Hashable, str] = {}
    order: dict[Hashable, tuple[int, ...]] = {}
    explanation: Explanation | None = None
    steps = 0
    for key, key_ops in by_key.items():
        outcome = _check_key(key, key_ops, max_steps)
        verdicts[key], steps = outcome.verdict, steps + outcome.steps
        if outcome.verdict == LINEARIZABLE:
            order[key] = outcome.order
        explanation = explanation or outcome.explanation
    if explanation is None:
        explanation = _revision_conflict(list(ops))
    if explanation is not None:
        verdict = NOT_LINEARIZABLE
    else:
        verdict = UNKNOWN if UNKNOWN in verdicts.values() else LINEARIZABLE
    return CheckResult(verdict, verdicts, order, explanation, steps)


def simulate_history(seed: int, ops: int = 1_000, keys: int = 10, clients: int = 5, *,
                     latency: tuple[int, int] = (1, 20), think: tuple[int, int] = (0, 10),
                     timeout_rate: float = 0.0, values: int = 5) -> History:
    """A realistic concurrent history of a *correct* store, hence always linearizable.

    ``clients`` clients each send one operation at a time (random kind, one of
    ``keys`` keys ``k0, k1, ...``, values ``0..values-1``); each operation takes
    effect on one sequential :class:`~raftedu.kvmodel.KVStore` at a random
    instant ``latency`` ms after its invocation, and its response arrives
    ``latency`` ms later; the client then thinks ``think`` ms. With
    probability ``timeout_rate`` the response is lost (recorded as a time-out),
    and such an operation took effect or not with equal chance. Seeded and
    deterministic. Used by the tests and the benchmark.
    """
    if not 0.0 <= timeout_rate <= 1.0:
        raise ValueError(f"timeout_rate must be a probability between 0 and 1; got {timeout_rate!r}")
    for name, count in (("ops", ops), ("keys", keys), ("clients", clients), ("values", values)):
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"{name} must be a whole number >= 1; got {count!r}")
    for name, span in (("latency", latency), ("think", think)):
        if not (isinstance(span, tuple) and len(span) == 2 and all(isinstance(v, int) for v in span) and 0 <= span[0] <= span[1]):
            raise ValueError(f"{name} must be two whole milliseconds (low, high) with 0 <= low <= high; got {span!r}")
    rng = random.Random(seed)
    store, history = KVStore(), History()
    heap: list[tuple[int, int, int, str, int]] = []  # (time, tie-break, client, stage, op id)
    tick = 0
    issued = 0
    seqs = [0] * (clients + 1)
    lost: dict[int, bool] = {}  # op id -> its response is lost; value: it took effect anyway
    results: dict[int, Result] = {}

    def push(time: int, client: int, stage: str, op_id: int = -1) -> None:
        nonlocal tick
        tick += 1
        heapq.heappush(heap, (time, tick, client, stage, op_id))

    def random_op(client: int) -> Op:
        seqs[client] += 1
        key, value = f"k{rng.randrange(keys)}", rng.randrange(values)
        kind = rng.choices(("get", "put", "cas", "delete"), weights=(4, 3, 2, 1))[0]
        expected = rng.choice([None, *range(values)]) if kind == "cas" else None
        return Op(kind, key, None if kind in ("get", "delete") else value, expected, client, seqs[client])

    for c in range(1, clients + 1):
        push(rng.randint(*think), c, "invoke")
    while heap:
        time, _, c, stage, op_id = heapq.heappop(heap)
        if stage == "invoke":
            if issued == ops:
                continue
            issued += 1
            op_id = history.invoke(c, random_op(c), time)
            if rng.random() < timeout_rate:
                lost[op_id] = rng.random() < 0.5
            push(time + rng.randint(*latency), c, "apply", op_id)
        elif stage == "apply":
            if lost.get(op_id, True):
                results[op_id] = store.apply(history[op_id].op)
            push(time + rng.randint(*latency), c, "respond", op_id)
        else:
            if op_id in lost:
                history.timeout(op_id, time)
            else:
                history.respond(op_id, results.pop(op_id), time)
            push(time + rng.randint(*think), c, "invoke")
    return history
