"""Inline SVG charts for the report: no script, no library, readable on a phone, mirrored in RTL.

The drawings are sized for a phone (a 360-unit wide view box at 12-unit text is read at about its
own size on a 390 px screen) and scale up on a wider one. In a right-to-left page the charts
read from the right, as the page does: bar labels stand on the right and bars grow to the left,
and time runs from right to left, with the value axis on the right. Each chart is an ``img`` to
assistive technology, named by its title and described in one sentence; the figures themselves
are in the data table the page puts beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal

# Colours with at least 3:1 against white (WCAG 1.4.11, graphical objects), told apart by
# lightness as well as hue.
PALETTE = ("#1f5f99", "#b35c00", "#2e7d46", "#a8323e", "#6a4a8c", "#5c5c5c")
WIDTH = 360
FONT = 13
INK = "#1b1b1b"
GRID = "#c4c4c4"

Side = Literal["left", "right", "middle"]


@dataclass(frozen=True)
class Chart:
    """What makes a chart accessible: its name and a one-sentence description."""

    id: str
    title: str
    desc: str
    rtl: bool


def _text(x: float, y: float, content: str, *, side: Side, rtl: bool, extra: str = "") -> str:
    """A label whose ``side`` (the edge at ``x``) holds in both directions.

    SVG anchors text at its logical start or end, which swap sides when the text runs right to
    left; RTL labels are written right to left so that mixed Hebrew/Arabic and digits read right.
    """
    if side == "middle":
        anchor = "middle"
    elif rtl:
        anchor = "start" if side == "right" else "end"
    else:
        anchor = "start" if side == "left" else "end"
    # always said: a chart's text would otherwise inherit the direction of the page around it
    direction = "rtl" if rtl else "ltr"
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" direction="{direction}"{extra}>'
        f"{escape(content)}</text>"
    )


def _open(chart: Chart, height: float) -> str:
    label = f"{chart.title}. {chart.desc}" if chart.desc else chart.title
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" font-size="{FONT}" fill="{INK}" '
        f'font-family="system-ui, sans-serif" class="chart" id="{escape(chart.id)}">'
        f'<title id="{escape(chart.id)}-title">{escape(chart.title)}</title>'
        f'<desc id="{escape(chart.id)}-desc">{escape(chart.desc)}</desc>'
    )


def _legend(series: Sequence[str], *, rtl: bool, y: float = 4) -> tuple[str, float]:
    """Swatches and names in reading order, wrapping to a new line when the width runs out."""
    parts: list[str] = []
    cursor, line = 0.0, 0
    for i, name in enumerate(series):
        room = 12 + 4 + FONT * 0.62 * len(name) + 14
        if cursor and cursor + room > WIDTH:
            cursor, line = 0.0, line + 1
        top = y + line * 18
        swatch = WIDTH - cursor - 12 if rtl else cursor
        parts.append(
            f'<rect x="{swatch:.1f}" y="{top:.1f}" width="12" height="12" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
        )
        text_x = swatch - 4 if rtl else swatch + 16
        parts.append(_text(text_x, top + 10, name, side="right" if rtl else "left", rtl=rtl))
        cursor += room
    return "".join(parts), (line + 1) * 18 + 4


def _clip(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(
    chart: Chart,
    rows: Sequence[tuple[str, Sequence[float]]],
    series: Sequence[str],
    *,
    value_text: Sequence[Sequence[str]] | None = None,
) -> str:
    """Horizontal grouped bars: one group per row, one bar per series, each value at its bar's end.

    ``value_text`` replaces the printed value of each bar (e.g. ``"12.5%"``); bars are to scale
    with the largest value of the chart.
    """
    if not rows:
        return ""
    rtl = chart.rtl
    label_w, bar_h, gap = 118.0, 16.0, 10.0
    legend, legend_h = _legend(series, rtl=rtl) if len(series) > 1 else ("", 0.0)
    group_h = bar_h * len(series) + gap
    height = legend_h + group_h * len(rows) + 2
    top = max((v for _, values in rows for v in values), default=0.0) or 1.0
    # room for the longest value printed at a bar's end
    printed = [
        [value_text[r][s] if value_text else _number(v) for s, v in enumerate(values)]
        for r, (_, values) in enumerate(rows)
    ]
    value_room = 8 + FONT * 0.62 * max((len(p) for row in printed for p in row), default=1)
    scale = (WIDTH - label_w - value_room) / top
    parts = [_open(chart, height), legend]
    for r, (label, values) in enumerate(rows):
        y0 = legend_h + r * group_h
        label_x = WIDTH - label_w + 6 if rtl else label_w - 6
        parts.append(
            _text(
                label_x,
                y0 + (group_h - gap) / 2 + 4,
                _clip(label, 15),
                side="left" if rtl else "right",
                rtl=rtl,
            )
        )
        for s, value in enumerate(values):
            y = y0 + s * bar_h
            w = max(0.0, value * scale)
            x = WIDTH - label_w - w if rtl else label_w
            colour = PALETTE[s % len(PALETTE)]
            text = printed[r][s]
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{bar_h - 3:.0f}" '
                f'fill="{colour}"><title>{escape(label)}: {escape(text)}</title></rect>'
            )
            end = x - 4 if rtl else x + w + 4
            parts.append(_text(end, y + bar_h - 6, text, side="right" if rtl else "left", rtl=rtl))
    parts.append("</svg>")
    return "".join(parts)


def nice_top(value: float) -> float:
    """The least of 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (an axis end)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop's last step always holds


def line_chart(
    chart: Chart,
    points: Sequence[tuple[str, Sequence[float]]],
    series: Sequence[str],
) -> str:
    """A time series: one line per series with a dot per point, time in the reading direction."""
    if not points:
        return ""
    rtl = chart.rtl
    legend, legend_h = _legend(series, rtl=rtl)
    axis_w, pad, inset, plot_h, bottom = 44.0, 24.0, 14.0, 150.0, 24.0
    height = legend_h + 14 + plot_h + bottom + 4
    y_bottom = legend_h + 14 + plot_h
    top = nice_top(max((v for _, values in points for v in values), default=0.0))
    # the value axis stands on the side the reading starts from
    start_x, end_x = (WIDTH - axis_w, pad) if rtl else (axis_w, WIDTH - pad)
    n = len(points)

    # the first point keeps clear of the axis labels, the last one of the edge
    first_x = start_x - inset if rtl else start_x + inset

    def x_of(i: int) -> float:
        if n == 1:
            return (first_x + end_x) / 2
        return first_x + (end_x - first_x) * i / (n - 1)

    def y_of(value: float) -> float:
        return y_bottom - value / top * plot_h

    parts = [_open(chart, height), legend]
    for tick in (0.0, top / 2, top):
        y = y_of(tick)
        parts.append(
            f'<line x1="{min(start_x, end_x):.1f}" y1="{y:.1f}" x2="{max(start_x, end_x):.1f}" '
            f'y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>'
        )
        label_x = start_x + 4 if rtl else start_x - 4
        parts.append(
            _text(label_x, y + 4, _number(tick), side="left" if rtl else "right", rtl=False)
        )
    for i in date_ticks(n):
        parts.append(_text(x_of(i), y_bottom + 18, points[i][0], side="middle", rtl=False))
    for s in range(len(series)):
        colour = PALETTE[s % len(PALETTE)]
        coords = " ".join(
            f"{x_of(i):.1f},{y_of(values[s]):.1f}" for i, (_, values) in enumerate(points)
        )
        if n > 1:
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for i, (label, values) in enumerate(points):
            parts.append(
                f'<circle cx="{x_of(i):.1f}" cy="{y_of(values[s]):.1f}" r="3.5" fill="{colour}">'
                f"<title>{escape(label)}, {escape(series[s])}: {_number(values[s])}</title>"
                "</circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def date_ticks(n: int, *, most: int = 5) -> list[int]:
    """Which of ``n`` points get a date under them: evenly spaced, the first and the last always."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
