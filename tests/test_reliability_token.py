"""The Pipedream OAuth token under load and faults, sync and async, against the fault server's
OAuth route (tests/servers.py: ``OAuthTokens``), which issues unique tokens, counts token
requests, refuses expired tokens with 401, and can be slow or fail on demand.

What it proves:

* 1,000 concurrent async calls (and 100 threads on a sync client) across a token expiry --
  the token expires on the client's clock and on the server in the middle of the burst,
  while calls are in flight with it -- cause exactly one token request, and every call gets
  its own, correct answer;
* a slow token endpoint is asked once however many calls wait for it;
* a token request that fails in any way (5xx, reset, closed, 401, not JSON, no token, too
  slow) raises ``PipedreamAuthError`` and leaves the client usable: the next call gets a token;
* callers that waited for a token request that failed share its
  failure instead of each sending their own token request to a failing endpoint.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import Any, Callable, Dict, List

import pytest
from reliability import Api, as_pipedream, wait_until
from servers import Request, Response, Server, echo

import pipedream
from pipedream import PipedreamAuthError

SLACK = 2.0


pytestmark = pytest.mark.usefixtures("clean_client_environment")


class ExpiresMidway:
    """An API handler (behind ``OAuthTokens.protect``) for a burst of calls across a token's
    expiry, in real time. The first token is issued with ``expires_in=1``, so the client
    considers it expired 0.5 s later (short-lived tokens keep half their life as margin);
    later tokens live an hour.

    The ``at``-th call is held until 0.6 s after the first token was issued, then that token
    expires on the server too; the calls that arrive after it are held until then. So when
    the burst resumes, calls in flight hold a token the server refuses (401) and new calls find
    it expired on the client. Counts the calls answered with 200, per path."""

    def __init__(self, server: Server, at: int) -> None:
        self.tokens = as_pipedream(server, self)
        self.tokens.expires_in = 1
        self.at = at
        self.seen = 0
        self.answered: Dict[str, int] = {}
        self.expired = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.seen += 1
            number = self.seen
            if number == 1:
                self.tokens.expires_in = 3600
        if number == self.at:
            first = self.tokens.issued[0]
            time.sleep(max(0.0, self.tokens.issued_at[first] + 0.6 - time.monotonic()))
            self.tokens.expire(first)
            self.expired.set()
        elif number > self.at:
            assert self.expired.wait(10)
        if not self.tokens.valid(request):
            return Response(401, json={"error": "the access token has expired"})
        with self.lock:
            self.answered[request.path] = self.answered.get(request.path, 0) + 1
        return echo(request)


def test_1000_concurrent_async_calls_across_a_token_expiry_send_exactly_one_token_request(http_server):
    handler = ExpiresMidway(http_server, at=300)

    async def main() -> List[Any]:
        async with pipedream.PipedreamClient(
            "pd-rel-client-id",
            "pd-rel-secret-c0ffee4badd00d17",
            "proj_rel",
            "development",
            base_url=http_server.url,
            proxy=False,
        ) as client:
            await client.get_project_info()  # the first token
            assert handler.tokens.requests == 1
            results = await asyncio.gather(*(client.get_app("app-%d" % i) for i in range(1000)))
            assert client.token_requests == 2
            return results

    results = asyncio.run(main())
    assert handler.tokens.requests == 2  # the first token, and exactly one across the expiry
    assert [r["path"] for r in results] == ["/v1/connect/apps/app-%d" % i for i in range(1000)]
    assert all(handler.answered["/v1/connect/apps/app-%d" % i] == 1 for i in range(1000))  # each answered once
    first, second = handler.tokens.issued
    used = [r["headers"]["authorization"] for r in results]
    assert set(used) == {"Bearer " + first, "Bearer " + second}
    assert used.count("Bearer " + second) >= 1000 - 300  # everything after the expiry used the new token


def test_100_threads_on_a_sync_client_across_a_token_expiry_send_exactly_one_token_request(http_server):
    handler = ExpiresMidway(http_server, at=40)
    results: Dict[int, Any] = {}
    errors: List[BaseException] = []
    with pipedream.SyncPipedreamClient(
        "pd-rel-client-id",
        "pd-rel-secret-c0ffee4badd00d17",
        "proj_rel",
        "development",
        base_url=http_server.url,
        proxy=False,
    ) as client:
        client.get_project_info()
        barrier = threading.Barrier(100)

        def call(i: int) -> None:
            try:
                barrier.wait()
                results[i] = client.get_app("app-%d" % i)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(100)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert handler.tokens.requests == 2 and handler.tokens.refused + handler.seen >= 100
    assert all(results[i]["path"] == "/v1/connect/apps/app-%d" % i for i in range(100))


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_slow_token_endpoint_is_asked_once_by_many_waiting_calls(http_server, is_async):
    api = Api("pipedream-async" if is_async else "pipedream-sync", http_server)
    api.tokens.delay = 0.3
    try:
        if is_async:

            async def main() -> List[Any]:
                return await asyncio.gather(*(api.client.get_app("a%d" % i) for i in range(200)))

            results = asyncio.run(main())
        else:
            threads_results: List[Any] = []
            threads = [
                threading.Thread(target=lambda i=i: threads_results.append(api.client.get_app("a%d" % i)))
                for i in range(30)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            results = threads_results
        calls = 200 if is_async else 30
        assert len(results) == calls and all(r["method"] == "GET" for r in results)
        # every call got its own answer, and the server answered each once
        assert sorted(r["path"] for r in results) == sorted("/v1/connect/apps/a%d" % i for i in range(calls))
        assert all(http_server.count("/v1/connect/apps/a%d" % i) == 1 for i in range(calls))
        assert api.tokens.requests == 1
    finally:
        api.close()


TOKEN_FAILURES: Dict[str, Callable[[], Response]] = {
    "500": lambda: Response(500, json={"error": "server_error"}),
    "502-html": lambda: Response(502, "<html><body>Bad Gateway</body></html>", content_type="text/html"),
    "reset": lambda: Response(fault="reset"),
    "closed-without-answer": lambda: Response(fault="close"),
    "401-invalid-client": lambda: Response(401, json={"error": "invalid_client"}),
    "200-not-json": lambda: Response(200, "<html>maintenance</html>", content_type="text/html"),
    "200-without-access-token": lambda: Response(200, json={"token_type": "Bearer"}),
    "200-access-token-not-a-string": lambda: Response(200, json={"access_token": {"v": 1}, "expires_in": 60}),
    "too-slow": lambda: Response(200, json={"access_token": "late-token-0000", "expires_in": 3600}, delay=30),
}


@pytest.mark.parametrize("failure", list(TOKEN_FAILURES))
@pytest.mark.parametrize("flavour", ["pipedream-sync", "pipedream-async"])
def test_a_failed_token_request_leaves_the_client_usable(http_server, flavour, failure):
    api = Api(flavour, http_server, max_retries=0, timeout=0.5)
    try:
        api.tokens.fail_next(TOKEN_FAILURES[failure]())
        started = time.monotonic()
        with pytest.raises(PipedreamAuthError) as caught:
            api("get_app", "slack")
        assert time.monotonic() - started <= 0.5 + SLACK
        assert caught.value.method == "POST" or "access_token" in str(caught.value)
        assert http_server.count("/v1/connect/apps/slack") == 0  # the call itself was never sent
        assert api("get_app", "slack")["path"] == "/v1/connect/apps/slack"  # the next attempt gets a token
        assert api.tokens.requests == 2 and len(api.tokens.issued) == 1
        assert api("get_app", "github")["headers"]["authorization"] == "Bearer " + api.tokens.issued[0]
        assert api.tokens.requests == 2  # and keeps it
    finally:
        api.close()


def _threads_in(function_name: str) -> int:
    """Threads whose current frame (or a caller) is ``function_name`` of pipedream.py."""
    count = 0
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_code.co_name == function_name and frame.f_code.co_filename.endswith("pipedream.py"):
                count += 1
                break
            frame = frame.f_back
    return count


def test_calls_waiting_for_a_failing_token_request_share_its_failure(http_server):
    gate = threading.Event()
    api = Api("pipedream-async", http_server, max_retries=0, timeout=5, max_workers=8)
    api.tokens.fail_next(*[Response(503, json={"error": "temporarily_unavailable"}, hold=gate) for _ in range(8)])

    async def main() -> List[Any]:
        calls = asyncio.gather(*(api.client.get_app("a%d" % i) for i in range(8)), return_exceptions=True)
        # The first token request is on the wire; the seven other calls wait for it.
        await asyncio.get_running_loop().run_in_executor(
            None,
            lambda: wait_until(
                lambda: api.tokens.requests == 1 and _threads_in("token") == 8,
                what="eight calls waiting for one token request",
            ),
        )
        gate.set()
        return await calls

    try:
        results = asyncio.run(main())
        assert all(isinstance(r, PipedreamAuthError) for r in results)
        assert api.tokens.requests == 1
    finally:
        gate.set()
        api.close()
