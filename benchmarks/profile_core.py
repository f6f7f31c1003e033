"""Where the core's time goes, counted rather than timed: Python bytecodes executed per trace event, by function.

    python benchmarks/profile_core.py              # N = 5, 6 simulated s of bench_core's side-by-side workload
    python benchmarks/profile_core.py 9 6 --top 40

Wall and CPU seconds on a machine shared with other work vary by a factor of two from one run to the next; the count
of bytecodes the interpreter executes does not (the same seed gives the same run), so two versions of the hot path
can be compared exactly, run after run. It misses what C code does inside one bytecode (sorting, hashing, memory),
so confirm a gain with CPU time (``bench_core.py``) or with ``valgrind --tool=callgrind`` (instructions, also exact).
The run is about 100 times slower under the counter than without it.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

from bench_core import side_by_side_workload


def count(n: int, seconds: int) -> tuple[collections.Counter[tuple[str, str]], collections.Counter[tuple[str, str]], int]:
    """Bytecodes and calls per (file, function) while the side-by-side workload runs ``seconds`` simulated s on ``n``
    servers, and the number of trace events the run recorded."""
    ops: collections.Counter[tuple[str, str]] = collections.Counter()
    calls: collections.Counter[tuple[str, str]] = collections.Counter()

    def tracer(frame, event, arg):  # type: ignore[no-untyped-def]
        frame.f_trace_opcodes = True
        where = (Path(frame.f_code.co_filename).name, frame.f_code.co_name)
        if event == "call":
            calls[where] += 1
        elif event == "opcode":
            ops[where] += 1
        return tracer

    sys.settrace(tracer)
    try:
        cluster = side_by_side_workload(n, seconds)
    finally:
        sys.settrace(None)
    return ops, calls, len(cluster.trace)


def main(argv: list[str] | None = None) -> None:
    """Print bytecodes per event, the share of each file, and the functions that execute the most."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=5, help="servers (default 5)")
    parser.add_argument("seconds", nargs="?", type=int, default=6, help="simulated seconds (default 6)")
    parser.add_argument("--top", type=int, default=25, help="functions to list (default 25)")
    args = parser.parse_args(argv)
    ops, calls, events = count(args.n, args.seconds)
    total = sum(ops.values())
    print(f"N={args.n}, {args.seconds} simulated s: {events:,} events, {total:,} bytecodes, "
          f"{total / events:.1f} per event")
    files: collections.Counter[str] = collections.Counter()
    for (name, _), k in ops.items():
        files[name] += k
    print("by file: " + ", ".join(f"{name} {100 * k / total:.1f}%" for name, k in files.most_common(6)))
    print(f"{'share':>6} {'bytecodes':>10} {'calls':>7} {'per call':>8}  function")
    for (name, function), k in ops.most_common(args.top):
        print(f"{100 * k / total:>5.1f}% {k:>10,} {calls[(name, function)]:>7,} "
              f"{k / max(1, calls[(name, function)]):>8.1f}  {name}:{function}")


if __name__ == "__main__":
    main()
