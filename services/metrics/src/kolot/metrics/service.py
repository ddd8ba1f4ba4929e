"""The metrics domain: fold events into aggregates, answer stats and reports, feed /metrics."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo.asynchronous.client_session import AsyncClientSession

from kolot.common.events import Event
from kolot.metrics.counting import fold, needs
from kolot.metrics.exposition import CountersCollector, Snapshot
from kolot.metrics.models import CampaignCounters
from kolot.metrics.repository import MetricsRepository
from kolot.metrics.schemas import (
    CampaignStats,
    Funnel,
    Outcome,
    Report,
    Timeseries,
    TopCluster,
)
from kolot.metrics.stats import (
    campaign_info,
    campaign_stats,
    comment_stats,
    funnel,
    moderation_stats,
    participation,
    representativeness,
    targets_of,
    timeseries,
)

DAY = 86400
TOP_CLUSTERS = 10
RTL_LANGUAGES = frozenset({"he", "ar"})


class MetricsService:
    def __init__(self, repository: MetricsRepository) -> None:
        self._repository = repository

    async def count(self, events: list[Event], *, session: AsyncClientSession) -> None:
        """Fold ``events`` into the aggregates, in the caller's transaction."""
        states = await self._repository.load(needs(events), session=session)
        await self._repository.write(fold(events, states), now=datetime.now(UTC), session=session)

    # Metrics learns of campaigns only through their events, so it cannot tell a campaign that
    # does not exist from one that has had no event yet: both answer zeros.
    async def _counters(self, campaign_id: str) -> CampaignCounters:
        counters = await self._repository.counters(campaign_id)
        return counters or CampaignCounters(campaign_id=campaign_id)

    async def stats(self, campaign_id: str) -> CampaignStats:
        counters = await self._counters(campaign_id)
        queues = await self._repository.held([campaign_id])
        return campaign_stats(
            counters,
            campaign=await self._repository.campaign(campaign_id),
            disseminations=await self._repository.disseminations(campaign_id),
            queue=queues.get(campaign_id),
            now=datetime.now(UTC),
        )

    async def funnel(self, campaign_id: str) -> Funnel:
        counters = await self._counters(campaign_id)
        steps, total = funnel(counters, await self._repository.disseminations(campaign_id))
        return Funnel(campaign_id=campaign_id, sources=steps, total=total)

    async def timeseries(
        self,
        campaign_id: str,
        *,
        step_seconds: int,
        since: datetime | None = None,
        until: datetime | None = None,
        max_points: int | None = None,
    ) -> Timeseries:
        points = timeseries(
            await self._repository.hours(campaign_id),
            step_seconds=step_seconds,
            since=since,
            until=until,
            max_points=max_points,
        )
        return Timeseries(campaign_id=campaign_id, step_seconds=step_seconds, points=points)

    async def report(self, campaign_id: str, *, language: str | None = None) -> Report:
        counters = await self._counters(campaign_id)
        campaign = await self._repository.campaign(campaign_id)
        info = campaign_info(campaign)
        language = language or (info.default_language if info else "he")
        now = datetime.now(UTC)
        steps, total = funnel(counters, await self._repository.disseminations(campaign_id))
        queues = await self._repository.held([campaign_id])
        outcome = None
        if campaign is not None and campaign.outcome is not None:
            outcome = Outcome.model_validate(campaign.outcome)
        return Report(
            campaign_id=campaign_id,
            campaign=info,
            language=language,
            direction="rtl" if language in RTL_LANGUAGES else "ltr",
            totals=participation(counters),
            comments=comment_stats(counters),
            top_clusters=[
                TopCluster(cluster_id=c.cluster_id, size=c.size, text=c.text, language=c.language)
                for c in await self._repository.top_clusters(campaign_id, TOP_CLUSTERS)
            ],
            moderation=moderation_stats(counters, queues.get(campaign_id), now=now),
            funnel=steps,
            funnel_total=total,
            representativeness=representativeness(counters.profile, targets_of(campaign)),
            timeline=timeseries(await self._repository.hours(campaign_id), step_seconds=DAY),
            outcome=outcome,
            generated_at=now,
        )

    async def refresh(self, collector: CountersCollector) -> None:
        """Read every campaign's figures into the snapshot that /metrics exposes."""
        collector.update(
            Snapshot(
                counters=await self._repository.all_counters(),
                campaigns=await self._repository.campaigns(),
                disseminations=await self._repository.all_disseminations(),
                queues=await self._repository.held(),
                now=datetime.now(UTC),
            )
        )
