"""The stats an analyst reads: pending comments and the funnel's conversion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kolot.common.store import stamp
from kolot.metrics.models import CampaignCounters, CommentCounts
from kolot.metrics.stats import campaign_stats, conversion, pending


@pytest.mark.parametrize(
    ("submitted", "published", "rejected", "expected"),
    [
        (10, 6, 1, 3),
        (2, 1, 1, 0),
        # decisions may run ahead of submissions (consumers catch up at different speeds, a
        # comment is decided twice): pending never goes below zero
        (1, 2, 1, 0),
        (0, 0, 0, 0),
    ],
)
def test_pending_is_what_awaits_a_decision(
    submitted: int, published: int, rejected: int, expected: int
) -> None:
    comments = CommentCounts(submitted=submitted, published=published, rejected=rejected)
    assert pending(comments) == expected


def test_review_decisions_stay_pending_until_published_or_rejected() -> None:
    assert pending(CommentCounts(submitted=3, review=2)) == 3


def test_conversion_is_participants_per_visit_and_unknown_without_visits() -> None:
    assert conversion(visits=5025, participants=624) == pytest.approx(0.1242, abs=1e-4)
    assert conversion(visits=0, participants=3) is None
    assert conversion(visits=4, participants=0) == 0.0


def test_stats_of_a_campaign_with_counters() -> None:
    counters = CampaignCounters.model_validate(
        {
            "_id": "c1",
            "comments": {"submitted": 4, "published": 1, "rejected": 1, "review": 1},
            "visits": {"facebook": 4, "direct": 2},
            "participants": {"facebook": 1, "sms": 2},
            "responses": 3,
            "votes": 5,
            "flags": 1,
            "events": {"comment_submitted": 4, "visit_recorded": 6},
            # as kolot.common.store.stamp writes them
            "first_event_at": "2025-05-01T12:00:00.000000Z",
            "last_event_at": "2025-05-01T12:00:01.000000Z",
            "updated_at": "2025-05-01T12:00:02.500000Z",
        }
    )
    stats = campaign_stats(counters).model_dump(mode="json")

    assert stats["campaign_id"] == "c1"
    assert stats["comments"] == {
        "submitted": 4,
        "published": 1,
        "rejected": 1,
        "pending": 2,
        "review": 1,
        "hidden": 0,
    }
    assert stats["funnel"] == {
        "direct": {
            "visits": 2,
            "participants": 0,
            "conversion": 0.0,
            "spend": None,
            "cost_per_response": None,
        },
        "facebook": {
            "visits": 4,
            "participants": 1,
            "conversion": 0.25,
            "spend": None,
            "cost_per_response": None,
        },
        # participants whose source brought no recorded visit: no conversion to compute
        "sms": {
            "visits": 0,
            "participants": 2,
            "conversion": None,
            "spend": None,
            "cost_per_response": None,
        },
    }
    assert (stats["responses"], stats["votes"], stats["flags"]) == (3, 5, 1)
    assert stats["events_counted"] == 10
    assert stats["updated_at"] == "2025-05-01T12:00:02.500000Z"
    assert stats["last_event_at"] == "2025-05-01T12:00:01Z"


def test_a_campaign_without_events_has_zeros_and_no_update_time() -> None:
    stats = campaign_stats(CampaignCounters(campaign_id="nothing-yet"))

    assert stats.comments.model_dump() == dict.fromkeys(
        ("submitted", "published", "rejected", "pending", "review", "hidden"), 0
    )
    assert stats.funnel == {}
    assert (stats.responses, stats.votes, stats.flags, stats.events_counted) == (0, 0, 0, 0)
    assert stats.updated_at is None


def test_stored_times_are_read_as_utc() -> None:
    in_jerusalem = datetime(2025, 5, 1, 15, 0, tzinfo=timezone(timedelta(hours=3)))
    counters = CampaignCounters.model_validate({"_id": "c1", "updated_at": stamp(in_jerusalem)})
    assert campaign_stats(counters).updated_at == datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
