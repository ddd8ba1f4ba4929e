"""The notify service as an ASGI app: a pure factory, nothing connects before the lifespan."""

from __future__ import annotations

from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from kolot.common import web
from kolot.common.events import WebhookDelivered, WebhookFailed
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

    async def deliver_webhooks(_: Runtime) -> None:
        # for the life of the app, once the store and the bus are up; cancelled on shutdown
        # before the consumers stop, after which the HTTP client closes
        async with (
            create_http_client(settings) as client,
            cache.refreshing(interval=settings.subscriptions_refresh_interval),
        ):
            await worker.run(WebhookSender(client, timeout=settings.webhook_timeout))

    runtime.publishes("events", WebhookDelivered, WebhookFailed)
    app = web.create_app(
        runtime,
        title="Kolot notify",
        description="Signed webhooks of public events for ministries; dissemination to come.",
        routers=[subscriptions_router],
        background=[deliver_webhooks],
    )
    app.state.subscriptions = SubscriptionService(
        subscriptions=subscriptions,
        deliveries=deliveries,
        cache=cache,
        allowed_hosts=settings.webhook_allowed_hosts,
    )
    return app
