"""The documentation site in a real browser, opened from disk with every outside request refused (offline).

Figures draw and an animation plays with no kernel; the sidebar, the page's contents and the search work; the
page asks nothing of another host.
"""

from __future__ import annotations

from typing import Any

import pytest
from labpage import ARTIFACTS, BROWSER_MISSING, CHROMIUM, CHROMIUM_ARGS
from test_site import needs_sphinx, sample_root

from raftedu.site import build_site

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or ""),
              needs_sphinx]


def test_a_site_page_draws_its_figures_plays_its_animation_and_searches_offline(tmp_path):
    from playwright.sync_api import sync_playwright

    site = tmp_path / "site"
    (page_info, _) = build_site(site, root=sample_root(tmp_path), execute=False, progress=False)
    figures = page_info.figures
    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})

            def refuse(route: Any) -> None:
                outside.append(route.request.url)
                route.abort("internetdisconnected")

            page.route(lambda url: not url.startswith("file://"), refuse)
            page.goto((site / "notebooks" / "99_sample.html").as_uri())
            page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {figures}",
                                   polling="raf", timeout=30_000)
            assert page.eval_on_selector_all(".js-plotly-plot", "els => els.length") == figures
            # The animation (second figure): Play moves its point from (0, 0) through the frames.
            anim = page.query_selector_all(".js-plotly-plot")[1]
            before = anim.evaluate("el => el.data[0].x[0]")
            anim.query_selector("g.updatemenu-button").click()
            page.wait_for_function("el => el.data[0].x[0] !== 0", arg=anim, polling="raf", timeout=10_000)
            assert before == 0 and anim.evaluate("el => el.data[0].x[0]") > 0
            assert "99 · A sample" in page.inner_text(".bd-sidebar-primary")  # the sidebar lists the lesson
            assert "Check yourself" in page.inner_text(".bd-toc")  # the page's contents
            page.screenshot(path=str(ARTIFACTS / "site_sample_page.png"), full_page=True)
            # Sphinx's search runs in the page, from its own index: no server needed.
            page.goto((site / "search.html").as_uri() + "?q=sample")
            page.wait_for_selector("#search-results li a", timeout=30_000)
            assert any("99 · A sample" in a.inner_text() for a in page.query_selector_all("#search-results li a"))
        finally:
            browser.close()
    assert outside == [], f"the site asked another host for {outside}"
