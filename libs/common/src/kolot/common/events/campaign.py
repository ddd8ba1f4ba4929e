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


class LocalizedText(Payload):
    """A text in Hebrew, Arabic and/or English."""

    he: str | None = None
    ar: str | None = None
    en: str | None = None


class CampaignSnapshot(Payload):
    campaign_id: str
    status: CampaignStatus
    title: LocalizedText
    description: LocalizedText = LocalizedText()
    purpose: LocalizedText = LocalizedText()
    moderation_mode: ModerationMode = "auto"
    circles: list[dict[str, Any]] = Field(default_factory=list)
    questions: list[dict[str, Any]] = Field(default_factory=list)
    discourse_rules: LocalizedText = LocalizedText()
    flag_threshold: int = 3
    organiser: str | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


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
