"""Counterexamples, not seeds: the shortest run that breaks a server, and every run up to a small size.

* :func:`find_counterexample` searches fault schedules until the always-on
  :class:`~raftedu.checks.SafetyMonitor` raises: random walks first (half of
  them swarm walks that leave some kinds of fault out), then guided walks that
  start from the beginning of a kept run that reached a new abstract state, or
  of one of the course's scripted stories, sometimes moved a few ms. It then
  shrinks the failing schedule the way QuickCheck, Hypothesis and Jepsen do,
  until it is 1-minimal: removing any single item loses the violation.
* :class:`Counterexample` is such a run: the violated property, the cluster
  size, the schedule (items :class:`~raftedu.sim.Cluster` accepts) and how to
  :meth:`~Counterexample.replay` it; :meth:`~Counterexample.explain` tells it
  in words, with the method of the node class that produced each event
  (draw it with :func:`raftedu.viz.explain_figure`).
* :func:`model_check` explores *every* run of a small cluster up to a depth:
  deliveries in any order, duplicates, losses, election timeouts, heartbeats,
  crashes and restarts, client requests; states are deduplicated by hash.

Every fault the search uses is an explicit item of the schedule, on an
otherwise reliable network whose messages all take :data:`DELAY` ms and with
election timers so long that only a ``timeout_now`` item starts an election
(the timing of :mod:`raftedu.scenarios`): the shrunk run reads as a short story.
A late message is one ``delay_next`` item and a lost one a ``drop_next`` item
(:meth:`~raftedu.sim.Cluster.delay_next`, :meth:`~raftedu.sim.Cluster.drop_next`: the next message on one link);
longer losses are a link ``cut`` (or partition) that a later ``heal`` ends.

``executor=`` (a :mod:`concurrent.futures` executor, or a Dask
``distributed.Client``) runs the candidate runs in parallel; the result is the
one found without it, because candidates are always taken in the same order.
"""

from __future__ import annotations

import functools
import heapq
import inspect
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .checks import SafetyViolation
from .pools import map_on
from . import scenarios
from . import sim as _sim
from .raft import LEADER, Event, RaftNode, Server, Timing
from .sim import Cluster, Network, Refused
from .sweep import FEATURES

__all__ = ["DELAY", "SEARCH_TIMING", "TAIL", "Counterexample", "Explanation", "Recorder", "SearchStats",
           "find_counterexample", "replay", "shrink", "one_minimal", "replay_line", "counterexample_line", "run_map",
           "story_schedules", "ModelCheckResult", "model_check"]

DELAY = 1
"""Every message takes this many virtual ms on the search's network (a fault item changes it for a spell)."""
SEARCH_TIMING = scenarios.SCRIPTED
"""Election timers so long that only a ``timeout_now`` item starts an election; heartbeats every 50 ms (the timing
of :mod:`raftedu.scenarios`, whose stories seed the guided search)."""
TAIL = 500
"""Virtual ms a run goes on after its last schedule item (time for what the items set in motion)."""
_RELIABLE = Network(delay=(DELAY, DELAY))
_GAPS = (1, 1, 1, 2, 2, 3, 5, 10, 20, 60)
_SLOW = (100, 300)
_KINDS = ("timeout", "request", "crash", "restart", "partition", "cut", "heal", "delay", "drop")
_BATCH = 16  # runs handed to the executor at a time


# ---- the cluster setup a counterexample runs on ------------------------------------------------------------------


def _check_node_class(node_class: Any, servers: bool = False) -> None:
    """RaftNode or a subclass (``servers``: also a server of its own on :class:`~raftedu.raft.Server`, which a replay
    runs as any cluster does; the search and the model check read RaftNode's attributes)."""
    if not (isinstance(node_class, type) and issubclass(node_class, Server if servers else RaftNode)):
        raise TypeError(f"node_class must be RaftNode or a subclass of it{', or a raftedu.Server' if servers else ''}; "
                        f"got {node_class!r}")


def _check_features(features: Any) -> None:
    if features not in FEATURES:
        raise ValueError(f"features must be one of {', '.join(map(repr, FEATURES))}; got {features!r}")


def _cluster(node_class: type[RaftNode], n: int, schedule: Sequence[Sequence[Any]], features: str,
             network: Network = _RELIABLE, seed: int = 0, timing: Timing = SEARCH_TIMING,
             up_to_date_check: bool = True) -> Cluster:
    on = features != "none"
    return Cluster(n, seed=seed, timing=timing, network=network, node_class=node_class,
                   schedule=schedule, up_to_date_check=up_to_date_check, pre_vote=on, check_quorum=on)


def _run(node_class: type[RaftNode], n: int, schedule: Sequence[Sequence[Any]], features: str,
         network: Network = _RELIABLE, seed: int = 0, stepped: bool = False,
         start: Sequence[Sequence[Any]] = (), until: int | None = None, timing: Timing = SEARCH_TIMING,
         up_to_date_check: bool = True) -> tuple[Cluster | None, SafetyViolation | None]:
    """Run ``schedule`` to its last item plus :data:`TAIL` (or to ``until`` ms, if later): (the cluster, the
    violation or None). With ``stepped`` the schedule is a :func:`model_check` run: steps, done one after another
    (``start`` and ``until`` then set its stage).

    A schedule that cannot run (an item that no longer fits, e.g. the restart of a node that is up once the crash
    before it was shrunk away) is not a counterexample: (None, None).
    """
    if stepped:
        try:
            c = _replay_steps(node_class, n, (), start, until)
            for step in schedule:
                _apply_step(c, tuple(step))
        except SafetyViolation as v:
            return c, v
        except (ValueError, StopIteration):
            return None, None
        return c, None
    try:
        c = _cluster(node_class, n, schedule, features, network, seed, timing, up_to_date_check)
    except ValueError:
        return None, None
    end = max(max((item[0] for item in schedule), default=0) + TAIL, until or 0)
    try:
        c.run(end)
    except SafetyViolation as v:
        return c, v
    except ValueError:
        return None, None
    return c, None


def _violated(args: tuple[Any, ...]) -> str | None:
    """The property ``_run(*args)`` violates, or None (picklable: what an executor's worker runs)."""
    _, violation = _run(*args)
    return None if violation is None else violation.property


# ---- running many at once --------------------------------------------------------------------------------------


def run_map(fn: Callable[[Any], Any], items: Sequence[Any], executor: Any = None) -> list[Any]:
    """``[fn(x) for x in items]``, in order, here or on ``executor``: None (this process), a
    :class:`concurrent.futures.Executor`, or a Dask ``distributed.Client`` (:func:`raftedu.pools.map_on`)."""
    return list(map_on(executor, fn, list(items)))


class _Spent(Exception):
    """The shrink's budget (runs or seconds) is used up."""


def _first(fn: Callable[[Any], Any], items: Sequence[Any], executor: Any, want: Callable[[Any], bool],
           spent: Callable[[], bool], runs: list[int]) -> int | None:
    """The index of the first item whose result is wanted (in order, so the same with or without an executor).
    ``spent()`` is asked before each run (each batch, on an executor; ``runs[0]`` counts them): when it says so,
    :class:`_Spent`."""
    step = 1 if executor is None else _BATCH
    for start in range(0, len(items), step):
        if spent():
            raise _Spent
        results = [fn(items[start])] if executor is None else run_map(fn, items[start:start + step], executor)
        hit = next((k for k, r in enumerate(results) if want(r)), None)
        runs[0] += len(results) if hit is None else hit + 1
        if hit is not None:
            return start + hit
    return None


# ---- the counterexample ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counterexample:
    """A run that breaks ``property``: ``schedule`` on ``n`` servers of ``node_class`` (replay it, explain it).

    The cluster runs with ``timing`` (by default :data:`SEARCH_TIMING`) on
    ``network`` (by default every message takes :data:`DELAY` ms and none is
    lost), the always-on checks with etcd-io/raft's
    ``MoreUpToDateCorrectInv``, and ``features="all"`` switches on pre-vote
    and check-quorum. It runs to the last item plus :data:`TAIL` ms (or to
    ``until`` ms, if later).
    """

    node_class: type[RaftNode]
    n: int
    schedule: tuple[tuple[Any, ...], ...]
    property: str
    features: str = "none"
    network: Network = _RELIABLE
    seed: int = 0
    stats: "SearchStats | None" = field(default=None, compare=False)
    stepped: bool = False
    """True for a :func:`model_check` run: ``schedule`` is its steps (deliver message k, time out, ...), done one
    after another on a cluster whose messages wait until a step delivers them."""
    start: tuple[tuple[Any, ...], ...] = ()
    """For a :func:`model_check` run: the timed schedule that set the stage before the first step ..."""
    until: int | None = None
    """... run to this time (None: to its last item). For a timed run: the time it runs to at least (a recorded run
    that broke the property long after its last item: :func:`replay`)."""
    timing: Timing = SEARCH_TIMING
    """The servers' timers (a recorded run keeps the timing it ran with: election timers may then start elections
    between the items)."""
    up_to_date_check: bool = True
    """Whether the checks include ``MoreUpToDateCorrectInv`` (a recorded run keeps the checks it ran with, so its
    replay breaks the property the run broke)."""

    def _args(self, schedule: Sequence[Sequence[Any]] | None = None,
              node_class: type[RaftNode] | None = None) -> tuple[Any, ...]:
        """The arguments of :func:`_run` for this setup (and ``schedule``, if given)."""
        return (node_class or self.node_class, self.n, self.schedule if schedule is None else schedule, self.features,
                self.network, self.seed, self.stepped, self.start, self.until, self.timing, self.up_to_date_check)

    def replay(self, schedule: Iterable[Sequence[Any]] | None = None) -> SafetyViolation | None:
        """Run the schedule again (or ``schedule`` on the same setup): the violation, or None. Deterministic."""
        items = None if schedule is None else tuple(tuple(item) for item in schedule)
        return _run(*self._args(items))[1]

    def cluster(self) -> Cluster:
        """The cluster after the replay (stopped at the violation): its trace is the run, event by event."""
        c, violation = _run(*self._args())
        if c is None or violation is None:
            raise RuntimeError(f"the schedule no longer breaks {self.property!r}: was the node class changed?")
        return c

    @property
    def line(self) -> str:
        """One line to paste in a notebook to watch this run (the node class must be defined there; a class with a
        ``replay_code`` attribute, e.g. :func:`raftedu.grading.my_node`'s, is named by that code)."""
        return self.line_for(getattr(self.node_class, "replay_code", None) or self.node_class.__name__)

    def line_for(self, node: str) -> str:
        """:attr:`line` with ``node`` (Python code, e.g. ``'raftedu.grading.my_node("02")'``) for the node class."""
        if self.stepped:
            until = "" if self.until is None else f", until={self.until}"
            return (f"from raftedu.explore import Counterexample; Counterexample({node}, "
                    f"{self.n}, {self.schedule!r}, {self.property!r}, stepped=True, start={self.start!r}{until})"
                    ".explain()")
        return replay_line(node, self.n, self.schedule, self.features, self.seed, timing=self.timing,
                           network=self.network, until=self.until, up_to_date_check=self.up_to_date_check)

    def explain(self) -> "Explanation":
        """The run in words: the schedule as a story, the events that broke the property with the method of the
        node class behind each, and the key moments to draw (:func:`raftedu.viz.explain_figure`)."""
        return _explain(self)

    @staticmethod
    def of(node_class: type[RaftNode], n: int, schedule: Iterable[Sequence[Any]], features: str = "none",
           seed: int = 0) -> "Counterexample":
        """:func:`replay` (kept for lines written before it)."""
        return replay(node_class, n, schedule, features=features, seed=seed)

    def __str__(self) -> str:
        items = "\n".join(f"  {line}" for line in _story(self.schedule))
        return (f"{self.property} breaks on {self.n} servers of {self.node_class.__name__} with {len(self.schedule)} "
                f"schedule item(s):\n{items}\nreplay: {self.line}")


def _setting(value: Timing | Network) -> str:
    """``raftedu.Network(delay=(2, 20))``: the settings that differ from the defaults, as Python code."""
    kind = type(value)
    changed = ", ".join(f"{f}={getattr(value, f)!r}" for f in value.__dataclass_fields__
                        if getattr(value, f) != getattr(kind(), f))
    return f"raftedu.{kind.__name__}({changed})"


def replay_line(node_class: type[RaftNode] | str, n: int, schedule: Iterable[Sequence[Any]], features: str = "none",
                seed: int = 0, *, timing: Timing | dict[str, Any] = SEARCH_TIMING,
                network: Network | dict[str, Any] = _RELIABLE, until: int | None = None,
                up_to_date_check: bool = True) -> str:
    """The one line that replays ``schedule`` on ``n`` servers of ``node_class`` and explains it.

    ``node_class`` is the class (the line names it) or Python code that gives
    it where the line is pasted. For a grader's feedback:
    :func:`find_counterexample` (or :func:`shrink` of a failing run) gives
    the schedule; this line, pasted in the student's notebook, shows the run.
    """
    node = node_class if isinstance(node_class, str) else node_class.__name__
    timing, network = _as(Timing, timing), _as(Network, network)
    items = [tuple(item) for item in schedule]
    extra = "".join((f", features={features!r}" if features != "none" else "",
                     f", seed={seed}" if seed else "",
                     f", timing={_setting(timing)}" if timing != SEARCH_TIMING else "",
                     f", network={_setting(network)}" if network != _RELIABLE else "",
                     f", until={until}" if until is not None else "",
                     "" if up_to_date_check else ", up_to_date_check=False"))
    imports = "raftedu.explore" + (", raftedu.grading" if node.startswith("raftedu.grading.") else "")
    return f"import {imports}; raftedu.explore.replay({node}, n={n}, schedule={items!r}{extra}).explain()"


def _as(kind: type, value: Any) -> Any:
    """``value`` as a :class:`~raftedu.raft.Timing` or :class:`~raftedu.sim.Network` (also from its fields as a dict,
    pairs as lists: a recorded run as plain data)."""
    if isinstance(value, dict):
        value = kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})
    if not isinstance(value, kind):
        raise TypeError(f"expected a raftedu.{kind.__name__} (or its fields as a dict); got {value!r}")
    return value


def replay(node_class: type[RaftNode], n: int, schedule: Iterable[Sequence[Any]], *, features: str = "none",
           seed: int = 0, timing: Timing | dict[str, Any] | None = None, network: Network | dict[str, Any] | None = None,
           until: int | None = None, up_to_date_check: bool = True) -> Counterexample:
    """The counterexample of a schedule known to break ``n`` servers of ``node_class``: replayed now to find the
    property it breaks (a ValueError if it breaks none).

    By default the run has the search's setup (:data:`SEARCH_TIMING`, every
    message :data:`DELAY` ms); a run recorded elsewhere (a check's scenario,
    :class:`Recorder`) replays the same with the ``timing``, ``network``,
    ``seed`` and checks (``up_to_date_check``: etcd-io/raft's
    ``MoreUpToDateCorrectInv`` too) it ran with, to ``until`` ms at least.
    ``.explain()`` tells it.
    """
    _check_node_class(node_class, servers=True)
    _check_features(features)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 9:
        raise ValueError(f"n must be a cluster size from 1 to 9; got {n!r}")
    if until is not None and (isinstance(until, bool) or not isinstance(until, int) or until < 0):
        raise ValueError(f"until must be whole milliseconds >= 0 (or None); got {until!r}")
    items = tuple(tuple(item) for item in schedule)
    ce = Counterexample(node_class, n, items, "", features, _RELIABLE if network is None else _as(Network, network),
                        seed, until=until, timing=SEARCH_TIMING if timing is None else _as(Timing, timing),
                        up_to_date_check=bool(up_to_date_check))
    violation = ce.replay()
    if violation is None:
        setup = ("the scripted timing and 1 ms messages" if (ce.timing, ce.network) == (SEARCH_TIMING, _RELIABLE)
                 else f"{ce.timing} and {ce.network}")
        raise ValueError(f"this schedule breaks no safety property on {n} servers of {node_class.__name__} "
                         f"(run with {setup}, to {TAIL} ms after its last item"
                         + (f" or to {until} ms" if until else "") + ")")
    return replace(ce, property=violation.property)


def counterexample_line(node_class: type[RaftNode], n: int, schedule: Iterable[Sequence[Any]] | None = None,
                        seed: int = 0, budget_s: float = 60, executor: Any = None) -> str | None:
    """The one line a student pastes to watch the shortest run that breaks ``node_class`` (for feedback).

    With a failing ``schedule`` (scripted timing, 1 ms messages: a scenario's or a bug hunt's), that schedule
    shrunk (:func:`shrink`, within ``budget_s``); without one, a search on ``n`` servers from ``seed``
    (:func:`find_counterexample`). None when the search found nothing within ``budget_s``.
    """
    if schedule is not None:
        return shrink(replay(node_class, n, schedule, seed=seed), executor, budget_s=budget_s).line
    found = find_counterexample(node_class, sizes=(n,), budget_s=budget_s, seed=seed, executor=executor)
    return None if found is None else found.line

# ---- search ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchStats:
    """How the search went: runs tried, wall seconds to the first violation and to the shrunk run, replays spent
    shrinking, and the length of the schedule before shrinking."""

    runs: int
    first_s: float
    shrunk_s: float
    shrink_runs: int
    found_items: int
    minimal: bool = True
    """False when the shrink stopped at its budget (the schedule still breaks the property, but may not be
    1-minimal)."""


_Walk = tuple[type[RaftNode], int, str, int, int, tuple[tuple[Any, ...], ...]]


def _walk(args: _Walk) -> tuple[tuple[tuple[Any, ...], ...], str | None, frozenset[tuple[Any, ...]]]:
    """One run, built as it goes: after the items of ``prefix`` (run as they are), each new item is chosen among the
    actions that fit the cluster's state at that moment.

    Returns the schedule, the property it broke (or None) and the abstract
    states it went through (:func:`_abstract`). Run ``index`` of search
    ``seed`` is always the same run. Every other walk is a swarm walk that
    leaves a random set of kinds out (Groce et al., "Swarm testing", ISSTA
    2012): fewer kinds, more of each, which reaches states an even mix rarely does.
    """
    node_class, n, features, seed, index, prefix = args
    rng = random.Random(f"raftedu-explore:{n}:{seed}:{index}")
    kinds = [k for k in _KINDS if index % 2 == 0 or k == "timeout" or rng.random() < 0.5]
    c = _cluster(node_class, n, (), features)
    items: list[tuple[Any, ...]] = []
    seen: set[tuple[Any, ...]] = set()
    slow, requests = False, 0
    todo = list(prefix) + [None] * rng.randrange(3 if prefix else 4, 9 if prefix else 17)
    try:
        for planned in todo:
            if planned is None:
                c.run(rng.choice(_GAPS))
                item = _choose(c, rng, kinds, slow, requests)
                if item is None:
                    continue
                item = (c.now, *item)
            else:
                c.run(planned[0] - c.now)
                item = planned
            slow = item[1] == "set_network" and item[2]["delay"] != (DELAY, DELAY)
            requests += item[1] == "request"
            items.append(item)
            _perform(c, item)
            seen.add(_abstract(c))
        c.run(TAIL)
        seen.add(_abstract(c))
    except SafetyViolation as v:
        return tuple(items), v.property, frozenset(seen)
    except ValueError:  # an item of the prefix no longer fits (a mutation changed the run): a dead end
        return tuple(items), None, frozenset()
    return tuple(items), None, frozenset(seen)


def _perform(c: Cluster, item: tuple[Any, ...]) -> None:
    """Do one schedule item now, as the cluster does it from a schedule (a refused action changes nothing)."""
    try:
        if item[1] == "set_network":
            c.set_network(**item[2])
        else:
            getattr(c, item[1])(*item[2:])
    except Refused:
        pass


def _abstract(c: Cluster) -> tuple[Any, ...]:
    """The cluster's state, coarsely: per server (up, role, term, log length, last log term, commitIndex, how often
    it led), numbers capped at 4, as a multiset (servers are alike), plus the network's faults. A walk that reaches a new one is kept to build on."""
    led: dict[int, int] = {}
    for leader in c.monitor.leader_of.values():
        led[leader] = led.get(leader, 0) + 1
    view = []
    for i in c.ids:
        node = c.nodes[i]
        if node is None:
            view.append((False, min(led.get(i, 0), 3)))
            continue
        view.append((True, node.role, min(node.current_term, 4), min(node.last_log_index, 4),
                     min(node.last_log_term, 4), min(node.commit_index, 4), min(led.get(i, 0), 3)))
    return (*sorted(view, key=repr), bool(c.groups or c.cuts), c.net.delay != (DELAY, DELAY))


def _choose(c: Cluster, rng: random.Random, kinds: list[str], slow: bool, requests: int) -> tuple[Any, ...] | None:
    """One action that fits the cluster now, of a kind in ``kinds`` (None: none fits)."""
    if slow:  # a slow spell lasts until the next item
        return ("set_network", {"delay": (DELAY, DELAY)})
    up = c.up()
    down = [i for i in c.ids if i not in up]
    leader = c.leader()
    options: list[tuple[Any, ...]] = []
    for kind in kinds:
        if kind == "timeout":
            options += [("timeout_now", i) for i in up if c.nodes[i].role != LEADER] * 3
        elif kind == "request" and leader is not None and requests < 6:
            options += [("request", f"v{requests + 1}")] * 3
        elif kind == "crash":
            options += [("crash", i) for i in up]
        elif kind == "restart":
            options += [("restart", i) for i in down] * 2
        elif kind == "partition" and c.n > 1:
            options += [("isolate", i) for i in c.ids]
            shuffled = rng.sample(c.ids, c.n)
            options.append(("partition", shuffled[:rng.randrange(1, c.n)]))
        elif kind == "cut" and c.n > 1:
            src, dst = rng.sample(c.ids, 2)
            options.append(("cut", src, dst))
        elif kind == "heal" and (c.groups or c.cuts):
            options += [("heal",)] * 2
        elif kind in ("delay", "drop") and c.n > 1:  # one message, one item (a slow spell or a cut takes two)
            src, dst = rng.sample(c.ids, 2)
            if leader is not None and rng.random() < 0.5:  # half of them: a message to the leader (a reply, mostly)
                src, dst = rng.choice([i for i in c.ids if i != leader]), leader
            options.append(("delay_next", src, dst, rng.choice(_SLOW)) if kind == "delay" else ("drop_next", src, dst))
    if not options:
        return None
    item = rng.choice(options)
    if item[0] == "partition":
        item = ("partition", sorted(item[1]))
    return item


def find_counterexample(node_class: type[RaftNode], sizes: Iterable[int] = (3, 5), budget_s: float = 60, seed: int = 0,
                        features: str = "none", executor: Any = None, *, max_runs: int | None = None
                        ) -> Counterexample | None:
    """Search fault schedules until one breaks a safety property, then shrink it: the shortest story found, or None.

    Runs alternate between the ``sizes``; run k of a search with ``seed`` is
    always the same run, and the first failing run (in that order) is kept,
    so the result does not depend on speed or on ``executor``. The search
    stops after ``budget_s`` wall seconds (or ``max_runs`` runs) with None:
    no run broke anything. A found run is then shrunk (:func:`shrink`)
    until it is 1-minimal; the time spent is in the result's ``stats``.
    """
    _check_node_class(node_class)
    _check_features(features)
    sizes = list(sizes)
    if not sizes or any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 9 for n in sizes):
        raise ValueError(f"sizes must be cluster sizes from 1 to 9, e.g. (3, 5); got {sizes!r}")
    if not (isinstance(budget_s, (int, float)) and budget_s > 0):
        raise ValueError(f"budget_s must be a number of seconds > 0; got {budget_s!r}")
    start = time.perf_counter()
    corpus: dict[int, list[tuple[tuple[Any, ...], ...]]] = {n: [] for n in sizes}  # per size: runs to build on
    covered: set[tuple[Any, ...]] = set()
    index = 0
    while (max_runs is None or index < max_runs) and time.perf_counter() - start < budget_s:
        count = _BATCH if max_runs is None else min(_BATCH, max_runs - index)
        batch = [(node_class, n, features, seed, index + k, _prefix(corpus[n], n, seed, index + k))
                 for k, n in ((k, sizes[(index + k) % len(sizes)]) for k in range(count))]
        results = run_map(_walk, batch, executor)
        hit = next((k for k, (_, prop, _) in enumerate(results) if prop is not None), None)
        if hit is None:
            for (schedule, _, seen), args in zip(results, batch):
                if not seen <= covered:  # it reached a state no run reached before: build on it
                    covered |= seen
                    corpus[args[1]].append(schedule)
            index += count
            continue
        (schedule, prop, _), n = results[hit], batch[hit][1]
        found = Counterexample(node_class, n, schedule, prop, features)
        first_s = time.perf_counter() - start
        if found.replay() is None:  # pragma: no cover - a walk and its replay are the same run (tests check it)
            raise RuntimeError(f"run {index + hit} broke {prop!r} but its schedule replayed without a violation")
        shrunk, tries, _ = _shrink(found, executor)
        stats = SearchStats(index + hit + 1, first_s, time.perf_counter() - start, tries, len(schedule))
        return Counterexample(node_class, n, shrunk.schedule, shrunk.property, features, stats=stats)
    return None


def _prefix(corpus: list[tuple[tuple[Any, ...], ...]], n: int, seed: int, index: int) -> tuple[tuple[Any, ...], ...]:
    """Where run ``index`` starts. The first :data:`_BATCH` runs and every fourth run after them start from nothing.
    Of the others, one in three replays one of the course's scripted stories for this size
    (:func:`story_schedules`: the paper's Figure 8, the election restriction, issue 17's stale messages across
    re-elections), the rest a kept run (a run that reached a new abstract state: coverage-guided, in the manner of
    AFL and Go-Explore): its beginning (any length), half the time with the items from one point on moved a few ms;
    each walks on from there."""
    if index < _BATCH or index % 4 == 0:
        return ()
    rng = random.Random(f"raftedu-explore-prefix:{seed}:{index}")
    pool = list(story_schedules(n).values()) if rng.random() < 1 / 3 else corpus
    if not pool:
        return ()
    chosen = pool[rng.randrange(len(pool))]
    if not chosen:
        return ()
    prefix = list(chosen[:rng.randrange(1, len(chosen) + 1)])
    if rng.random() < 0.5:  # move the items from one point on earlier or later (a timing the story just missed)
        k, delta = rng.randrange(len(prefix)), rng.choice((-20, -10, -5, -2, -1, 1, 2, 5, 10, 20))
        floor = prefix[k - 1][0] if k else 0
        prefix[k:] = [(max(floor, item[0] + delta), *item[1:]) for item in prefix[k:]]
    return tuple(prefix)


_STORIES = ("figure_8", "longer_log_older_term", "shorter_log_same_term", "stale_replies_across_reelection",
            "restart_between_votes", "crash_after_acknowledging", "vote_replies_delayed_across_reelection")


class Recorder(Cluster):
    """A cluster that writes down every action done on it -- called from outside or run from its schedule -- with the
    time, as a schedule item (``items``): a scripted run becomes a schedule that :func:`replay` runs again, the same
    (:meth:`replay_args`)."""

    def __init__(self, n: int, **settings: Any) -> None:
        """A :class:`~raftedu.sim.Cluster` of ``n`` servers with ``settings``, recording."""
        self.items: list[tuple[Any, ...]] = []
        self._depth = 0
        self.settings = settings
        super().__init__(n, **settings)

    def replay_args(self) -> dict[str, Any] | None:
        """The run so far as plain data: ``replay(node_class, **args)`` runs it again (to the time it reached), or
        None when the cluster has an option :func:`replay` does not set (snapshots, membership, one extension)."""
        left = set(self.settings) - {"seed", "timing", "network", "schedule", "node_class", "up_to_date_check",
                                     "pre_vote", "check_quorum"}
        extensions = {bool(self.settings.get("pre_vote")), bool(self.settings.get("check_quorum"))}
        if left or len(extensions) > 1 or self.ids != self.initial_ids:
            return None
        return {"n": self.n, "schedule": [list(item) for item in self.items], "seed": self.seed,
                "timing": asdict(self.timing), "network": asdict(self.net), "until": self.now,
                "features": "all" if True in extensions else "none",
                "up_to_date_check": self.monitor.up_to_date_check}


def _recording(name: str) -> Callable[..., Any]:
    method = getattr(Cluster, name)
    signature = inspect.signature(method)

    def action(self: Recorder, *args: Any, **kwargs: Any) -> Any:
        if self._depth == 0:
            if name == "set_network":
                self.items.append((self.now, name, kwargs))
            else:
                self.items.append((self.now, name, *signature.bind(self, *args, **kwargs).args[1:]))
        self._depth += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            self._depth -= 1
    action.__name__ = name
    action.__doc__ = method.__doc__
    return action


for _name in _sim.ACTIONS:
    setattr(Recorder, _name, _recording(_name))


@functools.cache
def story_schedules(n: int) -> dict[str, tuple[tuple[Any, ...], ...]]:
    """The course's scripted stories (:mod:`raftedu.scenarios`) of ``n`` servers as schedules: each script run once
    on the reference node, its calls written down with their times. They run on the search's setup (same timing,
    same 1 ms network), so the guided search can start from any point of them."""
    found = {}
    for name in _STORIES:
        script = getattr(scenarios, name)
        recorded: list[Recorder] = []

        def make(size: int, **settings: Any) -> Cluster:
            recorded.append(Recorder(size, seed=0, node_class=RaftNode, **settings))
            return recorded[-1]

        try:
            script(RaftNode, make=make)
        except scenarios.ScriptError:  # pragma: no cover - the reference follows every script (tests/test_scenarios.py)
            continue
        if recorded[0].n == n:
            found[name] = tuple(tuple(item) for item in recorded[0].items)
    return found


# ---- shrinking ---------------------------------------------------------------------------------------------------


def shrink(counterexample: Counterexample, executor: Any = None, *, max_runs: int | None = None,
           budget_s: float | None = None) -> Counterexample:
    """The counterexample with items removed until it is 1-minimal: it still breaks the same property, and removing
    any single one of its items does not.

    Delta debugging (Zeller and Hildebrandt, 2002): remove halves, quarters,
    ..., single items while the property still breaks; then move each item
    as early as it can go, so the story is short in time too; repeat both
    until neither changes anything. Candidates are tried in a fixed order and
    the first that still breaks is kept, with or without ``executor``.

    ``max_runs`` (runs; the same result on any machine) or ``budget_s`` (wall
    seconds) stop it early with the shortest schedule kept so far: every
    schedule kept broke the property when it ran, so it still does; its
    ``stats.minimal`` is then False.
    """
    for name, value in (("max_runs", max_runs), ("budget_s", budget_s)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise ValueError(f"{name} must be a number > 0 (or None: no limit); got {value!r}")
    began = time.perf_counter()
    shrunk, tries, minimal = _shrink(counterexample, executor, max_runs, budget_s)
    if shrunk.until is not None and not shrunk.stepped:  # a recorded run's end time: gone if the shrunk run needs it not
        shorter = replace(shrunk, until=None)
        violation = shorter.replay()
        tries += 1
        if violation is not None and violation.property == shrunk.property:
            shrunk = shorter
    stats = SearchStats(0, 0.0, time.perf_counter() - began, tries, len(counterexample.schedule), minimal)
    return replace(shrunk, stats=stats)


def _shrink(ce: Counterexample, executor: Any, max_runs: int | None = None,
            budget_s: float | None = None) -> tuple[Counterexample, int, bool]:
    """:func:`shrink`, how many runs it took, and whether it ran to the end (1-minimal)."""
    tries = [0]
    deadline = None if budget_s is None else time.perf_counter() + budget_s
    items = list(ce.schedule)

    def spent() -> bool:
        return ((max_runs is not None and tries[0] >= max_runs)
                or (deadline is not None and time.perf_counter() > deadline))

    def breaks(candidates: list[list[tuple[Any, ...]]]) -> int | None:
        nonlocal items
        hit = _first(_violated, [ce._args(tuple(c)) for c in candidates], executor,
                     lambda prop: prop == ce.property, spent, tries)
        if hit is not None:
            items = list(candidates[hit])  # kept: it broke the property when it ran
        return hit

    minimal = True
    try:
        while True:
            before = list(items)
            _earlier(_remove(_merge_cuts(_one_message(list(items), ce, breaks, tries), ce, breaks), breaks), breaks)
            if items == before:
                break
    except _Spent:
        minimal = False
    return replace(ce, schedule=tuple(items), stats=None), tries[0], minimal


_Breaks = Callable[[list[list[tuple[Any, ...]]]], "int | None"]


def _fixed_delay(item: tuple[Any, ...]) -> int | None:
    """The delay of a ``set_network`` item that sets only a fixed delay, ``{"delay": (d, d)}`` (else None)."""
    if item[1] != "set_network" or len(item) != 3 or set(item[2]) != {"delay"}:
        return None
    low, high = item[2]["delay"]
    return low if low == high else None


def _one_message(items: list[tuple[Any, ...]], ce: Counterexample, breaks: _Breaks,
                 tries: list[int]) -> list[tuple[Any, ...]]:
    """Replace each slow spell (``set_network`` to a fixed long delay, then back: two items) by a ``delay_next`` item
    for the one message it slowed that matters, or for each of the (at most two) it slowed, if the run still breaks.

    A spell comes from a recorded run or a story the guided search started from; the messages it slowed are read
    from the run's trace (sent in the spell, taking the spell's delay), each the next of its kind on its link."""
    if ce.stepped:
        return items
    k = 0
    while k < len(items):
        slow = _fixed_delay(items[k])
        end = next((j for j in range(k + 1, len(items)) if items[j][1] == "set_network"), len(items))
        back = _fixed_delay(items[end]) if end < len(items) else None
        if slow is None or back is None or slow <= back:
            k += 1
            continue
        c, _ = _run(*ce._args(tuple(items)))
        tries[0] += 1
        if c is None:
            return items
        start, stop = items[k][0], items[end][0]
        slowed = [(e.node, e.peer, type(e.msg).__name__) for e in c.trace.events
                  if e.kind == "send" and start <= e.time <= stop and e.value - e.time == slow]
        rest = items[:k] + items[k + 1:end] + items[end + 1:]
        ones = [[(start, "delay_next", src, dst, slow - back, kind)] for src, dst, kind in slowed]
        candidates = [rest[:k] + one + rest[k:] for one in ones]
        if 1 < len(ones) <= 2:
            candidates.append(rest[:k] + [one[0] for one in ones] + rest[k:])
        hit = breaks(candidates) if candidates else None
        if hit is not None:
            items = candidates[hit]
        k += 1
    return items


def _merge_cuts(items: list[tuple[Any, ...]], ce: Counterexample, breaks: _Breaks) -> list[tuple[Any, ...]]:
    """Replace link cuts made at one time from one server (or to one server) by one ``partition`` item that puts it
    apart from the servers they cut it from, if the run still breaks: one item for a fault the story needs once."""
    if ce.stepped:
        return items
    k = 0
    while k < len(items):
        item = items[k]
        if item[1] != "cut":
            k += 1
            continue
        for end in (0, 1):  # cuts from one server, then cuts to one server
            same = [j for j, other in enumerate(items) if other[1] == "cut" and other[0] == item[0]
                    and other[2 + end] == item[2 + end]]
            if len(same) < 2:
                continue
            apart = {items[j][3 - end] for j in same}
            group = sorted(i for i in range(1, ce.n + 1) if i not in apart)
            candidate = [other for j, other in enumerate(items) if j not in same]
            candidate.insert(k, (item[0], "partition", group))
            if breaks([candidate]) is not None:
                items = candidate
                break
        k += 1
    return items


def _remove(items: list[tuple[Any, ...]], breaks: _Breaks) -> list[tuple[Any, ...]]:
    """Remove chunks of items (halves, quarters, ..., single items) while the run still breaks; ends when no single
    item can go."""
    chunk = max(1, len(items) // 2)
    while items:
        candidates = [items[:i] + items[i + chunk:] for i in range(0, len(items), chunk)]
        hit = breaks(candidates)
        if hit is not None:
            items = candidates[hit]
            chunk = min(chunk, max(1, len(items) // 2))
        elif chunk > 1:
            chunk //= 2
        else:
            break
    return items


def _earlier(items: list[tuple[Any, ...]], breaks: _Breaks) -> list[tuple[Any, ...]]:
    """Close the gaps: move each item, and all after it, as early as the run still breaks (whole gap, half of it,
    one ms)."""
    for k in range(len(items)):
        gap = items[k][0] - (items[k - 1][0] if k else 0)
        shifts = sorted({gap, gap - gap // 2, 1} - {0}, reverse=True) if gap > 0 else []
        candidates = [items[:k] + [(item[0] - shift, *item[1:]) for item in items[k:]] for shift in shifts]
        hit = breaks(candidates) if candidates else None
        if hit is not None:
            items = candidates[hit]
    return items


def one_minimal(counterexample: Counterexample) -> bool:
    """Whether removing any single item of the schedule loses the violation (checked by running each such schedule)."""
    items = counterexample.schedule
    for k in range(len(items)):
        violation = counterexample.replay(items[:k] + items[k + 1:])
        if violation is not None and violation.property == counterexample.property:
            return False
    return True


# ---- the story in words ------------------------------------------------------------------------------------------


def _story(schedule: Sequence[Sequence[Any]], stepped: bool = False) -> tuple[str, ...]:
    """The schedule in words, one line per item; an item that repeats an earlier one (a model-checker step, or a timed
    item at another or the same time) says "again", so that two identical lines never look like one printed twice."""
    seen: set[str] = set()
    lines = []
    for item in schedule:
        key = repr(tuple(item) if stepped else tuple(item[1:]))  # items may hold lists (a partition's groups)
        lines.append(_step_text(tuple(item), key in seen) if stepped else _item_text(item, key in seen))
        seen.add(key)
    return tuple(lines)


def _item_text(item: Sequence[Any], again: bool = False) -> str:
    """A schedule item in words (``again``: it repeats an earlier item)."""
    t, name, args = item[0], item[1], tuple(item[2:])
    if name == "timeout_now":
        what = f"S{args[0]}'s election timer runs out"
    elif name == "request":
        what = f"a client sends {args[0]!r} to the leader"
    elif name == "crash":
        what = f"S{args[0]} crashes"
    elif name == "restart":
        what = f"S{args[0]} restarts from its disk"
    elif name == "isolate":
        what = f"S{args[0]} is cut off from the others"
    elif name == "partition":
        what = "the network splits: {" + ",".join(f"S{i}" for i in args[0]) + "} | the rest"
    elif name == "cut":
        what = f"messages from S{args[0]} to S{args[1]} are lost"
    elif name == "heal":
        what = "the network heals"
    elif name in ("drop_next", "delay_next"):
        kind = args[-1] if len(args) == (3 if name == "drop_next" else 4) and args[-1] is not None else "message"
        late = "is lost" if name == "drop_next" else f"takes {args[2]} ms longer"
        what = f"the next {kind} from S{args[0]} to S{args[1]} {late}"
    elif name == "set_network" and args[0].get("delay") == (DELAY, DELAY):
        what = f"messages take {DELAY} ms again"
    elif name == "set_network" and "delay" in args[0]:
        what = f"messages sent from now on take {args[0]['delay'][0]} ms"
    else:
        what = f"{name}{args!r}"
    return f"t={t} ms: {what}{' again' if again else ''}   {tuple(item)!r}"


# ---- explain -----------------------------------------------------------------------------------------------------

_NODE_KINDS = frozenset({"append", "config", "install", "precampaign", "prevote", "restore", "role", "snapshot",
                         "stepdown", "term", "timeout", "transfer", "truncate", "vote", "vote_ignored", "apply",
                         "commit", "progress", "timer"})
"""Event kinds a node reports itself (the simulator records the same kinds for state a node changed quietly or lost
in a crash, with the rules below)."""
_PLUMBING = frozenset({"take_output", "send", "note", "set_timer", "unsaved", "receive", "enable", "init_extensions"})


@dataclass(frozen=True)
class Explanation:
    """A counterexample told: the story in words, the events that broke the property and the method behind each.

    ``trace`` is the run up to the violation; ``culprits`` are the indices
    (into ``trace.events``) of the events that broke the property: the step
    of the server whose event the monitor stopped at, from the input that
    started it (a delivery, a timeout, a client request or a restart);
    ``methods`` maps each event the node class reported to the method that
    produced it (the innermost method of the class that was running);
    ``ran`` maps each of those events to every method that had run in its
    step by then (a rule that returned before the event, like
    ``log_is_up_to_date`` before a vote, is named there);
    ``moments`` are the times worth a cluster picture. Draw it with
    :func:`raftedu.viz.explain_figure`.
    """

    counterexample: Counterexample
    violation: SafetyViolation
    trace: Any
    story: tuple[str, ...]
    culprits: tuple[int, ...]
    methods: dict[int, str]
    ran: dict[int, tuple[str, ...]]
    moments: tuple[int, ...]
    paragraph: str
    since: int = 0
    """The time the run is worth drawing from: 0, or for a :func:`model_check` run the time its steps began."""

    def _repr_markdown_(self) -> str:
        story = "\n".join(f"{k}. {line}" for k, line in enumerate(self.story, 1))
        return f"{self.paragraph}\n\n**The schedule** ({len(self.story)} items):\n\n{story}\n"

    def __str__(self) -> str:
        return self._repr_markdown_()


def _traced(node_class: type[RaftNode]) -> type[RaftNode]:
    """A subclass of ``node_class`` that writes down, for each event a server reports, the methods that were running
    (outermost first) when it was reported; the lists, per server id and across restarts, are in ``_explore_logs``."""

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            events, stack = self._events, self.__dict__.setdefault("_explore_stack", [])
            start = len(events)
            if not stack:
                self.__dict__["_explore_ran"] = []  # the methods that ran in this step, in order
            self._explore_ran.append(name)
            stack.append(name)
            try:
                return fn(self, *args, **kwargs)
            finally:
                if self._events is events:
                    marks = self.__dict__.setdefault("_explore_marks", {})
                    for k in range(start, len(events)):
                        marks.setdefault((id(events), k), (" → ".join(stack), tuple(self._explore_ran)))
                stack.pop()
        return method

    members: dict[str, Any] = {}
    for cls in node_class.__mro__:
        for name, fn in vars(cls).items():
            if (inspect.isfunction(fn) and not name.startswith("__") and name not in _PLUMBING
                    and name not in members):
                members[name] = wrap(name, fn)

    def take_output(self: Any) -> Any:
        events = self._events
        msgs, out = node_class.take_output(self)
        marks = self.__dict__.pop("_explore_marks", {})
        type(self)._explore_logs.setdefault(self.id, []).extend(marks.get((id(events), k)) for k in range(len(out)))
        return msgs, out

    members["take_output"] = take_output
    members["_explore_logs"] = {}
    return type(node_class.__name__, (node_class,), members)


def _own_methods(node_class: type[RaftNode]) -> set[str]:
    """The methods ``node_class`` defines itself (above RaftNode, or above Server for a server of its own): the
    student's code."""
    mro = node_class.__mro__
    base = RaftNode if RaftNode in mro else Server
    return {name for cls in mro[:mro.index(base)] for name, value in vars(cls).items() if inspect.isfunction(value)}


def _explain(ce: Counterexample) -> Explanation:
    traced = _traced(ce.node_class)
    c, violation = _run(*ce._args(node_class=traced))
    if c is None or violation is None or violation.property != ce.property:
        raise RuntimeError(f"the schedule no longer breaks {ce.property!r}: was the node class changed?")
    events = list(c.trace.events)
    marks = _methods(events, traced._explore_logs)  # type: ignore[attr-defined]
    methods = {k: chain for k, (chain, _) in marks.items()}
    ran = {k: calls for k, (_, calls) in marks.items()}
    culprits = _culprits(events)
    since = (ce.until if ce.until is not None else max((i[0] for i in ce.start), default=0)) if ce.stepped else 0
    times = {events[culprits[-1]].time} if ce.stepped else {item[0] for item in ce.schedule}
    moments = tuple(sorted(times | {events[culprits[-1]].time}))
    story = _story(ce.schedule, ce.stepped)
    return Explanation(ce, violation, c.trace, story, tuple(culprits), methods, ran, moments,
                       _paragraph(ce, violation, events, culprits, methods, ran), max(0, since))


def _methods(events: list[Event], logs: dict[int, list[Any]]) -> dict[int, Any]:
    """Match each node's reported events in the trace with the methods written down for them, in order."""
    quiet = {"state change the node did not report", "Figure 2: only what was persisted survives a crash"}
    reported: dict[int, list[int]] = {}
    for k, e in enumerate(events):
        if e.kind in _NODE_KINDS and e.node in logs and e.rule not in quiet:
            reported.setdefault(e.node, []).append(k)
    out: dict[int, Any] = {}
    for i, positions in reported.items():
        log = logs[i]
        if len(log) < len(positions):
            continue  # the counts differ (a life not written down): say nothing rather than something wrong
        for k, name in zip(positions, log):
            if name is not None:
                out[k] = name
    return out


def _culprits(events: list[Event]) -> list[int]:
    """The violating event (the last one recorded) and the step it belongs to."""
    return _step(events, len(events) - 1)


def _step(events: list[Event], last: int) -> list[int]:
    """Event ``last`` and the step it belongs to: its server's events back to the input that started the step (a
    delivery, a timeout, a client request or a restart)."""
    node = events[last].node
    k = last
    while k > 0:
        e = events[k - 1]
        if e.time != events[last].time:
            break
        if e.node == node and e.kind in ("deliver", "timeout_now", "client_request", "restart"):
            k -= 1
            break
        k -= 1
    return [j for j in range(k, last + 1) if events[j].node == node or j == last]


def _cause(start: Event, events: list[Event], term: int | None) -> str:
    """What started a step, in words (``term``: the server's term in that step; a message of another term is
    said so: it is stale, §5.1)."""
    if start.kind != "deliver":
        return {"timeout_now": "timed out", "client_request": "got a client request",
                "restart": "restarted"}.get(start.kind, "")
    m = start.msg
    if m is None:
        return "received a message"
    sent = next((e.time for e in events if e.kind == "send" and e.msg_id == start.msg_id), None)
    stale = f" while in term {term} (a message from an earlier term, §5.1)" if term is not None and m.term < term else ""
    return (f"received {type(m).__name__} of term {m.term} from S{start.peer}"
            + (f" (sent at t={sent} ms)" if sent is not None else "") + stale)


def _event_text(e: Event) -> str:
    if e.kind == "send" and e.msg is not None:
        return f"S{e.node} sent {e.msg!r}"
    if e.kind == "progress" and not e.text:
        return f"S{e.node} set matchIndex = {e.index}, nextIndex = {e.value} for S{e.peer}"
    return e.text or e.kind


def _paragraph(ce: Counterexample, violation: SafetyViolation, events: list[Event], culprits: list[int],
               methods: dict[int, str], ran: dict[int, tuple[str, ...]]) -> str:
    own = {m for m in _own_methods(ce.node_class) if not m.startswith("__")}
    mine = [k for k in sorted(ran) if own.intersection(ran[k])]
    before = ""
    if mine and mine[-1] not in culprits:  # the student's code last ran in an earlier step: say where
        k = mine[-1]
        names = ", ".join(f"`{m}`" for m in dict.fromkeys(ran[k]) if m in own)
        step = [j for j in _step(events, k) if j <= k]
        cause = _cause(events[step[0]], events, events[k].term)
        did = "; ".join(_event_text(events[j]) for j in step if j in methods)
        before = (f"Your {names} last ran for S{events[k].node} at t={events[k].time} ms, when it "
                  f"{cause or 'took a step'}: {did or _event_text(events[k])}. ")

    def named(chain: str) -> str:
        return " → ".join(f"`{m}` (yours)" if m in own else f"`{m}`" for m in chain.split(" → "))

    e = events[culprits[-1]]
    start = events[culprits[0]]
    steps = [f"{events[k].text} ({named(methods[k])})" for k in culprits if k in methods and events[k].text]
    cause = _cause(start, events, e.term)
    who = f"S{e.node}" if e.node else "the cluster"
    return (f"**{violation.property}** broke at t={violation.time} ms, after {len(ce.schedule)} schedule item(s), "
            f"on {ce.n} servers of `{ce.node_class.__name__}`: {violation.detail}. "
            + (f"{who} {cause}: " + "; then ".join(steps) + ". " if steps and cause else "")
            + f"The event the checks stopped at: {_event_text(e)}"
            + (f" ({named(methods[culprits[-1]])}; rule: {e.rule})." if culprits[-1] in methods else ".")
            + (f" {before}" if before else " ")
            + (f"`{ce.node_class.__name__}` defines {', '.join(f'`{m}`' for m in sorted(own))} itself. " if own else "")
            + f"Replay it: `{ce.line}`")


# ---- every run up to a depth -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelCheckResult:
    """What :func:`model_check` explored: distinct ``states`` (after deduplication), ``transitions`` tried, the
    ``depth`` reached completely, the wall ``seconds``, and the shortest violating run (None: no violation up to
    ``depth``). ``complete`` is False when the state or time budget ran out before ``depth`` was done."""

    n: int
    depth: int
    states: int
    transitions: int
    seconds: float
    complete: bool
    counterexample: "Counterexample | None"
    bounds: dict[str, Any]

    def __str__(self) -> str:
        scope = ", ".join(f"{k}={v}" for k, v in self.bounds.items())
        if self.counterexample is not None:
            steps = "\n".join(f"  {k}. {line}" for k, line in enumerate(_story(self.counterexample.schedule, True), 1))
            return (f"{self.counterexample.property} breaks after {len(self.counterexample.schedule)} steps "
                    f"(shortest; {self.states:,} states explored in {self.seconds:.1f} s; {scope}):\n{steps}")
        done = "no violation" if self.complete else "no violation so far (budget spent before the depth was done)"
        return (f"{done} up to depth {self.depth}: {self.states:,} distinct states, {self.transitions:,} transitions, "
                f"{self.seconds:.1f} s ({scope})")


class _Stepper(Cluster):
    """A cluster whose messages wait on the wire until a step delivers one of them (in any order, or twice).

    Only the election timers of :data:`SEARCH_TIMING` run (10 s and more: never within a model check), so nothing
    happens unless a step makes it happen. Reads the simulator's event heap for the messages in flight and hands
    one to the simulator's own delivery and timer code: the monitor, the trace and every safety net are the
    ones of every run. (The heap's entries are ``(time, is action, sequence, kind, what, message)``;
    tests/test_explore.py fails loudly if that changes.)
    """

    def in_flight(self) -> list[tuple[int, Any]]:
        """The messages sent and not yet delivered: (message id, message), oldest first."""
        return sorted((what, msg) for (_, _, _, kind, what, msg) in self._heap if kind == _sim._DELIVER)

    def deliver_now(self, msg_id: int, keep: bool = False) -> None:
        """Deliver message ``msg_id`` now; with ``keep``, a copy stays on the wire (a duplicate, delivered later)."""
        entry = next(e for e in self._heap if e[3] == _sim._DELIVER and e[4] == msg_id)
        if not keep:
            self._heap.remove(entry)
            heapq.heapify(self._heap)
        self._deliver(msg_id, entry[5])

    def heartbeat_now(self, i: int) -> None:
        """Leader ``i``'s heartbeat timer runs out once it has sent nothing to any follower for a heartbeat interval
        (every follower is then due, §5.2): what it sends does not depend on when it last sent, so the times it
        keeps for that (``sent_at``, ``deadline``) need not be part of a state."""
        node = self.nodes[i]
        interval = node.timing.heartbeat
        idle = max([self.now, node.deadline or 0] + [t + interval for t in getattr(node, "sent_at", {}).values()])
        self.now = node.deadline = self._timer_due[i] = idle
        self._fire_timer(i, idle)


def _step_text(step: tuple[Any, ...], again: bool = False) -> str:
    kind, args = step[0], step[1:]
    if kind in ("deliver", "duplicate"):
        return f"{'deliver a copy of' if kind == 'duplicate' else 'deliver'} {args[1]}"
    if kind == "heartbeat":
        return f"leader S{args[0]}'s heartbeat timer runs out{' again' if again else ''}"
    return _item_text((0, *step), again).split(": ", 1)[1].split("   ")[0]


def _apply_step(c: _Stepper, step: tuple[Any, ...]) -> None:
    kind = step[0]
    c.now += 1
    if kind == "deliver":
        c.deliver_now(step[1])
    elif kind == "duplicate":
        c.deliver_now(step[1], keep=True)
    elif kind == "heartbeat":
        c.heartbeat_now(step[1])
    elif kind == "request":
        c.request(step[1])
    else:
        getattr(c, kind)(*step[1:])


def _steps(c: _Stepper, bounds: dict[str, Any], path: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Every step possible from the cluster's state, within the bounds (counted along ``path``)."""
    count = {kind: sum(1 for s in path if s[0] == kind) for kind in ("request", "crash", "heartbeat")}
    out: list[tuple[Any, ...]] = []
    for msg_id, m in c.in_flight():
        apart = (m.src, m.dst) in c.cuts or any((m.src in g) != (m.dst in g) for g in c.groups)
        if c.nodes.get(m.dst) is not None and not apart:  # to a crashed server or across a cut: lost
            label = (msg_id, f"{type(m).__name__} S{m.src}→S{m.dst} (term {m.term})")
            out.append(("deliver", *label))
            if bounds["duplicates"]:
                out.append(("duplicate", *label))
    for i in c.ids:
        node = c.nodes[i]
        if node is None:
            out.append(("restart", i))
            continue
        if node.role == LEADER:
            if count["heartbeat"] < bounds["heartbeats"]:
                out.append(("heartbeat", i))
            if count["request"] < bounds["requests"] and c.leader() == i:
                out.append(("request", f"v{count['request'] + 1}"))
        elif node.current_term < bounds["terms"]:
            out.append(("timeout_now", i))
        if count["crash"] < bounds["crashes"]:
            out.append(("crash", i))
    return out


def _canonical(value: Any) -> Any:
    """A hashable, order-free form of a node's attribute (dicts and sets sorted)."""
    if isinstance(value, dict):
        return tuple(sorted(((_canonical(k), _canonical(v)) for k, v in value.items()), key=repr))
    if isinstance(value, (set, frozenset)):
        return tuple(sorted((_canonical(v) for v in value), key=repr))
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    if hasattr(value, "__dataclass_fields__") and not getattr(value, "__hash__", None):
        return (type(value).__name__, *(_canonical(getattr(value, f)) for f in value.__dataclass_fields__))
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


_UNSTATED = frozenset({"rng", "timing", "now", "deadline", "_events", "_outbox", "sent_at", "_saved_log", "peers",
                       "id", "applied"})
"""Node attributes left out of a state: its tools and clocks (timers never fire by themselves here), and what
``applied`` holds twice (its length and content are lastApplied's entries, checked against the log at every step)."""


def _state(c: _Stepper) -> int:
    """The state's hash: every server's attributes (its disk too; for a crashed server what it held when it crashed),
    the messages in flight (as a multiset), and what
    the safety monitor remembers of the past (leaders per term, votes, committed entries, every entry ever stored,
    the highest term each server saw), so that a state reached twice is the same state for the checks too."""
    mon = c.monitor
    nodes = []
    for i in c.ids:
        node = c.nodes[i]
        disk = c.disks[i]
        if node is None:  # what it held in memory when it crashed: a restart records what the disk lacks of it
            seen = mon.view.nodes[i]
            mine = ("down", seen.term, seen.voted_for, tuple(seen.log))
        else:
            mine = tuple(sorted((k, _canonical(v)) for k, v in vars(node).items() if k not in _UNSTATED))
        nodes.append((mine, disk.current_term, disk.voted_for, tuple(disk.log)))
    wire = tuple(sorted(repr(m) for _, m in c.in_flight()))
    history = (tuple(sorted(mon.leader_of.items())), tuple(sorted(mon.vote_of.items())), tuple(mon.committed),
               tuple(sorted(mon.entry_prefix.items())), tuple(sorted(mon.last_term.items())))
    return hash((tuple(nodes), wire, history, c.groups, tuple(sorted(c.cuts))))


def _replay_steps(node_class: type[RaftNode], n: int, path: Sequence[tuple[Any, ...]],
                  start: Sequence[Sequence[Any]] = (), until: int | None = None) -> _Stepper:
    """The cluster after the timed schedule ``start`` (run as any run, to its last item or to ``until`` ms) and then
    the steps ``path``."""
    c = _Stepper(n, seed=0, timing=SEARCH_TIMING, network=_RELIABLE, node_class=node_class, up_to_date_check=True,
                 schedule=start)
    c.run(max((item[0] for item in start), default=0) if until is None else until)
    for step in path:
        _apply_step(c, step)
    return c


def _expand(args: tuple[type[RaftNode], int, tuple[tuple[Any, ...], ...], dict[str, Any], tuple[Any, ...],
                        int | None]) -> list[tuple[tuple[Any, ...], int | None, str | None]]:
    """The children of the state ``path`` leads to: (step, state hash or None, the property the step broke or None)."""
    node_class, n, path, bounds, start, until = args
    parent = _replay_steps(node_class, n, path, start, until)
    out = []
    for step in _steps(parent, bounds, path):
        c = _replay_steps(node_class, n, path, start, until)
        try:
            _apply_step(c, step)
        except SafetyViolation as v:
            out.append((step, None, v.property))
            continue
        out.append((step, _state(c), None))
    return out


def model_check(node_class: type[RaftNode], n: int = 3, depth: int = 8, *, terms: int = 3, requests: int = 2,
                crashes: int = 0, heartbeats: int = 1, duplicates: bool = False, start: Iterable[Sequence[Any]] = (),
                until: int | None = None, max_states: int = 200_000, budget_s: float = 300, executor: Any = None) -> ModelCheckResult:
    """Every run of ``n`` servers of ``node_class`` up to ``depth`` steps, breadth first: the shortest violation, or
    none up to ``depth``.

    A step is one of: deliver any message in flight (in any order; ``duplicates``: or deliver a copy and keep it
    in flight), a follower's or candidate's election timeout (while its term is below ``terms``), a leader's
    heartbeat after an idle interval, to every follower (at most ``heartbeats`` in a run), a client request to the leader (at most ``requests``), a crash
    (at most ``crashes``) and the restart of a crashed server. Loss needs no step of its own: a message never
    delivered was lost, and every run with losses is among these with those messages left undelivered. Every
    safety property is checked at every event, as in every run. A state reached twice is explored once: states are
    compared by a hash of every server's attributes and disk, the messages in flight (as a multiset), the network's
    cuts, and what the safety monitor remembers of the past (leaders per term, votes, committed entries, every entry
    ever stored), so two runs merged are the same for the checks too.
    ``start`` is a timed schedule (items :class:`~raftedu.sim.Cluster` accepts, on the search's timing and 1 ms
    network) that sets the stage first: every continuation of up to ``depth`` steps from where it leaves the
    cluster (messages still in flight then wait for a step) is explored; it runs to its last item, or to ``until``
    ms.
    The exploration stops early at ``max_states`` distinct states or ``budget_s`` wall seconds (``complete`` is then
    False). The result's counterexample has the steps as its schedule; its :meth:`~Counterexample.replay` runs them.
    """
    _check_node_class(node_class)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 5:
        raise ValueError(f"n must be a cluster size from 1 to 5 (the state space grows fast); got {n!r}")
    for name, value in (("depth", depth), ("terms", terms), ("requests", requests), ("crashes", crashes),
                        ("heartbeats", heartbeats), ("max_states", max_states)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0; got {value!r}")
    bounds = dict(terms=terms, requests=requests, crashes=crashes, heartbeats=heartbeats, duplicates=bool(duplicates))
    begin = tuple(tuple(item) for item in start)
    start_time = time.perf_counter()
    try:
        first = _replay_steps(node_class, n, (), begin, until)
    except SafetyViolation as v:
        raise ValueError(f"the start schedule itself breaks {v.property!r}: start the check before that") from None
    seen = {_state(first)}
    frontier: list[tuple[tuple[Any, ...], ...]] = [()]
    transitions = 0
    for level in range(depth):
        following: list[tuple[tuple[Any, ...], ...]] = []
        chunks = (frontier[k:k + _BATCH * 4] for k in range(0, len(frontier), _BATCH * 4))
        for chunk in chunks:
            expanded = run_map(_expand, [(node_class, n, path, bounds, begin, until) for path in chunk], executor)
            for path, children in zip(chunk, expanded):
                for step, state, broke in children:
                    transitions += 1
                    if broke is not None:
                        ce = Counterexample(node_class, n, (*path, step), broke, stepped=True, start=begin,
                                            until=until)
                        if ce.replay() is None:  # pragma: no cover - the same steps on the same cluster
                            raise RuntimeError(f"a model-check run broke {broke!r} but did not again on replay")
                        return ModelCheckResult(n, level + 1, len(seen), transitions, time.perf_counter() - start_time,
                                                True, ce, bounds)
                    if state not in seen:
                        seen.add(state)
                        following.append((*path, step))
            if len(seen) >= max_states or time.perf_counter() - start_time > budget_s:
                return ModelCheckResult(n, level, len(seen), transitions, time.perf_counter() - start_time, False, None,
                                        bounds)
        frontier = following
        if not frontier:
            break
    return ModelCheckResult(n, depth, len(seen), transitions, time.perf_counter() - start_time, True, None, bounds)
