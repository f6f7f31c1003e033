"""ruff's classic rules (pyflakes, pycodestyle's errors; pyproject.toml [tool.ruff]) find nothing in the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# raftedu/grading is being rebuilt (issue 28 left it to that work): include it again when it is clean.
NOT_YET: list[str] = []


def test_ruff_finds_nothing():
    pytest.importorskip("ruff", reason="ruff is not installed (it comes with the test extras)")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
                           *(f"--extend-exclude={p}" for p in NOT_YET), "."], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
