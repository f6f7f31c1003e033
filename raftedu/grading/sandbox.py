"""Where student code runs while it is graded: a sandboxed worker with a reduced raftedu and nothing else.

:func:`package` writes the raftedu the worker may import: the core modules
(the simulator, messages, the key-value store) with the exercise's reference
rules replaced by a stub that raises (nothing to re-read or re-create), the
node host (:mod:`raftedu.nodehost`), and stand-ins for ``raftedu.grading``
(``check()`` does nothing in the grader) and ``raftedu.viz``. Never the
grader, ``solutions/``, the tests or another submission.

:func:`launch` starts ``python -m raftedu.nodehost`` in one of two modes
(:func:`mode` picks; the CSV notes and the summary line say which):

* ``bubblewrap`` (Debian's ``bwrap``; ``.ci/run`` installs it): new PID,
  network, IPC, UTS, mount and user namespaces; an unprivileged user
  (65534) inside; the system and Python folders read-only and nothing else
  of the host (no ``/home``, ``/work``, ``/root`` beyond the Python
  installation, no host ``/proc``); a private ``/tmp`` and a writable copy
  of the student's folder; no network at all; the environment cleared; no
  file descriptors but the two ends of its channel; killed with everything
  it started when the grader stops it or dies (its PID namespace ends with it).
* ``unsandboxed`` (no usable bubblewrap): a new session, resource limits,
  a cleared environment and a temporary working folder -- but the student's
  code can read what your user can read and reach the network, and a daemon
  that leaves the session can outlive grading. Grade untrusted work only in
  the sandboxed mode (or in a throw-away container).

Both modes set limits on address space, file size, CPU time, open files and
processes.
"""

from __future__ import annotations

import ast
import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["MODES", "cpu_seconds", "launch", "mode", "package", "stop"]

MODES = {
    "bubblewrap": "sandboxed with bubblewrap: own PID, network and user namespaces, read-only system, no host files",
    "unsandboxed": "NOT sandboxed (bubblewrap missing or unusable): student code runs as your user and can read your "
                   "files; install bubblewrap (apt-get install bubblewrap) before grading untrusted work",
}
"""The worker's modes, with the sentence the grader's notes use for each."""

_PACKAGE = Path(__file__).resolve().parent.parent
_LEFT_OUT = {"etcd.py", "etcdproxy.py", "site.py", "lite.py", "course.py", "widgets.py", "lessons.py", "__main__.py"}
"""Modules of raftedu the worker never gets (real etcd, the site, the explorer, the command line)."""
_NOBODY = 65534
_NEAR_COPIES = ("handle_pre_vote", "handle_pre_vote_reply", "start_pre_vote", "handle_install_snapshot",
                "handle_install_snapshot_reply", "append_below_snapshot")
"""RaftNode's extension handlers that repeat a Figure 2 rule (pre-vote's receiver is RequestVote's, InstallSnapshot's
is AppendEntries'): switched off too whenever an exercise asks for Figure 2 rules (a node with the extensions off
never calls them)."""

_NULL = '''class _Nothing:
    """Stands for anything this stand-in module is asked for: callable, indexable, iterable, empty."""

    def __call__(self, *args, **kwargs):
        return self

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key):
        return self

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0

    def __bool__(self):
        return False

    def __repr__(self):
        return "(not available while graded)"


_nothing = _Nothing()


def __getattr__(name):
    return _nothing
'''
"""What every stand-in module ends with: any name it is asked for is a null object (callable, indexable,
iterable, empty), so the cells of a notebook that use what the sandbox lacks still run."""

_GRADING_STUB = '''"""raftedu.grading while a submission is graded: the grader runs the checks itself, outside this sandbox."""

IN_GRADER = True


def check(*args, **kwargs):
    """Does nothing while graded (the grader runs the checks)."""
    print("(the grader runs the checks itself)")
    return _nothing


''' + _NULL

_SUBMODULE_STUB = '''"""A stand-in while graded: what this module offers is not available in the grader's sandbox."""


''' + _NULL

_VIZ_STUB = '''"""raftedu.viz while a submission is graded: pictures are skipped."""


''' + _NULL


def _strip(source: str, methods: dict[str, set[str]], exercise: str, filename: str) -> str:
    """``source`` with the bodies of ``methods`` (by class) replaced by a stub raising the reference's error."""
    tree = ast.parse(source, filename)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in methods:
            wanted = methods[node.name]
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in wanted:
                    text = (f"raftedu: the reference {node.name}.{item.name} is not available while exercise "
                            f"{exercise} is graded")
                    item.body = [ast.Raise(exc=ast.Call(func=ast.Name("RuntimeError", ast.Load()),
                                                        args=[ast.Constant(text)], keywords=[]), cause=None)]
    ast.fix_missing_locations(tree)
    return ast.unparse(tree) + "\n"


_AST_LOCK = threading.Lock()
"""Held while :func:`package` parses and unparses source: on Python 3.11, two threads building AST objects at once
can fail with ``SystemError: AST constructor recursion depth mismatch`` (the depth counter is shared by the
interpreter; CPython gh-106905). :func:`~raftedu.grading.runner.grade` runs :func:`package` on ``jobs`` threads, and
a Dask worker on its threads: seen there as one student's ``grader_error``."""


def package(dest: str | os.PathLike[str], exercise: str, reference_rules: Iterable[str], *,
            near_copies: bool = True) -> Path:
    """Write the raftedu the worker of ``exercise`` imports into ``dest/raftedu`` and return ``dest``.

    ``reference_rules`` are the methods switched off (``"handle_request_vote"``
    for RaftNode's, ``"KVNode.start_read"`` for another class's): their bodies
    are replaced by ``raise RuntimeError("raftedu: the reference ...")``; with
    ``near_copies`` RaftNode's :data:`_NEAR_COPIES` too, when a RaftNode rule is among them.
    """
    with _AST_LOCK:
        return _package(Path(dest), exercise, reference_rules, near_copies)


def _package(root: Path, exercise: str, reference_rules: Iterable[str], near_copies: bool) -> Path:
    pkg = root / "raftedu"
    pkg.mkdir(parents=True, exist_ok=True)
    rules = list(reference_rules)
    if near_copies and any("." not in r for r in rules):
        rules += _NEAR_COPIES
    by_file: dict[str, dict[str, set[str]]] = {}
    for rule in rules:
        cls, _, name = rule.rpartition(".")
        cls = cls or "RaftNode"
        by_file.setdefault("kv.py" if cls.startswith("KV") else "raft.py", {}).setdefault(cls, set()).add(name)
    for path in sorted(_PACKAGE.glob("*.py")):
        if path.name in _LEFT_OUT:
            continue
        text = path.read_text(encoding="utf-8")
        if path.name in by_file:
            text = _strip(text, by_file[path.name], exercise, path.name)
        (pkg / path.name).write_text(text, encoding="utf-8")
    (pkg / "py.typed").write_text("")
    grading = pkg / "grading"
    grading.mkdir(exist_ok=True)
    (grading / "__init__.py").write_text(_GRADING_STUB)
    (grading / "scenarios.py").write_text(_SUBMODULE_STUB + "\n\nfrom ..nodehost import rules_class as node_class\n")
    for name in ("core", "exercises", "student", "whole_server", "kv_store"):
        (grading / f"{name}.py").write_text(_SUBMODULE_STUB)
    (grading / "bughunt.py").write_text(_SUBMODULE_STUB + "\n\nfrom ..raft import *  # noqa: F403\n\n\n"
                                        + _excerpt(_PACKAGE / "grading" / "bughunt.py", "Suspect", "SUSPECTS"))
    viz = pkg / "viz"
    viz.mkdir(exist_ok=True)
    (viz / "__init__.py").write_text(_VIZ_STUB)
    return root


def _excerpt(path: Path, *prefixes: str) -> str:
    """The top-level classes and assignments of ``path`` whose names start with one of ``prefixes`` (exercise
    07's suspects: the students' cells read them; the checks that use them stay in the grader)."""
    source = path.read_text(encoding="utf-8")
    parts = []
    for node in ast.parse(source).body:
        name = node.name if isinstance(node, ast.ClassDef) else \
            getattr(getattr(node, "target", None), "id", "") if isinstance(node, ast.AnnAssign) else ""
        if name.startswith(prefixes):
            parts.append(ast.get_source_segment(source, node) or "")
    return "\n\n\n".join(parts) + "\n"


@functools.lru_cache(maxsize=1)
def _bwrap() -> str | None:
    """The bubblewrap program, if it is installed and can make the namespaces here."""
    exe = shutil.which("bwrap")
    if exe is None:
        return None
    try:
        ok = subprocess.run([exe, "--unshare-all", "--unshare-user", "--uid", str(_NOBODY), "--gid", str(_NOBODY),
                             "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"],
                            capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return exe if ok else None


def mode(wanted: str | None = None) -> str:
    """The mode the worker runs in: ``wanted`` if given (an error if it cannot be had), else ``bubblewrap`` when
    it works here, else ``unsandboxed``."""
    if wanted is not None and wanted not in MODES:
        raise ValueError(f"unknown sandbox mode {wanted!r}; choose one of: {', '.join(MODES)}")
    if wanted == "bubblewrap" and _bwrap() is None:
        raise RuntimeError("bubblewrap (bwrap) is not installed or cannot make namespaces here: "
                           "apt-get install bubblewrap, or grade with sandbox='unsandboxed' (weaker: see README)")
    return wanted or ("bubblewrap" if _bwrap() is not None else "unsandboxed")


def _processes_of_this_user() -> int:
    uid = os.getuid()
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def _limits(memory_mb: int, file_mb: int, cpu_s: int, nproc: int) -> None:
    """Resource limits for the worker (run in the child before it starts)."""
    import resource

    mem = memory_mb * 2**20
    for limit, value in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_FSIZE, file_mb * 2**20),
                         (resource.RLIMIT_CORE, 0), (resource.RLIMIT_CPU, cpu_s), (resource.RLIMIT_NOFILE, 256),
                         (resource.RLIMIT_NPROC, nproc)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass


def _system_binds() -> list[str]:
    """Read-only views of the system folders and of this Python installation (and nothing else of the host)."""
    args: list[str] = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/lib", "/lib32", "/lib64", "/sbin"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for f in ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group"):
        if os.path.exists(f):
            args += ["--ro-bind", f, f]
    prefixes = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    for prefix in sorted(prefixes):
        if not prefix.startswith("/usr"):
            args += ["--ro-bind", prefix, prefix]
    installed = os.path.realpath(_PACKAGE)
    if any(installed.startswith(p + os.sep) for p in prefixes):  # a raftedu installed in site-packages: hide it
        args += ["--tmpfs", installed]
    return args


_BOOT = ("import sys; sys.path.insert(0, '/box'); sys.argv[0] = 'raftedu-worker'; "
         "from raftedu.nodehost import main; main(sys.argv[1:])")


def launch(box: str | os.PathLike[str], work: str | os.PathLike[str], *, how: str, memory_mb: int = 2048,
           file_mb: int = 64, cpu_s: int = 300) -> tuple[subprocess.Popen[bytes], int, int]:
    """Start a worker on the package in ``box`` with ``work`` (a copy of the student's folder) as its working
    folder; return it and this side's ends of its channel (write calls, read answers)."""
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    nproc = _processes_of_this_user() + 128
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
           "MPLBACKEND": "Agg", "MALLOC_ARENA_MAX": "2", "JUPYTER_PLATFORM_DIRS": "1",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    if how == "bubblewrap":
        exe = _bwrap()
        if exe is None:
            raise RuntimeError("bubblewrap is not usable here")
        cmd = [exe, "--unshare-all", "--unshare-user", "--uid", str(_NOBODY), "--gid", str(_NOBODY),
               "--die-with-parent", "--new-session", "--clearenv", *(x for k, v in env.items()
                                                                        for x in ("--setenv", k, v)),
               *_system_binds(), "--ro-bind", str(box), "/box", "--bind", str(work), "/home/student",
               "--chdir", "/home/student", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
               "--", sys.executable, "-I", "-c", _BOOT, str(to_r), str(from_w)]
        cwd = None
    else:
        env["PYTHONNOUSERSITE"] = "1"
        cmd = [sys.executable, "-I", "-c", _BOOT.replace("'/box'", repr(str(box))), str(to_r), str(from_w)]
        cwd = str(work)
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env, cwd=cwd, pass_fds=(to_r, from_w), start_new_session=True,
                                preexec_fn=functools.partial(_limits, memory_mb, file_mb, cpu_s, nproc))
    finally:
        os.close(to_r)
        os.close(from_w)
    return proc, to_w, from_r


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` and every process under it, as the kernel counts them (0.0 where
    /proc cannot tell: the figure is for benchmarks, never for a verdict)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo, seen = 0, [pid], set[int]()
    while todo and len(seen) < 1000:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15])  # utime, stime, and those of its children it waited for
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total / tick


def stop(proc: subprocess.Popen[Any]) -> None:
    """Kill a worker and everything in its session (and, sandboxed, its whole PID namespace), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        proc.kill()
    except OSError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process stuck in the kernel
        pass
