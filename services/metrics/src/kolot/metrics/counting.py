"""How a batch of events moves the counters and states: pure functions, no I/O.

``fold(events, states)`` takes the states the batch touches (read by the repository in the
consumer's transaction), applies the events to them in memory and returns a ``Plan``: the changed
states and the counter deltas, which the repository writes back in the same transaction.

Why the states: some figures are not a sum of events. A participant *takes part* in a campaign
once, however many comments they write, and is counted under their first-touch source, which
comes with ``participant.registered`` from another producer, possibly after their first comment.
A comment's *status* is its latest decision, whichever order decisions arrive in. Spend is the
latest registration of a dissemination. Each merge rule below is order-independent, so the same
events in any order, or replayed into an empty database, end in the same figures.

Counters (dotted paths into the campaign's ``campaign_counters`` document):

- ``events.<type>``: every event, by type (``kolot_comment_submitted``...).
- ``comments.<submitted|published|rejected|review|hidden>``: decision events; ``published`` counts
  a comment's first publication only (a cluster's representative is republished as it grows).
- ``status.<status>``: comments per current status (moves by -1/+1 on transitions).
- ``channels.<ch>``, ``circles.<circle>`` (submitted), ``languages.<lang>`` (first decision).
- ``decisions.<automatic|human>.<decision>``, ``reasons.<reason>``, ``hidden_by.<reason>``.
- ``latency.<automatic|human>.<bucket|sum|count>``: submitted -> first final decision.
- ``visits|invited|clicked|registered|took_part.<source>``, ``visit_channels.<channel>``;
  ``participants`` (distinct contributors); ``profile.<dimension>.<group>`` (contributors'
  declared profile).
- ``responses``, ``votes``, ``flags``, ``appeals.<filed|upheld|overturned>``, ``alerts.<kind>``.
- ``clusters.<count|comments>`` and ``largest_cluster`` (``$max``).
- ``notifications.<channel>.<sent|failed>``, ``webhooks.<delivered|failed>``,
  ``webhook_latency.<bucket|sum|count>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from kolot.common.events import (
    NO_CAMPAIGN,
    AppealDecided,
    AppealFiled,
    CampaignArchived,
    CampaignClosed,
    CampaignCreated,
    CampaignOpened,
    CampaignUpdated,
    CommentFlagged,
    CommentHidden,
    CommentModerated,
    CommentPublished,
    CommentSubmitted,
    DisseminationRegistered,
    Event,
    InvitationSent,
    LinkClicked,
    ModerationAlert,
    NotificationFailed,
    NotificationSent,
    OutcomePublished,
    ParticipantErased,
    ParticipantRegistered,
    ResponseSubmitted,
    VisitRecorded,
    VoteCast,
    WebhookDelivered,
    WebhookFailed,
)
from kolot.common.store import stamp
from kolot.metrics.models import (
    YES,
    CampaignState,
    ClusterState,
    CommentState,
    ContributorState,
    DisseminationState,
    ParticipantState,
    order_key,
)

DIRECT = "direct"
"""The source of a visit or participant that came without attribution."""
UNDECLARED = "undeclared"
"""The group of a participant who did not declare that part of their profile."""
NONE = "none"

MAX_KEY_LENGTH = 64

PROFILE_DIMENSIONS = ("region", "age_band", "sector")

LATENCY_BUCKETS: tuple[float, ...] = (1, 5, 15, 60, 300, 900, 3600, 14400, 43200, 86400, 259200)
"""Upper bounds (seconds) of the moderation latency histogram: machine decisions land in the
first buckets, people's in the minutes-to-days ones."""
WEBHOOK_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

# Keys come from citizens' links (?source=...), participants' declared regions, moderation's
# reasons: untrusted text that becomes a MongoDB field name (no ".", no leading "$") and a
# Prometheus label value. Keep word characters (any script) and "-", fold the rest to "_", cap.
_UNSAFE = re.compile(r"[^\w\-]+")

_CAMPAIGN_EVENTS = (
    CampaignCreated,
    CampaignUpdated,
    CampaignOpened,
    CampaignClosed,
    CampaignArchived,
)
# the rank orders facts of one comment that share a time: a decision, then its publication, then
# hiding (moderation emits approve and publish together; hiding always follows a publication)
_RANK_DECISION, _RANK_PUBLISHED, _RANK_HIDDEN = 0, 1, 2


def key_of(raw: str | None, *, default: str = DIRECT) -> str:
    """The counter key of a free-text value: lower case, safe as a field name and a label."""
    key = _UNSAFE.sub("_", (raw or "").strip().lower())[:MAX_KEY_LENGTH].strip("_")
    return key or default


def source_key(raw: str | None) -> str:
    return key_of(raw)


def event_key(event: Event) -> str:
    """``kolot.comment.submitted`` -> ``kolot_comment_submitted`` (no "." in field names)."""
    return event.type.replace(".", "_")


def bucket_key(bound: float) -> str:
    """A histogram bucket's field name: its bound without a "." (``0.25`` -> ``0_25``)."""
    return f"{bound:g}".replace(".", "_")


INF = "inf"


def bucket_of(value: float, bounds: Sequence[float]) -> str:
    for bound in bounds:
        if value <= bound:
            return bucket_key(bound)
    return INF


def hour_of(at: datetime | str) -> str:
    """The UTC hour bucket of a time: ``20261123T20``."""
    text = at if isinstance(at, str) else stamp(at)
    return f"{text[0:4]}{text[5:7]}{text[8:10]}T{text[11:13]}"


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def comment_status(state: CommentState) -> str:
    """The current status of a comment, from its latest decision, publication or hiding.

    ``pending``: submitted, no decision yet; ``held``: waiting for a person; ``approved``: approved,
    not published yet; ``clustered``: approved as a copy of a published form letter;
    ``published``; ``rejected``; ``hidden``.
    """
    latest = max(
        (k for k in (state.decision_key, state.published_key, state.hidden_key) if k), default=None
    )
    if latest is None:
        return "pending"
    if latest == state.hidden_key:
        return "hidden"
    if latest == state.published_key:
        return "published"
    match state.decision:
        case "review":
            return "held"
        case "reject":
            return "rejected"
        case _:
            return "clustered" if state.cluster_id else "approved"


@dataclass
class CampaignDelta:
    """What one batch adds to one campaign's counters."""

    campaign_id: str
    first_event_at: datetime
    last_event_at: datetime
    inc: dict[str, int | float] = field(default_factory=dict)
    largest_cluster: int = 0

    def add(self, path: str, n: int | float = 1) -> None:
        self.inc[path] = self.inc.get(path, 0) + n


@dataclass
class States:
    """The stored states a batch touches (missing ones are absent), keyed by ``_id``."""

    comments: dict[str, CommentState] = field(default_factory=dict)
    participants: dict[str, ParticipantState] = field(default_factory=dict)
    contributors: dict[str, ContributorState] = field(default_factory=dict)
    """Every contributor document of the batch's campaign/participant pairs, and every one of the
    participants the batch registers or erases."""
    disseminations: dict[str, DisseminationState] = field(default_factory=dict)
    clusters: dict[str, ClusterState] = field(default_factory=dict)
    campaigns: dict[str, CampaignState] = field(default_factory=dict)


@dataclass(frozen=True)
class Needs:
    """The ids of the states a batch touches, for the repository to read."""

    comments: frozenset[str]
    participants: frozenset[str]
    contributors: frozenset[str]
    disseminations: frozenset[str]
    clusters: frozenset[str]
    campaigns: frozenset[str]


def contributor_id(campaign_id: str, participant_id: str) -> str:
    return f"{campaign_id}|{participant_id}"


def cluster_doc_id(campaign_id: str, cluster_id: str) -> str:
    return f"{campaign_id}|{cluster_id}"


def _contribution(event: Event) -> str | None:
    """The participant an event shows taking part in its campaign, if it does."""
    if event.subject == NO_CAMPAIGN:
        return None
    match event:
        case CommentSubmitted() | ResponseSubmitted() | VoteCast():
            return event.data.participant_id
    return None


def needs(events: Iterable[Event]) -> Needs:
    comments: set[str] = set()
    participants: set[str] = set()
    contributors: set[str] = set()
    disseminations: set[str] = set()
    clusters: set[str] = set()
    campaigns: set[str] = set()
    for event in events:
        match event:
            case CommentSubmitted() | CommentModerated() | CommentHidden():
                comments.add(event.data.comment_id)
            case CommentPublished():
                comments.add(event.data.comment_id)
                if event.data.cluster_id:
                    clusters.add(cluster_doc_id(event.subject, event.data.cluster_id))
            case ParticipantRegistered() | ParticipantErased():
                participants.add(event.data.participant_id)
            case DisseminationRegistered():
                disseminations.add(event.data.dissemination_id)
            case OutcomePublished():
                campaigns.add(event.subject)
        if isinstance(event, _CAMPAIGN_EVENTS):
            campaigns.add(event.data.campaign_id)
        if participant_id := _contribution(event):
            participants.add(participant_id)
            contributors.add(contributor_id(event.subject, participant_id))
    return Needs(
        comments=frozenset(comments),
        participants=frozenset(participants),
        contributors=frozenset(contributors),
        disseminations=frozenset(disseminations),
        clusters=frozenset(clusters),
        campaigns=frozenset(campaigns),
    )


@dataclass
class Plan:
    """What a batch changes: counter deltas and the states to write back."""

    deltas: dict[str, CampaignDelta] = field(default_factory=dict)
    hours: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    comments: dict[str, CommentState] = field(default_factory=dict)
    participants: dict[str, ParticipantState] = field(default_factory=dict)
    contributors: dict[str, ContributorState] = field(default_factory=dict)
    disseminations: dict[str, DisseminationState] = field(default_factory=dict)
    clusters: dict[str, ClusterState] = field(default_factory=dict)
    campaigns: dict[str, CampaignState] = field(default_factory=dict)

    def delta(self, campaign_id: str, at: datetime) -> CampaignDelta:
        delta = self.deltas.get(campaign_id)
        if delta is None:
            delta = self.deltas[campaign_id] = CampaignDelta(campaign_id, at, at)
        delta.first_event_at = min(delta.first_event_at, at)
        delta.last_event_at = max(delta.last_event_at, at)
        return delta

    def hour(self, campaign_id: str, at: str, counter: str, n: int = 1) -> None:
        bucket = self.hours.setdefault((campaign_id, hour_of(at)), {})
        bucket[counter] = bucket.get(counter, 0) + n


class _Folder:
    """Applies one batch to the states, recording the counter deltas in ``plan``."""

    def __init__(self, states: States) -> None:
        self.states = states
        self.plan = Plan()
        # the status each touched comment had before the batch, to count transitions once
        self.status_before: dict[str, str | None] = {}

    def fold(self, events: Iterable[Event]) -> Plan:
        for event in events:
            delta = self.plan.delta(event.subject, event.time)
            delta.add(f"events.{event_key(event)}")
            self.apply(event, delta)
        for comment_id, before in self.status_before.items():
            state = self.plan.comments[comment_id]
            after = comment_status(state)
            if after != before:
                counters = self.plan.delta(state.campaign_id, parse_stamp(_any_time(state)))
                if before is not None:
                    counters.add(f"status.{before}", -1)
                counters.add(f"status.{after}")
                state.status = after
        return self.plan

    # ---- states -------------------------------------------------------------------------
    def comment(self, campaign_id: str, comment_id: str) -> CommentState:
        state = self.plan.comments.get(comment_id)
        if state is None:
            state = self.states.comments.get(comment_id) or CommentState(campaign_id=campaign_id)
            self.plan.comments[comment_id] = state
            self.status_before[comment_id] = state.status
        return state

    def participant(self, participant_id: str) -> ParticipantState:
        state = self.plan.participants.get(participant_id)
        if state is None:
            state = self.states.participants.get(participant_id) or ParticipantState()
            self.plan.participants[participant_id] = state
        return state

    def contributors_of(self, participant_id: str) -> list[ContributorState]:
        found = {
            key: c
            for key, c in self.states.contributors.items()
            if c.participant_id == participant_id
        }
        found.update(
            (key, c)
            for key, c in self.plan.contributors.items()
            if c.participant_id == participant_id
        )
        return list(found.values())

    # ---- events -------------------------------------------------------------------------
    def apply(self, event: Event, delta: CampaignDelta) -> None:
        at = stamp(event.time)
        match event:
            case CommentSubmitted(data=data):
                delta.add("comments.submitted")
                delta.add(f"channels.{data.channel}")
                delta.add(f"circles.{key_of(data.circle, default=NONE)}")
                self.plan.hour(event.subject, at, "submitted")
                comment = self.comment(event.subject, data.comment_id)
                comment.campaign_id = event.subject
                if comment.submitted_at is None or at < comment.submitted_at:
                    comment.submitted_at = at
                comment.channel, comment.circle = data.channel, data.circle
                self.observe_latency(comment)
            case CommentModerated(data=data):
                self.moderated(event, at, delta)
            case CommentPublished(data=data):
                comment = self.comment(event.subject, data.comment_id)
                if comment.published is None:
                    comment.published = at
                    delta.add("comments.published")
                    self.plan.hour(event.subject, at, "published")
                elif at < comment.published:
                    # publications over time count a comment at its first publication
                    self.plan.hour(event.subject, comment.published, "published", -1)
                    self.plan.hour(event.subject, at, "published")
                    comment.published = at
                    if comment.language is None and data.language:
                        comment.language = data.language
                        delta.add(f"languages.{key_of(data.language, default=NONE)}")
                key = order_key(at, event.id, _RANK_PUBLISHED)
                if comment.published_key is None or key > comment.published_key:
                    comment.published_key = key
                if data.cluster_id and data.cluster_size:
                    self.cluster(event.subject, data.cluster_id, data.cluster_size, event, delta)
            case CommentHidden(data=data):
                delta.add("comments.hidden")
                delta.add(f"hidden_by.{key_of(data.reason, default=NONE)}")
                comment = self.comment(event.subject, data.comment_id)
                key = order_key(at, event.id, _RANK_HIDDEN)
                if comment.hidden_key is None or key > comment.hidden_key:
                    comment.hidden_key = key
            case CommentFlagged():
                delta.add("flags")
            case AppealFiled():
                delta.add("appeals.filed")
            case AppealDecided(data=data):
                delta.add(f"appeals.{data.outcome}")
            case ResponseSubmitted():
                delta.add("responses")
                self.plan.hour(event.subject, at, "responses")
            case VoteCast():
                delta.add("votes")
                self.plan.hour(event.subject, at, "votes")
            case VisitRecorded(data=data):
                delta.add(f"visits.{source_key(data.attribution.source)}")
                delta.add(f"visit_channels.{key_of(data.channel, default=NONE)}")
                self.plan.hour(event.subject, at, "visits")
            case InvitationSent(data=data):
                delta.add(f"invited.{source_key(data.source)}")
            case LinkClicked(data=data):
                delta.add(f"clicked.{source_key(data.source)}")
            case DisseminationRegistered(data=data):
                self.dissemination(event, at)
            case ParticipantRegistered(data=data):
                self.registered(event, delta)
            case ParticipantErased(data=data):
                participant = self.participant(data.participant_id)
                # the profile goes; the source (the campaign's attribution, not the person) stays
                participant.profile, participant.erased = {}, YES
            case NotificationSent(data=data):
                delta.add(f"notifications.{data.channel}.sent")
            case NotificationFailed(data=data):
                delta.add(f"notifications.{data.channel}.failed")
            case WebhookDelivered(data=data) | WebhookFailed(data=data):
                delta.add(f"webhooks.{'delivered' if event.action == 'delivered' else 'failed'}")
                if data.duration_ms is not None:
                    seconds = max(0.0, data.duration_ms / 1000)
                    delta.add(f"webhook_latency.{bucket_of(seconds, WEBHOOK_BUCKETS)}")
                    delta.add("webhook_latency.sum", seconds)
                    delta.add("webhook_latency.count")
            case ModerationAlert(data=data):
                if data.state == "raised":
                    delta.add(f"alerts.{data.kind}")
            case OutcomePublished():
                campaign = self.campaign(event.subject)
                key = order_key(at, event.id)
                if campaign.outcome_key is None or key > campaign.outcome_key:
                    campaign.outcome = {**event.data.model_dump(mode="json"), "published_at": at}
                    campaign.outcome_key = key
        if isinstance(event, _CAMPAIGN_EVENTS):
            self.snapshot(event, at)
        if participant_id := _contribution(event):
            self.contributed(event.subject, participant_id, at, delta)

    def moderated(self, event: CommentModerated, at: str, delta: CampaignDelta) -> None:
        data = event.data
        mode = "automatic" if data.automatic else "human"
        delta.add(f"decisions.{mode}.{data.decision}")
        if data.decision == "reject":
            delta.add("comments.rejected")
            for reason in data.reasons:
                delta.add(f"reasons.{key_of(reason, default=NONE)}")
        elif data.decision == "review":
            delta.add("comments.review")
        comment = self.comment(event.subject, data.comment_id)
        if comment.language is None and data.language:
            comment.language = data.language
            delta.add(f"languages.{key_of(data.language, default=NONE)}")
        if data.cluster_id:
            comment.cluster_id = data.cluster_id
        key = order_key(at, event.id, _RANK_DECISION)
        if comment.decision_key is None or key > comment.decision_key:
            comment.decision, comment.decision_mode, comment.decision_key = data.decision, mode, key
            comment.held_since = at if data.decision == "review" else None
        if data.decision != "review" and (
            comment.first_final_at is None or at < comment.first_final_at
        ):
            comment.first_final_at, comment.first_final_mode = at, mode
        self.observe_latency(comment)

    def observe_latency(self, comment: CommentState) -> None:
        """Submitted -> first approve/reject, observed once, when both times are known.

        Decisions on one comment come from moderation in the order they were made, so the first
        final decision seen is the first made; one seen later with an earlier time changes the
        comment's status but not the latency already observed.
        """
        if comment.latency_observed or not (comment.submitted_at and comment.first_final_at):
            return
        comment.latency_observed = YES
        seconds = max(
            0.0,
            (
                parse_stamp(comment.first_final_at) - parse_stamp(comment.submitted_at)
            ).total_seconds(),
        )
        mode = comment.first_final_mode or "automatic"
        counters = self.plan.delta(comment.campaign_id, parse_stamp(comment.first_final_at))
        counters.add(f"latency.{mode}.{bucket_of(seconds, LATENCY_BUCKETS)}")
        counters.add(f"latency.{mode}.sum", seconds)
        counters.add(f"latency.{mode}.count")

    def cluster(
        self,
        campaign_id: str,
        cluster_id: str,
        size: int,
        event: CommentPublished,
        delta: CampaignDelta,
    ) -> None:
        doc_id = cluster_doc_id(campaign_id, cluster_id)
        state = self.plan.clusters.get(doc_id) or self.states.clusters.get(doc_id)
        old = state.size if state else 0
        if state is not None and size <= old:
            return
        self.plan.clusters[doc_id] = ClusterState(
            campaign_id=campaign_id,
            cluster_id=cluster_id,
            size=size,
            text=event.data.text,
            language=event.data.language,
        )
        # a cluster of one is not a form letter yet
        counted_old, counted_new = (old if old > 1 else 0), (size if size > 1 else 0)
        if counted_new and not counted_old:
            delta.add("clusters.count")
        if counted_new - counted_old:
            delta.add("clusters.comments", counted_new - counted_old)
        delta.largest_cluster = max(delta.largest_cluster, size)

    def dissemination(self, event: DisseminationRegistered, at: str) -> None:
        data = event.data
        key = order_key(at, event.id)
        current = self.plan.disseminations.get(
            data.dissemination_id
        ) or self.states.disseminations.get(data.dissemination_id)
        if current is not None and current.key >= key:
            return
        spend = data.spend
        self.plan.disseminations[data.dissemination_id] = DisseminationState(
            campaign_id=event.subject,
            source=source_key(data.source),
            channel=data.channel,
            # str() of the float keeps what the producer wrote (10000.0 -> "10000.0"), not its
            # binary approximation
            amount=str(Decimal(str(spend.amount))) if spend else None,
            currency=spend.currency.upper() if spend else None,
            recipients=data.recipients,
            key=key,
        )

    def snapshot(self, event: Event, at: str) -> None:
        snapshot = event.data
        campaign = self.campaign(snapshot.campaign_id)
        key = order_key(at, event.id)
        if campaign.snapshot_key is not None and key <= campaign.snapshot_key:
            return
        campaign.snapshot = snapshot.model_dump(mode="json")
        campaign.snapshot_key = key
        if snapshot.status in ("closed", "archived"):
            ended = snapshot.closes_at
            campaign.ended_at = stamp(ended) if ended else at
        else:
            campaign.ended_at = None

    def campaign(self, campaign_id: str) -> CampaignState:
        state = self.plan.campaigns.get(campaign_id)
        if state is None:
            state = self.states.campaigns.get(campaign_id) or CampaignState()
            self.plan.campaigns[campaign_id] = state
        return state

    def registered(self, event: ParticipantRegistered, delta: CampaignDelta) -> None:
        data = event.data
        source = source_key(data.source)
        campaign_id = data.campaign_id or event.subject
        if campaign_id != event.subject:
            delta = self.plan.delta(campaign_id, event.time)
        delta.add(f"registered.{source}")
        participant = self.participant(data.participant_id)
        if participant.registered:
            return  # registration is once per participant (its event id is derived from it)
        participant.registered, participant.source = YES, source
        if data.profile is not None and not participant.erased:
            participant.profile = {
                dimension: key_of(value, default=UNDECLARED)
                for dimension in PROFILE_DIMENSIONS
                if (value := getattr(data.profile, dimension))
            }
        for contributor in self.contributors_of(data.participant_id):
            self.count_took_part(contributor, participant)

    def contributed(
        self, campaign_id: str, participant_id: str, at: str, delta: CampaignDelta
    ) -> None:
        doc_id = contributor_id(campaign_id, participant_id)
        contributor = self.plan.contributors.get(doc_id) or self.states.contributors.get(doc_id)
        if contributor is None:
            contributor = ContributorState(campaign_id, participant_id, first_at=at)
            delta.add("participants")
            self.plan.hour(campaign_id, at, "participants")
            self.plan.contributors[doc_id] = contributor
        elif at < contributor.first_at:
            # participation over time counts a participant at their first contribution
            self.plan.hour(campaign_id, contributor.first_at, "participants", -1)
            self.plan.hour(campaign_id, at, "participants")
            contributor.first_at = at
            self.plan.contributors[doc_id] = contributor
        # (an unchanged contributor is not written back)
        participant = self.plan.participants.get(participant_id) or self.states.participants.get(
            participant_id
        )
        if participant is not None and participant.registered:
            self.count_took_part(contributor, participant)
        elif not contributor.counted:
            # Written back even unchanged: a replica folding this participant's registration at
            # the same time writes the same document, so one of the two transactions conflicts
            # and is retried, and neither commits without seeing the other (no write skew).
            self.participant(participant_id)

    def count_took_part(self, contributor: ContributorState, participant: ParticipantState) -> None:
        if contributor.counted:
            return
        contributor.counted = YES
        self.plan.contributors[
            contributor_id(contributor.campaign_id, contributor.participant_id)
        ] = contributor
        delta = self.plan.delta(contributor.campaign_id, parse_stamp(contributor.first_at))
        delta.add(f"took_part.{participant.source or DIRECT}")
        for dimension in PROFILE_DIMENSIONS:
            delta.add(f"profile.{dimension}.{participant.profile.get(dimension, UNDECLARED)}")


def _any_time(state: CommentState) -> str:
    for key in (state.decision_key, state.published_key, state.hidden_key):
        if key:
            return key.split("|", 1)[0]
    return state.submitted_at or "1970-01-01T00:00:00.000000Z"


def fold(events: Iterable[Event], states: States) -> Plan:
    """Apply ``events`` to ``states``; the plan holds every changed state and counter delta."""
    return _Folder(states).fold(events)
