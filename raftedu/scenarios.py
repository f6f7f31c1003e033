"""Scripted scenarios from the Raft paper, shared by the tests, the exercises' grader and the lessons.

Each script drives a cluster whose election timers are so long that no
server times out by itself: elections happen only where the script calls
``timeout_now``. The network delivers every message in 1 ms. So the script,
not chance, decides who leads when, and the same script can run any node
class: a correct node keeps every safety property, a broken rule trips one.

``make(n, **settings)`` builds each cluster (default: a :class:`Cluster`
of ``node_class`` with ``seed``); the grader passes its own to keep the
cluster for replay. ``on_step(label, cluster)`` is called after each step
of the figure, which is how a lesson draws the scenario step by step.

Besides Figure 2's, one script per known failure of etcd's extensions (the
2015 single-server change bug, a cut-off leader with learners, a
stale TimeoutNow, a transfer to a learner or a crashed voter, a removed server
that keeps running, a removal-pending server that must campaign, a lease
renewed by an old leader). A script whose node under test deviates stops with
:class:`ScriptError` (a liveness promise, or a step it cannot reach) or the
monitor's :class:`~raftedu.checks.SafetyViolation`, nothing else.
:func:`leaders_per_election` measures a liveness promise quantitatively (a
vote granted without resetting the election timer, on a lossy network).
"""

from __future__ import annotations

from collections.abc import Callable
from .raft import LEADER, RaftNode, Timing
from .sim import Cluster, Network, Refused

__all__ = [
    "SCRIPTED",
    "ScriptError",
    "elect",
    "figure_8",
    "longer_log_older_term",
    "shorter_log_same_term",
    "stale_replies_across_reelection",
    "restart_between_votes",
    "crash_after_acknowledging",
    "vote_replies_delayed_across_reelection",
    "single_server_change_bug",
    "cut_off_leader_with_learners",
    "stale_timeout_now",
    "transfer_to_learner_or_crashed",
    "removed_server_keeps_running",
    "removal_pending_campaigns",
    "stale_append_renews_no_lease",
    "LOSSY",
    "CHURN_LIMIT",
    "leaders_per_election",
    "compare_leader_churn",
]

SCRIPTED = Timing(election_timeout=(10_000, 20_000), heartbeat=50)
"""Timers so long that only ``timeout_now`` starts elections."""
_FAST = Network(delay=(1, 1))

Make = Callable[..., Cluster]
Step = Callable[[str, Cluster], None]


class ScriptError(RuntimeError):
    """The script could not reach one of its steps (e.g. a server it needs as leader did not win)."""


def _maker(make: Make | None, node_class: type[RaftNode], seed: int) -> Make:
    return make or (lambda n, **settings: Cluster(n, seed=seed, node_class=node_class, **settings))


def elect(c: Cluster, i: int, tries: int = 3) -> None:
    """Make server ``i`` time out until it leads (at most ``tries`` elections), or raise :class:`ScriptError`."""
    for _ in range(tries):
        if c.leader() == i:
            return
        node = c.nodes[i]
        if node is None:
            raise ScriptError(f"S{i} is down at t={c.now} ms; it cannot be elected")
        if node.role != LEADER:
            c.timeout_now(i)
        c.run(20)
    if c.leader() != i:
        raise ScriptError(f"S{i} did not become leader after {tries} elections (t={c.now} ms)")


def figure_8(node_class: type[RaftNode] = RaftNode, seed: int = 11, *, branch: str = "d", make: Make | None = None,
             on_step: Step | None = None) -> Cluster:
    """The paper's Figure 8 (§5.4.2), S1..S5 and terms 1..5 as drawn there; ``branch`` picks the ending, "d" or "e".

    Before (a), S3 leads term 1 and commits "init" at index 1 on all five
    servers. (a) S1 leads term 2 and its entry "x" (index 2) reaches S2 only.
    (b) S1 crashes; S5 leads term 3 with votes of S3, S4 and itself and
    appends its own "y" at index 2. (c) S5 crashes; S1 restarts and leads
    term 4 (its try for term 3 fails: S3 and S4 voted for S5 in term 3); "x"
    reaches S3, so it sits on a majority (S1, S2, S3) but is not committed;
    S1 appends "z" (term 4) at index 3. Then one of two endings:

    * ``"d"``: S1 crashes; S5 wins term 5 with votes of S2, S3, S4 (its try
      for term 4 fails) and overwrites index 2 with "y" on them, while S1,
      down, still holds 1, 2, 4 -- the moment the paper's caption of (d)
      describes. "(d, later)": S1 restarts and S5 overwrites its index 2
      too -- the logs the paper's drawing of (d) shows (all five 1, 3).
    * ``"e"``: S1 first replicates "z" to S2 and S3: index 3 commits, and
      index 2 with it. S1 then crashes and S5 runs three times and cannot
      win: S2 and S3 refuse it (in term 4 they already voted for S1; then
      their last term 4 is newer than its 3).

    ``on_step(label, cluster)`` is called at the end of each panel; labels
    start with "(a)" .. "(e)" ("(d, later)" for S1's restart, "(e, later)" for S5's failed elections). A
    leader that commits "x" in (c) by counting replicas breaks Leader
    Completeness in (d).
    """
    if branch not in ("d", "e"):
        raise ValueError(f"branch must be 'd' or 'e' (the two endings of Figure 8); got {branch!r}")
    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(5, timing=SCRIPTED, network=_FAST)
    elect(c, 3)
    c.request("init")
    c.run(60)  # the entry commits, and a heartbeat tells every follower
    elect(c, 1)
    c.partition([1, 2])
    c.request("x")
    c.run(10)
    step("(a) S1 leads term 2; its entry x at index 2 reaches S2 only", c)
    c.crash(1)
    c.partition([3, 4, 5])
    elect(c, 5)
    c.isolate(5)
    c.request("y")
    c.run(10)
    step("(b) S1 crashed; S5 leads term 3 (votes of S3, S4, S5) and appends its own y at index 2", c)
    c.crash(5)
    c.restart(1)
    c.partition([1, 2, 3])
    elect(c, 1)
    c.run(10)
    c.isolate(1)
    c.request("z")
    c.run(10)
    step("(c) S5 crashed; S1 restarted and leads term 4; x reached S3 (a majority: S1, S2, S3) but is not "
         "committed; S1 appended z (term 4) at index 3", c)
    if branch == "d":
        c.crash(1)
        c.restart(5)
        c.heal()
        elect(c, 5)
        c.run(10)
        step("(d) S1 crashed; S5 won term 5 (votes of S2, S3, S4) and overwrote index 2 with y on S2, S3 and S4; "
             "S1, down, still holds 1, 2, 4", c)
        c.restart(1)
        c.run(60)  # S5's next heartbeat reaches S1 too
        step("(d, later) S1 restarted: S5's next heartbeat overwrote its index 2 with y as well", c)
        return c
    c.partition([1, 2, 3])
    c.run(110)  # S1's next heartbeat carries z to S2 and S3, and the one after says index 3 is committed
    step("(e) S1 replicated z (term 4) to S2 and S3: index 3 is committed, and index 2 with it", c)
    c.crash(1)
    c.restart(5)
    c.heal()
    for _ in range(3):
        _time_out(c, 5, "S5 must not win with its older log (§5.4.1)")
        c.run(20)
    step("(e, later) S1 crashed; S5 ran for terms 4, 5, 6 and lost each time: S2 and S3 refused it, and "
         "S4's vote with its own makes only 2 of 5", c)
    return c


def longer_log_older_term(node_class: type[RaftNode] = RaftNode, seed: int = 12, *, make: Make | None = None,
                          on_step: Step | None = None) -> Cluster:
    """§5.4.1 by last term: a longer log whose last entry is older must not win.

    S1, cut off, collects three uncommitted entries of term 1; S2 commits one
    entry of term 2 with S3; then S1 (which heard of term 2 and stepped down)
    asks S3 for its vote in term 3. S3 must refuse: S1's last term 1 < 2,
    although S1's log is longer.
    """
    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(3, timing=SCRIPTED, network=_FAST)
    _time_out(c, 1, "S1 must stand for term 1")
    c.run(10)
    c.isolate(1)
    for k in range(3):
        c.request(f"stale{k}")
    _time_out(c, 2, "S2 must stand for term 2")
    c.run(10)
    c.request("committed")
    c.run(50)
    step("S1, cut off, holds 3 entries of term 1; S2 and S3 committed one entry of term 2", c)
    c.partition([1, 3], [2])
    c.run(60)  # S1's heartbeat meets S3's term 2: S1 steps down
    _time_out(c, 1, "S1 should have stepped down on hearing S3's term 2")
    c.run(20)
    step("S1 asks S3 for its vote in term 3", c)
    return c


def shorter_log_same_term(node_class: type[RaftNode] = RaftNode, seed: int = 12, *, make: Make | None = None,
                          on_step: Step | None = None) -> Cluster:
    """§5.4.1 by length: with equal last terms, a shorter log must not win.

    S1 commits "a" with everyone, then "b" with S2 while S3 is cut off; S1
    crashes and S3 (missing "b") runs twice against S2, which must refuse.
    """
    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(3, timing=SCRIPTED, network=_FAST)
    _time_out(c, 1, "S1 must stand for term 1")
    c.run(10)
    c.request("a")
    c.run(20)
    c.isolate(3)
    c.request("b")
    c.run(20)
    c.crash(1)
    c.heal()
    step("S1 crashed after committing b with S2; S3 missed b", c)
    for _ in range(2):
        _time_out(c, 3, "S3 must not win without b (§5.4.1)")
        c.run(20)
    step("S3 ran twice for leader against S2", c)
    return c



# --------------------------------------------------------------------------
# Stale messages across elections (issue 17): each script runs any node class;
# a correct node keeps every property, a node that lets an old message or an
# old value count trips the check named in the docstring.
# --------------------------------------------------------------------------


def _time_out(c: Cluster, i: int, why: str) -> None:
    """``timeout_now(i)``, or :class:`ScriptError` when S``i`` is down or leads (the script went off course)."""
    node = c.nodes[i]
    if node is None or node.role == LEADER:
        state = "is crashed" if node is None else f"still leads term {node.current_term}"
        raise ScriptError(f"S{i} {state} at t={c.now} ms: {why}")
    c.timeout_now(i)


def stale_replies_across_reelection(node_class: type[RaftNode] = RaftNode, seed: int = 13, *,
                                    make: Make | None = None, on_step: Step | None = None) -> Cluster:
    """§5.3: a leader that is re-elected must not count what it learned, or is told late, about an earlier leadership.

    (a) S1 leads term 1 and commits "base" everywhere. (b) Cut off with S2, it
    appends old1..old3, which reach S2 only, with a heartbeat: S2's
    acknowledgement of it is slowed down (it arrives about 300 ms later), the
    next heartbeat's arrives at once, so S1's matchIndex for S2 is 4 in term 1. (c) S3 leads term 2 with
    S4 and S5 and commits "new" at index 2. (d) The network heals: S1 and S2
    step down and their old entries are overwritten. (e) S3 crashes and S1 is
    elected again, for term 3, with S4 and S5 (nothing from S2 reaches it);
    its log is [base, new]. (f) S1 appends "z" at
    index 3, which reaches S5 only: two copies of three, not a majority. A
    leader that kept matchIndex 4 for S2 from term 1 counts S2 and commits z;
    (g) one that accepts the slowed term-1 acknowledgement (matchIndex 4)
    does so when it arrives. Either breaks "Committed entries on a majority"
    (etcd-io/raft's QuorumLogInv). (h) Healed, S1 commits z for real.
    """
    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(5, timing=SCRIPTED, network=_FAST)
    elect(c, 1)
    c.request("base")
    c.run(20)
    step("(a) S1 leads term 1; base is committed on all five", c)
    c.partition([1])  # S1 alone: what it sends now is lost
    for k in range(1, 4):
        c.request(f"old{k}")
    c.partition([1, 2])
    mark = len(c.trace)  # S1's next heartbeat carries old1..old3 to S2 (its earlier AppendEntries were lost)
    c.run_until(lambda c: any(e.kind == "send" and e.node == 1 and e.peer == 2 for e in c.trace.events[mark:]), 100)
    c.set_network(delay=(300, 300))  # S2 answers it slowly: matchIndex 4, term 1, about 300 ms from now
    c.run(1)
    c.set_network(delay=(1, 1))
    c.run(60)  # the heartbeat after carries old1..old3 again; S2's quick answer: matchIndex 4
    step("(b) S1 (term 1) put old1..old3 on S2 only; S2's first answer is still on the way", c)
    _time_out(c, 3, "S3 must stand for term 2")
    c.run(10)
    if c.leader(among=[3, 4, 5]) != 3:
        raise ScriptError(f"S3 did not win term 2 with S4 and S5 (t={c.now} ms)")
    c.request("new")
    c.run(20)
    step("(c) S3 leads term 2 with S4, S5 and commits new at index 2", c)
    c.heal()
    c.run(120)
    step("(d) healed: S1 and S2 follow S3; old1..old3 are overwritten by new", c)
    c.crash(3)
    c.cut(2, 1)  # S1 hears nothing from S2 in term 3 (S2's slowed term-1 answer is stopped only while this holds)
    elect(c, 1)
    step("(e) S3 crashed; S1 leads again, term 3 (votes of S4, S5), with log [base, new]", c)
    c.cut(1, 2)
    c.cut(1, 4)
    c.request("z")
    c.run(20)
    step("(f) z (index 3, term 3) reached S5 only: 2 of 5 copies, z must not commit", c)
    c.heal()
    c.cut(1, 2)
    c.cut(1, 4)
    c.run(300)
    step("(g) S2's slowed term-1 answer arrived: it speaks of term 1, not of z", c)
    c.heal()
    c.run(100)
    step("(h) healed: S2 and S4 store z and S1 commits it", c)
    return c


def restart_between_votes(node_class: type[RaftNode] = RaftNode, seed: int = 14, *,
                          make: Make | None = None, on_step: Step | None = None) -> Cluster:
    """§5.2, Figure 2: votedFor survives a crash, so a restart between two requests of one term gives one vote.

    S1 and S2 cannot hear each other. S1 stands for term 1 and S3 votes for
    it; S3 crashes and restarts; then S2 stands for term 1 too and asks S3.
    S3 must refuse: it already voted in term 1. A node that keeps its vote
    in volatile state votes twice ("One vote per term") and two leaders of
    term 1 follow ("Election Safety").
    """
    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(3, timing=SCRIPTED, network=_FAST)
    c.cut(1, 2)
    c.cut(2, 1)
    _time_out(c, 1, "S1 must stand for term 1")
    c.run(10)
    step("S1 leads term 1 with S3's vote (S1 and S2 cannot hear each other)", c)
    c.crash(3)
    c.restart(3)
    step("S3 crashed and restarted: its term and vote come back from its disk", c)
    _time_out(c, 2, "S2 must stand for term 1")
    c.run(10)
    step("S2 stood for term 1 too and asked S3", c)
    return c


def crash_after_acknowledging(node_class: type[RaftNode] = RaftNode, seed: int = 16, *,
                              make: Make | None = None, on_step: Step | None = None) -> Cluster:
    """Figure 2: the log is "updated on stable storage before responding to RPCs", so an acknowledged entry survives.

    S1 leads term 1; "x" reaches S2 and S3, both acknowledge and S1 commits
    it. Right after their replies left, S2 and S3 crash and restart, before
    any later step of theirs. A follower that answered before persisting
    comes back without "x": a committed entry is then stored on S1 alone
    ("Committed entries on a majority"). Then S1 crashes too and S2 leads;
    with "x" kept, S2 holds it and commits "y" after it.
    """
    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(3, timing=SCRIPTED, network=_FAST)
    elect(c, 1)
    c.request("x")
    c.run(3)
    if c.node(1).commit_index < 1:
        raise ScriptError(f"S1 did not commit x within 3 ms of 1 ms messages (t={c.now} ms)")
    step("S1 committed x: S2 and S3 acknowledged it", c)
    for i in (2, 3):
        c.crash(i)
    for i in (2, 3):
        c.restart(i)
    step("S2 and S3 crashed right after acknowledging and restarted from their disks", c)
    c.crash(1)
    elect(c, 2)
    c.request("y")
    c.run(10)
    step("S1 crashed; S2 leads term 2 and commits y after x", c)
    return c


def vote_replies_delayed_across_reelection(node_class: type[RaftNode] = RaftNode, seed: int = 15, *,
                                           make: Make | None = None, on_step: Step | None = None) -> Cluster:
    """§5.2: votes count only in the term they were given; replies from an earlier election are stale.

    S1 stands for term 1; the four votes for it are slowed down (about
    200 ms). Before they arrive S1 is cut off and stands again, for term 2,
    where nobody hears it. The term-1 votes then arrive while S1 is a
    candidate of term 2: a node that counts them becomes leader of term 2
    with no vote of that term ("Leader elected by a majority"). Healed, S1
    wins term 3 for real.
    """
    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(5, timing=SCRIPTED, network=_FAST)
    _time_out(c, 1, "S1 must stand for term 1")
    c.set_network(delay=(200, 200))  # the RequestVotes are on the wire already (1 ms); the votes come slowly
    c.run(1)
    c.set_network(delay=(1, 1))
    for peer in (2, 3, 4, 5):
        c.cut(1, peer)
    step("S1 stood for term 1; four votes for it are on their way, slowly", c)
    _time_out(c, 1, "S1 must stand again, for term 2")
    c.run(250)
    step("S1 stood for term 2 unheard; the term-1 votes arrived meanwhile", c)
    c.heal()
    elect(c, 1)
    step("healed: S1 wins term 3 with votes of term 3", c)
    return c


def single_server_change_bug(node_class: type[RaftNode] = RaftNode, seed: int = 21, *, make: Make | None = None,
                             on_step: Step | None = None) -> Cluster:
    """The bug in single-server membership changes that Ongaro reported on the raft-dev list in 2015, replayed.

    Two leaders of successive terms each change the configuration by one server -- but not the same one, so the two
    new configurations differ from each other by two servers, and a majority of one need not meet a majority of the
    other. (Two different one-server changes of the same configuration are always two servers apart: two additions,
    as here, an addition and a removal, or two removals; one rule fixes them all.) Six servers; labels passed to
    ``on_step`` start with "(0)" .. "(4)":

    (0) S1 leads term 1 of voters S1-S4; S5 and S6 joined as learners and caught up.
    (1) Cut off with S5 alone, S1 promotes S5: C1 (voters S1-S5) reaches S5 only and is not committed.
    (2) S1 crashes; S2 wins term 2 with S3 and S4 (a majority of S1-S4, the configuration in their logs);
        then S4 is cut off as well.
    (3) S2 promotes S6: C2 (voters S1-S4 and S6) is for S2, S3 and S6 -- 3 of C2's 5 voters, enough to commit it.
        The fix (raftedu's :meth:`RaftNode.configuration_change_refused`) forbids this until S2 has committed an
        entry of its own term, which it cannot (S1 is down, S4 cut off): with the fix S2 is refused and changes
        nothing. A node without the fix appends C2, and the safety monitor stops the run at that append, before
        step (3) is reported: "Configuration change after a commit of the leader's term" (the fix's rule, which the
        monitor checks on every configuration a leader appends).
    (4) S1 restarts beside S4 and S5 only and wins term 3 with their votes -- a majority of C1, the configuration in
        its log. With the fix nothing committed is lost: C2 never existed. Had C2 been committed in (3), this new
        leader's log would lack a committed entry: Leader Completeness, the damage the rule prevents.

    The fix takes effect because an entry of the new leader's term must reach a majority of the *old*
    configuration, which any server standing for the other change must then win over: its log is less up to date.
    """
    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(4, timing=SCRIPTED, network=_FAST)
    elect(c, 1)
    c.request("a")
    c.run(60)
    for _ in range(2):
        c.add_server()
        c.run(100)
    step("(0) S1 leads term 1 of voters S1-S4; S5 and S6 joined as learners and caught up", c)
    c.partition([1, 5], [2, 3, 4, 6])
    c.promote(5)
    c.run(10)
    step("(1) cut off with S5, S1 promotes S5: voters S1-S5, an entry only S5 receives, not committed", c)
    c.crash(1)
    elect(c, 2)
    c.run(100)  # S2's heartbeats: it learns how far S6's log reaches
    c.partition([1, 5], [2, 3, 6], [4])
    step("(2) S1 crashed; S2 won term 2 with S3 and S4 (a majority of S1-S4); then S4 was cut off", c)
    try:
        c.promote(6)
    except Refused as why:
        step(f"(3) S2 may not change the configuration yet: {why}", c)
    else:
        c.run(100)
        step("(3) S2 promoted S6: voters S1-S4 and S6, an entry on S2, S3 and S6, a majority of them: committed", c)
    c.partition([1, 4, 5], [2, 3, 6])
    c.restart(1)
    elect(c, 1)
    c.run(100)
    step("(4) S1 restarted with S4 and S5 and won term 3: a majority of voters S1-S5, the configuration in its log",
         c)
    return c
# --------------------------------------------------------------------------
# etcd's extensions (issue 25): each script runs any node class; a correct node keeps every promise, a node that
# breaks the one in the docstring trips the safety monitor's property named there, or (a liveness promise) the
# script stops with ScriptError.
# --------------------------------------------------------------------------

_KEEP_REMOVED = 1_000_000
"""``retire_after`` for scripts in which a removed server keeps running (dissertation §4.2.3)."""


def _leads(c: Cluster, i: int, why: str) -> None:
    """:class:`ScriptError` unless S``i`` leads now."""
    if c.leader() != i:
        raise ScriptError(f"S{i} does not lead at t={c.now} ms (leader: "
                          f"{'none' if c.leader() is None else 'S' + str(c.leader())}): {why}")


def _committed(c: Cluster, command: str, why: str) -> None:
    """:class:`ScriptError` unless the client request for ``command`` is committed."""
    req = next(r for r in reversed(c.requests) if r.command == command)
    if req.status != "committed":
        raise ScriptError(f"the client request {command!r} is {req.status} at t={c.now} ms: {why}")


def _ready(c: Cluster, leader: int = 1) -> None:
    """``leader`` leads term 1 and commits "a" on every server."""
    elect(c, leader)
    c.request("a")
    c.run(60)
    _committed(c, "a", f"S{leader} must commit a with every server up and the network reliable")


def cut_off_leader_with_learners(node_class: type[RaftNode] = RaftNode, seed: int = 18, *,
                                 make: Make | None = None, on_step: Step | None = None) -> Cluster:
    """Check-quorum (dissertation §6.2) counts voters only; learners never campaign (§4.2.1).

    (a) S1 leads term 1 of S1..S3 with check-quorum on and two learners, S4 and
    S5. (b) The network cuts S1 off with its learners: they answer it, but a
    majority is two of the voters S1..S3, so within a minimum election timeout
    and a heartbeat S1 must step down. A leader that counts its learners stays
    leader beside the next one ("Check-quorum leaders step down"). (c) S2 wins
    term 2 with S3. (d) S4's election timer runs out: a learner does not
    campaign ("Learners never campaign or lead"). (e) Healed, everyone follows S2,
    which commits "b".
    """
    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(3, timing=SCRIPTED, network=_FAST, check_quorum=True)
    _ready(c)
    learners = []
    for _ in range(2):
        learners.append(c.add_server())
        c.run(60)
    step(f"(a) S1 leads term 1 with check-quorum; S{learners[0]} and S{learners[1]} are learners", c)
    c.partition([1, *learners])
    c.run(SCRIPTED.election_timeout[0] + 2 * SCRIPTED.heartbeat)
    step("(b) S1, cut off with its learners for a minimum election timeout, stepped down", c)
    elect(c, 2)
    step("(c) S2 leads term 2 with S3", c)
    c.timeout_now(learners[0])
    c.run(20)
    step(f"(d) S{learners[0]}'s election timer ran out: a learner does not campaign", c)
    c.heal()
    c.request("b")
    c.run(120)
    _committed(c, "b", "healed, S2 leads a majority")
    step("(e) healed: everyone follows S2, which committed b", c)
    return c


def stale_timeout_now(node_class: type[RaftNode] = RaftNode, seed: int = 19, *, make: Make | None = None,
                      on_step: Step | None = None) -> Cluster:
    """Leadership transfer (dissertation §3.10): a TimeoutNow of an older term is ignored.

    (a) S1 leads term 1 and commits "a". (b) It hands leadership to S2 (caught
    up: TimeoutNow leaves at once), and the network delivers that TimeoutNow
    twice. S2 stands for term 2 on the first copy; the second copy, of term 1,
    is stale and must be ignored. A server that obeys it starts another election
    -- a needless one, which deposes the leader it just became ("Stale TimeoutNow
    is ignored"). (c) S2 leads term 2 and commits "b".
    """
    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(3, timing=SCRIPTED, network=_FAST)
    _ready(c)
    step("(a) S1 leads term 1 and committed a", c)
    c.set_network(duplicate_rate=1.0)
    c.transfer_leadership(2)
    c.set_network(duplicate_rate=0.0)
    c.run(20)
    step("(b) S1 handed leadership to S2; its TimeoutNow arrived twice and S2 ignored the stale copy", c)
    _leads(c, 2, "a transfer to a caught-up voter elects it")
    c.request("b")
    c.run(20)
    _committed(c, "b", "S2 leads all three")
    step("(c) S2 leads term 2 and committed b", c)
    return c


def transfer_to_learner_or_crashed(node_class: type[RaftNode] = RaftNode, seed: int = 20, *,
                                   make: Make | None = None, on_step: Step | None = None) -> Cluster:
    """Leadership transfer (dissertation §3.10) goes only to a running voter.

    (a) S1 leads term 1 of S1..S3; S4 joins as a learner and catches up. (b)
    Asked to hand leadership to S4, the leader refuses: a learner never leads
    (§4.2.1). A leader that accepts sends it TimeoutNow ("Transfer only to a
    caught-up voter"), and a learner that obeyed would lead without counting for
    any majority. (c) S3 crashes; a transfer to it is refused at the call: it can
    neither catch up nor campaign. (d) S3 restarts and the transfer to it
    succeeds. (e) S3 hands over to S2, which is cut off: while it waits, S3
    refuses client requests ("No proposals during a transfer"); after a minimum
    election timeout it gives up and takes them again.
    """
    from .sim import Refused

    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(3, timing=SCRIPTED, network=_FAST)
    _ready(c)
    learner = c.add_server()
    c.run(60)
    step(f"(a) S1 leads term 1; S{learner} is a caught-up learner", c)
    try:
        c.transfer_leadership(learner)
    except Refused:
        pass
    c.run(20)
    step(f"(b) S1 refused to hand leadership to the learner S{learner}", c)
    c.crash(3)
    try:
        c.transfer_leadership(3)
    except Refused:
        pass
    else:
        raise ScriptError("a transfer to the crashed S3 was accepted")  # pragma: no cover (the simulator refuses it)
    step("(c) S3 crashed: a transfer to it is refused at the call", c)
    c.restart(3)
    c.run(60)
    _leads(c, 1, "S1 still leads: nothing took leadership from it")
    c.transfer_leadership(3)
    c.run(20)
    _leads(c, 3, "a transfer to a caught-up running voter elects it")
    step("(d) S3 restarted and caught up; the transfer to it succeeded", c)
    c.isolate(2)
    c.transfer_leadership(2)
    during = c.request("during")
    if during.status != "rejected":
        raise ScriptError(f"S3 took a client request while handing leadership over (t={c.now} ms)")
    c.run(SCRIPTED.election_timeout[0] + SCRIPTED.heartbeat)
    c.heal()
    _leads(c, 3, "S3 gave the transfer up and leads on")
    c.request("after")
    c.run(20)
    _committed(c, "after", "S3 leads all three again")
    step("(e) S3 refused a client while handing over to the cut-off S2, gave up and committed after", c)
    return c


def removed_server_keeps_running(node_class: type[RaftNode] = RaftNode, seed: int = 21, *,
                                 make: Make | None = None, on_step: Step | None = None) -> Cluster:
    """A removed server that keeps running disrupts no one (dissertation §4.2.3, with check-quorum's lease, §4.2.3).

    (a) S1 leads term 1 with check-quorum on and removes S3; the change commits
    on S1 and S2, and S1 stops sending to S3, which never learns of its removal
    and keeps running. (b) S3's election timer runs out: it stands for term 2.
    S1 and S2 heard from the leader within a minimum election timeout and ignore
    its RequestVote: S1 keeps leading term 1. A server that answered (or a leader
    that stepped down) would let a removed server depose a good leader again and
    again: the script stops (ScriptError). (c) S1 commits "b" with S2.
    """
    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(3, timing=SCRIPTED, network=_FAST, check_quorum=True,
                                        retire_after=_KEEP_REMOVED)
    _ready(c)
    c.remove_server(3)
    c.run(20)
    step("(a) S1 removed S3: the change committed on S1 and S2; S3 keeps running", c)
    for _ in range(2):
        _time_out(c, 3, "S3 never hears from a leader again")
        c.run(20)
    step("(b) S3 stood twice for a new term; S1 and S2 ignored it", c)
    _leads(c, 1, "a removed server must not depose the leader (§4.2.3)")
    if c.node(1).current_term != 1:
        raise ScriptError(f"S1 moved to term {c.node(1).current_term}: S3's RequestVote should have been ignored")
    c.request("b")
    c.run(20)
    _committed(c, "b", "S1 and S2 are the voters")
    step("(c) S1 committed b with S2", c)
    return c


def removal_pending_campaigns(node_class: type[RaftNode] = RaftNode, seed: int = 22, *,
                              make: Make | None = None, on_step: Step | None = None) -> Cluster:
    """A server whose own removal is not committed still campaigns (dissertation §4.2.2).

    (a) S1 leads S1..S3 and removes S3 (committed: S1 and S2 vote). (b) Cut off,
    S1 appends its own removal (only S2 votes then), crashes and restarts: the
    change is in its log, not committed. (c) S2 stands for term 2 but S1's log is
    ahead: S1 refuses, and S2 cannot win. (d) S1 must campaign: S2's vote is a
    majority of the new configuration (S1 does not count itself). It commits an
    entry of its term, the removal with it, and steps down. A server that never
    campaigns while its removal is pending leaves the cluster without a leader
    forever (ScriptError). (e) S2 leads alone and commits "d".
    """
    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(3, timing=SCRIPTED, network=_FAST)
    _ready(c)
    c.remove_server(3)
    c.run(20)
    step("(a) S1 removed S3: S1 and S2 vote", c)
    c.isolate(1)
    c.remove_server(1)
    c.run(10)
    c.crash(1)
    c.restart(1)
    c.heal()
    step("(b) cut off, S1 appended its own removal, then crashed and restarted: the removal is not committed", c)
    _time_out(c, 2, "S2 must stand for term 2")
    c.run(20)
    step("(c) S2 stood for term 2: S1's log is ahead, so S1 refused", c)
    elect(c, 1)
    c.request("c")
    c.run(20)
    _committed(c, "c", "S1 leads, S2 votes: an entry of S1's term commits, and its removal with it")
    step("(d) S1 campaigned, led with S2's vote, committed c and with it its own removal, and stepped down", c)
    elect(c, 2)
    c.request("d")
    c.run(20)
    _committed(c, "d", "S2 is the only voter")
    step("(e) S2 leads alone and committed d", c)
    return c


def stale_append_renews_no_lease(node_class: type[RaftNode] = RaftNode, seed: int = 23, *,
                                 make: Make | None = None, on_step: Step | None = None) -> Cluster:
    """Check-quorum's lease (dissertation §4.2.3) is renewed only by the current leader's messages.

    (a) S1 leads term 1 with check-quorum on and commits "a". (b) One of its
    heartbeats to S3 is held up for 5 s. (c) S1 hands leadership to S2 (term 2),
    and S2 crashes. (d) A minimum election timeout later S3's lease from S2 is
    over, but S1's old heartbeat of term 1 reached it meanwhile. S1 stands for
    term 3: S3 must vote for it. A server that lets an older term's
    AppendEntries renew its lease ignores the RequestVote ("Lease only from the
    current leader"), and with pre-vote refuses pre-votes: no leader while old
    messages keep arriving. (e) S1 leads term 3 and commits "b".
    """
    step = on_step or (lambda label, cluster: None)
    c = _maker(make, node_class, seed)(3, timing=SCRIPTED, network=_FAST, check_quorum=True)
    _ready(c)
    step("(a) S1 leads term 1 and committed a", c)
    c.set_network(delay=(5_000, 5_000))
    mark = len(c.trace)
    c.run_until(lambda c: any(e.kind == "send" and e.node == 1 and e.peer == 3 for e in c.trace.events[mark:]), 100)
    c.set_network(delay=(1, 1))
    step("(b) S1's next heartbeat to S3 (term 1) is held up for 5 s", c)
    c.transfer_leadership(2)
    c.run(20)
    _leads(c, 2, "a transfer to a caught-up voter elects it")
    c.crash(2)
    step("(c) S2 took over in term 2 and crashed", c)
    c.run(SCRIPTED.election_timeout[0] + 1)
    step("(d) a minimum election timeout later: S1's old heartbeat reached S3 meanwhile", c)
    elect(c, 1)
    c.request("b")
    c.run(20)
    _committed(c, "b", "S1 and S3 are a majority")
    step("(e) S1 leads term 3 with S3's vote and committed b", c)
    return c


LOSSY = Network(delay=(10, 40), drop_rate=0.2)
"""The lossy network of :func:`leaders_per_election`: 10-40 ms per message, one in five lost."""
CHURN_LIMIT = (1.2, 0.05)
""":func:`compare_leader_churn` flags a node class whose leaders per election exceed ``factor * reference + slack``.
Measured (seeds 0-19): the reference elects 1.035 leaders per election on :data:`LOSSY`, a node that grants votes
without resetting its election timer 1.98; a correct node that draws its timeouts differently 1.05, one that resets its
timer on every RequestVote (slower, but it deposes no leader) 1.20."""


def leaders_per_election(node_class: type[RaftNode] = RaftNode, seeds: range | list[int] = range(20), *,
                         network: Network = LOSSY, crashes: int = 10, n: int = 5) -> float:
    """Quantitative liveness (§5.2): how many leaders it takes, on average, to replace a crashed one.

    For each seed, an ``n``-server cluster on ``network`` loses its leader
    ``crashes`` times (the leader crashes 300 ms after it was elected, and
    restarts once the next leader is in place). Every leader elected counts.
    With Figure 2's rules about one leader per election is enough; a voter that
    grants its vote without resetting its election timer (Figure 2: "granting
    vote to candidate" resets it) soon times out and deposes the leader it just
    elected, so a lossy, slow network needs about two per election. Safety is
    checked all along, as always; no leader within 5 s raises :class:`ScriptError`.
    """
    elected = elections = 0
    for seed in seeds:
        c = Cluster(n, seed=seed, node_class=node_class, network=network)
        for _ in range(crashes):
            if not c.run_until(lambda c: c.leader() is not None, 5_000):
                raise ScriptError(f"no leader within 5 s on a lossy network (seed {seed}, t={c.now} ms)")
            c.run(300)
            leader = c.leader()
            if leader is None:
                continue
            c.crash(leader)
            elections += 1
            c.run_until(lambda c: c.leader() is not None, 5_000)
            c.restart(leader)
        elected += sum(1 for e in c.trace.of_kind("role") if e.value == LEADER) - 1  # the first election is free
    return elected / max(1, elections)


def compare_leader_churn(node_class: type[RaftNode], seeds: range | list[int] = range(20),
                         reference: type[RaftNode] = RaftNode) -> tuple[float, float, float, bool]:
    """:func:`leaders_per_election` for ``node_class`` and ``reference`` on the same seeds: ``(candidate, reference,
    limit, flagged)``; flagged when the candidate exceeds the limit (:data:`CHURN_LIMIT`)."""
    mine, theirs = leaders_per_election(node_class, seeds), leaders_per_election(reference, seeds)
    factor, slack = CHURN_LIMIT
    limit = factor * theirs + slack
    return mine, theirs, limit, mine > limit
