"""A real etcd cluster on this machine: start, break and query it from a notebook.

:class:`EtcdCluster` starts N members of the ``etcd`` binary on 127.0.0.1,
each with its own temporary data directory and free ports, and talks to them
through etcd's v3 HTTP/JSON gateway (standard library only). It is a context
manager that always stops every process it started and removes its
directories -- also when a notebook cell raises or is interrupted, and (on
Linux) even when the Python process dies, since each member is started with
a parent-death signal.

    with EtcdCluster(3) as etcd:
        etcd.put("x", "1")
        etcd.kill(etcd.leader())
        etcd.put("x", "2", timeout=3)
        etcd.status()

On Debian/Ubuntu: ``apt-get install etcd-server`` provides etcd 3.4.
"""

from __future__ import annotations

import atexit
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .etcdproxy import PeerProxy

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EtcdError", "EtcdUnavailable", "EtcdCluster", "Member", "find_etcd", "crash_trials", "rejoin_trial",
           "minority_leader_trial", "catch_up_trial", "INSTALL_HINT"]

INSTALL_HINT = "install it with `apt-get install etcd-server` (Debian/Ubuntu, etcd 3.4) or put any etcd >= 3.4 on PATH"
_live: "weakref.WeakSet[EtcdCluster]" = weakref.WeakSet()


class EtcdError(RuntimeError):
    """Something about the etcd cluster went wrong (binary missing, member not starting, bad request)."""


class EtcdUnavailable(EtcdError):
    """A request did not succeed within its timeout: no leader, no quorum, or the member is down."""


def find_etcd() -> str:
    """Path of the ``etcd`` binary, or an :class:`EtcdError` saying how to install it."""
    path = shutil.which("etcd")
    if path is None:
        raise EtcdError(f"no `etcd` binary on PATH: {INSTALL_HINT}")
    return path


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# etcd is started through this tiny launcher instead of a preexec_fn (which is unsafe in a threaded process such as
# a Jupyter kernel): it asks Linux to SIGKILL it when its parent dies (PR_SET_PDEATHSIG, kept across exec), gives up
# if the parent is already gone, then becomes etcd with the same pid (so signals sent to it reach etcd).
_LAUNCHER = """
import ctypes, os, signal, sys
parent = int(sys.argv[1])
try:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
except OSError:
    pass
if os.getppid() != parent:
    sys.exit("raftedu: the Python process that started etcd is gone")
os.execv(sys.argv[2], sys.argv[2:])
"""


def _wait_for_state(m: "Member", *, stopped: bool, timeout: float = 2.0) -> None:
    """Wait until the kernel reports member ``m``'s process stopped (state T) or running again.

    A signal is only queued when ``kill`` returns; an experiment that starts its clock before the member is really
    frozen could see a write succeed that the frozen member helped commit. Where /proc is missing, return at once.
    """
    if m.process is None:
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(f"/proc/{m.process.pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if (state in ("T", "t")) == stopped or time.monotonic() >= deadline:
            if (state in ("T", "t")) != stopped:
                raise EtcdError(f"member {m.index} did not {'stop' if stopped else 'continue'} within {timeout} s "
                                f"(process state {state!r})")
            return
        time.sleep(0.005)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class Member:
    """One etcd member: its name, ports, data directory, log file and process (None when killed)."""

    index: int
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    paused: bool = False
    joined: bool = False
    """Added to a running cluster (``member add``): started with ``--initial-cluster-state existing``."""
    removed: bool = False
    """Removed from the cluster (``member remove``): it shut itself down for good."""

    @property
    def url(self) -> str:
        """The member's client URL."""
        return f"http://127.0.0.1:{self.client_port}"

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the member's log, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class EtcdCluster:
    """N local etcd members on 127.0.0.1 with temporary data directories; always cleaned up.

    ``heartbeat_ms`` and ``election_ms`` are etcd's ``--heartbeat-interval``
    and ``--election-timeout`` (defaults 100 and 1000 in etcd; shorter here so
    experiments run quickly). ``pre_vote`` is etcd's ``--pre-vote`` (off by
    default in etcd 3.4; dissertation §9.6). ``snapshot_count`` is etcd's
    ``--snapshot-count``: a member snapshots its store after that many applied
    entries and compacts its raft log (dissertation §5.1; None keeps etcd's
    default, 100,000). ``partitionable`` routes the
    members' peer traffic through a :class:`~raftedu.etcdproxy.PeerProxy`, so
    :meth:`isolate`, :meth:`cut` and :meth:`heal` make real partitions.
    """

    def __init__(self, n: int = 3, *, heartbeat_ms: int = 50, election_ms: int = 500, start: bool = True,
                 ready_timeout: float = 20.0, pre_vote: bool = False, partitionable: bool = False,
                 log_level: str = "warn", snapshot_count: int | None = None) -> None:
        """Prepare (and by default start) an ``n``-member cluster."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 9:
            raise ValueError(f"an etcd cluster here has 1 to 9 members; got {n!r}")
        if not (isinstance(heartbeat_ms, int) and isinstance(election_ms, int) and 0 < 5 * heartbeat_ms <= election_ms):
            raise ValueError("heartbeat_ms and election_ms must be whole milliseconds with election_ms >= 5 * heartbeat_ms "
                             f"(etcd's own rule); got {heartbeat_ms!r}, {election_ms!r}")
        for name, flag in (("pre_vote", pre_vote), ("partitionable", partitionable)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False; got {flag!r}")
        if snapshot_count is not None and (isinstance(snapshot_count, bool) or not isinstance(snapshot_count, int)
                                           or snapshot_count < 1):
            raise ValueError(f"snapshot_count must be a whole number of entries >= 1, or None for etcd's default; "
                             f"got {snapshot_count!r}")
        self.binary = find_etcd()
        self.n = n
        self.snapshot_count = snapshot_count
        if log_level not in ("debug", "info", "warn", "error"):
            raise ValueError(f"log_level must be 'debug', 'info', 'warn' or 'error'; got {log_level!r}")
        self.pre_vote = pre_vote
        self.log_level = log_level
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.ready_timeout = ready_timeout
        self.root = Path(tempfile.mkdtemp(prefix="raftedu-etcd-"))
        ports = _free_ports(2 * n)
        self.members = {
            i: Member(i, f"m{i}", ports[2 * (i - 1)], ports[2 * (i - 1) + 1], self.root / f"m{i}", self.root / f"m{i}.log")
            for i in range(1, n + 1)
        }
        self.proxy = PeerProxy({i: m.peer_port for i, m in self.members.items()}) if partitionable else None
        """The proxy between the members' peer ports (None unless ``partitionable``)."""
        self.token = f"raftedu-{os.getpid()}-{ports[0]}"
        self.closed = False
        _live.add(self)
        if start:
            self.start()

    # ---- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> "EtcdCluster":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _advertised(self, m: Member) -> str:
        """The peer URL the others use for member ``m``: the proxy's port when partitionable, else its own."""
        return f"http://127.0.0.1:{self.proxy.ports[m.index] if self.proxy is not None else m.peer_port}"

    def _command(self, m: Member) -> list[str]:
        initial = ",".join(f"{x.name}={self._advertised(x)}" for x in self.members.values() if not x.removed)
        return [
            self.binary, "--name", m.name, "--data-dir", str(m.data_dir),
            "--listen-client-urls", m.url, "--advertise-client-urls", m.url,
            "--listen-peer-urls", f"http://127.0.0.1:{m.peer_port}",
            "--initial-advertise-peer-urls", self._advertised(m),
            "--initial-cluster", initial, "--initial-cluster-token", self.token,
            "--initial-cluster-state", "existing" if m.joined else "new",
            "--heartbeat-interval", str(self.heartbeat_ms), "--election-timeout", str(self.election_ms),
            "--log-level", self.log_level, "--logger", "zap",
        ] + (["--pre-vote"] if self.pre_vote else []) + (
            ["--snapshot-count", str(self.snapshot_count)] if self.snapshot_count is not None else [])

    def _spawn(self, m: Member) -> None:
        log = open(m.log_path, "ab")
        try:
            m.process = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(os.getpid()), *self._command(m)],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        finally:
            log.close()
        m.paused = False

    def start(self) -> None:
        """Start every member and wait until the cluster has a leader."""
        for m in self.members.values():
            if m.process is None:
                self._spawn(m)
        self.wait_for_leader(self.ready_timeout)

    def close(self) -> None:
        """Stop every process this cluster started and remove its directories (safe to call twice)."""
        if self.closed:
            return
        self.closed = True
        for m in self.members.values():
            if m.process is not None:
                if m.paused:
                    m.process.send_signal(signal.SIGCONT)
                m.process.kill()
                m.process.wait(timeout=10)
                m.process = None
        if self.proxy is not None:
            self.proxy.close()
        shutil.rmtree(self.root, ignore_errors=True)
        _live.discard(self)

    def _member(self, i: int) -> Member:
        if isinstance(i, bool) or not isinstance(i, int) or i not in self.members:
            raise ValueError(f"unknown member {i!r}: this cluster has members 1..{self.n}")
        if self.closed:
            raise EtcdError("this cluster has been closed; start a new EtcdCluster")
        return self.members[i]

    def running(self) -> list[int]:
        """Members whose process is running (paused ones included)."""
        return [i for i, m in self.members.items() if m.process is not None and m.process.poll() is None]

    # ---- faults -------------------------------------------------------------------

    def kill(self, i: int) -> None:
        """Kill member ``i`` with SIGKILL (its data directory stays, as on a crashed machine)."""
        m = self._member(i)
        if m.process is None:
            raise ValueError(f"member {i} is not running; restart it with restart({i})")
        if m.paused:
            m.process.send_signal(signal.SIGCONT)
        m.process.kill()
        m.process.wait(timeout=10)
        m.process = None

    def restart(self, i: int) -> None:
        """Start killed member ``i`` again on the same data directory."""
        m = self._member(i)
        if m.process is not None:
            raise ValueError(f"member {i} is running; kill it first")
        self._spawn(m)

    def pause(self, i: int) -> None:
        """Freeze member ``i`` with SIGSTOP: it keeps its sockets but answers nothing (like a long GC pause)."""
        m = self._member(i)
        if m.process is None or m.paused:
            raise ValueError(f"member {i} is not running or already paused")
        m.process.send_signal(signal.SIGSTOP)
        m.paused = True
        _wait_for_state(m, stopped=True)

    def resume(self, i: int) -> None:
        """Let a paused member go on (SIGCONT)."""
        m = self._member(i)
        if m.process is None or not m.paused:
            raise ValueError(f"member {i} is not paused")
        m.process.send_signal(signal.SIGCONT)
        m.paused = False
        _wait_for_state(m, stopped=False)

    # ---- the network between members (partitionable clusters) ---------------------------

    def _links(self) -> PeerProxy:
        if self.proxy is None:
            raise ValueError("this cluster's links cannot be cut: create it with EtcdCluster(n, partitionable=True)")
        for i in self.running():  # the proxy names senders by etcd member id: learn them
            if i not in self.proxy.member_of.values() and not self.members[i].paused:
                self.proxy.learn(self.member_id(i), i)
        return self.proxy

    def cut(self, a: int, b: int) -> None:
        """Cut the link between members ``a`` and ``b`` both ways (their peer connections close; none reopen)."""
        self._member(a), self._member(b)
        if a == b:
            raise ValueError(f"a link joins two different members; got {a} and {b}")
        self._links().cut(a, b)

    def isolate(self, i: int) -> None:
        """Cut member ``i`` off from every other member (clients can still reach it)."""
        links = self._links()
        for j in self.members:
            if j != self._member(i).index:
                links.cut(i, j)

    def heal(self) -> None:
        """Restore every link between members."""
        self._links().heal()

    def highest_term_logged(self, i: int) -> int | None:
        """The highest term member ``i``'s raft says it took ("became candidate at term 5"), from its log.

        Needs ``log_level="info"`` (raft logs role changes at info). etcd's
        status reports the term of the last entry a member *applied*, so an
        isolated member that campaigns alone keeps showing its old term there;
        its log tells the truth.
        """
        text = self._info_log(i, "terms")
        terms = [int(t) for t in re.findall(r"became (?:pre-candidate|candidate|follower|leader) at term (\d+)", text)]
        return max(terms) if terms else None

    def _info_log(self, i: int, what: str) -> str:
        """Member ``i``'s log so far; it names ``what`` only at info level."""
        if self.log_level not in ("debug", "info"):
            raise ValueError(f"member logs name {what} only with EtcdCluster(..., log_level='info')")
        return self._member(i).log_path.read_text(errors="replace")

    def compaction(self, i: int) -> dict[str, int | None]:
        """Member ``i``'s latest snapshot and log compaction, from its log (needs ``log_level="info"``).

        ``snapshot_index``: the index its latest snapshot covers ("saved
        snapshot"); ``compacted_to``: the last raft log index it discarded
        ("compacted Raft logs"; etcd logs a compaction only when it discards
        something, so early snapshots leave it at 1 or None). etcd keeps the entries between the two for
        followers that are only a little behind; None when it has not done it yet.
        """
        text = self._info_log(i, "snapshots")
        snaps = re.findall(r'"msg":"saved snapshot","snapshot-index":(\d+)', text)
        compacts = re.findall(r'"msg":"compacted Raft logs","compact-index":(\d+)', text)
        return {"snapshot_index": int(snaps[-1]) if snaps else None,
                "compacted_to": int(compacts[-1]) if compacts else None}

    def snapshots_received(self, i: int, timeout: float = 2.0) -> int:
        """How many whole-store snapshots member ``i`` received from a leader (its
        ``etcd_network_snapshot_receive_success`` metric, summed over senders)."""
        m = self._member(i)
        try:
            with urllib.request.urlopen(m.url + "/metrics", timeout=timeout) as response:
                text = response.read().decode()
        except (urllib.error.URLError, TimeoutError, ConnectionError, socket.timeout) as e:
            raise EtcdUnavailable(f"member {i} did not answer /metrics within {timeout} s ({e})") from None
        return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("etcd_network_snapshot_receive_success{")))

    def member_id(self, i: int, timeout: float = 2.0) -> int:
        """etcd's id of member ``i`` (a 64-bit number)."""
        return int(self.member_status(i, timeout)["header"]["member_id"])

    def move_leader(self, to: int, timeout: float = 5.0) -> None:
        """Hand leadership to member ``to`` (``etcdctl move-leader``; dissertation §3.10) and wait until it leads."""
        self._member(to)
        leader = self.wait_for_leader(timeout)
        if leader == to:
            raise ValueError(f"member {to} already leads; move leadership to another member")
        self._call(leader, "/v3/maintenance/transfer-leadership", {"targetID": str(self.member_id(to))}, timeout)
        deadline = time.monotonic() + timeout
        while self.leader(timeout=0.5) != to:
            if time.monotonic() > deadline:
                raise EtcdUnavailable(f"member {to} did not become leader within {timeout} s")
            time.sleep(0.02)

    # ---- membership: learners, promotion, removal (dissertation ch. 4; etcdctl member ...) ---------

    def members_list(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """etcd's member list: one dict per member with ``member`` (our index), ``name``, ``id`` and ``learner``."""
        reply = self._any("/v3/cluster/member/list", {}, timeout, None)
        by_name = {m.name: i for i, m in self.members.items()}
        return [{"member": by_name.get(x.get("name", "")), "name": x.get("name", ""), "id": int(x["ID"]),
                 "learner": bool(x.get("isLearner", False))} for x in reply.get("members", [])]

    def add_member(self, *, learner: bool = True, timeout: float = 20.0) -> int:
        """Add a new member (``etcdctl member add [--learner]``), start it and return its index.

        A learner (the default; dissertation §4.2.1) receives the log but does
        not vote or count for a majority until :meth:`promote` makes it a voter.
        """
        if not isinstance(learner, bool):
            raise ValueError(f"learner must be True or False; got {learner!r}")
        i = max(self.members) + 1
        if i > 9:
            raise ValueError("an etcd cluster here has at most 9 members")
        client_port, peer_port = _free_ports(2)
        m = Member(i, f"m{i}", client_port, peer_port, self.root / f"m{i}", self.root / f"m{i}.log", joined=True)
        if self.proxy is not None:
            self.proxy.add(i, peer_port)
        self.members[i] = m
        try:
            self._any("/v3/cluster/member/add", {"peerURLs": [self._advertised(m)], "isLearner": learner}, timeout, None)
        except EtcdUnavailable:
            del self.members[i]
            raise
        self.n = max(self.n, i)
        self._spawn(m)
        deadline = time.monotonic() + timeout
        while True:  # it answers once it has joined and caught up enough to serve
            try:
                self.member_status(i, timeout=0.5)
                return i
            except EtcdUnavailable:
                if m.process is not None and m.process.poll() is not None:
                    raise EtcdError(f"member {i} exited while joining; its log ends:\n{m.log_tail()}") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def promote(self, i: int, timeout: float = 10.0) -> None:
        """Make learner ``i`` a voter (``etcdctl member promote``); etcd refuses until its log has caught up."""
        member_id = self.member_id(self._member(i).index)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._any("/v3/cluster/member/promote", {"ID": str(member_id)}, min(2.0, timeout), None)
                return
            except EtcdUnavailable as e:
                if "not a learner" in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # "can only promote a learner member which is in sync with leader": wait for it

    def remove_member(self, i: int, timeout: float = 10.0) -> None:
        """Remove member ``i`` (``etcdctl member remove``); it shuts itself down once the removal is applied."""
        m = self._member(i)
        if m.removed:
            raise ValueError(f"member {i} was already removed")
        member_id = self.member_id(i)
        self._any("/v3/cluster/member/remove", {"ID": str(member_id)}, timeout,
                  next((j for j in self.running() if j != i and not self.members[j].paused), None))
        m.removed = True
        if m.process is not None:
            try:
                m.process.wait(timeout=timeout)  # etcd: "the member has been permanently removed from the cluster"
            except subprocess.TimeoutExpired:
                m.process.kill()
                m.process.wait(timeout=10)
            m.process = None

    # ---- the v3 HTTP/JSON gateway ----------------------------------------------------

    def _call(self, i: int, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        m = self._member(i)
        request = urllib.request.Request(m.url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise EtcdUnavailable(f"member {i} answered HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, socket.timeout) as e:
            reason = getattr(e, "reason", e)
            raise EtcdUnavailable(f"member {i} did not answer {path} within {timeout:.2g} s ({reason})") from None

    def _any(self, path: str, body: dict[str, Any], timeout: float, member: int | None) -> dict[str, Any]:
        """Send to ``member`` (or the running, unpaused members in turn), retrying until one succeeds in ``timeout``."""
        if member is not None:
            self._member(member)
        deadline = time.monotonic() + timeout
        errors = []
        while True:
            for i in [member] if member is not None else [i for i in self.running() if not self.members[i].paused]:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    return self._call(i, path, body, min(left, 0.5))  # short attempts: a member may hang mid-election
                except EtcdUnavailable as e:
                    errors.append(str(e))
            if time.monotonic() >= deadline:
                raise EtcdUnavailable(f"no member completed {path} within {timeout} s"
                                      + (f"; last error: {errors[-1]}" if errors else "; no member is running"))
            time.sleep(0.05)

    def put(self, key: str, value: str, *, timeout: float = 2.0, member: int | None = None) -> int:
        """Write ``key`` = ``value``; return the new revision. Raises :class:`EtcdUnavailable` on timeout."""
        reply = self._any("/v3/kv/put", {"key": _b64(key), "value": _b64(value)}, timeout, member)
        return int(reply["header"]["revision"])

    def get(self, key: str, *, timeout: float = 2.0, member: int | None = None) -> str | None:
        """Linearizable read of ``key`` (None when absent)."""
        reply = self._any("/v3/kv/range", {"key": _b64(key)}, timeout, member)
        kvs = reply.get("kvs") or []
        return base64.b64decode(kvs[0].get("value", "")).decode() if kvs else None

    def put_many(self, count: int, *, member: int, prefix: str = "raftedu/bulk/", connections: int = 8,
                 timeout: float = 5.0) -> None:
        """Write ``count`` keys (``prefix`` + 0, 1, ...) through member ``member`` as fast as it takes them.

        Each put is one raft entry; ``connections`` kept-alive HTTP
        connections write in parallel (~1,000 writes per second here), so
        experiments can push thousands of entries through the log. Raises
        :class:`EtcdUnavailable` if any write fails.
        """
        m = self._member(member)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be a whole number of writes >= 0; got {count!r}")
        if isinstance(connections, bool) or not isinstance(connections, int) or connections < 1:
            raise ValueError(f"connections must be a whole number >= 1; got {connections!r}")
        failures: list[str] = []

        def write(start: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", m.client_port, timeout=timeout)
            try:
                for j in range(start, count, connections):
                    body = json.dumps({"key": _b64(f"{prefix}{j}"), "value": _b64(str(j))})
                    conn.request("POST", "/v3/kv/put", body, {"Content-Type": "application/json"})
                    response = conn.getresponse()
                    detail = response.read()
                    if response.status != 200:
                        failures.append(f"HTTP {response.status}: {detail.decode(errors='replace')}")
                        return
            except (OSError, http.client.HTTPException) as e:
                failures.append(f"{type(e).__name__}: {e}")
            finally:
                conn.close()

        threads = [threading.Thread(target=write, args=(k,)) for k in range(min(connections, count))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise EtcdUnavailable(f"member {member} did not take all {count} writes: {failures[0]}")

    def revision(self, i: int, timeout: float = 1.0) -> int:
        """The revision of member ``i``'s own copy of the store (a serializable read: no round to the leader)."""
        reply = self._call(i, "/v3/kv/range", {"key": _b64("raftedu/revision"), "serializable": True}, timeout)
        return int(reply["header"]["revision"])

    def delete(self, key: str, *, timeout: float = 2.0, member: int | None = None) -> int:
        """Delete ``key``; return how many keys were deleted."""
        reply = self._any("/v3/kv/deleterange", {"key": _b64(key)}, timeout, member)
        return int(reply.get("deleted", 0))

    def member_status(self, i: int, timeout: float = 1.0) -> dict[str, Any]:
        """etcd's maintenance status of member ``i``: its id, the leader's id, raft term and index."""
        return self._call(i, "/v3/maintenance/status", {}, timeout)

    def status(self) -> "pd.DataFrame":
        """One row per member: name, state (running/paused/killed), leader?, raft term, raft index.

        ``raft_index`` is etcd's ``raftIndex``: the member's *commit* index (etcd's status handler reports the
        raft node's committed index), not the index of its last log entry.
        """
        import pandas as pd

        rows = []
        for i, m in self.members.items():
            row: dict[str, Any] = {"member": i, "name": m.name, "state": "removed" if m.removed else "killed",
                                   "leader": False,
                                   "raft_term": None, "raft_index": None}
            if m.process is not None:
                row["state"] = "paused" if m.paused else "running"
                if not m.paused:
                    try:
                        s = self.member_status(i)
                        row.update(leader=s["header"]["member_id"] == s.get("leader"),
                                   raft_term=int(s.get("raftTerm", 0)), raft_index=int(s.get("raftIndex", 0)))
                    except EtcdUnavailable:
                        row["state"] = "not answering"
            rows.append(row)
        return pd.DataFrame(rows).astype({"raft_term": "Int64", "raft_index": "Int64"})

    def leads(self, i: int, timeout: float = 1.0) -> bool | None:
        """Whether member ``i`` believes it is the leader (its own status; None if it does not answer)."""
        try:
            s = self.member_status(i, timeout)
        except EtcdUnavailable:
            return None
        return s.get("leader") == s["header"]["member_id"]

    def leader(self, timeout: float = 1.0) -> int | None:
        """The member that a running member reports as leader (None if none answers or there is no leader)."""
        ids = {}
        for i in self.running():
            if self.members[i].paused:
                continue
            try:
                s = self.member_status(i, timeout)
            except EtcdUnavailable:
                continue
            ids[s["header"]["member_id"]] = i
            if s.get("leader") and s.get("leader") != "0":
                leader_id = s["leader"]
                if leader_id in ids:
                    return ids[leader_id]
                for j in self.running():  # learn the other members' ids
                    if j not in ids.values() and not self.members[j].paused:
                        try:
                            ids[self.member_status(j, timeout)["header"]["member_id"]] = j
                        except EtcdUnavailable:
                            pass
                return ids.get(leader_id)
        return None

    def wait_for_leader(self, timeout: float = 10.0) -> int:
        """Wait until a leader is known and a write succeeds; return the leader. Shows member logs on failure."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, m in self.members.items():
                if m.process is not None and m.process.poll() is not None:
                    raise EtcdError(f"member {i} exited with code {m.process.returncode}; its log ends:\n{m.log_tail()}")
            leader = self.leader(timeout=0.5)
            if leader is not None:
                return leader
            time.sleep(0.05)
        tails = "\n".join(f"--- m{i} ---\n{m.log_tail(8)}" for i, m in self.members.items())
        raise EtcdError(f"no leader after {timeout} s; member logs end:\n{tails}")


def crash_trials(ns: Any = range(1, 6), *, victims: str = "leader", fault: str = "kill", trials: int = 1,
                 bound_s: float = 3.0, seed: int = 0, progress: bool = True) -> "pd.DataFrame":
    """The even/odd experiment on real etcd: stop k members of an N-member cluster; does a write still succeed?

    For each N one cluster is started; for each k (0..N, or 0..N-1 when only
    followers are stopped) and trial, every member is first brought back and
    a write confirmed, then k members are killed (``fault="kill"``, SIGKILL)
    or frozen (``fault="pause"``, SIGSTOP) -- the leader among them when
    ``victims="leader"``, only followers when ``"followers"`` -- and a client
    retries a write for ``bound_s`` seconds. Columns match
    :func:`raftedu.experiments.crash_trials` (n, k, victims, trial, crashed,
    leader_crashed, success, outcome, new_leader_ms, commit_ms) plus
    ``fault`` and ``backend="etcd"``.
    """
    import random

    import pandas as pd
    from tqdm.auto import tqdm

    if victims not in ("leader", "followers"):
        raise ValueError(f"victims must be 'leader' or 'followers'; got {victims!r}")
    if fault not in ("kill", "pause"):
        raise ValueError(f"fault must be 'kill' or 'pause'; got {fault!r}")
    sizes = [ns] if isinstance(ns, int) else list(ns)
    if not sizes or any(isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 9 for n in sizes):
        raise ValueError(f"cluster sizes must be whole numbers from 1 to 9; got {ns!r}")
    if not (isinstance(trials, int) and trials >= 1) or not bound_s > 0:
        raise ValueError("trials must be a whole number >= 1 and bound_s > 0")
    cells = [(n, k) for n in sizes for k in range(n if victims == "followers" else n + 1)]
    bar = tqdm(total=len(cells) * trials, desc=f"etcd: stop k of N ({victims}, {fault})", disable=not progress)
    rows = []
    for n in sizes:
        rng = random.Random(f"raftedu-etcd:{seed}:{n}:{victims}:{fault}")
        with EtcdCluster(n) as etcd:
            for k in range(n if victims == "followers" else n + 1):
                for trial in range(trials):
                    rows.append(_stop_and_write(etcd, k, victims, fault, trial, bound_s, rng))
                    bar.update()
    bar.close()
    return pd.DataFrame(rows)


def rejoin_trial(*, pre_vote: bool, isolate_s: float = 3.0, settle_s: float = 2.0, n: int = 3) -> dict[str, Any]:
    """Lesson 04's disruptive rejoin on real etcd: cut a follower off, heal, and see whether the leader survives.

    Starts an ``n``-member cluster (``--pre-vote`` when ``pre_vote``) whose
    peer links can be cut, isolates one follower for ``isolate_s`` seconds,
    heals, waits ``settle_s`` seconds and writes. The row has the columns of
    :func:`raftedu.experiments.rejoin_trial` (the simulator's run of the same
    experiment): ``leader_before``, ``isolated``, ``term_before``,
    ``isolated_term`` (the highest term it took while cut off, read from its
    log: etcd's status shows the term of applied entries), ``leader_after``,
    ``term_after``, ``disrupted`` (the leader changed or the term rose) and
    ``backend="etcd"``.
    """
    with EtcdCluster(n, pre_vote=pre_vote, partitionable=True, log_level="info") as etcd:
        leader = etcd.wait_for_leader(etcd.ready_timeout)
        etcd.put("raftedu/rejoin", "before", timeout=etcd.ready_timeout)
        term_before = int(etcd.member_status(leader)["raftTerm"])
        lonely = next(i for i in etcd.members if i != leader)
        etcd.isolate(lonely)
        time.sleep(isolate_s)
        isolated_term = max(term_before, etcd.highest_term_logged(lonely) or 0)
        etcd.heal()
        time.sleep(settle_s)
        etcd.put("raftedu/rejoin", "after", timeout=etcd.ready_timeout)
        after = etcd.wait_for_leader(etcd.ready_timeout)
        term_after = int(etcd.member_status(after)["raftTerm"])
    return {"backend": "etcd", "pre_vote": pre_vote, "leader_before": leader, "isolated": lonely,
            "term_before": term_before, "isolated_term": isolated_term, "leader_after": after, "term_after": term_after,
            "disrupted": after != leader or term_after > term_before}


def _wait_until(condition: Any, timeout: float, what: str) -> float:
    """Poll ``condition()`` every 20 ms; return the seconds it took, or raise :class:`EtcdUnavailable` naming ``what``."""
    start = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - start
        except EtcdUnavailable:
            pass
        if time.monotonic() - start > timeout:
            raise EtcdUnavailable(f"{what} did not happen within {timeout} s")
        time.sleep(0.02)


def minority_leader_trial(*, isolate_s: float = 3.0, n: int = 3) -> dict[str, Any]:
    """Lesson 07's leader cut off in a minority, on real etcd: does it know it is alone?

    Starts an ``n``-member cluster whose peer links can be cut, writes once,
    cuts the leader off from every other member for ``isolate_s`` seconds and
    watches what the cut-off leader says about itself (its own status answers
    clients; only its peer links are cut) and what the others do. etcd always
    runs check-quorum (dissertation §6.2): a leader that has not heard from a
    majority for an election timeout steps down. The row has the columns of
    :func:`raftedu.experiments.minority_leader_trial`: ``old_leader``,
    ``stepped_down`` and ``stepped_down_ms`` (after the cut, polled every
    20 ms), ``new_leader`` (elected by the majority), ``leaders_at_end`` (how
    many members believe they lead when the cut ends) and
    ``backend="etcd"``, ``check_quorum=True``.
    """
    with EtcdCluster(n, partitionable=True) as etcd:
        old = etcd.wait_for_leader(etcd.ready_timeout)
        etcd.put("raftedu/minority", "before", timeout=etcd.ready_timeout)
        others = [i for i in etcd.members if i != old]
        etcd.isolate(old)
        start = time.monotonic()
        stepped_down_ms = float("nan")
        new_leader = None
        while time.monotonic() - start < isolate_s:
            if stepped_down_ms != stepped_down_ms and etcd.leads(old, timeout=0.2) is False:
                stepped_down_ms = 1000 * (time.monotonic() - start)
            if new_leader is None:
                new_leader = next((i for i in others if etcd.leads(i, timeout=0.2)), None)
            time.sleep(0.02)
        believers = sum(bool(etcd.leads(i, timeout=0.5)) for i in etcd.members)
    return {"backend": "etcd", "check_quorum": True, "old_leader": old, "stepped_down": stepped_down_ms == stepped_down_ms,
            "stepped_down_ms": stepped_down_ms, "new_leader": new_leader, "leaders_at_end": believers}


def catch_up_trial(lag: int, *, snapshot_count: int = 100, n: int = 3) -> dict[str, Any]:
    """A member that was down while ``lag`` entries were written comes back: entries, or a whole snapshot?

    Starts ``n`` members with ``--snapshot-count snapshot_count``, kills one
    follower, writes ``lag`` keys through the leader, restarts the follower and
    waits until its commit index reaches the leader's. The row has the columns
    of :func:`raftedu.experiments.catch_up_trial`: ``behind`` (entries the
    member missed) and ``missed_from`` (the first of them), the leader's
    ``snapshot_index`` and ``first_kept`` (the first raft log entry it still
    had: etcd compacts only up to 5,000 entries before each snapshot), ``snapshots_sent`` (whole snapshots the member
    received: etcd's metric), ``caught_up_s`` and ``same_state`` (its copy of
    the store has the leader's revision), ``backend="etcd"``.
    """
    if isinstance(lag, bool) or not isinstance(lag, int) or not 0 <= lag <= 50_000:
        raise ValueError(f"lag must be a whole number of writes from 0 to 50,000; got {lag!r}")
    with EtcdCluster(n, snapshot_count=snapshot_count, log_level="info") as etcd:
        leader = etcd.wait_for_leader(etcd.ready_timeout)
        etcd.put("raftedu/catch-up", "before", timeout=etcd.ready_timeout)
        down = next(i for i in etcd.members if i != leader)
        _wait_until(lambda: etcd.member_status(down)["raftIndex"] == etcd.member_status(leader)["raftIndex"],
                    etcd.ready_timeout, f"member {down} reaching the leader's commit index")
        had = int(etcd.member_status(down)["raftIndex"])
        etcd.kill(down)
        etcd.put_many(lag, member=leader)
        target = int(etcd.member_status(leader)["raftIndex"])
        time.sleep(0.3)  # the last writes may have just triggered a snapshot: let its compaction be logged too
        compaction = etcd.compaction(leader)
        etcd.restart(down)
        caught_up_s = _wait_until(lambda: int(etcd.member_status(down, timeout=0.5)["raftIndex"]) >= target,
                                  60.0, f"member {down} catching up to index {target}")
        try:
            _wait_until(lambda: etcd.revision(down) == etcd.revision(leader), 10.0, f"member {down} applying what it got")
        except EtcdUnavailable:
            pass  # reported as same_state=False, not as an error: a member that caught up with another store is the news
        same = etcd.revision(down) == etcd.revision(leader)
        snapshots = etcd.snapshots_received(down)
    compacted = compaction["compacted_to"]
    return {"backend": "etcd", "lag": lag, "behind": target - had, "missed_from": had + 1,
            "snapshot_every": snapshot_count,
            "snapshot_index": compaction["snapshot_index"], "first_kept": None if compacted is None else compacted + 1,
            "snapshots_sent": snapshots, "caught_up_s": caught_up_s, "same_state": same}


def _restore(etcd: EtcdCluster) -> int:
    """Bring every member back and confirm a write; return the leader."""
    for i, m in etcd.members.items():
        if m.paused:
            etcd.resume(i)
        elif m.process is None:
            etcd.restart(i)
    etcd.put("raftedu/restore", "ok", timeout=etcd.ready_timeout)
    return etcd.wait_for_leader(etcd.ready_timeout)


def _stop_and_write(etcd: EtcdCluster, k: int, victims: str, fault: str, trial: int, bound_s: float,
                    rng: Any) -> dict[str, Any]:
    leader = _restore(etcd)
    others = [i for i in etcd.members if i != leader]
    down = ([leader] + rng.sample(others, k - 1) if k else []) if victims == "leader" else rng.sample(others, k)
    start = time.monotonic()
    for i in down:
        (etcd.kill if fault == "kill" else etcd.pause)(i)
    new_leader_ms = commit_ms = float("nan")
    deadline = start + bound_s
    while time.monotonic() < deadline:
        if leader in down and new_leader_ms != new_leader_ms and etcd.leader(timeout=0.2) not in (None, *down):
            new_leader_ms = 1000 * (time.monotonic() - start)
        try:
            etcd.put("raftedu/probe", f"{k}-{trial}", timeout=min(0.5, max(0.05, deadline - time.monotonic())))
            commit_ms = 1000 * (time.monotonic() - start)
            break
        except EtcdUnavailable:
            continue
    if leader in down and commit_ms == commit_ms and new_leader_ms != new_leader_ms:
        new_leader_ms = commit_ms  # the write itself proves a new leader by then
    return {"n": etcd.n, "k": k, "victims": victims, "trial": trial, "crashed": tuple(sorted(down)),
            "leader_crashed": leader in down, "success": commit_ms == commit_ms,
            "outcome": "committed" if commit_ms == commit_ms else "bound",
            "new_leader_ms": new_leader_ms if leader in down else 0.0, "commit_ms": commit_ms,
            "fault": fault, "backend": "etcd"}


@atexit.register
def _close_all() -> None:
    for cluster in list(_live):
        cluster.close()
