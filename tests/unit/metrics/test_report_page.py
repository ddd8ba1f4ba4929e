"""The report page: every section an analyst reads, in their language and direction, accessible."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from kolot.metrics.charts import Chart, bar_chart, date_ticks, line_chart, nice_top
from kolot.metrics.labels import CODES, LABELS
from kolot.metrics.report import render_html, render_login
from kolot.metrics.schemas import Report

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
DAY0 = datetime(2026, 11, 20, tzinfo=UTC)
SECTIONS = (
    "totals",
    "funnel",
    "timeline",
    "channels",
    "representativeness",
    "clusters",
    "moderation",
    "outcome",
)


def step(source: str, **figures: Any) -> dict[str, Any]:
    base = {
        "source": source,
        "invited": 0,
        "clicked": 0,
        "visits": 0,
        "participants": 0,
        "click_rate_pct": None,
        "visit_rate_pct": None,
        "participation_rate_pct": None,
        "conversion": None,
        "spend": None,
        "cost_per_visit": None,
        "cost_per_response": None,
    }
    return {**base, **figures}


def latency(count: int, p50: float | None, p90: float | None) -> dict[str, Any]:
    return {
        "count": count,
        "mean_seconds": p50,
        "p50_seconds": p50,
        "p90_seconds": p90,
        "buckets": {},
    }


def group(name: str, n: int, observed: float, target: float, under: bool) -> dict[str, Any]:
    return {
        "group": name,
        "participants": n,
        "observed_share": observed,
        "target_share": target,
        "ratio": observed / target,
        "under_represented": under,
    }


def full_report(language: str = "he", **overrides: Any) -> Report:
    """A closed consultation with something in every section."""
    fields: dict[str, Any] = {
        "campaign_id": "c1",
        "campaign": {
            "status": "closed",
            "title": {"he": "תחבורה ציבורית <בגליל>", "en": "Public transport", "ar": None},
            "default_language": "he",
            "opens_at": DAY0,
            "closes_at": DAY0 + timedelta(days=3),
        },
        "language": language,
        "direction": "rtl" if language in ("he", "ar") else "ltr",
        "totals": {
            "visits": 5025,
            "visits_by_channel": {"web": 4000, "sms": 1025},
            "registered": 700,
            "participants": 624,
            "responses": 310,
            "votes": 1200,
            "flags": 17,
        },
        "comments": {
            "submitted": 480,
            "published": 400,
            "rejected": 30,
            "review": 90,
            "hidden": 5,
            "pending": 45,
            "held": 12,
            "by_status": {
                "pending": 33,
                "held": 12,
                "approved": 0,
                "clustered": 0,
                "published": 400,
                "rejected": 30,
                "hidden": 5,
            },
            "by_channel": {"web": 400, "sms": 60, "meeting": 20},
            "by_circle": {"public": 450, "experts": 30},
            "by_language": {"he": 300, "ar": 150, "en": 30},
        },
        "top_clusters": [
            {"cluster_id": "k1", "size": 40, "text": "<script>alert(1)</script>", "language": "he"}
        ],
        "moderation": {
            "decisions": {
                "automatic": {"approve": 350, "reject": 20, "review": 90},
                "human": {"approve": 50, "reject": 10, "review": 0},
            },
            "reasons": {"abuse": 18, "threat": 2, "rule-7": 10},
            "hidden_by": {"flags": 5},
            "queue": {
                "depth": 12,
                "oldest_since": NOW - timedelta(hours=3),
                "oldest_age_seconds": 10800,
            },
            "latency": {"automatic": latency(370, 0.4, 1.8), "human": latency(60, 1500, 7200)},
            "appeals": {"filed": 6, "upheld": 4, "overturned": 2},
        },
        "funnel": [
            step(
                "facebook",
                invited=0,
                clicked=0,
                visits=5025,
                participants=624,
                participation_rate_pct=12.42,
                conversion=0.1242,
                spend={"amount": 10000, "currency": "ILS"},
                cost_per_response={"amount": 16.03, "currency": "ILS"},
            ),
        ],
        "funnel_total": step(
            "total",
            invited=20000,
            clicked=6000,
            visits=5025,
            participants=624,
            click_rate_pct=30.0,
            visit_rate_pct=83.75,
            participation_rate_pct=12.42,
            conversion=0.1242,
            spend={"amount": 10000, "currency": "ILS"},
            cost_per_response={"amount": 16.03, "currency": "ILS"},
        ),
        "representativeness": {
            "min_sample": 30,
            "warn_below_ratio": 0.5,
            "dimensions": {
                "region": {
                    "declared": 600,
                    "undeclared": 24,
                    "dissimilarity": 0.3,
                    "sufficient": True,
                    "groups": [
                        group("north", 60, 0.1, 0.4, True),
                        group("center", 540, 0.9, 0.6, False),
                    ],
                }
            },
            "warnings": ["region north: 10.0% of participants against a target of 40.0%"],
        },
        "timeline": [
            {
                "start": DAY0 + timedelta(days=i),
                "visits": v,
                "submitted": s,
                "published": s - 5,
                "participants": p,
                "participants_cumulative": c,
                "responses": 0,
                "votes": 0,
            }
            for i, (v, s, p, c) in enumerate(
                [(2000, 100, 200, 200), (1500, 250, 300, 500), (1525, 130, 124, 624)]
            )
        ],
        "outcome": {
            "summary": {"he": "שמענו על הקווים", "en": "We heard about the lines", "ar": None},
            "decisions": [{"he": "עוד קווים בצפון", "en": "More lines in the north", "ar": None}],
            "url": "https://gov.example/decision",
            "published_at": NOW,
        },
        "generated_at": NOW,
    }
    fields.update(overrides)
    return Report.model_validate(fields)


class Outline(HTMLParser):
    """The parts of a page a test looks for: elements with ids, their attributes, the text."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, dict[str, str | None]] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.ids[str(attributes["id"])] = {"tag": tag, **attributes}

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def outline(html: str) -> Outline:
    parsed = Outline()
    parsed.feed(html)
    return parsed


def section(html: str, key: str) -> str:
    match = re.search(rf'<section id="{key}".*?</section>', html, re.S)
    assert match, f"no section {key}"
    return match.group(0)


@pytest.mark.parametrize(("language", "direction"), [("he", "rtl"), ("ar", "rtl"), ("en", "ltr")])
def test_every_section_is_there_in_the_page_language_and_direction(
    language: str, direction: str
) -> None:
    html = render_html(full_report(language))
    page = outline(html)

    assert f'<html lang="{language}" dir="{direction}">' in html
    for key in SECTIONS:
        assert page.ids[key]["tag"] == "section"
        heading = page.ids[f"{key}-h"]
        assert heading["tag"] == "h2"
    assert LABELS[language]["funnel"] in html
    assert LABELS[language]["moderation"] in html
    # the page's own words only: no label left in another language
    others = {lang for lang in LABELS if lang != language}
    for other in others:
        assert LABELS[other]["representativeness"] not in html


def test_the_funnel_shows_each_step_its_conversion_and_the_cost_per_response() -> None:
    funnel = section(render_html(full_report("en")), "funnel")

    for label, figure in [
        ("Invited", "20,000"),
        ("Followed a link", "6,000"),
        ("Visited", "5,025"),
        ("Took part", "624"),
    ]:
        assert re.search(rf'<th scope="row">{label}</th><td class="n">{figure}</td>', funnel)
    assert '<td class="n">30.0%</td>' in funnel  # clicked of invited
    assert '<td class="n">12.4%</td>' in funnel  # took part of visits
    assert "16.03 ILS" in funnel  # cost per response, total and per source
    assert "10,000.00 ILS" in funnel


def test_over_time_is_a_line_per_series_with_the_days_in_a_table() -> None:
    timeline = section(render_html(full_report("en")), "timeline")

    assert timeline.count("<polyline") == 3  # visits, comments, new participants
    assert timeline.count("<circle") == 9
    assert '<th scope="row">2026-11-21</th><td class="n">1,500</td><td class="n">250</td>' in (
        timeline
    )
    assert "most comments on 2026-11-21 (250)" in timeline


def test_channels_and_circles_name_their_channels_in_the_page_language() -> None:
    channels = section(render_html(full_report("he")), "channels")

    assert CODES["he"]["meeting"] in channels
    assert CODES["he"]["public"] in channels
    assert "experts" in channels  # a campaign's own circle: shown as it is
    assert '<td class="n">1,025</td>' in channels  # SMS visits


def test_representativeness_gives_the_index_the_targets_and_localised_warnings() -> None:
    html = render_html(full_report("he"))
    represented = section(html, "representativeness")

    assert "0.30" in represented  # dissimilarity index
    assert "הצהירו: 600; לא הצהירו: 24." in represented
    assert '<li class="warn">אזור, north: 10.0% מהמשתתפים לעומת יעד של 40.0%.</li>' in represented
    assert "region north" not in html  # the English warning of the JSON is not shown


def test_too_few_declarations_say_so_instead_of_warning() -> None:
    report = full_report("en")
    region = report.representativeness.dimensions["region"]
    thin = region.model_copy(update={"declared": 12, "sufficient": False})
    report = report.model_copy(
        update={
            "representativeness": report.representativeness.model_copy(
                update={"dimensions": {"region": thin}}
            )
        }
    )
    represented = section(render_html(report), "representativeness")
    assert "Fewer than 30 participants declared this" in represented


def test_moderation_is_transparent_about_outcomes_reasons_latency_and_appeals() -> None:
    moderation = section(render_html(full_report("en")), "moderation")

    assert (
        '<th scope="row">Automatically</th><td class="n">350</td><td class="n">20</td>'
        '<td class="n">90</td>'
    ) in moderation
    assert '<th scope="row">Insult or vulgar language</th><td class="n">18</td>' in moderation
    assert '<th scope="row">rule-7</th><td class="n">10</td>' in moderation
    # median and the 90th percentile of the time to a decision, by who decided
    assert (
        '<th scope="row">By a moderator</th><td class="n">60</td><td class="n">25.0 min</td>'
        '<td class="n">2.0 h</td>'
    ) in moderation
    assert '<th scope="row">Decision upheld</th><td class="n">4</td>' in moderation
    assert '<th scope="row">Decision overturned</th><td class="n">2</td>' in moderation
    assert "Waiting for a moderator: 12 (the oldest for 3.0 h)" in moderation


def test_the_outcome_says_what_was_heard_decided_and_when_it_was_published() -> None:
    outcome = section(render_html(full_report("he")), "outcome")

    assert "שמענו על הקווים" in outcome
    assert "<li>עוד קווים בצפון</li>" in outcome
    assert 'datetime="2026-11-23T12:00:00+00:00"' in outcome
    assert "פורסם ב־2026-11-23." in outcome
    assert 'href="https://gov.example/decision"' in outcome


def test_every_text_from_an_event_is_escaped() -> None:
    report = full_report(
        "en",
        campaign_id='c"1',
        outcome={
            "summary": {"en": "<img src=x onerror=alert(1)>"},
            "decisions": [{"en": "<b>bold</b>"}],
            "url": "javascript:alert(1)",
            "published_at": None,
        },
    )
    report.campaign.title["en"] = "<i>Public</i> & transport"  # type: ignore[union-attr]
    html = render_html(report)

    assert "<script" not in html.split("</main>")[0]  # the cluster's text is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<title>What we heard: &lt;i&gt;Public&lt;/i&gt; &amp; transport</title>" in html
    assert 'href="javascript' not in html  # only web links are linked
    assert "onerror=" not in html.replace("&lt;img src=x onerror=alert(1)&gt;", "")


def test_every_chart_is_an_image_with_a_name_a_description_and_its_data_in_a_table() -> None:
    html = render_html(full_report("ar"))
    charts = re.findall(r"<figure>(.*?)</figure>", html, re.S)

    assert len(charts) == 6  # funnel, time, channels, circles, a dimension, statuses
    for chart in charts:
        svg = re.search(r'<svg [^>]*role="img" aria-label="([^"]+)"[^>]*>', chart)
        assert svg, chart[:200]
        assert svg.group(1).strip()
        assert re.search(
            r"<title id=\"[^\"]+\">[^<]+</title><desc id=\"[^\"]+\">[^<]+</desc>", chart
        )
        assert "<details><summary>الأرقام في جدول</summary>" in chart
        assert "<table><caption>" in chart
        assert '<th scope="col"' in chart


def test_the_page_loads_only_its_own_stylesheet_and_runs_no_script() -> None:
    html = render_html(full_report("he"))
    page = outline(html)

    assert [tag for tag, _ in page.tags if tag == "script"] == []
    sheets = [a["href"] for tag, a in page.tags if tag == "link" and a.get("rel") == "stylesheet"]
    assert len(sheets) == 1
    assert re.fullmatch(r"/static/[0-9a-f]{12}/report\.css", str(sheets[0]))
    assert not [a for tag, a in page.tags if tag == "img"]
    assert "style=" not in html  # the policy allows no inline style


def test_a_skip_link_a_language_switch_and_a_hidden_sign_out_for_the_script() -> None:
    html = render_html(full_report("ar"))
    page = outline(html)

    assert '<a class="skip" href="#main">' in html
    assert page.ids["main"]["tag"] == "main"
    links = {a["hreflang"]: a for tag, a in page.tags if tag == "a" and a.get("hreflang")}
    assert {code: a["href"] for code, a in links.items()} == {
        "he": "?lang=he",
        "ar": "?lang=ar",
        "en": "?lang=en",
    }
    assert links["ar"].get("aria-current") == "page"
    assert "hidden" in page.ids["sign-out"]


def test_an_empty_report_still_renders_every_section() -> None:
    empty = full_report(
        "en",
        campaign=None,
        top_clusters=[],
        outcome=None,
        funnel=[],
        funnel_total=None,
        timeline=[],
        representativeness={
            "min_sample": 30,
            "warn_below_ratio": 0.5,
            "dimensions": {},
            "warnings": [],
        },
    )
    html = render_html(empty)

    for key in SECTIONS:
        assert f'<section id="{key}"' in html
    assert "The ministry has not published its decision yet." in html
    assert "<h1>What we heard</h1>" in html


@pytest.mark.parametrize(("language", "direction"), [("he", "rtl"), ("ar", "rtl"), ("en", "ltr")])
def test_the_sign_in_page_asks_for_a_token_with_a_label_and_a_live_status(
    language: str, direction: str
) -> None:
    html = render_login(campaign_id="c<1>", language=language)
    page = outline(html)

    assert f'<html lang="{language}" dir="{direction}">' in html
    form = page.ids["login"]
    assert form["tag"] == "form"
    assert form["method"] == "post"
    assert form["data-msg-401"] == LABELS[language]["msg_401"]
    assert page.ids["token"]["tag"] == "textarea"
    assert page.ids["token"]["name"] == "token"
    assert f'<label for="token">{LABELS[language]["token"]}</label>' in html
    assert page.ids["login-status"]["aria-live"] == "polite"
    assert "c&lt;1&gt;" in html
    scripts = [a["src"] for tag, a in page.tags if tag == "script"]
    assert len(scripts) == 1
    assert re.fullmatch(r"/static/[0-9a-f]{12}/report\.js", str(scripts[0]))


def test_the_sign_in_page_says_why_a_posted_token_was_refused() -> None:
    page = outline(render_login(campaign_id="c1", language="en", message="403"))

    assert "an analyst token is needed" in "".join(page.text)


def test_bar_charts_read_from_the_right_in_a_right_to_left_page() -> None:
    rows = [("צפון", (10.0,)), ("מרכז", (30.0,))]
    ltr = bar_chart(Chart(id="a", title="t", desc="d", rtl=False), rows, ["n"])
    rtl = bar_chart(Chart(id="a", title="t", desc="d", rtl=True), rows, ["n"])

    def bars(svg: str) -> list[tuple[float, float]]:
        return [
            (float(x), float(w))
            for x, w in re.findall(r'<rect x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)"', svg)
        ]

    # left to right: every bar starts at the label column's edge; right to left: ends there
    assert len({x for x, _ in bars(ltr)}) == 1
    assert len({round(x + w, 1) for x, w in bars(rtl)}) == 1
    assert bars(rtl)[1][0] < bars(rtl)[0][0]  # the larger value reaches further left
    assert 'direction="rtl"' in rtl
    assert 'direction="rtl"' not in ltr
    assert 'direction="ltr"' in ltr


def test_time_runs_from_the_right_in_a_right_to_left_page() -> None:
    points = [("20.11", (1.0,)), ("21.11", (2.0,)), ("22.11", (3.0,))]

    def first_and_last(svg: str) -> tuple[float, float]:
        xs = [float(x) for x in re.findall(r'<circle cx="([0-9.]+)"', svg)]
        return xs[0], xs[-1]

    first, last = first_and_last(line_chart(Chart("a", "t", "d", rtl=False), points, ["n"]))
    assert first < last
    first, last = first_and_last(line_chart(Chart("a", "t", "d", rtl=True), points, ["n"]))
    assert first > last


def test_axes_end_on_round_numbers_and_long_series_get_a_few_dates() -> None:
    assert [nice_top(v) for v in (0, 3, 7, 12, 26, 480, 5025)] == [1, 5, 10, 20, 50, 500, 10000]
    assert date_ticks(3) == [0, 1, 2]
    assert date_ticks(43) == [0, 10, 21, 32, 42]
