"""Moderation's domain logic: automatic decisions on submitted comments, the moderators' queue
and their decisions, and the events that tell everyone else.

No FastStream or HTTP here: the service works on events, a store and a publisher behind the
Protocols below, so it is tested with in-memory doubles and run with MongoDB and JetStream.

Delivery: the bus delivers each submitted comment at least once. The decision is stored first
(an upsert that leaves an existing record alone), then its events are published with ids derived
from the comment, then the record is marked as emitted. A redelivery finds the record: if its
events were acknowledged it publishes nothing; if the process died before, it publishes the same
events with the same ids, which JetStream's duplicate window and every consumer drop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Literal, Protocol

from kolot.common.events import (
    CampaignArchived,
    CampaignClosed,
    CampaignCreated,
    CampaignOpened,
    CampaignUpdated,
    CommentHidden,
    CommentHiddenData,
    CommentModerated,
    CommentModeratedData,
    CommentPublished,
    CommentPublishedData,
    CommentSubmitted,
    Event,
    ModerationMode,
    derived_id,
    utcnow,
)
from kolot.moderation.models import (
    STATUS_OF,
    AutomaticDecision,
    CampaignPolicy,
    CommentRecord,
    CommentStatus,
)
from kolot.moderation.pipeline import ModerationDecision, analyse_batch, decide_analysis

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


class ModerationStore(Protocol):
    async def policies(self, campaign_ids: Collection[str]) -> dict[str, CampaignPolicy]: ...
    async def save_policies(self, policies: Sequence[CampaignPolicy]) -> None: ...
    async def add_automatic(self, records: Sequence[CommentRecord]) -> set[str]: ...
    async def get(self, comment_id: str) -> CommentRecord | None: ...
    async def get_many(self, comment_ids: Collection[str]) -> dict[str, CommentRecord]: ...
    async def mark_emitted(self, comment_ids: Collection[str]) -> None: ...
    async def pending(self, *, campaign_id: str | None, limit: int) -> list[CommentRecord]: ...
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


class EventSink(Protocol):
    """What moderation needs of the bus (``kolot.common.bus.EventPublisher`` is one)."""

    async def publish(self, *events: Event) -> None: ...
    async def publish_public(self, *events: Event) -> None: ...


class CampaignLog(Protocol):
    """The latest policy of a campaign moderation's own store has not seen yet, from the bus."""

    async def latest(self, campaign_id: str) -> CampaignPolicy | None: ...


class CommentNotFound(LookupError):
    pass


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
    event: CommentSubmitted, result: ModerationDecision, *, mode: ModerationMode, now: datetime
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
        created_at=now,
        decided_at=now,
    )


def _published(record: CommentRecord, *, by: str, at: datetime) -> CommentPublished:
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
        ),
    )


def automatic_events(record: CommentRecord) -> tuple[list[Event], list[Event]]:
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
        ),
    )
    if auto.decision != "approve":
        return [moderated], []
    published = _published(record, by="auto", at=record.created_at)
    return [moderated, published], [published]


def human_events(record: CommentRecord) -> tuple[list[Event], list[Event]]:
    """The events of a person's decision; what it changed depends on the status it replaced."""
    assert record.decided_by == "human"
    moderated = CommentModerated(
        id=derived_id(record.comment_id, "moderated", "human", record.decision),
        subject=record.campaign_id,
        time=record.decided_at,
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
        ),
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


class ModerationService:
    def __init__(
        self,
        store: ModerationStore,
        publisher: EventSink,
        *,
        campaign_log: CampaignLog | None = None,
        unknown_campaign_mode: ModerationMode = "auto",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._campaign_log = campaign_log
        self._unknown_mode: ModerationMode = unknown_campaign_mode
        self._clock = clock

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

    async def moderate(self, events: Sequence[CommentSubmitted]) -> None:
        """Decide on a batch of submitted comments, store the decisions, publish their events."""
        unique: dict[str, CommentSubmitted] = {}
        for event in events:
            unique.setdefault(event.data.comment_id, event)  # the same comment twice in a batch
        if not unique:
            return
        modes = await self._modes({event.subject for event in unique.values()})
        now = self._clock()
        events_in = list(unique.values())
        analyses = analyse_batch([event.data.text for event in events_in])
        records = [
            automatic_record(
                event,
                decide_analysis(analysis, mode=modes[event.subject]),
                mode=modes[event.subject],
                now=now,
            )
            for event, analysis in zip(events_in, analyses, strict=True)
        ]
        inserted = await self._store.add_automatic(records)
        current = {r.comment_id: r for r in records if r.comment_id in inserted}
        current.update(await self._store.get_many(unique.keys() - inserted))
        to_emit = [record for record in current.values() if not record.emitted]
        await self._publish([automatic_events(record) for record in to_emit])
        await self._store.mark_emitted([record.comment_id for record in to_emit])

    async def _modes(self, campaign_ids: set[str]) -> dict[str, ModerationMode]:
        policies = await self._store.policies(campaign_ids)
        missing = sorted(campaign_ids - policies.keys())
        if missing and self._campaign_log is not None:
            # the campaign consumer may not have caught up with a campaign created just now:
            # a pre-moderated campaign must not be read as automatic meanwhile
            found = await asyncio.gather(*(self._campaign_log.latest(c) for c in missing))
            policies.update({p.campaign_id: p for p in found if p is not None})
        return {
            campaign_id: policies[campaign_id].moderation_mode
            if campaign_id in policies
            else self._unknown_mode
            for campaign_id in campaign_ids
        }

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

    # from moderators

    async def queue(self, *, campaign_id: str | None, limit: int) -> list[CommentRecord]:
        """Comments waiting for a person, oldest first."""
        return await self._store.pending(campaign_id=campaign_id, limit=limit)

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
                await self._publish([human_events(updated)])
                return updated
            log.info("comment %s changed while being decided; reading it again", comment_id)
        # three moderators in a row were quicker: let this one look again
        raise DecisionConflict(await self._require(comment_id))

    async def _require(self, comment_id: str) -> CommentRecord:
        record = await self._store.get(comment_id)
        if record is None:
            raise CommentNotFound(comment_id)
        return record
