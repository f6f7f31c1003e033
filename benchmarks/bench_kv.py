"""The KV service on the Raft core: prints two tables (figures go into the README).

    python benchmarks/bench_kv.py

1. Throughput: 5 servers, 5 clients with no think time, 3 keys, network
   delay 5-15 ms, 10 simulated seconds per read mode; then the
   linearizability check of the recorded history.
2. Verdicts under faults: 30 seeds of random crashes, partitions, loss,
   duplication and long delays (4 clients x 40 operations) for each read
   path and each deliberately broken variant: how many histories the checker
   finds not linearizable.
"""

from __future__ import annotations

import time

from raftedu import Network
from raftedu.kv import KVService
from raftedu.sweep import random_schedule

SIM_MS = 10_000


def main() -> None:
    """Print the table."""
    print(f"KV service, 5 servers, 5 clients, {SIM_MS // 1000} simulated s (safety checks on)")
    print(f"{'read mode':>10} {'ops':>6} {'ops / sim s':>12} {'ops / wall s':>13} {'sim wall s':>11} {'check s':>8}")
    for mode in ("readindex", "lease", "log"):
        svc = KVService(5, clients=5, seed=1, read_mode=mode)
        for client in svc.clients:
            client.think = (0, 0)
        svc.workload(10_000, keys=3, seed=1)
        start = time.perf_counter()
        svc.run(SIM_MS)
        svc.finish()
        wall = time.perf_counter() - start
        done = sum(1 for o in svc.history if o.status == "ok")
        start = time.perf_counter()
        result = svc.check()
        checked = time.perf_counter() - start
        assert result.linearizable, result
        print(f"{mode:>10} {done:>6} {done / (SIM_MS / 1000):>12.0f} {done / wall:>13.0f} {wall:>11.2f} {checked:>8.2f}")


CHAOS = Network(delay=(1, 30), drop_rate=0.1, duplicate_rate=0.05, long_delay_rate=0.05, long_delay=(100, 800))
VARIANTS = {
    "readindex": {}, "lease": {"read_mode": "lease"}, "log": {"read_mode": "log"},
    "broken: local reads": {"read_mode": "local"}, "broken: no sessions": {"dedup": False},
    "broken: ack before commit": {"ack_after_commit": False},
}


def verdicts(seeds: int = 30) -> None:
    """Print how many chaotic histories each variant gets judged not linearizable."""
    print(f"\n{seeds} seeds of random faults, 5 servers, 4 clients x 40 operations")
    print(f"{'variant':>26} {'not linearizable':>17} {'ops answered':>13}")
    for label, kwargs in VARIANTS.items():
        bad = answered = 0
        for seed in range(seeds):
            faults = [a for a in random_schedule(5, seed, horizon=6_000) if a[1] != "request"]
            svc = KVService(5, clients=4, seed=seed, network=CHAOS, schedule=faults, **kwargs)
            svc.workload(40, keys=3, seed=seed)
            svc.run(6_000)
            svc.cluster.heal()
            svc.cluster.restart_all()
            svc.cluster.set_network(drop_rate=0.0, duplicate_rate=0.0, long_delay_rate=0.0)
            svc.run(4_000)
            svc.finish()
            bad += svc.check().linearizable is False
            answered += sum(1 for o in svc.history if o.status == "ok")
        print(f"{label:>26} {bad:>14} / {seeds} {answered:>13}")


if __name__ == "__main__":
    main()
    verdicts()
