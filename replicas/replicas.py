"""Start the bundled replicas of both APIs on loopback, for trying the README's examples and
command lines without an account::

    python replicas/replicas.py              # Altan on :8765, Pipedream on :8766; Ctrl-C stops both

It prints the ``export`` lines that point the clients, their command lines and
``examples/demo.py`` at the replicas; paste them into another shell. The Altan replica accepts
the README's key, ``your-api-key``. The Pipedream replica accepts the printed client id and
secret for its one project, and serves a workflow endpoint (it echoes each request) at the
printed URL: use that URL where the README uses an endpoint id such as ``en123abc``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import threading
from typing import List, Optional

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import altan_replica  # noqa: E402
import pipedream_replica  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run local replicas of the Altan and Pipedream APIs.")
    parser.add_argument("--altan-port", type=int, default=8765, help="0 picks a free port (default 8765)")
    parser.add_argument("--pipedream-port", type=int, default=8766, help="0 picks a free port (default 8766)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    altan_server, altan_url = altan_replica.start(args.altan_port, verbose=args.verbose)
    pipedream_server, pipedream_url = pipedream_replica.start(args.pipedream_port, verbose=args.verbose)
    try:
        print("Altan replica on %s, Pipedream replica on %s. Paste into your shell:" % (altan_url, pipedream_url))
        print()
        print(altan_replica.export_line(altan_server))
        print(pipedream_replica.export_line(pipedream_server))
        print()
        print("Pipedream workflows: use %s in place of an endpoint id like en123abc." % pipedream_server.workflow_url())
        print("Ctrl-C stops both replicas.", flush=True)
        try:
            threading.Event().wait()  # until Ctrl-C (SIGINT)
        except KeyboardInterrupt:
            pass
    finally:
        altan_replica.stop(altan_server)
        pipedream_replica.stop(pipedream_server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
