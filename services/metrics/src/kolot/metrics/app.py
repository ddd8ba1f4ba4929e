"""The metrics service's ASGI app: the events consumer, the stats API and the domain metrics."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from kolot.common import web
from kolot.common.runtime import Runtime
from kolot.metrics.api import router
from kolot.metrics.exposition import CountersCollector
from kolot.metrics.handlers import all_events_consumer
from kolot.metrics.models import COUNTERS_COLLECTION
from kolot.metrics.repository import CountersRepository
from kolot.metrics.service import MetricsService
from kolot.metrics.settings import MetricsSettings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Counts every Kolot event into per-campaign figures (comments by status, visits and participants
by attribution source, responses, votes, flags), answers them as JSON for analysts, and exposes
them as Prometheus metrics with bounded label sets on `/metrics`.
"""


async def refresh_snapshot(runtime: Runtime, collector: CountersCollector, interval: float) -> None:
    """Keep the /metrics snapshot current; a failed read keeps the previous one."""
    while True:
        try:
            await MetricsService(CountersRepository(runtime.db)).refresh(collector)
        except Exception:
            log.exception("could not refresh the metrics snapshot; exposing the previous one")
        await asyncio.sleep(interval)


def create_app(settings: MetricsSettings) -> FastAPI:
    # declared so it exists before the first transaction writes to it
    runtime = Runtime(settings, indexes={COUNTERS_COLLECTION: []})
    runtime.consumer(all_events_consumer(runtime))
    collector = CountersCollector(limit=settings.max_sources_per_campaign)
    runtime.registry.register(collector)

    async def refresh(rt: Runtime) -> None:
        await refresh_snapshot(rt, collector, settings.snapshot_interval)

    app = web.create_app(
        runtime,
        title="Kolot metrics",
        description=DESCRIPTION,
        routers=[router],
        background=[refresh],
    )
    app.state.collector = collector
    return app
