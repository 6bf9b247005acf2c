"""Make a vcrpy cassette safe for clients that send requests from worker threads.

vcrpy is not thread-safe (kevin1024/vcrpy issues #212, #295, #849). With the async clients of
this project, whose requests run in a thread pool, three things go wrong:

1. **Requests escape the cassette.** Whenever vcrpy builds a connection (on every
   ``VCRConnection.__init__``, replaying included) or sends a recorded request, it opens a
   ``vcr.patch.force_reset()`` window: for that moment ``http.client.HTTPConnection`` and
   ``HTTPSConnection`` are the real classes again, *process-wide*. Another thread that creates
   a connection in that window gets a real one: its request goes to the network (or to a
   loopback server) instead of the cassette, and since the transport pools connections, so do
   that thread's later requests.
2. **Requests are lost or replayed twice.** ``VCRConnection.getresponse`` checks
   ``cassette.can_play_response_for`` and then calls ``cassette.play_response``, and
   ``play_response`` does a read-test-increment on ``play_counts``; two threads can both pick
   the same interaction (one identical request then finds nothing left), and a recording
   cassette can lose an ``append``.
3. **Pooled connections outlive their context.** A connection made before the cassette was
   entered is a real ``http.client`` connection; reused from the pool inside the cassette, it
   bypasses vcrpy.

``thread_safe_cassette(cassette)`` fixes 1 and 2 with one re-entrant lock taken by
``force_reset`` windows, by ``VCRConnection.getresponse`` (check-and-play as one step, and the
whole record path), by the cassette's ``play_response`` / ``append`` /
``can_play_response_for``, and by the clients' ``_Transport._checkout`` (the only place where
they look up ``http.client.HTTP(S)Connection`` and build a connection). So no thread can look
up the connection class while another thread's window is open. It turns 3 into a loud error:
while the guard is active, ``_checkout`` may only hand out vcrpy connections; anything else
raises ``CassetteBypassError`` *before* a byte is sent.

Only the connection set-up and vcrpy's bookkeeping are serialised; the clients' calls still
overlap (``asyncio.gather`` really runs them in several threads).

Importing this module also gives vcrpy's replay objects what a real connection and response
have and the clients' transport reads (``adapt_replays``), so that the clients hold no code
for a test tool.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import sys
import threading
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import vcr.patch
import vcr.stubs

__all__ = ["CassetteBypassError", "ContentionLock", "adapt_replays", "thread_safe_cassette", "transports"]

# A socket nothing is ever written to: what a replayed connection's descriptor is (see
# adapt_replays). Opened once, kept for the life of the process.
_QUIET: List[socket.socket] = []


def adapt_replays() -> None:
    """Make vcrpy's replay objects look, to the clients' transport, like the real ones they
    stand for (idempotent; called on import):

    - ``VCRHTTPResponse``: ``length`` is the number of body bytes left to read (an int, as
      http.client keeps it; vcrpy stores the Content-Length header's text), ``chunk_left``
      None (vcrpy drops Transfer-Encoding: the body is whole), ``will_close`` False and
      ``surplus`` False (the recorded exchange ends with its body: the connection may be
      pooled and reused, as it was when recording).
    - ``VCRConnection``: a socket from ``connect()`` on, as a real connection has (vcrpy
      defers connecting until the request is known), so the transport can set its timeout.
    - ``VCRFakeSocket``: a descriptor that is never readable (vcrpy answers 0, standard
      input), so that the pool's check for a connection the server dropped finds it alive.
    """
    response = vcr.stubs.VCRHTTPResponse
    if "surplus" in vars(response):
        return
    response.length = property(  # type: ignore[assignment]
        lambda self: self.length_remaining, lambda self, value: None, doc="body bytes left to read"
    )
    response.chunk_left = None
    response.will_close = False
    response.surplus = False

    original_connect = vcr.stubs.VCRConnection.connect

    @functools.wraps(original_connect)
    def connect(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original_connect(self, *args, **kwargs)
        if self.sock is None:
            self._sock = vcr.stubs.VCRFakeSocket()
        return result

    vcr.stubs.VCRConnection.connect = connect  # type: ignore[method-assign]

    def fileno(self: Any) -> int:
        if not _QUIET:
            _QUIET.extend(socket.socketpair())
        return _QUIET[0].fileno()

    vcr.stubs.VCRFakeSocket.fileno = fileno  # type: ignore[method-assign]


class CassetteBypassError(AssertionError):
    """A request was about to use a connection that vcrpy does not control."""


class ContentionLock:
    """A re-entrant lock that records when a thread had to wait for it (``contended`` is set
    just before the waiting thread blocks), so tests can interleave threads deterministically."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.contended = threading.Event()
        self.waits = 0

    def acquire(self) -> None:
        if not self._lock.acquire(blocking=False):
            self.waits += 1
            self.contended.set()
            self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> "ContentionLock":
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def transports() -> List[type]:
    """The ``_Transport`` classes of the client modules loaded so far (altan, pipedream)."""
    found = []
    for name in ("altan", "pipedream"):
        module = sys.modules.get(name)
        transport = getattr(module, "_Transport", None) if module is not None else None
        if isinstance(transport, type) and hasattr(transport, "_checkout"):
            found.append(transport)
    return found


def _locked(lock: ContentionLock, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return function(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def thread_safe_cassette(
    cassette: Any, transport_classes: Optional[Sequence[type]] = None, lock: Optional[ContentionLock] = None
) -> Iterator[ContentionLock]:
    """Use inside an entered cassette (``with vcr.use_cassette(...) as cassette:`` or
    pytest-recording's ``vcr`` fixture); construct the clients inside, and close them before
    leaving. Yields the lock (tests use ``lock.contended``)."""
    lock = lock or ContentionLock()
    undo: List[Tuple[Any, str, Any, bool]] = []

    def patch(target: Any, name: str, value: Any) -> None:
        had = name in vars(target)
        undo.append((target, name, vars(target).get(name), had))
        setattr(target, name, value)

    original_force_reset = vcr.patch.force_reset

    @contextlib.contextmanager
    def force_reset() -> Iterator[None]:
        with lock, original_force_reset():
            yield

    patch(vcr.patch, "force_reset", force_reset)  # vcr.stubs imports it at call time
    patch(vcr.stubs.VCRConnection, "getresponse", _locked(lock, vcr.stubs.VCRConnection.getresponse))
    for name in ("play_response", "append", "can_play_response_for"):
        patch(cassette, name, _locked(lock, getattr(cassette, name)))

    for transport in transport_classes if transport_classes is not None else transports():
        original_checkout = getattr(transport, "_checkout")  # noqa: B009 - a class attribute, typed as Any

        def checkout(
            self: Any, origin: Any, *args: Any, _original: Callable[..., Any] = original_checkout, **kwargs: Any
        ) -> Any:
            with lock:
                conn, reused = _original(self, origin, *args, **kwargs)
            if not isinstance(conn, vcr.stubs.VCRConnection):
                conn.close()
                raise CassetteBypassError(
                    "a request to %s://%s:%s would bypass the cassette on a %s connection (%s); "
                    "construct the client inside the cassette"
                    % (
                        origin[0],
                        origin[1],
                        origin[2],
                        type(conn).__name__,
                        "reused from before the cassette" if reused else "made while vcrpy's patch was lifted",
                    )
                )
            return conn, reused

        patch(transport, "_checkout", checkout)

    try:
        yield lock
    finally:
        for target, name, value, had in reversed(undo):
            if had:
                setattr(target, name, value)
            else:
                delattr(target, name)


adapt_replays()
