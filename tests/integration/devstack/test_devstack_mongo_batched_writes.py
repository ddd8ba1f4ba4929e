"""The devstack's nx-27017 runs each write command as one SQLite transaction (twice as fast as a
transaction per document) without changing what a client sees: a document that fails, fails
alone; an ordered write stops at its first failure and keeps what came before; what a command
wrote is there for the next one; a client's own transaction is still its own."""

from __future__ import annotations

import pymongo
import pytest
from pymongo import InsertOne, UpdateOne

from kolot.devstack import MongoServer

pytestmark = pytest.mark.integration


def test_a_bulk_write_keeps_mongodb_semantics_when_batched(own_mongo: MongoServer) -> None:
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(own_mongo.url)
    items = client.probe_batched.items
    items.insert_many([{"_id": f"a{n}", "n": n} for n in range(5)])

    with pytest.raises(pymongo.errors.BulkWriteError) as unordered:
        items.insert_many([{"_id": "b0"}, {"_id": "a2"}, {"_id": "b1"}], ordered=False)
    assert len(unordered.value.details["writeErrors"]) == 1
    assert unordered.value.details["nInserted"] == 2

    with pytest.raises(pymongo.errors.BulkWriteError) as ordered:
        items.bulk_write(
            [InsertOne({"_id": "c0"}), InsertOne({"_id": "a3"}), InsertOne({"_id": "c1"})],
            ordered=True,
        )
    assert ordered.value.details["nInserted"] == 1

    result = items.bulk_write(
        [UpdateOne({"_id": f"a{n}"}, {"$set": {"seen": True}}) for n in range(5)]
        + [UpdateOne({"_id": "d0"}, {"$set": {"n": 9}}, upsert=True)],
        ordered=False,
    )
    assert (result.matched_count, result.upserted_count) == (5, 1)

    ids = sorted(str(doc["_id"]) for doc in items.find({}, {"_id": 1}))
    assert ids == ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "c0", "d0"]
    assert items.count_documents({"seen": True}) == 5
    client.close()


def test_a_client_transaction_is_not_committed_by_the_batching(own_mongo: MongoServer) -> None:
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(own_mongo.url)
    items = client.probe_batched_tx.items
    items.insert_one({"_id": "kept"})
    with client.start_session() as session:
        session.start_transaction()
        items.insert_many([{"_id": "t0"}, {"_id": "t1"}], session=session)
        items.update_one({"_id": "kept"}, {"$set": {"touched": True}}, session=session)
        session.abort_transaction()
    items.insert_one({"_id": "after"})

    assert sorted(str(doc["_id"]) for doc in items.find({})) == ["after", "kept"]
    assert items.find_one({"_id": "kept"}) == {"_id": "kept"}
    client.close()


def test_what_a_batched_write_stored_survives_a_restart(own_mongo: MongoServer) -> None:
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(own_mongo.url)
    client.probe_batched_restart.items.insert_many([{"_id": n} for n in range(300)])
    client.close()
    own_mongo.stop()
    own_mongo.start()
    client = pymongo.MongoClient(own_mongo.url)
    assert client.probe_batched_restart.items.count_documents({}) == 300
    client.close()
