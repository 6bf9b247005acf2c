"""Process and lifecycle guarantees of the shared transport, against real local servers:

* after ``os.fork()`` a child never uses a connection its parent opened, never waits on a
  lock the parent held at the fork, and both processes keep working (HTTP and HTTPS);
* the sync ``close()`` lets calls in flight finish (in retry backoff, or between the
  Pipedream token request and the API call) and refuses new ones;
* one DEBUG record per attempt, the immediate re-send after a stale connection included.

Waits are synchronised on the servers' counters and on the clients' own sleep (a virtual
clock whose ``sleep`` runs a callback), never on real sleeps.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import signal
import warnings
from typing import Any, Callable, List

import pytest
from reliability import VirtualClock
from servers import OAuthTokens, Response, echo, rate_limited

import altan
import pipedream

KEY = "test-key-0123456789"
fork_only = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")


class TransportError(altan.AltanActionError):
    pass


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: Any) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


# ---------------------------------------------------------------------------------------------
# fork
# ---------------------------------------------------------------------------------------------


def _fork(child: Callable[[], Any]) -> int:
    """Fork; the child runs ``child`` (at most 20 s, or SIGALRM ends it), writes its result as
    JSON to a pipe and exits. Returns the child's pid; ``_join`` reads its result."""
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "multi-threaded process" (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read_fd)
            signal.alarm(20)  # a deadlock in the child ends it, and fails the test
            os.write(write_fd, json.dumps(child()).encode())
            code = 0
        except BaseException as exc:  # noqa: B036 - reported to the parent, whatever it is
            os.write(write_fd, json.dumps({"child raised": repr(exc)}).encode())
        finally:
            os._exit(code)
    os.close(write_fd)
    _pipes[pid] = read_fd
    return pid


_pipes: dict = {}


def _join(pid: int) -> Any:
    with os.fdopen(_pipes.pop(pid), "rb") as pipe:
        output = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), "the child was killed (signal %s)" % os.WTERMSIG(status)
    result = json.loads(output) if output else None
    assert os.WEXITSTATUS(status) == 0, result
    return result


def _transport(module: str, ca_bundle: str) -> Any:
    return importlib.import_module(module)._Transport(
        error_class=TransportError, logger_name="test.fork", ca_bundle=ca_bundle
    )


def _ask(transport: Any, url: str, who: str) -> str:
    response = transport.request("GET", url + "/who?who=" + who, operation="who", headers={}, timeout=10, max_retries=0)
    return str(json.loads(response.body)["query"])


@fork_only
@pytest.mark.parametrize("module", ["altan", "pipedream"])
@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_forked_child_never_uses_a_connection_its_parent_opened(
    make_server: Any, ca_bundle: str, module: str, tls: bool
) -> None:
    server = make_server(tls=tls)
    server.route("/who", echo)
    transport = _transport(module, ca_bundle)
    assert _ask(transport, server.url, "parent-0") == "who=parent-0"
    pid = _fork(lambda: [_ask(transport, server.url, "child-1"), _ask(transport, server.url, "child-2")])
    parent = [_ask(transport, server.url, "parent-1"), _ask(transport, server.url, "parent-2")]
    assert _join(pid) == ["who=child-1", "who=child-2"]
    assert parent == ["who=parent-1", "who=parent-2"]
    port = {request.query: request.client_port for request in server.requests}
    assert port["who=parent-0"] == port["who=parent-1"] == port["who=parent-2"]  # the parent keeps its own
    assert port["who=child-1"] != port["who=parent-0"]  # the child opened a new one...
    assert port["who=child-1"] == port["who=child-2"]  # ...and keeps that one alive
    transport.close()


@fork_only
@pytest.mark.parametrize("module", ["altan", "pipedream"])
def test_a_lock_held_in_the_parent_at_the_fork_does_not_block_the_child(
    make_server: Any, ca_bundle: str, module: str
) -> None:
    server = make_server()
    server.route("/who", echo)
    transport = _transport(module, ca_bundle)
    _ask(transport, server.url, "parent-0")
    transport._lock.acquire()  # as if another thread of the parent were checking a connection out
    try:
        pid = _fork(lambda: _ask(transport, server.url, "child"))
    finally:
        transport._lock.release()
    assert _join(pid) == "who=child"
    assert _ask(transport, server.url, "parent-1") == "who=parent-1"
    transport.close()


@fork_only
def test_a_token_request_in_progress_in_the_parent_does_not_block_the_child(pipedream_replica: Any) -> None:
    client = pipedream.SyncPipedreamClient(
        "demo-client", "demo-secret", "proj_demo", "development", base_url=pipedream_replica.base_url, timeout=10
    )
    client._tokens._lock.acquire()  # another thread of the parent is fetching the token
    try:
        pid = _fork(lambda: client.get_app("slack")["data"]["name_slug"])
    finally:
        client._tokens._lock.release()
    assert _join(pid) == "slack"
    assert client.get_app("slack")
    client.close()


@fork_only
def test_an_async_client_keeps_working_in_a_forked_child(http_server: Any) -> None:
    http_server.route("/connection/c1", echo)

    async def call(client: Any) -> Any:
        return (await client.get_connection("c1"))["path"]

    client = altan.AsyncAltanActionsClient(KEY, http_server.url, timeout=10)
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(call(client)) == "/connection/c1"  # its worker thread now exists
        pid = _fork(lambda: asyncio.run(call(client)))
        assert _join(pid) == "/connection/c1"
        assert loop.run_until_complete(call(client)) == "/connection/c1"
        loop.run_until_complete(client.close())
    finally:
        loop.close()
    ports = [request.client_port for request in http_server.requests]
    assert ports[0] == ports[2] != ports[1]


# ---------------------------------------------------------------------------------------------
# close() with calls in flight
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("write", [False, True], ids=["read", "write"])
def test_sync_close_during_retry_backoff_lets_the_call_finish(http_server: Any, monkeypatch: Any, write: bool) -> None:
    client = altan.AltanActionsClient(KEY, http_server.url, timeout=10)
    path = "/connection/c1/actions/a1/execute" if write else "/connection"
    http_server.add(path, rate_limited(429, retry_after=1), Response(200, json={"data": ["done"]}))
    backoffs: List[float] = []

    def close_in_backoff(seconds: float) -> None:
        backoffs.append(seconds)
        client.close()  # the call is waiting to retry: it is in flight

    monkeypatch.setattr(altan, "_clock", VirtualClock(close_in_backoff))
    result = client.execute_action("c1", "a1", {}) if write else client.list_connections()
    assert result["data"] == ["done"] and backoffs == [1.0]
    assert http_server.count(path) == 2
    with pytest.raises(RuntimeError, match="this client is closed"):
        client.list_connections()  # a new call is refused
    assert http_server.count() == 2
    http_server.wait_connections_closed(len(http_server.connections), by="client")


def _token_server(make_server: Any) -> Any:
    server = make_server()
    tokens = OAuthTokens("client-id", "client-secret-0123456789")
    server.tokens = tokens
    server.route(
        "/v1/connect/apps/slack", tokens.protect(lambda request: Response(200, json={"data": {"id": "app_1"}}))
    )
    return server


def test_sync_close_between_the_token_request_and_the_api_call_lets_the_call_finish(make_server: Any) -> None:
    server = _token_server(make_server)
    client = pipedream.SyncPipedreamClient(
        "client-id", "client-secret-0123456789", "proj_1", "development", base_url=server.url, timeout=10
    )

    def token_then_close(request: Any) -> Response:
        client.close()  # while the call waits for its token
        return server.tokens.handler(request)  # type: ignore[no-any-return]

    server.route("/v1/oauth/token", token_then_close)
    assert client.get_app("slack") == {"data": {"id": "app_1"}}
    assert server.count("/v1/connect/apps/slack") == 1
    with pytest.raises(RuntimeError, match="this client is closed"):
        client.get_app("slack")
    assert server.count() == 2
    server.wait_connections_closed(len(server.connections), by="client")


def test_sync_pipedream_close_during_retry_backoff_lets_the_call_finish(make_server: Any, monkeypatch: Any) -> None:
    server = _token_server(make_server)
    server.route("/v1/oauth/token", server.tokens.handler)
    server.add("/v1/connect/apps/slack", rate_limited(503, retry_after=2))
    client = pipedream.SyncPipedreamClient(
        "client-id", "client-secret-0123456789", "proj_1", "development", base_url=server.url, timeout=10
    )
    monkeypatch.setattr(pipedream, "_clock", VirtualClock(lambda seconds: client.close()))
    assert client.get_app("slack") == {"data": {"id": "app_1"}}
    assert server.count("/v1/connect/apps/slack") == 2
    with pytest.raises(RuntimeError, match="this client is closed"):
        client.get_app("slack")


# ---------------------------------------------------------------------------------------------
# Logging: one DEBUG record per attempt, stale re-sends included
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["altan", "pipedream"])
def test_a_stale_connection_re_send_leaves_a_debug_record(
    http_server: Any, ca_bundle: str, monkeypatch: Any, caplog: Any, module: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="test.fork")
    mod = importlib.import_module(module)
    transport = _transport(module, ca_bundle)
    http_server.route("/who", echo)
    _ask(transport, http_server.url, "warm")
    assert http_server.close_idle() == 1  # the server closed the idle connection...
    monkeypatch.setattr(mod, "_connection_dropped", lambda conn: False)  # ...after the client's check
    caplog.clear()
    assert _ask(transport, http_server.url, "again") == "who=again"
    records = [r.getMessage() for r in caplog.records if r.name == "test.fork"]
    assert len(records) == 2, records
    assert records[0].startswith("GET %s/who?who=again failed on a reused connection: " % http_server.url)
    assert "(attempt 1, " in records[0] and records[0].endswith("sending it again on a new connection")
    assert records[1].startswith("GET %s/who?who=again -> 200 (attempt 1, " % http_server.url)
    transport.close()
