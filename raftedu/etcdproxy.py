"""A network between real etcd members that a notebook can cut: a proxy in front of every member's peer port.

Members on one machine all talk over 127.0.0.1, so a partition cannot be made
with cables, and without root-only firewall rules. Instead each member
advertises a port of this proxy as its peer address; the proxy forwards to the
member's real peer port. etcd names the sender on every peer request (the
``X-Server-From`` header of its raft transport, on both the long-lived message
streams and the pipelined posts), so the proxy knows which two members a
connection joins: to cut the link between A and B it closes their connections
and refuses new ones until healed. Client ports are not proxied: an isolated
member still answers status queries, so a notebook can watch its term rise.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PeerProxy"]


@dataclass
class _Link:
    sender: int | None  # etcd member id from X-Server-From (None: not a raft request)
    dst: int            # member index the connection goes to
    client: socket.socket
    upstream: socket.socket


class PeerProxy:
    """Forwards peer traffic to members ``targets`` (member index -> real peer port); links can be cut and healed."""

    def __init__(self, targets: dict[int, int]) -> None:
        """Listen on one free port per member (see :attr:`ports`)."""
        self.targets: dict[int, int] = {}
        self.member_of: dict[int, int] = {}
        """etcd member id -> member index (filled by :meth:`learn`)."""
        self.cut_pairs: set[frozenset[int]] = set()
        self.refused = 0
        """Connections refused or closed because their link was cut (evidence the cut acted)."""
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self._closed = False
        self._listeners: dict[int, socket.socket] = {}
        self.ports: dict[int, int] = {}
        """member index -> the proxy port the member advertises as its peer address."""
        for i, port in targets.items():
            self.add(i, port)

    def add(self, i: int, port: int) -> None:
        """Forward a new member ``i`` (real peer port ``port``) through a port of its own."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        self.targets[i], self._listeners[i], self.ports[i] = port, s, s.getsockname()[1]
        threading.Thread(target=self._accept, args=(i, s), daemon=True, name=f"etcd-peer-proxy-{i}").start()

    def learn(self, member_id: int, index: int) -> None:
        """Tell the proxy which member index an etcd member id belongs to."""
        self.member_of[member_id] = index

    def cut(self, a: int, b: int) -> None:
        """Cut the link between members ``a`` and ``b`` (both ways): close their connections, refuse new ones."""
        with self._lock:
            self.cut_pairs.add(frozenset((a, b)))
            doomed = [link for link in self._links if self._is_cut(link.sender, link.dst)]
        for link in doomed:
            self._close(link)

    def heal(self) -> None:
        """Restore every link."""
        with self._lock:
            self.cut_pairs.clear()

    def close(self) -> None:
        """Stop listening and close every connection."""
        self._closed = True
        for s in self._listeners.values():
            s.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            self._close(link)

    # ---- inside ----------------------------------------------------------------

    def _is_cut(self, sender: int | None, dst: int) -> bool:
        src = self.member_of.get(sender) if sender is not None else None
        return src is not None and frozenset((src, dst)) in self.cut_pairs

    def _accept(self, dst: int, listener: socket.socket) -> None:
        while not self._closed:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._open, args=(dst, client), daemon=True).start()

    def _open(self, dst: int, client: socket.socket) -> None:
        head = b""
        try:
            client.settimeout(10)
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = client.recv(65536)
                if not chunk:
                    client.close()
                    return
                head += chunk
            client.settimeout(None)
        except OSError:
            client.close()
            return
        sender = _sender(head)
        with self._lock:
            if self._is_cut(sender, dst) or self._closed:
                self.refused += 1
                client.close()
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.targets[dst]), timeout=5)
            except OSError:
                client.close()
                return
            upstream.settimeout(None)
            link = _Link(sender, dst, client, upstream)
            self._links.append(link)
        try:
            upstream.sendall(head)
        except OSError:
            self._close(link)
            return
        threading.Thread(target=_pump, args=(client, upstream, lambda: self._close(link)), daemon=True).start()
        _pump(upstream, client, lambda: self._close(link))

    def _close(self, link: _Link) -> None:
        with self._lock:
            if link not in self._links:
                return
            self._links.remove(link)
            if self._is_cut(link.sender, link.dst):
                self.refused += 1
        for s in (link.client, link.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


def _sender(head: bytes) -> int | None:
    """The etcd member id in an HTTP request's ``X-Server-From`` header (hexadecimal), if any."""
    for line in head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-server-from":
            try:
                return int(value.strip(), 16)
            except ValueError:
                return None
    return None


def _pump(src: socket.socket, dst: socket.socket, done: Callable[[], None]) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    done()
