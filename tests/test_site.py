"""The static site: every lesson page carries its figures, drawn without a kernel; links and contents work."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import plotly.graph_objects as go
import pytest

pytest.importorskip("nbconvert", reason="the site needs nbconvert, which comes with the `lab` extra")

from raftedu.site import PLOTLY_MIME, build_site, lesson_page  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DIV = 'class="plotly-graph-div"'


def figure_output(fig: go.Figure, widget: bool = False) -> nbformat.NotebookNode:
    data = {PLOTLY_MIME: json.loads(fig.to_json()), "text/plain": "Figure(...)"}
    if widget:
        data["application/vnd.jupyter.widget-view+json"] = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    return nbformat.v4.new_output("display_data", data=data)


def sample_notebook() -> nbformat.NotebookNode:
    """A lesson-like notebook: a figure, an animation, a widget with a picture, a bare widget, links."""
    animation = go.Figure(go.Scatter(x=[0], y=[0]), frames=[go.Frame(data=[go.Scatter(x=[k], y=[k])], name=str(k))
                                                           for k in range(3)])
    animation.update_layout(updatemenus=[{"type": "buttons", "buttons": [{"label": "Play", "method": "animate",
                                                                          "args": [None]}]}])
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 99 · A sample\n\n[next](01_quorums.ipynb) · [contents](../README.md#the-course)"
                                      " · [exercise](../exercises/02_request_vote.ipynb) · [paper](https://raft.github.io/)"),
        nbformat.v4.new_code_cell("fig", outputs=[figure_output(go.Figure(go.Bar(x=["a"], y=[1])))]),
        nbformat.v4.new_code_cell("anim", outputs=[figure_output(animation)]),
        nbformat.v4.new_code_cell("explorer", outputs=[figure_output(go.Figure(go.Scatter(x=[1], y=[2])), widget=True)]),
        nbformat.v4.new_code_cell("slider", outputs=[nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "def", "version_major": 2, "version_minor": 0},
            "text/plain": "IntSlider(value=0)"})]),
    ]
    return nb


def test_a_page_draws_every_figure_and_explains_widgets():
    page, figures, widgets = lesson_page(sample_notebook(), "99_sample", nav=("98_prev.html", ""))
    assert (figures, widgets) == (3, 2)
    assert page.count(DIV) == 3 and PLOTLY_MIME not in page.split("<body", 1)[1].split("<script", 1)[0]
    assert page.count("Interactive in JupyterLab") == 2
    assert '<script src="../assets/plotly.min.js"></script>' in page
    assert 'href="01_quorums.html"' in page and 'href="../index.html"' in page
    assert 'href="../exercises/02_request_vote.html"' in page and 'href="https://raft.github.io/"' in page
    assert 'href="98_prev.html"' in page and "next ▶" not in page
    assert ".ipynb" not in " ".join(re.findall(r'href="([^"]*)"', page))


def test_site_without_execution_has_contents_and_every_page(tmp_path):
    pages = build_site(tmp_path, root=ROOT, execute=False, progress=False)
    index = (tmp_path / "index.html").read_text()
    lessons = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    exercises = sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    assert [p.source for p in pages] == lessons + exercises
    for name in lessons:
        assert f'href="notebooks/{name[:-6]}.html"' in index and (tmp_path / "notebooks" / f"{name[:-6]}.html").exists()
    for name in exercises:
        assert f'href="exercises/{name[:-6]}.html"' in index
    assert (tmp_path / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    assert not list(tmp_path.rglob("*solution*"))


@pytest.mark.kernel
@pytest.mark.slow
def test_every_lesson_page_contains_its_figures(tmp_path):
    """`make site` in CI: each lesson executes, and its page holds one drawn figure per figure it displayed."""
    pages = [p for p in build_site(tmp_path, root=ROOT, progress=False) if p.path.parent.name == "notebooks"]
    for p in pages:
        if p.notes and "no etcd" in p.notes[0] and shutil.which("etcd") is None:
            continue
        assert not p.notes, f"{p.source}: {p.notes}"
        html = p.path.read_text()
        assert html.count(DIV) == p.figures, p.source
        source = " ".join(c.source for c in nbformat.read(ROOT / "notebooks" / p.source, as_version=4).cells
                          if c.cell_type == "code")
        if re.search(r"raftedu\.(viz|widgets)|plotly", source):
            assert p.figures >= 1, f"{p.source} draws figures but its page has none"
    meta = json.loads((tmp_path / "pages.json").read_text())
    assert sum(m["figures"] for m in meta) == sum(p.figures for p in pages)
