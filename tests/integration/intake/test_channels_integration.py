"""The SMS/WhatsApp webhook against real NATS and MongoDB-wire servers: signed messages become
comments of pseudonymous senders, once per provider message, with a reply in the right language."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from kolot.common.events import CommentSubmitted, ParticipantRegistered
from kolot.common.settings import DEV_CHANNEL_SECRET
from kolot.intake.app import create_app
from kolot.intake.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, short_ref, sign
from kolot.intake.settings import IntakeSettings
from tests.conftest import running_app
from tests.integration.intake.flows import ADMIN, open_campaign, raw_stream, stream_events

pytestmark = pytest.mark.integration

PHONE = "+972501234567"


@pytest.fixture
async def intake(make_settings: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(IntakeSettings, rate_participant_burst=100))
    async with running_app(app) as client:
        yield client


async def send(
    client: httpx.AsyncClient,
    message: dict[str, Any],
    *,
    channel: str = "sms",
    secret: str = DEV_CHANNEL_SECRET,
    age: int = 0,
) -> httpx.Response:
    body = json.dumps(message, ensure_ascii=False).encode()
    timestamp = str(int(time.time()) - age)
    return await client.post(
        f"/v1/channels/{channel}/inbound",
        content=body,
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        },
    )


def sms(text: str, *, message_id: str, to: str = "4545", sender: str = PHONE) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "from": sender,
        "to": to,
        "text": text,
        "provider": "acme-sms",
        "received_at": "2026-11-23T10:00:00Z",
    }


async def test_a_signed_sms_becomes_a_comment_of_a_pseudonymous_sender_stored_once(
    intake: httpx.AsyncClient, nats_url: str, namespace: str
) -> None:
    campaign_id = await open_campaign(
        intake, keyword="bus", short_code="4545", default_language="ar"
    )
    first = await send(intake, sms("نحتاج خطوط ليلية", message_id="prov-1"))
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["status"] == "accepted"
    assert answer["campaign_id"] == campaign_id
    comment_id = answer["comment_id"]
    # the reply is in the campaign's language and names the comment by its short form
    assert short_ref(comment_id) in answer["reply"]
    assert "شكرًا" in answer["reply"]

    # the provider did not hear the answer and retries: the same comment, the same reply
    retry = await send(intake, sms("نحتاج خطوط ليلية", message_id="prov-1"))
    assert retry.json() == answer
    # a second message of the same sender: another comment, the same participant
    second = await send(intake, sms("BUS ועוד תחנה ליד בית הספר", message_id="prov-2"))
    assert second.json()["status"] == "accepted"

    comments = await stream_events(
        nats_url, namespace, f"{namespace}.events.comment.submitted.{campaign_id}"
    )
    assert [c.id for c in comments] == [comment_id, second.json()["comment_id"]]
    assert all(isinstance(c, CommentSubmitted) for c in comments)
    assert comments[0].data.channel == "sms"
    assert comments[0].data.provenance.provider == "acme-sms"
    assert comments[0].data.text == "نحتاج خطوط ليلية"
    assert comments[1].data.text == "ועוד תחנה ליד בית הספר"  # the keyword is not the comment
    assert comments[0].data.participant_id == comments[1].data.participant_id

    registrations = [
        e
        for e in await stream_events(nats_url, namespace, f"{namespace}.events.participant.>")
        if isinstance(e, ParticipantRegistered)
    ]
    assert [r.data.participant_id for r in registrations] == [comments[0].data.participant_id]
    assert (registrations[0].data.source, registrations[0].data.channel) == ("sms", "sms")

    # the number travels nowhere: not in any event, in any form
    stored = b"".join(await raw_stream(nats_url, namespace, f"{namespace}.events.>"))
    for form in (PHONE, PHONE[1:], "0501234567", "501234567"):
        assert form.encode() not in stored


async def test_unsigned_forged_or_replayed_requests_are_refused(
    intake: httpx.AsyncClient, nats_url: str, namespace: str
) -> None:
    await open_campaign(intake, keyword="bus", short_code="4545")
    message = sms("צריך עוד קווים", message_id="prov-9")
    unsigned = await intake.post("/v1/channels/sms/inbound", json=message)
    forged = await send(intake, message, secret="not-the-channel-secret")
    replayed = await send(intake, message, age=6 * 60)
    for response in (unsigned, forged, replayed):
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert "more than 300 s" in replayed.json()["detail"]
    assert await stream_events(nats_url, namespace, f"{namespace}.events.comment.>") == []

    # a signed message that is not a message: refused, without echoing the number back
    bad = await send(intake, {**message, "from": "0501234567"})
    assert bad.status_code == 422
    assert "0501234567" not in bad.text
    unknown_channel = await send(intake, message, channel="carrier-pigeon")
    assert unknown_channel.status_code == 422


async def test_replies_for_messages_that_are_not_comments(
    intake: httpx.AsyncClient, nats_url: str, namespace: str
) -> None:
    campaign_id = await open_campaign(intake, keyword="גנים", default_language="he")
    closed_id = await open_campaign(intake, keyword="old", short_code="5555", default_language="en")
    closed = await intake.post(f"/v1/campaigns/{closed_id}/close", headers=ADMIN)
    assert closed.status_code == 200, closed.text

    unknown = await send(intake, sms("hello, is this the ministry?", message_id="m1", to="+97239"))
    assert unknown.status_code == 200
    assert unknown.json()["status"] == "unknown-keyword"
    assert "keyword" in unknown.json()["reply"]
    assert "גנים".upper() in unknown.json()["reply"]  # it tells how to take part

    on_closed = await send(intake, sms("too late?", message_id="m2", to="5555"))
    assert on_closed.json()["status"] == "closed"
    assert on_closed.json()["campaign_id"] == closed_id
    assert "not open" in on_closed.json()["reply"]

    only_keyword = await send(intake, sms("גנים", message_id="m3", to="+97239"))
    assert only_keyword.json()["status"] == "empty"
    assert only_keyword.json()["campaign_id"] == campaign_id

    stop = await send(intake, sms("STOP", message_id="m4", to="+97239"), channel="whatsapp")
    assert stop.json()["status"] == "stop"
    # "stop" opening a real comment is a comment, not a command
    comment = await send(
        intake, sms("גנים stop cutting the trees", message_id="m5", to="+97239"), channel="whatsapp"
    )
    assert comment.json()["status"] == "accepted"

    comments = await stream_events(nats_url, namespace, f"{namespace}.events.comment.submitted.*")
    assert [(c.data.channel, c.data.text) for c in comments] == [
        ("whatsapp", "stop cutting the trees")
    ]


async def test_a_flooding_sender_is_limited_without_storing(
    make_settings: Callable[..., Any], nats_url: str, namespace: str
) -> None:
    app = create_app(
        make_settings(IntakeSettings, rate_participant_burst=2, rate_participant_per_minute=1)
    )
    async with running_app(app) as client:
        await open_campaign(client, keyword="bus", short_code="4545", default_language="en")
        answers = [
            (await send(client, sms(f"comment {n}", message_id=f"f{n}"))).json()["status"]
            for n in range(4)
        ]
        assert answers == ["accepted", "accepted", "rate-limited", "rate-limited"]
        # another sender is not held back by the first
        other = await send(client, sms("mine", message_id="o1", sender="+972521111111"))
        assert other.json()["status"] == "accepted"
    comments = await stream_events(nats_url, namespace, f"{namespace}.events.comment.submitted.*")
    assert len(comments) == 3
