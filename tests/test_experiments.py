"""Tests of raftedu.experiments: the even-vs-odd lab's experiments (small trial counts, no timing asserts)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from raftedu import Network, Timing, majority
from raftedu import experiments as ex

NS = range(1, 11)


# ---- etcd's table --------------------------------------------------------------


def test_etcd_table_has_the_formulas_and_flags_the_printed_misprint() -> None:
    table = ex.etcd_table()
    assert list(table["n"]) == list(NS)
    assert list(table["tolerance"]) == [(n - 1) // 2 for n in NS]
    assert list(table["majority"]) == [n // 2 + 1 for n in NS]
    assert table.set_index("n").loc[10, "majority"] == 6
    wrong = table[table["printed_majority"] != table["majority"]]
    assert list(wrong["n"]) == [10] and wrong["printed_majority"].iloc[0] == 5
    assert list(table["parity"][:2]) == ["odd", "even"]


# ---- crash tolerance -------------------------------------------------------------


@pytest.fixture(scope="module")
def random_crashes() -> pd.DataFrame:
    return ex.crash_trials(NS, trials=3, victims="random", seed=1, progress=False)


def test_derived_tolerance_reproduces_etcd_formula_for_n_1_to_10(random_crashes: pd.DataFrame) -> None:
    table = ex.crash_tolerance(random_crashes)
    assert len(table) == sum(n + 1 for n in NS)  # every k from 0 to N
    tolerance = ex.derived_tolerance(table)
    assert list(tolerance["n"]) == list(NS)
    assert list(tolerance["measured_tolerance"]) == [(n - 1) // 2 for n in NS]
    assert tolerance["matches"].all()
    # the simulator's verdict agrees with the quorum arithmetic cell by cell: all or nothing
    assert (table["success_rate"] == table["majority_left"].astype(float)).all()


def test_crash_trials_columns_and_outcomes(random_crashes: pd.DataFrame) -> None:
    row = random_crashes[(random_crashes["n"] == 5) & (random_crashes["k"] == 2)].iloc[0]
    assert len(row["crashed"]) == 2 and row["success"] and row["outcome"] == "committed"
    assert row["commit_ms"] >= 0
    dead = random_crashes[random_crashes["k"] == random_crashes["n"]]
    assert not dead["success"].any() and dead["commit_ms"].isna().all()
    assert set(random_crashes["outcome"]) == set(ex.OUTCOMES) - {"bound"}


@pytest.mark.parametrize("victims", ["leader", "followers"])
def test_tolerance_is_the_same_whether_or_not_the_leader_is_among_the_victims(victims: str) -> None:
    trials = ex.crash_trials(range(1, 8), trials=2, victims=victims, seed=3, progress=False)
    assert (trials["leader_crashed"] == (trials["k"] > 0)).all() if victims == "leader" else not trials["leader_crashed"].any()
    if victims == "followers":
        assert (trials["k"] <= trials["n"] - 1).all()
    measured = ex.derived_tolerance(ex.crash_tolerance(trials))
    assert list(measured["measured_tolerance"]) == [(n - 1) // 2 for n in range(1, 8)]


def test_crash_trials_are_reproducible_and_independent_of_the_executor() -> None:
    args = dict(ns=[3, 4], ks=[1, 2], trials=4, seed=9, progress=False)
    serial = ex.crash_trials(**args)
    assert serial.equals(ex.crash_trials(**args))
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert serial.equals(ex.crash_trials(**args, executor=pool))
    assert serial.equals(ex.crash_trials(**args, workers=2))
    assert not serial.equals(ex.crash_trials(**{**args, "seed": 10}))


def test_derived_tolerance_keeps_victim_variants_apart() -> None:
    frames = [ex.crash_trials([3, 4], trials=1, victims=v, progress=False) for v in ("random", "followers")]
    tolerance = ex.derived_tolerance(ex.crash_tolerance(pd.concat(frames, ignore_index=True)))
    assert list(tolerance["victims"]) == ["followers", "followers", "random", "random"]
    assert list(tolerance["measured_tolerance"]) == [1, 1, 1, 1] and tolerance["matches"].all()


def test_crash_tolerance_runs_trials_itself_when_given_arguments() -> None:
    table = ex.crash_tolerance(ns=[2], trials=2, progress=False)
    assert list(table["success_rate"]) == [1.0, 0.0, 0.0]
    assert list(table["majority_left"]) == [True, False, False]


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(ns=0), "cluster size N must be a whole number from 1 to 99"),
    (dict(ns=[]), "at least one cluster size"),
    (dict(ns=[3], ks=[4]), r"k \(crashed nodes\) for N=3 must be a whole number from 0 to 3"),
    (dict(ns=[3], ks=[-1]), "from 0 to 3"),
    (dict(ns=[3], ks=[3], victims="followers"), r"followers \(all nodes but the leader\)\) for N=3 must be a whole number from 0 to 2"),
    (dict(ns=[3], victims="everyone"), "victims must be one of 'random', 'leader', 'followers'"),
    (dict(ns=[3], trials=0), "trials must be a whole number >= 1"),
    (dict(ns=[3], workers=0), "workers must be a whole number >= 1"),
    (dict(ns=[3], bound_ms=0), "bound_ms must be"),
    (dict(ns=[3], stall_ms=100), "stall_ms must be a whole number >= 306"),
    (dict(ns=[3], stall_ms=900, network=Network(drop_rate=0.1)), "stall_ms needs a reliable network"),
])
def test_crash_trials_rejects_bad_input_clearly(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ex.crash_trials(progress=False, **kwargs)


def test_crash_trials_rejects_wrong_types() -> None:
    with pytest.raises(TypeError, match="timing must be a raftedu.Timing"):
        ex.crash_trials(3, timing=(150, 300), progress=False)
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        ex.crash_trials(3, executor="dask", progress=False)


def test_crash_trials_on_a_lossy_network_runs_without_the_stall_rule() -> None:
    trials = ex.crash_trials([3], ks=[0, 2], trials=2, network=Network(delay=(1, 5), drop_rate=0.05),
                             bound_ms=1_500, progress=False)
    assert set(trials["outcome"]) <= {"committed", "bound"}
    assert list(trials.groupby("k")["success"].mean()) == [1.0, 0.0]


def test_tolerance_tables_reject_the_wrong_frames() -> None:
    with pytest.raises(ValueError, match="missing columns"):
        ex.crash_tolerance(pd.DataFrame({"n": [1]}))
    with pytest.raises(ValueError, match="not both"):
        ex.crash_tolerance(pd.DataFrame({"n": [1]}), trials=3)
    with pytest.raises(ValueError, match="needs a crash_tolerance table"):
        ex.derived_tolerance(pd.DataFrame({"n": [1]}))
    with pytest.raises(ValueError, match="threshold must be a probability"):
        ex.derived_tolerance(pd.DataFrame({"n": [1], "k": [0], "success_rate": [1.0]}), threshold=2)


# ---- partitions ----------------------------------------------------------------------


def test_partition_splits_up_to_symmetry_and_exhaustively() -> None:
    assert [(s["sizes"], s["leader_group"]) for s in ex.partition_splits(4)] == [((3, 1), 0), ((3, 1), 1), ((2, 2), 0)]
    assert [s["sizes"] for s in ex.partition_splits(9, 3)].count((3, 3, 3)) == 1
    # Stirling numbers of the second kind: S(4,2)=7, S(4,3)=6, S(10,2)=511, S(10,3)=9330
    assert [len(ex.partition_splits(n, p, "all")) for n, p in [(4, 2), (4, 3), (10, 2), (10, 3)]] == [7, 6, 511, 9330]
    every = ex.partition_splits(4, 2, "all")
    assert all(sorted(i for g in s["groups"] for i in g) == [1, 2, 3, 4] for s in every)


@pytest.mark.parametrize(("args", "message"), [
    ((1, 2), r"1 node\(s\) cannot be split into 2 non-empty groups"),
    ((4, 4), "parts must be 2 or 3"),
    ((4, 2, "some"), "mode must be one of 'sizes', 'all'"),
    ((0, 2), "cluster size N must be"),
])
def test_partition_splits_rejects_bad_input(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ex.partition_splits(*args)


@pytest.fixture(scope="module")
def two_way() -> pd.DataFrame:
    return ex.partition_experiment(range(2, 11), parts=2, seed=2, progress=False)


def test_even_splits_of_even_clusters_leave_no_side_able_to_commit(two_way: pd.DataFrame) -> None:
    for n, sizes in [(4, (2, 2)), (6, (3, 3)), (2, (1, 1)), (10, (5, 5))]:
        rows = two_way[(two_way["n"] == n) & (two_way["sizes"] == sizes)]
        assert len(rows) == 1
        assert not rows["any_progress"].iloc[0] and not rows["has_majority_side"].iloc[0]


def test_odd_clusters_always_keep_a_side_that_commits(two_way: pd.DataFrame) -> None:
    odd = two_way[two_way["n"] % 2 == 1]
    assert set(odd["n"]) == {3, 5, 7, 9}
    assert odd["any_progress"].all()
    assert (odd["progress"].map(sum) == 1).all()  # exactly one side, the majority one


def test_partition_verdicts_agree_with_quorum_arithmetic(two_way: pd.DataFrame) -> None:
    assert two_way["agrees"].all()
    for _, row in two_way.iterrows():
        assert row["progress"] == tuple(len(g) >= majority(row["n"]) for g in row["groups"])
        assert row["leader"] in row["groups"][row["leader_group"]]


def test_a_stale_leader_in_the_minority_commits_nothing(two_way: pd.DataFrame) -> None:
    row = two_way[(two_way["n"] == 5) & (two_way["sizes"] == (3, 2)) & (two_way["leader_group"] == 1)].iloc[0]
    assert row["progress"] == (True, False)


def test_three_way_split_of_nine_into_threes_stops_the_cluster() -> None:
    row = ex.partition_progress(9, [[1, 2, 3], [4, 5, 6]], seed=4).iloc[0]
    assert row["groups"] == ((1, 2, 3), (4, 5, 6), (7, 8, 9))
    assert row["progress"] == (False, False, False) and not row["any_progress"]
    three = ex.partition_experiment([5, 9], parts=3, progress=False)
    assert three["agrees"].all()
    assert not three[three["sizes"] == (3, 3, 3)]["any_progress"].iloc[0]
    assert three[three["sizes"] == (5, 2, 2)]["any_progress"].all()


def test_exhaustive_mode_checks_every_split_of_four() -> None:
    every = ex.partition_experiment([4], parts=2, mode="all", progress=False)
    assert len(every) == 7 and every["agrees"].all()
    assert list(every[~every["any_progress"]]["sizes"]) == [(2, 2)] * 3


@pytest.mark.parametrize(("groups", "message"), [
    ([[1, 2], [2, 3]], "S2 appears in more than one group"),
    ([[1, 5]], "unknown node id 5 in the partition: this 4-node cluster has nodes 1..4"),
    ([[1], []], "must not be empty"),
    ([[1, 2, 3, 4]], "a partition needs at least two groups"),
    ("12", "groups must be a list of node-id lists"),
    ([3], "each group must be a list of node ids"),
])
def test_partition_progress_rejects_invalid_partitions(groups: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ex.partition_progress(4, groups)


def test_partition_experiment_rejects_impossible_requests() -> None:
    with pytest.raises(ValueError, match="N must be >= the number of groups"):
        ex.partition_experiment([1, 2], parts=3, progress=False)
    with pytest.raises(ValueError, match="parts must be 2 or 3"):
        ex.partition_experiment([4], parts=[2, 5], progress=False)


# ---- availability --------------------------------------------------------------------


def test_closed_form_matches_the_quoted_numbers() -> None:
    table = ex.availability_closed_form([3, 4], [0.05]).set_index("n")
    assert table.loc[3, "unavailable"] == pytest.approx(7.25e-3, rel=1e-12)
    assert table.loc[4, "unavailable"] == pytest.approx(1.401875e-2, rel=1e-12)
    assert f"{table.loc[4, 'unavailable']:.2e}" == "1.40e-02"
    assert (table["available"] + table["unavailable"]).tolist() == pytest.approx([1.0, 1.0])
    assert ex.majority_up_probability(5, 0.0) == 1.0 and ex.majority_up_probability(5, 1.0) == 0.0
    assert ex.majority_up_probability(1, 0.3) == pytest.approx(0.7)


def test_even_sizes_are_strictly_less_available_than_the_odd_size_below() -> None:
    ps = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999]
    table = ex.even_odd_availability(ps, ks=range(1, 6))
    assert len(table) == 5 * len(ps) and table["even_worse"].all()
    row = table[(table["k"] == 2) & (table["p"] == 0.05)].iloc[0]
    assert (row["odd_n"], row["even_n"]) == (3, 4)
    assert row["ratio"] == pytest.approx(1.401875e-2 / 7.25e-3)
    assert (table["even_unavailable"] - table["odd_unavailable"]).tolist() == pytest.approx(
        table["extra_risk"].tolist(), rel=1e-9, abs=1e-15)  # the one new way to fail
    assert (table["extra_risk"] > 0).all()
    edges = ex.even_odd_availability([0.0, 1.0], ks=[2])
    assert not edges["even_worse"].any()  # p=0 and p=1 are the only ties


def test_monte_carlo_confidence_interval_contains_the_closed_form() -> None:
    mc = ex.availability_monte_carlo([1, 2, 3, 4, 5, 6], [0.05, 0.2, 0.5], samples=3_000, seed=1,
                                     confidence=0.99, progress=False)
    # A 99% interval misses the truth 1 time in 100 by chance (seed=5 misses N=3, p=0.5 at z=2.85):
    # with this seed all 18 contain it; every seed must keep the quoted cells and nearly all others.
    assert len(mc) == 18 and mc["contains"].all()
    assert mc.set_index(["n", "p"]).loc[[(3, 0.05), (4, 0.05)], "contains"].all()
    other = ex.availability_monte_carlo([3, 4], [0.05, 0.5], samples=3_000, seed=5, confidence=0.99, progress=False)
    assert other["contains"].sum() >= 3
    assert ((mc["ci_low"] <= mc["unavailable"]) & (mc["unavailable"] <= mc["ci_high"])).all()
    assert (mc["simulations"] <= 2 ** mc["n"]).all()
    again = ex.availability_monte_carlo([3], [0.2], samples=500, seed=5, progress=False)
    assert again.equals(ex.availability_monte_carlo([3], [0.2], samples=500, seed=5, progress=False, workers=2))


def test_wilson_interval() -> None:
    low, high = ex.wilson_interval(0, 100)
    assert low == 0.0 and 0 < high < 0.05
    low, high = ex.wilson_interval(50, 100, 0.95)
    assert low < 0.5 < high and high - low == pytest.approx(0.19, abs=0.01)
    with pytest.raises(ValueError, match="confidence must be strictly between 0 and 1"):
        ex.wilson_interval(1, 2, 1.0)
    with pytest.raises(ValueError, match="successes must be a whole number from 0 to 2"):
        ex.wilson_interval(3, 2)


@pytest.mark.parametrize("p", [-0.1, 1.5, "half", True])
def test_availability_rejects_p_outside_0_1(p: object) -> None:
    message = "must be a probability between 0 and 1"
    with pytest.raises(ValueError, match=message):
        ex.majority_up_probability(3, p)
    with pytest.raises(ValueError, match=message):
        ex.availability_closed_form([3], [0.1, p])
    with pytest.raises(ValueError, match=message):
        ex.availability_monte_carlo([3], [p], samples=10, progress=False)
    with pytest.raises(ValueError, match=message):
        ex.even_odd_availability([p])


def test_availability_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="cluster size N must be a whole number from 1 to 99"):
        ex.majority_up_probability(0, 0.1)
    with pytest.raises(ValueError, match="samples must be a whole number >= 1"):
        ex.availability_monte_carlo([3], [0.1], samples=0, progress=False)
    with pytest.raises(ValueError, match="at least one failure probability"):
        ex.availability_closed_form([3], [])


# ---- time to recover -------------------------------------------------------------------


def test_recovery_times_after_a_leader_crash() -> None:
    rec = ex.recovery_times([1, 2, 3, 5], timeouts=[(150, 300), (600, 1200)], trials=8, heartbeat=50, progress=False)
    assert len(rec) == 2 * 4 * 8
    small = rec[rec["n"] <= 2]
    assert not small["recovered"].any() and small["election_ms"].isna().all()
    big = rec[rec["n"] >= 3]
    assert big["recovered"].all()
    assert (big["election_ms"] > 0).all() and (big["commit_ms"] >= big["election_ms"]).all()
    medians = big.groupby("timeout_low")["election_ms"].median()
    assert medians[600] > 2 * medians[150]  # a 4x longer timeout makes recovery clearly slower


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(timeouts=[(40, 80)], heartbeat=50), "heartbeat .* must be below the election timeout's low end"),
    (dict(timeouts=[(150,)]), "must be \\(low, high\\)"),
    (dict(timeouts=[(300, 150)]), "election_timeout must be two whole milliseconds low < high"),
    (dict(timeouts=[]), "at least one election timeout range"),
    (dict(ns=[0]), "cluster size N"),
])
def test_recovery_times_rejects_bad_input(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ex.recovery_times(**{"ns": [3], "trials": 1, "progress": False, **kwargs})


def test_timing_is_configurable_everywhere() -> None:
    fast = Timing(election_timeout=(50, 100), heartbeat=10)
    trials = ex.crash_trials([3], ks=[1], trials=2, timing=fast, victims="leader", progress=False)
    assert trials["success"].all() and (trials["new_leader_ms"] < 2 * 100 + 50).all()


def test_unknown_options_are_refused_with_the_allowed_names() -> None:
    with pytest.raises(TypeError, match="unknown option.* worker; allowed here: timing, network, bound_ms"):
        ex.crash_trials([3], worker=2)
    with pytest.raises(TypeError, match="unknown option.* timing; allowed here: network"):
        ex.recovery_times([3], timing=Timing())
    assert set(ex.SWEEP_OPTIONS) == {"timing", "network", "bound_ms", "stall_ms", "workers", "executor", "progress"}


def test_chain_design_crashes_one_more_node_at_a_time_and_finds_the_same_tolerance() -> None:
    chain = ex.crash_trials(range(1, 11), trials=2, design="chain", seed=4, progress=False)
    assert len(chain) == 2 * sum(n + 1 for n in NS)
    assert list(ex.derived_tolerance(ex.crash_tolerance(chain))["measured_tolerance"]) == [(n - 1) // 2 for n in NS]
    one = chain[(chain["n"] == 5) & (chain["trial"] == 0)].sort_values("k")
    assert one["seed"].nunique() == 1  # one cluster per (N, trial)
    victims = list(one["crashed"])
    assert all(set(a) < set(b) for a, b in zip(victims, victims[1:]))  # each k adds one victim
    with pytest.raises(ValueError, match="design must be one of 'independent', 'chain'"):
        ex.crash_trials([3], design="serial", progress=False)


def test_a_failing_trial_is_raised_not_hidden() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool, pytest.raises(RuntimeError, match="give a larger bound_ms"):
        ex.crash_trials([3], trials=4, bound_ms=1, executor=pool, progress=False)
    with pytest.raises(RuntimeError, match="did not commit within bound_ms=1"):
        ex.recovery_times([3], trials=1, bound_ms=1, progress=False)


# ---- the simulator's halves of lesson 13's side-by-side experiments (raftedu.etcd runs the same on etcd) -----------


def test_minority_leader_trial_steps_down_only_with_check_quorum() -> None:
    off, on = (ex.minority_leader_trial(check_quorum=cq, seed=1) for cq in (False, True))
    assert not off["stepped_down"] and off["leaders_at_end"] == 2 and off["new_leader"] not in (None, off["old_leader"])
    assert on["stepped_down"] and on["leaders_at_end"] == 1 and on["new_leader"] not in (None, on["old_leader"])
    low = ex.ETCD_LAB_TIMING.election_timeout[0]
    assert low <= on["stepped_down_ms"] <= low + ex.ETCD_LAB_TIMING.heartbeat  # §6.2 at the first heartbeat after it


def test_catch_up_trial_sends_entries_within_the_tail_and_one_snapshot_beyond_it() -> None:
    near, far = ex.catch_up_trial(1000), ex.catch_up_trial(7000)
    assert near["behind"] == 1000 and far["behind"] == 7000
    assert near["first_kept"] <= near["missed_from"] and near["snapshots_sent"] == 0
    assert far["first_kept"] > far["missed_from"] and far["snapshots_sent"] == 1
    assert far["snapshot_index"] - far["first_kept"] == 4999  # the tail: 5,000 entries up to the snapshot, as etcd
    assert near["same_state"] and far["same_state"]
    without_tail = ex.catch_up_trial(1000, snapshot_tail=0)
    assert without_tail["snapshots_sent"] == 1 and without_tail["same_state"]
    with pytest.raises(ValueError, match="lag must be a whole number of requests from 0 to 50,000"):
        ex.catch_up_trial(-1)
