"""Forged and tampered JWTs, built by hand: what an attacker sends, not what PyJWT would sign.

PyJWT refuses to produce some of these (an HMAC keyed with a public key, an unsigned token with
an algorithm header of our choosing), so tokens are assembled from their three parts here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def assemble(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return f"{_segment(header)}.{_segment(claims)}.{b64url(signature)}"


def hs256_with(key: bytes, claims: dict[str, Any], **header: Any) -> str:
    """An HS256 token keyed with any bytes (e.g. a public key: the algorithm-confusion attack)."""
    head = {"alg": "HS256", "typ": "JWT", **header}
    signing_input = f"{_segment(head)}.{_segment(claims)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def unsigned(claims: dict[str, Any], *, alg: str = "none", **header: Any) -> str:
    """``alg: none`` (in any spelling) with an empty signature."""
    return assemble({"alg": alg, "typ": "JWT", **header}, claims)


def with_claims(token: str, **changes: Any) -> str:
    """The token with its payload changed and its original signature kept (tampering)."""
    head, payload, signature = token.split(".")
    claims = {**json.loads(unb64url(payload)), **changes}
    return f"{head}.{_segment(claims)}.{signature}"


def with_bad_signature(token: str) -> str:
    """The token with one byte of its signature flipped."""
    head, payload, signature = token.split(".")
    raw = bytearray(unb64url(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{payload}.{b64url(bytes(raw))}"


def now() -> int:
    return int(time.time())
