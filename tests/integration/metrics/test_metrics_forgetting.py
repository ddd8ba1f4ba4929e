"""Metrics' erasure and purge against a real MongoDB-wire server: per-person state goes, the
counters stay."""

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
)
from kolot.metrics.counting import contributor_id
from kolot.metrics.retention import Forgetting

pytestmark = pytest.mark.integration

AT = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
async def db(service_db: Callable[..., Any]) -> Any:
    return service_db("metrics")


async def seed(db: Any) -> None:
    await db.participants.insert_many(
        [{"_id": p, "registered": "yes", "profile": {"region": "north"}} for p in ("p1", "p2")]
    )
    await db.contributors.insert_many(
        [
            {"_id": contributor_id(c, p), "campaign_id": c, "participant_id": p, "first_at": "x"}
            for c in ("c", "d")
            for p in ("p1", "p2")
        ]
    )
    await db.campaign_counters.insert_one({"_id": "c", "participants": 2, "took_part": 2})


async def test_an_erased_participant_leaves_no_state_and_the_counts_stay(db: Any) -> None:
    await seed(db)
    counters = await db.campaign_counters.find_one({"_id": "c"})
    event = ParticipantErased(data=ParticipantErasedData(participant_id="p1"))
    await Forgetting(lambda: db).apply([event])
    await Forgetting(lambda: db).apply([event])
    assert [d["_id"] async for d in db.participants.find({})] == ["p2"]
    assert sorted([d["participant_id"] async for d in db.contributors.find({})]) == ["p2", "p2"]
    assert await db.campaign_counters.find_one({"_id": "c"}) == counters


async def test_a_purged_campaign_keeps_its_counts_not_its_contributors(db: Any) -> None:
    await seed(db)
    counters = await db.campaign_counters.find_one({"_id": "c"})
    event = CampaignPurged(
        subject="c",
        data=CampaignPurgedData(campaign_id="c", closed_at=AT, retention_days=1, due_at=AT),
    )
    await Forgetting(lambda: db).apply([event])
    assert sorted([d["campaign_id"] async for d in db.contributors.find({})]) == ["d", "d"]
    assert await db.participants.count_documents({}) == 2  # people of other campaigns too
    assert await db.campaign_counters.find_one({"_id": "c"}) == counters
