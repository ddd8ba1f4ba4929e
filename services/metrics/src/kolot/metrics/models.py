"""Stored document shapes of the metrics database (``<namespace>_metrics``).

Everything here is built from the event stream and nothing else, so dropping the database and
replaying the stream rebuilds it. Two kinds of documents:

- **counters**, only ever changed by ``$inc``/``$max``/``$min``: ``campaign_counters`` (one
  document per campaign, ``_`` for events of no campaign) and ``campaign_hours`` (one per campaign
  and UTC hour, for time series). Counters add up, so they do not depend on the order events
  arrive in.
- **states**, one per thing that has to be remembered to count correctly when events arrive in any
  order (a comment's latest decision, a participant's first-touch source, whether a participant
  already took part in a campaign, a dissemination's latest spend, a cluster's size, a campaign's
  latest snapshot). The events consumer reads the states a batch touches, folds the batch into
  them in memory, and writes back the states and the counter deltas in the same transaction.

Each state's merge rule is order-independent (latest by event time then id, earliest, max, set
once), so any order of the same events ends in the same states and the same counters.

Times are ``kolot.common.store.stamp`` texts (fixed-width ISO-8601 UTC: they compare correctly as
text on nx-27017 and MongoDB alike). Flags are stored as texts (``"yes"``), never booleans, which
nx-27017 may read back as integers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import IndexModel

from kolot.common.store import Document

COUNTERS_COLLECTION = "campaign_counters"
HOURS_COLLECTION = "campaign_hours"
CAMPAIGNS_COLLECTION = "campaigns"
COMMENTS_COLLECTION = "comments"
PARTICIPANTS_COLLECTION = "participants"
CONTRIBUTORS_COLLECTION = "contributors"
DISSEMINATIONS_COLLECTION = "disseminations"
CLUSTERS_COLLECTION = "clusters"

RETIRED_INDEXES: dict[str, list[IndexModel]] = {
    # the held queue is grouped per campaign in SQL on (status, campaign_id, held_since)
    COMMENTS_COLLECTION: [IndexModel([("status", 1), ("held_since", 1)])],
}

INDEXES: dict[str, list[IndexModel]] = {
    COUNTERS_COLLECTION: [],
    HOURS_COLLECTION: [IndexModel([("campaign_id", 1), ("hour", 1)])],
    CAMPAIGNS_COLLECTION: [],
    COMMENTS_COLLECTION: [IndexModel([("status", 1), ("campaign_id", 1), ("held_since", 1)])],
    PARTICIPANTS_COLLECTION: [],
    CONTRIBUTORS_COLLECTION: [IndexModel([("participant_id", 1)])],
    DISSEMINATIONS_COLLECTION: [IndexModel([("campaign_id", 1)])],
    CLUSTERS_COLLECTION: [IndexModel([("campaign_id", 1), ("size", -1)])],
}

YES = "yes"


def _shallow(state: Any) -> Document:
    """A flat state's fields as a document: ``asdict`` without its deep copies (a batch writes
    thousands of states; their values are texts and numbers)."""
    return {name: getattr(state, name) for name in state.__dataclass_fields__}


def order_key(at: str, event_id: str, rank: int = 0) -> str:
    """How two facts about one thing are ordered: by event time, then ``rank``, then event id.

    Fixed-width text, so the latest of two is ``max()`` on any server and in Python alike.
    """
    return f"{at}|{rank}|{event_id}"


@dataclass(slots=True)
class CommentState:
    """What metrics remembers of one comment (``comments``, ``_id`` = comment id)."""

    campaign_id: str
    submitted_at: str | None = None
    channel: str | None = None
    circle: str | None = None
    decision: str | None = None
    decision_mode: str | None = None
    decision_key: str | None = None
    """``order_key`` of the latest ``comment.moderated``."""
    held_since: str | None = None
    """When the latest decision sent the comment to a person (``review``), else None."""
    first_final_at: str | None = None
    first_final_mode: str | None = None
    latency_observed: str | None = None
    language: str | None = None
    cluster_id: str | None = None
    published: str | None = None
    """When the comment was first published."""
    published_key: str | None = None
    hidden_key: str | None = None
    status: str | None = None
    """The derived status (``stats.COMMENT_STATUSES``) last counted for this comment."""

    def to_document(self) -> Document:
        return _shallow(self)

    @classmethod
    def from_document(cls, document: Document) -> CommentState:
        return cls(**{k: document.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


@dataclass(slots=True)
class ParticipantState:
    """A participant's first-touch source and declared profile (``participants``)."""

    registered: str | None = None
    source: str | None = None
    profile: dict[str, str] = field(default_factory=dict)
    erased: str | None = None

    def to_document(self) -> Document:
        return {**_shallow(self), "profile": dict(self.profile)}

    @classmethod
    def from_document(cls, document: Document) -> ParticipantState:
        return cls(
            registered=document.get("registered"),
            source=document.get("source"),
            profile=dict(document.get("profile") or {}),
            erased=document.get("erased"),
        )


@dataclass(slots=True)
class ContributorState:
    """One participant who contributed to one campaign (``contributors``, ``_id`` = ``c|p``)."""

    campaign_id: str
    participant_id: str
    first_at: str
    counted: str | None = None
    """Set once the participant's source and profile have been counted for this campaign."""

    def to_document(self) -> Document:
        return _shallow(self)

    @classmethod
    def from_document(cls, document: Document) -> ContributorState:
        return cls(
            campaign_id=document["campaign_id"],
            participant_id=document["participant_id"],
            first_at=document["first_at"],
            counted=document.get("counted"),
        )


@dataclass(slots=True)
class DisseminationState:
    """The latest registration of a dissemination (``disseminations``)."""

    campaign_id: str
    source: str
    channel: str
    amount: str | None
    """A decimal text (money is never a float here), None when no spend was given."""
    currency: str | None
    recipients: int
    key: str

    def to_document(self) -> Document:
        return _shallow(self)

    @classmethod
    def from_document(cls, document: Document) -> DisseminationState:
        return cls(**{k: document.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


@dataclass(slots=True)
class ClusterState:
    """A form-letter cluster: its largest known size and its published text (``clusters``)."""

    campaign_id: str
    cluster_id: str
    size: int
    text: str
    language: str | None = None

    def to_document(self) -> Document:
        return _shallow(self)

    @classmethod
    def from_document(cls, document: Document) -> ClusterState:
        return cls(**{k: document.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


@dataclass(slots=True)
class CampaignState:
    """A campaign's latest snapshot and outcome (``campaigns``, ``_id`` = campaign id)."""

    snapshot: dict[str, Any] | None = None
    snapshot_key: str | None = None
    ended_at: str | None = None
    """When a closed or archived campaign stopped taking contributions."""
    outcome: dict[str, Any] | None = None
    outcome_key: str | None = None

    def to_document(self) -> Document:
        return asdict(self)

    @classmethod
    def from_document(cls, document: Document) -> CampaignState:
        return cls(**{k: document.get(k) for k in cls.__dataclass_fields__})


class CampaignCounters(BaseModel):
    """A campaign's counters as read from ``campaign_counters``; any may be missing (zero).

    Nested counters are ``{key: n}`` maps (``visits``: per source; ``status``: comments per
    current status...); see ``counting.py`` for what moves each.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    campaign_id: str = Field(alias="_id")
    events: dict[str, int] = Field(default_factory=dict)
    comments: dict[str, int] = Field(default_factory=dict)
    status: dict[str, int] = Field(default_factory=dict)
    channels: dict[str, int] = Field(default_factory=dict)
    circles: dict[str, int] = Field(default_factory=dict)
    languages: dict[str, int] = Field(default_factory=dict)
    decisions: dict[str, dict[str, int]] = Field(default_factory=dict)
    reasons: dict[str, int] = Field(default_factory=dict)
    hidden_by: dict[str, int] = Field(default_factory=dict)
    latency: dict[str, dict[str, float]] = Field(default_factory=dict)
    visits: dict[str, int] = Field(default_factory=dict)
    visit_channels: dict[str, int] = Field(default_factory=dict)
    invited: dict[str, int] = Field(default_factory=dict)
    clicked: dict[str, int] = Field(default_factory=dict)
    registered: dict[str, int] = Field(default_factory=dict)
    took_part: dict[str, int] = Field(default_factory=dict)
    profile: dict[str, dict[str, int]] = Field(default_factory=dict)
    participants: int = 0
    responses: int = 0
    votes: int = 0
    flags: int = 0
    appeals: dict[str, int] = Field(default_factory=dict)
    clusters: dict[str, int] = Field(default_factory=dict)
    largest_cluster: int = 0
    notifications: dict[str, dict[str, int]] = Field(default_factory=dict)
    webhooks: dict[str, int] = Field(default_factory=dict)
    webhook_latency: dict[str, float] = Field(default_factory=dict)
    alerts: dict[str, int] = Field(default_factory=dict)
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    updated_at: datetime | None = None
