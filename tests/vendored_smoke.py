"""Smoke test for one vendored module, run by tests/test_vendoring.py under every CPython
found, as ``python -I -S vendored_smoke.py altan|pipedream`` in a folder that holds only
this file and the module: a local server, sync and async calls, and an error path."""

import asyncio
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-ID", "req-smoke")
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        if self.path == "/v1/oauth/token":
            return self.answer(200, {"access_token": "smoke-token", "token_type": "Bearer", "expires_in": 3600})
        if "missing" in self.path:
            return self.answer(404, {"detail": "Connection not found", "error": "not found"})
        if self.command == "POST":
            return self.answer(200, {"success": True, "data": {"echo": body}})
        return self.answer(200, {"data": [{"id": "abc123", "name": "Smoke"}], "page_info": {}})

    do_GET = do_POST = handle_any


def main(module_name):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % server.server_port
    try:
        if module_name == "altan":
            import altan as module

            sync = module.AltanActionsClient("smoke-key", url, timeout=10)
            assert sync.list_connections()["data"][0]["id"] == "abc123"
            assert sync.execute_action("abc123", "send", {"a": 1})["result"] == {"echo": {"payload": {"a": 1}}}
            failing = lambda: sync.get_connection("missing")  # noqa: E731
            error_class = module.AltanActionError

            async def run_async():
                async with module.AsyncAltanActionsClient("smoke-key", url, timeout=10) as client:
                    results = await asyncio.gather(
                        client.list_connections(), client.get_connection("missing"), return_exceptions=True
                    )
                    assert results[0]["data"][0]["name"] == "Smoke" and isinstance(results[1], error_class)
        else:
            import pipedream as module

            sync = module.SyncPipedreamClient("cid", "csecret", "proj_smoke", "development", base_url=url, timeout=10)
            assert sync.get_accounts(external_user_id="u1")["data"][0]["id"] == "abc123"
            failing = lambda: sync.get_account_by_id("missing")  # noqa: E731
            error_class = module.PipedreamApiError

            async def run_async():
                async with module.PipedreamClient(
                    "cid", "csecret", "proj_smoke", environment="development", base_url=url, timeout=10
                ) as client:
                    results = await asyncio.gather(client.get_apps(), client.get_app("missing"), return_exceptions=True)
                    assert results[0]["data"][0]["name"] == "Smoke" and isinstance(results[1], error_class)
                    assert client.token_requests == 1

        try:
            failing()
            raise AssertionError("no error raised")
        except error_class as error:
            assert error.status_code == 404 and error.request_id == "req-smoke", error
        asyncio.run(run_async())
        sync.close()
    finally:
        server.shutdown()
        server.server_close()
    print("%s ok on Python %s" % (module_name, sys.version.split()[0]))


if __name__ == "__main__":
    main(sys.argv[1])
