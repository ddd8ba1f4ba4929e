"""The "what we heard" report as a self-contained HTML page: inline SVG charts, no script, no CDN.

The page is readable offline, printable, and right-to-left when its language is Hebrew or Arabic
(``dir="rtl"`` on the document; the charts keep a left-to-right axis, as printed charts in those
languages usually do, with their labels in the page's language).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from kolot.metrics.schemas import Report

PALETTE = ("#1f6fb2", "#e08a1e", "#3a9a5b", "#b23a48", "#7a5195", "#8c8c8c", "#2a9d8f")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "What we heard",
        "totals": "Participation",
        "visits": "Visits",
        "participants": "Participants",
        "registered": "Registered",
        "comments": "Comments",
        "published": "Published",
        "responses": "Survey responses",
        "votes": "Votes",
        "flags": "Reports",
        "over_time": "Participation over time (per day)",
        "submitted": "Comments submitted",
        "new_participants": "New participants",
        "clusters": "Most repeated texts (form letters)",
        "size": "Senders",
        "moderation": "Moderation transparency",
        "status": "Comments by status",
        "decisions": "Decisions",
        "automatic": "Automatic",
        "human": "By a moderator",
        "reasons": "Reasons for rejection",
        "appeals": "Appeals",
        "queue": "Waiting for a moderator",
        "funnel": "How people found the consultation",
        "source": "Source",
        "rate": "Took part",
        "cost": "Cost per response",
        "representativeness": "Who took part, against who is affected",
        "observed": "Took part",
        "target": "Target",
        "warnings": "Under-represented groups",
        "outcome": "Outcome",
        "no_outcome": "The ministry has not published its decision yet.",
        "none": "None yet.",
        "generated": "Generated",
    },
    "he": {
        "title": "מה שמענו",
        "totals": "השתתפות",
        "visits": "ביקורים",
        "participants": "משתתפים",
        "registered": "נרשמו",
        "comments": "תגובות",
        "published": "פורסמו",
        "responses": "תשובות לשאלון",
        "votes": "הצבעות",
        "flags": "דיווחים",
        "over_time": "השתתפות לאורך זמן (ליום)",
        "submitted": "תגובות שהוגשו",
        "new_participants": "משתתפים חדשים",
        "clusters": "הנוסחים שחזרו הכי הרבה (מכתבים אחידים)",
        "size": "שולחים",
        "moderation": "שקיפות הניהול",
        "status": "תגובות לפי מצב",
        "decisions": "החלטות",
        "automatic": "אוטומטיות",
        "human": "בידי מנהל",
        "reasons": "סיבות לדחייה",
        "appeals": "ערעורים",
        "queue": "ממתינות למנהל",
        "funnel": "איך הגיעו אל ההתייעצות",
        "source": "מקור",
        "rate": "השתתפו",
        "cost": "עלות לתגובה",
        "representativeness": "מי השתתף, לעומת מי מושפע",
        "observed": "השתתפו",
        "target": "יעד",
        "warnings": "קבוצות בייצוג חסר",
        "outcome": "ההחלטה",
        "no_outcome": "המשרד טרם פרסם את החלטתו.",
        "none": "אין עדיין.",
        "generated": "הופק",
    },
    "ar": {
        "title": "ماذا سمعنا",
        "totals": "المشاركة",
        "visits": "الزيارات",
        "participants": "المشاركون",
        "registered": "المسجلون",
        "comments": "التعليقات",
        "published": "المنشورة",
        "responses": "ردود الاستبيان",
        "votes": "الأصوات",
        "flags": "البلاغات",
        "over_time": "المشاركة عبر الزمن (يوميًا)",
        "submitted": "التعليقات المقدمة",
        "new_participants": "مشاركون جدد",
        "clusters": "النصوص الأكثر تكرارًا (رسائل موحدة)",
        "size": "المرسلون",
        "moderation": "شفافية الإشراف",
        "status": "التعليقات حسب الحالة",
        "decisions": "القرارات",
        "automatic": "آلية",
        "human": "من مشرف",
        "reasons": "أسباب الرفض",
        "appeals": "الاستئنافات",
        "queue": "بانتظار مشرف",
        "funnel": "كيف وصل الناس إلى الاستشارة",
        "source": "المصدر",
        "rate": "شاركوا",
        "cost": "التكلفة لكل رد",
        "representativeness": "من شارك مقارنةً بمن يتأثر",
        "observed": "شاركوا",
        "target": "الهدف",
        "warnings": "فئات ممثلة تمثيلًا ناقصًا",
        "outcome": "القرار",
        "no_outcome": "لم تنشر الوزارة قرارها بعد.",
        "none": "لا شيء بعد.",
        "generated": "أُنشئ",
    },
}

CSS = """
body{font-family:system-ui,"Segoe UI",Arial,sans-serif;margin:2rem auto;max-width:60rem;
padding:0 1rem;color:#1b1b1b;line-height:1.5}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0}
td,th{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:start}
td.n{text-align:end;font-variant-numeric:tabular-nums}
.totals{display:flex;flex-wrap:wrap;gap:1rem}.totals div{background:#f4f6f8;padding:.6rem 1rem;
border-radius:.4rem}.totals b{display:block;font-size:1.4rem}
blockquote{margin:.5rem 0;padding:.5rem 1rem;background:#f8f8f8;
border-inline-start:4px solid #1f6fb2}
.warn{color:#b23a48}svg{max-width:100%;height:auto}
"""


def _num(value: float | int) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def hbar_chart(
    rows: Sequence[tuple[str, Sequence[float]]],
    series: Sequence[str],
    *,
    percent: bool = False,
    width: int = 640,
) -> str:
    """Horizontal grouped bars: one group per row, one bar per series, values at their ends."""
    if not rows:
        return ""
    bar, gap, label_w = 14, 10, 170
    group_h = bar * len(series) + gap
    legend_h = 22
    height = legend_h + group_h * len(rows) + 4
    top = max((v for _, values in rows for v in values), default=0) or 1
    scale = (width - label_w - 70) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" direction="ltr" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-size="12">'
    ]
    x = label_w
    for i, name in enumerate(series):
        parts.append(
            f'<rect x="{x}" y="4" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{x + 16}" y="14">{escape(name)}</text>'
        )
        x += 24 + 8 * len(name)
    for r, (label, values) in enumerate(rows):
        y0 = legend_h + r * group_h
        parts.append(
            f'<text x="{label_w - 6}" y="{y0 + group_h / 2}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(label[:28])}</text>'
        )
        for s, value in enumerate(values):
            y = y0 + s * bar
            w = max(0.0, value * scale)
            text = f"{value:.1f}%" if percent else _num(value)
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar - 2}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(text)}</title></rect>'
                f'<text x="{label_w + w + 4:.1f}" y="{y + bar / 2}" '
                f'dominant-baseline="middle">{escape(text)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def column_chart(
    points: Sequence[tuple[str, Sequence[float]]], series: Sequence[str], *, width: int = 640
) -> str:
    """Vertical grouped columns over time (one group per point), with a value axis maximum."""
    if not points:
        return ""
    height, left, bottom, legend_h = 220, 40, 30, 22
    plot_h = height - bottom - legend_h
    top = max((v for _, values in points for v in values), default=0) or 1
    group_w = (width - left - 10) / len(points)
    bar_w = max(1.0, group_w * 0.8 / len(series))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" direction="ltr" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-size="11">',
        f'<text x="{left - 4}" y="{legend_h + 8}" text-anchor="end">{_num(top)}</text>',
        f'<text x="{left - 4}" y="{legend_h + plot_h}" text-anchor="end">0</text>',
        f'<line x1="{left}" y1="{legend_h + plot_h}" x2="{width - 10}" '
        f'y2="{legend_h + plot_h}" stroke="#999"/>',
    ]
    x = left
    for i, name in enumerate(series):
        parts.append(
            f'<rect x="{x}" y="4" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{x + 16}" y="14">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    every = max(1, len(points) // 8)
    for p, (label, values) in enumerate(points):
        gx = left + p * group_w + group_w * 0.1
        for s, value in enumerate(values):
            h = value / top * plot_h
            parts.append(
                f'<rect x="{gx + s * bar_w:.1f}" y="{legend_h + plot_h - h:.1f}" '
                f'width="{bar_w:.1f}" height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                f"<title>{escape(label)}: {_num(value)}</title></rect>"
            )
        if p % every == 0:
            parts.append(f'<text x="{gx:.1f}" y="{height - 10}">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: Sequence[Sequence[str | int | float]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_num(c)}</td>'
            if isinstance(c, int | float)
            else f"<td>{escape(c)}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: Report) -> str:
    lang = report.language if report.language in LABELS else "en"
    t = LABELS[lang]
    campaign = report.campaign
    title = report.campaign_id
    if campaign is not None:
        title = (
            campaign.title.get(lang)
            or next((v for v in campaign.title.values() if v), None)
            or report.campaign_id
        )
    totals = report.totals
    comments = report.comments
    out: list[str] = [
        "<!doctype html>",
        f'<html lang="{escape(report.language)}" dir="{report.direction}">',
        '<head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(t['title'])}: {escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{escape(t['title'])}</h1>",
        f"<p><b>{escape(title)}</b></p>",
        f"<h2>{escape(t['totals'])}</h2>",
        '<div class="totals">',
    ]
    for key, value in (
        ("visits", totals.visits),
        ("participants", totals.participants),
        ("comments", comments.submitted),
        ("published", comments.published),
        ("responses", totals.responses),
        ("votes", totals.votes),
    ):
        out.append(f"<div>{escape(t[key])}<b>{_num(value)}</b></div>")
    out.append("</div>")

    out.append(f"<h2>{escape(t['over_time'])}</h2>")
    out.append(
        column_chart(
            [(p.start.strftime("%d.%m"), (p.submitted, p.participants)) for p in report.timeline],
            [t["submitted"], t["new_participants"]],
        )
        or f"<p>{escape(t['none'])}</p>"
    )

    out.append(f"<h2>{escape(t['clusters'])}</h2>")
    if report.top_clusters:
        for cluster in report.top_clusters:
            out.append(
                f"<blockquote>{escape(cluster.text)}<br><small>{escape(t['size'])}: "
                f"{_num(cluster.size)}</small></blockquote>"
            )
    else:
        out.append(f"<p>{escape(t['none'])}</p>")

    moderation = report.moderation
    out.append(f"<h2>{escape(t['moderation'])}</h2>")
    out.append(f"<h3>{escape(t['status'])}</h3>")
    statuses = [(s, (float(n),)) for s, n in comments.by_status.items() if n]
    out.append(hbar_chart(statuses, [t["comments"]]) or f"<p>{escape(t['none'])}</p>")
    out.append(f"<h3>{escape(t['decisions'])}</h3>")
    out.append(
        _table(
            [
                (t[mode], *(moderation.decisions[mode][d] for d in ("approve", "reject", "review")))
                for mode in ("automatic", "human")
            ],
            ["", "approve", "reject", "review"],
        )
    )
    if moderation.reasons:
        out.append(f"<h3>{escape(t['reasons'])}</h3>")
        out.append(_table(list(moderation.reasons.items()), ["", "n"]))
    out.append(
        _table(
            [(t["appeals"] + ": " + k, n) for k, n in moderation.appeals.items()]
            + [(t["queue"], moderation.queue.depth)],
            ["", "n"],
        )
    )

    out.append(f"<h2>{escape(t['funnel'])}</h2>")
    if report.funnel:
        out.append(
            hbar_chart(
                [(s.source, (s.visits, s.participants)) for s in report.funnel[:10]],
                [t["visits"], t["participants"]],
            )
        )
        out.append(
            _table(
                [
                    (
                        s.source,
                        s.visits,
                        s.participants,
                        ""
                        if s.participation_rate_pct is None
                        else f"{s.participation_rate_pct:.2f}%",
                        ""
                        if s.cost_per_response is None
                        else f"{s.cost_per_response.amount:,.2f} {s.cost_per_response.currency}",
                    )
                    for s in report.funnel
                ],
                [t["source"], t["visits"], t["participants"], t["rate"], t["cost"]],
            )
        )
    else:
        out.append(f"<p>{escape(t['none'])}</p>")

    out.append(f"<h2>{escape(t['representativeness'])}</h2>")
    represented = report.representativeness
    for dimension, figures in represented.dimensions.items():
        index = "" if figures.dissimilarity is None else f" (D = {figures.dissimilarity:.2f})"
        out.append(f"<h3>{escape(dimension)}{escape(index)}</h3>")
        out.append(
            hbar_chart(
                [(g.group, (g.observed_share * 100, g.target_share * 100)) for g in figures.groups],
                [t["observed"], t["target"]],
                percent=True,
            )
        )
    if represented.warnings:
        out.append(f'<h3 class="warn">{escape(t["warnings"])}</h3><ul>')
        out.extend(f'<li class="warn">{escape(w)}</li>' for w in represented.warnings)
        out.append("</ul>")

    out.append(f"<h2>{escape(t['outcome'])}</h2>")
    if report.outcome is not None:
        summary = report.outcome.summary
        text = summary.get(lang) or next((v for v in summary.values() if v), "")
        out.append(f"<p>{escape(text or '')}</p>")
        decisions = [
            d.get(lang) or next((v for v in d.values() if v), "") for d in report.outcome.decisions
        ]
        if decisions:
            out.append("<ul>" + "".join(f"<li>{escape(d or '')}</li>" for d in decisions) + "</ul>")
        # only web links: an outcome's url is an admin's text, never a script to run
        if report.outcome.url and report.outcome.url.startswith(("https://", "http://")):
            url = escape(report.outcome.url, quote=True)
            out.append(f'<p><a href="{url}">{url}</a></p>')
    else:
        out.append(f"<p>{escape(t['no_outcome'])}</p>")
    out.append(
        f"<footer><small>{escape(t['generated'])}: "
        f"{report.generated_at.strftime('%Y-%m-%d %H:%M UTC')}</small></footer>"
    )
    out.append("</body></html>")
    return "\n".join(out)
