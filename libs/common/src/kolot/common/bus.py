"""The bus: one NATS JetStream, three streams, CloudEvents published with their id as Nats-Msg-Id,
and durable pull consumers that apply batches, retry failures with backoff and dead-letter what
they give up on.

Consumers ack manually (never FastStream's default, which terminates a message on the first
exception): a batch is acked after its effect is durable, a failing event is isolated from the
good ones in its batch and ``nak``-ed with a growing delay, and on its last allowed delivery it is
republished to the DLQ stream with the error, then acked.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from faststream.nats import NatsBroker
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import (
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError
from opentelemetry import propagate, trace
from prometheus_client import CollectorRegistry, Counter, Histogram
from pymongo.errors import ConnectionFailure, PyMongoError

from kolot.common.events import Event, UndecodableEvent, UnknownEventType, parse_event
from kolot.common.settings import ServiceSettings
from kolot.common.telemetry import ConsumerMetrics

log = logging.getLogger(__name__)

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
StreamKind = Literal["events", "public", "dlq"]


@dataclass(frozen=True, slots=True)
class Streams:
    """Names and subjects of the three streams for one namespace (``kolot`` in production)."""

    namespace: str = "kolot"

    def name(self, kind: StreamKind) -> str:
        return f"{self.namespace.upper()}_{kind.upper()}"

    def subjects(self, kind: StreamKind) -> str:
        return f"{self.namespace}.{kind}.>"

    def events_subject(self, entity: str = "*", action: str = "*", campaign: str = "*") -> str:
        return f"{self.namespace}.events.{entity}.{action}.{campaign}"

    def public_subject(self, entity: str = "*", action: str = "*", campaign: str = "*") -> str:
        return f"{self.namespace}.public.{entity}.{action}.{campaign}"

    def dlq_subject(self, service: str, entity: str, action: str) -> str:
        return f"{self.namespace}.dlq.{service}.{entity}.{action}"


def stream_configs(
    streams: Streams, *, replicas: int = 1, duplicate_window: float = 120.0
) -> list[StreamConfig]:
    """File-backed, limits retention, a duplicate window that drops retried publishes."""
    return [
        StreamConfig(
            name=streams.name(kind),
            subjects=[streams.subjects(kind)],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            num_replicas=replicas,
            duplicate_window=duplicate_window,
            description=description,
        )
        for kind, description in _STREAM_DESCRIPTIONS
    ]


_STREAM_DESCRIPTIONS: tuple[tuple[StreamKind, str], ...] = (
    ("events", "Every Kolot domain event (raw text included): for Kolot services only."),
    ("public", "What may be published: no PII, no unmoderated text. For ministries."),
    ("dlq", "Messages a Kolot service gave up on after max deliveries, with the error."),
)


async def ensure_streams(js: JetStreamContext, streams: Streams, *, replicas: int = 1) -> None:
    """Create the streams, or bring an existing one to this configuration (idempotent)."""
    for config in stream_configs(streams, replicas=replicas):
        try:
            await js.add_stream(config)
        except BadRequestError as exc:
            # 10058: the stream exists with another configuration
            if exc.err_code != 10058:
                raise
            await js.update_stream(config)


def create_broker(settings: ServiceSettings) -> NatsBroker:
    """The connection to NATS (FastStream keeps it, reconnecting for ever).

    No FastStream middlewares: Kolot publishes (``EventPublisher``) and consumes
    (``PullConsumer``) on nats-py directly, and instruments both itself (spans with trace
    context in the message headers, and the ``kolot_bus_*`` / ``kolot_consumer_*`` metrics).
    """
    return NatsBroker(
        settings.nats_url,
        name=f"kolot-{settings.service_name}",
        # keep reconnecting for ever: a NATS restart must not kill the service
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        graceful_timeout=15.0,
        # a drain that cannot finish must not hold a shutdown past the pod's grace period
        drain_timeout=5,
        logger=logging.getLogger(f"kolot.{settings.service_name}.bus"),
        log_level=logging.DEBUG,
    )


def jetstream(broker: NatsBroker) -> JetStreamContext:
    return broker.connection.jetstream()


class BusUnavailable(Exception):
    """JetStream did not acknowledge a publish in time: nothing may be reported as accepted."""


class EventPublisher:
    """Publishes events to KOLOT_EVENTS (and, for public events, to KOLOT_PUBLIC).

    The JetStream ack is the commit: ``publish`` returns only once the stream has stored every
    event, and raises ``BusUnavailable`` otherwise (nothing may then be reported as accepted). The
    event id is the ``Nats-Msg-Id``, so a retried publish inside the duplicate window is stored
    once. Events of one call are sent pipelined (``publish_async``) and their acks awaited together:
    a consumer emitting a batch pays one round trip, not one per event.
    """

    def __init__(
        self,
        broker: NatsBroker,
        streams: Streams,
        *,
        timeout: float,
        tracer: trace.Tracer | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._broker = broker
        self._streams = streams
        self._timeout = timeout
        self._published = Counter(
            "kolot_bus_published_events",
            "Events stored by JetStream (acked), by stream.",
            ["stream"],
            registry=registry,
        )
        self._failed = Counter(
            "kolot_bus_publish_failures",
            "Publish calls that JetStream did not acknowledge in time (answered 503 or retried).",
            ["stream"],
            registry=registry,
        )
        self._seconds = Histogram(
            "kolot_bus_publish_seconds",
            "Time from the first publish of a call to the last JetStream ack.",
            ["stream"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=registry,
        )
        self._tracer = tracer or trace.get_tracer(__name__)
        self._js: JetStreamContext | None = None

    def _jetstream(self) -> JetStreamContext:
        # one context for the life of the connection: it owns the inbox that receives the acks
        if self._js is None:
            self._js = jetstream(self._broker)
        return self._js

    async def _send(self, events: Sequence[Event], kind: Literal["events", "public"]) -> None:
        if not events:
            return
        stream = self._streams.name(kind)
        if not self._broker.connection.is_connected:
            # nats-py would keep the message while it reconnects and send it once back: it would
            # be stored after all, though the caller was told nothing was recorded
            self._failed.labels(kind).inc()
            raise BusUnavailable(f"{stream} is unreachable: NATS is reconnecting")
        started = time.perf_counter()
        try:
            if len(events) == 1:
                # the publish's own request deadline is the call's
                await self._pipeline(events, kind, stream)
            else:
                # one deadline for the whole call (a wait_for per message costs a task each)
                async with asyncio.timeout(self._timeout):
                    await self._pipeline(events, kind, stream)
        except Exception as exc:
            self._failed.labels(kind).inc()
            raise BusUnavailable(
                f"{stream} did not acknowledge {len(events)} event(s) "
                f"({events[0].type}...) in time: {exc!r}"
            ) from exc
        self._seconds.labels(kind).observe(time.perf_counter() - started)
        self._published.labels(kind).inc(len(events))

    async def _pipeline(
        self, events: Sequence[Event], kind: Literal["events", "public"], stream: str
    ) -> None:
        js = self._jetstream()
        if not trace.get_current_span().is_recording():
            # inside a trace that is not sampled (or none): a child span would not be recorded
            # either, and the caller's context (if any) still travels in the headers
            await self._send_all(js, events, kind, stream)
            return
        # one PRODUCER span per call (per event it would cost more than the publish itself); its
        # context travels in every message's traceparent header
        first = events[0]
        name = f"{first.subject_for(self._streams.namespace, kind)} publish"
        with self._tracer.start_as_current_span(
            name if len(events) == 1 else f"{stream} publish",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": stream,
                "messaging.batch.message_count": len(events),
                "messaging.message.id": first.id,
                "cloudevents.event_type": first.type,
            },
        ):
            await self._send_all(js, events, kind, stream)

    async def _send_all(
        self,
        js: JetStreamContext,
        events: Sequence[Event],
        kind: Literal["events", "public"],
        stream: str,
    ) -> None:
        context: dict[str, str] = {}
        propagate.inject(context)
        namespace = self._streams.namespace
        if len(events) == 1:
            # one event (a request's): a plain publish, without futures to gather
            event = events[0]
            await js.publish(
                event.subject_for(namespace, kind),
                event.to_json(),
                stream=stream,
                headers=self._headers(context, event),
                timeout=self._timeout,
            )
            return
        acks = [
            await js.publish_async(
                event.subject_for(namespace, kind),
                event.to_json(),
                stream=stream,
                headers=self._headers(context, event),
            )
            for event in events
        ]
        try:
            await asyncio.gather(*acks)
        finally:
            # on timeout, cancel what is still waiting so its in-flight slot is freed
            for ack in acks:
                ack.cancel()

    @staticmethod
    def _headers(context: dict[str, str], event: Event) -> dict[str, str]:
        return {
            **context,
            "Nats-Msg-Id": event.id,
            "content-type": CLOUDEVENTS_CONTENT_TYPE,
            "ce-type": event.type,
        }

    async def publish(self, *events: Event) -> None:
        await self._send(events, "events")

    async def publish_public(self, *events: Event) -> None:
        for event in events:
            if not event.public:
                raise ValueError(f"{event.type} may not be published on the public stream")
        await self._send(events, "public")


BatchHandler = Callable[[list[Event]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ConsumerSpec:
    """One durable pull consumer of a service: what it reads and what it does with a batch."""

    name: str
    """The durable name, shared by every replica of the service."""
    stream: Literal["events", "public"]
    subject: str | tuple[str, ...]
    """One subject filter, or several (one consumer sees their events in stream order)."""
    handler: BatchHandler
    types: Collection[str] | None = None
    """The event types the handler wants; others are acked and skipped. None: every type."""
    description: str = ""


def subject_covers(subject_filter: str, subject: str) -> bool:
    """Whether the NATS filter ``subject_filter`` matches everything ``subject`` (itself a
    subject or a filter) does; one consumer's filters must not overlap."""
    wanted, given = subject_filter.split("."), subject.split(".")
    for index, part in enumerate(wanted):
        if part == ">":
            return index < len(given)
        if index >= len(given) or (part != "*" and part != given[index]):
            return False
    return len(wanted) == len(given)


def also_reading(
    spec: ConsumerSpec,
    subjects: Sequence[str],
    types: Collection[str],
    then: BatchHandler,
) -> ConsumerSpec:
    """``spec`` that also reads ``subjects`` (of ``types``), in the same order as its own, and
    hands every batch to ``then`` after its own handler: e.g. an erasure applied by the consumer
    that projects what it erases, so a replay of the stream erases again what it re-projects."""
    own = (spec.subject,) if isinstance(spec.subject, str) else spec.subject
    added = tuple(s for s in subjects if not any(subject_covers(f, s) for f in own))
    handler = spec.handler

    async def handle(events: list[Event]) -> None:
        await handler(events)
        await then(events)

    return dataclasses.replace(
        spec,
        subject=own[0] if len(own) == 1 and not added else (*own, *added),
        handler=handle,
        types=None if spec.types is None else {*spec.types, *types},
    )


class BatchProcessor:
    """Applies fetched batches: ack on success, isolate and retry failures, dead-letter last."""

    def __init__(
        self,
        spec: ConsumerSpec,
        *,
        service: str,
        streams: Streams,
        publisher: Callable[[str, bytes, dict[str, str]], Awaitable[Any]],
        metrics: ConsumerMetrics,
        max_deliver: int,
        backoff: Sequence[float],
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.spec = spec
        self.tracer = tracer or trace.get_tracer(__name__)
        self.service = service
        self.streams = streams
        self._publish_raw = publisher
        self.metrics = metrics
        self.max_deliver = max_deliver
        self.backoff = list(backoff) or [1.0]
        self.pause = 0.0
        """Seconds the consumer should wait before fetching again (set during an outage)."""

    async def process(self, messages: Sequence[Msg]) -> None:
        # one span per batch, linked to the span that published each message (OTel messaging
        # conventions for batch receive): a comment's trace runs from the HTTP request through
        # every consumer that handled it
        with self.tracer.start_as_current_span(
            f"{self.spec.name} process",
            kind=trace.SpanKind.CONSUMER,
            links=_links(messages),
            attributes={
                "messaging.system": "nats",
                "messaging.consumer.group.name": self.spec.name,
                "messaging.batch.message_count": len(messages),
            },
        ):
            await self._process(messages)

    async def _process(self, messages: Sequence[Msg]) -> None:
        name = self.spec.name
        self.metrics.batch_size.labels(name).observe(len(messages))
        if messages:
            self.metrics.pending.labels(name).set(messages[-1].metadata.num_pending)
        wanted: list[tuple[Msg, Event]] = []
        for msg in messages:
            try:
                event = parse_event(msg.data)
            except UnknownEventType:
                self.metrics.events.labels(name, "ignored").inc()
                await msg.ack()
                continue
            except UndecodableEvent as exc:
                await self.dead_letter(msg, f"undecodable: {exc}", reason="undecodable")
                continue
            if self.spec.types is not None and event.type not in self.spec.types:
                self.metrics.events.labels(name, "ignored").inc()
                await msg.ack()
                continue
            wanted.append((msg, event))
        if not wanted:
            return
        started = time.perf_counter()
        try:
            await self.spec.handler([event for _, event in wanted])
        except Exception as exc:
            self.metrics.failures.labels(name).inc()
            if is_transient(exc):
                # the store or the bus is away: every event of the batch would fail the same way,
                # so hand them all back and let the consumer pause instead of hammering
                self.pause = await self._retry_all(wanted, exc)
                return
            if len(wanted) == 1:
                await self._retry_or_dead_letter(wanted[0][0], exc)
                return
            log.warning(
                "batch of %d failed in %s (%s); applying one by one", len(wanted), name, exc
            )
            await self._one_by_one(wanted)
            return
        self.metrics.handle_seconds.labels(name).observe(time.perf_counter() - started)
        self.metrics.events.labels(name, "applied").inc(len(wanted))
        for msg, _ in wanted:
            await msg.ack()

    async def _one_by_one(self, wanted: list[tuple[Msg, Event]]) -> None:
        # handlers are idempotent, so re-applying the events of a failed batch is safe
        for msg, event in wanted:
            try:
                await self.spec.handler([event])
            except Exception as exc:
                self.metrics.failures.labels(self.spec.name).inc()
                await self._retry_or_dead_letter(msg, exc)
            else:
                self.metrics.events.labels(self.spec.name, "applied").inc()
                await msg.ack()

    def _delay(self, delivered: int) -> float:
        return self.backoff[min(max(delivered, 1) - 1, len(self.backoff) - 1)]

    async def _retry_all(self, wanted: list[tuple[Msg, Event]], exc: Exception) -> float:
        delay = self._delay(max(msg.metadata.num_delivered for msg, _ in wanted))
        log.warning(
            "%s: %d events wait %.1fs for an outage to end: %r",
            self.spec.name,
            len(wanted),
            delay,
            exc,
        )
        for msg, _ in wanted:
            await msg.nak(delay=delay)
        return delay

    async def _retry_or_dead_letter(self, msg: Msg, exc: Exception) -> None:
        delivered = msg.metadata.num_delivered
        # an outage (store or bus unreachable) is retried for as long as it lasts: only an event
        # that fails on its own merits is given up after max_deliver
        if delivered >= self.max_deliver and not is_transient(exc):
            await self.dead_letter(msg, f"{type(exc).__name__}: {exc}", reason="max_deliver")
            return
        delay = self._delay(delivered)
        log.warning(
            "%s failed on %s (delivery %d of %d), retrying in %.1fs: %s",
            self.spec.name,
            msg.subject,
            delivered,
            self.max_deliver,
            delay,
            exc,
            exc_info=exc,
        )
        await msg.nak(delay=delay)

    async def dead_letter(self, msg: Msg, error: str, *, reason: str) -> None:
        """Republish the original payload to the DLQ stream with the error, then ack it here."""
        tokens = msg.subject.split(".")
        entity, action = (tokens[2], tokens[3]) if len(tokens) >= 4 else ("unknown", "unknown")
        meta = msg.metadata
        headers = {
            "Nats-Msg-Id": f"{self.spec.name}:{meta.stream}:{meta.sequence.stream}",
            "Kolot-Error": error[:2000],
            "Kolot-Consumer": self.spec.name,
            "Kolot-Original-Subject": msg.subject,
            "Kolot-Original-Stream": meta.stream,
            "Kolot-Original-Sequence": str(meta.sequence.stream),
            "Kolot-Deliveries": str(meta.num_delivered),
        }
        subject = self.streams.dlq_subject(self.service, entity, action)
        # if the DLQ publish fails the exception propagates and the message is redelivered later
        await self._publish_raw(subject, msg.data, headers)
        log.error("%s dead-lettered %s to %s: %s", self.spec.name, msg.subject, subject, error)
        self.metrics.dead_lettered.labels(self.spec.name, reason).inc()
        await msg.ack()


def is_transient(exc: BaseException) -> bool:
    """An outage rather than a bad event: the store or the bus did not answer in time."""
    # ConnectionError, not OSError: a handler's FileNotFoundError is a bug to dead-letter
    if isinstance(
        exc, BusUnavailable | ConnectionFailure | NatsError | TimeoutError | ConnectionError
    ):
        return True
    return isinstance(exc, PyMongoError) and exc.has_error_label("TransientTransactionError")


def _links(messages: Sequence[Msg], limit: int = 128) -> list[trace.Link]:
    links = []
    for msg in messages[:limit]:
        context = trace.get_current_span(propagate.extract(msg.headers or {})).get_span_context()
        if context.is_valid:
            links.append(trace.Link(context))
    return links


class PullConsumer:
    """A durable JetStream pull consumer shared by every replica of a service.

    Fetches up to ``batch_size`` messages (``fetch`` returns as soon as some are there, so a quiet
    stream adds no latency), hands them to the ``BatchProcessor``, and loops. On ``stop`` it stops
    fetching, lets the batch in hand finish (acks included), and returns; anything unacked is
    redelivered to another replica after ``ack_wait``.

    This loop is ours rather than FastStream's batch subscriber: FastStream 0.7 catches
    ``nats.errors.TimeoutError`` around ``fetch`` while nats-py 2.16 raises the builtin
    ``TimeoutError`` there, which kills its loop and drops the messages it had collected.
    """

    def __init__(
        self,
        processor: BatchProcessor,
        *,
        stream: str,
        config: ConsumerConfig,
        batch_size: int,
        fetch_timeout: float = 5.0,
    ) -> None:
        self.processor = processor
        self.stream = stream
        self.config = config
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self._task: asyncio.Task[None] | None = None
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._idle = False  # fetching or pausing: nothing in hand, so stop() may cancel
        self._stopping = False

    @property
    def name(self) -> str:
        return self.processor.spec.name

    async def start(self, js: JetStreamContext) -> None:
        # create the durable consumer, or bring an existing one to this version's configuration
        # (pull_subscribe alone would bind to it as it is)
        await js.add_consumer(self.stream, self.config)
        subscription = await js.pull_subscribe(
            self.config.filter_subject or (self.config.filter_subjects or [""])[0],
            durable=self.name,
            stream=self.stream,
            config=self.config,
        )
        self._subscription = subscription
        self._stopping = False
        self._task = asyncio.create_task(self._run(subscription), name=f"consumer:{self.name}")

    async def _run(self, subscription: JetStreamContext.PullSubscription) -> None:
        while not self._stopping:
            self._idle = True
            try:
                messages = await subscription.fetch(self.batch_size, timeout=self.fetch_timeout)
            except TimeoutError:  # nats.errors.TimeoutError is a subclass: nothing arrived
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS restarting, connection draining: try again shortly
                log.warning("%s could not fetch (%s); retrying", self.name, exc)
                await asyncio.sleep(1.0)
                continue
            finally:
                self._idle = False
            try:
                await self.processor.process(messages)
            except Exception:
                # e.g. the DLQ publish failed: the unacked messages come back after ack_wait
                log.exception("%s could not process a batch of %d", self.name, len(messages))
            pause, self.processor.pause = self.processor.pause, 0.0
            if pause:
                self._idle = True
                try:
                    await asyncio.sleep(pause)
                finally:
                    self._idle = False

    def request_stop(self) -> None:
        """No new fetch after the batch in flight (``stop`` then waits for it)."""
        self._stopping = True

    async def stop(self, grace: float = 15.0) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        if self._idle:
            task.cancel()  # waiting for messages or out an outage: nothing to finish
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, grace)
        # Destroy the fetch inbox (the durable consumer stays): messages that reached it after the
        # last fetch would otherwise make the connection's drain wait for ever; unacked, they are
        # redelivered after ack_wait.
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()


def create_consumer(
    broker: NatsBroker,
    spec: ConsumerSpec,
    *,
    settings: ServiceSettings,
    streams: Streams,
    metrics: ConsumerMetrics,
    tracer: trace.Tracer | None = None,
) -> PullConsumer:
    """A durable batch consumer for ``spec``; the runtime starts it once the streams exist."""

    async def publish_raw(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        await broker.publish(
            payload,
            subject=subject,
            headers=headers,
            stream=streams.name("dlq"),
            timeout=settings.publish_timeout,
        )

    processor = BatchProcessor(
        spec,
        service=settings.service_name,
        streams=streams,
        publisher=publish_raw,
        metrics=metrics,
        max_deliver=settings.consumer_max_deliver,
        backoff=settings.consumer_backoff,
        tracer=tracer,
    )
    subjects = (spec.subject,) if isinstance(spec.subject, str) else spec.subject
    config = ConsumerConfig(
        durable_name=spec.name,
        ack_wait=settings.consumer_ack_wait,
        # unlimited on the server: the processor decides. It dead-letters an event that keeps
        # failing on its own after consumer_max_deliver tries, and retries through an outage of
        # the store or the bus for as long as it lasts, so an outage never loses an event.
        max_deliver=-1,
        deliver_policy=DeliverPolicy.ALL,
        max_ack_pending=max(1000, settings.consumer_batch_size * 4),
        filter_subject=subjects[0] if len(subjects) == 1 else None,
        filter_subjects=list(subjects) if len(subjects) > 1 else None,
        description=spec.description or None,
    )
    return PullConsumer(
        processor,
        stream=streams.name(spec.stream),
        config=config,
        batch_size=settings.consumer_batch_size,
        fetch_timeout=settings.consumer_batch_timeout,
    )
