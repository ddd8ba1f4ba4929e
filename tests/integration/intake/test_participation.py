"""The participation API against real NATS and MongoDB-wire servers: what citizens, organisations,
ministries and admins rely on, one rule at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kolot.common.contacts import ContactSealer
from kolot.common.events import (
    AppealFiled,
    CommentFlagged,
    CommentModerated,
    CommentModeratedData,
    CommentSubmitted,
    ParticipantRegistered,
    ParticipantVerified,
    ResponseSubmitted,
)
from kolot.intake.app import create_app
from kolot.intake.settings import IntakeSettings
from tests.conftest import running_app
from tests.integration.intake.flows import (
    ADMIN,
    bearer,
    create_campaign,
    decide,
    eventually,
    intake_app,
    open_campaign,
    participant,
    raw_stream,
    register,
    runtime_of,
    stream_events,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def app(make_settings: Callable[..., Any]) -> FastAPI:
    return intake_app(make_settings, campaign_refresh_seconds=0.2)


async def submit(
    client: httpx.AsyncClient, campaign_id: str, who: dict[str, str], **body: Any
) -> httpx.Response:
    return await client.post(f"/v1/campaigns/{campaign_id}/comments", json=body, headers=who)


async def published_comment(
    client: httpx.AsyncClient,
    app: FastAPI,
    campaign_id: str,
    who: dict[str, str],
    text: str,
    **body: Any,
) -> str:
    sent = await submit(client, campaign_id, who, text=text, **body)
    assert sent.status_code == 202, sent.text
    comment_id = str(sent.json()["id"])
    await decide(
        runtime_of(app),
        campaign_id,
        comment_id,
        "approve",
        text=text,
        parent_id=body.get("parent_id"),
    )
    seen = await eventually(
        lambda: client.get(f"/v1/comments/{comment_id}", headers=who),
        until=lambda r: r.status_code == 200 and r.json()["status"] == "published",
    )
    assert seen.json()["status"] == "published"
    return comment_id


# campaigns -----------------------------------------------------------------------------------


async def test_campaign_lifecycle_draft_open_closed_archived(intake: httpx.AsyncClient) -> None:
    campaign_id = await open_campaign(intake)
    closed = await intake.post(f"/v1/campaigns/{campaign_id}/close", headers=ADMIN)
    assert closed.json()["status"] == "closed"
    archived = await intake.post(f"/v1/campaigns/{campaign_id}/archive", headers=ADMIN)
    assert archived.json()["status"] == "archived"
    reopen = await intake.post(f"/v1/campaigns/{campaign_id}/open", headers=ADMIN)
    assert reopen.status_code == 409
    assert reopen.headers["content-type"] == "application/problem+json"
    edit = await intake.patch(
        f"/v1/campaigns/{campaign_id}", json={"title": {"en": "x"}}, headers=ADMIN
    )
    assert edit.status_code == 409


async def test_opening_needs_both_purpose_and_use_of_input(intake: httpx.AsyncClient) -> None:
    campaign = await create_campaign(intake, use_of_input={})
    refused = await intake.post(f"/v1/campaigns/{campaign['id']}/open", headers=ADMIN)
    assert refused.status_code == 409
    assert "use_of_input" in refused.json()["detail"]
    await intake.patch(
        f"/v1/campaigns/{campaign['id']}",
        json={"use_of_input": {"ar": "ستنشر الوزارة ما غيّرته"}},
        headers=ADMIN,
    )
    opened = await intake.post(f"/v1/campaigns/{campaign['id']}/open", headers=ADMIN)
    assert opened.status_code == 200


async def test_drafts_are_shown_to_admins_only(intake: httpx.AsyncClient) -> None:
    draft = await create_campaign(intake)
    assert (await intake.get(f"/v1/campaigns/{draft['id']}")).status_code == 404
    assert (await intake.get(f"/v1/campaigns/{draft['id']}", headers=ADMIN)).status_code == 200
    public_ids = {c["id"] for c in (await intake.get("/v1/campaigns")).json()["items"]}
    admin_ids = {
        c["id"] for c in (await intake.get("/v1/campaigns", headers=ADMIN)).json()["items"]
    }
    assert draft["id"] not in public_ids
    assert draft["id"] in admin_ids


async def test_survey_questions_are_locked_once_open_but_texts_can_be_corrected(
    intake: httpx.AsyncClient,
) -> None:
    question = {"id": "q1", "kind": "text", "prompt": {"en": "Why?"}}
    campaign_id = await open_campaign(intake, questions=[question])
    locked = await intake.patch(
        f"/v1/campaigns/{campaign_id}",
        json={"questions": [question, {**question, "id": "q2"}]},
        headers=ADMIN,
    )
    assert locked.status_code == 409
    fixed = await intake.patch(
        f"/v1/campaigns/{campaign_id}",
        json={"description": {"en": "Corrected"}, "priority": {"harm_severity": 4}},
        headers=ADMIN,
    )
    assert fixed.status_code == 200, fixed.text
    shown = (await intake.get(f"/v1/campaigns/{campaign_id}")).json()
    assert shown["description"]["en"] == "Corrected"
    assert shown["priority"]["harm_severity"] == 4
    assert shown["questions"] == [
        {
            **question,
            "required": False,
            "options": [],
            "max_choices": None,
            "scale_min": 1,
            "scale_max": 5,
            "max_chars": 2000,
            "prompt": {"he": None, "ar": None, "en": "Why?"},
        }
    ]


async def test_a_keyword_routes_to_one_live_consultation_only(intake: httpx.AsyncClient) -> None:
    await create_campaign(intake, keyword="parks")
    clash = await intake.post(
        "/v1/campaigns", json={"title": {"en": "Other"}, "keyword": "PARKS"}, headers=ADMIN
    )
    assert clash.status_code == 409
    assert clash.json()["type"].endswith("routing-taken")


async def test_consultations_open_and_close_on_schedule(intake: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    campaign = await create_campaign(
        intake,
        opens_at=(now + timedelta(seconds=1)).isoformat(),
        closes_at=(now + timedelta(seconds=3)).isoformat(),
    )
    who = await participant(intake)
    early = await submit(intake, campaign["id"], who, text="מוקדם מדי")
    assert early.status_code == 409
    opened = await eventually(
        lambda: intake.get(f"/v1/campaigns/{campaign['id']}"),
        until=lambda r: r.json()["status"] == "open",
    )
    assert opened.json()["status"] == "open"
    assert (await submit(intake, campaign["id"], who, text="בזמן")).status_code == 202
    closed = await eventually(
        lambda: intake.get(f"/v1/campaigns/{campaign['id']}"),
        until=lambda r: r.json()["status"] == "closed",
    )
    assert closed.json()["status"] == "closed"
    assert (await submit(intake, campaign["id"], who, text="מאוחר")).status_code == 409


# participants ---------------------------------------------------------------------------------


async def test_contact_details_are_sealed_on_the_bus_and_at_rest(
    intake: httpx.AsyncClient, app: FastAPI, nats_url: str, namespace: str
) -> None:
    registered = await register(
        intake,
        source="newsletter",
        kind="ngo",
        contact={"email": "dana.levi@example.org", "phone": "+972501234567"},
        consent={"notifications": True},
        profile={"region": "negev", "age_band": "35_44"},
    )
    raw = b"".join(await raw_stream(nats_url, namespace, f"{namespace}.events.participant.>"))
    assert registered["participant_id"].encode() in raw
    assert b"dana.levi" not in raw
    assert b"972501234567" not in raw
    events = await stream_events(nats_url, namespace, f"{namespace}.events.participant.>")
    mine = next(
        e
        for e in events
        if isinstance(e, ParticipantRegistered)
        and e.data.participant_id == registered["participant_id"]
    )
    assert mine.data.kind == "ngo"
    assert mine.data.consent_notifications is True
    assert mine.data.has_contact is True
    assert mine.data.profile is not None
    assert mine.data.profile.region == "negev"
    sealer: ContactSealer = app.state.intake.sealer
    assert sealer.open(mine.data.contact_sealed or "")["email"] == "dana.levi@example.org"
    repository = app.state.intake.repository
    stored = await eventually(
        lambda: _found(repository.collection("participants"), registered["participant_id"]),
        until=lambda doc: doc is not None,  # type: ignore[arg-type,return-value]
    )
    assert "dana.levi" not in str(stored)


async def _found(collection: Any, doc_id: str) -> Any:
    return await collection.find_one({"_id": doc_id})


async def test_invitations_admit_to_closed_circles_once(
    intake: httpx.AsyncClient, nats_url: str, namespace: str
) -> None:
    campaign_id = await open_campaign(
        intake,
        circles=[
            {"id": "public"},
            {"id": "experts", "access": "invitation", "forwards_to": ["public"]},
        ],
    )
    outsider = await participant(intake)
    refused = await submit(intake, campaign_id, outsider, text="אני מומחה", circle="experts")
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("circle-closed")

    issued = await intake.post(
        f"/v1/campaigns/{campaign_id}/invitations",
        json={"circle": "experts", "count": 2, "source": "expert-list"},
        headers=ADMIN,
    )
    assert issued.status_code == 201, issued.text
    first, second = issued.json()["invitations"]

    joined = await register(intake, invitation=first)
    assert joined["circles"] == ["experts"]
    expert = bearer(joined["token"])
    accepted = await submit(intake, campaign_id, expert, text="חוות דעת מקצועית", circle="experts")
    assert accepted.status_code == 202

    reused = await intake.post(
        "/v1/participants/me/invitations", json={"invitation": first}, headers=outsider
    )
    assert reused.status_code == 409
    redeemed = await intake.post(
        "/v1/participants/me/invitations", json={"invitation": second}, headers=outsider
    )
    assert redeemed.status_code == 200
    assert redeemed.json()["circles"] == ["experts"]
    forged = await intake.post(
        "/v1/participants/me/invitations",
        json={"invitation": second[:-4] + "AAAA"},
        headers=outsider,
    )
    assert forged.status_code == 422

    events = await stream_events(nats_url, namespace, f"{namespace}.events.participant.>")
    verified = [e for e in events if isinstance(e, ParticipantVerified)]
    assert len(verified) == 2
    assert {e.data.circle for e in verified} == {"experts"}


async def test_a_verified_circle_needs_the_ministry_and_a_fresh_token(
    intake: httpx.AsyncClient,
) -> None:
    campaign_id = await open_campaign(intake, circles=[{"id": "officials", "access": "verified"}])
    unverified_invitation = (
        await intake.post(
            f"/v1/campaigns/{campaign_id}/invitations", json={"circle": "officials"}, headers=ADMIN
        )
    ).json()["invitations"][0]
    person = await register(intake)
    who = bearer(person["token"])
    refused = await intake.post(
        "/v1/participants/me/invitations", json={"invitation": unverified_invitation}, headers=who
    )
    assert refused.status_code == 403
    verified = await intake.post(
        f"/v1/campaigns/{campaign_id}/participants/{person['participant_id']}/verifications",
        json={"circle": "officials", "method": "id-check"},
        headers=ADMIN,
    )
    assert verified.status_code == 202
    refreshed = await eventually(
        lambda: intake.post("/v1/participants/me/token", headers=who),
        until=lambda r: r.json()["circles"] == ["officials"],
    )
    assert refreshed.json()["circles"] == ["officials"]
    sent = await submit(
        intake,
        campaign_id,
        bearer(refreshed.json()["token"]),
        text="עמדת המשרד",
        circle="officials",
    )
    assert sent.status_code == 202


async def test_organisations_speak_as_what_they_are(
    intake: httpx.AsyncClient, nats_url: str, namespace: str
) -> None:
    campaign_id = await open_campaign(intake)
    ngo = await participant(intake, kind="ngo")
    sent = await submit(intake, campaign_id, ngo, text="עמדת העמותה")
    events = await stream_events(nats_url, namespace, f"{namespace}.events.comment.>")
    mine = next(e for e in events if e.id == sent.json()["id"])
    assert isinstance(mine, CommentSubmitted)
    assert mine.data.kind == "ngo"


# inputs ---------------------------------------------------------------------------------------


async def test_replies_go_three_levels_deep_under_published_comments(
    intake: httpx.AsyncClient, app: FastAPI
) -> None:
    campaign_id = await open_campaign(intake)
    who = await participant(intake)
    pending = await submit(intake, campaign_id, who, text="עדיין בבדיקה")
    not_yet = await submit(intake, campaign_id, who, text="תגובה", parent_id=pending.json()["id"])
    assert not_yet.status_code == 422

    parent = await published_comment(intake, app, campaign_id, who, "שורש")
    chain = [parent]
    for depth in (1, 2, 3):
        chain.append(
            await published_comment(
                intake, app, campaign_id, who, f"תגובה ברמה {depth}", parent_id=chain[-1]
            )
        )
    too_deep = await submit(intake, campaign_id, who, text="עמוק מדי", parent_id=chain[-1])
    assert too_deep.status_code == 422
    assert too_deep.json()["type"].endswith("too-deep")

    replies = await eventually(
        lambda: intake.get(f"/v1/comments/{parent}/replies"),
        until=lambda r: len(r.json()["items"]) == 1,
    )
    assert replies.json()["items"][0]["id"] == chain[1]
    assert replies.json()["items"][0]["depth"] == 1
    top = await eventually(
        lambda: intake.get(f"/v1/campaigns/{campaign_id}/comments"),
        until=lambda r: r.json()["items"] and r.json()["items"][0]["replies"] == 1,
    )
    assert [c["id"] for c in top.json()["items"]] == [parent]  # replies are not top level


async def test_survey_responses_are_validated_and_the_latest_counts(
    intake: httpx.AsyncClient, app: FastAPI, nats_url: str, namespace: str
) -> None:
    campaign_id = await open_campaign(
        intake,
        questions=[
            {
                "id": "mode",
                "kind": "single",
                "prompt": {"he": "איך?"},
                "required": True,
                "options": [{"id": "bus"}, {"id": "train"}],
            },
            {"id": "score", "kind": "scale", "prompt": {"he": "כמה?"}, "scale_max": 10},
        ],
    )
    who = await participant(intake)
    url = f"/v1/campaigns/{campaign_id}/responses"
    bad = await intake.post(url, json={"answers": {"mode": "car", "score": 11}}, headers=who)
    assert bad.status_code == 422
    assert {e["question"] for e in bad.json()["errors"]} == {"mode", "score"}
    first = await intake.post(url, json={"answers": {"mode": "bus"}}, headers=who)
    second = await intake.post(url, json={"answers": {"mode": "train", "score": 7}}, headers=who)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]  # one response per participant
    responses = app.state.intake.repository.collection("responses")
    stored = await eventually(
        lambda: _found(responses, first.json()["id"]),
        until=lambda doc: doc is not None and doc["answers"].get("mode") == "train",  # type: ignore[union-attr,index]
    )
    assert stored["answers"] == {"mode": "train", "score": 7}  # type: ignore[index]
    events = await stream_events(nats_url, namespace, f"{namespace}.events.response.>")
    assert sum(isinstance(e, ResponseSubmitted) for e in events) == 2


async def test_votes_count_once_per_participant_and_order_most_supported(
    intake: httpx.AsyncClient, app: FastAPI
) -> None:
    campaign_id = await open_campaign(intake)
    author = await participant(intake)
    popular = await published_comment(intake, app, campaign_id, author, "רעיון פופולרי")
    other = await published_comment(intake, app, campaign_id, author, "רעיון אחר")
    voters = [await participant(intake) for _ in range(3)]
    for voter in voters:
        for _ in range(2):  # a repeated vote replaces itself
            vote = await intake.post(
                f"/v1/comments/{popular}/votes", json={"value": 1}, headers=voter
            )
            assert vote.status_code == 202, vote.text
    await intake.post(f"/v1/comments/{other}/votes", json={"value": 1}, headers=voters[0])
    await intake.post(f"/v1/comments/{other}/votes", json={"value": -1}, headers=voters[0])
    own = await intake.post(f"/v1/comments/{popular}/votes", json={"value": 1}, headers=author)
    assert own.status_code == 422
    ranked = await eventually(
        lambda: intake.get(f"/v1/campaigns/{campaign_id}/comments?sort=supported"),
        until=lambda r: [c["support"] for c in r.json()["items"]] == [3, -1],
    )
    assert [(c["id"], c["support"]) for c in ranked.json()["items"]] == [(popular, 3), (other, -1)]
    newest = await intake.get(f"/v1/campaigns/{campaign_id}/comments?sort=newest")
    assert [c["id"] for c in newest.json()["items"]] == [other, popular]
    page = await intake.get(f"/v1/campaigns/{campaign_id}/comments?sort=supported&limit=1")
    follow = await intake.get(
        f"/v1/campaigns/{campaign_id}/comments?sort=supported&limit=1"
        f"&cursor={page.json()['next_cursor']}"
    )
    assert [c["id"] for c in follow.json()["items"]] == [other]
    mixed = await intake.get(
        f"/v1/campaigns/{campaign_id}/comments?sort=newest&cursor={page.json()['next_cursor']}"
    )
    assert mixed.status_code == 400


async def test_flags_once_per_participant_with_a_reason(
    intake: httpx.AsyncClient, app: FastAPI, nats_url: str, namespace: str
) -> None:
    campaign_id = await open_campaign(intake)
    author = await participant(intake)
    comment_id = await published_comment(intake, app, campaign_id, author, "הערה שנויה במחלוקת")
    reporter = await participant(intake)
    url = f"/v1/comments/{comment_id}/flags"
    for _ in range(2):
        assert (
            await intake.post(url, json={"reason": "abuse"}, headers=reporter)
        ).status_code == 202
    assert (await intake.post(url, json={"reason": "rude"}, headers=reporter)).status_code == 422
    assert (await intake.post(url, json={"reason": "spam"}, headers=author)).status_code == 422
    unknown = await intake.post(
        "/v1/comments/nope/flags", json={"reason": "spam"}, headers=reporter
    )
    assert unknown.status_code == 404
    events = await stream_events(nats_url, namespace, f"{namespace}.events.comment.flagged.>")
    flags = [e for e in events if isinstance(e, CommentFlagged)]
    assert len(flags) == 1
    assert flags[0].data.reason == "abuse"


async def test_authors_appeal_a_rejection_once(
    intake: httpx.AsyncClient, app: FastAPI, nats_url: str, namespace: str
) -> None:
    campaign_id = await open_campaign(intake)
    author = await participant(intake)
    sent = await submit(intake, campaign_id, author, text="ביקורת חריפה אך עניינית")
    comment_id = sent.json()["id"]
    url = f"/v1/comments/{comment_id}/appeals"
    early = await eventually(
        lambda: intake.post(url, json={"text": "למה?"}, headers=author),
        until=lambda r: r.status_code == 409,
    )
    assert early.json()["type"].endswith("nothing-to-appeal")
    await decide(runtime_of(app), campaign_id, comment_id, "reject")
    view = await eventually(
        lambda: intake.get(f"/v1/comments/{comment_id}", headers=author),
        until=lambda r: r.json()["status"] == "rejected",
    )
    assert view.json()["statement"] == "The comment insults a person."
    stranger = await participant(intake)
    assert (await intake.post(url, json={"text": "x"}, headers=stranger)).status_code == 404
    filed = await intake.post(url, json={"text": "זו ביקורת על המדיניות, לא עלבון"}, headers=author)
    assert filed.status_code == 202
    again = await eventually(
        lambda: intake.post(url, json={"text": "שוב"}, headers=author),
        until=lambda r: r.status_code == 409 and r.json()["type"].endswith("already-appealed"),
    )
    assert again.status_code == 409
    shown = await intake.get(f"/v1/comments/{comment_id}", headers=author)
    assert shown.json()["appeal_status"] == "filed"
    events = await stream_events(nats_url, namespace, f"{namespace}.events.appeal.>")
    assert [e.data.comment_id for e in events if isinstance(e, AppealFiled)] == [comment_id]


async def test_outcomes_close_the_loop(intake: httpx.AsyncClient) -> None:
    draft = await create_campaign(intake)
    early = await intake.post(
        f"/v1/campaigns/{draft['id']}/outcomes", json={"summary": {"en": "x"}}, headers=ADMIN
    )
    assert early.status_code == 409
    campaign_id = await open_campaign(intake)
    await intake.post(f"/v1/campaigns/{campaign_id}/close", headers=ADMIN)
    published = await intake.post(
        f"/v1/campaigns/{campaign_id}/outcomes",
        json={
            "summary": {"he": "שמענו 1,200 תגובות", "en": "We heard 1,200 comments"},
            "decisions": [{"he": "יתווספו שני קווי לילה"}],
            "url": "https://gov.example/outcome",
        },
        headers=ADMIN,
    )
    assert published.status_code == 201, published.text
    listed = await intake.get(f"/v1/campaigns/{campaign_id}/outcomes")
    assert listed.json()["items"][0]["decisions"][0]["he"] == "יתווספו שני קווי לילה"


async def test_closed_circle_threads_are_for_members(
    intake: httpx.AsyncClient, app: FastAPI
) -> None:
    campaign_id = await open_campaign(
        intake,
        circles=[
            {"id": "public"},
            {"id": "experts", "access": "invitation", "forwards_to": ["public"]},
        ],
    )
    invitation = (
        await intake.post(
            f"/v1/campaigns/{campaign_id}/invitations", json={"circle": "experts"}, headers=ADMIN
        )
    ).json()["invitations"][0]
    expert = bearer((await register(intake, invitation=invitation))["token"])
    citizen = await participant(intake)
    expert_view = await published_comment(
        intake, app, campaign_id, expert, "עמדת המומחים", circle="experts"
    )
    public_view = await published_comment(
        intake, app, campaign_id, citizen, "עמדת הציבור", circle="public"
    )
    url = f"/v1/campaigns/{campaign_id}/comments"
    assert (await intake.get(f"{url}?circle=experts")).status_code == 401
    assert (await intake.get(f"{url}?circle=experts", headers=citizen)).status_code == 403
    members = await intake.get(f"{url}?circle=experts", headers=expert)
    assert [c["id"] for c in members.json()["items"]] == [expert_view]
    forwarded = await intake.get(f"{url}?circle=public")
    assert {c["id"] for c in forwarded.json()["items"]} == {expert_view, public_view}
    general = await intake.get(url)
    assert general.json()["items"] == []  # circle comments are read through their circle


# the edge -------------------------------------------------------------------------------------


async def test_rate_limits_answer_429_with_retry_after(make_settings: Callable[..., Any]) -> None:
    app = create_app(
        make_settings(IntakeSettings, rate_participant_per_minute=60, rate_participant_burst=2)
    )
    async with running_app(app) as client:
        campaign_id = await open_campaign(client)
        who = await participant(client)
        codes = [
            (await submit(client, campaign_id, who, text=f"הערה {n}")).status_code for n in range(4)
        ]
        assert codes[:2] == [202, 202]
        assert 429 in codes[2:]
        limited = await submit(client, campaign_id, who, text="עוד אחת")
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["retry-after"]) <= 2
        someone_else = await participant(client)
        assert (await submit(client, campaign_id, someone_else, text="שלום")).status_code == 202
        await asyncio.sleep(int(limited.headers["retry-after"]))
        assert (await submit(client, campaign_id, who, text="אחרי ההמתנה")).status_code == 202


async def test_erasure_removes_contact_and_memberships_and_anonymises(
    intake: httpx.AsyncClient, app: FastAPI
) -> None:
    campaign_id = await open_campaign(intake)
    person = await register(
        intake, contact={"email": "erase.me@example.org"}, consent={"notifications": True}
    )
    who = bearer(person["token"])
    comment_id = await published_comment(intake, app, campaign_id, who, "לפני המחיקה")
    participants = app.state.intake.repository.collection("participants")
    await eventually(
        lambda: _found(participants, person["participant_id"]),
        until=lambda doc: doc is not None,  # type: ignore[arg-type,return-value]
    )
    erased = await intake.delete("/v1/participants/me", headers=who)
    assert erased.status_code == 202
    gone = await eventually(
        lambda: _found(participants, person["participant_id"]),
        until=lambda doc: doc is None,  # type: ignore[arg-type,return-value]
    )
    assert gone is None
    comments = app.state.intake.repository.comments
    comment = await eventually(
        lambda: _found(comments, comment_id),
        until=lambda doc: doc["participant_id"] is None,  # type: ignore[index]
    )
    assert comment["participant_id"] is None  # type: ignore[index]
    assert comment["author_erased"]  # type: ignore[index]  # (nx-27017 answers 1 for true)
    listed = await intake.get(f"/v1/campaigns/{campaign_id}/comments")
    assert [c["id"] for c in listed.json()["items"]] == [comment_id]  # what was said stays
    # the erased identity's token (valid for a year) can link nothing new to it, nor read back
    refused = await eventually(
        lambda: submit(intake, campaign_id, who, text="אחרי המחיקה"),
        until=lambda response: response.status_code == 401,
    )
    assert refused.headers["content-type"] == "application/problem+json"
    assert "erased" in refused.json()["detail"]
    assert (await intake.get(f"/v1/comments/{comment_id}", headers=who)).status_code == 401


async def test_a_form_letters_copy_tells_its_author_it_was_counted_with_its_cluster(
    intake: httpx.AsyncClient, app: FastAPI
) -> None:
    campaign_id = await open_campaign(intake)
    author = await participant(intake)
    sent = await submit(intake, campaign_id, author, text="אני מתנגד לתוכנית (מכתב אחיד)")
    comment_id = sent.json()["id"]
    await runtime_of(app).publisher.publish(
        CommentModerated(
            subject=campaign_id,
            data=CommentModeratedData(
                comment_id=comment_id,
                decision="approve",
                automatic=True,
                reasons=["duplicate"],
                statement="Published once, together with the identical comments.",
                redacted_text="אני מתנגד לתוכנית (מכתב אחיד)",
                cluster_id="cluster-1",
            ),
        )
    )
    view = await eventually(
        lambda: intake.get(f"/v1/comments/{comment_id}", headers=author),
        until=lambda r: r.status_code == 200 and r.json()["status"] == "clustered",
    )
    assert view.json()["statement"] == "Published once, together with the identical comments."
    assert view.json()["reasons"] == ["duplicate"]
