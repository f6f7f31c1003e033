"""The randomized safety sweep: a CI-sized slice of it, and proof that it has teeth."""

from __future__ import annotations

from raftedu.sweep import main, run_seed, sweep
from test_scenarios import ComparesLogLengthOnly


def test_sweep_sizes_1_to_7_finds_no_violation_and_stays_live():
    results = sweep(range(1, 8), range(25), progress=False)
    assert len(results) == 7 * 25
    assert [r for r in results if r.violation] == []
    assert [(r.n, r.seed) for r in results if not r.live] == []
    assert sum(r.committed for r in results) > 500


def test_sweep_runs_are_reproducible():
    assert run_seed(5, 17) == run_seed(5, 17)


def test_sweep_catches_the_length_only_vote_rule():
    caught = [run_seed(5, seed, node_class=ComparesLogLengthOnly) for seed in range(40)]
    assert any(r.violation and r.violation.startswith("Leader Completeness") for r in caught)


def test_command_line_prints_a_table_and_exits_zero(capsys):
    assert main(["--seeds", "3", "--sizes", "3,5", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "violations" in out and "6 runs in" in out
