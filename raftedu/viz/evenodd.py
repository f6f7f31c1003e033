"""Pictures of the even-vs-odd lab (plotly only): each figure is a function of a DataFrame.

The frames come from :mod:`raftedu.experiments` (this module never touches the
simulator). One colour code runs through every figure:

* **odd N** in :data:`ODD_COLOR` (blue), **even N** in :data:`EVEN_COLOR`
  (orange) -- even sizes are also drawn dashed or hatched where a line or bar
  could be confused;
* a side of a partition that **commits** in :data:`PROGRESS_COLOR` (sky blue),
  one that is **stuck** in :data:`STUCK_COLOR` (vermillion) -- Okabe-Ito colours, told apart with any
  colour-vision deficiency (tests/test_colours.py).

Figures: :func:`tolerance_figure` (measured tolerance vs N beside etcd's
table), :func:`availability_figure` (unavailability vs p, log scales, N=2k-1 beside N=2k),
:func:`partition_gallery` (small multiples of splits) and
:func:`recovery_figure` (re-election time distributions).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..raft import majority
from .style import template

__all__ = [
    "ODD_COLOR",
    "EVEN_COLOR",
    "PROGRESS_COLOR",
    "STUCK_COLOR",
    "parity_color",
    "tolerance_figure",
    "availability_figure",
    "partition_gallery",
    "recovery_figure",
    "verdicts_figure",
]

ODD_COLOR = "#0072b2"
"""Colour of odd cluster sizes (Okabe-Ito blue)."""
EVEN_COLOR = "#e69f00"
"""Colour of even cluster sizes (orange)."""
PROGRESS_COLOR = "#56b4e9"
"""Colour of a partition side that commits a client command (Okabe-Ito sky blue)."""
STUCK_COLOR = "#d55e00"
"""Colour of a partition side that cannot commit (Okabe-Ito vermillion)."""

_PER_ROW = 5  # nodes per row inside a group of a gallery panel
_ROW_STEP = 1.0  # vertical distance between those rows (room for the labels)
_PROGRESS_FILL = "rgba(86, 180, 233, 0.15)"
_STUCK_FILL = "rgba(213, 94, 0, 0.12)"
_NUDGE = 1.06  # simulated points of N=2k-1 and N=2k sit this factor left and right of their p

def parity_color(n: int) -> str:
    """:data:`ODD_COLOR` for odd ``n``, :data:`EVEN_COLOR` for even ``n``."""
    return ODD_COLOR if n % 2 else EVEN_COLOR


def _require(frame: pd.DataFrame, columns: Iterable[str], made_by: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame from raftedu.experiments.{made_by}; got {type(frame).__name__}")
    missing = sorted(set(columns) - set(frame.columns))
    if missing:
        raise ValueError(f"this figure needs the frame made by raftedu.experiments.{made_by}; missing columns {missing}")
    if frame.empty:
        raise ValueError(f"the frame is empty: run raftedu.experiments.{made_by} with at least one cluster size")


def tolerance_figure(tolerance: pd.DataFrame) -> go.Figure:
    """Measured failure tolerance per N (bars, odd and even coloured apart) next to etcd's table.

    ``tolerance`` is :func:`raftedu.experiments.derived_tolerance`'s frame.
    The black diamonds mark T = (N-1)//2, the tolerance etcd's table lists; the table gives
    N, majority M = N//2+1 and T, computed for every N of the frame (etcd's own table stops at 9),
    with even rows shaded orange.
    """
    _require(tolerance, ["n", "measured_tolerance"], "derived_tolerance")
    if tolerance["n"].duplicated().any():
        raise ValueError("one row per N, please: this frame mixes several kinds of victims; pick one, "
                         "e.g. tolerance[tolerance['victims'] == 'random']")
    df = tolerance.sort_values("n")
    ns = [int(n) for n in df["n"]]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], horizontal_spacing=0.06,
                        specs=[[{"type": "xy"}, {"type": "table"}]],
                        subplot_titles=("Crashes survived, measured by the simulator",
                                        "etcd's table (computed; etcd lists N ≤ 9)"))
    for parity, color, pattern in (("odd", ODD_COLOR, ""), ("even", EVEN_COLOR, "/")):
        part = df[df["n"] % 2 == (1 if parity == "odd" else 0)]
        fig.add_trace(go.Bar(
            x=part["n"], y=part["measured_tolerance"], name=f"{parity} N (measured)", marker_color=color,
            marker_pattern_shape=pattern, text=part["measured_tolerance"], textposition="outside",
            hovertemplate="N=%{x}: survives %{y} crash(es)<extra>" + parity + "</extra>",
        ), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=ns, y=[(n - 1) // 2 for n in ns], mode="markers", name="T = (N-1)//2, the table's tolerance",
        marker={"symbol": "diamond", "color": "black", "size": 9},
    ), row=1, col=1)
    fill = [["#fdebd0" if n % 2 == 0 else "white" for n in ns]] * 3
    fig.add_trace(go.Table(
        header={"values": ["N", "majority M = N//2+1", "tolerance T = (N-1)//2"], "fill_color": "#eeeeee"},
        cells={"values": [ns, [majority(n) for n in ns], [(n - 1) // 2 for n in ns]], "fill_color": fill},
    ), row=1, col=2)
    fig.add_annotation(text="orange rows: even N -- same T as the odd N above,<br>but one more vote needed (M)",
                       x=0.81, y=0.0, xref="paper", yref="paper", xanchor="center", yanchor="top",
                       showarrow=False, font={"size": 11, "color": EVEN_COLOR})
    fig.update_xaxes(title_text="cluster size N", dtick=1, row=1, col=1)
    fig.update_yaxes(title_text="failure tolerance (nodes that may crash)", dtick=1, rangemode="tozero", row=1, col=1)
    fig.update_layout(template=template(),
        title="Even sizes buy nothing: N=2k tolerates as many crashes as N=2k-1",
        barmode="group", legend={"orientation": "h", "y": -0.2}, height=460,
    )
    return fig


def _availability_floor(closed_form: pd.DataFrame, monte_carlo: pd.DataFrame | None) -> float:
    """A power of ten below every positive value drawn: where cells with no unavailable sample are placed."""
    values = [v for v in closed_form["unavailable"] if v > 0]
    if monte_carlo is not None:
        values += [v for v in monte_carlo["ci_low"] if v > 0] + [v for v in monte_carlo["ci_high"] if v > 0]
    return 10.0 ** (math.floor(math.log10(min(values, default=1e-3))) - 1)


def availability_figure(closed_form: pd.DataFrame, monte_carlo: pd.DataFrame | None = None) -> go.Figure:
    """Unavailability (probability that no majority is up) vs per-node failure probability p: N=2k-1 beside N=2k.

    One panel per pair (N=1 vs 2, 3 vs 4, ...), log-log, with the closed form
    of :func:`raftedu.experiments.availability_closed_form` as lines: the odd
    size solid teal, the even size dashed orange. With ``monte_carlo`` (from
    :func:`~raftedu.experiments.availability_monte_carlo`) the simulator's
    estimates are drawn as points with their confidence intervals; a cell
    where no sample was unavailable cannot sit on a log axis at 0, so it is
    drawn as a triangle at the bottom of the axis (the "floor") with its bar
    reaching up to the interval's upper end -- shown, not dropped. The
    simulated points of the two sizes sit a few percent left (odd) and right
    (even) of their p so that both intervals show; the hover gives the exact p.
    """
    _require(closed_form, ["n", "p", "unavailable"], "availability_closed_form")
    if monte_carlo is not None:
        _require(monte_carlo, ["n", "p", "samples", "unavailable_samples", "unavailable", "ci_low", "ci_high"],
                 "availability_monte_carlo")
    sizes = sorted({int(n) for n in closed_form["n"]} | ({int(n) for n in monte_carlo["n"]} if monte_carlo is not None else set()))
    pairs = sorted({(n + 1) // 2 for n in sizes})
    floor = _availability_floor(closed_form, monte_carlo)
    fig = make_subplots(rows=1, cols=len(pairs), shared_yaxes=True, horizontal_spacing=0.035,
                        subplot_titles=[f"N={2 * k - 1} vs N={2 * k}" for k in pairs])
    shown: set[str] = set()

    def legend(name: str) -> dict[str, object]:
        first = name not in shown
        shown.add(name)
        return {"name": name, "legendgroup": name, "showlegend": first}

    for col, k in enumerate(pairs, start=1):
        for n in (2 * k - 1, 2 * k):
            parity = "odd" if n % 2 else "even"
            part = closed_form[(closed_form["n"] == n) & (closed_form["unavailable"] > 0)].sort_values("p")
            if not part.empty:
                fig.add_trace(go.Scatter(
                    x=part["p"], y=part["unavailable"], mode="lines",
                    line={"color": parity_color(n), "dash": "solid" if n % 2 else "dash", "width": 2.5},
                    hovertemplate=f"N={n} ({parity}), p=%{{x}}: unavailable %{{y:.3g}} (closed form)<extra></extra>",
                    **legend(f"{parity} N{' = 2k-1' if n % 2 else ' = 2k'}: closed form"),
                ), row=1, col=col)
            if monte_carlo is None:
                continue
            sim = monte_carlo[monte_carlo["n"] == n].sort_values("p")
            for zero in (False, True):
                cells = sim[(sim["unavailable_samples"] == 0) == zero]
                if cells.empty:
                    continue
                y = [floor] * len(cells) if zero else list(cells["unavailable"])
                fig.add_trace(go.Scatter(  # nudged apart in x (odd left, even right) so both intervals show
                    x=[p * (_NUDGE if n % 2 == 0 else 1 / _NUDGE) for p in cells["p"]], y=y, mode="markers",
                    marker={"color": parity_color(n), "size": 9,
                            "symbol": "triangle-down" if zero else ("circle" if n % 2 else "square")},
                    error_y={"type": "data", "symmetric": False, "array": [hi - v for hi, v in zip(cells["ci_high"], y)],
                             "arrayminus": [0 if zero else v - lo for v, lo in zip(y, cells["ci_low"])],
                             "color": parity_color(n), "thickness": 1.5},
                    customdata=list(zip(cells["unavailable_samples"], cells["samples"], cells["ci_low"], cells["ci_high"],
                                        cells["p"])),
                    hovertemplate=(f"N={n}, p=%{{customdata[4]}}: %{{customdata[0]:,}} of %{{customdata[1]:,}} samples unavailable"
                                   "<br>95% interval %{customdata[2]:.2g} to %{customdata[3]:.2g}<extra>simulator</extra>"),
                    **legend("no sample unavailable: ▼ at the floor, bar up to the 95% upper end" if zero
                             else f"{parity} N: simulator, 95% interval"),
                ), row=1, col=col)
    ps = sorted({float(p) for p in closed_form["p"]} | ({float(p) for p in monte_carlo["p"]} if monte_carlo is not None else set()))
    ticks = [t for t in (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if ps[0] <= t <= ps[-1]]
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks],
                     range=[math.log10(ps[0]) - 0.12, math.log10(ps[-1]) + 0.12],
                     title_text="p (node down)", title_standoff=4)
    fig.update_yaxes(type="log", exponentformat="power", range=[math.log10(floor) - 0.3, 0.2])
    fig.update_yaxes(title_text="unavailability: P(no majority up)", row=1, col=1)
    fig.update_layout(template=template(),
        title="Unavailability when each node is down with probability p: even N=2k (dashed) lies above odd N=2k-1",
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0, "font": {"size": 12}},
        height=480, margin={"b": 130},
    )
    return fig


def _split_title(row: pd.Series) -> str:
    sizes = "|".join(str(s) for s in row["sizes"])
    verdict = "progress" if row["any_progress"] else "STUCK"
    return f"N={row['n']}: {sizes} - {verdict}"


def partition_gallery(partitions: pd.DataFrame, ns: Iterable[int] | None = None, cols: int = 4,
                      splits: Iterable[tuple[int, tuple[int, ...]]] | None = None) -> go.Figure:
    """Small multiples: one panel per split, nodes drawn in their groups, each group tinted by whether it commits.

    ``partitions`` comes from :func:`raftedu.experiments.partition_experiment`
    (or :func:`~raftedu.experiments.partition_progress`); the first trial of
    each split is drawn. Each group sits on its own tinted box (the
    network is cut between boxes); a star marks the leader before the
    split; the panel title says in words whether any side made progress
    ("progress" in sky blue, "STUCK" in vermillion, a group's box tinted alike). ``splits`` picks panels by (N, group sizes), e.g. ``[(4, (2, 2)),
    (9, (3, 3, 3))]``, drawn in that order, one per split shape (the first
    leader placement of the frame).
    """
    _require(partitions, ["n", "groups", "progress", "leader", "sizes", "any_progress"], "partition_experiment")
    if isinstance(cols, bool) or not isinstance(cols, int) or cols < 1:
        raise ValueError(f"cols must be a whole number >= 1; got {cols!r}")
    df = partitions
    if ns is not None:
        wanted = set(ns)
        df = df[df["n"].isin(wanted)]
        if df.empty:
            raise ValueError(f"no split of a cluster size in {sorted(wanted)} in this frame; "
                             f"it has N = {sorted(set(partitions['n']))}")
    if "trial" in df.columns:
        df = df[df["trial"] == df["trial"].min()]
    if splits is not None:
        wanted_splits = [(int(n), tuple(int(s) for s in sizes)) for n, sizes in splits]
        keys = [(int(n), tuple(sizes)) for n, sizes in zip(df["n"], df["sizes"])]
        missing = [w for w in wanted_splits if w not in keys]
        if missing or not wanted_splits:
            raise ValueError(f"splits must be (N, group sizes) pairs present in the frame; not found: {missing}; "
                             f"available: {sorted(set(keys))}")
        df = pd.concat([df.iloc[[keys.index(w)]] for w in wanted_splits])
    df = df.reset_index(drop=True)
    cols = min(cols, len(df))
    rows = math.ceil(len(df) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[_split_title(r) for _, r in df.iterrows()],
                        vertical_spacing=min(0.12, 0.5 / rows), horizontal_spacing=0.03)
    for k, row in df.iterrows():
        r, c = k // cols + 1, k % cols + 1
        x, y, color, symbol, text = [], [], [], [], []
        offset = 0.0
        for group, moves in zip(row["groups"], row["progress"]):
            width = (min(len(group), _PER_ROW) - 1) * 0.6
            depth = (math.ceil(len(group) / _PER_ROW) - 1) * _ROW_STEP
            fig.add_shape(type="rect", x0=offset - 0.3, x1=offset + width + 0.3, y0=-depth - 0.35, y1=0.45,
                          fillcolor=_PROGRESS_FILL if moves else _STUCK_FILL, line={"width": 0}, layer="below",
                          row=r, col=c)
            for j, node in enumerate(group):
                x.append(offset + (j % _PER_ROW) * 0.6)
                y.append(-(j // _PER_ROW) * _ROW_STEP)
                color.append(PROGRESS_COLOR if moves else STUCK_COLOR)
                symbol.append("star" if node == row["leader"] else "circle")
                text.append(f"S{node}")
            offset += min(len(group), _PER_ROW) * 0.6 + 0.8
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="markers+text", text=text, textposition="top center", textfont={"size": 11},
            marker={"color": color, "symbol": symbol, "size": 13, "line": {"color": "black", "width": 1}},
            showlegend=False, hovertemplate="%{text}<extra></extra>",
        ), row=r, col=c)
    for name, color, symbol in (("side commits", PROGRESS_COLOR, "circle"), ("side stuck", STUCK_COLOR, "circle"),
                                ("leader before the split", "white", "star")):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,
                                 marker={"color": color, "symbol": symbol, "size": 12, "line": {"color": "black", "width": 1}}))
    for annotation, moves in zip(fig.layout.annotations, df["any_progress"]):
        annotation.font.color = PROGRESS_COLOR if moves else STUCK_COLOR
    depth = max(math.ceil(len(g) / _PER_ROW) - 1 for groups in df["groups"] for g in groups) * _ROW_STEP
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, range=[-depth - 0.5, 0.7])
    fig.update_layout(template=template(), title="Network partitions: a side commits only if it holds a majority",
                      height=max(300, int((120 + 60 * depth) * rows) + 120), plot_bgcolor="white",
                      legend={"orientation": "h", "y": -0.05, "font": {"size": 12}})
    fig.update_annotations(font_size=13)  # sets only the size: the per-panel colours stay
    return fig


def recovery_figure(recovery: pd.DataFrame, measure: str = "election_ms") -> go.Figure:
    """Distributions of the time to recover from a leader crash, per N and per election-timeout range.

    ``recovery`` comes from :func:`raftedu.experiments.recovery_times`;
    ``measure`` is ``"election_ms"`` (crash to new leader) or
    ``"commit_ms"`` (crash to the first new commit). One box per (N,
    timeout range); trials that never recovered are counted in the legend.
    """
    _require(recovery, ["n", "timeout", "timeout_low", "recovered", "election_ms", "commit_ms"], "recovery_times")
    if measure not in ("election_ms", "commit_ms"):
        raise ValueError(f"measure must be 'election_ms' or 'commit_ms'; got {measure!r}")
    fig = go.Figure()
    ranges = recovery.drop_duplicates("timeout").sort_values("timeout_low")["timeout"]
    for t in ranges:
        part = recovery[recovery["timeout"] == t]
        ok = part[part["recovered"]]
        lost = int((~part["recovered"]).sum())
        fig.add_trace(go.Box(
            x=ok["n"], y=ok[measure], name=f"timeout {t}" + (f" ({lost} never recovered)" if lost else ""),
            boxpoints="outliers",
        ))
    fig.update_xaxes(title_text="cluster size N", type="category")
    fig.update_yaxes(title_text=("time from leader crash to new leader (ms)" if measure == "election_ms"
                                 else "time from leader crash to first new commit (ms)"), rangemode="tozero")
    fig.update_layout(template=template(), boxmode="group",
                      title="Time to recover from a leader crash: set by the election timeout range",
                      legend={"title": "election timeout range"}, height=460)
    return fig


def verdicts_figure(frames: dict[str, pd.DataFrame]) -> go.Figure:
    """Side by side, one panel per source (e.g. simulator and real etcd): which (N, k) still commit a write.

    Each frame has one row per trial with columns ``n``, ``k`` and
    ``success`` (:func:`raftedu.experiments.crash_trials` and
    :func:`raftedu.etcd.crash_trials` both give that shape). A cell is
    green when every trial of (N, k) committed, red when none did, and
    shows the success rate; the black outline marks etcd's formula, the
    largest k with k <= (N-1)//2.
    """
    if not isinstance(frames, dict) or not frames:
        raise ValueError("verdicts_figure takes a dict {label: crash_trials frame}, e.g. {'simulator': sim, 'etcd': real}")
    for label, frame in frames.items():
        _require(frame, ["n", "k", "success"], "crash_trials")
    fig = make_subplots(rows=1, cols=len(frames), subplot_titles=list(frames), shared_yaxes=True,
                        horizontal_spacing=0.08)
    for col, (label, frame) in enumerate(frames.items(), start=1):
        rates = frame.groupby(["n", "k"])["success"].mean().reset_index()
        fig.add_trace(go.Scatter(
            x=rates["k"], y=rates["n"], mode="markers+text", name=label, showlegend=False,
            marker={"symbol": "square", "size": 30,
                    "color": [PROGRESS_COLOR if r == 1 else STUCK_COLOR if r == 0 else "#bbbbbb" for r in rates["success"]],
                    "line": {"width": [3 if k == (n - 1) // 2 else 0 for n, k in zip(rates["n"], rates["k"])],
                             "color": "black"}},
            text=[f"{r:.0%}" for r in rates["success"]], textfont={"color": "white", "size": 10},
            hovertemplate="N=%{y}, k=%{x} down: %{text} of trials committed<extra>" + label + "</extra>",
        ), row=1, col=col)
        fig.update_xaxes(title_text="k nodes stopped", dtick=1, row=1, col=col)
    fig.update_yaxes(title_text="cluster size N", dtick=1, autorange="reversed", row=1, col=1)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="a write commits",
                             marker={"symbol": "square", "size": 12, "color": PROGRESS_COLOR}))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="no write commits",
                             marker={"symbol": "square", "size": 12, "color": STUCK_COLOR}))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="outlined: k = (N-1)//2, etcd's tolerance",
                             marker={"symbol": "square-open", "size": 12, "color": "black"}))
    ns = sorted({int(n) for f in frames.values() for n in f["n"]})
    fig.update_layout(template=template(), title="Stop k of N members: does a write still commit?", height=220 + 45 * len(ns),
                      legend={"orientation": "h", "y": -0.25})
    return fig
