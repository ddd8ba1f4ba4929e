"""MongoDB access to the metrics service's own collection, ``campaign_counters``."""

from __future__ import annotations

from datetime import datetime

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from kolot.common.store import Document, stamp
from kolot.metrics.counting import CampaignDelta
from kolot.metrics.models import COUNTERS_COLLECTION, CampaignCounters


class CountersRepository:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._counters = database[COUNTERS_COLLECTION]

    async def add(
        self, deltas: list[CampaignDelta], *, now: datetime, session: AsyncClientSession
    ) -> None:
        """Add a batch's deltas: one ``bulk_write`` for the whole batch, inside ``session``."""
        if not deltas:
            return
        operations: list[UpdateOne] = []
        for delta in deltas:
            selector = {"_id": delta.campaign_id}
            # Two operations per campaign, in order: the upsert makes sure the document exists,
            # then the increments land on it. nx-27017 stores the dotted paths of an upserting
            # ``$inc`` as literal field names ("comments.submitted") instead of nested documents,
            # and refuses ``$setOnInsert`` beside ``$inc``; on an existing document both servers
            # nest the paths.
            first = {"first_event_at": stamp(delta.first_event_at)}
            operations.append(UpdateOne(selector, {"$min": first}, upsert=True))
            operations.append(
                UpdateOne(
                    selector,
                    {
                        "$inc": delta.inc,
                        "$max": {
                            "last_event_at": stamp(delta.last_event_at),
                            "updated_at": stamp(now),
                        },
                    },
                )
            )
        await self._counters.bulk_write(operations, ordered=True, session=session)

    async def get(self, campaign_id: str) -> CampaignCounters | None:
        document = await self._counters.find_one({"_id": campaign_id})
        return None if document is None else CampaignCounters.model_validate(document)

    async def all(self) -> list[CampaignCounters]:
        # one document per campaign: a few hundred at most, read whole
        return [CampaignCounters.model_validate(d) async for d in self._counters.find({})]
