"""HTTP bodies of the moderation API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from kolot.common.events import Decision
from kolot.moderation.models import CommentRecord, CommentStatus, DecidedBy


class DecisionCreate(BaseModel):
    """A moderator's decision on one comment, with the reason the author will read."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


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
        )


class QueuePublic(BaseModel):
    items: list[CommentReviewPublic]
