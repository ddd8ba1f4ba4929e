"""MongoDB access for notify's own collections: ``subscriptions`` and ``deliveries``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from kolot.common.store import Document
from kolot.notify.models import (
    CLAIMABLE,
    MESSAGE_STATUSES,
    Contact,
    Delivery,
    DeliveryStatus,
    Dissemination,
    Frequency,
    Invitation,
    Language,
    Subscription,
)

SUBSCRIPTIONS = "subscriptions"
DELIVERIES = "deliveries"
CONTACTS = "contacts"
AUTHORSHIP = "authorship"
NOTIFICATIONS = "notifications"
DISSEMINATIONS = "disseminations"
INVITATIONS = "invitations"
SUPPRESSIONS = "suppressions"
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
    CONTACTS: [IndexModel([("token", ASCENDING)], unique=True)],
    # comment -> its author (``_id`` is the comment), and a campaign's contributors
    AUTHORSHIP: [IndexModel([("campaign_id", ASCENDING)]), IndexModel([("participant_id", 1)])],
    NOTIFICATIONS: [
        IndexModel([("status", ASCENDING), ("due_at", ASCENDING)]),
        IndexModel([("participant_id", ASCENDING)]),
    ],
    DISSEMINATIONS: [IndexModel([("campaign_id", ASCENDING), ("created_at", ASCENDING)])],
    INVITATIONS: [
        IndexModel([("status", ASCENDING), ("due_at", ASCENDING)]),
        IndexModel([("token", ASCENDING)], unique=True),
        IndexModel([("dissemination_id", ASCENDING), ("status", ASCENDING)]),
    ],
    SUPPRESSIONS: [],
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

    async def update(
        self,
        subscription_id: str,
        changes: Document,
        *,
        owner: str | None,
        unset: Sequence[str] = (),
    ) -> Subscription | None:
        """Set ``changes`` (text times only: see docs/embedded-store.md) and remove the ``unset``
        fields; None if not found."""
        query: Document = {"_id": subscription_id}
        if owner is not None:
            query["owner"] = owner
        update: Document = {"$set": changes}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        result = await self._collection.update_one(query, update)
        if result.matched_count != 1:
            return None
        return await self.get(subscription_id, owner=owner)

    async def held_ids(self) -> list[str]:
        """Subscriptions whose deliveries wait: paused or disabled."""
        cursor = self._collection.find({"state": {"$in": ["paused", "disabled"]}}, {"_id": 1})
        return [doc["_id"] async for doc in cursor]

    async def record_success(self, subscription_id: str) -> None:
        await self._collection.update_one(
            {"_id": subscription_id, "consecutive_failures": {"$gt": 0}},
            {"$set": {"consecutive_failures": 0}},
        )

    async def record_failure(self, subscription_id: str) -> int:
        """Count a failed attempt; returns the failures in a row so far."""
        await self._collection.update_one(
            {"_id": subscription_id}, {"$inc": {"consecutive_failures": 1}}
        )
        doc = await self._collection.find_one({"_id": subscription_id})
        return 0 if doc is None else int(doc.get("consecutive_failures") or 0)

    async def disable(self, subscription_id: str, *, reason: str, at: str) -> bool:
        """Disable an active subscription; True for the one call that did (it gives notice)."""
        result = await self._collection.update_one(
            {"_id": subscription_id, "state": "active"},
            {"$set": {"state": "disabled", "state_reason": reason, "state_changed_at": at}},
        )
        return result.modified_count == 1


def _is_ours(stored: Document | None, written: Delivery) -> bool:
    if stored is None:
        return False
    return (
        stored.get("revision") == written.revision
        and stored.get("status") == written.status
        and stored.get("lease_owner") == written.lease_owner
        and stored.get("attempts") == written.attempts
        and stored.get("last_duration_ms") == written.last_duration_ms
    )


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

    async def due(self, *, now: datetime, limit: int, held: Sequence[str] = ()) -> list[Delivery]:
        """Pending deliveries that are due, and claimed ones whose lease has expired (while
        ``sending``, ``next_attempt_at`` is the lease's expiry, so one index serves both);
        none of the ``held`` subscriptions (paused or disabled)."""
        query: Document = {"status": {"$in": list(CLAIMABLE)}, "next_attempt_at": {"$lte": now}}
        if held:
            query["subscription_id"] = {"$nin": list(held)}
        cursor = self._collection.find(query).sort("next_attempt_at", ASCENDING).limit(limit)
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

    async def compare_and_set_many(
        self, changes: Sequence[tuple[Delivery, dict[str, Any]]]
    ) -> list[Delivery | None]:
        """``compare_and_set`` of many deliveries in one round trip (claims and results of
        concurrent attempts): each written only if unchanged since read; None where not."""
        if not changes:
            return []
        updated = [
            delivery.model_copy(update={**change, "revision": delivery.revision + 1})
            for delivery, change in changes
        ]
        result = await self._collection.bulk_write(
            [
                ReplaceOne({"_id": new.id, "revision": new.revision - 1}, new.to_document())
                for new in updated
            ],
            ordered=False,
        )
        if result.matched_count == len(updated):
            return list(updated)
        # some lost their race (rare: another replica's claim, a cancellation): find which by
        # reading back what is stored, and keep only ours
        stored = {
            doc["_id"]: doc
            async for doc in self._collection.find({"_id": {"$in": [u.id for u in updated]}})
        }
        return [new if _is_ours(stored.get(new.id), new) else None for new in updated]

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
        self,
        subscription_id: str,
        *,
        limit: int,
        status: DeliveryStatus | None = None,
        before: tuple[datetime, str] | None = None,
    ) -> list[Delivery]:
        """Newest first; ``before``: (created_at, id) of the last item of the previous page."""
        query: Document = {"subscription_id": subscription_id}
        if status is not None:
            query["status"] = status
        if before is not None:
            created_at, delivery_id = before
            query["$or"] = [
                {"created_at": {"$lt": created_at}},
                {"created_at": created_at, "_id": {"$lt": delivery_id}},
            ]
        cursor = (
            self._collection.find(query)
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [Delivery.from_document(doc) async for doc in cursor]


async def insert_ignoring_duplicates(
    collection: AsyncCollection[Document], documents: Sequence[Document]
) -> int:
    """Insert the documents whose ``_id`` is new; returns how many were."""
    if not documents:
        return 0
    try:
        result = await collection.insert_many(list(documents), ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        inserted: int = exc.details.get("nInserted", len(documents) - len(errors))
        return inserted
    return len(result.inserted_ids)


class ContactRepository:
    """Participants who may be told things, their sealed contact, and which comment is whose."""

    def __init__(self, database: DatabaseProvider) -> None:
        self._database = database

    @property
    def _contacts(self) -> AsyncCollection[Document]:
        return self._database()[CONTACTS]

    @property
    def _authorship(self) -> AsyncCollection[Document]:
        return self._database()[AUTHORSHIP]

    async def register(self, contacts: Sequence[Contact]) -> None:
        """Store (or refresh) contacts; the token, language and preferences of a participant
        already known are kept."""
        if not contacts:
            return
        await self._contacts.bulk_write(
            [
                UpdateOne(
                    {"_id": contact.id},
                    {
                        "$set": {
                            "contact_sealed": contact.contact_sealed,
                            "consent": contact.consent,
                            "updated_at": contact.updated_at,
                        },
                        "$setOnInsert": {
                            "token": contact.token,
                            "language": contact.language,
                            "frequency": contact.frequency,
                            "unsubscribed": False,
                        },
                    },
                    upsert=True,
                )
                for contact in contacts
            ],
            ordered=True,
        )

    async def record_authors(self, authors: Sequence[tuple[str, str, str]]) -> None:
        """(comment_id, participant_id, campaign_id) of new comments; idempotent."""
        await insert_ignoring_duplicates(
            self._authorship,
            [
                {"_id": comment, "participant_id": participant, "campaign_id": campaign}
                for comment, participant, campaign in authors
            ],
        )

    async def authors(self, comment_ids: Sequence[str]) -> dict[str, str]:
        cursor = self._authorship.find({"_id": {"$in": list(comment_ids)}})
        return {doc["_id"]: doc["participant_id"] async for doc in cursor}

    async def contributors(self, campaign_id: str) -> list[str]:
        cursor = self._authorship.find({"campaign_id": campaign_id}, {"participant_id": 1})
        return list(dict.fromkeys([doc["participant_id"] async for doc in cursor]))

    async def set_languages(self, languages: dict[str, Language]) -> None:
        if languages:
            await self._contacts.bulk_write(
                [
                    UpdateOne({"_id": participant}, {"$set": {"language": language}})
                    for participant, language in languages.items()
                ]
            )

    async def get_many(self, participant_ids: Sequence[str]) -> dict[str, Contact]:
        # in chunks: an outcome may concern every contributor of a national consultation
        ids = list(participant_ids)
        found: dict[str, Contact] = {}
        for start in range(0, len(ids), 1000):
            cursor = self._contacts.find({"_id": {"$in": ids[start : start + 1000]}})
            found.update({doc["_id"]: Contact.from_document(doc) async for doc in cursor})
        return found

    async def by_token(self, token: str) -> Contact | None:
        doc = await self._contacts.find_one({"token": token})
        return None if doc is None else Contact.from_document(doc)

    async def update_preferences(
        self, token: str, *, frequency: Frequency | None = None, unsubscribed: bool | None = None
    ) -> bool:
        changes: Document = {}
        if frequency is not None:
            changes["frequency"] = frequency
        if unsubscribed is not None:
            changes["unsubscribed"] = unsubscribed
        if not changes:
            return await self._contacts.find_one({"token": token}, {"_id": 1}) is not None
        result = await self._contacts.update_one({"token": token}, {"$set": changes})
        return result.matched_count == 1

    async def erase(self, participant_ids: Sequence[str]) -> None:
        """Everything notify knows about them: contact (sealed), authorship, notifications."""
        ids = list(participant_ids)
        await self._contacts.delete_many({"_id": {"$in": ids}})
        await self._authorship.delete_many({"participant_id": {"$in": ids}})
        await self._database()[NOTIFICATIONS].delete_many({"participant_id": {"$in": ids}})


class Outbox:
    """A collection of messages to send (notifications or invitations): due ones are claimed
    with a lease guarded by a revision counter, so two replicas never send the same one."""

    def __init__(self, database: DatabaseProvider, name: str) -> None:
        self._database = database
        self._name = name

    @property
    def collection(self) -> AsyncCollection[Document]:
        return self._database()[self._name]

    async def insert_new(self, documents: Sequence[Document]) -> int:
        return await insert_ignoring_duplicates(self.collection, documents)

    async def due(self, *, now: str, limit: int) -> list[Document]:
        """Pending messages that are due, and claimed ones whose lease has ended."""
        cursor = (
            self.collection.find(
                {"status": {"$in": ["pending", "sending"]}, "due_at": {"$lte": now}}
            )
            .sort("due_at", ASCENDING)
            .limit(limit)
        )
        return [doc async for doc in cursor]

    async def claim(self, document: Document, *, lease_until: str) -> Document | None:
        result = await self.collection.update_one(
            {"_id": document["_id"], "revision": document["revision"]},
            {
                "$set": {"status": "sending", "due_at": lease_until},
                "$inc": {"revision": 1, "attempts": 1},
            },
        )
        if result.matched_count != 1:
            return None
        return {
            **document,
            "status": "sending",
            "due_at": lease_until,
            "revision": document["revision"] + 1,
            "attempts": document["attempts"] + 1,
        }

    async def finish(self, document: Document, changes: Document) -> bool:
        """Record an attempt's result, if the claim that made it still holds."""
        result = await self.collection.update_one(
            {"_id": document["_id"], "revision": document["revision"]},
            {"$set": changes, "$inc": {"revision": 1}},
        )
        return result.matched_count == 1

    async def with_pending_event(self, *, limit: int) -> list[Document]:
        cursor = self.collection.find({"pending_event": True}).limit(limit)
        return [doc async for doc in cursor]

    async def events_published(self, ids: Sequence[str]) -> None:
        await self.collection.update_many(
            {"_id": {"$in": list(ids)}}, {"$set": {"pending_event": None}}
        )

    async def counts(self, query: Document) -> dict[str, int]:
        return {
            status: await self.collection.count_documents({**query, "status": status})
            for status in MESSAGE_STATUSES
        }


class DisseminationRepository:
    def __init__(self, database: DatabaseProvider) -> None:
        self._database = database
        self.invitations = Outbox(database, INVITATIONS)
        self.notifications = Outbox(database, NOTIFICATIONS)

    @property
    def _collection(self) -> AsyncCollection[Document]:
        return self._database()[DISSEMINATIONS]

    @property
    def _suppressions(self) -> AsyncCollection[Document]:
        return self._database()[SUPPRESSIONS]

    async def insert(self, dissemination: Dissemination) -> None:
        await self._collection.insert_one(dissemination.to_document())

    async def get(self, dissemination_id: str) -> Dissemination | None:
        doc = await self._collection.find_one({"_id": dissemination_id})
        return None if doc is None else Dissemination.from_document(doc)

    async def recent(self, campaign_id: str | None, *, limit: int) -> list[Dissemination]:
        query: Document = {} if campaign_id is None else {"campaign_id": campaign_id}
        cursor = self._collection.find(query).sort("created_at", DESCENDING).limit(limit)
        return [Dissemination.from_document(doc) async for doc in cursor]

    async def count_recipients(self, dissemination_id: str, *, added: int, refused: int) -> None:
        await self._collection.update_one(
            {"_id": dissemination_id},
            {"$inc": {"recipients": added, "refused": refused, "revision": 1}},
        )

    async def set_spend(self, dissemination_id: str, amount: float, currency: str) -> bool:
        result = await self._collection.update_one(
            {"_id": dissemination_id},
            {
                "$set": {"spend_amount": amount, "spend_currency": currency},
                "$inc": {"revision": 1},
            },
        )
        return result.matched_count == 1

    async def unannounced(self, *, limit: int) -> list[Dissemination]:
        # revision > announced: compared in Python (no $expr on nx-27017); disseminations are few
        cursor = self._collection.find({}).sort("created_at", DESCENDING).limit(limit)
        found = [Dissemination.from_document(doc) async for doc in cursor]
        return [d for d in found if d.announced < d.revision]

    async def announced(self, dissemination_id: str, revision: int) -> None:
        await self._collection.update_one(
            {"_id": dissemination_id, "announced": {"$lte": revision}},
            {"$set": {"announced": revision}},
        )

    async def invitation_by_token(self, token: str) -> Invitation | None:
        doc = await self.invitations.collection.find_one({"token": token})
        return None if doc is None else Invitation.from_document(doc)

    async def suppress(self, recipient_ref: str) -> None:
        await self._suppressions.update_one(
            {"_id": recipient_ref}, {"$set": {"_id": recipient_ref}}, upsert=True
        )

    async def suppressed(self, recipient_refs: Sequence[str]) -> set[str]:
        cursor = self._suppressions.find({"_id": {"$in": list(recipient_refs)}}, {"_id": 1})
        return {doc["_id"] async for doc in cursor}
