"""Benchmark of raftedu.explore: counterexample search and shrinking for the project's own mutants, and the model check.

    python benchmarks/bench_explore.py            # every safety mutant of tests/mutants.py, model check to depth 6
    python benchmarks/bench_explore.py --quick    # model check to depth 5

First table, one row per whole-node mutant of ``tests/mutants.py`` that breaks a safety property (NODE_MUTANTS; the
two liveness mutants are left out), and the reference node last: the property found, runs tried and runs per second,
wall seconds to the first violation and to the shrunk one (budget 60 s), the schedule's length before and after
shrinking, the replays shrinking spent, whether the result is 1-minimal (each single removal re-run) and whether two
replays give the same violation (time, event, detail). Second table: the model check, states per second, on the
reference from a fresh cluster and on lesson 05's two broken rules from their stages (tests/test_explore.py).
``cpu_s`` is this process's CPU time: far below ``wall_s``, the machine was busy with other work; ``load`` is the
1-minute load average when the row was done (2 cores).
Wall-clock time is read here only, never in tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from raftedu import PROPERTIES, RaftNode  # noqa: E402
from raftedu.explore import find_counterexample, model_check, one_minimal  # noqa: E402
from tests.mutants import NODE_MUTANTS  # noqa: E402
from test_explore import LONGER_LOG, OLD_TERM_ENTRY, CountsOldReplicas, LengthOnly  # noqa: E402


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def search_rows(budget: float) -> list[dict]:
    rows = []
    cases = [(m.name, m.node_class, m.what) for m in NODE_MUTANTS if m.what in PROPERTIES]  # not the extensions'
    # (they break only with the extensions on, which the search's Figure 2 runs leave off)
    for name, node_class, expected in cases + [("reference RaftNode", RaftNode, "none")]:
        wall, cpu = time.perf_counter(), _cpu()
        ce = find_counterexample(node_class, budget_s=budget)
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        if ce is None:  # searched the whole budget: count the runs it got through in the same time
            runs = _runs_within(node_class, wall)
            rows.append(dict(node=name, expected=expected, found="none", runs=runs, runs_per_s=round(runs / wall),
                             wall_s=round(wall, 1), cpu_s=round(cpu, 1), load=round(os.getloadavg()[0], 1)))
            continue
        a, b = ce.replay(), ce.replay()
        same = (a.property, a.time, a.event, a.detail) == (b.property, b.time, b.event, b.detail)
        s = ce.stats
        rows.append(dict(node=name, expected=expected, found=ce.property, n=ce.n, runs=s.runs,
                         runs_per_s=round(s.runs / max(s.first_s, 1e-9)), first_s=round(s.first_s, 2),
                         shrunk_s=round(s.shrunk_s, 2), items_found=s.found_items, items=len(ce.schedule),
                         shrink_runs=s.shrink_runs, one_minimal=one_minimal(ce), replays_same=same,
                         wall_s=round(wall, 1), cpu_s=round(cpu, 1), load=round(os.getloadavg()[0], 1)))
    return rows


def _runs_within(node_class: type, seconds: float) -> int:
    """How many runs a search of ``node_class`` gets through in ``seconds`` (doubling ``max_runs`` until it takes
    that long; the runs are the same ones whatever the speed)."""
    runs = 256
    while True:
        start = time.perf_counter()
        find_counterexample(node_class, budget_s=10 * seconds, max_runs=runs)
        took = time.perf_counter() - start
        if took >= seconds / 4:
            return round(runs * seconds / took)
        runs *= 2


def model_rows(depth: int) -> list[dict]:
    rows = []
    for name, node_class, stage in [("reference, fresh cluster", RaftNode, ((), None)),
                                    ("reference, §5.4.1 stage", RaftNode, LONGER_LOG),
                                    ("LengthOnly, §5.4.1 stage", LengthOnly, LONGER_LOG),
                                    ("reference, §5.4.2 stage", RaftNode, OLD_TERM_ENTRY),
                                    ("CountsOldReplicas, §5.4.2 stage", CountsOldReplicas, OLD_TERM_ENTRY)]:
        wall, cpu = time.perf_counter(), _cpu()
        r = model_check(node_class, 3, depth=depth if "fresh" in name else 8, start=stage[0], until=stage[1])
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        ce = r.counterexample
        rows.append(dict(check=name, depth=r.depth, complete=r.complete, states=r.states, transitions=r.transitions,
                         states_per_s=round(r.states / max(r.seconds, 1e-9)),
                         violation=f"{ce.property} after {len(ce.schedule)} steps" if ce else "none",
                         wall_s=round(wall, 1), cpu_s=round(cpu, 1)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="model check the fresh cluster to depth 5 only")
    parser.add_argument("--budget", type=float, default=60, help="seconds per search (default 60)")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {time.strftime('%Y-%m-%d %H:%M')}")
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)
    print("\nfind_counterexample (sizes 3 and 5, seed 0):")
    print(pd.DataFrame(search_rows(args.budget)).to_string(index=False))
    print("\nmodel_check (3 servers; stages as in tests/test_explore.py, depth 8 from a stage):")
    print(pd.DataFrame(model_rows(5 if args.quick else 6)).to_string(index=False))


if __name__ == "__main__":
    main()
