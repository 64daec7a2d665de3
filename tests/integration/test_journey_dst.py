"""Quiet hours hold in each endpoint's local time across daylight-saving changes."""

from __future__ import annotations

from datetime import timedelta

from journey_helpers import delivered, journey_app, seed_customers

from renraku.engine.worker import Worker
from renraku.services import journeys

QUIET_SMS_THEN_EMAIL = {
    "Name": "quiet nights",
    "StartCondition": {"SegmentStartCondition": {"SegmentId": "seed-customers"}},
    "StartActivity": "sms",
    "Activities": {
        "sms": {"SMS": {"TemplateName": "seed-sms", "NextActivity": "wait"}},
        "wait": {"Wait": {"WaitTime": {"WaitFor": "PT13H"}, "NextActivity": "email"}},
        "email": {"EMAIL": {"TemplateName": "seed-email"}},
    },
    "QuietTime": {"Start": "21:00", "End": "08:00"},
    "WaitForQuietTime": True,
}


def test_quiet_hours_in_new_york_hold_across_the_spring_forward_night(db_url: str) -> None:
    # 22:00 EST on Saturday 7 March 2026; at 02:00 on the 8th clocks go forward to 03:00 EDT.
    app = journey_app(db_url, start="2026-03-08T03:00:00.000Z")
    try:
        app_id, _ = seed_customers(app, 3, timezone="America/New_York", phone_prefix="+1212555")
        created = journeys.create(app, app_id, QUIET_SMS_THEN_EMAIL)
        journeys.publish(app, app_id, created["Id"])
        Worker(app).run_for(timedelta(days=3))
        sms_times = {r.recorded_at for r in delivered(app, "SMS")}
        email_times = {r.recorded_at for r in delivered(app, "EMAIL")}
        assert sms_times == {"2026-03-08T12:00:00.000Z"}  # 08:00 EDT (13:00 Z would be 09:00)
        # 13 h later is 21:00 EDT: quiet again, so 08:00 EDT the next morning.
        assert email_times == {"2026-03-09T12:00:00.000Z"}
    finally:
        app.close()


def test_quiet_hours_in_london_hold_across_the_autumn_fall_back_night(db_url: str) -> None:
    # 23:30 BST on Saturday 24 October 2026; at 02:00 on the 25th clocks go back to 01:00 GMT.
    app = journey_app(db_url, start="2026-10-24T22:30:00.000Z")
    try:
        app_id, _ = seed_customers(app, 2, timezone="Europe/London", phone_prefix="+4420")
        created = journeys.create(app, app_id, QUIET_SMS_THEN_EMAIL)
        journeys.publish(app, app_id, created["Id"])
        Worker(app).run_for(timedelta(days=2))
        assert {r.recorded_at for r in delivered(app, "SMS")} == {
            "2026-10-25T08:00:00.000Z"
        }  # 08:00 GMT
        assert {r.recorded_at for r in delivered(app, "EMAIL")} == {"2026-10-26T08:00:00.000Z"}
        metrics = journeys.metrics(app, app_id, created["Id"])["Metrics"]
        assert metrics["DEFERRED_QUIET_TIME"] == "4"
    finally:
        app.close()
