"""One measurement of one peer, in a fresh process; prints one JSON line.

    python benchmarks/worker.py '{"measure": "cpu", "peer": "altan", "origin": "https://127.0.0.1:8443", ...}'

Run by ``run.py``; a fresh process per sample keeps peers from sharing imports, caches,
garbage or the event loop, and makes the peak RSS one peer's. Time measures are paired:
the peer and its floor take turns inside one process, and the sample carries their ratio
(``paired_*``), which a shared machine's noise moves far less than either time.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peers  # noqa: E402

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Tuple


def _median(values: list) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def cpu(spec: Dict[str, Any]) -> Dict[str, Any]:
    """CPU time (this process only) and wall time per sequential GET on a reused connection.

    Paired with the floor: batches of the peer's calls alternate with batches of raw
    http.client calls in this same process, so that both meet the same machine (a shared
    machine's noise moves both), and the sample's ratio is median peer batch over median
    raw batch. ``opcodes`` counts the Python bytecode instructions of one call: the same on
    every run, unlike time."""
    peer = spec["peer"]
    call, close = peers.sync_peer(peer, spec["origin"])
    ref, ref_close = (call, lambda: None) if peer == "raw" else peers.sync_peer("raw", spec["origin"])
    warmup = spec.get("warmup", 20)
    for _ in range(warmup):
        call()
        ref()
    n, batches = spec["n"], spec.get("batches", 10)
    size = max(1, n // batches)
    times: Dict[str, list] = {"peer": [], "peer_wall": [], "ref": [], "ref_wall": []}
    for i in range(batches):
        for name, fn in (("peer", call), ("ref", ref)) if i % 2 == 0 else (("ref", ref), ("peer", call)):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for _ in range(size):
                fn()
            cpu1, wall1 = time.process_time(), time.perf_counter()
            times[name].append((cpu1 - cpu0) / size)
            times[name + "_wall"].append((wall1 - wall0) / size)
    opcodes, ref_opcodes = _opcodes(call), _opcodes(ref)
    close()
    ref_close()
    result = {
        "cpu_us": _median(times["peer"]) * 1e6,
        "wall_us": _median(times["peer_wall"]) * 1e6,
        "ref_cpu_us": _median(times["ref"]) * 1e6,
        "ref_wall_us": _median(times["ref_wall"]) * 1e6,
        "opcodes": opcodes,
        "calls": size * batches,
    }
    result["paired_cpu_us"] = result["cpu_us"] / result["ref_cpu_us"]
    result["paired_wall_us"] = result["wall_us"] / result["ref_wall_us"]
    result["paired_opcodes"] = opcodes / ref_opcodes
    return result


def _opcodes(call: Any) -> int:
    """Python bytecode instructions executed by one call (C code, such as TLS, is not counted)."""
    count = 0

    def trace(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        frame.f_trace_opcodes = True
        if event == "opcode":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(None)
    return count


def _pinger(spec: Dict[str, Any]) -> Tuple[Any, Any]:
    """(ping, close): one 64-byte round trip on an open TCP connection to the echo port."""
    import socket

    ping_sock = socket.create_connection((spec["echo_host"], spec["echo_port"]), timeout=10)
    ping_sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    message = b"x" * 64

    def ping() -> None:
        ping_sock.sendall(message)
        received = 0
        while received < len(message):
            chunk = ping_sock.recv(65536)
            if not chunk:
                raise RuntimeError("echo closed")
            received += len(chunk)

    for _ in range(2):
        ping()
    return ping, ping_sock.close


def link(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Wall time per sequential call over the delayed link: the first call of a new client
    (connection, TLS handshake, token; the import is not timed) and, once connected, the
    median call. Paired with the round
    trip: each call alternates with a 64-byte ping-pong on an open TCP connection to the
    server's echo port, so the sample's ratio compares calls and round trips of the same
    moments."""
    ping, ping_close = _pinger(spec)
    if spec["peer"] == "rtt":
        call, close = ping, lambda: None
    else:
        call, close = peers.sync_peer(spec["peer"], spec["origin"])  # imported and built before the clock starts
    started = time.perf_counter()
    call()
    first = time.perf_counter() - started
    call()
    times, rtts = [], []
    for _ in range(spec["n"]):
        t0 = time.perf_counter()
        call()
        t1 = time.perf_counter()
        ping()
        t2 = time.perf_counter()
        times.append(t1 - t0)
        rtts.append(t2 - t1)
    close()
    ping_close()
    call_ms, rtt_ms = _median(times) * 1e3, _median(rtts) * 1e3
    return {
        "call_ms": call_ms,
        "rtt_ms": rtt_ms,
        "paired_call_ms": call_ms / rtt_ms,
        "mean_ms": sum(times) / len(times) * 1e3,
        "max_ms": max(times) * 1e3,
        "first_ms": None if spec["peer"] == "rtt" else first * 1e3,
    }


def idlewrite(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Wall time of a write (``execute_action``, ``run_action``) over the delayed link, on a
    warm kept-alive connection and after an idle gap longer than the client's write idle
    limit, when the client opens a new connection rather than risk the server's idle close
    (TCP and TLS handshakes). Each write is followed by a TCP round trip on the echo port;
    the sample's figures are in those round trips."""
    ping, ping_close = _pinger(spec)
    write, close, idle_write = peers.write_peer(spec["peer"], spec["origin"])
    write()  # connection, TLS, token for Pipedream
    write()
    warm, idle, rtts = [], [], []
    for _ in range(spec["n"]):
        t0 = time.perf_counter()
        write()
        t1 = time.perf_counter()
        ping()
        rtts.append(time.perf_counter() - t1)
        warm.append(t1 - t0)
    for _ in range(spec["idle"]):
        time.sleep(spec["gap"])  # the scenario: a connection idle past the limit
        t0 = time.perf_counter()
        idle_write()
        t1 = time.perf_counter()
        ping()
        rtts.append(time.perf_counter() - t1)
        idle.append(t1 - t0)
    close()
    ping_close()
    warm_ms, idle_ms, rtt_ms = _median(warm) * 1e3, _median(idle) * 1e3, _median(rtts) * 1e3
    return {
        "warm_ms": warm_ms,
        "idle_ms": idle_ms,
        "rtt_ms": rtt_ms,
        "warm_rtts": warm_ms / rtt_ms,
        "idle_extra_rtts": (idle_ms - warm_ms) / rtt_ms,
    }


def fanout(spec: Dict[str, Any]) -> Dict[str, Any]:
    """``calls`` calls, ``in_flight`` at a time: once from a new client (connections and
    handshakes included: cold), then again on the same client (connections kept alive:
    warm). Paired with the floor: ``repeats`` times, the raw thread pool and the peer take
    turns in this same process, each with a new client."""
    import asyncio

    calls, in_flight, peer = spec["calls"], spec["in_flight"], spec["peer"]

    def raw_threads() -> Tuple[float, float]:
        t0 = time.perf_counter()
        pool = peers.RawThreadPool(spec["origin"], in_flight)
        pool.run(calls)
        t1 = time.perf_counter()
        pool.run(calls)
        t2 = time.perf_counter()
        pool.close()
        return t1 - t0, t2 - t1

    async def with_peer() -> Tuple[float, float]:
        semaphore = asyncio.Semaphore(in_flight)

        async def one() -> Any:
            async with semaphore:
                return await call()

        t0 = time.perf_counter()
        call, close = peers.async_peer(peer, spec["origin"])
        await asyncio.gather(*[one() for _ in range(calls)])
        t1 = time.perf_counter()
        await asyncio.gather(*[one() for _ in range(calls)])
        t2 = time.perf_counter()
        await close()
        return t1 - t0, t2 - t1

    own: list = []
    ref: list = []
    for i in range(spec.get("repeats", 3)):
        order = ("peer", "ref") if i % 2 == 0 else ("ref", "peer")
        for who in order:
            if who == "ref" or peer == "raw-threads":
                (ref if who == "ref" else own).append(raw_threads())
            else:
                own.append(asyncio.run(with_peer()))
    result = {
        "cold_ms": _median([c for c, _ in own]) * 1e3,
        "warm_ms": _median([w for _, w in own]) * 1e3,
        "ref_cold_ms": _median([c for c, _ in ref]) * 1e3,
        "ref_warm_ms": _median([w for _, w in ref]) * 1e3,
    }
    result["paired_cold_ms"] = result["cold_ms"] / result["ref_cold_ms"]
    result["paired_warm_ms"] = result["warm_ms"] / result["ref_warm_ms"]
    return result


def _peak_rss_mb() -> float:
    """This process's peak resident set size. VmHWM, not ru_maxrss: after fork and exec
    ru_maxrss also counts the parent's pages from before the exec."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def rss(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Peak resident set size of this process after ``n`` sequential calls."""
    before = _peak_rss_mb()
    n = spec["n"]
    if spec["peer"].endswith("-async"):
        import asyncio

        async def main() -> None:
            call, close = peers.async_peer(spec["peer"], spec["origin"])
            for _ in range(n):
                await call()
            await close()

        asyncio.run(main())
    else:
        call, close = peers.sync_peer(spec["peer"], spec["origin"])
        for _ in range(n):
            call()
        close()
    return {"rss_mb": _peak_rss_mb(), "harness_mb": before}


def token(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Token requests the server saw: for ``concurrent`` first calls at once, then for
    ``steady`` calls after them."""
    import http.client
    import ssl

    host, port = spec["origin"].split("://", 1)[1].rsplit(":", 1)
    context = ssl.create_default_context()

    def stats(path: str) -> Dict[str, Any]:
        conn = http.client.HTTPSConnection(host, int(port), context=context)
        conn.request("POST" if path == "/__reset" else "GET", path)
        data = json.loads(conn.getresponse().read())
        conn.close()
        return data

    concurrent, steady = spec["concurrent"], spec["steady"]
    stats("/__reset")
    if spec["peer"].endswith("-async"):
        import asyncio

        async def main() -> int:
            call, close = peers.async_peer(spec["peer"], spec["origin"])
            await asyncio.gather(*[call() for _ in range(concurrent)])
            first = stats("/__stats")["token_requests"]
            for _ in range(steady):
                await call()
            await close()
            return first

        first = asyncio.run(main())
    else:
        import threading

        call, close = peers.sync_peer(spec["peer"], spec["origin"])
        barrier = threading.Barrier(concurrent)
        errors: list = []

        def run() -> None:
            try:
                barrier.wait()
                call()
            except Exception as exc:  # reported, not swallowed
                errors.append(repr(exc))

        threads = [threading.Thread(target=run) for _ in range(concurrent)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise RuntimeError(errors[0])
        first = stats("/__stats")["token_requests"]
        for _ in range(steady):
            call()
        close()
    total = stats("/__stats")["token_requests"]
    return {"first_calls_tokens": first, "steady_tokens": total - first}


def _floor_of(peer: str) -> str:
    return "raw-async" if peer.endswith("-async") else "raw-threads"


def _fan_out_once(peer: str, origin: str, threads: int, calls: int) -> Tuple[float, float]:
    """(wall s, CPU s) of ``calls`` calls launched at once on a new client (or pool) whose
    connections were opened by a first fan-out of the same size (not timed)."""
    fan_out, close = peers.saturation_peer(peer, origin, threads)
    if peer.endswith("-async"):
        import asyncio

        async def main() -> Tuple[float, float]:
            await fan_out(calls)
            c0, t0 = time.process_time(), time.perf_counter()
            await fan_out(calls)
            c1, t1 = time.process_time(), time.perf_counter()
            await close()
            return t1 - t0, c1 - c0

        return asyncio.run(main())
    fan_out(calls)
    c0, t0 = time.process_time(), time.perf_counter()
    fan_out(calls)
    c1, t1 = time.process_time(), time.perf_counter()
    close()
    return t1 - t0, c1 - c0


def saturation(spec: Dict[str, Any]) -> Dict[str, Any]:
    """``calls`` calls all in flight at once on ``threads`` threads, connections warm: wall
    time and this process's CPU time per call. Paired with the floor of the same kind and
    thread count (raw http.client, one kept-alive connection per thread: through
    ``loop.run_in_executor`` for an async client, a plain thread pool for a sync client
    shared by the threads), taking turns ``repeats`` times in this process."""
    peer, calls, threads = spec["peer"], spec["calls"], spec["threads"]
    floor = _floor_of(peer)
    own: list = []
    ref: list = []
    for i in range(spec.get("repeats", 3)):
        for who in ("peer", "ref") if i % 2 == 0 else ("ref", "peer"):
            if who == "ref" or peer == floor:
                (ref if who == "ref" else own).append(_fan_out_once(floor, spec["origin"], threads, calls))
            else:
                own.append(_fan_out_once(peer, spec["origin"], threads, calls))
    result = {
        "warm_ms": _median([w for w, _ in own]) * 1e3,
        "cpu_us": _median([c for _, c in own]) / calls * 1e6,
        "ref_warm_ms": _median([w for w, _ in ref]) * 1e3,
        "ref_cpu_us": _median([c for _, c in ref]) / calls * 1e6,
    }
    result["paired_warm_ms"] = result["warm_ms"] / result["ref_warm_ms"]
    result["paired_cpu_us"] = result["cpu_us"] / result["ref_cpu_us"]
    return result


def inflight_memory(spec: Dict[str, Any]) -> Dict[str, Any]:
    """Peak RSS of a process whose one client has ``sizes`` calls in flight at once (each
    size in turn, smallest first: the peak only grows); ``base_mb``: the peak once the
    client is built and its connections open (a first fan-out of ``threads`` calls). Each
    answer is dropped as it arrives, as a program that handles it would: what grows with
    the calls is what the calls in flight hold."""
    peer, threads, sizes = spec["peer"], spec["threads"], sorted(spec["sizes"])
    fan_out, close = peers.saturation_peer(peer, spec["origin"], threads, keep_answers=False)
    peaks: Dict[str, float] = {}
    if peer.endswith("-async"):
        import asyncio

        async def main() -> float:
            await fan_out(threads)
            base = _peak_rss_mb()
            for size in sizes:
                await fan_out(size)
                peaks[str(size)] = _peak_rss_mb()
            await close()
            return base

        base = asyncio.run(main())
    else:
        fan_out(threads)
        base = _peak_rss_mb()
        for size in sizes:
            fan_out(size)
            peaks[str(size)] = _peak_rss_mb()
        close()
    small, large = str(sizes[0]), str(sizes[-1])
    per_1000 = (peaks[large] - peaks[small]) / (sizes[-1] - sizes[0]) * 1000 if len(sizes) > 1 else None
    return {"base_mb": base, "peak_mb": peaks[large], "small_mb": peaks[small], "mb_per_1000_calls": per_1000}


def coldcall(spec: Dict[str, Any]) -> Dict[str, Any]:
    """A Lambda's first invocation, end to end: a fresh interpreter imports the module, builds
    a client and makes one call over the link (TCP, TLS, for Pipedream the token, the
    call), timed inside that interpreter from before the first import to the decoded
    answer. Paired with its floor, measured in this same sample: a fresh interpreter's
    ``import http.client, json, ssl`` plus the call's unavoidable round trips (3, or 4 with
    a token), each the TCP round trip measured on the echo port."""
    import subprocess

    ping, ping_close = _pinger(spec)
    rtts = []
    for _ in range(5):
        t0 = time.perf_counter()
        ping()
        rtts.append(time.perf_counter() - t0)
    ping_close()
    rtt_ms = _median(rtts) * 1e3

    def fresh(name: str) -> Dict[str, Any]:
        code = peers.cold_call_code(name, spec["origin"])
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            cwd=spec["cwd"],
            timeout=120,
            env=dict(os.environ, SSL_CERT_FILE=spec["ca_file"], REQUESTS_CA_BUNDLE=spec["ca_file"]),
        )
        if done.returncode != 0:
            raise RuntimeError("cold call of %s failed:\n%s" % (name, done.stderr[-3000:]))
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    peer = spec["peer"]
    stdlib = fresh("stdlib")
    own = fresh(peer)
    round_trips = peers.COLD_CALL_ROUND_TRIPS[peer]
    floor_ms = stdlib["ms"] + round_trips * rtt_ms
    return {
        "ms": own["ms"],
        "cpu_ms": own["cpu_ms"],
        "floor_ms": floor_ms,
        "import_ms": stdlib["ms"],
        "rtt_ms": rtt_ms,
        "round_trips": round_trips,
        "rtts": own["ms"] / rtt_ms,
        "paired_ms": own["ms"] / floor_ms,
        "over_floor_ms": own["ms"] - floor_ms,
    }


MEASURES = {
    "cpu": cpu,
    "link": link,
    "idlewrite": idlewrite,
    "fanout": fanout,
    "rss": rss,
    "token": token,
    "saturation": saturation,
    "memory": inflight_memory,
    "coldcall": coldcall,
}


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec["peer"] in peers.OURS:
        peers.use_clients_dir(spec["clients_dir"])
    result = MEASURES[spec["measure"]](spec)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
