"""Cheats and broken variants of the whole-class exercises' solutions (06 and 08), shared by their tests.

Grade a solution notebook and variants of it with one class cell replaced, through the trusted grader; assert the
solution gets full marks and every variant nothing. And :class:`SolutionMutant`: a subclass of a solution class
with one plausible bug, and the check that must catch it (tests/mutants06.py, tests/mutants08.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def solution_class(notebook: str, name: str) -> Any:
    """The class ``name`` defined by the solution notebook ``solutions/<notebook>``."""
    from raftedu.grading.notebooks import solution_namespace

    return solution_namespace(ROOT / "solutions" / notebook, (name,))[name]


@dataclass(frozen=True)
class SolutionMutant:
    """A broken variant of a solution class, what it breaks (a kind of bug, or the rule), and the check that must
    fail for it."""

    name: str
    breaks: str
    node_class: type
    catch: str


def variant(base: type, name: str, **methods: Any) -> type:
    """A subclass of ``base`` named ``name`` with ``methods`` replaced: one bug, the rest of the solution as it is."""
    return type(name, (base,), methods)


def _notebook_with(solution: str, cell_id: str, folder: Path, name: str, source: str | None) -> None:
    import nbformat

    nb = nbformat.read(ROOT / "solutions" / solution, as_version=4)
    if source is not None:
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == cell_id)
        cell.source = source
    nbformat.write(nb, folder / f"{name}.ipynb")


def assert_solution_full_and_cheats_nothing(tmp_path: Path, exercise: str, solution: str, cell_id: str,
                                            cheats: dict[str, tuple[str, str, str]], max_score: float) -> None:
    """Grade the ``solution`` notebook and, per cheat (name -> (status, phrase, cell source)), the solution with cell
    ``cell_id`` replaced: the solution scores ``max_score``, each cheat 0 with its status and the phrase said."""
    from raftedu.grading import Limits, grade

    folder = tmp_path / "submissions"
    folder.mkdir()
    _notebook_with(solution, cell_id, folder, "solution", None)
    for name, (_, _, source) in cheats.items():
        _notebook_with(solution, cell_id, folder, name, source)
    results = {r.student: r for r in grade(folder, exercise, tmp_path / "grades.csv", jobs=2, progress=False,
                                          limits=Limits(check_timeout=60, submission_timeout=600),
                                          secret="test-secret-for-hidden-cases")}
    solution_result = results["solution"]
    assert solution_result.status == "ok" and solution_result.score == solution_result.max_score == max_score, \
        solution_result.checks
    for name, (status, phrase, _) in cheats.items():
        r = results[name]
        said = " | ".join(r.notes) + " | " + " | ".join(c["hint"] for c in r.checks)
        if status == "unsafe":  # a patch that does nothing in the sandbox: the class is graded as the server it is
            assert r.score <= r.max_score / 2 and "a server that is not safe keeps at most" in said, \
                (name, r.status, r.score, said[:500])
        else:
            assert r.score == 0 and r.status == status, (name, r.status, said[:500])
        assert phrase in said, (name, said[:500])
