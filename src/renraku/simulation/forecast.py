"""``renraku simulate``: forecast a journey before launch by running it once per seed.

Each seed is one full run of :mod:`renraku.simulation.scenario` on its own SQLite database in a
temporary folder: the population (synthetic for that seed, or a customer list / a real segment
exported once), the voice simulator's callee model, the response model. The figures of all runs
are summarised as mean, min, max and standard deviation. A seed's run is the same run the demo
makes with that seed (same population, same draws, same journey grid), so the forecast can be
checked against a real run.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renraku.settings import Settings
from renraku.simulation import outcome as run_outcome
from renraku.simulation import scenario


@dataclass(frozen=True, slots=True)
class Stat:
    mean: float
    low: float
    high: float
    stdev: float

    def to_json(self) -> dict[str, float]:
        return {
            "Mean": round(self.mean, 3),
            "Min": self.low,
            "Max": self.high,
            "StdDev": round(self.stdev, 3),
        }


def stat(values: Sequence[float]) -> Stat:
    return Stat(
        statistics.fmean(values),
        min(values),
        max(values),
        statistics.pstdev(values) if len(values) > 1 else 0.0,
    )


def figures(run: Mapping[str, Any]) -> dict[str, float]:
    """The flat figures of one run's outcome (``Outcome.to_json()``), by name."""
    out: dict[str, float] = {}
    for k, v in run["Reach"].items():
        out[f"Reach/{k}"] = v
    for channel in ("VOICE", "SMS", "EMAIL"):
        out[f"Sends/{channel}"] = run["Sends"].get(channel, 0)
        hourly = [h.get(channel, 0) for h in run["SendsPerHour"].values()] or [0]
        out[f"PeakSendsPerHour/{channel}"] = max(hourly)
    for k, v in run["Calls"].items():
        out[f"Calls/{k}"] = v
    for act, metrics in run["Activities"].items():
        for name in ("COMPLETED", "SENT", "DEFERRED_QUIET_TIME", "BRANCH_True", "BRANCH_False"):
            if name in metrics:
                out[f"Activity/{act}/{name}"] = metrics[name]
    out["CallMinutes"] = run["CallMinutes"]
    out["SmsSegments"] = run["SmsSegments"]
    out["PeakConcurrentCalls"] = run["PeakConcurrentCalls"]
    out["HoursToFinish"] = run["HoursToFinish"] or 0.0
    for k, v in run["Costs"].items():
        out[f"Cost/{k}"] = v
    return out


@dataclass
class Forecast:
    """The runs of a forecast and their summary."""

    journey_name: str
    population: str
    seeds: list[int]
    runs: list[dict[str, Any]]
    currency: str
    warnings: list[str] = field(default_factory=list)
    stats: dict[str, Stat] = field(default_factory=dict)

    def __post_init__(self) -> None:
        per_run = [figures(r) for r in self.runs]
        names = list(dict.fromkeys(k for f in per_run for k in f))
        self.stats = {n: stat([f.get(n, 0) for f in per_run]) for n in names}

    def mean_sends_per_hour(self) -> dict[str, dict[str, float]]:
        """Sends per hour and channel, averaged over the runs (hours of every run)."""
        total: dict[str, dict[str, float]] = {}
        for r in self.runs:
            for hour, per in r["SendsPerHour"].items():
                slot = total.setdefault(hour, {})
                for channel, n in per.items():
                    slot[channel] = slot.get(channel, 0) + n / len(self.runs)
        return dict(sorted(total.items()))

    def notes(self) -> list[str]:
        return [
            f"Journey: {self.journey_name}",
            f"Population: {self.population}",
            f"Seeds: {', '.join(map(str, self.seeds))}",
            f"Costs in {self.currency}, from the price table [simulation.prices]",
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "Journey": self.journey_name,
            "Population": self.population,
            "Seeds": self.seeds,
            "Currency": self.currency,
            "Warnings": self.warnings,
            "Figures": {k: s.to_json() for k, s in self.stats.items()},
            "Runs": self.runs,
        }


@dataclass(frozen=True)
class Plan:
    """What to forecast (picklable: each seed may run in its own process)."""

    settings_json: str
    journey: dict[str, Any] | None = None
    templates: dict[str, Any] | None = None
    segments: dict[str, Any] | None = None
    users: int = 200
    customers: str | None = None  # a customer list instead of the synthetic population
    label: str | None = None  # how to name that list in the results


def run_seed(plan: Plan, seed: int) -> dict[str, Any]:
    """One run with ``seed`` in a temporary folder; its ``Outcome.to_json()``."""
    base = Settings.model_validate_json(plan.settings_json)
    with tempfile.TemporaryDirectory(prefix="renraku-sim-") as tmp:
        folder = Path(tmp)
        customers = (
            Path(plan.customers)
            if plan.customers
            else scenario.population_csv(folder / "customers.csv", plan.users, seed)
        )
        start = scenario.start_time(base.simulation, None)
        settings = scenario.run_settings(
            f"sqlite:///{folder / 'run.db'}", seed=seed, start=start, base=base
        )
        app = scenario.open_run(settings.db, settings)
        try:
            setup = scenario.prepare(
                app, customers, journey=plan.journey, templates=plan.templates,
                segments=plan.segments,
            )  # fmt: skip
            scenario.run(app, setup, settings.simulation, seed)
            return run_outcome.outcome(app, setup, settings.simulation, seed, start).to_json()
        finally:
            app.close()


def forecast(plan: Plan, seeds: Sequence[int], *, jobs: int = 1) -> Forecast:
    """Run every seed (``jobs`` processes at a time) and summarise."""
    if jobs > 1 and len(seeds) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(seeds))) as pool:
            runs = list(pool.map(run_seed, [plan] * len(seeds), seeds))
    else:
        runs = [run_seed(plan, s) for s in seeds]
    base = Settings.model_validate_json(plan.settings_json)
    journey = plan.journey or scenario.kit("escalation-journey.json")
    population = (
        plan.label or f"the customer list {plan.customers}"
        if plan.customers
        else f"{plan.users} synthetic customers per seed (the demo's population)"
    )
    result = Forecast(
        journey_name=str(journey.get("Name") or "journey"),
        population=population,
        seeds=list(seeds),
        runs=runs,
        currency=base.simulation.prices.currency,
    )
    result.warnings = capacity_warnings(result.stats, base)
    return result


def capacity_warnings(stats: Mapping[str, Stat], settings: Settings) -> list[str]:
    """Where the forecast's peaks exceed the configured capacity (the forecast itself does not
    hold calls back for capacity, so a real run would take longer there)."""
    out = []
    calls = stats.get("PeakConcurrentCalls")
    cap = settings.voice.capacity.max_concurrent_calls
    if calls is not None and calls.high > cap:
        out.append(
            f"up to {calls.high:,.0f} calls at once, above [voice.capacity] max_concurrent_calls"
            f" = {cap}: calls would queue and the journey take longer"
        )
    for channel, rate in settings.journeys.channel_rates.items():
        peak = stats.get(f"PeakSendsPerHour/{channel}")
        if peak is not None and peak.high > rate * 3600:
            out.append(
                f"up to {peak.high:,.0f} {channel} sends in an hour, above [journeys.channel_rates]"
                f" {channel} = {rate}/s ({rate * 3600:,.0f} an hour)"
            )
    return out


def settings_json(settings: Settings) -> str:
    """``settings`` as JSON for :class:`Plan`, secrets included (they stay in this machine)."""
    data = settings.model_dump(mode="python")
    return json.dumps(_reveal(data), default=str)


def _reveal(value: Any) -> Any:
    from pydantic import SecretStr

    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Mapping):
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value
