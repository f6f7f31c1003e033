"""raftedu.explore: the shortest run that breaks a server (search, shrink, replay) and the small-scope model check."""

from __future__ import annotations

import concurrent.futures

import pytest

from raftedu import RaftNode
from raftedu.checks import PROPERTIES
from raftedu.explore import (Counterexample, _walk, find_counterexample, one_minimal, replay_line, shrink,
                             story_schedules)
from mutants import (NODE_MUTANTS, AppliesTwice, CountsOldTermVotes, KeepsOldMatchIndex,  # tests/ is on sys.path
                     TakesOldReplies, VolatileVote)  # (conftest.py)

SAFETY_MUTANTS = [m for m in NODE_MUTANTS if m.what in PROPERTIES]  # Figure 3 and the monitor's extras; not the extensions'
QUICK = {"counts vote replies from an older term", "applies an entry twice without reporting it",
         "skips an entry without reporting it", "keeps votedFor in volatile state"}
CRASHES_FIRST = {"uses AppendEntries replies from an earlier leadership"}
"""Found as the IndexError its stale nextIndex causes (a Node failure) before the property (tests/mutants.py,
_NextIndexInLog, says why it is left so); explain() names the stale reply its method took."""
RUNS_IN_A_MINUTE = 2_500
"""The done-when's 60 s as runs, the same on any machine: benchmarks/bench_explore.py measured the slowest search,
on 5 servers, at 42 runs/s on the shared 2-core machine at load 9 (2026-12-07): 60 s is about 2,500 runs. Search
and shrink together must stay within them."""


def _same(a, b) -> None:
    assert a is not None and b is not None
    assert (a.property, a.time, a.event, a.detail) == (b.property, b.time, b.event, b.detail)


@pytest.mark.parametrize("mutant", [pytest.param(m, id=m.name, marks=() if m.name in QUICK else pytest.mark.slow)
                                    for m in SAFETY_MUTANTS])
def test_each_safety_mutant_gets_a_short_one_minimal_counterexample_that_replays(mutant):
    # The search takes its runs in a fixed order, so what it finds does not depend on speed; the budget here is only
    # a cap (tests assert no timings: benchmarks/bench_explore.py measures the time, within 60 s on this machine).
    ce = find_counterexample(mutant.node_class, budget_s=600, max_runs=RUNS_IN_A_MINUTE)
    assert ce is not None, f"{mutant.name}: no counterexample within {RUNS_IN_A_MINUTE} runs"
    assert ce.stats.runs + ce.stats.shrink_runs <= RUNS_IN_A_MINUTE, ce.stats
    assert ce.property == ("Node failure" if mutant.name in CRASHES_FIRST else mutant.what), ce
    assert 1 <= len(ce.schedule) <= 12, ce
    assert one_minimal(ce), ce
    first, again = ce.replay(), ce.replay()
    _same(first, again)
    assert first.property == ce.property
    # the schedule is plain data a Cluster accepts, and the cluster's trace is the same at each replay
    assert ce.cluster().trace.digest() == ce.cluster().trace.digest()


def test_the_reference_node_yields_none():
    assert find_counterexample(RaftNode, budget_s=600, max_runs=400) is None  # 400 runs, whatever the speed


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
    alone = find_counterexample(AppliesTwice, seed=3, budget_s=600)
    again = find_counterexample(AppliesTwice, seed=3, budget_s=600)
    assert alone is not None and alone == again
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert find_counterexample(AppliesTwice, seed=3, budget_s=600, executor=pool) == alone
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        assert find_counterexample(AppliesTwice, seed=3, budget_s=600, executor=pool) == alone
    assert alone.stats.runs >= 1 and alone.stats.found_items >= len(alone.schedule)


def test_the_search_on_a_local_dask_cluster_gives_the_same_result():
    distributed = pytest.importorskip("distributed")
    alone = find_counterexample(CountsOldTermVotes, seed=1, budget_s=600)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc, \
            distributed.Client(lc) as client:
        assert find_counterexample(CountsOldTermVotes, seed=1, budget_s=600, executor=client) == alone


def test_shrink_makes_a_long_failing_schedule_one_minimal():
    story = story_schedules(3)["restart_between_votes"]
    padded = ((0, "request", "x"), *story, (40, "heal"), (41, "timeout_now", 3), (90, "request", "y"))
    ce = Counterexample.of(VolatileVote, 3, padded)
    assert ce.property == "One vote per term"
    small = shrink(ce)
    assert len(small.schedule) < len(padded) and one_minimal(small)
    assert not one_minimal(ce)  # the check can fail: the padded schedule has items that can go
    assert small.replay().property == ce.property


def test_shrink_turns_a_slow_spell_into_one_late_message():
    # a run the search found before one-message items existed: the slow spell is two items (there and back)
    spell = [(0, "timeout_now", 1), (2, "request", "base"), (22, "request", "old2"), (22, "request", "old3"),
             (22, "partition", [1, 2]), (52, "set_network", {"delay": (300, 300)}),
             (53, "set_network", {"delay": (1, 1)}), (53, "timeout_now", 3), (55, "request", "new"), (55, "heal"),
             (106, "timeout_now", 1)]
    small = shrink(Counterexample.of(TakesOldReplies, 5, spell))
    assert [item[1:] for item in small.schedule if item[1] in ("set_network", "delay_next")] == [
        ("delay_next", 2, 1, 299, "AppendEntriesReply")], small  # the spell's one message that matters
    assert len(small.schedule) <= len(spell) - 2 and one_minimal(small)
    paragraph = small.explain().paragraph  # the student's method is named with the stale reply it took
    assert ("`handle_append_entries_reply` last ran for S1" in paragraph
            and "received AppendEntriesReply of term 1 from S2" in paragraph and "earlier term" in paragraph), paragraph


def test_shrink_makes_cuts_from_one_server_one_partition():
    twelve = [(0, "timeout_now", 1), (2, "request", "old2"), (2, "request", "old3"), (2, "partition", [1, 2]),
              (2, "timeout_now", 3), (4, "request", "new"), (4, "heal"), (55, "crash", 3), (55, "timeout_now", 1),
              (57, "cut", 1, 2), (57, "cut", 1, 4), (57, "request", "v6")]
    ce = Counterexample.of(KeepsOldMatchIndex, 5, twelve)
    assert one_minimal(ce)  # no single item can go: the two cuts are one fault told twice
    small = shrink(ce)
    assert small.schedule == (*twelve[:9], (57, "partition", [1, 3, 5]), (57, "request", "v6")), small
    assert small.property == ce.property == "Committed entries on a majority" and one_minimal(small)


def test_a_shrink_stopped_by_its_budget_still_breaks_the_property():
    story = story_schedules(3)["restart_between_votes"]
    padded = ((0, "request", "x"), *story, (40, "heal"), (41, "timeout_now", 3), (90, "request", "y"))
    ce = Counterexample.of(VolatileVote, 3, padded)
    cut = shrink(ce, max_runs=12)
    assert cut.stats.shrink_runs == 12 and not cut.stats.minimal
    assert len(cut.schedule) < len(padded) and cut.replay().property == ce.property
    assert shrink(ce).stats.minimal
    with pytest.raises(ValueError, match="max_runs must be a number > 0"):
        shrink(ce, max_runs=0)


def test_a_recorded_run_replays_with_its_own_seed_timing_network_and_checks():
    from raftedu import Network, Timing
    from raftedu.explore import Recorder, replay

    c = Recorder(3, seed=7, node_class=VolatileVote, timing=Timing(), network=Network(delay=(2, 9)),
                 schedule=[(400, "crash", 1)])
    c.run(300)
    c.request("a", node=c.leader())  # a keyword argument becomes a positional one in the schedule
    c.run(400)
    args = c.replay_args()
    assert args["schedule"][0] == [300, "request", "a", c.leader()] and args["schedule"][1] == [400, "crash", 1]
    assert (args["seed"], args["until"], args["up_to_date_check"]) == (7, 700, False)
    again = Recorder(3, node_class=VolatileVote, seed=7, timing=Timing(), network=Network(delay=(2, 9)),
                     schedule=[tuple(item) for item in args["schedule"]])
    again.run(700)
    assert again.trace.digest() == c.trace.digest()
    with pytest.raises(ValueError, match="breaks no safety property"):
        replay(VolatileVote, **args)


def test_replay_line_runs_as_printed():
    ce = find_counterexample(CountsOldTermVotes, budget_s=600)
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

    ce = find_counterexample(CountsOldTermVotes, budget_s=600)
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


# ---- model_check -------------------------------------------------------------------------------------------------

from raftedu.explore import model_check  # noqa: E402


class LengthOnly(RaftNode):
    """Lesson 05's first broken rule: votes by log length only (§5.4.1 without the terms)."""

    def log_is_up_to_date(self, last_log_index, last_log_term):
        return last_log_index >= self.last_log_index


class CountsOldReplicas(RaftNode):
    """Lesson 05's second broken rule: commits any entry stored on a majority, whatever its term (§5.4.2 without the
    term check)."""

    def advance_commit_index(self):
        for n in range(self.last_log_index, self.commit_index, -1):
            if 1 + sum(self.match_index[p] >= n for p in self.peers) >= self.quorum:
                self.set_commit_index(n, "counts replicas of old-term entries")
                return


# §5.4.1's stage: S1, cut off, holds 3 entries of term 1; S2 and S3 committed one of term 2; S1 has heard of term 2
LONGER_LOG = (story_schedules(3)["longer_log_older_term"][:-1], 130)
# §5.4.2's stage: x (term 1) only on S1, y (term 2) only on S2; S1 and S3 can talk, S2 is cut off
OLD_TERM_ENTRY = (((0, "timeout_now", 1), (10, "isolate", 1), (10, "request", "x"), (10, "timeout_now", 2),
                   (20, "isolate", 2), (20, "request", "y"), (20, "partition", [1, 3], [2])), 100)


def test_model_check_finds_nothing_wrong_with_the_reference_from_a_fresh_cluster():
    result = model_check(RaftNode, 3, depth=4)
    assert result.complete and result.counterexample is None and result.depth == 4
    assert result.states > 100 and result.transitions >= result.states - 1
    assert "no violation up to depth 4" in str(result)


@pytest.mark.parametrize("broken, stage, prop, at_most, rule", [
    (LengthOnly, LONGER_LOG, "Leader Completeness", 3, "log_is_up_to_date"),
    (CountsOldReplicas, OLD_TERM_ENTRY, "Up-to-date logs hold what is committed", 8, "advance_commit_index"),
])
def test_model_check_finds_each_lesson_05_broken_rule_and_holds_for_the_reference(broken, stage, prop, at_most, rule):
    start, until = stage
    found = model_check(broken, 3, depth=at_most, start=start, until=until)
    ce = found.counterexample
    assert ce is not None and ce.property == prop and len(ce.schedule) <= at_most and ce.stepped
    _same(ce.replay(), ce.replay())
    assert model_check(broken, 3, depth=len(ce.schedule) - 1, start=start, until=until).counterexample is None
    words = ce.explain().paragraph
    assert f"`{rule}` (yours)" in words or f"Your `{rule}` last ran" in words, words
    statement, call = ce.line.rsplit(".explain()", 1)[0].split("; ", 1)
    env = {broken.__name__: broken}
    exec(statement, env)
    assert eval(call, env) == ce  # the line to paste rebuilds the same run
    reference = model_check(RaftNode, 3, depth=at_most, start=start, until=until)
    assert reference.complete and reference.counterexample is None


def test_model_check_on_an_executor_gives_the_same_result():
    start, until = LONGER_LOG
    alone = model_check(LengthOnly, 3, depth=3, start=start, until=until)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        other = model_check(LengthOnly, 3, depth=3, start=start, until=until, executor=pool)
    assert (other.states, other.transitions, other.counterexample) == (alone.states, alone.transitions,
                                                                        alone.counterexample)


def test_model_check_reads_the_messages_in_flight_from_the_simulator():
    from raftedu.explore import _replay_steps

    c = _replay_steps(RaftNode, 3, [("timeout_now", 1)])
    assert [type(m).__name__ for _, m in c.in_flight()] == ["RequestVote", "RequestVote"]
    msg_id = c.in_flight()[0][0]
    c.deliver_now(msg_id, keep=True)
    assert len(c.in_flight()) == 3  # the copy stayed on the wire and S2's reply left
    assert c.trace.events[-1].kind in ("send", "timer", "vote")


def test_model_check_refuses_bad_bounds_and_a_start_that_already_breaks():
    with pytest.raises(ValueError, match="depth must be a whole number"):
        model_check(RaftNode, 3, depth=-1)
    with pytest.raises(ValueError, match="n must be a cluster size from 1 to 5"):
        model_check(RaftNode, 7)
    with pytest.raises(ValueError, match="the start schedule itself breaks"):
        model_check(LengthOnly, 3, depth=1, start=story_schedules(3)["longer_log_older_term"], until=200)


def test_counterexample_line_for_feedback_shrinks_a_failing_schedule_or_searches():
    from raftedu.explore import counterexample_line

    story = story_schedules(3)["restart_between_votes"]
    padded = ((0, "request", "x"), *story, (90, "request", "y"))
    line = counterexample_line(VolatileVote, 3, padded, seed=5)
    assert line.startswith("import raftedu.explore; raftedu.explore.replay(VolatileVote, n=3, schedule=[")
    assert line.endswith(", seed=5).explain()")
    statement, call = line.rsplit(".explain()", 1)[0].split("; ", 1)
    env = {"VolatileVote": VolatileVote}
    exec(statement, env)
    ce = eval(call, env)
    assert ce.property == "One vote per term" and one_minimal(ce) and len(ce.schedule) < len(padded)
    assert counterexample_line(CountsOldTermVotes, 5, budget_s=600) is not None
    assert counterexample_line(RaftNode, 3, budget_s=1) is None
    with pytest.raises(ValueError, match="breaks no safety property"):
        counterexample_line(RaftNode, 3, story)


def test_a_model_check_counterexample_is_drawn_from_where_its_steps_began():
    from raftedu.viz import explain_figure

    start, until = LONGER_LOG
    x = model_check(LengthOnly, 3, depth=3, start=start, until=until).counterexample.explain()
    assert x.since == until and len(x.story) == 3 and x.story[1].startswith("deliver RequestVote S1→S3")
    fig = explain_figure(x)
    assert fig.layout.xaxis.range[0] == until - 2


def test_features_all_searches_with_etcds_options_on():
    assert find_counterexample(RaftNode, features="all", max_runs=48) is None
    ce = find_counterexample(AppliesTwice, features="all", budget_s=600)
    assert ce is not None and ce.features == "all" and ce.replay().property == ce.property
    assert "features='all'" in ce.line


def test_a_model_check_heartbeat_reaches_every_follower_whenever_each_was_last_sent_to():
    from raftedu.explore import _replay_steps

    c = _replay_steps(RaftNode, 3, [("timeout_now", 1)])
    for _ in range(2):  # the vote requests, then the votes: S1 leads and sends its first AppendEntries
        for msg_id, _m in list(c.in_flight()):
            c.deliver_now(msg_id)
    assert c.nodes[1].role == "leader"
    c.nodes[1].sent_at[2] -= 30  # as if S2 had been sent to earlier than S3: only S2 would be due at the deadline
    before = {msg_id for msg_id, _ in c.in_flight()}
    c.heartbeat_now(1)
    new = [m for msg_id, m in c.in_flight() if msg_id not in before]
    assert sorted((type(m).__name__, m.dst) for m in new) == [("AppendEntries", 2), ("AppendEntries", 3)]


@pytest.mark.parametrize("name", ["figure_8", "longer_log_older_term", "shorter_log_same_term",
                                  "stale_replies_across_reelection", "restart_between_votes",
                                  "crash_after_acknowledging", "vote_replies_delayed_across_reelection"])
def test_a_recorded_story_replays_as_its_script_ran(name):
    from raftedu import scenarios
    from raftedu.explore import _cluster

    script = scenarios.__dict__[name]
    ran = script(RaftNode, seed=0)
    schedule = story_schedules(ran.n)[name]
    again = _cluster(RaftNode, ran.n, schedule, "none")
    again.run(ran.now)

    def state(c):
        return [(i, None) if c.nodes[i] is None else
                (i, c.nodes[i].role, c.nodes[i].current_term, c.nodes[i].voted_for, list(c.nodes[i].log),
                 c.nodes[i].commit_index) for i in c.ids]

    assert state(again) == state(ran)
    assert [r.status for r in again.requests] == [r.status for r in ran.requests]
