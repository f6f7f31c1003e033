"""The floor under the core's speed: the side-by-side run with the reference nodes alone, no trace, no monitor.

    python benchmarks/floor_core.py                 # N = 5 and 9, median of 3
    python benchmarks/floor_core.py --nodes 5 --rounds 5
    python benchmarks/floor_core.py --bytecodes     # the same three, counted: bytecodes per trace event (exact)

``bench_core.py``'s side-by-side workload (100 client requests per simulated
second, latency 10-15 ms, heartbeat 50 ms, 60 simulated s) is run three ways
per round: by :class:`raftedu.Cluster` (trace recorded, every safety check on);
by a bare loop that drives the same :class:`~raftedu.raft.RaftNode` objects
through the same heap with the same random draws and stores the nodes' events,
sends and deliveries in flat cells as the Cluster's trace does (nothing
checked, no client records); and by the same loop storing nothing. Each is the
Cluster's run, message for message (checked: deliveries, every node's
commitIndex, and the number of events of each kind recorded agree). However
cheap the simulator's bookkeeping and the safety monitor become, the Cluster
cannot outrun the nodes with their trace recorded: the ``bound`` columns give
those speeds as multiples of the Cluster's today. ``--bytecodes`` counts instead
of timing (as ``profile_core.py`` does; 3 simulated s): the bytecodes each of
the three executes per event of the Cluster's trace, and the nodes' own code
among them (``raft.py`` and the messages' and entries' ``__init__``; random
draws, the nodes' and the network's, left out).
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from bench_core import SIDE_BY_SIDE_S, side_by_side_workload

from raftedu.raft import LEADER, RaftNode, Timing, new_event
from raftedu.trace import EVENT_FIELDS


def nodes_alone(n: int, seconds: int = SIDE_BY_SIDE_S, record: bool = False) -> tuple[int, dict[int, int], list[Any]]:
    """The side-by-side run of ``side_by_side_workload(n, seconds)`` with only the nodes: the Cluster's heap order,
    random draws, timers and client requests, nothing checked; with ``record``, the nodes' events and the sends and
    deliveries stored as the Cluster's trace stores them (flat cells), else nothing. Returns (messages delivered,
    each node's commitIndex, the cells)."""
    ids = tuple(range(1, n + 1))
    timing = Timing(election_timeout=(100, 200), heartbeat=50)
    nodes = {i: RaftNode(i, ids, rng=random.Random(f"raftedu:1:node:{i}"), timing=timing) for i in ids}
    randbelow = random.Random("raftedu:1:network")._randbelow  # as Cluster(seed=1) draws each message's delay
    heap: list[tuple[int, bool, int, int, object]] = []
    due: dict[int, int | None] = dict.fromkeys(ids)
    seq = delivered = 0
    now = 0
    cells: list[Any] = []
    extend = cells.extend

    def flush(node: RaftNode) -> None:  # Cluster._flush: the step's messages on the wire, then the timer re-armed
        nonlocal seq
        msgs, events = node.take_output()
        if record:
            for e in events:
                extend(e)
        for m in msgs:
            seq += 1
            arrives = now + 10 + randbelow(6)
            if record:
                extend(new_event((now, "send", m.src, m.term, m.dst, None, None, arrives, m, seq, "", "")))
            heapq.heappush(heap, (arrives, False, seq, 0, m))
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
                if record:
                    extend(new_event((now, "deliver", msg.dst, msg.term, msg.src, None, None, None, msg, 0, "", "")))
                node.receive(msg, now)  # type: ignore[arg-type]
            else:
                node = nodes[timer_of]
                if due[timer_of] != now or node.deadline != now:
                    continue  # stale (Cluster._fire_timer)
                node.on_timer(now)
            flush(node)
        now = end
    return delivered, {i: node.commit_index for i, node in nodes.items()}, cells


def main(argv: list[str] | None = None) -> None:
    """Print, per cluster size, the speed of the Cluster, of the nodes with the trace recorded, and of the nodes alone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[5, 9], help="cluster sizes (default 5 9)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each, alternating (default 3; the median)")
    parser.add_argument("--bytecodes", action="store_true", help="count bytecodes per event instead of timing")
    args = parser.parse_args(argv)
    if args.bytecodes:
        print_bytecodes(args.nodes)
        return
    print("simulated s per CPU s (median); bound = that speed over the Cluster's")
    print("nodes  Cluster  nodes + trace cells  bound  nodes alone  bound")
    for n in args.nodes:
        speeds: list[list[float]] = [[], [], []]
        for _ in range(args.rounds):
            cpu = time.process_time()
            cluster = side_by_side_workload(n)
            speeds[0].append(SIDE_BY_SIDE_S / (time.process_time() - cpu))
            for record in (True, False):
                cpu = time.process_time()
                delivered, commits, cells = nodes_alone(n, record=record)
                speeds[2 - record].append(SIDE_BY_SIDE_S / (time.process_time() - cpu))
                check_same(cluster, delivered, commits, cells if record else None)
        full, cells_, alone = (statistics.median(s) for s in speeds)
        print(f"{n:>5}  {full:>7.1f}  {cells_:>19.1f}  {cells_ / full:>4.2f}x  {alone:>11.1f}  {alone / full:>4.2f}x")


def counted(run: Callable[[], Any]) -> tuple[Counter[str], Any]:
    """Bytecodes executed per source file while ``run()`` runs, and what it returned."""
    ops: Counter[str] = Counter()

    def tracer(frame, event, arg):  # type: ignore[no-untyped-def]
        frame.f_trace_opcodes = True
        if event == "opcode":
            ops[Path(frame.f_code.co_filename).name] += 1
        return tracer

    sys.settrace(tracer)
    try:
        result = run()
    finally:
        sys.settrace(None)
    return ops, result


def print_bytecodes(sizes: list[int], seconds: int = 3) -> None:
    """Bytecodes per event of the Cluster's trace: the Cluster, the nodes with their trace cells, the nodes alone."""
    print(f"bytecodes per trace event ({seconds} simulated s; exact, the same on every machine)")
    print("nodes  events  Cluster  nodes + trace cells  nodes alone  of which the nodes' own code")
    for n in sizes:
        full, cluster = counted(lambda: side_by_side_workload(n, seconds))
        cells, (delivered, commits, stored) = counted(lambda: nodes_alone(n, seconds, record=True))
        check_same(cluster, delivered, commits, stored)
        alone, _ = counted(lambda: nodes_alone(n, seconds))
        events = len(cluster.trace)
        own = alone["raft.py"] + alone["<string>"]
        print(f"{n:>5}  {events:>6}  {sum(full.values()) / events:>7.0f}  {sum(cells.values()) / events:>19.0f}  "
              f"{sum(alone.values()) / events:>11.0f}  {own / events:>27.0f}")


def check_same(cluster: Any, delivered: int, commits: dict[int, int], cells: list[Any] | None) -> None:
    """Stop unless the bare run was the Cluster's run: the same deliveries, commitIndexes and (when recorded) the
    same number of events of each kind it recorded."""
    width = len(EVENT_FIELDS)
    kinds = Counter(cells[1::width]) if cells is not None else {}
    traced = Counter(e.kind for e in cluster.trace if e.kind in kinds)
    if (delivered != len(cluster.trace.of_kind("deliver")) or commits != {i: node.commit_index for i, node
                                                                           in cluster.nodes.items() if node is not None}
            or traced != kinds):
        raise SystemExit(f"N={cluster.n}: the bare run departed from the Cluster's ({delivered} deliveries, commitIndex "
                         f"{commits}, events {dict(kinds)} against {dict(traced)}): fix nodes_alone first")


if __name__ == "__main__":
    main()
