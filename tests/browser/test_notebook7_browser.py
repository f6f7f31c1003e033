"""Lesson 00 in Notebook 7 (``jupyter notebook``), the other front end students open: it runs top to bottom in
headless chromium without an error, the explorer shows its figure, and a Crash click redraws it (issue 29)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labpage import ARTIFACTS, BROWSER_MISSING, REPO, Lab, lab_server, notebook_page, run_all, wait_until_all_cells_ran

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    pytest.importorskip("notebook", reason="Notebook 7 is in the test extra: pip install 'notebook>=7.2'")
    with lab_server(tmp_path_factory.mktemp("nb7"), [REPO / "notebooks" / "00_start_here.ipynb"], app="notebook") as server:
        yield server


def test_lesson_00_runs_in_notebook_7_and_its_explorer_answers_a_click(notebook7: Lab) -> None:
    with notebook_page(notebook7, "00_start_here.ipynb", "notebook7-lesson00-page.png", viewport=(1280, 720)) as page:
        run_all(page, notebook7=True)
        wait_until_all_cells_ran(page, timeout_ms=300_000)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, errors.first.inner_text()
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count() == 0
        explorer = page.locator(".raftedu-explorer").first
        explorer.scroll_into_view_if_needed()
        page.wait_for_function("() => { const gd = document.querySelector('.raftedu-explorer .js-plotly-plot');"
                               " return gd && gd.data && gd.data.length > 0; }", timeout=90_000)
        status = "() => { const gd = document.querySelector('.raftedu-explorer .js-plotly-plot');" \
                 " const t = gd.data.find(t => t.name === 'status'); return t ? t.text[0] : ''; }"
        before = page.evaluate(status)
        page.get_by_role("button", name="Run 1 s", exact=True).first.click()
        page.wait_for_function(f"(old) => ({status})() !== old", arg=before, timeout=60_000)
        assert "t = " in page.evaluate(status)
        explorer.screenshot(path=str(ARTIFACTS / "notebook7-lesson00-explorer.png"))
