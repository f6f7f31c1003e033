"""``raftedu site``: the lessons as a static HTML book in which every figure renders without a kernel.

Each lesson is executed (nbclient), then converted with nbconvert's ``lab``
template. Plotly outputs are stored in notebooks as
``application/vnd.plotly.v1+json``, which nbconvert cannot draw; here each
becomes a plotly ``<div>`` drawn by one local copy of plotly.js, so figures
and animations (frames, Play button, slider) work from any static host or
straight from disk. Interactive widgets need a kernel: the explorer is shown
as the picture it had when it was displayed, with a note saying where to use
it for real. Links between lessons and to the exercises point at their pages.

Why nbconvert and not Jupyter Book: it comes with JupyterLab (no Node.js
build, no new dependency), and the one thing it lacks -- drawing plotly's
MIME type -- takes a few lines.

Layout of the output folder::

    index.html                 table of contents
    notebooks/NN_topic.html    the lessons, executed
    exercises/NN_topic.html    the exercises as students get them (not executed)
    assets/plotly.min.js
"""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PLOTLY_MIME", "SitePage", "build_site", "lesson_page", "execute_lesson"]

PLOTLY_MIME = "application/vnd.plotly.v1+json"
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

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


@dataclass
class SitePage:
    """One converted notebook: where it went and how many plotly figures it holds."""

    source: str
    path: Path
    title: str
    figures: int
    widgets: int = 0
    notes: list[str] = field(default_factory=list)


def _title(nb: Any) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def execute_lesson(path: str | Path, *, timeout: int = 600) -> Any:
    """Execute a lesson like the test suite does (no widget state stored) and return the notebook."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(_STATIC_WIDGETS))
    NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nb.cells.pop(0)
    return nb


def _plotly_div(figure: dict[str, Any], div_id: str) -> str:
    import plotly.io as pio

    return pio.to_html(figure, include_plotlyjs=False, full_html=False, div_id=div_id, auto_play=False,
                       validate=False, config={"responsive": True})


def _rewrite_links(page: str) -> str:
    """Links to notebooks become links to their pages; the README's contents become the site's index."""
    def fix(m: re.Match[str]) -> str:
        target = m.group(1)
        if target.startswith(("http://", "https://", "#", "mailto:")):
            return m.group(0)
        target = re.sub(r"^\.\./README\.md(#.*)?$", "../index.html", target)
        target = re.sub(r"\.ipynb(#|$)", r".html\1", target)
        return f'href="{target}"'

    return re.sub(r'href="([^"]*)"', fix, page)


def lesson_page(nb: Any, name: str, *, nav: tuple[str, str] = ("", "")) -> tuple[str, int, int]:
    """Convert one (executed) notebook to a page; return (html, plotly figures drawn, widgets shown statically)."""
    import copy

    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    figures = widgets = 0
    divs: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            data = out.get("data")
            if not data:
                continue
            widget = _WIDGET_MIME in data
            if PLOTLY_MIME in data:
                figures += 1
                key = f"raftedu-fig-{figures}"
                divs[key] = _plotly_div(data[PLOTLY_MIME], key)
                note = _WIDGET_NOTE.format(what="This is a live widget (the explorer or a control).",
                                           shown="the picture it had when it first appeared") if widget else ""
                out["data"] = {"text/html": f"{note}<!--{key}-->"}
                widgets += widget
            elif widget:
                widgets += 1
                out["data"] = {"text/html": _WIDGET_NOTE.format(what="This is a live widget.", shown="where it sits")}
    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}})
    for key, div in divs.items():
        body = body.replace(f"<!--{key}-->", div, 1)
    prev, nxt = nav
    bar = ['<a href="../index.html">contents</a>']
    if prev:
        bar.insert(0, f'<a href="{prev}">◀ previous</a>')
    if nxt:
        bar.append(f'<a href="{nxt}">next ▶</a>')
    header = ('<nav aria-label="course" style="font:14px sans-serif;padding:8px 16px;border-bottom:1px solid #ccc">'
              + " · ".join(bar) + "</nav>")
    body = body.replace("</head>", '<script src="../assets/plotly.min.js"></script>\n</head>', 1)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + header, body, count=1)
    return _rewrite_links(body), figures, widgets


def _index(pages: dict[str, list[SitePage]]) -> str:
    from ._version import __version__

    sections = []
    for part, heading in (("notebooks", "Lessons"), ("exercises", "Exercises")):
        items = "".join(f'<li><a href="{part}/{p.path.name}">{html.escape(p.title or p.source)}</a></li>'
                        for p in pages.get(part, []))
        sections.append(f"<h2>{heading}</h2><ol>{items}</ol>")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>raftedu: the Raft course</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        '<body style="font:16px/1.5 sans-serif;max-width:46em;margin:2em auto;padding:0 1em">'
        f"<h1>raftedu: learn Raft by breaking it</h1><p>The lessons of raftedu {__version__}, executed, with every "
        "figure. The explorer and other widgets need a kernel: run <code>pip install \"raftedu[lab]\"</code> and "
        "<code>raftedu course &amp;&amp; jupyter lab raft-course</code> to use them.</p>"
        + "".join(sections) + "</body></html>"
    )


def build_site(out: str | Path = "build/site", *, root: str | Path | None = None, execute: bool = True,
               only: Iterable[str] | None = None, progress: bool = True) -> list[SitePage]:
    """Execute the lessons and write the static site into ``out``; return the pages written.

    ``root`` is the folder holding ``notebooks/`` and ``exercises/`` (default:
    the installed course). A lesson that needs a program this machine lacks
    (lesson 09 needs etcd) or fails is written without outputs and noted.
    ``only`` limits the lessons to those file names (for quick builds).
    """
    import nbformat
    from tqdm.auto import tqdm

    from .course import course_root

    base = Path(root) if root is not None else Path(str(course_root()))
    out = Path(out)
    (out / "assets").mkdir(parents=True, exist_ok=True)
    import plotly

    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", out / "assets" / "plotly.min.js")
    pages: dict[str, list[SitePage]] = {}
    for part in ("notebooks", "exercises"):
        files = sorted((base / part).glob("*.ipynb"))
        if only is not None and part == "notebooks":
            files = [f for f in files if f.name in set(only)]
        (out / part).mkdir(parents=True, exist_ok=True)
        names = [f.with_suffix(".html").name for f in files]
        for k, path in enumerate(tqdm(files, desc=f"site: {part}", disable=not progress)):
            notes = []
            nb = nbformat.read(path, as_version=4)
            if execute and part == "notebooks":
                needs = "etcd" if "etcd" in path.stem else None
                if needs and shutil.which(needs) is None:
                    notes.append(f"not executed: this machine has no {needs}")
                else:
                    try:
                        nb = execute_lesson(path)
                    except Exception as e:  # a broken lesson must not stop the book; the page says so
                        notes.append(f"execution failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
                        nb = nbformat.read(path, as_version=4)
            nav = (names[k - 1] if k else "", names[k + 1] if k + 1 < len(names) else "")
            page, figures, widgets = lesson_page(nb, path.stem, nav=nav)
            target = out / part / names[k]
            target.write_text(page)
            pages.setdefault(part, []).append(SitePage(path.name, target, _title(nb), figures, widgets, notes))
    (out / "index.html").write_text(_index(pages))
    (out / "pages.json").write_text(json.dumps(
        [{"source": p.source, "page": str(p.path.relative_to(out)), "title": p.title, "figures": p.figures,
          "widgets": p.widgets, "notes": p.notes} for ps in pages.values() for p in ps], indent=1))
    return [p for ps in pages.values() for p in ps]
