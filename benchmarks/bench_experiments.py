"""Benchmark of the even-vs-odd experiments: wall time with 1 and 2 workers, printed as a table.

    python benchmarks/bench_experiments.py            # the full runs (a few minutes on 2 cores)
    python benchmarks/bench_experiments.py --quick    # 100 trials / 1,000 samples

Measures the crash-tolerance sweep (N = 1..10, every k from 0 to N, random
victims, ``--trials`` trials per (N, k)) in both designs (a fresh cluster per
(N, k, trial), or one cluster per (N, trial) losing one node at a time), and
the availability Monte Carlo
(N = 1..10, six values of p, ``--samples`` samples each). Every verdict is
decided by the simulator. Wall-clock time is read here only, never in tests.
``cpu_s`` (this process plus its pool workers) tells how much of a slow wall
time was the machine being busy with other work.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd

from raftedu import experiments as ex

PS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5)


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children (the pool's workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(run: Callable[[], pd.DataFrame]) -> tuple[float, float, pd.DataFrame]:
    """Wall time and CPU time of ``run()`` in seconds, and its result."""
    start, cpu = time.perf_counter(), cpu_seconds()
    result = run()
    return time.perf_counter() - start, cpu_seconds() - cpu, result


def crash_sweep(trials: int, design: str, workers: int) -> dict[str, Any]:
    """Run the full crash-tolerance sweep and summarise it as one table row."""
    seconds, cpu, frame = timed(lambda: ex.crash_trials(range(1, 11), trials=trials, design=design, workers=workers,
                                                   progress=False))
    tolerance = ex.derived_tolerance(ex.crash_tolerance(frame))
    outcomes = frame["outcome"].value_counts()
    return {
        "experiment": f"crash sweep N=1..10, k=0..N x {trials} trials ({design})", "workers": workers, "wall_s": round(seconds, 1),
        "cpu_s": round(cpu, 1), "runs": len(frame), "cpu_ms_per_run": round(1000 * cpu / len(frame), 2),
        "check": "T=(N-1)//2 for all N" if tolerance["matches"].all() else "MISMATCH",
        "detail": ", ".join(f"{k} {outcomes.get(k, 0)}" for k in ex.OUTCOMES),
    }


def availability(samples: int, workers: int) -> dict[str, Any]:
    """Run the availability Monte Carlo and summarise it as one table row."""
    seconds, cpu, frame = timed(lambda: ex.availability_monte_carlo(range(1, 11), PS, samples=samples, workers=workers,
                                                               progress=False))
    simulations = int(frame.drop_duplicates("n")["simulations"].sum())  # shared by every p of an n
    return {
        "experiment": f"availability MC N=1..10 x {len(PS)} p x {samples} samples", "workers": workers,
        "wall_s": round(seconds, 1), "cpu_s": round(cpu, 1), "runs": simulations,
        "cpu_ms_per_run": round(1000 * cpu / simulations, 2),
        "check": f"95% CI holds closed form in {int(frame['contains'].sum())}/{len(frame)} cells",
        "detail": f"runs = distinct down-sets simulated, for {len(frame) * samples:,} samples",
    }


def main() -> None:
    """Parse the options, run each benchmark with each worker count, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=1_000, help="trials per (N, k) in the crash sweep")
    parser.add_argument("--samples", type=int, default=10_000, help="Monte Carlo samples per (N, p)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to measure")
    parser.add_argument("--designs", nargs="+", default=["independent", "chain"], choices=["independent", "chain"],
                        help="crash sweep designs to measure (see raftedu.experiments.crash_trials)")
    parser.add_argument("--quick", action="store_true", help="100 trials and 1,000 samples")
    args = parser.parse_args()
    trials, samples = (100, 1_000) if args.quick else (args.trials, args.samples)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average before: {load}")
    jobs = [partial(crash_sweep, trials, design) for design in args.designs] + [partial(availability, samples)]
    rows = [job(workers=workers) for job in jobs for workers in args.workers]
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(pd.DataFrame(rows).to_string(index=False))
    print("load average after: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
