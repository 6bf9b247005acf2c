"""Both clients against real infrastructure: nginx (a TLS reverse proxy with a 2 s keep-alive
timeout) in front of the bundled replicas, squid (a forward proxy, with and without proxy
authentication), and a relay that gives the link a 50 ms round trip (tests/realservers.py).

Skipped where nginx or squid is not installed, unless ``REQUIRE_REAL_SERVERS=1``.
"""

from __future__ import annotations

import collections
import json
import logging
import ssl
import threading
import time
from typing import Any, Iterator, List

import altan_replica
import pipedream_replica
import pytest
from realservers import DelayRelay, Nginx, Squid

from altan import AltanActionError, AltanActionsClient
from pipedream import PipedreamApiError, SyncPipedreamClient

API_KEY = "real-servers-key"
PROXY_USER, PROXY_PASSWORD = "proxyuser", "proxy-pass-1234"
KEEPALIVE_TIMEOUT = 2.0


class Stack:
    """The replicas, nginx in front of them, a 25 ms-each-way relay in front of nginx, and
    squid; ``altan_url``/``pipedream_url`` through the relay (``direct=True``: to nginx)."""

    def __init__(self, cert_pem: bytes, key_pem: bytes, context: ssl.SSLContext) -> None:
        self.context = context
        self.altan, _ = altan_replica.start(api_key=API_KEY)
        self.pipedream, _ = pipedream_replica.start()
        self.stopping: List[Any] = []
        try:
            self.squid = Squid({PROXY_USER: PROXY_PASSWORD}).start()
            self.stopping.append(self.squid)
            self.nginx = Nginx(
                cert_pem,
                key_pem,
                {
                    "/altan/": "http://127.0.0.1:%d/" % self.altan.server_address[1],
                    "/pd/": "http://127.0.0.1:%d/" % self.pipedream.server_address[1],
                },
                keepalive_timeout=KEEPALIVE_TIMEOUT,
                keepalive_requests=5,
            ).start()
            self.stopping.append(self.nginx)
            self.relay = DelayRelay(("127.0.0.1", self.nginx.port), one_way=0.025).start()
            self.stopping.append(self.relay)
            # Through squid the 50 ms sit between the client and the proxy.
            self.squid_relay = DelayRelay(("127.0.0.1", self.squid.port), one_way=0.025).start()
            self.stopping.append(self.squid_relay)
        except BaseException:
            self.stop()
            raise

    def origin(self, direct: bool = False) -> str:
        return "https://127.0.0.1:%d" % (self.nginx.port if direct else self.relay.port)

    def altan_client(self, **options: Any) -> AltanActionsClient:
        options.setdefault("proxy", False)
        base = self.origin(options.pop("direct", options["proxy"] is not False))
        return AltanActionsClient(API_KEY, base + "/altan/integration", ssl_context=self.context, **options)

    def pipedream_client(self, **options: Any) -> SyncPipedreamClient:
        options.setdefault("proxy", False)
        base = self.origin(options.pop("direct", options["proxy"] is not False))
        return SyncPipedreamClient(
            pipedream_replica.DEFAULT_CLIENT_ID,
            pipedream_replica.DEFAULT_CLIENT_SECRET,
            pipedream_replica.DEFAULT_PROJECT_ID,
            "development",
            base_url=base + "/pd",
            ssl_context=self.context,
            **options,
        )

    def stop(self) -> None:
        while self.stopping:
            self.stopping.pop().stop()
        altan_replica.stop(self.altan)
        pipedream_replica.stop(self.pipedream)


@pytest.fixture(scope="module")
def stack(tls_ca: Any) -> Iterator[Stack]:
    cert = tls_ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    built = Stack(cert.cert_chain_pems[0].bytes(), cert.private_key_pem.bytes(), context)
    yield built
    built.stop()


def _bodies(replica: Any, path_end: str) -> List[Any]:
    return [json.loads(r.body) for r in replica.requests if r.method == "POST" and r.path.endswith(path_end)]


# ---------------------------------------------------------------------------------------------
# The keep-alive race: writes at idle gaps straddling nginx's keepalive_timeout
# ---------------------------------------------------------------------------------------------

WRITERS = 16  # half Altan, half Pipedream, each with its own client (its own connection)
GAPS = [1.9 + 0.2 * i / 7 for i in range(8)]  # 1.9 s to 2.1 s: 8 gaps, 9 writes per writer


def _altan_write(client: Any, marker: str) -> None:
    client.execute_action("abc123", "send-email", {"to": "a@example.com", "subject": marker, "body": "race"})


def _pipedream_write(client: Any, marker: str) -> None:
    client.run_action("slack-send-message", "user-1", {"text": marker})


def _race(stack: Stack, proxy: Any) -> None:
    """16 writers, each: a write, then a write after each gap in GAPS. Every write must
    succeed, and the replicas must have run each exactly once."""
    errors: List[str] = []
    sent: List[str] = []
    lock = threading.Lock()
    start = threading.Barrier(WRITERS)

    def writer(index: int) -> None:
        api = "altan" if index % 2 else "pd"
        make_client, write, error_class = (
            (stack.altan_client, _altan_write, AltanActionError)
            if api == "altan"
            else (stack.pipedream_client, _pipedream_write, PipedreamApiError)
        )
        with make_client(proxy=proxy, direct=proxy is not False, timeout=30) as client:
            start.wait()
            for round_ in range(len(GAPS) + 1):
                marker = "%s-%d-%d-%s" % (api, index, round_, proxy is not False)
                with lock:
                    sent.append(marker)
                try:
                    write(client, marker)
                except error_class as error:
                    with lock:
                        errors.append(str(error))
                if round_ < len(GAPS):
                    time.sleep(GAPS[(round_ + index) % len(GAPS)])  # the scenario: an idle gap

    threads = [threading.Thread(target=writer, args=(i,), name="writer-%d" % i) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert len(sent) >= 128
    ran = collections.Counter(body["payload"]["subject"] for body in _bodies(stack.altan, "/execute"))
    ran.update(body["configured_props"]["text"] for body in _bodies(stack.pipedream, "/actions/run"))
    mine = {marker: ran[marker] for marker in sent}
    duplicates = {marker: n for marker, n in mine.items() if n > 1}
    assert errors == [], "%d of %d writes failed, e.g. %s" % (len(errors), len(sent), errors[:3])
    assert duplicates == {}
    assert all(n == 1 for n in mine.values())


def test_writes_at_the_keepalive_edge_never_fail_nor_run_twice(stack: Stack) -> None:
    _race(stack, proxy=False)


def test_writes_at_the_keepalive_edge_through_squid(stack: Stack) -> None:
    _race(stack, proxy="http://127.0.0.1:%d" % stack.squid_relay.port)


# ---------------------------------------------------------------------------------------------
# nginx: keepalive_requests and a 503 with Retry-After
# ---------------------------------------------------------------------------------------------


def _attempts(caplog: Any, logger: str) -> List[str]:
    """The per-attempt DEBUG records (not the "retrying in" ones)."""
    return [r.getMessage() for r in caplog.records if r.name == logger and "(attempt " in r.getMessage()]


def test_nginx_closing_after_keepalive_requests_is_never_an_error(stack: Stack) -> None:
    before = len(_bodies(stack.altan, "/execute"))
    with stack.altan_client(direct=True) as client:
        for n in range(12):  # nginx answers the 5th request on a connection with "Connection: close"
            client.list_connections()
            assert client.execute_action("abc123", "send-email", {"to": "a@b.c", "subject": "k%d" % n, "body": "x"})
    assert len(_bodies(stack.altan, "/execute")) == before + 12


def test_nginx_503_with_retry_after_is_retried_even_for_a_write(stack: Stack, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG, logger="altan")
    client = AltanActionsClient(
        API_KEY, stack.nginx.url("/unavailable"), ssl_context=stack.context, proxy=False, max_retries=1
    )
    with client, pytest.raises(AltanActionError) as caught:
        client.execute_action("abc123", "send-email", {"to": "a@b.c", "subject": "s", "body": "x"})
    assert caught.value.status_code == 503 and caught.value.detail == "down for maintenance"
    assert caught.value.headers is not None and caught.value.headers["retry-after"] == "1"
    assert len(_attempts(caplog, "altan")) == 2
    assert any("retrying in 1.00 s after 503" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------------------------
# squid: proxy authentication
# ---------------------------------------------------------------------------------------------

CREDENTIALS = {"missing": None, "wrong": (PROXY_USER, "wrong-secret-5678"), "right": (PROXY_USER, PROXY_PASSWORD)}


def _proxy_url(stack: Stack, credentials: Any) -> str:
    return stack.squid.url(*(credentials or (None, None)), auth=True)


def _origin(stack: Stack, scheme: str, module: str) -> str:
    if scheme == "https":
        return stack.origin(direct=True) + ("/altan/integration" if module == "altan" else "/pd")
    replica = stack.altan if module == "altan" else stack.pipedream
    return "http://127.0.0.1:%d%s" % (replica.server_address[1], "/integration" if module == "altan" else "")


@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize("credentials", ["missing", "wrong", "right"])
def test_squid_proxy_authentication_altan(stack: Stack, caplog: Any, scheme: str, credentials: str) -> None:
    caplog.set_level(logging.DEBUG, logger="altan")
    proxy = _proxy_url(stack, CREDENTIALS[credentials])
    client = AltanActionsClient(
        API_KEY, _origin(stack, scheme, "altan"), ssl_context=stack.context, proxy=proxy, max_retries=2
    )
    with client:
        if credentials == "right":
            assert client.list_connections()["data"]
            return
        with pytest.raises(AltanActionError) as caught:
            client.list_connections()  # a read: a network error would be retried
    error = caught.value
    assert error.status_code == 407
    assert "the proxy 127.0.0.1:%d answered HTTP 407 Proxy Authentication Required" % stack.squid.auth_port in str(
        error
    )
    assert "wrong-secret" not in str(error) and PROXY_USER not in str(error)
    assert len(_attempts(caplog, "altan")) == 1, _attempts(caplog, "altan")


@pytest.mark.parametrize("scheme", ["https", "http"])
@pytest.mark.parametrize("credentials", ["missing", "wrong", "right"])
def test_squid_proxy_authentication_pipedream(stack: Stack, caplog: Any, scheme: str, credentials: str) -> None:
    caplog.set_level(logging.DEBUG, logger="pipedream")
    client = SyncPipedreamClient(
        pipedream_replica.DEFAULT_CLIENT_ID,
        pipedream_replica.DEFAULT_CLIENT_SECRET,
        pipedream_replica.DEFAULT_PROJECT_ID,
        "development",
        base_url=_origin(stack, scheme, "pipedream"),
        ssl_context=stack.context,
        proxy=_proxy_url(stack, CREDENTIALS[credentials]),
        max_retries=2,
    )
    with client:
        if credentials == "right":
            assert client.run_action("slack-send-message", "user-1", {"text": "through squid"})
            return
        with pytest.raises(PipedreamApiError) as caught:
            client.run_action("slack-send-message", "user-1", {"text": "never sent"})
    error = caught.value
    assert type(error) is PipedreamApiError  # not PipedreamAuthError: the client secret is not at fault
    assert error.status_code == 407
    assert str(error).startswith(
        "get OAuth token failed: the proxy 127.0.0.1:%d answered HTTP 407" % stack.squid.auth_port
    )
    assert "wrong-secret" not in str(error) and PROXY_USER not in str(error)
    assert len(_attempts(caplog, "pipedream")) == 1, _attempts(caplog, "pipedream")
