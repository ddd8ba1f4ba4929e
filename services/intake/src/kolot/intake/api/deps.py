"""What intake's routes depend on: the service, who calls, rate limits, idempotency keys."""

from __future__ import annotations

import ipaddress
import math
from typing import Annotated

from fastapi import Depends, Header, Request

from kolot.common.auth import AuthError, Participant, Role, Staff, verify_participant_token
from kolot.common.problems import Problem
from kolot.common.web import BearerDep, require_staff
from kolot.intake.ratelimit import RateLimiter
from kolot.intake.service import IntakeError, IntakeService, Origin


def get_service(request: Request) -> IntakeService:
    service: IntakeService = request.app.state.intake
    return service


ServiceDep = Annotated[IntakeService, Depends(get_service)]
AdminDep = Annotated[Staff, Depends(require_staff(Role.ADMIN))]


def problem(exc: IntakeError) -> Problem:
    return Problem(exc.status, exc.kind, exc.title, exc.detail, **exc.extensions)


class Limits:
    """The per-replica rate limiters and the proxies whose X-Forwarded-For is believed."""

    def __init__(
        self,
        *,
        participant: RateLimiter,
        address: RateLimiter,
        trusted_proxies: tuple[str, ...],
    ) -> None:
        self.participant = participant
        self.address = address
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def client_address(self, request: Request) -> str:
        peer = request.client.host if request.client else ""
        if self.trusted and _within(peer, self.trusted):
            # the rightmost address a trusted proxy did not add is the client's
            hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")]
            for hop in reversed([h for h in hops if h]):
                if not _within(hop, self.trusted):
                    return hop
        return peer


def _within(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _limits(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


def _too_many(wait: float, who: str) -> Problem:
    seconds = max(1, math.ceil(wait))
    return Problem(
        429,
        "rate-limited",
        "Too many requests",
        f"too many requests from this {who}; try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
        retry_after=seconds,
    )


async def address_origin(request: Request) -> Origin:
    """Checks the per-address limit; the origin carries a keyed hash of the address onward."""
    limits = _limits(request)
    address = limits.client_address(request)
    wait = limits.address.check(address)
    if wait:
        raise _too_many(wait, "address")
    return Origin(client_ref=get_service(request).client_ref(address))


OriginDep = Annotated[Origin, Depends(address_origin)]


def _participant_secret(request: Request) -> str:
    secret: str = request.app.state.runtime.settings.participant_secret.get_secret_value()
    return secret


async def current_participant(request: Request, credentials: BearerDep) -> Participant:
    if credentials is None:
        raise AuthError("this call needs the participant token from POST /v1/participants")
    return verify_participant_token(_participant_secret(request), credentials.credentials)


async def optional_participant(request: Request, credentials: BearerDep) -> Participant | None:
    if credentials is None:
        return None
    return verify_participant_token(_participant_secret(request), credentials.credentials)


async def contributor(
    request: Request, participant: Annotated[Participant, Depends(current_participant)]
) -> Participant:
    """A participant within their rate limit (checked after the token, so forged tokens cannot
    spend someone else's allowance)."""
    wait = _limits(request).participant.check(participant.participant_id)
    if wait:
        raise _too_many(wait, "participant")
    return participant


ParticipantDep = Annotated[Participant, Depends(current_participant)]
ContributorDep = Annotated[Participant, Depends(contributor)]
OptionalParticipantDep = Annotated[Participant | None, Depends(optional_participant)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=128, pattern=r"^[\x21-\x7e]+$"),
]
