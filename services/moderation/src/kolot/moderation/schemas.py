"""HTTP bodies of the moderation API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kolot.common.events import Decision
from kolot.moderation.models import (
    AppealOutcome,
    AppealRecord,
    AppealStatus,
    AuditEntry,
    CommentRecord,
    CommentStatus,
    DecidedBy,
)

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class DecisionCreate(BaseModel):
    """A moderator's decision on one comment, with the reason the author will read."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    reason: Reason


class BulkDecisionCreate(BaseModel):
    """One decision on many comments (e.g. every copy of a form letter in the queue)."""

    model_config = ConfigDict(extra="forbid")

    comment_ids: Annotated[list[Id], Field(min_length=1, max_length=100)]
    decision: Literal["approve", "reject"]
    reason: Reason


class CommentReviewPublic(BaseModel):
    """A comment as moderators see it: redacted text, never the raw one."""

    comment_id: str
    campaign_id: str
    text: str
    language: str
    reasons: list[str]
    submitted_at: datetime
    status: CommentStatus
    decision: Decision
    decided_by: DecidedBy
    statement: str | None
    moderator: str | None
    decided_at: datetime
    risk: float
    scores: dict[str, float]
    cluster_id: str | None
    flags: int
    flag_reasons: list[str]
    hidden_by_flags: bool

    @classmethod
    def of(cls, record: CommentRecord) -> CommentReviewPublic:
        return cls(
            comment_id=record.comment_id,
            campaign_id=record.campaign_id,
            text=record.redacted_text,
            language=record.language,
            reasons=record.reasons,
            submitted_at=record.submitted_at,
            status=record.status,
            decision=record.decision,
            decided_by=record.decided_by,
            statement=record.statement,
            moderator=record.moderator,
            decided_at=record.decided_at,
            risk=record.risk,
            scores=record.automatic.scores,
            cluster_id=record.cluster_id,
            flags=record.flags,
            flag_reasons=record.flag_reasons,
            hidden_by_flags=record.hidden_by_flags,
        )


class QueuePublic(BaseModel):
    items: list[CommentReviewPublic]


class BulkResult(BaseModel):
    comment_id: str
    outcome: Literal["decided", "conflict", "not_found"]
    status: CommentStatus | None = None


class BulkPublic(BaseModel):
    results: list[BulkResult]


class AppealDecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: AppealOutcome
    statement: Reason


class AppealPublic(BaseModel):
    appeal_id: str
    comment_id: str
    campaign_id: str
    text: str
    """The author's words, personal details redacted."""
    status: AppealStatus
    filed_at: datetime
    outcome: AppealOutcome | None
    statement: str | None
    moderator: str | None
    decided_at: datetime | None

    @classmethod
    def of(cls, appeal: AppealRecord) -> AppealPublic:
        return cls.model_validate(appeal.model_dump())


class AppealsPublic(BaseModel):
    items: list[AppealPublic]


class AppealDecidedPublic(BaseModel):
    appeal: AppealPublic
    comment: CommentReviewPublic


class AuditEntryPublic(BaseModel):
    comment_id: str
    campaign_id: str
    action: str
    decision: str
    reasons: list[str]
    statement: str | None
    actor: str
    at: datetime
    appeal_id: str | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryPublic:
        return cls.model_validate(entry.model_dump())


class AuditPublic(BaseModel):
    items: list[AuditEntryPublic]
