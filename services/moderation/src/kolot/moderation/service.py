"""Moderation's domain logic: automatic decisions on submitted comments, the moderators' queue
and their decisions, and the events that tell everyone else.

No FastStream or HTTP here: the service works on events, a store and a publisher behind the
Protocols below, so it is tested with in-memory doubles and run with MongoDB and JetStream.

Delivery: the bus delivers each submitted comment at least once. The decision is stored first
(an upsert that leaves an existing record alone), then its events are published with ids derived
from the comment, then its audit entry is written: the entry is the mark that the decision's
events were acknowledged by the bus (one write per comment instead of two). A redelivery finds the
record: if its audit entry exists it publishes nothing; if the process died before, it publishes
the same events with the same ids, which JetStream's duplicate window and every consumer drop.

Throughput (a national consultation drains a million comments): a batch costs one bulk write of
decisions and one of audit entries, plus a few small reads; campaign policies come from memory
kept current from the bus, velocity is counted in memory, cluster sizes are counted in memory
(checked against the store now and then), and surge windows are looked at by a background loop
(``keep_watch``), never on the consumer's path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal, Protocol

from kolot.common.events import (
    AppealDecided,
    AppealDecidedData,
    AppealFiled,
    CampaignArchived,
    CampaignClosed,
    CampaignCreated,
    CampaignOpened,
    CampaignUpdated,
    CommentFlagged,
    CommentHidden,
    CommentHiddenData,
    CommentModerated,
    CommentModeratedData,
    CommentPublished,
    CommentPublishedData,
    CommentSubmitted,
    Decision,
    Event,
    ModerationAlert,
    ModerationAlertData,
    ModerationMode,
    derived_id,
    utcnow,
)
from kolot.common.store import Document, stamp
from kolot.moderation.clusters import Assignment, Candidate, Clusterer, ClusterStore, eligible
from kolot.moderation.learning import Example, Learner, example_document
from kolot.moderation.models import (
    STATUS_OF,
    AppealOutcome,
    AppealRecord,
    AppealStatus,
    AuditEntry,
    AutomaticDecision,
    CampaignPolicy,
    CommentRecord,
    CommentStatus,
)
from kolot.moderation.pipeline import (
    DUPLICATE,
    ModerationDecision,
    Signals,
    analyse_batch,
    decide_analysis,
    normalise,
    redact,
)
from kolot.moderation.pipeline.statements import cluster_statement
from kolot.moderation.repository import QueueFilter
from kolot.moderation.surge import (
    BASELINE,
    WINDOW,
    Counts,
    Severity,
    SurgeKind,
    Verdict,
    assess,
    message,
)
from kolot.moderation.transparency import FormLetter, TransparencyReport, build_report
from kolot.moderation.velocity import Velocity

log = logging.getLogger(__name__)

CampaignEvent = (
    CampaignCreated | CampaignUpdated | CampaignOpened | CampaignClosed | CampaignArchived
)
CAMPAIGN_EVENTS: tuple[type[CampaignEvent], ...] = (
    CampaignCreated,
    CampaignUpdated,
    CampaignOpened,
    CampaignClosed,
    CampaignArchived,
)
HumanDecision = Literal["approve", "reject"]
MODERATOR_REASON = "moderator"
FLAGS_REASON = "flags"
FORM_LETTERS_SHOWN = 20
WATCH_EVERY = 10.0
"""Seconds between two looks at the surge windows of the campaigns active since (per process)."""
WATCH_FLOOR = 0.05
"""The shortest pause of the surge loop (``watch_every`` 0 in tests: look continuously)."""
POLICY_MISS_SECONDS = 2.0
"""How long a campaign moderation has never heard of is not looked up again."""
CLUSTER_RECOUNT_SECONDS = 120.0
"""How long a cluster's size counted in memory is trusted before it is counted in the store
again (other replicas add copies too, and moderators change members' statuses). This replica's
own copies are counted in memory as they come; a recount costs a store query per cluster, and a
national consultation has thousands of growing clusters (30 s: 43 queries a second, a tenth of
the embedded store's time)."""
MAX_CLUSTER_SIZES = 100_000
"""Cluster sizes kept in memory at most. A size older than ``CLUSTER_RECOUNT_SECONDS`` is
counted again before it is used, so it is forgotten then (every comment that matches no form
letter begins a cluster: kept, they grew moderation's RSS by some 0.2 MiB per 1,000 comments)."""
BURST_WINDOW = timedelta(minutes=5)
BURST_PER_PARTICIPANT = 6
"""Comments by one participant in ``BURST_WINDOW`` beyond which a person looks."""
BURST_PER_ADDRESS = 30
"""Comments from one client address in ``BURST_WINDOW`` beyond which a person looks (settable:
``KOLOT_BURST_PER_ADDRESS``, for consultations taken at kiosks or behind one shared address)."""
APPEAL_REASON = "appeal"


class ModerationStore(Protocol):
    async def policies(self, campaign_ids: Collection[str]) -> dict[str, CampaignPolicy]: ...
    async def save_policies(self, policies: Sequence[CampaignPolicy]) -> None: ...
    async def add_automatic(self, records: Sequence[CommentRecord]) -> set[str]: ...
    async def get(self, comment_id: str) -> CommentRecord | None: ...
    async def get_many(self, comment_ids: Collection[str]) -> dict[str, CommentRecord]: ...
    async def audited(self, entry_ids: Collection[str]) -> set[str]: ...
    async def pending(self, queue: QueueFilter, *, limit: int) -> list[CommentRecord]: ...
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
    ) -> CommentRecord | None: ...
    async def overturn(
        self,
        current: CommentRecord,
        *,
        decision: Decision,
        status: CommentStatus,
        statement: str,
        reasons: list[str],
        moderator: str,
        at: datetime,
    ) -> CommentRecord | None: ...
    async def add_flags(self, flags: Sequence[Document]) -> None: ...
    async def flag_tallies(
        self, comment_ids: Collection[str]
    ) -> dict[str, tuple[int, list[str]]]: ...
    async def set_flags(self, tallies: dict[str, tuple[int, list[str]]]) -> None: ...
    async def hide_by_flags(self, comment_id: str, *, risk: float) -> CommentRecord | None: ...
    async def add_appeals(self, appeals: Sequence[AppealRecord]) -> set[str]: ...
    async def get_appeal(self, appeal_id: str) -> AppealRecord | None: ...
    async def appeals(
        self,
        *,
        status: AppealStatus | None,
        campaign_id: str | None,
        not_for: str | None,
        limit: int,
    ) -> list[AppealRecord]: ...
    async def decide_appeal(
        self,
        appeal: AppealRecord,
        *,
        outcome: AppealOutcome,
        statement: str,
        moderator: str,
        at: datetime,
    ) -> AppealRecord | None: ...
    async def add_audit(self, entries: Sequence[AuditEntry]) -> None: ...
    async def audit(
        self,
        *,
        campaign_id: str | None,
        comment_id: str | None,
        actor: str | None,
        limit: int,
    ) -> list[AuditEntry]: ...
    async def cluster_sizes(self, cluster_ids: Collection[str]) -> dict[str, int]: ...
    async def campaign_comments(self, campaign_id: str) -> list[Document]: ...
    async def campaign_appeals(self, campaign_id: str) -> list[AppealRecord]: ...
    async def campaign_clusters(self, campaign_id: str, *, limit: int) -> list[tuple[str, int]]: ...
    async def surge_counts(
        self, campaign_id: str, *, now: datetime, window: timedelta, baseline: timedelta
    ) -> dict[SurgeKind, Counts]: ...
    async def alerts(self, campaign_id: str) -> dict[str, Document]: ...
    async def add_examples(self, examples: Sequence[Document]) -> None: ...
    async def examples(self) -> list[Example]: ...
    async def examples_version(self) -> str: ...
    async def save_alert(self, document: Document, *, revision: int) -> bool: ...
    async def raised_alert_campaigns(self) -> set[str]: ...


class FullStore(ModerationStore, ClusterStore, Protocol):
    """The moderation store with the clusters' collection."""


class EventSink(Protocol):
    """What moderation needs of the bus (``kolot.common.bus.EventPublisher`` is one)."""

    async def publish(self, *events: Event) -> None: ...
    async def publish_public(self, *events: Event) -> None: ...


class CampaignLog(Protocol):
    """The latest policy of a campaign moderation's own store has not seen yet, from the bus."""

    async def latest(self, campaign_id: str) -> CampaignPolicy | None: ...


class CommentNotFound(LookupError):
    pass


class AppealNotFound(LookupError):
    pass


class SameModerator(Exception):
    """The moderator who took a decision may not decide the appeal against it."""


class AppealConflict(Exception):
    def __init__(self, appeal: AppealRecord) -> None:
        super().__init__(f"appeal {appeal.appeal_id} was already decided: {appeal.outcome}")
        self.appeal = appeal


class DecisionConflict(Exception):
    """A person already decided otherwise on this comment."""

    def __init__(self, record: CommentRecord) -> None:
        super().__init__(f"comment {record.comment_id} was already decided: {record.decision}")
        self.record = record


def policy_from_event(event: CampaignEvent) -> CampaignPolicy:
    return CampaignPolicy(
        campaign_id=event.data.campaign_id,
        moderation_mode=event.data.moderation_mode,
        flag_threshold=event.data.flag_threshold,
        as_of=event.time,
    )


def _to_millis(moment: datetime) -> datetime:
    # BSON keeps milliseconds: truncate, so a record read back equals the one written
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def automatic_record(
    event: CommentSubmitted,
    result: ModerationDecision,
    *,
    mode: ModerationMode,
    now: datetime,
    cluster_id: str | None = None,
    absorbed: bool = False,
) -> CommentRecord:
    """Describe the pipeline's decision on a submitted comment as a stored record."""
    now = _to_millis(now)
    return CommentRecord(
        comment_id=event.data.comment_id,
        campaign_id=event.subject,
        participant_id=event.data.participant_id,
        parent_id=event.data.parent_id,
        status=STATUS_OF[result.decision],
        decision=result.decision,
        decided_by="auto",
        reasons=list(result.reasons),
        statement=result.statement,
        scores=result.scores,
        redacted_text=result.redacted_text,
        language=result.language,
        language_mix=dict(result.language_mix),
        redactions=list(result.redactions),
        mode=mode,
        automatic=AutomaticDecision(
            decision=result.decision,
            reasons=list(result.reasons),
            statement=result.statement,
            scores=result.scores,
        ),
        submitted_at=_to_millis(event.time),
        submitted_stamp=stamp(_to_millis(event.time)),
        created_at=now,
        decided_at=now,
        risk=result.risk,
        cluster_id=cluster_id,
        absorbed=absorbed,
        client_ref=event.data.client_ref,
        channel=event.data.channel,
    )


def _published(
    record: CommentRecord, *, by: str, at: datetime, cluster_size: int | None = None
) -> CommentPublished:
    return CommentPublished(
        id=derived_id(record.comment_id, "published", by),
        subject=record.campaign_id,
        time=at,
        data=CommentPublishedData(
            comment_id=record.comment_id,
            text=record.redacted_text,
            language=record.language,
            parent_id=record.parent_id,
            submitted_at=record.submitted_at,
            cluster_id=record.cluster_id if cluster_size else None,
            cluster_size=cluster_size,
        ),
    )


def cluster_published(record: CommentRecord, size: int, *, at: datetime) -> CommentPublished:
    """The representative of a cluster published again with the cluster's new size."""
    published = _published(record, by="cluster", at=at, cluster_size=size)
    return published.model_copy(
        update={"id": derived_id(record.comment_id, "published", "cluster", str(size))}
    )


def automatic_events(
    record: CommentRecord, *, cluster_size: int | None = None
) -> tuple[list[Event], list[Event]]:
    """The events of the automatic decision: (for the events stream, also for the public one)."""
    auto = record.automatic
    moderated = CommentModerated(
        id=derived_id(record.comment_id, "moderated", "auto"),
        subject=record.campaign_id,
        time=record.created_at,
        data=CommentModeratedData(
            comment_id=record.comment_id,
            decision=auto.decision,
            automatic=True,
            reasons=auto.reasons,
            statement=auto.statement,
            scores=auto.scores,
            redacted_text=record.redacted_text,
            language=record.language,
            cluster_id=record.cluster_id if record.absorbed else None,
            participant_id=record.participant_id,
            cluster_size=cluster_size if record.absorbed else None,
        ),
    )
    if auto.decision != "approve" or record.absorbed:
        # a copy of a form letter is published through its cluster's representative
        return [moderated], []
    published = _published(record, by="auto", at=record.created_at)
    return [moderated, published], [published]


def human_events(record: CommentRecord) -> tuple[list[Event], list[Event]]:
    """The events of a person's decision; what it changed depends on the status it replaced."""
    assert record.decided_by == "human"
    moderated = _moderated_by_person(
        record,
        event_id=derived_id(record.comment_id, "moderated", "human", record.decision),
        at=record.decided_at,
    )
    if record.decision == "approve" and record.previous_status != "approved":
        published = _published(record, by="human", at=record.decided_at)
        return [moderated, published], [published]
    if record.decision == "reject" and record.previous_status == "approved":
        # it was public: take it down, without the moderator's words (they may quote the text)
        hidden = CommentHidden(
            id=derived_id(record.comment_id, "hidden", "human"),
            subject=record.campaign_id,
            time=record.decided_at,
            data=CommentHiddenData(comment_id=record.comment_id, reason=MODERATOR_REASON),
        )
        return [moderated, hidden], [hidden]
    return [moderated], []


def audit_entry(
    record: CommentRecord,
    *,
    action: Literal["auto", "human", "flags", "appeal"],
    decision: str,
    actor: str,
    at: datetime,
    appeal_id: str | None = None,
) -> AuditEntry:
    return AuditEntry(
        entry_id=derived_id(record.comment_id, "audit", action, decision, appeal_id or actor),
        comment_id=record.comment_id,
        campaign_id=record.campaign_id,
        action=action,
        decision=decision,
        reasons=record.reasons,
        statement=record.statement,
        actor=actor,
        at=at,
        appeal_id=appeal_id,
    )


def _auto_entry_id(record: CommentRecord) -> str:
    return derived_id(record.comment_id, "audit", "auto", record.automatic.decision, "auto")


def _auto_entry(record: CommentRecord) -> AuditEntry:
    """The audit entry of the machine's decision (from ``automatic``: a person may have decided
    since); written once its events are on the bus, it marks them as sent."""
    auto = record.automatic
    return AuditEntry(
        entry_id=_auto_entry_id(record),
        comment_id=record.comment_id,
        campaign_id=record.campaign_id,
        action="auto",
        decision=auto.decision,
        reasons=auto.reasons,
        statement=auto.statement,
        actor="auto",
        at=record.created_at,
    )


def flag_hidden_events(record: CommentRecord, flags: int, *, at: datetime) -> list[Event]:
    return [
        CommentHidden(
            id=derived_id(record.comment_id, "hidden", FLAGS_REASON),
            subject=record.campaign_id,
            time=at,
            data=CommentHiddenData(comment_id=record.comment_id, reason=FLAGS_REASON, flags=flags),
        )
    ]


def appeal_events(
    appeal: AppealRecord, record: CommentRecord, *, republish: bool
) -> tuple[list[Event], list[Event]]:
    """The appeal's outcome, and what it changed on the comment (same ids on every retry)."""
    assert appeal.outcome is not None
    assert appeal.statement is not None
    at = appeal.decided_at or record.decided_at
    decided = AppealDecided(
        id=derived_id(appeal.appeal_id, "decided"),
        subject=appeal.campaign_id,
        time=at,
        data=AppealDecidedData(
            appeal_id=appeal.appeal_id,
            comment_id=appeal.comment_id,
            outcome=appeal.outcome,
            statement=appeal.statement,
            moderator=appeal.moderator,
            participant_id=appeal.participant_id,
        ),
    )
    moderated = _moderated_by_person(
        record,
        event_id=derived_id(record.comment_id, "moderated", APPEAL_REASON, appeal.appeal_id),
        at=at,
    )
    if republish:
        published = _published(record, by=APPEAL_REASON, at=at)
        return [moderated, published, decided], [published]
    return [moderated, decided], []


def _moderated_by_person(record: CommentRecord, *, event_id: str, at: datetime) -> CommentModerated:
    """``comment.moderated`` for a decision a person made (a moderator's, or an appeal's)."""
    return CommentModerated(
        id=event_id,
        subject=record.campaign_id,
        time=at,
        data=CommentModeratedData(
            comment_id=record.comment_id,
            decision=record.decision,
            automatic=False,
            reasons=record.reasons,
            statement=record.statement,
            scores=record.automatic.scores,
            redacted_text=record.redacted_text,
            language=record.language,
            moderator=record.moderator,
            participant_id=record.participant_id,
        ),
    )


class ModerationService:
    def __init__(
        self,
        store: FullStore,
        publisher: EventSink,
        *,
        campaign_log: CampaignLog | None = None,
        unknown_campaign_mode: ModerationMode = "auto",
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        watch_every: float = WATCH_EVERY,
        burst_per_address: int = BURST_PER_ADDRESS,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._campaign_log = campaign_log
        self._unknown_mode: ModerationMode = unknown_campaign_mode
        self._clock = clock
        self._clusterer = Clusterer(store)
        self._learner = Learner(store, clock=monotonic)
        self._monotonic = monotonic
        self._watch_every = watch_every
        self._active: set[str] = set()
        """Campaigns with submissions or flags since the surge loop last looked."""
        self._policies_known: dict[str, CampaignPolicy] = {}
        self._policies_missing: dict[str, float] = {}
        self._by_author = Velocity(BURST_WINDOW)
        self._by_address = Velocity(BURST_WINDOW)
        self._burst_per_address = burst_per_address
        self._cluster_sizes: dict[str, tuple[int, float]] = {}
        """Cluster id -> (approved members, when last counted in the store)."""
        self._sizes_swept = monotonic()

    # from the bus

    async def record_campaigns(self, events: Iterable[CampaignEvent]) -> None:
        """Keep each campaign's moderation policy, from the latest of its events in the batch."""
        latest: dict[str, CampaignPolicy] = {}
        for event in events:
            policy = policy_from_event(event)
            known = latest.get(policy.campaign_id)
            if known is None or known.as_of <= policy.as_of:
                latest[policy.campaign_id] = policy
        await self._store.save_policies(list(latest.values()))
        self.remember_policies(latest.values())

    def remember_policies(self, policies: Iterable[CampaignPolicy]) -> None:
        """Keep campaign policies in memory (from the campaign consumer, and from the bus in every
        replica): a batch of comments reads its policies here, not from the store."""
        for policy in policies:
            known = self._policies_known.get(policy.campaign_id)
            if known is None or known.as_of <= policy.as_of:
                self._policies_known[policy.campaign_id] = policy
            self._policies_missing.pop(policy.campaign_id, None)

    async def moderate(self, events: Sequence[CommentSubmitted]) -> None:
        """Decide on a batch of submitted comments, store the decisions, publish their events."""
        unique: dict[str, CommentSubmitted] = {}
        for event in events:
            unique.setdefault(event.data.comment_id, event)  # the same comment twice in a batch
        if not unique:
            return
        # every comment is decided, then stored only if new (an upsert): a redelivered one is
        # found by the write itself, which saves reading the batch first
        batch = list(unique.values())
        policies = await self._policies({event.subject for event in batch})
        now = _to_millis(self._clock())
        analyses = analyse_batch([event.data.text for event in batch])
        await self._learner.refresh()
        learned = self._learner.models.score([(a.language, a.key) for a in analyses])
        bursts = self._bursts(batch)
        decisions = [
            decide_analysis(
                analysis,
                mode=self._mode(policies, event.subject),
                signals=Signals(learned=score, burst=event.data.comment_id in bursts),
            )
            for event, analysis, score in zip(batch, analyses, learned, strict=True)
        ]
        clusters = await self._cluster(batch, decisions)
        representatives = await self._store.get_many(
            {a.representative for a in clusters.values() if a.representative not in unique}
        )
        in_batch = {e.data.comment_id: d for e, d in zip(batch, decisions, strict=True)}
        records: list[CommentRecord] = []
        for event, result in zip(batch, decisions, strict=True):
            assignment = clusters.get(event.data.comment_id)
            absorbed = False
            if assignment is not None and not assignment.new:
                representative = assignment.representative
                published = (
                    in_batch[representative].decision == "approve"
                    if representative in in_batch
                    else representative in representatives
                    and representatives[representative].status == "approved"
                )
                absorbed = published and result.decision == "approve"
                result = _with_duplicate(result, absorbed=absorbed)
            records.append(
                automatic_record(
                    event,
                    result,
                    mode=self._mode(policies, event.subject),
                    now=now,
                    cluster_id=assignment.cluster_id if assignment else None,
                    absorbed=absorbed,
                )
            )
        inserted = await self._store.add_automatic(records)
        current = {r.comment_id: r for r in records if r.comment_id in inserted}
        if len(current) < len(unique):
            # redelivered: stored before, by this replica or another; its events are sent again
            # (same ids) unless its audit entry says the bus acknowledged them
            stored = await self._store.get_many(unique.keys() - inserted)
            marks = {_auto_entry_id(r): r for r in stored.values()}
            done = await self._store.audited(marks.keys())
            current.update({r.comment_id: r for m, r in marks.items() if m not in done})
        to_emit = list(current.values())
        started = {a.cluster_id for a in clusters.values() if a.new and a.comment_id in inserted}
        sizes, republished = await self._cluster_updates(
            [r for r in to_emit if r.absorbed],
            counted=[r for r in records if r.comment_id in inserted],
            started=started,
            at=now,
        )
        batches = [
            automatic_events(record, cluster_size=sizes.get(record.cluster_id or ""))
            for record in to_emit
            # a person decided since (the first delivery died before publishing): the machine's
            # decision is no longer news
            if record.decided_by == "auto"
        ]
        batches.append((republished, list(republished)))
        await self._publish(batches)
        await self._store.add_audit([_auto_entry(record) for record in to_emit])
        self._active.update(record.campaign_id for record in records)

    def _bursts(self, batch: Sequence[CommentSubmitted]) -> set[str]:
        """Comments whose author, or whose client address, sent more than people write.

        Counted over ``BURST_WINDOW`` before each comment's submission, in memory (``Velocity``).
        Only a reason to ask a person: a family or an office shares an address.
        """
        by_author = self._by_author.observe(
            (e.data.comment_id, e.data.participant_id, e.time) for e in batch
        )
        by_ref = self._by_address.observe(
            (e.data.comment_id, e.data.client_ref, e.time) for e in batch if e.data.client_ref
        )
        return {
            e.data.comment_id
            for e in batch
            if by_author[e.data.participant_id] > BURST_PER_PARTICIPANT
            or (e.data.client_ref and by_ref[e.data.client_ref] > self._burst_per_address)
        }

    async def _cluster(
        self, batch: Sequence[CommentSubmitted], decisions: Sequence[ModerationDecision]
    ) -> dict[str, Assignment]:
        candidates: list[tuple[str, Candidate]] = []
        for event, result in zip(batch, decisions, strict=True):
            if result.decision == "reject":
                continue
            # the redacted text: copies that differ only by their senders' details coincide
            key = normalise(result.redacted_text)
            folded = key.folded or key.key
            if eligible(folded, parent_id=event.data.parent_id):
                candidates.append((event.subject, Candidate(event.data.comment_id, folded)))
        return await self._clusterer.assign(candidates) if candidates else {}

    def _forget_old_sizes(self, moment: float) -> None:
        """Forget the sizes that would be counted again before use (at most once per recount
        period), and all of them if there are still too many."""
        recent = moment - self._sizes_swept < CLUSTER_RECOUNT_SECONDS
        if recent and len(self._cluster_sizes) <= MAX_CLUSTER_SIZES:
            return
        self._sizes_swept = moment
        self._cluster_sizes = {
            cluster_id: known
            for cluster_id, known in self._cluster_sizes.items()
            if moment - known[1] < CLUSTER_RECOUNT_SECONDS
        }
        if len(self._cluster_sizes) > MAX_CLUSTER_SIZES:
            self._cluster_sizes.clear()

    async def _cluster_updates(
        self,
        absorbed: Sequence[CommentRecord],
        *,
        counted: Sequence[CommentRecord],
        started: Collection[str] = (),
        at: datetime,
    ) -> tuple[dict[str, int], list[Event]]:
        """The grown clusters' sizes, and each one's representative published again with it.

        ``counted``: the records this batch inserted (they grow their clusters' sizes in memory).
        ``started``: clusters this batch began, whose members are all among ``counted``: their
        size is known without asking the store (most clusters of a national consultation).
        """
        moment = self._monotonic()
        self._forget_old_sizes(moment)
        for begun in started:
            self._cluster_sizes.setdefault(begun, (0, moment))
        for record in counted:
            cluster_id = record.cluster_id
            if cluster_id is not None and record.status == "approved":
                known = self._cluster_sizes.get(cluster_id)
                if known is not None:
                    self._cluster_sizes[cluster_id] = (known[0] + 1, known[1])
        by_cluster = {r.cluster_id: r for r in absorbed if r.cluster_id is not None}
        if not by_cluster:
            return {}, []
        stale = [
            cluster_id
            for cluster_id in by_cluster
            if moment - self._cluster_sizes.get(cluster_id, (0, float("-inf")))[1]
            >= CLUSTER_RECOUNT_SECONDS
        ]
        if stale:
            counted_now = await self._store.cluster_sizes(stale)
            self._cluster_sizes.update({c: (n, moment) for c, n in counted_now.items()})
        sizes = {c: self._cluster_sizes[c][0] for c in by_cluster if c in self._cluster_sizes}
        # a cluster is named after its representative
        representatives = await self._store.get_many(by_cluster.keys())
        events: list[Event] = []
        for cluster_id, size in sizes.items():
            representative = representatives.get(cluster_id)
            if representative is not None and representative.status == "approved" and size > 1:
                events.append(cluster_published(representative, size, at=at))
        return sizes, events

    async def _policies(self, campaign_ids: set[str]) -> dict[str, CampaignPolicy]:
        known = self._policies_known
        policies = {c: known[c] for c in campaign_ids if c in known}
        moment = self._monotonic()
        unknown = {
            c
            for c in campaign_ids - policies.keys()
            if moment >= self._policies_missing.get(c, float("-inf"))
        }
        if not unknown:
            return policies
        found = await self._store.policies(unknown)
        missing = sorted(unknown - found.keys())
        if missing and self._campaign_log is not None:
            # the campaign consumer may not have caught up with a campaign created just now:
            # a pre-moderated campaign must not be read as automatic meanwhile
            logged = await asyncio.gather(*(self._campaign_log.latest(c) for c in missing))
            found.update({p.campaign_id: p for p in logged if p is not None})
        self.remember_policies(found.values())
        if len(self._policies_missing) > 100_000:
            self._policies_missing.clear()
        for campaign_id in unknown - found.keys():
            # never heard of: asked again shortly, not for every batch
            self._policies_missing[campaign_id] = moment + POLICY_MISS_SECONDS
        return {**policies, **found}

    def _mode(self, policies: dict[str, CampaignPolicy], campaign_id: str) -> ModerationMode:
        policy = policies.get(campaign_id)
        return policy.moderation_mode if policy is not None else self._unknown_mode

    async def _publish(self, batches: Iterable[tuple[list[Event], list[Event]]]) -> None:
        events: list[Event] = []
        public: list[Event] = []
        for for_events, for_public in batches:
            events += for_events
            public += for_public
        if events:
            await asyncio.gather(
                self._publisher.publish(*events), self._publisher.publish_public(*public)
            )

    async def flag(self, events: Sequence[CommentFlagged]) -> None:
        """Count distinct flaggers; hide what reaches its campaign's threshold, for a person.

        A participant's flags on one comment count once, and a replayed flag is the same
        document, so redelivery never double-counts. Only what the machine published is hidden:
        a comment a moderator approved stays up (flags do not overrule a person).
        """
        if not events:
            return
        await self._store.add_flags(
            [
                {
                    "_id": derived_id(e.data.comment_id, "flag", e.data.participant_id),
                    "comment_id": e.data.comment_id,
                    "campaign_id": e.subject,
                    "participant_id": e.data.participant_id,
                    "reason": e.data.reason,
                    "at": stamp(e.time),
                }
                for e in events
            ]
        )
        comment_ids = {e.data.comment_id for e in events}
        tallies = await self._store.flag_tallies(comment_ids)
        await self._store.set_flags(tallies)
        records = await self._store.get_many(comment_ids)
        policies = await self._policies({r.campaign_id for r in records.values()})
        now = _to_millis(self._clock())
        batches: list[tuple[list[Event], list[Event]]] = []
        audit: list[AuditEntry] = []
        for comment_id, (count, _) in tallies.items():
            record = records.get(comment_id)
            if record is None:
                continue
            policy = policies.get(record.campaign_id)
            threshold = policy.flag_threshold if policy is not None else 3
            if count < max(threshold, 1):
                continue
            if record.status == "approved" and record.decided_by == "auto" and not record.absorbed:
                hidden = await self._store.hide_by_flags(
                    comment_id, risk=max(record.risk, min(1.0, 0.5 + 0.1 * count))
                )
                if hidden is None:
                    continue
                record = hidden
            if record.hidden_by_flags:
                # again on a redelivery: the same ids, dropped by every consumer
                events_out = flag_hidden_events(record, count, at=now)
                batches.append((events_out, events_out))
                audit.append(
                    audit_entry(record, action="flags", decision="hide", actor="flags", at=now)
                )
        await self._store.add_audit(audit)
        await self._publish(batches)
        self._active.update(e.subject for e in events)

    async def keep_watch(self) -> None:
        """The surge loop (a background task of the app): every ``watch_every`` seconds, look at
        the windows of the campaigns active since the last look. The windows are minutes long and
        each look costs a few count queries, so it runs beside the consumers, not in them."""
        while True:
            await asyncio.sleep(max(self._watch_every, WATCH_FLOOR))
            try:
                await self.watch_active()
            except Exception:  # the next round looks again; the loop must not die
                log.exception("surge check failed; looking again next round")

    async def watch_active(self) -> None:
        """One round of the surge loop: the campaigns with submissions or flags since the last
        round, and those with a raised alert (so that an alert clears once its campaign is
        quiet)."""
        active, self._active = self._active, set()
        try:
            await self.watch({*active, *await self._store.raised_alert_campaigns()})
        except BaseException:
            self._active.update(active)  # looked at again next round
            raise

    async def watch(self, campaign_ids: Collection[str]) -> None:
        """Raise, escalate or clear each campaign's surge alerts (one event per change)."""
        now = self._clock()
        alerts: list[Event] = []
        for campaign_id in sorted(campaign_ids):
            counts = await self._store.surge_counts(
                campaign_id, now=now, window=WINDOW, baseline=BASELINE
            )
            states = await self._store.alerts(campaign_id)
            for kind, kind_counts in counts.items():
                state = states.get(kind)
                raised: Severity | None = (
                    state["severity"] if state is not None and state["state"] == "raised" else None
                )
                verdict = assess(kind, kind_counts, raised=raised)
                if verdict.severity == raised:
                    continue
                calming = (
                    verdict.severity is not None
                    and raised is not None
                    and SEVERITIES.index(verdict.severity) < SEVERITIES.index(raised)
                )
                if calming:
                    continue  # calming down but not yet cleared: keep the higher severity
                alert_id = (
                    state["alert_id"]
                    if raised is not None and state is not None
                    else derived_id(campaign_id, kind, stamp(now))
                )
                document: Document = {
                    "_id": f"{campaign_id}:{kind}",
                    "campaign_id": campaign_id,
                    "kind": kind,
                    "alert_id": alert_id,
                    "state": "raised" if verdict.severity else "cleared",
                    "severity": verdict.severity or raised,
                    "at": stamp(now),
                }
                revision = int(state["revision"]) if state is not None else 0
                if not await self._store.save_alert(document, revision=revision):
                    continue  # another replica got there first
                alerts.append(_alert_event(campaign_id, kind, alert_id, verdict, raised, now))
        if alerts:
            await self._publisher.publish(*alerts)

    async def file_appeals(self, events: Sequence[AppealFiled]) -> None:
        """Open an appeal for each rejected or hidden comment its author contests."""
        if not events:
            return
        records = await self._store.get_many({e.data.comment_id for e in events})
        appeals: list[AppealRecord] = []
        for event in events:
            record = records.get(event.data.comment_id)
            if record is None or record.participant_id != event.data.participant_id:
                log.warning("appeal %s: not the author's comment", event.data.appeal_id)
                continue
            if record.status != "rejected" and not record.hidden_by_flags:
                log.info(
                    "appeal %s: comment %s is %s",
                    event.data.appeal_id,
                    record.comment_id,
                    record.status,
                )
                continue
            appeals.append(
                AppealRecord(
                    appeal_id=event.data.appeal_id,
                    comment_id=record.comment_id,
                    campaign_id=record.campaign_id,
                    participant_id=record.participant_id,
                    text=redact(event.data.text).text,
                    excluded_moderator=record.moderator if record.decided_by == "human" else None,
                    filed_at=_to_millis(event.time),
                )
            )
        await self._store.add_appeals(appeals)

    # from moderators

    async def queue(self, queue: QueueFilter, *, limit: int) -> list[CommentRecord]:
        """Comments waiting for a person, riskiest first, then oldest."""
        return await self._store.pending(queue, limit=limit)

    async def decide_by_moderator(
        self, comment_id: str, *, decision: HumanDecision, reason: str, moderator: str
    ) -> CommentRecord:
        """Apply a person's decision; repeating the same decision is harmless and returns it.

        Raises ``CommentNotFound`` for a comment moderation has not seen, ``DecisionConflict``
        when a person already decided otherwise.
        """
        for _ in range(3):
            record = await self._store.get(comment_id)
            if record is None:
                raise CommentNotFound(comment_id)
            if record.decided_by == "human":
                if record.decision != decision:
                    raise DecisionConflict(record)
                # a retry: publish again (same ids) in case the first attempt did not get through
                await self._publish([human_events(record)])
                return record
            updated = await self._store.record_human(
                record,
                decision=decision,
                status=STATUS_OF[decision],
                statement=reason,
                reasons=[MODERATOR_REASON],
                moderator=moderator,
                at=_to_millis(self._clock()),
            )
            if updated is not None:
                await self._learn(updated)
                await self._store.add_audit(
                    [
                        audit_entry(
                            updated,
                            action="human",
                            decision=decision,
                            actor=moderator,
                            at=updated.decided_at,
                        )
                    ]
                )
                await self._publish([human_events(updated)])
                return updated
            log.info("comment %s changed while being decided; reading it again", comment_id)
        # three moderators in a row were quicker: let this one look again
        raise DecisionConflict(await self._require(comment_id))

    async def decide_many(
        self, comment_ids: Sequence[str], *, decision: HumanDecision, reason: str, moderator: str
    ) -> dict[str, CommentRecord | Exception]:
        """A bulk action: each comment decided on its own; failures are reported, not raised."""
        results: dict[str, CommentRecord | Exception] = {}
        for comment_id in dict.fromkeys(comment_ids):
            try:
                results[comment_id] = await self.decide_by_moderator(
                    comment_id, decision=decision, reason=reason, moderator=moderator
                )
            except (CommentNotFound, DecisionConflict) as error:
                results[comment_id] = error
        return results

    async def appeals(
        self, *, status: AppealStatus | None, campaign_id: str | None, moderator: str, limit: int
    ) -> list[AppealRecord]:
        """Appeals this moderator may decide (never those against their own decisions)."""
        return await self._store.appeals(
            status=status, campaign_id=campaign_id, not_for=moderator, limit=limit
        )

    async def decide_appeal(
        self, appeal_id: str, *, outcome: AppealOutcome, statement: str, moderator: str
    ) -> tuple[AppealRecord, CommentRecord]:
        """Decide an appeal: ``overturned`` publishes the comment, ``upheld`` keeps it down.

        Raises ``AppealNotFound``, ``SameModerator`` (the moderator decided the comment),
        ``AppealConflict`` (decided otherwise already). Retrying the same decision is harmless.
        """
        appeal = await self._store.get_appeal(appeal_id)
        if appeal is None:
            raise AppealNotFound(appeal_id)
        if appeal.excluded_moderator == moderator:
            raise SameModerator(appeal_id)
        if appeal.status == "decided":
            if appeal.outcome != outcome:
                raise AppealConflict(appeal)
        else:
            decided = await self._store.decide_appeal(
                appeal,
                outcome=outcome,
                statement=statement,
                moderator=moderator,
                at=_to_millis(self._clock()),
            )
            if decided is None:
                current = await self._store.get_appeal(appeal_id)
                assert current is not None
                if current.outcome != outcome:
                    raise AppealConflict(current)
                decided = current
            appeal = decided
        return appeal, await self._apply_appeal(appeal)

    async def _apply_appeal(self, appeal: AppealRecord) -> CommentRecord:
        """Bring the comment in line with a decided appeal (idempotent: a retry finishes it)."""
        assert appeal.outcome is not None
        assert appeal.moderator is not None
        at = appeal.decided_at or _to_millis(self._clock())
        decision: HumanDecision = "approve" if appeal.outcome == "overturned" else "reject"
        for _ in range(3):
            record = await self._require(appeal.comment_id)
            done = record.status == STATUS_OF[decision] and record.moderator == appeal.moderator
            if done or (decision == "reject" and record.status == "rejected"):
                updated: CommentRecord | None = record
            else:
                updated = await self._store.overturn(
                    record,
                    decision=decision,
                    status=STATUS_OF[decision],
                    statement=appeal.statement or "",
                    reasons=[APPEAL_REASON],
                    moderator=appeal.moderator,
                    at=at,
                )
            if updated is not None:
                await self._learn(updated)
                await self._store.add_audit(
                    [
                        audit_entry(
                            updated,
                            action="appeal",
                            decision=appeal.outcome,
                            actor=appeal.moderator,
                            at=at,
                            appeal_id=appeal.appeal_id,
                        )
                    ]
                )
                republish = decision == "approve" and updated.previous_status != "approved"
                await self._publish([appeal_events(appeal, updated, republish=republish)])
                return updated
        raise DecisionConflict(await self._require(appeal.comment_id))

    async def _learn(self, record: CommentRecord) -> None:
        """A person's decision becomes a training example of the classifier for its language."""
        if record.decision == "review" or record.language == "und":
            return
        normalised = normalise(record.redacted_text)
        example = Example(
            record.language, normalised.folded or normalised.key, record.decision == "reject"
        )
        at = stamp(record.decided_at)
        await self._store.add_examples([example_document(record.comment_id, example, at=at)])
        self._learner.stale()

    async def audit(
        self, *, campaign_id: str | None, comment_id: str | None, actor: str | None, limit: int
    ) -> list[AuditEntry]:
        return await self._store.audit(
            campaign_id=campaign_id, comment_id=comment_id, actor=actor, limit=limit
        )

    async def clusters(self, campaign_id: str, *, limit: int) -> list[tuple[CommentRecord, int]]:
        """Form letters of a campaign, largest first: each representative and its size."""
        sizes = await self._store.campaign_clusters(campaign_id, limit=limit)
        representatives = await self._store.get_many([cluster_id for cluster_id, _ in sizes])
        return [
            (representatives[cluster_id], size)
            for cluster_id, size in sizes
            if cluster_id in representatives
        ]

    async def transparency(self, campaign_id: str) -> TransparencyReport:
        comments = await self._store.campaign_comments(campaign_id)
        appeals = await self._store.campaign_appeals(campaign_id)
        letters = [
            FormLetter(
                cluster_id=record.comment_id,
                size=size,
                text=record.redacted_text,
                language=record.language,
            )
            for record, size in await self.clusters(campaign_id, limit=FORM_LETTERS_SHOWN)
        ]
        return build_report(campaign_id, comments, appeals, letters)

    async def _require(self, comment_id: str) -> CommentRecord:
        record = await self._store.get(comment_id)
        if record is None:
            raise CommentNotFound(comment_id)
        return record


SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")


def _alert_event(
    campaign_id: str,
    kind: SurgeKind,
    alert_id: str,
    verdict: Verdict,
    raised: Severity | None,
    now: datetime,
) -> ModerationAlert:
    severity = verdict.severity or raised or "info"
    state: Literal["raised", "cleared"] = "raised" if verdict.severity else "cleared"
    text = message(kind, verdict)
    if state == "cleared":
        text = f"Subsided: {text}"
    return ModerationAlert(
        id=derived_id(alert_id, state, severity),
        subject=campaign_id,
        time=now,
        data=ModerationAlertData(
            alert_id=alert_id,
            kind=kind,
            severity=severity,
            window_seconds=int(WINDOW.total_seconds()),
            observed=verdict.observed,
            baseline=verdict.baseline,
            message=text,
            state=state,
            campaign_id=campaign_id,
        ),
    )


def _with_duplicate(result: ModerationDecision, *, absorbed: bool) -> ModerationDecision:
    reasons = result.reasons if DUPLICATE in result.reasons else (*result.reasons, DUPLICATE)
    statement = cluster_statement(language=result.language) if absorbed else result.statement
    return dataclasses.replace(result, reasons=reasons, statement=statement)
