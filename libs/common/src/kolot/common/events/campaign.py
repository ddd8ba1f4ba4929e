"""Campaign (consultation) lifecycle events, emitted by intake when an operator changes one.

Every campaign event carries the whole campaign as it stands after the change, so a consumer
(moderation's policies, notify's templates, metrics' labels) can keep its own copy without calling
intake. Campaign events are public: they hold nothing personal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from kolot.common.events._base import Event, Payload

ModerationMode = Literal["auto", "pre", "post"]
CampaignStatus = Literal["draft", "open", "closed", "archived"]
CircleAccess = Literal["public", "invitation", "verified"]
QuestionKind = Literal["single", "multiple", "scale", "text"]


class LocalizedText(Payload):
    """A text in Hebrew, Arabic and/or English."""

    he: str | None = None
    ar: str | None = None
    en: str | None = None


class Circle(Payload):
    """A circle of participants with its access rule (an item of ``CampaignSnapshot.circles``).

    ``public``: anyone; ``invitation``: whoever redeemed an invitation to it; ``verified``: whoever
    the ministry verified. What a circle publishes is also shown in the circles it forwards to
    (``forwards_to``), e.g. an expert circle's output to the public circle.
    """

    id: str
    name: LocalizedText = LocalizedText()
    access: CircleAccess = "public"
    forwards_to: list[str] = Field(default_factory=list)


class QuestionOption(Payload):
    id: str
    label: LocalizedText = LocalizedText()


class Question(Payload):
    """A survey question (an item of ``CampaignSnapshot.questions``).

    ``single``/``multiple`` answer with option ids, ``scale`` with an integer between
    ``scale_min`` and ``scale_max``, ``text`` with free text of at most ``max_chars``.
    """

    id: str
    kind: QuestionKind
    prompt: LocalizedText = LocalizedText()
    required: bool = False
    options: list[QuestionOption] = Field(default_factory=list)
    max_choices: int | None = None
    scale_min: int = 1
    scale_max: int = 5
    max_chars: int = 2000


class Priority(Payload):
    """How much a consultation matters, to rank it among others (topic priority)."""

    people_affected: int | None = None
    """An estimate of how many people the decision affects."""
    harm_severity: int | None = None
    """1-5: how bad a mistaken decision would be."""
    influence: int | None = None
    """1-5: how far the public's input can still change the decision."""
    error_likelihood: int | None = None
    """1-5: how likely the ministry is to get it wrong without hearing the public."""


class CampaignSnapshot(Payload):
    campaign_id: str
    status: CampaignStatus
    title: LocalizedText
    description: LocalizedText = LocalizedText()
    purpose: LocalizedText = LocalizedText()
    moderation_mode: ModerationMode = "auto"
    circles: list[dict[str, Any]] = Field(default_factory=list)
    """Each item is a ``Circle`` (kept as plain objects so the v1 schema stays unchanged)."""
    questions: list[dict[str, Any]] = Field(default_factory=list)
    """Each item is a ``Question``."""
    discourse_rules: LocalizedText = LocalizedText()
    flag_threshold: int = 3
    organiser: str | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    use_of_input: LocalizedText = LocalizedText()
    """How the input will be used and what it can change; required, with the purpose, to open."""
    priority: Priority | None = None
    retention_days: int | None = None
    """How long contributions are kept after the consultation closes (None: the default policy)."""
    keyword: str | None = None
    """The SMS/WhatsApp keyword that routes an inbound message to this consultation."""
    short_code: str | None = None
    """The SMS short code (or WhatsApp number) reserved for this consultation."""
    default_language: Literal["he", "ar", "en"] = "he"
    targets: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Target shares of the people affected, per profile dimension (``region``, ``age_band``,
    ``sector``) and group, e.g. ``{"region": {"north": 0.16, "south": 0.14}}``, against which
    metrics measures how representative the participants are."""

    def circle(self, circle_id: str) -> Circle | None:
        for item in self.circles:
            if item.get("id") == circle_id:
                return Circle.model_validate(item)
        return None

    def question_list(self) -> list[Question]:
        return [Question.model_validate(item) for item in self.questions]


class _CampaignEvent(Event):
    public: ClassVar[bool] = True
    source: str = "kolot/intake"
    dataschemaversion: Literal[1] = 1
    data: CampaignSnapshot


class CampaignCreated(_CampaignEvent):
    """Intake, when an admin creates a consultation (it starts as a draft)."""

    type: Literal["kolot.campaign.created"] = "kolot.campaign.created"


class CampaignUpdated(_CampaignEvent):
    """Intake, when an admin edits a consultation."""

    type: Literal["kolot.campaign.updated"] = "kolot.campaign.updated"


class CampaignOpened(_CampaignEvent):
    """Intake, when a consultation opens for contributions (by an admin or on schedule)."""

    type: Literal["kolot.campaign.opened"] = "kolot.campaign.opened"


class CampaignClosed(_CampaignEvent):
    """Intake, when a consultation stops taking contributions."""

    type: Literal["kolot.campaign.closed"] = "kolot.campaign.closed"


class CampaignArchived(_CampaignEvent):
    """Intake, when a closed consultation is archived (read-only, retention clock runs)."""

    type: Literal["kolot.campaign.archived"] = "kolot.campaign.archived"


class CampaignPurgedData(Payload):
    campaign_id: str
    closed_at: datetime
    """When the consultation closed (the snapshot's ``closes_at``)."""
    retention_days: int
    """The retention that ran out: the campaign's own, else the deployment's default."""
    due_at: datetime
    """``closed_at + retention_days``: the purge was due from then on."""


class CampaignPurged(Event):
    """Intake, once a closed consultation's retention has run out (``retention_days`` after it
    closed). Every service then removes what links people to the consultation and the text that
    was never published; published comments (unlinked), decisions and counts stay. Public, so a
    ministry that keeps copies of the consultation's events knows to purge them too."""

    public: ClassVar[bool] = True
    type: Literal["kolot.campaign.purged"] = "kolot.campaign.purged"
    source: str = "kolot/intake"
    dataschemaversion: Literal[1] = 1
    data: CampaignPurgedData
