"""The campaign figures as Prometheus metrics, with bounded label sets.

``/metrics`` is scraped often and must answer at once, so ``collect()`` does no I/O: it renders
the last snapshot, which a background task refreshes from MongoDB every few seconds
(``MetricsService.refresh``). Every replica exposes the same totals (they come from the shared
store): aggregate across replicas with ``max``, not ``sum``.

Label cardinality is bounded because every label combination is a time series that Prometheus
keeps for its whole retention:

- ``campaign_id`` names only campaigns that are open or closed less than ``recent`` ago, at most
  ``max_campaigns`` of them (open ones first, then the most recently closed), plus ``_`` (events of
  no campaign). Every other campaign is summed under ``campaign_id="other"``, so sums over
  campaigns stay right. When a campaign leaves the named set its series stop and ``other`` grows
  by its figures; a draft that opens moves the other way, which ``other`` shows as a counter
  reset (rate() handles it). Gauges of ``other`` are sums (queue age: the oldest).
- Attribution sources are free text from citizens' links: each campaign exposes at most
  ``max_sources`` per metric, the rest summed under ``source="other"``; a source keeps its label
  once it has one (while the process lives), so ``other`` does not shrink.
- Circles and languages are bounded the same way; statuses, decisions, channels, event types and
  dimensions come from the catalogue and are bounded already.
- Latency histograms and delivery counters carry no campaign label at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from kolot.common.events import NO_CAMPAIGN
from kolot.metrics.counting import LATENCY_BUCKETS, WEBHOOK_BUCKETS, parse_stamp
from kolot.metrics.models import CampaignCounters, CampaignState, DisseminationState
from kolot.metrics.stats import (
    COMMENT_STATUSES,
    DECISIONS,
    MODES,
    histogram,
    representativeness,
    spend_by_source,
    targets_of,
)

OTHER = "other"
"""The label of what is beyond a limit (campaigns, sources, circles, languages)."""

COMMENT_EVENTS = ("submitted", "published", "rejected", "review", "hidden")


def bound_labels(
    counts: Mapping[str, int], *, limit: int, keep: Collection[str] = ()
) -> dict[str, int]:
    """At most ``limit`` labels of ``counts``, the rest summed under ``other``.

    The labels in ``keep`` (those exposed before) stay first; free places go to the largest
    counts (ties by name, so the choice is stable). A key literally named ``other`` is part of
    the ``other`` label. The sum of the values is preserved.
    """
    named = {label: n for label, n in counts.items() if label != OTHER}
    kept = sorted(label for label in keep if label in named)[:limit]
    rest = sorted(
        (label for label in named if label not in kept), key=lambda label: (-named[label], label)
    )
    chosen = kept + rest[: limit - len(kept)]
    bounded = {label: named[label] for label in chosen}
    overflow = sum(counts.values()) - sum(bounded.values())
    if overflow or OTHER in counts:
        bounded[OTHER] = overflow
    return bounded


def labelled_campaigns(
    campaigns: Mapping[str, CampaignState], *, now: datetime, recent: timedelta, limit: int
) -> list[str]:
    """The campaigns that get their own ``campaign_id`` label: open, then recently closed."""
    open_, closed = [], []
    for campaign_id, state in campaigns.items():
        status = (state.snapshot or {}).get("status")
        if status == "open":
            open_.append(campaign_id)
        elif status in ("closed", "archived") and state.ended_at:
            ended = parse_stamp(state.ended_at)
            if now - ended <= recent:
                closed.append((state.ended_at, campaign_id))
    chosen = sorted(open_) + [c for _, c in sorted(closed, reverse=True)]
    return chosen[:limit]


def _add(into: dict[str, float], counts: Mapping[str, float]) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


@dataclass
class Row:
    """One ``campaign_id`` label's values (a campaign, ``_`` or ``other``)."""

    campaign_id: str
    comments: dict[str, float] = field(default_factory=dict)
    status: dict[str, float] = field(default_factory=dict)
    channels: dict[str, float] = field(default_factory=dict)
    circles: dict[str, float] = field(default_factory=dict)
    languages: dict[str, float] = field(default_factory=dict)
    decisions: dict[str, float] = field(default_factory=dict)
    """``mode|decision`` -> n"""
    visits: dict[str, float] = field(default_factory=dict)
    invited: dict[str, float] = field(default_factory=dict)
    clicked: dict[str, float] = field(default_factory=dict)
    took_part: dict[str, float] = field(default_factory=dict)
    registered: dict[str, float] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)
    appeals: dict[str, float] = field(default_factory=dict)
    events: dict[str, float] = field(default_factory=dict)
    alerts: dict[str, float] = field(default_factory=dict)
    queue_depth: int = 0
    queue_oldest: str | None = None
    spend: dict[tuple[str, str], float] = field(default_factory=dict)
    dissimilarity: dict[str, float] = field(default_factory=dict)
    under_represented: dict[str, int] = field(default_factory=dict)

    def absorb(self, c: CampaignCounters) -> None:
        _add(self.comments, c.comments)
        _add(self.status, c.status)
        _add(self.channels, c.channels)
        _add(self.circles, c.circles)
        _add(self.languages, c.languages)
        for mode, decisions in c.decisions.items():
            _add(self.decisions, {f"{mode}|{d}": n for d, n in decisions.items()})
        _add(self.visits, c.visits)
        _add(self.invited, c.invited)
        _add(self.clicked, c.clicked)
        _add(self.took_part, c.took_part)
        _add(self.registered, c.registered)
        _add(
            self.scalars,
            {
                "responses": c.responses,
                "votes": c.votes,
                "flags": c.flags,
                "clusters": c.clusters.get("count", 0),
                "cluster_comments": c.clusters.get("comments", 0),
            },
        )
        self.scalars["largest_cluster"] = max(
            self.scalars.get("largest_cluster", 0), c.largest_cluster
        )
        _add(self.appeals, c.appeals)
        _add(self.events, c.events)
        _add(self.alerts, c.alerts)


@dataclass
class Snapshot:
    """What the refresher read from the store."""

    counters: Sequence[CampaignCounters]
    campaigns: Mapping[str, CampaignState]
    disseminations: Sequence[DisseminationState]
    queues: Mapping[str, tuple[int, str]]
    now: datetime


class CountersCollector(Collector):
    """A Prometheus collector over the last snapshot of the metrics database."""

    def __init__(
        self,
        *,
        max_sources: int,
        max_campaigns: int = 50,
        recent: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.clock = clock
        """The queue's oldest age is measured when scraped, not when the snapshot was read."""
        self.max_sources = max_sources
        self.max_campaigns = max_campaigns
        self.recent = recent
        self.rows: Sequence[Row] = ()
        self.latency: dict[str, dict[str, float]] = {}
        self.webhook_latency: dict[str, float] = {}
        self.notifications: dict[tuple[str, str], float] = {}
        self.webhooks: dict[str, float] = {}
        self.refreshed_at: float | None = None
        # (metric, campaign label) -> the keys that already have a label
        self._labelled: dict[tuple[str, str], frozenset[str]] = {}

    def update(self, snapshot: Snapshot, *, at: float | None = None) -> None:
        """Take a new snapshot (called by the refresher; collect() only reads what this sets)."""
        named = set(
            labelled_campaigns(
                snapshot.campaigns, now=snapshot.now, recent=self.recent, limit=self.max_campaigns
            )
        )
        named.add(NO_CAMPAIGN)
        rows: dict[str, Row] = {}
        latency: dict[str, dict[str, float]] = {}
        webhook_latency: dict[str, float] = {}
        notifications: dict[tuple[str, str], float] = {}
        webhooks: dict[str, float] = {}
        for c in snapshot.counters:
            label = c.campaign_id if c.campaign_id in named else OTHER
            row = rows.setdefault(label, Row(label))
            row.absorb(c)
            for mode, counts in c.latency.items():
                _add(latency.setdefault(mode, {}), counts)
            _add(webhook_latency, c.webhook_latency)
            for channel, outcomes in c.notifications.items():
                for outcome, n in outcomes.items():
                    notifications[(channel, outcome)] = notifications.get((channel, outcome), 0) + n
            _add(webhooks, c.webhooks)
            if label != OTHER and c.campaign_id != NO_CAMPAIGN:
                report = representativeness(c.profile, targets_of(snapshot.campaigns.get(label)))
                for dimension, figures in report.dimensions.items():
                    if figures.dissimilarity is not None:
                        row.dissimilarity[dimension] = figures.dissimilarity
                    row.under_represented[dimension] = sum(
                        g.under_represented for g in figures.groups
                    )
        for campaign_id, (depth, since) in snapshot.queues.items():
            label = campaign_id if campaign_id in named else OTHER
            row = rows.setdefault(label, Row(label))
            row.queue_depth += depth
            if since and (row.queue_oldest is None or since < row.queue_oldest):
                row.queue_oldest = since
        by_campaign: dict[str, list[DisseminationState]] = {}
        for item in snapshot.disseminations:
            by_campaign.setdefault(item.campaign_id, []).append(item)
        for campaign_id, items in by_campaign.items():
            if campaign_id not in named:
                continue  # spend is a gauge of a live campaign, not a sum worth keeping
            row = rows.setdefault(campaign_id, Row(campaign_id))
            for source, spend in spend_by_source(items).items():
                if spend is not None:
                    row.spend[(source, spend[1])] = float(spend[0])
        for row in rows.values():
            for metric in ("visits", "invited", "clicked", "took_part", "registered"):
                setattr(row, metric, self._bound(metric, row.campaign_id, getattr(row, metric)))
            row.circles = self._bound("circles", row.campaign_id, row.circles)
            row.languages = self._bound("languages", row.campaign_id, row.languages)
        self.rows = sorted(rows.values(), key=lambda r: r.campaign_id)
        self.latency, self.webhook_latency = latency, webhook_latency
        self.notifications, self.webhooks = notifications, webhooks
        self.refreshed_at = time.time() if at is None else at

    def _bound(self, metric: str, label: str, counts: Mapping[str, float]) -> dict[str, float]:
        key = (metric, label)
        bounded = bound_labels(
            {k: int(v) for k, v in counts.items()},
            limit=self.max_sources,
            keep=self._labelled.get(key, ()),
        )
        self._labelled[key] = frozenset(bounded) - {OTHER}
        return dict(bounded)

    def describe(self) -> Iterable[Metric]:
        # the families are known in advance, whatever the snapshot holds
        return self._families([], now=self.clock())

    def collect(self) -> Iterable[Metric]:
        return self._families(self.rows, now=self.clock())

    def _families(self, rows: Sequence[Row], *, now: datetime) -> Iterator[Metric]:
        c = "campaign_id"

        def counter(name: str, doc: str, *labels: str) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=[c, *labels])

        def gauge(name: str, doc: str, *labels: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=[c, *labels])

        comments = counter(
            "kolot_comments",
            "Comment events per campaign: submitted, published (first time), rejected and review "
            "decisions, hidden.",
            "status",
        )
        in_status = gauge(
            "kolot_comments_in_status",
            "Comments per campaign by current status (pending, held, approved, clustered, "
            "published, rejected, hidden).",
            "status",
        )
        pending = gauge(
            "kolot_comments_pending",
            "Comments awaiting a decision (no decision yet, or waiting for a person).",
        )
        by_channel = counter(
            "kolot_comments_by_channel", "Comments submitted per campaign and channel.", "channel"
        )
        by_circle = counter(
            "kolot_comments_by_circle",
            "Comments submitted per campaign and circle (top circles, 'other').",
            "circle",
        )
        by_language = counter(
            "kolot_comments_by_language",
            "Comments per campaign by detected language (top languages, 'other').",
            "language",
        )
        decisions = counter(
            "kolot_moderation_decisions",
            "Moderation decisions per campaign, by who decided and the decision.",
            "mode",
            "decision",
        )
        queue_depth = gauge(
            "kolot_moderation_queue_depth", "Comments waiting for a human moderator."
        )
        queue_age = gauge(
            "kolot_moderation_queue_oldest_age_seconds",
            "How long the oldest comment waiting for a human moderator has waited.",
        )
        visits = counter(
            "kolot_visits", "Visits per campaign by attribution source (top sources).", "source"
        )
        invited = counter(
            "kolot_invitations_sent", "Invitations sent per campaign and source.", "source"
        )
        clicked = counter(
            "kolot_link_clicks", "Tracked links followed per campaign and source.", "source"
        )
        participants = counter(
            "kolot_participants",
            "Distinct participants who took part per campaign, by first-touch source.",
            "source",
        )
        registrations = counter(
            "kolot_registrations",
            "Participants registered arriving at a campaign ('_': none), by source.",
            "source",
        )
        responses = counter("kolot_responses", "Survey responses per campaign.")
        votes = counter("kolot_votes", "Votes cast per campaign.")
        flags = counter("kolot_flags", "Comments flagged by participants, per campaign.")
        appeals = counter(
            "kolot_appeals", "Appeals per campaign: filed, upheld, overturned.", "outcome"
        )
        clusters = gauge(
            "kolot_form_letter_clusters", "Form-letter clusters (2+ near-identical comments)."
        )
        cluster_comments = gauge(
            "kolot_form_letter_comments", "Comments that belong to a form-letter cluster."
        )
        largest = gauge("kolot_form_letter_largest_cluster", "Size of the largest cluster.")
        spend = gauge(
            "kolot_dissemination_spend",
            "Registered dissemination spend per campaign and source, in the currency's major "
            "unit (latest per dissemination).",
            "source",
            "currency",
        )
        dissimilarity = gauge(
            "kolot_representativeness_dissimilarity_ratio",
            "Duncan's dissimilarity index (0-1) of participants' declared profile against the "
            "campaign's target shares.",
            "dimension",
        )
        under = gauge(
            "kolot_representativeness_underrepresented_groups",
            "Groups with less than half their target share of participants.",
            "dimension",
        )
        alerts = counter(
            "kolot_moderation_alerts", "Moderation surge alerts raised, by kind.", "kind"
        )
        events = counter(
            "kolot_domain_events", "Domain events counted per campaign and type.", "type"
        )
        for row in rows:
            cid = row.campaign_id
            for status in COMMENT_EVENTS:
                comments.add_metric([cid, status], row.comments.get(status, 0))
            for status in COMMENT_STATUSES:
                in_status.add_metric([cid, status], max(0, row.status.get(status, 0)))
            pending.add_metric(
                [cid], max(0, row.status.get("pending", 0)) + max(0, row.status.get("held", 0))
            )
            for channel, n in sorted(row.channels.items()):
                by_channel.add_metric([cid, channel], n)
            for circle, n in sorted(row.circles.items()):
                by_circle.add_metric([cid, circle], n)
            for language, n in sorted(row.languages.items()):
                by_language.add_metric([cid, language], n)
            for mode in MODES:
                for decision in DECISIONS:
                    decisions.add_metric(
                        [cid, mode, decision], row.decisions.get(f"{mode}|{decision}", 0)
                    )
            queue_depth.add_metric([cid], row.queue_depth)
            age = 0.0
            if row.queue_oldest:
                age = max(0.0, (now - parse_stamp(row.queue_oldest)).total_seconds())
            queue_age.add_metric([cid], age)
            for family, counts in (
                (visits, row.visits),
                (invited, row.invited),
                (clicked, row.clicked),
                (participants, row.took_part),
                (registrations, row.registered),
            ):
                for source, n in sorted(counts.items()):
                    family.add_metric([cid, source], n)
            responses.add_metric([cid], row.scalars.get("responses", 0))
            votes.add_metric([cid], row.scalars.get("votes", 0))
            flags.add_metric([cid], row.scalars.get("flags", 0))
            for outcome in ("filed", "upheld", "overturned"):
                appeals.add_metric([cid, outcome], row.appeals.get(outcome, 0))
            clusters.add_metric([cid], row.scalars.get("clusters", 0))
            cluster_comments.add_metric([cid], row.scalars.get("cluster_comments", 0))
            largest.add_metric([cid], row.scalars.get("largest_cluster", 0))
            for (source, currency), amount in sorted(row.spend.items()):
                spend.add_metric([cid, source, currency], amount)
            for dimension, index in sorted(row.dissimilarity.items()):
                dissimilarity.add_metric([cid, dimension], index)
            for dimension, n in sorted(row.under_represented.items()):
                under.add_metric([cid, dimension], n)
            for kind, n in sorted(row.alerts.items()):
                alerts.add_metric([cid, kind], n)
            for key, n in sorted(row.events.items()):
                # stored as kolot_comment_submitted: entities and actions have no "_"
                events.add_metric([cid, key.replace("_", ".", 2)], n)
        yield from (
            comments,
            in_status,
            pending,
            by_channel,
            by_circle,
            by_language,
            decisions,
            queue_depth,
            queue_age,
            visits,
            invited,
            clicked,
            participants,
            registrations,
            responses,
            votes,
            flags,
            appeals,
            clusters,
            cluster_comments,
            largest,
            spend,
            dissimilarity,
            under,
            alerts,
            events,
        )

        latency = HistogramMetricFamily(
            "kolot_moderation_latency_seconds",
            "Time from a comment's submission to its first approve/reject decision, by who "
            "decided (all campaigns).",
            labels=["mode"],
        )
        if rows:
            for mode in MODES:
                cumulative, _count, total = histogram(self.latency.get(mode, {}), LATENCY_BUCKETS)
                latency.add_metric(
                    [mode], [(_le(b), float(n)) for b, n in cumulative], sum_value=total
                )
        yield latency
        webhook_latency = HistogramMetricFamily(
            "kolot_webhook_delivery_seconds",
            "Duration of webhook delivery attempts reported by notify (all campaigns).",
        )
        if rows:
            cumulative, _count, total = histogram(self.webhook_latency, WEBHOOK_BUCKETS)
            webhook_latency.add_metric(
                [], [(_le(b), float(n)) for b, n in cumulative], sum_value=total
            )
        yield webhook_latency
        notifications = CounterMetricFamily(
            "kolot_notifications",
            "Participant notifications by channel and outcome (sent, failed).",
            labels=["channel", "outcome"],
        )
        for (channel, outcome), n in sorted(self.notifications.items()):
            notifications.add_metric([channel, outcome], n)
        yield notifications
        webhooks = CounterMetricFamily(
            "kolot_webhook_deliveries",
            "Webhook deliveries by outcome (delivered, failed: given up after retries).",
            labels=["outcome"],
        )
        for outcome in ("delivered", "failed"):
            if rows:
                webhooks.add_metric([outcome], self.webhooks.get(outcome, 0))
        yield webhooks
        snapshot_at = GaugeMetricFamily(
            "kolot_metrics_snapshot_timestamp_seconds",
            "When the figures exposed here were last read from the store (Unix time).",
        )
        if self.refreshed_at is not None:
            snapshot_at.add_metric([], self.refreshed_at)
        yield snapshot_at


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else f"{bound:g}"
