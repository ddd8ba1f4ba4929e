"""Bus consumers of the metrics service."""

from __future__ import annotations

from pymongo.asynchronous.client_session import AsyncClientSession

from kolot.common.bus import BatchHandler, ConsumerSpec, Streams
from kolot.common.events import Event
from kolot.common.runtime import Runtime
from kolot.common.store import apply_once
from kolot.metrics.repository import MetricsRepository
from kolot.metrics.service import MetricsService

ALL_EVENTS_CONSUMER = "metrics-all"


def on_any_event(runtime: Runtime) -> BatchHandler:
    """Fold a batch of events of every type into the aggregates, exactly once.

    ``apply_once`` records the applied event ids in the same transaction as the batch's reads and
    writes, so a redelivered batch, a replayed stream or a new consumer reading from the start
    counts each event once.
    """

    async def handle(events: list[Event]) -> None:
        service = MetricsService(MetricsRepository(runtime.db))

        async def effect(new_events: list[Event], session: AsyncClientSession) -> None:
            await service.count(new_events, session=session)

        await apply_once(runtime.mongo, runtime.db, events, effect, consumer=ALL_EVENTS_CONSUMER)

    return handle


def all_events_consumer(runtime: Runtime) -> ConsumerSpec:
    streams: Streams = runtime.streams
    return ConsumerSpec(
        name=ALL_EVENTS_CONSUMER,
        stream="events",
        subject=f"{streams.namespace}.events.>",
        handler=on_any_event(runtime),
        types=None,
        description="Folds every domain event into per-campaign aggregates (exactly once).",
    )
