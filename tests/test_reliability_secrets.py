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

Secret hygiene: no secret leaks from any surface of an error, and bad input is refused
before any network I/O.

The harness (``test_no_secret_on_any_surface``) drives each client (Altan and Pipedream, sync
and async) through each error path against a server that echoes every credential it received
(the request target, every header, the body) back in its status line, its headers and its
body. The secrets have awkward characters (quotes, ``%``, ``/``, ``+``, ``=``, backslashes) so
that they travel percent-encoded, JSON-escaped and base64-encoded too. Then every surface is
searched for every form of every secret: ``str(e)``, ``repr(e)``, ``e.args``, every attribute
(walked, chained causes and contexts included), ``pickle.dumps(e)``,
``traceback.format_exception(e)``, the DEBUG log records, the ``repr`` of the clients and
their views; and the command-line output (``test_command_line_output_is_clean``). Below the
harness, one test per known way a secret leaked or bad input went out.

tests/test_reliability_secrets.py drives the broader set of responses (HTML pages, FastAPI
details, 303s, TLS errors, 401 refreshes, cassettes); this file owns the surfaces and the
secret kinds.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import pickle
import socket
import traceback
from typing import Any, Callable, Dict, List, Union
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
from servers import OAuthTokens, Request, Response

import altan
import pipedream

pytestmark = pytest.mark.usefixtures("clean_client_environment")


# =============================================================================================
# Every error path, over everything captured (logs, errors, output, clients, recorded cassettes)
# =============================================================================================


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


# =============================================================================================
# Every surface of an error, against a server echoing every credential; bad input refused
# =============================================================================================

# Secrets with the characters that change between encodings.
AWKWARD_ALTAN_KEY = 'ak-"q%2F/+=\\~Zx9F-h2Lw'
EXTRA = 'xt-<tok>&;"Kq81Mz/+='  # a credential header given through with_options(headers=...)
OTHER_KEY = 'ak2-"Wp47/Lx+Rt'  # another Altan key, given through with_options(headers=...)
PD_ID = "pd-id-Jf72Lq0Wc"
AWKWARD_PD_SECRET = 'pd-"sec/+=%\\ret-Q8mN'
RATE_LIMIT = "rl-tok+/=Hs72Pq"
CONNECT_TOKEN = 'ctok_"/%?#Yz84Lm'
CONNECT_TOKEN_2 = 'ctok2-"Pz19Wq/'
CF_KEY = 'cf-api-"key/Ux73'
WF_BEARER = 'wf-bearer-"Qm52Zr'
PROXY_USER = "px-user"
PROXY_PASSWORD = 'px-pa/ss"w0rd-Lq'
PROJECT = "proj_hyg"

PATHS = [
    "http-error",
    "status-line",
    "bad-chunk",
    "timeout",
    "reset",
    "redirect",
    "proxy-407",
    "token",
    "not-json",
    "long-body",
]


# ---------------------------------------------------------------------------------------------
# The echoing server
# ---------------------------------------------------------------------------------------------


def everything(request: Request) -> str:
    """All the request carried, on one latin-1 line: target, every header, the body."""
    text = "%s %s | %s | %s" % (
        request.method,
        request.path + ("?" + request.query if request.query else ""),
        " ; ".join("%s: %s" % item for item in request.headers.items()),
        request.body.decode("utf-8", "replace"),
    )
    return text.replace("\r", " ").replace("\n", " ").encode("latin-1", "replace").decode("latin-1")


def echoing(path: str, other_url: str) -> Callable[[Request], Response]:
    """The answer of error path ``path``, echoing the request."""

    def answer(request: Request) -> Response:
        echo = everything(request)
        line = echo.encode("latin-1")
        if path in ("http-error", "token"):
            return Response(
                401 if path == "token" else 400,
                json={"detail": "rejected " + echo, "error": {"nested": [echo, {"deep": echo}]}, echo[:60]: 1},
                reason="Denied " + echo,
                headers={"X-Echo": echo},
            )
        if path == "status-line":
            return Response(raw=b"HTTP/1.1 2OO echo:" + line + b"\r\n\r\n")
        if path == "bad-chunk":
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            return Response(raw=head + line + b"\r\n")
        if path == "timeout":
            return Response(200, json={"late": echo}, delay=5)
        if path == "reset":
            return Response(fault="reset")
        if path == "redirect":
            return Response(302, headers={"Location": other_url + "/x?echo=" + quote(echo), "X-Echo": echo})
        if path == "not-json":
            return Response(200, "OK " + echo, content_type="text/plain", headers={"X-Echo": echo})
        if path == "long-body":  # a credential straddles the 500-character cut of the message
            first = request.headers.get("x-altan-key") or request.headers["authorization"].partition(" ")[2]
            return Response(500, "x" * 497 + first + " " + echo, content_type="text/plain")
        raise AssertionError(path)

    return answer


def proxy_407(request: Request) -> Response:
    echo = everything(request).encode("latin-1")
    return Response(raw=b"HTTP/1.1 407 Denied " + echo + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


# ---------------------------------------------------------------------------------------------
# Clients and calls
# ---------------------------------------------------------------------------------------------


def make_client(flavour: str, base_url: str, **options: Any) -> Any:
    options.setdefault("proxy", False)
    if flavour.startswith("altan"):
        cls = altan.AsyncAltanActionsClient if flavour.endswith("async") else altan.AltanActionsClient
        return cls(AWKWARD_ALTAN_KEY, base_url, **options)
    cls = pipedream.PipedreamClient if flavour.endswith("async") else pipedream.SyncPipedreamClient
    return cls(
        PD_ID, AWKWARD_PD_SECRET, PROJECT, "development", base_url=base_url, workflow_domain="127.0.0.1", **options
    )


def run(flavour: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if flavour.endswith("async"):
        return asyncio.run(function(*args, **kwargs))
    return function(*args, **kwargs)


def close(flavour: str, client: Any) -> None:
    run(flavour, client.close)


def calls(flavour: str, client: Any, server_url: str, path: str) -> List[Callable[[], Any]]:
    """The calls of a path: together they carry every secret kind the client has. (A workflow
    may answer anything, JSON or not: it has no "not-json" error.)"""
    view = client.with_options(headers={"X-Custom-Token": EXTRA}, max_retries=0, timeout=0.5)
    if flavour.startswith("altan"):
        other = view.with_options(headers={"X-Altan-Key": OTHER_KEY})
        return [lambda: run(flavour, view.list_connections), lambda: run(flavour, other.execute_action, "c1", "a1", {})]
    view = view.with_options(rate_limit_token=RATE_LIMIT)
    workflow = [
        lambda: run(
            flavour,
            view.invoke_workflow,
            server_url + "/wf/hook",
            headers={"Authorization": "Bearer " + WF_BEARER},
            auth_type="static_bearer_token",
        )
    ]
    return [
        lambda: run(flavour, view.validate_connect_token, CONNECT_TOKEN),
        lambda: run(flavour, view.create_account, "slack", {"api_key": CF_KEY}, CONNECT_TOKEN_2, "user-1"),
    ] + (workflow if path != "not-json" else [])


# ---------------------------------------------------------------------------------------------
# The surfaces (reliability.error_surfaces lists them)
# ---------------------------------------------------------------------------------------------


def assert_round_trip(error: BaseException) -> None:
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is type(error)
    assert str(restored) == str(error) and restored.args == error.args
    for name in ("status_code", "response_data", "detail", "method", "url", "request_id", "headers"):
        assert getattr(restored, name, None) == getattr(error, name, None)


def all_secrets(flavour: str) -> List[str]:
    if flavour.startswith("altan"):
        return [AWKWARD_ALTAN_KEY, OTHER_KEY, EXTRA, PROXY_PASSWORD]
    return [
        PD_ID,
        AWKWARD_PD_SECRET,
        EXTRA,
        RATE_LIMIT,
        CONNECT_TOKEN,
        CONNECT_TOKEN_2,
        CF_KEY,
        WF_BEARER,
        PROXY_PASSWORD,
    ]


# ---------------------------------------------------------------------------------------------
# The harness
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flavour, path",
    # Altan has no token request
    [
        (flavour, path)
        for flavour in FLAVOURS
        for path in PATHS
        if not (path == "token" and flavour.startswith("altan"))
    ],
)
def test_no_secret_on_any_surface(flavour, path, make_server, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    server, other = make_server(), make_server()
    tokens = OAuthTokens(PD_ID, AWKWARD_PD_SECRET)
    if path == "token":
        server.route("/v1/oauth/token", echoing("token", other.url), method="POST")
    else:
        server.route("/v1/oauth/token", tokens.handler, method="POST")
    answer = echoing(path, other.url) if path != "proxy-407" else None
    server.default = answer or (lambda request: Response(200, json={}))
    options: Dict[str, Any] = {}
    base_url = server.url
    proxy = None
    if path == "proxy-407":
        proxy = make_server()
        proxy.default = proxy_407
        host_port = proxy.url.split("://")[1]
        options["proxy"] = "http://%s:%s@%s" % (PROXY_USER, quote(PROXY_PASSWORD, safe=""), host_port)
        base_url = "https://api.example.test"
    client = make_client(flavour, base_url, **options)
    errors: List[BaseException] = []
    try:
        for call in calls(flavour, client, server.url, path):
            try:
                call()
            except (altan.AltanActionError, pipedream.PipedreamApiError) as error:
                errors.append(error)
            else:
                raise AssertionError("the call did not fail")
        reprs = [repr(client), repr(client.with_options(headers={"X-Custom-Token": EXTRA}, timeout=1))]
        if flavour.startswith("pipedream"):
            reprs.append(repr(client.with_options(rate_limit_token=RATE_LIMIT).with_raw_response))
    finally:
        close(flavour, client)
    # The secrets were really sent to, and echoed by, the server.
    seen = (proxy or server).requests
    wire = " ".join(everything(request) for request in seen)
    assert seen
    if path != "proxy-407":  # a CONNECT carries the proxy's credentials only
        assert (AWKWARD_ALTAN_KEY if flavour.startswith("altan") else PD_ID) in wire
    if path not in ("token", "proxy-407") and flavour.startswith("pipedream"):
        assert RATE_LIMIT in wire and EXTRA in wire and quote(CONNECT_TOKEN, safe="") in wire
        assert WF_BEARER in wire or path == "not-json"
        assert tokens.issued and tokens.issued[-1] in wire  # the access token too
    if path == "proxy-407":
        assert base64.b64encode(("%s:%s" % (PROXY_USER, PROXY_PASSWORD)).encode()).decode() in wire
    texts: List[Union[str, bytes]] = list(reprs)
    for error in errors:
        texts += error_surfaces(error)
        assert_round_trip(error)
    out, err = capsys.readouterr()
    texts += [out, err]
    for record in caplog.records:
        texts += [record.getMessage(), logging.Formatter().format(record)]
    assert_no_secret(texts, all_secrets(flavour) + (tokens.issued if flavour.startswith("pipedream") else []))
    if path == "status-line":  # the cause's type stays visible for debugging
        assert all("BadStatusLine" in "".join(traceback.format_exception(type(e), e, e.__traceback__)) for e in errors)
    if path == "long-body":  # redacted, then cut: no beginning of the credential is left
        cut = ["x" * 497 + "[RE..." in str(error) for error in errors]
        assert any(cut) and all(cut[i] or "x" * 10 not in str(e) for i, e in enumerate(errors))  # or body hidden


@pytest.mark.parametrize("module", ["altan", "pipedream"])
def test_command_line_output_is_clean(module, make_server, monkeypatch, capsys):
    server, other = make_server(), make_server()
    tokens = OAuthTokens(PD_ID, AWKWARD_PD_SECRET)
    server.route("/v1/oauth/token", tokens.handler, method="POST")
    server.default = echoing("http-error", other.url)
    if module == "altan":
        monkeypatch.setenv("ALTAN_API_KEY", AWKWARD_ALTAN_KEY)
        code = altan.main(["--base-url", server.url, "connection", AWKWARD_ALTAN_KEY])
        secrets = [AWKWARD_ALTAN_KEY]
    else:
        for name, value in (
            ("CLIENT_ID", PD_ID),
            ("CLIENT_SECRET", AWKWARD_PD_SECRET),
            ("PROJECT_ID", PROJECT),
            ("PROJECT_ENVIRONMENT", "development"),
            ("BASE_URL", server.url),
        ):
            monkeypatch.setenv("PIPEDREAM_" + name, value)
        code = pipedream.main(["call", "validate_connect_token", json.dumps({"token": CONNECT_TOKEN})])
        secrets = [AWKWARD_PD_SECRET, CONNECT_TOKEN] + tokens.issued
    out, err = capsys.readouterr()
    assert code == 1 and "error:" in err and "[REDACTED]" in err
    assert_no_secret([out, err], secrets)


# ---------------------------------------------------------------------------------------------
# Awkward secrets, generated
# ---------------------------------------------------------------------------------------------

_PRINTABLE = "".join(chr(c) for c in range(33, 127))


@settings(max_examples=25, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=st.text(alphabet=_PRINTABLE, min_size=8, max_size=40))
def test_generated_keys_never_leak_from_an_echoed_error(secret, http_server):
    http_server.default = echoing("http-error", http_server.url)
    with altan.AltanActionsClient(secret, http_server.url, proxy=False, max_retries=0) as client:
        with pytest.raises(altan.AltanActionError) as caught:
            client.list_connections()
    assert_no_secret(error_surfaces(caught.value), [secret])


@settings(max_examples=50, derandomize=True, deadline=None)
@given(
    secret=st.text(min_size=4, max_size=30).filter(lambda s: s.strip() == s and s),
    before=st.text(max_size=600),
)
def test_every_form_of_a_registered_secret_is_redacted(secret, before):
    transport = altan._Transport(error_class=altan.AltanActionError, logger_name="t", proxy=False)
    transport.add_secret(secret)
    for form in secret_forms(secret):
        assert form not in transport.redact(before + form + before)


# ---------------------------------------------------------------------------------------------
# The measured points, one by one
# ---------------------------------------------------------------------------------------------


def test_an_error_chains_no_raw_exception(http_server):
    http_server.default = echoing("status-line", http_server.url)
    with altan.AltanActionsClient(AWKWARD_ALTAN_KEY, http_server.url, proxy=False, max_retries=0) as client:
        with pytest.raises(altan.AltanActionError) as caught:
            client.list_connections()
    error = caught.value
    assert error.__context__ is None
    cause = error.__cause__
    assert cause is not None and "BadStatusLine" in str(cause) and cause.__cause__ is None and cause.__context__ is None
    assert AWKWARD_ALTAN_KEY not in str(cause)


def test_the_message_is_redacted_before_it_is_cut(http_server):
    http_server.default = lambda request: Response(500, "x" * 495 + AWKWARD_ALTAN_KEY, content_type="text/plain")
    with altan.AltanActionsClient(AWKWARD_ALTAN_KEY, http_server.url, proxy=False, max_retries=0) as client:
        with pytest.raises(altan.AltanActionError) as caught:
            client.list_connections()
    assert AWKWARD_ALTAN_KEY[:5] not in str(caught.value).replace("altan", "")


@pytest.mark.parametrize(
    "answer",
    [
        # the key straddles where a status line, a Location or a header value used to be cut
        lambda pad: b"HTTP/1.1 2OO " + pad + b"\r\n\r\n",
        lambda pad: b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:99999/" + pad + b"\r\nContent-Length: 0\r\n\r\n",
        lambda pad: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, " + pad + b"\r\n\r\n",
        lambda pad: b"HTTP/1.1 200 OK\r\nContent-Length: 1, " + pad + b"\r\n\r\n",
    ],
    ids=["status-line", "location", "transfer-encoding", "content-length"],
)
@pytest.mark.parametrize("offset", [70, 85, 170, 1990])
def test_a_value_the_server_sent_is_redacted_before_it_is_cut(http_server, caplog, answer, offset):
    caplog.set_level(logging.DEBUG)
    http_server.default = lambda request: Response(raw=answer(b"x" * offset + AWKWARD_ALTAN_KEY.encode("latin-1")))
    with altan.AltanActionsClient(AWKWARD_ALTAN_KEY, http_server.url, proxy=False, max_retries=0) as client:
        with pytest.raises(altan.AltanActionError) as caught:
            client.list_connections()
    shown = str(caught.value) + "\n" + caplog.text
    assert AWKWARD_ALTAN_KEY[:6] not in shown
    assert len(str(caught.value)) < 2100


def test_the_token_set_stays_bounded(make_server):
    server = make_server()
    tokens = OAuthTokens(PD_ID, AWKWARD_PD_SECRET)
    server.route("/v1/oauth/token", tokens.handler, method="POST")
    server.default = tokens.protect(lambda request: Response(200, json={}))
    with pipedream.SyncPipedreamClient(
        PD_ID, AWKWARD_PD_SECRET, PROJECT, "development", base_url=server.url, proxy=False
    ) as client:
        sizes = []
        for _ in range(40):
            tokens.expire()
            client.get_project_info()
            sizes.append(len(client._transport._secrets))
        assert len(tokens.issued) >= 40
        assert sizes[-1] == sizes[20]  # no longer grows
        # the current token and the previous ones are still redacted
        for token in tokens.issued[-3:]:
            assert token not in client._transport.redact("echo " + token)


def test_no_process_wide_cache_holds_a_url():
    import functools

    for module in (altan, pipedream):
        assert not isinstance(getattr(module, "_split_url", None), functools._lru_cache_wrapper)


@pytest.mark.parametrize("closed", [True, False])
def test_urls_with_secrets_are_forgotten_with_the_client(http_server, closed):
    # No cache, ours or the standard library's (urlsplit's), keeps a URL (a token in its
    # path) once the client is closed, or dropped without close().
    import gc

    marker = "tok-in-path-" + str(closed)  # not as one literal: linecache holds this file's lines
    client = altan.AltanActionsClient(AWKWARD_ALTAN_KEY, http_server.url, proxy=False)
    client.get_connection(marker)
    if closed:
        client.close()
    del client
    http_server.requests.clear()  # the server's own record of the path
    gc.collect()

    def holds_marker(container: Any) -> bool:
        if isinstance(container, dict):
            items = list(container.keys()) + list(container.values())
        elif isinstance(container, (list, tuple)):
            items = list(container)
        else:
            return False
        return any(isinstance(item, str) and marker in item and item != marker for item in items)

    # The test server's own record of the request may outlive the clear() in its connection
    # thread for a moment (it is the server's, not the client's): it does not count.
    server_records = {id(vars(obj)) for obj in gc.get_objects() if isinstance(obj, Request)}
    assert not [
        container for container in gc.get_objects() if id(container) not in server_records and holds_marker(container)
    ]


# ---------------------------------------------------------------------------------------------
# Validation before any I/O
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def pd(make_server):
    server = make_server()
    tokens = OAuthTokens(PD_ID, AWKWARD_PD_SECRET)
    server.route("/v1/oauth/token", tokens.handler, method="POST")
    server.default = lambda request: Response(200, json={})
    client = pipedream.SyncPipedreamClient(
        PD_ID, AWKWARD_PD_SECRET, PROJECT, "development", base_url=server.url, workflow_domain="127.0.0.1", proxy=False
    )
    yield client, server
    client.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda c, url: c.invoke_workflow_for_external_user(url, "u\r\nX-Evil: 1"),
        lambda c, url: c.invoke_workflow_for_external_user(url, "us\u0117r"),
        lambda c, url: c.invoke_workflow(url, method="GET\r\nX: 1", auth_type="oauth"),
        lambda c, url: c.invoke_workflow(url, method="GET /admin?", auth_type="oauth"),
        lambda c, url: c.invoke_workflow(url, method="BREW", auth_type="oauth"),
        lambda c, url: c.invoke_workflow(url, headers={"bad name": "1"}, auth_type="oauth"),
        lambda c, url: c.make_proxy_request(
            {"external_user_id": "u", "account_id": "a"}, {"url": "https://x.test", "headers": {"bad name": "1"}}
        ),
        lambda c, url: c.with_options(headers={"X-Ok": "a\nb"}).get_project_info(),
    ],
)
def test_bad_input_is_refused_before_the_token_request(pd, call):
    client, server = pd
    with pytest.raises(ValueError) as caught:
        call(client, server.url + "/wf/hook")
    assert server.count() == 0, "sent before refusing: %s" % caught.value


@pytest.mark.parametrize("method", ["GET /admin?", "get x", "BREW", "", "G\u00c9T"])
def test_only_known_methods_are_sent(pd, method):
    client, server = pd
    with pytest.raises(ValueError):
        client.invoke_workflow(server.url + "/wf/hook", method=method)
    assert server.count() == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1.m.pipedream.net/hook",
        "http://127.evil.m.pipedream.net/",
        "http://localhost.m.pipedream.net/",
        "http://127.0.0.1@en1.m.pipedream.net/",
        "https://user:pw@en1.m.pipedream.net/",
        "https://en1.m.pipedream.net:99999/",
        "https://en1.m.pipedream.net/a b",
    ],
)
def test_workflow_urls_that_are_refused(make_server, url):
    server = make_server()
    client = pipedream.SyncPipedreamClient(
        PD_ID, AWKWARD_PD_SECRET, PROJECT, "development", base_url=server.url, proxy=False
    )
    with client:
        with pytest.raises(ValueError) as caught:
            client.invoke_workflow(url, auth_type="oauth")
        assert "pw" not in str(caught.value)
    assert server.count() == 0


def test_plain_http_workflow_on_loopback_literals_and_localhost(make_server):
    for domain, host in (("127.0.0.1", "127.0.0.1"), ("localhost", "localhost")):
        client = pipedream.SyncPipedreamClient(
            PD_ID, AWKWARD_PD_SECRET, PROJECT, "development", workflow_domain=domain, proxy=False
        )
        assert client._workflow_url("http://%s:8080/hook" % host) == "http://%s:8080/hook" % host
        client.close()


@pytest.mark.parametrize(
    "base_url",
    [
        "https://:password@api.example.test",
        "https://user@api.example.test",
        "https://user:password@api.example.test",
        "https://api.example.test:99999",
        "https://api.example.test:abc",
        "https://api.example.test:0",
        "https://api.example.test/a\r\nX: 1",
        "https://api.exa mple.test",
        "https://api.example.test/a\tb",
        "https://api.example.test/?token=password",
        "https://api.example.test/#password",
        "https://api.example.test/a b?token=password",
    ],
)
@pytest.mark.parametrize("module", ["altan", "pipedream"])
def test_bad_base_urls_are_refused_at_construction(module, base_url):
    with pytest.raises(ValueError) as caught:
        if module == "altan":
            altan.AltanActionsClient(AWKWARD_ALTAN_KEY, base_url, proxy=False)
        else:
            pipedream.SyncPipedreamClient(
                PD_ID, AWKWARD_PD_SECRET, PROJECT, "development", base_url=base_url, proxy=False
            )
    assert "password" not in str(caught.value)


@pytest.mark.parametrize(
    "proxy",
    [
        "http://user:pa/ss@127.0.0.1:3128",
        "http://user:pa/ss:word@127.0.0.1:3128",
        "http://user:pa/ss@127.0.0.1:99999",
        "http://user:pa/ss@127.0.0.1:abc",
        "https://user:pa/ss@127.0.0.1:3128",
        "http://user:pa/ss@",
    ],
)
def test_bad_proxy_urls_give_a_clear_error_without_the_password(proxy):
    try:
        client = altan.AltanActionsClient(AWKWARD_ALTAN_KEY, "https://api.example.test", proxy=proxy)
    except ValueError as error:
        assert "pa/ss" not in str(error) and "ss@" not in str(error) and "proxy" in str(error)
    else:  # an unencoded "/" in a password is accepted: everything up to the last "@" is user info
        assert proxy.endswith("127.0.0.1:3128")
        proxy_object = client._transport._proxy_for("https", "api.example.test", 443)
        assert (proxy_object.host, proxy_object.port) == ("127.0.0.1", 3128)
        credentials = base64.b64decode(proxy_object.headers["Proxy-Authorization"].split()[1]).decode()
        assert credentials.startswith("user:pa/ss")
        assert "pa/ss" not in repr(client)
        client.close()


def test_with_options_headers_are_validated_at_once():
    with altan.AltanActionsClient(AWKWARD_ALTAN_KEY, "https://api.example.test", proxy=False) as client:
        for headers in ({"bad name": "1"}, {"X-A": "a\r\nb"}, {"X-A": "\u0117"}, {"": "1"}):
            with pytest.raises(ValueError):
                client.with_options(headers=headers)


def test_error_attributes_are_redacted_copies(http_server):
    # response_data and headers are redacted copies, walked to any depth
    def answer(request: Request) -> Response:
        nested: Any = {"k": AWKWARD_ALTAN_KEY}
        for _ in range(300):
            nested = [nested]
        return Response(400, json={"detail": nested}, headers={"X-Key": AWKWARD_ALTAN_KEY})

    http_server.default = answer
    with altan.AltanActionsClient(AWKWARD_ALTAN_KEY, http_server.url, proxy=False, max_retries=0) as client:
        with pytest.raises(altan.AltanActionError) as caught:
            client.list_connections()
    error = caught.value
    assert AWKWARD_ALTAN_KEY not in json.dumps(error.response_data) and AWKWARD_ALTAN_KEY not in str(error.headers)
    assert error.headers["x-key"] == "[REDACTED]"


def test_an_oauth_apps_secret_is_redacted_without_growing_the_registered_set(make_server):
    server, other = make_server(), make_server()
    tokens = OAuthTokens(PD_ID, AWKWARD_PD_SECRET)
    server.route("/v1/oauth/token", tokens.handler, method="POST")
    server.default = echoing("http-error", other.url)
    with pipedream.SyncPipedreamClient(
        PD_ID, AWKWARD_PD_SECRET, PROJECT, "development", base_url=server.url, proxy=False, max_retries=0
    ) as client:
        with pytest.raises(pipedream.PipedreamApiError):
            client.get_app("slack")  # fetches the token: registered is then complete
        registered = list(client._transport._secrets)
        for n in range(5):
            app_secret = 'oauth-app-"secret/%d-Lq' % n
            for call, args in (
                (client.create_oauth_app, {"app": "slack", "client_id": "cid", "client_secret": app_secret}),
                (client.update_oauth_app, {"oauth_app_id": "oa_1", "client_secret": app_secret}),
            ):
                with pytest.raises(pipedream.PipedreamApiError) as caught:
                    call(**args)
                assert_no_secret(error_surfaces(caught.value), [app_secret])
        assert client._transport._secrets == registered
    sent = " ".join(everything(request) for request in server.requests)
    assert 'oauth-app-\\"secret/4-Lq' in sent  # JSON-escaped in the body


@pytest.mark.parametrize("flavour", ["altan-sync", "pipedream-async"])
def test_proxy_credentials_from_the_environment_never_leak(flavour, make_server, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    proxy = make_server()
    proxy.default = proxy_407
    host_port = proxy.url.split("://")[1]
    monkeypatch.setenv("HTTPS_PROXY", "http://%s:%s@%s" % (PROXY_USER, PROXY_PASSWORD, host_port))  # "/" unencoded
    client = make_client(flavour, "https://api.example.test", proxy=None)
    try:
        with pytest.raises((altan.AltanActionError, pipedream.PipedreamApiError)) as caught:
            calls(flavour, client, "https://api.example.test", "proxy-407")[0]()
    finally:
        close(flavour, client)
    assert "407" in str(caught.value) and proxy.count() >= 1
    texts = error_surfaces(caught.value) + [record.getMessage() for record in caplog.records]
    assert_no_secret(texts, [PROXY_PASSWORD])
