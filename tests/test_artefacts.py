"""Committed artefacts do not depend on the interpreter that made them: a cassette recorded
under one CPython replays, and re-records byte for byte, under every other one (3.8 to 3.13)."""

from __future__ import annotations

import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

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
