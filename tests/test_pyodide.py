"""The core under Pyodide, the WebAssembly CPython that JupyterLite runs in the browser.

raftedu's core (raft, trace, checks, sim, scenarios) uses the standard library only, so it must run unchanged in
a browser. This runs it under Pyodide in node (the npm package ``pyodide``; `.ci/run` installs it into
``.cache/pyodide``) and requires the very same trace, event for event, as CPython gives for the same seed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import raftedu
from raftedu.scenarios import figure_8
from raftedu.sim import Cluster

ROOT = Path(__file__).resolve().parent.parent
PYODIDE = Path(os.environ.get("RAFTEDU_PYODIDE_DIR", ROOT / ".cache" / "pyodide"))
NODE = shutil.which("node")
MISSING = ("needs node and the npm package pyodide: `npm install --prefix .cache/pyodide pyodide@314` (.ci/run does)"
           if NODE is None or not (PYODIDE / "node_modules" / "pyodide").is_dir() else "")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(MISSING), reason=MISSING)]

RUN = """
import sys
from raftedu.sim import Cluster
from raftedu.scenarios import figure_8
c = Cluster(5, seed=7)
c.run_until(lambda c: c.leader() is not None, within=2_000)
request = c.request("x=1")
c.crash(c.leader())
c.run(3_000)
f8 = figure_8(branch="e")
" ".join([sys.platform, c.trace.digest(), request.status, f8.trace.digest()])
"""


def cpython_run() -> list[str]:
    c = Cluster(5, seed=7)
    c.run_until(lambda c: c.leader() is not None, within=2_000)
    request = c.request("x=1")
    c.crash(c.leader())
    c.run(3_000)
    return [c.trace.digest(), request.status, figure_8(branch="e").trace.digest()]


def test_the_core_gives_the_same_trace_under_pyodide():
    script = ROOT / "tests" / "pyodide" / "run.mjs"
    env = {**os.environ, "NODE_PATH": str(PYODIDE / "node_modules")}
    # node resolves "pyodide" from the script's folder upwards: run a copy placed beside node_modules.
    copy = PYODIDE / "run.mjs"
    copy.write_text(script.read_text())
    r = subprocess.run([NODE, str(copy), str(Path(raftedu.__file__).parent), RUN], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    platform, *rest = r.stdout.split()
    assert platform == "emscripten"
    assert rest == cpython_run()
