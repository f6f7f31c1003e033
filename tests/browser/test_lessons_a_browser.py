"""Lessons 05, 03 and 04 in JupyterLab at 1440x900: they run without errors, their figures are screenshotted to
test-artifacts/, and no two text labels of a figure overlap (``labels.overlapping_labels``).

Lesson 05's Figure 8 panels are checked in detail: five panels titled (a)..(e), the leader and crashed marks on the
servers' rows, and the whole figure within the window's width.
"""

from __future__ import annotations

import pytest

from labels import text_labels
from labpage import BROWSER_MISSING, each_figure, notebook_page, run_lesson

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]

WINDOW = (1440, 900)
def test_lesson_05_figure_8_panels_are_readable_at_1440x900(lab):
    with notebook_page(lab, "05_safety.ipynb", "lesson05-page.png", viewport=WINDOW) as page:
        cells = run_lesson(page)
        assert len(cells) == 1, "lesson 05 should draw one figure: the five panels of Figure 8"
        assert each_figure(page, cells, "lesson05-figure") == []
        root = "[data-raftedu-figure='1'] .js-plotly-plot"
        labels = text_labels(page, root)
        titles = [x.text for x in labels if x.text[:3] in ("(a)", "(b)", "(c)", "(d)", "(e)")]
        assert titles == ["(a) S1 leads term 2", "(b) S5 leads term 3", "(c) S1 leads term 4",
                          "(d) S5 leads term 5", "(e) S1 leads term 4"]
        ticks = [x.text for x in labels if x.kind == "tick" and x.text.startswith("S")]
        assert ticks.count("S1 ★") == 3 and ticks.count("S5 ★") == 2 and "S1 ✕" in ticks and "S5 ✕" in ticks
        box = page.locator(root).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WINDOW[0]


@pytest.mark.parametrize("notebook,figures,label", [
    ("03_log_replication.ipynb", 1, "S5"),  # the timeline of one command
    ("04_log_repair.ipynb", 3, "log index"),  # two log grids of the catch-up and the cluster with conflicting entries
])
def test_lessons_03_and_04_figures_have_no_overlapping_labels_at_1440x900(lab, notebook, figures, label):
    shot = "lesson" + notebook[:2]
    with notebook_page(lab, notebook, f"{shot}-page.png", viewport=WINDOW) as page:
        cells = run_lesson(page)
        assert len(cells) == figures
        assert each_figure(page, cells, f"{shot}-figure") == []
        labels = text_labels(page, "[data-raftedu-figure] .js-plotly-plot")
        assert any(x.text == label for x in labels) and any(x.text.startswith("S5") for x in labels)  # labels were measured


def test_lesson_02_election_pictures_have_no_overlapping_labels_at_1440x900(lab):
    """The animation and the timeline of the first election (the explorer widget is tested by the explorer's tests)."""
    with notebook_page(lab, "02_leader_election.ipynb", "lesson02-figures-page.png", viewport=WINDOW) as page:
        cells = run_lesson(page)
        assert len(cells) == 2, "lesson 02 draws two static figures: the animation and the timeline"
        assert each_figure(page, cells, "lesson02-figure") == []
        labels = text_labels(page, "[data-raftedu-figure] .js-plotly-plot")
        assert any(x.text.startswith("Timeline") for x in labels) and any("play" in x.text for x in labels)
