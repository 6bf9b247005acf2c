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
from typing import Any, Dict

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run_quick(measures: str, report_path: pathlib.Path, timeout: float) -> Dict[str, Any]:
    """``benchmarks/run.py --quick --only MEASURES --ours-only``; its JSON report's results."""
    command = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--only", measures]
    command += ["--ours-only", "--no-pin", "--json", str(report_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    results: Dict[str, Any] = json.loads(report_path.read_text())["results"]
    return results


def test_benchmark_token_measure_makes_one_token_request(tmp_path: pathlib.Path) -> None:
    rows = run_quick("token", tmp_path / "token.json", 120)["token"]["rows"]
    for client in ("pipedream", "pipedream-async"):
        assert rows[client]["first_calls_tokens"] == 1, (client, rows[client])
        assert rows[client]["steady_tokens"] == 0, (client, rows[client])


def test_benchmark_saturation_measures_run(tmp_path: pathlib.Path) -> None:
    """The saturation and in-flight memory measures of issue 15 run with tiny sizes and
    report every row; their times are not compared here."""
    results = run_quick("saturation,inflight", tmp_path / "saturation.json", 300)
    saturation = results["saturation"]["rows"]
    for peer in ("raw-async", "altan-async", "pipedream-async", "raw-threads", "altan", "pipedream"):
        row = saturation["%s 100" % peer]
        assert row["warm_ms"] > 0 and row["cpu_us"] > 0, (peer, row)
        assert row["threads"] == 64, (peer, row)
    assert saturation["altan-async 100 w16"]["threads"] == 16
    memory = results["inflight"]["rows"]
    assert set(memory) == {"raw-async", "altan-async", "pipedream-async", "raw-threads", "altan", "pipedream"}
    assert all(row["peak_mb"] >= row["base_mb"] > 0 for row in memory.values()), memory
