"""Notify's retention purge against a real MongoDB-wire server: a purged consultation's
authorship, notifications and invitation lists go; counts, opt-outs and other consultations stay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from kolot.common.events import CampaignPurged, CampaignPurgedData
from kolot.notify.retention import Retention

pytestmark = pytest.mark.integration

AT = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
async def db(service_db: Callable[..., Any]) -> Any:
    return service_db("notify")


async def test_a_purge_deletes_what_ties_people_to_the_consultation(db: Any) -> None:
    for campaign_id in ("c", "d"):
        await db.authorship.insert_one(
            {"_id": f"k-{campaign_id}", "participant_id": "p1", "campaign_id": campaign_id}
        )
        await db.notifications.insert_one(
            {"_id": f"n-{campaign_id}", "participant_id": "p1", "campaign_id": campaign_id}
        )
        await db.invitations.insert_one(
            {"_id": f"i-{campaign_id}", "campaign_id": campaign_id, "contact_sealed": "s",
             "token": f"t-{campaign_id}", "recipient_ref": "h:1"}
        )  # fmt: skip
        await db.disseminations.insert_one(
            {"_id": f"d-{campaign_id}", "campaign_id": campaign_id, "recipients": 1}
        )
    await db.suppressions.insert_one({"_id": "h:1"})
    await db.contacts.insert_one({"_id": "p1", "contact_sealed": "s", "token": "u"})

    event = CampaignPurged(
        subject="c",
        data=CampaignPurgedData(campaign_id="c", closed_at=AT, retention_days=1, due_at=AT),
    )
    await Retention(lambda: db).purge([event])
    await Retention(lambda: db).purge([event])  # redelivered: nothing more

    for name in ("authorship", "notifications", "invitations"):
        assert [d["campaign_id"] async for d in db[name].find({})] == ["d"], name
    assert await db.disseminations.count_documents({}) == 2  # counts and spend stay
    assert await db.suppressions.count_documents({}) == 1  # an opt-out outlives the campaign
    # a participant's contact is theirs, not the consultation's: it goes with their erasure
    # (intake erases those who took part in this consultation alone, before the purge)
    assert await db.contacts.count_documents({}) == 1
