"""HTTP bodies of the moderation API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kolot.common.events import Channel, Decision
from kolot.moderation.models import (
    AppealOutcome,
    AppealRecord,
    AppealStatus,
    AuditEntry,
    CommentRecord,
    CommentStatus,
    DecidedBy,
)
from kolot.moderation.pipeline.highlight import highlight

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
    channel: Channel

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
            channel=record.channel,
        )


class MatchSpanPublic(BaseModel):
    """A rule's match in ``text``: ``start``/``end`` count Unicode code points (not UTF-16)."""

    start: int
    end: int
    category: str
    rule: str
    severity: float


class RedactedSpanPublic(BaseModel):
    """Personal data replaced by a placeholder in ``text`` (code points, like matches)."""

    start: int
    end: int
    kind: str


class ClusterPublic(BaseModel):
    """The form letter a comment is a copy of."""

    cluster_id: str
    size: int
    """Every comment in the cluster, whatever was decided on it."""
    pending: int
    """Those still waiting for a person (what a bulk action on the cluster decides)."""


class QueueItemPublic(CommentReviewPublic):
    """A comment in the queue, with what the moderator should look at highlighted."""

    normalised_text: str
    """The text as the rules read it: marks, letter variants and disguises undone."""
    matches: list[MatchSpanPublic]
    redacted: list[RedactedSpanPublic]
    cluster: ClusterPublic | None

    @classmethod
    def of_queued(
        cls, record: CommentRecord, clusters: dict[str, tuple[int, int]]
    ) -> QueueItemPublic:
        found = highlight(record.redacted_text)
        counts = clusters.get(record.cluster_id) if record.cluster_id else None
        return cls(
            **CommentReviewPublic.of(record).model_dump(),
            normalised_text=found.normalised,
            matches=[
                MatchSpanPublic.model_validate(m, from_attributes=True) for m in found.matches
            ],
            redacted=[
                RedactedSpanPublic.model_validate(r, from_attributes=True) for r in found.redacted
            ],
            cluster=ClusterPublic(cluster_id=record.cluster_id, size=counts[0], pending=counts[1])
            if record.cluster_id and counts
            else None,
        )


class QueuePublic(BaseModel):
    items: list[QueueItemPublic]


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


class StaffPublic(BaseModel):
    """Who a staff token says its bearer is."""

    subject: str
    roles: list[str]


class AlertPublic(BaseModel):
    """A surge alert raised and not cleared yet (the event ``moderation.alert`` has the figures)."""

    alert_id: str
    campaign_id: str
    kind: str
    """abuse_surge, flag_surge or submission_surge."""
    severity: str
    state: str
    at: datetime
    """When it was raised or last escalated."""


class AlertsPublic(BaseModel):
    items: list[AlertPublic]
