"""Lesson figures follow JupyterLab's theme: on the dark theme no bright white box, every axis, title and legend text
readable (≥ 4.5:1 against the figure's background), checked on the page and on screenshots (issue 29 item 5).

The lesson figures are static plotly JSON drawn by JupyterLab's plotly renderer; the course's page-theme CSS
(raftedu.viz.style.PAGE_THEME_CSS, shown with every figure) redraws them dark.
"""

from __future__ import annotations

import struct
import zlib

import pytest

from labpage import ARTIFACTS, BROWSER_MISSING, Lab, notebook_page, run_all, wait_until_all_cells_ran

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]

# For one static figure: its background, and the contrast of each of its texts (titles, ticks, legend, text traces in
# the course's text ink) against it.
CONTRASTS = """(fig) => {
    const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number).slice(0, 3);
    const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
        .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
    const svg = fig.querySelector('.main-svg');
    const bg = rgb(getComputedStyle(svg).backgroundColor);
    const texts = Array.from(fig.querySelectorAll('.gtitle, .xtick text, .ytick text, .g-xtitle text, .g-ytitle text, '
                                                 + '.legendtext, .annotation-text, '
                                                 // text traces in the course's text ink (the cluster picture's title,
                                                 // status, log headings); role labels on markers keep their own ink
                                                 + '.textpoint text[style*="fill: rgb(42, 63, 95)"]'))
        .filter(t => t.textContent.trim());
    return {bg, bgLum: lum(bg), texts: texts.map(t => {
        const [hi, lo] = [lum(rgb(getComputedStyle(t).fill)), lum(bg)].sort((a, b) => b - a);
        return [t.textContent.trim().slice(0, 30), (hi + 0.05) / (lo + 0.05)];
    })};
}"""


def png_pixels(png: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, channels, raw rows without filter bytes) of an 8-bit RGB(A) PNG, as chromium writes them."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    data, stride = zlib.decompress(idat), width * channels
    rows, prev = bytearray(), bytearray(stride)
    for y in range(height):
        kind, line = data[y * (stride + 1)], bytearray(data[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up, corner = prev[x], prev[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 255
            elif kind == 2:
                line[x] = (line[x] + up) & 255
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows += line
        prev = line
    return width, height, channels, bytes(rows)


def bright_share(png: bytes) -> float:
    """The share of a screenshot's pixels that are near white (every channel above 230)."""
    width, height, channels, rows = png_pixels(png)
    bright = sum(1 for k in range(0, len(rows), channels * 7) if min(rows[k:k + 3]) > 230)  # every 7th pixel
    return bright / max(1, len(range(0, len(rows), channels * 7)))


@pytest.mark.parametrize("notebook", ["06_even_vs_odd.ipynb", "02_leader_election.ipynb"])
def test_lesson_figures_turn_dark_with_jupyterlabs_dark_theme(lab: Lab, notebook: str) -> None:
    stem = "dark-" + notebook.split("_")[0]
    with notebook_page(lab, notebook, f"{stem}-page.png", viewport=(1440, 900), theme="JupyterLab Dark") as page:
        run_all(page)
        wait_until_all_cells_ran(page, timeout_ms=300_000)
        page.wait_for_function("() => document.querySelectorAll('.jp-RenderedPlotly .main-svg').length > 0", timeout=60_000)
        figures = page.locator(".jp-RenderedPlotly")
        checked = 0
        for k in range(min(figures.count(), 5)):
            figure = figures.nth(k)
            figure.scroll_into_view_if_needed()
            figure.locator(".main-svg").first.wait_for(timeout=60_000)
            page.wait_for_timeout(300)
            shot = figure.screenshot(path=str(ARTIFACTS / f"{stem}-{k + 1}.png"))
            found = figure.evaluate(CONTRASTS)
            assert found["bgLum"] < 0.05, f"figure {k + 1} background {found['bg']} is not dark"
            weak = [(text, round(c, 2)) for text, c in found["texts"] if c < 4.5]
            assert found["texts"] and not weak, f"figure {k + 1}: texts under 4.5:1 on the dark page: {weak}"
            share = bright_share(shot)
            assert share < 0.08, f"figure {k + 1}: {share:.0%} of its pixels are near white (a bright box)"
            checked += 1
        assert checked >= 1
