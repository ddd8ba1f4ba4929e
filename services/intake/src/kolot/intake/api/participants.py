"""Participants: anonymous by default, organisations as kinds, invitations, erasure."""

from __future__ import annotations

from fastapi import APIRouter, status

from kolot.intake.api.deps import (
    IdempotencyKey,
    OriginDep,
    ParticipantDep,
    ServiceDep,
)
from kolot.intake.schemas import InvitationRedeem, ParticipantCreate, ParticipantCreated
from kolot.intake.service import Registered

router = APIRouter(prefix="/v1", tags=["participants"])


def _created(registered: Registered) -> ParticipantCreated:
    return ParticipantCreated(
        participant_id=registered.participant_id,
        token=registered.token,
        circles=registered.circles,
    )


@router.post("/participants", status_code=status.HTTP_201_CREATED)
async def register_participant(
    body: ParticipantCreate,
    service: ServiceDep,
    _: OriginDep,
    idempotency_key: IdempotencyKey = None,
) -> ParticipantCreated:
    """A pseudonymous participant token; contact details only with consent, sealed at once."""
    return _created(await service.register_participant(body, idempotency_key=idempotency_key))


@router.post("/participants/me/invitations")
async def redeem_invitation(
    body: InvitationRedeem, service: ServiceDep, participant: ParticipantDep
) -> ParticipantCreated:
    """Join a closed circle with an invitation; answers a new token that carries the membership."""
    return _created(await service.redeem_invitation(participant, body.invitation))


@router.post("/participants/me/token")
async def refresh_token(service: ServiceDep, participant: ParticipantDep) -> ParticipantCreated:
    """A new token with every membership granted since (e.g. after the ministry verified you)."""
    return _created(await service.refresh_token(participant))


@router.delete("/participants/me", status_code=status.HTTP_202_ACCEPTED)
async def erase_participant(service: ServiceDep, participant: ParticipantDep) -> dict[str, str]:
    """Erasure: contact details and memberships are deleted in every service; contributions stay,
    without their author."""
    await service.erase_participant(participant)
    return {"participant_id": participant.participant_id, "status": "erasure-requested"}
