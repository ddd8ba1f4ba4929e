"""The figures a campaign's counters and states answer: pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kolot.metrics.counting import (
    INF,
    LATENCY_BUCKETS,
    PROFILE_DIMENSIONS,
    UNDECLARED,
    WEBHOOK_BUCKETS,
    bucket_key,
    parse_stamp,
)
from kolot.metrics.models import CampaignCounters, CampaignState, DisseminationState
from kolot.metrics.schemas import (
    CampaignInfo,
    CampaignStats,
    ClusterStats,
    CommentStats,
    Deliveries,
    DimensionRepresentativeness,
    FunnelStep,
    GroupShare,
    LatencyStats,
    ModerationStats,
    Money,
    Participation,
    QueueStats,
    Representativeness,
    TimeseriesPoint,
)

COMMENT_STATUSES = ("pending", "held", "approved", "clustered", "published", "rejected", "hidden")
MODES = ("automatic", "human")
DECISIONS = ("approve", "reject", "review")

MIN_SAMPLE = 30
"""Fewer declarations than this in a dimension: shares are shown, no warning is raised (a handful
of participants says nothing about who is missing)."""
WARN_BELOW_RATIO = 0.5
"""A group is badly under-represented when its observed share is below half its target share."""
MIN_TARGET_SHARE = 0.02
"""Groups targeted below this share are never warned about (too small to judge)."""

_CENT = Decimal("0.01")


def percent(part: int, whole: int) -> float | None:
    """``part / whole`` in percent, rounded half up to 2 decimals (624 of 5,025 -> 12.42)."""
    if whole <= 0:
        return None
    value = Decimal(part) * 100 / Decimal(whole)
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def ratio(part: int, whole: int) -> float | None:
    """``part / whole`` rounded half up to 4 decimals (624 of 5,025 -> 0.1242)."""
    if whole <= 0:
        return None
    value = Decimal(part) / Decimal(whole)
    return float(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def money(amount: Decimal, currency: str) -> Money:
    return Money(amount=float(amount.quantize(_CENT, rounding=ROUND_HALF_UP)), currency=currency)


def cost(spend: tuple[Decimal, str] | None, per: int) -> Money | None:
    """Spend divided by a count, rounded half up to the cent (10,000 / 624 -> 16.03)."""
    if spend is None or per <= 0:
        return None
    amount, currency = spend
    return money(amount / Decimal(per), currency)


def spend_by_source(
    disseminations: Sequence[DisseminationState],
) -> dict[str, tuple[Decimal, str] | None]:
    """Each source's total spend (latest per dissemination); None when currencies are mixed."""
    totals: dict[str, tuple[Decimal, str] | None] = {}
    mixed: set[str] = set()
    for item in disseminations:
        if item.amount is None or item.currency is None:
            continue
        current = totals.get(item.source)
        if item.source in mixed:
            continue
        if current is None:
            totals[item.source] = (Decimal(item.amount), item.currency)
        elif current[1] != item.currency:
            mixed.add(item.source)
            totals[item.source] = None
        else:
            totals[item.source] = (current[0] + Decimal(item.amount), item.currency)
    return totals


def funnel_step(
    source: str,
    *,
    invited: int,
    clicked: int,
    visits: int,
    participants: int,
    spend: tuple[Decimal, str] | None,
) -> FunnelStep:
    return FunnelStep(
        source=source,
        invited=invited,
        clicked=clicked,
        visits=visits,
        participants=participants,
        click_rate_pct=percent(clicked, invited),
        visit_rate_pct=percent(visits, clicked),
        participation_rate_pct=percent(participants, visits),
        conversion=ratio(participants, visits),
        spend=None if spend is None else money(*spend),
        cost_per_visit=cost(spend, visits),
        cost_per_response=cost(spend, participants),
    )


def funnel(
    counters: CampaignCounters, disseminations: Sequence[DisseminationState]
) -> tuple[list[FunnelStep], FunnelStep]:
    """Per source, by participants then visits (descending), and the campaign's total."""
    spends = spend_by_source(disseminations)
    sources = (
        counters.invited.keys()
        | counters.clicked.keys()
        | counters.visits.keys()
        | counters.took_part.keys()
        | {d.source for d in disseminations}
    )
    steps = [
        funnel_step(
            source,
            invited=counters.invited.get(source, 0),
            clicked=counters.clicked.get(source, 0),
            visits=counters.visits.get(source, 0),
            participants=counters.took_part.get(source, 0),
            spend=spends.get(source),
        )
        for source in sources
    ]
    steps.sort(key=lambda s: (-s.participants, -s.visits, s.source))
    known = [s for s in spends.values() if s is not None]
    currencies = {currency for _, currency in known}
    total_spend = (
        (sum((amount for amount, _ in known), Decimal(0)), currencies.pop())
        if len(currencies) == 1 and len(known) == len(spends)
        else None
    )
    total = funnel_step(
        "total",
        invited=sum(counters.invited.values()),
        clicked=sum(counters.clicked.values()),
        visits=sum(counters.visits.values()),
        participants=sum(counters.took_part.values()),
        spend=total_spend,
    )
    return steps, total


def histogram(
    counts: Mapping[str, float], bounds: Sequence[float]
) -> tuple[list[tuple[float, int]], int, float]:
    """Cumulative ``(upper bound, count)`` pairs ending with +Inf, the count and the sum."""
    cumulative, running = [], 0
    for bound in bounds:
        running += int(counts.get(bucket_key(bound), 0))
        cumulative.append((bound, running))
    running += int(counts.get(INF, 0))
    cumulative.append((float("inf"), running))
    return cumulative, int(counts.get("count", 0)), float(counts.get("sum", 0.0))


def quantile(q: float, cumulative: Sequence[tuple[float, int]]) -> float | None:
    """Like PromQL's ``histogram_quantile``: linear within the bucket that holds the rank."""
    total = cumulative[-1][1] if cumulative else 0
    if total == 0:
        return None
    rank = q * total
    lower, below = 0.0, 0
    for bound, count in cumulative:
        if count >= rank:
            if bound == float("inf"):
                return lower  # beyond the last finite bound: its lower edge is all we know
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0)
        lower, below = bound, count
    return lower


def latency_stats(counts: Mapping[str, float], bounds: Sequence[float]) -> LatencyStats:
    cumulative, count, total = histogram(counts, bounds)
    p50, p90 = quantile(0.5, cumulative), quantile(0.9, cumulative)
    return LatencyStats(
        count=count,
        mean_seconds=round(total / count, 3) if count else None,
        p50_seconds=None if p50 is None else round(p50, 3),
        p90_seconds=None if p90 is None else round(p90, 3),
        buckets={("+Inf" if b == float("inf") else f"{b:g}"): n for b, n in cumulative},
    )


def representativeness(
    profile: Mapping[str, Mapping[str, int]], targets: Mapping[str, Mapping[str, float]]
) -> Representativeness:
    """Participants' declared profile against the campaign's target shares, per dimension.

    The index is Duncan's dissimilarity index D = ½ Σ |observed_g − target_g| over the groups
    (equal to the total variation distance between the two distributions): the share of
    participants who would have to be in another group for the mix to match the targets. Shares
    are among the participants who declared that dimension; targets are normalised to sum to 1,
    and a declared group without a target counts with a target of 0. A group is badly
    under-represented when at least ``MIN_SAMPLE`` participants declared the dimension, its target
    is at least ``MIN_TARGET_SHARE`` and its observed share is below ``WARN_BELOW_RATIO`` times
    the target.
    """
    dimensions: dict[str, DimensionRepresentativeness] = {}
    warnings: list[str] = []
    for dimension in PROFILE_DIMENSIONS:
        counts = {g: n for g, n in profile.get(dimension, {}).items() if n > 0}
        undeclared = counts.pop(UNDECLARED, 0)
        declared = sum(counts.values())
        raw_targets = {g: s for g, s in targets.get(dimension, {}).items() if s > 0}
        if not raw_targets and not declared:
            continue
        target_sum = sum(raw_targets.values())
        target = {g: s / target_sum for g, s in raw_targets.items()}
        sufficient = declared >= MIN_SAMPLE
        groups: list[GroupShare] = []
        for group in sorted(target.keys() | counts.keys()):
            observed = counts.get(group, 0) / declared if declared else 0.0
            share = target.get(group, 0.0)
            ratio = observed / share if share else None
            under = (
                sufficient
                and share >= MIN_TARGET_SHARE
                and ratio is not None
                and ratio < WARN_BELOW_RATIO
            )
            groups.append(
                GroupShare(
                    group=group,
                    participants=counts.get(group, 0),
                    observed_share=round(observed, 4),
                    target_share=round(share, 4),
                    ratio=None if ratio is None else round(ratio, 3),
                    under_represented=under,
                )
            )
            if under:
                warnings.append(
                    f"{dimension} {group}: {observed:.1%} of participants against a target of "
                    f"{share:.1%}"
                )
        index = None
        if target and declared:
            index = round(
                sum(
                    abs(counts.get(g, 0) / declared - target.get(g, 0.0))
                    for g in target.keys() | counts.keys()
                )
                / 2,
                4,
            )
        dimensions[dimension] = DimensionRepresentativeness(
            declared=declared,
            undeclared=undeclared,
            dissimilarity=index,
            sufficient=sufficient,
            groups=groups,
        )
    return Representativeness(
        min_sample=MIN_SAMPLE,
        warn_below_ratio=WARN_BELOW_RATIO,
        dimensions=dimensions,
        warnings=warnings,
    )


def campaign_info(state: CampaignState | None) -> CampaignInfo | None:
    if state is None or state.snapshot is None:
        return None
    snapshot = state.snapshot
    return CampaignInfo(
        status=snapshot.get("status"),
        title=dict(snapshot.get("title") or {}),
        default_language=snapshot.get("default_language") or "he",
        opens_at=snapshot.get("opens_at"),
        closes_at=snapshot.get("closes_at"),
    )


def targets_of(state: CampaignState | None) -> dict[str, dict[str, float]]:
    if state is None or state.snapshot is None:
        return {}
    targets: dict[str, dict[str, float]] = state.snapshot.get("targets") or {}
    return targets


def queue_stats(queue: tuple[int, str] | None, *, now: datetime) -> QueueStats:
    if queue is None or queue[0] == 0:
        return QueueStats(depth=0, oldest_since=None, oldest_age_seconds=None)
    depth, since = queue
    oldest = parse_stamp(since) if since else None
    age = None if oldest is None else max(0.0, round((now - oldest).total_seconds(), 3))
    return QueueStats(depth=depth, oldest_since=oldest, oldest_age_seconds=age)


def comment_stats(counters: CampaignCounters) -> CommentStats:
    by_status = {s: max(0, counters.status.get(s, 0)) for s in COMMENT_STATUSES}
    return CommentStats(
        submitted=counters.comments.get("submitted", 0),
        published=counters.comments.get("published", 0),
        rejected=counters.comments.get("rejected", 0),
        review=counters.comments.get("review", 0),
        hidden=counters.comments.get("hidden", 0),
        pending=by_status["pending"] + by_status["held"],
        held=by_status["held"],
        by_status=by_status,
        by_channel=dict(sorted(counters.channels.items())),
        by_circle=dict(sorted(counters.circles.items())),
        by_language=dict(sorted(counters.languages.items())),
    )


def moderation_stats(
    counters: CampaignCounters, queue: tuple[int, str] | None, *, now: datetime
) -> ModerationStats:
    return ModerationStats(
        decisions={
            mode: {d: counters.decisions.get(mode, {}).get(d, 0) for d in DECISIONS}
            for mode in MODES
        },
        reasons=dict(sorted(counters.reasons.items())),
        hidden_by=dict(sorted(counters.hidden_by.items())),
        queue=queue_stats(queue, now=now),
        latency={
            mode: latency_stats(counters.latency.get(mode, {}), LATENCY_BUCKETS) for mode in MODES
        },
        appeals={k: counters.appeals.get(k, 0) for k in ("filed", "upheld", "overturned")},
    )


def participation(counters: CampaignCounters) -> Participation:
    return Participation(
        visits=sum(counters.visits.values()),
        visits_by_channel=dict(sorted(counters.visit_channels.items())),
        registered=sum(counters.registered.values()),
        participants=counters.participants,
        responses=counters.responses,
        votes=counters.votes,
        flags=counters.flags,
    )


def campaign_stats(
    counters: CampaignCounters,
    *,
    campaign: CampaignState | None,
    disseminations: Sequence[DisseminationState],
    queue: tuple[int, str] | None,
    now: datetime,
) -> CampaignStats:
    steps, _total = funnel(counters, disseminations)
    return CampaignStats(
        campaign_id=counters.campaign_id,
        campaign=campaign_info(campaign),
        comments=comment_stats(counters),
        moderation=moderation_stats(counters, queue, now=now),
        participation=participation(counters),
        funnel={step.source: step for step in steps},
        clusters=ClusterStats(
            count=counters.clusters.get("count", 0),
            comments=counters.clusters.get("comments", 0),
            largest=counters.largest_cluster,
        ),
        representativeness=representativeness(counters.profile, targets_of(campaign)),
        deliveries=Deliveries(
            notifications={
                channel: {k: n.get(k, 0) for k in ("sent", "failed")}
                for channel, n in sorted(counters.notifications.items())
            },
            webhooks={k: counters.webhooks.get(k, 0) for k in ("delivered", "failed")},
            webhook_latency=latency_stats(counters.webhook_latency, WEBHOOK_BUCKETS),
        ),
        alerts=dict(sorted(counters.alerts.items())),
        events_counted=sum(counters.events.values()),
        first_event_at=counters.first_event_at,
        last_event_at=counters.last_event_at,
        updated_at=counters.updated_at,
    )


class TooManyPoints(ValueError):
    """A time series would have more points than asked for."""


HOUR_FIELDS = ("visits", "submitted", "published", "participants", "responses", "votes")


def hour_start(hour: str) -> datetime:
    return datetime.strptime(hour, "%Y%m%dT%H").replace(tzinfo=UTC)


def timeseries(
    hours: Sequence[Mapping[str, Any]],
    *,
    step_seconds: int,
    since: datetime | None = None,
    until: datetime | None = None,
    max_points: int | None = None,
) -> list[TimeseriesPoint]:
    """Hourly buckets summed into steps aligned on the Unix epoch (UTC), gaps filled with zeros.

    ``participants_cumulative`` counts from the campaign's first hour, whatever ``since`` is.
    Raises ``TooManyPoints`` before building more than ``max_points`` points.
    """
    sums: dict[int, dict[str, int]] = {}
    for doc in hours:
        start = int(hour_start(doc["hour"]).timestamp()) // step_seconds * step_seconds
        bucket = sums.setdefault(start, dict.fromkeys(HOUR_FIELDS, 0))
        for name in HOUR_FIELDS:
            bucket[name] += int(doc.get(name, 0))
    if not sums:
        return []
    lo, hi = min(sums), max(sums)
    first = lo if since is None else int(since.timestamp()) // step_seconds * step_seconds
    last = hi if until is None else int(until.timestamp()) // step_seconds * step_seconds
    if max_points is not None and (last - first) // step_seconds + 1 > max_points:
        raise TooManyPoints((last - first) // step_seconds + 1)
    points: list[TimeseriesPoint] = []
    cumulative = sum(b["participants"] for s, b in sums.items() if s < first)
    start = first
    while start <= last:
        bucket = sums.get(start, dict.fromkeys(HOUR_FIELDS, 0))
        cumulative += bucket["participants"]
        points.append(
            TimeseriesPoint(
                start=datetime.fromtimestamp(start, UTC),
                participants_cumulative=cumulative,
                **bucket,
            )
        )
        start += step_seconds
    return points
