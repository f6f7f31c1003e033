"""Benchmark of snapshots and log compaction (dissertation ch. 5): what ``snapshot_every`` costs and saves.

    python benchmarks/bench_snapshots.py [--reps 3]

Workload, the same for every row, with the safety checks on (they always are): a 5-server cluster, one client
request every 10 virtual ms (100 per simulated second) for 20 simulated seconds; one follower is down from 5 s to
10 s and then catches up. Rows alternate in one run (the machine is shared: compare side by side). Printed per
setting: simulated seconds per wall second (median of the repetitions), entries left in the leader's log at the
end, InstallSnapshot messages sent to the follower that was down and to the others (without a tail, a follower whose
nextIndex trails the leader's lastApplied when the leader compacts gets the snapshot too, as in the dissertation's
§5.1; ``snapshot_tail`` keeps entries behind the snapshot for such followers, as etcd does), and whether every state
machine ended the same.
"""

from __future__ import annotations

import argparse
import statistics
import time

from raftedu import Cluster
from raftedu.raft import InstallSnapshot

SIM_MS = 20_000
EVERY_MS = 10
SETTINGS = ((None, 0), (1000, 0), (100, 0), (100, 10), (10, 0), (10, 1), (10, 3), (10, 10), (10, 100))


def run(snapshot_every: int | None, snapshot_tail: int = 0) -> tuple[float, int, int, int, bool]:
    """One run of the workload: (simulated s per wall s, entries in the leader's log, snapshots sent to the follower
    that was down, to the others, whether the state machines are equal)."""
    c = Cluster(5, seed=1, snapshot_every=snapshot_every, snapshot_tail=snapshot_tail)
    c.run_until(lambda c: c.leader() is not None, 3_000)
    start, t0 = c.now, time.perf_counter()
    down = None
    for k in range(SIM_MS // EVERY_MS + 37):  # 2,037 requests: a few entries after the last snapshot
        if c.now - start >= 5_000 and down is None:
            down = next(i for i in c.ids if i != c.leader())
            c.crash(down)
        if c.now - start >= 10_000 and down is not None and c.nodes[down] is None:
            c.restart(down)
        c.request(f"r{k}")
        c.run(EVERY_MS)
    c.run(1_000)
    wall = time.perf_counter() - t0
    leader = c.nodes[c.leader()]
    sent = [e.msg.dst for e in c.trace.events if e.kind == "send" and type(e.msg) is InstallSnapshot]
    equal = len({tuple(c.nodes[i].applied) for i in c.up()}) == 1
    return (c.now - start) / 1000 / wall, len(leader.log), sent.count(down), len(sent) - sent.count(down), equal


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions per setting, alternating (default 3)")
    args = parser.parse_args()
    speeds: dict[tuple[int | None, int], list[float]] = {s: [] for s in SETTINGS}
    last: dict[tuple[int | None, int], tuple[float, int, int, int, bool]] = {}
    for _ in range(args.reps):
        for setting in SETTINGS:
            last[setting] = run(*setting)
            speeds[setting].append(last[setting][0])
    print(f"{'snapshot_every':>14} {'snapshot_tail':>13} {'sim s / wall s':>14} {'entries in leader log':>21} "
          f"{'InstallSnapshot to the one down / to others':>43} {'state machines equal':>20}")
    for setting in SETTINGS:
        _, entries, down, others, equal = last[setting]
        every, tail = setting
        print(f"{str(every or 'off'):>14} {tail if every else '':>13} {statistics.median(speeds[setting]):>14.2f} "
              f"{entries:>21} {f'{down} / {others}':>43} {str(equal):>20}")


if __name__ == "__main__":
    main()
