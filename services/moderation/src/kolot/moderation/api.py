"""HTTP routes for moderators: the review queue, decisions (one or many), appeals, the audit log,
the campaign's transparency report, active surge alerts, and who a staff token belongs to."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Path, Query, Request

from kolot.common.auth import Role, Staff
from kolot.common.problems import Problem
from kolot.common.store import Document
from kolot.common.web import require_staff
from kolot.moderation.models import AppealStatus
from kolot.moderation.repository import QueueFilter
from kolot.moderation.schemas import (
    AlertPublic,
    AlertsPublic,
    AppealDecidedPublic,
    AppealDecisionCreate,
    AppealPublic,
    AppealsPublic,
    AuditEntryPublic,
    AuditPublic,
    BulkDecisionCreate,
    BulkPublic,
    BulkResult,
    CommentReviewPublic,
    DecisionCreate,
    QueueItemPublic,
    QueuePublic,
    StaffPublic,
)
from kolot.moderation.service import (
    AppealConflict,
    AppealNotFound,
    CommentNotFound,
    DecisionConflict,
    ModerationService,
    SameModerator,
)
from kolot.moderation.transparency import TransparencyReport


def get_service(request: Request) -> ModerationService:
    service: ModerationService = request.app.state.service
    return service


class ConsoleReads(Protocol):
    """Reads the console needs beside the service's (the repository answers them)."""

    async def active_alerts(self, *, campaign_id: str | None, limit: int) -> list[Document]: ...
    async def cluster_counts(self, cluster_ids: Collection[str]) -> dict[str, tuple[int, int]]: ...


async def get_reads(request: Request) -> ConsoleReads:
    reads: ConsoleReads = request.app.state.reads
    return reads


ServiceDep = Annotated[ModerationService, Depends(get_service)]
ReadsDep = Annotated[ConsoleReads, Depends(get_reads)]
StaffDep = Annotated[Staff, Depends(require_staff(*Role))]
ModeratorDep = Annotated[Staff, Depends(require_staff(Role.MODERATOR))]
ReaderDep = Annotated[Staff, Depends(require_staff(Role.MODERATOR, Role.ANALYST))]
CommentId = Annotated[str, Path(min_length=1, max_length=64)]
AppealId = Annotated[str, Path(min_length=1, max_length=64)]
CampaignId = Annotated[str, Path(min_length=1, max_length=64)]
OptionalId = Annotated[str | None, Query(min_length=1, max_length=64)]

router = APIRouter(prefix="/v1", tags=["moderation"])


@router.get("/queue", summary="Comments waiting for a moderator, riskiest then oldest first")
async def queue(
    staff: ModeratorDep,
    service: ServiceDep,
    reads: ReadsDep,
    campaign_id: OptionalId = None,
    language: Annotated[str | None, Query(pattern="^(he|ar|en|und)$")] = None,
    reason: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    cluster_id: OptionalId = None,
    flagged: bool | None = None,
    min_risk: Annotated[float | None, Query(ge=0, le=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> QueuePublic:
    records = await service.queue(
        QueueFilter(
            campaign_id=campaign_id,
            language=language,
            reason=reason,
            cluster_id=cluster_id,
            flagged=flagged,
            min_risk=min_risk,
        ),
        limit=limit,
    )
    clusters = await reads.cluster_counts({r.cluster_id for r in records if r.cluster_id})
    return QueuePublic(items=[QueueItemPublic.of_queued(record, clusters) for record in records])


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


@router.post(
    "/decisions",
    summary="One decision on many comments; each is reported as decided, conflict or not found",
)
async def bulk_decision(
    body: BulkDecisionCreate, staff: ModeratorDep, service: ServiceDep
) -> BulkPublic:
    results = await service.decide_many(
        body.comment_ids, decision=body.decision, reason=body.reason, moderator=staff.subject
    )
    items: list[BulkResult] = []
    for comment_id, result in results.items():
        if isinstance(result, CommentNotFound):
            items.append(BulkResult(comment_id=comment_id, outcome="not_found"))
        elif isinstance(result, DecisionConflict):
            items.append(
                BulkResult(comment_id=comment_id, outcome="conflict", status=result.record.status)
            )
        elif not isinstance(result, Exception):
            items.append(BulkResult(comment_id=comment_id, outcome="decided", status=result.status))
    return BulkPublic(results=items)


@router.get("/appeals", summary="Appeals, oldest first (never those against your own decisions)")
async def appeals(
    staff: ModeratorDep,
    service: ServiceDep,
    status: AppealStatus | None = "open",
    campaign_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AppealsPublic:
    found = await service.appeals(
        status=status, campaign_id=campaign_id, moderator=staff.subject, limit=limit
    )
    return AppealsPublic(items=[AppealPublic.of(appeal) for appeal in found])


@router.post(
    "/appeals/{appeal_id}/decision",
    summary="Decide an appeal (by a moderator other than the one who decided the comment)",
    responses={
        403: {"description": "You decided the comment appealed against"},
        404: {"description": "Unknown appeal"},
        409: {"description": "Decided otherwise"},
    },
)
async def appeal_decision(
    appeal_id: AppealId, body: AppealDecisionCreate, staff: ModeratorDep, service: ServiceDep
) -> AppealDecidedPublic:
    try:
        appeal, record = await service.decide_appeal(
            appeal_id, outcome=body.outcome, statement=body.statement, moderator=staff.subject
        )
    except AppealNotFound:
        raise Problem(
            404, "appeal-not-found", "Unknown appeal", f"No appeal {appeal_id}."
        ) from None
    except SameModerator:
        raise Problem(
            403,
            "appeal-same-moderator",
            "Another moderator must decide",
            "You took the decision this appeal contests; another moderator decides it.",
        ) from None
    except AppealConflict as conflict:
        raise Problem(
            409,
            "appeal-conflict",
            "Already decided",
            f"The appeal was already {conflict.appeal.outcome}.",
            outcome=conflict.appeal.outcome,
        ) from None
    except DecisionConflict:
        raise Problem(
            409, "decision-conflict", "Comment changed", "The comment changed; try again."
        ) from None
    return AppealDecidedPublic(
        appeal=AppealPublic.of(appeal), comment=CommentReviewPublic.of(record)
    )


@router.get("/audit", summary="Every decision: who, when and why, newest first")
async def audit(
    staff: ModeratorDep,
    service: ServiceDep,
    campaign_id: OptionalId = None,
    comment_id: OptionalId = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPublic:
    entries = await service.audit(
        campaign_id=campaign_id, comment_id=comment_id, actor=actor, limit=limit
    )
    return AuditPublic(items=[AuditEntryPublic.of(entry) for entry in entries])


@router.get(
    "/campaigns/{campaign_id}/transparency",
    summary="The campaign's transparency report: decisions by reason, automatic vs human, "
    "appeal outcomes, median time to decision, and its form letters with their sizes",
)
async def transparency(
    campaign_id: CampaignId, staff: ReaderDep, service: ServiceDep
) -> TransparencyReport:
    return await service.transparency(campaign_id)


@router.get("/me", summary="Who the staff token belongs to, and its roles (any staff role)")
async def me(staff: StaffDep) -> StaffPublic:
    return StaffPublic(subject=staff.subject, roles=sorted(role.value for role in staff.roles))


@router.get(
    "/alerts",
    summary="Surge alerts raised and not cleared yet, newest first",
    responses={422: {"description": "Only active alerts are listed"}},
)
async def alerts(
    staff: ModeratorDep,
    reads: ReadsDep,
    active: Annotated[bool, Query(description="Only true: cleared alerts are not kept")] = True,
    campaign_id: OptionalId = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AlertsPublic:
    if not active:
        raise Problem(
            422,
            "alerts-active-only",
            "Only active alerts are listed",
            "Cleared alerts are on the bus (moderation.alert with state 'cleared'), not here.",
        )
    found = await reads.active_alerts(campaign_id=campaign_id, limit=limit)
    return AlertsPublic(
        items=[
            AlertPublic(
                alert_id=doc["alert_id"],
                campaign_id=doc["campaign_id"],
                kind=doc["kind"],
                severity=doc["severity"],
                state=doc["state"],
                at=doc["at"],
            )
            for doc in found
        ]
    )
