"""The bus against a real nats-server: dedup, retries into the DLQ, stream setup, restarts, stop."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from kolot.common.bus import BusUnavailable, ConsumerSpec, Streams, ensure_streams
from kolot.common.events import (
    CommentPublished,
    CommentPublishedData,
    CommentSubmitted,
    CommentSubmittedData,
    Event,
)
from kolot.common.runtime import Runtime
from kolot.common.settings import ServiceSettings
from kolot.devstack.servers import NatsServer

pytestmark = pytest.mark.integration

CONSUMER = "probe-comments"


def submitted(n: int, campaign: str = "c1") -> CommentSubmitted:
    return CommentSubmitted(
        subject=campaign,
        data=CommentSubmittedData(
            comment_id=f"cm{n}", participant_id="p1", text=f"comment {n}", text_sha256="0" * 64
        ),
    )


@dataclass
class Recorder:
    """A batch handler that remembers what it applied and fails on the poison ids."""

    poison: Collection[str] = ()
    applied: list[str] = field(default_factory=list)
    calls: list[list[str]] = field(default_factory=list)
    delay: float = 0.0

    async def __call__(self, events: list[Event]) -> None:
        ids = [e.id for e in events]
        self.calls.append(ids)
        if self.delay:
            await asyncio.sleep(self.delay)
        for event in events:
            if event.id in self.poison:
                raise RuntimeError(f"cannot apply comment {event.data.comment_id}")
        self.applied.extend(ids)

    def attempts_alone(self, event_id: str) -> int:
        """Calls with this event alone: the processor makes exactly one per delivery."""
        return self.calls.count([event_id])


async def eventually(check: Callable[[], Any], *, timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what or check}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = NATS()
    await nc.connect(nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


@pytest.fixture
def settings(make_settings: Callable[..., Any]) -> ServiceSettings:
    made: ServiceSettings = make_settings(
        ServiceSettings, service_name="probe", consumer_max_deliver=3, consumer_backoff=(0.05,)
    )
    return made


def runtime_with(settings: ServiceSettings, recorder: Recorder) -> Runtime:
    runtime = Runtime(settings)
    runtime.consumer(
        ConsumerSpec(
            name=CONSUMER,
            stream="events",
            subject=runtime.streams.events_subject("comment", "submitted"),
            handler=recorder,
        )
    )
    return runtime


async def stored(js: JetStreamContext, stream: str) -> int:
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        return 0
    return int(info.state.messages)


# -- publishing ---------------------------------------------------------------------------------


async def test_a_duplicate_publish_is_stored_once(
    settings: ServiceSettings, js: JetStreamContext, namespace: str
) -> None:
    runtime = Runtime(settings)
    event, other = submitted(1), submitted(2)
    async with runtime.started():
        await runtime.publisher.publish(event)
        await runtime.publisher.publish(event)  # a retry after a lost ack
        await runtime.publisher.publish(event.model_copy(), other, other)

    assert await stored(js, f"{namespace.upper()}_EVENTS") == 2
    first = await js.get_msg(f"{namespace.upper()}_EVENTS", 1)
    assert first.subject == f"{namespace}.events.comment.submitted.c1"
    assert first.data == event.to_json()
    assert first.headers is not None
    assert first.headers["Nats-Msg-Id"] == event.id
    assert first.headers["ce-type"] == "kolot.comment.submitted"


async def test_public_events_are_deduplicated_and_private_ones_refused(
    settings: ServiceSettings, js: JetStreamContext, namespace: str
) -> None:
    runtime = Runtime(settings)
    public = CommentPublished(subject="c1", data=CommentPublishedData(comment_id="c", text="hi"))
    async with runtime.started():
        await runtime.publisher.publish_public(public)
        await runtime.publisher.publish_public(public)
        with pytest.raises(ValueError, match="may not be published"):
            await runtime.publisher.publish_public(public, submitted(1))

    assert await stored(js, f"{namespace.upper()}_PUBLIC") == 1
    assert await stored(js, f"{namespace.upper()}_EVENTS") == 0


# -- consuming: retries and the dead-letter stream ----------------------------------------------


async def test_a_poison_event_lands_in_the_dlq_after_max_deliver(
    settings: ServiceSettings, js: JetStreamContext, namespace: str
) -> None:
    good, poison, also_good = submitted(1), submitted(2), submitted(3)
    recorder = Recorder(poison={poison.id})
    dlq = f"{namespace.upper()}_DLQ"
    async with runtime_with(settings, recorder).started() as runtime:
        await runtime.publisher.publish(good, poison, also_good)

        await eventually(
            lambda: {good.id, also_good.id} <= set(recorder.applied), what="good events applied"
        )
        await eventually(lambda: stored(js, dlq), what="the poison in the DLQ")
        # longer than the backoff: a further delivery would have happened by now
        await asyncio.sleep(0.5)

        info = await js.consumer_info(f"{namespace.upper()}_EVENTS", CONSUMER)

    assert poison.id not in recorder.applied
    assert recorder.attempts_alone(poison.id) == settings.consumer_max_deliver == 3
    assert (info.num_pending, info.num_ack_pending) == (0, 0)
    assert await stored(js, dlq) == 1
    dead = await js.get_msg(dlq, 1)
    assert dead.subject == f"{namespace}.dlq.probe.comment.submitted"
    assert dead.data == poison.to_json()
    assert dead.headers is not None
    assert dead.headers["Kolot-Deliveries"] == "3"
    assert "cannot apply comment cm2" in dead.headers["Kolot-Error"]
    assert dead.headers["Kolot-Original-Subject"] == f"{namespace}.events.comment.submitted.c1"
    assert dead.headers["Kolot-Consumer"] == CONSUMER


async def test_undecodable_bytes_go_to_the_dlq_at_once(
    settings: ServiceSettings, js: JetStreamContext, namespace: str
) -> None:
    recorder = Recorder()
    good = submitted(1)
    junk = b"\xff\x00 this is not a CloudEvent"
    dlq = f"{namespace.upper()}_DLQ"
    async with runtime_with(settings, recorder).started() as runtime:
        await js.publish(
            f"{namespace}.events.comment.submitted.x",
            junk,
            stream=f"{namespace.upper()}_EVENTS",
        )
        await runtime.publisher.publish(good)
        await eventually(lambda: stored(js, dlq), what="the junk in the DLQ")
        await eventually(lambda: recorder.applied, what="the good event applied")

    dead = await js.get_msg(dlq, 1)
    assert dead.data == junk
    assert dead.subject == f"{namespace}.dlq.probe.comment.submitted"
    assert dead.headers is not None
    assert dead.headers["Kolot-Deliveries"] == "1"
    assert dead.headers["Kolot-Error"].startswith("undecodable")
    assert dead.headers["Kolot-Original-Subject"] == f"{namespace}.events.comment.submitted.x"
    assert recorder.applied == [good.id]  # the junk never reached the handler


# -- streams ------------------------------------------------------------------------------------


async def test_ensure_streams_is_idempotent_and_repairs_a_drifted_stream(
    js: JetStreamContext, namespace: str
) -> None:
    streams = Streams(namespace)
    await js.add_stream(
        StreamConfig(
            name=streams.name("events"),
            subjects=[streams.subjects("events")],
            storage=StorageType.FILE,
            duplicate_window=10.0,
        )
    )
    await js.publish(f"{namespace}.events.comment.submitted.c1", b"{}", headers={"a": "b"})

    await ensure_streams(js, streams)
    await ensure_streams(js, streams)

    for kind in ("events", "public", "dlq"):
        info = await js.stream_info(streams.name(kind))
        assert info.config.subjects == [f"{namespace}.{kind}.>"]
        assert info.config.duplicate_window == 120.0
        assert info.config.storage == StorageType.FILE
    # updated in place, not recreated: what was stored is still there
    assert await stored(js, streams.name("events")) == 1


async def test_a_durable_consumer_of_an_older_version_is_brought_up_to_date(
    settings: ServiceSettings, js: JetStreamContext, namespace: str
) -> None:
    streams = Streams(namespace)
    await ensure_streams(js, streams)
    # as the previous release left it: the server gave up after max_deliver + 1 deliveries
    await js.add_consumer(
        streams.name("events"),
        ConsumerConfig(
            durable_name=CONSUMER,
            ack_wait=30.0,
            max_deliver=4,
            filter_subject=streams.events_subject("comment", "submitted"),
        ),
    )
    recorder = Recorder()
    event = submitted(1)
    async with runtime_with(settings, recorder).started() as runtime:
        await runtime.publisher.publish(event)
        await eventually(lambda: recorder.applied, what="the event applied")
        info = await js.consumer_info(streams.name("events"), CONSUMER)

    assert info.config.max_deliver == -1
    assert info.config.ack_wait == settings.consumer_ack_wait
    assert recorder.applied == [event.id]


# -- restarts and stopping ----------------------------------------------------------------------


async def test_consumers_survive_a_nats_restart(
    make_settings: Callable[..., Any], nats_server: NatsServer, namespace: str
) -> None:
    settings: ServiceSettings = make_settings(
        ServiceSettings, service_name="probe", publish_timeout=0.5
    )
    recorder = Recorder()
    before, after = [submitted(n) for n in (1, 2)], [submitted(n) for n in (3, 4, 5)]
    async with runtime_with(settings, recorder).started() as runtime:
        await runtime.publisher.publish(*before)
        await eventually(lambda: len(set(recorder.applied)) == 2, what="events before the stop")

        connection = runtime.broker.connection
        pid = nats_server.pid
        await asyncio.to_thread(nats_server.stop)
        try:
            # nothing may be reported as accepted while the bus is away
            with pytest.raises(BusUnavailable):
                await runtime.publisher.publish(submitted(99))
        finally:
            await asyncio.to_thread(nats_server.start)
        assert nats_server.pid != pid

        await eventually(
            lambda: connection.is_connected and connection.stats["reconnects"] >= 1,
            timeout=15,
            what="reconnected",
        )
        await publish_until_acked(runtime, after, timeout=10)
        await eventually(
            lambda: {e.id for e in before + after} <= set(recorder.applied),
            timeout=15,
            what="events published after the restart consumed",
        )


async def publish_until_acked(
    runtime: Runtime, events: list[CommentSubmitted], *, timeout: float
) -> None:
    """JetStream may refuse publishes for a moment after a restart; the ids make retries safe."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await runtime.publisher.publish(*events)
        except BusUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
        else:
            return


async def test_leaving_an_idle_runtime_returns_promptly(
    make_settings: Callable[..., Any],
) -> None:
    # a long fetch wait: stopping must not sit it out
    settings: ServiceSettings = make_settings(
        ServiceSettings, service_name="probe", consumer_batch_timeout=10.0
    )
    async with runtime_with(settings, Recorder()).started():
        await asyncio.sleep(0.5)  # the consumer is now waiting in fetch
        started = time.monotonic()

    assert time.monotonic() - started < 3.0


async def test_stopping_finishes_and_acks_the_batch_in_hand(
    settings: ServiceSettings, js: JetStreamContext, namespace: str
) -> None:
    recorder = Recorder(delay=1.0)
    event = submitted(1)
    async with runtime_with(settings, recorder).started() as runtime:
        await runtime.publisher.publish(event)
        await eventually(lambda: recorder.calls, what="the handler started")

    assert recorder.applied == [event.id]
    info = await js.consumer_info(f"{namespace.upper()}_EVENTS", CONSUMER)
    assert (info.num_pending, info.num_ack_pending, info.num_redelivered) == (0, 0, 0)
    assert Counter(recorder.applied)[event.id] == 1
