"""Observations: the only thing student code hands the judge, and how the worker keeps the reference out of reach.

The grader splits every check in two (DESIGN.md principle 10, "observe in
the worker, judge in the parent"): a *probe* calls student code and returns
raw observations -- return values, a node's state and messages, the trace of
a scenario run -- and a *judge*, which never runs student code, decides.
What crosses from one to the other is plain JSON built here:

* :func:`plain` turns any value into data made only of exact built-in
  types; anything else becomes ``{"object": type name, "repr": ...}``, so an
  object that claims to equal everything is just an object;
* :func:`encode_events` / :func:`decode_events` carry a trace across (the
  judge rebuilds :class:`~raftedu.raft.Event` records and may re-run
  :func:`~raftedu.checks.check_trace` on them);
* :func:`code_fingerprint` identifies a function's code, so raftedu's own
  reference handed in as an answer is recognised;
* :class:`ReferenceLock` switches the reference rules off while student code
  runs: calling them (or a verbatim copy) raises a clear error.
"""

from __future__ import annotations

import gc
import hashlib
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from typing import Any

from ..nodehost import _repr, decode, encode, plain, registry, student_class
from ..raft import (AppendEntries, AppendEntriesReply, ConfigChange, Entry, Event, Message, RaftNode, RequestVote,
                    RequestVoteReply, Snapshot)

__all__ = [
    "REFERENCE_CLASSES",
    "REFERENCE_OFF",
    "REFERENCE_PREFIX",
    "ReferenceLock",
    "as_int",
    "as_real",
    "code_fingerprint",
    "decode_events",
    "decode_message",
    "guard_reference_source",
    "encode_events",
    "encode_message",
    "plain",
    "reference_fingerprints",
    "reference_function",
    "relevant",
    "scan_for_copies",
    "student_class",
    "unplain",
]

REFERENCE_PREFIX = "raftedu: the reference "
"""How the error raised by a switched-off reference rule starts (the probe recognises it)."""
REFERENCE_OFF = REFERENCE_PREFIX + "RaftNode."
"""How it starts for a RaftNode rule."""
STUB_FILE = "<raftedu: reference switched off>"
"""The file name of a switched-off reference rule's code (how a saved copy of it is recognised)."""
REFERENCE_CLASSES: dict[str, type] = {"RaftNode": RaftNode}
"""Classes whose methods an exercise may switch off by a qualified name such as ``"KVNode.start_read"`` (a grading
module adds its classes here); a plain name such as ``"handle_request_vote"`` is RaftNode's."""

MESSAGE_TYPES: dict[str, type[Message]] = {c.__name__: c for c in (RequestVote, RequestVoteReply, AppendEntries,
                                                                  AppendEntriesReply)}
_MESSAGE_FIELDS = {name: [f.name for f in fields(c)] for name, c in MESSAGE_TYPES.items()}


def unplain(x: Any) -> Any:
    """Data from :func:`plain` as Python values (lists stay lists; tagged objects stay tagged dicts)."""
    if isinstance(x, list):
        return [unplain(v) for v in x]
    if isinstance(x, dict):
        if "dict" in x and len(x) == 1:
            out = {}
            for k, v in x["dict"]:
                k = unplain(k)
                out[tuple(k) if isinstance(k, list) else k if not isinstance(k, dict) else repr(k)] = unplain(v)
            return out
        return x
    return x


def as_int(x: Any) -> int | None:
    """The whole number an observation holds (an ``int``, or a numpy-like integer), else None (bools are not numbers)."""
    if type(x) is int:
        return x
    if isinstance(x, dict):
        inner = x.get("int")
        if type(inner) is int:
            return inner
    return None


def as_real(x: Any) -> float | None:
    """The real number an observation holds, else None."""
    if type(x) in (int, float):
        return float(x)
    if isinstance(x, dict) and type(x.get("int")) is int:
        return float(x["int"])
    if isinstance(x, dict) and type(x.get("real")) in (int, float):
        return float(x["real"])
    return None


# --------------------------------------------------------------------------
# Messages and traces
# --------------------------------------------------------------------------


def _field(v: Any) -> Any:
    return v if v is None or type(v) is int or type(v) is bool else plain(v)


def encode_message(m: Any) -> Any:
    """A message as ``[type name, field values...]`` (entries as ``[term, command]`` pairs)."""
    if m is None:
        return None
    name = type(m).__name__
    if type(m) is not MESSAGE_TYPES.get(name):
        return {"object": name, "repr": _repr(m)}
    out: list[Any] = [name]
    for f in _MESSAGE_FIELDS[name]:
        v = getattr(m, f)
        out.append([_entry(e) for e in v] if f == "entries" and type(v) is tuple else _field(v))
    return out


def decode_message(x: Any) -> Message | None:
    """The message :func:`encode_message` described; raises ``ValueError`` on anything else."""
    if x is None:
        return None
    if not isinstance(x, list) or not x or x[0] not in MESSAGE_TYPES:
        raise ValueError(f"not a Raft message: {str(x)[:80]}")
    name = x[0]
    names = _MESSAGE_FIELDS[name]
    if len(x) != len(names) + 1:
        raise ValueError(f"a {name} with {len(x) - 1} fields")
    values = dict(zip(names, x[1:]))
    if "entries" in values:
        values["entries"] = tuple(_unentry(e) for e in values["entries"]) if isinstance(values["entries"], list) else ()
    return MESSAGE_TYPES[name](**values)


def _entry(e: Any) -> Any:
    if e is None:
        return None
    if type(e) is not Entry:
        return {"object": type(e).__name__, "repr": _repr(e)}
    return [_field(e.term), plain(e.command)]


def _unentry(x: Any) -> Entry | None:
    if x is None:
        return None
    if isinstance(x, list) and len(x) == 2:
        return Entry(x[0], unplain(x[1]))
    return Entry(None, x)  # type: ignore[arg-type]  # not an entry: kept, and the checks will say so


def relevant(e: Event) -> bool:
    """Whether the judge needs event ``e``: everything the safety checks and the scenario judges read.

    Left out: timers, progress and partition bookkeeping, drops, notes, and
    sends and deliveries other than granted vote replies and RequestVote
    deliveries (together about three quarters of a faulty run). Every other
    kind -- node state changes, crashes, restarts, configuration changes,
    failures, client requests and replies, and any kind added later -- is
    kept.
    """
    kind = e.kind
    if kind == "send":
        return type(e.msg) is RequestVoteReply and e.msg.vote_granted is not False
    if kind == "deliver":
        return type(e.msg) is RequestVote
    return kind not in _BOOKKEEPING


_BOOKKEEPING = frozenset(("timer", "timeout", "progress", "drop", "partition", "heal", "cut", "note", "timeout_now",
                          "set_network"))


_RECORDS = (Snapshot, ConfigChange)
"""Event values kept as records (a snapshot, install or restore event's snapshot, a configuration): the safety checks
and the view read their fields."""
_REGISTRY = registry()


def _value(v: Any) -> Any:
    return {"record": encode(v)} if type(v) in _RECORDS else plain(v)


def _unvalue(x: Any) -> Any:
    if isinstance(x, dict) and len(x) == 1 and "record" in x:
        value = decode(x["record"], _REGISTRY)
        if type(value) in _RECORDS:
            return value
        raise ValueError(f"not a snapshot or configuration: {str(x)[:80]}")
    return unplain(x)


def encode_events(events: Sequence[Event], limit: int = 400_000) -> list[list[Any]]:
    """The :func:`relevant` events of a trace as compact rows (``rule`` and ``text`` left out: facts, not prose)."""
    out = []
    for e in events[:limit]:
        if relevant(e):
            out.append([e.time, e.kind, _field(e.node), _field(e.term), _field(e.peer), _field(e.index),
                        _entry(e.entry), _value(e.value), encode_message(e.msg), e.msg_id])
    return out


def decode_events(rows: Iterable[Any]) -> list[Event]:
    """The events :func:`encode_events` wrote; raises ``ValueError`` on rows that are not events."""
    events = []
    for row in rows:
        if not isinstance(row, list) or len(row) != 10 or type(row[0]) is not int or type(row[1]) is not str:
            raise ValueError(f"not a trace event: {str(row)[:80]}")
        time, kind, node, term, peer, index, entry, value, msg, msg_id = row
        events.append(Event(time, kind, node=node, term=term, peer=peer, index=index, entry=_unentry(entry),
                            value=_unvalue(value), msg=decode_message(msg), msg_id=msg_id))
    return events


# --------------------------------------------------------------------------
# Code identity and the reference lock
# --------------------------------------------------------------------------


def _feed(h: Any, code: types.CodeType) -> None:
    h.update(code.co_code)
    h.update(repr((code.co_name, code.co_names, code.co_varnames, code.co_argcount)).encode())
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _feed(h, c)
        else:
            h.update(_repr(c).encode())


def code_fingerprint(fn: Any) -> str | None:
    """A hash of a function's bytecode, names and constants (docstring included): equal only for verbatim copies."""
    while hasattr(fn, "func") and not hasattr(fn, "__code__"):  # functools.partial
        fn = fn.func
    fn = getattr(fn, "__func__", fn)  # bound methods
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        return None
    h = hashlib.sha256()
    _feed(h, code)
    return h.hexdigest()[:24]


_PRINTS: dict[str, str] = {}


def _qualified(name: str) -> tuple[str, str]:
    """(class name, method name) of a switched-off rule's name (``"KVNode.start_read"`` or RaftNode's ``"x"``)."""
    cls, _, method = name.rpartition(".")
    return cls or "RaftNode", method


def reference_function(name: str) -> Any:
    """The reference function a rule name stands for (see :data:`REFERENCE_CLASSES`), or None."""
    cls, method = _qualified(name)
    fn = getattr(REFERENCE_CLASSES.get(cls), "__dict__", {}).get(method)
    return fn if isinstance(fn, types.FunctionType) else None


def reference_fingerprints(names: Iterable[str]) -> dict[str, str]:
    """The fingerprints of raftedu's own reference methods ``names`` (taken the first time, before any lock)."""
    out = {}
    for name in names:
        fn = reference_function(name)
        if fn is None:
            continue
        if name not in _PRINTS:
            _PRINTS[name] = code_fingerprint(fn) or ""
        out[name] = _PRINTS[name]
    return out


def _stub(name: str, yours: bool = True) -> types.CodeType:
    cls, method = _qualified(name)
    message = (f"{REFERENCE_PREFIX}{cls}.{method} is switched off while your {method} is graded: "
               f"write the rule yourself instead of calling raftedu's" if yours else
               f"{REFERENCE_PREFIX}{cls}.{method} is switched off while this exercise is graded (it does part of a "
               f"method you write): write that part yourself instead of calling raftedu's")
    name = method
    source = f"def {name}(*args, **kwargs):\n    raise RuntimeError({message!r})\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, STUB_FILE, "exec"), namespace)
    code: types.CodeType = namespace[name].__code__
    return code


_COPIES: list[types.FunctionType] = []


def scan_for_copies(names: Iterable[str]) -> int:
    """Find every function object that is a verbatim copy of a reference rule in ``names`` (raft.py exec'd
    again, its source pasted into a cell, ...); later :class:`ReferenceLock` blocks switch them off too.

    Scans all live objects once (a tenth of a second or so); returns how many copies it found.
    """
    wanted = reference_fingerprints(names)
    prints = set(wanted.values())
    methods = {_qualified(n)[1] for n in wanted}
    originals = {id(reference_function(n)) for n in wanted}
    _COPIES.clear()
    for obj in gc.get_objects():
        if type(obj) is types.FunctionType and obj.__name__ in methods and id(obj) not in originals:
            if code_fingerprint(obj) in prints:
                _COPIES.append(obj)
    return len(_COPIES)


class ReferenceLock:
    """While active, raftedu's own ``RaftNode`` rules named ``names`` -- and the copies found by
    :func:`scan_for_copies` -- raise a clear error when called.

    The code of each function object is swapped for a stub in place, so a
    reference saved under another name before the lock is switched off too.
    Leaving the ``with`` block restores them -- unless ``permanent``: then
    the real code is not kept anywhere (the grader's worker never needs it
    back, and nothing left in the process can hand it to a notebook).
    """

    def __init__(self, names: Iterable[str], permanent: bool = False, yours: Iterable[str] | None = None) -> None:
        """Prepare a lock for the reference methods ``names`` (the ones a student writes, and raftedu's helpers of
        them); ``yours``, when given, names the methods the student writes (the others' error says so)."""
        self.names = [n for n in names if reference_function(n) is not None]
        self.yours = None if yours is None else set(yours)
        reference_fingerprints(self.names)  # remember them while the code is still the real one
        self.permanent = permanent
        self.swapped: list[tuple[types.FunctionType, types.CodeType]] = []

    def __enter__(self) -> "ReferenceLock":
        if not self.names:
            return self
        yours = self.yours
        stubs = {id(reference_function(n)): _stub(n, yours is None or _qualified(n)[1] in yours) for n in self.names}
        by_method = {_qualified(n)[1]: stubs[id(reference_function(n))] for n in self.names}
        targets = [(reference_function(n), stubs[id(reference_function(n))]) for n in self.names]
        targets += [(f, by_method[f.__name__]) for f in _COPIES if f.__name__ in by_method]
        for fn, stub in targets:
            if fn.__code__.co_freevars:
                continue  # a closure cannot take the stub's code; the fingerprint still rejects it as an answer
            if not self.permanent:
                self.swapped.append((fn, fn.__code__))
            fn.__code__ = stub
        return self

    def __exit__(self, *exc: Any) -> None:
        for fn, code in reversed(self.swapped):
            fn.__code__ = code
        self.swapped.clear()


_GUARDED: list[bool] = []


def guard_reference_source(names: Iterable[str]) -> None:
    """From now on, in this process, refuse to compile or run raftedu's ``raft.py`` again (a Python audit hook).

    The worker calls this before any student code: a notebook that execs
    the reference's source (or a cell pasting the docstring-and-all text of
    a rule it must write) gets a clear error instead of a working copy, so
    it cannot hand the reference's behaviour in as its own, in a cell or
    inside a graded function. Audit hooks cannot be removed; the markers
    live in the hook's closure.
    """
    import sys

    raft_file = sys.modules[RaftNode.__module__].__file__
    if raft_file is None:  # never: raftedu.raft is loaded from its file (a module built in memory has none to guard)
        raise RuntimeError("raftedu.raft has no file to guard")
    module_doc = (sys.modules[RaftNode.__module__].__doc__ or "").strip().splitlines()[0]
    markers = tuple(m for m in [module_doc] + [(reference_function(n).__doc__ or "").strip() for n in names
                                               if reference_function(n) is not None] if len(m) > 20)
    message = (f"{REFERENCE_OFF}{'/'.join(names) or 'source'}: compiling or running raftedu's own raft.py "
               "in a graded notebook is not allowed -- write the rule yourself")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "compile":
            source, filename = args[0], args[1]
            if filename is not None and str(filename) == raft_file:
                raise RuntimeError(message)
            if isinstance(source, bytes):
                source = source.decode("utf-8", "replace")
            if isinstance(source, str) and any(m in source for m in markers):
                raise RuntimeError(message)
        elif event == "marshal.loads":
            if isinstance(args[0], (bytes, bytearray)) and raft_file.encode() in args[0]:
                raise RuntimeError(message)
        elif event == "exec":
            code = args[0]
            if isinstance(code, types.CodeType) and code.co_filename == raft_file:
                raise RuntimeError(message)

    if not _GUARDED:
        sys.addaudithook(hook)
        _GUARDED.append(True)


def student_frame_name(tb: Any, student_codes: dict[Any, str]) -> str | None:
    """The name of the innermost student function on a traceback (``student_codes`` maps code objects to names)."""
    name = None
    while tb is not None:
        hit = student_codes.get(tb.tb_frame.f_code)
        if hit:
            name = hit
        tb = tb.tb_next
    return name


def codes_of(funcs: dict[str, Callable[..., Any]]) -> dict[Any, str]:
    """Code object -> function name, for the student functions ``funcs``."""
    out = {}
    for name, fn in funcs.items():
        f = fn
        while hasattr(f, "func") and not hasattr(f, "__code__"):
            f = f.func
        code = getattr(getattr(f, "__func__", f), "__code__", None)
        if code is not None:
            out[code] = name
    return out
