"""Lessons 00, 01, 07, 10, 11 and 12 in JupyterLab at 1440×900, as a student runs them with Run All.

Each lesson must run without an error or anything on stderr, and every plotly figure it draws is scrolled into view,
screenshotted to test-artifacts/ (``lessonNN-figure-K.png``, look at them) and measured: no two of its text labels
overlap (tests/browser/labels.py). The other lessons have their own browser tests (02–06, 08, 09; 13 needs etcd and
draws only the verdict figure of lesson 06's kind).
"""

from __future__ import annotations

import pytest
from labels import text_labels
from labpage import BROWSER_MISSING, each_figure, notebook_page, run_lesson

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]

WINDOW = (1440, 900)
LESSONS = {  # notebook -> (least number of figures it draws, a label one of them must show)
    "00_start_here.ipynb": (0, None),
    "01_quorums.ipynb": (1, "S3"),  # the 2 | 2 split
    "07_partitions.ipynb": (1, "S1"),
    "10_prevote_checkquorum.ipynb": (1, None),
    "11_membership.ipynb": (3, "(3) ✗"),  # the cluster, and the configurations over time without and with the 2015 fix
    "12_snapshots.ipynb": (1, "log index"),
}


@pytest.mark.parametrize("notebook", sorted(LESSONS))
def test_lesson_runs_and_its_figures_have_no_overlapping_labels(lab, notebook: str) -> None:
    stem = f"lesson{notebook[:2]}"
    least, label = LESSONS[notebook]
    with notebook_page(lab, notebook, f"{stem}-page.png", viewport=WINDOW) as page:
        cells = run_lesson(page)
        assert len(cells) >= least, f"{notebook} drew {len(cells)} figures; expected at least {least}"
        assert each_figure(page, cells, f"{stem}-figure") == []
        if label is not None:
            assert any(x.text == label for x in text_labels(page, "[data-raftedu-figure] .js-plotly-plot"))
