"""Client for the Pipedream Connect API, in one file, standard library only.

Copy this file into a project (or install the distribution) and call the API::

    import asyncio
    from pipedream import PipedreamClient

    async def main():
        async with PipedreamClient("client-id", "client-secret", "proj_abc",
                                   environment="development") as client:
            token = await client.create_connect_token(external_user_id="user-1")
            accounts = await client.get_accounts(external_user_id="user-1", limit=10)
            print(token["token"], len(accounts["data"]))

    asyncio.run(main())

``SyncPipedreamClient`` has the same methods without ``await``. ``PipedreamClient``
runs that sync code in worker threads the client owns, so both share one code path.

What the client does for you (README.md has the details):
  * OAuth client-credentials token fetched once, cached until two minutes before it
    expires, refreshed under a lock (one token request however many calls are waiting)
    and once more after a 401; the client authenticates with its secret or with a new
    signed assertion per token request (your function, or ``private_key=``, which alone
    needs PyJWT and cryptography), or you give a token (a Connect token needs no project id);
  * the official wire format: /v1/connect paths, snake_case fields, ``x-pd-environment``;
  * one kept-alive HTTPS connection reused per host and thread, a total time limit on
    every call (60 s by default), reads retried on 408/429/5xx with Retry-After, and
    writes (``run_action``, ``deploy_trigger``...) never sent twice by a retry;
  * errors that carry status, API message, method, URL and request id, never a secret;
  * every endpoint of the official Python SDK (projects, users, app overrides, OAuth apps,
    webhooks, usage, File Stash downloads streamed to a file...), ``with_raw_response``
    (status, headers, request id) and ``with_options`` (timeout, retries, headers, query).
"""

from __future__ import annotations

import _thread  # only its lock: importing threading adds ~3% to a cold start
import _weakref  # not weakref: see _on_collect
import atexit
import base64
import functools
import http.client
import io
import json
import os
import random
import re
import select
import socket
import ssl
import sys
import time
from collections.abc import Mapping as _Mapping  # for isinstance; annotations: typing.Mapping
from urllib.parse import quote, quote_plus, unquote, urlencode, urljoin, urlsplit

# typing is imported for type checkers only: at run time it would add about a tenth to the
# cold start (import and construct a client), the number Lambda authors compare.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - imported for type checkers only, never at run time
    import asyncio
    import concurrent.futures
    import logging
    import threading
    from typing import (
        Any,
        AsyncIterator,
        BinaryIO,
        Callable,
        Dict,
        Iterator,
        List,
        Mapping,
        Optional,
        Sequence,
        Tuple,
        Type,
        TypeVar,
        Union,
    )
    from urllib.parse import SplitResult

    JSON = Any  # a value decoded from JSON: dict, list, str, int, float, bool or None
    _Returned = TypeVar("_Returned")  # what an API method declares it returns: see _call

__all__ = [
    "PipedreamClient",
    "SyncPipedreamClient",
    "PipedreamApiError",
    "PipedreamAuthError",
    "RawResponse",
    "DEFAULT_BASE_URL",
    "DEFAULT_WORKFLOW_DOMAIN",
    "DEFAULT_TIMEOUT",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RESPONSE_BYTES",
]
__version__ = "0.1.0"

DEFAULT_BASE_URL = "https://api.pipedream.com"
DEFAULT_WORKFLOW_DOMAIN = "m.pipedream.net"
DEFAULT_TIMEOUT = 60.0  # seconds for a whole call, retries included (the official SDK's default)
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # cap on a response body held in memory (not a download)
_WRITE_IDLE_LIMIT = 1.0  # seconds a kept-alive connection may idle and still carry a write (see the transport)
ENVIRONMENTS = ("development", "production")
COMPONENT_TYPES = ("components", "actions", "triggers")
AUTH_TYPES = ("none", "oauth", "static_bearer_token")


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class PipedreamApiError(Exception):
    """Any failure of a Pipedream call: an HTTP error status, a network error, a timeout
    or a response that is not the JSON that was expected.

    Attributes (``None`` where they do not apply, e.g. ``status_code`` on a timeout):
    ``status_code``, ``response_data`` (the parsed error body, or its text; also
    ``body``), ``detail`` (the API's own message, e.g. its ``error`` field),
    ``method``, ``url``, ``request_id`` (if the server sent one) and ``headers``
    (response headers, lower-case names). Never contains a secret or token.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: Optional[int] = None,
        response_data: JSON = None,
        detail: Optional[str] = None,
        method: Optional[str] = None,
        url: Optional[str] = None,
        request_id: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.response_data = response_data
        self.detail = detail
        self.method = method
        self.url = url
        self.request_id = request_id
        self.headers = headers

    def copy(self, error_class: Optional[Type["PipedreamApiError"]] = None) -> "PipedreamApiError":
        """The same error, whole, as a new object (of ``error_class`` if given): an error
        raised again in another thread, or as a subclass, without editing this one."""
        return (error_class or type(self))(
            self.args[0] if self.args else "",
            status_code=self.status_code,
            response_data=self.response_data,
            detail=self.detail,
            method=self.method,
            url=self.url,
            request_id=self.request_id,
            headers=self.headers,
        )

    @property
    def body(self) -> JSON:
        return self.response_data


class PipedreamAuthError(PipedreamApiError):
    """The OAuth token could not be obtained (bad client id or secret, or the token
    endpoint failed), or the API still answered 401 after a fresh token."""


# The response shapes. Type checkers see TypedDicts. At run time the class statements below only
# record their (string) annotations, and the real TypedDicts are built, with typing, on first
# access (``from pipedream import Account``; see ``__getattr__`` below).
if TYPE_CHECKING:  # pragma: no cover - imported for type checkers only
    from typing import TypedDict
else:
    _TYPE_SHAPES = {}  # name -> (annotations, total), in definition order

    class TypedDict:
        def __init_subclass__(cls, total=True):
            _TYPE_SHAPES[cls.__name__] = (cls.__dict__.get("__annotations__", {}), total)


class PageInfo(TypedDict, total=False):
    count: int
    total_count: int
    start_cursor: Optional[str]
    end_cursor: Optional[str]


class App(TypedDict, total=False):
    id: Optional[str]
    name_slug: str
    name: str
    auth_type: str  # "oauth", "keys" or "none"
    description: str
    img_src: str
    custom_fields_json: str
    categories: List[str]
    featured_weight: float
    scope_profiles: List[Dict[str, Any]]
    oauth_app_id: Optional[str]


class AppList(TypedDict, total=False):
    data: List[App]
    page_info: PageInfo


class AppResponse(TypedDict, total=False):
    data: App


class ConnectToken(TypedDict, total=False):
    token: str
    expires_at: str
    connect_link_url: str


class Account(TypedDict, total=False):
    id: str
    name: Optional[str]
    external_id: str
    healthy: bool
    dead: Optional[bool]
    app: App
    created_at: str
    updated_at: str
    authorized_scopes: List[str]
    credentials: Dict[str, Any]
    expires_at: Optional[str]
    error: Optional[str]
    last_refreshed_at: Optional[str]
    next_refresh_at: Optional[str]


class AccountList(TypedDict, total=False):
    data: List[Account]
    page_info: PageInfo


class Component(TypedDict, total=False):
    key: str
    name: str
    version: str
    configurable_props: List[Dict[str, Any]]
    description: str
    component_type: str
    stash: str
    annotations: Dict[str, Any]


class ComponentList(TypedDict, total=False):
    data: List[Component]
    page_info: PageInfo


class ComponentResponse(TypedDict, total=False):
    data: Component


class RunActionResult(TypedDict, total=False):
    exports: Dict[str, Any]
    os: List[Dict[str, Any]]
    ret: Any
    stash_id: Optional[str]


class DeployedTrigger(TypedDict, total=False):
    id: str
    owner_id: str
    component_id: str
    component_key: str
    configurable_props: List[Dict[str, Any]]
    configured_props: Dict[str, Any]
    active: bool
    created_at: int  # epoch milliseconds
    updated_at: int
    name: str
    name_slug: str
    emit_on_deploy: bool
    webhook_signing_key: str
    endpoint_url: str  # HTTP interfaces
    interval_seconds: int  # timers
    cron: Optional[str]


class DeployedTriggerList(TypedDict, total=False):
    data: List[DeployedTrigger]
    page_info: PageInfo


class DeployedTriggerResponse(TypedDict, total=False):
    data: DeployedTrigger


class OAuthToken(TypedDict, total=False):
    access_token: str
    token_type: str  # "Bearer"
    expires_in: int  # seconds


# The v2 catalogue (search documents, paged by number; fields beyond these are passed through).
class NumberedPageInfo(TypedDict, total=False):
    count: int
    page: int
    per_page: int
    total_count: int


class AppDocument(TypedDict, total=False):
    id: str
    name_slug: str
    name: str
    auth_type: str
    category_name: str
    description: str
    featured_weight: float
    has_actions: bool
    has_triggers: bool
    img_src: str


class AppDocumentList(TypedDict, total=False):
    data: List[AppDocument]
    page_info: NumberedPageInfo


class AppDocumentResponse(TypedDict, total=False):
    data: AppDocument


class ComponentDocument(TypedDict, total=False):
    id: str  # "pc_..."
    key: str
    name: str
    version: str
    app_name_slug: str
    component_type: str  # "action" or "source"
    description: str


class ComponentDocumentList(TypedDict, total=False):
    data: List[ComponentDocument]
    page_info: NumberedPageInfo


class ComponentDocumentResponse(TypedDict, total=False):
    data: ComponentDocument


class Facets(TypedDict, total=False):
    data: Dict[str, List[Dict[str, Any]]]  # facet field -> [{"value", "count"}]


if not TYPE_CHECKING:
    for _name in _TYPE_SHAPES:  # undefined until __getattr__ builds them
        del globals()[_name]
    del TypedDict, _name
    _types_lock = _thread.allocate_lock()

    def __getattr__(name):
        """The response TypedDicts, built on first access (PEP 562: ``from pipedream import
        Account``) with typing, which importing this module does not load (about a tenth of a
        cold start). Building them also defines the typing names the annotations use, so that
        ``typing.get_type_hints`` works on every method from then on."""
        if name not in _TYPE_SHAPES:
            raise AttributeError("module %r has no attribute %r" % (__name__, name))
        with _types_lock:
            if name not in globals():
                _load_types()
        return globals()[name]

    def __dir__():
        return sorted(set(globals()) | set(_TYPE_SHAPES))

    def _load_types():
        import logging
        import threading
        import typing

        names = {
            n: getattr(typing, n)
            for n in (
                "Any",
                "AsyncIterator",
                "BinaryIO",
                "Callable",
                "Dict",
                "Iterator",
                "List",
                "Mapping",
                "Optional",
                "Sequence",
                "Tuple",
                "Type",
                "Union",
            )
        }
        names.update(JSON=typing.Any, logging=logging, threading=threading)
        for type_name, (annotations, total) in _TYPE_SHAPES.items():
            names[type_name] = typing.TypedDict(type_name, dict(annotations), total=total)
        globals().update(names)


# ---------------------------------------------------------------------------------------------
# Token
# ---------------------------------------------------------------------------------------------

_TOKEN_PATH = "/v1/oauth/token"
_TOKEN_MARGIN = 120.0  # refresh two minutes before expiry, as the official SDK does
_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"  # RFC 7523 client authentication
_ASSERTION_LIFETIME = 60  # seconds: an assertion only has to outlive one token request


class _TokenProvider:
    """The OAuth client-credentials token, fetched once and shared by all threads.

    The client authenticates with its secret or, when ``assertion`` is given, with a client
    assertion (RFC 7523) that ``assertion()`` makes afresh for every token request sent.

    A lock makes concurrent callers wait for the one request in progress instead of
    sending their own. Callers that waited for a request that failed share its failure
    rather than each trying in turn; nothing is cached, so the next call tries again."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        static_token: Optional[str] = None,
        assertion: Optional[Callable[[], str]] = None,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._assertion = assertion
        self._token = static_token
        self._expires_at = float("inf") if static_token else 0.0
        self.static = static_token is not None
        self._lock = _thread.allocate_lock()
        self._attempts = 0  # token requests finished, successful or not
        self._failure: Optional[PipedreamApiError] = None  # how the last one failed
        self.requests = 0  # token requests sent, for tests and diagnostics
        _watch_fork(self)

    def _after_fork(self) -> None:
        """In a child process: another thread of the parent may have held the lock at the fork
        (a token request in progress), and would never release it here."""
        self._lock = _thread.allocate_lock()

    def token(self, client: "SyncPipedreamClient", deadline: float) -> str:
        token = self._token
        if token is not None and _clock.monotonic() < self._expires_at:
            return token
        attempts_seen = self._attempts
        if not self._lock.acquire(timeout=max(0.0, deadline - _clock.monotonic())):
            raise PipedreamAuthError("get OAuth token failed: timed out waiting for the token request in progress")
        try:
            if self._token is not None and _clock.monotonic() < self._expires_at:
                return self._token
            if self._attempts != attempts_seen and self._failure is not None:
                # A new object per waiting caller: one raised in several threads would have
                # its traceback rewritten by each.
                raise self._failure.copy()
            self._token = None
            self.requests += 1
            try:
                token = self._fetch(client, deadline)
            except PipedreamApiError as error:
                self._failure = error
                raise
            finally:
                self._attempts += 1
            self._failure = None
            return token
        finally:
            self._lock.release()

    def _fetch(self, client: "SyncPipedreamClient", deadline: float) -> str:
        started = _clock.monotonic()
        if self._assertion is None:
            body = {
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "grant_type": "client_credentials",
            }
            data = client._token_call("get OAuth token", body, deadline=deadline)
        else:
            data = self._post_with_assertions(client, deadline)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise PipedreamAuthError("get OAuth token failed: the response has no access_token")
        client._transport.add_secret(token, rotating=True)
        try:
            _credential("access_token", token)  # else every call would fail half-way through sending it
        except ValueError:
            raise PipedreamAuthError("get OAuth token failed: the access_token cannot be sent in a header") from None
        expires_in = data.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, (int, float)) and expires_in > 0 else 3600.0
        # Short-lived tokens keep half their life as margin rather than expiring at once.
        margin = _TOKEN_MARGIN if lifetime > 2 * _TOKEN_MARGIN else lifetime / 2
        self._expires_at = started + lifetime - margin
        self._token = token
        return token

    def _post_with_assertions(self, client: "SyncPipedreamClient", deadline: float) -> JSON:
        """The token request, each attempt with a new assertion: the server refuses one it
        has seen (its ``jti``), so the transport must not re-send the same body. The
        official SDK's rule: retried on a timeout, a network error, 408, 429 and 5xx."""
        single_attempts = client.with_options(max_retries=0)
        attempt = 0
        while True:
            attempt += 1
            body = {
                "client_id": self._client_id,
                "client_assertion_type": _JWT_BEARER,
                "client_assertion": self._new_assertion(client),
                "grant_type": "client_credentials",
            }
            failed: Optional[PipedreamApiError] = None
            try:
                return single_attempts._token_call("get OAuth token", body, deadline=deadline)
            except PipedreamApiError as error:
                failed = error
            # The transport's rule for an idempotent request: each attempt carries a new
            # assertion, so sending again cannot reuse one. A failure without a status (a
            # timeout, a network error) is retried like the transport retries it.
            status = failed.status_code
            hint = _retry_hint(failed.headers or {}) if status is not None else None
            if status is None:
                retry = attempt <= client.max_retries
            else:
                retry = _should_retry(attempt, client.max_retries, True, status=status, hint=hint)
            wait = _sleep_time(attempt, hint)
            if not retry or _clock.monotonic() + wait >= deadline:
                raise failed
            _clock.sleep(wait)

    def _new_assertion(self, client: "SyncPipedreamClient") -> str:
        """A fresh assertion from the caller's provider, registered as a secret before it is
        sent. A failure names its cause, never the assertion."""
        assert self._assertion is not None
        failure: Optional[BaseException] = None
        assertion: Any = None  # the caller's function may return anything
        try:
            assertion = self._assertion()
        except Exception as exc:  # the caller's code: any failure is a failure to authenticate
            failure = exc
        if failure is not None:
            message = "get OAuth token failed: the client assertion provider raised %s: %s" % (
                type(failure).__name__,
                failure,
            )
            raise client._transport.error(PipedreamAuthError, message) from failure
        if type(assertion).__name__ == "coroutine":  # an async function: it never runs here
            assertion.close()  # (no "never awaited" warning on top of the error below)
        if not isinstance(assertion, str) or not assertion:
            raise PipedreamAuthError(
                "get OAuth token failed: the client assertion provider must return a non-empty string, got %s"
                % ("an empty string" if isinstance(assertion, str) else type(assertion).__name__)
            )
        client._transport.add_secret(assertion, rotating=True)
        return assertion

    def invalidate(self, token: str) -> bool:
        """Forget ``token`` after the API refused it; False if it cannot be refreshed."""
        if self.static:
            return False
        with self._lock:
            if self._token == token:
                self._token = None
        return True


class _PrivateKeyAssertions:
    """Client assertions signed with a private key, as the official SDK's ``private_key=``
    makes them: a JWT with ``iss`` = ``sub`` = the client id, ``aud`` = the API origin,
    ``iat``, ``exp`` 60 s later and a random ``jti``; header ``typ:
    client-authentication+jwt`` and ``kid`` if known. ES256 for EC P-256 keys, RS256 for RSA
    keys. The key is a PEM string (PKCS#8, PKCS#1 or SEC1) or a JWK as JSON.

    The standard library cannot sign these, so PyJWT and cryptography are optional
    dependencies of this one path: loaded by name here, only when a client is given a private
    key, never by the rest of the module (which must run with the standard library alone)."""

    def __init__(self, client_id: str, private_key: str, key_id: Optional[str], audience: str) -> None:
        from importlib import import_module

        try:
            jwt = import_module("jwt")  # PyJWT
            ec = import_module("cryptography.hazmat.primitives.asymmetric.ec")
            rsa = import_module("cryptography.hazmat.primitives.asymmetric.rsa")
            self._load_pem = import_module("cryptography.hazmat.primitives.serialization").load_pem_private_key
        except ImportError as exc:
            raise ImportError(
                "private_key needs the PyJWT and cryptography packages (pip install PyJWT cryptography); "
                "without them, pass client_assertion=, a function returning a signed assertion"
            ) from exc
        self._jwt = jwt
        self._client_id = client_id
        self._audience = audience
        key, jwk_kid = self._load(private_key.strip())
        self._key = key
        self._key_id = key_id or jwk_kid
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            self._algorithm = "ES256"
        elif isinstance(key, rsa.RSAPrivateKey):
            self._algorithm = "RS256"
        else:
            raise ValueError(
                "private_key must be an EC P-256 key (ES256) or an RSA key (RS256), got %s" % type(key).__name__
            )

    def _load(self, text: str) -> Tuple[Any, Optional[str]]:
        failure = None
        try:
            if text.startswith("{"):
                jwk = json.loads(text)
                key = self._jwt.PyJWK(jwk).key
                if not hasattr(key, "sign"):
                    raise ValueError("a public key")
                kid = jwk.get("kid")
                return key, kid if isinstance(kid, str) else None
            return self._load_pem(text.encode(), password=None), None
        except Exception as exc:  # named by its type only: a parser's message may quote the key
            failure = type(exc).__name__
        raise ValueError(
            "private_key must be a private key in PEM format or a JWK (JSON), not a public key (%s)" % failure
        )

    def __call__(self) -> str:
        import uuid

        now = int(_clock.time())
        headers = {"typ": "client-authentication+jwt"}
        if self._key_id:
            headers["kid"] = self._key_id
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": self._audience,
            "iat": now,
            "exp": now + _ASSERTION_LIFETIME,
            "jti": str(uuid.uuid4()),
        }
        return str(self._jwt.encode(claims, self._key, algorithm=self._algorithm, headers=headers))


# ---------------------------------------------------------------------------------------------
# Argument helpers
# ---------------------------------------------------------------------------------------------

# An endpoint id: "en" or "eo", then letters, digits or "-" (a function, not a regular
# expression: compiling one at import costs a tenth of this module's import time).
_ENDPOINT_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _is_endpoint_id(value: str) -> bool:
    value = value.lower()
    return len(value) > 2 and value[:2] in ("en", "eo") and set(value[2:]) <= _ENDPOINT_ID_CHARS


def _query(params: Mapping[str, Any]) -> str:
    """A query string: None dropped, booleans as true/false, lists as repeated keys."""
    pairs: List[Tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else (value,):
            pairs.append((key, "true" if item is True else "false" if item is False else str(item)))
    return urlencode(pairs, quote_via=quote) if pairs else ""


def _required(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("%s must be a non-empty string, got %r" % (name, value))
    return value


def _user_query(external_user_id: str, **extra: Any) -> Dict[str, Any]:
    """The query of a call made for one of your users (deployed triggers take it in the query)."""
    return dict(external_user_id=_required("external_user_id", external_user_id), **extra)


def _component_path(component_type: str) -> str:
    if component_type not in COMPONENT_TYPES:
        raise ValueError("component_type must be one of %s, got %r" % (", ".join(COMPONENT_TYPES), component_type))
    return component_type


def _compact(**fields: Any) -> Dict[str, Any]:
    """A JSON body without the optional fields that were not given."""
    return {key: value for key, value in fields.items() if value is not None}


def _either(camel_name: str, camel_value: Any, name: str, value: Any) -> Any:
    """One argument the original client's README spells in camelCase and Python users in snake_case."""
    if camel_value is not None and value is not None and camel_value != value:
        raise ValueError("pass %s or %s, not both" % (camel_name, name))
    return value if value is not None else camel_value


def _string_list(name: str, value: Optional[Sequence[str]]) -> Optional[List[str]]:
    """A list-of-strings argument as a list. A lone string is refused: ``list("abc")`` would
    silently send its characters one by one."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, _Mapping)):
        raise ValueError("%s must be a list of strings, got %r" % (name, value))
    try:
        items = list(value)
    except TypeError:
        raise ValueError("%s must be a list of strings, got %r" % (name, value)) from None
    if not all(isinstance(item, str) for item in items):
        raise ValueError("%s must be a list of strings, got %r" % (name, value))
    return items


def _flag(value: Optional[bool]) -> Optional[bool]:
    """Send a boolean query flag only when it is set (the API's default is false)."""
    return True if value else None


def _env_or(value: Optional[str], variable: str) -> Optional[str]:
    return value if value is not None else (os.environ.get(variable) or None)


class _Unset:
    """The default of an argument whose ``None`` means "send null" (e.g. to clear a field)."""

    def __repr__(self) -> str:
        return "UNSET"


_UNSET: Any = _Unset()


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError("%s must be an integer >= %d, got %r" % (name, minimum, value))
    return value


def _encode_body(
    headers: Dict[str, str], json_value: Any, data: Any, json_name: str, data_name: str, *, form: bool = False
) -> Optional[bytes]:
    """The body of a call to someone else (the proxy's target, a workflow), given as JSON
    (``json_value``) or as ``data``: a str (sent as UTF-8), bytes, or a mapping, sent as a
    form with ``form`` and as JSON otherwise (a list too). Sets the Content-Type of what
    it encodes in ``headers``; a form keeps a Content-Type the caller gave (its charset)."""
    if json_value is not None and data is not None:
        raise ValueError("pass %s or %s, not both" % (json_name, data_name))
    if form and isinstance(data, _Mapping):
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return _query(data).encode("ascii")
    if json_value is None and isinstance(data, (_Mapping, list)) and not form:
        json_value, json_name = data, data_name
    if json_value is not None:
        headers["Content-Type"] = "application/json"
        return _encode_json(json_name, json_value)
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if data is not None:
        raise ValueError("%s must be a mapping, %sstr or bytes" % (data_name, "" if form else "list, "))
    return None


def _with_query(url: str, query: Optional[Mapping[str, Any]]) -> str:
    encoded = _query(query) if query else ""
    return url + ("&" if "?" in url else "?") + encoded if encoded else url


def _content(response: "_Response") -> JSON:
    """The body of an answer from someone else, as its content type says: parsed JSON, text
    (text/*, or no content type) or bytes; None when empty. JSON that does not parse is
    returned as text: the answer is theirs to make, not an error of this client."""
    if response.status == 204 or not response.body.strip():
        return None
    content_type = response.headers.get("content-type", "")
    if "json" in content_type:
        try:
            return json.loads(response.body)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to parse
            pass
    elif content_type and not content_type.startswith("text/"):
        return response.body
    return response.body.decode("utf-8", "replace")


def _credential_values(cfmap_json: str) -> List[str]:
    """The string values (not the field names) of an account's credentials, at any depth."""
    try:
        stack = [json.loads(cfmap_json)]
    except (ValueError, RecursionError):
        return []
    values = []
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            values.append(item)
        elif isinstance(item, dict):
            stack += item.values()
        elif isinstance(item, list):
            stack += item
    return values


def _cfmap_json(value: Union[str, Mapping[str, Any]]) -> str:
    """``cfmap_json`` is a JSON object sent as a string; a mapping is encoded for the caller."""
    if isinstance(value, _Mapping):
        return _encode_json("cfmap_json", dict(value)).decode("utf-8")
    return _required("cfmap_json", value)


# ---------------------------------------------------------------------------------------------
# The endpoint table: every Pipedream API call of the client, by method name
# ---------------------------------------------------------------------------------------------

_DT = "{project}/deployed-triggers/{deployed_component_id}"

# method name: (HTTP method, path, what it does, for error messages). "{project}" is
# /v1/connect/{this client's project id}, "{project_v2}" the same under /v2; every other
# "{name}" is a positional argument of SyncPipedreamClient._call, percent-encoded as one path
# segment.
_ENDPOINTS: Dict[str, Tuple[str, str, str]] = {
    # projects
    "get_project_info": ("GET", "{project}/projects/info", "get project info"),
    "get_projects": ("GET", "/v1/connect/projects", "list projects"),
    "create_project": ("POST", "/v1/connect/projects", "create project"),
    "get_project": ("GET", "/v1/connect/projects/{project_id}", "get project"),
    "update_project": ("PATCH", "/v1/connect/projects/{project_id}", "update project"),
    "delete_project": ("DELETE", "/v1/connect/projects/{project_id}", "delete project"),
    "update_project_logo": ("POST", "/v1/connect/projects/{project_id}/logo", "update project logo"),
    "get_project_webhook": ("GET", "{project}/webhook", "get project webhook"),
    "update_project_webhook": ("PUT", "{project}/webhook", "update project webhook"),
    "delete_project_webhook": ("DELETE", "{project}/webhook", "delete project webhook"),
    "regenerate_project_webhook_signing_key": (
        "POST",
        "{project}/webhook/regenerate_signing_key",
        "regenerate project webhook signing key",
    ),
    "get_usage": ("GET", "/v1/connect/usage", "get usage"),
    # apps
    "get_apps": ("GET", "/v1/connect/apps", "list apps"),
    "get_app": ("GET", "/v1/connect/apps/{app_id_or_slug}", "get app"),
    "get_app_categories": ("GET", "/v1/connect/app_categories", "list app categories"),
    "get_app_category": ("GET", "/v1/connect/app_categories/{category_id}", "get app category"),
    "get_app_overrides": ("GET", "{project}/app_overrides", "list app overrides"),
    "create_app_override": ("POST", "{project}/app_overrides", "create app override"),
    "get_app_override": ("GET", "{project}/app_overrides/{app_override_id}", "get app override"),
    "update_app_override": ("PUT", "{project}/app_overrides/{app_override_id}", "update app override"),
    "delete_app_override": ("DELETE", "{project}/app_overrides/{app_override_id}", "delete app override"),
    "get_oauth_apps": ("GET", "{project}/oauth_apps", "list OAuth apps"),
    "create_oauth_app": ("POST", "{project}/oauth_apps", "create OAuth app"),
    "get_oauth_app": ("GET", "{project}/oauth_apps/{oauth_app_id}", "get OAuth app"),
    "update_oauth_app": ("PUT", "{project}/oauth_apps/{oauth_app_id}", "update OAuth app"),
    "delete_oauth_app": ("DELETE", "{project}/oauth_apps/{oauth_app_id}", "delete OAuth app"),
    # Connect tokens, users and accounts
    "create_connect_token": ("POST", "{project}/tokens", "create connect token"),
    "validate_connect_token": ("GET", "/v1/connect/tokens/{token}/validate", "validate connect token"),
    "get_users": ("GET", "{project}/users", "list users"),
    "delete_external_user": ("DELETE", "{project}/users/{external_user_id}", "delete external user"),
    "get_accounts": ("GET", "{project}/accounts", "list accounts"),
    "get_accounts_by_external_user": (
        "GET",
        "{project}/users/{external_user_id}/accounts",
        "list accounts of external user",
    ),
    "create_account": ("POST", "{project}/accounts", "create account"),
    "get_account_by_id": ("GET", "{project}/accounts/{account_id}", "get account"),
    "delete_account": ("DELETE", "{project}/accounts/{account_id}", "delete account"),
    "delete_accounts_by_app": ("DELETE", "{project}/apps/{app_id}/accounts", "delete accounts by app"),
    # components, actions, triggers
    "get_components": ("GET", "{project}/{component_type}", "list {component_type}"),
    "get_component": ("GET", "{project}/{component_type}/{component_key}", "get component"),
    "configure_component": ("POST", "{project}/{component_type}/configure", "configure component"),
    "reload_component_props": ("POST", "{project}/{component_type}/props", "reload component props"),
    "run_action": ("POST", "{project}/actions/run", "run action"),
    "deploy_trigger": ("POST", "{project}/triggers/deploy", "deploy trigger"),
    "download_file": ("GET", "{project}/file_stash/download", "download file"),
    # deployed triggers
    "get_deployed_triggers": ("GET", "{project}/deployed-triggers", "list deployed triggers"),
    "get_deployed_trigger": ("GET", _DT, "get deployed trigger"),
    "update_deployed_trigger": ("PUT", _DT, "update deployed trigger"),
    "delete_deployed_trigger": ("DELETE", _DT, "delete deployed trigger"),
    "get_deployed_trigger_events": ("GET", _DT + "/events", "list deployed trigger events"),
    "get_deployed_trigger_webhooks": ("GET", _DT + "/webhooks", "list deployed trigger webhooks"),
    "update_deployed_trigger_webhooks": ("PUT", _DT + "/webhooks", "update deployed trigger webhooks"),
    "get_deployed_trigger_webhook": ("GET", _DT + "/webhooks/{webhook_id}", "get deployed trigger webhook"),
    "reset_deployed_trigger_webhook_delivery_state": (
        "POST",
        _DT + "/webhooks/{webhook_id}/reset_delivery_state",
        "reset deployed trigger webhook delivery state",
    ),
    "regenerate_deployed_trigger_webhook_signing_key": (
        "POST",
        _DT + "/webhooks/{webhook_id}/regenerate_signing_key",
        "regenerate deployed trigger webhook signing key",
    ),
    "get_deployed_trigger_workflows": ("GET", _DT + "/pipelines", "list deployed trigger workflows"),
    "update_deployed_trigger_workflows": ("PUT", _DT + "/pipelines", "update deployed trigger workflows"),
    # rate limits (documented, not in the official SDK)
    "create_rate_limit": ("POST", "/v1/connect/rate_limits", "create rate limit"),
    # the OAuth token call itself, sent by _token_call (the client's own token: _TokenProvider)
    "create_oauth_token": ("POST", _TOKEN_PATH, "create OAuth token"),
    # the v2 catalogue (official TypeScript SDK v3: client.v2.apps, client.v2.components)
    "get_apps_v2": ("GET", "{project_v2}/apps", "list apps (v2)"),
    "get_app_facets_v2": ("GET", "{project_v2}/apps/facets", "get app facets (v2)"),
    "get_app_v2": ("GET", "{project_v2}/apps/{app_id_or_slug}", "get app (v2)"),
    "get_components_v2": ("GET", "{project_v2}/components", "list components (v2)"),
    "get_component_facets_v2": ("GET", "{project_v2}/components/facets", "get component facets (v2)"),
    "get_component_v2": ("GET", "{project_v2}/components/{component_id}", "get component (v2)"),
}
# The path arguments of each endpoint, in order ("{project}" excluded).
_PATH_ARGUMENTS: Dict[str, Tuple[str, ...]] = {
    name: tuple(
        field
        for field in (part.partition("}")[0] for part in path.split("{")[1:])
        if field not in ("project", "project_v2")
    )
    for name, (_, path, _) in _ENDPOINTS.items()
}


# ---------------------------------------------------------------------------------------------
# Raw responses and downloads
# ---------------------------------------------------------------------------------------------


class RawResponse:
    """What a method of ``client.with_raw_response`` returns: the HTTP response of the call
    (its last one, after a token refresh or a retry) with the value the method returns.

    ``status_code`` (int), ``headers`` (dict, lower-case names), ``request_id`` (the
    server's ``x-request-id``, or None), ``data`` (what the plain method returns: the parsed
    body, None for 204, the byte count of ``download_file``)."""

    __slots__ = ("status_code", "headers", "request_id", "data")

    def __init__(self, status_code: int, headers: Dict[str, str], request_id: Optional[str], data: Any) -> None:
        self.status_code = status_code
        self.headers = headers
        self.request_id = request_id
        self.data = data

    def __repr__(self) -> str:
        return "RawResponse(status_code=%d, request_id=%r, data=%s)" % (
            self.status_code,
            self.request_id,
            type(self.data).__name__,
        )


_NOT_RAW = frozenset(("close", "with_options", "with_raw_response"))


class _RawView:
    """``client.with_raw_response``: the client's API methods, each returning a
    ``RawResponse``. One wrapper for every method: ``_send`` records each response of a
    call made through this view in a thread-local slot, and the wrapper pairs the last one
    with the method's return value. Iterators (``iter_*``) yield items as usual."""

    def __init__(self, client: "SyncPipedreamClient") -> None:
        view = client._view()
        import threading  # here, not at import: see _thread above

        view._capture = threading.local()
        self._client = view

    def __repr__(self) -> str:
        return "%r.with_raw_response" % (self._client,)

    def with_options(self, **options: Any) -> "_RawView":
        return _RawView(self._client.with_options(**options))

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith(("_", "iter_")) or name in _NOT_RAW or not callable(attribute):
            return attribute
        capture = self._client._capture
        assert capture is not None

        @functools.wraps(attribute)
        def call(*args: Any, **kwargs: Any) -> RawResponse:
            capture.response = None
            try:
                data = attribute(*args, **kwargs)
                response: Optional[_Response] = capture.response
            finally:
                capture.response = None
            if response is None:  # pragma: no cover - every API method sends a request
                raise RuntimeError("%s sent no request" % name)
            return RawResponse(response.status, dict(response.headers), response.request_id, data)

        return call


class _FileSink:
    """Where ``download_file`` writes: a path or a binary file object.

    A path is written under a temporary name in its folder, created at the first byte (an
    error status creates nothing), and renamed over the destination once the download is
    complete (``os.replace``, atomic): a download that fails half-way leaves an existing
    file as it was, and removes the temporary one. A symlink is resolved first, so that
    the link stays and its target is replaced; the replaced file's permissions are kept.
    A file object is cut back to where it was on failure, if it can seek."""

    def __init__(self, destination: Union[str, bytes, "os.PathLike[str]", BinaryIO]) -> None:
        self.count = 0
        self._path: Optional[str] = None
        self._temporary: Optional[str] = None
        self._file: Optional[BinaryIO] = None
        self._start: Optional[int] = None
        if isinstance(destination, (str, bytes, os.PathLike)):
            self._path = os.fsdecode(destination)
        elif callable(getattr(destination, "write", None)) and not isinstance(destination, io.TextIOBase):
            self._file = destination
            try:
                self._start = destination.tell() if destination.seekable() else None
            except (AttributeError, OSError, ValueError):
                self._start = None
        else:
            raise ValueError("destination must be a path or a binary file object, got %s" % type(destination).__name__)

    def _open(self) -> BinaryIO:
        if self._file is None:
            assert self._path is not None
            target = os.path.realpath(self._path)
            folder, name = os.path.split(target)
            temporary = os.path.join(folder, ".%s.%s.part" % (name, os.urandom(6).hex()))
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            self._temporary = temporary
            self._file = os.fdopen(descriptor, "wb")
            try:
                os.chmod(temporary, os.stat(target).st_mode & 0o7777)
            except OSError:
                pass  # no file to replace yet (or no permission to read it): the umask's mode
        return self._file

    def write(self, chunk: bytes) -> None:
        destination = self._open()
        self.count += len(chunk)
        written = destination.write(chunk)
        while isinstance(written, int) and written < len(chunk):  # a raw file may take part of it
            if written <= 0:
                raise OSError("the destination accepted no bytes")
            chunk = chunk[written:]
            written = destination.write(chunk)

    def finish(self) -> int:
        if self._path is not None:
            self._open().close()  # an empty body makes an empty file
            assert self._temporary is not None
            os.replace(self._temporary, os.path.realpath(self._path))
            self._temporary = None
        return self.count

    def discard(self) -> None:
        if self._path is not None:
            if self._file is not None:
                self._file.close()
            if self._temporary is not None:
                try:
                    os.remove(self._temporary)
                except OSError:
                    pass
                self._temporary = None
        elif self._file is not None and self._start is not None:
            try:
                self._file.seek(self._start)
                self._file.truncate()
            except (OSError, ValueError):
                pass


# ---------------------------------------------------------------------------------------------
# The sync client
# ---------------------------------------------------------------------------------------------


class SyncPipedreamClient:
    """Synchronous client for the Pipedream Connect API.

    ``client_id``, ``client_secret``, ``project_id`` and ``environment``
    (``"development"`` or ``"production"``) fall back to ``PIPEDREAM_CLIENT_ID``,
    ``PIPEDREAM_CLIENT_SECRET``, ``PIPEDREAM_PROJECT_ID`` and
    ``PIPEDREAM_PROJECT_ENVIRONMENT``, read when the client is constructed.

    Authentication, one of: the client secret; ``client_assertion=``, a function
    returning a new signed client assertion (RFC 7523 JWT) for every token request;
    ``private_key=`` (PEM or JWK; ``PIPEDREAM_PRIVATE_KEY``) with optional ``key_id=``
    (``PIPEDREAM_KEY_ID``), which signs those assertions with PyJWT and cryptography
    (needed only then); or ``access_token=`` (``PIPEDREAM_ACCESS_TOKEN``), a token you
    already have, with no token request. With a Connect token as ``access_token`` the
    project id may be empty: project paths then lose their project segment
    (``/v1/connect/accounts``) and the API takes the project from the token.

    Options: ``base_url`` (``PIPEDREAM_BASE_URL``), ``workflow_domain``
    (``PIPEDREAM_WORKFLOW_DOMAIN``), ``timeout`` (seconds for a whole call, retries
    included), ``max_retries``, ``ssl_context`` or ``ca_bundle``, ``proxy`` (an
    ``http://host:port`` URL, ``False`` for none; default: ``HTTPS_PROXY``/``NO_PROXY``
    from the environment), ``headers`` (sent on every API call),
    ``rate_limit_token`` (sent as ``x-pd-rate-limit``, see ``create_rate_limit``),
    ``logger`` (default: the ``pipedream`` logger), ``write_idle_limit`` (seconds,
    default 1: a kept-alive connection idle for longer is not reused for a write unless
    the server announced a longer keep-alive timeout) and ``max_response_bytes`` (a larger
    response body is refused with ``PipedreamApiError``; default 32 MiB; ``download_file``
    is not capped).

    ``with_options(...)`` gives a view with other per-call options, ``with_raw_response``
    a view whose methods return ``RawResponse`` (status, headers, request id and data).

    Thread-safe; use ``with`` or call ``close()`` to release connections.
    """

    # Set on the views made by ``with_raw_response`` only: where ``_send`` records the
    # response of the call in progress, per thread.
    _capture: Optional[threading.local] = None

    def __init__(
        self,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        project_id: Optional[str] = None,
        environment: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        workflow_domain: Optional[str] = None,
        access_token: Optional[str] = None,
        private_key: Optional[str] = None,
        key_id: Optional[str] = None,
        client_assertion: Optional[Callable[[], str]] = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        ssl_context: Optional[ssl.SSLContext] = None,
        ca_bundle: Optional[str] = None,
        proxy: Union[str, bool, None] = None,
        headers: Optional[Mapping[str, str]] = None,
        rate_limit_token: Optional[str] = None,
        logger: Optional["logging.Logger"] = None,
        write_idle_limit: float = _WRITE_IDLE_LIMIT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if client_assertion is not None and not callable(client_assertion):
            raise ValueError("client_assertion must be a function returning a new assertion (a JWT) per call")
        if client_assertion is not None and (client_secret is not None or private_key is not None):
            raise ValueError("pass one of client_secret, private_key and client_assertion, not several")
        # As the official SDK: a credential passed wins over the other kind in the environment.
        if private_key is not None and client_secret is not None:
            raise ValueError("pass either client_secret or private_key, not both")
        if client_secret is None and private_key is None and client_assertion is None:
            client_secret = os.environ.get("PIPEDREAM_CLIENT_SECRET") or None
            private_key = os.environ.get("PIPEDREAM_PRIVATE_KEY") or None
            if client_secret is not None and private_key is not None:
                raise ValueError(
                    "both PIPEDREAM_CLIENT_SECRET and PIPEDREAM_PRIVATE_KEY are set; set only the one your client uses"
                )
        access_token = _env_or(access_token, "PIPEDREAM_ACCESS_TOKEN")
        client_id = _env_or(client_id, "PIPEDREAM_CLIENT_ID")
        if access_token is None:
            _required("client_id (or PIPEDREAM_CLIENT_ID)", client_id)
            if private_key is None and client_assertion is None:
                _required("client_secret (or PIPEDREAM_CLIENT_SECRET)", client_secret)
            project_id = _env_or(project_id, "PIPEDREAM_PROJECT_ID")
            self.project_id = _required("project_id (or PIPEDREAM_PROJECT_ID)", project_id)
        else:
            _credential("access_token", access_token)
            # A Connect token names its project itself: as in the official SDKs, an empty project
            # id drops the segment from project paths (/v1/connect/accounts).
            self.project_id = _env_or(project_id, "PIPEDREAM_PROJECT_ID") or ""
            if not isinstance(self.project_id, str):
                raise ValueError("project_id must be a string, got %r" % (self.project_id,))
        environment = _env_or(environment, "PIPEDREAM_PROJECT_ENVIRONMENT")
        if environment not in ENVIRONMENTS:
            raise ValueError(
                "environment (or PIPEDREAM_PROJECT_ENVIRONMENT) must be 'development' or 'production', got %r"
                % (environment,)
            )
        self.environment: str = environment
        self.base_url = _check_base_url(_env_or(base_url, "PIPEDREAM_BASE_URL") or DEFAULT_BASE_URL)
        domain = _env_or(workflow_domain, "PIPEDREAM_WORKFLOW_DOMAIN") or DEFAULT_WORKFLOW_DOMAIN
        if not isinstance(domain, str) or not re.match(r"^[A-Za-z0-9.-]+$", domain.strip(".")):
            raise ValueError("workflow_domain must be a host name such as m.pipedream.net, got %r" % (domain,))
        self.workflow_domain = domain.strip(".").lower()
        self.timeout = _check_timeout(timeout)
        self.max_retries = _check_retries(max_retries)
        self.client_id = client_id
        self._transport = _Transport(
            error_class=PipedreamApiError,
            logger_name="pipedream",
            logger=logger,
            ssl_context=ssl_context,
            ca_bundle=ca_bundle,
            proxy=proxy,
            write_idle_limit=write_idle_limit,
            max_response_bytes=max_response_bytes,
        )
        for secret in (client_id, client_secret, access_token, private_key):
            self._transport.add_secret(secret)
        if access_token is None and private_key is not None:
            if not isinstance(private_key, str) or not private_key.strip():
                raise ValueError("private_key must be a private key in PEM format or a JWK (JSON), as a string")
            key_id = _env_or(key_id, "PIPEDREAM_KEY_ID")
            if key_id is not None and not isinstance(key_id, str):
                raise ValueError("key_id must be a string, got %s" % type(key_id).__name__)
            audience = "%s://%s" % urlsplit(self.base_url)[:2]  # the API origin, as the official SDK
            client_assertion = _PrivateKeyAssertions(client_id or "", private_key, key_id, audience)
        self._tokens = _TokenProvider(client_id or "", client_secret or "", access_token, client_assertion)
        self._project_path = "/v1/connect"
        if self.project_id:
            self._project_path += "/" + _segment("project_id", self.project_id)
        defaults = {
            "User-Agent": "pipedream-python-stdlib/%s (python %d.%d)" % (__version__, *sys.version_info[:2]),
            "x-pd-environment": self.environment,
        }
        if rate_limit_token is not None:
            defaults["x-pd-rate-limit"] = _credential("rate_limit_token", rate_limit_token)
        self._headers = _with_headers(defaults, headers)
        self._transport.add_header_secrets(self._headers)  # the rate-limit token, credential headers
        self._query: Dict[str, Any] = {}  # extra query parameters of every API call (with_options)
        self._owns_transport = True

    def __repr__(self) -> str:
        return "SyncPipedreamClient(project_id=%r, environment=%r, base_url=%r)" % (
            self.project_id,
            self.environment,
            self.base_url,
        )

    def __enter__(self) -> "SyncPipedreamClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Release the connections. Idempotent. Calls in flight finish (their retries and
        token request included); a call started later raises RuntimeError. On a
        ``with_options`` view it does nothing: the client it came from owns them."""
        if self._owns_transport:
            self._transport.close()

    def _view(self) -> "SyncPipedreamClient":
        """A copy sharing connections and token, which does not close them."""
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._owns_transport = False
        return view

    def with_options(
        self,
        *,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        headers: Optional[Mapping[str, str]] = None,
        query: Optional[Mapping[str, Any]] = None,
        rate_limit_token: Optional[str] = None,
    ) -> "SyncPipedreamClient":
        """A view of this client with other defaults, sharing its connections and token::

            client.with_options(timeout=5, rate_limit_token=token).get_accounts(...)

        ``headers`` are added to every call, ``query`` (a mapping; a list value repeats the
        key, ``None`` removes a parameter) to the query string of every API call (not the
        token request, the proxy or workflows)."""
        view = self._view()
        if timeout is not None:
            view.timeout = _check_timeout(timeout)
        if max_retries is not None:
            view.max_retries = _check_retries(max_retries)
        if headers:
            view._headers = _with_headers(view._headers, headers)
        if query is not None:
            if not isinstance(query, _Mapping) or not all(isinstance(key, str) and key for key in query):
                raise ValueError("query must be a mapping of parameter names to values, got %r" % (query,))
            _query(query)  # refuses what cannot be encoded, now rather than on the next call
            view._query = dict(view._query, **query)
        if rate_limit_token is not None:
            view._headers = _with_headers(
                view._headers, {"x-pd-rate-limit": _credential("rate_limit_token", rate_limit_token)}
            )
        return view

    @property
    def with_raw_response(self) -> Any:
        """A view whose API methods return a ``RawResponse`` (``status_code``, ``headers``,
        ``request_id``, ``data``) instead of the body alone::

            raw = client.with_raw_response.get_accounts(external_user_id="user-1")
            raw.status_code, raw.request_id, raw.data["data"]
        """
        return _RawView(self)

    @property
    def token_requests(self) -> int:
        """How many OAuth token requests this client has sent."""
        return self._tokens.requests

    # -- Sending: three kinds of call, one send ----------------------------------------------
    #
    # A call is one of three kinds, and each kind has its own method:
    #   _api_call      a Pipedream API endpoint: bearer token, this client's headers and
    #                  with_options query, JSON back; a 401 means Pipedream refused the token,
    #                  so a new one is fetched and the call sent once more;
    #   _token_call    the OAuth token request: no bearer token, credentials in the body,
    #                  failures raised as PipedreamAuthError;
    #   _foreign_call  a call answered by someone else (an app behind the proxy, a workflow,
    #                  a storage host): a 401 is theirs, not about our token, and the body is
    #                  returned as its content type says (JSON, text or bytes).
    # All three send through _send, within one deadline for the whole call.

    def _start(self) -> float:
        """The deadline of a new call: its token request, retries, a retry after a 401 and
        a storage redirect all fit in one ``timeout``."""
        if self._transport.closed:
            raise RuntimeError("this client is closed")
        return _clock.monotonic() + self.timeout

    def _send(
        self,
        method: str,
        url: str,
        operation: str,
        headers: Mapping[str, str],
        body: Optional[bytes],
        deadline: float,
        *,
        idempotent: Optional[bool] = None,
        sensitive: bool = False,
        error_class: Callable[..., Exception] = PipedreamApiError,
        sink: Optional[Callable[[bytes], None]] = None,
        secrets: Sequence[str] = (),
    ) -> _Response:
        """One request through the transport, by ``deadline``. ``secrets`` (a Connect token in
        the path, an account's credentials in the body) are redacted from its errors. The
        response is recorded for ``with_raw_response``."""
        if _clock.monotonic() >= deadline:  # e.g. the token request took the whole timeout
            raise self._transport.error(
                error_class,
                "%s failed: timed out after %g s [%s %s]" % (operation, self.timeout, method, url),
                _call_secrets(secrets, headers),
                method=method,
                url=url,
            )
        response = self._transport.request(
            method,
            url,
            operation=operation,
            headers=headers,
            body=body,
            timeout=self.timeout,
            max_retries=self.max_retries,
            idempotent=idempotent,
            sensitive=sensitive,
            error_class=error_class,
            sink=sink,
            deadline=deadline,
            secrets=secrets,
        )
        if self._capture is not None:
            self._capture.response = response
        return response

    def _api_call(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        query: Optional[Mapping[str, Any]] = None,
        body: JSON = None,
        idempotent: Optional[bool] = None,
        sensitive: bool = False,
        sink: Optional[Callable[[bytes], None]] = None,
        deadline: Optional[float] = None,
        secrets: Sequence[str] = (),
    ) -> JSON:
        """A Pipedream API call; returns its JSON body (None when empty). ``body`` is sent as
        JSON; ``sensitive`` keeps it out of error messages; ``idempotent`` (default: by
        method) lets a retry send it again; ``sink`` receives a 2xx body in chunks instead
        (a download); ``deadline`` is given when the call is one step of a longer one."""
        if deadline is None:
            deadline = self._start()
        url = _with_query(self.base_url + path, dict(query or {}, **self._query) if self._query else query)
        headers = dict(self._headers)
        raw_body = None
        if body is not None:
            raw_body = _encode_json("request body", body)
            headers["Content-Type"] = "application/json"
        _check_request(method, headers)  # before the token request: a bad header costs none
        refreshed = False
        while True:
            token = self._token(deadline, secrets)
            headers["Authorization"] = "Bearer " + token
            try:
                response = self._send(
                    method,
                    url,
                    operation,
                    headers,
                    raw_body,
                    deadline,
                    idempotent=idempotent,
                    sensitive=sensitive,
                    sink=sink,
                    secrets=secrets,
                )
            except PipedreamApiError as error:
                if error.status_code != 401:
                    raise
                refused = error
            else:
                return self._json(response, operation, PipedreamApiError)
            # Pipedream's 401 means it refused the token before anything ran: get a new token
            # and send once more. Raised here, out of the except block: it chains nothing.
            if refreshed or not self._tokens.invalidate(token):
                raise refused.copy(PipedreamAuthError)
            refreshed = True

    def _token_call(
        self,
        operation: str,
        body: Mapping[str, str],
        *,
        idempotent: bool = True,
        deadline: Optional[float] = None,
        secrets: Sequence[str] = (),
    ) -> JSON:
        """``POST /v1/oauth/token`` with the client credentials in ``body``; returns the JSON
        answer. No bearer token and no rate-limit token (it limits Connect API calls); the
        body never appears in an error; a failure is a ``PipedreamAuthError``.
        ``idempotent=False`` for a single-use client assertion, which must not be re-sent."""
        if deadline is None:
            deadline = self._start()
        headers = {k: v for k, v in self._headers.items() if k.lower() != "x-pd-rate-limit"}
        headers["Content-Type"] = "application/json"
        url = self.base_url + _TOKEN_PATH
        _check_request("POST", headers)
        response = self._send(
            "POST",
            url,
            operation,
            headers,
            _encode_json("request body", body),
            deadline,
            idempotent=idempotent,
            sensitive=True,
            error_class=PipedreamAuthError,
            secrets=secrets,
        )
        return self._json(response, operation, PipedreamAuthError)

    def _foreign_call(
        self,
        method: str,
        url: str,
        operation: str,
        headers: Mapping[str, str],
        body: Optional[bytes] = None,
        *,
        bearer: bool = False,
        query: Optional[Mapping[str, Any]] = None,
        sink: Optional[Callable[[bytes], None]] = None,
        deadline: Optional[float] = None,
    ) -> JSON:
        """A call answered by someone else; returns its body as its content type says: parsed
        JSON, text, bytes, or None when empty. ``headers`` are sent as given; ``bearer`` adds
        this client's token (the proxy and ``auth_type="oauth"`` workflows need it). A 401 is
        raised as it is: it says nothing about our token, and sending again could run the
        request twice. ``sink`` and ``deadline`` as for ``_api_call``."""
        if deadline is None:
            deadline = self._start()
        url = _with_query(url, query)
        headers = dict(headers)
        _check_request(method, headers)
        if bearer:
            headers["Authorization"] = "Bearer " + self._token(deadline, ())
        response = self._send(method, url, operation, headers, body, deadline, sink=sink)
        return _content(response)

    def _token(self, deadline: float, secrets: Sequence[str]) -> str:
        """The access token. If getting it fails, the error is redacted of the secrets of the
        call that needed it too (a server may echo anything)."""
        failed: Optional[PipedreamApiError] = None
        try:
            return self._tokens.token(self, deadline)
        except PipedreamApiError as error:
            if not secrets:
                raise
            failed = error
        redact = functools.partial(self._transport.redact, extra=secrets)
        cause = _RedactedCause(failed.__cause__, redact) if failed.__cause__ is not None else None
        raise self._transport.error(
            type(failed),
            str(failed),
            secrets,
            status=failed.status_code,
            data=failed.response_data,
            detail=failed.detail,
            method=failed.method,
            url=failed.url,
            request_id=failed.request_id,
            headers=failed.headers,
        ) from cause

    def _json(self, response: "_Response", operation: str, error_class: Callable[..., Exception]) -> JSON:
        """The JSON body of a Pipedream answer, None when empty. Anything else (an HTML
        error page from a load balancer with status 200) is an error of ``error_class``."""
        if response.status == 204 or not response.body.strip():
            return None
        try:
            return json.loads(response.body)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to parse
            pass  # handled below, outside this block: the decoding error holds the whole body
        content_type = response.headers.get("content-type", "") or "a body without a content type"
        raise self._transport.http_error(error_class, operation, response, summary="expected JSON, got " + content_type)

    def _call(self, endpoint: str, *path_arguments: str, **options: Any) -> _Returned:  # type: ignore[type-var]
        """Call one endpoint of ``_ENDPOINTS``: the path arguments fill its path in order,
        each as one percent-encoded segment; ``options`` go to ``_api_call``.

        Returns the decoded JSON, typed as whatever the calling method declares (the
        endpoint's documented answer): like ``Any``, nothing checks it at run time, but the
        public methods need no cast each."""
        method, template, operation = _ENDPOINTS[endpoint]
        names = _PATH_ARGUMENTS[endpoint]
        if len(path_arguments) != len(names):  # pragma: no cover - a mistake in this module
            raise TypeError("%s takes %d path arguments" % (endpoint, len(names)))
        segments = {name: _segment(name, value) for name, value in zip(names, path_arguments)}
        project_v2 = "/v2" + self._project_path[len("/v1") :]
        path = template.format(project=self._project_path, project_v2=project_v2, **segments)
        result: _Returned = self._api_call(
            method, path, operation.format(**dict(zip(names, path_arguments))), **options
        )
        return result

    def _call_no_content(self, endpoint: str, *path_arguments: str, **options: Any) -> None:
        """``_call`` for an endpoint that answers 204 No Content, as its method declares.
        Should a server send a body anyway, it is returned like any other answer."""
        answer: None = self._call(endpoint, *path_arguments, **options)
        return answer

    # -- Projects ----------------------------------------------------------------------------

    def get_project_info(self) -> Dict[str, Any]:
        """``GET /v1/connect/{project_id}/projects/info``: ``{"apps": [{"id", "name_slug"}]}``."""
        return self._call("get_project_info")

    def get_projects(
        self,
        q: Optional[str] = None,
        limit: Optional[int] = None,
        after: Optional[str] = None,
        before: Optional[str] = None,
    ) -> Dict[str, Any]:
        """``GET /v1/connect/projects``: ``{"data": [Project], "page_info"}``; ``q`` matches names."""
        return self._call("get_projects", query=dict(after=after, before=before, limit=limit, q=q))

    def create_project(
        self,
        name: str,
        *,
        app_name: Optional[str] = None,
        support_email: Optional[str] = None,
        connect_require_key_auth_test: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """``POST /v1/connect/projects``: the Project ``{"id", "name", "app_name", "support_email",
        "connect_require_key_auth_test"}``. Never sent twice by a retry."""
        body = _compact(
            name=_required("name", name),
            app_name=app_name,
            support_email=support_email,
            connect_require_key_auth_test=connect_require_key_auth_test,
        )
        return self._call("create_project", body=body)

    def get_project(self, project_id: str) -> Dict[str, Any]:
        """``GET /v1/connect/projects/{project_id}``: the Project."""
        return self._call("get_project", project_id)

    def update_project(
        self,
        project_id: str,
        *,
        name: Optional[str] = None,
        app_name: Optional[str] = None,
        support_email: Optional[str] = None,
        connect_require_key_auth_test: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """``PATCH /v1/connect/projects/{project_id}`` with the fields given: the Project."""
        body = _compact(
            name=name,
            app_name=app_name,
            support_email=support_email,
            connect_require_key_auth_test=connect_require_key_auth_test,
        )
        return self._call("update_project", project_id, body=body)

    def delete_project(self, project_id: str) -> None:
        """``DELETE /v1/connect/projects/{project_id}``."""
        return self._call_no_content("delete_project", project_id)

    def update_project_logo(self, project_id: str, logo: str) -> None:
        """``POST /v1/connect/projects/{project_id}/logo`` with ``{"logo": <data URI>}``, e.g.
        ``"data:image/png;base64,iVBORw0..."``."""
        return self._call_no_content("update_project_logo", project_id, body={"logo": _required("logo", logo)})

    def get_project_webhook(self) -> Dict[str, Any]:
        """``GET /v1/connect/{project_id}/webhook``: ``{"data": {"id", "url", "signing_key_set",
        "created_at", "updated_at"} or null}``."""
        return self._call("get_project_webhook")

    def update_project_webhook(self, url: str) -> Dict[str, Any]:
        """``PUT /v1/connect/{project_id}/webhook`` with ``{"url"}``: ``{"data": Webhook}``, with
        ``signing_key`` when the webhook is created."""
        return self._call("update_project_webhook", body={"url": _required("url", url)})

    def delete_project_webhook(self) -> None:
        """``DELETE /v1/connect/{project_id}/webhook``."""
        return self._call_no_content("delete_project_webhook")

    def regenerate_project_webhook_signing_key(self) -> Dict[str, Any]:
        """``POST /v1/connect/{project_id}/webhook/regenerate_signing_key``: ``{"data": Webhook}``
        with the new ``signing_key``."""
        return self._call("regenerate_project_webhook_signing_key")

    def get_usage(self, start_ts: int, end_ts: int) -> Dict[str, Any]:
        """``GET /v1/connect/usage?start_ts=&end_ts=`` (epoch seconds): ``{"data": [{"credits_used",
        "action_run_credits_used", "proxy_credits_used", "source_emit_credits_used",
        "usage_start_ts", "usage_end_ts"}]}``."""
        query = dict(start_ts=_count("start_ts", start_ts, 0), end_ts=_count("end_ts", end_ts, 0))
        return self._call("get_usage", query=query)

    # -- Apps --------------------------------------------------------------------------------

    def get_apps(
        self,
        q: Optional[str] = None,
        has_actions: Optional[bool] = None,
        has_components: Optional[bool] = None,
        has_triggers: Optional[bool] = None,
        limit: Optional[int] = None,
        after: Optional[str] = None,
        before: Optional[str] = None,
        *,
        sort_key: Optional[str] = None,
        sort_direction: Optional[str] = None,
        category_ids: Optional[Sequence[str]] = None,
    ) -> AppList:
        """``GET /v1/connect/apps``: ``{"data": [App], "page_info": {...}}``."""
        query = dict(
            q=q,
            has_actions=has_actions,
            has_components=has_components,
            has_triggers=has_triggers,
            limit=limit,
            after=after,
            before=before,
            sort_key=sort_key,
            sort_direction=sort_direction,
            category_ids=_string_list("category_ids", category_ids),
        )
        return self._call("get_apps", query=query)

    def get_app(self, app_id_or_slug: str) -> AppResponse:
        """``GET /v1/connect/apps/{app_id}``: ``{"data": App}``."""
        return self._call("get_app", app_id_or_slug)

    def get_app_categories(self) -> List[Dict[str, Any]]:
        """``GET /v1/connect/app_categories``: ``[{"id", "name", "description"}]`` (not paginated)."""
        return self._call("get_app_categories")

    def get_app_category(self, category_id: str) -> Dict[str, Any]:
        """``GET /v1/connect/app_categories/{id}``: ``{"id", "name", "description"}``."""
        return self._call("get_app_category", category_id)

    def get_app_overrides(
        self,
        app_filter: Optional[str] = None,
        limit: Optional[int] = None,
        after: Optional[str] = None,
        before: Optional[str] = None,
    ) -> Dict[str, Any]:
        """``GET /v1/connect/{project_id}/app_overrides``: ``{"data": [AppOverride], "page_info"}``.
        ``app_filter`` is sent as ``app``."""
        query = dict(after=after, before=before, limit=limit, app=app_filter)
        return self._call("get_app_overrides", query=query)

    def create_app_override(
        self, app: str, name: str, *, oauth_app_id: Optional[str] = None, cfmap: Optional[Mapping[str, Any]] = None
    ) -> Dict[str, Any]:
        """``POST /v1/connect/{project_id}/app_overrides``: the AppOverride ``{"id", "name", "app",
        "oauth_app_id", "cfmap", "owner_id", "created_at", "updated_at"}``."""
        body = _compact(app=_required("app", app), name=_required("name", name), oauth_app_id=oauth_app_id, cfmap=cfmap)
        return self._call("create_app_override", body=body, sensitive=True)

    def get_app_override(self, app_override_id: str) -> Dict[str, Any]:
        """``GET /v1/connect/{project_id}/app_overrides/{id}``: the AppOverride."""
        return self._call("get_app_override", app_override_id)

    def update_app_override(
        self,
        app_override_id: str,
        *,
        name: Optional[str] = None,
        oauth_app_id: Optional[str] = _UNSET,
        cfmap: Optional[Mapping[str, Any]] = None,
    ) -> Dict[str, Any]:
        """``PUT /v1/connect/{project_id}/app_overrides/{id}`` with the fields given: the
        AppOverride. ``oauth_app_id=None`` sends null, which clears it."""
        body = _compact(name=name, cfmap=cfmap)
        if oauth_app_id is not _UNSET:
            body["oauth_app_id"] = oauth_app_id
        return self._call("update_app_override", app_override_id, body=body, sensitive=True)

    def delete_app_override(self, app_override_id: str) -> None:
        """``DELETE /v1/connect/{project_id}/app_overrides/{id}``."""
        return self._call_no_content("delete_app_override", app_override_id)

    def get_oauth_apps(
        self,
        app_filter: Optional[str] = None,
        q: Optional[str] = None,
        limit: Optional[int] = None,
        after: Optional[str] = None,
        before: Optional[str] = None,
    ) -> Dict[str, Any]:
        """``GET /v1/connect/{project_id}/oauth_apps``: ``{"data": [OauthApp], "page_info"}``.
        ``app_filter`` is sent as ``app``."""
        query = dict(after=after, before=before, limit=limit, app=app_filter, q=q)
        return self._call("get_oauth_apps", query=query)

    def create_oauth_app(
        self,
        app: str,
        *,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        name: Optional[str] = None,
        description: Optional[str] = None,
        scopes: Optional[Sequence[str]] = None,
        additional_scopes: Optional[Sequence[str]] = None,
    ) -> Dict[str, Any]:
        """``POST /v1/connect/{project_id}/oauth_apps``: the OauthApp (the app's fields plus
        ``id``, ``client_id``, ``scopes``, ``additional_scopes``, ``redirect_uri``; never the
        secret). Never sent twice by a retry."""
        body = _compact(
            app=_required("app", app),
            client_id=client_id,
            client_secret=client_secret,
            name=name,
            description=description,
            scopes=_string_list("scopes", scopes),
            additional_scopes=_string_list("additional_scopes", additional_scopes),
        )
        secrets = [client_secret] if client_secret else []  # the call's own: the registered set stays bounded
        return self._call("create_oauth_app", body=body, sensitive=True, secrets=secrets)

    def get_oauth_app(self, oauth_app_id: str) -> Dict[str, Any]:
        """``GET /v1/connect/{project_id}/oauth_apps/{id}``: the OauthApp."""
        return self._call("get_oauth_app", oauth_app_id)

    def update_oauth_app(
        self,
        oauth_app_id: str,
        *,
        name: Optional[str] = None,
        description: Optional[str] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        scopes: Optional[Sequence[str]] = None,
        additional_scopes: Optional[Sequence[str]] = None,
    ) -> Dict[str, Any]:
        """``PUT /v1/connect/{project_id}/oauth_apps/{id}`` with the fields given (the API
        keeps a field sent blank): the OauthApp."""
        body = _compact(
            name=name,
            description=description,
            client_id=client_id,
            client_secret=client_secret,
            scopes=_string_list("scopes", scopes),
            additional_scopes=_string_list("additional_scopes", additional_scopes),
        )
        secrets = [client_secret] if client_secret else []
        return self._call("update_oauth_app", oauth_app_id, body=body, sensitive=True, secrets=secrets)

    def delete_oauth_app(self, oauth_app_id: str) -> None:
        """``DELETE /v1/connect/{project_id}/oauth_apps/{id}``."""
        return self._call_no_content("delete_oauth_app", oauth_app_id)

    # -- Tokens ------------------------------------------------------------------------------

    def create_connect_token(
        self,
        external_user_id: str,
        allowed_origins: Optional[Sequence[str]] = None,
        success_redirect_uri: Optional[str] = None,
        error_redirect_uri: Optional[str] = None,
        webhook_uri: Optional[str] = None,
        *,
        expires_in: Optional[int] = None,
        scope: Optional[str] = None,
        allow_progressive_scopes: Optional[bool] = None,
        app_id: Optional[str] = None,
        oauth_app_id: Optional[str] = None,
    ) -> ConnectToken:
        """``POST /v1/connect/{project_id}/tokens``: ``{"token", "expires_at", "connect_link_url"}``."""
        body = _compact(
            external_user_id=_required("external_user_id", external_user_id),
            allowed_origins=_string_list("allowed_origins", allowed_origins),
            success_redirect_uri=success_redirect_uri,
            error_redirect_uri=error_redirect_uri,
            webhook_uri=webhook_uri,
            expires_in=expires_in,
            scope=scope,
            allow_progressive_scopes=allow_progressive_scopes,
            app_id=app_id,
            oauth_app_id=oauth_app_id,
        )
        return self._call("create_connect_token", body=body)

    def validate_connect_token(
        self,
        token: str,
        *,
        app_id: Optional[str] = None,
        account_id: Optional[str] = None,
        oauth_app_id: Optional[str] = None,
        app_override_id: Optional[str] = None,
    ) -> Dict[str, Any]:
        """``GET /v1/connect/tokens/{token}/validate``: ``{"success", "error", "app",
        "project_id", "project_environment", "project_app_name", "oauth_app_id", ...}``."""
        query = dict(app_id=app_id, account_id=account_id, oauth_app_id=oauth_app_id, app_override_id=app_override_id)
        return self._call("validate_connect_token", token, query=query, secrets=(token,))

    def create_oauth_token(
        self,
        client_id: str,
        client_secret: Optional[str] = None,
        *,
        scope: Optional[str] = None,
        client_assertion: Optional[str] = None,
        client_assertion_type: Optional[str] = None,
    ) -> OAuthToken:
        """``POST /v1/oauth/token`` (client credentials grant): ``{"access_token",
        "token_type", "expires_in"}``, e.g. a token of narrower ``scope`` (space-separated) to
        hand to another process. The client authenticates with ``client_secret`` or with a
        ``client_assertion`` (a signed JWT; ``client_assertion_type`` defaults to
        ``urn:ietf:params:oauth:client-assertion-type:jwt-bearer``). This client's own token
        is not involved, nor replaced.

        The secret and the assertion never appear in an error. The returned token is the
        caller's: it is not added to the values this client redacts, where it would push out
        the client's own tokens."""
        _required("client_id", client_id)
        if (client_secret is None) == (client_assertion is None):
            raise ValueError("pass client_secret or client_assertion (exactly one)")
        if client_assertion is not None:
            _required("client_assertion", client_assertion)
            client_assertion_type = client_assertion_type or _JWT_BEARER
        elif client_assertion_type is not None:
            raise ValueError("client_assertion_type goes with client_assertion")
        else:
            _required("client_secret", client_secret)
        body = _compact(
            client_id=client_id,
            client_secret=client_secret,
            client_assertion_type=client_assertion_type,
            client_assertion=client_assertion,
            scope=scope,
            grant_type="client_credentials",
        )
        result: OAuthToken = self._token_call(
            "create OAuth token",
            body,
            idempotent=client_assertion is None,  # an assertion is single-use: never re-sent
            secrets=tuple(secret for secret in (client_secret, client_assertion) if secret is not None),
        )
        return result

    # -- Users and accounts ------------------------------------------------------------------

    def get_users(
        self,
        q: Optional[str] = None,
        limit: Optional[int] = None,
        after: Optional[str] = None,
        before: Optional[str] = None,
    ) -> Dict[str, Any]:
        """``GET /v1/connect/{project_id}/users``: ``{"data": [{"id", "external_id", "created_at",
        "updated_at"}], "page_info"}``; ``q`` matches part of an external id."""
        return self._call("get_users", query=dict(after=after, before=before, limit=limit, q=q))

    def get_accounts(
        self,
        external_user_id: Optional[str] = None,
        app_filter: Optional[str] = None,
        oauth_app_id: Optional[str] = None,
        include_credentials: bool = False,
        limit: Optional[int] = None,
        after: Optional[str] = None,
        before: Optional[str] = None,
    ) -> AccountList:
        """``GET /v1/connect/{project_id}/accounts``: ``{"data": [Account], "page_info": {...}}``.
        ``app_filter`` (an app id or slug) is sent as ``app``."""
        query = dict(
            external_user_id=external_user_id,
            oauth_app_id=oauth_app_id,
            after=after,
            before=before,
            limit=limit,
            app=app_filter,
            include_credentials=_flag(include_credentials),
        )
        return self._call("get_accounts", query=query)

    def get_accounts_by_external_user(
        self, external_user_id: str, app_filter: Optional[str] = None, include_credentials: bool = False
    ) -> List[Dict[str, Any]]:
        """``GET /v1/connect/{project_id}/users/{external_user_id}/accounts``: a list of Account
        (not paginated). ``app_filter`` is sent as ``app``."""
        query = dict(include_credentials=_flag(include_credentials), app=app_filter)
        return self._call("get_accounts_by_external_user", external_user_id, query=query)

    def create_account(
        self,
        app_slug: str,
        cfmap_json: Union[str, Mapping[str, Any]],
        connect_token: str,
        external_user_id: Optional[str] = None,
        *,
        oauth_app_id: Optional[str] = None,
        name: Optional[str] = None,
        account_id: Optional[str] = None,
        app_override_id: Optional[str] = None,
    ) -> Dict[str, Any]:
        """``POST /v1/connect/{project_id}/accounts``: connect an account with its credentials
        (``cfmap_json``: a JSON string, or a mapping that is encoded), or reconnect
        ``account_id``. Returns the Account. Never sent twice by a retry."""
        query = dict(external_user_id=external_user_id, oauth_app_id=oauth_app_id)
        body = _compact(
            app_slug=_required("app_slug", app_slug),
            cfmap_json=_cfmap_json(cfmap_json),
            connect_token=_required("connect_token", connect_token),
            name=name,
            account_id=account_id,
            app_override_id=app_override_id,
        )
        secrets = [body["connect_token"], body["cfmap_json"]] + _credential_values(body["cfmap_json"])
        return self._call("create_account", query=query, body=body, sensitive=True, secrets=secrets)

    def get_account_by_id(
        self, account_id: str, external_user_id: Optional[str] = None, include_credentials: bool = False
    ) -> Account:
        """``GET /v1/connect/{project_id}/accounts/{account_id}``: the Account.
        ``external_user_id`` is accepted for the original client's signature; the API does not take it."""
        query = dict(include_credentials=_flag(include_credentials))
        return self._call("get_account_by_id", account_id, query=query)

    def delete_account(self, account_id: str, external_user_id: Optional[str] = None) -> None:
        """``DELETE /v1/connect/{project_id}/accounts/{account_id}``. ``external_user_id`` is
        accepted for the original client's signature; the API does not take it."""
        return self._call_no_content("delete_account", account_id)

    def delete_accounts_by_app(self, app_id: str, external_user_id: Optional[str] = None) -> None:
        """``DELETE /v1/connect/{project_id}/apps/{app_id}/accounts``: every account of an app.
        ``external_user_id`` is accepted for the original client's signature; the API does not take it."""
        return self._call_no_content("delete_accounts_by_app", app_id)

    def delete_external_user(self, external_user_id: str) -> None:
        """``DELETE /v1/connect/{project_id}/users/{external_user_id}``: the user and all its data."""
        return self._call_no_content("delete_external_user", external_user_id)

    # -- Components --------------------------------------------------------------------------

    def get_components(
        self,
        component_type: str,
        app_filter: Optional[str] = None,
        search_query: Optional[str] = None,
        limit: Optional[int] = None,
        after: Optional[str] = None,
        before: Optional[str] = None,
        *,
        registry: Optional[str] = None,
        type_filter: Optional[str] = None,
    ) -> ComponentList:
        """``GET /v1/connect/{project_id}/{components|actions|triggers}``:
        ``{"data": [Component], "page_info": {...}}``. ``app_filter`` is sent as ``app``,
        ``search_query`` as ``q``, ``type_filter`` (``"action"`` or ``"trigger"``, for
        ``"components"`` only) as ``component_type``."""
        if type_filter is not None and component_type != "components":
            raise ValueError("type_filter is for component_type='components' only")
        query = dict(
            after=after,
            before=before,
            limit=limit,
            q=search_query,
            app=app_filter,
            registry=registry,
            component_type=type_filter,
        )
        return self._call("get_components", _component_path(component_type), query=query)

    def get_component(
        self, component_type: str, component_key: str, *, version: Optional[str] = None
    ) -> ComponentResponse:
        """``GET /v1/connect/{project_id}/{components|actions|triggers}/{key}``: ``{"data": Component}``."""
        return self._call(
            "get_component",
            _component_path(component_type),
            component_key,
            query=dict(version=version),
        )

    def configure_component(
        self,
        component_type: str,
        component_key: str,
        prop_name: str,
        external_user_id: str,
        configured_props: Optional[Mapping[str, Any]] = None,
        dynamic_props_id: Optional[str] = None,
        page: Optional[int] = None,
        prev_context: Optional[Mapping[str, Any]] = None,
        query: Optional[str] = None,
        *,
        version: Optional[str] = None,
        blocking: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """``POST /v1/connect/{project_id}/{type}/configure``: the options of a prop,
        ``{"options", "stringOptions", "observations", "context", "errors"}``."""
        body = _compact(
            id=_required("component_key", component_key),
            version=version,
            external_user_id=_required("external_user_id", external_user_id),
            prop_name=_required("prop_name", prop_name),
            blocking=blocking,
            configured_props=configured_props,
            dynamic_props_id=dynamic_props_id,
            page=page,
            prev_context=prev_context,
            query=query,
        )
        # Reads options without changing anything, so it may be retried like a GET.
        return self._call(
            "configure_component",
            _component_path(component_type),
            body=body,
            idempotent=True,
        )

    def reload_component_props(
        self,
        component_type: str,
        component_key: str,
        external_user_id: str,
        configured_props: Optional[Mapping[str, Any]] = None,
        dynamic_props_id: Optional[str] = None,
        *,
        version: Optional[str] = None,
        blocking: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """``POST /v1/connect/{project_id}/{type}/props``:
        ``{"observations", "errors", "dynamicProps": {"id", "configurableProps"}}``."""
        body = _compact(
            id=_required("component_key", component_key),
            version=version,
            external_user_id=_required("external_user_id", external_user_id),
            blocking=blocking,
            configured_props=configured_props,
            dynamic_props_id=dynamic_props_id,
        )
        # Computes props without changing anything, so it may be retried like a GET.
        return self._call(
            "reload_component_props",
            _component_path(component_type),
            body=body,
            idempotent=True,
        )

    # -- Actions, triggers and the file stash ------------------------------------------------

    def run_action(
        self,
        action_key: str,
        external_user_id: str,
        configured_props: Optional[Mapping[str, Any]] = None,
        dynamic_props_id: Optional[str] = None,
        *,
        version: Optional[str] = None,
        stash_id: Union[str, bool, None] = None,
    ) -> RunActionResult:
        """``POST /v1/connect/{project_id}/actions/run``: ``{"exports", "os", "ret", "stash_id"}``.
        Never sent twice by a retry."""
        body = _compact(
            id=_required("action_key", action_key),
            version=version,
            external_user_id=_required("external_user_id", external_user_id),
            configured_props=configured_props,
            dynamic_props_id=dynamic_props_id,
            stash_id=stash_id,
        )
        return self._call("run_action", body=body)

    def download_file(self, s3_key: str, destination: Union[str, bytes, "os.PathLike[str]", BinaryIO]) -> int:
        """``GET /v1/connect/{project_id}/file_stash/download?s3_key=``: a File Stash file,
        written to ``destination`` (a path, or a binary file object) as it arrives, never held
        in memory whole. Returns the number of bytes written.

        A path is written under a temporary name in its folder and renamed into place when
        the download is complete: a failure leaves an existing file (or a symlink's target)
        as it was. Through a symlink, the link's target is replaced. A file object that can
        seek is cut back to where it was. A redirect to another host (a storage URL) is
        followed without this client's credentials, within the same ``timeout``."""
        query = dict(s3_key=_required("s3_key", s3_key))
        sink = _FileSink(destination)
        deadline = self._start()  # the storage request included
        try:
            try:
                self._call("download_file", query=query, sink=sink.write, deadline=deadline)
            except PipedreamApiError as error:
                target = self._storage_redirect(error)
                if target is None:
                    raise
                headers = {"User-Agent": self._headers["User-Agent"]}  # none of this client's credentials
                self._foreign_call("GET", target, "download file", headers, sink=sink.write, deadline=deadline)
            return sink.finish()
        except BaseException:
            sink.discard()
            raise

    def _storage_redirect(self, error: PipedreamApiError) -> Optional[str]:
        """The target of a redirect to another host that the transport refused to follow
        with our credentials, if it may be followed without them (no https-to-http)."""
        location = (error.headers or {}).get("location")
        if error.status_code not in _REDIRECT_STATUSES or not location or not error.url:
            return None
        target = _redirect_url(error.url, location)
        return target if target is not None and _redirect_kind(error.url, target) == "other host" else None

    def deploy_trigger(
        self,
        trigger_key: str,
        external_user_id: str,
        configured_props: Optional[Mapping[str, Any]] = None,
        webhookUrl: Optional[str] = None,  # noqa: N803 - the original client's spelling
        workflowId: Optional[str] = None,  # noqa: N803 - the original client's spelling
        dynamic_props_id: Optional[str] = None,
        *,
        webhook_url: Optional[str] = None,
        workflow_id: Optional[str] = None,
        emit_on_deploy: Optional[bool] = None,
        version: Optional[str] = None,
    ) -> DeployedTriggerResponse:
        """``POST /v1/connect/{project_id}/triggers/deploy``: ``{"data": DeployedComponent}``.
        ``webhookUrl``/``webhook_url`` and ``workflowId``/``workflow_id`` go on the wire as
        ``webhook_url`` and ``workflow_id``. Never sent twice by a retry."""
        body = _compact(
            id=_required("trigger_key", trigger_key),
            version=version,
            external_user_id=_required("external_user_id", external_user_id),
            configured_props=configured_props,
            dynamic_props_id=dynamic_props_id,
            workflow_id=_either("workflowId", workflowId, "workflow_id", workflow_id),
            webhook_url=_either("webhookUrl", webhookUrl, "webhook_url", webhook_url),
            emit_on_deploy=emit_on_deploy,
        )
        return self._call("deploy_trigger", body=body)

    # -- Deployed triggers -------------------------------------------------------------------

    def get_deployed_triggers(
        self,
        external_user_id: str,
        limit: Optional[int] = None,
        after: Optional[str] = None,
        before: Optional[str] = None,
        *,
        emitter_type: Optional[str] = None,
    ) -> DeployedTriggerList:
        """``GET /v1/connect/{project_id}/deployed-triggers``: ``{"data": [Emitter], "page_info"}``."""
        query = dict(
            after=after,
            before=before,
            limit=limit,
            external_user_id=_required("external_user_id", external_user_id),
            emitter_type=emitter_type,
        )
        return self._call("get_deployed_triggers", query=query)

    def get_deployed_trigger(self, deployed_component_id: str, external_user_id: str) -> DeployedTriggerResponse:
        """``GET .../deployed-triggers/{id}``: ``{"data": Emitter}``."""
        query = _user_query(external_user_id)
        return self._call("get_deployed_trigger", deployed_component_id, query=query)

    def delete_deployed_trigger(
        self, deployed_component_id: str, external_user_id: str, ignore_hook_errors: bool = False
    ) -> None:
        """``DELETE .../deployed-triggers/{id}``."""
        query = _user_query(external_user_id, ignore_hook_errors=_flag(ignore_hook_errors))
        return self._call_no_content("delete_deployed_trigger", deployed_component_id, query=query)

    def update_deployed_trigger(
        self,
        deployed_component_id: str,
        external_user_id: str,
        active: Optional[bool] = None,
        name: Optional[str] = None,
        *,
        configured_props: Optional[Mapping[str, Any]] = None,
        emit_on_deploy: Optional[bool] = None,
    ) -> DeployedTriggerResponse:
        """``PUT .../deployed-triggers/{id}``: ``{"data": Emitter}``."""
        query = _user_query(external_user_id)
        body = _compact(active=active, configured_props=configured_props, name=name, emit_on_deploy=emit_on_deploy)
        return self._call(
            "update_deployed_trigger",
            deployed_component_id,
            query=query,
            body=body,
        )

    def get_deployed_trigger_events(
        self, deployed_component_id: str, external_user_id: str, n: Optional[int] = None
    ) -> Dict[str, Any]:
        """``GET .../deployed-triggers/{id}/events``: ``{"data": [{"e", "k", "ts", "id", "sum"}]}``."""
        query = _user_query(external_user_id, n=n)
        return self._call("get_deployed_trigger_events", deployed_component_id, query=query)

    def get_deployed_trigger_webhooks(self, deployed_component_id: str, external_user_id: str) -> Dict[str, Any]:
        """``GET .../deployed-triggers/{id}/webhooks``: ``{"webhook_urls": [...], "webhooks": [...]}``."""
        query = _user_query(external_user_id)
        return self._call("get_deployed_trigger_webhooks", deployed_component_id, query=query)

    def update_deployed_trigger_webhooks(
        self,
        deployed_component_id: str,
        external_user_id: str,
        webhookUrls: Optional[Sequence[str]] = None,  # noqa: N803 - the original client's spelling
        *,
        webhook_urls: Optional[Sequence[str]] = None,
    ) -> Dict[str, Any]:
        """``PUT .../deployed-triggers/{id}/webhooks`` with ``{"webhook_urls": [...]}``."""
        urls = _string_list("webhookUrls", _either("webhookUrls", webhookUrls, "webhook_urls", webhook_urls))
        if urls is None:
            raise ValueError("webhookUrls (or webhook_urls) is required")
        query = _user_query(external_user_id)
        return self._call(
            "update_deployed_trigger_webhooks",
            deployed_component_id,
            query=query,
            body={"webhook_urls": urls},
        )

    def get_deployed_trigger_webhook(
        self, deployed_component_id: str, webhook_id: str, external_user_id: str
    ) -> Dict[str, Any]:
        """``GET .../deployed-triggers/{id}/webhooks/{webhook_id}``: ``{"data": {"id", "url",
        "signing_key", "signing_key_set", "active", "delivery_backend", "delivery_state",
        "created_at", "updated_at"}}``."""
        query = _user_query(external_user_id)
        return self._call(
            "get_deployed_trigger_webhook",
            deployed_component_id,
            webhook_id,
            query=query,
        )

    def reset_deployed_trigger_webhook_delivery_state(
        self, deployed_component_id: str, webhook_id: str, external_user_id: str
    ) -> Dict[str, Any]:
        """``POST .../webhooks/{webhook_id}/reset_delivery_state``: the webhook, as above,
        delivering again (``delivery_state.state`` ``"happy"``)."""
        query = _user_query(external_user_id)
        return self._call(
            "reset_deployed_trigger_webhook_delivery_state",
            deployed_component_id,
            webhook_id,
            query=query,
        )

    def regenerate_deployed_trigger_webhook_signing_key(
        self, deployed_component_id: str, webhook_id: str, external_user_id: str
    ) -> Dict[str, Any]:
        """``POST .../webhooks/{webhook_id}/regenerate_signing_key``: the webhook, as above,
        with its new ``signing_key``. Never sent twice by a retry."""
        query = _user_query(external_user_id)
        return self._call(
            "regenerate_deployed_trigger_webhook_signing_key",
            deployed_component_id,
            webhook_id,
            query=query,
        )

    def get_deployed_trigger_workflows(self, deployed_component_id: str, external_user_id: str) -> Dict[str, Any]:
        """``GET .../deployed-triggers/{id}/pipelines``: ``{"workflow_ids": [...]}``."""
        query = _user_query(external_user_id)
        return self._call("get_deployed_trigger_workflows", deployed_component_id, query=query)

    def update_deployed_trigger_workflows(
        self,
        deployed_component_id: str,
        external_user_id: str,
        workflowIds: Optional[Sequence[str]] = None,  # noqa: N803 - the original client's spelling
        *,
        workflow_ids: Optional[Sequence[str]] = None,
    ) -> Dict[str, Any]:
        """``PUT .../deployed-triggers/{id}/pipelines`` with ``{"workflow_ids": [...]}``."""
        ids = _string_list("workflowIds", _either("workflowIds", workflowIds, "workflow_ids", workflow_ids))
        if ids is None:
            raise ValueError("workflowIds (or workflow_ids) is required")
        query = _user_query(external_user_id)
        return self._call(
            "update_deployed_trigger_workflows",
            deployed_component_id,
            query=query,
            body={"workflow_ids": ids},
        )

    # -- The v2 catalogue: apps and components from the search index, paged by number ----------

    def get_apps_v2(
        self,
        q: Optional[str] = None,
        limit: Optional[int] = None,
        page: Optional[int] = None,
        *,
        category_name: Optional[str] = None,
        auth_type: Optional[str] = None,
        has_components: Optional[bool] = None,
        has_actions: Optional[bool] = None,
        has_triggers: Optional[bool] = None,
        has_private_components: Optional[bool] = None,
    ) -> AppDocumentList:
        """``GET /v2/connect/{project_id}/apps``: ``{"data": [AppDocument], "page_info":
        {"count", "page", "per_page", "total_count"}}``. A ``has_*`` flag given selects its
        filter and its value the direction (``False``: apps without); the API applies only the
        first of ``has_components``, ``has_actions``, ``has_triggers``. The API answers 501 to
        ``has_private_components`` for now."""
        query = dict(
            q=q,
            limit=limit,
            page=page,
            category_name=category_name,
            auth_type=auth_type,
            has_components=has_components,
            has_actions=has_actions,
            has_triggers=has_triggers,
            has_private_components=has_private_components,
        )
        return self._call("get_apps_v2", query=query)

    def get_app_facets_v2(self) -> Facets:
        """``GET /v2/connect/{project_id}/apps/facets``: ``{"data": {"category_name": [{"value",
        "count"}], "auth_type": [...]}}``."""
        return self._call("get_app_facets_v2")

    def get_app_v2(self, app_id_or_slug: str) -> AppDocumentResponse:
        """``GET /v2/connect/{project_id}/apps/{id}`` (``app_...`` id or name slug):
        ``{"data": AppDocument}``; 404 if unknown."""
        return self._call("get_app_v2", app_id_or_slug)

    def get_components_v2(
        self,
        q: Optional[str] = None,
        limit: Optional[int] = None,
        page: Optional[int] = None,
        *,
        component_type: Optional[str] = None,
        app: Optional[str] = None,
        registry: Optional[str] = None,
    ) -> ComponentDocumentList:
        """``GET /v2/connect/{project_id}/components``: ``{"data": [ComponentDocument],
        "page_info": {"count", "page", "per_page", "total_count"}}``. ``component_type``:
        ``"action"`` or ``"trigger"`` (plurals accepted); ``app``: comma-separated app name
        slugs (not ids); ``registry``: ``"public"`` (the API's default), ``"private"`` or ``"all"``."""
        query = dict(q=q, limit=limit, page=page, component_type=component_type, app=app, registry=registry)
        return self._call("get_components_v2", query=query)

    def get_component_facets_v2(self, registry: Optional[str] = None) -> Facets:
        """``GET /v2/connect/{project_id}/components/facets``: ``{"data": {"component_type":
        [{"value", "count"}], "app_name_slug": [...]}}``."""
        return self._call("get_component_facets_v2", query=dict(registry=registry))

    def get_component_v2(self, component_id: str, registry: Optional[str] = None) -> ComponentDocumentResponse:
        """``GET /v2/connect/{project_id}/components/{id}`` (a ``pc_...`` id, not a key):
        ``{"data": ComponentDocument}``; 404 if unknown or not visible to the project."""
        return self._call("get_component_v2", component_id, query=dict(registry=registry))

    # -- Rate limits -------------------------------------------------------------------------

    def create_rate_limit(self, window_size_seconds: int, requests_per_window: int) -> Dict[str, Any]:
        """``POST /v1/connect/rate_limits``: ``{"token": ...}``. Send the token on later calls
        with ``client.with_options(rate_limit_token=result["token"])`` (header
        ``x-pd-rate-limit``)."""
        body = {
            "window_size_seconds": _count("window_size_seconds", window_size_seconds, 1),
            "requests_per_window": _count("requests_per_window", requests_per_window, 1),
        }
        return self._call("create_rate_limit", body=body)

    def _project(self, *segments: str) -> str:
        return self._project_path + "".join("/" + segment for segment in segments)

    # -- Proxy -------------------------------------------------------------------------------

    def make_proxy_request(self, proxy_opts: Mapping[str, Any], target_request: Mapping[str, Any]) -> JSON:
        """Send a request to an app's API with the end user's credentials, through
        ``{METHOD} /v1/connect/{project_id}/proxy/{base64url(url)}``.

        ``proxy_opts``: ``{"external_user_id", "account_id"}`` (or the TypeScript SDK's
        ``{"searchParams": {...}}``). ``target_request``: ``{"url", "method", "headers",
        "body" or "json"}`` (or ``{"url", "options": {"method", "headers", "body"}}``).
        Returns the upstream body: parsed JSON, text, bytes, or None when empty."""
        params = proxy_opts.get("searchParams", proxy_opts) if isinstance(proxy_opts, _Mapping) else None
        if not isinstance(params, _Mapping):
            raise ValueError("proxy_opts must be a mapping with external_user_id and account_id")
        if not isinstance(target_request, _Mapping):
            raise ValueError("target_request must be a mapping with a url")
        options = target_request.get("options") or target_request
        if not isinstance(options, _Mapping):
            raise ValueError("target_request['options'] must be a mapping")
        url = _required("target_request['url']", target_request.get("url"))
        method = _required("method", options.get("method") or "GET").upper()
        if method not in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
            raise ValueError("method %r is not supported by the proxy" % (method,))
        upstream_headers = options.get("headers") or {}
        if not isinstance(upstream_headers, _Mapping):  # e.g. a list of pairs: a ValueError, not an AttributeError
            raise ValueError("target_request headers must be a mapping of header names to values")
        # Pipedream forwards headers that carry this prefix, without it, to the app's API.
        headers = _with_headers(
            self._headers, {"x-pd-proxy-" + str(name): value for name, value in upstream_headers.items()}
        )
        raw = _encode_body(
            headers, options.get("json"), options.get("body"), "target_request['json']", "target_request['body']"
        )
        if raw is None and method in ("POST", "PUT", "PATCH"):
            raw = b"{}"  # the official SDK sends an empty JSON object when there is no body
            headers["Content-Type"] = "application/json"
        if raw is not None and not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"  # as the official SDK, for a str or bytes body
        encoded_url = base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")
        query = dict(
            external_user_id=_required("external_user_id", params.get("external_user_id")),
            account_id=_required("account_id", params.get("account_id")),
        )
        # The answer is the app's, not Pipedream's: a 401 there says nothing about our token.
        path = self._project("proxy", encoded_url)
        return self._foreign_call(method, self.base_url + path, "proxy request", headers, raw, bearer=True, query=query)

    # -- Workflows ---------------------------------------------------------------------------

    def _workflow_url(self, url_or_endpoint_id: str) -> str:
        value = _required("url_or_endpoint_id", url_or_endpoint_id).strip()
        if "://" not in value and "." not in value:
            if not _is_endpoint_id(value):
                raise ValueError("%r is neither a workflow URL nor an endpoint id (en... or eo...)" % (value,))
            return "https://%s.%s" % (value.lower(), self.workflow_domain)
        url = value if "://" in value else "https://" + value
        parts = _check_url("workflow URL", url)
        host = (parts.hostname or "").lower()
        if not (host == self.workflow_domain or host.endswith("." + self.workflow_domain)):
            raise ValueError("workflow URL %r is not under the workflow domain %s" % (value, self.workflow_domain))
        # Plain http would carry the OAuth token and the user's data in clear text; it is
        # allowed on loopback only, for local tests: "localhost" or a loopback IP literal
        # (not a name such as 127.0.0.1.example.com).
        if parts.scheme == "http" and host != "localhost":
            import ipaddress

            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise ValueError("workflow URL %r must use https" % (value,))
        return url

    def invoke_workflow(
        self,
        url_or_endpoint_id: str,
        method: str = "POST",
        headers: Optional[Mapping[str, str]] = None,
        json_data: JSON = None,
        data: Union[str, bytes, Mapping[str, Any], None] = None,
        auth_type: str = "none",
    ) -> JSON:
        """Call a workflow's HTTP endpoint (a URL under the workflow domain, or an endpoint id
        like ``en123abc``). ``auth_type``: ``"none"``, ``"oauth"`` (this client's token) or
        ``"static_bearer_token"`` (pass ``Authorization`` in ``headers``). ``json_data`` is
        sent as JSON; ``data`` as a form (mapping) or as is (str, bytes). Returns the body:
        parsed JSON, text, bytes, or None when empty."""
        return self._invoke(url_or_endpoint_id, method, headers, json_data, data, auth_type, None)

    def invoke_workflow_for_external_user(
        self,
        url_or_endpoint_id: str,
        external_user_id: str,
        method: str = "POST",
        headers: Optional[Mapping[str, str]] = None,
        json_data: JSON = None,
        data: Union[str, bytes, Mapping[str, Any], None] = None,
    ) -> JSON:
        """Call a workflow for one of your users: OAuth bearer plus ``X-PD-External-User-ID``
        and ``X-PD-Environment``, as the Connect docs require."""
        return self._invoke(
            url_or_endpoint_id,
            method,
            headers,
            json_data,
            data,
            "oauth",
            _required("external_user_id", external_user_id),
        )

    def _invoke(
        self,
        url_or_endpoint_id: str,
        method: str,
        headers: Optional[Mapping[str, str]],
        json_data: JSON,
        data: Union[str, bytes, Mapping[str, Any], None],
        auth_type: str,
        external_user_id: Optional[str],
    ) -> JSON:
        if auth_type not in AUTH_TYPES:
            raise ValueError("auth_type must be one of %s, got %r" % (", ".join(AUTH_TYPES), auth_type))
        url = self._workflow_url(url_or_endpoint_id)
        method = _required("method", method).upper()
        _check_request(method, {})
        request_headers = _with_headers({"User-Agent": self._headers["User-Agent"]}, headers)
        has_authorization = any(name.lower() == "authorization" for name in request_headers)
        if auth_type == "static_bearer_token" and not has_authorization:
            raise ValueError("auth_type='static_bearer_token' needs an Authorization header in headers")
        if external_user_id is not None:
            request_headers["X-PD-External-User-ID"] = external_user_id
            request_headers["X-PD-Environment"] = self.environment
        raw = _encode_body(request_headers, json_data, data, "json_data", "data", form=True)
        return self._foreign_call(method, url, "invoke workflow", request_headers, raw, bearer=auth_type == "oauth")

    # -- Pagination --------------------------------------------------------------------------

    def iter_apps(self, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every app matching ``get_apps`` filters, page after page, fetched as needed."""
        return _paginate(self.get_apps, filters)

    def iter_accounts(self, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every account matching ``get_accounts`` filters, fetched page by page."""
        return _paginate(self.get_accounts, filters)

    def iter_components(self, component_type: str, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every component matching ``get_components`` filters, fetched page by page."""
        _component_path(component_type)
        return _paginate(functools.partial(self.get_components, component_type), filters)

    def iter_deployed_triggers(self, external_user_id: str, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every deployed trigger of a user, fetched page by page."""
        _required("external_user_id", external_user_id)
        return _paginate(functools.partial(self.get_deployed_triggers, external_user_id), filters)

    def iter_users(self, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every external user matching ``get_users`` filters, fetched page by page."""
        return _paginate(self.get_users, filters)

    def iter_projects(self, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every project matching ``get_projects`` filters, fetched page by page."""
        return _paginate(self.get_projects, filters)

    def iter_app_overrides(self, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every app override matching ``get_app_overrides`` filters, fetched page by page."""
        return _paginate(self.get_app_overrides, filters)

    def iter_oauth_apps(self, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every OAuth app matching ``get_oauth_apps`` filters, fetched page by page."""
        return _paginate(self.get_oauth_apps, filters)

    def iter_apps_v2(self, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every app matching ``get_apps_v2`` filters, page after page (by number), fetched as needed."""
        return _paginate(self.get_apps_v2, filters, _by_number)

    def iter_components_v2(self, **filters: Any) -> Iterator[Dict[str, Any]]:
        """Every component matching ``get_components_v2`` filters, fetched page by page."""
        return _paginate(self.get_components_v2, filters, _by_number)


def _next_cursor(page: JSON, previous: Optional[str]) -> Optional[str]:
    """The cursor of the page after ``page``, or None at the end (no cursor, an empty page,
    or a cursor that does not move, which would otherwise loop forever)."""
    if not isinstance(page, dict) or not page.get("data"):
        return None
    info = page.get("page_info")
    cursor = info.get("end_cursor") if isinstance(info, dict) else None
    return cursor if isinstance(cursor, str) and cursor and cursor != previous else None


def _page_items(page: Any) -> Tuple[Any, List[Any]]:
    """A page as returned by a list method (also through ``with_raw_response``): its body and
    its items. A body whose ``data`` is not a list is an API error, not items to iterate."""
    body = page.data if isinstance(page, RawResponse) else page
    items = body.get("data") if isinstance(body, dict) else None
    if items is None:
        return body, []
    if not isinstance(items, list):
        raise PipedreamApiError("list failed: expected a list in the page's data, got %s" % type(items).__name__)
    return body, items


def _next_page_number(page: JSON, items: List[Any], filters: Mapping[str, Any]) -> Optional[int]:
    """The number of the page after ``page`` (fetched with ``filters``), or None at the end:
    an empty page, a short one (fewer items than ``per_page``, or than the ``limit`` asked
    for), or a page number that does not move. Pages count from 1, the API's default."""
    if not items:
        return None
    info = page.get("page_info") if isinstance(page, dict) else None
    info = info if isinstance(info, dict) else {}
    per_page = info.get("per_page")
    if not isinstance(per_page, int) or isinstance(per_page, bool) or per_page < 1:
        per_page = filters.get("limit")
    if isinstance(per_page, int) and len(items) < per_page:
        return None
    asked = filters.get("page")
    asked = asked if isinstance(asked, int) and not isinstance(asked, bool) else 1
    current = info.get("page")
    current = current if isinstance(current, int) and not isinstance(current, bool) else asked
    return current + 1 if current + 1 > asked else None


# How the page after ``page`` is asked for, as the filters to fetch it with (None at the end):
# the v1 lists by cursor (``after``), the v2 catalogue by page number (``page``).


def _by_cursor(page: JSON, items: List[Any], filters: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    cursor = _next_cursor(page, filters.get("after"))
    return None if cursor is None else dict(filters, after=cursor)


def _by_number(page: JSON, items: List[Any], filters: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    number = _next_page_number(page, items, filters)
    return None if number is None else dict(filters, page=number)


if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    _NextFilters = Callable[[JSON, List[Any], Dict[str, Any]], Optional[Dict[str, Any]]]


def _paginate(
    fetch: Callable[..., Any], filters: Dict[str, Any], next_filters: _NextFilters = _by_cursor
) -> Iterator[Dict[str, Any]]:
    """The items of every page, each page fetched when the previous one is used up."""
    following: Optional[Dict[str, Any]] = dict(filters)
    while following is not None:
        page, items = _page_items(fetch(**following))
        yield from items
        following = next_filters(page, items, following)


# ---------------------------------------------------------------------------------------------
# The async client
# ---------------------------------------------------------------------------------------------

if TYPE_CHECKING:  # pragma: no cover - for type checkers only (mypy targets 3.10); never imported at run time
    from typing import Concatenate, Coroutine, ParamSpec  # novm

    _P = ParamSpec("_P")
    _R = TypeVar("_R")


def _coroutine(
    method: Callable[Concatenate[SyncPipedreamClient, _P], _R],
) -> Callable[Concatenate[PipedreamClient, _P], Coroutine[Any, Any, _R]]:
    """The coroutine twin of a ``SyncPipedreamClient`` method: the same name, arguments,
    types (for type checkers, through ParamSpec) and docstring; it runs the sync method in
    a thread of the async client's pool."""
    name = method.__name__

    async def call(self: PipedreamClient, *args: Any, **kwargs: Any) -> Any:
        return await self._runner.run(getattr(self.sync, name), *args, **kwargs)

    return functools.wraps(method)(call)  # type: ignore[return-value]


class PipedreamClient:
    """The Pipedream Connect client of the README it implements: every method is a coroutine.

    Takes the same arguments as ``SyncPipedreamClient`` plus ``max_workers``: each call
    runs the sync client's code in a thread of a pool this client owns, so
    ``asyncio.gather`` runs calls concurrently. Use ``async with`` or
    ``await client.close()``, which waits for calls in flight and releases threads and
    connections.
    """

    def __init__(
        self,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        project_id: Optional[str] = None,
        environment: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        workflow_domain: Optional[str] = None,
        access_token: Optional[str] = None,
        private_key: Optional[str] = None,
        key_id: Optional[str] = None,
        client_assertion: Optional[Callable[[], str]] = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        ssl_context: Optional[ssl.SSLContext] = None,
        ca_bundle: Optional[str] = None,
        proxy: Union[str, bool, None] = None,
        headers: Optional[Mapping[str, str]] = None,
        rate_limit_token: Optional[str] = None,
        logger: Optional["logging.Logger"] = None,
        write_idle_limit: float = _WRITE_IDLE_LIMIT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_workers: int = 64,
    ) -> None:
        self.sync = SyncPipedreamClient(
            client_id,
            client_secret,
            project_id,
            environment,
            base_url=base_url,
            workflow_domain=workflow_domain,
            access_token=access_token,
            private_key=private_key,
            key_id=key_id,
            client_assertion=client_assertion,
            timeout=timeout,
            max_retries=max_retries,
            ssl_context=ssl_context,
            ca_bundle=ca_bundle,
            proxy=proxy,
            headers=headers,
            rate_limit_token=rate_limit_token,
            logger=logger,
            write_idle_limit=write_idle_limit,
            max_response_bytes=max_response_bytes,
        )
        self._runner = _AsyncRunner(max_workers, "pipedream-async")
        self._owns_runner = True

    def __repr__(self) -> str:
        return "PipedreamClient(project_id=%r, environment=%r, base_url=%r)" % (
            self.sync.project_id,
            self.sync.environment,
            self.sync.base_url,
        )

    async def __aenter__(self) -> "PipedreamClient":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Wait for calls in flight, then release threads and connections. Idempotent.
        On a ``with_options`` view it does nothing: the client it came from owns them."""
        if self._owns_runner:
            await self._runner.close()
            self.sync.close()

    def _view(self, sync: Any) -> "PipedreamClient":
        view = object.__new__(PipedreamClient)
        view.__dict__.update(self.__dict__)
        view._owns_runner = False
        view.sync = sync
        return view

    def with_options(
        self,
        *,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        headers: Optional[Mapping[str, str]] = None,
        query: Optional[Mapping[str, Any]] = None,
        rate_limit_token: Optional[str] = None,
    ) -> "PipedreamClient":
        """A view with other defaults, sharing threads, connections and token (see
        ``SyncPipedreamClient.with_options``)."""
        return self._view(
            self.sync.with_options(
                timeout=timeout,
                max_retries=max_retries,
                headers=headers,
                query=query,
                rate_limit_token=rate_limit_token,
            )
        )

    @property
    def with_raw_response(self) -> Any:
        """A view whose API coroutines return a ``RawResponse`` (``status_code``,
        ``headers``, ``request_id``, ``data``)::

            raw = await client.with_raw_response.get_app("slack")
        """
        return self._view(self.sync.with_raw_response)

    @property
    def project_id(self) -> str:
        return self.sync.project_id

    @property
    def environment(self) -> str:
        return self.sync.environment

    @property
    def token_requests(self) -> int:
        return self.sync.token_requests

    # Positional-only name: a filter may be called anything.
    async def _iterate(
        self, method_name: str, next_filters: _NextFilters, /, *args: Any, **filters: Any
    ) -> AsyncIterator[Dict[str, Any]]:
        """``_paginate``, each page fetched in a thread of the pool."""
        fetch = getattr(self.sync, method_name)
        following: Optional[Dict[str, Any]] = filters
        while following is not None:
            page, items = _page_items(await self._runner.run(fetch, *args, **following))
            for item in items:
                yield item
            following = next_filters(page, items, following)

    # Every API method of SyncPipedreamClient, as a coroutine with the same arguments,
    # return value and docstring (see _coroutine).

    # -- Projects
    get_project_info = _coroutine(SyncPipedreamClient.get_project_info)
    get_projects = _coroutine(SyncPipedreamClient.get_projects)
    create_project = _coroutine(SyncPipedreamClient.create_project)
    get_project = _coroutine(SyncPipedreamClient.get_project)
    update_project = _coroutine(SyncPipedreamClient.update_project)
    delete_project = _coroutine(SyncPipedreamClient.delete_project)
    update_project_logo = _coroutine(SyncPipedreamClient.update_project_logo)
    get_project_webhook = _coroutine(SyncPipedreamClient.get_project_webhook)
    update_project_webhook = _coroutine(SyncPipedreamClient.update_project_webhook)
    delete_project_webhook = _coroutine(SyncPipedreamClient.delete_project_webhook)
    regenerate_project_webhook_signing_key = _coroutine(SyncPipedreamClient.regenerate_project_webhook_signing_key)
    get_usage = _coroutine(SyncPipedreamClient.get_usage)

    # -- Apps
    get_apps = _coroutine(SyncPipedreamClient.get_apps)
    get_app = _coroutine(SyncPipedreamClient.get_app)
    get_app_categories = _coroutine(SyncPipedreamClient.get_app_categories)
    get_app_category = _coroutine(SyncPipedreamClient.get_app_category)
    get_app_overrides = _coroutine(SyncPipedreamClient.get_app_overrides)
    create_app_override = _coroutine(SyncPipedreamClient.create_app_override)
    get_app_override = _coroutine(SyncPipedreamClient.get_app_override)
    update_app_override = _coroutine(SyncPipedreamClient.update_app_override)
    delete_app_override = _coroutine(SyncPipedreamClient.delete_app_override)
    get_oauth_apps = _coroutine(SyncPipedreamClient.get_oauth_apps)
    create_oauth_app = _coroutine(SyncPipedreamClient.create_oauth_app)
    get_oauth_app = _coroutine(SyncPipedreamClient.get_oauth_app)
    update_oauth_app = _coroutine(SyncPipedreamClient.update_oauth_app)
    delete_oauth_app = _coroutine(SyncPipedreamClient.delete_oauth_app)

    # -- Tokens, users and accounts
    create_connect_token = _coroutine(SyncPipedreamClient.create_connect_token)
    validate_connect_token = _coroutine(SyncPipedreamClient.validate_connect_token)
    create_oauth_token = _coroutine(SyncPipedreamClient.create_oauth_token)
    get_users = _coroutine(SyncPipedreamClient.get_users)
    get_accounts = _coroutine(SyncPipedreamClient.get_accounts)
    get_accounts_by_external_user = _coroutine(SyncPipedreamClient.get_accounts_by_external_user)
    create_account = _coroutine(SyncPipedreamClient.create_account)
    get_account_by_id = _coroutine(SyncPipedreamClient.get_account_by_id)
    delete_account = _coroutine(SyncPipedreamClient.delete_account)
    delete_accounts_by_app = _coroutine(SyncPipedreamClient.delete_accounts_by_app)
    delete_external_user = _coroutine(SyncPipedreamClient.delete_external_user)

    # -- Components, actions, triggers, file stash
    get_components = _coroutine(SyncPipedreamClient.get_components)
    get_component = _coroutine(SyncPipedreamClient.get_component)
    configure_component = _coroutine(SyncPipedreamClient.configure_component)
    reload_component_props = _coroutine(SyncPipedreamClient.reload_component_props)
    run_action = _coroutine(SyncPipedreamClient.run_action)
    download_file = _coroutine(SyncPipedreamClient.download_file)
    deploy_trigger = _coroutine(SyncPipedreamClient.deploy_trigger)

    # -- Deployed triggers
    get_deployed_triggers = _coroutine(SyncPipedreamClient.get_deployed_triggers)
    get_deployed_trigger = _coroutine(SyncPipedreamClient.get_deployed_trigger)
    delete_deployed_trigger = _coroutine(SyncPipedreamClient.delete_deployed_trigger)
    update_deployed_trigger = _coroutine(SyncPipedreamClient.update_deployed_trigger)
    get_deployed_trigger_events = _coroutine(SyncPipedreamClient.get_deployed_trigger_events)
    get_deployed_trigger_webhooks = _coroutine(SyncPipedreamClient.get_deployed_trigger_webhooks)
    update_deployed_trigger_webhooks = _coroutine(SyncPipedreamClient.update_deployed_trigger_webhooks)
    get_deployed_trigger_webhook = _coroutine(SyncPipedreamClient.get_deployed_trigger_webhook)
    reset_deployed_trigger_webhook_delivery_state = _coroutine(
        SyncPipedreamClient.reset_deployed_trigger_webhook_delivery_state
    )
    regenerate_deployed_trigger_webhook_signing_key = _coroutine(
        SyncPipedreamClient.regenerate_deployed_trigger_webhook_signing_key
    )
    get_deployed_trigger_workflows = _coroutine(SyncPipedreamClient.get_deployed_trigger_workflows)
    update_deployed_trigger_workflows = _coroutine(SyncPipedreamClient.update_deployed_trigger_workflows)

    # -- The v2 catalogue
    get_apps_v2 = _coroutine(SyncPipedreamClient.get_apps_v2)
    get_app_facets_v2 = _coroutine(SyncPipedreamClient.get_app_facets_v2)
    get_app_v2 = _coroutine(SyncPipedreamClient.get_app_v2)
    get_components_v2 = _coroutine(SyncPipedreamClient.get_components_v2)
    get_component_facets_v2 = _coroutine(SyncPipedreamClient.get_component_facets_v2)
    get_component_v2 = _coroutine(SyncPipedreamClient.get_component_v2)

    # -- Rate limits, proxy, workflows
    create_rate_limit = _coroutine(SyncPipedreamClient.create_rate_limit)
    make_proxy_request = _coroutine(SyncPipedreamClient.make_proxy_request)
    invoke_workflow = _coroutine(SyncPipedreamClient.invoke_workflow)
    invoke_workflow_for_external_user = _coroutine(SyncPipedreamClient.invoke_workflow_for_external_user)

    # -- Pagination

    def iter_apps(self, **filters: Any) -> AsyncIterator[Dict[str, Any]]:
        """``async for app in client.iter_apps(q="slack")``: pages fetched as needed."""
        return self._iterate("get_apps", _by_cursor, **filters)

    def iter_accounts(self, **filters: Any) -> AsyncIterator[Dict[str, Any]]:
        return self._iterate("get_accounts", _by_cursor, **filters)

    def iter_components(self, component_type: str, **filters: Any) -> AsyncIterator[Dict[str, Any]]:
        _component_path(component_type)
        return self._iterate("get_components", _by_cursor, component_type, **filters)

    def iter_deployed_triggers(self, external_user_id: str, **filters: Any) -> AsyncIterator[Dict[str, Any]]:
        _required("external_user_id", external_user_id)
        return self._iterate("get_deployed_triggers", _by_cursor, external_user_id, **filters)

    def iter_users(self, **filters: Any) -> AsyncIterator[Dict[str, Any]]:
        return self._iterate("get_users", _by_cursor, **filters)

    def iter_projects(self, **filters: Any) -> AsyncIterator[Dict[str, Any]]:
        return self._iterate("get_projects", _by_cursor, **filters)

    def iter_app_overrides(self, **filters: Any) -> AsyncIterator[Dict[str, Any]]:
        return self._iterate("get_app_overrides", _by_cursor, **filters)

    def iter_oauth_apps(self, **filters: Any) -> AsyncIterator[Dict[str, Any]]:
        return self._iterate("get_oauth_apps", _by_cursor, **filters)

    def iter_apps_v2(self, **filters: Any) -> AsyncIterator[Dict[str, Any]]:
        """``async for app in client.iter_apps_v2(q="slack")``: pages fetched by number as needed."""
        return self._iterate("get_apps_v2", _by_number, **filters)

    def iter_components_v2(self, **filters: Any) -> AsyncIterator[Dict[str, Any]]:
        return self._iterate("get_components_v2", _by_number, **filters)


# ---------------------------------------------------------------------------------------------
# Command line: python -m pipedream COMMAND ... (or python pipedream.py on a vendored copy)
# ---------------------------------------------------------------------------------------------

_NOT_CALLABLE = ("close", "with_options", "with_raw_response", "token_requests")


def _api_methods() -> List[str]:
    return sorted(
        name
        for name in dir(SyncPipedreamClient)
        if not name.startswith("_")
        and name not in _NOT_CALLABLE
        and not name.startswith("iter_")
        and callable(getattr(SyncPipedreamClient, name))
    )


def main(argv: Optional[List[str]] = None) -> int:
    """Check credentials or make any call from a shell or a Lambda console. Credentials come
    from the PIPEDREAM_* variables; the result is printed as JSON; errors go to stderr with
    exit code 1 (API or network) or 2 (usage)."""
    import argparse  # only for the command line: it would double the module's import time

    def json_argument(text: str) -> Any:
        try:
            return json.loads(sys.stdin.read() if text == "-" else text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError("not valid JSON: %s" % exc) from None

    parser = argparse.ArgumentParser(
        prog="python -m pipedream",
        description="Call the Pipedream Connect API. Credentials are read from PIPEDREAM_CLIENT_ID, "
        "PIPEDREAM_CLIENT_SECRET (or PIPEDREAM_PRIVATE_KEY and PIPEDREAM_KEY_ID, or PIPEDREAM_ACCESS_TOKEN, "
        "with which PIPEDREAM_PROJECT_ID may be left out for a Connect token), PIPEDREAM_PROJECT_ID and "
        "PIPEDREAM_PROJECT_ENVIRONMENT; PIPEDREAM_BASE_URL overrides the API's address.",
        epilog="Any API method with `call`, e.g.: python -m pipedream call get_deployed_triggers "
        '\'{"external_user_id": "user-1"}\'. Methods: ' + ", ".join(_api_methods()),
    )
    parser.add_argument("--base-url", help="API base URL (default: PIPEDREAM_BASE_URL or %s)" % DEFAULT_BASE_URL)
    parser.add_argument(
        "--environment", choices=ENVIRONMENTS, help="the project environment (default: PIPEDREAM_PROJECT_ENVIRONMENT)"
    )
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per call (default: 60)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    commands.required = True
    commands.add_parser("check", help="check the credentials and the project")
    apps = commands.add_parser("apps", help="list apps")
    apps.add_argument("--q", help="search text")
    apps.add_argument("--limit", type=int)
    commands.add_parser("app", help="get one app").add_argument("app_id_or_slug")
    accounts = commands.add_parser("accounts", help="list connected accounts")
    accounts.add_argument("--external-user-id")
    accounts.add_argument("--app", help="app id or slug")
    accounts.add_argument("--limit", type=int)
    components = commands.add_parser("components", help="list components, actions or triggers")
    components.add_argument("component_type", nargs="?", default="components", choices=COMPONENT_TYPES)
    components.add_argument("--app", help="app id or slug")
    components.add_argument("--q", help="search text")
    components.add_argument("--limit", type=int)
    token = commands.add_parser("connect-token", help="create a Connect token for one of your users")
    token.add_argument("external_user_id")
    run = commands.add_parser("run-action", help="run an action for one of your users")
    run.add_argument("action_key")
    run.add_argument("external_user_id")
    run.add_argument(
        "configured_props", nargs="?", default={}, type=json_argument, help="a JSON object, or - to read it from stdin"
    )
    invoke = commands.add_parser("invoke-workflow", help="invoke a workflow by URL or endpoint id")
    invoke.add_argument("url_or_endpoint_id")
    invoke.add_argument("body", nargs="?", type=json_argument, help="JSON body, or - to read it from stdin")
    invoke.add_argument("--method", default="POST")
    invoke.add_argument("--external-user-id", help="invoke for this user (OAuth and Connect headers)")
    invoke.add_argument("--auth", choices=("none", "oauth"), default="none")
    call = commands.add_parser("call", help="call any API method with keyword arguments as a JSON object")
    call.add_argument("method", choices=_api_methods(), metavar="METHOD")
    call.add_argument("arguments", nargs="?", default={}, type=json_argument, help="a JSON object, or -")
    args = parser.parse_args(argv)

    # Every missing setting at once, each with its variable, before anything is sent.
    environment = args.environment or os.environ.get("PIPEDREAM_PROJECT_ENVIRONMENT") or None
    problems = []
    if not os.environ.get("PIPEDREAM_ACCESS_TOKEN"):  # a Connect token needs no project id
        if not os.environ.get("PIPEDREAM_CLIENT_ID"):
            problems.append("PIPEDREAM_CLIENT_ID is not set: your OAuth client's id (or set PIPEDREAM_ACCESS_TOKEN)")
        if not os.environ.get("PIPEDREAM_CLIENT_SECRET") and not os.environ.get("PIPEDREAM_PRIVATE_KEY"):
            problems.append(
                "PIPEDREAM_CLIENT_SECRET is not set: your OAuth client's secret "
                "(or set PIPEDREAM_PRIVATE_KEY or PIPEDREAM_ACCESS_TOKEN)"
            )
        if not os.environ.get("PIPEDREAM_PROJECT_ID"):
            problems.append("PIPEDREAM_PROJECT_ID is not set: your project's id (proj_...)")
    if environment is None:
        problems.append("PIPEDREAM_PROJECT_ENVIRONMENT is not set (nor --environment): development or production")
    elif environment not in ENVIRONMENTS:
        problems.append("PIPEDREAM_PROJECT_ENVIRONMENT must be development or production, not %r" % environment)
    if problems:
        print("error: " + "\n       ".join(problems), file=sys.stderr)
        return 2

    try:
        with SyncPipedreamClient(environment=environment, base_url=args.base_url, timeout=args.timeout) as client:
            result: Any
            if args.command == "check":  # a token, and a call that needs the project
                client.get_project_info()
                result = {"ok": True, "project_id": client.project_id, "environment": client.environment}
            elif args.command == "apps":
                result = client.get_apps(q=args.q, limit=args.limit)
            elif args.command == "app":
                result = client.get_app(args.app_id_or_slug)
            elif args.command == "accounts":
                result = client.get_accounts(
                    external_user_id=args.external_user_id, app_filter=args.app, limit=args.limit
                )
            elif args.command == "components":
                result = client.get_components(
                    args.component_type, app_filter=args.app, search_query=args.q, limit=args.limit
                )
            elif args.command == "connect-token":
                result = client.create_connect_token(args.external_user_id)
            elif args.command == "run-action":
                result = client.run_action(args.action_key, args.external_user_id, args.configured_props)
            elif args.command == "invoke-workflow":
                if args.external_user_id:
                    result = client.invoke_workflow_for_external_user(
                        args.url_or_endpoint_id, args.external_user_id, method=args.method, json_data=args.body
                    )
                else:
                    result = client.invoke_workflow(
                        args.url_or_endpoint_id, method=args.method, json_data=args.body, auth_type=args.auth
                    )
            else:
                if not isinstance(args.arguments, dict):
                    raise ValueError("arguments must be a JSON object of keyword arguments")
                result = getattr(client, args.method)(**args.arguments)
    except PipedreamApiError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    except (ValueError, TypeError) as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    if isinstance(result, bytes):
        sys.stdout.buffer.write(result)
    else:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


# ---- shared transport: begin (copied from altan.py; tests/test_shared_transport.py checks) ----
#
# One object, _Transport, sends every request of a client. It keeps a pool of idle
# http.client connections per origin (a thread takes one, uses it, puts it back), so a
# sequential caller reuses one kept-alive connection and threads never share a socket.
# urllib.request is not used: it opens a new connection (and TLS handshake) per call.

_RETRY_STATUSES = frozenset((408, 429, 500, 502, 503, 504))
_IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "DELETE"))
_REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "x-amz-request-id")
_MAX_REDIRECTS = 5
_MAX_RETRY_WAIT = 60.0  # cap on a server's Retry-After hint, seconds
_BACKOFF_BASE = 0.5  # first backoff, seconds; doubles per retry
_BACKOFF_CAP = 8.0
# Writes and kept-alive connections. A server closes a connection that sat idle for its own
# timeout (gunicorn 2 s, Node and uvicorn 5 s, nginx 75 s, AWS ALB 60 s), and a request that
# crosses that close on the wire is lost without an answer: a read is sent again, but a write
# may have run, so it fails. A write therefore reuses a connection only while it is safely
# inside the server's timeout: the ``timeout=N`` the server announced in its ``Keep-Alive``
# header less a margin for the round trip (as Node's undici does), else ``write_idle_limit``
# (a client option); never past the cap, after which a NAT or load balancer may have dropped
# the connection silently (a thawed Lambda). Past that, a write opens a new connection: one
# handshake (2 round trips with TLS 1.3) instead of an error. Reads always reuse.
_WRITE_IDLE_CAP = 30.0
_KEEP_ALIVE_MARGIN = 1.0
_MAX_MESSAGE = 2000  # characters of an error message or log text, cut after redaction
_ERROR_SNIPPET = 500  # characters of a non-JSON body quoted in an error message
_MAX_HEADER_LINE = 65536  # http.client's limits on a response's header block
_MAX_HEADERS = 100
_STREAM_CHUNK = 64 * 1024  # bytes handed to a sink at a time
_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
_REDACTED = "[REDACTED]"
# Secrets registered as they rotate (access tokens): the newest this many are kept, so that
# the set stays bounded however long a client lives.
_ROTATING_SECRETS = 8
_URL_CACHE_SIZE = 256  # split URLs a transport keeps (a client calls few URLs, often)
# Caller-supplied headers whose values are credentials, redacted wherever they could appear:
# these names, and any name containing one of the words (case-insensitive).
_CREDENTIAL_HEADERS = frozenset(("authorization", "proxy-authorization", "cookie", "x-altan-key", "x-pd-rate-limit"))
_CREDENTIAL_WORDS = ("key", "token", "secret", "auth", "password", "session", "signature", "credential")


class _Clock:
    """Time and chance as this module sees them: the deadlines, the backoff and its jitter,
    the token cache. Tests replace the module's ``_clock`` with a virtual one (waits without
    sleeping) instead of patching the ``time`` module; nothing else reads the time."""

    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)
    random = staticmethod(random.random)
    time = staticmethod(time.time)  # last: in this class body the name means the module until here


_clock = _Clock()


class _Response:
    """A complete HTTP response: the body has been read and the connection released."""

    __slots__ = ("status", "reason", "_message", "_headers", "body", "method", "url", "_sent")

    def __init__(
        self,
        status: int,
        reason: str,
        message: http.client.HTTPMessage,
        body: bytes,
        method: str,
        url: str,
        sent: Tuple[Sequence[str], Mapping[str, str]] = ((), {}),
    ) -> None:
        self.status = status
        self.reason = reason
        self._message = message
        self._headers: Optional[Dict[str, str]] = None
        self.body = body
        self.method = method
        self.url = url
        self._sent = sent  # the call's own secrets and the headers sent: see secrets()

    @property
    def headers(self) -> Dict[str, str]:
        """Response headers, lower-case names, repeated ones joined with ", ". Built on first
        use: a successful call never needs them."""
        headers = self._headers
        if headers is None:
            headers = self._headers = {}
            for name, value in self._message.items():
                name = name.lower()
                headers[name] = headers[name] + ", " + value if name in headers else value
        return headers

    @property
    def request_id(self) -> Optional[str]:
        for name in _REQUEST_ID_HEADERS:
            if name in self.headers:
                return self.headers[name]
        return None

    def secrets(self) -> Tuple[str, ...]:
        """The credentials the request carried, to redact from its errors (``_call_secrets``)."""
        return _call_secrets(*self._sent)

    def data(self) -> JSON:
        """The body parsed as JSON if it is JSON, else its text; None when empty."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
            return self.body.decode("utf-8", "replace")


class _Failure(Exception):
    """A request that got no complete response. ``sent`` is False when the server provably
    did not receive the whole request, so that even a write may be sent again."""

    def __init__(
        self,
        reason: str,
        cause: BaseException,
        *,
        sent: bool,
        before_response: bool,
        retryable: bool,
        proxy_status: Optional[int] = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause
        self.sent = sent
        self.before_response = before_response
        self.retryable = retryable
        self.proxy_status = proxy_status  # the status of the proxy's refusal, if a proxy refused


def _proxy_refusal(proxy: "_Proxy", status: int, cause: BaseException) -> _Failure:
    """The proxy answered ``status`` instead of passing the request on (to CONNECT, or to a
    plain request with 407): the origin never saw it. Its reason text is not quoted: a proxy
    may echo the credentials there."""
    host = "[%s]" % proxy.host if ":" in proxy.host else proxy.host
    reason = "the proxy %s:%d answered HTTP %d %s" % (host, proxy.port, status, http.client.responses.get(status, ""))
    if status == 407:
        reason += " (proxy credentials missing or wrong: give them in the proxy URL, http://user:password@host:port)"
    return _Failure(
        reason.rstrip(),
        cause,
        sent=False,
        before_response=True,
        retryable=status in _RETRY_STATUSES,
        proxy_status=status,
    )


def _tunnel_status(exc: BaseException) -> Optional[int]:
    """The status of a proxy's refusal of CONNECT, from http.client's error (the same text in
    Python 3.8 to 3.13: "Tunnel connection failed: 407 Proxy Authentication Required")."""
    prefix = "Tunnel connection failed: "
    text = str(exc) if type(exc) is OSError else ""
    code = text[len(prefix) : len(prefix) + 3] if text.startswith(prefix) else ""
    return int(code) if code.isdigit() else None


def _keep_alive_timeout(value: Optional[str]) -> Optional[float]:
    """The ``timeout=N`` of a ``Keep-Alive`` response header, in seconds, if valid."""
    for parameter in (value or "").split(","):
        name, _, number = parameter.partition("=")
        if name.strip().lower() == "timeout":
            try:
                seconds = float(number.strip().strip('"'))
            except ValueError:
                return None
            return seconds if 0 <= seconds < float("inf") else None
    return None


class _RedactedCause(Exception):
    """Stands in, as the ``__cause__`` of an error, for the low-level exception behind it (a
    BadStatusLine, a socket error...): that exception's type name and its message, redacted.
    The original is not chained: its message, arguments or own chain may hold a secret that
    the server echoed (a status line quoting the request's Authorization header).
    ``cause_type`` is the original's type, for code that tells failures apart. (A stand-in
    given as ``cause`` is redacted again: with a call's own secrets, for instance.)"""

    def __init__(self, cause: BaseException, redact: Callable[[str], str]) -> None:
        if isinstance(cause, _RedactedCause):
            super().__init__(redact(str(cause)))
            self.cause_type: type = cause.cause_type
            return
        kind = type(cause)
        name = kind.__qualname__ if kind.__module__ == "builtins" else "%s.%s" % (kind.__module__, kind.__qualname__)
        super().__init__("%s: %s" % (name, redact(str(cause))) if str(cause) else name)
        self.cause_type = kind


class _DeadlineReader(io.RawIOBase):
    """Reads a socket so that no read waits past the call's deadline: a server that
    trickles bytes cannot stretch a call beyond its timeout.

    It reads through a file made by ``sock.makefile``, as http.client's own reader does:
    that file keeps the socket open until the response is closed. On "Connection: close"
    http.client closes the connection (and so the socket) before the body is read."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._file = sock.makefile("rb", buffering=0)
        self._deadline = deadline
        self.nonblocking = False  # set to read only what has arrived already (see _ResponseFile)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> Optional[int]:
        if self.nonblocking:
            # Without a system call: bytes that TLS decrypted and holds. Bytes still in the
            # kernel make the socket readable, which the pool checks before reusing it.
            pending = getattr(self._sock, "pending", None)
            return self._file.readinto(buffer) if pending is not None and pending() else None
        remaining = self._deadline - _clock.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")
        self._sock.settimeout(remaining)
        return self._file.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._file.close()  # releases the socket; it closes now if its connection is closed
        super().close()


class _ResponseFile(io.BufferedReader):
    """The buffered file a response is read from. When http.client closes it, at the end of
    the response, it notes whether bytes beyond the response had arrived (``surplus``): the
    server sent more than it announced, and the connection must not carry another request,
    whose caller would read them as its answer."""

    raw: _DeadlineReader
    surplus = False

    def close(self) -> None:
        if not self.closed:
            self.raw.nonblocking = True
            try:
                self.surplus = bool(self.peek(1))
            except (OSError, ValueError):
                self.surplus = True
        super().close()


class _DeadlineSocket:
    """What ``_DeadlineResponse`` hands to HTTPResponse, whose only use of its socket is
    ``makefile("rb")``: that file is the deadline reader (no plain file made, then closed)."""

    __slots__ = ("_sock", "_deadline", "file")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        self.file = _ResponseFile(_DeadlineReader(self._sock, self._deadline))
        return self.file


class _ProtocolError(http.client.HTTPException):
    """An answer that breaks HTTP/1.1 framing: its connection cannot be trusted any more."""


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response, read within the call's deadline, with this module's own
    reading of the status line and header block (``begin``). http.client's reads the header
    block through the email package, which is a third of a request's CPU time
    (benchmarks/run.py, measure cpu); the parser here is written from RFC 9112 and is also
    stricter: every interim (1xx) response is skipped, not only 100 Continue, and what RFC
    9112 calls unrecoverable (101 to a request that asked for no upgrade, an invalid or
    conflicting Content-Length, a transfer coding other than chunked) raises
    ``_ProtocolError``, so that the connection is closed. Reading the body is left to
    http.client, from the attributes ``begin`` sets: ``length``, ``chunked``, ``will_close``."""

    def __init__(
        self,
        sock: socket.socket,
        debuglevel: int = 0,
        method: Optional[str] = None,
        url: Optional[str] = None,
        *,
        deadline: float,
    ) -> None:
        source = _DeadlineSocket(sock, deadline)
        super().__init__(source, debuglevel, method, url)  # type: ignore[arg-type]  # it only calls makefile
        self._file = source.file  # kept: http.client drops its fp at the end of the body

    @property
    def surplus(self) -> bool:
        """True, once the response has been read, if the server sent bytes beyond it."""
        return self._file.surplus

    def begin(self) -> None:
        """Read the status line and the header block, and work out how the body is framed
        (RFC 9112 section 6.3), setting what http.client's reading of the body uses:

        - 1xx: interim, skipped with its headers (100 Continue, 102, 103 Early Hints...),
          except 101 Switching Protocols, refused: this client never asks for an upgrade;
        - 204, 304, and any answer to HEAD: no body, whatever the headers announce;
        - Transfer-Encoding chunked: chunks to the last one (closed after, if a
          Content-Length came too); any other coding is refused;
        - Content-Length: that many bytes (the same value repeated is one length);
        - neither: the body ends when the server closes the connection."""
        if self.headers is not None:  # http.client calls begin() once; a second call is a no-op
            return
        while True:
            # Interim responses (1xx, RFC 9110 section 15.2: 100 Continue, 102, 103 Early
            # Hints...) precede the final one, which alone answers the request: skip them.
            version, status, reason = _parse_status_line(self.fp.readline(_MAX_HEADER_LINE + 1))
            if status >= 200:
                break
            if status == 101:  # a protocol switch nobody asked for: the rest is not HTTP
                raise _ProtocolError("HTTP 101 Switching Protocols to a request that asked for no upgrade")
            _read_header_lines(self.fp)
        self.code = self.status = status
        self.reason = reason
        self.version = version
        self.headers = self.msg = headers = _parse_header_lines(_read_header_lines(self.fp))
        self.length = None
        self.chunk_left = None
        self.chunked = False
        self.will_close = _will_close(version, headers.get("connection"), headers.get("keep-alive"))
        if status in (204, 304) or self._method == "HEAD":
            self.length = 0  # no body, whatever the headers say (RFC 9112 section 6.3, rule 1)
            return
        codings = headers.get_all("transfer-encoding")
        lengths = headers.get_all("content-length")
        if codings:
            # No TE header is sent, so chunked is the only coding a server may use (RFC 9112
            # section 6.1); the body ends with its last chunk.
            if len(codings) > 1 or codings[0].strip().lower() != "chunked":
                raise _ProtocolError("unsupported Transfer-Encoding %r" % ", ".join(codings))
            self.chunked = True
            if lengths:  # both: a message that may be an attack (request smuggling); chunked wins, then close
                self.will_close = True
        elif lengths:
            self.length = _content_length(lengths)
        else:
            self.will_close = True  # no length: the body ends when the server closes the connection


def _parse_status_line(line: bytes) -> Tuple[int, int, str]:
    """(version, status, reason) of a status line (RFC 9112 section 4), ``HTTP/1.1 200 OK``:
    the version as http.client counts it (10 for HTTP/1.0, 11 for HTTP/1.x), a status of
    exactly three digits, and the reason, which may be empty. Words may be separated by more
    than one blank, as RFC 9112 allows a recipient to accept. Raises what http.client raises:
    RemoteDisconnected for no line at all (the server closed the connection, typically an idle
    kept-alive one), LineTooLong, UnknownProtocol for another HTTP version, BadStatusLine for
    anything else."""
    if len(line) > _MAX_HEADER_LINE:
        raise http.client.LineTooLong("status line")
    if not line:
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    text = line.decode("iso-8859-1")
    words = text.rstrip("\r\n").split(" ", 1)
    version = words[0]
    rest = words[1].lstrip(" ") if len(words) > 1 else ""
    code, reason = rest[:3], rest[3:]
    if not (code.isdigit() and code.isascii() and reason[:1] in ("", " ") and "100" <= code):
        raise http.client.BadStatusLine(text)
    if version in ("HTTP/1.1", "HTTP/1.0"):  # the usual case first
        number = 11 if version == "HTTP/1.1" else 10
    elif not version.startswith("HTTP/"):
        raise http.client.BadStatusLine(text)
    elif not version.startswith("HTTP/1."):
        raise http.client.UnknownProtocol(version)  # HTTP/2 and /3 do not answer an HTTP/1 request
    elif len(version) == 8 and version[7].isdigit() and version.isascii():
        number = 11  # HTTP/1.x: a later minor version is compatible with 1.1 (RFC 9110 section 2.5)
    else:
        raise http.client.BadStatusLine(text)
    return number, int(code), reason.strip(" \t")


def _read_header_lines(fp: Any) -> List[bytes]:
    """The header lines of a response, up to the blank line that ends them (RFC 9112
    section 2.1); at most ``_MAX_HEADERS`` lines of ``_MAX_HEADER_LINE`` bytes, as http.client
    allows, so that a hostile server cannot make us hold an endless header block."""
    lines: List[bytes] = []
    while True:
        line = fp.readline(_MAX_HEADER_LINE + 1)
        if len(line) > _MAX_HEADER_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):  # b"": the server closed; the body then has no length
            return lines
        lines.append(line)
        if len(lines) > _MAX_HEADERS:
            raise http.client.HTTPException("got more than %d headers" % _MAX_HEADERS)


def _parse_header_lines(lines: List[bytes]) -> http.client.HTTPMessage:
    """The header fields (RFC 9112 section 5) as the HTTPMessage http.client would give (so
    that ``get``, ``get_all`` and ``items`` answer the same): the value after the colon
    without its leading blanks, a folded line (obs-fold, a line starting with a blank) kept
    with the line before it, line break included. A line that is not a field (no colon) is
    skipped, where the email package would drop it and every field after it."""
    message = http.client.HTTPMessage()
    name: Optional[str] = None
    value = ""
    for raw in lines:
        line = raw.decode("iso-8859-1")
        if line[:1] in (" ", "\t"):  # obs-fold: continues the field before it
            if name is not None:
                value += line
            continue
        if name is not None:
            message[name] = value.rstrip("\r\n")
        name, colon, value = line.partition(":")
        if colon:
            value = value.lstrip(" \t")
        else:
            name = None
    if name is not None:
        message[name] = value.rstrip("\r\n")
    return message


def _will_close(version: int, connection: Optional[str], keep_alive: Optional[str]) -> bool:
    """Whether the server closes the connection after this response (RFC 9112 section 9.3):
    an HTTP/1.1 one stays open unless it says ``Connection: close``; an HTTP/1.0 one closes
    unless it says ``Connection: keep-alive`` (or sends a ``Keep-Alive`` header, as old
    servers do). Doubtful words count as close: a needless new connection costs a handshake,
    a wrong reuse loses a request."""
    options = (connection or "").lower()
    if version == 11:
        return "close" in options
    return "close" in options or not (keep_alive or "keep-alive" in options)


def _content_length(lengths: List[str]) -> int:
    """The body's length from its Content-Length field(s). Repeated identical values (a list
    such as ``42, 42``) are one length; differing or invalid ones make the framing unknowable,
    and the response is refused (RFC 9112 section 6.3, rule 5)."""
    length = lengths[0]
    if len(lengths) > 1 or not (length.isdigit() and length.isascii()):  # else the usual case
        values = {value.strip() for line in lengths for value in line.split(",")}
        length = values.pop()
        if values or not (length.isdigit() and length.isascii()):
            raise _ProtocolError("invalid Content-Length %r" % ", ".join(lengths))
    return int(length)


def _bounded(text: str) -> str:
    """A whole message or log text, cut to a readable length; always applied after
    redaction (values a server sent are quoted in full until then: a secret cut in two
    would not be recognised, and its first half would show)."""
    return text[:_MAX_MESSAGE] + ("..." if len(text) > _MAX_MESSAGE else "")


def _snippet(text: str) -> str:
    return text[:_ERROR_SNIPPET] + ("..." if len(text) > _ERROR_SNIPPET else "")


def _api_message(data: JSON, depth: int = 0) -> Optional[str]:
    """The API's own message from an error body: FastAPI ``detail``, ``error``, ``message``.
    At most ``_ERROR_SNIPPET`` characters, looked for a few levels deep only: an error body
    can be huge or nested thousands of levels deep, and the message must stay readable."""
    if depth > 4:
        return None
    if isinstance(data, dict):
        for key in ("detail", "error_description", "error", "message", "msg"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return _snippet(value)
            if isinstance(value, dict):
                nested = _api_message(value, depth + 1)
                if nested:
                    return nested
            if isinstance(value, list) and value:
                parts = [
                    _field_error(item)
                    or _api_message(item, depth + 1)
                    or (item if isinstance(item, str) else _json_text(item))
                    for item in value[:10]
                ]
                return _snippet("; ".join(str(p) for p in parts) + ("; ..." if len(value) > 10 else ""))
        return None
    if isinstance(data, str):
        text = " ".join((_html_text(data) or data).split())
        return _snippet(text) if text else None
    return None


def _html_text(page: str) -> Optional[str]:
    """What an HTML page (a proxy's or a gateway's error page) says: its title, or else its
    text without markup, scripts and styles; None if ``page`` is not HTML."""
    import re  # loaded already: json imports it

    head = page[:65536]
    if not re.search(r"<(?:!doctype\s+html|html|head|body|title)\b", head, re.IGNORECASE):
        return None
    import html

    title = re.search(r"<title\b[^>]*>(.*?)</title\s*>", head, re.IGNORECASE | re.DOTALL)
    if title and title.group(1).strip():
        return html.unescape(title.group(1))
    markup = r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>"
    return html.unescape(re.sub(markup, " ", head, flags=re.IGNORECASE | re.DOTALL))


def _field_error(item: JSON) -> Optional[str]:
    """One entry of a FastAPI validation error (HTTP 422), ``{"loc": ["body", "payload", "to"],
    "msg": "Field required"}``, as ``body.payload.to: Field required``: which field failed."""
    if not isinstance(item, dict):
        return None
    loc, msg = item.get("loc"), item.get("msg")
    if not (isinstance(loc, list) and loc and isinstance(msg, str) and msg):
        return None
    path = ".".join(str(part) for part in loc[:10] if isinstance(part, (str, int)))
    return _snippet("%s: %s" % (path, msg)) if path else None


def _json_text(value: JSON) -> str:
    try:
        return _snippet(json.dumps(value))
    except (TypeError, ValueError, RecursionError):
        return type(value).__name__


def _retry_hint(headers: Mapping[str, str]) -> Optional[float]:
    """Seconds the server asked us to wait (retry-after-ms, Retry-After in seconds or as an
    HTTP date, X-RateLimit-Reset as epoch or delta seconds), or None."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - _clock.time())
            except (TypeError, ValueError, IndexError, OverflowError):
                pass
    value = headers.get("x-ratelimit-reset")
    if value:
        try:
            reset = float(value)
        except ValueError:
            return None
        return max(0.0, reset - _clock.time() if reset > 1e9 else reset)
    return None


def _env(name: str) -> Optional[str]:
    """An environment variable, lower-case spelling first; an empty value counts as unset."""
    return os.environ.get(name.lower()) or os.environ.get(name.upper()) or None


def _bypasses_proxy(host: str, port: int, no_proxy: str) -> bool:
    host = host.lower().strip("[]")
    for entry in no_proxy.replace(" ", ",").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        entry_port = None
        if entry.count(":") == 1 or (entry.startswith("[") and "]:" in entry):
            entry, _, port_text = entry.rpartition(":")
            entry_port = int(port_text) if port_text.isdigit() else None
        if entry_port is not None and entry_port != port:
            continue
        entry = entry.strip("[]")
        if entry.startswith("*."):
            entry = entry[1:]
        if "/" in entry or entry[:1].isdigit() or ":" in entry:
            import ipaddress

            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                network = None  # not an address: a name such as 1password.com, matched below
            if network is not None:
                try:
                    if ipaddress.ip_address(host) in network:
                        return True
                except ValueError:
                    pass
                continue
        entry = entry.lstrip(".")
        if host == entry or host.endswith("." + entry):
            return True
    return False


class _Proxy:
    __slots__ = ("host", "port", "headers")

    def __init__(self, url: str) -> None:
        # The user info is everything up to the last "@": a password may hold an unencoded
        # "/" or "@", which urlsplit would take for the start of a path. Errors never show it.
        scheme, separator, rest = url.partition("://")
        if not separator:
            scheme, rest = "http", url
        userinfo, at, address = rest.rpartition("@")
        shown = "%s://%s%s" % (scheme, "***@" if at else "", address)
        try:
            parts = urlsplit("http://" + address)
            port = parts.port
        except ValueError:
            parts, port = None, -1
        if (
            scheme.lower() != "http"
            or parts is None
            or not parts.hostname
            or (port is not None and not 0 < port < 65536)
            or _has_blank_or_control(url)
        ):
            raise ValueError("proxy must be an http:// URL such as http://proxy.example:3128, got %r" % shown)
        self.host = parts.hostname
        self.port = port or 80
        self.headers: Dict[str, str] = {}
        if at:
            user, _, password = userinfo.partition(":")
            credentials = "%s:%s" % (unquote(user), unquote(password))
            self.headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(parts.netloc, parts.netloc.rpartition("@")[2], 1) if "@" in parts.netloc else url


def _has_blank_or_control(text: str) -> bool:
    return any(char.isspace() or not char.isprintable() for char in text)


def _secret_forms(secret: str) -> List[str]:
    """The forms in which a secret may come back: as is, percent-encoded (in a URL),
    JSON-escaped (in a body), as a Python repr (in an exception's message) and base64 (in a
    Basic credential). Shorter than 4 characters, a secret is not redacted: it would mangle
    every message."""
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret)[1:-1]}
    try:
        raw = secret.encode("utf-8")
        forms.update((quote(secret, safe=""), quote(secret), quote_plus(secret), repr(raw)[2:-1]))
    except UnicodeEncodeError:  # a lone surrogate: no URL or bytes form
        raw = secret.encode("utf-8", "surrogatepass")
    forms.add(base64.b64encode(raw).decode("ascii").rstrip("="))
    forms.add(base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="))
    return [form for form in forms if len(form) >= 4] if len(secret) >= 4 else []


def _is_credential_header(name: str) -> bool:
    name = name.lower()
    return name in _CREDENTIAL_HEADERS or any(word in name for word in _CREDENTIAL_WORDS)


def _header_secrets(headers: Mapping[str, Any]) -> List[str]:
    """The secrets in the credential headers of ``headers``: each value, and the credentials
    after its auth scheme ("Bearer <token>"), decoded too for Basic ("user:password")."""
    secrets: List[str] = []
    for name, value in headers.items():
        if not isinstance(value, str) or not _is_credential_header(name):
            continue
        secrets.append(value)
        scheme, _, credentials = value.partition(" ")
        credentials = credentials.strip()
        if credentials and scheme.isalpha():
            secrets.append(credentials)
            if scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
                except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
                    continue
                secrets += [decoded, decoded.partition(":")[2]]
    return secrets


def _call_secrets(secrets: Sequence[str], headers: Mapping[str, str]) -> Tuple[str, ...]:
    """A call's own secrets and those of the headers it sent; worked out only when an error
    or a log record needs them, not on every request."""
    return tuple(secrets) + tuple(_header_secrets(headers))


def _redact_data(data: JSON, redact: Callable[[str], str]) -> JSON:
    """A copy of ``data`` (parsed JSON) with every string in it redacted, keys included,
    built without recursion: an error body may be nested thousands deep."""
    if isinstance(data, str):
        return redact(data)
    if not isinstance(data, (dict, list)):
        return data
    root: Any = {} if isinstance(data, dict) else []
    stack: List[Tuple[Any, Any]] = [(data, root)]
    while stack:
        source, target = stack.pop()
        for key, value in source.items() if isinstance(source, dict) else enumerate(source):
            if isinstance(value, str):
                value = redact(value)
            elif isinstance(value, (dict, list)):
                copy: Any = {} if isinstance(value, dict) else []
                stack.append((value, copy))
                value = copy
            if isinstance(target, dict):
                target[redact(key) if isinstance(key, str) else key] = value
            else:
                target.append(value)
    return root


def _close_idle(
    idle: Dict[Tuple[str, str, int], List[Tuple[http.client.HTTPConnection, float]]], lock: threading.Lock
) -> None:
    """Close the pooled connections in ``idle`` (emptied in place: the dict is shared with a
    finalizer)."""
    with lock:
        connections = [conn for stack in idle.values() for conn, _ in stack]
        idle.clear()
    for conn in connections:
        conn.close()


# What weakref.finalize and weakref.WeakSet do, built on the C-level _weakref and atexit: the
# weakref module's import alone is about 4% of a cold start (import and construct a client).
# Each live weak reference, by id, with the cleanup to run once when its object is collected,
# or at exit if it is still alive then.
_CLEANUPS: Dict[int, Tuple["_weakref.ReferenceType[Any]", Callable[[], None]]] = {}


def _run_cleanups_at_exit() -> None:
    while _CLEANUPS:
        _, (_, cleanup) = _CLEANUPS.popitem()
        cleanup()


def _on_collect(owner: Any, cleanup: Callable[[], None]) -> Callable[[], None]:
    """Run ``cleanup`` once, when ``owner`` is collected or at exit; returns a function that
    cancels it. ``cleanup`` must not refer to ``owner`` (it would keep it alive)."""
    if not _CLEANUPS:
        atexit.register(_run_cleanups_at_exit)  # registering twice is harmless: it finds none left

    def collected(ref: "_weakref.ReferenceType[Any]") -> None:
        entry = _CLEANUPS.pop(id(ref), None)
        if entry is not None:
            entry[1]()

    def cancel() -> None:
        _CLEANUPS.pop(id(ref), None)

    ref = _weakref.ref(owner, collected)
    _CLEANUPS[id(ref)] = (ref, cleanup)
    return cancel


# Objects whose state must not cross os.fork(): each has ``_after_fork``, run in the child.
_FORK_AWARE: Dict[int, "_weakref.ReferenceType[Any]"] = {}


def _reset_after_fork() -> None:
    for ref in list(_FORK_AWARE.values()):
        owner = ref()
        if owner is not None:
            owner._after_fork()


def _watch_fork(owner: Any) -> None:
    """Have ``owner._after_fork()`` run in a child process after os.fork() (gunicorn
    --preload, Celery, multiprocessing), before any other code of the child runs."""
    ref = _weakref.ref(owner, lambda ref: _FORK_AWARE.pop(id(ref), None))
    _FORK_AWARE[id(ref)] = ref


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no os.fork
    os.register_at_fork(after_in_child=_reset_after_fork)


def _clear_url_caches() -> None:
    import urllib.parse

    clear = getattr(urllib.parse, "clear_cache", None)  # in every Python 3, but undocumented
    if clear is not None:
        clear()


def _connection_dropped(conn: http.client.HTTPConnection) -> bool:
    """True if an idle pooled connection is unusable: closed, or readable (EOF, or bytes the
    server sent unasked), which means the server has closed or is closing it."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):  # select.select fails on descriptors above FD_SETSIZE
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _split_url(url: str) -> Tuple[Tuple[str, str, int], str, str]:
    """(origin, request target, netloc) of a URL (cached per transport: ``_Transport.split``)."""
    parts = urlsplit(url)
    scheme = parts.scheme
    port = parts.port or (443 if scheme == "https" else 80)
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    return (scheme, parts.hostname or "", port), target, parts.netloc


def _time_left(deadline: float) -> float:
    """Seconds until ``deadline``; a timeout if it has passed."""
    left = deadline - _clock.monotonic()
    if left <= 0:
        raise socket.timeout("timed out")
    return left


def _read_piece(response: http.client.HTTPResponse, amount: int, delivered: bool = False) -> bytes:
    """Up to ``amount`` bytes of the body; b"" at its end. ``delivered``: part of the body
    has gone to a sink already, so that the call cannot be sent again."""
    try:
        return response.read(amount)
    except (OSError, http.client.HTTPException) as exc:
        raise _Failure(
            _describe(exc, "while reading the response body"),
            exc,
            sent=True,
            before_response=False,
            retryable=not isinstance(exc, socket.timeout) and not delivered,
        ) from exc


def _stream_body(response: http.client.HTTPResponse, sink: Callable[[bytes], None]) -> bytes:
    """Hand the body to ``sink`` in chunks of at most ``_STREAM_CHUNK`` bytes; once it has
    taken one, the call cannot be sent again. Returns b"" (the body is the sink's)."""
    delivered = False
    while True:
        chunk = _read_piece(response, _STREAM_CHUNK, delivered)
        if not chunk:
            break
        sink(chunk)
        delivered = True
    _check_complete(response, delivered)
    return b""


def _check_complete(response: http.client.HTTPResponse, delivered: bool = False) -> None:
    """Refuse a body that ended before its announced length: ``read(amount)`` returns b"" at
    a premature end instead of raising IncompleteRead."""
    missing = response.length
    if missing:
        raise _Failure(
            "connection closed %d bytes before the end of the body" % missing,
            http.client.IncompleteRead(b"", missing),
            sent=True,
            before_response=False,
            retryable=not delivered,
        )


def _too_large(limit: int) -> _Failure:
    reason = "response body larger than %d bytes (max_response_bytes)" % limit
    return _Failure(reason, http.client.HTTPException(reason), sent=True, before_response=False, retryable=False)


def _should_retry(
    attempt: int,
    max_retries: int,
    idempotent: bool,
    status: Optional[int] = None,
    failure: Optional[_Failure] = None,
    hint: Optional[float] = None,
) -> bool:
    """Whether attempt number ``attempt`` (from 1), which failed (``failure``) or was
    answered ``status`` (with the server's retry ``hint`` in seconds, if any), may be sent
    again. An idempotent request may always be retried after a retryable failure or status.
    Any other (a write) only when the server cannot have processed it: a failure before the
    whole request left, 429 (a rate limit refuses before doing anything), or 503 with a
    retry hint (the server says it did not process it, and when to come back)."""
    if attempt > max_retries:
        return False
    if failure is not None:
        return failure.retryable and (idempotent or not failure.sent)
    if status not in _RETRY_STATUSES:
        return False
    return idempotent or status == 429 or (status == 503 and hint is not None)


def _sleep_time(attempt: int, hint: Optional[float] = None) -> float:
    """Seconds to wait before sending attempt ``attempt + 1``: the server's ``hint`` (up to
    ``_MAX_RETRY_WAIT``), else an exponential backoff with jitter, so that many clients
    failing at once do not all come back in step."""
    if hint is not None:
        return min(hint, _MAX_RETRY_WAIT)
    delay = min(_BACKOFF_CAP, _BACKOFF_BASE * 2.0 ** (attempt - 1))
    return delay * (0.5 + _clock.random() / 2)


class _Transport:
    """Sends requests with keep-alive, proxies, TLS, deadlines, redirects and retries.

    ``request`` is the only way out to the network. It returns a ``_Response`` with a 2xx
    or 3xx status, and raises ``error_class`` for anything else.
    """

    def __init__(
        self,
        *,
        error_class: Callable[..., Exception],
        logger_name: str,
        logger: Optional["logging.Logger"] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
        ca_bundle: Optional[str] = None,
        proxy: Union[str, bool, None] = None,
        write_idle_limit: float = _WRITE_IDLE_LIMIT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if ssl_context is not None and ca_bundle is not None:
            raise ValueError("pass ssl_context or ca_bundle, not both")
        if ca_bundle is not None and not os.path.exists(ca_bundle):
            raise ValueError("ca_bundle %r does not exist" % (ca_bundle,))
        self._secrets: List[str] = []  # forms of the registered secrets, longest first
        self._rotating: List[List[str]] = []  # forms of each rotating secret, the newest last
        self._lock = _thread.allocate_lock()
        if isinstance(proxy, str) and proxy:
            self.add_header_secrets(_Proxy(proxy).headers)  # validated now, not on the first call
        if (
            isinstance(write_idle_limit, bool)
            or not isinstance(write_idle_limit, (int, float))
            or not 0 <= write_idle_limit <= _WRITE_IDLE_CAP
        ):
            raise ValueError(
                "write_idle_limit must be a number of seconds from 0 to %g, got %r"
                % (_WRITE_IDLE_CAP, write_idle_limit)
            )
        self.write_idle_limit = float(write_idle_limit)
        if isinstance(max_response_bytes, bool) or not isinstance(max_response_bytes, int) or max_response_bytes < 1:
            raise ValueError("max_response_bytes must be an integer >= 1, got %r" % (max_response_bytes,))
        self._max_response_bytes = max_response_bytes
        self.error_class = error_class
        self._logger_name = logger_name
        self._logger = logger
        self._ssl_context = ssl_context
        self._ca_bundle = ca_bundle
        self._proxy_setting = proxy
        self._proxies: Dict[Tuple[str, str, int], Optional[_Proxy]] = {}
        # Idle connections per origin, each with the _clock.monotonic() until which it may
        # carry a write.
        self._idle: Dict[Tuple[str, str, int], List[Tuple[http.client.HTTPConnection, float]]] = {}
        self._urls: Dict[str, Tuple[Tuple[str, str, int], str, str]] = {}  # split URLs: see split
        # A client dropped without close(): its idle connections are closed when it is
        # collected (or at exit), not left to the sockets' finalizers (ResourceWarning).
        self._cancel_cleanup = _on_collect(self, functools.partial(_close_idle, self._idle, self._lock))
        _watch_fork(self)
        # urllib.parse keeps the URLs it split in a process-wide cache (Python 3.11+: the last
        # 128), tokens in paths included: a client takes its URLs away with it.
        _on_collect(self, _clear_url_caches)
        self.closed = False

    def _after_fork(self) -> None:
        """In a child process: the pooled connections are the parent's (both would read each
        other's answers), so the child forgets them, closing only its own copies of their
        descriptors (no TLS close_notify, no shutdown: the parent's stay intact); the lock is
        new, as another thread of the parent may have held it at the fork."""
        self._cancel_cleanup()
        idle, self._idle = self._idle, {}
        self._lock = _thread.allocate_lock()
        self._cancel_cleanup = _on_collect(self, functools.partial(_close_idle, self._idle, self._lock))
        for stack in idle.values():
            for conn, _ in stack:
                conn.close()

    # -- configuration -----------------------------------------------------------------------

    def add_secret(self, secret: Optional[str], *, rotating: bool = False) -> None:
        """Register a value that must never appear in an error or a log record, in any of its
        forms (``_secret_forms``). A ``rotating`` secret (an access token) is one of a series:
        only the newest ``_ROTATING_SECRETS`` of them are kept."""
        forms = _secret_forms(secret) if isinstance(secret, str) else []
        if not forms:
            return
        with self._lock:  # copy on write: redact() reads the lists without the lock
            if rotating:
                self._rotating = (self._rotating + [forms])[-_ROTATING_SECRETS:]
            elif not set(forms) <= set(self._secrets):
                self._secrets = sorted(set(self._secrets).union(forms), key=len, reverse=True)

    def add_header_secrets(self, headers: Mapping[str, Any]) -> None:
        """Register the credentials in ``headers`` (see ``_header_secrets``)."""
        for secret in _header_secrets(headers):
            self.add_secret(secret)

    def redact(self, text: str, extra: Sequence[str] = ()) -> str:
        """``text`` without the registered secrets, nor the ``extra`` ones (a call's own)."""
        forms = self._secrets + [form for forms in self._rotating for form in forms]
        if extra:
            forms += [form for secret in extra for form in _secret_forms(secret)]
            forms.sort(key=len, reverse=True)  # a longer secret may contain a shorter one
        for form in forms:
            if form in text:
                text = text.replace(form, _REDACTED)
        return text

    def split(self, url: str) -> Tuple[Tuple[str, str, int], str, str]:
        """``_split_url(url)``, cached here rather than process-wide: URLs may hold tokens,
        and the cache goes with the client."""
        split = self._urls.get(url)
        if split is None:
            split = _split_url(url)
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            self._urls[url] = split
        return split

    def _debug_logger(self) -> Optional["logging.Logger"]:
        """The client's logger if it records debug messages, else None: callers build a
        record's text (redacting it costs time) only when it will be recorded. The logging
        module is not imported here: importing it costs more than importing this module, and
        if the application never imported it, nothing can have been set up to receive records."""
        logger = self._logger
        if logger is None:
            logging = sys.modules.get("logging")
            if logging is None:
                return None
            logger = self._logger = logging.getLogger(self._logger_name)
        return logger if logger.isEnabledFor(10) else None  # 10: logging.DEBUG

    def _log(self, method: str, url: str, sent: Tuple[Sequence[str], Mapping[str, str]], text: str, *args: Any) -> None:
        """Log "METHOD URL" then ``text % args`` at debug level, the URL and every text
        argument redacted with the call's secrets (``sent``: see ``_call_secrets``), as a URL
        can hold a token too (in a query or a path)."""
        logger = self._debug_logger()
        if logger is not None:
            secrets = _call_secrets(*sent)
            shown = [_bounded(self.redact(arg, secrets)) if isinstance(arg, str) else arg for arg in args]
            logger.debug("%s %s" + text, method, self.redact(url, secrets), *shown)

    def ssl_context(self) -> ssl.SSLContext:
        # Built on first use: loading the CA store costs tens of milliseconds of CPU.
        if self._ssl_context is None:
            with self._lock:
                if self._ssl_context is None:
                    self._ssl_context = ssl.create_default_context(cafile=self._ca_bundle)
        return self._ssl_context

    def _proxy_for(self, scheme: str, host: str, port: int) -> Optional[_Proxy]:
        key = (scheme, host, port)
        if key not in self._proxies:
            setting = self._proxy_setting
            if setting is None:  # from the environment, like curl and urllib
                setting = _env(scheme + "_proxy") or _env("all_proxy")
                if scheme == "http" and os.environ.get("REQUEST_METHOD"):
                    setting = os.environ.get("http_proxy") or _env("all_proxy")  # httpoxy: CGI sets HTTP_PROXY
                if setting and _bypasses_proxy(host, port, _env("no_proxy") or ""):
                    setting = None
            proxy = _Proxy(setting) if isinstance(setting, str) and setting else None
            if proxy is not None:
                self.add_header_secrets(proxy.headers)
            self._proxies[key] = proxy
        return self._proxies[key]

    # -- connections -------------------------------------------------------------------------

    def _checkout(
        self, origin: Tuple[str, str, int], idempotent: bool, fresh: bool = False
    ) -> Tuple[http.client.HTTPConnection, bool]:
        """A connection to ``origin`` and whether it was used before (reused). A pooled one
        is skipped (closed) if the server has dropped it or, for a request that is not
        idempotent, if it idled past the time it may carry one (see ``_WRITE_IDLE_CAP``). A
        new one if there is none, or if ``fresh``."""
        now = _clock.monotonic()
        while True:
            with self._lock:
                stack = None if fresh else self._idle.get(origin)
                if not stack:
                    break
                pooled, writable_until = stack.pop()
            if (not idempotent and now > writable_until) or _connection_dropped(pooled):
                pooled.close()
                continue
            return pooled, True
        scheme, host, port = origin
        proxy = self._proxy_for(scheme, host, port)
        target_host, target_port = (proxy.host, proxy.port) if proxy else (host, port)
        if scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                target_host, target_port, context=self.ssl_context()
            )
            if proxy:
                conn.set_tunnel(host, port, headers=proxy.headers)
        else:
            conn = http.client.HTTPConnection(target_host, target_port)
        return conn, False

    def _checkin(
        self, origin: Tuple[str, str, int], conn: http.client.HTTPConnection, keep_alive: Optional[str] = None
    ) -> None:
        """Put ``conn`` back in the pool; ``keep_alive`` is the response's Keep-Alive header."""
        announced = _keep_alive_timeout(keep_alive)
        if announced is None:
            write_idle = self.write_idle_limit
        else:
            write_idle = min(announced - _KEEP_ALIVE_MARGIN, _WRITE_IDLE_CAP)
        with self._lock:
            if not self.closed:
                self._idle.setdefault(origin, []).append((conn, _clock.monotonic() + write_idle))
                return
        conn.close()

    def close(self) -> None:
        """Close idle connections now and refuse new calls; calls in flight finish (their
        connections close when they end)."""
        with self._lock:
            self.closed = True
        _close_idle(self._idle, self._lock)
        self._urls.clear()
        _clear_url_caches()  # see __init__

    # -- one attempt -------------------------------------------------------------------------

    def _send_once(
        self,
        method: str,
        url: str,
        headers: Dict[str, str],
        body: Optional[bytes],
        deadline: float,
        idempotent: bool,
        sink: Optional[Callable[[bytes], None]],
        attempt: int,
        sent: Tuple[Sequence[str], Mapping[str, str]],
    ) -> Tuple[int, str, http.client.HTTPMessage, bytes]:
        """One attempt (and, on a stale kept-alive connection, its re-send); ``sent`` is what
        the log record of a re-send is redacted with (``_call_secrets``)."""
        origin, target, netloc = self.split(url)
        scheme = origin[0]
        proxy = self._proxy_for(*origin)
        if proxy and scheme == "http":  # plain http through a proxy: absolute-form target
            target = "%s://%s%s" % (scheme, netloc, target)
            headers = dict(headers, **proxy.headers)
        conn, reused = self._checkout(origin, idempotent)
        started = _clock.monotonic()
        try:
            result = self._exchange(conn, origin, method, target, headers, body, deadline, reused, sink)
        except _Failure as failure:
            # A kept-alive connection the server closed while it sat idle fails before any
            # response byte arrives. The request was not processed if it failed while being
            # sent; for an idempotent one it is harmless either way: send it once more, at
            # once, on a new connection (the other idle ones to this origin are likely stale
            # too). This is no retry: the server never answered the first one.
            stale = reused and failure.before_response and (idempotent or not failure.sent)
            if not stale or _clock.monotonic() >= deadline:
                raise
            self._log(
                method,
                url,
                sent,
                " failed on a reused connection: %s (attempt %d, %.1f ms); sending it again on a new connection",
                failure.reason,
                attempt,
                (_clock.monotonic() - started) * 1000,
            )
            conn, reused = self._checkout(origin, idempotent, fresh=True)
            result = self._exchange(conn, origin, method, target, headers, body, deadline, reused, sink)
        if result[0] == 407 and proxy and scheme == "http":  # https: the tunnel's 407 is in _send
            raise _proxy_refusal(proxy, 407, http.client.HTTPException("HTTP 407 from the proxy"))
        return result

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        origin: Tuple[str, str, int],
        method: str,
        target: str,
        headers: Dict[str, str],
        body: Optional[bytes],
        deadline: float,
        reused: bool,
        sink: Optional[Callable[[bytes], None]],
    ) -> Tuple[int, str, http.client.HTTPMessage, bytes]:
        """One request and its response on ``conn``, in steps: connect (``_connect``), send
        the request and read the status and headers (``_send``), read the body
        (``_read_body``) or stream it to ``sink`` (``_stream_body``), then return the
        connection to the pool (``_release``). Raises ``_Failure`` if no complete response
        came."""
        response: Optional[_DeadlineResponse] = None
        try:
            self._connect(conn, origin, deadline, reused)
            response = self._send(conn, origin, method, target, headers, body)
            # A sink takes a successful body chunk by chunk (a download larger than memory);
            # any other body is held in memory, so it is capped.
            if sink is not None and 200 <= response.status < 300:
                payload = _stream_body(response, sink)
            else:
                payload = self._read_body(response)
        except BaseException:
            # The one cleanup point. Whatever went wrong (a timeout, a broken answer, a body
            # too large, a sink that raised, an interrupt), the connection is in an unknown
            # state: part of the request may be unsent, part of the answer unread. Reused, it
            # would hand those leftover bytes to the next call as its answer, so it is closed.
            # After "Connection: close" the response alone holds the socket: it is closed
            # too, now rather than whenever the traceback that references it is freed.
            if response is not None:
                response.close()
            conn.close()
            raise
        self._release(origin, conn, response)
        return response.status, response.reason, response.msg, payload

    def _connect(
        self, conn: http.client.HTTPConnection, origin: Tuple[str, str, int], deadline: float, reused: bool
    ) -> None:
        """Open ``conn`` if it is new (TCP, a proxy's CONNECT, TLS) and give
        its socket the time left until ``deadline``."""
        # The response class reads within the deadline; it also reads a proxy's answer to
        # CONNECT, so it is set before connecting.
        conn.response_class = functools.partial(_DeadlineResponse, deadline=deadline)  # type: ignore[assignment]
        try:
            if not reused:
                conn.timeout = _time_left(deadline)
                conn.connect()
            conn.sock.settimeout(_time_left(deadline))  # what connecting left of it
        except (OSError, http.client.HTTPException) as exc:
            raise self._failure(exc, origin, sent=False) from exc

    def _send(
        self,
        conn: http.client.HTTPConnection,
        origin: Tuple[str, str, int],
        method: str,
        target: str,
        headers: Dict[str, str],
        body: Optional[bytes],
    ) -> _DeadlineResponse:
        """Send the request, then read the status line and headers of the response."""
        sent = False
        try:
            conn.request(method, target, body=body, headers=headers)
            sent = True
            return conn.getresponse()  # type: ignore[return-value]  # a _DeadlineResponse: see _connect
        except (OSError, http.client.HTTPException) as exc:
            raise self._failure(exc, origin, sent=sent) from exc

    def _failure(self, exc: BaseException, origin: Tuple[str, str, int], *, sent: bool) -> _Failure:
        """The ``_Failure`` for ``exc``, raised before any response: by connecting, sending
        or reading the status and headers. ``sent``: the whole request had left."""
        if isinstance(exc, ssl.SSLCertVerificationError):
            return _Failure(_describe_certificate_error(exc), exc, sent=False, before_response=True, retryable=False)
        proxy = None if sent or origin[0] != "https" else self._proxy_for(*origin)
        refused = _tunnel_status(exc) if proxy else None
        if proxy and refused is not None:  # the proxy refused to open the tunnel
            return _proxy_refusal(proxy, refused, exc)
        # A timeout means the deadline has passed: there is no time left to retry.
        return _Failure(
            _describe(exc), exc, sent=sent, before_response=True, retryable=not isinstance(exc, socket.timeout)
        )

    def _read_body(self, response: _DeadlineResponse) -> bytes:
        """Read the body into memory, capped at ``max_response_bytes``: a body of announced
        length is refused before it is read if the length passes the cap, and read in one
        piece otherwise; a body of unknown length (chunked, or until the server closes) is
        read in pieces and refused as soon as it, or the chunk being read, would pass it."""
        limit = self._max_response_bytes
        length = response.length
        if length is not None:
            if length > limit:
                raise _too_large(limit)
            body = _read_piece(response, length)
        else:
            chunks: List[bytes] = []
            received = 0
            while True:
                chunk = _read_piece(response, _STREAM_CHUNK)
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
                if received + (response.chunk_left or 0) > limit:  # chunk_left: the rest of a chunk
                    raise _too_large(limit)
            body = b"".join(chunks)
        _check_complete(response)
        return body

    def _release(
        self, origin: Tuple[str, str, int], conn: http.client.HTTPConnection, response: _DeadlineResponse
    ) -> None:
        """Put the connection back in the pool, unless the server closes it or sent bytes
        beyond the response (the next call would read them as its answer)."""
        if response.will_close or response.surplus:
            conn.close()
        else:
            self._checkin(origin, conn, response.getheader("keep-alive"))

    # -- the request -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        headers: Mapping[str, str],
        body: Optional[bytes] = None,
        timeout: float,
        max_retries: int,
        idempotent: Optional[bool] = None,
        sensitive: bool = False,
        error_class: Optional[Callable[..., Exception]] = None,
        sink: Optional[Callable[[bytes], None]] = None,
        deadline: Optional[float] = None,
        secrets: Sequence[str] = (),
    ) -> _Response:
        """Send one logical request: redirects on the same host are followed with the same
        method and body, and retries happen within ``timeout`` seconds in all, or by
        ``deadline`` (a ``_clock.monotonic()`` value) when the request is one step of a call
        that started earlier; errors still name ``timeout``.

        ``idempotent`` (default: by method) allows retries after the server may have got the
        request; otherwise only 429, 503 with a retry hint, and failures before the request
        left are retried. ``sensitive`` keeps the body out of error messages. ``sink``, if
        given, receives a 2xx body in chunks instead of ``_Response.body``. ``secrets`` (the
        call's own, e.g. a token in the URL) are redacted from its errors and log records, as
        are the credential headers it sends."""
        if deadline is None and self.closed:  # a new call; a step of a call in flight may go on
            raise RuntimeError("this client is closed")
        error_class = error_class or self.error_class
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        started = _clock.monotonic()
        deadline = min(started + timeout, deadline) if deadline is not None else started + timeout
        headers = dict(headers)
        _check_request(method, headers)
        sent = (secrets, headers)  # what a log record or an error of this call is redacted with
        attempt = 0
        redirects = 0
        while True:
            attempt += 1
            attempt_started = _clock.monotonic()
            failure: Optional[_Failure] = None
            try:
                status, reason, message, payload = self._send_once(
                    method, url, headers, body, deadline, idempotent, sink, attempt, sent
                )
            except _Failure as caught:
                failure = caught
            if failure is not None:  # handled here, not in the except block: see _RedactedCause
                elapsed = (_clock.monotonic() - attempt_started) * 1000
                self._log(method, url, sent, " failed: %s (attempt %d, %.1f ms)", failure.reason, attempt, elapsed)
                if _should_retry(attempt, max_retries, idempotent, failure=failure):
                    wait = _sleep_time(attempt)
                    if _clock.monotonic() + wait < deadline:
                        _clock.sleep(wait)
                        continue
                call_secrets = _call_secrets(*sent)
                error = self._failure_error(
                    error_class, operation, method, url, failure, timeout, attempt, idempotent, call_secrets
                )
                cause = _RedactedCause(failure.cause, functools.partial(self.redact, extra=call_secrets))
                del failure  # not left in this frame's locals either
                raise error from cause
            response = _Response(status, reason, message, payload, method, url, sent)
            elapsed = (_clock.monotonic() - attempt_started) * 1000
            self._log(method, url, sent, " -> %d (attempt %d, %.1f ms)", status, attempt, elapsed)
            if status in _REDIRECT_STATUSES and "location" in response.headers:
                url = self._redirect_target(error_class, operation, response, redirects, idempotent)
                redirects += 1
                attempt -= 1  # a redirect is not a retry
                continue
            hint = _retry_hint(response.headers) if status in _RETRY_STATUSES else None
            if _should_retry(attempt, max_retries, idempotent, status=status, hint=hint):
                wait = _sleep_time(attempt, hint)
                if _clock.monotonic() + wait < deadline:
                    self._log(method, url, sent, ": retrying in %.2f s after %d", wait, status)
                    _clock.sleep(wait)
                    continue
            if status >= 300:
                raise self.http_error(error_class, operation, response, sensitive)
            return response

    def _redirect_target(
        self,
        error_class: Callable[..., Exception],
        operation: str,
        response: _Response,
        redirects: int,
        idempotent: bool = True,
    ) -> str:
        location = response.headers["location"]
        status = "HTTP %d %s" % (response.status, response.reason)
        target = _redirect_url(response.url, location)
        if target is None:
            why = "%s with an invalid redirect Location %r, not followed" % (status, location)
            if not idempotent and response.status in (301, 302, 303):
                why += "; the request may have been processed"
            raise self.http_error(error_class, operation, response, True, summary=why)
        kind = _redirect_kind(response.url, target)
        if not idempotent and response.status in (301, 302, 303):
            # A write answered 301/302/303 was processed, as a Post/Redirect/Get server does,
            # before pointing at its result (often the same URL). Sending it again could run it
            # twice, and turning it into a GET would be another request: neither is done.
            why = "%s: the request may have been processed; not sent again to %s" % (status, target)
        elif not idempotent and redirects >= 1:
            # 307/308 ask for the same request elsewhere, so a write follows one; a second
            # means a loop, and the server may have run it already.
            why = "%s after a redirect: the request may have been processed; not sent again to %s" % (status, target)
        elif redirects >= _MAX_REDIRECTS:
            why = "more than %d redirects" % _MAX_REDIRECTS
        elif kind == "insecure":
            schemes = urlsplit(response.url).scheme, urlsplit(target).scheme or "another scheme"
            why = "redirect from %s to %s refused" % schemes
        elif kind == "other host":
            hosts = urlsplit(target).hostname, urlsplit(response.url).hostname
            why = "redirect to another host (%s) not followed: credentials stay with %s" % hosts
        else:
            return target
        raise self.http_error(error_class, operation, response, True, summary=why)

    def http_error(
        self,
        error_class: Callable[..., Exception],
        operation: str,
        response: _Response,
        sensitive: bool = False,
        summary: Optional[str] = None,
    ) -> Exception:
        """The error for ``response``: "HTTP <status> <reason>", or ``summary`` (what was
        wrong with a response whose status was fine), then the API's message."""
        # Redacted before the message is cut to a snippet: a secret straddling the cut
        # would leave its beginning behind.
        secrets = response.secrets()
        data = _redact_data(response.data(), functools.partial(self.redact, extra=secrets))
        detail = _api_message(data) if not (sensitive and isinstance(data, str)) else None
        if summary is None:
            text = "%s failed: HTTP %d %s" % (operation, response.status, response.reason)
        else:
            text = "%s failed: %s" % (operation, summary)
        if detail:
            text += ": " + detail
        text += " [%s %s" % (response.method, response.url)
        if response.request_id and summary is None:
            text += ", request id " + response.request_id
        text += "]"
        return self.error(
            error_class,
            text,
            secrets,
            status=response.status,
            data=data,
            detail=detail,
            method=response.method,
            url=response.url,
            request_id=response.request_id,
            headers=response.headers,
        )

    def error(
        self,
        error_class: Callable[..., Exception],
        message: str,
        secrets: Sequence[str] = (),
        *,
        status: Optional[int] = None,
        data: JSON = None,
        detail: Optional[str] = None,
        method: Optional[str] = None,
        url: Optional[str] = None,
        request_id: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> Exception:
        """An error of ``error_class`` with its attributes (see AltanActionError), every text
        in it redacted (the registered secrets and ``secrets``): the message, the URL, the
        API's message, the response body (a redacted copy) and the response headers. It
        pickles and unpickles to an equal error."""

        def redact(text: str) -> str:
            return self.redact(text, secrets)

        return error_class(
            _bounded(redact(message)),
            status_code=status,
            response_data=_redact_data(data, redact),
            detail=detail and redact(detail),
            method=method and redact(method),
            url=url and redact(url),
            request_id=request_id and redact(request_id),
            headers=None if headers is None else {redact(name): redact(value) for name, value in headers.items()},
        )

    def _failure_error(
        self,
        error_class: Callable[..., Exception],
        operation: str,
        method: str,
        url: str,
        failure: _Failure,
        timeout: float,
        attempts: int,
        idempotent: bool,
        secrets: Sequence[str] = (),
    ) -> Exception:
        if isinstance(failure.cause, socket.timeout):
            reason = "timed out after %g s" % timeout
        else:
            reason = failure.reason
        if failure.sent and not idempotent:
            reason += " (the request may have been processed; not retried)"
        elif attempts > 1:
            reason += " (after %d attempts)" % attempts
        if failure.proxy_status is not None:
            error_class = self.error_class  # the proxy refused: nothing to do with the API's credentials
        return self.error(
            error_class,
            "%s failed: %s [%s %s]" % (operation, reason, method, url),
            secrets,
            status=failure.proxy_status,
            method=method,
            url=url,
        )


def _describe_certificate_error(exc: ssl.SSLCertVerificationError) -> str:
    """What failed, with the advice that fits: only a certificate from an unknown CA is
    fixed by trusting that CA. (OpenSSL's X509_V_ERR_* codes.)"""
    text = "TLS certificate verification failed (%s), not retried" % (exc.verify_message or exc)
    code = exc.verify_code
    if code in (62, 64):  # HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH
        return text + "; the certificate does not match the host name in the URL (a CA bundle would not help)"
    if code in (9, 10):  # CERT_NOT_YET_VALID, CERT_HAS_EXPIRED
        return text + "; the certificate is outside its validity period (or this machine's clock is wrong)"
    if code in (2, 18, 19, 20, 21):  # issuer unknown, self-signed, no local issuer, cannot verify leaf
        return text + "; pass ca_bundle= or ssl_context= if the server uses a private CA"
    return text


def _redirect_url(url: str, location: str) -> Optional[str]:
    """The absolute URL a redirect's Location points to from ``url``, or None if it is not
    one that can be requested. Header values arrive as Latin-1: a UTF-8 path is sent on
    percent-encoded, as browsers do, where http.client would refuse it half-way."""
    encoded = "".join(
        c if c < "\x80" else quote(c, safe="", encoding="latin-1" if c <= "\xff" else "utf-8") for c in location
    )
    try:
        target = urljoin(url, encoded)
        urlsplit(target).port  # noqa: B018 - raises for a port out of range or not a number
    except ValueError:  # that, or an unclosed [IPv6 address
        return None
    if any(c <= " " or c == "\x7f" for c in target):  # blanks and controls: not a URL
        return None
    return target


def _redirect_kind(url: str, target: str) -> str:
    """What a redirect from ``url`` to ``target`` is: "insecure" (to a scheme other than http
    and https, or from https down to http), "other host" (credentials must not follow it), or
    "same origin" (the same host and port, or the same host upgraded from http to https)."""
    old, new = urlsplit(url), urlsplit(target)
    if new.scheme not in ("http", "https") or (old.scheme == "https" and new.scheme != "https"):
        return "insecure"
    same_host = (old.hostname, old.port or (443 if old.scheme == "https" else 80)) == (
        new.hostname,
        new.port or (443 if new.scheme == "https" else 80),
    )
    upgrade = old.scheme == "http" and new.scheme == "https" and old.hostname == new.hostname
    return "same origin" if same_host or upgrade else "other host"


def _describe(exc: BaseException, where: str = "") -> str:
    if isinstance(exc, socket.timeout):
        text = "timed out"
    elif isinstance(exc, ConnectionRefusedError):
        text = "connection refused"
    elif isinstance(exc, socket.gaierror):
        text = "could not resolve host (%s)" % (exc.strerror or exc)
    elif isinstance(exc, http.client.RemoteDisconnected):
        text = "server closed the connection without a response"
    elif isinstance(exc, _ProtocolError):
        text = "invalid response: %s" % exc
    elif isinstance(exc, http.client.BadStatusLine):
        text = "invalid response: status line %r" % (exc.args[0] if exc.args else "",)
    elif isinstance(exc, http.client.UnknownProtocol):
        text = "invalid response: unknown protocol %r" % (exc.args[0] if exc.args else "",)
    else:
        text = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
    return text + (" " + where if where else "")


def _segment(name: str, value: Any) -> str:
    """One path segment, percent-encoded so that it can never become two, or climb up."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("%s must be a non-empty string, got %r" % (name, value))
    if value in (".", ".."):
        raise ValueError("%s must not be %r" % (name, value))
    try:
        return quote(value, safe="")
    except UnicodeEncodeError:
        raise ValueError("%s is not valid Unicode text: %r" % (name, value)) from None


def _credential(name: str, value: Any) -> str:
    """A key or token sent in a header: printable ASCII without spaces, or the first call
    would fail half-way through sending."""
    if not isinstance(value, str) or not value:
        raise ValueError("%s must be a non-empty string" % name)
    if not (value.isascii() and value.isprintable()) or " " in value:
        raise ValueError("%s must be printable ASCII without spaces" % name)
    return value


def _encode_json(name: str, value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError("%s is not JSON-serialisable: %s" % (name, exc)) from None


def _check_url(name: str, url: str) -> "SplitResult":
    """``url`` split, if it is an http:// or https:// URL with a host, a port from 1 to 65535
    if any, no user info (not even an empty user name) and no blank or control character.
    Errors show the URL without its user info, query or fragment (where a token may be)."""
    shown = _strip_userinfo(url).partition("#")[0].partition("?")[0]
    if _has_blank_or_control(url):
        raise ValueError("%s must not contain blanks or control characters: %r" % (name, shown))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("%s must be an http:// or https:// URL, got %r" % (name, shown))
    if "@" in parts.netloc:
        raise ValueError("%s must not contain credentials (user info): %r" % (name, shown))
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        raise ValueError("%s has an invalid port: %r" % (name, shown))
    return parts


def _check_base_url(base_url: str) -> str:
    if not isinstance(base_url, str):
        raise ValueError("base_url must be a string, got %r" % (base_url,))
    base_url = base_url.strip()  # a stray newline from an environment file is forgiven
    parts = _check_url("base_url", base_url)
    if parts.query or parts.fragment:
        shown = base_url.partition("#")[0].partition("?")[0]
        raise ValueError("base_url must not have a query or fragment (not shown): %r" % (shown,))
    return base_url.rstrip("/")


def _check_timeout(timeout: Any) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise ValueError("timeout must be a positive number of seconds, got %r" % (timeout,))
    return float(timeout)


def _check_retries(max_retries: Any) -> int:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError("max_retries must be an integer >= 0, got %r" % (max_retries,))
    return max_retries


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _check_header(name: Any, value: Any) -> None:
    """Refuse, before any I/O, a header that http.client cannot send whole: it would raise
    half-way through a request (with the value, perhaps a token, in its message) and leave
    the connection unusable. The value is never quoted in the error."""
    if not isinstance(name, str) or not name or not set(name) <= _TOKEN_CHARS:
        raise ValueError("header name %r cannot be sent" % (name,))
    if isinstance(value, str):
        if "\r" in value or "\n" in value or "\0" in value:
            raise ValueError("header %s cannot be sent: its value has a line break or a NUL" % name)
        try:
            value.encode("latin-1")  # what http.client sends
        except UnicodeEncodeError:
            raise ValueError("header %s cannot be sent: its value has characters beyond Latin-1" % name) from None


def _check_request(method: str, headers: Mapping[str, Any]) -> None:
    """Refuse, before any I/O, a method that is not a known one (a method is sent verbatim in
    the request line) and any header ``_check_header`` refuses."""
    if method not in _METHODS:
        raise ValueError("method must be one of %s, got %r" % (", ".join(sorted(_METHODS)), method))
    for name, value in headers.items():
        _check_header(name, value)


def _with_headers(base: Mapping[str, str], extra: Optional[Mapping[str, str]]) -> Dict[str, str]:
    """``base`` plus ``extra``, checked now (``_check_header``); an extra header replaces a
    base one whatever its case."""
    merged = dict(base)
    if extra is not None and not isinstance(extra, _Mapping):
        raise ValueError("headers must be a mapping of names to values, got %s" % type(extra).__name__)
    for name, value in (extra or {}).items():
        if not isinstance(value, str):
            raise ValueError("header %r must be a string" % (name,))
        _check_header(name, value)
        for existing in [key for key in merged if key.lower() == name.lower()]:
            del merged[existing]
        merged[name] = value
    return merged


if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from typing import TypeVar

    _T = TypeVar("_T")  # what a call run in a thread returns


class _AsyncRunner:
    """Runs blocking calls in threads owned by one async client. A private pool, not the
    loop's default executor: that one has min(32, cpu + 4) threads (6 on a 2-core Lambda)
    and is shared with everything else in the process."""

    def __init__(self, max_workers: int, thread_name_prefix: str) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError("max_workers must be an integer >= 1, got %r" % (max_workers,))
        self._max_workers = max_workers
        self._prefix = thread_name_prefix
        self._executor: Optional["concurrent.futures.ThreadPoolExecutor"] = None
        self._in_flight: "set[asyncio.Future[Any]]" = set()
        self._lock = _thread.allocate_lock()
        self.closed = False
        _watch_fork(self)

    def _after_fork(self) -> None:
        """In a child process: the parent's worker threads do not exist here; new ones start
        as needed."""
        self._executor = None
        self._in_flight = set()
        self._lock = _thread.allocate_lock()

    async def run(self, function: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:  # "/": any keyword may pass
        import asyncio

        if self.closed:
            raise RuntimeError("this client is closed")
        executor = self._executor
        if executor is None:
            with self._lock:
                if self._executor is None:
                    from concurrent.futures import ThreadPoolExecutor

                    self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix=self._prefix)
                executor = self._executor
        future = asyncio.get_running_loop().run_in_executor(executor, functools.partial(function, *args, **kwargs))
        # Removed when this coroutine resumes (or is cancelled), not by a done callback:
        # a callback is one more turn of the event loop for every call.
        in_flight = self._in_flight
        in_flight.add(future)
        try:
            return await future
        finally:
            in_flight.discard(future)

    async def close(self) -> None:
        """Wait for calls in flight (each bounded by its timeout), then stop the threads."""
        import asyncio

        self.closed = True
        if self._in_flight:
            await asyncio.wait(set(self._in_flight))
        if self._executor is not None:
            # A call whose await was cancelled still runs in its thread until its own timeout:
            # wait for it off the event loop, which must not block.
            executor, self._executor = self._executor, None
            await asyncio.get_running_loop().run_in_executor(None, functools.partial(executor.shutdown, wait=True))


# ---- shared transport: end ----


if __name__ == "__main__":
    sys.exit(main())
