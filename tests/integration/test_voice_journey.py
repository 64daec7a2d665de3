"""VOICE activities in journeys on the voice simulator and the virtual clock: the seed's journey
with the seed's flow, the callees' choices deciding who escalates to SMS and email."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

from journey_helpers import EXAMPLES, delivered, seed_customers, voice_seed_journey

from renraku.app import App, build_app
from renraku.channels.voice_simulator import SimulatedVoice, parse_script
from renraku.domain.timefmt import parse_iso
from renraku.engine.config import JourneySettings
from renraku.engine.worker import Worker
from renraku.services import calls as call_service
from renraku.services import endpoints as endpoint_service
from renraku.services import flows as flow_service
from renraku.services import journeys
from renraku.services.call_functions import LocalInvoker
from renraku.settings import ClockSettings, Settings
from renraku.store import events as event_store

PHONE = "+8190{:08d}"


def voice_app(migrated_db_url: str) -> App:
    """The virtual clock from 10:00 in Tokyo; VOICE on the simulator, SMS and EMAIL recorded."""
    settings = Settings(
        db=migrated_db_url,
        clock=ClockSettings(mode="virtual", virtual_start="2026-03-05T01:00:00.000Z"),
        journeys=JourneySettings(record_channels=["SMS", "EMAIL", "CUSTOM"]),
    )
    return build_app(settings)


def _simulate(app: App, script: dict[str, Any], handlers: dict[str, Any] | None = None) -> None:
    voice = app.channels["VOICE"]
    assert isinstance(voice, SimulatedVoice)
    voice._script = parse_script(script)
    voice.invoker = LocalInvoker(handlers or {})


def _flow(app: App, app_id: str, name: str) -> None:
    data = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    flow_service.create(app, app_id, data, name="seed-press-one")


def test_the_seed_journey_calls_everyone_and_escalates_only_those_who_did_not_press_1(
    migrated_db_url: str,
) -> None:
    app = voice_app(migrated_db_url)
    try:
        app_id, users = seed_customers(app, 8)
        _flow(app, app_id, "seed-flow-mark-reached.json")
        _simulate(
            app,
            {
                "numbers": {
                    PHONE.format(1): {"outcome": "answered", "digits": ["1"]},
                    PHONE.format(2): {"outcome": "answered", "digits": ["1"]},
                    PHONE.format(3): {"outcome": "answered"},  # lets the prompt time out
                    PHONE.format(4): {"outcome": "answered", "digits": ["9"]},
                    PHONE.format(5): {"outcome": "busy"},
                    PHONE.format(6): {"outcome": "voicemail"},
                    PHONE.format(7): {"outcome": "answered", "hangup_after": 2},
                },
                "default": {"outcome": "no-answer"},
            },
        )
        definition = voice_seed_journey()
        definition["Activities"]["call"]["VOICE"].pop("MarkReached")  # the flow marks instead
        created = journeys.create(app, app_id, definition)
        journeys.publish(app, app_id, created["Id"])
        Worker(app, batch_size=10).run_for(timedelta(days=1))

        calls = {c["CustomerAddress"]: c for c in call_service.list_calls(app, app_id)}
        assert len(calls) == 8
        outcomes = [calls[PHONE.format(i)]["Outcome"] for i in range(1, 9)]
        assert outcomes == [
            "ANSWERED",
            "ANSWERED",
            "ANSWERED",
            "ANSWERED",
            "BUSY",
            "VOICEMAIL",
            "ANSWERED",
            "NO_ANSWER",
        ]
        pressed = {"User1", "User2"}
        sms = sorted(r.endpoint_id for r in delivered(app, "SMS"))
        assert sms == sorted(f"{u}-SMS" for u in users if u not in pressed)
        for user in pressed:
            eps = {e.channel_type: e for e in endpoint_service.user_endpoints(app, app_id, user)}
            assert eps["VOICE"].attributes["CallStatus"] == ["COMPLETED"]
            assert eps["SMS"].attributes["CallStatus"] == ["CANCELED"]
            assert eps["EMAIL"].attributes["CallStatus"] == ["CANCELED"]
        with app.store.connect() as conn:
            timeline = event_store.timeline(conn, app_id, user_id="User1")
        kinds = [e["Kind"] for e in timeline]
        assert kinds.index("call.placed") < kinds.index("call.completed")
        outcome = next(e for e in timeline if e["Kind"] == "call.outcome")
        assert (outcome["Data"]["Outcome"], outcome["Data"]["Digits"]) == ("ANSWERED", "1")
        assert journeys.show(app, app_id, created["Id"])["State"] == "COMPLETED"
    finally:
        for channel in app.channels.values():  # recording transports keep their own engines
            close = getattr(channel, "close", None)
            if callable(close):
                close()
        app.close()


def test_a_voice_retry_policy_places_a_second_call_an_interval_later(
    migrated_sqlite_url: str,
) -> None:
    app = voice_app(migrated_sqlite_url)
    try:
        app_id, _users = seed_customers(app, 2)
        _flow(app, app_id, "seed-flow-mark-reached.json")
        _simulate(
            app,
            {
                "numbers": {PHONE.format(1): {"outcome": "answered", "digits": ["1"]}},
                "default": {"outcome": "no-answer"},
            },
        )
        definition = voice_seed_journey()
        voice = definition["Activities"]["call"]["VOICE"]
        voice.pop("MarkReached")
        voice["Retry"] = {"MaxAttempts": 3, "Interval": "PT2H", "On": ["NO_ANSWER", "BUSY"]}
        created = journeys.create(app, app_id, definition)
        journeys.publish(app, app_id, created["Id"])
        Worker(app, batch_size=10).run_for(timedelta(days=1))

        calls = sorted(call_service.list_calls(app, app_id), key=lambda c: c["PlacedAt"])
        by_number: dict[str, list[dict[str, Any]]] = {}
        for call in calls:
            by_number.setdefault(call["CustomerAddress"], []).append(call)
        assert [c["Outcome"] for c in by_number[PHONE.format(1)]] == ["ANSWERED"]
        retried = by_number[PHONE.format(2)]
        assert [c["Outcome"] for c in retried] == ["NO_ANSWER"] * 3
        assert len({c["SendKey"] for c in retried}) == 3
        gaps = [
            (parse_iso(b["PlacedAt"]) - parse_iso(a["PlacedAt"])).total_seconds()
            for a, b in itertools.pairwise(retried)
        ]
        assert all(gap >= 2 * 3600 for gap in gaps)
    finally:
        for channel in app.channels.values():
            close = getattr(channel, "close", None)
            if callable(close):
                close()
        app.close()
