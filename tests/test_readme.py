"""The READMEs' code runs, through one harness: fenced blocks are read with the heading each sits
under (``markdown_blocks``) and Python blocks run in a fresh interpreter, in order in one
namespace, each block's output and error reported apart (``run_python``).

- README.md (this project's): each ``python`` block in its own interpreter, and every command
  of the command-line block, against the replicas started as "Try it locally" says
  (``python replicas/replicas.py``), with exactly the environment its printed ``export`` lines
  give (the blocks themselves are not edited); the ``bash`` set-up block is what .ci/run
  executes, line for line.
- The Altan SDK README this client implements (its user-facing contract, a verbatim copy in
  tests/data/altan-sdk-readme.md): its Python blocks run in order in one interpreter, as a
  reader would paste them, against the Altan replica. The only change is pointing the clients
  at the replica: ``base_url=<replica>`` is added to ``AltanActionsClient(api_key="your-api-key")``
  and ``AsyncAltanActionsClient(...)``; the replica accepts the README's key ``your-api-key``,
  and its data include the README's ids (``abc123``, ``send-email``, ``connection-id``,
  ``action-type-id``). Its two ``bash`` blocks (``pip install``) are checked against the
  packaging instead of being run.
- The usage example of the Pipedream SDK README this client implements (verbatim below, as
  ``PIPEDREAM_SDK_USAGE``): run against the Pipedream replica with its ``PD_*`` variables set,
  with a wrong secret, and with none.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

import pytest

import altan_replica

ROOT = pathlib.Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# The harness
# ---------------------------------------------------------------------------------------------


@dataclass
class Block:
    language: str
    code: str
    heading: str


def markdown_blocks(text: str) -> List[Block]:
    """The fenced code blocks of a Markdown text, with the heading each one sits under."""
    blocks: List[Block] = []
    heading, fence, language, lines = "", False, "", []  # type: ignore[var-annotated]
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            if fence:
                blocks.append(Block(language, "".join(lines), heading))
            else:
                language, lines = line[3:].strip(), []
            fence = not fence
        elif fence:
            lines.append(line)
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
    return blocks


@dataclass
class Run:
    code: str
    stdout: str
    error: Optional[str]  # the traceback, if the block raised


# Runs in the fresh interpreter: argv[1] names a JSON file of blocks ([name, code]) and probes
# (expressions evaluated after the last block), argv[2] the JSON file to write the results to.
# Clients the blocks left open (``client``, ``custom_client``) are closed at the end.
_RUNNER = """
import contextlib, io, json, sys, traceback
with open(sys.argv[1]) as f:
    job = json.load(f)
namespace = {"__name__": "__main__"}
runs = []
for name, code in job["blocks"]:
    out, error = io.StringIO(), None
    with contextlib.redirect_stdout(out):
        try:
            exec(compile(code, name, "exec"), namespace)
        except BaseException:
            error = traceback.format_exc()
    runs.append([out.getvalue(), error])
probes = {expression: repr(eval(expression, namespace)) for expression in job["probes"]}
for name in ("client", "custom_client"):
    if hasattr(namespace.get(name), "close"):
        namespace[name].close()
with open(sys.argv[2], "w") as f:
    json.dump({"runs": runs, "probes": probes}, f)
"""


def run_python(
    blocks: Sequence[Block],
    *,
    env: Mapping[str, str],
    workdir: pathlib.Path,
    codes: Optional[Sequence[str]] = None,
    probes: Sequence[str] = (),
) -> Dict[str, Any]:
    """Run the blocks (or ``codes``, their adapted text) in order in one namespace of a fresh
    interpreter, with ``env`` as its whole environment; a Run per block, and ``probes``
    (expressions evaluated after the last block: their repr)."""
    codes = [b.code for b in blocks] if codes is None else list(codes)
    job, result = workdir / "readme-job.json", workdir / "readme-result.json"
    names = ["<README: %s>" % b.heading for b in blocks]
    job.write_text(json.dumps({"blocks": list(zip(names, codes)), "probes": list(probes)}), encoding="utf-8")  # noqa: B905
    process = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(job), str(result)],
        cwd=str(workdir),
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 0, process.stderr
    report = json.loads(result.read_text(encoding="utf-8"))
    runs = [Run(code, out, error) for code, (out, error) in zip(codes, report["runs"])]  # noqa: B905
    return {"runs": runs, "probes": report["probes"]}


def clean_environment(**settings: str) -> Dict[str, str]:
    """This process's environment without any client setting, plus ``settings``; the modules
    are imported from this checkout (as if installed or vendored)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALTAN_", "PIPEDREAM_", "PD_"))}
    env.update(settings, PYTHONPATH=str(ROOT))
    return env


# ---------------------------------------------------------------------------------------------
# README.md
# ---------------------------------------------------------------------------------------------

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = markdown_blocks(README)
PYTHON_BLOCKS = [b for b in BLOCKS if b.language == "python"]
REPLICAS_COMMAND = "python replicas/replicas.py"


class Replicas:
    """``python replicas/replicas.py`` in a subprocess (on free ports), and what it printed."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "replicas/replicas.py", "--altan-port", "0", "--pipedream-port", "0"],
            cwd=str(ROOT),
            stdout=subprocess.PIPE,
            text=True,
        )
        self.printed = []
        assert self.process.stdout is not None
        for line in self.process.stdout:  # until it says how to stop it: then it is serving
            self.printed.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C"):
                break
        self.exports = {}
        for line in self.printed:
            if line.startswith("export "):
                self.exports.update(word.split("=", 1) for word in shlex.split(line)[1:])
        self.workflow_url = next(w for line in self.printed for w in line.split() if "/wf/" in w)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def replicas():
    replicas = Replicas()
    yield replicas
    assert replicas.stop() == 0


@pytest.fixture(scope="module")
def replica_env(replicas):
    """The environment of a shell where the printed ``export`` lines were pasted; the modules
    are imported from this checkout (as if installed or vendored)."""
    return clean_environment(**replicas.exports)


def test_try_it_locally_starts_both_replicas_with_one_command(replicas):
    section = README.split("## Try it locally", 1)[1].split("\n## ", 1)[0]
    assert "```bash\n%s\n```" % REPLICAS_COMMAND in section
    assert replicas.exports["ALTAN_API_KEY"] == "your-api-key"  # the README examples' key
    every_setting = {
        "ALTAN_API_KEY",
        "ALTAN_BASE_URL",
        "PIPEDREAM_BASE_URL",
        "PIPEDREAM_CLIENT_ID",
        "PIPEDREAM_CLIENT_SECRET",
        "PIPEDREAM_PROJECT_ID",
        "PIPEDREAM_PROJECT_ENVIRONMENT",
        "PIPEDREAM_WORKFLOW_DOMAIN",
    }
    assert set(replicas.exports) == every_setting, replicas.printed
    # the example lines in the README are what the command prints (on its default ports)
    for name, value in replicas.exports.items():
        if "_BASE_URL" not in name:
            assert "%s=%s" % (name, value) in section, name


def test_the_readme_has_python_blocks():
    assert len(PYTHON_BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_block_runs(index, replica_env, tmp_path):
    block = PYTHON_BLOCKS[index]
    (run,) = run_python([block], env=replica_env, workdir=tmp_path)["runs"]
    assert run.error is None, "block %d failed:\n%s\n%s" % (index, block.code, run.error)
    assert "Error" not in run.stdout, run.stdout  # the examples print errors they catch
    # the Pipedream example reads the PIPEDREAM_* variables the printed export lines set (the
    # library's and the CLI's names); with other names it would print "Set ..." and stop
    assert not run.stdout.startswith("Set "), run.stdout
    if "create_connect_token" in block.code:
        assert "Token: ctok_" in run.stdout, run.stdout


def test_the_setup_block_is_what_ci_runs():
    setup = next(b.code for b in BLOCKS if b.language == "bash" and "# the tests" in b.code)
    commands = [line.split("#")[0].strip() for line in setup.splitlines() if line.strip()]
    assert commands == [
        "python -m pip install . && python examples/demo.py",
        'python -m pip install -e ".[dev]" && python -m pytest',
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'for tag in "the main job" "the tests"' in ci  # .ci/run runs both lines as README.md spells them


def test_readme_command_line_examples_run(replica_env, replicas):
    """The command-line block, with its ``export`` lines replaced by what the replicas printed
    and the workflow endpoint id by the replica's workflow URL, as "Try it locally" says."""
    block = next(b.code for b in BLOCKS if b.language == "bash" and "python -m pipedream" in b.code)
    commands = [line.split("   #")[0] for line in block.splitlines() if line.startswith("python -m ")]
    assert len(commands) >= 9
    for command in commands:
        result = subprocess.run(
            command.replace("en123abc", replicas.workflow_url).replace("python ", sys.executable + " ", 1),
            shell=True,
            cwd=ROOT,
            env=replica_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, "%s\n%s" % (command, result.stderr)


def test_ci_runs_the_test_line_in_fresh_venvs_of_the_oldest_and_newest_cpython():
    """What .ci/run promises besides the default python (its run is CI's; this guards the text)."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "export REQUIRE_PARITY=1" in ci.split('for tag in "the main job"')[0]  # before the README lines
    block = ci.split("# ---- issue 12 (newcomer's path): begin")[-1]
    for text in ('readme_line "the tests"', "-m venv", "git clone", "head -n1", "tail -n1", "sort -V"):
        assert text in block, text


# ---------------------------------------------------------------------------------------------
# The Altan SDK README this client implements (tests/data/altan-sdk-readme.md)
# ---------------------------------------------------------------------------------------------

# A verbatim copy of the Altan SDK README is kept in the repository so that CI runs these tests;
# test_the_copy_is_the_original checks it against an original named by ALTAN_SDK_README, if set.
SDK_README_COPY = ROOT / "tests" / "data" / "altan-sdk-readme.md"
SDK_README_ORIGINAL = os.environ.get("ALTAN_SDK_README")
SDK_README_KEY = "your-api-key"
CLIENT_CALL = re.compile(r'\b((?:Async)?AltanActionsClient)\(api_key="your-api-key"\)')
SDK_BLOCKS = markdown_blocks(SDK_README_COPY.read_text(encoding="utf-8")) if SDK_README_COPY.exists() else []
SDK_PYTHON = [b for b in SDK_BLOCKS if b.language == "python"]


def adapt(code: str, base_url: str) -> str:
    """Point the README's clients at the replica; nothing else changes."""
    return CLIENT_CALL.sub(lambda m: '%s(api_key="your-api-key", base_url=%r)' % (m.group(1), base_url), code)


@pytest.fixture(scope="module")
def readme_replica() -> Iterator[altan_replica.AltanReplica]:
    server, _ = altan_replica.start(api_key=SDK_README_KEY)
    yield server
    altan_replica.stop(server)


@pytest.fixture(scope="module")
def runs(readme_replica: altan_replica.AltanReplica, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    """The Python blocks run in order in one interpreter; stdout and any error per block."""
    report = run_python(
        SDK_PYTHON,
        codes=[adapt(b.code, readme_replica.base_url) for b in SDK_PYTHON],
        env=clean_environment(),
        workdir=tmp_path_factory.mktemp("altan-sdk-readme"),
        probes=["client.base_url", "custom_client.base_url"],
    )
    return dict(report, server=readme_replica)


def run_for(runs: Dict[str, Any], heading: str, index: int = 0) -> Run:
    matching = [r for r, b in zip(runs["runs"], SDK_PYTHON) if b.heading == heading]  # noqa: B905
    run = matching[index]
    assert run.error is None, "README block under %r failed:\n%s\n%s" % (heading, run.code, run.error)
    return run


def test_the_altan_sdk_readme_has_the_expected_blocks() -> None:
    assert [b.language for b in SDK_BLOCKS] == ["bash", "bash"] + ["python"] * 9
    assert [b.heading for b in SDK_PYTHON] == [
        "Quick Start",
        "Initializing the Client",
        "Working with Connections",
        "Working with Connections",
        "Working with Action Types",
        "Working with Action Types",
        "Executing Actions",
        "Async Support",
        "Error Handling",
    ]


def test_the_copy_is_the_original() -> None:
    if not SDK_README_ORIGINAL:
        pytest.skip("set ALTAN_SDK_README to the path of the Altan SDK README to compare the copy with it")
    original = pathlib.Path(SDK_README_ORIGINAL).read_bytes()
    assert SDK_README_COPY.read_bytes() == original, "refresh tests/data/altan-sdk-readme.md"


def test_only_the_base_url_is_adapted(readme_replica: altan_replica.AltanReplica) -> None:
    adapted = [adapt(b.code, readme_replica.base_url) for b in SDK_PYTHON]
    changed = sum(a != b.code for a, b in zip(adapted, SDK_PYTHON))  # noqa: B905 - same length
    calls = sum(len(CLIENT_CALL.findall(b.code)) for b in SDK_PYTHON)
    assert calls == 4 and changed == 4  # Quick Start, Initializing, Async Support, Error Handling
    for a, b in zip(adapted, SDK_PYTHON):  # noqa: B905
        assert a.replace(", base_url=%r" % readme_replica.base_url, "") == b.code


def test_quick_start(runs: Dict[str, Any]) -> None:
    out = run_for(runs, "Quick Start").stdout
    assert "'status': 'success'" in out and "'message_id': '" in out and "'success': True" in out


def test_initializing_the_client(runs: Dict[str, Any]) -> None:
    assert run_for(runs, "Initializing the Client").stdout == ""
    assert runs["probes"]["client.base_url"] == repr(runs["server"].base_url)
    assert runs["probes"]["custom_client.base_url"] == repr("https://your-custom-altan-instance.com")


def test_working_with_connections(runs: Dict[str, Any]) -> None:
    listing = run_for(runs, "Working with Connections", 0).stdout.splitlines()
    assert listing[0].startswith("{'data': [{'id': 'abc123'")
    assert listing[1:] == [
        "Connection: Work Gmail (ID: abc123)",
        "Connection: Team Slack (ID: def456)",
        "Connection: Example Connection (ID: connection-id)",
    ]
    one = run_for(runs, "Working with Connections", 1).stdout
    assert one.startswith("{'id': 'connection-id', 'name': 'Example Connection'")


def test_working_with_action_types(runs: Dict[str, Any]) -> None:
    listing = run_for(runs, "Working with Action Types", 0).stdout.splitlines()
    assert listing[1:] == ["Action: Example Action (ID: action-type-id)"]
    schema = run_for(runs, "Working with Action Types", 1).stdout.splitlines()
    assert schema[1:] == [
        "Required parameters for 'Example Action':",
        "  - message (string): Required",
        "  - count (integer): Optional",
    ]


def test_executing_actions(runs: Dict[str, Any]) -> None:
    lines = run_for(runs, "Executing Actions").stdout.splitlines()
    assert lines[0] == "Action executed successfully!"
    assert re.fullmatch(r"Result: \{'message_id': '[0-9a-f]{10}', 'thread_id': '[0-9a-f]{10}'\}", lines[1])


def test_async_support(runs: Dict[str, Any]) -> None:
    lines = run_for(runs, "Async Support").stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("{'data': [{'id': 'abc123'")
    assert "'status': 'success'" in lines[1]
    assert lines[2].startswith("[{") and lines[2].count("'status': 'success'") == 3
    assert "Error" not in lines[2], "gather returned exceptions"


def test_error_handling(runs: Dict[str, Any]) -> None:
    out = run_for(runs, "Error Handling").stdout
    assert out.startswith(
        "Error executing action: execute action failed: HTTP 404 Not Found: Action type not found "
        "[POST %s/connection/abc123/actions/invalid-action/execute" % runs["server"].base_url
    )
    assert SDK_README_KEY not in out


def test_what_the_replica_received(runs: Dict[str, Any]) -> None:
    assert all(r.error is None for r in runs["runs"])
    received = runs["server"].requests
    assert [(r.method, "/".join(r.segments)) for r in received] == [
        ("POST", "connection/abc123/actions/send-email/execute"),
        ("GET", "connection"),
        ("GET", "connection/connection-id"),
        ("GET", "connection/connection-id/actions"),
        ("GET", "connection/connection-id/actions/action-type-id"),
        ("POST", "connection/abc123/actions/send-email/execute"),
        ("GET", "connection"),
        ("POST", "connection/abc123/actions/send-email/execute"),
        *[("POST", "connection/abc123/actions/send-email/execute")] * 3,
        ("POST", "connection/abc123/actions/invalid-action/execute"),
    ]
    for request in received:
        assert request.headers["x-altan-key"] == SDK_README_KEY
        assert request.headers["authorization"] == "Bearer " + SDK_README_KEY
    assert received[0].json() == {
        "payload": {
            "to": "someone@example.com",
            "subject": "Test Email from Altan",
            "body": "This email was sent through the Altan Actions API!",
        }
    }


def test_the_install_blocks_match_the_packaging() -> None:
    installs = [b.code.strip() for b in SDK_BLOCKS if b.language == "bash"]
    assert installs == ["pip install altan", "pip install altan[async]"]
    if sys.version_info < (3, 11):
        pytest.skip("tomllib needs Python 3.11")
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "async" in project["project"]["optional-dependencies"]  # altan[async] needs nothing extra
    assert project["project"]["optional-dependencies"]["async"] == []
    assert "altan" in project["tool"]["setuptools"]["py-modules"]
    assert project["project"]["dependencies"] == []


# ---------------------------------------------------------------------------------------------
# The usage example of the Pipedream SDK README this client implements, as written
# ---------------------------------------------------------------------------------------------

# Verbatim from that README ("Usage"), with its PD_* variable names.
PIPEDREAM_SDK_USAGE = """
import asyncio
import os
from .pipedream import PipedreamClient, PipedreamAuthError, PipedreamApiError

async def run():
    client_id = os.environ.get("PD_CLIENT_ID")
    client_secret = os.environ.get("PD_CLIENT_SECRET")
    project_id = os.environ.get("PD_PROJECT_ID")
    external_user_id = "some-unique-user-id"

    if not all([client_id, client_secret, project_id]):
        print("Set PD_CLIENT_ID, PD_CLIENT_SECRET, PD_PROJECT_ID env vars")
        return

    try:
        # Note: environment parameter is required
        async with PipedreamClient(client_id, client_secret, project_id, environment="development") as client:
            # Call API methods
            token_info = await client.create_connect_token(external_user_id=external_user_id)
            print(f"Token: {token_info['token']}")

            accounts = await client.get_accounts(external_user_id=external_user_id, limit=10)
            print(f"Found {len(accounts['data'])} accounts.")

            # ... other method calls

    except PipedreamAuthError as e:
        print(f"Authentication Error: {e}")
    except PipedreamApiError as e:
        print(f"API Error: {e}")

if __name__ == "__main__":
    asyncio.run(run())
"""


PIPEDREAM_SDK_BLOCK = Block("python", PIPEDREAM_SDK_USAGE, "Usage")


def run_pipedream_sdk_usage(workdir: pathlib.Path, **settings: str) -> str:
    """The example in a fresh interpreter with ``settings`` as its only client settings; what it
    printed. The only adaptation: an absolute import (the README imports from its own package)."""
    code = PIPEDREAM_SDK_USAGE.replace("from .pipedream import", "from pipedream import")
    report = run_python([PIPEDREAM_SDK_BLOCK], codes=[code], env=clean_environment(**settings), workdir=workdir)
    (run,) = report["runs"]
    assert run.error is None, run.error
    return run.stdout


def pipedream_sdk_settings(replica: Any, secret: str) -> Dict[str, str]:
    """The PD_* variables set to the replica's credentials, and the replica's URL in
    PIPEDREAM_BASE_URL, which the client reads when it is constructed."""
    return {
        "PD_CLIENT_ID": replica.client_id,
        "PD_CLIENT_SECRET": secret,
        "PD_PROJECT_ID": replica.project_id,
        "PIPEDREAM_BASE_URL": replica.base_url,
    }


def test_pipedream_sdk_readme_example_runs_as_written(pipedream_replica: Any, tmp_path: pathlib.Path) -> None:
    replica = pipedream_replica
    output = run_pipedream_sdk_usage(tmp_path, **pipedream_sdk_settings(replica, replica.client_secret))
    lines = output.splitlines()
    assert lines[0].startswith("Token: ctok_") and lines[1] == "Found 1 accounts.", output
    assert [(r.method, r.path) for r in replica.requests] == [
        ("POST", "/v1/oauth/token"),
        ("POST", "/v1/connect/proj_demo/tokens"),
        ("GET", "/v1/connect/proj_demo/accounts"),
    ]
    assert replica.requests[1].json() == {"external_user_id": "some-unique-user-id"}
    assert replica.requests[2].query == [("external_user_id", "some-unique-user-id"), ("limit", "10")]


def test_pipedream_sdk_readme_example_reports_an_auth_error_without_the_secret(
    pipedream_replica: Any, tmp_path: pathlib.Path
) -> None:
    secret = "wrong-secret-5f2c1d"
    output = run_pipedream_sdk_usage(tmp_path, **pipedream_sdk_settings(pipedream_replica, secret))
    assert output.startswith("Authentication Error: get OAuth token failed: HTTP 401"), output
    assert "Client authentication failed" in output and secret not in output


def test_pipedream_sdk_readme_example_without_variables_prints_a_hint(
    pipedream_replica: Any, tmp_path: pathlib.Path
) -> None:
    output = run_pipedream_sdk_usage(tmp_path)  # no PD_* variable set
    assert output == "Set PD_CLIENT_ID, PD_CLIENT_SECRET, PD_PROJECT_ID env vars\n"
    assert pipedream_replica.request_count == 0
