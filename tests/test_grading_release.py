"""One source: exercises/ is exactly what `raftedu release` makes of solutions/, in nbgrader's format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from raftedu.__main__ import main
from raftedu.grading import EXERCISES, release
from raftedu.grading.notebooks import BEGIN_HIDDEN, BEGIN_SOLUTION, NotebookFormatError, release_notebook

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


def test_exercises_folder_is_exactly_what_release_produces(tmp_path: Path) -> None:
    assert release(ROOT / "solutions", ROOT / "exercises", check=True) == []
    fresh = tmp_path / "exercises"
    written = release(ROOT / "solutions", fresh)
    assert sorted(Path(p).name for p in written) == sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))
    for path in fresh.iterdir():
        assert path.read_bytes() == (ROOT / "exercises" / path.name).read_bytes()


def test_release_check_reports_drift_and_release_repairs_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    (tmp_path / "exercises" / "02_request_vote.ipynb").write_text("{}", encoding="utf-8")
    (tmp_path / "exercises" / "99_stale.ipynb").write_text("{}", encoding="utf-8")
    args = ["--solutions", str(tmp_path / "solutions"), "--exercises", str(tmp_path / "exercises")]
    assert main(["release", "--check", *args]) == 1
    assert "02_request_vote" in capsys.readouterr().out
    assert main(["release", *args]) == 0
    assert main(["release", "--check", *args]) == 0
    assert not (tmp_path / "exercises" / "99_stale.ipynb").exists()


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solutions_carry_nbgrader_metadata_and_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata
    ids = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        meta = cell.metadata.get("nbgrader")
        if meta:
            assert meta["schema_version"] == 3
            assert {"grade", "grade_id", "locked", "solution"} <= set(meta)
            ids.append(meta["grade_id"])
        if BEGIN_SOLUTION in cell.source:
            assert meta and meta["solution"]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_cell_points_match_the_checks(path: Path) -> None:
    """One nbgrader test cell per check, with the points the raftedu grader gives that check; hidden ones hidden."""
    ex = EXERCISES[path.stem[:2]]
    assert ex.notebook == path.stem
    nb = nbformat.read(path, as_version=4)
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"].get("points")
              for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert points == {c.name: c.points for c in ex.checks}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        check = next((c for c in ex.checks if c.name == grade_id and not c.manual), None)
        if check is not None:
            assert (BEGIN_HIDDEN in cell.source) == (not check.public), grade_id
            assert f'"{check.name}"' in cell.source, grade_id
    for name in ex.functions:  # a function, or for exercise 06 the server class
        assert any(f"def {name}(" in c.source or f"class {name}(" in c.source for c in nb.cells
                   if c.cell_type == "code"), name


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_released_notebook_hides_solutions_and_hidden_tests(path: Path) -> None:
    text = (ROOT / "exercises" / path.name).read_text(encoding="utf-8")
    assert BEGIN_SOLUTION not in text and BEGIN_HIDDEN not in text and "run_checks(" not in text
    nb = json.loads(text)
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    regions = sum(c.source.count(BEGIN_SOLUTION) for c in nbformat.read(path, as_version=4).cells
                  if c.cell_type == "code")
    assert code.count("raise NotImplementedError()") == regions >= len(EXERCISES[path.stem[:2]].functions)
    assert "# Hint:" in code


def test_release_names_the_cell_that_breaks_the_format() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1")])
    nb.cells[0].metadata["nbgrader"] = {"grade": False, "grade_id": "x", "locked": False, "schema_version": 3,
                                        "solution": True}
    with pytest.raises(NotebookFormatError, match="demo.ipynb, cell 1 \\(x\\).*never closed"):
        release_notebook(nb, "demo.ipynb")
    nb.cells[0].metadata["nbgrader"]["schema_version"] = 2
    with pytest.raises(NotebookFormatError, match="schema_version must be 3"):
        release_notebook(nb, "demo.ipynb")
    with pytest.raises(FileNotFoundError, match="no solutions folder"):
        release("/nonexistent/solutions", "/tmp/x")


def test_cli_help_lists_the_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "release" in out and "grade" in out and "check" in out
    with pytest.raises(SystemExit):
        main(["grade", "--help"])
    shown = " ".join(capsys.readouterr().out.lower().split())
    assert "sandboxed worker" in shown and "without bubblewrap" in shown and "--sandbox" in shown
    assert main(["grade", "/nonexistent", "--exercise", "02"]) == 2
    assert "no submissions at /nonexistent" in capsys.readouterr().err
    assert main(["grade", str(ROOT / "tests"), "--exercise", "99"]) == 2
    assert "unknown exercise" in capsys.readouterr().err


def test_python_dash_m_raftedu_runs_the_cli() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "raftedu", "release", "--check"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0 and "exactly what `raftedu release` produces" in done.stdout and done.stderr == ""


def test_grade_help_names_every_exercise_the_grader_knows(capsys: pytest.CaptureFixture[str]) -> None:
    from raftedu.__main__ import EXERCISE_IDS

    runs: list[list[int]] = []  # the exercise ids as runs of consecutive numbers: "01 to 09, 11"
    for k in sorted(int(i) for i in EXERCISES):
        if runs and k == runs[-1][-1] + 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    assert EXERCISE_IDS == ", ".join(f"{r[0]:02d}" + (f" to {r[-1]:02d}" if len(r) > 1 else "") for r in runs)
    with pytest.raises(SystemExit):
        main(["grade", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"exercise id: {EXERCISE_IDS}" in text and "kernel" not in text
