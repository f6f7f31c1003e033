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
