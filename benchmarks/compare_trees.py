"""Speed of raftedu versions side by side: the side-by-side workload run alternately on several source trees.

    mkdir /tmp/949f65f && git archive 949f65f raftedu | tar -x -C /tmp/949f65f   # any commit to compare with
    python benchmarks/compare_trees.py /tmp/949f65f .          # N = 5, 3 rounds of 3 runs
    python benchmarks/compare_trees.py --nodes 9 --rounds 4 /tmp/949f65f /tmp/30d6257 .

Each tree is a folder holding a ``raftedu`` package. Every round starts one
fresh Python process per tree, in turn, so a busy spell of a shared machine
hits every tree alike; each process runs the workload of
``bench_core.py``'s side-by-side table (``--nodes`` servers, 100 client
requests per simulated second, latency 10-15 ms, heartbeat 50 ms, 60
simulated s; the safety monitor on, as always) ``--runs`` times and reports
simulated seconds per CPU second of its own. The table gives the median, the
best and the worst run per tree, and each median over the first tree's.
Wall-clock time is read here only, never in tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

WORKLOAD = r"""
import sys
sys.path.insert(0, sys.argv[3])
from bench_core import raftedu_side_by_side
for _ in range(int(sys.argv[2])):
    print(raftedu_side_by_side(int(sys.argv[1]))[1])
"""


def speeds(tree: Path, nodes: int, runs: int) -> list[float]:
    """Simulated seconds per CPU second of ``runs`` runs in one fresh process importing raftedu from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    here = str(Path(__file__).resolve().parent)  # bench_core.py, which imports raftedu from the tree
    done = subprocess.run([sys.executable, "-c", WORKLOAD, str(nodes), str(runs), here], env=env, cwd="/",
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{tree}: the workload failed:\n{done.stderr[-2000:]}")
    return [float(x) for x in done.stdout.split()]


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the rounds, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", type=Path, help="folders that hold a raftedu package")
    parser.add_argument("--nodes", type=int, default=5, help="cluster size (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each starts every tree once (default 3)")
    parser.add_argument("--runs", type=int, default=3, help="runs per process (default 3)")
    args = parser.parse_args(argv)
    for tree in args.trees:
        if not (tree / "raftedu" / "__init__.py").is_file():
            parser.error(f"{tree} holds no raftedu package (expected {tree / 'raftedu' / '__init__.py'})")
    if args.nodes < 1 or args.rounds < 1 or args.runs < 1:
        parser.error("--nodes, --rounds and --runs must be at least 1")
    results: dict[Path, list[float]] = {tree: [] for tree in args.trees}
    for _ in range(args.rounds):
        for tree in args.trees:
            results[tree] += speeds(tree.resolve(), args.nodes, args.runs)
    print(f"N = {args.nodes}, 60 simulated s, simulated s per CPU s; {args.rounds} rounds x {args.runs} runs per tree; "
          f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    base = statistics.median(results[args.trees[0]])
    width = max(len(str(t)) for t in args.trees)
    print(f"{'tree':<{width}}  median    best   worst  median / first")
    for tree, values in results.items():
        median = statistics.median(values)
        print(f"{str(tree):<{width}}  {median:6.1f}  {max(values):6.1f}  {min(values):6.1f}  {median / base:14.2f}x")


if __name__ == "__main__":
    main()
