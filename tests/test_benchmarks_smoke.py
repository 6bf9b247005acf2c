"""The benchmark harness (benchmarks/run.py) still runs, checked through the one measure of
issue 5 that is not a timing: OAuth token requests. Concurrent first calls must make one
token request and steady-state calls none, for the sync and the async Pipedream client.

Nothing here is timed or compares speeds: timings are printed by ``python benchmarks/run.py``
for a person to read. ``--ours-only`` needs no benchmark peer installed; the harness runs its
own HTTPS server on 127.0.0.1 in a subprocess (about two seconds in all).
"""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_benchmark_token_measure_makes_one_token_request(tmp_path: pathlib.Path) -> None:
    report_path = tmp_path / "token.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--only",
            "token",
            "--ours-only",
            "--no-pin",
            "--json",
            str(report_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads(report_path.read_text())["results"]["token"]["rows"]
    for client in ("pipedream", "pipedream-async"):
        assert rows[client]["first_calls_tokens"] == 1, (client, rows[client])
        assert rows[client]["steady_tokens"] == 0, (client, rows[client])


def test_benchmark_saturation_measures_run(tmp_path: pathlib.Path) -> None:
    """The saturation and in-flight memory measures of issue 15 run with tiny sizes and
    report every row; their times are not compared here."""
    report_path = tmp_path / "saturation.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--only",
            "saturation,inflight",
            "--ours-only",
            "--no-pin",
            "--json",
            str(report_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(report_path.read_text())["results"]
    saturation = results["saturation"]["rows"]
    for peer in ("raw-async", "altan-async", "pipedream-async", "raw-threads", "altan", "pipedream"):
        row = saturation["%s 100" % peer]
        assert row["warm_ms"] > 0 and row["cpu_us"] > 0, (peer, row)
        assert row["threads"] == 64, (peer, row)
    assert saturation["altan-async 100 w16"]["threads"] == 16
    memory = results["inflight"]["rows"]
    assert set(memory) == {"raw-async", "altan-async", "pipedream-async", "raw-threads", "altan", "pipedream"}
    assert all(row["peak_mb"] >= row["base_mb"] > 0 for row in memory.values()), memory
