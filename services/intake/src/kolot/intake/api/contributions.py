"""Contributions: comments and replies, survey responses, votes, flags, appeals, visits; and the
public reads of what was published."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Literal

import jwt
from fastapi import APIRouter, Query, Request, Response, status

from kolot.common.problems import Problem
from kolot.common.store import Document
from kolot.intake.api.deps import (
    ContributorDep,
    IdempotencyKey,
    OptionalParticipantDep,
    OriginDep,
    ParticipantDep,
    ServiceDep,
    bearer,
    contributor,
    idempotency_key_of,
    lean_route,
    validated_body,
)
from kolot.intake.receipts import verify_receipt
from kolot.intake.rules import circle_refusal, visible_circles
from kolot.intake.schemas import (
    Accepted,
    AppealCreate,
    CommentCreate,
    CommentOwnView,
    CommentPage,
    CommentPublic,
    FlagCreate,
    ReceiptCheck,
    ReceiptVerdict,
    ResponseCreate,
    VisitCreate,
    VoteCreate,
)
from kolot.intake.service import IntakeError, IntakeService
from kolot.intake.text import clean_text, sha256_hex

router = APIRouter(prefix="/v1", tags=["contributions"])


@router.post("/campaigns/{campaign_id}/visits", status_code=status.HTTP_202_ACCEPTED)
async def record_visit(
    campaign_id: str,
    body: VisitCreate,
    service: ServiceDep,
    visitor: OptionalParticipantDep,
    _: OriginDep,
) -> dict[str, str]:
    visit_id = await service.record_visit(campaign_id, body, visitor=visitor)
    return {"id": visit_id}


@router.post(
    "/campaigns/{campaign_id}/comments",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a comment; 202 once the bus has stored it, with a signed receipt",
    response_model=Accepted,
    openapi_extra=lean_route(CommentCreate, idempotent=True),
)
async def submit_comment(campaign_id: str, request: Request) -> Response:
    """The flash crowd's path. The token, the Idempotency-Key and the body are read and checked
    here, by the same rules and with the same problems, rather than by FastAPI's dependency
    machinery, which costs more per request than everything else intake does before the
    publish (bench/intake.py)."""
    author = await contributor(request, bearer(request))
    idempotency_key = idempotency_key_of(request)
    body = await validated_body(request, CommentCreate)
    service: IntakeService = request.app.state.intake
    submitted = await service.submit_comment(
        campaign_id,
        body,
        author=author.participant,
        idempotency_key=idempotency_key,
        origin=author.origin,
    )
    return Response(
        Accepted(id=submitted.id, receipt=submitted.receipt).model_dump_json(),
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
    )


_KEY = r"\d{8}T\d{6}\.\d{6}Z\.[0-9a-f-]{36}"
_CURSORS = {"newest": re.compile(rf"^{_KEY}$"), "supported": re.compile(rf"^\d{{12}}\.{_KEY}$")}
Order = Literal["newest", "supported"]


def _decode_cursor(cursor: str | None, order: Order) -> str | None:
    if not cursor:
        return None
    try:
        padded = cursor.encode() + b"=" * (-len(cursor) % 4)
        decoded = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not _CURSORS[order].match(decoded):
        raise Problem(
            400,
            "bad-cursor",
            "Invalid cursor",
            "pass next_cursor exactly as given, with the same sort",
        )
    return decoded


def _encode_cursor(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def _public(doc: Document) -> CommentPublic:
    return CommentPublic(
        id=doc["_id"],
        text=doc.get("public_text", ""),
        language=doc.get("language"),
        parent_id=doc.get("parent_id"),
        depth=doc.get("depth") or 0,
        circle=doc.get("circle"),
        kind=doc.get("kind") or "person",
        support=doc.get("support") or 0,
        replies=doc.get("replies") or 0,
        created_at=doc.get("created_at"),
        published_at=doc.get("published_at"),
    )


Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=200)]


@router.get("/campaigns/{campaign_id}/comments")
async def list_published_comments(
    campaign_id: str,
    service: ServiceDep,
    reader: OptionalParticipantDep,
    cursor: Cursor = None,
    limit: Limit = 20,
    sort: Order = "newest",
    circle: Annotated[str | None, Query(max_length=64)] = None,
) -> CommentPage:
    """Published comments (redacted text), newest or most supported first, with their replies
    counted. A closed circle's comments are shown to its members, with what other circles
    forward to it."""
    circles: list[str | None] = [None]
    if circle is not None:
        campaign = await service.directory.get(campaign_id)
        if campaign is None or campaign.status == "draft":
            raise Problem(404, "campaign-not-found", "No such consultation", campaign_id)
        refusal = circle_refusal(campaign, circle, reader) if reader else None
        if reader is None and (found := campaign.circle(circle)) and found.access != "public":
            raise Problem(401, "unauthorized", "Members only", "send your participant token")
        if refusal:
            raise IntakeError.of(refusal)
        if campaign.circle(circle) is None:
            raise Problem(404, "unknown-circle", "No such circle", f"no circle {circle}")
        circles = list(visible_circles(campaign, circle))
    field = "sort_key" if sort == "newest" else "rank"
    docs = await service.repository.published_comments(
        campaign_id,
        before=_decode_cursor(cursor, sort),
        limit=limit,
        order=field,
        circles=circles,
    )
    next_cursor = _encode_cursor(docs[-1][field]) if len(docs) == limit else None
    return CommentPage(items=[_public(doc) for doc in docs], next_cursor=next_cursor)


@router.get("/comments/{comment_id}/replies")
async def list_replies(
    comment_id: str, service: ServiceDep, cursor: Cursor = None, limit: Limit = 50
) -> CommentPage:
    """Published replies to a comment, oldest first (a conversation reads in order)."""
    parent = await service.repository.get_comment(comment_id)
    if parent is None or parent.get("status") != "published" or parent.get("circle"):
        # closed circles' threads are read through the circle's list, by members
        raise Problem(404, "comment-not-found", "No such comment", f"no published {comment_id}")
    docs = await service.repository.replies(
        comment_id, after=_decode_cursor(cursor, "newest"), limit=limit
    )
    next_cursor = _encode_cursor(docs[-1]["sort_key"]) if len(docs) == limit else None
    return CommentPage(items=[_public(doc) for doc in docs], next_cursor=next_cursor)


@router.post("/campaigns/{campaign_id}/responses", status_code=status.HTTP_202_ACCEPTED)
async def submit_response(
    campaign_id: str,
    body: ResponseCreate,
    service: ServiceDep,
    author: ContributorDep,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Answer the consultation's survey; a later response by the same participant replaces it."""
    done = await service.submit_response(
        campaign_id,
        body,
        author=author.participant,
        idempotency_key=idempotency_key,
        origin=author.origin,
    )
    return Accepted(id=done.id, status="accepted", receipt=done.receipt)


@router.post("/comments/{comment_id}/votes", status_code=status.HTTP_202_ACCEPTED)
async def cast_vote(
    comment_id: str,
    body: VoteCreate,
    service: ServiceDep,
    voter: ContributorDep,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Support (1) or oppose (-1) a comment: one vote per participant, a new one replaces it."""
    done = await service.cast_vote(
        comment_id,
        body,
        voter=voter.participant,
        idempotency_key=idempotency_key,
        origin=voter.origin,
    )
    return Accepted(id=done.id, status="accepted", receipt=done.receipt)


@router.post("/comments/{comment_id}/flags", status_code=status.HTTP_202_ACCEPTED)
async def flag_comment(
    comment_id: str, body: FlagCreate, service: ServiceDep, reporter: ContributorDep
) -> dict[str, str]:
    """Report a comment (one report per participant); enough reports hide it for review."""
    flag_id = await service.flag_comment(comment_id, body, reporter=reporter.participant)
    return {"id": flag_id, "status": "accepted"}


@router.post("/comments/{comment_id}/appeals", status_code=status.HTTP_202_ACCEPTED)
async def file_appeal(
    comment_id: str, body: AppealCreate, service: ServiceDep, author: ContributorDep
) -> dict[str, str]:
    """The author contests a rejection or a hiding; a different moderator decides."""
    appeal_id = await service.file_appeal(comment_id, body, author=author.participant)
    return {"id": appeal_id, "status": "filed"}


@router.get("/comments/{comment_id}")
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
    return own_view(doc)


def own_view(doc: Document) -> CommentOwnView:
    """A comment as its author sees it (the JSON API and the participation page alike): the
    statement of reasons once there is a decision, not while it waits for one."""
    decided = doc.get("status") in {"published", "rejected", "hidden", "clustered"}
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
        appeal_status=doc.get("appeal_status"),
        appeal_statement=doc.get("appeal_statement"),
    )


@router.post("/receipts/verify")
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
