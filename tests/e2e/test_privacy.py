"""Privacy end to end (docs/privacy.md): a participant's erasure and a consultation's retention
purge reach every service's database, while what was said stays counted.

Proof by scanning: after each, every document of every collection of the four services'
databases is read and searched for the person's participant id and contact details.

The retention purge runs through intake's own scheduler: the consultation's closing time is set
in the past by an admin (as a backdated closing would be) with ``retention_days: 1``, so the
purge is due at once; nothing is published by hand. The scheduler's arithmetic over time is
unit-tested with a clock (tests/unit/intake/test_intake_retention.py).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from kolot.devstack import ServiceGroup
from tests.conftest import staff_headers
from tests.e2e.conftest import json_of
from tests.e2e.stack import QUICK_ENV, SERVICES, eventually, service_group
from tests.security.streams import stored_messages

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def privacy_stack(
    nats_url: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceGroup]:
    """The ``stack`` of conftest, with intake's schedules checked every half second."""
    log_dir: Path = tmp_path_factory.mktemp("e2e-privacy-logs")
    group = service_group(
        nats_url,
        mongo_url,
        prefix="p",
        log_dir=log_dir,
        env={
            **QUICK_ENV,
            "KOLOT_CAMPAIGN_REFRESH_SECONDS": "0.5",
            "KOLOT_RETENTION_CHECK_SECONDS": "0.5",
            "KOLOT_RETENTION_PURGE_LOG": "true",
            # no meeting uploads after the closing here, so the purge is not held back for them
            "KOLOT_MEETING_UPLOAD_GRACE_DAYS": "0",
        },
    )
    with group:
        yield group


@pytest.fixture
async def dbs(privacy_stack: ServiceGroup, mongo_url: str) -> AsyncIterator[Databases]:
    found = Databases(mongo_url, privacy_stack.namespace)
    try:
        yield found
    finally:
        await found.client.close()


async def stream_messages(nats_url: str, stream: str) -> list[tuple[str, bytes]]:
    """Every message ``stream`` still holds: (subject, payload)."""
    return [
        (str(msg.subject), bytes(msg.data or b""))
        for msg in await stored_messages(nats_url, stream)
    ]


class Databases:
    """Direct reads of the four services' databases (``<namespace>_<service>``)."""

    def __init__(self, mongo_url: str, namespace: str) -> None:
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
        self.namespace = namespace

    def db(self, service: str) -> Any:
        return self.client[f"{self.namespace}_{service}"]

    async def holding(self, *needles: str) -> list[str]:
        """``service.collection/_id`` of every document whose JSON holds any of ``needles``."""
        found: list[str] = []
        for service in SERVICES:
            db = self.db(service)
            for name in await db.list_collection_names():
                async for doc in db[name].find({}):
                    text = json.dumps(doc, default=str, ensure_ascii=False)
                    if any(needle in text for needle in needles):
                        found.append(f"{service}.{name}/{doc.get('_id')}")
        return found

    async def of_campaign(self, campaign_id: str, needle: str) -> list[str]:
        """Documents of ``campaign_id`` (by their ``campaign_id``) that hold ``needle``."""
        found: list[str] = []
        for service in SERVICES:
            db = self.db(service)
            for name in await db.list_collection_names():
                async for doc in db[name].find({"campaign_id": campaign_id}):
                    if needle in json.dumps(doc, default=str, ensure_ascii=False):
                        found.append(f"{service}.{name}/{doc.get('_id')}")
        return found


class Consultation:
    """The HTTP calls of the scenario, against the running stack."""

    def __init__(self, http: httpx.AsyncClient, stack: ServiceGroup) -> None:
        self.http = http
        self.urls = stack.urls
        self.admin = staff_headers("admin")
        self.moderator = staff_headers("moderator")

    async def campaign(self, *, mode: str = "auto", **extra: Any) -> str:
        created = json_of(
            await self.http.post(
                f"{self.urls['intake']}/v1/campaigns",
                json={
                    "title": {"en": "Night buses"},
                    "purpose": {"en": "Hear riders before the network changes"},
                    "use_of_input": {"en": "The ministry publishes what it changed"},
                    "moderation_mode": mode,
                    "questions": [{"id": "q1", "kind": "text", "prompt": {"en": "Why?"}}],
                    **extra,
                },
                headers=self.admin,
            )
        )
        campaign_id = str(created["id"])
        json_of(
            await self.http.post(
                f"{self.urls['intake']}/v1/campaigns/{campaign_id}/open", headers=self.admin
            )
        )
        return campaign_id

    async def participant(self, campaign_id: str | None, contact: dict[str, str] | None) -> Any:
        body: dict[str, Any] = {"campaign_id": campaign_id, "profile": {"region": "north"}}
        if contact:
            body |= {"contact": contact, "consent": {"notifications": True}}
        return json_of(await self.http.post(f"{self.urls['intake']}/v1/participants", json=body))

    async def post(self, path: str, token: str, body: dict[str, Any]) -> Any:
        response = await self.http.post(
            f"{self.urls['intake']}{path}", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        return json_of(response)

    async def comment(self, campaign_id: str, token: str, text: str) -> str:
        accepted = await self.post(f"/v1/campaigns/{campaign_id}/comments", token, {"text": text})
        return str(accepted["id"])

    async def status(self, comment_id: str, token: str) -> str:
        response = await self.http.get(
            f"{self.urls['intake']}/v1/comments/{comment_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        return str(response.json().get("status")) if response.status_code == 200 else ""

    async def reaches(self, comment_id: str, token: str, *statuses: str) -> None:
        async def check() -> bool:
            return await self.status(comment_id, token) in statuses

        await eventually(check, what=f"{comment_id} {' or '.join(statuses)}")

    async def decide(self, comment_id: str, decision: str) -> None:
        async def decided() -> bool:
            response = await self.http.post(
                f"{self.urls['moderation']}/v1/comments/{comment_id}/decision",
                json={"decision": decision, "reason": "Decided by the e2e moderator"},
                headers=self.moderator,
            )
            return response.status_code == 200

        await eventually(decided, what=f"a moderator's {decision} of {comment_id}")

    async def stats(self, campaign_id: str) -> Any:
        return json_of(
            await self.http.get(
                f"{self.urls['metrics']}/v1/campaigns/{campaign_id}/stats",
                headers=staff_headers("analyst"),
            )
        )

    async def public_texts(self, campaign_id: str) -> list[str]:
        page = json_of(
            await self.http.get(f"{self.urls['intake']}/v1/campaigns/{campaign_id}/comments")
        )
        return [str(item["text"]) for item in page["items"]]


VOLATILE = {"as_of", "updated_at", "last_event_at", "oldest_age_seconds"}
"""Figures that change with time alone."""
LIFECYCLE = {"campaign", "events_counted"}
"""The consultation's status and the count of its events, which its closing and purge add to."""


def counts(stats: Any, *, ignore: frozenset[str] = frozenset(VOLATILE)) -> Any:
    """The figures erasure and purge must leave alone."""
    if isinstance(stats, dict):
        return {k: counts(v, ignore=ignore) for k, v in stats.items() if k not in ignore}
    return stats


async def settled_stats(consultation: Consultation, campaign_id: str, **expected: int) -> Any:
    """The campaign's figures once they count ``expected`` comments and hold still for a second
    (metrics folds the scenario's other events meanwhile)."""
    previous: list[Any] = [None]

    async def ready() -> Any:
        stats = counts(await consultation.stats(campaign_id))
        comments = stats.get("comments", {})
        still = stats == previous[0]
        previous[0] = stats
        if not all(comments.get(k) == v for k, v in expected.items()):
            return None
        if not still:
            await asyncio.sleep(1.0)
            return None
        return stats

    return await eventually(ready, what=f"metrics counting {expected} in {campaign_id}")


async def test_an_erased_participant_is_gone_from_every_database_and_still_counted(
    privacy_stack: ServiceGroup, dbs: Databases
) -> None:
    email, phone = f"dana.{secrets.token_hex(4)}@example.org", "+972 52 765 4321"
    async with httpx.AsyncClient(timeout=10) as http:
        kolot = Consultation(http, privacy_stack)
        campaign_id = await kolot.campaign(mode="pre")
        dana = await kolot.participant(campaign_id, {"email": email, "phone": phone})
        other = await kolot.participant(campaign_id, None)
        pid, token = str(dana["participant_id"]), str(dana["token"])
        kept = await kolot.comment(campaign_id, token, "Night buses to the north, every hour.")
        refused = await kolot.comment(campaign_id, token, "A second thought, kept private.")
        theirs = await kolot.comment(campaign_id, other["token"], "Please add a stop in Karmiel.")
        await kolot.decide(kept, "approve")
        await kolot.decide(refused, "reject")
        await kolot.decide(theirs, "approve")
        await kolot.reaches(kept, token, "published")
        await kolot.reaches(theirs, other["token"], "published")
        await kolot.reaches(refused, token, "rejected")
        await kolot.post(f"/v1/comments/{theirs}/votes", token, {"value": 1})
        await kolot.post(f"/v1/comments/{theirs}/flags", token, {"reason": "spam"})
        await kolot.post(f"/v1/comments/{refused}/appeals", token, {"text": "Please look again"})
        await kolot.post(f"/v1/campaigns/{campaign_id}/responses", token, {"answers": {"q1": "x"}})
        await kolot.post(f"/v1/campaigns/{campaign_id}/visits", token, {"source": "sms"})

        # everything about Dana has reached every service before she is erased
        async def everywhere() -> bool:
            holders = {h.split("/")[0] for h in await dbs.holding(pid)}
            wanted = {
                "intake.comments", "intake.votes", "intake.responses", "intake.participants",
                "moderation.comments", "moderation.flags", "moderation.appeals",
                "notify.contacts", "notify.authorship", "notify.notifications",
                "metrics.participants", "metrics.contributors",
            }  # fmt: skip
            return wanted <= holders

        await eventually(everywhere, what="Dana's data in every service")
        before = await settled_stats(kolot, campaign_id, published=2, rejected=1)

        erased = await http.delete(
            f"{kolot.urls['intake']}/v1/participants/me",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert erased.status_code == 202, erased.text

        async def forgotten() -> bool:
            return not await dbs.holding(pid, email, phone)

        try:
            await eventually(forgotten, what="erasure in every database")
        except AssertionError:
            raise AssertionError(f"still held: {await dbs.holding(pid, email, phone)}") from None
        # what she said stays, counted, with no one behind it
        assert "Night buses to the north, every hour." in await kolot.public_texts(campaign_id)
        assert counts(await kolot.stats(campaign_id)) == before


async def test_a_purged_consultation_links_no_one_and_keeps_its_public_record(
    privacy_stack: ServiceGroup, dbs: Databases, nats_url: str
) -> None:
    email = f"rami.{secrets.token_hex(4)}@example.org"
    async with httpx.AsyncClient(timeout=10) as http:
        kolot = Consultation(http, privacy_stack)
        purged = await kolot.campaign(retention_days=1)
        elsewhere = await kolot.campaign()
        # Rami takes part in the purged consultation alone; Salma in another one too
        rami = await kolot.participant(purged, {"email": email})
        salma = await kolot.participant(None, None)
        rami_id, rami_token = str(rami["participant_id"]), str(rami["token"])
        salma_id, salma_token = str(salma["participant_id"]), str(salma["token"])
        published = await kolot.comment(purged, rami_token, "Keep the 480 line running at night.")
        # abusive: rejected by the machine, so its text is never public
        rejected = await kolot.comment(purged, salma_token, "You are idiots and morons, idiots!")
        stays = await kolot.comment(elsewhere, salma_token, "More bike lanes, please.")
        await kolot.reaches(published, rami_token, "published")
        await kolot.reaches(stays, salma_token, "published")
        await kolot.reaches(rejected, salma_token, "rejected", "review")
        await kolot.post(f"/v1/comments/{published}/votes", salma_token, {"value": 1})
        await kolot.post(f"/v1/comments/{published}/flags", salma_token, {"reason": "spam"})
        await kolot.post(f"/v1/campaigns/{purged}/responses", rami_token, {"answers": {"q1": "y"}})

        async def linked() -> bool:
            return len(await dbs.of_campaign(purged, salma_id)) >= 4 and bool(
                await dbs.holding(rami_id)
            )

        await eventually(linked, what="both people's data in the services")
        before = await settled_stats(kolot, purged, submitted=2)
        public_before = await kolot.public_texts(purged)
        assert "Keep the 480 line running at night." in public_before

        # closed two days ago, kept one day: intake's scheduler closes and purges it
        json_of(
            await http.patch(
                f"{kolot.urls['intake']}/v1/campaigns/{purged}",
                json={"closes_at": (datetime.now(UTC) - timedelta(days=2)).isoformat()},
                headers=kolot.admin,
            )
        )

        async def gone() -> bool:
            return not await dbs.holding(rami_id, email) and not await dbs.of_campaign(
                purged, salma_id
            )

        try:
            await eventually(gone, timeout=30, what="the retention purge")
        except AssertionError:
            raise AssertionError(
                f"Rami still in {await dbs.holding(rami_id, email)}; "
                f"Salma still linked in {await dbs.of_campaign(purged, salma_id)}"
            ) from None
        # the text that was never published is gone from every database
        assert not await dbs.holding("You are idiots and morons")
        # and the log holds none of it either (KOLOT_RETENTION_PURGE_LOG): Rami's id only in
        # his erasure, the rejected text nowhere
        events_stream = f"{privacy_stack.namespace.upper()}_EVENTS"

        async def log_purged() -> bool:
            log = await stream_messages(nats_url, events_stream)
            naming_rami = [subject for subject, data in log if rami_id.encode() in data]
            return (
                all(".participant.erased." in subject for subject in naming_rami)
                and not [subject for subject, data in log if b"You are idiots" in data]
                and any(".campaign.purged." in subject for subject, _ in log)
            )

        await eventually(log_purged, what="the consultation's personal events purged from the log")
        # Salma's part in the other consultation is untouched
        assert await dbs.of_campaign(elsewhere, salma_id)
        assert await kolot.public_texts(purged) == public_before
        lifecycle = frozenset(VOLATILE | LIFECYCLE)
        assert counts(await kolot.stats(purged), ignore=lifecycle) == counts(
            before, ignore=lifecycle
        )
