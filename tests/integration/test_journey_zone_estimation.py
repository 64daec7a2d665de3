"""POSTAL_CODE time-zone estimation on the journey clock: quiet hours follow each endpoint's postal
code and country when it has no Demographic.Timezone; an unplaceable one gets the journey's zone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from journey_helpers import delivered, journey_app

from renraku.app import App
from renraku.domain.endpoints import Endpoint
from renraku.engine.worker import Worker
from renraku.services import journeys
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import segments as segment_store
from renraku.store import templates as template_store

QUIET_SMS: dict[str, Any] = {
    "Name": "quiet nights by postal code",
    "StartCondition": {"SegmentStartCondition": {"SegmentId": "people"}},
    "StartActivity": "sms",
    "Activities": {"sms": {"SMS": {"TemplateName": "hello"}}},
    "QuietTime": {"Start": "21:00", "End": "08:00"},
    "WaitForQuietTime": True,
    "Schedule": {"Timezone": "Asia/Tokyo"},
}

# (user, Location): New York, Sydney, Chicago by ZIP+4, and Brazil (several zones, no table).
PEOPLE = [
    ("NewYork", {"Country": "US", "PostalCode": "10001"}),
    ("Sydney", {"Country": "AU", "PostalCode": "2000"}),
    ("Chicago", {"Country": "US", "PostalCode": "60601-1234"}),
    ("SaoPaulo", {"Country": "BR", "PostalCode": "01001-000"}),
]


def _people(app: App) -> str:
    now = app.now_iso()
    with app.store.begin() as conn:
        app_id = str(app_store.create_app(conn, "zones", now=now)["Id"])
        eps = [
            Endpoint(
                app_id=app_id,
                id=f"{user}-SMS",
                channel_type="SMS",
                address=f"+1555000{i:04d}",  # a number no zone can be read from
                user_id=user,
                location=location,
                creation_date=now,
                effective_date=now,
            )
            for i, (user, location) in enumerate(PEOPLE)
        ]
        endpoint_store.upsert_many(conn, eps)
        seg = segment_store.import_segment_for(
            conn, app_id, "people", now=now, import_definition={"Format": "CSV"}
        )
        segment_store.add_members(conn, app_id, seg, [e.id for e in eps])
        template_store.put(conn, app_id, "hello", "SMS", {"Body": "Hello."}, now=now)
    return app_id


def _sent_at(app: App) -> dict[str, str]:
    return {r.endpoint_id.removesuffix("-SMS"): r.recorded_at for r in delivered(app, "SMS")}


def test_quiet_hours_follow_the_postal_code_zone_of_each_endpoint(db_url: str) -> None:
    # 03:00 Z on Thursday 5 March 2026: 22:00 in New York, 21:00 in Chicago (both quiet),
    # 14:00 in Sydney and 12:00 in Tokyo (both open).
    app = journey_app(db_url, start="2026-03-05T03:00:00.000Z")
    try:
        app_id = _people(app)
        definition = {**QUIET_SMS, "TimezoneEstimationMethods": ["POSTAL_CODE"]}
        jid = journeys.create(app, app_id, {**definition, "State": "ACTIVE"})["Id"]
        Worker(app).run_for(timedelta(days=1))
        assert _sent_at(app) == {
            "NewYork": "2026-03-05T13:00:00.000Z",  # 08:00 EST
            "Chicago": "2026-03-05T14:00:00.000Z",  # 08:00 CST
            "Sydney": "2026-03-05T03:00:00.000Z",
            "SaoPaulo": "2026-03-05T03:00:00.000Z",  # no zone known: the journey's (Tokyo)
        }
        assert journeys.metrics(app, app_id, jid)["Metrics"]["DEFERRED_QUIET_TIME"] == "2"
    finally:
        app.close()


def test_without_postal_code_estimation_every_endpoint_uses_the_journey_zone(db_url: str) -> None:
    app = journey_app(db_url, start="2026-03-05T03:00:00.000Z")
    try:
        app_id = _people(app)
        definition = {**QUIET_SMS, "TimezoneEstimationMethods": ["PHONE_NUMBER"]}
        journeys.create(app, app_id, {**definition, "State": "ACTIVE"})
        Worker(app).run_for(timedelta(days=1))
        assert set(_sent_at(app).values()) == {"2026-03-05T03:00:00.000Z"}
    finally:
        app.close()
