"""The recorded API exchanges (cassettes/, vcrpy through pytest-recording): each client replays
them, they carry the decided wire format, they can be recorded again from the replicas, and
none holds a secret.

pytest-recording runs them with ``--record-mode=none --block-network`` (pyproject addopts): a
request that is not in the cassette raises ``CannotOverwriteExistingCassetteException``, and a
connection to anything but loopback fails. A test names its cassette ``altan/<name>`` or
``pipedream/<name>`` (``default_cassette``); the folder chooses the API's recording settings
(``vcr_config``: scrubbing filters and request matchers).

The async clients send each request from a worker thread, and vcrpy is not thread-safe
(issues #212, #295, #849). Every replay therefore runs under the ``cassette`` fixture
(tests/conftest.py: ``vcr_safety.thread_safe_cassette``): connection set-up and vcrpy's
bookkeeping are serialised with one lock, and a connection that vcrpy does not control raises
``CassetteBypassError`` before it sends anything. Clients are built inside the cassette and
closed before it ends, and each test asserts that every recorded interaction was played
exactly once. Cassettes are recorded without retries, so these clients use ``max_retries=0``
(a retried 500 would be a request the cassette does not have).

Altan (cassettes/altan/*.yaml): the sync and the async client replay every cassette. The tests
at the end of its section prove the thread-safety guard works: against a real loopback server
they show that without it requests do escape the cassette, and that with it none does.

Pipedream (cassettes/pipedream/*.yaml, one per client method: the 28 README methods, the 31
added for the official SDK's other endpoints and the newest): requests are matched on method,
scheme, host, port, path, query, body and ``pipedream_headers`` (Authorization, Content-Type
and every ``x-pd-*`` header, after scrubbing; tests/pipedream_vcr.py), so a replay passes only
if the client sends exactly what was recorded. Regenerate them with
``python tests/record_pipedream_cassettes.py``.

No secret may be committed under cassettes/ (every file, any client, any format). Flagged: the
keys the recorders use (and ALTAN_API_KEY / PIPEDREAM_* secrets if set in the environment),
any ``Bearer <token>`` whose token is not a placeholder, ``client_secret``, ``access_token``
and ``refresh_token`` values that are not placeholders, and, in YAML cassettes, credential
request headers whose value is not a placeholder.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import pathlib
import re
import threading
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple
from urllib.parse import parse_qsl

import pipedream_vcr as pv
import pytest
import vcr as vcrpy
import vcr.patch
import yaml
from altan_vcr import (
    CASSETTE_DIR,
    INVALID_API_KEY,
    KEY_PLACEHOLDER,
    PLACEHOLDERS,
    REAL_BASE_URL,
    TEST_API_KEY,
    register_matchers,
)
from altan_vcr import vcr_config as altan_vcr_config
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr_safety import CassetteBypassError, thread_safe_cassette

import altan
from altan import AltanActionError, AltanActionsClient, AsyncAltanActionsClient
from pipedream import PipedreamApiError, PipedreamAuthError, PipedreamClient, SyncPipedreamClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"


# =============================================================================================
# Altan: cassettes/altan/
# =============================================================================================

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
    return str(CASSETTES)


@pytest.fixture
def vcr_config(default_cassette_name: str) -> Dict[str, Any]:
    """The recording settings of the API whose folder the cassette is in (``altan/<name>`` or
    ``pipedream/<name>``).

    Altan: filter_headers scrubs X-Altan-Key / Authorization to placeholders (also on the live
    request before matching); match_on: method, scheme, host, port, path, query, body and
    altan_headers (auth, Content-Type, Accept; registered in conftest.py).
    Pipedream: filter_headers scrubs Authorization / User-Agent, before_record_request the
    token request's client_secret (also on the live request before matching); match_on:
    method, scheme, host, port, path, query, body and pipedream_headers (registered in
    conftest.py)."""
    api = default_cassette_name.split("/")[0]
    if api == "altan":
        return altan_vcr_config(TEST_API_KEY)
    if api == "pipedream":
        return pv.vcr_config()
    return {}  # a test without a cassette (pytest-recording still asks, for allowed_hosts)


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
@pytest.mark.default_cassette("altan/list_connections")
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
@pytest.mark.default_cassette("altan/get_connection")
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
@pytest.mark.default_cassette("altan/list_action_types")
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
@pytest.mark.default_cassette("altan/get_action_type")
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
@pytest.mark.default_cassette("altan/execute_action")
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
@pytest.mark.default_cassette("altan/execute_action")
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
@pytest.mark.default_cassette("altan/execute_action")
def test_a_request_with_another_key_is_refused(make_api: Callable[..., Api], cassette: Any) -> None:
    other = make_api("some-other-key-123456")  # scrubbed to <OTHER_ALTAN_API_KEY>: no recorded match
    [result] = other.gather([lambda c: c.execute_action("abc123", "send-email", EMAIL)])
    assert isinstance(result, CannotOverwriteExistingCassetteException)
    assert "some-other-key-123456" not in str(result)
    assert cassette.play_count == 0


# ---------------------------------------------------------------------------------------------
# The cassettes themselves: wire format, reproducibility
# ---------------------------------------------------------------------------------------------

ALTAN_METHODS = ["list_connections", "get_connection", "list_action_types", "get_action_type", "execute_action"]


def load_interactions(name: str) -> List[Dict[str, Any]]:
    with open(CASSETTE_DIR / (name + ".yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)["interactions"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ALTAN_METHODS)
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


def test_altan_cassettes_are_reproducible_from_the_replica(tmp_path: pathlib.Path) -> None:
    from record_altan_cassettes import record_from_replica

    written = record_from_replica(tmp_path, log=lambda line: None)
    assert sorted(p.name for p in written) == sorted(n + ".yaml" for n in ALTAN_METHODS)
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


# =============================================================================================
# Pipedream: cassettes/pipedream/
# =============================================================================================

README_METHODS = [
    "get_project_info",
    "get_apps",
    "get_app",
    "create_connect_token",
    "get_accounts",
    "get_account_by_id",
    "delete_account",
    "delete_accounts_by_app",
    "delete_external_user",
    "get_components",
    "get_component",
    "configure_component",
    "reload_component_props",
    "run_action",
    "deploy_trigger",
    "get_deployed_triggers",
    "get_deployed_trigger",
    "delete_deployed_trigger",
    "update_deployed_trigger",
    "get_deployed_trigger_events",
    "get_deployed_trigger_webhooks",
    "update_deployed_trigger_webhooks",
    "get_deployed_trigger_workflows",
    "update_deployed_trigger_workflows",
    "create_rate_limit",
    "make_proxy_request",
    "invoke_workflow",
    "invoke_workflow_for_external_user",
]
# The methods added for the official SDK's other endpoints.
NEW_METHODS = [
    "get_projects",
    "create_project",
    "get_project",
    "update_project",
    "delete_project",
    "update_project_logo",
    "get_project_webhook",
    "update_project_webhook",
    "delete_project_webhook",
    "regenerate_project_webhook_signing_key",
    "get_usage",
    "get_app_categories",
    "get_app_category",
    "get_app_overrides",
    "create_app_override",
    "get_app_override",
    "update_app_override",
    "delete_app_override",
    "get_oauth_apps",
    "create_oauth_app",
    "get_oauth_app",
    "update_oauth_app",
    "delete_oauth_app",
    "validate_connect_token",
    "get_users",
    "get_accounts_by_external_user",
    "create_account",
    "download_file",
    "get_deployed_trigger_webhook",
    "reset_deployed_trigger_webhook_delivery_state",
    "regenerate_deployed_trigger_webhook_signing_key",
]
# The OAuth token call, and the v2 catalogue of the official TypeScript SDK (which Python SDK 2.3.0 lacks).
NEWEST_METHODS = [
    "create_oauth_token",
    "get_apps_v2",
    "get_app_facets_v2",
    "get_app_v2",
    "get_components_v2",
    "get_component_facets_v2",
    "get_component_v2",
]
PIPEDREAM_METHODS = README_METHODS + NEW_METHODS + NEWEST_METHODS


# ---------------------------------------------------------------------------------------------
# pytest-recording configuration
# ---------------------------------------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("clean_client_environment")


def interactions(name: str) -> List[Dict[str, Any]]:
    with open(pv.CASSETTE_DIR / (name + ".yaml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["interactions"]  # type: ignore[no-any-return]


def _header(headers: Dict[str, List[str]], name: str) -> Optional[str]:
    for key, values in headers.items():
        if key.lower() == name.lower():
            return values[0] if isinstance(values, list) else values
    return None


def body_bytes(response: Dict[str, Any]) -> bytes:
    body = response["body"]["string"]
    return body.encode("utf-8") if isinstance(body, str) else body  # type: ignore[no-any-return]


def decoded(response: Dict[str, Any]) -> Any:
    """What the client returns for a recorded response: parsed JSON, text, or None when empty."""
    body = body_bytes(response)
    if response["status"]["code"] == 204 or not body.strip():
        return None
    if "json" in (_header(response["headers"], "content-type") or ""):
        return json.loads(body)
    return body.decode("utf-8")


# ---------------------------------------------------------------------------------------------
# Running a scenario
# ---------------------------------------------------------------------------------------------


class Outcome:
    """One step's result (or error) and the index of the last interaction it played."""

    def __init__(self, step: pv.Step, value: Any, played: List[int]) -> None:
        self.step = step
        self.value = value
        self.played = played

    @property
    def error(self) -> Optional[PipedreamApiError]:
        return self.value if isinstance(self.value, PipedreamApiError) else None


def _played(cassette: Any) -> set:
    return {index for index, count in cassette.play_counts.items() if count}


def run_sync(name: str, cassette: Any) -> List[Outcome]:
    clients = pv.make_clients(SyncPipedreamClient)  # inside the cassette: vcrpy's connections
    outcomes: List[Outcome] = []
    results: List[Any] = []
    try:
        for step in pv.SCENARIOS[name]:
            before = _played(cassette)
            try:
                args, kwargs = pv.step_arguments(step, results)
                value = getattr(pv.step_client(clients, step, results), step.method)(*args, **kwargs)
            except PipedreamApiError as error:
                value = error
            results.append(value)
            outcomes.append(Outcome(step, value, sorted(_played(cassette) - before)))
    finally:
        for client in clients.values():
            client.close()
    return outcomes


def run_async(name: str, cassette: Any) -> List[Outcome]:
    async def main() -> List[Outcome]:
        clients = pv.make_clients(PipedreamClient)
        outcomes: List[Outcome] = []
        results: List[Any] = []
        try:
            for step in pv.SCENARIOS[name]:
                before = _played(cassette)
                try:
                    args, kwargs = pv.step_arguments(step, results)
                    value = await getattr(pv.step_client(clients, step, results), step.method)(*args, **kwargs)
                except PipedreamApiError as error:
                    value = error
                results.append(value)
                outcomes.append(Outcome(step, value, sorted(_played(cassette) - before)))
        finally:
            for client in clients.values():
                await client.close()
        return outcomes

    return asyncio.run(main())


def check_outcomes(name: str, outcomes: List[Outcome], cassette: Any) -> None:
    """Every step returned what its last recorded response holds (errors: their attributes),
    and every interaction was played exactly once."""
    recorded = interactions(name)
    for number, outcome in enumerate(outcomes, 1):
        where = "%s step %d (%s)" % (name, number, outcome.step.method)
        assert outcome.played, where + ": played no interaction"
        response = recorded[outcome.played[-1]]["response"]
        status = response["status"]["code"]
        expected = decoded(response)
        if outcome.step.method == "download_file" and status < 300:
            expected = len(body_bytes(response))  # the bytes written to the destination
        if outcome.error is None:
            assert status < 300, where + ": expected an error, got %r" % (outcome.value,)
            assert outcome.value == expected, where
            continue
        error = outcome.error
        assert status >= 300, where + ": unexpected error %s" % error
        assert error.status_code == status, where
        assert error.response_data == expected == error.body, where
        assert error.request_id == _header(response["headers"], "x-request-id"), where
        assert error.request_id and error.request_id in str(error), where
        assert error.method == recorded[outcome.played[-1]]["request"]["method"], where
        if isinstance(expected, dict):
            assert error.detail == (expected.get("error_description") or expected.get("error")), where
        else:
            assert error.detail == " ".join(expected.split()), where
        assert isinstance(error, PipedreamAuthError) == (status == 401), where
        assert str(status) in str(error) and (error.detail or "") in str(error), where
        for secret in (pv.TEST_CLIENT_SECRET, pv.INVALID_CLIENT_SECRET, pv.INVALID_ACCESS_TOKEN):
            assert secret not in str(error) and secret not in repr(error), where
    assert cassette.all_played, "%s: interactions not played: %s" % (
        name,
        sorted(set(range(len(cassette))) - _played(cassette)),
    )
    assert cassette.play_count == len(cassette) == len(recorded)
    SHAPES[name]([o.value for o in outcomes])


# ---------------------------------------------------------------------------------------------
# What each method returned, beyond "equal to the recording": the official SDK's shapes
# ---------------------------------------------------------------------------------------------


def _page(result: Dict[str, Any], count: int, more: bool) -> None:
    assert set(result) == {"data", "page_info"}
    info = result["page_info"]
    assert set(info) == {"count", "total_count", "start_cursor", "end_cursor"}
    assert info["count"] == len(result["data"]) == count
    assert bool(info["end_cursor"]) == more


def _status(value: Any, status: int) -> None:
    assert isinstance(value, PipedreamApiError) and value.status_code == status, value


def _numbered_page(result: Dict[str, Any], count: int, page: int, per_page: int, total: int) -> None:
    """A v2 page: ``page_info`` with the page number instead of cursors."""
    assert set(result) == {"data", "page_info"}
    assert result["page_info"] == {"count": count, "page": page, "per_page": per_page, "total_count": total}
    assert len(result["data"]) == count


APP_DOCUMENT_FIELDS = {
    "id",
    "name_slug",
    "name",
    "auth_type",
    "category_name",
    "description",
    "featured_weight",
    "has_actions",
    "has_triggers",
    "img_src",
}
COMPONENT_DOCUMENT_FIELDS = {"id", "key", "name", "version", "app_name_slug", "component_type", "description"}


def _apps_v2(r: List[Any]) -> None:
    _numbered_page(r[0], 3, 1, 3, 12)
    assert [a["name_slug"] for a in r[0]["data"]] == ["slack", "github", "google_sheets"]  # by featured weight
    assert APP_DOCUMENT_FIELDS <= set(r[0]["data"][0])
    _numbered_page(r[1], 3, 2, 3, 12)
    assert [a["name_slug"] for a in r[1]["data"]] == ["notion", "gmail", "hubspot"]
    assert [a["name_slug"] for a in r[2]["data"]] == ["google_sheets", "notion", "airtable_oauth"]  # no triggers
    assert all(a["has_actions"] or a["has_triggers"] for a in r[3]["data"]) and r[3]["page_info"]["count"] == 5
    _status(r[4], 501)
    _status(r[5], 400)
    _status(r[6], 503)


def _components_v2(r: List[Any]) -> None:
    _numbered_page(r[0], 3, 1, 3, 9)
    assert COMPONENT_DOCUMENT_FIELDS <= set(r[0]["data"][0]) and r[0]["data"][0]["id"].startswith("pc_")
    _numbered_page(r[1], 3, 3, 3, 9)
    assert [c["key"] for c in r[2]["data"]] == ["slack-new-message-in-channels", "github-new-commit"]
    assert {c["component_type"] for c in r[2]["data"]} == {"source"}  # a trigger's type in v2
    assert [c["key"] for c in r[3]["data"]] == ["slack-send-message", "gmail-send-email"]
    _numbered_page(r[4], 0, 1, 10, 0)
    _status(r[5], 400)


def _facets(result: Dict[str, Any], fields: Tuple[str, ...]) -> None:
    assert list(result) == ["data"] and tuple(result["data"]) == fields
    for buckets in result["data"].values():
        assert all(set(b) == {"value", "count"} and b["count"] > 0 for b in buckets)


def _apps(r: List[Any]) -> None:
    _page(r[0], 3, True)
    assert r[0]["page_info"]["end_cursor"] == pv.APPS_PAGE_1_END
    assert [a["name_slug"] for a in r[0]["data"]] == ["slack", "github", "google_sheets"]
    app = r[0]["data"][0]
    assert {
        "id",
        "name_slug",
        "name",
        "auth_type",
        "description",
        "img_src",
        "custom_fields_json",
        "categories",
        "featured_weight",
    } <= set(app)
    assert isinstance(app["custom_fields_json"], str)  # a JSON string, not an object
    _page(r[1], 3, True)
    assert r[1]["data"][0]["name_slug"] == "notion"
    assert {a["name_slug"] for a in r[2]["data"]} == {"google_sheets", "notion"}
    assert [a["name"] for a in r[3]["data"]] == sorted((a["name"] for a in r[3]["data"]), reverse=True)
    _status(r[4], 400)


def _accounts(r: List[Any]) -> None:
    _page(r[0], 2, True)
    assert r[0]["page_info"]["end_cursor"] == pv.ACCOUNTS_PAGE_1_END
    assert all(
        a["external_id"] == pv.USER and a["id"].startswith("apn_") and "credentials" not in a for a in r[0]["data"]
    )
    _page(r[1], 2, False)
    assert [a["app"]["name_slug"] for a in r[2]["data"]] == ["slack"]
    assert "oauth_access_token" in r[2]["data"][0]["credentials"]
    assert [a["external_id"] for a in r[3]["data"]] == ["user-2", "user-2"]  # after a 401 and a new token
    _status(r[4], 400)


SHAPES: Dict[str, Callable[[List[Any]], None]] = {
    "get_project_info": lambda r: (
        [a["name_slug"] for a in r[0]["apps"]] == ["slack", "github", "google_sheets"] or pytest.fail(r[0]),
        _status(r[1], 401),
        _status(r[2], 401),
        _status(r[3], 404),
        _status(r[4], 500),
    ),
    "get_apps": _apps,
    "get_app": lambda r: (
        set(r[0]) == {"data"} and r[0]["data"]["name_slug"] == "slack" or pytest.fail(r[0]),
        r[1] == r[0] or pytest.fail(r[1]),
        _status(r[2], 404),
    ),
    "create_connect_token": lambda r: (
        set(r[0]) == {"token", "expires_at", "connect_link_url"}
        and r[0]["token"].startswith("ctok_")
        and ("token=" + r[0]["token"]) in r[0]["connect_link_url"]
        or pytest.fail(r[0]),
        _status(r[2], 400),
    ),
    "get_accounts": _accounts,
    "get_account_by_id": lambda r: (
        r[0]["id"] == pv.SLACK_ACCOUNT and "data" not in r[0] and "credentials" not in r[0] or pytest.fail(r[0]),
        "credentials" in r[1] or pytest.fail(r[1]),
        _status(r[2], 404),
    ),
    "delete_account": lambda r: (r[0] is None or pytest.fail(r[0]), _status(r[1], 404)),
    "delete_accounts_by_app": lambda r: (r[0] is None and r[1] is None or pytest.fail(r), _status(r[2], 404)),
    "delete_external_user": lambda r: (r[0] is None or pytest.fail(r[0]), _status(r[1], 404), _status(r[2], 404)),
    "get_components": lambda r: (
        _page(r[0], 3, True),
        r[0]["page_info"]["end_cursor"] == pv.ACTIONS_PAGE_1_END or pytest.fail(r[0]),
        _page(r[1], 3, False),
        all(c["component_type"] == "action" for c in r[0]["data"] + r[1]["data"]) or pytest.fail(r[1]),
        [c["key"] for c in r[2]["data"]] == ["slack-send-message", "slack-new-message-in-channels"]
        or pytest.fail(r[2]),
        _status(r[4], 404),
        _status(r[5], 400),
    ),
    "get_component": lambda r: (
        r[0]["data"]["key"] == "slack-send-message"
        and {"key", "name", "version", "configurable_props"} <= set(r[0]["data"])
        or pytest.fail(r[0]),
        _status(r[3], 404),
    ),
    "configure_component": lambda r: (
        {"options", "stringOptions", "observations", "context", "errors"} <= set(r[0]) or pytest.fail(r[0]),
        r[1]["options"][0]["value"] == "conversation-4" or pytest.fail(r[1]),  # page 1
        _status(r[3], 400),
        _status(r[4], 404),
    ),
    "reload_component_props": lambda r: (
        r[0]["dynamicProps"]["id"].startswith("dyp_")
        and r[0]["dynamicProps"]["configurableProps"]
        or pytest.fail(r[0]),
        _status(r[2], 404),
    ),
    "run_action": lambda r: (
        {"exports", "os", "ret", "stash_id"} <= set(r[0]) and r[0]["stash_id"] is None or pytest.fail(r[0]),
        r[1]["stash_id"].startswith("stash_") or pytest.fail(r[1]),
        _status(r[2], 404),
        _status(r[3], 400),
    ),
    "deploy_trigger": lambda r: (
        r[0]["data"]["id"].startswith("dc_")
        and isinstance(r[0]["data"]["created_at"], int)
        and "webhook_signing_key" in r[0]["data"]
        or pytest.fail(r[0]),
        r[1]["data"]["emit_on_deploy"] is False or pytest.fail(r[1]),
        _status(r[2], 404),
    ),
    "get_deployed_triggers": lambda r: (
        _page(r[0], 2, True),
        r[0]["page_info"]["end_cursor"] == pv.TRIGGERS_PAGE_1_END or pytest.fail(r[0]),
        _page(r[1], 1, False),
        _page(r[2], 0, False),
        _status(r[3], 400),
    ),
    "get_deployed_trigger": lambda r: (r[0]["data"]["id"] == pv.TRIGGER_1 or pytest.fail(r[0]), _status(r[1], 404)),
    "delete_deployed_trigger": lambda r: (r[0] is None and r[1] is None or pytest.fail(r), _status(r[2], 404)),
    "update_deployed_trigger": lambda r: (
        r[0]["data"]["active"] is False and r[0]["data"]["name"] == "Paused Slack trigger" or pytest.fail(r[0]),
        r[1]["data"]["configured_props"]["conversations"] == ["C0456"] or pytest.fail(r[1]),
        _status(r[2], 404),
    ),
    "get_deployed_trigger_events": lambda r: (
        len(r[0]["data"]) == 3
        and len(r[1]["data"]) == 2
        and {"e", "k", "ts", "id", "sum"} == set(r[1]["data"][0])
        or pytest.fail(r),
        _status(r[2], 404),
    ),
    "get_deployed_trigger_webhooks": lambda r: (
        set(r[0]) == {"webhook_urls", "webhooks"} and len(r[0]["webhooks"]) == 1 or pytest.fail(r[0]),
        r[1] == {"webhook_urls": [], "webhooks": []} or pytest.fail(r[1]),
        _status(r[2], 404),
    ),
    "update_deployed_trigger_webhooks": lambda r: (
        r[0]["webhook_urls"] == ["https://app.example.com/hooks/a"] or pytest.fail(r[0]),
        len(r[1]["webhook_urls"]) == 2 or pytest.fail(r[1]),
        _status(r[2], 404),
    ),
    "get_deployed_trigger_workflows": lambda r: (
        set(r[0]) == {"workflow_ids"} and len(r[0]["workflow_ids"]) == 1 or pytest.fail(r[0]),
        r[1] == {"workflow_ids": []} or pytest.fail(r[1]),
        _status(r[2], 404),
    ),
    "update_deployed_trigger_workflows": lambda r: (
        r[0] == {"workflow_ids": ["p_abc123"]} and r[1] == {"workflow_ids": ["p_abc123", "p_def456"]} or pytest.fail(r),
        _status(r[2], 404),
    ),
    "create_rate_limit": lambda r: (
        set(r[0]) == {"token"} or pytest.fail(r[0]),
        "apps" in r[1] and "apps" in r[2] or pytest.fail(r),
        _status(r[3], 429),
        _status(r[4], 400),
    ),
    "make_proxy_request": lambda r: (
        r[0]["url"] == pv.PROXY_POST["url"]
        and r[0]["method"] == "POST"
        and r[0]["body"] == pv.PROXY_POST["body"]
        and r[0]["headers"] == {"content-type": "application/json; charset=utf-8", "x-custom-header": "demo"}
        or pytest.fail(r[0]),
        r[1]["method"] == "GET" and r[1]["body"] is None or pytest.fail(r[1]),
        r[2] == "plain text from https://slack.com/api/text" or pytest.fail(r[2]),
        _status(r[3], 403),
        _status(r[4], 404),
    ),
    "invoke_workflow": lambda r: (
        r[0]["body"] == {"order": 42} and "authorization" not in r[0]["headers"] or pytest.fail(r[0]),
        r[1]["path"] == "/orders/42" and r[1]["query"] == {"expand": "items"} or pytest.fail(r[1]),
        r[2]["headers"]["authorization"] == "Bearer " + pv.ACCESS_TOKEN_PLACEHOLDER or pytest.fail(r[2]),
        r[3]["headers"]["authorization"] == "Bearer " + pv.STATIC_TOKEN_PLACEHOLDER
        and r[3]["body"] == "plain text"
        or pytest.fail(r[3]),
        _status(r[4], 404),
    ),
    "invoke_workflow_for_external_user": lambda r: (
        r[0]["headers"]["x-pd-external-user-id"] == pv.USER
        and r[0]["headers"]["x-pd-environment"] == "development"
        and r[0]["headers"]["authorization"].startswith("Bearer ")
        or pytest.fail(r[0]),
        _status(r[2], 404),
    ),
}


def _ok(condition: bool, value: Any) -> None:
    if not condition:
        pytest.fail("unexpected result: %r" % (value,))


PROJECT_FIELDS = {"id", "name", "app_name", "support_email", "connect_require_key_auth_test"}
WEBHOOK_FIELDS = {"id", "url", "signing_key_set", "created_at", "updated_at"}
OVERRIDE_FIELDS = {"id", "name", "app", "oauth_app_id", "cfmap", "owner_id", "created_at", "updated_at"}
TRIGGER_WEBHOOK_FIELDS = {
    "id",
    "url",
    "signing_key",
    "signing_key_set",
    "active",
    "delivery_backend",
    "delivery_state",
    "created_at",
    "updated_at",
}
USAGE_FIELDS = {
    "credits_used",
    "action_run_credits_used",
    "proxy_credits_used",
    "source_emit_credits_used",
    "usage_start_ts",
    "usage_end_ts",
}


def _projects(r: List[Any]) -> None:
    _page(r[0], 2, True)
    _ok(set(r[0]["data"][0]) == PROJECT_FIELDS and r[0]["data"][0]["id"] == pv.PROJECT_ID, r[0])
    _page(r[1], 1, False)
    _ok([p["name"] for p in r[2]["data"]] == ["Staging"], r[2])
    _status(r[3], 400)


def _project_webhooks(r: List[Any]) -> None:
    _ok(r[0] == {"data": None}, r[0])
    _ok(set(r[1]["data"]) == WEBHOOK_FIELDS | {"signing_key"}, r[1])  # created: with its signing key
    _ok(set(r[2]["data"]) == WEBHOOK_FIELDS, r[2])  # read back: never the key


def _validated(r: List[Any]) -> None:
    _ok(
        r[1]["success"] is True
        and r[1]["app"]["name_slug"] == "slack"
        and r[1]["project_id"] == pv.PROJECT_ID
        and r[1]["project_environment"] == "development"
        and r[1]["success_redirect_uri"] == "https://app.example.com/ok",
        r[1],
    )
    _ok(
        r[2]["success"] is True
        and r[2]["app"]["name_slug"] == "github"
        and r[2]["oauth_app_id"] == pv.GITHUB_OAUTH_APP,
        r[2],
    )
    _ok(r[3]["success"] is False and "does not belong" in r[3]["error"], r[3])
    _ok(r[4] == {"success": False, "error": "invalid connect token"}, r[4])


def _trigger_webhook(r: List[Any]) -> None:
    hook = r[0]["data"]
    _ok(set(hook) == TRIGGER_WEBHOOK_FIELDS and hook["id"] == pv.TRIGGER_1_WEBHOOK, hook)
    _ok(hook["delivery_state"]["state"] == "penalty" and hook["delivery_state"]["consecutive_failures"] == 4, hook)
    _ok(hook["signing_key"].startswith("whsec_") and isinstance(hook["created_at"], int), hook)
    _status(r[1], 404)


SHAPES.update(
    {
        "create_oauth_token": lambda r: (
            _ok(
                r[0]
                == r[1]
                == {"access_token": pv.ACCESS_TOKEN_PLACEHOLDER, "token_type": "Bearer", "expires_in": 3600},
                r,
            ),
            _ok(isinstance(r[2], PipedreamAuthError) and r[2].status_code == 401, r[2]),
        ),
        "get_apps_v2": _apps_v2,
        "get_app_facets_v2": lambda r: _facets(r[0], ("category_name", "auth_type")),
        "get_app_v2": lambda r: (
            _ok(r[0] == r[1] and r[0]["data"]["id"] == pv.SLACK_APP_ID, r),
            _ok(APP_DOCUMENT_FIELDS <= set(r[0]["data"]), r[0]),
            _status(r[2], 404),
        ),
        "get_components_v2": _components_v2,
        "get_component_facets_v2": lambda r: (
            _facets(r[0], ("component_type", "app_name_slug")),
            _ok(
                r[0]["data"]["component_type"] == [{"value": "action", "count": 6}, {"value": "source", "count": 3}], r
            ),
            _ok(r[1] == {"data": {"component_type": [], "app_name_slug": []}}, r[1]),
        ),
        "get_component_v2": lambda r: (
            _ok(r[0]["data"]["id"] == pv.SLACK_SEND_MESSAGE_V2 and r[0]["data"]["key"] == "slack-send-message", r[0]),
            _status(r[1], 404),
            _status(r[2], 404),
        ),
    }
)


SHAPES.update(
    {
        "get_projects": _projects,
        "create_project": lambda r: (
            _ok(set(r[0]) == PROJECT_FIELDS and r[0]["id"].startswith("proj_") and r[0]["app_name"] == "Acme", r[0]),
            _ok(r[1]["name"] == "Bare" and r[1]["app_name"] is None, r[1]),
            _status(r[2], 400),
        ),
        "get_project": lambda r: (
            _ok(r[0]["id"] == pv.PROJECT_ID and set(r[0]) == PROJECT_FIELDS, r[0]),
            _status(r[1], 404),
        ),
        "update_project": lambda r: (
            _ok(r[0]["name"] == "Staging EU" and r[0]["support_email"] == "ops@acme.example", r[0]),
            _ok(r[1]["connect_require_key_auth_test"] is False and r[1]["name"] == "Staging EU", r[1]),
            _status(r[2], 404),
        ),
        "delete_project": lambda r: (_ok(r[0] is None, r[0]), _status(r[1], 404)),
        "update_project_logo": lambda r: (_ok(r[0] is None, r[0]), _status(r[1], 400)),
        "get_project_webhook": _project_webhooks,
        "update_project_webhook": lambda r: (
            _ok("signing_key" in r[0]["data"], r[0]),
            _ok(
                "signing_key" not in r[1]["data"]
                and r[1]["data"]["url"].endswith("connect-v2")
                and r[1]["data"]["id"] == r[0]["data"]["id"],
                r[1],
            ),
            _status(r[2], 400),
        ),
        "delete_project_webhook": lambda r: (_ok(r[1] is None, r[1]), _status(r[2], 404)),
        "regenerate_project_webhook_signing_key": lambda r: (
            _status(r[0], 404),
            _ok(
                r[2]["data"]["signing_key"].startswith("whsec_")
                and r[2]["data"]["signing_key"] != r[1]["data"]["signing_key"],
                r[2],
            ),
        ),
        "get_usage": lambda r: (
            _ok(len(r[0]["data"]) == 3 and all(set(u) == USAGE_FIELDS for u in r[0]["data"]), r[0]),
            _ok(
                [(u["usage_start_ts"], u["usage_end_ts"]) for u in r[1]["data"]]
                == [(pv.USAGE_START + 3600, pv.USAGE_START + 7200)],
                r[1],
            ),
            _status(r[2], 400),
        ),
        "get_app_categories": lambda r: _ok(
            len(r[0]) >= 5
            and all(set(c) == {"id", "name", "description"} and c["id"].startswith("appcat_") for c in r[0]),
            r[0],
        ),
        "get_app_category": lambda r: (
            _ok(r[0]["id"] == "appcat_communication" and r[0]["name"] == "Communication", r[0]),
            _status(r[1], 404),
        ),
        "get_app_overrides": lambda r: (
            _page(r[0], 2, True),
            _ok(set(r[0]["data"][0]) == OVERRIDE_FIELDS, r[0]),
            _page(r[1], 1, False),
            _ok([o["app"]["name_slug"] for o in r[2]["data"]] == ["zendesk"], r[2]),
        ),
        "create_app_override": lambda r: (
            _ok(
                r[0]["id"].startswith("ao_")
                and r[0]["app"]["name_slug"] == "slack"
                and r[0]["oauth_app_id"] == pv.SLACK_OAUTH_APP
                and r[0]["cfmap"] == {"subdomain": "acme-eu"},
                r[0],
            ),
            _ok(r[1]["cfmap"] == {} and r[1]["oauth_app_id"] is None, r[1]),
            _status(r[2], 404),
        ),
        "get_app_override": lambda r: (
            _ok(set(r[0]) == OVERRIDE_FIELDS and r[0]["id"] == pv.APP_OVERRIDES[0], r[0]),
            _status(r[1], 404),
        ),
        "update_app_override": lambda r: (
            _ok(r[0]["name"] == "Acme Slack (renamed)" and r[0]["oauth_app_id"] == pv.SLACK_OAUTH_APP, r[0]),
            _ok(r[1]["oauth_app_id"] is None and r[1]["name"] == "Acme Slack (renamed)", r[1]),
            _status(r[2], 404),
        ),
        "delete_app_override": lambda r: (_ok(r[0] is None, r[0]), _status(r[1], 404)),
        "get_oauth_apps": lambda r: (
            _page(r[0], 1, True),
            _page(r[1], 1, False),
            _ok([a["name_slug"] for a in r[2]["data"]] == ["github"], r[2]),
            _ok([a["name_slug"] for a in r[3]["data"]] == ["slack"], r[3]),
        ),
        "create_oauth_app": lambda r: (
            _ok(
                r[0]["id"].startswith("oa_")
                and r[0]["name_slug"] == "notion"
                and r[0]["scopes"] == ["read_content"]
                and "client_secret" not in r[0]
                and r[0]["client_id"] == "notion-client-id",
                r[0],
            ),
            _status(r[1], 404),
        ),
        "get_oauth_app": lambda r: (
            _ok(
                r[0]["id"] == pv.SLACK_OAUTH_APP
                and {"client_id", "redirect_uri", "scopes", "name_slug"} <= set(r[0])
                and "client_secret" not in r[0],
                r[0],
            ),
            _status(r[1], 404),
        ),
        "update_oauth_app": lambda r: (
            _ok(r[0]["name"] == "GitHub (EU)" and r[0]["scopes"] == ["repo", "read:user"], r[0]),
            _ok(r[1]["description"] == r[0]["description"], r[1]),
            _status(r[2], 404),
        ),
        "delete_oauth_app": lambda r: (_ok(r[0] is None, r[0]), _status(r[1], 404)),
        "validate_connect_token": _validated,
        "get_users": lambda r: (
            _page(r[0], 2, True),
            _ok(r[0]["page_info"]["end_cursor"] == pv.USERS_PAGE_1_END, r[0]),
            _ok(set(r[0]["data"][0]) == {"id", "external_id", "created_at", "updated_at"}, r[0]),
            _page(r[1], 2, False),
            _ok([u["external_id"] for u in r[2]["data"]] == ["some-unique-user-id", "user-1", "user-2"], r[2]),
        ),
        "get_accounts_by_external_user": lambda r: (
            _ok(isinstance(r[0], list) and len(r[0]) == 4 and not any("credentials" in a for a in r[0]), r[0]),
            _ok(len(r[1]) == 1 and r[1][0]["id"] == pv.SLACK_ACCOUNT and "credentials" in r[1][0], r[1]),
            _ok(r[2] == [], r[2]),
        ),
        "create_account": lambda r: (
            _ok(
                r[1]["id"].startswith("apn_")
                and r[1]["name"] == "OpenAI"
                and r[1]["external_id"] == pv.USER
                and r[1]["app"]["name_slug"] == "openai"
                and "credentials" not in r[1],
                r[1],
            ),
            _ok(r[2]["app"]["name_slug"] == "stripe", r[2]),
            _status(r[3], 400),
            _status(r[4], 400),
        ),
        "download_file": lambda r: (_ok(r[0] == 22 and r[1] == 0, r), _status(r[2], 404)),
        "get_deployed_trigger_webhook": _trigger_webhook,
        "reset_deployed_trigger_webhook_delivery_state": lambda r: (
            _ok(
                r[0]["data"]["delivery_state"]
                == {
                    "state": "happy",
                    "since": r[0]["data"]["updated_at"],
                    "last_error": None,
                    "consecutive_failures": 0,
                    "sheds": 0,
                },
                r[0],
            ),
            _status(r[1], 404),
        ),
        "regenerate_deployed_trigger_webhook_signing_key": lambda r: (
            _ok(
                r[1]["data"]["signing_key"] == r[0]["data"]["signing_key"]
                and r[0]["data"]["signing_key"].startswith("whsec_"),
                r,
            ),
            _status(r[2], 404),
        ),
    }
)


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------

PIPEDREAM_CASSETTES = [
    pytest.param(name, marks=[pytest.mark.vcr, pytest.mark.default_cassette("pipedream/" + name)], id=name)
    for name in PIPEDREAM_METHODS
]


def test_there_is_one_cassette_and_scenario_per_method() -> None:
    assert len(README_METHODS) == 28 and len(NEW_METHODS) == 31 and len(NEWEST_METHODS) == 7
    assert len(set(PIPEDREAM_METHODS)) == len(PIPEDREAM_METHODS)
    assert sorted(pv.SCENARIOS) == sorted(PIPEDREAM_METHODS) == sorted(SHAPES)
    assert sorted(p.stem for p in pv.CASSETTE_DIR.glob("*.yaml")) == sorted(PIPEDREAM_METHODS)
    for name in PIPEDREAM_METHODS:
        assert hasattr(SyncPipedreamClient, name) and hasattr(PipedreamClient, name)
    # every public API method of the client has its cassette
    public = {
        n
        for n in dir(SyncPipedreamClient)
        if not n.startswith(("_", "iter_")) and callable(getattr(SyncPipedreamClient, n))
    } - {"close", "with_options"}
    assert public == set(PIPEDREAM_METHODS)


@pytest.mark.parametrize("name", PIPEDREAM_CASSETTES)
def test_sync_client_replays_cassette(name: str, cassette: Any) -> None:
    check_outcomes(name, run_sync(name, cassette), cassette)


@pytest.mark.parametrize("name", PIPEDREAM_CASSETTES)
def test_async_client_replays_cassette(name: str, cassette: Any) -> None:
    check_outcomes(name, run_async(name, cassette), cassette)


@pytest.mark.vcr
@pytest.mark.default_cassette("pipedream/get_component")
def test_async_calls_gathered_concurrently_replay_once_each(cassette: Any) -> None:
    """asyncio.gather runs the calls in several worker threads at once: one token request
    among them, each recorded call matched exactly once whatever the order."""
    steps = pv.SCENARIOS["get_component"]

    async def main() -> List[Any]:
        async with PipedreamClient(
            pv.TEST_CLIENT_ID, pv.TEST_CLIENT_SECRET, pv.PROJECT_ID, pv.ENVIRONMENT, max_retries=0
        ) as client:
            results = await asyncio.gather(
                *(getattr(client, s.method)(*s.args, **s.kwargs) for s in steps), return_exceptions=True
            )
            assert client.token_requests == 1
            return results

    results = asyncio.run(main())
    recorded = [i["response"] for i in interactions("get_component") if "/oauth/token" not in i["request"]["uri"]]
    assert results[:3] == [decoded(r) for r in recorded[:3]]
    assert isinstance(results[3], PipedreamApiError) and results[3].status_code == 404
    assert cassette.all_played


# ---------------------------------------------------------------------------------------------
# The recordings themselves carry the official wire format (docs/wire-decisions.md)
# ---------------------------------------------------------------------------------------------

P = r"/v1/connect/proj_[A-Za-z0-9]+"
DT = P + r"/deployed-triggers/[^/?]+"
P2 = r"/v2/connect/proj_[A-Za-z0-9]+"
OFFICIAL: Dict[str, Tuple[str, str]] = {
    "get_project_info": ("GET", P + r"/projects/info"),
    "get_apps": ("GET", r"/v1/connect/apps"),
    "get_app": ("GET", r"/v1/connect/apps/[^/?]+"),
    "create_connect_token": ("POST", P + r"/tokens"),
    "get_accounts": ("GET", P + r"/accounts"),
    "get_account_by_id": ("GET", P + r"/accounts/apn_[^/?]+"),
    "delete_account": ("DELETE", P + r"/accounts/apn_[^/?]+"),
    "delete_accounts_by_app": ("DELETE", P + r"/apps/[^/?]+/accounts"),
    "delete_external_user": ("DELETE", P + r"/users/[^/?]+"),
    "get_components": ("GET", P + r"/(components|actions|triggers)"),
    "get_component": ("GET", P + r"/(components|actions|triggers)/[^/?]+"),
    "configure_component": ("POST", P + r"/(components|actions|triggers)/configure"),
    "reload_component_props": ("POST", P + r"/(components|actions|triggers)/props"),
    "run_action": ("POST", P + r"/actions/run"),
    "deploy_trigger": ("POST", P + r"/triggers/deploy"),
    "get_deployed_triggers": ("GET", P + r"/deployed-triggers"),
    "get_deployed_trigger": ("GET", DT),
    "delete_deployed_trigger": ("DELETE", DT),
    "update_deployed_trigger": ("PUT", DT),
    "get_deployed_trigger_events": ("GET", DT + r"/events"),
    "get_deployed_trigger_webhooks": ("GET", DT + r"/webhooks"),
    "update_deployed_trigger_webhooks": ("PUT", DT + r"/webhooks"),
    "get_deployed_trigger_workflows": ("GET", DT + r"/pipelines"),
    "update_deployed_trigger_workflows": ("PUT", DT + r"/pipelines"),
    "create_rate_limit": ("POST", r"/v1/connect/rate_limits"),
    "make_proxy_request": ("(GET|POST|PUT|PATCH|DELETE)", P + r"/proxy/[A-Za-z0-9_-]+"),
    "get_projects": ("GET", r"/v1/connect/projects"),
    "create_project": ("POST", r"/v1/connect/projects"),
    "get_project": ("GET", r"/v1/connect/projects/proj_[^/?]+"),
    "update_project": ("PATCH", r"/v1/connect/projects/proj_[^/?]+"),
    "delete_project": ("DELETE", r"/v1/connect/projects/proj_[^/?]+"),
    "update_project_logo": ("POST", r"/v1/connect/projects/proj_[^/?]+/logo"),
    "get_project_webhook": ("GET", P + r"/webhook"),
    "update_project_webhook": ("PUT", P + r"/webhook"),
    "delete_project_webhook": ("DELETE", P + r"/webhook"),
    "regenerate_project_webhook_signing_key": ("POST", P + r"/webhook/regenerate_signing_key"),
    "get_usage": ("GET", r"/v1/connect/usage"),
    "get_app_categories": ("GET", r"/v1/connect/app_categories"),
    "get_app_category": ("GET", r"/v1/connect/app_categories/[^/?]+"),
    "get_app_overrides": ("GET", P + r"/app_overrides"),
    "create_app_override": ("POST", P + r"/app_overrides"),
    "get_app_override": ("GET", P + r"/app_overrides/ao_[^/?]+"),
    "update_app_override": ("PUT", P + r"/app_overrides/ao_[^/?]+"),
    "delete_app_override": ("DELETE", P + r"/app_overrides/ao_[^/?]+"),
    "get_oauth_apps": ("GET", P + r"/oauth_apps"),
    "create_oauth_app": ("POST", P + r"/oauth_apps"),
    "get_oauth_app": ("GET", P + r"/oauth_apps/oa_[^/?]+"),
    "update_oauth_app": ("PUT", P + r"/oauth_apps/oa_[^/?]+"),
    "delete_oauth_app": ("DELETE", P + r"/oauth_apps/oa_[^/?]+"),
    "validate_connect_token": ("GET", r"/v1/connect/tokens/ctok_[^/?]+/validate"),
    "get_users": ("GET", P + r"/users"),
    "get_accounts_by_external_user": ("GET", P + r"/users/[^/?]+/accounts"),
    "create_account": ("POST", P + r"/accounts"),
    "download_file": ("GET", P + r"/file_stash/download"),
    "get_deployed_trigger_webhook": ("GET", DT + r"/webhooks/[^/?]+"),
    "reset_deployed_trigger_webhook_delivery_state": ("POST", DT + r"/webhooks/[^/?]+/reset_delivery_state"),
    "regenerate_deployed_trigger_webhook_signing_key": ("POST", DT + r"/webhooks/[^/?]+/regenerate_signing_key"),
    "get_apps_v2": ("GET", P2 + r"/apps"),
    "get_app_facets_v2": ("GET", P2 + r"/apps/facets"),
    "get_app_v2": ("GET", P2 + r"/apps/[^/?]+"),
    "get_components_v2": ("GET", P2 + r"/components"),
    "get_component_facets_v2": ("GET", P2 + r"/components/facets"),
    "get_component_v2": ("GET", P2 + r"/components/[^/?]+"),
}
BOOLEAN_QUERY = {
    "include_credentials",
    "ignore_hook_errors",
    "has_actions",
    "has_components",
    "has_triggers",
    "has_private_components",
}
CAMEL_CASE_FIELDS = ("webhookUrl", "workflowId", "webhookUrls", "workflowIds", "externalUserId")


@pytest.mark.parametrize("name", PIPEDREAM_METHODS)
def test_recorded_requests_use_the_official_wire_format(name: str) -> None:
    recorded = interactions(name)
    own_calls = own_calls_official = 0
    for interaction in recorded:
        request = interaction["request"]
        uri, method, headers, body = request["uri"], request["method"], request["headers"], request["body"]
        if uri == pv.API_ORIGIN + "/v1/oauth/token" and name != "create_oauth_token":
            sent = json.loads(body)
            assert method == "POST" and list(sent) == ["client_id", "client_secret", "grant_type"]
            assert sent["client_secret"] in (pv.SECRET_PLACEHOLDER, pv.INVALID_SECRET_PLACEHOLDER)
            assert "Authorization" not in headers
            continue
        own_calls += 1
        if name == "create_oauth_token":  # the official body, key order included; no bearer token
            sent = json.loads(body)
            assert method == "POST" and uri == pv.API_ORIGIN + "/v1/oauth/token"
            assert list(sent) == [k for k in ("client_id", "client_secret", "scope", "grant_type") if k in sent]
            assert sent["grant_type"] == "client_credentials" and "Authorization" not in headers
            assert _header(headers, "x-pd-environment") == "development"
            own_calls_official += 1
        elif name.startswith("invoke_workflow"):
            assert uri.startswith(pv.WORKFLOW_ORIGIN + "/")
            assert "x-pd-environment" not in {h.lower() for h in headers} or name.endswith("external_user")
        else:
            assert uri.startswith(pv.API_ORIGIN + "/"), uri
            matches = [
                m
                for m, (verb, path) in OFFICIAL.items()
                if re.fullmatch(verb, method) and re.fullmatch(path + r"(\?.*)?", uri[len(pv.API_ORIGIN) :])
            ]
            assert matches, "not an official endpoint: %s %s" % (method, uri)
            own_calls_official += name in matches
            assert _header(headers, "x-pd-environment") == "development"
            assert _header(headers, "authorization") in (
                "Bearer " + pv.ACCESS_TOKEN_PLACEHOLDER,
                "Bearer " + pv.INVALID_TOKEN_PLACEHOLDER,
            )
            pairs = parse_qsl(uri.partition("?")[2])  # booleans as true/false only
            assert all(v in ("true", "false") for k, v in pairs if k in BOOLEAN_QUERY), uri
            assert not any(v in ("True", "False") for _, v in pairs), uri
        # Content-Type: exactly application/json, and only with a body.
        assert (_header(headers, "content-type") is not None) == (body is not None) or name == "invoke_workflow", uri
        if body is not None and name != "invoke_workflow":
            assert _header(headers, "content-type") == "application/json"
            assert not any('"%s"' % field in body for field in CAMEL_CASE_FIELDS), body
    # one request per step, but none when the token request fails, and two around a refresh
    steps = pv.SCENARIOS[name]
    assert own_calls == sum(0 if s.client == "bad_secret" else 2 if s.replica == "revoke_tokens" else 1 for s in steps)
    assert own_calls_official or name.startswith("invoke_workflow")


def test_list_queries_repeat_keys_and_spell_booleans_true_false() -> None:
    uris = [i["request"]["uri"] for i in interactions("get_apps")]
    assert any("category_ids=appcat_communication&category_ids=appcat_productivity" in u for u in uris)
    assert any("has_actions=true" in u and "has_triggers=false" in u for u in uris)
    accounts = [i["request"]["uri"] for i in interactions("get_accounts")]
    assert any("app=slack" in u and "include_credentials=true" in u for u in accounts)
    deleted = [i["request"]["uri"] for i in interactions("delete_external_user")]
    assert deleted[-1].endswith("/users/team%2Falice%20smith")  # one segment, fully percent-encoded


def test_camel_case_arguments_are_recorded_as_snake_case() -> None:
    deploy = [
        json.loads(i["request"]["body"])
        for i in interactions("deploy_trigger")
        if i["request"]["uri"].endswith("/triggers/deploy")
    ]
    assert deploy[0]["webhook_url"] == "https://app.example.com/hooks/slack" and deploy[0]["workflow_id"] == "p_abc123"
    hooks = [
        json.loads(i["request"]["body"])
        for i in interactions("update_deployed_trigger_webhooks")
        if i["request"]["method"] == "PUT"
    ]
    assert hooks[0] == {"webhook_urls": ["https://app.example.com/hooks/a"]}
    flows = [
        json.loads(i["request"]["body"])
        for i in interactions("update_deployed_trigger_workflows")
        if i["request"]["method"] == "PUT"
    ]
    assert flows[0] == {"workflow_ids": ["p_abc123"]}


def test_proxy_recordings_carry_the_base64url_target_and_prefixed_headers() -> None:
    import base64

    first = interactions("make_proxy_request")[1]["request"]
    encoded = first["uri"].split("/proxy/")[1].split("?")[0]
    assert "=" not in encoded  # padding stripped, as in the docs' example
    assert base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode() == pv.PROXY_POST["url"]
    assert first["uri"].endswith("?external_user_id=%s&account_id=%s" % (pv.USER, pv.SLACK_ACCOUNT))
    assert _header(first["headers"], "x-pd-proxy-X-Custom-Header") == "demo"
    assert json.loads(first["body"]) == pv.PROXY_POST["body"]


def test_token_responses_and_requests_hold_placeholders_only() -> None:
    for name in PIPEDREAM_METHODS:
        for interaction in interactions(name):
            if interaction["request"]["uri"].endswith("/v1/oauth/token"):
                body = decoded(interaction["response"])
                if interaction["response"]["status"]["code"] == 200:
                    assert body == {
                        "access_token": pv.ACCESS_TOKEN_PLACEHOLDER,
                        "token_type": "Bearer",
                        "expires_in": 3600,
                    }
                else:
                    assert body["error"] == "invalid_client"
            text = json.dumps(interaction)
            for secret in (
                pv.TEST_CLIENT_SECRET,
                pv.INVALID_CLIENT_SECRET,
                pv.INVALID_ACCESS_TOKEN,
                pv.WORKFLOW_STATIC_TOKEN,
                pv.OAUTH_APP_SECRET,
                pv.ACCOUNT_API_KEY,
                "pd_replica_",
                "127.0.0.1",
            ):
                assert secret not in text, (name, secret)


def test_pipedream_cassettes_are_reproducible_from_the_replica(tmp_path: Any) -> None:
    """Recording again from the replica gives byte-identical files (fixed clock, fixed ids,
    no volatile header), so a re-recording shows only real changes."""
    import filecmp

    import record_pipedream_cassettes

    record_pipedream_cassettes.record(tmp_path, pv.SCENARIOS, log=lambda line: None)
    names = sorted(p.name for p in tmp_path.glob("*.yaml"))
    assert len(names) == len(PIPEDREAM_METHODS) == 66
    _, mismatch, errors = filecmp.cmpfiles(str(tmp_path), str(pv.CASSETTE_DIR), names, shallow=False)
    assert not mismatch and not errors, "re-record with: python tests/record_pipedream_cassettes.py"


# =============================================================================================
# No secret under cassettes/
# =============================================================================================


_VALUE = r"""["']?\s*[:=]\s*["']?(?P<value>[^"'\s,&}\]\\]+)"""
PATTERNS = [
    ("bearer token", re.compile(r"\bBearer\s+(?P<value>[A-Za-z0-9._~+/=-]{12,})")),
    ("client_secret", re.compile(r"client_secret" + _VALUE, re.IGNORECASE)),
    ("access_token", re.compile(r"access_token" + _VALUE, re.IGNORECASE)),
    ("refresh_token", re.compile(r"refresh_token" + _VALUE, re.IGNORECASE)),
]
CREDENTIAL_HEADERS = {
    "authorization",
    "x-altan-key",
    "x-api-key",
    "proxy-authorization",
    "cookie",
    "x-pd-client-secret",
}
_PLACEHOLDER = re.compile(
    r"<[A-Za-z0-9_ .:-]+>|\[?(REDACTED|FILTERED|SCRUBBED|PLACEHOLDER|DUMMY)[A-Z_]*\]?|\*+|null|None", re.IGNORECASE
)


def _vcr_settings_modules() -> List[Any]:
    """The recorders' settings modules (tests/altan_vcr.py, tests/pipedream_vcr.py if present)."""
    modules = []
    for name in ("altan_vcr", "pipedream_vcr"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            pass
    return modules


def declared_placeholders() -> Set[str]:
    """The placeholder values the recorders declare (``*_PLACEHOLDER`` constants), e.g.
    ``<ALTAN_API_KEY>`` or Pipedream's ``test-access-token``."""
    return {
        v
        for m in _vcr_settings_modules()
        for k, v in vars(m).items()
        if k.isupper() and k.endswith("PLACEHOLDER") and isinstance(v, str)
    }


def is_placeholder(value: str, placeholders: Iterable[str] = ()) -> bool:
    value = value.strip().strip("'\"")
    placeholders = set(placeholders) or declared_placeholders()
    if value in placeholders or _PLACEHOLDER.fullmatch(value):
        return True
    scheme, _, rest = value.partition(" ")  # "Bearer <TOKEN>", "Basic <CREDENTIALS>"
    rest = rest.strip()
    return bool(rest) and scheme.isalpha() and (rest in placeholders or bool(_PLACEHOLDER.fullmatch(rest)))


def known_secrets() -> List[str]:
    """Credentials the recorders use (constants named *KEY*, *SECRET*, *TOKEN* that are not
    placeholders) and real ones from the environment."""
    placeholders = declared_placeholders()
    secrets = []
    for module in _vcr_settings_modules():
        for name, value in vars(module).items():
            credential = any(word in name for word in ("KEY", "SECRET", "TOKEN"))
            if (
                name.isupper()
                and credential
                and not name.endswith("PLACEHOLDER")
                and isinstance(value, str)
                and len(value) >= 8
                and value not in placeholders
            ):
                secrets.append(value)
    for name in ("ALTAN_API_KEY", "PIPEDREAM_CLIENT_SECRET", "PD_CLIENT_SECRET"):
        value = os.environ.get(name)
        if value and len(value) >= 8:
            secrets.append(value)
    return secrets


def findings_in_text(text: str, secrets: Iterable[str] = ()) -> List[Tuple[str, str]]:
    found = [("known secret", s) for s in secrets if s in text]
    for label, pattern in PATTERNS:
        for match in pattern.finditer(text):
            if not is_placeholder(match.group("value")):
                found.append((label, match.group("value")))
    return found


def findings_in_cassette(text: str) -> List[Tuple[str, str]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    found = []
    for interaction in (data or {}).get("interactions", []) if isinstance(data, dict) else []:
        for name, values in (interaction.get("request", {}).get("headers") or {}).items():
            if name.lower() in CREDENTIAL_HEADERS:
                for value in values if isinstance(values, list) else [values]:
                    if not is_placeholder(str(value)):
                        found.append(("%s header" % name, str(value)))
    return found


def cassette_files() -> List[pathlib.Path]:
    return sorted(p for p in CASSETTES.rglob("*") if p.is_file())


def test_there_are_cassettes_to_scan() -> None:
    assert len([p for p in cassette_files() if p.suffix in (".yaml", ".yml")]) >= 5


@pytest.mark.parametrize("path", cassette_files(), ids=lambda p: str(p.relative_to(CASSETTES)))
def test_no_secret_in_cassette_file(path: pathlib.Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    found = findings_in_text(text, known_secrets())
    if path.suffix in (".yaml", ".yml"):
        found += findings_in_cassette(text)
    assert not found, "unscrubbed secrets in %s: %s" % (path.relative_to(ROOT), [(k, v[:6] + "...") for k, v in found])


# -- the scanner itself must catch what it is meant to catch --------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Authorization:\n      - Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig\n",
        '{"access_token": "pd_live_8f3a9c2e1b7d4a6f", "token_type": "Bearer"}',
        "client_secret=s3cr3t-value-123&grant_type=client_credentials",
        '\'{"client_id": "abc", "client_secret":\n        "0123456789abcdef"}\'',
        "refresh_token: r-abcdef123456",
        "X-Altan-Key: " + TEST_API_KEY,
    ],
)
def test_the_scanner_flags_secrets(text: str) -> None:
    assert findings_in_text(text, [TEST_API_KEY])


def test_the_recorders_keys_are_known_secrets() -> None:
    from altan_vcr import INVALID_API_KEY

    assert {TEST_API_KEY, INVALID_API_KEY} <= set(known_secrets())
    assert not set(known_secrets()) & declared_placeholders()


@pytest.mark.parametrize(
    "text",
    [
        "Authorization:\n      - Bearer <ALTAN_API_KEY>\n",
        '{"access_token": "<ACCESS_TOKEN>", "token_type": "Bearer", "expires_in": 3600}',
        "client_secret=REDACTED&grant_type=client_credentials",
        '"client_secret": "<PIPEDREAM_CLIENT_SECRET>"',
        "the access_token value is scrubbed",
    ],
)
def test_the_scanner_accepts_placeholders(text: str) -> None:
    assert findings_in_text(text, [TEST_API_KEY]) == []


def test_the_scanner_checks_credential_headers_in_cassettes() -> None:
    cassette = yaml.safe_dump(
        {
            "interactions": [
                {"request": {"headers": {"X-Altan-Key": ["short-key"], "Authorization": ["Bearer <ALTAN_API_KEY>"]}}},
                {"request": {"headers": {"x-api-key": ["<KEY>"], "Authorization": ["Basic dXNlcjpwYXNz"]}}},
            ]
        }
    )
    assert findings_in_cassette(cassette) == [
        ("X-Altan-Key header", "short-key"),
        ("Authorization header", "Basic dXNlcjpwYXNz"),
    ]
