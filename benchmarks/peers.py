"""The clients being compared, each doing the same call: one authenticated GET that returns
a JSON page, decoded to Python objects.

Every peer is built the way its documentation shows, with default settings; the only
thing changed is the base URL. The test CA reaches every peer the same way, through
``SSL_CERT_FILE`` (and ``REQUESTS_CA_BUNDLE`` for requests), set by the runner.

Our two modules are imported from ``clients_dir`` (the repository root by default); the
official SDK is also named ``pipedream``, so each worker process imports only one of them.
"""

from __future__ import annotations

import json
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # the harness imports nothing a peer would not: no typing at run time
    from typing import Any, Awaitable, Callable, Dict, Tuple

PROJECT = "proj_bench"
CLIENT_ID = "bench-client-id"
CLIENT_SECRET = "bench-client-secret-0123456789"
API_KEY = "bench-altan-api-key-0123456789"
ACCOUNTS_PATH = "/v1/connect/%s/accounts" % PROJECT
HEADERS = {
    "Authorization": "Bearer bench-access-token-0123456789",
    "x-pd-environment": "development",
    "Accept": "application/json",
}

SYNC_PEERS = ("raw", "altan", "pipedream", "requests", "httpx", "urllib", "sdk")
ASYNC_PEERS = ("raw-threads", "altan-async", "pipedream-async", "httpx-async", "sdk-async")
OURS = ("altan", "pipedream", "altan-async", "pipedream-async")

DESCRIPTIONS = {
    "raw": "http.client.HTTPSConnection, one reused connection (the floor)",
    "altan": "altan.AltanActionsClient.list_connections()",
    "pipedream": "pipedream.SyncPipedreamClient.get_accounts() (this repo)",
    "requests": "requests.Session().get()",
    "httpx": "httpx.Client().get()",
    "urllib": "urllib.request.urlopen() (a new connection per call)",
    "sdk": "official pipedream SDK: Pipedream().accounts.list()",
    "raw-threads": "a thread pool, one reused http.client connection per thread (50 threads for fanout, 64 for "
    "saturation)",
    "raw-async": "raw http.client in an asyncio program through loop.run_in_executor (rss: one connection in the "
    "default executor; saturation: one connection per thread of a 64-thread pool)",
    "altan-async": "altan.AsyncAltanActionsClient.list_connections()",
    "pipedream-async": "pipedream.PipedreamClient.get_accounts() (this repo)",
    "httpx-async": "httpx.AsyncClient().get()",
    "sdk-async": "official pipedream SDK: AsyncPipedream().accounts.list()",
}


def use_clients_dir(clients_dir: str) -> None:
    """Make our ``altan`` and ``pipedream`` importable (and shadow the official SDK)."""
    sys.path.insert(0, clients_dir)


def check_official_sdk() -> None:
    import pipedream

    if not hasattr(pipedream, "Pipedream"):
        raise RuntimeError("'pipedream' resolved to %s, not the official SDK" % pipedream.__file__)


def write_peer(name: str, origin: str) -> Tuple[Callable[[], Any], Callable[[], None], Callable[[], Any]]:
    """(write, close, idle_write) for one of our sync clients: ``execute_action`` or
    ``run_action``, a POST that the clients never send twice (the server answers it like any
    other call); ``idle_write`` is the same call, the client deciding whether to reuse its idle
    connection. ``raw``, the floor: a POST with http.client, whose ``idle_write`` always opens
    a new connection."""
    if name == "raw":
        import http.client
        import ssl

        host, port = origin.split("://", 1)[1].rsplit(":", 1)
        context = ssl.create_default_context()
        conns = [http.client.HTTPSConnection(host, int(port), context=context)]
        path = "/integration/connection/conn_1/actions/send-email/execute"

        def write() -> Any:
            conns[0].request("POST", path, body=b'{"payload":{"to":"a@example.com"}}', headers=HEADERS)
            response = conns[0].getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(response.status)
            return json.loads(body)

        def idle_write() -> Any:
            conns[0].close()
            conns[0] = http.client.HTTPSConnection(host, int(port), context=context)
            return write()

        return write, lambda: conns[0].close(), idle_write
    if name == "altan":
        import altan

        client = altan.AltanActionsClient(API_KEY, origin + "/integration")
        execute = lambda: client.execute_action("conn_1", "send-email", {"to": "a@example.com"})  # noqa: E731
        return execute, client.close, execute
    if name == "pipedream":
        import pipedream

        pd = pipedream.SyncPipedreamClient(CLIENT_ID, CLIENT_SECRET, PROJECT, "development", base_url=origin)
        run = lambda: pd.run_action("slack-send-message", "user-1", {"text": "hi"})  # noqa: E731
        return run, pd.close, run
    raise ValueError("no write peer %r" % name)


def sync_peer(name: str, origin: str) -> Tuple[Callable[[], Any], Callable[[], None]]:
    """(call, close) for a sync peer."""
    url = origin + ACCOUNTS_PATH
    host, port = origin.split("://", 1)[1].rsplit(":", 1)
    if name == "raw":
        import http.client
        import ssl

        conn = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context())

        def call() -> Any:
            conn.request("GET", ACCOUNTS_PATH, headers=HEADERS)
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(response.status)
            return json.loads(body)

        return call, conn.close
    if name == "altan":
        import altan

        client = altan.AltanActionsClient(API_KEY, origin + "/integration")
        return client.list_connections, client.close
    if name == "pipedream":
        import pipedream

        client = pipedream.SyncPipedreamClient(CLIENT_ID, CLIENT_SECRET, PROJECT, "development", base_url=origin)
        return client.get_accounts, client.close
    if name == "requests":
        import requests

        session = requests.Session()

        def call() -> Any:
            response = session.get(url, headers=HEADERS)
            response.raise_for_status()
            return response.json()

        return call, session.close
    if name == "httpx":
        import httpx

        client = httpx.Client()

        def call() -> Any:
            response = client.get(url, headers=HEADERS)
            response.raise_for_status()
            return response.json()

        return call, client.close
    if name == "urllib":
        import urllib.request

        def call() -> Any:
            with urllib.request.urlopen(urllib.request.Request(url, headers=HEADERS)) as response:
                return json.loads(response.read())

        return call, lambda: None
    if name == "sdk":
        check_official_sdk()
        from pipedream import Pipedream

        sdk = Pipedream(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            project_id=PROJECT,
            project_environment="development",
            base_url=origin,
        )

        def call() -> Any:
            return sdk.accounts.list().items

        return call, sdk._client_wrapper.httpx_client.httpx_client.close
    raise ValueError("unknown sync peer %r" % name)


def async_peer(name: str, origin: str) -> Tuple[Callable[[], Awaitable[Any]], Callable[[], Awaitable[None]]]:
    """(call, close) for an async peer; build it inside a running event loop."""
    url = origin + ACCOUNTS_PATH
    if name == "raw-async":  # the floor of an asyncio program: raw http.client in the loop's executor
        import asyncio

        raw_call, raw_close = sync_peer("raw", origin)

        async def call() -> Any:
            return await asyncio.get_running_loop().run_in_executor(None, raw_call)

        async def close() -> None:
            raw_close()

        return call, close
    if name == "altan-async":
        import altan

        client = altan.AsyncAltanActionsClient(API_KEY, origin + "/integration")
        return client.list_connections, client.close
    if name == "pipedream-async":
        import pipedream

        client = pipedream.PipedreamClient(CLIENT_ID, CLIENT_SECRET, PROJECT, "development", base_url=origin)
        return client.get_accounts, client.close
    if name == "httpx-async":
        import httpx

        client = httpx.AsyncClient()

        async def call() -> Any:
            response = await client.get(url, headers=HEADERS)
            response.raise_for_status()
            return response.json()

        return call, client.aclose
    if name == "sdk-async":
        check_official_sdk()
        from pipedream import AsyncPipedream

        sdk = AsyncPipedream(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            project_id=PROJECT,
            project_environment="development",
            base_url=origin,
        )

        async def call() -> Any:
            return (await sdk.accounts.list()).items

        return call, sdk._client_wrapper.httpx_client.httpx_client.aclose
    raise ValueError("unknown async peer %r" % name)


class RawThreadPool:
    """The fan-out floor: N threads, each with its own kept-alive http.client connection."""

    def __init__(self, origin: str, threads: int, keep_answers: bool = True) -> None:
        import http.client
        import ssl
        import threading
        from concurrent.futures import ThreadPoolExecutor

        host, port = origin.split("://", 1)[1].rsplit(":", 1)
        self._context = ssl.create_default_context()
        self._local = threading.local()
        self._conns: list = []
        self._pool = ThreadPoolExecutor(threads)
        self._new = lambda: http.client.HTTPSConnection(host, int(port), context=self._context)
        self._keep = keep_answers

    def _call(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._new()
            self._conns.append(conn)
        conn.request("GET", ACCOUNTS_PATH, headers=HEADERS)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(response.status)
        answer = json.loads(body)
        return answer if self._keep else None

    def run(self, calls: int) -> list:
        return [f.result() for f in [self._pool.submit(self._call) for _ in range(calls)]]

    async def run_async(self, calls: int) -> list:
        """The async floor: the same calls from an asyncio program, each through
        ``loop.run_in_executor`` on this pool, all launched at once with ``asyncio.gather``."""
        import asyncio

        loop = asyncio.get_running_loop()
        return await asyncio.gather(*[loop.run_in_executor(self._pool, self._call) for _ in range(calls)])

    def close(self) -> None:
        self._pool.shutdown()
        for conn in self._conns:
            conn.close()


def saturation_peer(name: str, origin: str, threads: int, keep_answers: bool = True) -> Tuple[Any, Callable[[], Any]]:
    """(fan_out, close) for the saturation measure: ``fan_out(calls)`` makes ``calls`` calls,
    all launched at once, and returns when every answer is in; a coroutine function for the
    async peers. ``threads``: the async clients' ``max_workers``, or the size of the thread
    pool that shares one sync client (the floors: one kept-alive connection per thread).
    Unless ``keep_answers``, each answer is dropped when it arrives (the memory measure: what
    remains is what the calls in flight hold)."""
    if name in ("raw-async", "raw-threads"):
        pool = RawThreadPool(origin, threads, keep_answers)
        if name == "raw-threads":
            return pool.run, pool.close

        async def close_pool() -> None:
            pool.close()

        return pool.run_async, close_pool
    if name in ("altan-async", "pipedream-async"):
        import asyncio

        if name == "altan-async":
            import altan

            client: Any = altan.AsyncAltanActionsClient(API_KEY, origin + "/integration", max_workers=threads)
            call = client.list_connections
        else:
            import pipedream

            client = pipedream.PipedreamClient(
                CLIENT_ID, CLIENT_SECRET, PROJECT, "development", base_url=origin, max_workers=threads
            )
            call = client.get_accounts
        if not keep_answers:
            answering = call

            async def call() -> None:
                await answering()

        async def fan_out(calls: int) -> list:
            return await asyncio.gather(*[call() for _ in range(calls)])

        def close() -> Any:
            return client.close()  # a coroutine: the caller awaits it

        return fan_out, close
    if name in ("altan", "pipedream"):
        from concurrent.futures import ThreadPoolExecutor

        sync_call, sync_close = sync_peer(name, origin)
        if not keep_answers:
            answering_sync = sync_call
            sync_call = lambda: answering_sync() and None  # noqa: E731
        executor = ThreadPoolExecutor(threads)

        def fan_out_sync(calls: int) -> list:
            return [f.result() for f in [executor.submit(sync_call) for _ in range(calls)]]

        def close_sync() -> None:
            executor.shutdown()
            sync_close()

        return fan_out_sync, close_sync
    raise ValueError("no saturation peer %r" % name)


# Cold call: a fresh process imports the module, builds a client and makes its first call,
# every step of what a Lambda's first invocation pays. ``%(...)s`` fields are filled in by
# the runner; each snippet ends with the decoded answer in ``_result``.
COLD_CALL_SNIPPETS: Dict[str, str] = {
    "stdlib": "import http.client, json, ssl",
    "raw": (
        "import http.client, json, ssl\n"
        "_c = http.client.HTTPSConnection(%(host)r, %(port)d, context=ssl.create_default_context())\n"
        "_c.request('GET', %(path)r, headers=%(headers)r)\n"
        "_result = json.loads(_c.getresponse().read())"
    ),
    "altan": (
        "import altan\n"
        "_client = altan.AltanActionsClient(%(api_key)r, %(origin)r + '/integration')\n"
        "_result = _client.list_connections()"
    ),
    "pipedream": (
        "import pipedream\n"
        "_client = pipedream.SyncPipedreamClient(%(client_id)r, %(client_secret)r, %(project)r, 'development', "
        "base_url=%(origin)r)\n"
        "_result = _client.get_accounts()"
    ),
    "sdk": (
        "from pipedream import Pipedream\n"
        "_client = Pipedream(client_id=%(client_id)r, client_secret=%(client_secret)r, project_id=%(project)r, "
        "project_environment='development', base_url=%(origin)r)\n"
        "_result = _client.accounts.list().items"
    ),
}
# Round trips a first call cannot avoid: TCP, TLS 1.3, (the token,) the call.
COLD_CALL_ROUND_TRIPS = {"raw": 3, "altan": 3, "pipedream": 4, "sdk": 4}


def cold_call_code(name: str, origin: str) -> str:
    """The code a fresh interpreter runs for ``name``: the snippet, timed from before its
    first import to the decoded answer, then one JSON line on stdout."""
    host, port = origin.split("://", 1)[1].rsplit(":", 1)
    fields = {
        "host": host,
        "port": int(port),
        "path": ACCOUNTS_PATH,
        "headers": HEADERS,
        "origin": origin,
        "api_key": API_KEY,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "project": PROJECT,
    }
    return (
        "import time\n_c0, _t0 = time.process_time(), time.perf_counter()\n%s\n"
        "_c1, _t1 = time.process_time(), time.perf_counter()\n"
        "import sys, json\n"
        "print(json.dumps({'ms': (_t1 - _t0) * 1e3, 'cpu_ms': (_c1 - _c0) * 1e3, 'modules': len(sys.modules)}))\n"
        % (COLD_CALL_SNIPPETS[name] % fields)
    )


# Cold start: what a Lambda's module scope runs, up to a client ready to send.
IMPORT_SNIPPETS: Dict[str, str] = {
    "bare": "pass",
    "stdlib": "import http.client, json, ssl",
    "altan": "import altan; c = altan.AltanActionsClient('k' * 16)",
    "altan-async": "import altan; c = altan.AsyncAltanActionsClient('k' * 16)",
    "pipedream": "import pipedream; c = pipedream.SyncPipedreamClient('id', 'secret', 'proj_x', 'development')",
    "pipedream-async": "import pipedream; c = pipedream.PipedreamClient('id', 'secret', 'proj_x', 'development')",
    "urllib": "import urllib.request, json",
    "requests": "import requests; c = requests.Session()",
    "httpx": "import httpx; c = httpx.Client()",
    "httpx-async": "import httpx; c = httpx.AsyncClient()",
    "sdk": (
        "from pipedream import Pipedream; c = Pipedream(client_id='id', client_secret='secret', "
        "project_id='proj_x', project_environment='development')"
    ),
    "sdk-async": (
        "from pipedream import AsyncPipedream; c = AsyncPipedream(client_id='id', client_secret='secret', "
        "project_id='proj_x', project_environment='development')"
    ),
}
