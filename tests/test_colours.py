"""Colours every student can tell apart: each pair of colours that carries meaning stays ≥ 20 apart (CIEDE2000)
for normal vision and under simulated protanopia, deuteranopia and tritanopia (Machado et al. 2009, severity 1,
as colour-science implements it). ≥ 20 reads as clearly different, ≤ 10 as the same colour.
"""

from __future__ import annotations

import itertools
import re
import warnings

import pytest

with warnings.catch_warnings():  # colour-science warns that SciPy and Matplotlib (unused here) are missing
    warnings.simplefilter("ignore")
    colour = pytest.importorskip("colour", reason="needs colour-science (the `test` extra; `make test` installs it)")
    import numpy as np

from raftedu.viz import evenodd, history
from raftedu.viz.style import MEANINGFUL_COLORS, TERM_COLORSCALE, term_color

VISIONS = (None, "Protanomaly", "Deuteranomaly", "Tritanomaly")
"""Normal vision, then the three dichromacies (severity 1 of the Machado 2009 anomalies)."""
SAME = 20.0
D65 = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]


def rgb(color: str) -> tuple[int, int, int]:
    """``rgb(r, g, b)`` or ``#rrggbb`` as three integers."""
    if color.startswith("#"):
        return tuple(int(color[k:k + 2], 16) for k in (1, 3, 5))  # type: ignore[return-value]
    found = re.fullmatch(r"rgba?\((\d+),\s*(\d+),\s*(\d+)(?:,\s*[\d.]+)?\)", color.strip())
    assert found, f"cannot read colour {color!r}"
    return tuple(int(v) for v in found.groups())  # type: ignore[return-value]


def lab(color: str, vision: str | None) -> np.ndarray:
    """CIELAB (D65) of ``color`` as seen with ``vision`` (None: normal)."""
    linear = colour.models.eotf_sRGB(np.array(rgb(color)) / 255)
    if vision is not None:
        with warnings.catch_warnings():  # the tritanomaly model is an approximation, and says so
            warnings.simplefilter("ignore")
            linear = np.clip(colour.matrix_cvd_Machado2009(vision, 1) @ linear, 0, 1)
    xyz = colour.RGB_to_XYZ(linear, colour.RGB_COLOURSPACES["sRGB"], apply_cctf_decoding=False)
    return colour.XYZ_to_Lab(xyz, D65)


def distance(a: str, b: str, vision: str | None) -> float:
    """CIEDE2000 between two colours as seen with ``vision``."""
    return float(colour.delta_E(lab(a, vision), lab(b, vision), method="CIE 2000"))


def too_close(palette: dict[str, str]) -> list[str]:
    """Every pair of ``palette`` closer than :data:`SAME` for some vision, named."""
    out = []
    for (name_a, a), (name_b, b) in itertools.combinations(palette.items(), 2):
        for vision in VISIONS:
            d = distance(a, b, vision)
            if d < SAME:
                out.append(f"{name_a} {a} vs {name_b} {b}: {d:.1f} apart for {vision or 'normal vision'}")
    return out


PALETTES = {
    **MEANINGFUL_COLORS,
    "client history (lesson 08)": {history.LABELS[k]: c for k, c in history.HISTORY_COLORS.items()},
    "even/odd (lesson 06)": {"odd N": evenodd.ODD_COLOR, "even N": evenodd.EVEN_COLOR},
    "partition sides (lesson 06)": {"side commits": evenodd.PROGRESS_COLOR, "side stuck": evenodd.STUCK_COLOR},
}


@pytest.mark.parametrize("name", sorted(PALETTES))
def test_meaningful_colours_stay_apart_for_every_colour_vision(name: str) -> None:
    close = too_close(PALETTES[name])
    assert not close, f"{name}: " + "; ".join(close)


def test_the_check_tells_red_from_green_only_for_normal_vision() -> None:
    """The check itself: the old vote-reply colours (green granted, red refused) fail for deuteranopia, as measured."""
    granted, refused = "rgb(44, 160, 44)", "rgb(214, 39, 40)"
    assert distance(granted, refused, None) > 60
    assert distance(granted, refused, "Deuteranomaly") < 10
    assert too_close({"granted": granted, "refused": refused}) == [
        f"granted {granted} vs refused {refused}: {distance(granted, refused, 'Deuteranomaly'):.1f} apart for Deuteranomaly"]
    assert distance("#000000", "#000000", "Protanomaly") == 0
    assert distance("#ffffff", "#000000", None) == pytest.approx(100, abs=0.5)  # CIEDE2000 of white vs black


def test_term_colours_are_ordered_by_lightness_for_every_colour_vision() -> None:
    """Terms are ordered values: within a cycle of ten, each later term is lighter, whatever the colour vision."""
    stops = [term_color(t) for t in range(1, len(TERM_COLORSCALE) // 2 + 1)]
    for vision in VISIONS:
        lightness = [float(lab(c, vision)[0]) for c in stops]
        assert lightness == sorted(lightness) and len(set(lightness)) == len(lightness), (vision, lightness)


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``rgb(r, g, b)`` colours."""
    def luminance(color: str) -> float:
        channels = [v / 255 for v in rgb(color)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_focus_ring_and_dark_page_colours_reach_their_contrast() -> None:
    """The explorer's focus ring is ≥ 3:1 against its page and a button (WCAG 2.2 focus appearance); the dark page's
    text that replaces a light figure's is ≥ 4.5:1; a hollow heartbeat's blue stroke and a hollow nextIndex △ ≥ 3:1 on
    the dark page."""
    from raftedu import Cluster
    from raftedu.viz.logs import log_traces
    from raftedu.viz.style import REPLICATION_COLOR, ink
    from raftedu.widgets import _LIVE_CSS, FOCUS_RING, legend_html

    light_page, light_button, dark_page, dark_button = ("rgb(255, 255, 255)", "rgb(238, 238, 238)",
                                                        "rgb(17, 17, 17)", "rgb(66, 66, 66)")
    assert min(contrast(FOCUS_RING["light"], c) for c in (light_page, light_button)) >= 3
    assert min(contrast(FOCUS_RING["dark"], c) for c in (dark_page, dark_button)) >= 3
    assert contrast(ink("dark"), dark_page) >= 4.5 and contrast(ink("light"), light_page) >= 4.5
    assert contrast(REPLICATION_COLOR, dark_page) >= 3
    c = Cluster(3, seed=7)
    assert c.run_until(lambda c: c.leader() is not None, within=2_000)
    for theme, page in (("light", light_page), ("dark", dark_page)):  # a hollow nextIndex △ is a stroke in its colour
        marks = {t["name"]: t["marker"] for t in log_traces(c.view, 1, 5, theme=theme)}
        hollow = marks["leader's nextIndex for this follower"]
        assert hollow["symbol"].endswith("-open") and contrast(hollow["color"], page) >= 3, theme
    key_rule = re.search(r'light="false"\] \.raftedu-key \.raftedu-next-index \{ color: ([^;!]+)', _LIVE_CSS)
    assert key_rule and key_rule.group(1).strip() == hollow["color"]  # the Key's △ on a dark page: the figure's colour
    assert 'class="raftedu-swatch raftedu-next-index"' in legend_html()
