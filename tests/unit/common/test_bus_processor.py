"""BatchProcessor with in-memory messages: acks, failure isolation, backoff, dead-lettering."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import cast

import pytest
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from pymongo.errors import AutoReconnect, OperationFailure

from kolot.common.bus import BatchProcessor, BusUnavailable, ConsumerSpec, Streams
from kolot.common.events import (
    CommentPublished,
    CommentPublishedData,
    CommentSubmitted,
    CommentSubmittedData,
    Event,
)
from kolot.common.telemetry import ConsumerMetrics

NS = "t0123456789"
CONSUMER = "probe-comments"
MAX_DELIVER = 3
BACKOFF = (0.5, 2.0)


@dataclass
class StreamSequence:
    stream: int
    consumer: int = 0


@dataclass
class Metadata:
    sequence: StreamSequence
    num_delivered: int = 1
    num_pending: int = 0
    stream: str = f"{NS.upper()}_EVENTS"
    consumer: str = CONSUMER


@dataclass
class FakeMsg:
    """What BatchProcessor uses of a nats-py ``Msg``; records acks and naks."""

    data: bytes
    subject: str
    metadata: Metadata
    headers: dict[str, str] | None = None
    acks: int = 0
    naks: list[float | None] = field(default_factory=list)

    async def ack(self) -> None:
        self.acks += 1

    async def nak(self, delay: float | None = None) -> None:
        self.naks.append(delay)

    @property
    def settled(self) -> bool:
        return self.acks + len(self.naks) == 1


@dataclass
class Handler:
    """A batch handler that records its calls and fails on the poison ids."""

    poison: set[str] = field(default_factory=set)
    calls: list[list[str]] = field(default_factory=list)
    failure: Callable[[str], Exception] = lambda message: RuntimeError(message)

    async def __call__(self, events: list[Event]) -> None:
        self.calls.append([e.id for e in events])
        bad = self.poison.intersection(e.id for e in events)
        if bad:
            raise self.failure(f"cannot apply {sorted(bad)[0]}")

    @property
    def applied(self) -> list[str]:
        """Ids of the calls that succeeded."""
        return [i for call in self.calls if not self.poison.intersection(call) for i in call]


@dataclass
class Published:
    subject: str
    payload: bytes
    headers: dict[str, str]


@dataclass
class Harness:
    processor: BatchProcessor
    handler: Handler
    dlq: list[Published]
    registry: CollectorRegistry
    sequence: int = 0

    def message(
        self,
        event: Event | bytes,
        *,
        delivered: int = 1,
        subject: str = "",
        headers: dict[str, str] | None = None,
    ) -> FakeMsg:
        self.sequence += 1
        if isinstance(event, Event):
            data, subject = event.to_json(), subject or event.subject_for(NS, "events")
        else:
            data = event
        return FakeMsg(
            data=data,
            subject=subject or f"{NS}.events.comment.submitted.c1",
            metadata=Metadata(
                StreamSequence(stream=self.sequence), num_delivered=delivered, num_pending=7
            ),
            headers=headers,
        )

    async def process(self, *messages: FakeMsg) -> None:
        await self.processor.process(cast(Sequence[Msg], messages))

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, {"consumer": CONSUMER, **labels})
        return 0.0 if value is None else value


def make_harness(
    *,
    types: Collection[str] | None = None,
    fail_dlq: bool = False,
    poison: Collection[str] = (),
    tracer: trace.Tracer | None = None,
) -> Harness:
    handler = Handler(poison=set(poison))
    dlq: list[Published] = []

    async def publish(subject: str, payload: bytes, headers: dict[str, str]) -> None:
        if fail_dlq:
            raise ConnectionError("nats: no responders")
        dlq.append(Published(subject, payload, headers))

    registry = CollectorRegistry()
    processor = BatchProcessor(
        ConsumerSpec(
            name=CONSUMER,
            stream="events",
            subject=Streams(NS).events_subject("comment"),
            handler=handler,
            types=types,
        ),
        service="probe",
        streams=Streams(NS),
        publisher=publish,
        metrics=ConsumerMetrics(registry),
        max_deliver=MAX_DELIVER,
        backoff=BACKOFF,
        tracer=tracer,
    )
    return Harness(processor, handler, dlq, registry)


def submitted(n: int) -> CommentSubmitted:
    return CommentSubmitted(
        subject="c1",
        data=CommentSubmittedData(
            comment_id=f"cm{n}", participant_id="p1", text=f"comment {n}", text_sha256="0" * 64
        ),
    )


def published(n: int) -> CommentPublished:
    return CommentPublished(
        subject="c1", data=CommentPublishedData(comment_id=f"cm{n}", text=f"comment {n}")
    )


# -- the happy path -----------------------------------------------------------------------------


async def test_a_good_batch_is_applied_in_one_call_then_acked() -> None:
    h = make_harness()
    events = [submitted(n) for n in range(5)]
    messages = [h.message(e) for e in events]

    await h.process(*messages)

    assert h.handler.calls == [[e.id for e in events]]
    assert all(m.acks == 1 and not m.naks for m in messages)
    assert h.dlq == []
    assert h.metric("kolot_consumer_events_total", outcome="applied") == 5
    assert h.metric("kolot_consumer_batch_size_count") == 1
    assert h.metric("kolot_consumer_batch_size_sum") == 5
    assert h.metric("kolot_consumer_handle_seconds_count") == 1
    assert h.metric("kolot_consumer_pending") == 7
    assert h.metric("kolot_consumer_failures_total") == 0


async def test_the_handler_gets_parsed_events() -> None:
    received: list[Event] = []

    async def handler(events: list[Event]) -> None:
        received.extend(events)

    h = make_harness()
    h.processor.spec = ConsumerSpec(name=CONSUMER, stream="events", subject="x", handler=handler)
    event = submitted(1)

    await h.process(h.message(event))

    assert received == [event]
    assert isinstance(received[0], CommentSubmitted)


async def test_messages_are_acked_only_after_the_handler_returns() -> None:
    h = make_harness()
    message = h.message(submitted(1))
    acked_during_handling: list[int] = []

    async def handler(events: list[Event]) -> None:
        acked_during_handling.append(message.acks)

    h.processor.spec = ConsumerSpec(name=CONSUMER, stream="events", subject="x", handler=handler)

    await h.process(message)

    assert acked_during_handling == [0]
    assert message.acks == 1


async def test_an_empty_fetch_does_nothing() -> None:
    h = make_harness()

    await h.process()

    assert h.handler.calls == []


# -- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("delivered", "delay"), [(1, 0.5), (2, 2.0)])
async def test_a_poison_event_is_isolated_and_retried_with_backoff(
    delivered: int, delay: float
) -> None:
    events = [submitted(n) for n in range(5)]
    poison = events[2]
    h = make_harness(poison={poison.id})
    messages = [h.message(e, delivered=delivered) for e in events]

    await h.process(*messages)

    # the batch failed, then each event was applied on its own
    assert h.handler.calls[0] == [e.id for e in events]
    assert h.handler.calls[1:] == [[e.id] for e in events]
    assert h.handler.applied == [e.id for e in events if e is not poison]
    for message, event in zip(messages, events, strict=True):
        if event is poison:
            assert (message.acks, message.naks) == (0, [delay])
        else:
            assert (message.acks, message.naks) == (1, [])
    assert h.dlq == []
    assert h.metric("kolot_consumer_events_total", outcome="applied") == 4
    assert h.metric("kolot_consumer_failures_total") == 2


async def test_the_last_backoff_step_repeats() -> None:
    event = submitted(1)
    h = make_harness(poison={event.id})
    h.processor.max_deliver = 10
    message = h.message(event, delivered=6)

    await h.process(message)

    assert message.naks == [BACKOFF[-1]]


async def test_a_lone_failing_event_is_tried_once_per_delivery() -> None:
    event = submitted(1)
    h = make_harness(poison={event.id})
    message = h.message(event)

    await h.process(message)

    assert h.handler.calls == [[event.id]]
    assert message.naks == [BACKOFF[0]]


@pytest.mark.parametrize("delivered", [MAX_DELIVER, MAX_DELIVER + 1])
async def test_on_its_last_delivery_a_poison_event_is_dead_lettered(delivered: int) -> None:
    events = [submitted(n) for n in range(3)]
    poison = events[1]
    h = make_harness(poison={poison.id})
    messages = [h.message(e, delivered=delivered) for e in events]

    await h.process(*messages)

    assert all(m.acks == 1 and not m.naks for m in messages)
    assert len(h.dlq) == 1
    dead = h.dlq[0]
    assert dead.subject == f"{NS}.dlq.probe.comment.submitted"
    assert dead.payload == poison.to_json()
    assert dead.headers["Kolot-Error"] == f"RuntimeError: cannot apply {poison.id}"
    assert dead.headers["Kolot-Deliveries"] == str(delivered)
    assert dead.headers["Kolot-Consumer"] == CONSUMER
    assert dead.headers["Kolot-Original-Subject"] == f"{NS}.events.comment.submitted.c1"
    assert dead.headers["Kolot-Original-Stream"] == f"{NS.upper()}_EVENTS"
    assert dead.headers["Kolot-Original-Sequence"] == str(messages[1].metadata.sequence.stream)
    # a DLQ publish retried after a crash is stored once
    assert dead.headers["Nats-Msg-Id"] == f"{CONSUMER}:{NS.upper()}_EVENTS:2"
    assert h.handler.applied == [events[0].id, events[2].id]
    assert h.metric("kolot_consumer_dead_lettered_total", reason="max_deliver") == 1


async def test_a_long_error_is_truncated_in_the_dlq_header() -> None:
    event = submitted(1)
    h = make_harness()

    async def handler(events: list[Event]) -> None:
        raise ValueError("x" * 10_000)

    h.processor.spec = ConsumerSpec(name=CONSUMER, stream="events", subject="x", handler=handler)

    await h.process(h.message(event, delivered=MAX_DELIVER))

    assert len(h.dlq[0].headers["Kolot-Error"]) == 2000


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff not json",
        b'{"specversion": "1.0"',
        b"[]",
        json.dumps({**submitted(1).to_dict(), "dataschemaversion": 99}).encode(),
        json.dumps({**submitted(1).to_dict(), "data": {"comment_id": "cm1"}}).encode(),
    ],
    ids=["binary", "truncated", "array", "future-version", "invalid-data"],
)
async def test_an_undecodable_payload_is_dead_lettered_at_once(payload: bytes) -> None:
    h = make_harness()
    good = submitted(2)
    bad_message = h.message(payload, subject=f"{NS}.events.comment.submitted.x")
    good_message = h.message(good)

    await h.process(bad_message, good_message)

    assert (bad_message.acks, bad_message.naks) == (1, [])
    assert len(h.dlq) == 1
    assert h.dlq[0].subject == f"{NS}.dlq.probe.comment.submitted"
    assert h.dlq[0].payload == payload
    assert h.dlq[0].headers["Kolot-Deliveries"] == "1"
    assert h.dlq[0].headers["Kolot-Error"].startswith("undecodable: ")
    assert h.handler.calls == [[good.id]]
    assert good_message.acks == 1
    assert h.metric("kolot_consumer_dead_lettered_total", reason="undecodable") == 1


async def test_a_message_on_an_odd_subject_is_dead_lettered_under_unknown() -> None:
    h = make_harness()

    await h.process(h.message(b"junk", subject=f"{NS}.events"))

    assert h.dlq[0].subject == f"{NS}.dlq.probe.unknown.unknown"


async def test_when_the_dlq_is_unreachable_the_message_is_left_for_redelivery() -> None:
    event = submitted(1)
    h = make_harness(poison={event.id}, fail_dlq=True)
    message = h.message(event, delivered=MAX_DELIVER)

    with pytest.raises(ConnectionError):
        await h.process(message)

    assert (message.acks, message.naks) == (0, [])
    assert h.metric("kolot_consumer_dead_lettered_total", reason="max_deliver") == 0


# -- what the consumer does not want ------------------------------------------------------------


async def test_an_unknown_event_type_is_acked_and_skipped() -> None:
    h = make_harness()
    unknown = {**submitted(1).to_dict(), "type": "kolot.comment.teleported"}
    message = h.message(json.dumps(unknown).encode(), subject=f"{NS}.events.comment.teleported.c1")
    good = submitted(2)
    good_message = h.message(good)

    await h.process(message, good_message)

    assert (message.acks, message.naks) == (1, [])
    assert h.handler.calls == [[good.id]]
    assert h.dlq == []
    assert h.metric("kolot_consumer_events_total", outcome="ignored") == 1


async def test_an_unwanted_type_is_acked_without_calling_the_handler() -> None:
    h = make_harness(types={"kolot.comment.submitted"})
    messages = [h.message(published(1)), h.message(published(2))]

    await h.process(*messages)

    assert h.handler.calls == []
    assert all((m.acks, m.naks) == (1, []) for m in messages)
    assert h.dlq == []
    assert h.metric("kolot_consumer_events_total", outcome="ignored") == 2


async def test_wanted_and_unwanted_types_in_one_batch() -> None:
    h = make_harness(types={"kolot.comment.submitted"})
    wanted = submitted(1)
    messages = [h.message(published(1)), h.message(wanted), h.message(published(2))]

    await h.process(*messages)

    assert h.handler.calls == [[wanted.id]]
    assert all(m.settled and m.acks == 1 for m in messages)
    assert h.metric("kolot_consumer_events_total", outcome="applied") == 1
    assert h.metric("kolot_consumer_events_total", outcome="ignored") == 2


# -- outages ------------------------------------------------------------------------------------


def transient_transaction_error(message: str) -> Exception:
    return OperationFailure(
        message, code=112, details={"errorLabels": ["TransientTransactionError"]}
    )


OUTAGES: dict[str, Callable[[str], Exception]] = {
    "bus": BusUnavailable,
    "nats": lambda message: ConnectionClosedError(),
    "mongo-down": AutoReconnect,
    "write-conflict": transient_transaction_error,
    "connection-refused": ConnectionRefusedError,
    "timeout": TimeoutError,
}


@pytest.mark.parametrize("outage", list(OUTAGES))
async def test_an_outage_hands_the_whole_batch_back_and_pauses(outage: str) -> None:
    events = [submitted(n) for n in range(3)]
    h = make_harness(poison={events[1].id})
    h.handler.failure = OUTAGES[outage]
    messages = [h.message(e, delivered=d) for e, d in zip(events, (1, 2, 1), strict=True)]

    await h.process(*messages)

    # no one-by-one retry against a store that is away: every event would fail the same way
    assert h.handler.calls == [[e.id for e in events]]
    assert all((m.acks, m.naks) == (0, [BACKOFF[1]]) for m in messages)
    assert h.processor.pause == BACKOFF[1]
    assert h.dlq == []


@pytest.mark.parametrize("outage", list(OUTAGES))
async def test_an_outage_is_never_dead_lettered(outage: str) -> None:
    event = submitted(1)
    h = make_harness(poison={event.id})
    h.handler.failure = OUTAGES[outage]
    message = h.message(event, delivered=MAX_DELIVER + 5)

    await h.process(message)

    assert h.dlq == []
    assert (message.acks, message.naks) == (0, [BACKOFF[-1]])


async def test_a_bug_does_not_pause_the_consumer() -> None:
    event = submitted(1)
    h = make_harness(poison={event.id})

    await h.process(h.message(event))

    assert h.processor.pause == 0


@pytest.mark.parametrize("error", [FileNotFoundError, PermissionError, IsADirectoryError])
async def test_a_local_os_error_is_a_bug_not_an_outage(error: type[OSError]) -> None:
    event = submitted(1)
    h = make_harness(poison={event.id})
    h.handler.failure = error

    await h.process(h.message(event, delivered=MAX_DELIVER))

    assert len(h.dlq) == 1


# -- tracing ------------------------------------------------------------------------------------


async def test_a_batch_is_one_consumer_span_linked_to_its_producers() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    h = make_harness(tracer=provider.get_tracer("test"))
    trace_id, span_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    traced = h.message(submitted(1), headers={"traceparent": f"00-{trace_id}-{span_id}-01"})

    await h.process(traced, h.message(submitted(2)))

    (span,) = exporter.get_finished_spans()
    assert span.name == f"{CONSUMER} process"
    assert span.kind == trace.SpanKind.CONSUMER
    assert span.attributes is not None
    assert span.attributes["messaging.batch.message_count"] == 2
    assert [
        (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") for link in span.links
    ] == [(trace_id, span_id)]
