"""The benchmark's HTTPS server: keep-alive HTTP/1.1 over TLS, run as its own process so
that the client process's CPU time is the client's alone.

It answers like the two APIs, just enough for every peer to parse the answer:

* ``POST /v1/oauth/token``: a client-credentials token (counted; ``--token-delay-ms``);
* any other ``GET`` (``/v1/connect/{project}/accounts``, ``/integration/connection``...):
  the same JSON page of two accounts, after ``--delay-ms``;
* ``GET /__stats``: counters as JSON; ``POST /__reset``: zero them.

With ``--echo`` it also runs a plain TCP echo listener: the round-trip baseline of the
link benchmark. It prints one line, ``READY <https port> <echo port>``, once it listens.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import sys
import threading
import time

_ACCOUNT = {
    "id": "apn_abc123",
    "name": "Slack (user-1)",
    "external_id": "user-1",
    "healthy": True,
    "dead": False,
    "app": {
        "id": "app_OkrhR1",
        "name_slug": "slack",
        "name": "Slack",
        "auth_type": "oauth",
        "description": "Messaging",
        "img_src": "https://assets.pipedream.net/s.v0/app_OkrhR1/logo/orig",
        "custom_fields_json": "[]",
        "scope_profiles": [],
        "categories": ["Communication"],
        "featured_weight": 100,
        "connect": {
            "proxy_enabled": True,
            "allowed_domains": ["slack.com"],
            "base_proxy_target_url": "https://slack.com",
        },
    },
    "created_at": "2024-06-01T12:00:00.000Z",
    "updated_at": "2024-06-02T12:00:00.000Z",
    "authorized_scopes": ["chat:write", "channels:read"],
}
_PAGE = {
    "data": [dict(_ACCOUNT), dict(_ACCOUNT, id="apn_def456", external_id="user-2")],
    "page_info": {"count": 2, "total_count": 2, "start_cursor": "c1", "end_cursor": None},
}
_TOKEN = {
    "access_token": "bench-access-token-0123456789",
    "token_type": "Bearer",
    "expires_in": 3600,
    "created_at": 1717243200,
}


def _response(status: str, body: bytes, close: bool = False) -> bytes:
    """A status line and the headers a typical API gateway sends, then the body."""
    head = (
        "HTTP/1.1 %s\r\n"
        "Date: Mon, 03 Jun 2024 12:00:00 GMT\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        "Content-Length: %d\r\n"
        "Connection: %s\r\n"
        "Cache-Control: no-store\r\n"
        "Vary: Accept-Encoding\r\n"
        "X-Request-Id: 0b5c1a4e-bench-4c1e-9f00-000000000000\r\n"
        "Strict-Transport-Security: max-age=31536000\r\n"
        "\r\n" % (status, len(body), "close" if close else "keep-alive")
    )
    return head.encode("ascii") + body


class Server:
    def __init__(self, cert: str, key: str, delay: float, token_delay: float) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.delay = delay
        self.token_delay = token_delay
        self.lock = threading.Lock()
        self.stats = {"token_requests": 0, "requests": 0, "connections": 0}
        self.page = json.dumps(_PAGE, separators=(",", ":")).encode()
        self.token = json.dumps(_TOKEN).encode()

    def count(self, name: str) -> None:
        with self.lock:
            self.stats[name] += 1

    def serve(self, listener: socket.socket) -> None:
        while True:
            sock, _ = listener.accept()
            self.count("connections")
            threading.Thread(target=self.connection, args=(sock,), daemon=True).start()

    def connection(self, raw: socket.socket) -> None:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(120)
        try:
            sock = self.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        reader = sock.makefile("rb")
        try:
            while self.one(sock, reader):
                pass
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            reader.close()
            try:
                sock.close()
            except OSError:
                pass

    def one(self, sock: ssl.SSLSocket, reader: "socket.SocketIO") -> bool:
        line = reader.readline(65537)
        if not line:
            return False
        method, target, version = line.decode("latin-1").split(None, 2)
        length = 0
        close = version.strip() == "HTTP/1.0"
        while True:
            header = reader.readline(65537)
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection":
                close = value.strip().lower() == "close"
        if length:
            reader.read(length)
        path = target.split("?", 1)[0]
        if path == "/__stats":
            with self.lock:
                body = json.dumps(self.stats).encode()
        elif path == "/__reset":
            with self.lock:
                for name in self.stats:
                    self.stats[name] = 0
            body = b"{}"
        elif path.endswith("/oauth/token"):
            self.count("token_requests")
            if self.token_delay:
                time.sleep(self.token_delay)
            body = self.token
        else:
            self.count("requests")
            if self.delay:
                time.sleep(self.delay)
            body = self.page
        sock.sendall(_response("200 OK", body, close))
        return not close


def _echo(listener: socket.socket) -> None:
    def serve(sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with sock:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                sock.sendall(data)

    while True:
        sock, _ = listener.accept()
        threading.Thread(target=serve, args=(sock,), daemon=True).start()


def _listen(host: str, port: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(512)
    return listener


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--token-delay-ms", type=float, default=0.0)
    parser.add_argument("--echo", action="store_true")
    args = parser.parse_args()
    server = Server(args.cert, args.key, args.delay_ms / 1000.0, args.token_delay_ms / 1000.0)
    listener = _listen(args.host, args.port)
    echo_port = 0
    if args.echo:
        echo = _listen(args.host, 0)
        echo_port = echo.getsockname()[1]
        threading.Thread(target=_echo, args=(echo,), daemon=True).start()
    print("READY %d %d" % (listener.getsockname()[1], echo_port), flush=True)
    threading.Thread(target=server.serve, args=(listener,), daemon=True).start()
    # Exit when the parent closes our stdin (or dies): no orphan servers.
    sys.stdin.read()


if __name__ == "__main__":
    main()
