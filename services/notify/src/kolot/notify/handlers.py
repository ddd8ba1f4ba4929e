"""Notify's bus consumer: public events become webhook deliveries."""

from __future__ import annotations

from kolot.common.bus import ConsumerSpec, Streams
from kolot.common.events import Event
from kolot.notify.notifications import PLANNED_TYPES, NotificationPlanner
from kolot.notify.service import EventFanout

WEBHOOKS_CONSUMER = "notify-webhooks"
PARTICIPANTS_CONSUMER = "notify-participants"


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


def participants_consumer(streams: Streams, planner: NotificationPlanner) -> ConsumerSpec:
    async def on_events(events: list[Event]) -> None:
        # contacts, authorship and planned notifications; the message worker sends them
        await planner.handle(events)

    return ConsumerSpec(
        name=PARTICIPANTS_CONSUMER,
        stream="events",
        subject=tuple(
            streams.events_subject(*event_type.split(".")[1:])
            for event_type in sorted(PLANNED_TYPES)
        ),
        handler=on_events,
        types=PLANNED_TYPES,
        description="Contacts (sealed), who wrote what, and the notifications participants get: "
        "replies, decisions, appeals, outcomes; erasure deletes them.",
    )
