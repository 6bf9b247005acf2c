"""``download_file`` to a path: the file is written under a temporary name in the destination's
folder and renamed into place once complete, so a download that fails half-way leaves an
existing destination (or, through a symlink, the link's target) as it was and no temporary
file behind. A symlink destination keeps being a link: its target is replaced. The whole
call, a redirect to a storage host included, fits in one ``timeout``.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
from typing import Any, List

import pytest
from servers import Response

import pipedream

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
