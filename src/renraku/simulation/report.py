"""Self-contained HTML reports (inline CSS and SVG, nothing fetched): one run, or a forecast."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from html import escape
from typing import TYPE_CHECKING, Any

from renraku.domain.timefmt import parse_iso
from renraku.simulation import charts

if TYPE_CHECKING:
    from renraku.simulation.forecast import Forecast
    from renraku.simulation.outcome import Outcome

STYLE = """
body{font-family:system-ui,-apple-system,"Hiragino Sans","Noto Sans CJK JP",sans-serif;
margin:0 auto;max-width:980px;padding:16px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:4px 8px}
td.n,th.n{text-align:right}svg{max-width:100%;height:auto;display:block;margin:.6em 0}
.note{color:#555}
"""

SHOWN_METRICS = (
    ("COMPLETED", "passed"),
    ("SENT", "sent"),
    ("DEFERRED_QUIET_TIME", "held (quiet hours)"),
    ("CALL_ANSWERED", "answered"),
    ("CALL_REACHED", "pressed 1"),
    ("BRANCH_True", "yes branch"),
    ("BRANCH_False", "no branch"),
)


def _page(title: str, body: Sequence[str]) -> str:
    return (
        '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>{''.join(body)}</body></html>\n"
    )


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any, tag: str) -> str:
        numeric = isinstance(v, int | float)
        text = f"{v:,}" if isinstance(v, int) else str(v)
        return f"<{tag}{' class=n' if numeric else ''}>{escape(text)}</{tag}>"

    out = ["<table><tr>", *(cell(h, "th") for h in head), "</tr>"]
    for r in rows:
        out += ["<tr>", *(cell(v, "td") for v in r), "</tr>"]
    out.append("</table>")
    return "".join(out)


def hour_label(key: str, keys: Sequence[str]) -> str:
    """ "2026-12-01T09:00Z" -> "09:00Z" when every key is on one day, else "12-01 09:00Z"."""
    one_day = len({k[:10] for k in keys}) <= 1
    return key[11:] if one_day else f"{key[5:10]} {key[11:]}"


def _hours(per_hour: Mapping[str, Mapping[str, float]]) -> dict[str, Mapping[str, float]]:
    """Every hour from the first to the last (quiet ones too, so the axis is time), labelled."""
    if not per_hour:
        return {}
    first, last = parse_iso(min(per_hour)), parse_iso(max(per_hour))
    keys = []
    while first <= last:
        keys.append(first.strftime("%Y-%m-%dT%H:00Z"))
        first += timedelta(hours=1)
    return {hour_label(k, keys): per_hour.get(k, {}) for k in keys}


def activity_rows(
    journey: Mapping[str, Any], activities: Mapping[str, Mapping[str, float]]
) -> list[list[Any]]:
    rows = []
    for act_id, spec in (journey.get("Activities") or {}).items():
        kind = next((k for k in spec if k not in ("Description",)), "")
        m = activities.get(act_id, {})
        rows.append([act_id, kind, *(m.get(k, 0) for k, _ in SHOWN_METRICS)])
    return rows


def run_report(
    outcome: Outcome, *, title: str, journey: Mapping[str, Any], notes: Sequence[str] = ()
) -> str:
    """The report of one run: reach, sends per hour, activities, calls and costs."""
    reach = [charts.Bar(k, v) for k, v in outcome.reach.items()]
    body = [f'<p class="note">{escape(n)}</p>' for n in notes]
    body.append(f"<h2>Who was reached ({outcome.users:,} customers)</h2>")
    body.append(charts.bars("Customers by outcome", reach))
    body.append("<h2>Sends per hour (journey time, UTC)</h2>")
    body.append(charts.stacked_columns("Sends per hour", _hours(outcome.sends_per_hour)))
    body.append("<h2>The journey, activity by activity</h2>")
    body.append(
        _table(
            ["Activity", "Type", *(label for _, label in SHOWN_METRICS)],
            activity_rows(journey, outcome.activities),
        )
    )
    body.append("<h2>Calls</h2>")
    body.append(charts.bars("Call outcomes", [charts.Bar(k, v) for k, v in outcome.calls.items()]))
    body.append(
        _table(
            ["Calls placed", "Peak at once", "Call minutes", "SMS segments", "Hours to finish"],
            [
                [
                    sum(outcome.calls.values()),
                    outcome.peak_calls,
                    outcome.call_minutes,
                    outcome.sms_segments,
                    outcome.hours_to_finish if outcome.hours_to_finish is not None else "-",
                ]
            ],
        )
    )
    body.append("<h2>Estimated cost</h2>")
    body.append(_table(["Channel", "Cost"], [[k, f"{v:,.2f}"] for k, v in outcome.costs.items()]))
    return _page(title, body)


def forecast_report(forecast: Forecast) -> str:
    """The report of a forecast over many seeds: means with min-max whiskers."""
    stats = forecast.stats
    reach = [
        charts.Bar(k, s.mean, s.low, s.high)
        for k, s in stats.items()
        if k.startswith("Reach/")
        for k in [k.removeprefix("Reach/")]
    ]
    sends = [
        charts.Bar(k.removeprefix("Sends/"), s.mean, s.low, s.high, charts.CHANNEL_COLOURS.get(
            k.removeprefix("Sends/")))
        for k, s in stats.items()
        if k.startswith("Sends/")
    ]  # fmt: skip
    body = [f'<p class="note">{escape(n)}</p>' for n in forecast.notes()]
    body += [f"<p><strong>Capacity:</strong> {escape(w)}</p>" for w in forecast.warnings]
    body.append(charts.bars("Customers by outcome (mean, min-max across seeds)", reach))
    body.append(charts.bars("Messages sent per channel", sends))
    body.append("<h2>Sends per hour (mean across seeds, journey time UTC)</h2>")
    body.append(charts.stacked_columns("Sends per hour", _hours(forecast.mean_sends_per_hour())))
    body.append("<h2>Every figure</h2>")
    body.append(
        _table(
            ["Figure", "Mean", "Min", "Max", "Std dev"],
            [[k, f"{s.mean:,.2f}", s.low, s.high, f"{s.stdev:,.2f}"] for k, s in stats.items()],
        )
    )
    return _page(f"Forecast: {forecast.journey_name}", body)
