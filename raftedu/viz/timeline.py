"""The timeline: a space-time (Lamport) diagram with one lane per server and an arrow per message."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from ..raft import Event
from .scene import Source, as_events
from .style import (
    DROP_COLOR,
    MESSAGE_STYLES,
    OPEN_LINE_WIDTH,
    REFUSED_NAMES,
    REFUSED_SYMBOLS,
    ROLE_COLORS,
    check_theme,
    describe_message,
    ink,
    message_kind,
    message_ok,
    node_name,
    template,
)

__all__ = ["NODE_KINDS", "HANDLERS", "ARROW_NAMES", "timeline", "rules_fired"]

NODE_KINDS = frozenset({"timeout", "timer", "term", "role", "vote", "append", "truncate", "commit", "apply"})
"""Event kinds a server emits itself (they carry the Figure 2 rule that fired)."""

HANDLERS = {
    "RequestVote": "RequestVote receiver (§5.2, §5.4.1)",
    "RequestVoteReply": "candidate counts the vote (§5.2)",
    "AppendEntries": "AppendEntries receiver (§5.3)",
    "Heartbeat": "AppendEntries receiver (§5.3)",
    "AppendEntriesReply": "leader updates nextIndex/matchIndex (§5.3)",
    "PreVote": "PreVote receiver: would it vote? (dissertation §9.6)",
    "TimeoutNow": "receiver starts an election at once (dissertation §3.10)",
    "InstallSnapshot": "InstallSnapshot receiver (dissertation §5.1, Figure 5.3)",
}
"""The Figure 2 rule that handles each kind of message on arrival."""

_ROLE_SYMBOLS = {"follower": "circle", "candidate": "diamond", "leader": "star"}

_START_SIZE = {"RequestVote": 9, "PreVote": 9, "TimeoutNow": 11, "AppendEntries": 8, "InstallSnapshot": 10,
               "Heartbeat": 6}
"""Size of the shape drawn where a request leaves its sender (replies have none: their end tells ok or refused)."""
_OPEN = frozenset({"PreVote", "Heartbeat"})

ARROW_NAMES = {"RequestVoteReply": "vote reply: granted (arrow)", "AppendEntriesReply": "AppendEntries reply: success (arrow)",
               "PreVote": "PreVote (dissertation §9.6)", "TimeoutNow": "TimeoutNow (dissertation §3.10)",
               "InstallSnapshot": "InstallSnapshot (dissertation ch. 5)"}
"""Legend names where the timeline draws a kind differently from the cluster picture: every message here is an
arrow, so the picture's "● granted" or "▲ success" markers would promise symbols that are not drawn."""


def rules_fired(events: list[Event], k: int) -> list[str]:
    """The Figure 2 rules the receiver's events name right after delivery event ``events[k]``."""
    node = events[k].node
    rules: list[str] = []
    for e in events[k + 1 :]:
        if e.kind not in NODE_KINDS or e.node != node:
            break
        if e.rule and e.rule not in rules:
            rules.append(e.rule)
    return rules


def timeline(source: Source, start: int = 0, end: int | None = None, *, heartbeats: bool = True,
             theme: str = "light") -> go.Figure:
    """A space-time diagram of the trace between ``start`` and ``end`` ms.

    Each server is a horizontal lane (S1 on top); each message is an arrow (a request starting with its kind's shape)
    from its sending to its delivery (or a dotted vermillion line ending in ✕
    where it was dropped); a refused vote or a rejected AppendEntries reply is
    a dashed dark arrow ending in ⊗ or ▼, as in the cluster picture. Role changes are marked in the role's colour, crashes with a
    black ✕ and a grey band while the server is down; a paused process with □ and a dashed band until it resumes
    (▷), a change of a server's clock rate (drift) with ⊗. Hovering over an
    arrowhead names the message and the Figure 2 rule(s) it made the receiver
    apply. ``heartbeats=False`` hides empty AppendEntries and their replies.
    ``theme`` is ``"light"`` or ``"dark"`` (JupyterLab's page theme).
    """
    check_theme(theme)
    events = as_events(source)
    n = dict(events[0].value)["n"]
    if end is None:
        end = events[-1].time
    if end < start:
        raise ValueError(f"end ({end} ms) must not be before start ({start} ms)")
    sends: dict[int, Event] = {}
    # one group of arrows per message kind, and one more per reply kind for refusals: a refused vote or rejected
    # AppendEntries reply is a dashed arrow ending in ⊗ / ▼ (never told by colour alone)
    groups = [(k, True) for k in MESSAGE_STYLES] + [(k, False) for k in REFUSED_NAMES]
    arrows: dict[tuple[str, bool], tuple[list[Any], list[Any], list[Any], list[str]]] = {g: ([], [], [], []) for g in groups}
    dropped: tuple[list[Any], list[Any], list[Any], list[str]] = ([], [], [], [])
    marks: dict[str, tuple[list[int], list[int], list[str]]] = {}
    down: dict[int, int] = {}
    bands: list[tuple[int, int, int]] = []
    paused: dict[int, int] = {}  # server -> when its process paused
    pauses: list[tuple[int, int, int]] = []
    last_was_empty: dict[tuple[int, int], bool] = {}  # (leader, follower): the last AppendEntries delivered was empty
    answers_heartbeat: set[int] = set()  # ids of replies sent in answer to an empty AppendEntries
    for k, e in enumerate(events):
        if e.kind == "send":
            sends[e.msg_id] = e
            if message_kind(e.msg) == "AppendEntriesReply" and last_was_empty.get((e.msg.dst, e.msg.src)):
                answers_heartbeat.add(e.msg_id)
        elif e.kind == "deliver" and message_kind(e.msg) in ("AppendEntries", "Heartbeat"):
            last_was_empty[(e.msg.src, e.msg.dst)] = message_kind(e.msg) == "Heartbeat"
        if e.time < start or e.time > end:
            continue
        if e.kind in ("deliver", "drop") and e.msg_id in sends:
            s, m = sends[e.msg_id], e.msg
            kind = message_kind(m)
            if not heartbeats and (kind == "Heartbeat" or e.msg_id in answers_heartbeat):
                continue
            hover = f"{describe_message(m)}<br>sent {s.time} ms" + (f" ({s.rule})" if s.rule else "") + ", "
            if e.kind == "deliver":
                rules = rules_fired(events, k)
                hover += (f"delivered {e.time} ms<br>handled by: {HANDLERS[kind]}<br>rules fired: "
                          + ("; ".join(rules) if rules else "none (nothing changed)"))
                xs, ys, sizes, hov = arrows[(kind, message_ok(m))]
                xs += [s.time, e.time, None]
                ys += [m.src, m.dst, None]
                sizes += [_START_SIZE.get(kind, 0), MESSAGE_STYLES[kind][3] - 1, 0]
                hov += [hover, hover, ""]
            else:
                hover += f"dropped {e.time} ms: {e.value}"
                frac = 0.5 if e.time <= s.time else 1.0
                xs2, ys2, _, hov2 = dropped
                xs2 += [s.time, s.time + frac * (e.time - s.time if e.time > s.time else 4), None]
                ys2 += [m.src, m.src + frac * (m.dst - m.src), None]
                hov2 += [hover, hover, ""]
        elif e.kind in ("role", "crash", "restart", "timeout", "timeout_now", "commit", "pause", "resume", "clock"):
            label = {"role": str(e.value), "crash": "crash", "restart": "restart", "timeout": "election timeout",
                     "timeout_now": "election timeout", "commit": "commit", "pause": "pause", "resume": "resume",
                     "clock": "clock"}[e.kind]
            mx, my, mh = marks.setdefault(label, ([], [], []))
            mx.append(e.time)
            my.append(e.node)
            mh.append(f"{e.time} ms: {e.text or label}" + (f"<br>rule: {e.rule}" if e.rule else ""))
            if e.kind == "crash":
                down[e.node] = e.time
            elif e.kind == "restart" and e.node in down:
                bands.append((e.node, down.pop(e.node), e.time))
            elif e.kind == "pause":
                paused[e.node] = e.time
            elif e.kind in ("resume", "crash") and e.node in paused:
                pauses.append((e.node, paused.pop(e.node), e.time))
    bands += [(i, t0, end) for i, t0 in down.items()]
    pauses += [(i, t0, end) for i, t0 in paused.items()]

    data: list[dict[str, Any]] = []
    for (kind, ok), (xs, ys, sizes, hov) in arrows.items():
        name, _, color, _ = MESSAGE_STYLES[kind]
        name = ARROW_NAMES.get(kind, name)
        line = dict(color=color, width=1.2)
        # A request starts with its kind's shape (◆ RequestVote, ◇ PreVote, ★ TimeoutNow, ■ AppendEntries, ⬟
        # InstallSnapshot, □ heartbeat, as in the cluster picture) and ends in an arrowhead: kinds that share a colour
        # are told apart by shape, and the legend shows the shape (it draws a trace's first marker).
        symbols = [MESSAGE_STYLES[kind][1], "arrow", "arrow"] * (len(xs) // 3) if kind in _START_SIZE else "arrow"
        marker = dict(symbol=symbols, angleref="previous", size=sizes, color=color,
                      line=dict(width=OPEN_LINE_WIDTH if kind in _OPEN else 0, color=color))
        if not ok:
            name, color = REFUSED_NAMES[kind], ink(theme, "outline")
            line = dict(color=color, width=1.2, dash="dash")
            marker = dict(symbol=REFUSED_SYMBOLS[kind], size=[z and z + 1 for z in sizes], color=color,
                          line=dict(width=1.5, color=color))
        data.append(dict(type="scatter", x=xs, y=ys, mode="lines+markers", name=name, hovertext=hov, hoverinfo="text",
                         line=line, marker=marker, showlegend=bool(xs)))  # the legend names only what is drawn
    xs2, ys2, _, hov2 = dropped
    data.append(dict(type="scatter", x=xs2, y=ys2, mode="lines+markers", name="dropped message", hovertext=hov2,
                     hoverinfo="text", showlegend=bool(xs2), line=dict(color=DROP_COLOR, width=1.2, dash="dot"),
                     marker=dict(symbol="x", size=[0, 10, 0] * (len(xs2) // 3), color=DROP_COLOR)))
    mark_style = {
        **{r: (ROLE_COLORS[r], _ROLE_SYMBOLS[r], f"became {r}") for r in _ROLE_SYMBOLS},
        "crash": (ink(theme, "outline"), "x", "crashed"),
        "restart": (ink(theme, "outline"), "circle-open", "restarted"),
        "election timeout": (ROLE_COLORS["candidate"], "hourglass", "election timer ran out"),
        "commit": ("rgb(100, 100, 100)", "line-ns-open", "commitIndex advanced"),
        "pause": (ink(theme, "outline"), "square-open", "process paused (dashed band: its clock stands still)"),
        "resume": (ink(theme, "outline"), "triangle-right-open", "process resumed"),
        "clock": (ink(theme, "outline"), "circle-x-open", "clock rate changed (drift)"),
    }
    below: list[dict[str, Any]] = []
    for label, (mx, my, mh) in marks.items():
        color, symbol, name = mark_style[label]
        # Drawn under the arrows (an arrowhead ▼ that ends on a "became follower" dot stays visible), listed after them.
        below.append(dict(type="scatter", x=mx, y=my, mode="markers", name=name, hovertext=mh, hoverinfo="text",
                            legendrank=2000, marker=dict(symbol=symbol, size=13 if label in _ROLE_SYMBOLS else 12,
                                                         color=color, line=dict(width=1.5, color=color))))
    data = below + data
    shapes = [dict(type="rect", xref="x", yref="y", x0=t0, x1=t1, y0=i - 0.3, y1=i + 0.3, line=dict(width=0),
                   fillcolor="rgba(158, 158, 158, 0.35)", layer="below") for i, t0, t1 in bands]
    shapes += [dict(type="rect", xref="x", yref="y", x0=t0, x1=t1, y0=i - 0.3, y1=i + 0.3, fillcolor="rgba(0, 0, 0, 0)",
                    line=dict(width=1.5, dash="dash", color=ink(theme, "outline")), layer="below") for i, t0, t1 in pauses]
    fig = go.Figure(dict(data=data, layout=dict(
        title=dict(text=f"Timeline {start}–{end} ms: one lane per server, one arrow per message (send → delivery)"),
        template=template(theme), height=160 + 55 * n, hovermode="closest", shapes=shapes,
        xaxis=dict(title=dict(text="virtual time (ms)"), range=[start - 2, end + 2]),
        yaxis=dict(title=dict(text="server"), tickvals=list(range(1, n + 1)), ticktext=[node_name(i) for i in range(1, n + 1)],
                   range=[n + 0.6, 0.4], zeroline=False),
        legend=dict(orientation="h", y=-0.25), margin=dict(l=60, r=20, t=60, b=40),
    )))
    return fig
