"""Lessons executed once per test session, shared by the whole-site build and the lesson-claims tests.

tests/test_site.py builds the site from every lesson executed; tests/test_lesson_claims_b.py checks the prose of lessons
01 and 06-09 against their outputs. Both need the same execution, so the first test that needs such a lesson executes
it, exactly as the site does (``raftedu.site.execute_lesson``) with one last cell printing the claims' probe, and the
other reads that notebook -- even across pytest-xdist workers: under a lock on a folder the workers share.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MARK = "<<raftedu-claims>>"


def probe_cell(probe: str) -> str:
    """A cell printing ``probe`` (a Python expression over the lesson's names) as JSON after a mark."""
    return f"import json as _json\nprint({MARK!r} + _json.dumps({probe}, default=str))"


def executed(name: str, probe: str, factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, float]:
    """Lesson ``name`` executed once this test session with a last cell printing ``probe``: (notebook, seconds it took).

    A lesson that raises is not kept: the exception reaches the caller, and the next caller runs the lesson again.
    """
    from raftedu.site import execute_lesson

    root = factory.getbasetemp()
    shared = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "raftedu-lessons"
    shared.mkdir(exist_ok=True)
    done, facts = shared / name, shared / f"{name}.json"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            kept = json.loads(facts.read_text())
            assert kept["probe"] == probe, f"{name} was executed this session with another probe: {kept['probe']!r}"
            return nbformat.read(done, as_version=4), kept["seconds"]
        start = time.perf_counter()
        nb = execute_lesson(NOTEBOOKS / name, last=probe_cell(probe))
        seconds = time.perf_counter() - start
        facts.write_text(json.dumps({"probe": probe, "seconds": seconds}))
        nbformat.write(nb, shared / f"{name}.tmp")
        (shared / f"{name}.tmp").rename(done)
    return nb, seconds


def probed(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, dict]:
    """The lesson without its probe cell (a copy), and the values the probe printed."""
    text = "".join(o.text for o in nb.cells[-1].outputs if o.output_type == "stream")
    lesson = nbformat.from_dict(nb)
    lesson.cells = lesson.cells[:-1]
    return lesson, json.loads(text.split(MARK, 1)[1])
