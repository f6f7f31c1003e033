"""Configurations over time (dissertation ch. 4): which configuration each server uses, from the trace alone.

:func:`configuration_timeline` draws one lane per server and, along it, a bar for each stretch of time in which the
server used one configuration -- the latest configuration entry in its log, committed or not (§4.1). Each distinct
configuration gets a name (C0 for the servers the run started with, then C1, C2, ... in order of appearance), a colour
from Okabe and Ito's palette *and* its name written on the bar, so colour is never the only cue; the legend spells out
its voters and learners. A diamond marks the moment a server learned that the entry holding its configuration is
committed, a star the moment a server became leader; a grey hatched bar is a server that is down, and a lane ends
where a removed server shut down.

:func:`configurations` gives the same facts as a list of :class:`Stretch` records, for tests and for students who
prefer numbers to pictures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from ..raft import ConfigChange, Event
from .style import OKABE_ITO, ROLE_COLORS, node_name

__all__ = ["Stretch", "configuration_names", "configurations", "configuration_timeline"]

_PALETTE = ("sky blue", "orange", "bluish green", "reddish purple", "yellow", "vermillion", "blue")
_DOWN = "rgb(190, 190, 190)"


@dataclass(frozen=True)
class Stretch:
    """One server using one configuration from ``start`` to ``end`` (virtual ms), or being down (``config`` None)."""

    node: int
    start: int
    end: int
    config: ConfigChange | None
    index: int
    """Log index of the entry holding ``config`` (0: the servers the run started with)."""
    committed_at: int | None
    """When this server learned that entry ``index`` is committed (None: not while it used it)."""


def _describe(config: ConfigChange) -> str:
    """``voters S1, S2, S3; learners S4`` (learners left out when there are none)."""
    text = "voters " + ", ".join(node_name(i) for i in config.voters)
    return text + ("; learners " + ", ".join(node_name(i) for i in config.learners) if config.learners else "")


def configurations(trace: Iterable[Event]) -> list[Stretch]:  # noqa: C901 - one branch per event kind
    """Every server's configurations over time, read from ``trace`` (its ``start``, ``config``, ``commit``,
    ``crash``, ``restart``, ``server_added`` and ``server_removed`` events).

    A server uses the latest configuration in its log from the moment it is there (§4.1); until its first ``config``
    event that is the run's initial configuration (every server it started with votes). A crash ends a stretch and
    starts a ``config=None`` one until the restart, after which the server uses the configuration in its log again.
    """
    events = list(trace)
    if not events or events[0].kind != "start":
        raise ValueError("configurations() needs a whole trace, from its 'start' event (e.g. cluster.trace)")
    n = dict(events[0].value)["n"]
    initial = ConfigChange(tuple(range(1, n + 1)))
    end = events[-1].time
    stretches: list[Stretch] = []
    current: dict[int, list[Any]] = {i: [0, initial, 0, None] for i in range(1, n + 1)}  # start, config, index, committed
    in_log: dict[int, tuple[ConfigChange, int]] = {i: (initial, 0) for i in range(1, n + 1)}
    commit: dict[int, int] = {}

    def close(i: int, t: int) -> None:
        start, config, index, committed = current.pop(i)
        if t > start:
            stretches.append(Stretch(i, start, t, config, index, committed))

    added: set[int] = set()  # servers added during the run: drawn from the first configuration in their log
    for e in events:
        i = e.node
        if e.kind == "server_added":
            added.add(i)
        elif e.kind == "config" and (i in current or i in added):
            added.discard(i)
            if i in current:
                close(i, e.time)
            in_log[i] = (e.value, e.index)
            known = commit.get(i, 0) >= e.index
            current[i] = [e.time, e.value, e.index, e.time if known else None]
        elif e.kind == "commit" and i in current:
            commit[i] = max(commit.get(i, 0), e.index)
            state = current[i]
            if state[1] is not None and state[3] is None and e.index >= state[2]:
                state[3] = e.time
        elif e.kind == "crash" and i in current:
            close(i, e.time)
            commit.pop(i, None)  # commitIndex is volatile (Figure 2)
            current[i] = [e.time, None, 0, None]
        elif e.kind == "restart" and i in current:
            close(i, e.time)
            config, index = in_log[i]
            current[i] = [e.time, config, index, e.time if index == 0 else None]
        elif e.kind == "server_removed" and i in current:
            close(i, e.time)
    for i in sorted(current):
        close(i, end)
    return sorted(stretches, key=lambda s: (s.node, s.start))


def configuration_names(stretches: Iterable[Stretch]) -> dict[ConfigChange, str]:
    """C0, C1, ... for each distinct configuration, in order of first appearance (C0: the initial one)."""
    names: dict[ConfigChange, str] = {}
    for s in sorted(stretches, key=lambda s: (s.start, s.index, s.node)):
        if s.config is not None and s.config not in names:
            names[s.config] = f"C{len(names)}"
    return names


def configuration_timeline(trace: Iterable[Event], *, title: str | None = None,
                           steps: Iterable[tuple[int, str]] = ()) -> go.Figure:
    """A lane per server, a labelled bar per configuration it used, over virtual time (see the module docstring).

    ``steps`` are ``(time, label)`` pairs drawn as dotted vertical lines with their label on top, e.g. the steps of
    a scripted scenario (``"(1)"``, ``"(2)"``, ...).
    """
    events = list(trace)
    stretches = configurations(events)
    names = configuration_names(stretches)
    servers = sorted({s.node for s in stretches})
    fig = go.Figure()
    for k, (config, name) in enumerate(names.items()):
        colour = OKABE_ITO[_PALETTE[k % len(_PALETTE)]]
        mine = [s for s in stretches if s.config == config]
        fig.add_trace(go.Bar(
            y=[node_name(s.node) for s in mine], x=[max(s.end - s.start, 1) for s in mine],
            base=[s.start for s in mine], orientation="h", name=f"{name}: {_describe(config)}",
            marker=dict(color=colour, line=dict(color="rgb(60, 60, 60)", width=1)),
            text=[name] * len(mine), textposition="inside", insidetextanchor="end",
            textfont=dict(color="black", size=13),
            hovertemplate=[f"{node_name(s.node)} uses {name} ({_describe(config)}) from {s.start} to {s.end} ms<br>"
                           + (f"held in its log at index {s.index}; " if s.index else "the initial servers; ")
                           + (f"known committed from {s.committed_at} ms" if s.committed_at is not None
                              else "not known committed")
                           + "<extra></extra>" for s in mine]))
    down = [s for s in stretches if s.config is None]
    if down:
        fig.add_trace(go.Bar(
            y=[node_name(s.node) for s in down], x=[max(s.end - s.start, 1) for s in down],
            base=[s.start for s in down], orientation="h", name="down (crashed)",
            marker=dict(color=_DOWN, pattern=dict(shape="/"), line=dict(color="rgb(60, 60, 60)", width=1)),
            text=["down"] * len(down), textposition="inside", insidetextanchor="middle",
            hovertemplate=[f"{node_name(s.node)} down from {s.start} to {s.end} ms<extra></extra>" for s in down]))
    committed = [s for s in stretches if s.committed_at is not None and s.index > 0]
    if committed:
        fig.add_trace(go.Scatter(
            y=[node_name(s.node) for s in committed], x=[s.committed_at for s in committed], mode="markers",
            name="◆ this server learns its configuration's entry is committed",
            marker=dict(symbol="diamond", size=11, color="white", line=dict(color="black", width=2)),
            hovertemplate=[f"{node_name(s.node)}: the entry at index {s.index} ({names[s.config]}) is committed "
                           f"(known from {s.committed_at} ms)<extra></extra>" for s in committed]))
    leaders = [e for e in events if e.kind == "role" and e.value == "leader"]
    if leaders:
        fig.add_trace(go.Scatter(
            y=[node_name(e.node) for e in leaders], x=[e.time for e in leaders], mode="markers",
            name="★ becomes leader (term in the hover)",
            marker=dict(symbol="star", size=14, color=ROLE_COLORS["leader"], line=dict(color="white", width=1)),
            hovertemplate=[f"{node_name(e.node)} becomes leader of term {e.term} at {e.time} ms<extra></extra>"
                           for e in leaders]))
    removed = [e for e in events if e.kind == "server_removed"]
    for e in removed:
        fig.add_annotation(x=e.time, y=node_name(e.node), text="removed", showarrow=False, xanchor="left",
                           font=dict(size=11))
    for k, (t, label) in enumerate(steps):  # labels of neighbouring steps alternate between two heights
        fig.add_vline(x=t, line=dict(color="rgb(90, 90, 90)", dash="dot", width=1))
        fig.add_annotation(x=t, y=1.0, yref="paper", text=label, showarrow=False, yanchor="bottom", yshift=16 * (k % 2),
                           font=dict(size=12))
    fig.update_layout(
        barmode="overlay", template="plotly_white", height=140 + 42 * len(servers),
        title=dict(text=title or "Configurations over time: the latest configuration in each server's log (§4.1)",
                   font=dict(size=15)),
        xaxis=dict(title="virtual time (ms)", rangemode="tozero"),
        yaxis=dict(title="server", categoryorder="array", categoryarray=[node_name(i) for i in reversed(servers)]),
        legend=dict(orientation="h", yanchor="top", y=-0.25, x=0, title_text="each bar names its configuration:"),
        margin=dict(l=60, r=20, t=90, b=40))
    return fig
