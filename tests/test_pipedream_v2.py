"""The v2 catalogue (``get_apps_v2`` ... ``get_component_v2``, ``iter_apps_v2``,
``iter_components_v2``) and ``create_oauth_token``, against the bundled replica.

The official Python SDK 2.3.0 has no v2 endpoints (tests/test_pipedream_parity.py cannot compare
them), so ``TS_V2`` writes down the request each call of the official TypeScript SDK v3 sends
(``src/api/resources/v2/resources/{apps,components}/client/Client.ts``: the path template, and the
query object built from the request's camelCase fields, in that order, undefined ones left out)
and each of our calls is checked against it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

import pipedream_replica
import pytest

from pipedream import PipedreamApiError, PipedreamAuthError, PipedreamClient, RawResponse, SyncPipedreamClient

PROJECT_ID = pipedream_replica.DEFAULT_PROJECT_ID
CLIENT_ID = pipedream_replica.DEFAULT_CLIENT_ID
CLIENT_SECRET = pipedream_replica.DEFAULT_CLIENT_SECRET
ACCESS_TOKEN = "pd-v2-static-token"
SLACK_APP_ID = pipedream_replica._stable_id("app", "slack", 6)
SLACK_SEND_MESSAGE = pipedream_replica._stable_id("pc", "slack-send-message")
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def replica() -> Any:
    server, _ = pipedream_replica.start()
    server.tokens[ACCESS_TOKEN] = float("inf")
    yield server
    pipedream_replica.stop(server)


def client_for(replica: Any, factory: Any = SyncPipedreamClient, **options: Any) -> Any:
    options = dict(dict(base_url=replica.base_url, proxy=False, max_retries=0), **options)
    if "access_token" in options:
        return factory(None, None, PROJECT_ID, "development", **options)
    return factory(CLIENT_ID, CLIENT_SECRET, PROJECT_ID, "development", **options)


# ---------------------------------------------------------------------------------------------
# The TypeScript SDK's request shape, table-driven
# ---------------------------------------------------------------------------------------------

# TS method -> (path template under /v2/connect/{projectId}, [(request field, query name)] in the
# order of the SDK's query object).
TS_V2: Dict[str, Tuple[str, List[Tuple[str, str]]]] = {
    "v2.apps.list": (
        "/apps",
        [
            ("q", "q"),
            ("limit", "limit"),
            ("page", "page"),
            ("categoryName", "category_name"),
            ("authType", "auth_type"),
            ("hasComponents", "has_components"),
            ("hasActions", "has_actions"),
            ("hasTriggers", "has_triggers"),
            ("hasPrivateComponents", "has_private_components"),
        ],
    ),
    "v2.apps.facets": ("/apps/facets", []),
    "v2.apps.retrieve": ("/apps/{id}", []),
    "v2.components.list": (
        "/components",
        [
            ("q", "q"),
            ("limit", "limit"),
            ("page", "page"),
            ("componentType", "component_type"),
            ("app", "app"),
            ("registry", "registry"),
        ],
    ),
    "v2.components.facets": ("/components/facets", [("registry", "registry")]),
    "v2.components.retrieve": ("/components/{id}", [("registry", "registry")]),
}

# (TS method, TS path argument, TS request object, our call). Query values are what the TS SDK
# puts on the wire: strings as given, numbers in decimal; its has_* fields are strings, ours
# booleans sent as "true"/"false".
CASES: List[Tuple[str, Optional[str], Dict[str, Any], Callable[[Any], Any]]] = [
    ("v2.apps.list", None, {}, lambda c: c.get_apps_v2()),
    ("v2.apps.list", None, {"q": "sl", "limit": 2, "page": 3}, lambda c: c.get_apps_v2("sl", 2, 3)),
    (
        "v2.apps.list",
        None,
        {
            "q": "o",
            "limit": 5,
            "page": 1,
            "categoryName": "Productivity",
            "authType": "oauth",
            "hasComponents": "true",
            "hasActions": "false",
            "hasTriggers": "true",
            "hasPrivateComponents": "false",
        },
        lambda c: c.get_apps_v2(
            q="o",
            limit=5,
            page=1,
            category_name="Productivity",
            auth_type="oauth",
            has_components=True,
            has_actions=False,
            has_triggers=True,
            has_private_components=False,
        ),
    ),
    ("v2.apps.facets", None, {}, lambda c: c.get_app_facets_v2()),
    ("v2.apps.retrieve", "slack", {}, lambda c: c.get_app_v2("slack")),
    ("v2.apps.retrieve", SLACK_APP_ID, {}, lambda c: c.get_app_v2(SLACK_APP_ID)),
    ("v2.apps.retrieve", "team/a b", {}, lambda c: c.get_app_v2("team/a b")),  # one encoded segment
    ("v2.components.list", None, {}, lambda c: c.get_components_v2()),
    (
        "v2.components.list",
        None,
        {"q": "send", "limit": 4, "page": 2, "componentType": "action", "app": "slack,gmail", "registry": "all"},
        lambda c: c.get_components_v2("send", 4, 2, component_type="action", app="slack,gmail", registry="all"),
    ),
    ("v2.components.facets", None, {}, lambda c: c.get_component_facets_v2()),
    ("v2.components.facets", None, {"registry": "private"}, lambda c: c.get_component_facets_v2("private")),
    ("v2.components.retrieve", SLACK_SEND_MESSAGE, {}, lambda c: c.get_component_v2(SLACK_SEND_MESSAGE)),
    (
        "v2.components.retrieve",
        SLACK_SEND_MESSAGE,
        {"registry": "all"},
        lambda c: c.get_component_v2(SLACK_SEND_MESSAGE, registry="all"),
    ),
]


def ts_request(method: str, path_argument: Optional[str], request: Dict[str, Any]) -> Dict[str, Any]:
    """The request the TypeScript SDK sends: ``encodePathParam`` (encodeURIComponent) on the
    project id and the path argument, the query in its object's order."""
    from urllib.parse import quote

    template, fields = TS_V2[method]
    path = template.replace("{id}", quote(path_argument or "", safe="!'()*~"))
    query = [(name, str(request[field])) for field, name in fields if field in request]
    assert set(request) <= {field for field, _ in fields}, "not a field of %s: %s" % (method, request)
    return {
        "method": "GET",
        "path": "/v2/connect/%s%s" % (PROJECT_ID, path),
        "query": query,
        "body": b"",
        "authorization": "Bearer " + ACCESS_TOKEN,
        "x-pd-environment": "development",
        "content-type": None,
    }


def our_request(request: Any) -> Dict[str, Any]:
    return {
        "method": request.method,
        "path": request.path,
        "query": list(request.query),
        "body": request.body,
        "authorization": request.headers.get("authorization"),
        "x-pd-environment": request.headers.get("x-pd-environment"),
        "content-type": request.headers.get("content-type"),
    }


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "method, path_argument, request_fields, ours", CASES, ids=["%s-%d" % (c[0], i) for i, c in enumerate(CASES)]
)
def test_v2_requests_match_the_typescript_sdk(
    replica: Any, mode: str, method: str, path_argument: Optional[str], request_fields: Dict[str, Any], ours: Any
) -> None:
    if mode == "sync":
        with client_for(replica, access_token=ACCESS_TOKEN) as client:
            try:
                ours(client)
            except PipedreamApiError:
                pass  # a 404 or 501 from the replica: the request is what is compared
    else:

        async def main() -> None:
            async with client_for(replica, PipedreamClient, access_token=ACCESS_TOKEN) as client:
                try:
                    await ours(client)
                except PipedreamApiError:
                    pass

        asyncio.run(main())
    assert len(replica.requests) == 1
    assert our_request(replica.requests[0]) == ts_request(method, path_argument, request_fields)


def test_every_typescript_v2_operation_has_a_case_and_a_method() -> None:
    assert {case[0] for case in CASES} == set(TS_V2)
    for name in (
        "get_apps_v2",
        "get_app_facets_v2",
        "get_app_v2",
        "get_components_v2",
        "get_component_facets_v2",
        "get_component_v2",
        "create_oauth_token",
    ):
        assert asyncio.iscoroutinefunction(getattr(PipedreamClient, name)), name
        assert getattr(PipedreamClient, name).__doc__ == getattr(SyncPipedreamClient, name).__doc__


def test_v2_errors_carry_status_message_and_request_id(replica: Any) -> None:
    with client_for(replica) as client:
        with pytest.raises(PipedreamApiError) as missing:
            client.get_component_v2("slack-send-message")  # a key, not a pc_ id
        replica.fail_next(503, {"error": "search unavailable"}, path_contains="/v2/")
        with pytest.raises(PipedreamApiError) as unavailable:
            client.get_app_facets_v2()
    assert missing.value.status_code == 404 and "get component (v2) failed" in str(missing.value)
    assert unavailable.value.status_code == 503 and unavailable.value.detail == "search unavailable"
    assert unavailable.value.request_id and unavailable.value.request_id in str(unavailable.value)


def test_v2_raw_responses_and_options(replica: Any) -> None:
    with client_for(replica) as client:
        raw = client.with_options(query={"page": 2}).with_raw_response.get_apps_v2(limit=3)
    assert isinstance(raw, RawResponse) and raw.status_code == 200 and raw.request_id
    assert raw.data["page_info"] == {"count": 3, "page": 2, "per_page": 3, "total_count": 12}


# ---------------------------------------------------------------------------------------------
# Page-number iterators
# ---------------------------------------------------------------------------------------------


def api_pages(replica: Any, path: str) -> List[Optional[str]]:
    """The page parameter of each request the replica received for ``path``."""
    return [dict(r.query).get("page") for r in replica.requests if r.path == "/v2/connect/%s%s" % (PROJECT_ID, path)]


def test_iter_apps_v2_fetches_the_next_page_only_when_the_previous_is_used_up(replica: Any) -> None:
    with client_for(replica) as client:
        apps = client.iter_apps_v2(limit=5)
        assert api_pages(replica, "/apps") == []  # nothing before the first item is asked for
        first = [next(apps) for _ in range(5)]
        assert api_pages(replica, "/apps") == [None]
        sixth = next(apps)
        assert api_pages(replica, "/apps") == [None, "2"]
        rest = list(apps)
    names = [a["name_slug"] for a in first + [sixth] + rest]
    assert len(names) == len(set(names)) == 12 and names[:3] == ["slack", "github", "google_sheets"]
    assert api_pages(replica, "/apps") == [None, "2", "3"]  # page 3 has 2 items: short, the end


def test_iter_components_v2_stops_on_an_empty_page(replica: Any) -> None:
    with client_for(replica) as client:
        keys = [c["key"] for c in client.iter_components_v2(limit=3)]
    assert len(keys) == 9
    assert api_pages(replica, "/components") == [None, "2", "3", "4"]  # 3 full pages, then an empty one


def test_iterators_start_at_the_page_given_and_keep_the_filters(replica: Any) -> None:
    with client_for(replica) as client:
        keys = [c["key"] for c in client.iter_components_v2(page=2, limit=4, component_type="action")]
    assert len(keys) == 2  # 6 actions: page 2 of 4 holds the last 2
    assert [dict(r.query) for r in replica.requests if "/components" in r.path] == [
        {"page": "2", "limit": "4", "component_type": "action"}
    ]


def test_a_page_number_that_does_not_move_ends_the_iteration() -> None:
    calls: List[Dict[str, Any]] = []

    def stuck(**filters: Any) -> Dict[str, Any]:  # a server that always answers page 1
        calls.append(dict(filters))
        return {"data": [{"id": len(calls)}], "page_info": {"page": 1, "per_page": 1}}

    import pipedream

    assert [i["id"] for i in pipedream._paginate(stuck, {"limit": 1}, pipedream._by_number)] == [1, 2]
    assert calls == [{"limit": 1}, {"limit": 1, "page": 2}]


@pytest.mark.parametrize(
    "page, filters, expected",
    [
        ({"data": [1, 2], "page_info": {"page": 1, "per_page": 2}}, {}, 2),
        ({"data": [1], "page_info": {"page": 1, "per_page": 2}}, {}, None),  # short
        ({"data": [], "page_info": {"page": 1, "per_page": 2}}, {}, None),  # empty
        ({"data": [1, 2]}, {"limit": 2}, 2),  # no page_info: the limit asked for
        ({"data": [1]}, {"limit": 2}, None),
        ({"data": [1, 2]}, {}, 2),  # nothing to compare with: only an empty page ends it
        ({"data": [1, 2], "page_info": {"page": 4, "per_page": 2}}, {"page": 4}, 5),
        ({"data": [1, 2], "page_info": {"page": 3, "per_page": 2}}, {"page": 4}, None),  # went back
    ],
)
def test_next_page_number_rules(page: Dict[str, Any], filters: Dict[str, Any], expected: Optional[int]) -> None:
    import pipedream

    assert pipedream._next_page_number(page, page["data"], filters) == expected


def test_async_iterators_page_lazily_too(replica: Any) -> None:
    async def main() -> Tuple[List[str], List[Optional[str]], List[str]]:
        async with client_for(replica, PipedreamClient) as client:
            apps = client.iter_apps_v2(limit=4)
            first = [(await apps.__anext__())["name_slug"] for _ in range(4)]
            seen = api_pages(replica, "/apps")
            rest = [a["name_slug"] async for a in apps]
            raw_view = [c["key"] async for c in client.with_raw_response.iter_components_v2(limit=5)]
        return first + rest, seen, raw_view

    names, seen_after_first_page, keys = asyncio.run(main())
    assert seen_after_first_page == [None] and len(names) == 12
    assert api_pages(replica, "/apps") == [None, "2", "3", "4"]  # 4 + 4 + 4, then empty
    assert len(keys) == 9


# ---------------------------------------------------------------------------------------------
# create_oauth_token
# ---------------------------------------------------------------------------------------------


def token_requests(replica: Any) -> List[Any]:
    return [r for r in replica.requests if r.path == "/v1/oauth/token"]


def test_create_oauth_token_sends_the_official_body_without_a_bearer(replica: Any) -> None:
    with client_for(replica, headers={"X-Trace": "1"}, rate_limit_token="rl_x") as client:
        token = client.create_oauth_token(CLIENT_ID, CLIENT_SECRET, scope="connect:accounts:read")
        assert client.token_requests == 0  # the client's own token is neither fetched nor replaced
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600 and token["access_token"]
    (request,) = token_requests(replica)
    assert request.method == "POST" and request.query == []
    assert request.body == (
        b'{"client_id":"%s","client_secret":"%s","scope":"connect:accounts:read","grant_type":"client_credentials"}'
        % (CLIENT_ID.encode(), CLIENT_SECRET.encode())
    )
    headers = request.headers
    assert "authorization" not in headers and "x-pd-rate-limit" not in headers
    assert headers["content-type"] == "application/json" and headers["x-pd-environment"] == "development"
    assert headers["x-trace"] == "1"


def test_create_oauth_token_with_an_assertion(replica: Any) -> None:
    assertion = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJjaWQifQ.c2lnbmF0dXJlLXRleHQ"
    with client_for(replica, max_retries=2) as client:
        replica.fail_next(503, {"error": "try later, got %s" % assertion}, path_contains="/oauth/token")
        with pytest.raises(PipedreamAuthError) as raised:
            client.create_oauth_token(CLIENT_ID, client_assertion=assertion)
    assert len(token_requests(replica)) == 1  # a single-use assertion is never re-sent by a retry
    assert json.loads(token_requests(replica)[0].body) == {
        "client_id": CLIENT_ID,
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
        "grant_type": "client_credentials",
    }
    assert list(json.loads(token_requests(replica)[0].body)) == [
        "client_id",
        "client_assertion_type",
        "client_assertion",
        "grant_type",
    ]
    error = raised.value
    assert error.status_code == 503
    for surface in (str(error), repr(error), json.dumps(error.response_data), str(error.body)):
        assert assertion not in surface


def test_create_oauth_token_with_a_secret_is_retried(replica: Any) -> None:
    with client_for(replica, max_retries=2) as client:
        replica.fail_next(503, {"error": "busy"}, path_contains="/oauth/token", headers={"Retry-After": "0"})
        assert client.create_oauth_token(CLIENT_ID, CLIENT_SECRET)["access_token"]
    assert len(token_requests(replica)) == 2


def test_create_oauth_token_errors_never_hold_the_secret(replica: Any) -> None:
    secret = "echoed-secret-0123456789"
    with client_for(replica) as client:
        replica.fail_next(
            401, {"error": "invalid_client", "error_description": "bad secret %s" % secret}, path_contains="/oauth"
        )
        with pytest.raises(PipedreamAuthError) as raised:
            client.create_oauth_token(CLIENT_ID, secret)
        with pytest.raises(PipedreamAuthError) as refused:
            client.create_oauth_token(CLIENT_ID, "wrong-secret-abcdef")
    for error in (raised.value, refused.value):
        assert error.status_code == 401
        text = str(error) + repr(error) + json.dumps(error.response_data) + repr(error.args)
        assert secret not in text and "wrong-secret-abcdef" not in text
    assert "create OAuth token failed" in str(refused.value) and refused.value.request_id


def test_the_returned_token_is_not_registered_and_the_clients_own_stays_redacted(replica: Any) -> None:
    with client_for(replica) as client:
        client.get_project_info()
        own = replica.requests[-1].headers["authorization"].split()[1]  # the client's own token
        issued = [client.create_oauth_token(CLIENT_ID, CLIENT_SECRET)["access_token"] for _ in range(12)]
        assert client._transport.redact(own) != own
        assert all(client._transport.redact(token) == token for token in issued)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"client_id": CLIENT_ID}, "exactly one"),
        ({"client_id": CLIENT_ID, "client_secret": "s", "client_assertion": "a.b.c"}, "exactly one"),
        ({"client_id": CLIENT_ID, "client_secret": "s", "client_assertion_type": JWT_BEARER}, "goes with"),
        ({"client_id": "", "client_secret": "s"}, "client_id"),
        ({"client_id": CLIENT_ID, "client_secret": " "}, "client_secret"),
        ({"client_id": CLIENT_ID, "client_assertion": ""}, "client_assertion"),
    ],
)
def test_create_oauth_token_refuses_bad_input_before_any_request(
    replica: Any, kwargs: Dict[str, Any], message: str
) -> None:
    with client_for(replica) as client:
        with pytest.raises(ValueError, match=message):
            client.create_oauth_token(**kwargs)
    assert replica.requests == []


def test_create_oauth_token_async_and_raw(replica: Any) -> None:
    async def main() -> Tuple[Any, Any]:
        async with client_for(replica, PipedreamClient) as client:
            token = await client.create_oauth_token(CLIENT_ID, CLIENT_SECRET)
            raw = await client.with_raw_response.create_oauth_token(CLIENT_ID, CLIENT_SECRET, scope="*")
        return token, raw

    token, raw = asyncio.run(main())
    assert token["token_type"] == "Bearer"
    assert isinstance(raw, RawResponse) and raw.status_code == 200 and raw.data["access_token"]


# ---------------------------------------------------------------------------------------------
# The command line calls the new methods
# ---------------------------------------------------------------------------------------------


def test_the_cli_calls_the_new_methods(replica: Any) -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PIPEDREAM_")}
    environment.update(
        PIPEDREAM_CLIENT_ID=CLIENT_ID,
        PIPEDREAM_CLIENT_SECRET=CLIENT_SECRET,
        PIPEDREAM_PROJECT_ID=PROJECT_ID,
        PIPEDREAM_PROJECT_ENVIRONMENT="development",
        PIPEDREAM_BASE_URL=replica.base_url,
    )

    def cli(*args: str) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "pipedream", *args],
            cwd=root,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    assert (
        "get_apps_v2"
        in subprocess.run(
            [sys.executable, "-m", "pipedream", "--help"],
            cwd=root,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
    assert cli("call", "get_apps_v2", '{"q": "slack", "limit": 1}')["data"][0]["name_slug"] == "slack"
    assert cli("call", "get_component_v2", json.dumps({"component_id": SLACK_SEND_MESSAGE}))["data"]["id"] == (
        SLACK_SEND_MESSAGE
    )
    assert "category_name" in cli("call", "get_app_facets_v2")["data"]
    token = cli("call", "create_oauth_token", json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}))
    assert token["token_type"] == "Bearer"
