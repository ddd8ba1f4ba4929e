"""Invitations to closed circles: signed, single-use, expiring.

An invitation is a compact JWS (HS256 with the participant secret, a distinct token type) naming
the campaign, the circle, whether redeeming it also verifies the participant (for ``verified``
circles, when the ministry checked who it invited), and an id. Redeeming records the id once in
intake's store, so a forwarded invitation cannot be used twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

INVITATION_TYPE = "kolot-invitation"


@dataclass(frozen=True, slots=True)
class Invitation:
    invitation_id: str
    campaign_id: str
    circle: str
    verified: bool
    source: str | None
    expires_at: int


def sign_invitation(secret: str, invitation: Invitation) -> str:
    claims = {
        "typ": INVITATION_TYPE,
        "jti": invitation.invitation_id,
        "campaign_id": invitation.campaign_id,
        "circle": invitation.circle,
        "verified": invitation.verified,
        "source": invitation.source,
        "iss": "kolot/intake",
        "iat": int(time.time()),
        "exp": invitation.expires_at,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_invitation(secret: str, token: str) -> Invitation:
    """Raises ``jwt.PyJWTError`` for a forged, altered or expired invitation."""
    claims = jwt.decode(
        token,
        secret,
        algorithms=["HS256"],
        issuer="kolot/intake",
        options={"require": ["exp", "jti", "iss"]},
    )
    if claims.get("typ") != INVITATION_TYPE:
        raise jwt.InvalidTokenError("not a Kolot invitation")
    return Invitation(
        invitation_id=str(claims["jti"]),
        campaign_id=str(claims["campaign_id"]),
        circle=str(claims["circle"]),
        verified=bool(claims.get("verified")),
        source=claims.get("source"),
        expires_at=int(claims["exp"]),
    )
