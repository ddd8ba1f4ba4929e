"""The notify service as an ASGI app: a pure factory, nothing connects before the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from kolot.common import web
from kolot.common.runtime import Runtime
from kolot.common.store import Document
from kolot.notify.api import router as subscriptions_router
from kolot.notify.delivery import DeliveryWorker
from kolot.notify.handlers import webhooks_consumer
from kolot.notify.repository import INDEXES, DeliveryRepository, SubscriptionRepository
from kolot.notify.service import EventFanout, SubscriptionCache, SubscriptionService
from kolot.notify.settings import NotifySettings
from kolot.notify.transport import WebhookSender, create_http_client


def create_app(settings: NotifySettings) -> FastAPI:
    runtime = Runtime(settings, indexes=INDEXES)

    def database() -> AsyncDatabase[Document]:
        return runtime.db

    subscriptions = SubscriptionRepository(database)
    deliveries = DeliveryRepository(database)
    cache = SubscriptionCache(subscriptions)
    worker = DeliveryWorker(
        settings, deliveries=deliveries, subscriptions=subscriptions, publisher=runtime.publisher
    )
    fanout = EventFanout(cache=cache, deliveries=deliveries, on_recorded=worker.wake)
    runtime.consumer(webhooks_consumer(runtime.streams, fanout))

    @asynccontextmanager
    async def deliveries_lifespan(_: FastAPI) -> AsyncIterator[None]:
        # runs inside the runtime's lifespan (store and bus up), and stops before it: the worker
        # finishes its attempts in flight while it can still record them and announce outcomes
        async with (
            create_http_client(settings) as client,
            cache.refreshing(interval=settings.subscriptions_refresh_interval),
            worker.running(WebhookSender(client, timeout=settings.webhook_timeout)),
        ):
            yield

    app = web.create_app(
        runtime,
        title="Kolot notify",
        description="Signed webhooks of public events for ministries; dissemination to come.",
        # FastAPI nests an included router's lifespan inside the app's (kolot.common.web's
        # create_app offers on_start only, and the worker must also stop)
        routers=[subscriptions_router, APIRouter(lifespan=deliveries_lifespan)],
    )
    app.state.subscriptions = SubscriptionService(
        subscriptions=subscriptions,
        deliveries=deliveries,
        cache=cache,
        allowed_hosts=settings.webhook_allowed_hosts,
    )
    return app
