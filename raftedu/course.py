"""``raftedu course``: copy the lessons and the student exercises into a folder a student owns.

A pip install puts the package in site-packages, where nobody should edit a
notebook. :func:`copy_course` copies what a student works on -- the lessons
(``notebooks/``), the exercises as released to students (``exercises/``,
never ``solutions/``) and a short README -- into a folder of their own, and
records a fingerprint of every file it wrote in ``.raftedu-course.json``.

Run again, it never overwrites work: a file the student changed since it was
copied is kept (and named); ``update=True`` brings every untouched file up
to the installed version and adds new ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

__all__ = ["CourseCopy", "CourseConflict", "copy_course", "course_files", "course_root", "MANIFEST",
           "needs_real_programs", "course_readme"]

MANIFEST = ".raftedu-course.json"
"""File in the course folder recording the fingerprint of every file copied there."""

_PARTS = ("notebooks", "exercises")
_REAL_PROGRAMS = ("raftedu.etcd", "EtcdCluster")


class CourseConflict(ValueError):
    """The folder already holds course files; nothing was written."""


@dataclass
class CourseCopy:
    """What :func:`copy_course` did, file by file (paths relative to the course folder)."""

    folder: Path
    written: list[str] = field(default_factory=list)
    """Files copied (new, or untouched and brought up to date)."""
    unchanged: list[str] = field(default_factory=list)
    """Files already identical to the installed version."""
    kept: list[str] = field(default_factory=list)
    """Files the student edited: left as they are."""

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [f"course in {self.folder}: {len(self.written)} file(s) written, {len(self.unchanged)} already up to date"]
        if self.kept:
            lines.append("kept your edited file(s): " + ", ".join(self.kept))
        return "\n".join(lines)


def course_root() -> Traversable:
    """Where the installed course lives: package data in a wheel, the repository in a source checkout."""
    packaged = resources.files("raftedu") / "_course"
    if packaged.is_dir() and (packaged / "notebooks").is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "notebooks").is_dir() and (checkout / "exercises").is_dir():
        return checkout  # an editable install or a clone: the repository's own folders
    raise FileNotFoundError("this raftedu install contains no lessons; reinstall it with `pip install raftedu`")


def course_files() -> Iterator[tuple[str, bytes]]:
    """Every file of the student course as (relative path, content): lessons, exercises, README."""
    root = course_root()
    for part in _PARTS:
        for item in sorted((root / part).iterdir(), key=lambda t: t.name):
            if item.name.endswith(".ipynb"):
                yield f"{part}/{item.name}", item.read_bytes()
    yield "README.md", course_readme(root).encode()


def _title(notebook: bytes) -> str:
    """The first ``# heading`` of a notebook (its title), or '' when it has none."""
    for cell in json.loads(notebook).get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", [])).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def course_readme(root: Traversable) -> str:
    """The course folder's README: how to start, and the lessons and exercises with their titles.

    Its course section sits between the same two markers as in the repository's README (the site includes it).
    """
    from ._version import __version__

    def rows(part: str) -> list[str]:
        items = sorted((t for t in (root / part).iterdir() if t.name.endswith(".ipynb")), key=lambda t: t.name)
        return [f"- [{_title(t.read_bytes()) or t.name}]({part}/{t.name})" for t in items]

    return "\n".join([
        "# The raftedu course",
        "",
        f"Lessons and exercises of raftedu {__version__}: learn the Raft consensus algorithm (the algorithm inside etcd)",
        "by watching a simulated cluster and breaking it.",
        "",
        "Start with `jupyter lab` in this folder and open `notebooks/00_start_here.ipynb`. Your edits stay yours:",
        "`raftedu course --update` brings untouched files up to a newer raftedu and keeps the ones you changed.",
        "",
        "Keep your notebooks small: each live figure's saved widget state holds plotly's whole bundle (megabytes), so",
        "leave JupyterLab's Settings > Save Widget State Automatically off; `raftedu shrink NOTEBOOK.ipynb` removes",
        "widget state a notebook already saved.",
        "",
        "## The course",
        "",
        "<!-- the course: from here to its end the site's front page includes this text -->",
        "Lessons:",
        "",
        *rows("notebooks"),
        "",
        "Exercises (check your work in the notebook with the check cell at its end, or `raftedu check FILE`):",
        "",
        *rows("exercises"),
        "<!-- the course ends -->",
        "",
    ])


def needs_real_programs(notebook: dict) -> bool:
    """Whether a notebook starts programs of this machine (etcd) that a browser cannot run."""
    return any(any(word in "".join(c.get("source", "")) for word in _REAL_PROGRAMS)
               for c in notebook.get("cells", []) if c.get("cell_type") == "code")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def copy_course(folder: str | Path = "raft-course", *, update: bool = False) -> CourseCopy:
    """Copy the lessons, the student exercises and a README into ``folder``; never overwrite a student's edits.

    A fresh (or empty) folder gets everything. A folder holding course files
    that differ from the installed ones is refused with
    :class:`CourseConflict` naming them (nothing is written), unless
    ``update`` is true: then files the student has not changed since they
    were copied are replaced by the installed version, new files are added,
    and edited files are kept and listed in :attr:`CourseCopy.kept`.
    """
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"{target} exists and is not a folder; choose another place for the course")
    manifest_path = target / MANIFEST
    try:
        recorded: dict[str, str] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    except (OSError, ValueError):
        recorded = {}
    files = list(course_files())
    differ = [name for name, data in files
              if (target / name).exists() and _digest((target / name).read_bytes()) != _digest(data)]
    if differ and not update:
        edited = [n for n in differ if _digest((target / n).read_bytes()) != recorded.get(n)]
        detail = f" (you edited {', '.join(edited)})" if edited else ""
        raise CourseConflict(
            f"{target} already holds {len(differ)} course file(s) that differ from this raftedu's: "
            f"{', '.join(differ)}{detail}. "
            f"Nothing was written. Run `raftedu course {target} --update` to bring the files you did not edit up to "
            "date and keep the ones you did, or choose another folder."
        )
    result = CourseCopy(target)
    for name, data in files:
        path = target / name
        new = _digest(data)
        if path.exists():
            current = _digest(path.read_bytes())
            if current == new:
                result.unchanged.append(name)
                recorded[name] = new
                continue
            if current != recorded.get(name):  # the student changed it (or it was never ours)
                result.kept.append(name)
                continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        recorded[name] = new
        result.written.append(name)
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    return result
