"""Grading on a Dask cluster: before any submission is sent, every worker is asked whether it can grade.

:func:`grade` (``raftedu grade --scheduler ADDRESS``) runs each submission on
a Dask worker, where :func:`~raftedu.grading.runner.grade_one` copies the
notebook, starts a trusted judge process and, from it, the sandboxed worker.
So a worker must see the submissions at the paths this machine gives, and
its judge must import the same raftedu (the same grader code, the same
released exercise, whose cells are not reviewed) and have the sandbox mode
asked for. :func:`check_workers` asks every connected worker all of that at
once (:func:`worker_facts`) and refuses with one sentence naming the first
worker and what it lacks: without it, a worker that cannot see a submission
would give that student 0 (``grader_error``) and journal it.

Workers that join after the check are not asked: start the workers first.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from .core import SECRET_ENV, SECRET_FILE_ENV

__all__ = ["DaskClient", "check_workers", "dask_client_of", "judge_facts", "worker_facts"]


class DaskClient(Protocol):
    """What the grader uses of a Dask ``distributed.Client``."""

    def run(self, function: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Run ``function(*args)`` on every worker; ``{worker address: result}``."""

    def get_executor(self, **kwargs: Any) -> Any:
        """A ``concurrent.futures.Executor`` submitting to the cluster."""


def dask_client_of(executor: object) -> DaskClient | None:
    """The Dask client behind ``executor``: the client itself, or the one inside Dask's ``client.get_executor()``;
    None for any other executor."""
    for candidate in (executor, getattr(executor, "_client", None)):  # distributed.cfexecutor.ClientExecutor._client
        if all(callable(getattr(candidate, name, None)) for name in ("run", "gather", "get_executor")):
            return candidate  # type: ignore[return-value]  # duck-typed: distributed is an optional extra
    return None


def _released_path(notebook: str) -> Path | None:
    from ..course import course_root

    try:
        return Path(str(course_root() / "exercises" / f"{notebook}.ipynb"))
    except FileNotFoundError:
        return None


def _digest(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def judge_facts(notebook: str) -> dict[str, Any]:
    """What a judge process here grades with: raftedu's version, the grader code's hash, the released exercise
    notebook's hash (None when it is missing), and whether bubblewrap works."""
    from .._version import __version__
    from .runner import _grader_source_hash
    from .sandbox import _bwrap

    return {"version": __version__, "grader": _grader_source_hash(), "released": _digest(_released_path(notebook)),
            "bubblewrap": _bwrap() is not None}


_FACTS_COMMAND = ("import json, sys; from raftedu.grading.cluster import judge_facts; "
                  "print(json.dumps(judge_facts(sys.argv[1])))")


def worker_facts(paths: Sequence[str], notebook: str) -> dict[str, Any]:
    """Run on each Dask worker: which of ``paths`` (notebooks, student folders) it cannot read, and what a judge
    process started there the way :func:`~raftedu.grading.runner.grade_one` starts one reports
    (:func:`judge_facts`), or why none started."""
    unreadable = []
    for name in paths:
        path = Path(name)
        mode = os.R_OK | (os.X_OK if path.is_dir() else 0)
        if not path.exists() or not os.access(path, mode):
            unreadable.append(name)
    env = {k: v for k, v in os.environ.items() if k not in (SECRET_ENV, SECRET_FILE_ENV)}
    with tempfile.TemporaryDirectory(prefix="raftedu-check-") as tmp:
        try:
            run = subprocess.run([sys.executable, "-c", _FACTS_COMMAND, notebook], capture_output=True, text=True,
                                 env=env, cwd=tmp, timeout=120)
        except (OSError, subprocess.SubprocessError) as e:
            return {"unreadable": unreadable, "judge": None, "problem": f"{type(e).__name__}: {e}"}
    if run.returncode != 0:
        tail = (run.stderr.strip().splitlines() or [f"exit code {run.returncode}"])[-1]
        return {"unreadable": unreadable, "judge": None, "problem": tail[:300]}
    return {"unreadable": unreadable, "judge": json.loads(run.stdout.strip().splitlines()[-1]), "problem": ""}


def _problem(address: str, facts: dict[str, Any], here: dict[str, Any], sandbox: str | None) -> str:
    """What worker ``address`` lacks to grade like this machine would (empty when nothing)."""
    unreadable = facts["unreadable"]
    if unreadable:
        return (f"Dask worker {address} cannot read {len(unreadable)} submission path(s), e.g. {unreadable[0]}: every "
                "worker must see the submissions at the same path as this machine (a shared file system)")
    judge = facts["judge"]
    if judge is None:
        return (f"Dask worker {address} cannot start raftedu's judge process ({facts['problem']}): every worker "
                f"needs raftedu {here['version']} installed for the Python it runs")
    if judge["version"] != here["version"]:
        return (f"Dask worker {address} has raftedu {judge['version']}, this machine {here['version']}: install the "
                "same raftedu on every worker")
    if judge["grader"] != here["grader"]:
        return (f"Dask worker {address} has raftedu {judge['version']} but its grader's code differs from this "
                "machine's (a modified copy?): install the same raftedu on every worker")
    if judge["released"] is None:
        return f"Dask worker {address} has no released exercise notebook (its raftedu holds no course): reinstall it"
    if judge["released"] != here["released"]:
        return f"Dask worker {address}'s released exercise notebook differs from this machine's: install the same raftedu"
    if sandbox == "bubblewrap" and not judge["bubblewrap"]:
        return (f"Dask worker {address} cannot sandbox with bubblewrap (apt-get install bubblewrap there), and "
                "--sandbox bubblewrap was asked for")
    return ""


def check_workers(client: DaskClient, paths: Sequence[str | os.PathLike[str]], notebook: str,
                  sandbox: str | None = None) -> str:
    """Ask every worker of ``client`` whether it can grade ``paths`` (the submissions' notebooks or folders) for
    the exercise whose released notebook is ``notebook``, in the ``sandbox`` mode asked for (None: the strongest
    every worker has). Return the mode to grade in; raise :class:`RuntimeError` with one sentence naming the first
    worker that cannot (or saying none is connected)."""
    from .sandbox import MODES

    if sandbox is not None and sandbox not in MODES:
        raise ValueError(f"unknown sandbox mode {sandbox!r}; choose one of: {', '.join(MODES)}")
    wanted = [str(p) for p in paths]
    try:
        answers = client.run(worker_facts, wanted, notebook)
    except Exception as e:  # the workers could not even unpickle raftedu's check: no raftedu there
        raise RuntimeError(f"the Dask workers could not run raftedu's check ({type(e).__name__}: {e}): every worker "
                           "needs the same raftedu installed") from None
    if not answers:
        raise RuntimeError("no Dask worker is connected to the scheduler: start them first (`dask worker ADDRESS`)")
    here = judge_facts(notebook)
    for address in sorted(answers):
        problem = _problem(address, answers[address], here, sandbox)
        if problem:
            raise RuntimeError(problem)
    if sandbox is not None:
        return sandbox
    return "bubblewrap" if all(a["judge"]["bubblewrap"] for a in answers.values()) else "unsandboxed"
