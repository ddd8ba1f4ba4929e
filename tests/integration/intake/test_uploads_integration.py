"""Meeting uploads against real NATS and MongoDB-wire servers: thousands of rows validated,
published with their provenance, and never twice, however often the file is posted."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NATS

from kolot.common.events import (
    CommentSubmitted,
    ParticipantRegistered,
    ResponseSubmitted,
    VoteCast,
)
from kolot.common.runtime import Runtime
from kolot.intake.app import create_app
from kolot.intake.settings import IntakeSettings
from tests.conftest import running_app, staff_headers
from tests.integration.intake.flows import (
    ADMIN,
    decide,
    eventually,
    open_campaign,
    participant,
    stream_events,
)

pytestmark = pytest.mark.integration

QUESTIONS = [
    {
        "id": "q1",
        "kind": "single",
        "prompt": {"he": "האם להאריך את הקו?"},
        "required": True,
        "options": [{"id": "yes"}, {"id": "no"}],
    },
]
COLUMNS = [
    "kind",
    "text",
    "answers",
    "target_id",
    "value",
    "participant_ref",
    "meeting_id",
    "facilitator",
    "recorded_at",
]


@pytest.fixture
async def intake(make_settings: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(IntakeSettings))
    async with running_app(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


def app_of(client: httpx.AsyncClient) -> FastAPI:
    app: FastAPI = client.app  # type: ignore[attr-defined]
    return app


async def stored_messages(nats_url: str, namespace: str) -> int:
    nc = NATS()
    await nc.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(f"{namespace.upper()}_EVENTS")
        return int(info.state.messages)
    finally:
        await nc.close()


async def published_comment(client: httpx.AsyncClient, campaign_id: str) -> str:
    """A web comment, approved and published as moderation would, for the sheet's votes."""
    author = await participant(client)
    accepted = await client.post(
        f"/v1/campaigns/{campaign_id}/comments", json={"text": "קו לילה 480"}, headers=author
    )
    comment_id = str(accepted.json()["id"])
    runtime: Runtime = app_of(client).state.runtime
    await decide(runtime, campaign_id, comment_id, "approve", text="קו לילה 480")
    listed = await eventually(
        lambda: client.get(f"/v1/campaigns/{campaign_id}/comments"),
        until=lambda r: any(c["id"] == comment_id for c in r.json()["items"]),
    )
    assert any(c["id"] == comment_id for c in listed.json()["items"])
    return comment_id


def sheet(rows: int, target: str) -> tuple[bytes, dict[int, str]]:
    """A meeting sheet of ``rows`` rows (UTF-8 with a BOM, as Excel saves it) and the rows that
    are wrong on purpose (spreadsheet row number -> the field at fault)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    bad: dict[int, str] = {}
    for n in range(rows):
        number = n + 2  # the header is row 1
        meeting = f"meeting-{n // 1000}"
        ref = f"speaker-{n % 250}"
        if n % 97 == 5:
            writer.writerow(["comment", "   ", "", "", "", ref, meeting, "רותי", ""])
            bad[number] = "text"
        elif n % 89 == 7:
            writer.writerow(["comment", "no facilitator", "", "", "", ref, meeting, "", ""])
            bad[number] = "facilitator"
        elif n % 10 == 3:
            answer = json.dumps({"q1": "maybe" if n % 83 == 3 else "yes"})
            writer.writerow(["response", "", answer, "", "", ref, meeting, "רותי", ""])
            if n % 83 == 3:
                bad[number] = "answers.q1"
        elif n % 10 == 4:
            writer.writerow(["vote", "", "", target, "1", ref, meeting, "رامي", ""])
        else:
            text = f"הערה {n}: צריך יותר צל בתחנות / نحتاج إلى مزيد من الظل {n}"
            writer.writerow(
                [
                    "comment",
                    text,
                    "",
                    "",
                    "",
                    ref if n % 3 else "",
                    meeting,
                    "رامي",
                    "2026-11-20T18:30:00+02:00",
                ]
            )
    return b"\xef\xbb\xbf" + out.getvalue().encode(), bad


async def wait_done(client: httpx.AsyncClient, location: str) -> dict[str, Any]:
    response = await eventually(
        lambda: client.get(location, headers=ADMIN),
        until=lambda r: r.json().get("status") in {"done", "failed"},
        timeout=90,
    )
    job: dict[str, Any] = response.json()
    return job


async def test_a_large_sheet_is_validated_published_with_provenance_and_never_twice(
    intake: httpx.AsyncClient, nats_url: str, namespace: str
) -> None:
    campaign_id = await open_campaign(intake, questions=QUESTIONS)
    target = await published_comment(intake, campaign_id)
    body, bad = sheet(3000, target)
    before = await stored_messages(nats_url, namespace)

    started = time.perf_counter()
    posted = await intake.post(
        f"/v1/campaigns/{campaign_id}/uploads",
        content=body,
        headers={**ADMIN, "Content-Type": "text/csv; charset=utf-8"},
    )
    assert posted.status_code == 202, posted.text
    location = posted.headers["location"]
    assert location == f"/v1/uploads/{posted.json()['id']}"
    job = await wait_done(intake, location)
    elapsed = time.perf_counter() - started
    print(f"upload of 3000 rows: {elapsed:.2f} s, {3000 / elapsed:.0f} rows/s")

    assert job["status"] == "done", job
    assert (job["total"], job["rejected"], job["published"]) == (3000, len(bad), 3000 - len(bad))
    assert {(e["row"], e["field"]) for e in job["errors"]} == set(bad.items())

    upload_id = job["id"]
    comments = [
        c
        for c in await stream_events(
            nats_url, namespace, f"{namespace}.events.comment.submitted.{campaign_id}"
        )
        if c.data.provenance and c.data.provenance.upload_id == upload_id
    ]
    responses = await stream_events(
        nats_url, namespace, f"{namespace}.events.response.submitted.{campaign_id}"
    )
    votes = await stream_events(nats_url, namespace, f"{namespace}.events.vote.cast.{campaign_id}")
    assert len(comments) + len(responses) + len(votes) == 3000 - len(bad)
    for event in [*comments, *responses, *votes]:
        assert isinstance(event, CommentSubmitted | ResponseSubmitted | VoteCast)
        assert event.data.channel == "meeting"
        provenance = event.data.provenance
        assert provenance is not None
        assert provenance.upload_id == upload_id
        assert str(provenance.meeting_id).startswith("meeting-")
        assert provenance.facilitator in {"רותי", "رامي"}
    assert all(v.data.target_id == target for v in votes)
    # the meeting's time, not the upload's, where the sheet gives it
    assert comments[0].time.isoformat() == "2026-11-20T18:30:00+02:00"
    # 250 named speakers share their participants; every unnamed row is a participant of its own
    speakers = {c.data.participant_id for c in comments if c.data.provenance}
    registrations = [
        e
        for e in await stream_events(nats_url, namespace, f"{namespace}.events.participant.>")
        if isinstance(e, ParticipantRegistered) and e.data.channel == "meeting"
    ]
    assert speakers <= {r.data.participant_id for r in registrations}
    assert len({r.id for r in registrations}) == len(registrations)

    after = await stored_messages(nats_url, namespace)
    # posting the same file again: the same job, done; not one more event in the stream
    again = await intake.post(
        f"/v1/campaigns/{campaign_id}/uploads",
        content=body,
        headers={**ADMIN, "Content-Type": "text/csv"},
    )
    assert again.status_code == 202
    assert again.json()["id"] == upload_id
    assert again.json()["status"] == "done"
    await asyncio.sleep(0.5)
    assert await stored_messages(nats_url, namespace) == after
    assert after - before >= 3000 - len(bad)


async def test_an_upload_whose_replica_died_resumes_without_duplicates(
    intake: httpx.AsyncClient, nats_url: str, namespace: str
) -> None:
    campaign_id = await open_campaign(intake)
    body, _ = sheet(1200, "none")  # no survey here: responses are rejected, votes miss
    posted = await intake.post(
        f"/v1/campaigns/{campaign_id}/uploads",
        content=body,
        headers={**ADMIN, "Content-Type": "text/csv"},
    )
    first = await wait_done(intake, posted.headers["location"])
    assert first["status"] == "done"
    assert first["published"] > 0
    stored = await stored_messages(nats_url, namespace)

    # as a replica that died after its first chunk would have left it: stale, mid-way
    uploads = app_of(intake).state.intake.repository.collection("uploads")
    await uploads.update_one(
        {"_id": first["id"]},
        {
            "$set": {
                "status": "publishing",
                "published": 500,
                "chunks_done": 1,
                "lease": "dead-replica",
                "updated_at": "2026-01-01T00:00:00.000000Z",
            }
        },
    )
    resumed = await intake.post(
        f"/v1/campaigns/{campaign_id}/uploads",
        content=body,
        headers={**ADMIN, "Content-Type": "text/csv"},
    )
    assert resumed.status_code == 202
    assert resumed.json()["status"] in {"validating", "publishing", "done"}
    second = await wait_done(intake, posted.headers["location"])
    assert (second["status"], second["published"], second["rejected"]) == (
        "done",
        first["published"],
        first["rejected"],
    )
    assert await stored_messages(nats_url, namespace) == stored


async def test_what_cannot_be_uploaded_is_refused_with_a_problem(
    intake: httpx.AsyncClient,
) -> None:
    campaign_id = await open_campaign(intake)
    path = f"/v1/campaigns/{campaign_id}/uploads"
    wrong_type = await intake.post(
        path, content=b"kind\ncomment\n", headers={**ADMIN, "Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    unreadable = await intake.post(
        path, content=b"kind,colour\ncomment,red\n", headers={**ADMIN, "Content-Type": "text/csv"}
    )
    assert unreadable.status_code == 422
    assert "colour" in unreadable.json()["detail"]
    moderator = await intake.post(
        path,
        content=b"kind\ncomment\n",
        headers={**staff_headers("moderator"), "Content-Type": "text/csv"},
    )
    assert moderator.status_code == 403
    unknown = await intake.post(
        "/v1/campaigns/no-such-campaign/uploads",
        content=b"kind\ncomment\n",
        headers={**ADMIN, "Content-Type": "text/csv"},
    )
    assert unknown.status_code == 404
    missing = await intake.get("/v1/uploads/no-such-upload", headers=ADMIN)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"

    # a JSON upload: rows as objects, answers as objects
    rows = [
        {"kind": "comment", "text": "מים בפארק", "meeting_id": "m", "facilitator": "f"},
        {"kind": "comment", "text": "", "meeting_id": "m", "facilitator": "f"},
    ]
    posted = await intake.post(
        path,
        content=json.dumps(rows, ensure_ascii=False).encode(),
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert posted.status_code == 202, posted.text
    job = await wait_done(intake, posted.headers["location"])
    assert (job["published"], job["rejected"]) == (1, 1)
    assert job["errors"] == [{"row": 2, "field": "text", "message": "the comment is empty"}]


async def test_meetings_held_before_the_closing_can_be_uploaded_after_it(
    intake: httpx.AsyncClient,
) -> None:
    campaign_id = await open_campaign(intake)
    closed = await intake.post(f"/v1/campaigns/{campaign_id}/close", headers=ADMIN)
    closes_at = closed.json()["closes_at"]
    assert closes_at is not None  # closing by hand records when
    await asyncio.sleep(0.05)
    after_closing = datetime.now(UTC).isoformat()
    rows = [
        {
            "kind": "comment",
            "text": "נאמר בכנס",
            "meeting_id": "m1",
            "facilitator": "f",
            "recorded_at": "2026-01-05T18:00:00+02:00",
        },
        {"kind": "comment", "text": "בלי זמן", "meeting_id": "m1", "facilitator": "f"},
        {
            "kind": "comment",
            "text": "אחרי הסגירה",
            "meeting_id": "m2",
            "facilitator": "f",
            "recorded_at": after_closing,
        },
    ]
    posted = await intake.post(
        f"/v1/campaigns/{campaign_id}/uploads",
        content=json.dumps(rows, ensure_ascii=False).encode(),
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert posted.status_code == 202, posted.text
    job = await wait_done(intake, posted.headers["location"])
    assert job["published"] == 1
    assert {(e["row"], e["field"]) for e in job["errors"]} == {
        (2, "recorded_at"),
        (3, "recorded_at"),
    }
