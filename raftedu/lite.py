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

Lessons that drive real programs (lesson 09 starts etcd) cannot run in a
browser and are left out; the site's README says which. Experiments run
their trials one after another there and checks have no time limit, both
saying so (:mod:`raftedu.pools`). What runs under Pyodide is tested by
tests/test_pyodide.py (the core, same traces as CPython) and tests/test_pools.py
(the fallbacks); the lessons' JupyterLab pages need Pyodide's package servers,
which tests cannot reach.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["INSTALL_CELL", "LiteSite", "build_lite", "needs_real_programs"]

INSTALL_CELL = "%pip install -q raftedu  # JupyterLite: install raftedu into this browser tab's Python first"
"""The first cell of every notebook in the site (piplite finds the wheel the site carries)."""

_REAL_PROGRAMS = ("raftedu.etcd", "EtcdCluster")


@dataclass
class LiteSite:
    """What :func:`build_lite` wrote: the output folder, the notebooks it holds and the ones left out (with why)."""

    out: Path
    wheel: str
    notebooks: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)


def needs_real_programs(notebook: dict) -> bool:
    """Whether a notebook starts programs of this machine (etcd) that a browser cannot run."""
    return any(any(word in "".join(c.get("source", "")) for word in _REAL_PROGRAMS)
               for c in notebook.get("cells", []) if c.get("cell_type") == "code")


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


def _jupyter_lite() -> str:
    here = shutil.which("jupyter-lite", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-lite")
    if here is None:
        raise FileNotFoundError('JupyterLite is not installed: pip install "raftedu[lite]"')
    return here


def build_lite(out: str | Path = "build/lite", *, root: str | Path | None = None,
               wheel: str | Path | None = None) -> LiteSite:
    """Write a JupyterLite site of the course into ``out``.

    ``root`` holds ``notebooks/`` and ``exercises/`` (default: the installed
    course); ``wheel`` is the raftedu wheel to carry (default: built from
    ``root``, which must then be a checkout).
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
        wheel_path = Path(wheel) if wheel is not None else _wheel_from_checkout(base, stage / "wheel")
        if not wheel_path.is_file():
            raise FileNotFoundError(f"no wheel at {wheel_path}")
        site.wheel = wheel_path.name
        left = "".join(f"- {name}: {why}\n" for name, why in site.left_out.items()) or "- none\n"
        (contents / "README.md").write_text(
            "# The Raft course, in your browser\n\nOpen notebooks/00_start_here.ipynb. Each notebook's first cell "
            "installs raftedu into this tab's Python (it needs a network connection the first time).\n\n"
            f"Left out here (they need programs a browser cannot run):\n{left}", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        _run([tool, "build", "--contents", str(contents), "--piplite-wheels", str(wheel_path), "--output-dir", str(out),
              "--lite-dir", str(stage)], "jupyter lite build", cwd=stage)
    return site


def _run(command: list[str], what: str, cwd: Path | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{tail}")
