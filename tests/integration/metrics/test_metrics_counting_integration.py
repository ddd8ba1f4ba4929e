"""The metrics service against real NATS and nx-27017: the same figures, whatever happens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import nats
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from kolot.common.auth import Role
from kolot.common.bus import Streams
from kolot.metrics.app import create_app
from kolot.metrics.handlers import ALL_EVENTS_CONSUMER
from kolot.metrics.settings import MetricsSettings
from tests.conftest import running_app, staff_headers
from tests.integration.metrics.consultation import CAMPAIGN, consultation, shuffled

pytestmark = pytest.mark.integration

ANALYST = staff_headers(Role.ANALYST)
# figures that depend on the clock, not on the events
VOLATILE = {"updated_at", "generated_at", "oldest_age_seconds"}
# exposition samples that depend on the clock
VOLATILE_SAMPLES = {
    "kolot_metrics_snapshot_timestamp_seconds",
    "kolot_moderation_queue_oldest_age_seconds",
}


async def eventually(
    probe: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], *, within: float = 30.0
) -> Any:
    """Poll ``probe`` until ``done`` holds for its result; return that result."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {within}s; last: {result!r}")
        await asyncio.sleep(0.1)


def without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_volatile(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [without_volatile(v) for v in value]
    return value


async def get_json(client: httpx.AsyncClient, path: str) -> Any:
    response = await client.get(path, headers=ANALYST)
    assert response.status_code == 200, response.text
    return response.json()


async def everything(client: httpx.AsyncClient) -> dict[str, Any]:
    """Every figure the service answers about the campaign, and its domain metrics."""
    base = f"/v1/campaigns/{CAMPAIGN}"
    figures = {
        "stats": await get_json(client, f"{base}/stats"),
        "funnel": await get_json(client, f"{base}/funnel"),
        "hourly": await get_json(client, f"{base}/timeseries?step=1h"),
        "daily": await get_json(client, f"{base}/timeseries?step=1d"),
        "report": await get_json(client, f"{base}/report?format=json"),
    }
    text = (await client.get("/metrics")).text
    figures["metrics"] = sorted(
        (sample.name, sorted(sample.labels.items()), sample.value)
        for family in text_string_to_metric_families(text)
        if family.name.startswith("kolot_")
        and not family.name.startswith(("kolot_http", "kolot_consumer", "kolot_bus"))
        for sample in family.samples
        if sample.name not in VOLATILE_SAMPLES
    )
    cleaned: dict[str, Any] = without_volatile(figures)
    return cleaned


async def counted(client: httpx.AsyncClient, expected: int) -> dict[str, Any]:
    async def probe() -> Any:
        return await get_json(client, f"/v1/campaigns/{CAMPAIGN}/stats")

    stats: dict[str, Any] = await eventually(probe, lambda s: s["events_counted"] >= expected)
    return stats


async def exposed(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    """Wait for the /metrics snapshot to hold a sample; return its value."""

    async def probe() -> float | None:
        text = (await client.get("/metrics")).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return None

    value: float = await eventually(probe, lambda v: v is not None)
    return value


def assert_consultation_figures(stats: dict[str, Any], funnel: dict[str, Any]) -> None:
    """What the consultation in ``consultation.py`` must read, worked out by hand."""
    comments = stats["comments"]
    assert comments["submitted"] == 12
    assert comments["by_status"] == {
        "pending": 0,
        "held": 2,  # k9, k10
        "approved": 0,
        "clustered": 2,  # k11, k12: copies of k1
        "published": 6,  # k1, k2, k4, k5, k6, k8
        "rejected": 1,  # k7
        "hidden": 1,  # k3
    }
    assert comments["published"] == 7  # k1 counted once however often it is republished
    assert comments["pending"] == comments["held"] == 2
    assert comments["by_channel"] == {"sms": 2, "web": 10}
    moderation = stats["moderation"]
    assert moderation["decisions"] == {
        "automatic": {"approve": 8, "reject": 1, "review": 3},
        "human": {"approve": 1, "reject": 0, "review": 0},
    }
    assert moderation["queue"]["depth"] == 2
    assert moderation["queue"]["oldest_since"] == "2026-11-02T15:45:03Z"  # k9's review
    assert moderation["latency"]["human"]["count"] == 1
    assert moderation["latency"]["human"]["mean_seconds"] == 7200.0
    assert moderation["latency"]["automatic"]["count"] == 9
    assert moderation["appeals"] == {"filed": 1, "upheld": 1, "overturned": 0}
    participation = stats["participation"]
    assert participation == {
        "visits": 43,
        "visits_by_channel": {"web": 43},
        "registered": 12,
        "participants": 11,  # p12 never took part
        "responses": 2,
        "votes": 3,
        "flags": 2,
    }
    assert stats["clusters"] == {"count": 1, "comments": 3, "largest": 3}
    region = stats["representativeness"]["dimensions"]["region"]
    assert (region["declared"], region["undeclared"]) == (9, 2)
    assert region["dissimilarity"] == 0.1667
    assert stats["representativeness"]["warnings"] == []  # 9 declarations are too few to judge
    assert stats["deliveries"]["webhooks"] == {"delivered": 1, "failed": 1}
    assert stats["deliveries"]["notifications"] == {
        "email": {"sent": 0, "failed": 1},
        "sms": {"sent": 1, "failed": 0},
    }
    assert stats["campaign"]["status"] == "open"

    steps = {step["source"]: step for step in funnel["sources"]}
    assert stats["funnel"] == steps
    assert [s["source"] for s in funnel["sources"]] == ["facebook", "sms", "direct"]
    assert steps["facebook"] | {} == {
        "source": "facebook",
        "invited": 0,
        "clicked": 0,
        "visits": 30,
        "participants": 6,
        "click_rate_pct": None,
        "visit_rate_pct": None,
        "participation_rate_pct": 20.0,
        "conversion": 0.2,
        "spend": {"amount": 600.0, "currency": "ILS"},  # the corrected spend, not 500 + 600
        "cost_per_visit": {"amount": 20.0, "currency": "ILS"},
        "cost_per_response": {"amount": 100.0, "currency": "ILS"},
    }
    sms = steps["sms"]
    assert (sms["invited"], sms["clicked"], sms["visits"], sms["participants"]) == (20, 10, 8, 3)
    assert (sms["click_rate_pct"], sms["visit_rate_pct"], sms["participation_rate_pct"]) == (
        50.0,
        80.0,
        37.5,
    )
    assert sms["cost_per_response"] == {"amount": 33.33, "currency": "ILS"}
    assert steps["direct"]["participants"] == 2
    assert steps["direct"]["spend"] is None
    assert funnel["total"]["spend"] == {"amount": 700.0, "currency": "ILS"}
    assert funnel["total"]["participants"] == 11


async def test_replaying_the_stream_into_an_empty_database_gives_the_same_figures(
    make_settings: Callable[..., Any], nats_url: str, mongo_url: str, namespace: str
) -> None:
    settings: MetricsSettings = make_settings(MetricsSettings, snapshot_interval=0.2)
    streams = Streams(namespace)
    events = consultation()
    # out of causal order: a comment before its author's registration, a publication before
    # its decision, a cluster's growth before its birth...
    mixed = shuffled(events, seed=6)

    app = create_app(settings)
    async with running_app(app) as client:
        await app.state.runtime.publisher.publish(*mixed)
        stats = await counted(client, len(events))
        assert stats["events_counted"] == len(events)
        funnel = await get_json(client, f"/v1/campaigns/{CAMPAIGN}/funnel")
        assert_consultation_figures(stats, funnel)
        await exposed(client, "kolot_participants_total", campaign_id=CAMPAIGN, source="facebook")
        first = await everything(client)

    nc = await nats.connect(nats_url)
    mongo: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url)
    try:
        js = nc.jetstream()
        # Redelivered copies: the same events (same ids) stored again under other message ids,
        # so the stream's duplicate window does not drop them.
        for event in shuffled(events, seed=7)[:40]:
            ack = await js.publish(
                event.subject_for(namespace, "events"),
                event.to_json(),
                stream=streams.name("events"),
                headers={"Nats-Msg-Id": f"again-{event.id}"},
            )
            assert not ack.duplicate

        # The restarted service meets the copies: nothing changes.
        app = create_app(settings)
        async with running_app(app) as client:

            async def pending() -> int:
                info = await js.consumer_info(streams.name("events"), ALL_EVENTS_CONSUMER)
                return int(info.num_pending + info.num_ack_pending)

            await eventually(pending, lambda n: n == 0)
            await exposed(
                client, "kolot_participants_total", campaign_id=CAMPAIGN, source="facebook"
            )
            assert await everything(client) == first

        # Drop the database and the durable consumer: a new one replays the whole stream
        # (originals and copies) into an empty database.
        await mongo.drop_database(settings.database_name())
        await js.delete_consumer(streams.name("events"), ALL_EVENTS_CONSUMER)
        app = create_app(settings)
        async with running_app(app) as client:
            await counted(client, len(events))
            await eventually(pending, lambda n: n == 0)
            await exposed(
                client, "kolot_participants_total", campaign_id=CAMPAIGN, source="facebook"
            )
            assert await everything(client) == first
    finally:
        await nc.close()
        await mongo.close()


async def test_the_report_is_a_right_to_left_page_with_charts_for_a_hebrew_campaign(
    make_settings: Callable[..., Any],
) -> None:
    events = consultation()
    app = create_app(make_settings(MetricsSettings))
    async with running_app(app) as client:
        await app.state.runtime.publisher.publish(*events)
        await counted(client, len(events))
        base = f"/v1/campaigns/{CAMPAIGN}/report"

        page = await client.get(base, headers={**ANALYST, "Accept": "text/html"})
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        html = page.text
        assert '<html lang="he" dir="rtl">' in html
        assert "תקציב העירייה 2026" in html
        assert "שמענו ושינינו" in html
        assert html.count("<svg") >= 3
        assert "<script" not in html
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")

        english = await client.get(f"{base}?format=html&lang=en", headers=ANALYST)
        assert '<html lang="en" dir="ltr">' in english.text
        assert "We heard and changed" in english.text

        report = await get_json(client, base)
        assert (report["language"], report["direction"]) == ("he", "rtl")
        assert report["top_clusters"] == [
            {"cluster_id": "cl1", "size": 3, "text": "text of k1", "language": "he"}
        ]
        assert report["outcome"]["summary"]["en"] == "We heard and changed"
        assert sum(p["participants"] for p in report["timeline"]) == 11

        assert (await client.get(base)).status_code == 401
        moderator = staff_headers(Role.MODERATOR)
        assert (await client.get(base, headers=moderator)).status_code == 403


async def test_figures_of_a_campaign_without_events_are_zeros_for_analysts_and_admins(
    make_settings: Callable[..., Any],
) -> None:
    async with running_app(create_app(make_settings(MetricsSettings))) as client:
        for role in (Role.ANALYST, Role.ADMIN):
            headers = staff_headers(role)
            response = await client.get("/v1/campaigns/never-heard-of/stats", headers=headers)
            assert response.status_code == 200
            stats = response.json()
            assert stats["campaign_id"] == "never-heard-of"
            assert stats["campaign"] is None
            assert stats["comments"]["submitted"] == stats["comments"]["pending"] == 0
            assert stats["funnel"] == {}
            assert stats["updated_at"] is None
            funnel = await client.get("/v1/campaigns/never-heard-of/funnel", headers=headers)
            assert funnel.json()["sources"] == []
            series = await client.get("/v1/campaigns/never-heard-of/timeseries", headers=headers)
            assert series.json()["points"] == []

        too_long = await client.get(f"/v1/campaigns/{'x' * 65}/stats", headers=ANALYST)
        assert too_long.status_code == 422
        assert too_long.headers["content-type"] == "application/problem+json"
        for step in ("0h", "90m", "1y", "h"):
            refused = await client.get(f"/v1/campaigns/c1/timeseries?step={step}", headers=ANALYST)
            assert refused.status_code == 422, step
            assert refused.headers["content-type"] == "application/problem+json"
        many = await client.get(
            "/v1/campaigns/c1/timeseries?step=1h&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            headers=ANALYST,
        )
        assert many.status_code == 422
