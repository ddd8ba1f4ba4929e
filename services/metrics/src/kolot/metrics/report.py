"""The "what we heard" report as an HTML page, and the page an analyst signs in to it from.

The report is rendered on the server: inline SVG charts (``charts.py``), one stylesheet of the
service's own, no script of its own, every text escaped. Hebrew and Arabic pages are right to
left, charts included. Each chart is an image with a name and a one-sentence description for
assistive technology, and its figures are in a table beside it (in a ``<details>``) that a
screen reader, a keyboard user or a printer can open.

The report needs an analyst token, which a browser cannot send by itself: a browser that asks
for the page without one gets the sign-in page (``render_login``), whose script keeps the token in
the tab and fetches the report with it (see ``static/report.js``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape

from kolot.common.assets import Bundle
from kolot.metrics.assets import assets
from kolot.metrics.charts import Chart, bar_chart, line_chart
from kolot.metrics.labels import LABELS, LANGUAGE_NAMES, LANGUAGES, code
from kolot.metrics.schemas import FunnelStep, LatencyStats, Report

RTL_LANGUAGES = frozenset({"he", "ar"})
LOGIN_MESSAGES = ("loading", "empty", "401", "403", "error")

Cell = str | int | float | None


def page_language(language: str | None) -> str:
    return language if language in LANGUAGES else "en"


def _num(value: float | int) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def _cell(value: Cell) -> str:
    if value is None:
        return '<td class="n">–</td>'
    if isinstance(value, int | float):
        return f'<td class="n">{_num(value)}</td>'
    return f"<td>{escape(value)}</td>"


def table(
    caption: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    numeric: Sequence[bool] | None = None,
) -> str:
    """A data table with a caption and column headers; the first cell of a row heads the row.

    Strings in ``numeric`` columns (percentages, durations) are aligned as numbers.
    """
    numeric = numeric or [i > 0 for i in range(len(header))]
    head = "".join(
        f'<th scope="col"{" class=n" if numeric[i] else ""}>{escape(h)}</th>'
        for i, h in enumerate(header)
    ).replace(" class=n", ' class="n"')
    body: list[str] = []
    for row in rows:
        cells = [f'<th scope="row">{escape(str(row[0]))}</th>']
        for i, value in enumerate(row[1:], start=1):
            if isinstance(value, str) and numeric[i]:
                cells.append(f'<td class="n">{escape(value)}</td>')
            else:
                cells.append(_cell(value))
        body.append("<tr>" + "".join(cells) + "</tr>")
    # a wide table scrolls on its own on a phone; focusable so a keyboard can scroll it too
    return (
        f'<div class="scroll" role="region" tabindex="0" aria-label="{escape(caption)}">'
        f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def figure(svg: str, data_table: str, t: dict[str, str]) -> str:
    return (
        f"<figure>{svg}<details><summary>{escape(t['data_table'])}</summary>"
        f"{data_table}</details></figure>"
    )


def _text_in(values: dict[str, str | None], lang: str) -> str:
    return values.get(lang) or next((v for v in values.values() if v), None) or ""


def _date(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d")


def _duration(seconds: float | None, t: dict[str, str]) -> str:
    if seconds is None:
        return "–"
    if seconds < 10:
        return f"{seconds:.1f} {t['unit_s']}"
    if seconds < 90:
        return f"{seconds:.0f} {t['unit_s']}"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} {t['unit_min']}"
    return f"{seconds / 3600:.1f} {t['unit_h']}"


def _document(*, lang: str, title: str, body: str, files: Bundle, nav: str = "") -> str:
    direction = "rtl" if lang in RTL_LANGUAGES else "ltr"
    t = LABELS[lang]
    return "\n".join(
        [
            "<!doctype html>",
            f'<html lang="{lang}" dir="{direction}">',
            '<head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="same-origin">',
            f"<title>{escape(title)}</title>",
            f'<link rel="icon" href="{files.url("icon.svg")}" type="image/svg+xml">',
            f'<link rel="stylesheet" href="{files.url("report.css")}">',
            "</head><body>",
            f'<a class="skip" href="#main">{escape(t["skip"])}</a>',
            nav,
            '<main id="main" tabindex="-1">',
            body,
            "</main>",
        ]
    )


def _language_nav(lang: str, t: dict[str, str], *, sign_out: bool) -> str:
    # a relative link keeps the campaign and the page; only the language changes
    links = "".join(
        f'<li><a href="?lang={code_}" lang="{code_}" hreflang="{code_}"'
        f"{' aria-current=page' if code_ == lang else ''}>{escape(name)}</a></li>"
        for code_, name in LANGUAGE_NAMES.items()
    ).replace(" aria-current=page", ' aria-current="page"')
    button = (
        f'<button type="button" id="sign-out" hidden>{escape(t["sign_out"])}</button>'
        if sign_out
        else ""
    )
    return (
        f'<header class="top"><nav class="bar" aria-label="{escape(t["language"])}">'
        f"<ul>{links}</ul>{button}</nav></header>"
    )


def render_login(
    *,
    campaign_id: str,
    language: str | None,
    message: str | None = None,
    files: Bundle | None = None,
) -> str:
    """The sign-in page a browser gets for a report it asked for without a token.

    ``message`` (one of ``LOGIN_MESSAGES``) is shown at once: a token posted without a script
    that was refused.
    """
    files = files or assets()
    lang = page_language(language)
    t = LABELS[lang]
    said = escape(t["msg_" + message]) if message in LOGIN_MESSAGES else ""
    messages = " ".join(f'data-msg-{key}="{escape(t["msg_" + key])}"' for key in LOGIN_MESSAGES)
    # Without a script the form posts the token (never a GET: a token must not land in a URL,
    # a history or a log) and the answer is the report itself.
    body = (
        f"<h1>{escape(t['login_title'])}</h1>"
        f'<p class="meta">{escape(t["report_of"])}: <bdi>{escape(campaign_id)}</bdi></p>'
        f"<p>{escape(t['login_intro'])}</p>"
        f'<form id="login" class="login" method="post" {messages}>'
        f'<label for="token">{escape(t["token"])}</label>'
        '<textarea id="token" name="token" rows="4" required autocomplete="off" '
        'autocapitalize="off" spellcheck="false" dir="ltr" aria-describedby="token-help">'
        "</textarea>"
        f'<p id="token-help" class="note">{escape(t["token_help"])}</p>'
        f'<button type="submit">{escape(t["open"])}</button>'
        f'<p id="login-status" class="status" role="status" aria-live="polite">{said}</p>'
        "</form>"
        f'<noscript><p class="note">{escape(t["noscript"])}</p></noscript>'
    )
    return (
        _document(
            lang=lang,
            title=f"{t['login_title']}",
            body=body,
            files=files,
            nav=_language_nav(lang, t, sign_out=False),
        )
        + f'\n<script src="{files.url("report.js")}"></script>\n</body></html>'
    )


def render_html(report: Report, *, files: Bundle | None = None) -> str:
    """The report page: every section, in the report's language and direction."""
    files = files or assets()
    lang = page_language(report.language)
    t = LABELS[lang]
    rtl = lang in RTL_LANGUAGES
    campaign = report.campaign
    name = report.campaign_id
    if campaign is not None:
        name = _text_in(campaign.title, lang) or report.campaign_id
    sections = [
        _heading(report, name, t, lang),
        _totals(report, t),
        _funnel(report, t, lang, rtl),
        _timeline(report, t, rtl),
        _channels(report, t, lang, rtl),
        _representativeness(report, t, lang, rtl),
        _clusters(report, t),
        _moderation(report, t, lang, rtl),
        _outcome(report, t, lang),
    ]
    generated = report.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        _document(
            lang=lang,
            title=f"{t['title']}: {name}",
            body="\n".join(sections),
            files=files,
            nav=_language_nav(lang, t, sign_out=True),
        )
        + f"\n<footer><p>{escape(t['generated'].format(time=generated))}</p></footer>"
        + "\n</body></html>"
    )


def _section(key: str, heading: str, content: str) -> str:
    return (
        f'<section id="{key}" aria-labelledby="{key}-h">'
        f'<h2 id="{key}-h">{escape(heading)}</h2>{content}</section>'
    )


def _none(t: dict[str, str]) -> str:
    return f'<p class="none">{escape(t["none"])}</p>'


def _heading(report: Report, name: str, t: dict[str, str], lang: str) -> str:
    meta: list[str] = []
    campaign = report.campaign
    if campaign is not None:
        if campaign.status:
            meta.append(f"{t['campaign_status']}: {code(lang, campaign.status)}")
        if campaign.opens_at:
            meta.append(f"{t['opens']}: {_date(campaign.opens_at)}")
        if campaign.closes_at:
            meta.append(f"{t['closes']}: {_date(campaign.closes_at)}")
    line = f'<p class="meta">{escape(" · ".join(meta))}</p>' if meta else ""
    return (
        f'<h1>{escape(t["title"])}</h1><p class="lead" id="campaign-title">{escape(name)}</p>{line}'
    )


def _totals(report: Report, t: dict[str, str]) -> str:
    totals, comments = report.totals, report.comments
    items = "".join(
        f'<li data-figure="{key}">{escape(t[key])}<b>{_num(value)}</b></li>'
        for key, value in (
            ("visits", totals.visits),
            ("participants", totals.participants),
            ("comments", comments.submitted),
            ("published", comments.published),
            ("responses", totals.responses),
            ("votes", totals.votes),
            ("flags", totals.flags),
        )
    )
    return _section("totals", t["totals"], f'<ul class="figures">{items}</ul>')


def _money(step: FunnelStep | None, attribute: str) -> str | None:
    value = None if step is None else getattr(step, attribute)
    return None if value is None else f"{value.amount:,.2f} {value.currency}"


def _funnel(report: Report, t: dict[str, str], lang: str, rtl: bool) -> str:
    total = report.funnel_total
    if total is None or not (total.invited or total.clicked or total.visits or total.participants):
        return _section("funnel", t["funnel"], _none(t))
    steps = [
        ("invited", total.invited, None),
        ("clicked", total.clicked, total.click_rate_pct),
        ("visited", total.visits, total.visit_rate_pct),
        ("took_part", total.participants, total.participation_rate_pct),
    ]
    chart = Chart(
        id="chart-funnel",
        title=t["funnel"],
        desc=t["funnel_desc"].format(
            invited=_num(total.invited),
            clicked=_num(total.clicked),
            visited=_num(total.visits),
            took_part=_num(total.participants),
        ),
        rtl=rtl,
    )
    svg = bar_chart(chart, [(t[key], (float(n),)) for key, n, _ in steps], [t["people"]])
    data = table(
        t["funnel"],
        [t["step"], t["people"], t["from_previous"]],
        [(t[key], n, _pct(rate) if key != "invited" else None) for key, n, rate in steps],
    )
    figures = [
        (t["conversion"], _pct(total.participation_rate_pct)),
        (t["spend"], _money(total, "spend")),
        (t["cost_per_response"], _money(total, "cost_per_response")),
    ]
    summary = "".join(
        f'<li data-figure="{key}">{escape(label)}<b><bdi>{escape(value)}</bdi></b></li>'
        for key, (label, value) in zip(
            ("conversion", "spend", "cost_per_response"), figures, strict=True
        )
        if value is not None
    )
    sources = table(
        t["by_source"],
        [
            t["source"],
            t["invited"],
            t["clicked"],
            t["visits"],
            t["took_part"],
            t["conversion"],
            t["cost_per_response"],
        ],
        [
            (
                code(lang, s.source),
                s.invited,
                s.clicked,
                s.visits,
                s.participants,
                _pct(s.participation_rate_pct),
                _money(s, "cost_per_response") or "–",
            )
            for s in report.funnel
        ],
    )
    content = f'<ul class="figures">{summary}</ul>{figure(svg, data, t)}{sources}'
    return _section("funnel", t["funnel"], content)


def _timeline(report: Report, t: dict[str, str], rtl: bool) -> str:
    points = report.timeline
    if not points:
        return _section("timeline", t["over_time"], _none(t))
    peak = max(points, key=lambda p: p.submitted)
    chart = Chart(
        id="chart-timeline",
        title=t["over_time"],
        desc=t["over_time_desc"].format(
            first=_date(points[0].start),
            last=_date(points[-1].start),
            peak=_date(peak.start),
            count=_num(peak.submitted),
        ),
        rtl=rtl,
    )
    svg = line_chart(
        chart,
        [
            (
                p.start.strftime("%d.%m"),
                (float(p.visits), float(p.submitted), float(p.participants)),
            )
            for p in points
        ],
        [t["visits"], t["submitted"], t["new_participants"]],
    )
    data = table(
        t["over_time"],
        [
            t["date"],
            t["visits"],
            t["submitted"],
            t["published"],
            t["new_participants"],
            t["cumulative"],
        ],
        [
            (
                _date(p.start),
                p.visits,
                p.submitted,
                p.published,
                p.participants,
                p.participants_cumulative,
            )
            for p in points
        ],
    )
    return _section("timeline", t["over_time"], figure(svg, data, t))


def _bars(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, Sequence[int]]],
    series: Sequence[str],
    t: dict[str, str],
    *,
    rtl: bool,
    first_column: str,
) -> str:
    biggest = max(rows, key=lambda r: r[1][0])
    chart = Chart(
        id=chart_id,
        title=title,
        desc=t["bars_desc"].format(label=biggest[0], value=_num(biggest[1][0])),
        rtl=rtl,
    )
    svg = bar_chart(chart, [(label, [float(v) for v in values]) for label, values in rows], series)
    data = table(title, [first_column, *series], [(label, *values) for label, values in rows])
    return figure(svg, data, t)


def _channels(report: Report, t: dict[str, str], lang: str, rtl: bool) -> str:
    visits, comments = report.totals.visits_by_channel, report.comments.by_channel
    channels = sorted(
        visits.keys() | comments.keys(), key=lambda c: (-comments.get(c, 0), -visits.get(c, 0), c)
    )
    parts: list[str] = [f"<h3>{escape(t['by_channel'])}</h3>"]
    if channels:
        parts.append(
            _bars(
                "chart-channels",
                t["by_channel"],
                [(code(lang, c), (comments.get(c, 0), visits.get(c, 0))) for c in channels],
                [t["comments"], t["visits"]],
                t,
                rtl=rtl,
                first_column=t["channel"],
            )
        )
    else:
        parts.append(_none(t))
    parts.append(f"<h3>{escape(t['by_circle'])}</h3>")
    circles = sorted(report.comments.by_circle.items(), key=lambda kv: (-kv[1], kv[0]))
    if circles:
        parts.append(
            _bars(
                "chart-circles",
                t["by_circle"],
                [(code(lang, c), (n,)) for c, n in circles],
                [t["comments"]],
                t,
                rtl=rtl,
                first_column=t["circle"],
            )
        )
    else:
        parts.append(_none(t))
    return _section("channels", t["channels"], "".join(parts))


def _representativeness(report: Report, t: dict[str, str], lang: str, rtl: bool) -> str:
    represented = report.representativeness
    if not represented.dimensions:
        return _section("representativeness", t["representativeness"], _none(t))
    parts: list[str] = []
    warnings: list[str] = []
    for dimension, figures in represented.dimensions.items():
        title = code(lang, dimension)
        parts.append(f'<h3 id="rep-{escape(dimension)}">{escape(title)}</h3>')
        notes = [
            t["declared"].format(
                declared=_num(figures.declared), undeclared=_num(figures.undeclared)
            )
        ]
        if figures.dissimilarity is not None:
            notes.append(t["dissimilarity"].format(d=f"{figures.dissimilarity:.2f}"))
        if not figures.sufficient:
            notes.append(t["insufficient"].format(n=represented.min_sample))
        parts.append("".join(f'<p class="note">{escape(n)}</p>' for n in notes))
        if figures.groups:
            chart = Chart(
                id=f"chart-rep-{dimension}",
                title=f"{t['representativeness']}: {title}",
                desc=t["rep_desc"],
                rtl=rtl,
            )
            rows = [
                (code(lang, g.group), (g.observed_share * 100, g.target_share * 100))
                for g in figures.groups
            ]
            svg = bar_chart(
                chart,
                rows,
                [t["observed"], t["target"]],
                value_text=[[_pct(o), _pct(s)] for _, (o, s) in rows],
            )
            data = table(
                f"{t['representativeness']}: {title}",
                [t["group"], t["participants"], t["observed"], t["target"], t["ratio"]],
                [
                    (
                        code(lang, g.group),
                        g.participants,
                        _pct(g.observed_share * 100),
                        _pct(g.target_share * 100),
                        "–" if g.ratio is None else f"{g.ratio:.2f}",
                    )
                    for g in figures.groups
                ],
            )
            parts.append(figure(svg, data, t))
        warnings.extend(
            t["warning"].format(
                dimension=title,
                group=code(lang, g.group),
                observed=_pct(g.observed_share * 100),
                target=_pct(g.target_share * 100),
            )
            for g in figures.groups
            if g.under_represented
        )
    parts.append(f'<h3 id="rep-warnings">{escape(t["warnings"])}</h3>')
    if warnings:
        parts.append(
            '<ul class="warnings">'
            + "".join(f'<li class="warn">{escape(w)}</li>' for w in warnings)
            + "</ul>"
        )
    else:
        parts.append(f'<p class="note">{escape(t["no_warnings"])}</p>')
    return _section("representativeness", t["representativeness"], "".join(parts))


def _clusters(report: Report, t: dict[str, str]) -> str:
    if not report.top_clusters:
        return _section("clusters", t["clusters"], _none(t))
    quotes = "".join(
        f"<blockquote><p><bdi>{escape(c.text)}</bdi></p>"
        f'<p class="note">{escape(t["size"])}: {_num(c.size)}</p></blockquote>'
        for c in report.top_clusters
    )
    return _section("clusters", t["clusters"], quotes)


def _latency_row(label: str, stats: LatencyStats, t: dict[str, str]) -> tuple[Cell, ...]:
    return (
        label,
        stats.count,
        _duration(stats.p50_seconds, t),
        _duration(stats.p90_seconds, t),
    )


def _moderation(report: Report, t: dict[str, str], lang: str, rtl: bool) -> str:
    comments, moderation = report.comments, report.moderation
    parts = [f"<h3>{escape(t['status'])}</h3>"]
    statuses = [(code(lang, s), n) for s, n in comments.by_status.items() if n]
    if statuses:
        total = sum(n for _, n in statuses)
        chart = Chart(
            id="chart-status",
            title=t["status"],
            desc=t["status_desc"].format(
                total=_num(total), summary=", ".join(f"{s} {_num(n)}" for s, n in statuses)
            ),
            rtl=rtl,
        )
        svg = bar_chart(chart, [(s, (float(n),)) for s, n in statuses], [t["comments"]])
        data = table(t["status"], ["", t["comments"]], statuses)
        parts.append(figure(svg, data, t))
    else:
        parts.append(_none(t))
    decisions = ("approve", "reject", "review")
    parts.append(
        table(
            t["decisions"],
            [t["decided_by"], *(code(lang, d) for d in decisions)],
            [
                (t[mode], *(moderation.decisions.get(mode, {}).get(d, 0) for d in decisions))
                for mode in ("automatic", "human")
            ],
        )
    )
    if moderation.reasons:
        parts.append(
            table(
                t["reasons"],
                [t["reason"], t["count"]],
                [(code(lang, r), n) for r, n in moderation.reasons.items()],
            )
        )
    latency = moderation.latency
    parts.append(
        table(
            t["latency"],
            [t["decided_by"], t["decided"], t["median"], t["p90"]],
            [
                _latency_row(t[mode], latency[mode], t)
                for mode in ("automatic", "human")
                if mode in latency
            ],
        )
    )
    appeals = moderation.appeals
    parts.append(
        table(
            t["appeals"],
            ["", t["count"]],
            [(t[k], appeals.get(k, 0)) for k in ("filed", "upheld", "overturned")],
        )
    )
    queue = moderation.queue
    waiting = f"{t['queue']}: {_num(queue.depth)}"
    if queue.depth and queue.oldest_age_seconds is not None:
        waiting += " (" + t["oldest"].format(age=_duration(queue.oldest_age_seconds, t)) + ")"
    parts.append(f'<p id="queue">{escape(waiting)}</p>')
    return _section("moderation", t["moderation"], "".join(parts))


def _outcome(report: Report, t: dict[str, str], lang: str) -> str:
    outcome = report.outcome
    if outcome is None:
        return _section("outcome", t["outcome"], f'<p class="none">{escape(t["no_outcome"])}</p>')
    parts: list[str] = []
    if outcome.published_at is not None:
        parts.append(
            f'<p class="meta"><time datetime="{outcome.published_at.isoformat()}">'
            f"{escape(t['published_on'].format(date=_date(outcome.published_at)))}</time></p>"
        )
    parts.append(f"<h3>{escape(t['heard'])}</h3><p>{escape(_text_in(outcome.summary, lang))}</p>")
    decisions = [_text_in(d, lang) for d in outcome.decisions]
    if decisions:
        parts.append(
            f"<h3>{escape(t['decided_what'])}</h3><ul>"
            + "".join(f"<li>{escape(d)}</li>" for d in decisions)
            + "</ul>"
        )
    # only web links: an outcome's url is an admin's text, never a script to run
    if outcome.url and outcome.url.startswith(("https://", "http://")):
        url = escape(outcome.url, quote=True)
        parts.append(f'<p><a href="{url}" rel="noreferrer">{escape(t["full_text"])}</a></p>')
    return _section("outcome", t["outcome"], "".join(parts))
