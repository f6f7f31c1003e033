"""raftedu.explore: the shortest run that breaks a server (search, shrink, replay) and the small-scope model check."""

from __future__ import annotations

import concurrent.futures

import pytest

from raftedu import RaftNode
from raftedu.checks import PROPERTIES
from raftedu.explore import (Counterexample, _walk, find_counterexample, one_minimal, replay_line, shrink,
                             story_schedules)
from tests.mutants import NODE_MUTANTS, AppliesTwice, CountsOldTermVotes, VolatileVote

SAFETY_MUTANTS = [m for m in NODE_MUTANTS if m.what != "slower"]
QUICK = {"counts vote replies from an older term", "applies an entry twice without reporting it",
         "skips an entry without reporting it", "keeps votedFor in volatile state"}


def _same(a, b) -> None:
    assert a is not None and b is not None
    assert (a.property, a.time, a.event, a.detail) == (b.property, b.time, b.event, b.detail)


@pytest.mark.parametrize("mutant", [pytest.param(m, id=m.name, marks=() if m.name in QUICK else pytest.mark.slow)
                                    for m in SAFETY_MUTANTS])
def test_each_safety_mutant_gets_a_short_one_minimal_counterexample_that_replays(mutant):
    ce = find_counterexample(mutant.node_class, budget_s=60)
    assert ce is not None, f"{mutant.name}: no counterexample within 60 s"
    assert ce.property in PROPERTIES
    assert 1 <= len(ce.schedule) <= 12, ce
    assert one_minimal(ce), ce
    first, again = ce.replay(), ce.replay()
    _same(first, again)
    assert first.property == ce.property
    # the schedule is plain data a Cluster accepts, and the cluster's trace is the same at each replay
    assert ce.cluster().trace.digest() == ce.cluster().trace.digest()


def test_the_reference_node_yields_none():
    assert find_counterexample(RaftNode, budget_s=60, max_runs=400) is None


def test_a_walk_and_the_replay_of_its_schedule_are_the_same_run():
    checked = 0
    for index in range(40):
        schedule, prop, _ = _walk((AppliesTwice, 3, "none", 0, index, ()))
        ce = Counterexample(AppliesTwice, 3, schedule, prop or "")
        violation = ce.replay()
        assert (violation.property if violation else None) == prop
        checked += prop is not None
    assert checked, "none of the 40 walks broke anything: the check above compared only quiet runs"


def test_the_search_is_deterministic_and_the_same_on_executors():
    alone = find_counterexample(AppliesTwice, seed=3, budget_s=60)
    again = find_counterexample(AppliesTwice, seed=3, budget_s=60)
    assert alone is not None and alone == again
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert find_counterexample(AppliesTwice, seed=3, budget_s=60, executor=pool) == alone
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        assert find_counterexample(AppliesTwice, seed=3, budget_s=60, executor=pool) == alone
    assert alone.stats.runs >= 1 and alone.stats.found_items >= len(alone.schedule)


def test_the_search_on_a_local_dask_cluster_gives_the_same_result():
    distributed = pytest.importorskip("distributed")
    alone = find_counterexample(CountsOldTermVotes, seed=1, budget_s=60)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc, \
            distributed.Client(lc) as client:
        assert find_counterexample(CountsOldTermVotes, seed=1, budget_s=60, executor=client) == alone


def test_shrink_makes_a_long_failing_schedule_one_minimal():
    story = story_schedules(3)["restart_between_votes"]
    padded = ((0, "request", "x"), *story, (40, "heal"), (41, "timeout_now", 3), (90, "request", "y"))
    ce = Counterexample.of(VolatileVote, 3, padded)
    assert ce.property == "One vote per term"
    small = shrink(ce)
    assert len(small.schedule) < len(padded) and one_minimal(small)
    assert not one_minimal(ce)  # the check can fail: the padded schedule has items that can go
    assert small.replay().property == ce.property


def test_replay_line_runs_as_printed():
    ce = find_counterexample(CountsOldTermVotes, budget_s=60)
    line = replay_line(CountsOldTermVotes, ce.n, ce.schedule)
    assert line == ce.line and "CountsOldTermVotes" in line
    statement, call = line.rsplit(".explain()", 1)[0].split("; ", 1)
    env = {"CountsOldTermVotes": CountsOldTermVotes}
    exec(statement, env)
    again = eval(call, env)
    assert again == Counterexample(CountsOldTermVotes, ce.n, ce.schedule, ce.property)


@pytest.mark.parametrize("kwargs, message", [
    (dict(node_class=int), "node_class must be RaftNode"),
    (dict(sizes=()), "sizes must be cluster sizes"),
    (dict(sizes=(0,)), "sizes must be cluster sizes"),
    (dict(budget_s=0), "budget_s must be"),
    (dict(features="some"), "features must be one of"),
])
def test_bad_input_is_refused_with_what_is_allowed(kwargs, message):
    args = dict(node_class=RaftNode) | kwargs
    with pytest.raises((ValueError, TypeError), match=message):
        find_counterexample(**args)


def test_of_refuses_a_schedule_that_breaks_nothing():
    with pytest.raises(ValueError, match="breaks no safety property"):
        Counterexample.of(RaftNode, 3, [(0, "timeout_now", 1)])


def test_explain_names_the_students_method_and_the_step_that_broke_it():
    from raftedu.viz import explain_figure, explain_figures

    ce = find_counterexample(CountsOldTermVotes, budget_s=60)
    x = ce.explain()
    assert x.violation.property == ce.property == "Leader elected by a majority"
    last = x.trace.events[x.culprits[-1]]
    assert last == x.violation.event
    # the leader's role event came from the overridden handler, which the words mark as the student's
    assert x.methods[x.culprits[-1]] == "handle_request_vote_reply → become_leader"
    assert "`handle_request_vote_reply` (yours) → `become_leader`" in x.paragraph
    assert x.trace.events[x.culprits[0]].kind == "deliver"  # the step starts at the vote reply it counted
    assert len(x.story) == len(ce.schedule) and ce.line in x.paragraph
    assert x.moments[-1] == x.violation.time
    fig = explain_figure(x)
    rings = [t for t in fig.data if t.name == "the step that broke it (ringed)"]
    assert rings and len(rings[0].x) == len([k for k in x.culprits if x.trace.events[k].node is not None])
    assert len(explain_figures(x, pictures=2)) == 3


def test_explain_attributes_events_across_restarts():
    story = story_schedules(3)["restart_between_votes"]
    x = Counterexample.of(VolatileVote, 3, story).explain()
    restarted = [k for k, e in enumerate(x.trace.events) if e.kind == "restart"]
    assert restarted
    after = [k for k in x.methods if k > restarted[0] and x.trace.events[k].node == 3]
    assert after, "S3's events after its restart got no method"
    assert all(isinstance(x.methods[k], str) and x.methods[k] for k in after)
