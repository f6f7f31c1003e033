"""Tests of raftedu.viz.evenodd: assertions on the figures' data, colours and axes."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pytest

from raftedu import experiments as ex
from raftedu.viz import evenodd as eo


@pytest.fixture(scope="module")
def tolerance() -> pd.DataFrame:
    return ex.derived_tolerance(ex.crash_tolerance(ns=range(1, 11), trials=1, progress=False))


@pytest.fixture(scope="module")
def partitions() -> pd.DataFrame:
    return ex.partition_experiment([4, 5], parts=2, progress=False)


def test_parity_colours_are_distinct() -> None:
    assert eo.parity_color(3) == eo.ODD_COLOR and eo.parity_color(4) == eo.EVEN_COLOR
    assert len({eo.ODD_COLOR, eo.EVEN_COLOR, eo.PROGRESS_COLOR, eo.STUCK_COLOR}) == 4


def test_tolerance_figure_colours_odd_and_even_apart_beside_etcds_table(tolerance: pd.DataFrame) -> None:
    fig = eo.tolerance_figure(tolerance)
    bars = {t.name: t for t in fig.data if isinstance(t, go.Bar)}
    assert set(bars) == {"odd N (measured)", "even N (measured)"}
    assert list(bars["odd N (measured)"].x) == [1, 3, 5, 7, 9]
    assert list(bars["even N (measured)"].x) == [2, 4, 6, 8, 10]
    assert bars["odd N (measured)"].marker.color == eo.ODD_COLOR
    assert bars["even N (measured)"].marker.color == eo.EVEN_COLOR
    assert list(bars["even N (measured)"].y) == list(bars["odd N (measured)"].y)  # 2k tolerates what 2k-1 does
    formula = next(t for t in fig.data if isinstance(t, go.Scatter))
    assert list(formula.y) == [(n - 1) // 2 for n in range(1, 11)]
    table = next(t for t in fig.data if isinstance(t, go.Table))
    n_col, m_col, t_col = table.cells.values
    assert list(n_col) == list(range(1, 11)) and m_col[-1] == 6 and list(t_col) == list(formula.y)
    assert table.cells.fill.color[0][3] != table.cells.fill.color[0][2]  # even rows shaded
    assert fig.layout.xaxis.title.text == "cluster size N"


def test_availability_figure_puts_each_even_size_beside_the_odd_size_below_it() -> None:
    closed = ex.availability_closed_form(range(1, 11), [0.001, 0.01, 0.05, 0.1, 0.3, 0.5])
    mc = ex.availability_monte_carlo([3, 4, 9], [0.05, 0.3], samples=400, progress=False)
    fig = eo.availability_figure(closed, mc)
    assert [a.text for a in fig.layout.annotations] == [f"N={2 * k - 1} vs N={2 * k}" for k in range(1, 6)]
    assert all(fig.layout[f"xaxis{i if i > 1 else ''}"].type == "log" for i in range(1, 6))
    assert fig.layout.yaxis.type == "log"
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == 10
    for n, line in zip(range(1, 11), lines):
        assert line.line.dash == ("solid" if n % 2 else "dash")
        assert line.line.color == eo.parity_color(n)
        assert line.xaxis == f"x{(n + 1) // 2 if n > 2 else ''}"  # N=2k-1 and N=2k share panel k
    n3, n4 = lines[2], lines[3]
    assert list(n4.x) == [0.001, 0.01, 0.05, 0.1, 0.3, 0.5]
    assert n4.y[2] == pytest.approx(1.401875e-2) and n3.y[2] == pytest.approx(7.25e-3)
    assert all(e > o for e, o in zip(n4.y, n3.y))  # N=4 above N=3 everywhere
    points = [t for t in fig.data if t.mode == "markers"]
    counts = mc.set_index(["n", "p"]).unavailable_samples
    zero = [(n, p) for (n, p), c in counts.items() if c == 0]
    assert zero, "this sample size leaves N=9 at p=0.05 with no unavailable sample: the case the floor is for"
    drawn = sum(len(t.x) for t in points)
    assert drawn == len(mc)  # every cell is drawn, zero cells included
    floor = [t for t in points if t.marker.symbol == "triangle-down"]
    assert sum(len(t.x) for t in floor) == len(zero)
    lowest = min(min(y for y in t.y) for t in fig.data if t.marker.symbol != "triangle-down")
    for t in floor:
        assert all(y < lowest for y in t.y)  # below everything else, on the axis
        assert all(10 ** fig.layout.yaxis.range[0] < y for y in t.y)
        for y, up, c in zip(t.y, t.error_y.array, t.customdata):  # the bar reaches the Wilson upper end
            assert c[0] == 0 and y + up == pytest.approx(c[3])
    odd_points = next(t for t in points if t.marker.color == eo.ODD_COLOR and t.marker.symbol == "circle")
    assert odd_points.error_y.array is not None and len(odd_points.error_y.arrayminus) == len(odd_points.x)


def test_partition_gallery_draws_each_split_with_its_verdict(partitions: pd.DataFrame) -> None:
    fig = eo.partition_gallery(partitions)
    titles = [a.text for a in fig.layout.annotations]
    assert len(titles) == len(partitions) == 3 + 4
    assert "N=4: 2|2 - STUCK" in titles and "N=5: 3|2 - progress" in titles
    panels = [t for t in fig.data if t.showlegend is False]
    stuck = panels[titles.index("N=4: 2|2 - STUCK")]
    assert set(stuck.marker.color) == {eo.STUCK_COLOR} and len(stuck.x) == 4
    assert list(stuck.marker.symbol).count("star") == 1  # the leader before the split
    for (_, row), panel in zip(partitions.iterrows(), panels):
        colors = list(panel.marker.color)
        if row["n"] == 5:  # the majority side commits, the minority side is stuck
            assert colors.count(eo.PROGRESS_COLOR) == max(row["sizes"]) >= 3
            assert colors.count(eo.STUCK_COLOR) == min(row["sizes"])
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert legend == ["side commits", "side stuck", "leader before the split"]


def test_partition_gallery_picks_splits_in_order_with_readable_labels(partitions: pd.DataFrame) -> None:
    fig = eo.partition_gallery(partitions, splits=[(5, (3, 2)), (4, (2, 2))], cols=2)
    assert [a.text for a in fig.layout.annotations] == ["N=5: 3|2 - progress", "N=4: 2|2 - STUCK"]
    assert all(a.font.size >= 11 for a in fig.layout.annotations)
    panels = [t for t in fig.data if t.showlegend is False]
    assert [len(t.x) for t in panels] == [5, 4] and all(t.textfont.size >= 11 for t in panels)


def test_partition_gallery_filters_and_rejects_bad_input(partitions: pd.DataFrame) -> None:
    only4 = eo.partition_gallery(partitions, ns=[4], cols=2)
    assert len(only4.layout.annotations) == 3
    with pytest.raises(ValueError, match=r"no split of a cluster size in \[7\]"):
        eo.partition_gallery(partitions, ns=[7])
    with pytest.raises(ValueError, match="cols must be a whole number >= 1"):
        eo.partition_gallery(partitions, cols=0)
    with pytest.raises(ValueError, match=r"not found: \[\(4, \(1, 1, 2\)\)\]"):
        eo.partition_gallery(partitions, splits=[(4, (1, 1, 2))])
    with pytest.raises(ValueError, match="partition_experiment; missing columns"):
        eo.partition_gallery(pd.DataFrame({"n": [4]}))


def test_recovery_figure_has_a_box_per_timeout_range() -> None:
    rec = ex.recovery_times([2, 3, 5], timeouts=[(150, 300), (300, 600)], trials=4, progress=False)
    fig = eo.recovery_figure(rec)
    assert [t.type for t in fig.data] == ["box", "box"]
    assert fig.data[0].name == "timeout 150-300 ms (4 never recovered)"
    assert set(fig.data[1].x) == {3, 5}  # N=2 never recovers: no box
    assert fig.layout.xaxis.type == "category"
    commit = eo.recovery_figure(rec, measure="commit_ms")
    assert "first new commit" in commit.layout.yaxis.title.text
    with pytest.raises(ValueError, match="measure must be 'election_ms' or 'commit_ms'"):
        eo.recovery_figure(rec, measure="ms")


def test_figures_reject_wrong_frames() -> None:
    with pytest.raises(TypeError, match="expected a pandas DataFrame"):
        eo.tolerance_figure([1, 2])
    with pytest.raises(ValueError, match="derived_tolerance; missing columns"):
        eo.tolerance_figure(pd.DataFrame({"n": [1]}))
    with pytest.raises(ValueError, match="one row per N, please"):
        eo.tolerance_figure(pd.DataFrame({"n": [3, 3], "measured_tolerance": [1, 1]}))
    with pytest.raises(ValueError, match="the frame is empty"):
        eo.availability_figure(pd.DataFrame(columns=["n", "p", "unavailable"]))
    with pytest.raises(ValueError, match="recovery_times"):
        eo.recovery_figure(pd.DataFrame({"n": [3]}))


def test_viz_module_never_imports_the_simulator() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(eo))
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert modules <= {"__future__", "math", "collections.abc", "pandas", "plotly.graph_objects", "plotly.subplots", "raft",
                       "style"}  # the course template (raftedu.viz.style), never the simulator


def test_verdicts_figure_puts_sources_side_by_side():
    import pandas as pd

    from raftedu.viz.evenodd import PROGRESS_COLOR, STUCK_COLOR, verdicts_figure

    sim = pd.DataFrame({"n": [3, 3, 3, 3], "k": [0, 1, 2, 3], "success": [True, True, False, False]})
    real = sim.assign(success=[True, True, False, False])
    fig = verdicts_figure({"simulator": sim, "etcd": real})
    cells = [t for t in fig.data if t.x is not None and t.x[0] is not None]
    assert [t.name for t in cells] == ["simulator", "etcd"]
    assert list(cells[0].marker.color) == [PROGRESS_COLOR, PROGRESS_COLOR, STUCK_COLOR, STUCK_COLOR]
    assert list(cells[0].marker.line.width) == [0, 3, 0, 0]  # (N-1)//2 = 1 for N = 3
    with pytest.raises(ValueError, match="takes a dict"):
        verdicts_figure({})
