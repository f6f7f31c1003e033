"""`raftedu experiment`: an even/odd experiment from the command line, here or on a Dask cluster, same CSV."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from raftedu.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
CRASH = ["experiment", "crash", "--sizes", "1-4", "--trials", "3", "--no-progress"]


def test_an_experiment_writes_its_table_and_refuses_options_of_another(tmp_path, capsys):
    out = tmp_path / "crash.csv"
    assert main([*CRASH, "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("n,") and len(lines) == 1 + 3 * sum(n + 1 for n in range(1, 5))
    assert "run here (1 worker(s))" in capsys.readouterr().out
    assert main(["experiment", "crash", "--p", "0.1", "--out", str(out)]) == 2
    assert "--p does not apply to the crash experiment; it takes --trials, --victims" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["experiment", "crash", "--sizes", "one", "--out", str(out)])
    assert "sizes are a range like 1-10" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_documented_dask_commands_give_the_same_csv_as_a_local_run(tmp_path):
    """`dask scheduler`, `dask worker ADDRESS`, then `raftedu experiment ... --scheduler ADDRESS`, all on the loopback."""
    pytest.importorskip("distributed", reason='Dask is not installed (pip install "raftedu[dask]")')
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    assert dask, "the dask command comes with distributed"
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    started = [
        subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env,
                         cwd=tmp_path),
        subprocess.Popen([dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env,
                         cwd=tmp_path),
    ]
    try:
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=60)
        remote = tmp_path / "remote.csv"
        r = subprocess.run([sys.executable, "-m", "raftedu", *CRASH, "--out", str(remote), "--scheduler", address],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
        assert r.returncode == 0, r.stderr
        assert f"on the Dask cluster at {address}" in r.stdout
    finally:
        for process in reversed(started):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    local = tmp_path / "local.csv"
    assert main([*CRASH, "--out", str(local)]) == 0
    assert remote.read_bytes() == local.read_bytes()
    # Nobody at the address: a clear error, no traceback.
    r = subprocess.run([sys.executable, "-m", "raftedu", *CRASH, "--out", str(tmp_path / "x.csv"), "--scheduler",
                        address], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 2 and f"no Dask scheduler answered at {address}" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
