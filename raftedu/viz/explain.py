"""A counterexample drawn: the timeline with the events that broke the property ringed and the schedule's items marked,
and the cluster at the key moments (a function of the explanation's data: its trace, culprits, moments and words)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from .cluster import cluster_figure
from .style import OKABE_ITO, check_theme, ink
from .timeline import timeline

__all__ = ["explain_figure", "explain_figures"]

_RING = OKABE_ITO["vermillion"]


def _lane(e: Any) -> int | None:
    """The server lane an event belongs on (a send sits on its sender's lane)."""
    return e.node if e.node is not None else e.peer


def explain_figure(explanation: Any, *, theme: str = "light") -> go.Figure:
    """The timeline of a counterexample (:meth:`raftedu.explore.Counterexample.explain`'s result).

    Every message is an arrow as in :func:`raftedu.viz.timeline`; the events
    of the step that broke the property are ringed (large open circles, the
    last one with a ✕ and the property's name), and each schedule item is a
    dotted vertical line numbered as in the explanation's list (a model
    check's run is drawn from the time its steps began). Hovering a
    ring names the event and the method of the node class that produced it.
    """
    check_theme(theme)
    events = list(explanation.trace.events)
    since = getattr(explanation, "since", 0)
    fig = timeline(events, start=since, theme=theme)
    xs, ys, hover = [], [], []
    for k in explanation.culprits:
        e = events[k]
        lane = _lane(e)
        if lane is None:
            continue
        xs.append(e.time)
        ys.append(lane)
        method = explanation.methods.get(k)
        hover.append(f"{e.time} ms: {e.text or e.kind}" + (f"<br>method: {method}" if method else "")
                     + (f"<br>rule: {e.rule}" if e.rule else ""))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="the step that broke it (ringed)", hovertext=hover,
                             hoverinfo="text", marker=dict(symbol="circle-open", size=26, color=_RING,
                                                           line=dict(width=3, color=_RING))))
    last = events[explanation.culprits[-1]]
    prop = explanation.violation.property
    if _lane(last) is not None:
        fig.add_trace(go.Scatter(x=[last.time], y=[_lane(last)], mode="markers+text", name=f"✕ {prop} broke here",
                                 text=[f"✕ {prop}"], textposition="top right",
                                 textfont=dict(color=_RING, size=14), hoverinfo="skip",
                                 marker=dict(symbol="x-thin-open", size=18, color=_RING, line=dict(width=3,
                                                                                                   color=_RING))))
    schedule = explanation.counterexample.schedule
    at: dict[int, list[str]] = {}
    if not getattr(explanation.counterexample, "stepped", False):  # a model check's steps have no times of their own
        for k, item in enumerate(schedule, 1):
            at.setdefault(item[0], []).append(str(k))
    for t, numbers in at.items():
        fig.add_vline(x=t, line=dict(color=ink(theme, "outline"), width=1, dash="dot"))
        fig.add_annotation(x=t, y=1, yref="paper", yanchor="bottom", text=",".join(numbers), showarrow=False,
                           font=dict(size=11, color=ink(theme)))
    fig.update_layout(title=dict(text=f"{prop} broke at t={explanation.violation.time} ms after "
                                      f"{len(schedule)} schedule item(s) (dotted lines, numbered)<br><sup>ringed: the "
                                      "step that broke it; arrows: messages, send → delivery</sup>"),
                      legend=dict(orientation="h", y=-0.2, yanchor="top"), margin=dict(t=100, b=40),
                      height=max(fig.layout.height or 0, 300) + 160)
    return fig


def explain_figures(explanation: Any, *, theme: str = "light", pictures: int = 3) -> list[go.Figure]:
    """The timeline (:func:`explain_figure`) and the cluster at up to ``pictures`` key moments: the last ones before
    the violation at which a schedule item acted, and the moment it broke."""
    check_theme(theme)
    if isinstance(pictures, bool) or not isinstance(pictures, int) or pictures < 1:
        raise ValueError(f"pictures must be a whole number >= 1; got {pictures!r}")
    moments = list(explanation.moments)[-pictures:]
    figures = [explain_figure(explanation, theme=theme)]
    for t in moments:
        when = f"the moment it broke, t={t} ms" if t == moments[-1] else f"t={t} ms"
        figures.append(cluster_figure(explanation.trace, t, theme=theme, title=f"The cluster at {when}"))
    return figures
