"""Make calls through the official ``pipedream`` SDK and print what it sent, as JSON.

Usage: ``python -I tests/official_sdk_capture.py SDK_DIR`` (spec on stdin, see below).

The parity test (tests/test_pipedream_parity.py) runs this file in a subprocess, with
``python -I``: the official SDK's import name is ``pipedream``, the name of this repository's
``pipedream.py``, and the repository root must not be on ``sys.path`` here. The SDK, respx and
httpx are not installed in the development environment (there the SDK would shadow this
repository's module); the test installs them apart, with ``pip install --target SDK_DIR``, and
that folder comes first on ``sys.path`` here. Nothing reaches the
network: respx mocks the SDK's httpx transport and answers each call with the response given
for it (the bundled replica's answer to our client's same call), so the SDK also parses the
replica's response shapes with its own models.

stdin: ``{"base_url", "project_id", "environment", "access_token", "client_id",
"client_secret", "calls": [{"id", "call": "resource.method", "args", "kwargs",
"credentials": bool, "client": {...}, "response": {"status", "content_type", "body_b64"}}]}``;
``client`` (optional): the keyword arguments of a new ``Pipedream`` for that call (over the
common ones), e.g. ``private_key``/``key_id`` or ``access_token`` with an empty ``project_id``

stdout: ``{"sdk_version", "endpoints": ["resource.method", ...], "results": {id: {"requests":
[{"method", "host", "path", "query", "headers", "body_b64"}], "error"}}}``; ``endpoints`` lists
every public method of every resource client of ``pipedream.Pipedream``.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import types
from typing import Any, Dict, List

# python -I already leaves this script's directory (tests/) off sys.path; make sure no entry
# holds this repository's pipedream.py either.
sys.path[:] = [p for p in sys.path if not os.path.isfile(os.path.join(p or os.getcwd(), "pipedream.py"))]
if len(sys.argv) > 1:
    sys.path.insert(0, sys.argv[1])

import httpx  # noqa: E402
import respx  # noqa: E402

import pipedream  # noqa: E402

if not hasattr(pipedream, "Pipedream") or (
    len(sys.argv) > 1 and not os.path.abspath(pipedream.__file__).startswith(os.path.abspath(sys.argv[1]))
):
    raise SystemExit("'pipedream' resolved to %s, not the official SDK in %s" % (pipedream.__file__, sys.argv[1:]))

TOKEN_RESPONSE = {"access_token": "sdk-oauth-token", "token_type": "Bearer", "expires_in": 3600}


def endpoints(client: Any) -> List[str]:
    """``resource.method`` for every public method of every resource client."""
    names = []
    for resource_name in dir(client):
        if resource_name.startswith("_"):
            continue
        resource = getattr(client, resource_name)
        kind = type(resource)
        if not (kind.__module__.startswith("pipedream.") and kind.__name__.endswith("Client")):
            continue
        for method_name in dir(resource):
            if method_name.startswith("_") or method_name == "with_raw_response":
                continue
            if callable(getattr(resource, method_name)):
                names.append("%s.%s" % (resource_name, method_name))
    return sorted(names)


def describe(request: httpx.Request) -> Dict[str, Any]:
    headers: Dict[str, str] = {}
    for name, value in request.headers.multi_items():
        name = name.lower()
        headers[name] = headers[name] + ", " + value if name in headers else value
    return {
        "method": request.method,
        "host": request.url.host,
        "path": request.url.raw_path.decode("ascii").split("?", 1)[0],
        "query": [list(pair) for pair in httpx.QueryParams(request.url.query.decode("ascii")).multi_items()],
        "headers": headers,
        "body_b64": base64.b64encode(request.read()).decode("ascii"),
    }


def main() -> int:
    spec = json.load(sys.stdin)
    common = dict(
        project_id=spec["project_id"], project_environment=spec["environment"], base_url=spec["base_url"], max_retries=0
    )
    token_client = pipedream.Pipedream(access_token=spec["access_token"], **common)
    output: Dict[str, Any] = {
        "sdk_version": getattr(pipedream, "__version__", None) or _version(),
        "endpoints": endpoints(token_client),
        "results": {},
    }
    current: Dict[str, Any] = {}
    sent: List[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path == "/v1/oauth/token":
            return httpx.Response(200, json=TOKEN_RESPONSE)
        canned = current.get("response") or {"status": 200, "content_type": "application/json", "body_b64": "e30="}
        headers = {"content-type": canned["content_type"]} if canned.get("content_type") else {}
        return httpx.Response(canned["status"], headers=headers, content=base64.b64decode(canned["body_b64"]))

    with respx.mock(assert_all_called=False) as router:
        router.route().mock(side_effect=answer)
        for call in spec["calls"]:
            current.clear()
            current.update(call)
            sent.clear()
            client = token_client
            if call.get("credentials"):  # a new client: its first request fetches a token
                client = pipedream.Pipedream(client_id=spec["client_id"], client_secret=spec["client_secret"], **common)
            elif call.get("client") is not None:  # a new client with other authentication
                client = pipedream.Pipedream(**dict(common, **call["client"]))
            resource_name, method_name = call["call"].split(".")
            error = None
            try:
                result = getattr(getattr(client, resource_name), method_name)(*call["args"], **call["kwargs"])
                if isinstance(result, types.GeneratorType):  # streamed bodies are sent when read
                    for _ in result:
                        pass
            except Exception as exc:  # noqa: BLE001 - reported to the test
                error = "%s: %s" % (type(exc).__name__, exc)
            output["results"][call["id"]] = {"requests": [describe(r) for r in sent], "error": error}
    json.dump(output, sys.stdout)
    return 0


def _version() -> str:
    from importlib.metadata import version

    return version("pipedream")


if __name__ == "__main__":
    sys.exit(main())
