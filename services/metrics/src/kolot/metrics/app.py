"""The metrics service's ASGI app: the events consumer, the stats API and the domain metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kolot.common import web
from kolot.common.runtime import Runtime
from kolot.metrics.api import router
from kolot.metrics.exposition import CountersCollector
from kolot.metrics.handlers import all_events_consumer
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
    runtime = Runtime(settings)
    runtime.consumer(all_events_consumer(runtime))
    collector = CountersCollector(limit=settings.max_sources_per_campaign)
    runtime.registry.register(collector)

    app = web.create_app(runtime, title="Kolot metrics", description=DESCRIPTION, routers=[router])
    app.state.collector = collector

    # The refresher runs while the runtime is started and stops before it (the store closes
    # after). kolot.common.web.create_app has a start hook but no stop hook, so its lifespan is
    # wrapped here.
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with started(app_):
            task = asyncio.create_task(
                refresh_snapshot(runtime, collector, settings.snapshot_interval),
                name="metrics-snapshot",
            )
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan
    return app
