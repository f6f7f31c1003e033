"""Exercise 06, the whole server: a scenario suite in the style of MIT 6.5840's Raft labs 3A-3C, judged from traces.

The student writes a complete server class on :class:`~raftedu.raft.Server`
(plumbing only: send, timers, rng, note, persist). Each check below runs
named scenarios with that class -- elections (3A), agreement (3B),
persistence (3C), Figure 8, unreliable networks and churn -- and judges
only the traces that come back: the always-on safety checks are re-run on
them (:func:`~raftedu.checks.check_trace`), then each scenario asserts its
own setup and outcome (a leader was elected, the entries committed on every
server, nothing committed without a majority, ...), so a server that does
nothing passes nothing. Every run is deterministic: a failure names its
seed and the one line that replays it and opens it in a picture.

Subclassing or delegating to the reference :class:`~raftedu.raft.RaftNode`
is refused: :func:`server_class` rejects a subclass, and every RaftNode
method is switched off in the grader's worker
(:data:`REFERENCE_RULES`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from ..raft import LEADER, RaftNode, Server
from ..scenarios import (crash_after_acknowledging, restart_between_votes, stale_replies_across_reelection,
                         vote_replies_delayed_across_reelection)
from ..sim import Cluster, Network
from ..nodehost import build_class
from .boundary import RemoteFunctions
from .scenarios import (SCENARIOS, SHORTEST_TIMEOUT, Facts, Run, Scenario, _need, _setup, _setup_failed, commit_rule_broken,
                        timer_rule_broken)

__all__ = ["CLASS_NAME", "REFERENCE_RULES", "UNRELIABLE", "WHOLE_SERVER_SCENARIOS", "server_class", "submit"]

CLASS_NAME = "MyServer"
"""The name of the class a student defines in exercise 06."""

REFERENCE_RULES: tuple[str, ...] = tuple(sorted(n for n, v in vars(RaftNode).items() if callable(v)))
"""Every method of the reference RaftNode: all switched off while exercise 06 is graded."""

UNRELIABLE = Network(delay=(2, 25), drop_rate=0.1, duplicate_rate=0.05, long_delay_rate=0.05, long_delay=(100, 500))
"""6.5840's unreliable network: lost, duplicated and long-delayed (reordered) messages."""


def server_class(funcs: Mapping[str, Any]) -> type[Server]:
    """The student's server class from ``funcs`` (``{"MyServer": cls}``); refuses anything built on RaftNode
    (:func:`raftedu.nodehost.build_class`; in the grader, the class as nodes in the sandboxed worker)."""
    if isinstance(funcs, RemoteFunctions):
        return funcs.node_class("server")
    return build_class("server", funcs)


# --------------------------------------------------------------------------
# Drives: what happens to the cluster (student code runs)
# --------------------------------------------------------------------------


def submit(c: Cluster, command: Any, within: int = 2_000, patience: int = 400) -> bool:
    """Like 6.5840's ``one()``: send ``command`` to the leader, again if it is rejected or not committed within
    ``patience`` ms, until it commits or ``within`` ms pass; True when committed."""
    end = c.now + within
    while c.now < end:
        if c.leader() is None:
            c.run(min(10, end - c.now))
            continue
        req = c.request(command)
        c.run_until(lambda c: req.status != "pending", within=max(0, min(patience, end - c.now)))
        if req.status == "committed":
            return True
    return False


def _commit_first(run: Run, n: int, command: str) -> tuple[Cluster, int | None]:
    """Start ``n`` servers, commit ``command`` (6.5840's ``one()``) and mark who leads: ``leader N`` or ``leader None``."""
    c = run.make(n)
    submit(c, command)
    c.run(100)
    leader = c.leader()
    run.mark(f"leader {leader}")
    return c, leader


def _commit_last(run: Run, c: Cluster, command: str, within: int = 2_000) -> None:
    """Commit ``command``, let every server catch up for 500 ms, mark the ``end``."""
    submit(c, command, within=within)
    c.run(500)
    run.mark("end")


def _initial_election(run: Run) -> None:
    c = run.make(3)
    c.run(1_000)
    run.mark("1s")
    c.run(2_000)
    run.mark("3s")


def _reelection(run: Run) -> None:
    c = run.make(3)
    c.run_until(lambda c: c.leader() is not None, within=1_000)
    first = c.leader()
    run.mark(f"leader {first}")
    if first is None:
        return
    c.isolate(first)
    c.run(1_000)
    run.mark(f"isolated {first}")
    c.heal()
    c.run(1_000)
    run.mark("healed")
    second = c.leader()
    if second is None:
        return
    c.partition([second], [x for x in c.ids if x != second][:1])
    c.run(1_000)
    run.mark("three groups")
    c.heal()
    c.run(1_000)
    run.mark("healed again")


def _many_elections(run: Run) -> None:
    rng = random.Random(f"raftedu-06-many:{run.seed}")
    c = run.make(7)
    c.run(1_000)
    run.mark("start")
    for k in range(6):
        cut = sorted(rng.sample(c.ids, 3))
        c.partition(cut)
        c.run(2_000)
        run.mark(f"round {k} cut {','.join(map(str, cut))}")
        c.heal()
        c.run(200)
    run.mark("end")


def _no_majority(run: Run) -> None:
    c = run.make(5)
    c.run_until(lambda c: c.leader() is not None, within=1_000)
    run.mark("elected")
    c.partition([1], [2], [3], [4, 5])
    c.run(1_500)
    run.mark("split")
    c.heal()
    c.run(1_000)
    run.mark("healed")


def _basic_agreement(run: Run) -> None:
    c = run.make(3)
    c.run_until(lambda c: c.leader() is not None, within=1_000)
    for k in range(3):
        run.mark(f"send a{k}")
        submit(c, f"a{k}", within=1_000)
        c.run(100)
    run.mark("end")


def _follower_failure(run: Run) -> None:
    c, leader = _commit_first(run, 3, "f1")
    if leader is None:
        return
    follower = next(i for i in c.ids if i != leader)
    c.crash(follower)
    run.mark(f"crashed {follower}")
    submit(c, "f2", within=1_500)
    c.run(100)
    run.mark("f2")
    for i in c.up():
        if c.node(i).role != LEADER:
            c.crash(i)
    leader = c.leader()
    run.mark(f"only the leader is up, leader {leader}")
    if leader is not None:
        c.request("f3", leader)
    c.run(1_500)
    run.mark("end")


def _leader_failure(run: Run) -> None:
    c, _ = _commit_first(run, 3, "l1")
    c.crash_leader()
    submit(c, "l2", within=2_000)
    c.run(100)
    run.mark(f"l2 sent, leader {c.leader()}")
    c.crash_leader()
    c.run(500)
    run.mark("one left")
    for i in c.up():
        if c.node(i).role == LEADER:
            c.request("l3", i)
    c.run(1_500)
    run.mark("end")


def _rejoin_follower(run: Run) -> None:
    c, leader = _commit_first(run, 3, "r1")
    if leader is None:
        return
    away = next(i for i in c.ids if i != leader)
    c.isolate(away)
    run.mark(f"isolated {away}")
    for k in range(2, 6):
        submit(c, f"r{k}", within=1_000)
    c.heal()
    run.mark("healed")
    _commit_last(run, c, "r6")


def _no_agreement_without_majority(run: Run) -> None:
    c, leader = _commit_first(run, 5, "m1")
    if leader is None:
        return
    c.partition([leader] + [i for i in c.ids if i != leader][:1])
    c.request("m2", leader)
    c.run(1_500)
    run.mark("minority side")
    c.heal()
    c.run(500)
    run.mark("healed")
    _commit_last(run, c, "m3")


def _concurrent_starts(run: Run) -> None:
    c = run.make(3)
    c.run_until(lambda c: c.leader() is not None, within=1_000)
    submit(c, "warm-up")
    leader = c.leader()
    run.mark(f"send five at once to leader {leader}")
    if leader is not None:
        for k in range(5):
            c.request(f"s{k}", leader)
    c.run(1_000)
    run.mark("end")


def _rejoin_leader(run: Run) -> None:
    c, old = _commit_first(run, 3, "j1")
    if old is None:
        return
    c.isolate(old)
    for k in (2, 3, 4):
        c.request(f"stranded{k}", old)
    run.mark("stranded entries")
    submit(c, "j5", within=2_000)
    new = c.leader(among=[i for i in c.ids if i != old])
    run.mark(f"new leader {new}")
    if new is None:
        return
    c.isolate(new)
    c.run(20)
    c.partition([new])  # the old leader rejoins the third server
    submit(c, "j6", within=2_000)
    run.mark("old leader rejoined")
    c.heal()
    _commit_last(run, c, "j7")


def _backup(run: Run) -> None:
    """6.5840's TestBackup3B, shortened: a new leader must bring two servers back over 50 entries of an old term."""
    c, leader = _commit_first(run, 5, "b0")
    if leader is None:
        return
    follower, *others = [i for i in c.ids if i != leader]
    c.partition([leader, follower])
    for k in range(50):
        c.request(f"lost{k}", leader)
    c.run(10)
    run.mark("50 stranded")
    c.run_until(lambda c: c.leader(among=others) is not None, within=2_000)
    second = c.leader(among=others)
    if second is None:
        return
    for k in range(50):
        c.request(f"kept{k}", second)
    c.run(300)
    run.mark(f"50 committed by the others, leader {second}")
    third = next(i for i in others if i != second)
    c.partition([leader, follower, third])  # the old leader and its follower meet a server holding the 50 kept
    run.mark(f"regrouped with {third}")
    submit(c, "b1", within=3_000)
    c.run(300)
    run.mark("caught up")
    c.heal()
    _commit_last(run, c, "b2")


def _rpc_counts(run: Run) -> None:
    c = run.make(3)
    c.run_until(lambda c: c.leader() is not None, within=1_000)
    run.mark("elected")
    c.run(300)
    run.mark("agree")
    for k in range(10):
        submit(c, f"n{k}", within=1_000)
    run.mark("agreed")
    c.run(1_000)
    run.mark("idle")


def _persist1(run: Run) -> None:
    c = run.make(3)
    submit(c, "p11")
    run.mark("p11")
    for i in c.ids:
        c.crash(i)
    c.restart_all()
    submit(c, "p12")
    run.mark("all restarted")
    c.crash_leader()
    c.run(200)
    c.restart_all()
    submit(c, "p13")
    run.mark("leader restarted")
    c.crash_leader()
    submit(c, "p14")
    c.restart_all()
    run.mark("p14")
    follower = next((i for i in c.up() if c.node(i).role != LEADER), None)
    if follower is not None:
        c.crash(follower)
        submit(c, "p15")
        c.restart(follower)
    _commit_last(run, c, "p16")


def _persist2(run: Run) -> None:
    rng = random.Random(f"raftedu-06-persist2:{run.seed}")
    c = run.make(5)
    for k in range(4):
        submit(c, f"q{k}a")
        run.mark(f"q{k}a")
        a, b = rng.sample(c.ids, 2)
        c.crash(a)
        c.crash(b)
        submit(c, f"q{k}b")
        d, e = rng.sample([i for i in c.ids if i not in (a, b)], 2)
        c.crash(d)
        c.crash(e)
        c.restart(a)
        c.restart(b)
        submit(c, f"q{k}c")
        c.restart(d)
        c.restart(e)
    _commit_last(run, c, "q-end")


def _persist3(run: Run) -> None:
    c, leader = _commit_first(run, 3, "u1")
    if leader is None:
        return
    away, other = [i for i in c.ids if i != leader]
    c.isolate(away)
    submit(c, "u2")
    run.mark("u2 without one follower")
    c.crash(leader)
    c.crash(other)
    c.heal()
    c.restart(other)
    c.run(1)
    c.restart(leader)
    _commit_last(run, c, "u3", within=3_000)


def _scripted(script: Callable[..., Cluster]) -> Callable[[Run], None]:
    def drive(run: Run) -> None:
        script(make=run.make, on_step=lambda label, c: run.mark(label, c))
    return drive


def _stale_replies(run: Run) -> None:
    _scripted(vote_replies_delayed_across_reelection)(run)
    _scripted(stale_replies_across_reelection)(run)


def _figure8_unreliable(run: Run) -> None:
    rng = random.Random(f"raftedu-06-figure8:{run.seed}")
    c = run.make(5, network=UNRELIABLE)
    for k in range(40):
        leader = c.leader()
        if leader is not None:
            c.request(f"e{k}", leader)
        c.run(rng.choice((10, 50, 150)))
        if leader is not None and rng.random() < 0.5 and c.nodes[leader] is not None:
            c.crash(leader)
        if len(c.up()) < 3:
            c.restart(rng.choice([i for i in c.ids if c.nodes[i] is None]))
    run.mark("faults stopped")
    c.set_network(drop_rate=0.0, duplicate_rate=0.0, long_delay_rate=0.0)
    c.restart_all()
    _commit_last(run, c, "final", within=5_000)


def _unreliable_agreement(run: Run) -> None:
    c = run.make(5, network=UNRELIABLE)
    for k in range(20):
        submit(c, f"w{k}", within=3_000, patience=600)
    c.set_network(drop_rate=0.0, duplicate_rate=0.0, long_delay_rate=0.0)
    c.run(1_000)
    run.mark("end")


# --------------------------------------------------------------------------
# Judges: what the traces must show (they run no student code)
# --------------------------------------------------------------------------


def _stop(stopped: str) -> str:
    return f" (the run stopped: {stopped})" if stopped else ""


def _at(f: Facts, prefix: str, stopped: str) -> int:
    """The time of the step ``prefix``; a setup failure saying the run stopped before it when it never happened."""
    t = f.mark_time(prefix)
    if t is None:
        raise _setup_failed(f, f"the scenario stopped before the step '{prefix}'", stopped)
    return t


def _who(f: Facts, prefix: str, stopped: str) -> int:
    """The leader a step's label ends with (e.g. ``leader 2``); a setup failure when there was none."""
    label = f.mark_label(prefix)
    last = label.split()[-1] if label is not None else ""
    if not last.isdigit():
        raise _setup_failed(f, f"at the step '{prefix}' no server was leader, and the scenario needed one (a follower "
                            "that hears nothing for an election timeout stands for election, and a majority of votes "
                            "makes a leader, §5.2)", stopped)
    return int(last)


def _elected(f: Facts, step: str, within: str, stopped: str) -> int:
    """The time of the step ``step``; a setup failure when no leader was elected before it."""
    t = _at(f, step, stopped)
    _setup(f, bool(f.leaders(until=t)), f"no leader was elected {within} (before the step '{step}')", stopped)
    return t


def _committed_by(f: Facts, commands: list[str], step: str, what: str, stopped: str) -> int:
    """The time of the step ``step``; a setup failure unless every one of ``commands`` was committed (applied by
    some server) by then."""
    t = _at(f, step, stopped)
    missing = [c for c in commands if not f.applied_on(c, until=t)]
    _setup(f, not missing, f"{what}: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} "
           f"{'was' if len(missing) == 1 else 'were'} applied by no server by the step '{step}', i.e. not committed "
           "(or committed and never applied)", stopped)
    return t


HEARTBEATS = ("the leader must send AppendEntries (heartbeats) more often than the election timeout, and a follower "
              "restarts its election timer when it hears the leader (Figure 2, Rules for Followers; §5.2)")


def _steady(f: Facts) -> None:
    """In a cluster where nothing fails, no leader is deposed once it has led for the shortest election timeout:
    its heartbeats reach every follower long before any timer runs out."""
    for t, node, term in f.term_changes():
        leader = f.leader_at(t - 1)
        led = [(at, led_term) for at, n, led_term in f.leaders(until=t - 1) if n == leader]
        if not led:
            continue
        since, led_term = led[-1]
        _need(term <= led_term or t - since < SHORTEST_TIMEOUT,
              f"nothing failed, yet S{leader}, leader of term {led_term} since {since} ms, was deposed at {t} ms when "
              f"S{node} moved to term {term}: {HEARTBEATS}" + f.cause())


def _commit_rule(f: Facts) -> None:
    """Figure 2, Rules for Leaders (§5.4.2): no leader commits an entry of an earlier term by counting replicas."""
    broken = commit_rule_broken(f.events)
    _need(not broken, broken)


def _timer_rule(f: Facts) -> None:
    """Figure 2, Rules for Followers: no server stands for election sooner than a timeout after granting a vote."""
    broken = timer_rule_broken(f.events)
    _need(not broken, broken)


def _committed_everywhere(f: Facts, commands: list[str], servers: int, what: str) -> None:
    short = [c for c in commands if len(f.applied_on(c)) < servers]
    where = "; ".join(f"{c} on {', '.join(f'S{i}' for i in sorted(f.applied_on(c))) or 'none'}" for c in short[:3])
    _need(not short, f"{what}: {', '.join(short[:5])} {'was' if len(short) == 1 else 'were'} not applied on "
          f"{servers} servers, i.e. not committed there (applied: {where})" + f.cause())


def _never_applied(f: Facts, commands: list[str], what: str) -> None:
    done = [c for c in commands if f.applied_on(c)]
    _need(not done, f"{what}: {', '.join(done[:5])} {'was' if len(done) == 1 else 'were'} applied, i.e. committed, "
          "without a majority storing it (§5.3: an entry commits once it is on a majority)")


def _same_logs(f: Facts, what: str) -> None:
    logs = f.final_logs()
    distinct = {tuple(map(repr, v)) for v in logs.values()}
    _need(len(distinct) == 1, f"{what}: at the end the logs still differ: "
          + "; ".join(f"S{i}: {v[-4:]} ({len(v)} entries)" for i, v in sorted(logs.items())))


def _judge_initial(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    _timer_rule(f)
    leaders = f.leaders(until=1_000)
    _need(bool(leaders), "no leader was elected within 1 s in a healthy 3-server cluster: a follower that hears "
          "nothing for an election timeout stands for election (§5.2) and the votes of a majority make it leader"
          + f.cause())
    end = _at(f, "3s", stopped)
    terms = f.terms_at(end)
    _need(len(set(terms.values())) == 1, f"after 3 s without faults the servers disagree on the term: {terms}")
    changes = f.term_changes(after=leaders[0][0] + 500)
    _need(not changes, "the term kept changing although nothing failed (" + ", ".join(
        f"S{n} to term {t} at {time} ms" for time, n, t in changes[:3]) + f"): {HEARTBEATS}")


def _judge_reelection(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    first = _who(f, "leader ", stopped)
    _timer_rule(f)
    t = _at(f, "isolated", stopped)
    _need(any(n != first for _, n, _ in f.leaders(after=t - 1_000, until=t)),
          f"S{first}, the leader, was cut off; the other two servers (a majority) elected no new leader within 1 s"
          + f.cause())
    healed = _at(f, "healed", stopped)
    _need(f.leader_at(healed) is not None, f"after S{first} came back, no server was leader of the newest term "
          "(a server that hears a newer term becomes its follower, §5.1)")
    split = _at(f, "three groups", stopped)
    lone = [n for _, n, _ in f.leaders(after=split - 900, until=split)]
    _need(not lone, f"the servers were cut into groups of one; S{lone[0] if lone else '?'} was elected leader "
          "without the votes of a majority")
    again = _at(f, "healed again", stopped)
    _need(f.leader_at(again) is not None, "after the network healed again no leader was elected within 1 s"
          + f.cause())


def _judge_many(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    _timer_rule(f)
    rounds = [(label, t) for label, _, t in f.marks if label.startswith("round")]
    _setup(f, len(rounds) == 6, f"the scenario stopped after {len(rounds)} of 6 rounds", stopped)
    for label, t in rounds:
        cut = {int(x) for x in label.split()[-1].split(",")}
        view = f.view_at(t)
        rest = [v for i, v in view.nodes.items() if i not in cut]
        newest = max(v.term for v in rest)
        _need(any(v.role == LEADER and v.term == newest for v in rest),
              f"{label}: with S{', S'.join(map(str, sorted(cut)))} cut off, the other four of seven servers (a "
              f"majority) had no leader of their newest term {newest} after 2 s" + f.cause())


def _judge_no_majority(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    _elected(f, "elected", "within 1 s", stopped)
    _timer_rule(f)
    split = _at(f, "split", stopped)
    wrong = f.leaders(after=split - 1_500, until=split)
    _need(not wrong, f"the five servers were cut into {{S1}} {{S2}} {{S3}} {{S4, S5}}; S{wrong[0][1] if wrong else '?'} "
          "was elected leader with no majority anywhere")
    healed = _at(f, "healed", stopped)
    _need(f.leader_at(healed) is not None, "after the network healed no leader was elected within 1 s" + f.cause())


def _judge_basic(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    _elected(f, "send a0", "within 1 s in a healthy 3-server cluster", stopped)
    _at(f, "end", stopped)
    _steady(f)
    _committed_everywhere(f, ["a0", "a1", "a2"], 3, "three requests sent one after another to a healthy cluster")
    log = f.final_logs()[1]
    _need([c for c in log if c in ("a0", "a1", "a2")] == ["a0", "a1", "a2"], f"the log holds {log}: each request "
          "once, in the order sent")


def _judge_follower_failure(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    _who(f, "leader", stopped)
    _committed_everywhere(f, ["f1"], 3, "healthy cluster")
    _at(f, "crashed", stopped)
    _at(f, "f2", stopped)
    _committed_everywhere(f, ["f2"], 2, "one follower down (2 of 3 up, a majority)")
    alone = _who(f, "only the leader is up", stopped)
    end = _at(f, "end", stopped)
    _setup(f, "f3" in f.log_at(end, alone), f"leader S{alone} did not append f3 (a leader appends every client "
           "command to its log, §5.3)", stopped)
    _never_applied(f, ["f3"], "both followers down, only the leader up")


def _judge_leader_failure(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    _who(f, "leader", stopped)
    _committed_everywhere(f, ["l1"], 3, "healthy cluster")
    _at(f, "l2 sent", stopped)
    _committed_everywhere(f, ["l2"], 2, "after the leader crashed, the other two")
    _who(f, "l2 sent", stopped)
    left = _at(f, "one left", stopped)
    up = sorted(f.terms_at(left))
    _setup(f, len(up) == 1, f"after the second leader crashed one server should be left up; up: "
           f"{', '.join(f'S{i}' for i in up)}", stopped)
    _need(not f.leaders(after=left), "with two of three servers crashed, the last one became leader alone")
    _never_applied(f, ["l3"], "one server of three left")


def _judge_rejoin_follower(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    _who(f, "leader", stopped)
    away = f.mark_label("isolated")
    _committed_by(f, [f"r{k}" for k in range(2, 6)], "healed",
                  f"with {f'S{away.split()[-1]}' if away else 'one follower'} cut off, the leader and the other "
                  "follower (2 of 3, a majority) must commit r2..r5", stopped)
    _at(f, "end", stopped)
    _committed_everywhere(f, [f"r{k}" for k in range(1, 7)], 3,
                          "a follower cut off while r2..r5 committed, then reconnected, must catch up")


def _judge_no_agreement(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    leader = _who(f, "leader", stopped)
    t = _at(f, "minority side", stopped)
    _setup(f, "m2" in f.log_at(t, leader), f"leader S{leader} did not append m2 (a leader appends every client "
           "command to its log, §5.3)", stopped)
    early = sorted(f.applied_on("m2", until=t))
    _need(not early, f"m2 was applied on {early} while leader S{leader} had only one other server (2 of 5): an entry "
          "commits only once it is on a majority (§5.3)")
    _at(f, "end", stopped)
    _committed_everywhere(f, ["m3"], 5, "after the network healed")
    _same_logs(f, "after the network healed")


def _judge_concurrent(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    _committed_by(f, ["warm-up"], "send five at once", "a healthy 3-server cluster must commit a first request",
                  stopped)
    _who(f, "send five at once", stopped)
    _at(f, "end", stopped)
    _steady(f)
    wanted = [f"s{k}" for k in range(5)]
    _committed_everywhere(f, wanted, 3, "five requests sent at the same instant")
    log = f.final_logs()[1]
    twice = [c for c in wanted if log.count(c) != 1]
    _need(not twice, f"each request must be in the log exactly once; {twice} are not")


def _judge_rejoin_leader(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    old = _who(f, "leader", stopped)
    t = _at(f, "stranded entries", stopped)
    _setup(f, "stranded4" in f.log_at(t, old), f"S{old}, the leader, cut off, did not append stranded2..stranded4 "
           "(a leader appends every client command to its log, §5.3)", stopped)
    new = _who(f, "new leader", stopped)
    _committed_by(f, ["j5"], "new leader", f"the two servers without S{old} (a majority) must elect a leader "
                  f"(S{new}) and commit j5", stopped)
    _at(f, "end", stopped)
    _never_applied(f, ["stranded2", "stranded3", "stranded4"], f"S{old}, the cut-off old leader")
    _committed_everywhere(f, ["j1", "j5", "j6", "j7"], 3, "the old leader rejoined, then everyone")
    _same_logs(f, "the old leader's stranded entries must be overwritten")


def _judge_backup(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    old = _who(f, "leader", stopped)
    t = _at(f, "50 stranded", stopped)
    _setup(f, "lost49" in f.log_at(t, old), f"S{old}, the leader cut off with one follower, did not append "
           "lost0..lost49 (a leader appends every client command to its log, §5.3)", stopped)
    second = _who(f, "50 committed", stopped)
    kept = [f"kept{k}" for k in range(50)]
    _committed_by(f, kept, "50 committed", f"the three other servers (a majority of 5) must elect a leader (S{second}) "
                  "and commit kept0..kept49 within 300 ms", stopped)
    _never_applied(f, [f"lost{k}" for k in range(50)], f"S{old}, the old leader cut off with one follower")
    regrouped, caught_up = _at(f, "regrouped", stopped), _at(f, "caught up", stopped)
    _committed_everywhere(f, ["b1"], 3, f"S{old}, its follower and a server holding the 50 kept entries (a majority)")
    leaders = f.leaders(after=regrouped, until=caught_up)
    _setup(f, len(leaders) <= 1, f"regrouped, S{old}, its follower and the server holding the kept entries should "
           "elect one leader that brings the other two back; they elected "
           + ", ".join(f"S{n} (term {term}) at {t} ms" for t, n, term in leaders[:4]) + f" one after another: "
           f"{HEARTBEATS}", stopped)
    refused = f.count("AppendEntriesReply refused", since="regrouped", until="caught up")
    _need(refused <= 12, f"bringing two servers back over 50 entries of an old term took {refused} refused "
          "AppendEntries (at most 12): back nextIndex off past a whole conflicting term at once, with the "
          "follower's conflict_index (§5.3, the optimisation at its end)")
    _at(f, "end", stopped)
    _committed_everywhere(f, kept + ["b1", "b2"], 5, "healed, every server must catch up")
    _same_logs(f, "healed, every server must catch up")


def _judge_rpc_counts(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    _elected(f, "elected", "within 1 s in a healthy 3-server cluster", stopped)
    _at(f, "idle", stopped)
    votes = f.count("RequestVote", until="elected")
    _need(votes <= 30, f"electing the first leader of 3 servers took {votes} RequestVote messages (at most 30)")
    _committed_everywhere(f, [f"n{k}" for k in range(10)], 3, "ten requests one after another")
    span = _at(f, "agreed", stopped) - _at(f, "agree", stopped)
    appends = f.count("AppendEntries", since="agree", until="agreed")
    bound = 2 * (span // 50 + 2) + 2 * 10 * 3
    _need(appends <= bound, f"ten agreements over {span} ms took {appends} AppendEntries (at most {bound}: "
          "heartbeats plus a few per request)")
    idle = f.count("AppendEntries", since="agreed", until="idle")
    _need(idle <= 2 * (1_000 // 50 + 3), f"an idle leader sent {idle} AppendEntries in one second to 2 followers "
          f"(at most {2 * (1_000 // 50 + 3)}: one heartbeat per follower every {50} ms)")
    extra = f.count("RequestVote", since="agreed", until="idle")
    _need(extra == 0, f"{extra} RequestVote messages while an idle healthy cluster had a leader: {HEARTBEATS}")


def _judge_persist(commands: list[str], servers: int, what: str, first: Mapping[str, str],
                   led: tuple[str, ...] = ()) -> Callable[[list[Facts], str], None]:
    """Every command committed on ``servers`` servers and the logs equal at the end; first the setup: a leader
    named at each step of ``led``, each command of ``first`` (command -> step) committed by its step, before the
    crashes that must not lose it."""
    def judge(facts: list[Facts], stopped: str) -> None:
        f = facts[0]
        for step in led:
            _who(f, step, stopped)
        for command, step in first.items():
            _committed_by(f, [command], step, "before the crashes", stopped)
        _at(f, "end", stopped)
        _committed_everywhere(f, commands, servers, what)
        _same_logs(f, what)
    return judge


def _judge_crash_after_vote(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    _setup(f, any(n == 1 and term == 1 for _, n, term in f.leaders()), "S1 did not win term 1 with S3's vote",
           stopped)
    t = _at(f, "S3 crashed", stopped)
    _setup(f, f.delivered("RequestVote", 2, 3, after=t - 1), "S2's RequestVote never reached S3", stopped)
    _at(f, "S2 stood", stopped)


def _judge_crash_after_ack(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    t = _at(f, "S1 committed x", stopped)
    _setup(f, 1 in f.applied_on("x", until=t), "S1 did not commit x", stopped)
    _at(f, "S1 crashed", stopped)
    _need(bool(f.applied_on("y")), f"after S1 crashed, S2 and S3 did not commit y{_stop(stopped)}")
    logs = f.final_logs()
    _need(all(logs[i][:1] == ["x"] for i in (2, 3)), f"x was committed but is not at index 1 of S2 and S3: {logs}")


def _judge_stale_replies(facts: list[Facts], stopped: str) -> None:
    _need(len(facts) == 2, f"setup: the scenario stopped early{_stop(stopped)}")
    votes, replies = facts
    _setup(votes, any(n == 1 and term == 1 for _, n, term in votes.leaders())
           or bool(votes.mark_time("S1 stood for term 2")), "S1 did not stand for terms 1 and 2", stopped)
    _need(any(n == 1 and term == 3 for _, n, term in votes.leaders()),
          f"S1 did not win term 3 once the network healed{_stop(stopped)}")
    _setup(replies, replies.mark_time("(c)") is not None and bool(replies.applied_on("new")),
           "S3 did not lead term 2 and commit new", stopped)
    end = _at(replies, "(h)", stopped)
    _need(1 in replies.applied_on("z", until=end), "healed, S1 (leader of term 3) did not commit z")


def _judge_unreliable(commands: list[str]) -> Callable[[list[Facts], str], None]:
    def judge(facts: list[Facts], stopped: str) -> None:
        f = facts[0]
        _at(f, "end", stopped)
        _committed_everywhere(f, commands, 3, "on a network that loses, duplicates and reorders messages")
    return judge


def _judge_figure8_unreliable(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    _at(f, "faults stopped", stopped)
    _commit_rule(f)
    _at(f, "end", stopped)
    _committed_everywhere(f, ["final"], 3, "after 40 rounds of leader crashes on an unreliable network, the network "
                          "was made reliable and every server restarted")


# --------------------------------------------------------------------------
# The suite
# --------------------------------------------------------------------------


WHOLE_SERVER_SCENARIOS: dict[str, Scenario] = {
    "initial_election": Scenario(_initial_election, _judge_initial, "3 servers elect one leader and keep it"),
    "reelection": Scenario(_reelection, _judge_reelection, "a cut-off leader is replaced; no leader without a majority"),
    "many_elections": Scenario(_many_elections, _judge_many, "7 servers, 6 rounds of 3 cut off"),
    "no_leader_without_majority": Scenario(_no_majority, _judge_no_majority, "5 servers cut into 1+1+1+2"),
    "basic_agreement": Scenario(_basic_agreement, _judge_basic, "three requests commit everywhere"),
    "follower_failure": Scenario(_follower_failure, _judge_follower_failure, "commit with 2 of 3, not with 1"),
    "leader_failure": Scenario(_leader_failure, _judge_leader_failure, "a new leader commits; one server alone cannot"),
    "rejoin_follower": Scenario(_rejoin_follower, _judge_rejoin_follower, "a reconnected follower catches up"),
    "no_agreement_without_majority": Scenario(_no_agreement_without_majority, _judge_no_agreement,
                                              "a leader with 2 of 5 commits nothing"),
    "concurrent_starts": Scenario(_concurrent_starts, _judge_concurrent, "five requests at one instant"),
    "rejoin_partitioned_leader": Scenario(_rejoin_leader, _judge_rejoin_leader,
                                          "an old leader's stranded entries are overwritten"),
    "fast_backup": Scenario(_backup, _judge_backup, "catching up over a 50-entry divergent log", counts=True),
    "rpc_counts": Scenario(_rpc_counts, _judge_rpc_counts, "message counts of elections, agreement, idling",
                           counts=True),
    "persist_restart": Scenario(_persist1, _judge_persist([f"p1{k}" for k in range(1, 7)], 3, "crashes and restarts",
                                                           {"p11": "p11"}),
                                "crash every server, the leader, a follower; restart; keep committing"),
    "persist_churn": Scenario(_persist2, _judge_persist([f"q{k}{x}" for k in range(4) for x in "abc"] + ["q-end"], 3,
                                                      "crashes of 2 and 4 of 5 servers", {"q0a": "q0a"}),
                              "five servers, crashes of two and four at a time"),
    "persist_partitioned": Scenario(_persist3, _judge_persist(["u1", "u2", "u3"], 3, "a committed entry survives "
                                                              "crashes of the two servers holding it",
                                                              {"u1": "leader", "u2": "u2 without one follower"},
                                                              led=("leader",)),
                                    "u2 committed on two servers survives their crash"),
    "crash_after_vote": Scenario(_scripted(restart_between_votes), _judge_crash_after_vote,
                                 "a vote survives a crash (votedFor persisted before the reply)", timers=False),
    "crash_after_ack": Scenario(_scripted(crash_after_acknowledging), _judge_crash_after_ack,
                                "an acknowledged entry survives a crash (log persisted before the reply)", timers=False),
    "stale_replies": Scenario(_stale_replies, _judge_stale_replies,
                              "votes and AppendEntries replies of an earlier term arrive after a new election",
                              timers=False),
    "figure8_unreliable": Scenario(_figure8_unreliable, _judge_figure8_unreliable,
                                   "leader crashes on a lossy, reordering network"),
    "unreliable_agreement": Scenario(_unreliable_agreement, _judge_unreliable([f"w{k}" for k in range(20)]),
                                     "20 requests commit on a lossy, reordering network"),
}
"""Exercise 06's scenarios (added to :data:`~raftedu.grading.scenarios.SCENARIOS`)."""
SCENARIOS.update(WHOLE_SERVER_SCENARIOS)
