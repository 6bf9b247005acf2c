"""Each module, copied alone into an empty folder, imports and works under ``python -I -S``
(no site-packages) on every CPython from 3.8 to 3.13 installed with pyenv here; versions
that are not installed are skipped, and the summary says which ran.

The development environment (``python -m pip install -e ".[dev]"``, the README's test line)
never shadows this project's modules: from any directory, ``import pipedream`` is this
project's pipedream.py and ``python -m pipedream`` its command line. (The official Pipedream
SDK has the same import name; tests/test_pipedream_parity.py installs it apart.)

Committed artefacts do not depend on the interpreter that made them: a cassette recorded
under one CPython replays, and re-records byte for byte, under every other one (3.8 to 3.13).

The response TypedDicts can be imported at run time, and ``typing.get_type_hints`` works on
every public method, while importing a module still loads no ``typing`` (README "Types").
"""

from __future__ import annotations

import inspect
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


# =============================================================================================
# Each module alone, under python -I -S, on every CPython 3.8-3.13
# =============================================================================================

VERSIONS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]


def find_interpreter(version):
    """The newest pyenv CPython X.Y, or this interpreter if it is X.Y, else None."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    if shutil.which("pyenv"):
        try:
            root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=10).stdout.strip() or root
        except (OSError, subprocess.SubprocessError):
            pass
    versions = pathlib.Path(root, "versions")
    found = (
        sorted(
            (p for p in versions.glob(version + ".*") if p.name[len(version) + 1 :].isdigit()),
            key=lambda p: int(p.name.rsplit(".", 1)[1]),
        )
        if versions.is_dir()
        else []
    )
    for candidate in reversed(found):
        python = candidate / "bin" / "python"
        if python.exists():
            return str(python)
    if "%d.%d" % sys.version_info[:2] == version:
        return sys.executable
    return None


@pytest.mark.parametrize("module", ["altan", "pipedream"])
@pytest.mark.parametrize("version", VERSIONS)
def test_vendored_module_runs_alone(version, module, tmp_path):
    python = find_interpreter(version)
    if python is None:
        pytest.skip("CPython %s is not installed here" % version)
    shutil.copy(ROOT / (module + ".py"), tmp_path)
    shutil.copy(ROOT / "tests" / "vendored_smoke.py", tmp_path)
    result = subprocess.run(
        [python, "-I", "-S", "vendored_smoke.py", module],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", "")},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("%s ok on Python %s." % (module, version)), result.stdout
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".py") == sorted(
        [module + ".py", "vendored_smoke.py"]
    )


# =============================================================================================
# The development environment never shadows the modules
# =============================================================================================

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


# =============================================================================================
# Committed artefacts do not depend on the interpreter that made them
# =============================================================================================


# What an interpreter leaves in a file it writes: its version ("python 3.11", "3.11.7",
# "cpython-311"), or a path into its installation.
INTERPRETER_MARKS = re.compile(r"python ?3\.\d+|cpython-3\d+|site-packages|/usr/lib/python|\.pyenv/", re.IGNORECASE)


def committed_cassettes() -> list:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "cassettes"], cwd=str(ROOT), capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (a copied tree)
        return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "cassettes").rglob("*.yaml"))
    return sorted(name for name in listed if name.endswith(".yaml"))


@pytest.mark.parametrize("name", committed_cassettes())
def test_cassettes_do_not_name_the_interpreter(name: str) -> None:
    text = (ROOT / name).read_text(encoding="utf-8")
    found = sorted(set(m.group(0) for m in INTERPRETER_MARKS.finditer(text)))
    assert not found, "%s holds %s: scrub it while recording (tests/record_*.py)" % (name, found)


# The reason phrases http.server takes from http.HTTPStatus changed between CPython versions
# (3.13 renamed 413, 414, 416 and 422); the cassettes record them, so the replicas spell out
# the phrases of Python 3.8 to 3.12 for these codes.
STABLE_PHRASES = {
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    416: "Requested Range Not Satisfiable",
    422: "Unprocessable Entity",
}


def test_the_replicas_send_the_same_reason_phrases_on_every_cpython() -> None:
    from replica_http import ReplicaHandler

    for code, phrase in STABLE_PHRASES.items():
        assert ReplicaHandler.responses[code][0] == phrase, code
    import http

    for status in http.HTTPStatus:
        assert ReplicaHandler.responses[status][0] == STABLE_PHRASES.get(status, status.phrase)


def test_the_recorded_reason_phrases_are_the_stable_ones() -> None:
    import yaml

    for name in committed_cassettes():
        for interaction in yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))["interactions"]:
            status = interaction["response"]["status"]
            if status["code"] in STABLE_PHRASES:
                assert status["message"] == STABLE_PHRASES[status["code"]], (name, status)


# =============================================================================================
# Types at run time, without loading typing on import
# =============================================================================================

TYPES = {
    "altan": ["Connection", "ConnectionList", "InputSchema", "ActionType", "ActionTypeList", "ExecuteResult"],
    "pipedream": [
        "PageInfo",
        "App",
        "AppList",
        "AppResponse",
        "ConnectToken",
        "Account",
        "AccountList",
        "Component",
        "ComponentList",
        "ComponentResponse",
        "RunActionResult",
        "DeployedTrigger",
        "DeployedTriggerList",
        "DeployedTriggerResponse",
        "OAuthToken",
        "NumberedPageInfo",
        "AppDocument",
        "AppDocumentList",
        "AppDocumentResponse",
        "ComponentDocument",
        "ComponentDocumentList",
        "ComponentDocumentResponse",
        "Facets",
    ],
}
CLASSES = {
    "altan": ["AltanActionsClient", "AsyncAltanActionsClient", "AltanActionError"],
    "pipedream": ["SyncPipedreamClient", "PipedreamClient", "PipedreamApiError", "RawResponse"],
}


def fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter, return stdout: ``-I -S`` (no site: a .pth file of the
    environment may import typing itself), the repository root first on sys.path."""
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", "import sys; sys.path.insert(0, %r)\n%s" % (str(ROOT), code)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("module", sorted(TYPES))
def test_importing_the_module_does_not_import_typing(module: str) -> None:
    out = fresh("import %s; print('typing' in sys.modules)" % module)
    assert out.strip() == "False"


@pytest.mark.parametrize("module", sorted(TYPES))
def test_the_typeddicts_are_importable_at_run_time(module: str) -> None:
    names = TYPES[module]
    out = fresh(
        "from %s import %s\n" % (module, ", ".join(names))
        + "import typing, json\n"
        + "print(json.dumps({n: [type(t).__name__, t.__module__, t.__total__, sorted(typing.get_type_hints(t))]"
        + " for n, t in zip(%r, [%s])}))" % (names, ", ".join(names))
    )
    shapes = json.loads(out)
    for name in names:
        meta, owner, total, fields = shapes[name]
        assert meta == "_TypedDictMeta" and owner == module and total is False, (name, shapes[name])
        assert fields, name
    if module == "altan":
        assert shapes["ExecuteResult"][3] == ["data", "error", "result", "status", "success"]
    if sys.version_info >= (3, 10):
        assert fresh("import typing, %s; print(typing.is_typeddict(%s.%s))" % (module, module, names[0])).strip() == (
            "True"
        )


@pytest.mark.parametrize("module", sorted(TYPES))
def test_get_type_hints_works_on_every_public_method_once_the_types_are_loaded(module: str) -> None:
    out = fresh(
        "import inspect, typing, json, %s as m\n" % module
        + "from %s import %s\n" % (module, TYPES[module][0])
        + "done = []\n"
        + "for cls in [%s]:\n" % ", ".join("m." + c for c in CLASSES[module])
        + "    for name, member in inspect.getmembers(cls):\n"
        + "        if callable(member) and (not name.startswith('_') or name == '__init__'):\n"
        + "            if getattr(member, '__module__', None) == m.__name__:\n"
        + "                typing.get_type_hints(member); done.append(cls.__name__ + '.' + name)\n"
        + "print(json.dumps(done))"
    )
    done = json.loads(out)
    assert len(done) >= (16 if module == "altan" else 130), done


def test_the_types_are_what_the_annotations_name() -> None:
    import typing

    import altan

    execute_result = altan.ExecuteResult  # loads the types (if no other test has yet)
    hints = typing.get_type_hints(altan.AltanActionsClient.execute_action)
    assert hints["return"] is execute_result
    assert hints["return"] is altan.ExecuteResult
    assert typing.get_type_hints(altan.AltanActionsClient.list_connections)["return"] is altan.ConnectionList
    assert inspect.signature(altan.AltanActionsClient.get_action_type).return_annotation == "ActionType"


def test_before_the_types_are_loaded_get_type_hints_names_what_is_missing() -> None:
    """What README "Types" says: without loading, the annotations name typing's names, which the
    module does not import; the error is a NameError naming one of them."""
    out = fresh(
        "import typing, altan\n"
        "try:\n"
        "    typing.get_type_hints(altan.AltanActionsClient.list_connections)\n"
        "except NameError as exc:\n"
        "    print('NameError', exc)\n"
        "from altan import ConnectionList\n"
        "print(typing.get_type_hints(altan.AltanActionsClient.list_connections)['return'] is ConnectionList)"
    )
    assert out.splitlines()[0].startswith("NameError") and out.splitlines()[1] == "True", out
