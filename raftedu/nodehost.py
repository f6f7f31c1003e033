"""The node host: the one raftedu module that runs inside the grading sandbox, beside the student's code.

The grader (:mod:`raftedu.grading`) never runs student code in its own
process (DESIGN.md principle 10). It starts ``python -m raftedu.nodehost``
in a sandbox (:mod:`raftedu.grading.sandbox`) and treats the student's server
as a black box that answers one call at a time over a pipe:

* ``cells`` -- execute the notebook's answer cells (sent as text);
* ``names`` -- which of the exercise's functions and classes are defined;
* ``new`` -- create a node of the student's class (id, cluster, disk, timing, random state; and switch on the
  cluster's options, when it runs them, as ``enable`` would);
* ``do`` -- deliver a message, fire the timer, propose a command, or run
  another of the node's methods; the answer is what the node sent, the events
  it noted and its state afterwards (term, vote, role, log, commitIndex, ...);
* ``steps`` -- several deliveries and timers in a row, as far as the grader's simulator would take them next
  (:meth:`raftedu.sim.Cluster.lookahead`): one call instead of one each;
* ``batch`` -- several ``new``, ``set`` and ``do`` calls in a row (a differential case: create, situate, switch on,
  deliver, fire), stopping after one that raised;
* ``set`` -- put a node in a stated situation (role, commitIndex, ...);
* ``drop`` -- forget a node (a crash: only its disk, kept by the grader, survives);
* ``call`` -- call one of the student's functions with plain arguments.

This host sees nothing but those calls: never the checks, their cases, the
seeds, the instructor's secret or an expected answer. Everything it sends
back is plain JSON that the grader decodes with :func:`decode`, checks for
type and size, and believes only as the student's nodes' own output: the
simulator, the network, the monitor, every count and every verdict stay in
the grader's process. This module imports only the standard library and
raftedu's core; the :mod:`raftedu.grading` package imports it for the codec
and the class builders (one source for both sides).

Frames are a 4-byte big-endian length and a JSON document (:func:`frame`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import numbers
import os
import random
import sys
import traceback
from collections.abc import Callable, Mapping
from itertools import repeat
from operator import attrgetter
from typing import Any, NamedTuple

from .raft import Log

__all__ = [
    "EXTENSION_STATE",
    "FrameReader",
    "MAX_FRAME",
    "MIRRORED",
    "Mirrored",
    "Plained",
    "as_rows",
    "experiment_nodes",
    "REFERENCE_PREFIX",
    "DecodeError",
    "build_class",
    "decode",
    "encode",
    "frame",
    "main",
    "method_of",
    "plain",
    "registry",
    "rules_class",
    "student_class",
    "unframe",
    "write_frame",
]

MAX_FRAME = 32 << 20
"""Largest frame either side accepts, in bytes."""
REFERENCE_PREFIX = "raftedu: the reference "
"""How the error raised by a reference rule that is not available while graded starts."""
_MAX_DEPTH = 40
_MAX_ITEMS = 200_000
_MAX_TEXT = 300


class DecodeError(ValueError):
    """Data that is not what the codec writes (the grader treats it as a broken protocol)."""


# --------------------------------------------------------------------------
# Plain values: what a student function returned, as data only
# --------------------------------------------------------------------------


def _repr(x: Any) -> str:
    try:
        text = repr(x)
    except Exception as e:  # a student object whose __repr__ fails is still an observation
        text = f"<repr raised {type(e).__name__}>"
    return text if isinstance(text, str) and len(text) <= 200 else str(text)[:200] + "..."


class Plained:
    """A value that is plain data already (what a student function in the sandbox returned): :func:`plain` hands
    it back unchanged."""

    __slots__ = ("data",)

    def __init__(self, data: Any) -> None:
        """Wrap ``data``, a value as :func:`plain` made it."""
        self.data = data


def plain(x: Any, depth: int = 0) -> Any:
    """``x`` as JSON-ready data made only of exact built-in types (tagged dicts for everything else)."""
    t = type(x)
    if t is Plained:
        return x.data
    if x is None or t is bool or t is str:
        return x
    if t is int:
        return x
    if t is float:
        return x if math.isfinite(x) else {"float": repr(x)}
    if depth > 12:
        return {"object": t.__name__, "repr": "(nested too deep)"}
    if t is list or t is tuple:
        return [plain(v, depth + 1) for v in x[:10_000]]
    if t is dict:
        return {"dict": [[plain(k, depth + 1), plain(v, depth + 1)] for k, v in list(x.items())[:10_000]]}
    if t is set or t is frozenset:
        return {"set": [plain(v, depth + 1) for v in list(x)[:10_000]]}
    if isinstance(x, numbers.Integral) and not isinstance(x, bool):  # numpy and friends: the number, and its type
        return {"int": int(x), "type": t.__name__}
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        value = float(x)
        return {"real": value if math.isfinite(value) else repr(value), "type": t.__name__}
    return {"object": t.__name__, "repr": _repr(x)}


# --------------------------------------------------------------------------
# The codec: raftedu's records (entries, messages, snapshots, ops) as JSON
# --------------------------------------------------------------------------


def as_rows(value: Any) -> Any:
    """A table as rows of cells, as :func:`plain` data: a pandas frame by its rows, any iterable of rows as tuples,
    anything else as it is."""
    rows = value
    if hasattr(rows, "itertuples"):  # a pandas DataFrame is a fine table too
        rows = list(rows.itertuples(index=False))
    try:
        return plain([tuple(row) for row in rows])
    except TypeError:
        return plain(value)


def registry() -> dict[str, type]:
    """The record classes the codec carries, by name: entries, every message, configurations, snapshots, timing,
    and the key-value store's operations and messages (frozen dataclasses whose constructors only store fields)."""
    from . import raft

    found: dict[str, type] = {}
    modules = [raft]
    try:
        from . import kv, kvmodel

        modules += [kvmodel, kv]
    except ImportError:  # pragma: no cover - the sandbox for some exercises may lack the store
        pass
    for module in modules:
        for name, value in vars(module).items():
            if (isinstance(value, type) and value.__module__ == module.__name__ and dataclasses.is_dataclass(value)
                    and value.__dataclass_params__.frozen):  # type: ignore[attr-defined]
                found[name] = value
    return found


_FIELDS: dict[type, tuple[str, ...]] = {}
"""The field names of each frozen record class met so far (``dataclasses.fields`` is slow to ask every time)."""


_ATOMS = frozenset({type(None), bool, int, str})
"""The types that cross as they are (floats cross as they are too, once checked to be finite)."""


def encode(x: Any, depth: int = 0) -> Any:
    """``x`` as JSON data the other side can :func:`decode`: None, bools, ints, finite floats and strings as they
    are; raftedu's frozen record classes as arrays naming the class (``["Entry", 2, "x"]``: the hot case, messages
    and their entries); lists (``{"l": [...]}``), tuples (``{"t": [...]}``), dicts (``{"d": [[k, v], ...]}``) and
    sets (``{"s": [...], "frozen": bool}``) tagged; anything else raises ``TypeError`` naming it."""
    t = type(x)
    if t in _ATOMS:
        return x
    if t is float:
        if not math.isfinite(x):
            raise TypeError(f"the float {x!r} cannot be carried (only finite numbers)")
        return x
    if depth > _MAX_DEPTH:
        raise TypeError("a value nested more than 40 levels deep cannot be carried")
    depth += 1
    names = _FIELDS.get(t)
    if names is not None:  # atoms inline, not one call each
        return [t.__name__, *[v if type(v) in _ATOMS else encode(v, depth)
                              for v in map(getattr, repeat(x, len(names)), names)]]
    if t is tuple or t is list:
        return {"t" if t is tuple else "l": [v if type(v) in _ATOMS else encode(v, depth) for v in x]}
    if t is dict:
        return {"d": [[encode(k, depth), encode(v, depth)] for k, v in x.items()]}
    if t is frozenset or t is set:
        return {"s": [encode(v, depth) for v in x], "frozen": t is frozenset}
    if dataclasses.is_dataclass(x) and not isinstance(x, type) and t.__dataclass_params__.frozen:
        _FIELDS[t] = tuple(f.name for f in dataclasses.fields(x))
        return encode(x, depth - 1)
    if t.__name__ == "StoreSnapshot" and t.__module__ == "raftedu.kv":  # a KV server's snapshot state: store, sessions
        return {"kv": encode(x.to_codec(), depth)}
    raise TypeError(f"a {t.__name__} ({_repr(x)[:80]}) cannot be carried between the sandbox and the grader; "
                    "use plain values (numbers, strings, tuples, lists, dicts) and raftedu's messages and entries")


_SCALARS = frozenset({type(None), bool, int, str, float})
"""The JSON types :func:`decode` hands back as they are."""


def decode(x: Any, classes: Mapping[str, type], depth: int = 0, budget: list[int] | None = None) -> Any:
    """The value :func:`encode` wrote; raises :class:`DecodeError` for anything it does not write (unknown tags,
    unknown classes, too deep or too many items)."""
    t = type(x)
    if t in _SCALARS:
        return x
    if budget is None:
        budget = [_MAX_ITEMS]
    if depth > _MAX_DEPTH:
        raise DecodeError("nested too deep")
    depth += 1
    if t is list:  # a record
        cls = classes.get(x[0]) if x and type(x[0]) is str else None
        if cls is None:
            raise DecodeError(f"unknown record class {str(x[0])[:40]!r}" if x and type(x[0]) is str
                              else "not a value the codec writes: an array that names no record class")
        names = _FIELDS.get(cls) or _FIELDS.setdefault(cls, tuple(f.name for f in dataclasses.fields(cls)))
        if len(x) != len(names) + 1:
            raise DecodeError(f"{cls.__name__} needs {len(names)} fields, got {len(x) - 1}")
        values = [v if type(v) in _SCALARS else decode(v, classes, depth, budget) for v in _counted(x, budget)[1:]]
        try:
            return cls(*values)
        except (TypeError, ValueError) as e:
            raise DecodeError(f"{cls.__name__}{tuple(names)} refused its fields: {e}") from None
    if t is not dict or len(x) > 2:
        raise DecodeError(f"not a value the codec writes: {type(x).__name__}")
    items = x.get("t", x.get("l")) if len(x) == 1 else None
    if type(items) is list:
        out = [v if type(v) in _SCALARS else decode(v, classes, depth, budget) for v in _counted(items, budget)]
        return tuple(out) if "t" in x else out
    if "d" in x and len(x) == 1 and type(x["d"]) is list:
        out_d = {}
        for pair in _counted(x["d"], budget):
            if type(pair) is not list or len(pair) != 2:
                raise DecodeError("a dict item is not a [key, value] pair")
            key = decode(pair[0], classes, depth, budget)
            try:
                out_d[key] = decode(pair[1], classes, depth, budget)
            except TypeError:
                raise DecodeError("a dict key is not hashable") from None
        return out_d
    if "kv" in x and len(x) == 1:  # a key-value server's snapshot state (raftedu.kv.StoreSnapshot.to_codec)
        try:
            from .kv import StoreSnapshot
        except ImportError:  # pragma: no cover - the sandbox for some exercises may lack the store
            raise DecodeError("a key-value snapshot where the store is not installed") from None
        try:
            return StoreSnapshot.from_codec(decode(x["kv"], classes, depth, budget))
        except (TypeError, ValueError) as e:
            raise DecodeError(f"a key-value snapshot refused its data: {e}") from None
    if "s" in x and type(x["s"]) is list:
        try:
            items = [decode(v, classes, depth, budget) for v in _counted(x["s"], budget)]
            return frozenset(items) if x.get("frozen", True) else set(items)
        except TypeError:
            raise DecodeError("a set item is not hashable") from None
    raise DecodeError(f"not a value the codec writes: a dict with keys {sorted(map(str, x))[:4]}")


def _counted(items: list[Any], budget: list[int]) -> list[Any]:
    """``items``, once their number is taken from the answer's budget of values (:class:`DecodeError` past it)."""
    budget[0] -= len(items)
    if budget[0] < 0:
        raise DecodeError(f"more than {_MAX_ITEMS} values in one answer")
    return items


# --------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------


_JSON_OUT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)
_JSON_IN = json.JSONDecoder()


def frame(obj: Any) -> bytes:
    """``obj`` as one frame: a 4-byte big-endian length, then compact JSON."""
    data = _JSON_OUT.encode(obj).encode()
    if len(data) > MAX_FRAME:
        raise ValueError(f"a frame of {len(data)} bytes is over the {MAX_FRAME} byte limit")
    return len(data).to_bytes(4, "big") + data


def unframe(body: bytes | bytearray) -> Any:
    """The JSON document of a frame's body (``ValueError`` when it is not JSON)."""
    return _JSON_IN.decode(body.decode())


def write_frame(fd: int, obj: Any) -> None:
    """Write ``obj`` as one frame, in one write when the pipe takes it whole."""
    view = memoryview(frame(obj))
    while view:
        view = view[os.write(fd, view):]


class FrameReader:
    """Reads whole frames from a file descriptor, in one read per frame when the frame is small."""

    def __init__(self, fd: int) -> None:
        """Read from ``fd`` (blocking)."""
        self.fd = fd
        self.buf = bytearray()

    def read(self) -> Any:
        """The next frame's document; ``EOFError`` when the channel is closed."""
        buf = self.buf
        while len(buf) < 4:
            self._fill(1 << 16)
        size = int.from_bytes(buf[:4], "big")
        if size > MAX_FRAME:
            raise ValueError(f"a frame of {size} bytes is over the {MAX_FRAME} byte limit")
        while len(buf) < 4 + size:
            self._fill(min(4 + size - len(buf), 1 << 20))
        body = bytes(buf[4:4 + size])
        del buf[:4 + size]
        return unframe(body)

    def _fill(self, most: int) -> None:
        chunk = os.read(self.fd, max(most, 1 << 16))
        if not chunk:
            raise EOFError("the other side closed the channel")
        self.buf += chunk


# --------------------------------------------------------------------------
# Building the class under test from the student's names (one source: the grader's builders call these)
# --------------------------------------------------------------------------


def method_of(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Bind any callable (a plain function, a ``functools.partial``, ...) as a method taking the node first."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    method.__name__ = getattr(fn, "__name__", "method")
    method.__doc__ = getattr(fn, "__doc__", None)
    return method


def rules_class(funcs: Mapping[str, Callable[..., Any]], name: str = "StudentNode") -> type:
    """A :class:`~raftedu.raft.RaftNode` subclass whose methods named in ``funcs`` are replaced by them.

    Each function takes the node as its first parameter (``self``). The
    simulator records the state changes it makes whether or not it calls
    ``note()``, so the always-on safety checks judge what it really did.
    """
    from .raft import RaftNode

    for method, fn in funcs.items():
        if not hasattr(RaftNode, method):
            raise ValueError(f"RaftNode has no method {method!r} to replace")
        if not callable(fn):
            raise TypeError(f"{method} must be a function; got {type(fn).__name__}")
    return type(name, (RaftNode,), {method: method_of(fn) for method, fn in funcs.items()})


def student_class(funcs: Mapping[str, Any], name: str, base: type, shown_base: str, reference: type,
                  exercise: str) -> type:
    """The class ``name`` a student defined (in ``funcs``) for ``exercise``: a subclass of ``base`` (called
    ``shown_base`` in messages), refused when it builds on raftedu's own ``reference`` class."""
    cls = funcs.get(name)
    if not isinstance(cls, type):
        raise NotImplementedError(f"define a class {name}({base.__name__}) in the notebook")
    if issubclass(cls, reference):
        raise RuntimeError(f"{REFERENCE_PREFIX}{reference.__name__} is not a base for exercise {exercise}: "
                           f"{cls.__name__} subclasses {reference.__name__}; write the rules on {shown_base} yourself")
    if not issubclass(cls, base):
        raise TypeError(f"{name} must be a subclass of {shown_base} (class {name}({base.__name__}): ...); "
                        f"its bases are {', '.join(b.__name__ for b in cls.__mro__[1:])}")
    return cls


def build_class(kind: str, funcs: Mapping[str, Any]) -> type:
    """The node class under test: ``"rules"`` (RaftNode with the student's rules), ``"server"`` (exercise 06's
    ``MyServer`` on Server), ``"kv"`` (exercise 08's ``MyKV`` on KVServer) or ``"capstone"`` (exercise 09's
    ``MyKV`` on ``kv_on(MyServer)``)."""
    from .raft import RaftNode, Server

    if kind == "rules":
        return rules_class(funcs)
    if kind == "server":
        return student_class(funcs, "MyServer", Server, "raftedu.Server", RaftNode, "06")
    from .kv import KVNode, KVOnServer, KVServer

    if kind == "kv":
        return student_class(funcs, "MyKV", KVServer, "raftedu.kv.KVServer", KVNode, "08")
    if kind == "capstone":
        server = student_class(funcs, "MyServer", Server, "raftedu.Server", RaftNode, "06")
        cls = student_class(funcs, "MyKV", KVOnServer, "raftedu.kv.kv_on(MyServer)", KVNode, "09")
        if server not in cls.__mro__:
            raise TypeError(f"MyKV must be built on your own server: class MyKV(kv_on(MyServer)): ...; "
                            f"its bases are {', '.join(b.__name__ for b in cls.__mro__[1:])}")
        return cls
    if kind == "kvrules":  # exercise 10's key-value server on the student's snapshot rules (sessions, §6.3)
        return type("StudentKV", (KVNode, rules_class(funcs)), {})
    raise ValueError(f"unknown kind of node class {kind!r}")


def experiment_nodes() -> dict[str, type]:
    """The node classes exercise 05's experiments are handed, by the name its cases use: Raft's own, one needing
    every server, one needing three quarters of them, one where only S1 ever stands for election."""
    from .raft import RaftNode

    class Unanimous(RaftNode):
        """Needs every server (quorum = N)."""

        @property
        def quorum(self) -> int:
            return len(self.peers) + 1

    class ThreeQuarters(RaftNode):
        """Needs three quarters of the servers (quorum = ceil(3N/4))."""

        @property
        def quorum(self) -> int:
            return -(-3 * (len(self.peers) + 1) // 4)

    class OnlyS1Stands(RaftNode):
        """Only S1 ever stands for election; the others just reset their timers."""

        def start_election(self) -> None:
            if self.id == 1:
                super().start_election()
            else:
                self.reset_election_timer()

    return {"raft": RaftNode, "unanimous": Unanimous, "three_quarters": ThreeQuarters, "only_s1": OnlyS1Stands}


# --------------------------------------------------------------------------
# Hosting nodes (runs inside the sandbox)
# --------------------------------------------------------------------------

_SIM_KINDS = frozenset({"send", "deliver", "drop", "crash", "restart", "partition", "heal", "cut", "mend",
                        "client_request", "client_reply", "failure", "machine", "net", "clock",
                        "pause", "resume"})
"""Event kinds only the simulator records: a node noting one is carried as a ``note``."""
_METHODS = frozenset({"receive", "on_timer", "propose", "enable", "advance_commit_index", "apply_committed",
                      "log_is_up_to_date", "start_election", "transfer_leadership", "take_snapshot",
                      "propose_configuration", "configuration_change_refused", "promotion_refused"})
"""The node methods the grader may call through ``do``."""
_SETTABLE = frozenset({"role", "commit_index", "last_applied", "applied", "votes", "leader_id", "match_index",
                       "next_index", "now"})
"""The attributes ``set`` may give a node (a differential case's situation)."""
EXTENSION_STATE = ("config", "config_index", "voters", "learners", "transferee", "match_index")
"""The state of etcd's extensions the grader mirrors from a node that runs them (``runs_extensions``): the
configuration in use and where it is in the log (§4.1), who votes and who only listens (§4.2.1), the transfer
target (§3.10), the leader's matchIndex (the simulator's operations read them). Sent as ``X`` when it changed."""


class Mirrored(NamedTuple):
    """One of a node's fields the grader mirrors (:data:`MIRRORED`)."""

    key: str
    """Its name on the wire."""
    path: str
    """Where the node keeps it: an attribute, or ``state.<attribute>`` (its volatile copy of the persistent state)."""
    kind: str
    """What the grader accepts (:data:`raftedu.grading.boundary.KINDS`): ``int``, ``int or None``, ``role``."""
    label: str
    """Its name in a message about a wrong value."""
    optional: bool = False
    """A node without it has None (else the missing attribute is the node's error)."""


MIRRORED: tuple[Mirrored, ...] = (
    Mirrored("t", "state.current_term", "int", "currentTerm"),
    Mirrored("v", "state.voted_for", "int or None", "votedFor"),
    Mirrored("r", "role", "role", "role"),
    Mirrored("l", "leader_id", "int or None", "leader_id", optional=True),
    Mirrored("c", "commit_index", "int", "commit_index"),
    Mirrored("a", "last_applied", "int", "last_applied"),
    Mirrored("d", "deadline", "int or None", "deadline"),
)
"""The fields of a node the grader mirrors after every step, each sent only when it changed (one row per field:
adding a mirrored field is adding a row; the log, the disk, the snapshot and the applied commands travel as deltas
of their own)."""


def _reader(row: Mirrored) -> Callable[[Any], Any]:
    get = attrgetter(row.path)
    if not row.optional:
        return get

    def read(node: Any) -> Any:
        try:
            return get(node)
        except AttributeError:
            return None

    return read


_READERS = tuple(_reader(row) for row in MIRRORED)
_DEADLINE = next(k for k, row in enumerate(MIRRORED) if row.path == "deadline")
_READ_ALL = attrgetter(*(row.path for row in MIRRORED))
"""Every mirrored field at once (one call; AttributeError when a node lacks one: then one at a time)."""
_UNSENT = object()
"""What the grader was sent of a field before anything was (differs from every value)."""


def _same(a: Any, b: Any) -> bool:
    """Whether two encoded values are the same value (``True`` and ``1`` are not)."""
    t = type(a)
    if t is not type(b):
        return False
    if t is list:
        return len(a) == len(b) and all(map(_same, a, b))
    if t is dict:
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    return a == b


def _params(fn: Any) -> list[str] | None:
    """The parameter names of ``fn`` ("**" for a ``**kwargs``), or None when it has no readable signature."""
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    return ["**" if p.kind is p.VAR_KEYWORD else p.name for p in params][:50]


def _where(exc: BaseException) -> str:
    every = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in every if not f.filename.startswith(_PACKAGE)]
    if not frames:  # raised by raftedu's own code: say which method met the state the student's code left
        named = [f.name for f in every if not f.name.startswith("<")]  # not a <listcomp> or <genexpr>
        return f" (raised in raftedu's {named[-1]}, from the state the node was left in)" if named else ""
    f = frames[-1]
    return f" (in {f.name}, line {f.lineno} of a notebook cell)" if f.filename.startswith("<") else \
        f" (in {f.name}, line {f.lineno})"


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _raised(exc: BaseException) -> list[str]:
    try:
        text = str(exc)
    except Exception:
        text = "(its message could not be read)"
    return [type(exc).__name__, text[:500], _where(exc)]


class _Hosted:
    """One node and what the grader last heard about it (to send only what changed)."""

    __slots__ = ("node", "sent", "atoms", "log", "log_seen", "disk_log", "disk_seen", "disk_rest", "applied", "applied_n",
                 "snap", "rng_state", "ext", "quiet")

    def __init__(self, node: Any) -> None:
        self.node = node
        self.rng_state: Any = None
        self.forget()

    def forget(self) -> None:
        """As if the grader had heard nothing yet (after an answer that could not be sent: the next sends all)."""
        self.sent: list[Any] = [_UNSENT] * len(MIRRORED)
        self.atoms: tuple[Any, ...] = ()  # the mirrored fields last sent, with their types, when all were atoms
        self.log: Any = None
        self.log_seen: list[Any] = []
        self.disk_log: Any = None
        self.disk_seen: list[Any] = []
        self.disk_rest: Any = (_UNSENT,) * 5
        self.applied: Any = None
        self.applied_n = 0
        self.snap: Any = (_UNSENT,) * 3
        self.ext: Any = None
        self.quiet: Any = None  # the log, snapshot, disk and applied commands as last sent, when nothing was moved


def _log_delta(log: Any, last: Any, seen: list[Any]) -> list[Any] | None:
    """[kept, new entries] when ``log`` differs from ``seen`` (what was last sent), else None; updates ``seen``."""
    n, m = len(seen), len(log)
    start = min(log.low, n, m) if type(log) is Log and log is last else 0
    while start < n and start < m and (log[start] is seen[start] or log[start] == seen[start]):
        start += 1
    if start == n == m:
        if type(log) is Log:
            log.low = Log.UNTOUCHED
        return None
    new = list(log[start:])
    del seen[start:]
    seen.extend(new)
    if type(log) is Log:
        log.low = Log.UNTOUCHED
    return [start, [encode(e) for e in new]]


class Host:
    """The sandbox's end of the channel: runs the notebook's cells, then answers the grader's calls."""

    def __init__(self, fd_in: int, fd_out: int) -> None:
        """Serve on file descriptors ``fd_in`` (calls) and ``fd_out`` (answers)."""
        self.fd_in, self.fd_out = fd_in, fd_out
        self.namespace: dict[str, Any] = {}
        self.nodes: dict[int, _Hosted] = {}
        self.rngs: dict[int, random.Random] = {}
        self.classes: dict[str, type] = {}
        self.names: tuple[str, ...] = ()
        self.codec = registry()

    # ---- the notebook ----------------------------------------------------

    def run_cells(self, cells: list[list[Any]], cell_timeout: float) -> list[dict[str, Any]]:
        """Execute each ``[number, source]`` cell; one finding per cell that went wrong."""
        import signal

        from .raft import Server  # noqa: F401  (raftedu's core is loaded before any student code)

        shell = None
        try:
            from IPython.core.interactiveshell import InteractiveShell
            from traitlets.config import Config

            config = Config()
            config.HistoryManager.enabled = False
            config.InteractiveShell.colors = "NoColor"
            shell = InteractiveShell.instance(config=config)
            shell.showtraceback = shell.showsyntaxerror = lambda *a, **k: None
            self.namespace = shell.user_ns
        except ImportError:  # pragma: no cover - plain Python runs the cells
            self.namespace = {"__name__": "__main__"}

        class CellTimeout(BaseException):
            pass

        def alarm(signum: int, frame: Any) -> None:
            raise CellTimeout()

        found = []
        for number, source in cells:
            error: BaseException | None = None
            old = sys.stdout, sys.stderr
            sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
            signal.signal(signal.SIGALRM, alarm)
            signal.setitimer(signal.ITIMER_REAL, cell_timeout, 0.25)
            try:
                if shell is not None:
                    result = shell.run_cell(source, store_history=False)
                    error = result.error_in_exec or result.error_before_exec
                else:  # pragma: no cover
                    exec(compile(source, f"<cell {number}>", "exec"), self.namespace)
            except BaseException as e:  # the alarm may fire outside the cell's own code
                error = e
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                sys.stdout, sys.stderr = old
            if isinstance(error, CellTimeout):
                found.append({"cell": number, "flag": "timeout"})
            elif isinstance(error, MemoryError):
                found.append({"cell": number, "flag": "memory"})
            elif error is not None:
                name, text, where = _raised(error)
                found.append({"cell": number, "flag": "copied" if text.startswith(REFERENCE_PREFIX) else "error",
                              "error": name, "text": text[:200]})
        return found

    def describe(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """Whether each name is defined and callable, and its type's name."""
        out = {}
        for name in names:
            value = self.namespace.get(name)
            out[name] = {"callable": callable(value), "type": "nothing" if value is None else type(value).__name__,
                         "params": _params(value)}
        return out

    def functions(self) -> dict[str, Any]:
        """The exercise's names as the notebook defined them (a missing one raises NotImplementedError when used)."""
        out: dict[str, Any] = {}
        for name in self.names:
            value = self.namespace.get(name)
            if callable(value):
                out[name] = value
            else:
                def missing(*args: Any, _name: str = name, **kwargs: Any) -> Any:
                    raise NotImplementedError(f"{_name} is not defined in the notebook")

                missing.__name__ = name
                out[name] = missing
        return out

    # ---- nodes -----------------------------------------------------------

    def _rng(self, key: int, state: Any) -> random.Random:
        rng = self.rngs.get(key)
        if rng is None:
            rng = self.rngs[key] = random.Random()
            version, internal, gauss = state
            rng.setstate((version, tuple(internal), gauss))
        return rng

    def new(self, req: dict[str, Any]) -> dict[str, Any]:
        """Create node ``req["h"]`` of the class of kind ``req["kind"]`` from its disk."""
        from .raft import PersistentState, Timing

        kind = req["kind"]
        cls = self.classes.get(kind)
        if cls is None:
            try:  # the student's class may be missing, or built on what it may not be built on: its error, told
                cls = build_class(kind, self.functions()) if kind in ("rules", "server", "kv", "capstone", "kvrules") \
                    else experiment_nodes()[kind]
            except BaseException as e:
                return {"raised": _raised(e)}
            self.classes[kind] = cls
        disk = req["disk"]
        state = PersistentState(disk["t"], disk["v"], [decode(e, self.codec) for e in disk["L"]],
                                decode(disk.get("s"), self.codec), disk.get("o", 0), disk.get("ot", 0))
        timing = decode(req["timing"], self.codec)
        rng = self._rng(req["rng"], decode(req["rs"], self.codec)) if req.get("rs") is not None or \
            req["rng"] in self.rngs else random.Random(0)
        hosted = _Hosted(None)
        hosted.disk_seen = list(state.log)
        hosted.disk_log = state.log
        hosted.disk_rest = (state.current_term, state.voted_for, state.snapshot, state.offset, state.offset_term)
        hosted.log_seen = list(state.log)
        hosted.snap = (state.snapshot, state.offset, state.offset_term)
        self.nodes[req["h"]] = hosted
        try:
            hosted.node = cls(req["id"], tuple(req["ids"]), rng=rng, timing=timing if isinstance(timing, Timing)
                              else Timing(), state=state, now=req["now"])
        except BaseException as e:
            del self.nodes[req["h"]]
            return {"raised": _raised(e)}
        if req.get("track_rng"):  # a differential case asks whether a step drew an election timeout
            hosted.rng_state = rng.getstate()
        answer = self._answer(hosted, None, None)
        if req.get("enable") is not None and "raised" not in answer:  # switched on at boot: the same call
            answer["enabled"] = self._step(hosted, "enable", (), decode(req["enable"], self.codec))
        return answer

    def batch(self, req: dict[str, Any]) -> dict[str, Any]:
        """Answer several node calls (``new``, ``set``, ``do``) in order, stopping after one that raised."""
        out = []
        for call in req["calls"]:
            op = call.get("op")
            if op not in ("new", "set", "do"):
                raise ValueError(f"a batch may not hold {str(op)[:40]!r}")
            answer = getattr(self, op)(call)
            out.append(answer)
            if "raised" in answer:
                break
        return {"answers": out}

    def do(self, req: dict[str, Any]) -> dict[str, Any]:
        """Run one of the node's methods with the given arguments; what it did."""
        name = req["m"]
        if name not in _METHODS:
            raise ValueError(f"the grader may not call {name!r}")
        codec = self.codec
        return self._step(self.nodes[req["h"]], name, [decode(a, codec) for a in req.get("a", ())],
                          decode(req.get("k", {"d": []}), codec))

    def steps(self, req: dict[str, Any]) -> dict[str, Any]:
        """Take the steps that come next, in order (:meth:`raftedu.sim.Cluster.lookahead`): ``[node, message, time]``
        to deliver, ``[node, None, time]`` to fire its timer; the answer of each (None for a timer skipped because the
        node's deadline, as last reported, moved off it). Stops before a step at or past the horizon (a message sent
        at t may arrive at t + ``gap``; a timer moved fires at the new deadline: something new may come first), and
        after a step that raised (the grader takes it from there)."""
        gap, codec, out = req["gap"], self.codec, []
        horizon: int | None = None
        for h, msg, time in req["s"]:
            if horizon is not None and time >= horizon:
                break
            hosted = self.nodes[h]
            before = hosted.sent[_DEADLINE]
            if msg is None:
                if type(before) is not int or before != time:
                    out.append(None)
                    continue
                answer = self._step(hosted, "on_timer", (time,), {})
            else:
                answer = self._step(hosted, "receive", (decode(msg, codec), time), {})
            out.append(answer)
            if "raised" in answer:
                break
            if "out" in answer:  # its messages arrive at time + gap at the earliest
                horizon = time + gap if horizon is None else min(horizon, time + gap)
            after = hosted.sent[_DEADLINE]
            if after is not None and (type(after) is not type(before) or after != before):  # a new timer
                if type(after) is not int:
                    break
                horizon = after if horizon is None else min(horizon, after)
        return {"steps": out}

    def _step(self, hosted: _Hosted, name: str, args: Any, kwargs: Any) -> dict[str, Any]:
        try:
            ret = getattr(hosted.node, name)(*args, **kwargs)
        except BaseException as e:
            return self._answer(hosted, None, _raised(e))
        return self._answer(hosted, ret, None)

    def set(self, req: dict[str, Any]) -> dict[str, Any]:
        """Give the node a stated situation (attributes from ``_SETTABLE``)."""
        hosted = self.nodes[req["h"]]
        attrs = decode(req["attrs"], self.codec)
        for name, value in attrs.items():
            if name not in _SETTABLE:
                raise ValueError(f"the grader may not set {name!r}")
            setattr(hosted.node, name, value)
        return self._answer(hosted, None, None)

    def _answer(self, hosted: _Hosted, ret: Any, raised: list[str] | None) -> dict[str, Any]:
        """What the node did: ``out`` its messages, ``ev`` its events, ``st`` what changed of its state, ``ret`` what
        it returned, ``raised`` what it raised (each left out when empty)."""
        node = hosted.node
        answer: dict[str, Any] = {}
        try:
            msgs, events = node.take_output()
            if msgs:
                answer["out"] = [encode(m) for m in msgs]
            if events:
                answer["ev"] = [self._event(e) for e in events]
            st = self._state(hosted)
            if st:
                answer["st"] = st
            if ret is not None:
                answer["ret"] = encode(ret)
        except BaseException as e:  # a value that cannot be carried is the node's failure
            answer = {}
            hosted.forget()  # part of the state may count as sent: send all of it next time
            raised = raised or _raised(e)
        if raised is not None:
            answer["raised"] = raised
        return answer

    @staticmethod
    def _event(e: Any) -> list[Any]:
        kind = e.kind if isinstance(e.kind, str) else "note"
        return ["note" if kind in _SIM_KINDS else kind[:40],
                *(v if type(v) in _ATOMS else encode(v) for v in (e.term, e.peer, e.index, e.entry, e.value)),
                str(e.rule)[:_MAX_TEXT], str(e.text)[:_MAX_TEXT]]

    def _state(self, hosted: _Hosted) -> dict[str, Any]:
        node = hosted.node
        st: dict[str, Any] = {}
        try:
            values = _READ_ALL(node)
        except AttributeError:  # a field the node lacks: None if optional, else the error of the one missing
            values = tuple(read(node) for read in _READERS)
        types = tuple(map(type, values))
        atoms = (values, types) if _ATOMS.issuperset(types) else ()
        if not atoms or atoms != hosted.atoms:  # (values, types): True and 1 differ
            sent = hosted.sent
            for k, value in enumerate(values):
                t = types[k]
                if t in _ATOMS:
                    old = sent[k]
                    if type(old) is t and old == value:
                        continue
                else:
                    value = encode(value)
                    if _same(value, sent[k]):
                        continue
                st[MIRRORED[k].key] = sent[k] = value
            hosted.atoms = atoms
        state, disk = node.state, node.disk
        log, disk_log = state.log, disk.log
        applied = getattr(node, "applied", None)
        # the same objects (log, disk log, snapshots, applied list: held, so their ids stay theirs), their logs written
        # only by appends (Log.low), the same lengths and fields: nothing of them changed since the last answer
        quiet = None
        if type(log) is Log and type(disk_log) is Log and type(applied) is list:
            objects = (log, disk_log, state.snapshot, disk.snapshot, applied)
            quiet = (objects, tuple(map(id, objects)), (len(log), len(disk_log), len(applied), state.offset,
                                                        state.offset_term, disk.current_term, disk.voted_for,
                                                        disk.offset, disk.offset_term))
        old = hosted.quiet
        if quiet is None or old is None or quiet[1] != old[1] or quiet[2] != old[2] or log.low != Log.UNTOUCHED \
                or disk_log.low != Log.UNTOUCHED:
            self._stores(hosted, st, node, state, disk, applied)
        hosted.quiet = quiet
        if hosted.rng_state is not None:
            st["rng"] = node.rng.getstate() != hosted.rng_state
        if getattr(type(node), "runs_extensions", False):
            ext = [getattr(node, name, None) for name in EXTENSION_STATE]
            if ext != hosted.ext:
                st["X"] = [encode(v) for v in ext]
                if type(ext[-1]) is dict:
                    ext[-1] = dict(ext[-1])  # a copy: the node changes its own in place
                hosted.ext = ext
        return st

    @staticmethod
    def _stores(hosted: _Hosted, st: dict[str, Any], node: Any, state: Any, disk: Any, applied: Any) -> None:
        """Put in ``st`` what changed of the node's log, snapshot, disk and applied commands."""
        log = state.log
        delta = _log_delta(log, hosted.log, hosted.log_seen)
        hosted.log = log
        if delta is not None:
            st["L"] = delta
        snap = (state.snapshot, state.offset, state.offset_term)
        if snap[0] is not hosted.snap[0] or snap[1:] != hosted.snap[1:]:
            st["S"] = [encode(snap[0]), encode(snap[1]), encode(snap[2])]
            hosted.snap = snap
        rest = (disk.current_term, disk.voted_for, disk.snapshot, disk.offset, disk.offset_term)
        ddelta = _log_delta(disk.log, hosted.disk_log, hosted.disk_seen)
        hosted.disk_log = disk.log
        if ddelta is not None or rest[0] != hosted.disk_rest[0] or rest[1] != hosted.disk_rest[1] or \
                rest[2] is not hosted.disk_rest[2] or rest[3:] != hosted.disk_rest[3:]:
            st["D"] = [encode(rest[0]), encode(rest[1]), ddelta, encode(rest[2]), encode(rest[3]), encode(rest[4])]
            hosted.disk_rest = rest
        if isinstance(applied, list):
            if applied is hosted.applied and len(applied) >= hosted.applied_n:
                if len(applied) > hosted.applied_n:
                    st["A"] = [hosted.applied_n, [encode(c) for c in applied[hosted.applied_n:]]]
            else:
                st["A"] = [0, [encode(c) for c in applied]]
            hosted.applied, hosted.applied_n = applied, len(applied)

    # ---- functions ---------------------------------------------------------

    def call(self, req: dict[str, Any]) -> dict[str, Any]:
        """Call the student's function ``req["name"]`` with plain arguments; its result as :func:`plain` data."""
        name = req["name"]
        if name not in self.names:
            raise ValueError(f"{name!r} is not one of the exercise's functions")
        args = [decode(a, self.codec) for a in req.get("a", ())]
        kwargs = decode(req.get("k", {"d": []}), self.codec)
        if "node_class" in kwargs:
            kwargs["node_class"] = experiment_nodes()[kwargs["node_class"]]
        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
        try:
            value = self.functions()[name](*args, **kwargs)
            return {"ret": as_rows(value) if req.get("rows") else plain(value)}
        except BaseException as e:
            return {"raised": _raised(e)}
        finally:
            sys.stdout, sys.stderr = out, err

    # ---- the loop ----------------------------------------------------------

    def serve(self) -> None:
        """Answer calls until the grader says ``bye`` or closes the channel."""
        reader = FrameReader(self.fd_in)
        while True:
            try:
                req = reader.read()
            except EOFError:
                return
            op = req.get("op")
            for h in req.get("drop", ()):  # nodes the grader no longer has (crashed, replaced)
                self.nodes.pop(h, None)
            if op == "bye":
                write_frame(self.fd_out, {"bye": True})
                return
            if op == "cells":
                self.names = tuple(req["names"])
                answer: Any = {"cells": self.run_cells(req["cells"], float(req["cell_timeout"])),
                               "names": self.describe(list(self.names))}
            elif op == "new":
                answer = self.new(req)
            elif op == "do":
                answer = self.do(req)
            elif op == "steps":
                answer = self.steps(req)
            elif op == "set":
                answer = self.set(req)
            elif op == "batch":
                answer = self.batch(req)
            elif op == "call":
                answer = self.call(req)
            else:
                answer = {"error": f"unknown call {str(op)[:40]!r}"}
            try:
                write_frame(self.fd_out, answer)
            except (TypeError, ValueError) as e:  # an answer too big or not JSON: say so instead of dying
                for call in req.get("calls") or [req]:
                    hosted = self.nodes.get(call.get("h")) if isinstance(call, dict) else None
                    if hosted is not None:
                        hosted.forget()  # what this answer carried never arrived: the next one sends it all
                write_frame(self.fd_out, {"raised": ["ValueError", f"the answer could not be sent: {e}"[:300], ""]})


def main(argv: list[str] | None = None) -> int:
    """``python -m raftedu.nodehost FD_IN FD_OUT``: serve the grader on those descriptors."""
    args = sys.argv[1:] if argv is None else argv
    fd_in, fd_out = int(args[0]), int(args[1])
    sys.stdin = open(os.devnull)  # noqa: SIM115  (the notebook gets no input)
    Host(fd_in, fd_out).serve()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
