"""The browser tier's shared fixture: one JupyterLab per test session (per xdist worker) serving every notebook."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labpage import BROWSER_MISSING, REPO, Lab, lab_server


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab serving temporary copies of ``notebooks/*.ipynb`` and ``tests/browser/*.ipynb`` (open them by name)."""
    if BROWSER_MISSING:
        pytest.skip(BROWSER_MISSING)
    notebooks = sorted((REPO / "notebooks").glob("*.ipynb")) + sorted((REPO / "tests" / "browser").glob("*.ipynb"))
    with lab_server(tmp_path_factory.mktemp("lab"), notebooks) as server:
        yield server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A browser test that timed out waiting for the page runs once more (pytest-rerunfailures): on a loaded two-core
    CI machine a JupyterLab round trip can stall past any fixed wait. Only a timeout is retried, never a failed
    assertion about what the page shows, and ``-ra`` lists every rerun (R) so a flake stays visible."""
    if not config.pluginmanager.hasplugin("rerunfailures"):
        return
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("flaky"):
            item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=["TimeoutError"]))
