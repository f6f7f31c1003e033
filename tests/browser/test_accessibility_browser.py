"""Pictures and controls every student can use, checked in JupyterLab in headless chromium.

* keyboard only: a crash → step → heal round on the explorer with Tab / Shift+Tab, Enter and Space;
* the explanation of each click is an ``aria-live`` status region (screen readers announce it);
* every text in the explorer's figure is at least 11 px;
* screenshots of the explorer and of lessons 02 and 06 as a deuteranope sees them (the Machado et al. 2009
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
                                           ("06_even_vs_odd.ipynb", "lesson06")])
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


# The keyboard focus: what has it, whether it is inside the explorer, and how its ring looks against what is behind it.
FOCUS = """() => {
    const el = document.activeElement;
    const explorer = document.querySelector('.raftedu-explorer');
    if (!el || !explorer || !explorer.contains(el) || el === explorer) return {inside: false, what: el ? el.tagName : ''};
    const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
        .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
    // What the ring is drawn over: the page around the control (a slider handle's ring lies over the page, crossed
    // only by the 4 px track), found as the first opaque background above it.
    let back = (el.closest('.widget-slider') || el).parentElement, bg = [255, 255, 255];
    for (; back; back = back.parentElement) {
        const c = rgb(getComputedStyle(back).backgroundColor);
        if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) { bg = c.slice(0, 3); break; }
    }
    const style = getComputedStyle(el);
    const ring = rgb(style.outlineColor).slice(0, 3);
    const [hi, lo] = [lum(ring), lum(bg)].sort((a, b) => b - a);
    const cls = el.closest('.widget-dropdown, .widget-slider, .widget-text, .widget-checkbox');
    const kinds = ['widget-dropdown', 'widget-slider', 'widget-text', 'widget-checkbox'];
    return {inside: true, what: (el.getAttribute('aria-label') || el.textContent || el.tagName + ' ' + (el.type || '') + ' ' + (el.placeholder || el.parentElement.textContent)).trim().slice(0, 40),
            kind: cls ? kinds.find(k => cls.classList.contains(k)) : '',
            ring: style.outlineStyle === 'none' ? 0 : parseFloat(style.outlineWidth), contrast: (hi + 0.05) / (lo + 0.05),
            modebar: !!el.closest('.modebar')};
}"""


def tab_through_panel(page: Page) -> list[dict]:
    """Press Tab from the first control of the explorer until the focus leaves it; what had the focus, in order."""
    page.locator(".raftedu-explorer button").first.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # a keyboard move, so the browser shows the :focus-visible ring
    seen = []
    for _ in range(80):
        now = page.evaluate(FOCUS)
        if not now["inside"]:
            break
        seen.append(now)
        page.keyboard.press("Tab")
    return seen


def tab_to_selector(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the focused element matches ``selector`` (a CSS selector inside the explorer)."""
    for _ in range(limit):
        if page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector!r}")


def choose_by_arrow(page: Page, selector: str, key: str = "ArrowDown") -> tuple[str, str]:
    """Focus the dropdown ``selector`` by Tab, press ``key``; its value before and after (the focus must stay)."""
    page.locator(".raftedu-explorer button").first.focus()
    tab_to_selector(page, selector)
    before = page.evaluate("(s) => document.querySelector(s).value", selector)
    page.keyboard.press(key)
    page.wait_for_timeout(300)
    assert page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector), (
        f"{key} on {selector} moved the focus to {page.evaluate(FOCUS)}")
    return before, page.evaluate("(s) => document.querySelector(s).value", selector)


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_every_control_by_keyboard_focus_stays_in_the_explorer_with_a_ring_of_3_to_1(lab: Lab, theme: str) -> None:
    """Every panel's controls by Tab (no plotly toolbar stops), each with a ≥ 3 px ring at ≥ 3:1 against the page;
    dropdowns and sliders answer ArrowUp/ArrowDown without JupyterLab taking the keys; a button that disables itself
    hands the focus to its partner."""
    shot = "keyboard-all-" + theme.split()[-1].lower()
    with notebook_page(lab, "explorer.ipynb", f"{shot}-page.png", viewport=(1280, 720), theme=theme) as page:
        open_explorer(page)
        stops: dict[str, list[dict]] = {}
        for k, panel in enumerate(["Servers", "Network", "Client", "etcd", "Event log", "Key"]):
            page.locator(".raftedu-explorer button").first.focus()
            tab_to(page, panel)
            page.keyboard.press("Space")
            page.wait_for_timeout(200)
            stops[panel] = tab_through_panel(page)
            page.locator(".raftedu-explorer").screenshot(path=str(ARTIFACTS / f"{shot}-{k + 1}-{panel.replace(' ', '-')}.png"))
        every = [s for panel in stops.values() for s in panel]
        assert not [s for s in every if s["modebar"]], "plotly's toolbar takes Tab stops"
        weak = [(s["what"], s["ring"], round(s["contrast"], 2)) for s in every if s["ring"] < 3 or s["contrast"] < 3]
        assert not weak, f"focus rings under 3 px or 3:1: {weak}"
        names = {s["what"] for s in every}
        for control in ("Play", "Step", "Crash S1", "Apply preset", "Heal", "Partition", "Client request", "Add server",
                        "Snapshot"):
            assert control in names, f"{control!r} never got the focus by Tab: {sorted(names)}"
        for kind in ("widget-dropdown", "widget-slider", "widget-text", "widget-checkbox"):
            assert any(s["kind"] == kind for s in every), f"no {kind} got the focus by Tab: {sorted(names)}"

        # Dropdowns: ArrowDown / ArrowUp choose, and the focus stays on them.
        page.get_by_role("button", name="Network", exact=True).click()
        before, after = choose_by_arrow(page, ".raftedu-preset select")
        assert (before, after) == ("isolate a node", "split in halves")
        assert choose_by_arrow(page, ".raftedu-preset select", "ArrowUp")[1] == "isolate a node"
        speed = choose_by_arrow(page, ".raftedu-speed select")
        assert speed[0] != speed[1]
        # Sliders: ArrowUp moves them and the explanation says what the network does now.
        page.locator(".raftedu-explorer button").first.focus()
        tab_to_selector(page, ".raftedu-drop-rate .noUi-handle")
        press_and_wait(page, "ArrowUp", "drop rate 5 %")
        assert page.evaluate("() => document.activeElement.matches('.raftedu-drop-rate .noUi-handle')")
        page.locator(".raftedu-explorer button").first.focus()
        tab_to_selector(page, ".raftedu-delay .noUi-handle")
        press_and_wait(page, "ArrowUp", "delay 6–15 ms")
        assert page.evaluate("() => document.activeElement.matches('.raftedu-delay .noUi-handle')")
        page.get_by_role("button", name="etcd", exact=True).click()
        member = choose_by_arrow(page, ".raftedu-member select", "ArrowUp")
        assert member[0] != member[1]

        # Crash by Enter: the button disables itself and hands the focus to Restart of the same server.
        page.get_by_role("button", name="Servers", exact=True).click()
        page.locator(".raftedu-explorer button").first.focus()
        tab_to(page, "Crash S2")
        press_and_wait(page, "Enter", "S2 crashed")
        page.wait_for_function("() => (document.activeElement.textContent || '').trim() === 'Restart S2'", timeout=30_000)
        press_and_wait(page, "Enter", "S2 restarted")
        page.wait_for_function("() => (document.activeElement.textContent || '').trim() === 'Crash S2'", timeout=30_000)
        page.locator(".raftedu-explorer").screenshot(path=str(ARTIFACTS / f"{shot}-focus-after-restart.png"))
