"""Exercise 10: snapshots and log compaction (dissertation chapter 5; the paper's §7 and Figure 13).

The student writes eight methods of :class:`~raftedu.raft.RaftNode` (:data:`SNAPSHOT_RULES`), one rule each, plugged
into the reference node like exercises 02-04 and 11: taking a snapshot at lastApplied (``take_snapshot``) and
discarding the log prefix it replaces (``compact``), reading the log by index once a prefix is gone (``entry_at``),
the leader choosing InstallSnapshot when the entries a follower needs were compacted (``send_append_entries``), the
follower answering an AppendEntries that reaches into its snapshot (``append_below_snapshot``), the InstallSnapshot
receiver (``handle_install_snapshot``, dissertation Figure 5.3), starting from a snapshot (``load_snapshot``: a
restart or an install) and the leader's use of the answer (``handle_install_snapshot_reply``). Evidence:

* **Differential cases** (:func:`snap_case`): one node in a stated situation -- its log possibly compacted into a
  snapshot -- gets timed inputs (messages, timer firings, "take a snapshot now", "crash and restart from your
  disk"); its messages and state afterwards (log with its indexes, snapshot, commitIndex, lastApplied, state
  machine) are compared with the reference node's. Public cases are fixed; hidden ones come from the secret.
* **Scenarios** (:data:`SNAPSHOT_SCENARIOS`): a crashed follower catching up by InstallSnapshot, every server
  restarting from its snapshot, and the sweep's random faults with snapshots every few entries; the always-on
  safety monitor checks every snapshot, install and restart (a broken property halves the points, as elsewhere).
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .. import nodehost
from ..raft import (LEADER, AppendEntries, AppendEntriesReply, ConfigChange, Entry, InstallSnapshot,
                    InstallSnapshotReply, Message, PersistentState, RaftNode, Snapshot, Timing)
from ..sim import Cluster
from ..sweep import CHAOS, random_schedule, recover
from .boundary import RemoteFunctions
from .core import Check, Failed, Unsafe
from .extensions import _say, differences
from .scenarios import (SCENARIOS, Facts, Run, Scenario, _need, _stopped, batched, forget_output, judge_faults_saying,
                        judge_scenario, node_class, situate)

__all__ = ["SNAPSHOT_RULES", "SNAPSHOT_SCENARIOS", "SWITCHED_OFF", "judge_snap_case", "judge_snapshot_scenario",
           "make_snap_node",
           "probe_snap_case", "random_snap_case", "snap_case", "snapshot_checks"]

SNAPSHOT_RULES = ("take_snapshot", "compact", "entry_at", "send_append_entries", "append_below_snapshot",
                  "handle_install_snapshot", "load_snapshot", "handle_install_snapshot_reply")
"""The RaftNode methods a student writes in exercise 10."""
SWITCHED_OFF = ("take_snapshot", "compact", "Server.entry_at", "send_append_entries", "send_snapshot",
                "append_below_snapshot", "handle_install_snapshot", "load_snapshot", "handle_install_snapshot_reply")
"""The reference methods unavailable while exercise 10 is graded: the student's eight (``entry_at`` is Server's) and
``send_snapshot``, the reference's half of ``send_append_entries``."""

_CODEC = nodehost.registry()
_STEPS = ("timer", "snapshot", "restart")


# --------------------------------------------------------------------------
# Differential cases
# --------------------------------------------------------------------------


def make_snap_node(cls: type[RaftNode], *, node_id: int = 2, n: int = 5, term: int = 3, voted_for: int | None = None,
                   log_terms: Sequence[int] = (), snapshot: int = 0, tail: int = 0, commit_index: int = 0,
                   last_applied: int | None = None, role: str = "follower",
                   match_index: Mapping[Any, int] | None = None, next_index: Mapping[Any, int] | None = None,
                   options: Mapping[str, Any] | None = None) -> RaftNode:
    """A node of ``cls`` whose log held entries of ``log_terms`` (commands ``c1``, ``c2``, ...), the first
    ``snapshot`` of them compacted into a snapshot (all but the last ``tail``), committed up to ``commit_index`` and
    applied up to ``last_applied`` (default: commitIndex); a leader with ``match_index`` (and ``next_index``, default
    matchIndex + 1) per peer. Keys of the mappings may be strings (a case is JSON)."""
    entries = [Entry(t, f"c{i}") for i, t in enumerate(log_terms, start=1)]
    ids = tuple(range(1, n + 1))
    if snapshot:
        snap = Snapshot(snapshot, entries[snapshot - 1].term, tuple(e.command for e in entries[:snapshot]),
                        ConfigChange(ids), 0)
        off = snapshot - tail
        disk = PersistentState(term, voted_for, entries[off:], snap, off, entries[off - 1].term if off else 0)
    else:
        disk = PersistentState(term, voted_for, entries)
    node = cls(node_id, ids, rng=random.Random(0), timing=Timing(), state=disk, now=0)
    applied = commit_index if last_applied is None else last_applied
    attrs: dict[str, Any] = {"role": role, "commit_index": commit_index, "last_applied": applied,
                             "applied": [e.command for e in entries[:applied]]}
    if role == LEADER:
        match = {p: 0 for p in ids if p != node_id} | {int(p): i for p, i in (match_index or {}).items()}
        nxt = {p: i + 1 for p, i in match.items()} | {int(p): i for p, i in (next_index or {}).items()}
        attrs.update(leader_id=node_id, match_index=match, next_index=nxt)
    situate(node, now=100, **attrs)
    node.enable(**dict(options or {}))
    forget_output(node)
    return node


def snap_case(situation: Mapping[str, Any], steps: list[tuple[int, Message | str]], what: str,
              rule: str) -> dict[str, Any]:
    """A differential case as plain data: the node's ``situation`` (:func:`make_snap_node` keywords), then ``steps``:
    ``(time, message)`` to deliver, ``(time, "timer")`` to fire its timer, ``(time, "snapshot")`` to have it take a
    snapshot, ``(time, "restart")`` to crash it and start it again from its disk; ``what`` it tests, the ``rule``."""
    return {"situation": {k: ({str(p): i for p, i in v.items()} if isinstance(v, Mapping) else v)
                          for k, v in situation.items()},
            "steps": [[int(at), m if isinstance(m, str) else nodehost.encode(m)] for at, m in steps],
            "what": what, "rule": rule}


def _observe(node: RaftNode) -> dict[str, Any]:
    state = node.state
    snap = state.snapshot
    return {
        "currentTerm": nodehost.plain(node.current_term),
        "role": nodehost.plain(node.role),
        "leader known": nodehost.plain(node.leader_id),
        "election timer deadline": nodehost.plain(node.deadline),
        "log (index, term)": [[state.offset + k, nodehost.plain(getattr(e, "term", e))]
                              for k, e in enumerate(state.log, start=1)],
        "log offset (last index compacted, its term)": [nodehost.plain(state.offset),
                                                        nodehost.plain(state.offset_term)],
        "snapshot (last index, last term, commands)": None if snap is None else
        [nodehost.plain(snap.index), nodehost.plain(snap.term), nodehost.plain(list(snap.state))],
        "commitIndex": nodehost.plain(node.commit_index),
        "lastApplied": nodehost.plain(node.last_applied),
        "state machine": nodehost.plain(list(node.applied)),
        "configuration (entry holding it, voters)": [nodehost.plain(node.config_index),
                                                     nodehost.plain(sorted(node.voters))],
        # a leader's matchIndex moves only when the follower answers (§5.3, dissertation §5.1); its nextIndex shows
        # in the messages it sends next (and a remote node's state carries matchIndex, not nextIndex)
        "matchIndex (a leader's)": None if node.role != LEADER else
        {str(p): nodehost.plain(node.match_index[p]) for p in sorted(node.match_index)},
    }


def _run_snap_case(cls: type, spec: Mapping[str, Any]) -> dict[str, Any]:
    situation = spec["situation"]
    sent: list[Any] = []
    with batched(cls):  # in the grader one call to the sandboxed worker (and one more per restart)
        node = make_snap_node(cls, **situation)
        for at, what in spec["steps"]:  # a message, a timer and a restart give the node its clock themselves
            if what == "timer":
                node.on_timer(at)
            elif what == "snapshot":
                situate(node, now=at)
                node.take_snapshot()
            elif what == "restart":  # a crash keeps only the disk (Figure 2); the node starts again from it
                sent.extend(nodehost.encode(m) for m in node.take_output()[0])  # (its disk is read only then)
                node = type(node)(node.id, tuple(range(1, situation.get("n", 5) + 1)), rng=random.Random(1),
                                  timing=Timing(), state=node.disk, now=at)
                node.enable(**dict(situation.get("options") or {}))
            else:
                node.receive(nodehost.decode(what, _CODEC), at)
    sent.extend(nodehost.encode(m) for m in node.take_output()[0])  # what it sent since, in order
    return {"messages sent": sent, **_observe(node)}


def probe_snap_case(funcs: Mapping[str, Callable[..., Any]], spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the student's node did in case ``spec``: the messages it sent and its state afterwards (runs student
    code; in the grader, in the sandboxed worker)."""
    return _run_snap_case(node_class(funcs), spec)


def _describe(spec: Mapping[str, Any]) -> str:
    s = spec["situation"]
    terms = list(s.get("log_terms", ()))
    k, tail = s.get("snapshot", 0), s.get("tail", 0)
    log = (f"entries 1..{k} in a snapshot (last term {terms[k - 1]})" + (f", the last {tail} kept in the log" if tail
                                                                          else "") + f", log terms {terms[k - tail:]} "
           f"at indexes {k - tail + 1}..{len(terms)}" if k else f"log terms {terms}")
    applied = s.get("last_applied", s.get("commit_index", 0))
    extra = f", commitIndex {s.get('commit_index', 0)}, lastApplied {applied}"
    if s.get("role") == LEADER:
        extra += ", matchIndex " + ", ".join(f"S{p}:{i}" for p, i in sorted(s.get("match_index", {}).items()))
        if s.get("next_index"):
            extra += ", nextIndex " + ", ".join(f"S{p}:{i}" for p, i in sorted(s["next_index"].items()))
    options = s.get("options") or {}
    if options.get("snapshot_tail"):
        extra += f", snapshot_tail {options['snapshot_tail']}"
    return (f"S{s.get('node_id', 2)} ({s.get('role', 'follower')}, term {s.get('term', 3)}, {log}{extra}, "
            f"cluster of {s.get('n', 5)})")


def _step_text(step: list[Any]) -> str:
    at, what = step
    if isinstance(what, str):
        return {"timer": f"at {at} ms its timer fires", "snapshot": f"at {at} ms it takes a snapshot",
                "restart": f"at {at} ms it crashes and restarts from its disk"}.get(what, f"at {at} ms: {what[:40]}")
    return f"at {at} ms it gets {_say(what)}"


def judge_snap_case(spec: Mapping[str, Any], observed: Any) -> None:
    """Compare an observation with the reference node in the same case; raise :class:`Failed` at a difference."""
    head = f"{_describe(spec)} {spec['what']} ({'; '.join(_step_text(s) for s in spec['steps'])})"
    if not isinstance(observed, dict):
        raise Failed(f"{head}: no observation of the node came back")
    expected = _run_snap_case(RaftNode, spec)
    diffs = differences(expected, observed, "a message from the leader of the term resets it; a stale one does not",
                        show=lambda v: str(v)[:300])
    if diffs:
        raise Failed(f"{head}.\n" + "\n".join(diffs) + f"\n  rule: {spec['rule']}")


_RULE_TAKE = ("§5.1 take_snapshot: snapshot the state machine as of lastApplied (not commitIndex): Snapshot(index = "
              "lastApplied, term = term_at(lastApplied), state = snapshot_state(), config and config_index = "
              "config_at(lastApplied)), made before compacting; keep it in state.snapshot and its configuration in "
              "base_index, base_config; compact the log up to index - snapshot_tail (never below the current offset)")
_RULE_COMPACT = ("§5.1 compact(upto): remember the term of the entry at upto as state.offset_term (term_at(upto), read "
                 "before the delete), delete the entries up to upto from state.log in place (log[0] holds index "
                 "offset + 1), set state.offset = upto")
_RULE_ENTRY = ("entry_at, index translation: once entries 1..offset are compacted, the entry at index i is "
               "state.log[i - 1 - offset]; an index at or below the offset, or past the last entry, has no entry "
               "(IndexError)")
_RULE_SEND = ("§5.1 send_append_entries: prev = nextIndex - 1; when prev < state.offset the entries the follower "
              "needs were compacted: send InstallSnapshot(term, id, peer, state.snapshot) and set nextIndex to the "
              "snapshot's index + 1, leaving matchIndex as it is: matchIndex moves only when the follower answers "
              "(its InstallSnapshotReply, as for AppendEntries replies, §5.3; the snapshot may be lost); otherwise "
              "Figure 2's AppendEntries with the entries from nextIndex (flow control: remember the last index sent "
              "in in_flight; sent_at[peer] = now)")
_RULE_BELOW = ("append_below_snapshot: an AppendEntries whose prevLogIndex is below our log's offset reaches into "
               "committed entries we compacted; the leader holds every committed entry (Leader Completeness), so "
               "answer success with matchIndex = our commitIndex")
_RULE_INSTALL = ("handle_install_snapshot, Figure 5.3's receiver: 1. term < currentTerm → reply at once with "
                 "currentTerm (matchIndex 0); else follow the sender (become_follower) and reset the election timer; "
                 "a snapshot no newer than commitIndex is stale → reply matchIndex = commitIndex, change nothing; "
                 "6. if the log has the snapshot's last entry with the same term keep the entries after it, 7. else "
                 "discard the whole log; save the snapshot (state.snapshot; state.log = Log(the entries kept), offset "
                 "= its index, offset_term = its term), 8. reset the state machine (load_snapshot), reply matchIndex "
                 "= the snapshot's index")
_RULE_LOAD = ("§5.1 load_snapshot: starting from a snapshot (a restart, an install): commitIndex = max(commitIndex, "
              "its index), lastApplied = its index, the state machine = its state (restore_state), base_index and "
              "base_config = its config_index and config")
_RULE_REPLY = ("§5.1 handle_install_snapshot_reply: only a leader, only replies of its current term with a "
               "matchIndex > 0 from a peer it tracks: matchIndex = max(matchIndex, reply's), nextIndex = max(nextIndex, "
               "matchIndex + 1) with set_progress, then try to advance commitIndex (advance_commit_index)")

_F = dict(term=3, log_terms=[1, 1, 2, 3, 3, 3])
_AP = dict(_F, commit_index=5)


def _ae(prev: int, prev_term: int, terms: list[int], commit: int, term: int = 3) -> AppendEntries:
    return AppendEntries(term, 1, 2, prev, prev_term, tuple(Entry(t, f"c{prev + k}") for k, t in
                                                            enumerate(terms, start=1)), commit)


def _snap(index: int, terms: list[int], config_n: int = 5, config_index: int = 0) -> Snapshot:
    """The snapshot of a leader whose log holds ``terms``: entries 1..``index``, commands c1, c2, ...; with
    ``config_index``, that entry was the configuration of servers 1..``config_n`` (the snapshot's configuration)."""
    config = ConfigChange(tuple(range(1, config_n + 1)))
    return Snapshot(index, terms[index - 1], tuple(config if i == config_index else f"c{i}"
                                                   for i in range(1, index + 1)), config, config_index)


def _is(index: int, terms: list[int], term: int = 3, **config: int) -> InstallSnapshot:
    return InstallSnapshot(term, 1, 2, _snap(index, terms, **config))


_LEADER = dict(term=3, voted_for=2, role=LEADER, log_terms=[1, 1, 2, 3, 3, 3], snapshot=4, commit_index=5,
               match_index={1: 6, 3: 5, 4: 0, 5: 0})


def compaction_cases() -> list[dict[str, Any]]:
    """Public cases of taking snapshots, compacting, reading a compacted log and restarting from a snapshot (S2 of 5)."""
    return [
        snap_case(_AP, [(200, "snapshot")], "takes a snapshot", _RULE_TAKE + "; " + _RULE_COMPACT),
        snap_case(dict(_F, commit_index=5, last_applied=3), [(200, "snapshot")],
                  "(committed up to 5, applied up to 3) takes a snapshot", _RULE_TAKE),
        snap_case(dict(_AP, options={"snapshot_tail": 2}), [(200, "snapshot")],
                  "takes a snapshot keeping a tail of 2 entries", _RULE_TAKE + "; " + _RULE_COMPACT),
        snap_case(dict(_AP, snapshot=2), [(200, "snapshot")], "(already holding a snapshot up to 2) takes another",
                  _RULE_TAKE + "; " + _RULE_COMPACT),
        snap_case(dict(_F, snapshot=3, tail=1, commit_index=4, options={"snapshot_tail": 3}), [(200, "snapshot")],
                  "(snapshot up to 3, entry 3 kept) takes a snapshot at 4 with a tail of 3",
                  _RULE_TAKE + " -- the log is never un-compacted"),
        snap_case(dict(_F, snapshot=3, commit_index=3), [(200, _ae(6, 3, [], 6))],
                  "gets a heartbeat with leaderCommit 6 and applies entries 4..6", _RULE_ENTRY),
        snap_case(dict(_F, snapshot=3, commit_index=3), [(200, _ae(4, 3, [2, 2], 3))],
                  "gets AppendEntries after index 4 whose entries conflict with 5 and 6", _RULE_ENTRY),
        snap_case(dict(_F, snapshot=3, commit_index=3), [(200, _ae(5, 2, [], 3))],
                  "gets AppendEntries whose prevLogIndex 5 has another term", _RULE_ENTRY),
        snap_case(dict(_F, snapshot=3, commit_index=3), [(200, _ae(3, 2, [3, 3, 3, 4], 7, term=4))],
                  "gets AppendEntries from prevLogIndex 3 (the snapshot's last index) with four entries", _RULE_ENTRY),
        snap_case(dict(_F, snapshot=4, commit_index=4), [(200, _ae(2, 1, [2, 3], 6))],
                  "gets AppendEntries from prevLogIndex 2, inside its snapshot", _RULE_BELOW),
        snap_case(dict(_F, snapshot=4, commit_index=5), [(200, _ae(3, 2, [3], 6))],
                  "gets AppendEntries from prevLogIndex 3, inside its snapshot", _RULE_BELOW),
        snap_case(dict(_F, snapshot=4, commit_index=4), [(200, "restart")],
                  "restarts from its disk (snapshot up to 4)", _RULE_LOAD),
        snap_case(dict(_AP), [(200, "snapshot"), (300, "restart"), (400, _ae(6, 3, [], 6))],
                  "takes a snapshot, restarts, then learns entry 6 is committed", _RULE_LOAD + "; " + _RULE_ENTRY),
    ]


def install_cases() -> list[dict[str, Any]]:
    """Public cases of InstallSnapshot: the leader choosing it, the receiver's rules, the reply (S2 of 5)."""
    lead = _LEADER
    full = [1, 1, 2, 3, 3, 3]
    return [
        snap_case(dict(lead, next_index={4: 3}), [(200, "timer"), (250, "timer")],
                  "(the leader; S4's nextIndex 3 is inside its snapshot up to 4) sends heartbeats twice",
                  _RULE_SEND),
        snap_case(dict(lead, next_index={4: 4}), [(200, "timer")],
                  "(the leader; S4's nextIndex 4 is the snapshot's last index) sends heartbeats", _RULE_SEND),
        snap_case(dict(lead, next_index={4: 5}), [(200, "timer")],
                  "(the leader; S4's nextIndex 5 is just after its snapshot) sends heartbeats", _RULE_SEND),
        snap_case(dict(lead, next_index={4: 6}), [(200, AppendEntriesReply(3, 4, 2, False, 0, 2))],
                  "(the leader) gets S4's refusal suggesting index 2, inside its snapshot", _RULE_SEND),
        snap_case(dict(lead, tail=2, next_index={4: 4}, options={"snapshot_tail": 2}), [(200, "timer")],
                  "(the leader, entries 3 and 4 kept behind its snapshot) sends heartbeats; S4's nextIndex is 4",
                  _RULE_SEND),
        snap_case(dict(_F, term=4, commit_index=2), [(200, _is(4, full))],
                  "(term 4) gets an InstallSnapshot of the older term 3", _RULE_INSTALL),
        snap_case(dict(_F, commit_index=5), [(200, _is(4, full))],
                  "(commitIndex 5) gets an InstallSnapshot up to 4: stale", _RULE_INSTALL),
        snap_case(dict(_F, commit_index=2), [(200, _is(4, full))],
                  "(its entry 4 has the snapshot's term 3) gets an InstallSnapshot up to 4", _RULE_INSTALL),
        snap_case(dict(_F, log_terms=[1, 1, 2, 2, 2, 2], commit_index=2), [(200, _is(4, full))],
                  "(its entry 4 has term 2) gets an InstallSnapshot up to 4 whose last term is 3", _RULE_INSTALL),
        snap_case(dict(_F, log_terms=[1, 1], commit_index=1), [(200, _is(5, full))],
                  "(two entries) gets an InstallSnapshot up to 5", _RULE_INSTALL),
        snap_case(dict(_F, log_terms=[1, 1], commit_index=1, options={"membership": True}),
                  [(200, _is(5, full, config_n=4, config_index=3))],
                  "(two entries) gets an InstallSnapshot up to 5 whose configuration (entry 3) removed S5",
                  _RULE_INSTALL + "; " + _RULE_LOAD),
        snap_case(dict(_F, log_terms=[1, 1], commit_index=1, options={"membership": True}),
                  [(200, _is(5, full, config_n=4, config_index=3)), (300, "restart")],
                  "(two entries) gets an InstallSnapshot up to 5 whose configuration (entry 3) removed S5, then "
                  "restarts from its disk", _RULE_LOAD),
        snap_case(dict(_F, snapshot=2, commit_index=2), [(200, _is(5, full))],
                  "(its own snapshot up to 2) gets an InstallSnapshot up to 5 matching its entry 5", _RULE_INSTALL),
        snap_case(dict(_F, role="candidate", voted_for=2, commit_index=1), [(200, _is(4, full))],
                  "(a candidate of term 3) gets an InstallSnapshot from S1, leader of term 3", _RULE_INSTALL),
        snap_case(dict(_F, commit_index=1), [(200, _is(4, full, term=5))],
                  "gets an InstallSnapshot of the newer term 5", _RULE_INSTALL),
        snap_case(dict(lead), [(200, InstallSnapshotReply(3, 4, 2, 4)), (250, "timer")],
                  "(the leader) gets S4's InstallSnapshotReply with matchIndex 4, then sends heartbeats", _RULE_REPLY),
        snap_case(dict(lead, match_index={1: 4, 3: 4, 4: 0, 5: 0}, commit_index=4, log_terms=[1, 1, 2, 3, 3, 3]),
                  [(200, InstallSnapshotReply(3, 4, 2, 6)), (210, InstallSnapshotReply(3, 5, 2, 6))],
                  "(the leader, commitIndex 4) gets InstallSnapshotReply with matchIndex 6 from S4 and S5",
                  _RULE_REPLY),
        snap_case(dict(lead), [(200, InstallSnapshotReply(2, 4, 2, 4)), (210, InstallSnapshotReply(3, 5, 2, 0)),
                               (250, "timer")],
                  "(the leader) gets a reply of the older term 2 from S4 and one with matchIndex 0 from S5, then "
                  "sends heartbeats", _RULE_REPLY),
        snap_case(dict(_F, commit_index=2), [(200, InstallSnapshotReply(3, 4, 2, 4))],
                  "(a follower) gets an InstallSnapshotReply", _RULE_REPLY),
    ]


def random_snap_case(rng: random.Random) -> dict[str, Any]:
    """A hidden case drawn from the instructor's secret: a log (perhaps compacted), a role, then a few inputs of the
    snapshot machinery (snapshots, restarts, InstallSnapshot and its replies, AppendEntries around the offset)."""
    length = rng.randint(2, 9)
    terms, t = [], 1
    for _ in range(length):
        t += rng.random() < 0.3
        terms.append(t)
    term = terms[-1] + rng.randint(0, 1)
    commit = rng.randint(0, length)
    applied = rng.randint(max(0, commit - 2), commit)
    snapshot = rng.randint(0, applied) if rng.random() < 0.7 else 0
    tail = rng.randint(0, snapshot) if snapshot and rng.random() < 0.3 else 0
    situation: dict[str, Any] = dict(term=term, log_terms=terms, commit_index=commit, last_applied=applied,
                                     snapshot=snapshot, tail=tail)
    if rng.random() < 0.3:
        situation["options"] = {"snapshot_tail": rng.randint(1, 3)}
    leader = rng.random() < 0.4
    if leader:
        situation.update(role=LEADER, voted_for=2, match_index={p: rng.randint(0, length) for p in (1, 3, 4, 5)})
        situation["next_index"] = {p: rng.randint(m + 1, length + 1) for p, m in situation["match_index"].items()}
    steps: list[tuple[int, Any]] = []
    at = 200
    lead_terms = list(terms)  # the sender's log: ours, or one that departs from ours after our committed entries
    if rng.random() < 0.5:  # (a leader holds every committed entry, §5.4: Leader Completeness)
        keep = rng.randint(commit, length)
        lead_terms = terms[:keep] + [max(terms[:keep] or [1]) + rng.randint(0, 1)] * rng.randint(1, 4)
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        mt = term + rng.choice([-1, 0, 0, 0, 1])
        if kind < 0.15:
            steps.append((at, "snapshot" if rng.random() < 0.7 else "restart"))
        elif kind < 0.45 and not leader:
            steps.append((at, InstallSnapshot(mt, 1, 2, _snap(rng.randint(1, len(lead_terms)), lead_terms))))
        elif kind < 0.7 and not leader:
            prev = rng.randint(0, len(lead_terms))
            new = lead_terms[prev:prev + rng.randint(0, 3)]
            steps.append((at, AppendEntries(mt, 1, 2, prev, lead_terms[prev - 1] if prev else 0,
                                            tuple(Entry(x, f"c{prev + k}") for k, x in enumerate(new, start=1)),
                                            rng.randint(0, len(lead_terms)))))
        elif leader and kind < 0.6:
            src = rng.choice((1, 3, 4, 5))
            steps.append((at, InstallSnapshotReply(mt, src, 2, rng.choice([0, snapshot, rng.randint(0, length)]))))
        elif leader and kind < 0.8:
            src = rng.choice((1, 3, 4, 5))
            steps.append((at, AppendEntriesReply(mt, src, 2, False, 0, rng.randint(1, length + 1))))
        else:
            steps.append((at, "timer"))
        at += rng.randint(1, 80)
    if leader:
        steps.append((at + 50, "timer"))
    return snap_case(situation, steps, "gets the inputs drawn from the secret",
                     "dissertation ch. 5 snapshots: a situation drawn from the secret")


# --------------------------------------------------------------------------
# Scenarios: clusters of the student's node with snapshots
# --------------------------------------------------------------------------


def _first_leader(run: Run, c: Cluster) -> int | None:
    """Run ``c`` until a leader is elected (3 s at most) and mark it in ``run``'s story; None when none was."""
    c.run_until(lambda c: c.leader() is not None, within=3_000)
    leader = c.leader()
    if leader is not None:
        run.mark(f"leader S{leader}")
    return leader


def _catch_up(run: Run) -> None:
    """A follower is down while the leader commits 12 requests and snapshots them; it restarts and must catch up from
    the snapshot."""
    c = Cluster(3, seed=run.seed, node_class=run.node_class, snapshot_every=None)
    run.clusters.append(c)
    leader = _first_leader(run, c)
    if leader is None:
        return
    x = next(i for i in c.ids if i != leader)
    c.crash(x)
    for k in range(12):
        c.request(f"w{k}")
        c.run(20)
    c.run(300)
    node = c.nodes[leader]
    run.mark(f"crashed S{x}; leader S{leader} applied {node.last_applied if node else 0}")
    if node is None or c.leader() != leader or node.last_applied < 12:
        return
    c.snapshot(leader)
    run.mark(f"snapshot on S{leader} up to {node.snapshot_index}, log {len(node.log)} entries")
    c.restart(x)
    run.mark(f"restarted S{x}")
    c.run(600)
    c.request("after")
    c.run(600)
    run.mark("end")


_CRASHED = re.compile(r"crashed S(\d+); leader S(\d+) applied (\d+)")
_SNAPPED = re.compile(r"snapshot on S(\d+) up to (\d+), log (\d+) entries")


def _judge_catch_up(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    why = _stopped(stopped)
    _need(f.mark_time("leader") is not None, f"setup: three servers elected no leader within 3 s{why}")
    label = f.mark_label("crashed")
    _need(label is not None, f"setup: the run stopped before the requests{why}")
    x, leader, applied = (int(g) for g in _CRASHED.match(label or "").groups())  # type: ignore[union-attr]
    _need(applied >= 12, f"setup: with S{x} down, leader S{leader} applied only {applied} of 12 requests{why}")
    snapped = f.mark_label("snapshot on")
    _need(snapped is not None, f"setup: the leader's snapshot did not happen{why}")
    _, index, kept = (int(g) for g in _SNAPPED.match(snapped or "").groups())  # type: ignore[union-attr]
    _need(index == applied, f"S{leader} applied {applied} entries, then took a snapshot up to index {index}: a snapshot "
          "covers everything applied, up to lastApplied (take_snapshot)")
    _need(kept == 0, f"after its snapshot up to {index} leader S{leader}'s log still holds {kept} entries: compact must "
          "delete the entries the snapshot replaces (compact)")
    _need(f.mark_time("end") is not None, f"the run stopped before the end{why}")
    _need(f.count("InstallSnapshot", since="restarted", until="end") > 0, f"S{x} restarted with an empty log, but leader S{leader}, whose entries 1..{index} are compacted, "
          f"never sent it InstallSnapshot: when nextIndex - 1 is below the log's offset the leader sends its snapshot "
          "(send_append_entries)")
    _need(any(e.kind == "install" and e.node == x for e in f.events),
          f"S{x} got leader S{leader}'s InstallSnapshot but did not install it (handle_install_snapshot)")
    _need(x in f.applied_on("after"), f"S{x} installed the snapshot but never applied the request sent after it: the "
          "leader must continue with AppendEntries from the snapshot's index + 1 (send_append_entries, "
          "handle_install_snapshot_reply) with prevLogTerm = the term of the entry at the snapshot's index (compact "
          "keeps it in state.offset_term, read before the entries go), and the follower must read its log at indexes "
          "after the offset (entry_at)" + f.cause())


def _restart(run: Run) -> None:
    """Snapshots every 4 entries; 10 requests commit; every server crashes and restarts from its disk; the cluster
    goes on and commits one more."""
    c = Cluster(3, seed=run.seed, node_class=run.node_class, snapshot_every=4)
    run.clusters.append(c)
    c.run_until(lambda c: c.leader() is not None, within=3_000)
    run.mark("leader elected")
    if c.leader() is None:
        return
    for k in range(10):
        c.request(f"w{k}")
        c.run(20)
    c.run(300)
    run.mark("logs " + " ".join(f"S{i}:{n.snapshot_index}+{len(n.log)}" for i, n in c.nodes.items() if n))
    for i in c.ids:
        c.crash(i)
    c.restart_all()
    run.mark("restarted")
    c.run_until(lambda c: c.leader() is not None, within=3_000)
    c.request("after")
    c.run(600)
    run.mark("end")


def _judge_restart(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    why = _stopped(stopped)
    _need(f.mark_time("leader elected") is not None and bool(f.leaders()), f"setup: no leader within 3 s{why}")
    logs = f.mark_label("logs")
    _need(logs is not None, f"setup: the run stopped before the requests committed{why}")
    sizes = {int(i): (int(s), int(n)) for i, s, n in re.findall(r"S(\d+):(\d+)\+(\d+)", logs)}  # type: ignore[arg-type]
    _need(len(f.applied()) >= 10, f"setup: the ten requests did not commit within 500 ms{why}{f.cause()}")
    for i, (snap, kept) in sorted(sizes.items()):
        _need(snap >= 8 and kept < 8, f"S{i} applied the ten requests, yet its snapshot ends at {snap} and its "
              f"log holds {kept} entries: with a snapshot every 4 applied entries the log stays short (take_snapshot "
              "at lastApplied, compact the entries it replaces)")
    restored = {e.node for e in f.events if e.kind == "restore" and e.node is not None}
    _need(restored >= set(sizes), f"after the restart only {sorted(restored)} started from their snapshots")
    _need(f.mark_time("end") is not None, f"the run stopped after the restart{why}: a server starting from its "
          "snapshot has commitIndex = lastApplied = the snapshot's index and its state machine = the snapshot's "
          "state (load_snapshot), and reads its log at indexes after the offset (entry_at)")
    _need(bool(f.applied_on("after")), "after every server restarted from its snapshot no request committed within "
          "3.6 s: the restarted servers must elect a leader and replicate after their snapshots (load_snapshot, "
          f"entry_at){f.cause()}")


def _faults_snapshots(run: Run) -> None:
    """The sweep's random faults on five nodes with a snapshot every 3 applied entries (a tail of 1 on odd seeds),
    then recovery."""
    c = Cluster(5, seed=run.seed, node_class=run.node_class, network=CHAOS, snapshot_every=3,
                snapshot_tail=run.seed % 2, schedule=random_schedule(5, run.seed, horizon=3_000))
    run.clusters.append(c)
    c.run(3_000)
    run.mark("faults stopped")
    run.mark("longest log " + str(max((len(n.log) for n in c.nodes.values() if n), default=0)))
    recover(c, within=5_000)
    run.mark("recovered")


_recovers = judge_faults_saying("with snapshots on, a follower that fell behind the leader's snapshot needs "
                                "InstallSnapshot (send_append_entries, handle_install_snapshot) and the leader must go "
                                "on after it (handle_install_snapshot_reply)")


def _judge_faults_snapshots(facts: list[Facts], stopped: str) -> None:
    _recovers(facts, stopped)
    f = facts[0]
    most = max((e.index for e in f.events if e.kind == "apply" and e.index is not None), default=0)
    _need(most < 3 or any(e.kind == "snapshot" for e in f.events), f"no server took a snapshot although one applied "
          f"entries up to index {most}, with a snapshot every 3 applied entries (take_snapshot)")
    label = f.mark_label("longest log") or "longest log 0"
    longest = int(label.split()[-1])
    requests = sum(1 for e in f.events if e.kind == "client_request")
    _need(longest <= max(12, requests // 2), f"when the faults stopped a server's log held {longest} entries after "
          f"{requests} requests with a snapshot every 3: log compaction must bound the log (compact)")


def kv_rules_class(funcs: Mapping[str, Callable[..., Any]]) -> type:
    """The key-value server (:class:`~raftedu.kv.KVNode`: a store with client sessions, §6.3) on the student's
    snapshot rules; in the grader, where ``funcs`` stand for the sandboxed worker's functions, the same class as
    nodes in the worker (kind ``"kvrules"``; their snapshots carry the store by the codec's ``{"kv": ...}`` form)."""
    if isinstance(funcs, RemoteFunctions):
        return funcs.node_class("kvrules")
    return nodehost.build_class("kvrules", funcs)


def _session_survives(run: Run) -> None:
    """Dissertation §6.3 across a restart from snapshots: client 1's put x=1 is applied everywhere but its answer is
    lost (the link from the leader to the client is cut); client 2 reads x (1) and puts x=2; every server takes a
    snapshot, crashes and restarts from it; client 1 retries its put, then client 2 reads x again. The retry must be
    answered from the session table the snapshot carried, not applied a second time (the read must give 2)."""
    from ..kv import KVNode, KVPlumbing, KVService

    cls: Any = run.node_class
    if not (issubclass(cls, KVPlumbing) or getattr(cls, "serves_kv", False)):  # replay() hands the plain rules class
        cls = type("StudentKV", (KVNode, cls), {})
    svc = KVService(3, clients=2, seed=run.seed, node_class=cls)
    c = svc.cluster
    run.clusters.append(c)
    leader = _first_leader(run, c)
    if leader is None:
        return
    one = svc.clients[0]
    one.retry_after = 1_000  # client 1 retries only after the restart (600 ms after its call)
    c.cut(leader, one.id)  # its answer is lost
    svc.submit(1, "put", "x", 1, to=leader)
    c.run(300)
    svc.submit(2, "get", "x", to=leader)
    svc.run(150)
    svc.submit(2, "put", "x", 2, to=leader)
    svc.run(150)
    applied = min(n.last_applied for n in c.nodes.values() if n)
    run.mark(f"applied on every server up to {applied}")
    for i in c.ids:
        c.snapshot(i)
    run.mark("snapshots " + " ".join(f"S{i}:{n.snapshot_index}" for i, n in c.nodes.items() if n))
    for i in c.ids:
        c.crash(i)
    c.heal()
    c.restart_all()
    run.mark("restarted")
    c.run_until(lambda c: _answered(svc) == 3, within=2_500)  # client 1's retry answered
    svc.submit(2, "get", "x")
    c.run_until(lambda c: _answered(svc) == 4, within=800)
    svc.finish()
    ops = list(svc.history)
    last = ops[-1].result if ops else None
    run.mark(f"answered {sum(1 for o in ops if o.result is not None)} of {len(ops)}; last read "
             f"{'none' if last is None else last.value}; "
             f"client 1's put answered at {ops[0].response if ops else None}")
    verdict = svc.check()
    run.mark(f"history {verdict.verdict}: {verdict.explanation or ''}"[:400])
    run.mark("end")


def _answered(svc: Any) -> int:
    """How many of the key-value service's client calls have been answered."""
    return sum(1 for o in svc.history if o.result is not None)


def _judge_session_survives(facts: list[Facts], stopped: str) -> None:
    f = facts[0]
    why = _stopped(stopped)
    _need(f.mark_time("leader") is not None, f"setup: three servers elected no leader within 3 s{why}")
    label = f.mark_label("applied on every server up to")
    _need(label is not None, f"setup: the run stopped before the writes{why}")
    _need(int((label or "0").split()[-1]) >= 3, f"setup: the three servers did not all apply the two writes within "
          f"600 ms ({label}){why}{f.cause()}")
    snaps = f.mark_label("snapshots") or ""
    _need(bool(snaps) and all(int(k) >= 3 for k in re.findall(r"S\d+:(\d+)", snaps)),
          f"setup: every server applied the writes, yet its snapshot does not cover them ({snaps}) (take_snapshot)")
    _need(f.mark_time("end") is not None, f"the run stopped after every server restarted from its snapshot{why}")
    answers = f.mark_label("answered") or "answered 0 of 0; last read none"
    _need(answers.startswith("answered 4 of 4"), "after every server restarted from its snapshot the clients did not "
          f"all get answers ({answers}; the retried put x=1 and the last read of x must be answered): the restarted servers must elect a leader and go on "
          f"after their snapshots (load_snapshot, entry_at){f.cause()}")
    retried = answers.rpartition(" at ")[2]
    _need(retried.isdigit() and int(retried) > (f.mark_time("restarted") or 0), f"setup: client 1's put x=1 was "
          f"answered before the servers restarted from their snapshots ({answers}){why}")
    history = f.mark_label("history") or "history ?"
    _need(history.startswith("history linearizable"), "client 1's put x=1 was applied, its answer lost; every "
          "server restarted from its snapshot and client 1 retried it; then the clients' history is not "
          f"linearizable ({history.removeprefix('history not linearizable: ')}): the restarted store did not answer "
          "the retry from its session table, or lost the writes its snapshot covered. Dissertation §6.3: the "
          "session table (each client's last serial number and its reply) is part of the state machine, so a "
          "snapshot carries it with the store -- take_snapshot keeps what snapshot_state() returns and "
          "load_snapshot hands it back to restore_state(), whatever it holds")


SNAPSHOT_SCENARIOS: dict[str, Scenario] = {
    "snapshot_catch_up": Scenario(_catch_up, _judge_catch_up, "a follower down while the leader commits and "
                                  "snapshots 12 requests catches up by InstallSnapshot", counts=True),
    "snapshot_restart": Scenario(_restart, _judge_restart, "snapshots every 4 entries, every server restarts from its "
                                 "snapshot, and the cluster goes on"),
    "faults_snapshots": Scenario(_faults_snapshots, _judge_faults_snapshots, "the sweep's random faults with a "
                                 "snapshot every 3 applied entries; then one request must commit"),
    "session_survives": Scenario(_session_survives, _judge_session_survives, "a write applied but not answered, "
                                 "every server restarted from its snapshot, the write retried: applied once (§6.3)"),
}
"""Exercise 10's scenarios (added to :data:`~raftedu.grading.scenarios.SCENARIOS`)."""
SCENARIOS.update(SNAPSHOT_SCENARIOS)


_SUSPECTS = {
    "Snapshot index ≤ commit index": "take_snapshot snapshots up to lastApplied, never further; handle_install_snapshot "
                                     "installs only a snapshot newer than commitIndex and load_snapshot raises "
                                     "commitIndex to its index",
    "Snapshot matches the committed entry": "take_snapshot records the term of the entry at lastApplied (term_at); "
                                            "compact keeps offset_term",
    "Snapshots keep the committed commands": "take_snapshot stores the state machine as of lastApplied "
                                             "(snapshot_state())",
    "State machine = log": "load_snapshot resets the state machine to the snapshot's state (restore_state) with "
                           "lastApplied = its index; handle_install_snapshot must call load_snapshot",
    "Apply contiguous": "load_snapshot sets lastApplied to the snapshot's index and the state machine with it; "
                        "handle_install_snapshot must call load_snapshot",
    "Leader Append-Only": "compact deletes exactly the entries up to upto (no more); a leader never installs a snapshot",
    "Log Matching": "handle_install_snapshot keeps exactly the entries after the snapshot's last index (log[index - "
                    "offset:]), and only when its own entry there has the snapshot's term; send_append_entries sends "
                    "prevLogTerm = term_at(prev) (the offset's term is state.offset_term, kept by compact)",
    "commitIndex ≤ last index": "load_snapshot and handle_install_snapshot: commitIndex never passes the snapshot's "
                                "index plus the entries kept after it",
}
"""For a safety property a snapshot rule can break: the methods to look at first (added to a scenario's hint)."""


def judge_snapshot_scenario(case: Mapping[str, Any], observed: Any) -> None:
    """:func:`~raftedu.grading.scenarios.judge_scenario` for exercise 10, whose hint for a broken safety property
    also names the snapshot methods that can break it."""
    try:
        judge_scenario(case, observed, exercise="10")
    except Unsafe as e:
        suspect = _SUSPECTS.get(e.property)
        if suspect is None:
            raise
        head, _, replay = e.hint.rpartition("\nreplay")
        raise e.again(f"{head}; look at: {suspect}\nreplay{replay}" if head else f"{e.hint}; look at: {suspect}") \
            from None


def _label(spec: Mapping[str, Any]) -> str:
    """A case as the hint of an exception raised in it names it: the node, what it does, the rule."""
    return f"S{spec['situation'].get('node_id', 2)} {spec['what']}; rule: {spec['rule']}"


def snapshot_checks() -> tuple[Check, ...]:
    """Exercise 10's checks: public fixed cases and scenarios, the written answer, hidden cases and seeds."""
    from .exercises import _fixed, _scenario_check, _secret_seeds

    def cases(name: str, points: float, public: bool, make: Callable[[random.Random], list[Any]],
              description: str) -> Check:
        return Check(name, points, public, SNAPSHOT_RULES, description, cases=make, probe=probe_snap_case,
                     judge=judge_snap_case, label=_label)

    def scen(name: str, points: float, public: bool, scenario: str, seeds: Callable[[random.Random], list[int]],
             description: str, build: Callable[[Mapping[str, Any]], type[Any]] | None = None) -> Check:
        return dataclasses.replace(_scenario_check(name, points, public, SNAPSHOT_RULES, "10", scenario, seeds,
                                                   description, build), judge=judge_snapshot_scenario)

    return (
        cases("compaction_rules", 3, True, lambda rng: compaction_cases(), "taking a snapshot, compacting the log, "
              "reading it by index, AppendEntries inside a snapshot, restarting; compared with the reference node"),
        cases("install_snapshot_rules", 3, True, lambda rng: install_cases(), "the leader choosing InstallSnapshot, "
              "the receiver's rules (Figure 5.3), the reply; compared with the reference node"),
        scen("catch_up_by_snapshot", 2, True, "snapshot_catch_up", _fixed([1]),
             "a crashed follower catches up from the leader's snapshot, then applies a new request"),
        scen("restart_from_snapshot", 2, True, "snapshot_restart", _fixed([1]),
             "every server restarts from its snapshot; the logs stay short and the cluster goes on"),
        scen("snapshots_under_faults", 2, True, "faults_snapshots", _fixed([2, 3]),
             "2 seeds of the sweep's crashes, partitions and lossy network with snapshots every 3 entries"),
        scen("sessions_survive_snapshots", 1, True, "session_survives", _fixed([1]),
             "a key-value server on your rules: a write applied but not answered, every server restarted from its "
             "snapshot, the write retried -- applied once (dissertation §6.3)", kv_rules_class),
        Check("why_keep_the_suffix", 2, True, (), "written answer: why a follower whose log has the snapshot's last "
              "entry keeps the entries after it, and why it must not keep them otherwise", manual=True),
        cases("snapshot_rules_hidden", 3, False, lambda rng: [random_snap_case(rng) for _ in range(50)],
              "50 situations of the snapshot machinery drawn from the secret, compared with the reference node"),
        scen("catch_up_hidden", 1, False, "snapshot_catch_up", _secret_seeds(2),
             "the crashed follower catching up, 2 seeds from the secret"),
        scen("restart_hidden", 1, False, "snapshot_restart", _secret_seeds(2),
             "the restart from snapshots, 2 seeds from the secret"),
        scen("sessions_survive_snapshots_hidden", 1, False, "session_survives", _secret_seeds(2),
             "the retried write after a restart from snapshots, 2 seeds from the secret", kv_rules_class),
        scen("snapshots_under_faults_hidden", 2, False, "faults_snapshots", _secret_seeds(4),
             "4 more seeds of the sweep's faults with snapshots (drawn from the secret)"),
    )
