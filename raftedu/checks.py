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
"""

from __future__ import annotations

from collections.abc import Iterable

from .raft import Entry, Event, RequestVoteReply
from .trace import ClusterView, Trace

__all__ = ["SafetyViolation", "SafetyMonitor", "check_trace", "PROPERTIES"]

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
)


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


def _chain(prev: int, entry: Entry) -> int:
    """Hash of a log prefix extended by one entry."""
    return hash((prev, entry.term, repr(entry.command)))


class SafetyMonitor:
    """Checks every safety property as events arrive; raises :class:`SafetyViolation` on the first failure."""

    def __init__(self, seed: int | None = None) -> None:
        """A fresh monitor; ``seed`` is only quoted in violation messages."""
        self.seed = seed
        self.view = ClusterView()
        self.prefix: dict[int, list[int]] = {}  # node -> prefix hash at each index (index 0 -> 0)
        self.entry_prefix: dict[tuple[int, int], int] = {}  # (index, term) -> prefix hash, ever
        self.leader_of: dict[int, int] = {}  # term -> leader
        self.vote_of: dict[tuple[int, int], int] = {}  # (voter, term) -> candidate
        self.last_term: dict[int, int] = {}  # node -> highest term ever seen
        self.committed: list[tuple[int, int]] = [(0, 0)]  # index -> (prefix hash, term it was first committed in)
        self.applied: list[Entry | None] = [None]  # index -> entry applied there
        self.events = 0
        checks = {name[len("_check_"):]: getattr(self, name) for name in dir(self) if name.startswith("_check_")}
        self._dispatch = {**self.view._handlers, **checks}  # a kind with no check only updates the view

    def fail(self, prop: str, detail: str, e: Event) -> None:
        """Raise the violation of ``prop``."""
        raise SafetyViolation(prop, detail, e, self.seed)

    def observe(self, e: Event) -> None:
        """Check one event (before and after it changes the view)."""
        self.events += 1
        self.view.time = e.time
        handle = self._dispatch.get(e.kind)
        if handle is not None:
            handle(e)

    def _check_start(self, e: Event) -> None:
        self.view.apply(e)
        self.prefix = {i: [0] for i in self.view.nodes}

    def _check_term(self, e: Event) -> None:
        if e.value <= self.last_term.get(e.node, -1):
            self.fail("Terms never decrease", f"S{e.node} went to term {e.value} after term {self.last_term[e.node]}", e)
        self.last_term[e.node] = e.value
        self.view.apply(e)

    def _check_vote(self, e: Event) -> None:
        if e.value:
            self._count_vote(e.node, e.term, e.peer, e)
        self.view.apply(e)

    def _check_send(self, e: Event) -> None:
        """A granted RequestVoteReply is a vote, whatever the sender recorded about it."""
        m = e.msg
        if isinstance(m, RequestVoteReply) and m.vote_granted:
            self._count_vote(m.src, m.term, m.dst, e)
        self.view.apply(e)

    def _count_vote(self, voter: int, term: int, candidate: int, e: Event) -> None:
        earlier = self.vote_of.setdefault((voter, term), candidate)
        if earlier != candidate:
            self.fail("One vote per term", f"S{voter} voted for S{earlier} and then for S{candidate} in term {term}", e)

    def _check_role(self, e: Event) -> None:
        self.view.apply(e)
        if e.value != "leader":
            return
        earlier = self.leader_of.setdefault(e.term, e.node)
        if earlier != e.node:
            self.fail("Election Safety", f"S{e.node} and S{earlier} were both elected leader of term {e.term}", e)
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

    def _check_append(self, e: Event) -> None:
        node = self.view.nodes[e.node]
        if e.index != len(node.log) + 1:
            self.fail("Leader Append-Only" if node.role == "leader" else "Log Matching",
                      f"S{e.node} wrote index {e.index} over a log of length {len(node.log)}", e)
        self.view.apply(e)
        prefix = self.prefix[e.node]
        prefix.append(_chain(prefix[-1], e.entry))
        key = (e.index, e.entry.term)
        known = self.entry_prefix.setdefault(key, prefix[-1])
        if known != prefix[-1]:
            self.fail("Log Matching", f"S{e.node} holds an entry at index {e.index}, term {e.entry.term} "
                      "whose preceding entries differ from another log's", e)

    def _check_truncate(self, e: Event) -> None:
        node = self.view.nodes[e.node]
        if node.role == "leader":
            self.fail("Leader Append-Only", f"leader S{e.node} deleted its entries from index {e.index}", e)
        self.view.apply(e)
        del self.prefix[e.node][e.index :]
        if node.commit_index > len(node.log):
            self.fail("commitIndex ≤ last index",
                      f"S{e.node} deleted committed entries: commitIndex {node.commit_index}, last index {len(node.log)}", e)

    def _check_commit(self, e: Event) -> None:
        node = self.view.nodes[e.node]
        if e.index < node.commit_index:
            self.fail("commitIndex ≤ last index", f"S{e.node}'s commitIndex fell from {node.commit_index} to {e.index}", e)
        if e.index > len(node.log):
            self.fail("commitIndex ≤ last index", f"S{e.node} set commitIndex {e.index} beyond its last index {len(node.log)}", e)
        self.view.apply(e)
        mine = self.prefix[e.node]
        known = min(e.index, len(self.committed) - 1)
        if mine[known] != self.committed[known][0]:
            self.fail("State Machine Safety", f"S{e.node} committed entries up to {e.index} that differ from "
                      f"entries already committed up to index {known}", e)
        for index in range(len(self.committed), e.index + 1):
            self.committed.append((mine[index], e.term))
        for other in self.view.nodes.values():  # leaders of later terms must already hold it
            if other.alive and other.role == "leader" and other.term > e.term:
                self._require_prefix(other.id, e.index, e, f"leader of term {other.term}")

    def _check_apply(self, e: Event) -> None:
        node = self.view.nodes[e.node]
        if e.index != node.last_applied + 1 or e.index > node.commit_index:
            self.fail("Apply contiguous", f"S{e.node} applied index {e.index} with lastApplied {node.last_applied} "
                      f"and commitIndex {node.commit_index}", e)
        self.view.apply(e)
        if e.index == len(self.applied):
            self.applied.append(e.entry)
        elif self.applied[e.index] != e.entry:
            self.fail("State Machine Safety", f"S{e.node} applied {e.entry} at index {e.index}, "
                      f"another server applied {self.applied[e.index]} there", e)


def check_trace(trace: Trace | Iterable[Event], seed: int | None = None) -> int:
    """Check a finished trace offline; raise :class:`SafetyViolation` or return the number of events checked."""
    monitor = SafetyMonitor(seed)
    for e in trace:
        monitor.observe(e)
    return monitor.events
