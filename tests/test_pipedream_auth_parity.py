"""Wire parity with the official Pipedream Python SDK in every authentication mode.

tests/test_pipedream_parity.py compares every endpoint in one mode; this file compares one
call (``accounts.list`` for a user, a project-scoped read with a query) in each way a client
can authenticate, request by request, token requests included:

* ``client_secret``: the token request (secret in the JSON body), then the call;
* ``private_key`` (needs PyJWT and cryptography on both sides; skipped where missing): the token
  request with a signed client assertion, compared by its decoded header and claims (the
  signatures differ), then the call;
* ``client_assertion`` (a caller's function; the official SDK has no such option): the token
  request is compared with the official ``private_key`` one but for the assertion itself, which
  is what our function returned, and with ``oauth_tokens.create`` given the same assertion;
* ``access_token`` (static): the call alone, no token request;
* a Connect token as ``access_token`` with an empty project id: the call alone, on the path
  without the project segment.

Compared: method, path, query, JSON body and the ``Authorization`` and ``x-pd-environment``
(and ``content-type``) headers. Our side runs against a loopback server that answers token
requests with the same token the official side's mock gives, so ``Authorization`` is compared
as is.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl

import pytest
import test_pipedream_parity as parity_test
from servers import Request, Response, Server

from pipedream import SyncPipedreamClient

CLIENT_ID = parity_test.CLIENT_ID
CLIENT_SECRET = parity_test.CLIENT_SECRET
PROJECT_ID = parity_test.PROJECT_ID
ENVIRONMENT = parity_test.ENVIRONMENT
USER = "user-1"
TOKEN = "sdk-oauth-token"  # what tests/official_sdk_capture.py's mock issues
STATIC_TOKEN = "pd-static-token"
CONNECT_TOKEN = "ctok_parity0123456789"
ASSERTION = "eyJhbGciOiJFUzI1NiJ9.caller-made.assertion"
KEY_ID = "parity-key"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ACCOUNTS = {"data": [], "page_info": {"count": 0}}


def _private_key_pem() -> Optional[str]:
    """A P-256 private key in PEM, or None without PyJWT and cryptography."""
    try:
        import jwt  # noqa: F401
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError:
        return None
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


PRIVATE_KEY = _private_key_pem()

# mode -> (our constructor's keyword arguments, the official Pipedream's, requests expected)
MODES: Dict[str, Tuple[Dict[str, Any], Dict[str, Any], int]] = {
    "client_secret": (
        dict(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, project_id=PROJECT_ID),
        dict(client_id=CLIENT_ID, client_secret=CLIENT_SECRET),
        2,
    ),
    "private_key": (
        dict(client_id=CLIENT_ID, private_key=PRIVATE_KEY, key_id=KEY_ID, project_id=PROJECT_ID),
        dict(client_id=CLIENT_ID, private_key=PRIVATE_KEY, key_id=KEY_ID),
        2,
    ),
    "access_token": (
        dict(access_token=STATIC_TOKEN, project_id=PROJECT_ID),
        dict(access_token=STATIC_TOKEN),
        1,
    ),
    "connect_token": (
        dict(access_token=CONNECT_TOKEN, project_id=""),
        dict(access_token=CONNECT_TOKEN, project_id=""),
        1,
    ),
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PIPEDREAM_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(name)


def _serve(request: Request) -> Response:
    if request.path == "/v1/oauth/token":
        return Response(200, json={"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})
    return Response(200, json=ACCOUNTS)


def run_ours(options: Dict[str, Any]) -> List[Request]:
    with Server(default=_serve) as server:
        with SyncPipedreamClient(
            environment=ENVIRONMENT, base_url=server.url, max_retries=0, proxy=False, **options
        ) as client:
            client.get_accounts(external_user_id=USER)
        ours = list(server.requests)
    for request in ours:
        request.base_url = server.url  # type: ignore[attr-defined]
    return ours


@pytest.fixture(scope="module")
def official() -> Dict[str, Any]:
    response = {
        "status": 200,
        "content_type": "application/json",
        "body_b64": base64.b64encode(json.dumps(ACCOUNTS).encode()).decode(),
    }
    calls = [
        {
            "id": mode,
            "call": "accounts.list",
            "args": [],
            "kwargs": {"external_user_id": USER},
            "client": sdk_options,
            "response": response,
        }
        for mode, (_, sdk_options, _) in MODES.items()
        if mode != "private_key" or PRIVATE_KEY is not None
    ]
    # The official token call given our caller's assertion (on a client that needs no token).
    calls.append(
        {
            "id": "oauth_tokens.create",
            "call": "oauth_tokens.create",
            "args": [],
            "kwargs": {"client_id": CLIENT_ID, "client_assertion_type": JWT_BEARER, "client_assertion": ASSERTION},
            "client": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            "response": {
                "status": 200,
                "content_type": "application/json",
                "body_b64": base64.b64encode(json.dumps({"access_token": TOKEN, "expires_in": 3600}).encode()).decode(),
            },
        }
    )
    return parity_test.run_official(calls)["results"]  # type: ignore[no-any-return]


def _claims(assertion: str, origin: str) -> Dict[str, Any]:
    """An assertion's header and claims, with what differs by run checked and replaced."""
    import jwt

    header = jwt.get_unverified_header(assertion)
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert claims["aud"] == origin, (claims["aud"], origin)  # the API origin, on either side
    assert claims["exp"] - claims["iat"] == 60
    assert len(claims.pop("jti")) >= 32
    claims["aud"] = "<the API origin>"
    del claims["iat"], claims["exp"]
    return {"header": header, "claims": claims}


def _wire(view: Dict[str, Any], origin: str) -> Dict[str, Any]:
    body = view["body"]
    if isinstance(body, dict) and "client_assertion" in body and body["client_assertion"] != ASSERTION:
        view = dict(view, body=dict(body, client_assertion=_claims(body["client_assertion"], origin)))
    return view


def official_requests(official: Dict[str, Any], mode: str) -> List[Dict[str, Any]]:
    result = official[mode]
    assert result["error"] is None, result["error"]
    return [_wire(parity_test.official_wire(r), parity_test.SDK_BASE_URL) for r in result["requests"]]


def our_requests(options: Dict[str, Any]) -> List[Dict[str, Any]]:
    views = []
    for request in run_ours(options):
        view = {
            "method": request.method,
            "path": request.path,
            "query": sorted(parse_qsl(request.query, keep_blank_values=True)),
            "body": parity_test._json_or_text(request.body),
            "headers": parity_test._headers(request.headers),
        }
        views.append(_wire(view, request.base_url))  # type: ignore[attr-defined]
    return views


@pytest.mark.parametrize("mode", sorted(MODES))
def test_same_requests_in_every_authentication_mode(official: Dict[str, Any], mode: str) -> None:
    ours_options, _, expected = MODES[mode]
    if mode == "private_key" and PRIVATE_KEY is None:
        pytest.skip("private_key= needs PyJWT and cryptography, not installed here")
    sdk = official_requests(official, mode)
    ours = our_requests(ours_options)
    assert len(sdk) == expected, sdk
    assert ours == sdk
    api_call = ours[-1]
    assert api_call["path"] == ("/v1/connect/accounts" if mode == "connect_token" else "/v1/connect/proj_demo/accounts")
    assert api_call["headers"]["authorization"] == "Bearer " + {
        "access_token": STATIC_TOKEN,
        "connect_token": CONNECT_TOKEN,
    }.get(mode, TOKEN)


def test_a_callers_assertion_goes_where_the_official_sdk_puts_a_signed_one(official: Dict[str, Any]) -> None:
    ours = our_requests(dict(client_id=CLIENT_ID, client_assertion=lambda: ASSERTION, project_id=PROJECT_ID))
    assert len(ours) == 2
    token_request, api_call = ours
    assert token_request["body"]["client_assertion"] == ASSERTION
    assert "client_secret" not in token_request["body"]
    # The official token call given the same assertion sends the same body.
    created = parity_test.official_wire(official["oauth_tokens.create"]["requests"][-1])
    assert created["path"] == token_request["path"] == "/v1/oauth/token"
    assert created["body"] == token_request["body"]
    # And the same request as the official private_key mode, the assertion aside, then the same call.
    if PRIVATE_KEY is None:
        pytest.skip("the official private_key mode needs PyJWT and cryptography, not installed here")
    sdk_token, sdk_call = official_requests(official, "private_key")
    assert dict(token_request, body=dict(token_request["body"], client_assertion=None)) == dict(
        sdk_token, body=dict(sdk_token["body"], client_assertion=None)
    )
    assert api_call == sdk_call
