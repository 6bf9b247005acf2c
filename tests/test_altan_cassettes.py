"""Replay the Altan cassettes (cassettes/altan/*.yaml) with the sync and the async client.

pytest-recording runs them with ``--record-mode=none --block-network`` (pyproject addopts):
a request that is not in the cassette raises ``CannotOverwriteExistingCassetteException``,
and a connection to anything but loopback fails.

The async client sends each request from a worker thread, and vcrpy is not thread-safe
(issues #212, #295, #849). Every test here therefore runs its cassette under
``vcr_safety.thread_safe_cassette`` (fixture ``cassette``): connection set-up and vcrpy's
bookkeeping are serialised with one lock, and a connection that vcrpy does not control raises
``CassetteBypassError`` before it sends anything. Clients are built inside the cassette and
closed before it ends, and each test asserts that every recorded interaction was played
exactly once. The tests at the end prove the guard works: against a real loopback server they
show that without it requests do escape the cassette, and that with it none does.

Cassettes are recorded without retries, so these clients use ``max_retries=0`` (a retried
500 would be a request the cassette does not have).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import vcr as vcrpy
import vcr.patch
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException

import altan
from altan import AltanActionError, AltanActionsClient, AsyncAltanActionsClient
from altan_vcr import (
    CASSETTE_DIR,
    INVALID_API_KEY,
    KEY_PLACEHOLDER,
    PLACEHOLDERS,
    REAL_BASE_URL,
    TEST_API_KEY,
    register_matchers,
    vcr_config as altan_vcr_config,
)
from vcr_safety import CassetteBypassError, thread_safe_cassette

BASE = REAL_BASE_URL
EMAIL = {"to": "someone@example.com", "subject": "Test Email", "body": "This is a test email sent through Altan!"}
CONNECTIONS = [
    {"id": "abc123", "name": "Work Gmail", "provider": "gmail", "status": "active"},
    {"id": "def456", "name": "Team Slack", "provider": "slack", "status": "active"},
    {"id": "connection-id", "name": "Example Connection", "provider": "example", "status": "active"},
]
SEND_EMAIL = {
    "id": "send-email",
    "name": "Send Email",
    "description": "Send an email from the connected account",
    "input_schema": {
        "type": "object",
        "properties": {
            "to": {"type": "string"},
            "subject": {"type": "string"},
            "body": {"type": "string"},
            "cc": {"type": "array"},
        },
        "required": ["to", "subject", "body"],
    },
}


# ---------------------------------------------------------------------------------------------
# pytest-recording configuration and the thread-safe cassette
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTE_DIR)


@pytest.fixture
def vcr_config() -> Dict[str, Any]:
    # filter_headers scrubs X-Altan-Key / Authorization to placeholders (also on the live
    # request before matching); match_on: method, scheme, host, port, path, query, body and
    # altan_headers (auth, Content-Type, Accept; registered in conftest.py).
    return altan_vcr_config(TEST_API_KEY)


@pytest.fixture
def cassette(vcr: Any) -> Iterator[Any]:
    """pytest-recording's active cassette, made safe for worker threads (see module doc)."""
    assert vcr is not None, "mark the test with @pytest.mark.vcr"
    assert vcr.write_protected, "cassettes must only be replayed here"
    with thread_safe_cassette(vcr):
        yield vcr


class Api:
    """The sync or the async client behind one calling convention: ``api.list_connections()``
    returns the result either way (the async one runs on this object's event loop)."""

    def __init__(self, mode: str, api_key: str, base_url: str, **options: Any) -> None:
        self.mode = mode
        if mode == "sync":
            self.client: Any = AltanActionsClient(api_key, base_url, max_retries=0, **options)
            self.loop: Optional[asyncio.AbstractEventLoop] = None
        else:
            self.client = AsyncAltanActionsClient(api_key, base_url, max_retries=0, max_workers=8, **options)
            self.loop = asyncio.new_event_loop()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name)
        if self.loop is None:
            return method  # type: ignore[no-any-return]
        return lambda *args, **kwargs: self.loop.run_until_complete(method(*args, **kwargs))  # type: ignore[union-attr]

    def gather(self, calls: List[Callable[[Any], Any]]) -> List[Any]:
        """Run ``call(client)`` for each call: concurrently with the async client, one after the
        other with the sync one. Exceptions are returned, as with ``return_exceptions=True``."""
        if self.loop is None:
            results = []
            for call in calls:
                try:
                    results.append(call(self.client))
                except Exception as exc:  # noqa: BLE001 - returned like asyncio.gather does
                    results.append(exc)
            return results

        async def run() -> List[Any]:
            return await asyncio.gather(*(call(self.client) for call in calls), return_exceptions=True)

        return self.loop.run_until_complete(run())

    def close(self) -> None:
        if self.loop is None:
            self.client.close()
        else:
            self.loop.run_until_complete(self.client.close())
            self.loop.close()


@pytest.fixture(params=["sync", "async"])
def make_api(request: Any, cassette: Any) -> Iterator[Callable[..., Api]]:
    """``make_api(api_key=TEST_API_KEY)``: a client of the parametrised kind, made inside the
    cassette and closed before it ends."""
    made: List[Api] = []

    def make(api_key: str = TEST_API_KEY, base_url: str = BASE, **options: Any) -> Api:
        api = Api(request.param, api_key, base_url, **options)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


def assert_error(error: AltanActionError, status: int, detail: str, request_id: str, method: str, path: str) -> None:
    assert isinstance(error, AltanActionError)
    assert error.status_code == status
    assert error.detail == detail
    assert error.request_id == request_id
    assert error.method == method
    assert error.url == BASE + path
    assert "HTTP %d" % status in str(error) and detail in str(error) and request_id in str(error)
    assert TEST_API_KEY not in str(error) and INVALID_API_KEY not in str(error) and TEST_API_KEY not in repr(error)


def assert_all_played(cassette: Any, calls: int) -> None:
    assert cassette.play_count == calls == len(cassette), "every recorded interaction replayed, none twice"
    assert cassette.all_played
    assert set(cassette.play_counts.values()) == {1}


# ---------------------------------------------------------------------------------------------
# One test per method, each run with the sync and the async client
# ---------------------------------------------------------------------------------------------


@pytest.mark.vcr
@pytest.mark.default_cassette("list_connections")
def test_list_connections(make_api: Callable[..., Api], cassette: Any) -> None:
    api, bad = make_api(), make_api(INVALID_API_KEY)
    results = api.gather([lambda c: c.list_connections() for _ in range(6)])  # identical requests, concurrently
    assert results == [{"data": CONNECTIONS}] * 6

    with pytest.raises(AltanActionError) as caught:
        bad.list_connections()
    assert_error(caught.value, 401, "Invalid API key", "req_000007", "GET", "/connection")
    assert caught.value.response_data == {"detail": "Invalid API key"}

    with pytest.raises(AltanActionError) as caught:
        api.list_connections()
    assert_error(caught.value, 500, "Internal Server Error", "req_000008", "GET", "/connection")
    assert caught.value.response_data == "Internal Server Error"  # text/plain, as Starlette answers a crash
    assert caught.value.headers["content-type"] == "text/plain; charset=utf-8"

    with pytest.raises(AltanActionError) as caught:
        api.list_connections()
    assert_error(caught.value, 429, "Rate limit exceeded", "req_000009", "GET", "/connection")
    assert caught.value.headers["retry-after"] == "30"
    assert_all_played(cassette, 9)


@pytest.mark.vcr
@pytest.mark.default_cassette("get_connection")
def test_get_connection(make_api: Callable[..., Api], cassette: Any) -> None:
    api, bad = make_api(), make_api(INVALID_API_KEY)
    assert api.gather([lambda c: c.get_connection("abc123"), lambda c: c.get_connection("def456")]) == CONNECTIONS[:2]

    with pytest.raises(AltanActionError) as caught:
        api.get_connection("missing-connection")
    assert_error(caught.value, 404, "Connection not found", "req_000003", "GET", "/connection/missing-connection")
    assert caught.value.response_data == {"detail": "Connection not found"}

    with pytest.raises(AltanActionError) as caught:
        api.get_connection("a/b c")  # one path segment, percent-encoded
    assert_error(caught.value, 404, "Connection not found", "req_000004", "GET", "/connection/a%2Fb%20c")

    with pytest.raises(AltanActionError) as caught:
        bad.get_connection("abc123")
    assert_error(caught.value, 401, "Invalid API key", "req_000005", "GET", "/connection/abc123")
    assert_all_played(cassette, 5)


@pytest.mark.vcr
@pytest.mark.default_cassette("list_action_types")
def test_list_action_types(make_api: Callable[..., Api], cassette: Any) -> None:
    api = make_api()
    assert api.gather([lambda c: c.list_action_types("abc123"), lambda c: c.list_action_types("def456")]) == [
        {"data": [{"id": "send-email", "name": "Send Email"}, {"id": "list-messages", "name": "List Messages"}]},
        {"data": [{"id": "send_message", "name": "Send Message"}]},
    ]

    with pytest.raises(AltanActionError) as caught:
        api.list_action_types("missing-connection")
    assert_error(
        caught.value, 404, "Connection not found", "req_000003", "GET", "/connection/missing-connection/actions"
    )

    with pytest.raises(AltanActionError) as caught:
        api.list_action_types("abc123")
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"  # a proxy's page, not JSON
    # The message and detail quote the page's text, not its markup (issue 10); the data is the page.
    assert_error(caught.value, 502, "502 Bad Gateway", "req_000004", "GET", "/connection/abc123/actions")
    assert caught.value.response_data == html
    assert_all_played(cassette, 4)


@pytest.mark.vcr
@pytest.mark.default_cassette("get_action_type")
def test_get_action_type(make_api: Callable[..., Api], cassette: Any) -> None:
    api = make_api()
    email, slack = api.gather(
        [lambda c: c.get_action_type("abc123", "send-email"), lambda c: c.get_action_type("def456", "send_message")]
    )
    assert email == SEND_EMAIL
    assert slack["name"] == "Send Message" and slack["input_schema"]["required"] == ["channel"]

    with pytest.raises(AltanActionError) as caught:
        api.get_action_type("abc123", "no-such-action")
    assert_error(
        caught.value, 404, "Action type not found", "req_000003", "GET", "/connection/abc123/actions/no-such-action"
    )

    with pytest.raises(AltanActionError) as caught:
        api.get_action_type("missing-connection", "send-email")
    assert_error(
        caught.value,
        404,
        "Connection not found",
        "req_000004",
        "GET",
        "/connection/missing-connection/actions/send-email",
    )
    assert_all_played(cassette, 4)


@pytest.mark.vcr
@pytest.mark.default_cassette("execute_action")
def test_execute_action(make_api: Callable[..., Api], cassette: Any) -> None:
    api, bad = make_api(), make_api(INVALID_API_KEY)
    path = "/connection/abc123/actions/send-email/execute"

    result = api.execute_action(connection_id="abc123", action_type_id="send-email", payload=EMAIL)
    data = {"message_id": "701be6718c", "thread_id": "701be6718c"}
    # Altan's {"success", "data"} unchanged, plus the README's keys
    assert result == {"success": True, "data": data, "status": "success", "result": data}

    results = api.gather(
        [
            (
                lambda c, i=i: c.execute_action(
                    "abc123",
                    "send-email",
                    {"to": "user%d@example.com" % i, "subject": "Email %d" % i, "body": "Message %d" % i},
                )
            )
            for i in range(3)
        ]
    )
    assert [r["status"] for r in results] == ["success"] * 3
    assert [r["result"]["message_id"] for r in results] == ["b6a462e964", "1e93617f2a", "e2e8135766"]

    slack = api.execute_action("def456", "send_message", {"channel": "C123", "text": "hi"})
    assert slack["status"] == "success" and slack["result"]["ts"] == "1712.0001"
    assert slack["data"]["__stats"] == {"status_code": 200}

    # Failures reported with HTTP 200 are returned, not raised
    failed = api.execute_action("def456", "send_message", {"channel": "C999", "text": "hi"})
    assert failed == {
        "success": False,
        "data": {"error": "channel_not_found"},
        "status": "error",
        "error": {"error": "channel_not_found"},
    }
    rejected = api.execute_action("abc123", "send-email", dict(EMAIL, to="rejected@example.com"))
    assert rejected["status"] == "error" and rejected["error"] == {"error": "Recipient address rejected"}
    assert "result" not in rejected

    with pytest.raises(AltanActionError) as caught:
        api.execute_action("abc123", "send-email", {"to": 42})
    assert_error(
        caught.value,
        422,
        "body.payload.subject: Field required; body.payload.body: Field required; "
        "body.payload.to: Input should be a valid string",
        "req_000008",
        "POST",
        path,
    )
    assert [e["loc"] for e in caught.value.response_data["detail"]] == [
        ["body", "payload", "subject"],
        ["body", "payload", "body"],
        ["body", "payload", "to"],
    ]

    with pytest.raises(AltanActionError) as caught:
        api.execute_action(connection_id="abc123", action_type_id="invalid-action", payload={})
    assert_error(
        caught.value,
        404,
        "Action type not found",
        "req_000009",
        "POST",
        "/connection/abc123/actions/invalid-action/execute",
    )

    with pytest.raises(AltanActionError) as caught:
        api.execute_action("abc123", "send-email", EMAIL)
    assert_error(caught.value, 500, "Internal Server Error", "req_000010", "POST", path)
    assert caught.value.response_data == "Internal Server Error"

    with pytest.raises(AltanActionError) as caught:
        bad.execute_action("abc123", "send-email", EMAIL)
    assert_error(caught.value, 401, "Invalid API key", "req_000011", "POST", path)
    assert_all_played(cassette, 11)


# ---------------------------------------------------------------------------------------------
# Matching is strict: a request that differs in URL, key or body is not served
# ---------------------------------------------------------------------------------------------


@pytest.mark.vcr
@pytest.mark.default_cassette("execute_action")
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.get_connection("not-recorded"), id="path"),
        pytest.param(lambda c: c.execute_action("abc123", "list-messages", {}), id="path-same-method"),
        pytest.param(lambda c: c.execute_action("abc123", "send-email", dict(EMAIL, body="changed")), id="body"),
    ],
)
def test_a_request_not_in_the_cassette_is_refused(
    make_api: Callable[..., Api], cassette: Any, call: Callable[[Any], Any]
) -> None:
    api = make_api()
    [result] = api.gather([call])
    assert isinstance(result, CannotOverwriteExistingCassetteException)
    assert cassette.play_count == 0


@pytest.mark.vcr
@pytest.mark.default_cassette("execute_action")
def test_a_request_with_another_key_is_refused(make_api: Callable[..., Api], cassette: Any) -> None:
    other = make_api("some-other-key-123456")  # scrubbed to <OTHER_ALTAN_API_KEY>: no recorded match
    [result] = other.gather([lambda c: c.execute_action("abc123", "send-email", EMAIL)])
    assert isinstance(result, CannotOverwriteExistingCassetteException)
    assert "some-other-key-123456" not in str(result)
    assert cassette.play_count == 0


# ---------------------------------------------------------------------------------------------
# The cassettes themselves: wire format, reproducibility
# ---------------------------------------------------------------------------------------------

METHODS = ["list_connections", "get_connection", "list_action_types", "get_action_type", "execute_action"]


def load_interactions(name: str) -> List[Dict[str, Any]]:
    with open(CASSETTE_DIR / (name + ".yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)["interactions"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", METHODS)
def test_cassettes_carry_the_decided_wire_format(name: str) -> None:
    interactions = load_interactions(name)
    statuses = []
    for interaction in interactions:
        request, response = interaction["request"], interaction["response"]
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert request["uri"].startswith(BASE + "/connection"), request["uri"]
        assert headers["x-altan-key"][0] in PLACEHOLDERS
        assert headers["authorization"] == ["Bearer " + headers["x-altan-key"][0]]
        assert headers["accept"] == ["application/json"]
        if name == "execute_action":
            assert request["method"] == "POST" and request["uri"].endswith("/execute")
            assert headers["content-type"] == ["application/json"]
            body = json.loads(request["body"])
            assert list(body) == ["payload"] and isinstance(body["payload"], dict)
        else:
            assert request["method"] == "GET" and request["body"] is None and "content-type" not in headers
        assert response["headers"]["X-Request-ID"] and "Date" not in response["headers"]
        data = response["body"]["string"]
        failed = data.startswith("{") and json.loads(data).get("success") is False
        statuses.append("failed" if failed else response["status"]["code"])
    assert 200 in statuses, "a success"
    assert any(s == "failed" or s >= 400 for s in statuses), "at least one error shape"
    keys = {i["request"]["headers"]["X-Altan-Key"][0] for i in interactions}
    assert KEY_PLACEHOLDER in keys


def test_cassettes_are_reproducible_from_the_replica(tmp_path: pathlib.Path) -> None:
    from record_altan_cassettes import record_from_replica

    written = record_from_replica(tmp_path, log=lambda line: None)
    assert sorted(p.name for p in written) == sorted(n + ".yaml" for n in METHODS)
    for path in written:
        assert path.read_bytes() == (CASSETTE_DIR / path.name).read_bytes(), (
            "%s differs from a fresh recording: run python tests/record_altan_cassettes.py" % path.name
        )


def test_the_client_replays_under_plain_vcrpy() -> None:
    recorder = vcrpy.VCR(record_mode="none")
    register_matchers(recorder)
    with recorder.use_cassette(str(CASSETTE_DIR / "get_connection.yaml"), **altan_vcr_config(TEST_API_KEY)):
        with AltanActionsClient(TEST_API_KEY, BASE, max_retries=0) as client:
            assert client.get_connection("abc123") == CONNECTIONS[0]


# ---------------------------------------------------------------------------------------------
# Proof that no request escapes a cassette, with a real server on loopback as the witness.
# ``--block-network`` allows loopback, so a request that escaped would reach the replica and
# raise its request counter; under a cassette that counter must stay at 0.
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def loopback_cassette(
    tmp_path: pathlib.Path,
    base_url: str,
    names: List[str],
    guarded: bool = True,
    keep: Optional[Callable[[Dict[str, Any]], bool]] = None,
) -> Iterator[Any]:
    """The committed interactions of ``names``, re-addressed to ``base_url``, replayed
    (record mode none); with ``guarded`` under ``thread_safe_cassette``."""
    interactions = []
    for name in names:
        for interaction in load_interactions(name):
            if keep is None or keep(interaction):
                interaction["request"]["uri"] = base_url + interaction["request"]["uri"][len(BASE) :]
                interactions.append(interaction)
    path = tmp_path / ("loopback-%d.yaml" % len(list(tmp_path.iterdir())))
    path.write_text(yaml.safe_dump({"interactions": interactions, "version": 1}), encoding="utf-8")
    recorder = vcrpy.VCR(record_mode="none")
    register_matchers(recorder)
    with recorder.use_cassette(str(path), **altan_vcr_config(TEST_API_KEY)) as cassette:
        if guarded:
            with thread_safe_cassette(cassette) as lock:
                yield cassette, lock
        else:
            yield cassette, None


def is_success(interaction: Dict[str, Any]) -> bool:
    body = interaction["response"]["body"]["string"]
    return interaction["response"]["status"]["code"] == 200 and '"success": false' not in body


def success_calls() -> List[Callable[[Any], Any]]:
    """One call per successful interaction of the merged cassettes below, in any order."""
    calls: List[Callable[[Any], Any]] = [lambda c: c.list_connections() for _ in range(6)]
    calls += [lambda c: c.get_connection("abc123"), lambda c: c.get_connection("def456")]
    calls += [
        lambda c: c.get_action_type("abc123", "send-email"),
        lambda c: c.get_action_type("def456", "send_message"),
    ]
    calls += [lambda c: c.execute_action("abc123", "send-email", EMAIL)]
    calls += [
        (
            lambda c, i=i: c.execute_action(
                "abc123",
                "send-email",
                {"to": "user%d@example.com" % i, "subject": "Email %d" % i, "body": "Message %d" % i},
            )
        )
        for i in range(3)
    ]
    calls += [lambda c: c.execute_action("def456", "send_message", {"channel": "C123", "text": "hi"})]
    return calls


def test_many_concurrent_async_calls_all_come_from_the_cassette(tmp_path: pathlib.Path, altan_replica: Any) -> None:
    calls = success_calls()
    for _ in range(3):  # a few rounds, each with fresh clients, threads and cassette
        with loopback_cassette(
            tmp_path,
            altan_replica.base_url,
            ["list_connections", "get_connection", "get_action_type", "execute_action"],
            keep=is_success,
        ) as (cassette, _):
            api = Api("async", TEST_API_KEY, altan_replica.base_url)
            try:
                results = api.gather(calls)
            finally:
                api.close()
            assert not [r for r in results if isinstance(r, BaseException)], results
            assert results[:6] == [{"data": CONNECTIONS}] * 6
            assert_all_played(cassette, len(calls))
        assert altan_replica.request_count == 0, "a request escaped the cassette"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_request_not_in_a_loopback_cassette_never_reaches_the_server(
    tmp_path: pathlib.Path, altan_replica: Any, mode: str
) -> None:
    with loopback_cassette(tmp_path, altan_replica.base_url, ["get_connection"]) as (cassette, lock):
        api = Api(mode, TEST_API_KEY, altan_replica.base_url)
        try:
            [result] = api.gather([lambda c: c.get_connection("not-recorded")])
        finally:
            api.close()
        assert isinstance(result, CannotOverwriteExistingCassetteException)
        assert cassette.play_count == 0
    assert altan_replica.request_count == 0


@contextlib.contextmanager
def force_reset_window_in_another_thread() -> Iterator[threading.Event]:
    """Open a vcrpy ``force_reset()`` window in another thread (what a worker thread does while
    it builds its connection) and keep it open until the yielded event is set. The thread is
    joined before this returns: a window that closed after its cassette ended would put that
    cassette's patch back for good (the mechanism of vcrpy #1051)."""
    opened, release = threading.Event(), threading.Event()

    def worker() -> None:
        with vcr.patch.force_reset():  # looked up at call time: the guarded version if a guard is active
            opened.set()
            release.wait(10)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    assert opened.wait(10)
    try:
        yield release
    finally:
        release.set()
        thread.join(10)
        assert not thread.is_alive()


def test_control_without_the_guard_a_force_reset_window_lets_a_request_escape(
    tmp_path: pathlib.Path, altan_replica: Any
) -> None:
    """The hazard is real (vcrpy #212): while another thread is inside force_reset(), a new
    connection is a real one, and the request reaches the server."""
    with loopback_cassette(tmp_path, altan_replica.base_url, ["get_connection"], guarded=False) as (cassette, _):
        with force_reset_window_in_another_thread():
            with AltanActionsClient(TEST_API_KEY, altan_replica.base_url, max_retries=0) as client:
                assert client.get_connection("abc123") == CONNECTIONS[0]
        assert cassette.play_count == 0
    assert altan_replica.request_count == 1, "the unguarded request went to the server, not the cassette"


def test_with_the_guard_a_force_reset_window_delays_a_request_which_then_replays(
    tmp_path: pathlib.Path, altan_replica: Any
) -> None:
    with loopback_cassette(tmp_path, altan_replica.base_url, ["get_connection"]) as (cassette, lock):
        result: List[Any] = []

        def request() -> None:
            with AltanActionsClient(TEST_API_KEY, altan_replica.base_url, max_retries=0) as client:
                result.append(client.get_connection("abc123"))

        # The window is opened through the guarded force_reset, so it holds the guard's lock;
        # the request's connection set-up must wait for it (the lock records the contention),
        # and only then looks up the connection class.
        with force_reset_window_in_another_thread() as release:
            thread = threading.Thread(target=request)
            thread.start()
            assert lock.contended.wait(10), "the request did not wait for the window"
            assert result == [] and altan_replica.request_count == 0
            release.set()
            thread.join(10)
        assert result == [CONNECTIONS[0]]
        assert cassette.play_count == 1
    assert altan_replica.request_count == 0


def test_control_without_the_guard_a_connection_pooled_before_the_cassette_escapes(
    tmp_path: pathlib.Path, altan_replica: Any
) -> None:
    with AltanActionsClient(TEST_API_KEY, altan_replica.base_url, max_retries=0) as client:
        client.get_connection("abc123")  # pools a real kept-alive connection
        with loopback_cassette(tmp_path, altan_replica.base_url, ["get_connection"], guarded=False) as (cassette, _):
            client.get_connection("abc123")
            assert cassette.play_count == 0
    assert altan_replica.request_count == 2, "the second request reused the real connection"


def test_with_the_guard_a_connection_pooled_before_the_cassette_is_refused(
    tmp_path: pathlib.Path, altan_replica: Any
) -> None:
    with AltanActionsClient(TEST_API_KEY, altan_replica.base_url, max_retries=0) as client:
        client.get_connection("abc123")
        with loopback_cassette(tmp_path, altan_replica.base_url, ["get_connection"]) as (cassette, lock):
            with pytest.raises(CassetteBypassError, match="construct the client inside the cassette"):
                client.get_connection("abc123")
            assert cassette.play_count == 0
    assert altan_replica.request_count == 1, "only the request made before the cassette"


def test_the_guard_restores_everything_it_patched(tmp_path: pathlib.Path, altan_replica: Any) -> None:
    import vcr.stubs

    before = (
        vcr.patch.force_reset,
        vcr.stubs.VCRConnection.getresponse,
        altan._Transport._checkout,
        hasattr(vcr.stubs.VCRHTTPResponse, "will_close"),
    )
    with loopback_cassette(tmp_path, altan_replica.base_url, ["get_connection"]) as (cassette, lock):
        assert vcr.patch.force_reset is not before[0] and altan._Transport._checkout is not before[2]
        assert "play_response" in vars(cassette)
    assert (
        vcr.patch.force_reset,
        vcr.stubs.VCRConnection.getresponse,
        altan._Transport._checkout,
        hasattr(vcr.stubs.VCRHTTPResponse, "will_close"),
    ) == before
    assert "play_response" not in vars(cassette)
