"""Intake's pure rules: circles, survey answers, reply depth; and the campaign schema checks."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kolot.common.auth import Participant
from kolot.common.events import CampaignSnapshot, LocalizedText, Question
from kolot.intake.rules import (
    AnswerErrors,
    circle_refusal,
    reply_depth,
    validate_answers,
    visible_circles,
)
from kolot.intake.schemas import CampaignCreate, CampaignFields, ParticipantCreate

CAMPAIGN = CampaignSnapshot(
    campaign_id="c1",
    status="open",
    title=LocalizedText(en="Transport"),
    circles=[
        {"id": "public", "access": "public"},
        {"id": "experts", "access": "invitation", "forwards_to": ["public"]},
        {"id": "ministries", "access": "verified", "forwards_to": ["public", "experts"]},
    ],
)
CITIZEN = Participant(participant_id="p1")
EXPERT = Participant(participant_id="p2", circles=frozenset({"experts"}))


def test_public_circle_and_no_circle_are_open_to_everyone() -> None:
    assert circle_refusal(CAMPAIGN, None, CITIZEN) is None
    assert circle_refusal(CAMPAIGN, "public", CITIZEN) is None


def test_closed_circles_admit_members_only_and_say_how_to_join() -> None:
    refusal = circle_refusal(CAMPAIGN, "experts", CITIZEN)
    assert refusal is not None
    assert refusal.status == 403
    assert "invitation" in refusal.detail
    assert circle_refusal(CAMPAIGN, "experts", EXPERT) is None
    verified = circle_refusal(CAMPAIGN, "ministries", EXPERT)
    assert verified is not None
    assert "verify" in verified.detail


def test_an_unknown_circle_is_a_client_error() -> None:
    refusal = circle_refusal(CAMPAIGN, "nope", EXPERT)
    assert refusal is not None
    assert refusal.status == 422


def test_a_circle_shows_what_other_circles_forward_to_it() -> None:
    assert visible_circles(CAMPAIGN, "public") == ["public", "experts", "ministries"]
    assert visible_circles(CAMPAIGN, "experts") == ["experts", "ministries"]
    assert visible_circles(CAMPAIGN, "ministries") == ["ministries"]


def test_replies_go_three_levels_deep() -> None:
    assert reply_depth(0) == 1
    assert reply_depth(2) == 3
    assert reply_depth(3) is None


QUESTIONS = [
    Question(
        id="mode",
        kind="single",
        required=True,
        options=[{"id": "bus"}, {"id": "train"}],  # type: ignore[list-item]
    ),
    Question(
        id="needs",
        kind="multiple",
        max_choices=2,
        options=[{"id": "shade"}, {"id": "benches"}, {"id": "lights"}],  # type: ignore[list-item]
    ),
    Question(id="satisfaction", kind="scale", scale_min=1, scale_max=5),
    Question(id="why", kind="text", max_chars=20),
]


def test_valid_answers_are_normalised() -> None:
    answers = validate_answers(
        QUESTIONS,
        {
            "mode": "bus",
            "needs": ["shade", "shade", "lights"],
            "satisfaction": 4,
            "why": " צל\u202e ",
        },
    )
    assert answers == {"mode": "bus", "needs": ["shade", "lights"], "satisfaction": 4, "why": "צל"}


@pytest.mark.parametrize(
    ("answers", "wrong"),
    [
        ({}, {"mode"}),
        ({"mode": "car"}, {"mode"}),
        ({"mode": "bus", "needs": "shade"}, {"needs"}),
        ({"mode": "bus", "needs": ["shade", "benches", "lights"]}, {"needs"}),
        ({"mode": "bus", "needs": ["pool"]}, {"needs"}),
        ({"mode": "bus", "satisfaction": 9}, {"satisfaction"}),
        ({"mode": "bus", "satisfaction": True}, {"satisfaction"}),
        ({"mode": "bus", "satisfaction": "4"}, {"satisfaction"}),
        ({"mode": "bus", "why": "x" * 21}, {"why"}),
        ({"mode": "bus", "extra": 1}, {"extra"}),
        ({"mode": "car", "satisfaction": 0}, {"mode", "satisfaction"}),
    ],
)
def test_every_wrong_answer_is_named(answers: dict[str, Any], wrong: set[str]) -> None:
    with pytest.raises(AnswerErrors) as caught:
        validate_answers(QUESTIONS, answers)
    assert set(caught.value.errors) == wrong


def _campaign(**fields: Any) -> dict[str, Any]:
    return {"title": {"en": "Transport"}, **fields}


@pytest.mark.parametrize(
    "fields",
    [
        {"questions": [{"id": "q", "kind": "single", "prompt": {"en": "?"}, "options": []}]},
        {"questions": [{"id": "q", "kind": "scale", "prompt": {"en": "?"}, "scale_min": 5}]},
        {"questions": [{"id": "q", "kind": "text"}]},
        {"questions": [{"id": "Q!", "kind": "text", "prompt": {"en": "?"}}]},
        {"questions": [{"id": "q", "kind": "text", "prompt": {"en": "?"}}] * 2},
        {"circles": [{"id": "a", "forwards_to": ["b"]}]},
        {"circles": [{"id": "a", "forwards_to": ["a"]}]},
        {"circles": [{"id": "a"}, {"id": "a"}]},
        {"opens_at": "2026-12-01T00:00:00Z", "closes_at": "2026-11-01T00:00:00Z"},
        {"opens_at": "2026-12-01T00:00:00"},
        {"keyword": "two words"},
        {"priority": {"harm_severity": 9}},
        {"moderation_mod": "pre"},
    ],
)
def test_an_inconsistent_campaign_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CampaignCreate.model_validate(_campaign(**fields))


def test_a_complete_campaign_is_accepted_and_its_keyword_folded() -> None:
    body = CampaignCreate.model_validate(
        _campaign(
            keyword="TRANSPORT",
            circles=[
                {"id": "public"},
                {"id": "experts", "access": "invitation", "forwards_to": ["public"]},
            ],
            questions=[
                {
                    "id": "mode",
                    "kind": "single",
                    "prompt": {"he": "איך?"},
                    "options": [{"id": "bus"}, {"id": "train"}],
                },
            ],
            priority={"people_affected": 2_000_000, "harm_severity": 4},
        )
    )
    assert body.keyword == "transport"
    assert CampaignFields.model_validate({"keyword": "Bus"}).changes() == {"keyword": "bus"}


def test_contact_details_need_a_consented_use() -> None:
    with pytest.raises(ValidationError, match="consent"):
        ParticipantCreate.model_validate({"contact": {"email": "dana@example.org"}})
    with pytest.raises(ValidationError):
        ParticipantCreate.model_validate(
            {"contact": {"email": "not-an-email"}, "consent": {"notifications": True}}
        )
    ok = ParticipantCreate.model_validate(
        {"contact": {"phone": "+972 50-123-4567"}, "consent": {"notifications": True}}
    )
    assert ok.contact is not None


def test_target_shares_are_checked_per_dimension() -> None:
    ok = CampaignCreate.model_validate(
        _campaign(targets={"region": {"north": 0.16, "south": 0.14}, "age_band": {"65_plus": 0.2}})
    )
    assert ok.targets == {"region": {"north": 0.16, "south": 0.14}, "age_band": {"65_plus": 0.2}}
    for bad in (
        {"region": {"north": 0.7, "south": 0.6}},
        {"region": {"north": -0.1}},
        {"religion": {"x": 0.1}},
        {"region": {"North!": 0.1}},
    ):
        with pytest.raises(ValidationError):
            CampaignCreate.model_validate(_campaign(targets=bad))


def test_a_declared_profile_uses_coarse_groups() -> None:
    ok = ParticipantCreate.model_validate(
        {"profile": {"region": "negev", "age_band": "25_34", "sector": "arab"}}
    )
    assert ok.profile is not None
    with pytest.raises(ValidationError):
        ParticipantCreate.model_validate({"profile": {"age_band": "33"}})
