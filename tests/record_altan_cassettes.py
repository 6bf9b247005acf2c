"""Record the Altan cassettes (cassettes/altan/*.yaml) through vcrpy.

Default: against the bundled replica (replicas/altan_replica.py) on loopback, with the origin
rewritten to the real base URL (https://api.altan.ai/integration) as each request is recorded,
and X-Altan-Key / Authorization scrubbed to placeholders by vcrpy's header filters. The output
is deterministic: running it again gives byte-identical files (tests/test_cassettes.py
checks this)::

    python tests/record_altan_cassettes.py                  # rewrite cassettes/altan/
    python tests/record_altan_cassettes.py --check          # record to a temp dir, diff, exit 1 on change

Against the live API (the key is scrubbed the same way; nothing that could send a message
runs unless --execute is given)::

    ALTAN_API_KEY=... python tests/record_altan_cassettes.py --live \\
        --connection-id <id> --action-type-id <id> [--execute --payload '{"...": "..."}'] \\
        [--out cassettes/altan-live]

Live recordings go to cassettes/altan-live/ by default: the replay tests assert the replica's
data, so they should not be overwritten with live bodies.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import pathlib
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
for _path in (ROOT, ROOT / "replicas", HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import vcr  # noqa: E402

import altan  # noqa: E402
import altan_replica  # noqa: E402
from altan_vcr import (  # noqa: E402
    CASSETTE_DIR,
    INVALID_API_KEY,
    REAL_BASE_URL,
    TEST_API_KEY,
    register_matchers,
    rewrite_origin,
    vcr_config,
)
from vcr_safety import thread_safe_cassette  # noqa: E402

EMAIL = {"to": "someone@example.com", "subject": "Test Email", "body": "This is a test email sent through Altan!"}


@dataclass
class Step:
    """One client call. ``fault`` scripts the replica's answer: (status, body, content type, headers)."""

    method: str
    args: Tuple[Any, ...] = ()
    invalid_key: bool = False
    fault: Optional[Tuple[int, Any, Optional[str], Dict[str, str]]] = None
    kwargs: Dict[str, Any] = field(default_factory=dict)


# One cassette per client method; each covers a success and the error shapes FastAPI services
# send (cassettes/README.md lists them). tests/test_cassettes.py replays every
# interaction, in this order.
SCENARIOS: Dict[str, List[Step]] = {
    "list_connections": [
        *[Step("list_connections") for _ in range(6)],  # identical calls: the concurrency tests gather them
        Step("list_connections", invalid_key=True),  # 401
        Step("list_connections", fault=(500, "Internal Server Error", "text/plain; charset=utf-8", {})),
        Step("list_connections", fault=(429, {"detail": "Rate limit exceeded"}, None, {"Retry-After": "30"})),
    ],
    "get_connection": [
        Step("get_connection", ("abc123",)),
        Step("get_connection", ("def456",)),
        Step("get_connection", ("missing-connection",)),  # 404
        Step("get_connection", ("a/b c",)),  # 404, and the id travels as one segment: a%2Fb%20c
        Step("get_connection", ("abc123",), invalid_key=True),  # 401
    ],
    "list_action_types": [
        Step("list_action_types", ("abc123",)),
        Step("list_action_types", ("def456",)),
        Step("list_action_types", ("missing-connection",)),  # 404
        Step(
            "list_action_types",
            ("abc123",),
            fault=(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html", {}),
        ),
    ],
    "get_action_type": [
        Step("get_action_type", ("abc123", "send-email")),
        Step("get_action_type", ("def456", "send_message")),
        Step("get_action_type", ("abc123", "no-such-action")),  # 404 action type
        Step("get_action_type", ("missing-connection", "send-email")),  # 404 connection
    ],
    "execute_action": [
        Step("execute_action", ("abc123", "send-email", EMAIL)),
        *[
            Step(
                "execute_action",
                (
                    "abc123",
                    "send-email",
                    {"to": "user%d@example.com" % i, "subject": "Email %d" % i, "body": "Message %d" % i},
                ),
            )
            for i in range(3)
        ],
        Step("execute_action", ("def456", "send_message", {"channel": "C123", "text": "hi"})),
        Step("execute_action", ("def456", "send_message", {"channel": "C999", "text": "hi"})),  # 200 success:false
        Step("execute_action", ("abc123", "send-email", dict(EMAIL, to="rejected@example.com"))),  # 200 success:false
        Step("execute_action", ("abc123", "send-email", {"to": 42})),  # 422
        Step("execute_action", ("abc123", "invalid-action", {})),  # 404, the README's error example
        Step(
            "execute_action",
            ("abc123", "send-email", EMAIL),
            fault=(500, "Internal Server Error", "text/plain; charset=utf-8", {}),
        ),
        Step("execute_action", ("abc123", "send-email", EMAIL), invalid_key=True),  # 401
    ],
}


def _run_step(step: Step, client: altan.AltanActionsClient) -> str:
    try:
        result = getattr(client, step.method)(*step.args, **step.kwargs)
    except altan.AltanActionError as error:
        return "%s -> %s %s" % (step.method, error.status_code, error.detail)
    return "%s -> ok %s" % (step.method, json.dumps(result)[:80])


def record(
    out_dir: pathlib.Path,
    *,
    base_url: str,
    api_key: str,
    scenarios: Dict[str, List[Step]],
    server: Optional[altan_replica.AltanReplica] = None,
    log: Callable[[str], None] = print,
) -> List[pathlib.Path]:
    """Record ``scenarios`` into ``out_dir``; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    recorder = vcr.VCR(record_mode="all")
    register_matchers(recorder)
    config = vcr_config(api_key)
    if server is not None:
        config["before_record_request"] = rewrite_origin(base_url, REAL_BASE_URL)
    written = []
    for name, steps in scenarios.items():
        path = out_dir / (name + ".yaml")
        if path.exists():
            path.unlink()
        if server is not None:
            server.reset()  # request ids start at req_000001 in every cassette
        with recorder.use_cassette(str(path), **config) as cassette, thread_safe_cassette(cassette):
            # Clients are made inside the cassette (their connections must be vcrpy's) and
            # closed before it ends. No retries: one recorded interaction per call.
            with altan.AltanActionsClient(api_key, base_url, max_retries=0) as good, altan.AltanActionsClient(
                INVALID_API_KEY, base_url, max_retries=0
            ) as bad:
                for step in steps:
                    if step.fault is not None:
                        if server is None:
                            continue  # faults can only be scripted on the replica
                        status, body, content_type, headers = step.fault
                        server.fail_next(status, body, content_type=content_type, headers=headers)
                    log("  %s: %s" % (name, _run_step(step, bad if step.invalid_key else good)))
        written.append(path)
        log("wrote %s (%d interactions)" % (os.path.relpath(path, ROOT), len(cassette)))
    return written


def record_from_replica(out_dir: pathlib.Path = CASSETTE_DIR, log: Callable[[str], None] = print) -> List[pathlib.Path]:
    server, base_url = altan_replica.start(api_key=TEST_API_KEY)
    try:
        return record(out_dir, base_url=base_url, api_key=TEST_API_KEY, scenarios=SCENARIOS, server=server, log=log)
    finally:
        altan_replica.stop(server)


def live_scenarios(connection_id: str, action_type_id: str, payload: Optional[Dict[str, Any]]) -> Dict[str, List[Step]]:
    scenarios = {
        "list_connections": [Step("list_connections"), Step("list_connections", invalid_key=True)],
        "get_connection": [Step("get_connection", (connection_id,)), Step("get_connection", ("missing-connection",))],
        "list_action_types": [
            Step("list_action_types", (connection_id,)),
            Step("list_action_types", ("missing-connection",)),
        ],
        "get_action_type": [
            Step("get_action_type", (connection_id, action_type_id)),
            Step("get_action_type", (connection_id, "no-such-action")),
        ],
    }
    if payload is not None:
        scenarios["execute_action"] = [
            Step("execute_action", (connection_id, action_type_id, payload)),
            Step("execute_action", (connection_id, "no-such-action", {})),
        ]
    return scenarios


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        help="output directory (default cassettes/altan, or cassettes/altan-live with --live)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="record from the replica into a temporary directory and compare with cassettes/altan",
    )
    parser.add_argument("--live", action="store_true", help="record against the real API (needs ALTAN_API_KEY)")
    parser.add_argument("--connection-id", help="--live: an existing connection id")
    parser.add_argument("--action-type-id", help="--live: an action type of that connection")
    parser.add_argument("--execute", action="store_true", help="--live: also execute the action (it really runs!)")
    parser.add_argument("--payload", default="{}", help="--live --execute: the payload, as JSON")
    args = parser.parse_args(argv)

    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            record_from_replica(pathlib.Path(tmp), log=lambda line: None)
            names = sorted(p.name for p in pathlib.Path(tmp).glob("*.yaml"))
            _, mismatch, errors = filecmp.cmpfiles(tmp, str(CASSETTE_DIR), names, shallow=False)
            if mismatch or errors:
                print("cassettes differ from a fresh recording: %s" % ", ".join(mismatch + errors))
                return 1
            print("cassettes/altan is up to date (%d files)" % len(names))
            return 0

    if not args.live:
        record_from_replica(args.out or CASSETTE_DIR)
        return 0

    api_key = os.environ.get("ALTAN_API_KEY")
    if not api_key:
        parser.error("--live needs ALTAN_API_KEY in the environment")
    if not (args.connection_id and args.action_type_id):
        parser.error("--live needs --connection-id and --action-type-id")
    base_url = os.environ.get("ALTAN_BASE_URL") or altan.DEFAULT_BASE_URL
    payload = json.loads(args.payload) if args.execute else None
    record(
        args.out or ROOT / "cassettes" / "altan-live",
        base_url=base_url,
        api_key=api_key,
        scenarios=live_scenarios(args.connection_id, args.action_type_id, payload),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
