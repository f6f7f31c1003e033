"""The safety sweep with every etcd option on: pre-vote, check-quorum, transfers, membership changes."""

from __future__ import annotations

import pytest

from raftedu.sweep import main, random_schedule, run_seed


@pytest.mark.parametrize("n", [3, 5])
def test_features_all_is_safe_and_live_on_a_few_seeds(n):
    results = [run_seed(n, seed, features="all") for seed in range(15)]
    assert [r for r in results if r.violation or not r.live] == []


def test_features_all_schedules_draw_etcd_operations_and_are_replayable():
    actions = {item[1] for seed in range(10) for item in random_schedule(5, seed, features="all")}
    assert {"transfer_leadership", "add_server", "promote", "remove_server"} <= actions
    assert run_seed(5, 3, features="all") == run_seed(5, 3, features="all")


def test_features_none_leaves_the_figure_2_schedule_alone():
    assert random_schedule(5, 7) == random_schedule(5, 7, features="none")
    with pytest.raises(ValueError, match="features must be one of"):
        random_schedule(5, 7, features="some")


def test_command_line_features_all(capsys):
    assert main(["--features", "all", "--seeds", "3", "--sizes", "3"]) == 0
    assert "violations" in capsys.readouterr().out


def test_features_clocks_adds_only_drift_and_pauses_to_the_all_schedule_and_stays_safe():
    """Issue 24: ``clocks`` is ``all`` plus clock faults from a stream of their own; check-quorum and its lease are
    judged on each server's own clock, and Raft's safety does not care (§5.6)."""
    for seed in range(5):
        clocks = random_schedule(5, seed, features="clocks")
        assert [item for item in clocks if item[1] not in ("set_clock_rate", "pause")] == \
            random_schedule(5, seed, features="all")
        assert {item[1] for item in clocks} >= {"set_clock_rate", "pause"}
    results = [run_seed(5, seed, features="clocks") for seed in range(4)]
    assert [r for r in results if r.violation or not r.live] == []
    assert run_seed(3, 1, features="clocks") == run_seed(3, 1, features="clocks")
