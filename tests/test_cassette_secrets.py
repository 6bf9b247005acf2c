"""No secret may be committed under cassettes/ (every file, any client, any format).

Flagged: the keys the recorders use (and ALTAN_API_KEY / PIPEDREAM_* secrets if set in the
environment), any ``Bearer <token>`` whose token is not a placeholder, ``client_secret``,
``access_token`` and ``refresh_token`` values that are not placeholders, and, in YAML
cassettes, credential request headers whose value is not a placeholder.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import re
from typing import Any, Iterable, List, Set, Tuple

import pytest
import yaml

from altan_vcr import TEST_API_KEY

ROOT = pathlib.Path(__file__).resolve().parent.parent
CASSETTES = ROOT / "cassettes"

_VALUE = r"""["']?\s*[:=]\s*["']?(?P<value>[^"'\s,&}\]\\]+)"""
PATTERNS = [
    ("bearer token", re.compile(r"\bBearer\s+(?P<value>[A-Za-z0-9._~+/=-]{12,})")),
    ("client_secret", re.compile(r"client_secret" + _VALUE, re.IGNORECASE)),
    ("access_token", re.compile(r"access_token" + _VALUE, re.IGNORECASE)),
    ("refresh_token", re.compile(r"refresh_token" + _VALUE, re.IGNORECASE)),
]
CREDENTIAL_HEADERS = {
    "authorization",
    "x-altan-key",
    "x-api-key",
    "proxy-authorization",
    "cookie",
    "x-pd-client-secret",
}
_PLACEHOLDER = re.compile(
    r"<[A-Za-z0-9_ .:-]+>|\[?(REDACTED|FILTERED|SCRUBBED|PLACEHOLDER|DUMMY)[A-Z_]*\]?|\*+|null|None", re.IGNORECASE
)


def _vcr_settings_modules() -> List[Any]:
    """The recorders' settings modules (tests/altan_vcr.py, tests/pipedream_vcr.py if present)."""
    modules = []
    for name in ("altan_vcr", "pipedream_vcr"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            pass
    return modules


def declared_placeholders() -> Set[str]:
    """The placeholder values the recorders declare (``*_PLACEHOLDER`` constants), e.g.
    ``<ALTAN_API_KEY>`` or Pipedream's ``test-access-token``."""
    return {
        v
        for m in _vcr_settings_modules()
        for k, v in vars(m).items()
        if k.isupper() and k.endswith("PLACEHOLDER") and isinstance(v, str)
    }


def is_placeholder(value: str, placeholders: Iterable[str] = ()) -> bool:
    value = value.strip().strip("'\"")
    placeholders = set(placeholders) or declared_placeholders()
    if value in placeholders or _PLACEHOLDER.fullmatch(value):
        return True
    scheme, _, rest = value.partition(" ")  # "Bearer <TOKEN>", "Basic <CREDENTIALS>"
    rest = rest.strip()
    return bool(rest) and scheme.isalpha() and (rest in placeholders or bool(_PLACEHOLDER.fullmatch(rest)))


def known_secrets() -> List[str]:
    """Credentials the recorders use (constants named *KEY*, *SECRET*, *TOKEN* that are not
    placeholders) and real ones from the environment."""
    placeholders = declared_placeholders()
    secrets = []
    for module in _vcr_settings_modules():
        for name, value in vars(module).items():
            credential = any(word in name for word in ("KEY", "SECRET", "TOKEN"))
            if (
                name.isupper()
                and credential
                and not name.endswith("PLACEHOLDER")
                and isinstance(value, str)
                and len(value) >= 8
                and value not in placeholders
            ):
                secrets.append(value)
    for name in ("ALTAN_API_KEY", "PIPEDREAM_CLIENT_SECRET", "PD_CLIENT_SECRET"):
        value = os.environ.get(name)
        if value and len(value) >= 8:
            secrets.append(value)
    return secrets


def findings_in_text(text: str, secrets: Iterable[str] = ()) -> List[Tuple[str, str]]:
    found = [("known secret", s) for s in secrets if s in text]
    for label, pattern in PATTERNS:
        for match in pattern.finditer(text):
            if not is_placeholder(match.group("value")):
                found.append((label, match.group("value")))
    return found


def findings_in_cassette(text: str) -> List[Tuple[str, str]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    found = []
    for interaction in (data or {}).get("interactions", []) if isinstance(data, dict) else []:
        for name, values in (interaction.get("request", {}).get("headers") or {}).items():
            if name.lower() in CREDENTIAL_HEADERS:
                for value in values if isinstance(values, list) else [values]:
                    if not is_placeholder(str(value)):
                        found.append(("%s header" % name, str(value)))
    return found


def cassette_files() -> List[pathlib.Path]:
    return sorted(p for p in CASSETTES.rglob("*") if p.is_file())


def test_there_are_cassettes_to_scan() -> None:
    assert len([p for p in cassette_files() if p.suffix in (".yaml", ".yml")]) >= 5


@pytest.mark.parametrize("path", cassette_files(), ids=lambda p: str(p.relative_to(CASSETTES)))
def test_no_secret_in_cassette_file(path: pathlib.Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    found = findings_in_text(text, known_secrets())
    if path.suffix in (".yaml", ".yml"):
        found += findings_in_cassette(text)
    assert not found, "unscrubbed secrets in %s: %s" % (path.relative_to(ROOT), [(k, v[:6] + "...") for k, v in found])


# -- the scanner itself must catch what it is meant to catch --------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Authorization:\n      - Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig\n",
        '{"access_token": "pd_live_8f3a9c2e1b7d4a6f", "token_type": "Bearer"}',
        "client_secret=s3cr3t-value-123&grant_type=client_credentials",
        '\'{"client_id": "abc", "client_secret":\n        "0123456789abcdef"}\'',
        "refresh_token: r-abcdef123456",
        "X-Altan-Key: " + TEST_API_KEY,
    ],
)
def test_the_scanner_flags_secrets(text: str) -> None:
    assert findings_in_text(text, [TEST_API_KEY])


def test_the_recorders_keys_are_known_secrets() -> None:
    from altan_vcr import INVALID_API_KEY

    assert {TEST_API_KEY, INVALID_API_KEY} <= set(known_secrets())
    assert not set(known_secrets()) & declared_placeholders()


@pytest.mark.parametrize(
    "text",
    [
        "Authorization:\n      - Bearer <ALTAN_API_KEY>\n",
        '{"access_token": "<ACCESS_TOKEN>", "token_type": "Bearer", "expires_in": 3600}',
        "client_secret=REDACTED&grant_type=client_credentials",
        '"client_secret": "<PIPEDREAM_CLIENT_SECRET>"',
        "the access_token value is scrubbed",
    ],
)
def test_the_scanner_accepts_placeholders(text: str) -> None:
    assert findings_in_text(text, [TEST_API_KEY]) == []


def test_the_scanner_checks_credential_headers_in_cassettes() -> None:
    cassette = yaml.safe_dump(
        {
            "interactions": [
                {"request": {"headers": {"X-Altan-Key": ["short-key"], "Authorization": ["Bearer <ALTAN_API_KEY>"]}}},
                {"request": {"headers": {"x-api-key": ["<KEY>"], "Authorization": ["Basic dXNlcjpwYXNz"]}}},
            ]
        }
    )
    assert findings_in_cassette(cassette) == [
        ("X-Altan-Key header", "short-key"),
        ("Authorization header", "Basic dXNlcjpwYXNz"),
    ]
