"""Receipts: a signed statement of what a participant submitted and when.

A receipt is a compact JWS (HS256 with the receipt secret) over the contribution id, the campaign,
the time and the SHA-256 of the cleaned text. The participant keeps it; intake can later verify it,
e.g. against a claim that a comment was falsely attributed or altered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

import jwt

RECEIPT_TYPE = "kolot-receipt"


@dataclass(frozen=True, slots=True)
class Receipt:
    contribution_id: str
    campaign_id: str
    kind: str
    submitted_at: datetime
    text_sha256: str | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_HEADER = _b64(b'{"alg":"HS256","typ":"JWT"}')


def sign_receipt(secret: str, receipt: Receipt) -> str:
    """A compact JWS (RFC 7515, HS256), which ``verify_receipt`` (PyJWT) checks.

    Signed here with hmac rather than through ``jwt.encode``: this runs on every contribution, and
    the library's generic path costs several times the HMAC itself.
    """
    claims = {
        "typ": RECEIPT_TYPE,
        "id": receipt.contribution_id,
        "campaign_id": receipt.campaign_id,
        "kind": receipt.kind,
        "submitted_at": receipt.submitted_at.isoformat(),
        "sha256": receipt.text_sha256,
        "iss": "kolot/intake",
    }
    payload = _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
    signing_input = f"{_HEADER}.{payload}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def verify_receipt(secret: str, token: str) -> Receipt:
    """Raises ``jwt.PyJWTError`` when the receipt was not issued by this installation."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer="kolot/intake")
    except UnicodeError as exc:  # e.g. a lone surrogate, which PyJWT lets through
        raise jwt.DecodeError("a receipt is ASCII") from exc
    if claims.get("typ") != RECEIPT_TYPE:
        raise jwt.InvalidTokenError("not a Kolot receipt")
    return Receipt(
        contribution_id=claims["id"],
        campaign_id=claims["campaign_id"],
        kind=claims["kind"],
        submitted_at=datetime.fromisoformat(claims["submitted_at"]),
        text_sha256=claims.get("sha256"),
    )
