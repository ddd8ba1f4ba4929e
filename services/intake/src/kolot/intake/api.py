"""Intake's HTTP routes (DESIGN.md, "Public HTTP contract v1")."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, Header, Query, Request, status

from kolot.common.auth import AuthError, Participant, Role, Staff, verify_participant_token
from kolot.common.problems import Problem
from kolot.common.web import BearerDep, require_staff
from kolot.intake.receipts import verify_receipt
from kolot.intake.schemas import (
    Accepted,
    CampaignCreate,
    CampaignList,
    CampaignPublic,
    CommentCreate,
    CommentOwnView,
    CommentPage,
    CommentPublic,
    ParticipantCreate,
    ParticipantCreated,
    ReceiptCheck,
    ReceiptVerdict,
    VisitCreate,
)
from kolot.intake.service import IntakeError, IntakeService, Transition
from kolot.intake.text import clean_text, sha256_hex


def get_service(request: Request) -> IntakeService:
    service: IntakeService = request.app.state.intake
    return service


ServiceDep = Annotated[IntakeService, Depends(get_service)]
AdminDep = Annotated[Staff, Depends(require_staff(Role.ADMIN))]


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


ParticipantDep = Annotated[Participant, Depends(current_participant)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=128, pattern=r"^[\x21-\x7e]+$"),
]

router = APIRouter(prefix="/v1")


def _problem(exc: IntakeError) -> Problem:
    return Problem(exc.status, exc.kind, exc.title, exc.detail)


@router.post("/campaigns", status_code=status.HTTP_201_CREATED, tags=["campaigns"])
async def create_campaign(body: CampaignCreate, service: ServiceDep, _: AdminDep) -> CampaignPublic:
    return CampaignPublic.of(await service.create_campaign(body))


@router.get("/campaigns", tags=["campaigns"])
async def list_campaigns(service: ServiceDep) -> CampaignList:
    campaigns = await service.repository.list_campaigns()
    return CampaignList(items=[CampaignPublic.of(c) for c in campaigns])


@router.get("/campaigns/{campaign_id}", tags=["campaigns"])
async def get_campaign(campaign_id: str, service: ServiceDep) -> CampaignPublic:
    campaign = await service.directory.get(campaign_id)
    if campaign is None:
        raise Problem(
            404, "campaign-not-found", "No such consultation", f"no campaign {campaign_id}"
        )
    return CampaignPublic.of(campaign)


async def _change(service: IntakeService, campaign_id: str, to: Transition) -> CampaignPublic:
    try:
        return CampaignPublic.of(await service.change_status(campaign_id, to))
    except IntakeError as exc:
        raise _problem(exc) from exc


@router.post("/campaigns/{campaign_id}/open", tags=["campaigns"])
async def open_campaign(campaign_id: str, service: ServiceDep, _: AdminDep) -> CampaignPublic:
    return await _change(service, campaign_id, "open")


@router.post("/campaigns/{campaign_id}/close", tags=["campaigns"])
async def close_campaign(campaign_id: str, service: ServiceDep, _: AdminDep) -> CampaignPublic:
    return await _change(service, campaign_id, "close")


@router.post("/participants", status_code=status.HTTP_201_CREATED, tags=["participants"])
async def register_participant(body: ParticipantCreate, service: ServiceDep) -> ParticipantCreated:
    participant_id, token = await service.register_participant(body)
    return ParticipantCreated(participant_id=participant_id, token=token)


@router.post(
    "/campaigns/{campaign_id}/visits", status_code=status.HTTP_202_ACCEPTED, tags=["contributions"]
)
async def record_visit(
    campaign_id: str,
    body: VisitCreate,
    service: ServiceDep,
    visitor: Annotated[Participant | None, Depends(optional_participant)],
) -> dict[str, str]:
    try:
        visit_id = await service.record_visit(campaign_id, body, visitor=visitor)
    except IntakeError as exc:
        raise _problem(exc) from exc
    return {"id": visit_id}


@router.post(
    "/campaigns/{campaign_id}/comments",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["contributions"],
    summary="Submit a comment; 202 once the bus has stored it, with a signed receipt",
)
async def submit_comment(
    campaign_id: str,
    body: CommentCreate,
    service: ServiceDep,
    author: ParticipantDep,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    try:
        submitted = await service.submit_comment(
            campaign_id, body, author=author, idempotency_key=idempotency_key
        )
    except IntakeError as exc:
        raise _problem(exc) from exc
    return Accepted(id=submitted.id, receipt=submitted.receipt)


_CURSOR = re.compile(r"^\d{8}T\d{6}\.\d{6}Z\.[0-9a-f-]{36}$")


def _decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        padded = cursor.encode() + b"=" * (-len(cursor) % 4)
        decoded = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not _CURSOR.match(decoded):
        raise Problem(400, "bad-cursor", "Invalid cursor", "pass next_cursor exactly as given")
    return decoded


def _encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


@router.get("/campaigns/{campaign_id}/comments", tags=["contributions"])
async def list_published_comments(
    campaign_id: str,
    service: ServiceDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CommentPage:
    docs = await service.repository.published_comments(
        campaign_id, before=_decode_cursor(cursor), limit=limit
    )
    items = [
        CommentPublic(
            id=doc["_id"],
            text=doc.get("public_text", ""),
            language=doc.get("language"),
            parent_id=doc.get("parent_id"),
            created_at=doc.get("created_at"),
            published_at=doc.get("published_at"),
        )
        for doc in docs
    ]
    next_cursor = _encode_cursor(docs[-1]["sort_key"]) if len(docs) == limit else None
    return CommentPage(items=items, next_cursor=next_cursor)


@router.get("/comments/{comment_id}", tags=["contributions"])
async def get_own_comment(
    comment_id: str, service: ServiceDep, author: ParticipantDep
) -> CommentOwnView:
    doc = await service.repository.get_comment(comment_id)
    # someone else's comment answers exactly like a missing one: existence is not disclosed
    if doc is None or doc.get("participant_id") != author.participant_id:
        raise Problem(
            404,
            "comment-not-found",
            "No such comment",
            "no comment with this id by you (it may take a moment to appear after submitting)",
        )
    decided = doc.get("status") in {"published", "rejected", "hidden"}
    return CommentOwnView(
        id=doc["_id"],
        campaign_id=doc.get("campaign_id", ""),
        text=doc.get("text", ""),
        status=doc.get("status", "pending"),
        created_at=doc.get("created_at"),
        published_text=doc.get("public_text"),
        decision=doc.get("decision") if decided else None,
        reasons=doc.get("reasons") or [] if decided else [],
        statement=doc.get("statement") if decided else None,
    )


@router.post("/receipts/verify", tags=["contributions"])
async def verify_a_receipt(body: ReceiptCheck, request: Request) -> ReceiptVerdict:
    secret = request.app.state.runtime.settings.receipt_secret.get_secret_value()
    try:
        receipt = verify_receipt(secret, body.receipt)
    except jwt.PyJWTError:
        return ReceiptVerdict(valid=False)
    matches = None
    if body.text is not None:
        matches = sha256_hex(clean_text(body.text)) == receipt.text_sha256
    return ReceiptVerdict(
        valid=True,
        id=receipt.contribution_id,
        campaign_id=receipt.campaign_id,
        submitted_at=receipt.submitted_at,
        text_matches=matches,
    )
