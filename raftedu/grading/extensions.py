"""Exercise 11: etcd's election extensions -- pre-vote (dissertation §9.6) and check-quorum (§6.2, §4.2.3).

The student writes six methods of :class:`~raftedu.raft.RaftNode` (:data:`PREVOTE_RULES`), plugged into the
reference node like exercises 02-04; the rest of the node (Figure 2, the extension plumbing ``intercept``,
``campaign``, ``leader_tick``, ``after_step``) stays the reference's. Two kinds of evidence:

* **Differential cases** (:func:`ext_case`): one node in a stated situation, with pre-vote and/or check-quorum
  on, gets a timed sequence of inputs (messages and timer firings); its messages and state afterwards are
  compared with the reference node's in the same situation. Public cases are fixed; hidden ones are drawn from
  the instructor's secret (:func:`random_ext_case`).
* **Scenarios** (:data:`EXTENSION_SCENARIOS`, added to :data:`~raftedu.grading.scenarios.SCENARIOS`): lesson 10's
  disruptive rejoin with pre-vote (the leader keeps leading) and with check-quorum alone (it does not: a reply
  carrying the rejoining server's higher term still deposes it, §5.1), the lonely leader that steps down, and
  the sweep's random faults with both options on. Every judge checks its setup first.

The options are the cluster's (``Cluster(..., pre_vote=True, check_quorum=True)``): every node, the student's in
the grader's sandboxed worker too (``Server.runs_extensions``), gets them at each boot, and the safety monitor checks
what check-quorum promises (a leader that lost touch with a majority steps down, §6.2).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from typing import Any

from .. import nodehost
from ..raft import (CANDIDATE, LEADER, AppendEntries, AppendEntriesReply, Message, PreVote, PreVoteReply,
                    RaftNode, RequestVote)
from ..sim import Cluster
from ..sweep import CHAOS, random_schedule, recover
from .core import Check, Failed
from .scenarios import (SCENARIOS, Facts, Run, Scenario, _need, _stopped, batched, describe, forget_output,
                        judge_faults_saying, make_node)

__all__ = ["EXTENSION_SCENARIOS", "PREVOTE_RULES", "ext_case", "judge_ext_case", "prevote_checks", "probe_ext_case",
           "random_ext_case"]

PREVOTE_RULES = ("in_lease", "start_pre_vote", "handle_pre_vote", "handle_pre_vote_reply", "ignores_vote_request",
                 "lost_quorum")
"""The RaftNode methods a student writes in exercise 11 (switched off in the reference while it is graded)."""

_CODEC = nodehost.registry()


# --------------------------------------------------------------------------
# Differential cases: a node with the extensions on, timed inputs, compared with the reference
# --------------------------------------------------------------------------


def _say(encoded: Any) -> str:
    """A message as the case carries it, in the paper's words: ``PreVote(S4→S2: term=4, ...)``."""
    try:
        msg = nodehost.decode(encoded, _CODEC)
    except (nodehost.DecodeError, TypeError):
        return f"not a message: {str(encoded)[:100]}"
    if not isinstance(msg, Message):
        return repr(msg)[:100]
    fields = [f"{k}={getattr(msg, k)!r}" for k in msg.__dataclass_fields__ if k not in ("src", "dst")
              and not (k == "transfer" and not getattr(msg, k))]
    if isinstance(msg, AppendEntries):
        fields = [f for f in fields if not f.startswith("entries=")] + [f"entries={[e.term for e in msg.entries]}"]
    return f"{type(msg).__name__}(S{msg.src}→S{msg.dst}: {', '.join(fields)})"


def _step_text(step: list[Any]) -> str:
    at, what = step
    return f"at {at} ms its timer fires" if what == "timer" else f"at {at} ms it gets {_say(what)}"


def ext_case(situation: Mapping[str, Any], options: Mapping[str, bool], steps: list[tuple[int, Message | str]],
             what: str, rule: str) -> dict[str, Any]:
    """A differential case as plain data: the node's ``situation`` (:func:`~raftedu.grading.scenarios.make_node`
    keywords; it is situated at time 100), the ``options`` switched on, then ``steps``: ``(time, message)`` to
    deliver or ``(time, "timer")`` to fire its timer, in order; ``what`` it tests in words and the ``rule``."""
    return {"situation": dict(situation), "options": dict(options),
            "steps": [[int(at), "timer" if m == "timer" else nodehost.encode(m)] for at, m in steps],
            "what": what, "rule": rule}


def _run_ext_case(cls: type, spec: Mapping[str, Any]) -> dict[str, Any]:
    with batched(cls):  # in the grader the whole case is one call to the sandboxed worker
        node = make_node(cls, **spec["situation"])
        node.enable(**spec["options"])
        forget_output(node)
        for at, what in spec["steps"]:  # receive and on_timer set the node's clock themselves: no call to set it
            if what == "timer":
                node.on_timer(at)
            else:
                node.receive(nodehost.decode(what, _CODEC), at)
    msgs, _ = node.take_output()  # what it sent at every step, in order
    return {
        "messages sent": [nodehost.encode(m) for m in msgs],
        "currentTerm": nodehost.plain(node.current_term),
        "votedFor": nodehost.plain(node.voted_for),
        "role": nodehost.plain(node.role),
        "leader known": nodehost.plain(node.leader_id),
        "election timer deadline": nodehost.plain(node.deadline),
        "log terms": [nodehost.plain(getattr(e, "term", e)) for e in node.log],
        "commitIndex": nodehost.plain(node.commit_index),
    }


def _student_class(funcs: Mapping[str, Callable[..., Any]]) -> type:
    from .scenarios import node_class

    return node_class(funcs)


def probe_ext_case(funcs: Mapping[str, Callable[..., Any]], spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the student's node did in case ``spec``: every message it sent and its state afterwards (runs student
    code; in the grader, in the sandboxed worker)."""
    return _run_ext_case(_student_class(funcs), spec)


def judge_ext_case(spec: Mapping[str, Any], observed: Any) -> None:
    """Compare an observation with the reference node in the same case; raise :class:`Failed` at a difference."""
    before = describe(make_node(RaftNode, **spec["situation"]))
    on = " and ".join(k.replace("_", "-") for k, v in spec["options"].items() if v) or "no extension"
    story = "; ".join(_step_text(s) for s in spec["steps"])
    expected = _run_ext_case(RaftNode, spec)
    if not isinstance(observed, dict):
        raise Failed(f"{before} with {on} on {spec['what']}: no observation of the node came back")
    diffs = differences(expected, observed)
    if diffs:
        raise Failed(f"{before} with {on} on {spec['what']} ({story}).\n" + "\n".join(diffs)
                     + f"\n  rule: {spec['rule']}")


TIMER_NOTE = "resetting the timer draws a new random timeout; a step that must not reset it keeps the old deadline"
"""What a differing election-timer deadline means, said under a differential case's hint."""


def differences(expected: dict[str, Any], observed: dict[str, Any], timer_note: str = TIMER_NOTE,
                show: Callable[[Any], str] = repr) -> list[str]:
    """One line per value the student's node got differently from the reference in a differential case (exercises
    10, 11, 12): the messages sent as missing/extra, the timer with ``timer_note``, anything else as ``show`` writes
    it."""
    diffs = []
    for key, want in expected.items():
        got = observed.get(key)
        if got == want:
            continue
        if key == "messages sent":
            diffs.append("  messages sent: " + _messages_differ([_say(m) for m in want], got))
        elif key == "election timer deadline":
            diffs.append(f"  election timer: expected deadline {want!r}, got {got!r} ({timer_note})")
        else:
            diffs.append(f"  {key}: expected {show(want)}, got {show(got)}")
    return diffs


def _messages_differ(want: list[str], got: Any) -> str:
    """How the messages a node sent differ from those expected, in a line: what is missing, what is extra."""
    if not isinstance(got, list):
        return f"expected {want}, got {got!r}"[:600]
    said = [_say(m) for m in got]
    missing, extra = list(want), []
    for m in said:
        if m in missing:
            missing.remove(m)
        else:
            extra.append(m)
    if not missing and not extra:
        return f"the expected messages in another order: expected {want}, got {said}"
    parts = [f"expected {len(want)}, got {len(said)}"]
    if missing:
        parts.append(f"missing {missing[:4]}" + (f" and {len(missing) - 4} more" if len(missing) > 4 else ""))
    if extra:
        parts.append(f"not expected {extra[:4]}" + (f" and {len(extra) - 4} more" if len(extra) > 4 else ""))
    return "; ".join(parts)


def _ext_case_check(name: str, points: float, public: bool, cases: Callable[[random.Random], list[Any]],
                    description: str) -> Check:
    return Check(name, points, public, PREVOTE_RULES, description, cases=cases, probe=probe_ext_case,
                 judge=judge_ext_case, label=lambda spec: f"the node that {spec['what']}")


_PV = {"pre_vote": True}
_CQ = {"check_quorum": True}
_RULE_START = ("§9.6 start_pre_vote: become a pre-candidate (a follower, no known leader, pre_votes = {self}), reset "
               "the election timer, ask every peer PreVote(currentTerm + 1, lastLogIndex, lastLogTerm) without raising "
               "the term or voting")
_RULE_COUNT = ("§9.6 handle_pre_vote_reply: only a refusal's term is observed (not m.vote_granted: a later term makes "
               "this server a follower of that term, §5.1) -- a grant carries currentTerm + 1, the term asked for, and "
               "observing it would make a pre-candidate a follower of the very term it campaigns for; count granted pre-votes for currentTerm + 1 only while a pre-candidate, each server once; "
               "with a majority (itself included) start the real election")
_RULE_GRANT = ("§9.6 handle_pre_vote: refuse an older term, a term in which we voted for someone else, while in a "
               "leader's lease (in_lease), or a less up-to-date log; otherwise grant. Reply PreVoteReply with the asked "
               "term when granting, our own term when refusing; change nothing else (no term, no vote, no timer)")
_RULE_LEASE = ("§4.2.3/§9.6 in_lease: a leader is always in its lease; another server is while it knows a leader "
               "and heard from it less than the minimum election timeout ago")
_RULE_IGNORE = ("§4.2.3 ignores_vote_request: with check-quorum on, a server in a leader's lease ignores a "
                "RequestVote of a higher term (no reply, no term change), unless it is a leadership transfer "
                "(transfer=True, §3.10); otherwise RequestVote is handled as in Figure 2")
_RULE_QUORUM = ("§6.2 lost_quorum: a leader steps down once a whole minimum election timeout passed since it became "
                "leader without hearing from a majority (itself included) within the last minimum election timeout")


def _hb(term: int, src: int = 1, dst: int = 2) -> AppendEntries:
    """A heartbeat from leader ``src`` whose consistency check always passes (prevLogIndex 0)."""
    return AppendEntries(term, src, dst, 0, 0, (), 0)


def prevote_cases() -> list[dict[str, Any]]:
    """The public pre-vote cases (S2 of 5; term 3 unless said)."""
    f = dict(term=3, log_terms=[1, 3])
    return [
        ext_case(f, _PV, [(400, "timer")], "times out with pre-vote on", _RULE_START),
        ext_case(f, _PV, [(300, _hb(3)), (700, "timer"), (710, PreVoteReply(4, 3, 2, True)),
                          (720, PreVoteReply(4, 4, 2, True))],
                 "hears leader S1 at 300 ms, nothing more; its timer fires at 700 ms, then S3 and S4 grant pre-votes",
                 _RULE_START + "; " + _RULE_COUNT),
        ext_case(dict(f, role=CANDIDATE, voted_for=2), _PV, [(400, "timer")],
                 "(a candidate of term 3) times out again with pre-vote on",
                 _RULE_START + " (a candidate that times out goes back to asking first, as etcd does)"),
        ext_case(f, _PV, [(400, "timer"), (410, PreVoteReply(4, 1, 2, True)), (420, PreVoteReply(4, 3, 2, True))],
                 "times out, then gets pre-votes for term 4 from S1 and S3", _RULE_COUNT),
        ext_case(f, _PV, [(400, "timer"), (410, PreVoteReply(4, 1, 2, True)), (415, PreVoteReply(4, 1, 2, True))],
                 "times out, then gets S1's pre-vote for term 4 twice (a duplicate)", _RULE_COUNT),
        ext_case(f, _PV, [(400, "timer"), (410, PreVoteReply(4, 1, 2, True)), (420, PreVoteReply(3, 3, 2, True))],
                 "times out, then gets a pre-vote from S1 for term 4 and a late one from S3 for term 3", _RULE_COUNT),
        ext_case(f, _PV, [(400, "timer"), (410, PreVoteReply(5, 3, 2, False)), (420, PreVoteReply(4, 1, 2, True))],
                 "times out, then S3 refuses with its term 5, then S1 grants term 4", _RULE_COUNT),
        ext_case(f, _PV, [(410, PreVoteReply(4, 1, 2, True)), (420, PreVoteReply(4, 3, 2, True))],
                 "(not asking for pre-votes) gets granted pre-votes from S1 and S3", _RULE_COUNT),
        ext_case(f, _PV, [(400, PreVote(4, 4, 2, 2, 3))], "(no leader known) gets PreVote for term 4 from S4 whose "
                 "log is as up to date", _RULE_GRANT),
        ext_case(f, _PV, [(300, _hb(3)), (350, PreVote(4, 4, 2, 2, 3))],
                 "hears leader S1 at 300 ms and gets PreVote for term 4 from S4 50 ms later", _RULE_GRANT),
        ext_case(f, _PV, [(300, _hb(3)), (460, PreVote(4, 4, 2, 2, 3))],
                 "hears leader S1 at 300 ms and gets PreVote for term 4 from S4 160 ms later", _RULE_GRANT + "; "
                 + _RULE_LEASE),
        ext_case(f, _PV, [(300, _hb(3)), (450, PreVote(4, 4, 2, 2, 3))],
                 "hears leader S1 at 300 ms and gets PreVote for term 4 from S4 exactly 150 ms later", _RULE_GRANT
                 + "; " + _RULE_LEASE),
        ext_case(f, _PV, [(400, PreVote(4, 4, 2, 5, 1))], "gets PreVote for term 4 from S4 whose longer log ends "
                 "in the older term 1", _RULE_GRANT),
        ext_case(f, _PV, [(400, PreVote(2, 4, 2, 2, 3))], "gets PreVote for the older term 2", _RULE_GRANT),
        ext_case(dict(f, voted_for=5), _PV, [(400, PreVote(3, 4, 2, 2, 3))],
                 "(voted for S5 in term 3) gets PreVote for term 3 from S4", _RULE_GRANT),
        ext_case(dict(f, role=LEADER, voted_for=2), _PV, [(400, PreVote(4, 4, 2, 2, 3))],
                 "(the leader) gets PreVote for term 4 from S4", _RULE_GRANT + "; " + _RULE_LEASE),
    ]


def checkquorum_cases() -> list[dict[str, Any]]:
    """The public check-quorum cases (S2 of 5, term 3)."""
    f = dict(term=3, log_terms=[1, 3])
    lead = dict(f, role=LEADER, voted_for=2, match_index={1: 2, 3: 2, 4: 2, 5: 2}, commit_index=2)
    def ok(src: int, at: int) -> tuple[int, Message]:
        return at, AppendEntriesReply(3, src, 2, True, 2)

    return [
        ext_case(f, _CQ, [(300, _hb(3)), (350, RequestVote(4, 3, 2, 2, 3))],
                 "hears leader S1 at 300 ms and gets RequestVote for term 4 from S3 50 ms later", _RULE_IGNORE),
        ext_case(f, _CQ, [(300, _hb(3)), (460, RequestVote(4, 3, 2, 2, 3))],
                 "hears leader S1 at 300 ms and gets RequestVote for term 4 from S3 160 ms later",
                 _RULE_IGNORE + "; " + _RULE_LEASE),
        ext_case(f, _CQ, [(300, _hb(3)), (350, RequestVote(4, 3, 2, 2, 3, True))],
                 "hears leader S1 at 300 ms and gets a transfer's RequestVote for term 4 from S3 50 ms later",
                 _RULE_IGNORE),
        ext_case(f, _CQ, [(350, RequestVote(4, 3, 2, 2, 3))], "(no leader known) gets RequestVote for term 4 from S3",
                 _RULE_IGNORE + "; " + _RULE_LEASE),
        ext_case(f, _CQ, [(300, _hb(3)), (350, RequestVote(3, 3, 2, 2, 3))],
                 "hears leader S1 at 300 ms and gets RequestVote for its own term 3 from S3", _RULE_IGNORE),
        ext_case(f, {}, [(300, _hb(3)), (350, RequestVote(4, 3, 2, 2, 3))],
                 "(check-quorum off) hears leader S1 at 300 ms and gets RequestVote for term 4 from S3", _RULE_IGNORE),
        ext_case(lead, _CQ, [(100, "timer"), ok(1, 200), ok(3, 210), (300, "timer")],
                 "(the leader since 100 ms) hears S1 and S3 at about 200 ms; its timer fires at 300 ms", _RULE_QUORUM),
        ext_case(lead, _CQ, [(100, "timer"), ok(1, 120), ok(3, 130), (300, "timer")],
                 "(the leader since 100 ms) hears S1 and S3 at about 120 ms, nobody since; its timer fires at 300 ms",
                 _RULE_QUORUM),
        ext_case(lead, _CQ, [(100, "timer"), ok(1, 280), (300, "timer")],
                 "(the leader since 100 ms) hears only S1 at 280 ms; its timer fires at 300 ms", _RULE_QUORUM),
        ext_case(lead, _CQ, [(100, "timer"), (200, "timer")],
                 "(the leader since 100 ms, nobody heard yet) has its timer fire at 200 ms", _RULE_QUORUM
                 + " (not before a whole minimum election timeout as leader)"),
        ext_case(dict(lead, n=3), _CQ, [(100, "timer"), ok(1, 250), (300, "timer")],
                 "(the leader of 3 since 100 ms) hears S1 at 250 ms; its timer fires at 300 ms", _RULE_QUORUM),
        ext_case(lead, {}, [(100, "timer"), (300, "timer")],
                 "(check-quorum off, the leader since 100 ms) hears nobody; its timer fires at 300 ms", _RULE_QUORUM),
    ]


def random_ext_case(rng: random.Random) -> dict[str, Any]:
    """A random situation of S2 with pre-vote and/or check-quorum on getting a few timed inputs (hidden cases)."""
    n = rng.choice([3, 5, 5])
    peers = [p for p in range(1, n + 1) if p != 2]
    term = rng.randint(1, 5)
    log_terms = sorted(rng.randint(1, term) for _ in range(rng.randint(0, 4)))
    situation: dict[str, Any] = dict(n=n, term=term, log_terms=log_terms)
    roll = rng.random()
    if roll < 0.2:
        situation.update(role=CANDIDATE, voted_for=2)
    elif roll < 0.4 and log_terms:
        situation.update(role=LEADER, voted_for=2, commit_index=rng.randint(0, len(log_terms)),
                         match_index={p: rng.randint(0, len(log_terms)) for p in peers})
    else:
        situation["voted_for"] = rng.choice([None, None, *peers])
    options = rng.choice([{"pre_vote": True}, {"check_quorum": True}, {"pre_vote": True, "check_quorum": True}])
    steps: list[tuple[int, Message | str]] = []
    at = 100
    near = (1, 40, 149, 150, 151, 220)  # around the minimum election timeout, where a lease ends

    def vote_request(t: int, src: int) -> None:
        last_term = rng.randint(0, term + 1)
        last_index = 0 if last_term == 0 else rng.randint(1, 6)
        if rng.random() < 0.5:
            steps.append((t, PreVote(term + rng.choice([-1, 0, 1, 1, 2]), src, 2, last_index, last_term)))
        else:
            steps.append((t, RequestVote(term + rng.choice([0, 1, 1, 2]), src, 2, last_index, last_term,
                                         rng.random() < 0.2)))

    for _ in range(rng.randint(1, 3)):  # episodes: a lease probed, a pre-campaign, a leader's heartbeat round
        at += rng.randint(5, 180)
        episode = rng.random()
        if episode < 0.35:
            leader = rng.choice(peers)
            steps.append((at, _hb(max(1, term + rng.choice([-1, 0, 0, 1])), leader)))
            at += rng.choice(near)
            vote_request(at, rng.choice([p for p in peers if p != leader] or peers))
        elif episode < 0.65:
            steps.append((at, "timer"))
            asked = term + 1
            for src in rng.choices(peers, k=rng.randint(1, 4)):  # duplicates possible
                at += rng.randint(1, 30)
                granted = rng.random() < 0.75
                steps.append((at, PreVoteReply(rng.choice([asked, asked, asked, term, term + 2]) if granted
                                               else rng.choice([term, term + 1, term + 2]), src, 2, granted)))
        elif episode < 0.85:
            for src in rng.sample(peers, rng.randint(0, len(peers))):
                steps.append((at, AppendEntriesReply(term + rng.choice([-1, 0, 0, 0]), src, 2, True,
                                                     rng.randint(0, len(log_terms)))))
                at += rng.randint(1, 40)
            at += rng.choice(near)
            steps.append((at, "timer"))
        else:
            vote_request(at, rng.choice(peers))
    return ext_case(situation, options, steps, "gets the inputs drawn from the secret",
                    "§9.6 pre-vote, §6.2 check-quorum (a situation drawn from the secret)")


# --------------------------------------------------------------------------
# Scenarios: lesson 10's runs with the student's node
# --------------------------------------------------------------------------


def _make(run: Run, n: int, *, pre_vote: bool = False, check_quorum: bool = False, **kwargs: Any) -> Cluster:
    """A cluster of ``n`` nodes of the class under test with the options on (remembered by the run)."""
    c = Cluster(n, seed=run.seed, node_class=run.node_class, pre_vote=pre_vote, check_quorum=check_quorum, **kwargs)
    run.clusters.append(c)
    return c


def _rejoin(run: Run, *, pre_vote: bool, check_quorum: bool) -> None:
    """Lesson 10's rejoin: a leader commits ``a``; a follower is cut off for 3 s; the network heals."""
    c = _make(run, 5, pre_vote=pre_vote, check_quorum=check_quorum)
    c.run_until(lambda c: c.leader() is not None, within=3_000)
    run.mark("leader elected")
    leader = c.leader()
    if leader is None:
        return
    c.request("a")
    c.run(200)
    leader = c.leader()
    if leader is None:
        run.mark("no leader after a")
        return
    x = next(i for i in c.ids if i != leader)
    c.isolate(x)
    run.mark(f"cut off S{x} from leader S{leader} of term {c.node(leader).current_term}")
    c.run(3_000)
    c.heal()
    run.mark("healed")
    c.run(1_500)
    run.mark("end")


_CUT = re.compile(r"cut off S(\d+) from leader S(\d+) of term (\d+)")


def _rejoin_setup(f: Facts, stopped: str) -> tuple[int, int, int, int, int]:
    """(x, leader, term, cut time, heal time) after checking the rejoin's setup happened."""
    why = _stopped(stopped)
    _need(f.mark_time("leader elected") is not None and bool(f.leaders(until=3_000)),
          f"setup: five servers elected no leader within 3 s{why}: with pre-vote a server that times out must ask "
          "for pre-votes (start_pre_vote), the others grant them when no leader is live (handle_pre_vote), and a "
          "majority of them starts the real election (handle_pre_vote_reply)")
    label, cut = f.mark_label("cut off"), f.mark_time("cut off")
    found = _CUT.match(label) if label is not None else None
    if found is None or cut is None:
        raise Failed(f"setup: the leader lost its leadership before its first request committed{why}")
    x, leader, term = (int(g) for g in found.groups())
    _need("a" in f.applied(cut), f"setup: the request 'a' sent to leader S{leader} did not commit within 200 ms{why}")
    healed = f.mark_time("healed")
    if healed is None or f.mark_time("end") is None:
        raise Failed(f"the run stopped before the network healed{why}")
    return x, leader, term, cut, healed


def _deposed(f: Facts, leader: int, after: int) -> int | None:
    """When ``leader`` stopped leading after ``after`` (None if it did not)."""
    return next((e.time for e in f.events if e.kind == "role" and e.node == leader and e.value != LEADER
                 and e.time > after), None)


def _judge_rejoin_prevote(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    x, leader, term, cut, healed = _rejoin_setup(f, stopped)
    asked = f.count("PreVote", since="cut off", until="healed")
    _need(asked > 0, f"S{x} was cut off for 3 s and its election timer ran out several times, but it sent no PreVote: "
          "with pre-vote on, a server whose timer runs out asks every peer for a pre-vote first (§9.6, start_pre_vote)")
    raised = f.terms_at(healed).get(x, term)
    _need(raised == term and f.count("RequestVote", since="cut off", until="healed") == 0,
          f"S{x}, cut off and alone, raised its term from {term} to {raised} (or sent RequestVote): with pre-vote a "
          "server raises its term only after a majority granted its pre-vote (§9.6: PreVote asks for currentTerm + 1 "
          "without changing currentTerm; handle_pre_vote_reply starts the election only with a majority)")
    down = _deposed(f, leader, cut)
    _need(down is None, f"leader S{leader} stopped leading at t={down} ms although S{x} came back with its term "
          f"unchanged: the disruptive rejoin should be cured by pre-vote (§9.6)")
    _need(f.leader_at(f.mark_time("end") or healed) == leader,
          f"after the heal leader S{leader} should still lead term {term}")


def _rejoin_checkquorum(run: Run) -> None:
    """Check-quorum alone: first the lonely leader (check-quorum works), then the rejoin (it does not help)."""
    _lonely(run, pre_vote=False)
    _rejoin(run, pre_vote=False, check_quorum=True)


def _judge_rejoin_checkquorum(facts: list[Facts], stopped: str) -> None:
    try:
        _judge_lonely(facts[:1], stopped)
    except Failed as e:
        raise Failed(f"setup: check-quorum must work before its limits show; in the first run {e.hint}") from None
    _need(len(facts) >= 2, f"the second run (the rejoin) did not run{f' (the run stopped: {stopped})' if stopped else ''}")
    f = facts[1]
    x, leader, term, _, healed = _rejoin_setup(f, stopped)
    raised = f.terms_at(healed).get(x, term)
    _need(raised > term, f"setup: S{x}, cut off for 3 s without pre-vote, should have raised its term by campaigning "
          f"alone (§5.2); it is still in term {raised}")
    down = _deposed(f, leader, healed)
    if down is None:
        raise Failed(f"with check-quorum alone leader S{leader} kept leading after S{x} came back with term {raised} > "
                     f"{term}: its answer to the leader's heartbeat carries that term, and a server that sees a higher "
                     "term steps down (§5.1). Check-quorum makes servers ignore RequestVote, nothing else: ignore only "
                     "a RequestVote of a higher term (ignores_vote_request), never other messages")
    new = f.leaders(after=down, until=down + 2_000)
    _need(bool(new), f"after leader S{leader} stepped down at t={down} ms no server became leader within 2 s: a "
          "follower's lease must end a minimum election timeout after it last heard the leader (in_lease), after "
          "which it handles RequestVote again")


def _lonely(run: Run, pre_vote: bool = True) -> None:
    """Lesson 10's minority leader with check-quorum (and pre-vote, as etcd runs them): the leader and one follower
    are cut off from the other three."""
    c = _make(run, 5, pre_vote=pre_vote, check_quorum=True)
    c.run_until(lambda c: c.leader() is not None, within=3_000)
    run.mark("leader elected")
    old = c.leader()
    if old is None:
        return
    c.run(300)
    old = c.leader()
    if old is None:
        run.mark("no leader")
        return
    partner = next(i for i in c.ids if i != old)
    c.partition([old, partner])
    run.mark(f"cut off S{partner} from leader S{old} of term {c.node(old).current_term}")
    c.run(1_500)
    run.mark("end")


def _judge_lonely(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    why = _stopped(stopped)
    _need(f.mark_time("leader elected") is not None and bool(f.leaders(until=3_000)),
          f"setup: five servers with check-quorum elected no leader within 3 s{why}")
    label, cut = f.mark_label("cut off"), f.mark_time("cut off")
    found = _CUT.match(label) if label is not None else None
    if found is None or cut is None:
        raise Failed(f"setup: the leader did not keep leading for 300 ms in a healthy cluster{why}: a leader hearing "
                     "from a majority must not step down (lost_quorum)")
    partner, old, _ = (int(g) for g in found.groups())
    elected = max((t for t, n, _ in f.leaders(until=cut) if n == old), default=-1)
    early = _deposed(f, old, elected)
    _need(early is None or early > cut, f"setup: leader S{old} stopped leading at t={early} ms while it heard from "
          "every server (lost_quorum must be False while a majority answered within the minimum election timeout)")
    _need(f.mark_time("end") is not None, f"the run stopped before the end{why}")
    low, beat = 150, 50
    down = _deposed(f, old, cut)
    if down is None:
        raise Failed(f"leader S{old}, cut off with S{partner} (2 of 5), never stepped down in 1.5 s: with "
                     "check-quorum a leader that heard from no majority within a minimum election timeout steps down "
                     "at its next heartbeat (§6.2, lost_quorum)")
    _need(cut + low - beat <= down <= cut + low + 2 * beat,
          f"leader S{old} stepped down {down - cut} ms after it was cut off; it should do so about one minimum "
          f"election timeout ({low} ms) after it last heard from a majority, at a heartbeat: between {low - beat} and "
          f"{low + 2 * beat} ms (§6.2, lost_quorum)")
    others = [n for _, n, t in f.leaders(after=cut) if n not in (old, partner)]
    _need(bool(others), "the three servers on the majority side elected no leader after the split: a follower whose "
          "timer runs out forgets the old leader and asks for pre-votes (start_pre_vote), and the others grant them "
          "once their lease on the old leader has ended (in_lease, handle_pre_vote)")


def _faults_both(run: Run) -> None:
    """The sweep's random faults on five nodes with pre-vote and check-quorum on (its network, its schedule of crashes,
    partitions and requests, its extra safety check), then recovery. The sweep's etcd operations (``features="all"``:
    transfers, membership changes, snapshots) are left out: they act on the reference node's own state, which the
    grader does not mirror from the sandboxed worker."""
    c = _make(run, 5, pre_vote=True, check_quorum=True, network=CHAOS, up_to_date_check=True,
              schedule=random_schedule(5, run.seed, horizon=4_000))
    c.run(4_000)
    run.mark("faults stopped")
    recover(c, within=5_000)
    run.mark("recovered")


_judge_faults_both = judge_faults_saying(
    "with pre-vote and check-quorum on, a new leader needs a majority of pre-votes first: a server grants one once no "
    "leader is live (handle_pre_vote, in_lease: a lease ends a minimum election timeout after the leader was last "
    "heard), and a leader that lost its majority must step down (lost_quorum)")


_CULPRITS = (
    ("Check-quorum leaders step down", "lost_quorum (§6.2: at each heartbeat a leader that heard from no majority "
     "within the last minimum election timeout steps down)"),
    ("Lease only from the current leader", "ignores_vote_request and in_lease (§4.2.3: a RequestVote is ignored only "
     "within a minimum election timeout of hearing from the leader of the current term)"),
)
"""The rules to look at when the safety monitor sees one of check-quorum's promises broken."""

EXTENSION_SCENARIOS: dict[str, Scenario] = {
    "rejoin_prevote": Scenario(lambda run: _rejoin(run, pre_vote=True, check_quorum=False), _judge_rejoin_prevote,
                               "lesson 10's disruptive rejoin with pre-vote: the leader keeps leading", counts=True, culprits=_CULPRITS),
    "rejoin_checkquorum_only": Scenario(_rejoin_checkquorum, _judge_rejoin_checkquorum,
                                        "check-quorum alone: the lonely leader steps down, yet the rejoin still "
                                        "deposes the leader", counts=True, culprits=_CULPRITS),
    "lonely_leader": Scenario(_lonely, _judge_lonely, "with check-quorum and pre-vote, a leader cut off with one "
                              "follower steps down (§6.2) and the majority side elects another", culprits=_CULPRITS),
    "faults_prevote_checkquorum": Scenario(_faults_both, _judge_faults_both, "the sweep's random faults with pre-vote "
                                           "and check-quorum on; then one request must commit", culprits=_CULPRITS),
}
"""Exercise 11's scenarios (added to :data:`~raftedu.grading.scenarios.SCENARIOS`)."""
SCENARIOS.update(EXTENSION_SCENARIOS)


def prevote_checks() -> tuple[Check, ...]:
    """Exercise 11's checks: public fixed cases and scenarios, the written answer, hidden cases and seeds."""
    from .exercises import _fixed, _scenario_check, _secret_seeds

    def scen(name: str, points: float, public: bool, scenario: str, seeds: Callable[[random.Random], list[int]],
             description: str) -> Check:
        return _scenario_check(name, points, public, PREVOTE_RULES, "11", scenario, seeds, description)

    return (
        _ext_case_check("prevote_rules", 3, True, lambda rng: prevote_cases(),
                        "pre-vote: asking, granting (lease, log, term), counting; compared with the reference node"),
        _ext_case_check("checkquorum_rules", 3, True, lambda rng: checkquorum_cases(),
                        "check-quorum: ignoring RequestVote in a lease, the leader stepping down; compared with the "
                        "reference node"),
        scen("rejoin_with_prevote", 2, True, "rejoin_prevote", _fixed([3]),
             "lesson 10's disruptive rejoin with pre-vote: the cut-off server never raises its term, the leader leads on"),
        scen("lonely_leader", 2, True, "lonely_leader", _fixed([3]),
             "both options on: a leader cut off with one of five servers steps down about a minimum election timeout "
             "later, and the other three elect a leader"),
        scen("checkquorum_alone", 1, True, "rejoin_checkquorum_only", _fixed([3]),
             "check-quorum alone (working: a lonely leader steps down) does not cure the rejoin: the leader still "
             "steps down (§5.1), and a new one is elected"),
        scen("both_under_faults", 2, True, "faults_prevote_checkquorum", _fixed([1, 2, 3]),
             "3 seeds of the sweep's crashes, partitions and lossy network with both options on; then recovery"),
        Check("why_checkquorum_alone", 2, True, (), "written answer: why check-quorum alone does not stop the "
              "disruptive rejoin, and what pre-vote changes", manual=True),
        _ext_case_check("extension_rules_hidden", 3, False, lambda rng: [random_ext_case(rng) for _ in range(60)],
                        "60 situations with pre-vote and/or check-quorum drawn from the secret, compared with the "
                        "reference node"),
        scen("rejoin_hidden", 2, False, "rejoin_prevote", _secret_seeds(4),
             "the rejoin with pre-vote, 4 seeds from the secret"),
        scen("lonely_leader_hidden", 1, False, "lonely_leader", _secret_seeds(4),
             "the lonely leader, 4 seeds from the secret"),
        scen("checkquorum_alone_hidden", 1, False, "rejoin_checkquorum_only", _secret_seeds(2),
             "check-quorum alone, 2 seeds from the secret"),
        scen("both_under_faults_hidden", 2, False, "faults_prevote_checkquorum", _secret_seeds(8),
             "8 more seeds of the sweep's faults with both options on (drawn from the secret)"),
    )
