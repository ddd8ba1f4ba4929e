"""MongoDB access shared by the services: the client, index bootstrap, and effects applied once.

Every service owns one database (``<namespace>_<service>``) and builds it from the events it
consumes. ``apply_once`` is how a consumer makes an at-least-once stream give exactly-once effects:
the ids of applied events and the effect itself commit in one transaction, so a redelivered or
replayed event finds its id already there and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, OperationFailure, PyMongoError

from kolot.common.events import Event

Document = dict[str, Any]
E = TypeVar("E", bound=Event)

APPLIED_COLLECTION = "applied_events"
_TRANSACTION_LOCKS: dict[tuple[int, str], asyncio.Lock] = {}


def stamp(value: datetime) -> str:
    """A time as stored in documents that are ever updated: fixed-width ISO-8601 UTC text.

    nx-27017 (the embedded MongoDB-wire server) turns a BSON date written by an update operator
    (``$set``, ``$max``...) on an existing document into a string, so a field that is inserted as a
    date and later updated would hold both types and compare wrongly. Fixed-width UTC text sorts
    and compares correctly on both servers: ``2026-11-23T18:41:01.115000Z``.
    """
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def create_mongo_client(
    url: str, *, app_name: str, timeout: float = 5.0
) -> AsyncMongoClient[Document]:
    """One client per process and event loop; it connects lazily on first use."""
    return AsyncMongoClient(
        url,
        appname=app_name,
        tz_aware=True,
        tzinfo=UTC,
        serverSelectionTimeoutMS=int(timeout * 1000),
        connectTimeoutMS=int(timeout * 1000),
        uuidRepresentation="standard",
    )


async def ensure_indexes(
    database: AsyncDatabase[Document],
    indexes: Mapping[str, Sequence[IndexModel]],
    *,
    retired: Mapping[str, Sequence[IndexModel]] | None = None,
) -> None:
    """Create every collection and the indexes it needs; idempotent, run at every start.

    Collections are created up front even without indexes: on nx-27017 a transaction whose
    first operation touches a collection that does not exist yet misbehaves. ``retired`` are
    indexes an earlier version created that no query uses any more: each costs every write, so
    they are dropped, found by their keys (servers name indexes differently; one already gone is
    fine).
    """
    existing = set(await database.list_collection_names())
    for collection, models in indexes.items():
        if collection not in existing:
            with contextlib.suppress(CollectionInvalid):  # another replica made it first
                await database.create_collection(collection)
        if models:
            await database[collection].create_indexes(list(models))
    for collection, models in (retired or {}).items():
        keys = [list(model.document["key"].items()) for model in models]
        async for index in await database[collection].list_indexes():
            if list(index["key"].items()) in keys:
                with contextlib.suppress(OperationFailure):  # another replica dropped it first
                    await database[collection].drop_index(index["name"])


async def ping(client: AsyncMongoClient[Document]) -> bool:
    try:
        await client.admin.command("ping")
    except PyMongoError:
        return False
    return True


async def apply_once(
    client: AsyncMongoClient[Document],
    database: AsyncDatabase[Document],
    events: Sequence[E],
    effect: Callable[[list[E], AsyncClientSession], Awaitable[None]],
    *,
    consumer: str,
) -> list[E]:
    """Apply ``effect`` to the events this ``consumer`` has not applied before, atomically.

    Returns the events that were new. The applied ids and the effect commit together, so a crash
    between them cannot lose an effect or apply it twice; concurrent replicas that race on the
    same event conflict in the transaction, and the loser retries through redelivery.
    """
    keys = {f"{consumer}:{event.id}": event for event in events}
    applied = database[APPLIED_COLLECTION]
    # One transaction at a time per database in this process: nx-27017 does not isolate
    # concurrent transactions on one database (a commit can lose the writes of another). A
    # consumer applies one batch at a time anyway, so real MongoDB loses nothing by it.
    lock = _TRANSACTION_LOCKS.setdefault((id(client), database.name), asyncio.Lock())
    async with lock, client.start_session() as session, await session.start_transaction():
        seen = {
            doc["_id"]
            async for doc in applied.find({"_id": {"$in": list(keys)}}, {"_id": 1}, session=session)
        }
        fresh: dict[str, E] = {k: e for k, e in keys.items() if k not in seen}
        if not fresh:
            return []
        now = datetime.now(UTC)
        await applied.insert_many(
            [{"_id": key, "consumer": consumer, "at": now} for key in fresh], session=session
        )
        new_events = list(fresh.values())
        await effect(new_events, session)
    return new_events


APPLIED_INDEXES = [IndexModel([("consumer", 1), ("at", 1)])]
