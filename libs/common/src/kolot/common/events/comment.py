"""Comment events: submitted and flagged (intake); moderated, published and hidden (moderation)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from kolot.common.events._base import Event, Payload
from kolot.common.events.participant import ParticipantKind

Channel = Literal["web", "mobile", "sms", "whatsapp", "meeting", "email", "api"]


class Provenance(Payload):
    """Where a contribution came from beyond the web: the meeting, its facilitator, the provider."""

    meeting_id: str | None = None
    facilitator: str | None = None
    provider: str | None = None
    upload_id: str | None = None


class CommentSubmittedData(Payload):
    comment_id: str
    participant_id: str
    text: str
    text_sha256: str
    parent_id: str | None = None
    circle: str | None = None
    channel: Channel = "web"
    provenance: Provenance | None = None
    client_ref: str | None = None
    """A keyed hash of the client address, for velocity and bot signals; never the address."""
    depth: int = 0
    """0 for a comment, 1-3 for replies (a reply to a reply is depth 2)."""
    kind: ParticipantKind = "person"
    """Who speaks: a person or an organisation (NGO, ministry, expert body)."""


class CommentSubmitted(Event):
    """Intake, when a comment or a reply arrives from any channel (raw text: never public)."""

    type: Literal["kolot.comment.submitted"] = "kolot.comment.submitted"
    source: str = "kolot/intake"
    dataschemaversion: Literal[1] = 1
    data: CommentSubmittedData


Decision = Literal["approve", "reject", "review"]


class CommentModeratedData(Payload):
    comment_id: str
    decision: Decision
    """``review`` means the item waits for a person (pre-moderation or an uncertain score)."""
    automatic: bool
    reasons: list[str] = Field(default_factory=list)
    statement: str | None = None
    """The statement of reasons shown to the author."""
    scores: dict[str, float] = Field(default_factory=dict)
    redacted_text: str
    language: str | None = None
    cluster_id: str | None = None
    moderator: str | None = None
    cluster_size: int | None = None
    """How many comments of the campaign the cluster holds (form letters: published once)."""
    participant_id: str | None = None
    """The author, so the decision reaches their view without a lookup."""


class CommentModerated(Event):
    """Moderation, for every automatic or human decision on a comment."""

    type: Literal["kolot.comment.moderated"] = "kolot.comment.moderated"
    source: str = "kolot/moderation"
    dataschemaversion: Literal[1] = 1
    data: CommentModeratedData


class CommentPublishedData(Payload):
    comment_id: str
    text: str
    """Redacted text: personal details replaced, safe to show to anyone."""
    language: str | None = None
    parent_id: str | None = None
    submitted_at: datetime | None = None
    cluster_id: str | None = None
    """Set when the comment stands for a cluster of copies (a form letter campaign)."""
    cluster_size: int | None = None
    """How many participants sent this text (or a near copy); republished as it grows."""


class CommentPublished(Event):
    """Moderation, when a comment becomes publicly visible (also on KOLOT_PUBLIC)."""

    public: ClassVar[bool] = True
    type: Literal["kolot.comment.published"] = "kolot.comment.published"
    source: str = "kolot/moderation"
    dataschemaversion: Literal[1] = 1
    data: CommentPublishedData


class CommentHiddenData(Payload):
    comment_id: str
    reason: str
    statement: str | None = None
    flags: int | None = None
    """With ``reason`` ``flags``: how many distinct participants flagged it."""


class CommentHidden(Event):
    """Moderation, when a visible comment is hidden (flags, a moderator, an appeal)."""

    public: ClassVar[bool] = True
    type: Literal["kolot.comment.hidden"] = "kolot.comment.hidden"
    source: str = "kolot/moderation"
    dataschemaversion: Literal[1] = 1
    data: CommentHiddenData


FlagReason = Literal["abuse", "hate", "threat", "spam", "personal_data", "off_topic", "other"]


class CommentFlaggedData(Payload):
    comment_id: str
    participant_id: str
    reason: FlagReason
    detail: str | None = None


class CommentFlagged(Event):
    """Intake, when a participant reports a comment."""

    type: Literal["kolot.comment.flagged"] = "kolot.comment.flagged"
    source: str = "kolot/intake"
    dataschemaversion: Literal[1] = 1
    data: CommentFlaggedData
