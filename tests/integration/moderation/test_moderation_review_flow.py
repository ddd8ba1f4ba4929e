"""Flags, appeals and form letters on real NATS JetStream and nx-27017, with redeliveries."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from nats.js import JetStreamContext

from kolot.common.auth import Role, issue_staff_token
from kolot.common.events import (
    AppealDecided,
    AppealFiled,
    AppealFiledData,
    CommentFlagged,
    CommentFlaggedData,
    CommentHidden,
    CommentPublished,
    CommentSubmitted,
    CommentSubmittedData,
    ModerationAlert,
    derived_id,
    new_id,
)
from kolot.moderation.app import create_app
from kolot.moderation.handlers import APPEALS_CONSUMER, FLAGS_CONSUMER
from kolot.moderation.settings import ModerationSettings
from tests.conftest import DEV_JWT_SECRET, running_app
from tests.integration.moderation.test_moderation_flow import (
    count,
    eventually,
    last,
    put,
    wait_handled,
)
from tests.unit.moderation.eval_set import form_letter

pytestmark = pytest.mark.integration


def moderator(subject: str) -> dict[str, str]:
    token = issue_staff_token(DEV_JWT_SECRET, roles=[Role.MODERATOR], subject=subject)
    return {"Authorization": f"Bearer {token}"}


def submitted(campaign: str, text: str, *, author: str = "author") -> CommentSubmitted:
    return CommentSubmitted(
        subject=campaign,
        data=CommentSubmittedData(
            comment_id=new_id(),
            participant_id=author,
            text=text,
            text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        ),
    )


async def wait_consumer(js: JetStreamContext, namespace: str, consumer: str, seq: int) -> None:
    async def handled() -> bool:
        info = await js.consumer_info(f"{namespace.upper()}_EVENTS", consumer)
        return bool(info.ack_floor.stream_seq >= seq and info.num_ack_pending == 0)

    await eventually(handled)


async def test_flags_of_three_participants_hide_a_comment_once_despite_redelivery(
    settings: ModerationSettings,
    js: JetStreamContext,
    namespace: str,
) -> None:
    ns = namespace
    civil = submitted("c-flags", "The new road plan ignores the cyclists completely")
    comment_id = civil.data.comment_id

    def flag(by: str) -> CommentFlagged:
        return CommentFlagged(
            subject="c-flags",
            data=CommentFlaggedData(comment_id=comment_id, participant_id=by, reason="abuse"),
        )

    flags = [flag("p1"), flag("p1"), flag("p2")]
    async with running_app(create_app(settings)) as client:
        await wait_handled(js, ns, await put(js, ns, civil))
        for event in flags:
            seq = await put(js, ns, event)
        await wait_consumer(js, ns, FLAGS_CONSUMER, seq)
        assert await count(js, ns, "public", f"{ns}.public.comment.hidden.c-flags") == 0

        third = flag("p3")
        await put(js, ns, third)
        # the same flags again, stored as new messages (a producer retry after the window)
        seq = await put(js, ns, third, msg_id="again-3")
        seq = await put(js, ns, flags[2], msg_id="again-2")
        await wait_consumer(js, ns, FLAGS_CONSUMER, seq)
        await asyncio.sleep(0.3)

        assert await count(js, ns, "public", f"{ns}.public.comment.hidden.c-flags") == 1
        hidden = await last(js, ns, "public", f"{ns}.public.comment.hidden.c-flags")
        assert isinstance(hidden, CommentHidden)
        assert (hidden.data.comment_id, hidden.data.reason, hidden.data.flags) == (
            comment_id,
            "flags",
            3,
        )
        queue = await client.get("/v1/queue?flagged=true", headers=moderator("m1"))
        assert queue.status_code == 200
        (item,) = queue.json()["items"]
        assert (item["comment_id"], item["flags"], item["hidden_by_flags"]) == (
            comment_id,
            3,
            True,
        )
        audit = await client.get(f"/v1/audit?comment_id={comment_id}", headers=moderator("m1"))
        assert [e["action"] for e in audit.json()["items"]] == ["flags", "auto"]


async def test_an_appeal_is_decided_by_another_moderator_and_republishes(
    settings: ModerationSettings,
    js: JetStreamContext,
    namespace: str,
) -> None:
    ns = namespace
    text = "The minister's plan is a disgrace and he should resign"
    harsh = submitted("c-appeal", text)
    comment_id = harsh.data.comment_id
    filed = AppealFiled(
        subject="c-appeal",
        data=AppealFiledData(
            appeal_id=new_id(), comment_id=comment_id, participant_id="author", text="Unfair"
        ),
    )
    appeal_id = filed.data.appeal_id
    async with running_app(create_app(settings)) as client:
        await wait_handled(js, ns, await put(js, ns, harsh))
        rejected = await client.post(
            f"/v1/comments/{comment_id}/decision",
            json={"decision": "reject", "reason": "Too harsh"},
            headers=moderator("m1"),
        )
        assert rejected.status_code == 200, rejected.text
        await put(js, ns, filed)
        await wait_consumer(js, ns, APPEALS_CONSUMER, await put(js, ns, filed, msg_id="again"))

        mine = await client.get("/v1/appeals", headers=moderator("m1"))
        assert mine.json() == {"items": []}  # never the appeals against your own decisions
        theirs = await client.get("/v1/appeals", headers=moderator("m2"))
        assert [a["appeal_id"] for a in theirs.json()["items"]] == [appeal_id]

        refused = await client.post(
            f"/v1/appeals/{appeal_id}/decision",
            json={"outcome": "overturned", "statement": "fine"},
            headers=moderator("m1"),
        )
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        body = {"outcome": "overturned", "statement": "Harsh criticism is allowed"}
        decided = await client.post(
            f"/v1/appeals/{appeal_id}/decision", json=body, headers=moderator("m2")
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["comment"]["status"] == "approved"
        again = await client.post(
            f"/v1/appeals/{appeal_id}/decision", json=body, headers=moderator("m2")
        )
        assert again.status_code == 200
        conflict = await client.post(
            f"/v1/appeals/{appeal_id}/decision",
            json={"outcome": "upheld", "statement": "no"},
            headers=moderator("m3"),
        )
        assert conflict.status_code == 409
        unknown = await client.post("/v1/appeals/nope/decision", json=body, headers=moderator("m2"))
        assert unknown.status_code == 404

        async def published() -> bool:
            # published at once (auto), hidden by m1, published again by the appeal
            subject = f"{ns}.public.comment.published.c-appeal"
            return await count(js, ns, "public", subject) == 2

        await eventually(published)
        event = await last(js, ns, "public", f"{ns}.public.comment.published.c-appeal")
        assert isinstance(event, CommentPublished)
        assert event.id == derived_id(comment_id, "published", "appeal")
        outcome = await last(js, ns, "events", f"{ns}.events.appeal.decided.c-appeal")
        assert isinstance(outcome, AppealDecided)
        assert (outcome.data.outcome, outcome.data.moderator, outcome.data.participant_id) == (
            "overturned",
            "m2",
            "author",
        )
        assert await count(js, ns, "events", f"{ns}.events.appeal.decided.c-appeal") == 1
        report = await client.get("/v1/campaigns/c-appeal/transparency", headers=moderator("m2"))
        assert report.status_code == 200
        assert report.json()["appeals"] == {"open": 0, "upheld": 0, "overturned": 1}


async def test_form_letters_are_published_once_with_their_count_despite_redelivery(
    settings: ModerationSettings,
    js: JetStreamContext,
    namespace: str,
) -> None:
    ns = namespace
    letters = [submitted("c-form", form_letter(i), author=f"p{i}") for i in range(8)]
    async with running_app(create_app(settings)) as client:
        await wait_handled(js, ns, await put(js, ns, letters[0]))
        for letter in letters[1:]:
            seq = await put(js, ns, letter)
        seq = await put(js, ns, letters[3], msg_id="again")  # a copy delivered twice
        await wait_handled(js, ns, seq)
        await asyncio.sleep(0.3)

        subject = f"{ns}.public.comment.published.c-form"
        info = await js.stream_info(f"{ns.upper()}_PUBLIC", subjects_filter=subject)
        assert info.state.messages >= 2
        latest = await last(js, ns, "public", subject)
        assert isinstance(latest, CommentPublished)
        assert latest.data.comment_id == letters[0].data.comment_id
        assert (latest.data.cluster_id, latest.data.cluster_size) == (
            letters[0].data.comment_id,
            8,
        )
        assert await count(js, ns, "events", f"{ns}.events.comment.moderated.c-form") == 8
        analyst = {
            "Authorization": "Bearer "
            + issue_staff_token(DEV_JWT_SECRET, roles=[Role.ANALYST], subject="analyst")
        }
        report = await client.get("/v1/campaigns/c-form/transparency", headers=analyst)
        assert report.status_code == 200
        assert report.json()["form_letter_copies"] == 7
        (cluster,) = report.json()["form_letters"]  # visible to analysts
        assert (cluster["cluster_id"], cluster["size"]) == (letters[0].data.comment_id, 8)
        assert cluster["text"].startswith("Dear committee")


async def test_a_burst_of_threats_raises_one_abuse_alert(
    settings: ModerationSettings,
    js: JetStreamContext,
    namespace: str,
) -> None:
    ns = namespace
    threats = [submitted("c-surge", f"I will kill you {i}", author=f"p{i}") for i in range(9)]
    # look at the windows continuously (in service, every few seconds)
    settings = settings.model_copy(update={"surge_check_seconds": 0.0})
    async with running_app(create_app(settings)):
        for event in threats:
            seq = await put(js, ns, event)
        await wait_handled(js, ns, seq)
        await wait_handled(js, ns, await put(js, ns, threats[0], msg_id="again"))

        subject = f"{ns}.events.moderation.alert.c-surge"
        # the surge loop looks in the background (here continuously): wait for its round
        async with asyncio.timeout(10):
            while not await count(js, ns, "events", subject):
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # more rounds, with the redelivered threat: still one alert
        assert await count(js, ns, "events", subject) == 1
        alert = await last(js, ns, "events", subject)
        assert isinstance(alert, ModerationAlert)
        assert (alert.data.kind, alert.data.state, alert.data.observed) == (
            "abuse_surge",
            "raised",
            9.0,
        )
