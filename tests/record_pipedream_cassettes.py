"""Record the Pipedream cassettes (cassettes/pipedream/*.yaml, one per client method) through vcrpy.

Default: against the bundled replica (replicas/pipedream_replica.py) on loopback, a fresh one
per cassette, with the origin rewritten as each request is recorded (API calls to
https://api.pipedream.com, workflow calls to https://en123abc.m.pipedream.net) and secrets
scrubbed (tests/pipedream_vcr.py). The replica's clock and id generator are fixed, so the
output is deterministic: running it again gives byte-identical files::

    python tests/record_pipedream_cassettes.py            # rewrite cassettes/pipedream/
    python tests/record_pipedream_cassettes.py --check    # record to a temp dir, diff, exit 1 on change

Against the live API (read-only calls plus one Connect token; the secret and tokens are
scrubbed the same way)::

    PIPEDREAM_CLIENT_ID=... PIPEDREAM_CLIENT_SECRET=... PIPEDREAM_PROJECT_ID=proj_... \\
        python tests/record_pipedream_cassettes.py --live [--external-user-id user-1] \\
        [--environment development] [--out cassettes/pipedream-live]

Live recordings go to cassettes/pipedream-live/ by default: the replay tests assert the
replica's data, so they should not be overwritten with live bodies.
"""

from __future__ import annotations

import argparse
import filecmp
import functools
import json
import os
import pathlib
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (ROOT, ROOT / "replicas", HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import vcr  # noqa: E402

import pipedream  # noqa: E402
import pipedream_replica  # noqa: E402
import pipedream_vcr as pv  # noqa: E402
from vcr_safety import thread_safe_cassette  # noqa: E402

RECORDING_CLOCK = 1767225600.0  # 2026-01-01T00:00:00Z, the replica's "now" while recording
RECORDING_HOST = "127.0.0.1"


def rewrite_origin(replica_url: str) -> Callable[[Any], Any]:
    """A ``before_record_request`` storing a request to the replica as one to the real API
    (``/wf/...`` as a request to the workflow ``en123abc``)."""
    workflow_root = replica_url + "/wf"

    def rewrite(request: Any) -> Any:
        if request.uri.startswith(workflow_root):
            request.uri = pv.WORKFLOW_ORIGIN + (request.uri[len(workflow_root) :] or "/")
        elif request.uri.startswith(replica_url):
            request.uri = pv.API_ORIGIN + request.uri[len(replica_url) :]
        return request

    return rewrite


# Secrets a client sends, and their placeholders: a server may echo them back in a response.
SENT_SECRETS = {
    pv.TEST_CLIENT_SECRET: pv.SECRET_PLACEHOLDER,
    pv.INVALID_CLIENT_SECRET: pv.INVALID_SECRET_PLACEHOLDER,
    pv.OAUTH_APP_SECRET: pv.OAUTH_APP_SECRET_PLACEHOLDER,
}


def scrub_response(
    replica_url: Optional[str], tokens: Callable[[], List[str]], secrets: Optional[Dict[str, str]] = None
) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    """A ``before_record_response``: no access token (issued ones become the placeholder), no
    client secret echoed by a server (in the body, a header or the reason phrase), no volatile
    header, the replica's host shown as the workflow host, Content-Length kept right."""
    user_agent = _user_agent()
    tokens_seen: "set[str]" = set()
    secret_placeholders = dict(SENT_SECRETS, **(secrets or {}))

    def scrub_secrets(text: str) -> str:
        """Access tokens (issued by the replica, or seen in a token response) and secrets the
        client sent, wherever a server echoed them."""
        replacements = dict(
            secret_placeholders, **{token: pv.ACCESS_TOKEN_PLACEHOLDER for token in set(tokens()) | tokens_seen}
        )
        replacements[pv.WORKFLOW_STATIC_TOKEN] = pv.STATIC_TOKEN_PLACEHOLDER
        for secret, placeholder in sorted(replacements.items(), key=lambda item: -len(item[0])):
            text = text.replace(secret, placeholder)
        return text

    def scrub(response: Dict[str, Any]) -> Dict[str, Any]:
        body = response["body"]["string"]
        data = None
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                pass
            if isinstance(data, dict) and isinstance(data.get("access_token"), str):  # the token response
                tokens_seen.add(data["access_token"])
        headers = {
            k: [scrub_secrets(x) if isinstance(x, str) else x for x in v] if isinstance(v, list) else v
            for k, v in response["headers"].items()
            if k.lower() not in pv.VOLATILE_RESPONSE_HEADERS
        }
        status = response.get("status")
        if isinstance(status, dict) and isinstance(status.get("message"), str):
            response = dict(response, status=dict(status, message=scrub_secrets(status["message"])))
        if body:
            text = body.decode("utf-8")
            if _scrub_credentials(data):  # accounts fetched with include_credentials=true
                text = json.dumps(data)  # the replica's own formatting, so recordings stay stable
            text = scrub_secrets(text).replace(user_agent, pv.USER_AGENT_PLACEHOLDER)
            if replica_url:
                text = text.replace(replica_url.split("://", 1)[1], pv.WORKFLOW_ORIGIN.split("://", 1)[1])
            body = text.encode("utf-8")
            for name in list(headers):
                if name.lower() == "content-length":
                    headers[name] = [str(len(body))]
        return dict(response, headers=headers, body={"string": body})

    return scrub


def _scrub_credentials(data: Any) -> bool:
    """Replace every string in an account's ``credentials`` with a placeholder, in place;
    True if there was one."""
    found = False
    if isinstance(data, dict):
        credentials = data.get("credentials")
        if isinstance(credentials, dict):
            for key, value in credentials.items():
                if isinstance(value, str):
                    credentials[key] = pv.CREDENTIAL_PLACEHOLDER
                    found = True
        for value in data.values():
            found = _scrub_credentials(value) or found
    elif isinstance(data, list):
        for value in data:
            found = _scrub_credentials(value) or found
    return found


def _issued_tokens(server: Optional[pipedream_replica.PipedreamReplica]) -> List[str]:
    return list(server.tokens) if server is not None else []


def _user_agent() -> str:
    """The User-Agent this client sends (it names the Python version, so it is scrubbed)."""
    client = pipedream.SyncPipedreamClient("id", "secret", "proj_x", "development", proxy=False)
    try:
        return client._headers["User-Agent"]
    finally:
        client.close()


def _to_replica(value: Any, replica_url: str) -> Any:
    """A workflow target of a scenario (endpoint id or https://en123abc.m.pipedream.net/...)
    as the replica's /wf URL."""
    if value == pv.WORKFLOW_ID:
        return replica_url + "/wf/"
    if isinstance(value, str) and value.startswith(pv.WORKFLOW_ORIGIN):
        return replica_url + "/wf" + (value[len(pv.WORKFLOW_ORIGIN) :] or "/")
    return value


def run_step(step: pv.Step, clients: Dict[str, Any], results: List[Any], replica_url: Optional[str]) -> str:
    args, kwargs = pv.step_arguments(step, results)
    if step.method.startswith("invoke_workflow") and replica_url:
        args = (_to_replica(args[0], replica_url),) + tuple(args[1:])
    try:
        result = getattr(pv.step_client(clients, step, results), step.method)(*args, **kwargs)
    except pipedream.PipedreamApiError as error:
        results.append(error)
        return "%s -> %s %s: %s" % (step.method, type(error).__name__, error.status_code, error.detail)
    results.append(result)
    return "%s -> ok %s" % (step.method, json.dumps(result)[:90])


def record(
    out_dir: pathlib.Path,
    scenarios: Dict[str, List[pv.Step]],
    *,
    live: Optional[Dict[str, str]] = None,
    log: Callable[[str], None] = print,
) -> List[pathlib.Path]:
    """Record ``scenarios`` into ``out_dir`` (one file per entry); returns the files written.
    Without ``live``, each cassette is recorded against a fresh replica."""
    out_dir.mkdir(parents=True, exist_ok=True)
    recorder = vcr.VCR(record_mode="all")
    pv.register_matchers(recorder)
    written = []
    for name, steps in scenarios.items():
        path = out_dir / (name + ".yaml")
        if path.exists():
            path.unlink()
        server = None
        if live is None:
            server, replica_url = pipedream_replica.start(
                0,
                pv.TEST_CLIENT_ID,
                pv.TEST_CLIENT_SECRET,
                pv.PROJECT_ID,
                host=RECORDING_HOST,
                clock=lambda: RECORDING_CLOCK,
                seed=0,
            )
            client_options: Dict[str, Any] = dict(base_url=replica_url, workflow_domain=RECORDING_HOST)
        else:
            replica_url = None
            client_options = dict(base_url=live.get("base_url"))
        config = pv.vcr_config()
        if live is not None:  # the live secret is scrubbed as the test secret is
            config["before_record_request"] = [pv.live_token_scrubber(live["client_secret"]), pv.scrub_request_secrets]
        if replica_url:
            config["before_record_request"] = config["before_record_request"] + [rewrite_origin(replica_url)]
        config["before_record_response"] = scrub_response(
            replica_url,
            functools.partial(_issued_tokens, server),
            {live["client_secret"]: pv.SECRET_PLACEHOLDER} if live is not None else None,
        )
        try:
            with recorder.use_cassette(str(path), **config) as cassette, thread_safe_cassette(cassette):
                # Clients are made inside the cassette (their connections must be vcrpy's) and
                # closed before it ends. No retries: one recorded interaction per call.
                if live is None:
                    clients = pv.make_clients(pipedream.SyncPipedreamClient, **client_options)
                else:
                    clients = {
                        "good": pipedream.SyncPipedreamClient(
                            live["client_id"],
                            live["client_secret"],
                            live["project_id"],
                            live["environment"],
                            max_retries=0,
                            **client_options,
                        )
                    }
                results: List[Any] = []
                try:
                    for step in steps:
                        if server is not None and step.fault is not None:
                            status, body, content_type, headers = step.fault
                            server.fail_next(status, body, content_type=content_type, headers=headers)
                        if server is not None and step.replica:
                            getattr(server, step.replica)()
                        log("  %s: %s" % (name, run_step(step, clients, results, replica_url)))
                finally:
                    for client in clients.values():
                        client.close()
        finally:
            if server is not None:
                pipedream_replica.stop(server)
        written.append(path)
        log("wrote %s (%d interactions)" % (os.path.relpath(path, ROOT), len(cassette)))
    return written


def live_scenarios(external_user_id: str) -> Dict[str, List[pv.Step]]:
    """Calls that change nothing on the live project (one Connect token aside)."""
    S = pv.S
    return {
        "get_project_info": [S("get_project_info")],
        "get_apps": [S("get_apps", has_actions=True, limit=3), S("get_apps", limit=500)],
        "get_app": [S("get_app", "slack"), S("get_app", "no-such-app-xyz")],
        "create_connect_token": [S("create_connect_token", external_user_id)],
        "get_accounts": [S("get_accounts", external_user_id=external_user_id, limit=2)],
        "get_account_by_id": [S("get_account_by_id", "apn_doesnotexist")],
        "get_components": [S("get_components", "actions", "slack", limit=3)],
        "get_component": [
            S("get_component", "actions", "slack-send-message"),
            S("get_component", "actions", "no-such-component-xyz"),
        ],
        "get_deployed_triggers": [S("get_deployed_triggers", external_user_id, 2)],
        "get_deployed_trigger": [S("get_deployed_trigger", "dc_doesnotexist", external_user_id)],
        "get_users": [S("get_users", limit=2)],
        "get_accounts_by_external_user": [S("get_accounts_by_external_user", external_user_id)],
        "get_app_categories": [S("get_app_categories")],
        "get_app_overrides": [S("get_app_overrides", limit=2)],
        "get_oauth_apps": [S("get_oauth_apps", limit=2)],
        "get_project_webhook": [S("get_project_webhook")],
        "get_projects": [S("get_projects", limit=2)],
        "get_apps_v2": [S("get_apps_v2", limit=3), S("get_apps_v2", limit=3, page=2)],
        "get_app_facets_v2": [S("get_app_facets_v2")],
        "get_app_v2": [S("get_app_v2", "slack"), S("get_app_v2", "no-such-app-xyz")],
        "get_components_v2": [S("get_components_v2", limit=3, app="slack")],
        "get_component_facets_v2": [S("get_component_facets_v2")],
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        help="output directory (default cassettes/pipedream, or cassettes/pipedream-live with --live)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="record from the replica into a temporary directory and compare with cassettes/pipedream",
    )
    parser.add_argument("--only", action="append", metavar="METHOD", help="record only this cassette (repeatable)")
    parser.add_argument(
        "--live",
        action="store_true",
        help="record against the real API (PIPEDREAM_CLIENT_ID, _CLIENT_SECRET, _PROJECT_ID)",
    )
    parser.add_argument("--external-user-id", default="user-1", help="--live: an external user id of the project")
    parser.add_argument("--environment", default="development", help="--live: development or production")
    args = parser.parse_args(argv)
    scenarios = pv.SCENARIOS
    if args.only:
        unknown = set(args.only) - set(scenarios)
        if unknown:
            parser.error("no such cassette: %s" % ", ".join(sorted(unknown)))
        scenarios = {name: steps for name, steps in scenarios.items() if name in args.only}

    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            record(pathlib.Path(tmp), scenarios, log=lambda line: None)
            names = sorted(p.name for p in pathlib.Path(tmp).glob("*.yaml"))
            _, mismatch, errors = filecmp.cmpfiles(tmp, str(pv.CASSETTE_DIR), names, shallow=False)
            if mismatch or errors:
                print("cassettes differ from a fresh recording: %s" % ", ".join(mismatch + errors))
                return 1
            print("cassettes/pipedream is up to date (%d files)" % len(names))
            return 0

    if not args.live:
        record(args.out or pv.CASSETTE_DIR, scenarios)
        return 0

    live = {
        name: os.environ.get("PIPEDREAM_" + name.upper(), "") for name in ("client_id", "client_secret", "project_id")
    }
    if not all(live.values()):
        parser.error("--live needs PIPEDREAM_CLIENT_ID, PIPEDREAM_CLIENT_SECRET and PIPEDREAM_PROJECT_ID")
    live["environment"] = args.environment
    live["base_url"] = os.environ.get("PIPEDREAM_BASE_URL") or pipedream.DEFAULT_BASE_URL
    live_only = live_scenarios(args.external_user_id)
    if args.only:
        live_only = {name: steps for name, steps in live_only.items() if name in args.only}
    record(args.out or ROOT / "cassettes" / "pipedream-live", live_only, live=live)
    return 0


if __name__ == "__main__":
    sys.exit(main())
