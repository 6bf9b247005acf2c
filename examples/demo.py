"""The main job: run a complete flow of each client, end to end, and say what happened.

    python examples/demo.py                      # offline: the bundled replica on 127.0.0.1
    ALTAN_API_KEY=... python examples/demo.py    # the real Altan API (ALTAN_BASE_URL to override)

Altan flow (``run_altan``): list connections, get one, list its action types, get one and
show its input schema, execute it, show an execution that fails upstream (HTTP 200,
``status: "error"``, returned rather than raised) and an API error (``AltanActionError``).

Offline, nothing leaves the machine: the replica (examples/altan_replica.py) listens on loopback
only. Against the real API nothing is executed unless you ask for it, since an action really
runs (it may send an email): set ALTAN_DEMO_CONNECTION_ID, ALTAN_DEMO_ACTION_TYPE_ID and
ALTAN_DEMO_PAYLOAD (JSON) to execute one; otherwise the demo only reads, plus one lookup of a
connection id that does not exist, to show an error.

Each API has one flow function (``altan_flow``; a Pipedream one goes next to it) listed in
``FLOWS``; ``main`` runs them in order. Exit status: 0 when every flow completed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

HERE = pathlib.Path(__file__).resolve().parent
for _path in (HERE, HERE.parent):  # the replica; altan.py when it is not installed
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

from altan import DEFAULT_BASE_URL, AltanActionError, AltanActionsClient  # noqa: E402

Out = Callable[[str], None]

# What the offline flow does on the replica (its data: examples/altan_replica.py).
OFFLINE_CONNECTION = "abc123"
OFFLINE_ACTION = "send-email"
OFFLINE_PAYLOAD = {"to": "someone@example.com", "subject": "Hello from the demo",
                   "body": "Sent through the Altan Actions API (replica)."}
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
        out("%s: status %s, error %s (HTTP 200: returned, not raised)" % (
            label, response.get("status"), json.dumps(response.get("error"), sort_keys=True)))


def run_altan(client: AltanActionsClient, *, connection_id: Optional[str] = None,
              action_type_id: Optional[str] = None, payload: Optional[Mapping[str, Any]] = None,
              failing: Optional[Tuple[str, str, Mapping[str, Any]]] = None,
              out: Out = print) -> Dict[str, Any]:
    """A complete Altan flow with ``client``; prints each step and returns a summary.

    ``connection_id`` / ``action_type_id`` default to the first ones listed. The action is
    executed only if ``payload`` is given; ``failing`` names an execution expected to fail
    upstream. An unexpected ``AltanActionError`` propagates."""
    summary: Dict[str, Any] = {}

    connections = _items(client.list_connections())
    summary["connections"] = len(connections)
    out("1. list_connections(): %d connection(s)" % len(connections))
    for connection in connections:
        out("     - %s (id %s%s)" % (connection.get("name"), connection.get("id"),
                                     ", " + connection["provider"] if connection.get("provider") else ""))
    if connection_id is None and connections:
        connection_id = str(connections[0].get("id"))

    if connection_id is not None:
        connection = client.get_connection(connection_id)
        summary["connection"] = connection.get("name")
        out("2. get_connection(%r): %s" % (connection_id, ", ".join(
            "%s %s" % (k, connection[k]) for k in ("name", "provider", "status") if k in connection)))

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
            out("4. get_action_type(%r, %r): %s, input schema:" % (
                connection_id, action_type_id, action_type.get("name")))
            _show_schema(action_type, out)

            if payload is not None:
                response = client.execute_action(connection_id=connection_id, action_type_id=action_type_id,
                                                 payload=payload)
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
        out("7. get_connection(%r): AltanActionError, status %s, detail %r, request id %s" % (
            MISSING_CONNECTION, error.status_code, error.detail, error.request_id))
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

        server, base_url = altan_replica.start()  # loopback, a free port, key "demo-key"
        try:
            out("== Altan: offline, bundled replica at %s (set ALTAN_API_KEY for the real API) ==" % base_url)
            with AltanActionsClient(altan_replica.DEFAULT_API_KEY, base_url) as client:
                run_altan(client, connection_id=OFFLINE_CONNECTION, action_type_id=OFFLINE_ACTION,
                          payload=OFFLINE_PAYLOAD, failing=OFFLINE_FAILING, out=out)
        finally:
            altan_replica.stop(server)
        return True

    base_url = env.get("ALTAN_BASE_URL") or DEFAULT_BASE_URL
    payload = json.loads(env["ALTAN_DEMO_PAYLOAD"]) if env.get("ALTAN_DEMO_PAYLOAD") else None
    out("== Altan: live API at %s ==" % base_url)
    with AltanActionsClient(api_key, base_url) as client:
        run_altan(client, connection_id=env.get("ALTAN_DEMO_CONNECTION_ID"),
                  action_type_id=env.get("ALTAN_DEMO_ACTION_TYPE_ID"), payload=payload, out=out)
    return True


# One entry per API. A Pipedream flow goes here as ("Pipedream", pipedream_flow), with
# pipedream_flow(env, out) -> bool written like altan_flow (a run_pipedream(client, ...) doing
# the calls, offline on a bundled replica when no credentials are set).
FLOWS: List[Tuple[str, Callable[[Mapping[str, str], Out], bool]]] = [
    ("Altan", altan_flow),
]


def main(argv: Optional[List[str]] = None, env: Optional[Mapping[str, str]] = None, out: Out = print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offline", action="store_true", help="use the bundled replicas even if credentials are set")
    parser.add_argument("--only", choices=[name.lower() for name, _ in FLOWS], help="run one flow")
    args = parser.parse_args(argv)
    env = dict(os.environ if env is None else env)
    if args.offline:
        env.pop("ALTAN_API_KEY", None)

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
