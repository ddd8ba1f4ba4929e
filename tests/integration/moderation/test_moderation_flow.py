"""Moderation on real NATS JetStream and nx-27017: comments in, decisions and publications out."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

import pytest
from nats.js import JetStreamContext

from kolot.common.auth import Role
from kolot.common.events import (
    CampaignCreated,
    CampaignSnapshot,
    CommentModerated,
    CommentPublished,
    CommentSubmitted,
    CommentSubmittedData,
    Event,
    LocalizedText,
    derived_id,
    new_id,
    parse_event,
)
from kolot.moderation.app import create_app
from kolot.moderation.handlers import COMMENTS_CONSUMER
from kolot.moderation.settings import ModerationSettings
from tests.conftest import running_app, staff_headers

pytestmark = pytest.mark.integration

MODERATOR = staff_headers(Role.MODERATOR)


def comment(campaign_id: str, text: str) -> CommentSubmitted:
    return CommentSubmitted(
        subject=campaign_id,
        data=CommentSubmittedData(
            comment_id=new_id(),
            participant_id=new_id(),
            text=text,
            text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        ),
    )


async def put(js: JetStreamContext, namespace: str, event: Event, *, msg_id: str = "") -> int:
    """Publish as intake does; a different ``msg_id`` makes JetStream store a second copy."""
    ack = await js.publish(
        event.subject_for(namespace, "events"),
        event.to_json(),
        headers={"Nats-Msg-Id": msg_id or event.id},
    )
    return ack.seq


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def count(js: JetStreamContext, namespace: str, stream: str, subject: str) -> int:
    info = await js.stream_info(f"{namespace.upper()}_{stream.upper()}", subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


async def last(js: JetStreamContext, namespace: str, stream: str, subject: str) -> Event:
    message = await js.get_last_msg(f"{namespace.upper()}_{stream.upper()}", subject)
    assert message.data is not None
    return parse_event(message.data)


async def wait_handled(js: JetStreamContext, namespace: str, seq: int) -> None:
    """Until moderation has acknowledged every submitted comment up to stream sequence ``seq``."""

    async def handled() -> bool:
        info = await js.consumer_info(f"{namespace.upper()}_EVENTS", COMMENTS_CONSUMER)
        return bool(info.ack_floor.stream_seq >= seq and info.num_ack_pending == 0)

    await eventually(handled)


async def test_comments_are_moderated_and_published_once_with_personal_data_redacted(
    settings: ModerationSettings, js: JetStreamContext, namespace: str
) -> None:
    ns = namespace
    civil = comment("c-civil", "התוכנית של השר היא כישלון מוחלט. התקשרו אליי: 050-1234567")
    threat = comment("c-threat", "سَأَقْتُلُـــكَ يا حقير")

    async with running_app(create_app(settings)):
        # the same submitted comment reaches the stream twice (e.g. a producer retry after the
        # duplicate window), side by side and then once more after it was handled
        await put(js, ns, civil, msg_id="copy-1")
        await put(js, ns, civil, msg_id="copy-2")
        await wait_handled(js, ns, await put(js, ns, threat))
        await wait_handled(js, ns, await put(js, ns, civil, msg_id="copy-3"))
        await asyncio.sleep(0.3)  # anything late would show up now

        assert await count(js, ns, "events", f"{ns}.events.comment.moderated.c-civil") == 1
        assert await count(js, ns, "events", f"{ns}.events.comment.published.c-civil") == 1
        assert await count(js, ns, "public", f"{ns}.public.comment.published.c-civil") == 1
        published = await last(js, ns, "public", f"{ns}.public.comment.published.c-civil")
        assert isinstance(published, CommentPublished)
        assert published.id == derived_id(civil.data.comment_id, "published", "auto")
        assert published.data.comment_id == civil.data.comment_id
        assert published.data.text == "התוכנית של השר היא כישלון מוחלט. התקשרו אליי: [phone]"
        assert published.data.language == "he"
        moderated = await last(js, ns, "events", f"{ns}.events.comment.moderated.c-civil")
        assert isinstance(moderated, CommentModerated)
        assert moderated.data.decision == "approve"
        assert moderated.data.automatic

        # the threat is rejected, with a statement in Arabic, and never published
        rejected = await last(js, ns, "events", f"{ns}.events.comment.moderated.c-threat")
        assert isinstance(rejected, CommentModerated)
        assert rejected.data.decision == "reject"
        assert rejected.data.reasons == ["threat", "abuse"]
        assert rejected.data.statement is not None
        assert "تهديد بالعنف" in rejected.data.statement
        assert await count(js, ns, "events", f"{ns}.events.comment.published.c-threat") == 0
        # nothing but publications reaches the public stream
        assert await count(js, ns, "public", f"{ns}.public.comment.moderated.*") == 0


async def test_pre_moderated_comment_waits_for_a_moderator_who_publishes_it(
    settings: ModerationSettings, js: JetStreamContext, namespace: str
) -> None:
    ns = namespace
    campaign = CampaignCreated(
        subject="c-pre",
        data=CampaignSnapshot(
            campaign_id="c-pre",
            status="open",
            title=LocalizedText(he="תחבורה ציבורית"),
            moderation_mode="pre",
        ),
    )
    waiting = comment("c-pre", "צריך יותר אוטובוסים בלילה. המייל שלי dana@example.org")

    async with running_app(create_app(settings)) as client:
        # published back to back: the comment may well be handled before the campaign event
        await put(js, ns, campaign)
        await put(js, ns, waiting)
        comment_id = waiting.data.comment_id

        async def queued() -> bool:
            answer = await client.get("/v1/queue?campaign_id=c-pre", headers=MODERATOR)
            assert answer.status_code == 200
            return bool(answer.json()["items"])

        await eventually(queued)
        items = (await client.get("/v1/queue", headers=MODERATOR)).json()["items"]
        assert [item["comment_id"] for item in items] == [comment_id]
        item = items[0]
        assert item["campaign_id"] == "c-pre"
        assert item["text"] == "צריך יותר אוטובוסים בלילה. המייל שלי [email]"
        assert item["language"] == "he"
        assert item["reasons"] == ["pre_moderation", "pii_redacted"]
        assert item["submitted_at"]
        assert await count(js, ns, "events", f"{ns}.events.comment.published.c-pre") == 0

        decided = await client.post(
            f"/v1/comments/{comment_id}/decision",
            json={"decision": "approve", "reason": "On topic and civil"},
            headers=MODERATOR,
        )
        assert decided.status_code == 200, decided.text
        body = decided.json()
        assert (body["status"], body["decided_by"], body["moderator"]) == (
            "approved",
            "human",
            "dev",
        )

        async def published() -> bool:
            return await count(js, ns, "public", f"{ns}.public.comment.published.c-pre") == 1

        await eventually(published)
        event = await last(js, ns, "public", f"{ns}.public.comment.published.c-pre")
        assert isinstance(event, CommentPublished)
        assert event.id == derived_id(comment_id, "published", "human")
        assert event.data.text == "צריך יותר אוטובוסים בלילה. המייל שלי [email]"
        assert await count(js, ns, "events", f"{ns}.events.comment.published.c-pre") == 1
        human = await last(js, ns, "events", f"{ns}.events.comment.moderated.c-pre")
        assert isinstance(human, CommentModerated)
        assert (human.data.automatic, human.data.moderator) == (False, "dev")
        assert human.data.statement == "On topic and civil"
        assert (await client.get("/v1/queue", headers=MODERATOR)).json() == {"items": []}

        # the same decision again is fine; a different one is a conflict
        again = await client.post(
            f"/v1/comments/{comment_id}/decision",
            json={"decision": "approve", "reason": "On topic and civil"},
            headers=MODERATOR,
        )
        assert again.status_code == 200
        conflict = await client.post(
            f"/v1/comments/{comment_id}/decision",
            json={"decision": "reject", "reason": "changed my mind"},
            headers=MODERATOR,
        )
        assert conflict.status_code == 409
        assert conflict.headers["content-type"] == "application/problem+json"
        await asyncio.sleep(0.2)
        assert await count(js, ns, "public", f"{ns}.public.comment.published.c-pre") == 1


async def test_decisions_on_unknown_comments_and_bad_bodies_are_refused(
    settings: ModerationSettings,
) -> None:
    async with running_app(create_app(settings)) as client:
        unknown = await client.post(
            "/v1/comments/no-such-comment/decision",
            json={"decision": "approve", "reason": "ok"},
            headers=MODERATOR,
        )
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        for bad in (
            {"decision": "maybe", "reason": "ok"},
            {"decision": "approve", "reason": ""},
            {"decision": "approve", "reason": "   "},
            {"decision": "approve", "reason": "x" * 2001},
            {"decision": "approve"},
            {"decision": "approve", "reason": "ok", "extra": 1},
        ):
            answer = await client.post("/v1/comments/x/decision", json=bad, headers=MODERATOR)
            assert answer.status_code == 422, bad
            assert answer.headers["content-type"] == "application/problem+json"
        for query in ("limit=0", "limit=501", "limit=many", "campaign_id="):
            answer = await client.get(f"/v1/queue?{query}", headers=MODERATOR)
            assert answer.status_code == 422, query


async def test_queue_and_decisions_need_a_moderator(settings: ModerationSettings) -> None:
    body = {"decision": "approve", "reason": "ok"}
    async with running_app(create_app(settings)) as client:
        for headers, status in (
            ({}, 401),
            ({"Authorization": "Bearer not-a-token"}, 401),
            (staff_headers(Role.ANALYST), 403),
            (staff_headers(Role.INTEGRATOR), 403),
        ):
            queue = await client.get("/v1/queue", headers=headers)
            assert queue.status_code == status
            decision = await client.post("/v1/comments/x/decision", json=body, headers=headers)
            assert decision.status_code == status
            assert decision.headers["content-type"] == "application/problem+json"
        # admins may do what moderators do
        assert (await client.get("/v1/queue", headers=staff_headers(Role.ADMIN))).status_code == 200
