"""vcrpy settings and scenarios shared by the Pipedream cassette recorder
(tests/record_pipedream_cassettes.py) and the replay tests (tests/test_cassettes.py):
where cassettes live, how secrets are scrubbed, how a request is matched to a recorded one, and
which calls each cassette holds.

Scrubbing (applied by vcrpy before recording, and to every live request before matching, so a
replayed request matches whatever the test's own credentials are):

* ``Authorization: Bearer <token>`` -> ``Bearer test-access-token`` (any OAuth token),
  ``Bearer <INVALID_ACCESS_TOKEN>`` (``INVALID_ACCESS_TOKEN``) or ``Bearer <WORKFLOW_STATIC_TOKEN>``;
* the token request's ``client_secret`` -> ``<PIPEDREAM_CLIENT_SECRET>`` (or
  ``<INVALID_PIPEDREAM_CLIENT_SECRET>`` / ``<OTHER_PIPEDREAM_CLIENT_SECRET>``);
* ``User-Agent`` -> ``<USER_AGENT>`` (it names the Python version);
* in request bodies: an OAuth app's ``client_secret`` -> ``<OAUTH_APP_CLIENT_SECRET>``, every
  string value inside an account's ``cfmap_json`` -> ``<CREDENTIAL>``;
* in recorded responses (recorder only): every issued access token -> ``test-access-token``,
  every string in an account's ``credentials`` -> ``<CREDENTIAL>``.
"""

from __future__ import annotations

import io
import json
import pathlib
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

ROOT = pathlib.Path(__file__).resolve().parent.parent
CASSETTE_DIR = ROOT / "cassettes" / "pipedream"
API_ORIGIN = "https://api.pipedream.com"  # pipedream.DEFAULT_BASE_URL
WORKFLOW_ID = "en123abc"
WORKFLOW_ORIGIN = "https://%s.m.pipedream.net" % WORKFLOW_ID

# Credentials used while recording against the replica. They are scrubbed like real ones.
TEST_CLIENT_ID = "pd-test-client-id"
TEST_CLIENT_SECRET = "pd-test-client-secret-4f8a2c19"
INVALID_CLIENT_SECRET = "pd-invalid-client-secret-0000"
INVALID_ACCESS_TOKEN = "pd-invalid-access-token-0000"
WORKFLOW_STATIC_TOKEN = "wf-static-token-9b1d"
PROJECT_ID = "proj_abc123"
UNKNOWN_PROJECT_ID = "proj_unknown"
ENVIRONMENT = "development"

ACCESS_TOKEN_PLACEHOLDER = "test-access-token"
INVALID_TOKEN_PLACEHOLDER = "<INVALID_ACCESS_TOKEN>"
STATIC_TOKEN_PLACEHOLDER = "<WORKFLOW_STATIC_TOKEN>"
SECRET_PLACEHOLDER = "<PIPEDREAM_CLIENT_SECRET>"
INVALID_SECRET_PLACEHOLDER = "<INVALID_PIPEDREAM_CLIENT_SECRET>"
OTHER_SECRET_PLACEHOLDER = "<OTHER_PIPEDREAM_CLIENT_SECRET>"
USER_AGENT_PLACEHOLDER = "<USER_AGENT>"
CREDENTIAL_PLACEHOLDER = "<CREDENTIAL>"  # every string value of an account's "credentials" (and "cfmap_json")
# Secrets sent in request bodies beyond the token request (create_oauth_app, create_account).
OAUTH_APP_SECRET = "pd-oauth-app-secret-7d2e91"
ACCOUNT_API_KEY = "sk-account-api-key-3a9f51"
OAUTH_APP_SECRET_PLACEHOLDER = "<OAUTH_APP_CLIENT_SECRET>"

# Headers compared by the custom matcher (besides method, URL and body), after scrubbing:
# auth, content type, and every Pipedream header (x-pd-environment, x-pd-rate-limit,
# x-pd-external-user-id, x-pd-proxy-*).
MATCHED_HEADERS = ("authorization", "content-type")
MATCH_ON = ["method", "scheme", "host", "port", "path", "query", "body", "pipedream_headers"]
VOLATILE_RESPONSE_HEADERS = ("date",)


# ---------------------------------------------------------------------------------------------
# Scrubbing and matching
# ---------------------------------------------------------------------------------------------


def _scrub_authorization(key: str, value: str, request: Any) -> str:
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return "<OTHER_AUTHORIZATION>"
    if token == INVALID_ACCESS_TOKEN or token == INVALID_TOKEN_PLACEHOLDER:
        return "Bearer " + INVALID_TOKEN_PLACEHOLDER
    if token == WORKFLOW_STATIC_TOKEN or token == STATIC_TOKEN_PLACEHOLDER:
        return "Bearer " + STATIC_TOKEN_PLACEHOLDER
    return "Bearer " + ACCESS_TOKEN_PLACEHOLDER


FILTER_HEADERS: List[Tuple[str, Any]] = [
    ("Authorization", _scrub_authorization),
    ("User-Agent", USER_AGENT_PLACEHOLDER),
]


def secret_placeholder(value: Any, valid_secret: str = TEST_CLIENT_SECRET) -> str:
    if value == valid_secret or value == SECRET_PLACEHOLDER:
        return SECRET_PLACEHOLDER
    if value == INVALID_CLIENT_SECRET or value == INVALID_SECRET_PLACEHOLDER:
        return INVALID_SECRET_PLACEHOLDER
    return OTHER_SECRET_PLACEHOLDER


def live_token_scrubber(valid_secret: str) -> Callable[[Any], Any]:
    """A ``before_record_request`` that replaces the token request's client secret with a
    placeholder (``valid_secret`` with ``<PIPEDREAM_CLIENT_SECRET>``). The body keeps its
    shape and key order, so the recording still shows the wire format."""

    def scrub(request: Any) -> Any:
        if request.path.endswith("/v1/oauth/token") and request.body:
            try:
                body = json.loads(request.body)
            except ValueError:
                return request
            if isinstance(body, dict) and "client_secret" in body:
                body["client_secret"] = secret_placeholder(body["client_secret"], valid_secret)
                request.body = json.dumps(body, separators=(",", ":")).encode("utf-8")
        return request

    return scrub


scrub_token_request = live_token_scrubber(TEST_CLIENT_SECRET)


def scrub_request_secrets(request: Any) -> Any:
    """A ``before_record_request``: an OAuth app's ``client_secret`` and the values of an
    account's ``cfmap_json`` (its credentials) become placeholders; the body keeps its shape."""
    if not request.body or request.path.endswith("/v1/oauth/token"):
        return request
    try:
        body = json.loads(request.body)
    except ValueError:
        return request
    if not isinstance(body, dict):
        return request
    changed = False
    if isinstance(body.get("client_secret"), str):
        body["client_secret"] = OAUTH_APP_SECRET_PLACEHOLDER
        changed = True
    if isinstance(body.get("cfmap_json"), str):
        try:
            cfmap = json.loads(body["cfmap_json"])
        except ValueError:
            cfmap = None
        if isinstance(cfmap, dict):
            cfmap = {k: CREDENTIAL_PLACEHOLDER if isinstance(v, str) else v for k, v in cfmap.items()}
            body["cfmap_json"] = json.dumps(cfmap, separators=(",", ":"))
            changed = True
    if changed:
        request.body = json.dumps(body, separators=(",", ":")).encode("utf-8")
    return request


def pipedream_headers(r1: Any, r2: Any) -> None:
    """vcrpy matcher: Authorization, Content-Type and every ``x-pd-*`` header agree
    (case-insensitive names; a header missing on one side must be missing on the other)."""
    h1 = {k.lower(): v for k, v in r1.headers.items()}
    h2 = {k.lower(): v for k, v in r2.headers.items()}
    names = set(MATCHED_HEADERS) | {n for n in list(h1) + list(h2) if n.startswith("x-pd-")}
    for name in sorted(names):
        a, b = h1.get(name), h2.get(name)
        assert a == b, "%s: %r != %r" % (name, a, b)


def register_matchers(vcr: Any) -> None:
    vcr.register_matcher("pipedream_headers", pipedream_headers)


def vcr_config() -> Dict[str, Any]:
    """Keyword arguments for ``vcr.VCR(...).use_cassette`` / pytest-recording's ``vcr_config``
    (the recorder adds origin rewriting and response scrubbing)."""
    return {
        "filter_headers": list(FILTER_HEADERS),
        "before_record_request": [scrub_token_request, scrub_request_secrets],
        "match_on": list(MATCH_ON),
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
    }


# ---------------------------------------------------------------------------------------------
# Scenarios: the calls each cassette holds, in order
# ---------------------------------------------------------------------------------------------


def _replica_ids() -> Any:
    """The replica's fixed ids and cursors (its fixed data is deterministic)."""
    examples = str(ROOT / "replicas")
    if examples not in sys.path:
        sys.path.insert(0, examples)
    import pipedream_replica

    return pipedream_replica


_r = _replica_ids()
USER = "user-1"
SLACK_ACCOUNT = _r._stable_id("apn", "user-1/slack")
GITHUB_ACCOUNT = _r._stable_id("apn", "user-1/github")
OTHER_USERS_ACCOUNT = _r._stable_id("apn", "user-2/slack")
SLACK_APP_ID = _r._stable_id("app", "slack", 6)
SLACK_OAUTH_APP = _r._stable_id("oa", "slack", 6)
TRIGGER_1 = _r._stable_id("dc", "user-1/slack-new-message-in-channels")
TRIGGER_2 = _r._stable_id("dc", "user-1/github-new-commit")
TRIGGER_3 = _r._stable_id("dc", "user-1/gmail-new-email-received")
UNKNOWN_TRIGGER = "dc_unknown"
# The cursor ending page 1 of get_apps(limit=3) (the third app), get_accounts(user-1, limit=2),
# get_components("actions", limit=3) and get_deployed_triggers(user-1, limit=2).
APPS_PAGE_1_END = _r.cursor(_r._stable_id("app", "google_sheets", 6))
ACCOUNTS_PAGE_1_END = _r.cursor(GITHUB_ACCOUNT)
ACTIONS_PAGE_1_END = _r.cursor("github-create-issue")
TRIGGERS_PAGE_1_END = _r.cursor(TRIGGER_2)
SLACK_PROPS = {"slack": {"authProvisionId": SLACK_ACCOUNT}}
# Beyond the README's 28 methods: the replica's fixed app overrides, OAuth apps, projects and webhook.
APP_OVERRIDES = [_r._stable_id("ao", PROJECT_ID + "/" + slug) for slug in ("slack", "zendesk", "github")]
GITHUB_OAUTH_APP = _r._stable_id("oa", "github", 6)
OTHER_PROJECT = _r._stable_id("proj", "staging")
TRIGGER_1_WEBHOOK = _r._stable_id("hook", TRIGGER_1 + "https://hooks.example.com/" + TRIGGER_1)
USERS_PAGE_1_END = _r.cursor(_r._stable_id("exu", PROJECT_ID + "/some-unique-user-id"))
LOGO = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQA"
    "AAAABJRU5ErkJggg=="
)
USAGE_START = 1767225600  # 2026-01-01T00:00:00Z


class From:
    """A step argument computed when the step runs, from the results of the earlier steps
    (e.g. the Connect token a previous step created)."""

    def __init__(self, compute: Callable[[List[Any]], Any]) -> None:
        self.compute = compute


def step_arguments(step: "Step", results: List[Any]) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
    """The step's positional and keyword arguments, ``From`` values computed."""

    def value(v: Any) -> Any:
        return v.compute(results) if isinstance(v, From) else v

    return tuple(value(a) for a in step.args), {k: value(v) for k, v in step.kwargs.items()}


@dataclass
class Step:
    """One client call.

    ``client``: which client makes it (see ``make_clients``). ``fault`` scripts the replica's
    answer (status, body, content type, headers); ``replica`` names a replica method to call
    first (``"revoke_tokens"``); both only matter while recording. ``options`` are
    ``with_options`` arguments, computed from the results of the earlier steps."""

    method: str
    args: Tuple[Any, ...] = ()
    kwargs: Dict[str, Any] = field(default_factory=dict)
    client: str = "good"
    fault: Optional[Tuple[int, Any, Optional[str], Dict[str, str]]] = None
    replica: Optional[str] = None
    options: Optional[Callable[[List[Any]], Dict[str, Any]]] = None


def S(method: str, *args: Any, **kwargs: Any) -> Step:  # noqa: N802 - reads like a call
    return Step(method, args, kwargs)


def _with(step: Step, **changes: Any) -> Step:
    for name, value in changes.items():
        setattr(step, name, value)
    return step


PROXY_POST = {
    "url": "https://slack.com/api/chat.postMessage?unfurl_links=false",
    "method": "POST",
    "headers": {"Content-Type": "application/json; charset=utf-8", "X-Custom-Header": "demo"},
    "body": {"channel": "C0123", "text": "Hello from the proxy"},
}

SCENARIOS: Dict[str, List[Step]] = {
    "get_project_info": [
        S("get_project_info"),
        _with(S("get_project_info"), client="bad_secret"),  # 401 invalid_client from the token endpoint
        _with(S("get_project_info"), client="bad_token"),  # 401 {"error"} with a static token: no refresh
        _with(S("get_project_info"), client="other_project"),  # 404 unknown project
        _with(S("get_project_info"), fault=(500, "Internal Server Error", "text/plain; charset=utf-8", {})),
    ],
    "get_apps": [
        S("get_apps", limit=3),
        S("get_apps", limit=3, after=APPS_PAGE_1_END),  # page 2
        S("get_apps", has_actions=True, has_triggers=False, has_components=True),  # booleans as true/false
        S(
            "get_apps",
            q="o",
            sort_key="name",
            sort_direction="desc",
            category_ids=["appcat_communication", "appcat_productivity"],
            limit=4,
        ),
        S("get_apps", limit=500),  # 400
    ],
    "get_app": [
        S("get_app", "slack"),
        S("get_app", SLACK_APP_ID),
        S("get_app", "no-such-app"),  # 404
    ],
    "create_connect_token": [
        S("create_connect_token", USER),
        S(
            "create_connect_token",
            USER,
            ["https://app.example.com"],
            "https://app.example.com/ok",
            "https://app.example.com/error",
            "https://app.example.com/hooks/pipedream",
            expires_in=600,
            scope="connect:*",
            allow_progressive_scopes=True,
            app_id="slack",
            oauth_app_id=SLACK_OAUTH_APP,
        ),
        S("create_connect_token", USER, expires_in=99999),  # 400
    ],
    "get_accounts": [
        S("get_accounts", external_user_id=USER, limit=2),
        S("get_accounts", external_user_id=USER, limit=2, after=ACCOUNTS_PAGE_1_END),
        S("get_accounts", USER, "slack", SLACK_OAUTH_APP, True),  # app=slack, include_credentials=true
        _with(S("get_accounts", external_user_id="user-2"), replica="revoke_tokens"),  # 401, new token, 200
        S("get_accounts", external_user_id=USER, after="bm90LWFuLWlk"),  # 400 invalid cursor
    ],
    "get_account_by_id": [
        S("get_account_by_id", SLACK_ACCOUNT),
        S("get_account_by_id", SLACK_ACCOUNT, USER, True),  # include_credentials=true
        S("get_account_by_id", "apn_missing"),  # 404
    ],
    "delete_account": [
        S("delete_account", GITHUB_ACCOUNT),  # 204
        S("delete_account", GITHUB_ACCOUNT, USER),  # 404 now
    ],
    "delete_accounts_by_app": [
        S("delete_accounts_by_app", "gmail"),  # 204
        S("delete_accounts_by_app", SLACK_APP_ID, USER),  # 204, by app id
        S("delete_accounts_by_app", "no-such-app"),  # 404
    ],
    "delete_external_user": [
        S("delete_external_user", "user-2"),  # 204
        S("delete_external_user", "user-2"),  # 404 now
        S("delete_external_user", "team/alice smith"),  # 404; the id travels as one segment
    ],
    "get_components": [
        S("get_components", "actions", limit=3),
        S("get_components", "actions", limit=3, after=ACTIONS_PAGE_1_END),
        S("get_components", "components", "slack", "message", registry="all"),
        S("get_components", "triggers"),
        S("get_components", "actions", app_filter="no-such-app"),  # 404
        S("get_components", "components", limit=0),  # 400
    ],
    "get_component": [
        S("get_component", "actions", "slack-send-message"),
        S("get_component", "triggers", "github-new-commit"),
        S("get_component", "components", "gmail-send-email"),
        S("get_component", "actions", "github-new-commit"),  # 404: a trigger, not an action
    ],
    "configure_component": [
        S("configure_component", "actions", "slack-send-message", "conversation", USER, SLACK_PROPS),
        S(
            "configure_component",
            "actions",
            "slack-send-message",
            "conversation",
            USER,
            SLACK_PROPS,
            "dyp_abc123",
            1,
            {"page": 1},
            "Channel",
            blocking=True,
        ),
        S(
            "configure_component",
            "triggers",
            "github-new-commit",
            "repoFullname",
            USER,
            {"github": {"authProvisionId": GITHUB_ACCOUNT}},
        ),
        S("configure_component", "actions", "slack-send-message", "no_such_prop", USER, SLACK_PROPS),  # 400
        S("configure_component", "actions", "no-such-action", "conversation", USER),  # 404
    ],
    "reload_component_props": [
        S(
            "reload_component_props",
            "actions",
            "github-create-issue",
            USER,
            {"github": {"authProvisionId": GITHUB_ACCOUNT}, "repoFullname": "acme/api"},
        ),
        S(
            "reload_component_props",
            "components",
            "google_sheets-add-single-row",
            USER,
            {"sheetId": "sheet-1"},
            "dyp_abc123",
        ),
        S("reload_component_props", "actions", "no-such-action", USER),  # 404
    ],
    "run_action": [
        S("run_action", "slack-send-message", USER, dict(SLACK_PROPS, conversation="C0123", text="hi")),
        S(
            "run_action",
            "gmail-send-email",
            USER,
            {"to": ["a@example.com"], "subject": "Hi", "body": "Hello"},
            "dyp_abc123",
            stash_id=True,
        ),
        S("run_action", "no-such-action", USER),  # 404
        S("run_action", "slack-send-message", USER, {"text": ["not", "an", "object"]}, stash_id=3.5),  # 400
    ],
    "deploy_trigger": [
        S(
            "deploy_trigger",
            "slack-new-message-in-channels",
            USER,
            dict(SLACK_PROPS, conversations=["C0123"]),
            "https://app.example.com/hooks/slack",
            "p_abc123",
        ),  # the original client's webhookUrl / workflowId
        S(
            "deploy_trigger",
            "github-new-commit",
            USER,
            {"repoFullname": "acme/api"},
            webhook_url="https://app.example.com/hooks/github",
            emit_on_deploy=False,
        ),
        S("deploy_trigger", "no-such-trigger", USER),  # 404
    ],
    "get_deployed_triggers": [
        S("get_deployed_triggers", USER, 2),
        S("get_deployed_triggers", USER, 2, TRIGGERS_PAGE_1_END),
        S("get_deployed_triggers", USER, emitter_type="http"),
        S("get_deployed_triggers", USER, limit=1000),  # 400
    ],
    "get_deployed_trigger": [
        S("get_deployed_trigger", TRIGGER_1, USER),
        S("get_deployed_trigger", TRIGGER_1, "user-2"),  # 404: another user's trigger
    ],
    "delete_deployed_trigger": [
        S("delete_deployed_trigger", TRIGGER_1, USER),  # 204
        S("delete_deployed_trigger", TRIGGER_2, USER, True),  # 204, ignore_hook_errors=true
        S("delete_deployed_trigger", TRIGGER_1, USER),  # 404 now
    ],
    "update_deployed_trigger": [
        S("update_deployed_trigger", TRIGGER_1, USER, False, "Paused Slack trigger"),
        S(
            "update_deployed_trigger",
            TRIGGER_1,
            USER,
            active=True,
            configured_props=dict(SLACK_PROPS, conversations=["C0456"]),
            emit_on_deploy=False,
        ),
        S("update_deployed_trigger", UNKNOWN_TRIGGER, USER, active=True),  # 404
    ],
    "get_deployed_trigger_events": [
        S("get_deployed_trigger_events", TRIGGER_1, USER),
        S("get_deployed_trigger_events", TRIGGER_1, USER, 2),
        S("get_deployed_trigger_events", UNKNOWN_TRIGGER, USER),  # 404
    ],
    "get_deployed_trigger_webhooks": [
        S("get_deployed_trigger_webhooks", TRIGGER_1, USER),
        S("get_deployed_trigger_webhooks", TRIGGER_3, USER),
        S("get_deployed_trigger_webhooks", UNKNOWN_TRIGGER, USER),  # 404
    ],
    "update_deployed_trigger_webhooks": [
        S("update_deployed_trigger_webhooks", TRIGGER_3, USER, ["https://app.example.com/hooks/a"]),  # webhookUrls
        S(
            "update_deployed_trigger_webhooks",
            TRIGGER_3,
            USER,
            webhook_urls=["https://app.example.com/hooks/a", "https://app.example.com/hooks/b"],
        ),
        S("update_deployed_trigger_webhooks", UNKNOWN_TRIGGER, USER, []),  # 404
    ],
    "get_deployed_trigger_workflows": [
        S("get_deployed_trigger_workflows", TRIGGER_2, USER),
        S("get_deployed_trigger_workflows", TRIGGER_1, USER),
        S("get_deployed_trigger_workflows", UNKNOWN_TRIGGER, USER),  # 404
    ],
    "update_deployed_trigger_workflows": [
        S("update_deployed_trigger_workflows", TRIGGER_1, USER, ["p_abc123"]),  # workflowIds
        S("update_deployed_trigger_workflows", TRIGGER_1, USER, workflow_ids=["p_abc123", "p_def456"]),
        S("update_deployed_trigger_workflows", UNKNOWN_TRIGGER, USER, ["p_abc123"]),  # 404
    ],
    "create_rate_limit": [
        S("create_rate_limit", 60, 2),
        # The token of step 1 sent as x-pd-rate-limit: two calls pass, the third is 429.
        *[
            _with(S("get_project_info"), options=lambda results: {"rate_limit_token": results[0]["token"]})
            for _ in range(3)
        ],
        _with(S("get_project_info"), options=lambda results: {"rate_limit_token": "rl_unknown"}),  # 400
    ],
    "make_proxy_request": [
        S("make_proxy_request", {"external_user_id": USER, "account_id": SLACK_ACCOUNT}, PROXY_POST),
        # the TypeScript SDK's shape: searchParams and options
        S(
            "make_proxy_request",
            {"searchParams": {"external_user_id": USER, "account_id": SLACK_ACCOUNT}},
            {
                "url": "https://slack.com/api/conversations.list?limit=2",
                "options": {"method": "GET", "headers": {"Accept": "application/json"}},
            },
        ),
        S(
            "make_proxy_request",
            {"external_user_id": USER, "account_id": SLACK_ACCOUNT},
            {"url": "https://slack.com/api/text", "method": "PUT"},
        ),  # no body: {} is sent; text/plain back
        S(
            "make_proxy_request",
            {"external_user_id": USER, "account_id": SLACK_ACCOUNT},
            {"url": "https://slack.com/api/status/403", "method": "GET"},
        ),  # upstream 403
        S(
            "make_proxy_request",
            {"external_user_id": USER, "account_id": OTHER_USERS_ACCOUNT},
            {"url": "https://slack.com/api/auth.test"},
        ),  # 404: not this user's account
    ],
    "invoke_workflow": [
        S("invoke_workflow", WORKFLOW_ID, json_data={"order": 42}),
        S("invoke_workflow", WORKFLOW_ORIGIN + "/orders/42?expand=items", "GET", {"X-Trace": "t-1"}),
        S("invoke_workflow", WORKFLOW_ID, "POST", None, {"a": 1}, auth_type="oauth"),
        S(
            "invoke_workflow",
            WORKFLOW_ORIGIN + "/static",
            "PUT",
            {"Authorization": "Bearer " + WORKFLOW_STATIC_TOKEN},
            data="plain text",
            auth_type="static_bearer_token",
        ),
        S("invoke_workflow", WORKFLOW_ORIGIN + "/not-found", json_data={}),  # 404 text/plain
    ],
    "invoke_workflow_for_external_user": [
        S("invoke_workflow_for_external_user", WORKFLOW_ID, USER, json_data={"order": 42}),
        S("invoke_workflow_for_external_user", WORKFLOW_ORIGIN + "/users?page=2", USER, "GET"),
        S("invoke_workflow_for_external_user", WORKFLOW_ORIGIN + "/not-found", USER, json_data={}),  # 404
    ],
}


# Beyond the README's 28 methods: one cassette per method added for the official SDK's other endpoints.
SLACK_SEND_MESSAGE_V2 = _r._stable_id("pc", "slack-send-message")  # the v2 id of a component
_TOKEN = From(lambda results: results[0]["token"])  # the Connect token of the scenario's first step
_NEW_BUFFER = From(lambda results: io.BytesIO())  # download_file's destination, fresh each time

SCENARIOS.update(
    {
        "get_projects": [
            S("get_projects", limit=2),
            S("get_projects", limit=2, after=_r.cursor(OTHER_PROJECT)),
            S("get_projects", "staging"),
            S("get_projects", limit=0),  # 400
        ],
        "create_project": [
            S(
                "create_project",
                "Acme Connect",
                app_name="Acme",
                support_email="help@acme.example",
                connect_require_key_auth_test=True,
            ),
            S("create_project", "Bare"),
            S("create_project", "Acme", connect_require_key_auth_test="yes"),  # 400: not a boolean
        ],
        "get_project": [
            S("get_project", PROJECT_ID),
            S("get_project", "proj_missing"),  # 404
        ],
        "update_project": [
            S("update_project", OTHER_PROJECT, name="Staging EU", support_email="ops@acme.example"),
            S("update_project", OTHER_PROJECT, connect_require_key_auth_test=False),
            S("update_project", "proj_missing", name="x"),  # 404
        ],
        "delete_project": [
            S("delete_project", OTHER_PROJECT),  # 204
            S("delete_project", OTHER_PROJECT),  # 404 now
        ],
        "update_project_logo": [
            S("update_project_logo", PROJECT_ID, LOGO),  # 204
            S("update_project_logo", PROJECT_ID, "https://acme.example/logo.png"),  # 400: not a data URI
        ],
        "get_project_webhook": [
            S("get_project_webhook"),  # {"data": null}
            S("update_project_webhook", "https://app.example.com/hooks/connect"),
            S("get_project_webhook"),  # without the signing key
        ],
        "update_project_webhook": [
            S("update_project_webhook", "https://app.example.com/hooks/connect"),  # created: with signing_key
            S("update_project_webhook", "https://app.example.com/hooks/connect-v2"),  # updated: without
            S("update_project_webhook", "not a url"),  # 400
        ],
        "delete_project_webhook": [
            S("update_project_webhook", "https://app.example.com/hooks/connect"),
            S("delete_project_webhook"),  # 204
            S("delete_project_webhook"),  # 404 now
        ],
        "regenerate_project_webhook_signing_key": [
            S("regenerate_project_webhook_signing_key"),  # 404: no webhook yet
            S("update_project_webhook", "https://app.example.com/hooks/connect"),
            S("regenerate_project_webhook_signing_key"),
        ],
        "get_usage": [
            S("get_usage", USAGE_START, USAGE_START + 3 * 86400),
            S("get_usage", USAGE_START + 3600, USAGE_START + 7200),  # part of one day
            S("get_usage", USAGE_START, USAGE_START),  # 400: empty range
        ],
        "get_app_categories": [S("get_app_categories")],
        "get_app_category": [
            S("get_app_category", "appcat_communication"),
            S("get_app_category", "appcat_unknown"),  # 404
        ],
        "get_app_overrides": [
            S("get_app_overrides", limit=2),
            S("get_app_overrides", limit=2, after=_r.cursor(APP_OVERRIDES[1])),
            S("get_app_overrides", "zendesk"),
        ],
        "create_app_override": [
            S(
                "create_app_override",
                "slack",
                "EU workspace",
                oauth_app_id=SLACK_OAUTH_APP,
                cfmap={"subdomain": "acme-eu"},
            ),
            S("create_app_override", "stripe", "Stripe sandbox"),
            S("create_app_override", "no-such-app", "x"),  # 404
        ],
        "get_app_override": [
            S("get_app_override", APP_OVERRIDES[0]),
            S("get_app_override", "ao_missing"),  # 404
        ],
        "update_app_override": [
            S("update_app_override", APP_OVERRIDES[0], name="Acme Slack (renamed)", cfmap={"subdomain": "acme2"}),
            S("update_app_override", APP_OVERRIDES[0], oauth_app_id=None),  # null clears it
            S("update_app_override", "ao_missing", name="x"),  # 404
        ],
        "delete_app_override": [
            S("delete_app_override", APP_OVERRIDES[2]),  # 204
            S("delete_app_override", APP_OVERRIDES[2]),  # 404 now
        ],
        "get_oauth_apps": [
            S("get_oauth_apps", limit=1),
            S("get_oauth_apps", limit=1, after=_r.cursor(SLACK_OAUTH_APP)),
            S("get_oauth_apps", "github"),
            S("get_oauth_apps", q="slack"),
        ],
        "create_oauth_app": [
            S(
                "create_oauth_app",
                "notion",
                client_id="notion-client-id",
                client_secret=OAUTH_APP_SECRET,
                name="Notion (Acme)",
                description="Our own Notion OAuth client",
                scopes=["read_content"],
                additional_scopes=["insert_content"],
            ),
            S("create_oauth_app", "no-such-app"),  # 404
        ],
        "get_oauth_app": [
            S("get_oauth_app", SLACK_OAUTH_APP),
            S("get_oauth_app", "oa_missing"),  # 404
        ],
        "update_oauth_app": [
            S(
                "update_oauth_app",
                GITHUB_OAUTH_APP,
                name="GitHub (EU)",
                client_secret=OAUTH_APP_SECRET,
                scopes=["repo", "read:user"],
            ),
            S("update_oauth_app", GITHUB_OAUTH_APP, description=""),  # blank: kept
            S("update_oauth_app", "oa_missing", name="x"),  # 404
        ],
        "delete_oauth_app": [
            S("delete_oauth_app", GITHUB_OAUTH_APP),  # 204
            S("delete_oauth_app", GITHUB_OAUTH_APP),  # 404 now
        ],
        "validate_connect_token": [
            S("create_connect_token", USER, success_redirect_uri="https://app.example.com/ok", app_id="slack"),
            S("validate_connect_token", _TOKEN),
            S(
                "validate_connect_token",
                _TOKEN,
                app_id="github",
                account_id=SLACK_ACCOUNT,
                oauth_app_id=GITHUB_OAUTH_APP,
            ),
            S("validate_connect_token", _TOKEN, account_id=OTHER_USERS_ACCOUNT),  # success false: not the user's
            S("validate_connect_token", "ctok_unknown"),  # success false
        ],
        "get_users": [
            S("get_users", limit=2),
            S("get_users", limit=2, after=USERS_PAGE_1_END),
            S("get_users", "user-"),  # a part of the external id
        ],
        "get_accounts_by_external_user": [
            S("get_accounts_by_external_user", USER),
            S("get_accounts_by_external_user", USER, "slack", True),  # app=slack, include_credentials=true
            S("get_accounts_by_external_user", "nobody"),  # []
        ],
        "create_account": [
            S("create_connect_token", USER),
            S("create_account", "openai", '{"api_key":"%s"}' % ACCOUNT_API_KEY, _TOKEN, USER, name="OpenAI"),
            S("create_account", "stripe", {"api_key": ACCOUNT_API_KEY}, _TOKEN),  # a mapping, encoded
            S("create_account", "openai", "{}", _TOKEN),  # 400: no credentials
            S("create_account", "openai", '{"api_key":"x"}', "ctok_unknown"),  # 400
        ],
        "download_file": [
            S("download_file", "stash/demo/report.csv", _NEW_BUFFER),
            S("download_file", "stash/demo/empty.txt", _NEW_BUFFER),
            S("download_file", "stash/missing.bin", _NEW_BUFFER),  # 404
        ],
        "get_deployed_trigger_webhook": [
            S("get_deployed_trigger_webhook", TRIGGER_1, TRIGGER_1_WEBHOOK, USER),
            S("get_deployed_trigger_webhook", TRIGGER_1, "hook_missing", USER),  # 404
        ],
        "reset_deployed_trigger_webhook_delivery_state": [
            S("reset_deployed_trigger_webhook_delivery_state", TRIGGER_1, TRIGGER_1_WEBHOOK, USER),
            S("reset_deployed_trigger_webhook_delivery_state", TRIGGER_1, TRIGGER_1_WEBHOOK, "user-2"),  # 404
        ],
        # the OAuth token call, and the v2 catalogue of the official TypeScript SDK
        "create_oauth_token": [
            S("create_oauth_token", TEST_CLIENT_ID, TEST_CLIENT_SECRET),
            S("create_oauth_token", TEST_CLIENT_ID, TEST_CLIENT_SECRET, scope="connect:accounts:read"),
            S("create_oauth_token", TEST_CLIENT_ID, INVALID_CLIENT_SECRET),  # 401 invalid_client
        ],
        "get_apps_v2": [
            S("get_apps_v2", limit=3),
            S("get_apps_v2", limit=3, page=2),
            S("get_apps_v2", "o", category_name="Productivity", auth_type="oauth", has_triggers=False),
            S("get_apps_v2", has_components=True, limit=20, page=1),
            S("get_apps_v2", has_private_components=True),  # 501
            S("get_apps_v2", limit=500),  # 400
            _with(S("get_apps_v2"), fault=(503, '{"error":"search unavailable"}', "application/json", {})),
        ],
        "get_app_facets_v2": [S("get_app_facets_v2")],
        "get_app_v2": [
            S("get_app_v2", "slack"),
            S("get_app_v2", SLACK_APP_ID),
            S("get_app_v2", "no-such-app"),  # 404
        ],
        "get_components_v2": [
            S("get_components_v2", limit=3),
            S("get_components_v2", limit=3, page=3),
            S("get_components_v2", app="slack,github", component_type="trigger"),
            S("get_components_v2", "send", registry="all"),
            S("get_components_v2", registry="private"),  # nothing private in this project
            S("get_components_v2", component_type="widget"),  # 400
        ],
        "get_component_facets_v2": [S("get_component_facets_v2"), S("get_component_facets_v2", "private")],
        "get_component_v2": [
            S("get_component_v2", SLACK_SEND_MESSAGE_V2),
            S("get_component_v2", "slack-send-message"),  # 404: a key, not an id
            S("get_component_v2", SLACK_SEND_MESSAGE_V2, "private"),  # 404: public
        ],
        "regenerate_deployed_trigger_webhook_signing_key": [
            S("regenerate_deployed_trigger_webhook_signing_key", TRIGGER_1, TRIGGER_1_WEBHOOK, USER),
            S("get_deployed_trigger_webhook", TRIGGER_1, TRIGGER_1_WEBHOOK, USER),  # the new key
            S("regenerate_deployed_trigger_webhook_signing_key", UNKNOWN_TRIGGER, TRIGGER_1_WEBHOOK, USER),  # 404
        ],
    }
)


def make_clients(
    factory: Callable[..., Any], *, base_url: Optional[str] = None, workflow_domain: Optional[str] = None
) -> Dict[str, Any]:
    """The clients a scenario uses, made with ``factory`` (SyncPipedreamClient or
    PipedreamClient). No retries, so that every call is exactly one recorded interaction."""
    common: Dict[str, Any] = dict(base_url=base_url, workflow_domain=workflow_domain, max_retries=0, proxy=False)
    return {
        "good": factory(TEST_CLIENT_ID, TEST_CLIENT_SECRET, PROJECT_ID, ENVIRONMENT, **common),
        "bad_secret": factory(TEST_CLIENT_ID, INVALID_CLIENT_SECRET, PROJECT_ID, ENVIRONMENT, **common),
        "bad_token": factory(None, None, PROJECT_ID, ENVIRONMENT, access_token=INVALID_ACCESS_TOKEN, **common),
        "other_project": factory(TEST_CLIENT_ID, TEST_CLIENT_SECRET, UNKNOWN_PROJECT_ID, ENVIRONMENT, **common),
    }


def step_client(clients: Mapping[str, Any], step: Step, results: List[Any]) -> Any:
    client = clients[step.client]
    return client.with_options(**step.options(results)) if step.options else client
