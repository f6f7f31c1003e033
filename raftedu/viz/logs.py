"""The logs: a grid of index × server coloured by term (plotly), and the same data as a pandas table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from ..raft import ConfigChange
from ..trace import ClusterView
from .scene import Source, scene_at
from .style import ROLE_COLORS, TERM_COLORSCALE, ink, node_name, template, term_slot, term_text_color

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LOG_WINDOW", "UNCOMMITTED_OPACITY", "CELL_DY", "MARK_DY", "COMPACTED_SYMBOL", "MATCH_SYMBOL", "MATCH_DY",
           "CONFIG_MARK",
           "has_config_entry", "log_window", "log_traces", "panel_traces", "panel_axes", "PANEL_TRACES",
           "log_axes", "log_shapes", "snapshot_shapes", "log_grid", "log_frame"]

LOG_WINDOW = 12
"""How many log indices the cluster picture shows (the newest ones)."""
UNCOMMITTED_OPACITY = 0.3
"""Cells a server has not yet learned are committed are drawn this faint."""
CELL_DY = -0.12
"""Where a server's log cells sit in its row (row ``i`` spans ``i ± 0.5``; S1's row on top)."""
MARK_DY = 0.3
"""Where the leader's matchIndex / nextIndex marks for a follower sit: under that follower's cells, in its own row."""
COMPACTED_SYMBOL = "square-open"
"""A cell a server compacted into its snapshot (dissertation §5.1) is hollow: outlined in its term's colour, still
labelled with the term, and a bar (:func:`snapshot_shapes`) closes the server's snapshot on the right -- never colour
alone."""
MATCH_DY = 0.14
"""Where the tip of a matchIndex mark sits in its follower's row: just under the cells (the arrow hangs below it)."""
MATCH_SYMBOL = "arrow-bar-up"
"""The leader's matchIndex for a follower: a filled arrow pointing up to a bar ("matched up to here"), its tip at the
mark's point. Not a ▲: that is an AppendEntries reply on the ring (issue 29)."""
CONFIG_MARK = "⚙"
"""Added to the term in a cell that holds a configuration (dissertation §4.1: a membership change is a log entry)."""


def has_config_entry(view: ClusterView) -> bool:
    """Whether any server's log holds a configuration entry (the membership changed, dissertation §4.1)."""
    return any(type(e.command) is ConfigChange for node in view.nodes.values() for e in node.log)


def _describe_config(config: ConfigChange) -> str:
    """A configuration in words: ``voters S1, S2, S3; learners S4``."""
    text = "voters " + ", ".join(node_name(i) for i in config.voters)
    return text + ("; learners " + ", ".join(node_name(i) for i in config.learners) if config.learners else "")


def log_window(view: ClusterView, width: int = LOG_WINDOW, step: int = 1) -> int:
    """The first index to show so that the newest indices of the longest log fit in ``width`` columns.

    The window moves ``step`` indices at a time (the explorer moves it by half its width: a moved window means
    new axis labels, which costs the browser a full redraw, so it should happen every few entries, not every one).
    """
    longest = max((len(n.log) for n in view.nodes.values()), default=0)
    if longest <= width:
        return 1
    return 1 + -(-(longest - width) // step) * step


def log_traces(view: ClusterView, first: int, width: int, *, xaxis: str = "x", yaxis: str = "y",
               theme: str = "light") -> list[dict[str, Any]]:
    """Three trace dicts: log cells, the leader's matchIndex marks, the leader's nextIndex marks.

    A cell is coloured by the entry's term (``term_slot`` through
    ``TERM_COLORSCALE``, i.e. ``term_color``) and labelled with it; cells above
    the server's commitIndex are faint. Only indices ``first .. first+width-1``
    are drawn; the order and number of traces never change (animation frames rely on it).
    The marks sit under the follower's own cells (:data:`MARK_DY`); a value
    left of the window -- above all matchIndex 0, "nothing matched yet" -- is
    drawn in the column left of ``first``, which the axis labels ``none`` (or ``≤ first-1``).
    """
    big = len(view.nodes) <= 5
    xs, ys, colors, opac, labels, hover, inks, symbols = [], [], [], [], [], [], [], []
    for i, node in view.nodes.items():
        compacted = node.snapshot_index
        for index in range(first, min(len(node.log), first + width - 1) + 1):
            entry = node.log[index - 1]
            committed = index <= node.commit_index
            xs.append(index)
            ys.append(round(i + CELL_DY, 2))
            colors.append(term_slot(entry.term))
            opac.append(1 if committed else UNCOMMITTED_OPACITY)
            config = type(entry.command) is ConfigChange
            labels.append(f"{entry.term}{CONFIG_MARK}" if config else str(entry.term))
            symbols.append(COMPACTED_SYMBOL if index <= compacted else "square")
            inks.append(term_text_color(entry.term) if committed and index > compacted else ink(theme))
            what = f"configuration ({_describe_config(entry.command)}; dissertation §4.1)" if config else repr(entry.command)
            hover.append(f"{node_name(i)} index {index}: {what} (term {entry.term}), "
                         + ("committed" if committed else "not yet known to be committed")
                         + (f"; compacted into {node_name(i)}'s snapshot (up to index {compacted}): no longer in its "
                            "log" if index <= compacted else ""))
    any_compacted = COMPACTED_SYMBOL in symbols
    cells = dict(type="scatter", x=xs, y=ys, mode="markers+text", text=labels, hovertext=hover, hoverinfo="text",
                 textfont=dict(size=11, color=inks), xaxis=xaxis, yaxis=yaxis, showlegend=False, name="log cells",
                 marker=dict(symbol=symbols if any_compacted else "square", size=22 if big else 17, color=colors,
                             opacity=opac, colorscale=TERM_COLORSCALE, cmin=0.5, cmax=len(TERM_COLORSCALE) // 2 + 0.5,
                             showscale=False,
                             line=dict(width=[3 if s == COMPACTED_SYMBOL else 1 for s in symbols] if any_compacted else 1,
                                       color="rgb(80, 80, 80)")))
    marks = []
    for which, symbol, name, dy in ((0, MATCH_SYMBOL, "leader's matchIndex for this follower", MATCH_DY),
                                    (1, "triangle-up-open", "leader's nextIndex for this follower", MARK_DY)):
        mx, my, mh = [], [], []
        what = "matchIndex" if which == 0 else "nextIndex"
        for leader, table in getattr(view, "progress", {}).items():
            for peer, values in table.items():
                value = values[which]
                mx.append(max(value, first - 1))
                my.append(round(peer + dy, 2))
                note = " (nothing matched yet)" if which == 0 and value == 0 else (
                    f" (left of the window: drawn at {first - 1})" if value < first - 1 else "")
                mh.append(f"{node_name(leader)}'s {what} for {node_name(peer)}: {value}{note}")
        marks.append(dict(type="scatter", x=mx, y=my, mode="markers", hovertext=mh, hoverinfo="text", name=name,
                          xaxis=xaxis, yaxis=yaxis, showlegend=False,
                          marker=dict(symbol=symbol, size=10 if big else 8, color=_mark_colour(which, theme),
                                      line=dict(width=1.5, color=ink(theme, "outline") if which == 0
                                                else _mark_colour(which, theme)))))
    return [cells, *marks]


def _mark_colour(which: int, theme: str) -> str:
    """Colour of a matchIndex (0: a filled arrow up to a bar, outlined in the page's outline ink) or nextIndex (1:
    hollow △) mark: the
    leader's blue, except a hollow △ on a dark page (plotly draws it as a stroke in this colour; blue is 2.2:1 there),
    which takes the outline ink."""
    return ink(theme, "outline") if which == 1 and theme == "dark" else ROLE_COLORS["leader"]


PANEL_TRACES = ("log heading", "server rows", "row lines", "log index", "snapshot bars", "log cells",
                "leader's matchIndex for this follower", "leader's nextIndex for this follower")
"""The traces of the cluster picture's log panel (:func:`panel_traces`), in drawing order."""


def panel_axes(width: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The log panel's (x, y) axes in the cluster picture: the same for every window and every cluster size.

    x counts columns (0: values left of the window, 1..``width``: the window's indices), y runs from the top
    row's edge (0) to the bottom row's edge (1). Every label is a trace (:func:`panel_traces`), so scrolling the
    window or adding a server changes only traces: the browser replots them, not the whole figure (issue 29).
    """
    xaxis = dict(title=dict(text="log index", standoff=22), range=[-0.6, width + 0.6], showticklabels=False,
                 ticks="", zeroline=False, showgrid=False, fixedrange=True)
    yaxis = dict(range=[1, 0], showticklabels=False, ticks="", zeroline=False, showgrid=False, fixedrange=True)
    return xaxis, yaxis


def panel_traces(view: ClusterView, first: int, width: int, *, xaxis: str = "x", yaxis: str = "y",
                 theme: str = "light") -> list[dict[str, Any]]:
    """The log panel of the cluster picture on :func:`panel_axes`: one trace per name of :data:`PANEL_TRACES`.

    The heading (naming ⚙ once a configuration entry exists), the servers' names left of their rows, the thin
    lines between the rows, the index under each column (``none`` or ``≤k`` for the column left of the window), a
    bold bar where each snapshot ends (dissertation §5.1), then :func:`log_traces`' cells and marks, moved into
    columns and rows (row ``i`` of ``n`` spans ``(i-1)/n .. i/n``).
    """
    n = len(view.nodes)
    text = ink(theme)

    def row(y: float) -> float:  # log_traces' row units (row i spans i ± 0.5) -> fractions of the panel's height
        return round((y - 0.5) / n, 4)

    def column(x: int | float | None) -> float | None:
        return None if x is None else x - first + 1

    cells, match, nxt = log_traces(view, first, width, xaxis=xaxis, yaxis=yaxis, theme=theme)
    for trace in (cells, match, nxt):
        trace["x"] = [column(x) for x in trace["x"]]
        trace["y"] = [row(y) for y in trace["y"]]
    lines_x: list[float | None] = []
    lines_y: list[float | None] = []
    for i in range(1, n):
        lines_x += [-0.6, width + 0.6, None]
        lines_y += [i / n, i / n, None]
    bars_x: list[float | None] = []
    bars_y: list[float | None] = []
    for i, node in view.nodes.items():
        edge = node.snapshot_index + 0.5
        if node.snapshot is not None and first <= edge <= first + width - 1:
            bars_x += [column(edge), column(edge), None]
            bars_y += [row(i + CELL_DY - 0.4), row(i + CELL_DY + 0.4), None]
    heading = "Logs (cell colour and number = term" + (f"; {CONFIG_MARK} = configuration entry)"
                                                       if has_config_entry(view) else ")")
    ticks = ["none" if first == 1 else f"≤{first - 1}"] + [str(k) for k in range(first, first + width)]
    # Every text sits on the axes' edge and grows outwards: plotly.js hides a point outside the axis ranges.
    on = dict(xaxis=xaxis, yaxis=yaxis, hoverinfo="skip", showlegend=False, cliponaxis=False)
    return [
        dict(type="scatter", x=[-0.6], y=[0], mode="text", text=[heading], textposition="top right",
             textfont=dict(size=13, color=text), name="log heading", **on),
        dict(type="scatter", x=[-0.6] * n, y=[row(i) for i in view.nodes], mode="text",
             text=[node_name(i) for i in view.nodes], textposition="middle left", textfont=dict(size=12, color=text),
             name="server rows", **on),
        dict(type="scatter", x=lines_x or [None], y=lines_y or [None], mode="lines",
             line=dict(color=ink(theme, "faint"), width=1), name="row lines", **on),
        dict(type="scatter", x=list(range(width + 1)), y=[1] * (width + 1), mode="text", text=ticks,
             textposition="bottom center", textfont=dict(size=12, color=text), name="log index", **on),
        dict(type="scatter", x=bars_x or [None], y=bars_y or [None], mode="lines", line=dict(color=text, width=4),
             name="snapshot bars", **on),
        cells, match, nxt,
    ]


def log_axes(n: int, first: int, width: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Layout of the (x, y) axes of a log grid: index across, servers down (S1 on top).

    The column left of ``first`` holds marks for values before the window:
    labelled ``none`` when the window starts at index 1 (matchIndex 0).
    """
    ticks = list(range(first - 1, first + width))
    text = ["none" if first == 1 else f"≤{first - 1}"] + [str(k) for k in ticks[1:]]
    xaxis = dict(title=dict(text="log index"), range=[first - 1.6, first + width - 0.4], tickvals=ticks, ticktext=text,
                 zeroline=False, showgrid=False, fixedrange=True)
    yaxis = dict(range=[n + 0.5, 0.5], tickvals=list(range(1, n + 1)), ticktext=[node_name(i) for i in range(1, n + 1)],
                 zeroline=False, showgrid=False, fixedrange=True)
    return xaxis, yaxis


def log_shapes(n: int, *, xaxis: str = "x", yaxis: str = "y", theme: str = "light") -> list[dict[str, Any]]:
    """Thin lines between the servers' rows, so each row's cells and marks read as one row."""
    return [dict(type="line", xref=f"{xaxis} domain", yref=yaxis, x0=0, x1=1, y0=i + 0.5, y1=i + 0.5, layer="below",
                 line=dict(color=ink(theme, "faint"), width=1)) for i in range(1, n)]


def snapshot_shapes(view: ClusterView, first: int, width: int, *, xaxis: str = "x", yaxis: str = "y",
                    theme: str = "light") -> list[dict[str, Any]]:
    """A bold bar in each server's row just right of the last index its snapshot replaced (dissertation §5.1),
    when that boundary is inside the window: left of it the server holds a snapshot, right of it its log."""
    return [dict(type="line", xref=xaxis, yref=yaxis, x0=node.snapshot_index + 0.5, x1=node.snapshot_index + 0.5,
                 y0=i + CELL_DY - 0.4, y1=i + CELL_DY + 0.4, line=dict(color=ink(theme), width=4))
            for i, node in view.nodes.items() if node.snapshot is not None
            and first <= node.snapshot_index + 0.5 <= first + width - 1]


def log_grid(source: Source, time: int | None = None, *, theme: str = "light") -> go.Figure:
    """A figure of every server's log at ``time`` (end of trace when None): index × server, coloured by term.

    Faint cells are not yet known to be committed on that server; under a
    follower's cells, the leader's matchIndex (a filled arrow up to a bar) and
    nextIndex (a hollow triangle). ``theme`` is ``"light"`` or ``"dark"`` (JupyterLab's page theme).
    """
    view = scene_at(source, time)
    width = max(8, max((len(n.log) for n in view.nodes.values()), default=0))
    n = len(view.nodes)
    xaxis, yaxis = log_axes(n, 1, width)
    fig = go.Figure(log_traces(view, 1, width, theme=theme))
    title = f"Logs at t = {view.time} ms (colour and number = term; faint = not known committed by its server yet)"
    if has_config_entry(view):
        title += f"<br>{CONFIG_MARK} = a configuration entry: who votes, who only listens (dissertation §4.1)"
    if any(node.snapshot is not None for node in view.nodes.values()):
        title += "<br>hollow = compacted into the server's snapshot; bar = where its snapshot ends (dissertation §5.1)"
    fig.update_layout(title=dict(text=title), xaxis=xaxis, yaxis=yaxis, height=120 + 50 * n, template=template(theme),
                      shapes=log_shapes(n, theme=theme) + snapshot_shapes(view, 1, width, theme=theme),
                      margin=dict(l=50, r=20, t=60, b=50), legend=dict(orientation="h", y=-0.25))
    return fig


def log_frame(source: Source, time: int | None = None, *, commands: bool = False) -> "pd.DataFrame":
    """The logs at ``time`` as a DataFrame: one row per server (``S1``...), one column per index.

    Cells hold the entry's term (``<NA>`` where a log is shorter), or with
    ``commands=True`` strings like ``"t2 'x=1'"``. Columns ``commit_index``
    and ``alive`` are appended so the table says what the grid's faint cells say, and ``snapshot_index`` (the
    hollow cells) once a server holds a snapshot.
    """
    import pandas as pd

    view = scene_at(source, time)
    width = max((len(n.log) for n in view.nodes.values()), default=0)
    rows = {}
    for i, node in view.nodes.items():
        cells: list[Any] = [
            (f"t{e.term} {e.command!r}" if commands else e.term) for e in node.log
        ] + [pd.NA] * (width - len(node.log))
        rows[node_name(i)] = cells + [node.commit_index, node.alive]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=[*range(1, width + 1), "commit_index", "alive"])
    if not commands:
        frame[list(range(1, width + 1))] = frame[list(range(1, width + 1))].astype("Int64")
    if any(node.snapshot is not None for node in view.nodes.values()):
        frame["snapshot_index"] = [node.snapshot_index for node in view.nodes.values()]
    frame.index.name = "server"
    return frame
