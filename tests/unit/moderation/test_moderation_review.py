"""People in the loop, with in-memory doubles: flags, appeals, the queue's order, bulk decisions,
form-letter clusters, the audit log and the transparency report."""

from __future__ import annotations

import hashlib

import pytest

from kolot.common.events import (
    AppealDecided,
    AppealFiled,
    AppealFiledData,
    CommentFlagged,
    CommentFlaggedData,
    CommentHidden,
    CommentModerated,
    CommentPublished,
    CommentSubmitted,
    CommentSubmittedData,
    derived_id,
)
from kolot.moderation.repository import QueueFilter
from kolot.moderation.service import (
    CLUSTER_RECOUNT_SECONDS,
    AppealConflict,
    CommentNotFound,
    DecisionConflict,
    ModerationService,
    SameModerator,
)
from tests.unit.moderation.eval_set import form_letter
from tests.unit.moderation.test_moderation_service import (
    T0,
    CampaignLog,
    MemoryStore,
    Recorder,
    policy,
)


def comment(
    comment_id: str,
    text: str,
    *,
    author: str = "author",
    campaign: str = "c1",
    parent_id: str | None = None,
) -> CommentSubmitted:
    return CommentSubmitted(
        subject=campaign,
        time=T0,
        data=CommentSubmittedData(
            comment_id=comment_id,
            participant_id=author,
            text=text,
            text_sha256=hashlib.sha256(text.encode()).hexdigest(),
            parent_id=parent_id,
        ),
    )


def flag(comment_id: str, by: str, *, reason: str = "abuse") -> CommentFlagged:
    return CommentFlagged(
        id=derived_id("flag-event", comment_id, by),
        subject="c1",
        time=T0,
        data=CommentFlaggedData(comment_id=comment_id, participant_id=by, reason=reason),  # type: ignore[arg-type]
    )


def appeal(appeal_id: str, comment_id: str, *, by: str = "author") -> AppealFiled:
    return AppealFiled(
        subject="c1",
        time=T0,
        data=AppealFiledData(
            appeal_id=appeal_id,
            comment_id=comment_id,
            participant_id=by,
            text="I only criticised the plan. Call me at 050-1234567",
        ),
    )


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def bus() -> Recorder:
    return Recorder()


@pytest.fixture
def service(store: MemoryStore, bus: Recorder) -> ModerationService:
    return ModerationService(store, bus, campaign_log=CampaignLog(), clock=lambda: T0)


# --- flags -------------------------------------------------------------------------------------


async def test_flags_from_three_participants_hide_a_published_comment_once(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    await service.moderate([comment("k1", "The committee ignores the north")])
    await service.flag([flag("k1", "p1"), flag("k1", "p1", reason="spam"), flag("k1", "p2")])
    assert store.comments["k1"].status == "approved"  # two distinct participants so far
    assert store.comments["k1"].flags == 2
    assert bus.of_type(CommentHidden) == []

    await service.flag([flag("k1", "p3")])
    record = store.comments["k1"]
    assert (record.status, record.hidden_by_flags, record.flags) == ("pending", True, 3)
    (hidden,) = bus.of_type(CommentHidden, public=True)
    assert isinstance(hidden, CommentHidden)
    assert (hidden.data.reason, hidden.data.flags) == ("flags", 3)

    # redelivered flags count nothing twice and hide nothing twice
    await service.flag([flag("k1", "p1"), flag("k1", "p2"), flag("k1", "p3")])
    assert store.comments["k1"].flags == 3
    assert len(bus.of_type(CommentHidden, public=True)) == 1
    # to people: flagged comments in the queue, ahead of older unflagged ones
    queued = await service.queue(QueueFilter(flagged=True), limit=10)
    assert [r.comment_id for r in queued] == ["k1"]
    assert store.comments["k1"].flag_reasons == ["abuse"]  # p1's second flag did not count
    assert [e.action for e in store.audit_log.values() if e.comment_id == "k1"] == [
        "auto",
        "flags",
    ]


async def test_the_flag_threshold_is_the_campaigns(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    store.campaigns["c1"] = policy("c1", "post").model_copy(update={"flag_threshold": 1})
    await service.moderate([comment("k1", "An opinion")])
    await service.flag([flag("k1", "p1")])
    assert store.comments["k1"].hidden_by_flags


async def test_flags_do_not_overrule_a_moderator_who_approved(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    store.campaigns["c1"] = policy("c1", "pre")
    await service.moderate([comment("k1", "An opinion")])
    await service.decide_by_moderator("k1", decision="approve", reason="fine", moderator="m1")
    await service.flag([flag("k1", f"p{i}") for i in range(5)])
    assert store.comments["k1"].status == "approved"
    assert bus.of_type(CommentHidden) == []


async def test_a_moderator_republishes_a_comment_hidden_by_flags(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    await service.moderate([comment("k1", "The budget is a scandal")])
    await service.flag([flag("k1", f"p{i}") for i in range(3)])
    record = await service.decide_by_moderator(
        "k1", decision="approve", reason="Harsh but civil", moderator="m1"
    )
    assert (record.status, record.decided_by) == ("approved", "human")
    ids = {e.id for e in bus.of_type(CommentPublished, public=True)}
    assert ids == {derived_id("k1", "published", "auto"), derived_id("k1", "published", "human")}


# --- appeals -----------------------------------------------------------------------------------


async def test_an_appeal_goes_to_another_moderator_who_may_overturn(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    store.campaigns["c1"] = policy("c1", "pre")
    await service.moderate([comment("k1", "The minister must resign")])
    await service.decide_by_moderator("k1", decision="reject", reason="Too harsh", moderator="m1")
    await service.file_appeals([appeal("a1", "k1"), appeal("a2", "k1", by="someone-else")])

    assert list(store.appeal_records) == ["a1"]  # only the author may appeal
    assert store.appeal_records["a1"].text.endswith("[phone]")  # redacted for moderators
    assert await service.appeals(status="open", campaign_id=None, moderator="m1", limit=10) == []
    open_for_m2 = await service.appeals(status="open", campaign_id=None, moderator="m2", limit=10)
    assert [a.appeal_id for a in open_for_m2] == ["a1"]
    with pytest.raises(SameModerator):
        await service.decide_appeal("a1", outcome="overturned", statement="ok", moderator="m1")

    decided, record = await service.decide_appeal(
        "a1", outcome="overturned", statement="Criticism is allowed", moderator="m2"
    )
    assert (decided.status, decided.outcome, decided.moderator) == ("decided", "overturned", "m2")
    assert (record.status, record.moderator, record.reasons) == ("approved", "m2", ["appeal"])
    (outcome,) = bus.of_type(AppealDecided)
    assert isinstance(outcome, AppealDecided)
    assert (outcome.data.outcome, outcome.data.participant_id) == ("overturned", "author")
    assert outcome.data.statement == "Criticism is allowed"
    (published,) = bus.of_type(CommentPublished, public=True)
    assert published.id == derived_id("k1", "published", "appeal")

    # a retry changes nothing; the other outcome is a conflict
    sent = bus.sent
    await service.decide_appeal(
        "a1", outcome="overturned", statement="Criticism is allowed", moderator="m2"
    )
    assert len(bus.of_type(AppealDecided)) == 1
    assert bus.sent > sent  # sent again, with the same ids, in case the first send was lost
    with pytest.raises(AppealConflict):
        await service.decide_appeal("a1", outcome="upheld", statement="no", moderator="m3")
    actions = [(e.action, e.actor) for e in store.audit_log.values() if e.comment_id == "k1"]
    assert actions == [("auto", "auto"), ("human", "m1"), ("appeal", "m2")]


async def test_an_upheld_appeal_keeps_a_threat_down(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    await service.moderate([comment("k1", "I will kill you")])
    await service.file_appeals([appeal("a1", "k1")])
    assert store.appeal_records["a1"].excluded_moderator is None  # the machine decided
    _, record = await service.decide_appeal(
        "a1", outcome="upheld", statement="A threat of violence", moderator="m1"
    )
    assert record.status == "rejected"
    assert bus.of_type(CommentPublished, public=True) == []
    (outcome,) = bus.of_type(AppealDecided)
    assert isinstance(outcome, AppealDecided)
    assert outcome.data.outcome == "upheld"


async def test_appeals_on_published_comments_are_not_opened(
    service: ModerationService, store: MemoryStore
) -> None:
    await service.moderate([comment("k1", "A fine comment")])
    await service.file_appeals([appeal("a1", "k1"), appeal("a2", "unknown")])
    assert store.appeal_records == {}


# --- the queue and bulk decisions --------------------------------------------------------------


async def test_the_queue_puts_risk_first_then_age_and_filters(
    service: ModerationService, store: MemoryStore
) -> None:
    store.campaigns["c1"] = policy("c1", "pre")
    await service.moderate(
        [
            comment("k1", "הצעה טובה לשכונה"),
            comment("k2", "the minister is an idiot"),
            comment("k3", "اقتراح جيد"),
        ]
    )
    queued = await service.queue(QueueFilter(), limit=10)
    assert queued[0].comment_id == "k2"
    assert queued[0].risk > queued[1].risk
    arabic = await service.queue(QueueFilter(language="ar"), limit=10)
    assert [r.comment_id for r in arabic] == ["k3"]
    abuse = await service.queue(QueueFilter(reason="abuse"), limit=10)
    assert [r.comment_id for r in abuse] == ["k2"]


async def test_a_bulk_decision_reports_each_comment(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    store.campaigns["c1"] = policy("c1", "pre")
    await service.moderate([comment("k1", "one"), comment("k2", "two"), comment("k3", "three")])
    await service.decide_by_moderator("k3", decision="reject", reason="no", moderator="m0")
    results = await service.decide_many(
        ["k1", "k2", "k3", "nope", "k1"], decision="approve", reason="fine", moderator="m1"
    )
    assert list(results) == ["k1", "k2", "k3", "nope"]
    assert [getattr(results[c], "status", None) for c in ("k1", "k2")] == ["approved"] * 2
    assert isinstance(results["k3"], DecisionConflict)
    assert isinstance(results["nope"], CommentNotFound)
    assert len(bus.of_type(CommentPublished, public=True)) == 2


UNRELATED = (
    "The ministry should publish the data behind the forecast, including the traffic "
    "counts, so that residents can check the assumptions themselves"
)
"""A long comment that is no copy of the form letter."""


# --- form letters ------------------------------------------------------------------------------


async def test_a_cluster_begun_elsewhere_is_counted_in_the_store_once(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    """Another replica (or this one before a restart) began the cluster: its members already
    stored are counted by the store, once, then grown in memory."""
    other = ModerationService(store, bus, campaign_log=CampaignLog(), clock=lambda: T0)
    await other.moderate([comment(f"f{i}", form_letter(i), author=f"p{i}") for i in range(3)])
    await service.moderate([comment("f3", form_letter(3), author="p3")])
    await service.moderate([comment("f4", form_letter(4), author="p4")])

    assert store.clusters_counted == ["f0"]
    sizes = [e.data.cluster_size for e in bus.of_type(CommentPublished, public=True)]
    assert sizes[-2:] == [4, 5]


async def test_form_letters_are_published_once_as_a_cluster_with_its_size(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    letters = [comment(f"f{i}", form_letter(i), author=f"p{i}") for i in range(6)]
    await service.moderate(letters[:1])
    await service.moderate(letters[1:])
    records = [store.comments[f"f{i}"] for i in range(6)]
    assert {r.cluster_id for r in records} == {"f0"}
    assert [r.absorbed for r in records] == [False] + [True] * 5
    assert all(r.status == "approved" for r in records)
    assert all("duplicate" in r.reasons for r in records[1:])
    assert all("shown once" in (r.statement or "") for r in records[1:])  # the senders are told
    public = [e for e in bus.of_type(CommentPublished, public=True)]
    assert all(isinstance(e, CommentPublished) and e.data.comment_id == "f0" for e in public)
    sizes = [e.data.cluster_size for e in public if isinstance(e, CommentPublished)]
    assert sizes == [None, 6]
    copies = [
        e
        for e in bus.of_type(CommentModerated)
        if isinstance(e, CommentModerated) and e.data.comment_id != "f0"
    ]
    assert {(e.data.cluster_id, e.data.cluster_size) for e in copies} == {("f0", 6)}
    ((representative, size),) = await service.clusters("c1", limit=10)
    assert (representative.comment_id, size) == ("f0", 6)  # what analysts see
    # a cluster begun here is counted in memory: the store is not asked to count its members
    assert store.clusters_counted == []
    # redelivery of the copies publishes nothing new
    before = set(bus.public)
    await service.moderate(letters[1:])
    assert set(bus.public) == before


async def test_short_comments_and_replies_are_not_form_letters(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    await service.moderate(
        [
            comment("s1", "I agree", author="p1"),
            comment("s2", "I agree", author="p2"),
            comment("r1", form_letter(0), author="p3", parent_id="x"),
            comment("r2", form_letter(0), author="p4", parent_id="x"),
        ]
    )
    assert all(not r.absorbed and r.cluster_id is None for r in store.comments.values())
    assert len(bus.of_type(CommentPublished, public=True)) == 4


async def test_an_unrelated_long_comment_starts_its_own_cluster(
    service: ModerationService, store: MemoryStore
) -> None:
    await service.moderate([comment("f0", form_letter(0)), comment("o1", UNRELATED, author="p2")])
    assert store.comments["o1"].cluster_id == "o1"
    assert not store.comments["o1"].absorbed


async def test_cluster_sizes_past_their_recount_are_forgotten_and_counted_again(
    store: MemoryStore, bus: Recorder
) -> None:
    """Every comment that matches no form letter begins a cluster: its size is kept in memory
    only while it would be trusted, so the memory does not grow with the consultation."""
    ticks = [0.0]
    service = ModerationService(
        store, bus, campaign_log=CampaignLog(), clock=lambda: T0, monotonic=lambda: ticks[0]
    )
    await service.moderate([comment("f0", form_letter(0), author="p0")])
    await service.moderate([comment("f1", form_letter(1), author="p1")])
    assert store.clusters_counted == []  # begun here: counted in memory

    ticks[0] = CLUSTER_RECOUNT_SECONDS + 1
    await service.moderate([comment("o1", UNRELATED, author="p9")])
    assert set(service._cluster_sizes) == {"o1"}  # f0's size is no longer kept

    await service.moderate([comment("f2", form_letter(2), author="p2")])
    assert store.clusters_counted == ["f0"]
    sizes = [e.data.cluster_size for e in bus.of_type(CommentPublished, public=True)]
    assert sizes[-1] == 3


# --- transparency ------------------------------------------------------------------------------


async def test_the_transparency_report_counts_decisions_reasons_and_appeals(
    service: ModerationService, store: MemoryStore
) -> None:
    await service.moderate(
        [
            comment("k1", "A fine comment"),
            comment("k2", "I will kill you"),
            comment("k3", "Another fine comment, call 050-1234567"),
        ]
    )
    await service.decide_by_moderator("k1", decision="reject", reason="off topic", moderator="m")
    await service.file_appeals([appeal("a1", "k2")])
    report = await service.transparency("c1")
    assert report.comments == 3
    assert report.by_status == {"published": 1, "rejected": 2}
    assert report.by_reason["threat"] == 1
    assert report.by_reason["pii_redacted"] == 1
    assert (report.automatic, report.human, report.overturned_automatic) == (2, 1, 1)
    assert report.appeals == {"open": 1, "upheld": 0, "overturned": 0}
    assert report.median_seconds_to_decision == 0.0


# --- velocity ----------------------------------------------------------------------------------


async def test_a_burst_from_one_participant_goes_to_people(
    service: ModerationService, store: MemoryStore
) -> None:
    await service.moderate([comment(f"b{i}", f"Opinion number {i}") for i in range(4)])
    assert all(r.status == "approved" for r in store.comments.values())
    await service.moderate([comment(f"b{i}", f"Opinion number {i}") for i in range(4, 8)])
    late = [store.comments[f"b{i}"] for i in range(4, 8)]
    assert all(
        (r.status, r.reasons, r.scores.get("burst")) == ("pending", ["spam"], 1.0) for r in late
    )
    await service.moderate([comment("other", "Opinion number 1", author="someone")])
    assert store.comments["other"].status == "approved"
