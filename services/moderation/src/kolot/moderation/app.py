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
from kolot.moderation import api
from kolot.moderation.campaign_log import StreamCampaignLog
from kolot.moderation.handlers import consumer_specs
from kolot.moderation.repository import INDEXES, MongoModerationRepository
from kolot.moderation.service import ModerationService
from kolot.moderation.settings import ModerationSettings


def create_app(settings: ModerationSettings) -> FastAPI:
    runtime = Runtime(settings, indexes=INDEXES)
    service = ModerationService(
        MongoModerationRepository(lambda: runtime.db),
        runtime.publisher,
        campaign_log=StreamCampaignLog(runtime),
        unknown_campaign_mode=settings.unknown_campaign_mode,
        watch_every=settings.surge_check_seconds,
    )
    for spec in consumer_specs(service, runtime.streams):
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
    app = web.create_app(
        runtime,
        title="Kolot moderation",
        description=(
            "Decides on every comment (he/ar/en): personal data redacted, discourse rules applied, "
            "pre-moderated campaigns queued for moderators."
        ),
        routers=[api.router],
    )
    app.state.service = service
    return app
