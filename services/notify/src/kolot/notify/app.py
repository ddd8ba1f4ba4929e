"""The notify service as an ASGI app: a pure factory, nothing connects before the lifespan."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from kolot.common import web
from kolot.common.bus import jetstream
from kolot.common.contacts import ContactSealer
from kolot.common.events import (
    DisseminationRegistered,
    InvitationSent,
    LinkClicked,
    NotificationFailed,
    NotificationSent,
    WebhookDelivered,
    WebhookFailed,
    derived_id,
)
from kolot.common.runtime import Runtime
from kolot.common.store import Document
from kolot.notify.api import (
    MAX_LIST_BYTES,
    disseminations_router,
    links_router,
    on_subscription_not_found,
)
from kolot.notify.api import router as subscriptions_router
from kolot.notify.channels import create_mailer, create_sms_provider
from kolot.notify.delivery import DeliveryWorker
from kolot.notify.disseminations import DisseminationService, RecipientRefs
from kolot.notify.handlers import participants_consumer, webhooks_consumer
from kolot.notify.instruments import NotifyMetrics
from kolot.notify.messaging import MessageWorker
from kolot.notify.models import Delivery
from kolot.notify.notifications import NotificationPlanner
from kolot.notify.replay import Page, read_public
from kolot.notify.repository import (
    INDEXES,
    ContactRepository,
    DeliveryRepository,
    DisseminationRepository,
    SubscriptionRepository,
)
from kolot.notify.retention import Retention, purging
from kolot.notify.service import (
    EventFanout,
    SubscriptionCache,
    SubscriptionNotFound,
    SubscriptionService,
)
from kolot.notify.settings import NotifySettings
from kolot.notify.transport import WebhookSender, create_http_client
from kolot.notify.webhooks import SecretSealer


def create_app(settings: NotifySettings) -> FastAPI:
    runtime = Runtime(settings, indexes=INDEXES)
    metrics = NotifyMetrics(runtime.registry)

    def database() -> AsyncDatabase[Document]:
        return runtime.db

    subscriptions = SubscriptionRepository(database)
    deliveries = DeliveryRepository(database)
    cache = SubscriptionCache(subscriptions)
    sealer = ContactSealer(settings.contact_keys.get_secret_value())
    secrets = SecretSealer(sealer)

    async def dead_letter(delivery: Delivery) -> None:
        _, entity, action = delivery.event_type.split(".", 2)
        await runtime.broker.publish(
            delivery.event.encode(),
            subject=runtime.streams.dlq_subject(settings.service_name, entity, action),
            headers={
                "Nats-Msg-Id": derived_id(delivery.id, "dlq"),
                "Kolot-Error": (delivery.last_error or "failed")[:2000],
                "Kolot-Consumer": "notify-webhook-delivery",
                "Kolot-Subscription": delivery.subscription_id,
                "Kolot-Deliveries": str(delivery.attempts),
            },
            stream=runtime.streams.name("dlq"),
            timeout=settings.publish_timeout,
        )

    worker = DeliveryWorker(
        settings,
        deliveries=deliveries,
        subscriptions=subscriptions,
        secrets=secrets,
        publisher=runtime.publisher,
        dead_letter=dead_letter,
        metrics=metrics,
    )
    fanout = EventFanout(cache=cache, deliveries=deliveries, on_recorded=worker.wake)
    runtime.consumer(webhooks_consumer(runtime.streams, fanout))

    contacts = ContactRepository(database)
    disseminations = DisseminationRepository(database)
    dissemination_service = DisseminationService(
        repository=disseminations,
        contacts=contacts,
        publisher=runtime.publisher,
        sealer=sealer,
        refs=RecipientRefs(settings.contact_keys.get_secret_value()),
        public_url=settings.public_url,
        metrics=metrics,
    )
    sms = create_sms_provider(settings)
    messages = MessageWorker(
        settings,
        contacts=contacts,
        notifications=disseminations.notifications,
        invitations=disseminations.invitations,
        disseminations=dissemination_service,
        sealer=sealer,
        mailer=create_mailer(settings),
        sms=sms,
        publisher=runtime.publisher,
        metrics=metrics,
    )
    dissemination_service.on_queued = messages.wake
    planner = NotificationPlanner(
        contacts=contacts,
        outbox=disseminations.notifications,
        public_url=settings.public_url,
        digest_hour=settings.digest_hour,
        on_planned=messages.wake,
    )
    runtime.consumer(
        purging(
            participants_consumer(runtime.streams, planner),
            runtime.streams,
            Retention(lambda: runtime.db),
        )
    )

    async def deliver_webhooks(_: Runtime) -> None:
        # for the life of the app, once the store and the bus are up; cancelled on shutdown
        # before the consumers stop, after which the HTTP client closes
        async with (
            create_http_client(settings) as client,
            cache.refreshing(interval=settings.subscriptions_refresh_interval),
        ):
            sender = WebhookSender(client, timeout=settings.webhook_timeout)
            app.state.webhook_sender = sender
            try:
                await worker.run(sender)
            finally:
                app.state.webhook_sender = None

    async def read(**kwargs: Any) -> Page:
        return await read_public(jetstream(runtime.broker), runtime.streams, **kwargs)

    async def send_messages(_: Runtime) -> None:
        await messages.run()

    runtime.publishes("events", WebhookDelivered, WebhookFailed)
    runtime.publishes(
        "events",
        DisseminationRegistered,
        InvitationSent,
        LinkClicked,
        NotificationSent,
        NotificationFailed,
    )
    app = web.create_app(
        runtime,
        title="Kolot notify",
        description=(
            "Signed webhooks of public events for ministries, participant notifications "
            "(e-mail, SMS) and disseminations with tracked invitations."
        ),
        routers=[subscriptions_router, disseminations_router, links_router],
        background=[deliver_webhooks, send_messages],
        body_limits=[(r"/v1/disseminations/[^/]+/recipients", MAX_LIST_BYTES)],
    )
    app.add_exception_handler(SubscriptionNotFound, on_subscription_not_found)
    app.state.subscriptions = SubscriptionService(
        subscriptions=subscriptions,
        deliveries=deliveries,
        cache=cache,
        secrets=secrets,
        allowed_hosts=settings.webhook_allowed_hosts,
        require_https=settings.environment == "production",
        rotation_overlap=settings.webhook_rotation_overlap,
        on_resumed=worker.wake,
    )
    app.state.webhook_sender = None
    app.state.read_public = read
    app.state.disseminations = dissemination_service
    app.state.contacts = contacts
    app.state.messages = messages
    app.state.sms = sms
    return app
