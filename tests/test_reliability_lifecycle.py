"""Concurrency and shutdown, for the four public clients (Altan and Pipedream, sync and async).

* Many threads sharing one sync client, and many tasks sharing one async client, each get
  their own, uncorrupted answer: every request carries a unique id that the server echoes
  back (after a varying delay; some answers close the connection, some reads are reset once
  and retried), and each caller checks the id it got. Every write reaches the server once.
* ``close()`` while calls are in flight: the calls in flight finish, new calls raise
  ``RuntimeError`` without any I/O, and then no thread, socket or file descriptor of the client
  is left (``threading.enumerate()``, ``/proc/self/fd``, the server's view of its connections).
* Use after close raises ``RuntimeError`` for reads and writes, on views too; ``close()`` is
  idempotent.
* A client dropped without ``close()`` (after concurrent calls, so with several pooled
  connections and, for async clients, worker threads) is collected without a
  ``ResourceWarning`` and leaves no thread, socket or file descriptor behind.

Process and lifecycle guarantees of the shared transport, against real local servers:

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
import gc
import importlib
import json
import logging
import os
import signal
import threading
import time
import warnings
from typing import Any, Callable, List

import pytest
from reliability import FLAVOURS, Api, VirtualClock, client_threads, open_fds, read, wait_until, write
from servers import OAuthTokens, Request, Response, Server, echo, rate_limited

import altan
import pipedream

# No proxy and no client setting from the environment of whoever runs the tests (conftest).
pytestmark = pytest.mark.usefixtures("clean_client_environment")


# =============================================================================================
# Concurrency and shutdown
# =============================================================================================


def module_of(flavour: str) -> str:
    return flavour.split("-")[0]


# ---------------------------------------------------------------------------------------------
# Concurrency: answers never cross
# ---------------------------------------------------------------------------------------------


class Jittery:
    """Echoes each request after a delay that depends on its id (0-4 ms); every 7th answer
    closes the connection; the first attempt of every 5th read is reset."""

    def __init__(self) -> None:
        self.reset_once: set = set()
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        key = request.path + request.body.decode()
        number = sum(key.encode()) + len(key)
        if request.method == "GET" and number % 5 == 0:
            with self.lock:
                first = key not in self.reset_once
                self.reset_once.add(key)
            if first:
                return Response(fault="reset")
        answer = echo(request)
        answer.delay = (number % 5) / 1000.0
        answer.close = number % 7 == 0
        return answer


def calls_for(module: str, n: int) -> List[Any]:
    """(kind, method, args, expected echo check) for call ``n``: reads by id, writes with the
    id in the body."""
    ident = "id-%d-%s" % (n, "x" * (n % 13))
    if module == "altan":
        if n % 3:
            return ["read", "get_connection", (ident,), "/connection/" + ident]
        return ["write", "execute_action", ("c1", "send-email", {"id": ident}), ident]
    if n % 3:
        return ["read", "get_app", (ident,), "/v1/connect/apps/" + ident]
    return ["write", "run_action", ("k1", "u1", {"id": ident}), ident]


def check_answer(kind: str, expected: str, answer: Any) -> None:
    if kind == "read":
        assert answer["path"] == expected, (expected, answer["path"])
    else:
        body = json.loads(answer["body"])
        sent = body["payload"] if "payload" in body else body["configured_props"]
        assert sent == {"id": expected}, (expected, sent)


def writes_once(server: Server, total: int, module: str) -> None:
    ids = [calls_for(module, n)[3] for n in range(total) if calls_for(module, n)[0] == "write"]
    bodies = [r.body.decode() for r in server.requests if r.method == "POST" and "oauth" not in r.path]
    for ident in ids:
        assert sum('"%s"' % ident in body for body in bodies) == 1, ident


@pytest.mark.parametrize("flavour", ["altan-sync", "pipedream-sync"])
def test_many_threads_sharing_one_sync_client_get_their_own_answers(http_server, flavour):
    module = module_of(flavour)
    handler = Jittery()
    if module == "pipedream":
        from reliability import as_pipedream

        as_pipedream(http_server, handler)
    else:
        http_server.default = handler
    api = Api(flavour, http_server, max_retries=2)
    threads_count, per_thread = 24, 20
    errors: List[BaseException] = []
    barrier = threading.Barrier(threads_count)

    def worker(t: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                kind, method, args, expected = calls_for(module, t * per_thread + i)
                check_answer(kind, expected, api(method, *args))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        api.close()
    assert errors == []
    writes_once(http_server, threads_count * per_thread, module)
    assert len({r.client_port for r in http_server.requests}) > 1  # really concurrent


@pytest.mark.parametrize("flavour", ["altan-async", "pipedream-async"])
def test_many_tasks_sharing_one_async_client_get_their_own_answers(http_server, flavour):
    module = module_of(flavour)
    handler = Jittery()
    if module == "pipedream":
        from reliability import as_pipedream

        as_pipedream(http_server, handler)
    else:
        http_server.default = handler
    api = Api(flavour, http_server, max_retries=2, max_workers=32)
    total = 400

    async def main() -> List[Any]:
        calls = [calls_for(module, n) for n in range(total)]
        return await asyncio.gather(*(getattr(api.client, method)(*args) for _, method, args, _ in calls))

    try:
        answers = asyncio.run(main())
    finally:
        api.close()
    for n, answer in enumerate(answers):
        kind, _, _, expected = calls_for(module, n)
        check_answer(kind, expected, answer)
    writes_once(http_server, total, module)


# ---------------------------------------------------------------------------------------------
# Shutdown
# ---------------------------------------------------------------------------------------------


class Baseline:
    """Threads and file descriptors before the client existed."""

    def __init__(self) -> None:
        gc.collect()
        self.threads = set(client_threads())
        self.fds = open_fds()

    def assert_restored(self, server: Server) -> None:
        wait_until(
            lambda: all(c.closed.is_set() for c in server.connections),
            what="the server saw every connection closed: %r" % server.connections,
        )
        assert all(c.closed_by == "client" for c in server.connections), server.connections
        wait_until(
            lambda: not (set(client_threads()) - self.threads),
            what="no thread left: %r" % (set(client_threads()) - self.threads),
        )
        wait_until(lambda: open_fds() <= self.fds, what="file descriptors back to %d (now %d)" % (self.fds, open_fds()))


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_close_while_calls_are_in_flight_finishes_them_and_leaks_nothing(make_server, flavour):
    server = make_server()
    module = module_of(flavour)
    baseline = Baseline()
    api = (
        Api(flavour, server, max_retries=0, max_workers=8)
        if flavour.endswith("async")
        else Api(flavour, server, max_retries=0)
    )
    api.warm()
    baseline_server_requests = server.count()
    gate = threading.Event()
    held = Response(200, json={"held": True}, hold=gate)
    server.route(read(module).path, held, method=read(module).http)
    server.route(write(module).path, held, method=write(module).http)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        if api.is_async:

            async def main() -> List[Any]:
                ops = [read(module), write(module)] * 3
                calls = asyncio.gather(*(getattr(api.client, op.method)(*op.args(server), **op.kwargs) for op in ops))
                await asyncio.get_running_loop().run_in_executor(
                    None, server.wait_requests, baseline_server_requests + 6
                )
                closing = asyncio.ensure_future(api.client.close())
                await asyncio.sleep(0.05)
                assert not closing.done()  # it waits for the calls in flight
                with pytest.raises(RuntimeError, match="closed"):
                    await api.client.get_connection("x") if module == "altan" else await api.client.get_app("x")
                gate.set()
                await closing
                return await calls

            results = asyncio.run(main())
        else:
            results = []
            ops = [read(module), write(module)] * 3
            threads = [threading.Thread(target=lambda op=op: results.append(api.op(op))) for op in ops]
            for thread in threads:
                thread.start()
            server.wait_requests(baseline_server_requests + 6)
            started = time.monotonic()
            api.close()
            assert time.monotonic() - started < 1  # close() does not wait for them
            requests = server.count()
            with pytest.raises(RuntimeError, match="closed"):
                api.op(read(module))
            assert server.count() == requests  # no I/O after close
            gate.set()
            for thread in threads:
                thread.join(10)
        assert len(results) == 6 and all(r == {"held": True} for r in results)
        baseline.assert_restored(server)
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_use_after_close_raises_runtime_error_without_io(http_server, flavour):
    module = module_of(flavour)
    api = Api(flavour, http_server)
    api.warm()
    view = api.view(timeout=5)
    api.close()
    api.close()  # idempotent
    requests, connections = http_server.count(), len(http_server.connections)
    for target in (api, view):
        for op in (read(module), write(module)):
            with pytest.raises(RuntimeError, match="this client is closed"):
                target.op(op)
    assert (http_server.count(), len(http_server.connections)) == (requests, connections)
    view.close()  # closing a view of a closed client is harmless


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_client_dropped_without_close_leaks_no_thread_socket_or_warning(make_server, flavour):
    server = make_server()
    module = module_of(flavour)
    baseline = Baseline()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        api = Api(flavour, server, max_retries=0)
        # Three reads in flight at once (each thread its own call; for an async client, its own
        # event loop), held by the server until all three arrived: three pooled connections.
        gate = threading.Event()
        server.add(read(module).path, *[Response(200, json={}, hold=gate) for _ in range(3)])
        threads = [threading.Thread(target=api.warm) for _ in range(3)]
        for thread in threads:
            thread.start()
        server.wait_requests(3, read(module).path)
        gate.set()
        for thread in threads:
            thread.join(10)
        if api.is_async:
            assert set(client_threads()) - baseline.threads  # worker threads are running
        api.op(write(module))
        assert len(server.connections) >= 2  # several pooled connections
        del api, threads
        gc.collect()
        baseline.assert_restored(server)
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_a_dropped_with_options_view_does_not_close_its_parent(http_server):
    api = Api("altan-sync", http_server)
    try:
        view = api.view(timeout=5)
        view.warm()
        del view
        gc.collect()
        api.warm()  # the parent still works, on the same pooled connection
        assert len(http_server.connections) == 1
    finally:
        api.close()


# =============================================================================================
# Fork, close with calls in flight, one log record per attempt
# =============================================================================================

KEY = "test-key-0123456789"
fork_only = pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")


class TransportError(altan.AltanActionError):
    pass


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
