"""The shapes of intake's HTTP API (DESIGN.md, "Public HTTP contract v1")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kolot.common.events import CampaignSnapshot, ModerationMode, ParticipantKind

_SHORT = 300
_LONG = 20_000


class _Body(BaseModel):
    # unknown fields are refused, so a typo ("moderation_mod") is an error and not silently lost
    model_config = ConfigDict(extra="forbid")


class LocalizedIn(_Body):
    he: str | None = Field(default=None, max_length=_LONG)
    ar: str | None = Field(default=None, max_length=_LONG)
    en: str | None = Field(default=None, max_length=_LONG)

    def is_empty(self) -> bool:
        return not any(v and v.strip() for v in (self.he, self.ar, self.en))


class LocalizedTitle(LocalizedIn):
    he: str | None = Field(default=None, max_length=_SHORT)
    ar: str | None = Field(default=None, max_length=_SHORT)
    en: str | None = Field(default=None, max_length=_SHORT)

    @model_validator(mode="after")
    def _one_language(self) -> LocalizedTitle:
        if self.is_empty():
            raise ValueError("give the title in at least one of he, ar, en")
        return self


class CampaignCreate(_Body):
    title: LocalizedTitle
    description: LocalizedIn = LocalizedIn()
    purpose: LocalizedIn = LocalizedIn()
    """What the consultation is for and how input will be used; required before opening."""
    discourse_rules: LocalizedIn = LocalizedIn()
    moderation_mode: ModerationMode = "auto"
    circles: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    questions: list[dict[str, Any]] = Field(default_factory=list, max_length=200)
    flag_threshold: int = Field(default=3, ge=1, le=1000)
    organiser: str | None = Field(default=None, max_length=_SHORT)
    opens_at: datetime | None = None
    closes_at: datetime | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> CampaignCreate:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        return self


class CampaignPublic(CampaignSnapshot):
    """A consultation as anyone may see it."""

    id: str

    @classmethod
    def of(cls, snapshot: CampaignSnapshot) -> CampaignPublic:
        return cls(id=snapshot.campaign_id, **snapshot.model_dump())


class CampaignList(BaseModel):
    items: list[CampaignPublic]


class ParticipantCreate(_Body):
    source: str | None = Field(default=None, max_length=64, pattern=r"^[\w.\-]+$")
    kind: ParticipantKind = "person"
    invitation: str | None = Field(default=None, max_length=2048)
    consent: dict[str, bool] = Field(default_factory=dict, max_length=10)


class ParticipantCreated(BaseModel):
    participant_id: str
    token: str


class CommentCreate(_Body):
    text: str = Field(min_length=1, max_length=50_000)
    parent_id: str | None = Field(default=None, max_length=64)
    circle: str | None = Field(default=None, max_length=64)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the comment is empty")
        return value


class Accepted(BaseModel):
    id: str
    status: Literal["pending"] = "pending"
    receipt: str


class CommentPublic(BaseModel):
    id: str
    text: str
    language: str | None = None
    parent_id: str | None = None
    created_at: datetime | None = None
    published_at: datetime | None = None


class CommentPage(BaseModel):
    items: list[CommentPublic]
    next_cursor: str | None


class CommentOwnView(BaseModel):
    """The author's view of their own comment: its text, status and the statement of reasons."""

    id: str
    campaign_id: str
    text: str
    status: str
    created_at: datetime | None = None
    published_text: str | None = None
    decision: str | None = None
    reasons: list[str] = Field(default_factory=list)
    statement: str | None = None


class VisitCreate(_Body):
    source: str | None = Field(default=None, max_length=64, pattern=r"^[\w.\-]+$")
    medium: str | None = Field(default=None, max_length=64)
    tag: str | None = Field(default=None, max_length=128)


class ReceiptCheck(_Body):
    receipt: str = Field(min_length=1, max_length=4096)
    text: str | None = Field(default=None, max_length=50_000)


class ReceiptVerdict(BaseModel):
    valid: bool
    id: str | None = None
    campaign_id: str | None = None
    submitted_at: datetime | None = None
    text_matches: bool | None = None
