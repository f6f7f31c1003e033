"""How fast are the pictures and the explorer?  Prints a table.

    python benchmarks/bench_viz.py            # kernel-side numbers + the last browser run's numbers
    python benchmarks/bench_viz.py --browser  # first re-run the browser test to refresh those

Kernel side: building a 1,000-frame animation of 5 servers and its JSON size;
the Python time from an explorer action (crash, restart, a play tick) to the
FigureWidget update being sent. Browser side (from
tests/browser/test_explorer_browser.py, measured inside the page and saved in
test-artifacts/browser-latency.json; ``--browser`` runs it with 30 clicks of
every kind): click → DOM update of the figure, median and p95 per kind of
click, and playback rates. Targets (issues 3 and 13): click → figure updated
p95 ≤ 100 ms on a quiet machine; animation playback ≥ 20 frames per second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from raftedu import Cluster
from raftedu.viz import animate
from raftedu.widgets import ClusterExplorer

ROOT = Path(__file__).resolve().parent.parent
BROWSER_JSON = ROOT / "test-artifacts" / "browser-latency.json"


def scenario() -> Cluster:
    """Five servers over five seconds: an election, requests, a crashed leader, a re-election, a restart."""
    c = Cluster(5, seed=7)
    c.run(1_000)
    for k in range(5):
        c.request(f"x={k}")
        c.run(100)
    c.crash(c.leader())
    c.run(1_500)
    c.request("y=1")
    c.run(500)
    c.restart(next(i for i in c.ids if c.nodes[i] is None))
    c.run(1_500)
    return c


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--browser", action="store_true", help="re-run the browser test first (needs chromium)")
    parser.add_argument("--clicks", type=int, default=30, help="clicks of every kind in the browser run (default 30)")
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []

    trace = scenario().trace
    builds = timed(lambda: animate(trace, 0, 4_995, frame_ms=5), 3)
    fig = animate(trace, 0, 4_995, frame_ms=5)
    size = len(fig.to_json())
    rows.append(("build a 1,000-frame animation (5 servers, 5 ms/frame)", f"{statistics.median(builds):.0f} ms", "median of 3"))
    rows.append(("its JSON size", f"{size / 1e6:.2f} MB ({size / len(fig.frames) / 1e3:.2f} KB/frame)", f"{len(fig.frames)} frames"))

    x = ClusterExplorer(n=5, seed=7)
    x.advance(1_000)
    x._repr_mimebundle_()  # as if shown: the live FigureWidget that updates go to
    crash, restart, tick = [], [], []
    for _ in range(20):
        leader = x.cluster.leader() or 1
        crash += timed(lambda: x.crash(leader), 1)
        restart += timed(lambda: x.restart(leader), 1)
        tick += timed(lambda: x.advance(15, label=""), 5)
        x.advance(400)
    rows.append(("explorer: click Crash → FigureWidget update sent (Python)", f"{statistics.median(crash):.1f} ms",
                 f"median of {len(crash)}, max {max(crash):.1f}"))
    rows.append(("explorer: click Restart → update sent (Python)", f"{statistics.median(restart):.1f} ms",
                 f"median of {len(restart)}"))
    rows.append(("explorer: one play tick (15 ms of cluster time + redraw)", f"{statistics.median(tick):.1f} ms",
                 f"median of {len(tick)}"))
    back = timed(x.step_back, 5)
    rows.append((f"explorer: step back (replay {x.cluster.steps} steps from the seed)", f"{statistics.median(back):.0f} ms",
                 "median of 5"))

    if args.browser:
        env = dict(os.environ, RAFTEDU_CLICKS=str(args.clicks))
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "measure_every_kind",
                        str(ROOT / "tests" / "browser" / "test_explorer_browser.py")], cwd=ROOT, env=env, check=False)
    if BROWSER_JSON.exists():
        b = json.loads(BROWSER_JSON.read_text())
        when = f"run {b.get('measured', '?')}, load average {b.get('load_average', float('nan')):.1f}"
        rows.append(("browser: first click, Crash the leader → redrawn (in-page)", f"{b['click_to_dom_ms']:.0f} ms", when))
        for kind, values in b.get("clicks", {}).items():
            got = sorted(v for v in values if v is not None)
            if got:
                p95 = got[min(len(got) - 1, round(0.95 * (len(got) - 1)))]
                rows.append((f"browser: click {kind} → figure redrawn (in-page)",
                             f"median {statistics.median(got):.0f} ms, p95 {p95:.0f} ms",
                             f"{len(got)} clicks; target p95 ≤ 100 ms"))
        if b.get("election_real_s") is not None:
            rows.append(("browser: Play at 0.1× after crashing the leader → new leader shown",
                         f"{b['election_real_s']:.1f} s", f"{b['election_virtual_ms']} ms of cluster time; target 2–3 s"))
        rows.append(("browser: explorer Play, distinct redraws per second", f"{b['explorer_play_fps']:.1f} fps",
                     "Play ticks every 150 ms (TICK_MS)"))
        if b.get("animation_play_fps") is not None:
            rows.append(("browser: 1,000-frame-capable animation, Play", f"{b['animation_play_fps']:.1f} fps",
                         "target ≥ 20 fps; frames of 30 ms"))
    else:
        rows.append(("browser numbers", "not measured", "run with --browser (needs chromium + playwright)"))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>28}  note")
    print("-" * (width + 50))
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>28}  {note}")


if __name__ == "__main__":
    main()
