"""The Pipedream client against the local replica (examples/pipedream_replica.py), a real
HTTP/1.1 server on 127.0.0.1: the example of the README this client implements, the token's life, input checks,
wire names, proxy, workflows, pagination and rate-limit tokens.

Every test gets a fresh replica (fixture ``pipedream_replica``, tests/conftest.py) whose
``requests`` / ``counts`` / ``token_requests`` show exactly what reached the server.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time as _time
from contextlib import redirect_stdout
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import pipedream
import pipedream_replica
from reliability import VirtualClock
from pipedream import PipedreamApiError, PipedreamAuthError, PipedreamClient, SyncPipedreamClient

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
# The usage example of the README this client implements, as written
# ---------------------------------------------------------------------------------------------

# Verbatim from that README ("Usage"), with its PD_* variable names.
README_EXAMPLE = """
import asyncio
import os
from .pipedream import PipedreamClient, PipedreamAuthError, PipedreamApiError

async def run():
    client_id = os.environ.get("PD_CLIENT_ID")
    client_secret = os.environ.get("PD_CLIENT_SECRET")
    project_id = os.environ.get("PD_PROJECT_ID")
    external_user_id = "some-unique-user-id"

    if not all([client_id, client_secret, project_id]):
        print("Set PD_CLIENT_ID, PD_CLIENT_SECRET, PD_PROJECT_ID env vars")
        return

    try:
        # Note: environment parameter is required
        async with PipedreamClient(client_id, client_secret, project_id, environment="development") as client:
            # Call API methods
            token_info = await client.create_connect_token(external_user_id=external_user_id)
            print(f"Token: {token_info['token']}")

            accounts = await client.get_accounts(external_user_id=external_user_id, limit=10)
            print(f"Found {len(accounts['data'])} accounts.")

            # ... other method calls

    except PipedreamAuthError as e:
        print(f"Authentication Error: {e}")
    except PipedreamApiError as e:
        print(f"API Error: {e}")

if __name__ == "__main__":
    asyncio.run(run())
"""


def run_readme_example(monkeypatch: pytest.MonkeyPatch, replica: Any, secret: str = CLIENT_SECRET) -> str:
    # The only adaptations: an absolute import (the README imports from its own package), the
    # PD_* variables set to the replica's credentials, and the replica's URL in
    # PIPEDREAM_BASE_URL, which the client reads when it is constructed.
    code = README_EXAMPLE.replace("from .pipedream import", "from pipedream import")
    monkeypatch.setenv("PD_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("PD_CLIENT_SECRET", secret)
    monkeypatch.setenv("PD_PROJECT_ID", PROJECT_ID)
    monkeypatch.setenv("PIPEDREAM_BASE_URL", replica.base_url)
    output = io.StringIO()
    with redirect_stdout(output):
        exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})  # noqa: S102 - the README's code
    return output.getvalue()


def test_readme_example_runs_as_written(monkeypatch: pytest.MonkeyPatch, replica: Any) -> None:
    output = run_readme_example(monkeypatch, replica)
    lines = output.splitlines()
    assert lines[0].startswith("Token: ctok_") and lines[1] == "Found 1 accounts.", output
    assert [(r.method, r.path) for r in replica.requests] == [
        ("POST", "/v1/oauth/token"),
        ("POST", "/v1/connect/proj_demo/tokens"),
        ("GET", "/v1/connect/proj_demo/accounts"),
    ]
    assert replica.requests[1].json() == {"external_user_id": "some-unique-user-id"}
    assert replica.requests[2].query == [("external_user_id", "some-unique-user-id"), ("limit", "10")]


def test_readme_example_reports_an_auth_error_without_the_secret(monkeypatch: pytest.MonkeyPatch, replica: Any) -> None:
    secret = "wrong-secret-5f2c1d"
    output = run_readme_example(monkeypatch, replica, secret)
    assert output.startswith("Authentication Error: get OAuth token failed: HTTP 401"), output
    assert "Client authentication failed" in output and secret not in output


def test_readme_example_without_variables_prints_a_hint(monkeypatch: pytest.MonkeyPatch, replica: Any) -> None:
    code = README_EXAMPLE.replace("from .pipedream import", "from pipedream import")
    for name in ("PD_CLIENT_ID", "PD_CLIENT_SECRET", "PD_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    output = io.StringIO()
    with redirect_stdout(output):
        exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})  # noqa: S102
    assert output.getvalue() == "Set PD_CLIENT_ID, PD_CLIENT_SECRET, PD_PROJECT_ID env vars\n"
    assert replica.request_count == 0


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


def test_one_token_request_for_50_concurrent_async_calls(replica: Any) -> None:
    async def main() -> List[Any]:
        async with async_client(replica) as client:
            results = await asyncio.gather(*(client.get_project_info() for _ in range(50)))
            assert client.token_requests == 1
            return results

    results = run(main)
    assert len(results) == 50 and all(r == results[0] for r in results)
    assert replica.token_requests == 1
    assert replica.count("GET", "/v1/connect/proj_demo/projects/info") == 50


def test_one_token_request_for_50_threads_on_a_sync_client(client: SyncPipedreamClient, replica: Any) -> None:
    barrier = threading.Barrier(50)
    results: List[Any] = []
    errors: List[BaseException] = []

    def call() -> None:
        try:
            barrier.wait()
            results.append(client.get_apps(limit=1))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 50
    assert replica.token_requests == 1 == client.token_requests
    assert replica.count("GET", "/v1/connect/apps") == 50


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
