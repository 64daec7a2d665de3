"""One run of a journey on the virtual clock with simulated people: set up, run, summarise.

The demo and ``renraku simulate`` share this runner, so a forecast with seed S is the same run as
the demo with seed S: the journey clock is virtual (a discrete-event simulation); the demo only
paces it against the wall clock (``time_scale`` journey seconds per second) and sends SMS and email
through real local servers, which changes nothing the journey sees.

Determinism: the voice simulator draws each callee from its seed, the number and the send key;
:mod:`renraku.simulation.responses` draws each SMS or email response the same way; calls are
never refused for capacity (a refusal is retried on the wall clock): the forecast reports the
peak of concurrent calls instead, to size the capacity.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from renraku.app import App, build_app
from renraku.domain.journeys.validation import problems as journey_problems
from renraku.domain.timefmt import iso, parse_iso
from renraku.engine.clock import VirtualClock
from renraku.engine.worker import Worker
from renraku.errors import InvalidInput
from renraku.importing.synthetic import DEMO_ZONES, write_customer_csv
from renraku.services import flows as flow_service
from renraku.services import imports as import_service
from renraku.services import journeys as journey_service
from renraku.services import segments as segment_service
from renraku.services import templates as template_service
from renraku.settings import Settings
from renraku.simulation.config import SimulationSettings
from renraku.simulation.responses import Responder
from renraku.store import apps as app_store
from renraku.store import calls as call_store
from renraku.store import journeys as journey_store
from renraku.store import participants as participant_store
from renraku.store import reach as reach_store

FLOW_NAME = "seed-press-one"
START_SEGMENT = "seed-customers"


def kit(name: str) -> Any:
    """A JSON file of the seed kit shipped with renraku (flow, journey, templates, segments)."""
    text = resources.files("renraku.simulation").joinpath("kit", name).read_text("utf-8")
    return json.loads(text)


def population_csv(path: Path, users: int, seed: int) -> Path:
    """The demo's customer list: the seed's User1 then ``users - 1`` synthetic users (Japanese
    names, four time zones), every phone on VOICE, fixed endpoint ids; same seed, same file."""
    return write_customer_csv(
        path, users * 3, seed=seed, phone_channel="VOICE", zones=DEMO_ZONES, with_ids=True
    )


def run_settings(
    db_url: str,
    *,
    seed: int,
    start: str,
    base: Settings | None = None,
    email_port: int | None = None,
    sms_base_url: str | None = None,
) -> Settings:
    """Settings of one run: ``base`` (the user's, for the response model, prices and the callee
    model) on a fresh database and the virtual clock; SMS and email go to the given local
    servers, or are recorded."""
    base = base or Settings()
    voice = base.voice.model_copy(deep=True)
    voice.provider = "simulator"
    voice.simulator.seed = seed
    voice.capacity.max_concurrent_calls = 1_000_000  # pacing, not refusals (see module doc)
    voice.capacity.calls_per_second = 1_000_000.0
    voice.allowed_countries = []
    journeys = base.journeys.model_copy(deep=True)
    # Nothing leaves the machine: SMS and email go to the given local servers or are recorded,
    # and custom-channel webhooks are always recorded.
    journeys.record_channels = [
        c for c, real in (("SMS", sms_base_url), ("EMAIL", email_port)) if real is None
    ] + ["CUSTOM"]
    data: dict[str, Any] = {
        "db": db_url,
        "clock": {"mode": "virtual", "virtual_start": start},
        "voice": voice,
        "journeys": journeys,
        "simulation": base.simulation,
        "policies": {"check_suppression": True},
    }
    if email_port is not None:
        data["email"] = {
            "provider": "smtp",
            "from_address": "info@example.com",
            "smtp": {"host": "127.0.0.1", "port": email_port},
        }
    if sms_base_url is not None:
        data["sms"] = {
            "provider": "twilio",
            "twilio": {
                "account_sid": "AC" + "0" * 32,
                "auth_token": "simulator-token",
                "from_number": "+15005550006",
                "base_url": sms_base_url,
                "status_callback": False,
            },
        }
    return Settings(**data)


@dataclass
class Setup:
    """What :func:`prepare` created."""

    app_id: str
    journey_id: str
    imported: int
    users: int
    journey: dict[str, Any]


def prepare(
    app: App,
    customers: Path,
    *,
    journey: Mapping[str, Any] | None = None,
    templates: Mapping[str, Any] | None = None,
    segments: Mapping[str, Any] | None = None,
) -> Setup:
    """Import ``customers`` as the journey's start segment (by name), create the seed's flow, the
    dynamic segment, the templates and the journey (the kit's unless given), and publish it."""
    definition = dict(journey or kit("escalation-journey.json"))
    start = (definition.get("StartCondition") or {}).get("SegmentStartCondition") or {}
    with app.store.begin() as conn:
        app_id = str(app_store.create_app(conn, "demo", now=app.now_iso())["Id"])
    job = import_service.run_import(
        app,
        app_id,
        import_service.ImportOptions(
            source=str(customers),
            segment_name=str(start.get("SegmentId") or START_SEGMENT),
            default_region="JP",
        ),
    )
    flow_service.create(app, app_id, kit("seed-flow.json"), name=FLOW_NAME)
    for name, segment in (segments or kit("segments.json")).items():
        segment_service.create(app, app_id, name, definition=segment)
    for name, spec in (templates or kit("templates.json")).items():
        template_service.create_template(app, app_id, name, spec["Type"], dict(spec["Request"]))
    journey_id = create_journey(app, app_id, definition)
    journey_service.publish(app, app_id, journey_id)
    with app.store.connect() as conn:
        users = len({u for u, *_ in reach_store.user_endpoints(conn, app_id) if u})
    return Setup(app_id, journey_id, int(job["TotalProcessed"]), users, definition)


def stable_journey_id(definition: Mapping[str, Any]) -> str:
    """The same definition gets the same id, hence the same send keys, hence the same draws of
    the simulated callees and responses: what makes a forecast repeat a real run."""
    canonical = json.dumps(definition, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def create_journey(app: App, app_id: str, definition: Mapping[str, Any]) -> str:
    """Store ``definition`` as a DRAFT journey under its stable id (see :func:`stable_journey_id`)."""
    structural = journey_problems(definition)
    if structural:
        raise InvalidInput(structural, subject="journey")
    journey_id = stable_journey_id(definition)
    body = {k: v for k, v in definition.items() if k != "State"}
    with app.store.begin() as conn:
        journey_store.insert(conn, app_id, journey_id, body, now=app.now_iso())
    return journey_id


@dataclass
class Snapshot:
    """Where a run is: shown live by the demo."""

    now: str
    at_activities: dict[str, int]
    active: int
    finished: int
    ringing: int
    sends: dict[str, int]
    responses: dict[str, int]
    done: bool = False


def snapshot(app: App, setup: Setup, responder: Responder, done: bool = False) -> Snapshot:
    now = app.now_iso()
    with app.store.connect() as conn:
        at = participant_store.at_activities(conn, setup.app_id, setup.journey_id)
        counts = participant_store.counts(conn, setup.app_id, setup.journey_id)
        ringing = call_store.count_active(conn, now)
        sends: dict[str, int] = {}
        for (channel, status), n in reach_store.send_counts(
            conn, setup.app_id, setup.journey_id
        ).items():
            if status == "sent":
                sends[channel] = sends.get(channel, 0) + n
    return Snapshot(
        now=now,
        at_activities=at,
        active=counts.get("ACTIVE", 0) + counts.get("PAUSED", 0),
        finished=sum(n for s, n in counts.items() if s not in ("ACTIVE", "PAUSED")),
        ringing=ringing,
        sends=sends,
        responses=dict(responder.done),
        done=done,
    )


def run(
    app: App,
    setup: Setup,
    sim: SimulationSettings,
    seed: int,
    *,
    time_scale: float | None = None,
    on_step: Callable[[Snapshot], None] | None = None,
) -> Snapshot:
    """Run the journey to its end (or the horizon) as a discrete-event simulation on a grid of
    ``tick_seconds``: do all work due now, carry out the responses due now, jump to the grid
    time of the next due item (work due within one tick is done together). With ``time_scale``, no
    faster than that many journey seconds per wall-clock second, and with ``on_step`` at least
    every ``step_minutes`` of journey time (neither changes the result)."""
    clock = app.clock
    if not isinstance(clock, VirtualClock):
        raise TypeError("a scenario runs on the virtual clock")
    worker = Worker(app)
    responder = Responder(app, setup.app_id, setup.journey_id, sim.responses, seed)
    step = timedelta(minutes=sim.step_minutes)
    tick = timedelta(seconds=sim.tick_seconds)
    begin = clock.now()
    end = begin + timedelta(hours=sim.horizon_hours)
    wall0 = time.monotonic()
    while True:
        worker.run_until_idle()
        now = clock.now()
        responder.apply_due(now)
        worker.run_until_idle()
        finished = _finished(app, setup)
        if on_step is not None:
            on_step(snapshot(app, setup, responder, done=finished))
        if finished or now >= end:
            break
        candidates = [end, _next_work(app), responder.next_due()]
        if on_step is not None or time_scale:
            candidates.append(now + step)
        target = _on_grid(min(t for t in candidates if t is not None), begin, tick)
        if time_scale:
            ahead = (target - begin).total_seconds() / time_scale - (time.monotonic() - wall0)
            if ahead > 0:
                time.sleep(ahead)
        clock.set(max(target, now))
    return snapshot(app, setup, responder, done=True)


def _on_grid(moment: datetime, begin: datetime, tick: timedelta) -> datetime:
    """The first grid time (``begin`` + k ticks) at or after ``moment``."""
    ticks = -(-(moment - begin) // tick)
    return begin + max(ticks, 1) * tick


def _next_work(app: App) -> datetime | None:
    with app.store.connect() as conn:
        times = [
            t for t in (participant_store.next_wake(conn), journey_store.next_entry_time(conn)) if t
        ]
    return parse_iso(min(times)) if times else None


def _finished(app: App, setup: Setup) -> bool:
    with app.store.connect() as conn:
        counts = participant_store.counts(conn, setup.app_id, setup.journey_id)
    return bool(counts) and not counts.get("ACTIVE") and not counts.get("PAUSED")


def open_run(db_url: str, settings: Settings) -> App:
    """An App over a fresh database for one run."""
    return build_app(settings.model_copy(update={"db": db_url}))


def start_time(sim: SimulationSettings, start: str | None) -> str:
    return iso(parse_iso(start or sim.start))
