"""Fair verdicts (issue 23, item 7): a judge checks its scenario's setup before the outcome, says so when the setup
did not happen, and its hint names the rule actually broken.

The case that showed the flaw: a server that does not restart its election timer when it grants a vote. In
``fast_backup`` (seed 344802) its elections kept failing, so the three servers meant to commit kept0..kept49 never
did; the old leader later won a fair election and committed its own entries, and the judge, checking the outcome
first, blamed the commit rule ("committed without a majority storing it"). And the Figure 8 mistake (a leader that
commits an earlier term's entry by counting replicas) kept 47 of 49 points with a hint naming only the safety
property it broke, not the rule.
"""

from __future__ import annotations

import pytest
from mutants06 import MUTANTS06  # tests/ is on sys.path (conftest.py)

from raftedu import Event, RaftNode, RequestVoteReply, grading
from raftedu.grading.core import Failed
from raftedu.grading.kv_store import KVFacts
from raftedu.grading.observe import decode_events
from raftedu.grading.scenarios import (
    SHORTEST_TIMEOUT,
    Facts,
    apply_lag,
    judge_scenario,
    likely_cause,
    old_term_commits,
    probe_scenario,
    split_votes,
    timer_slips,
)

TIMER_RULE = "a server that grants a vote must restart its election timer (Figure 2, Rules for Followers; §5.2)"
COMMIT_RULE = ("a leader commits by counting replicas only an entry of its current term, and the earlier ones with it "
               "(Figure 2, Rules for Leaders; §5.4.2, Figure 8)")
KEEPS_TIMER = next(m.node_class for m in MUTANTS06 if m.name == "timer not restarted on granting a vote")


START = Event(0, "start", value={"n": 3})


def _grant(time: int, voter: int, candidate: int, term: int) -> Event:
    return Event(time, "send", voter, term, msg=RequestVoteReply(term, voter, candidate, True))


def _stands(time: int, node: int, term: int) -> Event:
    return Event(time, "vote", node, term, peer=node, value=True)


def test_a_server_standing_sooner_than_a_timeout_after_granting_its_vote_is_a_timer_slip() -> None:
    events = [START, _grant(100, 3, 1, 1), _stands(100 + SHORTEST_TIMEOUT - 1, 3, 2)]
    assert timer_slips(events) == [(100 + SHORTEST_TIMEOUT - 1, 3, 2, 100, 1)]
    said = likely_cause(events)
    assert "S3 granted its vote to S1 at 100 ms and stood for election itself (term 2)" in said and TIMER_RULE in said


def test_a_full_timeout_after_the_grant_a_crash_or_a_refusal_is_no_slip() -> None:
    assert timer_slips([_grant(100, 3, 1, 1), _stands(100 + SHORTEST_TIMEOUT, 3, 2)]) == []
    assert timer_slips([_grant(100, 3, 1, 1), Event(120, "restart", 3), _stands(130, 3, 2)]) == []
    refused = Event(100, "send", 3, 1, msg=RequestVoteReply(1, 3, 1, False))
    assert timer_slips([START, refused, _stands(130, 3, 2)]) == []
    assert likely_cause([START, refused, _stands(130, 3, 2)]) == ""


def test_a_setup_failure_names_the_broken_rule_only_where_elections_run_on_timers() -> None:
    events = [START, _grant(100, 3, 1, 1), _stands(110, 3, 2)]
    assert TIMER_RULE in Facts(events, []).cause()
    assert Facts(events, [], timers=False).cause() == ""  # a script forces elections with timeout_now, unseen here
    kv = KVFacts([], events, [], "")
    try:
        kv.server("leader")
    except Failed as e:
        assert e.hint.startswith("setup: the scenario stopped before the step 'leader'") and TIMER_RULE in e.hint
    else:
        raise AssertionError("a missing step must fail")


def test_committed_entries_left_unapplied_are_named_even_in_scripted_runs() -> None:
    lag = [START, Event(10, "commit", 1, 1, index=2)]
    said = Facts(lag, [], timers=False).cause()
    assert "S1's commitIndex was 2 but it had applied entries only up to index 0" in said, said
    assert "if commitIndex > lastApplied" in said
    assert apply_lag(lag + [Event(20, "crash", 1)]) == "", "a crashed server's volatile state is gone"
    assert apply_lag(lag + [Event(10, "apply", 1, 1, index=1), Event(10, "apply", 1, 1, index=2)]) == ""


def test_votes_split_again_and_again_are_named() -> None:
    split = [START] + [_stands(200 * t + k, k, t) for t in (1, 2, 3) for k in (1, 2)]
    said = split_votes(split)
    assert said.startswith("3 of 3 elections split the vote (terms 1, 2, 3") and "random election timeout" in said
    assert split_votes(split[:5]) == "", "two split elections are bad luck, not a pattern"
    assert split_votes(split + [Event(700, "role", 1, 3, value="leader")]) == ""


def test_the_reference_and_the_solution_break_neither_rule() -> None:
    from mutants06 import MyServer

    for cls in (RaftNode, MyServer):
        for name in ("reelection", "many_elections", "fast_backup", "figure8_unreliable", "persist_churn"):
            observed = probe_scenario({}, {"scenario": name, "seed": 344802}, build=lambda funcs, cls=cls: cls)
            for t in observed["traces"]:
                events = decode_events(t)
                assert timer_slips(events) == [] and old_term_commits(events) == [], (cls, name)


def _verdict(cls: type, name: str, seed: int) -> str:
    case = {"scenario": name, "seed": seed}
    try:
        judge_scenario(case, probe_scenario({}, case, build=lambda funcs: cls), "06")
    except Failed as e:
        return e.hint
    return ""


def test_fast_backup_reports_its_unmet_setup_and_the_timer_rule_not_the_commit_rule() -> None:
    hint = _verdict(KEEPS_TIMER, "fast_backup", 344802)
    assert "setup: the three other servers (a majority of 5) must elect a leader" in hint, hint
    assert "applied by no server by the step '50 committed'" in hint and TIMER_RULE in hint, hint
    assert "without a majority storing it" not in hint, hint


def test_a_leader_committing_an_earlier_terms_entry_is_named_by_the_rule_it_breaks() -> None:
    """The Figure 8 mistake fails the public figure8 check (a safety property breaks there, and the hint says which
    rule led to it) and the hidden figure8_unreliable check, where it commits early without breaking safety."""
    counts_replicas = next(m.node_class for m in MUTANTS06 if m.name == "commits entries of older terms")
    figure8 = _verdict(counts_replicas, "figure8", 1)
    assert figure8.startswith("scenario figure8, seed 1: Leader Completeness broken") and COMMIT_RULE in figure8
    unreliable = _verdict(counts_replicas, "figure8_unreliable", 1)
    assert "moved its commitIndex to" in unreliable and COMMIT_RULE in unreliable, unreliable


def test_every_check_the_timer_mutant_fails_names_the_timer_rule() -> None:
    """All of exercise 06, public and hidden, on two secrets: the server loses points only with hints that name the
    rule it breaks; the public election check catches it on every secret."""
    for secret in ("fair-verdicts-1", "s5-eeeeeeee"):
        report = grading.run_checks("06", {"MyServer": KEEPS_TIMER}, hidden=True, secret=secret)
        failed = {r.name: r.hint for r in report.results if not r.passed}
        assert "reelection" in failed and 0 < report.score < report.max_score, report.table()
        for name, hint in failed.items():
            assert TIMER_RULE in hint, (secret, name, hint)


@pytest.mark.parametrize("mutant, scenario, seed, wrong, named", [
    ("ignores heartbeats", "basic_agreement", 1, "not committed there",
     "a follower restarts its election timer when it hears the leader"),
    ("ignores heartbeats", "fast_backup", 138318, "refused AppendEntries",
     "a follower restarts its election timer when it hears the leader"),
    ("one fixed election timeout", "basic_agreement", 1, "§5.3", "do not draw a new random election timeout"),
    ("never applies", "figure8", 1, "a leader advances commitIndex", "if commitIndex > lastApplied"),
    ("never applies", "stale_log_election", 1, "must win its election", "if commitIndex > lastApplied"),
], ids=lambda v: v if isinstance(v, str) and " " not in v else None)
def test_a_failing_scenario_names_the_rule_broken_not_a_later_one(mutant: str, scenario: str, seed: int, wrong: str,
                                                                   named: str) -> None:
    """Other mutants whose bug kept a scenario's setup from happening: the hint names their rule, not the rule the
    scenario goes on to test."""
    hint = _verdict(next(m.node_class for m in MUTANTS06 if m.name == mutant), scenario, seed)
    assert named in hint and wrong not in hint, hint
