"""Moderation's erasure and purge against a real MongoDB-wire server: the author goes from every
collection, flags still count their distinct flaggers, decisions and the audit stay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from kolot.common.events import (
    CampaignPurged,
    CampaignPurgedData,
    ParticipantErased,
    ParticipantErasedData,
    derived_id,
)
from kolot.moderation.models import AppealRecord, CommentRecord
from kolot.moderation.repository import MongoModerationRepository
from kolot.moderation.retention import Forgetting

pytestmark = pytest.mark.integration

AT = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
async def db(service_db: Callable[..., Any]) -> Any:
    return service_db("moderation", tz_aware=True)


def comment(comment_id: str, campaign_id: str, participant_id: str, **fields: Any) -> Any:
    automatic = {"decision": "approve", "reasons": [], "scores": {}}
    return {
        "_id": comment_id,
        "campaign_id": campaign_id,
        "participant_id": participant_id,
        "status": "approved",
        "decision": "approve",
        "decided_by": "auto",
        "redacted_text": f"text of {comment_id}",
        "language": "en",
        "mode": "auto",
        "automatic": automatic,
        "submitted_at": AT,
        "created_at": AT,
        "decided_at": "2026-05-01T00:00:00.000000Z",
        "client_ref": f"ref-{participant_id}",
        **fields,
    }


async def seed(db: Any) -> None:
    await db.comments.insert_many(
        [
            comment("k1", "c", "dana"),
            comment("k2", "c", "dana", status="rejected", decision="reject"),
            comment("k3", "c", "omar", absorbed=True, cluster_id="k1"),
            comment("k4", "d", "omar"),
        ]
    )
    await db.flags.insert_many(
        [
            {"_id": derived_id("k4", "flag", who), "comment_id": "k4", "campaign_id": "d",
             "participant_id": who, "reason": "spam", "at": "2026-05-01T00:00:00.000000Z"}
            for who in ("dana", "lea", "omar")
        ]
    )  # fmt: skip
    await db.appeals.insert_one(
        {"_id": "a1", "comment_id": "k2", "campaign_id": "c", "participant_id": "dana",
         "text": "I am Dana Levi, please look again", "status": "open", "filed_at": AT}
    )  # fmt: skip
    await db.audit.insert_one(
        {"_id": "e1", "comment_id": "k2", "campaign_id": "c", "action": "human",
         "decision": "reject", "actor": "moderator-7", "at": AT}
    )  # fmt: skip
    await db.examples.insert_many(
        [
            {"_id": "k1", "language": "en", "key": "text of k1", "rejected": False, "at": "x"},
            {"_id": "k2", "language": "en", "key": "text of k2", "rejected": True, "at": "x"},
        ]
    )
    await db.clusters.insert_many(
        [
            {"_id": "k1", "campaign_id": "c", "words": ["text", "of", "k1"], "seq": 1},
            {"_id": "k4", "campaign_id": "d", "words": ["text", "of", "k4"], "seq": 1},
        ]
    )


def erased(who: str) -> ParticipantErased:
    return ParticipantErased(data=ParticipantErasedData(participant_id=who))


def purged(campaign_id: str) -> CampaignPurged:
    return CampaignPurged(
        subject=campaign_id,
        data=CampaignPurgedData(campaign_id=campaign_id, closed_at=AT, retention_days=1, due_at=AT),
    )


async def apply(forgetting: Forgetting, events: list[Any]) -> None:
    # as the three consumers do, each after its own batch
    await forgetting.in_comments(events)
    await forgetting.in_flags(events)
    await forgetting.in_appeals(events)


async def test_an_erased_author_is_in_no_collection_and_flags_still_count(db: Any) -> None:
    await seed(db)
    forgetting = Forgetting(lambda: db)
    repository = MongoModerationRepository(lambda: db)
    assert await repository.flag_tallies(["k4"]) == {"k4": (3, ["spam"])}

    await apply(forgetting, [erased("dana")])
    await apply(forgetting, [erased("dana")])  # redelivered: the same result

    for name in await db.list_collection_names():
        async for doc in db[name].find({}):
            assert "dana" not in repr(doc).lower(), (name, doc)
    # the decisions stay readable (the queue and transparency read these records)
    records = [
        CommentRecord.from_document(d)
        async for d in db.comments.find({"_id": {"$in": ["k1", "k2"]}})
    ]
    assert {(r.comment_id, r.status, r.participant_id, r.client_ref) for r in records} == {
        ("k1", "approved", "", None),
        ("k2", "rejected", "", None),
    }
    assert records[0].redacted_text == "text of k1"  # what she said stays
    appeal = AppealRecord.from_document(await db.appeals.find_one({"_id": "a1"}))
    assert (appeal.participant_id, appeal.text, appeal.status) == ("", "", "open")
    # three distinct flaggers still, though one of them is no longer known
    assert await repository.flag_tallies(["k4"]) == {"k4": (3, ["spam"])}
    assert (await db.comments.find_one({"_id": "k4"}))["participant_id"] == "omar"


async def test_a_purge_keeps_decisions_and_published_text_and_deletes_the_rest(db: Any) -> None:
    await seed(db)
    forgetting = Forgetting(lambda: db)
    await apply(forgetting, [purged("c")])

    comments = {doc["_id"]: doc async for doc in db.comments.find({})}
    for comment_id in ("k1", "k2", "k3"):
        assert comments[comment_id]["participant_id"] == ""
        assert comments[comment_id]["client_ref"] is None
    assert comments["k1"]["redacted_text"] == "text of k1"  # published: the public record
    assert comments["k2"]["redacted_text"] == ""  # rejected: never public
    assert comments["k3"]["redacted_text"] == ""  # a form letter's copy, never shown itself
    assert comments["k2"]["decision"] == "reject"  # the decision stays
    assert comments["k4"]["participant_id"] == "omar"  # another consultation
    assert [d["_id"] async for d in db.examples.find({})] == ["k1"]
    assert [d["_id"] async for d in db.clusters.find({})] == ["k4"]
    appeal = await db.appeals.find_one({"_id": "a1"})
    assert (appeal["participant_id"], appeal["text"]) == ("", "")
    audit = await db.audit.find_one({"_id": "e1"})
    assert (audit["actor"], audit["decision"]) == ("moderator-7", "reject")  # who of staff
