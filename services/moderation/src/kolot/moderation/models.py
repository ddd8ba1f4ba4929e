"""Stored document shapes of moderation's own database (``<namespace>_moderation``).

``comments``: one document per comment (``_id`` = comment id) with the current decision, the
automatic decision it started with, the redacted text and its language. The raw text is never
stored here. ``campaigns``: each campaign's moderation policy, from the campaign events.
``flags``: one document per (comment, participant) pair, so a participant's repeated flags and
redelivered events count once. ``appeals``: one per appeal. ``audit``: one entry per decision,
automatic or human (who, when, why), never rewritten. ``clusters``: per campaign, one
document per distinct long comment text: its exact hash, its MinHash signature and its size.

Times written once (``submitted_at``, ``created_at``) are BSON dates; times an update may rewrite
(``decided_at``, ``as_of``) are stored as fixed-width UTC text (``kolot.common.store.stamp``),
because nx-27017 turns a date written by ``$set`` into a string.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from kolot.common.events import Channel, Decision, ModerationMode
from kolot.common.store import stamp

CommentStatus = Literal["pending", "approved", "rejected"]
DecidedBy = Literal["auto", "human"]
AppealStatus = Literal["open", "decided"]
AppealOutcome = Literal["upheld", "overturned"]
AuditAction = Literal["auto", "human", "flags", "appeal"]

COMMENTS = "comments"
CAMPAIGNS = "campaigns"
FLAGS = "flags"
APPEALS = "appeals"
AUDIT = "audit"
CLUSTERS = "clusters"
ALERTS = "alerts"
EXAMPLES = "examples"


def _as_utc(moment: datetime) -> datetime:
    # a naive time read back from the store is UTC
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


UtcTime = Annotated[datetime, AfterValidator(_as_utc)]
StampedTime = Annotated[datetime, AfterValidator(_as_utc), PlainSerializer(stamp, return_type=str)]
"""A time stored as fixed-width UTC text, because updates rewrite it."""

STATUS_OF: dict[Decision, CommentStatus] = {
    "approve": "approved",
    "reject": "rejected",
    "review": "pending",
}


class _Stored(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AutomaticDecision(_Stored):
    """What the pipeline decided when the comment arrived; kept after a person decides."""

    decision: Decision
    reasons: list[str] = Field(default_factory=list)
    statement: str | None = None
    scores: dict[str, float] = Field(default_factory=dict)


class CommentRecord(_Stored):
    comment_id: str
    campaign_id: str
    participant_id: str
    parent_id: str | None = None
    status: CommentStatus
    decision: Decision
    decided_by: DecidedBy
    reasons: list[str] = Field(default_factory=list)
    statement: str | None = None
    """The statement of reasons for the author (a moderator's reason after a human decision)."""
    scores: dict[str, float] = Field(default_factory=dict)
    redacted_text: str
    language: str
    language_mix: dict[str, float] = Field(default_factory=dict)
    redactions: list[str] = Field(default_factory=list)
    """Kinds of personal data replaced in the text (email, phone, id-number, card)."""
    mode: ModerationMode
    automatic: AutomaticDecision
    submitted_at: UtcTime
    submitted_stamp: str = ""
    """``submitted_at`` as fixed-width UTC text: the surge windows are counted on it, with
    pipelines, which nx-27017 runs in SQL but where it compares BSON dates wrongly."""
    created_at: UtcTime
    decided_at: StampedTime
    moderator: str | None = None
    previous_status: CommentStatus | None = None
    """The status a person's decision replaced (tells whether it published or hid the comment)."""
    emitted: bool = False
    """The automatic decision's events were acknowledged by the bus."""
    risk: float = 0.0
    """0-1: how likely a person would reject it (the queue shows the riskiest first)."""
    cluster_id: str | None = None
    """The cluster of copies it belongs to (a form letter), if its text is long enough."""
    absorbed: bool = False
    """A copy published through its cluster's representative rather than on its own."""
    flags: int = 0
    """Distinct participants who flagged it."""
    flag_reasons: list[str] = Field(default_factory=list)
    hidden_by_flags: bool = False
    """Flags reached the campaign's threshold: hidden and waiting for a person."""
    client_ref: str | None = None
    """Intake's keyed hash of the client address (never the address), for burst signals."""
    channel: Channel = "web"
    """Where the comment came from (web, sms, whatsapp, meeting...), shown to moderators."""

    def to_document(self) -> dict[str, Any]:
        document = self.model_dump()
        document["_id"] = document.pop("comment_id")
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Self:
        return cls.model_validate({**document, "comment_id": document["_id"]})


class CampaignPolicy(_Stored):
    campaign_id: str
    moderation_mode: ModerationMode = "auto"
    flag_threshold: int = 3
    as_of: StampedTime
    """The time of the campaign event this policy comes from (an older event never overwrites)."""

    def to_document(self) -> dict[str, Any]:
        document = self.model_dump()
        document["_id"] = document.pop("campaign_id")
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Self:
        return cls.model_validate({**document, "campaign_id": document["_id"]})


class AppealRecord(_Stored):
    appeal_id: str
    comment_id: str
    campaign_id: str
    participant_id: str
    text: str
    status: AppealStatus = "open"
    excluded_moderator: str | None = None
    """Who took the decision appealed against: another moderator must decide the appeal."""
    filed_at: UtcTime
    outcome: AppealOutcome | None = None
    statement: str | None = None
    moderator: str | None = None
    decided_at: StampedTime | None = None

    def to_document(self) -> dict[str, Any]:
        document = self.model_dump()
        document["_id"] = document.pop("appeal_id")
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Self:
        return cls.model_validate({**document, "appeal_id": document["_id"]})


class AuditEntry(_Stored):
    """One decision: never updated, so a replayed event writes the same entry (same id)."""

    entry_id: str
    comment_id: str
    campaign_id: str
    action: AuditAction
    decision: str
    """approve, reject, review, hide, upheld, overturned."""
    reasons: list[str] = Field(default_factory=list)
    statement: str | None = None
    actor: str
    """``auto``, ``flags`` or the moderator's subject."""
    at: UtcTime
    appeal_id: str | None = None

    def to_document(self) -> dict[str, Any]:
        document = self.model_dump()
        document["_id"] = document.pop("entry_id")
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Self:
        return cls.model_validate({**document, "entry_id": document["_id"]})
