"""A local replica of the Pipedream Connect API, standard library only.

It serves every endpoint of the official Python SDK (docs/wire-decisions.md) with
the response shapes of the official SDK's models (tests/test_pipedream_parity.py has the SDK
parse them), plus a workflow endpoint, on one HTTP/1.1 keep-alive server:

    POST /v1/oauth/token                                   -> {"access_token", "token_type", "expires_in"}
    GET  /v1/connect/{pid}/projects/info                   -> {"apps": [{"id", "name_slug"}]}
    GET  /v1/connect/apps                                  -> {"data": [App], "page_info"}
    GET  /v1/connect/apps/{app_id or slug}                 -> {"data": App}
    POST /v1/connect/{pid}/tokens                          -> {"token", "expires_at", "connect_link_url"}
    GET  /v1/connect/{pid}/accounts                        -> {"data": [Account], "page_info"}
    GET  /v1/connect/{pid}/accounts/{id}                   -> Account (bare)
    DELETE /v1/connect/{pid}/accounts/{id}                 -> 204
    DELETE /v1/connect/{pid}/apps/{app}/accounts           -> 204
    DELETE /v1/connect/{pid}/users/{external_user_id}      -> 204
    GET  /v1/connect/{pid}/{components|actions|triggers}   -> {"data": [Component], "page_info"}
    GET  /v1/connect/{pid}/{type}/{key}                    -> {"data": Component}
    POST /v1/connect/{pid}/{type}/configure                -> {"options", "stringOptions", "observations",
                                                               "context", "errors"}
    POST /v1/connect/{pid}/{type}/props                    -> {"observations", "errors", "dynamicProps"}
    POST /v1/connect/{pid}/actions/run                     -> {"exports", "os", "ret", "stash_id"}
    POST /v1/connect/{pid}/triggers/deploy                 -> {"data": DeployedComponent}
    GET  /v1/connect/{pid}/deployed-triggers               -> {"data": [DeployedComponent], "page_info"}
    GET|PUT|DELETE .../deployed-triggers/{id}              -> {"data": DeployedComponent} / 204
    GET  .../deployed-triggers/{id}/events                 -> {"data": [{"e", "k", "ts", "id", "sum"}]}
    GET|PUT .../deployed-triggers/{id}/webhooks            -> {"webhook_urls", "webhooks"}
    GET|PUT .../deployed-triggers/{id}/pipelines           -> {"workflow_ids"}
    POST /v1/connect/rate_limits                           -> {"token"}
    GET|POST /v1/connect/projects, GET|PATCH|DELETE .../{id} -> {"data": [Project], "page_info"} / Project / 204
    POST /v1/connect/projects/{id}/logo                    -> 204 (a data URI, else 400)
    GET|PUT|DELETE /v1/connect/{pid}/webhook, POST .../webhook/regenerate_signing_key
                                                           -> {"data": Webhook or null} / 204
    GET  /v1/connect/usage?start_ts=&end_ts=               -> {"data": [ConnectUsage, one per day]}
    GET  /v1/connect/app_categories[/{id}]                 -> [AppCategory] / AppCategory
    GET|POST /v1/connect/{pid}/app_overrides, GET|PUT|DELETE .../{id}   -> AppOverride (lists paginated)
    GET|POST /v1/connect/{pid}/oauth_apps, GET|PUT|DELETE .../{id}      -> OauthApp (lists paginated)
    GET  /v1/connect/tokens/{ctok}/validate                -> {"success", "error", "app", "project_id", ...}
    GET  /v1/connect/{pid}/users                           -> {"data": [ExternalUser], "page_info"}
    GET  /v1/connect/{pid}/users/{external_user_id}/accounts -> [Account]
    POST /v1/connect/{pid}/accounts                        -> Account (from a Connect token and cfmap_json)
    GET  /v1/connect/{pid}/file_stash/download?s3_key=     -> the file's bytes (application/octet-stream)
    GET  .../deployed-triggers/{id}/webhooks/{hook}, POST .../reset_delivery_state,
         POST .../regenerate_signing_key                   -> {"data": webhook with signing_key}
    ANY  /v1/connect/{pid}/proxy/{base64url(url)}          -> an echo of what would be forwarded
    ANY  /wf/...                                           -> an echo of the workflow request

Behaviour worth knowing when writing a demo or a test against it:

* ``POST /v1/oauth/token`` takes JSON ``{"client_id", "client_secret", "grant_type":
  "client_credentials"}`` (a form body is accepted too), or a client assertion (RFC 7523:
  ``client_assertion_type``, ``client_assertion``) instead of the secret, whose claims are
  checked but not its signature. Wrong credentials: 401
  ``{"error": "invalid_client", "error_description": ...}``. Tokens live ``expires_in`` seconds
  (``start(expires_in=...)``, or set ``server.expires_in``); ``server.revoke_tokens()`` makes
  every issued token answer 401 from then on, as an expired or revoked token does.
* Every ``/v1/connect`` call needs ``Authorization: Bearer <issued token>`` (401
  ``{"error": ...}`` otherwise; a live Connect token is accepted on project paths for calls
  that name no other external user, and there the project segment may be left out) and
  ``x-pd-environment: development|production`` (400 otherwise, also when the environment is
  not one of ``start(environments=...)``). A wrong project id is 404. An unknown id is 404
  ``{"error": ...}``; a missing required field, a value of the wrong type, a non-JSON body or
  a JSON body without ``Content-Type: application/json`` is 400 ``{"error": ...}``; a known
  path with another method is 405.
* Lists are paginated like the API: ``limit`` (default 10, 1..100), ``after`` / ``before``
  cursors, ``page_info`` ``{count, total_count, start_cursor, end_cursor}``. A cursor is the
  unpadded base64url of an item id; ``end_cursor`` is null on the last page. There are 12
  apps, 8 accounts (4 of them ``user-1``'s), 9 components (6 actions, 3 triggers) and 3
  deployed triggers of ``user-1``.
* ``x-pd-rate-limit: <token from POST /v1/connect/rate_limits>`` is checked (400 if unknown)
  and enforced (429 with ``Retry-After`` once the window is used up).
* Proxy: both query parameters are required and the account must belong to the user. The
  target (base64url, padded or not, standard alphabet accepted too) is not fetched; the
  answer is ``{"method", "url", "headers", "body", "external_user_id", "account_id",
  "app"}`` where ``headers`` are the ``x-pd-proxy-`` headers with the prefix removed. A target
  path ending in ``/status/<code>`` answers that status with ``{"error": "upstream ..."}``, one
  ending in ``/text`` answers ``text/plain``, one ending in ``/empty`` answers 204.
* File Stash: ``stash/demo/report.csv`` (22 bytes) and ``stash/demo/empty.txt`` exist;
  ``large/<n>`` is ``n`` generated bytes (``_stash_bytes``); ``redirect/<key>`` answers 302 to
  ``http://localhost:<port>/stash-objects/<key>`` (another host name for this server, as a
  storage URL would be), which serves ``<key>`` without auth and refuses an Authorization
  header. The fixed deployed trigger's webhook is in ``penalty`` (4 failures), so
  ``reset_delivery_state`` has something to reset; the project has no webhook at first.
* Workflows: any method on ``/wf/...`` (no auth checked) answers ``{"method", "path",
  "query", "headers", "body"}`` (``path`` without the ``/wf`` root); ``/wf/.../not-found``
  answers 404 ``text/plain`` like a Connect lookup failure. Point a client at it with
  ``workflow_domain="127.0.0.1"`` and a full ``http://127.0.0.1:<port>/wf/...`` URL.
* Every response carries ``X-Request-ID`` (``req_000001``, ... per server). Generated ids and
  timestamps come from a generator with a fixed seed and ``start(clock=...)``, so recordings are
  reproducible.
* For tests: ``server.requests`` (every request: method, raw target, path, query, headers,
  body), ``server.counts`` (a Counter of ``(method, path)``), ``server.request_count``,
  ``server.token_requests``, ``server.connections`` (TCP connections accepted),
  ``server.fail_next(...)``, ``server.reset()``.

Use it from code::

    from pipedream_replica import start, stop
    server, base_url = start()   # http://127.0.0.1:<free port>; client demo-client / demo-secret
    client = SyncPipedreamClient("demo-client", "demo-secret", "proj_demo", "development",
                                 base_url=base_url)
    ...
    stop(server)

or from a shell: ``python replicas/pipedream_replica.py --port 8766``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import datetime
import hashlib
import json
import random
import re
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple, Union
from replica_http import ReplicaHandler, ReplicaServer, StartedReplicas
from urllib.parse import parse_qsl, quote, unquote, urlsplit

__all__ = [
    "PipedreamReplica",
    "ReceivedRequest",
    "start",
    "stop",
    "main",
    "cursor",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_PROJECT_ID",
]

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_CLIENT_ID = "demo-client"
DEFAULT_CLIENT_SECRET = "demo-secret"
DEFAULT_PROJECT_ID = "proj_demo"
ENVIRONMENTS = ("development", "production")
DEFAULT_PAGE_SIZE = 10
CONNECT_TOKEN_TTL = 14400  # seconds, the API's default and maximum
_EPOCH = 1735689600  # 2025-01-01T00:00:00Z: the fixed data's timestamps start here


def cursor(item_id: str) -> str:
    """The page cursor of an item: its id in base64url without padding, as the API does."""
    return base64.urlsafe_b64encode(item_id.encode("utf-8")).decode("ascii").rstrip("=")


def _uncursor(value: str) -> Optional[str]:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _stable_id(prefix: str, name: str, length: int = 7) -> str:
    """A fixed id that looks like the API's (``apn_BmhBJJm``), derived from a name."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    number = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    chars = []
    for _ in range(length):
        number, digit = divmod(number, len(alphabet))
        chars.append(alphabet[digit])
    return prefix + "_" + "".join(chars)


def _iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# ---------------------------------------------------------------------------------------------
# Fixed data
# ---------------------------------------------------------------------------------------------

# (slug, name, auth_type, categories, featured_weight)
_APP_ROWS = [
    ("slack", "Slack", "oauth", ["Communication"], 9000),
    ("github", "GitHub", "oauth", ["Developer Tools"], 8500),
    ("google_sheets", "Google Sheets", "oauth", ["Productivity"], 8000),
    ("notion", "Notion", "oauth", ["Productivity"], 7500),
    ("gmail", "Gmail", "oauth", ["Communication", "Email"], 7000),
    ("hubspot", "HubSpot", "oauth", ["CRM"], 6500),
    ("airtable_oauth", "Airtable", "oauth", ["Productivity", "Databases"], 6000),
    ("discord", "Discord", "oauth", ["Communication"], 5500),
    ("linear_app", "Linear", "oauth", ["Developer Tools"], 5000),
    ("openai", "OpenAI (ChatGPT)", "keys", ["AI"], 4500),
    ("stripe", "Stripe", "keys", ["Payments"], 4000),
    ("zendesk", "Zendesk", "oauth", ["Customer Support"], 3500),
]


def _category_id(name: str) -> str:
    return "appcat_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _make_apps() -> List[Dict[str, Any]]:
    apps = []
    for slug, name, auth_type, categories, weight in _APP_ROWS:
        app_id = _stable_id("app", slug, 6)
        custom_fields = [] if auth_type == "oauth" else [{"name": "api_key", "label": "API Key", "type": "password"}]
        app: Dict[str, Any] = {
            "id": app_id,
            "name_slug": slug,
            "name": name,
            "auth_type": auth_type,
            "description": "%s's API, through Pipedream Connect." % name,
            "img_src": "https://assets.pipedream.net/s.v0/%s/logo/orig" % app_id,
            "custom_fields_json": json.dumps(custom_fields),
            "categories": list(categories),
            "featured_weight": weight,
        }
        # Required by the official model (types/app.py), empty for apps without OAuth.
        app["scope_profiles"] = (
            [
                {"name": "read_only", "scopes": ["%s:read" % slug]},
                {"name": "read_write", "scopes": ["%s:read" % slug, "%s:write" % slug]},
            ]
            if auth_type == "oauth"
            else []
        )
        app["oauth_app_id"] = _stable_id("oa", slug, 6) if slug in ("slack", "github") else None
        apps.append(app)
    return apps


def _prop(name: str, type_: str, label: str, **extra: Any) -> Dict[str, Any]:
    return dict(name=name, type=type_, label=label, **extra)


# (key, app slug, component_type, name, props beyond the app prop)
_COMPONENT_ROWS = [
    (
        "slack-send-message",
        "slack",
        "action",
        "Send Message",
        [_prop("conversation", "string", "Channel", remoteOptions=True), _prop("text", "string", "Message Text")],
    ),
    ("slack-list-channels", "slack", "action", "List Channels", []),
    (
        "slack-new-message-in-channels",
        "slack",
        "trigger",
        "New Message In Channels (Instant)",
        [_prop("conversations", "string[]", "Channels", remoteOptions=True)],
    ),
    (
        "github-create-issue",
        "github",
        "action",
        "Create Issue",
        [
            _prop("repoFullname", "string", "Repository", remoteOptions=True, reloadProps=True),
            _prop("title", "string", "Title"),
            _prop("body", "string", "Description", optional=True),
        ],
    ),
    (
        "github-new-commit",
        "github",
        "trigger",
        "New Commit (Instant)",
        [_prop("repoFullname", "string", "Repository", remoteOptions=True)],
    ),
    (
        "google_sheets-add-single-row",
        "google_sheets",
        "action",
        "Add Single Row",
        [
            _prop("sheetId", "string", "Spreadsheet", remoteOptions=True, reloadProps=True),
            _prop("worksheetId", "string", "Worksheet", remoteOptions=True),
        ],
    ),
    (
        "notion-create-page",
        "notion",
        "action",
        "Create Page",
        [_prop("parent", "string", "Parent Page", remoteOptions=True), _prop("title", "string", "Page Title")],
    ),
    (
        "gmail-send-email",
        "gmail",
        "action",
        "Send Email",
        [_prop("to", "string[]", "To"), _prop("subject", "string", "Subject"), _prop("body", "string", "Body")],
    ),
    ("gmail-new-email-received", "gmail", "trigger", "New Email Received", []),
]


def _make_components() -> List[Dict[str, Any]]:
    components = []
    for key, app, component_type, name, props in _COMPONENT_ROWS:
        components.append(
            {
                "key": key,
                "name": name,
                "version": "0.%d.%d" % (len(key) % 3, len(name) % 7),
                "configurable_props": [_prop(app, "app", app.replace("_", " ").title(), app=app)]
                + [dict(p) for p in props],
                "description": "%s with the %s app. [See the documentation](https://pipedream.com/apps/%s)"
                % (name, app, app.replace("_", "-")),
                "component_type": component_type,
                "stash": "optional" if component_type == "action" else None,
                "annotations": {
                    "destructiveHint": component_type == "action" and "send" in key,
                    "idempotentHint": "list" in key,
                    "openWorldHint": True,
                    "readOnlyHint": "list" in key,
                    "title": name,
                },
                "_app": app,  # internal: the app filter
            }
        )
    return components


# (owner, app slug, account name)
_ACCOUNT_ROWS = [
    ("user-1", "slack", "Acme Slack"),
    ("user-1", "github", "acme-dev"),
    ("user-1", "google_sheets", "alice@acme.example"),
    ("user-1", "notion", "Acme Wiki"),
    ("user-2", "slack", "Bolt Slack"),
    ("user-2", "gmail", "bob@bolt.example"),
    ("demo-user", "slack", "Demo Slack"),
    ("some-unique-user-id", "slack", "README Slack"),  # the example user of the README the client implements
]


def _make_accounts(apps_by_slug: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    accounts = []
    for index, (owner, slug, name) in enumerate(_ACCOUNT_ROWS):
        account_id = _stable_id("apn", owner + "/" + slug)
        created = _EPOCH + index * 86400
        accounts.append(
            {
                "id": account_id,
                "name": name,
                "external_id": owner,
                "healthy": True,
                "dead": False,
                "app": {k: v for k, v in apps_by_slug[slug].items() if not k.startswith("_")},
                "created_at": _iso(created),
                "updated_at": _iso(created + 3600),
                "authorized_scopes": ["%s:read" % slug, "%s:write" % slug],
                "expires_at": _iso(created + 7 * 86400),
                "error": None,
                "last_refreshed_at": _iso(created + 3600),
                "next_refresh_at": _iso(created + 5400),
                "_credentials": {
                    "oauth_client_id": "replica-oauth-client-" + slug,
                    "oauth_access_token": "replica-upstream-token-" + account_id,
                    "oauth_refresh_token": "replica-upstream-refresh-" + account_id,
                    "oauth_uid": owner + "@" + slug,
                    "oauth_signer_uri": None,
                },
            }
        )
    return accounts


def _make_deployed(project_id: str, components: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    rows: List[Tuple[str, str, Dict[str, Any]]] = [
        ("user-1", "slack-new-message-in-channels", {"conversations": ["C0123"]}),
        ("user-1", "github-new-commit", {"repoFullname": "acme/api"}),
        ("user-1", "gmail-new-email-received", {}),
    ]
    deployed = []
    for index, (owner, key, props) in enumerate(rows):
        component = components[key]
        app = component["_app"]
        created = (_EPOCH + (index + 1) * 86400) * 1000
        dc_id = _stable_id("dc", "%s/%s" % (owner, key))
        deployed.append(
            _deployed_component(
                project_id,
                dc_id,
                owner,
                component,
                dict({app: {"authProvisionId": _stable_id("apn", owner + "/" + app)}}, **props),
                "%s %d" % (component["name"], index + 1),
                created,
                emit_on_deploy=True,
            )
        )
        deployed[-1]["_webhook_urls"] = ["https://hooks.example.com/%s" % dc_id] if index == 0 else []
        deployed[-1]["_workflow_ids"] = ["p_%s" % _stable_id("wf", dc_id, 6)[3:]] if index == 1 else []
        deployed[-1]["_events"] = [
            {
                "e": {"text": "event %d of %s" % (n, key)},
                "k": "emit",
                "ts": created + n * 60000,
                "id": "%d-%d" % (created + n * 60000, n),
                "sum": "Event %d" % n,
            }
            for n in range(3, 0, -1)
        ]
    return deployed


def _deployed_component(
    project_id: str,
    dc_id: str,
    owner: str,
    component: Dict[str, Any],
    configured_props: Any,
    name: str,
    created_ms: int,
    emit_on_deploy: bool,
) -> Dict[str, Any]:
    return {
        "type": "DeployedComponent",
        "id": dc_id,
        "owner_id": _stable_id("exu", project_id + "/" + owner),
        "component_id": _stable_id("sc", component["key"]),
        "component_key": component["key"],
        "configurable_props": [dict(p) for p in component["configurable_props"]],
        "configured_props": configured_props,
        "active": True,
        "created_at": created_ms,
        "updated_at": created_ms,
        "name": name,
        "name_slug": re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
        "callback_observations": None,
        "emit_on_deploy": emit_on_deploy,
        "_owner": owner,
        "_webhook_urls": [],
        "_workflow_ids": [],
        "_events": [],
    }


_CATEGORY_DESCRIPTIONS = {
    "AI": "Models and assistants",
    "CRM": "Customers, deals and pipelines",
    "Communication": "Chat, messaging and calls",
    "Customer Support": "Tickets and help desks",
    "Databases": "Tables, records and queries",
    "Developer Tools": "Code, issues and deployments",
    "Email": "Mailboxes and sending",
    "Payments": "Charges, invoices and subscriptions",
    "Productivity": "Documents, spreadsheets and notes",
}


def _make_app_categories() -> List[Dict[str, Any]]:
    names = sorted({c for row in _APP_ROWS for c in row[3]})
    return [{"id": _category_id(n), "name": n, "description": _CATEGORY_DESCRIPTIONS.get(n)} for n in names]


def _app_view(app: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in app.items() if not k.startswith("_")}


def _make_app_overrides(project_id: str, apps: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    rows = [
        ("slack", "Acme Slack workspace", {"subdomain": "acme"}),
        ("zendesk", "Acme Zendesk", {"subdomain": "acme-support"}),
        ("github", "GitHub Enterprise", {"base_url": "https://github.acme.example"}),
    ]
    overrides = []
    for index, (slug, name, cfmap) in enumerate(rows):
        created = _EPOCH + (index + 1) * 7200
        overrides.append(
            {
                "id": _stable_id("ao", project_id + "/" + slug),
                "name": name,
                "app": _app_view(apps[slug]),
                "oauth_app_id": apps[slug]["oauth_app_id"],
                "cfmap": cfmap,
                "owner_id": _stable_id("o", project_id),
                "created_at": _iso(created),
                "updated_at": _iso(created),
            }
        )
    return overrides


def _make_oauth_apps(project_id: str, apps: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    oauth_apps = []
    for index, slug in enumerate(("slack", "github")):
        created = _EPOCH + (index + 1) * 5400
        oauth_apps.append(
            dict(
                _app_view(apps[slug]),
                id=apps[slug]["oauth_app_id"],
                name="%s (Acme)" % apps[slug]["name"],
                client_id="replica-%s-client-id" % slug,
                scopes=list(apps[slug]["scope_profiles"][0]["scopes"]),
                additional_scopes=[],
                redirect_uri="https://api.pipedream.com/connect/oauth/%s/callback" % apps[slug]["oauth_app_id"],
                owner_id=_stable_id("o", project_id),
                created_at=_iso(created),
                updated_at=_iso(created),
                _client_secret="replica-%s-client-secret" % slug,
            )
        )
    return oauth_apps


def _make_projects(project_id: str) -> List[Dict[str, Any]]:
    return [
        {
            "id": project_id,
            "name": "Demo project",
            "app_name": "Acme",
            "support_email": "support@acme.example",
            "connect_require_key_auth_test": False,
        },
        {
            "id": _stable_id("proj", "staging"),
            "name": "Staging",
            "app_name": "Acme (staging)",
            "support_email": None,
            "connect_require_key_auth_test": True,
        },
        {
            "id": _stable_id("proj", "internal-tools"),
            "name": "Internal tools",
            "app_name": None,
            "support_email": None,
            "connect_require_key_auth_test": False,
        },
    ]


def _stash_bytes(size: int) -> bytes:
    """``size`` bytes of a fixed pattern: large File Stash downloads without storing them."""
    block = bytes(range(256)) * 256  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


# File Stash objects (s3 key -> content). "large/<n>" keys hold n generated bytes and
# "redirect/<key>" answers with a redirect to a storage host (see _download_file).
_STASH_FILES = {
    "stash/demo/report.csv": b"id,name\n1,Alice\n2,Bob\n",
    "stash/demo/empty.txt": b"",
}


def _public(item: Dict[str, Any]) -> Dict[str, Any]:
    """An item without the replica's own bookkeeping fields (those starting with ``_``)."""
    return {k: v for k, v in item.items() if not k.startswith("_")}


# ---------------------------------------------------------------------------------------------
# Requests and errors
# ---------------------------------------------------------------------------------------------


@dataclass
class ReceivedRequest:
    """One request as the replica received it."""

    method: str
    target: str  # the raw request target, e.g. /v1/connect/proj_demo/users/team%2Falice?x=1
    path: str  # target without the query, still percent-encoded
    query: List[Tuple[str, str]]  # decoded pairs, in order, repeated keys kept
    headers: Dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def query_dict(self) -> Dict[str, Union[str, List[str]]]:
        """The query as a dict: one value as a string, a repeated key as a list."""
        out: Dict[str, Any] = {}
        for key, value in self.query:
            if key in out:
                out[key] = (out[key] if isinstance(out[key], list) else [out[key]]) + [value]
            else:
                out[key] = value
        return out


class _Answer(Exception):
    """A response raised from inside a route: ``raise _Answer(404, {"error": ...})``."""

    def __init__(
        self,
        status: int,
        data: Any = None,
        headers: Optional[Dict[str, str]] = None,
        content_type: str = "application/json",
    ) -> None:
        super().__init__(status)
        self.status = status
        self.data = data
        self.headers = headers or {}
        self.content_type = content_type


def _error(status: int, message: str, **extra: Any) -> _Answer:
    return _Answer(status, dict({"error": message}, **extra))


class _Call:
    """The parsed request handed to a route."""

    def __init__(self, request: ReceivedRequest, params: Dict[str, str]) -> None:
        self.request = request
        self.params = params
        self.query = request.query_dict()
        self._body: Any = None
        self._parsed = False

    def q(self, name: str, required: bool = False) -> Optional[str]:
        value = self.query.get(name)
        if isinstance(value, list):
            value = value[-1]
        if required and not value:
            raise _error(400, "%s is required" % name)
        return value

    def q_list(self, name: str) -> List[str]:
        value = self.query.get(name)
        return [] if value is None else value if isinstance(value, list) else [value]

    def q_bool(self, name: str) -> Optional[bool]:
        value = self.q(name)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise _error(400, "%s must be true or false, got %r" % (name, value))
        return value == "true"

    def q_int(self, name: str, low: int, high: int) -> Optional[int]:
        value = self.q(name)
        if value is None:
            return None
        if not re.fullmatch(r"\d+", value) or not low <= int(value) <= high:
            raise _error(400, "%s must be an integer from %d to %d, got %r" % (name, low, high, value))
        return int(value)

    def q_choice(self, name: str, choices: Tuple[str, ...]) -> Optional[str]:
        value = self.q(name)
        if value is not None and value not in choices:
            raise _error(400, "%s must be one of %s, got %r" % (name, ", ".join(choices), value))
        return value

    def body(self) -> Dict[str, Any]:
        """The JSON object body (400 if absent, not JSON, not an object or mislabelled)."""
        if not self._parsed:
            raw = self.request.body
            if not raw:
                raise _error(400, "a JSON body is required")
            content_type = self.request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                raise _error(400, "Content-Type must be application/json, got %r" % (content_type or None))
            try:
                self._body = json.loads(raw)
            except ValueError:
                raise _error(400, "the body is not valid JSON") from None
            if not isinstance(self._body, dict):
                raise _error(400, "the body must be a JSON object")
            self._parsed = True
        return self._body  # type: ignore[no-any-return]

    def field(self, name: str, kind: Union[type, Tuple[type, ...]] = str, required: bool = False) -> Any:
        body = self.body()
        if name not in body or body[name] is None:
            if required:
                raise _error(400, "%s is required" % name)
            return None
        value = body[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise _error(400, "%s must be %s" % (name, " or ".join(k.__name__ for k in kinds)))
        if required and isinstance(value, str) and not value.strip():
            raise _error(400, "%s must not be empty" % name)
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise _error(400, "%s must be a list of strings" % name)
        return value


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------

_PID = r"(?P<pid>[^/]+)"
_CTYPE = r"(?P<ctype>components|actions|triggers)"
_DC = r"/v1/connect/" + _PID + r"/deployed-triggers/(?P<dc>[^/]+)"
_ANY_METHOD = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")


class PipedreamReplica(ReplicaServer):
    """A server that answers like the Pipedream Connect API."""

    thread_name = "pipedream-replica"
    poll_interval = 0.01  # stop() waits up to one interval, once per test
    request_queue_size = 128  # tests open 50 connections at once

    def __init__(
        self,
        address: Tuple[str, int],
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        project_id: str = DEFAULT_PROJECT_ID,
        *,
        expires_in: int = 3600,
        environments: Tuple[str, ...] = ENVIRONMENTS,
        page_size: int = DEFAULT_PAGE_SIZE,
        clock: Optional[Callable[[], float]] = None,
        seed: int = 0,
        verbose: bool = False,
    ) -> None:
        super().__init__(address, _Handler, verbose)
        self.client_id = client_id
        self.client_secret = client_secret
        self.project_id = project_id
        self.expires_in = expires_in
        self.environments = tuple(environments)
        self.page_size = page_size
        self.clock = clock or time.time
        self._rng = random.Random(seed)
        self.counts: "collections.Counter[Tuple[str, str]]" = collections.Counter()
        self.token_requests = 0
        self.tokens: Dict[str, float] = {}  # issued access token -> expiry (clock time)
        self.revoked: "set[str]" = set()
        self.assertion_ids: "set[str]" = set()  # client assertions' jti seen, each usable once
        self.rate_limits: Dict[str, Dict[str, Any]] = {}
        self.apps = _make_apps()
        self.components = _make_components()
        components_by_key = {c["key"]: c for c in self.components}
        self.accounts = _make_accounts({a["name_slug"]: a for a in self.apps})
        self.deployed = _make_deployed(project_id, components_by_key)
        known_users = sorted({a["external_id"] for a in self.accounts} | {d["_owner"] for d in self.deployed})
        # external user id -> created (epoch seconds), in creation order
        self.users: Dict[str, float] = {u: float(_EPOCH + i * 3600) for i, u in enumerate(known_users)}
        self.connect_tokens: Dict[str, Dict[str, Any]] = {}
        self.app_categories = _make_app_categories()
        self.app_overrides = _make_app_overrides(project_id, {a["name_slug"]: a for a in self.apps})
        self.oauth_apps = _make_oauth_apps(project_id, {a["name_slug"]: a for a in self.apps})
        self.projects = _make_projects(project_id)
        self.project_webhook: Optional[Dict[str, Any]] = None
        self.stash_files: Dict[str, bytes] = dict(_STASH_FILES)
        # The fixed webhook has been failing: reset_delivery_state has something to reset.
        failing = self._webhook(self.deployed[0], self.deployed[0]["_webhook_urls"][0])
        failing["delivery_state"] = {
            "state": "penalty",
            "since": failing["created_at"] + 86400,
            "last_error": "HTTP 502 from %s" % failing["url"],
            "consecutive_failures": 4,
            "sheds": 1,
        }
        self._routes = self._build_routes()

    # -- for tests and demos ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        address, port = self.server_address[:2]
        host = address.decode() if isinstance(address, bytes) else str(address)
        return "http://%s:%d" % ("[%s]" % host if ":" in host else host, port)

    def workflow_url(self, path: str = "") -> str:
        """A URL of the echoing workflow endpoint, e.g. ``workflow_url("orders?x=1")``."""
        return self.base_url + "/wf/" + path.lstrip("/")

    def count(self, method: str, path: str) -> int:
        """Requests received for ``method`` and raw (percent-encoded) ``path``."""
        with self.lock:
            return self.counts[(method, path)]

    def revoke_tokens(self) -> None:
        """Make every access token issued so far invalid (401), as after a revocation."""
        with self.lock:
            self.revoked.update(self.tokens)

    def reset(self) -> None:
        """Forget received requests, counters and scripted responses; request ids restart at 1.
        Data and issued tokens are kept."""
        with self.lock:
            super().reset()
            self.counts.clear()
            self.token_requests = 0

    # -- internals ----------------------------------------------------------------------------

    def _new_id(self, prefix: str, length: int = 7) -> str:
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        with self.lock:
            return prefix + "_" + "".join(self._rng.choice(alphabet) for _ in range(length))

    def _record(self, request: ReceivedRequest) -> str:
        with self.lock:
            self.counts[(request.method, request.path)] += 1
            return super()._record(request)

    def _build_routes(self) -> List[Tuple["re.Pattern[str]", Dict[str, Callable[[_Call], Any]], bool]]:
        """(path pattern, {method: handler}, needs auth) in match order."""
        p = "/v1/connect/" + _PID
        v2 = "/v2/connect/" + _PID
        table: List[Tuple[str, Dict[str, Callable[[_Call], Any]], bool]] = [
            (r"/v1/oauth/token", {"POST": self._oauth_token}, False),
            (r"/v1/connect/rate_limits", {"POST": self._create_rate_limit}, True),
            (r"/v1/connect/apps", {"GET": self._list_apps}, True),
            (r"/v1/connect/apps/(?P<app>[^/]+)", {"GET": self._get_app}, True),
            (r"/v1/connect/app_categories", {"GET": self._list_app_categories}, True),
            (r"/v1/connect/app_categories/(?P<category>[^/]+)", {"GET": self._get_app_category}, True),
            (r"/v1/connect/projects", {"GET": self._list_projects, "POST": self._create_project}, True),
            (
                r"/v1/connect/projects/(?P<project>[^/]+)",
                {"GET": self._get_project, "PATCH": self._update_project, "DELETE": self._delete_project},
                True,
            ),
            (r"/v1/connect/projects/(?P<project>[^/]+)/logo", {"POST": self._project_logo}, True),
            (r"/v1/connect/tokens/(?P<ctok>[^/]+)/validate", {"GET": self._validate_connect_token}, True),
            (r"/v1/connect/usage", {"GET": self._usage}, True),
            (r"/stash-objects/(?P<key>.+)", {"GET": self._storage_object}, False),
            (p + r"/projects/info", {"GET": self._project_info}, True),
            (p + r"/tokens", {"POST": self._create_connect_token}, True),
            (p + r"/accounts", {"GET": self._list_accounts, "POST": self._create_account}, True),
            (p + r"/accounts/(?P<account>[^/]+)", {"GET": self._get_account, "DELETE": self._delete_account}, True),
            (p + r"/apps/(?P<app>[^/]+)/accounts", {"DELETE": self._delete_accounts_by_app}, True),
            (p + r"/users", {"GET": self._list_users}, True),
            (p + r"/users/(?P<user>[^/]+)", {"DELETE": self._delete_user}, True),
            (p + r"/users/(?P<user>[^/]+)/accounts", {"GET": self._accounts_of_user}, True),
            (p + r"/app_overrides", {"GET": self._list_app_overrides, "POST": self._create_app_override}, True),
            (
                p + r"/app_overrides/(?P<id>[^/]+)",
                {"GET": self._get_app_override, "PUT": self._update_app_override, "DELETE": self._delete_app_override},
                True,
            ),
            (p + r"/oauth_apps", {"GET": self._list_oauth_apps, "POST": self._create_oauth_app}, True),
            (
                p + r"/oauth_apps/(?P<id>[^/]+)",
                {"GET": self._get_oauth_app, "PUT": self._update_oauth_app, "DELETE": self._delete_oauth_app},
                True,
            ),
            (
                p + r"/webhook",
                {
                    "GET": self._get_project_webhook,
                    "PUT": self._put_project_webhook,
                    "DELETE": self._delete_project_webhook,
                },
                True,
            ),
            (p + r"/webhook/regenerate_signing_key", {"POST": self._regenerate_project_webhook_key}, True),
            (p + r"/file_stash/download", {"GET": self._download_file}, True),
            (p + r"/actions/run", {"POST": self._run_action}, True),
            (p + r"/triggers/deploy", {"POST": self._deploy_trigger}, True),
            (p + "/" + _CTYPE, {"GET": self._list_components}, True),
            (p + "/" + _CTYPE + r"/configure", {"POST": self._configure}, True),
            (p + "/" + _CTYPE + r"/props", {"POST": self._reload_props}, True),
            (p + "/" + _CTYPE + r"/(?P<key>[^/]+)", {"GET": self._get_component}, True),
            (p + r"/deployed-triggers", {"GET": self._list_deployed}, True),
            (_DC, {"GET": self._get_deployed, "PUT": self._update_deployed, "DELETE": self._delete_deployed}, True),
            (_DC + r"/events", {"GET": self._deployed_events}, True),
            (_DC + r"/webhooks", {"GET": self._get_webhooks, "PUT": self._put_webhooks}, True),
            (_DC + r"/webhooks/(?P<hook>[^/]+)", {"GET": self._get_webhook}, True),
            (_DC + r"/webhooks/(?P<hook>[^/]+)/reset_delivery_state", {"POST": self._reset_webhook}, True),
            (_DC + r"/webhooks/(?P<hook>[^/]+)/regenerate_signing_key", {"POST": self._regenerate_webhook_key}, True),
            (_DC + r"/pipelines", {"GET": self._get_pipelines, "PUT": self._put_pipelines}, True),
            (v2 + r"/apps", {"GET": self._list_apps_v2}, True),
            (v2 + r"/apps/facets", {"GET": self._app_facets_v2}, True),
            (v2 + r"/apps/(?P<app>[^/]+)", {"GET": self._get_app_v2}, True),
            (v2 + r"/components", {"GET": self._list_components_v2}, True),
            (v2 + r"/components/facets", {"GET": self._component_facets_v2}, True),
            (v2 + r"/components/(?P<id>[^/]+)", {"GET": self._get_component_v2}, True),
            (p + r"/proxy/(?P<url64>[^/]+)", {m: self._proxy for m in _ANY_METHOD}, True),
            (r"/wf(?:/.*)?", {m: self._workflow for m in _ANY_METHOD}, False),
        ]
        return [(re.compile(pattern + r"\Z"), methods, auth) for pattern, methods, auth in table]

    def handle_request_data(self, request: ReceivedRequest) -> _Answer:
        """Route one request and return the answer (never raises). Called with a Connect token,
        a project path may leave the project out (``/v1/connect/accounts``): the token names it."""
        answer = self._route(request, request.path)
        if answer.status == 404 and request.path.startswith("/v1/connect/") and self._connect_token(request):
            if str(answer.data.get("error", "")).startswith("no route"):
                answer = self._route(request, "/v1/connect/" + quote(self.project_id, safe="") + request.path[11:])
        return answer

    def _connect_token(self, request: ReceivedRequest) -> Optional[Dict[str, Any]]:
        """The live Connect token this request is authorised with, if it is."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self.lock:
            found = self.connect_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        return found if found is not None and self.clock() < found["_expires_at"] else None

    def _route(self, request: ReceivedRequest, path: str) -> _Answer:
        for pattern, methods, needs_auth in self._routes:
            match = pattern.match(path)
            if match is None:
                continue
            if request.method not in methods:
                return _Answer(
                    405, {"error": "method %s not allowed" % request.method}, {"Allow": ", ".join(sorted(methods))}
                )
            params = {k: unquote(v, errors="replace") for k, v in match.groupdict().items()}
            try:
                if needs_auth:
                    self._check_auth(request, params)
                    if "pid" in params and params["pid"] != self.project_id:
                        raise _error(404, "project %s not found" % params["pid"])
                scripted = self._take_scripted(request.method, request.path)
                if scripted is not None:
                    return _Answer(scripted.status, scripted.body, scripted.headers, scripted.content_type)
                result = methods[request.method](_Call(request, params))
            except _Answer as answer:
                return answer
            if isinstance(result, _Answer):
                return result
            return _Answer(204) if result is None else _Answer(200, result)
        return _Answer(404, {"error": "no route for %s %s" % (request.method, request.path)})

    def _check_auth(self, request: ReceivedRequest, params: Dict[str, str]) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self.lock:
            expiry = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            valid = expiry is not None and token.strip() not in self.revoked and self.clock() < expiry
        connect_token = None if valid else self._connect_token(request)
        if connect_token is not None:
            # A Connect token acts for its one user, on project paths only.
            user = dict(request.query).get("external_user_id")
            if "pid" not in params or user not in (None, connect_token["external_user_id"]):
                raise _error(403, "a Connect token can only act for its own external user")
            valid = True
        if not valid:
            raise _error(401, "invalid or expired access token" if scheme else "the Authorization header is missing")
        environment = request.headers.get("x-pd-environment")
        if environment is None:
            raise _error(400, "the x-pd-environment header is required (development or production)")
        if environment not in self.environments:
            raise _error(
                400, "x-pd-environment must be one of %s, got %r" % (", ".join(self.environments), environment)
            )
        limit_token = request.headers.get("x-pd-rate-limit")
        if limit_token is not None:
            self._apply_rate_limit(limit_token)

    def _apply_rate_limit(self, token: str) -> None:
        with self.lock:
            limit = self.rate_limits.get(token)
            if limit is None:
                raise _error(400, "unknown x-pd-rate-limit token")
            now = self.clock()
            if now >= limit["window_start"] + limit["window_size_seconds"]:
                limit["window_start"], limit["used"] = now, 0
            if limit["used"] >= limit["requests_per_window"]:
                wait = max(1, int(limit["window_start"] + limit["window_size_seconds"] - now + 0.999))
                raise _Answer(429, {"error": "rate limit exceeded"}, {"Retry-After": str(wait)})
            limit["used"] += 1

    # -- paging -------------------------------------------------------------------------------

    def _page(self, call: _Call, items: List[Dict[str, Any]], id_key: str = "id") -> Dict[str, Any]:
        limit = call.q_int("limit", 1, 100) or self.page_size
        after, before = call.q("after"), call.q("before")
        ids = [item[id_key] for item in items]
        start, end = 0, len(items)
        for name, value in (("after", after), ("before", before)):
            if value:
                item_id = _uncursor(value)
                if item_id not in ids:
                    raise _error(400, "invalid %s cursor" % name)
                if name == "after":
                    start = ids.index(item_id) + 1
                else:
                    end = ids.index(item_id)
        if before and not after:
            start = max(start, end - limit)
        page = items[start : min(end, start + limit)]
        more = start + len(page) < len(items) and bool(page)
        return {
            "data": [_public(item) for item in page],
            "page_info": {
                "count": len(page),
                "total_count": len(items),
                "start_cursor": cursor(page[0][id_key]) if page else None,
                "end_cursor": cursor(page[-1][id_key]) if more else None,
            },
        }

    # -- routes: token, project, apps ---------------------------------------------------------

    def _oauth_token(self, call: _Call) -> Any:
        with self.lock:
            self.token_requests += 1
        content_type = call.request.headers.get("content-type", "").split(";")[0].strip().lower()
        body: Dict[str, Any]
        if content_type == "application/x-www-form-urlencoded":
            body = dict(parse_qsl(call.request.body.decode("utf-8", "replace")))
        else:
            try:
                body = call.body()
            except _Answer:
                raise _error(400, "invalid_request", error_description="a JSON body is required") from None
        if body.get("grant_type") != "client_credentials":
            raise _error(400, "unsupported_grant_type", error_description="grant_type must be client_credentials")
        if not body.get("client_id"):
            raise _error(400, "invalid_request", error_description="client_id is required")
        if "client_assertion" in body or "client_assertion_type" in body:
            self._check_client_assertion(call, body)
        elif body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            raise _error(401, "invalid_client", error_description="Client authentication failed")
        token = "pd_replica_" + self._new_id("at", 32)[3:]
        with self.lock:
            self.tokens[token] = self.clock() + self.expires_in
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}

    def _check_client_assertion(self, call: _Call, body: Dict[str, Any]) -> None:
        """RFC 7523 client authentication: a JWT with ``iss`` = ``sub`` = the client id, ``aud``
        = this server's origin, not expired, its ``jti`` never seen before. The signature is not
        checked: the replica holds no public key (and no crypto library)."""

        def refuse(why: str) -> _Answer:
            return _error(401, "invalid_client", error_description="Client authentication failed: " + why)

        if body.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise refuse("client_assertion_type must be " + CLIENT_ASSERTION_TYPE)
        parts = str(body.get("client_assertion", "")).split(".")
        try:
            header, claims = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in parts[:2])
        except (ValueError, binascii.Error):
            raise refuse("client_assertion is not a JWT") from None
        if len(parts) != 3 or not isinstance(header, dict) or not isinstance(claims, dict):
            raise refuse("client_assertion is not a JWT")
        if header.get("alg") not in ("ES256", "RS256"):
            raise refuse("the assertion must be signed with ES256 or RS256")
        origin = "http://" + call.request.headers.get("host", "")
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            raise refuse("iss and sub must be the client id")
        if claims.get("aud") != origin:
            raise refuse("aud must be %s" % origin)
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= time.time():
            raise refuse("the assertion has expired")
        jti = claims.get("jti")
        with self.lock:
            if not isinstance(jti, str) or not jti or jti in self.assertion_ids:
                raise refuse("jti is missing or was used before")
            self.assertion_ids.add(jti)

    def _create_rate_limit(self, call: _Call) -> Any:
        window = call.field("window_size_seconds", int, required=True)
        per_window = call.field("requests_per_window", int, required=True)
        if window < 1 or per_window < 1:
            raise _error(400, "window_size_seconds and requests_per_window must be positive")
        token = "rl_" + self._new_id("x", 24)[2:]
        with self.lock:
            self.rate_limits[token] = {
                "window_size_seconds": window,
                "requests_per_window": per_window,
                "window_start": self.clock(),
                "used": 0,
            }
        return {"token": token}

    def _project_info(self, call: _Call) -> Any:
        return {
            "apps": [
                {"id": app["oauth_app_id"], "name_slug": app["name_slug"]}
                if app["oauth_app_id"]
                else {"name_slug": app["name_slug"]}
                for app in self.apps[:3]
            ]
        }

    def _find_app(self, id_or_slug: str) -> Dict[str, Any]:
        for app in self.apps:
            if id_or_slug in (app["id"], app["name_slug"]):
                return app
        raise _error(404, "app %s not found" % id_or_slug)

    def _list_apps(self, call: _Call) -> Any:
        q = (call.q("q") or "").lower()
        flags = {name: call.q_bool(name) for name in ("has_components", "has_actions", "has_triggers")}
        sort_key = call.q_choice("sort_key", ("name", "name_slug", "featured_weight"))
        direction = call.q_choice("sort_direction", ("asc", "desc"))
        categories = set(call.q_list("category_ids"))
        apps = []
        for app in self.apps:
            kinds = {c["component_type"] for c in self.components if c["_app"] == app["name_slug"]}
            facts = {
                "has_components": bool(kinds),
                "has_actions": "action" in kinds,
                "has_triggers": "trigger" in kinds,
            }
            if q and q not in app["name"].lower() and q not in app["name_slug"]:
                continue
            if any(wanted is not None and facts[name] != wanted for name, wanted in flags.items()):
                continue
            if categories and not categories & {_category_id(c) for c in app["categories"]}:
                continue
            apps.append(app)
        if sort_key:
            apps.sort(
                key=lambda a: a[sort_key] if sort_key != "name" else a["name"].lower(), reverse=direction == "desc"
            )
        elif direction == "desc":
            apps.reverse()
        return self._page(call, apps)

    def _get_app(self, call: _Call) -> Any:
        return {"data": _public(self._find_app(call.params["app"]))}

    # -- routes: tokens, accounts, users ------------------------------------------------------

    def _create_connect_token(self, call: _Call) -> Any:
        user = call.field("external_user_id", str, required=True)
        if len(user) > 250:
            raise _error(400, "external_user_id must be at most 250 characters")
        call.field("allowed_origins", list)
        for name in ("success_redirect_uri", "error_redirect_uri", "webhook_uri", "scope", "app_id", "oauth_app_id"):
            call.field(name, str)
        call.field("allow_progressive_scopes", bool)
        expires_in = call.field("expires_in", int)
        if expires_in is not None and not 1 <= expires_in <= CONNECT_TOKEN_TTL:
            raise _error(400, "expires_in must be from 1 to %d seconds" % CONNECT_TOKEN_TTL)
        token = "ctok_" + self._new_id("x", 32)[2:].lower()
        with self.lock:
            self._add_user(user)
            self.connect_tokens[token] = dict(
                call.body(),
                _expires_at=self.clock() + (expires_in or CONNECT_TOKEN_TTL),
                _environment=call.request.headers.get("x-pd-environment"),
            )
        return {
            "token": token,
            "expires_at": _iso(self.clock() + (expires_in or CONNECT_TOKEN_TTL)),
            "connect_link_url": "https://pipedream.com/_static/connect.html?token=%s&connectLink=true" % token,
        }

    def _account_view(self, account: Dict[str, Any], include_credentials: Optional[bool]) -> Dict[str, Any]:
        view = _public(account)
        if include_credentials:
            view["credentials"] = dict(account["_credentials"])
        return view

    def _list_accounts(self, call: _Call) -> Any:
        user, app, oauth_app = call.q("external_user_id"), call.q("app"), call.q("oauth_app_id")
        include = call.q_bool("include_credentials")
        with self.lock:
            accounts = [
                a
                for a in self.accounts
                if (user is None or a["external_id"] == user)
                and (app is None or app in (a["app"]["id"], a["app"]["name_slug"]))
                and (oauth_app is None or a["app"]["oauth_app_id"] == oauth_app)
            ]
        page = self._page(call, accounts)
        by_id = {a["id"]: a for a in accounts}
        page["data"] = [self._account_view(by_id[a["id"]], include) for a in page["data"]]
        return page

    def _find_account(self, account_id: str) -> Dict[str, Any]:
        with self.lock:
            for account in self.accounts:
                if account["id"] == account_id:
                    return account
        raise _error(404, "account %s not found" % account_id)

    def _get_account(self, call: _Call) -> Any:
        include = call.q_bool("include_credentials")
        return self._account_view(self._find_account(call.params["account"]), include)

    def _delete_account(self, call: _Call) -> Any:
        account = self._find_account(call.params["account"])
        with self.lock:
            self.accounts.remove(account)
        return None

    def _delete_accounts_by_app(self, call: _Call) -> Any:
        app = self._find_app(call.params["app"])
        with self.lock:
            self.accounts = [a for a in self.accounts if a["app"]["id"] != app["id"]]
        return None

    def _delete_user(self, call: _Call) -> Any:
        user = call.params["user"]
        with self.lock:
            if user not in self.users:
                raise _error(404, "external user %s not found" % user)
            self.users.pop(user, None)
            self.accounts = [a for a in self.accounts if a["external_id"] != user]
            self.deployed = [d for d in self.deployed if d["_owner"] != user]
        return None

    # -- routes: components -------------------------------------------------------------------

    def _components_of(self, ctype: str) -> List[Dict[str, Any]]:
        if ctype == "components":
            return list(self.components)
        wanted = "action" if ctype == "actions" else "trigger"
        return [c for c in self.components if c["component_type"] == wanted]

    def _find_component(self, ctype: str, key: str) -> Dict[str, Any]:
        for component in self._components_of(ctype):
            if component["key"] == key:
                return component
        raise _error(404, "%s %s not found" % (ctype[:-1], key))

    def _list_components(self, call: _Call) -> Any:
        ctype = call.params["ctype"]
        q, app = (call.q("q") or "").lower(), call.q("app")
        registry = call.q_choice("registry", ("public", "private", "all"))
        component_type = call.q_choice("component_type", ("trigger", "action")) if ctype == "components" else None
        app_slug = self._find_app(app)["name_slug"] if app else None
        components = [
            c
            for c in self._components_of(ctype)
            if (not q or q in c["name"].lower() or q in c["key"])
            and (app_slug is None or c["_app"] == app_slug)
            and (component_type is None or c["component_type"] == component_type)
            and registry != "private"
        ]  # every replica component is public
        return self._page(call, components, id_key="key")

    def _get_component(self, call: _Call) -> Any:
        component = self._find_component(call.params["ctype"], call.params["key"])
        version = call.q("version")
        if version is not None and version != component["version"]:
            raise _error(404, "version %s of %s not found" % (version, component["key"]))
        return {"data": _public(component)}

    def _component_from_body(self, call: _Call) -> Dict[str, Any]:
        key = call.field("id", str, required=True)
        call.field("external_user_id", str, required=True)
        call.field("configured_props", dict)
        call.field("dynamic_props_id", str)
        call.field("version", str)
        call.field("blocking", bool)
        return self._find_component(call.params.get("ctype", "components"), key)

    def _configure(self, call: _Call) -> Any:
        component = self._component_from_body(call)
        prop_name = call.field("prop_name", str, required=True)
        page = call.field("page", int) or 0
        prev_context = call.field("prev_context", dict)
        query = call.field("query", str)
        props = {p["name"]: p for p in component["configurable_props"]}
        if prop_name not in props:
            raise _error(400, "prop %s not found in %s" % (prop_name, component["key"]))
        if page < 0:
            raise _error(400, "page must be >= 0")
        start = page * 3
        options = [
            {"label": "%s %d" % (props[prop_name]["label"], n + 1), "value": "%s-%d" % (prop_name, n + 1)}
            for n in range(start, start + 3)
        ]
        if query:
            options = [o for o in options if query.lower() in o["label"].lower()]
        return {
            "options": options,
            "stringOptions": None,
            "observations": [],
            "context": {"page": page + 1, "previous": prev_context},
            "errors": [],
        }

    def _reload_props(self, call: _Call) -> Any:
        component = self._component_from_body(call)
        configured = call.field("configured_props", dict) or {}
        extra = [
            _prop("column_%s" % name, "string", "Column for %s" % name, optional=True)
            for name in sorted(configured)
            if name != component["_app"]
        ]
        return {
            "observations": [],
            "errors": [],
            "dynamicProps": {
                "id": _stable_id("dyp", json.dumps(configured, sort_keys=True)),
                "configurableProps": [dict(p) for p in component["configurable_props"]] + extra,
            },
        }

    def _run_action(self, call: _Call) -> Any:
        key = call.field("id", str, required=True)
        user = call.field("external_user_id", str, required=True)
        configured = call.field("configured_props", dict) or {}
        call.field("dynamic_props_id", str)
        call.field("version", str)
        stash = call.body().get("stash_id")
        if stash is not None and not isinstance(stash, (str, bool)):
            raise _error(400, "stash_id must be a string or a boolean")
        component = self._find_component("actions", key)
        stash_id = self._new_id("stash", 10) if stash is True or stash == "NEW" else (stash or None)
        return {
            "exports": {"$summary": "Ran %s for %s" % (component["name"], user)},
            "os": [],
            "ret": {"ok": True, "action": key, "configured_props": configured},
            "stash_id": stash_id,
        }

    def _deploy_trigger(self, call: _Call) -> Any:
        key = call.field("id", str, required=True)
        user = call.field("external_user_id", str, required=True)
        configured = call.field("configured_props", dict) or {}
        call.field("dynamic_props_id", str)
        call.field("version", str)
        webhook_url = call.field("webhook_url", str)
        workflow_id = call.field("workflow_id", str)
        emit_on_deploy = call.field("emit_on_deploy", bool)
        component = self._find_component("triggers", key)
        now_ms = int(self.clock() * 1000)
        deployed = _deployed_component(
            self.project_id,
            self._new_id("dc"),
            user,
            component,
            configured,
            component["name"],
            now_ms,
            emit_on_deploy is not False,
        )
        deployed["_webhook_urls"] = [webhook_url] if webhook_url else []
        deployed["_workflow_ids"] = [workflow_id] if workflow_id else []
        view = _public(deployed)
        if webhook_url:
            view["webhook_signing_key"] = "whsec_" + self._new_id("x", 24)[2:]
        with self.lock:
            self.deployed.append(deployed)
            self._add_user(user)
        return {"data": view}

    # -- routes: deployed triggers ------------------------------------------------------------

    def _list_deployed(self, call: _Call) -> Any:
        user = call.q("external_user_id", required=True)
        emitter_type = call.q_choice("emitter_type", ("email", "http", "source", "timer")) or "source"
        with self.lock:
            items = [d for d in self.deployed if d["_owner"] == user and emitter_type == "source"]
        return self._page(call, items)

    def _find_deployed(self, call: _Call) -> Dict[str, Any]:
        user = call.q("external_user_id", required=True)
        with self.lock:
            for deployed in self.deployed:
                if deployed["id"] == call.params["dc"] and deployed["_owner"] == user:
                    return deployed
        raise _error(404, "deployed trigger %s not found for external user %s" % (call.params["dc"], user))

    def _get_deployed(self, call: _Call) -> Any:
        return {"data": _public(self._find_deployed(call))}

    def _delete_deployed(self, call: _Call) -> Any:
        deployed = self._find_deployed(call)
        call.q_bool("ignore_hook_errors")
        with self.lock:
            self.deployed.remove(deployed)
        return None

    def _update_deployed(self, call: _Call) -> Any:
        deployed = self._find_deployed(call)
        changes = {}
        for name, kind in (("active", bool), ("name", str), ("configured_props", dict), ("emit_on_deploy", bool)):
            value = call.field(name, kind) if call.request.body else None
            if value is not None:
                changes[name] = value
        with self.lock:
            deployed.update(changes)
            if "name" in changes:
                deployed["name_slug"] = re.sub(r"[^a-z0-9]+", "-", changes["name"].lower()).strip("-")
            deployed["updated_at"] = max(deployed["updated_at"] + 1, int(self.clock() * 1000))
        return {"data": _public(deployed)}

    def _deployed_events(self, call: _Call) -> Any:
        deployed = self._find_deployed(call)
        n = call.q_int("n", 1, 100) or 20
        return {"data": [dict(e) for e in deployed["_events"][:n]]}

    def _webhook(self, deployed: Dict[str, Any], url: str) -> Dict[str, Any]:
        """The full record of one of a deployed trigger's webhooks, made on first use."""
        with self.lock:
            states = deployed.setdefault("_webhook_state", {})
            if url not in states:
                since = deployed["created_at"] // 1000
                states[url] = {
                    "id": _stable_id("hook", deployed["id"] + url),
                    "url": url,
                    "signing_key": "whsec_" + _stable_id("k", deployed["id"] + url, 24)[2:],
                    "signing_key_set": True,
                    "active": True,
                    "delivery_backend": "jvm",
                    "delivery_state": {
                        "state": "happy",
                        "since": since,
                        "last_error": None,
                        "consecutive_failures": 0,
                        "sheds": 0,
                    },
                    "created_at": since,
                    "updated_at": since,
                }
            return states[url]

    def _webhooks_view(self, deployed: Dict[str, Any]) -> Dict[str, Any]:
        hooks = [self._webhook(deployed, url) for url in deployed["_webhook_urls"]]
        return {
            "webhook_urls": list(deployed["_webhook_urls"]),
            "webhooks": [
                {k: hook[k] for k in ("id", "url", "signing_key_set", "active", "delivery_backend", "delivery_state")}
                for hook in hooks
            ],
        }

    def _find_webhook(self, call: _Call) -> Dict[str, Any]:
        deployed = self._find_deployed(call)
        for url in deployed["_webhook_urls"]:
            hook = self._webhook(deployed, url)
            if hook["id"] == call.params["hook"]:
                return hook
        raise _error(404, "webhook %s not found for deployed trigger %s" % (call.params["hook"], deployed["id"]))

    def _get_webhook(self, call: _Call) -> Any:
        return {"data": dict(self._find_webhook(call))}

    def _reset_webhook(self, call: _Call) -> Any:
        hook = self._find_webhook(call)
        now = int(self.clock())
        with self.lock:
            hook["delivery_state"] = {
                "state": "happy",
                "since": now,
                "last_error": None,
                "consecutive_failures": 0,
                "sheds": 0,
            }
            hook["updated_at"] = now
        return {"data": dict(hook)}

    def _regenerate_webhook_key(self, call: _Call) -> Any:
        hook = self._find_webhook(call)
        with self.lock:
            hook["signing_key"] = "whsec_" + self._new_id("k", 24)[2:]
            hook["updated_at"] = int(self.clock())
        return {"data": dict(hook)}

    def _get_webhooks(self, call: _Call) -> Any:
        return self._webhooks_view(self._find_deployed(call))

    def _put_webhooks(self, call: _Call) -> Any:
        deployed = self._find_deployed(call)
        urls = call.field("webhook_urls", list, required=True)
        with self.lock:
            deployed["_webhook_urls"] = list(urls)
        return self._webhooks_view(deployed)

    def _get_pipelines(self, call: _Call) -> Any:
        return {"workflow_ids": list(self._find_deployed(call)["_workflow_ids"])}

    def _put_pipelines(self, call: _Call) -> Any:
        deployed = self._find_deployed(call)
        ids = call.field("workflow_ids", list, required=True)
        with self.lock:
            deployed["_workflow_ids"] = list(ids)
        return {"workflow_ids": list(ids)}

    # -- routes: users and accounts beyond the README's 28 methods -------------------------------

    def _add_user(self, user: str) -> None:
        with self.lock:
            self.users.setdefault(user, self.clock())

    def _user_view(self, user: str, created: float) -> Dict[str, Any]:
        return {
            "id": _stable_id("exu", self.project_id + "/" + user),
            "external_id": user,
            "created_at": _iso(created),
            "updated_at": _iso(created),
        }

    def _list_users(self, call: _Call) -> Any:
        q = (call.q("q") or "").lower()
        with self.lock:
            users = [self._user_view(u, c) for u, c in self.users.items() if q in u.lower()]
        return self._page(call, users)

    def _accounts_of_user(self, call: _Call) -> Any:
        user, app = call.params["user"], call.q("app")
        include = call.q_bool("include_credentials")
        with self.lock:
            accounts = [
                a
                for a in self.accounts
                if a["external_id"] == user and (app is None or app in (a["app"]["id"], a["app"]["name_slug"]))
            ]
        return [self._account_view(a, include) for a in accounts]

    def _create_account(self, call: _Call) -> Any:
        slug = call.field("app_slug", str, required=True)
        cfmap_json = call.field("cfmap_json", str, required=True)
        connect_token = call.field("connect_token", str, required=True)
        name = call.field("name", str)
        reconnect = call.field("account_id", str)
        call.field("app_override_id", str)
        with self.lock:
            token = self.connect_tokens.get(connect_token)
        if token is None or self.clock() >= token["_expires_at"]:
            raise _error(400, "connect_token is invalid or expired")
        user = token["external_user_id"]
        if call.q("external_user_id") not in (None, user):
            raise _error(400, "external_user_id does not match the connect token")
        try:
            credentials = json.loads(cfmap_json)
        except ValueError:
            raise _error(400, "cfmap_json must be a JSON object") from None
        if not isinstance(credentials, dict) or not credentials:
            raise _error(400, "cfmap_json must be a JSON object")
        app = self._find_app(slug)
        now = _iso(self.clock())
        if reconnect:
            account = self._find_account(reconnect)
            if account["external_id"] != user or account["app"]["id"] != app["id"]:
                raise _error(400, "account %s cannot be reconnected with this token and app" % reconnect)
        else:
            account = {
                "id": self._new_id("apn"),
                "name": name or "%s account" % app["name"],
                "external_id": user,
                "healthy": True,
                "dead": False,
                "app": _app_view(app),
                "created_at": now,
                "authorized_scopes": [],
                "expires_at": None,
                "error": None,
                "last_refreshed_at": None,
                "next_refresh_at": None,
            }
        with self.lock:
            account.update(updated_at=now, _credentials={k: v for k, v in credentials.items()})
            if name:
                account["name"] = name
            if not reconnect:
                self.accounts.append(account)
        return self._account_view(account, False)

    def _validate_connect_token(self, call: _Call) -> Any:
        with self.lock:
            token = self.connect_tokens.get(call.params["ctok"])
        if token is None:
            return {"success": False, "error": "invalid connect token"}
        if self.clock() >= token["_expires_at"]:
            return {"success": False, "error": "connect token expired"}
        app_ref = call.q("app_id") or token.get("app_id")
        project = self._find_project(self.project_id)
        result: Dict[str, Any] = {
            "success": True,
            "error": None,
            "app": _app_view(self._find_app(app_ref)) if app_ref else None,
            "oauth_app_id": call.q("oauth_app_id") or token.get("oauth_app_id"),
            "app_override_id": call.q("app_override_id"),
            "project_id": self.project_id,
            "project_environment": token["_environment"],
            "project_app_name": project["app_name"],
            "project_support_email": project["support_email"],
            "success_redirect_uri": token.get("success_redirect_uri"),
            "error_redirect_uri": token.get("error_redirect_uri"),
        }
        account_id = call.q("account_id")
        if account_id and self._find_account(account_id)["external_id"] != token["external_user_id"]:
            return {"success": False, "error": "account %s does not belong to this token's user" % account_id}
        return result

    # -- routes: app categories, app overrides, OAuth apps ------------------------------------

    def _list_app_categories(self, call: _Call) -> Any:
        return [dict(c) for c in self.app_categories]

    def _get_app_category(self, call: _Call) -> Any:
        for category in self.app_categories:
            if category["id"] == call.params["category"]:
                return dict(category)
        raise _error(404, "app category %s not found" % call.params["category"])

    def _find_in(self, items: List[Dict[str, Any]], item_id: str, what: str) -> Dict[str, Any]:
        with self.lock:
            for item in items:
                if item["id"] == item_id:
                    return item
        raise _error(404, "%s %s not found" % (what, item_id))

    def _list_app_overrides(self, call: _Call) -> Any:
        app = call.q("app")
        with self.lock:
            items = [o for o in self.app_overrides if app is None or app in (o["app"]["id"], o["app"]["name_slug"])]
        return self._page(call, items)

    def _create_app_override(self, call: _Call) -> Any:
        app = self._find_app(call.field("app", str, required=True))
        name = call.field("name", str, required=True)
        now = _iso(self.clock())
        override = {
            "id": self._new_id("ao"),
            "name": name,
            "app": _app_view(app),
            "oauth_app_id": call.field("oauth_app_id", str),
            "cfmap": call.field("cfmap", dict) or {},
            "owner_id": _stable_id("o", self.project_id),
            "created_at": now,
            "updated_at": now,
        }
        with self.lock:
            self.app_overrides.append(override)
        return dict(override)

    def _get_app_override(self, call: _Call) -> Any:
        return dict(self._find_in(self.app_overrides, call.params["id"], "app override"))

    def _update_app_override(self, call: _Call) -> Any:
        override = self._find_in(self.app_overrides, call.params["id"], "app override")
        body = call.body() if call.request.body else {}
        changes: Dict[str, Any] = {}
        for name, kind in (("name", str), ("cfmap", dict)):
            value = call.field(name, kind) if body else None
            if value is not None:
                changes[name] = value
        if "oauth_app_id" in body:  # null clears it
            changes["oauth_app_id"] = call.field("oauth_app_id", str)
        with self.lock:
            override.update(changes, updated_at=_iso(self.clock()))
        return dict(override)

    def _delete_app_override(self, call: _Call) -> Any:
        override = self._find_in(self.app_overrides, call.params["id"], "app override")
        with self.lock:
            self.app_overrides.remove(override)
        return None

    def _list_oauth_apps(self, call: _Call) -> Any:
        app, q = call.q("app"), (call.q("q") or "").lower()
        with self.lock:
            items = [
                o
                for o in self.oauth_apps
                if (app is None or app in (o["name_slug"], _stable_id("app", o["name_slug"], 6)))
                and (not q or q in o["name"].lower())
            ]
        return self._page(call, items)

    def _oauth_app_fields(self, call: _Call) -> Dict[str, Any]:
        fields: Dict[str, Any] = {}
        for name, kind in (
            ("client_id", str),
            ("client_secret", str),
            ("name", str),
            ("description", str),
            ("scopes", list),
            ("additional_scopes", list),
        ):
            value = call.field(name, kind)
            if value is not None and value != "":  # blank keeps the current value
                fields["_client_secret" if name == "client_secret" else name] = value
        return fields

    def _create_oauth_app(self, call: _Call) -> Any:
        app = self._find_app(call.field("app", str, required=True))
        fields = self._oauth_app_fields(call)
        now = _iso(self.clock())
        oauth_app_id = self._new_id("oa", 6)
        oauth_app = dict(
            _app_view(app),
            id=oauth_app_id,
            name=app["name"],
            client_id=None,
            scopes=[],
            additional_scopes=[],
            owner_id=_stable_id("o", self.project_id),
            created_at=now,
            redirect_uri="https://api.pipedream.com/connect/oauth/%s/callback" % oauth_app_id,
            updated_at=now,
            _client_secret=None,
        )
        oauth_app.update(fields)
        with self.lock:
            self.oauth_apps.append(oauth_app)
        return _public(oauth_app)

    def _get_oauth_app(self, call: _Call) -> Any:
        return _public(self._find_in(self.oauth_apps, call.params["id"], "OAuth app"))

    def _update_oauth_app(self, call: _Call) -> Any:
        oauth_app = self._find_in(self.oauth_apps, call.params["id"], "OAuth app")
        fields = self._oauth_app_fields(call) if call.request.body else {}
        with self.lock:
            oauth_app.update(fields, updated_at=_iso(self.clock()))
        return _public(oauth_app)

    def _delete_oauth_app(self, call: _Call) -> Any:
        oauth_app = self._find_in(self.oauth_apps, call.params["id"], "OAuth app")
        with self.lock:
            self.oauth_apps.remove(oauth_app)
        return None

    # -- routes: projects, project webhook, usage, file stash ---------------------------------

    def _find_project(self, project_id: str) -> Dict[str, Any]:
        return self._find_in(self.projects, project_id, "project")

    def _list_projects(self, call: _Call) -> Any:
        q = (call.q("q") or "").lower()
        with self.lock:
            items = [p for p in self.projects if q in p["name"].lower()]
        return self._page(call, items)

    def _project_fields(self, call: _Call, required: bool) -> Dict[str, Any]:
        fields: Dict[str, Any] = {}
        for name, kind in (
            ("name", str),
            ("app_name", str),
            ("support_email", str),
            ("connect_require_key_auth_test", bool),
        ):
            value = call.field(name, kind, required=required and name == "name")
            if value is not None:
                fields[name] = value
        return fields

    def _create_project(self, call: _Call) -> Any:
        fields = self._project_fields(call, True)
        project = {
            "id": self._new_id("proj"),
            "name": fields.pop("name"),
            "app_name": None,
            "support_email": None,
            "connect_require_key_auth_test": False,
        }
        project.update(fields)
        with self.lock:
            self.projects.append(project)
        return _public(project)

    def _get_project(self, call: _Call) -> Any:
        return _public(self._find_project(call.params["project"]))

    def _update_project(self, call: _Call) -> Any:
        project = self._find_project(call.params["project"])
        fields = self._project_fields(call, False) if call.request.body else {}
        with self.lock:
            project.update(fields)
        return _public(project)

    def _delete_project(self, call: _Call) -> Any:
        project = self._find_project(call.params["project"])
        with self.lock:
            self.projects.remove(project)
        return None

    def _project_logo(self, call: _Call) -> Any:
        project = self._find_project(call.params["project"])
        logo = call.field("logo", str, required=True)
        match = re.fullmatch(r"data:image/(png|jpeg|gif|svg\+xml|webp);base64,([A-Za-z0-9+/=]+)", logo)
        if not match:
            raise _error(400, "logo must be a data URI of a PNG, JPEG, GIF, SVG or WebP image")
        with self.lock:
            project["_logo"] = logo
        return None

    def _project_webhook_view(self, signing_key: bool) -> Dict[str, Any]:
        hook = self.project_webhook
        assert hook is not None
        return {k: v for k, v in hook.items() if k != "signing_key" or signing_key}

    def _get_project_webhook(self, call: _Call) -> Any:
        with self.lock:
            return {"data": self._project_webhook_view(False) if self.project_webhook else None}

    def _put_project_webhook(self, call: _Call) -> Any:
        url = call.field("url", str, required=True)
        if not re.match(r"https?://[^/\s]+", url):
            raise _error(400, "url must be an http(s) URL")
        now = int(self.clock())
        with self.lock:
            created = self.project_webhook is None
            if created:
                self.project_webhook = {
                    "id": self._new_id("hook"),
                    "url": url,
                    "signing_key_set": True,
                    "signing_key": "whsec_" + self._new_id("k", 24)[2:],
                    "created_at": now,
                    "updated_at": now,
                }
            else:
                self.project_webhook.update(url=url, updated_at=now)  # type: ignore[union-attr]
            return {"data": self._project_webhook_view(created)}  # the signing key only when created

    def _delete_project_webhook(self, call: _Call) -> Any:
        with self.lock:
            if self.project_webhook is None:
                raise _error(404, "the project has no webhook")
            self.project_webhook = None
        return None

    def _regenerate_project_webhook_key(self, call: _Call) -> Any:
        with self.lock:
            if self.project_webhook is None:
                raise _error(404, "the project has no webhook")
            self.project_webhook.update(signing_key="whsec_" + self._new_id("k", 24)[2:], updated_at=int(self.clock()))
            return {"data": self._project_webhook_view(True)}

    def _usage(self, call: _Call) -> Any:
        start, end = call.q_int("start_ts", 0, 2**40), call.q_int("end_ts", 0, 2**40)
        if start is None or end is None:
            raise _error(400, "start_ts and end_ts are required")
        if end <= start or end - start > 92 * 86400:
            raise _error(400, "end_ts must be after start_ts, at most 92 days later")
        buckets = []
        day = start - start % 86400
        while day < end:
            seed = int(hashlib.sha256(("%s/%d" % (self.project_id, day)).encode()).hexdigest()[:8], 16)
            actions, proxy, emits = seed % 50, seed // 50 % 30, seed // 1500 % 20
            buckets.append(
                {
                    "credits_used": actions + proxy + emits,
                    "action_run_credits_used": actions,
                    "proxy_credits_used": proxy,
                    "source_emit_credits_used": emits,
                    "usage_start_ts": max(day, start),
                    "usage_end_ts": min(day + 86400, end),
                }
            )
            day += 86400
        return {"data": buckets}

    def _download_file(self, call: _Call) -> Any:
        key = call.q("s3_key", required=True) or ""
        if key.startswith("redirect/"):
            # An object served by a storage host (here: this server under another name).
            host = "localhost" if self.server_address[0] != "localhost" else "127.0.0.1"
            location = "http://%s:%d/stash-objects/%s" % (host, self.server_address[1], quote(key[9:], safe="/"))
            raise _Answer(302, b"", {"Location": location}, content_type="text/plain")
        return _Answer(200, self._stash_object(key), content_type="application/octet-stream")

    def _stash_object(self, key: str) -> bytes:
        match = re.fullmatch(r"large/(\d{1,9})", key)
        if match:
            return _stash_bytes(int(match.group(1)))
        with self.lock:
            if key in self.stash_files:
                return self.stash_files[key]
        raise _error(404, "file %s not found in the File Stash" % key)

    def _storage_object(self, call: _Call) -> Any:
        if "authorization" in call.request.headers:
            raise _error(400, "storage URLs are presigned: no Authorization header")
        return _Answer(200, self._stash_object(call.params["key"]), content_type="application/octet-stream")

    # -- routes: the v2 catalogue (search documents, paged by number) --------------------------

    def _numbered_page(self, call: _Call, items: List[Dict[str, Any]]) -> Dict[str, Any]:
        per_page = call.q_int("limit", 1, 100) or self.page_size
        page = call.q_int("page", 1, 1000000) or 1
        chunk = items[(page - 1) * per_page : page * per_page]
        return {
            "data": chunk,
            "page_info": {"count": len(chunk), "page": page, "per_page": per_page, "total_count": len(items)},
        }

    def _app_document(self, app: Dict[str, Any]) -> Dict[str, Any]:
        kinds = {c["component_type"] for c in self.components if c["_app"] == app["name_slug"]}
        return {
            "id": app["id"],
            "name_slug": app["name_slug"],
            "name": app["name"],
            "auth_type": app["auth_type"],
            "category_name": app["categories"][0],
            "categories": list(app["categories"]),
            "description": app["description"],
            "featured_weight": app["featured_weight"],
            "has_actions": "action" in kinds,
            "has_triggers": "trigger" in kinds,
            "img_src": app["img_src"],
        }

    @staticmethod
    def _facets(documents: List[Dict[str, Any]], fields: Tuple[str, ...]) -> Dict[str, Any]:
        facets: Dict[str, Any] = {}
        for name in fields:
            counts: Dict[str, int] = {}
            for document in documents:
                counts[document[name]] = counts.get(document[name], 0) + 1
            ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            facets[name] = [{"value": value, "count": count} for value, count in ranked]
        return {"data": facets}

    def _list_apps_v2(self, call: _Call) -> Any:
        if call.q("has_private_components") is not None:
            raise _error(501, "has_private_components is not supported yet")
        q = (call.q("q") or "").lower()
        category, auth_type = call.q("category_name"), call.q("auth_type")
        # The first present of has_components > has_actions > has_triggers applies; a false-like
        # value selects the apps without.
        flag = next(
            (name for name in ("has_components", "has_actions", "has_triggers") if call.q(name) is not None), None
        )
        wanted = flag is not None and call.q(flag) not in ("false", "0", "f", "off", "")
        documents = []
        for app in sorted(self.apps, key=lambda a: -a["featured_weight"]):
            document = self._app_document(app)
            if q and q not in app["name"].lower() and q not in app["name_slug"]:
                continue
            if category and category not in app["categories"] or auth_type and auth_type != app["auth_type"]:
                continue
            if flag is not None:
                has = {
                    "has_components": document["has_actions"] or document["has_triggers"],
                    "has_actions": document["has_actions"],
                    "has_triggers": document["has_triggers"],
                }[flag]
                if has != wanted:
                    continue
            documents.append(document)
        return self._numbered_page(call, documents)

    def _app_facets_v2(self, call: _Call) -> Any:
        return self._facets([self._app_document(app) for app in self.apps], ("category_name", "auth_type"))

    def _get_app_v2(self, call: _Call) -> Any:
        wanted = call.params["app"]
        key = "id" if wanted.startswith("app_") else "name_slug"
        for app in self.apps:
            if app[key] == wanted:
                return {"data": self._app_document(app)}
        raise _error(404, "app %s not found" % wanted)

    @staticmethod
    def _component_document(component: Dict[str, Any]) -> Dict[str, Any]:
        document = _public(component)
        document.update(
            id=_stable_id("pc", component["key"]),
            app_name_slug=component["_app"],
            component_type="action" if component["component_type"] == "action" else "source",
        )
        return document

    def _visible_components(self, call: _Call) -> List[Dict[str, Any]]:
        registry = call.q_choice("registry", ("public", "private", "all"))
        # every replica component is public
        return [] if registry == "private" else [self._component_document(c) for c in self.components]

    def _list_components_v2(self, call: _Call) -> Any:
        q = (call.q("q") or "").lower()
        kinds = {"action": "action", "actions": "action", "trigger": "source", "triggers": "source"}
        component_type = call.q("component_type")
        if component_type is not None and component_type not in kinds:
            raise _error(400, "component_type must be action or trigger, got %r" % component_type)
        apps = set(filter(None, (call.q("app") or "").split(",")))
        documents = [
            d
            for d in self._visible_components(call)
            if (not q or q in d["name"].lower() or q in d["key"])
            and (component_type is None or d["component_type"] == kinds[component_type])
            and (not apps or d["app_name_slug"] in apps)
        ]
        return self._numbered_page(call, documents)

    def _component_facets_v2(self, call: _Call) -> Any:
        return self._facets(self._visible_components(call), ("component_type", "app_name_slug"))

    def _get_component_v2(self, call: _Call) -> Any:
        wanted = call.params["id"]
        for document in self._visible_components(call):
            if document["id"] == wanted:
                return {"data": document}
        raise _error(404, "component %s not found" % wanted)

    # -- routes: proxy and workflows ----------------------------------------------------------

    def _proxy(self, call: _Call) -> Any:
        user = call.q("external_user_id", required=True) or ""
        account_id = call.q("account_id", required=True) or ""
        encoded = unquote(call.params["url64"]).replace("+", "-").replace("/", "_")
        try:
            target = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded.rstrip("=")) % 4)).decode("utf-8")
        except (binascii.Error, ValueError):
            raise _error(400, "the proxy URL is not base64url-encoded") from None
        parts = urlsplit(target)
        if not (parts.scheme in ("http", "https") and parts.hostname) and not target.startswith("/"):
            raise _error(400, "the proxy target must be an absolute http(s) URL or a path, got %r" % target)
        account = self._find_account(account_id)
        if account["external_id"] != user:
            raise _error(404, "account %s not found for external user %s" % (account_id, user))
        headers = {}
        for name, value in call.request.headers.items():
            if name.startswith("x-pd-proxy-"):
                headers[name[len("x-pd-proxy-") :]] = value
        raw = call.request.body
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        status_match = re.search(r"/status/(\d{3})\Z", parts.path)
        if status_match:
            status = int(status_match.group(1))
            raise _Answer(status, {"error": "upstream answered %d" % status, "url": target})
        if parts.path.endswith("/text"):
            raise _Answer(200, "plain text from %s" % target, content_type="text/plain; charset=utf-8")
        if parts.path.endswith("/empty"):
            return None
        return {
            "method": call.request.method,
            "url": target,
            "headers": headers,
            "body": body,
            "external_user_id": user,
            "account_id": account_id,
            "app": account["app"]["name_slug"],
        }

    def _workflow(self, call: _Call) -> Any:
        request = call.request
        if request.path.endswith("/not-found"):
            raise _Answer(
                404,
                "Pipedream Connect Error: Required account for hubspot not found for external user ID "
                "%s in %s"
                % (
                    request.headers.get("x-pd-external-user-id", "(none)"),
                    request.headers.get("x-pd-environment", "(none)"),
                ),
                content_type="text/plain; charset=utf-8",
            )
        raw = request.body
        body: Any = None
        if raw:
            content_type = request.headers.get("content-type", "")
            if "json" in content_type:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise _error(400, "the body is not valid JSON") from None
            else:
                body = raw.decode("utf-8", "replace")
        # The path as the workflow sees it: relative to the workflow's root, /wf here.
        return {
            "method": request.method,
            "path": request.path[len("/wf") :] or "/",
            "query": request.query_dict(),
            "headers": dict(request.headers),
            "body": body,
        }


class _Handler(ReplicaHandler):
    server_version = "pipedream-replica/1.0"
    server: PipedreamReplica

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def _handle(self, method: str) -> None:
        body = self._read_body()
        target = self.path
        path, _, query = target.partition("?")
        request = ReceivedRequest(
            method=method,
            target=target,
            path=path,
            query=parse_qsl(query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        request_id = self.server._record(request)
        answer = self.server.handle_request_data(request)
        self._send(answer, request_id)

    def _send(self, answer: _Answer, request_id: str) -> None:
        if isinstance(answer.data, bytes):
            payload = answer.data
        elif isinstance(answer.data, str) and not answer.content_type.startswith("application/json"):
            payload = answer.data.encode("utf-8")
        elif answer.status == 204:
            payload = b""
        else:
            payload = json.dumps(answer.data).encode("utf-8")
        self.send_response(answer.status)
        if answer.status != 204:
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Request-ID", request_id)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and answer.status != 204:
            self.wfile.write(payload)


# ---------------------------------------------------------------------------------------------
# start / stop / command line
# ---------------------------------------------------------------------------------------------

_started = StartedReplicas()


def start(
    port: int = 0,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    project_id: str = DEFAULT_PROJECT_ID,
    *,
    host: str = "127.0.0.1",
    expires_in: int = 3600,
    environments: Tuple[str, ...] = ENVIRONMENTS,
    page_size: int = DEFAULT_PAGE_SIZE,
    clock: Optional[Callable[[], float]] = None,
    seed: int = 0,
    verbose: bool = False,
) -> Tuple[PipedreamReplica, str]:
    """Start a replica in a background thread; return ``(server, base_url)``.

    ``port=0`` picks a free port. The server accepts one OAuth client (``client_id`` /
    ``client_secret``) and one project; tokens it issues last ``expires_in`` seconds of
    ``clock()`` (default ``time.time``)."""
    server = PipedreamReplica(
        (host, port),
        client_id,
        client_secret,
        project_id,
        expires_in=expires_in,
        environments=environments,
        page_size=page_size,
        clock=clock,
        seed=seed,
        verbose=verbose,
    ).start_background()
    return _started.add(server), server.base_url


def stop(server: Optional[PipedreamReplica] = None) -> None:
    """Stop ``server``, or every replica started by ``start()`` if none is given."""
    _started.stop(server)


def export_line(server: PipedreamReplica, environment: str = "development") -> str:
    """A shell line that points ``python -m pipedream`` and ``SyncPipedreamClient()`` at
    ``server``: every setting the client needs, and the workflow domain under which the replica's
    workflow endpoint (``server.workflow_url()``) lies."""
    host = server.base_url.split("//", 1)[1].rsplit(":", 1)[0].strip("[]")
    return (
        "export PIPEDREAM_BASE_URL=%s PIPEDREAM_CLIENT_ID=%s PIPEDREAM_CLIENT_SECRET=%s PIPEDREAM_PROJECT_ID=%s "
        "PIPEDREAM_PROJECT_ENVIRONMENT=%s PIPEDREAM_WORKFLOW_DOMAIN=%s"
        % (server.base_url, server.client_id, server.client_secret, server.project_id, environment, host)
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run a local replica of the Pipedream Connect API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8766, help="port to listen on (0 picks a free one; default 8766)")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="accepted OAuth client id (default %(default)s)")
    parser.add_argument(
        "--client-secret", default=DEFAULT_CLIENT_SECRET, help="accepted OAuth client secret (default %(default)s)"
    )
    parser.add_argument("--project-id", default=DEFAULT_PROJECT_ID, help="project id (default %(default)s)")
    parser.add_argument("--expires-in", type=int, default=3600, help="access token lifetime, seconds (default 3600)")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    server = PipedreamReplica(
        (args.host, args.port),
        args.client_id,
        args.client_secret,
        args.project_id,
        expires_in=args.expires_in,
        verbose=not args.quiet,
    )
    server.serve_until_interrupted(
        "Pipedream Connect replica listening on %s (client %s, project %s); workflows under %s; Ctrl-C to stop"
        % (server.base_url, server.client_id, server.project_id, server.workflow_url()),
        export_line(server),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
