"""One Hebrew comment end to end through all four services, on real NATS and MongoDB-wire servers:
intake accepts it log first, moderation publishes it, notify signs it to a ministry's webhook,
metrics counts it exactly once, even after its consumer restarts and the stream is replayed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NATS
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks.webhooks import Webhook

from kolot.devstack import ServiceGroup
from tests.conftest import staff_headers
from tests.e2e.conftest import Receiver, json_of
from tests.e2e.stack import eventually

pytestmark = pytest.mark.e2e

HEBREW_COMMENT = (
    "התוכנית החדשה לתחבורה ציבורית בנגב חשובה מאוד, אבל חסרים קווי לילה. צרו קשר: 050-1234567"
)


async def test_a_hebrew_comment_is_published_delivered_and_counted_once(
    stack: ServiceGroup, receiver: Receiver
) -> None:
    urls = stack.urls
    admin = staff_headers("admin")
    async with httpx.AsyncClient(timeout=10) as http:
        subscription = json_of(
            await http.post(
                f"{urls['notify']}/v1/subscriptions",
                json={"url": receiver.url, "event_types": ["kolot.comment.published"]},
                headers=staff_headers("integrator"),
            )
        )
        campaign = json_of(
            await http.post(
                f"{urls['intake']}/v1/campaigns",
                json={
                    "title": {"he": "תחבורה ציבורית בנגב", "ar": "المواصلات العامة في النقب"},
                    "purpose": {"he": "לשמוע את תושבי הנגב לפני שינוי הקווים"},
                    "use_of_input": {"he": "המשרד יפרסם מה שינה בעקבות התגובות"},
                },
                headers=admin,
            )
        )
        campaign_id = campaign["id"]
        json_of(await http.post(f"{urls['intake']}/v1/campaigns/{campaign_id}/open", headers=admin))
        token = json_of(await http.post(f"{urls['intake']}/v1/participants", json={}))["token"]
        accepted = await http.post(
            f"{urls['intake']}/v1/campaigns/{campaign_id}/comments",
            json={"text": HEBREW_COMMENT},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert accepted.status_code == 202, accepted.text
        comment_id = accepted.json()["id"]

        async def published() -> list[dict[str, Any]]:
            page = json_of(await http.get(f"{urls['intake']}/v1/campaigns/{campaign_id}/comments"))
            return [item for item in page["items"] if item["id"] == comment_id]

        [item] = await eventually(published, timeout=15, what="publication")
        assert item["language"] == "he"
        assert "050-1234567" not in item["text"]  # personal data redacted before publication
        assert "חסרים קווי לילה" in item["text"]

        # the ministry's webhook: the published comment, signed per Standard Webhooks
        [(headers, body)] = await receiver.wait_for(1)
        Webhook(subscription["secret"]).verify(body, headers)
        event = json.loads(body)
        assert event["type"] == "kolot.comment.published"
        assert event["data"]["comment_id"] == comment_id
        assert "050-1234567" not in event["data"]["text"]

        analyst = staff_headers("analyst")

        async def counted() -> dict[str, Any] | None:
            stats = json_of(
                await http.get(
                    f"{urls['metrics']}/v1/campaigns/{campaign_id}/stats", headers=analyst
                )
            )
            return stats if stats["comments"]["published"] == 1 else None

        stats = await eventually(counted, timeout=15, what="metrics count")
        assert stats["comments"]["submitted"] == 1

        # restart metrics and make its durable consumer replay the whole stream from the start
        await asyncio.to_thread(stack["metrics"].stop)
        nc = NATS()
        await nc.connect(stack["metrics"].env["NATS_URL"])  # type: ignore[index]
        try:
            await nc.jetstream().delete_consumer(f"{stack.namespace.upper()}_EVENTS", "metrics-all")
        finally:
            await nc.close()
        await asyncio.to_thread(stack["metrics"].start)
        await asyncio.to_thread(stack["metrics"].wait_ready)

        # a visit recorded after the restart is counted only once the replay has passed the rest
        json_of(
            await http.post(
                f"{urls['intake']}/v1/campaigns/{campaign_id}/visits", json={"source": "marker"}
            )
        )

        async def replayed() -> dict[str, Any] | None:
            stats = json_of(
                await http.get(
                    f"{urls['metrics']}/v1/campaigns/{campaign_id}/stats", headers=analyst
                )
            )
            marker = stats["funnel"].get("marker", {})
            return stats if marker.get("visits") == 1 else None

        after = await eventually(replayed, timeout=15, what="replay after restart")
        assert after["comments"]["published"] == 1
        assert after["comments"]["submitted"] == 1

        # no second delivery to the ministry either
        await asyncio.sleep(0.5)
        assert len(receiver.requests) == 1


async def test_every_service_exposes_valid_prometheus_text(stack: ServiceGroup) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for name, url in stack.urls.items():
            response = await http.get(f"{url}/metrics")
            assert response.status_code == 200, name
            families = list(text_string_to_metric_families(response.text))
            assert any(f.name == "kolot_http_request_seconds" for f in families), name


async def test_every_service_is_ready_and_documents_its_contracts(stack: ServiceGroup) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for name, url in stack.urls.items():
            ready = await http.get(f"{url}/readyz")
            assert ready.json()["checks"] == {"accepting": True, "nats": True, "mongodb": True}, (
                name
            )
            asyncapi = await http.get(f"{url}/asyncapi.json")
            assert asyncapi.status_code == 200, name
            assert asyncapi.json()["asyncapi"].startswith("3."), name
        openapi = json_of(await http.get(f"{stack.urls['intake']}/openapi.json"))
        assert "/v1/campaigns/{campaign_id}/comments" in openapi["paths"]
