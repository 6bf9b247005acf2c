"""Benchmarks of the two clients against the peers a Lambda author would pick instead:
the official Pipedream SDK (httpx + pydantic), requests.Session, httpx.Client and
httpx.AsyncClient, urllib.request.urlopen, and raw http.client as the floor.

    python -m pip install -r benchmarks/requirements.txt   # the peers, for benchmarking only
    python benchmarks/run.py                                # everything, 5 to 7 minutes
    python benchmarks/run.py --quick                        # smoke run, about 30 s
    python benchmarks/run.py --only cold,cpu                # some measures
    python benchmarks/run.py --clients DIR                  # altan.py and pipedream.py from DIR

Measures (issue 5); every sample is a fresh process, every figure a median of samples:

  cold    import + construct a client ready to send, timed inside a fresh interpreter (so
          the bare interpreter's start-up is not in it), in ms; reference
          ``import http.client, json, ssl``. The modules are copied to a directory with
          their .pyc, as a deployment package has them; "(no .pyc)" rows show a vendored
          copy that Python must compile on every cold start.
  cpu     client CPU time (time.process_time) per sequential GET on a kept-alive HTTPS
          connection to a local server in another process, 2,000 calls, in us; reference
          raw http.client with one reused connection. Plus Python opcodes per call.
  link    wall time per sequential call over a 20 ms round-trip link between two network
          namespaces this script creates and deletes (tc netem where the kernel has it,
          else a userspace delay forwarder, delaylink.py), once connected, in ms;
          reference one TCP round trip on the same link.
  idlewrite  on the same link, a write (execute_action, run_action) on a warm connection
          and after 1.3 s idle (past the default write_idle_limit: a new connection, TCP and
          TLS handshakes), in round trips: warm, and what the idle gap adds.
  fanout  200 async calls, 50 in flight, the server taking 20 ms each, in ms; reference 50
          threads each with its own kept-alive http.client connection. warm: connections
          already open (the budget); cold: from constructing the client (50 handshakes).
  rss     peak RSS (VmHWM) of a process making 1,000 calls, in MB; reference the SDK.
  token   OAuth token requests the server saw: concurrent first calls, then steady state.
  saturation  1,000 and 5,000 calls all launched at once, the server taking 20 ms each,
          connections warm, in ms and client CPU us per call; the async clients (64
          workers, their default) against the async floor, raw http.client on as many
          threads through loop.run_in_executor; the sync clients shared by 64 threads
          against the raw 64-thread pool; and the async clients with other max_workers.
  inflight  peak RSS of a process whose client has 1,000, then 5,000 calls in flight, in MB,
          and the MB each 1,000 more calls in flight add.
  coldcall  a Lambda's first invocation over the 20 ms RTT link: a fresh process imports
          the module, builds a client and makes its first call (TCP, TLS, for Pipedream the
          token, the call), in ms; floor: a fresh ``import http.client, json, ssl`` plus
          3 round trips (4 with a token).

cpu, link and fanout are paired: in each sample process the peer and its floor take turns
(batch for batch, call for call), and the sample's ratio is theirs; the table's ratio is
the median of those. A shared machine's noise moves both sides of a pair together, so the
ratios are steadier than the times. With two or more CPUs, clients run on one and the
servers on another (--no-pin to turn off).

Output: a table on stdout, the same as JSON in ``benchmarks/results/latest.json``, and a
full run also writes ``benchmarks/RESULTS.md``. Nothing is installed: missing peers are
named with the command that installs them (``--ours-only`` runs without them). No timing
is asserted anywhere; the budget lines compare this run's ratios with the issue's numbers,
for a person to read.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import peers  # noqa: E402
from delaylink import SERVER_ADDRESS, Link  # noqa: E402

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

MEASURES = ("cold", "cpu", "link", "idlewrite", "fanout", "rss", "token", "saturation", "inflight", "coldcall")
THIRD_PARTY = ("requests", "httpx", "httpx-async", "sdk", "sdk-async")  # left out by --ours-only
ONE_WAY_MS = 10.0  # 20 ms round trip
FANOUT_DELAY_MS = 20.0
TOKEN_DELAY_MS = 50.0  # long enough that concurrent first calls really overlap the token request
SUBPROCESS_TIMEOUT = 300

# Budgets of the issue: (measure, metric, peers, comparison, limit, against).
BUDGETS = [
    ("cold", "cpu_ms", ("altan", "altan-async", "pipedream", "pipedream-async"), "<=", 1.15, "stdlib"),
    ("cpu", "cpu_us", ("altan", "pipedream"), "<=", 1.2, "raw"),
    ("link", "call_ms", ("altan", "pipedream"), "<=", 1.05, "rtt"),
    ("fanout", "warm_ms", ("altan-async", "pipedream-async"), "<=", 1.2, "raw-threads"),
    ("rss", "rss_mb", ("altan", "pipedream"), "<=", 0.6, "sdk"),
]
# ...and "at least 5x faster than httpx.AsyncClient": httpx-async time / ours >= 5.
SPEEDUP_BUDGETS = [("fanout", "warm_ms", ("altan-async", "pipedream-async"), 5.0, "httpx-async")]
# Printed after the budgets, marked "info", for context: fan-out from a client with no open
# connection (50 TLS handshakes dominate it), and the async client's RSS against the async SDK.
INFO = [
    ("fanout", "cold_ms", ("altan-async", "pipedream-async"), "<=", 1.2, "raw-threads"),
    ("fanout", "cold_ms", ("altan-async", "pipedream-async"), ">=", 5.0, "httpx-async"),
    ("rss", "rss_mb", ("pipedream-async",), "<=", 0.6, "sdk-async"),
]

# Sample counts: (full, quick).
ROUNDS = {
    "cold": (25, 3),
    "cpu": (5, 1),
    "link": (3, 1),
    "idlewrite": (3, 1),
    "fanout": (4, 1),
    "rss": (3, 1),
    "saturation": (3, 1),
    "inflight": (3, 1),
    "coldcall": (7, 1),
}
CPU_CALLS = {"default": (2000, 200), "urllib": (100, 20)}
CPU_BATCHES = (20, 4)
FANOUT_REPEATS = (3, 1)
LINK_CALLS = {"default": (40, 10), "urllib": (8, 3)}
IDLE_WRITES = {"warm": (20, 5), "idle": (7, 2)}
IDLE_GAP = 1.3  # seconds: past the clients' default write_idle_limit (1 s)
RSS_CALLS = (1000, 100)
TOKEN_CALLS = {"concurrent": (50, 20), "steady": (1000, 100)}
SATURATION_CALLS = ((1000, 5000), (100, 300))  # all in flight at once
SATURATION_THREADS = 64  # the async clients' default max_workers
SATURATION_REPEATS = (2, 1)
# max_workers for the async clients at 1,000 calls in flight (the default is SATURATION_THREADS).
WORKER_SWEEP = ((16, 128, 256), (16,))


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _median(values: List[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# Set-up: peers, certificates, CPU placement, servers
# ---------------------------------------------------------------------------------------------


def check_peers(clients_dir: str, ours_only: bool) -> List[str]:
    """What is missing, as messages; empty when every peer is importable."""
    import importlib.util

    problems = []
    for name in ("altan.py", "pipedream.py"):
        if not os.path.exists(os.path.join(clients_dir, name)):
            problems.append("%s not found in %s" % (name, clients_dir))
    if ours_only:
        return problems
    for module in ("requests", "httpx"):
        if importlib.util.find_spec(module) is None:
            problems.append("%s is not installed" % module)
    spec = importlib.util.find_spec("pipedream")
    if spec is None or spec.origin is None or os.path.dirname(os.path.abspath(spec.origin)) == clients_dir:
        problems.append("the official pipedream SDK is not installed")
    else:
        from importlib.metadata import version

        sdk_version = version("pipedream")
        if tuple(int(p) for p in sdk_version.split(".")[:2] if p.isdigit()) < (2, 3):
            problems.append("the official pipedream SDK is %s, the benchmark needs 2.3.0 or newer" % sdk_version)
    return problems


def make_certificates(directory: str) -> Tuple[str, str, str]:
    """(ca, cert, key) files: a test CA and a server certificate for loopback and the link."""
    ca_path, cert_path, key_path = (os.path.join(directory, n) for n in ("ca.pem", "cert.pem", "key.pem"))
    try:
        import trustme
    except ImportError:
        trustme = None
    if trustme is not None:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost", SERVER_ADDRESS)
        ca.cert_pem.write_to_path(ca_path)
        cert.private_key_pem.write_to_path(key_path)
        cert.cert_chain_pems[0].write_to_path(cert_path)
        for pem in cert.cert_chain_pems[1:]:
            pem.write_to_path(cert_path, append=True)
        return ca_path, cert_path, key_path
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SystemExit("need trustme (pip install trustme) or the openssl command to make test certificates")
    ca_key = os.path.join(directory, "ca.key")
    run = lambda *args: subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=benchmark test CA",
        "-keyout",
        ca_key,
        "-out",
        ca_path,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-addext",
        "subjectKeyIdentifier=hash",
    )
    csr = os.path.join(directory, "server.csr")
    run(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        key_path,
        "-out",
        csr,
    )
    ext = os.path.join(directory, "san.ext")
    with open(ext, "w") as f:
        f.write(
            "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:%s\nbasicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n" % SERVER_ADDRESS
        )
    run(
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        ca_path,
        "-CAkey",
        ca_key,
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        ext,
        "-out",
        cert_path,
    )
    return ca_path, cert_path, key_path


class Placement:
    """With two or more CPUs, clients run on one and servers on another, so that a client's
    CPU time and wall time are not disturbed by the server's work (and the client has one
    vCPU, as a Lambda function of up to 1,769 MB does)."""

    def __init__(self, enabled: bool) -> None:
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.enabled = enabled and len(cpus) >= 2
        self.client = {cpus[0]} if self.enabled else None
        self.server = set(cpus[1:]) if self.enabled else None

    def preexec(self, role: str):  # type: ignore[no-untyped-def]
        cpus = self.client if role == "client" else self.server
        if not cpus:
            return None
        return lambda: os.sched_setaffinity(0, cpus)

    def describe(self) -> str:
        if not self.enabled:
            return "not pinned"
        return "clients on CPU %s, servers on CPU %s" % (
            ",".join(map(str, sorted(self.client or ()))),
            ",".join(map(str, sorted(self.server or ()))),
        )


class Process:
    """A helper process (server, forwarder) that prints ``READY ...`` and stops when its
    stdin closes; ``stop()`` closes stdin, then kills it if it does not exit."""

    def __init__(self, argv: List[str], placement: Placement, env: Dict[str, str]) -> None:
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=placement.preexec("server"),
        )
        line = self.popen.stdout.readline() if self.popen.stdout else ""
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError("%s did not start: %r" % (" ".join(argv[-6:]), line))
        self.ports = [int(p) for p in line.split()[1:]]

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                if self.popen.stdin:
                    self.popen.stdin.close()
                self.popen.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.popen.kill()
                self.popen.wait(timeout=5)


def server_argv(
    certs: Tuple[str, str, str],
    host: str = "127.0.0.1",
    delay_ms: float = 0.0,
    token_delay_ms: float = 0.0,
    echo: bool = False,
) -> List[str]:
    _, cert, key = certs
    argv = [
        sys.executable,
        os.path.join(HERE, "server.py"),
        "--cert",
        cert,
        "--key",
        key,
        "--host",
        host,
        "--delay-ms",
        str(delay_ms),
        "--token-delay-ms",
        str(token_delay_ms),
    ]
    return argv + (["--echo"] if echo else [])


# ---------------------------------------------------------------------------------------------
# Running samples
# ---------------------------------------------------------------------------------------------


class Runner:
    def __init__(self, args: argparse.Namespace, placement: Placement, ca: str, clients_dir: str) -> None:
        self.args = args
        self.placement = placement
        self.clients_dir = clients_dir
        self.source_only = clients_dir
        self.env = dict(os.environ)
        for name in list(self.env):
            if name.startswith("PIPEDREAM_") or name in (
                "PYTHONPATH",
                "HTTPS_PROXY",
                "https_proxy",
                "ALL_PROXY",
                "all_proxy",
                "HTTP_PROXY",
                "http_proxy",
                "SSL_CERT_DIR",
            ):
                del self.env[name]
        self.env["NO_PROXY"] = self.env["no_proxy"] = "*"
        # Every peer trusts the test CA the same way, through its usual environment variable.
        self.env["SSL_CERT_FILE"] = ca
        self.env["REQUESTS_CA_BUNDLE"] = ca
        self.env.pop("CURL_CA_BUNDLE", None)
        # Imports read .pyc files but never write them: the "(no .pyc)" copies stay source only.
        self.env["PYTHONDONTWRITEBYTECODE"] = "1"

    def full(self, pair: Tuple[Any, Any]) -> Any:
        return pair[1] if self.args.quick else pair[0]

    def peers(self, names: Any) -> List[str]:
        return [n for n in names if not (self.args.ours_only and n.split(" ")[0] in THIRD_PARTY)]

    def worker(self, spec: Dict[str, Any], wrap: Optional[List[str]] = None) -> Dict[str, Any]:
        spec = dict(spec)
        spec.setdefault("clients_dir", self.clients_dir)
        argv = [sys.executable, os.path.join(HERE, "worker.py"), json.dumps(spec)]
        if wrap:
            argv = wrap + argv
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=SUBPROCESS_TIMEOUT,
            preexec_fn=self.placement.preexec("client"),
            cwd=HERE,
        )
        if done.returncode != 0:
            raise RuntimeError("worker %s/%s failed:\n%s" % (spec["measure"], spec["peer"], done.stderr[-3000:]))
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    def rounds(
        self, measure: str, peer_names: List[str], spec_for, rounds: int, wrap: Optional[List[str]] = None
    ) -> Dict[str, List[Dict[str, Any]]]:  # type: ignore[no-untyped-def]
        """Samples per peer; each round runs every peer once, in an order that rotates
        between rounds so that no peer always runs first or after the same neighbour."""
        samples: Dict[str, List[Dict[str, Any]]] = {p: [] for p in peer_names}
        for r in range(rounds):
            order = peer_names[r % len(peer_names) :] + peer_names[: r % len(peer_names)]
            for peer in order:
                spec = dict(spec_for(peer), measure=measure, peer=peer.split(" ")[0])
                if peer.endswith(" (no .pyc)"):
                    spec["clients_dir"] = self.source_only
                samples[peer].append(self.worker(spec, wrap))
            log("  %s: round %d/%d done" % (measure, r + 1, rounds))
        return samples


def summarize(samples: Dict[str, List[Dict[str, Any]]], metrics: List[str]) -> Dict[str, Dict[str, Any]]:
    rows: Dict[str, Dict[str, Any]] = {}
    for peer, runs in samples.items():
        row: Dict[str, Any] = {"samples": runs}
        for metric in metrics:
            values = [r[metric] for r in runs if r.get(metric) is not None]
            row[metric] = _median(values) if values else None
        rows[peer] = row
    return rows


# ---------------------------------------------------------------------------------------------
# The measures
# ---------------------------------------------------------------------------------------------


def prepare_clients(clients_dir: str, workdir: str) -> Dict[str, str]:
    """Directories the workers import from. ``package``: the two modules with their .pyc,
    as a deployment package built by pip has them (every sample imports from here);
    ``source-only``: a vendored copy without .pyc, which Python compiles on every cold start
    (Lambda's /var/task is read-only, so nothing is cached); ``empty``: the working directory
    of peers from site-packages, so that our pipedream.py cannot shadow the official SDK."""
    import py_compile

    dirs = {name: os.path.join(workdir, name) for name in ("package", "source-only", "empty")}
    for directory in dirs.values():
        os.makedirs(directory, exist_ok=True)
    for name in ("altan.py", "pipedream.py"):
        for directory in (dirs["package"], dirs["source-only"]):
            shutil.copy(os.path.join(clients_dir, name), directory)
        py_compile.compile(os.path.join(dirs["package"], name), doraise=True)
    return dirs


def measure_cold(runner: Runner, dirs: Dict[str, str]) -> Dict[str, Any]:
    """A fresh interpreter per sample, timed inside the process from before the first
    import to a constructed client, so the bare interpreter's start-up is not in the time.
    CPU time is the budget's measure: a Lambda's import is CPU-bound on its own vCPU, and
    CPU time leaves out the moments another process on this shared machine held the CPU.
    Wall time, and the whole process timed from outside minus a bare ``python -c pass``,
    are shown too. Each round runs every case once; a case's ratio is the median over
    rounds of its time over the ``import http.client, json, ssl`` of the same round."""
    lazy = {
        "altan": "c._transport._ssl_context is None",
        "altan-async": "c._client._transport._ssl_context is None",
        "pipedream": "c._transport._ssl_context is None",
        "pipedream-async": "c.sync._transport._ssl_context is None",
    }
    cases: Dict[str, Tuple[str, str]] = {}  # name: (snippet, working directory)
    for name, snippet in peers.IMPORT_SNIPPETS.items():
        cases[name] = (snippet, dirs["package"] if name in lazy else dirs["empty"])
    cases["altan (no .pyc)"] = (peers.IMPORT_SNIPPETS["altan"], dirs["source-only"])
    cases["pipedream (no .pyc)"] = (peers.IMPORT_SNIPPETS["pipedream"], dirs["source-only"])

    env = dict(runner.env)
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):  # as on Lambda: default trust stores
        env.pop(name, None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the source-only copy stays without .pyc

    def child_code(name: str, snippet: str) -> str:
        check = lazy.get(name.split(" ")[0])
        return (
            "import time\n_c0, _t0 = time.process_time(), time.perf_counter()\n%s\n"
            "_c1, _t1 = time.process_time(), time.perf_counter()\n"
            "import sys, json\n"
            "_hwm = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
            "print(json.dumps({'cpu_ms': (_c1 - _c0) * 1e3, 'ms': (_t1 - _t0) * 1e3, 'modules': len(sys.modules), "
            "'rss_mb': _hwm[0] / 1024 if _hwm else None, "
            "'asyncio_imported': 'asyncio' in sys.modules, 'ssl_context_deferred': %s}))\n" % (snippet, check or "None")
        )

    def once(name: str) -> Dict[str, Any]:
        snippet, cwd = cases[name]
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", child_code(name, snippet)],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=env,
            timeout=SUBPROCESS_TIMEOUT,
            preexec_fn=runner.placement.preexec("client"),
        )
        elapsed = (time.perf_counter() - started) * 1e3
        if done.returncode != 0:
            raise RuntimeError("cold start of %s failed:\n%s" % (name, done.stderr[-3000:]))
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["process_ms"] = elapsed
        return result  # type: ignore[no-any-return]

    names = runner.peers(cases)
    for name in names:  # warm the OS file cache and the stdlib's own .pyc files
        once(name)
    samples: Dict[str, List[Dict[str, Any]]] = {n: [] for n in names}
    rounds = runner.full(ROUNDS["cold"])
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        round_results = {name: once(name) for name in order}
        for name, result in round_results.items():
            for metric in ("cpu_ms", "ms"):
                base = round_results["stdlib"][metric]
                result["paired_" + metric] = result[metric] / base if base else None
            samples[name].append(result)
        if (r + 1) % 5 == 0 or r + 1 == rounds:
            log("  cold: round %d/%d done" % (r + 1, rounds))
    rows = summarize(samples, ["cpu_ms", "ms", "process_ms", "modules", "rss_mb", "paired_cpu_ms", "paired_ms"])
    bare = rows["bare"]["process_ms"]
    for name, row in rows.items():
        row["process_minus_bare_ms"] = max(0.0, row["process_ms"] - bare)
        row["asyncio_imported"] = any(s["asyncio_imported"] for s in row["samples"])
        deferred = [s["ssl_context_deferred"] for s in row["samples"]]
        row["ssl_context_deferred"] = None if deferred[0] is None else all(deferred)
        if name == "bare":  # nothing imported: no ratio to speak of
            row.pop("paired_cpu_ms", None)
            row.pop("paired_ms", None)
    return {
        "unit": "ms",
        "metric": "cpu_ms",
        "reference": "stdlib",
        "rows": rows,
        "note": "cpu ms / wall ms: CPU and wall time inside the process from the first import to a "
        "constructed client, x stdlib the median over %d rounds of the ratio to that round's "
        "stdlib; proc-bare: the whole process timed from outside minus a bare interpreter; MB: "
        "peak RSS at that point; (no .pyc): the module compiled from source, as a vendored copy "
        "without its .pyc is on every Lambda cold start" % rounds,
    }


def measure_cpu(runner: Runner, origin: str) -> Dict[str, Any]:
    def spec(peer: str) -> Dict[str, Any]:
        n = runner.full(CPU_CALLS.get(peer, CPU_CALLS["default"]))
        return {"origin": origin, "n": n, "batches": runner.full(CPU_BATCHES), "warmup": 3 if peer == "urllib" else 20}

    samples = runner.rounds("cpu", runner.peers(peers.SYNC_PEERS), spec, runner.full(ROUNDS["cpu"]))
    n, batches = runner.full(CPU_CALLS["default"]), runner.full(CPU_BATCHES)
    return {
        "unit": "us",
        "metric": "cpu_us",
        "reference": "raw",
        "rows": summarize(
            samples, ["cpu_us", "wall_us", "opcodes", "ref_cpu_us", "paired_cpu_us", "paired_wall_us", "paired_opcodes"]
        ),
        "note": "a sample: %d calls of the peer in %d batches of %d, alternating in the same process "
        "with as many raw http.client calls; cpu us: the peer's median, its raw us: raw http.client's "
        "median in those same processes, x raw: the median over samples of their ratio; opcodes: "
        "Python bytecode instructions per call, counted" % (n, batches, n // batches),
    }


def measure_fanout(runner: Runner, origin: str) -> Dict[str, Any]:
    repeats = runner.full(FANOUT_REPEATS)
    spec = lambda peer: {"origin": origin, "calls": 200, "in_flight": 50, "repeats": repeats}  # noqa: E731
    samples = runner.rounds("fanout", runner.peers(peers.ASYNC_PEERS), spec, runner.full(ROUNDS["fanout"]))
    return {
        "unit": "ms",
        "metric": "warm_ms",
        "reference": "raw-threads",
        "rows": summarize(samples, ["warm_ms", "cold_ms", "paired_warm_ms", "paired_cold_ms"]),
        "note": "warm_ms: 200 calls on a client whose connections are open (kept alive from a first "
        "fan-out); cold_ms: from constructing the client to the 200th response, 50 TLS handshakes "
        "included. A sample: the peer and the raw pool take turns %d times in one process; x raw "
        "is the median over samples of their ratio" % repeats,
    }


def measure_rss(runner: Runner, origin: str) -> Dict[str, Any]:
    names = runner.peers(
        [
            "raw",
            "altan",
            "pipedream",
            "requests",
            "httpx",
            "sdk",
            "raw-async",
            "pipedream-async",
            "sdk-async",
            "altan (no .pyc)",
            "pipedream (no .pyc)",
        ]
    )
    spec = lambda peer: {"origin": origin, "n": runner.full(RSS_CALLS)}  # noqa: E731
    samples = runner.rounds("rss", names, spec, runner.full(ROUNDS["rss"]))
    return {
        "unit": "MB",
        "metric": "rss_mb",
        "reference": "sdk" if "sdk" in names else "raw",
        "rows": summarize(samples, ["rss_mb"]),
        "note": "VmHWM of a process that imports the client, constructs it and makes %d sequential calls; "
        "raw-async: the floor of an asyncio program; (no .pyc): our module compiled from source at "
        "import, whose compiler's peak shows here" % runner.full(RSS_CALLS),
    }


def measure_token(runner: Runner, origin: str) -> Dict[str, Any]:
    rows: Dict[str, Dict[str, Any]] = {}
    for peer in runner.peers(("pipedream", "pipedream-async", "sdk", "sdk-async")):
        result = runner.worker(
            {
                "measure": "token",
                "peer": peer,
                "origin": origin,
                "concurrent": runner.full(TOKEN_CALLS["concurrent"]),
                "steady": runner.full(TOKEN_CALLS["steady"]),
            }
        )
        rows[peer] = dict(result, samples=[result])
    return {
        "unit": "requests",
        "metric": "first_calls_tokens",
        "reference": None,
        "rows": rows,
        "note": "first_calls_tokens: token requests for %d concurrent first calls (threads for sync "
        "clients, asyncio.gather for async ones); steady_tokens: token requests during %d calls "
        "after them" % (runner.full(TOKEN_CALLS["concurrent"]), runner.full(TOKEN_CALLS["steady"])),
    }


def measure_saturation(runner: Runner, origin: str) -> Dict[str, Any]:
    """Rows "<peer> <calls>" (and "<peer> <calls> w<threads>" for other max_workers)."""
    sizes = runner.full(SATURATION_CALLS)
    repeats = runner.full(SATURATION_REPEATS)
    names: List[str] = []
    for calls in sizes:
        for peer in ("raw-async", "altan-async", "pipedream-async", "raw-threads", "altan", "pipedream"):
            names.append("%s %d" % (peer, calls))
    for threads in runner.full(WORKER_SWEEP):
        for peer in ("altan-async", "pipedream-async"):
            names.append("%s %d w%d" % (peer, sizes[0], threads))

    def spec(name: str) -> Dict[str, Any]:
        parts = name.split(" ")
        threads = int(parts[2][1:]) if len(parts) > 2 else SATURATION_THREADS
        return {"origin": origin, "calls": int(parts[1]), "threads": threads, "repeats": repeats}

    samples = runner.rounds("saturation", names, spec, runner.full(ROUNDS["saturation"]))
    rows = summarize(samples, ["warm_ms", "cpu_us", "ref_warm_ms", "ref_cpu_us", "paired_warm_ms", "paired_cpu_us"])
    for name, row in rows.items():
        row.update(spec(name))
        row.pop("origin", None)
        row.pop("repeats", None)
        row["floor"] = "raw-async" if name.split(" ")[0].endswith("-async") else "raw-threads"
    return {
        "unit": "ms",
        "metric": "warm_ms",
        "reference": "floor",  # each row's own floor, paired in its samples
        "rows": rows,
        "note": "all calls launched at once, the server taking %g ms each, connections warm (a first fan-out "
        "of the same size opened them); threads: max_workers of an async client, or the threads sharing one "
        "sync client; floor: raw http.client, one kept-alive connection per thread, on as many threads "
        "(raw-async: through loop.run_in_executor, for the async clients; raw-threads: a plain pool, for the "
        "sync ones); a sample: the peer and its floor take turns %d times in one process, x floor is the "
        "median over samples of their ratio; cpu us: the client process's CPU time per call"
        % (FANOUT_DELAY_MS, repeats),
    }


def measure_inflight(runner: Runner, origin: str) -> Dict[str, Any]:
    sizes = runner.full(SATURATION_CALLS)
    names = ["raw-async", "altan-async", "pipedream-async", "raw-threads", "altan", "pipedream"]
    spec = lambda peer: {"origin": origin, "threads": SATURATION_THREADS, "sizes": list(sizes)}  # noqa: E731
    samples = runner.rounds("memory", names, spec, runner.full(ROUNDS["inflight"]))
    rows = summarize(samples, ["base_mb", "small_mb", "peak_mb", "mb_per_1000_calls"])
    return {
        "unit": "MB",
        "metric": "peak_mb",
        "reference": "raw-async",
        "rows": rows,
        "note": "VmHWM of a process with one client (%d threads, connections open: base) after %d, then "
        "%d calls all in flight, each answer dropped as it arrives; MB per 1,000 calls: what each 1,000 "
        "more calls in flight add (their asyncio tasks and futures, queued work items)"
        % (SATURATION_THREADS, sizes[0], sizes[-1]),
    }


def ssl_default_cafile() -> Optional[str]:
    """The system's CA bundle file, if it has one (OpenSSL's default, as Python finds it)."""
    import ssl

    paths = ssl.get_default_verify_paths()
    for path in (paths.cafile, paths.openssl_cafile):
        if path and os.path.isfile(path):
            return path
    return None


def measure_coldcall(runner: Runner, certs: Tuple[str, str, str], dirs: Dict[str, str]) -> Dict[str, Any]:
    names = runner.peers(["raw", "altan", "pipedream", "sdk"])
    problem = Link.available()
    if problem is not None:
        return {"skipped": "the cold-call benchmark needs network namespaces: " + problem}
    # The trust store a Lambda's first call loads: the system's CA bundle, with the test CA
    # added so the local server is trusted (loading it is part of what a cold call costs).
    bundle = os.path.join(os.path.dirname(certs[0]), "system-and-test-ca.pem")
    with open(bundle, "wb") as out:
        system = ssl_default_cafile()
        if system:
            with open(system, "rb") as f:
                out.write(f.read().rstrip(b"\n") + b"\n")
        with open(certs[0], "rb") as f:
            out.write(f.read())
    extra = {
        name: {"cwd": dirs["package"] if name in peers.OURS else dirs["empty"], "ca_file": bundle} for name in names
    }
    samples, mode = _on_link(runner, certs, "coldcall", names, extra)
    metrics = ["ms", "cpu_ms", "floor_ms", "import_ms", "rtt_ms", "rtts", "round_trips", "paired_ms", "over_floor_ms"]
    rows = summarize(samples, metrics)
    return {
        "unit": "ms",
        "metric": "ms",
        "reference": "floor",
        "rows": rows,
        "mode": mode,
        "note": "the link of measure 3 (%s); ms: a fresh interpreter, from before its first import to the "
        "first call's decoded answer (import, client, TCP, TLS, for Pipedream the token, the call); floor: a "
        "fresh interpreter's import http.client, json, ssl (import ms) plus the call's round trips (RTT ms "
        "each, measured in the same sample); x floor: median over samples of the ratio; RTTs: ms / RTT; every "
        "peer loads the system's CA bundle (plus the test CA), as on a Lambda; the floor does not"
        % ("tc netem" if mode == "netem" else "userspace delay forwarder"),
    }


def _on_link(
    runner: Runner, certs: Tuple[str, str, str], measure: str, names: List[str], extra: Dict[str, Any]
) -> Tuple[Dict[str, List[Dict[str, Any]]], str]:
    """Samples of ``measure`` for ``names`` run in the client namespace of a 20 ms RTT link
    (``extra``: spec per peer name), and the link's mode."""
    helpers: List[Process] = []
    with Link(ONE_WAY_MS, runner.args.link_mode) as link:
        try:
            in_server_ns = lambda argv: link.command(link.server_ns, argv)  # noqa: E731
            if link.mode == "netem":
                server = Process(
                    in_server_ns(server_argv(certs, host="0.0.0.0", echo=True)), runner.placement, runner.env
                )
                helpers.append(server)
                https_port, echo_port = server.ports
            else:
                server = Process(
                    in_server_ns(server_argv(certs, host="127.0.0.1", echo=True)), runner.placement, runner.env
                )
                helpers.append(server)
                forwarder = Process(
                    in_server_ns(
                        [
                            sys.executable,
                            os.path.join(HERE, "delaylink.py"),
                            "--one-way-ms",
                            str(ONE_WAY_MS),
                            "--listen",
                            SERVER_ADDRESS,
                            "--to",
                            "127.0.0.1:%d" % server.ports[0],
                            "--to",
                            "127.0.0.1:%d" % server.ports[1],
                        ]
                    ),
                    runner.placement,
                    runner.env,
                )
                helpers.append(forwarder)
                https_port, echo_port = forwarder.ports
            origin = "https://%s:%d" % (SERVER_ADDRESS, https_port)

            def spec(peer: str) -> Dict[str, Any]:
                return dict(extra[peer], origin=origin, echo_host=SERVER_ADDRESS, echo_port=echo_port)

            samples = runner.rounds(
                measure, names, spec, runner.full(ROUNDS[measure]), wrap=link.command(link.client_ns, [])
            )
        finally:
            for helper in reversed(helpers):
                helper.stop()
        return samples, link.mode


def measure_link(runner: Runner, certs: Tuple[str, str, str]) -> Dict[str, Any]:
    names = runner.peers(["rtt", "raw", "altan", "pipedream", "requests", "httpx", "urllib", "sdk"])
    problem = Link.available()
    if problem is not None:
        return {"skipped": "the link benchmark needs network namespaces: " + problem}
    calls = {peer: {"n": runner.full(LINK_CALLS.get(peer, LINK_CALLS["default"]))} for peer in names}
    samples, mode = _on_link(runner, certs, "link", names, calls)
    rows = summarize(samples, ["call_ms", "rtt_ms", "paired_call_ms", "mean_ms", "first_ms"])
    rtt = rows["rtt"]["call_ms"]
    for row in rows.values():
        row["first_rtts"] = row["first_ms"] / rtt if row.get("first_ms") else None
    return {
        "unit": "ms",
        "metric": "call_ms",
        "reference": "rtt",
        "rows": rows,
        "mode": mode,
        "note": "two network namespaces joined by veth, %g ms each way (%s); call_ms: median wall time "
        "of a call once connected, each call followed by a TCP round trip (rtt) in the same "
        "process, x RTT the median over samples of call/rtt; first_ms: the first call "
        "(TCP, TLS, token for Pipedream)"
        % (ONE_WAY_MS, "tc netem" if mode == "netem" else "userspace delay forwarder, no netem in this kernel"),
    }


def measure_idlewrite(runner: Runner, certs: Tuple[str, str, str]) -> Dict[str, Any]:
    names = ["raw", "altan", "pipedream"]
    problem = Link.available()
    if problem is not None:
        return {"skipped": "the idle-write benchmark needs network namespaces: " + problem}
    writes = {"n": runner.full(IDLE_WRITES["warm"]), "idle": runner.full(IDLE_WRITES["idle"]), "gap": IDLE_GAP}
    samples, mode = _on_link(runner, certs, "idlewrite", names, {peer: writes for peer in names})
    rows = summarize(samples, ["warm_ms", "idle_ms", "rtt_ms", "warm_rtts", "idle_extra_rtts"])
    return {
        "unit": "ms",
        "rows": rows,
        "mode": mode,
        "note": "the link of measure 3 (%s); warm: a write on a kept-alive connection; idle: the "
        "same after %g s idle, past the default write_idle_limit of 1 s, so on a new connection "
        "(raw: http.client, a new connection after the gap: the floor); "
        "RTTs: x the TCP round trip measured after each write (medians over samples)"
        % ("tc netem" if mode == "netem" else "userspace delay forwarder", IDLE_GAP),
    }


# ---------------------------------------------------------------------------------------------
# Ratios, budgets, output
# ---------------------------------------------------------------------------------------------


def add_ratios(results: Dict[str, Any]) -> None:
    """``row["ratio"][metric]``: the median of the samples' paired ratios where the measure
    pairs each sample with its floor, else the row's median over the reference's."""
    for measure in results.values():
        if "rows" not in measure or not measure.get("reference"):
            continue
        ref = measure["rows"].get(measure["reference"], {})
        for row in measure["rows"].values():
            row["ratio"] = {}
            for metric, value in list(row.items()):
                if metric in ("samples", "ratio") or metric.startswith(("paired_", "ref_")):
                    continue
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    continue
                paired = row.get("paired_" + metric)
                base = ref.get(metric)
                if isinstance(paired, (int, float)):
                    row["ratio"][metric] = paired
                elif isinstance(base, (int, float)) and base:
                    row["ratio"][metric] = value / base


def _ratio(data: Dict[str, Any], name: str, metric: str, against: str) -> float:
    """name's metric over against's: the paired ratio where ``against`` is the measure's
    reference (both ran in the same processes), else a ratio of medians."""
    row = data["rows"][name]
    if against == data.get("reference") and metric in row.get("ratio", {}):
        return row["ratio"][metric]  # type: ignore[no-any-return]
    return row[metric] / data["rows"][against][metric]  # type: ignore[no-any-return]


def check_budgets(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    checks = []
    for kind, table_ in (("budget", BUDGETS), ("info", INFO)):
        for measure, metric, names, op, limit, against in table_:
            data = results.get(measure, {})
            if "rows" not in data:
                continue
            for name in names:
                if name not in data["rows"] or against not in data["rows"]:
                    continue
                if op == "<=":
                    value = _ratio(data, name, metric, against)
                    met = value <= limit
                    text = "<= %g" % limit
                else:  # ">=": how many times faster than ``against``
                    value = data["rows"][against][metric] / data["rows"][name][metric]
                    met = value >= limit
                    text = ">= %gx faster" % limit
                checks.append(
                    {
                        "measure": measure,
                        "metric": metric,
                        "peer": name,
                        "against": against,
                        "ratio": value,
                        "limit": text,
                        "met": met,
                        "kind": kind,
                    }
                )
        if kind == "budget":
            for measure, metric, names, factor, slower in SPEEDUP_BUDGETS:
                data = results.get(measure, {})
                if "rows" not in data:
                    continue
                for name in names:
                    if name not in data["rows"] or slower not in data["rows"]:
                        continue
                    speedup = data["rows"][slower][metric] / data["rows"][name][metric]
                    checks.append(
                        {
                            "measure": measure,
                            "metric": metric,
                            "peer": name,
                            "against": slower,
                            "ratio": speedup,
                            "limit": ">= %gx faster" % factor,
                            "met": speedup >= factor,
                            "kind": "budget",
                        }
                    )
    if "idlewrite" in results and "rows" in results["idlewrite"]:
        for name, row in results["idlewrite"]["rows"].items():
            if name == "raw":
                continue
            for metric, limit in (("warm_rtts", 1.05), ("idle_extra_rtts", 2.0)):
                checks.append(
                    {
                        "measure": "idlewrite",
                        "metric": metric,
                        "peer": name,
                        "against": "rtt",
                        "ratio": row[metric],
                        "limit": "<= %g" % limit,
                        "met": row[metric] <= limit,
                        "kind": "budget",
                    }
                )
    if "rows" in results.get("saturation", {}):
        for name, row in results["saturation"]["rows"].items():
            if name.startswith("raw-"):
                continue
            default = row["threads"] == SATURATION_THREADS
            for metric, limit, kind in (("warm_ms", 1.2, "budget" if default else "info"), ("cpu_us", 1.2, "info")):
                value = row.get("ratio", {}).get(metric)
                if value is None:
                    continue
                checks.append(
                    {
                        "measure": "saturation",
                        "metric": metric,
                        "peer": name,
                        "against": row["floor"],
                        "ratio": value,
                        "limit": "<= %g" % limit,
                        "met": value <= limit,
                        "kind": kind,
                    }
                )
    if "rows" in results.get("inflight", {}):
        rows = results["inflight"]["rows"]
        for name, row in rows.items():
            if name.startswith("raw-"):
                continue
            floor = rows.get("raw-async" if name.endswith("-async") else "raw-threads")
            if floor is None or row.get("mb_per_1000_calls") is None:
                continue
            extra = row["mb_per_1000_calls"] - floor["mb_per_1000_calls"]
            checks.append(
                {
                    "measure": "inflight",
                    "metric": "MB per 1,000 calls, over the floor's",
                    "peer": name,
                    "against": "raw-async" if name.endswith("-async") else "raw-threads",
                    "ratio": extra,
                    "limit": "<= 1",
                    "met": extra <= 1.0,
                    "kind": "info",
                }
            )
    if "rows" in results.get("coldcall", {}):
        for name, row in results["coldcall"]["rows"].items():
            value = row.get("ratio", {}).get("ms")
            if value is None:
                continue
            checks.append(
                {
                    "measure": "coldcall",
                    "metric": "ms",
                    "peer": name,
                    "against": "import + %d RTTs" % row["round_trips"],
                    "ratio": value,
                    "limit": "<= 1.2",
                    "met": value <= 1.2,
                    "kind": "info",
                }
            )
    if "token" in results and "rows" in results["token"]:
        for name in ("pipedream", "pipedream-async"):
            row = results["token"]["rows"][name]
            checks.append(
                {
                    "measure": "token",
                    "metric": "first_calls_tokens",
                    "peer": name,
                    "against": None,
                    "ratio": row["first_calls_tokens"],
                    "limit": "== 1",
                    "met": row["first_calls_tokens"] == 1,
                    "kind": "budget",
                }
            )
            checks.append(
                {
                    "measure": "token",
                    "metric": "steady_tokens",
                    "peer": name,
                    "against": None,
                    "ratio": row["steady_tokens"],
                    "limit": "== 0",
                    "met": row["steady_tokens"] == 0,
                    "kind": "budget",
                }
            )
    return checks


TITLES = {
    "cold": "1. Cold start: import + construct, fresh process (ms, median)",
    "cpu": "2. CPU time per request, local HTTPS keep-alive (us, median)",
    "link": "3. Wall time per sequential request, 20 ms RTT link (ms, median)",
    "idlewrite": "3b. A write, warm and after an idle gap past write_idle_limit, 20 ms RTT link",
    "fanout": "4. Async fan-out: 200 calls, 50 in flight, 20 ms server (ms, median)",
    "rss": "5. Peak RSS, process making the calls (MB, median)",
    "token": "6. OAuth token requests",
    "saturation": "7. Saturation: 1,000 and 5,000 calls all in flight, 20 ms server (ms, median)",
    "inflight": "8. Peak RSS with the calls of measure 7 in flight (MB, median)",
    "coldcall": "9. Cold call: fresh process, import + client + first call over the 20 ms RTT link (ms, median)",
}
COLUMNS = {
    "cold": [
        ("cpu_ms", "cpu ms", "%.1f"),
        ("ratio:cpu_ms", "x stdlib", "%.2f"),
        ("ms", "wall ms", "%.1f"),
        ("ratio:ms", "x", "%.2f"),
        ("process_minus_bare_ms", "proc-bare ms", "%.1f"),
        ("ratio:process_minus_bare_ms", "x", "%.2f"),
        ("rss_mb", "MB", "%.1f"),
        ("modules", "modules", "%d"),
        ("asyncio_imported", "asyncio", "%s"),
        ("ssl_context_deferred", "ssl lazy", "%s"),
    ],
    "cpu": [
        ("cpu_us", "cpu us", "%.0f"),
        ("ref_cpu_us", "its raw us", "%.0f"),
        ("ratio:cpu_us", "x raw", "%.2f"),
        ("wall_us", "wall us", "%.0f"),
        ("ratio:wall_us", "x raw", "%.2f"),
        ("opcodes", "opcodes", "%d"),
        ("ratio:opcodes", "x raw", "%.2f"),
    ],
    "link": [
        ("call_ms", "call ms", "%.2f"),
        ("rtt_ms", "RTT ms", "%.2f"),
        ("ratio:call_ms", "x RTT", "%.3f"),
        ("first_ms", "first ms", "%.1f"),
        ("first_rtts", "first RTTs", "%.1f"),
    ],
    "idlewrite": [
        ("warm_ms", "warm ms", "%.2f"),
        ("idle_ms", "idle ms", "%.2f"),
        ("rtt_ms", "RTT ms", "%.2f"),
        ("warm_rtts", "warm x RTT", "%.3f"),
        ("idle_extra_rtts", "idle - warm, RTTs", "%.2f"),
    ],
    "fanout": [
        ("warm_ms", "warm ms", "%.0f"),
        ("ratio:warm_ms", "x raw", "%.2f"),
        ("cold_ms", "cold ms", "%.0f"),
        ("ratio:cold_ms", "x raw", "%.2f"),
    ],
    "rss": [("rss_mb", "peak MB", "%.1f"), ("ratio:rss_mb", "x SDK", "%.2f")],
    "token": [("first_calls_tokens", "concurrent first calls", "%d"), ("steady_tokens", "steady-state calls", "%d")],
    "saturation": [
        ("threads", "threads", "%d"),
        ("warm_ms", "ms", "%.0f"),
        ("ref_warm_ms", "its floor ms", "%.0f"),
        ("ratio:warm_ms", "x floor", "%.2f"),
        ("cpu_us", "cpu us/call", "%.0f"),
        ("ref_cpu_us", "floor cpu us", "%.0f"),
        ("ratio:cpu_us", "x floor", "%.2f"),
    ],
    "inflight": [
        ("base_mb", "base MB", "%.1f"),
        ("small_mb", "MB, 1st size", "%.1f"),
        ("peak_mb", "MB, 2nd size", "%.1f"),
        ("mb_per_1000_calls", "MB per 1,000 calls", "%.2f"),
    ],
    "coldcall": [
        ("ms", "ms", "%.1f"),
        ("cpu_ms", "cpu ms", "%.1f"),
        ("import_ms", "import ms", "%.1f"),
        ("rtt_ms", "RTT ms", "%.2f"),
        ("round_trips", "RTTs", "%d"),
        ("floor_ms", "floor ms", "%.1f"),
        ("ratio:ms", "x floor", "%.3f"),
        ("over_floor_ms", "over floor ms", "%.1f"),
    ],
}


def _cell(row: Dict[str, Any], key: str, fmt: str) -> str:
    if key.startswith("ratio:"):
        value = row.get("ratio", {}).get(key[6:])
    else:
        value = row.get(key)
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return fmt % value


def _aligned(cells: List[str], widths: List[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))


def table(results: Dict[str, Any], markdown: bool = False) -> str:
    out: List[str] = []
    for measure in MEASURES:
        data = results.get(measure)
        if data is None:
            continue
        out.append(("### " if markdown else "") + TITLES[measure])
        if "rows" not in data:
            out.append("skipped: " + data.get("skipped", "?"))
            out.append("")
            continue
        header = ["peer"] + [title for _, title, _ in COLUMNS[measure]]
        lines = [
            [name] + [_cell(row, key, fmt) for key, _, fmt in COLUMNS[measure]] for name, row in data["rows"].items()
        ]
        if markdown:
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
            out.extend("| " + " | ".join(line) + " |" for line in lines)
        else:
            widths = [max(len(str(x[i])) for x in [header] + lines) for i in range(len(header))]
            out.extend(_aligned(cells, widths) for cells in [header] + lines)
        if data.get("note"):
            out.append(("" if not markdown else "\n") + "(" + data["note"] + ")")
        out.append("")
    checks = results.get("_budgets", [])
    if checks:
        out.append(("### " if markdown else "") + "Budget")
        order = {m: i for i, m in enumerate(MEASURES)}
        checks = sorted(checks, key=lambda c: (c["kind"] != "budget", order[c["measure"]]))
        rows = [
            [
                c["measure"],
                c["peer"],
                c["metric"],
                c["against"] or "",
                "%.3g" % c["ratio"],
                c["limit"],
                ("met" if c["met"] else "NOT MET")
                if c["kind"] == "budget"
                else "info: " + ("within" if c["met"] else "outside"),
            ]
            for c in checks
        ]
        header = ["measure", "peer", "metric", "against", "value", "budget", "status"]
        if markdown:
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "|".join("---" for _ in header) + "|")
            out.extend("| " + " | ".join(r) + " |" for r in rows)
        else:
            widths = [max(len(x[i]) for x in [header] + rows) for i in range(len(header))]
            out.extend("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [header] + rows)
        out.append("")
    return "\n".join(out)


def machine() -> Dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("pipedream", "httpx", "requests", "pydantic"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    memory_gb = 0.0
    try:
        with open("/proc/meminfo") as f:
            memory_gb = int(f.readline().split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "kernel": platform.release(),
        "system": platform.system(),
        "peers": versions,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run, not a measurement")
    parser.add_argument("--only", default=",".join(MEASURES), help="comma-separated: " + ",".join(MEASURES))
    parser.add_argument("--clients", default=REPO, help="directory holding altan.py and pipedream.py (default: repo)")
    parser.add_argument("--json", default=os.path.join(HERE, "results", "latest.json"), help="where to write JSON")
    parser.add_argument(
        "--markdown",
        default=None,
        help="where to write the table as Markdown (default: benchmarks/RESULTS.md on a full run of every measure)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not place clients and servers on separate CPUs")
    parser.add_argument(
        "--link-mode",
        choices=("auto", "netem", "forwarder"),
        default="auto",
        help="how the link benchmark delays packets (auto: netem if the kernel has it)",
    )
    parser.add_argument(
        "--ours-only",
        action="store_true",
        help="only this repo's clients and the standard-library floors: no peer to install",
    )
    parser.add_argument("--label", default="", help="a note on the clients measured, printed with the results")
    args = parser.parse_args()
    only = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = set(only) - set(MEASURES)
    if unknown:
        parser.error("unknown measure(s): %s" % ", ".join(sorted(unknown)))
    clients_dir = os.path.abspath(args.clients)
    problems = check_peers(clients_dir, args.ours_only)
    if problems:
        log("cannot run the benchmarks:\n  - " + "\n  - ".join(problems))
        log(
            "install the peers (for benchmarking only, never needed by the clients):\n"
            "  python -m pip install -r %s" % os.path.relpath(os.path.join(HERE, "requirements.txt"))
        )
        return 2

    # SIGTERM ends the run through the finally blocks: servers stopped, namespaces removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.time()
    placement = Placement(not args.no_pin)
    results: Dict[str, Any] = {}
    helpers: List[Process] = []
    with tempfile.TemporaryDirectory(prefix="client-bench-") as workdir:
        certs = make_certificates(workdir)
        dirs = prepare_clients(clients_dir, workdir)
        # Of the copies measured: the files in clients_dir may change during the run.
        digests = {
            name: hashlib.sha256(open(os.path.join(dirs["package"], name), "rb").read()).hexdigest()[:16]
            for name in ("altan.py", "pipedream.py")
        }
        runner = Runner(args, placement, certs[0], dirs["package"])
        runner.source_only = dirs["source-only"]
        slow: Optional[Process] = None  # the server taking 20 ms per call, shared by the fan-out measures
        try:
            if any(m in only for m in ("cpu", "rss")):
                plain = Process(server_argv(certs), placement, runner.env)
                helpers.append(plain)
                origin = "https://127.0.0.1:%d" % plain.ports[0]
            for measure in [m for m in MEASURES if m in only]:
                log("%s ..." % measure)
                t0 = time.time()
                if measure == "cold":
                    results["cold"] = measure_cold(runner, dirs)
                elif measure == "cpu":
                    results["cpu"] = measure_cpu(runner, origin)
                elif measure == "rss":
                    results["rss"] = measure_rss(runner, origin)
                elif measure == "fanout":
                    if slow is None:
                        slow = Process(server_argv(certs, delay_ms=FANOUT_DELAY_MS), placement, runner.env)
                        helpers.append(slow)
                    results["fanout"] = measure_fanout(runner, "https://127.0.0.1:%d" % slow.ports[0])
                elif measure == "token":
                    tokens = Process(server_argv(certs, token_delay_ms=TOKEN_DELAY_MS), placement, runner.env)
                    helpers.append(tokens)
                    results["token"] = measure_token(runner, "https://127.0.0.1:%d" % tokens.ports[0])
                elif measure in ("saturation", "inflight"):
                    if slow is None:
                        slow = Process(server_argv(certs, delay_ms=FANOUT_DELAY_MS), placement, runner.env)
                        helpers.append(slow)
                    slow_origin = "https://127.0.0.1:%d" % slow.ports[0]
                    if measure == "saturation":
                        results["saturation"] = measure_saturation(runner, slow_origin)
                    else:
                        results["inflight"] = measure_inflight(runner, slow_origin)
                elif measure == "coldcall":
                    results["coldcall"] = measure_coldcall(runner, certs, dirs)
                elif measure == "link":
                    results["link"] = measure_link(runner, certs)
                elif measure == "idlewrite":
                    results["idlewrite"] = measure_idlewrite(runner, certs)
                log("%s done in %.0f s" % (measure, time.time() - t0))
        finally:
            for helper in helpers:
                helper.stop()
    add_ratios(results)
    results["_budgets"] = check_budgets(results)
    report = {
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": shlex.join(["python", "benchmarks/run.py"] + sys.argv[1:]),
        "quick": args.quick,
        "duration_s": round(time.time() - started, 1),
        "machine": machine(),
        "placement": placement.describe(),
        "clients": {
            "directory": clients_dir,
            "label": args.label,
            "sha256": digests,
        },
        "peers": peers.DESCRIPTIONS,
        "results": {k: v for k, v in results.items() if not k.startswith("_")},
        "budgets": results["_budgets"],
    }
    text = table(results)
    print(text)
    m = report["machine"]
    print(
        "machine: %s CPUs, %s, %.1f GB, Python %s, Linux %s; %s; %.0f s"
        % (
            m["cpus"],
            m["cpu_model"],
            m["memory_gb"],
            m["python"],
            m["kernel"],
            report["placement"],
            report["duration_s"],
        )
    )
    print("clients: %s %s" % (clients_dir, args.label))
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1)
    print("JSON: %s" % os.path.relpath(args.json))
    markdown = args.markdown
    if markdown is None and not args.quick and not args.ours_only and set(only) == set(MEASURES):
        markdown = os.path.join(HERE, "RESULTS.md")
    if markdown:
        clients = report["clients"]
        where = "" if clients["directory"] == REPO or clients["label"] else " from `%s`" % clients["directory"]
        with open(markdown, "w") as f:
            f.write("# Benchmark results\n\n")
            f.write(
                "Written by `%s` (see the README's Performance section); %s UTC, %.0f s.\n\n"
                % (report["command"], report["generated"], report["duration_s"])
            )
            f.write(
                "- Machine: %s CPUs (%s), %.1f GB RAM, %s %s, Linux %s; %s.\n"
                % (
                    m["cpus"],
                    m["cpu_model"],
                    m["memory_gb"],
                    m["implementation"],
                    m["python"],
                    m["kernel"],
                    report["placement"],
                )
            )
            f.write(
                "- Clients%s: altan.py sha256 %s..., pipedream.py sha256 %s...%s.\n"
                % (
                    where,
                    clients["sha256"]["altan.py"],
                    clients["sha256"]["pipedream.py"],
                    (" (" + clients["label"] + ")") if clients["label"] else "",
                )
            )
            f.write("- Peer versions: %s.\n" % ", ".join("%s %s" % kv for kv in m["peers"].items() if kv[1]))
            f.write("- Peers: " + "; ".join("`%s` = %s" % kv for kv in peers.DESCRIPTIONS.items()) + ".\n\n")
            f.write(
                "Every time is a median of repeated samples, every sample a fresh process; ratios are "
                "computed within this run.\n\n"
            )
            f.write(table(results, markdown=True))
        print("Markdown: %s" % os.path.relpath(markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
