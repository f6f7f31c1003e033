"""Judging Raft code by behaviour: plug student functions into a node, run scenarios, compare with the reference.

Two kinds of evidence, both about what the code *does*:

* **Differential cases** (:func:`compare_cases`): one node in a stated
  situation gets one input; the student's node and the reference node must
  end in the same state and send the same messages.
* **Scenarios** (:data:`SCENARIOS`): whole clusters run with the student's
  node class under the always-on safety checks -- scripted situations such as
  Figure 8, and seeded runs full of crashes, partitions, lost, duplicated and
  late messages. A scenario is a function of a :class:`Run` (node class +
  seed), so every failure can be replayed exactly with :func:`replay`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..checks import SafetyViolation
from ..raft import CANDIDATE, FOLLOWER, LEADER, Entry, Message, PersistentState, RaftNode, Timing
from ..sim import Cluster, Network
from ..scenarios import ScriptError, figure_8, longer_log_older_term, shorter_log_same_term
from ..sweep import random_schedule, recover
from .core import Failed

__all__ = [
    "SCENARIOS",
    "Case",
    "Run",
    "compare_cases",
    "make_node",
    "node_class",
    "run_scenario",
]

FAULTY = Network(delay=(2, 20), drop_rate=0.05, duplicate_rate=0.05, long_delay_rate=0.03, long_delay=(100, 400))
"""A network that loses, duplicates and reorders messages."""


def _method(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Bind any callable (a plain function, a ``functools.partial``, ...) as a method taking the node first."""

    def method(self: RaftNode, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    method.__name__ = getattr(fn, "__name__", "method")
    method.__doc__ = getattr(fn, "__doc__", None)
    return method


def node_class(funcs: Mapping[str, Callable[..., Any]], name: str = "StudentNode") -> type[RaftNode]:
    """A :class:`~raftedu.raft.RaftNode` subclass whose methods named in ``funcs`` are replaced by them.

    Each function takes the node as its first parameter (``self``). The
    simulator records the state changes it makes whether or not it calls
    ``note()``, so the always-on safety checks judge what it really did.
    """
    for method, fn in funcs.items():
        if not hasattr(RaftNode, method):
            raise ValueError(f"RaftNode has no method {method!r} to replace")
        if not callable(fn):
            raise TypeError(f"{method} must be a function; got {type(fn).__name__}")
    return type(name, (RaftNode,), {method: _method(fn) for method, fn in funcs.items()})


# --------------------------------------------------------------------------
# Differential cases: one node, one input, compared with the reference
# --------------------------------------------------------------------------


def make_node(
    cls: type[RaftNode],
    *,
    node_id: int = 2,
    n: int = 5,
    term: int = 1,
    voted_for: int | None = None,
    log_terms: Iterable[int] = (),
    role: str = FOLLOWER,
    commit_index: int = 0,
    votes: Iterable[int] = (),
    match_index: Mapping[int, int] | None = None,
) -> RaftNode:
    """A node of class ``cls`` in a stated situation (same seed for every class, so timers compare)."""
    log = [Entry(t, f"c{i}") for i, t in enumerate(log_terms, start=1)]
    node = cls(node_id, tuple(range(1, n + 1)), rng=random.Random(0), timing=Timing(),
               state=PersistentState(term, voted_for, log), now=0)
    node.role = role
    node.commit_index = node.last_applied = commit_index
    node.applied = [e.command for e in log[:commit_index]]
    if role == CANDIDATE:
        node.votes = {node_id, *votes}
    if role == LEADER:
        node.leader_id = node_id
        node.match_index = {p: 0 for p in node.peers}
        node.match_index.update(match_index or {})
        node.next_index = {p: node.match_index[p] + 1 for p in node.peers}
    node.take_output()
    node.now = 100
    return node


def describe(node: RaftNode) -> str:
    """A node's situation in one phrase, e.g. ``S2 (follower, term 3, voted for S1, log terms [1, 2])``."""
    vote = f"voted for S{node.voted_for}" if node.voted_for is not None else "no vote yet"
    extra = f", commitIndex {node.commit_index}" if node.commit_index else ""
    if node.role == CANDIDATE:
        extra += ", votes from " + ", ".join(f"S{v}" for v in sorted(node.votes))
    if node.role == LEADER:
        extra += ", matchIndex " + ", ".join(f"S{p}:{i}" for p, i in sorted(node.match_index.items()))
    return (f"S{node.id} ({node.role}, term {node.current_term}, {vote}, "
            f"log terms {[e.term for e in node.log]}{extra}, cluster of {len(node.peers) + 1})")


def _show(msg: Message) -> str:
    fields = {k: getattr(msg, k) for k in msg.__dataclass_fields__ if k not in ("src", "dst")}
    if "entries" in fields:
        fields["entries"] = [e.term for e in fields["entries"]]
    inner = ", ".join(f"{k}={v}" for k, v in fields.items())
    return f"{type(msg).__name__}(S{msg.src}→S{msg.dst}: {inner})"


def _observe(node: RaftNode, rng_before: object) -> dict[str, Any]:
    """What a case compares: state, messages sent, and whether the election timer was reset."""
    msgs, _ = node.take_output()
    return {
        "messages sent": [_show(m) for m in msgs],
        "currentTerm": node.current_term,
        "votedFor": node.voted_for,
        "log terms": [e.term for e in node.log],
        "commitIndex": node.commit_index,
        "role": node.role,
        "leader known": node.leader_id,
        "election timer reset": node.rng.getstate() != rng_before,
    }


@dataclass(frozen=True)
class Case:
    """A differential case: the situation (``make_node`` keywords), what happens, and why it matters."""

    situation: dict[str, Any]
    action: Callable[[RaftNode], None]
    what: str
    rule: str


def deliver(*msgs: Message) -> Callable[[RaftNode], None]:
    """An action: the node receives ``msgs`` in order."""

    def act(node: RaftNode) -> None:
        for m in msgs:
            node.receive(m, node.now)

    return act


def compare_cases(cls: type[RaftNode], cases: Iterable[Case]) -> None:
    """Run every case on the reference node and on ``cls``; raise :class:`Failed` at the first difference."""
    for k, case in enumerate(cases, start=1):
        observed = []
        for c in (RaftNode, cls):
            node = make_node(c, **case.situation)
            before, rng_before = describe(node), node.rng.getstate()
            case.action(node)
            observed.append(_observe(node, rng_before))
        expected, actual = observed
        diffs = [f"  {key}: expected {expected[key]!r}, got {actual[key]!r}"
                 for key in expected if expected[key] != actual[key]]
        if diffs:
            raise Failed(f"case {k}: {before} {case.what}.\n" + "\n".join(diffs) + f"\n  rule: {case.rule}")


# --------------------------------------------------------------------------
# Scenarios: whole clusters under the safety checks
# --------------------------------------------------------------------------


@dataclass
class Run:
    """One scenario run: the node class under test, the seed, and the cluster it built (kept for replay)."""

    node_class: type[RaftNode]
    seed: int
    cluster: Cluster | None = None
    notes: list[str] = field(default_factory=list)

    def make(self, n: int, **kwargs: Any) -> Cluster:
        """Build (and remember) a cluster of ``n`` nodes of the class under test with this run's seed."""
        self.cluster = Cluster(n, seed=self.seed, node_class=self.node_class, **kwargs)
        return self.cluster


def faults(run: Run) -> None:
    """Five nodes, 4 s of random crashes, partitions and a lossy, duplicating, reordering network; then it must recover."""
    c = run.make(5, network=FAULTY, schedule=random_schedule(5, run.seed, horizon=4_000))
    c.run(4_000)
    failure = recover(c, within=5_000)
    if failure:
        raise Failed(failure)


def majority_side(run: Run) -> None:
    """Split 5 nodes 3|2 from the start: the side of 3 must elect a leader; then a 3-node cluster with one node down."""
    c = run.make(5, schedule=[(0, "partition", [1, 2, 3], [4, 5])])
    if not c.run_until(lambda c: c.leader() in (1, 2, 3), within=3_000):
        raise Failed("S1, S2, S3 are a majority of 5 (3 votes) but elected no leader within 3 s")
    c = run.make(3, schedule=[(0, "crash", 3)])
    if not c.run_until(lambda c: c.leader() is not None, within=3_000):
        raise Failed("in a 3-node cluster with S3 down, S1 and S2 (2 of 3 votes) elected no leader within 3 s")


def _scripted(script: Callable[..., Cluster], run: Run, step: str) -> None:
    """Run a shared script (:mod:`raftedu.scenarios`) on the class under test; a step it cannot reach fails the check."""
    try:
        script(make=run.make)
    except ScriptError as e:
        raise Failed(f"the {step} script could not go on: {e}; check your vote rules first") from None


def stale_log_election(run: Run) -> None:
    """Candidates whose logs are behind a committed entry must lose (§5.4.1), by last term and by length."""
    _scripted(longer_log_older_term, run, "stale-log election")
    _scripted(shorter_log_same_term, run, "stale-log election")


def figure8(run: Run) -> None:
    """The paper's Figure 8: an entry from an old term on a majority must not count as committed (§5.4.2)."""
    _scripted(figure_8, run, "Figure 8")


def healthy_replication(run: Run) -> None:
    """Three healthy nodes: ten requests must all commit, and every log and state machine must agree."""
    c = run.make(3)
    if not c.run_until(lambda c: c.leader() is not None, within=2_000):
        raise Failed("no leader within 2 s in a healthy 3-node cluster")
    reqs = [c.request(f"cmd{k}") for k in range(10)]
    c.run(1_000)
    waiting = [r.command for r in reqs if r.status != "committed"]
    if waiting:
        raise Failed(f"in a healthy 3-node cluster these requests did not commit within 1 s: {waiting}")
    logs = {i: [e.command for e in c.nodes[i].log] for i in c.ids}
    if len({tuple(v) for v in logs.values()}) != 1:
        raise Failed(f"after 1 s without faults the logs still differ: {logs}")


def commit_with_nodes_down(run: Run) -> None:
    """A leader with a bare majority up must still commit: 3 nodes with 1 down, 5 nodes with 2 down."""
    for n, down in ((3, [3]), (5, [4, 5])):
        c = run.make(n, schedule=[(0, "crash", d) for d in down])
        if not c.run_until(lambda c: c.leader() is not None, within=3_000):
            raise Failed(f"{n} nodes with {down} down elected no leader within 3 s")
        req = c.request("a")
        c.run(1_000)
        if req.status != "committed":
            raise Failed(f"{n} nodes with S{', S'.join(map(str, down))} down: leader S{req.node} holds the entry "
                         f"on {n - len(down)} of {n} servers (a majority) but did not commit it within 1 s")


SCENARIOS: dict[str, Callable[[Run], None]] = {
    f.__name__: f
    for f in (faults, majority_side, stale_log_election, figure8, healthy_replication, commit_with_nodes_down)
}
"""Every scenario by name (the names hints and :func:`replay` use)."""


def run_scenario(name: str, cls: type[RaftNode], seed: int = 0, *, exercise: str = "") -> Run:
    """Run scenario ``name`` with node class ``cls``; turn a safety violation into a :class:`Failed` with a replay line."""
    run = Run(cls, seed)
    replay_line = (f"replay: c = raftedu.grading.replay({exercise!r}, {name!r}, seed={seed}) "
                   "then look at c.trace.to_frame() or open c in the explorer")
    try:
        SCENARIOS[name](run)
    except SafetyViolation as e:
        raise Failed(f"scenario {name}, seed {seed}: {e.property} broken at t={e.time} ms: {e.detail}\n"
                     f"{replay_line}") from None
    except Failed as e:
        raise Failed(f"scenario {name}, seed {seed}: {e.hint}\n{replay_line}") from None
    return run
