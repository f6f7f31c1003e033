"""Trace digests over a fixed set of runs: proof that a change to the core left every run the same, event for event.

    python benchmarks/trace_digests.py > before.txt      # on the old code
    python benchmarks/trace_digests.py > after.txt       # on the new code
    diff before.txt after.txt                            # nothing: the same runs

The runs (208 before issue 25; with its scripts and mutants 242): the side-by-side workload of ``bench_core.py`` at N = 3, 5
and 9 (5 simulated s each); the randomized sweep's schedules for 12 seeds of
each N = 1..7, with and without every extension (pre-vote, check-quorum,
snapshots), 9 simulated s each; the scripted scenarios; and the node mutants
of ``tests/mutants.py`` on 3 fault schedules each (a run that ends in a
violation reports the property and its digest). One line per run, then one
digest of them all. ``--ignore-peer-of-appends`` leaves out the ``peer`` field
of ``append`` events (set since session 5: the leader a follower's entry came
from), to compare with traces recorded before it.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from bench_core import side_by_side_workload

from raftedu import Cluster, SafetyViolation, Trace, scenarios
from raftedu.raft import Event
from raftedu.sweep import CHAOS, random_schedule, retire_after, snapshot_every, snapshot_tail

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import mutants  # noqa: E402  (tests/mutants.py: the node mutants)

SCENARIOS = ("figure_8", "longer_log_older_term", "shorter_log_same_term", "stale_replies_across_reelection",
             "restart_between_votes", "crash_after_acknowledging", "vote_replies_delayed_across_reelection",
             "single_server_change_bug", "cut_off_leader_with_learners", "stale_timeout_now",
             "transfer_to_learner_or_crashed", "removed_server_keeps_running", "removal_pending_campaigns",
             "stale_append_renews_no_lease")


def digest(c: Cluster, ignore_peer_of_appends: bool) -> str:
    """SHA-256 of the cluster's trace (``Trace.digest``), optionally with appends' ``peer`` left out."""
    if not ignore_peer_of_appends:
        return c.trace.digest()
    return Trace([Event(*e.astuple()[:4], None, *e.astuple()[5:]) if e.kind == "append" else e
                  for e in c.trace]).digest()


def runs(ignore: bool) -> list[str]:
    """One line per run: its name and its trace digest (or the violation that ended it)."""
    out = []
    for n in (3, 5, 9):
        out.append(f"side-by-side N={n} {digest(side_by_side_workload(n, 5), ignore)}")
    for n in range(1, 8):
        for seed in range(12):
            for features in ("none", "all"):
                on = features == "all"
                c = Cluster(n, seed=seed, network=CHAOS, schedule=random_schedule(n, seed, 6_000, features),
                            up_to_date_check=True, pre_vote=on, check_quorum=on,
                            snapshot_every=snapshot_every(n, seed) if on else None,
                            snapshot_tail=snapshot_tail(n, seed) if on else 0,
                            retire_after=retire_after(n, seed) if on else 0)
                try:
                    c.run(9_000)
                except SafetyViolation as v:
                    out.append(f"sweep N={n} seed={seed} {features}: violation {v}")
                out.append(f"sweep N={n} seed={seed} {features} {digest(c, ignore)}")
    for name in SCENARIOS:
        c = getattr(scenarios, name)()
        c = c if isinstance(c, Cluster) else getattr(c, "cluster", None) or c[0]
        out.append(f"scenario {name} {digest(c, ignore)}")
    for m in mutants.NODE_MUTANTS:
        for seed in range(3):
            c = Cluster(5, seed=seed, network=CHAOS, schedule=random_schedule(5, seed, 4_000), node_class=m.node_class)
            try:
                c.run(4_000)
                out.append(f"mutant {m.name!r} seed={seed} {digest(c, ignore)}")
            except SafetyViolation as v:
                out.append(f"mutant {m.name!r} seed={seed}: {v.property} at event {len(c.trace)} {digest(c, ignore)}")
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the digests."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ignore-peer-of-appends", action="store_true",
                        help="leave out append events' peer field (to compare with traces from before session 5)")
    args = parser.parse_args(argv)
    lines = runs(args.ignore_peer_of_appends)
    print("\n".join(lines))
    print(f"all {len(lines)} runs: {hashlib.sha256(chr(10).join(lines).encode()).hexdigest()}")


if __name__ == "__main__":
    main()
