"""Proxies and TLS for the four public clients, through a real forward proxy program.

The proxy is ``proxy.py`` from PyPI (in the ``dev`` extra, so ``.ci/run`` installs it with
``pip install -e ".[dev]"``), started once per test session as a separate process on a free
loopback port (``--port 0 --port-file``), waited for by polling its port (bounded), and
killed (its whole process group) at teardown. A second instance requires Basic credentials.
Each test reads the proxy's access log to prove that the traffic went through it (or not).
Without proxy.py the proxy tests are skipped with a message that says how to install it.

What it proves, for Altan and Pipedream, sync and async:

* ``HTTPS_PROXY``/``https_proxy`` carry https through a ``CONNECT`` tunnel, ``HTTP_PROXY``/
  ``http_proxy`` carry plain http (absolute-form), upper and lower case; Pipedream's token
  request takes the same way;
* ``NO_PROXY``/``no_proxy`` send matching hosts direct; an empty variable counts as unset
  (an empty lower-case one does not hide the upper-case one);
* proxy credentials from the URL are accepted by the proxy, wrong ones fail with a clear
  error that does not show them;
* a custom CA bundle, a supplied ``ssl.SSLContext`` and ``SSL_CERT_FILE`` work, directly and
  through the tunnel; certificate errors are never retried and say how to fix them.
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from typing import Iterator, List, Optional

import pytest
from reliability import FLAVOURS, Api, read, write
from servers import Server

import altan
import pipedream

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
START_TIMEOUT = 30.0  # seconds for the proxy program to listen


class ProxyProgram:
    """A forward proxy running as its own process (proxy.py), with its access log."""

    def __init__(self, workdir: str, basic_auth: Optional[str] = None) -> None:
        if importlib.util.find_spec("proxy") is None:
            pytest.skip(
                "the forward proxy program proxy.py is not installed: "
                "python -m pip install -e '.[dev]' (or: python -m pip install proxy.py)"
            )
        os.makedirs(workdir, exist_ok=True)
        self.log_path = os.path.join(workdir, "proxy.log")
        port_file = os.path.join(workdir, "port")
        command = [
            sys.executable,
            "-m",
            "proxy",
            "--hostname",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            port_file,
            "--num-acceptors",
            "1",
            "--num-workers",
            "1",
            "--log-file",
            self.log_path,
            "--log-level",
            "INFO",
            "--data-dir",
            os.path.join(workdir, "data"),
        ]
        if basic_auth:
            command += ["--basic-auth", basic_auth]
        self._stderr = open(os.path.join(workdir, "stderr"), "wb")  # noqa: SIM115 - closed in stop()
        # Its own session: stop() ends the program and the worker processes it forks, and only them.
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=self._stderr, start_new_session=True, cwd=workdir
        )
        self.port = self._wait_for_port(port_file)
        self._target: Optional[Server] = None  # where sentinel requests go
        self._sentinels = 0

    def _wait_for_port(self, port_file: str) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(
                    "proxy.py exited with status %s: %s"
                    % (self.process.returncode, open(self._stderr.name, "rb").read()[-2000:])
                )
            try:
                with open(port_file) as f:
                    port = int(f.read().split()[0])
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return port
            except (OSError, ValueError, IndexError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("proxy.py did not listen within %g s" % START_TIMEOUT)

    def url(self, credentials: str = "") -> str:
        return "http://%s127.0.0.1:%d" % (credentials + "@" if credentials else "", self.port)

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def mark(self) -> int:
        """The log's current length: ``lines_since(mark)`` reads what was logged after it."""
        return len(self.log())

    def lines_since(self, mark: int, pattern: str, expect: bool = True, timeout: float = 10.0) -> List[str]:
        """Access-log lines after ``mark`` matching ``pattern``. proxy.py writes a line when a
        connection ends, so this polls until one appears (bounded). With ``expect=False`` it
        first sends a sentinel request through the proxy and waits for its line: whatever the
        proxy carried before (and has closed) is logged by then, so an empty answer means the
        proxy carried nothing that matches."""
        if not expect:
            sentinel = self._sentinel()
            self.lines_since(mark, re.escape(sentinel), timeout=timeout)
        deadline = time.monotonic() + timeout
        while True:
            lines = [line for line in self.log()[mark:].splitlines() if re.search(pattern, line)]
            if lines or not expect or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)

    def _sentinel(self) -> str:
        if self._target is None:
            self._target = Server().start()
        self._sentinels += 1
        path = "/sentinel-%d" % self._sentinels
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", self._target.url + path, headers={"Connection": "close"})
            conn.getresponse().read()
        finally:
            conn.close()
        return "127.0.0.1:%d%s" % (self._target.port, path)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)  # the group this fixture started
            except ProcessLookupError:
                pass
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self._stderr.close()
        if getattr(self, "_target", None) is not None:
            self._target.stop()


@pytest.fixture(scope="session")
def proxy_program(tmp_path_factory) -> Iterator[ProxyProgram]:
    program = ProxyProgram(str(tmp_path_factory.mktemp("proxy-py")))
    yield program
    program.stop()


@pytest.fixture(scope="session")
def auth_proxy_program(tmp_path_factory) -> Iterator[ProxyProgram]:
    program = ProxyProgram(str(tmp_path_factory.mktemp("proxy-py-auth")), basic_auth="proxyuser:proxy-pass-7e21")
    yield program
    program.stop()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES + ("REQUEST_METHOD", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name in ("CLIENT_ID", "CLIENT_SECRET", "PROJECT_ID", "PROJECT_ENVIRONMENT", "BASE_URL", "ACCESS_TOKEN"):
        monkeypatch.delenv("PIPEDREAM_" + name, raising=False)


def use(flavour: str, server, **options) -> Api:
    options.setdefault("proxy", None)  # from the environment
    return Api(flavour, server, **options)


def exercise(api: Api) -> None:
    """A read and a write, then close (which ends the tunnel, so the proxy logs it)."""
    module = api.module_name
    writes = api.server.count(write(module).path, write(module).http)
    try:
        assert api.op(read(module))["path"] == read(module).path
        api.op(write(module))
    finally:
        api.close()
    assert api.server.count(write(module).path, write(module).http) == writes + 1


# ---------------------------------------------------------------------------------------------
# Through the proxy
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_https_goes_through_the_proxy_in_a_connect_tunnel(
    proxy_program, https_server, ca_bundle, monkeypatch, flavour, variable
):
    monkeypatch.setenv(variable, proxy_program.url())
    mark = proxy_program.mark()
    exercise(use(flavour, https_server, ca_bundle=ca_bundle))
    assert proxy_program.lines_since(mark, r"CONNECT 127\.0\.0\.1:%d\b" % https_server.port)
    tunnels = {c.client_port for c in https_server.connections}
    assert len(tunnels) == 1  # one kept-alive tunnel carried the token request, the read and the write


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_plain_http_goes_through_the_proxy(proxy_program, http_server, monkeypatch, flavour, variable):
    monkeypatch.setenv(variable, proxy_program.url())
    mark = proxy_program.mark()
    exercise(use(flavour, http_server))
    # proxy.py logs the first request of each kept-alive client connection
    assert proxy_program.lines_since(mark, r"(GET|POST) 127\.0\.0\.1:%d/" % http_server.port)


@pytest.mark.parametrize(
    "variable, entry",
    [("NO_PROXY", "127.0.0.1"), ("no_proxy", "127.0.0.1:{port}"), ("NO_PROXY", "127.0.0.0/8"), ("no_proxy", "*")],
)
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_no_proxy_sends_matching_hosts_direct(
    proxy_program, https_server, ca_bundle, monkeypatch, flavour, variable, entry
):
    monkeypatch.setenv("HTTPS_PROXY", proxy_program.url())
    monkeypatch.setenv(variable, "example.com, " + entry.format(port=https_server.port))
    mark = proxy_program.mark()
    exercise(use(flavour, https_server, ca_bundle=ca_bundle))
    assert proxy_program.lines_since(mark, r"127\.0\.0\.1:%d" % https_server.port, expect=False) == []


@pytest.mark.parametrize("flavour", ["altan-sync", "pipedream-async"])
def test_an_empty_variable_counts_as_unset(proxy_program, https_server, ca_bundle, monkeypatch, flavour):
    pattern = r"CONNECT 127\.0\.0\.1:%d\b" % https_server.port
    # An empty lower-case variable does not hide the upper-case one...
    monkeypatch.setenv("https_proxy", "")
    monkeypatch.setenv("HTTPS_PROXY", proxy_program.url())
    mark = proxy_program.mark()
    exercise(use(flavour, https_server, ca_bundle=ca_bundle))
    assert proxy_program.lines_since(mark, pattern)
    # ...an empty NO_PROXY bypasses nothing, and an empty no_proxy does not hide NO_PROXY...
    monkeypatch.setenv("NO_PROXY", "")
    mark = proxy_program.mark()
    exercise(use(flavour, https_server, ca_bundle=ca_bundle))
    assert proxy_program.lines_since(mark, pattern)
    monkeypatch.setenv("no_proxy", "")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    mark = proxy_program.mark()
    exercise(use(flavour, https_server, ca_bundle=ca_bundle))
    assert proxy_program.lines_since(mark, pattern, expect=False) == []
    # ...and with every proxy variable empty, nothing goes through a proxy.
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "")
    monkeypatch.delenv("NO_PROXY")
    mark = proxy_program.mark()
    exercise(use(flavour, https_server, ca_bundle=ca_bundle))
    assert proxy_program.lines_since(mark, pattern, expect=False) == []


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_proxy_credentials_from_the_url(auth_proxy_program, https_server, ca_bundle, monkeypatch, flavour):
    monkeypatch.setenv("HTTPS_PROXY", auth_proxy_program.url("proxyuser:proxy-pass-7e21"))
    mark = auth_proxy_program.mark()
    exercise(use(flavour, https_server, ca_bundle=ca_bundle))
    assert auth_proxy_program.lines_since(mark, r"CONNECT 127\.0\.0\.1:%d\b" % https_server.port)

    monkeypatch.setenv("HTTPS_PROXY", auth_proxy_program.url("proxyuser:wrong-pass-0000"))
    api = use(flavour, https_server, ca_bundle=ca_bundle, max_retries=0)
    try:
        with pytest.raises(api.error) as caught:
            api.op(read(flavour.split("-")[0]))
    finally:
        api.close()
    assert "407" in str(caught.value) and "wrong-pass-0000" not in str(caught.value) + repr(caught.value)
    assert https_server.count(read(flavour.split("-")[0]).path) == 1  # only the first client's read got there


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_explicit_proxy_argument_wins_and_proxy_false_goes_direct(
    proxy_program, https_server, ca_bundle, monkeypatch, flavour
):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # for the environment's proxies only
    pattern = r"CONNECT 127\.0\.0\.1:%d\b" % https_server.port
    mark = proxy_program.mark()
    exercise(use(flavour, https_server, ca_bundle=ca_bundle, proxy=proxy_program.url()))
    assert proxy_program.lines_since(mark, pattern)
    monkeypatch.delenv("NO_PROXY")
    mark = proxy_program.mark()
    exercise(use(flavour, https_server, ca_bundle=ca_bundle, proxy=False))
    assert proxy_program.lines_since(mark, pattern, expect=False) == []


# ---------------------------------------------------------------------------------------------
# TLS: CA bundle, SSLContext, SSL_CERT_FILE; certificate errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "proxied"])
@pytest.mark.parametrize("trust", ["ca_bundle", "ssl_context", "SSL_CERT_FILE"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_private_ca_is_trusted_however_it_is_given(
    request, https_server, ca_bundle, client_ssl_context, monkeypatch, flavour, trust, through_proxy
):
    options = {}
    if through_proxy:
        proxy = request.getfixturevalue("proxy_program")
        options["proxy"], mark = proxy.url(), proxy.mark()
    if trust == "ca_bundle":
        options["ca_bundle"] = ca_bundle
    elif trust == "ssl_context":
        options["ssl_context"] = client_ssl_context
    else:
        monkeypatch.setenv("SSL_CERT_FILE", ca_bundle)  # read by OpenSSL when the context is built
    exercise(use(flavour, https_server, **options))
    if through_proxy:  # the proxy carried it: one kept-alive tunnel for every request
        assert len(proxy.lines_since(mark, r"CONNECT 127\.0\.0\.1:%d\b" % https_server.port, expect=False)) == 1


@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "proxied"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_certificate_error_is_never_retried_and_says_how_to_fix_it(request, https_server, flavour, through_proxy):
    options = {"max_retries": 5}
    if through_proxy:
        proxy = request.getfixturevalue("proxy_program")
        options["proxy"], mark = proxy.url(), proxy.mark()
    api = use(flavour, https_server, **options)  # the system CAs do not include the test CA
    module = flavour.split("-")[0]
    try:
        for op in (read(module), write(module)):
            started = time.monotonic()
            with pytest.raises(api.error) as caught:
                api.op(op)
            message = str(caught.value)
            assert "certificate verification failed" in message and "not retried" in message
            assert "ca_bundle=" in message and "ssl_context=" in message
            assert "attempts" not in message
            assert issubclass(caught.value.__cause__.cause_type, ssl.SSLCertVerificationError)
            assert time.monotonic() - started < 5  # no backoff
    finally:
        api.close()
    assert https_server.count() == 0
    https_server.wait_connections_closed(2)
    # one TLS handshake per call (Pipedream: the token request fails first), never a second
    assert len(https_server.connections) == 2
    if through_proxy:  # each through its own tunnel of the proxy
        assert len(proxy.lines_since(mark, r"CONNECT 127\.0\.0\.1:%d\b" % https_server.port, expect=False)) == 2


def test_tls_and_proxy_arguments_are_checked_at_construction(ca_bundle, client_ssl_context, tmp_path):
    for make in (
        lambda **o: altan.AltanActionsClient("k" * 10, **o),
        lambda **o: pipedream.SyncPipedreamClient("id", "secret", "proj_x", "development", **o),
    ):
        with pytest.raises(ValueError, match="not both"):
            make(ssl_context=client_ssl_context, ca_bundle=ca_bundle)
        with pytest.raises(ValueError, match="does not exist"):
            make(ca_bundle=str(tmp_path / "missing.pem"))
        with pytest.raises(ValueError) as caught:
            make(proxy="socks5://user:hunter2-secret@127.0.0.1:1080")
        assert "hunter2-secret" not in str(caught.value)
