"""The course from pip: `raftedu course`, lean dependencies, and a wheel that carries the lessons.

The quick tests run `copy_course` and the command line from this checkout.
The slow one builds a wheel from the checkout, installs it in a clean venv
the way a student would (`pip install raftedu`, then `raftedu[lab]`) and
checks that the course can be copied out and served by JupyterLab.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.request
import zipfile
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


def tracked_copy(tmp_path: Path) -> Path:
    """A copy of the files git tracks: a stale build/ folder in the checkout must not leak into an archive."""
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    return source


def archive_members(path: Path) -> dict[str, bytes]:
    """Every file of a wheel or an sdist, by its path inside the archive (an sdist's top folder left out)."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as z:
            return {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
    with tarfile.open(path) as t:
        return {m.name.split("/", 1)[1]: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, sdist) of the tracked files, built once per test session (the wheel from the sdist, as PyPI's users
    get it), even across pytest-xdist workers: the first builds under a lock on a folder they share."""
    root = tmp_path_factory.getbasetemp()
    shared = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "raftedu-archives"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        out = shared / "dist"
        if not out.exists():
            subprocess.run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(shared / "dist.tmp"),
                            str(tracked_copy(shared))], check=True, capture_output=True)
            (shared / "dist.tmp").rename(out)
    (wheel,), (sdist,) = out.glob("*.whl"), out.glob("*.tar.gz")
    return wheel, sdist


@pytest.mark.slow
def test_neither_archive_carries_solutions_or_hidden_tests(archives):
    """The wheel and the sdist: the course as students get it, the site's sources; no solutions/, no tests/."""
    wheel, sdist = archives
    solutions = {p.name for p in (ROOT / "solutions").iterdir()}
    for archive in (wheel, sdist):
        members = archive_members(archive)
        course = "raftedu/_course/" if archive is wheel else ""
        assert not [n for n in members if n.startswith(("solutions/", "tests/")) or "/solutions/" in n], archive.name
        notebooks = {n: data for n, data in members.items() if n.endswith(".ipynb")}
        assert sorted(notebooks) == sorted([f"{course}notebooks/{n}" for n in LESSONS]
                                           + [f"{course}exercises/{n}" for n in EXERCISES]), archive.name
        for name, data in notebooks.items():  # the released student copies, byte for byte: no solution, no hidden test
            assert data == (ROOT / name.removeprefix(course)).read_bytes(), name
            assert b"BEGIN HIDDEN TESTS" not in data and b"BEGIN SOLUTION" not in data, name
        for name in members:
            assert Path(name).name not in solutions - {p.name for p in (ROOT / "exercises").iterdir()}, name
        assert f"{course}docs/recorded/13_real_etcd.json" in members and f"{course}docs/conf.py" in members


@pytest.mark.slow
def test_wheel_in_a_clean_venv_gives_the_course(tmp_path, archives):
    """pip install raftedu (no JupyterLab): raftedu course X works, check and shrink work, and each command whose extra
    is missing says which to install, without a traceback; then raftedu[lab] and jupyter lab X serves lesson 00;
    then raftedu[lite] and raftedu lite builds a site carrying this very raftedu, with no checkout and no --wheel;
    then raftedu[docs]: raftedu release, and raftedu site from the course and docs the wheel carries."""
    wheel, _ = archives
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py, bindir = venv / "bin" / "python", venv / "bin"
    # This pip installs into the venv (--python): installing pip itself into it took 25 s here (load 7).
    # --no-compile: what is installed is the same; compiling every dependency's .pyc is minutes of CI for nothing
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--disable-pip-version-check",
           "--no-compile"]
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # PYTHONPATH=checkout would import raftedu
    # from the checkout, not from the wheel, in the venv's commands; and pip, seeing the checkout's raftedu.egg-info
    # (left by an editable install) through it, would take raftedu for installed and install only its dependencies
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, env=clean)
    has_lab = subprocess.run([str(py), "-c", "import importlib.util as u; print(bool(u.find_spec('jupyterlab')))"],
                             capture_output=True, text=True, check=True, env=clean).stdout.strip()
    assert has_lab == "False", "a plain `pip install raftedu` installed JupyterLab"
    course = tmp_path / "X"
    r = subprocess.run([str(bindir / "raftedu"), "course", str(course)], capture_output=True, text=True, cwd=tmp_path,
                       env=clean)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (course / "notebooks").glob("*.ipynb")) == LESSONS
    assert sorted(p.name for p in (course / "exercises").glob("*.ipynb")) == EXERCISES
    assert not (course / "solutions").exists()

    def raftedu(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(bindir / "raftedu"), *args], capture_output=True, text=True, cwd=tmp_path, env=clean)

    for command, extra in (["site", "docs"], ["release", "grader"], ["lite", "lite"]):
        args = [command, str(tmp_path / f"out-{command}")] if command != "release" else [
            command, "--solutions", str(ROOT / "solutions"), "--exercises", str(tmp_path / "ex")]
        r = raftedu(*args)
        assert r.returncode != 0 and f'pip install "raftedu[{extra}]"' in r.stderr, (command, r.stderr)
        assert "Traceback" not in r.stderr + r.stdout, (command, r.stderr)
    r = raftedu("check", str(course / "exercises" / "01_quorums.ipynb"))  # the student's checks need no extra
    assert r.returncode == 1 and "FAIL" in r.stdout and "Traceback" not in r.stderr, r.stdout + r.stderr
    grown = course / "notebooks" / LESSONS[0]
    nb = json.loads(grown.read_text())
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"m": {"x": "y" * 100_000}}}}
    grown.write_text(json.dumps(nb))
    r = raftedu("shrink", str(grown))
    assert r.returncode == 0 and "MB ->" in r.stdout and "widgets" not in json.loads(grown.read_text())["metadata"]

    subprocess.run([*pip, f"{wheel}[lab]"], check=True, capture_output=True, env=clean)
    port, token = _free_port(), "raftedu-test"
    server = subprocess.Popen(
        [str(bindir / "jupyter"), "lab", "--no-browser", "--allow-root", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", "--LabApp.news_url=", str(course)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path,
        env={**clean, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
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

    subprocess.run([*pip, f"{wheel}[lite]"], check=True, capture_output=True, env=clean)
    # The Pyodide kernel's JupyterLab extension came along; it cannot load in JupyterLab: raftedu's page config disables
    # it there (no console error on every page load), and the JupyterLite site below still carries it.
    listed = subprocess.run([str(bindir / "jupyter"), "labextension", "list"], capture_output=True, text=True,
                            env={**clean, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "NO_COLOR": "1"})
    line = next(x for x in (listed.stdout + listed.stderr).splitlines() if "@jupyterlite/pyodide-kernel-extension" in x)
    assert "disabled" in line, line
    r = raftedu("lite", str(tmp_path / "lite"))
    assert r.returncode == 0, r.stdout + r.stderr
    config = json.loads((tmp_path / "lite" / "jupyter-lite.json").read_text())["jupyter-config-data"]
    assert "@jupyterlite/pyodide-kernel-extension" in {e["name"] for e in config["federated_extensions"]}
    assert "@jupyterlite/pyodide-kernel-extension" not in json.dumps(config.get("disabledExtensions", []))

    # raftedu[docs] (with the grader's nbformat): release, and the site built from the installed course and docs.
    subprocess.run([*pip, f"{wheel}[docs]"], check=True, capture_output=True, env=clean)
    r = raftedu("release", "--solutions", str(ROOT / "solutions"), "--exercises", str(tmp_path / "released"))
    assert r.returncode == 0 and len(list((tmp_path / "released").glob("*.ipynb"))) == len(EXERCISES), r.stderr
    r = raftedu("site", str(tmp_path / "site"), "--no-execute")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "site" / "api.html").exists() and (tmp_path / "site" / "notebooks" / "00_start_here.html").exists()
    (carried,) = (tmp_path / "lite" / "pypi").glob("raftedu-*.whl")
    with zipfile.ZipFile(carried) as z:
        names = set(z.namelist())
        assert {"raftedu/sim.py", "raftedu/_course/notebooks/00_start_here.ipynb"} <= names
        with zipfile.ZipFile(wheel) as original:
            assert z.read("raftedu/sim.py") == original.read("raftedu/sim.py")
            assert {n for n in names if not n.endswith("RECORD")} <= set(original.namelist())


def test_shrink_removes_widget_state_and_widget_outputs_and_keeps_the_rest(tmp_path, capsys):
    path = tmp_path / "lesson.ipynb"
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": "m"}, "text/plain": "FigureWidget()"}
    nb = {"nbformat": 4, "nbformat_minor": 5, "cells": [
        {"cell_type": "code", "id": "a", "metadata": {}, "execution_count": 1, "source": "explorer", "outputs": [
            {"output_type": "display_data", "metadata": {}, "data": view},
            {"output_type": "stream", "name": "stdout", "text": "kept\n"}]},
        {"cell_type": "markdown", "id": "b", "metadata": {}, "source": "# mine"}],
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {"m": {"x": "y" * 200_000}}}}}}
    path.write_text(json.dumps(nb))
    assert main(["shrink", str(path)]) == 0
    assert "0.20 MB -> 0.00 MB" in capsys.readouterr().out
    after = json.loads(path.read_text())
    assert "widgets" not in after["metadata"] and after["cells"][1]["source"] == "# mine"
    assert after["cells"][0]["outputs"] == [nb["cells"][0]["outputs"][1]]
    path.write_text("[1, 2]")
    assert main(["shrink", str(path)]) == 2 and "is not a Jupyter notebook" in capsys.readouterr().err


def test_a_command_whose_extra_is_missing_says_what_to_install(tmp_path, capsys, monkeypatch):
    """In-process; tests/test_packaging.py's clean venv checks the same for real after a plain pip install."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sphinx" else real(name, *a))
    assert main(["site", str(tmp_path / "out"), "--root", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert 'pip install "raftedu[docs]"' in err and "Traceback" not in err
    from raftedu.__main__ import _missing

    assert _missing("release", ModuleNotFoundError("x", name="nbformat")) == (
        'nbformat is not installed; `raftedu release` needs the "grader" extra: pip install "raftedu[grader]"')
    assert "comes with raftedu itself" in _missing("check", ModuleNotFoundError("x", name="IPython"))
