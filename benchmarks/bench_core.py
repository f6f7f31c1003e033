"""Benchmark of the Raft core and simulator: prints tables (figures go into the README).

    python benchmarks/bench_core.py                          # or: make bench
    python benchmarks/bench_core.py --raftscope GIT_DIR      # also side by side with RaftScope's model
    RAFTSCOPE_GIT=GIT_DIR python benchmarks/bench_core.py    # the same
    RAFTSCOPE_PEER=FILE ...                                  # another driver than shared/bench/raftscope_peer.js

Measures, with the safety checks on (they always are):

* side by side with the RaftScope model (ongardie/raftscope's raft.js, driven
  headless in node by shared/bench/raftscope_peer.js, found in the folder
  holding the repository or one above it, or $RAFTSCOPE_PEER, or the copy of its
  logic below), on the same workload, alternating in one run: N = 5 and 9,
  100 client requests per simulated second, latency 10-15 ms, heartbeat
  50 ms, 60 simulated s; simulated seconds per wall second and per CPU
  second (less sensitive to other work on the machine), and the ratios.
  It needs a git directory of ongardie/raftscope (``git clone --bare
  https://github.com/ongardie/raftscope``) and ``node``; without them it says
  how to get them and skips that table;
* simulated seconds per wall second and per CPU second, messages delivered,
  events and CPU time per event, for 3, 5 and 9 nodes under a steady client
  load;
* wall and CPU time per seed of the randomized safety sweep (raftedu.sweep).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from raftedu import Cluster, Network, Timing
from raftedu.sweep import run_seed

SIM_MS = 20_000
LOAD_EVERY_MS = 10  # one client request every 10 virtual ms = 100 requests per simulated second
SIDE_BY_SIDE_S = 60
REPO = Path(__file__).resolve().parents[1]


def find_peer() -> Path | None:
    """The shared RaftScope driver: ``$RAFTSCOPE_PEER`` if set, else ``shared/bench/raftscope_peer.js`` in the
    repository's folder or the nearest folder above it (a worktree may lie deeper than the main checkout); None when
    there is none (the copy of its logic below is run instead)."""
    if os.environ.get("RAFTSCOPE_PEER"):
        return Path(os.environ["RAFTSCOPE_PEER"])
    for folder in (REPO, *REPO.parents):
        peer = folder / "shared" / "bench" / "raftscope_peer.js"
        if peer.exists():
            return peer
    return None


PEER_JS = r"""
// RaftScope's model (raft.js + util.js read from a git dir), driven headless: 1 ms steps, 100 requests/s to the leader.
const { execFileSync } = require('child_process');
const vm = require('vm');
const [gitDir, vsecArg, stepArg, nArg] = process.argv.slice(1);  // node -e SCRIPT -- ARGS: argv is [node, ...ARGS]
const vsec = Number(vsecArg || 60), step = Number(stepArg || 1000), n = Number(nArg || 5);
const src = f => execFileSync('git', ['--git-dir', gitDir, 'show', 'HEAD:' + f]).toString();
const $ = { map: (m, f) => Object.keys(m).map(k => f(m[k], k)) };
const ctx = { $, jQuery: { extend: (d, a, b) => JSON.parse(JSON.stringify(b)) }, Math, console };
vm.createContext(ctx);
vm.runInContext(src('util.js') + '\n' + src('raft.js').replace('var NUM_SERVERS = 5;', `var NUM_SERVERS = ${n};`) +
  '\nthis.raft = raft; this.util = util;', ctx);
const { raft } = ctx;
const ids = Array.from({ length: n }, (_, i) => i + 1);
const model = { servers: ids.map(id => raft.server(id, ids.filter(p => p !== id))), messages: [], time: 0 };
const end = vsec * 1e6;
let nextReq = 0;
const t0 = process.hrtime.bigint();
while (model.time < end) {
  model.time += step;
  raft.update(model);
  if (model.time >= nextReq) {
    const leader = model.servers.find(s => s.state === 'leader');
    if (leader) raft.clientRequest(model, leader);
    nextReq += 10000;
  }
}
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ virtual_per_wall: vsec / wall }));
"""


def children_cpu() -> float:
    """CPU seconds used so far by this process's finished child processes (node running RaftScope)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def side_by_side_workload(n: int, seconds: int = SIDE_BY_SIDE_S) -> Cluster:
    """The side-by-side workload on raftedu's Cluster (``n`` servers, a client request to the leader every 10 ms,
    latency 10-15 ms, heartbeat 50 ms) run for ``seconds`` simulated seconds; returns the cluster."""
    c = Cluster(n, seed=1, network=Network(delay=(10, 15)), timing=Timing(election_timeout=(100, 200), heartbeat=50))
    k = 0
    while c.now < seconds * 1000:
        if c.leader() is not None:
            k += 1
            c.request(f"cmd{k}")
        c.run(10)
    return c


def raftedu_side_by_side(n: int) -> tuple[float, float]:
    """The side-by-side workload on raftedu's Cluster; returns simulated seconds per wall second and per CPU second."""
    start, cpu = time.perf_counter(), time.process_time()
    side_by_side_workload(n)
    return SIDE_BY_SIDE_S / (time.perf_counter() - start), SIDE_BY_SIDE_S / (time.process_time() - cpu)


def raftscope_side_by_side(git_dir: str, n: int) -> tuple[float, float]:
    """The same workload on RaftScope's model in node; returns simulated seconds per wall second and per CPU second
    (the CPU second of the whole node process, start-up included: a slight handicap for RaftScope)."""
    peer_js = find_peer()
    peer = ["node", str(peer_js)] if peer_js is not None else ["node", "-e", PEER_JS, "--"]
    cpu = children_cpu()
    out = subprocess.run([*peer, git_dir, str(SIDE_BY_SIDE_S), "1000", str(n)], capture_output=True, text=True,
                         check=True).stdout
    cpu = children_cpu() - cpu
    return float(json.loads(out.strip().splitlines()[-1])["virtual_per_wall"]), SIDE_BY_SIDE_S / cpu


def side_by_side(git_dir: str | None, rounds: int) -> None:
    """Print raftedu and RaftScope alternately on the same workload, or say how to get RaftScope."""
    print(f"\nside by side with RaftScope's model: 100 requests/s, latency 10-15 ms, heartbeat 50 ms, "
          f"{SIDE_BY_SIDE_S} simulated s, median of {rounds}; RaftScope run by {find_peer() or 'the copy in this file'}")
    missing = []
    if not git_dir:
        missing.append("a git directory of ongardie/raftscope: `git clone --bare https://github.com/ongardie/raftscope "
                       "raftscope.git`, then pass --raftscope raftscope.git or set RAFTSCOPE_GIT")
    elif not (Path(git_dir) / "HEAD").exists():
        missing.append(f"{git_dir} is not a git directory (no HEAD); give the clone of ongardie/raftscope")
    if shutil.which("node") is None:
        missing.append("node (Node.js) to run RaftScope's raft.js: `apt-get install nodejs`")
    if missing:
        print("  skipped; it needs " + "; and ".join(missing))
        return
    print(f"{'nodes':>5} {'raftedu sim s / wall s':>23} {'RaftScope sim s / wall s':>25} {'ratio':>6}"
          f" {'raftedu sim s / CPU s':>22} {'RaftScope sim s / CPU s':>24} {'ratio':>6}")
    for n in (5, 9):
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(raftedu_side_by_side(n))
            theirs.append(raftscope_side_by_side(git_dir, n))  # type: ignore[arg-type]
        (o, oc), (t, tc) = [tuple(statistics.median(x) for x in zip(*runs)) for runs in (ours, theirs)]
        print(f"{n:>5} {o:>23.1f} {t:>25.1f} {o / t:>6.2f} {oc:>22.1f} {tc:>24.1f} {oc / tc:>6.2f}")


def loaded_run(n: int) -> tuple[float, float, int, int, int]:
    """Run n nodes for SIM_MS under client load; return wall and CPU seconds, delivered messages, events, commits."""
    c = Cluster(n, seed=1)
    start, cpu = time.perf_counter(), time.process_time()
    c.run_until(lambda c: c.leader() is not None, 5_000)
    k = 0
    while c.now < SIM_MS:
        if c.leader() is not None:
            k += 1
            c.request(f"cmd{k}")
        c.run(LOAD_EVERY_MS)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    delivered = sum(1 for e in c.trace if e.kind == "deliver")
    return wall, cpu, delivered, len(c.trace), sum(r.status == "committed" for r in c.requests)


def main(argv: list[str] | None = None) -> None:
    """Print the benchmark tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raftscope", default=os.environ.get("RAFTSCOPE_GIT"),
                        help="git directory of ongardie/raftscope (default: $RAFTSCOPE_GIT)")
    parser.add_argument("--rounds", type=int, default=3, help="side-by-side rounds, median reported (default 3)")
    parser.add_argument("--only-side-by-side", action="store_true", help="print only the side-by-side table")
    args = parser.parse_args(argv)
    print(f"raftedu core benchmark - Python {platform.python_version()}, {platform.machine()}, "
          f"load average {load_average()}")
    side_by_side(args.raftscope, args.rounds)
    if args.only_side_by_side:
        print(f"\nload average at the end: {load_average()}")
        return
    print(f"\nclient load: 1 request / {LOAD_EVERY_MS} ms for {SIM_MS // 1000} simulated s (safety checks on)")
    print(f"{'nodes':>5} {'sim s / wall s':>15} {'sim s / CPU s':>14} {'delivered msg':>14} {'events':>8} "
          f"{'CPU µs / event':>15} {'committed':>10}")
    for n in (3, 5, 9):
        wall, cpu, delivered, events, committed = loaded_run(n)
        print(f"{n:>5} {SIM_MS / 1000 / wall:>15.1f} {SIM_MS / 1000 / cpu:>14.1f} {delivered:>14,} {events:>8,} "
              f"{1e6 * cpu / events:>15.2f} {committed:>10}")
    print("\nrandomized safety sweep (6 s of faults + settle per seed)")
    print(f"{'nodes':>5} {'seeds':>6} {'ms / seed':>10} {'CPU ms / seed':>14}")
    for n in (1, 3, 5, 7):
        seeds = 40
        start, cpu = time.perf_counter(), time.process_time()
        for s in range(seeds):
            run_seed(n, s)
        print(f"{n:>5} {seeds:>6} {1000 * (time.perf_counter() - start) / seeds:>10.1f} "
              f"{1000 * (time.process_time() - cpu) / seeds:>14.1f}")
    print(f"\nload average at the end: {load_average()}")
    sys.stdout.flush()


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages (other work slows every wall-clock figure)."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
