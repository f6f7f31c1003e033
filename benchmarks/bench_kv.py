"""The KV service on the Raft core: prints three tables (figures go into the README).

    python benchmarks/bench_kv.py

1. Throughput: 5 servers, 5 clients with no think time, 3 keys, network
   delay 5-15 ms, 10 simulated seconds per read mode; then the
   linearizability check of the recorded history.
2. Verdicts under faults: 30 seeds of random crashes, partitions, loss,
   duplication and long delays (4 clients x 40 operations) for each read
   path and each deliberately broken variant: how many histories the checker
   finds not linearizable.
3. Leases and clocks: ``paused_leader_read`` on 20 seeds for each read mode
   and each fault on the cut-off old leader (none, a 100 or 300 ms process
   pause, a clock at half or a quarter speed): how many of client 1's reads
   were stale (and rejected by the checker).
"""

from __future__ import annotations

import time

from raftedu.kv import KVService, paused_leader_read, under_faults

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
            svc = under_faults(seed, **kwargs)
            bad += svc.check().linearizable is False
            answered += sum(1 for o in svc.history if o.status == "ok")
        print(f"{label:>26} {bad:>14} / {seeds} {answered:>13}")


CLOCK_FAULTS = {"none": {"pause": 0}, "pause 100 ms": {"pause": 100}, "pause 300 ms": {"pause": 300},
                "clock at 1/2 speed": {"pause": 0, "clock_rate": 0.5}, "clock at 1/4 speed": {"pause": 0, "clock_rate": 0.25}}


def clocks(seeds: int = 20) -> None:
    """Print how many stale reads a cut-off old leader serves under each clock fault, per read mode."""
    print(f"\npaused_leader_read, {seeds} seeds: stale reads (each rejected by the checker) per fault on the old leader")
    print(f"{'read mode':>10}" + "".join(f"{fault:>20}" for fault in CLOCK_FAULTS))
    for mode in ("lease", "readindex", "log"):
        cells = []
        for settings in CLOCK_FAULTS.values():
            stale = 0
            for seed in range(seeds):
                svc = paused_leader_read(mode, seed=seed, **settings)
                is_stale = svc.history[3].result.value == 1
                assert is_stale == (svc.check().linearizable is False)  # the checker catches exactly the stale reads
                stale += is_stale
            cells.append(f"{stale} / {seeds}")
        print(f"{mode:>10}" + "".join(f"{cell:>20}" for cell in cells))


if __name__ == "__main__":
    main()
    verdicts()
    clocks()
