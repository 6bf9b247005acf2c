"""Real servers for the tests: nginx and squid from the distribution's packages, and a
userspace relay that adds round-trip time.

Each is configured by files written into a fresh temporary folder, listens on a 127.0.0.1
port picked at run time, runs in the foreground as a child process and is stopped by its
process id. Without the binaries, a test using them is skipped, or fails when the
environment says ``REQUIRE_REAL_SERVERS=1`` (CI sets it, so there they always run)::

    nginx = Nginx(cert, upstreams={"/altan/": altan_replica_url}).start()
    relay = DelayRelay(("127.0.0.1", nginx.port), one_way=0.025).start()
    squid = Squid(users={"user": "right-password"}).start()
    ...
    for server in (relay, nginx, squid):
        server.stop()

``Nginx`` is a TLS reverse proxy with a short ``keepalive_timeout``, ``keepalive_requests 5``
and ``/unavailable``, a location that answers 503 with ``Retry-After: 1``. ``Squid`` is a
forward proxy (CONNECT and absolute-form requests) with a second port, ``auth_port``, that
requires basic proxy authentication. ``DelayRelay`` holds every chunk of bytes, and the end
of each stream (FIN), for ``one_way`` seconds in each direction, as a link with that latency
would (netem needs root and a kernel module; this needs neither).
"""

from __future__ import annotations

import collections
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from typing import Any, Deque, Dict, List, Optional, Tuple, TypeVar

import pytest

START_TIMEOUT = 20.0  # how long a server may take to start listening
_P = TypeVar("_P", bound="_Process")


def require(binary: str, *candidates: str, package: str = "") -> str:
    """The path of ``binary``; skip the test if it is not installed, or fail it when
    ``REQUIRE_REAL_SERVERS=1`` says the real servers must run."""
    for path in (*candidates, shutil.which(binary)):
        if path and os.access(path, os.X_OK):
            return path
    message = "%s is not installed (apt-get install %s)" % (binary, package or binary)
    if os.environ.get("REQUIRE_REAL_SERVERS") == "1":
        pytest.fail(message + "; REQUIRE_REAL_SERVERS=1 requires it")
    pytest.skip(message)
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, process: "subprocess.Popen[bytes]", log: str) -> None:
    """Return once something accepts connections on ``port``; fail if the process exits."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited with %s: %s" % (process.returncode, _tail(log)))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)  # polling the server's readiness, not synchronising a test
    raise RuntimeError("server did not listen on port %d: %s" % (port, _tail(log)))


def _tail(path: str) -> str:
    try:
        with open(path, errors="replace") as log:
            return log.read()[-2000:]
    except OSError:
        return "(no log)"


class _Process:
    """A server run in the foreground as a child process, stopped by its pid."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="realserver-")
        os.chmod(self.dir, 0o755)  # squid's helpers and nginx's workers drop root
        self.process: Optional["subprocess.Popen[bytes]"] = None

    def _write_config(self, name: str, text: str) -> str:
        """Write ``text`` to the file ``name`` in this server's folder; its path."""
        path = os.path.join(self.dir, name)
        with open(path, "w") as file:
            file.write(text)
        return path

    def _command(self) -> Tuple[List[str], str, List[int]]:
        """How to run the server: its argv, the log to quote if it fails to start, and the
        ports it listens on once it is ready."""
        raise NotImplementedError

    def start(self: _P) -> _P:
        argv, log, ports = self._command()
        with open(os.path.join(self.dir, "stdout.log"), "wb") as out:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            for port in ports:
                _wait_listening(port, self.process, log)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Nginx(_Process):
    """nginx as a TLS reverse proxy: ``upstreams`` maps a location prefix (``"/altan/"``)
    to the http URL it is passed to (the prefix replaced by the URL's path)."""

    def __init__(
        self,
        cert_pem: bytes,
        key_pem: bytes,
        upstreams: Dict[str, str],
        *,
        keepalive_timeout: float = 2.0,
        keepalive_requests: int = 5,
    ) -> None:
        super().__init__()
        self.binary = require("nginx", "/usr/sbin/nginx")
        self.port = _free_port()
        for name, pem in (("cert.pem", cert_pem), ("key.pem", key_pem)):
            with open(os.path.join(self.dir, name), "wb") as file:
                file.write(pem)
        locations = "".join(
            "    location %s { proxy_pass %s/; }\n" % (prefix, url.rstrip("/")) for prefix, url in upstreams.items()
        )
        temp = "".join(
            "  %s_temp_path %s;\n" % (kind, os.path.join(self.dir, kind))
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        self.config = self._write_config(
            "nginx.conf",
            (
                "daemon off;\nmaster_process on;\nworker_processes 1;\n"
                "pid %(dir)s/nginx.pid;\nerror_log %(dir)s/error.log warn;\n"
                "events { worker_connections 512; }\n"
                "http {\n"
                "  access_log %(dir)s/access.log;\n%(temp)s"
                "  keepalive_timeout %(timeout)gs;\n  keepalive_requests %(requests)d;\n"
                "  server {\n"
                "    listen 127.0.0.1:%(port)d ssl;\n"
                "    ssl_certificate %(dir)s/cert.pem;\n    ssl_certificate_key %(dir)s/key.pem;\n"
                "    location /unavailable {\n"
                "      default_type application/json;\n"
                "      add_header Retry-After 1 always;\n"
                '      return 503 \'{"detail": "down for maintenance"}\';\n'
                "    }\n%(locations)s"
                "  }\n}\n"
                % {
                    "dir": self.dir,
                    "temp": temp,
                    "timeout": keepalive_timeout,
                    "requests": keepalive_requests,
                    "port": self.port,
                    "locations": locations,
                }
            ),
        )

    def _command(self) -> Tuple[List[str], str, List[int]]:
        log = os.path.join(self.dir, "error.log")
        return [self.binary, "-e", log, "-p", self.dir, "-c", self.config], log, [self.port]

    def url(self, path: str = "") -> str:
        return "https://127.0.0.1:%d%s" % (self.port, path)


class Squid(_Process):
    """squid as a forward proxy on ``port`` (no authentication) and ``auth_port`` (basic
    proxy authentication against ``users``, name to password). Only loopback clients are
    served; nothing is cached."""

    def __init__(self, users: Optional[Dict[str, str]] = None) -> None:
        super().__init__()
        self.binary = require("squid", "/usr/sbin/squid")
        helper = require(
            "basic_ncsa_auth", "/usr/lib/squid/basic_ncsa_auth", "/usr/lib64/squid/basic_ncsa_auth", package="squid"
        )
        openssl = require("openssl", "/usr/bin/openssl")
        self.port = _free_port()
        self.auth_port = _free_port()
        passwords = os.path.join(self.dir, "passwords")
        with open(passwords, "w") as file:
            for user, password in (users or {}).items():
                hashed = subprocess.run(
                    [openssl, "passwd", "-apr1", "-stdin"], input=password, capture_output=True, text=True, check=True
                ).stdout.strip()
                file.write("%s:%s\n" % (user, hashed))
        os.chmod(passwords, 0o644)
        os.makedirs(os.path.join(self.dir, "logs"), mode=0o777)
        os.chmod(os.path.join(self.dir, "logs"), 0o777)  # written by squid after it drops root
        self.access_log = os.path.join(self.dir, "logs", "access.log")
        self.config = self._write_config(
            "squid.conf",
            (
                "http_port 127.0.0.1:%(port)d\n"
                "http_port 127.0.0.1:%(auth_port)d name=authenticated\n"
                "visible_hostname squid.test\n"
                "pid_filename %(logs)s/squid.pid\n"
                "cache_log %(logs)s/cache.log\n"
                "access_log stdio:%(logs)s/access.log\n"
                "coredump_dir %(logs)s\n"
                "netdb_filename none\npinger_enable off\nshutdown_lifetime 0 seconds\n"
                "cache deny all\ncache_mem 8 MB\n"
                "auth_param basic program %(helper)s %(passwords)s\n"
                "auth_param basic children 2 startup=1\n"
                "auth_param basic realm squid-test\n"
                "acl authenticated_port myportname authenticated\n"
                "acl authenticated_user proxy_auth REQUIRED\n"
                "acl loopback src 127.0.0.1/32\n"
                "http_access deny !loopback\n"
                "http_access deny authenticated_port !authenticated_user\n"
                "http_access allow loopback\n"
                "http_access deny all\n"
                % {
                    "port": self.port,
                    "auth_port": self.auth_port,
                    "logs": os.path.join(self.dir, "logs"),
                    "helper": helper,
                    "passwords": passwords,
                }
            ),
        )

    def _command(self) -> Tuple[List[str], str, List[int]]:
        log = os.path.join(self.dir, "logs", "cache.log")
        return [self.binary, "-N", "-f", self.config], log, [self.port, self.auth_port]

    def url(self, user: Optional[str] = None, password: Optional[str] = None, *, auth: bool = False) -> str:
        credentials = "%s:%s@" % (user, password) if user is not None else ""
        return "http://%s127.0.0.1:%d" % (credentials, self.auth_port if auth else self.port)


class _Direction:
    __slots__ = ("src", "dst", "queue", "last_due")

    def __init__(self, src: socket.socket, dst: socket.socket) -> None:
        self.src = src
        self.dst = dst
        self.queue: Deque[Tuple[float, Optional[bytes]]] = collections.deque()
        self.last_due = 0.0


class DelayRelay:
    """Relays each TCP connection to ``target``, holding every chunk and the FIN for
    ``one_way`` seconds in each direction (a round trip of twice that). One thread, one
    selector; ``stop()`` closes everything."""

    def __init__(self, target: Tuple[str, int], one_way: float = 0.025) -> None:
        self.target = target
        self.one_way = one_way
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = int(self.listener.getsockname()[1])
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.directions: Dict[socket.socket, _Direction] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self.selector.register(self._wake_r, selectors.EVENT_READ)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="delay-relay-%d" % self.port, daemon=True)

    def start(self) -> "DelayRelay":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        self._wake_w.send(b"x")
        self._thread.join(10)
        for sock in {*self.directions, self.listener, self._wake_r, self._wake_w}:
            sock.close()
        self.selector.close()

    def _accept(self) -> None:
        client, _ = self.listener.accept()
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(True)
            sock.settimeout(5)
        self.directions[client] = _Direction(client, upstream)
        self.directions[upstream] = _Direction(upstream, client)
        for sock in (client, upstream):
            self.selector.register(sock, selectors.EVENT_READ)

    def _receive(self, sock: socket.socket) -> None:
        direction = self.directions.get(sock)
        if direction is None:
            return
        try:
            data: Optional[bytes] = sock.recv(262144)
        except OSError:  # a reset: passed on as the end of the stream
            data = b""
        if not data:
            data = None
            self.selector.unregister(sock)
        due = max(time.monotonic() + self.one_way, direction.last_due)
        direction.last_due = due
        direction.queue.append((due, data))

    def _drop(self, sock: socket.socket) -> None:
        direction = self.directions.pop(sock, None)
        if direction is None:
            return
        self.directions.pop(direction.dst, None)
        for end in (direction.src, direction.dst):
            try:
                self.selector.unregister(end)
            except (KeyError, ValueError):
                pass
            end.close()

    def _flush(self) -> float:
        now = time.monotonic()
        next_due = float("inf")
        for direction in list(self.directions.values()):
            while direction.src in self.directions and direction.queue and direction.queue[0][0] <= now:
                _, data = direction.queue.popleft()
                try:
                    if data is None:
                        direction.dst.shutdown(socket.SHUT_WR)
                        direction.last_due = -1.0  # this direction is finished
                    else:
                        direction.dst.sendall(data)
                except OSError:
                    self._drop(direction.src)
            if direction.src not in self.directions:
                continue
            if direction.queue:
                next_due = min(next_due, direction.queue[0][0])
            elif direction.last_due < 0:
                other = self.directions.get(direction.dst)
                if other is None or (other.last_due < 0 and not other.queue):
                    self._drop(direction.src)
        return next_due

    def _run(self) -> None:
        while not self._stopping:
            next_due = self._flush()
            timeout = None if next_due == float("inf") else max(0.0, next_due - time.monotonic())
            for key, _ in self.selector.select(timeout):
                sock: Any = key.fileobj
                if sock is self._wake_r:
                    return
                if sock is self.listener:
                    self._accept()
                else:
                    self._receive(sock)
