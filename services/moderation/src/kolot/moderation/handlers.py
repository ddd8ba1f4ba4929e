"""Bus consumers: submitted comments, flags, appeals and campaign changes (durable, batched)."""

from __future__ import annotations

from kolot.common.bus import ConsumerSpec, Streams
from kolot.common.events import AppealFiled, CommentFlagged, CommentSubmitted, Event
from kolot.moderation.service import CAMPAIGN_EVENTS, ModerationService

COMMENTS_CONSUMER = "moderation-comments"
CAMPAIGNS_CONSUMER = "moderation-campaigns"
FLAGS_CONSUMER = "moderation-flags"
APPEALS_CONSUMER = "moderation-appeals"


def consumer_specs(service: ModerationService, streams: Streams) -> list[ConsumerSpec]:
    async def on_comment_submitted(events: list[Event]) -> None:
        await service.moderate([e for e in events if isinstance(e, CommentSubmitted)])

    async def on_campaign_changed(events: list[Event]) -> None:
        await service.record_campaigns([e for e in events if isinstance(e, CAMPAIGN_EVENTS)])

    async def on_comment_flagged(events: list[Event]) -> None:
        await service.flag([e for e in events if isinstance(e, CommentFlagged)])

    async def on_appeal_filed(events: list[Event]) -> None:
        await service.file_appeals([e for e in events if isinstance(e, AppealFiled)])

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
        ConsumerSpec(
            name=FLAGS_CONSUMER,
            stream="events",
            subject=streams.events_subject("comment", "flagged"),
            handler=on_comment_flagged,
            types={CommentFlagged.event_type()},
            description="Counts distinct flaggers; hides a comment at the campaign's threshold.",
        ),
        ConsumerSpec(
            name=APPEALS_CONSUMER,
            stream="events",
            subject=streams.events_subject("appeal", "filed"),
            handler=on_appeal_filed,
            types={AppealFiled.event_type()},
            description="Opens appeals for moderators other than the one who decided.",
        ),
    ]
