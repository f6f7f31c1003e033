"""Benchmark of the linearizability checker: prints a table (figures go into the README).

    python benchmarks/bench_linearizability.py

Histories come from :func:`raftedu.linearizability.simulate_history`: clients
with random latencies (1-20 ms each way, 0-10 ms think time) against one
sequential KVStore, each operation taking effect at a random instant inside
its interval -- so every history is linearizable and the checker has to find
an order for all of it. The "bad read" rows change one late read of each
history into a read of a value never written, so the checker must also
exhaust the search around it. Times are the median of 3 runs of
:func:`raftedu.linearizability.check`; generating the history is not counted.
"""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import replace

from raftedu.kvmodel import Result
from raftedu.linearizability import History, check, simulate_history

REPEATS = 3
CASES = [  # (ops, keys, clients, time-out rate, bad read)
    (1_000, 10, 5, 0.0, False),
    (10_000, 10, 5, 0.0, False),
    (1_000, 10, 5, 0.05, False),
    (10_000, 10, 5, 0.05, False),
    (1_000, 10, 5, 0.0, True),
    (10_000, 10, 5, 0.0, True),
    (1_000, 1, 5, 0.0, False),
    (1_000, 1, 5, 0.05, False),
    (1_000, 1, 5, 0.2, False),
    (10_000, 10, 5, 0.2, False),
]


def with_bad_read(h: History) -> History:
    """The history with its last answered get changed to return a value never written."""
    last = max(o.id for o in h if o.op.kind == "get" and o.result is not None)
    return History(replace(o, result=Result(True, "never written", None)) if o.id == last else o for o in h)


def measure(h: History) -> tuple[float, str, int]:
    """Median wall seconds of check(h) over REPEATS runs, with its verdict and search steps."""
    times, result = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = check(h, max_steps=None)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result.verdict, result.steps


def main() -> None:
    """Print the benchmark table."""
    print(f"raftedu linearizability checker benchmark - Python {platform.python_version()}, {platform.machine()}")
    print(f"median of {REPEATS} runs; latency 1-20 ms each way, think 0-10 ms\n")
    print(f"{'ops':>7} {'keys':>5} {'clients':>8} {'time-outs':>10} {'history':>10} {'verdict':>17} {'steps':>8} {'check s':>8} {'ops / s':>9}")
    for ops, keys, clients, timeout_rate, bad in CASES:
        h = simulate_history(1, ops, keys, clients, timeout_rate=timeout_rate)
        if bad:
            h = with_bad_read(h)
        seconds, verdict, steps = measure(h)
        print(f"{ops:>7,} {keys:>5} {clients:>8} {timeout_rate:>10.0%} {'bad read' if bad else 'correct':>10} "
              f"{verdict:>17} {steps:>8,} {seconds:>8.3f} {ops / seconds:>9,.0f}")


if __name__ == "__main__":
    main()
