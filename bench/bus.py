"""Bus throughput: Kolot publish + batch consumer + exactly-once store effect vs raw nats-py.

Starts its own NATS and MongoDB-wire servers (devstack) on free ports, unless --nats-url and
--mongo-url are given. Prints events/s for each stage and the ratio to the raw baseline.

    .venv/bin/python bench/bus.py --events 20000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from typing import Any

from nats.aio.client import Client as NATS
from pymongo import UpdateOne

from kolot.common.bus import ConsumerSpec
from kolot.common.events import CommentSubmitted, CommentSubmittedData, Event
from kolot.common.runtime import Runtime
from kolot.common.settings import ServiceSettings, development_environment
from kolot.common.store import apply_once


def progress(label: str, done: int, total: int) -> None:
    sys.stderr.write(f"\r  {label}: {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")


async def raw_baseline(nats_url: str, count: int, payload: bytes) -> tuple[float, float]:
    """Publish ``count`` messages with publish_async, then fetch+ack them: (pub/s, consume/s)."""
    nc = NATS()
    await nc.connect(nats_url)
    js = nc.jetstream()
    stream = f"RAW{secrets.token_hex(3).upper()}"
    await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
    started = time.perf_counter()
    for i in range(count):
        await js.publish_async(f"{stream.lower()}.x", payload, headers={"Nats-Msg-Id": str(i)})
    await js.publish_async_completed()
    published = time.perf_counter() - started
    sub = await js.pull_subscribe(f"{stream.lower()}.>", durable="raw", stream=stream)
    started, got = time.perf_counter(), 0
    while got < count:
        for msg in await sub.fetch(256, timeout=5):
            await msg.ack()
            got += 1
    consumed = time.perf_counter() - started
    await js.delete_stream(stream)
    await nc.close()
    return count / published, count / consumed


async def kolot_pipeline(settings: ServiceSettings, count: int) -> tuple[float, float]:
    """Publish through EventPublisher, consume with a PullConsumer applying $inc exactly once."""
    runtime = Runtime(settings)
    done = asyncio.Event()
    applied = 0

    async def effect(events: list[Event], session: Any) -> None:
        per_campaign: dict[str, int] = {}
        for event in events:
            per_campaign[event.subject] = per_campaign.get(event.subject, 0) + 1
        await runtime.db["counters"].bulk_write(
            [
                UpdateOne({"_id": c}, {"$inc": {"n": n}}, upsert=True)
                for c, n in per_campaign.items()
            ],
            session=session,
        )

    async def handler(events: list[Event]) -> None:
        nonlocal applied
        applied += len(
            await apply_once(runtime.mongo, runtime.db, events, effect, consumer="bench")
        )
        if applied >= count:
            done.set()

    spec = ConsumerSpec(
        name="bench", stream="events", subject=runtime.streams.events_subject(), handler=handler
    )
    events = [
        CommentSubmitted(
            subject=f"campaign-{i % 20}",
            data=CommentSubmittedData(
                comment_id=f"c{i}", participant_id=f"p{i}", text="x" * 200, text_sha256="0" * 64
            ),
        )
        for i in range(count)
    ]
    async with runtime.started():
        started = time.perf_counter()
        window = 512  # publishes in flight, each awaiting its JetStream ack
        for i in range(0, count, window):
            await runtime.publisher.publish(*events[i : i + window])
            progress("publish", min(i + window, count), count)
        published = time.perf_counter() - started
        consumer = runtime.consumer(spec)
        started = time.perf_counter()
        await consumer.start(runtime.broker.connection.jetstream())
        await asyncio.wait_for(done.wait(), timeout=600)
        consumed = time.perf_counter() - started
        await consumer.stop()
        total = await runtime.db["counters"].aggregate(
            [{"$group": {"_id": None, "n": {"$sum": "$n"}}}]
        )
        counted = (await total.to_list(None))[0]["n"]
        assert counted == count, f"counted {counted} of {count}"
    return count / published, count / consumed


async def main(args: argparse.Namespace) -> None:
    from kolot.devstack import LocalStack

    with LocalStack(nats_url=args.nats_url, mongo_url=args.mongo_url) as stack:
        os.environ.update(development_environment())
        settings = ServiceSettings(
            service_name="bench",
            nats_url=stack.nats_url,
            mongodb_url=stack.mongo_url,
            namespace=f"b{secrets.token_hex(4)}",
            log_json=False,
        )
        payload = CommentSubmitted(
            subject="c",
            data=CommentSubmittedData(
                comment_id="c", participant_id="p", text="x" * 200, text_sha256="0" * 64
            ),
        ).to_json()
        print(f"events: {args.events}, payload {len(payload)} bytes, 2-core figures are noisy")
        raw_pub, raw_consume = await raw_baseline(stack.nats_url, args.events, payload)
        kolot_pub, kolot_consume = await kolot_pipeline(settings, args.events)
        print(f"{'stage':<34}{'kolot/s':>10}{'raw/s':>10}{'ratio':>8}")
        print(
            f"{'publish (acked)':<34}{kolot_pub:>10.0f}{raw_pub:>10.0f}{kolot_pub / raw_pub:>8.2f}"
        )
        print(
            f"{'consume (+ exactly-once effect)':<34}{kolot_consume:>10.0f}"
            f"{raw_consume:>10.0f}{kolot_consume / raw_consume:>8.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL"))
    parser.add_argument("--mongo-url", default=os.environ.get("MONGODB_URL"))
    asyncio.run(main(parser.parse_args()))
