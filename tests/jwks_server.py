"""An identity provider's JWKS endpoint on 127.0.0.1, for the services' RS256 staff tokens."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass
class KeyServer:
    """An HTTP server handing out one JWKS document, counting how often it is asked."""

    url: str
    fetches: list[str]


def key_set(key: rsa.RSAPrivateKey, *, kid: str = "k1") -> dict[str, Any]:
    """The JWKS document publishing ``key``'s public half for RS256 signatures."""
    public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"}]}


@contextmanager
def serve_jwks(document: dict[str, Any], *, path: str = "/certs") -> Iterator[KeyServer]:
    """Serves ``document`` at any path until the block ends; the server's URL ends in ``path``."""
    body = json.dumps(document).encode()
    fetches: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches.append(self.path)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield KeyServer(f"http://127.0.0.1:{server.server_port}{path}", fetches)
    finally:
        server.shutdown()
        server.server_close()
