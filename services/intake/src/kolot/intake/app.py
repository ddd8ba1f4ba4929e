"""create_app(settings): intake's ASGI app; its lifespan starts the bus, store and projector."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from kolot.common.bus import ConsumerSpec, jetstream
from kolot.common.events import (
    CampaignClosed,
    CampaignCreated,
    CampaignOpened,
    CommentSubmitted,
    ParticipantRegistered,
    UndecodableEvent,
    VisitRecorded,
    parse_event,
)
from kolot.common.runtime import Runtime
from kolot.common.web import create_app as create_service_app
from kolot.intake.api import router
from kolot.intake.campaigns import CampaignDirectory
from kolot.intake.handlers import CAMPAIGN_TYPES, COMMENT_TYPES, Projector
from kolot.intake.repository import INDEXES, IntakeRepository
from kolot.intake.service import IntakeService
from kolot.intake.settings import IntakeSettings

log = logging.getLogger(__name__)


def create_app(settings: IntakeSettings) -> FastAPI:
    runtime = Runtime(settings, indexes=INDEXES)
    repository = IntakeRepository(lambda: runtime.db)
    directory = CampaignDirectory(repository.get_campaign)
    projector = Projector(repository)
    streams = runtime.streams
    runtime.consumer(
        ConsumerSpec(
            name="intake-comments",
            stream="events",
            subject=streams.events_subject("comment", "*"),
            handler=projector.on_comment_events,
            types=COMMENT_TYPES,
            description="Projects comments and their moderation into intake's read model.",
        )
    )
    runtime.consumer(
        ConsumerSpec(
            name="intake-campaigns",
            stream="events",
            subject=streams.events_subject("campaign", "*"),
            handler=projector.on_campaign_events,
            types=CAMPAIGN_TYPES,
            description="Projects campaign snapshots into intake's store.",
        )
    )
    campaign_events = (CampaignCreated, CampaignOpened, CampaignClosed)
    runtime.publishes(
        "events", *campaign_events, ParticipantRegistered, CommentSubmitted, VisitRecorded
    )
    runtime.publishes("public", *campaign_events)

    service = IntakeService(
        publisher=runtime.publisher,
        repository=repository,
        directory=directory,
        participant_secret=settings.participant_secret.get_secret_value(),
        receipt_secret=settings.receipt_secret.get_secret_value(),
        max_comment_chars=settings.max_comment_chars,
    )

    async def follow_campaigns(rt: Runtime) -> None:
        """Every replica keeps every campaign in memory: an ephemeral ordered consumer replays
        the campaign events (few) and follows new ones, until the app stops."""

        async def on_campaign_message(msg: Msg) -> None:
            try:
                event = parse_event(msg.data)
            except UndecodableEvent:
                return
            if event.type in CAMPAIGN_TYPES:
                directory.apply(event.data)

        subscription = await jetstream(rt.broker).subscribe(
            streams.events_subject("campaign", "*"),
            cb=on_campaign_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
            idle_heartbeat=5.0,
        )
        try:
            await asyncio.Event().wait()
        finally:
            await subscription.unsubscribe()

    app = create_service_app(
        runtime,
        title="Kolot intake",
        description="Consultations, participants and every contribution, accepted log first.",
        routers=[router],
        background=[follow_campaigns],
    )
    app.state.intake = service
    return app
