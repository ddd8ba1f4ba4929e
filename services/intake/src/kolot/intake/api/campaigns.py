"""Consultations: create, edit, open, close, archive; invitations; outcomes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, status

from kolot.common.auth import AuthError, Role
from kolot.common.problems import Problem
from kolot.common.web import BearerDep
from kolot.intake.api.deps import AdminDep, ServiceDep
from kolot.intake.schemas import (
    CampaignCreate,
    CampaignFields,
    CampaignList,
    CampaignPublic,
    InvitationCreate,
    InvitationsIssued,
    OutcomeCreate,
    OutcomeList,
    OutcomePublic,
    VerificationCreate,
)
from kolot.intake.service import IntakeService, Transition

router = APIRouter(prefix="/v1", tags=["campaigns"])


async def _is_admin(request: Request, credentials: BearerDep) -> bool:
    """Drafts are shown to admins only (a draft is reviewed in a closed circle first)."""
    if credentials is None:
        return False
    try:
        staff = await request.app.state.runtime.staff.verify_async(credentials.credentials)
    except AuthError:
        return False
    return Role.ADMIN in staff.roles


@router.post("/campaigns", status_code=status.HTTP_201_CREATED)
async def create_campaign(body: CampaignCreate, service: ServiceDep, _: AdminDep) -> CampaignPublic:
    return CampaignPublic.of(await service.create_campaign(body))


@router.patch("/campaigns/{campaign_id}")
async def update_campaign(
    campaign_id: str, body: CampaignFields, service: ServiceDep, _: AdminDep
) -> CampaignPublic:
    return CampaignPublic.of(await service.update_campaign(campaign_id, body))


@router.get("/campaigns")
async def list_campaigns(
    request: Request,
    service: ServiceDep,
    credentials: BearerDep,
    status_: Annotated[
        Literal["draft", "open", "closed", "archived"] | None, Query(alias="status")
    ] = None,
) -> CampaignList:
    visible = ["open", "closed", "archived"]
    if await _is_admin(request, credentials):
        visible.append("draft")
    statuses = [status_] if status_ in visible else visible if status_ is None else []
    campaigns = await service.repository.list_campaigns(statuses=statuses) if statuses else []
    return CampaignList(items=[CampaignPublic.of(c) for c in campaigns])


@router.get("/campaigns/{campaign_id}")
async def get_campaign(
    campaign_id: str, request: Request, service: ServiceDep, credentials: BearerDep
) -> CampaignPublic:
    campaign = await service.directory.get(campaign_id)
    if campaign is None or (
        campaign.status == "draft" and not await _is_admin(request, credentials)
    ):
        raise Problem(
            404, "campaign-not-found", "No such consultation", f"no campaign {campaign_id}"
        )
    return CampaignPublic.of(campaign)


async def _change(service: IntakeService, campaign_id: str, to: Transition) -> CampaignPublic:
    return CampaignPublic.of(await service.change_status(campaign_id, to))


@router.post("/campaigns/{campaign_id}/open")
async def open_campaign(campaign_id: str, service: ServiceDep, _: AdminDep) -> CampaignPublic:
    return await _change(service, campaign_id, "open")


@router.post("/campaigns/{campaign_id}/close")
async def close_campaign(campaign_id: str, service: ServiceDep, _: AdminDep) -> CampaignPublic:
    return await _change(service, campaign_id, "close")


@router.post("/campaigns/{campaign_id}/archive")
async def archive_campaign(campaign_id: str, service: ServiceDep, _: AdminDep) -> CampaignPublic:
    return await _change(service, campaign_id, "archive")


@router.post("/campaigns/{campaign_id}/invitations", status_code=status.HTTP_201_CREATED)
async def issue_invitations(
    campaign_id: str, body: InvitationCreate, service: ServiceDep, _: AdminDep
) -> InvitationsIssued:
    """Signed, single-use invitations to a circle (notify sends them with tracked links)."""
    return await service.issue_invitations(campaign_id, body)


@router.post(
    "/campaigns/{campaign_id}/participants/{participant_id}/verifications",
    status_code=status.HTTP_202_ACCEPTED,
)
async def verify_participant(
    campaign_id: str,
    participant_id: str,
    body: VerificationCreate,
    service: ServiceDep,
    _: AdminDep,
) -> dict[str, str]:
    """The ministry verified a participant for a circle; they refresh their token to use it."""
    await service.verify_participant(campaign_id, participant_id, body)
    return {"participant_id": participant_id, "circle": body.circle}


@router.post("/campaigns/{campaign_id}/outcomes", status_code=status.HTTP_201_CREATED)
async def publish_outcome(
    campaign_id: str, body: OutcomeCreate, service: ServiceDep, _: AdminDep
) -> OutcomePublic:
    """Closing the loop: what the ministry heard and what it decided ("we asked, you said,
    we did"); every contributor who consented is notified."""
    event = await service.publish_outcome(campaign_id, body)
    return OutcomePublic(
        id=event.data.outcome_id,
        campaign_id=campaign_id,
        summary=event.data.summary.model_dump(),
        decisions=[d.model_dump() for d in event.data.decisions],
        url=event.data.url,
        published_at=event.time,
    )


@router.get("/campaigns/{campaign_id}/outcomes")
async def list_outcomes(campaign_id: str, service: ServiceDep) -> OutcomeList:
    docs = await service.repository.outcomes(campaign_id)
    return OutcomeList(
        items=[
            OutcomePublic(
                id=doc["_id"],
                campaign_id=campaign_id,
                summary=doc.get("summary") or {},
                decisions=doc.get("decisions") or [],
                url=doc.get("url"),
                published_at=doc.get("published_at"),
            )
            for doc in docs
        ]
    )
