"""Moderation's store on a real MongoDB-wire server: the counts it reads with server-side
pipelines (surge windows, cluster sizes), checked against hand-counted documents, and the
insert that leaves a redelivered comment alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from kolot.common.store import create_mongo_client, ensure_indexes, stamp
from kolot.moderation.models import COMMENTS, FLAGS, AutomaticDecision, CommentRecord
from kolot.moderation.repository import INDEXES, MongoModerationRepository
from kolot.moderation.surge import BASELINE, WINDOW, Counts

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(mongo_url: str, namespace: str) -> AsyncIterator[AsyncDatabase[Any]]:
    client: AsyncMongoClient[Any] = create_mongo_client(mongo_url, app_name="moderation-tests")
    database = client[f"{namespace}_moderation"]
    await ensure_indexes(database, INDEXES)
    try:
        yield database
    finally:
        await client.drop_database(database.name)
        await client.close()


def record(
    n: int,
    *,
    campaign: str = "c1",
    ago: timedelta,
    status: str = "approved",
    cluster_id: str | None = None,
) -> dict[str, Any]:
    at = NOW - ago
    decision = {"approved": "approve", "rejected": "reject", "pending": "review"}[status]
    return CommentRecord.model_validate(
        {
            "comment_id": f"k{n}",
            "campaign_id": campaign,
            "participant_id": f"p{n}",
            "status": status,
            "decision": decision,
            "decided_by": "auto",
            "redacted_text": "text",
            "language": "en",
            "mode": "auto",
            "automatic": AutomaticDecision(decision=decision),
            "submitted_at": at,
            "submitted_stamp": stamp(at),
            "created_at": at,
            "decided_at": at,
            "cluster_id": cluster_id,
        }
    ).to_document()


async def test_surge_windows_count_the_window_apart_from_the_baseline_before_it(
    db: AsyncDatabase[Any],
) -> None:
    minute, hour = timedelta(minutes=1), timedelta(hours=1)
    docs = [
        record(1, ago=minute),
        record(2, ago=2 * minute, status="rejected"),
        record(3, ago=9 * minute),
        record(4, ago=11 * minute),  # just before the window: baseline
        record(5, ago=3 * hour, status="rejected"),
        record(6, ago=6 * hour),
        record(7, ago=7 * hour),  # before the baseline: not counted
        record(8, ago=minute, campaign="c2"),  # another campaign
    ]
    await db[COMMENTS].insert_many(docs)
    flags = [(1, minute), (2, 5 * minute), (3, 2 * hour), (4, 8 * hour)]
    await db[FLAGS].insert_many(
        [
            {
                "_id": f"f{n}",
                "comment_id": "k1",
                "campaign_id": "c1",
                "participant_id": f"q{n}",
                "at": stamp(NOW - ago),
            }
            for n, ago in flags
        ]
    )
    counts = await MongoModerationRepository(lambda: db).surge_counts(
        "c1", now=NOW, window=WINDOW, baseline=BASELINE
    )
    assert counts == {
        "submission_surge": Counts(window=3, before=3),
        "abuse_surge": Counts(window=1, before=1),
        "flag_surge": Counts(window=2, before=1),
    }


async def test_cluster_sizes_count_the_approved_members_of_each_cluster(
    db: AsyncDatabase[Any],
) -> None:
    day = timedelta(days=1)
    await db[COMMENTS].insert_many(
        [
            *(record(n, ago=day, cluster_id="big") for n in range(30)),
            record(30, ago=day, cluster_id="big", status="rejected"),
            record(31, ago=day, cluster_id="big", status="pending"),
            record(32, ago=day, cluster_id="small"),
            record(33, ago=day),
        ]
    )
    sizes = await MongoModerationRepository(lambda: db).cluster_sizes(["big", "small", "none"])
    assert sizes == {"big": 30, "small": 1, "none": 0}


async def test_a_stored_comment_is_left_alone_when_it_comes_again(
    db: AsyncDatabase[Any],
) -> None:
    repository = MongoModerationRepository(lambda: db)
    first = CommentRecord.from_document(record(1, ago=timedelta(minutes=1)))
    assert await repository.add_automatic([first]) == {"k1"}
    rejected = CommentRecord.from_document(record(1, ago=timedelta(minutes=1), status="rejected"))
    second = CommentRecord.from_document(record(2, ago=timedelta(minutes=1)))
    # a redelivery decided differently (the models learned since): the stored decision stands
    assert await repository.add_automatic([rejected, second]) == {"k2"}
    stored = await repository.get_many(["k1", "k2"])
    assert (stored["k1"].status, stored["k2"].status) == ("approved", "approved")
