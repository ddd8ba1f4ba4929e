"""HTTP routes for moderators: the review queue and decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from kolot.common.auth import Role, Staff
from kolot.common.problems import Problem
from kolot.common.web import require_staff
from kolot.moderation.schemas import CommentReviewPublic, DecisionCreate, QueuePublic
from kolot.moderation.service import CommentNotFound, DecisionConflict, ModerationService


def get_service(request: Request) -> ModerationService:
    service: ModerationService = request.app.state.service
    return service


ServiceDep = Annotated[ModerationService, Depends(get_service)]
ModeratorDep = Annotated[Staff, Depends(require_staff(Role.MODERATOR))]
CommentId = Annotated[str, Path(min_length=1, max_length=64)]

router = APIRouter(prefix="/v1", tags=["moderation"])


@router.get("/queue", summary="Comments waiting for a moderator, oldest first")
async def queue(
    staff: ModeratorDep,
    service: ServiceDep,
    campaign_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> QueuePublic:
    records = await service.queue(campaign_id=campaign_id, limit=limit)
    return QueuePublic(items=[CommentReviewPublic.of(record) for record in records])


@router.post(
    "/comments/{comment_id}/decision",
    summary="Approve or reject a comment, with the reason its author will read",
    responses={404: {"description": "Unknown comment"}, 409: {"description": "Decided otherwise"}},
)
async def decision(
    comment_id: CommentId, body: DecisionCreate, staff: ModeratorDep, service: ServiceDep
) -> CommentReviewPublic:
    try:
        record = await service.decide_by_moderator(
            comment_id, decision=body.decision, reason=body.reason, moderator=staff.subject
        )
    except CommentNotFound:
        raise Problem(
            404, "comment-not-found", "Unknown comment", f"No comment {comment_id} to decide on."
        ) from None
    except DecisionConflict as conflict:
        raise Problem(
            409,
            "decision-conflict",
            "Already decided",
            f"A moderator already decided to {conflict.record.decision} this comment.",
            decision=conflict.record.decision,
            moderator=conflict.record.moderator,
        ) from None
    return CommentReviewPublic.of(record)
