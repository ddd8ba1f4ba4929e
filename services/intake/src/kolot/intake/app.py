"""create_app(settings): intake's ASGI app; its lifespan starts the bus, store and projector."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from fastapi import FastAPI
from fastapi.routing import APIRoute
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from starlette.middleware import Middleware

from kolot.common.auth import ParticipantTokens
from kolot.common.bus import ConsumerSpec, jetstream
from kolot.common.contacts import ContactSealer
from kolot.common.events import (
    AppealFiled,
    CampaignArchived,
    CampaignClosed,
    CampaignCreated,
    CampaignOpened,
    CampaignPurged,
    CampaignUpdated,
    CommentFlagged,
    CommentSubmitted,
    OutcomePublished,
    ParticipantErased,
    ParticipantRegistered,
    ParticipantVerified,
    ResponseSubmitted,
    UndecodableEvent,
    VisitRecorded,
    VoteCast,
    parse_event,
)
from kolot.common.runtime import Runtime
from kolot.common.web import create_app as create_service_app
from kolot.intake.api import contributions, routers
from kolot.intake.api.deps import Limits, on_intake_error
from kolot.intake.api.hotpath import CommentHotPath
from kolot.intake.campaigns import CampaignDirectory
from kolot.intake.channels import ChannelGateway
from kolot.intake.handlers import (
    CAMPAIGN_TYPES,
    CATALOGUE_TYPES,
    COMMENT_TYPES,
    PARTICIPANT_TYPES,
    Projector,
)
from kolot.intake.pages.forms import FormGuard
from kolot.intake.ratelimit import Rate, RateLimiter
from kolot.intake.repository import INDEXES, IntakeRepository
from kolot.intake.retention import (
    RetentionSchedule,
    forget_in_contributions,
    forget_in_participants,
    forgetting,
    stream_log_purger,
)
from kolot.intake.service import IntakeError, IntakeService
from kolot.intake.settings import IntakeSettings
from kolot.intake.uploads import MAX_BODY_BYTES, Uploads

log = logging.getLogger(__name__)


def create_app(settings: IntakeSettings) -> FastAPI:
    runtime = Runtime(settings, indexes=INDEXES)
    repository = IntakeRepository(lambda: runtime.db)
    directory = CampaignDirectory(repository.get_campaign)
    projector = Projector(repository)
    streams = runtime.streams
    runtime.consumer(
        forgetting(
            ConsumerSpec(
                name="intake-comments",
                stream="events",
                # votes and appeals in the same consumer: one order, so a comment's support is
                # counted after the comment itself is projected
                subject=(
                    streams.events_subject("comment", "*"),
                    streams.events_subject("vote", "*"),
                    streams.events_subject("appeal", "*"),
                    streams.events_subject("participant", "erased"),
                ),
                handler=projector.on_comment_events,
                types=COMMENT_TYPES,
                description="Projects comments, their moderation, votes, appeals and erasures.",
            ),
            streams,
            repository,
            forget_in_contributions,
        )
    )
    runtime.consumer(
        ConsumerSpec(
            name="intake-campaigns",
            stream="events",
            subject=(
                streams.events_subject("campaign", "*"),
                streams.events_subject("outcome", "*"),
            ),
            handler=projector.on_catalogue_events,
            types=CATALOGUE_TYPES,
            description="Projects campaign snapshots and published outcomes.",
        )
    )
    runtime.consumer(
        forgetting(
            ConsumerSpec(
                name="intake-participants",
                stream="events",
                subject=(
                    streams.events_subject("participant", "*"),
                    streams.events_subject("response", "*"),
                ),
                handler=projector.on_participant_events,
                types=PARTICIPANT_TYPES,
                description="Projects participants (sealed contacts, memberships) and responses.",
            ),
            streams,
            repository,
            forget_in_participants,
        )
    )
    campaign_events = (
        CampaignCreated,
        CampaignUpdated,
        CampaignOpened,
        CampaignClosed,
        CampaignArchived,
    )
    runtime.publishes(
        "events",
        *campaign_events,
        OutcomePublished,
        ParticipantRegistered,
        ParticipantVerified,
        ParticipantErased,
        CampaignPurged,
        CommentSubmitted,
        CommentFlagged,
        AppealFiled,
        ResponseSubmitted,
        VoteCast,
        VisitRecorded,
    )
    runtime.publishes("public", *campaign_events, OutcomePublished, CampaignPurged)

    service = IntakeService(
        publisher=runtime.publisher,
        repository=repository,
        directory=directory,
        participant_secret=settings.participant_secret.get_secret_value(),
        receipt_secret=settings.receipt_secret.get_secret_value(),
        sealer=ContactSealer(settings.contact_keys.get_secret_value()),
        max_comment_chars=settings.max_comment_chars,
        meeting_grace=timedelta(days=settings.meeting_upload_grace_days),
    )
    limits = Limits(
        participant=RateLimiter(
            Rate(settings.rate_participant_per_minute, settings.rate_participant_burst)
        ),
        address=RateLimiter(Rate(settings.rate_address_per_minute, settings.rate_address_burst)),
        trusted_proxies=settings.trusted_proxies,
    )
    channels = ChannelGateway(
        service=service,
        channel_secret=settings.channel_secret.get_secret_value(),
        participant_secret=settings.participant_secret.get_secret_value(),
        # a limiter of its own: senders are keyed by their pseudonymous participant id
        limiter=RateLimiter(
            Rate(settings.rate_participant_per_minute, settings.rate_participant_burst)
        ),
        max_comment_chars=settings.max_comment_chars,
    )
    uploads = Uploads(service, max_comment_chars=settings.max_comment_chars)

    async def keep_schedule(rt: Runtime) -> None:
        """Opens and closes consultations at their scheduled times (every replica; the changes
        carry deterministic ids, so the stream keeps one of each)."""
        while True:
            await asyncio.sleep(settings.campaign_refresh_seconds)
            try:
                await service.run_schedule()
            except Exception:  # the next round tries again; the schedule must not die
                log.exception("scheduled campaign changes failed; retrying")

    tokens = ParticipantTokens(settings.participant_secret.get_secret_value())

    async def follow_campaigns(rt: Runtime) -> None:
        """Every replica keeps every campaign in memory, and knows every erased participant (whose
        tokens it then refuses): ephemeral ordered consumers replay those events (few) and follow
        new ones, until the app stops."""

        async def on_message(msg: Msg) -> None:
            try:
                event = parse_event(msg.data)
            except UndecodableEvent:
                return
            if event.type in CAMPAIGN_TYPES:
                directory.apply(event.data)
            elif isinstance(event, ParticipantErased):
                tokens.revoke(event.data.participant_id)

        subscriptions = [
            await jetstream(rt.broker).subscribe(
                subject,
                cb=on_message,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.ALL,
                idle_heartbeat=5.0,
            )
            for subject in (
                streams.events_subject("campaign", "*"),
                streams.events_subject("participant", "erased"),
            )
        ]
        try:
            task = asyncio.current_task()
            # a stop that came while subscribing can be swallowed inside nats-py: honour it
            if task is None or not task.cancelling():
                await asyncio.Event().wait()
        finally:
            for subscription in subscriptions:
                await subscription.unsubscribe()

    retention = RetentionSchedule(
        repository=repository,
        publisher=runtime.publisher,
        default_days=settings.retention_default_days,
        purge_log=stream_log_purger(runtime) if settings.retention_purge_log else None,
        not_before_days=settings.meeting_upload_grace_days,
    )

    async def keep_retention(rt: Runtime) -> None:
        """Purges consultations whose retention has run out (every replica; one id each)."""
        while True:
            await asyncio.sleep(settings.retention_check_seconds)
            try:
                await retention.run()
            except Exception:  # the next round tries again
                log.exception("retention purge failed; retrying")

    async def keep_uploads(rt: Runtime) -> None:
        """Meeting uploads run as tasks of this replica; shutting down stops them (resumable)."""
        await uploads.keep()

    app = create_service_app(
        runtime,
        title="Kolot intake",
        description="Consultations, participants and every contribution, accepted log first.",
        routers=routers,
        background=[follow_campaigns, keep_schedule, keep_uploads, keep_retention],
        body_limits=[(r"/v1/campaigns/[^/]+/uploads", MAX_BODY_BYTES)],
    )
    app.add_exception_handler(IntakeError, on_intake_error)
    # innermost of the middlewares (inside the body limit, tracing and latency ones)
    comments = next(
        r
        for r in app.routes
        if isinstance(r, APIRoute) and r.endpoint is contributions.submit_comment
    )
    app.user_middleware.append(
        Middleware(CommentHotPath, route=comments, endpoint=contributions.submit_comment)
    )
    app.state.intake = service
    app.state.limits = limits
    app.state.participant_tokens = tokens
    app.state.channels = channels
    app.state.page_forms = FormGuard(settings.participant_secret.get_secret_value())
    app.state.uploads = uploads
    return app
