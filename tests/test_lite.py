"""`raftedu lite` / `make lite`: a JupyterLite site carrying the course, raftedu's wheel and the widget extensions."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from raftedu import lite

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("jupyterlite_core", reason='JupyterLite is not installed (pip install "raftedu[lite]")')


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> lite.LiteSite:
    return lite.build_lite(tmp_path_factory.mktemp("lite") / "site", root=ROOT)


def test_every_lesson_and_exercise_a_browser_can_run_is_there_with_the_install_cell_first(site: lite.LiteSite) -> None:
    expected = {f"{part}/{p.name}" for part in ("notebooks", "exercises") for p in (ROOT / part).glob("*.ipynb")}
    assert set(site.notebooks) | set(site.left_out) == expected
    assert set(site.left_out) == {"notebooks/13_real_etcd.ipynb"}  # the only one that starts etcd
    for name in site.notebooks:
        cells = json.loads((site.out / "files" / name).read_text())["cells"]
        assert cells[0]["source"] == lite.INSTALL_CELL
        original = json.loads((ROOT / name).read_text())["cells"]
        assert [c["source"] for c in cells[1:]] == [c["source"] for c in original]
    assert "13_real_etcd.ipynb" in (site.out / "files" / "README.md").read_text()


def test_the_site_carries_the_wheel_with_the_package_and_the_widget_extensions(site: lite.LiteSite) -> None:
    index = json.loads((site.out / "pypi" / "all.json").read_text())
    assert "raftedu" in index
    with zipfile.ZipFile(site.out / "pypi" / site.wheel) as wheel:
        names = set(wheel.namelist())
    assert {"raftedu/pools.py", "raftedu/sim.py", "raftedu/_course/notebooks/00_start_here.ipynb"} <= names
    config = json.loads((site.out / "jupyter-lite.json").read_text())["jupyter-config-data"]
    extensions = {e["name"] for e in config["federated_extensions"]}
    assert {"@jupyter-widgets/jupyterlab-manager", "anywidget", "@jupyterlite/pyodide-kernel-extension"} <= extensions


def test_a_folder_without_notebooks_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no notebooks under"):
        lite.build_lite(tmp_path / "out", root=tmp_path, wheel=tmp_path / "x.whl")


def test_needs_real_programs_reads_code_cells_only() -> None:
    md = {"cells": [{"cell_type": "markdown", "source": "uses raftedu.etcd"}]}
    code = {"cells": [{"cell_type": "code", "source": ["from raftedu.etcd import EtcdCluster\n"]}]}
    assert not lite.needs_real_programs(md) and lite.needs_real_programs(code)


def test_every_app_page_says_in_words_when_pyodide_cannot_be_fetched(site: lite.LiteSite) -> None:
    """The banner's check fetches exactly the Pyodide the kernel will load (tests/browser shows it offline)."""
    assert site.pyodide == lite.pyodide_url(site.out) and site.pyodide.startswith("https://")
    for app in ("lab", "notebooks", "tree", "repl"):
        page = (site.out / app / "index.html").read_text()
        assert page.count('id="raftedu-offline-check"') == 1, app
        assert json.dumps(site.pyodide) in page and "Python cannot start in this page" in page
    readme = (site.out / "files" / "README.md").read_text()
    assert "without a network connection the kernel cannot start" in readme


def test_without_a_checkout_or_a_wheel_an_install_that_lists_no_files_is_refused_clearly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`raftedu lite` repacks the installed raftedu; a raftedu not installed by pip (here: from PYTHONPATH) says what to do."""
    from importlib import metadata

    def no_dist(name: str) -> None:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", no_dist)
    with pytest.raises(FileNotFoundError, match="pass the wheel with --wheel"):
        lite._wheel_from_install(tmp_path)
