"""The JupyterLite site in a real browser: JupyterLab loads from a static server and opens lesson 00; offline, it says so.

The Python side (Pyodide and the packages it downloads from its servers) cannot
run here without internet; what runs under Pyodide is tested by
tests/test_pyodide.py and tests/test_pools.py. That is also what a student
offline meets: the page must then say in words that Python cannot start, and why.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labpage import ARTIFACTS, BROWSER_MISSING, CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]
pytest.importorskip("jupyterlite_core", reason='JupyterLite is not installed (pip install "raftedu[lite]")')

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The site built from this checkout, served over HTTP on the loopback: its base URL."""
    from raftedu import lite

    site = lite.build_lite(tmp_path_factory.mktemp("lite") / "site", root=ROOT)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site.out))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_offline_the_page_says_python_cannot_start_and_what_to_do(served: str) -> None:
    """Every request leaving the loopback fails, as offline: the banner names the host and the way out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            outside: list[str] = []

            def block(route: Any) -> None:
                outside.append(route.request.url)
                route.abort("internetdisconnected")

            page.route(lambda url: not url.startswith(served), block)
            page.goto(f"{served}/lab/index.html?path=notebooks/00_start_here.ipynb")
            banner = page.wait_for_selector("#raftedu-offline", timeout=90_000)
            text = banner.inner_text()
            assert "Python cannot start in this page" in text and "cdn.jsdelivr.net" in text
            assert 'pip install "raftedu[lab]"' in text
            assert any("pyodide" in u for u in outside), outside
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "lite-offline.png"))
        finally:
            browser.close()


def test_jupyterlite_opens_lesson_00_with_its_install_cell(served: str) -> None:
    from playwright.sync_api import sync_playwright

    from raftedu import lite

    url = f"{served}/lab/index.html?path=notebooks/00_start_here.ipynb"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            # JupyterLab fills cells in as it renders them: on a loaded machine wait until two cells show text
            page.wait_for_function("() => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell');"
                                   " return c.length > 1 && c[0].innerText.trim() && c[1].innerText.trim(); }",
                                   timeout=90_000)
            first = page.inner_text(".jp-Notebook .jp-Cell >> nth=0")
            assert lite.INSTALL_CELL.split("  #")[0] in first
            second = page.inner_text(".jp-Notebook .jp-Cell >> nth=1")
            assert second.strip(), "the lesson's own first cell is shown after the install cell"
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "lite-lesson-00.png"))
        finally:
            browser.close()
