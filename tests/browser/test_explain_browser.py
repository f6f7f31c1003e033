"""A counterexample drawn (raftedu.viz.explain_figures) in headless chromium: screenshots, and no label overlaps."""

from __future__ import annotations

import sys

import pytest

from labels import describe_overlaps, overlapping_labels
from labpage import ARTIFACTS, BROWSER_MISSING, CHROMIUM, CHROMIUM_ARGS, REPO

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]


def test_a_shrunk_counterexample_is_drawn_readably(tmp_path):
    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright

    from raftedu.explore import find_counterexample
    from raftedu.viz import explain_figures
    from tests.mutants import AcksBeforePersisting

    explanation = find_counterexample(AcksBeforePersisting, budget_s=600).explain()
    figures = explain_figures(explanation)
    page_file = tmp_path / "explain.html"
    page_file.write_text("<html><body>" + "".join(
        f.to_html(full_html=False, include_plotlyjs=(k == 0), div_id=f"figure{k}") for k, f in enumerate(figures))
        + "</body></html>")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(page_file.as_uri())
            page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= "
                                   f"{len(figures)}")
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / "explain-counterexample.png"), full_page=True)
            rings = page.locator("#figure0 .scatterlayer .trace").count()
            title = page.locator("#figure0 .gtitle").text_content()
            pairs = overlapping_labels(page, "#figure0")
        finally:
            browser.close()
    assert explanation.violation.property in title and "schedule item" in title
    assert rings >= 3  # messages, marks, and the rings of the step that broke it
    assert not pairs, describe_overlaps(pairs)
