"""What a picture needs beyond :class:`~raftedu.trace.ClusterView`, derived from the trace alone.

:class:`SceneView` replays a trace like ``ClusterView`` (which already
keeps each leader's ``nextIndex``/``matchIndex`` per follower, from the
leader's ``progress`` events) and also keeps the messages dropped recently,
where they were lost, and why.

The geometry helpers place servers on a ring and messages along their links.
Everything here is a pure function of trace events: no simulator, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..raft import Event, Message
from ..trace import ClusterView, InFlight, Trace

__all__ = [
    "DROP_LINGER_MS",
    "REFUSAL_LINGER_MS",
    "Drop",
    "SceneView",
    "as_events",
    "scene_at",
    "replay",
    "ring_xy",
    "message_xy",
    "fan_out",
    "in_flight_fraction",
]

DROP_LINGER_MS = 30
"""How long (virtual ms) a dropped message stays marked with a ✕."""

REFUSAL_LINGER_MS = 300
"""How long (virtual ms) the status line keeps saying that a client request was refused (no leader to take it)."""

Source = Trace | ClusterView | Iterable[Event]


@dataclass(frozen=True)
class Drop:
    """A message the network or a down receiver lost: where on its link (``fraction``) and why."""

    time: int
    msg: Message
    msg_id: int
    reason: str
    fraction: float


class SceneView(ClusterView):
    """A :class:`ClusterView` that also tracks recent drops and the network settings (see module docs).

    ``network`` holds the settings of :class:`~raftedu.sim.Network` in force
    (``delay``, ``drop_rate``, ...): those of the run's ``start`` event, then
    each ``set_network`` change.
    """

    def __init__(self) -> None:
        """An empty scene, waiting for the run's ``start`` event."""
        super().__init__()
        self.drops: list[Drop] = []
        self.events_seen = 0
        self.network: dict[str, object] = {}
        self.refusal: tuple[int, str] | None = None
        """The last client request refused by the cluster itself (time, words), e.g. when there is no leader: it
        changes no server, so only the status line can show it (:meth:`recent_refusal`)."""
        self._request = ""

    def apply(self, e: Event) -> None:
        """Update the scene with one event (in trace order)."""
        self.events_seen += 1
        if e.kind == "drop":
            self._note_drop(e)
        elif e.kind == "set_network":
            self.network.update(dict(e.value))
        elif e.kind == "client_request":
            self._request = str(e.value)
        elif e.kind == "client_reply" and e.value == "rejected":
            self.refusal = (e.time, f"client request {self._request!r} refused: {e.text or 'no leader'}")
        super().apply(e)
        if e.kind == "start":
            self.network = dict(self.config.get("network", {}))
        cutoff = e.time - DROP_LINGER_MS
        if self.drops and self.drops[0].time < cutoff:
            self.drops = [d for d in self.drops if d.time >= cutoff]

    def _note_drop(self, e: Event) -> None:
        flight = self.in_flight.get(e.msg_id)
        if flight is None or e.time <= flight.sent:
            fraction = 0.5  # never left: lost on the wire / stopped at the cut
        else:
            fraction = min(0.9, in_flight_fraction(flight, e.time))
        self.drops.append(Drop(e.time, e.msg, e.msg_id, str(e.value), fraction))

    def leader(self) -> int | None:
        """The live leader of the highest term, or None."""
        leaders = self.leaders()
        return max(leaders, key=lambda i: self.nodes[i].term) if leaders else None

    def recent_refusal(self, time: int) -> str:
        """The words of a client request refused in the last :data:`REFUSAL_LINGER_MS` before ``time``, or ''."""
        if self.refusal is None or not 0 <= time - self.refusal[0] <= REFUSAL_LINGER_MS:
            return ""
        return self.refusal[1]

    def recent_drops(self, time: int) -> list[Drop]:
        """Drops that happened in the last :data:`DROP_LINGER_MS` before ``time``."""
        return [d for d in self.drops if time - DROP_LINGER_MS <= d.time <= time]


def as_events(source: Source) -> list[Event]:
    """The events of a Trace, of anything that has one (a Cluster: its ``.trace``) or of an iterable of events,
    as a list; it must begin with the run's ``start`` event."""
    if isinstance(source, ClusterView):
        raise TypeError("this picture needs the events (a Trace), not a ClusterView snapshot")
    if isinstance(getattr(source, "trace", None), Trace):
        source = source.trace  # type: ignore[union-attr]
    if not isinstance(source, (Trace, Iterable)):
        raise TypeError(f"pictures are drawn from a cluster, its trace (cluster.trace) or a list of its events; "
                        f"got {type(source).__name__}")
    events = source.events if isinstance(source, Trace) else list(source)
    if not events or events[0].kind != "start":
        raise ValueError("pictures need a whole trace that begins with its 'start' event (e.g. cluster.trace)")
    return events


def scene_at(source: Source, time: int | None = None) -> ClusterView:
    """The scene at ``time`` (end of trace when None); a ClusterView passed in is returned as it is."""
    if isinstance(source, ClusterView):
        return source
    return SceneView.at(as_events(source), time)


def replay(events: list[Event], times: Iterable[int]) -> Iterator[tuple[int, SceneView]]:
    """Yield ``(t, scene)`` for each ``t`` in increasing ``times``; the one scene object is updated in place."""
    scene = SceneView()
    k = 0
    for t in times:
        while k < len(events) and events[k].time <= t:
            scene.apply(events[k])
            k += 1
        scene.time = t
        yield t, scene


def ring_xy(i: int, n: int) -> tuple[float, float]:
    """Where server ``i`` of ``n`` sits: on the unit circle, S1 at the top, clockwise."""
    angle = math.pi / 2 - 2 * math.pi * (i - 1) / n
    return round(math.cos(angle), 4), round(math.sin(angle), 4)


def in_flight_fraction(flight: InFlight, time: int) -> float:
    """How far along its link a message is at ``time``: 0 at sending, 1 at delivery."""
    if flight.due <= flight.sent:
        return 1.0
    return max(0.0, min(1.0, (time - flight.sent) / (flight.due - flight.sent)))


def message_xy(src: int, dst: int, n: int, fraction: float, lane: float = 0.06, edge: float = 0.12) -> tuple[float, float]:
    """The point ``fraction`` of the way from ``src`` to ``dst``, shifted ``lane`` to the right of travel.

    Messages travel between the two servers' edges: ``edge`` (ring units)
    out from each centre, so a message just sent or about to arrive is never
    drawn on top of a server. The shift keeps a request and its reply
    (opposite directions) on separate lanes.
    """
    (x0, y0), (x1, y1) = ring_xy(src, n), ring_xy(dst, n)
    dx, dy = x1 - x0, y1 - y0
    length = math.hypot(dx, dy) or 1.0
    margin = min(0.45, edge / length)
    f = margin + (1 - 2 * margin) * fraction
    return round(x0 + f * dx + lane * dy / length, 3), round(y0 + f * dy - lane * dx / length, 3)


def fan_out(items: list[tuple[int, int, float]], gap: float = 0.12, lane: float = 0.06,
            step: float = 0.08) -> list[float]:
    """A lane for each ``(src, dst, fraction)`` so that messages on one link never sit on top of each other.

    Messages going the same way on the same link whose ``fraction`` differs
    by less than ``gap`` are moved one ``step`` further out, side by side.
    Returns the lanes in the order of ``items``.
    """
    lanes = [lane] * len(items)
    by_link: dict[tuple[int, int], list[int]] = {}
    for k, (src, dst, _f) in enumerate(items):
        by_link.setdefault((src, dst), []).append(k)
    for members in by_link.values():
        members.sort(key=lambda k: items[k][2])
        placed: list[tuple[float, float]] = []  # (fraction, lane) already given on this link
        for k in members:
            f = items[k][2]
            taken = {ln for pf, ln in placed if abs(pf - f) < gap}
            while lanes[k] in taken:
                lanes[k] = round(lanes[k] + step, 3)
            placed.append((f, lanes[k]))
    return lanes
