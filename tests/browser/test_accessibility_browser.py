"""Pictures and controls every student can use, checked in JupyterLab in headless chromium.

* keyboard only: a crash → step → heal round on the explorer with Tab / Shift+Tab, Enter and Space;
* the explanation of each click is an ``aria-live`` status region (screen readers announce it);
* every text in the explorer's figure is at least 11 px;
* screenshots of the explorer and of lessons 02 and 05 as a deuteranope sees them (the Machado et al. 2009
  simulation as an SVG colour-matrix filter over the page) go to ``test-artifacts/``.
"""

from __future__ import annotations

import pytest

from labels import describe_overlaps, overlapping_labels
from labpage import ARTIFACTS, BROWSER_MISSING, Lab, Page, notebook_page, run_all, wait_until_all_cells_ran
from test_explorer_browser import EXPLANATION, FIGURE, STATUS, leader_in_status, open_explorer, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]

DEUTERANOPIA = ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881))
"""Machado, Oliveira & Fernandes (2009), deuteranomaly of severity 1.0, on linear RGB."""

SIMULATE = """(rows) => {
    const values = rows.map(r => r.join(' ') + ' 0 0').join(' ') + ' 0 0 0 1 0';
    const holder = document.createElement('div');
    holder.innerHTML = '<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0" style="position:absolute">'
        + '<filter id="raftedu-cvd" color-interpolation-filters="linearRGB"><feColorMatrix type="matrix" values="'
        + values + '"/></filter></svg>';
    document.body.appendChild(holder);
    document.documentElement.style.filter = 'url(#raftedu-cvd)';
}"""


def focused(page: Page) -> str:
    return page.evaluate("() => (document.activeElement && document.activeElement.textContent || '').trim()")


def tab_to(page: Page, label: str, backwards: bool = False, limit: int = 60) -> None:
    """Press Tab (or Shift+Tab) until the control named ``label`` has the keyboard focus."""
    for _ in range(limit):
        if focused(page) == label:
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"{label!r} never got the focus by {'Shift+Tab' if backwards else 'Tab'}; last: {focused(page)!r}")


def press_and_wait(page: Page, key: str, says: str) -> str:
    old = page.locator(EXPLANATION).inner_text()
    page.keyboard.press(key)
    page.wait_for_function("([sel, old]) => document.querySelector(sel).innerText !== old", arg=[EXPLANATION, old],
                           timeout=45_000)
    wait_idle(page)
    text = page.locator(EXPLANATION).inner_text()
    assert says in text, text
    return text


def test_a_crash_step_heal_round_by_keyboard_only(lab: Lab) -> None:
    with notebook_page(lab, "explorer.ipynb", "keyboard-page.png", viewport=(1440, 900)) as page:
        open_explorer(page)
        live = page.locator(".raftedu-explorer [role=status][aria-live=polite]")
        assert live.count() == 1 and live.inner_text() == page.locator(EXPLANATION).inner_text()
        sizes = page.evaluate(f"() => Array.from(document.querySelectorAll('{FIGURE} svg text'))"
                              ".filter(t => t.textContent.trim()).map(t => parseFloat(getComputedStyle(t).fontSize))")
        assert sizes and min(sizes) >= 11, sorted(sizes)[:5]
        leader = leader_in_status(page)
        assert leader is not None
        page.locator(".raftedu-explorer button").first.focus()  # where a student's first Tab into the explorer lands
        tab_to(page, f"Crash S{leader}")
        press_and_wait(page, "Enter", f"S{leader} crashed")
        tab_to(page, "Step", backwards=True)
        press_and_wait(page, "Space", "Step")
        tab_to(page, "Network")
        page.keyboard.press("Space")
        page.locator(".raftedu-explorer .raftedu-preset").wait_for(state="visible", timeout=30_000)
        tab_to(page, "Apply preset")
        press_and_wait(page, "Enter", "isolate")
        assert "partition" in page.evaluate(STATUS.replace("'status'", "'network'"))
        tab_to(page, "Heal")
        press_and_wait(page, "Space", "network healed")
        assert "all links up" in page.evaluate(STATUS.replace("'status'", "'network'"))
        page.locator(".raftedu-explorer").screenshot(path=str(ARTIFACTS / "keyboard-round.png"))


@pytest.mark.parametrize("notebook,shot", [("explorer.ipynb", "explorer"), ("02_leader_election.ipynb", "lesson02"),
                                           ("05_even_vs_odd.ipynb", "lesson05")])
def test_pictures_under_simulated_deuteranopia(lab: Lab, notebook: str, shot: str) -> None:
    with notebook_page(lab, notebook, f"deuteranopia-{shot}-page.png", viewport=(1440, 900)) as page:
        run_all(page)
        wait_until_all_cells_ran(page, timeout_ms=300_000)
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length > 0", timeout=60_000)
        page.wait_for_timeout(1_000)
        figures = page.locator(".js-plotly-plot")
        for k in range(min(figures.count(), 4)):
            figures.nth(k).scroll_into_view_if_needed()
            figures.nth(k).screenshot(path=str(ARTIFACTS / f"{shot}-{k + 1}-normal.png"))
        page.evaluate(SIMULATE, [list(r) for r in DEUTERANOPIA])
        for k in range(min(figures.count(), 4)):
            figures.nth(k).scroll_into_view_if_needed()
            figures.nth(k).screenshot(path=str(ARTIFACTS / f"{shot}-{k + 1}-deuteranopia.png"))
        assert figures.count() >= 1
        if shot == "explorer":  # a loaded machine may still be laying the figure out: judge the settled picture
            pairs = overlapping_labels(page, FIGURE)
            for _ in range(20):
                if not pairs:
                    break
                page.wait_for_timeout(500)
                pairs = overlapping_labels(page, FIGURE)
            assert not pairs, describe_overlaps(pairs)
