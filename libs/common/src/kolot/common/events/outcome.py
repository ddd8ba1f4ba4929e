"""Closing the loop: the ministry publishes what it heard and what it decided."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from kolot.common.events._base import Event, Payload
from kolot.common.events.campaign import LocalizedText


class OutcomePublishedData(Payload):
    outcome_id: str
    summary: LocalizedText
    decisions: list[LocalizedText] = Field(default_factory=list)
    url: str | None = None


class OutcomePublished(Event):
    """Intake, when the ministry publishes an outcome ("we asked, you said, we did")."""

    public: ClassVar[bool] = True
    type: Literal["kolot.outcome.published"] = "kolot.outcome.published"
    source: str = "kolot/intake"
    dataschemaversion: Literal[1] = 1
    data: OutcomePublishedData
