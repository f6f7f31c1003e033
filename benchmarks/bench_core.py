"""Benchmark of the Raft core and simulator: prints a table (figures go into the README).

    python benchmarks/bench_core.py            # or: make bench

Measures, with the safety checks on (they always are):
* simulated seconds per wall second and delivered messages per wall second,
  for 3, 5 and 9 nodes under a steady client load;
* wall time per seed of the randomized safety sweep (raftedu.sweep).
"""

from __future__ import annotations

import platform
import time

from raftedu import Cluster
from raftedu.sweep import run_seed

SIM_MS = 20_000
LOAD_EVERY_MS = 10  # one client request every 10 virtual ms = 100 requests per simulated second


def loaded_run(n: int) -> tuple[float, int, int, int]:
    """Run n nodes for SIM_MS under client load; return wall seconds, delivered messages, events, commits."""
    c = Cluster(n, seed=1)
    start = time.perf_counter()
    c.run_until(lambda c: c.leader() is not None, 5_000)
    k = 0
    while c.now < SIM_MS:
        if c.leader() is not None:
            k += 1
            c.request(f"cmd{k}")
        c.run(LOAD_EVERY_MS)
    wall = time.perf_counter() - start
    delivered = sum(1 for e in c.trace if e.kind == "deliver")
    return wall, delivered, len(c.trace), sum(r.status == "committed" for r in c.requests)


def main() -> None:
    """Print the benchmark tables."""
    print(f"raftedu core benchmark - Python {platform.python_version()}, {platform.machine()}")
    print(f"\nclient load: 1 request / {LOAD_EVERY_MS} ms for {SIM_MS // 1000} simulated s (safety checks on)")
    print(f"{'nodes':>5} {'sim s / wall s':>15} {'delivered msg / s':>18} {'events / s':>11} {'committed':>10}")
    for n in (3, 5, 9):
        wall, delivered, events, committed = loaded_run(n)
        print(f"{n:>5} {SIM_MS / 1000 / wall:>15.1f} {delivered / wall:>18,.0f} {events / wall:>11,.0f} {committed:>10}")
    print("\nrandomized safety sweep (6 s of faults + settle per seed)")
    print(f"{'nodes':>5} {'seeds':>6} {'ms / seed':>10}")
    for n in (1, 3, 5, 7):
        seeds = 40
        start = time.perf_counter()
        for s in range(seeds):
            run_seed(n, s)
        print(f"{n:>5} {seeds:>6} {1000 * (time.perf_counter() - start) / seeds:>10.1f}")


if __name__ == "__main__":
    main()
