"""``apply_once`` and ``stamp`` against the real MongoDB-wire server: effects exactly once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from kolot.common.events import VoteCast, VoteCastData
from kolot.common.store import (
    APPLIED_COLLECTION,
    APPLIED_INDEXES,
    Document,
    apply_once,
    create_mongo_client,
    ensure_indexes,
    stamp,
)

pytestmark = pytest.mark.integration

CONSUMER = "probe-votes"


def vote(n: int) -> VoteCast:
    return VoteCast(
        subject="c1",
        data=VoteCastData(vote_id=f"v{n}", participant_id=f"p{n}", target_id="cm1", value=1),
    )


@pytest.fixture
async def client(mongo_url: str) -> AsyncIterator[AsyncMongoClient[Document]]:
    client = create_mongo_client(mongo_url, app_name="kolot-test-store")
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def db(client: AsyncMongoClient[Document], namespace: str) -> AsyncDatabase[Document]:
    database = client[f"{namespace}_probe"]
    # As a service's Runtime(indexes=...) does, every collection exists before the first
    # transaction. nx-27017 needs it: a transaction that first reads a missing collection
    # commits its writes outside the transaction, and one that creates a collection and aborts
    # leaves updates to it failing with "no such table".
    await ensure_indexes(
        database,
        {APPLIED_COLLECTION: APPLIED_INDEXES, "effects": [IndexModel([("event_id", 1)])]},
    )
    await database.create_collection("counters")
    return database


class Tally:
    """A non-idempotent effect: ``$inc`` a counter, and log which events it was given."""

    def __init__(self, db: AsyncDatabase[Document], *, fail: bool = False) -> None:
        self.db = db
        self.fail = fail

    async def __call__(self, events: list[VoteCast], session: AsyncClientSession) -> None:
        await self.db.counters.update_one(
            {"_id": "cm1"}, {"$inc": {"votes": len(events)}}, upsert=True, session=session
        )
        await self.db.effects.insert_many([{"event_id": e.id} for e in events], session=session)
        if self.fail:
            raise RuntimeError("the process died half way")

    async def count(self) -> int:
        doc = await self.db.counters.find_one({"_id": "cm1"})
        return 0 if doc is None else int(doc["votes"])

    async def applications(self) -> list[str]:
        return sorted([doc["event_id"] async for doc in self.db.effects.find({})])


async def test_each_event_is_applied_once_across_redelivery(
    client: AsyncMongoClient[Document], db: AsyncDatabase[Document]
) -> None:
    tally = Tally(db)
    first, second, third = vote(1), vote(2), vote(3)

    applied = await apply_once(client, db, [first, second], tally, consumer=CONSUMER)
    redelivered = await apply_once(client, db, [first, second], tally, consumer=CONSUMER)
    mixed = await apply_once(client, db, [second, third, first], tally, consumer=CONSUMER)

    assert applied == [first, second]
    assert redelivered == []
    assert mixed == [third]
    assert await tally.count() == 3
    assert await tally.applications() == sorted(e.id for e in (first, second, third))


async def test_a_batch_with_the_same_event_twice_counts_it_once(
    client: AsyncMongoClient[Document], db: AsyncDatabase[Document]
) -> None:
    tally = Tally(db)
    event = vote(1)

    applied = await apply_once(client, db, [event, event.model_copy()], tally, consumer=CONSUMER)

    assert [e.id for e in applied] == [event.id]
    assert await tally.count() == 1


async def test_nothing_new_means_the_effect_is_not_called(
    client: AsyncMongoClient[Document], db: AsyncDatabase[Document]
) -> None:
    event = vote(1)
    await apply_once(client, db, [event], Tally(db), consumer=CONSUMER)
    calls: list[int] = []

    async def effect(events: list[VoteCast], session: AsyncClientSession) -> None:
        calls.append(len(events))

    assert await apply_once(client, db, [event], effect, consumer=CONSUMER) == []
    assert await apply_once(client, db, [], effect, consumer=CONSUMER) == []
    assert calls == []


async def test_consumers_keep_their_own_applied_sets(
    client: AsyncMongoClient[Document], db: AsyncDatabase[Document]
) -> None:
    event = vote(1)

    assert await apply_once(client, db, [event], Tally(db), consumer="votes") == [event]
    assert await apply_once(client, db, [event], Tally(db), consumer="stats") == [event]
    assert await apply_once(client, db, [event], Tally(db), consumer="votes") == []
    assert await db[APPLIED_COLLECTION].count_documents({}) == 2


async def test_a_failed_effect_records_nothing_so_the_retry_applies_it(
    client: AsyncMongoClient[Document], db: AsyncDatabase[Document]
) -> None:
    events = [vote(1), vote(2)]

    with pytest.raises(RuntimeError, match="half way"):
        await apply_once(client, db, events, Tally(db, fail=True), consumer=CONSUMER)

    tally = Tally(db)
    assert await tally.count() == 0
    assert await tally.applications() == []
    assert await db[APPLIED_COLLECTION].count_documents({}) == 0
    assert await apply_once(client, db, events, tally, consumer=CONSUMER) == events
    assert await tally.count() == 2


async def test_concurrent_replicas_never_double_count(
    client: AsyncMongoClient[Document], db: AsyncDatabase[Document]
) -> None:
    tally = Tally(db)
    events = [vote(n) for n in range(20)]
    second_done = asyncio.Event()

    async def first_effect(new: list[VoteCast], session: AsyncClientSession) -> None:
        await tally(new, session)
        # hold the transaction open while the other replica reads and writes the same ids
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(second_done.wait(), 0.5)

    async def second() -> list[VoteCast]:
        await asyncio.sleep(0.05)  # once the first is inside its transaction
        try:
            return await apply_once(client, db, events[::-1], tally, consumer=CONSUMER)
        finally:
            second_done.set()

    outcomes = await asyncio.gather(
        apply_once(client, db, events, first_effect, consumer=CONSUMER),
        second(),
        return_exceptions=True,
    )

    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(f, PyMongoError) for f in failures), failures
    assert len(failures) <= 1
    # the loser is retried (redelivery does that in a service): still counted once
    for _ in failures:
        assert await apply_once(client, db, events, tally, consumer=CONSUMER) == []
    assert await tally.count() == len(events)
    assert await tally.applications() == sorted(e.id for e in events)
    assert sum(len(o) for o in outcomes if isinstance(o, list)) == len(events)


async def test_a_failing_transaction_leaves_a_concurrent_one_alone(
    client: AsyncMongoClient[Document],
    db: AsyncDatabase[Document],
) -> None:
    """Two consumers of one service database: one batch fails while the other commits."""
    committed, failed = [vote(n) for n in range(5)], [vote(n) for n in range(5, 10)]
    failed_wrote, committed_done = asyncio.Event(), asyncio.Event()

    async def count_into(key: str, new: list[VoteCast], session: AsyncClientSession) -> None:
        await db.counters.update_one(
            {"_id": key}, {"$inc": {"votes": len(new)}}, upsert=True, session=session
        )

    async def effect_that_fails(new: list[VoteCast], session: AsyncClientSession) -> None:
        await count_into("failing", new, session)
        failed_wrote.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(committed_done.wait(), 0.5)
        raise RuntimeError("handler bug")

    async def effect_that_commits(new: list[VoteCast], session: AsyncClientSession) -> None:
        await count_into("committing", new, session)

    async def committing() -> list[VoteCast]:
        await failed_wrote.wait()
        try:
            return await apply_once(client, db, committed, effect_that_commits, consumer="a")
        finally:
            committed_done.set()

    outcomes = await asyncio.gather(
        committing(),
        apply_once(client, db, failed, effect_that_fails, consumer="b"),
        return_exceptions=True,
    )

    assert outcomes[0] == committed
    assert isinstance(outcomes[1], RuntimeError)
    # what apply_once reported as applied is durable; what failed left nothing behind
    counters = {doc["_id"]: doc["votes"] async for doc in db.counters.find({})}
    assert counters == {"committing": 5}
    assert await db[APPLIED_COLLECTION].count_documents({"consumer": "a"}) == 5
    assert await db[APPLIED_COLLECTION].count_documents({"consumer": "b"}) == 0


# -- stamp --------------------------------------------------------------------------------------

TIMES = [
    datetime(2026, 11, 23, 18, 41, 1, 115000, tzinfo=UTC),
    datetime(2026, 11, 23, 18, 41, 1, tzinfo=UTC),
    datetime(2026, 11, 23, 18, 41, 1, 9, tzinfo=UTC),
    datetime(2026, 11, 23, 20, 0, tzinfo=timezone(timedelta(hours=2))),  # 18:00 UTC
    datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=-10))),  # 19:00 UTC
    datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 2, 9, 7, 5, 3, tzinfo=UTC),
    datetime(2026, 10, 19, 17, 15, 13, tzinfo=UTC),
]


def test_stamp_is_fixed_width_utc() -> None:
    assert stamp(TIMES[0]) == "2026-11-23T18:41:01.115000Z"
    assert stamp(TIMES[3]) == "2026-11-23T18:00:00.000000Z"
    assert {len(stamp(t)) for t in TIMES} == {27}


def test_stamps_sort_like_the_times() -> None:
    assert sorted(TIMES, key=stamp) == sorted(TIMES)
    for a in TIMES:
        for b in TIMES:
            assert (stamp(a) < stamp(b)) == (a < b)
            assert (stamp(a) == stamp(b)) == (a == b)


async def test_the_server_sorts_and_compares_stamps_like_the_times(
    db: AsyncDatabase[Document],
) -> None:
    await db.times.insert_many([{"_id": i, "at": stamp(t)} for i, t in enumerate(TIMES)])
    # an update operator writes the same text as an insert (a BSON date would not survive it)
    await db.times.update_one({"_id": 0}, {"$max": {"at": stamp(TIMES[0])}})
    middle = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)

    ordered = [doc["_id"] async for doc in db.times.find({}).sort("at", 1)]
    later = {doc["_id"] async for doc in db.times.find({"at": {"$gt": stamp(middle)}})}

    assert ordered == sorted(range(len(TIMES)), key=lambda i: TIMES[i])
    assert later == {i for i, t in enumerate(TIMES) if t > middle}


async def test_an_index_a_version_no_longer_declares_is_dropped_when_named_as_retired(
    client: AsyncMongoClient[Document], namespace: str
) -> None:
    """An index no query uses any more costs every write: ensure_indexes drops it at start
    (found by its keys: MongoDB and nx-27017 name indexes differently), keeps what is declared,
    and starts the same way once it is gone."""
    database = client[f"{namespace}_retire"]
    old = {"items": [IndexModel([("cluster_id", 1)]), IndexModel([("status", 1)])]}
    await ensure_indexes(database, old)
    new = {"items": [IndexModel([("cluster_id", 1), ("status", 1)]), IndexModel([("status", 1)])]}
    for _ in range(2):
        await ensure_indexes(database, new, retired={"items": [IndexModel([("cluster_id", 1)])]})
        keys = [dict(i["key"]) async for i in await database["items"].list_indexes()]
        assert sorted(keys, key=str) == sorted(
            [{"_id": 1}, {"cluster_id": 1, "status": 1}, {"status": 1}], key=str
        )
