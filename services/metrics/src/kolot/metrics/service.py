"""The metrics domain: count events into per-campaign counters, answer stats, feed /metrics."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo.asynchronous.client_session import AsyncClientSession

from kolot.common.events import Event
from kolot.metrics.counting import tally
from kolot.metrics.exposition import CountersCollector
from kolot.metrics.models import CampaignCounters
from kolot.metrics.repository import CountersRepository
from kolot.metrics.schemas import CampaignStatsPublic
from kolot.metrics.stats import campaign_stats


class MetricsService:
    def __init__(self, repository: CountersRepository) -> None:
        self._repository = repository

    async def count(self, events: list[Event], *, session: AsyncClientSession) -> None:
        """Add ``events`` to their campaigns' counters, in the caller's transaction."""
        await self._repository.add(tally(events), now=datetime.now(UTC), session=session)

    async def stats(self, campaign_id: str) -> CampaignStatsPublic:
        # Metrics learns of campaigns only through their events, so it cannot tell a campaign
        # that does not exist from one that has had no event yet: both answer zeros.
        counters = await self._repository.get(campaign_id)
        return campaign_stats(counters or CampaignCounters(campaign_id=campaign_id))

    async def refresh(self, collector: CountersCollector) -> None:
        """Read every campaign's counters into the snapshot that /metrics exposes."""
        collector.update(await self._repository.all())
