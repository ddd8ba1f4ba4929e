"""Erasure and retention in moderation (docs/privacy.md).

Erasure (``participant.erased``): the author is cut from their comments (and from the client
address hash that fed the burst signals), from their appeals (whose text goes: it is theirs, and
never public), and from their flags (each flag keeps a pseudonym of its own, so the distinct
flaggers of a comment still count right). Decisions, reasons, audit entries and counts stay.

Retention (``campaign.purged``): the same for everyone in the consultation, plus the text that
was never published (rejected, pending, a form letter's copies) and what was derived from it
(training examples, the form-letter clusters' word lists). Published comments keep their
redacted text; the audit log keeps which member of staff decided what.

Each part runs in the consumer that writes what it changes, after that consumer's own batch, so a
replay of the stream erases again what it re-projects. Every step is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from pymongo import DeleteOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from kolot.common.bus import BatchHandler, ConsumerSpec, Streams, also_reading
from kolot.common.events import CampaignPurged, Event, ParticipantErased
from kolot.common.store import Document
from kolot.moderation.handlers import APPEALS_CONSUMER, COMMENTS_CONSUMER, FLAGS_CONSUMER
from kolot.moderation.models import APPEALS, CLUSTERS, COMMENTS, EXAMPLES, FLAGS

ERASED = ""
"""The author of an erased participant's comments and appeals (the models need a string)."""
FORGETTING_TYPES = frozenset({ParticipantErased.event_type(), CampaignPurged.event_type()})


def flag_pseudonym(flag_id: str) -> str:
    """Stands for the flagger: one per flag document, so distinct flaggers still count."""
    return f"erased:{flag_id}"


def erased_ids(events: Iterable[Event]) -> list[str]:
    return [e.data.participant_id for e in events if isinstance(e, ParticipantErased)]


def purged_ids(events: Iterable[Event]) -> list[str]:
    return [e.subject for e in events if isinstance(e, CampaignPurged)]


class Forgetting:
    """Erasure and purge of moderation's own collections, one method per consumer."""

    def __init__(self, database: Callable[[], AsyncDatabase[Document]]) -> None:
        self._database = database

    async def in_comments(self, events: Sequence[Event]) -> None:
        db = self._database()
        if erased := erased_ids(events):
            await db[COMMENTS].update_many(
                {"participant_id": {"$in": erased}},
                {"$set": {"participant_id": ERASED, "client_ref": None, "author_erased": True}},
            )
        if purged := purged_ids(events):
            of: Document = {"campaign_id": {"$in": purged}}
            # skips what an earlier attempt did, so a redelivered purge resumes a large one
            await db[COMMENTS].update_many(
                {**of, "purged": None},
                {"$set": {"participant_id": ERASED, "client_ref": None, "purged": True}},
            )
            # what was never published: its text, and the examples and clusters made from it
            # (found with $ne and written by id: nx-27017 does not match $ne in update filters)
            unpublished: list[str] = []
            never_public: list[Document] = [
                {**of, "status": {"$in": ["pending", "rejected"]}},
                {**of, "absorbed": True},
            ]
            async for doc in db[COMMENTS].find(
                {"$or": never_public, "redacted_text": {"$ne": ""}}, {"_id": 1}
            ):
                unpublished.append(str(doc["_id"]))
            for begin in range(0, len(unpublished), 1000):
                chunk = unpublished[begin : begin + 1000]
                await db[EXAMPLES].delete_many({"_id": {"$in": chunk}})
                await db[COMMENTS].update_many(
                    {"_id": {"$in": chunk}}, {"$set": {"redacted_text": ""}}
                )
            await db[CLUSTERS].delete_many(of)

    async def in_flags(self, events: Sequence[Event]) -> None:
        queries: list[Document] = []
        if erased := erased_ids(events):
            queries.append({"participant_id": {"$in": erased}})
        if purged := purged_ids(events):
            queries.append({"campaign_id": {"$in": purged}})
        flags = self._database()[FLAGS]
        for query in queries:
            ops: list[UpdateOne | DeleteOne] = []
            async for doc in flags.find(query, {"_id": 1, "participant_id": 1}):
                pseudonym = flag_pseudonym(str(doc["_id"]))
                if doc.get("participant_id") != pseudonym:
                    ops.append(
                        UpdateOne({"_id": doc["_id"]}, {"$set": {"participant_id": pseudonym}})
                    )
            for begin in range(0, len(ops), 1000):
                await flags.bulk_write(ops[begin : begin + 1000], ordered=False)

    async def in_appeals(self, events: Sequence[Event]) -> None:
        appeals = self._database()[APPEALS]
        unlinked = {"$set": {"participant_id": ERASED, "text": ""}}
        if erased := erased_ids(events):
            await appeals.update_many({"participant_id": {"$in": erased}}, unlinked)
        if purged := purged_ids(events):
            await appeals.update_many({"campaign_id": {"$in": purged}}, unlinked)


def forgetting(
    specs: Iterable[ConsumerSpec], streams: Streams, forget: Forgetting
) -> list[ConsumerSpec]:
    """The consumers, those that store people's ids also reading erasures and purges."""
    parts: dict[str, BatchHandler] = {
        COMMENTS_CONSUMER: forget.in_comments,
        FLAGS_CONSUMER: forget.in_flags,
        APPEALS_CONSUMER: forget.in_appeals,
    }
    subjects = [
        streams.events_subject("participant", "erased"),
        streams.events_subject("campaign", "purged"),
    ]
    return [
        also_reading(spec, subjects, FORGETTING_TYPES, parts[spec.name])
        if spec.name in parts
        else spec
        for spec in specs
    ]
