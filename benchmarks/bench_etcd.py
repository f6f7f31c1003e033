"""Real etcd next to the simulator: prints a table (figures go into the README).

    python benchmarks/bench_etcd.py

* time to start a 3- and a 5-member etcd cluster (until a leader is known);
* leader re-election time after killing the leader (median of several), real
  etcd vs the simulator with the same timeouts (etcd draws its election
  timeout from [election, 2 x election); heartbeat 50 ms, election 500 ms).
"""

from __future__ import annotations

import statistics
import time

from raftedu import Cluster, Network, Timing
from raftedu.etcd import EtcdCluster

HEARTBEAT, ELECTION, REPEATS = 50, 500, 5


def etcd_figures(n: int) -> tuple[float, list[float]]:
    """Start time (s) and re-election times (ms) after killing the leader REPEATS times."""
    start = time.perf_counter()
    etcd = EtcdCluster(n, heartbeat_ms=HEARTBEAT, election_ms=ELECTION)
    started = time.perf_counter() - start
    times = []
    try:
        for _ in range(REPEATS):
            old = etcd.wait_for_leader()
            etcd.kill(old)
            t0 = time.perf_counter()
            while etcd.leader(timeout=0.2) in (None, old):
                time.sleep(0.005)
            times.append(1000 * (time.perf_counter() - t0))
            etcd.restart(old)
            etcd.put("bench", "ok", timeout=10)
    finally:
        etcd.close()
    return started, times


def simulator_times(n: int, seeds: int = 50) -> list[float]:
    """Re-election times (virtual ms) in the simulator with etcd's timing."""
    times = []
    for seed in range(seeds):
        c = Cluster(n, seed=seed, timing=Timing(election_timeout=(ELECTION, 2 * ELECTION), heartbeat=HEARTBEAT),
                    network=Network(delay=(1, 2)))
        c.run_until(lambda c: c.leader() is not None, 10_000)
        c.run(200)
        old = c.crash_leader()
        t0 = c.now
        c.run_until(lambda c: c.leader() not in (None, old), 20_000)
        times.append(c.now - t0)
    return times


def main() -> None:
    """Print the table."""
    print(f"etcd vs simulator, heartbeat {HEARTBEAT} ms, election timeout {ELECTION} ms")
    print(f"{'members':>7} {'etcd start s':>12} {'etcd re-election ms (median)':>29} {'simulator ms (median)':>22}")
    for n in (3, 5):
        started, times = etcd_figures(n)
        sim = simulator_times(n)
        print(f"{n:>7} {started:>12.2f} {statistics.median(times):>29.0f} {statistics.median(sim):>22.0f}")


if __name__ == "__main__":
    main()
