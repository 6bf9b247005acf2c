"""A buffered response body is capped (``max_response_bytes``, 32 MiB by default), and the cap
is enforced while reading: a huge ``Content-Length``, a huge chunk size or an endless body
raise the module's error once the cap is passed, and memory grows by about the cap, no more.
``download_file`` streams to its destination and is not capped.

Memory is measured with tracemalloc in a child process (one fresh interpreter, nothing else
allocating), never with timings.

``download_file`` to a path: the file is written under a temporary name in the destination's
folder and renamed into place once complete, so a download that fails half-way leaves an
existing destination (or, through a symlink, the link's target) as it was and no temporary
file behind. A symlink destination keeps being a link: its target is replaced. The whole
call, a redirect to a storage host included, fits in one ``timeout``.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys
from typing import Any, Dict, List

import pytest
from servers import Response

import altan
import pipedream


# =============================================================================================
# A buffered body is capped
# =============================================================================================

ROOT = pathlib.Path(__file__).resolve().parent.parent
MIB = 1024 * 1024

# Runs in a child process: a raw socket server that answers every request with the body of
# ``mode``, then each of the four clients makes one call; prints, per client, the exception
# it raised and tracemalloc's peak during the call.
CHILD = r"""
import asyncio, json, socket, sys, threading, tracemalloc
sys.path[:0] = [sys.argv[1]]
import altan, pipedream

mode, limit = sys.argv[2], (int(sys.argv[3]) if sys.argv[3] != "default" else None)
SENT_AT_MOST = 96 * 1024 * 1024  # then the server holds the connection open, sending nothing
HEADS = {
    "huge-content-length": b"Content-Length: 100000000000000\r\n\r\n",
    "huge-chunk-size": b"Transfer-Encoding: chunked\r\n\r\nfffffffffffff\r\n",
    "endless-chunked": b"Transfer-Encoding: chunked\r\n\r\n",
    "endless-until-close": b"Connection: close\r\n\r\n",
    "json-20mb": None,
}
BLOCK = b"x" * 65536


def handle(conn):
    reader = conn.makefile("rb")
    try:
        length = 0
        while True:
            line = reader.readline()
            if line in (b"", b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        reader.read(length)
        if mode == "json-20mb":
            body = json.dumps({"data": ["y" * 1000] * 20000}).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
            conn.sendall(body)
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + HEADS[mode])
        piece = b"10000\r\n" + BLOCK + b"\r\n" if mode == "endless-chunked" else BLOCK
        sent = 0
        while sent < SENT_AT_MOST:
            conn.sendall(piece)
            sent += len(piece)
        conn.recv(1)  # hold the connection until the client closes it
    except OSError:
        pass
    finally:
        conn.close()


listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
url = "http://127.0.0.1:%d" % listener.getsockname()[1]


def serve():
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


threading.Thread(target=serve, daemon=True).start()
options = dict(timeout=10, max_retries=0, proxy=False)
if limit is not None:
    options["max_response_bytes"] = limit
pd = dict(project_id="proj_m", environment="development", access_token="static-token-1234", base_url=url)
calls = {
    "altan-sync": lambda: altan.AltanActionsClient("altan-key-1234", url, **options).list_connections(),
    "altan-async": lambda: asyncio.run(
        altan.AsyncAltanActionsClient("altan-key-1234", url, **options).list_connections()
    ),
    "pipedream-sync": lambda: pipedream.SyncPipedreamClient(**pd, **options).get_project_info(),
    "pipedream-async": lambda: asyncio.run(pipedream.PipedreamClient(**pd, **options).get_project_info()),
}
tracemalloc.start()
results = {}
for name, call in calls.items():
    if hasattr(tracemalloc, "reset_peak"):
        tracemalloc.reset_peak()
    else:  # Python 3.8: a restart forgets the peak (and what was traced: the base is then 0)
        tracemalloc.stop()
        tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    try:
        result = call()
        outcome = {"ok": len(result["data"]) if isinstance(result, dict) else repr(result)[:100]}
    except BaseException as exc:
        outcome = {"error": "%s.%s" % (type(exc).__module__, type(exc).__name__), "message": str(exc)}
    outcome["peak"] = tracemalloc.get_traced_memory()[1] - base
    results[name] = outcome
print(json.dumps(results))
"""

ERRORS = {
    "altan-sync": "altan.AltanActionError",
    "altan-async": "altan.AltanActionError",
    "pipedream-sync": "pipedream.PipedreamApiError",
    "pipedream-async": "pipedream.PipedreamApiError",
}


def run_child(mode: str, limit: Any) -> Dict[str, Dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), mode, str(limit)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", ["huge-content-length", "huge-chunk-size", "endless-chunked", "endless-until-close"])
@pytest.mark.parametrize("limit", [MIB, "default"])
def test_an_oversized_body_is_refused_within_about_the_cap(mode, limit):
    cap = 32 * MIB if limit == "default" else limit
    for flavour, outcome in run_child(mode, limit).items():
        assert outcome.get("error") == ERRORS[flavour], (flavour, outcome)
        message = outcome["message"]
        assert "response body larger than %d bytes" % cap in message and "max_response_bytes" in message, message
        assert "timed out" not in message
        assert outcome["peak"] < cap + 2 * MIB, (flavour, outcome["peak"])


def test_a_20_mb_json_answer_is_read_whole():
    for flavour, outcome in run_child("json-20mb", "default").items():
        assert outcome.get("ok") == 20000, (flavour, outcome)


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "32"])
def test_max_response_bytes_must_be_a_positive_integer(value):
    with pytest.raises(ValueError, match="max_response_bytes"):
        altan.AltanActionsClient("altan-key-1234", max_response_bytes=value)
    with pytest.raises(ValueError, match="max_response_bytes"):
        pipedream.SyncPipedreamClient(
            project_id="p", environment="development", access_token="tok-1234", max_response_bytes=value
        )


def test_an_error_body_over_the_cap_is_refused_and_a_download_is_not_capped(http_server, tmp_path):
    client = pipedream.SyncPipedreamClient(
        project_id="proj_x",
        environment="development",
        access_token="static-token-1234",
        base_url=http_server.url,
        max_response_bytes=64 * 1024,
        max_retries=0,
        proxy=False,
    )
    path = "/v1/connect/proj_x/file_stash/download"
    data = bytes(range(256)) * (3 * 4096)  # 3 MiB
    http_server.add(path, Response(200, body=data, content_type="application/octet-stream"))
    http_server.add(path, Response(500, body=b"e" * 100_000, content_type="text/plain"))
    with client:
        assert client.download_file("big.bin", tmp_path / "big.bin") == len(data)
        assert (tmp_path / "big.bin").read_bytes() == data
        with pytest.raises(pipedream.PipedreamApiError, match="larger than 65536 bytes"):
            client.download_file("big.bin", tmp_path / "error.bin")
        assert not (tmp_path / "error.bin").exists()


# =============================================================================================
# download_file: streamed to its destination, replaced whole or not at all
# =============================================================================================

PATH = "/v1/connect/proj_x/file_stash/download"
DATA = bytes(range(256)) * 800  # 200 KiB: several chunks


def client_for(server: Any, **options: Any) -> pipedream.SyncPipedreamClient:
    options.setdefault("max_retries", 0)
    return pipedream.SyncPipedreamClient(
        project_id="proj_x",
        environment="development",
        access_token="static-token-1234",
        base_url=server.url,
        proxy=False,
        **options,
    )


def truncated() -> Response:
    return Response(200, body=DATA, content_type="application/octet-stream", fault="truncate")


def complete() -> Response:
    return Response(200, body=DATA, content_type="application/octet-stream")


def listing(folder: pathlib.Path) -> List[str]:
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_failed_download_leaves_an_existing_file_untouched(http_server, tmp_path, flavour):
    target = tmp_path / "report.bin"
    target.write_bytes(b"old content")
    http_server.add(PATH, truncated())
    with client_for(http_server) as client, pytest.raises(pipedream.PipedreamApiError):
        if flavour == "sync":
            client.download_file("big.bin", target)
        else:

            async def main() -> None:
                async with pipedream.PipedreamClient(
                    project_id="proj_x",
                    environment="development",
                    access_token="static-token-1234",
                    base_url=http_server.url,
                    proxy=False,
                    max_retries=0,
                ) as async_client:
                    await async_client.download_file("big.bin", target)

            asyncio.run(main())
    assert target.read_bytes() == b"old content"
    assert listing(tmp_path) == ["report.bin"]  # no temporary file left behind


def test_a_failed_download_through_a_symlink_leaves_its_target_untouched(http_server, tmp_path):
    (tmp_path / "data").mkdir()
    real = tmp_path / "data" / "real.bin"
    real.write_bytes(b"old content")
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    http_server.add(PATH, truncated())
    with client_for(http_server) as client, pytest.raises(pipedream.PipedreamApiError):
        client.download_file("big.bin", link)
    assert real.read_bytes() == b"old content" and link.is_symlink()
    assert listing(tmp_path) == ["data", "link.bin"] and listing(tmp_path / "data") == ["real.bin"]


def test_a_download_through_a_symlink_replaces_its_target_and_keeps_the_link(http_server, tmp_path):
    (tmp_path / "data").mkdir()
    real = tmp_path / "data" / "real.bin"
    real.write_bytes(b"old content")
    real.chmod(0o640)
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    http_server.add(PATH, complete())
    with client_for(http_server) as client:
        assert client.download_file("big.bin", str(link).encode()) == len(DATA)  # a bytes path too
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == DATA and (real.stat().st_mode & 0o777) == 0o640  # its mode kept
    assert listing(tmp_path / "data") == ["real.bin"]


def test_a_complete_download_replaces_the_file_and_leaves_nothing_else(http_server, tmp_path):
    target = tmp_path / "report.bin"
    target.write_bytes(b"old content")
    http_server.add(PATH, complete(), complete())
    with client_for(http_server) as client:
        assert client.download_file("big.bin", target) == len(DATA)
        assert client.download_file("big.bin", tmp_path / "new.bin") == len(DATA)
    assert target.read_bytes() == DATA and (tmp_path / "new.bin").read_bytes() == DATA
    assert listing(tmp_path) == ["new.bin", "report.bin"]


def test_an_interrupted_download_leaves_no_temporary_file(http_server, tmp_path, monkeypatch):
    target = tmp_path / "report.bin"
    target.write_bytes(b"old content")
    http_server.add(PATH, complete())
    calls: List[int] = []
    real_write = pipedream._FileSink.write

    def interrupted(self: Any, chunk: bytes) -> None:
        calls.append(len(chunk))
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_write(self, chunk)

    monkeypatch.setattr(pipedream._FileSink, "write", interrupted)
    with client_for(http_server) as client, pytest.raises(KeyboardInterrupt):
        client.download_file("big.bin", target)
    assert target.read_bytes() == b"old content" and listing(tmp_path) == ["report.bin"]


def test_the_storage_redirect_shares_the_calls_deadline(http_server, make_server, tmp_path, monkeypatch):
    storage = make_server()
    storage.route("/object", complete())
    location = "http://localhost:%d/object" % storage.port  # another host name: a storage URL
    http_server.add(PATH, Response(302, headers={"Location": location}))
    deadlines: List[float] = []
    real_request = pipedream._Transport.request

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        deadlines.append(kwargs["deadline"])
        return real_request(self, *args, **kwargs)

    monkeypatch.setattr(pipedream._Transport, "request", recording)
    with client_for(http_server, timeout=2) as client:
        assert client.download_file("big.bin", tmp_path / "report.bin") == len(DATA)
    assert storage.count("/object") == 1
    assert len(deadlines) == 2 and deadlines[1] == deadlines[0]  # not a fresh timeout


def test_a_storage_host_that_hangs_fails_the_call_at_its_timeout(http_server, make_server, tmp_path):
    import threading
    import time

    release = threading.Event()
    storage = make_server()
    storage.route("/object", Response(200, body=DATA, hold=release))
    http_server.add(PATH, Response(302, headers={"Location": "http://localhost:%d/object" % storage.port}))
    started = time.monotonic()
    try:
        with client_for(http_server, timeout=1) as client, pytest.raises(pipedream.PipedreamApiError) as caught:
            client.download_file("big.bin", tmp_path / "report.bin")
    finally:
        release.set()
    assert "timed out after 1 s" in str(caught.value)
    assert time.monotonic() - started < 1 + 2.0  # the deadline, plus slack (not timing the client)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("location", ["http://localhost:99999/o", "http://[::1/o", "http://localhost:1/a b"])
def test_an_invalid_storage_location_is_an_api_error(http_server, tmp_path, location):
    http_server.add(PATH, Response(302, headers={"Location": location}))
    with client_for(http_server) as client, pytest.raises(pipedream.PipedreamApiError) as caught:
        client.download_file("big.bin", tmp_path / "report.bin")
    assert caught.value.status_code == 302 and "invalid redirect Location" in str(caught.value)
    assert listing(tmp_path) == []
