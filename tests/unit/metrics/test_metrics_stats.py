"""What the counters answer: funnel rates and costs, representativeness, latency, time series."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kolot.metrics.counting import LATENCY_BUCKETS
from kolot.metrics.models import CampaignCounters, DisseminationState
from kolot.metrics.stats import (
    MIN_SAMPLE,
    TooManyPoints,
    comment_stats,
    funnel,
    latency_stats,
    percent,
    quantile,
    representativeness,
    timeseries,
)


def counters(**fields: Any) -> CampaignCounters:
    return CampaignCounters.model_validate({"_id": "c1", **fields})


def dissemination(
    source: str, amount: str | None, currency: str = "ILS", did: str = "d1"
) -> DisseminationState:
    return DisseminationState(
        campaign_id="c1",
        source=source,
        channel="paid_social",
        amount=amount,
        currency=currency if amount else None,
        recipients=0,
        key=did,
    )


def test_the_issue_check_reads_12_42_percent_and_16_03_ils_per_response() -> None:
    steps, total = funnel(
        counters(visits={"facebook": 5025}, took_part={"facebook": 624}),
        [dissemination("facebook", "10000")],
    )

    (facebook,) = steps
    assert facebook.participation_rate_pct == 12.42
    assert facebook.conversion == 0.1242
    assert facebook.cost_per_response is not None
    assert (facebook.cost_per_response.amount, facebook.cost_per_response.currency) == (
        16.03,
        "ILS",
    )
    assert facebook.cost_per_visit is not None
    assert facebook.cost_per_visit.amount == 1.99
    assert facebook.spend is not None
    assert facebook.spend.amount == 10000.0
    assert total.participation_rate_pct == 12.42
    assert total.cost_per_response == facebook.cost_per_response


def test_the_funnel_runs_invited_clicked_visited_took_part_per_source() -> None:
    steps, total = funnel(
        counters(
            invited={"sms": 200},
            clicked={"sms": 50},
            visits={"sms": 40, "direct": 7},
            took_part={"sms": 10, "direct": 7},
        ),
        [dissemination("sms", "120.50"), dissemination("sms", "79.50", did="d2")],
    )

    by_source = {s.source: s for s in steps}
    sms = by_source["sms"]
    assert (sms.click_rate_pct, sms.visit_rate_pct, sms.participation_rate_pct) == (
        25.0,
        80.0,
        25.0,
    )
    assert sms.spend is not None
    assert sms.spend.amount == 200.0
    assert sms.cost_per_response is not None
    assert sms.cost_per_response.amount == 20.0
    direct = by_source["direct"]
    assert direct.click_rate_pct is None
    assert direct.spend is None
    assert direct.cost_per_response is None
    assert [s.source for s in steps] == ["sms", "direct"]  # most participants first
    assert (total.visits, total.participants) == (47, 17)
    # part of the participants came without spend: the total still prices what was spent
    assert total.spend is not None
    assert total.spend.amount == 200.0


def test_sources_paid_in_several_currencies_have_no_single_cost() -> None:
    steps, total = funnel(
        counters(visits={"x": 10}, took_part={"x": 2}),
        [dissemination("x", "100", "ILS"), dissemination("x", "30", "EUR", did="d2")],
    )
    assert steps[0].spend is None
    assert steps[0].cost_per_response is None
    assert total.spend is None


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(624, 5025, 12.42), (1, 8, 12.5), (1, 3, 33.33), (2, 3, 66.67), (1, 0, None), (0, 5, 0.0)],
)
def test_percentages_round_half_up_to_two_decimals(
    part: int, whole: int, expected: float | None
) -> None:
    assert percent(part, whole) == expected


def test_the_dissimilarity_index_is_half_the_total_absolute_gap() -> None:
    report = representativeness(
        {"region": {"north": 20, "center": 70, "south": 10, "undeclared": 50}},
        {"region": {"north": 0.3, "center": 0.5, "south": 0.2}},
    )

    region = report.dimensions["region"]
    assert (region.declared, region.undeclared) == (100, 50)
    # ½ (|0.2-0.3| + |0.7-0.5| + |0.1-0.2|) = 0.2
    assert region.dissimilarity == 0.2
    assert region.sufficient
    shares = {g.group: (g.observed_share, g.target_share, g.ratio) for g in region.groups}
    assert shares["south"] == (0.1, 0.2, 0.5)
    # 0.1 is exactly half of 0.2: not *below* half
    assert report.warnings == []


def test_a_group_below_half_its_target_is_warned_about() -> None:
    report = representativeness(
        {"age_band": {"18_24": 4, "25_34": 46, "65_plus": 50}},
        # targets need not sum to 1: they are normalised
        {"age_band": {"18_24": 20, "25_34": 40, "65_plus": 40}},
    )

    groups = {g.group: g for g in report.dimensions["age_band"].groups}
    assert groups["18_24"].under_represented
    assert not groups["25_34"].under_represented
    assert report.warnings == ["age_band 18_24: 4.0% of participants against a target of 20.0%"]


def test_too_few_declarations_show_shares_without_warnings() -> None:
    report = representativeness(
        {"region": {"north": MIN_SAMPLE - 1}}, {"region": {"north": 0.5, "south": 0.5}}
    )
    region = report.dimensions["region"]
    assert not region.sufficient
    assert region.dissimilarity == 0.5
    assert report.warnings == []


def test_a_declared_group_without_a_target_counts_against_the_mix() -> None:
    report = representativeness({"sector": {"health": 50, "tech": 50}}, {"sector": {"health": 1.0}})
    assert report.dimensions["sector"].dissimilarity == 0.5
    assert {g.group: g.ratio for g in report.dimensions["sector"].groups} == {
        "health": 0.5,
        "tech": None,
    }


def test_dimensions_without_targets_or_declarations_are_left_out() -> None:
    assert representativeness({}, {}).dimensions == {}
    only_declared = representativeness({"region": {"north": 3}}, {})
    assert only_declared.dimensions["region"].dissimilarity is None


def test_latency_quantiles_interpolate_within_buckets_like_promql() -> None:
    # 10 decisions in (0, 1], 10 in (300, 900]
    stats = latency_stats({"1": 10, "900": 10, "count": 20, "sum": 6010.0}, LATENCY_BUCKETS)

    assert stats.count == 20
    assert stats.mean_seconds == 300.5
    assert stats.p50_seconds == 1.0
    assert stats.p90_seconds == 780.0  # 8 of the 10 in (300, 900]: 300 + 600 * 0.8
    assert stats.buckets["+Inf"] == 20
    assert stats.buckets["900"] == 20
    assert stats.buckets["60"] == 10
    assert quantile(0.5, [(1.0, 0), (float("inf"), 0)]) is None


def test_comment_figures_never_show_a_negative_status() -> None:
    stats = comment_stats(
        counters(comments={"submitted": 3}, status={"pending": -1, "held": 2, "published": 1})
    )
    assert stats.by_status["pending"] == 0
    assert (stats.pending, stats.held) == (2, 2)


def test_timeseries_align_steps_on_the_epoch_and_fill_gaps() -> None:
    hours = [
        {"hour": "20261102T08", "visits": 3, "participants": 1},
        {"hour": "20261102T09", "visits": 1},
        {"hour": "20261102T14", "visits": 2, "participants": 2},
    ]

    six_hourly = timeseries(hours, step_seconds=6 * 3600)
    assert [(p.start.hour, p.visits, p.participants_cumulative) for p in six_hourly] == [
        (6, 4, 1),
        (12, 2, 3),
    ]
    hourly = timeseries(hours, step_seconds=3600)
    assert len(hourly) == 7
    assert hourly[3].visits == 0
    window = timeseries(
        hours,
        step_seconds=3600,
        since=datetime(2026, 11, 2, 14, tzinfo=UTC),
        until=datetime(2026, 11, 2, 15, tzinfo=UTC),
    )
    # the cumulative count includes what came before the window
    assert [(p.visits, p.participants_cumulative) for p in window] == [(2, 3), (0, 3)]
    assert timeseries([], step_seconds=3600) == []


def test_a_series_too_long_is_refused_before_it_is_built() -> None:
    hours = [{"hour": "20261102T08", "visits": 3}]
    with pytest.raises(TooManyPoints):
        timeseries(
            hours, step_seconds=3600, since=datetime(1970, 1, 1, tzinfo=UTC), max_points=2000
        )
    assert len(timeseries(hours, step_seconds=3600, max_points=1)) == 1
