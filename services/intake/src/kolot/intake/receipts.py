"""Receipts: a signed statement of what a participant submitted and when.

A receipt is a compact JWS (HS256 with the receipt secret) over the contribution id, the campaign,
the time and the SHA-256 of the cleaned text. The participant keeps it; intake can later verify it,
e.g. against a claim that a comment was falsely attributed or altered.
"""

from __future__ import annotations

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


def sign_receipt(secret: str, receipt: Receipt) -> str:
    claims = {
        "typ": RECEIPT_TYPE,
        "id": receipt.contribution_id,
        "campaign_id": receipt.campaign_id,
        "kind": receipt.kind,
        "submitted_at": receipt.submitted_at.isoformat(),
        "sha256": receipt.text_sha256,
        "iss": "kolot/intake",
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_receipt(secret: str, token: str) -> Receipt:
    """Raises ``jwt.PyJWTError`` when the receipt was not issued by this installation."""
    claims = jwt.decode(token, secret, algorithms=["HS256"], issuer="kolot/intake")
    if claims.get("typ") != RECEIPT_TYPE:
        raise jwt.InvalidTokenError("not a Kolot receipt")
    return Receipt(
        contribution_id=claims["id"],
        campaign_id=claims["campaign_id"],
        kind=claims["kind"],
        submitted_at=datetime.fromisoformat(claims["submitted_at"]),
        text_sha256=claims.get("sha256"),
    )
