"""The seed's journey, end to end on the virtual clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

from journey_helpers import (
    EXAMPLES,
    delivered,
    journey_app,
    press_one,
    seed_customers,
    voice_seed_journey,
)

from renraku.engine.worker import Worker
from renraku.services import endpoints as endpoint_service
from renraku.services import journeys


def test_seed_journey_with_voice_calls_escalates_only_users_who_did_not_press_one(
    db_url: str,
) -> None:
    app = journey_app(db_url)
    try:
        app_id, users = seed_customers(app, 12)
        pressed = users[:4]
        press_one(app, [f"+8190{i:08d}" for i in range(1, 5)])
        created = journeys.create(app, app_id, voice_seed_journey())
        journeys.publish(app, app_id, created["Id"])
        Worker(app, batch_size=5).run_for(timedelta(days=1))

        calls = delivered(app, "VOICE")
        sms = delivered(app, "SMS")
        email = delivered(app, "EMAIL")
        assert sorted(r.endpoint_id for r in calls) == sorted(f"{u}-VOICE" for u in users)
        escalated = sorted(f"{u}-SMS" for u in users if u not in pressed)
        assert sorted(r.endpoint_id for r in sms) == escalated
        assert sorted(r.endpoint_id for r in email) == sorted(
            f"{u}-EMAIL" for u in users if u not in pressed
        )
        for user in pressed:
            eps = {e.channel_type: e for e in endpoint_service.user_endpoints(app, app_id, user)}
            assert eps["VOICE"].attributes["CallStatus"] == ["COMPLETED"]
            assert eps["EMAIL"].attributes["CallStatus"] == ["CANCELED"]
        shown = journeys.show(app, app_id, created["Id"])
        assert shown["State"] == "COMPLETED"
        metrics = journeys.metrics(app, app_id, created["Id"])["Metrics"]
        assert metrics["ENDPOINT_ENTERED"] == "12"
        assert metrics["ENDPOINT_FINISHED"] == "12"
        assert metrics["SENT"] == str(12 + 8 + 8)
    finally:
        app.close()


def test_seed_journey_as_pinpoint_json_follows_call_status_set_by_the_callback(db_url: str) -> None:
    """The seed verbatim: a CUSTOM call, then the test acts as the seed's Lambda and marks the
    users who pressed 1 (CallStatus COMPLETED on the call endpoint, CANCELED on the others)."""
    app = journey_app(db_url, start="2026-03-05T01:00:00.000Z")  # 10:00 in Tokyo
    try:
        app_id, users = seed_customers(app, 6, call_channel="CUSTOM")
        definition = json.loads((EXAMPLES / "seed-journey.json").read_text())
        created = journeys.create(app, app_id, definition)
        journeys.publish(app, app_id, created["Id"])
        worker = Worker(app)
        worker.run_for(timedelta(minutes=10))
        assert len(delivered(app, "CUSTOM")) == 6
        for user in users[:2]:  # what the seed's Lambda does when the callee presses 1
            for ep in endpoint_service.user_endpoints(app, app_id, user):
                status = "COMPLETED" if ep.channel_type == "CUSTOM" else "CANCELED"
                endpoint_service.update_endpoint(
                    app, app_id, ep.id, {"Attributes": {"CallStatus": [status]}}
                )
        worker.run_for(timedelta(days=1))
        assert sorted(r.endpoint_id for r in delivered(app, "SMS")) == [
            f"{u}-SMS" for u in users[2:]
        ]
        assert sorted(r.endpoint_id for r in delivered(app, "EMAIL")) == [
            f"{u}-EMAIL" for u in users[2:]
        ]
    finally:
        app.close()
