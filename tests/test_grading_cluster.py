"""Grading on Dask: before anything is graded, every worker is asked whether it can (kernel-less: a stand-in client).

The real cluster (a local Dask cluster grading three submissions to the same CSV as threads) is in
tests/test_grading_trust.py's ``test_the_csv_is_the_same_on_any_executor``, beside the other executors.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import raftedu.__main__ as cli
from raftedu.grading.cluster import check_workers, dask_client_of, judge_facts, worker_facts

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "submissions_02"


class StandIn:
    """A Dask client with two workers: each runs the check here for real (after ``before(address)``, which may
    hide something from it and returns how to undo that), or answers ``answer(address)`` instead."""

    def __init__(self, answer: Any = None, workers: tuple[str, ...] = ("tcp://w1:1", "tcp://w2:2"),
                 before: Any = None) -> None:
        self.answer, self.workers, self.before, self.closed = answer, workers, before, False

    def run(self, function: Any, *args: Any) -> dict[str, Any]:
        if isinstance(self.answer, BaseException):
            raise self.answer
        out = {}
        for address in self.workers:
            if self.answer is not None:
                out[address] = self.answer(address)
                continue
            undo = self.before(address) if self.before else None
            out[address] = function(*args)
            if undo:
                undo()
        return out

    def gather(self, futures: Any) -> Any:
        raise AssertionError("nothing is graded when a worker cannot grade")

    def get_executor(self, **kwargs: Any) -> Any:
        raise AssertionError("nothing is graded when a worker cannot grade")

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def subs(tmp_path: Path) -> Path:
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(FIXTURES / "starter_untouched.ipynb", folder / "alice.ipynb")
    shutil.copytree(FIXTURES / "folder_student", folder / "bob")
    (tmp_path / "secret").write_text("test-secret-for-hidden-cases\n")
    return folder


def _grade(subs: Path, client: StandIn, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           *more: str) -> str:
    """`raftedu grade --scheduler` on the stand-in: it must refuse with one line, write no grade, close the client."""
    monkeypatch.setattr(cli, "_dask_client", lambda address: client)
    out = subs.parent / "grades" / "g.csv"
    code = cli.main(["grade", str(subs), "-e", "02", "-o", str(out), "--no-progress", "--scheduler", "tcp://x:8786",
                     "--secret-file", str(subs.parent / "secret"), *more])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and not out.with_suffix(".jsonl").exists() and client.closed
    return err


def test_a_worker_that_cannot_see_the_submissions_stops_grading_before_it_starts(subs: Path, monkeypatch, capsys):
    hidden = subs.parent / "elsewhere"

    def hide(address: str) -> Any:  # worker w2 does not see the folder (no shared file system)
        if address != "tcp://w2:2":
            return None
        subs.rename(hidden)
        return lambda: hidden.rename(subs)

    err = _grade(subs, StandIn(before=hide), monkeypatch, capsys)
    assert "Dask worker tcp://w2:2 cannot read 2 submission path(s), e.g. " + str(subs / "alice.ipynb") in err
    assert "same path as this machine (a shared file system)" in err


@pytest.fixture(scope="module")
def facts() -> dict[str, Any]:
    """What a worker on this machine answers (the real check, run once)."""
    found = worker_facts([str(FIXTURES)], "02_request_vote")
    assert found["unreadable"] == [] and found["judge"] == judge_facts("02_request_vote")
    return found


@pytest.mark.parametrize("change, said", [
    ({"version": "0.0.1"}, "Dask worker tcp://w1:1 has raftedu 0.0.1, this machine "),
    ({"grader": "0" * 16}, "its grader's code differs from this machine's"),
    ({"released": None}, "has no released exercise notebook"),
    ({"bubblewrap": False}, "cannot sandbox with bubblewrap (apt-get install bubblewrap there), and --sandbox bubblewrap"),
])
def test_a_worker_unlike_this_machine_is_named_with_what_it_lacks(subs: Path, facts, monkeypatch, capsys, change,
                                                                   said):
    changed = dict(facts, judge=dict(facts["judge"], **change))
    client = StandIn(lambda address: changed if address == "tcp://w1:1" else facts)
    assert said in _grade(subs, client, monkeypatch, capsys, "--sandbox", "bubblewrap")


def test_no_worker_no_raftedu_and_no_judge_are_said_in_one_line(subs: Path, facts, monkeypatch, capsys):
    err = _grade(subs, StandIn(workers=()), monkeypatch, capsys)
    assert "no Dask worker is connected to the scheduler: start them first" in err
    err = _grade(subs, StandIn(ModuleNotFoundError("No module named 'raftedu'")), monkeypatch, capsys)
    assert "could not run raftedu's check (ModuleNotFoundError: No module named 'raftedu')" in err
    broken = StandIn(lambda address: dict(facts, judge=None, problem="ModuleNotFoundError: No module named 'raftedu'"))
    err = _grade(subs, broken, monkeypatch, capsys)
    assert "cannot start raftedu's judge process (ModuleNotFoundError: No module named 'raftedu')" in err


def test_the_mode_is_the_strongest_every_worker_has(facts) -> None:
    weak = dict(facts, judge=dict(facts["judge"], bubblewrap=False))
    both = StandIn(lambda address: weak if address == "tcp://w2:2" else facts)
    assert check_workers(both, [], "02_request_vote") == "unsandboxed"
    assert check_workers(StandIn(lambda address: facts), [], "02_request_vote") == \
        ("bubblewrap" if facts["judge"]["bubblewrap"] else "unsandboxed")
    with pytest.raises(ValueError, match="unknown sandbox mode 'docker'"):
        check_workers(both, [], "02_request_vote", "docker")
    assert dask_client_of(both) is both and dask_client_of(type("Executor", (), {"_client": both})()) is both
    assert dask_client_of(object()) is None


def test_jobs_are_refused_beside_a_scheduler(subs: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli, "_dask_client", lambda address: pytest.fail("no client is made"))
    assert cli.main(["grade", str(subs), "-e", "02", "--scheduler", "tcp://x:8786", "--jobs", "2"]) == 2
    assert "on a Dask cluster each worker's threads do (dask worker ADDRESS --nthreads N)" in capsys.readouterr().err


def test_without_dask_the_scheduler_option_says_what_to_install() -> None:
    from raftedu.__main__ import _missing

    said = '--scheduler needs Dask: pip install "raftedu[dask]"'  # _dask_client's own message: kept as it is
    assert _missing("grade", ModuleNotFoundError(said)) == said == _missing("experiment", ModuleNotFoundError(said))
