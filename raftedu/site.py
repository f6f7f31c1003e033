"""``raftedu site``: the documentation site -- guides, every lesson with its figures, the exercises, the API.

The site is built with Sphinx, MyST-NB (notebooks and MyST Markdown as pages)
and the Sphinx Book Theme: a sidebar with every page, a contents box per page,
full-text search, previous/next links, all of it static. The sources are the
pages of ``docs/`` (``conf.py`` says how) and the course's notebooks, which
are staged into one source tree first:

* each lesson is executed here (nbclient, no widget state stored); a lesson
  that starts real programs (lesson 13 starts etcd) gets its outputs from
  ``docs/recorded/NN_topic.json`` instead when the program is missing or
  when asked (``recorded="always"``); ``record_lesson`` writes that file;
* plotly outputs (``application/vnd.plotly.v1+json``, which nothing in the
  Sphinx world draws without a CDN) become plotly ``<div>`` s drawn by one
  local copy of plotly.js, added only to the pages that hold a figure;
* a live widget (the explorer) is shown as the picture it had when it was
  displayed, with a note saying where to use it for real; a progress bar
  is left out;
* a lesson's own navigation lines (contents, previous, next) are left out:
  the site has its sidebar and its previous/next links.

Nothing on a page is fetched from another host (``check_site`` proves it
for every page, and checks every internal link and anchor), so the site
works from any static host and straight from disk, offline.
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from .course import course_readme, course_root, needs_real_programs

__all__ = ["PLOTLY_MIME", "SitePage", "build_site", "check_site", "execute_lesson", "record_lesson",
           "replay_outputs", "static_outputs", "MISSING_DOCS"]

PLOTLY_MIME = "application/vnd.plotly.v1+json"
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
MISSING_DOCS = 'the documentation site needs Sphinx, MyST-NB and the book theme: pip install "raftedu[docs]"'
"""What to install for ``raftedu site`` (printed by the command when Sphinx or MyST-NB is missing)."""

Recorded = Literal["auto", "always", "never"]

# Run first in the kernel (and removed from the page): a widget that contains a plotly figure also offers that
# figure as plotly JSON, so the page can show the explorer as the picture it had when displayed.
_STATIC_WIDGETS = '''
import json as _json
import ipywidgets as _w
import plotly.io as _pio
from IPython.core.formatters import JSONFormatter as _JSONFormatter
from traitlets import Unicode as _Unicode

class _PlotlyFormatter(_JSONFormatter):
    format_type = _Unicode("application/vnd.plotly.v1+json")

def _raftedu_static_figure(widget):
    stack = [widget]
    while stack:
        w = stack.pop(0)
        if hasattr(w, "to_plotly_json"):
            return _json.loads(_pio.to_json(w, validate=False))
        stack.extend(getattr(w, "children", ()))
    return None

_fmt = get_ipython().display_formatter
_fmt.formatters["application/vnd.plotly.v1+json"] = _PlotlyFormatter(parent=_fmt)
_fmt.formatters["application/vnd.plotly.v1+json"].for_type(_w.Widget, _raftedu_static_figure)
'''

_WIDGET_NOTE = (
    '<div class="raftedu-widget-note" role="note" style="border-left:4px solid #888;padding:4px 10px;margin:6px 0;'
    'font-size:14px"><b>Interactive in JupyterLab.</b> {what} This page shows {shown}. To click it yourself: '
    '<code>pip install "raftedu[lab]"</code>, then <code>raftedu course &amp;&amp; jupyter lab raft-course</code>.</div>'
)
_PROGRESS = re.compile(r"\d+/\d+ \[|it/s\]|s/it\]|FloatProgress")
_NAV_LINE = re.compile(r"^.*\]\(\.\./README\.md#the-course\).*\n?", re.M)


@dataclass
class SitePage:
    """One notebook page of the site: its source, where the page went, its title and what it holds."""

    source: str
    path: Path
    title: str
    figures: int
    widgets: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    """How long the notebook took to execute (or its outputs to replay) for the page."""


def _title(nb: Any) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def execute_lesson(path: str | Path, *, timeout: int = 600, last: str | None = None) -> Any:
    """Execute a lesson like the test suite does (no widget state stored) and return the notebook.

    A widget holding a plotly figure also gets that figure as plotly JSON among its outputs, for the page.
    ``last``, when given, is the source of one more code cell run after the lesson's own (it stays in the returned
    notebook, last): the tests read values the prose relies on from it, on the very run the site shows.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(_STATIC_WIDGETS))
    if last is not None:
        nb.cells.append(nbformat.v4.new_code_cell(last))
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nb.cells.pop(0)
    return nb


def _code_key(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def record_lesson(path: str | Path, recording: str | Path, *, timeout: int = 600) -> Path:
    """Execute a lesson here (with the programs it starts) and keep its outputs in ``recording`` (JSON).

    The recording names each code cell by a hash of its source, so :func:`replay_outputs` refuses it once
    the lesson's code has changed: record again then.
    """
    nb = execute_lesson(path, timeout=timeout)
    cells = [{"code": _code_key(c.source), "execution_count": c.execution_count, "outputs": c.outputs}
             for c in nb.cells if c.cell_type == "code"]
    recording = Path(recording)
    recording.parent.mkdir(parents=True, exist_ok=True)
    recording.write_text(json.dumps({"lesson": Path(path).name, "cells": cells}, indent=None, sort_keys=True) + "\n")
    return recording


def replay_outputs(nb: Any, recording: str | Path) -> Any:
    """The notebook with the outputs of ``recording`` (from :func:`record_lesson`) in its code cells.

    Raises ValueError naming the first code cell that differs from the one recorded.
    """
    import nbformat

    saved = json.loads(Path(recording).read_text())["cells"]
    code = [c for c in nb.cells if c.cell_type == "code"]
    if len(saved) != len(code):
        raise ValueError(f"{recording} holds {len(saved)} code cells, the lesson has {len(code)}: record it again "
                         "(raftedu site --record LESSON, on a machine with the programs it starts)")
    for k, (cell, rec) in enumerate(zip(code, saved), 1):
        if rec["code"] != _code_key(cell.source):
            raise ValueError(f"{recording}: code cell {k} changed since it was recorded: record it again "
                             "(raftedu site --record LESSON, on a machine with the programs it starts)")
        cell.outputs = [nbformat.from_dict(o) for o in rec["outputs"]]
        cell.execution_count = rec["execution_count"]
    return nb


def _plotly_div(figure: dict[str, Any], div_id: str) -> str:
    import plotly.io as pio

    return pio.to_html(figure, include_plotlyjs=False, full_html=False, div_id=div_id, auto_play=False,
                       validate=False, config={"responsive": True})


def static_outputs(nb: Any, name: str) -> tuple[Any, int, int]:
    """Outputs a static page can show: plotly figures as drawn ``<div>`` s, widgets as notes, no progress bars.

    Returns (a converted copy of the notebook, figures drawn, widgets shown as notes).
    """
    import copy

    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    figures = widgets = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not data:
                kept.append(out)
                continue
            widget = _WIDGET_MIME in data
            if PLOTLY_MIME in data:
                figures += 1
                note = _WIDGET_NOTE.format(what="This is a live widget (the explorer or a control).",
                                           shown="the picture it had when it first appeared") if widget else ""
                out["data"] = {"text/html": note + _plotly_div(data[PLOTLY_MIME], f"{name}-fig-{figures}")}
                widgets += widget
            elif widget and _PROGRESS.search(str(data.get("text/plain", ""))):
                continue  # a progress bar: nothing to show once the run is over
            elif widget:
                widgets += 1
                out["data"] = {"text/html": _WIDGET_NOTE.format(what="This is a live widget.", shown="where it sits")}
            kept.append(out)
        cell.outputs = kept
    return nb, figures, widgets


def _without_nav(nb: Any) -> Any:
    """A lesson's own navigation lines (they link the README's contents) are left out: the site has its own."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = _NAV_LINE.sub("", cell.source).strip("\n")
    return nb


def _docs_missing() -> str | None:
    import importlib.util

    missing = [m for m in ("sphinx", "myst_nb", "sphinx_book_theme") if importlib.util.find_spec(m) is None]
    return f"{MISSING_DOCS} (missing: {', '.join(missing)})" if missing else None


def build_site(out: str | Path = "build/site", *, root: str | Path | None = None, execute: bool = True,
               only: Iterable[str] | None = None, recorded: Recorded = "auto", progress: bool = True) -> list[SitePage]:
    """Build the documentation site into ``out``; return the notebook pages written.

    ``root`` holds ``docs/``, ``notebooks/`` and ``exercises/`` (default: the
    installed course). Lessons are executed unless ``execute`` is False;
    ``only`` limits the executed lessons to those file names (the others get no
    outputs). A lesson that starts programs (etcd) takes its recorded outputs
    when the program is missing (``recorded="auto"``), always (``"always"``) or
    never (``"never"``: it runs, and fails without the program). A lesson that
    fails is written without outputs, and its page's notes say why.
    Raises ModuleNotFoundError naming the extra to install when Sphinx is missing.
    """
    if recorded not in ("auto", "always", "never"):
        raise ValueError(f"recorded must be 'auto', 'always' or 'never'; got {recorded!r}")
    if (why := _docs_missing()) is not None:
        raise ModuleNotFoundError(why)
    import nbformat
    from tqdm.auto import tqdm

    base = Path(root) if root is not None else Path(str(course_root()))
    docs = base / "docs"
    if not (docs / "conf.py").is_file():
        raise FileNotFoundError(f"no documentation sources at {docs} (docs/conf.py)")
    out = Path(out).resolve()
    pages: list[SitePage] = []
    with tempfile.TemporaryDirectory(prefix="raftedu-site-") as tmp:
        stage = Path(tmp) / "src"
        shutil.copytree(docs, stage, ignore=shutil.ignore_patterns("recorded", "_build", "__pycache__"))
        # The front page includes the course table of the README (one source for both), at the stage's root so
        # that its links to notebooks/ and exercises/ resolve; an installed course has no README: its own is made.
        readme = base / "README.md"
        (stage / "_readme.md").write_text(readme.read_text() if readme.is_file() else course_readme(base))
        for part in ("notebooks", "exercises"):
            files = sorted((base / part).glob("*.ipynb"))
            (stage / part).mkdir(parents=True, exist_ok=True)
            for path in tqdm(files, desc=f"site: {part}", disable=not progress):
                started = time.perf_counter()
                nb, notes = _lesson(path, docs, execute=execute and part == "notebooks"
                                    and (only is None or path.name in set(only)), recorded=recorded)
                seconds = time.perf_counter() - started
                nb, figures, widgets = static_outputs(_without_nav(nb), path.stem)
                if notes:  # said on the page too, under its title
                    nb.cells.insert(1, nbformat.v4.new_markdown_cell(
                        ":::{note}\n" + "\n\n".join(notes) + "\n:::"))
                nbformat.write(nb, stage / part / path.name)
                pages.append(SitePage(path.name, out / part / f"{path.stem}.html", _title(nb), figures, widgets, notes,
                                      seconds))
        import plotly

        (stage / "_static").mkdir(exist_ok=True)
        shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", stage / "_static" / "plotly.min.js")
        _sphinx(stage, out)
    (out / "pages.json").write_text(json.dumps(
        [{"source": p.source, "page": str(p.path.relative_to(out)), "title": p.title, "figures": p.figures,
          "widgets": p.widgets, "notes": p.notes} for p in pages], indent=1))
    return pages


def _lesson(path: Path, docs: Path, *, execute: bool, recorded: Recorded) -> tuple[Any, list[str]]:
    """A lesson with its outputs: executed here, or replayed from its recording, or (failing both) without."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if not execute:
        return nb, []
    recording = docs / "recorded" / f"{path.stem}.json"
    program = "etcd" if needs_real_programs(nb) else None
    if program and (recorded == "always" or (recorded == "auto" and shutil.which(program) is None)):
        try:
            return replay_outputs(nb, recording), [
                f"The outputs on this page were recorded on a machine with {program} (docs/recorded/{recording.name}); "
                "open the lesson in JupyterLab to run it yourself."]
        except (OSError, ValueError) as e:
            return nb, [f"not executed: its recording of a run with {program} cannot be used: {e}"]
    try:
        return execute_lesson(path), []
    except Exception as e:  # a broken lesson must not stop the site; its page's notes say so
        return nbformat.read(path, as_version=4), [f"execution failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}"]


def _sphinx(source: Path, out: Path) -> None:
    """Run Sphinx (in its own process: it keeps global state) and raise with its last lines when it fails."""
    if out.exists():
        shutil.rmtree(out)
    done = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", "--keep-going", "-j", "1",
                           str(source), str(out)], capture_output=True, text=True)
    if done.returncode:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise RuntimeError(f"sphinx-build failed (exit {done.returncode}):\n{tail}")


class _Refs(html.parser.HTMLParser):
    """The ids of a page and what it links (a href) and loads (script, stylesheet, image, frame)."""

    _LOADS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "audio": "src", "video": "src",
              "embed": "src", "link": "href"}

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"] or "")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        key = self._LOADS.get(tag)
        if key and a.get(key) and not (tag == "link" and (a.get("rel") or "") in ("canonical", "alternate")):
            self.loads.append(a[key] or "")


def check_site(out: str | Path) -> list[str]:
    """Every problem of a built site, one sentence each: a link to a missing page or anchor, a file fetched online.

    External ``<a href>`` links are not followed (CI has no network); anything a page itself would load from
    another host (script, stylesheet, image, frame) is a problem: the site must work offline.
    """
    out = Path(out).resolve()
    parsed: dict[Path, _Refs] = {}

    def refs(page: Path) -> _Refs:
        if page not in parsed:
            p = _Refs()
            p.feed(page.read_text(encoding="utf-8", errors="replace"))
            parsed[page] = p
        return parsed[page]

    problems = []
    for page in sorted(out.rglob("*.html")):
        if page.relative_to(out).parts[0] == "_static":
            continue  # the theme's template fragments, not pages
        r = refs(page)
        name = page.relative_to(out)
        for url in r.loads:
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") or url.startswith("//"):
                problems.append(f"{name} loads {url} from another host (the site must work offline)")
            elif not parts.scheme and parts.path and not (page.parent / unquote(parts.path)).exists():
                problems.append(f"{name} loads {url}, which does not exist")
        for url in r.links:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{name} links {url}, which does not exist")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in refs(target).ids:
                problems.append(f"{name} links {url}: {target.relative_to(out)} has no such anchor")
    return problems
