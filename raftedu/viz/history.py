"""A picture of a client history: one lane per client, one bar per operation, the checker's verdict on top.

Each operation is a bar from its invocation to its response; an operation
without a response (the client gave up) is drawn open to the right edge.
When the checker found the history not linearizable, the operations of its
explanation are drawn in red: the order it could build and the operation
that cannot follow it.
"""

from __future__ import annotations

import plotly.graph_objects as go

from ..linearizability import CheckResult, History

__all__ = ["history_figure", "HISTORY_COLORS"]

HISTORY_COLORS = {
    "ok": "#4c78a8",
    "timeout": "#bab0ac",
    "ordered": "#f2a541",
    "stuck": "#e45756",
}
"""Bar colours: answered; never answered; ordered by the checker before it got stuck; cannot come next."""
LABELS = {
    "ok": "answered",
    "timeout": "no answer (may or may not have happened)",
    "ordered": "ordered by the checker before it got stuck",
    "stuck": "cannot be ordered next (the violation)",
}


def history_figure(history: History, result: CheckResult | None = None, title: str | None = None) -> go.Figure:
    """Draw ``history`` (and, if given, the checker's ``result``) as a client timeline."""
    ops = list(history)
    clients = sorted({o.client for o in ops}, key=str)
    end = max([o.response or o.invoke for o in ops] + [0]) * 1.02 + 1
    why = result.explanation if result is not None else None
    ordered = set(why.linearized) if why is not None else set()
    stuck = set(why.stuck) if why is not None else set()
    groups: dict[str, list] = {kind: [] for kind in HISTORY_COLORS}
    for o in ops:
        kind = "stuck" if o.id in stuck else "ordered" if o.id in ordered else "ok" if o.status == "ok" else "timeout"
        groups[kind].append(o)
    fig = go.Figure()
    for kind, members in groups.items():
        if not members:
            continue
        fig.add_trace(go.Bar(
            name=LABELS[kind],
            y=[f"client {o.client}" for o in members],
            x=[(o.response if o.response is not None else end) - o.invoke for o in members],
            base=[o.invoke for o in members],
            orientation="h",
            marker={"color": HISTORY_COLORS[kind], "line": {"width": 2 if kind == "stuck" else 0, "color": "#7f0000"}},
            text=[f"{o.op} → {o.result if o.result is not None else o.status}" for o in members],
            textposition="outside",
            cliponaxis=False,
            hovertext=[f"op {o.id}: {o}<br>invoked {o.invoke:g} ms, "
                       + (f"answered {o.response:g} ms" if o.response is not None else "never answered")
                       for o in members],
            hoverinfo="text",
        ))
    verdict = "" if result is None else (" — linearizable" if result.linearizable
                                         else " — NOT linearizable" if result.linearizable is False else " — unknown")
    fig.update_layout(
        title=title or f"Client history ({len(ops)} operations){verdict}",
        barmode="overlay",
        xaxis_title="virtual time (ms)",
        yaxis={"title": "", "categoryorder": "array", "categoryarray": [f"client {c}" for c in reversed(clients)]},
        legend={"orientation": "h", "yanchor": "top", "y": -0.35, "x": 0},
        height=260 + 45 * len(clients),
        margin={"l": 90, "r": 140, "t": 50, "b": 40},
    )
    if why is not None:
        fig.add_annotation(text=str(why).replace("\n", "<br>"), xref="paper", yref="paper",
                           x=0, y=1.0, yanchor="bottom", showarrow=False, align="left", font={"size": 11})
        fig.update_layout(margin={"t": 110})
    return fig
