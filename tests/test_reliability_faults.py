"""Reliability under faults, for the four public clients (Altan and Pipedream, sync and async)
against the fault server of tests/servers.py playing each API (tests/reliability.py).

What it proves (tests/test_transport.py proves the same rules one level down, on
``_Transport``; here every public write and read goes through them):

* a write (``execute_action``, ``run_action``, ``deploy_trigger``, ``create_connect_token``,
  the PUTs, ``create_rate_limit``, proxy POSTs, workflow invocations) reaches the server exactly
  once under every fault that happens after it was sent, and the error says it may have run;
* a write is sent again only when the server provably did not get it: connection refused, a
  pooled socket the server had closed (FIN, or RST before any byte was sent), 429, 503 with
  ``Retry-After``;
* reads survive transient 5xx/429/network errors within the retry budget, honour every
  form of retry hint, and give up with a clear error after it;
* a call never takes longer than its timeout (plus slack) when the server hangs at any point,
  a slow token endpoint included;
* a server that closes idle keep-alive connections (FIN, RST, its own idle timer, TLS too)
  never causes a user-visible error;
* redirects: never to another host, never from https to http, never a POST turned into a GET,
  and a 303 after a write is not followed (the write was processed).

Backoff waits go through ``VirtualClock`` (no sleeping); only the faults designed to hang use
the real clock, with a generous bound.

Error messages that fit the failure, for the four public clients:

* an HTML error page (a proxy's, a gateway's, a load balancer's) goes into the message as its
  ``<title>``, or its text when it has none, whitespace collapsed, never as markup;
* a TLS certificate that does not match the host name says so, and does not send the user
  after a CA bundle; only a certificate from an unknown CA suggests ``ca_bundle=``.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest
from reliability import (
    FLAVOURS,
    P,
    READS,
    WRITES,
    Api,
    Op,
    VirtualClock,
    as_pipedream,
    read,
    write,
)
from servers import Response, Server, burst, html_error, http_date, rate_limited

import altan
import pipedream


# =============================================================================================
# Faults: what is sent again, what is not, and when
# =============================================================================================

SLACK = 2.0  # seconds of slack on wall-clock bounds: "ends near the deadline", never tight timing
HANG = 0.15  # the timeout given to calls that meet a server that hangs


pytestmark = pytest.mark.usefixtures("clean_client_environment")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    virtual = VirtualClock()
    monkeypatch.setattr(altan, "_clock", virtual)
    monkeypatch.setattr(pipedream, "_clock", virtual)
    return virtual


def module_of(flavour: str) -> str:
    return flavour.split("-")[0]


# Every write of both modules with the sync client; the main write with the async clients.
WRITE_CASES = (
    [("altan-sync", op) for op in WRITES["altan"]]
    + [("pipedream-sync", op) for op in WRITES["pipedream"]]
    + [("altan-async", write("altan")), ("pipedream-async", write("pipedream"))]
)
MAIN_WRITES = [(flavour, write(module_of(flavour))) for flavour in FLAVOURS]


def case_id(case: Tuple[str, Op]) -> str:
    return "%s:%s" % (case[0], case[1].label)


# ---------------------------------------------------------------------------------------------
# Writes: exactly once after any fault that happens once the request was sent
# ---------------------------------------------------------------------------------------------

BROKEN_CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
)
SENT_FAULTS: Dict[str, Callable[[], Response]] = {
    "500": lambda: Response(500, json={"detail": "boom"}),
    "502-html": lambda: html_error(502),
    "503-without-retry-after": lambda: Response(503, json={"detail": "down"}),
    "504": lambda: Response(504, json={"detail": "upstream timeout"}),
    "408": lambda: Response(408, json={"detail": "slow"}),
    "reset-after-reading-the-request": lambda: Response(fault="reset"),
    "close-before-answering": lambda: Response(fault="close"),
    "truncated-body": lambda: Response(200, json={"result": "x" * 200}, fault="truncate"),
    "broken-chunked-body": lambda: Response(raw=BROKEN_CHUNKED),
    "garbage-status-line": lambda: Response(raw=b"SSH-2.0-OpenSSH_9.2\r\n\r\n"),
}
HANGING_FAULTS: Dict[str, Callable[[], Response]] = {
    "delay-before-headers": lambda: Response(200, json={}, delay=30),
    "delay-mid-body": lambda: Response(200, json={"result": "x" * 200}, body_delay=30),
    "content-length-longer-than-the-body": lambda: Response(200, json={"a": 1}, content_length=1000),
}


def assert_sent_once(api: Api, op: Op, error: BaseException) -> None:
    server = api.server
    assert server.count(op.path, op.http) == 1, server.requests_for(op.path)
    assert isinstance(error, api.error)
    assert error.method == op.http and error.url.startswith(server.url + op.path)
    if error.status_code is None:  # no complete answer: the caller must know it may have run
        assert "may have been processed; not retried" in str(error), str(error)
    if api.module_name == "pipedream":
        assert api.tokens.requests == 1  # no token refresh, no second attempt


@pytest.mark.parametrize("fault", list(SENT_FAULTS))
@pytest.mark.parametrize("case", WRITE_CASES, ids=case_id)
def test_a_write_reaches_the_server_exactly_once_whatever_fails_after_sending(
    make_api, http_server, clock, case, fault
):
    flavour, op = case
    api = make_api(flavour, http_server, max_retries=5)
    api.warm()  # a pooled connection (and a Pipedream token): the write reuses it
    http_server.add(op.path, SENT_FAULTS[fault](), method=op.http)
    with pytest.raises(api.error) as caught:
        api.op(op)
    assert_sent_once(api, op, caught.value)
    assert clock.sleeps == []


@pytest.mark.parametrize("fault", list(HANGING_FAULTS))
@pytest.mark.parametrize("case", MAIN_WRITES, ids=case_id)
def test_a_write_that_times_out_is_not_sent_again(make_api, http_server, case, fault):
    flavour, op = case
    api = make_api(flavour, http_server, max_retries=5)
    api.warm()
    http_server.add(op.path, HANGING_FAULTS[fault](), method=op.http)
    started = time.monotonic()
    with pytest.raises(api.error) as caught:
        api.view(timeout=HANG).op(op)
    assert time.monotonic() - started <= HANG + SLACK
    assert "timed out after %g s" % HANG in str(caught.value)
    assert_sent_once(api, op, caught.value)


# ---------------------------------------------------------------------------------------------
# Writes: sent again only when the server provably did not get them
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_write_is_retried_when_the_connection_is_refused(make_api, make_server, clock, flavour):
    # Bound but not listening: connecting is refused. The server starts listening during the
    # client's first backoff wait. (Pipedream with a static token: the write is the first request.)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = make_server(sock=sock, start=False)
    options: Dict[str, Any] = {"max_retries": 2}
    if module_of(flavour) == "pipedream":
        options["access_token"] = "static-token-for-refused-test"
        as_pipedream(server).live.add("static-token-for-refused-test")
    api = make_api(flavour, server, **options)
    clock.on_sleep = lambda seconds: server.start()
    op = write(module_of(flavour))
    api.op(op)
    assert server.count(op.path, op.http) == 1 and len(clock.sleeps) == 1


@pytest.mark.parametrize("how", ["fin", "rst", "fin-rst-still-on-the-way"])
@pytest.mark.parametrize("case", MAIN_WRITES, ids=case_id)
def test_a_write_on_a_pooled_socket_the_server_closed_goes_once_on_a_new_connection(
    make_api, http_server, clock, case, how
):
    # The client checks a pooled connection before a write and finds it closed ("before any
    # byte was read back"): the write goes on a new connection. With "fin-rst-still-on-the-way"
    # that check is all there is: sending on the dead connection would succeed, and the
    # request would be lost (or, with a server that had read it, run) with no answer.
    flavour, op = case
    api = make_api(flavour, http_server, max_retries=0)
    api.warm()
    assert http_server.close_idle(reset=how == "rst", half=how == "fin-rst-still-on-the-way") == 1
    api.op(op)
    assert http_server.count(op.path, op.http) == 1
    assert len(http_server.connections) == 2 and clock.sleeps == []


@pytest.mark.parametrize("case", MAIN_WRITES, ids=case_id)
def test_a_write_on_a_reset_socket_the_idle_check_missed_is_resent_only_because_sending_failed(
    make_api, http_server, clock, monkeypatch, case
):
    # The pooled socket looks alive (the check is fooled, as with a NAT that dropped it
    # silently) but the server reset it: sending fails before the request left, so the
    # write provably did not reach the server and goes once on a new connection.
    flavour, op = case
    api = make_api(flavour, http_server, max_retries=0)
    api.warm()
    assert http_server.close_idle(reset=True) == 1
    monkeypatch.setattr(api.mod, "_connection_dropped", lambda conn: False)
    api.op(op)
    assert http_server.count(op.path, op.http) == 1 and clock.sleeps == []


WRITE_SAFE_ANSWERS = {
    "429-retry-after": (lambda: rate_limited(retry_after=1), 1.0, 1.0),
    "429-retry-after-ms": (lambda: rate_limited(retry_after_ms=250), 0.25, 0.25),
    "429-x-ratelimit-reset": (lambda: rate_limited(ratelimit_reset=2), 2.0, 2.0),
    "429-retry-after-http-date": (lambda: rate_limited(retry_after_date=3), 1.0, 3.0),
    "503-retry-after": (lambda: rate_limited(503, retry_after=1, detail="maintenance"), 1.0, 1.0),
}


@pytest.mark.parametrize("answer", list(WRITE_SAFE_ANSWERS))
@pytest.mark.parametrize("case", MAIN_WRITES, ids=case_id)
def test_a_write_refused_with_429_or_503_retry_after_is_sent_again_after_the_hint(
    make_api, http_server, clock, case, answer
):
    make_answer, low, high = WRITE_SAFE_ANSWERS[answer]
    flavour, op = case
    api = make_api(flavour, http_server)
    api.warm()
    http_server.add(op.path, make_answer(), method=op.http)
    api.op(op)
    assert http_server.count(op.path, op.http) == 2  # refused once, processed once
    assert len(clock.sleeps) == 1 and low <= clock.sleeps[0] <= high


# ---------------------------------------------------------------------------------------------
# Reads: retried within the budget, hints honoured, a clear error after it
# ---------------------------------------------------------------------------------------------

TRANSIENT = {
    "503-then-502-html": lambda: [Response(503, json={"detail": "busy"}), html_error(502)],
    "500-then-504": lambda: [Response(500), Response(504)],
    "429-then-408": lambda: [Response(429, json={"detail": "slow down"}), Response(408)],
    "reset-then-close": lambda: [Response(fault="reset"), Response(fault="close")],
    "truncated-then-broken-chunks": lambda: [
        Response(200, json={"a": "x" * 100}, fault="truncate"),
        Response(raw=BROKEN_CHUNKED),
    ],
}
READ_CASES = (
    [(flavour, read(module_of(flavour))) for flavour in FLAVOURS]
    + [("pipedream-sync", op) for op in READS["pipedream"][1:]]
    + [("altan-sync", READS["altan"][1])]
)


@pytest.mark.parametrize("faults", list(TRANSIENT))
@pytest.mark.parametrize("case", READ_CASES, ids=case_id)
def test_a_read_survives_transient_failures_within_the_retry_budget(make_api, http_server, clock, case, faults):
    flavour, op = case
    api = make_api(flavour, http_server, max_retries=2)
    api.warm()
    before = http_server.count(op.path, op.http)
    http_server.add(op.path, *TRANSIENT[faults](), method=op.http)
    result = api.op(op)
    if op.http != "DELETE":  # a DELETE returns None
        assert result["path"] == op.path
    assert http_server.count(op.path, op.http) == before + 3  # two failures, then the answer
    # A network error on a reused connection is retried at once on a new one, without a wait.
    assert 1 <= len(clock.sleeps) <= 2


def _hints() -> List[Tuple[str, Callable[[], Dict[str, str]], float, float]]:
    return [
        ("retry-after-seconds", lambda: {"Retry-After": "2"}, 2.0, 2.0),
        ("retry-after-http-date", lambda: {"Retry-After": http_date(time.time() + 4)}, 2.0, 4.0),
        ("retry-after-ms", lambda: {"retry-after-ms": "300"}, 0.3, 0.3),
        ("x-ratelimit-reset-seconds", lambda: {"X-RateLimit-Reset": "3"}, 3.0, 3.0),
        ("x-ratelimit-reset-epoch", lambda: {"X-RateLimit-Reset": "%d" % (time.time() + 5)}, 3.0, 5.0),
        ("retry-after-capped-at-60-s", lambda: {"Retry-After": "86400"}, 60.0, 60.0),
    ]


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("hint", _hints(), ids=[h[0] for h in _hints()])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_read_honours_every_form_of_retry_hint(make_api, http_server, clock, flavour, hint, status):
    _, headers, low, high = hint
    op = read(module_of(flavour))
    api = make_api(flavour, http_server, timeout=120)
    api.warm()
    http_server.add(op.path, Response(status, json={"detail": "wait"}, headers=headers()), method=op.http)
    assert api.op(op)["path"] == op.path
    assert len(clock.sleeps) == 1 and low <= clock.sleeps[0] <= high


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_read_gives_up_after_the_retry_budget_with_a_clear_error(make_api, http_server, clock, flavour):
    op = read(module_of(flavour))
    api = make_api(flavour, http_server, max_retries=2)
    api.warm()
    http_server.add(op.path, *burst(503, 5), method=op.http)
    with pytest.raises(api.error) as caught:
        api.op(op)
    error = caught.value
    assert error.status_code == 503 and error.detail == "burst 3/5"
    assert "HTTP 503" in str(error) and "burst 3/5" in str(error) and op.path in str(error)
    assert http_server.count(op.path, op.http) == 1 + 3 and len(clock.sleeps) == 2
    http_server.route(op.path, Response(fault="reset"), method=op.http)
    with pytest.raises(api.error, match="after 3 attempts"):
        api.op(op)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_retry_hint_past_the_deadline_fails_at_once(make_api, http_server, clock, flavour):
    op = read(module_of(flavour))
    api = make_api(flavour, http_server, timeout=5)
    api.warm()
    http_server.add(op.path, rate_limited(retry_after=30), method=op.http)
    with pytest.raises(api.error) as caught:
        api.op(op)
    assert caught.value.status_code == 429 and clock.sleeps == []


# ---------------------------------------------------------------------------------------------
# The timeout caps the whole call
# ---------------------------------------------------------------------------------------------

HANGS = {
    "delay-before-headers": lambda: [Response(200, json={}, delay=30)],
    "delay-mid-body": lambda: [Response(200, json={"a": "x" * 100}, body_delay=30)],
    "trickled-body": lambda: [Response(200, body=b"x" * 1000, trickle=(1, 0.05))],
    "chunks-then-silence": lambda: [Response(200, chunks=[b'{"a": ', b"1}"], body_delay=30)],
    "retry-then-hang": lambda: [Response(503, headers={"Retry-After": "0.1"}), Response(200, json={}, delay=30)],
}


@pytest.mark.parametrize("hang", list(HANGS))
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_hanging_server_never_stretches_a_call_past_its_timeout(make_api, http_server, flavour, hang):
    op = read(module_of(flavour))
    api = make_api(flavour, http_server, max_retries=3)
    api.warm()
    http_server.add(op.path, *HANGS[hang](), method=op.http)
    started = time.monotonic()
    with pytest.raises(api.error) as caught:
        api.view(timeout=HANG).op(op)
    assert time.monotonic() - started <= HANG + SLACK
    assert "timed out after %g s" % HANG in str(caught.value)


@pytest.mark.parametrize("flavour", ["pipedream-sync", "pipedream-async"])
def test_a_token_endpoint_that_hangs_fails_the_call_within_its_timeout(make_api, http_server, flavour):
    api = make_api(flavour, http_server)
    api.tokens.delay = 30
    started = time.monotonic()
    with pytest.raises(pipedream.PipedreamAuthError, match="get OAuth token failed: timed out after %g s" % HANG):
        api.view(timeout=HANG).op(read("pipedream"))
    assert time.monotonic() - started <= HANG + SLACK
    assert http_server.count(read("pipedream").path) == 0


def test_a_call_that_needs_a_token_and_a_refresh_stays_within_one_timeout(make_api, http_server):
    # Each step takes most of the timeout: token, a 401, a new token, then a hang. Today the
    # call ends after about four timeouts (2 s); the bound leaves one whole timeout of slack.
    api = make_api("pipedream-sync", http_server, timeout=0.5, max_retries=0)
    api.tokens.delay = 0.45
    op = read("pipedream")
    http_server.add(
        op.path,
        Response(401, json={"error": "token revoked"}, delay=0.45),
        Response(200, json={}, delay=30),
        method=op.http,
    )
    started = time.monotonic()
    with pytest.raises(pipedream.PipedreamApiError):
        api.op(op)
    assert time.monotonic() - started <= 0.5 + 0.5


# ---------------------------------------------------------------------------------------------
# Stale keep-alive connections: never a user-visible error
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_server_closing_idle_connections_never_causes_an_error(make_api, make_server, ca_bundle, flavour, tls):
    server = make_server(tls=tls)
    api = make_api(flavour, server, ca_bundle=ca_bundle, max_retries=0)  # a retry would hide the error
    module = module_of(flavour)
    api.warm()
    for reset in (False, True, False, True):
        assert server.close_idle(reset=reset) == 1
        api.op(read(module))
        assert server.close_idle(reset=reset) == 1
        api.op(write(module))
    assert server.count(write(module).path, write(module).http) == 4


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_server_with_a_short_keep_alive_timeout_never_causes_an_error(make_api, make_server, flavour):
    server = make_server(idle_timeout=0.05)  # the server drops idle connections after 50 ms
    api = make_api(flavour, server, max_retries=0)
    module = module_of(flavour)
    for i in range(3):
        api.op(read(module))
        server.wait_connections_closed(2 * i + 1, by="idle-timeout")
        api.op(write(module))
        server.wait_connections_closed(2 * i + 2, by="idle-timeout")
    assert server.count(write(module).path, write(module).http) == 3


# ---------------------------------------------------------------------------------------------
# Redirects
# ---------------------------------------------------------------------------------------------


# 301, 302 and 303 after a write are not followed (tests/test_protocol_edges.py).
@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_redirected_write_keeps_its_method_and_body_on_the_same_host(make_api, http_server, flavour, status):
    op = write(module_of(flavour))
    api = make_api(flavour, http_server, max_retries=0)
    api.warm()
    http_server.add(op.path, Response(status, headers={"Location": "/moved"}), method=op.http)
    assert api.op(op)["path"] == "/moved"
    original, moved = http_server.requests_for(op.path, op.http)[-1], http_server.requests_for("/moved")
    assert len(moved) == 1 and moved[0].method == op.http == original.method  # never turned into a GET
    assert moved[0].body == original.body and moved[0].body
    assert http_server.count(op.path, op.http) == 1


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_303_after_a_write_is_not_followed(make_api, http_server, flavour):
    # 303 See Other means the server processed the request; sending it again to the Location
    # (or to the same URL, as a post/redirect/get server answers) could run it twice, and a
    # GET would be a different request. The caller gets an error naming the Location.
    op = write(module_of(flavour))
    api = make_api(flavour, http_server, max_retries=0)
    api.warm()
    http_server.add(op.path, Response(303, headers={"Location": op.path}), method=op.http)
    with pytest.raises(api.error) as caught:
        api.op(op)
    assert caught.value.status_code == 303 and "303" in str(caught.value)
    assert "processed" in str(caught.value) and op.path in str(caught.value)
    assert http_server.count(op.path) == 1
    http_server.add(read(module_of(flavour)).path, Response(303, headers={"Location": "/result"}))
    assert api.op(read(module_of(flavour)))["path"] == "/result"  # a read follows it


@pytest.mark.parametrize("kind", ["read", "write"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_redirect_to_another_host_is_never_followed(make_api, http_server, make_server, flavour, kind):
    other = make_server()
    module = module_of(flavour)
    op = write(module) if kind == "write" else read(module)
    api = make_api(flavour, http_server, max_retries=0)
    api.warm()
    for location in (other.url + "/steal", "http://localhost:%d/steal" % http_server.port):
        http_server.add(op.path, Response(307, headers={"Location": location}), method=op.http)
        with pytest.raises(api.error, match="redirect to another host"):
            api.op(op)
    assert other.count() == 0


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_redirect_from_https_to_http_is_never_followed(make_api, https_server, http_server, ca_bundle, flavour):
    module = module_of(flavour)
    api = make_api(flavour, https_server, ca_bundle=ca_bundle, max_retries=0)
    api.warm()
    for op in (read(module), write(module)):
        https_server.add(
            op.path,
            Response(307, headers={"Location": "http://127.0.0.1:%d%s" % (https_server.port, op.path)}),
            method=op.http,
        )
        with pytest.raises(api.error, match="redirect from https to http refused"):
            api.op(op)
    assert http_server.count() == 0


@pytest.mark.parametrize("flavour", ["pipedream-sync", "pipedream-async"])
def test_a_token_endpoint_redirecting_elsewhere_never_gets_the_secret(make_api, http_server, make_server, flavour):
    other = make_server()
    api = make_api(flavour, http_server, max_retries=0)
    http_server.add("/v1/oauth/token", Response(307, headers={"Location": other.url + "/v1/oauth/token"}))
    with pytest.raises(pipedream.PipedreamAuthError, match="redirect to another host"):
        api.op(read("pipedream"))
    assert other.count() == 0
    assert api.op(read("pipedream"))["path"] == P + "/projects/info"  # the next call gets a token


# =============================================================================================
# Error messages that fit the failure
# =============================================================================================

NGINX_502 = html_error(502, "Bad Gateway")
SQUID_PAGE = """<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN">
<html><head>
<meta type="copyright" content="Copyright (C) 1996-2022 The Squid Software Foundation">
<title>ERROR: The requested URL   could not
 be retrieved</title>
<style type="text/css"><!-- body { font-family: sans-serif } --></style>
</head><body id=ERR_CONNECT_FAIL><h1>ERROR</h1><p>Connection &amp; stuff failed</p></body></html>"""
UNTITLED_PAGE = """<html><head><style>h1 { color: red }</style><script>var x = "<b>";</script></head>
<body>
  <h1>Service   Unavailable</h1>
  <p>Back &lt;soon&gt; &mdash; try again</p>
</body></html>"""
CASES = {
    "nginx": (NGINX_502, "502 Bad Gateway"),
    "squid": (Response(503, SQUID_PAGE, content_type="text/html"), "ERROR: The requested URL could not be retrieved"),
    "untitled": (
        Response(503, UNTITLED_PAGE, content_type="text/html; charset=utf-8"),
        "Service Unavailable Back <soon> \u2014 try again",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_html_error_page_gives_its_title_or_text(make_api, http_server, flavour, case):
    module = flavour.split("-")[0]
    api = make_api(flavour, http_server, max_retries=0)
    api.warm()
    page, expected = CASES[case]
    for op in (read(module), write(module)):
        http_server.add(op.path, page, method=op.http)
        with pytest.raises(api.error) as caught:
            api.op(op)
        message = str(caught.value)
        assert ": %s [" % expected in message, message
        assert "<" not in message.replace("<soon>", ""), message
        assert caught.value.detail == expected


def test_text_that_is_not_html_is_kept(make_api, http_server):
    api = make_api("altan-sync", http_server, max_retries=0)
    http_server.add("/connection", Response(400, "a < b and c > d", content_type="text/plain"))
    with pytest.raises(api.error, match="a < b and c > d"):
        api.op(read("altan"))


@pytest.fixture
def wrong_name_server(tls_ca) -> Iterator[Server]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("api.example.com").configure_cert(context)  # not 127.0.0.1
    server = Server(context).start()
    yield server
    server.stop()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])  # an IP address, a host name
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_host_name_mismatch_says_so_and_does_not_suggest_a_ca_bundle(
    make_api, wrong_name_server, ca_bundle, flavour, host
):
    wrong_name_server.url = "https://%s:%d" % (host, wrong_name_server.port)
    api = make_api(flavour, wrong_name_server, ca_bundle=ca_bundle, max_retries=2)
    with pytest.raises(api.error) as caught:
        api.op(read(flavour.split("-")[0]))
    message = str(caught.value)
    assert "certificate verification failed" in message and "not retried" in message
    assert "does not match the host name" in message, message
    assert "ca_bundle" not in message and "ssl_context" not in message and "private CA" not in message
    assert wrong_name_server.count() == 0


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_unknown_ca_suggests_a_ca_bundle(make_api, https_server, flavour):
    api = make_api(flavour, https_server, max_retries=0)  # the system CAs do not include the test CA
    with pytest.raises(api.error) as caught:
        api.op(write(flavour.split("-")[0]))
    message = str(caught.value)
    assert "ca_bundle=" in message and "ssl_context=" in message
    assert "does not match" not in message
