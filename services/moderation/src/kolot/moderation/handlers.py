"""Bus consumers: submitted comments and campaign changes, each a durable batch consumer."""

from __future__ import annotations

from kolot.common.bus import ConsumerSpec, Streams
from kolot.common.events import CommentSubmitted, Event
from kolot.moderation.service import CAMPAIGN_EVENTS, ModerationService

COMMENTS_CONSUMER = "moderation-comments"
CAMPAIGNS_CONSUMER = "moderation-campaigns"


def consumer_specs(service: ModerationService, streams: Streams) -> list[ConsumerSpec]:
    async def on_comment_submitted(events: list[Event]) -> None:
        await service.moderate([e for e in events if isinstance(e, CommentSubmitted)])

    async def on_campaign_changed(events: list[Event]) -> None:
        await service.record_campaigns([e for e in events if isinstance(e, CAMPAIGN_EVENTS)])

    return [
        ConsumerSpec(
            name=COMMENTS_CONSUMER,
            stream="events",
            subject=streams.events_subject("comment", "submitted"),
            handler=on_comment_submitted,
            types={CommentSubmitted.event_type()},
            description="Decides on every submitted comment; publishes moderated/published.",
        ),
        ConsumerSpec(
            name=CAMPAIGNS_CONSUMER,
            stream="events",
            subject=streams.events_subject("campaign"),
            handler=on_campaign_changed,
            types={cls.event_type() for cls in CAMPAIGN_EVENTS},
            description="Keeps each campaign's moderation mode and flag threshold.",
        ),
    ]
