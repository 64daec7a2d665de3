"""Splits on message events: "call answered" after a VOICE activity."""

from __future__ import annotations

from datetime import timedelta

from journey_helpers import delivered, journey_app, seed_customers

from renraku.channels import recording
from renraku.engine.worker import Worker
from renraku.services import journeys


def test_a_split_on_call_answered_sends_sms_only_to_those_who_did_not_answer(db_url: str) -> None:
    app = journey_app(db_url)
    try:
        app_id, _ = seed_customers(app, 3)
        with app.store.begin() as conn:
            recording.script(conn, "+819000000002", "NO_ANSWER", duration_seconds=25)
            recording.script(conn, "+819000000003", "BUSY", duration_seconds=5)
        definition = {
            "Name": "answered?",
            "StartCondition": {"SegmentStartCondition": {"SegmentId": "seed-customers"}},
            "StartActivity": "call",
            "Activities": {
                "call": {"VOICE": {"ContactFlowId": "f", "NextActivity": "answered"}},
                "answered": {
                    "ConditionalSplit": {
                        "Condition": {
                            "Conditions": [
                                {
                                    "EventCondition": {
                                        "MessageActivity": "call",
                                        "Dimensions": {
                                            "EventType": {
                                                "DimensionType": "INCLUSIVE",
                                                "Values": ["CALL_ANSWERED"],
                                            }
                                        },
                                    }
                                }
                            ]
                        },
                        "EvaluationWaitTime": {"WaitFor": "PT10M"},
                        "TrueActivity": "done",
                        "FalseActivity": "sms",
                    }
                },
                "sms": {"SMS": {"TemplateName": "seed-sms", "NextActivity": "done"}},
                "done": {"End": {}},
            },
        }
        jid = journeys.create(app, app_id, definition)["Id"]
        journeys.publish(app, app_id, jid)
        Worker(app).run_for(timedelta(hours=1))
        assert sorted(r.endpoint_id for r in delivered(app, "SMS")) == ["User2-SMS", "User3-SMS"]
        metrics = {
            a["JourneyActivityId"]: a["Metrics"]
            for a in journeys.metrics(app, app_id, jid)["Activities"]
        }
        assert metrics["answered"]["BRANCH_True"] == "1"
        assert metrics["answered"]["BRANCH_False"] == "2"
        assert metrics["call"]["CALL_BUSY"] == "1"
    finally:
        app.close()
