"""ExitCriteria are checked before every step: a participant whose exit condition came true while
it waited leaves when the wait ends, without the send that follows; so does one whose call marked
it reached right before a send."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from journey_helpers import delivered, journey_app, press_one, seed_customers
from sqlalchemy import select

from renraku.app import App
from renraku.engine.worker import Worker
from renraku.services import endpoints as endpoint_service
from renraku.services import journeys
from renraku.store.schema import events

START = "2026-03-05T01:00:00.000Z"  # 10:00 in Tokyo
REACHED = {
    "Conditions": [
        {
            "SegmentDimensions": {
                "Attributes": {
                    "CallStatus": {"AttributeType": "INCLUSIVE", "Values": ["COMPLETED"]}
                }
            }
        }
    ]
}
WAIT_THEN_SMS: dict[str, Any] = {
    "Name": "wait then sms unless reached",
    "StartCondition": {"SegmentStartCondition": {"SegmentId": "seed-customers"}},
    "StartActivity": "wait",
    "Activities": {
        "wait": {"Wait": {"WaitTime": {"WaitFor": "PT2H"}, "NextActivity": "sms"}},
        "sms": {"SMS": {"TemplateName": "seed-sms"}},
    },
    "ExitCriteria": REACHED,
    "State": "ACTIVE",
}


def _statuses(app: App, app_id: str, jid: str) -> dict[str, str]:
    return {p["UserId"]: p["Status"] for p in journeys.participants(app, app_id, jid)}


def _exits(app: App, jid: str) -> list[tuple[str, str]]:
    with app.store.connect() as conn:
        rows = conn.execute(
            select(events.c.user_id, events.c.occurred_at).where(
                (events.c.journey_id == jid) & (events.c.kind == "journey.exited")
            )
        )
        return [(r.user_id, r.occurred_at) for r in rows]


def test_a_segment_condition_that_comes_true_during_a_wait_exits_before_the_send(
    db_url: str,
) -> None:
    app = journey_app(db_url, start=START)
    try:
        app_id, _ = seed_customers(app, 2)
        jid = journeys.create(app, app_id, WAIT_THEN_SMS)["Id"]
        worker = Worker(app)
        worker.run_for(timedelta(minutes=30))
        endpoint_service.update_endpoint(
            app, app_id, "User1-SMS", {"Attributes": {"CallStatus": ["COMPLETED"]}}
        )
        worker.run_for(timedelta(hours=3))
        assert [r.endpoint_id for r in delivered(app, "SMS")] == ["User2-SMS"]
        assert _statuses(app, app_id, jid) == {"User1": "EXITED", "User2": "FINISHED"}
        # It left when its wait ended (it was not woken by the update), before the SMS step.
        assert _exits(app, jid) == [("User1", "2026-03-05T03:00:00.000Z")]
    finally:
        app.close()


def test_an_event_condition_that_comes_true_during_a_wait_exits_before_the_send(
    db_url: str,
) -> None:
    app = journey_app(db_url, start=START)
    try:
        app_id, _ = seed_customers(app, 2)
        paid = {
            "Conditions": [
                {
                    "EventCondition": {
                        "Dimensions": {
                            "EventType": {"DimensionType": "INCLUSIVE", "Values": ["paid"]}
                        }
                    }
                }
            ]
        }
        jid = journeys.create(app, app_id, {**WAIT_THEN_SMS, "ExitCriteria": paid})["Id"]
        worker = Worker(app)
        worker.run_for(timedelta(minutes=30))
        # The event is stored during the wait; whether or not it wakes the participant, the
        # check before the next step sees it.
        with app.store.begin() as conn:
            conn.execute(
                events.insert().values(
                    app_id=app_id,
                    kind="custom",
                    occurred_at="2026-03-05T01:45:00.000Z",
                    user_id="User2",
                    data={"EventType": "paid"},
                )
            )
        worker.run_for(timedelta(hours=3))
        assert [r.endpoint_id for r in delivered(app, "SMS")] == ["User1-SMS"]
        assert _statuses(app, app_id, jid) == {"User1": "FINISHED", "User2": "EXITED"}
        assert _exits(app, jid) == [("User2", "2026-03-05T03:00:00.000Z")]
    finally:
        app.close()


def test_a_call_that_marks_the_participant_reached_stops_the_send_right_after_it(
    db_url: str,
) -> None:
    app = journey_app(db_url, start=START)
    try:
        app_id, _ = seed_customers(app, 2)
        definition = {
            **WAIT_THEN_SMS,
            "StartActivity": "call",
            "Activities": {
                "call": {
                    "VOICE": {
                        "ContactFlowId": "seed-press-one",
                        "MarkReached": True,
                        "NextActivity": "sms",
                    }
                },
                "sms": {"SMS": {"TemplateName": "seed-sms"}},
            },
        }
        press_one(app, ["+819000000001"])  # User1 presses 1; User2's call is not answered
        jid = journeys.create(app, app_id, definition)["Id"]
        Worker(app).run_for(timedelta(hours=2))
        assert [r.endpoint_id for r in delivered(app, "SMS")] == ["User2-SMS"]
        assert _statuses(app, app_id, jid) == {"User1": "EXITED", "User2": "FINISHED"}
    finally:
        app.close()
