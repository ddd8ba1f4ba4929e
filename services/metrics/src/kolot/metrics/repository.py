"""MongoDB access to the metrics database: read the states a batch touches, write its plan."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from kolot.common.store import Document, stamp
from kolot.metrics.counting import Needs, Plan, States
from kolot.metrics.models import (
    CAMPAIGNS_COLLECTION,
    CLUSTERS_COLLECTION,
    COMMENTS_COLLECTION,
    CONTRIBUTORS_COLLECTION,
    COUNTERS_COLLECTION,
    DISSEMINATIONS_COLLECTION,
    HOURS_COLLECTION,
    PARTICIPANTS_COLLECTION,
    CampaignCounters,
    CampaignState,
    ClusterState,
    CommentState,
    ContributorState,
    DisseminationState,
    ParticipantState,
)

Session = AsyncClientSession | None

MAX_PATHS_PER_UPDATE = 48


class MetricsRepository:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._db = database
        self._counters = database[COUNTERS_COLLECTION]
        self._hours = database[HOURS_COLLECTION]
        self._campaigns = database[CAMPAIGNS_COLLECTION]
        self._comments = database[COMMENTS_COLLECTION]
        self._participants = database[PARTICIPANTS_COLLECTION]
        self._contributors = database[CONTRIBUTORS_COLLECTION]
        self._disseminations = database[DISSEMINATIONS_COLLECTION]
        self._clusters = database[CLUSTERS_COLLECTION]

    # ---- the events consumer ----------------------------------------------------------------
    async def load(self, wanted: Needs, *, session: AsyncClientSession) -> States:
        """The states a batch touches: one query per kind of state."""

        async def by_id(
            collection: AsyncCollection[Document], ids: frozenset[str]
        ) -> list[Document]:
            if not ids:
                return []
            return [
                d async for d in collection.find({"_id": {"$in": sorted(ids)}}, session=session)
            ]

        states = States()
        for doc in await by_id(self._comments, wanted.comments):
            states.comments[doc["_id"]] = CommentState.from_document(doc)
        for doc in await by_id(self._participants, wanted.participants):
            states.participants[doc["_id"]] = ParticipantState.from_document(doc)
        for doc in await by_id(self._contributors, wanted.contributors):
            states.contributors[doc["_id"]] = ContributorState.from_document(doc)
        # a registration counts the participant in every campaign they already contributed to
        if wanted.participants:
            query = {"participant_id": {"$in": sorted(wanted.participants)}}
            async for doc in self._contributors.find(query, session=session):
                states.contributors[doc["_id"]] = ContributorState.from_document(doc)
        for doc in await by_id(self._disseminations, wanted.disseminations):
            states.disseminations[doc["_id"]] = DisseminationState.from_document(doc)
        for doc in await by_id(self._clusters, wanted.clusters):
            states.clusters[doc["_id"]] = ClusterState.from_document(doc)
        for doc in await by_id(self._campaigns, wanted.campaigns):
            states.campaigns[doc["_id"]] = CampaignState.from_document(doc)
        return states

    async def write(self, plan: Plan, *, now: datetime, session: AsyncClientSession) -> None:
        """Write a batch's plan: one ``bulk_write`` per collection it changes, in ``session``.

        The counters go last: nx-27017 does not isolate a transaction from readers, and a reader
        that sees a batch's events counted should find the states they changed.
        """
        hours = [
            # flat field names: an upserting $inc on them is safe on both servers, and the
            # equality fields of the filter are copied into an inserted document
            UpdateOne(
                {"_id": f"{campaign_id}|{hour}", "campaign_id": campaign_id, "hour": hour},
                {"$inc": inc},
                upsert=True,
            )
            for (campaign_id, hour), inc in plan.hours.items()
            if any(inc.values())
        ]
        await self._bulk(self._hours, hours, session)
        await self._replace(self._comments, plan.comments, session)
        await self._replace(self._participants, plan.participants, session)
        await self._replace(self._contributors, plan.contributors, session)
        await self._replace(self._disseminations, plan.disseminations, session)
        await self._replace(self._clusters, plan.clusters, session)
        await self._replace(self._campaigns, plan.campaigns, session)

        counters: list[UpdateOne] = []
        for delta in plan.deltas.values():
            selector = {"_id": delta.campaign_id}
            # Upsert first, then increment: nx-27017 stores the dotted paths of an upserting
            # ``$inc`` as literal field names ("comments.submitted") instead of nested documents,
            # and refuses ``$setOnInsert`` beside ``$inc``; on an existing document both servers
            # nest the paths. The upsert names flat fields only (one operation per campaign and
            # batch besides the increments: each costs nx-27017 a rewrite of the document).
            counters.append(
                UpdateOne(
                    selector,
                    {
                        "$min": {"first_event_at": stamp(delta.first_event_at)},
                        "$max": {
                            "last_event_at": stamp(delta.last_event_at),
                            "updated_at": stamp(now),
                            "largest_cluster": delta.largest_cluster,
                        },
                    },
                    upsert=True,
                )
            )
            # nx-27017 writes literal dotted field names when one update names more than 63
            # paths, so a batch's increments go in slices
            paths = sorted(delta.inc.items())
            for start in range(0, len(paths), MAX_PATHS_PER_UPDATE):
                chunk = dict(paths[start : start + MAX_PATHS_PER_UPDATE])
                counters.append(UpdateOne(selector, {"$inc": chunk}))
        await self._bulk(self._counters, counters, session)

    async def _replace(
        self, collection: AsyncCollection[Document], states: dict[str, Any], session: Session
    ) -> None:
        # the replacement names its _id: nx-27017 gives an upserted replacement a new ObjectId
        # instead of the filter's _id
        operations = [
            ReplaceOne({"_id": doc_id}, {"_id": doc_id, **state.to_document()}, upsert=True)
            for doc_id, state in states.items()
        ]
        await self._bulk(collection, operations, session)

    @staticmethod
    async def _bulk(
        collection: AsyncCollection[Document], operations: list[Any], session: Session
    ) -> None:
        if operations:
            await collection.bulk_write(operations, ordered=True, session=session)

    # ---- reads ------------------------------------------------------------------------------
    async def counters(self, campaign_id: str) -> CampaignCounters | None:
        document = await self._counters.find_one({"_id": campaign_id})
        return None if document is None else CampaignCounters.model_validate(document)

    async def all_counters(self) -> list[CampaignCounters]:
        # one document per campaign: a few hundred at most, read whole
        return [CampaignCounters.model_validate(d) async for d in self._counters.find({})]

    async def campaign(self, campaign_id: str) -> CampaignState | None:
        document = await self._campaigns.find_one({"_id": campaign_id})
        return None if document is None else CampaignState.from_document(document)

    async def campaigns(self) -> dict[str, CampaignState]:
        return {d["_id"]: CampaignState.from_document(d) async for d in self._campaigns.find({})}

    async def disseminations(self, campaign_id: str) -> list[DisseminationState]:
        cursor = self._disseminations.find({"campaign_id": campaign_id}).sort("_id", 1)
        return [DisseminationState.from_document(d) async for d in cursor]

    async def all_disseminations(self) -> list[DisseminationState]:
        return [DisseminationState.from_document(d) async for d in self._disseminations.find({})]

    async def hours(self, campaign_id: str) -> list[Document]:
        cursor = self._hours.find({"campaign_id": campaign_id}).sort("hour", 1)
        return [d async for d in cursor]

    async def top_clusters(self, campaign_id: str, limit: int) -> list[ClusterState]:
        cursor = (
            self._clusters.find({"campaign_id": campaign_id, "size": {"$gt": 1}})
            .sort([("size", -1), ("_id", 1)])
            .limit(limit)
        )
        return [ClusterState.from_document(d) async for d in cursor]

    async def held(self, campaign_ids: Iterable[str] | None = None) -> dict[str, tuple[int, str]]:
        """Comments waiting for a person, per campaign: (how many, since when the oldest).

        One grouping, which nx-27017 runs in SQL over the (status, campaign_id, held_since) index
        (3 ms for 8,500 held comments, against 190 ms to read them: a national consultation holds
        tens of thousands, and /metrics asks every few seconds)."""
        match: dict[str, Any] = {"status": "held"}
        if campaign_ids is not None:
            wanted = sorted(campaign_ids)
            # one campaign (the API's case) as an equality: nx-27017 reads documents for $in
            match["campaign_id"] = wanted[0] if len(wanted) == 1 else {"$in": wanted}
        pipeline: list[dict[str, Any]] = [
            {"$match": match},
            {
                "$group": {
                    "_id": "$campaign_id",
                    "n": {"$sum": 1},
                    "oldest": {"$min": "$held_since"},
                }
            },
        ]
        return {
            doc["_id"]: (int(doc["n"]), doc.get("oldest") or "")
            async for doc in await self._comments.aggregate(pipeline)
        }
