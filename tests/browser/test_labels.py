"""The label-overlap helper (labels.py) on figures whose overlaps are known, in headless chromium without JupyterLab."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import plotly
import plotly.graph_objects as go
import pytest

from labels import describe_overlaps, overlapping_labels, text_labels
from labpage import BROWSER_MISSING, CHROMIUM, CHROMIUM_ARGS, Page

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    """A blank chromium page with plotly.js loaded."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 900, "height": 700})
        pg.set_content("<html><body></body></html>")
        pg.add_script_tag(path=str(PLOTLY_JS))
        yield pg
        browser.close()


def show(page: Page, *figures: go.Figure) -> None:
    """Replace the page's content with ``figures``, each in its own div, rendered by plotly.js."""
    specs = [json.loads(f.to_json()) for f in figures]
    page.evaluate("""async (specs) => {
        document.body.innerHTML = '';
        for (const s of specs) {
            const div = document.createElement('div'); div.style.width = '600px'; div.style.height = '300px';
            document.body.appendChild(div);
            await Plotly.newPlot(div, s.data, s.layout);
        }
    }""", specs)


def annotated(*texts_at: tuple[str, float, float], **layout: object) -> go.Figure:
    fig = go.Figure(layout=dict(width=600, height=300, margin=dict(l=40, r=10, t=30, b=30), **layout))
    for text, x, y in texts_at:
        fig.add_annotation(text=text, x=x, y=y, showarrow=False, xref="paper", yref="paper", font=dict(size=14))
    return fig


def test_two_annotations_on_top_of_each_other_are_one_overlapping_pair(page: Page) -> None:
    show(page, annotated(("leader S1", 0.5, 0.5), ("crashed S2", 0.52, 0.5), ("far away", 0.1, 0.9)))
    pairs = overlapping_labels(page, kinds=("annotation",))
    assert [(a.text, b.text) for a, b in pairs] == [("leader S1", "crashed S2")], describe_overlaps(pairs)
    assert "leader S1" in describe_overlaps(pairs) and "crashed S2" in describe_overlaps(pairs)


def test_labels_apart_do_not_overlap_and_every_kind_is_found(page: Page) -> None:
    fig = annotated(("left", 0.05, 0.95), ("right", 0.95, 0.95), title="a title")
    fig.add_scatter(x=[0, 1, 2], y=[0, 1, 0], mode="markers+text", text=["a", "b", "c"], textposition="top center",
                    name="points")
    fig.add_scatter(x=[0, 2], y=[1, 1], mode="lines", name="line")
    show(page, fig)
    labels = text_labels(page)
    kinds = {lab.kind for lab in labels}
    assert {"annotation", "trace", "tick", "legend", "title"} <= kinds, labels
    assert {"a", "b", "c", "left", "right", "a title", "points"} <= {lab.text for lab in labels}
    assert overlapping_labels(page) == [], describe_overlaps(overlapping_labels(page))


def test_trace_text_on_trace_text_is_found_and_hidden_text_is_not(page: Page) -> None:
    fig = go.Figure(go.Scatter(x=[0, 0.02, 1], y=[0, 0, 1], mode="text", text=["term 3 · timer 12 ms", "S4", "alone"]),
                    layout=dict(width=600, height=300, showlegend=False, xaxis=dict(visible=False),
                                yaxis=dict(visible=False)))
    fig.add_annotation(text="invisible", x=0, y=0, showarrow=False, visible=False)
    fig.add_annotation(text="transparent", x=0, y=0, showarrow=False, opacity=0)
    show(page, fig)
    texts = {lab.text for lab in text_labels(page)}
    assert "invisible" not in texts and "transparent" not in texts
    pairs = overlapping_labels(page)
    assert [(a.text, b.text) for a, b in pairs] == [("term 3 · timer 12 ms", "S4")], describe_overlaps(pairs)


def test_labels_of_different_figures_are_compared_only_when_asked(page: Page) -> None:
    show(page, annotated(("same place", 0.5, 0.5)), annotated(("same place", 0.5, 0.5)))
    page.evaluate("() => document.querySelectorAll('.js-plotly-plot').forEach(d => { d.style.position = 'absolute';"
                  " d.style.top = '0px'; d.style.left = '0px'; })")
    only = ("annotation",)  # (an empty figure's x and y tick labels "−1" meet in its corner: a real overlap)
    assert overlapping_labels(page, kinds=only) == []
    assert len(overlapping_labels(page, kinds=only, same_figure_only=False)) == 1


def test_unknown_kind_is_refused_with_the_allowed_kinds(page: Page) -> None:
    with pytest.raises(ValueError, match="tick"):
        text_labels(page, kinds=("ticks",))
