"""How long a consultation's retention purge takes in intake's store, the largest part of it.

Seeds ``--comments`` comments (a quarter rejected) and half as many votes in one consultation on
the embedded MongoDB-wire server (or ``--mongo-url``), then times what intake does: finding who
took part there alone (the scheduler), the purge (the comments consumer), and the purge again (a
redelivery while a large one runs must resume, not redo). Baseline: one ``update_many`` that sets
a field on every one of those comments, the least such a purge could cost.

    .venv/bin/python bench/retention.py --comments 20000
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from typing import Any

from pymongo import AsyncMongoClient

from kolot.devstack import LocalStack
from kolot.intake.repository import INDEXES, IntakeRepository


async def seed(db: Any, comments: int) -> None:
    for name, indexes in INDEXES.items():
        if indexes:
            await db[name].create_indexes(indexes)
    authors = max(comments // 3, 1)
    for begin in range(0, comments, 5000):
        await db.comments.insert_many(
            [
                {
                    "_id": f"k{i}",
                    "campaign_id": "c",
                    "participant_id": f"p{i % authors}",
                    "status": "rejected" if i % 4 == 0 else "published",
                    "text": "x" * 300,
                    "public_text": "x" * 300,
                }
                for i in range(begin, min(begin + 5000, comments))
            ]
        )
    votes = [
        {"_id": f"v{i}", "campaign_id": "c", "participant_id": f"p{i}", "target_id": "k1"}
        for i in range(comments // 2)
    ]
    for begin in range(0, len(votes), 5000):
        await db.votes.insert_many(votes[begin : begin + 5000])


async def timed(what: str, step: Any) -> Any:
    started = time.perf_counter()
    result = await step
    print(f"{what:<48} {time.perf_counter() - started:6.1f} s")
    return result


async def run(mongo_url: str, comments: int) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        namespace = f"b{secrets.token_hex(4)}"
        db, baseline = client[f"{namespace}_intake"], client[f"{namespace}_baseline"]
        await seed(db, comments)
        await seed(baseline, comments)
        repository = IntakeRepository(lambda: db)
        print(f"{comments} comments, {comments // 2} votes in one consultation")
        await timed(
            "baseline: one update_many over the comments",
            baseline.comments.update_many({"campaign_id": "c"}, {"$set": {"touched": True}}),
        )
        alone = await timed("who took part there alone", repository.participants_only_of("c"))
        print(f"{'':<48} ({len(alone)} participants)")
        await timed("purge (comments and votes)", repository.purge_contributions(["c"]))
        await timed("purge again (a redelivery)", repository.purge_contributions(["c"]))
        await timed("purge of participation", repository.purge_participation(["c"]))
        await client.drop_database(f"{namespace}_intake")
        await client.drop_database(f"{namespace}_baseline")
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=20_000)
    parser.add_argument("--mongo-url", default=None, help="an existing server (default: embedded)")
    args = parser.parse_args()
    if args.mongo_url:
        asyncio.run(run(args.mongo_url, args.comments))
        return
    with LocalStack() as stack:
        asyncio.run(run(stack.mongo_url, args.comments))


if __name__ == "__main__":
    main()
