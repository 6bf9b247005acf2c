"""Secret hygiene: no secret leaks from any surface of an error, and bad input is refused
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
import json
import logging
import pickle
import traceback
from typing import Any, Callable, Dict, List, Union
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability import error_surfaces, secret_forms
from servers import OAuthTokens, Request, Response

import altan
import pipedream

# Secrets with the characters that change between encodings.
ALTAN_KEY = 'ak-"q%2F/+=\\~Zx9F-h2Lw'
EXTRA = 'xt-<tok>&;"Kq81Mz/+='  # a credential header given through with_options(headers=...)
OTHER_KEY = 'ak2-"Wp47/Lx+Rt'  # another Altan key, given through with_options(headers=...)
PD_ID = "pd-id-Jf72Lq0Wc"
PD_SECRET = 'pd-"sec/+=%\\ret-Q8mN'
RATE_LIMIT = "rl-tok+/=Hs72Pq"
CONNECT_TOKEN = 'ctok_"/%?#Yz84Lm'
CONNECT_TOKEN_2 = 'ctok2-"Pz19Wq/'
CF_KEY = 'cf-api-"key/Ux73'
WF_BEARER = 'wf-bearer-"Qm52Zr'
PROXY_USER = "px-user"
PROXY_PASSWORD = 'px-pa/ss"w0rd-Lq'
PROJECT = "proj_hyg"

FLAVOURS = ["altan-sync", "altan-async", "pipedream-sync", "pipedream-async"]
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


pytestmark = pytest.mark.usefixtures("clean_client_environment")


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
        return cls(ALTAN_KEY, base_url, **options)
    cls = pipedream.PipedreamClient if flavour.endswith("async") else pipedream.SyncPipedreamClient
    return cls(PD_ID, PD_SECRET, PROJECT, "development", base_url=base_url, workflow_domain="127.0.0.1", **options)


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


def assert_clean(texts: List[Union[str, bytes]], secrets: List[str]) -> None:
    for secret in secrets:
        for form in secret_forms(secret):
            for text in texts:
                needle: Union[str, bytes] = form.encode("utf-8") if isinstance(text, bytes) else form
                assert needle not in text, "%r (a form of a secret) leaked in: %r" % (form, text[:2000])


def assert_round_trip(error: BaseException) -> None:
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is type(error)
    assert str(restored) == str(error) and restored.args == error.args
    for name in ("status_code", "response_data", "detail", "method", "url", "request_id", "headers"):
        assert getattr(restored, name, None) == getattr(error, name, None)


def all_secrets(flavour: str) -> List[str]:
    if flavour.startswith("altan"):
        return [ALTAN_KEY, OTHER_KEY, EXTRA, PROXY_PASSWORD]
    return [PD_ID, PD_SECRET, EXTRA, RATE_LIMIT, CONNECT_TOKEN, CONNECT_TOKEN_2, CF_KEY, WF_BEARER, PROXY_PASSWORD]


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
    tokens = OAuthTokens(PD_ID, PD_SECRET)
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
        assert (ALTAN_KEY if flavour.startswith("altan") else PD_ID) in wire
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
    assert_clean(texts, all_secrets(flavour) + (tokens.issued if flavour.startswith("pipedream") else []))
    if path == "status-line":  # the cause's type stays visible for debugging
        assert all("BadStatusLine" in "".join(traceback.format_exception(type(e), e, e.__traceback__)) for e in errors)
    if path == "long-body":  # redacted, then cut: no beginning of the credential is left
        cut = ["x" * 497 + "[RE..." in str(error) for error in errors]
        assert any(cut) and all(cut[i] or "x" * 10 not in str(e) for i, e in enumerate(errors))  # or body hidden


@pytest.mark.parametrize("module", ["altan", "pipedream"])
def test_command_line_output_is_clean(module, make_server, monkeypatch, capsys):
    server, other = make_server(), make_server()
    tokens = OAuthTokens(PD_ID, PD_SECRET)
    server.route("/v1/oauth/token", tokens.handler, method="POST")
    server.default = echoing("http-error", other.url)
    if module == "altan":
        monkeypatch.setenv("ALTAN_API_KEY", ALTAN_KEY)
        code = altan.main(["--base-url", server.url, "connection", ALTAN_KEY])
        secrets = [ALTAN_KEY]
    else:
        for name, value in (
            ("CLIENT_ID", PD_ID),
            ("CLIENT_SECRET", PD_SECRET),
            ("PROJECT_ID", PROJECT),
            ("PROJECT_ENVIRONMENT", "development"),
            ("BASE_URL", server.url),
        ):
            monkeypatch.setenv("PIPEDREAM_" + name, value)
        code = pipedream.main(["call", "validate_connect_token", json.dumps({"token": CONNECT_TOKEN})])
        secrets = [PD_SECRET, CONNECT_TOKEN] + tokens.issued
    out, err = capsys.readouterr()
    assert code == 1 and "error:" in err and "[REDACTED]" in err
    assert_clean([out, err], secrets)


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
    assert_clean(error_surfaces(caught.value), [secret])


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
    with altan.AltanActionsClient(ALTAN_KEY, http_server.url, proxy=False, max_retries=0) as client:
        with pytest.raises(altan.AltanActionError) as caught:
            client.list_connections()
    error = caught.value
    assert error.__context__ is None
    cause = error.__cause__
    assert cause is not None and "BadStatusLine" in str(cause) and cause.__cause__ is None and cause.__context__ is None
    assert ALTAN_KEY not in str(cause)


def test_the_message_is_redacted_before_it_is_cut(http_server):
    http_server.default = lambda request: Response(500, "x" * 495 + ALTAN_KEY, content_type="text/plain")
    with altan.AltanActionsClient(ALTAN_KEY, http_server.url, proxy=False, max_retries=0) as client:
        with pytest.raises(altan.AltanActionError) as caught:
            client.list_connections()
    assert ALTAN_KEY[:5] not in str(caught.value).replace("altan", "")


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
    http_server.default = lambda request: Response(raw=answer(b"x" * offset + ALTAN_KEY.encode("latin-1")))
    with altan.AltanActionsClient(ALTAN_KEY, http_server.url, proxy=False, max_retries=0) as client:
        with pytest.raises(altan.AltanActionError) as caught:
            client.list_connections()
    shown = str(caught.value) + "\n" + caplog.text
    assert ALTAN_KEY[:6] not in shown
    assert len(str(caught.value)) < 2100


def test_the_token_set_stays_bounded(make_server):
    server = make_server()
    tokens = OAuthTokens(PD_ID, PD_SECRET)
    server.route("/v1/oauth/token", tokens.handler, method="POST")
    server.default = tokens.protect(lambda request: Response(200, json={}))
    with pipedream.SyncPipedreamClient(
        PD_ID, PD_SECRET, PROJECT, "development", base_url=server.url, proxy=False
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
    client = altan.AltanActionsClient(ALTAN_KEY, http_server.url, proxy=False)
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
    tokens = OAuthTokens(PD_ID, PD_SECRET)
    server.route("/v1/oauth/token", tokens.handler, method="POST")
    server.default = lambda request: Response(200, json={})
    client = pipedream.SyncPipedreamClient(
        PD_ID, PD_SECRET, PROJECT, "development", base_url=server.url, workflow_domain="127.0.0.1", proxy=False
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
    client = pipedream.SyncPipedreamClient(PD_ID, PD_SECRET, PROJECT, "development", base_url=server.url, proxy=False)
    with client:
        with pytest.raises(ValueError) as caught:
            client.invoke_workflow(url, auth_type="oauth")
        assert "pw" not in str(caught.value)
    assert server.count() == 0


def test_plain_http_workflow_on_loopback_literals_and_localhost(make_server):
    for domain, host in (("127.0.0.1", "127.0.0.1"), ("localhost", "localhost")):
        client = pipedream.SyncPipedreamClient(
            PD_ID, PD_SECRET, PROJECT, "development", workflow_domain=domain, proxy=False
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
            altan.AltanActionsClient(ALTAN_KEY, base_url, proxy=False)
        else:
            pipedream.SyncPipedreamClient(PD_ID, PD_SECRET, PROJECT, "development", base_url=base_url, proxy=False)
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
        client = altan.AltanActionsClient(ALTAN_KEY, "https://api.example.test", proxy=proxy)
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
    with altan.AltanActionsClient(ALTAN_KEY, "https://api.example.test", proxy=False) as client:
        for headers in ({"bad name": "1"}, {"X-A": "a\r\nb"}, {"X-A": "\u0117"}, {"": "1"}):
            with pytest.raises(ValueError):
                client.with_options(headers=headers)


def test_error_attributes_are_redacted_copies(http_server):
    # response_data and headers are redacted copies, walked to any depth
    def answer(request: Request) -> Response:
        nested: Any = {"k": ALTAN_KEY}
        for _ in range(300):
            nested = [nested]
        return Response(400, json={"detail": nested}, headers={"X-Key": ALTAN_KEY})

    http_server.default = answer
    with altan.AltanActionsClient(ALTAN_KEY, http_server.url, proxy=False, max_retries=0) as client:
        with pytest.raises(altan.AltanActionError) as caught:
            client.list_connections()
    error = caught.value
    assert ALTAN_KEY not in json.dumps(error.response_data) and ALTAN_KEY not in str(error.headers)
    assert error.headers["x-key"] == "[REDACTED]"


def test_an_oauth_apps_secret_is_redacted_without_growing_the_registered_set(make_server):
    server, other = make_server(), make_server()
    tokens = OAuthTokens(PD_ID, PD_SECRET)
    server.route("/v1/oauth/token", tokens.handler, method="POST")
    server.default = echoing("http-error", other.url)
    with pipedream.SyncPipedreamClient(
        PD_ID, PD_SECRET, PROJECT, "development", base_url=server.url, proxy=False, max_retries=0
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
                assert_clean(error_surfaces(caught.value), [app_secret])
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
    assert_clean(texts, [PROXY_PASSWORD])
