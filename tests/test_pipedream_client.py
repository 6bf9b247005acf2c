"""The Pipedream client against the local replica (replicas/pipedream_replica.py), a real
HTTP/1.1 server on 127.0.0.1: the token's life, input checks,
wire names, proxy, workflows, pagination and rate-limit tokens.

Every test gets a fresh replica (fixture ``pipedream_replica``, tests/conftest.py) whose
``requests`` / ``counts`` / ``token_requests`` show exactly what reached the server.

The Pipedream client beyond the 28 methods of the README it implements, against the local replica
(replicas/pipedream_replica.py) and, for broken downloads, a scripted server (tests/servers.py):
raw responses, per-call options (``with_options(query=...)``), the new pagination iterators,
File Stash downloads, and argument checks. Wire parity with the official SDK for every endpoint
is tests/test_pipedream_parity.py; each new method's cassette is in tests/test_cassettes.py.

The v2 catalogue (``get_apps_v2`` ... ``get_component_v2``, ``iter_apps_v2``,
``iter_components_v2``) and ``create_oauth_token``, against the bundled replica.

The official Python SDK 2.3.0 has no v2 endpoints (tests/test_pipedream_parity.py cannot compare
them), so ``TS_V2`` writes down the request each call of the official TypeScript SDK v3 sends
(``src/api/resources/v2/resources/{apps,components}/client/Client.ts``: the path template, and the
query object built from the request's camelCase fields, in that order, undefined ones left out)
and each of our calls is checked against it.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import pathlib
import subprocess
import sys
import threading
import time as _time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pipedream_replica
import pytest
from reliability import VirtualClock
from servers import Response

import pipedream
from pipedream import PipedreamApiError, PipedreamAuthError, PipedreamClient, RawResponse, SyncPipedreamClient


CLIENT_ID = pipedream_replica.DEFAULT_CLIENT_ID
CLIENT_SECRET = pipedream_replica.DEFAULT_CLIENT_SECRET
PROJECT_ID = pipedream_replica.DEFAULT_PROJECT_ID
PIPEDREAM_VARIABLES = (
    "CLIENT_ID",
    "CLIENT_SECRET",
    "PROJECT_ID",
    "PROJECT_ENVIRONMENT",
    "BASE_URL",
    "WORKFLOW_DOMAIN",
    "ACCESS_TOKEN",
)


pytestmark = pytest.mark.usefixtures("clean_client_environment")


@pytest.fixture
def replica(pipedream_replica: pipedream_replica.PipedreamReplica) -> pipedream_replica.PipedreamReplica:
    return pipedream_replica


@pytest.fixture
def client(replica: Any) -> Iterator[SyncPipedreamClient]:
    with SyncPipedreamClient(
        CLIENT_ID, CLIENT_SECRET, PROJECT_ID, "development", base_url=replica.base_url, workflow_domain="127.0.0.1"
    ) as sync_client:
        yield sync_client


def run(coroutine_function: Callable[..., Any], *args: Any) -> Any:
    return asyncio.run(coroutine_function(*args))


def async_client(replica: Any, **options: Any) -> PipedreamClient:
    return PipedreamClient(
        CLIENT_ID,
        CLIENT_SECRET,
        PROJECT_ID,
        "development",
        base_url=replica.base_url,
        workflow_domain="127.0.0.1",
        **options,
    )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    fake = VirtualClock()
    monkeypatch.setattr(pipedream, "_clock", fake)
    return fake


# ---------------------------------------------------------------------------------------------
# The OAuth token
# ---------------------------------------------------------------------------------------------


def test_token_request_is_json_with_the_official_fields(client: SyncPipedreamClient, replica: Any) -> None:
    client.get_project_info()
    token_request, call = replica.requests
    assert token_request.path == "/v1/oauth/token"
    assert token_request.headers["content-type"] == "application/json"
    assert token_request.body == (
        b'{"client_id":"demo-client","client_secret":"demo-secret","grant_type":"client_credentials"}'
    )
    assert "authorization" not in token_request.headers
    issued = next(iter(replica.tokens))
    assert call.headers["authorization"] == "Bearer " + issued
    assert call.headers["x-pd-environment"] == "development"
    assert "content-type" not in call.headers  # no body, no Content-Type


def test_token_is_cached_until_two_minutes_before_it_expires(
    client: SyncPipedreamClient, replica: Any, clock: VirtualClock
) -> None:
    client.get_project_info()
    clock.advance(3600 - 120 - 5)  # still valid
    client.get_project_info()
    assert replica.token_requests == 1
    clock.advance(10)  # inside the two-minute margin: a new token first
    client.get_project_info()
    assert replica.token_requests == 2
    first, second = replica.tokens
    assert replica.requests[-1].headers["authorization"] == "Bearer " + second != "Bearer " + first


def test_short_lived_token_is_refreshed_after_half_its_life(replica: Any, clock: VirtualClock) -> None:
    replica.expires_in = 60  # shorter than twice the margin: the client keeps half of it as margin
    with SyncPipedreamClient(CLIENT_ID, CLIENT_SECRET, PROJECT_ID, "development", base_url=replica.base_url) as c:
        c.get_project_info()
        clock.advance(29)
        c.get_project_info()
        assert replica.token_requests == 1
        clock.advance(2)
        c.get_project_info()
        assert replica.token_requests == 2


def test_async_client_refreshes_after_expiry(replica: Any, clock: VirtualClock) -> None:
    async def main() -> None:
        async with async_client(replica) as client:
            await client.get_project_info()
            clock.advance(3600)
            await asyncio.gather(*(client.get_project_info() for _ in range(10)))
            assert client.token_requests == 2

    run(main)
    assert replica.token_requests == 2


def test_a_revoked_token_is_replaced_once_on_401(client: SyncPipedreamClient, replica: Any) -> None:
    client.get_project_info()
    replica.revoke_tokens()
    assert client.get_app("slack")["data"]["name_slug"] == "slack"
    assert replica.token_requests == 2
    assert [r.path for r in replica.requests][-3:] == [
        "/v1/connect/apps/slack",
        "/v1/oauth/token",
        "/v1/connect/apps/slack",
    ]
    assert client.get_app("github")["data"]["name_slug"] == "github"  # the new token is kept
    assert replica.token_requests == 2


def test_a_second_401_after_the_refresh_raises_auth_error(client: SyncPipedreamClient, replica: Any) -> None:
    client.get_project_info()
    for _ in range(2):
        replica.fail_next(401, {"error": "token revoked"}, path_contains="/apps/slack")
    with pytest.raises(PipedreamAuthError) as caught:
        client.get_app("slack")
    assert caught.value.status_code == 401 and caught.value.detail == "token revoked"
    assert replica.count("GET", "/v1/connect/apps/slack") == 2  # refreshed once, not in a loop
    assert replica.token_requests == 2


def test_wrong_credentials_raise_auth_error_without_the_secret(replica: Any) -> None:
    secret = "not-the-secret-8c1e77"
    bad = SyncPipedreamClient(CLIENT_ID, secret, PROJECT_ID, "development", base_url=replica.base_url)
    with bad, pytest.raises(PipedreamAuthError) as caught:
        bad.get_accounts()
    error = caught.value
    assert error.status_code == 401 and error.detail == "Client authentication failed"
    assert error.response_data == {"error": "invalid_client", "error_description": "Client authentication failed"}
    assert error.request_id and error.request_id in str(error)
    for text in (str(error), repr(error), repr(error.args), json.dumps(error.response_data), repr(bad)):
        assert secret not in text
    assert replica.token_requests == 1 and replica.request_count == 1  # the API call itself was never sent


def test_async_wrong_credentials_raise_auth_error(replica: Any) -> None:
    async def main() -> None:
        async with PipedreamClient(
            CLIENT_ID, "wrong-secret-2b9d", PROJECT_ID, "production", base_url=replica.base_url
        ) as client:
            with pytest.raises(PipedreamAuthError) as caught:
                await client.get_project_info()
            assert "wrong-secret-2b9d" not in str(caught.value) + repr(caught.value)

    run(main)


def test_an_invalid_static_token_is_an_auth_error_without_refresh(replica: Any) -> None:
    token = "static-token-3e8d51"
    with SyncPipedreamClient(
        project_id=PROJECT_ID, environment="development", access_token=token, base_url=replica.base_url
    ) as c:
        with pytest.raises(PipedreamAuthError) as caught:
            c.get_project_info()
    assert caught.value.status_code == 401 and token not in str(caught.value) + repr(caught.value)
    assert replica.token_requests == 0 and replica.request_count == 1
    assert replica.requests[0].headers["authorization"] == "Bearer " + token


# ---------------------------------------------------------------------------------------------
# Configuration from the environment: read at construction
# ---------------------------------------------------------------------------------------------


def test_environment_variables_are_read_when_the_client_is_constructed(
    monkeypatch: pytest.MonkeyPatch, replica: Any
) -> None:
    # pipedream was imported long before these are set
    monkeypatch.setenv("PIPEDREAM_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("PIPEDREAM_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("PIPEDREAM_PROJECT_ID", PROJECT_ID)
    monkeypatch.setenv("PIPEDREAM_PROJECT_ENVIRONMENT", "production")
    monkeypatch.setenv("PIPEDREAM_BASE_URL", replica.base_url)
    monkeypatch.setenv("PIPEDREAM_WORKFLOW_DOMAIN", "127.0.0.1")
    client = SyncPipedreamClient()
    with client:
        for name in PIPEDREAM_VARIABLES:  # later changes do not affect the client
            monkeypatch.setenv("PIPEDREAM_" + name, "changed")
        assert (client.project_id, client.environment, client.base_url, client.workflow_domain) == (
            PROJECT_ID,
            "production",
            replica.base_url,
            "127.0.0.1",
        )
        client.get_project_info()
    assert replica.requests[-1].headers["x-pd-environment"] == "production"
    assert replica.requests[-1].path == "/v1/connect/proj_demo/projects/info"
    # and a client made now sees the new values (here: invalid ones, refused up front)
    with pytest.raises(ValueError, match="environment"):
        SyncPipedreamClient()


def test_arguments_win_over_environment_variables(monkeypatch: pytest.MonkeyPatch, replica: Any) -> None:
    monkeypatch.setenv("PIPEDREAM_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("PIPEDREAM_PROJECT_ID", "proj_other")
    with SyncPipedreamClient(CLIENT_ID, CLIENT_SECRET, PROJECT_ID, "development", base_url=replica.base_url) as c:
        assert c.get_project_info()["apps"]
    assert replica.requests[-1].path == "/v1/connect/proj_demo/projects/info"


# ---------------------------------------------------------------------------------------------
# Bad input: a clear ValueError before any network I/O
# ---------------------------------------------------------------------------------------------

BAD_CALLS: Dict[str, Callable[[SyncPipedreamClient], Any]] = {
    "empty app id": lambda c: c.get_app(""),
    "blank account id": lambda c: c.get_account_by_id("   "),
    "None account id": lambda c: c.delete_account(None),  # type: ignore[arg-type]
    "dot-dot account id": lambda c: c.delete_account(".."),
    "empty app of delete_accounts_by_app": lambda c: c.delete_accounts_by_app(""),
    "empty external user (delete)": lambda c: c.delete_external_user(""),
    "empty external user (token)": lambda c: c.create_connect_token(""),
    "empty component key": lambda c: c.get_component("actions", ""),
    "unknown component_type": lambda c: c.get_components("widgets"),
    "singular component_type": lambda c: c.get_component("action", "slack-send-message"),
    "unknown component_type (configure)": lambda c: c.configure_component("things", "k", "p", "u"),
    "unknown component_type (iterator)": lambda c: c.iter_components("widgets"),
    "empty prop name": lambda c: c.configure_component("actions", "slack-send-message", "", "user-1"),
    "empty action key": lambda c: c.run_action("", "user-1"),
    "empty trigger user": lambda c: c.deploy_trigger("slack-new-message-in-channels", ""),
    "empty deployed trigger id": lambda c: c.get_deployed_trigger("", "user-1"),
    "empty deployed trigger user": lambda c: c.get_deployed_triggers(""),
    "empty deployed trigger user (iterator)": lambda c: c.iter_deployed_triggers(""),
    "webhookUrls as a string": lambda c: c.update_deployed_trigger_webhooks("dc_1", "user-1", "https://a"),
    "webhookUrls missing": lambda c: c.update_deployed_trigger_webhooks("dc_1", "user-1"),
    "camel and snake disagree": lambda c: c.deploy_trigger("t", "u", webhookUrl="https://a", webhook_url="https://b"),
    "workflowIds and workflow_ids disagree": lambda c: c.update_deployed_trigger_workflows(
        "dc_1", "user-1", ["p_1"], workflow_ids=["p_2"]
    ),
    "allowed_origins as one string": lambda c: c.create_connect_token("user-1", "https://app.example.com"),
    "category_ids as one string": lambda c: c.get_apps(category_ids="appcat_crm"),
    "category_ids with a number": lambda c: c.get_apps(category_ids=["appcat_crm", 3]),
    "zero rate limit window": lambda c: c.create_rate_limit(0, 10),
    "boolean rate limit": lambda c: c.create_rate_limit(60, True),
    "proxy without account": lambda c: c.make_proxy_request({"external_user_id": "user-1"}, {"url": "https://a.b"}),
    "proxy without url": lambda c: c.make_proxy_request({"external_user_id": "u", "account_id": "a"}, {}),
    "proxy with TRACE": lambda c: c.make_proxy_request(
        {"external_user_id": "u", "account_id": "a"}, {"url": "https://a.b", "method": "TRACE"}
    ),
    "proxy headers as a list": lambda c: c.make_proxy_request(
        {"external_user_id": "u", "account_id": "a"}, {"url": "https://a.b", "headers": [("X-A", "1")]}
    ),
    "proxy header with a line break": lambda c: c.make_proxy_request(
        {"external_user_id": "u", "account_id": "a"}, {"url": "https://a.b", "headers": {"X-A": "1\r\nX-B: 2"}}
    ),
    "endpoint id without en/eo": lambda c: c.invoke_workflow("xx123abc"),
    "endpoint id with a symbol": lambda c: c.invoke_workflow("en12_3!"),
    "empty workflow": lambda c: c.invoke_workflow(""),
    "workflow outside the domain": lambda c: c.invoke_workflow("https://evil.example.com/hook"),
    "workflow domain as a prefix": lambda c: c.invoke_workflow("https://127.0.0.1.evil.example.com/"),
    "workflow domain in the query": lambda c: c.invoke_workflow("https://evil.example.com/?h=127.0.0.1"),
    "workflow with another scheme": lambda c: c.invoke_workflow("ftp://127.0.0.1/x"),
    "unknown auth type": lambda c: c.invoke_workflow("en123abc", auth_type="basic"),
    "static bearer without a header": lambda c: c.invoke_workflow("en123abc", auth_type="static_bearer_token"),
    "json_data and data": lambda c: c.invoke_workflow("en123abc", json_data={}, data="x"),
    "empty external user (workflow)": lambda c: c.invoke_workflow_for_external_user("en123abc", ""),
    "body that is not JSON": lambda c: c.run_action("slack-send-message", "user-1", {"when": object()}),
    "rate limit token empty": lambda c: c.with_options(rate_limit_token=""),
    # methods beyond the README's
    "empty project id": lambda c: c.get_project(""),
    "dot-dot project id": lambda c: c.delete_project(".."),
    "empty project name": lambda c: c.create_project(" "),
    "empty logo": lambda c: c.update_project_logo("proj_demo", ""),
    "empty webhook url": lambda c: c.update_project_webhook(""),
    "negative start_ts": lambda c: c.get_usage(-1, 10),
    "boolean end_ts": lambda c: c.get_usage(0, True),
    "string start_ts": lambda c: c.get_usage("0", 10),
    "empty category id": lambda c: c.get_app_category(""),
    "empty app override id": lambda c: c.get_app_override(""),
    "empty app of an override": lambda c: c.create_app_override("", "n"),
    "scopes as one string": lambda c: c.create_oauth_app("slack", scopes="chat:write"),
    "empty oauth app id": lambda c: c.delete_oauth_app(""),
    "empty connect token": lambda c: c.validate_connect_token(""),
    "empty user of its accounts": lambda c: c.get_accounts_by_external_user(""),
    "empty app slug": lambda c: c.create_account("", "{}", "ctok_1"),
    "empty cfmap_json": lambda c: c.create_account("openai", "", "ctok_1"),
    "cfmap_json not serialisable": lambda c: c.create_account("openai", {"k": object()}, "ctok_1"),
    "empty s3 key": lambda c: c.download_file("", io.BytesIO()),
    "empty webhook id": lambda c: c.get_deployed_trigger_webhook(TRIGGER, "", USER),
    "empty webhook user": lambda c: c.reset_deployed_trigger_webhook_delivery_state(TRIGGER, WEBHOOK, ""),
    "type_filter on actions": lambda c: c.get_components("actions", type_filter="action"),
}


@pytest.mark.parametrize("call", list(BAD_CALLS.values()), ids=list(BAD_CALLS))
def test_bad_input_is_a_value_error_before_any_request(
    call: Callable[[SyncPipedreamClient], Any], client: SyncPipedreamClient, replica: Any
) -> None:
    with pytest.raises(ValueError) as caught:
        call(client)
    assert str(caught.value)  # says what is wrong
    assert replica.request_count == 0 and replica.token_requests == 0 and client.token_requests == 0
    assert replica.connections == 0


BAD_CONSTRUCTION: Dict[str, Dict[str, Any]] = {
    "wrong environment": dict(environment="staging"),
    "no environment": dict(environment=None),
    "capitalised environment": dict(environment="Development"),
    "no client id": dict(client_id=None),
    "empty client secret": dict(client_secret=""),
    "blank project id": dict(project_id="  "),
    "no project id": dict(project_id=None),
    "base_url without a scheme": dict(base_url="api.pipedream.com"),
    "base_url with credentials": dict(base_url="https://user:pw@api.pipedream.com"),
    "workflow domain with a path": dict(workflow_domain="m.pipedream.net/x"),
    "negative timeout": dict(timeout=-1),
}


@pytest.mark.parametrize("options", list(BAD_CONSTRUCTION.values()), ids=list(BAD_CONSTRUCTION))
@pytest.mark.parametrize("factory", [SyncPipedreamClient, PipedreamClient], ids=["sync", "async"])
def test_bad_configuration_is_a_value_error_at_construction(
    factory: Any, options: Dict[str, Any], replica: Any
) -> None:
    arguments = dict(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        project_id=PROJECT_ID,
        environment="development",
        base_url=replica.base_url,
    )
    arguments.update(options)
    with pytest.raises(ValueError) as caught:
        factory(**arguments)
    assert CLIENT_SECRET not in str(caught.value)
    assert replica.request_count == 0


def test_async_bad_input_is_a_value_error_before_any_request(replica: Any) -> None:
    async def main() -> None:
        async with async_client(replica) as client:
            with pytest.raises(ValueError):
                await client.get_components("widgets")
            with pytest.raises(ValueError):
                await client.get_account_by_id("")
            with pytest.raises(ValueError):
                await client.invoke_workflow("https://evil.example.com/")
            with pytest.raises(ValueError):
                client.iter_components("widgets")

    run(main)
    assert replica.request_count == 0


# ---------------------------------------------------------------------------------------------
# Paths: ids travel as one percent-encoded segment
# ---------------------------------------------------------------------------------------------


def test_ids_with_slashes_are_one_percent_encoded_segment(client: SyncPipedreamClient, replica: Any) -> None:
    client.create_connect_token("team/alice smith")
    assert client.delete_external_user("team/alice smith") is None  # the replica found that one user
    assert replica.last_request.path == "/v1/connect/proj_demo/users/team%2Falice%20smith"
    with pytest.raises(PipedreamApiError) as caught:
        client.get_account_by_id("../../apps/slack")
    assert caught.value.status_code == 404
    assert replica.last_request.path == "/v1/connect/proj_demo/accounts/..%2F..%2Fapps%2Fslack"
    with pytest.raises(PipedreamApiError):
        client.get_component("actions", "a/b?c#d")
    assert replica.last_request.path == "/v1/connect/proj_demo/actions/a%2Fb%3Fc%23d"
    assert replica.last_request.query == []


def test_official_paths_not_the_original_clients(client: SyncPipedreamClient, replica: Any) -> None:
    client.get_apps(limit=1)
    client.get_app("slack")
    client.delete_accounts_by_app("gmail")
    assert [(r.method, r.path) for r in replica.requests[1:]] == [
        ("GET", "/v1/connect/apps"),
        ("GET", "/v1/connect/apps/slack"),
        ("DELETE", "/v1/connect/proj_demo/apps/gmail/accounts"),
    ]


def test_get_account_by_id_returns_the_bare_account(client: SyncPipedreamClient, replica: Any) -> None:
    account_id = client.get_accounts(external_user_id="user-1", limit=1)["data"][0]["id"]
    account = client.get_account_by_id(account_id)
    assert account["id"] == account_id and "data" not in account and "credentials" not in account
    assert "include_credentials" not in replica.last_request.query_dict()
    assert "credentials" in client.get_account_by_id(account_id, include_credentials=True)
    assert replica.last_request.query == [("include_credentials", "true")]


# ---------------------------------------------------------------------------------------------
# Wire names: the original client's camelCase arguments and snake_case ones alike
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["camelCase", "snake_case"])
def test_deploy_trigger_sends_webhook_url_and_workflow_id(
    spelling: str, client: SyncPipedreamClient, replica: Any
) -> None:
    names = ("webhookUrl", "workflowId") if spelling == "camelCase" else ("webhook_url", "workflow_id")
    result = client.deploy_trigger(
        "slack-new-message-in-channels",
        "user-1",
        {"conversations": ["C1"]},
        **{names[0]: "https://app.example.com/hook", names[1]: "p_abc"},
    )
    assert replica.last_request.json() == {
        "id": "slack-new-message-in-channels",
        "external_user_id": "user-1",
        "configured_props": {"conversations": ["C1"]},
        "workflow_id": "p_abc",
        "webhook_url": "https://app.example.com/hook",
    }
    assert replica.last_request.headers["content-type"] == "application/json"
    trigger_id = result["data"]["id"]
    assert client.get_deployed_trigger_webhooks(trigger_id, "user-1")["webhook_urls"] == [
        "https://app.example.com/hook"
    ]
    assert client.get_deployed_trigger_workflows(trigger_id, "user-1") == {"workflow_ids": ["p_abc"]}


def test_original_positional_webhook_and_workflow_arguments(client: SyncPipedreamClient, replica: Any) -> None:
    client.deploy_trigger("github-new-commit", "user-1", {}, "https://a.example/h", "p_1", "dyp_1")
    body = replica.last_request.json()
    assert (body["webhook_url"], body["workflow_id"], body["dynamic_props_id"]) == (
        "https://a.example/h",
        "p_1",
        "dyp_1",
    )
    assert not {"webhookUrl", "workflowId"} & set(body)


@pytest.mark.parametrize("spelling", ["camelCase", "snake_case", "positional"])
def test_listener_updates_send_webhook_urls_and_workflow_ids(
    spelling: str, client: SyncPipedreamClient, replica: Any
) -> None:
    trigger_id = client.get_deployed_triggers("user-1", limit=1)["data"][0]["id"]
    urls, ids = ["https://a.example/1", "https://a.example/2"], ["p_1"]
    if spelling == "positional":
        client.update_deployed_trigger_webhooks(trigger_id, "user-1", urls)
        hooks_body = replica.last_request.json()
        client.update_deployed_trigger_workflows(trigger_id, "user-1", ids)
    else:
        camel = spelling == "camelCase"
        client.update_deployed_trigger_webhooks(
            trigger_id, "user-1", **{"webhookUrls" if camel else "webhook_urls": urls}
        )
        hooks_body = replica.last_request.json()
        client.update_deployed_trigger_workflows(
            trigger_id, "user-1", **{"workflowIds" if camel else "workflow_ids": ids}
        )
    assert hooks_body == {"webhook_urls": urls}
    assert replica.last_request.json() == {"workflow_ids": ids}
    assert replica.last_request.query == [("external_user_id", "user-1")]
    assert replica.last_request.path.endswith("/pipelines")


def test_query_booleans_and_repeated_list_keys(client: SyncPipedreamClient, replica: Any) -> None:
    client.get_apps(has_actions=True, has_triggers=False, category_ids=["appcat_communication", "appcat_crm"])
    assert replica.last_request.query == [
        ("has_actions", "true"),
        ("has_triggers", "false"),
        ("category_ids", "appcat_communication"),
        ("category_ids", "appcat_crm"),
    ]
    trigger_id = client.get_deployed_triggers("user-1", limit=1)["data"][0]["id"]
    client.delete_deployed_trigger(trigger_id, "user-1", ignore_hook_errors=True)
    assert replica.last_request.query == [("external_user_id", "user-1"), ("ignore_hook_errors", "true")]


def test_update_deployed_trigger_sends_only_given_fields(client: SyncPipedreamClient, replica: Any) -> None:
    trigger_id = client.get_deployed_triggers("user-1", limit=1)["data"][0]["id"]
    result = client.update_deployed_trigger(trigger_id, "user-1", active=False)
    assert replica.last_request.json() == {"active": False}
    assert result["data"]["active"] is False and "data" not in result["data"]  # not re-wrapped


# ---------------------------------------------------------------------------------------------
# Proxy
# ---------------------------------------------------------------------------------------------


def _proxy_target(request: Any) -> str:
    encoded = request.path.rsplit("/", 1)[1]
    assert "=" not in encoded and "+" not in encoded and "/" not in encoded
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


def test_proxy_request_python_shape(client: SyncPipedreamClient, replica: Any) -> None:
    account = pipedream_replica._stable_id("apn", "user-1/slack")
    url = "https://slack.com/api/chat.postMessage?unfurl=false&x=%C3%A9"
    echo = client.make_proxy_request(
        {"external_user_id": "user-1", "account_id": account},
        {"url": url, "method": "post", "headers": {"Notion-Version": "2022-06-28"}, "json": {"text": "hi"}},
    )
    assert echo == {
        "method": "POST",
        "url": url,
        "headers": {"notion-version": "2022-06-28"},
        "body": {"text": "hi"},
        "external_user_id": "user-1",
        "account_id": account,
        "app": "slack",
    }
    request = replica.last_request
    assert _proxy_target(request) == url
    assert request.query == [("external_user_id", "user-1"), ("account_id", account)]
    assert request.headers["x-pd-proxy-notion-version"] == "2022-06-28"
    assert request.headers["x-pd-environment"] == "development"
    assert request.headers["content-type"] == "application/json"


def test_proxy_request_typescript_shape(client: SyncPipedreamClient, replica: Any) -> None:
    account = pipedream_replica._stable_id("apn", "user-1/github")
    echo = client.make_proxy_request(
        {"searchParams": {"external_user_id": "user-1", "account_id": account}},
        {"url": "https://api.github.com/user/repos", "options": {"method": "GET", "headers": {"Accept": "x"}}},
    )
    assert echo["method"] == "GET" and echo["url"] == "https://api.github.com/user/repos"
    assert echo["headers"] == {"accept": "x"} and echo["body"] is None and echo["app"] == "github"
    assert replica.last_request.body == b"" and "content-type" not in replica.last_request.headers


def test_proxy_post_without_body_sends_empty_object_and_text_comes_back_as_text(
    client: SyncPipedreamClient, replica: Any
) -> None:
    account = pipedream_replica._stable_id("apn", "user-1/slack")
    text = client.make_proxy_request(
        {"external_user_id": "user-1", "account_id": account}, {"url": "https://slack.com/api/text", "method": "PATCH"}
    )
    assert text == "plain text from https://slack.com/api/text"
    assert replica.last_request.body == b"{}"
    assert (
        client.make_proxy_request(
            {"external_user_id": "user-1", "account_id": account},
            {"url": "https://slack.com/api/empty", "method": "DELETE"},
        )
        is None
    )
    with pytest.raises(PipedreamApiError) as caught:
        client.make_proxy_request(
            {"external_user_id": "user-1", "account_id": account},
            {"url": "https://slack.com/api/status/502", "method": "POST", "body": {"a": 1}},
        )
    assert caught.value.status_code == 502 and caught.value.detail == "upstream answered 502"
    assert replica.count("POST", replica.last_request.path) == 1  # a proxied write is not retried


@pytest.mark.parametrize(
    "json_value, data, form, headers, body, content_type",
    [
        ({"a": 1}, None, False, {}, b'{"a":1}', "application/json"),
        (None, [1, 2], False, {}, b"[1,2]", "application/json"),  # the proxy sends a list as JSON
        (None, {"a": "1 2"}, False, {}, b'{"a":"1 2"}', "application/json"),
        (None, {"a": "1 2"}, True, {}, b"a=1%202", "application/x-www-form-urlencoded"),  # a workflow form
        (None, {"a": "b"}, True, {"Content-Type": "x/y"}, b"a=b", "x/y"),  # a form keeps the caller's type
        ({"a": 1}, None, True, {"Content-Type": "x/y"}, b'{"a":1}', "application/json"),  # JSON is JSON
        (None, "caf\u00e9", False, {}, "caf\u00e9".encode(), None),
        (None, bytearray(b"\x00\x01"), True, {}, b"\x00\x01", None),
        (None, None, False, {}, None, None),
    ],
)
def test_one_body_encoding_for_the_proxy_and_workflows(
    json_value: Any, data: Any, form: bool, headers: Dict[str, str], body: Optional[bytes], content_type: Optional[str]
) -> None:
    headers = dict(headers)
    assert pipedream._encode_body(headers, json_value, data, "json", "body", form=form) == body
    assert headers.get("Content-Type") == content_type


@pytest.mark.parametrize(
    "json_value, data, form, message",
    [
        ({"a": 1}, "x", False, "pass json or body, not both"),
        (None, 12, False, "body must be a mapping, list, str or bytes"),
        (None, [1], True, "body must be a mapping, str or bytes"),
        ({"a": {1, 2}}, None, False, "json is not JSON-serialisable"),
    ],
)
def test_a_body_that_cannot_be_encoded_is_a_value_error(json_value: Any, data: Any, form: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pipedream._encode_body({}, json_value, data, "json", "body", form=form)


# ---------------------------------------------------------------------------------------------
# Workflows
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, expected",
    [
        ("en123abc", "https://en123abc.m.pipedream.net"),
        ("eo9-x", "https://eo9-x.m.pipedream.net"),
        ("EN123ABC", "https://en123abc.m.pipedream.net"),
        (" en123abc ", "https://en123abc.m.pipedream.net"),
        ("https://en123abc.m.pipedream.net/path?q=1", "https://en123abc.m.pipedream.net/path?q=1"),
        ("en123abc.m.pipedream.net/x", "https://en123abc.m.pipedream.net/x"),
        ("https://m.pipedream.net/x", "https://m.pipedream.net/x"),
    ],
)
def test_workflow_url_resolution(given: str, expected: str) -> None:
    with SyncPipedreamClient("id", "secret", "proj_x", "development", proxy=False) as c:
        assert c._workflow_url(given) == expected


def test_workflow_url_resolution_with_another_domain() -> None:
    with SyncPipedreamClient("id", "secret", "proj_x", "development", workflow_domain="Example.COM.") as c:
        assert c._workflow_url("en1") == "https://en1.example.com"
        with pytest.raises(ValueError):
            c._workflow_url("https://en1.m.pipedream.net")


def test_invoke_workflow_auth_none(client: SyncPipedreamClient, replica: Any) -> None:
    echo = client.invoke_workflow(
        replica.workflow_url("orders?x=1&x=2"), json_data={"order": 1}, headers={"X-Trace": "t1"}
    )
    assert echo["method"] == "POST" and echo["path"] == "/orders" and echo["query"] == {"x": ["1", "2"]}
    assert echo["body"] == {"order": 1} and echo["headers"]["x-trace"] == "t1"
    assert echo["headers"]["content-type"] == "application/json"
    assert "authorization" not in echo["headers"] and "x-pd-environment" not in echo["headers"]
    assert replica.token_requests == 0


def test_invoke_workflow_oauth_and_static_bearer(client: SyncPipedreamClient, replica: Any) -> None:
    echo = client.invoke_workflow(replica.workflow_url("a"), "GET", auth_type="oauth")
    assert echo["headers"]["authorization"] == "Bearer " + next(iter(replica.tokens))
    assert echo["body"] is None
    echo = client.invoke_workflow(
        replica.workflow_url("b"),
        "PUT",
        {"Authorization": "Bearer wf-token"},
        data={"a": "1 2"},
        auth_type="static_bearer_token",
    )
    assert echo["headers"]["authorization"] == "Bearer wf-token"
    assert echo["body"] == "a=1%202" and echo["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert replica.token_requests == 1


def test_invoke_workflow_for_external_user(client: SyncPipedreamClient, replica: Any) -> None:
    echo = client.invoke_workflow_for_external_user(replica.workflow_url(""), "user-1", json_data={"a": 1})
    headers = echo["headers"]
    assert headers["x-pd-external-user-id"] == "user-1" and headers["x-pd-environment"] == "development"
    assert headers["authorization"] == "Bearer " + next(iter(replica.tokens))
    with pytest.raises(PipedreamApiError) as caught:
        client.invoke_workflow_for_external_user(replica.workflow_url("not-found"), "user-2")
    assert caught.value.status_code == 404
    assert caught.value.detail.startswith(
        "Pipedream Connect Error: Required account for hubspot not found for external user ID user-2 in development"
    )


def test_async_workflow_and_proxy(replica: Any) -> None:
    account = pipedream_replica._stable_id("apn", "user-1/slack")

    async def main() -> None:
        async with async_client(replica) as client:
            echo = await client.invoke_workflow_for_external_user(replica.workflow_url("x"), "user-1", "PATCH")
            assert echo["method"] == "PATCH" and echo["headers"]["x-pd-external-user-id"] == "user-1"
            echo = await client.make_proxy_request(
                {"external_user_id": "user-1", "account_id": account}, {"url": "https://slack.com/api/auth.test"}
            )
            assert echo["method"] == "GET" and echo["url"] == "https://slack.com/api/auth.test"

    run(main)


# ---------------------------------------------------------------------------------------------
# Pagination: iterators follow end_cursor, one page at a time, only when needed
# ---------------------------------------------------------------------------------------------


def test_sync_iterator_fetches_pages_on_demand(client: SyncPipedreamClient, replica: Any) -> None:
    pages = lambda: replica.count("GET", "/v1/connect/apps")  # noqa: E731
    apps = client.iter_apps(limit=5)
    assert pages() == 0  # nothing until the first item is asked for
    first = [next(apps) for _ in range(5)]
    assert pages() == 1
    sixth = next(apps)
    assert pages() == 2
    rest = list(apps)
    assert pages() == 3  # 12 apps: 5 + 5 + 2, and no request after the last page
    names = [a["name_slug"] for a in first + [sixth] + rest]
    assert names == [a["name_slug"] for a in replica.apps] and len(names) == 12
    queries = [r.query_dict() for r in replica.requests if r.path == "/v1/connect/apps"]
    assert queries[0] == {"limit": "5"}
    assert queries[1] == {"limit": "5", "after": pipedream_replica.cursor(first[-1]["id"])}
    assert queries[2] == {"limit": "5", "after": pipedream_replica.cursor(replica.apps[9]["id"])}


def test_sync_iterators_of_accounts_components_and_deployed_triggers(client: SyncPipedreamClient, replica: Any) -> None:
    accounts = list(client.iter_accounts(external_user_id="user-1", limit=3))
    assert len(accounts) == 4 and {a["external_id"] for a in accounts} == {"user-1"}
    assert replica.count("GET", "/v1/connect/proj_demo/accounts") == 2
    actions = list(client.iter_components("actions", limit=4))
    assert len(actions) == 6 and all(a["component_type"] == "action" for a in actions)
    assert replica.count("GET", "/v1/connect/proj_demo/actions") == 2
    triggers = list(client.iter_deployed_triggers("user-1", limit=1))
    assert len(triggers) == 3 and replica.count("GET", "/v1/connect/proj_demo/deployed-triggers") == 3


def test_async_iterator_fetches_pages_on_demand(replica: Any) -> None:
    pages = lambda: replica.count("GET", "/v1/connect/apps")  # noqa: E731

    async def main() -> List[str]:
        seen: List[str] = []
        async with async_client(replica) as client:
            iterator = client.iter_apps(limit=4)
            assert pages() == 0
            async for app in iterator:
                seen.append(app["name_slug"])
                assert pages() == (len(seen) - 1) // 4 + 1  # the page holding this item, no further
                if len(seen) == 6:
                    break
            assert pages() == 2
            async for account in client.iter_accounts(external_user_id="user-1", limit=2):
                seen.append(account["id"])
            triggers = [t async for t in client.iter_deployed_triggers("user-1", limit=2)]
            assert len(triggers) == 3
        return seen

    seen = run(main)
    assert seen[:6] == [a["name_slug"] for a in replica.apps[:6]] and len(seen) == 10
    assert replica.count("GET", "/v1/connect/proj_demo/accounts") == 2


# ---------------------------------------------------------------------------------------------
# Rate-limit tokens
# ---------------------------------------------------------------------------------------------


def test_rate_limit_token_is_sent_by_the_view_only(client: SyncPipedreamClient, replica: Any) -> None:
    result = client.create_rate_limit(window_size_seconds=60, requests_per_window=5)
    assert replica.last_request.path == "/v1/connect/rate_limits"
    assert replica.last_request.json() == {"window_size_seconds": 60, "requests_per_window": 5}
    token = result["token"]
    limited = client.with_options(rate_limit_token=token)
    limited.get_accounts(external_user_id="user-1")
    assert replica.last_request.headers["x-pd-rate-limit"] == token
    client.get_accounts(external_user_id="user-1")
    assert "x-pd-rate-limit" not in replica.last_request.headers
    assert replica.token_requests == 1  # the view shares the client's token
    assert replica.rate_limits[token]["used"] == 1


def test_rate_limit_window_used_up_is_429(client: SyncPipedreamClient, replica: Any) -> None:
    token = client.create_rate_limit(60, 1)["token"]
    limited = client.with_options(rate_limit_token=token, max_retries=0)
    limited.get_project_info()
    with pytest.raises(PipedreamApiError) as caught:
        limited.get_project_info()
    assert caught.value.status_code == 429 and caught.value.headers["retry-after"] == "60"


def test_async_rate_limit_token(replica: Any) -> None:
    async def main() -> str:
        async with async_client(replica) as client:
            token = (await client.create_rate_limit(10, 100))["token"]
            await client.with_options(rate_limit_token=token).get_apps(limit=1)
            return token

    token = run(main)
    assert replica.last_request.headers["x-pd-rate-limit"] == token


# ---------------------------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------------------------


def test_sequential_calls_reuse_one_kept_alive_connection(client: SyncPipedreamClient, replica: Any) -> None:
    client.get_project_info()
    client.get_apps(limit=2)
    client.create_connect_token("user-9")
    client.delete_external_user("user-9")
    assert replica.request_count == 5 and replica.connections == 1


def test_concurrent_calls_after_a_revocation_share_one_new_token(replica: Any) -> None:
    async def main() -> None:
        async with async_client(replica) as client:
            await client.get_project_info()
            replica.revoke_tokens()
            results = await asyncio.gather(*(client.get_apps(limit=1) for _ in range(20)))
            assert all(r["data"] for r in results)

    run(main)
    assert replica.token_requests == 2  # one at the start, one refresh however many calls got a 401


# ---------------------------------------------------------------------------------------------
# The demo's Pipedream flow (examples/demo.py)
# ---------------------------------------------------------------------------------------------


def run_demo(env: Dict[str, str], argv: List[str]) -> Any:
    import demo

    lines: List[str] = []
    return demo.main(argv, env=env, out=lines.append), lines


def test_demo_pipedream_flow_runs_offline_on_the_replica() -> None:
    code, lines = run_demo({}, ["--only", "pipedream"])
    assert code == 0, lines
    text = "\n".join(lines)
    assert lines[0].startswith("== Pipedream: offline, bundled replica at http://127.0.0.1:")
    for expected in [
        "1. OAuth token (client credentials): 1 token request, then cached for every call",
        "2. create_connect_token('user-1'): ctok_",
        "3. get_apps(q='slack', limit=3): Slack (slack)",
        "4. get_accounts(external_user_id='user-1'): 4 connected account(s)",
        "5. get_components('actions', app_filter='slack'): slack-send-message, slack-list-channels",
        "6. get_component('actions', 'slack-send-message'): Send Message",
        "7. run_action('slack-send-message', 'user-1'): Ran Send Message for user-1",
        "8. deploy_trigger('slack-new-message-in-channels', 'user-1'",
        "9. get_deployed_triggers('user-1'): 4 deployed trigger(s)",
        "10. invoke_workflow_for_external_user(",
        "with X-PD-External-User-ID user-1, X-PD-Environment development",
        "11. make_proxy_request(GET https://slack.com/api/auth.test",
        "12. get_app('no-such-app-demo'): PipedreamApiError, status 404",
        "Pipedream flow completed.",
    ]:
        assert expected in text, expected
    assert "ctok_" in text and not any(len(word) > 20 and word.startswith("ctok_") for word in text.split())


def test_demo_pipedream_flow_live_only_reads(replica: Any) -> None:
    env = {
        "PIPEDREAM_CLIENT_ID": CLIENT_ID,
        "PIPEDREAM_CLIENT_SECRET": CLIENT_SECRET,
        "PIPEDREAM_PROJECT_ID": PROJECT_ID,
        "PIPEDREAM_BASE_URL": replica.base_url,
    }
    code, lines = run_demo(env, ["--only", "pipedream"])
    assert code == 0 and lines[0] == "== Pipedream: live API at %s, project proj_demo (development) ==" % (
        replica.base_url
    )
    for skipped in (
        "7. run_action: skipped",
        "8. deploy_trigger: skipped",
        "10. invoke_workflow: skipped",
        "11. make_proxy_request: skipped",
    ):
        assert any(line.startswith(skipped) for line in lines), skipped
    writes = [(r.method, r.path) for r in replica.requests if r.method != "GET"]
    assert writes == [("POST", "/v1/oauth/token"), ("POST", "/v1/connect/proj_demo/tokens")]
    assert "4. get_accounts(external_user_id='demo-user'): 1 connected account(s)" in lines


def test_demo_pipedream_flow_fails_with_status_1_and_no_secret(replica: Any, capsys: pytest.CaptureFixture) -> None:
    env = {
        "PIPEDREAM_CLIENT_ID": CLIENT_ID,
        "PIPEDREAM_CLIENT_SECRET": "wrong-secret-77aa01",
        "PIPEDREAM_PROJECT_ID": PROJECT_ID,
        "PIPEDREAM_BASE_URL": replica.base_url,
    }
    code, lines = run_demo(env, ["--only", "pipedream"])
    assert code == 1 and lines[-1] == "Pipedream flow FAILED."
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "Client authentication failed" in err and "wrong-secret-77aa01" not in err


def test_demo_offline_flag_ignores_pipedream_credentials(replica: Any) -> None:
    env = {
        "PIPEDREAM_CLIENT_ID": "x",
        "PIPEDREAM_CLIENT_SECRET": "y",
        "PIPEDREAM_PROJECT_ID": "proj_x",
        "PIPEDREAM_BASE_URL": replica.base_url,
    }
    code, lines = run_demo(env, ["--only", "pipedream", "--offline"])
    assert code == 0 and "offline" in lines[0] and replica.request_count == 0


# -- a 401 that is not Pipedream's verdict on the token ------------------------------------


def test_a_401_from_a_workflow_is_raised_without_refresh_or_resend(client: SyncPipedreamClient, replica: Any) -> None:
    url = replica.workflow_url("orders")
    replica.fail_next(401, {"error": "workflow says no"}, path_contains="/wf/orders")
    with pytest.raises(PipedreamApiError) as caught:
        client.invoke_workflow(url, json_data={"order": 1}, auth_type="oauth")
    assert not isinstance(caught.value, PipedreamAuthError)  # the workflow's 401, not Pipedream's
    assert caught.value.status_code == 401
    assert replica.count("POST", "/wf/orders") == 1  # never run twice
    assert replica.token_requests == 1


def test_a_401_relayed_by_the_proxy_is_raised_without_refresh_or_resend(
    client: SyncPipedreamClient, replica: Any
) -> None:
    replica.fail_next(401, {"error": "upstream app refused the credentials"}, path_contains="/proxy/")
    with pytest.raises(PipedreamApiError) as caught:
        client.make_proxy_request(
            {"external_user_id": "u1", "account_id": "apn_1"},
            {"url": "https://slack.com/api/chat.postMessage", "method": "POST", "json": {}},
        )
    assert not isinstance(caught.value, PipedreamAuthError) and caught.value.status_code == 401
    assert sum(1 for r in replica.requests if "/proxy/" in r.path) == 1
    assert replica.token_requests == 1


def test_a_401_from_the_storage_host_of_a_download_is_raised_without_refresh_or_resend(
    client: SyncPipedreamClient, replica: Any, tmp_path: Any
) -> None:
    replica.fail_next(401, {"error": "signature expired"}, path_contains="/stash-objects/")
    with pytest.raises(PipedreamApiError) as caught:
        client.download_file("redirect/stash/demo/report.csv", tmp_path / "report.csv")
    assert not isinstance(caught.value, PipedreamAuthError) and caught.value.status_code == 401
    assert sum(1 for r in replica.requests if "/stash-objects/" in r.path) == 1
    assert replica.token_requests == 1 and not (tmp_path / "report.csv").exists()


@pytest.mark.parametrize("token", ["two words", "caf\u00e9-token", "line\nbreak"])
def test_an_access_token_that_cannot_be_sent_in_a_header_is_an_auth_error(
    client: SyncPipedreamClient, replica: Any, token: str
) -> None:
    replica.fail_next(200, {"access_token": token, "expires_in": 3600}, path_contains="/oauth/token")
    with pytest.raises(PipedreamAuthError, match="access_token cannot be sent in a header") as caught:
        client.get_project_info()
    assert token not in str(caught.value) + repr(caught.value.__dict__)
    assert client.token_requests == 1 and [r.path for r in replica.requests] == ["/v1/oauth/token"]  # no API call


def test_a_download_on_a_closed_client_sends_nothing(client: SyncPipedreamClient, replica: Any, tmp_path: Any) -> None:
    client.close()
    with pytest.raises(RuntimeError, match="this client is closed"):
        client.download_file("report.csv", tmp_path / "report.csv")
    assert replica.request_count == 0 and replica.token_requests == 0


def test_workflow_urls_must_be_https_except_on_loopback(replica: Any) -> None:
    with SyncPipedreamClient(CLIENT_ID, CLIENT_SECRET, PROJECT_ID, "development", base_url=replica.base_url) as c:
        with pytest.raises(ValueError, match="https"):
            c.invoke_workflow("http://en123abc.m.pipedream.net/path", auth_type="oauth")
        assert c._workflow_url("https://en123abc.m.pipedream.net/p?q=1") == "https://en123abc.m.pipedream.net/p?q=1"
    assert replica.request_count == 0


@pytest.mark.parametrize("headers", [[("X-A", "1")], "X-A: 1"])
def test_headers_that_are_not_a_mapping_are_a_value_error(replica: Any, headers: Any) -> None:
    with pytest.raises(ValueError, match="headers must be a mapping"):
        SyncPipedreamClient(
            CLIENT_ID, CLIENT_SECRET, PROJECT_ID, "development", base_url=replica.base_url, headers=headers
        )
    assert replica.request_count == 0


def test_the_token_request_does_not_carry_the_rate_limit_token(client: SyncPipedreamClient, replica: Any) -> None:
    limit = client.create_rate_limit(window_size_seconds=60, requests_per_window=100)["token"]
    client._tokens.invalidate(client._tokens.token(client, _time.monotonic() + 10))  # the next call fetches one again
    client.with_options(rate_limit_token=limit).get_project_info()
    token_request, api_request = replica.requests[-2:]
    assert token_request.path == "/v1/oauth/token" and "x-pd-rate-limit" not in token_request.headers
    assert api_request.headers.get("x-pd-rate-limit") == limit


# =============================================================================================
# Beyond the README's methods
# =============================================================================================

USER = "user-1"
TRIGGER = pipedream_replica._stable_id("dc", "user-1/slack-new-message-in-channels")
WEBHOOK = pipedream_replica._stable_id("hook", TRIGGER + "https://hooks.example.com/" + TRIGGER)
REPORT = b"id,name\n1,Alice\n2,Bob\n"


def api_requests(replica: Any) -> List[Any]:
    return [r for r in replica.requests if r.path != "/v1/oauth/token"]


# ---------------------------------------------------------------------------------------------
# Raw responses: one view, every method
# ---------------------------------------------------------------------------------------------


def test_raw_response_has_status_headers_request_id_and_the_usual_data(
    client: SyncPipedreamClient, replica: Any
) -> None:
    raw = client.with_raw_response.get_app("slack")
    assert isinstance(raw, RawResponse) and raw.status_code == 200
    assert raw.request_id == raw.headers["x-request-id"] == "req_000002"  # the call's, not the token's
    assert raw.headers["content-type"] == "application/json" and all(k == k.lower() for k in raw.headers)
    assert raw.data == client.get_app("slack")
    assert "RawResponse(status_code=200" in repr(raw)
    deleted = client.with_raw_response.delete_account(pipedream_replica._stable_id("apn", "user-2/gmail"))
    assert deleted.status_code == 204 and deleted.data is None and deleted.request_id


def test_raw_response_of_every_kind_of_method(client: SyncPipedreamClient, replica: Any) -> None:
    raw = client.with_raw_response
    assert isinstance(raw.get_app_categories().data, list)  # a bare list body
    assert raw.run_action("slack-list-channels", USER).data["exports"]  # a write
    assert raw.make_proxy_request(
        {"external_user_id": USER, "account_id": pipedream_replica._stable_id("apn", "user-1/slack")},
        {"url": "https://slack.com/api/text"},
    ).data.startswith("plain text")
    workflow = raw.invoke_workflow(replica.workflow_url("x"), json_data={"a": 1})
    assert workflow.status_code == 200 and workflow.data["body"] == {"a": 1}
    download = raw.download_file("stash/demo/report.csv", io.BytesIO())
    assert download.data == len(REPORT) and download.headers["content-type"] == "application/octet-stream"


def test_raw_response_after_a_token_refresh_is_the_retried_call(client: SyncPipedreamClient, replica: Any) -> None:
    client.get_project_info()
    replica.revoke_tokens()
    raw = client.with_raw_response.get_project_info()
    refused, token, retried = replica.requests[-3:]
    assert token.path == "/v1/oauth/token" and refused.path == retried.path
    assert raw.status_code == 200 and raw.request_id == "req_%06d" % replica.request_count  # the retried call's
    assert client.token_requests == 2


def test_errors_are_raised_through_the_raw_view(client: SyncPipedreamClient) -> None:
    with pytest.raises(PipedreamApiError) as caught:
        client.with_raw_response.get_app("no-such-app")
    assert caught.value.status_code == 404 and caught.value.request_id
    with pytest.raises(ValueError):
        client.with_raw_response.get_app("")


def test_raw_view_keeps_options_and_iterators_yield_items(client: SyncPipedreamClient, replica: Any) -> None:
    raw = client.with_raw_response.with_options(query={"limit": 2}, headers={"X-Trace": "t1"})
    page = raw.get_apps()
    assert isinstance(page, RawResponse) and len(page.data["data"]) == 2
    assert replica.last_request.headers["x-trace"] == "t1"
    raw_first = client.with_options(max_retries=0).with_raw_response.get_users(limit=1)
    assert raw_first.data["page_info"]["count"] == 1
    assert len(list(client.with_raw_response.iter_apps(limit=5))) == 12
    assert client.with_raw_response.project_id == PROJECT_ID
    client.with_raw_response.close()  # the view does not own the connections
    assert client.get_project_info()["apps"]


def test_raw_responses_from_concurrent_threads_do_not_mix(client: SyncPipedreamClient) -> None:

    raw = client.with_raw_response
    results: Dict[str, Any] = {}
    barrier = threading.Barrier(8)

    def call(slug: str) -> None:
        barrier.wait()
        results[slug] = raw.get_app(slug)

    slugs = ["slack", "github", "notion", "gmail", "hubspot", "discord", "openai", "stripe"]
    threads = [threading.Thread(target=call, args=(s,)) for s in slugs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {s: r.data["data"]["name_slug"] for s, r in results.items()} == {s: s for s in slugs}
    assert len({r.request_id for r in results.values()}) == 8


def test_async_raw_responses(replica: Any) -> None:
    async def main() -> None:
        async with async_client(replica) as client:
            raw = client.with_raw_response
            results = await asyncio.gather(
                raw.get_app("slack"), raw.get_projects(), raw.delete_project_webhook(), return_exceptions=True
            )
            app, projects, missing = results
            assert isinstance(app, RawResponse) and app.data["data"]["name_slug"] == "slack"
            assert projects.data["data"][0]["id"] == PROJECT_ID and projects.request_id
            assert isinstance(missing, PipedreamApiError) and missing.status_code == 404
            users = [u async for u in raw.iter_users(limit=1)]  # pages through the raw view
            assert len(users) == 4
            limited = await raw.with_options(query={"limit": 1}).get_apps()
            assert limited.data["page_info"]["count"] == 1
            assert raw.project_id == PROJECT_ID
            await raw.close()  # a view: closes nothing
            assert (await client.get_app("github"))["data"]["name_slug"] == "github"

    asyncio.run(main())


# ---------------------------------------------------------------------------------------------
# Per-call options
# ---------------------------------------------------------------------------------------------


def test_extra_query_parameters_on_api_calls_only(client: SyncPipedreamClient, replica: Any) -> None:
    view = client.with_options(query={"limit": 1, "q": "slack", "category_ids": ["a", "b"]})
    view.get_apps(limit=5)  # the extra value wins, as in the official SDK
    assert sorted(replica.last_request.query) == [
        ("category_ids", "a"),
        ("category_ids", "b"),
        ("limit", "1"),
        ("q", "slack"),
    ]
    client.with_options(query={"q": None}).get_apps(q="x", limit=2)  # None removes a parameter
    assert replica.last_request.query == [("limit", "2")]
    replica.revoke_tokens()
    view.with_options(query={"trace": "t-1"}).get_project_info()  # views compose
    token_request, call = replica.requests[-2:]
    assert token_request.path == "/v1/oauth/token" and token_request.query == []
    assert call.query_dict() == {"limit": "1", "q": "slack", "category_ids": ["a", "b"], "trace": "t-1"}
    echo = view.invoke_workflow(replica.workflow_url("hook"), "GET")
    assert echo["query"] == {}  # not sent to workflows
    view.make_proxy_request(
        {"external_user_id": USER, "account_id": pipedream_replica._stable_id("apn", "user-1/slack")},
        {"url": "https://slack.com/api/auth.test"},
    )
    assert [k for k, _ in replica.last_request.query] == ["external_user_id", "account_id"]  # nor to the proxy
    client.get_apps(limit=3)
    assert replica.last_request.query == [("limit", "3")]  # the client itself is unchanged


def test_per_call_timeout_retries_and_headers(client: SyncPipedreamClient, replica: Any) -> None:
    view = client.with_options(timeout=5, max_retries=0, headers={"X-Request-Source": "batch"})
    assert (view.timeout, view.max_retries) == (5.0, 0) and (client.timeout, client.max_retries) == (60.0, 2)
    replica.fail_next(503, {"error": "busy"}, headers={"Retry-After": "0"})
    with pytest.raises(PipedreamApiError) as caught:
        view.get_usage(1767225600, 1767312000)
    assert caught.value.status_code == 503
    assert replica.last_request.headers["x-request-source"] == "batch"
    replica.fail_next(503, {"error": "busy"}, headers={"Retry-After": "0"})
    assert client.get_usage(1767225600, 1767312000)["data"]  # the client retries


@pytest.mark.parametrize("query", ["limit=1", {"": 1}, {1: "a"}, {"a": {"b": 1}}.items()])
def test_bad_extra_query_is_a_value_error(client: SyncPipedreamClient, query: Any) -> None:
    with pytest.raises(ValueError):
        client.with_options(query=query)


# ---------------------------------------------------------------------------------------------
# Pagination of the new list endpoints
# ---------------------------------------------------------------------------------------------


def test_new_sync_iterators(client: SyncPipedreamClient, replica: Any) -> None:
    users = list(client.iter_users(limit=3))
    assert [u["external_id"] for u in users] == ["demo-user", "some-unique-user-id", "user-1", "user-2"]
    assert replica.count("GET", "/v1/connect/proj_demo/users") == 2
    assert [p["id"] for p in client.iter_projects(limit=1)] == [p["id"] for p in replica.projects]
    assert replica.count("GET", "/v1/connect/projects") == 3
    assert len(list(client.iter_app_overrides(limit=2))) == 3
    assert [a["name_slug"] for a in client.iter_oauth_apps(limit=1)] == ["slack", "github"]
    assert [o["app"]["name_slug"] for o in client.iter_app_overrides(app_filter="github")] == ["github"]
    queries = [r.query_dict() for r in replica.requests if r.path.endswith("/oauth_apps")]
    assert queries == [{"limit": "1"}, {"limit": "1", "after": pipedream_replica.cursor(replica.oauth_apps[0]["id"])}]


def test_new_async_iterators(replica: Any) -> None:
    async def main() -> Dict[str, int]:
        async with async_client(replica) as client:
            return {
                "users": len([u async for u in client.iter_users(limit=2)]),
                "projects": len([p async for p in client.iter_projects(limit=2)]),
                "overrides": len([o async for o in client.iter_app_overrides(limit=1)]),
                "oauth_apps": len([a async for a in client.iter_oauth_apps(limit=1)]),
            }

    assert asyncio.run(main()) == {"users": 4, "projects": 3, "overrides": 3, "oauth_apps": 2}


# ---------------------------------------------------------------------------------------------
# File Stash downloads
# ---------------------------------------------------------------------------------------------


def test_download_to_a_path_streams_in_chunks(
    client: SyncPipedreamClient, replica: Any, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 3 * 1024 * 1024 + 17
    writes: List[int] = []
    import pipedream

    real_write = pipedream._FileSink.write

    def counting_write(self: Any, chunk: bytes) -> None:
        writes.append(len(chunk))
        real_write(self, chunk)

    monkeypatch.setattr(pipedream._FileSink, "write", counting_write)
    target = tmp_path / "large.bin"
    assert client.download_file("large/%d" % size, target) == size
    assert target.read_bytes() == pipedream_replica._stash_bytes(size)
    assert max(writes) <= 64 * 1024 and len(writes) >= size // (64 * 1024)  # never the whole file at once
    assert replica.last_request.query == [("s3_key", "large/%d" % size)]
    assert client.download_file("stash/demo/empty.txt", str(tmp_path / "empty.txt")) == 0
    assert (tmp_path / "empty.txt").read_bytes() == b""  # an empty file, created


def test_download_to_a_file_object(client: SyncPipedreamClient) -> None:
    buffer = io.BytesIO(b"header:")
    buffer.seek(0, io.SEEK_END)
    assert client.download_file("stash/demo/report.csv", buffer) == len(REPORT)
    assert buffer.getvalue() == b"header:" + REPORT


def test_a_missing_file_leaves_an_existing_path_alone(client: SyncPipedreamClient, tmp_path: pathlib.Path) -> None:
    target = tmp_path / "keep.csv"
    target.write_bytes(b"old content")
    with pytest.raises(PipedreamApiError) as caught:
        client.download_file("stash/missing.csv", target)
    assert caught.value.status_code == 404 and "not found" in caught.value.detail
    assert target.read_bytes() == b"old content"
    with pytest.raises(PipedreamApiError):
        client.download_file("stash/missing.csv", tmp_path / "new.csv")
    assert not (tmp_path / "new.csv").exists()


def _static_client(server: Any, **options: Any) -> SyncPipedreamClient:
    return SyncPipedreamClient(
        None, None, "proj_x", "development", access_token="static-token-1234", base_url=server.url, **options
    )


def test_a_download_cut_off_half_way_removes_the_partial_file(http_server: Any, tmp_path: pathlib.Path) -> None:
    http_server.add(
        "/v1/connect/proj_x/file_stash/download",
        Response(200, body=b"x" * 200_000, content_type="application/octet-stream", fault="truncate"),
    )
    target = tmp_path / "partial.bin"
    with _static_client(http_server) as client, pytest.raises(PipedreamApiError) as caught:
        client.download_file("big.bin", target)
    assert caught.value.status_code is None and "processed" not in str(caught.value)
    assert not target.exists()
    assert http_server.count("/v1/connect/proj_x/file_stash/download") == 1  # bytes were delivered: no retry


def test_a_download_cut_off_half_way_cuts_a_file_object_back(http_server: Any) -> None:
    http_server.add(
        "/v1/connect/proj_x/file_stash/download",
        Response(200, body=b"x" * 200_000, content_type="application/octet-stream", fault="truncate"),
    )
    buffer = io.BytesIO()
    buffer.write(b"kept")
    with _static_client(http_server) as client, pytest.raises(PipedreamApiError):
        client.download_file("big.bin", buffer)
    assert buffer.getvalue() == b"kept"


def test_a_download_is_retried_before_any_byte_arrived(http_server: Any, tmp_path: pathlib.Path) -> None:
    http_server.add(
        "/v1/connect/proj_x/file_stash/download",
        Response(503, json={"error": "busy"}),
        Response(200, body=REPORT, content_type="application/octet-stream"),
    )
    with _static_client(http_server) as client:
        assert client.download_file("report.csv", tmp_path / "r.csv") == len(REPORT)
    assert (tmp_path / "r.csv").read_bytes() == REPORT


def test_a_redirect_to_a_storage_host_is_followed_without_credentials(
    client: SyncPipedreamClient, replica: Any, tmp_path: pathlib.Path
) -> None:
    target = tmp_path / "report.csv"
    assert client.download_file("redirect/stash/demo/report.csv", target) == len(REPORT)
    assert target.read_bytes() == REPORT
    api_call, storage = replica.requests[-2:]
    assert api_call.headers["authorization"].startswith("Bearer ")
    assert storage.path == "/stash-objects/stash/demo/report.csv" and storage.headers["host"].startswith("localhost")
    assert "authorization" not in storage.headers and "x-pd-environment" not in storage.headers
    raw = client.with_raw_response.download_file("redirect/stash/demo/report.csv", io.BytesIO())
    assert raw.data == len(REPORT) and raw.status_code == 200


def test_a_redirect_from_https_to_http_is_not_followed(client: SyncPipedreamClient) -> None:
    from pipedream import PipedreamApiError as Error

    def refused(location: str) -> Error:  # the error the transport raises for a redirect it did not follow
        url = "https://api.pipedream.com/v1/connect/p/file_stash/download?s3_key=a"
        return Error("download file failed", status_code=302, url=url, headers={"location": location})

    assert client._storage_redirect(refused("http://storage.example.com/a")) is None
    assert (
        client._storage_redirect(refused("https://storage.example.com/a?sig=1"))
        == "https://storage.example.com/a?sig=1"
    )
    assert client._storage_redirect(refused("/elsewhere")) is None  # same host: the transport follows those itself


def test_async_download(replica: Any, tmp_path: pathlib.Path) -> None:
    async def main() -> List[int]:
        async with async_client(replica) as client:
            return list(
                await asyncio.gather(
                    *(client.download_file("large/%d" % (100_000 + n), tmp_path / str(n)) for n in range(4))
                )
            )

    assert asyncio.run(main()) == [100_000 + n for n in range(4)]
    assert (tmp_path / "3").read_bytes() == pipedream_replica._stash_bytes(100_003)


@pytest.mark.parametrize("destination", [io.StringIO(), 42, None])
def test_bad_download_destination_is_a_value_error(client: SyncPipedreamClient, replica: Any, destination: Any) -> None:
    with pytest.raises(ValueError, match="destination"):
        client.download_file("stash/demo/report.csv", destination)
    assert replica.request_count == 0


# ---------------------------------------------------------------------------------------------
# The new methods: what they send, beyond the parity test
# ---------------------------------------------------------------------------------------------


def test_update_app_override_sends_null_only_when_asked(client: SyncPipedreamClient, replica: Any) -> None:
    override = replica.app_overrides[0]["id"]
    client.update_app_override(override, name="Renamed")
    assert replica.last_request.json() == {"name": "Renamed"}  # oauth_app_id not given: not sent
    assert client.update_app_override(override, oauth_app_id=None)["oauth_app_id"] is None
    assert replica.last_request.body == b'{"oauth_app_id":null}'


def test_create_account_encodes_a_mapping_as_the_cfmap_json_string(client: SyncPipedreamClient, replica: Any) -> None:
    token = client.create_connect_token(USER)["token"]
    account = client.create_account("openai", {"api_key": "sk-1"}, token, USER)
    sent = replica.last_request
    assert sent.json()["cfmap_json"] == '{"api_key":"sk-1"}' and sent.query == [("external_user_id", USER)]
    assert account["external_id"] == USER and "credentials" not in account
    accounts = client.get_accounts_by_external_user(USER, "openai", include_credentials=True)
    assert [a["id"] for a in accounts] == [account["id"]] and accounts[0]["credentials"] == {"api_key": "sk-1"}


def test_an_oauth_app_secret_never_appears_in_an_error(client: SyncPipedreamClient, replica: Any) -> None:
    secret = "notion-oauth-secret-9c4e"
    replica.fail_next(400, {"error": "client_secret %s is invalid" % secret})
    with pytest.raises(PipedreamApiError) as caught:
        client.create_oauth_app("notion", client_id="cid", client_secret=secret)
    assert secret not in str(caught.value) and secret not in (caught.value.detail or "")


def test_webhook_lifecycles(client: SyncPipedreamClient) -> None:
    assert client.get_project_webhook() == {"data": None}
    created = client.update_project_webhook("https://app.example.com/hooks")["data"]
    regenerated = client.regenerate_project_webhook_signing_key()["data"]
    assert created["signing_key"] != regenerated["signing_key"] and created["id"] == regenerated["id"]
    assert "signing_key" not in client.get_project_webhook()["data"]
    assert client.delete_project_webhook() is None and client.get_project_webhook() == {"data": None}
    hook = client.get_deployed_trigger_webhook(TRIGGER, WEBHOOK, USER)["data"]
    assert hook["delivery_state"]["state"] == "penalty"
    reset = client.reset_deployed_trigger_webhook_delivery_state(TRIGGER, WEBHOOK, USER)["data"]
    assert reset["delivery_state"]["state"] == "happy" and reset["delivery_state"]["consecutive_failures"] == 0
    listed = client.get_deployed_trigger_webhooks(TRIGGER, USER)["webhooks"][0]
    assert listed["delivery_state"]["state"] == "happy" and "signing_key" not in listed


def test_writes_are_not_resent_and_reads_are(client: SyncPipedreamClient, replica: Any) -> None:
    replica.fail_next(502, {"error": "bad gateway"}, path_contains="/regenerate_signing_key")
    with pytest.raises(PipedreamApiError):
        client.regenerate_deployed_trigger_webhook_signing_key(TRIGGER, WEBHOOK, USER)
    assert sum(1 for r in replica.requests if r.path.endswith("/regenerate_signing_key")) == 1
    replica.fail_next(502, {"error": "bad gateway"}, path_contains="/app_categories")
    assert client.get_app_categories()
    assert replica.count("GET", "/v1/connect/app_categories") == 2


def test_keyword_name_reaches_the_async_methods(replica: Any) -> None:
    """``name=`` used to collide with the async client's own parameter (TypeError)."""

    async def main() -> None:
        async with async_client(replica) as client:
            updated = await client.update_deployed_trigger(TRIGGER, USER, name="Renamed trigger")
            assert updated["data"]["name"] == "Renamed trigger"
            assert (await client.create_project("Async project"))["name"] == "Async project"
            assert (await client.update_project(PROJECT_ID, name="Renamed"))["name"] == "Renamed"
            override = replica.app_overrides[0]["id"]
            assert (await client.update_app_override(override, name="X"))["name"] == "X"

    asyncio.run(main())


def test_components_type_filter(client: SyncPipedreamClient, replica: Any) -> None:
    triggers = client.get_components("components", type_filter="trigger")["data"]
    assert triggers and all(c["component_type"] == "trigger" for c in triggers)
    assert replica.last_request.query == [("component_type", "trigger")]


def test_every_endpoint_method_has_an_async_twin() -> None:
    import pipedream

    for name in pipedream._ENDPOINTS:
        assert callable(getattr(SyncPipedreamClient, name)), name
        assert asyncio.iscoroutinefunction(getattr(PipedreamClient, name)), name
    assert {"iter_users", "iter_projects", "iter_app_overrides", "iter_oauth_apps"} <= set(dir(PipedreamClient))


def test_a_static_token_client_reaches_every_new_endpoint_without_a_token_request(replica: Any) -> None:
    replica.tokens["static-token-5678"] = float("inf")
    with SyncPipedreamClient(
        project_id=PROJECT_ID, environment="production", access_token="static-token-5678", base_url=replica.base_url
    ) as client:
        assert client.get_users()["data"] and client.get_projects()["data"] and client.get_app_categories()
    assert replica.token_requests == 0
    assert {r.headers["authorization"] for r in replica.requests} == {"Bearer static-token-5678"}
    assert {r.headers["x-pd-environment"] for r in replica.requests} == {"production"}
    with pytest.raises(PipedreamAuthError):
        SyncPipedreamClient(
            project_id=PROJECT_ID, environment="production", access_token="wrong-token-0000", base_url=replica.base_url
        ).get_users()


def test_json_error_bodies_of_new_endpoints(client: SyncPipedreamClient) -> None:
    with pytest.raises(PipedreamApiError) as caught:
        client.get_usage(100, 50)
    assert caught.value.status_code == 400 and caught.value.detail.startswith("end_ts must be after")
    assert caught.value.response_data == {"error": caught.value.detail}


# =============================================================================================
# The official SDK's newest calls (v2)
# =============================================================================================

ACCESS_TOKEN = "pd-v2-static-token"
SLACK_APP_ID = pipedream_replica._stable_id("app", "slack", 6)
SLACK_SEND_MESSAGE = pipedream_replica._stable_id("pc", "slack-send-message")
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def token_replica(pipedream_replica: Any) -> Any:
    """The replica, also accepting the static access token ``ACCESS_TOKEN``."""
    pipedream_replica.tokens[ACCESS_TOKEN] = float("inf")
    return pipedream_replica


def client_for(token_replica: Any, factory: Any = SyncPipedreamClient, **options: Any) -> Any:
    options = dict(dict(base_url=token_replica.base_url, proxy=False, max_retries=0), **options)
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
    token_replica: Any, mode: str, method: str, path_argument: Optional[str], request_fields: Dict[str, Any], ours: Any
) -> None:
    if mode == "sync":
        with client_for(token_replica, access_token=ACCESS_TOKEN) as client:
            try:
                ours(client)
            except PipedreamApiError:
                pass  # a 404 or 501 from the replica: the request is what is compared
    else:

        async def main() -> None:
            async with client_for(token_replica, PipedreamClient, access_token=ACCESS_TOKEN) as client:
                try:
                    await ours(client)
                except PipedreamApiError:
                    pass

        asyncio.run(main())
    assert len(token_replica.requests) == 1
    assert our_request(token_replica.requests[0]) == ts_request(method, path_argument, request_fields)


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


def test_v2_errors_carry_status_message_and_request_id(token_replica: Any) -> None:
    with client_for(token_replica) as client:
        with pytest.raises(PipedreamApiError) as missing:
            client.get_component_v2("slack-send-message")  # a key, not a pc_ id
        token_replica.fail_next(503, {"error": "search unavailable"}, path_contains="/v2/")
        with pytest.raises(PipedreamApiError) as unavailable:
            client.get_app_facets_v2()
    assert missing.value.status_code == 404 and "get component (v2) failed" in str(missing.value)
    assert unavailable.value.status_code == 503 and unavailable.value.detail == "search unavailable"
    assert unavailable.value.request_id and unavailable.value.request_id in str(unavailable.value)


def test_v2_raw_responses_and_options(token_replica: Any) -> None:
    with client_for(token_replica) as client:
        raw = client.with_options(query={"page": 2}).with_raw_response.get_apps_v2(limit=3)
    assert isinstance(raw, RawResponse) and raw.status_code == 200 and raw.request_id
    assert raw.data["page_info"] == {"count": 3, "page": 2, "per_page": 3, "total_count": 12}


# ---------------------------------------------------------------------------------------------
# Page-number iterators
# ---------------------------------------------------------------------------------------------


def api_pages(token_replica: Any, path: str) -> List[Optional[str]]:
    """The page parameter of each request the replica received for ``path``."""
    return [
        dict(r.query).get("page") for r in token_replica.requests if r.path == "/v2/connect/%s%s" % (PROJECT_ID, path)
    ]


def test_iter_apps_v2_fetches_the_next_page_only_when_the_previous_is_used_up(token_replica: Any) -> None:
    with client_for(token_replica) as client:
        apps = client.iter_apps_v2(limit=5)
        assert api_pages(token_replica, "/apps") == []  # nothing before the first item is asked for
        first = [next(apps) for _ in range(5)]
        assert api_pages(token_replica, "/apps") == [None]
        sixth = next(apps)
        assert api_pages(token_replica, "/apps") == [None, "2"]
        rest = list(apps)
    names = [a["name_slug"] for a in first + [sixth] + rest]
    assert len(names) == len(set(names)) == 12 and names[:3] == ["slack", "github", "google_sheets"]
    assert api_pages(token_replica, "/apps") == [None, "2", "3"]  # page 3 has 2 items: short, the end


def test_iter_components_v2_stops_on_an_empty_page(token_replica: Any) -> None:
    with client_for(token_replica) as client:
        keys = [c["key"] for c in client.iter_components_v2(limit=3)]
    assert len(keys) == 9
    assert api_pages(token_replica, "/components") == [None, "2", "3", "4"]  # 3 full pages, then an empty one


def test_iterators_start_at_the_page_given_and_keep_the_filters(token_replica: Any) -> None:
    with client_for(token_replica) as client:
        keys = [c["key"] for c in client.iter_components_v2(page=2, limit=4, component_type="action")]
    assert len(keys) == 2  # 6 actions: page 2 of 4 holds the last 2
    assert [dict(r.query) for r in token_replica.requests if "/components" in r.path] == [
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


def test_async_iterators_page_lazily_too(token_replica: Any) -> None:
    async def main() -> Tuple[List[str], List[Optional[str]], List[str]]:
        async with client_for(token_replica, PipedreamClient) as client:
            apps = client.iter_apps_v2(limit=4)
            first = [(await apps.__anext__())["name_slug"] for _ in range(4)]
            seen = api_pages(token_replica, "/apps")
            rest = [a["name_slug"] async for a in apps]
            raw_view = [c["key"] async for c in client.with_raw_response.iter_components_v2(limit=5)]
        return first + rest, seen, raw_view

    names, seen_after_first_page, keys = asyncio.run(main())
    assert seen_after_first_page == [None] and len(names) == 12
    assert api_pages(token_replica, "/apps") == [None, "2", "3", "4"]  # 4 + 4 + 4, then empty
    assert len(keys) == 9


# ---------------------------------------------------------------------------------------------
# create_oauth_token
# ---------------------------------------------------------------------------------------------


def token_requests(token_replica: Any) -> List[Any]:
    return [r for r in token_replica.requests if r.path == "/v1/oauth/token"]


def test_create_oauth_token_sends_the_official_body_without_a_bearer(token_replica: Any) -> None:
    with client_for(token_replica, headers={"X-Trace": "1"}, rate_limit_token="rl_x") as client:
        token = client.create_oauth_token(CLIENT_ID, CLIENT_SECRET, scope="connect:accounts:read")
        assert client.token_requests == 0  # the client's own token is neither fetched nor replaced
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600 and token["access_token"]
    (request,) = token_requests(token_replica)
    assert request.method == "POST" and request.query == []
    assert request.body == (
        b'{"client_id":"%s","client_secret":"%s","scope":"connect:accounts:read","grant_type":"client_credentials"}'
        % (CLIENT_ID.encode(), CLIENT_SECRET.encode())
    )
    headers = request.headers
    assert "authorization" not in headers and "x-pd-rate-limit" not in headers
    assert headers["content-type"] == "application/json" and headers["x-pd-environment"] == "development"
    assert headers["x-trace"] == "1"


def test_create_oauth_token_with_an_assertion(token_replica: Any) -> None:
    assertion = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJjaWQifQ.c2lnbmF0dXJlLXRleHQ"
    with client_for(token_replica, max_retries=2) as client:
        token_replica.fail_next(503, {"error": "try later, got %s" % assertion}, path_contains="/oauth/token")
        with pytest.raises(PipedreamAuthError) as raised:
            client.create_oauth_token(CLIENT_ID, client_assertion=assertion)
    assert len(token_requests(token_replica)) == 1  # a single-use assertion is never re-sent by a retry
    assert json.loads(token_requests(token_replica)[0].body) == {
        "client_id": CLIENT_ID,
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
        "grant_type": "client_credentials",
    }
    assert list(json.loads(token_requests(token_replica)[0].body)) == [
        "client_id",
        "client_assertion_type",
        "client_assertion",
        "grant_type",
    ]
    error = raised.value
    assert error.status_code == 503
    for surface in (str(error), repr(error), json.dumps(error.response_data), str(error.body)):
        assert assertion not in surface


def test_create_oauth_token_with_a_secret_is_retried(token_replica: Any) -> None:
    with client_for(token_replica, max_retries=2) as client:
        token_replica.fail_next(503, {"error": "busy"}, path_contains="/oauth/token", headers={"Retry-After": "0"})
        assert client.create_oauth_token(CLIENT_ID, CLIENT_SECRET)["access_token"]
    assert len(token_requests(token_replica)) == 2


def test_create_oauth_token_errors_never_hold_the_secret(token_replica: Any) -> None:
    secret = "echoed-secret-0123456789"
    with client_for(token_replica) as client:
        token_replica.fail_next(
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


def test_the_returned_token_is_not_registered_and_the_clients_own_stays_redacted(token_replica: Any) -> None:
    with client_for(token_replica) as client:
        client.get_project_info()
        own = token_replica.requests[-1].headers["authorization"].split()[1]  # the client's own token
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
    token_replica: Any, kwargs: Dict[str, Any], message: str
) -> None:
    with client_for(token_replica) as client:
        with pytest.raises(ValueError, match=message):
            client.create_oauth_token(**kwargs)
    assert token_replica.requests == []


def test_create_oauth_token_async_and_raw(token_replica: Any) -> None:
    async def main() -> Tuple[Any, Any]:
        async with client_for(token_replica, PipedreamClient) as client:
            token = await client.create_oauth_token(CLIENT_ID, CLIENT_SECRET)
            raw = await client.with_raw_response.create_oauth_token(CLIENT_ID, CLIENT_SECRET, scope="*")
        return token, raw

    token, raw = asyncio.run(main())
    assert token["token_type"] == "Bearer"
    assert isinstance(raw, RawResponse) and raw.status_code == 200 and raw.data["access_token"]


# ---------------------------------------------------------------------------------------------
# The command line calls the new methods
# ---------------------------------------------------------------------------------------------


def test_the_cli_calls_the_new_methods(token_replica: Any) -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PIPEDREAM_")}
    environment.update(
        PIPEDREAM_CLIENT_ID=CLIENT_ID,
        PIPEDREAM_CLIENT_SECRET=CLIENT_SECRET,
        PIPEDREAM_PROJECT_ID=PROJECT_ID,
        PIPEDREAM_PROJECT_ENVIRONMENT="development",
        PIPEDREAM_BASE_URL=token_replica.base_url,
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
