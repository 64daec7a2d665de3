"""Small inline SVG charts for self-contained HTML reports (no script, no external file).

Every function returns an ``<svg>`` element as text; labels are escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

CHANNEL_COLOURS = {"VOICE": "#2f6fb0", "SMS": "#e08a1e", "EMAIL": "#3a9a5b", "CUSTOM": "#8a5cb8"}
PALETTE = ("#2f6fb0", "#e08a1e", "#3a9a5b", "#c0504d", "#8a5cb8", "#7f7f7f")


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar; ``low``/``high`` draw a whisker (the spread across seeds)."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None
    colour: str | None = None


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def bars(title: str, items: Sequence[Bar], *, width: int = 640) -> str:
    """Horizontal bars with their values (and whiskers where given)."""
    row, label_w, pad = 28, 190, 60
    height = 34 + row * max(len(items), 1)
    top = max([b.high if b.high is not None else b.value for b in items] or [1]) or 1
    scale = (width - label_w - pad) / top
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for i, b in enumerate(items):
        y = 30 + i * row
        colour = b.colour or PALETTE[i % len(PALETTE)]
        w = max(b.value * scale, 0)
        out.append(
            f'<text x="{label_w - 8}" y="{y + 15}" font-size="12" text-anchor="end">'
            f"{escape(b.label)}</text>"
        )
        out.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="18" fill="{colour}">'
            f"<title>{escape(b.label)}: {_fmt(b.value)}</title></rect>"
        )
        end = label_w + w
        if b.low is not None and b.high is not None:
            lo, hi = label_w + b.low * scale, label_w + b.high * scale
            out.append(
                f'<path d="M{lo:.1f} {y + 12}H{hi:.1f}M{lo:.1f} {y + 6}V{y + 18}'
                f'M{hi:.1f} {y + 6}V{y + 18}" stroke="#222" fill="none"/>'
            )
            end = max(end, hi)
        out.append(f'<text x="{end + 6:.1f}" y="{y + 16}" font-size="12">{_fmt(b.value)}</text>')
    out.append("</svg>")
    return "".join(out)


def stacked_columns(
    title: str, series: Mapping[str, Mapping[str, float]], *, width: int = 640, height: int = 240
) -> str:
    """Columns per x label (e.g. an hour), stacked by key (e.g. a channel), with a legend."""
    labels = list(series)
    keys = sorted({k for v in series.values() for k in v})
    top = max([sum(v.values()) for v in series.values()] or [1]) or 1
    left, bottom, plot_top = 44, height - 44, 40
    plot_h = bottom - plot_top
    col_w = (width - left - 10) / max(len(labels), 1)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{plot_top + 4}" font-size="11" text-anchor="end">'
        f"{_fmt(top)}</text>",
        f'<text x="{left - 6}" y="{bottom}" font-size="11" text-anchor="end">0</text>',
    ]
    for j, key in enumerate(keys):
        colour = CHANNEL_COLOURS.get(key, PALETTE[j % len(PALETTE)])
        lx = left + j * 90
        out.append(f'<rect x="{lx}" y="24" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{lx + 14}" y="33" font-size="11">{escape(key)}</text>')
    every = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        x = left + i * col_w
        y = float(bottom)
        for j, key in enumerate(keys):
            value = float(series[label].get(key, 0))
            if not value:
                continue
            h = value / top * plot_h
            y -= h
            colour = CHANNEL_COLOURS.get(key, PALETTE[j % len(PALETTE)])
            out.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(col_w - 2, 1):.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(label)} {escape(key)}: '
                f"{_fmt(value)}</title></rect>"
            )
        if i % every == 0:
            out.append(
                f'<text x="{x + col_w / 2:.1f}" y="{bottom + 14}" font-size="10" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    out.append("</svg>")
    return "".join(out)
