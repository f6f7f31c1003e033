"""Always-on safety checks: Raft's Figure 3 properties and a few more, read from the trace.

:class:`SafetyMonitor` watches events one at a time (the simulator feeds it
every event as it happens) and raises :class:`SafetyViolation` at the first
event that breaks a property. :func:`check_trace` runs the same monitor over
a finished trace offline.

Properties (Figure 3 first):

* **Election Safety** -- at most one leader can be elected in a given term (§5.2).
* **Leader Append-Only** -- a leader never overwrites or deletes entries in its log (§5.3).
* **Log Matching** -- if two logs contain an entry with the same index and
  term, the logs are identical in all entries up through that index (§5.3).
  Checked in its strongest form: every entry (index, term) ever stored
  anywhere has one and the same prefix.
* **Leader Completeness** -- an entry committed in a term is present in the
  logs of the leaders of all higher terms (§5.4).
* **State Machine Safety** -- no two servers commit or apply different
  entries at the same index (§5.4.3).
* **Terms never decrease** on a server, across restarts too.
* **One vote per term** for each server, across restarts too (§5.2).
* **commitIndex ≤ last index** on every server, and commitIndex never falls
  while the server is up.
* **Apply contiguous** -- a server applies index lastApplied + 1 and only
  committed entries.
* **Leader elected by a majority** -- a server becomes leader of term T only
  after servers forming a majority granted it their vote *in term T* (§5.2);
  a vote is read from the voter's ``vote`` event or from any granted
  RequestVoteReply it sends.
* **State machine = log** -- what a server's state machine actually applied
  (``node.applied``, which the simulator compares after every step) is the
  commands of its log up to lastApplied, in order, each once (§5.3).
* **Committed entries on a majority** -- every committed entry is stored in
  the logs of a majority of servers (etcd-io/raft's TLA+ ``QuorumLogInv``).
* **Up-to-date logs hold what is committed** -- a log at least as up to date
  as server j's (§5.4.1) contains every entry j knows is committed
  (etcd-io/raft's TLA+ ``MoreUpToDateCorrectInv``). Checked only when asked
  (``up_to_date_check=True``; the sweep does): it catches a wrong commit the
  moment it happens -- in Figure 8 at the commit in (c), before Leader
  Completeness breaks in (d), which is where the lessons show it -- and it
  costs a look at every server per log change.

A node that raises an exception inside a step is reported as
:class:`NodeFailure` (a :class:`SafetyViolation` of property ``Node
failure``): the run stops there, with the trace up to that point.

With configuration changes (dissertation ch. 4, :data:`EXTENSION_PROPERTIES`):

* **One configuration change at a time** -- a leader appends a configuration
  only when the previous one in its log is committed (§4.1).
* **Single-server changes** -- each configuration's voters differ from the
  previous one's by at most one server, so majorities of the two overlap (§4.1).
* **Configuration change after a commit of the leader's term** -- a leader
  appends a configuration only once an entry of its own term is committed
  (the fix of the single-server change bug, Ongaro, raft-dev, 2015; etcd-io/raft's
  ``becomeLeader`` sets ``pendingConfIndex`` to its last index for this).
* **Learners never campaign or lead** -- a server that is a learner in its
  latest configuration never becomes pre-candidate, candidate or leader
  (§4.2.1; etcd-io/raft's ``promotable``). Learners may answer RequestVote
  (etcd-io/raft's campaign_learner_must_vote.txt), but their votes never count:
  "Leader elected by a majority" counts only the candidate's voters.
* **Removed servers do not campaign** -- a server left out of its latest
  configuration campaigns only while that configuration is not committed
  on it (§4.2.2: it may be needed to commit its own removal; §4.2.3).

With leadership transfer (dissertation §3.10), checked from the first TimeoutNow or transfer on:

* **Transfer only to a caught-up voter** -- a leader sends TimeoutNow only to
  a voter of its configuration whose log holds its whole log (§3.10).
* **Stale TimeoutNow is ignored** -- a TimeoutNow of a term older than the
  receiver's starts no election (etcd-io/raft: a message of a lower term is
  dropped in ``Step``; a duplicated or late TimeoutNow would depose a good leader).
* **No proposals during a transfer** -- a leader handing over appends no new
  entry until the transfer ends or is given up (§3.10; etcd-io/raft's
  TestLeaderTransferIgnoreProposal).

With check-quorum (dissertation §6.2), checked when the run's start event lists the option (times on each
server's own clock: a server whose clock drifts or whose process was paused -- the simulator's
``set_clock_rate`` and ``pause`` -- keeps these promises by its clock, not by true time):

* **Check-quorum leaders step down** -- a leader that has not heard from a
  majority of its voters for a minimum election timeout is no longer leader
  one heartbeat later (its timer checks once per heartbeat interval; etcd-io/raft's
  checkquorum.txt).
* **Lease only from the current leader** -- a server ignores a RequestVote
  (§4.2.3) only within a minimum election timeout of an AppendEntries or
  InstallSnapshot of its own current term: an older leader's message renews
  nothing (etcd-io/raft's ``Step``: ``inLease`` reads ``electionElapsed``, which only
  messages of the current term reset).

With snapshots (dissertation ch. 5; a node's log then starts after its
snapshot, while the trace's view keeps the whole log, so every property above
is still checked on whole logs):

* **Snapshot index ≤ commit index** -- a server snapshots only entries it
  knows are committed, and installs only a snapshot of entries committed
  somewhere (dissertation §5.1).
* **Snapshot matches the committed entry** -- a snapshot's last included
  index and term are those of the committed entry at that index (Figure 5.3:
  the AppendEntries consistency check after it relies on them).
* **Snapshots keep the committed commands** -- the state machine in a
  snapshot holds exactly the committed commands up to its index, in order: a
  server restarting from it or installing it has the state machine of the
  others, and no committed entry is lost to compaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from typing import Any

from .raft import (LOST_IN_CRASH, AppendEntries, ConfigChange, Entry, Event, InstallSnapshot, RequestVoteReply,
                   TimeoutNow, majority)
from .trace import ClusterView, KindEvent, Trace, _names

__all__ = ["SafetyViolation", "NodeFailure", "SafetyMonitor", "check_trace", "PROPERTIES", "EXTENSION_PROPERTIES"]

PROPERTIES = (
    "Election Safety",
    "Leader Append-Only",
    "Log Matching",
    "Leader Completeness",
    "State Machine Safety",
    "Terms never decrease",
    "One vote per term",
    "commitIndex ≤ last index",
    "Apply contiguous",
    "Leader elected by a majority",
    "State machine = log",
    "Committed entries on a majority",
    "Up-to-date logs hold what is committed",
    "Node failure",
)

EXTENSION_PROPERTIES = (
    "One configuration change at a time",
    "Single-server changes",
    "Configuration change after a commit of the leader's term",
    "Learners never campaign or lead",
    "Removed servers do not campaign",
    "Transfer only to a caught-up voter",
    "Stale TimeoutNow is ignored",
    "No proposals during a transfer",
    "Check-quorum leaders step down",
    "Lease only from the current leader",
    "Snapshot index ≤ commit index",
    "Snapshot matches the committed entry",
    "Snapshots keep the committed commands",
)
"""Properties of etcd's extensions (dissertation ch. 3, 4, 5 and 6), checked whenever their option or operation is
in use; kept apart from Figure 3's list."""


class SafetyViolation(AssertionError):
    """A safety property broke: names the property, the seed, the time and the event."""

    def __init__(self, prop: str, detail: str, event: Event, seed: int | None) -> None:
        """Describe the violation of ``prop`` at ``event`` in the run with ``seed``."""
        self.property = prop
        self.detail = detail
        self.event = event
        self.seed = seed
        self.time = event.time
        super().__init__(
            f"{prop} violated at t={event.time} ms (seed={seed}): {detail}\n  event: {event}\n"
            f"  replay: Cluster(..., seed={seed}) with the same schedule, then run to t={event.time}"
        )


class NodeFailure(SafetyViolation):
    """A node raised an exception inside one of its steps; the run stops with the trace up to that point.

    ``node`` is the server, ``error`` the exception (None when read back from
    a trace offline), ``trace`` the run's trace (the failure is its last
    event). It is a :class:`SafetyViolation` of property ``Node failure``, so
    everything that reports violations (the sweep, the grader) reports it.
    """

    def __init__(self, detail: str, event: Event, seed: int | None, error: BaseException | None = None,
                 trace: Trace | None = None) -> None:
        """Describe the failure recorded by ``event`` (kind ``failure``)."""
        super().__init__("Node failure", detail, event, seed)
        self.node = event.node
        self.error = error
        self.trace = trace


def _servers(ids: Iterable[int]) -> str:
    return ", ".join(f"S{i}" for i in sorted(ids))


def _machine_difference(got: list[Any], want: list[Any]) -> str:
    """Say where an applied sequence of commands first departs from the log's."""
    for k, (a, b) in enumerate(zip(got, want)):
        if a != b:
            return f"its state machine holds {a!r} as command {k + 1}, the log has {b!r} at index {k + 1}"
    if len(got) > len(want):
        return (f"its state machine applied {len(got)} commands but lastApplied is {len(want)} "
                f"(extra: {got[len(want):][:3]!r}); an entry was applied more than once")
    return (f"its state machine applied {len(got)} commands but lastApplied is {len(want)} "
            f"(missing: {want[len(got):][:3]!r}); an entry was skipped")


def _chain(prev: int, entry: Entry) -> int:
    """Hash of a log prefix extended by one entry."""
    return hash((prev, entry.term, repr(entry.command)))


class SafetyMonitor:
    """Checks every safety property as events arrive; raises :class:`SafetyViolation` on the first failure."""

    def __init__(self, seed: int | None = None, *, up_to_date_check: bool = False) -> None:
        """A fresh monitor; ``seed`` is only quoted in violation messages.

        ``up_to_date_check`` adds "Up-to-date logs hold what is committed"
        (etcd-io/raft's ``MoreUpToDateCorrectInv``) to the checks.
        """
        self.seed = seed
        self.up_to_date_check = up_to_date_check
        self.view = ClusterView()
        self.prefix: dict[int, list[int]] = {}  # node -> prefix hash at each index (index 0 -> 0)
        self.entry_prefix: dict[tuple[int, int], int] = {}  # (index, term) -> prefix hash, ever
        self._first_entry: dict[tuple[int, int], tuple[int, Entry, int]] = {}  # (index, term) -> the prefix hash
        # before it, the entry and the hash with it, as the first log to hold it had them (the same again: no hash to
        # compute; ``entry_prefix`` holds the same hashes)
        self.leader_of: dict[int, int] = {}  # term -> leader
        self.top_leader_term = -1  # the highest term any server became leader in
        self.vote_of: dict[tuple[int, int], int] = {}  # (voter, term) -> candidate
        self.last_term: dict[int, int] = {}  # node -> highest term ever seen
        self.committed: list[tuple[int, int]] = [(0, 0)]  # index -> (prefix hash, term it was first committed in)
        self.applied: list[Entry] = self.view.applied  # index -> entry applied there (the view keeps it)
        self.voters: dict[tuple[int, int], set[int]] = {}  # (candidate, term) -> servers that granted their vote
        self.quorum = 1  # a majority of the cluster (set by the start event)
        self.reconfigured = False  # True once servers joined or configurations changed (dissertation §4.1)
        self.config_index: dict[int, int] = {}  # node -> log index of its latest configuration (§4.1)
        self.transferring: dict[int, int] = {}  # leader -> the server it hands leadership to (§3.10)
        self.window, self.heartbeat = 150, 50  # minimum election timeout and heartbeat interval (set by the start event)
        self.check_quorum = False  # the run's nodes use check-quorum (§6.2; set by the start event)
        self.leader_since: dict[int, int] = {}  # check-quorum leader -> when it became leader
        self.heard: dict[int, dict[int, int]] = {}  # check-quorum leader -> sender -> last delivery of its term or later
        self.quorum_until: dict[int, int] = {}  # check-quorum leader -> the time up to which it surely may still lead
        self.voters_since: dict[int, int] = {}  # check-quorum leader -> when its voters last changed while it led
        self.lease: dict[int, tuple[int, int]] = {}  # node -> (time, term) of the last AppendEntries/InstallSnapshot
        # of its own term or a later one delivered to it (§4.2.3)
        self._stale_timeout_now: tuple[int, int] | None = None  # (node, time) of a TimeoutNow of an older term just
        # delivered, until the node's step is over
        self.events = 0
        checks = {name[len("_check_"):]: getattr(self, name) for name in _names(type(self), "_check_")}
        self.checks: dict[str, Callable[[Any], None]] = {**self.view._handlers, **checks}
        """The check of each event kind (a kind with no check only updates the state the view keeps for the checks;
        an unlisted kind -- ``send``'s picture part, ``timer``, ``progress``, and ``deliver`` until check-quorum or a
        leadership transfer makes deliveries count (:meth:`_watch_deliveries`) -- changes only what
        :meth:`ClusterView.draw` draws). :meth:`observe` calls it; a simulator may call it directly, setting
        ``view.time`` and ``events``, and must look it up again for each event (entries are added as a run goes)."""

    def fail(self, prop: str, detail: str, e: Event) -> None:
        """Raise the violation of ``prop``."""
        raise SafetyViolation(prop, detail, e, self.seed)

    def observe(self, e: Event) -> None:
        """Check one event (before and after it changes the view)."""
        self.events += 1
        self.view.time = e.time
        handle = self.checks.get(e.kind)
        if handle is not None:
            handle(e)

    def _check_start(self, e: KindEvent) -> None:
        self.view.update(e)
        self.prefix = {i: [0] for i in self.view.nodes}
        self.quorum = majority(len(self.view.nodes))
        config = self.view.config
        timing = config.get("timing") or {}
        self.window = timing.get("election_timeout", (150, 300))[0]
        self.heartbeat = timing.get("heartbeat", 50)
        if "check_quorum" in config.get("options", ()):
            self.check_quorum = True
            self.checks["send"] = self._send_under_check_quorum
            self._watch_deliveries()

    def _watch_deliveries(self) -> None:
        """From now on look at every delivery (:meth:`_delivered`): with check-quorum, and once leadership transfers
        happen; a Figure 2 run never pays for it (deliveries are the most frequent events)."""
        self.checks["deliver"] = self._delivered

    def _delivered(self, e: KindEvent) -> None:
        """A message arrived: who a check-quorum leader heard from (§6.2), a server's lease (§4.2.3), a stale TimeoutNow
        (§3.10). Its receiver's step follows (the end of the previous step: no stale TimeoutNow pending)."""
        m, p = e.msg, e.node
        node = self.view.nodes.get(p)  # None for clients
        self._stale_timeout_now = None
        if node is None:
            return
        if m.term < node.term:
            if type(m) is TimeoutNow:
                self._stale_timeout_now = (p, e.time)
            return
        kind = type(m)
        clock = node.clock
        t = e.time if clock is None else clock.read(e.time)  # on p's own clock: it times its lease and quorum on it
        if kind is AppendEntries or kind is InstallSnapshot:
            self.lease[p] = (t, m.term)
        heard = self.heard.get(p)
        if heard is not None:
            heard[m.src] = t

    def _check_term(self, e: KindEvent) -> None:
        if e.value <= self.last_term.get(e.node, -1):
            why = (": it restarted from a disk that never got the later term (persist currentTerm before the step "
                   "ends, Figure 2)" if e.rule == LOST_IN_CRASH else "")
            self.fail("Terms never decrease",
                      f"S{e.node} went to term {e.value} after term {self.last_term[e.node]}{why}", e)
        self.last_term[e.node] = e.value
        self.view.update(e)

    def _check_vote(self, e: KindEvent) -> None:
        if e.value:
            self._count_vote(e.node, e.term, e.peer, e)
        self.view.update(e)

    def _check_send(self, e: KindEvent) -> None:
        """A granted RequestVoteReply is a vote, whatever the sender recorded about it; a TimeoutNow hands leadership
        over (:meth:`_timeout_now_sent`)."""
        m = e.msg
        if type(m) is AppendEntries:
            return
        if isinstance(m, RequestVoteReply):
            if m.vote_granted:
                self._count_vote(m.src, m.term, m.dst, e)
        elif type(m) is TimeoutNow:
            self._timeout_now_sent(e)

    def _send_under_check_quorum(self, e: KindEvent) -> None:
        """:meth:`_check_send`, and a check-quorum leader that sends is still in touch with a majority (§6.2)."""
        self._check_send(e)
        until = self.quorum_until.get(e.node)
        if until is not None and self._local(e.node, e.time) > until:
            self._leader_in_contact(e.node, e)

    def _leader_in_contact(self, p: int, e: Event) -> None:
        """§6.2: a check-quorum leader looks, once per heartbeat interval, whether it heard from a majority of its
        voters within the last minimum election timeout, and steps down if not. So a leader still leading more than a
        minimum election timeout plus a heartbeat interval after the last moment a majority was in touch (or after it
        became leader) broke the promise. When its voters change (§4.1) its next look counts the new ones: it may lead
        until a heartbeat interval after the change."""
        voters, heard, since = self.view.voters(p), self.heard[p], self.leader_since[p]
        need = majority(len(voters)) - (p in voters)  # a leader being removed does not count itself (§4.2.2)
        if need <= 0:
            self.quorum_until[p] = 1 << 62
            return
        times = sorted([heard.get(v, since) for v in voters if v != p], reverse=True)
        last = times[need - 1]
        bound = max(last + self.window, self.voters_since.get(p, since)) + self.heartbeat
        now = self._local(p, e.time)
        if now > bound:
            self.fail("Check-quorum leaders step down",
                      f"S{p} still leads term {self.view.nodes[p].term} at t={now} ms{self._own_clock(p)}: a majority of its voters "
                      f"{_servers(voters)} was last in touch at t={last} ms, more than a minimum election timeout "
                      f"({self.window} ms) and a heartbeat interval ({self.heartbeat} ms) ago (§6.2)", e)
        self.quorum_until[p] = bound

    def _local(self, p: int, t: int) -> int:
        """True time ``t`` on S``p``'s own clock: check-quorum and its lease are timed by the server's clock, which a
        fault may make drift or a pause stop (:class:`~raftedu.trace.Clock`); without one it is ``t``."""
        clock = self.view.nodes[p].clock
        return t if clock is None else clock.read(t)

    def _own_clock(self, p: int) -> str:
        """The words " on its own clock" for a server whose clock drifts or was paused (times it read are its own)."""
        return "" if self.view.nodes[p].clock is None else " on its own clock"

    def _timeout_now_sent(self, e: KindEvent) -> None:
        """§3.10: the leader sends TimeoutNow only to a voter of its configuration whose log holds its whole log."""
        self._watch_deliveries()
        m = e.msg
        leader, to = self.view.nodes[m.src], m.dst
        target = self.view.nodes.get(to)
        if leader.role != "leader":
            self.fail("Transfer only to a caught-up voter", f"S{m.src} sent TimeoutNow to S{to} but it is not the "
                      f"leader ({leader.role} of term {leader.term})", e)
        self._transfer_to_voter(m.src, to, e)
        if target is None or target.term > leader.term:
            return  # the target moved on to a later term: whatever it held when it answered, the leader could not know
        last, mine = len(leader.log), self.prefix.get(to, [0])
        if len(mine) <= last or mine[last] != self.prefix[m.src][last]:
            self.fail("Transfer only to a caught-up voter",
                      f"leader S{m.src} sent TimeoutNow to S{to}, whose log lacks some of its entries up to index {last}: "
                      "the target must be caught up first, or it cannot win (§3.10)", e)

    def _transfer_to_voter(self, leader: int, to: int, e: Event) -> None:
        voters = self.view.voters(leader)
        if to not in voters:
            self.fail("Transfer only to a caught-up voter",
                      f"leader S{leader} hands leadership to S{to}, which is not a voter of its configuration "
                      f"(voters {_servers(voters)}): a learner or a removed server must never lead (§3.10, §4.2.1)", e)

    def _check_transfer(self, e: KindEvent) -> None:
        """A leader starts handing leadership over (``value`` the target) or gives up (``value`` None), §3.10."""
        if e.value is None:
            self.transferring.pop(e.node, None)
            return
        self._watch_deliveries()
        self._transfer_to_voter(e.node, e.value, e)
        self.transferring[e.node] = e.value

    def _check_timeout(self, e: KindEvent) -> None:
        """An election timer ran out: a new step of that server, not the one of a stale TimeoutNow."""
        stale = self._stale_timeout_now
        if stale is not None and stale[0] == e.node and not e.rule.startswith("§3.10"):
            self._stale_timeout_now = None

    def _check_vote_ignored(self, e: KindEvent) -> None:
        """§4.2.3: a server ignores a RequestVote only within a minimum election timeout of hearing from the
        leader of its own current term."""
        node = self.view.nodes[e.node]
        if not self.check_quorum or node.role == "leader":
            return
        lease = self.lease.get(e.node)  # (time, term) of the last AppendEntries of its term or later
        if lease is None or lease[1] != node.term or self._local(e.node, e.time) - lease[0] >= self.window:
            heard = ("no AppendEntries of its term " + str(node.term) + " reached it" if lease is None or
                     lease[1] != node.term else f"the last AppendEntries of its term {lease[1]} reached it at "
                     f"t={lease[0]} ms{self._own_clock(e.node)}")
            self.fail("Lease only from the current leader",
                      f"S{e.node} ignored S{e.peer}'s RequestVote for term {e.value} as if it heard from a live leader, "
                      f"but {heard}, not within the last {self.window} ms: only messages of the current leader "
                      "renew the lease (§4.2.3)", e)

    def _check_precampaign(self, e: KindEvent) -> None:
        self._may_campaign(e, "asked for pre-votes")

    def _may_campaign(self, e: KindEvent, what: str) -> None:
        """§4.2.1, §4.2.2: only voters campaign and lead (a removed server only while its removal is not committed on
        it); and a stale TimeoutNow starts no election (§3.10)."""
        p = e.node
        stale = self._stale_timeout_now
        if stale is not None and stale == (p, e.time):
            self.fail("Stale TimeoutNow is ignored",
                      f"S{p} {what} in term {e.term} on a TimeoutNow of an older term: a duplicated or late TimeoutNow "
                      "must be ignored, or it deposes a good leader (§3.10)", e)
        if not self.reconfigured:
            return
        node = self.view.nodes[p]
        config = node.config
        if config is None or p in config.voters:
            return
        if p in config.learners:
            self.fail("Learners never campaign or lead",
                      f"S{p} {what} in term {e.term}, but it is a learner of its configuration (voters "
                      f"{_servers(config.voters)}, learners {_servers(config.learners)}): learners never do (§4.2.1)", e)
        index = self.config_index.get(p, 0)
        if index <= node.commit_index:
            self.fail("Removed servers do not campaign",
                      f"S{p} {what} in term {e.term}, but its configuration at index {index} (voters "
                      f"{_servers(config.voters)}) leaves it out and is committed (commitIndex {node.commit_index}): "
                      "a removed server campaigns only while its removal is pending (§4.2.2, §4.2.3)", e)

    def _leader_gone(self, p: int) -> None:
        """``p`` is no longer leader (a role change, a crash, a removal): no transfer, no check-quorum watch."""
        self.transferring.pop(p, None)
        if self.check_quorum:
            self.leader_since.pop(p, None)
            self.heard.pop(p, None)
            self.quorum_until.pop(p, None)
            self.voters_since.pop(p, None)

    def _check_crash(self, e: KindEvent) -> None:
        self.view.update(e)
        self._leader_gone(e.node)

    def _check_server_removed(self, e: KindEvent) -> None:
        self.view.update(e)
        self._leader_gone(e.node)

    def _check_restart(self, e: KindEvent) -> None:
        self.view.update(e)
        self.config_index.pop(e.node, None)  # the node reads its configuration from its log again (a config event)

    def _count_vote(self, voter: int, term: int, candidate: int, e: Event) -> None:
        earlier = self.vote_of.setdefault((voter, term), candidate)
        if earlier != candidate:
            self.fail("One vote per term", f"S{voter} voted for S{earlier} and then for S{candidate} in term {term}", e)
        self.voters.setdefault((candidate, term), set()).add(voter)

    def _check_role(self, e: KindEvent) -> None:
        self.view.update(e)
        if self.transferring or self.check_quorum:
            self._leader_gone(e.node)
        if e.value == "candidate":
            self._may_campaign(e, "started an election")
            return
        if e.value != "leader":
            return
        self._may_campaign(e, "became leader")
        if self.check_quorum:
            now = self._local(e.node, e.time)
            self.leader_since[e.node], self.heard[e.node] = now, {}
            self.quorum_until[e.node] = now + self.window + self.heartbeat
        earlier = self.leader_of.setdefault(e.term, e.node)
        self.top_leader_term = max(self.top_leader_term, e.term)
        if earlier != e.node:
            self.fail("Election Safety", f"S{e.node} and S{earlier} were both elected leader of term {e.term}", e)
        voters = self.voters.get((e.node, e.term), set())
        if not self._is_majority(voters, e.node):
            self.fail("Leader elected by a majority",
                      f"S{e.node} became leader of term {e.term} with votes of that term from "
                      f"{_servers(voters) or 'no server'}; {self._majority_text(e.node)}", e)
        for index in range(len(self.committed) - 1, 0, -1):
            if self.committed[index][1] < e.term:
                self._require_prefix(e.node, index, e, f"new leader of term {e.term}")
                break

    def _require_prefix(self, node: int, index: int, e: Event, who: str) -> None:
        """Leader Completeness: ``node`` holds the committed log up to ``index``."""
        mine = self.prefix[node]
        if len(mine) <= index or mine[index] != self.committed[index][0]:
            self.fail(
                "Leader Completeness",
                f"S{node} ({who}) lacks committed entries up to index {index} "
                f"(committed in term {self.committed[index][1]})",
                e,
            )

    def _check_append(self, e: KindEvent) -> None:
        p, index, entry = e.node, e.index, e.entry
        node = self.view.nodes[p]
        log = node.log
        if index != len(log) + 1:
            self.fail("Leader Append-Only" if node.role == "leader" else "Log Matching",
                      f"S{p} wrote index {index} over a log of length {len(log)}", e)
        log.append(entry)  # the view (ClusterView._on_append)
        prefix = self.prefix[p]
        first = self._first_entry.get((index, entry.term))
        if first is not None and first[1] is entry and first[0] == prefix[-1]:
            prefix.append(first[2])  # the first log to hold this entry held it after the same prefix: the same hash
        else:
            self._extend_prefix(prefix, index, entry, e)
        if self.up_to_date_check and len(self.committed) > 1:
            self._up_to_date_holds_committed(e.node, e, mine=True, theirs=False)
        if self.transferring and e.node in self.transferring and node.role == "leader":
            self.fail("No proposals during a transfer",
                      f"leader S{e.node} appended {entry.command!r} at index {e.index} while handing leadership to "
                      f"S{self.transferring[e.node]}: it must stop taking proposals until the transfer ends (§3.10)", e)
        if type(entry.command) is ConfigChange and node.role == "leader":
            self._check_configuration_change(e)

    def _extend_prefix(self, prefix: list[int], index: int, entry: Entry, e: Event) -> None:
        """Log Matching: ``prefix`` (a node's prefix hashes) gains ``entry`` at ``index``; any other log with an
        entry of that index and term must have had the same entries before it."""
        prev, key = prefix[-1], (index, entry.term)
        first = self._first_entry.get(key)
        if first is None:
            self.entry_prefix[key] = mark = _chain(prev, entry)
            self._first_entry[key] = (prev, entry, mark)
            prefix.append(mark)
            return
        first_prev, first_entry, known = first
        if first_entry is entry and first_prev == prev:  # the same entry after the same prefix: the same hash
            prefix.append(known)
            return
        prefix.append(_chain(prev, entry))
        if known != prefix[-1]:
            self.fail("Log Matching", f"S{e.node} holds an entry at index {index}, term {entry.term} "
                      "whose preceding entries differ from another log's", e)

    def _check_truncate(self, e: KindEvent) -> None:
        node = self.view.nodes[e.node]
        if node.role == "leader":
            self.fail("Leader Append-Only", f"leader S{e.node} deleted its entries from index {e.index}", e)
        self.view.update(e)
        del self.prefix[e.node][e.index :]
        if node.commit_index > len(node.log):
            self.fail("commitIndex ≤ last index",
                      f"S{e.node} deleted committed entries: commitIndex {node.commit_index}, last index {len(node.log)}", e)
        if e.index < len(self.committed):
            self._committed_on_a_majority(e)
            if self.up_to_date_check:
                self._up_to_date_holds_committed(e.node, e, mine=True, theirs=True)

    def _check_commit(self, e: KindEvent) -> None:
        p, index = e.node, e.index
        node = self.view.nodes[p]
        if index < node.commit_index:
            self.fail("commitIndex ≤ last index", f"S{p}'s commitIndex fell from {node.commit_index} to {index}", e)
        if index > len(node.log):
            self.fail("commitIndex ≤ last index", f"S{p} set commitIndex {index} beyond its last index {len(node.log)}", e)
        node.commit_index = index  # the view
        mine, committed = self.prefix[p], self.committed
        known = min(index, len(committed) - 1)
        if mine[known] != committed[known][0]:
            self.fail("State Machine Safety", f"S{p} committed entries up to {index} that differ from "
                      f"entries already committed up to index {known}", e)
        if index >= len(committed):
            term = e.term
            for k in range(len(committed), index + 1):
                committed.append((mine[k], term))
            self._committed_on_a_majority(e)
        if self.top_leader_term > e.term:  # leaders of later terms must already hold it
            for other in self.view.nodes.values():
                if other.alive and other.role == "leader" and other.term > e.term:
                    self._require_prefix(other.id, e.index, e, f"leader of term {other.term}")
        if self.up_to_date_check:
            self._up_to_date_holds_committed(e.node, e, mine=False, theirs=True)

    def _committed_on_a_majority(self, e: Event) -> None:
        """QuorumLogInv: the longest committed prefix is in the logs of a majority of servers (crashed ones too)."""
        top = len(self.committed) - 1
        mark = self.committed[top][0]
        if not self.reconfigured:  # the common case, counted without building the list
            need = self.quorum
            for p in self.prefix.values():
                if len(p) > top and p[top] == mark:
                    need -= 1
                    if not need:
                        return
        holders = [i for i, p in self.prefix.items() if len(p) > top and p[top] == mark]
        if not self._is_majority(holders):
            self.fail("Committed entries on a majority",
                      f"entries up to index {top} are committed but only {_servers(holders) or 'no server'} "
                      f"store them; {self._majority_text(None)}", e)

    def _up_to_date_holds_committed(self, x: int, e: Event, *, mine: bool, theirs: bool) -> None:
        """MoreUpToDateCorrectInv for server ``x`` and every other server j.

        ``mine``: if x's log is at least as up to date as j's, it holds j's
        committed entries; ``theirs``: if j's log is at least as up to date
        as x's, j holds x's committed entries.
        """
        nodes, prefix, committed = self.view.nodes, self.prefix, self.committed
        lx = nodes[x].log
        key_x = (lx[-1].term if lx else 0, len(lx))
        px, cx = prefix[x], nodes[x].commit_index
        for j, nj in nodes.items():
            if j == x:
                continue
            lj = nj.log
            key_j = (lj[-1].term if lj else 0, len(lj))
            if mine and key_x >= key_j:
                c = nj.commit_index
                if c and (len(px) <= c or px[c] != committed[c][0]):
                    self._not_up_to_date(x, j, c, e)
            if theirs and cx and key_j >= key_x:
                pj = prefix[j]
                if len(pj) <= cx or pj[cx] != committed[cx][0]:
                    self._not_up_to_date(j, x, cx, e)

    def _not_up_to_date(self, holder: int, owner: int, index: int, e: Event) -> None:
        self.fail("Up-to-date logs hold what is committed",
                  f"S{holder}'s log is at least as up to date as S{owner}'s (§5.4.1) but lacks the entries up to "
                  f"index {index} that S{owner} knows are committed: a vote from S{owner} could elect S{holder}", e)

    def _check_machine(self, e: KindEvent) -> None:
        """What a node's state machine really applied (recorded by the simulator when it departs from the log)."""
        node = self.view.nodes[e.node]
        want = [entry.command for entry in node.log[: node.last_applied]]
        got = list(e.value)
        if got != want:
            self.fail("State machine = log", f"S{e.node}: " + _machine_difference(got, want), e)

    def _check_failure(self, e: KindEvent) -> None:
        self.view.update(e)
        raise NodeFailure(str(e.value), e, self.seed)

    def _check_server_added(self, e: KindEvent) -> None:
        self.view.update(e)
        self.prefix[e.node] = [0]
        self.reconfigured = True

    def _check_config(self, e: KindEvent) -> None:
        self.view.update(e)
        self.config_index[e.node] = e.index
        self.reconfigured = True
        if e.node in self.quorum_until:  # a check-quorum leader counts the new voters from now on (§4.1, §6.2)
            self.voters_since[e.node] = self.quorum_until[e.node] = self._local(e.node, e.time)

    def _is_majority(self, ids: Iterable[int], node: int | None = None) -> bool:
        """Whether ``ids`` are a majority of the cluster (Figure 2). Once configurations change (§4.1): a majority
        of the voters of ``node``'s latest configuration, or (``node`` None) of some server's latest one."""
        if not self.reconfigured:
            return len(set(ids)) >= self.quorum
        ids = set(ids)
        configs = [self.view.voters(node)] if node is not None else {self.view.voters(i) for i in self.view.nodes}
        return any(len(ids.intersection(v)) >= majority(len(v)) for v in configs)

    def _majority_text(self, node: int | None) -> str:
        if not self.reconfigured:
            return f"a majority is {self.quorum} servers"
        if node is not None:
            return f"a majority of S{node}'s voters {_servers(self.view.voters(node))} is needed"
        return "no server's configuration has them on a majority of its voters"

    def _check_configuration_change(self, e: KindEvent) -> None:
        """Dissertation §4.1: a leader appends a configuration only after the previous one in its log is
        committed, and it differs from that one by at most one voter -- so any majority of the old
        configuration overlaps any majority of the new one (no two disjoint majorities, no two leaders)."""
        node = self.view.nodes[e.node]
        before = next((k for k in range(e.index - 1, 0, -1) if type(node.log[k - 1].command) is ConfigChange), 0)
        if before > node.commit_index:
            self.fail("One configuration change at a time",
                      f"leader S{e.node} appended a configuration at index {e.index} while the one at index {before} "
                      f"was not committed (commitIndex {node.commit_index})", e)
        old = set(node.log[before - 1].command.voters) if before else set(range(1, self.view.config["n"] + 1))
        new = set(e.entry.command.voters)
        if len(old ^ new) > 1:
            self.fail("Single-server changes",
                      f"leader S{e.node} changed the voters from {sorted(old)} to {sorted(new)}: more than one "
                      "server at once, so a majority of each could be disjoint", e)
        commit = node.commit_index
        if not commit or node.log[commit - 1].term != e.term:
            self.fail("Configuration change after a commit of the leader's term",
                      f"leader S{e.node} of term {e.term} appended a configuration at index {e.index} before committing "
                      f"an entry of its term (commitIndex {commit}"
                      + (f", of term {node.log[commit - 1].term})" if commit else ")")
                      + ": a configuration of an earlier leader may still be uncommitted and unknown to it, and the "
                      "two changes together can elect two leaders (Ongaro, raft-dev 2015)", e)

    def _check_apply(self, e: KindEvent) -> None:
        node, index, entry, applied = self.view.nodes[e.node], e.index, e.entry, self.applied
        if index != node.last_applied + 1 or index > node.commit_index:
            self.fail("Apply contiguous", f"S{e.node} applied index {index} with lastApplied {node.last_applied} "
                      f"and commitIndex {node.commit_index}", e)
        if index < len(applied):
            if applied[index] is not entry and applied[index] != entry:
                self.fail("State Machine Safety", f"S{e.node} applied {entry} at index {index}, "
                          f"another server applied {applied[index]} there", e)
        elif index == len(applied):  # the view (ClusterView._on_apply): the first apply of an index extends it
            applied.append(entry)
        node.last_applied = index  # the view

    # ---- snapshots (dissertation ch. 5) ------------------------------------

    def _check_snapshot(self, e: KindEvent) -> None:
        """A server compacted its log into a snapshot (dissertation §5.1): of committed entries only, and faithful to them."""
        node, snapshot = self.view.nodes[e.node], e.value
        if snapshot.index > node.commit_index:
            self.fail("Snapshot index ≤ commit index",
                      f"S{e.node} took a snapshot up to index {snapshot.index} but its commitIndex is "
                      f"{node.commit_index}: a snapshot may hold only entries known to be committed (§5.1)", e)
        self._snapshot_is_committed_prefix(e.node, snapshot, node.log, e)
        self.view.update(e)

    def _check_install(self, e: KindEvent) -> None:
        """A follower replaced its log up to the snapshot's index by a leader's snapshot (Figure 5.3)."""
        node, snapshot = self.view.nodes[e.node], e.value
        if node.role == "leader":
            self.fail("Leader Append-Only", f"leader S{e.node} replaced its log up to index {snapshot.index} by a "
                      "snapshot", e)
        if snapshot.index >= len(self.committed) or snapshot.index >= len(self.applied):
            self.fail("Snapshot index ≤ commit index",
                      f"S{e.node} installed a snapshot up to index {snapshot.index}, but no server has committed and "
                      f"applied that far (committed up to {len(self.committed) - 1}, applied up to "
                      f"{len(self.applied) - 1})", e)
        self._snapshot_is_committed_prefix(e.node, snapshot, self.applied[1:], e)
        self.view.update(e)
        prefix = [self.committed[i][0] for i in range(snapshot.index + 1)]
        for index in range(snapshot.index + 1, len(node.log) + 1):  # the entries kept after the snapshot
            self._extend_prefix(prefix, index, node.log[index - 1], e)
        self.prefix[e.node] = prefix
        if self.up_to_date_check:
            self._up_to_date_holds_committed(e.node, e, mine=True, theirs=True)

    def _check_restore(self, e: KindEvent) -> None:
        """A server restarted from the snapshot on its disk (dissertation §5.1): it must hold committed entries, faithfully."""
        snapshot = e.value
        if snapshot.index >= len(self.applied):
            self.fail("Snapshot index ≤ commit index",
                      f"S{e.node} restarted from a snapshot up to index {snapshot.index}, but no server has applied "
                      f"that far (applied up to {len(self.applied) - 1})", e)
        self._snapshot_is_committed_prefix(e.node, snapshot, self.applied[1:], e)
        self.view.update(e)

    def _snapshot_is_committed_prefix(self, node: int, snapshot: Any, entries: list[Any], e: Event) -> None:
        """The snapshot's last index and term are the committed entry's, and its state machine holds exactly the
        committed commands up to that index (``entries`` holds them: a log whose prefix is committed)."""
        index, state = snapshot.index, snapshot.state
        if index and entries[index - 1] is not None and entries[index - 1].term != snapshot.term:
            self.fail("Snapshot matches the committed entry",
                      f"S{node}'s snapshot ends at index {index} with term {snapshot.term}, but the committed entry "
                      f"there has term {entries[index - 1].term}", e)
        if len(state) != index:
            self.fail("Snapshots keep the committed commands",
                      f"S{node}'s snapshot up to index {index} holds {len(state)} commands: "
                      + ("some committed entries are missing" if len(state) < index else "it holds extra commands"), e)
        for k in range(index):
            entry = entries[k]
            if entry is not None and state[k] != entry.command:
                self.fail("Snapshots keep the committed commands",
                          f"S{node}'s snapshot holds {state[k]!r} as command {k + 1}; the committed entry at index "
                          f"{k + 1} is {entry.command!r}", e)


def check_trace(trace: Trace | Iterable[Event], seed: int | None = None, *, up_to_date_check: bool = False) -> int:
    """Check a finished trace offline; raise :class:`SafetyViolation` or return the number of events checked.

    The same checks as a running :class:`~raftedu.sim.Cluster`; ``up_to_date_check`` adds ``MoreUpToDateCorrectInv``.
    """
    monitor = SafetyMonitor(seed, up_to_date_check=up_to_date_check)
    for k, e in enumerate(trace):
        if not isinstance(e, Event):
            raise TypeError(f"check_trace reads raftedu Events; item {k} is {type(e).__name__}: {e!r}")
        monitor.observe(e)
    return monitor.events
