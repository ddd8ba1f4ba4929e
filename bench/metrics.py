"""Metrics ingest: events/s folded into the aggregates by the metrics consumer vs raw JetStream.

Publishes a realistic consultation mix (visits, registrations with a source and a profile,
comments with their decisions and publications, votes, responses, flags, form-letter
republications, spend) over a few campaigns, then measures how fast the metrics service's own
consumer (``metrics-all``: decode, ``apply_once``, read the touched states, fold, one bulk write
per collection, in one transaction per batch) drains it, against raw nats-py ``fetch``/``ack`` of
the same payloads in the same run (the consume ceiling). Starts its own NATS and MongoDB-wire
servers (devstack) on free ports, unless --nats-url and --mongo-url are given.

    .venv/bin/python bench/metrics.py --events 20000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta

from nats.aio.client import Client as NATS

from cpu import CpuMeter
from kolot.common.bus import ConsumerSpec
from kolot.common.events import (
    Attribution,
    CampaignOpened,
    CampaignSnapshot,
    CommentFlagged,
    CommentFlaggedData,
    CommentModerated,
    CommentModeratedData,
    CommentPublished,
    CommentPublishedData,
    CommentSubmitted,
    CommentSubmittedData,
    DisseminationRegistered,
    DisseminationRegisteredData,
    Event,
    LocalizedText,
    ParticipantRegistered,
    ParticipantRegisteredData,
    Profile,
    ResponseSubmitted,
    ResponseSubmittedData,
    Spend,
    VisitRecorded,
    VisitRecordedData,
    VoteCast,
    VoteCastData,
)
from kolot.common.runtime import Runtime
from kolot.common.settings import development_environment
from kolot.common.web import tune_gc
from kolot.metrics.handlers import all_events_consumer
from kolot.metrics.models import COUNTERS_COLLECTION, INDEXES
from kolot.metrics.settings import MetricsSettings

SOURCES = ("facebook", "sms", "newsletter", "whatsapp", None)
REGIONS = ("north", "haifa", "center", "tel_aviv", "jerusalem", "south", None)


def progress(label: str, done: int, total: int) -> None:
    sys.stderr.write(f"\r  {label}: {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")


def consultation_mix(count: int, *, campaigns: int = 8, seed: int = 1) -> list[Event]:
    """``count`` events as a few consultations produce them: per participant a few visits, a
    registration, one or two comments with their decision and publication, votes, sometimes a
    response or a flag; every 50th comment republishes a growing form-letter cluster."""
    rnd = random.Random(seed)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    events: list[Event] = []
    for c in range(campaigns):
        cid = f"bench-{c}"
        events.append(
            CampaignOpened(
                subject=cid,
                time=t0,
                data=CampaignSnapshot(
                    campaign_id=cid,
                    status="open",
                    title=LocalizedText(he=f"התייעצות {c}"),
                    targets={"region": {r: 1 / 6 for r in REGIONS if r}},
                ),
            )
        )
        for s, paid in enumerate(SOURCES[:-1]):
            events.append(
                DisseminationRegistered(
                    subject=cid,
                    time=t0,
                    data=DisseminationRegisteredData(
                        dissemination_id=f"{cid}-d{s}",
                        source=paid or "direct",
                        channel="paid_social",
                        spend=Spend(amount=1000 + s),
                    ),
                )
            )
    p = 0
    while len(events) < count:
        p += 1
        cid = f"bench-{rnd.randrange(campaigns)}"
        pid = f"p{p}"
        at = t0 + timedelta(seconds=p * 7)
        source = rnd.choice(SOURCES)
        for v in range(rnd.randint(1, 4)):
            events.append(
                VisitRecorded(
                    subject=cid,
                    time=at + timedelta(seconds=v),
                    data=VisitRecordedData(
                        visit_id=f"{pid}-v{v}", attribution=Attribution(source=source)
                    ),
                )
            )
        if rnd.random() < 0.6:
            continue  # most visitors do not take part
        events.append(
            ParticipantRegistered(
                subject=cid,
                time=at,
                data=ParticipantRegisteredData(
                    participant_id=pid,
                    source=source,
                    campaign_id=cid,
                    profile=Profile(region=rnd.choice(REGIONS), age_band="35_44"),
                ),
            )
        )
        for k in range(rnd.randint(1, 2)):
            kid = f"{pid}-k{k}"
            submitted_at = at + timedelta(seconds=30 + k)
            events.append(
                CommentSubmitted(
                    subject=cid,
                    time=submitted_at,
                    data=CommentSubmittedData(
                        comment_id=kid,
                        participant_id=pid,
                        text="x" * 200,
                        text_sha256="0" * 64,
                        circle="public",
                    ),
                )
            )
            decision = rnd.choices(("approve", "review", "reject"), (80, 10, 10))[0]
            events.append(
                CommentModerated(
                    subject=cid,
                    time=submitted_at + timedelta(seconds=1),
                    data=CommentModeratedData(
                        comment_id=kid,
                        decision=decision,
                        automatic=True,
                        redacted_text="x" * 200,
                        language="he",
                    ),
                )
            )
            if decision == "approve":
                cluster = {"cluster_id": f"{cid}-cl", "cluster_size": p} if p % 50 == 0 else {}
                events.append(
                    CommentPublished(
                        subject=cid,
                        time=submitted_at + timedelta(seconds=1),
                        data=CommentPublishedData(
                            comment_id=kid,
                            text="x" * 200,
                            language="he",
                            **cluster,
                        ),
                    )
                )
        for v in range(rnd.randint(0, 3)):
            events.append(
                VoteCast(
                    subject=cid,
                    time=at + timedelta(seconds=60 + v),
                    data=VoteCastData(
                        vote_id=f"{pid}-{v}",
                        participant_id=pid,
                        target_id=f"p{max(1, p - v - 1)}-k0",
                        value=1,
                    ),
                )
            )
        if rnd.random() < 0.2:
            events.append(
                ResponseSubmitted(
                    subject=cid,
                    time=at + timedelta(seconds=90),
                    data=ResponseSubmittedData(response_id=pid, participant_id=pid, answers={}),
                )
            )
        if rnd.random() < 0.05:
            events.append(
                CommentFlagged(
                    subject=cid,
                    time=at + timedelta(seconds=95),
                    data=CommentFlaggedData(
                        comment_id=f"p{max(1, p - 1)}-k0", participant_id=pid, reason="spam"
                    ),
                )
            )
    return events[:count]


async def raw_ceiling(nats_url: str, payloads: list[bytes]) -> float:
    """Fetch and ack the same payloads with nats-py and nothing else: consumed/s."""
    nc = NATS()
    await nc.connect(nats_url)
    js = nc.jetstream()
    stream = f"RAW{secrets.token_hex(3).upper()}"
    await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
    for i, payload in enumerate(payloads):
        await js.publish_async(f"{stream.lower()}.x", payload, headers={"Nats-Msg-Id": str(i)})
    await js.publish_async_completed()
    sub = await js.pull_subscribe(f"{stream.lower()}.>", durable="raw", stream=stream)
    started, got = time.perf_counter(), 0
    while got < len(payloads):
        for msg in await sub.fetch(256, timeout=5):
            await msg.ack()
            got += 1
    consumed = time.perf_counter() - started
    await js.delete_stream(stream)
    await nc.close()
    return len(payloads) / consumed


async def metrics_ingest(settings: MetricsSettings, events: list[Event]) -> tuple[float, str]:
    """Publish the mix, then time the metrics consumer folding all of it: events/s, and the CPU
    it cost per 1000 events."""
    runtime = Runtime(settings, indexes=INDEXES)
    done = asyncio.Event()
    applied = 0
    real = all_events_consumer(runtime)

    async def handler(batch: list[Event]) -> None:
        nonlocal applied
        await real.handler(batch)
        applied += len(batch)
        progress("fold", applied, len(events))
        if applied >= len(events):
            done.set()

    spec = ConsumerSpec(
        name=real.name,
        stream=real.stream,
        subject=real.subject,
        handler=handler,
        types=real.types,
        description=real.description,
    )
    async with runtime.started():
        window = 512
        for i in range(0, len(events), window):
            await runtime.publisher.publish(*events[i : i + window])
            progress("publish", min(i + window, len(events)), len(events))
        consumer = runtime.consumer(spec)
        meter = CpuMeter(settings.mongodb_url, settings.nats_url)
        started = time.perf_counter()
        await consumer.start(runtime.broker.connection.jetstream())
        await asyncio.wait_for(done.wait(), timeout=1800)
        elapsed = time.perf_counter() - started
        cpu = meter.per_thousand(len(events))
        await consumer.stop()
        counted = 0
        async for doc in runtime.db[COUNTERS_COLLECTION].find({}, {"events": 1}):
            counted += sum(doc.get("events", {}).values())
        assert counted == len(events), f"counted {counted} of {len(events)}"
    return len(events) / elapsed, cpu


async def main(args: argparse.Namespace) -> None:
    from kolot.devstack import LocalStack

    if not args.default_gc:
        tune_gc()  # as every service process does (kolot.common.web.serve)

    with LocalStack(nats_url=args.nats_url, mongo_url=args.mongo_url) as stack:
        os.environ.update(development_environment())
        settings = MetricsSettings(
            nats_url=stack.nats_url,
            mongodb_url=stack.mongo_url,
            namespace=f"b{secrets.token_hex(4)}",
            log_json=False,
        )
        events = consultation_mix(args.events)
        payloads = [event.to_json() for event in events]
        kinds = len({event.type for event in events})
        mean = sum(map(len, payloads)) / len(payloads)
        print(
            f"events: {len(events)} of {kinds} types over 8 campaigns, mean payload "
            f"{mean:.0f} bytes, batch {settings.consumer_batch_size}; 2-core figures are noisy"
        )
        raw = await raw_ceiling(stack.nats_url, payloads)
        ingest, cpu = await metrics_ingest(settings, events)
        print(f"{'stage':<40}{'events/s':>10}{'ratio':>8}")
        print(f"{'raw JetStream fetch + ack (ceiling)':<40}{raw:>10.0f}{1:>8.2f}")
        print(f"{'metrics consumer (fold, exactly once)':<40}{ingest:>10.0f}{ingest / raw:>8.2f}")
        print(f"  CPU ms per 1000 events: {cpu}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="Python's default garbage collector thresholds (services tune them: tune_gc)",
    )
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL"))
    parser.add_argument("--mongo-url", default=os.environ.get("MONGODB_URL"))
    asyncio.run(main(parser.parse_args()))
