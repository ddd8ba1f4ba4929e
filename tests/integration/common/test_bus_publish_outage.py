"""A publish refused while NATS is away is never stored once it is back.

nats-py keeps what is published while it reconnects and sends it after the reconnect: an event
whose caller was answered 503 ("nothing was recorded") would then be stored after all, and a
client that did not retry with its Idempotency-Key would find a comment it was told was refused
(found by tests/faults under a NATS restart).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from kolot.common.bus import BusUnavailable
from kolot.common.runtime import Runtime
from kolot.common.settings import ServiceSettings
from kolot.devstack import NatsServer
from tests.integration.common.outage import submitted

pytestmark = pytest.mark.integration


async def until(check: Callable[[], Any], *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s"
        await asyncio.sleep(0.05)


async def test_a_publish_refused_while_nats_is_away_is_not_stored_after_the_reconnect(
    make_settings: Callable[..., Any], own_nats: NatsServer, namespace: str
) -> None:
    settings: ServiceSettings = make_settings(
        ServiceSettings, service_name="probe", nats_url=own_nats.url, publish_timeout=0.5
    )
    before, refused, after = submitted(1), submitted(2), submitted(3)
    runtime = Runtime(settings)
    async with runtime.started():
        await runtime.publisher.publish(before)
        connection = runtime.broker.connection
        await asyncio.to_thread(own_nats.stop)
        await until(lambda: not connection.is_connected)
        with pytest.raises(BusUnavailable):
            await runtime.publisher.publish(refused)
        await asyncio.to_thread(own_nats.start)
        await until(lambda: connection.is_connected)
        deadline = time.monotonic() + 10
        while True:  # JetStream may refuse publishes for a moment after a restart
            try:
                await runtime.publisher.publish(after)
                break
            except BusUnavailable:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)

    nc = NATS()
    await nc.connect(own_nats.url)
    try:
        js = nc.jetstream()
        stream = f"{namespace.upper()}_EVENTS"
        count = (await js.stream_info(stream)).state.messages
        stored = [await js.get_msg(stream, seq) for seq in range(1, count + 1)]
        ids = [(msg.headers or {}).get("Nats-Msg-Id") for msg in stored]
    finally:
        await nc.close()
    assert ids == [before.id, after.id]
