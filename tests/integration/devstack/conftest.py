"""A stand-in for the services, so the devstack's process handling is tested on its own."""

import sys
from pathlib import Path

import pytest

# A stand-in for kolot-<name>: an HTTP server on KOLOT_HTTP_PORT whose /readyz answers 200 and
# /env shows the environment it was given. FAKE_MODE makes it misbehave on purpose.
FAKE_SERVICE = r"""
import json, os, signal, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

mode = os.environ.get("FAKE_MODE", "ok")
print(f"fake service starting in mode {mode}", flush=True)
if mode == "crash":
    print("fatal: MONGODB_URL is not a MongoDB server", file=sys.stderr, flush=True)
    sys.exit(3)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/readyz":
            status, body = (503, b"{}") if mode == "never-ready" else (200, b"{}")
        elif self.path == "/env":
            status, body = 200, json.dumps(dict(os.environ)).encode()
        else:
            status, body = 404, b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["KOLOT_HTTP_PORT"])), Handler)
print(f"fake service listening on {server.server_address[1]}", flush=True)
server.serve_forever()
"""


@pytest.fixture
def fake_service(tmp_path: Path) -> list[str]:
    script = tmp_path / "fake_service.py"
    script.write_text(FAKE_SERVICE)
    return [sys.executable, str(script)]
