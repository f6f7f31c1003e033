"""The trusted side of the grading boundary: the student's nodes and functions as stand-ins that ask the sandbox.

The grader runs every check in its own process -- the simulator, the
network, the scenario scripts, the safety monitor, every count and every
judge -- and the student's code only in a sandboxed worker
(:mod:`raftedu.nodehost`, started by :mod:`raftedu.grading.sandbox`). Here:

* :class:`Worker` -- one sandboxed worker: it executes the notebook's answer
  cells once, then answers one call at a time; every wait has a time limit,
  and a worker that stops, stalls or breaks the protocol is replaced (the
  submission is ``tampered`` when it broke the protocol);
* :class:`RemoteNode` -- a :class:`~raftedu.raft.Server` whose steps happen
  in the worker: it sends the call, and what comes back (the messages the
  node sent, the events it noted, its state afterwards) is decoded, checked
  for type and size, and mirrored here, so the simulator records and checks
  it exactly as it would a local node's -- every message on the wire and
  every trace event is this process's own;
* :class:`RemoteFunctions` -- the exercise's functions, called by name with
  plain arguments; what comes back is plain data for a judge.

A run with remote nodes is the same run as with the student's class in one
process (same seed, same trace): ``tests/test_boundary.py`` compares them.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .. import nodehost
from ..raft import Entry, Event, Message, PersistentState, Server, Snapshot, Timing

if TYPE_CHECKING:  # processes and select are imported where a worker is driven: a student's kernel (even Pyodide's)
    import subprocess  # imports this module for its names only

__all__ = ["BadNodeState", "HostGone", "KINDS", "ProtocolBroken", "RemoteFunctions", "RemoteNode", "StudentRaised", "Worker",
           "raised_error"]

_ATOMS = frozenset({type(None), bool, int, str, float})
"""JSON values that decode to themselves."""
_NODE_CALLS = frozenset({"do", "set", "steps", "batch"})
"""Calls about a node the worker holds."""
_HELD = frozenset({"receive", "on_timer", "enable", "take_snapshot"})
"""The node methods whose call may be held back (:meth:`Worker.batched`): nothing but the mirror needs the answer."""


class ProtocolBroken(BaseException):
    """The worker answered something the protocol does not allow (a forged or garbled frame): ``tampered``. A
    ``BaseException``: it ends the check at once, whatever the simulator was doing."""


class BadNodeState(TypeError):
    """The node's state or output is not what a server can have (a term that is not a number, a message sent in
    another server's name): the node's failure, reported like an exception it raised."""


class HostGone(BaseException):
    """The worker stopped answering: it exited, was killed, or ran past its time (a ``BaseException``, like a
    check's timeout, so the simulator does not take it for the node's failure)."""

    def __init__(self, message: str, status: str = "kernel_died") -> None:
        """``status`` is the check status the stop stands for (``kernel_died``, ``timeout`` or ``memory``)."""
        super().__init__(message)
        self.status = status


class StudentRaised(Exception):
    """Base of the exceptions that stand, in the grader, for one the student's code raised in the worker."""


_SAFE_BUILTINS = {name: value for name, value in vars(builtins).items()
                  if isinstance(value, type) and issubclass(value, Exception) and not name.startswith("_")}


def raised_error(raised: Any) -> Exception:
    """The exception the worker reported (``[type name, message, where]``) as an exception object here: a builtin
    exception type by its name (so ``NotImplementedError`` or ``MemoryError`` keep their meaning), any other name
    as a new class of :class:`StudentRaised`. Nothing the student's code made crosses, only the text."""
    if not (isinstance(raised, list) and len(raised) == 3 and all(type(x) is str for x in raised)):
        raise ProtocolBroken("an exception report that is not [type, message, where]")
    name, text, where = (x[:500] for x in raised)
    cls = _SAFE_BUILTINS.get(name)
    if cls is None or name in ("SystemExit", "KeyboardInterrupt", "GeneratorExit"):
        ident = "".join(ch for ch in name if ch.isalnum() or ch == "_")[:60] or "Error"
        cls = type(ident, (StudentRaised,), {"__module__": "student"})
    try:
        err = cls(text + where)
    except Exception:  # an exception class whose constructor wants more arguments
        err = StudentRaised(f"{name}: {text}{where}")
    return err


class Worker:
    """One sandboxed worker for one submission: the notebook's cells run once, then calls are answered.

    ``launch`` starts the process (:func:`raftedu.grading.sandbox.launch`)
    and returns it with the two pipe ends this side uses. ``deadline`` is the
    monotonic time at which everything for this submission must be over.
    """

    def __init__(self, launch: Callable[[], tuple[subprocess.Popen[bytes], int, int]], exercise: str,
                 names: tuple[str, ...], cells: list[list[Any]], cell_timeout: float, deadline: float) -> None:
        """Remember how to start the worker; :meth:`start` starts it."""
        self._launch = launch
        self.exercise = exercise
        self.names = names
        self.cells = cells
        self.cell_timeout = cell_timeout
        self.deadline = deadline
        self.proc: subprocess.Popen[bytes] | None = None
        self.fd_to = self.fd_from = -1
        self.findings: list[dict[str, Any]] = []
        """What went wrong in the notebook's cells (first start only)."""
        self.defined: dict[str, dict[str, Any]] = {}
        """For each of the exercise's names: ``{"callable": bool, "type": name}`` (first start only)."""
        self.broken: list[str] = []
        """How the worker broke the protocol (the submission is then ``tampered``)."""
        self.starts = 0
        self.calls = 0
        self.seconds_waiting = 0.0
        self.cpu_seconds = 0.0
        """CPU seconds its workers used (the kernel's count, read before each is stopped; for benchmarks)."""
        self._handles = 0
        self._rngs: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._drops: list[int] = []
        self.lookahead = True
        """Take the steps of a lookahead window in one call (:meth:`RemoteNode.step_ahead`)."""
        self.ahead: deque[tuple[RemoteNode, Message | None, int, Any]] = deque()
        """Answers to steps taken ahead: (node, message or None for its timer, time, answer), in order."""
        self.gap = 0
        """The network's shortest delay when the steps in :attr:`ahead` were taken."""
        self.listed: dict[int, tuple[Message, Any]] = {}
        """The messages of the last window listed, encoded, by id (the next window lists most of them again)."""
        self.horizon = 0
        """No step taken ahead may be at or past this time (:meth:`RemoteNode._taken` lowers it as the worker did)."""
        self.steps_ahead = 0
        """How many steps were taken ahead (each without a call of its own)."""
        self._begun: tuple[float, BaseException | None] | None = None
        """When :meth:`begin` handed the cells over, and what went wrong (None: nothing)."""
        self.held: list[tuple[RemoteNode, dict[str, Any] | None]] | None = None
        """Node calls held back to go as one (:meth:`batched`), None for a take_output that forgets; None when every
        call goes at once."""
        self.codec = nodehost.registry()

    # ---- life --------------------------------------------------------------

    def begin(self) -> None:
        """Start a fresh worker and hand it the cells without waiting for them to run, so that the grader can read
        the notebook meanwhile; :meth:`start` waits for them. Never raises: :meth:`start` raises what went wrong."""
        try:
            self._launched()
            self._write(self._cells_call())
            self._begun = (time.monotonic(), None)
        except BaseException as e:
            self.close()
            self._begun = (time.monotonic(), e)

    def start(self) -> None:
        """Start a fresh worker and run the cells in it (again, after a worker was lost), or wait for the cells of
        the worker :meth:`begin` started."""
        begun, self._begun = self._begun, None
        if begun is None:
            self._launched()
        elif begun[1] is not None:
            raise begun[1]
        answer = self._exchange(self._cells_call(), timeout=self.cell_timeout * max(1, len(self.cells)) + 30,
                                sent=None if begun is None else begun[0])
        findings, defined = answer.get("cells"), answer.get("names")
        if not isinstance(findings, list) or not isinstance(defined, dict):
            raise ProtocolBroken("the answer to the cells is not a list of findings and a table of names")
        if self.starts == 1:
            self.findings = [f for f in findings if isinstance(f, dict)][:50]
            self.defined = {n: {"callable": defined.get(n, {}).get("callable") is True,
                                "type": str(defined.get(n, {}).get("type", "nothing"))[:40]}
                            if isinstance(defined.get(n), dict) else {"callable": False, "type": "nothing"}
                            for n in self.names}

    def _launched(self) -> None:
        self.close()
        self.proc, self.fd_to, self.fd_from = self._launch()
        self.starts += 1
        self._rngs = weakref.WeakKeyDictionary()
        self._drops = []

    def _cells_call(self) -> dict[str, Any]:
        return {"op": "cells", "cells": self.cells, "names": list(self.names), "cell_timeout": self.cell_timeout}

    @property
    def alive(self) -> bool:
        """Whether a worker is running and its channel is in order."""
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """Stop the worker and everything it started (its sandbox goes with it)."""
        if self.proc is None:
            return
        for fd in (self.fd_to, self.fd_from):
            try:
                os.close(fd)
            except OSError:
                pass
        from .sandbox import cpu_seconds, stop

        self.cpu_seconds += cpu_seconds(self.proc.pid)
        stop(self.proc)
        self.proc = None

    # ---- the channel ---------------------------------------------------------

    def ask(self, request: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send one call and wait for its answer (at most ``timeout`` seconds and never past the deadline); the calls
        held back (:meth:`batched`) go first, so the worker sees every call in the order it was made."""
        if self.held:
            self.send_held()
        op = request.get("op")
        if self.ahead:  # a run stopped inside a window (a failure, a broken property): its steps are moot
            self.ahead.clear()
        if self.proc is None or (op not in _NODE_CALLS and self.proc.poll() is not None):
            # a node's call needs the worker that holds the node: when that worker is gone, the call fails (below)
            if self.proc is not None:
                self.close()
            if op != "cells":
                self.start()
        if self._drops and op != "cells":
            request["drop"], self._drops = self._drops, []
        return self._exchange(request, timeout)

    def _exchange(self, request: dict[str, Any], timeout: float | None, sent: float | None = None) -> dict[str, Any]:
        """Send ``request`` (unless it went already, at the time ``sent``) and read its answer."""
        start = time.monotonic() if sent is None else sent
        try:
            if sent is None:
                self._write(request)
            answer = self._read(start, timeout)
        except BaseException:
            self.close()  # a call cut short leaves the channel in an unknown state: never reuse it
            raise
        finally:
            self.calls += 1
            self.seconds_waiting += time.monotonic() - start
        if type(answer) is not dict:
            self.broken.append("an answer that is not a JSON object")
            self.close()
            raise ProtocolBroken("an answer that is not a JSON object")
        return answer

    def _write(self, request: dict[str, Any]) -> None:
        data = nodehost.frame(request)
        try:
            while data:
                data = data[os.write(self.fd_to, data):]
        except BrokenPipeError:
            raise HostGone(self._ended()) from None

    def _read(self, now: float, timeout: float | None) -> Any:
        import select

        end = self.deadline if timeout is None else min(self.deadline, now + timeout)
        fd = self.fd_from
        chunks: list[bytes] = []
        have, need = 0, 4
        while have < need:
            left = end - time.monotonic()
            if left <= 0:
                raise HostGone("the worker did not answer in time", "timeout")
            if not select.select([fd], [], [], left)[0]:
                continue
            try:
                chunk = os.read(fd, max(need - have, 1 << 16))
            except OSError as e:
                raise HostGone(f"the worker's channel failed: {e.strerror}") from None
            if not chunk:
                raise HostGone(self._ended())
            chunks.append(chunk)
            have += len(chunk)
            if need == 4 and have >= 4:
                head = chunks[0] if len(chunks[0]) >= 4 else b"".join(chunks)
                size = int.from_bytes(head[:4], "big")
                if size > nodehost.MAX_FRAME:
                    self.broken.append(f"a frame of {size} bytes (the limit is {nodehost.MAX_FRAME})")
                    raise ProtocolBroken("an oversized frame")
                need = 4 + size
        if have > need:
            self.broken.append("bytes after the answer (someone else wrote to the channel)")
            raise ProtocolBroken("extra bytes on the channel")
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        try:
            return nodehost.unframe(data[4:])
        except ValueError:  # not JSON, or not text
            self.broken.append("an answer that is not JSON")
            raise ProtocolBroken("an answer that is not JSON") from None

    def _ended(self) -> str:
        import subprocess

        proc = self.proc
        try:
            code = proc.wait(timeout=5) if proc is not None else None
        except subprocess.TimeoutExpired:  # it closed its channel but lives on: it is stopped when the call fails
            code = None
        if code is None:
            return "the worker closed its channel"
        if code < 0 or code > 128:
            import signal as _signal

            number = -code if code < 0 else code - 128
            name = _signal.Signals(number).name if number in _signal.Signals._value2member_map_ else str(number)
            return f"the worker was killed by {name} (often: memory ran out, or the code killed a process)"
        return f"the worker exited with code {code} (the code called exit() or os._exit?)"

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """Inside, the calls that create, situate or step a node (:data:`_HELD`) are held back and go as one call
        when a node's output is taken, when a call needs its answer, or at the end: the answers are mirrored in order,
        as if each had been its own call (a differential case is one call). Nothing of a node may be read inside but
        through ``take_output``."""
        if self.held is not None:
            yield
            return
        self.held = []
        try:
            yield
            self.send_held()
        finally:
            self.held = None

    def send_held(self) -> None:
        """Send the node calls held back (:meth:`batched`) as one ``batch`` call and mirror the answers in order;
        raise what the first call that raised raised (the worker stops there)."""
        held = self.held
        if not held:
            return
        self.held = []
        calls = [request for _, request in held if request is not None]
        answers: list[Any] = []
        if calls:
            answers = self.ask({"op": "batch", "calls": calls}).get("answers")  # type: ignore[assignment]
            if type(answers) is not list or not 0 < len(answers) <= len(calls) or \
                    any(type(a) is not dict for a in answers) or (len(answers) < len(calls) and "raised" not in answers[-1]):
                self.broken.append("an answer to a batch of calls that is not one answer per call made")
                raise ProtocolBroken("a batch's answer that is not one answer per call")
        it = iter(answers)
        for node, request in held:
            if request is None:
                Server.take_output(node)  # what the node did up to here is forgotten (a case's setup)
            else:
                node._settle(next(it))  # the last answer given raised: _settle raises it

    # ---- nodes ---------------------------------------------------------------

    def new_handle(self) -> int:
        """A fresh number for a node in the worker."""
        self._handles += 1
        return self._handles

    def rng_key(self, rng: Any) -> tuple[int, Any]:
        """(key, state to send or None): a node's random generator lives in the worker once sent, across restarts."""
        key = self._rngs.get(rng)
        if key is not None:
            return key, None
        key = self._rngs[rng] = self.new_handle()
        return key, nodehost.encode(rng.getstate())

    def forget(self, handle: int) -> None:
        """The node ``handle`` is gone here (crashed, replaced): the worker drops it with the next call."""
        self._drops.append(handle)

    def node_class(self, kind: str) -> type[RemoteNode]:
        """A :class:`RemoteNode` class whose nodes are the student's class of ``kind`` in this worker."""
        name = {"server": "MyServer", "kv": "MyKV", "capstone": "MyKV", "kvrules": "StudentKV"}.get(kind, "StudentNode")
        return type(name, (RemoteNode,), {"worker": self, "kind": kind,
                                          "serves_kv": kind in ("kv", "capstone", "kvrules"),
                                          "runs_extensions": kind in ("rules", "kvrules"), "__module__": "student"})


def _int(x: Any, what: str) -> int:
    if type(x) is not int:
        raise BadNodeState(f"{what} must be a whole number; it is {nodehost.plain(x)!r}"[:300])
    return x


def _opt_int(x: Any, what: str) -> int | None:
    return None if x is None else _int(x, what)


KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (lambda x: type(x) is int, "a whole number"),
    "int or None": (lambda x: x is None or type(x) is int, "a whole number or None"),
    "role": (lambda x: type(x) is str and len(x) <= 20, "a short string such as 'leader'"),
}
"""What the grader accepts for each kind of mirrored field (:data:`raftedu.nodehost.MIRRORED`): a test of the
decoded value, and what it must be, for the message when it is not."""
_MIRROR = {row.key: (row.path.startswith("state."), row.path.rpartition(".")[2], *KINDS[row.kind], row.label)
           for row in nodehost.MIRRORED}
"""Wire key -> (kept in the node's state, attribute, test, what it must be, its name in messages)."""


class RemoteNode(Server):
    """A server whose every step runs in the sandboxed worker (a subclass made by :meth:`Worker.node_class`).

    To the simulator it is an ordinary :class:`~raftedu.raft.Server` that
    reports nothing it does not do: its state (``state``, ``disk``,
    ``role``, ``commit_index``, ``last_applied``, ``applied``,
    ``deadline``, ``leader_id``) is a mirror of the student's node after
    each step, and its output is what the node sent and noted, decoded and
    checked here. The node's random generator lives in the worker.
    """

    worker: ClassVar[Worker]
    kind: ClassVar[str]
    serves_kv: ClassVar[bool] = False
    """Its nodes are a key-value server (:class:`raftedu.kv.KVService` takes the class)."""
    track_rng: ClassVar[bool] = False
    """Report whether a step drew from the node's random generator (a differential case asks)."""
    enables_at_boot: ClassVar[bool] = True
    """The simulator hands a booting node its options (``enable``): created and switched on in one call."""

    def __init__(self, node_id: int, ids: tuple[int, ...] | list[int], *, rng: Any, timing: Timing = Timing(),
                 state: PersistentState | None = None, now: int = 0, enable: dict[str, Any] | None = None) -> None:
        """Create the student's node ``node_id`` in the worker, from the disk ``state`` (and with ``enable``, switch
        on those options in the same call: the answer waits for :meth:`enable`)."""
        super().__init__(node_id, ids, rng=rng, timing=timing, state=state, now=now)
        self.rng_moved = False
        worker = self.worker
        self._handle = worker.new_handle()
        key, rng_state = worker.rng_key(rng)
        disk = self.disk
        request = {"op": "new", "h": self._handle, "kind": self.kind, "id": node_id, "ids": list(ids), "rng": key,
                   "rs": rng_state, "timing": nodehost.encode(timing), "now": now, "track_rng": self.track_rng,
                   "disk": {"t": disk.current_term, "v": disk.voted_for, "L": [nodehost.encode(e) for e in disk.log],
                            "s": nodehost.encode(disk.snapshot), "o": disk.offset, "ot": disk.offset_term}}
        if enable is not None:
            request["enable"] = nodehost.encode(enable)
        self._seen_log: list[Any] = []
        self._snapshot: Any = self.disk.snapshot
        self._enabled: tuple[dict[str, Any], Any] | None = None
        weakref.finalize(self, worker.forget, self._handle)
        answer = self._call(request)
        if enable is not None and isinstance(answer, dict) and "enabled" in answer:
            self._enabled = (enable, answer["enabled"])

    def _call(self, request: dict[str, Any]) -> Any:
        """Make one call about this node (held back inside :meth:`Worker.batched` when only the mirror needs its
        answer); what the node returned. ``new`` returns the whole answer (its ``enabled`` part waits for enable)."""
        worker = self.worker
        if worker.held is not None and (request["op"] != "do" or request["m"] in _HELD):
            worker.held.append((self, request))
            return None
        answer = worker.ask(request)  # (after the calls held back)
        ret = self._settle(answer)
        return answer if request["op"] == "new" else ret

    def take_output(self) -> tuple[list[Message], list[Event]]:
        """The messages and events since the last call (the calls held back are made first)."""
        if self.worker.held:
            self.worker.send_held()
        return super().take_output()

    def forget_output(self) -> None:
        """Forget what the node sent and noted so far (a case's setup); when calls are held back, once they are
        answered (no call of its own)."""
        if self.worker.held is not None:
            self.worker.held.append((self, None))
        else:
            super().take_output()

    # ---- the inputs a server has -------------------------------------------------

    def receive(self, msg: Message, now: int) -> None:
        """Deliver ``msg`` to the student's node at ``now``."""
        self.now = now
        if self.worker.ahead:
            self._taken(msg, now)
        else:
            self._do("receive", (msg, now))

    def on_timer(self, now: int) -> None:
        """Fire the student's node's timer at ``now``."""
        self.now = now
        if self.worker.ahead:
            self._taken(None, now)
        else:
            self._do("on_timer", (now,))

    @classmethod
    def step_ahead(cls, cluster: Any, end: int) -> None:
        """Before the simulator's next step: take the steps that come next (:meth:`raftedu.sim.Cluster.lookahead`)
        in one call to the worker, which stops where a step of its own may have scheduled something sooner; the
        simulator then takes them one by one, in its own order, from the answers. The worker sees only the
        deliveries and timers of its own nodes, as it would one at a time."""
        worker = cls.worker
        if worker.ahead or not worker.lookahead:
            return
        gap, steps = cluster.lookahead(end)
        if len(steps) < 2:
            return
        encode, known, listed = nodehost.encode, worker.listed, {}
        for _, msg, _ in steps:  # a message listed in the last window and not taken yet is not encoded again
            if msg is not None:
                seen = known.get(id(msg))
                listed[id(msg)] = seen if seen is not None and seen[0] is msg else (msg, encode(msg))
        worker.listed = listed  # (holding the messages keeps their ids theirs)
        answer = worker.ask({"op": "steps", "gap": gap, "s": [[node._handle, None if msg is None else listed[id(msg)][1],
                                                                time] for node, msg, time in steps]})
        results = answer.get("steps")
        if type(results) is not list or not 0 < len(results) <= len(steps):
            worker.broken.append("an answer to a window of steps that is not one answer per step taken")
            raise ProtocolBroken("a window's answer that is not a list of answers")
        for (node, msg, at), result in zip(steps, results):
            if result is None and msg is None:  # a timer the node had moved: the simulator skips it too
                continue
            if type(result) is not dict:
                worker.broken.append("a delivery in a window of steps without its answer")
                raise ProtocolBroken("a window's step without its answer")
            worker.ahead.append((node, msg, at, result))
        worker.gap, worker.horizon = gap, end + 1
        worker.steps_ahead += len(worker.ahead)

    def _taken(self, msg: Message | None, now: int) -> None:
        """Take this step's answer from the steps taken ahead (it must be the next one there, and the one after it
        must come before anything this step scheduled, as the worker was to see)."""
        worker = self.worker
        node, key, at, answer = worker.ahead.popleft()
        if node is not self or key is not msg or at != now:
            worker.ahead.clear()
            worker.broken.append("answers to steps the simulator did not take next")
            raise ProtocolBroken("the window taken ahead went out of step with the simulator")
        deadline = self.deadline
        self._settle(answer)
        if not worker.ahead:
            return
        horizon = worker.horizon
        if answer.get("out"):
            horizon = min(horizon, now + worker.gap)
        if self.deadline != deadline and self.deadline is not None:
            horizon = min(horizon, self.deadline)
        worker.horizon = horizon
        if worker.ahead[0][2] >= horizon:  # something this step scheduled may come first: the worker should have stopped
            worker.ahead.clear()
            worker.broken.append("steps taken past a message sent or a timer set inside their window")
            raise ProtocolBroken("steps taken past a message sent or a timer set inside their window")

    def propose(self, command: Any, now: int) -> int | None:
        """Ask the student's node to append ``command``: its log index, or None when it does not lead."""
        self.now = now
        index = self._do("propose", (command, now))
        if index is not None and type(index) is not int:
            raise BadNodeState(f"propose must return the new entry's index (an int) or None; it returned "
                            f"{nodehost.plain(index)!r}")
        return index

    def enable(self, **options: Any) -> None:
        """Switch on etcd's extensions in the student's node (the simulator calls this; at boot the worker did it
        already, with the node's creation: its answer is mirrored now)."""
        enabled, self._enabled = self._enabled, None
        if enabled is not None and enabled[0] == options:
            self._settle(enabled[1])
            return
        self._do("enable", (), options)

    def take_snapshot(self) -> None:
        """Have the student's node snapshot its state machine and compact its log now (``Cluster.snapshot``)."""
        self._do("take_snapshot", ())

    def advance_commit_index(self) -> None:
        """Run the student's commit rule (a differential case of exercise 04)."""
        self._do("advance_commit_index", ())

    def apply_committed(self) -> None:
        """Run the student's node's apply step (a differential case of exercise 08)."""
        self._do("apply_committed", ())

    # ---- etcd's operations a leader is asked for (nodes of kind "rules", ``runs_extensions``) ----------------

    def configuration_change_refused(self) -> str | None:
        """The student's node's answer: why it cannot start a configuration change now (None: it can, §4.1)."""
        return self._reason(self._do("configuration_change_refused", ()), "configuration_change_refused")

    def promotion_refused(self, learner: int) -> str | None:
        """The student's node's answer: why ``learner`` cannot be made a voter now (None: it can, §4.2.1)."""
        return self._reason(self._do("promotion_refused", (learner,)), "promotion_refused")

    def propose_configuration(self, config: Any, now: int) -> int | None:
        """Have the student's leader append the configuration ``config`` (§4.1): its log index, or None."""
        self.now = now
        index = self._do("propose_configuration", (config, now))
        if index is not None and type(index) is not int:
            raise BadNodeState(f"propose_configuration must return the entry's index (an int) or None; it returned "
                               f"{nodehost.plain(index)!r}"[:300])
        return index

    def transfer_leadership(self, to: int, now: int) -> None:
        """Ask the student's leader to hand leadership to ``to`` (§3.10); a refusal comes back as ValueError."""
        self.now = now
        self._do("transfer_leadership", (to, now))

    @staticmethod
    def _reason(said: Any, method: str) -> str | None:
        if said is not None and type(said) is not str:
            raise BadNodeState(f"{method} must return None or a string saying why; it returned "
                               f"{nodehost.plain(said)!r}"[:300])
        return None if said is None else said[:500]

    def log_is_up_to_date(self, last_log_index: int, last_log_term: int) -> Any:
        """The student's up-to-date rule (§5.4.1) on a candidate's last index and term (exercise 02)."""
        return self._do("log_is_up_to_date", (last_log_index, last_log_term))

    def situate(self, **attrs: Any) -> None:
        """Put the student's node in a stated situation (role, commitIndex, ...; a differential case's setup)."""
        if "now" in attrs:
            self.now = attrs["now"]
        self._call({"op": "set", "h": self._handle, "attrs": nodehost.encode(attrs)})

    # ---- one step --------------------------------------------------------------

    def _do(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None) -> Any:
        request = {"op": "do", "h": self._handle, "m": method, "a": [nodehost.encode(a) for a in args]}
        if kwargs:
            request["k"] = nodehost.encode(kwargs)
        return self._call(request)

    def _settle(self, answer: dict[str, Any]) -> Any:
        """Mirror what the node did (messages, events, state); raise what it raised; return what it returned."""
        worker = self.worker
        ret = None
        try:
            if "error" in answer:
                raise ProtocolBroken(str(answer["error"])[:200])
            codec = worker.codec
            if "out" in answer:
                out = answer["out"]
                if type(out) is not list:
                    raise ProtocolBroken("messages must be a list")
                for m in out:
                    msg = nodehost.decode(m, codec)
                    if not isinstance(msg, Message):
                        raise ProtocolBroken(f"S{self.id} sent something that is not a message")
                    self._check_message(msg)
                    self._outbox.append(msg)
            if "ev" in answer:
                ev = answer["ev"]
                if type(ev) is not list:
                    raise ProtocolBroken("events must be a list")
                for e in ev:
                    self._events.append(self._event(e, codec))
            st = answer.get("st")
            if st is not None:
                self._mirror(st, codec)
            if "ret" in answer:
                ret = nodehost.decode(answer["ret"], codec)
        except nodehost.DecodeError as e:
            worker.broken.append(f"S{self.id}'s answer could not be read: {e}")
            raise ProtocolBroken(str(e)) from None
        except BadNodeState:
            raise
        except (KeyError, TypeError, IndexError, ValueError) as e:
            worker.broken.append(f"S{self.id}'s answer is malformed: {type(e).__name__}: {str(e)[:120]}")
            raise ProtocolBroken(str(e)) from None
        if "raised" in answer:
            raise raised_error(answer["raised"])
        return ret

    def _check_message(self, msg: Message) -> None:
        if type(msg.src) is not int or msg.src != self.id:
            raise BadNodeState(f"S{self.id} sent a {type(msg).__name__} with src={msg.src!r}: a server sends only as "
                               "itself (src is its own id)")
        if type(msg.dst) is not int or type(msg.term) is not int:
            raise BadNodeState(f"S{self.id} sent a {type(msg).__name__} whose dst and term are not whole numbers")

    def _event(self, row: Any, codec: Mapping[str, type]) -> Event:
        if type(row) is not list or len(row) != 8 or type(row[0]) is not str or type(row[6]) is not str \
                or type(row[7]) is not str:
            raise ProtocolBroken("an event that is not [kind, term, peer, index, entry, value, rule, text]")
        kind, term, peer, index, entry, value, rule, text = row
        decode = nodehost.decode
        term, peer, index, entry, value = (v if type(v) in _ATOMS else decode(v, codec)
                                           for v in (term, peer, index, entry, value))
        return Event(self.now, kind[:40], self.id, term, peer, index, entry, self._one_snapshot(value), None, None,
                     rule[:300], text[:300])

    def _one_snapshot(self, value: Any) -> Any:
        """A snapshot equal to the last one decoded for this node is that same object: the node's snapshot event,
        its state and its disk then hold one snapshot, as a local node's do (the simulator tells snapshots apart by
        identity: a copy would be recorded as a second snapshot)."""
        if type(value) is Snapshot:
            if value == self._snapshot:
                return self._snapshot
            self._snapshot = value
        return value

    def _mirror(self, st: Any, codec: Mapping[str, type]) -> None:
        """Take what changed of the node's state (:data:`raftedu.nodehost.MIRRORED`, and the deltas of its log,
        disk, snapshot and applied commands), each checked for type."""
        if type(st) is not dict:
            raise ProtocolBroken("a state that is not a JSON object")
        state = self.state
        for key, value in st.items():
            row = _MIRROR.get(key)
            if row is None:
                continue
            in_state, attr, test, must, label = row
            if type(value) is dict or type(value) is list:
                value = nodehost.decode(value, codec)
            if not test(value):
                raise BadNodeState(f"S{self.id}'s {label} must be {must}; it is {nodehost.plain(value)!r}"[:300])
            setattr(state if in_state else self, attr, value)
        if "L" in st:
            _patch(state.log, st["L"], codec)
        if "S" in st:
            snap, off, off_term = st["S"]
            state.snapshot = self._one_snapshot(nodehost.decode(snap, codec))
            state.offset, state.offset_term = _int(off, "offset"), _int(off_term, "offset term")
        if "D" in st:
            term, vote, delta, snap, off, off_term = st["D"]
            disk = self.disk
            disk.current_term, disk.voted_for = _int(term, "the disk's term"), _opt_int(vote, "the disk's vote")
            if delta is not None:
                _patch(disk.log, delta, codec)
            disk.snapshot = self._one_snapshot(nodehost.decode(snap, codec))
            disk.offset, disk.offset_term = _int(off, "offset"), _int(off_term, "offset term")
        if "A" in st:
            keep, commands = st["A"]
            del self.applied[_int(keep, "applied"):]
            self.applied.extend(nodehost.decode(c, codec) for c in commands)
        if st.get("rng"):
            self.rng_moved = True
        if "X" in st:
            self._mirror_extensions(st["X"], codec)

    def _mirror_extensions(self, values: Any, codec: Mapping[str, type]) -> None:
        """The node's extension state (:data:`raftedu.nodehost.EXTENSION_STATE`), checked for type."""
        from ..raft import ConfigChange

        if not (isinstance(values, list) and len(values) == len(nodehost.EXTENSION_STATE)):
            raise ProtocolBroken("an extension state that is not one value per mirrored field")
        config, config_index, voters, learners, transferee, match = (nodehost.decode(v, codec) for v in values)
        if type(config) is not ConfigChange or not all(type(i) is int for i in (*config.voters, *config.learners)):
            raise BadNodeState(f"S{self.id}'s config must be a ConfigChange of server ids; it is "
                               f"{nodehost.plain(config)!r}"[:300])
        ids = {}
        for name, value in (("voters", voters), ("learners", learners)):
            if not isinstance(value, (set, frozenset)) or not all(type(i) is int for i in value):
                raise BadNodeState(f"S{self.id}'s {name} must be a set of server ids; it is {nodehost.plain(value)!r}"[:300])
            ids[name] = frozenset(value)
        if not isinstance(match, dict) or not all(type(k) is int and type(v) is int for k, v in match.items()):
            raise BadNodeState(f"S{self.id}'s match_index must map server ids to indexes; it is "
                               f"{nodehost.plain(match)!r}"[:300])
        self.config, self.config_index = config, _int(config_index, f"S{self.id}'s config_index")
        self.voters, self.learners = ids["voters"], ids["learners"]
        self.transferee = _opt_int(transferee, f"S{self.id}'s transferee")
        self.match_index = match


def _patch(log: list[Entry], delta: Any, codec: Mapping[str, type]) -> None:
    """Apply ``[kept, new entries]`` to a mirrored log, through the same list operations a node would use."""
    if not (isinstance(delta, list) and len(delta) == 2 and type(delta[0]) is int and isinstance(delta[1], list)):
        raise ProtocolBroken("a log change that is not [kept, entries]")
    keep, entries = delta
    if not 0 <= keep <= len(log):
        raise ProtocolBroken(f"a log change that keeps {keep} of {len(log)} entries")
    if keep < len(log):
        del log[keep:]
    from ..raft import Entry

    for e in entries:
        entry = nodehost.decode(e, codec)
        if type(entry) is not Entry:
            raise BadNodeState(f"a log holds Entry records; one is {nodehost.plain(entry)!r}"[:200])
        log.append(entry)


class RemoteFunctions(Mapping[str, Callable[..., Any]]):
    """The exercise's functions, each a stand-in that calls the student's function in the worker."""

    def __init__(self, worker: Worker) -> None:
        """The functions of ``worker``'s notebook."""
        self.worker = worker

    def __getitem__(self, name: str) -> Callable[..., Any]:
        if name not in self.worker.names:
            raise KeyError(name)

        def call(*args: Any, **kwargs: Any) -> nodehost.Plained:
            return nodehost.Plained(self.call(name, args, kwargs))

        call.__name__ = name
        return call

    def __iter__(self) -> Iterator[str]:
        return iter(self.worker.names)

    def __len__(self) -> int:
        return len(self.worker.names)

    def call(self, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], rows: bool = False) -> Any:
        """Call the student's ``name(*args, **kwargs)`` in the worker: its result as plain data (``rows``: a table
        given as rows, a pandas frame included)."""
        answer = self.worker.ask({"op": "call", "name": name, "a": [nodehost.encode(a) for a in args],
                                  "k": nodehost.encode(dict(kwargs)), "rows": rows})
        if "raised" in answer:
            raise raised_error(answer["raised"])
        return answer.get("ret")

    def node_class(self, kind: str) -> type[RemoteNode]:
        """The student's node class of ``kind`` (``rules``, ``server``, ``kv``, ``capstone``) as remote nodes."""
        return self.worker.node_class(kind)

    def accepts(self, name: str, keyword: str) -> bool:
        """Whether the student's ``name`` takes the keyword argument ``keyword`` (as the worker saw its signature)."""
        info = self.worker.defined.get(name, {})
        params = info.get("params")
        return True if not isinstance(params, list) else keyword in params or "**" in params
