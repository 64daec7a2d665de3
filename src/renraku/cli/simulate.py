"""``renraku simulate JOURNEY``: forecast a journey on the virtual clock over many seeds.

Thin: options and rendering; the runs are :mod:`renraku.simulation.forecast`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from renraku.cli.common import JsonOpt, console, emit, state
from renraku.errors import InvalidInput, Problem
from renraku.services import segments as segment_service
from renraku.simulation import report
from renraku.simulation.forecast import Forecast, Plan, Stat, forecast, settings_json
from renraku.simulation.outcome import REACH_ROWS


def _json_file(path: Path | None, what: str) -> Any:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput([Problem(str(path), f"cannot read the {what}: {exc.strerror}")]) from exc
    except json.JSONDecodeError as exc:
        where = f"{path}:{exc.lineno}:{exc.colno}"
        raise InvalidInput([Problem(where, f"the {what} is not JSON: {exc.msg}")]) from exc


def _span(s: Stat, digits: int = 0) -> str:
    fmt = f"{{:,.{digits}f}}"
    if s.low == s.high:
        return fmt.format(s.mean)
    return f"{fmt.format(s.mean)}  ({fmt.format(s.low)}-{fmt.format(s.high)})"


def render(result: Forecast, html: Path, users: int | None) -> None:
    stats = result.stats
    n = len(result.seeds)
    console.print(f"Forecast of [bold]{result.journey_name}[/] over {n} seed(s)", highlight=False)
    console.print(result.population, highlight=False)
    reach = Table("Outcome", "Customers: mean (min-max)", title="Reach per channel")
    for row in REACH_ROWS:
        reach.add_row(row, _span(stats[f"Reach/{row}"], 1))
    console.print(reach)
    acts = Table("Activity", "Passed", "Sent", "Held (quiet hours)", title="Per activity")
    names = list(dict.fromkeys(k.split("/")[1] for k in stats if k.startswith("Activity/")))
    for act in names:
        cells = []
        for metric in ("COMPLETED", "SENT", "DEFERRED_QUIET_TIME"):
            s = stats.get(f"Activity/{act}/{metric}")
            cells.append(_span(s, 1) if s else "")
        acts.add_row(act, *cells)
    console.print(acts)
    volume = Table("Channel", "Sent", "Peak per hour", title="Sends (mean, min-max)")
    for channel in ("VOICE", "SMS", "EMAIL"):
        volume.add_row(
            channel,
            _span(stats[f"Sends/{channel}"], 1),
            _span(stats[f"PeakSendsPerHour/{channel}"], 1),
        )
    volume.add_row("calls at once (peak)", _span(stats["PeakConcurrentCalls"], 1), "")
    console.print(volume)
    hours = Table("Hour (UTC)", "VOICE", "SMS", "EMAIL", title="Sends per hour (mean)")
    per_hour = result.mean_sends_per_hour()
    for hour, per in per_hour.items():
        hours.add_row(
            report.hour_label(hour, list(per_hour)),
            *(f"{per.get(c, 0):,.1f}" for c in ("VOICE", "SMS", "EMAIL")),
        )
    console.print(hours)
    cost = Table("Item", "Amount", title=f"Estimated cost ({result.currency})")
    cost.add_row("SMS segments", _span(stats["SmsSegments"], 1))
    cost.add_row("Call minutes", _span(stats["CallMinutes"], 1))
    for key in ("SMS", "VOICE", "EMAIL", "Total"):
        cost.add_row(f"cost {key}", _span(stats[f"Cost/{key}"], 2))
    console.print(cost)
    console.print(f"Time to finish: {_span(stats['HoursToFinish'], 2)} hours", highlight=False)
    for warning in result.warnings:
        console.print(f"[bold yellow]capacity:[/] {escape(warning)}", highlight=False)
    console.print(f"Charts: {html}", highlight=False)


def simulate_command(
    ctx: typer.Context,
    journey: Annotated[
        str, typer.Argument(help="A journey JSON file, or 'seed' for the demo's journey.")
    ] = "seed",
    seeds: Annotated[
        int | None, typer.Option("--seeds", min=1, max=1000, help="Runs, one per seed.")
    ] = None,
    first_seed: Annotated[int, typer.Option("--first-seed", help="Seed of the first run.")] = 2023,
    users: Annotated[
        int | None, typer.Option("--users", min=1, help="Synthetic customers per run.")
    ] = None,
    customers: Annotated[
        Path | None, typer.Option("--customers", help="A customer list (CSV/JSON) to use instead.")
    ] = None,
    segment: Annotated[
        str | None, typer.Option("--segment", help="A segment of --db/--app to use instead.")
    ] = None,
    templates: Annotated[
        Path | None, typer.Option("--templates", help="Templates JSON {name: {Type, Request}}.")
    ] = None,
    segments: Annotated[
        Path | None, typer.Option("--segments", help="Segments JSON {name: definition}.")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, max=64, help="Runs at a time.")] = 1,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for forecast.html and forecast.json.")
    ] = Path("simulate-out"),
    json_out: JsonOpt = False,
) -> None:
    """Forecast a journey before launch: reach, sends per hour, time to finish and cost."""
    cli_state = state(ctx)
    settings = cli_state.settings
    sim = settings.simulation
    definition = None if journey == "seed" else _json_file(Path(journey), "journey")
    with tempfile.TemporaryDirectory(prefix="renraku-segment-") as tmp:
        source = str(customers) if customers else None
        if segment is not None:
            path = Path(tmp) / "segment.csv"
            with path.open("w", encoding="utf-8", newline="") as f:
                segment_service.export(cli_state.app, cli_state.app_id(), segment, f)
            source = str(path)
        plan = Plan(
            settings_json=settings_json(settings),
            journey=definition,
            templates=_json_file(templates, "templates"),
            segments=_json_file(segments, "segments"),
            users=users or sim.users,
            customers=source,
            label=f"the segment {segment} of the database" if segment else None,
        )
        result = forecast(
            plan, list(range(first_seed, first_seed + (seeds or sim.seeds))), jobs=jobs
        )
    out.mkdir(parents=True, exist_ok=True)
    html = out / "forecast.html"
    html.write_text(report.forecast_report(result), encoding="utf-8")
    data = result.to_json()
    (out / "forecast.json").write_text(
        json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    emit({**data, "Report": str(html)}, json_out, lambda: render(result, html, users))
