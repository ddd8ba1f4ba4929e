"""The shapes of intake's HTTP API (DESIGN.md, "Public HTTP contract v1")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kolot.common.events import (
    AgeBand,
    CampaignSnapshot,
    CircleAccess,
    FlagReason,
    ModerationMode,
    ParticipantKind,
    QuestionKind,
)
from kolot.intake.text import clean_text

_SHORT = 300
_LONG = 20_000


class _Body(BaseModel):
    # unknown fields are refused, so a typo ("moderation_mod") is an error and not silently lost
    model_config = ConfigDict(extra="forbid")


def _cleaned(value: str | None) -> str | None:
    return None if value is None else clean_text(value)


class LocalizedIn(_Body):
    he: str | None = Field(default=None, max_length=_LONG)
    ar: str | None = Field(default=None, max_length=_LONG)
    en: str | None = Field(default=None, max_length=_LONG)

    # campaign texts are published as they are: the same cleaning as contributions (no bidi
    # overrides, invisibles or control characters), for every subclass's fields too
    _clean = field_validator("he", "ar", "en")(_cleaned)

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


_ID = r"^[a-z0-9][a-z0-9_\-]{0,63}$"


class LocalizedLabel(LocalizedIn):
    he: str | None = Field(default=None, max_length=_SHORT)
    ar: str | None = Field(default=None, max_length=_SHORT)
    en: str | None = Field(default=None, max_length=_SHORT)


class CircleIn(_Body):
    id: str = Field(pattern=_ID, description="lower-case letters, digits, '-' and '_'")
    name: LocalizedLabel = LocalizedLabel()
    access: CircleAccess = "public"
    forwards_to: list[str] = Field(default_factory=list, max_length=20)


class OptionIn(_Body):
    id: str = Field(pattern=_ID)
    label: LocalizedLabel = LocalizedLabel()


class QuestionIn(_Body):
    id: str = Field(pattern=_ID)
    kind: QuestionKind
    prompt: LocalizedIn = LocalizedIn()
    required: bool = False
    options: list[OptionIn] = Field(default_factory=list, max_length=100)
    max_choices: int | None = Field(default=None, ge=1)
    scale_min: int = Field(default=1, ge=-100, le=100)
    scale_max: int = Field(default=5, ge=-100, le=100)
    max_chars: int = Field(default=2000, ge=1, le=20_000)

    @model_validator(mode="after")
    def _consistent(self) -> QuestionIn:
        if self.prompt.is_empty():
            raise ValueError(f"question {self.id}: give its prompt in at least one language")
        if self.kind in ("single", "multiple"):
            ids = [o.id for o in self.options]
            if len(ids) < 2:
                raise ValueError(f"question {self.id}: a choice needs at least two options")
            if len(set(ids)) != len(ids):
                raise ValueError(f"question {self.id}: option ids must be unique")
        elif self.options:
            raise ValueError(f"question {self.id}: only single and multiple choices have options")
        if self.kind == "scale" and self.scale_min >= self.scale_max:
            raise ValueError(f"question {self.id}: scale_min must be below scale_max")
        if self.max_choices is not None and self.max_choices > len(self.options):
            raise ValueError(f"question {self.id}: max_choices exceeds the number of options")
        return self


class PriorityIn(_Body):
    people_affected: int | None = Field(default=None, ge=0, le=100_000_000_000)
    harm_severity: int | None = Field(default=None, ge=1, le=5)
    influence: int | None = Field(default=None, ge=1, le=5)
    error_likelihood: int | None = Field(default=None, ge=1, le=5)


_KEYWORD = r"^[\w\-]{2,32}$"


ProfileDimension = Literal["region", "age_band", "sector"]

_NOT_NULL = (
    "targets",
    "title",
    "description",
    "purpose",
    "use_of_input",
    "discourse_rules",
    "moderation_mode",
    "circles",
    "questions",
    "flag_threshold",
    "default_language",
)


class CampaignFields(_Body):
    """What an admin may set on a consultation (every field optional, for updates)."""

    title: LocalizedTitle | None = None
    description: LocalizedIn | None = None
    purpose: LocalizedIn | None = None
    """What the consultation is for; required, with ``use_of_input``, before opening."""
    use_of_input: LocalizedIn | None = None
    """How the input will be used and what it can change."""
    discourse_rules: LocalizedIn | None = None
    moderation_mode: ModerationMode | None = None
    circles: list[CircleIn] | None = Field(default=None, max_length=20)
    questions: list[QuestionIn] | None = Field(default=None, max_length=200)
    flag_threshold: int | None = Field(default=None, ge=1, le=1000)
    organiser: str | None = Field(default=None, max_length=_SHORT)
    _clean_organiser = field_validator("organiser")(_cleaned)
    priority: PriorityIn | None = None
    retention_days: int | None = Field(default=None, ge=1, le=36_500)
    keyword: str | None = Field(default=None, pattern=_KEYWORD)
    short_code: str | None = Field(default=None, pattern=r"^\+?[0-9]{3,15}$")
    default_language: Literal["he", "ar", "en"] | None = None
    targets: dict[ProfileDimension, dict[Annotated[str, Field(pattern=_ID)], float]] | None = Field(
        default=None, description="target shares per profile dimension and group (0-1 each)"
    )
    opens_at: datetime | None = None
    closes_at: datetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CampaignFields:
        # null clears an optional setting (organiser, dates, keyword...), never a required part
        required = [n for n in _NOT_NULL if n in self.model_fields_set and getattr(self, n) is None]
        if required:
            raise ValueError(f"{', '.join(required)} cannot be null: leave it out to keep it")
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValueError("closes_at must be after opens_at")
        for when in (self.opens_at, self.closes_at):
            if when is not None and when.tzinfo is None:
                raise ValueError("give opening and closing times with a time zone (e.g. Z)")
        if self.circles is not None:
            ids = [c.id for c in self.circles]
            if len(set(ids)) != len(ids):
                raise ValueError("circle ids must be unique")
            for circle in self.circles:
                unknown = set(circle.forwards_to) - set(ids)
                if unknown or circle.id in circle.forwards_to:
                    raise ValueError(
                        f"circle {circle.id} forwards to unknown or itself: "
                        f"{', '.join(sorted(unknown | ({circle.id} & set(circle.forwards_to))))}"
                    )
        for dimension, shares in (self.targets or {}).items():
            if len(shares) > 100 or any(not 0 <= v <= 1 for v in shares.values()):
                raise ValueError(f"targets.{dimension}: at most 100 groups, shares from 0 to 1")
            if sum(shares.values()) > 1.0001:
                raise ValueError(f"targets.{dimension}: the shares add up to more than 1")
        if self.questions is not None:
            ids = [q.id for q in self.questions]
            if len(set(ids)) != len(ids):
                raise ValueError("question ids must be unique")
        if self.keyword is not None:
            self.keyword = self.keyword.casefold()
        return self

    def changes(self) -> dict[str, Any]:
        """The fields given (complete, with their items' defaults), as the snapshot holds them."""
        given = self.model_fields_set
        return {k: v for k, v in self.model_dump(mode="python").items() if k in given}


class CampaignCreate(CampaignFields):
    title: LocalizedTitle


class CampaignPublic(CampaignSnapshot):
    """A consultation as anyone may see it."""

    id: str

    @classmethod
    def of(cls, snapshot: CampaignSnapshot) -> CampaignPublic:
        return cls(id=snapshot.campaign_id, **snapshot.model_dump())


class CampaignList(BaseModel):
    items: list[CampaignPublic]


_SOURCE = r"^[\w.\-]+$"


class ContactIn(_Body):
    email: str | None = Field(
        default=None, max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
    )
    phone: str | None = Field(default=None, max_length=20, pattern=r"^\+?[0-9 \-]{6,20}$")
    name: str | None = Field(default=None, max_length=200)
    organisation: str | None = Field(default=None, max_length=200)
    # shown in the messages notify sends: no bidi overrides or invisibles there either
    _clean = field_validator("name", "organisation")(_cleaned)


class ConsentIn(_Body):
    """Explicit, separate consents; nothing is assumed (all default to no)."""

    notifications: bool = False
    """Tell me what happens to my input (outcome, decisions on my comments)."""
    research: bool = False
    """My contributions may be quoted, without my details, in the consultation's report."""


class ProfileIn(_Body):
    """Optional, coarse, and only for representativeness figures."""

    region: str | None = Field(default=None, pattern=_ID)
    age_band: AgeBand | None = None
    sector: str | None = Field(default=None, pattern=_ID)


class ParticipantCreate(_Body):
    source: str | None = Field(default=None, max_length=64, pattern=_SOURCE)
    medium: str | None = Field(default=None, max_length=64, pattern=_SOURCE)
    tag: str | None = Field(default=None, max_length=128)
    campaign_id: str | None = Field(default=None, max_length=64)
    kind: ParticipantKind = "person"
    invitation: str | None = Field(default=None, max_length=2048)
    contact: ContactIn | None = None
    consent: ConsentIn = ConsentIn()
    profile: ProfileIn | None = None

    @model_validator(mode="after")
    def _contact_needs_a_reason(self) -> ParticipantCreate:
        if self.contact and not (self.contact.email or self.contact.phone):
            raise ValueError("contact needs an email or a phone number")
        if self.contact and not self.consent.notifications:
            # data minimisation: keep contact details only when there is a use consented to
            raise ValueError(
                "contact details are kept only to notify you: set consent.notifications to true, "
                "or leave contact out"
            )
        return self


class ParticipantCreated(BaseModel):
    participant_id: str
    token: str
    circles: list[str] = Field(default_factory=list)


class InvitationRedeem(_Body):
    invitation: str = Field(min_length=1, max_length=2048)


class InvitationCreate(_Body):
    circle: str = Field(pattern=_ID)
    count: int = Field(default=1, ge=1, le=1000)
    valid_days: int = Field(default=30, ge=1, le=365)
    verified: bool = False
    """The ministry checked who it invites: redeeming also verifies for a ``verified`` circle."""
    source: str | None = Field(default=None, max_length=64, pattern=_SOURCE)


class InvitationsIssued(BaseModel):
    circle: str
    expires_at: datetime
    invitations: list[str]


class VerificationCreate(_Body):
    circle: str = Field(pattern=_ID)
    method: str = Field(default="ministry", max_length=64, pattern=_SOURCE)


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
    status: Literal["pending", "accepted"] = "pending"
    """``pending``: a comment waits for moderation; ``accepted``: recorded as it is."""
    receipt: str


class CommentPublic(BaseModel):
    id: str
    text: str
    language: str | None = None
    parent_id: str | None = None
    depth: int = 0
    circle: str | None = None
    kind: ParticipantKind = "person"
    support: int = 0
    """Votes for minus votes against."""
    replies: int = 0
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
    """pending, review, published, rejected, hidden, or clustered: a form letter's copy,
    published once with the others of its cluster and counted with them."""
    created_at: datetime | None = None
    published_text: str | None = None
    decision: str | None = None
    reasons: list[str] = Field(default_factory=list)
    statement: str | None = None
    appeal_status: str | None = None
    """``filed``, then ``upheld`` or ``overturned``."""
    appeal_statement: str | None = None


class VisitCreate(_Body):
    source: str | None = Field(default=None, max_length=64, pattern=_SOURCE)
    medium: str | None = Field(default=None, max_length=64)
    tag: str | None = Field(default=None, max_length=128)
    invitation_id: str | None = Field(default=None, max_length=64)


class ResponseCreate(_Body):
    answers: dict[str, Any] = Field(max_length=200)
    circle: str | None = Field(default=None, max_length=64)


class VoteCreate(_Body):
    value: Literal[-1, 1]


class FlagCreate(_Body):
    reason: FlagReason
    detail: str | None = Field(default=None, max_length=1000)


class AppealCreate(_Body):
    text: str = Field(min_length=1, max_length=4000)


class LocalizedRequired(LocalizedIn):
    @model_validator(mode="after")
    def _one_language(self) -> LocalizedRequired:
        if self.is_empty():
            raise ValueError("give the text in at least one of he, ar, en")
        return self


class OutcomeCreate(_Body):
    """What the ministry heard and what it decided ("we asked, you said, we did")."""

    summary: LocalizedRequired
    decisions: list[LocalizedRequired] = Field(default_factory=list, max_length=100)
    url: str | None = Field(default=None, max_length=2000, pattern=r"^https://\S+$")


class OutcomePublic(BaseModel):
    id: str
    campaign_id: str
    summary: dict[str, str | None]
    decisions: list[dict[str, str | None]]
    url: str | None = None
    published_at: datetime | None = None


class OutcomeList(BaseModel):
    items: list[OutcomePublic]


class ReceiptCheck(_Body):
    receipt: str = Field(min_length=1, max_length=4096)
    text: str | None = Field(default=None, max_length=50_000)


class ReceiptVerdict(BaseModel):
    valid: bool
    id: str | None = None
    campaign_id: str | None = None
    submitted_at: datetime | None = None
    text_matches: bool | None = None
