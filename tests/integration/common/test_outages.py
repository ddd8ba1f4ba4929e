"""An outage of the store loses nothing: consumers wait it out instead of dead-lettering."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from pymongo import UpdateOne
from pymongo.errors import ConnectionFailure

from kolot.common.bus import ConsumerSpec
from kolot.common.events import Event
from kolot.common.runtime import Runtime
from kolot.common.settings import ServiceSettings
from kolot.common.store import apply_once
from kolot.devstack import MongoServer
from tests.integration.common.outage import submitted

pytestmark = pytest.mark.integration


async def test_a_store_outage_longer_than_max_deliver_is_waited_out_exactly_once(
    make_settings: Callable[..., Any], own_mongo: MongoServer
) -> None:
    settings = make_settings(
        ServiceSettings,
        service_name="probe",
        mongodb_url=own_mongo.url,
        consumer_max_deliver=2,
        mongodb_timeout=0.3,
        consumer_backoff=(0.2,),
    )
    runtime = Runtime(settings)

    async def count(events: list[Event], session: Any) -> None:
        await runtime.db["counts"].bulk_write(
            [UpdateOne({"_id": "n"}, {"$inc": {"n": len(events)}}, upsert=True)], session=session
        )

    async def handler(events: list[Event]) -> None:
        await apply_once(runtime.mongo, runtime.db, events, count, consumer="probe")

    runtime.consumer(
        ConsumerSpec(
            name="probe", stream="events", subject=runtime.streams.events_subject(), handler=handler
        )
    )

    async def counted() -> int:
        doc = await runtime.db["counts"].find_one({"_id": "n"})
        return int(doc["n"]) if doc else 0

    async def wait_for_count(expected: int, timeout: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(ConnectionFailure):  # the store may still be coming back
                if await counted() == expected:
                    return
            await asyncio.sleep(0.2)
        raise AssertionError(f"expected {expected} counted events, have {await counted()}")

    async with runtime.started():
        await runtime.publisher.publish(*(submitted(n) for n in range(5)))
        await wait_for_count(5)

        await asyncio.to_thread(own_mongo.stop)
        await runtime.publisher.publish(*(submitted(n) for n in range(5, 10)))
        # many more deliveries than max_deliver fail while the store is away
        await asyncio.sleep(6.0)
        await asyncio.to_thread(own_mongo.start)

        await wait_for_count(10)
        js = runtime.broker.connection.jetstream()
        dead = await js.stream_info(runtime.streams.name("dlq"))
        assert dead.state.messages == 0
        await asyncio.sleep(1.0)
        assert await counted() == 10  # and nothing was applied twice
