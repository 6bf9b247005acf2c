"""The Pipedream client beyond the 28 methods of the README it implements, against the local replica
(examples/pipedream_replica.py) and, for broken downloads, a scripted server (tests/servers.py):
raw responses, per-call options (``with_options(query=...)``), the new pagination iterators,
File Stash downloads, and argument checks. Wire parity with the official SDK for every endpoint
is tests/test_pipedream_parity.py; each new method's cassette is in tests/test_pipedream_cassettes.py.
"""

from __future__ import annotations

import asyncio
import io
import pathlib
from typing import Any, Callable, Dict, Iterator, List

import pytest

import pipedream_replica
from pipedream import (
    PipedreamApiError,
    PipedreamAuthError,
    PipedreamClient,
    RawResponse,
    SyncPipedreamClient,
)
from servers import Response

CLIENT_ID = pipedream_replica.DEFAULT_CLIENT_ID
CLIENT_SECRET = pipedream_replica.DEFAULT_CLIENT_SECRET
PROJECT_ID = pipedream_replica.DEFAULT_PROJECT_ID
USER = "user-1"
TRIGGER = pipedream_replica._stable_id("dc", "user-1/slack-new-message-in-channels")
WEBHOOK = pipedream_replica._stable_id("hook", TRIGGER + "https://hooks.example.com/" + TRIGGER)
REPORT = b"id,name\n1,Alice\n2,Bob\n"


pytestmark = pytest.mark.usefixtures("clean_client_environment")


@pytest.fixture
def replica(pipedream_replica: Any) -> Any:
    return pipedream_replica


@pytest.fixture
def client(replica: Any) -> Iterator[SyncPipedreamClient]:
    with SyncPipedreamClient(
        CLIENT_ID, CLIENT_SECRET, PROJECT_ID, "development", base_url=replica.base_url, workflow_domain="127.0.0.1"
    ) as sync_client:
        yield sync_client


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
    import threading

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


BAD_CALLS: Dict[str, Callable[[SyncPipedreamClient], Any]] = {
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
    assert str(caught.value)
    assert replica.request_count == 0 and client.token_requests == 0


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
