"""The node host: the one raftedu module that runs inside the grading sandbox, beside the student's code.

The grader (:mod:`raftedu.grading`) never runs student code in its own
process (DESIGN.md principle 10). It starts ``python -m raftedu.nodehost``
in a sandbox (:mod:`raftedu.grading.sandbox`) and treats the student's server
as a black box that answers one call at a time over a pipe:

* ``cells`` -- execute the notebook's answer cells (sent as text);
* ``names`` -- which of the exercise's functions and classes are defined;
* ``new`` -- create a node of the student's class (id, cluster, disk, timing, random state);
* ``do`` -- deliver a message, fire the timer, propose a command, or run
  another of the node's methods; the answer is what the node sent, the events
  it noted and its state afterwards (term, vote, role, log, commitIndex, ...);
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

Frames are a 4-byte big-endian length and a JSON document.
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
from typing import Any

from .raft import Log

__all__ = [
    "EXTENSION_STATE",
    "MAX_FRAME",
    "Plained",
    "as_rows",
    "experiment_nodes",
    "REFERENCE_PREFIX",
    "DecodeError",
    "build_class",
    "decode",
    "encode",
    "main",
    "method_of",
    "plain",
    "read_frame",
    "registry",
    "rules_class",
    "student_class",
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


def encode(x: Any, depth: int = 0) -> Any:
    """``x`` as JSON data the other side can :func:`decode`: None, bools, ints, finite floats, strings, lists,
    tuples (``{"t": [...]}``), dicts (``{"d": [[k, v], ...]}``), frozensets and raftedu's frozen record classes
    (``{"c": name, "f": [fields]}``); anything else raises ``TypeError`` naming it."""
    t = type(x)
    if x is None or t is bool or t is int or t is str:
        return x
    if t is float:
        if not math.isfinite(x):
            raise TypeError(f"the float {x!r} cannot be carried (only finite numbers)")
        return x
    if depth > _MAX_DEPTH:
        raise TypeError("a value nested more than 40 levels deep cannot be carried")
    if t is list:
        return [encode(v, depth + 1) for v in x]
    if t is tuple:
        return {"t": [encode(v, depth + 1) for v in x]}
    if t is dict:
        return {"d": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in x.items()]}
    if t is frozenset or t is set:
        return {"s": [encode(v, depth + 1) for v in x], "frozen": t is frozenset}
    names = _FIELDS.get(t)
    if names is None and dataclasses.is_dataclass(x) and not isinstance(x, type) and t.__dataclass_params__.frozen:
        names = _FIELDS[t] = tuple(f.name for f in dataclasses.fields(x))
    if names is not None:
        return {"c": t.__name__, "f": [encode(getattr(x, name), depth + 1) for name in names]}
    raise TypeError(f"a {t.__name__} ({_repr(x)[:80]}) cannot be carried between the sandbox and the grader; "
                    "use plain values (numbers, strings, tuples, lists, dicts) and raftedu's messages and entries")


def decode(x: Any, classes: Mapping[str, type], depth: int = 0, budget: list[int] | None = None) -> Any:
    """The value :func:`encode` wrote; raises :class:`DecodeError` for anything it does not write (unknown tags,
    unknown classes, too deep or too many items)."""
    if budget is None:
        budget = [_MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0:
        raise DecodeError(f"more than {_MAX_ITEMS} values in one answer")
    t = type(x)
    if x is None or t is bool or t is int or t is str or t is float:
        return x
    if depth > _MAX_DEPTH:
        raise DecodeError("nested too deep")
    if t is list:
        return [decode(v, classes, depth + 1, budget) for v in x]
    if t is not dict or len(x) > 2:
        raise DecodeError(f"not a value the codec writes: {type(x).__name__}")
    if "t" in x and len(x) == 1 and type(x["t"]) is list:
        return tuple(decode(v, classes, depth + 1, budget) for v in x["t"])
    if "d" in x and len(x) == 1 and type(x["d"]) is list:
        out = {}
        for pair in x["d"]:
            if type(pair) is not list or len(pair) != 2:
                raise DecodeError("a dict item is not a [key, value] pair")
            key = decode(pair[0], classes, depth + 1, budget)
            try:
                out[key] = decode(pair[1], classes, depth + 1, budget)
            except TypeError:
                raise DecodeError("a dict key is not hashable") from None
        return out
    if "s" in x and type(x["s"]) is list:
        try:
            items = [decode(v, classes, depth + 1, budget) for v in x["s"]]
            return frozenset(items) if x.get("frozen", True) else set(items)
        except TypeError:
            raise DecodeError("a set item is not hashable") from None
    if "c" in x and "f" in x and type(x["f"]) is list:
        cls = classes.get(x["c"]) if type(x["c"]) is str else None
        if cls is None:
            raise DecodeError(f"unknown record class {str(x['c'])[:40]!r}")
        names = _FIELDS.get(cls) or _FIELDS.setdefault(cls, tuple(f.name for f in dataclasses.fields(cls)))
        if len(x["f"]) != len(names):
            raise DecodeError(f"{cls.__name__} needs {len(names)} fields, got {len(x['f'])}")
        values = [decode(v, classes, depth + 1, budget) for v in x["f"]]
        try:
            return cls(*values)
        except (TypeError, ValueError) as e:
            raise DecodeError(f"{cls.__name__}{tuple(names)} refused its fields: {e}") from None
    raise DecodeError(f"not a value the codec writes: a dict with keys {sorted(map(str, x))[:4]}")


# --------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------


def write_frame(fd: int, obj: Any) -> None:
    """Write ``obj`` as one frame (length, then compact JSON)."""
    data = json.dumps(obj, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()
    if len(data) > MAX_FRAME:
        raise ValueError(f"a frame of {len(data)} bytes is over the {MAX_FRAME} byte limit")
    view = memoryview(len(data).to_bytes(4, "big") + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> Any:
    """Read one frame (blocking); ``EOFError`` when the channel is closed."""
    size = int.from_bytes(_read_exactly(fd, 4), "big")
    if size > MAX_FRAME:
        raise ValueError(f"a frame of {size} bytes is over the {MAX_FRAME} byte limit")
    return json.loads(_read_exactly(fd, size))


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

    __slots__ = ("node", "log", "log_seen", "disk_log", "disk_seen", "disk_rest", "applied", "applied_n",
                 "snap", "rng_state", "ext")

    def __init__(self, node: Any) -> None:
        self.node = node
        self.log: Any = None
        self.log_seen: list[Any] = []
        self.disk_log: Any = None
        self.disk_seen: list[Any] = []
        self.disk_rest: Any = None
        self.applied: Any = None
        self.applied_n = 0
        self.snap: Any = ()
        self.rng_state: Any = None
        self.ext: Any = None


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
                cls = build_class(kind, self.functions()) if kind in ("rules", "server", "kv", "capstone") \
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
        return self._answer(hosted, None, None)

    def do(self, req: dict[str, Any]) -> dict[str, Any]:
        """Run one of the node's methods with the given arguments; what it did."""
        hosted = self.nodes[req["h"]]
        name = req["m"]
        if name not in _METHODS:
            raise ValueError(f"the grader may not call {name!r}")
        args = decode(req.get("a", []), self.codec)
        kwargs = decode(req.get("k", {"d": []}), self.codec)
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
        node = hosted.node
        answer: dict[str, Any] = {}
        try:
            msgs, events = node.take_output()
            answer["out"] = [encode(m) for m in msgs]
            answer["ev"] = [self._event(e) for e in events]
            answer["st"] = self._state(hosted)
            answer["ret"] = encode(ret)
        except BaseException as e:  # a value that cannot be carried is the node's failure
            answer = {"st": None, "out": [], "ev": []}
            raised = raised or _raised(e)
        if raised is not None:
            answer["raised"] = raised
        return answer

    def _event(self, e: Any) -> list[Any]:
        kind = e.kind if isinstance(e.kind, str) else "note"
        text = e.text
        return ["note" if kind in _SIM_KINDS else kind[:40], encode(e.term), encode(e.peer), encode(e.index),
                encode(e.entry), encode(e.value), str(e.rule)[:_MAX_TEXT], str(text)[:_MAX_TEXT]]

    def _state(self, hosted: _Hosted) -> dict[str, Any]:
        node = hosted.node
        state, disk = node.state, node.disk
        st: dict[str, Any] = {"t": encode(state.current_term), "v": encode(state.voted_for), "r": encode(node.role),
                              "l": encode(getattr(node, "leader_id", None)), "c": encode(node.commit_index),
                              "a": encode(node.last_applied), "d": encode(node.deadline)}
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
        applied = getattr(node, "applied", None)
        if isinstance(applied, list):
            if applied is hosted.applied and len(applied) >= hosted.applied_n:
                if len(applied) > hosted.applied_n:
                    st["A"] = [hosted.applied_n, [encode(c) for c in applied[hosted.applied_n:]]]
            else:
                st["A"] = [0, [encode(c) for c in applied]]
            hosted.applied, hosted.applied_n = applied, len(applied)
        if hosted.rng_state is not None:
            st["rng"] = node.rng.getstate() != hosted.rng_state
        if getattr(type(node), "runs_extensions", False):
            ext = [getattr(node, name, None) for name in EXTENSION_STATE]
            if type(ext[-1]) is dict:
                ext[-1] = dict(ext[-1])  # a copy: the node changes its own in place
            if ext != hosted.ext:
                st["X"] = [encode(v) for v in ext]
                hosted.ext = ext
        return st

    # ---- functions ---------------------------------------------------------

    def call(self, req: dict[str, Any]) -> dict[str, Any]:
        """Call the student's function ``req["name"]`` with plain arguments; its result as :func:`plain` data."""
        name = req["name"]
        if name not in self.names:
            raise ValueError(f"{name!r} is not one of the exercise's functions")
        args = decode(req.get("a", []), self.codec)
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
        while True:
            try:
                req = read_frame(self.fd_in)
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
            elif op == "set":
                answer = self.set(req)
            elif op == "call":
                answer = self.call(req)
            else:
                answer = {"error": f"unknown call {str(op)[:40]!r}"}
            try:
                write_frame(self.fd_out, answer)
            except (TypeError, ValueError) as e:  # an answer too big or not JSON: say so instead of dying
                write_frame(self.fd_out, {"raised": ["ValueError", f"the answer could not be sent: {e}"[:300], ""],
                                          "out": [], "ev": [], "st": None})


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
