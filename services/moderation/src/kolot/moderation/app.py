"""The moderation app: a pure factory; nothing connects before the lifespan starts."""

from __future__ import annotations

from fastapi import FastAPI

from kolot.common import web
from kolot.common.events import (
    AppealDecided,
    CommentHidden,
    CommentModerated,
    CommentPublished,
    ModerationAlert,
)
from kolot.common.runtime import Runtime
from kolot.moderation import api, console
from kolot.moderation.campaign_log import StreamCampaignLog, follow_campaigns
from kolot.moderation.handlers import consumer_specs
from kolot.moderation.repository import INDEXES, RETIRED_INDEXES, MongoModerationRepository
from kolot.moderation.retention import Forgetting, forgetting
from kolot.moderation.service import ModerationService
from kolot.moderation.settings import ModerationSettings


def create_app(settings: ModerationSettings) -> FastAPI:
    runtime = Runtime(settings, indexes=INDEXES, retired_indexes=RETIRED_INDEXES)
    service = ModerationService(
        MongoModerationRepository(lambda: runtime.db),
        runtime.publisher,
        campaign_log=StreamCampaignLog(runtime),
        unknown_campaign_mode=settings.unknown_campaign_mode,
        watch_every=settings.surge_check_seconds,
        burst_per_address=settings.burst_per_address,
    )
    specs = consumer_specs(service, runtime.streams)
    for spec in forgetting(specs, runtime.streams, Forgetting(lambda: runtime.db)):
        runtime.consumer(spec)
    runtime.publishes(
        "events",
        CommentModerated,
        CommentPublished,
        CommentHidden,
        AppealDecided,
        ModerationAlert,
    )
    runtime.publishes("public", CommentPublished, CommentHidden)

    async def keep_watch(rt: Runtime) -> None:
        await service.keep_watch()

    async def follow_policies(rt: Runtime) -> None:
        await follow_campaigns(rt, service)

    app = web.create_app(
        runtime,
        title="Kolot moderation",
        description=(
            "Decides on every comment (he/ar/en): personal data redacted, discourse rules applied, "
            "pre-moderated campaigns queued for moderators."
        ),
        routers=[api.router, console.router],
        background=[keep_watch, follow_policies],
    )
    app.state.service = service
    app.state.reads = MongoModerationRepository(lambda: runtime.db)
    return app
