"""The metrics service's ASGI app: the events consumer, the stats API and the domain metrics."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from fastapi import FastAPI

from kolot.common import web
from kolot.common.runtime import Runtime
from kolot.metrics.api import router
from kolot.metrics.assets import router as assets_router
from kolot.metrics.exposition import CountersCollector
from kolot.metrics.handlers import all_events_consumer
from kolot.metrics.models import INDEXES, RETIRED_INDEXES
from kolot.metrics.repository import MetricsRepository
from kolot.metrics.retention import Forgetting, forgetting
from kolot.metrics.service import MetricsService
from kolot.metrics.settings import MetricsSettings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Folds every Kolot event into per-campaign figures (comments by status, channel, circle and
language; moderation decisions, latency and the human queue; visits, invitations, clicks and
participants by attribution source, with spend; form-letter clusters; participants' declared
profile against the campaign's targets; notification and webhook deliveries), answers them as
JSON and as a "what we heard" report for analysts, and exposes them as Prometheus metrics with
bounded label sets on `/metrics`.
"""


async def refresh_snapshot(runtime: Runtime, collector: CountersCollector, interval: float) -> None:
    """Keep the /metrics snapshot current; a failed read keeps the previous one."""
    while True:
        try:
            await MetricsService(MetricsRepository(runtime.db)).refresh(collector)
        except Exception:
            log.exception("could not refresh the metrics snapshot; exposing the previous one")
        await asyncio.sleep(interval)


def create_app(settings: MetricsSettings) -> FastAPI:
    # every collection is declared so it exists before the first transaction writes to it
    runtime = Runtime(settings, indexes=INDEXES, retired_indexes=RETIRED_INDEXES)
    runtime.consumer(forgetting(all_events_consumer(runtime), Forgetting(lambda: runtime.db)))
    collector = CountersCollector(
        max_sources=settings.max_sources_per_campaign,
        max_campaigns=settings.max_campaign_labels,
        recent=timedelta(days=settings.recent_campaign_days),
    )
    runtime.registry.register(collector)

    async def refresh(rt: Runtime) -> None:
        await refresh_snapshot(rt, collector, settings.snapshot_interval)

    app = web.create_app(
        runtime,
        title="Kolot metrics",
        description=DESCRIPTION,
        routers=[router, assets_router],
        background=[refresh],
    )
    app.state.collector = collector
    return app
