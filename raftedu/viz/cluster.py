"""The cluster picture: servers on a ring, messages in flight, logs -- one instant, or animated over a window.

:class:`ClusterPicture` fixes the figure's skeleton for ``n`` servers (which
traces exist, in which order); :meth:`ClusterPicture.dynamic` computes the
parts that change with time from a scene. The static figure, every animation
frame and the live widget all use the same two methods, so they always agree.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from ..trace import ClusterView
from .logs import LOG_WINDOW, UNCOMMITTED_OPACITY, log_axes, log_traces, log_window
from .scene import Source, as_events, in_flight_fraction, message_xy, replay, ring_xy, scene_at
from .style import (
    CUT_COLOR,
    DROP_COLOR,
    MESSAGE_STYLES,
    REFUSED_COLOR,
    ROLE_COLORS,
    ROLE_LABELS,
    describe_message,
    message_kind,
    message_ok,
    node_name,
    term_color,
)

__all__ = ["MAX_FRAMES", "ClusterPicture", "cluster_figure", "animate", "status_line"]

MAX_FRAMES = 1000
"""The most frames :func:`animate` builds (about 1 KB each); longer windows are cut short, with a note."""

_RING = dict(xaxis="x", yaxis="y")


def _template() -> dict[str, Any]:
    """plotly's white template as plain data (a template name is only resolved when figures are validated)."""
    return pio.templates["plotly_white"].to_plotly_json()


def status_line(view: ClusterView) -> str:
    """Two lines above the ring: time, leader, highest term; then the network's state."""
    leaders = view.leaders()
    leader = max(leaders, key=lambda i: view.nodes[i].term) if leaders else None
    term = max((n.term for n in view.nodes.values()), default=0)
    net = "all links up"
    if view.groups:
        net = "partition " + " | ".join("{" + ",".join(node_name(i) for i in g) + "}" for g in view.groups)
    if view.cuts:
        net += f", {len(view.cuts)} one-way link(s) cut"
    who = f"leader {node_name(leader)}" if leader else "no leader"
    return f"t = {view.time} ms · {who} · highest term {term}<br>{net}"


def _keep_in_legend(*columns: list[Any]) -> tuple[list[Any], ...]:
    """An empty trace would vanish from the legend: give it one invisible (None) point instead."""
    return columns if columns[0] else tuple([None] for _ in columns)


class ClusterPicture:
    """The layout and trace order of the cluster picture for ``n`` servers.

    Trace order: links, blocked links, election timers, servers, server
    labels, one trace per message kind, drops, the status line, four legend
    entries for roles, one for uncommitted cells, then the log panel (cells,
    matchIndex, nextIndex). :attr:`dynamic_indices` lists the ones that change.
    """

    def __init__(self, n: int, *, election_timeout_high: int = 300, log_first: int = 1, log_width: int = LOG_WINDOW) -> None:
        """Prepare the picture for servers 1..n; timer bars are scaled to ``election_timeout_high`` ms."""
        self.n = n
        self.ids = list(range(1, n + 1))
        self.xy = {i: ring_xy(i, n) for i in self.ids}
        self.timeout_high = election_timeout_high
        self.log_first = log_first
        self.log_width = log_width
        self.node_size = 46 if n <= 5 else max(26, 46 - 4 * (n - 5))
        """Marker size of a server in px: smaller rings of more servers still fit."""
        self.static_before = 1  # links
        ring_dynamic = 4 + len(MESSAGE_STYLES) + 2  # blocked, timers, servers, labels, messages, drops, status
        self.dynamic_indices = list(range(1, 1 + ring_dynamic))
        first_log = self.dynamic_indices[-1] + 1 + len(ROLE_COLORS) + 1
        self.dynamic_indices += [first_log, first_log + 1, first_log + 2]

    @classmethod
    def for_view(cls, view: ClusterView) -> "ClusterPicture":
        """The picture skeleton that suits the cluster ``view`` replays (size, timeout, log window)."""
        timing = view.config.get("timing", {})
        high = timing.get("election_timeout", (150, 300))[1]
        return cls(len(view.nodes), election_timeout_high=high, log_first=log_window(view))

    # ---- the parts that change ------------------------------------------------

    def dynamic(self, view: ClusterView, time: int | None = None) -> list[dict[str, Any]]:
        """Trace dicts for every index in :attr:`dynamic_indices`, showing ``view`` at ``time``."""
        t = view.time if time is None else time
        return [
            self._blocked(view),
            self._timers(view, t),
            self._servers(view),
            self._labels(view, t),
            *self._messages(view, t),
            self._drops(view, t),
            dict(type="scatter", x=[-1.45], y=[1.45], mode="text", text=[status_line(view)], hoverinfo="skip",
                 textposition="middle right", cliponaxis=False, marker=dict(opacity=0),
                 textfont=dict(size=13), showlegend=False, name="status", uid="status", **_RING),
            *log_traces(view, self.log_first, self.log_width, xaxis="x2", yaxis="y2"),
        ]

    def _blocked(self, view: ClusterView) -> dict[str, Any]:
        xs: list[float | None] = []
        ys: list[float | None] = []
        blocked = set(view.cuts)
        for g in view.groups:
            blocked |= {(a, b) for a in g for b in self.ids if b not in g}
        for a, b in sorted(blocked):
            (x0, y0), (x1, y1) = self.xy[a], self.xy[b]
            if (b, a) in blocked:
                if a > b:
                    continue  # drawn once, whole, from the other end
                xs += [x0, x1, None]
                ys += [y0, y1, None]
            else:  # one way only: the half at the sending end
                xs += [x0, round((x0 + x1) / 2, 4), None]
                ys += [y0, round((y0 + y1) / 2, 4), None]
        xs, ys = _keep_in_legend(xs, ys)
        return dict(type="scatter", x=xs, y=ys, mode="lines", hoverinfo="skip", name="blocked link (half: one way)",
                    line=dict(color=CUT_COLOR, width=3, dash="dash"), **_RING)

    def _timers(self, view: ClusterView, t: int) -> dict[str, Any]:
        # One bar per server, always (zero length when it runs no election timer): y never changes, frames omit it.
        xs: list[float | None] = []
        ys: list[float | None] = []
        for i in self.ids:
            node = view.nodes[i]
            running = node.alive and node.role != "leader" and node.deadline is not None
            left = max(0, node.deadline - t) / self.timeout_high if running else 0.0
            x, y = self.xy[i]
            xs += [round(x - 0.2, 3), round(x - 0.2 + 0.4 * min(1.0, left), 3), None]
            bar = round(y - (0.42 if self.n <= 5 else 0.32), 3)
            ys += [bar, bar, None]
        return dict(type="scatter", x=xs, y=ys, mode="lines", hoverinfo="skip", name="election timer (time left)",
                    line=dict(color=ROLE_COLORS["candidate"], width=5), **_RING)

    def _servers(self, view: ClusterView) -> dict[str, Any]:
        roles = [view.nodes[i].shown_role for i in self.ids]
        hover = []
        for i in self.ids:
            node = view.nodes[i]
            voted = f"S{node.voted_for}" if node.voted_for else "nobody"
            hover.append(f"{node_name(i)} {node.shown_role}, term {node.term}, voted {voted}, "
                         f"log {len(node.log)}, commit {node.commit_index}")
        return dict(type="scatter", x=[self.xy[i][0] for i in self.ids], y=[self.xy[i][1] for i in self.ids],
                    mode="markers+text", text=[node_name(i) for i in self.ids], hovertext=hover, hoverinfo="text",
                    textfont=dict(size=15 if self.n <= 5 else 12, color="white"), showlegend=False, name="servers",
                    uid="servers", marker=dict(size=self.node_size, color=[ROLE_COLORS[r] for r in roles],
                                line=dict(width=2, color="rgb(40, 40, 40)")), **_RING)

    def _labels(self, view: ClusterView, t: int) -> dict[str, Any]:
        text = []
        for i in self.ids:
            node = view.nodes[i]
            if not node.alive:
                extra = "down"
            elif node.role == "leader":
                extra = "leading"
            elif node.deadline is None:
                extra = ""
            else:
                extra = f"timer {max(0, node.deadline - t)} ms"
            text.append(f"term {node.term} · {extra}")
        below = 0.3 if self.n <= 5 else 0.22
        return dict(type="scatter", x=[self.xy[i][0] for i in self.ids], y=[round(self.xy[i][1] - below, 3) for i in self.ids],
                    mode="text", text=text, hoverinfo="skip", showlegend=False, name="labels",
                    textfont=dict(size=11 if self.n <= 5 else 9),
                    **_RING)

    def _messages(self, view: ClusterView, t: int) -> list[dict[str, Any]]:
        groups: dict[str, tuple[list[float], list[float], list[str], list[str]]] = {k: ([], [], [], []) for k in MESSAGE_STYLES}
        for flight in view.in_flight.values():
            m = flight.msg
            kind = message_kind(m)
            x, y = message_xy(m.src, m.dst, self.n, in_flight_fraction(flight, t))
            xs, ys, colors, hover = groups[kind]
            xs.append(x)
            ys.append(y)
            if kind.endswith("Reply"):  # only replies vary in colour (red = refused / rejected)
                colors.append(MESSAGE_STYLES[kind][2] if message_ok(m) else REFUSED_COLOR)
            hover.append(f"{describe_message(m)}<br>sent {flight.sent} ms, arrives {flight.due} ms")
        out = []
        for kind, (name, symbol, color, size) in MESSAGE_STYLES.items():
            xs, ys, colors, hover = _keep_in_legend(*groups[kind])
            colors = [color if c is None else c for c in colors]
            out.append(dict(type="scatter", x=xs, y=ys, mode="markers", name=name, hovertext=hover, hoverinfo="text",
                            marker=dict(symbol=symbol, size=size, color=colors if kind.endswith("Reply") else color,
                                        line=dict(width=1, color="rgb(60, 60, 60)")),
                            **_RING))
        return out

    def _drops(self, view: ClusterView, t: int) -> dict[str, Any]:
        xs, ys, hover = [], [], []
        for d in getattr(view, "recent_drops", lambda _t: [])(t):
            x, y = message_xy(d.msg.src, d.msg.dst, self.n, d.fraction)
            xs.append(x)
            ys.append(y)
            hover.append(f"dropped at {d.time} ms ({d.reason}): {describe_message(d.msg)}")
        xs, ys, hover = _keep_in_legend(xs, ys, hover)
        return dict(type="scatter", x=xs, y=ys, mode="markers", name="dropped message", hovertext=hover,
                    hoverinfo="text", marker=dict(symbol="x", size=14, color=DROP_COLOR), **_RING)

    # ---- the whole figure -------------------------------------------------------

    def figure(self, view: ClusterView, time: int | None = None, *, title: str | None = None, validate: bool = True,
               legend: bool = True) -> go.Figure:
        """The whole figure for ``view`` at ``time``; ``validate=False`` skips plotly's checks (faster).

        ``legend=False`` leaves plotly's legend out (the caller explains the
        symbols elsewhere): a smaller figure that the browser redraws faster.
        """
        xs: list[float | None] = []
        ys: list[float | None] = []
        for a in self.ids:
            for b in self.ids:
                if a < b:
                    xs += [self.xy[a][0], self.xy[b][0], None]
                    ys += [self.xy[a][1], self.xy[b][1], None]
        links = dict(type="scatter", x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False, name="links",
                     line=dict(color="rgb(215, 215, 215)", width=1.5), **_RING)
        dyn = self.dynamic(view, time)
        ring, logs = dyn[: -3], dyn[-3:]
        keys = [dict(type="scatter", x=[None], y=[None], mode="markers", name=ROLE_LABELS[role],
                       marker=dict(size=14, color=color, line=dict(width=1, color="rgb(40, 40, 40)")), **_RING)
                  for role, color in ROLE_COLORS.items()]
        keys.append(dict(type="scatter", x=[None], y=[None], mode="markers", name="faint log cell: not committed yet",
                           marker=dict(symbol="square", size=14, color=term_color(1), opacity=UNCOMMITTED_OPACITY), **_RING))
        data = [links, *ring, *keys, *logs]
        xaxis2, yaxis2 = log_axes(self.n, self.log_first, self.log_width)
        hidden = dict(visible=False, fixedrange=True)
        n_cfg = len(view.nodes)
        layout = dict(
            title=dict(text=title or f"A Raft cluster of {n_cfg} servers", x=0.01, font=dict(size=16)),
            template=_template(), height=520 if legend else 420, margin=dict(l=20, r=20, t=50, b=10),
            xaxis=dict(domain=[0, 0.52], range=[-1.45, 1.45], **hidden),
            yaxis=dict(domain=[0.2 if legend else 0, 1], range=[-1.6, 1.55], scaleanchor="x", **hidden),
            xaxis2=dict(domain=[0.6, 1], anchor="y2", **xaxis2),
            yaxis2=dict(domain=[0.3 if legend else 0.12, 0.95], anchor="x2", **yaxis2),
            showlegend=legend,
            legend=dict(orientation="h", x=0, y=0.17, yanchor="top", font=dict(size=11), traceorder="normal"),
            annotations=[dict(text="Logs (cell colour and number = term)", xref="paper", yref="paper",
                              x=0.6, y=1.0, showarrow=False, xanchor="left", font=dict(size=13))],
            hovermode="closest",
        )
        return go.Figure(dict(data=data, layout=layout), _validate=validate)


_FRAME_KEYS = ("x", "y", "text", "hovertext")
_CONSTANT = {"servers": ("x", "y", "text"), "labels": ("x", "y"), "status": ("x", "y"), "log cells": ("hovertext",),
             "election timer (time left)": ("y",)}


def _slim(trace: dict[str, Any], details: bool) -> dict[str, Any]:
    """Only what can change between frames (positions, texts, colours); frames are merged into the traces."""
    constant = _CONSTANT.get(trace.get("name", ""), ())
    out = {k: trace[k] for k in _FRAME_KEYS if k in trace and k not in constant}
    if not details:
        out.pop("hovertext", None)
    marker = trace.get("marker", {})
    kept = {k: marker[k] for k in ("color", "opacity") if isinstance(marker.get(k), list)}
    if kept:
        out["marker"] = kept
    return out


def cluster_figure(source: Source, time: int | None = None, *, title: str | None = None) -> go.Figure:
    """The cluster at ``time`` (end of trace when None), from a Trace, events or a ClusterView snapshot.

    Servers sit on a ring coloured by role (legend), each with its term and
    election-timer countdown (orange bar: time left); messages in flight sit
    on their links, styled by kind; ✕ marks a message just dropped; red
    dashed links are blocked. On the right, every log, coloured by term.
    """
    view = scene_at(source, time)
    return ClusterPicture.for_view(view).figure(view, time, title=title)


def animate(
    source: Source,
    start: int = 0,
    end: int | None = None,
    *,
    frame_ms: int = 5,
    max_frames: int = MAX_FRAMES,
    frame_duration: int = 30,
    details: bool = False,
) -> go.Figure:
    """Animate the trace from ``start`` to ``end`` ms, one frame every ``frame_ms`` virtual ms.

    The figure has play/pause buttons at three speeds and a slider that
    scrubs backwards and forwards. Frames only restyle the traces that
    change somewhere in the window (``redraw: False``). At most ``max_frames`` frames are built: a longer
    window is cut short, and the figure says so in its title and in
    ``fig.layout.meta["note"]``. ``frame_duration`` is the ms each frame
    asks to stay on screen at normal speed (plotly.js adds its own drawing
    time: 30 ms played at about 25 fps in headless chromium here, 50 ms at
    only 15). Hovering names a message's kind; with
    ``details=True`` it describes each message (frames get about twice as big).
    """
    events = as_events(source)
    if end is None:
        end = events[-1].time if events else start
    for name, value in (("start", start), ("end", end), ("frame_ms", frame_ms), ("max_frames", max_frames)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name in ("frame_ms", "max_frames") else 0):
            raise ValueError(f"{name} must be a whole number ≥ {1 if name in ('frame_ms', 'max_frames') else 0}; got {value!r}")
    if end < start:
        raise ValueError(f"end ({end} ms) must not be before start ({start} ms)")
    times = list(range(start, end + 1, frame_ms))
    note = ""
    if len(times) > max_frames:
        note = (f"The window {start}–{end} ms needs {len(times)} frames at {frame_ms} ms each; only the first "
                f"{max_frames} are built ({start}–{times[max_frames - 1]} ms). Pass a shorter window or a larger frame_ms.")
        times = times[:max_frames]
    final = scene_at(events, times[-1])
    picture = ClusterPicture.for_view(final)
    frames = []
    base: dict[str, Any] = {}
    for t, scene in replay(events, times):
        if not base:
            title = f"Raft cluster, {start}–{times[-1]} ms" + (f" — ⚠ cut short: {max_frames} frames max" if note else "")
            base = picture.figure(scene, t, title=title, validate=False).to_dict()
            for trace in base["data"]:
                if trace.get("name") == "log cells" or (not details and trace.get("hoverinfo") == "text"):
                    trace["hoverinfo"] = "name" if trace.get("name") != "log cells" and "hovertext" in trace else "skip"
        frames.append([_slim(d, details) for d in picture.dynamic(scene, t)])
    # A trace that looks the same in every frame stays out of the frames: less JSON, less to redraw per frame.
    moving = [k for k in range(len(picture.dynamic_indices)) if any(f[k] != frames[0][k] for f in frames)]
    fig = go.Figure(dict(data=base["data"], layout=base["layout"], frames=[
        dict(name=str(t), data=[f[k] for k in moving], traces=[picture.dynamic_indices[k] for k in moving])
        for t, f in zip(times, frames)]), _validate=False)

    def play(duration: int) -> list[Any]:
        return [None, dict(frame=dict(duration=duration, redraw=False), fromcurrent=True,
                           transition=dict(duration=0), mode="immediate")]

    still = dict(frame=dict(duration=0, redraw=False), transition=dict(duration=0), mode="immediate")
    fig.update_layout(
        meta=dict(note=note, frames=len(times), frame_ms=frame_ms),
        # Controls in the band under the ring; the legend below them (it pushes the bottom margin as it needs).
        legend=dict(y=-0.02, yanchor="top"),
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=0.13, xanchor="left", yanchor="top",
                          pad=dict(r=6, t=0), showactive=False, buttons=[
                              dict(label="▶ play", method="animate", args=play(frame_duration)),
                              dict(label="▶▶ 4× faster", method="animate", args=play(max(1, frame_duration // 4))),
                              dict(label="▷ ¼ speed", method="animate", args=play(frame_duration * 4)),
                              dict(label="❚❚ pause", method="animate", args=[[None], still]),
                          ])],
        sliders=[dict(active=0, x=0.37, len=0.63, y=0.17, yanchor="top", pad=dict(t=0),
                      currentvalue=dict(prefix="t = ", suffix=" ms", font=dict(size=12)),
                      steps=[dict(method="animate", label=str(t), args=[[str(t)], still]) for t in times])],
        margin=dict(b=20),
        height=fig.layout.height + 110,
    )
    if note:
        fig.add_annotation(text="⚠ " + note, xref="paper", yref="paper", x=0, y=1.06, showarrow=False,
                           xanchor="left", font=dict(size=11, color=DROP_COLOR))
    return fig
