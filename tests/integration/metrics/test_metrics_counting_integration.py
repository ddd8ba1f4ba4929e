"""The metrics service against real NATS and nx-27017: events counted once, whatever happens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import nats
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kolot.common.auth import Role
from kolot.common.bus import Streams
from kolot.common.events import (
    NO_CAMPAIGN,
    Attribution,
    CommentModerated,
    CommentModeratedData,
    CommentPublished,
    CommentPublishedData,
    CommentSubmitted,
    CommentSubmittedData,
    Event,
    ParticipantRegistered,
    ParticipantRegisteredData,
    VisitRecorded,
    VisitRecordedData,
    VoteCast,
    VoteCastData,
)
from kolot.metrics.app import create_app
from kolot.metrics.handlers import ALL_EVENTS_CONSUMER
from kolot.metrics.settings import MetricsSettings
from tests.conftest import running_app, staff_headers

pytestmark = pytest.mark.integration

CAMPAIGN = "c-budget-2025"
ANALYST = staff_headers(Role.ANALYST)


def consultation_events() -> list[Event]:
    def submitted(comment_id: str) -> CommentSubmitted:
        return CommentSubmitted(
            subject=CAMPAIGN,
            data=CommentSubmittedData(
                comment_id=comment_id, participant_id="p1", text="text", text_sha256="0" * 64
            ),
        )

    def moderated(comment_id: str, decision: Any) -> CommentModerated:
        return CommentModerated(
            subject=CAMPAIGN,
            data=CommentModeratedData(
                comment_id=comment_id, decision=decision, automatic=True, redacted_text="text"
            ),
        )

    return [
        submitted("k1"),
        submitted("k2"),
        moderated("k1", "approve"),
        moderated("k2", "reject"),
        CommentPublished(subject=CAMPAIGN, data=CommentPublishedData(comment_id="k1", text="t")),
        VisitRecorded(
            subject=CAMPAIGN,
            data=VisitRecordedData(visit_id="v1", attribution=Attribution(source="facebook")),
        ),
        ParticipantRegistered(
            subject=CAMPAIGN,
            data=ParticipantRegisteredData(participant_id="p1", source="facebook"),
        ),
        # most registrations belong to no campaign
        ParticipantRegistered(
            subject=NO_CAMPAIGN, data=ParticipantRegisteredData(participant_id="p2")
        ),
    ]


def vote(vote_id: str) -> VoteCast:
    return VoteCast(
        subject=CAMPAIGN,
        data=VoteCastData(vote_id=vote_id, participant_id="p1", target_id="k1", value=1),
    )


EXPECTED_COMMENTS = {
    "submitted": 2,
    "published": 1,
    "rejected": 1,
    "pending": 0,
    "review": 0,
    "hidden": 0,
}
EXPECTED_FUNNEL = {
    "facebook": {
        "visits": 1,
        "participants": 1,
        "conversion": 1.0,
        "spend": None,
        "cost_per_response": None,
    }
}


async def eventually(
    probe: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], *, within: float = 15.0
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


def stats_of(
    client: httpx.AsyncClient, campaign_id: str = CAMPAIGN
) -> Callable[[], Awaitable[Any]]:
    async def probe() -> Any:
        response = await client.get(f"/v1/campaigns/{campaign_id}/stats", headers=ANALYST)
        assert response.status_code == 200, response.text
        return response.json()

    return probe


def assert_consultation_counted(stats: dict[str, Any], *, votes: int) -> None:
    assert stats["campaign_id"] == CAMPAIGN
    assert stats["comments"] == EXPECTED_COMMENTS
    assert stats["funnel"] == EXPECTED_FUNNEL
    assert (stats["responses"], stats["votes"], stats["flags"]) == (0, votes, 0)
    assert stats["events_counted"] == 7 + votes


async def test_each_event_is_counted_once_across_replay_restart_and_a_new_consumer(
    make_settings: Callable[..., Any], nats_url: str, namespace: str
) -> None:
    settings: MetricsSettings = make_settings(MetricsSettings, snapshot_interval=0.2)
    streams = Streams(namespace)
    events = consultation_events()

    app = create_app(settings)
    async with running_app(app) as client:
        await app.state.runtime.publisher.publish(*events)

        stats = await eventually(stats_of(client), lambda s: s["events_counted"] >= 7)
        assert_consultation_counted(stats, votes=0)
        assert stats["updated_at"] is not None
        nobody = await eventually(stats_of(client, NO_CAMPAIGN), lambda s: s["events_counted"])
        assert nobody["funnel"]["direct"]["participants"] == 1

        # the domain metrics appear on /metrics once the snapshot is refreshed
        def comments_submitted(text: str) -> float | None:
            for family in text_string_to_metric_families(text):  # fails on invalid exposition
                for sample in family.samples:
                    if sample.name == "kolot_comments_total" and sample.labels == {
                        "campaign_id": CAMPAIGN,
                        "status": "submitted",
                    }:
                        return sample.value
            return None

        async def metrics_text() -> str:
            return (await client.get("/metrics")).text

        text = await eventually(metrics_text, lambda t: comments_submitted(t) == 2)
        assert 'kolot_visits_total{campaign_id="c-budget-2025",source="facebook"} 1.0' in text

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        # A replay: the same events (same ids) stored again under other message ids, so the
        # stream's duplicate window does not drop them, while the service is down.
        for event in events:
            ack = await js.publish(
                event.subject_for(namespace, "events"),
                event.to_json(),
                stream=streams.name("events"),
                headers={"Nats-Msg-Id": f"replay-{event.id}"},
            )
            assert not ack.duplicate

        # The restarted service resumes its durable consumer and meets the replayed events first.
        app = create_app(settings)
        async with running_app(app) as client:
            await app.state.runtime.publisher.publish(vote("vote-1"))
            stats = await eventually(stats_of(client), lambda s: s["votes"] >= 1)
            assert_consultation_counted(stats, votes=1)
            info = await js.consumer_info(streams.name("events"), ALL_EVENTS_CONSUMER)
            assert info.num_pending == 0

        # A new consumer reads the whole stream from the start: originals, replays, the vote.
        await js.delete_consumer(streams.name("events"), ALL_EVENTS_CONSUMER)
        app = create_app(settings)
        async with running_app(app) as client:
            await app.state.runtime.publisher.publish(vote("vote-2"))
            stats = await eventually(stats_of(client), lambda s: s["votes"] >= 2)
            assert_consultation_counted(stats, votes=2)
            nobody = await stats_of(client, NO_CAMPAIGN)()
            assert nobody["funnel"]["direct"]["participants"] == 1
            info = await js.consumer_info(streams.name("events"), ALL_EVENTS_CONSUMER)
            assert info.num_pending == 0
            assert info.delivered.stream_seq == 2 * len(events) + 2
    finally:
        await nc.close()


async def test_stats_of_a_campaign_without_events_are_zeros_for_analysts_and_admins(
    make_settings: Callable[..., Any],
) -> None:
    async with running_app(create_app(make_settings(MetricsSettings))) as client:
        for role in (Role.ANALYST, Role.ADMIN):
            response = await client.get(
                "/v1/campaigns/never-heard-of/stats", headers=staff_headers(role)
            )
            assert response.status_code == 200
            stats = response.json()
            assert stats["campaign_id"] == "never-heard-of"
            assert stats["comments"]["submitted"] == stats["comments"]["pending"] == 0
            assert stats["funnel"] == {}
            assert stats["updated_at"] is None

        assert (await client.get("/v1/campaigns/c1/stats")).status_code == 401
        refused = await client.get("/v1/campaigns/c1/stats", headers=staff_headers(Role.MODERATOR))
        assert refused.status_code == 403

        too_long = await client.get(f"/v1/campaigns/{'x' * 65}/stats", headers=ANALYST)
        assert too_long.status_code == 422
        assert too_long.headers["content-type"] == "application/problem+json"
