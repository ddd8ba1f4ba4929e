"""HTTP shapes of the metrics API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CommentStatsPublic(BaseModel):
    submitted: int
    published: int
    rejected: int
    pending: int = Field(description="submitted - published - rejected, never below 0")
    review: int = Field(description="decisions that sent a comment to a human moderator")
    hidden: int


class FunnelSourcePublic(BaseModel):
    visits: int
    participants: int
    conversion: float | None = Field(description="participants / visits; null without visits")
    spend: float | None = Field(
        default=None, description="dissemination spend of this source (not measured yet: null)"
    )
    cost_per_response: float | None = Field(
        default=None, description="spend / participants (not measured yet: null)"
    )


class CampaignStatsPublic(BaseModel):
    campaign_id: str
    comments: CommentStatsPublic
    funnel: dict[str, FunnelSourcePublic] = Field(
        description="per attribution source (``direct`` when none was given)"
    )
    responses: int
    votes: int
    flags: int
    events_counted: int = Field(description="events of this campaign counted so far")
    first_event_at: datetime | None
    last_event_at: datetime | None = Field(description="time of the latest event counted")
    updated_at: datetime | None = Field(description="when the counters last changed")
