"""Shared test set-up: make the tests folder importable so scenario helpers can be reused."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


_BUSY: dict[str, list[float]] = {}
"""Per xdist worker (or "main"): [first start, last stop, seconds spent in tests], from the test reports."""


def pytest_runtest_logreport(report):
    """Note when each test phase ran and on which worker (the controller sees every worker's reports).

    With RAFTEDU_TIMELINE=FILE each phase is also appended to FILE as a JSON line (worker, test, phase, start, stop):
    the schedule of a whole run, to see which tests ran side by side and which worker finished last.
    """
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a worker: its controller gets the same report
    node = getattr(report, "node", None)
    worker = node.gateway.id if node is not None else "main"
    start, stop = getattr(report, "start", 0.0), getattr(report, "stop", 0.0)
    first, last, busy = _BUSY.get(worker, [start, stop, 0.0])
    _BUSY[worker] = [min(first, start), max(last, stop), busy + report.duration]
    if path := os.environ.get("RAFTEDU_TIMELINE"):
        import json

        with open(path, "a") as f:
            f.write(json.dumps({"worker": worker, "test": report.nodeid, "when": report.when, "start": start,
                                "stop": stop, "outcome": report.outcome}) + "\n")


def pytest_terminal_summary(terminalreporter):
    """Report how long each lesson notebook took to execute (its time budget), and how busy each worker was."""
    if len(_BUSY) > 1:  # pytest-xdist: a worker idle at the end while another still runs is time the run loses
        begin, end = min(b[0] for b in _BUSY.values()), max(b[1] for b in _BUSY.values())
        terminalreporter.write_sep("-", "workers: seconds in tests, and idle after their last test")
        for worker, (first, last, busy) in sorted(_BUSY.items()):
            terminalreporter.write_line(f"{worker:<6} {busy:>7.1f} s in tests, first at +{first - begin:.0f} s, "
                                        f"idle for the last {end - last:.0f} s")
    times = {}
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "seconds":
                times[report.nodeid.split("[")[-1].rstrip("]")] = value
            elif name.startswith("seconds:"):  # one test that executed several lessons (the whole-site build)
                times[name.split(":", 1)[1]] = value
    if times:
        terminalreporter.write_sep("-", "lesson notebook execution times")
        for name, seconds in sorted(times.items()):
            terminalreporter.write_line(f"{name:<40} {seconds:>6.1f} s")


def _git_status() -> str | None:
    """``git status --porcelain`` of the checkout (None outside a git checkout)."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root,
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def pytest_sessionstart(session):
    """Remember what the checkout looked like before the tests (tests write only into temporary folders)."""
    if not hasattr(session.config, "workerinput"):  # the xdist controller (or a plain run), not each worker
        session.config._raftedu_git_before = _git_status()


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when the tests left files behind in the checkout (a secret, a CSV, a notebook's output...)."""
    before = getattr(session.config, "_raftedu_git_before", None)
    if before is None:
        return
    after = _git_status()
    if after is not None and after != before:
        new = sorted(set(after.splitlines()) - set(before.splitlines()))
        if new:
            print("\nthe tests changed the checkout (they must write only into temporary folders):\n  "
                  + "\n  ".join(new[:20]), file=sys.stderr)
            session.exitstatus = 1
