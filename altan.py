"""Client for the Altan Actions API, in one file, standard library only.

Copy this file into a project (or install the distribution) and call the API::

    from altan import AltanActionsClient

    client = AltanActionsClient(api_key="your-api-key")
    result = client.execute_action(
        connection_id="abc123",
        action_type_id="send-email",
        payload={"to": "someone@example.com", "subject": "Hi", "body": "Hello"},
    )
    if result.get("status") == "success":
        print(result["result"])

``AsyncAltanActionsClient`` has the same methods as coroutines: they run the
sync code in worker threads that the client owns.

What the client guarantees (README.md has the details):
  * one kept-alive HTTPS connection reused per host and thread, re-opened
    transparently when the server closed it while idle;
  * a total time limit on every call (90 s by default), retries included;
  * reads retried with capped, jittered backoff on 408/429/5xx and network
    errors, honouring Retry-After;
  * ``execute_action`` never sent twice by a retry: it is retried only when
    the server provably did not process it (connection refused, 429, or 503
    with Retry-After);
  * errors that carry status, API message, method, URL and request id, and
    never the API key.
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
import select
import socket
import ssl
import sys
import time
from collections.abc import Mapping as _Mapping  # for isinstance; annotations: typing.Mapping
from urllib.parse import quote, quote_plus, unquote, urljoin, urlsplit

# typing is imported for type checkers only: at run time it would add about a tenth to the
# cold start (import and construct a client), the number Lambda authors compare.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - imported for type checkers only, never at run time
    import asyncio
    import concurrent.futures
    import logging
    import threading
    from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union
    from urllib.parse import SplitResult

    JSON = Any  # a value decoded from JSON: dict, list, str, int, float, bool or None

__all__ = [
    "AltanActionsClient",
    "AsyncAltanActionsClient",
    "AltanActionError",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RESPONSE_BYTES",
]
__version__ = "0.1.0"

DEFAULT_BASE_URL = "https://api.altan.ai/integration"
DEFAULT_TIMEOUT = 90.0  # seconds for a whole call, retries included (Altan's own SDK uses 90 s)
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # cap on a response body held in memory (not a download)
_WRITE_IDLE_LIMIT = 1.0  # seconds a kept-alive connection may idle and still carry a write (see the transport)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class AltanActionError(Exception):
    """Any failure of an Altan API call: an HTTP error status, a network error, a timeout
    or a response that is not the JSON that was expected.

    Attributes (``None`` where they do not apply, e.g. ``status_code`` on a timeout):
    ``status_code``, ``response_data`` (the parsed error body, or its text; also
    ``response``), ``detail`` (the API's own message), ``method``, ``url``,
    ``request_id`` (if the server sent one) and ``headers`` (response headers,
    lower-case names). Neither the message nor any attribute, pickle or chained cause
    contains the API key or another credential (README: No secret leaks).
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

    def copy(self, error_class: Optional[Type["AltanActionError"]] = None) -> "AltanActionError":
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
    def response(self) -> JSON:
        return self.response_data


# The response shapes. Type checkers see TypedDicts. At run time the class statements below only
# record their (string) annotations, and the real TypedDicts are built, with typing, on first
# access (``from altan import ExecuteResult``; see ``__getattr__`` below).
if TYPE_CHECKING:  # pragma: no cover - imported for type checkers only
    from typing import TypedDict
else:
    _TYPE_SHAPES = {}  # name -> (annotations, total), in definition order

    class TypedDict:
        def __init_subclass__(cls, total=True):
            _TYPE_SHAPES[cls.__name__] = (cls.__dict__.get("__annotations__", {}), total)


class Connection(TypedDict, total=False):
    id: str
    name: str
    provider: str
    status: str
    account_id: str
    connection_type: Dict[str, Any]
    details: Dict[str, Any]
    is_active: bool


class ConnectionList(TypedDict, total=False):
    data: List[Connection]


class InputSchema(TypedDict, total=False):
    type: str
    properties: Dict[str, Dict[str, Any]]
    required: List[str]


class ActionType(TypedDict, total=False):
    id: str
    name: str
    description: str
    input_schema: InputSchema


class ActionTypeList(TypedDict, total=False):
    data: List[ActionType]


class ExecuteResult(TypedDict, total=False):
    status: str  # "success" or "error" (added from Altan's "success" flag when absent)
    result: Any
    error: Any
    success: bool
    data: Any


if not TYPE_CHECKING:
    for _name in _TYPE_SHAPES:  # undefined until __getattr__ builds them
        del globals()[_name]
    del TypedDict, _name
    _types_lock = _thread.allocate_lock()

    def __getattr__(name):
        """The response TypedDicts, built on first access (PEP 562: ``from altan import
        ExecuteResult``) with typing, which importing this module does not load (about a tenth of a
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
            for n in ("Any", "Callable", "Dict", "List", "Mapping", "Optional", "Tuple", "Type", "Union")
        }
        names.update(JSON=typing.Any, logging=logging, threading=threading)
        for type_name, (annotations, total) in _TYPE_SHAPES.items():
            names[type_name] = typing.TypedDict(type_name, dict(annotations), total=total)
        globals().update(names)


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


class AltanActionsClient:
    """Synchronous client for the Altan Actions API.

    ``api_key`` is sent as ``X-Altan-Key`` and as ``Authorization: Bearer`` (which of the
    two each Altan endpoint checks is not documented). ``base_url`` is used as given; the
    default is https (the Altan SDK README's ``http://`` default would send the key in clear).
    Left out, they are read from ``ALTAN_API_KEY`` and ``ALTAN_BASE_URL`` when the client
    is constructed.

    Options: ``timeout`` (seconds for a whole call, retries included), ``max_retries``
    (retries of reads; writes follow the write-safe rule), ``ssl_context`` or ``ca_bundle``
    (a private CA), ``proxy`` (an ``http://host:port`` URL, ``False`` for none; default:
    ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` from the environment), ``headers`` (sent
    on every call), ``logger`` (default: the ``altan`` logger, DEBUG records per call),
    ``write_idle_limit`` (seconds, default 1: a kept-alive connection idle for longer is not
    reused for ``execute_action`` unless the server announced a longer keep-alive timeout) and
    ``max_response_bytes`` (a larger response body is refused with ``AltanActionError``;
    default 32 MiB).

    Thread-safe; use ``with`` or call ``close()`` to release connections.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        ssl_context: Optional[ssl.SSLContext] = None,
        ca_bundle: Optional[str] = None,
        proxy: Union[str, bool, None] = None,
        headers: Optional[Mapping[str, str]] = None,
        logger: Optional["logging.Logger"] = None,
        write_idle_limit: float = _WRITE_IDLE_LIMIT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        api_key = _credential(
            "api_key (or ALTAN_API_KEY)", api_key if api_key is not None else os.environ.get("ALTAN_API_KEY")
        )
        self.base_url = _check_base_url(base_url or os.environ.get("ALTAN_BASE_URL") or DEFAULT_BASE_URL)
        self.timeout = _check_timeout(timeout)
        self.max_retries = _check_retries(max_retries)
        self._transport = _Transport(
            error_class=AltanActionError,
            logger_name="altan",
            logger=logger,
            ssl_context=ssl_context,
            ca_bundle=ca_bundle,
            proxy=proxy,
            write_idle_limit=write_idle_limit,
            max_response_bytes=max_response_bytes,
        )
        self._transport.add_secret(api_key)
        defaults = {
            "User-Agent": "altan-python/%s (stdlib; python %d.%d)" % (__version__, *sys.version_info[:2]),
            "Accept": "application/json",
            "X-Altan-Key": api_key,
            "Authorization": "Bearer " + api_key,
        }
        self._headers = _with_headers(defaults, headers)
        self._transport.add_header_secrets(self._headers)
        self._owns_transport = True

    def __repr__(self) -> str:
        return "AltanActionsClient(base_url=%r)" % (self.base_url,)

    def __enter__(self) -> "AltanActionsClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Release the connections. Idempotent. Calls in flight finish (their retries
        included); a call started later raises RuntimeError. On a ``with_options`` view it
        does nothing: the client it came from owns them."""
        if self._owns_transport:
            self._transport.close()

    def with_options(
        self,
        *,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> "AltanActionsClient":
        """A view of this client with other defaults, sharing its connections::

        client.with_options(timeout=5, max_retries=0).list_connections()
        """
        view = object.__new__(AltanActionsClient)
        view.__dict__.update(self.__dict__)
        view._owns_transport = False
        if timeout is not None:
            view.timeout = _check_timeout(timeout)
        if max_retries is not None:
            view.max_retries = _check_retries(max_retries)
        if headers:
            view._headers = _with_headers(self._headers, headers)
        return view

    # -- the one request function ------------------------------------------------------------

    def _call(
        self, method: str, path: str, operation: str, *, body: JSON = None, timeout: Optional[float] = None
    ) -> JSON:
        headers = self._headers
        payload = None
        if body is not None:
            payload = _encode_json("payload", body)
            headers = dict(headers, **{"Content-Type": "application/json"})
        response = self._transport.request(
            method,
            self.base_url + path,
            operation=operation,
            headers=headers,
            body=payload,
            timeout=_check_timeout(timeout) if timeout is not None else self.timeout,
            max_retries=self.max_retries,
        )
        if not response.body.strip():
            return {}
        try:
            return json.loads(response.body)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
            pass  # raised below, outside this block: the decoding error holds the whole body
        summary = "expected JSON, got " + response.headers.get("content-type", "a body")
        raise self._transport.http_error(AltanActionError, operation, response, summary=summary)

    # -- endpoints ---------------------------------------------------------------------------

    def list_connections(self, *, timeout: Optional[float] = None) -> ConnectionList:
        """``GET /connection``: the connections of the API key's account, ``{"data": [...]}``."""
        result: ConnectionList = self._call("GET", "/connection", "list connections", timeout=timeout)
        return result

    def get_connection(self, connection_id: str, *, timeout: Optional[float] = None) -> Connection:
        """``GET /connection/{connection_id}``: one connection."""
        path = "/connection/" + _segment("connection_id", connection_id)
        result: Connection = self._call("GET", path, "get connection", timeout=timeout)
        return result

    def list_action_types(self, connection_id: str, *, timeout: Optional[float] = None) -> ActionTypeList:
        """``GET /connection/{connection_id}/actions``: the action types of a connection."""
        path = "/connection/%s/actions" % _segment("connection_id", connection_id)
        result: ActionTypeList = self._call("GET", path, "list action types", timeout=timeout)
        return result

    def get_action_type(
        self, connection_id: str, action_type_id: str, *, timeout: Optional[float] = None
    ) -> ActionType:
        """``GET /connection/{connection_id}/actions/{action_type_id}``: one action type,
        with its ``input_schema`` where the API provides one."""
        path = "/connection/%s/actions/%s" % (
            _segment("connection_id", connection_id),
            _segment("action_type_id", action_type_id),
        )
        result: ActionType = self._call("GET", path, "get action type", timeout=timeout)
        return result

    def execute_action(
        self,
        connection_id: str,
        action_type_id: str,
        payload: Optional[Mapping[str, Any]] = None,
        *,
        timeout: Optional[float] = None,
    ) -> ExecuteResult:
        """``POST /connection/{connection_id}/actions/{action_type_id}/execute`` with body
        ``{"payload": payload}``. Never retried once the server may have received it.

        Returns the response as sent, plus, when the server answers Altan's
        ``{"success": bool, "data": ...}``, the README's keys: ``status`` (``"success"`` or
        ``"error"``) and ``result`` or ``error``. A failure reported with HTTP 200 is
        returned, not raised; an HTTP error status raises ``AltanActionError``."""
        path = "/connection/%s/actions/%s/execute" % (
            _segment("connection_id", connection_id),
            _segment("action_type_id", action_type_id),
        )
        if payload is None:
            payload = {}
        if not isinstance(payload, _Mapping):
            raise ValueError("payload must be a mapping of parameter names to values, got %s" % type(payload).__name__)
        result: ExecuteResult = self._call(
            "POST", path, "execute action", body={"payload": dict(payload)}, timeout=timeout
        )
        if isinstance(result, dict) and isinstance(result.get("success"), bool) and "status" not in result:
            if result["success"]:
                result["status"] = "success"
                result.setdefault("result", result.get("data"))
            else:
                result["status"] = "error"
                result.setdefault("error", result.get("data"))
        return result


# ---------------------------------------------------------------------------------------------
# The async client
# ---------------------------------------------------------------------------------------------


class AsyncAltanActionsClient:
    """The same API as ``AltanActionsClient``, as coroutines.

    Each call runs the sync client's code in a thread of a pool this client owns
    (``max_workers`` threads, created as needed), so ``asyncio.gather`` runs calls
    concurrently and both clients share one tested code path. ``await client.close()``
    (or ``async with``) waits for calls in flight and releases threads and connections.
    """

    def __init__(
        self,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        ssl_context: Optional[ssl.SSLContext] = None,
        ca_bundle: Optional[str] = None,
        proxy: Union[str, bool, None] = None,
        headers: Optional[Mapping[str, str]] = None,
        logger: Optional["logging.Logger"] = None,
        write_idle_limit: float = _WRITE_IDLE_LIMIT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_workers: int = 64,
    ) -> None:
        self._client = AltanActionsClient(
            api_key,
            base_url,
            timeout=timeout,
            max_retries=max_retries,
            ssl_context=ssl_context,
            ca_bundle=ca_bundle,
            proxy=proxy,
            headers=headers,
            logger=logger,
            write_idle_limit=write_idle_limit,
            max_response_bytes=max_response_bytes,
        )
        self._runner = _AsyncRunner(max_workers, "altan-async")
        self._owns_runner = True

    @property
    def base_url(self) -> str:
        return self._client.base_url

    def __repr__(self) -> str:
        return "AsyncAltanActionsClient(base_url=%r)" % (self.base_url,)

    async def __aenter__(self) -> "AsyncAltanActionsClient":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Wait for calls in flight, then release threads and connections. Idempotent.
        On a ``with_options`` view it does nothing: the client it came from owns them."""
        if self._owns_runner:
            await self._runner.close()
            self._client.close()

    def with_options(
        self,
        *,
        timeout: Optional[float] = None,
        max_retries: Optional[int] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> "AsyncAltanActionsClient":
        """A view with other defaults, sharing threads and connections (see
        ``AltanActionsClient.with_options``)."""
        view = object.__new__(AsyncAltanActionsClient)
        view.__dict__.update(self.__dict__)
        view._owns_runner = False
        view._client = self._client.with_options(timeout=timeout, max_retries=max_retries, headers=headers)
        return view

    async def list_connections(self, *, timeout: Optional[float] = None) -> ConnectionList:
        return await self._runner.run(self._client.list_connections, timeout=timeout)

    async def get_connection(self, connection_id: str, *, timeout: Optional[float] = None) -> Connection:
        return await self._runner.run(self._client.get_connection, connection_id, timeout=timeout)

    async def list_action_types(self, connection_id: str, *, timeout: Optional[float] = None) -> ActionTypeList:
        return await self._runner.run(self._client.list_action_types, connection_id, timeout=timeout)

    async def get_action_type(
        self, connection_id: str, action_type_id: str, *, timeout: Optional[float] = None
    ) -> ActionType:
        return await self._runner.run(self._client.get_action_type, connection_id, action_type_id, timeout=timeout)

    async def execute_action(
        self,
        connection_id: str,
        action_type_id: str,
        payload: Optional[Mapping[str, Any]] = None,
        *,
        timeout: Optional[float] = None,
    ) -> ExecuteResult:
        return await self._runner.run(
            self._client.execute_action, connection_id, action_type_id, payload, timeout=timeout
        )


# ---------------------------------------------------------------------------------------------
# Command line: python -m altan COMMAND ... (or python altan.py on a vendored copy)
# ---------------------------------------------------------------------------------------------


def main(argv: Optional[List[str]] = None) -> int:
    """Check a key or make one call from a shell or a Lambda console. The key comes from
    ``ALTAN_API_KEY``; the result is printed as JSON; errors go to stderr with exit code 1
    (API or network) or 2 (usage)."""
    import argparse  # only for the command line: it would double the module's import time

    parser = argparse.ArgumentParser(
        prog="python -m altan",
        description="Call the Altan Actions API. The API key is read from ALTAN_API_KEY.",
        epilog='Example: python -m altan execute abc123 send-email \'{"to": "someone@example.com"}\'',
    )
    parser.add_argument("--base-url", help="API base URL (default: ALTAN_BASE_URL or %s)" % DEFAULT_BASE_URL)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per call (default: 90)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    commands.required = True
    commands.add_parser("connections", help="list the connections (also checks the key)")
    commands.add_parser("connection", help="get one connection").add_argument("connection_id")
    commands.add_parser("action-types", help="list the action types of a connection").add_argument("connection_id")
    action_type = commands.add_parser("action-type", help="get one action type, with its input schema")
    action_type.add_argument("connection_id")
    action_type.add_argument("action_type_id")
    execute = commands.add_parser("execute", help="execute an action with a JSON payload")
    execute.add_argument("connection_id")
    execute.add_argument("action_type_id")
    execute.add_argument("payload", nargs="?", default="{}", help="a JSON object, or - to read it from stdin")
    args = parser.parse_args(argv)

    api_key = os.environ.get("ALTAN_API_KEY")
    if not api_key:
        print("error: set ALTAN_API_KEY to your Altan API key", file=sys.stderr)
        return 2
    try:
        with AltanActionsClient(api_key, args.base_url, timeout=args.timeout) as client:
            result: Any
            if args.command == "connections":
                result = client.list_connections()
            elif args.command == "connection":
                result = client.get_connection(args.connection_id)
            elif args.command == "action-types":
                result = client.list_action_types(args.connection_id)
            elif args.command == "action-type":
                result = client.get_action_type(args.connection_id, args.action_type_id)
            else:
                text = sys.stdin.read() if args.payload == "-" else args.payload
                try:
                    payload = json.loads(text)
                except ValueError as exc:
                    raise ValueError("payload is not valid JSON: %s" % exc) from None
                result = client.execute_action(args.connection_id, args.action_type_id, payload)
    except AltanActionError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    except ValueError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


# ---- shared transport: begin (identical in altan.py and pipedream.py; tests/test_shared_transport.py checks) ----
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
