"""How events fold into counters and states: any order, any batching, the same figures."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kolot.common.events import (
    NO_CAMPAIGN,
    Attribution,
    CommentHidden,
    CommentHiddenData,
    CommentModerated,
    CommentModeratedData,
    CommentPublished,
    CommentPublishedData,
    CommentSubmitted,
    CommentSubmittedData,
    Decision,
    DisseminationRegistered,
    DisseminationRegisteredData,
    Event,
    ParticipantErased,
    ParticipantErasedData,
    ParticipantRegistered,
    ParticipantRegisteredData,
    Profile,
    Spend,
    VisitRecorded,
    VisitRecordedData,
    VoteCast,
    VoteCastData,
    parse_event,
)
from kolot.metrics.counting import (
    DIRECT,
    MAX_KEY_LENGTH,
    Plan,
    States,
    contributor_id,
    fold,
    hour_of,
    needs,
    source_key,
)
from tests.integration.metrics.consultation import CAMPAIGN, consultation

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
C = "c1"


class Store:
    """An in-memory stand-in for the repository: states replaced, counters summed."""

    def __init__(self) -> None:
        self.states = States()
        self.counters: dict[str, dict[str, float]] = {}
        self.hours: dict[tuple[str, str], dict[str, int]] = {}
        self.largest: dict[str, int] = {}

    def apply(self, events: Sequence[Event]) -> Plan:
        wanted = needs(events)
        states = States(
            comments={k: v for k, v in self.states.comments.items() if k in wanted.comments},
            participants={
                k: v for k, v in self.states.participants.items() if k in wanted.participants
            },
            contributors={
                k: v
                for k, v in self.states.contributors.items()
                if k in wanted.contributors or v.participant_id in wanted.participants
            },
            disseminations={
                k: v for k, v in self.states.disseminations.items() if k in wanted.disseminations
            },
            clusters={k: v for k, v in self.states.clusters.items() if k in wanted.clusters},
            campaigns={k: v for k, v in self.states.campaigns.items() if k in wanted.campaigns},
        )
        # the repository reads documents: hand out copies, as a store would
        states = _copied(states)
        plan = fold(events, states)
        for kind in ("comments", "participants", "contributors", "disseminations", "clusters"):
            getattr(self.states, kind).update(_copied_map(getattr(plan, kind)))
        self.states.campaigns.update(_copied_map(plan.campaigns))
        for campaign_id, delta in plan.deltas.items():
            counters = self.counters.setdefault(campaign_id, {})
            for path, n in delta.inc.items():
                counters[path] = counters.get(path, 0) + n
            self.largest[campaign_id] = max(self.largest.get(campaign_id, 0), delta.largest_cluster)
        for key, inc in plan.hours.items():
            bucket = self.hours.setdefault(key, {})
            for name, n in inc.items():
                bucket[name] = bucket.get(name, 0) + n
        return plan

    def figures(self) -> dict[str, Any]:
        return {
            "counters": {
                c: {p: round(n, 6) for p, n in sorted(v.items()) if n}
                for c, v in sorted(self.counters.items())
            },
            "hours": {k: {n: v for n, v in b.items() if v} for k, b in sorted(self.hours.items())},
            "largest": self.largest,
            "comments": {k: v.to_document() for k, v in sorted(self.states.comments.items())},
            "contributors": sorted(
                (k, v.first_at, v.counted) for k, v in self.states.contributors.items()
            ),
            "disseminations": {
                k: v.to_document() for k, v in sorted(self.states.disseminations.items())
            },
            "campaigns": {k: v.to_document() for k, v in sorted(self.states.campaigns.items())},
        }


def _copied_map(states: dict[str, Any]) -> dict[str, Any]:
    return {k: type(v).from_document(v.to_document()) for k, v in states.items()}


def _copied(states: States) -> States:
    return States(
        comments=_copied_map(states.comments),
        participants=_copied_map(states.participants),
        contributors=_copied_map(states.contributors),
        disseminations=_copied_map(states.disseminations),
        clusters=_copied_map(states.clusters),
        campaigns=_copied_map(states.campaigns),
    )


def figures_of(events: Sequence[Event], *, batch: int) -> dict[str, Any]:
    store = Store()
    for start in range(0, len(events), batch):
        store.apply(events[start : start + batch])
    return store.figures()


def test_any_order_and_any_batching_of_a_consultation_give_the_same_figures() -> None:
    events = consultation()
    expected = figures_of(events, batch=len(events))
    assert expected["counters"][CAMPAIGN]["participants"] == 11

    for seed in range(12):
        mixed = list(events)
        random.Random(seed).shuffle(mixed)
        for batch in (1, 7, 64):
            assert figures_of(mixed, batch=batch) == expected, (seed, batch)


# ---- small event factories ----------------------------------------------------------------


def submitted(comment_id: str = "k1", participant_id: str = "p1", *, at: float = 0) -> Event:
    return CommentSubmitted(
        id=f"sub-{comment_id}",
        subject=C,
        time=T0 + timedelta(seconds=at),
        data=CommentSubmittedData(
            comment_id=comment_id, participant_id=participant_id, text="x", text_sha256="0" * 64
        ),
    )


def moderated(decision: Decision, *, at: float, automatic: bool = True, cid: str = "k1") -> Event:
    return CommentModerated(
        id=f"mod-{cid}-{decision}-{at}",
        subject=C,
        time=T0 + timedelta(seconds=at),
        data=CommentModeratedData(
            comment_id=cid, decision=decision, automatic=automatic, redacted_text="x"
        ),
    )


def published(*, at: float, cid: str = "k1") -> Event:
    return CommentPublished(
        id=f"pub-{cid}-{at}",
        subject=C,
        time=T0 + timedelta(seconds=at),
        data=CommentPublishedData(comment_id=cid, text="x"),
    )


def registered(participant_id: str = "p1", source: str | None = "facebook", **kw: Any) -> Event:
    return ParticipantRegistered(
        id=f"reg-{participant_id}",
        subject=C,
        time=T0,
        data=ParticipantRegisteredData(participant_id=participant_id, source=source, **kw),
    )


def voted(participant_id: str = "p1", target: str = "k1", *, at: float = 0) -> Event:
    return VoteCast(
        id=f"vote-{participant_id}-{target}-{at}",
        subject=C,
        time=T0 + timedelta(seconds=at),
        data=VoteCastData(
            vote_id=f"{participant_id}-{target}",
            participant_id=participant_id,
            target_id=target,
            value=1,
        ),
    )


def counters_after(*batches: Sequence[Event]) -> dict[str, float]:
    store = Store()
    for batch in batches:
        store.apply(batch)
    return {p: n for p, n in store.counters.get(C, {}).items() if n}


# ---- participants --------------------------------------------------------------------------


@pytest.mark.parametrize("registration_first", [True, False])
def test_a_participant_takes_part_once_under_their_first_touch_source(
    registration_first: bool,
) -> None:
    contributions = [submitted("k1", at=1), submitted("k2", at=2), voted(at=3)]
    registration = [registered(profile=Profile(region="north"))]
    batches = [registration, contributions] if registration_first else [contributions, registration]

    counters = counters_after(*batches)

    assert counters["participants"] == 1
    assert counters["took_part.facebook"] == 1
    assert counters["profile.region.north"] == 1
    assert counters["profile.age_band.undeclared"] == 1


def test_a_registration_without_a_contribution_is_not_taking_part() -> None:
    counters = counters_after([registered()])

    assert counters["registered.facebook"] == 1
    assert "participants" not in counters
    assert "took_part.facebook" not in counters


def test_a_participant_is_counted_in_each_campaign_they_contributed_to() -> None:
    other = submitted().model_copy(update={"subject": "c2", "id": "sub-c2"})
    store = Store()
    store.apply([submitted(), other])
    store.apply([registered(source=None)])

    assert store.counters[C]["took_part.direct"] == 1
    assert store.counters["c2"]["took_part.direct"] == 1


def test_participation_over_time_counts_a_participant_at_their_first_contribution() -> None:
    late, early = voted(at=7200), submitted(at=0)
    store = Store()
    store.apply([late])
    store.apply([early])

    hours = {k: v for k, v in store.hours.items() if v.get("participants")}
    assert hours == {(C, hour_of(T0)): {"participants": 1, "submitted": 1}}


def test_an_erased_participant_leaves_no_profile_behind() -> None:
    store = Store()
    store.apply([registered(profile=Profile(region="north", sector="health"))])
    store.apply(
        [ParticipantErased(subject=NO_CAMPAIGN, data=ParticipantErasedData(participant_id="p1"))]
    )

    assert store.states.participants["p1"].profile == {}
    assert store.states.participants["p1"].source == "facebook"


def test_events_of_no_campaign_are_not_contributions() -> None:
    vote = voted().model_copy(update={"subject": NO_CAMPAIGN})
    assert needs([vote]).contributors == frozenset()
    assert contributor_id(C, "p1") == "c1|p1"


# ---- comments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "status"),
    [
        ([submitted()], "pending"),
        ([submitted(), moderated("review", at=1)], "held"),
        (
            [submitted(), moderated("review", at=1), moderated("approve", at=9, automatic=False)],
            "approved",
        ),
        ([submitted(), moderated("approve", at=1), published(at=1)], "published"),
        ([submitted(), moderated("reject", at=1)], "rejected"),
        (
            [
                submitted(),
                moderated("approve", at=1),
                published(at=1),
                CommentHidden(
                    subject=C,
                    time=T0 + timedelta(seconds=5),
                    data=CommentHiddenData(comment_id="k1", reason="flags"),
                ),
            ],
            "hidden",
        ),
        # an appeal overturns a rejection: approved and published again later
        (
            [
                submitted(),
                moderated("reject", at=1),
                moderated("approve", at=50, automatic=False),
                published(at=50),
            ],
            "published",
        ),
    ],
)
def test_a_comment_has_the_status_of_its_latest_fact_in_any_order(
    events: list[Event], status: str
) -> None:
    for seed in range(6):
        mixed = list(events)
        random.Random(seed).shuffle(mixed)
        store = Store()
        for event in mixed:
            store.apply([event])
        counters = {p: n for p, n in store.counters[C].items() if p.startswith("status.") and n}
        assert counters == {f"status.{status}": 1}, (seed, mixed)


def test_moderation_latency_is_observed_once_from_submission_to_the_first_final_decision() -> None:
    store = Store()
    store.apply([moderated("review", at=2)])
    store.apply([moderated("approve", at=3602, automatic=False)])
    store.apply([submitted(at=0)])
    store.apply([moderated("reject", at=9000, automatic=False)])  # a later appeal: not again

    counters = store.counters[C]
    assert counters["latency.human.count"] == 1
    assert counters["latency.human.sum"] == 3602
    assert counters["latency.human.14400"] == 1
    assert "latency.automatic.count" not in counters


def test_a_republished_cluster_counts_its_comment_once_and_its_size_by_growth() -> None:
    def grown(size: int) -> Event:
        return CommentPublished(
            id=f"pub-{size}",
            subject=C,
            time=T0 + timedelta(seconds=size),
            data=CommentPublishedData(
                comment_id="k1", text="x", cluster_id="cl", cluster_size=size
            ),
        )

    store = Store()
    store.apply([grown(5)])
    store.apply([grown(2), grown(3)])  # late copies of smaller sizes change nothing

    counters = store.counters[C]
    assert counters["comments.published"] == 1
    assert (counters["clusters.count"], counters["clusters.comments"]) == (1, 5)
    assert store.largest[C] == 5


# ---- dissemination and sources --------------------------------------------------------------


def test_the_latest_registration_of_a_dissemination_is_its_spend_in_any_order() -> None:
    def spend(amount: float, at: float) -> Event:
        return DisseminationRegistered(
            id=f"d-{amount}",
            subject=C,
            time=T0 + timedelta(seconds=at),
            data=DisseminationRegisteredData(
                dissemination_id="d1",
                source="Facebook",
                channel="paid_social",
                spend=Spend(amount=amount),
            ),
        )

    for order in ([spend(500, 1), spend(600, 2)], [spend(600, 2), spend(500, 1)]):
        store = Store()
        for event in order:
            store.apply([event])
        state = store.states.disseminations["d1"]
        assert (state.amount, state.currency, state.source) == ("600.0", "ILS", "facebook")


def test_a_v1_visit_with_a_flat_source_is_attributed_after_upcasting() -> None:
    event = parse_event(
        {
            "specversion": "1.0",
            "id": "e1",
            "source": "kolot/intake",
            "type": "kolot.visit.recorded",
            "subject": C,
            "time": T0.isoformat(),
            "dataschemaversion": 1,
            "data": {"visit_id": "v1", "source": "newsletter"},
        }
    )
    assert counters_after([event])["visits.newsletter"] == 1


def test_a_visit_without_a_source_is_direct() -> None:
    visit = VisitRecorded(
        subject=C, data=VisitRecordedData(visit_id="v", attribution=Attribution())
    )
    assert counters_after([visit])["visits.direct"] == 1


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


def test_every_event_is_counted_by_type_and_an_empty_batch_changes_nothing() -> None:
    counters = counters_after([submitted(), registered()])
    assert counters["events.kolot_comment_submitted"] == 1
    assert counters["events.kolot_participant_registered"] == 1
    assert fold([], States()).deltas == {}


def test_a_contribution_before_the_registration_writes_the_participant_document() -> None:
    # a replica folding the registration concurrently writes it too: one of the two conflicts
    plan = Store().apply([submitted()])
    assert "p1" in plan.participants
    assert not plan.participants["p1"].registered
    # once registered and counted, contributions do not rewrite it
    store = Store()
    store.apply([registered()])
    assert "p1" not in store.apply([submitted("k2", at=5)]).participants
