"""A link with a fixed round-trip time between two network namespaces, for the latency
benchmark.

``Link`` creates two namespaces joined by a veth pair (the client's and the server's),
and removes them on exit; nothing outside those namespaces is touched. The delay comes
from ``tc qdisc ... netem delay`` on both ends when the kernel has netem; otherwise from
this file's userspace forwarder, run inside the server's namespace::

    python benchmarks/delaylink.py --one-way-ms 10 --listen 10.250.0.2 --to 127.0.0.1:8443 --to 127.0.0.1:9000

The forwarder relays each TCP connection and holds every chunk of bytes for one-way
delay before passing it on, in order, in both directions; the first bytes of a connection
wait one round trip more, as the TCP handshake would (the forwarder accepts at once). It
prints ``READY <port> <port>...`` (one listening port per ``--to``) and runs until its
stdin closes.
"""

from __future__ import annotations

import argparse
import collections
import os
import selectors
import shutil
import socket
import subprocess
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Deque, Dict, List, Optional, Tuple

_PREFIX = "pdbench-"  # namespace names: pdbench-c-<pid> (client), pdbench-s-<pid> (server)
CLIENT_ADDRESS = "10.250.0.1"
SERVER_ADDRESS = "10.250.0.2"


# ---------------------------------------------------------------------------------------------
# Namespaces
# ---------------------------------------------------------------------------------------------


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


class Link:
    """Two namespaces, ``client_ns`` and ``server_ns``, joined by a veth pair.

    ``mode`` is ``"netem"`` (the kernel delays every packet; connect straight to the
    server) or ``"forwarder"`` (run ``forwarder_command`` in ``server_ns`` and connect
    through it). Use as a context manager: ``__exit__`` deletes both namespaces (and with
    them the veth pair) even after an error."""

    def __init__(self, one_way_ms: float, mode: str = "auto") -> None:
        self.one_way_ms = one_way_ms
        tag = os.getpid()
        self.client_ns = "%sc-%d" % (_PREFIX, tag)
        self.server_ns = "%ss-%d" % (_PREFIX, tag)
        self._veth_client = "pdbc%d" % tag  # at most 15 characters
        self._veth_server = "pdbs%d" % tag
        self._requested_mode = mode
        self.mode = ""
        self._created: List[str] = []

    @staticmethod
    def available() -> Optional[str]:
        """None if namespaces can be made here, else why not."""
        if not sys.platform.startswith("linux"):
            return "network namespaces need Linux"
        if shutil.which("ip") is None:
            return "the ip command (iproute2) is not installed"
        if os.geteuid() != 0:
            return "creating network namespaces needs root"
        return None

    @staticmethod
    def remove_stale() -> List[str]:
        """Delete namespaces this benchmark made in a run that was killed before it could
        clean up (named after the run's process id, which no longer exists)."""
        removed = []
        for line in _ip("netns", "list", check=False).stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            pid = name[len(_PREFIX) + 2 :] if name.startswith((_PREFIX + "c-", _PREFIX + "s-")) else ""
            if pid.isdigit() and not os.path.exists("/proc/%s" % pid):
                _ip("netns", "del", name, check=False)
                removed.append(name)
        return removed

    def __enter__(self) -> "Link":
        self.remove_stale()
        try:
            for ns in (self.client_ns, self.server_ns):
                if _ip("netns", "list").stdout.split().count(ns):
                    raise RuntimeError("namespace %s already exists" % ns)
                _ip("netns", "add", ns)
                self._created.append(ns)
            # Created directly inside the namespaces: no interface ever exists on the host.
            _ip(
                "link",
                "add",
                self._veth_client,
                "netns",
                self.client_ns,
                "type",
                "veth",
                "peer",
                "name",
                self._veth_server,
                "netns",
                self.server_ns,
            )
            for ns, dev, address in (
                (self.client_ns, self._veth_client, CLIENT_ADDRESS),
                (self.server_ns, self._veth_server, SERVER_ADDRESS),
            ):
                _ip("-n", ns, "addr", "add", address + "/30", "dev", dev)
                _ip("-n", ns, "link", "set", dev, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
            self.mode = self._requested_mode
            if self.mode in ("auto", "netem"):
                self.mode = "netem" if self._netem() else "forwarder"
                if self._requested_mode == "netem" and self.mode != "netem":
                    raise RuntimeError("tc netem is not available in this kernel")
            return self
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _netem(self) -> bool:
        if shutil.which("tc") is None:
            return False
        for ns, dev in ((self.client_ns, self._veth_client), (self.server_ns, self._veth_server)):
            result = subprocess.run(
                ["tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "netem", "delay", "%gms" % self.one_way_ms],
                capture_output=True,
                text=True,
                timeout=20,
            )
            if result.returncode != 0:
                return False
        return True

    def __exit__(self, *exc_info: object) -> None:
        while self._created:
            _ip("netns", "del", self._created.pop(), check=False)

    def command(self, ns: str, argv: List[str]) -> List[str]:
        return ["ip", "netns", "exec", ns, *argv]


# ---------------------------------------------------------------------------------------------
# The userspace delay forwarder
# ---------------------------------------------------------------------------------------------


class _Direction:
    """Bytes from ``src`` to ``dst``, each chunk held until its due time."""

    __slots__ = ("src", "dst", "queue", "last_due", "extra", "done")

    def __init__(self, src: socket.socket, dst: socket.socket, extra: float) -> None:
        self.src = src
        self.dst = dst
        self.queue: Deque[Tuple[float, Optional[bytes]]] = collections.deque()
        self.last_due = 0.0
        self.extra = extra  # added to the first chunk only
        self.done = False  # FIN passed on


class Forwarder:
    def __init__(self, one_way: float, listen: str, targets: List[Tuple[str, int]]) -> None:
        self.one_way = one_way
        self.selector = selectors.SelectSelector()  # select(): microsecond timeouts, epoll has milliseconds
        self.listeners: Dict[socket.socket, Tuple[str, int]] = {}
        self.directions: Dict[socket.socket, _Direction] = {}  # by source socket
        self.ports = []
        for target in targets:
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((listen, 0))
            listener.listen(256)
            self.listeners[listener] = target
            self.ports.append(listener.getsockname()[1])
            self.selector.register(listener, selectors.EVENT_READ)

    def _accept(self, listener: socket.socket) -> None:
        client, _ = listener.accept()
        try:
            upstream = socket.create_connection(self.listeners[listener], timeout=10)
        except OSError:
            client.close()
            return
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(10)
        rtt = 2 * self.one_way
        self.directions[client] = _Direction(client, upstream, rtt)
        self.directions[upstream] = _Direction(upstream, client, 0.0)
        self.selector.register(client, selectors.EVENT_READ)
        self.selector.register(upstream, selectors.EVENT_READ)

    def _close(self, sock: socket.socket) -> None:
        direction = self.directions.pop(sock, None)
        if direction is None:
            return
        for end in (direction.src, direction.dst):
            self.directions.pop(end, None)
            try:
                self.selector.unregister(end)
            except (KeyError, ValueError):
                pass
            end.close()

    def _receive(self, sock: socket.socket) -> None:
        direction = self.directions.get(sock)
        if direction is None:
            return
        try:
            data: Optional[bytes] = sock.recv(262144)
        except OSError:
            data = b""
        now = time.monotonic()
        if not data:
            data = None  # end of stream: pass the FIN on in order
            self.selector.unregister(sock)
        due = max(now + self.one_way + direction.extra, direction.last_due)
        direction.extra = 0.0
        direction.last_due = due
        direction.queue.append((due, data))

    def _flush(self, now: float) -> float:
        """Send what is due; return when the next chunk is due."""
        next_due = float("inf")
        for direction in list(self.directions.values()):
            if direction.src not in self.directions:
                continue
            while direction.queue and direction.queue[0][0] <= now:
                _, data = direction.queue.popleft()
                try:
                    if data is None:
                        direction.dst.shutdown(socket.SHUT_WR)
                        direction.done = True
                    else:
                        direction.dst.sendall(data)
                except OSError:
                    self._close(direction.src)
                    break
            if direction.queue:
                next_due = min(next_due, direction.queue[0][0])
            elif direction.done:
                other = self.directions.get(direction.dst)
                if other is None or (other.done and not other.queue):
                    self._close(direction.src)
        return next_due

    def run(self, stop: int) -> None:
        self.selector.register(stop, selectors.EVENT_READ)
        while True:
            next_due = self._flush(time.monotonic())
            timeout = None if next_due == float("inf") else max(0.0, next_due - time.monotonic())
            for key, _ in self.selector.select(timeout):
                sock = key.fileobj
                if sock == stop:
                    if not os.read(stop, 4096):
                        return
                    continue
                if sock in self.listeners:
                    self._accept(sock)  # type: ignore[arg-type]
                else:
                    self._receive(sock)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one-way-ms", type=float, required=True)
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--to", action="append", required=True, help="host:port to forward to")
    args = parser.parse_args()
    targets = [(t.rsplit(":", 1)[0], int(t.rsplit(":", 1)[1])) for t in args.to]
    forwarder = Forwarder(args.one_way_ms / 1000.0, args.listen, targets)
    print("READY " + " ".join(str(port) for port in forwarder.ports), flush=True)
    forwarder.run(sys.stdin.fileno())  # stdin is a pipe from the runner: at its EOF, stop


if __name__ == "__main__":
    main()
