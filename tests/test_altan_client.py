"""The Altan client's handling of bad input and its life cycle, against the replica.

Bad input must raise a clear error before any network I/O: each test checks that the replica
saw no new connection and no new request. Ids are percent-encoded as exactly one path
segment: the tests check what the replica received.
"""

from __future__ import annotations

import asyncio
import collections
import math
import types
from typing import Any, Callable, Iterator, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from altan import AltanActionError, AltanActionsClient, AsyncAltanActionsClient
from altan_vcr import TEST_API_KEY

PREFIX = "/integration"


@pytest.fixture
def client(altan_replica: Any) -> Iterator[AltanActionsClient]:
    with AltanActionsClient(TEST_API_KEY, altan_replica.base_url, max_retries=0) as c:
        yield c


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class Untouched:
    """Asserts that the replica saw no new connection and no new request in the block."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def __enter__(self) -> "Untouched":
        self.requests, self.connections = self.server.request_count, self.server.connection_count
        return self

    def __exit__(self, *exc: Any) -> None:
        assert (self.server.request_count, self.server.connection_count) == (self.requests, self.connections), (
            "bad input reached the network"
        )


def call_both(altan_replica: Any, call: Callable[[Any], Any]) -> List[BaseException]:
    """Run ``call(client)`` with a sync and an async client; return the two exceptions."""
    errors: List[BaseException] = []
    with AltanActionsClient(TEST_API_KEY, altan_replica.base_url, max_retries=0) as sync_client:
        try:
            call(sync_client)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    async def async_call() -> None:
        async with AsyncAltanActionsClient(TEST_API_KEY, altan_replica.base_url, max_retries=0) as async_client:
            try:
                await call(async_client)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    run(async_call())
    return errors


# ---------------------------------------------------------------------------------------------
# API key
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["", "   ", "\t\n", None, 123, b"bytes-key", ["key"], "key\nInjected: 1", "key\r", "key\x00"], ids=repr
)
@pytest.mark.parametrize("cls", [AltanActionsClient, AsyncAltanActionsClient])
def test_a_bad_api_key_is_refused_at_construction(altan_replica: Any, cls: type, key: Any) -> None:
    with Untouched(altan_replica), pytest.raises(ValueError, match="api_key"):
        cls(key, altan_replica.base_url)


def test_an_api_key_that_cannot_be_sent_is_refused_at_construction(altan_replica: Any) -> None:
    with Untouched(altan_replica):
        with pytest.raises(ValueError, match="api_key"):
            client = AltanActionsClient("key\u2014with-an-em-dash", altan_replica.base_url, max_retries=0)
            try:
                client.list_connections()
            finally:
                client.close()


# ---------------------------------------------------------------------------------------------
# Ids
# ---------------------------------------------------------------------------------------------

ID_CALLS = {
    "get_connection": lambda bad: lambda c: c.get_connection(bad),
    "list_action_types": lambda bad: lambda c: c.list_action_types(bad),
    "get_action_type(cid)": lambda bad: lambda c: c.get_action_type(bad, "send-email"),
    "get_action_type(aid)": lambda bad: lambda c: c.get_action_type("abc123", bad),
    "execute_action(cid)": lambda bad: lambda c: c.execute_action(bad, "send-email", {}),
    "execute_action(aid)": lambda bad: lambda c: c.execute_action("abc123", bad, {}),
}


@pytest.mark.parametrize("bad", ["", " ", "\t", None, 42, ["abc123"], ".", ".."], ids=repr)
@pytest.mark.parametrize("method", list(ID_CALLS))
def test_a_bad_id_is_refused_before_any_request(altan_replica: Any, method: str, bad: Any) -> None:
    with Untouched(altan_replica):
        errors = call_both(altan_replica, ID_CALLS[method](bad))
    assert len(errors) == 2
    for error in errors:
        assert isinstance(error, ValueError), error
        assert ("connection_id" if "cid" in method or "(" not in method else "action_type_id") in str(error)


ENCODED = [
    ("a/b", "a%2Fb"),
    ("a?b=1", "a%3Fb%3D1"),
    ("a#frag", "a%23frag"),
    ("a b", "a%20b"),
    ("../../etc/passwd", "..%2F..%2Fetc%2Fpasswd"),
    ("..%2F..", "..%252F.."),
    ("%2e%2e", "%252e%252e"),
    ("...", "..."),
    (".hidden", ".hidden"),
    ("a/../b", "a%2F..%2Fb"),
    ("caf\u00e9", "caf%C3%A9"),
    ("a+b&c;d", "a%2Bb%26c%3Bd"),
    ("tab\there", "tab%09here"),
]


@pytest.mark.parametrize("raw, encoded", ENCODED, ids=[e[1] for e in ENCODED])
def test_an_id_travels_as_one_percent_encoded_segment(
    altan_replica: Any, client: AltanActionsClient, raw: str, encoded: str
) -> None:
    with pytest.raises(AltanActionError) as caught:
        client.get_connection(raw)
    assert caught.value.status_code == 404 and caught.value.detail == "Connection not found"
    received = altan_replica.last_request
    assert received.target == PREFIX + "/connection/" + encoded
    assert received.segments == ["connection", raw]  # one segment, decoded back to the id
    assert caught.value.url == altan_replica.base_url + "/connection/" + encoded


@pytest.mark.parametrize("raw, encoded", ENCODED[:6], ids=[e[1] for e in ENCODED[:6]])
def test_both_ids_of_execute_travel_as_one_segment_each(
    altan_replica: Any, client: AltanActionsClient, raw: str, encoded: str
) -> None:
    with pytest.raises(AltanActionError):
        client.execute_action(raw, raw, {"k": "v"})
    received = altan_replica.last_request
    assert received.method == "POST"
    assert received.target == PREFIX + "/connection/%s/actions/%s/execute" % (encoded, encoded)
    assert received.segments == ["connection", raw, "actions", raw, "execute"]
    assert received.json() == {"payload": {"k": "v"}}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(
        lambda s: s.strip() and s not in (".", "..")
    )
)
def test_any_id_arrives_as_exactly_one_segment(altan_replica: Any, client: AltanActionsClient, raw: str) -> None:
    with pytest.raises(AltanActionError):
        client.get_action_type("abc123", raw) if raw != "send-email" else client.get_action_type(raw, raw)
    received = altan_replica.last_request
    assert received.segments[:2] in (["connection", "abc123"], ["connection", raw])
    assert received.segments[2:] == ["actions", raw]


# ---------------------------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------------------------


def circular() -> dict:
    value: dict = {"a": 1}
    value["self"] = value
    return value


def deeply_nested() -> dict:
    value: dict = {}
    for _ in range(100_000):
        value = {"x": value}
    return value


NOT_JSON = {
    "object": {"x": object()},
    "nan": {"x": math.nan},
    "infinity": {"x": -math.inf},
    "circular": circular(),
    "set": {"x": {1, 2}},
    "bytes": {"x": b"raw"},
    "tuple-key": {("a", "b"): 1},
    "deeply-nested": deeply_nested(),
}


@pytest.mark.parametrize("name", list(NOT_JSON))
def test_a_payload_that_is_not_json_is_refused_before_any_request(altan_replica: Any, name: str) -> None:
    payload = NOT_JSON[name]
    with Untouched(altan_replica):
        errors = call_both(altan_replica, lambda c: c.execute_action("abc123", "send-email", payload))
    assert len(errors) == 2
    for error in errors:
        assert type(error) is ValueError and "not JSON-serialisable" in str(error), repr(error)


@pytest.mark.parametrize("payload", [object(), ["to", "x"], "to=x", 42, 1.5, True, b"{}", ("a",)], ids=repr)
def test_a_payload_that_is_not_a_mapping_is_refused_before_any_request(altan_replica: Any, payload: Any) -> None:
    with Untouched(altan_replica):
        errors = call_both(altan_replica, lambda c: c.execute_action("abc123", "send-email", payload))
    assert len(errors) == 2
    for error in errors:
        assert type(error) is ValueError and "payload must be a mapping" in str(error), repr(error)


@pytest.mark.parametrize(
    "payload, sent",
    [
        (None, {}),
        (types.MappingProxyType({"to": "x"}), {"to": "x"}),
        (collections.OrderedDict(to="x", subject="s"), {"to": "x", "subject": "s"}),
        ({"text": "h\u00e9llo \u2603", "n": 1, "f": 0.5, "l": [None, True]}, None),
    ],
)
def test_mappings_are_sent_as_the_payload_object(
    altan_replica: Any, client: AltanActionsClient, payload: Any, sent: Any
) -> None:
    try:
        client.execute_action("connection-id", "action-type-id", payload)
    except AltanActionError as error:
        assert error.status_code == 422  # the replica checks the parameters; what it received matters here
    received = altan_replica.last_request
    assert received.headers["content-type"] == "application/json"
    assert received.json() == {"payload": payload if sent is None else sent}


# ---------------------------------------------------------------------------------------------
# Life cycle and repr
# ---------------------------------------------------------------------------------------------


def test_with_closes_the_client_and_use_after_close_raises(altan_replica: Any) -> None:
    with AltanActionsClient(TEST_API_KEY, altan_replica.base_url) as client:
        assert client.list_connections()["data"]
    with Untouched(altan_replica), pytest.raises(RuntimeError, match="closed"):
        client.list_connections()
    client.close()  # idempotent
    with Untouched(altan_replica), pytest.raises(RuntimeError, match="closed"):
        client.execute_action("abc123", "send-email", {"to": "a", "subject": "b", "body": "c"})


def test_close_then_use_raises(altan_replica: Any) -> None:
    client = AltanActionsClient(TEST_API_KEY, altan_replica.base_url)
    client.get_connection("abc123")
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.get_connection("abc123")


def test_async_with_closes_the_client_and_use_after_close_raises(altan_replica: Any) -> None:
    async def main() -> None:
        async with AsyncAltanActionsClient(TEST_API_KEY, altan_replica.base_url) as client:
            assert (await client.get_connection("abc123"))["id"] == "abc123"
        with Untouched(altan_replica):
            with pytest.raises(RuntimeError, match="closed"):
                await client.list_connections()
            with pytest.raises(RuntimeError, match="closed"):
                await client.execute_action("abc123", "send-email", {})
        await client.close()  # idempotent

    run(main())


def test_async_close_lets_four_started_calls_finish_on_the_replica(altan_replica: Any) -> None:
    async def main() -> List[Any]:
        client = AsyncAltanActionsClient(TEST_API_KEY, altan_replica.base_url)
        tasks = [asyncio.ensure_future(client.get_connection("abc123")) for _ in range(4)]
        await asyncio.sleep(0)  # let the calls start
        await client.close()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = run(main())
    assert [r["id"] for r in results] == ["abc123"] * 4


@pytest.mark.parametrize("cls", [AltanActionsClient, AsyncAltanActionsClient])
def test_repr_shows_the_base_url_and_never_the_key(altan_replica: Any, cls: type) -> None:
    client = cls(TEST_API_KEY, altan_replica.base_url)
    try:
        for text in (
            repr(client),
            str(client),
            "%r" % client,
            "{}".format(client),
            repr(client.with_options(timeout=5)),
        ):
            assert TEST_API_KEY not in text
            assert altan_replica.base_url in text
    finally:
        if cls is AltanActionsClient:
            client.close()
        else:
            run(client.close())


def test_errors_never_show_the_key(altan_replica: Any) -> None:
    with AltanActionsClient(TEST_API_KEY, altan_replica.base_url + "/" + TEST_API_KEY, max_retries=0) as client:
        with pytest.raises(AltanActionError) as caught:
            client.list_connections()  # the key is even in the URL here
    error = caught.value
    assert error.status_code == 404
    for text in (str(error), repr(error), str(error.args)):
        assert TEST_API_KEY not in text


def test_a_custom_header_replaces_the_default_of_the_same_name(altan_replica: Any) -> None:
    with AltanActionsClient(TEST_API_KEY, altan_replica.base_url, headers={"accept": "application/vnd.x+json"}) as c:
        c.list_connections()
    accept = [v for k, v in altan_replica.last_request.raw_headers if k.lower() == "accept"]
    assert accept == ["application/vnd.x+json"]
