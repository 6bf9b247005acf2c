"""Pipedream authentication modes other than the client secret, against a loopback server:
client assertions from a caller's function (RFC 7523), assertions signed from ``private_key=``
(with PyJWT and cryptography; skipped where they are missing), and a Connect token as
``access_token`` with no project id.

What it proves:

* every token request, every retry of it included, carries a new assertion and no secret;
  retries follow the official SDK's rule (timeouts, network errors, 408, 429, 5xx; not 4xx);
* a failing or wrong assertion function gives ``PipedreamAuthError`` with the cause, and no
  error ever shows an assertion;
* signed assertions have the official SDK's header and claims, ES256 for P-256 keys, RS256
  for RSA keys, a new ``jti`` each time; bad keys and credential mixes are refused up front;
* a Connect token without a project id calls project paths without the project segment;
* without a private key, neither PyJWT nor cryptography is ever imported.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pathlib
import subprocess
import sys
import time
import warnings
from typing import Any, Callable, Dict, Iterator, List

import pytest
from servers import Request, Response, Server, echo

import pipedream
from pipedream import PipedreamAuthError, PipedreamClient, SyncPipedreamClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
CLIENT_ID = "client-for-assertions"
PROJECT_ID = "proj_auth"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name in list(os.environ):
        if name.startswith("PIPEDREAM_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(pipedream, "_BACKOFF_BASE", 0.01)  # retries without waiting


class TokenEndpoint:
    """``POST /v1/oauth/token`` accepting any client assertion it has not seen before (a reused
    one is refused, as the real server does); scripted failures first. Records every body."""

    def __init__(self, server: Server) -> None:
        self.bodies: List[Dict[str, Any]] = []
        self.faults: List[Response] = []
        self.seen: "set[str]" = set()
        self.issued: List[str] = []
        server.route("/v1/oauth/token", self.handler, method="POST")
        server.default = self.protect

    def handler(self, request: Request) -> Response:
        body = request.json()
        self.bodies.append(body)
        if self.faults:
            return self.faults.pop(0)
        assertion = body.get("client_assertion")
        if body.get("client_assertion_type") != JWT_BEARER or not assertion or assertion in self.seen:
            return Response(401, json={"error": "invalid_client", "error_description": "bad assertion"})
        self.seen.add(assertion)
        token = "at-%d" % (len(self.issued) + 1)
        self.issued.append(token)
        return Response(200, json={"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def protect(self, request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer " + (self.issued[-1] if self.issued else "-"):
            return Response(401, json={"error": "the access token is invalid or has expired"})
        return echo(request)


class Assertions:
    """A caller's assertion function: a new string per call, counted."""

    def __init__(self) -> None:
        self.made: List[str] = []

    def __call__(self) -> str:
        self.made.append("assertion-%d.signed" % (len(self.made) + 1))
        return self.made[-1]


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as started:
        yield started  # type: ignore[misc]


def assertion_client(server: Server, provider: Callable[[], Any], **options: Any) -> SyncPipedreamClient:
    options.setdefault("proxy", False)
    return SyncPipedreamClient(
        CLIENT_ID, None, PROJECT_ID, "development", base_url=server.url, client_assertion=provider, **options
    )


# ---------------------------------------------------------------------------------------------
# A caller's assertion function
# ---------------------------------------------------------------------------------------------


def test_the_token_request_carries_a_new_assertion_and_no_secret(server: Server) -> None:
    tokens, provider = TokenEndpoint(server), Assertions()
    with assertion_client(server, provider) as client:
        assert client.get_project_info()["path"] == "/v1/connect/proj_auth/projects/info"
        client.get_project_info()  # the cached token: no new assertion
        assert tokens.bodies == [
            {
                "client_id": CLIENT_ID,
                "client_assertion_type": JWT_BEARER,
                "client_assertion": "assertion-1.signed",
                "grant_type": "client_credentials",
            }
        ]
        tokens.issued.append("another-token")  # the server refuses ours now: 401, then a new token
        client.get_project_info()
    assert provider.made == ["assertion-1.signed", "assertion-2.signed"]
    assert [b["client_assertion"] for b in tokens.bodies] == provider.made
    assert client.token_requests == 2


@pytest.mark.parametrize(
    "fault",
    [
        Response(503, json={"error": "unavailable"}),
        Response(500, json={"error": "boom"}),
        Response(429, json={"error": "slow down"}, headers={"Retry-After": "0"}),
        Response(408, json={"error": "timeout"}),
        Response(200, fault="reset"),
    ],
    ids=["503", "500", "429", "408", "reset"],
)
def test_each_retry_of_the_token_request_has_a_new_assertion(server: Server, fault: Response) -> None:
    tokens, provider = TokenEndpoint(server), Assertions()
    tokens.faults = [fault, fault]
    with assertion_client(server, provider, max_retries=2) as client:
        client.get_project_info()
    assert provider.made == ["assertion-1.signed", "assertion-2.signed", "assertion-3.signed"]
    assert [b["client_assertion"] for b in tokens.bodies] == provider.made


def test_the_token_request_gives_up_after_max_retries(server: Server) -> None:
    tokens, provider = TokenEndpoint(server), Assertions()
    tokens.faults = [Response(503, json={"error": "unavailable"})] * 3
    with assertion_client(server, provider, max_retries=1) as client:
        with pytest.raises(PipedreamAuthError) as caught:
            client.get_project_info()
    assert caught.value.status_code == 503
    assert len(tokens.bodies) == 2 and len(provider.made) == 2


@pytest.mark.parametrize("status", [400, 401, 403])
def test_a_refused_assertion_is_not_retried(server: Server, status: int) -> None:
    tokens, provider = TokenEndpoint(server), Assertions()
    tokens.faults = [Response(status, json={"error": "invalid_client"})]
    with assertion_client(server, provider) as client:
        with pytest.raises(PipedreamAuthError) as caught:
            client.get_project_info()
    assert caught.value.status_code == status
    assert len(tokens.bodies) == 1


def test_no_error_shows_an_assertion(server: Server) -> None:
    tokens, provider = TokenEndpoint(server), Assertions()

    def echo_body(request: Request) -> Response:
        return Response(400, json={"error": "invalid_client: " + request.body.decode()})

    server.route("/v1/oauth/token", echo_body, method="POST")
    with assertion_client(server, provider) as client:
        with pytest.raises(PipedreamAuthError) as caught:
            client.get_project_info()
    error = caught.value
    shown = str(error) + repr(error.__dict__)
    assert provider.made and provider.made[0] not in shown
    assert "[REDACTED]" in shown and CLIENT_ID not in shown
    del tokens


class Boom(RuntimeError):
    pass


def test_an_assertion_function_that_raises_gives_an_auth_error_with_the_cause(server: Server) -> None:
    tokens = TokenEndpoint(server)

    def failing() -> str:
        raise Boom("the signing service is down")

    with assertion_client(server, failing) as client:
        with pytest.raises(PipedreamAuthError) as caught:
            client.get_project_info()
    assert "client assertion provider raised Boom: the signing service is down" in str(caught.value)
    assert isinstance(caught.value.__cause__, Boom)
    assert tokens.bodies == []  # nothing was sent


@pytest.mark.parametrize(
    "value, shown",
    [(b"eyJhbGciOi.bytes", "bytes"), (None, "NoneType"), (42, "int"), ("", "an empty string")],
)
def test_an_assertion_function_that_returns_no_string_gives_an_auth_error(
    server: Server, value: Any, shown: str
) -> None:
    tokens = TokenEndpoint(server)
    with assertion_client(server, lambda: value) as client:
        with pytest.raises(PipedreamAuthError) as caught:
            client.get_project_info()
    assert "must return a non-empty string, got %s" % shown in str(caught.value)
    assert "eyJhbGciOi" not in str(caught.value)
    assert tokens.bodies == []


def test_an_async_assertion_function_is_refused_without_a_warning(server: Server) -> None:
    TokenEndpoint(server)

    async def signer() -> str:
        return "never made"

    with assertion_client(server, signer) as client, warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(PipedreamAuthError, match="got coroutine"):
            client.get_project_info()


def test_the_async_client_takes_an_assertion_function(server: Server) -> None:
    tokens, provider = TokenEndpoint(server), Assertions()

    async def main() -> Any:
        async with PipedreamClient(
            CLIENT_ID, None, PROJECT_ID, "development", base_url=server.url, client_assertion=provider, proxy=False
        ) as client:
            return await asyncio.gather(client.get_project_info(), client.get_project_info())

    assert [r["path"] for r in asyncio.run(main())] == ["/v1/connect/proj_auth/projects/info"] * 2
    assert provider.made == ["assertion-1.signed"] and len(tokens.bodies) == 1


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(client_secret="s", client_assertion=lambda: "a"), "not several"),
        (dict(private_key="k", client_assertion=lambda: "a"), "not several"),
        (dict(private_key="k", client_secret="s"), "either client_secret or private_key, not both"),
        (dict(client_assertion="not a function"), "client_assertion must be a function"),
        (dict(), "client_secret (or PIPEDREAM_CLIENT_SECRET)"),
    ],
)
def test_credentials_that_cannot_go_together_are_refused(arguments: Dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        SyncPipedreamClient(CLIENT_ID, project_id=PROJECT_ID, environment="development", **arguments)
    assert message in str(caught.value)


def test_both_credentials_in_the_environment_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPEDREAM_CLIENT_SECRET", "env-secret")
    monkeypatch.setenv("PIPEDREAM_PRIVATE_KEY", "env-key")
    with pytest.raises(ValueError, match="both PIPEDREAM_CLIENT_SECRET and PIPEDREAM_PRIVATE_KEY are set"):
        SyncPipedreamClient(CLIENT_ID, project_id=PROJECT_ID, environment="development")
    # A credential passed wins over the other kind in the environment, as in the official SDK.
    client = SyncPipedreamClient(CLIENT_ID, "passed-secret", PROJECT_ID, "development")
    assert client._tokens._client_secret == "passed-secret" and client._tokens._assertion is None
    client.close()
    client = SyncPipedreamClient(CLIENT_ID, None, PROJECT_ID, "development", client_assertion=lambda: "a")
    assert client._tokens._client_secret == "" and client._tokens._assertion is not None
    client.close()


# ---------------------------------------------------------------------------------------------
# Connect token without a project id
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("project_id", ["", None])
def test_a_connect_token_without_a_project_calls_project_paths_without_it(server: Server, project_id: Any) -> None:
    server.default = echo
    with SyncPipedreamClient(
        access_token="ctok_abc", project_id=project_id, environment="production", base_url=server.url, proxy=False
    ) as client:
        assert client.project_id == ""
        seen = client.get_accounts(external_user_id="user-1", app_filter="slack")
        deleted = client.with_raw_response.delete_accounts_by_app("slack")
        unscoped = client.get_apps(q="slack")
    assert seen["path"] == "/v1/connect/accounts" and seen["query"] == "external_user_id=user-1&app=slack"
    assert seen["headers"]["authorization"] == "Bearer ctok_abc"
    assert seen["headers"]["x-pd-environment"] == "production"
    assert deleted.data["path"] == "/v1/connect/apps/slack/accounts"
    assert unscoped["path"] == "/v1/connect/apps"
    assert server.count("/v1/oauth/token") == 0


def test_an_explicit_empty_project_id_wins_over_the_environment(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.default = echo
    monkeypatch.setenv("PIPEDREAM_PROJECT_ID", "proj_env")
    common: Dict[str, Any] = dict(environment="development", base_url=server.url, proxy=False)
    with SyncPipedreamClient(access_token="ctok_abc", project_id="", **common) as client:
        assert client.get_project_info()["path"] == "/v1/connect/projects/info"
    with SyncPipedreamClient(access_token="ctok_abc", **common) as client:
        assert client.get_project_info()["path"] == "/v1/connect/proj_env/projects/info"


def test_client_credentials_still_need_a_project_id() -> None:
    with pytest.raises(ValueError, match="project_id"):
        SyncPipedreamClient(CLIENT_ID, "secret", "", "development")
    with pytest.raises(ValueError, match="project_id"):
        SyncPipedreamClient(CLIENT_ID, None, None, "development", client_assertion=lambda: "a")


# ---------------------------------------------------------------------------------------------
# private_key= (PyJWT and cryptography)
# ---------------------------------------------------------------------------------------------


def _keys() -> Any:
    pytest.importorskip("jwt", reason="private_key= needs PyJWT")
    pytest.importorskip("cryptography", reason="private_key= needs cryptography")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    def pem(key: Any) -> str:
        return key.private_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    return {
        "ES256": ec.generate_private_key(ec.SECP256R1()),
        "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "P-384": ec.generate_private_key(ec.SECP384R1()),
        "Ed25519": ed25519.Ed25519PrivateKey.generate(),
        "pem": pem,
    }


@pytest.fixture(scope="module")
def keys() -> Any:
    return _keys()


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_private_key_signs_a_new_assertion_per_token_request(server: Server, keys: Any, algorithm: str) -> None:
    import jwt

    tokens = TokenEndpoint(server)
    tokens.faults = [Response(503, json={"error": "unavailable"})]
    key = keys[algorithm]
    with SyncPipedreamClient(
        CLIENT_ID,
        None,
        PROJECT_ID,
        "development",
        base_url=server.url + "/",
        private_key=keys["pem"](key),
        key_id="key-1",
        proxy=False,
    ) as client:
        client.get_project_info()
    assert len(tokens.bodies) == 2  # a 503, then a new assertion
    jtis = []
    for body in tokens.bodies:
        assert set(body) == {"client_id", "client_assertion_type", "client_assertion", "grant_type"}
        assertion = body["client_assertion"]
        header = jwt.get_unverified_header(assertion)
        assert header == {"alg": algorithm, "typ": "client-authentication+jwt", "kid": "key-1"}
        claims = jwt.decode(assertion, key.public_key(), algorithms=[algorithm], audience=server.url)
        assert claims["iss"] == claims["sub"] == CLIENT_ID
        assert claims["exp"] - claims["iat"] == 60
        jtis.append(claims["jti"])
    assert len(set(jtis)) == 2


def test_private_key_as_a_jwk_takes_its_kid(server: Server, keys: Any) -> None:
    import jwt

    tokens = TokenEndpoint(server)
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(keys["ES256"]))
    jwk["kid"] = "from-the-jwk"
    with SyncPipedreamClient(
        CLIENT_ID, None, PROJECT_ID, "development", base_url=server.url, private_key=json.dumps(jwk), proxy=False
    ) as client:
        client.get_project_info()
    assert jwt.get_unverified_header(tokens.bodies[0]["client_assertion"])["kid"] == "from-the-jwk"


@pytest.mark.parametrize("kind", ["P-384", "Ed25519"])
def test_an_unsupported_key_type_is_refused_naming_the_algorithms(keys: Any, kind: str) -> None:
    with pytest.raises(ValueError) as caught:
        SyncPipedreamClient(CLIENT_ID, None, PROJECT_ID, "development", private_key=keys["pem"](keys[kind]))
    assert "ES256" in str(caught.value) and "RS256" in str(caught.value)


def test_a_public_key_is_refused_without_showing_it(keys: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    public = (
        keys["ES256"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(ValueError) as caught:
        SyncPipedreamClient(CLIENT_ID, None, PROJECT_ID, "development", private_key=public)
    assert "PEM format or a JWK" in str(caught.value)
    assert public.splitlines()[1] not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


@pytest.mark.parametrize("private_key", [b"-----BEGIN PRIVATE KEY-----", "  ", 42])
def test_a_private_key_that_is_not_text_is_refused(private_key: Any) -> None:
    with pytest.raises(ValueError, match="PEM format or a JWK"):
        SyncPipedreamClient(CLIENT_ID, None, PROJECT_ID, "development", private_key=private_key)


def test_private_key_from_the_environment(server: Server, keys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import jwt

    tokens = TokenEndpoint(server)
    monkeypatch.setenv("PIPEDREAM_PRIVATE_KEY", keys["pem"](keys["RS256"]))
    monkeypatch.setenv("PIPEDREAM_KEY_ID", "env-kid")
    with SyncPipedreamClient(CLIENT_ID, None, PROJECT_ID, "development", base_url=server.url, proxy=False) as client:
        client.get_project_info()
    assert jwt.get_unverified_header(tokens.bodies[0]["client_assertion"])["kid"] == "env-kid"


_WITHOUT_PYJWT = """
import sys
sys.modules["jwt"] = None  # as if PyJWT were not installed
sys.path.insert(0, sys.argv[1])
import pipedream
try:
    pipedream.SyncPipedreamClient("c", None, "proj_x", "development", private_key="k")
except ImportError as exc:
    print(exc)
"""


def test_without_pyjwt_private_key_says_which_packages_it_needs() -> None:
    out = subprocess.run(
        [sys.executable, "-I", "-c", _WITHOUT_PYJWT, str(ROOT)], capture_output=True, text=True, timeout=60
    )
    assert "PyJWT" in out.stdout and "cryptography" in out.stdout, out.stderr


# Every mode but the private key, in a fresh interpreter: neither PyJWT nor cryptography (nor
# any module of theirs) may be imported.
_NO_CRYPTO = """
import asyncio, sys
sys.path[:0] = sys.argv[1:3]
from servers import Response, Server, echo
import pipedream

def token(request):
    return Response(200, json={"access_token": "at-1", "expires_in": 3600})

with Server() as server:
    server.route("/v1/oauth/token", token, method="POST")
    server.default = echo
    common = dict(base_url=server.url, proxy=False)
    clients = [
        pipedream.SyncPipedreamClient("c", "s", "proj_x", "development", **common),
        pipedream.SyncPipedreamClient("c", None, "proj_x", "development", client_assertion=lambda: "a.b.c", **common),
        pipedream.SyncPipedreamClient(access_token="static", project_id="proj_x", **common),
        pipedream.SyncPipedreamClient(access_token="ctok_x", project_id="", **common),
    ]
    for client in clients:
        client.get_accounts(external_user_id="u")
        client.close()

    async def main():
        async with pipedream.PipedreamClient("c", None, "proj_x", client_assertion=lambda: "a.b.c", **common) as c:
            await c.get_accounts(external_user_id="u")

    asyncio.run(main())
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("jwt", "cryptography", "uuid"))
print(loaded)
"""


def test_no_crypto_module_is_imported_without_a_private_key() -> None:
    out = subprocess.run(
        [sys.executable, "-I", "-c", _NO_CRYPTO, str(ROOT), str(ROOT / "tests")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "PIPEDREAM_PROJECT_ENVIRONMENT": "development"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# Against the bundled replica (replicas/pipedream_replica.py)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def replica() -> Iterator[Any]:
    import pipedream_replica

    server, _ = pipedream_replica.start()
    yield server
    pipedream_replica.stop(server)


def _unsigned_assertion(claims: Dict[str, Any]) -> str:
    """A JWT with the right header and claims and a dummy signature (the replica checks the
    claims, not the signature)."""

    def part(value: Dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return "%s.%s.c2ln" % (part({"alg": "ES256", "typ": "client-authentication+jwt"}), part(claims))


def test_the_replica_takes_client_assertions_once_each(replica: Any) -> None:
    import pipedream_replica

    client_id = pipedream_replica.DEFAULT_CLIENT_ID
    jtis = iter(["jti-1", "jti-1", "jti-2"])

    def new_assertion() -> str:
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": replica.base_url, "iat": now, "exp": now + 60}
        return _unsigned_assertion(dict(claims, jti=next(jtis)))

    options: Dict[str, Any] = dict(base_url=replica.base_url, proxy=False, client_assertion=new_assertion)
    with SyncPipedreamClient(client_id, None, pipedream_replica.DEFAULT_PROJECT_ID, "development", **options) as first:
        assert first.get_project_info()["apps"]
    with SyncPipedreamClient(client_id, None, pipedream_replica.DEFAULT_PROJECT_ID, "development", **options) as reuse:
        with pytest.raises(PipedreamAuthError, match="jti is missing or was used before"):
            reuse.get_project_info()
        assert reuse.get_project_info()["apps"]  # the next token request has a new jti


def test_the_replica_takes_a_connect_token_without_a_project(replica: Any) -> None:
    import pipedream_replica

    with SyncPipedreamClient(
        pipedream_replica.DEFAULT_CLIENT_ID,
        pipedream_replica.DEFAULT_CLIENT_SECRET,
        pipedream_replica.DEFAULT_PROJECT_ID,
        "development",
        base_url=replica.base_url,
        proxy=False,
    ) as backend:
        ctok = backend.create_connect_token("user-1")["token"]
        expected = backend.get_accounts(external_user_id="user-1")
    options: Dict[str, Any] = dict(environment="development", base_url=replica.base_url, proxy=False)
    with SyncPipedreamClient(access_token=ctok, project_id="", **options) as client:
        assert client.get_accounts(external_user_id="user-1") == expected
        assert replica.requests[-1].path == "/v1/connect/accounts"
        with pytest.raises(pipedream.PipedreamApiError) as caught:
            client.get_accounts(external_user_id="user-2")
    assert caught.value.status_code == 403
