"""Randomized safety sweep: many seeds, cluster sizes 1-7, crashes, partitions, loss, duplication, long delays.

Each seed builds a random fault schedule (as data, so any failing run can be
replayed exactly), runs it with the safety checks on, then heals the network,
restarts every node and checks that the cluster commits one more request
(liveness once the faults stop).

Run a long sweep from the shell::

    python -m raftedu.sweep --seeds 1000 --sizes 1-7 --workers 2

``--features all`` switches on etcd's extensions (pre-vote, check-quorum,
snapshots every K applied entries with K drawn per seed) and adds leadership
transfers, membership changes (add a learner, promote, remove) and snapshots
taken on demand to the random schedule, with the extensions' known failure
situations (:func:`extension_situation`); removed servers keep running a
while (:func:`retire_after`)::

    python -m raftedu.sweep --features all --seeds 1000 --sizes 3,5 --workers 2

``--scheduler tcp://HOST:8786`` runs the seeds on a Dask cluster instead (``pip install 'raftedu[dask]'``).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .checks import SafetyViolation
from .pools import map_on, process_pool
from .raft import LEADER, InstallSnapshot, RaftNode
from .sim import MAX_NODES, Cluster, Network

__all__ = ["SeedResult", "FEATURES", "SNAPSHOT_EVERY", "snapshot_every", "SNAPSHOT_TAIL", "snapshot_tail", "LivenessComparison", "LIVENESS_LIMITS", "compare_liveness", "random_schedule",
           "extension_action", "extension_situation", "CLOCK_RATES", "clock_faults", "RETIRE_AFTER", "retire_after", "recover", "run_seed", "sweep", "sweep_pairs", "main"]

HORIZON = 6_000
"""Virtual milliseconds of faults per run."""
SETTLE = 10_000
"""Virtual milliseconds allowed for the final request to commit once faults stop."""

FEATURES = ("none", "all", "clocks")
"""``none``: Figure 2 only; ``all``: pre-vote, check-quorum, snapshots, transfers and membership changes too;
``clocks``: ``all``'s runs with clock drift and process pauses added (:func:`clock_faults`)."""
CLOCK_RATES = (0.5, 0.8, 0.9, 1.1, 1.25, 2)
"""Clock rates :func:`clock_faults` draws (a clock at 0.5 runs at half speed)."""
SNAPSHOT_EVERY = (1, 2, 3, 5, 8)
RETIRE_AFTER = (0, 0, 500, 2_000, 10_000)
"""With ``features="all"`` a removed server keeps running this many ms after its removal commits (drawn per seed,
:func:`retire_after`): like a real one until it learns of it, it may time out and disrupt (dissertation §4.2.3)."""
SNAPSHOT_TAIL = (0, 0, 1, 3)
"""Entries kept behind each snapshot in ``features="all"`` runs (half the seeds keep none, as the dissertation)."""
"""With ``features="all"`` each seed's nodes snapshot every K applied entries, K drawn from these (dissertation §5.1)."""

CHAOS = Network(delay=(1, 30), drop_rate=0.1, duplicate_rate=0.05, long_delay_rate=0.05, long_delay=(100, 800))


@dataclass(frozen=True)
class SeedResult:
    """Outcome of one seed: safety (``violation`` is None when safe), liveness and size of the run.

    The timings say how fast the run was: ``first_leader_ms`` (virtual ms to
    the first leader, None if none), ``first_leader_term`` (how many terms
    that first election took) and ``recovery_ms`` (from the moment the faults
    stop to the commit of the final request; None when it did not commit).
    """

    n: int
    seed: int
    events: int
    committed: int
    live: bool
    violation: str | None = None
    first_leader_ms: int | None = None
    first_leader_term: int | None = None
    recovery_ms: int | None = None
    installs: int = 0
    """InstallSnapshot messages sent (dissertation §5.1): how often a follower was caught up from a snapshot."""


def _check_size_seed(n: Any, seed: Any) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_NODES:
        raise ValueError(f"cluster size must be a whole number from 1 to {MAX_NODES}; got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer; got {seed!r}")


def random_schedule(n: int, seed: int, horizon: int = HORIZON, features: str = "none", *,
                    stale: bool = True) -> list[tuple[Any, ...]]:
    """A reproducible random fault schedule for an ``n``-node cluster.

    It mixes bursts of client requests, leader crashes, crashes of nodes it
    knows are up (never all of them), restarts, random partitions (often one
    node cut off just before requests arrive, which strands entries on an
    old leader), one-way link cuts, heals and changes of loss and delay.
    With ``features="all"`` about one step in six is instead an etcd
    operation (:func:`extension_action`). With ``stale`` (the default; Figure 2
    runs only) it also draws, from a second random stream, restarts between
    two votes of one term and slow spells around a leader crash, so that old
    replies and votes arrive after new elections.
    """
    if features not in FEATURES:
        raise ValueError(f"features must be one of {', '.join(FEATURES)}; got {features!r}")
    _check_size_seed(n, seed)
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 0:
        raise ValueError(f"horizon must be whole milliseconds >= 0; got {horizon!r}")
    stale = stale and features == "none"
    rng = random.Random(f"raftedu-sweep:{n}:{seed}")
    extra = random.Random(f"raftedu-sweep-stale:{n}:{seed}")  # a second stream: the items above it stay as they were
    ext_rng = random.Random(f"raftedu-sweep-ext:{n}:{seed}") if features != "none" else None
    sit_rng = random.Random(f"raftedu-sweep-situations:{n}:{seed}") if features != "none" else None
    added = 0
    ids = list(range(1, n + 1))
    down: set[int] = set()
    certain = True  # False after crash_leader: the generator no longer knows who is up
    slow_rate = CHAOS.long_delay_rate
    schedule: list[tuple[Any, ...]] = []
    t, k = 0, 0

    def requests(count: int) -> None:
        nonlocal k
        for _ in range(count):
            k += 1
            schedule.append((t, "request", f"r{k}"))

    def stale_messages() -> None:
        """Stale messages across elections (issue 17), in the 20 ms before the next item can come.

        A restart between two votes of one term: a node up for sure crashes
        and comes back a few ms later. Or a slow spell: most messages sent
        in the next 10-19 ms take 100-800 ms, and the leader crashes, so
        AppendEntries replies and votes of the old term arrive after a new
        election, possibly at a re-elected old leader.
        """
        nonlocal certain
        roll = extra.random()
        if roll < 0.08 and certain:
            victim = extra.choice([i for i in ids if i not in down])
            back = t + 1 + extra.randrange(1, 15)
            schedule.extend([(t + 1, "crash", victim), (back, "restart", victim)])
        elif roll < 0.14:
            schedule.extend([(t + 1, "set_network", {"long_delay_rate": 0.6}), (t + 2, "crash_leader"),
                             (t + 2 + extra.randrange(8, 17), "set_network", {"long_delay_rate": slow_rate})])
            certain = False

    while True:
        t += rng.randrange(20, 250)
        if t >= horizon:
            clocks = clock_faults(n, seed, horizon) if features == "clocks" else []
            return sorted(schedule + clocks, key=lambda item: item[0])
        if ext_rng is not None and ext_rng.random() < 1 / 6:
            action = extension_action(ext_rng, n, added)
            added += action[0] == "add_server"
            schedule.append((t, *action))
            continue
        if sit_rng is not None and sit_rng.random() < 0.08 and t + 500 < horizon:
            items = extension_situation(sit_rng, t, n, added, slow_rate)
            added += sum(item[1] == "add_server" for item in items)
            if any(item[1] == "restart_all" for item in items):
                down, certain = set(), True
            else:
                certain = certain and all(item[1] != "crash_leader" for item in items)
            schedule.extend(items)
            continue
        roll = rng.random()
        if roll < 0.35:
            requests(rng.randrange(1, 4))
        elif roll < 0.43:
            schedule.append((t, "crash_leader"))
            certain = False
        elif roll < 0.5 and certain and len(down) < n - 1:
            victim = rng.choice([i for i in ids if i not in down])
            down.add(victim)
            schedule.append((t, "crash", victim))
        elif roll < 0.55 and down:
            back = rng.choice(sorted(down))
            down.discard(back)
            schedule.append((t, "restart", back))
        elif roll < 0.6:
            schedule.append((t, "restart_all"))
            down, certain = set(), True
        elif roll < 0.68 and n > 1:
            schedule.append((t, "isolate", rng.choice(ids)))
            requests(rng.randrange(1, 3))
        elif roll < 0.75 and n > 1:
            shuffled = rng.sample(ids, n)
            schedule.append((t, "partition", shuffled[: rng.randrange(1, n)]))
        elif roll < 0.8 and n > 1:
            src, dst = rng.sample(ids, 2)
            schedule.append((t, "cut", src, dst))
        elif roll < 0.9:
            schedule.append((t, "heal"))
        else:
            drop = rng.choice([0.0, 0.05, 0.2, 0.4])
            slow_rate = rng.choice([0.0, 0.05, 0.2])
            schedule.append((t, "set_network", {"drop_rate": drop, "long_delay_rate": slow_rate}))
        if stale and t + 20 <= horizon:
            stale_messages()


def extension_action(rng: random.Random, n: int, added: int) -> tuple[Any, ...]:
    """One random etcd operation for a cluster that started with ``n`` servers and was asked to add ``added``:
    a leadership transfer (dissertation §3.10), adding a learner, promoting or removing a server (dissertation
    §4.1), a snapshot taken now (dissertation §5.1). Targets are drawn blind; whatever the cluster cannot do at that moment is refused and noted in
    the trace."""
    ids = n + added
    roll = rng.random()
    if roll < 0.25:
        return ("transfer_leadership", rng.randint(1, ids))
    if roll < 0.45 and ids < n + 3:
        return ("add_server",)
    if roll < 0.65 and added:
        return ("promote", rng.randint(n + 1, ids))
    if roll < 0.8:
        return ("snapshot", rng.randint(1, ids))
    return ("remove_server", rng.randint(1, ids))


def extension_situation(rng: random.Random, t: int, n: int, added: int, slow_rate: float) -> list[tuple[Any, ...]]:
    """One of the extensions' known failure situations (issue 25) as schedule items from ``t`` on, for a cluster that
    started with ``n`` servers and was asked to add ``added`` (``slow_rate``: the long-delay rate to go back to):

    * a new leader asked at once to change the configuration (Ongaro's 2015 single-server change bug: it must
      commit an entry of its term first);
    * a transfer whose TimeoutNow is delivered twice (the second copy is stale, §3.10);
    * a transfer while most messages take long: the old leader's AppendEntries and TimeoutNow arrive late (a lease
      renewed only by the current leader, §4.2.3; a stale TimeoutNow);
    * one voter cut off with every learner: when it leads, check-quorum must not count them (§6.2, §4.2.1);
    * a server cut off and removed; when it leads, it appends its own removal alone, crashes and restarts with the
      removal pending in its log: with two voters the other one needs its vote, so it must campaign (§4.2.2).
    """
    ids = n + added
    roll = rng.random()
    if roll < 0.25:
        op = rng.choice([("add_server",), ("remove_server", rng.randint(1, ids)), ("promote", rng.randint(1, ids))])
        return [(t, "crash_leader"), (t + rng.randrange(150, 450), *op)]
    if roll < 0.45:
        return [(t, "set_network", {"duplicate_rate": 1.0}), (t, "transfer_leadership", rng.randint(1, ids)),
                (t + 1, "set_network", {"duplicate_rate": CHAOS.duplicate_rate})]
    if roll < 0.65:
        return [(t, "set_network", {"long_delay_rate": 0.6}), (t + 1, "transfer_leadership", rng.randint(1, ids)),
                (t + 1 + rng.randrange(5, 20), "set_network", {"long_delay_rate": slow_rate})]
    if roll < 0.8:
        alone = rng.randint(1, n)
        return [(t, "partition", [i for i in range(1, n + 1) if i != alone])] if n > 1 else []
    gone = rng.randint(1, ids)
    return [(t, "isolate", gone), (t + 1, "remove_server", gone), (t + 5, "crash_leader"), (t + 10, "restart_all"),
            (t + 10, "heal")] if gone <= n else []


def clock_faults(n: int, seed: int, horizon: int = HORIZON) -> list[tuple[Any, ...]]:
    """Clock drift and process pauses for ``features="clocks"`` (a stream of their own, so the rest of the schedule is
    ``all``'s): one or two servers' clocks run at a rate from :data:`CLOCK_RATES` from the start, and one to four
    pauses of 20-799 ms hit random servers (a pause of a server that is down or already paused is refused: a note).
    Check-quorum and its lease are then timed on drifting and stopping clocks; safety must not care (§5.6)."""
    rng = random.Random(f"raftedu-sweep-clocks:{n}:{seed}")
    items: list[tuple[Any, ...]] = [(0, "set_clock_rate", i, rng.choice(CLOCK_RATES))
                                    for i in rng.sample(range(1, n + 1), min(n, rng.randint(1, 2)))]
    for _ in range(rng.randint(1, 4)):
        items.append((rng.randrange(horizon), "pause", rng.randint(1, n), rng.randrange(20, 800)))
    return items


def retire_after(n: int, seed: int) -> int:
    """R for ``features="all"``: a removed server of seed ``seed`` keeps running R ms (a stream of its own)."""
    return random.Random(f"raftedu-sweep-retire:{n}:{seed}").choice(RETIRE_AFTER)


def snapshot_every(n: int, seed: int) -> int:
    """K for ``features="all"``: the nodes of seed ``seed`` snapshot every K applied entries (a stream of its own)."""
    return random.Random(f"raftedu-sweep-snapshot:{n}:{seed}").choice(SNAPSHOT_EVERY)


def snapshot_tail(n: int, seed: int) -> int:
    """T for ``features="all"``: the nodes of seed ``seed`` keep T entries behind each snapshot (a stream of its own,
    so :func:`snapshot_every` draws the same K as before tails existed)."""
    return random.Random(f"raftedu-sweep-snapshot-tail:{n}:{seed}").choice(SNAPSHOT_TAIL)


def run_seed(n: int, seed: int, horizon: int = HORIZON, node_class: type[RaftNode] = RaftNode,
             features: str = "none") -> SeedResult:
    """Run one random schedule on an ``n``-node cluster of ``node_class`` and report safety, liveness and timings.

    ``features="all"`` runs every node with pre-vote, check-quorum and snapshots (:func:`snapshot_every`,
    :func:`snapshot_tail`), keeps removed servers running a while (:func:`retire_after`), and draws etcd's
    operations and the extensions' failure situations into the schedule (:func:`extension_situation`).
    A :class:`~raftedu.checks.NodeFailure` (the node raised an exception) is
    reported like a violation, with the property "Node failure".
    """
    on = features != "none"
    cluster = Cluster(n, seed=seed, network=CHAOS, schedule=random_schedule(n, seed, horizon, features),
                      node_class=node_class, up_to_date_check=True, pre_vote=on,
                      check_quorum=on, snapshot_every=snapshot_every(n, seed) if on else None,
                      snapshot_tail=snapshot_tail(n, seed) if on else 0, retire_after=retire_after(n, seed) if on else 0)
    recovery: int | str | None = None
    try:
        cluster.run(horizon)
        recovery = recover(cluster, timed=True)
    except SafetyViolation as violation:
        return SeedResult(n, seed, len(cluster.trace), _committed(cluster), False, str(violation),
                          *_first_leader(cluster))
    live = isinstance(recovery, int)
    installs = sum(1 for e in cluster.trace.of_kind("send") if type(e.msg) is InstallSnapshot) if on else 0
    return SeedResult(n, seed, len(cluster.trace), _committed(cluster), live, None, *_first_leader(cluster),
                      recovery if live else None, installs)  # type: ignore[arg-type]


def _first_leader(cluster: Cluster) -> tuple[int | None, int | None]:
    for e in cluster.trace.of_kind("role"):
        if e.value == LEADER:
            return e.time, e.term
    return None, None


def _committed(cluster: Cluster) -> int:
    return sum(r.status == "committed" for r in cluster.requests)


def recover(cluster: Cluster, within: int = SETTLE, *, timed: bool = False) -> str | int | None:
    """Stop the faults (heal, reliable network, restart every node) and require one more request to commit.

    A client retries as a real one would. Returns None once a request
    commits within ``within`` ms (with ``timed``: how many ms that took),
    else a sentence saying what went wrong.
    """
    cluster.heal()
    cluster.set_network(drop_rate=0.0, duplicate_rate=0.0, long_delay_rate=0.0)
    cluster.restart_all()
    start, attempts = cluster.now, []
    end = start + within
    while cluster.now < end:
        if not cluster.run_until(lambda c: c.leader() is not None, end - cluster.now):
            break
        req = cluster.request(f"final{len(attempts)}")
        cluster.run_until(lambda c: req.status != "pending" or c.nodes[req.node] is None
                          or c.nodes[req.node].role != "leader", end - cluster.now)
        if req.status == "committed":
            return (req.replied or cluster.now) - start if timed else None
        attempts.append(f"S{req.node}: {req.status}")
        if req.status == "rejected":  # e.g. a leader handing over (§3.10): retry a little later
            cluster.run(min(50, max(0, end - cluster.now)))
    return (f"after the faults stopped (t={start} ms) the cluster did not commit a client request within {within} ms "
            f"({'; '.join(attempts) or 'no leader was elected'})")


def _p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank) of ``values`` (NaN when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)])


@dataclass(frozen=True)
class LivenessComparison:
    """How fast a node class elects and recovers, next to the reference on the same seeds.

    ``metrics`` maps each measure to ``(candidate, reference, limit)``: the
    candidate is flagged ``slower`` on a measure when its value exceeds the
    limit, which is derived from the reference's value. ``runs`` counts the
    (size, seed) pairs compared (pairs where either run broke a safety
    property are left out: the safety checks judge those).
    """

    runs: int
    metrics: dict[str, tuple[float, float, float]]
    slower: list[str]

    @property
    def flagged(self) -> bool:
        """True when the candidate is much slower than the reference on some measure."""
        return bool(self.slower)


LIVENESS_LIMITS = {
    "mean recovery (ms)": (1.4, 20.0),
    "95th-percentile recovery (ms)": (1.5, 50.0),
    "95th-percentile first election (ms)": (2.0, 200.0),
    "mean terms of the first election": (1.5, 0.25),
}
"""Per measure: the candidate is flagged when it exceeds ``factor * reference + slack``.

Chosen from measurements: correct nodes that only draw their timeouts
differently stay within about 15 % of the reference on recovery; a node that
resets its timer on refused RequestVotes takes 1.7-1.9 times as long."""


def compare_liveness(node_class: type[RaftNode], sizes: Iterable[int] = (3, 5), seeds: Iterable[int] = range(30),
                     reference: type[RaftNode] = RaftNode, workers: int = 1, executor: Any = None) -> LivenessComparison:
    """Run the sweep's schedules for ``node_class`` and ``reference`` on the same seeds and compare their speed.

    A node that is safe but much slower -- elections that take more terms or
    more time, recoveries that take longer once the faults stop -- is
    flagged (see :data:`LIVENESS_LIMITS`). A run that did not recover counts
    as taking the whole settle time (:data:`SETTLE`). ``executor`` as in :func:`sweep_pairs`.
    """
    pairs = [(n, s) for n in sizes for s in seeds]
    mine = sweep_pairs(pairs, node_class, workers, executor)
    theirs = sweep_pairs(pairs, reference, workers, executor)
    both = [(a, b) for a, b in zip(mine, theirs) if a.violation is None and b.violation is None]

    def measures(results: list[SeedResult]) -> dict[str, float]:
        recovery = [float(r.recovery_ms if r.recovery_ms is not None else SETTLE) for r in results]
        elected = [float(r.first_leader_ms if r.first_leader_ms is not None else HORIZON) for r in results]
        terms = [float(r.first_leader_term or 0) for r in results if r.first_leader_term is not None]
        return {"mean recovery (ms)": sum(recovery) / len(recovery) if recovery else float("nan"),
                "95th-percentile recovery (ms)": _p95(recovery), "95th-percentile first election (ms)": _p95(elected),
                "mean terms of the first election": sum(terms) / len(terms) if terms else float("nan")}

    cand, ref = measures([a for a, _ in both]), measures([b for _, b in both])
    metrics, slower = {}, []
    for name, (factor, slack) in LIVENESS_LIMITS.items():
        limit = factor * ref[name] + slack
        metrics[name] = (cand[name], ref[name], limit)
        if cand[name] > limit:
            slower.append(f"{name}: {cand[name]:.1f} against the reference's {ref[name]:.1f} (limit {limit:.1f})")
    return LivenessComparison(len(both), metrics, slower)


def sweep_pairs(pairs: list[tuple[int, int]], node_class: type[RaftNode] = RaftNode, workers: int = 1,
                executor: Any = None) -> list[SeedResult]:
    """Run :func:`run_seed` for each ``(n, seed)`` pair with ``node_class``, in ``workers`` processes, in order.

    ``executor`` (a :mod:`concurrent.futures` executor or a Dask ``distributed.Client``) runs them there instead,
    with the same results."""
    if executor is not None:
        return list(map_on(executor, _run_seed_of, [(n, s, node_class) for n, s in pairs]))
    pool, note = process_pool(workers, node_class) if workers > 1 else (None, "")
    if pool is None:
        if note:
            print(f"note: {note}", file=sys.stderr)
        return [run_seed(n, s, node_class=node_class) for n, s in pairs]
    with pool:
        return list(pool.map(_run_seed_of, [(n, s, node_class) for n, s in pairs], chunksize=8))


def _run_seed_of(args: tuple[int, int, type[RaftNode]]) -> SeedResult:
    n, s, node_class = args
    return run_seed(n, s, node_class=node_class)


def _run_pair(args: tuple[int, int, str]) -> SeedResult:
    n, seed, features = args
    return run_seed(n, seed, features=features)


def sweep(sizes: Iterable[int], seeds: Iterable[int], workers: int = 1, progress: bool = True,
          features: str = "none", executor: Any = None) -> list[SeedResult]:
    """Run every (size, seed) pair, in ``workers`` processes, with a progress bar; return the results in order.

    ``executor`` (a :mod:`concurrent.futures` executor or a Dask ``distributed.Client``) runs them there instead
    of in ``workers`` processes, with the same results."""
    from tqdm.auto import tqdm

    pairs = [(n, s, features) for n in sizes for s in seeds]
    bar = tqdm(total=len(pairs), desc="safety sweep", unit="run", disable=not progress, file=sys.stdout)
    results: list[SeedResult] = []
    if executor is not None:
        for result in map_on(executor, _run_pair, pairs):
            results.append(result)
            bar.update()
        bar.close()
        return results
    pool, note = process_pool(workers) if workers > 1 else (None, "")
    if note and pool is None:
        bar.write(f"note: {note}", file=sys.stdout)
    if pool is not None:
        with pool:
            for result in pool.map(_run_pair, pairs, chunksize=8):
                results.append(result)
                bar.update()
    else:
        for pair in pairs:
            results.append(_run_pair(pair))
            bar.update()
    bar.close()
    return results


def _sizes(text: str) -> list[int]:
    if "-" in text:
        lo, hi = (int(v) for v in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(v) for v in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    """Command line: run the sweep, print a table per cluster size; exit 1 on any violation or liveness failure."""
    parser = argparse.ArgumentParser(prog="python -m raftedu.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100, help="seeds per cluster size (default 100)")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--sizes", type=_sizes, default=list(range(1, 8)), help="e.g. 1-7 or 3,5 (default 1-7)")
    parser.add_argument("--workers", type=int, default=1, help="processes to use (default 1)")
    parser.add_argument("--features", choices=FEATURES, default="none",
                        help="all: pre-vote, check-quorum, leadership transfers and membership changes too; "
                             "clocks: all, with clock drift and process pauses")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="run on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://10.0.0.5:8786; "
                             "needs raftedu[dask] here and raftedu on every worker) instead of --workers processes")
    parser.add_argument("--connect-timeout", metavar="SECONDS", type=float, default=30.0,
                        help="how long to wait for the --scheduler to answer (default 30)")
    args = parser.parse_args(argv)
    client = _dask_client(parser, args.scheduler, args.connect_timeout) if args.scheduler else None
    start = time.perf_counter()
    try:
        results = sweep(args.sizes, range(args.first_seed, args.first_seed + args.seeds), args.workers,
                        features=args.features, executor=client)
    finally:
        if client is not None:
            client.close()
    wall = time.perf_counter() - start
    print(f"\n{'N':>3} {'seeds':>6} {'violations':>10} {'node failures':>13} {'not live':>8} {'events':>10} "
          f"{'committed':>9}" + (f" {'snapshots installed':>19}" if args.features != "none" else ""))
    for n in args.sizes:
        rows = [r for r in results if r.n == n]
        failed = sum(bool(r.violation and r.violation.startswith("Node failure")) for r in rows)
        print(f"{n:>3} {len(rows):>6} {sum(r.violation is not None for r in rows) - failed:>10} {failed:>13} "
              f"{sum(not r.live for r in rows):>8} {sum(r.events for r in rows):>10} {sum(r.committed for r in rows):>9}"
              + (f" {sum(r.installs for r in rows):>19}" if args.features != "none" else ""))
    where = f"Dask scheduler {args.scheduler}" if args.scheduler else f"{args.workers} worker(s)"
    print(f"{len(results)} runs in {wall:.1f} s wall ({1000 * wall / max(1, len(results)):.1f} ms per run, {where})")
    bad = [r for r in results if r.violation or not r.live]
    for r in bad[:10]:
        print(f"\nN={r.n} seed={r.seed}: {r.violation or 'did not commit a request within 10 s after the faults stopped'}")
    return 1 if bad else 0


def _dask_client(parser: argparse.ArgumentParser, address: str, timeout: float = 30.0) -> Any:
    """A Dask client of the scheduler at ``address`` (waiting ``timeout`` seconds for it), or the parser's error saying
    what is missing or wrong."""
    try:
        from distributed import Client
    except ImportError:
        parser.error("--scheduler needs Dask's distributed package: pip install 'raftedu[dask]'")
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as e:
        parser.error(f"--scheduler {address}: no Dask scheduler answered there within {timeout:g} s ({e})")


if __name__ == "__main__":
    sys.exit(main())
