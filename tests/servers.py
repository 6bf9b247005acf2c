"""Real, scriptable HTTP/1.1 servers on 127.0.0.1 for the transport tests.

``Server`` is a threaded HTTP/1.1 server (plain, or TLS with a ``trustme`` certificate) with
keep-alive. Each test scripts what it answers and injects faults, then synchronises on what
the server saw -- every request is recorded with its method, path, headers, body and the
connection (client port) it came on -- through ``wait_for``/``wait_requests``, never by
sleeping::

    server.add("/connection", rate_limited(503, retry_after=0), Response(200, json={"data": []}))
    server.add("/other", *burst(502, 3, then=Response(200, json={})))
    server.route("/slow", lambda request: Response(200, json={}, delay=5))
    ...
    server.wait_requests(2, path="/connection")
    assert server.count("/connection", "GET") == 2

Faults a ``Response`` can carry: ``delay`` (before the status line) or ``hold`` (an Event to
wait for), ``body_delay`` (mid-body pause), ``trickle`` (drip the body), ``fault="close"``
(close without answering), ``fault="reset"`` (RST via SO_LINGER 0 after reading the request),
``fault="truncate"`` (half the body, then close), ``content_length`` (a wrong one),
``chunks`` (chunked encoding), ``close`` (``Connection: close``), ``raw`` (these bytes
verbatim instead of a response: a malformed status line, a broken chunk...). The server can
also close idle keep-alive connections after ``idle_timeout`` seconds or on demand
(``close_idle``, with a FIN or, ``reset=True``, an RST).

``OAuthTokens`` is a fake OAuth client-credentials endpoint (route it at ``/v1/oauth/token``):
it issues unique tokens, counts token requests, can be slow, fail on demand and expire the
tokens it issued; ``protect`` makes a handler answer 401 to a request without a live token.
``echo`` answers a request with what the server received.

``ConnectProxy`` is a tiny forward proxy: CONNECT tunnels and absolute-form plain requests.

All waiting inside the servers is interruptible, so ``stop()`` returns promptly.
"""

from __future__ import annotations

import email.utils
import json as jsonlib
import secrets
import socket
import ssl
import struct
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union
from urllib.parse import urlsplit

__all__ = [
    "Response",
    "Request",
    "Connection",
    "Server",
    "ConnectProxy",
    "http_date",
    "free_port",
    "rate_limited",
    "html_error",
    "burst",
    "OAuthTokens",
    "echo",
]

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_MISSING: Any = object()
WAIT_TIMEOUT = 10.0  # how long a test waits for the server to reach a state before failing


def http_date(epoch_seconds: float) -> str:
    """An HTTP date (IMF-fixdate, GMT) for ``Retry-After``."""
    return email.utils.formatdate(epoch_seconds, usegmt=True)


def free_port() -> int:
    """A loopback port that nothing listens on right now (connecting to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Response:
    """A scripted answer. ``json=`` or ``body=`` (bytes or str); the rest are faults."""

    def __init__(
        self,
        status: int = 200,
        body: Union[bytes, str, None] = None,
        *,
        json: Any = _MISSING,
        headers: Optional[Dict[str, str]] = None,
        reason: Optional[str] = None,
        content_type: Optional[str] = None,
        delay: float = 0.0,
        hold: Optional[threading.Event] = None,
        body_delay: float = 0.0,
        trickle: Optional[Tuple[int, float]] = None,
        chunks: Optional[Iterable[bytes]] = None,
        content_length: Optional[int] = None,
        close: bool = False,
        fault: Optional[str] = None,
        raw: Optional[bytes] = None,
    ) -> None:
        if fault not in (None, "close", "reset", "truncate"):
            raise ValueError("unknown fault %r" % (fault,))
        self.status = status
        if json is not _MISSING:
            body = jsonlib.dumps(json)
            content_type = content_type or "application/json"
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.body: bytes = body or b""
        self.headers = dict(headers or {})
        self.reason = reason or _REASONS.get(status, "Status")
        self.content_type = content_type or ("application/json" if self.body[:1] in (b"{", b"[") else "text/plain")
        self.delay = delay
        self.hold = hold
        self.body_delay = body_delay
        self.trickle = trickle
        self.chunks = list(chunks) if chunks is not None else None
        self.content_length = content_length
        self.close = close
        self.fault = fault
        self.raw = raw  # sent as is (after delay/hold), then the connection is closed


def rate_limited(
    status: int = 429,
    *,
    retry_after: Optional[float] = None,
    retry_after_date: Optional[float] = None,
    retry_after_ms: Optional[float] = None,
    ratelimit_reset: Optional[float] = None,
    detail: str = "Too many requests",
) -> Response:
    """A 429 (or 503) with a retry hint: ``Retry-After`` in seconds, or as an HTTP date for
    ``retry_after_date`` seconds from now, ``retry-after-ms``, or ``X-RateLimit-Reset``
    (seconds; a value above 1e9 is an epoch time)."""
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = "%g" % retry_after
    if retry_after_date is not None:
        headers["Retry-After"] = http_date(time.time() + retry_after_date)
    if retry_after_ms is not None:
        headers["retry-after-ms"] = "%g" % retry_after_ms
    if ratelimit_reset is not None:
        headers["X-RateLimit-Reset"] = "%d" % ratelimit_reset
    return Response(status, json={"detail": detail}, headers=headers)


def html_error(status: int = 502, text: str = "Bad Gateway") -> Response:
    """An HTML error page, as a load balancer or proxy sends."""
    page = (
        "<html><head><title>%d %s</title></head><body><center><h1>%d %s</h1></center><hr>"
        "<center>nginx</center></body></html>" % (status, text, status, text)
    )
    return Response(status, page, content_type="text/html")


def burst(status: int, n: int, then: Optional[Response] = None) -> List[Response]:
    """``n`` answers with ``status`` (e.g. a 503 burst), then ``then`` if given."""
    return [Response(status, json={"detail": "burst %d/%d" % (i + 1, n)}) for i in range(n)] + ([then] if then else [])


class Connection:
    """One accepted TCP connection, as the server saw it."""

    def __init__(self, number: int, client_port: int) -> None:
        self.number = number
        self.client_port = client_port
        self.requests = 0
        self.state = "open"  # open -> idle <-> busy -> closed
        self.closed_by: Optional[str] = None  # client | idle-timeout | close_idle | fault | response | stop | error
        self.tls_error: Optional[str] = None
        self.closed = threading.Event()
        self.sock: Optional[socket.socket] = None

    def __repr__(self) -> str:
        return "<Connection #%d port=%d requests=%d state=%s closed_by=%s>" % (
            self.number,
            self.client_port,
            self.requests,
            self.state,
            self.closed_by,
        )


class Request:
    """One request as received: ``path`` has no query; ``headers`` has lower-case names."""

    def __init__(
        self,
        method: str,
        target: str,
        version: str,
        headers: List[Tuple[str, str]],
        body: bytes,
        connection: Connection,
        index: int,
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        parts = urlsplit(target)
        self.path = parts.path or "/"
        self.query = parts.query
        self.raw_headers = headers
        self.headers: Dict[str, str] = {}
        for name, value in headers:
            self.headers[name.lower()] = value
        self.body = body
        self.connection = connection
        self.client_port = connection.client_port
        self.index = index  # 0 for the first request on its connection
        self.received = time.monotonic()

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    def __repr__(self) -> str:
        return "<Request %s %s conn=#%d>" % (self.method, self.target, self.connection.number)


Handler = Callable[[Request], Response]


class _Base:
    """Listening socket, accept thread, connection threads, a condition for waiting."""

    def __init__(self, ssl_context: Optional[ssl.SSLContext] = None, sock: Optional[socket.socket] = None) -> None:
        self.ssl_context = ssl_context
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
        self._listener = sock
        self.host, self.port = sock.getsockname()[:2]
        self.scheme = "https" if ssl_context else "http"
        self.url = "%s://127.0.0.1:%d" % (self.scheme, self.port)
        self.cond = threading.Condition()
        self.connections: List[Connection] = []
        self._threads: List[threading.Thread] = []
        self._stopping = threading.Event()
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> "_Base":
        if not self._started:
            self._started = True
            self._listener.listen(64)
            self._spawn(self._accept_loop, "accept")
        return self

    def stop(self) -> None:
        """Stop accepting, close every connection, and join the threads."""
        self._stopping.set()
        with self.cond:
            self.cond.notify_all()
            live = [c for c in self.connections if c.sock is not None and not c.closed.is_set()]
        try:
            # shutdown() wakes the accept() blocked in another thread; close() alone does not.
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for conn in live:
            _shutdown(conn.sock)
        for thread in list(self._threads):
            thread.join(5)

    def __enter__(self) -> "_Base":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name="test-server-%s-%d" % (name, self.port), daemon=True)
        self._threads.append(thread)
        thread.start()

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` unless the server stops first; True if it is stopping."""
        return self._stopping.wait(seconds) if seconds > 0 else self._stopping.is_set()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, addr = self._listener.accept()
            except OSError:
                return
            with self.cond:
                conn = Connection(len(self.connections) + 1, addr[1])
                conn.sock = sock
                self.connections.append(conn)
                self.cond.notify_all()
            self._spawn(self._connection_thread, "conn%d" % conn.number, conn)

    def _connection_thread(self, conn: Connection) -> None:
        sock = conn.sock
        assert sock is not None
        reason = "error"
        try:
            if self.ssl_context is not None:
                sock.settimeout(WAIT_TIMEOUT)
                try:
                    sock = self.ssl_context.wrap_socket(sock, server_side=True)
                except (OSError, ssl.SSLError) as exc:
                    conn.tls_error = str(exc)
                    reason = "tls-error"
                    return
                sock.settimeout(None)
                conn.sock = sock
            reason = self.serve(conn, sock)
        except Exception:  # noqa: BLE001 - a fault in the test server must not take the process down
            reason = "error"
        finally:
            try:
                sock.close()
            except OSError:
                pass
            with self.cond:
                conn.state = "closed"
                conn.closed_by = conn.closed_by or ("stop" if self._stopping.is_set() else reason)
                conn.closed.set()
                self.cond.notify_all()

    def serve(self, conn: Connection, sock: socket.socket) -> str:
        raise NotImplementedError

    # -- waiting ------------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], Any], timeout: float = WAIT_TIMEOUT, what: str = "") -> Any:
        """Block until ``predicate()`` is truthy (checked whenever the server's state changes);
        AssertionError after ``timeout`` seconds."""
        with self.cond:
            result = self.cond.wait_for(predicate, timeout)
        if not result:
            raise AssertionError(
                "server did not reach the expected state%s within %g s: %r"
                % (" (" + what + ")" if what else "", timeout, self.connections)
            )
        return result

    def wait_connections_closed(self, n: int = 1, by: Optional[str] = None, timeout: float = WAIT_TIMEOUT) -> None:
        def closed() -> bool:
            return sum(1 for c in self.connections if c.closed.is_set() and by in (None, c.closed_by)) >= n

        self.wait_for(closed, timeout, "%d connection(s) closed by %s" % (n, by or "anyone"))


class Server(_Base):
    """A scriptable HTTP/1.1 server; see the module docstring."""

    def __init__(
        self,
        ssl_context: Optional[ssl.SSLContext] = None,
        *,
        idle_timeout: Optional[float] = None,
        sock: Optional[socket.socket] = None,
        default: Optional[Handler] = None,
    ) -> None:
        super().__init__(ssl_context, sock)
        self.idle_timeout = idle_timeout
        self.requests: List[Request] = []
        self._queues: Dict[Tuple[Optional[str], str], List[Union[Response, Handler]]] = {}
        self._routes: Dict[Tuple[Optional[str], str], Handler] = {}
        self.default: Handler = default or (lambda request: Response(200, json={"ok": True, "path": request.path}))

    # -- scripting ----------------------------------------------------------------------------

    def add(self, path: str, *responses: Union[Response, Handler], method: Optional[str] = None) -> None:
        """Queue answers for ``path`` (and ``method``): each request takes the next one; when
        the queue is empty the route (``route``) or the default answers."""
        with self.cond:
            self._queues.setdefault((method, path), []).extend(responses)

    def route(self, path: str, handler: Union[Response, Handler], method: Optional[str] = None) -> None:
        """Answer every request for ``path`` with ``handler(request)`` (or a fixed Response)."""
        with self.cond:
            self._routes[(method, path)] = handler if callable(handler) else (lambda request, r=handler: r)

    def _answer_for(self, request: Request) -> Response:
        with self.cond:
            for key in ((request.method, request.path), (None, request.path)):
                queue = self._queues.get(key)
                if queue:
                    answer = queue.pop(0)
                    break
            else:
                answer = (
                    self._routes.get((request.method, request.path))
                    or self._routes.get((None, request.path))
                    or self.default
                )
        return answer(request) if callable(answer) else answer

    # -- inspection ---------------------------------------------------------------------------

    def count(self, path: Optional[str] = None, method: Optional[str] = None) -> int:
        """How many requests arrived (for ``path`` and ``method`` if given)."""
        return len(self.requests_for(path, method))

    def requests_for(self, path: Optional[str] = None, method: Optional[str] = None) -> List[Request]:
        with self.cond:
            return [r for r in self.requests if path in (None, r.path) and method in (None, r.method)]

    def wait_requests(
        self, n: int, path: Optional[str] = None, method: Optional[str] = None, timeout: float = WAIT_TIMEOUT
    ) -> None:
        self.wait_for(
            lambda: self.count(path, method) >= n, timeout, "%d request(s) %s %s" % (n, method or "", path or "")
        )

    def close_idle(self, timeout: float = WAIT_TIMEOUT, reset: bool = False, half: bool = False) -> int:
        """Close every keep-alive connection that is waiting for a request, as a server whose
        keep-alive timer fired would (``reset``: with an RST, as a NAT or a crashed load
        balancer does, instead of a FIN); returns how many, once they are closed.

        ``half``: only send the FIN and keep reading, as a far-away server looks to the client
        until its RST comes back (on loopback a closed socket answers data with an RST at
        once, which a real link delays): a request sent on such a connection is received,
        but never answered. Returns without waiting for the connections to close.

        It first waits until no connection is busy: a client has its response as soon as the
        last byte is sent, a moment before the server thread goes back to waiting."""
        self.wait_for(
            lambda: not any(c.state in ("open", "busy") for c in self.connections), timeout, "all connections idle"
        )
        with self.cond:
            idle = [c for c in self.connections if c.state == "idle"]
            for conn in idle:
                conn.closed_by = "close_idle"
                if half and conn.sock is not None:
                    try:
                        socket.socket.shutdown(conn.sock, socket.SHUT_WR)
                    except OSError:
                        pass
                elif reset and conn.sock is not None:
                    # SO_LINGER 0: the close() that ends the connection thread sends an RST.
                    # SHUT_RD wakes that thread's read without sending anything itself.
                    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    try:
                        socket.socket.shutdown(conn.sock, socket.SHUT_RD)
                    except OSError:
                        pass
                else:
                    _shutdown(conn.sock)
        for conn in idle if not half else ():
            if not conn.closed.wait(timeout):
                raise AssertionError("connection %r did not close" % (conn,))
        return len(idle)

    # -- protocol -----------------------------------------------------------------------------

    def serve(self, conn: Connection, sock: socket.socket) -> str:
        reader = sock.makefile("rb")
        try:
            while not self._stopping.is_set():
                with self.cond:
                    conn.state = "idle"
                    self.cond.notify_all()
                sock.settimeout(self.idle_timeout)
                try:
                    line = reader.readline(65537)
                except socket.timeout:
                    return "idle-timeout"
                except OSError:
                    return "client"
                sock.settimeout(WAIT_TIMEOUT)
                with self.cond:
                    conn.state = "busy"
                if not line:
                    return "client"
                if line in (b"\r\n", b"\n"):
                    continue
                request = self._read_request(conn, line, reader)
                if request is None:
                    return "client"
                with self.cond:
                    self.requests.append(request)
                    conn.requests += 1
                    self.cond.notify_all()
                response = self._answer_for(request)
                closed_by = self._respond(sock, request, response)
                if closed_by:
                    return closed_by
            return "stop"
        finally:
            reader.close()

    def _read_request(self, conn: Connection, line: bytes, reader: Any) -> Optional[Request]:
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            return None
        headers: List[Tuple[str, str]] = []
        while True:
            header = reader.readline(65537)
            if not header:
                return None
            if header in (b"\r\n", b"\n"):
                break
            name, _, value = header.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        lower = {k.lower(): v for k, v in headers}
        body = b""
        if "chunked" in lower.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int(reader.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while reader.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(reader.read(size))
                reader.readline(65537)
            body = b"".join(parts)
        elif "content-length" in lower:
            body = reader.read(int(lower["content-length"]))
        if target.startswith(("http://", "https://")):  # absolute form, as sent to a proxy
            parts_ = urlsplit(target)
            target = (parts_.path or "/") + ("?" + parts_.query if parts_.query else "")
        return Request(method, target, version, headers, body, conn, conn.requests)

    def _respond(self, sock: socket.socket, request: Request, response: Response) -> Optional[str]:
        """Send the answer with its faults. None to keep the connection, else why it closes:
        "fault", "response" (Connection: close), "client" (it went away) or "stop"."""
        if response.hold is not None:
            while not response.hold.wait(0.05):
                if self._stopping.is_set():
                    return "stop"
        if self._pause(response.delay):
            return "stop"
        if response.fault == "close":
            return "fault"
        if response.raw is not None:
            try:
                sock.sendall(response.raw)
            except OSError:
                return "client"
            return "fault"
        if response.fault == "reset":
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return "fault"
        close = (
            response.close or response.fault == "truncate" or request.headers.get("connection", "").lower() == "close"
        )
        lines = ["HTTP/1.1 %d %s" % (response.status, response.reason)]
        names = {k.lower() for k in response.headers}
        if "content-type" not in names and (response.body or response.chunks):
            lines.append("Content-Type: " + response.content_type)
        if response.chunks is not None:
            lines.append("Transfer-Encoding: chunked")
        elif "content-length" not in names:
            length = response.content_length if response.content_length is not None else len(response.body)
            lines.append("Content-Length: %d" % length)
        if close:
            lines.append("Connection: close")
        lines.extend("%s: %s" % item for item in response.headers.items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        body = response.body
        if response.fault == "truncate":
            body = body[: len(body) // 2]
        if request.method == "HEAD":
            body = b""
        try:
            if response.chunks is not None:
                sock.sendall(head)
                for chunk in response.chunks:
                    if self._pause(response.body_delay):
                        return "stop"
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sock.sendall(b"0\r\n\r\n")
            elif response.trickle is not None:
                size, interval = response.trickle
                sock.sendall(head)
                for i in range(0, len(body), size):
                    if self._pause(interval):
                        return "stop"
                    sock.sendall(body[i : i + size])
            elif response.body_delay:
                half = len(body) // 2
                sock.sendall(head + body[:half])
                if self._pause(response.body_delay):
                    return "stop"
                sock.sendall(body[half:])
            else:
                sock.sendall(head + body)
        except OSError:
            return "client"
        if response.fault == "truncate":
            return "fault"
        return "response" if close else None


class ConnectProxy(_Base):
    """A forward proxy: ``CONNECT host:port`` opens a tunnel (answered 200, or ``status``);
    an absolute-form request is relayed to its origin as is. Records each first request in
    ``seen`` as ``(method, target, headers)``; only loopback targets are allowed."""

    def __init__(self, status: int = 200) -> None:
        super().__init__(None)
        self.status = status
        self.seen: List[Tuple[str, str, Dict[str, str]]] = []

    def count(self, method: Optional[str] = None) -> int:
        with self.cond:
            return sum(1 for m, _, _ in self.seen if method is None or m == method)

    def serve(self, conn: Connection, sock: socket.socket) -> str:
        sock.settimeout(WAIT_TIMEOUT)
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(65536)
            if not data:
                return "client"
            head += data
        head_text, _, rest = head.partition(b"\r\n\r\n")
        lines = head_text.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split()
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        with self.cond:
            self.seen.append((method, target, headers))
            conn.requests += 1
            self.cond.notify_all()
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
        else:
            parts = urlsplit(target)
            host, port = parts.hostname or "", str(parts.port or 80)
        if host.strip("[]") not in ("127.0.0.1", "localhost", "::1"):
            sock.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return "response"
        if method == "CONNECT" and self.status != 200:
            sock.sendall(b"HTTP/1.1 %d Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" % self.status)
            return "response"
        upstream = socket.create_connection((host, int(port)), timeout=WAIT_TIMEOUT)
        try:
            if method == "CONNECT":
                sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
            else:
                upstream.sendall(head)
            self._relay(sock, upstream)
        finally:
            upstream.close()
        return "client"

    def _relay(self, a: socket.socket, b: socket.socket) -> None:
        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                _shutdown(dst)

        a.settimeout(None)
        b.settimeout(None)
        other = threading.Thread(target=pump, args=(b, a), daemon=True, name="test-proxy-pump-%d" % self.port)
        self._threads.append(other)
        other.start()
        pump(a, b)
        other.join(WAIT_TIMEOUT)


def echo(request: Request) -> Response:
    """What the server received, as JSON: method, path (raw, percent-encoded as sent), query,
    lower-case headers and the body as text."""
    return Response(
        200,
        json={
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": request.headers,
            "body": request.body.decode("utf-8", "replace"),
        },
    )


class OAuthTokens:
    """A fake OAuth client-credentials token endpoint, and the check of the tokens it issued.

    ``server.route("/v1/oauth/token", tokens.handler)`` answers a JSON (or form) body with the
    right ``client_id``/``client_secret`` with a new, unique ``access_token`` (401
    ``invalid_client`` otherwise). ``server.default = tokens.protect(handler)`` answers 401 to
    a request whose bearer token was not issued here or has expired.

    Scripting: ``delay`` (a slow endpoint, seconds before the answer), ``hold`` (an Event the
    answer waits for), ``expires_in`` (sent to the client), ``fail_next(*responses)`` (the next
    token requests get these answers instead), ``expire()`` (every token issued so far stops
    working, as an expired or revoked token does), ``on_request`` (called with each token
    request before it is answered). ``requests`` counts token requests; ``issued`` lists tokens
    (``issued_at``: when, on ``time.monotonic()``)."""

    def __init__(self, client_id: str, client_secret: str, *, expires_in: float = 3600.0) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.delay = 0.0
        self.hold: Optional[threading.Event] = None
        self.on_request: Optional[Callable[[Request], None]] = None
        self.requests = 0
        self.issued: List[str] = []
        self.issued_at: Dict[str, float] = {}  # token -> time.monotonic() when it was issued
        self.live: "set[str]" = set()
        self.refused = 0  # protected requests answered 401
        self._faults: List[Response] = []
        self._lock = threading.Lock()

    def fail_next(self, *responses: Response) -> None:
        with self._lock:
            self._faults.extend(responses)

    def expire(self, *tokens: str) -> None:
        """The given tokens (default: every token issued so far) stop working."""
        with self._lock:
            if tokens:
                self.live.difference_update(tokens)
            else:
                self.live.clear()

    def handler(self, request: Request) -> Response:
        if self.on_request is not None:
            self.on_request(request)
        with self._lock:
            self.requests += 1
            if self._faults:
                fault = self._faults.pop(0)
                if self.delay and not fault.delay:
                    fault.delay = self.delay
                return fault
            try:
                body = jsonlib.loads(request.body or b"{}")
            except ValueError:
                from urllib.parse import parse_qsl

                body = dict(parse_qsl(request.body.decode("latin-1")))
            if (
                not isinstance(body, dict)
                or (body.get("client_id"), body.get("client_secret")) != (self.client_id, self.client_secret)
                or body.get("grant_type") != "client_credentials"
            ):
                return Response(
                    401,
                    json={"error": "invalid_client", "error_description": "Client authentication failed"},
                    delay=self.delay,
                    hold=self.hold,
                )
            token = "tok-%d-%s" % (len(self.issued) + 1, secrets.token_hex(12))
            self.issued.append(token)
            self.issued_at[token] = time.monotonic()
            self.live.add(token)
        return Response(
            200,
            json={"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in},
            delay=self.delay,
            hold=self.hold,
        )

    def valid(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            return scheme.lower() == "bearer" and token in self.live

    def protect(self, handler: Handler) -> Handler:
        def protected(request: Request) -> Response:
            if not self.valid(request):
                with self._lock:
                    self.refused += 1
                return Response(401, json={"error": "the access token is invalid or has expired"})
            return handler(request)

        return protected


def _shutdown(sock: Optional[socket.socket]) -> None:
    """Shut a socket down from another thread, waking a reader blocked on it. For a TLS
    socket the plain-socket shutdown is called: SSLSocket.shutdown would also drop the TLS
    state under the feet of the thread reading it."""
    if sock is None:
        return
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass
