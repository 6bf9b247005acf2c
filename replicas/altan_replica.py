"""A local replica of the Altan Actions / Integration API, standard library only.

It serves the paths this project's client uses (docs/wire-decisions.md), under a
configurable prefix (default ``/integration``), with bodies of the shapes the client expects:

    GET  {prefix}/connection                                   -> {"data": [connection, ...]}
    GET  {prefix}/connection/{connection_id}                   -> connection
    GET  {prefix}/connection/{connection_id}/actions           -> {"data": [action type, ...]}
    GET  {prefix}/connection/{connection_id}/actions/{id}      -> action type with "input_schema"
    POST {prefix}/connection/{connection_id}/actions/{id}/execute, body {"payload": {...}}
                                                               -> {"success": true, "data": {...}}

Behaviour worth knowing when writing a demo or a test against it:

* Every request needs ``X-Altan-Key`` with one of the keys given at start-up (default
  ``your-api-key``, the key of the README's examples); otherwise 401 ``{"detail": "Invalid API key"}``.
* An unknown connection or action type is 404 ``{"detail": "Connection not found"}`` /
  ``{"detail": "Action type not found"}``; an unknown route 404 ``{"detail": "Not Found"}``;
  a wrong method 405, as FastAPI answers.
* An execute body that is not JSON, lacks ``"payload"``, has a payload that is not an object,
  lacks a required parameter or has one of the wrong JSON type is 422 with FastAPI's
  validation body ``{"detail": [{"type", "loc", "msg", "input"}, ...]}``.
* Some executions fail upstream and report it with HTTP 200 (Altan's shape):
  ``send_message`` (Team Slack) to a channel other than C123/C456 answers
  ``{"success": false, "data": {"error": "channel_not_found"}}``, ``send-email`` to
  ``rejected@example.com`` answers ``{"success": false, "data": {"error": "Recipient address
  rejected"}}``.
* Every response carries ``X-Request-ID`` (``req_000001``, ``req_000002``, ... per server, so
  recordings are reproducible).
* ``server.fail_next(status, body, content_type=...)`` makes the next matching request answer
  with a scripted response (e.g. 500 ``text/plain`` as Starlette sends for a crash).
* ``server.request_count`` / ``server.requests`` record what arrived (raw target, decoded
  path segments, headers, body), for tests.

Use it from code::

    from altan_replica import start, stop
    server, base_url = start()            # http://127.0.0.1:<free port>/integration
    ...
    stop(server)

or from a shell: ``python replicas/altan_replica.py --port 8765``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union
from replica_http import ReplicaHandler, ReplicaServer, StartedReplicas
from urllib.parse import parse_qsl, unquote

__all__ = ["AltanReplica", "ReceivedRequest", "start", "stop", "main", "DEFAULT_API_KEY", "DEFAULT_PREFIX"]

DEFAULT_API_KEY = "your-api-key"  # the README examples' key, so they run against the replica as written
DEFAULT_PREFIX = "/integration"

# ---------------------------------------------------------------------------------------------
# Data: the bodies of the Altan SDK README's examples (abc123 / def456), plus the
# placeholder ids the Altan SDK README uses ("connection-id", "action-type-id") so that every README
# example works as written against the replica.
# ---------------------------------------------------------------------------------------------

_EMAIL_SCHEMA = {
    "type": "object",
    "properties": {
        "to": {"type": "string"},
        "subject": {"type": "string"},
        "body": {"type": "string"},
        "cc": {"type": "array"},
    },
    "required": ["to", "subject", "body"],
}

CONNECTIONS: Dict[str, Dict[str, Any]] = {
    "abc123": {"id": "abc123", "name": "Work Gmail", "provider": "gmail", "status": "active"},
    "def456": {"id": "def456", "name": "Team Slack", "provider": "slack", "status": "active"},
    "connection-id": {"id": "connection-id", "name": "Example Connection", "provider": "example", "status": "active"},
}

ACTION_TYPES: Dict[str, Dict[str, Dict[str, Any]]] = {
    "abc123": {
        "send-email": {
            "id": "send-email",
            "name": "Send Email",
            "description": "Send an email from the connected account",
            "input_schema": _EMAIL_SCHEMA,
        },
        "list-messages": {
            "id": "list-messages",
            "name": "List Messages",
            "description": "List recent messages of the connected mailbox",
            "input_schema": {
                "type": "object",
                "properties": {"query": {"type": "string"}, "max_results": {"type": "integer"}},
                "required": [],
            },
        },
    },
    "def456": {
        "send_message": {
            "id": "send_message",
            "name": "Send Message",
            "description": "Post a message to a Slack channel",
            "input_schema": {
                "type": "object",
                "properties": {"channel": {"type": "string"}, "text": {"type": "string"}},
                "required": ["channel"],
            },
        },
    },
    "connection-id": {
        "action-type-id": {
            "id": "action-type-id",
            "name": "Example Action",
            "description": "An action that echoes its input",
            "input_schema": {
                "type": "object",
                "properties": {"message": {"type": "string"}, "count": {"type": "integer"}},
                "required": ["message"],
            },
        },
    },
}

_SLACK_CHANNELS = ("C123", "C456")
_JSON_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}
_PYDANTIC_TYPE_ERRORS = {
    "string": ("string_type", "Input should be a valid string"),
    "integer": ("int_type", "Input should be a valid integer"),
    "number": ("float_type", "Input should be a valid number"),
    "boolean": ("bool_type", "Input should be a valid boolean"),
    "array": ("list_type", "Input should be a valid list"),
    "object": ("dict_type", "Input should be a valid dictionary"),
    "null": ("none_required", "Input should be None"),
}


def _digest(value: Any) -> str:
    """A short, deterministic id derived from a JSON value (so recordings are reproducible)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:10]


def _execute(connection_id: str, action_type_id: str, payload: Dict[str, Any]) -> Dict[str, Any]:
    """The outcome of an action, in Altan's ``{"success": bool, "data": ...}`` shape."""
    if action_type_id == "send-email":
        if payload["to"] == "rejected@example.com":
            return {"success": False, "data": {"error": "Recipient address rejected"}}
        message_id = _digest(payload)
        return {"success": True, "data": {"message_id": message_id, "thread_id": message_id}}
    if action_type_id == "list-messages":
        count = min(int(payload.get("max_results", 2)), 2)
        messages = [{"id": "m%d" % i, "subject": "Message %d" % i} for i in range(1, count + 1)]
        return {"success": True, "data": {"messages": messages}}
    if action_type_id == "send_message":
        if payload["channel"] not in _SLACK_CHANNELS:
            return {"success": False, "data": {"error": "channel_not_found"}}
        return {
            "success": True,
            "data": {"ok": True, "channel": payload["channel"], "ts": "1712.0001", "__stats": {"status_code": 200}},
        }
    return {"success": True, "data": {"echo": payload}}


def _validation_errors(schema: Dict[str, Any], payload: Dict[str, Any]) -> List[Dict[str, Any]]:
    errors: List[Dict[str, Any]] = []
    for name in schema.get("required", []):
        if name not in payload:
            errors.append(
                {"type": "missing", "loc": ["body", "payload", name], "msg": "Field required", "input": payload}
            )
    for name, value in payload.items():
        expected = schema.get("properties", {}).get(name, {}).get("type")
        if expected is None:
            continue
        python_types = _JSON_TYPES[expected]
        ok = isinstance(value, python_types) and not (isinstance(value, bool) and expected in ("integer", "number"))
        if not ok:
            kind, msg = _PYDANTIC_TYPE_ERRORS[expected]
            errors.append({"type": kind, "loc": ["body", "payload", name], "msg": msg, "input": value})
    return errors


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


@dataclass
class ReceivedRequest:
    """One request as the replica received it."""

    method: str
    target: str  # the raw request target, e.g. /integration/connection/a%2Fb
    path: str  # target without the query
    segments: List[str]  # path segments after the prefix, each percent-decoded once
    query: Dict[str, str]
    headers: Dict[str, str]  # lower-case names (the last value if a header was repeated)
    body: bytes
    raw_headers: List[Tuple[str, str]] = field(default_factory=list)  # as sent, repeats included

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class AltanReplica(ReplicaServer):
    """A server that answers like the Altan integration service. A scripted failure
    (``fail_next``) is answered after the API key is checked."""

    thread_name = "altan-replica"

    def __init__(
        self, address: Tuple[str, int], api_keys: Iterable[str], prefix: str = DEFAULT_PREFIX, verbose: bool = False
    ) -> None:
        super().__init__(address, _Handler, verbose)
        self.api_keys = frozenset(api_keys)
        if not self.api_keys or not all(isinstance(k, str) and k for k in self.api_keys):
            raise ValueError("api_key must be a non-empty string or a list of them")
        prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.prefix = prefix

    # -- for tests and demos ------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        """One accepted key (the first in sorted order)."""
        return sorted(self.api_keys)[0]

    @property
    def base_url(self) -> str:
        host, port = str(self.server_address[0]), int(self.server_address[1])
        host = "[%s]" % host if ":" in host else host
        return "http://%s:%d%s" % (host, port, self.prefix)

    @property
    def connection_count(self) -> int:
        """TCP connections accepted since the last reset (a kept-alive one counts once)."""
        with self.lock:
            return self.connections


_Answer = Tuple[int, bytes, str, Dict[str, str]]  # status, body, content type, extra headers


class _Handler(ReplicaHandler):
    server_version = "altan-replica/1.0"
    server: AltanReplica

    def _handle(self, method: str) -> None:
        body = self._read_body()
        target = self.path
        path, _, query = target.partition("?")
        prefix = self.server.prefix
        inside = path == prefix or path.startswith(prefix + "/") if prefix else True
        rest = path[len(prefix) :] if inside else path
        segments = [unquote(s, errors="replace") for s in rest.split("/")[1:]] if inside else []
        request = ReceivedRequest(
            method=method,
            target=target,
            path=path,
            segments=segments,
            query=dict(parse_qsl(query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            raw_headers=list(self.headers.items()),
        )
        request_id = self.server._record(request)
        status, payload, content_type, extra = self._route(request, inside)
        self._send(status, payload, content_type, request_id, extra)

    def _route(self, request: ReceivedRequest, inside: bool) -> _Answer:
        def answer(status: int, data: Any, headers: Optional[Dict[str, str]] = None) -> _Answer:
            return status, json.dumps(data).encode(), "application/json", headers or {}

        segments = request.segments
        route = _match_route(segments) if inside else None
        if route is None:
            return answer(404, {"detail": "Not Found"})
        name, allowed = route
        if request.method != allowed:
            return answer(405, {"detail": "Method Not Allowed"}, {"Allow": allowed})
        if request.headers.get("x-altan-key") not in self.server.api_keys:
            return answer(401, {"detail": "Invalid API key"})
        scripted = self.server._take_scripted(request.method, request.path)
        if scripted is not None:
            return scripted.status, scripted.body, scripted.content_type, scripted.headers

        if name == "list_connections":
            return answer(200, {"data": [dict(c) for c in CONNECTIONS.values()]})
        connection = CONNECTIONS.get(segments[1])
        if connection is None:
            return answer(404, {"detail": "Connection not found"})
        if name == "get_connection":
            return answer(200, connection)
        actions = ACTION_TYPES.get(connection["id"], {})
        if name == "list_action_types":
            return answer(200, {"data": [{"id": a["id"], "name": a["name"]} for a in actions.values()]})
        action = actions.get(segments[3])
        if action is None:
            return answer(404, {"detail": "Action type not found"})
        if name == "get_action_type":
            return answer(200, action)

        # execute: FastAPI would validate {"payload": {...}} before the handler runs
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError as exc:
            position = getattr(exc, "pos", 0)
            return answer(
                422,
                {
                    "detail": [
                        {
                            "type": "json_invalid",
                            "loc": ["body", position],
                            "msg": "JSON decode error",
                            "input": {},
                            "ctx": {"error": str(exc)},
                        }
                    ]
                },
            )
        if not isinstance(body, dict) or "payload" not in body:
            return answer(
                422,
                {"detail": [{"type": "missing", "loc": ["body", "payload"], "msg": "Field required", "input": body}]},
            )
        payload = body["payload"]
        if not isinstance(payload, dict):
            return answer(
                422,
                {
                    "detail": [
                        {
                            "type": "dict_type",
                            "loc": ["body", "payload"],
                            "msg": "Input should be a valid dictionary",
                            "input": payload,
                        }
                    ]
                },
            )
        errors = _validation_errors(action.get("input_schema", {}), payload)
        if errors:
            return answer(422, {"detail": errors})
        return answer(200, _execute(connection["id"], action["id"], payload))

    def _send(self, status: int, payload: bytes, content_type: str, request_id: str, extra: Dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Request-ID", request_id)
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def _match_route(segments: List[str]) -> Optional[Tuple[str, str]]:
    """(route name, allowed method) for decoded path segments, or None."""
    if not segments or segments[0] != "connection" or any(s == "" for s in segments[1:]):
        return None
    n = len(segments)
    if n == 1:
        return "list_connections", "GET"
    if n == 2:
        return "get_connection", "GET"
    if segments[2] != "actions":
        return None
    if n == 3:
        return "list_action_types", "GET"
    if n == 4:
        return "get_action_type", "GET"
    if n == 5 and segments[4] == "execute":
        return "execute", "POST"
    return None


# ---------------------------------------------------------------------------------------------
# start / stop / command line
# ---------------------------------------------------------------------------------------------

_started = StartedReplicas()


def start(
    port: int = 0,
    api_key: Union[str, Iterable[str]] = DEFAULT_API_KEY,
    *,
    host: str = "127.0.0.1",
    prefix: str = DEFAULT_PREFIX,
    verbose: bool = False,
) -> Tuple[AltanReplica, str]:
    """Start a replica in a background thread; return ``(server, base_url)``.

    ``port=0`` picks a free port. ``api_key`` is the accepted key, or a list of accepted keys.
    The base URL ends with ``prefix`` (default ``/integration``), like the real one.
    """
    keys = [api_key] if isinstance(api_key, str) else list(api_key)
    server = AltanReplica((host, port), keys, prefix, verbose).start_background()
    return _started.add(server), server.base_url


def stop(server: Optional[AltanReplica] = None) -> None:
    """Stop ``server``, or every replica started by ``start()`` if none is given."""
    _started.stop(server)


def export_line(server: AltanReplica) -> str:
    """A shell line that points ``python -m altan`` and ``AltanActionsClient()`` at ``server``."""
    return "export ALTAN_API_KEY=%s ALTAN_BASE_URL=%s" % (server.api_key, server.base_url)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run a local replica of the Altan Actions API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0 picks a free one; default 8765)")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="an accepted API key (repeatable; default %r)" % DEFAULT_API_KEY,
    )
    parser.add_argument("--prefix", default=DEFAULT_PREFIX, help="path prefix (default %s)" % DEFAULT_PREFIX)
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    server = AltanReplica(
        (args.host, args.port), args.api_keys or [DEFAULT_API_KEY], args.prefix, verbose=not args.quiet
    )
    server.serve_until_interrupted(
        "Altan replica listening on %s (API key%s: %s); Ctrl-C to stop"
        % (server.base_url, "s" if len(server.api_keys) > 1 else "", ", ".join(sorted(server.api_keys))),
        export_line(server),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
