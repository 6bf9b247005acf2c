"""Shared pytest fixtures."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The modules (the repository root: `pytest`, unlike `python -m pytest`, does not put it on
# sys.path), the replicas of both APIs (replicas/), the demo (examples/demo.py) and the test
# helpers (tests/), importable by their file names.
for _path in (ROOT / "tests", ROOT / "examples", ROOT / "replicas", ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


# ---- local test servers (tests/servers.py): begin ------------------------------------------
# Real HTTP/1.1 servers on 127.0.0.1, plain and TLS (a trustme test CA), stopped at teardown.

import ssl as _ssl  # noqa: E402

import pytest  # noqa: E402

from servers import ConnectProxy, Server  # noqa: E402


@pytest.fixture(scope="session")
def tls_ca():
    """A throw-away certificate authority (trustme)."""
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_server_context(tls_ca):
    """Server-side SSL context with a certificate for 127.0.0.1, ::1 and localhost."""
    context = _ssl.create_default_context(_ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("127.0.0.1", "localhost", "::1").configure_cert(context)
    return context


@pytest.fixture(scope="session")
def ca_bundle(tls_ca, tmp_path_factory):
    """Path of the test CA's PEM file, for ``ca_bundle=``."""
    path = tmp_path_factory.mktemp("tls") / "test-ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def client_ssl_context(tls_ca):
    """A fresh client SSL context that trusts the test CA, for ``ssl_context=``."""
    context = _ssl.create_default_context()
    tls_ca.configure_trust(context)
    return context


@pytest.fixture
def make_server(tls_server_context):
    """Factory: ``make_server(tls=False, idle_timeout=None, sock=None, start=True)``; every
    server made is stopped at teardown."""
    made = []

    def make(tls=False, idle_timeout=None, sock=None, start=True):
        server = Server(tls_server_context if tls else None, idle_timeout=idle_timeout, sock=sock)
        made.append(server)
        return server.start() if start else server

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def http_server(make_server):
    """A plain HTTP/1.1 keep-alive server on 127.0.0.1 (tests/servers.py: Server)."""
    return make_server()


@pytest.fixture
def https_server(make_server):
    """A TLS HTTP/1.1 keep-alive server on 127.0.0.1 whose CA is ``ca_bundle``."""
    return make_server(tls=True)


@pytest.fixture
def connect_proxy():
    """A forward proxy on 127.0.0.1 (CONNECT tunnels and absolute-form requests)."""
    proxy = ConnectProxy().start()
    yield proxy
    proxy.stop()


# ---- local test servers: end ----------------------------------------------------------------


# ---- Altan replica and cassettes (replicas/altan_replica.py, tests/altan_vcr.py): begin -----
# A session-wide replica of the Altan API on 127.0.0.1 (reset before each test that uses it),
# and the vcrpy matcher the Altan cassette tests match on.

import altan_replica as _altan_replica  # noqa: E402
import altan_vcr as _altan_vcr  # noqa: E402


def pytest_recording_configure(config, vcr):
    """pytest-recording hook: register the ``altan_headers`` matcher (tests/altan_vcr.py)."""
    _altan_vcr.register_matchers(vcr)


@pytest.fixture(scope="session")
def _altan_replica_session():
    server, _ = _altan_replica.start(api_key=_altan_vcr.TEST_API_KEY)
    yield server
    _altan_replica.stop(server)


@pytest.fixture
def altan_replica(_altan_replica_session):
    """The Altan replica (replicas/altan_replica.py), reset: no requests recorded, request ids
    from req_000001. ``.base_url``; the accepted key is ``altan_vcr.TEST_API_KEY``."""
    _altan_replica_session.reset()
    return _altan_replica_session


# ---- Altan replica and cassettes: end -------------------------------------------------------


# ---- Pipedream replica and cassettes (replicas/pipedream_replica.py, tests/pipedream_vcr.py): begin
# A fresh replica of the Pipedream Connect API per test (tests change its data), the vcrpy
# matcher the Pipedream cassette tests match on, and their thread-safe cassette.

import pipedream_replica as _pipedream_replica  # noqa: E402
import pipedream_vcr as _pipedream_vcr  # noqa: E402


@pytest.hookimpl(specname="pytest_recording_configure")
def pytest_recording_configure_pipedream(config, vcr):
    """pytest-recording hook (a second implementation, next to the Altan one): register the
    ``pipedream_headers`` matcher (tests/pipedream_vcr.py)."""
    _pipedream_vcr.register_matchers(vcr)


@pytest.fixture
def pipedream_replica():
    """A fresh Pipedream Connect replica on 127.0.0.1 (replicas/pipedream_replica.py), stopped
    at teardown: client ``demo-client`` / ``demo-secret``, project ``proj_demo``. ``.base_url``,
    ``.workflow_url(path)``, ``.requests``, ``.counts``, ``.token_requests``."""
    server, _ = _pipedream_replica.start()
    yield server
    _pipedream_replica.stop(server)


@pytest.fixture
def cassette(vcr):
    """pytest-recording's active cassette made safe for worker threads
    (tests/vcr_safety.py: ``thread_safe_cassette``), for the cassette tests of both APIs."""
    from vcr_safety import thread_safe_cassette

    assert vcr is not None, "mark the test with @pytest.mark.vcr"
    assert vcr.write_protected, "cassettes must only be replayed here"
    with thread_safe_cassette(vcr):
        yield vcr


# ---- Pipedream replica and cassettes: end ---------------------------------------------------


@pytest.fixture
def make_api():
    """Factory: ``make_api(flavour, server, warm=False, **options)``, an ``Api``
    (tests/reliability.py: one of the four public clients, sync or async, behind one interface)
    closed at teardown; ``warm=True`` makes one read first, so that a connection is pooled (and
    a Pipedream token cached)."""
    from reliability import Api

    made = []

    def make(flavour, server, warm=False, **options):
        api = Api(flavour, server, **options)
        made.append(api)
        if warm:
            api.warm()
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def clean_client_environment(monkeypatch):
    """No proxy and no client setting from the environment of whoever runs the tests: the
    clients read ``*_PROXY``, ``NO_PROXY``, ``PIPEDREAM_*`` and ``ALTAN_*`` when constructed."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    for name in (
        "CLIENT_ID",
        "CLIENT_SECRET",
        "PROJECT_ID",
        "PROJECT_ENVIRONMENT",
        "BASE_URL",
        "ACCESS_TOKEN",
        "PRIVATE_KEY",
        "KEY_ID",
        "WORKFLOW_DOMAIN",
    ):
        monkeypatch.delenv("PIPEDREAM_" + name, raising=False)
    monkeypatch.delenv("ALTAN_API_KEY", raising=False)
    monkeypatch.delenv("ALTAN_BASE_URL", raising=False)
