"""Tests of the shared transport (``_Transport``, ``_AsyncRunner`` and helpers) against real
local servers (tests/servers.py), through ``_Transport`` for every module that carries the
shared section, and through ``AltanActionsClient``/``AsyncAltanActionsClient``.

Tests synchronise on what the server saw (its counters and events), never on sleeps. Backoff
waits go through a virtual clock (``clock``) that records each wait and advances the
module's notion of time instead of sleeping, so deadlines still count them.

The response parser (the section at the end): the transport's own reading of a response's status line and header block
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

import asyncio
import base64
import http.client
import importlib
import io
import logging
import pathlib
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, Dict, Optional, Tuple

import pytest
from reliability import VirtualClock
from servers import ConnectProxy, Response, burst, free_port, html_error, http_date, rate_limited

import altan
import pipedream


ROOT = pathlib.Path(__file__).resolve().parent.parent


def _transport_modules():
    modules = ["altan"]
    pipedream = ROOT / "pipedream.py"
    source = pipedream.read_text(encoding="utf-8") if pipedream.exists() else ""
    if re.search(r"^class _Transport\b", source, re.MULTILINE):
        modules.append("pipedream")
    return modules


TRANSPORT_MODULES = _transport_modules()

# Generous bounds for wall-clock assertions: they prove "ends near the deadline", never a tight timing.
SLACK = 2.5


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------


class TransportError(altan.AltanActionError):
    """The error class given to _Transport in these tests: its constructor takes the
    attributes the transport fills (message, then keywords)."""


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch):
    """No test may go through a proxy configured on the machine running the tests."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(params=TRANSPORT_MODULES)
def mod(request):
    return importlib.import_module(request.param)


@pytest.fixture
def clock(mod, monkeypatch):
    virtual = VirtualClock()
    monkeypatch.setattr(mod, "_clock", virtual)
    return virtual


@pytest.fixture
def altan_clock(monkeypatch):
    virtual = VirtualClock()
    monkeypatch.setattr(altan, "_clock", virtual)
    return virtual


@pytest.fixture
def make_transport(mod):
    made = []

    def make(**options):
        options.setdefault("error_class", TransportError)
        options.setdefault("logger_name", "test.transport")
        transport = mod._Transport(**options)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.close()


@pytest.fixture
def make_client():
    made = []

    def make(base_url, api_key="test-key-0123456789", **options):
        client = altan.AltanActionsClient(api_key, base_url, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def call(transport, method, url, *, timeout=5.0, max_retries=2, body=None, headers=None, **options):
    return transport.request(
        method,
        url,
        operation="test call",
        headers=headers or {"Accept": "application/json"},
        body=body,
        timeout=timeout,
        max_retries=max_retries,
        **options,
    )


EXECUTE = "/connection/c1/actions/send-email/execute"


# ---------------------------------------------------------------------------------------------
# Keep-alive
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_sequential_calls_reuse_one_connection(make_transport, make_server, ca_bundle, tls):
    server = make_server(tls=tls)
    transport = make_transport(ca_bundle=ca_bundle)
    for i in range(6):
        method = "POST" if i % 2 else "GET"
        response = call(transport, method, server.url + "/ping", body=b"{}" if method == "POST" else None)
        assert response.status == 200 and response.data() == {"ok": True, "path": "/ping"}
    assert server.count("/ping") == 6
    assert len(server.connections) == 1
    assert {r.client_port for r in server.requests} == {server.connections[0].client_port}
    assert [r.index for r in server.requests] == list(range(6))


def test_client_calls_reuse_one_connection(make_client, http_server):
    client = make_client(http_server.url)
    client.list_connections()
    client.get_connection("c1")
    client.list_action_types("c1")
    client.get_action_type("c1", "send-email")
    client.execute_action("c1", "send-email", {"to": "a@example.com"})
    client.with_options(timeout=5).list_connections()  # a view shares the connections
    assert http_server.count() == 6
    assert len(http_server.connections) == 1


def test_concurrent_threads_never_share_a_connection(make_transport, http_server):
    transport = make_transport()
    gate = threading.Event()
    http_server.add("/slow", Response(200, json={}, hold=gate), Response(200, json={}, hold=gate))
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(call(transport, "GET", http_server.url + "/slow")))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    http_server.wait_requests(2, "/slow")  # both in flight at once
    gate.set()
    for thread in threads:
        thread.join(10)
    assert [r.status for r in results] == [200, 200]
    assert len({r.client_port for r in http_server.requests_for("/slow")}) == 2
    for _ in range(3):  # both went back to the pool: sequential calls open nothing new
        call(transport, "GET", http_server.url + "/after")
    assert len(http_server.connections) == 2


@pytest.mark.parametrize(
    "response",
    [
        Response(200, json={"items": ["x" * 100] * 50}, close=True, body_delay=0.05),
        Response(200, chunks=[b'{"items": ', b'"' + b"x" * 5000 + b'"}'], close=True, body_delay=0.05),
        Response(200, json={"items": "y" * 3000}, close=True, trickle=(1000, 0.02)),
    ],
    ids=["content-length", "chunked", "trickled"],
)
@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_connection_close_response_body_arriving_late_is_read(make_transport, make_server, ca_bundle, response, tls):
    # http.client closes the connection object as soon as it sees "Connection: close", before
    # the body is read; the response must keep the socket open until its body is in.
    server = make_server(tls=tls)
    server.add("/close", response)
    transport = make_transport(ca_bundle=ca_bundle)
    result = call(transport, "GET", server.url + "/close", max_retries=0)
    assert result.status == 200 and isinstance(result.data(), dict)
    call(transport, "GET", server.url + "/next")
    assert len(server.connections) == 2  # the closed one was not put back in the pool


@pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "connection-close"])
def test_failed_body_read_releases_the_socket_at_once(make_transport, http_server, close):
    # The error's traceback references the response; the socket must not live as long as it.
    http_server.add("/drip", Response(200, body=b"x" * 400, trickle=(1, 0.05), close=close))
    with pytest.raises(TransportError, match="timed out") as caught:
        call(make_transport(), "GET", http_server.url + "/drip", timeout=0.3)
    http_server.wait_connections_closed(1, by="client")  # while the error is still held
    assert caught.value.__traceback__ is not None


# ---------------------------------------------------------------------------------------------
# Stale idle connections
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_connection_closed_by_server_while_idle_is_replaced_for_reads_and_writes(
    make_transport, make_server, ca_bundle, tls
):
    server = make_server(tls=tls)
    transport = make_transport(ca_bundle=ca_bundle)
    call(transport, "GET", server.url + "/connection", max_retries=0)
    assert server.close_idle() == 1
    assert call(transport, "GET", server.url + "/connection", max_retries=0).status == 200
    assert server.close_idle() == 1
    assert call(transport, "POST", server.url + EXECUTE, body=b'{"payload":{}}', max_retries=0).status == 200
    assert server.count(EXECUTE, "POST") == 1
    assert server.count("/connection", "GET") == 2
    assert len(server.connections) == 3


def test_server_idle_timeout_then_execute_runs_once(make_client, make_server):
    server = make_server(idle_timeout=0.05)  # the server drops keep-alive connections after 50 ms
    client = make_client(server.url, max_retries=0)
    client.list_connections()
    server.wait_connections_closed(1, by="idle-timeout")
    result = client.execute_action("c1", "send-email", {"to": "a@example.com"})
    assert result == {"ok": True, "path": EXECUTE}
    assert server.count(EXECUTE, "POST") == 1
    assert server.requests_for(EXECUTE)[0].json() == {"payload": {"to": "a@example.com"}}


def test_stale_connections_missed_by_the_idle_check_are_retried_on_a_new_connection(
    mod, make_transport, http_server, monkeypatch
):
    # A NAT that dropped the connection sends no FIN, so the idle check cannot see it; the first
    # attempt then fails before any response. The retry must use a new connection, not the next
    # (equally stale) one from the pool, and it is not counted as a retry.
    transport = make_transport()
    gate = threading.Event()
    http_server.add("/warm", Response(200, json={}, hold=gate), Response(200, json={}, hold=gate))
    threads = [threading.Thread(target=call, args=(transport, "GET", http_server.url + "/warm")) for _ in range(2)]
    for thread in threads:
        thread.start()
    http_server.wait_requests(2, "/warm")
    gate.set()
    for thread in threads:
        thread.join(10)
    assert http_server.close_idle() == 2  # two pooled connections, both now dead
    monkeypatch.setattr(mod, "_connection_dropped", lambda conn: False)
    response = call(transport, "GET", http_server.url + "/connection", max_retries=0)
    assert response.status == 200
    assert http_server.count("/connection") == 1


def test_stale_connection_missed_by_the_idle_check_never_sends_a_write_twice(
    mod, make_transport, http_server, monkeypatch, clock
):
    transport = make_transport()
    call(transport, "GET", http_server.url + "/warm")
    assert http_server.close_idle() == 1
    monkeypatch.setattr(mod, "_connection_dropped", lambda conn: False)
    try:
        call(transport, "POST", http_server.url + EXECUTE, body=b"{}", max_retries=3)
    except TransportError as error:
        assert "not retried" in str(error)
    assert http_server.count(EXECUTE) <= 1


def test_write_on_a_connection_idle_past_the_write_limit_opens_a_new_one(make_transport, http_server, clock):
    transport = make_transport()  # write_idle_limit: 1 s by default
    call(transport, "GET", http_server.url + "/a")
    clock.sleep(0.9)
    call(transport, "POST", http_server.url + EXECUTE, body=b"{}")
    assert len(http_server.connections) == 1  # idle for less than the limit: reused
    clock.sleep(1.1)
    call(transport, "GET", http_server.url + "/a")
    assert len(http_server.connections) == 1  # reads reuse it whatever its idle time
    clock.sleep(1.1)
    call(transport, "POST", http_server.url + EXECUTE, body=b"{}")
    assert len(http_server.connections) == 2  # a write does not
    assert [r.index for r in http_server.requests_for(EXECUTE)] == [1, 0]


@pytest.mark.parametrize(
    "keep_alive, reused_after, new_after",
    [
        ("timeout=5, max=100", 3.9, 4.1),  # Apache, Node: the announced timeout less 1 s
        ("timeout=2", 0.9, 1.1),
        ("timeout=1", None, 0.01),  # no time left for a write at all
        ("timeout=600", 29.9, 30.1),  # capped at 30 s
        ("max=5", 0.9, 1.1),  # no timeout announced: the client's limit
        ("timeout=abc", 0.9, 1.1),  # unreadable: ignored
    ],
)
def test_a_write_honours_the_keep_alive_timeout_the_server_announced(
    make_transport, http_server, clock, keep_alive, reused_after, new_after
):
    http_server.route("/a", Response(200, json={}, headers={"Keep-Alive": keep_alive}))
    transport = make_transport()
    call(transport, "GET", http_server.url + "/a")
    if reused_after is not None:
        clock.sleep(reused_after)
        call(transport, "POST", http_server.url + "/a", body=b"{}")
        assert len(http_server.connections) == 1
    clock.sleep(new_after)
    call(transport, "POST", http_server.url + "/a", body=b"{}")
    assert len(http_server.connections) == 2


@pytest.mark.parametrize("limit, reused", [(0.0, False), (5.0, True), (30, True)])
def test_write_idle_limit_is_set_per_client(make_transport, http_server, clock, limit, reused):
    transport = make_transport(write_idle_limit=limit)
    call(transport, "GET", http_server.url + "/a")
    clock.sleep(min(limit, 4.0) or 0.001)
    call(transport, "POST", http_server.url + EXECUTE, body=b"{}")
    assert len(http_server.connections) == (1 if reused else 2)


@pytest.mark.parametrize("bad", [-1, 30.5, float("nan"), "1", True, None])
def test_write_idle_limit_is_checked(make_transport, bad):
    with pytest.raises(ValueError, match="write_idle_limit"):
        make_transport(write_idle_limit=bad)


def test_every_client_takes_write_idle_limit(http_server):
    clients = [
        altan.AltanActionsClient("test-key-0123456789", http_server.url, write_idle_limit=5),
        altan.AsyncAltanActionsClient("test-key-0123456789", http_server.url, write_idle_limit=5)._client,
        pipedream.SyncPipedreamClient("id", "secret", "proj_1", "development", write_idle_limit=5),
        pipedream.PipedreamClient("id", "secret", "proj_1", "development", write_idle_limit=5).sync,
    ]
    assert [client._transport.write_idle_limit for client in clients] == [5.0] * 4
    for client in clients:
        client.close()
    with pytest.raises(ValueError, match="write_idle_limit"):
        pipedream.SyncPipedreamClient("id", "secret", "proj_1", "development", write_idle_limit=31)


# ---------------------------------------------------------------------------------------------
# Writes: never twice
# ---------------------------------------------------------------------------------------------

WRITE_FAULTS = {
    "500": (lambda: Response(500, json={"detail": "boom"}), 5.0),
    "502-html": (lambda: html_error(502), 5.0),
    "504": (lambda: Response(504, json={"detail": "upstream timeout"}), 5.0),
    "408": (lambda: Response(408, json={"detail": "slow"}), 5.0),
    "reset-after-request": (lambda: Response(fault="reset"), 5.0),
    "close-before-answer": (lambda: Response(fault="close"), 5.0),
    "truncated-body": (lambda: Response(200, json={"result": "x" * 100}, fault="truncate"), 5.0),
    "timeout": (lambda: Response(200, json={}, delay=30), 0.3),
}


@pytest.mark.parametrize("warm", [False, True], ids=["new-connection", "reused-connection"])
@pytest.mark.parametrize("fault", list(WRITE_FAULTS))
def test_write_is_never_sent_twice(make_transport, http_server, clock, fault, warm):
    make_response, timeout = WRITE_FAULTS[fault]
    transport = make_transport()
    if warm:
        call(transport, "GET", http_server.url + "/warm")
    http_server.add(EXECUTE, make_response())
    with pytest.raises(TransportError) as caught:
        call(transport, "POST", http_server.url + EXECUTE, body=b'{"payload":{}}', timeout=timeout, max_retries=5)
    assert http_server.count(EXECUTE, "POST") == 1
    assert clock.sleeps == []
    error = caught.value
    assert error.method == "POST" and error.url == http_server.url + EXECUTE
    if error.status_code is None:  # no complete response: say that it may have run
        assert "may have been processed; not retried" in str(error)


@pytest.mark.parametrize("fault", ["500", "reset-after-request", "close-before-answer", "timeout"])
def test_execute_action_is_never_sent_twice(make_client, http_server, altan_clock, fault):
    make_response, timeout = WRITE_FAULTS[fault]
    client = make_client(http_server.url, max_retries=5, timeout=timeout)
    client.list_connections()
    http_server.add(EXECUTE, make_response())
    with pytest.raises(altan.AltanActionError):
        client.execute_action("c1", "send-email", {"to": "a@example.com"})
    assert http_server.count(EXECUTE, "POST") == 1
    assert altan_clock.sleeps == []


def test_async_execute_action_is_never_sent_twice(http_server, altan_clock):
    http_server.add(EXECUTE, Response(fault="reset"))

    async def main():
        async with altan.AsyncAltanActionsClient("test-key-0123456789", http_server.url, max_retries=5) as client:
            with pytest.raises(altan.AltanActionError, match="not retried"):
                await client.execute_action("c1", "send-email", {})

    asyncio.run(main())
    assert http_server.count(EXECUTE, "POST") == 1


# ---------------------------------------------------------------------------------------------
# Writes: retried only when the server provably did not run them
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "first, expected_wait",
    [
        (lambda: rate_limited(retry_after=0), (0.0, 0.0)),
        (lambda: rate_limited(retry_after=2), (2.0, 2.0)),
        (lambda: Response(429, json={"detail": "slow down"}), (0.25, 0.5)),  # no hint: first backoff
        (lambda: rate_limited(retry_after_date=5), (3.0, 5.0)),  # the date is made when the test runs
        (lambda: rate_limited(retry_after_ms=300), (0.3, 0.3)),
        (lambda: rate_limited(ratelimit_reset=2), (2.0, 2.0)),
        (lambda: rate_limited(503, retry_after=1, detail="maintenance"), (1.0, 1.0)),
        (lambda: rate_limited(503, retry_after_ms=300, detail="maintenance"), (0.3, 0.3)),
    ],
    ids=[
        "429-retry-after-0",
        "429-retry-after-2",
        "429-no-hint",
        "429-retry-after-date",
        "429-retry-after-ms",
        "429-x-ratelimit-reset",
        "503-retry-after",
        "503-retry-after-ms",
    ],
)
def test_write_is_retried_after_429_and_503_with_retry_after(make_transport, http_server, clock, first, expected_wait):
    http_server.add(EXECUTE, first(), Response(200, json={"success": True}))
    transport = make_transport()
    response = call(transport, "POST", http_server.url + EXECUTE, body=b'{"payload":{"n":1}}')
    assert response.status == 200
    assert http_server.count(EXECUTE, "POST") == 2
    assert [r.body for r in http_server.requests_for(EXECUTE)] == [b'{"payload":{"n":1}}'] * 2
    assert len(clock.sleeps) == 1
    assert expected_wait[0] <= clock.sleeps[0] <= expected_wait[1]


def test_write_is_not_retried_after_503_without_retry_after(make_transport, http_server, clock):
    http_server.add(EXECUTE, Response(503, json={"detail": "down"}), Response(200, json={}))
    with pytest.raises(TransportError) as caught:
        call(make_transport(), "POST", http_server.url + EXECUTE, body=b"{}")
    assert caught.value.status_code == 503 and caught.value.detail == "down"
    assert http_server.count(EXECUTE) == 1 and clock.sleeps == []


def test_write_is_retried_when_the_connection_is_refused(make_transport, make_server, clock):
    # A socket that is bound but not listening refuses connections; the server starts
    # listening on it during the client's first backoff wait.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = make_server(sock=sock, start=False)
    clock.on_sleep = lambda seconds: server.start()
    response = call(make_transport(), "POST", server.url + EXECUTE, body=b"{}", max_retries=2)
    assert response.status == 200
    assert len(clock.sleeps) == 1
    assert server.count(EXECUTE, "POST") == 1


def test_refused_connection_gives_up_with_a_clear_error(make_transport, clock):
    url = "http://127.0.0.1:%d%s" % (free_port(), EXECUTE)
    with pytest.raises(TransportError) as caught:
        call(make_transport(), "POST", url, body=b"{}", max_retries=2)
    error = caught.value
    assert "connection refused" in str(error) and "after 3 attempts" in str(error)
    assert "may have been processed" not in str(error)
    assert error.status_code is None and error.method == "POST" and error.url == url
    assert issubclass(error.__cause__.cause_type, ConnectionRefusedError)
    assert len(clock.sleeps) == 2


def test_write_marked_idempotent_is_retried_after_500(make_transport, http_server, clock):
    http_server.add("/put", Response(500), Response(200, json={}))
    response = call(make_transport(), "POST", http_server.url + "/put", body=b"{}", idempotent=True)
    assert response.status == 200 and http_server.count("/put") == 2


# ---------------------------------------------------------------------------------------------
# Reads: retries, hints, backoff, budget
# ---------------------------------------------------------------------------------------------


def _hint_cases():
    now = time.time()
    return [
        ("503-retry-after-seconds", 503, lambda: {"Retry-After": "2"}, 2.0, 2.0),
        ("429-retry-after-fraction", 429, lambda: {"Retry-After": "1.5"}, 1.5, 1.5),
        ("502-retry-after-http-date", 502, lambda: {"Retry-After": http_date(time.time() + 30)}, 28.0, 30.0),
        ("503-retry-after-ms", 503, lambda: {"retry-after-ms": "250"}, 0.25, 0.25),
        ("429-ms-wins-over-seconds", 429, lambda: {"retry-after-ms": "100", "Retry-After": "9"}, 0.1, 0.1),
        ("429-x-ratelimit-reset-delta", 429, lambda: {"X-RateLimit-Reset": "3"}, 3.0, 3.0),
        ("429-x-ratelimit-reset-epoch", 429, lambda: {"X-RateLimit-Reset": str(int(time.time()) + 5)}, 3.5, 5.0),
        ("503-retry-after-capped", 503, lambda: {"Retry-After": "3600"}, 60.0, 60.0),
        ("503-retry-after-past-date", 503, lambda: {"Retry-After": http_date(now - 3600)}, 0.0, 0.0),
        ("503-retry-after-garbage", 503, lambda: {"Retry-After": "soon"}, 0.25, 0.5),  # ignored: backoff
        ("500-no-hint", 500, dict, 0.25, 0.5),
        ("408-no-hint", 408, dict, 0.25, 0.5),
        ("504-no-hint", 504, dict, 0.25, 0.5),
    ]


@pytest.mark.parametrize(
    "status, headers, low, high", [case[1:] for case in _hint_cases()], ids=[case[0] for case in _hint_cases()]
)
def test_read_is_retried_and_honours_retry_hints(make_transport, http_server, clock, status, headers, low, high):
    http_server.add(
        "/connection", Response(status, json={"detail": "wait"}, headers=headers()), Response(200, json={"data": []})
    )
    response = call(make_transport(), "GET", http_server.url + "/connection", timeout=120)
    assert response.status == 200
    assert http_server.count("/connection") == 2
    assert len(clock.sleeps) == 1
    assert low <= clock.sleeps[0] <= high


def test_read_backoff_is_exponential_and_jittered(make_transport, http_server, clock):
    http_server.add("/connection", Response(503), Response(502), Response(500), Response(200, json={}))
    response = call(make_transport(), "GET", http_server.url + "/connection", max_retries=3)
    assert response.status == 200 and http_server.count("/connection") == 4
    first, second, third = clock.sleeps
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0 and 1.0 <= third <= 2.0


def test_5xx_burst_longer_than_the_retries(make_transport, http_server, clock):
    http_server.add("/connection", *burst(503, 5, then=Response(200, json={"data": []})))
    transport = make_transport()
    with pytest.raises(TransportError) as caught:
        call(transport, "GET", http_server.url + "/connection", max_retries=2)
    assert caught.value.status_code == 503 and caught.value.detail == "burst 3/5"
    assert "after" not in str(caught.value)  # an HTTP error names its status, not a count
    response = call(transport, "GET", http_server.url + "/connection", max_retries=2)
    assert response.data() == {"data": []}
    assert http_server.count("/connection") == 6 and len(clock.sleeps) == 4


def test_backoff_is_capped_and_jittered(mod):
    waits = [mod._sleep_time(attempt) for attempt in (10, 20, 30) for _ in range(50)]
    assert all(mod._BACKOFF_CAP / 2 <= w <= mod._BACKOFF_CAP for w in waits)
    assert len(set(waits)) > 1


def _failure(mod, *, sent, retryable=True):
    return mod._Failure("reset", ConnectionResetError(), sent=sent, before_response=True, retryable=retryable)


@pytest.mark.parametrize(
    "idempotent, status, hint, expected",
    [
        (True, 500, None, True),
        (True, 404, None, False),
        (True, 408, None, True),
        (False, 500, None, False),  # a write that reached the server is not sent again...
        (False, 503, None, False),
        (False, 503, 2.0, True),  # ...unless the server says it did not process it
        (False, 429, None, True),
        (False, 502, 2.0, False),
        (True, 200, None, False),
    ],
)
def test_the_retry_rule_for_a_status(mod, idempotent, status, hint, expected):
    assert mod._should_retry(1, 2, idempotent, status=status, hint=hint) is expected
    assert mod._should_retry(3, 2, idempotent, status=status, hint=hint) is False  # retries used up


@pytest.mark.parametrize(
    "idempotent, sent, retryable, expected",
    [
        (True, True, True, True),
        (False, False, True, True),  # the write never left: safe to send again
        (False, True, True, False),  # it may have been processed
        (True, True, False, False),  # a timeout (the deadline passed) or a certificate error
    ],
)
def test_the_retry_rule_for_a_failure(mod, idempotent, sent, retryable, expected):
    failure = _failure(mod, sent=sent, retryable=retryable)
    assert mod._should_retry(1, 1, idempotent, failure=failure) is expected
    assert mod._should_retry(2, 1, idempotent, failure=failure) is False


def test_the_sleep_time_takes_the_hint_up_to_its_cap_and_draws_jitter_from_the_clock(mod, clock):
    assert mod._sleep_time(1, hint=2.5) == 2.5
    assert mod._sleep_time(1, hint=10_000.0) == mod._MAX_RETRY_WAIT
    clock.random = lambda: 0.0
    assert [mod._sleep_time(attempt) for attempt in (1, 2, 3, 10)] == [0.25, 0.5, 1.0, mod._BACKOFF_CAP / 2]
    clock.random = lambda: 1.0
    assert [mod._sleep_time(attempt) for attempt in (1, 2, 3, 10)] == [0.5, 1.0, 2.0, mod._BACKOFF_CAP]


@pytest.mark.parametrize(
    "response",
    [
        Response(fault="reset"),
        Response(fault="close"),
        Response(200, json={"a": "x" * 200}, fault="truncate"),
    ],
    ids=["reset", "close-before-answer", "truncated-body"],
)
def test_read_is_retried_after_network_errors(make_transport, http_server, clock, response):
    http_server.add("/connection", response, Response(200, json={"data": []}))
    result = call(make_transport(), "GET", http_server.url + "/connection", max_retries=1)
    assert result.data() == {"data": []}
    assert http_server.count("/connection") == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(make_transport, http_server, clock, status):
    http_server.route("/connection", Response(status, json={"detail": "no"}))
    with pytest.raises(TransportError) as caught:
        call(make_transport(), "GET", http_server.url + "/connection", max_retries=3)
    assert caught.value.status_code == status
    assert http_server.count("/connection") == 1 and clock.sleeps == []


def test_read_gives_up_after_max_retries_with_the_last_error(make_transport, http_server, clock):
    http_server.route("/connection", Response(503, json={"detail": "still down"}, headers={"X-Request-Id": "r-9"}))
    with pytest.raises(TransportError) as caught:
        call(make_transport(), "GET", http_server.url + "/connection", max_retries=2)
    error = caught.value
    assert error.status_code == 503 and error.detail == "still down" and error.request_id == "r-9"
    assert "HTTP 503" in str(error) and "still down" in str(error)
    assert http_server.count("/connection") == 3 and len(clock.sleeps) == 2


def test_read_gives_up_when_the_next_wait_would_pass_the_deadline(make_transport, http_server, clock):
    http_server.route("/connection", Response(503))
    started = clock.monotonic()
    with pytest.raises(TransportError) as caught:
        call(make_transport(), "GET", http_server.url + "/connection", max_retries=100, timeout=10)
    assert caught.value.status_code == 503
    assert clock.monotonic() - started <= 10 + SLACK
    assert sum(clock.sleeps) < 10
    assert http_server.count("/connection") == len(clock.sleeps) + 1 < 101


def test_retry_hint_beyond_the_deadline_fails_at_once(make_transport, http_server, clock):
    http_server.route("/connection", Response(429, json={"detail": "rate limited"}, headers={"Retry-After": "30"}))
    with pytest.raises(TransportError) as caught:
        call(make_transport(), "GET", http_server.url + "/connection", timeout=5)
    assert caught.value.status_code == 429 and "rate limited" in str(caught.value)
    assert clock.sleeps == [] and http_server.count("/connection") == 1


def test_network_error_retries_say_how_many_attempts(make_transport, http_server, clock):
    http_server.route("/connection", lambda request: Response(fault="reset"))
    with pytest.raises(TransportError) as caught:
        call(make_transport(), "GET", http_server.url + "/connection", max_retries=2)
    assert "after 3 attempts" in str(caught.value)
    assert http_server.count("/connection") == 3


@pytest.mark.parametrize(
    "headers, expected",
    [
        ({}, None),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "nan"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "bad", "retry-after": "2"}, 2.0),
        ({"x-ratelimit-reset": "4"}, 4.0),
        ({"x-ratelimit-reset": "bad"}, None),
    ],
)
def test_retry_hint_parsing(mod, headers, expected):
    assert mod._retry_hint(headers) == expected


def test_retry_hint_http_date_and_epoch(mod):
    assert 8 <= mod._retry_hint({"retry-after": http_date(time.time() + 10)}) <= 10
    assert 18 <= mod._retry_hint({"x-ratelimit-reset": str(time.time() + 20)}) <= 20
    assert mod._retry_hint({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0


# ---------------------------------------------------------------------------------------------
# Deadlines: the timeout caps the whole call
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        Response(200, json={}, delay=30),
        Response(200, body=b"x" * 400, trickle=(1, 0.05)),
        Response(200, chunks=[b"x" * 10] * 100, body_delay=0.05),
        Response(200, json={"a": 1}, content_length=1000),  # promises more than it sends
    ],
    ids=["delay-before-headers", "slow-drip-body", "slow-drip-chunks", "short-body"],
)
def test_timeout_caps_a_slow_response(make_transport, http_server, response):
    http_server.add("/slow", response)
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        call(make_transport(), "GET", http_server.url + "/slow", timeout=0.5, max_retries=3)
    elapsed = time.monotonic() - started
    assert 0.4 <= elapsed <= 0.5 + SLACK
    assert "timed out after 0.5 s" in str(caught.value)
    assert issubclass(caught.value.__cause__.cause_type, socket.timeout)
    assert http_server.count("/slow") == 1  # no time left to retry


def test_timeout_counts_retry_waits(make_transport, http_server, clock):
    http_server.add(
        "/connection",
        Response(503, headers={"Retry-After": "0.8"}),
        Response(503, headers={"Retry-After": "0.8"}),
        Response(200, json={}, delay=30),
    )
    started = clock.monotonic()
    with pytest.raises(TransportError) as caught:
        call(make_transport(), "GET", http_server.url + "/connection", timeout=2.0, max_retries=5)
    assert clock.sleeps == [0.8, 0.8]
    assert "timed out after 2 s" in str(caught.value)
    assert clock.monotonic() - started <= 2.0 + SLACK


def test_client_timeout_per_call_and_with_options(make_client, http_server):
    http_server.route("/connection", Response(200, json={}, delay=30))
    client = make_client(http_server.url, timeout=60)
    for run, seconds in (
        (lambda: client.list_connections(timeout=0.3), 0.3),
        (lambda: client.with_options(timeout=0.4).list_connections(), 0.4),
        (lambda: make_client(http_server.url, timeout=0.2).list_connections(), 0.2),
    ):
        started = time.monotonic()
        with pytest.raises(altan.AltanActionError, match="timed out after %g s" % seconds):
            run()
        assert time.monotonic() - started <= seconds + SLACK
    assert client.timeout == 60  # with_options made a view, the client is unchanged


def test_client_timeout_validation():
    with pytest.raises(ValueError):
        altan.AltanActionsClient("k" * 10, timeout=0)
    client = altan.AltanActionsClient("k" * 10)
    assert client.timeout == altan.DEFAULT_TIMEOUT
    with pytest.raises(ValueError):
        client.with_options(timeout=float("inf"))
    with pytest.raises(ValueError):
        client.list_connections(timeout=-1)


# ---------------------------------------------------------------------------------------------
# TLS
# ---------------------------------------------------------------------------------------------


def test_https_with_ca_bundle(make_transport, https_server, ca_bundle):
    transport = make_transport(ca_bundle=ca_bundle)
    assert call(transport, "GET", https_server.url + "/connection").status == 200
    assert call(transport, "GET", https_server.url + "/connection").status == 200
    assert len(https_server.connections) == 1


def test_https_with_ssl_context(make_transport, https_server, client_ssl_context):
    transport = make_transport(ssl_context=client_ssl_context)
    assert call(transport, "GET", https_server.url + "/connection").status == 200
    assert transport.ssl_context() is client_ssl_context


def test_https_client_with_ca_bundle(make_client, https_server, ca_bundle):
    client = make_client(https_server.url, ca_bundle=ca_bundle)
    assert client.list_connections() == {"ok": True, "path": "/connection"}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_certificate_error_is_not_retried(make_transport, https_server, clock, method):
    transport = make_transport()  # the system CAs do not include the test CA
    with pytest.raises(TransportError) as caught:
        call(
            transport, method, https_server.url + "/connection", max_retries=3, body=b"{}" if method == "POST" else None
        )
    message = str(caught.value)
    assert "certificate verification failed" in message and "ca_bundle=" in message
    assert "attempts" not in message
    assert issubclass(caught.value.__cause__.cause_type, ssl.SSLCertVerificationError)
    https_server.wait_connections_closed(1)
    assert len(https_server.connections) == 1 and https_server.count() == 0
    assert clock.sleeps == []


def test_ssl_context_is_created_lazily_and_once(mod, make_transport, http_server, https_server, ca_bundle, monkeypatch):
    created = []
    original = ssl.create_default_context

    def counting(*args, **kwargs):
        created.append(args or kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    transport = make_transport(ca_bundle=ca_bundle)
    call(transport, "GET", http_server.url + "/plain")
    assert created == []  # not built for construction, nor for plain http
    call(transport, "GET", https_server.url + "/tls")
    https_server.close_idle()
    call(transport, "GET", https_server.url + "/tls")  # a new connection, the same context
    threads = [threading.Thread(target=call, args=(transport, "GET", https_server.url + "/tls")) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert https_server.count("/tls") == 5
    assert len(created) == 1
    if mod is altan:
        altan.AltanActionsClient("k" * 10, ca_bundle=ca_bundle)
        assert len(created) == 1


def test_tls_options_are_checked(make_transport, client_ssl_context, ca_bundle, tmp_path):
    with pytest.raises(ValueError, match="not both"):
        make_transport(ssl_context=client_ssl_context, ca_bundle=ca_bundle)
    with pytest.raises(ValueError, match="does not exist"):
        make_transport(ca_bundle=str(tmp_path / "missing.pem"))


# ---------------------------------------------------------------------------------------------
# Proxies
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host, port, no_proxy, expected",
    [
        ("example.com", 443, "example.com", True),
        ("api.example.com", 443, "example.com", True),
        ("api.example.com", 443, ".example.com", True),
        ("example.com", 443, ".example.com", True),
        ("api.example.com", 443, "*.example.com", True),
        ("badexample.com", 443, "example.com", False),
        ("example.com.evil", 443, "example.com", False),
        ("anything.at.all", 80, "*", True),
        ("EXAMPLE.com", 443, " Other.org , Example.COM ", True),
        ("example.com", 443, "other.org example.com", True),
        ("example.com", 443, "", False),
        ("example.com", 443, " , ,", False),
        ("example.com", 443, "example.com:443", True),
        ("example.com", 8443, "example.com:443", False),
        ("localhost", 8080, "localhost,127.0.0.1", True),
        ("127.0.0.1", 80, "127.0.0.1", True),
        ("127.0.0.2", 80, "127.0.0.1", False),
        ("10.1.2.3", 80, "10.0.0.0/8", True),
        ("11.1.2.3", 80, "10.0.0.0/8", False),
        ("192.168.1.7", 80, "192.168.1.0/24:80", True),
        ("192.168.1.7", 81, "192.168.1.0/24:80", False),
        ("host.example.com", 443, "10.0.0.0/8", False),
        ("::1", 80, "::1", True),
        ("[::1]", 80, "[::1]:80", True),
        ("::1", 81, "[::1]:80", False),
        ("fd00::5", 443, "fd00::/8", True),
        ("1password.com", 443, "1password.com", True),  # a name that starts with a digit
        ("my.1password.com", 443, "1password.com", True),
        ("3com.example", 443, ".3com.example", True),
    ],
)
def test_bypasses_proxy(mod, host, port, no_proxy, expected):
    assert mod._bypasses_proxy(host, port, no_proxy) is expected


def test_env_lower_case_first_and_empty_means_unset(mod, monkeypatch):
    monkeypatch.setenv("https_proxy", "http://lower:1")
    monkeypatch.setenv("HTTPS_PROXY", "http://upper:2")
    assert mod._env("https_proxy") == "http://lower:1"
    monkeypatch.setenv("https_proxy", "")
    assert mod._env("https_proxy") == "http://upper:2"
    monkeypatch.setenv("HTTPS_PROXY", "")
    assert mod._env("https_proxy") is None
    monkeypatch.delenv("https_proxy")
    monkeypatch.delenv("HTTPS_PROXY")
    assert mod._env("https_proxy") is None


def test_proxy_from_environment(make_transport, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://user:p%40ss@proxy.internal:3128")
    monkeypatch.setenv("http_proxy", "plainproxy.internal:8080")
    monkeypatch.setenv("NO_PROXY", "localhost,.corp.example,10.0.0.0/8")
    transport = make_transport()
    proxy = transport._proxy_for("https", "api.altan.ai", 443)
    assert (proxy.host, proxy.port) == ("proxy.internal", 3128)
    assert proxy.headers == {"Proxy-Authorization": "Basic " + base64.b64encode(b"user:p@ss").decode()}
    plain = transport._proxy_for("http", "api.altan.ai", 80)
    assert (plain.host, plain.port, plain.headers) == ("plainproxy.internal", 8080, {})
    for host in ("localhost", "svc.corp.example", "10.2.3.4"):
        assert transport._proxy_for("https", host, 443) is None
    assert make_transport(proxy=False)._proxy_for("https", "api.altan.ai", 443) is None
    explicit = make_transport(proxy="http://explicit:9999")._proxy_for("https", "localhost", 443)
    assert (explicit.host, explicit.port) == ("explicit", 9999)  # NO_PROXY is for the environment's proxies


def test_empty_proxy_variable_means_no_proxy(make_transport, monkeypatch):
    monkeypatch.setenv("https_proxy", "")
    monkeypatch.setenv("ALL_PROXY", "")
    assert make_transport()._proxy_for("https", "api.altan.ai", 443) is None


def test_http_proxy_ignored_under_cgi(make_transport, monkeypatch):
    # httpoxy: in a CGI script, HTTP_PROXY can come from a request's "Proxy:" header.
    monkeypatch.setenv("REQUEST_METHOD", "GET")
    monkeypatch.setenv("HTTP_PROXY", "http://attacker:80")
    assert make_transport()._proxy_for("http", "api.altan.ai", 80) is None


def test_invalid_proxy_is_rejected_without_showing_credentials(make_transport):
    with pytest.raises(ValueError) as caught:
        make_transport(proxy="socks5://user:hunter2secret@proxy:1080")
    assert "hunter2secret" not in str(caught.value)


def test_https_through_connect_proxy(make_transport, https_server, connect_proxy, ca_bundle, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@127.0.0.1:%d" % connect_proxy.port)
    transport = make_transport(ca_bundle=ca_bundle)
    for _ in range(3):
        assert call(transport, "GET", https_server.url + "/connection").status == 200
    assert connect_proxy.count("CONNECT") == 1  # one tunnel, kept alive
    method, target, headers = connect_proxy.seen[0]
    assert method == "CONNECT"
    assert target == "127.0.0.1:%d" % https_server.port
    assert headers["proxy-authorization"] == "Basic " + base64.b64encode(b"user:secret").decode()
    assert https_server.count("/connection") == 3
    assert "proxy-authorization" not in https_server.requests[0].headers  # stays with the proxy


def test_plain_http_through_proxy_uses_absolute_form(make_transport, http_server, connect_proxy, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:%d" % connect_proxy.port)
    transport = make_transport()
    assert call(transport, "GET", http_server.url + "/connection?x=1").status == 200
    assert connect_proxy.seen[0][:2] == ("GET", http_server.url + "/connection?x=1")
    assert http_server.requests[0].path == "/connection" and http_server.requests[0].query == "x=1"


def test_no_proxy_sends_direct(make_transport, https_server, connect_proxy, ca_bundle, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:%d" % connect_proxy.port)
    monkeypatch.setenv("no_proxy", "127.0.0.1:%d" % https_server.port)
    assert call(make_transport(ca_bundle=ca_bundle), "GET", https_server.url + "/x").status == 200
    assert connect_proxy.count() == 0 and https_server.count("/x") == 1


@pytest.mark.parametrize("credentials", ["", "someone:wrong-password-123@"])
def test_proxy_refusing_the_tunnel_with_407_is_one_attempt_with_that_status(
    make_transport, https_server, ca_bundle, monkeypatch, clock, credentials
):
    proxy = ConnectProxy(status=407).start()
    try:
        monkeypatch.setenv("HTTPS_PROXY", "http://%s127.0.0.1:%d" % (credentials, proxy.port))
        with pytest.raises(TransportError) as caught:
            call(make_transport(ca_bundle=ca_bundle), "GET", https_server.url + "/x", max_retries=2)
        assert proxy.count("CONNECT") == 1 and clock.sleeps == []  # not retried
    finally:
        proxy.stop()
    assert https_server.count() == 0
    error = caught.value
    assert error.status_code == 407
    assert "the proxy 127.0.0.1:%d answered HTTP 407 Proxy Authentication Required" % proxy.port in str(error)
    assert "wrong-password" not in str(error) and "someone" not in str(error)


def test_pipedream_token_request_refused_by_the_proxy_is_an_api_error_not_an_auth_error(
    https_server, ca_bundle, monkeypatch
):
    proxy = ConnectProxy(status=407).start()
    try:
        client = pipedream.SyncPipedreamClient(
            "client-id",
            "client-secret-0123456789",
            "proj_1",
            "development",
            base_url=https_server.url,
            ca_bundle=ca_bundle,
            proxy="http://someone:proxy-secret-99@127.0.0.1:%d" % proxy.port,
        )
        with client, pytest.raises(pipedream.PipedreamApiError) as caught:
            client.get_app("slack")
        assert proxy.count("CONNECT") == 1
    finally:
        proxy.stop()
    assert type(caught.value) is pipedream.PipedreamApiError and caught.value.status_code == 407
    assert str(caught.value).startswith("get OAuth token failed: the proxy 127.0.0.1:%d answered HTTP 407" % proxy.port)
    assert "proxy-secret" not in str(caught.value) and "client-secret" not in str(caught.value)
    assert https_server.count() == 0


@pytest.mark.parametrize("status, attempts", [(502, 3), (403, 1)])
def test_proxy_refusing_the_tunnel_otherwise_names_the_proxy_and_its_status(
    make_transport, https_server, ca_bundle, monkeypatch, clock, status, attempts
):
    proxy = ConnectProxy(status=status).start()
    try:
        monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:%d" % proxy.port)
        with pytest.raises(TransportError) as caught:
            call(make_transport(ca_bundle=ca_bundle), "POST", https_server.url + EXECUTE, body=b"{}", max_retries=2)
        assert proxy.count("CONNECT") == attempts  # a 502 is retried, even for a write: nothing was sent
    finally:
        proxy.stop()
    assert caught.value.status_code == status
    assert "the proxy 127.0.0.1:%d answered HTTP %d" % (proxy.port, status) in str(caught.value)
    assert "may have been processed" not in str(caught.value)


# ---------------------------------------------------------------------------------------------
# Errors and secrets
# ---------------------------------------------------------------------------------------------


def test_http_error_carries_status_detail_request_id_method_and_url(make_transport, http_server):
    http_server.route(
        "/connection/missing",
        Response(404, json={"detail": "Connection not found"}, headers={"X-Request-Id": "req-123"}),
    )
    url = http_server.url + "/connection/missing"
    with pytest.raises(TransportError) as caught:
        call(make_transport(), "GET", url)
    error = caught.value
    assert error.status_code == 404
    assert error.detail == "Connection not found"
    assert error.response_data == {"detail": "Connection not found"}
    assert error.method == "GET" and error.url == url
    assert error.request_id == "req-123"
    assert error.headers["x-request-id"] == "req-123"
    assert str(error) == "test call failed: HTTP 404 Not Found: Connection not found [GET %s, request id req-123]" % url


def test_fastapi_validation_error_detail(make_client, http_server):
    http_server.route(
        EXECUTE,
        Response(
            422,
            json={
                "detail": [{"loc": ["body", "payload", "to"], "msg": "field required", "type": "value_error.missing"}]
            },
        ),
    )
    client = make_client(http_server.url)
    with pytest.raises(altan.AltanActionError) as caught:
        client.execute_action("c1", "send-email", {})
    assert caught.value.status_code == 422 and caught.value.detail == "body.payload.to: field required"
    assert isinstance(caught.value, altan.AltanActionError) and caught.value.response == caught.value.response_data


def test_html_error_page_is_summarised(make_transport, http_server):
    page = "<html><head><title>502 Bad Gateway</title></head><body>" + "<p>nginx</p>" * 2000 + "</body></html>"
    http_server.route("/connection", Response(502, page, content_type="text/html"))
    with pytest.raises(TransportError) as caught:
        call(make_transport(), "GET", http_server.url + "/connection", max_retries=0)
    error = caught.value
    assert error.status_code == 502 and error.response_data == page
    assert "502 Bad Gateway" in error.detail
    assert len(str(error)) < 800


def test_network_error_carries_method_and_url(make_transport, http_server):
    http_server.route("/connection", Response(fault="reset"))
    url = http_server.url + "/connection"
    with pytest.raises(TransportError) as caught:
        call(make_transport(), "GET", url, max_retries=0)
    error = caught.value
    assert error.status_code is None and error.method == "GET" and error.url == url
    assert url in str(error)


def test_the_api_key_never_shows(make_client, http_server, caplog):
    key = "sk-live-" + uuid.uuid4().hex
    caplog.set_level(logging.DEBUG, logger="altan")
    http_server.route(
        "/connection",
        lambda request: Response(
            401, json={"detail": "invalid key %s" % request.headers.get("x-altan-key")}, headers={"X-Request-Id": "r1"}
        ),
    )
    http_server.route(
        "/connection/html",
        lambda request: Response(
            500, "<html><body>bad key %s</body></html>" % request.headers.get("authorization"), content_type="text/html"
        ),
    )
    http_server.route("/connection/reset", Response(fault="reset"))
    http_server.route("/connection/slow", Response(200, json={}, delay=30))
    client = make_client(http_server.url, api_key=key, max_retries=1)
    async_client = altan.AsyncAltanActionsClient(key, http_server.url)
    errors = []
    for run in (
        client.list_connections,
        lambda: client.get_connection("html"),
        lambda: client.get_connection("reset"),
        lambda: client.with_options(timeout=0.3).get_connection("slow"),
        lambda: client.get_connection(key),  # the key in the URL
    ):
        try:
            run()
        except altan.AltanActionError as error:
            errors.append(error)
    assert len(errors) == 4  # the last one succeeded (default route)
    assert http_server.requests[0].headers["x-altan-key"] == key  # it was sent, and echoed back
    texts = [repr(client), repr(client.with_options(timeout=1)), repr(async_client), str(vars(async_client).keys())]
    for error in errors:
        texts += [str(error), repr(error), str(error.args), str(error.detail), str(error.__cause__)]
    texts += [record.getMessage() for record in caplog.records]
    assert any(record.name == "altan" for record in caplog.records)
    for text in texts:
        assert key not in text
    assert "invalid key [REDACTED]" in str(errors[0])


def test_debug_log_records(make_client, http_server, caplog, altan_clock):
    caplog.set_level(logging.DEBUG, logger="altan")
    http_server.add("/connection", Response(503, headers={"Retry-After": "0"}), Response(200, json={"data": []}))
    make_client(http_server.url).list_connections()
    messages = [r.getMessage() for r in caplog.records if r.name == "altan"]
    url = http_server.url + "/connection"
    assert any(m.startswith("GET %s -> 503 (attempt 1, " % url) and m.endswith(" ms)") for m in messages), messages
    assert any("retrying in 0.00 s after 503" in m for m in messages), messages
    assert any(m.startswith("GET %s -> 200 (attempt 2, " % url) for m in messages), messages
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "altan")


def test_transport_log_records_redact_registered_secrets(make_transport, http_server, caplog, clock):
    caplog.set_level(logging.DEBUG, logger="test.transport")
    transport = make_transport()
    transport.add_secret("tok-SECRET-123")
    http_server.route("/x", Response(500))
    http_server.route("/y", Response(fault="reset"))
    for path in ("/x", "/y"):
        with pytest.raises(TransportError) as caught:
            call(transport, "GET", http_server.url + path + "?token=tok-SECRET-123", max_retries=1)
        assert "tok-SECRET-123" not in str(caught.value)
    records = [r for r in caplog.records if r.name == "test.transport"]
    assert len(records) >= 4
    for record in records:
        assert "tok-SECRET-123" not in record.getMessage()


# ---------------------------------------------------------------------------------------------
# Redirects
# ---------------------------------------------------------------------------------------------


# 301, 302 and 303 after a write are not followed (tests/test_protocol_edges.py: the write
# may have been processed).
@pytest.mark.parametrize("status", [307, 308])
def test_same_host_redirect_keeps_method_and_body(make_transport, http_server, status):
    http_server.route("/old", Response(status, headers={"Location": "/new"}))
    http_server.route("/new", Response(200, json={"moved": True}))
    response = call(
        make_transport(),
        "POST",
        http_server.url + "/old",
        body=b'{"payload":{"a":1}}',
        headers={"Authorization": "Bearer k", "Content-Type": "application/json"},
        max_retries=0,
    )
    assert response.data() == {"moved": True} and response.url == http_server.url + "/new"
    new = http_server.requests_for("/new")
    assert len(new) == 1 and new[0].method == "POST" and new[0].body == b'{"payload":{"a":1}}'
    assert new[0].headers["authorization"] == "Bearer k"
    assert http_server.count("/old") == 1


def test_redirect_to_another_host_is_refused(make_transport, http_server, make_server):
    other = make_server()
    for location in ("http://localhost:%d/x" % other.port, other.url + "/x"):  # another name, another port
        http_server.add("/old", Response(302, headers={"Location": location}))
        with pytest.raises(TransportError, match="redirect to another host") as caught:
            call(make_transport(), "GET", http_server.url + "/old", headers={"Authorization": "Bearer k"})
        assert caught.value.status_code == 302
    assert other.count() == 0


def test_redirect_from_https_to_http_is_refused(make_transport, https_server, http_server, ca_bundle):
    https_server.route("/old", Response(301, headers={"Location": "http://127.0.0.1:%d/x" % http_server.port}))
    with pytest.raises(TransportError, match="redirect from https to http refused"):
        call(make_transport(ca_bundle=ca_bundle), "GET", https_server.url + "/old")
    assert http_server.count() == 0


def test_redirect_from_http_to_https_on_the_same_host_is_followed(make_transport, http_server, https_server, ca_bundle):
    http_server.route("/old", Response(301, headers={"Location": https_server.url + "/new"}))
    response = call(make_transport(ca_bundle=ca_bundle), "GET", http_server.url + "/old")
    assert response.status == 200 and https_server.count("/new") == 1


def test_redirect_loop_stops(make_transport, http_server):
    http_server.route("/loop", Response(307, headers={"Location": "/loop"}))
    with pytest.raises(TransportError, match="more than 5 redirects"):
        call(make_transport(), "GET", http_server.url + "/loop")
    assert http_server.count("/loop") == 6


# ---------------------------------------------------------------------------------------------
# Import cost
# ---------------------------------------------------------------------------------------------

_IMPORT_CHECK = r"""
import ssl, sys
made = []
_new = ssl.SSLContext.__new__
def counting_new(cls, *args, **kwargs):
    made.append(cls)
    return _new(cls, *args, **kwargs)
ssl.SSLContext.__new__ = staticmethod(counting_new)
import {module}
assert "asyncio" not in sys.modules, "importing {module} imported asyncio"
assert not made, "importing {module} built an SSL context"
{module}._Transport(error_class=RuntimeError, logger_name="x")
if "{module}" == "altan":
    altan.AltanActionsClient("key-123456")
    altan.AsyncAltanActionsClient("key-123456")
assert "asyncio" not in sys.modules, "constructing a client imported asyncio"
assert not made, "constructing a client built an SSL context"
ssl.create_default_context()
assert made, "the check itself works"
print("clean")
"""


@pytest.mark.parametrize("module", TRANSPORT_MODULES)
def test_import_does_not_import_asyncio_or_build_an_ssl_context(module):
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHECK.format(module=module)],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


# ---------------------------------------------------------------------------------------------
# The async client
# ---------------------------------------------------------------------------------------------


def test_async_gather_runs_calls_concurrently_and_returns_exceptions(http_server):
    all_in = threading.Event()

    def handler(request):
        if http_server.count() >= 4:
            all_in.set()
        if request.path == "/connection/missing":
            return Response(404, json={"detail": "Connection not found"}, hold=all_in)
        return Response(200, json={"success": True, "data": {"path": request.path}}, hold=all_in)

    http_server.default = handler

    async def main():
        async with altan.AsyncAltanActionsClient(
            "test-key-0123456789", http_server.url, timeout=10, max_retries=0
        ) as client:
            return await asyncio.gather(
                client.list_connections(),
                client.get_connection("missing"),
                client.execute_action("c1", "send-email", {"to": "a@example.com"}),
                client.get_action_type("c1", "send-email"),
                return_exceptions=True,
            )

    listed, missing, executed, action = asyncio.run(main())
    assert listed["data"] == {"path": "/connection"}
    assert isinstance(missing, altan.AltanActionError) and missing.status_code == 404
    assert missing.detail == "Connection not found"
    assert executed["status"] == "success" and executed["result"] == {"path": EXECUTE}
    assert action["success"] is True
    assert len({r.client_port for r in http_server.requests}) == 4  # four calls in flight at once
    assert http_server.count(EXECUTE) == 1


def test_async_close_releases_threads_and_connections(http_server):
    before = set(threading.enumerate())

    async def main():
        client = altan.AsyncAltanActionsClient("test-key-0123456789", http_server.url, max_workers=4)
        await asyncio.gather(*(client.get_connection("c%d" % i) for i in range(8)))
        workers = [t for t in threading.enumerate() if t.name.startswith("altan-async")]
        assert workers, "the calls ran in the client's own threads"
        await client.close()
        await client.close()  # idempotent
        with pytest.raises(RuntimeError, match="closed"):
            await client.list_connections()

    asyncio.run(main())
    leftover = [t for t in set(threading.enumerate()) - before if t.is_alive() and not t.name.startswith("test-server")]
    if sys.version_info < (3, 9):
        # close() waits for its pool in the event loop's default executor, whose idle thread
        # asyncio.run() only shuts down from Python 3.9 on; it is the loop's, not the client's.
        leftover = [t for t in leftover if not t.name.startswith("ThreadPoolExecutor-")]
    assert leftover == []
    http_server.wait_for(lambda: all(c.closed.is_set() for c in http_server.connections), what="client closed")


def test_async_close_waits_for_calls_in_flight(http_server):
    gate = threading.Event()
    http_server.add("/connection", Response(200, json={"data": [1]}, hold=gate))

    async def main():
        client = altan.AsyncAltanActionsClient("test-key-0123456789", http_server.url)
        call_task = asyncio.ensure_future(client.list_connections())
        await asyncio.get_running_loop().run_in_executor(None, http_server.wait_requests, 1, "/connection")
        close_task = asyncio.ensure_future(client.close())
        await asyncio.sleep(0)
        assert not close_task.done()
        gate.set()
        await close_task
        return await call_task

    assert asyncio.run(main()) == {"data": [1]}


def test_async_timeouts_per_call_and_with_options(http_server):
    http_server.route("/connection", Response(200, json={}, delay=30))

    async def main():
        async with altan.AsyncAltanActionsClient("test-key-0123456789", http_server.url, timeout=60) as client:
            with pytest.raises(altan.AltanActionError, match="timed out after 0.3 s"):
                await client.list_connections(timeout=0.3)
            with pytest.raises(altan.AltanActionError, match="timed out after 0.2 s"):
                await client.with_options(timeout=0.2).list_connections()
            assert client._client.timeout == 60

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started <= 0.5 + 2 * SLACK


# ---------------------------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------------------------


def test_closed_transport_refuses_calls_and_closes_its_connections(make_transport, http_server):
    transport = make_transport()
    call(transport, "GET", http_server.url + "/a")
    transport.close()
    http_server.wait_connections_closed(1, by="client")
    with pytest.raises(RuntimeError, match="closed"):
        call(transport, "GET", http_server.url + "/a")


def test_client_context_manager_closes(make_client, http_server):
    with altan.AltanActionsClient("test-key-0123456789", http_server.url) as client:
        client.list_connections()
    http_server.wait_connections_closed(1, by="client")
    with pytest.raises(RuntimeError):
        client.list_connections()


# -- a sink receives a successful body in chunks (streamed downloads) ----------------------


def test_a_sink_receives_a_2xx_body_in_chunks_and_the_connection_is_reused(make_transport, http_server):
    big = bytes(range(256)) * 1024  # 256 KiB: several chunks
    http_server.add("/file", Response(200, big, content_type="application/octet-stream"))
    http_server.add("/file", Response(200, body=None, chunks=[b"ab", b"cd", b"ef"]))
    transport = make_transport()
    for expected in (big, b"abcdef"):
        received = []
        response = call(transport, "GET", http_server.url + "/file", sink=received.append)
        assert b"".join(received) == expected and response.body == b""
        assert len(received) >= (2 if expected is big else 1) and max(map(len, received)) <= 64 * 1024
    assert len(http_server.connections) == 1


def test_an_error_body_is_not_given_to_the_sink(make_transport, http_server):
    http_server.add("/file", Response(404, json={"error": "no such file"}))
    received = []
    with pytest.raises(TransportError) as caught:
        call(make_transport(), "GET", http_server.url + "/file", sink=received.append, max_retries=0)
    assert received == [] and caught.value.status_code == 404 and caught.value.detail == "no such file"


def test_a_stream_cut_after_a_chunk_was_delivered_is_not_retried(make_transport, http_server):
    http_server.add("/file", Response(200, b"x" * 200_000, fault="truncate"))
    received = []
    with pytest.raises(TransportError, match="before the end of the body"):
        call(make_transport(), "GET", http_server.url + "/file", sink=received.append)
    assert received and http_server.count("/file", "GET") == 1  # the sink already holds part of it


def test_an_exception_from_the_sink_propagates_and_closes_the_connection(make_transport, http_server):
    http_server.add("/file", Response(200, b"y" * 200_000))

    def full_disk(chunk):
        raise OSError(28, "No space left on device")

    transport = make_transport()
    with pytest.raises(OSError, match="No space left"):
        call(transport, "GET", http_server.url + "/file", sink=full_disk)
    assert http_server.count("/file", "GET") == 1
    call(transport, "GET", http_server.url + "/after")  # a new connection works
    assert len(http_server.connections) == 2


# =============================================================================================
# The response parser, against http.client
# =============================================================================================

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
