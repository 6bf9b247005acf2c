"""Every code block of the Altan SDK README this client implements (its user-facing contract)
runs against the replica.

The Python blocks are taken from tests/data/altan-sdk-readme.md (a verbatim copy of that README)
and executed in order in one namespace, as a reader would paste them. The
only change is pointing the clients at the replica: ``base_url=<replica>`` is added to
``AltanActionsClient(api_key="your-api-key")`` and ``AsyncAltanActionsClient(...)``; the
replica accepts the README's key ``your-api-key``, and its data include the README's ids
(``abc123``, ``send-email``, ``connection-id``, ``action-type-id``). The two ``bash`` blocks
(``pip install``) are checked against the packaging instead of being run.
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import re
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional

import pytest

import altan_replica

ROOT = pathlib.Path(__file__).resolve().parent.parent
# A verbatim copy of the Altan SDK README is kept in the repository so that CI runs these tests;
# test_the_copy_is_the_original checks it against an original named by ALTAN_SDK_README, if set.
README_COPY = ROOT / "tests" / "data" / "altan-sdk-readme.md"
README_ORIGINAL = os.environ.get("ALTAN_SDK_README")
README_KEY = "your-api-key"
CLIENT_CALL = re.compile(r'\b((?:Async)?AltanActionsClient)\(api_key="your-api-key"\)')


@dataclass
class Block:
    language: str
    code: str
    heading: str


def readme_blocks() -> List[Block]:
    """The fenced code blocks, with the Markdown heading each one sits under."""
    if not README_COPY.exists():
        return []
    blocks: List[Block] = []
    heading, fence, language, lines = "", False, "", []  # type: ignore[var-annotated]
    for line in README_COPY.read_text(encoding="utf-8").splitlines(keepends=True):
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


BLOCKS = readme_blocks()
PYTHON = [b for b in BLOCKS if b.language == "python"]


def adapt(code: str, base_url: str) -> str:
    """Point the README's clients at the replica; nothing else changes."""
    return CLIENT_CALL.sub(lambda m: '%s(api_key="your-api-key", base_url=%r)' % (m.group(1), base_url), code)


@dataclass
class Run:
    block: Block
    code: str
    stdout: str
    error: Optional[str]


@pytest.fixture(scope="module")
def readme_replica() -> Iterator[altan_replica.AltanReplica]:
    server, _ = altan_replica.start(api_key=README_KEY)
    yield server
    altan_replica.stop(server)


@pytest.fixture(scope="module")
def runs(readme_replica: altan_replica.AltanReplica) -> Iterator[Dict[str, Any]]:
    """Execute the Python blocks in order in one namespace; stdout and any error per block."""
    namespace: Dict[str, Any] = {"__name__": "__readme__"}
    results: List[Run] = []
    for block in PYTHON:
        code = adapt(block.code, readme_replica.base_url)
        out = io.StringIO()
        error = None
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(code, "<README: %s>" % block.heading, "exec"), namespace)
            except BaseException:  # noqa: BLE001 - reported by the block's test
                error = traceback.format_exc()
        results.append(Run(block, code, out.getvalue(), error))
    yield {"runs": results, "namespace": namespace, "server": readme_replica}
    for name in ("client", "custom_client"):
        if hasattr(namespace.get(name), "close"):
            namespace[name].close()


def run_for(runs: Dict[str, Any], heading: str, index: int = 0) -> Run:
    matching = [r for r in runs["runs"] if r.block.heading == heading]
    run = matching[index]
    assert run.error is None, "README block under %r failed:\n%s\n%s" % (heading, run.code, run.error)
    return run


def test_the_readme_has_the_expected_blocks() -> None:
    assert [b.language for b in BLOCKS] == ["bash", "bash"] + ["python"] * 9
    assert [b.heading for b in PYTHON] == [
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
    if not README_ORIGINAL:
        pytest.skip("set ALTAN_SDK_README to the path of the Altan SDK README to compare the copy with it")
    original = pathlib.Path(README_ORIGINAL).read_bytes()
    assert README_COPY.read_bytes() == original, "refresh tests/data/altan-sdk-readme.md"


def test_only_the_base_url_is_adapted(readme_replica: altan_replica.AltanReplica) -> None:
    adapted = [adapt(b.code, readme_replica.base_url) for b in PYTHON]
    changed = sum(a != b.code for a, b in zip(adapted, PYTHON))  # noqa: B905 - same length
    calls = sum(len(CLIENT_CALL.findall(b.code)) for b in PYTHON)
    assert calls == 4 and changed == 4  # Quick Start, Initializing, Async Support, Error Handling
    for a, b in zip(adapted, PYTHON):  # noqa: B905
        assert a.replace(", base_url=%r" % readme_replica.base_url, "") == b.code


def test_quick_start(runs: Dict[str, Any]) -> None:
    out = run_for(runs, "Quick Start").stdout
    assert "'status': 'success'" in out and "'message_id': '" in out and "'success': True" in out


def test_initializing_the_client(runs: Dict[str, Any]) -> None:
    assert run_for(runs, "Initializing the Client").stdout == ""
    namespace = runs["namespace"]
    assert namespace["client"].base_url == runs["server"].base_url
    assert namespace["custom_client"].base_url == "https://your-custom-altan-instance.com"


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
    assert README_KEY not in out


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
        assert request.headers["x-altan-key"] == README_KEY
        assert request.headers["authorization"] == "Bearer " + README_KEY
    assert received[0].json() == {
        "payload": {
            "to": "someone@example.com",
            "subject": "Test Email from Altan",
            "body": "This email was sent through the Altan Actions API!",
        }
    }


def test_the_install_blocks_match_the_packaging() -> None:
    assert [b.code.strip() for b in BLOCKS if b.language == "bash"] == ["pip install altan", "pip install altan[async]"]
    if sys.version_info < (3, 11):
        pytest.skip("tomllib needs Python 3.11")
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "async" in project["project"]["optional-dependencies"]  # altan[async] needs nothing extra
    assert project["project"]["optional-dependencies"]["async"] == []
    assert "altan" in project["tool"]["setuptools"]["py-modules"]
    assert project["project"]["dependencies"] == []
