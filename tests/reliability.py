"""Shared pieces of the reliability suite (tests/test_reliability_*.py).

* ``Api``: one of the four public clients under test -- ``altan-sync``
  (``AltanActionsClient``), ``altan-async`` (``AsyncAltanActionsClient``), ``pipedream-sync``
  (``SyncPipedreamClient``) and ``pipedream-async`` (``PipedreamClient``) -- behind one calling
  convention (``api("run_action", ...)`` runs the coroutine to completion for an async client),
  pointed at a fault server (tests/servers.py) that plays the API: for Pipedream it has an
  OAuth token route (``OAuthTokens``) and refuses requests without a live token.
* ``Op``: a client call and the request it makes (method and path on the server), for the
  writes and reads of each module.
* ``VirtualClock``: stands in for a module's ``time`` so that backoff waits are recorded and
  skipped, while deadlines still count them.
* Leak probes: open file descriptors and live threads.
* Secret probes: the forms a secret travels in, and every surface of an error.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import pickle
import threading
import random
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import quote, quote_plus

from servers import OAuthTokens, Request, Response, Server, echo

import altan
import pipedream

FLAVOURS = ["altan-sync", "altan-async", "pipedream-sync", "pipedream-async"]
MODULES = {"altan": altan, "pipedream": pipedream}
ERRORS = {"altan": altan.AltanActionError, "pipedream": pipedream.PipedreamApiError}

# Credentials of the suite: long, unique, easy to search for in captured output.
ALTAN_KEY = "altan-rel-key-5b1e0c9d7a3f4e21"
PD_CLIENT_ID = "pd-rel-client-id"
PD_SECRET = "pd-rel-secret-c0ffee4badd00d17"
PD_PROJECT = "proj_rel"
P = "/v1/connect/" + PD_PROJECT  # the Pipedream project's path prefix

SLACK_POST = {"url": "https://slack.com/api/chat.postMessage", "method": "POST", "body": {"text": "hi"}}
PROXY_PATH = P + "/proxy/" + base64.urlsafe_b64encode(SLACK_POST["url"].encode()).decode().rstrip("=")


class Op:
    """A client call (``method(*args, **kwargs)``) and the request it sends. ``args`` may be a
    function of the server's URL (for workflow URLs)."""

    def __init__(
        self,
        label: str,
        method: str,
        args: Any = (),
        kwargs: Optional[Dict[str, Any]] = None,
        *,
        http: str = "GET",
        path: str = "/",
    ) -> None:
        self.label = label
        self.method = method
        self._args = args
        self.kwargs = kwargs or {}
        self.http = http
        self.path = path

    def args(self, server: Server) -> Tuple[Any, ...]:
        return tuple(self._args(server.url) if callable(self._args) else self._args)

    def __repr__(self) -> str:
        return self.label


WRITES: Dict[str, List[Op]] = {
    "altan": [
        Op(
            "execute_action",
            "execute_action",
            ("c1", "send-email", {"to": "a@example.com"}),
            http="POST",
            path="/connection/c1/actions/send-email/execute",
        ),
    ],
    "pipedream": [
        Op(
            "run_action",
            "run_action",
            ("slack-send-message", "user-1", {"text": "hi"}),
            http="POST",
            path=P + "/actions/run",
        ),
        Op(
            "deploy_trigger",
            "deploy_trigger",
            ("slack-new-message", "user-1", {"c": 1}),
            {"webhook_url": "https://example.com/hook"},
            http="POST",
            path=P + "/triggers/deploy",
        ),
        Op("create_connect_token", "create_connect_token", ("user-1",), http="POST", path=P + "/tokens"),
        Op(
            "update_deployed_trigger(PUT)",
            "update_deployed_trigger",
            ("dc_1", "user-1"),
            {"active": False},
            http="PUT",
            path=P + "/deployed-triggers/dc_1",
        ),
        Op(
            "update_deployed_trigger_webhooks(PUT)",
            "update_deployed_trigger_webhooks",
            ("dc_1", "user-1", ["https://example.com/h"]),
            http="PUT",
            path=P + "/deployed-triggers/dc_1/webhooks",
        ),
        Op(
            "update_deployed_trigger_workflows(PUT)",
            "update_deployed_trigger_workflows",
            ("dc_1", "user-1", ["p_1"]),
            http="PUT",
            path=P + "/deployed-triggers/dc_1/pipelines",
        ),
        Op("create_rate_limit", "create_rate_limit", (60, 10), http="POST", path="/v1/connect/rate_limits"),
        Op(
            "make_proxy_request(POST)",
            "make_proxy_request",
            ({"external_user_id": "user-1", "account_id": "apn_1"}, SLACK_POST),
            http="POST",
            path=PROXY_PATH,
        ),
        Op(
            "invoke_workflow",
            "invoke_workflow",
            lambda url: (url + "/wf/hook",),
            {"json_data": {"n": 1}},
            http="POST",
            path="/wf/hook",
        ),
    ],
}
READS: Dict[str, List[Op]] = {
    "altan": [
        Op("list_connections", "list_connections", http="GET", path="/connection"),
        Op(
            "get_action_type",
            "get_action_type",
            ("c1", "send-email"),
            http="GET",
            path="/connection/c1/actions/send-email",
        ),
    ],
    "pipedream": [
        Op("get_project_info", "get_project_info", http="GET", path=P + "/projects/info"),
        Op("get_app", "get_app", ("slack",), http="GET", path="/v1/connect/apps/slack"),
        Op("delete_account", "delete_account", ("apn_1",), http="DELETE", path=P + "/accounts/apn_1"),
        Op(
            "configure_component",
            "configure_component",
            ("actions", "slack-send-message", "channel", "user-1"),
            http="POST",
            path=P + "/actions/configure",
        ),
    ],
}


def write(module: str) -> Op:
    """The main write of a module (execute_action, run_action)."""
    return WRITES[module][0]


def read(module: str) -> Op:
    return READS[module][0]


def as_pipedream(
    server: Server, handler: Optional[Callable[[Request], Response]] = None, **token_options: Any
) -> OAuthTokens:
    """Make ``server`` play Pipedream: ``POST /v1/oauth/token`` issues tokens for the suite's
    client id and secret; every other path needs a live token (401 otherwise) and is answered
    by ``handler`` (default: ``servers.echo``), except workflow paths (``/wf/...``), which
    need no token."""
    tokens = OAuthTokens(PD_CLIENT_ID, PD_SECRET, **token_options)
    server.route("/v1/oauth/token", tokens.handler, method="POST")
    answer = handler or echo
    protected = tokens.protect(answer)
    server.default = lambda request: answer(request) if request.path.startswith("/wf/") else protected(request)
    server.tokens = tokens  # type: ignore[attr-defined]
    return tokens


class Api:
    """A client of ``flavour`` pointed at ``server`` (Pipedream: the server is set up with
    ``as_pipedream`` unless it already is). Call it as ``api("method", *args, **kwargs)``."""

    def __init__(self, flavour: str, server: Server, **options: Any) -> None:
        self.flavour = flavour
        self.module_name, kind = flavour.split("-")
        self.is_async = kind == "async"
        self.mod = MODULES[self.module_name]
        self.error = ERRORS[self.module_name]
        self.server = server
        options.setdefault("proxy", False)
        if self.module_name == "altan":
            cls = altan.AsyncAltanActionsClient if self.is_async else altan.AltanActionsClient
            self.client = cls(options.pop("api_key", ALTAN_KEY), server.url, **options)
        else:
            if not hasattr(server, "tokens"):
                as_pipedream(server)
            self.tokens: OAuthTokens = server.tokens  # type: ignore[attr-defined]
            cls = pipedream.PipedreamClient if self.is_async else pipedream.SyncPipedreamClient
            credentials = {} if "access_token" in options else {"client_id": PD_CLIENT_ID, "client_secret": PD_SECRET}
            options.setdefault("workflow_domain", "127.0.0.1")
            self.client = cls(
                project_id=PD_PROJECT, environment="development", base_url=server.url, **credentials, **options
            )

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.run(getattr(self.client, method), *args, **kwargs)

    def run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return asyncio.run(function(*args, **kwargs))
        return function(*args, **kwargs)

    def op(self, op: Op) -> Any:
        return self(op.method, *op.args(self.server), **op.kwargs)

    def view(self, **options: Any) -> "Api":
        """The same client through ``with_options(**options)``."""
        other = object.__new__(Api)
        other.__dict__.update(self.__dict__)
        other.client = self.client.with_options(**options)
        return other

    def warm(self) -> None:
        """One successful read, so that a connection is pooled (and a Pipedream token cached)."""
        self.op(read(self.module_name))

    def close(self) -> None:
        if self.is_async:
            asyncio.run(self.client.close())
        else:
            self.client.close()


class VirtualClock:
    """The one clock fake: stands in for a module's ``_clock`` (its only view of time and
    chance): ``sleep`` records the wait and moves the module's
    clock (``monotonic`` and ``time``) forward by it instead of sleeping; ``advance`` moves it
    too (a token's expiry). ``on_sleep`` runs at each sleep."""

    def __init__(self, on_sleep: Optional[Callable[[float], None]] = None) -> None:
        self.sleeps: List[float] = []
        self.offset = 0.0
        self.on_sleep = on_sleep
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        with self._lock:
            self.sleeps.append(seconds)
            self.offset += seconds
        if self.on_sleep is not None:
            self.on_sleep(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.offset += seconds

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def time(self) -> float:
        return time.time() + self.offset

    def random(self) -> float:
        return random.random()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


# ---------------------------------------------------------------------------------------------
# Leak probes
# ---------------------------------------------------------------------------------------------


def open_fds() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def client_threads() -> List[threading.Thread]:
    """Live threads that are not the test servers' (nor pytest's main thread)."""
    return [
        t
        for t in threading.enumerate()
        if t.is_alive() and t is not threading.main_thread() and not t.name.startswith("test-")
    ]


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``predicate`` (collecting garbage in between) until it is true; AssertionError
    after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("not reached within %g s: %s" % (timeout, what or predicate))
        gc.collect()
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------------
# Secret probes
# ---------------------------------------------------------------------------------------------


def secret_forms(secret: str) -> List[str]:
    """The forms a secret travels in: raw, percent-encoded, JSON-escaped, base64."""
    raw = secret.encode("utf-8")
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    return sorted(forms)


def error_surfaces(error: BaseException) -> List[Union[str, bytes]]:
    """Every text an error exposes: its message, repr, args, every attribute reachable from it
    (chained causes and contexts included), its pickle and its formatted traceback."""
    texts: List[Union[str, bytes]] = [str(error), repr(error), repr(error.args)]
    texts += traceback.format_exception(type(error), error, error.__traceback__)
    texts.append(pickle.dumps(error))
    seen = set()
    stack: List[Any] = [error]
    while stack:
        item = stack.pop()
        if id(item) in seen or item is None:
            continue
        seen.add(id(item))
        if isinstance(item, BaseException):
            texts += [str(item), repr(item)]
            stack += [item.args, item.__cause__, item.__context__, dict(vars(item))]
            stack += [
                getattr(item, name, None)
                for name in dir(type(item))
                if isinstance(getattr(type(item), name, None), property)
            ]
        elif isinstance(item, dict):
            stack += list(item.keys()) + list(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack += list(item)
        elif isinstance(item, (str, bytes)):
            texts.append(item)
        elif not isinstance(item, (int, float, bool)):
            texts.append(repr(item))
    return texts
