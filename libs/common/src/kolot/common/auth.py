"""Who is calling: staff bearer JWTs with roles, and participants' signed tokens.

Staff tokens are verified with HS256 and a shared secret in development, and against the identity
provider's JWKS (OIDC) in production. Participant tokens are issued by intake, carry only a
pseudonymous participant id, and are verified by any service that holds the participant secret.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

PARTICIPANT_TOKEN_TYPE = "kolot-participant"  # noqa: S105 (a token type, not a secret)
PARTICIPANT_ISSUER = "kolot/intake"


class Role(StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    ANALYST = "analyst"
    INTEGRATOR = "integrator"


class AuthError(Exception):
    """A token is missing, malformed, expired or lacks the role asked for."""

    def __init__(self, detail: str, *, status: int = 401) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


@dataclass(frozen=True, slots=True)
class Staff:
    subject: str
    roles: frozenset[Role]

    def require(self, *allowed: Role) -> None:
        # admin may do everything staff can do
        if Role.ADMIN in self.roles or self.roles.intersection(allowed):
            return
        wanted = ", ".join(r.value for r in allowed)
        raise AuthError(f"this call needs one of the roles: {wanted}", status=403)


@dataclass(frozen=True, slots=True)
class Participant:
    participant_id: str
    circles: frozenset[str] = frozenset()
    """Closed circles the participant belongs to (invitation redeemed or verified)."""
    kind: str = "person"


class StaffVerifier:
    """Verifies staff bearer tokens: HS256 with a secret, or RS/ES keys from a JWKS URL."""

    def __init__(
        self,
        *,
        secret: str | None,
        jwks_url: str | None = None,
        algorithms: Iterable[str] = ("HS256",),
        issuer: str | None = None,
        audience: str | None = None,
    ) -> None:
        if not secret and not jwks_url:
            raise ValueError("a staff verifier needs a secret or a JWKS URL")
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self._algorithms = list(algorithms) if not jwks_url else ["RS256", "ES256", "PS256"]
        self._issuer = issuer
        self._audience = audience

    async def verify_async(self, token: str) -> Staff:
        """``verify`` without blocking the event loop: fetching the identity provider's keys (at
        start and when they rotate) is a blocking HTTP call, so it runs in a thread."""
        if self._jwks is None:
            return self.verify(token)
        return await asyncio.to_thread(self.verify, token)

    def verify(self, token: str) -> Staff:
        try:
            # the provider's key as a PyJWK, not its bare key: PyJWT then refuses a token whose
            # header names another algorithm than the key's (an ES256 header on an RSA key
            # raised a TypeError, a 500, instead of a refusal)
            key: Any = self._jwks.get_signing_key_from_jwt(token) if self._jwks else self._secret
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid staff token: {exc}") from exc
        raw_roles = claims.get("roles", [])
        if isinstance(raw_roles, str):
            raw_roles = raw_roles.split()
        if not isinstance(raw_roles, list):
            # a list of names or a space-separated string, nothing else: iterating a number
            # failed with a 500, and iterating an object read {"admin": false} as admin
            raise AuthError("the staff token's roles claim is not a list of role names", status=403)
        roles = frozenset(Role(r) for r in raw_roles if r in Role.__members__.values())
        if not roles:
            raise AuthError("the staff token carries no Kolot role", status=403)
        return Staff(subject=str(claims["sub"]), roles=roles)


def issue_staff_token(
    secret: str, *, roles: Iterable[Role | str], subject: str = "dev", ttl: int = 12 * 3600
) -> str:
    """A staff token signed with a shared secret (development and tests; production uses OIDC)."""
    now = int(time.time())
    claims = {"sub": subject, "roles": [Role(r).value for r in roles], "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm="HS256")


def issue_participant_token(
    secret: str,
    participant_id: str,
    *,
    circles: Iterable[str] = (),
    kind: str = "person",
    ttl: int = 365 * 86400,
) -> str:
    """A participant's token. Memberships travel in it, so checking access reads no store."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": participant_id,
        "typ": PARTICIPANT_TOKEN_TYPE,
        "iss": PARTICIPANT_ISSUER,
        "iat": now,
        "exp": now + ttl,
    }
    if circles:
        claims["circles"] = sorted(set(circles))
    if kind != "person":
        claims["kind"] = kind
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_participant_token(secret: str, token: str) -> Participant:
    return _verify_participant(secret, token)[0]


def _verify_participant(secret: str, token: str) -> tuple[Participant, float]:
    """The participant and the token's expiry (seconds since the epoch)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=PARTICIPANT_ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid participant token: {exc}") from exc
    if claims.get("typ") != PARTICIPANT_TOKEN_TYPE:
        raise AuthError("not a participant token")
    circles = claims.get("circles") or []
    participant = Participant(
        participant_id=str(claims["sub"]),
        circles=frozenset(str(c) for c in circles) if isinstance(circles, list) else frozenset(),
        kind=str(claims.get("kind", "person")),
    )
    return participant, float(claims["exp"])


MAX_REMEMBERED = 50_000
"""Verified participant tokens remembered at most per process."""


class ParticipantTokens:
    """Verifies participant tokens, remembering the ones already verified until they expire.

    A verified token is an immutable signed string, so remembering it is as safe as verifying it
    again, and it saves the JWT decoding (~70 us) on every further request of that participant.
    The memory is bounded: when full, it is cleared (the cost is one verification per token).
    An entry (the token and its participant) takes some 850 bytes: the bound of 50,000 keeps it
    near 40 MiB. A national run with 245,000 participants took intake's RSS to 255 MiB with a
    bound of 200,000 (~160 MiB of remembered tokens).

    A participant who asked to be erased is revoked: their tokens (valid for a year) are refused
    from then on, so nothing new can be linked to the identity that was just unlinked.
    """

    def __init__(self, secret: str, *, max_entries: int = MAX_REMEMBERED) -> None:
        self._secret = secret
        self._verified: dict[str, tuple[Participant, float]] = {}
        self._max_entries = max_entries
        self._revoked: set[str] = set()

    def __len__(self) -> int:
        """Tokens remembered now."""
        return len(self._verified)

    def revoke(self, participant_id: str) -> None:
        self._revoked.add(participant_id)

    def verify(self, token: str) -> Participant:
        known = self._verified.get(token)
        if known is not None:
            participant, expires = known
            if time.time() < expires:
                return self._unless_revoked(participant)
            del self._verified[token]
        participant, expires = _verify_participant(self._secret, token)
        if len(self._verified) >= self._max_entries:
            self._verified.clear()
        self._verified[token] = (participant, expires)
        return self._unless_revoked(participant)

    def _unless_revoked(self, participant: Participant) -> Participant:
        if participant.participant_id in self._revoked:
            raise AuthError("this participant was erased: register again to take part")
        return participant
