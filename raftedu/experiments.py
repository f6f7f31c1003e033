"""Even vs odd: fault-tolerance experiments on the simulated cluster, as pandas DataFrames.

Every verdict here is reached by the simulator: a cluster is built, faults are
injected, a client keeps a command in flight, and the experiment records
whether that command *committed* (``ClientRequest.status == "committed"``)
within a bound of virtual time. Raft's quorum arithmetic (``majority(n)``,
``(n - 1) // 2``) appears only in cross-check columns, never as the verdict.

The four experiments of the even-vs-odd lab:

* crash tolerance -- :func:`crash_trials`, :func:`crash_tolerance`,
  :func:`derived_tolerance`;
* partitions -- :func:`partition_splits`, :func:`partition_progress`,
  :func:`partition_experiment`;
* availability -- :func:`majority_up_probability`,
  :func:`availability_closed_form`, :func:`availability_monte_carlo`,
  :func:`even_odd_availability`;
* time to recover -- :func:`recovery_times`.

Reproducibility: each trial gets its own seed derived from the experiment's
``seed`` and the trial's coordinates, so a table is the same whatever the
number of workers, the executor or the order in which trials finish.

Parallelism: sweeps accept ``workers=`` (a process pool when > 1) or any
:class:`concurrent.futures.Executor` as ``executor=`` (a Dask
``client.get_executor()``, a ``ProcessPoolExecutor`` of your own, ...; Ray has
no ``concurrent.futures`` executor), and show a ``tqdm.auto``
progress bar unless ``progress=False``.

Early stop (an honest speed-up): a trial stops as soon as its command
commits; otherwise, on a reliable network (no drops, no long delays), as soon
as the simulated nodes themselves have shown that nothing will change:

* *stalled* -- no node of the side changed term or committed anything for
  ``stall_ms`` (default: the longest election timeout plus a heartbeat plus
  two message delays). A live node without a leader times out and starts an
  election within one election timeout, so a quiet side is one whose leader
  heard from everyone it can reach and still cannot commit;
* *outvoted* -- a candidate received the vote of every live node of its
  side and, two message delays later, still had not won: no candidate can
  ever collect more votes than that, so no leader will ever be elected;
* *under-replicated* -- the leader holding the command has heard from
  every live node of its side that it stores the entry, and has not
  committed it: no more acknowledgements can ever come.

No rule computes a quorum: the nodes' own vote and commit rules decide. On an
unreliable network the rules are off and a failing trial runs to ``bound_ms``.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from .pools import process_pool
from .raft import LEADER, AppendEntriesReply, InstallSnapshot, Timing, majority
from .sim import MAX_NODES, ClientRequest, Cluster, Network

__all__ = [
    "SWEEP_OPTIONS",
    "VICTIMS",
    "OUTCOMES",
    "FAST_NETWORK",
    "etcd_table",
    "crash_trials",
    "crash_tolerance",
    "derived_tolerance",
    "partition_splits",
    "partition_progress",
    "partition_experiment",
    "majority_up_probability",
    "availability_closed_form",
    "availability_monte_carlo",
    "wilson_interval",
    "even_odd_availability",
    "recovery_times",
    "rejoin_trial",
    "minority_leader_trial",
    "catch_up_trial",
]

VICTIMS = ("random", "leader", "followers")
"""Which nodes a crash experiment takes down: any k at random, the leader and k-1 others, or k followers."""

OUTCOMES = ("committed", "under-replicated", "outvoted", "stalled", "bound")
"""How a trial ended: its command committed; every live node stored it and the leader still could not
commit it; a candidate had every live vote and still lost (no leader can ever be elected); the side went
quiet (stall rule); or the time bound ran out."""

FAST_NETWORK = Network(delay=(1, 5))
"""Default network of the experiments: reliable, 1-5 ms per message (a data-centre LAN, well below the
election timeout, so still a valid Raft setting); short delays make trials end sooner in virtual time."""

_DESIGNS = ("independent", "chain")

_DEFAULT_TIMING = Timing()

# The majority column of a tutorial's copy of etcd's table, which lesson 01 prints: etcd's v2 admin guide (and its
# current FAQ) lists N = 1..9; the tutorial added a row for N = 10 and misprinted its majority as 5.
_ETCD_PRINTED_MAJORITY = {1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4, 8: 5, 9: 5, 10: 5}


# ----------------------------------------------------------------------------
# Input checks (clear errors that say what is allowed)
# ----------------------------------------------------------------------------


def _whole(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        allowed = f"a whole number from {low} to {high}" if high is not None else f"a whole number >= {low}"
        raise ValueError(f"{name} must be {allowed}; got {value!r}")
    return value


def _sizes(ns: int | Iterable[int]) -> list[int]:
    """Cluster sizes as a non-empty list, each checked to be 1..MAX_NODES."""
    items = [ns] if isinstance(ns, int) else list(ns)
    if not items:
        raise ValueError(f"give at least one cluster size N (a whole number from 1 to {MAX_NODES})")
    return [_whole("cluster size N", n, 1, MAX_NODES) for n in items]


def _probability(name: str, p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability between 0 and 1 (both included); got {p!r}")
    return float(p)


def _probabilities(ps: float | Iterable[float]) -> list[float]:
    items = [ps] if isinstance(ps, (int, float)) else list(ps)
    if not items:
        raise ValueError("give at least one failure probability p between 0 and 1")
    return [_probability("failure probability p", p) for p in items]


def _victims(victims: Any) -> str:
    if victims not in VICTIMS:
        raise ValueError(f"victims must be one of {', '.join(map(repr, VICTIMS))}; got {victims!r}")
    return victims


def _max_k(n: int, victims: str) -> int:
    return n - 1 if victims == "followers" else n


def _check_k(n: int, k: Any, victims: str) -> int:
    top = _max_k(n, victims)
    what = "followers (all nodes but the leader)" if victims == "followers" else "nodes"
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= top:
        raise ValueError(f"k (crashed {what}) for N={n} must be a whole number from 0 to {top}; got {k!r}")
    return k


@dataclass(frozen=True)
class _Setup:
    """What every trial of one experiment shares: timing, network, bound and stall rule."""

    timing: Timing
    network: Network
    bound_ms: int
    stall_ms: int | None


SWEEP_OPTIONS = {
    "timing": "raftedu.Timing of every cluster (default: the paper's 150-300 ms election timeout, 50 ms heartbeat)",
    "network": "raftedu.Network of every cluster (default FAST_NETWORK: reliable, 1-5 ms per message)",
    "bound_ms": "virtual ms a cluster (or side) gets to commit after the fault (default: 10 election timeouts)",
    "stall_ms": "'auto' (default), None (off) or ms: the early-stop rules of the module doc",
    "workers": "processes to run trials in (default 1; more starts a process pool)",
    "executor": "any concurrent.futures.Executor to run the trials on instead (Dask's client.get_executor(), a pool of your own)",
    "progress": "show a tqdm.auto progress bar (default True)",
}
"""Keyword options shared by every experiment (``**options``), with what each means."""


@dataclass(frozen=True)
class _Options:
    """Validated ``**options``: the shared cluster setup and how to run the trials."""

    setup: _Setup
    workers: int
    executor: Executor | None
    progress: bool


def _options(options: dict[str, Any], allowed: Iterable[str] = SWEEP_OPTIONS) -> _Options:
    """Check ``**options`` against ``allowed`` (names of :data:`SWEEP_OPTIONS`) and fill in defaults."""
    allowed = tuple(allowed)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; allowed here: {', '.join(allowed)}")
    timing = options.get("timing")
    timing = _DEFAULT_TIMING if timing is None else timing
    network = options.get("network")
    network = FAST_NETWORK if network is None else network
    if not isinstance(timing, Timing):
        raise TypeError(f"timing must be a raftedu.Timing; got {type(timing).__name__}")
    if not isinstance(network, Network):
        raise TypeError(f"network must be a raftedu.Network; got {type(network).__name__}")
    hi = timing.election_timeout[1]
    bound_ms = options.get("bound_ms")
    bound = 10 * hi if bound_ms is None else _whole("bound_ms", bound_ms, 1)
    reliable = network.drop_rate == 0 and network.long_delay_rate == 0
    stall_ms = options.get("stall_ms", "auto")
    if stall_ms == "auto":  # a live leaderless node times out within hi ms of its last heartbeat or term change
        stall = hi + timing.heartbeat + 2 * network.delay[1] if reliable else None
    elif stall_ms is None:
        stall = None
    else:
        stall = _whole("stall_ms", stall_ms, hi + network.delay[1] + 1)  # a last heartbeat may still be in flight
        if not reliable:
            raise ValueError("stall_ms needs a reliable network (drop_rate=0, long_delay_rate=0): "
                             "with lost messages a quiet cluster may still wake up; pass stall_ms=None")
    workers = _whole("workers", options.get("workers", 1), 1)
    executor = options.get("executor")
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor; got {type(executor).__name__}")
    return _Options(_Setup(timing, network, bound, stall), workers, executor, bool(options.get("progress", True)))


def _seed(*parts: Any) -> int:
    """A 63-bit seed derived from ``parts`` (string seeding hashes with SHA-512: same in every process)."""
    return random.Random(":".join(map(str, parts))).getrandbits(63)


# ----------------------------------------------------------------------------
# Running sweeps: serial, process pool or any Executor; one progress bar
# ----------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _run_tasks(fn: Callable[[Any], list[dict[str, Any]]], tasks: Sequence[Any], weights: Sequence[int],
               opts: _Options, desc: str, unit: str = "trial") -> list[dict[str, Any]]:
    """Run ``fn`` on every task and return the rows in task order (independent of scheduling)."""
    results: list[list[dict[str, Any]] | None] = [None] * len(tasks)
    own = opts.executor is None
    pool, note = process_pool(opts.workers, fn, tasks) if own and opts.workers > 1 else (opts.executor, "")
    with tqdm(total=sum(weights), desc=desc, unit=unit, disable=not opts.progress) as bar:
        if note and pool is None:
            bar.write(f"note: {note}")
        if pool is None:
            for i, task in enumerate(tasks):
                results[i] = fn(task)
                bar.update(weights[i])
        else:
            futures = {pool.submit(fn, task): i for i, task in enumerate(tasks)}
            try:
                for future in as_completed(futures):
                    i = futures[future]
                    results[i] = future.result()  # a failed trial (e.g. a SafetyViolation) is raised here
                    bar.update(weights[i])
            finally:
                for future in futures:  # after a failure, do not run what is still queued
                    future.cancel()
                if own:
                    pool.shutdown()
    return [row for rows in results for row in rows]  # type: ignore[union-attr]


def _run_trials(fn: Callable[[Any], list[dict[str, Any]]], cells: list[tuple[Any, ...]], trials: int,
                opts: _Options, desc: str) -> pd.DataFrame:
    """Run ``trials`` trials of every cell: whole cells serially, else each cell cut in ~4 chunks per worker."""
    if opts.executor is None and opts.workers == 1:
        tasks = [(cell, range(trials)) for cell in cells]
    else:
        parallel = opts.workers if opts.executor is None else max(opts.workers, 4)
        per_task = math.ceil(trials / (4 * parallel))
        tasks = [(cell, r) for cell in cells for r in _chunks(range(trials), per_task)]
    return pd.DataFrame(_run_tasks(fn, tasks, [len(t[1]) for t in tasks], opts, desc))


# ----------------------------------------------------------------------------
# The client probe: keeps one command in flight inside a set of nodes
# ----------------------------------------------------------------------------


_WATCHED = frozenset({"client_reply", "crash", "deliver", "term", "commit", "role", "vote"})
"""The trace event kinds a probe reads (the others, the most frequent among them, are never rebuilt for it)."""


@dataclass
class _Probe:
    """A client confined to ``members``: sends a command to their leader and retries until it commits.

    :meth:`poll` is a ``run_until`` condition. The verdict is ``"committed"``
    once any of its requests commits; with the early-stop rules on
    (``stall_ms`` not None, a reliable network) it is ``"stalled"`` when no
    member changed term or committed for ``stall_ms``; ``"outvoted"`` when
    a candidate got the vote of *every* live member and still was not
    elected ``reply_ms`` (two message delays) later -- no candidate can ever
    get more votes, so no leader will ever be elected there; or
    ``"under-replicated"`` when the leader holding the command has heard
    from every live member that it stores the entry, and still has not
    committed it -- no more acknowledgements can come. Otherwise it stays
    None and the bound decides.
    """

    cluster: Cluster
    members: frozenset[int]
    tag: str
    stall_ms: int | None
    start: int = 0
    verdict: str | None = None
    committed_at: int | None = None
    first_leader_at: int | None = None
    reply_ms: int = 0
    requests: list[ClientRequest] = field(default_factory=list)
    _seen: int = 0
    _last_change: int = 0
    _votes: dict[tuple[int, int], set[int]] = field(default_factory=dict)
    _elected: set[tuple[int, int]] = field(default_factory=set)
    _all_votes: tuple[int, int, int] | None = None
    _acks: dict[tuple[int, int], dict[int, int]] = field(default_factory=dict)
    _dirty: bool = True
    _acked: bool = False

    def __post_init__(self) -> None:
        self.start = self._last_change = self.cluster.now
        self._seen = len(self.cluster.trace)

    @classmethod
    def of(cls, c: Cluster, members: Iterable[int], tag: str, setup: _Setup) -> "_Probe":
        """A probe over ``members`` with the experiment's early-stop rules (two delays for a vote reply)."""
        return cls(c, frozenset(members), tag, setup.stall_ms, reply_ms=2 * setup.network.delay[1] + 1)

    def _leader(self) -> int | None:
        return self.cluster.leader(among=self.members)

    def _still_leads(self, req: ClientRequest) -> bool:
        node = self.cluster.nodes[req.node] if req.node is not None else None
        return node is not None and node.role == LEADER and node.current_term == req.term

    def poll(self, c: Cluster) -> bool:
        """Check progress, (re)send the command if needed; True once the verdict is in."""
        if self.verdict is not None:
            return True
        self._scan(c)
        if self._dirty:  # a reply, a role change or a crash since the last look: re-examine the client
            self._dirty = False
            if self._client(c):
                return True
        return self.stall_ms is not None and self._hopeless(c)

    def _scan(self, c: Cluster) -> None:
        """Read the trace events added since the last poll."""
        watch = self.stall_ms is not None
        for e in c.trace.since(self._seen, _WATCHED):  # only the new events, only the kinds a probe reads
            kind = e.kind
            if kind in ("client_reply", "crash"):
                self._dirty = True
            if e.node not in self.members:
                continue
            if kind == "deliver":
                if watch and type(e.msg) is AppendEntriesReply and e.msg.success:
                    acks = self._acks.setdefault((e.node, e.msg.term), {})
                    acks[e.msg.src] = max(acks.get(e.msg.src, 0), e.msg.match_index)
                    self._acked = True
            elif kind in ("term", "commit"):
                self._last_change = e.time
            elif kind == "role":
                self._dirty = True
                if e.value == LEADER:
                    self._elected.add((e.node, e.term))
                    if self.first_leader_at is None:
                        self.first_leader_at = e.time
            elif kind == "vote" and watch and e.value and e.peer in self.members:
                voters = self._votes.setdefault((e.peer, e.term), set())
                voters.add(e.node)
                if len(voters) == sum(c.nodes[i] is not None for i in self.members):
                    self._all_votes = (e.peer, e.term, e.time)
        self._seen = len(c.trace)

    def _client(self, c: Cluster) -> bool:
        """Note a commit, or send the command to the side's leader if the last try can no longer commit."""
        for req in self.requests:
            if req.status == "committed":
                self.verdict, self.committed_at = "committed", req.replied
                return True
        req = self.requests[-1] if self.requests else None
        if req is None or req.status != "pending" or not self._still_leads(req):
            leader = self._leader()
            if leader is not None and (req is None or req.status != "pending" or leader != req.node):
                new = c.request(f"{self.tag}-{len(self.requests) + 1}", node=leader)
                self.requests.append(new)
                self._acked = True
                if new.status == "committed":  # a one-node cluster commits at once
                    self.verdict, self.committed_at = "committed", new.replied
                    return True
        return False

    def _hopeless(self, c: Cluster) -> bool:
        """The early-stop rules (reliable network only): True when the nodes showed nothing will change."""
        if c.now - self._last_change > self.stall_ms:  # type: ignore[operator]
            self.verdict = "stalled"
        elif self._all_votes is not None and self._all_votes[:2] not in self._elected \
                and c.now - self._all_votes[2] > self.reply_ms:
            self.verdict = "outvoted"  # every live member voted for one candidate, and that was not enough
        elif self._acked:
            self._acked = False
            req = self.requests[-1] if self.requests else None
            if req is not None and req.status == "pending" and self._still_leads(req):
                acks = self._acks.get((req.node, req.term), {})
                if all(acks.get(i, 0) >= req.index for i in self.members if i != req.node and c.nodes[i] is not None):
                    self.verdict = "under-replicated"  # every live member holds the entry, yet no commit
        return self.verdict is not None

    def elapsed(self, at: int | None) -> float:
        """Milliseconds from the probe's start to ``at`` (NaN when ``at`` is None)."""
        return float("nan") if at is None else float(at - self.start)


def _run_probes(c: Cluster, probes: list[_Probe], bound_ms: int) -> None:
    if len(probes) == 1:
        c.run_until(probes[0].poll, within=bound_ms)
    else:
        c.run_until(lambda cl: all([p.poll(cl) for p in probes]), within=bound_ms)


def _warm_up(c: Cluster, setup: _Setup, rng: random.Random) -> int:
    """Elect a leader and commit a first command, then idle a random part of a heartbeat; return the leader."""
    probe = _Probe(c, frozenset(c.ids), "warm-up", None)
    _run_probes(c, [probe], setup.bound_ms)
    if probe.verdict != "committed":
        raise RuntimeError(f"a healthy {c.n}-node cluster did not commit within bound_ms={setup.bound_ms} "
                           f"(seed={c.seed}); give a larger bound_ms")
    c.run(rng.randrange(setup.timing.heartbeat))
    # on a lossy network leadership may be changing hands right now: wait for the next leader
    if not c.run_until(lambda cl: cl.leader() is not None, within=setup.bound_ms):
        raise RuntimeError(f"a healthy {c.n}-node cluster lost its leader and elected none within "
                           f"bound_ms={setup.bound_ms} (seed={c.seed}); give a larger bound_ms")
    return c.leader()  # type: ignore[return-value]


def _cluster(n: int, seed: int, setup: _Setup) -> Cluster:
    return Cluster(n, seed=seed, timing=setup.timing, network=setup.network)


# ----------------------------------------------------------------------------
# etcd's table
# ----------------------------------------------------------------------------


def etcd_table(ns: int | Iterable[int] = range(1, 11)) -> pd.DataFrame:
    """etcd's failure-tolerance table: N, majority M = N//2+1, tolerance T = (N-1)//2.

    ``printed_majority`` is M as printed in a tutorial's copy of etcd's
    table (etcd's own lists N = 1..9; the copy adds N = 10; NaN beyond); it
    differs from M at N=10, that copy's misprint.
    """
    sizes = _sizes(ns)
    return pd.DataFrame({
        "n": sizes,
        "majority": [majority(n) for n in sizes],
        "tolerance": [(n - 1) // 2 for n in sizes],
        "printed_majority": pd.array([_ETCD_PRINTED_MAJORITY.get(n) for n in sizes], dtype="Int64"),
        "parity": ["odd" if n % 2 else "even" for n in sizes],
    })


# ----------------------------------------------------------------------------
# Crash tolerance
# ----------------------------------------------------------------------------


def _victim_order(ids: tuple[int, ...], leader: int, victims: str, rng: random.Random) -> list[int]:
    """The order in which nodes are crashed; the first k of it are a trial's k victims."""
    others = [i for i in ids if i != leader]
    if victims == "random":
        return rng.sample(ids, len(ids))
    if victims == "leader":
        return [leader] + rng.sample(others, len(others))
    return rng.sample(others, len(others))


def _crash_run(n: int, ks: Sequence[int], victims: str, trial: int, trial_seed: int, setup: _Setup) -> list[dict[str, Any]]:
    """One cluster: warm it up, then for each k (increasing) crash victims until k are down and probe it."""
    c = _cluster(n, trial_seed, setup)
    rng = random.Random(trial_seed)
    leader = _warm_up(c, setup, rng)
    order = _victim_order(c.ids, leader, victims, rng)
    rows, down = [], 0
    for k in ks:
        for i in order[down:k]:
            c.crash(i)
        down = k
        led = c.leader() is not None
        probe = _Probe.of(c, c.up(), f"after-{k}-crashes", setup)
        _run_probes(c, [probe], setup.bound_ms)
        rows.append({
            "n": n, "k": k, "victims": victims, "trial": trial, "seed": trial_seed,
            "crashed": tuple(sorted(order[:k])), "leader_crashed": leader in order[:k],
            "success": probe.verdict == "committed", "outcome": probe.verdict or "bound",
            "new_leader_ms": 0.0 if led else probe.elapsed(probe.first_leader_at),
            "commit_ms": probe.elapsed(probe.committed_at),
        })
    return rows


def _crash_task(task: tuple[tuple[int, tuple[int, ...], str, str, int, _Setup], range]) -> list[dict[str, Any]]:
    (n, ks, victims, design, seed, setup), trials = task
    rows = []
    for trial in trials:
        if design == "chain":
            rows += _crash_run(n, ks, victims, trial, _seed(seed, "crash-chain", n, victims, trial), setup)
        else:
            for k in ks:
                rows += _crash_run(n, (k,), victims, trial, _seed(seed, "crash", n, k, victims, trial), setup)
    return rows


def crash_trials(
    ns: int | Iterable[int] = range(1, 11),
    ks: Iterable[int] | None = None,
    *,
    trials: int = 100,
    victims: str = "random",
    design: str = "independent",
    seed: int = 0,
    **options: Any,
) -> pd.DataFrame:
    """One row per trial: crash ``k`` nodes of a working ``n``-node cluster; does a new command commit?

    Each trial elects a leader, commits a first command, crashes ``k``
    nodes chosen by ``victims`` (``"random"``: any k; ``"leader"``: the
    leader and k-1 others; ``"followers"``: k followers, the leader stays),
    then a client keeps a command in flight among the survivors. ``success``
    is whether it committed within ``bound_ms`` (default: 10 election
    timeouts). ``ks`` defaults to every possible k (0..N, or 0..N-1 for
    followers); explicit ``ks`` must be possible for every N.

    ``design="independent"`` (default) gives every (N, k, trial) a fresh
    cluster and crashes its k victims at once. ``design="chain"`` gives
    every (N, trial) one cluster and crashes its victims one more at a
    time, probing after each crash: the first k victims are still a random
    k-set (of the kind ``victims`` asks for), but the k's of one trial share
    a history -- about twice as fast, since one warm-up serves every k.

    Columns: n, k, victims, trial, seed, crashed, leader_crashed, success,
    outcome (one of :data:`OUTCOMES`), new_leader_ms, commit_ms (ms
    after the crash; NaN when it never happened). ``**options``: see
    :data:`SWEEP_OPTIONS`.
    """
    sizes = _sizes(ns)
    victims = _victims(victims)
    if design not in _DESIGNS:
        raise ValueError(f"design must be one of {', '.join(map(repr, _DESIGNS))}; got {design!r}")
    _whole("trials", trials, 1)
    opts = _options(options)
    cells = []
    for n in sizes:
        chosen = sorted({_check_k(n, k, victims) for k in (range(_max_k(n, victims) + 1) if ks is None else ks)})
        groups = [tuple(chosen)] if design == "chain" else [(k,) for k in chosen]
        cells += [(n, group, victims, design, seed, opts.setup) for group in groups]
    frame = _run_trials(_crash_task, cells, trials, opts, f"crash tolerance ({victims}, {design})")
    return frame.sort_values(["n", "k", "trial"], kind="stable").reset_index(drop=True)


def crash_tolerance(trials_frame: pd.DataFrame | None = None, **kwargs: Any) -> pd.DataFrame:
    """Success rate per (n, k): from a :func:`crash_trials` frame, or running one with ``kwargs``.

    Columns: n, k, victims, trials, successes, success_rate, majority_left
    (cross-check: n - k >= majority(n)), median_commit_ms.
    """
    df = crash_trials(**kwargs) if trials_frame is None else trials_frame
    if trials_frame is not None and kwargs:
        raise ValueError("give either a crash_trials frame or the arguments to run one, not both")
    missing = {"n", "k", "victims", "success", "commit_ms"} - set(df.columns)
    if missing:
        raise ValueError(f"crash_tolerance needs a crash_trials frame; missing columns {sorted(missing)}")
    table = (df.groupby(["n", "k", "victims"], sort=True)
               .agg(trials=("success", "size"), successes=("success", "sum"), median_commit_ms=("commit_ms", "median"))
               .reset_index())
    table["success_rate"] = table["successes"] / table["trials"]
    table["majority_left"] = table["n"] - table["k"] >= table["n"].map(majority)
    return table[["n", "k", "victims", "trials", "successes", "success_rate", "majority_left", "median_commit_ms"]]


def derived_tolerance(table: pd.DataFrame, threshold: float = 1.0) -> pd.DataFrame:
    """Measured failure tolerance per N from a :func:`crash_tolerance` table, beside etcd's formula.

    The measured tolerance of N is the largest k such that every k' <= k
    had a success rate >= ``threshold`` (default 1.0: every trial
    committed). Columns: n, measured_tolerance, tolerance ((N-1)//2),
    majority (N//2+1), parity, matches -- and victims first, one row per
    (victims, n), when the table mixes several kinds of victims.
    """
    _probability("threshold", threshold)
    missing = {"n", "k", "success_rate"} - set(table.columns)
    if missing:
        raise ValueError(f"derived_tolerance needs a crash_tolerance table; missing columns {sorted(missing)}")
    keys = ["victims", "n"] if "victims" in table.columns and table["victims"].nunique() > 1 else ["n"]
    rows = []
    for key, cells in table.groupby(keys, sort=True):
        rates = dict(zip(cells["k"], cells["success_rate"]))
        measured = -1
        while measured + 1 in rates and rates[measured + 1] >= threshold:
            measured += 1
        rows.append({**dict(zip(keys, key if isinstance(key, tuple) else (key,))), "measured_tolerance": measured})
    out = pd.DataFrame(rows)
    out["n"] = out["n"].astype(int)
    out = out.merge(etcd_table(sorted(set(out["n"])))[["n", "tolerance", "majority", "parity"]], on="n", how="left")
    out["matches"] = out["measured_tolerance"] == out["tolerance"]
    return out


# ----------------------------------------------------------------------------
# Partitions
# ----------------------------------------------------------------------------


def _integer_partitions(n: int, parts: int, largest: int | None = None) -> Iterator[tuple[int, ...]]:
    """Non-increasing tuples of ``parts`` positive integers summing to ``n``."""
    largest = n if largest is None else largest
    if parts == 1:
        if 1 <= n <= largest:
            yield (n,)
        return
    for first in range(min(n - parts + 1, largest), 0, -1):
        for rest in _integer_partitions(n - first, parts - 1, first):
            yield (first, *rest)


def _set_partitions(ids: Sequence[int], parts: int) -> Iterator[tuple[tuple[int, ...], ...]]:
    """Every split of ``ids`` into ``parts`` non-empty unlabeled groups (restricted growth strings)."""
    def grow(i: int, groups: list[list[int]]) -> Iterator[tuple[tuple[int, ...], ...]]:
        if len(ids) - i < parts - len(groups):
            return
        if i == len(ids):
            yield tuple(tuple(g) for g in groups)
            return
        for g in groups:
            g.append(ids[i])
            yield from grow(i + 1, groups)
            g.pop()
        if len(groups) < parts:
            groups.append([ids[i]])
            yield from grow(i + 1, groups)
            groups.pop()
    yield from grow(0, [])


_MODES = ("sizes", "all")


def partition_splits(n: int, parts: int = 2, mode: str = "sizes") -> list[dict[str, Any]]:
    """Every way to split ``n`` nodes into ``parts`` (2 or 3) non-empty groups.

    ``mode="sizes"`` enumerates *up to symmetry*: nodes are interchangeable
    except the leader at the moment of the split, so a split is its group
    sizes (largest first) plus which group holds the leader -- one entry per
    distinct size that can hold it (``leader_group`` indexes ``sizes``).
    ``mode="all"`` lists every set partition of the ids 1..n (``groups``;
    the leader falls where the warm-up put it): S(n, parts) of them, e.g.
    511 two-way and 9,330 three-way splits of 10 nodes.
    """
    _whole("cluster size N", n, 1, MAX_NODES)
    if parts not in (2, 3):
        raise ValueError(f"parts must be 2 or 3 (groups in the split); got {parts!r}")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, _MODES))}; got {mode!r}")
    if n < parts:
        raise ValueError(f"{n} node(s) cannot be split into {parts} non-empty groups; N must be >= {parts}")
    if mode == "all":
        return [{"sizes": tuple(len(g) for g in groups), "leader_group": None, "groups": groups}
                for groups in _set_partitions(tuple(range(1, n + 1)), parts)]
    splits = []
    for sizes in _integer_partitions(n, parts):
        for size in sorted(set(sizes), reverse=True):
            splits.append({"sizes": sizes, "leader_group": sizes.index(size), "groups": None})
    return splits


def _check_groups(n: int, groups: Any) -> tuple[tuple[int, ...], ...]:
    """Validate a user's split of 1..n; unlisted nodes form one more group (as in Cluster.partition)."""
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Iterable):
        raise ValueError(f"groups must be a list of node-id lists, e.g. [[1, 2], [3, 4]]; got {groups!r}")
    seen: set[int] = set()
    clean = []
    for group in groups:
        if isinstance(group, (str, bytes)) or not isinstance(group, Iterable):
            raise ValueError(f"each group must be a list of node ids 1..{n}; got {group!r}")
        members = list(group)
        if not members:
            raise ValueError("partition groups must not be empty")
        for i in members:
            if isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= n:
                raise ValueError(f"unknown node id {i!r} in the partition: this {n}-node cluster has nodes 1..{n}")
            if i in seen:
                raise ValueError(f"S{i} appears in more than one group; each node may be in one group only")
            seen.add(i)
        clean.append(tuple(sorted(members)))
    rest = tuple(i for i in range(1, n + 1) if i not in seen)
    if rest:
        clean.append(rest)
    if len(clean) < 2:
        raise ValueError(f"a partition needs at least two groups; {groups!r} keeps all {n} nodes together")
    return tuple(clean)


def _partition_task(task: tuple[tuple[int, int, dict[str, Any], int, _Setup], range]) -> list[dict[str, Any]]:
    (n, index, spec, seed, setup), trials = task
    rows = []
    for trial in trials:
        trial_seed = _seed(seed, "partition", n, spec["sizes"], spec["leader_group"], spec["groups"], trial)
        c = _cluster(n, trial_seed, setup)
        leader = _warm_up(c, setup, random.Random(trial_seed))
        if spec["groups"] is not None:
            groups = spec["groups"]
        else:  # the leader goes into group leader_group; the others fill the groups in id order
            others = iter(i for i in c.ids if i != leader)
            groups = tuple(
                tuple(sorted(([leader] if g == spec["leader_group"] else [])
                             + [next(others) for _ in range(size - (g == spec["leader_group"]))]))
                for g, size in enumerate(spec["sizes"]))
        c.partition(*groups)
        probes = [_Probe.of(c, g, f"side-{s + 1}", setup) for s, g in enumerate(groups)]
        _run_probes(c, probes, setup.bound_ms)
        progress = tuple(p.verdict == "committed" for p in probes)
        quorum = tuple(len(g) >= majority(n) for g in groups)
        rows.append({
            "n": n, "parts": len(groups), "split": index, "trial": trial, "seed": trial_seed,
            "sizes": tuple(len(g) for g in groups), "groups": groups,
            "leader": leader, "leader_group": next(s for s, g in enumerate(groups) if leader in g),
            "progress": progress, "any_progress": any(progress),
            "commit_ms": tuple(p.elapsed(p.committed_at) for p in probes),
            "quorum_side": quorum, "has_majority_side": any(quorum), "agrees": progress == quorum,
        })
    return rows


def partition_progress(
    n: int,
    groups: Sequence[Sequence[int]],
    *,
    trials: int = 1,
    seed: int = 0,
    **options: Any,
) -> pd.DataFrame:
    """Split a working ``n``-node cluster into ``groups`` (unlisted nodes form one more group) and test each side.

    One row per trial, with the columns of :func:`partition_experiment`.
    ``**options``: see :data:`SWEEP_OPTIONS` (no progress bar by default).
    """
    _whole("cluster size N", n, 1, MAX_NODES)
    _whole("trials", trials, 1)
    clean = _check_groups(n, groups)
    spec = {"sizes": tuple(len(g) for g in clean), "leader_group": None, "groups": clean}
    opts = _options({"progress": False, **options})
    return _run_trials(_partition_task, [(n, 0, spec, seed, opts.setup)], trials, opts, "partition")


def partition_experiment(
    ns: int | Iterable[int] = range(2, 11),
    parts: int | Iterable[int] = (2, 3),
    *,
    mode: str = "sizes",
    trials: int = 1,
    seed: int = 0,
    **options: Any,
) -> pd.DataFrame:
    """Split working clusters every way (see :func:`partition_splits`) and test whether each side commits.

    For each split a leader is elected and a first command committed, the
    network is cut into the groups, and one client per side keeps a command
    in flight, sent to a leader *inside* that side (a leader left in a
    minority may still believe it leads: progress means a commit, not a
    leader). Sizes N < parts are skipped (they cannot be split that way).

    Columns: n, parts, split, trial, seed, sizes, groups, leader,
    leader_group, progress (per group), any_progress, commit_ms (per
    group), and the quorum cross-check quorum_side (per group: size >=
    majority(n)), has_majority_side, agrees (progress == quorum_side).
    ``**options``: see :data:`SWEEP_OPTIONS`.
    """
    sizes = _sizes(ns)
    wanted = [parts] if isinstance(parts, int) else list(parts)
    _whole("trials", trials, 1)
    opts = _options(options)
    cells = []
    for p in wanted:
        if p not in (2, 3):
            raise ValueError(f"parts must be 2 or 3 (groups in the split); got {p!r}")
        for n in sizes:
            if n >= p:
                cells += [(n, i, spec, seed, opts.setup) for i, spec in enumerate(partition_splits(n, p, mode))]
    if not cells:
        raise ValueError(f"no cluster size in {sizes} can be split into {wanted} groups; N must be >= the number of groups")
    return _run_trials(_partition_task, cells, trials, opts, "partitions")


# ----------------------------------------------------------------------------
# Availability under independent failures
# ----------------------------------------------------------------------------


def majority_up_probability(n: int, p: float) -> float:
    """Closed form: probability that at least majority(n) of n nodes are up when each is down with probability p.

    ``sum_{j >= n//2+1} C(n, j) (1-p)^j p^(n-j)``.
    """
    _whole("cluster size N", n, 1, MAX_NODES)
    p = _probability("failure probability p", p)
    return math.fsum(math.comb(n, j) * (1 - p) ** j * p ** (n - j) for j in range(majority(n), n + 1))


def _majority_down_probability(n: int, p: float) -> float:
    """1 - :func:`majority_up_probability`, summed directly (accurate for tiny p)."""
    return math.fsum(math.comb(n, j) * (1 - p) ** j * p ** (n - j) for j in range(0, majority(n)))


def availability_closed_form(ns: int | Iterable[int] = range(1, 11),
                             ps: float | Iterable[float] = (0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5)) -> pd.DataFrame:
    """Closed-form availability for every (n, p): columns n, p, majority, parity, available, unavailable."""
    sizes, probs = _sizes(ns), _probabilities(ps)
    rows = [{"n": n, "p": p, "majority": majority(n), "parity": "odd" if n % 2 else "even",
             "available": majority_up_probability(n, p), "unavailable": _majority_down_probability(n, p)}
            for n in sizes for p in probs]
    return pd.DataFrame(rows)


def wilson_interval(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (sound even with 0 or ``total`` successes)."""
    _whole("total", total, 1)
    _whole("successes", successes, 0, total)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1, e.g. 0.95; got {confidence!r}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    phat = successes / total
    denom = 1 + z * z / total
    centre = (phat + z * z / (2 * total)) / denom
    half = z * math.sqrt(phat * (1 - phat) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _down_set_task(task: tuple[tuple[int, _Setup], Sequence[tuple[int, frozenset[int]]]]) -> list[dict[str, Any]]:
    """Simulator verdicts: with each set of nodes down from the start, do the others elect a leader and commit?"""
    (seed, setup), cases = task
    rows = []
    for n, down in cases:
        c = _cluster(n, _seed(seed, "availability", n, sorted(down)), setup)
        for i in sorted(down):
            c.crash(i)
        probe = _Probe.of(c, c.up(), "available?", setup)
        _run_probes(c, [probe], setup.bound_ms)
        rows.append({"n": n, "down": down, "commits": probe.verdict == "committed"})
    return rows


def _sample_down_sets(n: int, p: float, samples: int, seed: int) -> Counter[frozenset[int]]:
    """How often each set of down nodes occurs among ``samples`` draws (each node down with probability p)."""
    rng = random.Random(f"{seed}:availability-sample:{n}:{p}")
    ids = range(1, n + 1)
    return Counter(frozenset(i for i in ids if rng.random() < p) for _ in range(samples))


def availability_monte_carlo(
    ns: int | Iterable[int] = range(1, 11),
    ps: float | Iterable[float] = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5),
    *,
    samples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
    **options: Any,
) -> pd.DataFrame:
    """Monte Carlo availability, decided by the simulator, beside the closed form.

    Each sample takes every node down independently with probability p; the
    simulator then decides whether the survivors elect a leader and commit a
    command within ``bound_ms``. The simulator runs once per distinct set of
    down nodes (its verdict for a set is deterministic), so many samples
    cost few simulations.

    Columns: n, p, samples, unavailable_samples, unavailable (estimate),
    ci_low, ci_high (Wilson interval at ``confidence``), closed_form
    (unavailability), contains (ci_low <= closed_form <= ci_high),
    simulations (distinct down-sets of that n the simulator decided, shared
    by every p). ``**options``: see :data:`SWEEP_OPTIONS`.

    The samples are drawn first (one seeded stream per (n, p)); then every
    distinct (n, down-set) is simulated once, in balanced chunks across the
    workers -- the verdict for a set does not depend on p.
    """
    sizes, probs = _sizes(ns), _probabilities(ps)
    _whole("samples", samples, 1)
    wilson_interval(0, 1, confidence)  # validates confidence
    opts = _options(options)
    drawn = {(n, p): _sample_down_sets(n, p, samples, seed) for n in sizes for p in probs}
    cases = sorted({(n, down) for (n, _), counts in drawn.items() for down in counts},
                   key=lambda case: (case[0], len(case[1]), sorted(case[1])))
    parallel = 1 if opts.executor is None and opts.workers == 1 else max(opts.workers, 4)
    chunks = _chunks(cases, math.ceil(len(cases) / (8 * parallel)) if parallel > 1 else 50)
    verdicts = {(r["n"], r["down"]): r["commits"] for r in _run_tasks(
        _down_set_task, [((seed, opts.setup), chunk) for chunk in chunks], [len(c) for c in chunks], opts,
        "availability: simulating down-sets", unit="down-set")}
    rows = []
    for (n, p), counts in drawn.items():
        failed = sum(count for down, count in counts.items() if not verdicts[(n, down)])
        rows.append({"n": n, "p": p, "samples": samples, "unavailable_samples": failed,
                     "simulations": sum(1 for case in cases if case[0] == n)})
    for row in rows:
        row["unavailable"] = row["unavailable_samples"] / row["samples"]
        row["ci_low"], row["ci_high"] = wilson_interval(row["unavailable_samples"], row["samples"], confidence)
        row["closed_form"] = _majority_down_probability(row["n"], row["p"])
        row["contains"] = row["ci_low"] <= row["closed_form"] <= row["ci_high"]
    columns = ["n", "p", "samples", "unavailable_samples", "unavailable", "ci_low", "ci_high", "closed_form",
               "contains", "simulations"]
    return pd.DataFrame(rows)[columns]


def even_odd_availability(ps: float | Iterable[float] = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5),
                          ks: Iterable[int] = range(1, 6)) -> pd.DataFrame:
    """Compare N=2k-1 with N=2k at each p (closed form).

    Columns: k, odd_n, even_n, p, odd_unavailable, even_unavailable,
    ratio (even / odd), even_worse (even strictly less available), and
    extra_risk = C(2k-1, k) p^k (1-p)^k. The extra node fails the cluster in
    exactly one new case -- the other 2k-1 have exactly k up (enough for
    2k-1, one short for 2k) and it is down -- so even_unavailable =
    odd_unavailable + extra_risk, which is > 0 for every 0 < p < 1.
    """
    probs = _probabilities(ps)
    rows = []
    for k in ks:
        _whole("k", k, 1, MAX_NODES // 2)
        for p in probs:
            odd, even = _majority_down_probability(2 * k - 1, p), _majority_down_probability(2 * k, p)
            rows.append({"k": k, "odd_n": 2 * k - 1, "even_n": 2 * k, "p": p, "odd_unavailable": odd,
                         "even_unavailable": even, "ratio": even / odd if odd else float("nan"), "even_worse": even > odd,
                         "extra_risk": math.comb(2 * k - 1, k) * p**k * (1 - p) ** k})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------
# Time to recover
# ----------------------------------------------------------------------------


def _recovery_task(task: tuple[tuple[int, tuple[int, int], int, _Setup], range]) -> list[dict[str, Any]]:
    (n, timeout, seed, setup), trials = task
    rows = []
    for trial in trials:
        trial_seed = _seed(seed, "recovery", n, timeout, trial)
        c = _cluster(n, trial_seed, setup)
        old = _warm_up(c, setup, random.Random(trial_seed))
        c.crash(old)
        probe = _Probe.of(c, c.up(), "after-leader-crash", setup)
        _run_probes(c, [probe], setup.bound_ms)
        rows.append({
            "n": n, "timeout": f"{timeout[0]}-{timeout[1]} ms", "timeout_low": timeout[0], "timeout_high": timeout[1],
            "trial": trial, "seed": trial_seed, "old_leader": old, "recovered": probe.verdict == "committed",
            "election_ms": probe.elapsed(probe.first_leader_at), "commit_ms": probe.elapsed(probe.committed_at),
        })
    return rows


def recovery_times(
    ns: int | Iterable[int] = (3, 5, 7, 9),
    timeouts: Iterable[tuple[int, int]] = ((150, 300),),
    *,
    trials: int = 100,
    seed: int = 0,
    heartbeat: int = 50,
    **options: Any,
) -> pd.DataFrame:
    """Crash the leader of a working cluster and time the recovery, per N and election-timeout range.

    One row per trial: n, timeout (label), timeout_low, timeout_high,
    trial, seed, old_leader, recovered, election_ms (crash to the first
    new leader), commit_ms (crash to the first new commit); NaN when it did
    not happen within ``bound_ms`` (a 1- or 2-node cluster never recovers).
    ``heartbeat`` must be below every timeout's low end. ``**options``:
    see :data:`SWEEP_OPTIONS`, except ``timing`` (given by ``timeouts`` and
    ``heartbeat``).
    """
    sizes = _sizes(ns)
    _whole("trials", trials, 1)
    opts = _options(options, [name for name in SWEEP_OPTIONS if name != "timing"])
    ranges = []
    for t in timeouts:
        if not (isinstance(t, (tuple, list)) and len(t) == 2):
            raise ValueError(f"each election timeout range must be (low, high) in ms; got {t!r}")
        timing = Timing(election_timeout=tuple(t), heartbeat=heartbeat)
        if heartbeat >= t[0]:
            raise ValueError(f"heartbeat ({heartbeat} ms) must be below the election timeout's low end; got range {tuple(t)}")
        ranges.append((tuple(t), _options({**options, "timing": timing}).setup))
    if not ranges:
        raise ValueError("give at least one election timeout range (low, high) in ms, e.g. [(150, 300)]")
    cells = [(n, t, seed, setup) for t, setup in ranges for n in sizes]
    return _run_trials(_recovery_task, cells, trials, opts, "time to recover")


ETCD_LAB_TIMING = Timing(election_timeout=(500, 1000), heartbeat=50)
"""The timing of the real-etcd lab (``--heartbeat-interval 50 --election-timeout 500``; etcd randomizes each
election timeout between 1x and 2x the setting)."""


def rejoin_trial(*, pre_vote: bool, seed: int = 0, isolate_ms: int = 3000, settle_ms: int = 2000, n: int = 3,
                 timing: Timing = ETCD_LAB_TIMING, network: Network = Network(delay=(1, 2))) -> dict[str, Any]:
    """Lesson 04's disruptive rejoin in the simulator, as :func:`raftedu.etcd.rejoin_trial` runs it on real etcd.

    A leader is elected and commits an entry; one follower is isolated for
    ``isolate_ms``, the network healed, ``settle_ms`` pass and a client
    writes. Same columns as the etcd version, ``backend="simulator"``;
    ``disrupted`` means the leader changed or the term rose.
    """
    c = Cluster(n, seed=seed, timing=timing, network=network, pre_vote=pre_vote)
    if not c.run_until(lambda c: c.leader() is not None, within=20 * timing.election_timeout[1]):
        raise RuntimeError(f"no leader in the simulator (seed {seed})")
    leader = c.leader()
    c.request("before")
    c.run(500)
    term_before = c.nodes[leader].current_term
    lonely = next(i for i in c.ids if i != leader)
    c.isolate(lonely)
    c.run(isolate_ms)
    isolated_term = c.nodes[lonely].current_term
    c.heal()
    c.run(settle_ms)
    request = c.request("after")
    if not c.run_until(lambda c: request.status == "committed", within=20 * timing.election_timeout[1]):
        raise RuntimeError(f"the write after healing did not commit in the simulator (seed {seed})")
    after = c.leader()
    return {"backend": "simulator", "pre_vote": pre_vote, "leader_before": leader, "isolated": lonely,
            "term_before": term_before, "isolated_term": isolated_term, "leader_after": after,
            "term_after": c.nodes[after].current_term, "disrupted": after != leader or c.nodes[after].current_term > term_before}


def minority_leader_trial(*, check_quorum: bool, seed: int = 0, isolate_ms: int = 3000, n: int = 3,
                          timing: Timing = ETCD_LAB_TIMING, network: Network = Network(delay=(1, 2))) -> dict[str, Any]:
    """Lesson 07's leader cut off in a minority, as :func:`raftedu.etcd.minority_leader_trial` runs it on real etcd.

    A leader is elected and commits an entry, then it is cut off from every
    other server for ``isolate_ms``. Same columns as the etcd version,
    ``backend="simulator"``: ``stepped_down`` / ``stepped_down_ms`` (its first
    step-down after the cut; with ``check_quorum`` the rule of dissertation
    §6.2), ``new_leader`` (first leader the others elect), ``leaders_at_end``
    (servers that believe they lead when the cut ends).
    """
    c = Cluster(n, seed=seed, timing=timing, network=network, check_quorum=check_quorum)
    if not c.run_until(lambda c: c.leader() is not None, within=20 * timing.election_timeout[1]):
        raise RuntimeError(f"no leader in the simulator (seed {seed})")
    old = c.leader()
    request = c.request("before")
    if not c.run_until(lambda c: request.status == "committed", within=20 * timing.election_timeout[1]):
        raise RuntimeError(f"the first write did not commit in the simulator (seed {seed})")
    c.isolate(old)
    cut, seen = c.now, len(c.trace)
    c.run(isolate_ms)
    later = c.trace[seen:]
    down = next((e.time for e in later if e.kind == "stepdown" and e.node == old), None)
    new_leader = next((e.node for e in later if e.kind == "role" and e.node != old and e.value == LEADER),
                      None)
    return {"backend": "simulator", "check_quorum": check_quorum, "old_leader": old, "stepped_down": down is not None,
            "stepped_down_ms": float("nan") if down is None else float(down - cut), "new_leader": new_leader,
            "leaders_at_end": sum(c.nodes[i].role == LEADER for i in c.up())}


def catch_up_trial(lag: int, *, snapshot_every: int = 100, snapshot_tail: int = 5000, seed: int = 0, n: int = 3,
                   timing: Timing = ETCD_LAB_TIMING, network: Network = Network(delay=(1, 2))) -> dict[str, Any]:
    """A follower down while ``lag`` entries commit comes back: entries, or a snapshot? As :func:`raftedu.etcd.catch_up_trial`.

    Every server snapshots every ``snapshot_every`` applied entries and keeps
    the last ``snapshot_tail`` entries behind its snapshot (etcd: 5,000) for
    followers a little behind (dissertation §5.1). One follower crashes,
    ``lag`` client requests commit, it restarts and catches up. Same columns as
    the etcd version, ``backend="simulator"``: ``behind``, ``missed_from``,
    the leader's ``snapshot_index`` and ``first_kept``, ``snapshots_sent``
    (InstallSnapshot messages to the follower), ``caught_up_s`` (simulated)
    and ``same_state`` (its state machine equals the leader's).
    """
    if isinstance(lag, bool) or not isinstance(lag, int) or not 0 <= lag <= 50_000:
        raise ValueError(f"lag must be a whole number of requests from 0 to 50,000; got {lag!r}")
    c = Cluster(n, seed=seed, timing=timing, network=network, snapshot_every=snapshot_every,
                snapshot_tail=snapshot_tail)
    within = 20 * timing.election_timeout[1]
    first = None
    if c.run_until(lambda c: c.leader() is not None, within=within):
        first = c.request("before")
    leader = c.leader()
    if first is None or not c.run_until(lambda c: first.status == "committed", within=within):
        raise RuntimeError(f"no leader committed a first entry in the simulator (seed {seed})")
    down = next(i for i in c.ids if i != leader)
    c.run_until(lambda c: c.nodes[down].commit_index == c.nodes[leader].commit_index, within=within)
    had = c.nodes[down].commit_index
    c.crash(down)
    requests = [c.request(f"w{j}", node=leader) for j in range(lag)]
    if not c.run_until(lambda c: all(r.status == "committed" for r in requests), within=within + 10 * lag):
        raise RuntimeError(f"the {lag} requests did not all commit in the simulator (seed {seed})")
    target, ahead = c.nodes[leader].commit_index, c.nodes[leader]
    snapshot_index, first_kept = ahead.snapshot_index, ahead.log_offset + 1
    c.restart(down)
    start, seen = c.now, len(c.trace)
    if not c.run_until(lambda c: c.nodes[down].last_applied >= target, within=within + 10 * lag):
        raise RuntimeError(f"S{down} did not catch up in the simulator (seed {seed})")
    sent = sum(e.kind == "send" and isinstance(e.msg, InstallSnapshot) and e.msg.dst == down for e in c.trace[seen:])
    return {"backend": "simulator", "lag": lag, "behind": target - had, "missed_from": had + 1,
            "snapshot_every": snapshot_every, "snapshot_index": snapshot_index, "first_kept": first_kept,
            "snapshots_sent": sent, "caught_up_s": (c.now - start) / 1000,
            "same_state": c.nodes[down].applied == c.nodes[leader].applied}

