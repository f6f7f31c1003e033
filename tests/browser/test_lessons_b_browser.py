"""Lessons 06, 08 and 09 in JupyterLab at 1440×900: every figure renders, no two text labels overlap, labels ≥ 11 px.

Each lesson is run with Run All in headless chromium (tests/browser/labpage.py); then each plotly figure is scrolled
into view (JupyterLab may skip the layout of cells out of view), screenshotted to test-artifacts/, and measured with
tests/browser/labels.py: no two of its text labels overlap, and every label of the figures these lessons are about
(lesson 06's partition gallery and availability figure, the client histories of 08 and 09) is at least 11 px.
"""

from __future__ import annotations

import pytest
from labels import describe_overlaps, overlapping_labels
from labpage import ARTIFACTS, BROWSER_MISSING, Lab, Page, notebook_page, run_all, wait_until_all_cells_ran

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]

VIEWPORT = (1440, 900)
FONT_SIZES = """(i) => Array.from(document.querySelectorAll('.js-plotly-plot')[i].querySelectorAll('svg text'))
    .filter(t => (t.textContent || '').trim() && !t.closest('.hoverlayer') && t.getBoundingClientRect().width > 0)
    .map(t => [t.textContent.trim(), parseFloat(getComputedStyle(t).fontSize)])"""


def measure_figures(page: Page, prefix: str, expected: int) -> list[list[tuple[str, float]]]:
    """Scroll to each figure, screenshot it, assert its labels do not overlap; return each figure's (text, font px)."""
    plots = page.locator(".jp-OutputArea .js-plotly-plot")
    page.wait_for_function(f"() => document.querySelectorAll('.jp-OutputArea .js-plotly-plot').length >= {expected}",
                           timeout=60_000)
    assert plots.count() == expected
    fonts = []
    for i in range(expected):
        plots.nth(i).scroll_into_view_if_needed()
        page.wait_for_timeout(400)
        plots.nth(i).screenshot(path=str(ARTIFACTS / f"{prefix}-figure-{i + 1}.png"))
        pairs = [(a, b) for a, b in overlapping_labels(page) if a.figure == i]
        assert not pairs, f"{prefix} figure {i + 1}:\n" + describe_overlaps(pairs)
        fonts.append([(text, size) for text, size in page.evaluate(FONT_SIZES, i)])
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert all("Traceback" not in errors.nth(k).inner_text() for k in range(errors.count()))
    return fonts


def small(fonts: list[tuple[str, float]]) -> list[tuple[str, float]]:
    return [(text, size) for text, size in fonts if size < 11]


def test_lesson_06_figures_are_readable(lab: Lab) -> None:
    with notebook_page(lab, "06_even_vs_odd.ipynb", "lesson06-page.png", viewport=VIEWPORT) as page:
        run_all(page)
        wait_until_all_cells_ran(page, timeout_ms=600_000)
        tolerance, gallery, availability, recovery = measure_figures(page, "lesson06", 4)
        assert any("STUCK" in t for t, _ in gallery) and any(t == "S9" for t, _ in gallery)
        assert any(t.startswith("N=3 vs N=4") for t, _ in availability)
        assert not small(gallery), small(gallery)
        assert not small(availability), small(availability)


def test_lessons_08_and_09_client_histories_are_readable(lab: Lab) -> None:
    with notebook_page(lab, "08_clients_sessions.ipynb", "lesson08-page.png", viewport=VIEWPORT) as page:
        run_all(page)
        wait_until_all_cells_ran(page, timeout_ms=300_000)
        histories = measure_figures(page, "lesson08", 3)
        for fonts in histories:
            assert any(t.startswith("op 0 · client 10") for t, _ in fonts)
            assert not small(fonts), small(fonts)
    with notebook_page(lab, "09_linearizable_reads.ipynb", "lesson09-page.png", viewport=VIEWPORT) as page:
        run_all(page)
        wait_until_all_cells_ran(page, timeout_ms=300_000)
        stale, paused = measure_figures(page, "lesson09", 2)  # the local read; the paused leader's lease read
        assert any(t.startswith("op 2 · client 101: get('x') → 1 @1") for t, _ in stale)
        assert any("get('x') → 1" in t for t, _ in paused), paused  # the stale read a lease gave after the pause
        for fonts in (stale, paused):
            assert not small(fonts), small(fonts)
