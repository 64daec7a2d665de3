"""Set-based segment entry: admitted in chunks, each its own transaction; a crash mid-entry
leaves the store consistent and the next run admits the rest exactly once; the re-entry rules
hold in SQL; an admission racing the entry wins without a second entry or event."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from journey_helpers import journey_app, seed_customers
from sqlalchemy import func, select, update

from renraku.app import App
from renraku.engine import entry
from renraku.services import journeys
from renraku.store import admission
from renraku.store import journeys as journey_store
from renraku.store.participants import participants
from renraku.store.schema import events

WAIT: dict[str, Any] = {
    "Name": "wait",
    "StartCondition": {"SegmentStartCondition": {"SegmentId": "seed-customers"}},
    "StartActivity": "wait",
    "Activities": {"wait": {"Wait": {"WaitTime": {"WaitFor": "PT2H"}}}},
}


def _published(app: App, users: int, definition: dict[str, Any] = WAIT) -> tuple[str, str]:
    app_id, _ = seed_customers(app, users)
    jid = journeys.create(app, app_id, definition)["Id"]
    journeys.publish(app, app_id, jid)
    return app_id, jid


def _entered(app: App, jid: str) -> tuple[Counter[str], Counter[tuple[str, int]]]:
    """(participant keys by count, journey.entered events by (user, entry) and count)."""
    with app.store.connect() as conn:
        keys = Counter(
            r[0]
            for r in conn.execute(
                select(participants.c.pkey).where(participants.c.journey_id == jid)
            )
        )
        entered = Counter(
            (r[0], int(r[1]["Entry"]))
            for r in conn.execute(
                select(events.c.user_id, events.c.data).where(
                    events.c.journey_id == jid, events.c.kind == "journey.entered"
                )
            )
        )
    return keys, entered


def _run_entries_out(app: App, now: datetime, chunk: int) -> None:
    """Step the due entries until none is left, one transaction per step (as worker ticks do)."""
    while True:
        with app.store.begin() as conn:
            if not entry.run_due_entries(conn, now, chunk=chunk):
                return


def _assert_each_entered_once(app: App, jid: str, users: int) -> None:
    """User1..User<users> are participants once, each with one ``journey.entered`` event."""
    keys, entered = _entered(app, jid)
    assert len(keys) == users
    assert set(keys.values()) == {1}
    assert entered == Counter({(f"User{i}", 1): 1 for i in range(1, users + 1)})


def _next_entry_at(app: App, app_id: str, jid: str) -> str | None:
    with app.store.connect() as conn:
        return journey_store.get(conn, app_id, jid).next_entry_at  # type: ignore[no-any-return]


def test_a_segment_entry_is_admitted_chunk_by_chunk_each_committed_and_the_run_ends_with_the_last(
    db_url: str,
) -> None:
    app = journey_app(db_url)
    try:
        app_id, jid = _published(app, 10)
        now = app.clock.now()
        seen = []
        for _ in range(3):
            with app.store.begin() as conn:
                done = entry.run_due_entries(conn, now, chunk=4)
            keys, _ = _entered(app, jid)
            seen.append((done, len(keys), _next_entry_at(app, app_id, jid) is not None))
        # 4 + 4 (the entry still due after each), then the last 2 end the run.
        assert seen == [(4, 4, True), (4, 8, True), (2, 10, False)]
        with app.store.begin() as conn:
            assert entry.run_due_entries(conn, now, chunk=4) == 0
            assert admission.cursor(conn, app_id, jid) is None
        keys, entered = _entered(app, jid)
        assert set(keys.values()) == {1}
        assert len(keys) == 10
        assert entered == Counter({(f"User{i}", 1): 1 for i in range(1, 11)})
    finally:
        app.close()


def test_a_crash_mid_entry_leaves_the_store_consistent_and_the_rest_is_admitted_once(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = journey_app(db_url)
    try:
        app_id, jid = _published(app, 9)
        now = app.clock.now()
        with app.store.begin() as conn:
            assert entry.run_due_entries(conn, now, chunk=4) == 4

        def crash(*_: Any, **__: Any) -> None:
            raise RuntimeError("killed after writing participants, before their events")

        monkeypatch.setattr(admission.journey_events, "append_many", crash)
        with pytest.raises(RuntimeError), app.store.begin() as conn:
            entry.run_due_entries(conn, now, chunk=4)
        monkeypatch.undo()
        keys, entered = _entered(app, jid)
        assert len(keys) == 4
        assert sum(entered.values()) == 4
        with app.store.connect() as conn:
            assert admission.cursor(conn, app_id, jid) == "u:User4"  # after the first 4
        later = now + timedelta(minutes=5)
        _run_entries_out(app, later, chunk=4)
        _assert_each_entered_once(app, jid, 9)
        assert _next_entry_at(app, app_id, jid) is None
    finally:
        app.close()


def test_reentry_rules_are_applied_in_sql_to_each_participant(db_url: str) -> None:
    definition = {
        **WAIT,
        "RefreshFrequency": "PT1H",
        "Limits": {"EndpointReentryCap": 3, "EndpointReentryInterval": "PT30M"},
    }
    app = journey_app(db_url)
    try:
        _app_id, jid = _published(app, 6, definition)
        with app.store.begin() as conn:
            assert entry.run_due_entries(conn, app.clock.now()) == 6
        now = app.clock.now() + timedelta(hours=1)
        long_ago, lately = "2026-03-05T01:10:00.000Z", "2026-03-05T01:50:00.000Z"
        states = {
            "u:User1": ("FINISHED", 1, long_ago),  # re-enters (entry 2)
            "u:User2": ("EXITED", 2, long_ago),  # re-enters (entry 3)
            "u:User3": ("FINISHED", 3, long_ago),  # at the cap
            "u:User4": ("FINISHED", 1, lately),  # finished 10 minutes ago: within the interval
            "u:User5": ("CANCELLED", 1, long_ago),  # never
            # User6 still ACTIVE: inside, not admitted again
        }
        with app.store.begin() as conn:
            for key, (status, n, at) in states.items():
                conn.execute(
                    update(participants)
                    .where(participants.c.journey_id == jid, participants.c.pkey == key)
                    .values(status=status, entry=n, activity_at=at, phase="done", wake_at=None)
                )
        app.clock.set(now)
        with app.store.begin() as conn:
            assert entry.run_due_entries(conn, now) == 2
        with app.store.connect() as conn:
            rows = {
                r.pkey: (r.status, r.entry, r.entered_at)
                for r in conn.execute(select(participants).where(participants.c.journey_id == jid))
            }
        assert rows["u:User1"][:2] == ("ACTIVE", 2)
        assert rows["u:User2"][:2] == ("ACTIVE", 3)
        assert rows["u:User3"][:2] == ("FINISHED", 3)
        assert rows["u:User4"][:2] == ("FINISHED", 1)
        assert rows["u:User5"][:2] == ("CANCELLED", 1)
        assert rows["u:User6"][:2] == ("ACTIVE", 1)
        _, entered = _entered(app, jid)
        assert entered[("User1", 2)] == 1
        assert entered[("User2", 3)] == 1
        assert sum(entered.values()) == 8
    finally:
        app.close()


def test_a_participant_admitted_meanwhile_is_not_entered_twice_nor_given_a_second_event(
    db_url: str,
) -> None:
    app = journey_app(db_url)
    try:
        app_id, jid = _published(app, 5)
        now = app.clock.now()
        with app.store.begin() as conn:
            assert entry.run_due_entries(conn, now, chunk=2) == 2
        # Another admission (an event start) takes User5 while the rest are still queued.
        with app.store.begin() as conn:
            journey = journey_store.get(conn, app_id, jid)
            assert entry.admit(conn, journey, [("User5-SMS", "User5")], now) == 1
            assert entry.admit(conn, journey, [("User5-EMAIL", "User5")], now) == 0
        _run_entries_out(app, now, chunk=2)
        _assert_each_entered_once(app, jid, 5)
        with app.store.connect() as conn:
            assert (
                conn.execute(select(func.count()).select_from(admission.admission_queue)).scalar()
                == 0
            )
    finally:
        app.close()


def test_an_entry_still_under_way_at_the_journeys_end_time_admits_no_one_more(
    db_url: str,
) -> None:
    definition = {**WAIT, "Schedule": {"EndTime": "2026-03-05T02:00:00.000Z"}}
    app = journey_app(db_url)
    try:
        app_id, jid = _published(app, 6, definition)
        with app.store.begin() as conn:
            assert entry.run_due_entries(conn, app.clock.now(), chunk=4) == 4
        after_end = app.clock.now() + timedelta(hours=2)
        with app.store.begin() as conn:
            assert entry.run_due_entries(conn, after_end, chunk=4) == 0
            assert admission.cursor(conn, app_id, jid) is None
            left = select(func.count()).select_from(admission.admission_queue)
            assert conn.execute(left).scalar() == 0
        keys, entered = _entered(app, jid)
        assert len(keys) == 4
        assert sum(entered.values()) == 4
        assert _next_entry_at(app, app_id, jid) is None
    finally:
        app.close()


def test_cancelling_a_journey_mid_entry_forgets_the_queue_and_admits_no_one_more(
    db_url: str,
) -> None:
    app = journey_app(db_url)
    try:
        app_id, jid = _published(app, 10)
        now = app.clock.now()
        with app.store.begin() as conn:
            assert entry.run_due_entries(conn, now, chunk=4) == 4
            assert admission.cursor(conn, app_id, jid) is not None
        journeys.cancel(app, app_id, jid)
        with app.store.begin() as conn:
            assert admission.cursor(conn, app_id, jid) is None
            queued = conn.execute(
                select(func.count())
                .select_from(admission.admission_queue)
                .where(admission.admission_queue.c.journey_id == jid)
            ).scalar_one()
            assert queued == 0
            assert entry.run_due_entries(conn, now, chunk=4) == 0
        keys, _ = _entered(app, jid)
        assert len(keys) == 4
    finally:
        app.close()
