"""A picture of a client history: one row per operation, in invocation order, the checker's verdict on top.

Each operation is a bar from its invocation to its response, on its own row
labelled ``op 3 · client 102: put('k0', 93) → ok @1`` -- so labels never
overlap, whatever the timing, and a long operation (say, a first request
that waited for an election) stretches its own bar only. An operation
without a response (the client gave up) is drawn open to the right edge.
When the checker found the history not linearizable, the operations of its
explanation are coloured: the order it could build, and the operation that
cannot follow it. Times are whole virtual milliseconds and are shown as such.
"""

from __future__ import annotations

import plotly.graph_objects as go

from ..linearizability import CheckResult, History, Operation

__all__ = ["history_figure", "HISTORY_COLORS", "operation_label"]

HISTORY_COLORS = {
    "ok": "#0072b2",
    "timeout": "#999999",
    "ordered": "#e69f00",
    "stuck": "#000000",
}
"""Bar colours: answered; never answered; ordered by the checker before it got stuck; cannot come next."""
LABELS = {
    "ok": "answered",
    "timeout": "no answer (may or may not have happened)",
    "ordered": "ordered by the checker before it got stuck",
    "stuck": "cannot be ordered next (the violation)",
}
PATTERNS = {"ok": "", "timeout": "/", "ordered": ".", "stuck": "x"}
"""Bar fill patterns, so the kinds differ in more than colour."""
ROW_PX = 24
"""Height of one operation's row, in pixels (the 11-12 px labels need about 15)."""


def _ms(t: float) -> str:
    """A time in ms as a whole number when it is one (``610``, not ``610.0`` or ``6.1e+02``)."""
    return f"{int(t):,}" if float(t).is_integer() else f"{t:,.1f}"


def operation_label(o: Operation) -> str:
    """The row label of one operation: ``op 3 · client 102: put('k0', 93) → ok @1``."""
    outcome = o.result.describe(o.op) if o.result is not None else "no answer"
    return f"op {o.id} · client {o.client}: {o.op} → {outcome}"


def history_figure(history: History, result: CheckResult | None = None, title: str | None = None) -> go.Figure:
    """Draw ``history`` (and, if given, the checker's ``result``) as one bar per operation on a time axis."""
    ops = sorted(history, key=lambda o: (o.invoke, o.id))
    start = min([o.invoke for o in ops], default=0)
    end = max([o.response if o.response is not None else o.invoke for o in ops] + [start + 1])
    end += max(0.04 * (end - start), 1)
    why = result.explanation if result is not None else None
    ordered = set(why.linearized) if why is not None else set()
    stuck = set(why.stuck) if why is not None else set()
    rows = [operation_label(o) for o in ops]
    groups: dict[str, list[Operation]] = {kind: [] for kind in HISTORY_COLORS}
    for o in ops:
        kind = "stuck" if o.id in stuck else "ordered" if o.id in ordered else "ok" if o.status == "ok" else "timeout"
        groups[kind].append(o)
    fig = go.Figure()
    for kind, members in groups.items():
        if not members:
            continue
        fig.add_trace(go.Bar(
            name=LABELS[kind],
            y=[operation_label(o) for o in members],
            x=[max((o.response if o.response is not None else end) - o.invoke, (end - start) * 0.004) for o in members],
            base=[o.invoke for o in members],
            orientation="h",
            width=0.7,
            marker={"color": HISTORY_COLORS[kind], "pattern": {"shape": PATTERNS[kind], "fgcolor": "white"},
                    "line": {"width": 2 if kind == "stuck" else 0, "color": "#7f0000"}},
            hovertext=[f"op {o.id}, client {o.client}: {o.op}<br>invoked at {_ms(o.invoke)} ms, "
                       + (f"answered at {_ms(o.response)} ms ({_ms(o.response - o.invoke)} ms later)"
                          if o.response is not None else "never answered") for o in members],
            hoverinfo="text",
        ))
    verdict = "" if result is None else (" — linearizable" if result.linearizable
                                         else " — NOT linearizable" if result.linearizable is False else " — unknown")
    note = str(why).replace("\n", "<br>") if why is not None else ""
    top = 50 + (18 * (note.count("<br>") + 1) + 10 if note else 0)
    plot = max(ROW_PX * len(ops), 150)
    fig.update_layout(
        title=title or f"Client history ({len(ops)} operations, in the order they were invoked){verdict}",
        barmode="overlay",
        xaxis={"title": "virtual time (ms)", "range": [start - 0.01 * (end - start), end], "tickformat": ",d"},
        yaxis={"title": "", "categoryorder": "array", "categoryarray": list(reversed(rows)), "tickfont": {"size": 12},
               "automargin": True},
        legend={"orientation": "h", "yanchor": "top", "y": -65 / plot, "x": 0, "font": {"size": 12}},
        height=top + 130 + plot,
        margin={"l": 10, "r": 20, "t": top, "b": 90},
    )
    if note:
        fig.add_annotation(text=note, xref="paper", yref="paper", x=0, y=1.0, yanchor="bottom", showarrow=False,
                           align="left", font={"size": 12})
    return fig
