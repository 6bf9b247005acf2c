"""Every code block of README.md runs: each ``python`` block in its own interpreter, with
the environment pointing at the bundled replicas (the blocks themselves are not edited);
the ``bash`` set-up block is what .ci/run executes, line for line."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

import altan_replica
import pipedream_replica

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", README, flags=re.S | re.M)
PYTHON_BLOCKS = [code for language, code in BLOCKS if language == "python"]


@pytest.fixture(scope="module")
def replica_env():
    altan_server, altan_url = altan_replica.start(api_key=["your-api-key"])
    pipedream_server, pipedream_url = pipedream_replica.start()
    credentials = {
        "client_id": pipedream_server.client_id,
        "client_secret": pipedream_server.client_secret,
        "project_id": pipedream_server.project_id,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALTAN_", "PIPEDREAM_", "PD_"))}
    env.update(
        {
            "ALTAN_BASE_URL": altan_url,
            "PIPEDREAM_BASE_URL": pipedream_url,
            "PIPEDREAM_CLIENT_ID": credentials["client_id"],
            "PIPEDREAM_CLIENT_SECRET": credentials["client_secret"],
            "PIPEDREAM_PROJECT_ID": credentials["project_id"],
            "PD_CLIENT_ID": credentials["client_id"],
            "PD_CLIENT_SECRET": credentials["client_secret"],
            "PD_PROJECT_ID": credentials["project_id"],
            "PYTHONPATH": str(ROOT),
        }
    )
    yield env
    altan_replica.stop(altan_server)
    pipedream_replica.stop(pipedream_server)


def test_the_readme_has_python_blocks():
    assert len(PYTHON_BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_block_runs(index, replica_env, tmp_path):
    script = tmp_path / ("readme_block_%d.py" % index)
    script.write_text(PYTHON_BLOCKS[index], encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=replica_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, "block %d failed:\n%s\n%s" % (index, PYTHON_BLOCKS[index], result.stderr)
    assert "Error" not in result.stdout, result.stdout  # the examples print errors they catch


def test_the_setup_block_is_what_ci_runs():
    setup = next(code for language, code in BLOCKS if language == "bash" and "# the tests" in code)
    commands = [line.split("#")[0].strip() for line in setup.splitlines() if line.strip()]
    assert commands == [
        "python -m pip install . && python examples/demo.py",
        'python -m pip install -e ".[dev]" && python -m pytest',
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'for tag in "the main job" "the tests"' in ci  # .ci/run runs both lines as README.md spells them


def test_readme_command_line_examples_run(replica_env):
    """The command-line block, with its ``export`` lines replaced by the replicas' settings and
    the workflow endpoint id pointed at the replica's workflow endpoint."""
    block = next(code for language, code in BLOCKS if language == "bash" and "python -m pipedream" in code)
    env = dict(
        replica_env,
        ALTAN_API_KEY="your-api-key",
        PIPEDREAM_PROJECT_ENVIRONMENT="development",
        PIPEDREAM_WORKFLOW_DOMAIN="127.0.0.1",
    )
    workflow_url = env["PIPEDREAM_BASE_URL"] + "/wf/readme"
    commands = [line.split("   #")[0] for line in block.splitlines() if line.startswith("python -m ")]
    assert len(commands) >= 9
    for command in commands:
        result = subprocess.run(
            command.replace("en123abc", workflow_url).replace("python ", sys.executable + " ", 1),
            shell=True,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, "%s\n%s" % (command, result.stderr)
