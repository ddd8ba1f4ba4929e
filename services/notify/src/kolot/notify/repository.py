"""MongoDB access for notify's own collections: ``subscriptions`` and ``deliveries``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from kolot.common.store import Document
from kolot.notify.models import CLAIMABLE, Delivery, DeliveryStatus, Subscription

SUBSCRIPTIONS = "subscriptions"
DELIVERIES = "deliveries"
DUPLICATE_KEY = 11000

INDEXES: dict[str, list[IndexModel]] = {
    SUBSCRIPTIONS: [IndexModel([("owner", ASCENDING), ("created_at", ASCENDING)])],
    DELIVERIES: [
        # the worker's poll: due deliveries, oldest first
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)]),
        # the delivery log of one subscription
        IndexModel([("subscription_id", ASCENDING), ("created_at", ASCENDING)]),
        # outcomes whose event has not reached the bus yet (few at any time)
        IndexModel([("pending_event", ASCENDING)], partialFilterExpression={"pending_event": True}),
    ],
}

DatabaseProvider = Callable[[], AsyncDatabase[Document]]
"""The service's database, looked up on use: the client exists only while the service runs."""


class SubscriptionRepository:
    def __init__(self, database: DatabaseProvider) -> None:
        self._database = database

    @property
    def _collection(self) -> AsyncCollection[Document]:
        return self._database()[SUBSCRIPTIONS]

    async def insert(self, subscription: Subscription) -> None:
        await self._collection.insert_one(subscription.to_document())

    async def all(self) -> list[Subscription]:
        cursor = self._collection.find({}).sort("created_at", ASCENDING)
        return [Subscription.from_document(doc) async for doc in cursor]

    async def by_owner(self, owner: str | None) -> list[Subscription]:
        query: Document = {} if owner is None else {"owner": owner}
        cursor = self._collection.find(query).sort("created_at", ASCENDING)
        return [Subscription.from_document(doc) async for doc in cursor]

    async def get(self, subscription_id: str, *, owner: str | None) -> Subscription | None:
        query: Document = {"_id": subscription_id}
        if owner is not None:
            query["owner"] = owner
        doc = await self._collection.find_one(query)
        return None if doc is None else Subscription.from_document(doc)

    async def get_many(self, ids: Sequence[str]) -> dict[str, Subscription]:
        cursor = self._collection.find({"_id": {"$in": list(ids)}})
        return {doc["_id"]: Subscription.from_document(doc) async for doc in cursor}

    async def delete(self, subscription_id: str, *, owner: str | None) -> bool:
        query: Document = {"_id": subscription_id}
        if owner is not None:
            query["owner"] = owner
        result = await self._collection.delete_one(query)
        return result.deleted_count == 1


class DeliveryRepository:
    def __init__(self, database: DatabaseProvider) -> None:
        self._database = database

    @property
    def _collection(self) -> AsyncCollection[Document]:
        return self._database()[DELIVERIES]

    async def insert_new(self, deliveries: Sequence[Delivery]) -> int:
        """Store the deliveries not yet stored (idempotent on ``_id``); returns the new count."""
        if not deliveries:
            return 0
        try:
            result = await self._collection.insert_many(
                [delivery.to_document() for delivery in deliveries], ordered=False
            )
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            inserted: int = exc.details.get("nInserted", len(deliveries) - len(errors))
            return inserted
        return len(result.inserted_ids)

    async def due(self, *, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries that are due, and claimed ones whose lease has expired (while
        ``sending``, ``next_attempt_at`` is the lease's expiry, so one index serves both)."""
        cursor = (
            self._collection.find(
                {"status": {"$in": list(CLAIMABLE)}, "next_attempt_at": {"$lte": now}}
            )
            .sort("next_attempt_at", ASCENDING)
            .limit(limit)
        )
        return [Delivery.from_document(doc) async for doc in cursor]

    async def compare_and_set(self, delivery: Delivery, changes: dict[str, Any]) -> Delivery | None:
        """Write ``delivery`` with ``changes`` if it is unchanged since it was read; None if
        another write (another replica's claim, a cancellation) came first.

        This is how a delivery is claimed (two replicas never both win), and how an attempt's
        result is recorded only by the claim that made it. It replaces the whole document rather
        than ``$set``-ting fields: nx-27017 0.8 stores a datetime given to ``$set`` as a string.
        """
        updated = delivery.model_copy(update={**changes, "revision": delivery.revision + 1})
        result = await self._collection.replace_one(
            {"_id": delivery.id, "revision": delivery.revision}, updated.to_document()
        )
        return updated if result.matched_count == 1 else None

    async def cancel_pending(self, subscription_id: str) -> int:
        result = await self._collection.update_many(
            {"subscription_id": subscription_id, "status": "pending"},
            {
                "$set": {
                    "status": "cancelled",
                    "next_attempt_at": None,
                    "last_error": "subscription deleted",
                },
                "$currentDate": {"completed_at": True},
                "$inc": {"revision": 1},
            },
        )
        return result.modified_count

    async def with_pending_event(self, *, limit: int) -> list[Delivery]:
        cursor = self._collection.find({"pending_event": True}).limit(limit)
        return [Delivery.from_document(doc) async for doc in cursor]

    async def events_published(self, delivery_ids: Sequence[str]) -> None:
        await self._collection.update_many(
            {"_id": {"$in": list(delivery_ids)}},
            {"$set": {"pending_event": None}, "$inc": {"revision": 1}},
        )

    async def log(
        self, subscription_id: str, *, limit: int, status: DeliveryStatus | None = None
    ) -> list[Delivery]:
        query: Document = {"subscription_id": subscription_id}
        if status is not None:
            query["status"] = status
        cursor = (
            self._collection.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [Delivery.from_document(doc) async for doc in cursor]
