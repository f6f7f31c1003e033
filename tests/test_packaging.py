"""The course from pip: `raftedu course`, lean dependencies, and a wheel that carries the lessons.

The quick tests run `copy_course` and the command line from this checkout.
The slow one builds a wheel from the checkout, installs it in a clean venv
the way a student would (`pip install raftedu`, then `raftedu[lab]`) and
checks that the course can be copied out and served by JupyterLab.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from raftedu.__main__ import main
from raftedu.course import MANIFEST, CourseConflict, copy_course, course_files

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
EXERCISES = sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))


def test_course_copies_lessons_and_student_exercises_never_solutions(tmp_path):
    result = copy_course(tmp_path / "course")
    folder = tmp_path / "course"
    assert sorted(p.name for p in (folder / "notebooks").glob("*.ipynb")) == LESSONS
    assert sorted(p.name for p in (folder / "exercises").glob("*.ipynb")) == EXERCISES
    assert not (folder / "solutions").exists()
    for name in EXERCISES:  # byte for byte the released student copy, which holds no solution
        copied = (folder / "exercises" / name).read_bytes()
        assert copied == (ROOT / "exercises" / name).read_bytes()
        assert b"### BEGIN SOLUTION" not in copied and b"BEGIN HIDDEN TESTS" not in copied
    readme = (folder / "README.md").read_text()
    for name in LESSONS + EXERCISES:
        assert name in readme, f"the course README does not list {name}"
    assert "00_start_here.ipynb" in readme and "jupyter lab" in readme
    assert len(result.written) == len(LESSONS) + len(EXERCISES) + 1 and not result.kept


def test_lesson_links_resolve_inside_the_copied_course(tmp_path):
    """Lessons link ../README.md#the-course and ../exercises/...: both must exist in the copy."""
    copy_course(tmp_path)
    readme = (tmp_path / "README.md").read_text()
    assert "## The course" in readme
    for nb in (tmp_path / "notebooks").glob("*.ipynb"):
        text = "".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "markdown")
        for target in re.findall(r"\]\((\.\./[^)#\s]+|[0-9][^)#\s/]*\.ipynb)", text):
            if target.startswith("../solutions/"):
                pytest.fail(f"{nb.name} links a solution notebook: {target}")
            assert (nb.parent / target).resolve().exists(), f"{nb.name} links {target}, missing from the course copy"


def test_running_again_without_changes_is_harmless(tmp_path):
    copy_course(tmp_path)
    again = copy_course(tmp_path)
    assert again.written == [] and again.kept == [] and len(again.unchanged) == len(LESSONS) + len(EXERCISES) + 1


def test_an_edited_file_is_never_overwritten(tmp_path):
    copy_course(tmp_path)
    mine = tmp_path / "exercises" / EXERCISES[0]
    mine.write_text(mine.read_text().replace("NotImplementedError", "my answer"))
    edited = mine.read_bytes()
    # An older install left a file the student never touched: simulate it by recording an older version.
    stale = tmp_path / "notebooks" / LESSONS[0]
    stale.write_text("{}")
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest[f"notebooks/{LESSONS[0]}"] = __import__("hashlib").sha256(b"{}").hexdigest()
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))

    with pytest.raises(CourseConflict) as refused:
        copy_course(tmp_path)
    message = str(refused.value)
    assert f"exercises/{EXERCISES[0]}" in message and "--update" in message and "Nothing was written" in message
    assert f"notebooks/{LESSONS[0]}" in message  # named too: it differs, though the student did not edit it
    assert stale.read_text() == "{}" and mine.read_bytes() == edited

    result = copy_course(tmp_path, update=True)
    assert result.kept == [f"exercises/{EXERCISES[0]}"] and mine.read_bytes() == edited
    assert f"notebooks/{LESSONS[0]}" in result.written
    assert stale.read_bytes() == (ROOT / "notebooks" / LESSONS[0]).read_bytes()


def test_a_file_in_the_way_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "course"
    blocker.write_text("not a folder")
    assert main(["course", str(blocker)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_cli_course_and_version(tmp_path, capsys):
    assert main(["course", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "jupyter lab" in out and (tmp_path / "c" / "notebooks" / "00_start_here.ipynb").exists()
    assert main(["course", str(tmp_path / "c")]) == 0  # nothing changed: fine
    assert "0 file(s) written" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    from raftedu import __version__

    assert capsys.readouterr().out.strip() == f"raftedu {__version__}"


def test_course_files_are_what_the_wheel_packs():
    names = [name for name, _ in course_files()]
    assert names == [f"notebooks/{n}" for n in LESSONS] + [f"exercises/{n}" for n in EXERCISES] + ["README.md"]


def test_runtime_dependencies_are_lean():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {re.split(r"[<>=\[ ]", d)[0].lower() for d in meta["dependencies"]}
    assert runtime == {"ipywidgets", "plotly", "anywidget", "pandas", "tqdm"}
    extras = meta["optional-dependencies"]
    assert {"jupyterlab", "ipykernel"} <= {re.split(r"[<>=]", d)[0] for d in extras["lab"]}
    assert {"nbclient", "nbformat", "ipykernel"} <= {re.split(r"[<>=]", d)[0] for d in extras["grader"]}


def test_min_versions_file_pins_every_lower_bound():
    """tests/min-versions.txt (what `make test-min` installs) pins exactly the declared lower bounds."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {}
    for dep in meta["dependencies"] + meta["optional-dependencies"]["grader"]:
        name, low = re.fullmatch(r"([a-z0-9_-]+)>=([0-9.]+)", dep).groups()
        declared[name] = low
    pinned = dict(line.split("==") for line in (ROOT / "tests" / "min-versions.txt").read_text().split()
                  if "==" in line and not line.startswith("#"))
    assert {k: pinned.get(k) for k in declared} == declared


def test_pypi_readme_has_no_relative_links_and_the_quick_start():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    text = (ROOT / meta["readme"]).read_text()
    for target in re.findall(r"\]\(([^)]+)\)", text):
        assert re.match(r"https?://", target), f"{meta['readme']} has a relative link {target!r}: it breaks on PyPI"
    assert 'pip install "raftedu[lab]"' in text and "raftedu course && jupyter lab raft-course" in text


def test_sweep_module_runs_without_runtime_warning():
    r = subprocess.run([sys.executable, "-W", "error", "-m", "raftedu.sweep", "--help"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_wheel_in_a_clean_venv_gives_the_course(tmp_path):
    """pip install raftedu (no JupyterLab), raftedu course X, then raftedu[lab] and jupyter lab X serves lesson 00."""
    # Build from a copy of the tracked files: a stale build/ folder in the checkout must not leak into the wheel.
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(source), "-w", str(wheels)],
                   check=True, capture_output=True)
    wheel = next(wheels.glob("raftedu-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py, bindir = venv / "bin" / "python", venv / "bin"
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True)
    has_lab = subprocess.run([str(py), "-c", "import importlib.util as u; print(bool(u.find_spec('jupyterlab')))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert has_lab == "False", "a plain `pip install raftedu` installed JupyterLab"
    course = tmp_path / "X"
    r = subprocess.run([str(bindir / "raftedu"), "course", str(course)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (course / "notebooks").glob("*.ipynb")) == LESSONS
    assert sorted(p.name for p in (course / "exercises").glob("*.ipynb")) == EXERCISES
    assert not (course / "solutions").exists()

    subprocess.run([*pip, f"{wheel}[lab]"], check=True, capture_output=True)
    port, token = _free_port(), "raftedu-test"
    server = subprocess.Popen(
        [str(bindir / "jupyter"), "lab", "--no-browser", "--allow-root", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--LabApp.news_url=", str(course)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path,
        env={**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
             "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws")},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("jupyter lab from the wheel did not start")
                time.sleep(0.5)
        with urllib.request.urlopen(f"{base}/api/contents/notebooks/00_start_here.ipynb?token={token}", timeout=10) as r:
            model = json.load(r)
        assert model["type"] == "notebook" and "Start here" in json.dumps(model["content"])
        with urllib.request.urlopen(f"{base}/lab/tree/notebooks/00_start_here.ipynb?token={token}", timeout=10) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
