"""Intake's retention schedule: when a consultation's purge is due, and what it publishes, with the
clock as a parameter (no waiting days)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from kolot.common.bus import Streams, subject_covers
from kolot.common.events import (
    EVENT_CLASSES,
    CampaignPurged,
    CampaignSnapshot,
    Event,
    LocalizedText,
    ParticipantErased,
    derived_id,
)
from kolot.intake.repository import IntakeRepository
from kolot.intake.retention import RetentionSchedule, personal_subjects, purge_event

CLOSED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def campaign(
    campaign_id: str = "c1",
    *,
    status: str = "closed",
    closes_at: datetime | None = CLOSED,
    retention_days: int | None = 30,
) -> CampaignSnapshot:
    return CampaignSnapshot(
        campaign_id=campaign_id,
        status=status,
        title=LocalizedText(en="Night buses"),
        closes_at=closes_at,
        retention_days=retention_days,
    )


def test_a_purge_is_due_retention_days_after_the_closing_and_not_a_moment_before() -> None:
    due = CLOSED + timedelta(days=30)
    assert purge_event(campaign(), now=due - timedelta(seconds=1), default_days=None) is None
    event = purge_event(campaign(), now=due, default_days=None)
    assert event is not None
    assert event.data.due_at == due
    assert event.data.closed_at == CLOSED
    assert event.data.retention_days == 30
    assert event.subject == "c1"


def test_every_replica_derives_the_same_event_id_so_the_stream_keeps_one() -> None:
    later = CLOSED + timedelta(days=400)
    first = purge_event(campaign(), now=later, default_days=None)
    second = purge_event(campaign(), now=later + timedelta(hours=1), default_days=None)
    assert first is not None
    assert second is not None
    assert first.id == second.id == derived_id("purged", "c1")


@pytest.mark.parametrize("status", ["draft", "open"])
def test_a_consultation_still_running_is_never_purged(status: str) -> None:
    long_after = CLOSED + timedelta(days=3650)
    assert purge_event(campaign(status=status), now=long_after, default_days=1) is None


def test_archived_consultations_are_purged_like_closed_ones() -> None:
    long_after = CLOSED + timedelta(days=31)
    assert purge_event(campaign(status="archived"), now=long_after, default_days=None)


def test_without_retention_of_its_own_the_deployment_default_applies_or_it_is_kept() -> None:
    kept = campaign(retention_days=None)
    long_after = CLOSED + timedelta(days=3650)
    assert purge_event(kept, now=long_after, default_days=None) is None
    event = purge_event(kept, now=CLOSED + timedelta(days=90), default_days=90)
    assert event is not None
    assert event.data.retention_days == 90
    assert purge_event(kept, now=CLOSED + timedelta(days=89), default_days=90) is None


def test_no_purge_while_meeting_records_may_still_be_uploaded() -> None:
    short = campaign(retention_days=1)
    grace = 14
    assert (
        purge_event(short, now=CLOSED + timedelta(days=2), default_days=None, not_before_days=grace)
        is None
    )
    event = purge_event(
        short, now=CLOSED + timedelta(days=grace), default_days=None, not_before_days=grace
    )
    assert event is not None
    assert event.data.retention_days == grace


def test_a_closed_consultation_without_a_closing_time_is_not_purged() -> None:
    assert purge_event(campaign(closes_at=None), now=CLOSED, default_days=1) is None


class FakeRepository:
    def __init__(self, campaigns: list[CampaignSnapshot], alone: dict[str, list[str]]) -> None:
        self.campaigns = campaigns
        self.alone = alone
        self.marked: list[str] = []

    async def unpurged_campaigns(self, statuses: Sequence[str]) -> list[CampaignSnapshot]:
        return [
            c for c in self.campaigns if c.status in statuses and c.campaign_id not in self.marked
        ]

    async def participants_only_of(self, campaign_id: str) -> list[str]:
        return self.alone.get(campaign_id, [])

    async def mark_purged(self, campaign_ids: Sequence[str], *, at: str) -> None:
        self.marked.extend(campaign_ids)


class FakePublisher:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.public: list[Event] = []

    async def publish(self, *events: Event) -> None:
        self.events.extend(events)

    async def publish_public(self, *events: Event) -> None:
        self.public.extend(events)


def schedule(repository: FakeRepository, publisher: FakePublisher, now: datetime) -> Any:
    return RetentionSchedule(
        repository=cast(IntakeRepository, repository),
        publisher=cast(Any, publisher),
        default_days=None,
        clock=lambda: now,
    )


async def test_the_schedule_erases_those_who_took_part_there_alone_then_purges_once() -> None:
    repository = FakeRepository(
        [campaign("due"), campaign("young", closes_at=datetime(2026, 11, 1, tzinfo=UTC))],
        alone={"due": ["p1", "p2"]},
    )
    publisher = FakePublisher()
    runner = schedule(repository, publisher, now=CLOSED + timedelta(days=60))

    assert await runner.run() == ["due"]
    types = [type(e) for e in publisher.events]
    # the erasures first: a consumer that sees the purge has seen them
    assert types == [ParticipantErased, ParticipantErased, CampaignPurged]
    erased = [e for e in publisher.events if isinstance(e, ParticipantErased)]
    assert [e.data.participant_id for e in erased] == ["p1", "p2"]
    # the same ids as erasures the participants ask for themselves
    assert [e.id for e in erased] == [derived_id("erased", "p1"), derived_id("erased", "p2")]
    assert [e.type for e in publisher.public] == ["kolot.campaign.purged"]
    assert repository.marked == ["due"]

    assert await runner.run() == []  # recorded: not published again
    assert len(publisher.events) == 3


PERSONAL_FIELDS = {"participant_id", "contact_sealed", "recipient_ref", "text", "redacted_text"}


def test_the_log_purge_covers_every_event_that_names_a_person_or_unpublished_text() -> None:
    """A new event type with a personal field fails here until the purge covers it."""
    streams = Streams("k")
    subjects = personal_subjects(streams, "c1")
    for event_type, cls in EVENT_CLASSES.items():
        data_fields = set(cls.model_fields["data"].annotation.model_fields)  # type: ignore[union-attr]
        if not data_fields & PERSONAL_FIELDS or cls.public:
            continue  # public events hold only what may be published
        if event_type == "kolot.participant.erased":
            continue  # kept: a replay must erase again (and it names no consultation)
        _, entity, action = event_type.split(".")
        subject = streams.events_subject(entity, action, "c1")
        assert any(subject_covers(f, subject) for f in subjects), event_type
