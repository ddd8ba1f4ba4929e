"""Intake's own read models in MongoDB: campaigns and comments, built from the bus."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from kolot.common.events import CampaignSnapshot, utcnow
from kolot.common.store import Document, stamp

DUPLICATE_KEY = 11000

INDEXES = {
    "campaigns": [IndexModel([("status", ASCENDING), ("version", DESCENDING)])],
    "comments": [
        # the public list: published comments of a campaign, newest first by submission time
        # (sort_key; ids alone do not order: a retried request's id is derived from its key)
        IndexModel([("campaign_id", ASCENDING), ("status", ASCENDING), ("sort_key", DESCENDING)]),
        IndexModel([("participant_id", ASCENDING)]),
    ],
}


class IntakeRepository:
    """Built with the app; reaches the database (which exists once the service started) per call."""

    def __init__(self, database: Callable[[], AsyncDatabase[Document]]) -> None:
        self._database = database

    @property
    def campaigns(self) -> AsyncCollection[Document]:
        return self._database()["campaigns"]

    @property
    def comments(self) -> AsyncCollection[Document]:
        return self._database()["comments"]

    # campaigns ---------------------------------------------------------------------------

    async def save_campaigns(self, snapshots: Sequence[CampaignSnapshot]) -> None:
        """Upsert snapshots; an older snapshot never overwrites a newer one."""
        if not snapshots:
            return
        ops = [
            UpdateOne(
                {"_id": s.campaign_id, "version": {"$lte": version}},
                {
                    "$set": {
                        **s.model_dump(mode="json", exclude={"campaign_id"}),
                        "version": version,
                    }
                },
                upsert=True,
            )
            for s in snapshots
            for version in [stamp(s.updated_at or s.created_at or utcnow())]
        ]
        await self._bulk_ignoring_stale(self.campaigns, ops)

    async def get_campaign(self, campaign_id: str) -> CampaignSnapshot | None:
        doc = await self.campaigns.find_one({"_id": campaign_id})
        return _campaign(doc) if doc else None

    async def list_campaigns(self, *, limit: int = 200) -> list[CampaignSnapshot]:
        cursor = self.campaigns.find({}).sort("version", DESCENDING).limit(limit)
        return [_campaign(doc) async for doc in cursor]

    # comments ----------------------------------------------------------------------------

    async def apply_comment_changes(self, ops: Sequence[UpdateOne]) -> None:
        await self._bulk_ignoring_stale(self.comments, ops)

    async def published_comments(
        self, campaign_id: str, *, before: str | None, limit: int
    ) -> list[Document]:
        query: dict[str, Any] = {"campaign_id": campaign_id, "status": "published"}
        if before:
            query["sort_key"] = {"$lt": before}
        cursor = self.comments.find(query).sort("sort_key", DESCENDING).limit(limit)
        return await cursor.to_list(None)

    async def get_comment(self, comment_id: str) -> Document | None:
        return await self.comments.find_one({"_id": comment_id})

    @staticmethod
    async def _bulk_ignoring_stale(
        collection: AsyncCollection[Document], ops: Sequence[UpdateOne]
    ) -> None:
        # A guarded upsert whose guard fails (a newer state is already stored) tries to insert an
        # existing _id and gets a duplicate-key error: that is the "stale event, skip" outcome.
        try:
            await collection.bulk_write(list(ops), ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(err.get("code") != DUPLICATE_KEY for err in errors):
                raise


def _campaign(doc: Document) -> CampaignSnapshot:
    return CampaignSnapshot(campaign_id=doc["_id"], **{k: v for k, v in doc.items() if k != "_id"})


def sort_key(submitted_at: datetime, comment_id: str) -> str:
    """Orders comments by submission time; the id breaks ties.

    Compact (``20261123T191300.000000Z.<id>``) on purpose: nx-27017 fails range queries on a
    string that starts like an ISO date and goes on with more text.
    """
    return f"{submitted_at.astimezone(UTC):%Y%m%dT%H%M%S.%fZ}.{comment_id}"


def status_change(
    comment_id: str,
    at: datetime,
    fields: dict[str, Any],
    *,
    on_insert: dict[str, Any] | None = None,
) -> UpdateOne:
    """A status change applied only if nothing newer was applied (replicas may race)."""
    return UpdateOne(
        # $lte, not $lt: nx-27017 never matches $lt in update filters (find is fine). Re-applying
        # the same event (equal time) writes the same values, so $lte is as safe.
        {"_id": comment_id, "status_at": {"$lte": stamp(at)}},
        {
            "$set": {**fields, "status_at": stamp(at)},
            **({"$setOnInsert": on_insert} if on_insert else {}),
        },
        upsert=True,
    )
