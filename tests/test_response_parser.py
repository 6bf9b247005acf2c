"""The transport's own reading of a response's status line and header block
(``_DeadlineResponse.begin``, ``_parse_status_line``, ``_read_header_lines``,
``_parse_header_lines``), checked against http.client's on the same raw bytes.

Each raw response is parsed twice: by ``http.client.HTTPResponse`` (from a file, as
http.client reads it) and by the module's ``_DeadlineResponse`` (from a real socket pair, as
the transport reads it). Where the two must agree, the status, reason, version, headers and
body framing (what ``read()`` returns, and whether the connection closes) are compared.
Where they differ on purpose (the module skips every interim response, refuses 101 and
ambiguous framing, and reads a status line by RFC 9112's stricter grammar), the table says
what each does. The test runs on every Python the modules support, so a change in
http.client shows up here.
"""

from __future__ import annotations

import http.client
import io
import socket
from typing import Any, Dict, Optional, Tuple

import pytest

import altan
import pipedream

MODULES = [altan, pipedream]


class _FileSocket:
    """What http.client.HTTPResponse needs of a socket: ``makefile``."""

    def __init__(self, raw: bytes) -> None:
        self._raw = raw

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self._raw))  # type: ignore[arg-type]


def _outcome(response: http.client.HTTPResponse) -> Dict[str, Any]:
    response.begin()
    outcome = {
        "status": response.status,
        "reason": response.reason,
        "version": response.version,
        "headers": list(response.msg.items()),
        "chunked": bool(response.chunked),
        "will_close": bool(response.will_close),
    }
    try:
        outcome["body"] = response.read()
    except http.client.HTTPException as exc:
        outcome["body"] = type(exc)
    return outcome


def stdlib_parse(raw: bytes, method: str = "GET") -> Dict[str, Any]:
    return _outcome(http.client.HTTPResponse(_FileSocket(raw), method=method))  # type: ignore[arg-type]


def our_parse(mod: Any, raw: bytes, method: str = "GET") -> Dict[str, Any]:
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(raw)
        theirs.shutdown(socket.SHUT_WR)
        return _outcome(mod._DeadlineResponse(ours, method=method, deadline=mod._clock.monotonic() + 30))
    finally:
        ours.close()
        theirs.close()


def our_error(mod: Any, raw: bytes, method: str = "GET") -> Optional[BaseException]:
    try:
        our_parse(mod, raw, method)
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return exc
    return None


def stdlib_error(raw: bytes, method: str = "GET") -> Optional[BaseException]:
    try:
        stdlib_parse(raw, method)
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return exc
    return None


# Responses both parsers must read alike: (id, raw bytes, request method).
SAME: Tuple[Tuple[str, bytes, str], ...] = (
    ("content-length", b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", "GET"),
    ("not-found-with-body", b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", "GET"),
    ("reason-with-spaces", b"HTTP/1.1 503 Service Temporarily Unavailable\r\nContent-Length: 0\r\n\r\n", "GET"),
    ("no-reason", b"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", "GET"),
    ("no-reason-but-a-space", b"HTTP/1.1 200 \r\nContent-Length: 1\r\n\r\nx", "GET"),
    ("bare-lf-line-ends", b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "GET"),
    ("chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "GET"),
    (
        "chunked-with-extension-and-trailer",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n",
        "GET",
    ),
    ("chunked-any-case", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", "GET"),
    ("close-delimited", b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", "GET"),
    ("connection-close", b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", "GET"),
    ("http-1.0-closes", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET"),
    ("http-1.0-keep-alive", b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", "GET"),
    ("http-1.0-keep-alive-header", b"HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok", "GET"),
    ("http-1.0-close-delimited", b"HTTP/1.0 200 OK\r\n\r\nto the end", "GET"),
    ("http-1.2-is-1.1", b"HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", "GET"),
    ("204-no-body", b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n", "DELETE"),
    ("304-no-body-despite-length", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "GET"),
    ("head-no-body-despite-length", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "HEAD"),
    (
        "100-continue-skipped",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "POST",
    ),
    (
        "100-continue-with-headers-skipped",
        b"HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "POST",
    ),
    ("repeated-headers", b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n", "GET"),
    (
        "blanks-around-values",
        b"HTTP/1.1 200 OK\r\nX-A:   spaced  \r\nX-B:\t\ttabbed\r\nX-C:\r\nContent-Length: 0\r\n\r\n",
        "GET",
    ),
    ("folded-header", b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n two\r\n\tthree\r\nContent-Length: 0\r\n\r\n", "GET"),
    ("latin-1-value", b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 0\r\n\r\n", "GET"),
    ("colon-in-value", b"HTTP/1.1 302 Found\r\nLocation: http://h:8080/p?q=a:b\r\nContent-Length: 0\r\n\r\n", "GET"),
    ("name-case-kept", b"HTTP/1.1 200 OK\r\nx-request-id: r1\r\nCONTENT-LENGTH: 1\r\n\r\n.", "GET"),
    ("no-headers", b"HTTP/1.1 200 OK\r\n\r\nbody", "GET"),
    ("header-block-cut-off", b"HTTP/1.1 200 OK\r\nX-A: 1\r\n", "GET"),
    ("short-body", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "GET"),
    ("broken-chunk-size", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", "GET"),
    ("status-599", b"HTTP/1.1 599 Custom\r\nContent-Length: 0\r\n\r\n", "GET"),
    ("status-999", b"HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n", "GET"),
)


@pytest.mark.parametrize("mod", MODULES, ids=lambda mod: mod.__name__)
@pytest.mark.parametrize("raw, method", [case[1:] for case in SAME], ids=[case[0] for case in SAME])
def test_reads_a_response_as_http_client_does(mod: Any, raw: bytes, method: str) -> None:
    assert our_parse(mod, raw, method) == stdlib_parse(raw, method)


# Status lines neither parser accepts, and the exception both raise.
BOTH_REFUSE = (
    ("nothing", b"", http.client.RemoteDisconnected),
    ("not-http", b"SSH-2.0-OpenSSH_9.6\r\n", http.client.BadStatusLine),
    ("icy", b"ICY 200 OK\r\n\r\n", http.client.BadStatusLine),
    ("only-a-version", b"HTTP/1.1\r\n\r\n", http.client.BadStatusLine),
    ("letters-for-status", b"HTTP/1.1 abc OK\r\n\r\n", http.client.BadStatusLine),
    ("status-below-100", b"HTTP/1.1 099 Low\r\n\r\n", http.client.BadStatusLine),
    ("four-digit-status", b"HTTP/1.1 2000 OK\r\n\r\n", http.client.BadStatusLine),
    ("status-glued-to-reason", b"HTTP/1.1 200OK\r\n\r\n", http.client.BadStatusLine),
    ("http-2", b"HTTP/2.0 200 OK\r\n\r\n", http.client.UnknownProtocol),
    ("http-3", b"HTTP/3 200 OK\r\n\r\n", http.client.UnknownProtocol),
    ("status-line-too-long", b"HTTP/1.1 200 " + b"x" * 70000 + b"\r\n\r\n", http.client.LineTooLong),
    ("header-line-too-long", b"HTTP/1.1 200 OK\r\nX-A: " + b"x" * 70000 + b"\r\n\r\n", http.client.LineTooLong),
    ("too-many-headers", b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", http.client.HTTPException),
)


@pytest.mark.parametrize("mod", MODULES, ids=lambda mod: mod.__name__)
@pytest.mark.parametrize("raw, kind", [case[1:] for case in BOTH_REFUSE], ids=[case[0] for case in BOTH_REFUSE])
def test_refuses_what_http_client_refuses(mod: Any, raw: bytes, kind: type) -> None:
    theirs, ours = stdlib_error(raw), our_error(mod, raw)
    assert type(theirs) is kind and type(ours) is kind


# Where the module is stricter than http.client on purpose, with what http.client does instead.
STRICTER = (
    # RFC 9112 section 4: status-code = 3DIGIT; int() takes more.
    ("plus-sign-status", b"HTTP/1.1 +200 OK\r\nContent-Length: 0\r\n\r\n", http.client.BadStatusLine),
    ("underscore-status", b"HTTP/1.1 2_00 OK\r\nContent-Length: 0\r\n\r\n", http.client.BadStatusLine),
    ("tab-separated", b"HTTP/1.1\t200 OK\r\nContent-Length: 0\r\n\r\n", http.client.BadStatusLine),
    ("version-with-letters", b"HTTP/1.x 200 OK\r\nContent-Length: 0\r\n\r\n", http.client.BadStatusLine),
    ("http-0.9-status-line", b"HTTP/0.9 200 OK\r\nContent-Length: 0\r\n\r\n", http.client.UnknownProtocol),
    # A protocol switch nobody asked for: what follows is not HTTP (http.client returns the 101).
    ("101-switching", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00", "_ProtocolError"),
    # Framing that cannot be trusted (RFC 9112 section 6.3): http.client guesses.
    ("two-lengths", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", "_ProtocolError"),
    ("negative-length", b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabc", "_ProtocolError"),
    ("gzip-coding", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc", "_ProtocolError"),
    ("gzip-then-chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "_ProtocolError"),
)


@pytest.mark.parametrize("mod", MODULES, ids=lambda mod: mod.__name__)
@pytest.mark.parametrize("raw, kind", [case[1:] for case in STRICTER], ids=[case[0] for case in STRICTER])
def test_refuses_what_rfc_9112_calls_invalid_where_http_client_guesses(mod: Any, raw: bytes, kind: Any) -> None:
    expected = getattr(mod, kind) if isinstance(kind, str) else kind
    assert type(our_error(mod, raw)) is expected
    assert stdlib_error(raw) is None or type(stdlib_error(raw)) is not expected


@pytest.mark.parametrize("mod", MODULES, ids=lambda mod: mod.__name__)
@pytest.mark.parametrize("interim", [b"102 Processing", b"103 Early Hints", b"199 Custom"])
def test_skips_every_interim_response_where_http_client_stops_at_it(mod: Any, interim: bytes) -> None:
    raw = (
        b"HTTP/1.1 " + interim + b"\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    ours = our_parse(mod, raw)
    assert (ours["status"], ours["headers"], ours["body"]) == (200, [("Content-Length", "2")], b"ok")
    assert stdlib_parse(raw)["status"] == int(interim[:3])  # http.client skips only 100


@pytest.mark.parametrize("mod", MODULES, ids=lambda mod: mod.__name__)
def test_same_repeated_lengths_are_one_length(mod: Any) -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabcEXTRA"
    ours = our_parse(mod, raw)
    assert ours["body"] == b"abc" and not ours["will_close"]


@pytest.mark.parametrize("mod", MODULES, ids=lambda mod: mod.__name__)
def test_chunked_with_a_length_is_read_chunked_then_closed(mod: Any) -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    ours = our_parse(mod, raw)
    assert ours["body"] == b"ok" and ours["chunked"] and ours["will_close"]
    assert stdlib_parse(raw)["body"] == b"ok"


@pytest.mark.parametrize("mod", MODULES, ids=lambda mod: mod.__name__)
def test_204_has_no_body_even_if_it_claims_a_chunked_one(mod: Any) -> None:
    raw = b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"
    ours = our_parse(mod, raw)
    assert ours["body"] == b"" and not ours["chunked"] and not ours["will_close"]


@pytest.mark.parametrize("mod", MODULES, ids=lambda mod: mod.__name__)
def test_a_line_that_is_not_a_header_is_skipped_alone(mod: Any) -> None:
    # The email package behind http.client stops at such a line and treats the rest as body.
    raw = b"HTTP/1.1 200 OK\r\nX-A: 1\r\nnot a header\r\nContent-Length: 2\r\n\r\nok"
    ours = our_parse(mod, raw)
    assert ours["headers"] == [("X-A", "1"), ("Content-Length", "2")] and ours["body"] == b"ok"
