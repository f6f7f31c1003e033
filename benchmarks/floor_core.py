"""The floor under the core's speed: the side-by-side run with the reference nodes alone, no trace, no monitor.

    python benchmarks/floor_core.py                 # N = 5 and 9, median of 3
    python benchmarks/floor_core.py --nodes 5 --rounds 5

``bench_core.py``'s side-by-side workload (100 client requests per simulated
second, latency 10-15 ms, heartbeat 50 ms, 60 simulated s) is run twice per
round: by :class:`raftedu.Cluster` (trace recorded, every safety check on), and
by a bare loop that drives the same :class:`~raftedu.raft.RaftNode` objects
through the same heap with the same random draws, so it is the same run,
message for message (checked: deliveries and every node's commitIndex agree),
with nothing recorded and nothing checked. The table gives simulated seconds
per CPU second of both and the share of the Cluster's CPU the nodes' own steps
take. However cheap the simulator, trace and monitor become, the Cluster
cannot run faster than the nodes alone: the last column is that bound, as a
multiple of the Cluster's speed today.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import time

from bench_core import SIDE_BY_SIDE_S, side_by_side_workload

from raftedu.raft import LEADER, RaftNode, Timing


def nodes_alone(n: int, seconds: int = SIDE_BY_SIDE_S) -> tuple[int, dict[int, int]]:
    """The side-by-side run of ``side_by_side_workload(n, seconds)`` with only the nodes: the Cluster's heap order,
    random draws, timers and client requests, nothing recorded or checked. Returns (messages delivered, each node's
    commitIndex)."""
    ids = tuple(range(1, n + 1))
    timing = Timing(election_timeout=(100, 200), heartbeat=50)
    nodes = {i: RaftNode(i, ids, rng=random.Random(f"raftedu:1:node:{i}"), timing=timing) for i in ids}
    randbelow = random.Random("raftedu:1:network")._randbelow  # as Cluster(seed=1) draws each message's delay
    heap: list[tuple[int, bool, int, int, object]] = []
    due: dict[int, int | None] = dict.fromkeys(ids)
    seq = delivered = 0
    now = 0

    def flush(node: RaftNode) -> None:  # Cluster._flush: the step's messages on the wire, then the timer re-armed
        nonlocal seq
        msgs, _ = node.take_output()
        for m in msgs:
            seq += 1
            heapq.heappush(heap, (now + 10 + randbelow(6), False, seq, 0, m))
        if due[node.id] != node.deadline:
            due[node.id] = node.deadline
            if node.deadline is not None:
                seq += 1
                heapq.heappush(heap, (node.deadline, False, seq, node.id, None))

    for node in nodes.values():
        flush(node)
    k = 0
    while now < seconds * 1000:
        best = None  # Cluster.leader(): the leader of the highest term
        for node in nodes.values():
            if node.role == LEADER and (best is None or node.current_term > best.current_term):
                best = node
        if best is not None:
            k += 1
            best.propose(f"cmd{k}", now)
            flush(best)
        end = now + 10
        while heap and heap[0][0] <= end:
            now, _, _, timer_of, msg = heapq.heappop(heap)
            if msg is not None:
                node = nodes[msg.dst]  # type: ignore[attr-defined]
                delivered += 1
                node.receive(msg, now)  # type: ignore[arg-type]
            else:
                node = nodes[timer_of]
                if due[timer_of] != now or node.deadline != now:
                    continue  # stale (Cluster._fire_timer)
                node.on_timer(now)
            flush(node)
        now = end
    return delivered, {i: node.commit_index for i, node in nodes.items()}


def main(argv: list[str] | None = None) -> None:
    """Print, per cluster size, the Cluster's and the nodes' own simulated seconds per CPU second."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[5, 9], help="cluster sizes (default 5 9)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each, alternating (default 3; the median)")
    args = parser.parse_args(argv)
    print("nodes  Cluster sim s / CPU s  nodes alone sim s / CPU s  nodes' share of the Cluster's CPU  bound")
    for n in args.nodes:
        full, alone = [], []
        for _ in range(args.rounds):
            cpu = time.process_time()
            cluster = side_by_side_workload(n)
            full.append(SIDE_BY_SIDE_S / (time.process_time() - cpu))
            cpu = time.process_time()
            delivered, commits = nodes_alone(n)
            alone.append(SIDE_BY_SIDE_S / (time.process_time() - cpu))
            same = (delivered == len(cluster.trace.of_kind("deliver"))
                    and commits == {i: node.commit_index for i, node in cluster.nodes.items() if node is not None})
            if not same:
                raise SystemExit(f"N={n}: the bare run departed from the Cluster's ({delivered} deliveries, commitIndex "
                                 f"{commits}): fix nodes_alone before reading its speed")
        f, a = statistics.median(full), statistics.median(alone)
        print(f"{n:>5}  {f:>21.1f}  {a:>25.1f}  {f / a:>33.0%}  {a / f:>4.2f}x")


if __name__ == "__main__":
    main()
