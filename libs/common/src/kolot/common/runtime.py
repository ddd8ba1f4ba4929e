"""The resources of one service process, created in its lifespan and closed in reverse order.

``Runtime`` owns the broker, the Mongo client, the publisher, the metrics registry and the tracer
provider. ``create_app`` (in ``kolot.common.web``) wraps it in a FastAPI app with health, metrics
and AsyncAPI routes. Nothing connects before ``started()`` runs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Literal

from faststream.nats import NatsBroker
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from kolot.common.asyncapi import Publication, build_asyncapi
from kolot.common.auth import StaffVerifier
from kolot.common.bus import (
    ConsumerSpec,
    EventPublisher,
    PullConsumer,
    Streams,
    create_broker,
    create_consumer,
    ensure_streams,
    jetstream,
)
from kolot.common.events import Event
from kolot.common.settings import ServiceSettings
from kolot.common.store import (
    APPLIED_COLLECTION,
    APPLIED_INDEXES,
    Document,
    create_mongo_client,
    ensure_indexes,
    ping,
)
from kolot.common.telemetry import ConsumerMetrics, create_tracer_provider

log = logging.getLogger(__name__)


class Runtime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        indexes: Mapping[str, Sequence[IndexModel]] | None = None,
        retired_indexes: Mapping[str, Sequence[IndexModel]] | None = None,
    ) -> None:
        self.settings = settings
        self.registry = CollectorRegistry()
        self.tracer_provider = create_tracer_provider(settings)
        self.streams = Streams(settings.namespace)
        self.broker: NatsBroker = create_broker(settings)
        self.publisher = EventPublisher(
            self.broker,
            self.streams,
            timeout=settings.publish_timeout,
            tracer=self.tracer_provider.get_tracer("kolot.common.bus"),
            registry=self.registry,
        )
        self.consumer_metrics = ConsumerMetrics(self.registry)
        self.staff = StaffVerifier(
            secret=settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
            jwks_url=settings.jwt_jwks_url,
            algorithms=settings.jwt_algorithms,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        self.indexes = {**(indexes or {}), APPLIED_COLLECTION: APPLIED_INDEXES}
        self.retired_indexes = dict(retired_indexes or {})
        self.consumers: list[PullConsumer] = []
        self.publications: list[Publication] = []
        self.accepting = False
        self._mongo: AsyncMongoClient[Document] | None = None
        self._asyncapi: str | None = None

    @property
    def mongo(self) -> AsyncMongoClient[Document]:
        if self._mongo is None:
            raise RuntimeError("the store is used before the service started")
        return self._mongo

    @property
    def db(self) -> AsyncDatabase[Document]:
        return self.mongo[self.settings.database_name()]

    def consumer(self, spec: ConsumerSpec) -> PullConsumer:
        """Declare a durable batch consumer; it starts with the service."""
        consumer = create_consumer(
            self.broker,
            spec,
            settings=self.settings,
            streams=self.streams,
            metrics=self.consumer_metrics,
            tracer=self.tracer_provider.get_tracer("kolot.common.bus"),
        )
        self.consumers.append(consumer)
        return consumer

    def publishes(
        self, stream: Literal["events", "public"], *events: type[Event], description: str = ""
    ) -> None:
        """Declare what this service publishes, for its AsyncAPI document."""
        self.publications.append(Publication(stream, events, description))

    def asyncapi(self) -> str:
        if self._asyncapi is None:
            self._asyncapi = build_asyncapi(
                service=self.settings.service_name,
                streams=self.streams,
                consumers=[consumer.processor.spec for consumer in self.consumers],
                publications=self.publications,
            )
        return self._asyncapi

    @asynccontextmanager
    async def started(self) -> AsyncIterator[Runtime]:
        settings = self.settings
        self._mongo = create_mongo_client(
            settings.mongodb_url,
            app_name=f"kolot-{settings.service_name}",
            timeout=settings.mongodb_timeout,
        )
        try:
            await ensure_indexes(self.db, self.indexes, retired=self.retired_indexes)
            await self.broker.connect()
            await ensure_streams(
                jetstream(self.broker), self.streams, replicas=settings.stream_replicas
            )
            await self.broker.start()
            js = jetstream(self.broker)
            for consumer in self.consumers:
                await consumer.start(js)
            self.accepting = True
            log.info("kolot-%s started", settings.service_name)
            yield self
        finally:
            # readiness turns false first, then consumers finish their in-flight batch
            self.accepting = False
            log.info("kolot-%s stopping: consumers finish their batch", settings.service_name)
            # every consumer is told first, so the busy ones finish their batches at the same time
            # (the idle ones are cancelled one by one: cancelling several fetches at once can
            # leave the connection's drain waiting)
            for consumer in self.consumers:
                consumer.request_stop()
            for consumer in reversed(self.consumers):
                await consumer.stop()
            log.info("kolot-%s stopping: closing the bus and the store", settings.service_name)
            try:
                await self.broker.stop()
            except Exception as exc:  # e.g. NATS itself is going away: nothing left to drain
                log.warning("the bus did not close cleanly: %r", exc)
            await self._mongo.close()
            self._mongo = None
            self.tracer_provider.shutdown()
            log.info("kolot-%s stopped", settings.service_name)

    async def readiness(self) -> dict[str, bool]:
        nats_ok = False
        try:
            nats_ok = self.broker.connection.is_connected
        except Exception:  # not connected yet
            nats_ok = False
        mongo_ok = self._mongo is not None and await ping(self._mongo)
        return {"accepting": self.accepting, "nats": nats_ok, "mongodb": mongo_ok}
