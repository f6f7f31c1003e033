"""The cluster picture: servers on a ring, messages in flight, logs -- one instant, or animated over a window.

:class:`ClusterPicture` fixes the figure's skeleton for ``n`` servers (which
traces exist, in which order); :meth:`ClusterPicture.dynamic` computes the
parts that change with time from a scene. The static figure, every animation
frame and the live widget all use the same two methods, so they always agree.
"""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from ..trace import ClusterView
from .logs import LOG_WINDOW, PANEL_TRACES, UNCOMMITTED_OPACITY, log_window, panel_axes, panel_traces
from .scene import SceneView, Source, as_events, fan_out, in_flight_fraction, message_xy, replay, ring_xy, scene_at
from .style import (
    CUT_COLOR,
    DROP_COLOR,
    LEARNER_SYMBOL,
    MESSAGE_STYLES,
    OPEN_LINE_WIDTH,
    REFUSED_SYMBOLS,
    ROLE_COLORS,
    ROLE_LABELS,
    ROLE_SYMBOLS,
    ROLE_TEXT,
    check_theme,
    describe_message,
    ink,
    message_kind,
    message_ok,
    node_name,
    template,
    term_color,
)

__all__ = ["MAX_FRAMES", "ClusterPicture", "cluster_figure", "animate", "status_line", "network_line", "members_title"]

MAX_FRAMES = 1000
"""The most frames :func:`animate` builds (about 1 KB each); longer windows are cut short, with a note."""

PLAY_SECONDS = 8
"""About how long :func:`animate`'s ▶ takes to play a window by default (a longer window plays longer: frames of
30 ms at least)."""

_RING = dict(xaxis="x", yaxis="y")
_UNIT_PX = 84
"""About how many pixels one ring unit takes in the figure (the ring's radius is 1): sizes in px are converted with it."""
_MESSAGE_GAP = 0.21
"""The distance in ring units (~18 px) between the centres of two messages drawn side by side: more than the
largest message marker (15 px)."""
_TIMER_CELLS = 6
"""How many cells the text bar of an election timer has."""


def status_line(view: ClusterView) -> str:
    """The line above the ring: time, leader(s), highest term, and a client request the cluster just refused.

    Two servers can both believe they lead (an old leader cut off in an older
    term, §5.2 allows one leader per term): then both are named, with their
    terms, as the picture draws both with the leader's bold ring.
    """
    leaders = sorted(view.leaders(), key=lambda i: (view.nodes[i].term, i))
    term = max((n.term for n in view.nodes.values()), default=0)
    if len(leaders) > 1:
        who = "leaders " + " and ".join(f"{node_name(i)} (term {view.nodes[i].term})" for i in leaders)
    else:
        who = f"leader {node_name(leaders[0])}" if leaders else "no leader"
    refused = view.recent_refusal(view.time) if isinstance(view, SceneView) else ""
    return f"t = {view.time} ms · {who} · highest term {term}" + (f" · ⚠ {refused}" if refused else "")


def members_title(view: ClusterView, seed: object = None) -> str:
    """The live figure's title: how many servers are members now (a removed one no longer counts, §4.1)."""
    removed = [i for i, node in sorted(view.nodes.items()) if node.removed]
    count = len(view.nodes) - len(removed)
    gone = f" ({', '.join(node_name(i) for i in removed)} removed)" if removed else ""
    return f"Raft cluster: {count} server{'s' if count != 1 else ''}{gone}" + (f", seed {seed}" if seed is not None else "")


def _node_size(n: int) -> int:
    """Marker size in px of a server in a ring of ``n``: 40, smaller from 7 servers on."""
    return 40 if n <= 6 else max(22, 40 - 3 * (n - 6))


def _ring_extent(n: int) -> tuple[float, float]:
    """The ring subplot's (bottom, top) y for ``n`` servers: the ring, its labels (one under a bottom server), and
    the status and network lines above and below."""
    radius = _node_size(n) / 2 / _UNIT_PX
    xy = [ring_xy(i, n) for i in range(1, n + 1)]
    low = min(y for _x, y in xy)
    bottom_label = any(abs(x) <= 0.3 and y < 0 for x, y in xy)
    return round(low - radius - (0.42 if bottom_label else 0.05) - 0.3, 3), round(1 + radius + 0.42 + 0.3, 3)


def _pct(rate: float) -> str:
    return f"{rate * 100:.0f} %"


def network_line(view: ClusterView) -> str:
    """The network in one sentence: partition, cut links, loss and delay (the line under the ring).

    Links cut both ways are counted as links; a cut in one direction only is
    counted apart. Loss and delay come from the settings in force (a
    :class:`~raftedu.viz.scene.SceneView` knows them; a bare ClusterView does not).
    """
    parts = []
    if view.groups:
        parts.append("partition " + " | ".join("{" + ",".join(node_name(i) for i in g) + "}" for g in view.groups))
    both = sum(1 for a, b in view.cuts if a < b and (b, a) in view.cuts)
    one_way = len(view.cuts) - 2 * both
    if both:
        parts.append(f"{both} link{'s' if both != 1 else ''} cut")
    if one_way:
        parts.append(f"{one_way} link{'s' if one_way != 1 else ''} cut one way")
    if not parts:
        parts.append("all links up")
    net = getattr(view, "network", {}) or {}
    if net:
        rate = float(net.get("drop_rate", 0.0))
        parts.append(f"drop {_pct(rate)} of messages" if rate else "no loss")
        low, high = net.get("delay", (0, 0))
        parts.append(f"delay {low}–{high} ms" if low != high else f"delay {low} ms")
        if net.get("duplicate_rate"):
            parts.append(f"duplicate {_pct(float(net['duplicate_rate']))}")
        if net.get("long_delay_rate"):
            parts.append(f"{_pct(float(net['long_delay_rate']))} delayed long")
    return "network: " + " · ".join(parts)


def _keep_in_legend(*columns: list[Any]) -> tuple[list[Any], ...]:
    """An empty trace would vanish from the legend: give it one invisible (None) point instead."""
    return columns if columns[0] else tuple([None] for _ in columns)


def _timer_bar(left: float) -> str:
    """An election timer as a text bar: filled cells for the time left (``left`` from 0 to 1)."""
    full = max(0, min(_TIMER_CELLS, round(left * _TIMER_CELLS)))
    return "▰" * full + "▱" * (_TIMER_CELLS - full)


class ClusterPicture:
    """The layout and trace order of the cluster picture for ``n`` servers.

    Trace order: the title, links, blocked links, servers, server labels, one
    trace per message kind, drops, the status line, the network line, the
    loss badge, four legend entries for roles, one for uncommitted cells,
    then the log panel (:data:`~raftedu.viz.logs.PANEL_TRACES`: heading,
    row names, row lines, index labels, snapshot bars, cells, matchIndex,
    nextIndex). :attr:`dynamic_indices` lists the ones that change. Every
    label sits outside the ring, where no link, message or cut line is
    drawn; messages travel between the servers' edges.

    Every text of the figure is a trace and the axes never depend on the log window: a live figure (the explorer)
    changes only traces when time passes, the window scrolls or (up to ``max_n`` servers) a server is added, and
    the browser replots only those traces (issue 29).
    """

    def __init__(self, n: int, *, election_timeout_high: int = 300, log_first: int = 1, log_width: int = LOG_WINDOW,
                 theme: str = "light", max_n: int | None = None, seed: object = None) -> None:
        """Prepare the picture for servers 1..n; timer bars are scaled to ``election_timeout_high`` ms.

        ``max_n``: the ring's axes leave room for every size from 1 to ``max_n`` servers, so pictures of those
        sizes made with the same ``max_n`` share one layout (the explorer's). ``seed`` is named in the default title.
        """
        self.n = n
        self.max_n = max(n, max_n or n)
        self.seed = seed
        self.ids = list(range(1, n + 1))
        self.xy = {i: ring_xy(i, n) for i in self.ids}
        self.timeout_high = election_timeout_high
        self.log_first = log_first
        self.log_width = log_width
        self.theme = check_theme(theme)
        self.node_size = _node_size(n)
        """Marker size of a server in px: smaller rings of more servers still fit."""
        self.radius = self.node_size / 2 / _UNIT_PX
        """A server's radius in ring units."""
        self.message_edge = max(self.radius + 0.08, round(_MESSAGE_GAP / (2 * math.sin(math.pi / (2 * max(n, 2)))), 3))
        """How far from a server's centre a message just sent (or about to arrive) sits, in ring units: past the
        server's edge, and far enough that messages a server sends at once to neighbouring servers (their links
        π/n apart) sit :data:`_MESSAGE_GAP` apart -- a leader's heartbeats to 5 followers no longer pile up."""
        self._ring_traces = 5 + len(MESSAGE_STYLES) + 4  # title, links, blocked, servers, labels, messages, drops,
        self.dynamic_indices = list(range(0, self._ring_traces))  # status, network, badge
        first_log = self._ring_traces + len(ROLE_COLORS) + 1
        self.dynamic_indices += list(range(first_log, first_log + len(PANEL_TRACES)))
        self._label_at = {i: self._label_place(i) for i in self.ids}
        extents = [_ring_extent(size) for size in (range(1, self.max_n + 1) if max_n else [n])]
        self.y_bottom = min(low for low, _high in extents)
        self.y_top = max(high for _low, high in extents)
        self.x_edge = 2.55

    def _label_place(self, i: int) -> tuple[float, float, str]:
        """Where server ``i``'s label goes: outside the ring, away from its centre (x, y, plotly textposition)."""
        x, y = self.xy[i]
        gap = self.radius + 0.05
        if x > 0.3:
            return round(x + gap, 3), y, "middle right"
        if x < -0.3:
            return round(x - gap, 3), y, "middle left"
        if y > 0:
            return x, round(y + gap, 3), "top center"
        return x, round(y - gap, 3), "bottom center"

    @classmethod
    def for_view(cls, view: ClusterView, theme: str = "light") -> "ClusterPicture":
        """The picture skeleton that suits the cluster ``view`` replays (size, timeout, log window)."""
        timing = view.config.get("timing", {})
        high = timing.get("election_timeout", (150, 300))[1]
        return cls(len(view.nodes), election_timeout_high=high, log_first=log_window(view), theme=theme)

    # ---- the parts that change ------------------------------------------------

    def dynamic(self, view: ClusterView, time: int | None = None, *, title: str | None = None) -> list[dict[str, Any]]:
        """Trace dicts for every index in :attr:`dynamic_indices`, showing ``view`` at ``time``; ``title`` (default:
        :func:`members_title` with the picture's seed) above the ring."""
        t = view.time if time is None else time
        text = ink(self.theme)
        rate = float((getattr(view, "network", {}) or {}).get("drop_rate", 0.0))
        return [
            dict(type="scatter", x=[-self.x_edge], y=[self.y_top], mode="text",
                 text=[title or members_title(view, self.seed)], hoverinfo="skip", textposition="top right",
                 cliponaxis=False, textfont=dict(size=15, color=text), showlegend=False, name="title", **_RING),
            self._links(rate),
            self._blocked(view),
            self._servers(view),
            self._labels(view, t),
            *self._messages(view, t),
            self._drops(view, t),
            dict(type="scatter", x=[-self.x_edge], y=[self.y_top - 0.12], mode="text", text=[status_line(view)],
                 hoverinfo="skip", textposition="middle right", cliponaxis=False, textfont=dict(size=13, color=text),
                 showlegend=False, name="status", **_RING),
            dict(type="scatter", x=[-self.x_edge], y=[self.y_bottom + 0.12], mode="text", text=[network_line(view)],
                 hoverinfo="skip", textposition="middle right", cliponaxis=False, textfont=dict(size=12, color=text),
                 showlegend=False, name="network", **_RING),
            self._loss_badge(rate),
            *panel_traces(view, self.log_first, self.log_width, xaxis="x2", yaxis="y2", theme=self.theme),
        ]

    def _loss_badge(self, drop_rate: float) -> dict[str, Any]:
        """The '⚠ drop N %' badge top right; on a loss-free network the trace has no point at all.

        Never an empty text point: plotly.js (4.1) removes the ``<text>`` of a point whose text is empty and keeps its
        group, the next redraw removes that group, and a text that arrives while the empty group is still there is
        not drawn (measured in chromium: after an odd number of redraws -- the dark theme's is one more -- the
        badge's data held '⚠ drop 5 %' and nothing was drawn). A point that appears with its text is drawn at once.
        """
        x, y, text = ([self.x_edge], [self.y_top - 0.12], [f"<b>⚠ drop {_pct(drop_rate)}</b>"]) if drop_rate else ([], [], [])
        return dict(type="scatter", x=x, y=y, mode="text", text=text, hoverinfo="skip", textposition="middle left",
                    cliponaxis=False, textfont=dict(size=13, color=DROP_COLOR), showlegend=False, name="loss badge",
                    **_RING)

    def _links(self, drop_rate: float) -> dict[str, Any]:
        xs: list[float | None] = []
        ys: list[float | None] = []
        for a in self.ids:
            for b in self.ids:
                if a < b:
                    xs += [self.xy[a][0], self.xy[b][0], None]
                    ys += [self.xy[a][1], self.xy[b][1], None]
        if drop_rate:  # a lossy network: every link dotted, in the colour of a drop
            line = dict(color=DROP_COLOR, width=1.5, dash="dot")
        else:
            line = dict(color=ink(self.theme, "faint"), width=1.5, dash="solid")  # every key, always: updates merge
        return dict(type="scatter", x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False, name="links",
                    line=line, **_RING)

    def _edge_to_edge(self, a: int, b: int, until: float = 1.0) -> tuple[tuple[float, float], tuple[float, float]]:
        """The stretch of link a→b outside both servers (``until`` < 1: only that fraction of it, from a)."""
        (x0, y0), (x1, y1) = self.xy[a], self.xy[b]
        length = math.hypot(x1 - x0, y1 - y0)
        f0 = (self.radius + 0.03) / length
        f1 = min(until, 1 - f0)
        return ((round(x0 + f0 * (x1 - x0), 4), round(y0 + f0 * (y1 - y0), 4)),
                (round(x0 + f1 * (x1 - x0), 4), round(y0 + f1 * (y1 - y0), 4)))

    def _blocked(self, view: ClusterView) -> dict[str, Any]:
        xs: list[float | None] = []
        ys: list[float | None] = []
        hover: list[str] = []
        blocked = set(view.cuts)
        for g in view.groups:
            blocked |= {(a, b) for a in g for b in self.ids if b not in g}
        for a, b in sorted(blocked):
            if (b, a) in blocked:
                if a > b:
                    continue  # drawn once, whole, from the other end
                (p, q), why = self._edge_to_edge(a, b), f"link {node_name(a)}–{node_name(b)} blocked both ways"
            else:  # one way only: the half at the sending end
                (p, q), why = self._edge_to_edge(a, b, 0.5), f"link {node_name(a)} → {node_name(b)} blocked (one way)"
            xs += [p[0], q[0], None]
            ys += [p[1], q[1], None]
            hover += [why, why, ""]
        xs, ys, hover = _keep_in_legend(xs, ys, hover)
        return dict(type="scatter", x=xs, y=ys, mode="lines", hoverinfo="text", hovertext=hover, hoveron="points",
                    name="blocked link (half: one way)", line=dict(color=CUT_COLOR, width=3, dash="dash"), **_RING)

    def _membership(self, view: ClusterView) -> dict[int, str]:
        """``"learner"`` or ``"removed"`` for servers that are not voters (§4.1, §4.2.1): as a leader's configuration
        says (else each server's own); empty while the cluster never changed membership."""
        leaders = view.leaders()
        out = {}
        for i in self.ids:
            node = view.nodes[i]
            if node.removed:
                out[i] = "removed"
            elif i in view.learners(leaders[0] if leaders else i):
                out[i] = "learner"
        return out

    def _servers(self, view: ClusterView) -> dict[str, Any]:
        roles = [view.nodes[i].shown_role for i in self.ids]
        member = self._membership(view)
        hover = []
        for i in self.ids:
            node = view.nodes[i]
            voted = f"S{node.voted_for}" if node.voted_for else "nobody"
            what = f"{member[i]}, " if i in member else ""
            clock = node.clock
            drift = "" if clock is None or clock.rate == 1 else f", its clock runs at {float(clock.rate):g}× true time"
            hover.append(f"{node_name(i)} {what}{node.shown_role}, term {node.term}, voted {voted}, "
                         f"log {len(node.log)}, commit {node.commit_index}" + (", paused" if node.paused else "") + drift)
        symbols = [LEARNER_SYMBOL if member.get(i) == "learner" and r != "crashed" else ROLE_SYMBOLS[r][0]
                   for i, r in zip(self.ids, roles)]
        return dict(type="scatter", x=[self.xy[i][0] for i in self.ids], y=[self.xy[i][1] for i in self.ids],
                    mode="markers+text", text=[node_name(i) for i in self.ids], hovertext=hover, hoverinfo="text",
                    textfont=dict(size=14 if self.n <= 6 else 11, color=[ROLE_TEXT[r] for r in roles]),
                    showlegend=False, name="servers",
                    marker=dict(size=self.node_size, color=[ROLE_COLORS[r] for r in roles],
                                symbol=symbols,
                                line=dict(width=[ROLE_SYMBOLS[r][1] for r in roles], color=ink(self.theme, "outline"))),
                    **_RING)

    def _labels(self, view: ClusterView, t: int) -> dict[str, Any]:
        text = []
        member = self._membership(view)
        for i in self.ids:
            node = view.nodes[i]
            role = node.shown_role if node.alive else "crashed"
            if i in member and (node.alive or member[i] == "removed"):
                role = member[i]  # "learner" or "removed": it never campaigns (§4.2.1), so no timer is drawn
            if not node.alive:
                second = "down"
            elif node.paused:
                second = "paused: its clock stands still"
            elif i in member:
                second = "no vote"
            elif node.role == "leader":
                second = "sends heartbeats"
            elif node.deadline is None:
                second = ""
            else:
                left = max(0, node.deadline - t)
                second = f"{_timer_bar(left / self.timeout_high)} {left} ms"
            text.append(f"{role} · term {node.term}<br>{second}")
        return dict(type="scatter", x=[self._label_at[i][0] for i in self.ids], y=[self._label_at[i][1] for i in self.ids],
                    mode="text", text=text, hoverinfo="skip", showlegend=False, name="labels", cliponaxis=False,
                    textposition=[self._label_at[i][2] for i in self.ids], textfont=dict(size=11, color=ink(self.theme)),
                    **_RING)

    def _messages(self, view: ClusterView, t: int) -> list[dict[str, Any]]:
        groups: dict[str, tuple[list[float], list[float], list[str], list[str], list[str]]] = {
            k: ([], [], [], [], []) for k in MESSAGE_STYLES}
        refused = ink(self.theme, "outline")
        flights = list(view.in_flight.values())
        where = [(f.msg.src, f.msg.dst, in_flight_fraction(f, t)) for f in flights]
        edge = self.message_edge
        for flight, (src, dst, fraction), lane in zip(flights, where, fan_out(where, step=_MESSAGE_GAP * 0.8)):
            m = flight.msg
            kind = message_kind(m)
            x, y = message_xy(src, dst, self.n, fraction, lane=lane, edge=edge)
            xs, ys, colors, symbols, hover = groups[kind]
            xs.append(x)
            ys.append(y)
            if kind.endswith("Reply"):  # a refused / rejected reply differs in shape and colour
                ok = message_ok(m)
                colors.append(MESSAGE_STYLES[kind][2] if ok else refused)
                symbols.append(MESSAGE_STYLES[kind][1] if ok else REFUSED_SYMBOLS[kind])
            hover.append(f"{describe_message(m)}<br>sent {flight.sent} ms, arrives {flight.due} ms")
        out = []
        for kind, (name, symbol, color, size) in MESSAGE_STYLES.items():
            xs, ys, colors, symbols, hover = groups[kind]
            if kind.endswith("Reply"):
                xs, ys, colors, symbols, hover = _keep_in_legend(xs, ys, colors, symbols, hover)
                colors = [color if c is None else c for c in colors]
                symbols = [symbol if c is None else c for c in symbols]
                marker = dict(symbol=symbols, size=size, color=colors, line=dict(width=1.5, color=refused))
            else:
                xs, ys, hover = _keep_in_legend(xs, ys, hover)
                marker = dict(symbol=symbol, size=size, color=color,
                              line=dict(width=OPEN_LINE_WIDTH, color=color) if symbol.endswith("-open")
                              else dict(width=1, color=refused))
            out.append(dict(type="scatter", x=xs, y=ys, mode="markers", name=name, hovertext=hover, hoverinfo="text",
                            marker=marker, **_RING))
        return out

    def _drops(self, view: ClusterView, t: int) -> dict[str, Any]:
        xs, ys, hover = [], [], []
        for d in getattr(view, "recent_drops", lambda _t: [])(t):
            x, y = message_xy(d.msg.src, d.msg.dst, self.n, d.fraction, edge=self.message_edge)
            xs.append(x)
            ys.append(y)
            hover.append(f"dropped at {d.time} ms ({d.reason}): {describe_message(d.msg)}")
        xs, ys, hover = _keep_in_legend(xs, ys, hover)
        return dict(type="scatter", x=xs, y=ys, mode="markers", name="dropped message", hovertext=hover,
                    hoverinfo="text", marker=dict(symbol="x", size=14, color=DROP_COLOR), **_RING)

    # ---- the whole figure -------------------------------------------------------

    def figure(self, view: ClusterView, time: int | None = None, *, title: str | None = None, validate: bool = True,
               legend: bool = True, height: int | None = None) -> go.Figure:
        """The whole figure for ``view`` at ``time``; ``validate=False`` skips plotly's checks (faster).

        ``legend=False`` leaves plotly's legend out (the caller explains the
        symbols elsewhere): a smaller figure that the browser redraws faster.
        """
        dyn = self.dynamic(view, time, title=title)
        ring, logs = dyn[: self._ring_traces], dyn[self._ring_traces :]
        outline = ink(self.theme, "outline")
        keys = [dict(type="scatter", x=[None], y=[None], mode="markers", name=ROLE_LABELS[role],
                     marker=dict(size=14, color=color, line=dict(width=1, color=outline)), **_RING)
                for role, color in ROLE_COLORS.items()]
        keys.append(dict(type="scatter", x=[None], y=[None], mode="markers", name="faint log cell: not known committed yet",
                         marker=dict(symbol="square", size=14, color=term_color(1), opacity=UNCOMMITTED_OPACITY), **_RING))
        data = [*ring, *keys, *logs]
        if legend:
            _legend_only_what_is_drawn(data, [data])
        xaxis2, yaxis2 = panel_axes(self.log_width)
        hidden = dict(visible=False, fixedrange=True)
        ring_height = 360
        layout = dict(
            template=template(self.theme), height=height or (ring_height + 150 if legend else ring_height),
            margin=dict(l=10, r=10, t=34, b=10 if legend else 6),
            # constrain="domain": to keep the ring round plotly shrinks its box, never changes the ranges
            # (changed ranges would be synced back into a live figure's layout and stay changed).
            xaxis=dict(domain=[0, 0.56], range=[-self.x_edge, self.x_edge], constrain="domain", constraintoward="left",
                       **hidden),
            yaxis=dict(domain=[0.3 if legend else 0, 1], range=[self.y_bottom, self.y_top], scaleanchor="x",
                       constrain="domain", constraintoward="top", **hidden),
            xaxis2=dict(domain=[0.62, 1], anchor="y2", **xaxis2),
            yaxis2=dict(domain=[0.42 if legend else 0.14, 0.93], anchor="x2", **yaxis2),
            showlegend=legend,
            legend=dict(orientation="h", x=0, y=0.27, yanchor="top", font=dict(size=11), traceorder="normal"),
            hovermode="closest",
        )
        return go.Figure(dict(data=data, layout=layout), _validate=validate)


def _legend_only_what_is_drawn(data: list[dict[str, Any]], states: list[list[dict[str, Any]]]) -> None:
    """Keep in the legend only what is drawn in one of ``states`` (the figure's own traces, or every frame of an
    animation): a message kind with a message on screen, a role some server has, faint cells if any is uncommitted.
    A legend that names a ● or a ✕ the figure never shows misleads (issue 29)."""
    drawn = {i for state in states for i, t in enumerate(state)
             if t.get("name") and any(v is not None for v in t.get("x") or ())}
    colors = {c for state in states for t in state if t.get("name") == "servers" for c in t["marker"]["color"]}
    faint = any(o < 1 for state in states for t in state if t.get("name") == "log cells"
                for o in (t.get("marker", {}).get("opacity") or ()) if isinstance(t.get("marker", {}).get("opacity"), list))
    for i, trace in enumerate(data):
        if trace.get("showlegend") is False and not (trace.get("meta") or {}).get("legend_if_drawn"):
            continue  # never in the legend (labels, links, ...)
        trace["meta"] = {"legend_if_drawn": True}  # a later call (an animation's frames) may show it again
        if trace.get("name") in ROLE_LABELS.values():
            trace["showlegend"] = trace["marker"]["color"] in colors
        elif trace.get("name", "").startswith("faint log cell"):
            trace["showlegend"] = faint
        else:
            trace["showlegend"] = i in drawn


_FRAME_KEYS = ("x", "y", "text", "hovertext")
_CONSTANT = {"title": ("x", "y"), "log heading": ("x", "y"), "server rows": ("x", "y", "text"),
             "log index": ("x", "y"), "servers": ("x", "y", "text"), "labels": ("x", "y"), "status": ("x", "y"), "network": ("x", "y"),
             "loss badge": ("x", "y"), "links": ("x", "y"), "log cells": ("hovertext",)}


def _slim(trace: dict[str, Any], details: bool) -> dict[str, Any]:
    """Only what can change between frames (positions, texts, colours); frames are merged into the traces."""
    constant = _CONSTANT.get(trace.get("name", ""), ())
    out = {k: trace[k] for k in _FRAME_KEYS if k in trace and k not in constant}
    if not details:
        out.pop("hovertext", None)
    marker = trace.get("marker", {})
    kept: dict[str, Any] = {k: marker[k] for k in ("color", "opacity", "symbol") if isinstance(marker.get(k), list)}
    if isinstance(marker.get("line", {}).get("width"), list):
        kept["line"] = {"width": marker["line"]["width"]}
    if kept:
        out["marker"] = kept
    if isinstance(trace.get("textfont", {}).get("color"), list):
        out["textfont"] = {"color": trace["textfont"]["color"]}
    return out


def cluster_figure(source: Source, time: int | None = None, *, title: str | None = None,
                   theme: str = "light") -> go.Figure:
    """The cluster at ``time`` (end of trace when None), from a Trace, events or a ClusterView snapshot.

    Servers sit on a ring coloured by role (legend), each labelled with its
    role, term and election-timer countdown (▰▱ bar: time left); messages in
    flight sit on their links, styled by kind; ✕ marks a message just dropped;
    dashed vermillion (orange-red) links are blocked; the line under the ring names the network's
    state. On the right, every log, coloured by term. ``theme`` is
    ``"light"`` or ``"dark"`` (JupyterLab's page theme).
    """
    view = scene_at(source, time)
    return ClusterPicture.for_view(view, theme).figure(view, time, title=title)


def animate(
    source: Source,
    start: int = 0,
    end: int | None = None,
    *,
    frame_ms: int = 5,
    max_frames: int = MAX_FRAMES,
    frame_duration: int | None = None,
    details: bool = False,
    theme: str = "light",
) -> go.Figure:
    """Animate the trace from ``start`` to ``end`` ms, one frame every ``frame_ms`` virtual ms.

    The figure has play/pause buttons at three speeds and a slider that
    scrubs backwards and forwards. Frames only restyle the traces that
    change somewhere in the window (``redraw: False``). At most ``max_frames`` frames are built: a longer
    window is cut short, and the figure says so in its title and in
    ``fig.layout.meta["note"]``. ``frame_duration`` is the ms each frame
    asks to stay on screen at normal speed (plotly.js adds its own drawing
    time: 30 ms played at about 25 fps in headless chromium here, 50 ms at
    only 15); by default (None) the whole window plays in about
    :data:`PLAY_SECONDS` s (30–250 ms a frame), so a short election does not
    flash past in a second. Hovering names a message's kind; with
    ``details=True`` it describes each message (frames get about twice as big).
    ``theme`` is ``"light"`` or ``"dark"``.
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
    if frame_duration is None:
        frame_duration = max(30, min(250, PLAY_SECONDS * 1000 // len(times)))
    note = ""
    if len(times) > max_frames:
        note = (f"The window {start}–{end} ms needs {len(times)} frames at {frame_ms} ms each; only the first "
                f"{max_frames} are built ({start}–{times[max_frames - 1]} ms). Pass a shorter window or a larger frame_ms.")
        times = times[:max_frames]
    final = scene_at(events, times[-1])
    picture = ClusterPicture.for_view(final, theme)
    frames = []
    base: dict[str, Any] = {}
    title = f"Raft cluster, {start}–{times[-1]} ms" + (f" — ⚠ cut short: {max_frames} frames max" if note else "")
    for t, scene in replay(events, times):
        if not base:
            base = picture.figure(scene, t, title=title, validate=False).to_dict()
            for trace in base["data"]:
                if trace.get("name") == "log cells" or (not details and trace.get("hoverinfo") == "text"):
                    trace["hoverinfo"] = "name" if trace.get("name") != "log cells" and "hovertext" in trace else "skip"
        frames.append([_slim(d, details) for d in picture.dynamic(scene, t, title=title)])
    states = []
    for f in frames:
        state = list(base["data"])
        for k, index in enumerate(picture.dynamic_indices):
            state[index] = {**base["data"][index], **f[k]}
        states.append(state)
    _legend_only_what_is_drawn(base["data"], states)  # what any frame draws
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
