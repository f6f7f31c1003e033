"""Hostile submissions against the grading boundary (issue 23): each kind of attack that once forged full marks.

One batch of exercise 06 notebooks, graded with ``raftedu grade --jobs 2`` semantics and an instructor's secret:
two honest classmates (the solution) and one notebook per attack (two attacks that cannot hide each other share one),
each the solution's setup with an attack cell added or the class replaced. What must hold, whatever the attack does inside its sandbox:

* no attack earns full marks: each ends below them, or ``review``/``copied``/``tampered``;
* the honest classmates in the same batch keep their full marks;
* the batch finishes within its limits, and nothing an attack started is still running afterwards;
* the secret appears in no output (CSV, journal, feedback, Gradescope files);
* nothing was written into the grader's Python installation.
"""

from __future__ import annotations

import os
import site
import sysconfig
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from raftedu.grading import Limits, grade
from raftedu.grading.sandbox import mode

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SECRET = "hostile-suite-instructor-secret-" + uuid.uuid4().hex[:12]
MARK = "raftedu-hostile-" + uuid.uuid4().hex[:12]
"""A word every process an attack starts carries in its command line (to find one left running)."""

_EMPTY = ("class MyServer(Server):\n"
          "    def receive(self, msg, now):\n        pass\n"
          "    def on_timer(self, now):\n        self.set_timer(None)\n"
          "    def propose(self, command, now):\n        return None\n")

_DAEMON = ("import glob, os, sys, time\n"
           "for _ in range(600):\n"
           "    for fd in glob.glob('/proc/*/fd/*'):\n"
           "        try:\n"
           "            w = os.open(fd, os.O_WRONLY | os.O_NONBLOCK)\n"
           "            os.write(w, b'garbage' * 100)\n"
           "            os.close(w)\n"
           "        except OSError:\n"
           "            pass\n"
           "    time.sleep(0.1)\n")
# name -> (cell inserted after the setup cell, or None; replacement for the MyServer cell, or None = the solution)
ATTACKS: dict[str, tuple[str | None, str | None]] = {
    # The reference, re-read: raftedu's raft.py from the installed package, compiled under another name.
    "rereads_the_reference": (None, (
        "import raftedu.raft as _r\n"
        "_src = open(_r.__file__).read().replace('class RaftNode(Server)', 'class Ref(Server)')\n"
        "_ns = {'__name__': 'mine'}\n"
        "exec(compile(_src, 'mine.py', 'exec'), _ns)\n"
        "class MyServer(_ns['Ref']):\n    pass\n")),
    # ... or the solutions notebook found somewhere beside the package, or a classmate's notebook.
    "loads_the_solution": (None, (
        "import glob, json, os\n"
        "_found = None\n"
        "for _pattern in ['/work/**/solutions/06_whole_server.ipynb', '/root/**/06_whole_server.ipynb',\n"
        "                 '/tmp/**/*.ipynb', '../**/*.ipynb', '../../**/*.ipynb', '/home/**/*.ipynb']:\n"
        "    for _path in glob.glob(_pattern, recursive=True)[:50]:\n"
        "        try:\n"
        "            _cells = json.load(open(_path))['cells']\n"
        "        except Exception:\n"
        "            continue\n"
        "        for _c in _cells:\n"
        "            _s = ''.join(_c.get('source', ''))\n"
        "            if _s.startswith('class MyServer(Server)') and 'NotImplementedError' not in _s:\n"
        "                _found = _s\n"
        "if _found:\n"
        "    exec(_found)\n"
        "else:\n" + "".join("    " + line + "\n" for line in _EMPTY.splitlines()))),
    # A .pth planted in the grading Python's site-packages (harmless content, found by its name); then the secret
    # read: environment, files beside the CSV, --secret-file; shouted everywhere it could leak. One notebook: neither
    # can hide the other (the planting cannot fail, the reading comes after it; each is checked on its own below).
    "plants_a_pth_and_reads_the_secret": ((
        "import site, sys, sysconfig\n"
        "for _d in set(site.getsitepackages() + [sysconfig.get_paths()['purelib']] + [p for p in sys.path if 'site-packages' in p]):\n"
        "    try:\n"
        f"        open(_d + '/{MARK}.pth', 'w').write('# planted by a hostile test notebook\\n')\n"
        "    except Exception:\n"
        "        pass\n"
        "import glob, os, sys\n"
        "_loot = [f'{k}={v}' for k, v in os.environ.items()]\n"
        "for _p in glob.glob('/*/.raftedu-secret') + glob.glob('/*/*/.raftedu-secret') + glob.glob('/tmp/**/*secret*',\n"
        "                                                                                recursive=True)[:20]:\n"
        "    try:\n"
        "        _loot.append(open(_p).read())\n"
        "    except Exception:\n"
        "        pass\n"
        "print('LOOT', _loot, file=sys.stderr)\n"
        "raise RuntimeError('LOOT ' + ' '.join(_loot))\n"), None),
    # The worker taken over: walk up the frames to the host and answer every call with a forged state.
    "takes_over_the_worker": ((
        "import gc\n"
        "def _forged(req):\n"
        "    return {'out': [], 'ev': [], 'ret': None, 'st': {'t': 9, 'v': None, 'r': 'leader', 'l': None,\n"
        "            'c': 5, 'a': 5, 'd': None}}\n"
        "for _host in [o for o in gc.get_objects() if type(o).__name__ == 'Host' and hasattr(o, 'nodes')]:\n"
        "    _host.new = _host.do = _forged\n"), None),
    # Outliving the grading: a double-forked setsid daemon that ignores SIGTERM and writes into every pipe it sees.
    "leaves_a_daemon": ((
        "import os, signal, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', {_DAEMON!r}, {MARK!r}])\n"
        "    os._exit(0)\n"
        "time.sleep(0.5)\n"), None),
    # A huge answer: a node whose log holds a few million entries.
    "huge_answer": (None, (
        "class MyServer(Server):\n"
        "    def receive(self, msg, now):\n"
        "        self.state.log.extend([Entry(1, 'x' * 20)] * 3_000_000)\n"
        "    def on_timer(self, now):\n"
        "        self.set_timer(None)\n"
        "        self.state.log.extend([Entry(1, 'x' * 20)] * 3_000_000)\n"
        "    def propose(self, command, now):\n        return None\n")),
    # Stall the judge: every step floods the network with messages for the trusted simulator to carry.
    "floods_the_simulator": (None, (
        "class MyServer(Server):\n"
        "    def __init__(self, *a, **k):\n"
        "        super().__init__(*a, **k)\n"
        "        self.set_timer(self.now + 1)\n"
        "    def receive(self, msg, now):\n"
        "        for p in self.peers:\n"
        "            for _ in range(200):\n"
        "                self.send(RequestVote(self.current_term, self.id, p, 0, 0))\n"
        "    def on_timer(self, now):\n"
        "        self.receive(None, now)\n"
        "        self.set_timer(now + 1)\n"
        "    def propose(self, command, now):\n        return None\n")),
}

LIMITS = Limits(cell_timeout=10, check_timeout=15, submission_timeout=240, memory_mb=1024)
"""Short limits (the honest notebook's slowest check took 4.7 s at load 9): the attacks that stall run into them, and
they cost what the limits allow (flooding the simulator: the cell limit, one check limit, then 2 s per further check)."""


def _site_dirs() -> list[Path]:
    dirs = set(site.getsitepackages()) | {sysconfig.get_paths()["purelib"]}
    return [Path(d) for d in dirs if Path(d).is_dir()]


def _left_running() -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if MARK in cmd and "pytest" not in cmd:
                found.append(f"{pid}: {cmd[:120]}")
    return found


def _notebook(folder: Path, name: str, extra: str | None, server: str | None) -> None:
    nb = nbformat.read(ROOT / "solutions" / "06_whole_server.ipynb", as_version=4)
    if server is not None:
        next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "MyServer").source = server
    if extra is not None:
        nb.cells.insert(2, nbformat.v4.new_code_cell(extra))
    nbformat.write(nb, folder / f"{name}.ipynb")


def _grade_the_batch(root: Path) -> tuple[dict, Path, float]:
    subs = root / "submissions"
    subs.mkdir()
    for honest in ("honest_alice", "honest_bob"):
        _notebook(subs, honest, None, None)
    for name, (extra, server) in ATTACKS.items():
        _notebook(subs, name, extra, server)
    (root / "out").mkdir()
    (root / "out" / ".raftedu-secret").write_text(SECRET + "\n")  # where an instructor's secret could lie about
    os.environ["RAFTEDU_HOSTILE_CANARY"] = SECRET  # in the grader's environment too
    try:
        start = time.monotonic()
        results = grade(subs, "06", root / "out" / "grades.csv", jobs=2, limits=LIMITS, progress=False, secret=SECRET)
        took = time.monotonic() - start
    finally:
        del os.environ["RAFTEDU_HOSTILE_CANARY"]
    return {r.student: r for r in results}, root / "out", took


def test_the_suite_runs_sandboxed_here() -> None:
    assert mode() == "bubblewrap", "the test suite grades in the sandboxed mode (.ci/run installs bubblewrap)"


def test_a_hostile_batch(tmp_path: Path) -> None:
    """One test (one batch, graded once even under pytest-xdist), its parts in order."""
    results, out, took = _grade_the_batch(tmp_path)

    # honest classmates keep full marks
    for name in ("honest_alice", "honest_bob"):
        r = results[name]
        assert r.status == "ok" and r.score == r.max_score, (name, r.status, r.notes,
                                                             [c for c in r.checks if c["status"] != "pass"][:2])
    # no attack forges full marks
    for name in ATTACKS:
        r = results[name]
        flagged = r.status in ("review", "copied", "tampered") or any(n.startswith("review: ") for n in r.notes)
        assert r.score < r.max_score or flagged, (name, r.status, r.score, r.notes)
    # the attacks that reach for the reference get nothing; those that look around are flagged for review
    assert results["rereads_the_reference"].score == 0
    assert results["rereads_the_reference"].status in ("copied", "review")
    assert results["loads_the_solution"].score == 0  # nothing to load in the sandbox: an empty server remains
    assert results["takes_over_the_worker"].score == 0  # forged answers are just a server's wrong behaviour
    assert results["huge_answer"].score == 0 and results["floods_the_simulator"].score == 0
    for name in ("plants_a_pth_and_reads_the_secret", "leaves_a_daemon", "takes_over_the_worker", "loads_the_solution"):
        assert results[name].status in ("review", "tampered", "timeout"), (name, results[name].status, results[name].notes)
        assert any(n.startswith("review: ") for n in results[name].notes), name
    both = results["plants_a_pth_and_reads_the_secret"]
    for said in ("imports site", "names 'raftedu-secret'"):  # each attack of the notebook is flagged on its own
        assert any(n.startswith("review: ") and said in n for n in both.notes), (said, both.notes)
    assert both.score > 0, "the notebook still has the solution's server"

    # the batch finishes within its limits, and nothing an attack started is still running
    assert len(results) == len(ATTACKS) + 2
    assert all(r.seconds <= LIMITS.submission_timeout + 30 for r in results.values())
    assert took < (len(ATTACKS) + 2) * (LIMITS.submission_timeout + 30)  # a bound, not a timing: no batch hangs
    time.sleep(1)
    assert _left_running() == []

    # the secret appears in no output
    for path in out.rglob("*"):
        if path.is_file() and path.name != ".raftedu-secret":
            assert SECRET not in path.read_text(encoding="utf-8", errors="replace"), path

    # nothing was planted in the grading Python (the content would be a comment: harmless, but never left behind)
    planted = [p for d in _site_dirs() for p in d.glob(f"{MARK}.pth")]
    for p in planted:
        p.unlink()
    assert planted == []
