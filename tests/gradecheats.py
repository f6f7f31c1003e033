"""Cheats and broken variants of the exercises' solutions, shared by their tests.

Grade a solution notebook and variants of it with one class cell replaced, through the trusted grader; assert the
solution gets full marks and every variant nothing. And :class:`SolutionMutant`: a subclass of a solution class
with one plausible bug, and the check that must catch it (tests/mutants06.py, tests/mutants08.py). For the exercises
whose students write methods of RaftNode (10, 11): :func:`rule_cheats` and :func:`grade_variants`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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
    assert solution_result.notes == [], solution_result.notes
    for name, (status, phrase, _) in cheats.items():
        r = results[name]
        said = " | ".join(r.notes) + " | " + " | ".join(c["hint"] for c in r.checks)
        if status == "unsafe":  # a patch that does nothing in the sandbox: the class is graded as the server it is
            assert r.score <= r.max_score / 2 and "a server that is not safe keeps at most" in said, \
                (name, r.status, r.score, said[:500])
        else:
            assert r.score == 0 and r.status == status, (name, r.status, said[:500])
        assert phrase in said, (name, said[:500])


def rule_cheats(names: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Answers that earn nothing for an exercise whose students write RaftNode methods ``names``, by kind: every
    method doing nothing, delegating to raftedu's own (switched off while graded), or a paste of raftedu's source."""
    import inspect
    import textwrap

    from raftedu.raft import RaftNode, Server

    def source(name: str) -> str:
        owner = RaftNode if name in vars(RaftNode) else Server
        return textwrap.dedent(inspect.getsource(vars(owner)[name]))

    return {"nothing": {n: f"def {n}(self, *args):\n    return None" for n in names},
            "delegates": {n: f"def {n}(self, *args):\n    return raftedu.RaftNode.{n}(self, *args)" for n in names},
            "pasted": {n: source(n) for n in names}}


def grade_variants(tmp_path: Path, exercise: str, solution: str, variants: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Grade, in one batch through the trusted grader, the ``solution`` notebook, the released starter and each variant
    (name -> {answer cell's grade_id: its new source}); the results by name."""
    import nbformat

    from raftedu.grading import Limits, grade

    folder = tmp_path / "submissions"
    folder.mkdir()
    _notebook_with(solution, "", folder, "solution", None)
    nbformat.write(nbformat.read(ROOT / "exercises" / solution, as_version=4), folder / "starter.ipynb")
    for name, sources in variants.items():
        nb = nbformat.read(ROOT / "solutions" / solution, as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in sources:
                cell.source = sources[grade_id]
        nbformat.write(nb, folder / f"{name}.ipynb")
    return {r.student: r for r in grade(folder, exercise, tmp_path / "grades.csv", jobs=2, progress=False,
                                        limits=Limits(check_timeout=60, submission_timeout=600),
                                        secret="test-secret-for-hidden-cases")}


def autograde_output(tmp_path: Path, solution: str, secret: str) -> str:
    """What nbgrader's autograde does with ``solutions/<solution>``: every cell, hidden tests included (``secret`` in
    the kernel's environment); asserts no cell raised or wrote to stderr and returns the text the cells printed."""
    import os

    import nbformat
    from nbclient import NotebookClient

    from raftedu.grading.core import SECRET_ENV

    nb = nbformat.read(ROOT / "solutions" / solution, as_version=4)
    before = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = secret
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        if before is None:
            del os.environ[SECRET_ENV]
        else:
            os.environ[SECRET_ENV] = before
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    return "".join(o.get("text", "") for o in outputs)


def assert_reference_methods_pass(exercise: str, secret: str) -> None:
    """The judges of a rules exercise ask for the rules, not for the solution's shape: raftedu's own methods pass every
    automatic check, hidden ones included (run unlocked)."""
    from raftedu.grading import core, get_exercise
    from raftedu.raft import RaftNode

    ex = get_exercise(exercise)
    reference = {name: getattr(RaftNode, name) for name in ex.functions}
    for check in ex.selected(hidden=True):
        if check.manual:
            continue
        cases = check.plan(secret)
        records, _ = core.observe_check(check, reference, cases, 60, locked=())
        result = core.judge_check(check, cases, records)
        assert result.passed, (check.name, result.hint)


@contextlib.contextmanager
def solution_worker(tmp_path: Path, exercise: str) -> Iterator[Any]:
    """A sandboxed worker that ran the answer cells of exercise ``exercise``'s solution notebook, as the grader
    starts one (closed on exit; a test asserts it never broke the protocol)."""
    import time

    import nbformat

    from raftedu.grading import get_exercise, sandbox
    from raftedu.grading.boundary import Worker

    ex = get_exercise(exercise)
    nb = nbformat.read(ROOT / "solutions" / f"{ex.notebook}.ipynb", as_version=4)
    cells = [[k + 1, c.source] for k, c in enumerate(nb.cells) if c.cell_type == "code"
             and not c.metadata.get("nbgrader", {}).get("grade")]
    box = sandbox.package(tmp_path / "box", ex.id, ex.reference_rules)
    (tmp_path / "work").mkdir()
    worker = Worker(lambda: sandbox.launch(box, tmp_path / "work", how=sandbox.mode()), ex.id, ex.functions, cells,
                    60, time.monotonic() + 600)
    worker.start()
    try:
        yield worker
        assert worker.broken == []
    finally:
        worker.close()
