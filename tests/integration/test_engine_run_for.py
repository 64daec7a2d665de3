"""``run_for`` on the virtual clock with two workers: the clock never jumps past work another
worker is committing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from journey_helpers import delivered, journey_app, seed_customers

from renraku.engine import entry
from renraku.engine.worker import Worker
from renraku.services import journeys
from renraku.store import participants as participant_store

WAIT_THEN_SMS: dict[str, Any] = {
    "Name": "wait then sms",
    "StartCondition": {"SegmentStartCondition": {"SegmentId": "seed-customers"}},
    "StartActivity": "wait",
    "Activities": {
        "wait": {"Wait": {"WaitTime": {"WaitFor": "PT2H"}, "NextActivity": "sms"}},
        "sms": {"SMS": {"TemplateName": "seed-sms"}},
    },
}


def test_a_worker_does_not_jump_to_the_end_when_another_commits_a_segment_entry_meanwhile(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One worker is inside a segment entry (journey row locked, participants not yet committed)
    # while the other, finding nothing it can take, looks for the next due time. The entry
    # commits while that look-up is under way; the second worker must still see the entry's work
    # and run it at its time, not move the shared clock to the end of the run.
    app = journey_app(pg_url)
    try:
        app_id, _ = seed_customers(app, 5)
        jid = journeys.create(app, app_id, WAIT_THEN_SMS)["Id"]
        journeys.publish(app, app_id, jid)
        started = app.clock.now()
        entering = app.store.engine.connect()
        pending = entering.begin()
        assert entry.run_due_entries(entering, started) == 5
        real_next_wake = participant_store.next_wake

        def next_wake_then_entry_commits(conn: Any) -> str | None:
            found = real_next_wake(conn)
            if pending.is_active:
                pending.commit()
            return found

        monkeypatch.setattr(participant_store, "next_wake", next_wake_then_entry_commits)
        try:
            Worker(app).run_for(timedelta(days=1))
        finally:
            if pending.is_active:
                pending.rollback()
            entering.close()
        assert not pending.is_active  # the entry did commit during the run
        people = journeys.participants(app, app_id, jid)
        assert {p["Status"] for p in people} == {"FINISHED"}
        assert len(delivered(app, "SMS")) == 5
    finally:
        app.close()
