"""The core's own mutants (tests/mutants.py NODE_MUTANTS): each is caught by the check meant for it, the reference is not."""

from __future__ import annotations

import pytest

from mutants import NODE_MUTANTS, NodeMutant  # tests/ is on sys.path (conftest.py)
from raftedu import Cluster, RaftNode, SafetyViolation, scenarios
from raftedu.scenarios import ScriptError


def healthy(node_class: type[RaftNode]) -> Cluster:
    """Three healthy nodes serve five requests."""
    c = Cluster(3, seed=4, node_class=node_class)
    c.run_until(lambda c: c.leader() is not None, 2_000)
    for k in range(5):
        c.request(f"cmd{k}")
        c.run(30)
    c.run(200)
    return c


def run(where: str, node_class: type[RaftNode]) -> Cluster:
    kind, _, name = where.partition(":")
    return healthy(node_class) if name == "healthy" else getattr(scenarios, name)(node_class)


SAFETY = [m for m in NODE_MUTANTS if m.where not in ("liveness", "churn")]


@pytest.mark.parametrize("where", sorted({m.where for m in SAFETY}))
def test_the_reference_passes_every_check_a_mutant_is_meant_to_fail(where: str) -> None:
    c = run(where, RaftNode)
    assert c.trace and all(r.status == "committed" for r in c.requests if r.command in ("z", "cmd4", "y"))


@pytest.mark.parametrize("mutant", SAFETY, ids=lambda m: m.name)
def test_each_safety_mutant_breaks_the_property_meant_for_it(mutant: NodeMutant) -> None:
    if mutant.what == "ScriptError":  # a liveness promise of the script: it stops, saying where
        with pytest.raises(ScriptError):
            run(mutant.where, mutant.node_class)
        return
    with pytest.raises(SafetyViolation) as caught:
        run(mutant.where, mutant.node_class)
    assert caught.value.property == mutant.what, str(caught.value)


@pytest.mark.parametrize("mutant", [m for m in NODE_MUTANTS if m.sweep], ids=lambda m: m.name)
def test_the_sweep_with_every_extension_catches_it_too(mutant: NodeMutant) -> None:
    from raftedu.sweep import run_seed

    n, seed = mutant.sweep
    caught = run_seed(n, seed, node_class=mutant.node_class, features="all")
    if mutant.what == "ScriptError":  # a liveness promise: the sweep's run does not recover
        assert caught.violation is None and not caught.live, caught
    else:
        assert caught.violation is not None and caught.violation.startswith(mutant.what), caught
    reference = run_seed(n, seed, features="all")
    assert reference.violation is None and reference.live, reference


def test_leader_churn_flags_a_vote_without_timer_reset_and_nothing_correct() -> None:
    """Quantitative liveness (§5.2) on a lossy network: a correct node that draws differently is not flagged."""
    [mutant] = [m for m in NODE_MUTANTS if m.where == "churn"]
    mine, reference, limit, flagged = scenarios.compare_leader_churn(mutant.node_class)
    assert flagged and mine > limit > reference >= 1, (mine, reference, limit)
    other = scenarios.leaders_per_election(DrawsDifferently)
    assert reference != other <= limit, (other, reference, limit)


class DrawsDifferently(RaftNode):
    """Correct, but draws one more random number per timer reset: other timeouts from the same distribution."""

    def reset_election_timer(self) -> None:
        self.rng.random()
        super().reset_election_timer()


def test_liveness_comparison_flags_nothing_for_correct_nodes() -> None:
    from raftedu.sweep import compare_liveness

    same = compare_liveness(RaftNode, seeds=range(30))
    assert not same.flagged and same.runs == 60
    assert all(cand == ref for cand, ref, _ in same.metrics.values())
    other = compare_liveness(DrawsDifferently, seeds=range(30))
    assert not other.flagged, other.slower
    assert any(cand != ref for cand, ref, _ in other.metrics.values()), "a different node must give different runs"


@pytest.mark.parametrize("mutant", [m for m in NODE_MUTANTS if m.where == "liveness"], ids=lambda m: m.name)
def test_each_slow_mutant_is_flagged_by_the_liveness_comparison(mutant: NodeMutant) -> None:
    from raftedu.sweep import compare_liveness

    report = compare_liveness(mutant.node_class, seeds=range(30))
    assert report.flagged and report.runs == 60, report.metrics
    assert any("recovery" in reason for reason in report.slower)
