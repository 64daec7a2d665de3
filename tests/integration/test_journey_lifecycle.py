"""Lifecycle, versions, exit criteria, event waits, pacing, re-entry and concurrent workers."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from journey_helpers import delivered, journey_app, seed_customers

from renraku.channels import recording
from renraku.engine import entry
from renraku.engine.worker import Worker
from renraku.services import endpoints as endpoint_service
from renraku.services import events as event_service
from renraku.services import journeys

WAIT_THEN_SMS: dict[str, Any] = {
    "Name": "wait then sms",
    "StartCondition": {"SegmentStartCondition": {"SegmentId": "seed-customers"}},
    "StartActivity": "wait",
    "Activities": {
        "wait": {"Wait": {"WaitTime": {"WaitFor": "PT2H"}, "NextActivity": "sms"}},
        "sms": {"SMS": {"TemplateName": "seed-sms"}},
    },
}


SMS_ONLY: dict[str, Any] = {
    **WAIT_THEN_SMS,
    "StartActivity": "sms",
    "Activities": {"sms": {"SMS": {"TemplateName": "seed-sms"}}},
}


def test_editing_an_active_journey_makes_a_version_that_only_new_entrants_follow(
    db_url: str,
) -> None:
    app = journey_app(db_url)
    try:
        app_id, _ = seed_customers(app, 2)
        jid = journeys.create(app, app_id, WAIT_THEN_SMS)["Id"]
        journeys.publish(app, app_id, jid)
        Worker(app).run_for(timedelta(minutes=1))
        edited = {
            **WAIT_THEN_SMS,
            "Activities": {
                **WAIT_THEN_SMS["Activities"],
                "sms": {"EMAIL": {"TemplateName": "seed-email"}},
            },
        }
        assert journeys.update(app, app_id, jid, edited)["Version"] == 2
        Worker(app).run_for(timedelta(hours=3))
        assert len(delivered(app, "SMS")) == 2  # those inside keep version 1
        assert delivered(app, "EMAIL") == []
        people = journeys.participants(app, app_id, jid)
        assert {p["Version"] for p in people} == {1}
    finally:
        app.close()


def test_exit_criteria_on_an_event_remove_a_participant_before_its_next_send(db_url: str) -> None:
    app = journey_app(db_url)
    try:
        app_id, _ = seed_customers(app, 2)
        definition = {
            **WAIT_THEN_SMS,
            "ExitCriteria": {
                "Conditions": [
                    {
                        "EventCondition": {
                            "Dimensions": {
                                "EventType": {"DimensionType": "INCLUSIVE", "Values": ["paid"]}
                            }
                        }
                    }
                ]
            },
        }
        jid = journeys.create(app, app_id, definition)["Id"]
        journeys.publish(app, app_id, jid)
        worker = Worker(app)
        worker.run_for(timedelta(minutes=30))
        result = event_service.put_events(app, app_id, [{"UserId": "User1", "EventType": "paid"}])
        assert result["Woken"] == 1
        worker.run_for(timedelta(hours=3))
        assert [r.endpoint_id for r in delivered(app, "SMS")] == ["User2-SMS"]
        assert {p["UserId"]: p["Status"] for p in journeys.participants(app, app_id, jid)} == {
            "User1": "EXITED",
            "User2": "FINISHED",
        }
    finally:
        app.close()


def test_wait_for_event_continues_when_the_event_is_put_and_times_out_otherwise(
    db_url: str,
) -> None:
    app = journey_app(db_url)
    try:
        app_id, _ = seed_customers(app, 2)
        definition = {
            **WAIT_THEN_SMS,
            "StartActivity": "listen",
            "Activities": {
                "listen": {
                    "WaitForEvent": {
                        "EventFilter": {
                            "Dimensions": {
                                "EventType": {"DimensionType": "INCLUSIVE", "Values": ["clicked"]}
                            }
                        },
                        "Timeout": {"WaitFor": "P1D"},
                        "NextActivity": "sms",
                        "TimeoutActivity": "mail",
                    }
                },
                "sms": {"SMS": {"TemplateName": "seed-sms"}},
                "mail": {"EMAIL": {"TemplateName": "seed-email"}},
            },
        }
        jid = journeys.create(app, app_id, definition)["Id"]
        journeys.publish(app, app_id, jid)
        worker = Worker(app)
        worker.run_for(timedelta(hours=1))
        event_service.put_events(
            app,
            app_id,
            {
                "BatchItem": {
                    "User2-EMAIL": {
                        "Endpoint": {},
                        "Events": {"e1": {"EventType": "clicked", "Timestamp": app.now_iso()}},
                    }
                }
            },
        )
        worker.run_for(timedelta(days=2))
        assert [r.endpoint_id for r in delivered(app, "SMS")] == ["User2-SMS"]
        assert [r.endpoint_id for r in delivered(app, "EMAIL")] == ["User1-EMAIL"]
    finally:
        app.close()


def test_messages_per_second_paces_sends_on_the_journey_clock(db_url: str) -> None:
    app = journey_app(db_url)
    try:
        app_id, _ = seed_customers(app, 10)
        definition = {**SMS_ONLY, "Limits": {"MessagesPerSecond": 2}}
        jid = journeys.create(app, app_id, definition)["Id"]
        journeys.publish(app, app_id, jid)
        Worker(app).run_for(timedelta(minutes=1))
        times = sorted(r.recorded_at for r in delivered(app, "SMS"))
        assert len(times) == 10
        per_second: dict[str, int] = {}
        for t in times:
            per_second[t[:19]] = per_second.get(t[:19], 0) + 1
        assert max(per_second.values()) <= 2
        assert len(per_second) >= 5
    finally:
        app.close()


def test_an_endpoint_that_opted_out_after_entry_is_skipped_with_the_reason(db_url: str) -> None:
    app = journey_app(db_url)
    try:
        app_id, _ = seed_customers(app, 2)
        jid = journeys.create(app, app_id, WAIT_THEN_SMS)["Id"]
        journeys.publish(app, app_id, jid)
        worker = Worker(app)
        worker.run_for(timedelta(minutes=1))
        endpoint_service.update_endpoint(app, app_id, "User1-SMS", {"OptOut": "ALL"})
        worker.run_for(timedelta(hours=3))
        assert [r.endpoint_id for r in delivered(app, "SMS")] == ["User2-SMS"]
        by_activity = {
            a["JourneyActivityId"]: a["Metrics"]
            for a in journeys.metrics(app, app_id, jid)["Activities"]
        }
        assert by_activity["sms"]["OPTED_OUT"] == "1"
        assert by_activity["sms"]["SUCCESS"] == "1"
    finally:
        app.close()


def test_segment_refresh_admits_new_members_and_reentry_follows_the_cap(db_url: str) -> None:
    app = journey_app(db_url)
    try:
        app_id, _ = seed_customers(app, 2)
        definition = {
            **SMS_ONLY,
            "RefreshFrequency": "PT6H",
            "Limits": {"EndpointReentryCap": 2},
        }
        jid = journeys.create(app, app_id, definition)["Id"]
        journeys.publish(app, app_id, jid)
        Worker(app).run_for(timedelta(days=1))
        # Entered at 0 h and re-entered once at 6 h; the cap of 2 stops later refreshes.
        assert len(delivered(app, "SMS")) == 4
        assert {p["Entry"] for p in journeys.participants(app, app_id, jid)} == {2}
    finally:
        app.close()


def test_two_workers_on_postgresql_share_the_work_without_sending_twice(pg_url: str) -> None:
    app = journey_app(pg_url)
    other = journey_app(pg_url)
    try:
        app_id, _ = seed_customers(app, 40)
        jid = journeys.create(app, app_id, SMS_ONLY)["Id"]
        journeys.publish(app, app_id, jid)
        # Admit first: one worker runs an entry (the journey row is locked while it does), and
        # a second that found nothing due yet would rightly go idle.
        with app.store.begin() as conn:
            entry.run_due_entries(conn, app.clock.now())
        workers = [Worker(app, batch_size=3), Worker(other, batch_size=3)]
        threads = [threading.Thread(target=w.run_until_idle) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with app.store.connect() as conn:
            counts = recording.delivery_counts(conn)
        assert len(counts) == 40
        assert set(counts.values()) == {1}
        assert all(w.stats.claimed > 0 for w in workers)
    finally:
        other.close()
        app.close()
