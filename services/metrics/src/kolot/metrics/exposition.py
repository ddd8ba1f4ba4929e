"""The campaign counters as Prometheus metrics, with bounded label sets.

``/metrics`` is scraped often and must answer at once, so ``collect()`` does no I/O: it renders
the last snapshot, which a background task refreshes from MongoDB every few seconds
(``MetricsService.refresh``). Every replica exposes the same totals (they come from the shared
store): aggregate across replicas with ``max``, not ``sum``.

Label cardinality is bounded because every label combination is a time series that Prometheus
keeps in memory and on disk for its whole retention, and the attribution source is free text
from citizens' links (``?source=...``): one campaign shared with a thousand distinct tags, or a
script inventing them, would otherwise add a thousand series per metric. Each campaign exposes at
most ``limit`` sources per metric; the rest are summed under ``other``. A source keeps its label
once it has one (while the process lives), so ``other`` does not shrink and the counters stay
monotonic. Statuses and event types come from the catalogue and are bounded already; campaigns
are created by administrators, a few per year.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kolot.metrics.models import CampaignCounters
from kolot.metrics.stats import pending

OTHER = "other"
"""The label of the sources beyond the per-campaign limit."""

COMMENT_STATUSES = ("submitted", "published", "rejected", "review", "hidden")


def bound_labels(
    counts: Mapping[str, int], *, limit: int, keep: Collection[str] = ()
) -> dict[str, int]:
    """At most ``limit`` labels of ``counts``, the rest summed under ``other``.

    The labels in ``keep`` (those exposed before) stay first; free places go to the largest
    counts (ties by name, so the choice is stable). A source literally named ``other`` is part of
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


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """One campaign's values, ready to expose."""

    campaign_id: str
    comments: Mapping[str, int]
    pending: int
    visits: Mapping[str, int]
    participants: Mapping[str, int]
    responses: int
    votes: int
    flags: int
    events: Mapping[str, int]


class CountersCollector(Collector):
    """A Prometheus collector over the last snapshot of ``campaign_counters``."""

    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        self.rows: Sequence[CampaignRow] = ()
        self.refreshed_at: float | None = None
        # (metric, campaign) -> the sources that already have a label
        self._labelled: dict[tuple[str, str], frozenset[str]] = {}

    def update(self, counters: Iterable[CampaignCounters], *, at: float | None = None) -> None:
        """Take a new snapshot (called by the refresher; collect() only reads ``rows``)."""
        rows = [
            CampaignRow(
                campaign_id=c.campaign_id,
                comments={s: getattr(c.comments, s) for s in COMMENT_STATUSES},
                pending=pending(c.comments),
                visits=self._bound("visits", c.campaign_id, c.visits),
                participants=self._bound("participants", c.campaign_id, c.participants),
                responses=c.responses,
                votes=c.votes,
                flags=c.flags,
                events=dict(c.events),
            )
            for c in counters
        ]
        self.rows = rows
        self.refreshed_at = time.time() if at is None else at

    def _bound(self, metric: str, campaign_id: str, counts: Mapping[str, int]) -> dict[str, int]:
        key = (metric, campaign_id)
        bounded = bound_labels(counts, limit=self.limit, keep=self._labelled.get(key, ()))
        self._labelled[key] = frozenset(bounded) - {OTHER}
        return bounded

    def describe(self) -> Iterable[Metric]:
        # the families are known in advance, whatever the snapshot holds
        return self._families([])

    def collect(self) -> Iterable[Metric]:
        return self._families(self.rows)

    def _families(self, rows: Sequence[CampaignRow]) -> Iterator[Metric]:
        comments = CounterMetricFamily(
            "kolot_comments",
            "Comments per campaign by status (submitted, published, rejected, review, hidden).",
            labels=["campaign_id", "status"],
        )
        pending_ = GaugeMetricFamily(
            "kolot_comments_pending",
            "Comments awaiting a final decision: submitted - published - rejected, floor 0.",
            labels=["campaign_id"],
        )
        visits = CounterMetricFamily(
            "kolot_visits",
            "Visits per campaign by attribution source (top sources, the rest as 'other').",
            labels=["campaign_id", "source"],
        )
        participants = CounterMetricFamily(
            "kolot_participants",
            "Participants registered per campaign ('_': none) by source (top sources, 'other').",
            labels=["campaign_id", "source"],
        )
        responses = CounterMetricFamily(
            "kolot_responses", "Survey responses per campaign.", labels=["campaign_id"]
        )
        votes = CounterMetricFamily(
            "kolot_votes", "Votes cast per campaign.", labels=["campaign_id"]
        )
        flags = CounterMetricFamily(
            "kolot_flags", "Comments flagged by participants, per campaign.", labels=["campaign_id"]
        )
        events = CounterMetricFamily(
            "kolot_domain_events",
            "Domain events counted per campaign and type.",
            labels=["campaign_id", "type"],
        )
        for row in rows:
            cid = row.campaign_id
            for status, n in row.comments.items():
                comments.add_metric([cid, status], n)
            pending_.add_metric([cid], row.pending)
            for source, n in row.visits.items():
                visits.add_metric([cid, source], n)
            for source, n in row.participants.items():
                participants.add_metric([cid, source], n)
            responses.add_metric([cid], row.responses)
            votes.add_metric([cid], row.votes)
            flags.add_metric([cid], row.flags)
            for event_type, n in row.events.items():
                events.add_metric([cid, event_type], n)
        yield from (comments, pending_, visits, participants, responses, votes, flags, events)
        age = GaugeMetricFamily(
            "kolot_metrics_snapshot_timestamp_seconds",
            "When the counters exposed here were last read from the store (Unix time).",
        )
        if self.refreshed_at is not None:
            age.add_metric([], self.refreshed_at)
        yield age
