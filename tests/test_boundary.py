"""The grading boundary itself: the codec, the sandbox's view of the machine, and remote runs equal to local ones."""

from __future__ import annotations

import json
import random
import subprocess
import time
from collections import deque
from pathlib import Path
from typing import Any, ClassVar

import pytest

from raftedu import Cluster, Network, nodehost
from raftedu.grading import sandbox
from raftedu.grading.boundary import BadNodeState, ProtocolBroken, RemoteFunctions, RemoteNode, Worker, raised_error
from raftedu.grading.exercises import get_exercise
from raftedu.grading.notebooks import solution_namespace
from raftedu.grading.review import copied_functions, suspicious_lines
from raftedu.raft import AppendEntries, Entry, RaftNode, RequestVote, Timing

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------
# The codec: what crosses, and what is refused
# --------------------------------------------------------------------------


def test_the_codec_carries_records_and_plain_values_exactly() -> None:
    classes = nodehost.registry()
    values = [None, True, 3, -1.5, "x", [1, (2, 3)], {"k": (1, None)}, frozenset({1, 2}),
              AppendEntries(3, 1, 2, 4, 2, (Entry(1, "a"), Entry(3, ("t", 1))), 4), RequestVote(2, 1, 3, 0, 0)]
    for v in values:
        back = nodehost.decode(json.loads(json.dumps(nodehost.encode(v))), classes)
        assert back == v and type(back) is type(v)


def _nested(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = {"l": [value]}
    return value


@pytest.mark.parametrize("garbage", [
    ["Popen"],  # not a record class the codec knows
    ["Entry", 1],  # a field missing
    [1, 2],  # an array that names no record class
    {"x": 1},  # not a tag
    {"t": [1], "d": []},  # two tags
    {"c": "Entry", "f": [1, "x"]},  # not how records are written
    _nested(45),  # too deep
])
def test_the_codec_refuses_what_it_does_not_write(garbage: object) -> None:
    with pytest.raises(nodehost.DecodeError):
        nodehost.decode(garbage, nodehost.registry())


def test_unencodable_values_are_named() -> None:
    with pytest.raises(TypeError, match="cannot be carried"):
        nodehost.encode(object())
    with pytest.raises(TypeError, match="finite"):
        nodehost.encode(float("nan"))


def test_reported_exceptions_keep_builtin_meaning_and_nothing_else() -> None:
    assert type(raised_error(["NotImplementedError", "todo", ""])) is NotImplementedError
    assert type(raised_error(["MemoryError", "", ""])) is MemoryError
    odd = raised_error(["My Weird.Error", "boom", " (in f, line 3)"])
    assert type(odd).__name__ == "MyWeirdError" and "boom (in f, line 3)" in str(odd)
    assert not isinstance(raised_error(["SystemExit", "0", ""]), SystemExit)
    with pytest.raises(ProtocolBroken):
        raised_error(["only two", "fields"])


# --------------------------------------------------------------------------
# The reduced package and the static review
# --------------------------------------------------------------------------


def test_the_sandbox_package_has_no_reference_rules_and_no_grader(tmp_path: Path) -> None:
    ex = get_exercise("02")
    box = sandbox.package(tmp_path, "02", ex.reference_rules)
    import ast

    raft = (box / "raftedu" / "raft.py").read_text()
    node = next(n for n in ast.parse(raft).body if isinstance(n, ast.ClassDef) and n.name == "RaftNode")
    bodies = {f.name: f.body for f in node.body if isinstance(f, ast.FunctionDef)}
    for name in (*ex.reference_rules, "handle_pre_vote"):  # the rules asked for, and the extension that repeats one
        assert len(bodies[name]) == 1 and isinstance(bodies[name][0], ast.Raise), name
    assert "not available while exercise 02 is graded" in raft
    assert "self.log_is_up_to_date(m.last_log_index" not in raft
    names = {p.relative_to(box / "raftedu").as_posix() for p in (box / "raftedu").rglob("*.py")}
    assert "grading/runner.py" not in names and "grading/boundary.py" not in names and "etcd.py" not in names
    assert "the grader runs the checks itself" in (box / "raftedu" / "grading" / "__init__.py").read_text()


def test_review_quotes_machinery_and_copied_finds_the_reference_under_new_names() -> None:
    looks = suspicious_lines([(3, "import marshal\nx = 1\nexec(code)\n"), (4, "y = open('/proc/1/environ')\n")])
    assert any("cell 3 line 1: import marshal" in x for x in looks) and any("runs code from a string" in x
                                                                              for x in looks)
    assert any("/proc" in x for x in looks)
    import ast
    import inspect
    import textwrap

    from raftedu.raft import RaftNode

    source = textwrap.dedent(inspect.getsource(RaftNode.handle_request_vote))
    renamed = source.replace("def handle_request_vote(self, m", "def my_vote(node, request").replace("m.", "request.")
    renamed = renamed.replace("self.", "node.").replace("self,", "node,")
    ast.parse(renamed)
    assert copied_functions([(5, renamed)], ("handle_request_vote",))
    assert copied_functions([(5, "def handle_request_vote(self, m):\n    return None\n")],
                            ("handle_request_vote",)) == []


# --------------------------------------------------------------------------
# The sandbox's view of the machine (bubblewrap, as the test suite grades)
# --------------------------------------------------------------------------


def _inside(tmp_path: Path, code: str) -> str:
    """Run ``code`` in the worker's sandbox (as the grader starts it) and return what it printed."""
    box = sandbox.package(tmp_path / "box", "02", ())
    work = tmp_path / "work"
    work.mkdir()
    how = sandbox.mode()
    cmd = sandbox.launch(box, work, how=how)  # only to check it starts: then run the probe the same way
    proc, to_w, from_r = cmd
    sandbox.stop(proc)
    args = [a for a in proc.args]  # type: ignore[union-attr]
    boot = args.index("-c") + 1
    args[boot] = code
    done = subprocess.run(args[:boot + 1], capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


@pytest.mark.skipif(sandbox.mode() != "bubblewrap", reason="bubblewrap is not usable here")
def test_inside_the_sandbox_the_host_is_out_of_sight(tmp_path: Path) -> None:
    out = _inside(tmp_path, (
        "import os, socket\n"
        "print('pid', os.getpid())\n"
        "print('uid', os.getuid())\n"
        "print('root', sorted(os.listdir('/')))\n"
        f"print('repo', [d for d in ('solutions', 'tests', 'raftedu', '.git') if os.path.exists({str(ROOT)!r} + '/' + d)])\n"
        "print('procs', sorted(p for p in os.listdir('/proc') if p.isdigit()))\n"
        "print('env', sorted(os.environ))\n"
        "try:\n    open('/usr/lib/planted', 'w')\nexcept OSError as e:\n    print('usr', type(e).__name__)\n"
        "print('net', sorted(line.split(':')[0].strip() for line in open('/proc/net/dev').readlines()[2:]))\n"))
    assert "pid 2" in out and "uid 65534" in out, out
    assert "repo []" in out, out  # the repository (solutions/, tests/, the grader) is not there (a venv inside it may be)
    assert "procs ['1', '2']" in out, out  # its own PID namespace: no other process to read or signal
    assert "RAFTEDU" not in out and "usr OSError" in out, out  # a cleared environment; a read-only system
    assert "net ['lo']" in out, out  # no network but its own loopback


# --------------------------------------------------------------------------
# A remote run is the same run
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory):
    import nbformat

    ex = get_exercise("06")
    nb = nbformat.read(ROOT / "solutions" / "06_whole_server.ipynb", as_version=4)
    cells = [[k + 1, c.source] for k, c in enumerate(nb.cells) if c.cell_type == "code"
             and not c.metadata.get("nbgrader", {}).get("grade")]
    tmp = tmp_path_factory.mktemp("boundary")
    box = sandbox.package(tmp / "box", "06", ex.reference_rules)
    (tmp / "work").mkdir()
    w = Worker(lambda: sandbox.launch(box, tmp / "work", how=sandbox.mode()), "06", ex.functions, cells, 30,
               time.monotonic() + 600)
    w.start()
    yield w
    w.close()


def _run(node_class: type, seed: int, timing: Timing = Timing(), delay: tuple[int, int] = (2, 20),
         **options: bool) -> Cluster:
    c = Cluster(5, seed=seed, node_class=node_class, timing=timing,
                network=Network(delay=delay, drop_rate=0.05, duplicate_rate=0.05, long_delay_rate=0.05,
                                long_delay=(30, 90)), **options)
    for i in range(6):
        c.run(250)
        c.request(f"x{i}")
        if i == 1:
            c.partition([1, 2], [3, 4, 5])
        if i == 2:
            c.heal()
        if i == 3:
            c.crash_leader()
        if i == 4:
            c.restart_all()
    c.run(1500)
    return c


class _Ahead(RaftNode):
    """The reference node, checking that the simulator takes exactly the steps its lookahead announced, as the
    sandboxed worker takes them (a timer skipped once the node's deadline moved off it; stop before a step at or past
    the horizon: the time a message sent in the window may arrive, or a timer set in it fires)."""

    plan: ClassVar[deque[tuple[RaftNode, Any, int]]] = deque()
    gap: ClassVar[int] = 0
    horizon: ClassVar[int] = 0
    taken: ClassVar[int] = 0
    stops: ClassVar[int] = 0
    first: ClassVar[int] = 0
    widest: ClassVar[int] = 0
    """The widest window taken (ms from its first step to its last)."""

    @classmethod
    def step_ahead(cls, cluster: Cluster, end: int) -> None:
        if not cls.plan:
            cls.gap, steps = cluster.lookahead(end)
            cls.plan.extend(steps)
            cls.horizon, cls.first = end + 1, steps[0][2] if steps else 0

    def receive(self, msg: Any, now: int) -> None:
        self._take(msg, now)
        super().receive(msg, now)
        self._stop_at_horizon(now)

    def on_timer(self, now: int) -> None:
        self._take(None, now)
        super().on_timer(now)
        self._stop_at_horizon(now)

    def _take(self, msg: Any, now: int) -> None:
        plan = type(self).plan
        while plan and plan[0][1] is None and plan[0][0].deadline != plan[0][2]:
            plan.popleft()  # a timer gone stale inside the window: the simulator skipped it, so does the worker
        if plan:
            assert plan.popleft() == (self, msg, now)
            type(self).taken += 1
            type(self).widest = max(type(self).widest, now - type(self).first)
        self._deadline = self.deadline

    def _stop_at_horizon(self, now: int) -> None:
        cls = type(self)
        if self._outbox:
            cls.horizon = min(cls.horizon, now + cls.gap)
        if self.deadline != self._deadline and self.deadline is not None:
            cls.horizon = min(cls.horizon, self.deadline)
        while cls.plan and cls.plan[0][1] is None and cls.plan[0][0].deadline != cls.plan[0][2]:
            cls.plan.popleft()
        if cls.plan and cls.plan[0][2] >= cls.horizon:
            cls.stops += 1
            cls.plan.clear()


@pytest.mark.parametrize("timing, delay, options", [
    (Timing(), (2, 20), {}), (Timing(election_timeout=(40, 80), heartbeat=8), (15, 25), {}),
    (Timing(election_timeout=(40, 80), heartbeat=8), (15, 25), {"pre_vote": True, "check_quorum": True})])
def test_the_lookahead_announces_exactly_the_steps_the_simulator_takes(timing: Timing, delay: tuple[int, int],
                                                                         options: dict[str, bool]) -> None:
    """Also with pre-vote and check-quorum on: they change what a node does at a step, never when it steps."""
    _Ahead.taken = _Ahead.stops = _Ahead.widest = 0
    for seed in range(2):
        _Ahead.plan.clear()
        ahead = _run(_Ahead, seed, timing, delay, **options)
        plain = _run(RaftNode, seed, timing, delay, **options)  # the same run (the first event names the class)
        assert [e.astuple() for e in ahead.trace.events[1:]] == [e.astuple() for e in plain.trace.events[1:]]
        if options:  # the extensions did run, and their safety checks with them
            assert {"precampaign", "stepdown"} <= {e.kind for e in plain.trace}
    assert _Ahead.taken > 500
    assert _Ahead.widest >= delay[0]  # wider than a fixed window (first step + the shortest delay): nothing sent
    if timing.heartbeat < delay[0]:  # heartbeats set inside a window: the stop rule is needed, and taken
        assert _Ahead.stops > 10


@pytest.mark.kernel
def test_a_remote_run_is_the_same_run_as_a_local_one(worker: Worker) -> None:
    local = solution_namespace(ROOT / "solutions" / "06_whole_server.ipynb", ("MyServer",))["MyServer"]
    remote = RemoteFunctions(worker).node_class("server")
    short = (Timing(election_timeout=(40, 80), heartbeat=8), (15, 25))  # timers set inside lookahead windows
    for seed, (timing, delay) in ((1, (Timing(), (2, 20))), (2, (Timing(), (2, 20))), (3, short)):
        a, b = _run(local, seed, timing, delay), _run(remote, seed, timing, delay)
        assert [e.astuple() for e in a.trace] == [e.astuple() for e in b.trace], seed
    assert worker.calls > 500 and worker.steps_ahead > 1000 and worker.broken == []


@pytest.mark.kernel
def test_a_node_cannot_send_in_another_servers_name(worker: Worker) -> None:
    remote = RemoteFunctions(worker).node_class("server")
    c = Cluster(3, seed=1, node_class=remote)
    node = c.nodes[1]
    with pytest.raises(BadNodeState, match="src=2"):
        node._settle({"out": [nodehost.encode(RequestVote(1, 2, 3, 0, 0))], "ev": [], "st": None})
    with pytest.raises(ProtocolBroken):
        node._settle({"out": [["Popen"]], "ev": [], "st": None})
    assert worker.broken  # the garbled answer is on record: the submission would be tampered
    worker.broken.clear()


def test_a_worker_begun_early_says_what_stopped_it_only_when_started() -> None:
    """The judge hands the cells over first and reviews the notebook meanwhile (:meth:`Worker.begin`): a worker that
    could not start is reported by ``start``, where the grader expects it, never in between."""

    def launch() -> Any:
        raise OSError("no sandbox here")

    worker = Worker(launch, "11", ("in_lease",), [], 1.0, time.monotonic() + 10)
    worker.begin()
    with pytest.raises(OSError, match="no sandbox here"):
        worker.start()
    with pytest.raises(OSError, match="no sandbox here"):  # a second start launches again, as after a lost worker
        worker.start()


class _Canned:
    """A stand-in for the worker that answers every call with nothing (no process): enough to feed a remote node the
    answers of steps taken ahead by hand."""

    def __init__(self) -> None:
        self.held = None
        self.ahead: deque[tuple[Any, Any, int, dict[str, Any]]] = deque()
        self.broken: list[str] = []
        self.codec = nodehost.registry()
        self.gap, self.horizon = 1, 10**9

    def new_handle(self) -> int:
        return 1

    def rng_key(self, rng: Any) -> tuple[int, None]:
        return 1, None

    def forget(self, handle: int) -> None:
        pass

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        return {}


@pytest.mark.parametrize("second, honest", [(100, True), (101, False)])
def test_a_step_taken_past_a_message_sent_in_its_window_breaks_the_protocol(second: int, honest: bool) -> None:
    """A message S2 sent at 100 ms may arrive at 101 ms (the shortest delay is 1 ms): a worker that answered a step of
    101 ms in the same window took it before something that may come first; one of 100 ms is in order."""
    worker = _Canned()
    node = type("StudentNode", (RemoteNode,), {"worker": worker, "kind": "rules"})(2, (1, 2, 3), rng=random.Random(0))
    sent = {"out": [nodehost.encode(AppendEntries(1, 2, 1, 0, 0, (), 0))]}
    worker.ahead.extend([(node, None, 100, sent), (node, None, second, {})])
    if honest:
        node.on_timer(100)
        node.on_timer(100)
        assert not worker.broken and len(node.take_output()[0]) == 1
    else:
        with pytest.raises(ProtocolBroken, match="past a message sent"):
            node.on_timer(100)
        assert worker.broken and not worker.ahead
