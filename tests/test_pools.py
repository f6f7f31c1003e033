"""Where worker processes run: the browser (none), a kernel on Python 3.12+ (forkserver), elsewhere (the default)."""

from __future__ import annotations

import os
import sys
import types

import pytest

from raftedu import RaftNode, experiments, pools, sweep
from raftedu.grading import check


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "emscripten")


@pytest.fixture
def kernel_312(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_kernel = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: fake_kernel))
    monkeypatch.setattr(sys, "version_info", (3, 12, 0, "final", 0))


def test_outside_a_kernel_python_chooses() -> None:
    assert pools.start_method(RaftNode) == ("default", "")


def test_in_the_browser_no_processes(browser: None) -> None:
    method, note = pools.start_method(RaftNode)
    assert method is None and "browser" in note and "one after another" in note
    pool, again = pools.process_pool(2)
    assert pool is None and again == note


def test_in_a_kernel_on_312_workers_use_forkserver(kernel_312: None) -> None:
    method, note = pools.start_method(RaftNode, (1, 2))
    assert method == "forkserver" and "3.12" in note


def test_in_a_kernel_on_312_a_class_of_the_notebook_runs_here_and_the_note_says_how_to_get_workers(kernel_312: None) -> None:
    notebook_class = type("MyNode", (RaftNode,), {"__module__": "__main__"})
    method, note = pools.start_method([("cell", notebook_class)])
    assert method is None and "MyNode is defined in this notebook" in note and ".py file" in note


def test_browser_fallback_gives_the_same_rows_as_workers(browser: None, capsys: pytest.CaptureFixture[str]) -> None:
    serial = experiments.crash_trials([3], trials=4, workers=2, progress=True)
    assert "no worker processes in the browser" in "".join(capsys.readouterr())
    sys.platform = "linux"  # the fixture restores it
    pooled = experiments.crash_trials([3], trials=4, workers=2, progress=False)
    assert serial.equals(pooled)


def test_browser_sweep_runs_serially(browser: None) -> None:
    results = sweep.sweep([3], range(2), workers=2, progress=False)
    assert [(r.seed, r.violation, r.live) for r in results] == [(0, None, True), (1, None, True)]


def test_forkserver_pool_really_runs_a_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    """The start method chosen in kernels works for the package's own classes (Python 3.11 has forkserver too)."""
    monkeypatch.setattr(pools, "start_method", lambda *payload: ("forkserver", "kernel"))
    pool, note = pools.process_pool(2, RaftNode)
    assert pool is not None and note == "kernel"
    with pool:
        assert pool.submit(os.getppid).result() != os.getpid()  # started by the fork server, not forked from here
        results = list(pool.map(sweep._run_seed_of, [(3, 0, RaftNode), (3, 1, RaftNode)]))
    assert [(r.violation, r.live) for r in results] == [(None, True), (None, True)]
    assert results == sweep.sweep_pairs([(3, 0), (3, 1)], RaftNode)


def test_checks_without_os_timers_say_so(browser: None) -> None:
    report = check("01", namespace={}, quiet=True)
    assert report.untimed and "no time limit here" in report.table()
