"""What intake's routes depend on: the service, who calls, rate limits, idempotency keys."""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, ValidationError

from kolot.common.auth import AuthError, Participant, ParticipantTokens, Role, Staff
from kolot.common.problems import Problem, problem_response
from kolot.common.web import BearerDep, require_staff
from kolot.intake.ratelimit import RateLimiter
from kolot.intake.service import IntakeError, IntakeService, Origin


async def get_service(request: Request) -> IntakeService:
    # async: a plain function dependency would hop to a worker thread on every request
    service: IntakeService = request.app.state.intake
    return service


ServiceDep = Annotated[IntakeService, Depends(get_service)]
AdminDep = Annotated[Staff, Depends(require_staff(Role.ADMIN))]


async def on_intake_error(request: Request, exc: Exception) -> JSONResponse:
    """Every refusal of the service, as a problem document (registered on intake's app)."""
    assert isinstance(exc, IntakeError)
    return problem_response(request, exc.status, exc.kind, exc.title, exc.detail, **exc.extensions)


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
    service: IntakeService = request.app.state.intake
    return Origin(client_ref=service.client_ref(address))


OriginDep = Annotated[Origin, Depends(address_origin)]


def _tokens(request: Request) -> ParticipantTokens:
    tokens: ParticipantTokens = request.app.state.participant_tokens
    return tokens


async def current_participant(request: Request, credentials: BearerDep) -> Participant:
    if credentials is None:
        raise AuthError("this call needs the participant token from POST /v1/participants")
    return _tokens(request).verify(credentials.credentials)


async def optional_participant(request: Request, credentials: BearerDep) -> Participant | None:
    if credentials is None:
        return None
    return _tokens(request).verify(credentials.credentials)


@dataclass(frozen=True, slots=True)
class Contributor:
    participant: Participant
    origin: Origin


async def contributor(request: Request, credentials: BearerDep) -> Contributor:
    """A participant within their rate limits, and where the request came from.

    One dependency for the whole check (the contribution routes are the hot path, and each
    dependency FastAPI solves costs time). The participant limit is checked after the token,
    so forged tokens cannot spend someone else's allowance.
    """
    return await admit(request, await current_participant(request, credentials))


async def admit(
    request: Request, participant: Participant, *, origin: Origin | None = None
) -> Contributor:
    """``participant`` within their rate limits and their address's (the pages' forms too);
    ``origin``: the address was checked already (before registering a new participant)."""
    limits = _limits(request)
    wait = limits.participant.check(participant.participant_id)
    if wait:
        raise _too_many(wait, "participant")
    return Contributor(participant=participant, origin=origin or await address_origin(request))


ParticipantDep = Annotated[Participant, Depends(current_participant)]
ContributorDep = Annotated[Contributor, Depends(contributor)]
OptionalParticipantDep = Annotated[Participant | None, Depends(optional_participant)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=128, pattern=r"^[\x21-\x7e]+$"),
]


M = TypeVar("M", bound=BaseModel)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def validated_body(request: Request, model: type[M]) -> M:
    """The JSON body as ``model``, or the same 422 problem FastAPI's own validation gives."""
    raw = await request.body()
    if not _is_json(request.headers.get("content-type")):
        # as FastAPI does (strict content type): a body not declared JSON is not read as JSON,
        # so a plain-text or form post cannot pass for one
        raise RequestValidationError(
            [
                {
                    "type": "model_attributes_type",
                    "loc": ("body",),
                    "msg": "send the body as JSON, with Content-Type: application/json",
                    "input": raw[:100].decode("utf-8", "replace"),
                }
            ],
            body=raw,
        )
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors, body=raw) from exc


def bearer(request: Request) -> HTTPAuthorizationCredentials | None:
    """What ``BearerDep`` gives, read directly (for routes that skip FastAPI's dependencies)."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not token:
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=token)


_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")


def idempotency_key_of(request: Request) -> str | None:
    """What ``IdempotencyKey`` gives, read directly: printable ASCII, at most 128 characters."""
    key = request.headers.get("idempotency-key")
    if key is None or _IDEMPOTENCY_KEY.match(key):
        return key
    raise RequestValidationError(
        [
            {
                "type": "string_pattern_mismatch",
                "loc": ("header", "Idempotency-Key"),
                "msg": "give at most 128 printable ASCII characters (e.g. a UUID)",
                "input": key,
            }
        ]
    )


def lean_route(model: type[BaseModel], *, idempotent: bool) -> dict[str, Any]:
    """The OpenAPI of a route that reads its token, key and body itself (see ``bearer``,
    ``idempotency_key_of`` and ``validated_body``): what FastAPI would have documented."""
    extra: dict[str, Any] = {
        "security": [{"HTTPBearer": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        },
    }
    if idempotent:
        extra["parameters"] = [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 128, "pattern": "^[\\x21-\\x7e]+$"},
            }
        ]
    return extra
