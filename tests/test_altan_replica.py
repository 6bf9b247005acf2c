"""The Altan replica (replicas/altan_replica.py) and the demo (examples/demo.py).

The replica is spoken to with bare http.client here, so that what it answers is checked
independently of the client under test.
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import signal
import subprocess
import sys
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

import pytest

import altan_replica
from replica_http import StartedReplicas
import demo
from altan import AltanActionsClient
from altan_vcr import TEST_API_KEY

ROOT = pathlib.Path(__file__).resolve().parent.parent


class Raw:
    """One kept-alive http.client connection to a replica."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.prefix = parts.path
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        key: Optional[str] = TEST_API_KEY,
        headers: Optional[Dict[str, str]] = None,
    ) -> Tuple[int, Dict[str, str], Any]:
        sent = dict(headers or {})
        if key is not None:
            sent["X-Altan-Key"] = key
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            sent.setdefault("Content-Type", "application/json")
        self.conn.request(method, self.prefix + path, body=body, headers=sent)
        response = self.conn.getresponse()
        data = response.read()
        content_type = response.getheader("Content-Type", "")
        return (
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            (json.loads(data) if content_type.startswith("application/json") else data.decode()),
        )

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def raw(altan_replica: Any) -> Iterator[Raw]:
    r = Raw(altan_replica.base_url)
    yield r
    r.close()


EMAIL = {"to": "someone@example.com", "subject": "Hi", "body": "Hello"}
EXECUTE = "/connection/abc123/actions/send-email/execute"


def test_start_gives_a_loopback_base_url_with_the_prefix(altan_replica: Any) -> None:
    parts = urlsplit(altan_replica.base_url)
    assert parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.port and parts.path == "/integration"


def test_the_readme_bodies(raw: Raw) -> None:
    status, _, body = raw("GET", "/connection")
    assert status == 200 and [c["id"] for c in body["data"]] == ["abc123", "def456", "connection-id"]
    assert raw("GET", "/connection/abc123")[2] == {
        "id": "abc123",
        "name": "Work Gmail",
        "provider": "gmail",
        "status": "active",
    }
    assert raw("GET", "/connection/abc123/actions")[2] == {
        "data": [{"id": "send-email", "name": "Send Email"}, {"id": "list-messages", "name": "List Messages"}]
    }
    action = raw("GET", "/connection/abc123/actions/send-email")[2]
    assert action["input_schema"]["required"] == ["to", "subject", "body"]


def test_execute_answers_in_altans_shape(raw: Raw) -> None:
    status, headers, body = raw("POST", EXECUTE, {"payload": EMAIL})
    assert status == 200 and headers["content-type"] == "application/json"
    assert body["success"] is True and set(body["data"]) == {"message_id", "thread_id"}
    assert "status" not in body  # the README's keys are the client's job
    status, _, body = raw("POST", "/connection/def456/actions/send_message/execute", {"payload": {"channel": "C999"}})
    assert (status, body) == (200, {"success": False, "data": {"error": "channel_not_found"}})
    status, _, body = raw("POST", EXECUTE, {"payload": dict(EMAIL, to="rejected@example.com")})
    assert (status, body) == (200, {"success": False, "data": {"error": "Recipient address rejected"}})


@pytest.mark.parametrize("key", [None, "", "wrong-key", TEST_API_KEY.upper()])
def test_a_missing_or_wrong_key_is_401(raw: Raw, key: Optional[str]) -> None:
    status, _, body = raw("GET", "/connection", key=key)
    assert (status, body) == (401, {"detail": "Invalid API key"})


def test_a_bearer_token_alone_is_not_enough(raw: Raw) -> None:
    status, _, body = raw("GET", "/connection", key=None, headers={"Authorization": "Bearer " + TEST_API_KEY})
    assert (status, body) == (401, {"detail": "Invalid API key"})


def test_several_keys_can_be_accepted() -> None:
    server, base_url = altan_replica.start(api_key=["key-one", "key-two"])
    try:
        r = Raw(base_url)
        assert r("GET", "/connection", key="key-one")[0] == 200
        assert r("GET", "/connection", key="key-two")[0] == 200
        assert r("GET", "/connection", key="key-three")[0] == 401
        r.close()
    finally:
        altan_replica.stop(server)


@pytest.mark.parametrize(
    "path, detail",
    [
        ("/connection/nope", "Connection not found"),
        ("/connection/nope/actions", "Connection not found"),
        ("/connection/abc123/actions/nope", "Action type not found"),
        ("/connection/def456/actions/send-email", "Action type not found"),
        ("/connections", "Not Found"),
        ("/api/connections", "Not Found"),
        ("/connection/abc123/actions/send-email/execute/extra", "Not Found"),
        ("/connection//actions", "Not Found"),
    ],
)
def test_unknown_ids_and_routes_are_404(raw: Raw, path: str, detail: str) -> None:
    status, _, body = raw("GET", path)
    assert (status, body) == (404, {"detail": detail})


def test_the_wrong_method_is_405(raw: Raw) -> None:
    status, headers, body = raw("GET", EXECUTE)
    assert (status, body, headers["allow"]) == (405, {"detail": "Method Not Allowed"}, "POST")
    status, headers, body = raw("POST", "/connection", {"payload": {}})
    assert (status, headers["allow"]) == (405, "GET")


@pytest.mark.parametrize(
    "body, error",
    [
        (EMAIL, {"type": "missing", "loc": ["body", "payload"], "msg": "Field required", "input": EMAIL}),
        (None, {"type": "missing", "loc": ["body", "payload"], "msg": "Field required", "input": None}),
        (
            {"payload": ["to"]},
            {
                "type": "dict_type",
                "loc": ["body", "payload"],
                "msg": "Input should be a valid dictionary",
                "input": ["to"],
            },
        ),
        (
            {"payload": {"to": "a", "subject": "b"}},
            {
                "type": "missing",
                "loc": ["body", "payload", "body"],
                "msg": "Field required",
                "input": {"to": "a", "subject": "b"},
            },
        ),
        (
            {"payload": dict(EMAIL, cc="x")},
            {
                "type": "list_type",
                "loc": ["body", "payload", "cc"],
                "msg": "Input should be a valid list",
                "input": "x",
            },
        ),
    ],
)
def test_an_invalid_execute_body_is_422_with_fastapis_validation_body(
    raw: Raw, body: Any, error: Dict[str, Any]
) -> None:
    status, _, answer = raw(
        "POST", EXECUTE, body if body is not None else b"", headers={"Content-Type": "application/json"}
    )
    assert status == 422 and answer == {"detail": [error]}


def test_a_body_that_is_not_json_is_422(raw: Raw) -> None:
    status, _, answer = raw("POST", EXECUTE, b"{not json", headers={"Content-Type": "application/json"})
    assert status == 422 and answer["detail"][0]["type"] == "json_invalid"


def test_every_response_has_a_request_id(raw: Raw, altan_replica: Any) -> None:
    ids = [
        raw("GET", "/connection")[1]["x-request-id"],
        raw("GET", "/connection", key="wrong")[1]["x-request-id"],
        raw("GET", "/nowhere")[1]["x-request-id"],
        raw("GET", EXECUTE)[1]["x-request-id"],
        raw("POST", EXECUTE, {"oops": 1})[1]["x-request-id"],
    ]
    assert ids == ["req_%06d" % i for i in range(1, 6)]


def test_requests_are_counted_and_recorded(raw: Raw, altan_replica: Any) -> None:
    assert altan_replica.request_count == 0
    raw("POST", "/connection/a%2Fb/actions/x/execute", {"payload": {"k": 1}})
    raw("GET", "/connection?limit=5")
    assert altan_replica.request_count == 2
    first, second = altan_replica.requests
    assert first.method == "POST" and first.target == "/integration/connection/a%2Fb/actions/x/execute"
    assert first.segments == ["connection", "a/b", "actions", "x", "execute"]
    assert first.json() == {"payload": {"k": 1}} and first.headers["x-altan-key"] == TEST_API_KEY
    assert second.query == {"limit": "5"} and second.segments == ["connection"]
    altan_replica.reset()
    assert altan_replica.request_count == 0 and altan_replica.connection_count == 0


def test_connections_are_kept_alive(raw: Raw, altan_replica: Any) -> None:
    for _ in range(5):
        assert raw("GET", "/connection")[0] == 200
    assert raw("POST", EXECUTE, {"payload": EMAIL})[0] == 200
    assert altan_replica.connection_count == 1 and altan_replica.request_count == 6


def test_the_client_reuses_one_connection(altan_replica: Any) -> None:
    with AltanActionsClient(TEST_API_KEY, altan_replica.base_url) as client:
        for _ in range(5):
            client.list_connections()
        client.execute_action("abc123", "send-email", EMAIL)
    assert altan_replica.connection_count == 1 and altan_replica.request_count == 6


def test_a_chunked_request_body_is_read(raw: Raw, altan_replica: Any) -> None:
    body = json.dumps({"payload": EMAIL}).encode()
    raw.conn.putrequest("POST", raw.prefix + EXECUTE)
    raw.conn.putheader("X-Altan-Key", TEST_API_KEY)
    raw.conn.putheader("Transfer-Encoding", "chunked")
    raw.conn.endheaders()
    for i in range(0, len(body), 10):
        chunk = body[i : i + 10]
        raw.conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    raw.conn.send(b"0\r\n\r\n")
    response = raw.conn.getresponse()
    assert response.status == 200 and json.loads(response.read())["success"] is True
    assert altan_replica.last_request.json() == {"payload": EMAIL}


def test_fail_next_scripts_one_answer(raw: Raw, altan_replica: Any) -> None:
    altan_replica.fail_next(500, "Internal Server Error")
    altan_replica.fail_next(429, {"detail": "Rate limit exceeded"}, headers={"Retry-After": "3"}, method="POST")
    status, headers, body = raw("GET", "/connection")
    assert (status, body, headers["content-type"]) == (500, "Internal Server Error", "text/plain; charset=utf-8")
    assert raw("GET", "/connection")[0] == 200  # the POST-only script waits
    status, headers, body = raw("POST", EXECUTE, {"payload": EMAIL})
    assert (status, body, headers["retry-after"]) == (429, {"detail": "Rate limit exceeded"}, "3")
    assert raw("POST", EXECUTE, {"payload": EMAIL})[0] == 200
    altan_replica.fail_next(503, "x")
    assert raw("GET", "/connection", key="wrong")[0] == 401  # the key is checked first


@pytest.mark.parametrize("prefix, path", [("", "/connection"), ("/", "/connection"), ("/v1/", "/v1/connection")])
def test_the_prefix_is_configurable(prefix: str, path: str) -> None:
    server, base_url = altan_replica.start(api_key=TEST_API_KEY, prefix=prefix)
    try:
        assert urlsplit(base_url).path + "/connection" == path
        with AltanActionsClient(TEST_API_KEY, base_url) as client:
            assert client.list_connections()["data"]
        assert server.last_request.path == path
    finally:
        altan_replica.stop(server)


def test_stop_closes_kept_alive_connections_and_is_idempotent() -> None:
    server, base_url = altan_replica.start(api_key=TEST_API_KEY)
    r = Raw(base_url)
    assert r("GET", "/connection")[0] == 200
    altan_replica.stop(server)
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        r("GET", "/connection")  # the kept-alive connection was closed, and nothing listens
    r.close()
    server.stop()
    altan_replica.stop(server)


def test_module_stop_stops_every_started_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(altan_replica, "_started", StartedReplicas())  # leave the session's replica alone
    servers = [altan_replica.start(api_key=TEST_API_KEY)[0] for _ in range(2)]
    altan_replica.stop()
    for server in servers:
        assert server.socket.fileno() == -1  # listening socket closed


def test_the_command_line_runs_a_replica() -> None:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "replicas" / "altan_replica.py"), "--port", "0", "--quiet", "--api-key", "cli-key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("Altan replica listening on http://127.0.0.1:"), line
        base_url = line.split()[4]
        with AltanActionsClient("cli-key", base_url) as client:
            assert client.get_connection("abc123")["name"] == "Work Gmail"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err


# ---------------------------------------------------------------------------------------------
# The demo (the README's main job)
# ---------------------------------------------------------------------------------------------


def run_demo(env: Dict[str, str], argv: Optional[List[str]] = None) -> Tuple[int, List[str]]:
    lines: List[str] = []
    return demo.main(argv or [], env=env, out=lines.append), lines


def test_the_demo_runs_offline_on_the_bundled_replica() -> None:
    code, lines = run_demo({})
    assert code == 0
    text = "\n".join(lines)
    assert lines[0].startswith("== Altan: offline, bundled replica at http://127.0.0.1:")
    for expected in [
        "1. list_connections(): 3 connection(s)",
        "2. get_connection('abc123'): name Work Gmail",
        "3. list_action_types('abc123'): 2 action type(s)",
        "4. get_action_type('abc123', 'send-email'): Send Email, input schema:",
        "     - to (string): required",
        "5. execute_action('abc123', 'send-email'): status success",
        "6. execute_action('def456', 'send_message') that fails upstream: status error, "
        'error {"error": "channel_not_found"}',
        "7. get_connection('does-not-exist-demo'): AltanActionError, status 404, "
        "detail 'Connection not found', request id req_000007",
        "Altan flow completed.",
    ]:
        assert expected in text


def test_run_altan_defaults_to_the_first_connection_and_action_and_executes_nothing(altan_replica: Any) -> None:
    lines: List[str] = []
    with AltanActionsClient(TEST_API_KEY, altan_replica.base_url) as client:
        summary = demo.run_altan(client, out=lines.append)
    assert summary == {
        "connections": 3,
        "connection": "Work Gmail",
        "action_types": 2,
        "action_type": "Send Email",
        "error": 404,
    }
    assert not any(r.method == "POST" for r in altan_replica.requests)


def test_the_demo_uses_the_real_api_settings_when_a_key_is_set(altan_replica: Any) -> None:
    env = {"ALTAN_API_KEY": TEST_API_KEY, "ALTAN_BASE_URL": altan_replica.base_url}
    code, lines = run_demo(env)
    assert code == 0 and lines[0] == "== Altan: live API at %s ==" % altan_replica.base_url
    assert "5. execute_action: skipped (no payload given; an action really runs)" in lines
    assert not any(r.method == "POST" for r in altan_replica.requests), "nothing executed without a payload"

    env.update(
        ALTAN_DEMO_CONNECTION_ID="connection-id",
        ALTAN_DEMO_ACTION_TYPE_ID="action-type-id",
        ALTAN_DEMO_PAYLOAD='{"message": "hi"}',
    )
    code, lines = run_demo(env)
    assert code == 0
    assert (
        '5. execute_action(\'connection-id\', \'action-type-id\'): status success, result {"echo": {"message": "hi"}}'
    ) in lines
    assert altan_replica.last_request.segments == ["connection", "does-not-exist-demo"]


def test_the_demo_fails_with_exit_status_1_and_no_key_in_the_message(
    altan_replica: Any, capsys: pytest.CaptureFixture
) -> None:
    code, lines = run_demo({"ALTAN_API_KEY": "wrong-key-123456", "ALTAN_BASE_URL": altan_replica.base_url})
    assert code == 1 and "Altan flow FAILED." in lines  # the Pipedream flow runs after it
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "Invalid API key" in err and "wrong-key-123456" not in err


def test_the_demo_offline_flag_ignores_credentials() -> None:
    code, lines = run_demo({"ALTAN_API_KEY": "whatever"}, ["--offline"])
    assert code == 0 and "offline" in lines[0]


def test_the_demo_script_exits_0_offline() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALTAN_", "PIPEDREAM_", "PD_"))}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), "--only", "altan"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=str(ROOT / "examples"),
    )
    assert result.returncode == 0, result.stderr
    assert "Altan flow completed." in result.stdout
