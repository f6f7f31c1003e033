"""The key-value state machine: an etcd-like store in miniature, pure and deterministic.

One piece of code says what a correct key-value store does, and it is used
twice:

* as the **replicated state machine**: every Raft node applies the committed
  :class:`Op` commands to its own :class:`KVStore` in log order, and all of
  them end in the same state because :meth:`KVStore.apply` is deterministic;
* as the **sequential specification** inside the linearizability checker
  (:mod:`raftedu.linearizability`), which calls the same per-key rule,
  :func:`apply_to_key`, to decide which result each operation may return.

Operations (:class:`Op`, frozen and hashable, so they can sit in a Raft log):

* ``put(key, value)`` -- set the key; result ``ok=True`` and the new revision;
* ``get(key)`` -- result ``ok=True``, the value (``None`` if absent) and the
  key's *mod revision* (0 if absent);
* ``delete(key)`` -- result ``ok`` tells whether the key existed; the new
  revision if it did, else 0;
* ``cas(key, expected, value)`` -- compare-and-swap, etcd's transaction in
  miniature (``If(Value(key) == expected).Then(Put(key, value)).Else(Get(key))``):
  set the key to ``value`` iff its current value equals ``expected``
  (``expected=None`` means "the key is absent", i.e. create-if-absent). On
  success: ``ok=True`` and the new revision; on failure: ``ok=False`` with the
  current value and mod revision (the ``Else(Get)`` branch).

Revisions, as in etcd: the store has one global counter, incremented by each
write that changes something (put, delete of an existing key, successful cas);
each key remembers the revision of its last change (its mod revision).

De-duplication (Raft dissertation §6.3, etcd's lease-less equivalent): an op
may carry ``(client, seq)``. The store keeps a session per client with the
latest sequence number applied and its result; re-applying that ``(client,
seq)`` -- a retried request that was already committed -- returns the
remembered result and changes nothing. A request older than the client's
latest is a stale duplicate: it is not applied either (see
:meth:`KVStore.apply`).

Standard library only.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["KINDS", "WRITE_KINDS", "Op", "Result", "KeyEntry", "Transition", "apply_to_key", "KVStore"]

KINDS = ("put", "get", "delete", "cas")
"""The operation kinds a :class:`KVStore` understands."""

WRITE_KINDS = frozenset({"put", "delete", "cas"})
"""Kinds that may change the store (and so take a revision)."""


def _require_hashable(what: str, value: Any) -> None:
    try:
        hash(value)
    except TypeError:
        raise ValueError(f"{what} must be hashable (str, int, tuple, frozenset, ...) so states can be compared and "
                         f"memoised; got unhashable {type(value).__name__} {value!r}") from None


@dataclass(frozen=True)
class Op:
    """One key-value command: ``kind`` is one of :data:`KINDS`.

    ``value`` is the value to write (put, cas); ``expected`` the value a cas
    compares with (``None`` = key absent). ``client`` and ``seq`` identify
    the request for de-duplication of retries; give both or neither. Build
    ops with the class methods :meth:`put`, :meth:`get`, :meth:`delete` and
    :meth:`cas`, or directly; bad combinations raise :class:`ValueError`.
    """

    kind: str
    key: Hashable
    value: Hashable | None = None
    expected: Hashable | None = None
    client: Hashable | None = None
    seq: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown op kind {self.kind!r}; allowed kinds: {', '.join(KINDS)}")
        if self.key is None:
            raise ValueError(f"a {self.kind} needs a key (any hashable value except None, e.g. a str)")
        _require_hashable("the key", self.key)
        _require_hashable("the value", self.value)
        _require_hashable("the expected value", self.expected)
        if self.kind in ("put", "cas") and self.value is None:
            raise ValueError(f"a {self.kind} needs a value other than None (None means 'absent'; use delete to remove a key)")
        if self.kind in ("get", "delete") and self.value is not None:
            raise ValueError(f"a {self.kind} takes no value; got value={self.value!r}")
        if self.kind != "cas" and self.expected is not None:
            raise ValueError(f"only cas takes an expected value; got expected={self.expected!r} for a {self.kind}")
        if (self.client is None) != (self.seq is None):
            raise ValueError(f"give both client and seq (for de-duplication of retries) or neither; got client={self.client!r}, seq={self.seq!r}")
        if self.client is not None:
            _require_hashable("the client id", self.client)
            if not isinstance(self.seq, int) or isinstance(self.seq, bool) or self.seq < 0:
                raise ValueError(f"seq must be a whole number >= 0 (the client's request counter); got {self.seq!r}")

    @classmethod
    def put(cls, key: Hashable, value: Hashable, client: Hashable | None = None, seq: int | None = None) -> Op:
        """A put: set ``key`` to ``value``."""
        return cls("put", key, value, None, client, seq)

    @classmethod
    def get(cls, key: Hashable, client: Hashable | None = None, seq: int | None = None) -> Op:
        """A get: read ``key``."""
        return cls("get", key, None, None, client, seq)

    @classmethod
    def delete(cls, key: Hashable, client: Hashable | None = None, seq: int | None = None) -> Op:
        """A delete: remove ``key`` (``ok`` says whether it existed)."""
        return cls("delete", key, None, None, client, seq)

    @classmethod
    def cas(cls, key: Hashable, expected: Hashable | None, value: Hashable,
            client: Hashable | None = None, seq: int | None = None) -> Op:
        """A compare-and-swap: set ``key`` to ``value`` iff it currently holds ``expected`` (None = absent)."""
        return cls("cas", key, value, expected, client, seq)

    @property
    def is_write(self) -> bool:
        """True for kinds that may change the store (put, delete, cas)."""
        return self.kind in WRITE_KINDS

    def __str__(self) -> str:
        match self.kind:
            case "put":
                return f"put({self.key!r}, {self.value!r})"
            case "cas":
                return f"cas({self.key!r}, {self.expected!r} -> {self.value!r})"
            case _:
                return f"{self.kind}({self.key!r})"


@dataclass(frozen=True)
class Result:
    """What an operation returned: ``ok``, ``value`` and ``revision``.

    * put: ``ok=True``, ``revision`` = the revision this write created;
    * get: ``ok=True``, ``value`` (None if absent), ``revision`` = the key's
      mod revision (0 if absent);
    * delete: ``ok`` = the key existed; ``revision`` = the new revision, or 0;
    * cas: success ``ok=True`` and the new revision; failure ``ok=False`` with
      the current ``value`` and mod revision.

    In a history written by hand, ``revision=None`` means "not observed": the
    checker then does not check it. ``duplicate`` is True when the store
    answered from its session table instead of applying the op; it is
    informational and not part of equality.
    """

    ok: bool = True
    value: Hashable | None = None
    revision: int | None = None
    duplicate: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.ok, bool):
            raise ValueError(f"Result.ok must be True or False; got {self.ok!r}")
        _require_hashable("the result value", self.value)
        if self.revision is not None and (not isinstance(self.revision, int) or isinstance(self.revision, bool) or self.revision < 0):
            raise ValueError(f"Result.revision must be a whole number >= 0, or None when not observed; got {self.revision!r}")

    def __str__(self) -> str:
        rev = "" if self.revision is None else f" @{self.revision}"
        return f"{'ok' if self.ok else 'failed'} {self.value!r}{rev}"

    def describe(self, op: Op) -> str:
        """The result in words, as an answer to ``op``: ``1 @3``, ``absent``, ``ok @4``, ``failed: value 2 @3``."""
        rev = "" if self.revision is None else f" @{self.revision}"
        if op.kind == "get":
            return f"absent{rev}" if self.value is None else f"{self.value!r}{rev}"
        if self.ok:
            return f"ok{rev}"
        if op.kind == "delete":
            return f"failed: absent{rev}"
        return f"failed: {'absent' if self.value is None else f'value {self.value!r}'}{rev}"


class KeyEntry(NamedTuple):
    """One key's state: its ``value`` (None = absent/deleted) and the revision of its last change."""

    value: Hashable | None = None
    mod_revision: int = 0


_ABSENT = KeyEntry()


class Transition(NamedTuple):
    """What :func:`apply_to_key` decided: the key's new entry, the result, and whether it was a write."""

    entry: KeyEntry
    result: Result
    wrote: bool


def apply_to_key(entry: KeyEntry, op: Op, next_revision: int) -> Transition:
    """The sequential specification of one operation on one key.

    ``entry`` is the key's state before the op and ``next_revision`` the
    revision the op takes if it changes the key. Pure: the same arguments
    always give the same :class:`Transition`. :class:`KVStore` calls it with
    its global counter + 1; the linearizability checker calls it with the
    revision a client observed.
    """
    current = entry.value
    shown = entry.mod_revision if current is not None else 0
    match op.kind:
        case "get":
            return Transition(entry, Result(True, current, shown), False)
        case "put":
            return Transition(KeyEntry(op.value, next_revision), Result(True, None, next_revision), True)
        case "delete":
            if current is None:
                return Transition(entry, Result(False, None, 0), False)
            return Transition(KeyEntry(None, next_revision), Result(True, None, next_revision), True)
        case "cas":
            if current != op.expected:
                return Transition(entry, Result(False, current, shown), False)
            return Transition(KeyEntry(op.value, next_revision), Result(True, None, next_revision), True)
    raise ValueError(f"unknown op kind {op.kind!r}; allowed kinds: {', '.join(KINDS)}")  # pragma: no cover - Op validates


class KVStore:
    """The etcd-like key-value state machine: ``apply(op) -> Result``, deterministic.

    Example::

        s = KVStore()
        s.apply(Op.put("x", 1))          # Result(ok=True, value=None, revision=1)
        s.apply(Op.cas("x", 1, 2))       # Result(ok=True, value=None, revision=2)
        s.apply(Op.get("x"))             # Result(ok=True, value=2, revision=2)

    ``revision`` is the global counter; :meth:`state_key` a hashable digest of
    the whole state; :meth:`copy` an independent copy.
    """

    def __init__(self) -> None:
        """An empty store at revision 0 with no sessions."""
        self.revision: int = 0
        self._keys: dict[Hashable, KeyEntry] = {}
        self._sessions: dict[Hashable, tuple[int, Result]] = {}

    def apply(self, op: Op) -> Result:
        """Apply ``op`` (unless it is a duplicate) and return its result.

        De-duplication: if ``op`` carries ``(client, seq)`` and ``seq`` equals
        the client's latest applied sequence number, the remembered result is
        returned (with ``duplicate=True``) and nothing changes. If ``seq`` is
        *older* than the latest, the request is a stale duplicate whose answer
        no one waits for any more (a client has one request outstanding); it
        is not applied and gets ``Result(ok=False, duplicate=True)``.
        """
        if not isinstance(op, Op):
            raise ValueError(f"KVStore.apply takes an Op (e.g. Op.put('x', 1)); got {type(op).__name__} {op!r}")
        if op.client is not None:
            session = self._sessions.get(op.client)
            if session is not None and op.seq <= session[0]:
                if op.seq == session[0]:
                    return Result(session[1].ok, session[1].value, session[1].revision, duplicate=True)
                return Result(False, None, None, duplicate=True)
        result = self.execute(op)
        if op.client is not None:
            self._sessions[op.client] = (op.seq, result)
        return result

    def execute(self, op: Op) -> Result:
        """Apply ``op`` to the keys and return its result, without sessions: its ``(client, seq)`` is ignored, so
        executing a retried write again applies it again."""
        if not isinstance(op, Op):
            raise ValueError(f"KVStore.execute takes an Op (e.g. Op.put('x', 1)); got {type(op).__name__} {op!r}")
        t = apply_to_key(self._keys.get(op.key, _ABSENT), op, self.revision + 1)
        if t.wrote:
            self.revision += 1
            self._keys[op.key] = t.entry
        return t.result

    def get(self, key: Hashable) -> Hashable | None:
        """The current value of ``key`` (None if absent), without a revision or a session."""
        return self._keys.get(key, _ABSENT).value

    def entry(self, key: Hashable) -> KeyEntry:
        """The key's :class:`KeyEntry` (a deleted key keeps the revision of its delete)."""
        return self._keys.get(key, _ABSENT)

    def items(self) -> Iterator[tuple[Hashable, Hashable]]:
        """The present keys and their values, in the order they were first written."""
        return ((k, e.value) for k, e in self._keys.items() if e.value is not None)

    def snapshot(self) -> Mapping[Hashable, Hashable]:
        """A plain dict of the present keys and values (a copy)."""
        return dict(self.items())

    def last_applied(self, client: Hashable) -> int | None:
        """The latest sequence number applied for ``client``, or None if it has no session."""
        session = self._sessions.get(client)
        return None if session is None else session[0]

    def state_key(self) -> tuple:
        """A hashable digest of the whole state (revision, keys, sessions), equal for equal states."""
        return (self.revision, frozenset(self._keys.items()), frozenset(self._sessions.items()))

    def copy(self) -> KVStore:
        """An independent copy (entries and results are immutable, so copying the dicts suffices)."""
        other = KVStore()
        other.revision = self.revision
        other._keys = dict(self._keys)
        other._sessions = dict(self._sessions)
        return other

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KVStore) and self.state_key() == other.state_key()

    __hash__ = None  # mutable: use state_key() for a hashable digest

    def __repr__(self) -> str:
        return f"KVStore(revision={self.revision}, {self.snapshot()!r})"
