"""What the moderators' console reads from the API, on real NATS JetStream and nx-27017: queue
items with their highlights, redactions, channel and form letter; who a token belongs to; the
active surge alerts."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from nats.js import JetStreamContext

from kolot.common.auth import Role, issue_staff_token
from kolot.common.events import (
    CampaignCreated,
    CampaignSnapshot,
    CommentSubmitted,
    CommentSubmittedData,
    LocalizedText,
    new_id,
)
from kolot.common.problems import PROBLEM_BASE
from kolot.common.settings import DEV_JWT_SECRET
from kolot.moderation.app import create_app
from kolot.moderation.settings import ModerationSettings
from tests.conftest import running_app, staff_headers
from tests.integration.moderation.test_moderation_flow import eventually, put, wait_handled

pytestmark = pytest.mark.integration

MODERATOR = staff_headers(Role.MODERATOR)
LETTER = (
    "Dear committee, we the residents of the old quarter ask you to keep the bus line "
    "number five running through the market street at night"
)


def submitted(campaign: str, text: str, *, author: str, channel: str = "web") -> CommentSubmitted:
    return CommentSubmitted(
        subject=campaign,
        data=CommentSubmittedData.model_validate(
            {
                "comment_id": new_id(),
                "participant_id": author,
                "text": text,
                "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                "channel": channel,
            }
        ),
    )


def assert_problem(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].startswith(PROBLEM_BASE)


async def test_queue_items_show_matches_redactions_channel_and_their_form_letter(
    settings: ModerationSettings, js: JetStreamContext, namespace: str
) -> None:
    ns = namespace
    campaign = CampaignCreated(
        subject="c-console",
        data=CampaignSnapshot(
            campaign_id="c-console",
            status="open",
            title=LocalizedText(en="Night buses"),
            moderation_mode="pre",
        ),
    )
    rude = submitted(
        "c-console",
        "The minister is an idiot 🙄 write to dana@example.org",
        author="p-rude",
        channel="sms",
    )
    copies = [submitted("c-console", LETTER, author=f"p-letter-{i}") for i in range(3)]
    async with running_app(create_app(settings)) as client:
        await put(js, ns, campaign)
        for event in (rude, *copies):
            seq = await put(js, ns, event)
        await wait_handled(js, ns, seq)

        async def all_queued() -> bool:
            answer = await client.get("/v1/queue?campaign_id=c-console", headers=MODERATOR)
            return len(answer.json()["items"]) == 4

        await eventually(all_queued)
        items = {
            item["comment_id"]: item
            for item in (
                await client.get("/v1/queue?campaign_id=c-console", headers=MODERATOR)
            ).json()["items"]
        }
        shown = items[rude.data.comment_id]
        text = shown["text"]
        assert "dana@example.org" not in text
        # spans count code points (the emoji before the redaction is one)
        assert [(text[m["start"] : m["end"]], m["category"]) for m in shown["matches"]] == [
            ("idiot", "abuse")
        ]
        assert [(text[r["start"] : r["end"]], r["kind"]) for r in shown["redacted"]] == [
            ("[email]", "email")
        ]
        # as the rules read it: casefolded, look-alikes folded (the emoji too), PII still redacted
        assert shown["normalised_text"].startswith("the minister is an idiot ")
        assert shown["normalised_text"].endswith(" write to [email]")
        assert shown["channel"] == "sms"
        assert shown["cluster"] is None

        letter_ids = [c.data.comment_id for c in copies]
        for comment_id in letter_ids:
            assert items[comment_id]["cluster"] == {
                "cluster_id": letter_ids[0],
                "size": 3,
                "pending": 3,
            }
            assert items[comment_id]["matches"] == []

        decided = await client.post(
            "/v1/decisions",
            json={"comment_ids": letter_ids[:2], "decision": "approve", "reason": "Published."},
            headers=MODERATOR,
        )
        assert decided.status_code == 200, decided.text
        left = (
            await client.get(f"/v1/queue?cluster_id={letter_ids[0]}", headers=MODERATOR)
        ).json()["items"]
        assert [item["comment_id"] for item in left] == [letter_ids[2]]
        assert left[0]["cluster"] == {"cluster_id": letter_ids[0], "size": 3, "pending": 1}


async def test_me_says_whose_token_it_is_and_refuses_a_bad_one(
    settings: ModerationSettings,
) -> None:
    async with running_app(create_app(settings)) as client:
        token = issue_staff_token(DEV_JWT_SECRET, roles=[Role.MODERATOR], subject="dana")
        me = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        assert me.json() == {"subject": "dana", "roles": ["moderator"]}
        # the console tells an analyst the moderator role is missing: /v1/me answers them too
        analyst = await client.get("/v1/me", headers=staff_headers(Role.ANALYST))
        assert analyst.json()["roles"] == ["analyst"]

        assert_problem(await client.get("/v1/me"), 401)
        expired = issue_staff_token(DEV_JWT_SECRET, roles=[Role.MODERATOR], ttl=-60)
        refused = await client.get("/v1/me", headers={"Authorization": f"Bearer {expired}"})
        assert_problem(refused, 401)
        assert "expired" in refused.json()["detail"]


async def test_active_surge_alerts_are_listed_for_moderators(
    settings: ModerationSettings, js: JetStreamContext, namespace: str
) -> None:
    ns = namespace
    threats = [
        submitted("c-alerts", f"I will kill you {i}", author=f"p-alert-{i}") for i in range(9)
    ]
    settings = settings.model_copy(update={"surge_check_seconds": 0.0})
    async with running_app(create_app(settings)) as client:
        nothing = await client.get("/v1/alerts?active=true", headers=MODERATOR)
        assert nothing.status_code == 200
        assert nothing.json() == {"items": []}

        for event in threats:
            seq = await put(js, ns, event)
        await wait_handled(js, ns, seq)

        async def listed() -> bool:
            answer = await client.get("/v1/alerts?active=true", headers=MODERATOR)
            return bool(answer.json()["items"])

        await eventually(listed)
        (alert,) = (await client.get("/v1/alerts", headers=MODERATOR)).json()["items"]
        assert (alert["campaign_id"], alert["kind"], alert["state"]) == (
            "c-alerts",
            "abuse_surge",
            "raised",
        )
        assert alert["severity"] in {"warning", "critical"}
        other = await client.get("/v1/alerts?campaign_id=c-quiet", headers=MODERATOR)
        assert other.json() == {"items": []}

        assert_problem(await client.get("/v1/alerts?active=false", headers=MODERATOR), 422)
        assert_problem(await client.get("/v1/alerts", headers=staff_headers(Role.ANALYST)), 403)
        assert_problem(await client.get("/v1/alerts"), 401)
