"""The command lines: ``python -m altan ...`` (and ``python altan.py ...`` on a vendored
copy) against the bundled replica: JSON on stdout, errors on stderr, non-zero exit codes."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from altan_vcr import TEST_API_KEY

ROOT = pathlib.Path(__file__).resolve().parent.parent
ALTAN_COMMANDS = ["connections", "connection", "action-types", "action-type", "execute"]


def run(args, env, cwd=ROOT, stdin=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ALTAN_", "PIPEDREAM_"))}
    environment.update(env)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=environment, input=stdin, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def altan_env(altan_replica):
    return {"ALTAN_API_KEY": TEST_API_KEY, "ALTAN_BASE_URL": altan_replica.base_url}


def test_altan_help_lists_every_command():
    result = run(["-m", "altan", "--help"], {})
    assert result.returncode == 0
    for command in ALTAN_COMMANDS:
        assert command in result.stdout
    assert "ALTAN_API_KEY" in result.stdout


def test_altan_lists_connections_as_json(altan_env):
    result = run(["-m", "altan", "connections"], altan_env)
    assert result.returncode == 0, result.stderr
    assert [c["id"] for c in json.loads(result.stdout)["data"]][:2] == ["abc123", "def456"]


def test_altan_gets_an_action_type(altan_env):
    result = run(["-m", "altan", "action-type", "abc123", "send-email"], altan_env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["input_schema"]["required"] == ["to", "subject", "body"]


def test_altan_executes_an_action_with_a_payload_from_stdin(altan_env, altan_replica):
    payload = {"to": "someone@example.com", "subject": "Hi", "body": "From the shell"}
    result = run(["-m", "altan", "execute", "abc123", "send-email", "-"], altan_env, stdin=json.dumps(payload))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "success"
    assert json.loads(altan_replica.requests[-1].body) == {"payload": payload}


def test_altan_api_error_goes_to_stderr_with_exit_code_1(altan_env):
    result = run(["-m", "altan", "connection", "no-such-connection"], altan_env)
    assert result.returncode == 1 and result.stdout == ""
    assert "HTTP 404" in result.stderr and "Connection not found" in result.stderr
    assert TEST_API_KEY not in result.stderr


def test_altan_bad_payload_and_missing_key_are_usage_errors(altan_env, altan_replica):
    before = altan_replica.request_count
    bad = run(["-m", "altan", "execute", "abc123", "send-email", "{not json"], altan_env)
    assert bad.returncode == 2 and "not valid JSON" in bad.stderr
    no_key = run(["-m", "altan", "connections"], {"ALTAN_BASE_URL": altan_env["ALTAN_BASE_URL"]})
    assert no_key.returncode == 2 and "ALTAN_API_KEY" in no_key.stderr
    assert altan_replica.request_count == before


def test_a_vendored_copy_runs_as_a_script(altan_env, tmp_path):
    shutil.copy(ROOT / "altan.py", tmp_path)
    result = run(["-I", "altan.py", "connections"], altan_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["data"]


# -- python -m pipedream -------------------------------------------------------------------

PIPEDREAM_COMMANDS = [
    "check",
    "apps",
    "app",
    "accounts",
    "components",
    "connect-token",
    "run-action",
    "invoke-workflow",
    "call",
]


@pytest.fixture
def pipedream_env(pipedream_replica):
    return {
        "PIPEDREAM_CLIENT_ID": pipedream_replica.client_id,
        "PIPEDREAM_CLIENT_SECRET": pipedream_replica.client_secret,
        "PIPEDREAM_PROJECT_ID": pipedream_replica.project_id,
        "PIPEDREAM_PROJECT_ENVIRONMENT": "development",
        "PIPEDREAM_BASE_URL": pipedream_replica.base_url,
        "PIPEDREAM_WORKFLOW_DOMAIN": "127.0.0.1",
    }


def test_pipedream_help_lists_every_command_and_method():
    result = run(["-m", "pipedream", "--help"], {})
    assert result.returncode == 0
    for command in PIPEDREAM_COMMANDS:
        assert command in result.stdout
    for method in ("get_deployed_triggers", "create_oauth_app", "download_file"):
        assert method in result.stdout


def test_pipedream_check_lists_and_runs(pipedream_env, pipedream_replica):
    check = run(["-m", "pipedream", "check"], pipedream_env)
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["ok"] is True
    apps = run(["-m", "pipedream", "apps", "--q", "slack", "--limit", "2"], pipedream_env)
    assert apps.returncode == 0 and json.loads(apps.stdout)["data"][0]["name_slug"] == "slack"
    components = run(["-m", "pipedream", "components", "actions", "--app", "slack"], pipedream_env)
    assert components.returncode == 0
    assert all(c["key"].startswith("slack-") for c in json.loads(components.stdout)["data"])
    accounts = run(["-m", "pipedream", "accounts", "--external-user-id", "user-1"], pipedream_env)
    assert accounts.returncode == 0 and json.loads(accounts.stdout)["data"]
    ran = run(
        ["-m", "pipedream", "run-action", "slack-send-message", "user-1", "-"],
        pipedream_env,
        stdin=json.dumps({"text": "hi"}),
    )
    assert ran.returncode == 0, ran.stderr
    assert "ret" in json.loads(ran.stdout)
    assert pipedream_replica.client_secret not in check.stderr + check.stdout


def test_pipedream_invokes_a_workflow_and_calls_any_method(pipedream_env, pipedream_replica):
    url = pipedream_replica.workflow_url("cli")
    invoked = run(
        ["-m", "pipedream", "invoke-workflow", url, '{"a": 1}', "--external-user-id", "user-1"], pipedream_env
    )
    assert invoked.returncode == 0, invoked.stderr
    called = run(["-m", "pipedream", "call", "get_deployed_triggers", '{"external_user_id": "user-1"}'], pipedream_env)
    assert called.returncode == 0, called.stderr
    assert "data" in json.loads(called.stdout)


def test_pipedream_errors_and_usage(pipedream_env):
    missing = run(["-m", "pipedream", "app", "no-such-app"], pipedream_env)
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr and missing.stdout == ""
    bad_kwargs = run(["-m", "pipedream", "call", "get_app", '{"nope": 1}'], pipedream_env)
    assert bad_kwargs.returncode == 2 and "nope" in bad_kwargs.stderr
    no_credentials = run(["-m", "pipedream", "apps"], {})
    assert no_credentials.returncode == 2 and "PIPEDREAM_CLIENT_ID" in no_credentials.stderr


def test_a_vendored_pipedream_copy_runs_as_a_script(pipedream_env, tmp_path):
    shutil.copy(ROOT / "pipedream.py", tmp_path)
    result = run(["-I", "pipedream.py", "check"], pipedream_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


# -- settings and validation errors (both commands) ---------------------------------------


def test_pipedream_reports_every_missing_setting_at_once_with_its_variable(pipedream_replica):
    result = run(["-m", "pipedream", "apps"], {})
    assert result.returncode == 2 and result.stdout == ""
    for variable in (
        "PIPEDREAM_CLIENT_ID",
        "PIPEDREAM_CLIENT_SECRET",
        "PIPEDREAM_PROJECT_ID",
        "PIPEDREAM_PROJECT_ENVIRONMENT",
    ):
        assert variable in result.stderr, result.stderr
    assert "--environment" in result.stderr
    # with a token instead of client credentials, only what is still missing is named
    partial = run(["-m", "pipedream", "apps"], {"PIPEDREAM_ACCESS_TOKEN": "a-token", "PIPEDREAM_PROJECT_ID": "proj_x"})
    assert partial.returncode == 2
    assert "PIPEDREAM_PROJECT_ENVIRONMENT" in partial.stderr
    assert "PIPEDREAM_CLIENT_ID" not in partial.stderr and "PIPEDREAM_PROJECT_ID" not in partial.stderr
    assert pipedream_replica.request_count == 0


def test_pipedream_runs_with_a_connect_token_and_no_project_id(pipedream_env, pipedream_replica):
    """PIPEDREAM_ACCESS_TOKEN set to a Connect token needs no PIPEDREAM_PROJECT_ID (as the
    library), and PIPEDREAM_PRIVATE_KEY stands in for the secret in the settings check."""
    made = run(["-m", "pipedream", "call", "create_connect_token", '{"external_user_id": "user-1"}'], pipedream_env)
    assert made.returncode == 0, made.stderr
    token = {
        "PIPEDREAM_ACCESS_TOKEN": json.loads(made.stdout)["token"],
        "PIPEDREAM_PROJECT_ENVIRONMENT": "development",
        "PIPEDREAM_BASE_URL": pipedream_replica.base_url,
    }
    result = run(["-m", "pipedream", "accounts", "--external-user-id", "user-1"], token)
    assert result.returncode == 0, result.stderr
    assert pipedream_replica.requests[-1].path == "/v1/connect/accounts"
    assert json.loads(result.stdout)["data"]
    keyed = run(["-m", "pipedream", "apps"], {"PIPEDREAM_CLIENT_ID": "c", "PIPEDREAM_PRIVATE_KEY": "k"})
    assert keyed.returncode == 2 and "PIPEDREAM_CLIENT_SECRET" not in keyed.stderr, keyed.stderr
    assert "PIPEDREAM_PROJECT_ID" in keyed.stderr


def test_pipedream_an_invalid_environment_names_its_variable(pipedream_env):
    result = run(["-m", "pipedream", "check"], dict(pipedream_env, PIPEDREAM_PROJECT_ENVIRONMENT="dev"))
    assert result.returncode == 2
    assert "PIPEDREAM_PROJECT_ENVIRONMENT" in result.stderr and "'dev'" in result.stderr


def test_pipedream_base_url_and_environment_options(pipedream_env, pipedream_replica):
    env = {k: v for k, v in pipedream_env.items() if k not in ("PIPEDREAM_BASE_URL", "PIPEDREAM_PROJECT_ENVIRONMENT")}
    args = ["--base-url", pipedream_replica.base_url, "--environment", "production", "check"]
    result = run(["-m", "pipedream", *args], env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["environment"] == "production"
    assert pipedream_replica.requests[-1].headers["x-pd-environment"] == "production"
    # the option wins over the variable
    overridden = run(["-m", "pipedream", *args], dict(pipedream_env, PIPEDREAM_BASE_URL="http://127.0.0.1:9"))
    assert overridden.returncode == 0, overridden.stderr


def test_altan_base_url_option(altan_env, altan_replica):
    env = dict(altan_env, ALTAN_BASE_URL="http://127.0.0.1:9/integration")  # nothing listens there
    result = run(["-m", "altan", "--base-url", altan_replica.base_url, "connections"], env)
    assert result.returncode == 0, result.stderr


def test_both_help_texts_name_base_url_and_every_variable():
    altan_help = run(["-m", "altan", "--help"], {}).stdout
    assert "--base-url" in altan_help and "ALTAN_API_KEY" in altan_help and "ALTAN_BASE_URL" in altan_help
    pipedream_help = run(["-m", "pipedream", "--help"], {}).stdout
    for text in ("--base-url", "--environment", "PIPEDREAM_BASE_URL", "PIPEDREAM_PROJECT_ENVIRONMENT"):
        assert text in pipedream_help, text


def test_altan_validation_error_names_the_failing_fields(altan_env):
    result = run(["-m", "altan", "execute", "abc123", "send-email", '{"to": "someone@example.com"}'], altan_env)
    assert result.returncode == 1 and "HTTP 422" in result.stderr
    assert "body.payload.subject: Field required" in result.stderr, result.stderr
    assert "body.payload.body: Field required" in result.stderr, result.stderr


def test_the_library_names_the_environment_variable_too(monkeypatch):
    import pipedream

    monkeypatch.delenv("PIPEDREAM_PROJECT_ENVIRONMENT", raising=False)
    with pytest.raises(ValueError, match="PIPEDREAM_PROJECT_ENVIRONMENT"):
        pipedream.SyncPipedreamClient("client-id", "client-secret", "proj_x")
