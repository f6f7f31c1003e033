"""Open a notebook in JupyterLab in headless chromium, run it, and clean up: the browser tier's one page helper.

Usage in a test module of ``tests/browser/`` (the ``lab`` fixture comes from
``tests/browser/conftest.py``; it serves every notebook of ``notebooks/`` and
``tests/browser/`` from one temporary folder)::

    from labpage import BROWSER_MISSING, notebook_page, run_all, wait_until_all_cells_ran
    from labels import overlapping_labels

    pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(BROWSER_MISSING), reason=BROWSER_MISSING or "")]

    def test_lesson_05_labels(lab):
        with notebook_page(lab, "05_safety.ipynb", "lesson05.png", viewport=(1440, 900)) as page:
            run_all(page)
            wait_until_all_cells_ran(page)
            assert overlapping_labels(page) == []

Everything here follows /work/shared/notes/browser-testing.md: Debian's
``/usr/bin/chromium`` (never ``playwright install``), JupyterLab on 127.0.0.1
with a token, its own process group, no news pop-up, ``?reset`` so no saved
workspace reopens, Run All only once a kernel is idle (and retried), kernels
shut down when the page closes (they outlive browser contexts).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labels import describe_overlaps, overlapping_labels

HERE = Path(__file__).parent
REPO = HERE.parent.parent
ARTIFACTS = REPO / "test-artifacts"
"""Screenshots and measurements go here (never committed)."""
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

try:
    from playwright.sync_api import Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    Page = Any  # type: ignore[misc,assignment]
    sync_playwright = None  # type: ignore[assignment]

BROWSER_MISSING: str | None = None if sync_playwright is not None and os.path.exists(CHROMIUM) else (
    "browser tests need Debian's chromium and playwright-python: run `apt-get install -y chromium` "
    "and `pip install playwright` (not `playwright install`)")
"""Why the browser tier cannot run on this machine, or None when it can."""

__all__ = ["ARTIFACTS", "BROWSER_MISSING", "Lab", "Page", "lab_server", "notebook_page", "run_all", "wait_until_all_cells_ran",
           "shut_down_kernels"]


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: its base URL, token and the folder it serves."""

    base: str
    token: str
    root: Path
    app: str = "lab"
    """``"lab"`` (JupyterLab) or ``"notebook"`` (Notebook 7)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(lab: Lab, path: str, method: str = "GET") -> Any:
    req = urllib.request.Request(f"{lab.base}{path}?token={lab.token}", method=method)
    with urllib.request.urlopen(req, timeout=5) as r:
        body = r.read()
        return json.loads(body) if body else None


def shut_down_kernels(lab: Lab) -> None:
    """Stop every kernel of ``lab`` (closing a browser does not: they would pile up on 2 cores)."""
    try:
        for kernel in _api(lab, "/api/kernels") or []:
            _api(lab, f"/api/kernels/{kernel['id']}", method="DELETE")
    except (urllib.error.URLError, OSError):
        pass


@contextmanager
def lab_server(root: Path, notebooks: list[Path], app: str = "lab") -> Iterator[Lab]:
    """Copy ``notebooks`` into ``root``, serve it with JupyterLab (or Notebook 7: ``app="notebook"``; quiet,
    loopback, token); stop it all on exit."""
    for nb in notebooks:
        shutil.copy(nb, root / nb.name)
    settings = root / ".settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = _free_port(), os.urandom(16).hex()
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(root / ".workspaces"))
    cmd = [sys.executable, "-m", "jupyter", app, "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if app == "lab":
        cmd += ["--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True"]
    else:
        cmd += ["--JupyterNotebookApp.expose_app_in_browser=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    lab = Lab(f"http://127.0.0.1:{port}", token, root, app)
    with open(root / "lab.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            for _ in range(300):
                try:
                    _api(lab, "/api/status")
                    break
                except (urllib.error.URLError, ConnectionError, OSError):
                    if proc.poll() is not None:
                        raise RuntimeError(f"JupyterLab exited: {(root / 'lab.log').read_text()[-2000:]}") from None
                    time.sleep(0.2)
            else:
                raise RuntimeError("JupyterLab did not answer /api/status within 60 s")
            yield lab
        finally:
            shut_down_kernels(lab)
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@contextmanager
def notebook_page(lab: Lab, notebook: str, shot: str | None = None, *, viewport: tuple[int, int] = (1400, 1000),
                  color_scheme: str = "light", theme: str | None = None) -> Iterator[Page]:
    """Headless chromium showing ``notebook`` (a file name in ``lab.root``) in JupyterLab.

    ``viewport`` is (width, height) in CSS px. ``theme`` ("JupyterLab Dark"
    or "JupyterLab Light") switches JupyterLab's theme once the page is up.
    On exit a full-page screenshot is saved as ``test-artifacts/<shot>``
    (when ``shot`` is given), the browser closes and the kernels are shut down.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, color_scheme=color_scheme)
        try:
            if lab.app == "notebook":  # Notebook 7: one document per page, no saved workspace to reset
                page.goto(f"{lab.base}/notebooks/{notebook}?token={lab.token}")
            else:
                page.goto(f"{lab.base}/lab/tree/{notebook}?reset&token={lab.token}")
            if theme is not None:
                page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands.hasCommand('apputils:change-theme')",
                                       timeout=90_000)
                page.evaluate("(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme)
                page.wait_for_function("(t) => document.body.dataset.jpThemeName === t", arg=theme, timeout=30_000)
            yield page
        finally:
            if shot:
                page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
            browser.close()
            shut_down_kernels(lab)


def run_all(page: Page, notebook7: bool = False) -> None:
    """Run All once a kernel really exists; send it again if it was dropped (the kernel race). Notebook 7 has no
    status bar: there the kernel's name in the toolbar and an idle kernel status are waited for."""
    if notebook7:
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                               " && window.jupyterapp.shell.currentWidget.sessionContext"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus === 'idle'",
                               timeout=90_000)
    else:
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    for _attempt in range(5):
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('.jp-InputPrompt')).some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))",
                timeout=5_000)
            return
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: send Run All again
            continue
    raise AssertionError("Run All never started a cell")


def wait_until_all_cells_ran(page: Page, timeout_ms: int = 180_000) -> None:
    """Wait until some cell has a number and none shows ``[*]`` (every queued cell has finished)."""
    page.wait_for_function(
        "() => { const p = Array.from(document.querySelectorAll('.jp-InputPrompt')).map(x => x.textContent);"
        " return p.some(t => /\\[\\d+\\]/.test(t)) && !p.some(t => t.includes('[*]')); }", timeout=timeout_ms)


PLOT_CELLS = """() => {
    const nb = window.jupyterapp.shell.currentWidget.content;
    const found = [];
    nb.widgets.forEach((cell, i) => {
        if (cell.model.type === 'code' &&
            cell.model.outputs.toJSON().some(o => o.data && o.data['application/vnd.plotly.v1+json'])) found.push(i);
    });
    return found;
}"""
SHOW_CELL = """async ([i, tag]) => {
    const nb = window.jupyterapp.shell.currentWidget.content;
    await nb.scrollToItem(i, 'start');
    nb.widgets[i].node.setAttribute('data-raftedu-figure', tag);
}"""


def run_lesson(page) -> list[int]:
    """Run every cell; fail on an error or anything written to stderr; return the indices of the figure cells."""
    run_all(page)
    wait_until_all_cells_ran(page, timeout_ms=300_000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.first.inner_text()
    return page.evaluate(PLOT_CELLS)


def each_figure(page, cells: list[int], stem: str) -> list[str]:
    """Scroll to each figure cell (JupyterLab only draws cells near the view), wait until plotly has drawn it, save it
    as test-artifacts/<stem>-<k>.png and collect the overlapping label pairs of the figures on screen."""
    problems = []
    for k, i in enumerate(cells, 1):
        page.evaluate(SHOW_CELL, [i, str(k)])
        page.locator(f"[data-raftedu-figure='{k}'] .jp-OutputArea").scroll_into_view_if_needed()
        figure = page.locator(f"[data-raftedu-figure='{k}'] .js-plotly-plot")
        figure.locator(".main-svg").first.wait_for(timeout=60_000)
        page.wait_for_timeout(300)  # let plotly finish laying out its text
        figure.screenshot(path=str(ARTIFACTS / f"{stem}-{k}.png"))
        pairs = overlapping_labels(page, f"[data-raftedu-figure='{k}'] .js-plotly-plot")
        if pairs:
            problems.append(f"figure {k} (cell {i}):\n" + describe_overlaps(pairs))
    return problems
