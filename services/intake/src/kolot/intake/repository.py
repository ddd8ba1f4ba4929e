"""Intake's own read models in MongoDB, built from the bus: campaigns, comments (with their support
and replies), votes, responses, participants (sealed contacts, memberships), outcomes; plus the
few writes intake makes itself (invitation redemptions, bulk uploads)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from kolot.common.events import CampaignSnapshot, OutcomePublished, utcnow
from kolot.common.store import Document, stamp

DUPLICATE_KEY = 11000

INDEXES = {
    "campaigns": [IndexModel([("status", ASCENDING), ("version", DESCENDING)])],
    "comments": [
        # the public list: published comments of a campaign, newest first by submission time
        # (sort_key; ids alone do not order: a retried request's id is derived from its key)
        IndexModel([("campaign_id", ASCENDING), ("status", ASCENDING), ("sort_key", DESCENDING)]),
        IndexModel([("campaign_id", ASCENDING), ("status", ASCENDING), ("rank", DESCENDING)]),
        IndexModel([("parent_id", ASCENDING), ("sort_key", ASCENDING)]),
        IndexModel([("participant_id", ASCENDING)]),
    ],
    "votes": [
        IndexModel([("target_id", ASCENDING)]),
        IndexModel([("participant_id", ASCENDING)]),
        IndexModel([("campaign_id", ASCENDING)]),  # a retention purge
    ],
    "responses": [
        IndexModel([("campaign_id", ASCENDING)]),
        IndexModel([("participant_id", ASCENDING)]),
    ],
    "participants": [IndexModel([("campaign_id", ASCENDING)])],
    "memberships": [
        IndexModel([("participant_id", ASCENDING)]),
        IndexModel([("campaign_id", ASCENDING)]),
    ],
    "redemptions": [
        IndexModel([("participant_id", ASCENDING)]),
        IndexModel([("campaign_id", ASCENDING)]),
    ],
    "outcomes": [IndexModel([("campaign_id", ASCENDING), ("published_at", DESCENDING)])],
    "uploads": [IndexModel([("campaign_id", ASCENDING), ("created_at", DESCENDING)])],
}

UNPUBLISHED = ("pending", "review", "rejected", "hidden", "clustered")
"""Comment statuses whose text never was (or no longer is) public."""

SUPPORT_OFFSET = 10**9
"""``rank`` is ``<support + offset, zero-padded>.<sort_key>``: one string that orders by support,
then by time, so "most supported" pages with one range condition like "newest" does."""


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

    def collection(self, name: str) -> AsyncCollection[Document]:
        return self._database()[name]

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

    async def list_campaigns(
        self, *, statuses: Sequence[str] | None = None, limit: int = 200
    ) -> list[CampaignSnapshot]:
        query: dict[str, Any] = {"status": {"$in": list(statuses)}} if statuses else {}
        cursor = self.campaigns.find(query).sort("version", DESCENDING).limit(limit)
        return [_campaign(doc) async for doc in cursor]

    # comments ----------------------------------------------------------------------------

    async def apply_comment_changes(self, ops: Sequence[UpdateOne]) -> None:
        if ops:
            await self._bulk_ignoring_stale(self.comments, ops)

    async def published_comments(
        self,
        campaign_id: str,
        *,
        before: str | None,
        limit: int,
        order: str = "sort_key",
        circles: Sequence[str | None] = (None,),
        top_level: bool = True,
    ) -> list[Document]:
        """A page of published comments, ordered by ``sort_key`` (newest) or ``rank`` (most
        supported), descending, strictly after the cursor ``before``."""
        query: dict[str, Any] = {"campaign_id": campaign_id, "status": "published"}
        query["circle"] = {"$in": list(circles)} if len(circles) > 1 else circles[0]
        if top_level:
            query["depth"] = 0
        if before:
            query[order] = {"$lt": before}
        cursor = self.comments.find(query).sort(order, DESCENDING).limit(limit)
        return await cursor.to_list(None)

    async def replies(self, parent_id: str, *, after: str | None, limit: int) -> list[Document]:
        query: dict[str, Any] = {"parent_id": parent_id, "status": "published"}
        if after:
            query["sort_key"] = {"$gt": after}
        cursor = self.comments.find(query).sort("sort_key", ASCENDING).limit(limit)
        return await cursor.to_list(None)

    async def published_replies(self, parent_ids: Sequence[str], *, limit: int) -> list[Document]:
        """The published replies to any of ``parent_ids``, oldest first: one read per level of a
        page's threads, however many comments the page shows."""
        query = {"parent_id": {"$in": list(parent_ids)}, "status": "published"}
        cursor = self.comments.find(query).sort("sort_key", ASCENDING).limit(limit)
        return await cursor.to_list(None)

    async def own_comments(
        self, participant_id: str, *, campaign_id: str, limit: int
    ) -> list[Document]:
        """A participant's own comments in a campaign, newest first, whatever their status."""
        query = {"participant_id": participant_id, "campaign_id": campaign_id}
        cursor = self.comments.find(query).sort("sort_key", DESCENDING).limit(limit)
        return await cursor.to_list(None)

    async def get_comment(self, comment_id: str) -> Document | None:
        return await self.comments.find_one({"_id": comment_id})

    async def anonymise_author(self, participant_ids: Sequence[str]) -> None:
        await self.comments.update_many(
            {"participant_id": {"$in": list(participant_ids)}},
            {"$set": {"participant_id": None, "author_erased": True}},
        )

    # votes, responses, participants, outcomes ------------------------------------------------

    async def bulk(self, name: str, ops: Sequence[Any]) -> None:
        if ops:
            await self._bulk_ignoring_stale(self.collection(name), ops)

    async def support_of(self, target_ids: Sequence[str]) -> dict[str, int]:
        totals = {target: 0 for target in target_ids}
        pipeline: list[dict[str, Any]] = [
            {"$match": {"target_id": {"$in": list(target_ids)}}},
            {"$group": {"_id": "$target_id", "support": {"$sum": "$value"}}},
        ]
        async for row in await self.collection("votes").aggregate(pipeline):
            totals[str(row["_id"])] = int(row["support"])
        return totals

    async def reply_counts(self, parent_ids: Sequence[str]) -> dict[str, int]:
        totals = {parent: 0 for parent in parent_ids}
        pipeline: list[dict[str, Any]] = [
            {"$match": {"parent_id": {"$in": list(parent_ids)}, "status": "published"}},
            {"$group": {"_id": "$parent_id", "n": {"$sum": 1}}},
        ]
        async for row in await self.comments.aggregate(pipeline):
            totals[str(row["_id"])] = int(row["n"])
        return totals

    async def sort_keys(self, comment_ids: Sequence[str]) -> dict[str, str]:
        """The ``sort_key`` of each projected comment (those not projected yet are left out)."""
        cursor = self.comments.find({"_id": {"$in": list(comment_ids)}}, {"sort_key": 1})
        return {
            str(doc["_id"]): str(doc["sort_key"]) async for doc in cursor if doc.get("sort_key")
        }

    async def parents_of(self, comment_ids: Sequence[str]) -> set[str]:
        if not comment_ids:
            return set()
        cursor = self.comments.find({"_id": {"$in": list(comment_ids)}}, {"parent_id": 1})
        return {str(doc["parent_id"]) async for doc in cursor if doc.get("parent_id")}

    async def memberships(self, participant_id: str) -> list[str]:
        cursor = self.collection("memberships").find({"participant_id": participant_id})
        return [str(doc["circle"]) async for doc in cursor]

    async def claim_invitation(
        self, invitation_id: str, *, participant_id: str, campaign_id: str
    ) -> str:
        """Records who redeemed an invitation; returns who holds it (the first to redeem)."""
        try:
            await self.collection("redemptions").insert_one(
                {
                    "_id": invitation_id,
                    "participant_id": participant_id,
                    "campaign_id": campaign_id,
                    "at": stamp(utcnow()),
                }
            )
        except DuplicateKeyError:
            doc = await self.collection("redemptions").find_one({"_id": invitation_id})
            return str(doc["participant_id"]) if doc else ""
        return participant_id

    async def save_outcomes(self, events: Sequence[OutcomePublished]) -> None:
        await self.bulk(
            "outcomes",
            [
                UpdateOne(
                    {"_id": e.data.outcome_id},
                    {
                        "$set": {
                            "campaign_id": e.subject,
                            "summary": e.data.summary.model_dump(),
                            "decisions": [d.model_dump() for d in e.data.decisions],
                            "url": e.data.url,
                            "published_at": stamp(e.time),
                        }
                    },
                    upsert=True,
                )
                for e in events
            ],
        )

    async def outcomes(self, campaign_id: str) -> list[Document]:
        cursor = self.collection("outcomes").find({"campaign_id": campaign_id})
        return await cursor.sort("published_at", DESCENDING).limit(100).to_list(None)

    # erasure and retention (kolot.intake.retention) -------------------------------------------

    async def unlink_votes(self, *, participant_ids: Sequence[str]) -> None:
        await self.collection("votes").update_many(
            {"participant_id": {"$in": list(participant_ids)}}, {"$set": {"participant_id": None}}
        )

    async def unlink_redemptions(self, *, participant_ids: Sequence[str]) -> None:
        # the claim stays (the invitation is still used up), without who used it
        await self.collection("redemptions").update_many(
            {"participant_id": {"$in": list(participant_ids)}}, {"$set": {"participant_id": None}}
        )

    async def unpurged_campaigns(self, statuses: Sequence[str]) -> list[CampaignSnapshot]:
        cursor = self.campaigns.find({"status": {"$in": list(statuses)}})
        return [_campaign(doc) async for doc in cursor if not doc.get("purged_at")]

    async def mark_purged(self, campaign_ids: Sequence[str], *, at: str) -> None:
        # only the first time: the scheduler and the projector both record it
        for campaign_id in campaign_ids:
            await self.campaigns.update_one(
                {"_id": campaign_id, "purged_at": None}, {"$set": {"purged_at": at}}
            )

    async def participants_only_of(self, campaign_id: str) -> list[str]:
        """The participants whose every link to Kolot is this campaign: registered through it or
        taking part in it, and neither registered through nor taking part in another one."""
        linked = ("comments", "votes", "responses", "memberships", "redemptions")
        candidates: set[str] = set()
        async for doc in self.collection("participants").find(
            {"campaign_id": campaign_id}, {"_id": 1}
        ):
            candidates.add(str(doc["_id"]))
        for name in linked:
            async for doc in self.collection(name).find(
                {"campaign_id": campaign_id}, {"participant_id": 1}
            ):
                if doc.get("participant_id"):
                    candidates.add(str(doc["participant_id"]))
        elsewhere: set[str] = set()
        ordered = sorted(candidates)
        for begin in range(0, len(ordered), 1000):
            chunk = ordered[begin : begin + 1000]
            async for doc in self.collection("participants").find(
                {"_id": {"$in": chunk}}, {"campaign_id": 1}
            ):
                if doc.get("campaign_id") not in (None, campaign_id):
                    elsewhere.add(str(doc["_id"]))
            for name in linked:
                async for doc in self.collection(name).find(
                    {"participant_id": {"$in": chunk}}, {"participant_id": 1, "campaign_id": 1}
                ):
                    if doc.get("campaign_id") != campaign_id:
                        elsewhere.add(str(doc["participant_id"]))
        return sorted(candidates - elsewhere)

    async def purge_contributions(self, campaign_ids: Sequence[str]) -> None:
        """Comments and votes of purged campaigns: no author, no raw text, and no text at all
        where it was never (or is no longer) public.

        Each step skips what an earlier attempt did (``purged``; a text already gone), so a
        purge redelivered while a large one is still running resumes it rather than redoing it.
        """
        of: Document = {"campaign_id": {"$in": list(campaign_ids)}}
        await self.comments.update_many(
            {**of, "purged": None},
            {"$set": {"participant_id": None, "purged": True}, "$unset": {"text": ""}},
        )
        # found with $ne, written by id: nx-27017 does not match $ne in update filters
        cursor = self.comments.find(
            {**of, "status": {"$in": list(UNPUBLISHED)}, "public_text": {"$ne": None}}, {"_id": 1}
        )
        hidden = [doc["_id"] async for doc in cursor]
        for begin in range(0, len(hidden), 1000):
            await self.comments.update_many(
                {"_id": {"$in": hidden[begin : begin + 1000]}}, {"$unset": {"public_text": ""}}
            )
        await self.collection("votes").update_many(
            {**of, "purged": None}, {"$set": {"participant_id": None, "purged": True}}
        )

    async def purge_participation(self, campaign_ids: Sequence[str]) -> None:
        """Responses unlinked; memberships and invitation claims deleted; registrations through
        the campaign no longer say so; bulk uploads keep their counts, not their row errors."""
        of = {"campaign_id": {"$in": list(campaign_ids)}}
        await self.collection("responses").update_many(of, {"$set": {"participant_id": None}})
        await self.collection("memberships").delete_many(of)
        await self.collection("redemptions").delete_many(of)
        await self.collection("participants").update_many(
            of, {"$set": {"campaign_id": None, "invitation_id": None}}
        )
        await self.collection("uploads").update_many(of, {"$set": {"errors": []}})

    @staticmethod
    async def _bulk_ignoring_stale(
        collection: AsyncCollection[Document], ops: Sequence[Any]
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


def rank(support: int, key: str) -> str:
    return f"{max(0, support + SUPPORT_OFFSET):012d}.{key}"


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
