"""One source for exercises: generate ``exercises/`` from ``solutions/`` (nbgrader's markers and cell metadata).

A solutions notebook marks

* solution code between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
  (comment lines starting ``# Hint:`` right after ``### BEGIN SOLUTION`` are
  kept for students);
* hidden tests between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``;
* cells with ``metadata.nbgrader`` = ``{grade_id, grade, solution, locked,
  points, schema_version: 3}``, exactly as nbgrader reads them.

:func:`release_notebook` turns one solutions notebook into the student
version: each solution region becomes its hints plus ``raise
NotImplementedError()``, a written answer becomes ``YOUR ANSWER HERE``,
hidden tests disappear, and outputs, execution counts and widget state are
stripped. :func:`release` does a whole folder and can check instead of write.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # nbformat is imported when a notebook is read: students' `import raftedu.grading` stays fast
    import nbformat

__all__ = [
    "BEGIN_SOLUTION",
    "END_SOLUTION",
    "BEGIN_HIDDEN",
    "END_HIDDEN",
    "NotebookFormatError",
    "release",
    "release_notebook",
    "solution_namespace",
    "test_cells",
]

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
ANSWER_STUB = "YOUR ANSWER HERE"
NBGRADER_KEYS = ("grade", "grade_id", "locked", "schema_version", "solution")


class NotebookFormatError(ValueError):
    """A solutions notebook breaks the authoring format; the message names the notebook and the cell."""


def _where(path: str, k: int, cell: Any) -> str:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"{path}, cell {k + 1}" + (f" ({grade_id})" if grade_id else "")


def _regions(lines: list[str], begin: str, end: str, where: str) -> list[tuple[int, int]]:
    """(begin line, end line) pairs of each marked region, checked for balance."""
    spans, start = [], None
    for i, line in enumerate(lines):
        if line.strip().startswith(begin):
            if start is not None:
                raise NotebookFormatError(f"{where}: {begin!r} at line {i + 1} inside another region opened at line {start + 1}")
            start = i
        elif line.strip().startswith(end):
            if start is None:
                raise NotebookFormatError(f"{where}: {end!r} at line {i + 1} without a {begin!r} before it")
            spans.append((start, i))
            start = None
    if start is not None:
        raise NotebookFormatError(f"{where}: {begin!r} at line {start + 1} is never closed with {end!r}")
    return spans


def _replace_solutions(source: str, where: str, markdown: bool) -> str:
    lines = source.split("\n")
    spans = _regions(lines, BEGIN_SOLUTION, END_SOLUTION, where)
    for start, stop in reversed(spans):
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        hints = []
        for line in lines[start + 1 : stop]:
            if not line.strip().startswith("# Hint:"):
                break
            hints.append(line)
        stub = [indent + ANSWER_STUB] if markdown else hints + [indent + "raise NotImplementedError()"]
        lines[start : stop + 1] = stub
    return "\n".join(lines)


def _remove_hidden(source: str, where: str) -> str:
    lines = source.split("\n")
    for start, stop in reversed(_regions(lines, BEGIN_HIDDEN, END_HIDDEN, where)):
        del lines[start : stop + 1]
    return "\n".join(lines).strip("\n")


def _check_metadata(meta: dict[str, Any], where: str, seen: set[str]) -> None:
    missing = [k for k in NBGRADER_KEYS if k not in meta]
    if missing:
        raise NotebookFormatError(f"{where}: nbgrader metadata lacks {', '.join(missing)} "
                                  f"(every marked cell needs {', '.join(NBGRADER_KEYS)})")
    if meta["schema_version"] != 3:
        raise NotebookFormatError(f"{where}: nbgrader schema_version must be 3; got {meta['schema_version']!r}")
    if meta["grade"] and not isinstance(meta.get("points"), (int, float)):
        raise NotebookFormatError(f"{where}: a graded cell needs numeric 'points'")
    if meta["grade_id"] in seen:
        raise NotebookFormatError(f"{where}: grade_id {meta['grade_id']!r} is used twice")
    seen.add(meta["grade_id"])


def release_notebook(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student version of solutions notebook ``nb`` (a new notebook; ``nb`` is unchanged)."""
    import nbformat

    out: nbformat.NotebookNode = nbformat.reads(nbformat.writes(nb), as_version=4)
    out.metadata.pop("widgets", None)
    seen: set[str] = set()
    for k, cell in enumerate(out.cells):
        where = _where(name, k, cell)
        meta = cell.metadata.get("nbgrader")
        if meta is not None:
            _check_metadata(meta, where, seen)
        solution = bool(meta and meta.get("solution"))
        has_markers = BEGIN_SOLUTION in cell.source
        if has_markers and not solution:
            raise NotebookFormatError(f"{where}: has {BEGIN_SOLUTION!r} but no nbgrader metadata with solution: true")
        if solution and cell.cell_type == "code" and not has_markers:
            raise NotebookFormatError(f"{where}: a solution code cell must mark its solution with {BEGIN_SOLUTION!r}")
        if solution:
            cell.source = (_replace_solutions(cell.source, where, cell.cell_type == "markdown")
                           if has_markers else ANSWER_STUB)
        if BEGIN_HIDDEN in cell.source or END_HIDDEN in cell.source:
            if not (meta and meta.get("grade") and not solution):
                raise NotebookFormatError(f"{where}: hidden tests belong in a test cell (grade: true, solution: false)")
            cell.source = _remove_hidden(cell.source, where)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        for key in ("execution", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
    return out


def test_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indexes of nbgrader test cells (grade: true, solution: false): the grader does not run them."""
    return [k for k, c in enumerate(nb.cells)
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
            and not c.metadata.get("nbgrader", {}).get("solution")]


def solution_namespace(path: str | Path, functions: tuple[str, ...]) -> dict[str, Any]:
    """What a student's kernel holds after running notebook ``path``: its ``setup`` cell and the cells of ``functions``.

    Code cells whose nbgrader ``grade_id`` is ``setup`` or one of ``functions``
    run in order in a fresh namespace, which is returned (the reference
    solution for tests and benchmarks; demo and test cells are not run).
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    namespace: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade_id") in ("setup", *functions):
            exec(compile(cell.source, f"{path}:{cell.metadata['nbgrader']['grade_id']}", "exec"), namespace)
    return namespace


def _text(nb: nbformat.NotebookNode) -> str:
    import nbformat

    return str(nbformat.writes(nb, version=4)) + "\n"


def release(solutions: str | Path = "solutions", exercises: str | Path = "exercises", *,
            check: bool = False) -> list[str]:
    """Generate every ``exercises/NN_*.ipynb`` from ``solutions/NN_*.ipynb``.

    Returns the notebooks that were (or, with ``check=True``, would be)
    written or removed. With ``check=True`` nothing is written: an empty list
    means ``exercises/`` is exactly what this command produces.
    """
    import nbformat

    src, dst = Path(solutions), Path(exercises)
    if not src.is_dir():
        raise FileNotFoundError(f"no solutions folder at {src.resolve()}: run from the course root or pass --solutions")
    sources = sorted(src.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"{src} holds no NN_topic.ipynb notebooks")
    changed: list[str] = []
    wanted = {}
    for path in sources:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as e:
            raise NotebookFormatError(f"{path}: not a readable notebook ({e})") from None
        wanted[path.name] = _text(release_notebook(nb, str(path)))
    for name, text in wanted.items():
        target = dst / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            changed.append(str(target))
            if not check:
                dst.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    for stale in sorted(dst.glob("[0-9][0-9]_*.ipynb")) if dst.is_dir() else []:
        if stale.name not in wanted:
            changed.append(str(stale))
            if not check:
                stale.unlink()
    return changed
