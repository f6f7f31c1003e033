"""Do any two text labels of a plotly figure overlap on screen? Read their boxes from the browser's DOM.

Two calls, both taking a playwright ``Page`` that shows rendered plotly figures::

    from labels import overlapping_labels, text_labels, describe_overlaps

    labels = text_labels(page)                 # every visible label of every figure, with its box
    pairs = overlapping_labels(page)           # the pairs whose boxes overlap (by more than 1 px each way)
    assert not pairs, describe_overlaps(pairs) # names each pair: figure, kind, text, boxes

What counts as a label: every non-empty SVG ``<text>`` inside a
``.js-plotly-plot`` -- annotations, trace text (``mode="text"`` or
``markers+text``), axis tick labels, legend entries, titles, buttons and
slider labels -- that is rendered (no ``display: none``, ``visibility:
hidden`` or zero opacity on it or an ancestor, non-zero size). Hover labels
(plotly's ``.hoverlayer``) are transient and left out. Boxes are the
browser's ``getBoundingClientRect()`` in CSS pixels of the page, so two
labels in *different* figures are never compared (``same_figure_only``).

Limits worth knowing: a box is the text's whole line box (ascenders and
descenders included), hence the 1 px default tolerance; text clipped away by
a plot area's clip path still counts (plotly keeps it in the DOM).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Label", "text_labels", "overlapping_labels", "describe_overlaps", "KINDS"]

KINDS = ("title", "annotation", "trace", "tick", "legend", "control", "other")
"""Kinds of label, from the plotly DOM group a ``<text>`` sits in."""

_COLLECT = """(root) => {
    const kindOf = (el) => {
        if (el.closest('.annotation')) return 'annotation';
        if (el.closest('.legend')) return 'legend';
        if (el.closest('.xtick, .ytick, .x2tick, .y2tick, [class*="tick"]')) return 'tick';
        if (el.closest('.g-gtitle, .gtitle, .g-xtitle, .g-ytitle, [class*="title"]')) return 'title';
        if (el.closest('.updatemenu-container, .slider-container, .rangeselector')) return 'control';
        if (el.closest('.scatterlayer, .barlayer, .trace, .textpoint')) return 'trace';
        return 'other';
    };
    const shown = (el, svgRoot) => {
        for (let e = el; e && e !== svgRoot.parentNode; e = e.parentElement) {
            const s = getComputedStyle(e);
            if (s.display === 'none' || s.visibility === 'hidden' || parseFloat(s.opacity) === 0) return false;
            const fo = e.getAttribute && e.getAttribute('fill-opacity');
            if (e === el && fo !== null && parseFloat(fo) === 0) return false;
        }
        return true;
    };
    const out = [];
    document.querySelectorAll(root).forEach((gd, figure) => {
        gd.querySelectorAll('svg text').forEach(el => {
            if (el.closest('.hoverlayer')) return;
            const text = (el.textContent || '').trim();
            if (!text) return;
            const svg = el.ownerSVGElement || gd;
            if (!shown(el, svg)) return;
            const r = el.getBoundingClientRect();
            if (r.width <= 0 || r.height <= 0) return;
            out.push({figure, kind: kindOf(el), text, x: r.x, y: r.y, width: r.width, height: r.height});
        });
    });
    return out;
}"""


@dataclass(frozen=True)
class Label:
    """One visible text label: which figure (0-based, page order), its kind, its text and its box (CSS px)."""

    figure: int
    kind: str
    text: str
    x: float
    y: float
    width: float
    height: float

    def overlap(self, other: "Label") -> tuple[float, float]:
        """How far the two boxes overlap horizontally and vertically, in px (≤ 0 where they do not)."""
        dx = min(self.x + self.width, other.x + other.width) - max(self.x, other.x)
        dy = min(self.y + self.height, other.y + other.height) - max(self.y, other.y)
        return dx, dy

    def __str__(self) -> str:
        return (f"figure {self.figure} {self.kind} {self.text!r} at ({self.x:.0f}, {self.y:.0f}) "
                f"{self.width:.0f}×{self.height:.0f}")


def text_labels(page: Any, root: str = ".js-plotly-plot", *, kinds: tuple[str, ...] = KINDS) -> list[Label]:
    """Every visible text label inside the plotly figures matched by CSS selector ``root``, of the given ``kinds``.

    ``root`` narrows the figures, e.g. ``".raftedu-explorer .js-plotly-plot"``
    for the explorer's figure only. Figures are numbered in page order among
    those ``root`` matches.
    """
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown label kind(s) {sorted(unknown)}; choose from {', '.join(KINDS)}")
    return [Label(**d) for d in page.evaluate(_COLLECT, root) if d["kind"] in kinds]


def overlapping_labels(page: Any, root: str = ".js-plotly-plot", *, kinds: tuple[str, ...] = KINDS,
                       tolerance: float = 1.0, same_figure_only: bool = True) -> list[tuple[Label, Label]]:
    """The pairs of labels (see :func:`text_labels`) whose boxes overlap by more than ``tolerance`` px both ways.

    An empty list means no two labels touch. Pairs come in page order, each
    pair once. Labels of different figures are compared only with
    ``same_figure_only=False``.
    """
    labels = text_labels(page, root, kinds=kinds)
    pairs = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            if same_figure_only and a.figure != b.figure:
                continue
            dx, dy = a.overlap(b)
            if dx > tolerance and dy > tolerance:
                pairs.append((a, b))
    return pairs


def describe_overlaps(pairs: list[tuple[Label, Label]]) -> str:
    """One line per overlapping pair, for an assertion message."""
    return "\n".join(f"{a}  overlaps  {b}" for a, b in pairs) or "no overlapping labels"
