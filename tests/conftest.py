"""Shared test set-up: make the tests folder importable so scenario helpers can be reused."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
