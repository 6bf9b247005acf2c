"""Every code block of README.md runs: each ``python`` block in its own interpreter, and every
command of the command-line block, against the replicas started as "Try it locally" says
(``python replicas/replicas.py``), with exactly the environment its printed ``export`` lines
give (the blocks themselves are not edited); the ``bash`` set-up block is what .ci/run
executes, line for line."""

import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", README, flags=re.S | re.M)
PYTHON_BLOCKS = [code for language, code in BLOCKS if language == "python"]
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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALTAN_", "PIPEDREAM_", "PD_"))}
    env.update(replicas.exports, PYTHONPATH=str(ROOT))
    return env


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
    script = tmp_path / ("readme_block_%d.py" % index)
    script.write_text(PYTHON_BLOCKS[index], encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=replica_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, "block %d failed:\n%s\n%s" % (index, PYTHON_BLOCKS[index], result.stderr)
    assert "Error" not in result.stdout, result.stdout  # the examples print errors they catch
    # the Pipedream example reads the PIPEDREAM_* variables the printed export lines set (the
    # library's and the CLI's names); with other names it would print "Set ..." and stop
    assert not result.stdout.startswith("Set "), result.stdout
    if "create_connect_token" in PYTHON_BLOCKS[index]:
        assert "Token: ctok_" in result.stdout, result.stdout


def test_the_setup_block_is_what_ci_runs():
    setup = next(code for language, code in BLOCKS if language == "bash" and "# the tests" in code)
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
    block = next(code for language, code in BLOCKS if language == "bash" and "python -m pipedream" in code)
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
