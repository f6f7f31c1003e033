"""The documentation site: pages draw every figure without a kernel, links and anchors resolve, nothing loads online.

Quick tests check the pieces (outputs made static, lesson 13's recording, the link check); the slow ones build the
site with Sphinx, the whole of it (every lesson executed, lesson 13 from its recording) as CI does.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import nbformat
import plotly.graph_objects as go
import pytest

from raftedu.site import PLOTLY_MIME, build_site, check_site, replay_outputs, static_outputs

ROOT = Path(__file__).resolve().parent.parent
DIV = 'class="plotly-graph-div"'
WIDGET = "application/vnd.jupyter.widget-view+json"
needs_sphinx = pytest.mark.skipif(importlib.util.find_spec("myst_nb") is None,
                                  reason='the site needs Sphinx and MyST-NB: pip install "raftedu[docs]"')


def figure_output(fig: go.Figure, widget: bool = False) -> nbformat.NotebookNode:
    data = {PLOTLY_MIME: json.loads(fig.to_json()), "text/plain": "Figure(...)"}
    if widget:
        data[WIDGET] = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    return nbformat.v4.new_output("display_data", data=data)


def widget_output(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("display_data", data={
        WIDGET: {"model_id": "def", "version_major": 2, "version_minor": 0}, "text/plain": text})


def sample_notebook() -> nbformat.NotebookNode:
    """A lesson-like notebook: nav lines, a figure, an animation, the explorer, a bare widget, a progress bar, links."""
    animation = go.Figure(go.Scatter(x=[0], y=[0]), frames=[go.Frame(data=[go.Scatter(x=[k], y=[k])], name=str(k))
                                                           for k in range(3)])
    animation.update_layout(updatemenus=[{"type": "buttons", "buttons": [{"label": "Play", "method": "animate",
                                                                          "args": [None]}]}])
    nav = "[contents](../README.md#the-course) · [next ▶](99_sample.ipynb)"
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"{nav}\n\n# 99 · A sample\n\nSee [exercise 02](../exercises/02_request_vote.ipynb)"
                                      " and [the paper](https://raft.github.io/)."),
        nbformat.v4.new_code_cell("fig", outputs=[figure_output(go.Figure(go.Bar(x=["a"], y=[1])))]),
        nbformat.v4.new_code_cell("anim", outputs=[figure_output(animation)]),
        nbformat.v4.new_code_cell("explorer", outputs=[figure_output(go.Figure(go.Scatter(x=[1], y=[2])), widget=True)]),
        nbformat.v4.new_code_cell("slider", outputs=[widget_output("IntSlider(value=0)")]),
        nbformat.v4.new_code_cell("sweep", outputs=[widget_output("sweep:  40%|████      | 4/10 [00:01<00:01,  3.9it/s]"),
                                                    nbformat.v4.new_output("stream", text="done\n")]),
        nbformat.v4.new_markdown_cell(f"## Check yourself\n\nWhy?\n\n{nav}"),
    ]
    return nb


def test_outputs_become_static_figures_notes_and_no_progress_bars():
    nb, figures, widgets = static_outputs(sample_notebook(), "99_sample")
    assert (figures, widgets) == (3, 2)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    html = [o["data"]["text/html"] for o in outputs if "data" in o]
    assert sum(DIV in h for h in html) == 3 and sum("Interactive in JupyterLab" in h for h in html) == 2
    assert not any(PLOTLY_MIME in o.get("data", {}) or WIDGET in o.get("data", {}) for o in outputs)
    assert [o["output_type"] for o in nb.cells[5].outputs] == ["stream"]  # the progress bar is gone, the text stays
    assert "widgets" not in nb.metadata and 'id="99_sample-fig-2"' in html[1]


def test_a_lessons_own_navigation_lines_are_left_out():
    from raftedu.site import _without_nav

    nb = _without_nav(sample_notebook())
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "README.md" not in text and "next ▶" not in text
    assert text.startswith("# 99 · A sample") and text.rstrip().endswith("Why?")


def test_recorded_outputs_replay_only_onto_the_code_they_were_recorded_from(tmp_path):
    from raftedu.site import _code_key

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), nbformat.v4.new_code_cell("print(1)"),
                nbformat.v4.new_code_cell("2")]
    recording = tmp_path / "t.json"
    recording.write_text(json.dumps({"lesson": "t.ipynb", "cells": [
        {"code": _code_key("print(1)"), "execution_count": 1, "outputs": [{"output_type": "stream", "name": "stdout",
                                                                              "text": "1\n"}]},
        {"code": _code_key("2"), "execution_count": 2, "outputs": []}]}))
    replayed = replay_outputs(nb, recording)
    assert replayed.cells[1].outputs[0]["text"] == "1\n" and replayed.cells[2].execution_count == 2
    nb.cells[2].source = "3"
    with pytest.raises(ValueError, match="code cell 2 changed since it was recorded: record it again"):
        replay_outputs(nb, recording)
    nb.cells.append(nbformat.v4.new_code_cell("4"))
    with pytest.raises(ValueError, match="holds 2 code cells, the lesson has 3"):
        replay_outputs(nb, recording)


def test_lesson_13s_recording_is_of_its_current_code():
    """Change lesson 13's code and this fails: record it again with `raftedu site --record 13_real_etcd.ipynb`."""
    lesson = nbformat.read(ROOT / "notebooks" / "13_real_etcd.ipynb", as_version=4)
    nb = replay_outputs(lesson, ROOT / "docs" / "recorded" / "13_real_etcd.json")
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any(PLOTLY_MIME in o.get("data", {}) for o in shown)
    assert any("etcd Version: 3." in o.get("text", "") for o in shown)


def test_the_link_check_finds_missing_pages_anchors_and_online_loads(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "p.html").write_text(
        '<html><head><script src="../s.js"></script><link rel="stylesheet" href="https://cdn.example.org/x.css">'
        '</head><body><h1 id="top">t</h1><a href="#top">ok</a><a href="../q.html#there">ok</a>'
        '<a href="../q.html#nowhere">bad anchor</a><a href="../missing.html">bad page</a>'
        '<a href="https://raft.github.io/">not followed</a><img src="//cdn.example.org/i.png"></body></html>')
    (tmp_path / "q.html").write_text('<p id="there">q</p><a href="a/p.html">back</a>')
    (tmp_path / "s.js").write_text("")
    problems = check_site(tmp_path)
    assert problems == [
        "a/p.html loads https://cdn.example.org/x.css from another host (the site must work offline)",
        "a/p.html loads //cdn.example.org/i.png from another host (the site must work offline)",
        "a/p.html links ../q.html#nowhere: q.html has no such anchor",
        "a/p.html links ../missing.html, which does not exist",
    ]
    (tmp_path / "s.js").unlink()
    assert "a/p.html loads ../s.js, which does not exist" in check_site(tmp_path)


def test_a_stale_recording_leaves_the_page_without_outputs_and_says_why(tmp_path):
    from raftedu.site import _lesson

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "docs" / "recorded").mkdir(parents=True)
    lesson = tmp_path / "notebooks" / "13_real_etcd.ipynb"
    nb = nbformat.read(ROOT / "notebooks" / "13_real_etcd.ipynb", as_version=4)
    next(c for c in nb.cells if c.cell_type == "code").source += "\n# edited"
    nbformat.write(nb, lesson)
    shutil.copy(ROOT / "docs" / "recorded" / "13_real_etcd.json", tmp_path / "docs" / "recorded")
    shown, notes = _lesson(lesson, tmp_path / "docs", execute=True, recorded="always")
    assert not any(c.get("outputs") for c in shown.cells if c.cell_type == "code")
    assert notes == [f"not executed: its recording of a run with etcd cannot be used: {tmp_path / 'docs' / 'recorded'}"
                     "/13_real_etcd.json: code cell 1 changed since it was recorded: record it again (raftedu site "
                     "--record LESSON, on a machine with the programs it starts)"]
    with pytest.raises(ValueError, match="recorded must be 'auto', 'always' or 'never'; got 'yes'"):
        build_site(tmp_path / "out", root=tmp_path, recorded="yes")


def test_site_says_what_to_install_without_sphinx(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "myst_nb" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match=r'pip install "raftedu\[docs\]" \(missing: [^)]*myst_nb'):
        build_site(tmp_path / "out", root=ROOT)


@needs_sphinx
@pytest.mark.slow
def test_a_site_from_a_sample_lesson_has_sidebar_contents_search_and_figures(tmp_path):
    """A small site (the real conf.py and front page, one sample lesson with its outputs) built by Sphinx."""
    root = sample_root(tmp_path)
    pages = build_site(tmp_path / "site", root=root, execute=False, progress=False)
    assert [(p.source, p.figures, p.widgets) for p in pages] == [("99_sample.ipynb", 3, 2), ("02_request_vote.ipynb", 0, 0)]
    page = (tmp_path / "site" / "notebooks" / "99_sample.html").read_text()
    assert page.count(DIV) == 3 and "plotly.min.js" in page and "README.md" not in page
    assert 'href="../exercises/02_request_vote.html"' in page
    assert "bd-sidenav" in page and "bd-toc" in page  # the sidebar with every page, the page's contents
    assert "plotly.min.js" not in (tmp_path / "site" / "index.html").read_text()  # only pages with figures load it
    assert "99_sample" in (tmp_path / "site" / "searchindex.js").read_text()
    assert check_site(tmp_path / "site") == []


def sample_root(tmp_path: Path) -> Path:
    """A course folder: the real docs/conf.py and front page, one sample lesson, one exercise (no README: its own)."""
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    shutil.copy(ROOT / "docs" / "conf.py", root / "docs" / "conf.py")
    index = re.sub(r"^(student-guide|instructor-guide|experiments|how-it-is-built|benchmarks|api)\n", "",
                   (ROOT / "docs" / "index.md").read_text(), flags=re.M)  # guides this small site does not have
    index = re.sub(r"\[(student|instructor) guide\]\([a-z-]+\.md\)", r"\1 guide", index)
    (root / "docs" / "index.md").write_text(index)
    (root / "notebooks").mkdir()
    (root / "exercises").mkdir()
    nbformat.write(sample_notebook(), root / "notebooks" / "99_sample.ipynb")
    shutil.copy(ROOT / "exercises" / "02_request_vote.ipynb", root / "exercises")
    return root


@needs_sphinx
@pytest.mark.kernel
@pytest.mark.slow
def test_the_whole_site_every_lesson_with_its_figures_and_no_broken_link(tmp_path, tmp_path_factory, record_property,
                                                                         monkeypatch):
    """What CI builds: every lesson executed (lesson 13 from its recording), the guides, the API; then checked.

    The lessons whose prose tests/test_lesson_claims_b.py checks are executed once for both files (tests/lessonruns.py):
    the same execution as the site's own, with the claims' probe cell run last and left out of the page.
    """
    import raftedu.site
    from lessonruns import executed, probed
    from test_lesson_claims_b import PROBES  # tests/ is on sys.path (conftest.py)

    own, seconds = raftedu.site.execute_lesson, {}

    def execute_lesson(path: Path, **options) -> nbformat.NotebookNode:
        if Path(path).name not in PROBES or options:
            return own(path, **options)
        nb, seconds[Path(path).name] = executed(Path(path).name, PROBES[Path(path).name], tmp_path_factory)
        return probed(nb)[0]

    monkeypatch.setattr(raftedu.site, "execute_lesson", execute_lesson)
    out = tmp_path / "site"
    pages = build_site(out, root=ROOT, recorded="always", progress=False)
    lessons = [p for p in pages if p.path.parent.name == "notebooks"]
    assert set(seconds) == set(PROBES) - {"13_real_etcd.ipynb"}  # lesson 13 is replayed from its recording
    for p in lessons:  # the lessons' execution times, listed at the end of the run (tests/conftest.py)
        if not p.notes:
            record_property(f"seconds:{p.source}", round(seconds.get(p.source, p.seconds), 1))
    assert [p.source for p in lessons] == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    for p in lessons:
        if p.source == "13_real_etcd.ipynb":
            assert len(p.notes) == 1 and "recorded on a machine with etcd" in p.notes[0]
            assert "recorded on a machine with etcd" in p.path.read_text()
        else:
            assert not p.notes, f"{p.source}: {p.notes}"
        html = p.path.read_text()
        assert html.count(DIV) == p.figures, p.source
        source = " ".join(c.source for c in nbformat.read(ROOT / "notebooks" / p.source, as_version=4).cells
                          if c.cell_type == "code")
        if re.search(r"raftedu\.(viz|widgets)|plotly", source):
            assert p.figures >= 1, f"{p.source} draws figures but its page has none"
    assert check_site(out) == []
    index = (out / "index.html").read_text()
    for p in lessons:
        assert f'href="notebooks/{p.path.name}"' in index, p.source
    for page in ("student-guide", "instructor-guide", "experiments", "how-it-is-built", "benchmarks", "api"):
        assert (out / f"{page}.html").exists(), page
    api = (out / "api.html").read_text()
    assert 'id="raftedu.sim.Cluster"' in api and 'id="raftedu.raft.RaftNode"' in api
    meta = json.loads((out / "pages.json").read_text())
    assert sum(m["figures"] for m in meta) == sum(p.figures for p in pages)


def test_record_names_a_lesson_that_exists(tmp_path, capsys):
    from raftedu.__main__ import main

    assert main(["site", str(tmp_path / "out"), "--root", str(ROOT), "--record", "99_nothing.ipynb"]) == 2
    assert "--record takes a file name of notebooks/, e.g. 13_real_etcd.ipynb" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
