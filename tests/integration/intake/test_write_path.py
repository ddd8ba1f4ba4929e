"""Intake against a real NATS and a real MongoDB-wire server: the log-first write path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from kolot.common.events import (
    CommentModerated,
    CommentModeratedData,
    CommentPublished,
    CommentPublishedData,
    derived_id,
)
from kolot.intake.app import create_app
from kolot.intake.settings import IntakeSettings
from tests.conftest import running_app, staff_headers
from tests.integration.intake.flows import (
    ADMIN,
    eventually,
    open_campaign,
    participant,
    stream_events,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def intake(make_settings: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(IntakeSettings))
    async with running_app(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def test_comment_is_committed_to_the_stream_once_per_idempotency_key(
    intake: httpx.AsyncClient, nats_url: str, namespace: str
) -> None:
    campaign_id = await open_campaign(intake)
    author = await participant(intake)
    body = {"text": "  אני מתנגד\u202e לתוכנית, היא תפגע בפריפריה  "}
    first = await intake.post(
        f"/v1/campaigns/{campaign_id}/comments",
        json=body,
        headers={**author, "Idempotency-Key": "k-1"},
    )
    again = await intake.post(
        f"/v1/campaigns/{campaign_id}/comments",
        json=body,
        headers={**author, "Idempotency-Key": "k-1"},
    )
    assert first.status_code == 202, first.text
    assert first.json()["status"] == "pending"
    assert again.json()["id"] == first.json()["id"]

    events = await stream_events(nats_url, namespace, f"{namespace}.events.comment.submitted.*")
    assert [e.id for e in events] == [first.json()["id"]]
    # bidi override removed, NFC, trimmed
    assert events[0].data.text == "אני מתנגד לתוכנית, היא תפגע בפריפריה"

    verdict = await intake.post(
        "/v1/receipts/verify", json={"receipt": first.json()["receipt"], "text": body["text"]}
    )
    assert verdict.json()["valid"] is True
    assert verdict.json()["text_matches"] is True
    forged = await intake.post(
        "/v1/receipts/verify", json={"receipt": first.json()["receipt"], "text": "something else"}
    )
    assert forged.json()["text_matches"] is False


async def test_published_comment_becomes_visible_and_author_sees_status(
    intake: httpx.AsyncClient,
) -> None:
    campaign_id = await open_campaign(intake)
    author = await participant(intake)
    accepted = await intake.post(
        f"/v1/campaigns/{campaign_id}/comments",
        json={"text": "צריך עוד קווי אוטובוס"},
        headers=author,
    )
    comment_id = accepted.json()["id"]

    own = await eventually(lambda: intake.get(f"/v1/comments/{comment_id}", headers=author))
    assert own.json()["status"] == "pending"
    assert (await intake.get(f"/v1/campaigns/{campaign_id}/comments")).json()["items"] == []

    # moderation's events, as moderation would publish them
    runtime = intake.app.state.runtime  # type: ignore[attr-defined]
    await runtime.publisher.publish(
        CommentModerated(
            id=derived_id(comment_id, "moderated"),
            source="kolot/moderation",
            subject=campaign_id,
            data=CommentModeratedData(
                comment_id=comment_id,
                decision="approve",
                automatic=True,
                redacted_text="צריך עוד קווי אוטובוס",
                language="he",
            ),
        ),
    )
    await runtime.publisher.publish(
        CommentPublished(
            id=derived_id(comment_id, "published"),
            subject=campaign_id,
            data=CommentPublishedData(
                comment_id=comment_id, text="צריך עוד קווי אוטובוס", language="he"
            ),
        )
    )
    page = await eventually(
        lambda: intake.get(f"/v1/campaigns/{campaign_id}/comments"),
        until=lambda r: len(r.json()["items"]) == 1,
    )
    item = page.json()["items"][0]
    assert item["id"] == comment_id
    assert item["language"] == "he"
    own = await intake.get(f"/v1/comments/{comment_id}", headers=author)
    assert own.json()["status"] == "published"
    other = await participant(intake)
    assert (await intake.get(f"/v1/comments/{comment_id}", headers=other)).status_code == 404


async def test_closed_or_unknown_campaign_refuses_comments_with_problem_details(
    intake: httpx.AsyncClient,
) -> None:
    campaign_id = await open_campaign(intake)
    author = await participant(intake)
    closed = await intake.post(f"/v1/campaigns/{campaign_id}/close", headers=ADMIN)
    assert closed.json()["status"] == "closed"
    refused = await intake.post(
        f"/v1/campaigns/{campaign_id}/comments", json={"text": "late"}, headers=author
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/campaign-not-open")
    unknown = await intake.post("/v1/campaigns/nope/comments", json={"text": "x"}, headers=author)
    assert unknown.status_code == 404


async def test_opening_needs_a_purpose(intake: httpx.AsyncClient) -> None:
    created = await intake.post(
        "/v1/campaigns", json={"title": {"en": "No purpose"}}, headers=ADMIN
    )
    refused = await intake.post(f"/v1/campaigns/{created.json()['id']}/open", headers=ADMIN)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/purpose-required")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/campaigns", {"title": {"en": "x"}}),
        ("post", "/v1/campaigns/any/open", None),
        ("post", "/v1/campaigns/any/close", None),
    ],
)
async def test_staff_routes_refuse_without_token_or_with_a_wrong_role(
    intake: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    anonymous = await intake.request(method, path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    for role in ("moderator", "analyst", "integrator"):
        wrong = await intake.request(method, path, json=body, headers=staff_headers(role))
        assert wrong.status_code == 403, role


async def test_comment_needs_a_valid_participant_token(intake: httpx.AsyncClient) -> None:
    campaign_id = await open_campaign(intake)
    missing = await intake.post(f"/v1/campaigns/{campaign_id}/comments", json={"text": "x"})
    assert missing.status_code == 401
    forged = await intake.post(
        f"/v1/campaigns/{campaign_id}/comments",
        json={"text": "x"},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert forged.status_code == 401
    staff = await intake.post(
        f"/v1/campaigns/{campaign_id}/comments", json={"text": "x"}, headers=ADMIN
    )
    assert staff.status_code == 401


async def test_bad_bodies_get_problem_details(intake: httpx.AsyncClient) -> None:
    campaign_id = await open_campaign(intake)
    author = await participant(intake)
    for body in ({"text": ""}, {"text": "   "}, {"nope": 1}, {"text": "x", "extra": 1}):
        response = await intake.post(
            f"/v1/campaigns/{campaign_id}/comments", json=body, headers=author
        )
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    too_long = await intake.post(
        f"/v1/campaigns/{campaign_id}/comments", json={"text": "א" * 10_001}, headers=author
    )
    assert too_long.status_code == 422
    assert too_long.json()["type"].endswith("/comment-too-long")
    bad_json = await intake.post(
        f"/v1/campaigns/{campaign_id}/comments",
        content=b"{not json",
        headers={**author, "content-type": "application/json"},
    )
    assert bad_json.status_code == 422


async def test_trace_context_travels_from_the_request_across_the_bus(
    make_settings: Callable[..., Any],
) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    app = create_app(make_settings(IntakeSettings))
    exporter = InMemorySpanExporter()
    app.state.runtime.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with running_app(app) as client:
        campaign_id = await open_campaign(client)
        author = await participant(client)
        accepted = await client.post(
            f"/v1/campaigns/{campaign_id}/comments", json={"text": "שאלה"}, headers=author
        )
        comment_id = accepted.json()["id"]
        await eventually(lambda: client.get(f"/v1/comments/{comment_id}", headers=author))

    spans = exporter.get_finished_spans()
    request = next(
        s for s in spans if s.kind.name == "SERVER" and "comments" in s.name and "POST" in s.name
    )
    published = next(
        s for s in spans if s.name.endswith(f"comment.submitted.{campaign_id} publish")
    )
    assert published.context.trace_id == request.context.trace_id  # the publish is in the request
    consumed = [s for s in spans if s.name == "intake-comments process"]
    linked = {link.context.span_id for s in consumed for link in s.links}
    assert published.context.span_id in linked  # and the consumer links to that publish


async def test_published_comments_are_listed_newest_first_across_pages(
    intake: httpx.AsyncClient,
) -> None:
    campaign_id = await open_campaign(intake)
    author = await participant(intake)
    runtime = intake.app.state.runtime  # type: ignore[attr-defined]
    ids = []
    for n in range(5):
        # idempotency keys give derived (not time-ordered) ids: the order must not depend on them
        accepted = await intake.post(
            f"/v1/campaigns/{campaign_id}/comments",
            json={"text": f"הערה מספר {n}"},
            headers={**author, "Idempotency-Key": f"key-{n}"},
        )
        ids.append(accepted.json()["id"])
    await runtime.publisher.publish(
        *(
            CommentPublished(
                id=derived_id(comment_id, "published"),
                subject=campaign_id,
                data=CommentPublishedData(comment_id=comment_id, text=f"הערה {n}", language="he"),
            )
            for n, comment_id in enumerate(ids)
        )
    )
    await eventually(
        lambda: intake.get(f"/v1/campaigns/{campaign_id}/comments"),
        until=lambda r: len(r.json()["items"]) == 5,
    )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await intake.get(f"/v1/campaigns/{campaign_id}/comments", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    bad = await intake.get(f"/v1/campaigns/{campaign_id}/comments", params={"cursor": "%%%"})
    assert bad.status_code == 400
