"""Known-wrong variants of exercise 10's methods (snapshots and log compaction), each with the check that must catch it.

Every mutant changes one rule of one of the solution's eight methods; ``catch`` names the check designed to notice and
``names`` a word its hint must contain (the method or rule that broke), so the student is pointed at the right place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from raftedu.raft import (LEADER, AppendEntries, AppendEntriesReply, InstallSnapshot, InstallSnapshotReply, Log,
                          RaftNode, Snapshot)


@dataclass(frozen=True)
class Mutant10:
    """A wrong ``function`` for exercise 10 that the check ``catch`` must fail with a hint naming ``names``."""

    name: str
    function: str
    fn: Callable[..., Any]
    catch: str
    names: str
    status: str = "fail"
    """``error`` for a mutant whose own code raises on the check's case (the hint then quotes the exception)."""


# ---- entry_at --------------------------------------------------------------------


def entry_ignores_offset(self: RaftNode, index: int) -> Any:
    return self.state.log[index - 1]


def entry_off_by_one(self: RaftNode, index: int) -> Any:
    return self.state.log[index - self.state.offset]


# ---- compact ---------------------------------------------------------------------


def _compact(self: RaftNode, upto: int, *, term: bool = True, extra: int = 0) -> None:
    state = self.state
    if term:
        state.offset_term = self.term_at(upto)
    del state.log[: upto - state.offset + extra]
    state.offset = upto


def compact_forgets_offset_term(self: RaftNode, upto: int) -> None:
    _compact(self, upto, term=False)


def compact_one_too_many(self: RaftNode, upto: int) -> None:
    _compact(self, upto, extra=1)


# ---- take_snapshot ---------------------------------------------------------------


def _take(self: RaftNode, *, at: str = "applied", tail: bool = True, floor: bool = True) -> None:
    index = {"applied": self.last_applied, "commit": self.commit_index, "log": self.last_log_index}[at]
    config_index, config = self.config_at(index)
    state = tuple(self.applied) if at == "applied" else tuple(self.entry_at(i).command if i > self.state.offset
                                                             else self.state.snapshot.state[i - 1]
                                                             for i in range(1, index + 1))
    snapshot = Snapshot(index, self.term_at(index), state, config, config_index)
    upto = index - self.snapshot_tail if tail else index
    self.compact(max(self.state.offset, upto) if floor else upto)
    self.state.snapshot = snapshot
    self.base_index, self.base_config = config_index, config


def snapshot_at_commit_index(self: RaftNode) -> None:
    _take(self, at="commit")


def snapshot_whole_log(self: RaftNode) -> None:  # uncommitted entries in a snapshot: a safety property breaks
    _take(self, at="log")


def snapshot_of_the_applied_list(self: RaftNode) -> None:  # the same as snapshot_state() on a plain RaftNode only
    index = self.last_applied
    config_index, config = self.config_at(index)
    snapshot = Snapshot(index, self.term_at(index), tuple(self.applied), config, config_index)
    self.compact(max(self.state.offset, index - self.snapshot_tail))
    self.state.snapshot = snapshot
    self.base_index, self.base_config = config_index, config


def snapshot_ignores_tail(self: RaftNode) -> None:
    _take(self, tail=False)


def snapshot_uncompacts(self: RaftNode) -> None:
    _take(self, floor=False)


# ---- send_append_entries ---------------------------------------------------------


def _send(self: RaftNode, peer: int, *, snapshots: bool = True, advance: bool = True, at_offset: bool = False,
          sent_at: bool = True, match_on_send: bool = False) -> None:
    prev = self.next_index[peer] - 1
    if sent_at:
        self.sent_at[peer] = self.now
    off = self.state.offset
    if snapshots and (prev <= off if at_offset else prev < off) and self.state.snapshot is not None:
        snapshot = self.state.snapshot
        self.send(InstallSnapshot(self.current_term, self.id, peer, snapshot))
        if advance:
            match = snapshot.index if match_on_send else self.match_index[peer]
            self.set_progress(peer, match, snapshot.index + 1, "sent")
        return
    entries = tuple(self.state.log[max(prev - off, 0):])
    if entries:
        self.in_flight[peer] = prev + len(entries)
    self.send(AppendEntries(self.current_term, self.id, peer, prev, self.term_at(prev) if prev >= off else 0,
                            entries, self.commit_index))


def forgets_sent_at(self: RaftNode, peer: int) -> None:  # the heartbeat bookkeeping Figure 2's leader reads
    _send(self, peer, sent_at=False)


def never_sends_snapshot(self: RaftNode, peer: int) -> None:
    _send(self, peer, snapshots=False)


def snapshot_without_next_index(self: RaftNode, peer: int) -> None:
    _send(self, peer, advance=False)


def snapshot_at_the_offset_too(self: RaftNode, peer: int) -> None:
    _send(self, peer, at_offset=True)


def match_index_on_send(self: RaftNode, peer: int) -> None:  # the follower has not answered: the snapshot may be lost
    _send(self, peer, match_on_send=True)


# ---- append_below_snapshot -------------------------------------------------------


def below_refuses(self: RaftNode, m: AppendEntries) -> None:
    self.send(AppendEntriesReply(self.current_term, self.id, m.src, False, 0, self.snapshot_index + 1))


def below_says_snapshot_index(self: RaftNode, m: AppendEntries) -> None:
    self.send(AppendEntriesReply(self.current_term, self.id, m.src, True, self.snapshot_index))


# ---- handle_install_snapshot -------------------------------------------------------


def _install(self: RaftNode, m: InstallSnapshot, *, old_terms: bool = False, stale: bool = False, keep: str = "match",
             load: bool = True, timer: bool = True) -> None:
    if m.term < self.current_term and not old_terms:
        self.send(InstallSnapshotReply(self.current_term, self.id, m.src, 0))
        return
    self.become_follower(m.src)
    if timer:
        self.reset_election_timer()
    snapshot = m.snapshot
    if snapshot.index <= self.commit_index and not stale:
        self.send(InstallSnapshotReply(self.current_term, self.id, m.src, self.commit_index))
        return
    index, off, log = snapshot.index, self.state.offset, self.state.log
    has = index <= self.last_log_index and (keep == "any" or self.term_at(index) == snapshot.term)
    kept = Log(log[index - off:]) if has and keep != "never" else Log()
    self.state.snapshot = snapshot
    self.state.log, self.state.offset, self.state.offset_term = kept, index, snapshot.term
    if load:
        self.load_snapshot(snapshot)
    else:
        self.commit_index = max(self.commit_index, index)
    self.send(InstallSnapshotReply(self.current_term, self.id, m.src, index))


def install_older_term(self: RaftNode, m: InstallSnapshot) -> None:
    _install(self, m, old_terms=True)


def install_stale_snapshot(self: RaftNode, m: InstallSnapshot) -> None:
    _install(self, m, stale=True)


def install_never_keeps(self: RaftNode, m: InstallSnapshot) -> None:
    _install(self, m, keep="never")


def install_keeps_conflicting(self: RaftNode, m: InstallSnapshot) -> None:
    _install(self, m, keep="any")


def install_keeps_state_machine(self: RaftNode, m: InstallSnapshot) -> None:
    _install(self, m, load=False)


def install_no_timer_reset(self: RaftNode, m: InstallSnapshot) -> None:
    _install(self, m, timer=False)


# ---- load_snapshot -----------------------------------------------------------------


def load_forgets_commit(self: RaftNode, snapshot: Snapshot) -> None:
    self.last_applied = snapshot.index
    self.base_index, self.base_config = snapshot.config_index, snapshot.config
    self.restore_state(snapshot.state)


def load_keeps_state_machine(self: RaftNode, snapshot: Snapshot) -> None:
    self.commit_index = max(self.commit_index, snapshot.index)
    self.last_applied = snapshot.index
    self.base_index, self.base_config = snapshot.config_index, snapshot.config


def load_hands_back_commands_only(self: RaftNode, snapshot: Snapshot) -> None:
    """Sets the list of applied commands itself instead of calling restore_state: the same as the reference on a plain
    RaftNode (whose state machine is that list), but a key-value server restarts with an empty store and no sessions."""
    self.commit_index = max(self.commit_index, snapshot.index)
    self.last_applied = snapshot.index
    self.base_index, self.base_config = snapshot.config_index, snapshot.config
    self.applied = list(snapshot.state)


def load_forgets_the_configuration(self: RaftNode, snapshot: Snapshot) -> None:
    """Keeps the configuration the log started from: wrong once the snapshot's configuration differs (Figure 5.3
    step 8 loads the snapshot's cluster configuration)."""
    self.commit_index = max(self.commit_index, snapshot.index)
    self.last_applied = snapshot.index
    self.restore_state(snapshot.state)


def load_hands_over_a_tuple(self: RaftNode, snapshot: Snapshot) -> None:
    """Hands restore_state a tuple of the snapshot's state: a plain RaftNode does not mind, a key-value server's
    snapshot (commands with the store and its sessions) loses its store."""
    self.commit_index = max(self.commit_index, snapshot.index)
    self.last_applied = snapshot.index
    self.base_index, self.base_config = snapshot.config_index, snapshot.config
    self.restore_state(tuple(snapshot.state))


# ---- handle_install_snapshot_reply ---------------------------------------------------


def _reply(self: RaftNode, m: InstallSnapshotReply, *, terms: bool = True, nxt: bool = True,
           commit: bool = True) -> None:
    p = m.src
    if self.role != LEADER or (terms and m.term != self.current_term) or not m.match_index or p not in self.match_index:
        return
    match = max(self.match_index[p], m.match_index)
    self.set_progress(p, match, max(self.next_index[p], match + 1) if nxt else self.next_index[p], "installed")
    if commit:
        self.advance_commit_index()


def reply_ignored(self: RaftNode, m: InstallSnapshotReply) -> None:
    return None


def reply_any_term(self: RaftNode, m: InstallSnapshotReply) -> None:
    _reply(self, m, terms=False)


def reply_keeps_next_index(self: RaftNode, m: InstallSnapshotReply) -> None:
    _reply(self, m, nxt=False)


def reply_never_commits(self: RaftNode, m: InstallSnapshotReply) -> None:
    _reply(self, m, commit=False)


M = Mutant10
MUTANTS10 = [
    M("entry_at ignores the offset", "entry_at", entry_ignores_offset, "compaction_rules", "entry_at", "error"),
    M("entry_at off by one", "entry_at", entry_off_by_one, "compaction_rules", "rule: entry_at, index translation",
      "error"),
    M("compact forgets the offset term", "compact", compact_forgets_offset_term, "compaction_rules", "compact"),
    M("compact deletes one entry too many", "compact", compact_one_too_many, "compaction_rules", "compact"),
    M("compact forgets the offset term (the catch-up run)", "compact", compact_forgets_offset_term,
      "catch_up_by_snapshot", "compact keeps it in state.offset_term"),
    M("snapshot at commitIndex", "take_snapshot", snapshot_at_commit_index, "compaction_rules", "lastApplied"),
    M("snapshot of the whole log", "take_snapshot", snapshot_whole_log, "restart_from_snapshot", "take_snapshot"),
    M("snapshot ignores the tail", "take_snapshot", snapshot_ignores_tail, "compaction_rules", "snapshot_tail"),
    M("snapshot un-compacts", "take_snapshot", snapshot_uncompacts, "compaction_rules", "with a tail of 3", "error"),
    M("never sends a snapshot", "send_append_entries", never_sends_snapshot, "install_snapshot_rules",
      "send_append_entries"),
    M("never sends a snapshot (the catch-up run)", "send_append_entries", never_sends_snapshot, "catch_up_by_snapshot",
      "send_append_entries"),
    M("snapshot sent at the offset too (the catch-up run)", "send_append_entries", snapshot_at_the_offset_too,
      "catch_up_by_snapshot", "send_append_entries"),
    M("install keeps the state machine (the catch-up run)", "handle_install_snapshot", install_keeps_state_machine,
      "catch_up_by_snapshot", "load_snapshot"),
    M("compact deletes one entry too many (faults)", "compact", compact_one_too_many, "snapshots_under_faults",
      "compact"),
    M("sent_at not kept", "send_append_entries", forgets_sent_at, "install_snapshot_rules",
      "raised in raftedu's send_heartbeats", "error"),
    M("snapshot sent, nextIndex kept", "send_append_entries", snapshot_without_next_index, "install_snapshot_rules",
      "send_append_entries"),
    M("snapshot sent at the offset too", "send_append_entries", snapshot_at_the_offset_too, "install_snapshot_rules",
      "send_append_entries"),
    M("matchIndex set when the snapshot is sent", "send_append_entries", match_index_on_send,
      "install_snapshot_rules", "matchIndex moves only when the follower answers"),
    M("below the snapshot: refused", "append_below_snapshot", below_refuses, "compaction_rules",
      "append_below_snapshot"),
    M("below the snapshot: snapshot index", "append_below_snapshot", below_says_snapshot_index, "compaction_rules",
      "append_below_snapshot"),
    M("installs an older term's snapshot", "handle_install_snapshot", install_older_term, "install_snapshot_rules",
      "handle_install_snapshot"),
    M("installs a stale snapshot", "handle_install_snapshot", install_stale_snapshot, "install_snapshot_rules",
      "handle_install_snapshot"),
    M("never keeps the suffix", "handle_install_snapshot", install_never_keeps, "install_snapshot_rules",
      "6. if the log has"),
    M("keeps a conflicting suffix", "handle_install_snapshot", install_keeps_conflicting, "install_snapshot_rules",
      "7. else discard"),
    M("install keeps the state machine", "handle_install_snapshot", install_keeps_state_machine,
      "install_snapshot_rules", "load_snapshot"),
    M("install without a timer reset", "handle_install_snapshot", install_no_timer_reset, "install_snapshot_rules",
      "election timer"),
    M("restart forgets commitIndex", "load_snapshot", load_forgets_commit, "compaction_rules", "load_snapshot"),
    M("restart keeps an empty state machine", "load_snapshot", load_keeps_state_machine, "restart_from_snapshot",
      "restore_state"),
    M("snapshot of the applied list, not snapshot_state()", "take_snapshot", snapshot_of_the_applied_list,
      "sessions_survive_snapshots", "holds a tuple: take_snapshot must keep snapshot_state() in the Snapshot", "error"),
    M("install or restart keeps the old configuration", "load_snapshot", load_forgets_the_configuration,
      "install_snapshot_rules", "base_config"),
    M("restart hands restore_state a tuple", "load_snapshot", load_hands_over_a_tuple, "sessions_survive_snapshots",
      "holds a StoreSnapshot: load_snapshot must hand snapshot.state to restore_state() unchanged", "error"),
    M("restart hands the store only the commands", "load_snapshot", load_hands_back_commands_only,
      "sessions_survive_snapshots", "§6.3"),
    M("reply ignored", "handle_install_snapshot_reply", reply_ignored, "install_snapshot_rules",
      "handle_install_snapshot_reply"),
    M("reply of any term", "handle_install_snapshot_reply", reply_any_term, "install_snapshot_rules",
      "handle_install_snapshot_reply"),
    M("reply keeps nextIndex", "handle_install_snapshot_reply", reply_keeps_next_index, "install_snapshot_rules",
      "handle_install_snapshot_reply"),
    M("reply never commits", "handle_install_snapshot_reply", reply_never_commits, "install_snapshot_rules",
      "handle_install_snapshot_reply"),
]
"""Exercise 10's mutants, at least two per method."""

