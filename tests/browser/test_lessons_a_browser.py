"""Lessons 04 and 03 in JupyterLab at 1440x900: they run without errors, their figures are screenshotted to
test-artifacts/, and no two text labels of a figure overlap (``labels.overlapping_labels``).

Lesson 04's Figure 8 panels are checked in detail: five panels titled (a)..(e), the leader and crashed marks on the
servers' rows, and the whole figure within the window's width.
"""

from __future__ import annotations

import pytest

from labels import describe_overlaps, overlapping_labels, text_labels
from labpage import ARTIFACTS, BROWSER_MISSING, notebook_page, run_all, wait_until_all_cells_ran

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]

WINDOW = (1440, 900)
PLOT_CELLS = """() => {
    const nb = window.jupyterapp.shell.currentWidget.content;
    const found = [];
    nb.widgets.forEach((cell, i) => {
        if (cell.model.type === 'code' &&
            cell.model.outputs.toJSON().some(o => o.data && o.data['application/vnd.plotly.v1+json'])) found.push(i);
    });
    return found;
}"""
SHOW_CELL = """async ([i, tag]) => {
    const nb = window.jupyterapp.shell.currentWidget.content;
    await nb.scrollToItem(i, 'start');
    nb.widgets[i].node.setAttribute('data-raftedu-figure', tag);
}"""


def run_lesson(page) -> list[int]:
    """Run every cell; fail on an error or anything written to stderr; return the indices of the figure cells."""
    run_all(page)
    wait_until_all_cells_ran(page, timeout_ms=300_000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.first.inner_text()
    return page.evaluate(PLOT_CELLS)


def each_figure(page, cells: list[int], stem: str) -> list[str]:
    """Scroll to each figure cell (JupyterLab only draws cells near the view), wait until plotly has drawn it, save it
    as test-artifacts/<stem>-<k>.png and collect the overlapping label pairs of the figures on screen."""
    problems = []
    for k, i in enumerate(cells, 1):
        page.evaluate(SHOW_CELL, [i, str(k)])
        page.locator(f"[data-raftedu-figure='{k}'] .jp-OutputArea").scroll_into_view_if_needed()
        figure = page.locator(f"[data-raftedu-figure='{k}'] .js-plotly-plot")
        figure.locator(".main-svg").first.wait_for(timeout=60_000)
        page.wait_for_timeout(300)  # let plotly finish laying out its text
        figure.screenshot(path=str(ARTIFACTS / f"{stem}-{k}.png"))
        pairs = overlapping_labels(page, f"[data-raftedu-figure='{k}'] .js-plotly-plot")
        if pairs:
            problems.append(f"figure {k} (cell {i}):\n" + describe_overlaps(pairs))
    return problems


def test_lesson_04_figure_8_panels_are_readable_at_1440x900(lab):
    with notebook_page(lab, "04_safety.ipynb", "lesson04-page.png", viewport=WINDOW) as page:
        cells = run_lesson(page)
        assert len(cells) == 1, "lesson 04 should draw one figure: the five panels of Figure 8"
        assert each_figure(page, cells, "lesson04-figure") == []
        root = "[data-raftedu-figure='1'] .js-plotly-plot"
        labels = text_labels(page, root)
        titles = [x.text for x in labels if x.text[:3] in ("(a)", "(b)", "(c)", "(d)", "(e)")]
        assert titles == ["(a) S1 leads term 2", "(b) S5 leads term 3", "(c) S1 leads term 4",
                          "(d) S5 leads term 5", "(e) S1 leads term 4"]
        ticks = [x.text for x in labels if x.kind == "tick" and x.text.startswith("S")]
        assert ticks.count("S1 ★") == 3 and ticks.count("S5 ★") == 2 and "S1 ✕" in ticks and "S5 ✕" in ticks
        box = page.locator(root).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WINDOW[0]


def test_lesson_03_figures_have_no_overlapping_labels_at_1440x900(lab):
    with notebook_page(lab, "03_log_replication.ipynb", "lesson03-page.png", viewport=WINDOW) as page:
        cells = run_lesson(page)
        assert len(cells) >= 4
        assert each_figure(page, cells, "lesson03-figure") == []
        labels = text_labels(page, "[data-raftedu-figure] .js-plotly-plot")
        assert any(x.text == "log index" for x in labels) and any(x.text == "S5" for x in labels)  # labels were measured


def test_lesson_02_election_pictures_have_no_overlapping_labels_at_1440x900(lab):
    """The animation and the timeline of the first election (the explorer widget is tested by the explorer's tests)."""
    with notebook_page(lab, "02_leader_election.ipynb", "lesson02-figures-page.png", viewport=WINDOW) as page:
        cells = run_lesson(page)
        assert len(cells) == 2, "lesson 02 draws two static figures: the animation and the timeline"
        assert each_figure(page, cells, "lesson02-figure") == []
        labels = text_labels(page, "[data-raftedu-figure] .js-plotly-plot")
        assert any(x.text.startswith("Timeline") for x in labels) and any("play" in x.text for x in labels)
