"""The development environment (``python -m pip install -e ".[dev]"``, the README's test line)
never shadows this project's modules: from any directory, ``import pipedream`` is this
project's pipedream.py and ``python -m pipedream`` its command line. (The official Pipedream
SDK has the same import name; tests/test_pipedream_parity.py installs it apart.)"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DISTRIBUTION = "altan-pipedream-clients"  # pyproject.toml [project] name


def installed_here() -> bool:
    from importlib import metadata

    try:
        metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return False
    return True


def run_outside(tmp_path: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    """``python args`` as a user runs it from some other directory: no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PIPEDREAM_")}
    return subprocess.run(
        [sys.executable, *args], cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def outside(tmp_path: pathlib.Path) -> pathlib.Path:
    if not installed_here():
        pytest.skip('this project is not installed here (python -m pip install -e ".[dev]" installs it)')
    return tmp_path


def test_import_pipedream_outside_the_repository_is_this_projects_module(outside: pathlib.Path) -> None:
    result = run_outside(
        outside,
        "-c",
        "import altan, pipedream; print(pipedream.__file__); print(altan.__file__); pipedream.SyncPipedreamClient",
    )
    assert result.returncode == 0 and result.stdout.split("\n")[0].endswith("pipedream.py"), (
        "outside the repository root, 'import pipedream' is not this project's pipedream.py: is the "
        "official SDK installed in this environment? python -m pip uninstall pipedream\n"
        + result.stdout
        + result.stderr[-2000:]
    )


def test_python_m_pipedream_outside_the_repository_is_this_projects_command(outside: pathlib.Path) -> None:
    result = run_outside(outside, "-m", "pipedream", "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "PIPEDREAM_CLIENT_ID" in result.stdout and "apps" in result.stdout, result.stdout


def test_the_dev_extra_does_not_install_the_official_sdk() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    dev = text.split("dev = [", 1)[1].split("]", 1)[0]
    requirements = [line.split("#")[0].strip().strip(",").strip('"') for line in dev.splitlines()]
    names = {r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in requirements if r}
    assert "pipedream" not in names, "the official SDK in the dev extra shadows this project's pipedream.py"
