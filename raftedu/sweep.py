"""Randomized safety sweep: many seeds, cluster sizes 1-7, crashes, partitions, loss, duplication, long delays.

Each seed builds a random fault schedule (as data, so any failing run can be
replayed exactly), runs it with the safety checks on, then heals the network,
restarts every node and checks that the cluster commits one more request
(liveness once the faults stop).

Run a long sweep from the shell::

    python -m raftedu.sweep --seeds 1000 --sizes 1-7 --workers 2

``--features all`` switches on etcd's extensions (pre-vote, check-quorum) and
adds leadership transfers and membership changes (add a learner, promote,
remove) to the random schedule::

    python -m raftedu.sweep --features all --seeds 1000 --sizes 3,5 --workers 2
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from .checks import SafetyViolation
from .raft import RaftNode
from .sim import Cluster, Network

__all__ = ["SeedResult", "FEATURES", "random_schedule", "extension_action", "recover", "run_seed", "sweep", "main"]

HORIZON = 6_000
"""Virtual milliseconds of faults per run."""
SETTLE = 10_000
"""Virtual milliseconds allowed for the final request to commit once faults stop."""

FEATURES = ("none", "all")
"""``none``: Figure 2 only; ``all``: pre-vote, check-quorum, transfers and membership changes too."""

CHAOS = Network(delay=(1, 30), drop_rate=0.1, duplicate_rate=0.05, long_delay_rate=0.05, long_delay=(100, 800))


@dataclass(frozen=True)
class SeedResult:
    """Outcome of one seed: safety (``violation`` is None when safe), liveness and size of the run."""

    n: int
    seed: int
    events: int
    committed: int
    live: bool
    violation: str | None = None


def random_schedule(n: int, seed: int, horizon: int = HORIZON, features: str = "none") -> list[tuple[Any, ...]]:
    """A reproducible random fault schedule for an ``n``-node cluster.

    It mixes bursts of client requests, leader crashes, crashes of nodes it
    knows are up (never all of them), restarts, random partitions (often one
    node cut off just before requests arrive, which strands entries on an
    old leader), one-way link cuts, heals and changes of loss and delay.
    With ``features="all"`` about one step in six is instead an etcd
    operation (:func:`extension_action`).
    """
    if features not in FEATURES:
        raise ValueError(f"features must be one of {', '.join(FEATURES)}; got {features!r}")
    rng = random.Random(f"raftedu-sweep:{n}:{seed}")
    ext_rng = random.Random(f"raftedu-sweep-ext:{n}:{seed}") if features == "all" else None
    added = 0
    ids = list(range(1, n + 1))
    down: set[int] = set()
    certain = True  # False after crash_leader: the generator no longer knows who is up
    schedule: list[tuple[Any, ...]] = []
    t, k = 0, 0

    def requests(count: int) -> None:
        nonlocal k
        for _ in range(count):
            k += 1
            schedule.append((t, "request", f"r{k}"))

    while True:
        t += rng.randrange(20, 250)
        if t >= horizon:
            return schedule
        if ext_rng is not None and ext_rng.random() < 1 / 6:
            action = extension_action(ext_rng, n, added)
            added += action[0] == "add_server"
            schedule.append((t, *action))
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
            schedule.append((t, "set_network", {"drop_rate": rng.choice([0.0, 0.05, 0.2, 0.4]),
                                                 "long_delay_rate": rng.choice([0.0, 0.05, 0.2])}))


def extension_action(rng: random.Random, n: int, added: int) -> tuple[Any, ...]:
    """One random etcd operation for a cluster that started with ``n`` servers and was asked to add ``added``:
    a leadership transfer (§3.10), adding a learner, promoting or removing a server (§4.1). Targets are drawn
    blind; whatever the cluster cannot do at that moment is refused and noted in the trace."""
    ids = n + added
    roll = rng.random()
    if roll < 0.3:
        return ("transfer_leadership", rng.randint(1, ids))
    if roll < 0.55 and ids < n + 3:
        return ("add_server",)
    if roll < 0.8 and added:
        return ("promote", rng.randint(n + 1, ids))
    return ("remove_server", rng.randint(1, ids))


def run_seed(n: int, seed: int, horizon: int = HORIZON, node_class: type[RaftNode] = RaftNode,
             features: str = "none") -> SeedResult:
    """Run one random schedule on an ``n``-node cluster of ``node_class`` and report safety and liveness.

    ``features="all"`` runs every node with pre-vote and check-quorum and the schedule with etcd's operations.
    """
    on = features == "all"
    cluster = Cluster(n, seed=seed, network=CHAOS, schedule=random_schedule(n, seed, horizon, features),
                      node_class=node_class, up_to_date_check=True, pre_vote=on,
                      check_quorum=on)
    try:
        cluster.run(horizon)
        failure = recover(cluster)
    except SafetyViolation as violation:
        return SeedResult(n, seed, len(cluster.trace), _committed(cluster), False, str(violation))
    return SeedResult(n, seed, len(cluster.trace), _committed(cluster), failure is None)


def _committed(cluster: Cluster) -> int:
    return sum(r.status == "committed" for r in cluster.requests)


def recover(cluster: Cluster, within: int = SETTLE) -> str | None:
    """Stop the faults (heal, reliable network, restart every node) and require one more request to commit.

    A client retries as a real one would. Returns None once a request
    commits within ``within`` ms, else a sentence saying what went wrong.
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
            return None
        attempts.append(f"S{req.node}: {req.status}")
        if req.status == "rejected":  # e.g. a leader handing over (§3.10): retry a little later
            cluster.run(min(50, max(0, end - cluster.now)))
    return (f"after the faults stopped (t={start} ms) the cluster did not commit a client request within {within} ms "
            f"({'; '.join(attempts) or 'no leader was elected'})")


def _run_pair(args: tuple[int, int, str]) -> SeedResult:
    n, seed, features = args
    return run_seed(n, seed, features=features)


def sweep(sizes: Iterable[int], seeds: Iterable[int], workers: int = 1, progress: bool = True,
          features: str = "none") -> list[SeedResult]:
    """Run every (size, seed) pair, in ``workers`` processes, with a progress bar; return the results in order."""
    from tqdm.auto import tqdm

    pairs = [(n, s, features) for n in sizes for s in seeds]
    bar = tqdm(total=len(pairs), desc="safety sweep", unit="run", disable=not progress, file=sys.stdout)
    results: list[SeedResult] = []
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
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
                        help="all: pre-vote, check-quorum, leadership transfers and membership changes too")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = sweep(args.sizes, range(args.first_seed, args.first_seed + args.seeds), args.workers,
                    features=args.features)
    wall = time.perf_counter() - start
    print(f"\n{'N':>3} {'seeds':>6} {'violations':>10} {'not live':>8} {'events':>10} {'committed':>9}")
    for n in args.sizes:
        rows = [r for r in results if r.n == n]
        print(f"{n:>3} {len(rows):>6} {sum(r.violation is not None for r in rows):>10} "
              f"{sum(not r.live for r in rows):>8} {sum(r.events for r in rows):>10} {sum(r.committed for r in rows):>9}")
    print(f"{len(results)} runs in {wall:.1f} s wall ({1000 * wall / max(1, len(results)):.1f} ms per run, "
          f"{args.workers} worker(s))")
    bad = [r for r in results if r.violation or not r.live]
    for r in bad[:10]:
        print(f"\nN={r.n} seed={r.seed}: {r.violation or 'did not commit a request within 10 s after the faults stopped'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
