"""vcrpy settings shared by the Altan cassette recorder (tests/record_altan_cassettes.py) and
the replay tests (tests/test_cassettes.py): where cassettes live, how secrets are
scrubbed, and how a request is matched to a recorded one."""

from __future__ import annotations

import pathlib
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = pathlib.Path(__file__).resolve().parent.parent
CASSETTE_DIR = ROOT / "cassettes" / "altan"
REAL_BASE_URL = "https://api.altan.ai/integration"  # altan.DEFAULT_BASE_URL, the origin cassettes are stored under

# The keys used while recording against the replica. They are scrubbed like real keys, and
# tests/test_cassettes.py checks that neither appears under cassettes/.
TEST_API_KEY = "altan-test-key-7d3f9c2a51e84b06"
INVALID_API_KEY = "altan-invalid-key-0000"

# What cassettes hold instead of a key. The valid key, whatever its value, becomes
# KEY_PLACEHOLDER; the deliberately invalid key (401 cases) becomes INVALID_KEY_PLACEHOLDER; any
# other value becomes OTHER_KEY_PLACEHOLDER. No key value is ever written.
KEY_PLACEHOLDER = "<ALTAN_API_KEY>"
INVALID_KEY_PLACEHOLDER = "<INVALID_ALTAN_API_KEY>"
OTHER_KEY_PLACEHOLDER = "<OTHER_ALTAN_API_KEY>"
PLACEHOLDERS = (KEY_PLACEHOLDER, INVALID_KEY_PLACEHOLDER, OTHER_KEY_PLACEHOLDER)
# The User-Agent names the Python version ("altan-python/0.1.0 (stdlib; python 3.11)"): stored
# as this placeholder, a cassette is the same whichever CPython recorded it.
USER_AGENT_PLACEHOLDER = "<USER_AGENT>"

# Headers that take part in matching (besides method, URL and body), compared after scrubbing.
MATCHED_HEADERS = ("X-Altan-Key", "Authorization", "Content-Type", "Accept")
MATCH_ON = ["method", "scheme", "host", "port", "path", "query", "body", "altan_headers"]

# Response headers dropped while recording: they change on every run and would make a
# re-recording differ from the committed cassette for no reason.
VOLATILE_RESPONSE_HEADERS = ("date",)


def key_placeholder(value: str, api_key: str) -> str:
    if value == api_key:
        return KEY_PLACEHOLDER
    if value == INVALID_API_KEY:
        return INVALID_KEY_PLACEHOLDER
    if value in PLACEHOLDERS:  # already scrubbed (a request loaded from a cassette)
        return value
    return OTHER_KEY_PLACEHOLDER


def filter_headers(api_key: str) -> List[Tuple[str, Callable[..., Optional[str]]]]:
    """vcrpy ``filter_headers`` entries that replace ``X-Altan-Key``, ``Authorization`` and
    ``User-Agent`` with placeholders. vcrpy applies them before recording *and* to each live request before matching,
    so a replayed request matches whatever valid key the test uses."""

    def scrub_key(key: str, value: str, request: Any) -> str:
        return key_placeholder(value, api_key)

    def scrub_bearer(key: str, value: str, request: Any) -> str:
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer":
            return OTHER_KEY_PLACEHOLDER
        return "Bearer " + key_placeholder(token, api_key)

    return [("X-Altan-Key", scrub_key), ("Authorization", scrub_bearer), ("User-Agent", USER_AGENT_PLACEHOLDER)]


def altan_headers(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the auth, content-type and accept headers agree (case-insensitive names).
    Registered as ``altan_headers`` (tests/conftest.py, ``pytest_recording_configure``)."""
    h1 = {k.lower(): v for k, v in r1.headers.items()}
    h2 = {k.lower(): v for k, v in r2.headers.items()}
    for name in MATCHED_HEADERS:
        a, b = h1.get(name.lower()), h2.get(name.lower())
        assert a == b, "%s: %r != %r" % (name, a, b)


def drop_volatile_headers(response: Dict[str, Any]) -> Dict[str, Any]:
    response["headers"] = {k: v for k, v in response["headers"].items() if k.lower() not in VOLATILE_RESPONSE_HEADERS}
    return response


def scrub_response(api_key: str) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    """A ``before_record_response``: volatile headers dropped, and a key the client sent
    (``api_key``, ``INVALID_API_KEY``) replaced with its placeholder wherever a server echoed
    it back (an error body that quotes the request, a header, the reason phrase), with
    Content-Length kept right.
    Responses that do not echo a key are recorded unchanged."""
    replacements = [
        (key, placeholder)
        for key, placeholder in ((api_key, KEY_PLACEHOLDER), (INVALID_API_KEY, INVALID_KEY_PLACEHOLDER))
        if key
    ]

    def scrub_text(value: Any) -> Any:
        for key, placeholder in replacements:
            if isinstance(value, bytes):
                value = value.replace(key.encode("utf-8"), placeholder.encode("utf-8"))
            elif isinstance(value, str):
                value = value.replace(key, placeholder)
        return value

    def scrub(response: Dict[str, Any]) -> Dict[str, Any]:
        response = drop_volatile_headers(response)
        body = response.get("body", {}).get("string")
        scrubbed = scrub_text(body)
        headers = {
            name: [scrub_text(v) for v in values] if isinstance(values, list) else scrub_text(values)
            for name, values in response["headers"].items()
        }
        if scrubbed != body:
            response["body"] = dict(response["body"], string=scrubbed)
            for name in headers:
                if name.lower() == "content-length":
                    headers[name] = [str(len(scrubbed))]
        response["headers"] = headers
        status = response.get("status")
        if isinstance(status, dict) and "message" in status:  # the reason phrase
            response["status"] = dict(status, message=scrub_text(status["message"]))
        return response

    return scrub


def rewrite_origin(recorded_base: str, stored_base: str = REAL_BASE_URL) -> Callable[[Any], Any]:
    """A ``before_record_request`` that stores a request to ``recorded_base`` (the replica) as
    a request to ``stored_base`` (the real API)."""

    def rewrite(request: Any) -> Any:
        if request.uri.startswith(recorded_base + "/") or request.uri == recorded_base:
            request.uri = stored_base + request.uri[len(recorded_base) :]
        return request

    return rewrite


def vcr_config(api_key: str = TEST_API_KEY) -> Dict[str, Any]:
    """Keyword arguments for ``vcr.VCR(...).use_cassette`` / pytest-recording's ``vcr_config``."""
    return {
        "filter_headers": filter_headers(api_key),
        "match_on": list(MATCH_ON),
        "before_record_response": scrub_response(api_key),
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
    }


def register_matchers(vcr: Any) -> None:
    vcr.register_matcher("altan_headers", altan_headers)
