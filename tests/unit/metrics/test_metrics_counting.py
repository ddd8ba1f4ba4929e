"""Which counters each event moves, and how a batch is summed per campaign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kolot.common.events import (
    NO_CAMPAIGN,
    Attribution,
    CampaignOpened,
    CampaignSnapshot,
    CommentFlagged,
    CommentFlaggedData,
    CommentHidden,
    CommentHiddenData,
    CommentModerated,
    CommentModeratedData,
    CommentPublished,
    CommentPublishedData,
    CommentSubmitted,
    CommentSubmittedData,
    Decision,
    Event,
    LocalizedText,
    ParticipantRegistered,
    ParticipantRegisteredData,
    ResponseSubmitted,
    ResponseSubmittedData,
    VisitRecorded,
    VisitRecordedData,
    VoteCast,
    VoteCastData,
    parse_event,
)
from kolot.metrics.counting import DIRECT, MAX_KEY_LENGTH, source_key, tally
from kolot.metrics.counting import increments as increments_of

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def submitted(campaign: str = "c1", *, at: datetime = T0) -> CommentSubmitted:
    return CommentSubmitted(
        subject=campaign,
        time=at,
        data=CommentSubmittedData(
            comment_id="k1", participant_id="p1", text="שלום", text_sha256="0" * 64
        ),
    )


def moderated(decision: Decision, campaign: str = "c1") -> CommentModerated:
    return CommentModerated(
        subject=campaign,
        data=CommentModeratedData(
            comment_id="k1", decision=decision, automatic=True, redacted_text="x"
        ),
    )


def visit(source: str | None, campaign: str = "c1") -> VisitRecorded:
    return VisitRecorded(
        subject=campaign,
        data=VisitRecordedData(visit_id="v1", attribution=Attribution(source=source)),
    )


def registered(source: str | None, campaign: str = NO_CAMPAIGN) -> ParticipantRegistered:
    return ParticipantRegistered(
        subject=campaign, data=ParticipantRegisteredData(participant_id="p1", source=source)
    )


@pytest.mark.parametrize(
    ("event", "counter"),
    [
        (submitted(), "comments.submitted"),
        (
            CommentPublished(subject="c1", data=CommentPublishedData(comment_id="k1", text="x")),
            "comments.published",
        ),
        (moderated("reject"), "comments.rejected"),
        (moderated("review"), "comments.review"),
        (
            CommentHidden(subject="c1", data=CommentHiddenData(comment_id="k1", reason="flags")),
            "comments.hidden",
        ),
        (
            CommentFlagged(
                subject="c1",
                data=CommentFlaggedData(comment_id="k1", participant_id="p2", reason="spam"),
            ),
            "flags",
        ),
        (visit("facebook"), "visits.facebook"),
        (registered("facebook"), "participants.facebook"),
        (
            ResponseSubmitted(
                subject="c1",
                data=ResponseSubmittedData(response_id="r1", participant_id="p1", answers={}),
            ),
            "responses",
        ),
        (
            VoteCast(
                subject="c1",
                data=VoteCastData(vote_id="v1", participant_id="p1", target_id="k1", value=1),
            ),
            "votes",
        ),
    ],
)
def test_each_event_moves_its_counter_and_its_type_count(event: Event, counter: str) -> None:
    assert increments_of(event) == {counter: 1, f"events.{event.entity}_{event.action}": 1}


def test_an_approval_counts_only_as_an_event_publication_is_counted_when_it_happens() -> None:
    assert increments_of(moderated("approve")) == {"events.comment_moderated": 1}


def test_events_without_a_figure_are_still_counted_by_type() -> None:
    opened = CampaignOpened(
        subject="c1",
        data=CampaignSnapshot(campaign_id="c1", status="open", title=LocalizedText(en="t")),
    )
    assert increments_of(opened) == {"events.campaign_opened": 1}


def test_visits_and_participants_without_a_source_count_as_direct() -> None:
    assert increments_of(visit(None)) == {"visits.direct": 1, "events.visit_recorded": 1}
    assert "participants.direct" in increments_of(registered(None))
    assert "participants.direct" in increments_of(registered("   "))


def test_a_v1_visit_with_a_flat_source_is_attributed_after_upcasting() -> None:
    event = parse_event(
        {
            "specversion": "1.0",
            "id": "e1",
            "source": "kolot/intake",
            "type": "kolot.visit.recorded",
            "subject": "c1",
            "time": T0.isoformat(),
            "dataschemaversion": 1,
            "data": {"visit_id": "v1", "source": "newsletter"},
        }
    )
    assert "visits.newsletter" in increments_of(event)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Facebook", "facebook"),
        ("face.book", "face_book"),  # "." would make a nested field
        ("$where", "where"),  # "$" would make an operator
        ("a b\nc", "a_b_c"),
        ('x"}\\', "x"),  # nothing that needs escaping in a Prometheus label
        ("קבוצת-וואטסאפ", "קבוצת-וואטסאפ"),  # Hebrew sources stay readable
        ("...", DIRECT),
        ("", DIRECT),
        (None, DIRECT),
    ],
)
def test_sources_become_safe_field_names(raw: str | None, key: str) -> None:
    assert source_key(raw) == key


def test_source_keys_are_bounded_in_length() -> None:
    assert len(source_key("s" * 1000)) == MAX_KEY_LENGTH


def test_a_batch_is_summed_per_campaign_with_its_time_span() -> None:
    batch = [
        submitted("c1", at=T0 + timedelta(seconds=5)),
        submitted("c1", at=T0),
        submitted("c2", at=T0),
        registered("sms"),
        visit("sms", "c1").model_copy(update={"time": T0 + timedelta(seconds=2)}),
    ]
    deltas = {d.campaign_id: d for d in tally(batch)}

    assert set(deltas) == {"c1", "c2", NO_CAMPAIGN}
    c1 = deltas["c1"]
    assert c1.inc == {
        "comments.submitted": 2,
        "events.comment_submitted": 2,
        "visits.sms": 1,
        "events.visit_recorded": 1,
    }
    assert (c1.first_event_at, c1.last_event_at) == (T0, T0 + timedelta(seconds=5))
    assert deltas["c2"].inc == {"comments.submitted": 1, "events.comment_submitted": 1}
    assert deltas[NO_CAMPAIGN].inc == {"participants.sms": 1, "events.participant_registered": 1}


def test_an_empty_batch_changes_nothing() -> None:
    assert tally([]) == []
