"""Intake's erasure and purge writes against a real MongoDB-wire server: who took part in a
consultation alone, what a purge unlinks and deletes, and what it keeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kolot.intake.repository import IntakeRepository

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(service_db: Callable[..., Any]) -> Any:
    return service_db("intake")


async def seed(db: Any) -> None:
    await db.campaigns.insert_many(
        [
            {"_id": "c", "status": "closed", "title": {"en": "c"}, "closes_at": "2026-01-01"},
            {"_id": "d", "status": "open", "title": {"en": "d"}},
        ]
    )
    await db.participants.insert_many(
        [
            {"_id": "alone", "campaign_id": "c", "contact_sealed": "sealed-1"},
            {"_id": "both", "campaign_id": None},
            {"_id": "registered-elsewhere", "campaign_id": "d", "invitation_id": None},
            {"_id": "invited-here", "campaign_id": "c", "invitation_id": "i1"},
        ]
    )
    await db.comments.insert_many(
        [
            {"_id": "k1", "campaign_id": "c", "participant_id": "alone", "status": "published",
             "text": "raw 050-1234567", "public_text": "raw [phone]"},
            {"_id": "k2", "campaign_id": "c", "participant_id": "both", "status": "rejected",
             "text": "never public"},
            {"_id": "k3", "campaign_id": "c", "participant_id": "registered-elsewhere",
             "status": "hidden", "text": "was public", "public_text": "was public"},
            {"_id": "k4", "campaign_id": "d", "participant_id": "both", "status": "published",
             "text": "elsewhere", "public_text": "elsewhere"},
        ]
    )  # fmt: skip
    await db.votes.insert_many(
        [
            {"_id": "v1", "campaign_id": "c", "participant_id": "both", "target_id": "k1"},
            {"_id": "v2", "campaign_id": "d", "participant_id": "alone", "target_id": "k4"},
        ]
    )
    await db.responses.insert_one({"_id": "r1", "campaign_id": "c", "participant_id": "alone"})
    await db.memberships.insert_many(
        [
            {"_id": "m1", "campaign_id": "c", "participant_id": "invited-here", "circle": "x"},
            {"_id": "m2", "campaign_id": "d", "participant_id": "both", "circle": "y"},
        ]
    )
    await db.redemptions.insert_one(
        {"_id": "i1", "campaign_id": "c", "participant_id": "invited-here"}
    )


async def test_those_who_took_part_in_a_consultation_alone(db: Any) -> None:
    await seed(db)
    repository = IntakeRepository(lambda: db)
    # "alone" also voted in d: linked elsewhere. "both" commented in d. "registered-elsewhere"
    # came through d. "invited-here" has nothing but c.
    assert await repository.participants_only_of("c") == ["invited-here"]
    await db.votes.delete_one({"_id": "v2"})
    assert await repository.participants_only_of("c") == ["alone", "invited-here"]


async def test_a_purge_unlinks_everyone_and_keeps_only_the_public_text(db: Any) -> None:
    await seed(db)
    repository = IntakeRepository(lambda: db)
    await repository.purge_contributions(["c"])
    await repository.purge_participation(["c"])

    comments = {doc["_id"]: doc async for doc in db.comments.find({})}
    for comment_id in ("k1", "k2", "k3"):
        assert comments[comment_id]["participant_id"] is None
        assert "text" not in comments[comment_id]  # raw text: never kept after a purge
    assert comments["k1"]["public_text"] == "raw [phone]"  # the public record stays
    assert "public_text" not in comments["k3"]  # hidden: no longer public
    assert comments["k4"]["participant_id"] == "both"  # another consultation: untouched
    assert comments["k4"]["text"] == "elsewhere"

    votes = {doc["_id"]: doc["participant_id"] async for doc in db.votes.find({})}
    assert votes == {"v1": None, "v2": "alone"}
    assert (await db.responses.find_one({"_id": "r1"}))["participant_id"] is None
    assert [doc["_id"] async for doc in db.memberships.find({})] == ["m2"]
    assert await db.redemptions.count_documents({}) == 0
    registered = {doc["_id"]: doc async for doc in db.participants.find({})}
    assert registered["alone"]["campaign_id"] is None
    assert registered["invited-here"]["invitation_id"] is None
    assert registered["registered-elsewhere"]["campaign_id"] == "d"

    # idempotent: a redelivered purge changes nothing more
    await repository.purge_contributions(["c"])
    await repository.purge_participation(["c"])
    assert {doc["_id"]: doc async for doc in db.comments.find({})} == comments


async def test_a_purge_is_recorded_once_and_the_campaign_is_no_longer_a_candidate(db: Any) -> None:
    await seed(db)
    repository = IntakeRepository(lambda: db)
    assert [c.campaign_id for c in await repository.unpurged_campaigns(("closed",))] == ["c"]
    await repository.mark_purged(["c"], at="2027-01-01T00:00:00.000000Z")
    await repository.mark_purged(["c"], at="2027-02-01T00:00:00.000000Z")
    assert (await db.campaigns.find_one({"_id": "c"}))["purged_at"] == "2027-01-01T00:00:00.000000Z"
    assert await repository.unpurged_campaigns(("closed",)) == []


async def test_an_erasure_unlinks_votes_and_invitation_claims(db: Any) -> None:
    await seed(db)
    repository = IntakeRepository(lambda: db)
    await repository.unlink_votes(participant_ids=["both"])
    await repository.unlink_redemptions(participant_ids=["invited-here"])
    assert (await db.votes.find_one({"_id": "v1"}))["participant_id"] is None
    assert (await db.votes.find_one({"_id": "v2"}))["participant_id"] == "alone"
    claim = await db.redemptions.find_one({"_id": "i1"})
    assert claim["participant_id"] is None  # still used up, by no one known
