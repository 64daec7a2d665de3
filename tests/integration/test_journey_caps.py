"""TotalCap over the journey's life: a participant that re-enters gets no fresh allowance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from journey_helpers import delivered, journey_app, seed_customers

from renraku.engine.worker import Worker
from renraku.services import journeys

EVERY_SIX_HOURS_SMS: dict[str, Any] = {
    "Name": "sms on every refresh",
    "StartCondition": {"SegmentStartCondition": {"SegmentId": "seed-customers"}},
    "StartActivity": "sms",
    "RefreshFrequency": "PT6H",
    "Activities": {"sms": {"SMS": {"TemplateName": "seed-sms"}}},
}


def test_total_cap_holds_across_reentries_and_later_entries_are_skipped(db_url: str) -> None:
    app = journey_app(db_url)
    try:
        app_id, _ = seed_customers(app, 2)
        definition = {
            **EVERY_SIX_HOURS_SMS,
            "Limits": {"EndpointReentryCap": 0, "TotalCap": 2},
        }
        jid = journeys.create(app, app_id, {**definition, "State": "ACTIVE"})["Id"]
        Worker(app).run_for(timedelta(hours=19))
        # Entries at 0, 6, 12 and 18 h: the first two send, the other two hit the cap.
        people = journeys.participants(app, app_id, jid)
        assert {p["Entry"] for p in people} == {4}
        assert sorted(r.endpoint_id for r in delivered(app, "SMS")) == [
            "User1-SMS",
            "User1-SMS",
            "User2-SMS",
            "User2-SMS",
        ]
        totals = journeys.metrics(app, app_id, jid)["Metrics"]
        assert totals["TOTAL_CAP"] == "4"
        assert totals["SENT"] == "4"
    finally:
        app.close()


def test_without_total_cap_every_reentry_sends(db_url: str) -> None:
    app = journey_app(db_url)
    try:
        app_id, _ = seed_customers(app, 1)
        definition = {**EVERY_SIX_HOURS_SMS, "Limits": {"EndpointReentryCap": 0}}
        jid = journeys.create(app, app_id, {**definition, "State": "ACTIVE"})["Id"]
        Worker(app).run_for(timedelta(hours=19))
        assert len(delivered(app, "SMS")) == 4
        assert "TOTAL_CAP" not in journeys.metrics(app, app_id, jid)["Metrics"]
    finally:
        app.close()
