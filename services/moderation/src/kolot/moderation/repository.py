"""MongoDB access for moderation's own collections (``comments``, ``campaigns``).

Every write that a consumer makes for a batch is one ``bulk_write`` or ``update_many``; each is
idempotent, so a redelivered batch changes nothing it already changed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime

from pymongo import ASCENDING, IndexModel, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from kolot.common.events import Decision
from kolot.common.store import Document, stamp
from kolot.moderation.models import (
    CAMPAIGNS,
    COMMENTS,
    CampaignPolicy,
    CommentRecord,
    CommentStatus,
)

INDEXES: dict[str, list[IndexModel]] = {
    COMMENTS: [
        # the queue: pending items, oldest first, over all campaigns or one
        IndexModel([("status", ASCENDING), ("submitted_at", ASCENDING)]),
        IndexModel(
            [("campaign_id", ASCENDING), ("status", ASCENDING), ("submitted_at", ASCENDING)]
        ),
    ],
}


class MongoModerationRepository:
    """Reads the database lazily: it exists once the service has started."""

    def __init__(self, database: Callable[[], AsyncDatabase[Document]]) -> None:
        self._database = database

    @property
    def _comments(self) -> AsyncCollection[Document]:
        return self._database()[COMMENTS]

    @property
    def _campaigns(self) -> AsyncCollection[Document]:
        return self._database()[CAMPAIGNS]

    # campaigns

    async def policies(self, campaign_ids: Collection[str]) -> dict[str, CampaignPolicy]:
        if not campaign_ids:
            return {}
        cursor = self._campaigns.find({"_id": {"$in": list(campaign_ids)}})
        return {doc["_id"]: CampaignPolicy.from_document(doc) async for doc in cursor}

    async def save_policies(self, policies: Sequence[CampaignPolicy]) -> None:
        """Store each policy unless the stored one comes from a later campaign event."""
        if not policies:
            return
        stored = await self.policies([p.campaign_id for p in policies])
        writes = [
            UpdateOne({"_id": p.campaign_id}, {"$set": p.to_document()}, upsert=True)
            for p in policies
            if p.campaign_id not in stored or stored[p.campaign_id].as_of <= p.as_of
        ]
        if writes:
            await self._campaigns.bulk_write(writes, ordered=False)

    # comments

    async def add_automatic(self, records: Sequence[CommentRecord]) -> set[str]:
        """Insert the records not stored yet (one bulk write); returns the ids inserted now.

        A comment already stored (a redelivery, or one a person has decided since) is left alone.
        """
        if not records:
            return set()
        result = await self._comments.bulk_write(
            [
                UpdateOne({"_id": r.comment_id}, {"$setOnInsert": r.to_document()}, upsert=True)
                for r in records
            ],
            ordered=False,
        )
        return {records[index].comment_id for index in result.upserted_ids or {}}

    async def get(self, comment_id: str) -> CommentRecord | None:
        document = await self._comments.find_one({"_id": comment_id})
        return None if document is None else CommentRecord.from_document(document)

    async def get_many(self, comment_ids: Collection[str]) -> dict[str, CommentRecord]:
        if not comment_ids:
            return {}
        cursor = self._comments.find({"_id": {"$in": list(comment_ids)}})
        return {doc["_id"]: CommentRecord.from_document(doc) async for doc in cursor}

    async def mark_emitted(self, comment_ids: Collection[str]) -> None:
        if comment_ids:
            await self._comments.update_many(
                {"_id": {"$in": list(comment_ids)}}, {"$set": {"emitted": True}}
            )

    async def pending(self, *, campaign_id: str | None, limit: int) -> list[CommentRecord]:
        query: Document = {"status": "pending"}
        if campaign_id is not None:
            query["campaign_id"] = campaign_id
        cursor = (
            self._comments.find(query)
            .sort([("submitted_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [CommentRecord.from_document(doc) async for doc in cursor]

    async def record_human(
        self,
        current: CommentRecord,
        *,
        decision: Decision,
        status: CommentStatus,
        statement: str,
        reasons: list[str],
        moderator: str,
        at: datetime,
    ) -> CommentRecord | None:
        """A person's decision, applied only if nobody changed ``current`` meanwhile.

        Returns the updated record, or None when the comment has changed since it was read
        (another moderator was quicker): the caller reads it again.
        """
        # equality on decided_by and status, not $ne: nx-27017 does not match $ne on updates
        document = await self._comments.find_one_and_update(
            {"_id": current.comment_id, "decided_by": "auto", "status": current.status},
            {
                "$set": {
                    "decision": decision,
                    "status": status,
                    "decided_by": "human",
                    "statement": statement,
                    "reasons": reasons,
                    "moderator": moderator,
                    "decided_at": stamp(at),
                    "previous_status": current.status,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if document is None else CommentRecord.from_document(document)
