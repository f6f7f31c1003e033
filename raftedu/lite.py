"""``raftedu lite``: the course as a JupyterLite site -- JupyterLab and Python entirely in the browser.

The site is static (any web server, no kernel on a machine of yours): the
browser runs Pyodide, CPython compiled to WebAssembly. It holds

* the lessons and the student exercises, each with one extra first cell,
  ``%pip install -q raftedu``, which installs raftedu from the wheel the site
  carries (JupyterLite's piplite); its dependencies (pandas, plotly,
  ipywidgets, anywidget, tqdm) come from Pyodide's and PyPI's servers when a
  student opens the page;
* the widget extensions (ipywidgets' manager, anywidget for plotly's
  FigureWidget) so the explorer and figures work.

Lessons that drive real programs (lesson 13 starts etcd) cannot run in a
browser and are left out; the site's README says which. Experiments run
their trials one after another there and checks have no time limit, both
saying so (:mod:`raftedu.pools`). What runs under Pyodide is tested by
tests/test_pyodide.py (the core, same traces as CPython) and tests/test_pools.py
(the fallbacks); the lessons' JupyterLab pages need Pyodide's package servers,
which tests cannot reach.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .course import needs_real_programs

__all__ = ["INSTALL_CELL", "OFFLINE", "LiteSite", "build_lite", "needs_real_programs"]

INSTALL_CELL = "%pip install -q raftedu  # JupyterLite: install raftedu into this browser tab's Python first"
"""The first cell of every notebook in the site (piplite finds the wheel the site carries)."""


@dataclass
class LiteSite:
    """What :func:`build_lite` wrote: the output folder, the notebooks it holds and the ones left out (with why)."""

    out: Path
    wheel: str
    notebooks: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)
    pyodide: str = ""
    """Where the browser fetches Pyodide from (pages say so in a banner when it cannot)."""


def _with_install_cell(notebook: dict) -> dict:
    cell = {"cell_type": "code", "execution_count": None, "id": "raftedu-lite-install",
            "metadata": {"tags": ["raftedu-lite"]}, "outputs": [], "source": INSTALL_CELL}
    return {**notebook, "cells": [cell, *notebook["cells"]]}


def _wheel_from_checkout(root: Path, folder: Path) -> Path:
    """Build raftedu's wheel (no dependencies) from a source checkout."""
    if not (root / "pyproject.toml").is_file():
        raise FileNotFoundError(f"{root} is not a raftedu checkout (no pyproject.toml); pass the wheel with --wheel")
    source = folder / "source"  # a clean copy: setuptools' leftovers in the checkout's build/ must not leak in
    shutil.copytree(root, source, ignore=shutil.ignore_patterns(".git", ".venv*", ".cache", "build", "dist",
                                                                "test-artifacts", "*.egg-info", "__pycache__"))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder), str(source)], "pip wheel")
    wheels = sorted(folder.glob("raftedu-*.whl"))
    if not wheels:
        raise RuntimeError(f"pip wheel wrote no raftedu wheel into {folder}")
    return wheels[-1]


OFFLINE = ("Python cannot start in this page. The course runs Python in your browser (Pyodide), which the page "
           "downloads from {host}, and {host} cannot be reached: you are offline, or a firewall blocks it. Connect "
           "and reload the page, or run the course on your own machine: pip install \"raftedu[lab]\", then "
           "raftedu course && jupyter lab raft-course.")
"""The banner a JupyterLite page shows when Pyodide cannot be fetched ({host}: where it comes from)."""

_PYODIDE_URL = re.compile(r"https://[^\"'\s]+/pyodide\.m?js")
_BANNER = """<script id="raftedu-offline-check">
(function () {{
  /* raftedu: say so in words when Pyodide (Python in the browser) cannot be fetched, instead of a silent kernel */
  var say = function () {{
    var d = document.createElement("div");
    d.id = "raftedu-offline"; d.setAttribute("role", "alert");
    d.style.cssText = "position:fixed;left:0;right:0;top:0;z-index:100000;padding:10px 40px 10px 16px;" +
      "background:#fff3cd;color:#222;border-bottom:2px solid #b58900;font:15px/1.4 sans-serif";
    d.textContent = {text};
    var x = document.createElement("button");
    x.textContent = "\u00d7"; x.setAttribute("aria-label", "close");
    x.style.cssText = "position:absolute;right:10px;top:6px;font-size:18px;background:none;border:0;cursor:pointer";
    x.onclick = function () {{ d.remove(); }};
    d.appendChild(x);
    document.body.appendChild(d);
  }};
  fetch({url}, {{method: "HEAD", mode: "no-cors", cache: "no-store"}}).catch(say);
}})();
</script>
"""


def pyodide_url(site: Path) -> str:
    """Where a built JupyterLite site fetches Pyodide from (its config, else the kernel extension's default)."""
    config = json.loads((site / "jupyter-lite.json").read_text())["jupyter-config-data"]
    named = config.get("litePluginSettings", {}).get("@jupyterlite/pyodide-kernel-extension:kernel", {})
    if named.get("pyodideUrl"):
        return str(named["pyodideUrl"])
    for script in sorted((site / "extensions" / "@jupyterlite" / "pyodide-kernel-extension").rglob("*.js")):
        if found := _PYODIDE_URL.search(script.read_text(encoding="utf-8", errors="replace")):
            return found.group(0)
    raise RuntimeError(f"cannot tell where {site} fetches Pyodide from (no pyodideUrl in its kernel extension)")


def _add_offline_banner(site: Path) -> str:
    """Every app page of the site says so in words when Pyodide cannot be fetched; returns Pyodide's URL."""
    from urllib.parse import urlsplit

    url = pyodide_url(site)
    script = _BANNER.format(url=json.dumps(url), text=json.dumps(OFFLINE.format(host=urlsplit(url).netloc)))
    for page in site.glob("*/index.html"):
        text = page.read_text(encoding="utf-8")
        if "jupyter-config-data" in text and "raftedu-offline-check" not in text:
            page.write_text(text.replace("</body>", script + "</body>", 1), encoding="utf-8")
    return url


_NOT_REPACKED = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def _wheel_from_install(folder: Path) -> Path:
    """raftedu's wheel, repacked from this installation's files (a plain ``pip install raftedu`` lists them all)."""
    import base64
    import hashlib
    import zipfile
    from importlib import metadata

    try:
        dist = metadata.distribution("raftedu")
    except metadata.PackageNotFoundError:
        raise FileNotFoundError("raftedu is not installed with pip here (it is imported from a folder): pass the "
                                "wheel with --wheel, or run raftedu lite in a checkout with --root") from None
    files = [f for f in dist.files or () if f.parts and "__pycache__" not in f.parts
             and (f.parts[0] == "raftedu" or (f.parts[0].endswith(".dist-info") and f.name not in _NOT_REPACKED))]
    infos = {f.parts[0] for f in files if f.parts[0].endswith(".dist-info")}
    if not infos or not any(f.parts[0] == "raftedu" for f in files):
        raise FileNotFoundError("this raftedu was not installed from a wheel (no file list to repack); "
                                "pass the wheel with --wheel, or run raftedu lite in a checkout with --root")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"raftedu-{dist.version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as whl:
        for f in sorted(files, key=str):
            data = Path(str(f.locate())).read_bytes()
            whl.writestr(str(f), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{f},sha256={digest},{len(data)}")
        info = sorted(infos)[0]
        whl.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return target


def _jupyter_lite() -> str:
    # this environment's own JupyterLite only: another environment's on PATH would build with other versions
    here = shutil.which("jupyter-lite", path=str(Path(sys.executable).parent))
    if here is None:
        raise FileNotFoundError('JupyterLite is not installed: pip install "raftedu[lite]"')
    return here


def build_lite(out: str | Path = "build/lite", *, root: str | Path | None = None,
               wheel: str | Path | None = None) -> LiteSite:
    """Write a JupyterLite site of the course into ``out``.

    ``root`` holds ``notebooks/`` and ``exercises/`` (default: the installed
    course); ``wheel`` is the raftedu wheel to carry (default: built from
    ``root`` when it is a checkout, else repacked from the installed raftedu).
    """
    from .course import course_root

    base = Path(root) if root is not None else Path(str(course_root()))
    out = Path(out).resolve()
    tool = _jupyter_lite()
    with tempfile.TemporaryDirectory(prefix="raftedu-lite-") as tmp:
        stage = Path(tmp)
        contents = stage / "contents"
        site = LiteSite(out, "")
        for part in ("notebooks", "exercises"):
            (contents / part).mkdir(parents=True)
            for path in sorted((base / part).glob("*.ipynb")):
                notebook = json.loads(path.read_text(encoding="utf-8"))
                if needs_real_programs(notebook):
                    site.left_out[f"{part}/{path.name}"] = "starts etcd, a program a browser cannot run"
                    continue
                (contents / part / path.name).write_text(json.dumps(_with_install_cell(notebook), indent=1),
                                                         encoding="utf-8")
                site.notebooks.append(f"{part}/{path.name}")
        if not site.notebooks:
            raise FileNotFoundError(f"no notebooks under {base}/notebooks or {base}/exercises")
        if wheel is not None:
            wheel_path = Path(wheel)
        elif (base / "pyproject.toml").is_file():
            wheel_path = _wheel_from_checkout(base, stage / "wheel")
        else:
            wheel_path = _wheel_from_install(stage / "wheel")
        if not wheel_path.is_file():
            raise FileNotFoundError(f"no wheel at {wheel_path}")
        site.wheel = wheel_path.name
        left = "".join(f"- {name}: {why}\n" for name, why in site.left_out.items()) or "- none\n"
        (contents / "README.md").write_text(
            "# The Raft course, in your browser\n\nOpen notebooks/00_start_here.ipynb. Each notebook's first cell "
            "installs raftedu into this tab's Python. The first time, the browser downloads Python itself (Pyodide) and "
            "the lessons' packages (pandas, plotly, ipywidgets, anywidget, tqdm) from Pyodide's and PyPI's servers: "
            "without a network connection the kernel cannot start, and the page says so.\n\n"
            f"Left out here (they need programs a browser cannot run):\n{left}", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        _run([tool, "build", "--contents", str(contents), "--piplite-wheels", str(wheel_path), "--output-dir", str(out),
              "--lite-dir", str(stage)], "jupyter lite build", cwd=stage)
    site.pyodide = _add_offline_banner(out)
    return site


def _run(command: list[str], what: str, cwd: Path | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{tail}")
