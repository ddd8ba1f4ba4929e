"""Notify's bus consumer: public events become webhook deliveries."""

from __future__ import annotations

from kolot.common.bus import ConsumerSpec, Streams
from kolot.common.events import Event
from kolot.notify.service import EventFanout

WEBHOOKS_CONSUMER = "notify-webhooks"


def webhooks_consumer(streams: Streams, fanout: EventFanout) -> ConsumerSpec:
    async def on_public_events(events: list[Event]) -> None:
        # stores the deliveries (one insert_many) and returns: the HTTP calls happen in the
        # delivery worker, so a slow endpoint never holds up the bus
        await fanout.record(events)

    return ConsumerSpec(
        name=WEBHOOKS_CONSUMER,
        stream="public",
        subject=streams.subjects("public"),
        handler=on_public_events,
        description="Every public event, matched against the webhook subscriptions.",
    )
