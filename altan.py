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
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit

# typing is imported for type checkers only: at run time it would add about a tenth to the
# cold start (import and construct a client), the number Lambda authors compare.
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - imported for type checkers only, never at run time
    import asyncio
    import concurrent.futures
    import logging
    import threading
    from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

    JSON = Any  # a value decoded from JSON: dict, list, str, int, float, bool or None

__all__ = [
    "AltanActionsClient",
    "AsyncAltanActionsClient",
    "AltanActionError",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_MAX_RETRIES",
]
__version__ = "0.1.0"

DEFAULT_BASE_URL = "https://api.altan.ai/integration"
DEFAULT_TIMEOUT = 90.0  # seconds for a whole call, retries included (Altan's own SDK uses 90 s)
DEFAULT_MAX_RETRIES = 2

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
            n: getattr(typing, n) for n in ("Any", "Callable", "Dict", "List", "Mapping", "Optional", "Tuple", "Union")
        }
        names.update(JSON=typing.Any, logging=logging, threading=threading)
        for type_name, (annotations, total) in _TYPE_SHAPES.items():
            names[type_name] = typing.TypedDict(type_name, dict(annotations), total=total)
        globals().update(names)


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
    lower-case names). The message never contains the API key.
    """

    status_code: Optional[int] = None
    response_data: JSON = None
    detail: Optional[str] = None
    method: Optional[str] = None
    url: Optional[str] = None
    request_id: Optional[str] = None
    headers: Optional[Dict[str, str]] = None

    @property
    def response(self) -> JSON:
        return self.response_data


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
# A connection idle for longer than this is not reused for a write: a NAT or load balancer
# may have dropped it silently (a thawed Lambda), and a write that fails after being sent
# cannot be retried safely, whereas opening a new connection costs one handshake.
_WRITE_IDLE_LIMIT = 30.0
_ERROR_SNIPPET = 500  # characters of a non-JSON body quoted in an error message
_MAX_HEADER_LINE = 65536  # http.client's limits on a response's header block
_MAX_HEADERS = 100
_STREAM_CHUNK = 64 * 1024  # bytes handed to a sink at a time


class _Response:
    """A complete HTTP response: the body has been read and the connection released."""

    __slots__ = ("status", "reason", "_message", "_headers", "body", "method", "url", "attempts")

    def __init__(
        self,
        status: int,
        reason: str,
        message: http.client.HTTPMessage,
        body: bytes,
        method: str,
        url: str,
        attempts: int,
    ) -> None:
        self.status = status
        self.reason = reason
        self._message = message
        self._headers: Optional[Dict[str, str]] = None
        self.body = body
        self.method = method
        self.url = url
        self.attempts = attempts

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
        self, reason: str, cause: BaseException, *, sent: bool, before_response: bool, retryable: bool
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause
        self.sent = sent
        self.before_response = before_response
        self.retryable = retryable


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

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> Optional[int]:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")
        self._sock.settimeout(remaining)
        return self._file.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._file.close()  # releases the socket; it closes now if its connection is closed
        super().close()


class _DeadlineSocket:
    """What ``_DeadlineResponse`` hands to HTTPResponse, whose only use of its socket is
    ``makefile("rb")``: that file is the deadline reader (no plain file made, then closed)."""

    __slots__ = ("_sock", "_deadline")

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response, read within the call's deadline, its header block parsed by
    ``_parse_header_lines`` instead of the email package: that parser alone is a third of a
    request's CPU time (benchmarks/run.py, measure cpu). ``begin`` is http.client's own
    (the same in Python 3.8 to 3.13) but for that line, without the debuglevel prints."""

    def __init__(
        self,
        sock: socket.socket,
        debuglevel: int = 0,
        method: Optional[str] = None,
        url: Optional[str] = None,
        *,
        deadline: float,
    ) -> None:
        super().__init__(_DeadlineSocket(sock, deadline), debuglevel, method, url)  # type: ignore[arg-type]

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:  # read until a response that is not 100 Continue
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            _read_header_lines(self.fp)
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = _parse_header_lines(_read_header_lines(self.fp))
        transfer_encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(transfer_encoding) and transfer_encoding.lower() == "chunked"
        if self.chunked:
            self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:  # a nonsensical negative length is ignored
                    self.length = None
        no_body = (http.client.NO_CONTENT, http.client.NOT_MODIFIED)
        if status in no_body or 100 <= status < 200 or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True  # no length: the body ends when the server closes


def _read_header_lines(fp: Any) -> List[bytes]:
    """The header lines of a response, up to the blank line, with http.client's limits."""
    lines: List[bytes] = []
    while True:
        line = fp.readline(_MAX_HEADER_LINE + 1)
        if len(line) > _MAX_HEADER_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return lines
        lines.append(line)
        if len(lines) > _MAX_HEADERS:
            raise http.client.HTTPException("got more than %d headers" % _MAX_HEADERS)


def _parse_header_lines(lines: List[bytes]) -> http.client.HTTPMessage:
    """The HTTPMessage the email package would make of these lines (the value after the
    colon, leading blanks removed, a folded line kept with its line break), read through
    the same ``get`` and ``items``. A line that is not a header is skipped, where the email
    package would drop it and every header after it."""
    message = http.client.HTTPMessage()
    name: Optional[str] = None
    value = ""
    for raw in lines:
        line = raw.decode("iso-8859-1")
        if line[:1] in (" ", "\t"):  # obs-fold: continues the header before it
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
        text = " ".join(data.split())
        return _snippet(text) if text else None
    return None


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
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError, IndexError, OverflowError):
                pass
    value = headers.get("x-ratelimit-reset")
    if value:
        try:
            reset = float(value)
        except ValueError:
            return None
        return max(0.0, reset - time.time() if reset > 1e9 else reset)
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
        parts = urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(
                "proxy must be an http:// URL such as http://proxy.example:3128, got %r" % _strip_userinfo(url)
            )
        self.host = parts.hostname
        self.port = parts.port or 80
        self.headers: Dict[str, str] = {}
        if parts.username is not None:
            credentials = "%s:%s" % (unquote(parts.username), unquote(parts.password or ""))
            self.headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(parts.netloc, parts.netloc.rpartition("@")[2], 1) if "@" in parts.netloc else url


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


def _connection_dropped(conn: http.client.HTTPConnection) -> bool:
    """True if an idle pooled connection is unusable: closed, or readable (EOF, or bytes the
    server sent unasked), which means the server has closed or is closing it."""
    sock = conn.sock
    if sock is None:
        return True
    if not isinstance(sock, socket.socket):  # a test double (vcrpy replays without a socket)
        return False
    try:
        if hasattr(select, "poll"):  # select.select fails on descriptors above FD_SETSIZE
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


@functools.lru_cache(maxsize=256)
def _split_url(url: str) -> Tuple[Tuple[str, str, int], str, str]:
    """(origin, request target, netloc) of a URL; cached, as a client calls few URLs, often."""
    parts = urlsplit(url)
    scheme = parts.scheme
    port = parts.port or (443 if scheme == "https" else 80)
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    return (scheme, parts.hostname or "", port), target, parts.netloc


class _Transport:
    """Sends requests with keep-alive, proxies, TLS, deadlines, redirects and retries.

    ``request`` is the only way out to the network. It returns a ``_Response`` with a 2xx
    or 3xx status, and raises ``error_class`` for anything else.
    """

    def __init__(
        self,
        *,
        error_class: Callable[[str], Exception],
        logger_name: str,
        logger: Optional["logging.Logger"] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
        ca_bundle: Optional[str] = None,
        proxy: Union[str, bool, None] = None,
    ) -> None:
        if ssl_context is not None and ca_bundle is not None:
            raise ValueError("pass ssl_context or ca_bundle, not both")
        if ca_bundle is not None and not os.path.exists(ca_bundle):
            raise ValueError("ca_bundle %r does not exist" % (ca_bundle,))
        if isinstance(proxy, str) and proxy:
            _Proxy(proxy)  # validate now, not on the first call
        self.error_class = error_class
        self._logger_name = logger_name
        self._logger = logger
        self._ssl_context = ssl_context
        self._ca_bundle = ca_bundle
        self._proxy_setting = proxy
        self._proxies: Dict[Tuple[str, str, int], Optional[_Proxy]] = {}
        self._idle: Dict[Tuple[str, str, int], List[Tuple[http.client.HTTPConnection, float]]] = {}
        self._lock = _thread.allocate_lock()
        # A client dropped without close(): its idle connections are closed when it is
        # collected (or at exit), not left to the sockets' finalizers (ResourceWarning).
        import weakref

        weakref.finalize(self, _close_idle, self._idle, self._lock)
        self._secrets: List[str] = []
        self.closed = False

    # -- configuration -----------------------------------------------------------------------

    def add_secret(self, secret: Optional[str]) -> None:
        """Register a value that must never appear in an error message or log record (nor
        its percent-encoded form, which is what a URL would show)."""
        if secret and len(secret) >= 4:
            forms = [secret]
            try:
                forms.append(quote(secret, safe=""))
            except UnicodeEncodeError:
                pass
            for form in forms:
                if form not in self._secrets:
                    self._secrets.append(form)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        return text

    def log(self) -> Optional["logging.Logger"]:
        # Importing logging costs more than importing this module, so it is not imported
        # here: if the application never imported it, nothing can have been configured
        # to receive our records.
        if self._logger is None:
            logging = sys.modules.get("logging")
            if logging is None:
                return None
            self._logger = logging.getLogger(self._logger_name)
        return self._logger

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
            self._proxies[key] = _Proxy(setting) if isinstance(setting, str) and setting else None
        return self._proxies[key]

    # -- connections -------------------------------------------------------------------------

    def _checkout(
        self, origin: Tuple[str, str, int], write: bool, fresh: bool = False
    ) -> Tuple[http.client.HTTPConnection, bool]:
        """A connection to ``origin`` and whether it was used before (reused); a new one
        if ``fresh``."""
        now = time.monotonic()
        while True:
            with self._lock:
                if self.closed:
                    raise RuntimeError("this client is closed")
                stack = None if fresh else self._idle.get(origin)
                if not stack:
                    break
                pooled, last_used = stack.pop()
            if (write and now - last_used > _WRITE_IDLE_LIMIT) or _connection_dropped(pooled):
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

    def _checkin(self, origin: Tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self.closed:
                self._idle.setdefault(origin, []).append((conn, time.monotonic()))
                return
        conn.close()

    def close(self) -> None:
        """Close idle connections now; connections in use close when their call ends."""
        with self._lock:
            self.closed = True
        _close_idle(self._idle, self._lock)

    # -- one attempt -------------------------------------------------------------------------

    def _send_once(
        self,
        method: str,
        url: str,
        headers: Dict[str, str],
        body: Optional[bytes],
        deadline: float,
        write: bool,
        sink: Optional[Callable[[bytes], None]] = None,
    ) -> Tuple[int, str, http.client.HTTPMessage, bytes]:
        origin, target, netloc = _split_url(url)
        scheme = origin[0]
        proxy = self._proxy_for(*origin)
        if proxy and scheme == "http":  # plain http through a proxy: absolute-form target
            target = "%s://%s%s" % (scheme, netloc, target)
            headers = dict(headers, **proxy.headers)
        for fresh_retry in (False, True):
            conn, reused = self._checkout(origin, write, fresh=fresh_retry)
            try:
                return self._exchange(conn, origin, method, target, headers, body, deadline, reused, sink)
            except _Failure as failure:
                # A kept-alive connection the server closed while it sat idle fails before
                # any response byte arrives. The request was not processed if it failed while
                # being sent; for a read it is harmless either way: try once more, at once, on
                # a new connection (the other idle ones to this origin are likely stale too).
                stale = reused and failure.before_response and (not failure.sent or not write)
                if stale and not fresh_retry and time.monotonic() < deadline:
                    continue
                raise
        raise AssertionError("unreachable")

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
        sink: Optional[Callable[[bytes], None]] = None,
    ) -> Tuple[int, str, http.client.HTTPMessage, bytes]:
        def remaining() -> float:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out")
            return left

        sent = False
        try:
            # The response class reads within the deadline; it also reads a proxy's answer
            # to CONNECT, so it is set before connecting.
            conn.response_class = functools.partial(_DeadlineResponse, deadline=deadline)  # type: ignore[assignment]
            if not reused:
                conn.timeout = remaining()
                conn.connect()
            if isinstance(conn.sock, socket.socket):
                conn.sock.settimeout(remaining())
            conn.request(method, target, body=body, headers=headers)
            sent = True
            response = conn.getresponse()
        except ssl.SSLCertVerificationError as exc:
            conn.close()
            raise _Failure(
                "TLS certificate verification failed (%s), not retried; pass ca_bundle= or "
                "ssl_context= if the server uses a private CA" % (exc.verify_message or exc),
                exc,
                sent=False,
                before_response=True,
                retryable=False,
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            # A timeout means the deadline has passed: there is no time left to retry.
            raise _Failure(
                _describe(exc), exc, sent=sent, before_response=True, retryable=not isinstance(exc, socket.timeout)
            ) from exc
        except BaseException:
            conn.close()  # anything else (an interrupt...): the connection is in an unknown state
            raise
        # A sink takes a successful body chunk by chunk (a download larger than memory);
        # once it has taken a chunk, the call cannot be retried.
        streaming = sink is not None and 200 <= response.status < 300
        chunks: List[bytes] = []
        delivered = False
        while True:
            try:
                chunk = response.read(_STREAM_CHUNK) if streaming else response.read()
            except (OSError, http.client.HTTPException) as exc:
                # After "Connection: close" the response alone holds the socket: close it here,
                # not when the traceback that references it is freed.
                response.close()
                conn.close()
                raise _Failure(
                    _describe(exc, "while reading the response body"),
                    exc,
                    sent=True,
                    before_response=False,
                    retryable=not isinstance(exc, socket.timeout) and not delivered,
                ) from exc
            except BaseException:
                response.close()
                conn.close()
                raise
            if not streaming:
                chunks.append(chunk)
                break
            if not chunk:
                break
            try:
                sink(chunk)  # type: ignore[misc]
            except BaseException:
                response.close()
                conn.close()
                raise
            delivered = True
        missing = getattr(response, "length", None) if streaming else None
        if isinstance(missing, int) and missing > 0:  # read(amount) returns b"" at a premature end, no IncompleteRead
            conn.close()
            raise _Failure(
                "connection closed %d bytes before the end of the body" % missing,
                http.client.IncompleteRead(b"", missing),
                sent=True,
                before_response=False,
                retryable=not delivered,
            )
        payload = b"".join(chunks)
        if getattr(response, "will_close", False):  # vcrpy's replayed responses lack the attribute
            conn.close()
        else:
            self._checkin(origin, conn)
        return response.status, response.reason, response.msg, payload

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
        error_class: Optional[Callable[[str], Exception]] = None,
        sink: Optional[Callable[[bytes], None]] = None,
        deadline: Optional[float] = None,
    ) -> _Response:
        """Send one logical request: redirects on the same host are followed with the same
        method and body, and retries happen within ``timeout`` seconds in all, or by
        ``deadline`` (a ``time.monotonic()`` value) when the request is one step of a call
        that started earlier; errors still name ``timeout``.

        ``idempotent`` (default: by method) allows retries after the server may have got the
        request; otherwise only 429, 503 with a retry hint, and failures before the request
        left are retried. ``sensitive`` keeps the body out of error messages. ``sink``, if
        given, receives a 2xx body in chunks instead of ``_Response.body``."""
        error_class = error_class or self.error_class
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        started = time.monotonic()
        deadline = min(started + timeout, deadline) if deadline is not None else started + timeout
        headers = dict(headers)
        for name, value in headers.items():
            _check_header(name, value)
        attempt = 0
        redirects = 0
        log = self.log()
        while True:
            attempt += 1
            attempt_started = time.monotonic()
            try:
                status, reason, message, payload = self._send_once(
                    method, url, headers, body, deadline, write=not idempotent, sink=sink
                )
            except _Failure as failure:
                may_retry = failure.retryable and (idempotent or not failure.sent)
                wait = self._backoff(attempt)
                if log is not None:  # a URL can hold a secret too (a token in a query or path)
                    log.debug(
                        "%s %s failed: %s (attempt %d, %.1f ms)",
                        method,
                        self.redact(url),
                        self.redact(failure.reason),
                        attempt,
                        (time.monotonic() - attempt_started) * 1000,
                    )
                if may_retry and attempt <= max_retries and time.monotonic() + wait < deadline:
                    time.sleep(wait)
                    continue
                raise self._failure_error(
                    error_class, operation, method, url, failure, timeout, attempt, idempotent
                ) from failure.cause
            response = _Response(status, reason, message, payload, method, url, attempt)
            if log is not None:
                log.debug(
                    "%s %s -> %d (attempt %d, %.1f ms)",
                    method,
                    self.redact(url),
                    status,
                    attempt,
                    (time.monotonic() - attempt_started) * 1000,
                )
            if status in _REDIRECT_STATUSES and "location" in response.headers:
                url = self._redirect_target(error_class, operation, response, redirects, not idempotent)
                redirects += 1
                attempt -= 1  # a redirect is not a retry
                continue
            if status in _RETRY_STATUSES and attempt <= max_retries:
                hint = _retry_hint(response.headers)
                write_safe = status == 429 or (status == 503 and hint is not None)
                if idempotent or write_safe:
                    wait = min(hint, _MAX_RETRY_WAIT) if hint is not None else self._backoff(attempt)
                    if time.monotonic() + wait < deadline:
                        if log is not None:
                            log.debug("%s %s: retrying in %.2f s after %d", method, self.redact(url), wait, status)
                        time.sleep(wait)
                        continue
            if status >= 300:
                raise self.http_error(error_class, operation, response, sensitive)
            return response

    @staticmethod
    def _backoff(attempt: int) -> float:
        delay = min(_BACKOFF_CAP, _BACKOFF_BASE * 2.0 ** (attempt - 1))
        return delay * (0.5 + random.random() / 2)  # jitter, so that many clients do not retry in step

    def _redirect_target(
        self,
        error_class: Callable[[str], Exception],
        operation: str,
        response: _Response,
        redirects: int,
        write: bool = False,
    ) -> str:
        target = urljoin(response.url, response.headers["location"])
        old, new = urlsplit(response.url), urlsplit(target)
        same_host = (old.hostname, old.port or (443 if old.scheme == "https" else 80)) == (
            new.hostname,
            new.port or (443 if new.scheme == "https" else 80),
        )
        upgrade = old.scheme == "http" and new.scheme == "https" and old.hostname == new.hostname
        if redirects >= _MAX_REDIRECTS:
            why = "more than %d redirects" % _MAX_REDIRECTS
        elif new.scheme not in ("http", "https") or (old.scheme == "https" and new.scheme != "https"):
            why = "redirect from %s to %s refused" % (old.scheme, new.scheme or "another scheme")
        elif not (same_host or upgrade):
            why = "redirect to another host (%s) not followed: credentials stay with %s" % (new.hostname, old.hostname)
        elif write and response.status == 303:
            # 303 See Other: the server processed the request and points at its result. Sending
            # the write again (to the Location, which is often the same URL) could run it twice,
            # and turning it into a GET would be another request: neither is done.
            why = "HTTP 303 See Other: the request was processed, not sent again; its result is at %s" % target
        else:
            return target
        error = self.http_error(error_class, operation, response, True)
        error.args = (self.redact("%s failed: %s [%s %s]" % (operation, why, response.method, response.url)),)
        raise error

    def http_error(
        self, error_class: Callable[[str], Exception], operation: str, response: _Response, sensitive: bool = False
    ) -> Exception:
        data = response.data()
        detail = _api_message(data) if not (sensitive and isinstance(data, str)) else None
        text = "%s failed: HTTP %d %s" % (operation, response.status, response.reason)
        if detail:
            text += ": " + detail
        text += " [%s %s" % (response.method, response.url)
        if response.request_id:
            text += ", request id " + response.request_id
        text += "]"
        error = error_class(self.redact(text))
        _describe_error(
            error,
            response.status,
            data,
            detail and self.redact(detail),
            response.method,
            response.url,
            response.request_id,
            response.headers,
        )
        return error

    def _failure_error(
        self,
        error_class: Callable[[str], Exception],
        operation: str,
        method: str,
        url: str,
        failure: _Failure,
        timeout: float,
        attempts: int,
        idempotent: bool,
    ) -> Exception:
        if isinstance(failure.cause, socket.timeout):
            reason = "timed out after %g s" % timeout
        else:
            reason = failure.reason
        if failure.sent and not idempotent:
            reason += " (the request may have been processed; not retried)"
        elif attempts > 1:
            reason += " (after %d attempts)" % attempts
        error = error_class(self.redact("%s failed: %s [%s %s]" % (operation, reason, method, url)))
        _describe_error(error, None, None, None, method, url, None, None)
        return error


def _describe(exc: BaseException, where: str = "") -> str:
    if isinstance(exc, socket.timeout):
        text = "timed out"
    elif isinstance(exc, ConnectionRefusedError):
        text = "connection refused"
    elif isinstance(exc, socket.gaierror):
        text = "could not resolve host (%s)" % (exc.strerror or exc)
    elif isinstance(exc, http.client.RemoteDisconnected):
        text = "server closed the connection without a response"
    else:
        text = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
    return text + (" " + where if where else "")


def _describe_error(
    error: Exception,
    status: Optional[int],
    data: JSON,
    detail: Optional[str],
    method: str,
    url: str,
    request_id: Optional[str],
    headers: Optional[Dict[str, str]],
) -> None:
    error.status_code = status  # type: ignore[attr-defined]
    error.response_data = data  # type: ignore[attr-defined]
    error.detail = detail  # type: ignore[attr-defined]
    error.method = method  # type: ignore[attr-defined]
    error.url = url  # type: ignore[attr-defined]
    error.request_id = request_id  # type: ignore[attr-defined]
    error.headers = headers  # type: ignore[attr-defined]


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


def _query(params: Mapping[str, Any]) -> str:
    """A query string: None dropped, booleans as true/false, lists as repeated keys."""
    pairs: List[Tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        for item in value if isinstance(value, (list, tuple)) else (value,):
            pairs.append((key, "true" if item is True else "false" if item is False else str(item)))
    return urlencode(pairs, quote_via=quote) if pairs else ""


def _check_base_url(base_url: str) -> str:
    if not isinstance(base_url, str):
        raise ValueError("base_url must be a string, got %r" % (base_url,))
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("base_url must be an http:// or https:// URL, got %r" % (base_url,))
    if parts.query or parts.fragment or parts.username:
        raise ValueError("base_url must not have a query, fragment or credentials: %r" % (_strip_userinfo(base_url),))
    return base_url.strip().rstrip("/")


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


def _with_headers(base: Mapping[str, str], extra: Optional[Mapping[str, str]]) -> Dict[str, str]:
    """``base`` plus ``extra``; an extra header replaces a base one whatever its case."""
    merged = dict(base)
    if extra is not None and not isinstance(extra, _Mapping):
        raise ValueError("headers must be a mapping of names to values, got %s" % type(extra).__name__)
    for name, value in (extra or {}).items():
        if not isinstance(name, str) or not isinstance(value, str) or any(c in name + value for c in "\r\n\0"):
            raise ValueError("header %r must be a string without line breaks" % (name,))
        try:
            value.encode("latin-1")  # what http.client sends
        except UnicodeEncodeError:
            raise ValueError("header %r must be latin-1 text" % (name,)) from None
        for existing in [key for key in merged if key.lower() == name.lower()]:
            del merged[existing]
        merged[name] = value
    return merged


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

    async def run(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:  # "/": any keyword may pass
        import asyncio

        if self.closed:
            raise RuntimeError("this client is closed")
        with self._lock:
            if self._executor is None:
                from concurrent.futures import ThreadPoolExecutor

                self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix=self._prefix)
        future = asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(function, *args, **kwargs)
        )
        self._in_flight.add(future)
        future.add_done_callback(self._in_flight.discard)
        return await future

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
    on every call) and ``logger`` (default: the ``altan`` logger, DEBUG records per call).

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
        )
        self._transport.add_secret(api_key)
        defaults = {
            "User-Agent": "altan-python/%s (stdlib; python %d.%d)" % (__version__, *sys.version_info[:2]),
            "Accept": "application/json",
            "X-Altan-Key": api_key,
            "Authorization": "Bearer " + api_key,
        }
        self._headers = _with_headers(defaults, headers)
        self._owns_transport = True

    def __repr__(self) -> str:
        return "AltanActionsClient(base_url=%r)" % (self.base_url,)

    def __enter__(self) -> "AltanActionsClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Release the connections. Idempotent; a closed client raises RuntimeError.
        On a ``with_options`` view it does nothing: the client it came from owns them."""
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
            error = self._transport.http_error(AltanActionError, operation, response)
            snippet = getattr(error, "detail", None)
            error.args = (
                "%s failed: expected JSON, got %s%s [%s %s]"
                % (
                    operation,
                    response.headers.get("content-type", "a body"),
                    ": " + snippet if snippet else "",
                    method,
                    response.url,
                ),
            )
            raise error from None

    # -- endpoints ---------------------------------------------------------------------------

    def list_connections(self, *, timeout: Optional[float] = None) -> ConnectionList:
        """``GET /connection``: the connections of the API key's account, ``{"data": [...]}``."""
        return self._call("GET", "/connection", "list connections", timeout=timeout)  # type: ignore[no-any-return]

    def get_connection(self, connection_id: str, *, timeout: Optional[float] = None) -> Connection:
        """``GET /connection/{connection_id}``: one connection."""
        path = "/connection/" + _segment("connection_id", connection_id)
        return self._call("GET", path, "get connection", timeout=timeout)  # type: ignore[no-any-return]

    def list_action_types(self, connection_id: str, *, timeout: Optional[float] = None) -> ActionTypeList:
        """``GET /connection/{connection_id}/actions``: the action types of a connection."""
        path = "/connection/%s/actions" % _segment("connection_id", connection_id)
        return self._call("GET", path, "list action types", timeout=timeout)  # type: ignore[no-any-return]

    def get_action_type(
        self, connection_id: str, action_type_id: str, *, timeout: Optional[float] = None
    ) -> ActionType:
        """``GET /connection/{connection_id}/actions/{action_type_id}``: one action type,
        with its ``input_schema`` where the API provides one."""
        path = "/connection/%s/actions/%s" % (
            _segment("connection_id", connection_id),
            _segment("action_type_id", action_type_id),
        )
        return self._call("GET", path, "get action type", timeout=timeout)  # type: ignore[no-any-return]

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
        result = self._call("POST", path, "execute action", body={"payload": dict(payload)}, timeout=timeout)
        if isinstance(result, dict) and isinstance(result.get("success"), bool) and "status" not in result:
            result["status"] = "success" if result["success"] else "error"
            key = "result" if result["success"] else "error"
            result.setdefault(key, result.get("data"))
        return result  # type: ignore[no-any-return]


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
        return await self._runner.run(self._client.list_connections, timeout=timeout)  # type: ignore[no-any-return]

    async def get_connection(self, connection_id: str, *, timeout: Optional[float] = None) -> Connection:
        return await self._runner.run(self._client.get_connection, connection_id, timeout=timeout)  # type: ignore[no-any-return]

    async def list_action_types(self, connection_id: str, *, timeout: Optional[float] = None) -> ActionTypeList:
        return await self._runner.run(self._client.list_action_types, connection_id, timeout=timeout)  # type: ignore[no-any-return]

    async def get_action_type(
        self, connection_id: str, action_type_id: str, *, timeout: Optional[float] = None
    ) -> ActionType:
        return await self._runner.run(  # type: ignore[no-any-return]
            self._client.get_action_type, connection_id, action_type_id, timeout=timeout
        )

    async def execute_action(
        self,
        connection_id: str,
        action_type_id: str,
        payload: Optional[Mapping[str, Any]] = None,
        *,
        timeout: Optional[float] = None,
    ) -> ExecuteResult:
        return await self._runner.run(  # type: ignore[no-any-return]
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


if __name__ == "__main__":
    sys.exit(main())
