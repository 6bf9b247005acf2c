"""Hostile input, property-based (hypothesis, derandomized: the same examples on every run).

* Every id that goes into a path, of both modules, and every query parameter of the Pipedream
  client: an arbitrary string (any Unicode, surrogates, controls, ``/``, ``?``, ``#``, ``%``,
  ``.``/``..``, blanks) is either refused with ``ValueError`` before any I/O (the server sees no
  new request and no new connection), or sent percent-encoded so that the server sees exactly
  one path segment that decodes to the string, and exactly that query value.
* An id carried in a header (``external_user_id`` of a workflow call) is refused before any
  I/O when it cannot be sent as a header value (line breaks, NUL, characters beyond Latin-1)
  instead of failing half-way through a request.
* Arbitrary response bodies (bytes, text, JSON of any shape, deeply nested, huge, invalid
  UTF-8, numbers Python refuses) with any status: a 2xx gives the documented result (the
  parsed JSON; ``{}``/``None`` when empty) or the module's error class ("expected JSON");
  an error status gives the module's error class with that status and a bounded message.
  Never another exception.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reliability import ALTAN_KEY, PD_CLIENT_ID, PD_PROJECT, PD_SECRET, Api, as_pipedream
from servers import Response

import altan
import pipedream
from pipedream import PipedreamAuthError

SETTINGS = dict(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

TRICKY = [
    ".",
    "..",
    "",
    " ",
    "\t",
    "a/b",
    "../x",
    "%2F",
    "%",
    "%zz",
    "?x=1&y=2",
    "#frag",
    "a b+c",
    "\r\nX-Evil: 1",
    "\x00",
    "é",
    "€",
    "💥",
    "\ud800",
    "a\udfffb",
    "/",
    "//",
    "\\",
    "C:\\x",
    "~user",
    ";a=b",
    "*",
    "\u202e",
    "\ufeff",
    "x" * 2000,
]
IDS = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=40),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()), max_size=12),
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


class Untouched:
    """The server saw no new request and no new connection inside the block."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def __enter__(self) -> "Untouched":
        self.before = (self.server.count(), len(self.server.connections))
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is _Sent:
            return
        assert (self.server.count(), len(self.server.connections)) == self.before, "bad input reached the network"


def sent_or_refused(server: Any, call: Callable[[], Any]) -> Optional[Any]:
    """Run ``call``: None if it raised ValueError without I/O, else the request the server got."""
    before = server.count()
    try:
        with Untouched(server):
            try:
                call()
            except ValueError:
                raise
            except Exception:  # noqa: BLE001 - not a ValueError: the request went out, checked below
                pass
            raise _Sent()
    except ValueError:
        return None
    except _Sent:
        pass
    assert server.count() == before + 1
    return server.requests[-1]


class _Sent(Exception):
    """Leaves the ``Untouched`` block of a call that did not raise ValueError, unchecked."""


# ---------------------------------------------------------------------------------------------
# Ids in paths
# ---------------------------------------------------------------------------------------------

V = object()  # where the value goes in the expected segments

ALTAN_PATH_IDS: Dict[str, Tuple[Callable[[Any, str], Any], List[Any]]] = {
    "get_connection": (lambda c, v: c.get_connection(v), ["connection", V]),
    "list_action_types": (lambda c, v: c.list_action_types(v), ["connection", V, "actions"]),
    "get_action_type.connection_id": (lambda c, v: c.get_action_type(v, "a1"), ["connection", V, "actions", "a1"]),
    "get_action_type.action_type_id": (lambda c, v: c.get_action_type("c1", v), ["connection", "c1", "actions", V]),
    "execute_action.connection_id": (
        lambda c, v: c.execute_action(v, "a1", {}),
        ["connection", V, "actions", "a1", "execute"],
    ),
    "execute_action.action_type_id": (
        lambda c, v: c.execute_action("c1", v, {}),
        ["connection", "c1", "actions", V, "execute"],
    ),
}
PROJECT = ["v1", "connect", PD_PROJECT]
PIPEDREAM_PATH_IDS: Dict[str, Tuple[Callable[[Any, str], Any], List[Any]]] = {
    "get_app": (lambda c, v: c.get_app(v), ["v1", "connect", "apps", V]),
    "get_account_by_id": (lambda c, v: c.get_account_by_id(v), PROJECT + ["accounts", V]),
    "delete_account": (lambda c, v: c.delete_account(v), PROJECT + ["accounts", V]),
    "delete_accounts_by_app": (lambda c, v: c.delete_accounts_by_app(v), PROJECT + ["apps", V, "accounts"]),
    "delete_external_user": (lambda c, v: c.delete_external_user(v), PROJECT + ["users", V]),
    "get_component": (lambda c, v: c.get_component("actions", v), PROJECT + ["actions", V]),
    "get_deployed_trigger": (lambda c, v: c.get_deployed_trigger(v, "u1"), PROJECT + ["deployed-triggers", V]),
    "update_deployed_trigger": (
        lambda c, v: c.update_deployed_trigger(v, "u1", active=True),
        PROJECT + ["deployed-triggers", V],
    ),
    "delete_deployed_trigger": (lambda c, v: c.delete_deployed_trigger(v, "u1"), PROJECT + ["deployed-triggers", V]),
    "get_deployed_trigger_events": (
        lambda c, v: c.get_deployed_trigger_events(v, "u1"),
        PROJECT + ["deployed-triggers", V, "events"],
    ),
    "update_deployed_trigger_webhooks": (
        lambda c, v: c.update_deployed_trigger_webhooks(v, "u1", ["https://x.example"]),
        PROJECT + ["deployed-triggers", V, "webhooks"],
    ),
    "update_deployed_trigger_workflows": (
        lambda c, v: c.update_deployed_trigger_workflows(v, "u1", ["p_1"]),
        PROJECT + ["deployed-triggers", V, "pipelines"],
    ),
}


def check_segments(request: Any, expected: List[Any], value: str) -> None:
    raw = request.path.split("/")[1:]
    assert len(raw) == len(expected), (request.path, expected)  # exactly one segment for the value
    for segment, want in zip(raw, expected):
        assert unquote(segment, errors="strict") == (value if want is V else want)


@pytest.fixture(scope="module")
def servers_and_clients():
    from servers import Server

    altan_server, pipedream_server = Server().start(), Server().start()
    as_pipedream(pipedream_server)
    clients = {
        "altan": altan.AltanActionsClient(ALTAN_KEY, altan_server.url, max_retries=0, proxy=False),
        "pipedream": pipedream.SyncPipedreamClient(
            PD_CLIENT_ID,
            PD_SECRET,
            PD_PROJECT,
            "development",
            base_url=pipedream_server.url,
            max_retries=0,
            proxy=False,
            workflow_domain="127.0.0.1",
        ),
    }
    clients["pipedream"].get_project_info()  # the token: later examples make one request each
    yield {"altan": altan_server, "pipedream": pipedream_server}, clients
    for client in clients.values():
        client.close()
    altan_server.stop()
    pipedream_server.stop()


@pytest.mark.parametrize("name", list(ALTAN_PATH_IDS))
@settings(**SETTINGS)
@given(value=IDS)
def test_altan_ids_are_refused_or_sent_as_exactly_one_segment(servers_and_clients, name, value):
    servers, clients = servers_and_clients
    call, expected = ALTAN_PATH_IDS[name]
    request = sent_or_refused(servers["altan"], lambda: call(clients["altan"], value))
    if request is None:
        assert not value.strip() or value in (".", "..") or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    else:
        check_segments(request, expected, value)


@pytest.mark.parametrize("name", list(PIPEDREAM_PATH_IDS))
@settings(**SETTINGS)
@given(value=IDS)
def test_pipedream_ids_are_refused_or_sent_as_exactly_one_segment(servers_and_clients, name, value):
    servers, clients = servers_and_clients
    call, expected = PIPEDREAM_PATH_IDS[name]
    request = sent_or_refused(servers["pipedream"], lambda: call(clients["pipedream"], value))
    if request is None:
        assert not value.strip() or value in (".", "..") or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    else:
        check_segments(request, expected, value)


@settings(**dict(SETTINGS, max_examples=40))
@given(value=IDS)
def test_the_pipedream_project_id_is_refused_or_one_segment(servers_and_clients, value):
    servers, _ = servers_and_clients
    server = servers["pipedream"]
    try:
        client = pipedream.SyncPipedreamClient(
            PD_CLIENT_ID,
            PD_SECRET,
            value,
            "development",
            base_url=server.url,
            max_retries=0,
            proxy=False,
            access_token="tok-static-hostile",
        )
    except ValueError:
        assert not value.strip() or value in (".", "..") or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
        return
    server.tokens.live.add("tok-static-hostile")
    with client:
        request = sent_or_refused(server, client.get_project_info)
    assert request is not None
    if value == "":  # with an access token (a Connect token), no project: no project segment
        assert request.path == "/v1/connect/projects/info"
        return
    check_segments(request, ["v1", "connect", V, "projects", "info"], value)


# ---------------------------------------------------------------------------------------------
# Query parameters
# ---------------------------------------------------------------------------------------------

QUERY_PARAMS: Dict[str, Tuple[Callable[[Any, str], Any], str]] = {
    "get_apps.q": (lambda c, v: c.get_apps(q=v), "q"),
    "get_apps.after": (lambda c, v: c.get_apps(after=v), "after"),
    "get_apps.before": (lambda c, v: c.get_apps(before=v), "before"),
    "get_apps.sort_key": (lambda c, v: c.get_apps(sort_key=v), "sort_key"),
    "get_apps.sort_direction": (lambda c, v: c.get_apps(sort_direction=v), "sort_direction"),
    "get_apps.category_ids": (lambda c, v: c.get_apps(category_ids=[v]), "category_ids"),
    "get_accounts.external_user_id": (lambda c, v: c.get_accounts(external_user_id=v), "external_user_id"),
    "get_accounts.app_filter": (lambda c, v: c.get_accounts(app_filter=v), "app"),
    "get_accounts.oauth_app_id": (lambda c, v: c.get_accounts(oauth_app_id=v), "oauth_app_id"),
    "get_accounts.after": (lambda c, v: c.get_accounts(after=v), "after"),
    "get_components.app_filter": (lambda c, v: c.get_components("actions", app_filter=v), "app"),
    "get_components.search_query": (lambda c, v: c.get_components("triggers", search_query=v), "q"),
    "get_components.registry": (lambda c, v: c.get_components("components", registry=v), "registry"),
    "get_component.version": (lambda c, v: c.get_component("actions", "k1", version=v), "version"),
    "get_deployed_triggers.external_user_id": (lambda c, v: c.get_deployed_triggers(v), "external_user_id"),
    "get_deployed_triggers.emitter_type": (lambda c, v: c.get_deployed_triggers("u1", emitter_type=v), "emitter_type"),
    "get_deployed_trigger.external_user_id": (lambda c, v: c.get_deployed_trigger("dc_1", v), "external_user_id"),
    "delete_deployed_trigger.external_user_id": (lambda c, v: c.delete_deployed_trigger("dc_1", v), "external_user_id"),
    "update_deployed_trigger.external_user_id": (
        lambda c, v: c.update_deployed_trigger("dc_1", v, name="n"),
        "external_user_id",
    ),
    "get_deployed_trigger_webhooks.external_user_id": (
        lambda c, v: c.get_deployed_trigger_webhooks("dc_1", v),
        "external_user_id",
    ),
    "make_proxy_request.external_user_id": (
        lambda c, v: c.make_proxy_request(
            {"external_user_id": v, "account_id": "apn_1"}, {"url": "https://slack.com/api/x"}
        ),
        "external_user_id",
    ),
    "make_proxy_request.account_id": (
        lambda c, v: c.make_proxy_request(
            {"external_user_id": "u1", "account_id": v}, {"url": "https://slack.com/api/x"}
        ),
        "account_id",
    ),
}
REQUIRED = {name for name in QUERY_PARAMS if name.endswith(".external_user_id") or name.startswith("make_proxy")} - {
    "get_accounts.external_user_id"
}  # blank is refused for these


@pytest.mark.parametrize("name", list(QUERY_PARAMS))
@settings(**dict(SETTINGS, max_examples=40))
@given(value=IDS)
def test_pipedream_query_values_are_refused_or_arrive_exactly(servers_and_clients, name, value):
    servers, clients = servers_and_clients
    call, key = QUERY_PARAMS[name]
    request = sent_or_refused(servers["pipedream"], lambda: call(clients["pipedream"], value))
    if request is None:
        assert (name in REQUIRED and not value.strip()) or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
        return
    query = (
        parse_qs(request.query, keep_blank_values=True, strict_parsing=True, errors="strict") if request.query else {}
    )
    assert query.get(key) == [value], (request.query, key, value)


# ---------------------------------------------------------------------------------------------
# An id carried in a header
# ---------------------------------------------------------------------------------------------


@settings(**SETTINGS)
@given(value=IDS)
def test_a_header_borne_id_is_refused_before_io_or_sent(servers_and_clients, value):
    servers, clients = servers_and_clients
    server = servers["pipedream"]
    url = server.url + "/wf/hook"
    request = sent_or_refused(server, lambda: clients["pipedream"].invoke_workflow_for_external_user(url, value))
    unsendable = any(ch in value for ch in "\r\n\0") or any(ord(ch) > 0xFF for ch in value)
    if request is None:
        assert unsendable or not value.strip()
    else:
        assert not unsendable
        # Whitespace around a header value does not survive HTTP (the server strips it).
        assert request.headers["x-pd-external-user-id"] == value.strip()


# ---------------------------------------------------------------------------------------------
# Arbitrary response bodies
# ---------------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
BODIES = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(
            ["detail", "error", "error_description", "message", "msg", "success", "data", "status", "result"]
        ),
        JSON_VALUES,
        max_size=4,
    ).map(lambda v: json.dumps(v).encode()),
)
CONTENT_TYPES = st.sampled_from(["application/json", "text/plain", "text/html", "application/octet-stream", ""])
STATUSES = st.sampled_from([200, 201, 202, 204, 400, 403, 404, 409, 422, 500, 502])
DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"detail": ' * 50_000 + b'"x"' + b"}" * 50_000
HUGE = json.dumps({"data": ["x" * 1000] * 5000}).encode()
HUGE_INT = b"1" * 5000  # valid JSON; Python refuses ints of more than 4300 digits
HUGE_LIST_DETAIL = json.dumps({"detail": ["y" * 100] * 20_000}).encode()
BAD_UTF8 = b'{"detail": "\xff\xfe"}'


def expected_json(body: bytes) -> Tuple[bool, Any]:
    """(True, value) if the client can parse ``body`` as JSON, else (False, None)."""
    try:
        return True, json.loads(body)
    except (ValueError, RecursionError):
        return False, None


def same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) or (
        isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    )


def check_result(module: str, status: int, body: bytes, outcome: Any, write: bool) -> None:
    error_class = altan.AltanActionError if module == "altan" else pipedream.PipedreamApiError
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, error_class), "an unrelated exception: %r" % (outcome,)
        assert len(str(outcome)) < 2000, "the message is not bounded"
        if status >= 300:
            assert outcome.status_code == status
        else:
            parsed, _ = expected_json(body)
            assert not parsed and status != 204 and body.strip(), outcome
            assert "expected JSON" in str(outcome)
        return
    assert status < 300, "an error status was returned as a result"
    parsed, value = expected_json(body)
    if status == 204 or not body.strip():
        assert outcome == ({} if module == "altan" else None)
    elif (
        module == "altan"
        and write
        and isinstance(value, dict)
        and isinstance(value.get("success"), bool)
        and "status" not in value
    ):
        assert outcome["status"] == ("success" if value["success"] else "error")
        assert all(same(outcome[k], v) for k, v in value.items())
    else:
        assert parsed and same(outcome, value)


RESPONSE_CALLS = {
    "altan.list_connections": ("altan", "/connection", lambda c: c.list_connections(), False),
    "altan.execute_action": (
        "altan",
        "/connection/c1/actions/a1/execute",
        lambda c: c.execute_action("c1", "a1", {}),
        True,
    ),
    "pipedream.get_project_info": (
        "pipedream",
        "/v1/connect/%s/projects/info" % PD_PROJECT,
        lambda c: c.get_project_info(),
        False,
    ),
    "pipedream.run_action": (
        "pipedream",
        "/v1/connect/%s/actions/run" % PD_PROJECT,
        lambda c: c.run_action("k1", "u1"),
        True,
    ),
}


@pytest.mark.parametrize("name", list(RESPONSE_CALLS))
@settings(**dict(SETTINGS, max_examples=80))
@given(status=STATUSES, body=BODIES, content_type=CONTENT_TYPES)
@example(status=200, body=DEEP_ARRAY, content_type="application/json")
@example(status=500, body=DEEP_ARRAY, content_type="application/json")
@example(status=400, body=DEEP_OBJECT, content_type="application/json")
@example(status=200, body=HUGE, content_type="application/json")
@example(status=200, body=HUGE_INT, content_type="application/json")
@example(status=422, body=HUGE_LIST_DETAIL, content_type="application/json")
@example(status=200, body=BAD_UTF8, content_type="application/json")
@example(status=404, body=BAD_UTF8, content_type="application/json")
@example(status=200, body=b"NaN", content_type="application/json")
@example(status=200, body=b"  \r\n ", content_type="application/json")
@example(status=200, body=b"<html><body>Service Unavailable</body></html>", content_type="text/html")
@example(status=200, body=b'{"success": "yes", "data": [1]}', content_type="application/json")
@example(status=200, body=b'{"success": false, "data": {"e": 1}}', content_type="application/json")
def test_any_response_body_gives_the_documented_result_or_error(servers_and_clients, name, status, body, content_type):
    module, path, call, write = RESPONSE_CALLS[name]
    servers, clients = servers_and_clients
    servers[module].route(path, Response(status, body, content_type=content_type))
    try:
        outcome = call(clients[module])
    except Exception as exc:  # noqa: BLE001 - checked below
        outcome = exc
    check_result(module, status, body, outcome, write)


@pytest.mark.parametrize("flavour", ["altan-async", "pipedream-async"])
def test_hostile_bodies_through_the_async_clients(http_server, flavour):
    api = Api(flavour, http_server, max_retries=0)
    module = api.module_name
    name = "altan.list_connections" if module == "altan" else "pipedream.get_project_info"
    _, path, _, _ = RESPONSE_CALLS[name]
    sync_call = {"altan": "list_connections", "pipedream": "get_project_info"}[module]
    try:
        api.warm()
        for status, body in (
            (200, DEEP_ARRAY if module == "altan" else b"<html>"),
            (500, DEEP_ARRAY),
            (400, DEEP_OBJECT),
            (422, HUGE_LIST_DETAIL),
            (200, HUGE_INT),
            (404, BAD_UTF8),
        ):
            http_server.route(path, Response(status, body, content_type="application/json"))
            try:
                outcome = api(sync_call)
            except Exception as exc:  # noqa: BLE001 - checked below
                outcome = exc
            check_result(module, status, body, outcome, False)
    finally:
        api.close()


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_a_deeply_nested_2xx_body_is_a_pipedream_api_error(servers_and_clients, body):
    servers, clients = servers_and_clients
    servers["pipedream"].route("/v1/connect/%s/projects/info" % PD_PROJECT, Response(200, body))
    with pytest.raises(pipedream.PipedreamApiError):
        clients["pipedream"].get_project_info()


@pytest.mark.parametrize("data", [7, "abc", {"id": "x"}], ids=["number", "string", "object"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_an_iterator_over_a_page_whose_data_is_not_a_list_raises_the_api_error(http_server, data, is_async):
    as_pipedream(http_server, lambda request: Response(200, json={"data": data, "page_info": {"end_cursor": None}}))
    api = Api("pipedream-async" if is_async else "pipedream-sync", http_server)
    try:
        if is_async:

            async def collect() -> List[Any]:
                return [item async for item in api.client.iter_apps()]

            with pytest.raises(pipedream.PipedreamApiError):
                asyncio.run(collect())
        else:
            with pytest.raises(pipedream.PipedreamApiError):
                list(api.client.iter_apps())
    finally:
        api.close()


@pytest.mark.parametrize("token", ["tok\r\nX-Evil: 1", "tok with spaces", "tok-€"], ids=["crlf", "space", "euro"])
def test_an_unsendable_access_token_is_an_auth_error(http_server, token):
    api = Api("pipedream-sync", http_server, max_retries=0)
    api.tokens.fail_next(Response(200, json={"access_token": token, "expires_in": 3600}))
    try:
        with pytest.raises(PipedreamAuthError):
            api("get_project_info")
    finally:
        api.close()
