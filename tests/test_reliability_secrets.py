"""Secrets never leak, asserted over everything captured on every error path the suite drives.

The fault server is hostile: it echoes the credentials it receives (``X-Altan-Key``,
``Authorization``, the token request's body with the client secret) back in JSON details,
HTML pages, reason phrases, redirect targets and non-JSON 2xx bodies. Each client (Altan and
Pipedream, sync and async) is driven through every error path: HTTP errors, retries given
up, network faults, timeouts, refused connections, refused redirects, TLS errors, token
failures, 401 refreshes, a key used as an id. Then the Altan key, the Pipedream client secret
and every access token issued are searched for in:

* every log record at DEBUG, of any logger (``caplog``);
* every surface of each exception (``reliability.error_surfaces``: ``str``, ``repr``,
  ``args``, every attribute, its pickle and its whole formatted traceback, chained causes
  included); what was printed (``capsys``); the ``repr`` of every client;
* cassettes recorded through the project's own recorders (tests/record_altan_cassettes.py,
  tests/record_pipedream_cassettes.py) while the same hostile server answers.
"""

from __future__ import annotations

import base64
import functools
import logging
import socket
from typing import Any, Callable, List, Union

import pytest
from reliability import (
    ALTAN_KEY,
    FLAVOURS,
    P,
    PD_SECRET,
    Api,
    VirtualClock,
    as_pipedream,
    error_surfaces,
    read,
    secret_forms,
    write,
)
from servers import Request, Response

import altan
import pipedream


pytestmark = pytest.mark.usefixtures("clean_client_environment")


def credentials_of(request: Request) -> str:
    """Every credential the request carried, as text: what a hostile server echoes back."""
    return "key=%s auth=%s body=%s" % (
        request.headers.get("x-altan-key"),
        request.headers.get("authorization"),
        request.body.decode("utf-8", "replace"),
    )


def echo_json(status: int, field: str = "detail") -> Callable[[Request], Response]:
    return lambda request: Response(status, json={field: "rejected " + credentials_of(request)})


def echo_html(status: int) -> Callable[[Request], Response]:
    return lambda request: Response(
        status,
        "<html><body><h1>%d</h1><pre>%s</pre></body></html>" % (status, credentials_of(request)),
        content_type="text/html",
    )


def echo_reason(status: int) -> Callable[[Request], Response]:
    return lambda request: Response(
        status,
        json={},
        reason="Denied " + (request.headers.get("x-altan-key") or request.headers.get("authorization", "")),
    )


def echo_fastapi(request: Request) -> Response:
    return Response(
        422,
        json={
            "detail": [
                {"loc": ["header", "x-altan-key"], "msg": "bad " + credentials_of(request), "type": "value_error"}
            ]
        },
    )


def echo_not_json(request: Request) -> Response:
    return Response(200, "OK " + credentials_of(request), content_type="text/plain")


def echo_header(request: Request) -> Response:
    return Response(500, json={"detail": "see header"}, headers={"X-Echo": credentials_of(request)})


class Capture:
    """Everything a test saw: errors raised, and the texts to search."""

    def __init__(self) -> None:
        self.errors: List[BaseException] = []
        self.texts: List[str] = []

    def expect_error(self, api: Api, function: Callable[[], Any]) -> None:
        try:
            function()
        except (api.error, RuntimeError, ValueError) as error:
            self.errors.append(error)
        else:
            raise AssertionError("the call did not fail")

    def error_texts(self) -> List[Union[str, bytes]]:
        return [text for error in self.errors for text in error_surfaces(error)]


def assert_no_secret(texts: List[Union[str, bytes]], secrets: List[str]) -> None:
    """No form of any secret (raw, percent-encoded, JSON-escaped, base64) in any text."""
    assert secrets and all(len(secret) >= 8 for secret in secrets)
    for text in texts:
        for secret in secrets:
            for form in secret_forms(secret):
                needle: Union[str, bytes] = form.encode("utf-8") if isinstance(text, bytes) else form
                at = text.find(needle)  # type: ignore[arg-type]
                assert at < 0, "a secret leaked: ...%r..." % text[max(0, at - 200) :][:400]


def drive_altan(api: Api, capture: Capture, other_url: str) -> None:
    server = api.server
    op_read, op_write = read("altan"), write("altan")
    api.warm()
    for answer in (
        echo_json(401),
        echo_html(500),
        echo_fastapi,
        echo_not_json,
        echo_reason(403),
        echo_header,
        Response(fault="reset"),
        Response(fault="close"),
        Response(200, json={"a": "x" * 50}, fault="truncate"),
        lambda request: Response(302, headers={"Location": other_url + "/x?key=" + ALTAN_KEY}),
        Response(429, json={"detail": "later"}, headers={"Retry-After": "3600"}),
    ):
        for op in (op_read, op_write):
            server.route(op.path, answer, method=op.http)
            capture.expect_error(api, lambda op=op: api.op(op))
    server.route(
        op_write.path,
        lambda request: Response(303, headers={"Location": "/result?key=" + ALTAN_KEY}),
        method=op_write.http,
    )
    capture.expect_error(api, lambda: api.op(op_write))
    server.route(op_read.path, Response(200, json={}, delay=30), method=op_read.http)
    capture.expect_error(api, lambda: api.view(timeout=0.15).op(op_read))
    server.route("/connection/" + ALTAN_KEY, echo_json(404))  # the key used as an id: it is in the URL
    capture.expect_error(api, lambda: api("get_connection", ALTAN_KEY))


def drive_pipedream(api: Api, capture: Capture, other_url: str) -> None:
    server = api.server
    op_read, op_write = read("pipedream"), write("pipedream")
    # The token request fails, echoing the client secret, in every way.
    for answer in (
        echo_json(401, "error_description"),
        echo_html(500),
        echo_not_json,
        echo_reason(400),
        lambda request: Response(200, json={"echo": credentials_of(request)}),  # no access_token
        lambda request: Response(307, headers={"Location": other_url + "/token?s=" + PD_SECRET}),
        Response(fault="reset"),
        Response(200, json={}, delay=30),
    ):
        # (a reset on a reused connection is retried at once on a new one: it resets that too)
        server.add("/v1/oauth/token", *[answer] * (2 if getattr(answer, "fault", None) else 1), method="POST")
        capture.expect_error(api, lambda: api.view(timeout=0.15, max_retries=0).op(op_read))
    assert server.count("/v1/oauth/token") == 9 and server.count(op_read.path) == 0
    api.warm()  # now a token is cached
    for answer in (
        echo_json(400, "error"),
        echo_html(500),
        echo_not_json,
        echo_reason(403),
        echo_header,
        Response(fault="reset"),
        Response(fault="close"),
        Response(200, json={"a": "x" * 50}, fault="truncate"),
        lambda request: Response(302, headers={"Location": other_url + "/x?t=" + credentials_of(request)}),
        Response(429, json={"error": "later"}, headers={"Retry-After": "3600"}),
    ):
        for op in (op_read, op_write):
            server.route(op.path, answer, method=op.http)
            capture.expect_error(api, lambda op=op: api.op(op))
    # 401 twice: the token is refreshed once, then PipedreamAuthError; both tokens echoed.
    server.add(op_read.path, echo_json(401, "error"), echo_json(401, "error"), method=op_read.http)
    capture.expect_error(api, lambda: api.op(op_read))
    # A 401 relayed from an app behind the Connect proxy, and from a workflow called with the token.
    server.add(
        P + "/proxy/" + base64.urlsafe_b64encode(b"https://slack.com/api/auth.test").decode().rstrip("="),
        echo_json(401, "error"),
    )
    capture.expect_error(
        api,
        lambda: api(
            "make_proxy_request",
            {"external_user_id": "u", "account_id": "apn_1"},
            {"url": "https://slack.com/api/auth.test"},
        ),
    )
    server.add("/wf/hook", echo_json(401, "error"))
    capture.expect_error(api, lambda: api("invoke_workflow", server.url + "/wf/hook", auth_type="oauth"))
    server.route(op_read.path, Response(200, json={}, delay=30), method=op_read.http)
    capture.expect_error(api, lambda: api.view(timeout=0.15).op(op_read))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> VirtualClock:
    """Backoff waits are recorded, not slept."""
    virtual = VirtualClock()
    monkeypatch.setattr(altan, "_clock", virtual)
    monkeypatch.setattr(pipedream, "_clock", virtual)
    return virtual


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_no_secret_in_logs_errors_reprs_or_output_on_any_error_path(
    flavour, make_server, https_server, caplog, capsys, clock
):
    caplog.set_level(logging.DEBUG)  # every logger, at DEBUG
    server, other = make_server(), make_server()
    api = Api(flavour, server, max_retries=1, timeout=5)
    capture = Capture()
    try:
        if api.module_name == "altan":
            drive_altan(api, capture, other.url)
        else:
            drive_pipedream(api, capture, other.url)
        # Refused connections, TLS certificate errors and use after close.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        for target in (make_server(sock=sock, start=False), https_server):  # refused; a CA we do not trust
            elsewhere = Api(flavour, target, max_retries=0)
            capture.expect_error(elsewhere, functools.partial(elsewhere.op, read(api.module_name)))
            capture.texts += [repr(elsewhere.client)]
            elsewhere.close()
            capture.expect_error(elsewhere, functools.partial(elsewhere.op, write(api.module_name)))  # closed
        capture.texts += [
            repr(api.client),
            repr(api.client.with_options(timeout=1)),
            repr(getattr(api.client, "sync", api.client)),
            repr(getattr(api.client, "_client", "")),
        ]
    finally:
        api.close()
    assert other.count() == 0  # no redirect was followed to the other host
    assert len(capture.errors) >= 20
    secrets = [ALTAN_KEY] if api.module_name == "altan" else [PD_SECRET] + api.tokens.issued
    assert api.module_name == "altan" or len(api.tokens.issued) >= 2  # a refresh happened
    assert any(
        secret in request.body.decode() + str(request.headers) for request in server.requests for secret in secrets
    )  # the secrets were really sent (and echoed)
    records = [record for record in caplog.records]
    assert any(record.name == api.module_name for record in records)
    out, err = capsys.readouterr()
    assert_no_secret(
        capture.error_texts()
        + capture.texts
        + [out, err]
        + [record.getMessage() for record in records]
        + [logging.Formatter().format(record) for record in records],
        secrets,
    )


# ---------------------------------------------------------------------------------------------
# Cassettes recorded on the same error paths
# ---------------------------------------------------------------------------------------------


def test_altan_cassettes_recorded_on_error_paths_hold_no_key(make_server, tmp_path):
    import record_altan_cassettes as recorder

    server = make_server()
    steps = []
    for answer in (
        echo_json(401),
        echo_html(500),
        echo_fastapi,
        echo_not_json,
        echo_reason(403),
        echo_header,
        lambda request: Response(302, headers={"Location": "http://localhost:1/x?key=" + ALTAN_KEY}),
    ):
        server.add("/connection", answer)
        server.add(write("altan").path, answer)
        steps += [recorder.Step("list_connections"), recorder.Step("execute_action", ("c1", "send-email", {"a": 1}))]
    lines: List[str] = []
    written = recorder.record(
        tmp_path, base_url=server.url, api_key=ALTAN_KEY, scenarios={"errors": steps}, log=lines.append
    )
    assert server.count() == len(steps) and len(written) == 1
    text = written[0].read_text()
    assert text.count("- request:") == len(steps)  # the 302s are recorded too; the redirects are refused
    assert_no_secret([text] + lines, [ALTAN_KEY])


def test_pipedream_cassettes_recorded_on_error_paths_hold_no_secret_or_token(make_server, tmp_path):
    import pipedream_vcr as pv
    import record_pipedream_cassettes as recorder

    server = make_server()
    tokens = as_pipedream(server)
    for answer in (echo_json(401, "error_description"), echo_html(500), echo_not_json):
        server.add("/v1/oauth/token", answer, method="POST")
    for answer in (echo_json(400, "error"), echo_html(500), echo_not_json, echo_header):
        server.add(read("pipedream").path, answer)
    steps = [pv.S("get_project_info") for _ in range(3 + 1 + 4)]
    lines: List[str] = []
    live = {
        "client_id": "pd-rel-client-id",
        "client_secret": PD_SECRET,
        "project_id": "proj_rel",
        "environment": "development",
        "base_url": server.url,
    }
    written = recorder.record(tmp_path, {"errors": steps}, live=live, log=lines.append)
    text = written[0].read_text()
    assert len(tokens.issued) >= 1
    assert_no_secret([text] + lines, [PD_SECRET] + tokens.issued)


def test_the_recorders_scrub_what_they_sent(tmp_path, make_server):
    # The request side: X-Altan-Key, Authorization and the token request's client_secret are
    # written as placeholders even when the calls succeed (a cassette of a normal session).
    import pipedream_vcr as pv
    import record_altan_cassettes as altan_recorder
    import record_pipedream_cassettes as pipedream_recorder

    altan_server, pipedream_server = make_server(), make_server()
    tokens = as_pipedream(pipedream_server)
    written = altan_recorder.record(
        tmp_path / "a",
        base_url=altan_server.url,
        api_key=ALTAN_KEY,
        scenarios={"ok": [altan_recorder.Step("list_connections")]},
        log=lambda line: None,
    )
    written += pipedream_recorder.record(
        tmp_path / "p",
        {"ok": [pv.S("get_project_info"), pv.S("run_action", "a", "u")]},
        live={
            "client_id": "pd-rel-client-id",
            "client_secret": PD_SECRET,
            "project_id": "proj_rel",
            "environment": "development",
            "base_url": pipedream_server.url,
        },
        log=lambda line: None,
    )
    texts = [path.read_text() for path in written]
    assert "X-Altan-Key" in texts[0] and "client_secret" in texts[1]
    assert_no_secret(texts, [ALTAN_KEY, PD_SECRET] + tokens.issued)
