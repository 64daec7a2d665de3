"""Sending policy under load: users in 20 time zones, over a daylight-saving change (the US
moves its clocks on 2026-03-08) on the virtual clock, a journey of four SMS with quiet time,
open hours (closed on Sundays), a closed day, a cross-journey frequency cap, users opted out from
the start and users who opt out mid-journey. Checked against what the providers were handed:
zero sends in quiet hours or on closed days, zero to opted-out endpoints, caps never exceeded.

CI size: RENRAKU_POLICY_USERS (default 1,000); the issue's full run is 100,000.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from journey_helpers import journey_app

from renraku.channels import recording
from renraku.domain.endpoints import Endpoint
from renraku.domain.timefmt import parse_iso
from renraku.engine.worker import Worker
from renraku.services import journeys
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import segments as segment_store
from renraku.store import templates as template_store

USERS = int(os.environ.get("RENRAKU_POLICY_USERS", "1000"))
START = "2026-03-06T12:00:00.000Z"  # a Friday; the US springs forward on Sunday 8 March
ZONES = [
    "Asia/Tokyo", "Asia/Seoul", "Asia/Shanghai", "Asia/Kolkata", "Asia/Dubai", "Europe/Moscow",
    "Europe/Berlin", "Europe/London", "Atlantic/Reykjavik", "America/Sao_Paulo",
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "Australia/Sydney",
    "Pacific/Auckland", "Africa/Johannesburg",
]  # fmt: skip
QUIET = (21, 9)  # 21:00-09:00 local
OPEN = (8, 20)  # open hours 08:00-20:00 local, Monday to Saturday
CLOSED_DAY = "2026-03-10"  # a Tuesday, closed for SMS (local wall-clock day)
CAP = 2  # SMS per user per 24 hours, across journeys

WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"]


def _definition(segment_id: str) -> dict[str, object]:
    def sms(next_id: str) -> dict[str, object]:
        return {"SMS": {"TemplateName": "policy-sms", "NextActivity": next_id}}

    def wait(hours: int, next_id: str) -> dict[str, object]:
        return {"Wait": {"WaitTime": {"WaitFor": f"PT{hours}H"}, "NextActivity": next_id}}

    return {
        "Name": "policy under load",
        "StartCondition": {"SegmentStartCondition": {"SegmentId": segment_id}},
        "StartActivity": "sms1",
        "QuietTime": {"Start": f"{QUIET[0]}:00", "End": f"0{QUIET[1]}:00"},
        "WaitForQuietTime": True,
        "OpenHours": {
            "SMS": {
                d: [{"StartTime": f"0{OPEN[0]}:00", "EndTime": f"{OPEN[1]}:00"}] for d in WEEKDAYS
            }
        },
        "ClosedDays": {
            "SMS": [
                {
                    "Name": "holiday",
                    "StartDateTime": f"{CLOSED_DAY}T00:00:00",
                    "EndDateTime": f"{CLOSED_DAY}T23:59:59",
                }
            ]
        },
        "Activities": {
            "sms1": sms("w1"),
            "w1": wait(1, "sms2"),
            "sms2": sms("w2"),
            "w2": wait(1, "sms3"),  # a third SMS within 24 hours meets the cap
            "sms3": sms("w3"),
            "w3": wait(40, "sms4"),  # lands on the closed Sunday: sent Monday, after the change
            "sms4": sms("done"),
            "done": {"End": {}},
        },
    }


def test_no_send_breaks_quiet_hours_closed_days_opt_outs_or_caps_across_zones_and_dst(
    pg_url: str,
) -> None:
    app = journey_app(pg_url, start=START, frequency_caps={"SMS": CAP}, batch_size=500)
    try:
        now = app.now_iso()
        zone_of: dict[str, str] = {}
        with app.store.begin() as conn:
            app_id = app_store.create_app(conn, "policy", now=now)["Id"]
            eps = []
            for i in range(USERS):
                zone = ZONES[i % len(ZONES)]
                eid = f"u{i}-SMS"
                zone_of[eid] = zone
                eps.append(
                    Endpoint(
                        app_id=app_id,
                        id=eid,
                        channel_type="SMS",
                        address=f"+8190{i:08d}",
                        user_id=f"u{i}",
                        demographic={"Timezone": zone},
                        opt_out="ALL" if i % 10 == 3 else "NONE",
                        creation_date=now,
                        effective_date=now,
                    )
                )
            endpoint_store.upsert_many(conn, eps)
            seg = segment_store.import_segment_for(
                conn, app_id, "policy-users", now=now, import_definition={"Format": "CSV"}
            )
            segment_store.add_members(conn, app_id, seg, [e.id for e in eps])
            template_store.put(conn, app_id, "policy-sms", "SMS", {"Body": "Hello"}, now=now)
        created = journeys.create(app, app_id, _definition(seg))
        journeys.publish(app, app_id, created["Id"])

        worker = Worker(app)
        worker.run_for(timedelta(hours=20))
        # some users opt out mid-journey (after their first message, before the rest)
        opted_mid = {e.id for e in eps if int(e.id[1:].split("-")[0]) % 10 == 7}
        opted_at = app.now_iso()
        with app.store.begin() as conn:
            found = endpoint_store.by_ids(conn, app_id, sorted(opted_mid))
            endpoint_store.upsert_many(
                conn, [replace(e, opt_out="ALL", effective_date=opted_at) for e in found]
            )
        worker.run_for(timedelta(days=6))

        with app.store.connect() as conn:
            sent = recording.deliveries(conn, channel="SMS")
    finally:
        app.close()

    assert len(sent) > USERS  # the journey did run: most users got several messages
    by_user: dict[str, list[datetime]] = {}
    for d in sent:
        at = parse_iso(d.recorded_at)
        local = at.astimezone(ZoneInfo(zone_of[d.endpoint_id]))
        assert local.hour < QUIET[0], (d.endpoint_id, local)
        assert local.hour >= QUIET[1], (d.endpoint_id, local)
        assert OPEN[0] <= local.hour < OPEN[1], (d.endpoint_id, local)
        assert local.weekday() != 6, (d.endpoint_id, local)  # Sunday: no open hours
        assert local.date().isoformat() != CLOSED_DAY, (d.endpoint_id, local)
        n = int(d.endpoint_id[1:].split("-")[0])
        assert n % 10 != 3, d.endpoint_id  # opted out from the start
        if n % 10 == 7:
            assert d.recorded_at < opted_at, (d.endpoint_id, d.recorded_at)
        by_user.setdefault(d.endpoint_id, []).append(at)
    for eid, times in by_user.items():
        times.sort()
        for i, t in enumerate(times):
            in_day = [u for u in times[i:] if u - t < timedelta(hours=24)]
            assert len(in_day) <= CAP, (eid, times)
    # the cap was reached (two messages within a day), never passed
    assert any(
        len(ts) >= CAP and ts[CAP - 1] - ts[0] < timedelta(hours=24) for ts in by_user.values()
    )
    # the daylight-saving change was crossed by users in US zones who were sent to after it
    dst = datetime(2026, 3, 8, 10, tzinfo=UTC)
    assert any(
        zone_of[e].startswith("America/New_York") and any(t > dst for t in ts)
        for e, ts in by_user.items()
    )
