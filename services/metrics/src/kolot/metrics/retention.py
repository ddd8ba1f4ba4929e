"""Erasure and retention in metrics (docs/privacy.md).

The counters never hold a person: they stay as they are. What does is the per-participant state
the counting keeps to count each person once: ``participants`` (first-touch source and declared
profile, ``_id`` = the participant id) and ``contributors`` (one per campaign and participant).
On ``participant.erased`` both go for that participant; on ``campaign.purged`` the campaign's
contributors go (participants who took part in that consultation alone are erased by intake just
before the purge, so their ``participants`` state goes with their erasure).

Runs in the consumer that counts, after the batch is counted, so the batch's own writes of that
state are deleted too, and a replay deletes again what it re-creates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pymongo.asynchronous.database import AsyncDatabase

from kolot.common.bus import ConsumerSpec, also_reading
from kolot.common.events import CampaignPurged, Event, ParticipantErased
from kolot.common.store import Document
from kolot.metrics.models import CONTRIBUTORS_COLLECTION, PARTICIPANTS_COLLECTION


class Forgetting:
    def __init__(self, database: Callable[[], AsyncDatabase[Document]]) -> None:
        self._database = database

    async def apply(self, events: Sequence[Event]) -> None:
        erased = [e.data.participant_id for e in events if isinstance(e, ParticipantErased)]
        purged = [e.subject for e in events if isinstance(e, CampaignPurged)]
        if not erased and not purged:
            return
        db = self._database()
        if erased:
            await db[PARTICIPANTS_COLLECTION].delete_many({"_id": {"$in": erased}})
            await db[CONTRIBUTORS_COLLECTION].delete_many({"participant_id": {"$in": erased}})
        if purged:
            await db[CONTRIBUTORS_COLLECTION].delete_many({"campaign_id": {"$in": purged}})


def forgetting(spec: ConsumerSpec, forget: Forgetting) -> ConsumerSpec:
    """The counting consumer (it reads every event already), applying ``forget`` after it."""
    types = {ParticipantErased.event_type(), CampaignPurged.event_type()}
    return also_reading(spec, [], types, forget.apply)
