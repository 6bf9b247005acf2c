"""The HTTP plumbing the two replicas share (replicas/altan_replica.py and
replicas/pipedream_replica.py): a server that records requests, counts connections, answers
scripted failures and runs in a background thread (``ReplicaServer``), and a keep-alive request
handler that reads the body (plain or chunked) and hands every request to ``_handle``."""

from __future__ import annotations

import json
import socket
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple, Type, TypeVar, Union

_S = TypeVar("_S", bound="ReplicaServer")


@dataclass
class Scripted:
    """A response given instead of the normal one to the next request that matches."""

    status: int
    body: bytes
    content_type: str
    headers: Dict[str, str] = field(default_factory=dict)
    method: Optional[str] = None
    path_contains: Optional[str] = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


class ReplicaServer(ThreadingHTTPServer):
    """What both replicas do besides answering: record the requests received (``requests``,
    ``request_count``, ``last_request``; each gets an id ``req_000001``...), count the TCP
    connections accepted (``connections``), answer scripted failures (``fail_next``), serve in
    a background thread and stop closing every kept-alive connection. Subclasses name their
    thread (``thread_name``) and route requests in their handler."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    thread_name = "replica"
    poll_interval = 0.05  # stop() (shutdown) waits up to one interval

    def __init__(self, address: Tuple[str, int], handler: Type[BaseHTTPRequestHandler], verbose: bool) -> None:
        super().__init__(address, handler)
        self.verbose = verbose
        self.lock = threading.RLock()
        self.connections = 0  # TCP connections accepted since the last reset (a kept-alive one counts once)
        self._requests: List[Any] = []
        self._request_ids = 0
        self._scripted: List[Scripted] = []
        self._open_sockets: "set[socket.socket]" = set()
        self._thread: Optional[threading.Thread] = None

    @property
    def request_count(self) -> int:
        with self.lock:
            return len(self._requests)

    @property
    def requests(self) -> List[Any]:
        with self.lock:
            return list(self._requests)

    @property
    def last_request(self) -> Any:
        with self.lock:
            return self._requests[-1]

    def reset(self) -> None:
        """Forget received requests, connections and scripted responses; request ids start again at 1."""
        with self.lock:
            self._requests.clear()
            self._scripted.clear()
            self._request_ids = 0
            self.connections = 0

    def fail_next(
        self,
        status: int,
        body: Union[str, bytes, Dict[str, Any], List[Any]] = b"",
        *,
        content_type: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
        method: Optional[str] = None,
        path_contains: Optional[str] = None,
    ) -> None:
        """Answer the next request (matching ``method`` / ``path_contains`` if given) with this
        response instead of the normal one."""
        if isinstance(body, (dict, list)):
            raw = json.dumps(body).encode()
            content_type = content_type or "application/json"
        else:
            raw = body.encode() if isinstance(body, str) else body
            content_type = content_type or "text/plain; charset=utf-8"
        with self.lock:
            self._scripted.append(Scripted(status, raw, content_type, dict(headers or {}), method, path_contains))

    def start_background(self: _S) -> _S:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name="%s:%d" % (self.thread_name, self.server_address[1]),
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and every kept-alive connection. Idempotent."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()
        with self.lock:
            sockets, self._open_sockets = list(self._open_sockets), set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve_until_interrupted(self, banner: str, export_line: str) -> None:
        """The command line of both replicas: print what is listening where and the shell line
        that points the clients at it, serve in this thread until Ctrl-C, then stop."""
        print(banner, flush=True)
        print("  " + export_line, flush=True)
        try:
            self.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def _record(self, request: Any) -> str:
        """Keep ``request``; its request id."""
        with self.lock:
            self._requests.append(request)
            self._request_ids += 1
            return "req_%06d" % self._request_ids

    def _take_scripted(self, method: str, path: str) -> Optional[Scripted]:
        with self.lock:
            for index, scripted in enumerate(self._scripted):
                if scripted.matches(method, path):
                    return self._scripted.pop(index)
        return None

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self.lock:
            if add:
                self._open_sockets.add(sock)
                self.connections += 1
            else:
                self._open_sockets.discard(sock)


class ReplicaHandler(BaseHTTPRequestHandler):
    """Subclasses set ``server_version`` and implement ``_handle(method)``; their server is a
    ``ReplicaServer``."""

    protocol_version = "HTTP/1.1"  # keep-alive
    sys_version = ""
    timeout = 120  # an idle kept-alive connection is dropped after this many seconds
    # Headers and body go out in two writes: without TCP_NODELAY the second waits for the
    # client's delayed ACK (~40 ms per response on Linux).
    disable_nagle_algorithm = True
    server: Any
    # http.server takes reason phrases from http.HTTPStatus, and CPython 3.13 renamed four of
    # them (422 "Unprocessable Content", ...). Recordings must not depend on the interpreter
    # that made them, so these keep the names of Python 3.8 to 3.12 (and of RFC 7231).
    responses = {
        **BaseHTTPRequestHandler.responses,
        **{
            code: (phrase, BaseHTTPRequestHandler.responses[code][1])
            for code, phrase in (
                (413, "Request Entity Too Large"),
                (414, "Request-URI Too Long"),
                (416, "Requested Range Not Satisfiable"),
                (422, "Unprocessable Entity"),
            )
        },
    }

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.server._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        if self.server.verbose:
            sys.stderr.write("%s: %s\n" % (self.server_version.split("/")[0], format % args))

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        raise NotImplementedError

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: List[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""


class StartedReplicas:
    """The replicas a module's ``start()`` started, so that its ``stop()`` without an argument
    stops them all."""

    def __init__(self) -> None:
        self._servers: List[ReplicaServer] = []
        self._lock = threading.Lock()

    def add(self, server: _S) -> _S:
        with self._lock:
            self._servers.append(server)
        return server

    def stop(self, server: Optional[ReplicaServer] = None) -> None:
        """Stop ``server``, or every replica started if none is given."""
        with self._lock:
            servers = [server] if server is not None else list(self._servers)
            for s in servers:
                if s in self._servers:
                    self._servers.remove(s)
        for s in servers:
            s.stop()
