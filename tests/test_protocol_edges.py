"""Unusual but legal (or plainly broken) servers, for the four public clients: what the transport
promises holds against them.

* Redirects and writes: after a 301, 302 or 303 answer to a write the write is not sent again
  (a Post/Redirect/Get server processed it); a write follows at most one 307/308. Reads keep
  following up to 5 redirects on the same host.
* Interim responses: every 1xx but 101 is read and skipped (103 Early Hints before a 402 raises
  the 402); a 101 or any other anomaly (a malformed status line, a broken header block, bytes
  beyond the response's end) closes the connection, so no response is ever delivered to the
  wrong call.
* Values from the server (a redirect's Location, headers, the status line) raise only the
  module's error class.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from typing import Any, Iterator, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability import FLAVOURS, read, write
from servers import Response, Server

import altan
import pipedream


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def module_of(flavour: str) -> str:
    return flavour.split("-")[0]


class Raw(Response):
    """Bytes sent verbatim as the answer, after which the server keeps the connection open
    (``servers.Response(raw=...)`` closes it): a 1xx before a final response, bytes beyond a
    response's end."""

    def __init__(self, data: bytes) -> None:
        super().__init__(200)
        self.data = data


class EdgeServer(Server):
    def _respond(self, sock: socket.socket, request: Any, response: Response) -> Optional[str]:
        if isinstance(response, Raw):
            sock.sendall(response.data)
            return None
        return super()._respond(sock, request, response)


@pytest.fixture
def edge_server() -> Iterator[EdgeServer]:
    server = EdgeServer()
    server.start()
    yield server
    server.stop()


def json_response(status: int, reason: str, data: Any, extra: str = "") -> bytes:
    body = json.dumps(data).encode()
    head = "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n" % (
        status,
        reason,
        len(body),
        extra,
    )
    return head.encode("latin-1") + body


# ---------------------------------------------------------------------------------------------
# Redirects and writes
# ---------------------------------------------------------------------------------------------


class PostRedirectGet(http.server.BaseHTTPRequestHandler):
    """A Post/Redirect/Get application (Flask's and Express's default redirect): a POST runs
    the action, then answers ``status`` with a Location of the same URL; a GET shows the
    result. ``executions`` counts the actions run."""

    protocol_version = "HTTP/1.1"
    status = 302
    executions: List[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.executions.append(self.path)
        self.send_response(self.status)
        self.send_header("Location", self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = json.dumps({"executions": len(self.executions)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def prg_server() -> Iterator[Any]:
    handler = type("Handler", (PostRedirectGet,), {"executions": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="test-prg", daemon=True)
    thread.start()
    server.url = "http://127.0.0.1:%d" % server.server_address[1]  # type: ignore[attr-defined]
    server.handler = handler  # type: ignore[attr-defined]
    server.tokens = None  # type: ignore[attr-defined]  # Api: no OAuth route, a static token
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("status", [301, 302, 303])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_post_redirect_get_server_runs_a_write_once(make_api, prg_server, flavour, status):
    prg_server.handler.status = status
    options = {"access_token": "static-token-1234"} if module_of(flavour) == "pipedream" else {}
    api = make_api(flavour, prg_server, max_retries=3, **options)
    op = write(module_of(flavour))
    with pytest.raises(api.error) as caught:
        api.op(op)
    error = caught.value
    assert prg_server.handler.executions == [op.path]
    assert error.status_code == status and str(status) in str(error)
    assert "may have been processed" in str(error) and "not sent again" in str(error)
    assert error.method == "POST" and error.url.startswith(prg_server.url + op.path)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_redirect_loop_sends_a_write_at_most_twice(make_api, http_server, flavour, status):
    api = make_api(flavour, http_server, warm=True, max_retries=3)
    op = write(api.module_name)
    http_server.route(op.path, Response(status, headers={"Location": op.path}), method=op.http)
    with pytest.raises(api.error) as caught:
        api.op(op)
    # 307 and 308 ask for the same request again, once; the others mean it was processed.
    assert http_server.count(op.path, op.http) == (2 if status in (307, 308) else 1)
    assert caught.value.status_code == status
    assert "may have been processed" in str(caught.value) and "not sent again" in str(caught.value)


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_write_follows_one_307_or_308_with_its_method_and_body(make_api, http_server, flavour, status):
    api = make_api(flavour, http_server, warm=True, max_retries=0)
    op = write(api.module_name)
    http_server.add(op.path, Response(status, headers={"Location": "/moved"}), method=op.http)
    http_server.add("/moved", Response(status, headers={"Location": "/moved-again"}))
    with pytest.raises(api.error):
        api.op(op)
    moved = http_server.requests_for("/moved")
    assert len(moved) == 1 and moved[0].method == op.http and moved[0].body
    assert http_server.count("/moved-again") == 0


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_read_still_follows_up_to_five_redirects(make_api, http_server, flavour, status):
    api = make_api(flavour, http_server, warm=True, max_retries=0)
    op = read(api.module_name)
    http_server.add(op.path, *[Response(status, headers={"Location": op.path}) for _ in range(5)])
    assert api.op(op)["path"] == op.path
    http_server.route(op.path, Response(status, headers={"Location": op.path}))
    with pytest.raises(api.error, match="more than 5 redirects"):
        api.op(op)


# ---------------------------------------------------------------------------------------------
# Interim (1xx) responses, and answers that must close the connection
# ---------------------------------------------------------------------------------------------

PAYMENT_REQUIRED = json_response(402, "Payment Required", {"detail": "plan limit reached"})
INTERIM = {
    "100": b"HTTP/1.1 100 Continue\r\n\r\n",
    "102": b"HTTP/1.1 102 Processing\r\n\r\n",
    "103": b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nLink: </a.js>; rel=preload\r\n\r\n",
    "199-unknown": b"HTTP/1.1 199 Whatever\r\nX-Note: interim\r\n\r\n",
    "several": b"HTTP/1.1 102 Processing\r\n\r\n" * 3 + b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n",
}


@pytest.mark.parametrize("interim", list(INTERIM))
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_interim_responses_are_skipped_until_the_final_one(make_api, edge_server, flavour, interim):
    module = module_of(flavour)
    api = make_api(flavour, edge_server, max_retries=0)
    api.warm()
    connections = len(edge_server.connections)
    edge_server.add(write(module).path, Raw(INTERIM[interim] + PAYMENT_REQUIRED), method="POST")
    with pytest.raises(api.error) as caught:
        api.op(write(module))
    assert caught.value.status_code == 402 and "plan limit reached" in str(caught.value)
    assert api.op(read(module))["path"] == read(module).path  # its own answer, not the 402
    assert len(edge_server.connections) == connections  # the connection stays usable
    assert edge_server.count(write(module).path) == 1


OK_BODY = json_response(200, "OK", {"result": "first"})
# (answer to the write, what the write gets: "error" or "delivered")
ANOMALIES = {
    "101-switching-protocols": (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + OK_BODY,
        "error",
    ),
    "garbage-status-code": (b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n{}", "error"),
    "unknown-protocol": (b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", "error"),
    "not-http": (b"SSH-2.0-OpenSSH_9.2\r\n", "error"),
    "1xx-with-a-body": (b"HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\n\r\nhello" + OK_BODY, "error"),
    "content-length-not-a-number": (b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}", "error"),
    "content-length-negative": (b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}", "error"),
    "content-length-conflicting": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 21\r\n\r\n{}" + OK_BODY,
        "error",
    ),
    "content-length-list-conflicting": (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 21\r\n\r\n{}" + OK_BODY, "error"),
    "unknown-transfer-coding": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 2\r\n\r\n{}",
        "error",
    ),
    "header-line-too-long": (
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70000 + b"\r\nContent-Length: 2\r\n\r\n{}",
        "error",
    ),
    "too-many-headers": (b"HTTP/1.1 200 OK\r\n" + b"X-H: 1\r\n" * 150 + b"Content-Length: 2\r\n\r\n{}", "error"),
    "broken-chunk-size": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        "error",
    ),
    "bytes-beyond-content-length": (OK_BODY + json_response(200, "OK", {"result": "smuggled"}), "delivered"),
    "204-with-a-body": (b"HTTP/1.1 204 No Content\r\n\r\n" + OK_BODY, "delivered"),
    "chunked-and-content-length": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        b'13\r\n{"result": "first"}\r\n0\r\n\r\n',
        "delivered",
    ),
}


@pytest.mark.parametrize("anomaly", list(ANOMALIES))
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_anomalous_answer_always_closes_the_connection(make_api, edge_server, flavour, anomaly):
    module = module_of(flavour)
    api = make_api(flavour, edge_server, max_retries=0, timeout=10)
    api.warm()
    connections = len(edge_server.connections)
    answer, outcome = ANOMALIES[anomaly]
    edge_server.add(write(module).path, Raw(answer), method="POST")
    if outcome == "error":
        with pytest.raises(api.error) as caught:
            api.op(write(module))
        assert caught.value.status_code is None and "timed out" not in str(caught.value)  # at once
        assert "may have been processed" in str(caught.value)
    else:
        result = api.op(write(module))
        assert result in (None, {}) or result.get("result") == "first", result
    # The next call gets its own answer, on a new connection: nothing left of the anomalous
    # answer can be read as its response.
    assert api.op(read(module))["path"] == read(module).path
    assert len(edge_server.connections) == connections + 1
    assert edge_server.requests_for(read(module).path)[-1].index == 0
    assert edge_server.count(write(module).path) == 1


@pytest.mark.parametrize("anomaly", ["bytes-beyond-content-length", "204-with-a-body", "101-switching-protocols"])
@pytest.mark.parametrize("flavour", ["altan-sync", "pipedream-sync"])
def test_over_tls_too(make_api, tls_server_context, ca_bundle, flavour, anomaly):
    server = EdgeServer(tls_server_context).start()
    try:
        module = module_of(flavour)
        api = make_api(flavour, server, max_retries=0, ca_bundle=ca_bundle)
        api.warm()
        api.warm()
        assert len(server.connections) == 1  # a clean response keeps the connection
        server.add(write(module).path, Raw(INTERIM["103"] + ANOMALIES[anomaly][0]), method="POST")
        if ANOMALIES[anomaly][1] == "error":
            with pytest.raises(api.error):
                api.op(write(module))
        else:
            api.op(write(module))
        assert api.op(read(module))["path"] == read(module).path
        assert len(server.connections) == 2
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# Values from the server raise the module's error, nothing else
# ---------------------------------------------------------------------------------------------

BAD_LOCATIONS = [
    "http://127.0.0.1:99999/x",
    "http://127.0.0.1:abc/x",
    "http://[::1/x",
    "http://[::1]:99999/x",
    "http://127.0.0.1:-1/x",
    "/a b",
    "/del\x7f",
]


@pytest.mark.parametrize("location", BAD_LOCATIONS)
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_invalid_redirect_location_is_the_modules_error(make_api, http_server, flavour, location):
    module = module_of(flavour)
    api = make_api(flavour, http_server, max_retries=2)
    api.warm()
    for op in (read(module), write(module)):
        status = 307 if op is write(module) else 302
        http_server.add(op.path, Response(status, headers={"Location": location}), method=op.http)
        before = len(http_server.requests)
        with pytest.raises(api.error) as caught:
            api.op(op)
        assert caught.value.status_code == status and "invalid redirect Location" in str(caught.value)
        assert len(http_server.requests) == before + 1  # not followed, not retried


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_non_ascii_redirect_location_is_followed_percent_encoded(make_api, http_server, flavour):
    api = make_api(flavour, http_server, warm=True, max_retries=0)
    op = read(api.module_name)
    # Header values are Latin-1 on the wire: "café" sent as UTF-8 arrives as "cafÃ©".
    http_server.add(op.path, Response(302, headers={"Location": "/caf\u00c3\u00a9?q=\u00c3\u00a9"}))
    http_server.route("/caf%C3%A9", Response(200, json={"path": "/café"}))
    assert api.op(op)["path"] == "/café"
    assert http_server.requests[-1].target == "/caf%C3%A9?q=%C3%A9"


@pytest.mark.parametrize("module", ["altan", "pipedream"])
def test_the_command_line_reports_an_invalid_location_as_an_api_error(http_server, monkeypatch, capsys, module):
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    if module == "altan":
        monkeypatch.setenv("ALTAN_API_KEY", "altan-key-1234")
        monkeypatch.setenv("ALTAN_BASE_URL", http_server.url)
        http_server.route("/connection", Response(302, headers={"Location": "http://127.0.0.1:99999/x"}))
        code = altan.main(["connections"])
    else:
        for name, value in {
            "PIPEDREAM_ACCESS_TOKEN": "static-token-1234",
            "PIPEDREAM_PROJECT_ID": "proj_x",
            "PIPEDREAM_PROJECT_ENVIRONMENT": "development",
            "PIPEDREAM_BASE_URL": http_server.url,
        }.items():
            monkeypatch.setenv(name, value)
        http_server.route("/v1/connect/proj_x/projects/info", Response(302, headers={"Location": "http://[::1/x"}))
        code = pipedream.main(["check"])
    assert code == 1, capsys.readouterr()
    assert "invalid redirect Location" in capsys.readouterr().err


HEADER_NAMES = [
    "Location",
    "Content-Length",
    "Transfer-Encoding",
    "Retry-After",
    "retry-after-ms",
    "X-RateLimit-Reset",
    "Content-Type",
    "Connection",
    "X-Request-Id",
    "Keep-Alive",
]
HEADER_VALUES = st.one_of(
    st.sampled_from(
        ["http://127.0.0.1:99999/", "//[::1", "chunked", "gzip", "-1", "1e400", "nan", "inf", "close", "0", "/x y"]
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=30),
)
STATUS_LINES = st.one_of(
    st.sampled_from([200, 201, 204, 301, 302, 303, 304, 307, 308, 401, 404, 429, 500, 503, 599, 600, 999]).map(
        lambda status: "HTTP/1.1 %d Reason" % status
    ),
    st.sampled_from(
        ["HTTP/1.1 200", "HTTP/1.0 200 OK", "HTTP/1.1 101 Switching", "HTTP/1.1 99 Low", "HTTP/1.1 1000 X"]
    ),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20),
)


@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(
    status_line=STATUS_LINES,
    headers=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), HEADER_VALUES), max_size=5),
    body=st.binary(max_size=40),
)
@pytest.mark.parametrize("module", ["altan", "pipedream"])
def test_any_status_line_and_headers_give_a_result_or_the_modules_error(
    make_api, edge_server, module, status_line, headers, body
):
    api = make_api("%s-sync" % module, edge_server, max_retries=0, timeout=5)
    head = status_line + "\r\n" + "".join("%s: %s\r\n" % header for header in headers) + "\r\n"
    for op in (read(module), write(module)):
        edge_server.route(op.path, Response(raw=head.encode("latin-1") + body), method=op.http)
        try:
            api.op(op)
        except api.error as error:
            assert "timed out" not in str(error)  # the server closed: nothing to wait for
    api.close()
