"""Domain metrics on /metrics: valid Prometheus text, conventional names, bounded label sets."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kolot.metrics.exposition import (
    OTHER,
    CountersCollector,
    Snapshot,
    bound_labels,
    labelled_campaigns,
)
from kolot.metrics.models import CampaignCounters, CampaignState, DisseminationState

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def exposition(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def samples(registry: CollectorRegistry) -> Samples:
    """Parse the exposition as Prometheus would; fails on any invalid line."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition(registry))
        for sample in family.samples
    }


def counters(campaign_id: str = "c1", **fields: Any) -> CampaignCounters:
    return CampaignCounters.model_validate({"_id": campaign_id, **fields})


def campaign(status: str, *, ended_days_ago: float | None = None, **snapshot: Any) -> CampaignState:
    ended = None
    if ended_days_ago is not None:
        ended = (NOW - timedelta(days=ended_days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return CampaignState(snapshot={"status": status, **snapshot}, snapshot_key="k", ended_at=ended)


def snapshot(
    rows: list[CampaignCounters],
    campaigns: dict[str, CampaignState] | None = None,
    **kw: Any,
) -> Snapshot:
    return Snapshot(
        counters=rows,
        campaigns=campaigns
        if campaigns is not None
        else {c.campaign_id: campaign("open") for c in rows},
        disseminations=kw.get("disseminations", []),
        queues=kw.get("queues", {}),
        now=NOW,
    )


def collector_with(snap: Snapshot, **kw: Any) -> tuple[CollectorRegistry, CountersCollector]:
    registry = CollectorRegistry()
    collector = CountersCollector(max_sources=kw.pop("max_sources", 50), clock=lambda: NOW, **kw)
    registry.register(collector)
    collector.update(snap, at=1_700_000_000.0)
    return registry, collector


def value(exposed: Samples, name: str, **labels: str) -> float:
    return exposed[(name, frozenset(labels.items()))]


# ---- bound_labels ---------------------------------------------------------------------------


def test_labels_within_the_limit_are_kept_as_they_are() -> None:
    assert bound_labels({"facebook": 3, "sms": 1}, limit=5) == {"facebook": 3, "sms": 1}


def test_beyond_the_limit_the_smallest_sources_become_other_and_the_total_is_kept() -> None:
    counts = {f"s{i:03d}": i for i in range(1, 121)}

    bounded = bound_labels(counts, limit=50)

    assert len(bounded) == 51
    assert set(bounded) - {OTHER} == {f"s{i:03d}" for i in range(71, 121)}
    assert bounded[OTHER] == sum(range(1, 71))
    assert sum(bounded.values()) == sum(counts.values())


def test_sources_that_already_have_a_label_keep_it_so_other_never_shrinks() -> None:
    first = bound_labels({"a": 5, "b": 4, "c": 1}, limit=2)
    assert first == {"a": 5, "b": 4, OTHER: 1}

    # "c" overtakes "b", but "b" keeps its series: moving it into "other" would make both
    # counters go down, which Prometheus reads as a reset
    later = bound_labels({"a": 5, "b": 4, "c": 50}, limit=2, keep=set(first) - {OTHER})
    assert later == {"a": 5, "b": 4, OTHER: 50}


def test_a_source_named_other_is_counted_in_other() -> None:
    assert bound_labels({"other": 2, "a": 1}, limit=1) == {"a": 1, OTHER: 2}
    assert bound_labels({"other": 2, "a": 1, "b": 7}, limit=1) == {"b": 7, OTHER: 3}


# ---- campaign labels ------------------------------------------------------------------------


def test_open_then_recently_closed_campaigns_get_labels_up_to_the_cap() -> None:
    campaigns = {
        "open-b": campaign("open"),
        "open-a": campaign("open"),
        "closed-yesterday": campaign("closed", ended_days_ago=1),
        "closed-last-week": campaign("archived", ended_days_ago=6),
        "closed-long-ago": campaign("closed", ended_days_ago=60),
        "draft": campaign("draft"),
    }
    chosen = labelled_campaigns(campaigns, now=NOW, recent=timedelta(days=14), limit=10)
    assert chosen == ["open-a", "open-b", "closed-yesterday", "closed-last-week"]
    assert labelled_campaigns(campaigns, now=NOW, recent=timedelta(days=14), limit=3) == [
        "open-a",
        "open-b",
        "closed-yesterday",
    ]


def test_other_campaigns_are_summed_under_other_so_totals_stay_right() -> None:
    rows = [
        counters("live", comments={"submitted": 2}, votes=1),
        counters("old1", comments={"submitted": 5}, votes=3),
        counters("old2", comments={"submitted": 7}),
        counters("_", registered={"direct": 4}),
    ]
    campaigns = {
        "live": campaign("open"),
        "old1": campaign("closed", ended_days_ago=90),
        "old2": campaign("draft"),
    }
    registry, _ = collector_with(
        snapshot(rows, campaigns, queues={"old1": (3, "2026-11-23T10:00:00.000000Z")})
    )
    exposed = samples(registry)

    labels = {dict(k[1]).get("campaign_id") for k in exposed if k[0] == "kolot_votes_total"}
    assert labels == {"live", OTHER, "_"}
    assert value(exposed, "kolot_comments_total", campaign_id=OTHER, status="submitted") == 12
    assert value(exposed, "kolot_votes_total", campaign_id=OTHER) == 3
    assert value(exposed, "kolot_registrations_total", campaign_id="_", source="direct") == 4
    assert value(exposed, "kolot_moderation_queue_depth", campaign_id=OTHER) == 3
    assert value(exposed, "kolot_moderation_queue_oldest_age_seconds", campaign_id=OTHER) == 7200


# ---- the exposition -------------------------------------------------------------------------


def full_snapshot() -> Snapshot:
    row = counters(
        "c1",
        comments={"submitted": 3, "published": 1, "rejected": 1},
        status={"pending": 1, "held": 1, "published": 1},
        channels={"web": 2, "sms": 1},
        circles={"public": 3},
        languages={"he": 2},
        decisions={"automatic": {"approve": 1, "review": 1}, "human": {"reject": 1}},
        latency={
            "automatic": {"1": 1, "sum": 0.2, "count": 1},
            "human": {"3600": 1, "sum": 1800.0, "count": 1},
        },
        visits={"facebook": 7},
        invited={"sms": 20},
        clicked={"sms": 5},
        took_part={"facebook": 2},
        registered={"facebook": 2},
        profile={"region": {"north": 40, "south": 2}},
        votes=4,
        appeals={"filed": 1},
        clusters={"count": 1, "comments": 4},
        largest_cluster=4,
        notifications={"sms": {"sent": 2, "failed": 1}},
        webhooks={"delivered": 3},
        webhook_latency={"0_1": 3, "sum": 0.21, "count": 3},
        alerts={"flag_surge": 1},
        events={"kolot_moderation_alert": 1, "kolot_comment_submitted": 3},
    )
    campaigns = {"c1": campaign("open", targets={"region": {"north": 0.5, "south": 0.5}})}
    return snapshot(
        [row],
        campaigns,
        disseminations=[
            DisseminationState("c1", "facebook", "paid_social", "600.0", "ILS", 0, "k")
        ],
        queues={"c1": (1, "2026-11-23T11:00:00.000000Z")},
    )


def test_every_figure_is_exposed_with_conventional_names_and_units() -> None:
    registry, _ = collector_with(full_snapshot())
    exposed = samples(registry)

    assert value(exposed, "kolot_comments_total", campaign_id="c1", status="submitted") == 3
    assert value(exposed, "kolot_comments_total", campaign_id="c1", status="review") == 0
    assert value(exposed, "kolot_comments_in_status", campaign_id="c1", status="held") == 1
    assert value(exposed, "kolot_comments_pending", campaign_id="c1") == 2
    assert value(exposed, "kolot_comments_by_channel_total", campaign_id="c1", channel="sms") == 1
    assert (
        value(
            exposed,
            "kolot_moderation_decisions_total",
            campaign_id="c1",
            mode="human",
            decision="reject",
        )
        == 1
    )
    assert value(exposed, "kolot_moderation_queue_depth", campaign_id="c1") == 1
    assert value(exposed, "kolot_moderation_queue_oldest_age_seconds", campaign_id="c1") == 3600
    assert value(exposed, "kolot_visits_total", campaign_id="c1", source="facebook") == 7
    assert value(exposed, "kolot_invitations_sent_total", campaign_id="c1", source="sms") == 20
    assert value(exposed, "kolot_link_clicks_total", campaign_id="c1", source="sms") == 5
    assert value(exposed, "kolot_participants_total", campaign_id="c1", source="facebook") == 2
    assert value(exposed, "kolot_votes_total", campaign_id="c1") == 4
    assert value(exposed, "kolot_appeals_total", campaign_id="c1", outcome="filed") == 1
    assert value(exposed, "kolot_form_letter_comments", campaign_id="c1") == 4
    assert (
        value(
            exposed,
            "kolot_dissemination_spend",
            campaign_id="c1",
            source="facebook",
            currency="ILS",
        )
        == 600
    )
    # 40 north, 2 south against 50/50: D = ½(|0.952-0.5| + |0.048-0.5|)
    assert value(
        exposed,
        "kolot_representativeness_dissimilarity_ratio",
        campaign_id="c1",
        dimension="region",
    ) == pytest.approx(0.4524)
    assert (
        value(
            exposed,
            "kolot_representativeness_underrepresented_groups",
            campaign_id="c1",
            dimension="region",
        )
        == 1
    )
    # event types as the catalogue (and the alert rules) name them
    assert (
        value(exposed, "kolot_domain_events_total", campaign_id="c1", type="kolot.moderation.alert")
        == 1
    )
    assert value(exposed, "kolot_moderation_latency_seconds_count", mode="human") == 1
    assert value(exposed, "kolot_moderation_latency_seconds_bucket", mode="human", le="900") == 0
    assert value(exposed, "kolot_moderation_latency_seconds_bucket", mode="human", le="3600") == 1
    assert value(exposed, "kolot_moderation_latency_seconds_sum", mode="human") == 1800
    assert value(exposed, "kolot_webhook_delivery_seconds_bucket", le="0.1") == 3
    assert value(exposed, "kolot_notifications_total", channel="sms", outcome="failed") == 1
    assert value(exposed, "kolot_webhook_deliveries_total", outcome="delivered") == 3
    assert value(exposed, "kolot_metrics_snapshot_timestamp_seconds") == 1_700_000_000.0


def test_names_follow_the_prometheus_conventions() -> None:
    registry, _ = collector_with(full_snapshot())
    families = list(text_string_to_metric_families(exposition(registry)))

    assert families
    for family in families:
        assert family.name.startswith("kolot_"), family.name
        assert family.documentation, family.name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
            assert {s.name.removeprefix(family.name) for s in family.samples} == {
                "_bucket",
                "_count",
                "_sum",
            }
        if family.type == "gauge":
            assert not family.name.endswith("_total"), family.name
        # units in base units only
        assert not any(u in family.name for u in ("_ms", "_milliseconds", "_minutes")), family.name


def test_promtool_finds_nothing_to_complain_about() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed")
    registry, _ = collector_with(full_snapshot())
    checked = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition(registry),
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_nothing_is_exposed_before_the_first_snapshot_and_the_output_is_valid() -> None:
    registry = CollectorRegistry()
    registry.register(CountersCollector(max_sources=50))

    assert samples(registry) == {}


def test_label_values_that_need_escaping_keep_the_exposition_valid() -> None:
    # campaign ids are bounded strings but not restricted to a charset
    awkward = 'c"1\\\n{x="y"}'
    registry, _ = collector_with(snapshot([counters(awkward, comments={"submitted": 1})]))

    assert (
        value(samples(registry), "kolot_comments_total", campaign_id=awkward, status="submitted")
        == 1
    )


def test_sources_per_campaign_are_bounded_in_the_exposition() -> None:
    rows = [
        counters("c1", visits={f"tag{i}": 10 + i for i in range(40)}),
        counters("c2", visits={"a": 1}),
    ]
    registry, _ = collector_with(snapshot(rows), max_sources=3)
    visit_series = {
        dict(labels)["source"]: v
        for (name, labels), v in samples(registry).items()
        if name == "kolot_visits_total" and dict(labels)["campaign_id"] == "c1"
    }

    assert set(visit_series) == {"tag39", "tag38", "tag37", OTHER}
    assert sum(visit_series.values()) == sum(10 + i for i in range(40))


def test_a_source_keeps_its_label_across_snapshots() -> None:
    collector = CountersCollector(max_sources=1)
    collector.update(snapshot([counters("c1", visits={"a": 2, "b": 1})]))
    collector.update(snapshot([counters("c1", visits={"a": 2, "b": 9})]))

    assert collector.rows[0].visits == {"a": 2, OTHER: 9}
