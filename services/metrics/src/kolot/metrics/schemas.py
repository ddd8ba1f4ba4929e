"""HTTP shapes of the metrics API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class Money(BaseModel):
    amount: float = Field(description="in the currency's major unit, rounded to 2 decimals")
    currency: str


class FunnelStep(BaseModel):
    """One attribution source's funnel (or the campaign's total)."""

    source: str
    invited: int = Field(description="invitations sent with this source")
    clicked: int = Field(description="tracked links of this source followed")
    visits: int = Field(description="visits attributed to this source")
    participants: int = Field(
        description="distinct participants whose first-touch source this is and who took part "
        "(commented, answered the survey or voted) in this consultation"
    )
    click_rate_pct: float | None = Field(description="clicked / invited, percent; null: none")
    visit_rate_pct: float | None = Field(description="visits / clicked, percent; null: none")
    participation_rate_pct: float | None = Field(
        description="participants / visits, percent (2 decimals); null without visits"
    )
    conversion: float | None = Field(
        description="participants / visits as a fraction (4 decimals: 0.1242 for 12.42%)"
    )
    spend: Money | None = Field(
        description="latest spend of this source's disseminations; null when none was registered "
        "or when they were paid in several currencies"
    )
    cost_per_visit: Money | None
    cost_per_response: Money | None = Field(
        description="spend / participants who took part (one response per participant)"
    )


class Funnel(BaseModel):
    campaign_id: str
    sources: list[FunnelStep] = Field(description="by participants, then visits, descending")
    total: FunnelStep


class QueueStats(BaseModel):
    depth: int = Field(description="comments whose latest decision sent them to a person")
    oldest_since: datetime | None
    oldest_age_seconds: float | None


class LatencyStats(BaseModel):
    count: int
    mean_seconds: float | None
    p50_seconds: float | None = Field(description="estimated from the histogram's buckets")
    p90_seconds: float | None
    buckets: dict[str, int] = Field(description="upper bound (seconds, or +Inf) -> cumulative")


class ModerationStats(BaseModel):
    decisions: dict[str, dict[str, int]] = Field(
        description="automatic|human -> approve|reject|review -> decisions"
    )
    reasons: dict[str, int] = Field(description="reasons given for rejections")
    hidden_by: dict[str, int]
    queue: QueueStats
    latency: dict[str, LatencyStats] = Field(
        description="submitted -> first approve/reject, by who decided (automatic|human)"
    )
    appeals: dict[str, int] = Field(description="filed, upheld, overturned")


class CommentStats(BaseModel):
    submitted: int
    published: int = Field(description="comments published (each once, however republished)")
    rejected: int = Field(description="reject decisions")
    review: int = Field(description="decisions that sent a comment to a person")
    hidden: int = Field(description="hide events")
    pending: int = Field(description="submitted, no decision yet, or waiting for a person")
    held: int = Field(description="waiting for a person now")
    by_status: dict[str, int] = Field(
        description="current status: pending, held, approved, clustered, published, rejected, "
        "hidden"
    )
    by_channel: dict[str, int]
    by_circle: dict[str, int]
    by_language: dict[str, int]


class ClusterStats(BaseModel):
    count: int = Field(description="form-letter clusters (two or more near-identical comments)")
    comments: int = Field(description="comments in those clusters")
    largest: int


class GroupShare(BaseModel):
    group: str
    participants: int
    observed_share: float = Field(description="among participants who declared this dimension")
    target_share: float = Field(description="the campaign's target, normalised to sum to 1")
    ratio: float | None = Field(description="observed / target; null when the target is 0")
    under_represented: bool


class DimensionRepresentativeness(BaseModel):
    declared: int
    undeclared: int
    dissimilarity: float | None = Field(
        description="Duncan's dissimilarity index: half the sum of |observed - target| shares, "
        "0 (same mix as the targets) to 1; null without targets or declarations"
    )
    sufficient: bool = Field(description="enough declarations to warn (see min_sample)")
    groups: list[GroupShare]


class Representativeness(BaseModel):
    method: Literal["duncan_dissimilarity"] = "duncan_dissimilarity"
    min_sample: int
    warn_below_ratio: float
    dimensions: dict[str, DimensionRepresentativeness]
    warnings: list[str]


class Deliveries(BaseModel):
    notifications: dict[str, dict[str, int]] = Field(description="channel -> sent|failed")
    webhooks: dict[str, int] = Field(description="delivered, failed")
    webhook_latency: LatencyStats


class Participation(BaseModel):
    visits: int
    visits_by_channel: dict[str, int]
    registered: int = Field(description="participants who registered arriving at this campaign")
    participants: int = Field(description="distinct participants who took part")
    responses: int
    votes: int
    flags: int


class CampaignInfo(BaseModel):
    status: str | None
    title: dict[str, str | None]
    default_language: str
    opens_at: datetime | None
    closes_at: datetime | None


class CampaignStats(BaseModel):
    campaign_id: str
    campaign: CampaignInfo | None = Field(description="null until a campaign event was counted")
    comments: CommentStats
    moderation: ModerationStats
    participation: Participation
    funnel: dict[str, FunnelStep] = Field(
        description="per attribution source (``direct`` when none was given), most participants "
        "first; the total is in ``/funnel``"
    )
    clusters: ClusterStats
    representativeness: Representativeness
    deliveries: Deliveries
    alerts: dict[str, int] = Field(description="moderation surge alerts raised, by kind")
    events_counted: int = Field(description="events of this campaign counted so far")
    first_event_at: datetime | None
    last_event_at: datetime | None = Field(description="time of the latest event counted")
    updated_at: datetime | None = Field(description="when the counters last changed")


class TimeseriesPoint(BaseModel):
    start: datetime
    visits: int
    submitted: int
    published: int
    participants: int = Field(description="participants taking part for the first time")
    participants_cumulative: int
    responses: int
    votes: int


class Timeseries(BaseModel):
    campaign_id: str
    step_seconds: int
    points: list[TimeseriesPoint]


class TopCluster(BaseModel):
    cluster_id: str
    size: int
    text: str = Field(description="the published (redacted) text that stands for the cluster")
    language: str | None


class Outcome(BaseModel):
    summary: dict[str, str | None]
    decisions: list[dict[str, str | None]]
    url: str | None
    published_at: datetime | None


class Report(BaseModel):
    """What we heard: a consultation's public account."""

    campaign_id: str
    campaign: CampaignInfo | None
    language: str = Field(description="the language the report is written for")
    direction: Literal["rtl", "ltr"]
    totals: Participation
    comments: CommentStats
    top_clusters: list[TopCluster]
    moderation: ModerationStats
    funnel: list[FunnelStep]
    funnel_total: FunnelStep | None = Field(
        default=None, description="the funnel of every source together (invited -> took part)"
    )
    representativeness: Representativeness
    timeline: list[TimeseriesPoint] = Field(description="per day")
    outcome: Outcome | None
    generated_at: datetime


def as_json(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
