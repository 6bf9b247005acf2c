"""The HTTP plumbing the two replicas share (replicas/altan_replica.py and
replicas/pipedream_replica.py): a keep-alive request handler that reads the body (plain or
chunked), lets its server count connections, and hands every request to ``_handle``."""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler
from typing import Any, List


class ReplicaHandler(BaseHTTPRequestHandler):
    """Subclasses set ``server_version`` and implement ``_handle(method)``; their server has
    ``verbose`` and ``_track(sock, opened)``."""

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
