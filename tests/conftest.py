"""Shared test set-up: make the tests folder importable so scenario helpers can be reused."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def pytest_terminal_summary(terminalreporter):
    """Report how long each lesson notebook took to execute (its time budget)."""
    times = {}
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "seconds":
                times[report.nodeid.split("[")[-1].rstrip("]")] = value
    if times:
        terminalreporter.write_sep("-", "lesson notebook execution times")
        for name, seconds in sorted(times.items()):
            terminalreporter.write_line(f"{name:<40} {seconds:>6.1f} s")
