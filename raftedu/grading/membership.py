"""Exercise 12: membership changes -- single-server changes (dissertation §4.1), learners (§4.2.1), removed servers
(§4.2.2), the fix of the 2015 single-server change bug -- and leadership transfer (§3.10).

The student writes ten methods of :class:`~raftedu.raft.RaftNode` (:data:`MEMBERSHIP_RULES`): six membership rules
and four of leadership transfer (§3.10), which membership changes use to move leadership off a server: TimeoutNow once
the target caught up, the target's forced election, no client requests meanwhile, and giving up after an election
timeout. Plugged into the
reference node like exercises 02-04 and 11; the rest of the node (Figure 2, ``apply_configuration``, ``config_at``,
``propose_configuration``, ``removal_pending``, the extension plumbing) stays the reference's. Two kinds of evidence:

* **Differential cases** (:func:`member_case`): one node with a log holding configurations gets a timed sequence of
  inputs -- messages, timer firings, and the questions and operations the simulator asks a leader for (may a change
  start, may this learner be promoted, append this configuration, hand leadership over); its answers, messages and
  state afterwards (configuration included) are compared with the reference node's. Public cases are fixed; hidden
  ones are drawn from the instructor's secret (:func:`random_member_case`).
* **Scenarios** (:data:`MEMBERSHIP_SCENARIOS`, added to :data:`~raftedu.grading.scenarios.SCENARIOS`): §4.2.1's
  availability run (a learner promoted before it caught up stalls the cluster), a removed leader that steps down
  (§4.2.2), learners that neither campaign nor count (lesson 11's scripts), a removed server that must campaign
  while its removal is pending, the 2015 interleaving (:func:`raftedu.scenarios.single_server_change_bug`), and the
  sweep's random faults with membership changes and transfers on. The safety monitor, with issue 25's
  :data:`~raftedu.checks.EXTENSION_PROPERTIES`, checks every run; every judge checks its setup first.

The simulator's operations (``add_server``, ``promote``, ``remove_server``) ask the student's leader through the
same methods a local node has, so the same scenario runs a local class in a student's kernel and the student's
nodes in the grader's sandboxed worker alike (:attr:`~raftedu.raft.Server.runs_extensions`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from .. import nodehost
from ..raft import (CANDIDATE, LEADER, AppendEntries, AppendEntriesReply, ConfigChange, Entry, Message, RaftNode,
                    RequestVoteReply, TimeoutNow)
from ..scenarios import stale_timeout_now
from ..scenarios import cut_off_leader_with_learners, removal_pending_campaigns, single_server_change_bug
from ..sim import Refused
from ..sweep import CHAOS, random_schedule, recover, retire_after
from .core import Check, Failed
from .extensions import _say, differences
from .scenarios import (SCENARIOS, Facts, Run, Scenario, _judge_faults, _need, _setup, _stopped, batched, forget_output,
                        make_node, node_class, situate)

__all__ = ["MEMBERSHIP_RULES", "MEMBERSHIP_SCENARIOS", "judge_member_case", "member_case", "membership_cases",
           "membership_checks", "probe_member_case", "random_member_case", "transfer_cases"]

MEMBERSHIP_RULES = ("refresh_configuration", "configuration_change_refused", "promotion_refused", "has_quorum",
                    "campaign", "step_down_when_removed", "send_timeout_now_when_caught_up", "handle_timeout_now",
                    "refuses_proposals", "abort_transfer_when_late")
"""The RaftNode methods a student writes in exercise 12 (switched off in the reference while it is graded)."""

_CODEC = nodehost.registry()

# --------------------------------------------------------------------------
# Differential cases: a node whose log holds configurations, timed inputs, compared with the reference
# --------------------------------------------------------------------------

_QUESTIONS = ("refused", "promote", "change", "transfer", "propose")
"""Steps besides messages and ``"timer"``: ``["refused"]`` asks configuration_change_refused(), ``["promote", i]``
asks promotion_refused(i), ``["change", config]`` calls propose_configuration, ``["transfer", i]``
transfer_leadership, ``["propose", command]`` propose."""


def _cfg(voters: tuple[int, ...], learners: tuple[int, ...] = ()) -> ConfigChange:
    return ConfigChange(tuple(voters), tuple(learners))


def member_case(situation: Mapping[str, Any], steps: list[tuple[Any, ...]], what: str, rule: str,
                options: Mapping[str, bool] | None = None) -> dict[str, Any]:
    """A differential case as plain data: S2's ``situation`` (:func:`~raftedu.grading.scenarios.make_node` keywords;
    ``log`` is a list of ``(term, command)``, a command may be a :class:`~raftedu.raft.ConfigChange`), membership on
    (and etcd's ``options``), then ``steps``: ``(time, message)``, ``(time, "timer")`` or ``(time, question, *args)``
    (:data:`_QUESTIONS`); ``what`` it tests in words and the ``rule``."""
    sit = dict(situation)
    log = sit.pop("log", [])
    sit["log_terms"] = [t for t, _ in log]
    sit["commands"] = nodehost.encode([c for _, c in log])
    if "match_index" in sit:
        sit["match_index"] = sorted([int(p), int(i)] for p, i in dict(sit["match_index"]).items())
    out = []
    for at, what_, *args in steps:
        if isinstance(what_, Message):
            out.append([int(at), "message", nodehost.encode(what_)])
        else:
            out.append([int(at), what_, nodehost.encode(list(args))])
    return {"situation": sit, "options": dict(options or {}), "steps": out, "what": what, "rule": rule}


def _node(cls: type, spec: Mapping[str, Any]) -> RaftNode:
    sit = dict(spec["situation"])
    sit["commands"] = nodehost.decode(sit["commands"], _CODEC)
    with batched(cls):  # in the grader the setup is one call to the sandboxed worker
        node = make_node(cls, **sit)
        node.enable(membership=True, **spec["options"])
        forget_output(node)
    return node


def _run_member_case(cls: type, spec: Mapping[str, Any]) -> dict[str, Any]:
    node = _node(cls, spec)
    sent: list[Any] = []
    answers: list[Any] = []
    for at, kind, arg in spec["steps"]:
        if kind in ("refused", "promote"):  # the other inputs give the node its clock themselves
            situate(node, now=at)
        args = nodehost.decode(arg, _CODEC)
        if kind == "timer":
            node.on_timer(at)
        elif kind == "message":
            node.receive(args, at)
        elif kind == "refused":
            answers.append("refused" if node.configuration_change_refused() is not None else "allowed")
        elif kind == "promote":
            answers.append("refused" if node.promotion_refused(*args) is not None else "allowed")
        elif kind == "change":
            answers.append(nodehost.plain(node.propose_configuration(args[0], at)))
        elif kind == "transfer":
            try:
                node.transfer_leadership(args[0], at)
                answers.append("handing over")
            except ValueError:
                answers.append("refused")
        elif kind == "propose":
            answers.append(nodehost.plain(node.propose(args[0], at)))
        msgs, _ = node.take_output()
        sent.extend(nodehost.encode(m) for m in msgs)
    return {
        "answers": answers,
        "messages sent": sent,
        "currentTerm": nodehost.plain(node.current_term),
        "votedFor": nodehost.plain(node.voted_for),
        "role": nodehost.plain(node.role),
        "leader known": nodehost.plain(node.leader_id),
        "voters": sorted(nodehost.plain(list(node.voters))),
        "learners": sorted(nodehost.plain(list(node.learners))),
        "configuration index": nodehost.plain(node.config_index),
        "handing leadership to": nodehost.plain(node.transferee),
        "election timer deadline": nodehost.plain(node.deadline),
        "commitIndex": nodehost.plain(node.commit_index),
    }


def probe_member_case(funcs: Mapping[str, Callable[..., Any]], spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the student's node did in case ``spec``: its answers, every message it sent and its state afterwards
    (runs student code; in the grader, in the sandboxed worker)."""
    return _run_member_case(node_class(funcs), spec)


def _servers(ids: Any) -> str:
    return "{" + ", ".join(f"S{i}" for i in sorted(ids)) + "}"


def _describe(spec: Mapping[str, Any]) -> str:
    """S2's situation in words: role, term, log (configurations shown), commitIndex, configuration in use."""
    node = _node(RaftNode, spec)
    entries = []
    for e in node.log:
        c = e.command
        entries.append(f"{e.term}:voters {_servers(c.voters)}" + (f" learners {_servers(c.learners)}" if c.learners
                                                                   else "") if isinstance(c, ConfigChange) else str(e.term))
    extra = ""
    if node.role == CANDIDATE:
        extra = ", votes from " + ", ".join(f"S{v}" for v in sorted(node.votes))
    if node.role == LEADER:
        extra = ", matchIndex " + ", ".join(f"S{p}:{i}" for p, i in sorted(node.match_index.items()))
    return (f"S{node.id} ({node.role}, term {node.current_term}, log [{', '.join(entries)}], commitIndex "
            f"{node.commit_index}{extra}; of the servers S1-S{len(node.cluster_ids)}, it uses voters "
            f"{_servers(node.voters)}" + (f", learners {_servers(node.learners)}" if node.learners else "") + ")")


def _step_text(step: list[Any]) -> str:
    at, kind, arg = step
    args = nodehost.decode(arg, _CODEC)
    if kind == "timer":
        return f"at {at} ms its timer fires"
    if kind == "message":
        return f"at {at} ms it gets {_say(arg)}"
    said = {"refused": "is asked whether a configuration change may start",
            "promote": f"is asked whether learner S{args[0] if args else '?'} may be promoted",
            "change": f"is asked to append {args[0] if args else '?'}",
            "transfer": f"is asked to hand leadership to S{args[0] if args else '?'}",
            "propose": f"gets a client request {args[0] if args else '?'!r}"}[kind]
    return f"at {at} ms it {said}"


def judge_member_case(spec: Mapping[str, Any], observed: Any) -> None:
    """Compare an observation with the reference node in the same case; raise :class:`Failed` at a difference."""
    before = _describe(spec)
    on = "".join(f" and {k.replace('_', '-')}" for k, v in spec["options"].items() if v)
    story = "; ".join(_step_text(s) for s in spec["steps"]) or "nothing else happens"
    expected = _run_member_case(RaftNode, spec)
    if not isinstance(observed, dict):
        raise Failed(f"{before} with membership{on} on {spec['what']}: no observation of the node came back")
    diffs = differences(expected, observed)
    if diffs:
        raise Failed(f"{before}, membership{on} on, {spec['what']} ({story}).\n" + "\n".join(diffs)
                     + f"\n  rule: {spec['rule']}")


def _member_case_check(name: str, points: float, public: bool, cases: Callable[[random.Random], list[Any]],
                       description: str) -> Check:
    return Check(name, points, public, MEMBERSHIP_RULES, description, cases=cases, probe=probe_member_case,
                 judge=judge_member_case, label=lambda spec: f"the node that {spec['what']}")


_RULE_REFRESH = ("§4.1 refresh_configuration: a server uses the latest configuration in its log, committed or not "
                 "(self.config_at(self.last_log_index)); when it differs from the one in use (index or value), switch "
                 "with self.apply_configuration(index, config) -- also when the entry holding it was deleted (§5.3 "
                 "step 3): then the one before it is the latest again")
_RULE_REFUSED = ("§4.1 configuration_change_refused: refuse (return why) when not the leader, while handing "
                 "leadership over (§3.10), while the latest configuration in the log is not committed "
                 "(config_index > commitIndex: one change at a time), and until the leader has committed an entry of "
                 "its own term (the fix of the 2015 single-server change bug); else None")
_RULE_PROMOTE = ("§4.2.1 promotion_refused: refuse a server that is not a learner of this leader's configuration, "
                 "a learner still catching up (matchIndex < commitIndex), and whatever configuration_change_refused "
                 "refuses; else None")
_RULE_QUORUM = ("§4.1, §4.2.1 has_quorum: a majority of the voters of the configuration in use (self.quorum of "
                "self.voters); learners and servers outside the configuration never count, whoever they are")
_RULE_CAMPAIGN = ("§4.2.1, §4.2.2 campaign: on an election timeout only a voter campaigns, or a server whose removal "
                  "is still pending (self.removal_pending()); a learner or a removed server resets its election "
                  "timer instead. With pre-vote on, campaigning means self.start_pre_vote(), else "
                  "self.start_election()")
_RULE_TIMEOUT_NOW = ("§3.10 send_timeout_now_when_caught_up: while handing leadership to self.transferee, send it "
                     "TimeoutNow(currentTerm) once (self._timeout_sent), as soon as its matchIndex reaches our last "
                     "index -- never before: a target that lacks entries cannot win, or wins without them")
_RULE_HANDLE_TIMEOUT = ("§3.10 handle_timeout_now: a TimeoutNow of our current term, to a voter, starts an election at "
                        "once -- a forced one (self.forced_campaign = True around self.start_election(), so its "
                        "RequestVote says transfer=True and no lease ignores it), no pre-vote; a stale TimeoutNow "
                        "(older term) or one to a learner or removed server is ignored")
_RULE_PROPOSALS = ("§3.10 refuses_proposals: a leader handing leadership over (self.transferee is not None) refuses "
                   "client requests until the transfer ends -- also once TimeoutNow went out -- since a log that keeps "
                   "growing could keep the target from catching up; a leader handing over to nobody takes them")
_RULE_ABORT = ("§3.10 abort_transfer_when_late: a transfer not done by self.transfer_deadline (an election timeout after "
               "it began) is given up at the leader's next heartbeat -- self.now >= self.transfer_deadline: "
               "self.transferee = None -- and the leader takes client requests again; before the deadline it keeps "
               "handing over")
_RULE_STEP_DOWN = ("§4.2.2 step_down_when_removed: a leader left out of the voters keeps leading until the change is "
                   "committed (commitIndex ≥ config_index), then steps down (self.become_follower(None))")


def _ae(term: int, prev: int, prev_term: int, entries: list[tuple[int, Any]], commit: int, src: int = 1) -> AppendEntries:
    return AppendEntries(term, src, 2, prev, prev_term, tuple(Entry(t, c) for t, c in entries), commit)


def _ok(src: int, match: int, term: int = 3) -> AppendEntriesReply:
    return AppendEntriesReply(term, src, 2, True, match)


def membership_cases() -> list[dict[str, Any]]:
    """The public cases: S2 of four servers (S1-S4) in term 3 unless said."""
    v123_4 = _cfg((1, 2, 3), (4,))
    v1234 = _cfg((1, 2, 3, 4))
    v134 = _cfg((1, 3, 4))
    lead = dict(n=4, term=3, role=LEADER, voted_for=2)
    follower = dict(n=4, term=3, voted_for=1)
    return [
        # §4.1 the latest configuration in the log, committed or not
        member_case(dict(follower, log=[(1, "a")], commit_index=1),
                    [(200, _ae(3, 1, 1, [(3, v123_4)], 1))],
                    "gets a configuration in an AppendEntries that does not commit it", _RULE_REFRESH),
        member_case(dict(follower, log=[(1, "a")], commit_index=1),
                    [(200, _ae(3, 1, 1, [(3, v123_4), (3, "b")], 1))],
                    "gets a configuration and a command after it in one AppendEntries", _RULE_REFRESH),
        member_case(dict(follower, log=[(1, "a"), (2, v123_4)], commit_index=1),
                    [(200, _ae(3, 1, 1, [(3, "x")], 1))],
                    "holds an uncommitted configuration that the leader's AppendEntries deletes (§5.3 step 3)",
                    _RULE_REFRESH),
        member_case(dict(follower, log=[(1, v123_4), (1, "a"), (2, v1234), (2, "b")], commit_index=2),
                    [(200, _ae(3, 4, 2, [(3, "c")], 4))],
                    "holds two configurations, the later one not committed, then gets a command", _RULE_REFRESH),
        member_case(dict(follower, log=[(1, v123_4), (2, v1234)], commit_index=1),
                    [(200, _ae(3, 1, 1, [(3, "x")], 1))],
                    "holds two configurations and the leader's AppendEntries deletes the later one", _RULE_REFRESH),
        # one change at a time, and the 2015 fix
        member_case(dict(lead, log=[(1, "a"), (3, "b")], commit_index=2, match_index={1: 2, 3: 2, 4: 2}),
                    [(200, "refused"), (210, "change", v123_4)],
                    "(the leader, with an entry of its term committed) is asked to make S4 a learner", _RULE_REFUSED),
        member_case(dict(lead, log=[(1, "a"), (2, "b")], commit_index=2, match_index={1: 2, 3: 2, 4: 2}),
                    [(200, "refused")],
                    "(a new leader that has committed nothing of its term 3) is asked whether it may change the "
                    "configuration", _RULE_REFUSED),
        member_case(dict(lead, log=[(3, "a")], commit_index=0, match_index={1: 0, 3: 0, 4: 0}),
                    [(200, "refused")],
                    "(the first leader, whose first entry, of its term 3, is not committed yet) is asked whether it "
                    "may change the configuration", _RULE_REFUSED),
        member_case(dict(lead, log=[(1, "a"), (2, "b"), (3, "c")], commit_index=2, match_index={1: 2, 3: 2, 4: 2}),
                    [(200, "refused"), (210, _ok(1, 3)), (220, "refused")],
                    "(a new leader whose entry of term 3 is not committed yet) is asked whether it may change the "
                    "configuration, then S1 acknowledges that entry and it is asked again", _RULE_REFUSED),
        member_case(dict(lead, log=[(1, "a"), (3, "b"), (3, v123_4)], commit_index=2, match_index={1: 2, 3: 2, 4: 2}),
                    [(200, "refused"), (210, _ok(1, 3)), (220, _ok(3, 3)), (230, "refused")],
                    "(a leader whose configuration change is not committed yet) is asked whether another may start, "
                    "then S1 and S3 acknowledge it and it is asked again", _RULE_REFUSED),
        member_case(dict(follower, log=[(1, "a"), (3, "b")], commit_index=2), [(200, "refused")],
                    "(a follower) is asked whether it may change the configuration", _RULE_REFUSED),
        member_case(dict(lead, log=[(1, "a"), (3, "b")], commit_index=2, match_index={1: 2, 3: 2, 4: 2}),
                    [(200, "transfer", 3), (210, "refused")],
                    "(the leader) hands leadership to S3, then is asked whether it may change the configuration",
                    _RULE_REFUSED),
        # §4.2.1 promoting a learner
        member_case(dict(lead, log=[(1, v123_4), (3, "b")], commit_index=2, match_index={1: 2, 3: 2, 4: 2}),
                    [(200, "promote", 4)], "(the leader) is asked whether learner S4, caught up, may be promoted",
                    _RULE_PROMOTE),
        member_case(dict(lead, log=[(1, v123_4), (3, "b")], commit_index=2, match_index={1: 2, 3: 2, 4: 1}),
                    [(200, "promote", 4), (210, _ok(4, 2)), (220, "promote", 4)],
                    "(the leader) is asked whether learner S4, one entry behind, may be promoted; then S4 catches up "
                    "and it is asked again", _RULE_PROMOTE),
        member_case(dict(lead, log=[(1, v123_4), (3, "b")], commit_index=2, match_index={1: 2, 3: 2, 4: 2}),
                    [(200, "promote", 3)], "(the leader) is asked whether S3, a voter, may be promoted", _RULE_PROMOTE),
        member_case(dict(lead, log=[(1, v123_4), (2, "b")], commit_index=2, match_index={1: 2, 3: 2, 4: 2}),
                    [(200, "promote", 4)], "(a new leader that has committed nothing of its term 3) is asked whether "
                    "learner S4, caught up, may be promoted", _RULE_PROMOTE),
        # §4.2.1 majorities of voters only
        member_case(dict(n=4, term=3, voted_for=2, role=CANDIDATE, log=[(1, v123_4)], commit_index=1),
                    [(200, RequestVoteReply(3, 4, 2, True))],
                    "(a candidate for term 3) gets the vote of learner S4", _RULE_QUORUM),
        member_case(dict(n=4, term=3, voted_for=2, role=CANDIDATE, log=[(1, v123_4)], commit_index=1),
                    [(200, RequestVoteReply(3, 4, 2, True)), (210, RequestVoteReply(3, 1, 2, True))],
                    "(a candidate for term 3) gets the vote of learner S4, then of voter S1", _RULE_QUORUM),
        member_case(dict(n=5, term=3, voted_for=2, role=CANDIDATE, log=[(1, _cfg((1, 2, 3, 4)))], commit_index=1),
                    [(200, RequestVoteReply(3, 5, 2, True)), (210, RequestVoteReply(3, 1, 2, True))],
                    "(a candidate of S1-S5 whose log removed S5) gets the votes of S5 and S1", _RULE_QUORUM),
        # §4.2.1, §4.2.2 who campaigns
        member_case(dict(n=4, node_id=4, term=3, voted_for=1, log=[(1, v123_4)], commit_index=1),
                    [(400, "timer")], "(S4, a learner) has its election timer run out", _RULE_CAMPAIGN),
        member_case(dict(follower, log=[(1, "a"), (2, v134)], commit_index=1), [(400, "timer")],
                    "(left out of the latest configuration, not committed yet; it voted before) has its election "
                    "timer run out", _RULE_CAMPAIGN),
        member_case(dict(follower, log=[(1, "a"), (2, v134)], commit_index=2), [(400, "timer")],
                    "(removed: the configuration that leaves it out is committed) has its election timer run out",
                    _RULE_CAMPAIGN),
        member_case(dict(follower, log=[(1, v123_4)], commit_index=1), [(400, "timer")],
                    "(a voter) has its election timer run out with pre-vote on", _RULE_CAMPAIGN, {"pre_vote": True}),
        member_case(dict(follower, log=[(1, v123_4)], commit_index=1), [(400, "timer")],
                    "(a voter) has its election timer run out", _RULE_CAMPAIGN),
        # §4.2.2 a removed leader
        member_case(dict(lead, log=[(1, "a"), (3, "b"), (3, v134)], commit_index=2, match_index={1: 2, 3: 2, 4: 2}),
                    [(200, _ok(1, 3)), (210, _ok(3, 3)), (220, _ok(4, 3))],
                    "(the leader, whose latest configuration leaves it out) gets S1's, S3's, then S4's "
                    "acknowledgement of that configuration", _RULE_STEP_DOWN),
        member_case(dict(lead, log=[(1, "a"), (3, "b"), (3, v134)], commit_index=2, match_index={1: 2, 3: 2, 4: 2}),
                    [(200, "timer"), (210, _ok(1, 3)), (260, "timer")],
                    "(the leader, whose latest configuration leaves it out) has its heartbeat timer fire, gets S1's "
                    "acknowledgement only, and its timer fires again", _RULE_STEP_DOWN),
        member_case(dict(lead, log=[(1, "a"), (3, v134)], commit_index=1, match_index={1: 1, 3: 1, 4: 1}),
                    [(200, "change", v1234)],
                    "(the leader, asked to change the configuration although one is in flight)", _RULE_REFUSED),
    ]


def transfer_cases() -> list[dict[str, Any]]:
    """The public leadership transfer cases (§3.10): S2 of four servers in term 3."""
    lead = dict(n=4, term=3, role=LEADER, voted_for=2, log=[(1, "a"), (3, "b")], commit_index=2)
    follower = dict(n=4, term=3, voted_for=1, log=[(1, "a"), (3, "b")], commit_index=2)
    return [
        member_case(dict(lead, match_index={1: 2, 3: 2, 4: 2}), [(200, "transfer", 3)],
                    "(the leader) hands leadership to S3, whose log is caught up", _RULE_TIMEOUT_NOW),
        member_case(dict(lead, match_index={1: 2, 3: 1, 4: 2}), [(200, "transfer", 3)],
                    "(the leader) hands leadership to S3, one entry behind", _RULE_TIMEOUT_NOW),
        member_case(dict(lead, match_index={1: 2, 3: 1, 4: 2}), [(200, "transfer", 3), (210, _ok(3, 2))],
                    "(the leader) hands leadership to S3, one entry behind, which then acknowledges that entry",
                    _RULE_TIMEOUT_NOW),
        member_case(dict(lead, match_index={1: 2, 3: 1, 4: 2}),
                    [(200, "transfer", 3), (210, _ok(3, 2)), (215, _ok(3, 2)), (220, _ok(1, 2))],
                    "(the leader) hands leadership to S3, one entry behind, which acknowledges it twice; S1 answers too",
                    _RULE_TIMEOUT_NOW),
        member_case(dict(lead, match_index={1: 2, 3: 0, 4: 2}), [(200, "transfer", 3), (210, _ok(3, 1))],
                    "(the leader) hands leadership to S3, two entries behind, which then acknowledges one of them",
                    _RULE_TIMEOUT_NOW),
        member_case(dict(lead, match_index={1: 2, 3: 2, 4: 2}), [(200, _ok(3, 2)), (210, "timer")],
                    "(the leader, handing leadership to nobody) gets S3's acknowledgement and its timer fires",
                    _RULE_TIMEOUT_NOW),
        member_case(follower, [(200, TimeoutNow(3, 1, 2))], "gets TimeoutNow of its term 3 from leader S1",
                    _RULE_HANDLE_TIMEOUT),
        member_case(follower, [(200, TimeoutNow(2, 1, 2))], "gets a stale TimeoutNow of term 2 (it is in term 3)",
                    _RULE_HANDLE_TIMEOUT),
        member_case(follower, [(200, TimeoutNow(4, 1, 2))], "gets TimeoutNow of term 4 (its term is 3)",
                    _RULE_HANDLE_TIMEOUT),
        member_case(dict(follower, log=[(1, _cfg((1, 3, 4), (2,))), (3, "b")]), [(200, TimeoutNow(3, 1, 2))],
                    "(a learner) gets TimeoutNow of its term 3", _RULE_HANDLE_TIMEOUT),
        member_case(follower, [(150, _ae(3, 2, 3, [], 2)), (200, TimeoutNow(3, 1, 2))],
                    "hears leader S1 at 150 ms and gets its TimeoutNow at 200 ms, with pre-vote and check-quorum on",
                    _RULE_HANDLE_TIMEOUT, {"pre_vote": True, "check_quorum": True}),
        # §3.10 no client requests while handing over
        member_case(dict(lead, match_index={1: 2, 3: 2, 4: 2}), [(200, "propose", "x")],
                    "(the leader, handing leadership to nobody) gets a client request", _RULE_PROPOSALS),
        member_case(dict(lead, match_index={1: 2, 3: 1, 4: 2}), [(200, "transfer", 3), (210, "propose", "x")],
                    "(the leader) hands leadership to S3, one entry behind, then gets a client request",
                    _RULE_PROPOSALS),
        member_case(dict(lead, match_index={1: 2, 3: 1, 4: 2}),
                    [(200, "transfer", 3), (210, _ok(3, 2)), (220, "propose", "x")],
                    "(the leader) hands leadership to S3, which catches up (TimeoutNow goes out), then gets a client "
                    "request", _RULE_PROPOSALS),
        # §3.10 give up after an election timeout (the transfer at 200 ms has its deadline at 200 + 150 ms)
        member_case(dict(lead, match_index={1: 2, 3: 1, 4: 2}),
                    [(200, "transfer", 3), (250, "timer"), (300, "timer"), (349, "timer"), (349, "propose", "x")],
                    "(the leader) hands leadership to S3, which never answers; its heartbeat timer fires at 250, 300 "
                    "and 349 ms (its deadline is 350 ms), then it gets a client request", _RULE_ABORT),
        member_case(dict(lead, match_index={1: 2, 3: 1, 4: 2}),
                    [(200, "transfer", 3), (300, "timer"), (350, "timer"), (351, "propose", "x")],
                    "(the leader) hands leadership to S3, which never answers; its heartbeat timer fires at 300 and "
                    "at 350 ms, its deadline, then it gets a client request", _RULE_ABORT),
        member_case(dict(lead, match_index={1: 2, 3: 1, 4: 2}),
                    [(200, "transfer", 3), (420, "timer"), (430, "propose", "x"), (440, "transfer", 4)],
                    "(the leader) hands leadership to S3, which never answers; its next heartbeat comes at 420 ms, "
                    "then it gets a client request and is asked to hand leadership to S4", _RULE_ABORT),
    ]


def random_member_case(rng: random.Random) -> dict[str, Any]:
    """A random situation of S2 with configurations in its log getting a few timed inputs (hidden cases)."""
    n = rng.choice([3, 4, 5])
    ids = list(range(1, n + 1))
    term = rng.randint(2, 5)
    configs: list[ConfigChange] = []
    voters = set(ids)
    learners: set[int] = set()
    log: list[tuple[int, Any]] = []
    t = 1
    for k in range(rng.randint(1, 5)):
        t = min(term, t + rng.choice([0, 0, 1]))
        if rng.random() < 0.45:  # one-server changes, as a leader would append them (§4.1)
            move = rng.choice(ids)
            if move in voters and len(voters) > 1:
                voters.discard(move)
                if rng.random() < 0.3:
                    learners.add(move)
            elif move in learners:
                learners.discard(move)
                voters.add(move)
            else:
                learners.add(move)
            configs.append(_cfg(tuple(sorted(voters)), tuple(sorted(learners))))
            log.append((t, configs[-1]))
        else:
            log.append((t, f"c{k}"))
    commit = rng.randint(0, len(log))
    roll = rng.random()
    situation: dict[str, Any] = dict(n=n, term=term, log=log, commit_index=commit)
    if roll < 0.5 and 2 not in learners:  # a leader is a voter of the configuration it was elected in, or removed
        situation.update(role=LEADER, voted_for=2,
                         match_index={p: rng.randint(max(0, commit - 1), len(log)) for p in ids if p != 2})
    elif roll < 0.65:
        situation.update(role=CANDIDATE, voted_for=2)
    else:
        situation["voted_for"] = rng.choice([None, *[p for p in ids if p != 2]])
    steps: list[tuple[Any, ...]] = []
    at = 150
    for _ in range(rng.randint(1, 4)):
        at += rng.randint(5, 120)
        roll = rng.random()
        src = rng.choice([p for p in ids if p != 2])
        if roll < 0.4 and situation.get("role") != LEADER:
            roll += 0.4  # the simulator asks only a leader about changes (Cluster._leader_for)
        if roll < 0.15:
            steps.append((at, "refused"))
        elif roll < 0.3:
            steps.append((at, "promote", rng.choice(ids)))
        elif roll < 0.4:
            move = rng.choice(ids)
            new_voters = voters ^ {move} if len(voters) > 1 or move not in voters else voters
            steps.append((at, "change", _cfg(tuple(sorted(new_voters)), tuple(sorted(learners - new_voters)))))
        elif roll < 0.55:
            steps.append((at, _ok(src, rng.randint(0, len(log)), term)))
        elif roll < 0.62:
            steps.append((at, RequestVoteReply(term, src, 2, rng.random() < 0.8)))
        elif roll < 0.7:
            if situation.get("role") == LEADER:
                steps.append((at, "transfer", src))
            else:
                steps.append((at, TimeoutNow(term + rng.choice([-1, 0, 0, 1]), src, 2)))
        elif roll < 0.8:
            steps.append((at, "timer"))
        elif roll < 0.85:  # a client request: refused while handing over (§3.10), accepted again after giving up
            steps.append((at, "propose", f"p{at}"))
        elif situation.get("role") != LEADER:  # a leader's AppendEntries may delete later entries (and configurations)
            prev = rng.randint(0, len(log))
            prev_term = log[prev - 1][0] if prev else 0
            extra = [(term, rng.choice(["x", "y", _cfg(tuple(sorted(voters)), tuple(sorted(learners)))]))
                     for _ in range(rng.randint(0, 2))]
            steps.append((at, AppendEntries(term, src, 2, prev, prev_term, tuple(Entry(a, b) for a, b in extra),
                                            min(commit + rng.randint(0, 2), prev + len(extra)))))
    options = rng.choice([{}, {}, {"pre_vote": True}, {"check_quorum": True}])
    return member_case(situation, steps, "gets the inputs drawn from the secret",
                       "§4.1 single-server changes, §4.2.1 learners, §4.2.2 removed servers (a situation drawn from "
                       "the secret)", options)


# --------------------------------------------------------------------------
# Scenarios: clusters whose configuration changes, with the student's node
# --------------------------------------------------------------------------


def _try(run: Run, what: str, act: Callable[[], Any]) -> bool:
    """Run one of the cluster's operations; mark whether the leader refused it (and why)."""
    try:
        act()
    except Refused as why:
        run.mark(f"{what} refused: {why}")
        return False
    run.mark(f"{what} done")
    return True


def _availability(run: Run) -> None:
    """§4.2.1: three voters commit a; S4 joins as a learner while cut off; promoting it must wait until it caught up
    (or a crash of one more voter stalls the cluster); a follower crashes and w must commit; healed, S4 catches up
    and is promoted; z commits with four voters."""
    c = run.make(3)
    c.run_until(lambda c: c.leader() is not None, within=3_000)
    leader = c.leader()
    run.mark(f"leader S{leader}" if leader else "no leader")
    if leader is None:
        return
    for k in range(3):
        c.request(f"a{k}")
    c.run(300)
    run.mark("a committed")
    if not _try(run, "add S4", c.add_server):
        return
    c.isolate(4)
    c.run(200)
    leader = c.leader()
    if leader is None:
        run.mark("no leader after S4 joined")
        return
    _try(run, "promote S4 while it is cut off", lambda: c.promote(4))
    c.run(100)
    victim = next(i for i in (1, 2, 3) if i != c.leader())
    c.crash(victim)
    run.mark(f"crashed S{victim}")
    c.request("w")
    c.run(500)
    run.mark("w sent")
    c.heal()
    c.restart(victim)
    c.run(600)
    run.mark("healed")
    if c.leader() is None:
        c.run_until(lambda c: c.leader() is not None, within=2_000)
    _try(run, "promote S4 after it caught up", lambda: c.promote(4))
    c.run(300)
    c.request("z")
    c.run(500)
    run.mark("end")


def _marked(f: Facts, start: str) -> str:
    return f.mark_label(start) or ""


def _judge_availability(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    why = _stopped(stopped)
    _setup(f, bool(f.leaders(until=3_000)), "three servers elected no leader within 3 s", stopped)
    _setup(f, {"a0", "a1", "a2"} <= f.applied(f.mark_time("a committed")), "the leader did not commit a0-a2", stopped)
    added = _marked(f, "add S4")
    _need(added == "add S4 done", f"setup: the leader refused to add S4 as a learner after committing a0-a2 in its "
          f"term ({added or 'the run stopped before'}{why}): configuration_change_refused must allow a change once the "
          "leader committed an entry of its term and no change is in flight")
    early = _marked(f, "promote S4 while")
    _need(bool(early), f"the run stopped before the promotion{why}")
    _need("refused" in early,
          "S4, an empty learner cut off from the leader, was promoted to voter: a learner is promoted only once its log "
          "has caught up (matchIndex ≥ commitIndex, §4.2.1, promotion_refused); an empty voter adds nothing to a "
          "majority but raises its size")
    sent = f.mark_time("w sent")
    _need(sent is not None, f"the run stopped before w was sent{why}")
    _need("w" in f.applied(sent), "with S4 still a learner, the leader and one follower are two of the three voters, "
          "a majority, yet w did not commit within 500 ms: a majority counts voters only (has_quorum); learners "
          "neither help nor hinder" + f.cause())
    late = _marked(f, "promote S4 after")
    _need(late == "promote S4 after it caught up done", f"healed, S4 caught up, yet its promotion was refused "
          f"({late or 'the run stopped before it'}{why}): promotion_refused must allow a caught-up learner when the "
          "leader may change the configuration")
    end = f.mark_time("end")
    _need(end is not None and "z" in f.applied(end), "after S4 became the fourth voter, z did not commit within "
          "500 ms: a majority of four voters is three (has_quorum, §4.1)" + f.cause())


def _remove_leader(run: Run) -> None:
    """§4.2.2: five servers; the leader removes itself, keeps leading until the change commits, then steps down; the
    other four elect a leader and commit r."""
    c = run.make(5)
    c.run_until(lambda c: c.leader() is not None, within=3_000)
    leader = c.leader()
    if leader is None:
        run.mark("no leader")
        return
    c.request("a")
    c.run(200)
    run.mark(f"S{leader} leads and committed a")
    if not _try(run, f"S{leader} removes itself", lambda: c.remove_server(leader)):
        return
    c.run(1_500)
    run.mark("new leader")
    c.request("r")
    c.run(500)
    run.mark("end")


def _judge_remove_leader(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    why = _stopped(stopped)
    label = _marked(f, "S")
    _setup(f, bool(label) and "a" in f.applied(f.mark_time(label)), "five servers did not elect a leader that "
           "committed a", stopped)
    old = int(label[1:].split(" ")[0])
    removal = _marked(f, f"S{old} removes")
    _need(removal.endswith("done"), f"setup: leader S{old}, with a committed in its term, refused to remove itself "
          f"({removal or 'the run stopped before'}{why}): configuration_change_refused")
    at = f.mark_time(f"S{old} removes") or 0  # marked: _need above saw the removal done
    config = next((e for e in f.events if e.kind == "config" and e.node == old and e.time >= at), None)
    _need(config is not None, f"S{old} appended its own removal but never used the new configuration (§4.1: at once, "
          "committed or not: refresh_configuration)")
    assert config is not None and config.index is not None  # for the type checker: _need stopped the judge otherwise
    committed = next((e.time for e in f.events if e.kind == "commit" and e.node == old and e.time >= at
                      and (e.index or 0) >= config.index), None)
    down = next((e.time for e in f.events if e.kind == "role" and e.node == old and e.value != LEADER
                 and e.time >= at), None)
    _need(committed is not None, f"leader S{old} never committed its own removal: it keeps replicating to the "
          "remaining voters and a majority of them commits it (§4.2.2: it does not count itself)" +
          ("; it had stepped down already at t=" + str(down) + " ms, before the change committed (step_down_when_"
           "removed: only once commitIndex ≥ the configuration's index)" if down is not None else ""))
    _need(down is not None, f"leader S{old} committed its own removal at t={committed} ms but kept leading: a removed "
          "leader steps down once the change is committed (§4.2.2, step_down_when_removed)")
    assert committed is not None and down is not None  # for the type checker: _need stopped the judge otherwise
    _need(down >= committed, f"leader S{old} stepped down at t={down} ms, before its removal committed at t={committed} "
          "ms: it must keep managing the cluster until then (§4.2.2, step_down_when_removed)")
    new = [n for _, n, _ in f.leaders(after=down) if n != old]
    _need(bool(new), "after the removed leader stepped down, the other four elected no leader within 1.5 s" + f.cause())
    end = f.mark_time("end")
    _need(end is not None and "r" in f.applied(end), "the four remaining voters did not commit r" + f.cause())


def _learners_script(run: Run) -> None:
    cut_off_leader_with_learners(make=run.make, on_step=lambda label, c: run.mark(label, c))


def _judge_learners_script(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    for step, what in (("(a)", "S1 did not lead term 1 with two learners (adding a learner: configuration_change_"
                                "refused)"),
                       ("(b)", "S1, cut off with its learners, did not step down: check-quorum counts voters only "
                               "(has_quorum, §4.2.1)"),
                       ("(c)", "S2 did not win term 2 with S3's vote (has_quorum: 2 of the voters S1-S3)"),
                       ("(d)", "a learner's election timer could not run out as a follower's"),
                       ("(e)", "healed, S2 did not commit b")):
        _need(f.mark_time(step) is not None, f"{what} (the script stopped: {stopped or 'no reason given'})")


def _removal_pending_script(run: Run) -> None:
    removal_pending_campaigns(make=run.make, on_step=lambda label, c: run.mark(label, c))


def _judge_removal_pending(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    _need(f.mark_time("(a)") is not None, "setup: S1 did not remove S3 (leading S1-S3 with a committed, the change must "
          f"be allowed and commit with S2) (the script stopped: {stopped or 'no reason given'})")
    _need(f.mark_time("(c)") is not None, f"setup: the script stopped before S2 stood for term 2: {stopped}")
    _need(f.mark_time("(d)") is not None, "S1, whose own removal is in its log but not committed, did not become "
          "leader with S2's vote: a server whose removal is pending still campaigns (campaign: self.removal_pending(), "
          "§4.2.2), and S2's vote alone is a majority of the voters of S1's latest configuration, {S2} (has_quorum "
          f"counts voters only: S1 does not count itself) (the script stopped: {stopped or 'no reason given'})")
    _need(f.mark_time("(e)") is not None, "S1 committed its own removal but S2 did not then lead alone and commit d: "
          "S1 must step down once its removal commits (step_down_when_removed) and S2, the only voter, is a majority "
          f"by itself (has_quorum) (the script stopped: {stopped or 'no reason given'})")


def _change_bug(run: Run) -> None:
    single_server_change_bug(make=run.make, on_step=lambda label, c: run.mark(label, c))


def _judge_change_bug(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    why = _stopped(stopped, "script", unknown="no reason given")
    _need(f.mark_time("(0)") is not None, f"setup: S1 did not lead S1-S4 with S5 and S6 added as learners{why}")
    _need(f.mark_time("(1)") is not None, f"setup: S1, cut off with S5, could not promote S5{why}: promotion_refused")
    _need(f.mark_time("(2)") is not None, f"setup: S2 did not win term 2 with S3 and S4{why}")
    three = _marked(f, "(3)")
    _need(bool(three), f"the script stopped at step (3){why}")
    _need(three.startswith("(3) S2 may not change the configuration yet"),
          f"S2, leader of term 2 that has committed nothing of its term, promoted S6 ({three}): a new leader may change "
          "the configuration only once it committed an entry of its own term -- else two one-server changes of two "
          "leaders can have majorities that do not meet (the 2015 single-server change bug; "
          "configuration_change_refused)")
    _need(f.mark_time("(4)") is not None, f"S1 restarted with S4 and S5 did not win term 3{why}")


def _stale_timeout_script(run: Run) -> None:
    stale_timeout_now(make=run.make, on_step=lambda label, c: run.mark(label, c))


def _judge_stale_timeout(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    why = _stopped(stopped, "script", unknown="no reason given")
    _need(f.mark_time("(a)") is not None, f"setup: S1 did not lead term 1 and commit a{why}")
    _need(f.mark_time("(b)") is not None, "S1 handed leadership to S2, whose log was caught up, but S2 did not lead "
          "term 2 20 ms later: the leader sends TimeoutNow as soon as the target's matchIndex reaches its last index "
          "(send_timeout_now_when_caught_up), and the target starts an election at once (handle_timeout_now)" + why)
    _need(f.mark_time("(c)") is not None, f"S2, leading term 2 after the transfer, did not commit b{why}")


def _faults_membership(run: Run) -> None:
    """The sweep's ``features="all"`` faults on five nodes (crashes, partitions, a lossy network; servers added,
    promoted, removed; transfers; the 2015 situation), pre-vote and check-quorum on, removed servers running a while;
    snapshots left out (exercise 10's). Then recovery."""
    schedule = [item for item in random_schedule(5, run.seed, horizon=4_000, features="all") if item[1] != "snapshot"]
    c = run.make(5, network=CHAOS, up_to_date_check=True, schedule=schedule, pre_vote=True, check_quorum=True,
                 retire_after=retire_after(5, run.seed))
    c.run(4_000)
    run.mark("faults stopped")
    recover(c, within=5_000)
    run.mark("recovered")


def _judge_faults_membership(facts: list[Facts], stopped: str) -> None:
    try:
        _judge_faults(facts, stopped)
    except Failed as e:
        raise Failed(f"{e.hint}; with membership changes, a majority is one of the voters in use (has_quorum, "
                     "refresh_configuration: the latest configuration in the log), only voters and servers whose "
                     "removal is pending campaign (campaign), and a removed leader steps down once its removal "
                     "commits (step_down_when_removed)") from None


_CULPRITS = (
    ("Configuration change after a commit of the leader's term", "configuration_change_refused (the 2015 fix: a leader "
     "changes the configuration only once an entry of its own term is committed)"),
    ("One configuration change at a time", "configuration_change_refused (config_index > commitIndex: refuse)"),
    ("Learners never campaign or lead", "campaign (only a voter campaigns) and has_quorum (learners never count)"),
    ("Removed servers do not campaign", "campaign (a removed server campaigns only while self.removal_pending())"),
    ("Leader elected by a majority", "has_quorum (a majority of self.voters only) and refresh_configuration"),
    ("Election Safety", "has_quorum (a majority of the voters of the configuration in use) and refresh_configuration "
     "(the latest configuration in the log, committed or not)"),
    ("Check-quorum leaders step down", "has_quorum (learners never count toward check-quorum's majority)"),
    ("Stale TimeoutNow is ignored", "handle_timeout_now (only a TimeoutNow of the current term starts an election)"),
    ("Transfer only to a caught-up voter", "send_timeout_now_when_caught_up (TimeoutNow only once the target's "
     "matchIndex reaches the leader's last index)"),
)

MEMBERSHIP_SCENARIOS: dict[str, Scenario] = {
    "learner_availability": Scenario(_availability, _judge_availability, "§4.2.1: an empty learner is promoted only "
                                     "once caught up; one crash of three voters does not stall the cluster",
                                     culprits=_CULPRITS),
    "remove_leader": Scenario(_remove_leader, _judge_remove_leader, "§4.2.2: a leader removes itself, steps down once "
                              "that commits; the other four go on", culprits=_CULPRITS),
    "learners_never_count": Scenario(_learners_script, _judge_learners_script, "lesson 11: a leader cut off with its "
                                     "learners steps down; a learner never campaigns", timers=False,
                                     culprits=_CULPRITS),
    "removal_pending": Scenario(_removal_pending_script, _judge_removal_pending, "§4.2.2: a server whose removal is "
                                "pending must campaign", timers=False, culprits=_CULPRITS),
    "change_bug_2015": Scenario(_change_bug, _judge_change_bug, "the 2015 single-server change bug's interleaving",
                                timers=False, culprits=_CULPRITS),
    "stale_timeout_now": Scenario(_stale_timeout_script, _judge_stale_timeout, "§3.10: a transfer to a caught-up "
                                  "voter, its TimeoutNow delivered twice: the stale copy is ignored", timers=False,
                                  culprits=_CULPRITS),
    "faults_membership": Scenario(_faults_membership, _judge_faults_membership, "the sweep's random faults with "
                                  "membership changes and transfers; then one request must commit",
                                  culprits=_CULPRITS),
}
"""Exercise 12's scenarios (added to :data:`~raftedu.grading.scenarios.SCENARIOS`)."""
SCENARIOS.update(MEMBERSHIP_SCENARIOS)


def membership_checks() -> tuple[Check, ...]:
    """Exercise 12's checks: public fixed cases and scenarios, the written answer, hidden cases and seeds."""
    from .exercises import _fixed, _scenario_check, _secret_seeds

    def scen(name: str, points: float, public: bool, scenario: str, seeds: Callable[[random.Random], list[int]],
             description: str) -> Check:
        return _scenario_check(name, points, public, MEMBERSHIP_RULES, "12", scenario, seeds, description)

    return (
        _member_case_check("membership_rules", 4, True, lambda rng: membership_cases(),
                           "the configuration in use, when a change may start, promotion, voters-only majorities, who "
                           "campaigns, a removed leader; compared with the reference node"),
        scen("learner_availability", 2, True, "learner_availability", _fixed([1]),
             "§4.2.1: a learner cut off is not promoted; a crash of one voter of three does not stall the cluster; "
             "caught up, it is promoted and four voters commit"),
        scen("remove_leader", 2, True, "remove_leader", _fixed([1]),
             "§4.2.2: a leader removes itself, leads until that commits, steps down; the other four go on"),
        scen("learners_never_count", 1, True, "learners_never_count", _fixed([18]),
             "lesson 11's script: a leader cut off with its learners steps down, a learner never campaigns"),
        scen("removal_pending", 1, True, "removal_pending", _fixed([22]),
             "§4.2.2: a server whose own removal is pending campaigns and commits it"),
        _member_case_check("transfer_rules", 3, True, lambda rng: transfer_cases(),
                           "leadership transfer: TimeoutNow once the target caught up, the target's forced election, "
                           "no client requests meanwhile, giving up after an election timeout; compared with the "
                           "reference node"),
        scen("stale_timeout_now", 1, True, "stale_timeout_now", _fixed([19]),
             "§3.10: a transfer whose TimeoutNow arrives twice; the stale copy is ignored"),
        scen("membership_under_faults", 2, True, "faults_membership", _fixed([2, 3]),
             "2 seeds of the sweep's faults with servers added, promoted and removed, transfers, pre-vote and "
             "check-quorum; then recovery"),
        Check("why_one_change_at_a_time", 2, True, (), "written answer: why a new leader must commit an entry of "
              "its term before changing the configuration (the 2015 bug)", manual=True),
        _member_case_check("membership_rules_hidden", 3, False, lambda rng: [random_member_case(rng) for _ in range(50)],
                           "50 situations with configurations in the log drawn from the secret, compared with the "
                           "reference node"),
        scen("change_bug_2015", 2, False, "change_bug_2015", _secret_seeds(1),
             "the 2015 single-server change bug's interleaving: a new leader that changes the configuration before "
             "committing an entry of its term fails"),
        scen("learner_availability_hidden", 1, False, "learner_availability", _secret_seeds(2),
             "§4.2.1's availability run, 2 seeds from the secret"),
        scen("remove_leader_hidden", 1, False, "remove_leader", _secret_seeds(2),
             "the removed leader, 2 seeds from the secret"),
        scen("membership_under_faults_hidden", 3, False, "faults_membership", _secret_seeds(6),
             "6 more seeds of the sweep's faults with membership changes (drawn from the secret)"),
    )
