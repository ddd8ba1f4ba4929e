"""Intake's read models are projections: dropped, they are rebuilt by replaying the stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from nats.aio.client import Client as NATS
from pymongo import AsyncMongoClient

from kolot.intake.app import create_app
from kolot.intake.settings import IntakeSettings
from tests.conftest import running_app
from tests.integration.intake.flows import (
    ADMIN,
    decide,
    eventually,
    open_campaign,
    participant,
)

pytestmark = pytest.mark.integration


async def test_dropping_the_database_and_replaying_rebuilds_every_read_model(
    make_settings: Callable[..., Any], nats_url: str, mongo_url: str, namespace: str
) -> None:
    settings = make_settings(IntakeSettings)
    app = create_app(settings)
    async with running_app(app) as client:
        campaign_id = await open_campaign(client)
        author, voter = await participant(client), await participant(client)
        sent = await client.post(
            f"/v1/campaigns/{campaign_id}/comments", json={"text": "עוד קווים"}, headers=author
        )
        comment_id = sent.json()["id"]
        await decide(app.state.runtime, campaign_id, comment_id, "approve", text="עוד קווים")
        await eventually(
            lambda: client.get(f"/v1/comments/{comment_id}", headers=author),
            until=lambda r: r.status_code == 200 and r.json()["status"] == "published",
        )
        await client.post(f"/v1/comments/{comment_id}/votes", json={"value": 1}, headers=voter)
        await client.post(
            f"/v1/campaigns/{campaign_id}/close", headers=ADMIN
        )  # a later campaign state must win on replay too
        before = await eventually(
            lambda: client.get(f"/v1/campaigns/{campaign_id}/comments"),
            until=lambda r: bool(r.json()["items"]) and r.json()["items"][0]["support"] == 1,
        )
        own_before = (await client.get(f"/v1/comments/{comment_id}", headers=author)).json()
        campaign_before = (await client.get(f"/v1/campaigns/{campaign_id}")).json()

    # what an operator does to rebuild: drop the database and the durable consumers
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url)
    await mongo.drop_database(settings.database_name())
    await mongo.close()
    nc = NATS()
    await nc.connect(nats_url)
    js = nc.jetstream()
    for name in ("intake-comments", "intake-campaigns", "intake-participants"):
        await js.delete_consumer(f"{namespace.upper()}_EVENTS", name)
    await nc.close()

    rebuilt_app = create_app(settings)
    async with running_app(rebuilt_app) as client:
        after = await eventually(
            lambda: client.get(f"/v1/campaigns/{campaign_id}/comments"),
            until=lambda r: r.json() == before.json(),
        )
        assert after.json() == before.json()
        own_after = await client.get(f"/v1/comments/{comment_id}", headers=author)
        assert own_after.json() == own_before
        listed = await eventually(
            lambda: client.get("/v1/campaigns"),
            until=lambda r: any(c["id"] == campaign_id for c in r.json()["items"]),
        )
        assert next(c for c in listed.json()["items"] if c["id"] == campaign_id) == campaign_before
