"""The "what we heard" page: self-contained, right-to-left where the language asks, safe."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from kolot.metrics.models import CampaignCounters
from kolot.metrics.report import render_html
from kolot.metrics.schemas import CampaignInfo, Outcome, Report, TopCluster
from kolot.metrics.stats import comment_stats, moderation_stats, participation, representativeness

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def report(language: str = "he", **overrides: object) -> Report:
    counters = CampaignCounters.model_validate(
        {
            "_id": "c1",
            "comments": {"submitted": 5, "published": 3},
            "status": {"published": 3, "rejected": 2},
            "decisions": {"automatic": {"approve": 3, "reject": 2}},
            "reasons": {"abuse": 2},
            "visits": {"facebook": 10},
            "participants": 4,
            "profile": {"region": {"north": 1, "center": 3}},
        }
    )
    fields: dict[str, object] = {
        "campaign_id": "c1",
        "campaign": CampaignInfo(
            status="closed",
            title={"he": "תחבורה ציבורית", "en": "Public transport", "ar": None},
            default_language="he",
            opens_at=None,
            closes_at=None,
        ),
        "language": language,
        "direction": "rtl" if language in ("he", "ar") else "ltr",
        "totals": participation(counters),
        "comments": comment_stats(counters),
        "top_clusters": [
            TopCluster(cluster_id="cl", size=40, text="<script>alert(1)</script>", language="he")
        ],
        "moderation": moderation_stats(counters, None, now=NOW),
        "funnel": [],
        "representativeness": representativeness(
            counters.profile, {"region": {"north": 0.5, "center": 0.5}}
        ),
        "timeline": [],
        "outcome": Outcome(
            summary={"he": "שמענו", "en": "We heard", "ar": None},
            decisions=[{"he": "עוד קווים", "en": "More lines", "ar": None}],
            url="javascript:alert(1)",
            published_at=None,
        ),
        "generated_at": NOW,
    }
    fields.update(overrides)
    return Report.model_validate(fields)


def test_a_hebrew_report_is_right_to_left_in_hebrew() -> None:
    html = render_html(report("he"))

    assert '<html lang="he" dir="rtl">' in html
    assert "מה שמענו" in html
    assert "תחבורה ציבורית" in html
    assert "עוד קווים" in html


def test_an_english_report_is_left_to_right_in_english() -> None:
    html = render_html(report("en"))

    assert '<html lang="en" dir="ltr">' in html
    assert "What we heard" in html
    assert "Public transport" in html
    assert "More lines" in html


def test_an_arabic_report_is_right_to_left_and_falls_back_to_another_title() -> None:
    html = render_html(report("ar"))

    assert '<html lang="ar" dir="rtl">' in html
    assert "ماذا سمعنا" in html
    assert "תחבורה ציבורית" in html  # no Arabic title: the first one given


def test_charts_are_inline_svg_and_nothing_remote_is_fetched_or_run() -> None:
    html = render_html(report("he"))

    assert html.count("<svg") >= 2
    assert "<script" not in html  # the cluster's text is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript' not in html  # only web links are linked
    assert "src=" not in html
    # the service's own stylesheet only (a strict policy forbids inline styles), nothing remote
    links = re.findall(r'<link [^>]*href="([^"]*)"', html)
    assert [re.sub(r"/static/[0-9a-f]{12}/", "/static/V/", link) for link in links] == [
        "/static/V/icon.svg",
        "/static/V/report.css",
    ]


def test_an_empty_report_still_renders() -> None:
    empty = report(
        "en",
        campaign=None,
        top_clusters=[],
        outcome=None,
        representativeness=representativeness({}, {}),
    )
    html = render_html(empty)
    assert "<h1>What we heard</h1>" in html
    assert "has not published its decision yet" in html
