"""The explorer in a real browser: JupyterLab + headless Debian chromium, driven by playwright.

Starts JupyterLab on 127.0.0.1 with a token (own process group), opens
``explorer.ipynb`` (a copy in a temporary folder), runs it, clicks "Crash"
on the leader and checks in the DOM that the figure redrew that server as
crashed and, after "Run 1 s", a new leader. Screenshots and the latencies
measured inside the page go to ``test-artifacts/``.

Needs ``apt-get install -y chromium`` and ``pip install playwright`` (never
``playwright install``: its browser download is not possible here).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labpage import ARTIFACTS, BROWSER_MISSING, Lab, Page, notebook_page, run_all, wait_until_all_cells_ran
from raftedu.viz import ROLE_COLORS

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]

LESSON_02 = Path(__file__).parent.parent.parent / "notebooks" / "02_leader_election.ipynb"


# Find a trace of the explorer's figure by name (plotly.js names its DOM groups by uid, which FigureWidget may change).
TRACE = """(name) => {
    const gd = document.querySelector('.raftedu-explorer .js-plotly-plot');
    if (!gd || !gd.data || !gd._fullData) return null;
    const i = gd.data.findIndex(t => t.name === name);
    return i < 0 ? null : gd.querySelector('.trace' + gd._fullData[i].uid);
}"""
SERVER_FILL = f"i => {{ const t = ({TRACE})('servers'); const p = t && t.querySelectorAll('path.point')[i]; return p ? p.style.fill : null; }}"
SERVER_COUNT = f"() => {{ const t = ({TRACE})('servers'); return t ? t.querySelectorAll('path.point').length : 0; }}"
STATUS = f"() => {{ const t = ({TRACE})('status'); const x = t && t.querySelector('text'); return x ? x.textContent : ''; }}"



def leader_in_status(page: Page) -> int | None:
    text = page.evaluate(STATUS)
    if "· leader S" not in text:
        return None
    return int(text.split("· leader S")[1].split(" ")[0])


def test_crash_the_leader_in_jupyterlab(lab: Lab) -> None:
    with notebook_page(lab, "explorer.ipynb", "explorer-page.png") as page:
        leader, new, click_ms = crash_leader_and_see_reelection(page, "explorer")
        step_ms = [page.evaluate(CLICK_TO_PLOT, "Step") for _ in range(7)]
        follower = next(i for i in range(1, 6) if i not in (leader, new))
        crash_restart_ms = [page.evaluate(CLICK_TO_PLOT, f"{verb} S{follower}")
                            for _ in range(3) for verb in ("Crash", "Restart")]
        assert page.evaluate(SERVER_FILL, follower - 1) == ROLE_COLORS["follower"]
        playback = measure_playback(page)
        animation = page.locator(".js-plotly-plot").last
        animation.scroll_into_view_if_needed()
        animation.screenshot(path=str(ARTIFACTS / "animation-after-3s-play.png"))
        (ARTIFACTS / "browser-latency.json").write_text(json.dumps(
            {"click_to_dom_ms": click_ms, "step_click_to_dom_ms": step_ms,
             "crash_restart_click_to_dom_ms": crash_restart_ms, **playback,
             "leader": leader, "new_leader": new}, indent=2))


def crash_leader_and_see_reelection(page: Page, shots: str) -> tuple[int, int, float]:
    """Run the open notebook, click Crash on the explorer's leader, Run 1 s; check the DOM; return (old, new, click ms)."""
    run_all(page)
    wait_until_all_cells_ran(page)  # a later cell may still change the cluster
    page.wait_for_function(f"() => ({SERVER_COUNT})() === 5", timeout=90_000)
    page.wait_for_function(f"() => ({STATUS})().includes('· leader S')", timeout=30_000)
    leader = leader_in_status(page)
    assert leader is not None
    assert page.evaluate(SERVER_FILL, leader - 1) == ROLE_COLORS["leader"]
    explorer = page.locator(".raftedu-explorer")
    explorer.scroll_into_view_if_needed()
    explorer.screenshot(path=str(ARTIFACTS / f"{shots}-1-leader-elected.png"))

    # Measure inside the page: from the click to the DOM showing the server crashed.
    page.evaluate("""([label, index, crashed, fill]) => {
        window.__raftedu = {latency: null};
        const button = Array.from(document.querySelectorAll('.raftedu-explorer button'))
            .find(b => b.textContent.trim() === label);
        const plot = document.querySelector('.raftedu-explorer .js-plotly-plot');
        button.addEventListener('click', () => {
            const t0 = performance.now();
            const done = () => {
                if (eval(fill)(index) === crashed) {
                    window.__raftedu.latency = performance.now() - t0; observer.disconnect();
                }
            };
            const observer = new MutationObserver(done);
            observer.observe(plot, {subtree: true, childList: true, attributes: true});
        }, {capture: true, once: true});
    }""", [f"Crash S{leader}", leader - 1, ROLE_COLORS["crashed"], SERVER_FILL])
    page.wait_for_timeout(1_000)  # let the kernel finish the first render's messages, as a reader would
    page.get_by_role("button", name=f"Crash S{leader}", exact=True).click()
    page.wait_for_function(f"() => ({SERVER_FILL})({leader - 1}) === '{ROLE_COLORS['crashed']}'",
                           timeout=10_000, polling="raf")
    page.wait_for_function("() => window.__raftedu.latency !== null", timeout=5_000)
    click_ms = page.evaluate("window.__raftedu.latency")
    assert page.get_by_role("button", name=f"Crash S{leader}", exact=True).is_disabled()
    assert f"S{leader} crashed" in explorer.inner_text()
    explorer.screenshot(path=str(ARTIFACTS / f"{shots}-2-leader-crashed.png"))

    page.get_by_role("button", name="Run 1 s", exact=True).click()
    page.wait_for_function(
        f"() => {{ const t = ({STATUS})(); return t.includes('· leader S') && !t.includes('· leader S{leader} '); }}",
        timeout=15_000)
    new = leader_in_status(page)
    assert new is not None and new != leader
    assert page.evaluate(SERVER_FILL, new - 1) == ROLE_COLORS["leader"]
    assert page.evaluate(SERVER_FILL, leader - 1) == ROLE_COLORS["crashed"]
    explorer.screenshot(path=str(ARTIFACTS / f"{shots}-3-new-leader.png"))

    return leader, new, click_ms


def test_lesson_02_crash_the_leader_from_the_widget(lab: Lab) -> None:
    """Lesson 02 runs in JupyterLab; crashing the leader with the explorer's button leads to a re-election."""
    with notebook_page(lab, LESSON_02.name, "lesson02-page.png") as page:
        leader, new, _ = crash_leader_and_see_reelection(page, "lesson02")
        assert new != leader
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, errors.first.inner_text()


CLICK_TO_PLOT = """(label) => new Promise(resolve => {
    const plot = document.querySelector('.raftedu-explorer .js-plotly-plot');
    const button = Array.from(document.querySelectorAll('.raftedu-explorer button')).find(b => b.textContent.trim() === label);
    let t0 = 0;
    const observer = new MutationObserver(() => { observer.disconnect(); resolve(performance.now() - t0); });
    setTimeout(() => {
        observer.observe(plot, {subtree: true, childList: true, attributes: true, characterData: true});
        t0 = performance.now(); button.click();
    }, 300);
    setTimeout(() => { observer.disconnect(); resolve(null); }, 3000);
})"""
"""Click a button of the explorer; resolve with ms until the figure's DOM changes (null if it did not)."""


def measure_playback(page: Page) -> dict[str, float]:
    """Frames per second in the page: the explorer's Play (live redraws) and the static animation's Play."""
    live = page.evaluate("""(statusSource) => new Promise(resolve => {
        const plot = document.querySelector('.raftedu-explorer .js-plotly-plot');
        const seen = new Set();
        const status = eval(statusSource);
        const observer = new MutationObserver(() => seen.add(status()));
        observer.observe(plot, {subtree: true, childList: true, characterData: true, attributes: true});
        const play = document.querySelector('.raftedu-explorer .widget-play button');
        play.click();
        const t0 = performance.now();
        setTimeout(() => { play.click(); observer.disconnect();
                           resolve(seen.size / ((performance.now() - t0) / 1000)); }, 3000);
    })""", STATUS)
    animation = page.evaluate("""() => new Promise(resolve => {
        const plots = Array.from(document.querySelectorAll('.js-plotly-plot'))
            .filter(p => !p.closest('.raftedu-explorer') && p.layout && p.layout.sliders);
        if (!plots.length) { resolve(null); return; }
        const gd = plots[0];
        let frames = 0;
        gd.on('plotly_animatingframe', () => { frames += 1; });
        const play = Array.from(gd.querySelectorAll('.updatemenu-button')).find(b => b.textContent.includes('play'));
        const t0 = performance.now();
        play.dispatchEvent(new MouseEvent('click', {bubbles: true}));
        setTimeout(() => resolve(frames / ((performance.now() - t0) / 1000)), 3000);
    })""")
    return {"explorer_play_fps": live, "animation_play_fps": animation}
