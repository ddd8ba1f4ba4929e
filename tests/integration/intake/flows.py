"""Steps that intake's integration tests share: a running intake, a campaign, participants, and
the moderation decisions (published on the bus as the moderation service would)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from nats.aio.client import Client as NATS

from kolot.common.events import (
    CommentModerated,
    CommentModeratedData,
    CommentPublished,
    CommentPublishedData,
    Decision,
    derived_id,
    parse_event,
)
from kolot.common.runtime import Runtime
from kolot.intake.app import create_app
from kolot.intake.settings import IntakeSettings
from tests.conftest import staff_headers

ADMIN = staff_headers("admin")


def intake_app(make_settings: Callable[..., Any], **overrides: Any) -> FastAPI:
    """An intake whose participant rate limits leave room for a test's many requests."""
    settings = make_settings(
        IntakeSettings, rate_participant_per_minute=6000, rate_participant_burst=1000, **overrides
    )
    return create_app(settings)


def runtime_of(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


async def create_campaign(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {
        "title": {"he": "תחבורה ציבורית", "ar": "المواصلات العامة", "en": "Public transport"},
        "purpose": {"he": "לשמוע את הציבור לפני תיקון התקנות"},
        "use_of_input": {"he": "המשרד יפרסם מה שינה בעקבות התגובות"},
        **fields,
    }
    created = await client.post("/v1/campaigns", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    campaign: dict[str, Any] = created.json()
    return campaign


async def open_campaign(client: httpx.AsyncClient, **fields: Any) -> str:
    campaign = await create_campaign(client, **fields)
    opened = await client.post(f"/v1/campaigns/{campaign['id']}/open", headers=ADMIN)
    assert opened.status_code == 200, opened.text
    return str(campaign["id"])


async def register(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/participants", json=body or {"source": "facebook"})
    assert response.status_code == 201, response.text
    registered: dict[str, Any] = response.json()
    return registered


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def participant(client: httpx.AsyncClient, **body: Any) -> dict[str, str]:
    return bearer((await register(client, **body))["token"])


async def decide(
    runtime: Runtime,
    campaign_id: str,
    comment_id: str,
    decision: Decision,
    *,
    text: str = "",
    parent_id: str | None = None,
) -> None:
    """What the moderation service does: a decision, and publication when approved."""
    await runtime.publisher.publish(
        CommentModerated(
            id=derived_id(comment_id, "moderated", decision),
            subject=campaign_id,
            data=CommentModeratedData(
                comment_id=comment_id,
                decision=decision,
                automatic=True,
                reasons=[] if decision == "approve" else ["abuse"],
                statement=None if decision == "approve" else "The comment insults a person.",
                redacted_text=text,
                language="he",
            ),
        )
    )
    if decision == "approve":
        await runtime.publisher.publish(
            CommentPublished(
                id=derived_id(comment_id, "published"),
                subject=campaign_id,
                data=CommentPublishedData(
                    comment_id=comment_id, text=text, language="he", parent_id=parent_id
                ),
            )
        )


async def eventually(
    call: Callable[[], Any],
    *,
    until: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200,
    timeout: float = 10.0,
) -> httpx.Response:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response: httpx.Response = await call()
        if until(response) or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.1)


async def stream_events(nats_url: str, namespace: str, subject: str) -> list[Any]:
    """Every event stored on ``subject`` so far (an ephemeral consumer reads them all)."""
    nc = NATS()
    await nc.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(subject, stream=f"{namespace.upper()}_EVENTS")
        found: list[Any] = []
        try:
            while True:
                for msg in await sub.fetch(100, timeout=0.5):
                    found.append(parse_event(msg.data))
                    await msg.ack()
        except TimeoutError:
            pass
        return found
    finally:
        await nc.close()


async def raw_stream(nats_url: str, namespace: str, subject: str) -> list[bytes]:
    """The stored bytes on ``subject``, to check what never travels in clear."""
    nc = NATS()
    await nc.connect(nats_url)
    try:
        sub = await nc.jetstream().pull_subscribe(subject, stream=f"{namespace.upper()}_EVENTS")
        found: list[bytes] = []
        try:
            while True:
                for msg in await sub.fetch(100, timeout=0.5):
                    found.append(msg.data)
                    await msg.ack()
        except TimeoutError:
            pass
        return found
    finally:
        await nc.close()
