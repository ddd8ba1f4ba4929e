"""Stored document shapes of the metrics database.

``campaign_counters``: one document per campaign (``_id`` = campaign id, ``_`` for events of no
campaign), only ever changed by ``$inc``/``$min``/``$max`` from the events consumer::

    {"_id": "c1",
     "comments": {"submitted": 2, "published": 1, "rejected": 1, "review": 0, "hidden": 0},
     "visits": {"facebook": 10, "direct": 3}, "participants": {"facebook": 2},
     "responses": 0, "votes": 0, "flags": 0,
     "events": {"comment_submitted": 2, ...},
     "first_event_at": ..., "last_event_at": ..., "updated_at": ...}

Times are ``kolot.common.store.stamp`` texts (fixed-width ISO-8601 UTC, which ``$min``/``$max``
compare correctly on nx-27017 and MongoDB alike). Any counter may be missing: it is created by its
first increment.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

COUNTERS_COLLECTION = "campaign_counters"


class CommentCounts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    submitted: int = 0
    published: int = 0
    rejected: int = 0
    review: int = 0
    """Decisions that sent a comment to a person (pre-moderation or an uncertain score)."""
    hidden: int = 0


class CampaignCounters(BaseModel):
    """A campaign's counters as read from ``campaign_counters``."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    campaign_id: str = Field(alias="_id")
    comments: CommentCounts = CommentCounts()
    visits: dict[str, int] = Field(default_factory=dict)
    participants: dict[str, int] = Field(default_factory=dict)
    responses: int = 0
    votes: int = 0
    flags: int = 0
    events: dict[str, int] = Field(default_factory=dict)
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    updated_at: datetime | None = None
