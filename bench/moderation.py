"""Moderation throughput: the pipeline per core (batched), and the service end to end
(consume -> decide -> store -> publish) against the raw JetStream consume+publish ceiling.

Starts its own NATS and MongoDB-wire servers (devstack) on free ports, unless --nats-url and
--mongo-url are given. The corpus is generated: he/ar/en/mixed comments, civil and harsh, with
insults, threats, personal data and a form letter among them.

    .venv/bin/python bench/moderation.py --comments 5000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import secrets
import sys
import time
import unicodedata

from nats.aio.client import Client as NATS

from cpu import CpuMeter
from kolot.common.events import (
    CampaignCreated,
    CampaignSnapshot,
    CommentSubmitted,
    CommentSubmittedData,
    LocalizedText,
)
from kolot.common.runtime import Runtime
from kolot.common.settings import development_environment
from kolot.common.web import tune_gc
from kolot.moderation.handlers import COMMENTS_CONSUMER, consumer_specs
from kolot.moderation.pipeline import analyse_batch, decide, decide_analysis
from kolot.moderation.repository import INDEXES, MongoModerationRepository
from kolot.moderation.service import ModerationService
from kolot.moderation.settings import ModerationSettings

TEMPLATES = [
    "הממשלה הזאת הרסה את מערכת הבריאות והשר צריך להתפטר, סעיף {n}",
    "אני תומכת בהרחבת שעות הפעילות של המרפאה בשכונה {n}",
    "צריך יותר אוטובוסים בלילה, תתקשרו אליי 050-1234567 ({n})",
    "יא מניאק, התוכנית שלך היא חרא {n}",
    "الوزير فاشل وهذه الخطة عار على الحكومة {n}",
    "نحتاج إلى مدرسة جديدة في القرية، الصفوف مكتظة {n}",
    "سأقتلك إذا مررت هذا القانون {n}",
    "The government failed us; this reform will kill jobs, point {n}",
    "Please add a bike lane along the main road near school {n}",
    "you are a fucking moron and I know where you live {n}",
    "My email is dana.levi@example.org, call +972 52 123 4567 about item {n}",
    "The plan is good but we need Arabic signs, الخطة جيدة {n}",
    "Dear committee, I oppose the plan to build on the coastal strip. The beach belongs to the "
    "public, the dunes shelter rare species, and the city lacks open space. Thanks, {n}",
]


def corpus(count: int, *, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(TEMPLATES).format(n=i) for i in range(count)]


def progress(label: str, done: int, total: int) -> None:
    sys.stderr.write(f"\r  {label}: {done}/{total}")
    if done >= total:
        sys.stderr.write("\n")


def pipeline_per_core(texts: list[str], batch: int) -> tuple[float, float, float]:
    """(batched comments/s, one-at-a-time comments/s, NFKC+casefold floor/s) on one core."""
    analyse_batch(texts[:batch])  # load the models and compile the patterns first
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        for analysis in analyse_batch(texts[i : i + batch]):
            decide_analysis(analysis, mode="auto")
    batched = len(texts) / (time.perf_counter() - started)
    sample = texts[: max(len(texts) // 5, 1)]
    started = time.perf_counter()
    for text in sample:
        decide(text, mode="auto")
    single = len(sample) / (time.perf_counter() - started)
    started = time.perf_counter()
    for text in texts:
        unicodedata.normalize("NFKC", text).casefold()
    floor = len(texts) / (time.perf_counter() - started)
    return batched, single, floor


async def raw_ceiling(nats_url: str, payloads: list[bytes]) -> float:
    """Fetch each message, publish one message per message (acked), ack the batch: msgs/s."""
    nc = NATS()
    await nc.connect(nats_url)
    js = nc.jetstream()
    stream = f"RAW{secrets.token_hex(3).upper()}"
    await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
    for i, payload in enumerate(payloads):
        await js.publish_async(f"{stream.lower()}.in", payload, headers={"Nats-Msg-Id": str(i)})
    await js.publish_async_completed()
    sub = await js.pull_subscribe(f"{stream.lower()}.in", durable="raw", stream=stream)
    started, got = time.perf_counter(), 0
    while got < len(payloads):
        messages = await sub.fetch(256, timeout=5)
        for msg in messages:
            await js.publish_async(
                f"{stream.lower()}.out", msg.data, headers={"Nats-Msg-Id": f"o{got}"}
            )
            got += 1
        await js.publish_async_completed()
        for msg in messages:
            await msg.ack()
    elapsed = time.perf_counter() - started
    await js.delete_stream(stream)
    await nc.close()
    return len(payloads) / elapsed


async def service_end_to_end(
    settings: ModerationSettings, events: list[CommentSubmitted]
) -> tuple[float, dict[str, int], str]:
    """Put the comments on the stream, then time moderation until every one is stored and its
    events are acknowledged by the bus: comments/s, the decisions taken, and the CPU it cost per
    1000 comments."""
    loader = Runtime(settings)
    campaigns = sorted({event.subject for event in events})
    async with loader.started():
        await loader.publisher.publish(
            *(
                CampaignCreated(
                    subject=c,
                    data=CampaignSnapshot(campaign_id=c, status="open", title=LocalizedText(en=c)),
                )
                for c in campaigns
            )
        )
        window = 512
        for i in range(0, len(events), window):
            await loader.publisher.publish(*events[i : i + window])
            progress("publish", min(i + window, len(events)), len(events))
        js = loader.broker.connection.jetstream()
        last_seq = (await js.stream_info(loader.streams.name("events"))).state.last_seq
    runtime = Runtime(settings, indexes=INDEXES)
    service = ModerationService(MongoModerationRepository(lambda: runtime.db), runtime.publisher)
    for spec in consumer_specs(service, runtime.streams):
        runtime.consumer(spec)
    stream = runtime.streams.name("events")
    async with runtime.started():
        meter = CpuMeter(settings.mongodb_url, settings.nats_url)
        started = time.perf_counter()  # the store and the streams are ready, consumers running
        js = runtime.broker.connection.jetstream()
        # watch the consumer's acknowledgements, not the store: a count on the store would
        # compete with the writes being measured
        while True:
            info = await js.consumer_info(stream, COMMENTS_CONSUMER)
            done = info.ack_floor.stream_seq if info.ack_floor else 0
            progress("acknowledged", min(done, last_seq), last_seq)
            if done >= last_seq and not info.num_ack_pending:
                break
            await asyncio.sleep(0.2)
            if time.perf_counter() - started > 900:
                raise TimeoutError(f"moderated up to {done} of {last_seq}")
        elapsed = time.perf_counter() - started
        cpu = meter.per_thousand(len(events))
        comments = runtime.db["comments"]
        # the automatic decision's audit entry is written once its events are on the bus
        stored = await runtime.db["audit"].count_documents({"action": "auto"})
        assert stored == len(events), f"{stored} of {len(events)} decided and published"
        decisions: dict[str, int] = {}
        async for doc in comments.find({}, {"decision": 1}):
            decisions[doc["decision"]] = decisions.get(doc["decision"], 0) + 1
    return len(events) / elapsed, decisions, cpu


async def main(args: argparse.Namespace) -> None:
    from kolot.devstack import LocalStack

    if not args.default_gc:
        tune_gc()  # as every service process does (kolot.common.web.serve)

    texts = corpus(args.comments)
    print(f"comments: {args.comments}, batch {args.batch}; 2-core figures are noisy")
    batched, single, floor = pipeline_per_core(texts, args.batch)
    print(f"{'pipeline, one core':<40}{'comments/s':>12}")
    print(f"{'  batched (analyse_batch + decide)':<40}{batched:>12.0f}")
    print(f"{'  one at a time (decide)':<40}{single:>12.0f}")
    print(f"{'  baseline: NFKC + casefold only':<40}{floor:>12.0f}")
    print(f"  target >= 2000/s per core: {'met' if batched >= 2000 else 'NOT met'}")

    with LocalStack(nats_url=args.nats_url, mongo_url=args.mongo_url) as stack:
        os.environ.update(development_environment())
        settings = ModerationSettings(
            nats_url=stack.nats_url,
            mongodb_url=stack.mongo_url,
            namespace=f"b{secrets.token_hex(4)}",
            log_json=False,
        )
        events = [
            CommentSubmitted(
                subject=f"campaign-{i % 10}",
                data=CommentSubmittedData(
                    comment_id=f"c{i}",
                    participant_id=f"p{i}",
                    text=text,
                    text_sha256=hashlib.sha256(text.encode()).hexdigest(),
                ),
            )
            for i, text in enumerate(texts[: args.e2e])
        ]
        ceiling = await raw_ceiling(stack.nats_url, [e.to_json() for e in events])
        service_rate, decisions, cpu = await service_end_to_end(settings, events)
        print(f"{'end to end':<40}{'comments/s':>12}{'ratio':>8}")
        print(
            f"{'  moderation service (store + publish)':<40}{service_rate:>12.0f}"
            f"{service_rate / ceiling:>8.2f}"
        )
        print(f"{'  baseline: raw fetch + publish + ack':<40}{ceiling:>12.0f}{1:>8.2f}")
        print(f"  decisions: {decisions}")
        print(f"  CPU ms per 1000 comments: {cpu}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=20_000, help="for the pipeline")
    parser.add_argument("--e2e", type=int, default=5_000, help="for the service end to end")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="Python's default garbage collector thresholds (services tune them: tune_gc)",
    )
    parser.add_argument("--nats-url", default=os.environ.get("NATS_URL"))
    parser.add_argument("--mongo-url", default=os.environ.get("MONGODB_URL"))
    asyncio.run(main(parser.parse_args()))
