"""Small inline SVG charts (grouped bars, lines) and the journey figures they draw.

Pure functions: numbers in, an ``<svg>`` string out (viewBox only, so charts scale to a phone's
width). No chart library is downloaded; the browser draws what the server wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from renraku.domain.journeys.model import build_journey

CHANNEL_KINDS = {"VOICE": "VOICE", "CUSTOM": "VOICE", "SMS": "SMS", "EMAIL": "EMAIL"}
FUNNEL_STAGES = ("Attempted", "Sent", "Delivered", "Reached")


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value:
        step /= 10
    for m in (1, 2, 5, 10):
        if m * step >= value:
            return m * step
    return 10 * step


def tick_values(top: float) -> list[float]:
    """Gridline values from 0 to ``top`` (a :func:`nice_max`) at round steps: counts up to five
    get one line per unit, else steps of 1, 2 or 5 times a power of ten."""
    if top <= 5 and float(top).is_integer():
        divisions = max(int(top), 1)
    else:
        lead = top
        while lead >= 10:
            lead /= 10
        while lead < 1:
            lead *= 10
        divisions = 4 if round(lead) == 2 else 5
    return [top * i / divisions for i in range(divisions + 1)]


def bar_chart(
    categories: Sequence[str],
    series: Sequence[str],
    values: Mapping[tuple[str, str], float],
    *,
    title: str,
    width: int = 560,
    height: int = 240,
) -> str:
    """Grouped vertical bars: one group per category, one bar per series, value on each bar."""
    left, right, top, bottom = 44, 8, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_max(max(values.values(), default=0))
    group_w = plot_w / max(len(categories), 1)
    bar_w = max(min((group_w - 12) / max(len(series), 1), 48), 4)
    out = [_open(width, height, title, "bar-chart"), _axes(left, top, plot_w, plot_h, top_value)]
    for ci, cat in enumerate(categories):
        gx = left + ci * group_w + (group_w - bar_w * len(series)) / 2
        for si, name in enumerate(series):
            v = float(values.get((cat, name), 0))
            h = plot_h * v / top_value
            x, y = gx + si * bar_w, top + plot_h - h
            out.append(
                f'<g class="bar series-{si}" data-category="{escape(cat)}" '
                f'data-series="{escape(name)}" data-value="{v:g}">'
                f"<title>{escape(cat)} {escape(name)}: {v:g}</title>"
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}"/>'
                f'<text class="value" x="{x + (bar_w - 2) / 2:.1f}" y="{y - 3:.1f}">{v:g}</text>'
                "</g>"
            )
        out.append(
            f'<text class="category" x="{left + ci * group_w + group_w / 2:.1f}" '
            f'y="{top + plot_h + 16:.1f}">{escape(cat)}</text>'
        )
    out.append(_legend(series, left, height - 8))
    out.append("</svg>")
    return "".join(out)


def line_chart(
    x_labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    width: int = 560,
    height: int = 240,
) -> str:
    """One polyline per series over the shared ``x_labels`` (first, middle and last labelled)."""
    left, right, top, bottom = 44, 8, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_max(max((max(v, default=0) for v in series.values()), default=0))
    n = len(x_labels)
    step = plot_w / max(n - 1, 1)
    out = [_open(width, height, title, "line-chart"), _axes(left, top, plot_w, plot_h, top_value)]
    for si, (name, points) in enumerate(series.items()):
        coords = [
            (left + i * step, top + plot_h - plot_h * float(v) / top_value)
            for i, v in enumerate(points)
        ]
        text = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        out.append(
            f'<g class="line series-{si}" data-series="{escape(name)}" '
            f'data-total="{sum(points):g}"><title>{escape(name)}: {sum(points):g}</title>'
            f'<polyline points="{text}"/>'
        )
        out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5"/>' for x, y in coords)
        out.append("</g>")
    for i in sorted({0, n // 2, n - 1} if n else set()):
        anchor = "start" if i == 0 and n > 1 else ("end" if i == n - 1 and n > 1 else "middle")
        out.append(
            f'<text class="axis-label" style="text-anchor:{anchor}" x="{left + i * step:.1f}" '
            f'y="{top + plot_h + 16:.1f}">{escape(x_labels[i])}</text>'
        )
    out.append(_legend(list(series), left, height - 8))
    out.append("</svg>")
    return "".join(out)


def _open(width: int, height: int, title: str, cls: str) -> str:
    return (
        f'<svg class="chart {cls}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f'<text class="chart-title" x="4" y="14">{escape(title)}</text>'
    )


def _axes(left: int, top: int, plot_w: int, plot_h: int, top_value: float) -> str:
    parts = []
    for value in tick_values(top_value):
        y = top + plot_h - plot_h * value / top_value
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{left - 4}" y="{y + 4:.1f}">{value:g}</text>'
        )
    return "".join(parts)


def _legend(series: Sequence[str], left: int, y: int) -> str:
    parts = []
    x = float(left)
    for si, name in enumerate(series):
        parts.append(
            f'<g class="legend series-{si}"><rect x="{x:.1f}" y="{y - 9}" width="10" height="10"/>'
            f'<text x="{x + 14:.1f}" y="{y}">{escape(name)}</text></g>'
        )
        x += 24 + 7.5 * len(name)
    return "".join(parts)


@dataclass(frozen=True)
class Funnel:
    """Reach by channel: for each channel, how many were attempted, sent, delivered, reached."""

    channels: list[str]
    values: dict[tuple[str, str], int]


def reach_funnel(definition: Mapping[str, Any], activities: Sequence[Mapping[str, Any]]) -> Funnel:
    """The funnel from the journey's per-activity metrics (``metrics()["Activities"]``).

    Attempted: the activity acted for the participant (sent, failed or skipped); Delivered: the
    provider confirmed delivery (for calls: answered); Reached: for calls, the callee pressed the
    expected digits.
    """
    journey = build_journey("", "", 0, definition)
    values: dict[tuple[str, str], int] = {}
    channels: list[str] = []
    for item in activities:
        act = journey.activities.get(str(item.get("JourneyActivityId")))
        if act is None or act.kind not in CHANNEL_KINDS:
            continue
        channel = CHANNEL_KINDS[act.kind]
        if channel not in channels:
            channels.append(channel)
        m = {k: int(v) for k, v in (item.get("Metrics") or {}).items()}
        sent = m.get("SENT", 0)
        attempted = sent + m.get("FAILED", 0) + m.get("SKIPPED", 0)
        delivered = m.get("CALL_ANSWERED", 0) if channel == "VOICE" else m.get("DELIVERED", 0)
        reached = m.get("CALL_REACHED", 0) if channel == "VOICE" else 0
        for stage, n in zip(FUNNEL_STAGES, (attempted, sent, delivered, reached), strict=True):
            values[(channel, stage)] = values.get((channel, stage), 0) + n
    return Funnel(channels, values)


def hourly_series(
    rows: Sequence[tuple[str, str, int]],
) -> tuple[list[str], dict[str, list[int]]]:
    """(hour label, channel, count) rows -> every hour from the first to the last, and a count
    per channel per hour (hours without sends count 0). Hours are ``YYYY-MM-DDTHH`` strings."""
    from datetime import datetime, timedelta

    if not rows:
        return [], {}
    hours = sorted({r[0] for r in rows})
    first = datetime.strptime(hours[0], "%Y-%m-%dT%H")
    last = datetime.strptime(hours[-1], "%Y-%m-%dT%H")
    labels: list[str] = []
    t = first
    while t <= last and len(labels) < 24 * 60:
        labels.append(t.strftime("%Y-%m-%dT%H"))
        t += timedelta(hours=1)
    index = {h: i for i, h in enumerate(labels)}
    series: dict[str, list[int]] = {}
    for hour, channel, n in rows:
        if hour in index:
            series.setdefault(channel, [0] * len(labels))[index[hour]] += n
    return [f"{h[5:10]} {h[11:]}:00" for h in labels], dict(sorted(series.items()))
