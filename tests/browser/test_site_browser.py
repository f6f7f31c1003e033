"""The static site in a real browser, opened from disk: figures draw and an animation plays with no kernel."""

from __future__ import annotations

from pathlib import Path

import plotly
import pytest
from labpage import ARTIFACTS, BROWSER_MISSING, CHROMIUM, CHROMIUM_ARGS
from test_site import sample_notebook

from raftedu.site import lesson_page

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]


def test_a_site_page_draws_its_figures_and_plays_its_animation_offline(tmp_path):
    from playwright.sync_api import sync_playwright

    page_html, figures, _ = lesson_page(sample_notebook(), "99_sample")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "plotly.min.js").write_bytes(
        (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes())
    target = tmp_path / "notebooks" / "99_sample.html"
    target.write_text(page_html)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(target.as_uri())
            page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {figures}",
                                   polling="raf", timeout=30_000)
            assert page.eval_on_selector_all(".js-plotly-plot", "els => els.length") == figures
            # The animation (second figure): Play moves its point from (0, 0) through the frames.
            anim = page.query_selector_all(".js-plotly-plot")[1]
            before = anim.evaluate("el => el.data[0].x[0]")
            anim.query_selector("g.updatemenu-button").click()
            page.wait_for_function("el => el.data[0].x[0] !== 0", arg=anim, polling="raf", timeout=10_000)
            assert before == 0 and anim.evaluate("el => el.data[0].x[0]") > 0
            page.screenshot(path=str(ARTIFACTS / "site_sample_page.png"), full_page=True)
        finally:
            browser.close()
