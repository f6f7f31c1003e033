"""Judging Raft code by behaviour: plug student functions into a node, observe it, judge the observations.

Two kinds of evidence, both about what the code *does*, each split into a
probe (runs student code: the worker) and a judge (reads only data: the
parent):

* **Differential cases**: one node in a stated situation gets one input.
  :func:`probe_case` returns the student node's state and messages;
  :func:`judge_case` builds the reference node in the same situation and
  compares. A case is plain data (:func:`case_spec`), so hidden cases can be
  drawn at random from the instructor's secret.
* **Scenarios** (:data:`SCENARIOS`): whole clusters run with the student's
  node class. :func:`probe_scenario` returns the trace of every cluster it
  built; :func:`judge_scenario` re-runs the Figure 3 safety checks on those
  traces (:func:`~raftedu.checks.check_trace`) and then asserts the
  scenario's own setup and outcome from the trace alone -- a leader was
  elected, the entries were replicated, the request committed -- so code
  that never votes, appends or commits cannot pass by doing nothing.
  Every run can be replayed exactly with :func:`~raftedu.grading.replay`.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..checks import NodeFailure, SafetyViolation, check_trace
from ..explore import Recorder
from ..raft import (CANDIDATE, FOLLOWER, LEADER, AppendEntriesReply, Entry, Event, Message, PersistentState, RaftNode,
                    RequestVoteReply, Server, Timing)
from ..scenarios import ScriptError, figure_8, longer_log_older_term, shorter_log_same_term
from ..sim import Cluster, Network
from ..sweep import random_schedule, recover
from ..trace import ClusterView
from ..nodehost import rules_class
from .boundary import RemoteFunctions, RemoteNode
from .core import Failed, broken_property
from .observe import decode_events, decode_message, encode_events, encode_message, plain

__all__ = [
    "SCENARIOS",
    "SHORTEST_TIMEOUT",
    "Facts",
    "Run",
    "Scenario",
    "apply_lag",
    "case_spec",
    "commit_rule_broken",
    "describe",
    "judge_case",
    "judge_faults_saying",
    "judge_scenario",
    "likely_cause",
    "make_node",
    "node_class",
    "old_term_commits",
    "probe_case",
    "probe_scenario",
    "safety_cause",
    "situate",
    "split_votes",
    "timer_rule_broken",
    "timer_slips",
]

FAULTY = Network(delay=(2, 20), drop_rate=0.05, duplicate_rate=0.05, long_delay_rate=0.03, long_delay=(100, 400))
"""A network that loses, duplicates and reorders messages."""


def node_class(funcs: Mapping[str, Callable[..., Any]], name: str = "StudentNode") -> type[RaftNode]:
    """A :class:`~raftedu.raft.RaftNode` subclass whose methods named in ``funcs`` are replaced by them
    (:func:`raftedu.nodehost.rules_class`); in the grader, where ``funcs`` stand for the sandboxed worker's
    functions, the same class as nodes in the worker."""
    if isinstance(funcs, RemoteFunctions):
        return funcs.node_class("rules")  # type: ignore[return-value]  # a stand-in for the student's class
    return rules_class(funcs, name)


def situate(node: Server, **attrs: Any) -> None:
    """Give ``node`` the attributes ``attrs`` (a case's situation: role, commitIndex, nextIndex, ``now`` ...),
    whether it is here or in the sandboxed worker."""
    if isinstance(node, RemoteNode):
        node.situate(**attrs)
        return
    for name, value in attrs.items():
        setattr(node, name, value)


def forget_output(node: Server) -> None:
    """Forget what ``node`` sent and noted so far (a case's setup), whether it is here or in the sandboxed worker
    (there, calls held back by :func:`batched` stay held back)."""
    if isinstance(node, RemoteNode):
        node.forget_output()
    else:
        node.take_output()


def batched(cls: type) -> contextlib.AbstractContextManager[None]:
    """For a differential case on nodes of ``cls``: in the grader, the calls to the sandboxed worker that only create,
    situate and step the node go as one (:meth:`~raftedu.grading.boundary.Worker.batched`; read the node only
    after the block, or through ``take_output``); a local class runs as it is."""
    if issubclass(cls, RemoteNode):
        return cls.worker.batched()
    return contextlib.nullcontext()


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
    match_index: Mapping[int, int] | Iterable[Iterable[int]] | None = None,
    commands: Iterable[Any] | None = None,
) -> RaftNode:
    """A node of class ``cls`` in a stated situation (same seed for every class, so timers compare); the log's
    commands are ``commands`` when given (a configuration, say), else ``c1``, ``c2``, ..."""
    log = [Entry(t, f"c{i}") for i, t in enumerate(log_terms, start=1)]
    if commands is not None:
        log = [Entry(e.term, command) for e, command in zip(log, commands, strict=True)]
    node = cls(node_id, tuple(range(1, n + 1)), rng=random.Random(0), timing=Timing(),
               state=PersistentState(term, voted_for, log), now=0)
    attrs: dict[str, Any] = {"role": role, "commit_index": commit_index, "last_applied": commit_index,
                             "applied": [e.command for e in log[:commit_index]]}
    if role == CANDIDATE:
        attrs["votes"] = {node_id, *votes}
    if role == LEADER:
        matched = {p: 0 for p in node.peers}
        matched.update(dict(match_index.items() if isinstance(match_index, Mapping) else
                            ((int(p), int(i)) for p, i in match_index or ())))
        attrs.update(leader_id=node_id, match_index=matched, next_index={p: matched[p] + 1 for p in node.peers})
    situate(node, now=100, **attrs)
    forget_output(node)
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


def _show(encoded: Any) -> str:
    """A message (as :func:`~raftedu.grading.observe.encode_message` wrote it) in the paper's words."""
    try:
        msg = decode_message(encoded)
    except (ValueError, TypeError):
        return f"not a Raft message: {str(encoded)[:100]}"
    if msg is None:
        return "no message"
    fields = {k: getattr(msg, k) for k in msg.__dataclass_fields__ if k not in ("src", "dst")}
    if "entries" in fields:
        fields["entries"] = [e.term if isinstance(e, Entry) else e for e in fields["entries"]]
    inner = ", ".join(f"{k}={v}" for k, v in fields.items())
    return f"{type(msg).__name__}(S{msg.src}→S{msg.dst}: {inner})"


def case_spec(situation: Mapping[str, Any], inputs: Iterable[Message] | str, what: str, rule: str, *,
              stretch: bool = False) -> dict[str, Any]:
    """A differential case as plain data: the situation (:func:`make_node` keywords), then either the messages
    the node receives or ``"advance"`` (call ``advance_commit_index``; ``stretch`` first sets every nextIndex to
    the end of the log, a guess a correct rule must ignore), and what it tests in words."""
    sit = dict(situation)
    if "match_index" in sit:
        sit["match_index"] = sorted([int(p), int(i)] for p, i in dict(sit["match_index"]).items())
    if "votes" in sit:
        sit["votes"] = sorted(sit["votes"])
    act: Any = inputs if isinstance(inputs, str) else [encode_message(m) for m in inputs]
    return {"situation": sit, "inputs": act, "stretch": stretch, "what": what, "rule": rule}


def _run_case(cls: type[RaftNode], spec: Mapping[str, Any]) -> tuple[RaftNode, dict[str, Any]]:
    if issubclass(cls, RemoteNode):  # the worker says whether a step drew an election timeout from the rng
        cls = type(cls.__name__, (cls,), {"track_rng": True})
    node = make_node(cls, **spec["situation"])
    rng_before = None if isinstance(node, RemoteNode) else node.rng.getstate()
    if spec["inputs"] == "advance":
        if spec.get("stretch"):
            situate(node, next_index={p: node.last_log_index + 1 for p in node.peers})
        node.advance_commit_index()
    else:
        for m in spec["inputs"]:
            msg = decode_message(m)
            if msg is None:
                raise ValueError("a case's input is not a message")
            node.receive(msg, node.now)
    msgs, _ = node.take_output()
    return node, {
        "messages sent": [encode_message(m) for m in msgs],
        "currentTerm": plain(node.current_term),
        "votedFor": plain(node.voted_for),
        "log terms": [plain(getattr(e, "term", e)) for e in node.log],
        "commitIndex": plain(node.commit_index),
        "role": plain(node.role),
        "leader known": plain(node.leader_id),
        "election timer reset": node.rng_moved if isinstance(node, RemoteNode) else node.rng.getstate() != rng_before,
    }


def probe_case(funcs: Mapping[str, Callable[..., Any]], spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the student's node did in case ``spec``: messages sent and the state afterwards (runs student code)."""
    return _run_case(node_class(funcs), spec)[1]


def judge_case(spec: Mapping[str, Any], observed: Any) -> None:
    """Compare an observation with the reference node in the same case; raise :class:`Failed` at a difference."""
    node = make_node(RaftNode, **spec["situation"])
    before = describe(node)
    _, expected = _run_case(RaftNode, spec)
    if not isinstance(observed, dict):
        raise Failed(f"{before} {spec['what']}: no observation of the node came back")
    diffs = []
    for key, want in expected.items():
        got = observed.get(key)
        if got != want:
            if key == "messages sent":
                want, got = [_show(m) for m in want], [_show(m) for m in got] if isinstance(got, list) else got
            diffs.append(f"  {key}: expected {want!r}, got {got!r}")
    if diffs:
        raise Failed(f"{before} {spec['what']}.\n" + "\n".join(diffs) + f"\n  rule: {spec['rule']}")


# --------------------------------------------------------------------------
# Scenarios: whole clusters, observed as traces, judged from the traces
# --------------------------------------------------------------------------


@dataclass
class Run:
    """One scenario run: the node class under test, the seed, every cluster it built, and marks between steps."""

    node_class: type[Server]
    seed: int
    clusters: list[Cluster] = field(default_factory=list)
    marks: list[tuple[int, str, int, int]] = field(default_factory=list)
    """(cluster number, label, events so far, virtual time) after each step."""
    violation: SafetyViolation | None = None
    """The safety violation the always-on monitor stopped the run at, if any."""

    @property
    def cluster(self) -> Cluster | None:
        """The last cluster built (what :func:`~raftedu.grading.replay` returns)."""
        return self.clusters[-1] if self.clusters else None

    def make(self, n: int, **kwargs: Any) -> Cluster:
        """Build (and remember) a cluster of ``n`` nodes of the class under test with this run's seed; it records what
        is done to it (:class:`~raftedu.explore.Recorder`), so a run that breaks a property is a schedule to shrink."""
        c = Recorder(n, seed=self.seed, node_class=self.node_class, **kwargs)
        self.clusters.append(c)
        return c

    def mark(self, label: str, cluster: Cluster | None = None) -> None:
        """Note that the step ``label`` is done (a script's ``on_step`` callback)."""
        c = cluster or self.cluster
        self.marks.append((len(self.clusters) - 1, label, len(c.trace) if c else 0, c.now if c else 0))


class Facts:
    """What one cluster's trace shows, for a judge: leaders, commits, messages, final logs."""

    def __init__(self, events: list[Event], marks: list[tuple[str, int, int]],
                 counts: list[dict[str, int]] | None = None, timers: bool = True) -> None:
        """``marks`` are (label, events so far, time) of this cluster's steps; ``counts`` the messages sent by
        type up to each mark (for the scenarios that count them); ``timers``: elections started when election
        timers ran out (False: a script forced them, see :attr:`Scenario.timers`)."""
        self.events = events
        self.marks = marks
        self.counts = counts or []
        self.timers = timers

    def cause(self) -> str:
        """Why a scenario's setup or outcome may not have happened, when the trace shows it (else "";
        :func:`likely_cause`)."""
        return likely_cause(self.events, self.timers)

    def mark_time(self, label_start: str) -> int | None:
        """The virtual time of the first mark whose label starts with ``label_start``."""
        return next((t for label, _, t in self.marks if label.startswith(label_start)), None)

    def leaders(self, after: int = -1, until: int | None = None) -> list[tuple[int, int, int]]:
        """(time, node, term) of each time a node became leader, in order."""
        return [(e.time, e.node, e.term) for e in self.events if e.kind == "role" and e.value == LEADER
                and e.node is not None and e.term is not None and e.time > after and (until is None or e.time <= until)]

    def committed_replies(self, after: int = -1, until: int | None = None) -> int:
        """How many client requests were answered "committed" (by the simulator) in the window."""
        return sum(1 for e in self.events if e.kind == "client_reply" and e.value == "committed"
                   and e.time >= after and (until is None or e.time <= until))

    def applied(self, until: int | None = None) -> set[Any]:
        """The commands some server applied (only committed entries are applied)."""
        return {e.entry.command for e in self.events if e.kind == "apply" and e.entry is not None
                and isinstance(e.entry.command, str) and (until is None or e.time <= until)}

    def delivered(self, kind: str, src: int, dst: int, after: int = -1) -> bool:
        """Whether a message of type ``kind`` from ``src`` reached ``dst`` after time ``after``."""
        return any(e.kind == "deliver" and e.msg is not None and type(e.msg).__name__ == kind and e.msg.src == src
                   and e.msg.dst == dst and e.time > after for e in self.events)

    def final_logs(self) -> dict[int, list[Any]]:
        """Every server's log (commands) at the end of the run."""
        view = ClusterView.at(self.events)
        return {i: [getattr(e, "command", e) for e in v.log] for i, v in view.nodes.items()}

    def mark_label(self, label_start: str) -> str | None:
        """The whole label of the first mark whose label starts with ``label_start``."""
        return next((label for label, _, _ in self.marks if label.startswith(label_start)), None)

    def view_at(self, time: int) -> ClusterView:
        """Every server as the trace shows it at ``time``."""
        return ClusterView.at(self.events, time)

    def log_at(self, time: int, node: int) -> list[Any]:
        """Server ``node``'s log (commands) at ``time``."""
        view = self.view_at(time)
        return [getattr(e, "command", e) for e in view.nodes[node].log] if node in view.nodes else []

    def terms_at(self, time: int) -> dict[int, int]:
        """Each running server's term at ``time``."""
        return {i: v.term for i, v in self.view_at(time).nodes.items() if v.alive}

    def leader_at(self, time: int) -> int | None:
        """The running server that leads the newest term at ``time`` (None when the newest term has no leader)."""
        nodes = self.view_at(time).nodes
        alive = [v for v in nodes.values() if v.alive]
        newest = max((v.term for v in alive), default=0)
        return next((v.id for v in alive if v.role == LEADER and v.term == newest), None)

    def term_changes(self, after: int = -1) -> list[tuple[int, int, int]]:
        """(time, node, term) of every term change after ``after``."""
        return [(e.time, e.node, e.value) for e in self.events if e.kind == "term" and e.node is not None
                and e.time > after]

    def applied_on(self, command: Any, until: int | None = None) -> set[int]:
        """The servers that applied ``command`` (only committed entries are applied)."""
        return {e.node for e in self.events if e.kind == "apply" and e.node is not None and e.entry is not None
                and e.entry.command == command and (until is None or e.time <= until)}

    def count(self, kind: str, since: str | None = None, until: str | None = None) -> int:
        """How many messages of ``kind`` were sent between the marks starting ``since`` and ``until`` (default:
        the start and the end); ``"AppendEntriesReply refused"`` counts failed AppendEntries replies."""
        def at(label: str | None, default: dict[str, int]) -> dict[str, int]:
            if label is None:
                return default
            found = next((c for (name, _, _), c in zip(self.marks, self.counts) if name.startswith(label)), None)
            if found is None:
                raise Failed(f"the scenario stopped before the step '{label}'")
            return found
        end = at(until, self.counts[-1] if self.counts else {})
        return end.get(kind, 0) - at(since, {}).get(kind, 0)


@dataclass(frozen=True)
class Scenario:
    """A scenario: ``drive(run)`` builds and runs clusters (student code runs); ``judge(facts, stopped)`` decides."""

    drive: Callable[[Run], None]
    judge: Callable[[list[Facts], str], None]
    doc: str
    counts: bool = False
    """Also observe how many messages of each type were sent up to each mark (:meth:`Facts.count`)."""
    timers: bool = True
    """Elections start when election timers run out. False for the paper's scripts, which force each election
    with ``timeout_now`` (not in the observed trace): there the timer rule cannot be read from the trace."""
    culprits: tuple[tuple[str, str], ...] = ()
    """(safety property, the rule to look at) pairs: a run the monitor stops at that property says which rule of
    the exercise most likely broke it."""


def _stopped(stopped: str, what: str = "run", unknown: str = "") -> str:
    """The end of a judge's hint: why the ``what`` (run or script) stopped early, or ``unknown`` said when it did not
    say ('' leaves the sentence out)."""
    reason = stopped or unknown
    return f" (the {what} stopped: {reason})" if reason else ""


def _need(ok: bool, hint: str) -> None:
    if not ok:
        raise Failed(hint)


def _setup(f: Facts, ok: bool, what: str, stopped: str = "") -> None:
    """A step the scenario's later assertions rely on: when it did not happen, a failure that says so first,
    with why the run stopped and what the trace shows went wrong (:meth:`Facts.cause`), if anything."""
    if not ok:
        raise _setup_failed(f, what, stopped)


def _setup_failed(f: Facts, what: str, stopped: str = "") -> Failed:
    """The failure :func:`_setup` raises when the step ``what`` did not happen."""
    return Failed(f"setup: {what}" + (f" (the run stopped: {stopped})" if stopped else "") + f.cause())


SHORTEST_TIMEOUT = Timing().election_timeout[0]
"""The shortest election timeout (ms) of every cluster a timed scenario builds (§5.2: 150-300 ms)."""


def timer_slips(events: Iterable[Event], shortest: int = SHORTEST_TIMEOUT) -> list[tuple[int, int, int, int, int]]:
    """(time, server, term, granted at, candidate) for each election a server started less than ``shortest`` ms
    after it granted its vote (its first grant in a term).

    Figure 2, Rules for Followers: a follower converts to candidate only when
    an election timeout elapses *without* granting a vote to a candidate
    (§5.2), i.e. granting restarts the election timer, so no election can
    start sooner than the shortest timeout after a grant. A crash or restart
    starts afresh. Only for runs whose elections start from timers (a
    script's ``timeout_now`` is not in the observed trace).
    """
    granted: dict[int, tuple[int, int]] = {}  # voter -> (time, candidate) of its latest grant
    first: set[tuple[int, int]] = set()  # (voter, term) already granted
    slips: list[tuple[int, int, int, int, int]] = []
    for e in events:
        node, m = e.node, e.msg
        if e.kind in ("crash", "restart") and node is not None:
            granted.pop(node, None)
        elif e.kind == "send" and type(m) is RequestVoteReply and m.vote_granted is True:
            if (m.src, m.term) not in first:
                first.add((m.src, m.term))
                granted[m.src] = (e.time, m.dst)
        elif e.kind == "vote" and e.value and node is not None and e.peer == node and node in granted \
                and e.term is not None:
            at, candidate = granted[node]  # it stands for election
            if e.time - at < shortest:
                slips.append((e.time, node, e.term, at, candidate))
    return slips


def timer_rule_broken(events: Iterable[Event]) -> str:
    """The first of :func:`timer_slips` in words, naming the rule (``""`` when there is none)."""
    slips = timer_slips(events)
    if not slips:
        return ""
    t, node, term, at, candidate = slips[0]
    more = f" ({len(slips)} elections started this way)" if len(slips) > 1 else ""
    return (f"S{node} granted its vote to S{candidate} at {at} ms and stood for election itself (term {term}) at "
            f"{t} ms, {t - at} ms later, sooner than any election timeout (at least {SHORTEST_TIMEOUT} ms){more}: "
            "a server that grants a vote must restart its election timer (Figure 2, Rules for Followers; §5.2)")


def apply_lag(events: Iterable[Event]) -> str:
    """A running server that ended the run with entries committed but not applied, in words (``""``: none)."""
    view = ClusterView.at(events)
    behind = [v for v in view.nodes.values() if v.alive and v.commit_index > v.last_applied]
    if not behind:
        return ""
    v = behind[0]
    return (f"at the end S{v.id}'s commitIndex was {v.commit_index} but it had applied entries only up to index "
            f"{v.last_applied}: a server applies every committed entry, in order (Figure 2, Rules for All Servers: "
            "if commitIndex > lastApplied, increment lastApplied and apply log[lastApplied])")


def split_votes(events: Iterable[Event]) -> str:
    """Elections that kept splitting the vote (several candidates, no leader), in words (``""``: not so)."""
    candidates: dict[int, set[int]] = {}
    led: set[int] = set()
    for e in events:
        if e.node is None or e.term is None:
            continue
        if e.kind == "vote" and e.value and e.peer == e.node:
            candidates.setdefault(e.term, set()).add(e.node)
        elif e.kind == "role" and e.value == LEADER:
            led.add(e.term)
    split = sorted(t for t, c in candidates.items() if len(c) > 1 and t not in led)
    if len(split) < 3 or 2 * len(split) < len(candidates):
        return ""
    return (f"{len(split)} of {len(candidates)} elections split the vote (terms {', '.join(map(str, split[:4]))}"
            f"{' ...' if len(split) > 4 else ''}: several candidates at once, no leader): servers that time out "
            "together again and again do not draw a new random election timeout each time (§5.2)")


def old_term_commits(events: Iterable[Event]) -> list[tuple[int, int, int, int, int]]:
    """(time, leader, its term, index, the entry's term) each time a leader moved its commitIndex to an entry of an
    earlier term: Figure 2 lets a leader count replicas only for entries of its current term (§5.4.2: Figure 8 shows
    such an entry overwritten later); earlier entries are committed with the first entry of its own term."""
    view = ClusterView()
    found: list[tuple[int, int, int, int, int]] = []
    for e in events:
        if e.kind == "commit" and type(e.index) is int and e.node is not None:
            v = view.nodes.get(e.node) if view.nodes else None
            if (v is not None and v.role == LEADER and v.commit_index < e.index <= len(v.log)
                    and v.log[e.index - 1].term != v.term):
                found.append((e.time, e.node, v.term, e.index, v.log[e.index - 1].term))
        view.apply(e)
    return found


def commit_rule_broken(events: Iterable[Event]) -> str:
    """The first of :func:`old_term_commits` in words, naming the rule (``""`` when there is none)."""
    found = old_term_commits(events)
    if not found:
        return ""
    t, leader, term, index, old = found[0]
    return (f"S{leader}, leader of term {term}, moved its commitIndex to {index} at {t} ms, an entry of term {old}: a "
            "leader commits by counting replicas only an entry of its current term, and the earlier ones with it "
            "(Figure 2, Rules for Leaders; §5.4.2, Figure 8)")


def likely_cause(events: Iterable[Event], timers: bool = True) -> str:
    """``"; what the trace shows: ..."`` to end a failure: a broken timer rule (:func:`timer_rule_broken`),
    committed entries left unapplied (:func:`apply_lag`) or votes split again and again (:func:`split_votes`);
    ``""`` when none. ``timers``: elections started from timers (else the timer findings do not apply)."""
    events = list(events)
    return _shows((timer_rule_broken(events) if timers else "") or apply_lag(events)
                  or (split_votes(events) if timers else ""))


def safety_cause(events: Iterable[Event]) -> str:
    """``"; what the trace shows: ..."`` to end a broken safety property: the rule broken before it, when the trace
    shows one (:func:`commit_rule_broken`), else ``""``."""
    return _shows(commit_rule_broken(events))


def _shows(said: str) -> str:
    return f"; what the trace shows: {said}" if said else ""


def _faults(run: Run) -> None:
    c = run.make(5, network=FAULTY, schedule=random_schedule(5, run.seed, horizon=4_000))
    c.run(4_000)
    run.mark("faults stopped")
    recover(c, within=5_000)
    run.mark("recovered")


def _judge_faults(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    start = f.mark_time("faults stopped")
    if start is None:
        raise _setup_failed(f, "the run stopped before the faults were over", stopped or "no reason given")
    if f.committed_replies(after=start, until=start + 5_000) == 0:
        leaders = f.leaders(after=start, until=start + 5_000)
        raise Failed(f"after the faults stopped (t={start} ms) the cluster did not commit a client request within "
                     f"5000 ms (" + (f"leaders elected: {', '.join(f'S{n} (term {t})' for _, n, t in leaders)}"
                                     if leaders else "no leader was elected") + ")" + f.cause())


def judge_faults_saying(advice: str) -> Callable[[list[Facts], str], None]:
    """The judge of a run of the sweep's faults (:func:`_judge_faults`) whose failure hint goes on with ``advice``:
    what an exercise's methods must do for the cluster to recover."""
    def judge(facts: list[Facts], stopped: str) -> None:
        try:
            _judge_faults(facts, stopped)
        except Failed as e:
            raise Failed(f"{e.hint}; {advice}") from None

    return judge


def _majority_side(run: Run) -> None:
    c = run.make(5, schedule=[(0, "partition", [1, 2, 3], [4, 5])])
    c.run_until(lambda c: c.leader() in (1, 2, 3), within=3_000)
    run.mark("majority side")
    c = run.make(3, schedule=[(0, "crash", 3)])
    c.run_until(lambda c: c.leader() is not None, within=3_000)
    run.mark("two of three")


def _judge_majority_side(facts: list[Facts], stopped: str) -> None:
    _need(len(facts) == 2, f"the scenario stopped early: {stopped or 'no reason given'}")
    _need(any(n in (1, 2, 3) for _, n, _ in facts[0].leaders(until=3_000)),
          "S1, S2, S3 are a majority of 5 (3 votes) but elected no leader within 3 s" + facts[0].cause())
    _need(bool(facts[1].leaders(until=3_000)),
          "in a 3-node cluster with S3 down, S1 and S2 (2 of 3 votes) elected no leader within 3 s" + facts[1].cause())


def _stale_log_election(run: Run) -> None:
    longer_log_older_term(make=run.make, on_step=lambda label, c: run.mark(label, c))
    shorter_log_same_term(make=run.make, on_step=lambda label, c: run.mark(label, c))


def _judge_stale_log(facts: list[Facts], stopped: str) -> None:
    why = _stopped(stopped, "script")
    _need(len(facts) >= 1 and bool(facts[0].leaders()),
          f"setup: S1 never became leader, so the scenario could not start: no candidate won a vote{why}; "
          "check that a candidate with an up-to-date log gets votes (handle_request_vote) and that votes are "
          "counted (handle_request_vote_reply)")
    a = facts[0]
    asked = a.mark_time("S1 asks")
    setup = a.mark_time("S1, cut off")
    if setup is None or not {n for _, n, _ in a.leaders(until=setup)} >= {1, 2}:
        raise Failed(f"setup: S1 should lead term 1, then S2 term 2 -- that did not happen{why}; a candidate with an "
                     "up-to-date log must win its election")
    _need("committed" in a.applied(setup), f"setup: S2, leader of term 2, should commit and apply one entry with S3 "
          f"-- no server applied it{why}{a.cause()}")
    _need(asked is not None and a.delivered("RequestVote", 1, 3, after=setup),
          f"setup: S1's RequestVote for term 3 never reached S3{why}")
    _need(not [n for _, n, _ in a.leaders(after=setup) if n == 1],
          "S1, whose longer log ends in the older term 1, won an election against S3 whose log ends in term 2 "
          "(§5.4.1: compare last terms first)")
    _need(len(facts) >= 2, f"the second script (shorter log, same term) did not run{why}")
    b = facts[1]
    crashed = b.mark_time("S1 crashed")
    if crashed is None or not b.leaders(until=crashed):
        raise Failed(f"setup: S1 should lead -- it did not{why}")
    _need({"a", "b"} <= b.applied(crashed), f"setup: S1 should commit a (with everyone) and b (with S2); applied: "
          f"{sorted(b.applied(crashed)) or 'nothing'}{why}{b.cause()}")
    _need(b.delivered("RequestVote", 3, 2, after=crashed), f"setup: S3's RequestVote never reached S2{why}")
    _need(not [n for _, n, _ in b.leaders(after=crashed) if n == 3],
          "S3, whose log misses the committed entry b (same last term, shorter), won an election "
          "(§5.4.1: with equal last terms the longer log is more up to date)")


def _figure8(run: Run) -> None:
    for branch in ("d", "e"):
        figure_8(branch=branch, make=run.make, on_step=lambda label, c: run.mark(label, c))


def _judge_figure8(facts: list[Facts], stopped: str) -> None:
    why = _stopped(stopped, "script")
    _need(len(facts) >= 1, f"the Figure 8 script built no cluster{why}")
    d = facts[0]
    a = d.mark_time("(a)")
    _need(a is not None and "init" in d.applied(a) and d.committed_replies(until=a) > 0,
          f"setup: before (a) S3 leads term 1 and its entry init must commit on all five servers -- no server "
          f"applied it{why}" + (d.cause() or ": a leader advances commitIndex once an entry of its own term is on a "
                                "majority (§5.3)"))
    order: list[int] = []
    for _, n, _ in d.leaders():
        if not order or order[-1] != n:
            order.append(n)
    it = iter(order)
    _need(all(any(n == want for n in it) for want in (1, 5, 1, 5)),
          f"setup: Figure 8 (a)-(d) needs S1, S5, S1 and S5 to lead in turn; the leaders were "
          f"{', '.join(f'S{n}' for n in order) or 'none'}{why}")
    _need(d.mark_time("(d)") is not None, f"the run stopped before step (d){why}")
    _need(len(facts) >= 2, f"ending (e) did not run{why}")
    e = facts[1]
    replicated = e.mark_time("(e) S1 replicated")
    if replicated is None:
        raise Failed(f"setup: ending (e) stopped before S1 replicated z{why}")
    held = [i for i in (1, 2, 3) if "z" in e.log_at(replicated, i)]
    _need(held == [1, 2, 3], f"setup: in ending (e) S1, leader of term 4, should have replicated z to S2 and S3; "
          f"z was on {', '.join(f'S{i}' for i in held) or 'no server'}{why} (AppendEntries, §5.3)")
    _need("z" in e.applied(replicated),
          "in ending (e) S1 (term 4) has z on S1, S2 and S3 -- a majority, and of its own term -- but did not "
          f"commit it{why} (§5.3, §5.4.2: commit the highest index of the current term held by a majority)")
    _need(not [n for _, n, _ in e.leaders(after=replicated) if n == 5],
          "in ending (e) S5 became leader although index 3 (term 4) was committed without it")


def _healthy(run: Run) -> None:
    c = run.make(3)
    c.run_until(lambda c: c.leader() is not None, within=2_000)
    run.mark("leader")
    for k in range(10):
        c.request(f"cmd{k}")
    run.mark("requests sent")
    c.run(1_000)
    run.mark("end")


def _judge_healthy(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    _need(bool(f.leaders(until=2_000)), "no leader within 2 s in a healthy 3-node cluster" + f.cause())
    sent = f.mark_time("requests sent")
    if sent is None:
        raise Failed(f"the run stopped before the requests were sent: {stopped}")
    wanted = [f"cmd{k}" for k in range(10)]
    done = f.applied(until=sent + 1_000)
    waiting = [w for w in wanted if w not in done]
    _need(not waiting and f.committed_replies(after=sent, until=sent + 1_000) >= 10,
          f"in a healthy 3-node cluster these requests did not commit within 1 s: {waiting or wanted}")
    logs = f.final_logs()
    _need(len({tuple(map(repr, v)) for v in logs.values()}) == 1, f"after 1 s without faults the logs still differ: {logs}")


def _nodes_down(run: Run) -> None:
    for n, down in ((3, [3]), (5, [4, 5])):
        c = run.make(n, schedule=[(0, "crash", d) for d in down])
        c.run_until(lambda c: c.leader() is not None, within=3_000)
        run.mark(f"{n} elected")
        c.request("a")
        run.mark(f"{n} request")
        c.run(1_000)
        run.mark(f"{n} end")


def _judge_nodes_down(facts: list[Facts], stopped: str) -> None:
    for f, (n, down) in zip(facts, ((3, [3]), (5, [4, 5]))):
        _need(bool(f.leaders(until=3_000)), f"{n} nodes with {down} down elected no leader within 3 s" + f.cause())
        sent = f.mark_time(f"{n} request")
        if sent is None:
            raise Failed(f"the run stopped early: {stopped}")
        _need(f.committed_replies(after=sent, until=sent + 1_000) > 0,
              f"{n} nodes with S{', S'.join(map(str, down))} down: the leader holds the entry on {n - len(down)} of "
              f"{n} servers (a majority) but did not commit it within 1 s")
    _need(len(facts) == 2, f"the scenario stopped early: {stopped}")


SCENARIOS: dict[str, Scenario] = {
    "faults": Scenario(_faults, _judge_faults, "five nodes, 4 s of random faults, then one request must commit"),
    "majority_side": Scenario(_majority_side, _judge_majority_side, "a bare majority elects a leader"),
    "stale_log_election": Scenario(_stale_log_election, _judge_stale_log,
                                   "candidates whose logs miss a committed entry lose (§5.4.1)", timers=False),
    "figure8": Scenario(_figure8, _judge_figure8, "the paper's Figure 8 (§5.4.2), both endings (d) and (e)",
                        timers=False),
    "healthy_replication": Scenario(_healthy, _judge_healthy, "ten requests commit in a healthy cluster"),
    "commit_with_nodes_down": Scenario(_nodes_down, _judge_nodes_down, "a bare majority commits"),
}
"""Every scenario by name (the names hints and :func:`~raftedu.grading.replay` use)."""


def drive_scenario(name: str, cls: type[Server], seed: int, *, raise_failures: bool = True) -> tuple[Run, str]:
    """Run scenario ``name`` with ``cls``: (the run, why it stopped early or "").

    An exception a node raised (:class:`~raftedu.checks.NodeFailure`) goes on
    up when ``raise_failures``, so the probe reports the student's own error
    (NotImplementedError, a timeout, ...) rather than a broken property.
    """
    run = Run(cls, seed)
    try:
        SCENARIOS[name].drive(run)
    except NodeFailure as e:
        if raise_failures:
            raise
        return run, str(e).splitlines()[0]
    except SafetyViolation as e:
        run.violation = e
        return run, f"{e.property} broken at t={e.time} ms"
    except ScriptError as e:
        return run, str(e)
    return run, ""


def _message_counts(run: Run) -> list[list[dict[str, int]]]:
    """For each cluster, the messages sent by type up to each of its marks (failed AppendEntries replies apart)."""
    out = []
    for k, c in enumerate(run.clusters):
        upto = [m[2] for m in run.marks if m[0] == k]
        counts: dict[str, int] = {}
        rows, done = [], 0
        for end in upto:
            for e in c.trace.events[done:end]:
                if e.kind == "send":
                    name = type(e.msg).__name__
                    if type(e.msg) is AppendEntriesReply and not e.msg.success:
                        name = "AppendEntriesReply refused"
                    counts[name] = counts.get(name, 0) + 1
            done = max(done, end)
            rows.append(dict(counts))
        out.append(rows)
    return out


def probe_scenario(funcs: Mapping[str, Callable[..., Any]], case: Mapping[str, Any],
                   build: Callable[[Mapping[str, Callable[..., Any]]], type[Server]] | None = None) -> dict[str, Any]:
    """Run ``case["scenario"]`` with seed ``case["seed"]`` on the student's node; return every trace (runs student code).

    ``build`` makes the node class from the student's functions (default :func:`node_class`).
    """
    run, stopped = drive_scenario(case["scenario"], (build or node_class)(funcs), case["seed"])
    observed = {"traces": [encode_events(c.trace.events) for c in run.clusters],
                "marks": [list(m) for m in run.marks], "stopped": stopped, "checked": True}
    if run.violation is not None:  # the monitor checked every event live: the judge need not check them again
        v = run.violation
        observed["violation"] = [v.property, v.time, v.detail]
        last = run.cluster
        observed["replay"] = last.replay_args() if isinstance(last, Recorder) else None
    if SCENARIOS[case["scenario"]].counts:
        observed["counts"] = _message_counts(run)
    return observed


def judge_scenario(case: Mapping[str, Any], observed: Any, exercise: str = "") -> None:
    """Re-check the returned traces for safety, then the scenario's setup and outcome; raise :class:`Failed`."""
    name, seed = case["scenario"], case["seed"]
    replay = (f"replay: c = raftedu.grading.replay({exercise!r}, {name!r}, seed={seed}) "
              "then look at c.trace.to_frame() or open c in the explorer")
    if exercise == "06":  # one line that replays the run and draws it
        replay = f"replay and watch: raftedu.viz.animate(replay({exercise!r}, {name!r}, seed={seed}).trace)"
    if not isinstance(observed, dict) or not isinstance(observed.get("traces"), list):
        raise Failed(f"scenario {name}, seed {seed}: no trace came back")
    stopped = str(observed.get("stopped") or "")[:300]
    facts = []
    violation = observed.get("violation")
    if observed.get("checked") is True and violation:  # the run's own monitor stopped it (this process ran it)
        prop, at, detail = (str(x)[:500] for x in violation)
        cause = safety_cause(decode_events(observed["traces"][-1])) if observed["traces"] else ""
        culprit = dict(SCENARIOS[name].culprits).get(prop)
        cause += f"; look at {culprit}" if culprit else ""
        raise broken_property(f"scenario {name}, seed {seed}: {prop} broken at t={at} ms: {detail}{cause}\n{replay}",
                              prop, observed.get("replay") if isinstance(observed.get("replay"), dict) else None)
    for k, rows in enumerate(observed["traces"]):
        events = decode_events(rows)
        try:
            if observed.get("checked") is not True:  # observations from elsewhere: check every event again
                check_trace(events, seed)
        except SafetyViolation as e:
            raise broken_property(f"scenario {name}, seed {seed}: {e.property} broken at t={e.time} ms: {e.detail}"
                                  f"{safety_cause(events)}\n{replay}", e.property) from None
        marks = [(str(m[1]), int(m[2]), int(m[3])) for m in observed.get("marks", []) if m[0] == k]
        counts = observed.get("counts")
        counted = counts[k] if isinstance(counts, list) and k < len(counts) and isinstance(counts[k], list) else None
        if counted is not None and (len(counted) != len(marks) or not all(isinstance(c, dict) for c in counted)):
            raise Failed(f"scenario {name}, seed {seed}: the message counts that came back do not match its steps")
        facts.append(Facts(events, marks, [{str(k): v for k, v in c.items() if type(v) is int} for c in counted]
                           if counted is not None else None, timers=SCENARIOS[name].timers))
    try:
        SCENARIOS[name].judge(facts, stopped)
    except Failed as e:
        raise e.again(f"scenario {name}, seed {seed}: {e.hint}\n{replay}") from None
