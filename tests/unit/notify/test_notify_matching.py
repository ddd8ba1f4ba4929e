"""Which subscriptions want which public events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kolot.common.events import (
    CommentHidden,
    CommentHiddenData,
    CommentPublished,
    CommentPublishedData,
)
from kolot.notify.matching import plan_deliveries, type_matches, validate_event_type, wants
from kolot.notify.models import Subscription

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def subscription(*event_types: str, campaign_id: str | None = None, id: str = "s1") -> Subscription:
    return Subscription(
        id=id,
        url="https://hooks.ministry.example/",
        event_types=list(event_types),
        campaign_id=campaign_id,
        secret_sealed="gAAAAA-sealed",
        owner="dev",
        created_at=NOW,
    )


def published(campaign: str = "c1") -> CommentPublished:
    return CommentPublished(subject=campaign, data=CommentPublishedData(comment_id="k1", text="hi"))


@pytest.mark.parametrize(
    "pattern",
    ["kolot.comment.published", "kolot.campaign.opened", "kolot.comment.*", "kolot.*"],
)
def test_public_types_and_wildcards_are_accepted(pattern: str) -> None:
    assert validate_event_type(pattern) == pattern


@pytest.mark.parametrize(
    "pattern",
    [
        "kolot.comment.submitted",  # raw text: never public
        "kolot.participant.registered",
        "kolot.webhook.delivered",
        "kolot.nothing.*",
        "kolot.comment.publ*",
        "*",
        "kolot.*.published",
        "",
    ],
)
def test_private_or_unknown_types_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="public event type"):
        validate_event_type(pattern)


def test_type_matching() -> None:
    assert type_matches("kolot.comment.published", "kolot.comment.published")
    assert not type_matches("kolot.comment.published", "kolot.comment.hidden")
    assert type_matches("kolot.comment.*", "kolot.comment.hidden")
    assert not type_matches("kolot.comment.*", "kolot.campaign.opened")
    # a prefix ends at a dot: "kolot.comment.*" is not "kolot.comments..."
    assert not type_matches("kolot.comment.*", "kolot.commentary.added")
    assert type_matches("kolot.*", "kolot.outcome.published")


def test_campaign_filter_matches_the_event_subject() -> None:
    assert wants(subscription("kolot.comment.published", campaign_id="c1"), published("c1"))
    assert not wants(subscription("kolot.comment.published", campaign_id="c2"), published("c1"))
    assert wants(subscription("kolot.comment.published"), published("c9"))
    assert not wants(subscription("kolot.campaign.*"), published("c1"))


def test_one_delivery_per_matching_subscription_and_event_with_stable_ids() -> None:
    subs = [
        subscription("kolot.comment.published", id="a"),
        subscription("kolot.comment.*", campaign_id="c1", id="b"),
        subscription("kolot.campaign.*", id="c"),
    ]
    first = published("c1")
    hidden = CommentHidden(subject="c2", data=CommentHiddenData(comment_id="k", reason="flags"))
    planned = plan_deliveries(subs, [first, hidden], now=NOW)
    assert sorted(d.id for d in planned) == sorted([f"a:{first.id}", f"b:{first.id}"])
    delivery = next(d for d in planned if d.subscription_id == "a")
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("pending", 0, NOW)
    assert delivery.event == first.to_json().decode()
    assert delivery.campaign_id == "c1"
    # the same events planned again give the same ids: storing them is idempotent
    again = plan_deliveries(subs, [first, hidden], now=NOW)
    assert [d.id for d in again] == [d.id for d in planned]
