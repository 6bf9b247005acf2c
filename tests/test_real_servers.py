"""Both clients against real infrastructure: nginx (a TLS reverse proxy with a 2 s keep-alive
timeout) in front of the bundled replicas, squid (a forward proxy, with and without proxy
authentication), and a relay that gives the link a 50 ms round trip (tests/realservers.py).

Skipped where nginx or squid is not installed, unless ``REQUIRE_REAL_SERVERS=1``.
"""

from __future__ import annotations

import collections
import json
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


def _race(stack: Stack, proxy: Any) -> None:
    """16 writers, each: a write, then a write after each gap in GAPS. Every write must
    succeed, and the replicas must have run each exactly once."""
    errors: List[str] = []
    sent: List[str] = []
    lock = threading.Lock()
    start = threading.Barrier(WRITERS)

    def altan_writer(index: int) -> None:
        with stack.altan_client(proxy=proxy, direct=proxy is not False, timeout=30) as client:
            start.wait()
            for round_ in range(len(GAPS) + 1):
                marker = "altan-%d-%d-%s" % (index, round_, proxy is not False)
                with lock:
                    sent.append(marker)
                try:
                    client.execute_action(
                        "abc123", "send-email", {"to": "a@example.com", "subject": marker, "body": "race"}
                    )
                except AltanActionError as error:
                    with lock:
                        errors.append(str(error))
                if round_ < len(GAPS):
                    time.sleep(GAPS[(round_ + index) % len(GAPS)])  # the scenario: an idle gap

    def pipedream_writer(index: int) -> None:
        with stack.pipedream_client(proxy=proxy, direct=proxy is not False, timeout=30) as client:
            start.wait()
            for round_ in range(len(GAPS) + 1):
                marker = "pd-%d-%d-%s" % (index, round_, proxy is not False)
                with lock:
                    sent.append(marker)
                try:
                    client.run_action("slack-send-message", "user-1", {"text": marker})
                except PipedreamApiError as error:
                    with lock:
                        errors.append(str(error))
                if round_ < len(GAPS):
                    time.sleep(GAPS[(round_ + index) % len(GAPS)])

    threads = [
        threading.Thread(target=altan_writer if i % 2 else pipedream_writer, args=(i,), name="writer-%d" % i)
        for i in range(WRITERS)
    ]
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
