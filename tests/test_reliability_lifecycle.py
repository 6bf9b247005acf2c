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
"""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
import warnings
from typing import Any, List

import pytest
from reliability import FLAVOURS, Api, client_threads, open_fds, read, wait_until, write
from servers import Request, Response, Server, echo


pytestmark = pytest.mark.usefixtures("clean_client_environment")


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
