"""Erasure and retention in intake (docs/privacy.md).

Erasure (``participant.erased``): the participant's record, memberships and invitation claims go;
their comments, votes and responses stay, counted, with no author.

Retention: ``retention_days`` after a consultation closed (the campaign's own, else the
deployment's default; none: kept), intake's scheduler publishes ``campaign.purged`` once. Before
it, each participant whose every link to Kolot is that consultation is erased (a
``participant.erased`` with the same derived id a request of their own would have). Then every
service removes what links people to the consultation. Here: authors, voters and respondents
are unlinked, memberships and invitation claims deleted, the raw text of every comment deleted
and the text of those never published too; published comments stay as the public record.

Both run in the consumers that project the data they change, after the batch's own writes, so a
replay of the stream applies them after what they undo.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta

from kolot.common.bus import ConsumerSpec, EventPublisher, Streams, also_reading, jetstream
from kolot.common.events import (
    CampaignPurged,
    CampaignPurgedData,
    CampaignSnapshot,
    Event,
    ParticipantErased,
    ParticipantErasedData,
    derived_id,
    utcnow,
)
from kolot.common.runtime import Runtime
from kolot.common.store import stamp
from kolot.intake.repository import IntakeRepository

log = logging.getLogger(__name__)

ENDED = ("closed", "archived")
ERASURES_PER_PUBLISH = 500

PERSONAL_SUBJECTS: tuple[tuple[str, str], ...] = (
    ("comment", "submitted"),
    ("comment", "moderated"),
    ("comment", "flagged"),
    ("appeal", "*"),
    ("vote", "cast"),
    ("response", "submitted"),
    ("visit", "recorded"),
    ("participant", "*"),
    ("notification", "*"),
    ("invitation", "sent"),
    ("link", "clicked"),
)
"""The events of a consultation that name a person or hold text that was never public. What the
log keeps of a purged consultation (campaign changes, published and hidden comments, outcomes,
disseminations, alerts, webhook results) names no one."""

LogPurger = Callable[[str], Awaitable[None]]


def personal_subjects(streams: Streams, campaign_id: str) -> list[str]:
    return [streams.events_subject(e, a, campaign_id) for e, a in PERSONAL_SUBJECTS]


def stream_log_purger(runtime: Runtime) -> LogPurger:
    """Purges a consultation's personal events from ``KOLOT_EVENTS`` (docs/privacy.md: a
    projection rebuilt afterwards lacks that consultation's per-item history)."""

    async def purge(campaign_id: str) -> None:
        js = jetstream(runtime.broker)
        stream = runtime.streams.name("events")
        for subject in personal_subjects(runtime.streams, campaign_id):
            await js.purge_stream(stream, subject=subject)

    return purge


def purge_event(
    campaign: CampaignSnapshot,
    *,
    now: datetime,
    default_days: int | None,
    not_before_days: int = 0,
) -> CampaignPurged | None:
    """The ``campaign.purged`` due for ``campaign`` at ``now``, or None (not due, or kept).

    Never before ``not_before_days`` after the closing: meeting records may still arrive until
    then (the upload grace), and would otherwise be linked to people after the purge.
    """
    days = campaign.retention_days or default_days
    if campaign.status not in ENDED or campaign.closes_at is None or not days:
        return None
    days = max(days, not_before_days)
    due_at = campaign.closes_at + timedelta(days=days)
    if due_at > now:
        return None
    return CampaignPurged(
        # every replica may try: one id per campaign, so the stream keeps one
        id=derived_id("purged", campaign.campaign_id),
        subject=campaign.campaign_id,
        data=CampaignPurgedData(
            campaign_id=campaign.campaign_id,
            closed_at=campaign.closes_at,
            retention_days=days,
            due_at=due_at,
        ),
    )


def erasure(participant_id: str) -> ParticipantErased:
    # the id of an erasure the participant asks for themselves: the stream keeps one of the two
    return ParticipantErased(
        id=derived_id("erased", participant_id),
        data=ParticipantErasedData(participant_id=participant_id),
    )


class RetentionSchedule:
    """Publishes the purges that are due (every replica runs it; the ids make them one)."""

    def __init__(
        self,
        *,
        repository: IntakeRepository,
        publisher: EventPublisher,
        default_days: int | None,
        clock: Callable[[], datetime] = utcnow,
        purge_log: LogPurger | None = None,
        not_before_days: int = 0,
    ) -> None:
        self.purge_log = purge_log
        self.not_before_days = not_before_days
        self.repository = repository
        self.publisher = publisher
        self.default_days = default_days
        self.clock = clock
        self._done: set[str] = set()

    async def run(self) -> list[str]:
        """Purges every campaign due now; returns their ids."""
        now = self.clock()
        purged: list[str] = []
        for campaign in await self.repository.unpurged_campaigns(ENDED):
            if campaign.campaign_id in self._done:
                continue
            event = purge_event(
                campaign,
                now=now,
                default_days=self.default_days,
                not_before_days=self.not_before_days,
            )
            if event is None:
                continue
            await self.purge(event)
            purged.append(campaign.campaign_id)
        return purged

    async def purge(self, event: CampaignPurged) -> None:
        campaign_id = event.subject
        alone = await self.repository.participants_only_of(campaign_id)
        for begin in range(0, len(alone), ERASURES_PER_PUBLISH):
            chunk = alone[begin : begin + ERASURES_PER_PUBLISH]
            await self.publisher.publish(*(erasure(p) for p in chunk))
        # after the erasures: a consumer that sees the purge has seen them
        await self.publisher.publish(event)
        await self.publisher.publish_public(event)
        if self.purge_log is not None:
            await self.purge_log(campaign_id)
        # recorded once the event is in the stream (the projector records it again)
        await self.repository.mark_purged([campaign_id], at=stamp(event.time))
        self._done.add(campaign_id)
        log.info(
            "campaign %s purged (%d days after it closed); %d participants of it alone erased",
            campaign_id,
            event.data.retention_days,
            len(alone),
        )


def erased_ids(events: Iterable[Event]) -> list[str]:
    return [e.data.participant_id for e in events if isinstance(e, ParticipantErased)]


def purged_ids(events: Iterable[Event]) -> list[str]:
    return [e.subject for e in events if isinstance(e, CampaignPurged)]


async def forget_in_contributions(repository: IntakeRepository, events: Sequence[Event]) -> None:
    """The comments consumer's part: votes of the erased, then the purged campaigns' comments
    and votes (the comments of the erased are unlinked by the projector itself)."""
    if erased := erased_ids(events):
        await repository.unlink_votes(participant_ids=erased)
    if purged := purged_ids(events):
        await repository.purge_contributions(purged)
        await repository.mark_purged(purged, at=stamp(utcnow()))


async def forget_in_participants(repository: IntakeRepository, events: Sequence[Event]) -> None:
    """The participants consumer's part: invitation claims of the erased (their record,
    memberships and responses are handled by the projector), and the purged campaigns'
    memberships, claims, responses and registrations."""
    if erased := erased_ids(events):
        await repository.unlink_redemptions(participant_ids=erased)
    if purged := purged_ids(events):
        await repository.purge_participation(purged)


Forget = Callable[[IntakeRepository, Sequence[Event]], Awaitable[None]]


def forgetting(
    spec: ConsumerSpec, streams: Streams, repository: IntakeRepository, forget: Forget
) -> ConsumerSpec:
    """``spec`` that also reads erasures and purges, and applies ``forget`` after its handler."""

    async def then(events: list[Event]) -> None:
        await forget(repository, events)

    return also_reading(spec, forgetting_subjects(streams), FORGETTING_TYPES, then)


def forgetting_subjects(streams: Streams) -> list[str]:
    return [
        streams.events_subject("participant", "erased"),
        streams.events_subject("campaign", "purged"),
    ]


FORGETTING_TYPES = frozenset({ParticipantErased.event_type(), CampaignPurged.event_type()})
