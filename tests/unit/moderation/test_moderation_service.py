"""The moderation service with an in-memory store and publisher: what it stores and emits."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kolot.common.events import (
    CampaignCreated,
    CampaignSnapshot,
    CampaignUpdated,
    CommentHidden,
    CommentModerated,
    CommentPublished,
    CommentSubmitted,
    CommentSubmittedData,
    Event,
    LocalizedText,
    ModerationMode,
    derived_id,
)
from kolot.moderation.learning import Example
from kolot.moderation.models import (
    AppealRecord,
    AuditEntry,
    CampaignPolicy,
    CommentRecord,
    CommentStatus,
)
from kolot.moderation.repository import QueueFilter
from kolot.moderation.service import (
    CommentNotFound,
    DecisionConflict,
    HumanDecision,
    ModerationService,
)
from kolot.moderation.surge import Counts, SurgeKind

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class MemoryStore:
    def __init__(self) -> None:
        self.comments: dict[str, CommentRecord] = {}
        self.campaigns: dict[str, CampaignPolicy] = {}
        self.flags: dict[str, dict[str, Any]] = {}
        self.appeal_records: dict[str, AppealRecord] = {}
        self.audit_log: dict[str, AuditEntry] = {}
        self.cluster_docs: dict[str, dict[str, Any]] = {}
        self.alert_docs: dict[str, dict[str, Any]] = {}
        self.example_docs: dict[str, dict[str, Any]] = {}
        self.clusters_counted: list[str] = []
        """Every cluster whose members the service asked the store to count."""

    async def policies(self, campaign_ids: Collection[str]) -> dict[str, CampaignPolicy]:
        return {c: self.campaigns[c] for c in campaign_ids if c in self.campaigns}

    async def save_policies(self, policies: Sequence[CampaignPolicy]) -> None:
        for p in policies:
            if (
                p.campaign_id not in self.campaigns
                or self.campaigns[p.campaign_id].as_of <= p.as_of
            ):
                self.campaigns[p.campaign_id] = p

    async def add_automatic(self, records: Sequence[CommentRecord]) -> set[str]:
        new = {r.comment_id for r in records if r.comment_id not in self.comments}
        for r in records:
            self.comments.setdefault(r.comment_id, r)
        return new

    async def get(self, comment_id: str) -> CommentRecord | None:
        return self.comments.get(comment_id)

    async def get_many(self, comment_ids: Collection[str]) -> dict[str, CommentRecord]:
        return {c: self.comments[c] for c in comment_ids if c in self.comments}

    async def audited(self, entry_ids: Collection[str]) -> set[str]:
        return {e for e in entry_ids if e in self.audit_log}

    async def pending(self, queue: QueueFilter, *, limit: int) -> list[CommentRecord]:
        items = [
            r
            for r in self.comments.values()
            if r.status == "pending"
            and queue.campaign_id in (None, r.campaign_id)
            and queue.language in (None, r.language)
            and (queue.reason is None or queue.reason in r.reasons)
            and queue.cluster_id in (None, r.cluster_id)
            and queue.flagged in (None, r.hidden_by_flags)
            and (queue.min_risk is None or r.risk >= queue.min_risk)
        ]
        return sorted(items, key=lambda r: (-r.risk, r.submitted_at, r.comment_id))[:limit]

    async def overturn(self, current: CommentRecord, **changes: Any) -> CommentRecord | None:
        stored = self.comments[current.comment_id]
        if (stored.status, stored.decided_at) != (current.status, current.decided_at):
            return None
        self.comments[current.comment_id] = updated = stored.model_copy(
            update={
                **changes,
                "decided_by": "human",
                "decided_at": changes["at"],
                "previous_status": current.status,
                "hidden_by_flags": False,
            }
        )
        return updated

    async def add_flags(self, flags: Sequence[dict[str, Any]]) -> None:
        for flag in flags:
            self.flags.setdefault(flag["_id"], flag)

    async def flag_tallies(self, comment_ids: Collection[str]) -> dict[str, tuple[int, list[str]]]:
        tallies: dict[str, tuple[int, list[str]]] = {}
        for comment_id in comment_ids:
            mine = [f for f in self.flags.values() if f["comment_id"] == comment_id]
            if mine:
                reasons = list(dict.fromkeys(f["reason"] for f in mine))
                tallies[comment_id] = (len({f["participant_id"] for f in mine}), reasons)
        return tallies

    async def set_flags(self, tallies: dict[str, tuple[int, list[str]]]) -> None:
        for comment_id, (count, reasons) in tallies.items():
            if comment_id in self.comments:
                self.comments[comment_id] = self.comments[comment_id].model_copy(
                    update={"flags": count, "flag_reasons": reasons}
                )

    async def hide_by_flags(self, comment_id: str, *, risk: float) -> CommentRecord | None:
        stored = self.comments[comment_id]
        if (stored.status, stored.decided_by) != ("approved", "auto"):
            return None
        self.comments[comment_id] = updated = stored.model_copy(
            update={
                "status": "pending",
                "hidden_by_flags": True,
                "previous_status": "approved",
                "risk": risk,
            }
        )
        return updated

    async def add_appeals(self, appeals: Sequence[AppealRecord]) -> set[str]:
        new = {a.appeal_id for a in appeals if a.appeal_id not in self.appeal_records}
        for appeal in appeals:
            self.appeal_records.setdefault(appeal.appeal_id, appeal)
        return new

    async def get_appeal(self, appeal_id: str) -> AppealRecord | None:
        return self.appeal_records.get(appeal_id)

    async def appeals(
        self, *, status: str | None, campaign_id: str | None, not_for: str | None, limit: int
    ) -> list[AppealRecord]:
        return [
            a
            for a in self.appeal_records.values()
            if status in (None, a.status)
            and campaign_id in (None, a.campaign_id)
            and (not_for is None or a.excluded_moderator != not_for)
        ][:limit]

    async def decide_appeal(self, appeal: AppealRecord, **changes: Any) -> AppealRecord | None:
        stored = self.appeal_records[appeal.appeal_id]
        if stored.status != "open":
            return None
        self.appeal_records[appeal.appeal_id] = updated = stored.model_copy(
            update={**changes, "status": "decided", "decided_at": changes["at"]}
        )
        return updated

    async def add_audit(self, entries: Sequence[AuditEntry]) -> None:
        for entry in entries:
            self.audit_log.setdefault(entry.entry_id, entry)

    async def audit(
        self, *, campaign_id: str | None, comment_id: str | None, actor: str | None, limit: int
    ) -> list[AuditEntry]:
        return [
            e
            for e in self.audit_log.values()
            if campaign_id in (None, e.campaign_id)
            and comment_id in (None, e.comment_id)
            and actor in (None, e.actor)
        ][:limit]

    async def clusters(self, campaign_id: str, *, after: int, limit: int) -> list[dict[str, Any]]:
        return sorted(
            (
                c
                for c in self.cluster_docs.values()
                if c["campaign_id"] == campaign_id and c["seq"] > after
            ),
            key=lambda c: c["seq"],
        )[-limit:]

    async def add_clusters(self, clusters: Sequence[dict[str, Any]]) -> None:
        for cluster in clusters:
            self.cluster_docs.setdefault(cluster["_id"], cluster)

    async def cluster_sizes(self, cluster_ids: Collection[str]) -> dict[str, int]:
        self.clusters_counted.extend(cluster_ids)
        return {
            c: sum(
                1 for r in self.comments.values() if r.cluster_id == c and r.status == "approved"
            )
            for c in cluster_ids
        }

    async def campaign_comments(self, campaign_id: str) -> list[dict[str, Any]]:
        return [r.to_document() for r in self.comments.values() if r.campaign_id == campaign_id]

    async def surge_counts(
        self, campaign_id: str, *, now: datetime, window: timedelta, baseline: timedelta
    ) -> dict[SurgeKind, Counts]:
        start, before = now - window, now - window - baseline

        def tally(times: list[datetime]) -> Counts:
            return Counts(
                window=sum(1 for t in times if t >= start),
                before=sum(1 for t in times if before <= t < start),
            )

        mine = [r for r in self.comments.values() if r.campaign_id == campaign_id]
        flagged = [
            datetime.fromisoformat(f["at"].replace("Z", "+00:00"))
            for f in self.flags.values()
            if f["campaign_id"] == campaign_id
        ]
        return {
            "submission_surge": tally([r.submitted_at for r in mine]),
            "abuse_surge": tally(
                [r.submitted_at for r in mine if (r.status, r.decided_by) == ("rejected", "auto")]
            ),
            "flag_surge": tally(flagged),
        }

    async def alerts(self, campaign_id: str) -> dict[str, dict[str, Any]]:
        return {a["kind"]: a for a in self.alert_docs.values() if a["campaign_id"] == campaign_id}

    async def raised_alert_campaigns(self) -> set[str]:
        return {a["campaign_id"] for a in self.alert_docs.values() if a["state"] == "raised"}

    async def save_alert(self, document: dict[str, Any], *, revision: int) -> bool:
        current = self.alert_docs.get(document["_id"])
        if (current["revision"] if current else 0) != revision:
            return False
        self.alert_docs[document["_id"]] = {**document, "revision": revision + 1}
        return True

    async def recent_authors(
        self, participants: Collection[str], client_refs: Collection[str], *, since: datetime
    ) -> list[dict[str, Any]]:
        return [
            r.to_document()
            for r in self.comments.values()
            if r.submitted_at >= since
            and (r.participant_id in participants or r.client_ref in client_refs)
        ]

    async def add_examples(self, examples: Sequence[dict[str, Any]]) -> None:
        for example in examples:
            self.example_docs[example["_id"]] = example

    async def examples(self) -> list[Example]:
        return [Example(e["language"], e["key"], e["rejected"]) for e in self.example_docs.values()]

    async def examples_version(self) -> str:
        latest = max((e["at"] for e in self.example_docs.values()), default="")
        return f"{len(self.example_docs)}:{latest}"

    async def campaign_clusters(self, campaign_id: str, *, limit: int) -> list[tuple[str, int]]:
        sizes: dict[str, int] = {}
        for r in self.comments.values():
            if r.campaign_id == campaign_id and r.absorbed and r.cluster_id:
                sizes[r.cluster_id] = sizes.get(r.cluster_id, 0) + 1
        ranked = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:limit]
        return [(c, n + 1) for c, n in ranked]

    async def campaign_appeals(self, campaign_id: str) -> list[AppealRecord]:
        return [a for a in self.appeal_records.values() if a.campaign_id == campaign_id]

    async def record_human(
        self,
        current: CommentRecord,
        *,
        decision: HumanDecision,
        status: CommentStatus,
        statement: str,
        reasons: list[str],
        moderator: str,
        at: datetime,
    ) -> CommentRecord | None:
        stored = self.comments[current.comment_id]
        if stored.decided_by != "auto" or stored.status != current.status:
            return None
        self.comments[current.comment_id] = updated = stored.model_copy(
            update={
                "decision": decision,
                "status": status,
                "decided_by": "human",
                "statement": statement,
                "reasons": reasons,
                "moderator": moderator,
                "decided_at": at,
                "previous_status": current.status,
            }
        )
        return updated


class Recorder:
    """A publisher that keeps what JetStream would store: one message per id per stream."""

    def __init__(self) -> None:
        self.events: dict[str, Event] = {}
        self.public: dict[str, Event] = {}
        self.sent = 0
        self.fail_next = False

    async def publish(self, *events: Event) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("bus unavailable")
        self.sent += len(events)
        for event in events:
            self.events.setdefault(event.id, event)

    async def publish_public(self, *events: Event) -> None:
        self.sent += len(events)
        for event in events:
            assert event.public
            self.public.setdefault(event.id, event)

    def of_type(self, cls: type[Event], *, public: bool = False) -> list[Event]:
        return [e for e in (self.public if public else self.events).values() if isinstance(e, cls)]


class CampaignLog:
    def __init__(self, *policies: CampaignPolicy) -> None:
        self.policies = {p.campaign_id: p for p in policies}
        self.asked: list[str] = []

    async def latest(self, campaign_id: str) -> CampaignPolicy | None:
        self.asked.append(campaign_id)
        return self.policies.get(campaign_id)


def submitted(comment_id: str, text: str, *, campaign: str = "c1") -> CommentSubmitted:
    return CommentSubmitted(
        subject=campaign,
        time=T0,
        data=CommentSubmittedData(
            comment_id=comment_id,
            participant_id="p1",
            text=text,
            text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        ),
    )


def policy(campaign: str, mode: ModerationMode, *, at: datetime = T0) -> CampaignPolicy:
    return CampaignPolicy(campaign_id=campaign, moderation_mode=mode, as_of=at)


def sent_marked(store: MemoryStore, comment_id: str) -> bool:
    """The automatic decision's audit entry, written once its events are on the bus."""
    return any(e.comment_id == comment_id and e.action == "auto" for e in store.audit_log.values())


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def bus() -> Recorder:
    return Recorder()


@pytest.fixture
def service(store: MemoryStore, bus: Recorder) -> ModerationService:
    return ModerationService(store, bus, campaign_log=CampaignLog(), clock=lambda: T0)


async def test_an_approved_comment_is_stored_and_published_redacted(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    await service.moderate([submitted("k1", "תוכנית גרועה, התקשרו 050-1234567")])

    record = store.comments["k1"]
    assert (record.status, record.decided_by, record.language) == ("approved", "auto", "he")
    assert record.redacted_text == "תוכנית גרועה, התקשרו [phone]"
    assert sent_marked(store, "k1")
    (moderated,) = bus.of_type(CommentModerated)
    assert moderated.id == derived_id("k1", "moderated", "auto")
    assert isinstance(moderated, CommentModerated)
    assert moderated.data.automatic
    assert moderated.data.decision == "approve"
    (published,) = bus.of_type(CommentPublished, public=True)
    assert published.id == derived_id("k1", "published", "auto")
    assert isinstance(published, CommentPublished)
    assert published.subject == "c1"
    assert published.data.text == "תוכנית גרועה, התקשרו [phone]"
    assert published.data.submitted_at == T0
    assert bus.of_type(CommentPublished) == [published]


async def test_a_rejected_comment_is_moderated_but_not_published(
    service: ModerationService, bus: Recorder
) -> None:
    await service.moderate([submitted("k1", "سأقتلك")])
    (moderated,) = bus.of_type(CommentModerated)
    assert isinstance(moderated, CommentModerated)
    assert moderated.data.decision == "reject"
    assert moderated.data.reasons == ["threat"]
    assert moderated.data.statement is not None
    assert "تهديد" in moderated.data.statement
    assert bus.of_type(CommentPublished) == []
    assert bus.public == {}


async def test_a_redelivered_comment_emits_nothing_new(
    service: ModerationService, bus: Recorder
) -> None:
    event = submitted("k1", "fine")
    await service.moderate([event, event])  # twice in one batch
    sent = bus.sent
    await service.moderate([event])  # and again later
    assert bus.sent == sent
    assert len(bus.of_type(CommentPublished)) == 1


async def test_events_lost_before_the_bus_took_them_are_sent_again_with_the_same_ids(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    event = submitted("k1", "fine")
    bus.fail_next = True
    with pytest.raises(RuntimeError):
        await service.moderate([event])
    assert "k1" in store.comments
    assert not sent_marked(store, "k1")  # stored, not yet acknowledged by the bus

    await service.moderate([event])  # the redelivery
    assert sent_marked(store, "k1")
    assert [e.id for e in bus.of_type(CommentPublished)] == [derived_id("k1", "published", "auto")]


async def test_pre_moderated_campaign_queues_civil_comments(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    store.campaigns["c1"] = policy("c1", "pre")
    await service.moderate([submitted("k1", "a civil remark")])
    assert store.comments["k1"].status == "pending"
    (moderated,) = bus.of_type(CommentModerated)
    assert isinstance(moderated, CommentModerated)
    assert moderated.data.decision == "review"
    assert bus.public == {}
    assert [r.comment_id for r in await service.queue(QueueFilter(campaign_id="c1"), limit=10)] == [
        "k1"
    ]
    assert await service.queue(QueueFilter(campaign_id="other"), limit=10) == []


async def test_a_campaign_not_yet_in_the_store_is_read_from_the_bus(
    store: MemoryStore, bus: Recorder
) -> None:
    log = CampaignLog(policy("c1", "pre"))
    service = ModerationService(store, bus, campaign_log=log, clock=lambda: T0)
    await service.moderate([submitted("k1", "hello"), submitted("k2", "hi", campaign="c2")])
    assert sorted(log.asked) == ["c1", "c2"]
    assert store.comments["k1"].status == "pending"
    assert store.comments["k2"].status == "approved"  # unknown everywhere: automatic


async def test_unknown_campaign_mode_is_configurable(store: MemoryStore, bus: Recorder) -> None:
    service = ModerationService(store, bus, unknown_campaign_mode="pre", clock=lambda: T0)
    await service.moderate([submitted("k1", "hello")])
    assert store.comments["k1"].status == "pending"


def campaign_event(
    cls: type[CampaignCreated] | type[CampaignUpdated], mode: ModerationMode, at: datetime
) -> CampaignCreated | CampaignUpdated:
    snapshot = CampaignSnapshot(
        campaign_id="c1", status="draft", title=LocalizedText(en="t"), moderation_mode=mode
    )
    return cls(subject="c1", time=at, data=snapshot)


async def test_campaign_policy_follows_the_latest_event(
    service: ModerationService, store: MemoryStore
) -> None:
    later = T0 + timedelta(minutes=5)
    await service.record_campaigns(
        [campaign_event(CampaignUpdated, "pre", later), campaign_event(CampaignCreated, "auto", T0)]
    )
    assert store.campaigns["c1"].moderation_mode == "pre"
    await service.record_campaigns([campaign_event(CampaignCreated, "auto", T0)])  # redelivered
    assert store.campaigns["c1"].moderation_mode == "pre"


async def test_policies_are_read_from_memory_kept_current_from_the_bus(
    store: MemoryStore, bus: Recorder
) -> None:
    log = CampaignLog()
    ticks = [0.0]
    service = ModerationService(
        store, bus, campaign_log=log, clock=lambda: T0, monotonic=lambda: ticks[0]
    )
    service.remember_policies([policy("c1", "pre")])  # e.g. from the campaign events followed
    await service.moderate([submitted("k1", "a civil remark")])
    assert store.comments["k1"].status == "pending"
    assert log.asked == []  # known in memory: neither the store nor the bus was asked
    later = T0 + timedelta(minutes=5)
    await service.record_campaigns([campaign_event(CampaignUpdated, "auto", later)])
    await service.moderate([submitted("k2", "a civil remark")])
    assert store.comments["k2"].status == "approved"  # the change applies at once

    # a campaign heard of nowhere is asked about again only after a pause, not every batch
    await service.moderate([submitted("k3", "hello", campaign="c9")])
    await service.moderate([submitted("k4", "hello", campaign="c9")])
    assert log.asked == ["c9"]
    ticks[0] += 10
    log.policies["c9"] = policy("c9", "pre")
    await service.moderate([submitted("k5", "hello", campaign="c9")])
    assert log.asked == ["c9", "c9"]
    assert store.comments["k5"].status == "pending"


async def test_a_moderator_approves_a_queued_comment(
    service: ModerationService, store: MemoryStore, bus: Recorder
) -> None:
    store.campaigns["c1"] = policy("c1", "pre")
    await service.moderate([submitted("k1", "a civil remark")])

    record = await service.decide_by_moderator(
        "k1", decision="approve", reason="On topic", moderator="mod-7"
    )
    assert (record.status, record.decided_by, record.moderator) == ("approved", "human", "mod-7")
    assert record.previous_status == "pending"
    human = [
        e for e in bus.events.values() if isinstance(e, CommentModerated) and not e.data.automatic
    ]
    assert [e.id for e in human] == [derived_id("k1", "moderated", "human", "approve")]
    (published,) = bus.of_type(CommentPublished, public=True)
    assert published.id == derived_id("k1", "published", "human")
    assert await service.queue(QueueFilter(), limit=10) == []

    # the same decision again is answered with the same record and the same event ids
    sent = len(bus.events)
    again = await service.decide_by_moderator(
        "k1", decision="approve", reason="On topic", moderator="mod-8"
    )
    assert again.moderator == "mod-7"
    assert len(bus.events) == sent

    with pytest.raises(DecisionConflict):
        await service.decide_by_moderator("k1", decision="reject", reason="no", moderator="m")


async def test_rejecting_a_published_comment_hides_it(
    service: ModerationService, bus: Recorder
) -> None:
    await service.moderate([submitted("k1", "published at once")])
    record = await service.decide_by_moderator(
        "k1", decision="reject", reason="Spam link", moderator="mod-1"
    )
    assert record.status == "rejected"
    (hidden,) = bus.of_type(CommentHidden, public=True)
    assert isinstance(hidden, CommentHidden)
    assert hidden.data.statement is None  # the moderator's words stay off the public stream
    assert len(bus.of_type(CommentPublished)) == 1  # no second publication


async def test_approving_an_auto_approved_comment_publishes_nothing_new(
    service: ModerationService, bus: Recorder
) -> None:
    await service.moderate([submitted("k1", "fine")])
    await service.decide_by_moderator("k1", decision="approve", reason="ok", moderator="m")
    assert len(bus.of_type(CommentPublished)) == 1


async def test_deciding_an_unknown_comment_fails(service: ModerationService) -> None:
    with pytest.raises(CommentNotFound):
        await service.decide_by_moderator("nope", decision="approve", reason="x", moderator="m")
