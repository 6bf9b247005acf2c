"""The main job: run a complete flow of each client, end to end, and say what happened.

    python examples/demo.py                      # offline: the bundled replicas on 127.0.0.1
    ALTAN_API_KEY=... python examples/demo.py    # the real Altan API (ALTAN_BASE_URL to override)
    PIPEDREAM_CLIENT_ID=... PIPEDREAM_CLIENT_SECRET=... PIPEDREAM_PROJECT_ID=proj_... \
        python examples/demo.py --only pipedream # the real Pipedream Connect API

Altan flow (``run_altan``): list connections, get one, list its action types, get one and
show its input schema, execute it, show an execution that fails upstream (HTTP 200,
``status: "error"``, returned rather than raised) and an API error (``AltanActionError``).

Offline, nothing leaves the machine: the replica (replicas/altan_replica.py) listens on loopback
only. Against the real API nothing is executed unless you ask for it, since an action really
runs (it may send an email): set ALTAN_DEMO_CONNECTION_ID, ALTAN_DEMO_ACTION_TYPE_ID and
ALTAN_DEMO_PAYLOAD (JSON) to execute one; otherwise the demo only reads, plus one lookup of a
connection id that does not exist, to show an error.

Pipedream flow (``run_pipedream``): OAuth token, create a Connect token, list apps, the user's
accounts and an app's actions, get one action, run it, deploy a trigger, list deployed triggers,
invoke a workflow for the user, send a request through the proxy, and show an API error
(``PipedreamApiError``). Offline on replicas/pipedream_replica.py unless PIPEDREAM_CLIENT_ID,
PIPEDREAM_CLIENT_SECRET and PIPEDREAM_PROJECT_ID are set; live, it only reads (plus one Connect
token) unless the PIPEDREAM_DEMO_* variables listed above ``run_pipedream`` ask for more.

Each API has one flow function (``altan_flow``, ``pipedream_flow``) listed in ``FLOWS``;
``main`` runs them in order. Exit status: 0 when every flow completed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

HERE = pathlib.Path(__file__).resolve().parent
# This checkout's altan.py and pipedream.py come first: Pipedream's official SDK is also
# imported as "pipedream", and must not be picked up instead if it is installed.
for _path in (HERE.parent / "replicas", HERE.parent):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from altan import DEFAULT_BASE_URL, AltanActionError, AltanActionsClient  # noqa: E402

Out = Callable[[str], None]

# What the offline flow does on the replica (its data: replicas/altan_replica.py).
OFFLINE_CONNECTION = "abc123"
OFFLINE_ACTION = "send-email"
OFFLINE_PAYLOAD = {
    "to": "someone@example.com",
    "subject": "Hello from the demo",
    "body": "Sent through the Altan Actions API (replica).",
}
OFFLINE_FAILING = ("def456", "send_message", {"channel": "C999", "text": "hi"})  # Slack: channel_not_found
MISSING_CONNECTION = "does-not-exist-demo"


def _items(listing: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The entries of a list response: README-style ``data``, or Altan's ``items``."""
    for key in ("data", "items", "connections"):
        if isinstance(listing.get(key), list):
            return [item for item in listing[key] if isinstance(item, dict)]
    return []


def _show_schema(action_type: Mapping[str, Any], out: Out) -> None:
    schema = action_type.get("input_schema") or {}
    properties = schema.get("properties") or {}
    if not properties:
        out("     (no input schema)")
    for name, details in properties.items():
        required = "required" if name in schema.get("required", []) else "optional"
        out("     - %s (%s): %s" % (name, (details or {}).get("type", "any"), required))


def _show_execution(label: str, response: Mapping[str, Any], out: Out) -> None:
    if response.get("status") == "success":
        out("%s: status success, result %s" % (label, json.dumps(response.get("result"), sort_keys=True)))
    else:
        out(
            "%s: status %s, error %s (HTTP 200: returned, not raised)"
            % (label, response.get("status"), json.dumps(response.get("error"), sort_keys=True))
        )


def run_altan(
    client: AltanActionsClient,
    *,
    connection_id: Optional[str] = None,
    action_type_id: Optional[str] = None,
    payload: Optional[Mapping[str, Any]] = None,
    failing: Optional[Tuple[str, str, Mapping[str, Any]]] = None,
    out: Out = print,
) -> Dict[str, Any]:
    """A complete Altan flow with ``client``; prints each step and returns a summary.

    ``connection_id`` / ``action_type_id`` default to the first ones listed. The action is
    executed only if ``payload`` is given; ``failing`` names an execution expected to fail
    upstream. An unexpected ``AltanActionError`` propagates."""
    summary: Dict[str, Any] = {}

    connections = _items(client.list_connections())
    summary["connections"] = len(connections)
    out("1. list_connections(): %d connection(s)" % len(connections))
    for connection in connections:
        out(
            "     - %s (id %s%s)"
            % (
                connection.get("name"),
                connection.get("id"),
                ", " + connection["provider"] if connection.get("provider") else "",
            )
        )
    if connection_id is None and connections:
        connection_id = str(connections[0].get("id"))

    if connection_id is not None:
        connection = client.get_connection(connection_id)
        summary["connection"] = connection.get("name")
        out(
            "2. get_connection(%r): %s"
            % (
                connection_id,
                ", ".join("%s %s" % (k, connection[k]) for k in ("name", "provider", "status") if k in connection),
            )
        )

        action_types = _items(client.list_action_types(connection_id))
        summary["action_types"] = len(action_types)
        out("3. list_action_types(%r): %d action type(s)" % (connection_id, len(action_types)))
        for action_type in action_types:
            out("     - %s (id %s)" % (action_type.get("name"), action_type.get("id")))
        if action_type_id is None and action_types:
            action_type_id = str(action_types[0].get("id"))

        if action_type_id is not None:
            action_type = client.get_action_type(connection_id, action_type_id)
            summary["action_type"] = action_type.get("name")
            out(
                "4. get_action_type(%r, %r): %s, input schema:"
                % (connection_id, action_type_id, action_type.get("name"))
            )
            _show_schema(action_type, out)

            if payload is not None:
                response = client.execute_action(
                    connection_id=connection_id, action_type_id=action_type_id, payload=payload
                )
                summary["executed"] = response.get("status")
                _show_execution("5. execute_action(%r, %r)" % (connection_id, action_type_id), response, out)
            else:
                out("5. execute_action: skipped (no payload given; an action really runs)")
    else:
        out("2-5. skipped: no connection to look at")

    if failing is not None:
        cid, aid, failing_payload = failing
        response = client.execute_action(connection_id=cid, action_type_id=aid, payload=failing_payload)
        summary["failed_upstream"] = response.get("status")
        _show_execution("6. execute_action(%r, %r) that fails upstream" % (cid, aid), response, out)

    try:
        client.get_connection(MISSING_CONNECTION)
    except AltanActionError as error:
        summary["error"] = error.status_code
        out(
            "7. get_connection(%r): AltanActionError, status %s, detail %r, request id %s"
            % (MISSING_CONNECTION, error.status_code, error.detail, error.request_id)
        )
        if error.status_code != 404:
            raise
    else:
        out("7. get_connection(%r): unexpectedly found" % MISSING_CONNECTION)
    return summary


def altan_flow(env: Mapping[str, str], out: Out = print) -> bool:
    """The Altan flow: offline on the bundled replica without ALTAN_API_KEY, else live."""
    api_key = env.get("ALTAN_API_KEY")
    if not api_key:
        import altan_replica

        server, base_url = altan_replica.start()  # loopback, a free port, key "your-api-key"
        try:
            out("== Altan: offline, bundled replica at %s (set ALTAN_API_KEY for the real API) ==" % base_url)
            with AltanActionsClient(altan_replica.DEFAULT_API_KEY, base_url) as client:
                run_altan(
                    client,
                    connection_id=OFFLINE_CONNECTION,
                    action_type_id=OFFLINE_ACTION,
                    payload=OFFLINE_PAYLOAD,
                    failing=OFFLINE_FAILING,
                    out=out,
                )
        finally:
            altan_replica.stop(server)
        return True

    base_url = env.get("ALTAN_BASE_URL") or DEFAULT_BASE_URL
    payload = json.loads(env["ALTAN_DEMO_PAYLOAD"]) if env.get("ALTAN_DEMO_PAYLOAD") else None
    out("== Altan: live API at %s ==" % base_url)
    with AltanActionsClient(api_key, base_url) as client:
        run_altan(
            client,
            connection_id=env.get("ALTAN_DEMO_CONNECTION_ID"),
            action_type_id=env.get("ALTAN_DEMO_ACTION_TYPE_ID"),
            payload=payload,
            out=out,
        )
    return True


# ---------------------------------------------------------------------------------------------
# Pipedream Connect
# ---------------------------------------------------------------------------------------------
#
# Offline (no PIPEDREAM_CLIENT_ID / PIPEDREAM_CLIENT_SECRET / PIPEDREAM_PROJECT_ID): the bundled
# replica (replicas/pipedream_replica.py) on loopback runs every step. Live, the demo reads, and
# creates one short-lived Connect token; the steps that change something or call a third party
# run only when asked for:
#   PIPEDREAM_DEMO_EXTERNAL_USER_ID   the end user (default "demo-user")
#   PIPEDREAM_DEMO_ACTION, PIPEDREAM_DEMO_ACTION_PROPS (JSON)       run an action
#   PIPEDREAM_DEMO_TRIGGER, PIPEDREAM_DEMO_TRIGGER_PROPS (JSON),
#   PIPEDREAM_DEMO_WEBHOOK_URL        deploy a trigger (deleted again at the end)
#   PIPEDREAM_DEMO_WORKFLOW           invoke a workflow (a URL or an endpoint id like en123abc)
#   PIPEDREAM_DEMO_PROXY_URL, PIPEDREAM_DEMO_ACCOUNT_ID             a proxy GET to the app's API
#   PIPEDREAM_PROJECT_ENVIRONMENT     development (default) or production

from pipedream import PipedreamApiError, SyncPipedreamClient  # noqa: E402

PIPEDREAM_CREDENTIALS = ("PIPEDREAM_CLIENT_ID", "PIPEDREAM_CLIENT_SECRET", "PIPEDREAM_PROJECT_ID")
PIPEDREAM_MISSING_APP = "no-such-app-demo"


def _short(token: str) -> str:
    """A Connect token is a credential for the end user's browser: show only its start."""
    return token[:9] + "..." if len(token) > 12 else token


def _brief(value: Any, limit: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:limit] + ("..." if len(text) > limit else "")


def run_pipedream(
    client: SyncPipedreamClient,
    *,
    external_user_id: str = "demo-user",
    app: str = "slack",
    action: Optional[str] = None,
    action_props: Optional[Mapping[str, Any]] = None,
    trigger: Optional[str] = None,
    trigger_props: Optional[Mapping[str, Any]] = None,
    webhook_url: Optional[str] = None,
    workflow: Optional[str] = None,
    proxy: Optional[Tuple[str, str]] = None,
    out: Out = print,
) -> Dict[str, Any]:
    """A Pipedream Connect flow with ``client``; prints each step and returns a summary.

    ``action`` is run and ``trigger`` deployed (then deleted) only if given, ``workflow`` (a
    URL or endpoint id) invoked only if given, and ``proxy`` = (target URL, account id) sent
    through the proxy only if given. An unexpected ``PipedreamApiError`` propagates."""
    summary: Dict[str, Any] = {}
    user = external_user_id

    token = client.create_connect_token(user)
    summary["token_requests"] = client.token_requests
    out("1. OAuth token (client credentials): %d token request, then cached for every call" % client.token_requests)
    out("2. create_connect_token(%r): %s, expires %s" % (user, _short(token["token"]), token.get("expires_at")))
    link = token["connect_link_url"].replace(token["token"], _short(token["token"]))
    out("     Connect Link: %s&app=%s" % (link, app))

    apps = client.get_apps(q=app, limit=3)
    summary["apps"] = [a.get("name_slug") for a in apps.get("data", [])]
    out(
        "3. get_apps(q=%r, limit=3): %s (%s matching in all)"
        % (
            app,
            ", ".join("%s (%s)" % (a.get("name"), a.get("name_slug")) for a in apps.get("data", [])) or "none",
            (apps.get("page_info") or {}).get("total_count"),
        )
    )

    accounts = client.get_accounts(external_user_id=user, limit=10)
    summary["accounts"] = len(accounts.get("data", []))
    out("4. get_accounts(external_user_id=%r): %d connected account(s)" % (user, summary["accounts"]))
    for account in accounts.get("data", []):
        out(
            "     - %s (%s, %s)"
            % (
                account.get("id"),
                (account.get("app") or {}).get("name_slug"),
                "healthy" if account.get("healthy") else "unhealthy",
            )
        )

    components = client.get_components("actions", app_filter=app, limit=3)
    keys = [c.get("key") for c in components.get("data", [])]
    summary["actions"] = keys
    out("5. get_components('actions', app_filter=%r): %s" % (app, ", ".join(k for k in keys if k) or "none"))

    key = action or (keys[0] if keys else None)
    if key:
        component = client.get_component("actions", key)["data"]
        summary["component"] = component.get("name")
        out(
            "6. get_component('actions', %r): %s v%s, props: %s"
            % (
                key,
                component.get("name"),
                component.get("version"),
                ", ".join(p.get("name", "?") for p in component.get("configurable_props") or []),
            )
        )
    else:
        out("6. get_component: skipped (no action listed)")

    if action:
        result = client.run_action(action, user, dict(action_props or {}))
        summary["ran"] = (result.get("exports") or {}).get("$summary")
        out("7. run_action(%r, %r): %s" % (action, user, summary["ran"] or json.dumps(result.get("ret"))[:80]))
    else:
        out("7. run_action: skipped (no action given; an action really runs)")

    deployed_id = None
    if trigger:
        deployed = client.deploy_trigger(trigger, user, dict(trigger_props or {}), webhook_url=webhook_url)["data"]
        deployed_id = summary["deployed"] = deployed.get("id")
        out(
            "8. deploy_trigger(%r, %r, webhook_url=%r): %s %r, active %s"
            % (trigger, user, webhook_url, deployed_id, deployed.get("name"), deployed.get("active"))
        )
    else:
        out("8. deploy_trigger: skipped (no trigger given; a deployed trigger keeps running)")

    triggers = client.get_deployed_triggers(user, limit=10)
    summary["deployed_triggers"] = len(triggers.get("data", []))
    out(
        "9. get_deployed_triggers(%r): %d deployed trigger(s)%s"
        % (
            user,
            summary["deployed_triggers"],
            "".join("\n     - %s %r" % (t.get("id"), t.get("name")) for t in triggers.get("data", [])),
        )
    )

    if workflow:
        reply = client.invoke_workflow_for_external_user(workflow, user, json_data={"hello": "from the demo"})
        summary["workflow"] = reply
        if isinstance(reply, dict) and isinstance(reply.get("headers"), dict):  # the replica's echo
            headers = reply["headers"]
            reply_text = "the workflow got %s %s with X-PD-External-User-ID %s, X-PD-Environment %s, %s" % (
                reply.get("method"),
                reply.get("path"),
                headers.get("x-pd-external-user-id"),
                headers.get("x-pd-environment"),
                "a Bearer token" if "authorization" in headers else "no token",
            )
        else:
            reply_text = _brief(reply)
        out("10. invoke_workflow_for_external_user(%r, %r): %s" % (workflow, user, reply_text))
    else:
        out("10. invoke_workflow: skipped (no workflow given)")

    if proxy:
        url, account_id = proxy
        reply = client.make_proxy_request(
            {"external_user_id": user, "account_id": account_id}, {"url": url, "method": "GET"}
        )
        summary["proxy"] = reply
        if isinstance(reply, dict) and "external_user_id" in reply and "url" in reply:  # the replica's echo
            reply_text = "Pipedream would send %s %s with %s's %s credentials" % (
                reply.get("method"),
                reply.get("url"),
                reply.get("external_user_id"),
                reply.get("app"),
            )
        else:
            reply_text = _brief(reply)
        out("11. make_proxy_request(GET %s, account %s): %s" % (url, account_id, reply_text))
    else:
        out("11. make_proxy_request: skipped (no target URL and account given)")

    if deployed_id:
        client.delete_deployed_trigger(deployed_id, user)
        out("     (deleted the deployed trigger %s again)" % deployed_id)

    try:
        client.get_app(PIPEDREAM_MISSING_APP)
    except PipedreamApiError as error:
        summary["error"] = error.status_code
        out(
            "12. get_app(%r): %s, status %s, detail %r, request id %s"
            % (PIPEDREAM_MISSING_APP, type(error).__name__, error.status_code, error.detail, error.request_id)
        )
        if error.status_code != 404:
            raise
    else:
        out("12. get_app(%r): unexpectedly found" % PIPEDREAM_MISSING_APP)
    return summary


def _json_env(env: Mapping[str, str], name: str) -> Optional[Dict[str, Any]]:
    return json.loads(env[name]) if env.get(name) else None


def pipedream_flow(env: Mapping[str, str], out: Out = print) -> bool:
    """The Pipedream flow: offline on the bundled replica without PIPEDREAM_CLIENT_ID,
    PIPEDREAM_CLIENT_SECRET and PIPEDREAM_PROJECT_ID, else against the real API."""
    try:
        if not all(env.get(name) for name in PIPEDREAM_CREDENTIALS):
            import pipedream_replica

            server, base_url = pipedream_replica.start()  # loopback, a free port
            try:
                out(
                    "== Pipedream: offline, bundled replica at %s (set %s for the real API) =="
                    % (base_url, ", ".join(PIPEDREAM_CREDENTIALS))
                )
                with SyncPipedreamClient(
                    server.client_id,
                    server.client_secret,
                    server.project_id,
                    "development",
                    base_url=base_url,
                    workflow_domain="127.0.0.1",
                    proxy=False,
                ) as client:
                    run_pipedream(
                        client,
                        external_user_id="user-1",
                        action="slack-send-message",
                        action_props={
                            "slack": {"authProvisionId": server.accounts[0]["id"]},
                            "conversation": "C0123",
                            "text": "Hello from the demo",
                        },
                        trigger="slack-new-message-in-channels",
                        trigger_props={"conversations": ["C0123"]},
                        webhook_url="https://example.com/hooks/pipedream",
                        workflow=server.workflow_url("demo"),
                        proxy=("https://slack.com/api/auth.test", server.accounts[0]["id"]),
                        out=out,
                    )
            finally:
                pipedream_replica.stop(server)
            return True

        environment = env.get("PIPEDREAM_PROJECT_ENVIRONMENT") or "development"
        base_url = env.get("PIPEDREAM_BASE_URL") or None
        out(
            "== Pipedream: live API at %s, project %s (%s) =="
            % (base_url or "https://api.pipedream.com", env["PIPEDREAM_PROJECT_ID"], environment)
        )
        proxy = (
            (env["PIPEDREAM_DEMO_PROXY_URL"], env["PIPEDREAM_DEMO_ACCOUNT_ID"])
            if env.get("PIPEDREAM_DEMO_PROXY_URL") and env.get("PIPEDREAM_DEMO_ACCOUNT_ID")
            else None
        )
        with SyncPipedreamClient(
            env["PIPEDREAM_CLIENT_ID"],
            env["PIPEDREAM_CLIENT_SECRET"],
            env["PIPEDREAM_PROJECT_ID"],
            environment,
            base_url=base_url,
            workflow_domain=env.get("PIPEDREAM_WORKFLOW_DOMAIN") or None,
        ) as client:
            run_pipedream(
                client,
                external_user_id=env.get("PIPEDREAM_DEMO_EXTERNAL_USER_ID") or "demo-user",
                action=env.get("PIPEDREAM_DEMO_ACTION") or None,
                action_props=_json_env(env, "PIPEDREAM_DEMO_ACTION_PROPS"),
                trigger=env.get("PIPEDREAM_DEMO_TRIGGER") or None,
                trigger_props=_json_env(env, "PIPEDREAM_DEMO_TRIGGER_PROPS"),
                webhook_url=env.get("PIPEDREAM_DEMO_WEBHOOK_URL") or None,
                workflow=env.get("PIPEDREAM_DEMO_WORKFLOW") or None,
                proxy=proxy,
                out=out,
            )
        return True
    except PipedreamApiError as error:  # status, detail, method, URL, request id; never a secret
        print("Pipedream flow failed: %s" % error, file=sys.stderr)
        return False


# One entry per API: (name, flow(env, out) -> bool), run in this order.
FLOWS: List[Tuple[str, Callable[[Mapping[str, str], Out], bool]]] = [
    ("Altan", altan_flow),
    ("Pipedream", pipedream_flow),
]


def main(argv: Optional[List[str]] = None, env: Optional[Mapping[str, str]] = None, out: Out = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offline", action="store_true", help="use the bundled replicas even if credentials are set")
    parser.add_argument("--only", choices=[name.lower() for name, _ in FLOWS], help="run one flow")
    args = parser.parse_args(argv)
    env = dict(os.environ if env is None else env)
    if args.offline:
        env.pop("ALTAN_API_KEY", None)
        for name in PIPEDREAM_CREDENTIALS:
            env.pop(name, None)

    failed = []
    for name, flow in FLOWS:
        if args.only and args.only != name.lower():
            continue
        try:
            ok = flow(env, out)
        except AltanActionError as error:  # status, detail, method, URL; never the key
            print("%s flow failed: %s" % (name, error), file=sys.stderr)
            ok = False
        out("%s flow %s." % (name, "completed" if ok else "FAILED"))
        if not ok:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
