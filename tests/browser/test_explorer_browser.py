"""The explorer in a real browser: JupyterLab + headless Debian chromium, driven by playwright.

Opens ``explorer.ipynb`` (and lesson 02) in JupyterLab (see labpage.py), runs
it and uses the explorer as a student would, at the two laptop screens the
issue names (1440×900 and 1280×720): after every kind of click the figure and
the explanation of that click must both be inside the visible part of the
notebook, and no two text labels of the figure may overlap. It also checks the
dark theme, crashes the leader and sees a re-election. Asked for (only when
``RAFTEDU_CLICKS`` is set: ``make bench`` and ``benchmarks/bench_viz.py
--browser`` ask for 30; ``make test`` does not), it measures click →
figure-updated latency inside the page, ``RAFTEDU_CLICKS`` clicks of every kind.
Screenshots and ``browser-latency.json`` go to ``test-artifacts/``.

Needs ``apt-get install -y chromium`` and ``pip install playwright`` (never
``playwright install``: its browser download is not possible here).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from pathlib import Path

import pytest

from labels import describe_overlaps, overlapping_labels
from labpage import ARTIFACTS, BROWSER_MISSING, Lab, Page, notebook_page, run_all, wait_until_all_cells_ran
from raftedu.viz import ROLE_COLORS

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]

LESSON_02 = Path(__file__).parent.parent.parent / "notebooks" / "02_leader_election.ipynb"
FIGURE = ".raftedu-explorer .js-plotly-plot"
EXPLANATION = ".raftedu-explorer .raftedu-explanation"
CLICKS = int(os.environ.get("RAFTEDU_CLICKS", "0"))
"""Clicks of every kind measured for the latency table (the benchmark asks for 30; 0: the measure is not run)."""

# Find a trace of the explorer's figure by name (plotly.js names its DOM groups by uid, which FigureWidget may change).
TRACE = """(name) => {
    const gd = document.querySelector('.raftedu-explorer .js-plotly-plot');
    if (!gd || !gd.data || !gd._fullData) return null;
    const i = gd.data.findIndex(t => t.name === name);
    return i < 0 ? null : gd.querySelector('.trace' + gd._fullData[i].uid);
}"""
SERVER_FILL = f"i => {{ const t = ({TRACE})('servers'); const p = t && t.querySelectorAll('path.point')[i]; return p ? p.style.fill : null; }}"
SERVER_COUNT = f"() => {{ const t = ({TRACE})('servers'); return t ? t.querySelectorAll('path.point').length : 0; }}"
TEXT_OF = f"name => {{ const t = ({TRACE})(name); const x = t && t.querySelector('text'); return x ? x.textContent : ''; }}"
STATUS = f"() => ({TEXT_OF})('status')"
# [points in the figure's data, points drawn] of the ring's servers and the log panel's cells: a redraw that names
# only some traces must leave the others drawn (a plotly.js subplot whose named traces are all empty loses them all).
DRAWN = f"""() => {{ const gd = document.querySelector('.raftedu-explorer .js-plotly-plot');
    return ['servers', 'log cells'].map(name => {{ const d = gd.data.find(t => t.name === name), t = ({TRACE})(name);
        return [d.x.length, t ? t.querySelectorAll('path.point').length : 0]; }}); }}"""
FITTED = ("() => { const gd = document.querySelector('.raftedu-explorer .js-plotly-plot');"
          " return !!gd && !!gd._fullLayout && Math.abs(gd._fullLayout.width - gd.offsetWidth) <= 4; }")

# Click a control of the explorer (a button found by its text) and resolve with the ms until the figure's DOM
# changes, measured inside the page (null when it did not change within 20 s).
CLICK_TO_PLOT = """(label) => new Promise(resolve => {
    const plot = document.querySelector('.raftedu-explorer .js-plotly-plot');
    const button = Array.from(document.querySelectorAll('.raftedu-explorer button'))
        .find(b => b.textContent.trim() === label && !b.disabled);
    if (!button) { resolve(-1); return; }
    const observer = new MutationObserver(() => { observer.disconnect(); resolve(performance.now() - t0); });
    observer.observe(plot, {subtree: true, childList: true, attributes: true, characterData: true});
    const t0 = performance.now();
    button.click();
    setTimeout(() => { observer.disconnect(); resolve(null); }, 20000);  // a busy 2-core machine can be slow
})"""

# The same click, resolving with [ms to the first change of the figure's DOM, ms to the next frame after it]: the
# second includes the rest of plotly.js's drawing (a whole-figure replot or only some traces) up to the paint.
CLICK_TO_PAINT = CLICK_TO_PLOT.replace(
    "observer.disconnect(); resolve(performance.now() - t0);",
    "observer.disconnect(); const first = performance.now() - t0;"
    " requestAnimationFrame(() => resolve([first, performance.now() - t0]));").replace(
    "resolve(null); }, 20000)", "resolve([null, null]); }, 20000)")
assert CLICK_TO_PAINT.count("requestAnimationFrame") == 1 and "[null, null]" in CLICK_TO_PAINT


def leader_in_status(page: Page) -> int | None:
    text = page.evaluate(STATUS)
    found = re.search(r"· leader S(\d+) ", text)
    return int(found.group(1)) if found else None


def open_explorer(page: Page) -> None:
    """Run the open notebook and wait until the explorer's figure is drawn and fills its box."""
    run_all(page)
    wait_until_all_cells_ran(page)  # a later cell may still change the cluster
    page.wait_for_function(f"() => ({SERVER_COUNT})() >= 3", timeout=90_000)
    page.wait_for_function(FITTED, timeout=30_000)
    page.evaluate("() => document.querySelector('.raftedu-explorer').scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)


def visible_area(page: Page) -> dict[str, float]:
    """The part of the window where notebook content can be seen: the viewport ∩ the notebook's scrolling panel."""
    return page.evaluate("""() => {
        const scroller = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer')
            || document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
        const r = scroller.getBoundingClientRect();
        return {top: Math.max(0, r.top), bottom: Math.min(window.innerHeight, r.bottom),
                left: Math.max(0, r.left), right: Math.min(window.innerWidth, r.right)};
    }""")


def assert_in_view(page: Page, what: str, selector: str) -> None:
    page.locator(selector).first.wait_for(state="visible", timeout=15_000)
    box = page.locator(selector).first.bounding_box()
    area = visible_area(page)
    assert box is not None, f"{what} ({selector}) is not rendered"
    inside = (box["y"] >= area["top"] - 1 and box["y"] + box["height"] <= area["bottom"] + 1
              and box["x"] >= area["left"] - 1 and box["x"] + box["width"] <= area["right"] + 1)
    assert inside, f"{what} at {box} is not inside the visible notebook area {area}"


def wait_idle(page: Page) -> None:
    """Wait until the kernel has handled the last click (the status bar says Idle again)."""
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    page.wait_for_timeout(150)


def explanation(page: Page) -> str:
    return page.locator(EXPLANATION).first.inner_text()


def click_and_check(page: Page, label: str, says: str, shot: str, *, figure_changes: bool = True) -> float | None:
    """Click ``label``; then the explanation must name it (and ``says``), the figure and it must be in view, no labels overlap."""
    old = explanation(page)
    ms = page.evaluate(CLICK_TO_PLOT, label)
    assert ms != -1, f"no enabled button {label!r}"
    page.wait_for_function("([sel, old]) => { const e = document.querySelector(sel); return e && e.innerText !== old; }",
                           arg=[EXPLANATION, old], timeout=45_000)
    wait_idle(page)
    text = explanation(page)
    assert label.split()[0] in text and says in text, f"after {label!r} the explanation says {text!r}"
    if figure_changes:
        assert ms is not None, f"{label!r} did not change the figure"
    try:
        page.wait_for_function(f"() => ({DRAWN})().every(([held, drawn]) => held === drawn)", timeout=10_000)
    except Exception as err:
        raise AssertionError(f"after {label!r} [held, drawn] points of servers, log cells: {page.evaluate(DRAWN)}") from err
    assert_in_view(page, "the figure", FIGURE)
    assert_in_view(page, f"the explanation of {label!r}", EXPLANATION)
    pairs = overlapping_labels(page, FIGURE)
    page.locator(".raftedu-explorer").screenshot(path=str(ARTIFACTS / shot))
    assert not pairs, f"after {label!r}: " + describe_overlaps(pairs)
    return ms


@pytest.mark.parametrize("width,height", [(1440, 900), (1280, 720)])
def test_every_click_keeps_figure_and_explanation_in_view_without_overlaps(lab: Lab, width: int, height: int) -> None:
    size = f"{width}x{height}"
    with notebook_page(lab, "explorer.ipynb", f"explorer-{size}-page.png", viewport=(width, height)) as page:
        open_explorer(page)
        shots = iter(range(1, 100))

        def step(label: str, says: str = "", **kw: bool) -> float | None:
            name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
            return click_and_check(page, label, says, f"explorer-{size}-{next(shots):02d}-{name}.png", **kw)

        step("Step", "t = ")
        step("Step back", "undid")
        step("Run 1 s", "→ t = ")
        leader = leader_in_status(page)
        assert leader is not None
        step(f"Crash S{leader}", f"S{leader} crashed")
        step("Play", "", figure_changes=False)  # "Play → time runs at …", or already a tick's "Play ▶ t = …" on a
        # loaded machine (the status bar's Idle comes late while play keeps the kernel busy)
        page.wait_for_timeout(1_500)
        step("Pause", "stopped at t = ", figure_changes=False)
        step("Run 1 s")
        new = leader_in_status(page)
        assert new not in (None, leader), page.evaluate(STATUS)
        step(f"Restart S{leader}", f"S{leader} restarted")
        follower = next(i for i in range(1, 6) if i not in (leader, new))
        step(f"Time out S{follower}", f"S{follower}")
        page.get_by_role("button", name="Network", exact=True).click()
        page.locator(".raftedu-explorer .raftedu-preset select").select_option("bridge")
        step("Apply preset", "4 links cut")
        assert "network: 4 links cut" in page.evaluate(f"() => ({TEXT_OF})('network')")
        step("Heal", "network healed")
        handle = page.locator(".raftedu-explorer .raftedu-drop-rate .noUi-handle")  # drop rate, by keyboard
        handle.focus()
        old = explanation(page)
        for _ in range(8):
            page.keyboard.press("ArrowRight")
        page.wait_for_function("([sel, old]) => document.querySelector(sel).innerText !== old", arg=[EXPLANATION, old],
                               timeout=45_000)
        wait_idle(page)
        page.wait_for_function(f"() => ({TEXT_OF})('loss badge').includes('drop 40 %')", timeout=45_000)
        assert "drop 40 % of messages" in explanation(page)
        assert_in_view(page, "the figure", FIGURE)
        assert_in_view(page, "the drop rate's explanation", EXPLANATION)
        page.locator(".raftedu-explorer").screenshot(path=str(ARTIFACTS / f"explorer-{size}-{next(shots):02d}-drop-40.png"))
        page.locator(".raftedu-explorer .raftedu-groups input").fill("1,2 | 3,4,5")
        step("Partition", "partition")
        step("Heal", "network healed")
        page.get_by_role("button", name="Client", exact=True).click()
        step("Client request", "client sent")
        page.get_by_role("button", name="Event log", exact=True).click()
        assert_in_view(page, "the event log", ".raftedu-explorer .raftedu-event-log")
        page.get_by_role("button", name="Key", exact=True).click()
        assert_in_view(page, "the key", ".raftedu-explorer .raftedu-key")
        page.locator(".raftedu-explorer").screenshot(path=str(ARTIFACTS / f"explorer-{size}-{next(shots):02d}-key.png"))


def test_the_dark_theme_draws_a_dark_figure(lab: Lab) -> None:
    with notebook_page(lab, "explorer.ipynb", "explorer-dark-page.png", viewport=(1440, 900),
                       theme="JupyterLab Dark") as page:
        open_explorer(page)
        page.wait_for_function("() => document.querySelector('.raftedu-explorer .js-plotly-plot')"
                               "._fullLayout.paper_bgcolor === 'rgb(17,17,17)'", timeout=30_000)
        background = page.evaluate("() => getComputedStyle(document.querySelector("
                                   "'.raftedu-explorer .js-plotly-plot .main-svg .bg') || document.querySelector("
                                   "'.raftedu-explorer .js-plotly-plot .main-svg')).fill")
        channels = [int(v) for v in re.findall(r"\d+", page.evaluate(
            "() => document.querySelector('.raftedu-explorer .js-plotly-plot')._fullLayout.paper_bgcolor"))][:3]
        assert max(channels) < 60, (channels, background)
        assert not overlapping_labels(page, FIGURE)
        page.locator(".raftedu-explorer").screenshot(path=str(ARTIFACTS / "explorer-dark.png"))


@pytest.mark.skipif(CLICKS < 1, reason="a measurement, run when asked: RAFTEDU_CLICKS=N (make bench)")
def test_crash_the_leader_and_measure_every_kind_of_click(lab: Lab) -> None:
    with notebook_page(lab, "explorer.ipynb", "explorer-page.png") as page:
        leader, new, first_click_ms = crash_leader_and_see_reelection(page, "explorer")
        latencies = measure_clicks(page, CLICKS)
        election = watch_an_election(page)
        playback = measure_playback(page)
        animation = page.locator(".js-plotly-plot").last
        animation.scroll_into_view_if_needed()
        animation.screenshot(path=str(ARTIFACTS / "animation-after-3s-play.png"))
        (ARTIFACTS / "browser-latency.json").write_text(json.dumps(
            {"click_to_dom_ms": first_click_ms, "clicks": latencies, "clicks_per_kind": CLICKS, **election,
             **playback, "leader": leader, "new_leader": new, "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             "load_average": os.getloadavg()[0]}, indent=2))
        table = ["| control | median ms | p95 ms |", "|---|---|---|"] + [
            f"| {kind} | {summary(values)[0]:.0f} | {summary(values)[1]:.0f} |" for kind, values in latencies.items()]
        (ARTIFACTS / "browser-latency.md").write_text(
            f"Click → figure redraw, measured in the page, {CLICKS} clicks per control, load average "
            f"{os.getloadavg()[0]:.1f} ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n\n" + "\n".join(table) + "\n")
        for kind, values in latencies.items():
            assert len([v for v in values if v is not None]) == CLICKS, f"{kind}: the figure did not always change"


def measure_clicks(page: Page, per_kind: int) -> dict[str, list[float | None]]:
    """Click every kind of control ``per_kind`` times; ms from click to figure DOM change, measured in the page."""
    page.get_by_role("button", name="Servers", exact=True).click()
    out: dict[str, list[float | None]] = {}

    def timed(kind: str, label: str) -> None:
        ms = page.evaluate(CLICK_TO_PAINT, label)
        assert ms != -1, f"no enabled button {label!r}"
        out.setdefault(kind, []).append(ms[0])
        out.setdefault(f"{kind}, painted", []).append(ms[1])  # to the frame after the change: the whole redraw
        wait_idle(page)

    def enabled(prefix: str) -> str:
        return page.evaluate("(p) => Array.from(document.querySelectorAll('.raftedu-explorer button'))"
                             ".map(b => [b.textContent.trim(), b.disabled]).find(([t, d]) => t.startsWith(p) && !d)[0]",
                             prefix)

    for _ in range(per_kind):
        timed("Step", "Step")
    for _ in range(per_kind):
        timed("Step back", "Step back")
    for _ in range(per_kind):
        timed("Run 1 s", "Run 1 s")
    for _ in range(per_kind):
        follower = next(i for i in range(1, 6) if i != leader_in_status(page))
        timed("Crash", f"Crash S{follower}")
        timed("Restart", f"Restart S{follower}")
    for _ in range(per_kind):
        timed("Time out", enabled("Time out"))
    page.get_by_role("button", name="Network", exact=True).click()
    page.locator(".raftedu-explorer .raftedu-preset select").select_option("majorities ring")
    for _ in range(per_kind):
        timed("Apply preset", "Apply preset")
        timed("Heal", "Heal")
    page.get_by_role("button", name="Client", exact=True).click()
    page.get_by_role("button", name="Run 1 s", exact=True).click()
    wait_idle(page)
    for _ in range(per_kind):
        timed("Client request", "Client request")
    page.get_by_role("button", name="Run 1 s", exact=True).click()  # the new leader commits: servers can be added
    wait_idle(page)
    page.get_by_role("button", name="etcd", exact=True).click()
    for _ in range(per_kind):  # a sixth server, and back: the picture is redrawn in place (issue 29 item 7)
        timed("Add server", "Add server")
        timed("Step back over Add server", "Step back")
    return out


def watch_an_election(page: Page) -> dict[str, float | None]:
    """Crash the leader and press Play at the default speed: real seconds until a new leader shows, and virtual ms."""
    page.get_by_role("button", name="Servers", exact=True).click()
    leader = leader_in_status(page)
    assert leader is not None
    page.get_by_role("button", name=f"Crash S{leader}", exact=True).click()
    wait_idle(page)
    start_ms = int(re.search(r"t = (\d+) ms", page.evaluate(STATUS)).group(1))
    t0 = time.perf_counter()
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function(f"() => /· leader S\\d+ /.test(({STATUS})())", timeout=60_000)
    real = time.perf_counter() - t0
    virtual = int(re.search(r"t = (\d+) ms", page.evaluate(STATUS)).group(1)) - start_ms
    page.get_by_role("button", name="Pause", exact=True).click()
    wait_idle(page)
    return {"election_real_s": real, "election_virtual_ms": virtual}


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


def measure_playback(page: Page) -> dict[str, float | None]:
    """Frames per second in the page: the explorer's Play (live redraws) and the static animation's Play."""
    page.wait_for_function("() => Array.from(document.querySelectorAll('.raftedu-explorer button'))"
                           ".some(b => b.textContent.trim() === 'Play')", timeout=30_000)  # Pause has been handled
    live = page.evaluate("""(statusSource) => new Promise(resolve => {
        const plot = document.querySelector('.raftedu-explorer .js-plotly-plot');
        const seen = new Set();
        const status = eval(statusSource);
        const observer = new MutationObserver(() => seen.add(status()));
        observer.observe(plot, {subtree: true, childList: true, characterData: true, attributes: true});
        const play = Array.from(document.querySelectorAll('.raftedu-explorer button'))
            .find(b => b.textContent.trim() === 'Play');
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


def summary(values: list[float | None]) -> tuple[float, float]:
    """(median, p95) of the measured values (None: no change seen, left out)."""
    got = sorted(v for v in values if v is not None)
    return statistics.median(got), got[min(len(got) - 1, round(0.95 * (len(got) - 1)))]


def test_etcd_panel_adds_a_learner_that_the_picture_marks_and_promotes_it(lab: Lab) -> None:
    """Add server grows the picture to six servers (a new figure), the learner is labelled, promotion works."""
    with notebook_page(lab, "explorer.ipynb", "explorer-etcd-page.png", viewport=(1440, 900)) as page:
        open_explorer(page)
        page.get_by_role("button", name="etcd", exact=True).click()
        click_and_check(page, "Add server", "S6", "explorer-etcd-added.png")  # then Step back over it: the picture
        page.wait_for_function(f"() => ({SERVER_COUNT})() === 6", timeout=45_000)  # is redrawn with five servers
        click_and_check(page, "Step back", "undid", "explorer-etcd-added-undone.png")  # again (issue 29 item 7)
        page.wait_for_function(f"() => ({SERVER_COUNT})() === 5", timeout=45_000)
        old = explanation(page)
        page.get_by_role("button", name="Add server", exact=True).click()
        page.wait_for_function("([sel, old]) => document.querySelector(sel).innerText !== old", arg=[EXPLANATION, old],
                               timeout=45_000)
        wait_idle(page)
        assert "Add server" in explanation(page) and "S6" in explanation(page), explanation(page)
        page.wait_for_function(f"() => ({SERVER_COUNT})() === 6", timeout=45_000)
        page.wait_for_function(f"() => Array.from(document.querySelectorAll('{FIGURE} text'))"
                               ".some(t => t.textContent.includes('learner · term'))", timeout=45_000)
        assert_in_view(page, "the figure", FIGURE)
        assert_in_view(page, "the explanation", EXPLANATION)
        assert not overlapping_labels(page, FIGURE), describe_overlaps(overlapping_labels(page, FIGURE))
        page.locator(".raftedu-explorer").screenshot(path=str(ARTIFACTS / "explorer-etcd-learner.png"))
        click_and_check(page, "Run 1 s", "→ t = ", "explorer-etcd-run.png")
        page.get_by_role("button", name="etcd", exact=True).click()
        chosen = page.evaluate("() => Array.from(document.querySelectorAll('.raftedu-explorer select'))"
                               ".filter(s => s.offsetParent !== null).map(s => s.options[s.selectedIndex].text)")
        assert chosen[-1] == "S6", chosen  # the etcd panel's server choice moved to the newest server
        click_and_check(page, "Promote", "now uses voters {S1, S2, S3, S4, S5, S6}", "explorer-etcd-promote.png")
        click_and_check(page, "Run 1 s", "→ t = ", "explorer-etcd-promoted.png")
        page.wait_for_function(f"() => !Array.from(document.querySelectorAll('{FIGURE} text'))"
                               ".some(t => t.textContent.includes('learner · term'))", timeout=45_000)


# The bold bars drawn where snapshots end: the "snapshot bars" trace, one line segment (a path) per bar.
SNAPSHOT_BARS = (f"() => {{ const t = ({TRACE})('snapshot bars'); return t ? Array.from(t.querySelectorAll('path.js-line'))"
                 ".filter(p => parseFloat(p.style.strokeWidth) === 4).length : 0; }")
HOLLOW_CELLS = ("() => { const gd = document.querySelector('.raftedu-explorer .js-plotly-plot');"
                " const t = gd && gd.data.find(t => t.name === 'log cells'); const s = t && t.marker.symbol;"
                " return Array.isArray(s) ? s.filter(x => x === 'square-open').length : 0; }")


def test_etcd_panel_snapshot_draws_hollow_cells_and_the_bar_where_the_snapshot_ends(lab: Lab) -> None:
    """Snapshot on the etcd panel: the chosen server's compacted cells turn hollow, a bold bar closes its snapshot in
    its log row, and the Key says so in words."""
    with notebook_page(lab, "explorer.ipynb", "explorer-snapshot-page.png", viewport=(1440, 900)) as page:
        open_explorer(page)
        click_and_check(page, "Run 1 s", "→ t = ", "explorer-snapshot-run.png")
        assert page.evaluate(SNAPSHOT_BARS) == 0 and page.evaluate(HOLLOW_CELLS) == 0
        page.get_by_role("button", name="etcd", exact=True).click()
        click_and_check(page, "Snapshot", "", "explorer-snapshot-bar.png")
        assert "refused" not in explanation(page), explanation(page)
        page.wait_for_function(f"() => ({SNAPSHOT_BARS})() === 1", timeout=45_000)
        assert page.evaluate(HOLLOW_CELLS) >= 1
        page.locator(FIGURE).screenshot(path=str(ARTIFACTS / "explorer-snapshot-figure.png"))
        page.get_by_role("button", name="Key", exact=True).click()
        key = page.locator(".raftedu-explorer .raftedu-key").inner_text()
        assert "hollow log cell" in key and "where a snapshot ends" in key, key
        click_and_check(page, "Step back", "undid", "explorer-snapshot-undone.png")
        page.wait_for_function(f"() => ({SNAPSHOT_BARS})() === 0", timeout=45_000)


# Every element of the open panel whose content is cut: more to scroll than it shows, or text wider than its box.
HIDDEN_OVERFLOW = """() => {
    const panels = Array.from(document.querySelectorAll('.raftedu-explorer > .widget-box, .raftedu-explorer > .widget-html'))
        .filter(p => p.offsetParent !== null && !p.classList.contains('raftedu-explanation'));
    const cut = [];
    for (const panel of panels) {
        for (const el of [panel, ...panel.querySelectorAll('*')]) {
            if (el.offsetParent === null || el.closest('.js-plotly-plot')) continue;
            const style = getComputedStyle(el);
            const clips = /(hidden|auto|scroll|clip)/.test(style.overflowX + style.overflowY) || style.textOverflow === 'ellipsis';
            if (clips && (el.scrollHeight > el.clientHeight + 2 || el.scrollWidth > el.clientWidth + 2))
                cut.push((el.className || el.tagName) + ': ' + (el.textContent || el.placeholder || '').trim().slice(0, 40)
                         + ` (${el.scrollWidth}x${el.scrollHeight} in ${el.clientWidth}x${el.clientHeight})`);
            if (el.tagName === 'INPUT' && el.placeholder) {  // a placeholder wider than its box is cut
                const probe = document.createElement('span');
                probe.style.font = style.font; probe.style.visibility = 'hidden'; probe.style.position = 'absolute';
                probe.textContent = el.placeholder; document.body.appendChild(probe);
                if (probe.offsetWidth > el.clientWidth - 4) cut.push('placeholder: ' + el.placeholder);
                probe.remove();
            }
        }
    }
    return cut;
}"""


@pytest.mark.parametrize("theme", ["Light", "Dark"])
def test_every_panels_content_is_visible_at_1280x720_without_hidden_overflow(lab: Lab, theme: str) -> None:
    """Each panel in turn, in JupyterLab's light and dark theme: nothing clipped or behind a scroll box (labels,
    readouts, placeholder, the Key's entries), the whole panel inside the visible notebook area with the figure
    (issue 29 items 3 and 4), and the loss badge drawn as soon as the drop rate changes (in the dark theme it was
    once held in the figure's data and not drawn: plotly.js skipped a text that replaced an empty one)."""
    shot = f"panels-1280x720-{theme.lower()}"
    with notebook_page(lab, "explorer.ipynb", f"{shot}-page.png", viewport=(1280, 720),
                       theme=f"JupyterLab {theme}") as page:  # the session's lab keeps the theme a test before chose
        open_explorer(page)
        if theme == "Dark":  # the kernel redraws the figure dark once the page has told it the theme
            page.wait_for_function(f"() => document.querySelector('{FIGURE}')._fullLayout.paper_bgcolor === "
                                   "'rgb(17,17,17)'", timeout=30_000)
        for k, panel in enumerate(["Servers", "Network", "Client", "etcd", "Event log", "Key"], 1):
            page.get_by_role("button", name=panel, exact=True).click()
            page.wait_for_timeout(300)
            page.evaluate("() => document.querySelector('.raftedu-explorer').scrollIntoView({block: 'start'})")
            page.wait_for_timeout(200)
            page.locator(".raftedu-explorer").screenshot(path=str(ARTIFACTS / f"{shot}-{k}-{panel.replace(' ', '-')}.png"))
            assert page.evaluate(HIDDEN_OVERFLOW) == [], panel
            assert_in_view(page, "the figure", FIGURE)
            visible = page.evaluate("""() => Array.from(document.querySelectorAll('.raftedu-explorer > .widget-box, '
                + '.raftedu-explorer > .widget-html')).filter(p => p.offsetParent !== null).map(p => p.className)""")
            assert_in_view(page, f"the {panel} panel", ".raftedu-explorer > .widget-box:not([style*='display: none'])"
                           if panel in ("Servers", "Network", "Client", "etcd") else
                           f".raftedu-explorer .raftedu-{'key' if panel == 'Key' else 'event-log'}")
            assert visible
        key = page.locator(".raftedu-explorer .raftedu-key").inner_text()
        for entry in ("crashed", "learner", "PreVote", "TimeoutNow", "InstallSnapshot", "hollow log cell", "nextIndex"):
            assert entry in key, (entry, key)
        # The network readouts carry their unit, and a drop-rate change shows its badge at once (no step needed).
        page.get_by_role("button", name="Network", exact=True).click()
        page.wait_for_function("() => document.querySelector('.raftedu-explorer').innerText.includes('% lost')",
                               timeout=45_000)  # the panel opens after a round trip to the kernel
        network = page.locator(".raftedu-explorer").inner_text()
        assert "0 % lost" in network and "5–15 ms" in network, network
        handle = page.locator(".raftedu-explorer .raftedu-drop-rate .noUi-handle")
        handle.focus()
        old = explanation(page)
        page.keyboard.press("ArrowRight")
        page.wait_for_function("([sel, old]) => document.querySelector(sel).innerText !== old", arg=[EXPLANATION, old],
                               timeout=45_000)
        page.wait_for_function("() => document.querySelector('.raftedu-explorer').innerText.includes('5 % lost')",
                               timeout=45_000)  # the kernel took the new rate: the readout is written with the figure
        try:
            page.wait_for_function(f"() => ({TEXT_OF})('loss badge').includes('drop 5 %')", timeout=45_000)
        except Exception as err:  # say what the browser holds: the trace's data, or only its drawing, is stale
            held = page.evaluate("""() => { const gd = document.querySelector('.raftedu-explorer .js-plotly-plot');
                const t = gd && gd.data && gd.data.find(t => t.name === 'loss badge'); return t ? t.text : null; }""")
            raise AssertionError(f"no loss badge drawn; the figure's data in the browser holds {held!r}") from err
        page.locator(".raftedu-explorer").screenshot(path=str(ARTIFACTS / f"{shot}-drop-badge.png"))
