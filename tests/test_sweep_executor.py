"""The sweep on an executor: concurrent.futures or a Dask cluster (``python -m raftedu.sweep --scheduler``) gives the
results it gives in this process."""

from __future__ import annotations

import concurrent.futures

import pytest

from raftedu import sweep as sweep_module
from raftedu.pools import map_on
from raftedu.sweep import main, sweep, sweep_pairs


def test_the_sweep_on_an_executor_gives_the_same_results():
    alone = sweep([3], range(4), progress=False)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert sweep([3], range(4), progress=False, executor=pool) == alone
        assert sweep_pairs([(3, s) for s in range(4)], executor=pool) == alone


def test_the_sweep_on_a_local_dask_cluster_and_its_command_line_option(capsys):
    distributed = pytest.importorskip("distributed")
    alone = sweep([3], range(3), progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as lc:
        with distributed.Client(lc) as client:
            assert sweep([3], range(3), progress=False, executor=client) == alone
        assert main(["--seeds", "3", "--sizes", "3", "--scheduler", lc.scheduler_address]) == 0
    out = capsys.readouterr().out
    assert f"Dask scheduler {lc.scheduler_address}" in out and "3 runs" in out


def test_a_scheduler_that_does_not_answer_is_a_clear_error(capsys):
    pytest.importorskip("distributed")
    with pytest.raises(SystemExit):  # the same wait as the default 30 s, shorter
        main(["--seeds", "1", "--sizes", "3", "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "2"])
    assert "no Dask scheduler answered there within 2 s" in capsys.readouterr().err


def test_map_on_refuses_what_is_not_an_executor():
    with pytest.raises(TypeError, match="concurrent.futures executor or a Dask"):
        list(map_on(object(), abs, [1]))
    assert list(map_on(None, abs, [-1, 2])) == [1, 2]
    assert sweep_module.map_on is map_on
