"""MongoDB access for moderation's own collections (see ``models``).

Every write that a consumer makes for a batch is one ``bulk_write``, ``insert_many`` or
``update_many``; each is idempotent, so a redelivered batch changes nothing it already changed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from kolot.common.events import Decision
from kolot.common.store import Document, stamp
from kolot.moderation.learning import Example
from kolot.moderation.models import (
    ALERTS,
    APPEALS,
    AUDIT,
    CAMPAIGNS,
    CLUSTERS,
    COMMENTS,
    EXAMPLES,
    FLAGS,
    AppealOutcome,
    AppealRecord,
    AppealStatus,
    AuditEntry,
    CampaignPolicy,
    CommentRecord,
    CommentStatus,
)
from kolot.moderation.surge import Counts, SurgeKind

DUPLICATE_KEY = 11000

INDEXES: dict[str, list[IndexModel]] = {
    COMMENTS: [
        # the queue: pending items, riskiest then oldest first, over all campaigns or one
        IndexModel([("status", ASCENDING), ("risk", DESCENDING), ("submitted_at", ASCENDING)]),
        IndexModel(
            [
                ("campaign_id", ASCENDING),
                ("status", ASCENDING),
                ("risk", DESCENDING),
                ("submitted_at", ASCENDING),
            ]
        ),
        # a cluster's members, and how many of them have a status (counted in SQL by nx-27017)
        IndexModel([("cluster_id", ASCENDING), ("status", ASCENDING)]),
        # the surge windows (on the stamp: nx-27017's pipelines compare BSON dates wrongly)
        IndexModel([("campaign_id", ASCENDING), ("submitted_stamp", ASCENDING)]),
        # (participant, time): a participant's comments (erasure). Velocity is counted in memory,
        # so (client_ref, time) is no longer kept: an index costs every insert
        IndexModel([("participant_id", ASCENDING), ("submitted_at", ASCENDING)]),
    ],
    CAMPAIGNS: [],
    FLAGS: [
        IndexModel([("comment_id", ASCENDING)]),
        IndexModel([("campaign_id", ASCENDING), ("at", ASCENDING)]),
    ],
    APPEALS: [IndexModel([("status", ASCENDING), ("filed_at", ASCENDING)])],
    AUDIT: [
        IndexModel([("comment_id", ASCENDING), ("at", ASCENDING)]),
        IndexModel([("campaign_id", ASCENDING), ("at", DESCENDING)]),
    ],
    CLUSTERS: [IndexModel([("campaign_id", ASCENDING), ("seq", ASCENDING)])],
    ALERTS: [IndexModel([("campaign_id", ASCENDING)]), IndexModel([("state", ASCENDING)])],
    EXAMPLES: [IndexModel([("at", DESCENDING)])],
}


RETIRED_INDEXES: dict[str, list[IndexModel]] = {
    # (cluster_id, status) serves everything it did, and counts members in SQL
    COMMENTS: [IndexModel([("cluster_id", ASCENDING)])],
}


class QueueFilter(BaseModel):
    """What a moderator narrows the queue to (all optional)."""

    model_config = ConfigDict(frozen=True)

    campaign_id: str | None = None
    language: str | None = None
    reason: str | None = None
    cluster_id: str | None = None
    flagged: bool | None = None
    min_risk: float | None = None


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
        inserted = await _insert_new(self._comments, [r.to_document() for r in records])
        return {records[index].comment_id for index in inserted}

    async def get(self, comment_id: str) -> CommentRecord | None:
        document = await self._comments.find_one({"_id": comment_id})
        return None if document is None else CommentRecord.from_document(document)

    async def get_many(self, comment_ids: Collection[str]) -> dict[str, CommentRecord]:
        if not comment_ids:
            return {}
        cursor = self._comments.find({"_id": {"$in": list(comment_ids)}})
        return {doc["_id"]: CommentRecord.from_document(doc) async for doc in cursor}

    async def pending(self, queue: QueueFilter, *, limit: int) -> list[CommentRecord]:
        query: Document = {"status": "pending"}
        if queue.campaign_id is not None:
            query["campaign_id"] = queue.campaign_id
        if queue.language is not None:
            query["language"] = queue.language
        if queue.reason is not None:
            query["reasons"] = queue.reason
        if queue.cluster_id is not None:
            query["cluster_id"] = queue.cluster_id
        if queue.flagged is not None:
            query["hidden_by_flags"] = queue.flagged
        if queue.min_risk is not None:
            query["risk"] = {"$gte": queue.min_risk}
        cursor = (
            self._comments.find(query)
            .sort([("risk", DESCENDING), ("submitted_at", ASCENDING), ("_id", ASCENDING)])
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
                "$set": _decided_by_person(
                    current, decision, status, statement, reasons, moderator, at
                )
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if document is None else CommentRecord.from_document(document)

    async def overturn(
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
        """An appeal's decision, applied only if the comment is still as ``current`` (else None)."""
        document = await self._comments.find_one_and_update(
            {
                "_id": current.comment_id,
                "status": current.status,
                "decided_at": stamp(current.decided_at),
            },
            {
                "$set": {
                    **_decided_by_person(
                        current, decision, status, statement, reasons, moderator, at
                    ),
                    "hidden_by_flags": False,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if document is None else CommentRecord.from_document(document)

    # flags

    async def add_flags(self, flags: Sequence[Document]) -> None:
        """One document per (comment, participant): a participant's second flag changes nothing."""
        if flags:
            await self._flags().bulk_write(
                [UpdateOne({"_id": f["_id"]}, {"$setOnInsert": f}, upsert=True) for f in flags],
                ordered=False,
            )

    async def flag_tallies(self, comment_ids: Collection[str]) -> dict[str, tuple[int, list[str]]]:
        """Per comment: how many distinct participants flagged it, and their reasons."""
        tallies: dict[str, tuple[set[str], dict[str, None]]] = {}
        cursor = self._flags().find(
            {"comment_id": {"$in": list(comment_ids)}},
            {"comment_id": 1, "participant_id": 1, "reason": 1},
        )
        async for doc in cursor:
            who, reasons = tallies.setdefault(doc["comment_id"], (set(), {}))
            who.add(doc["participant_id"])
            reasons[doc["reason"]] = None
        return {c: (len(who), list(reasons)) for c, (who, reasons) in tallies.items()}

    async def set_flags(self, tallies: dict[str, tuple[int, list[str]]]) -> None:
        if tallies:
            await self._comments.bulk_write(
                [
                    UpdateOne({"_id": c}, {"$set": {"flags": n, "flag_reasons": reasons}})
                    for c, (n, reasons) in tallies.items()
                ],
                ordered=False,
            )

    async def hide_by_flags(self, comment_id: str, *, risk: float) -> CommentRecord | None:
        """Hide a comment the machine published; None if a person decided or it is not public."""
        document = await self._comments.find_one_and_update(
            {"_id": comment_id, "status": "approved", "decided_by": "auto"},
            {
                "$set": {
                    "status": "pending",
                    "hidden_by_flags": True,
                    "previous_status": "approved",
                    "risk": risk,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if document is None else CommentRecord.from_document(document)

    # appeals

    async def add_appeals(self, appeals: Sequence[AppealRecord]) -> set[str]:
        if not appeals:
            return set()
        result = await self._appeals().bulk_write(
            [
                UpdateOne({"_id": a.appeal_id}, {"$setOnInsert": a.to_document()}, upsert=True)
                for a in appeals
            ],
            ordered=False,
        )
        return {appeals[index].appeal_id for index in result.upserted_ids or {}}

    async def get_appeal(self, appeal_id: str) -> AppealRecord | None:
        document = await self._appeals().find_one({"_id": appeal_id})
        return None if document is None else AppealRecord.from_document(document)

    async def appeals(
        self,
        *,
        status: AppealStatus | None,
        campaign_id: str | None,
        not_for: str | None,
        limit: int,
    ) -> list[AppealRecord]:
        query: Document = {}
        if status is not None:
            query["status"] = status
        if campaign_id is not None:
            query["campaign_id"] = campaign_id
        cursor = self._appeals().find(query).sort([("filed_at", ASCENDING), ("_id", ASCENDING)])
        found: list[AppealRecord] = []
        async for doc in cursor:
            appeal = AppealRecord.from_document(doc)
            # filtered here: nx-27017 does not match $ne reliably
            if not_for is None or appeal.excluded_moderator != not_for:
                found.append(appeal)
            if len(found) >= limit:
                break
        return found

    async def decide_appeal(
        self,
        appeal: AppealRecord,
        *,
        outcome: AppealOutcome,
        statement: str,
        moderator: str,
        at: datetime,
    ) -> AppealRecord | None:
        document = await self._appeals().find_one_and_update(
            {"_id": appeal.appeal_id, "status": "open"},
            {
                "$set": {
                    "status": "decided",
                    "outcome": outcome,
                    "statement": statement,
                    "moderator": moderator,
                    "decided_at": stamp(at),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return None if document is None else AppealRecord.from_document(document)

    # audit

    async def audited(self, entry_ids: Collection[str]) -> set[str]:
        """Which of these audit entries exist."""
        if not entry_ids:
            return set()
        cursor = self._audit().find({"_id": {"$in": list(entry_ids)}}, {"_id": 1})
        return {doc["_id"] async for doc in cursor}

    async def add_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Entries are never rewritten: one already there (a redelivery) is left alone."""
        await _insert_new(self._audit(), [e.to_document() for e in entries])

    async def audit(
        self,
        *,
        campaign_id: str | None,
        comment_id: str | None,
        actor: str | None,
        limit: int,
    ) -> list[AuditEntry]:
        query: Document = {}
        if campaign_id is not None:
            query["campaign_id"] = campaign_id
        if comment_id is not None:
            query["comment_id"] = comment_id
        if actor is not None:
            query["actor"] = actor
        cursor = self._audit().find(query).sort([("at", DESCENDING), ("_id", ASCENDING)])
        return [AuditEntry.from_document(doc) async for doc in cursor.limit(limit)]

    # clusters

    async def clusters(self, campaign_id: str, *, after: int, limit: int) -> list[Document]:
        """The campaign's latest ``limit`` clusters created after sequence number ``after``, in
        creation order (a process indexes a bounded number: it reads no more after a restart)."""
        cursor = self._clusters().find({"campaign_id": campaign_id, "seq": {"$gt": after}})
        latest = [doc async for doc in cursor.sort([("seq", DESCENDING)]).limit(limit)]
        return latest[::-1]

    async def add_clusters(self, clusters: Sequence[Document]) -> None:
        if clusters:
            await self._clusters().bulk_write(
                [UpdateOne({"_id": c["_id"]}, {"$setOnInsert": c}, upsert=True) for c in clusters],
                ordered=False,
            )

    async def cluster_sizes(self, cluster_ids: Collection[str]) -> dict[str, int]:
        """Approved members per cluster, counted by the server (a form letter may have hundreds
        of thousands of copies: they are not sent over the wire to be counted)."""
        return await self._count_members(cluster_ids, status="approved")

    async def _count_members(
        self, cluster_ids: Collection[str], *, status: str | None = None
    ) -> dict[str, int]:
        """Members per cluster (of one status), one grouping per cluster on the
        (cluster_id, status) index: nx-27017 runs an equality match in SQL over the index, but
        reads every member's document for ``$in`` (2 vs 18 µs per member, measured)."""
        found = dict.fromkeys(cluster_ids, 0)
        for cluster_id in found:
            match: Document = {"cluster_id": cluster_id}
            if status is not None:
                match["status"] = status
            found[cluster_id] = await _count(self._comments, match)
        return found

    async def campaign_clusters(self, campaign_id: str, *, limit: int) -> list[tuple[str, int]]:
        """The campaign's clusters with copies, largest first: (cluster id, published size)."""
        sizes: dict[str, int] = {}
        cursor = self._comments.find(
            {"campaign_id": campaign_id, "absorbed": True}, {"cluster_id": 1}
        )
        async for doc in cursor:
            sizes[doc["cluster_id"]] = sizes.get(doc["cluster_id"], 0) + 1
        # the representative is the first of each cluster's members
        ranked = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [(cluster_id, copies + 1) for cluster_id, copies in ranked]

    # transparency

    async def campaign_comments(self, campaign_id: str) -> list[Document]:
        projection = {
            "status": 1,
            "decided_by": 1,
            "reasons": 1,
            "automatic": 1,
            "submitted_at": 1,
            "decided_at": 1,
            "hidden_by_flags": 1,
            "language": 1,
            "absorbed": 1,
        }
        cursor = self._comments.find({"campaign_id": campaign_id}, projection)
        return [doc async for doc in cursor]

    async def campaign_appeals(self, campaign_id: str) -> list[AppealRecord]:
        cursor = self._appeals().find({"campaign_id": campaign_id})
        return [AppealRecord.from_document(doc) async for doc in cursor]

    # moderators' decisions as training examples

    async def add_examples(self, examples: Sequence[Document]) -> None:
        """Upsert by comment: a later decision on a comment (an appeal) replaces its label."""
        if examples:
            await self._database()[EXAMPLES].bulk_write(
                [UpdateOne({"_id": e["_id"]}, {"$set": e}, upsert=True) for e in examples],
                ordered=False,
            )

    async def examples(self) -> list[Example]:
        cursor = self._database()[EXAMPLES].find({}, {"language": 1, "key": 1, "rejected": 1})
        return [Example(d["language"], d["key"], bool(d["rejected"])) async for d in cursor]

    async def examples_version(self) -> str:
        # labels can change without the count changing; the stamp of the latest one catches it
        collection = self._database()[EXAMPLES]
        latest = await collection.find_one({}, {"at": 1}, sort=[("at", DESCENDING)])
        count = await collection.count_documents({})
        return f"{count}:{latest['at'] if latest else ''}"

    # surges

    async def surge_counts(
        self, campaign_id: str, *, now: datetime, window: timedelta, baseline: timedelta
    ) -> dict[SurgeKind, Counts]:
        """Submissions, automatic rejections and flags in the window and in the baseline before.

        Counted with ``$match`` + ``$count`` pipelines: nx-27017 runs them in SQL, where
        ``count_documents`` reads every matching document (seconds at national scale). Times are
        compared as stamps: nx-27017's pipelines compare BSON dates wrongly. ``$lt`` is fine in
        reads (only update filters mishandle it).
        """
        start, before = now - window, now - window - baseline
        recent: Document = {"$gte": stamp(start)}
        earlier: Document = {"$gte": stamp(before), "$lt": stamp(start)}
        rejected = {"status": "rejected", "decided_by": "auto"}
        counts: dict[SurgeKind, Counts] = {}
        comments = self._comments
        for kind, extra in (("submission_surge", {}), ("abuse_surge", rejected)):
            counts[kind] = Counts(  # type: ignore[index]
                window=await _count(
                    comments, {"campaign_id": campaign_id, "submitted_stamp": recent, **extra}
                ),
                before=await _count(
                    comments, {"campaign_id": campaign_id, "submitted_stamp": earlier, **extra}
                ),
            )
        flags = self._flags()
        counts["flag_surge"] = Counts(
            window=await _count(flags, {"campaign_id": campaign_id, "at": {"$gte": stamp(start)}}),
            before=await _count(
                flags,
                {"campaign_id": campaign_id, "at": {"$gte": stamp(before), "$lt": stamp(start)}},
            ),
        )
        return counts

    async def alerts(self, campaign_id: str) -> dict[str, Document]:
        cursor = self._database()[ALERTS].find({"campaign_id": campaign_id})
        return {doc["kind"]: doc async for doc in cursor}

    async def active_alerts(self, *, campaign_id: str | None, limit: int) -> list[Document]:
        """Alerts raised and not yet cleared, newest first (the moderators' console shows them)."""
        query: Document = {"state": "raised"}
        if campaign_id is not None:
            query["campaign_id"] = campaign_id
        cursor = self._database()[ALERTS].find(query).sort([("at", DESCENDING)]).limit(limit)
        return await cursor.to_list(None)

    async def cluster_counts(self, cluster_ids: Collection[str]) -> dict[str, tuple[int, int]]:
        """Per cluster: (every comment in it, those still waiting for a person), counted by the
        server like ``cluster_sizes``."""
        total = await self._count_members(cluster_ids)
        pending = await self._count_members(cluster_ids, status="pending")
        return {cluster_id: (total[cluster_id], pending[cluster_id]) for cluster_id in total}

    async def raised_alert_campaigns(self) -> set[str]:
        cursor = self._database()[ALERTS].find({"state": "raised"}, {"campaign_id": 1})
        return {doc["campaign_id"] async for doc in cursor}

    async def save_alert(self, document: Document, *, revision: int) -> bool:
        """Store an alert's new state if nobody changed it since ``revision`` (0: never seen)."""
        alerts = self._database()[ALERTS]
        new = {**document, "revision": revision + 1}
        if revision == 0:
            result = await alerts.update_one(
                {"_id": document["_id"]}, {"$setOnInsert": new}, upsert=True
            )
            return result.upserted_id is not None
        result = await alerts.update_one(
            {"_id": document["_id"], "revision": revision}, {"$set": new}
        )
        return result.modified_count == 1

    def _flags(self) -> AsyncCollection[Document]:
        return self._database()[FLAGS]

    def _appeals(self) -> AsyncCollection[Document]:
        return self._database()[APPEALS]

    def _audit(self) -> AsyncCollection[Document]:
        return self._database()[AUDIT]

    def _clusters(self) -> AsyncCollection[Document]:
        return self._database()[CLUSTERS]


async def _insert_new(
    collection: AsyncCollection[Document], documents: Sequence[Document]
) -> set[int]:
    """Insert the documents whose ``_id`` is not taken yet (one unordered ``insert_many``; a
    taken ``_id`` is a redelivery, left alone); returns the positions inserted. An insert costs
    nx-27017 some 12% less than the upsert it replaces."""
    if not documents:
        return set()
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if error.details.get("writeConcernErrors") or any(
            e.get("code") != DUPLICATE_KEY for e in errors
        ):
            raise
        taken = {int(e["index"]) for e in errors}
        return {index for index in range(len(documents)) if index not in taken}
    return set(range(len(documents)))


async def _count(collection: AsyncCollection[Document], query: Document) -> int:
    """``count_documents`` as a pipeline (run by nx-27017 in SQL, not document by document)."""
    cursor = await collection.aggregate([{"$match": query}, {"$count": "n"}])
    found = await cursor.to_list(1)
    return int(found[0]["n"]) if found else 0


def _decided_by_person(
    current: CommentRecord,
    decision: Decision,
    status: CommentStatus,
    statement: str,
    reasons: list[str],
    moderator: str,
    at: datetime,
) -> dict[str, Any]:
    """The fields a person's decision (a moderator's, or an appeal's) sets on a comment."""
    return {
        "decision": decision,
        "status": status,
        "decided_by": "human",
        "statement": statement,
        "reasons": reasons,
        "moderator": moderator,
        "decided_at": stamp(at),
        "previous_status": current.status,
    }
