"""Domain metrics on /metrics: valid Prometheus text, bounded label sets, no I/O in collect()."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kolot.metrics.exposition import OTHER, CountersCollector, bound_labels
from kolot.metrics.models import CampaignCounters


def samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Parse the exposition as Prometheus would; fails on any invalid line."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def counters(campaign_id: str = "c1", **fields: object) -> CampaignCounters:
    return CampaignCounters.model_validate({"_id": campaign_id, **fields})


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


def test_nothing_is_exposed_before_the_first_snapshot_and_the_output_is_valid() -> None:
    registry = CollectorRegistry()
    registry.register(CountersCollector(limit=50))

    assert samples(registry) == {}


def test_the_snapshot_is_exposed_as_counters_per_campaign() -> None:
    registry = CollectorRegistry()
    collector = CountersCollector(limit=50)
    registry.register(collector)

    collector.update(
        [
            counters(
                "c1",
                comments={"submitted": 3, "published": 1, "rejected": 1},
                visits={"facebook": 7},
                participants={"facebook": 2},
                votes=4,
                events={"comment_submitted": 3},
            ),
            counters("_", participants={"direct": 9}),
        ],
        at=1_700_000_000.0,
    )
    exposed = samples(registry)

    def value(name: str, **labels: str) -> float:
        return exposed[(name, frozenset(labels.items()))]

    assert value("kolot_comments_total", campaign_id="c1", status="submitted") == 3
    assert value("kolot_comments_total", campaign_id="c1", status="rejected") == 1
    assert value("kolot_comments_total", campaign_id="c1", status="review") == 0
    assert value("kolot_comments_pending", campaign_id="c1") == 1
    assert value("kolot_visits_total", campaign_id="c1", source="facebook") == 7
    assert value("kolot_participants_total", campaign_id="c1", source="facebook") == 2
    assert value("kolot_participants_total", campaign_id="_", source="direct") == 9
    assert value("kolot_votes_total", campaign_id="c1") == 4
    assert value("kolot_domain_events_total", campaign_id="c1", type="comment_submitted") == 3
    assert value("kolot_metrics_snapshot_timestamp_seconds") == 1_700_000_000.0


def test_label_values_that_need_escaping_keep_the_exposition_valid() -> None:
    registry = CollectorRegistry()
    collector = CountersCollector(limit=50)
    registry.register(collector)
    # campaign ids are bounded strings but not restricted to a charset
    awkward = 'c"1\\\n{x="y"}'

    collector.update([counters(awkward, comments={"submitted": 1})])

    assert (
        samples(registry)[
            (
                "kolot_comments_total",
                frozenset({"campaign_id": awkward, "status": "submitted"}.items()),
            )
        ]
        == 1
    )


def test_sources_per_campaign_are_bounded_in_the_exposition() -> None:
    registry = CollectorRegistry()
    collector = CountersCollector(limit=3)
    registry.register(collector)

    collector.update(
        [
            counters("c1", visits={f"tag{i}": 10 + i for i in range(40)}),
            counters("c2", visits={"a": 1}),
        ]
    )
    visit_series = {
        dict(labels)["source"]: v
        for (name, labels), v in samples(registry).items()
        if name == "kolot_visits_total" and dict(labels)["campaign_id"] == "c1"
    }

    assert set(visit_series) == {"tag39", "tag38", "tag37", OTHER}
    assert sum(visit_series.values()) == sum(10 + i for i in range(40))


def test_a_source_keeps_its_label_across_snapshots() -> None:
    collector = CountersCollector(limit=1)
    collector.update([counters("c1", visits={"a": 2, "b": 1})])
    collector.update([counters("c1", visits={"a": 2, "b": 9})])

    assert collector.rows[0].visits == {"a": 2, OTHER: 9}
