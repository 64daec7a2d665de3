"""The worker's bulk write paths keep every value and fail the way the worker can retry.

On PostgreSQL rows travel as one JSON parameter (participants, the send ledger) or by COPY
(events); on SQLite as executemany. Both must store exactly what they were given: NULLs,
nested JSON, floats to the last bit, and a ledger key recorded once only.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from renraku.store import Store, is_transient, journey_events
from renraku.store import apps as app_store
from renraku.store import sends as send_store
from renraku.store.bulk import update_by_key
from renraku.store.engine import normalise_url
from renraku.store.schema import events

NOW = "2026-03-05T01:00:00.000Z"


def _ledger_row(key: str, lease: float) -> dict[str, object]:
    return {
        "key": key,
        "app_id": "a",
        "journey_id": "j",
        "pkey": "u:U1",
        "user_id": None,
        "activity_id": "call",
        "endpoint_id": "U1-VOICE",
        "channel": "VOICE",
        "status": "pending",
        "tries": 0,
        "lease_until": lease,
        "created_at": NOW,
        "settled_at": None,
        "provider": None,
        "provider_message_id": None,
        "reason": None,
        "payload": {"template": None, "config": {"Digits": {"1": "x"}, "n": [1, 2.5]}},
    }


def test_event_tuples_are_stored_with_their_json_and_nulls(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        with store.begin() as conn:
            app_id = app_store.create_app(conn, "bulk", now=NOW)["Id"]
            rows = [
                (app_id, NOW, "activity.completed", f"U{i}", None, "j", "w1", None, {"Next": "s1"})
                for i in range(3)
            ]
            rows.append((app_id, NOW, "send.sent", None, "E1", "j", "sms", "k/1", {"N": [1, None]}))
            journey_events.append_tuples(conn, rows)
        with store.connect() as conn:
            got = [tuple(r)[1:] for r in conn.execute(select(events).order_by(events.c.seq))]
        assert got == rows
    finally:
        store.close()


def test_ledger_rows_keep_their_values_and_a_key_is_recorded_once(db_url: str) -> None:
    lease = 1_780_000_000.123456789  # a float the JSON path must carry to the last bit
    store = Store.open(db_url)
    try:
        with store.begin() as conn:
            assert send_store.record(
                conn, [_ledger_row("k1", lease), _ledger_row("k2", lease)]
            ) == {
                "k1",
                "k2",
            }
            assert send_store.record(conn, [_ledger_row("k1", 1.0), _ledger_row("k3", lease)]) == {
                "k3"
            }
        with store.connect() as conn:
            row = send_store.by_key(conn, "k1")
        assert row.lease_until == lease
        assert row.user_id is None
        assert row.payload == _ledger_row("k1", lease)["payload"]
    finally:
        store.close()


def test_update_by_key_sets_only_matching_rows_and_honours_the_extra_condition(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        with store.begin() as conn:
            send_store.record(conn, [_ledger_row(k, 5.0) for k in ("k1", "k2", "k3")])
            conn.execute(text("UPDATE sends SET status = 'sent' WHERE key = 'k3'"))
            changed = update_by_key(
                conn,
                send_store.sends,
                ("key",),
                ("status", "reason", "lease_until"),
                [
                    {"key": k, "status": "failed", "reason": r, "lease_until": None}
                    for k, r in (("k1", 'a "quoted", multi\nline'), ("k3", "x"), ("nope", "y"))
                ],
                extra="t.status IN ('pending', 'retry')",
            )
        assert changed == 1
        with store.connect() as conn:
            k1, k2, k3 = (send_store.by_key(conn, k) for k in ("k1", "k2", "k3"))
        assert (k1.status, k1.reason, k1.lease_until) == ("failed", 'a "quoted", multi\nline', None)
        assert (k2.status, k2.lease_until) == ("pending", 5.0)
        assert k3.status == "sent"
    finally:
        store.close()


def test_an_event_copy_cut_by_a_statement_timeout_is_a_transient_error(pg_url: str) -> None:
    store = Store.open(pg_url)
    locker = create_engine(normalise_url(pg_url))
    try:
        with store.begin() as conn:
            app_id = app_store.create_app(conn, "bulk", now=NOW)["Id"]
        row = (app_id, NOW, "activity.completed", "U1", None, "j", "w1", None, {})
        with locker.begin() as held:
            held.execute(text("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"))
            with pytest.raises(OperationalError) as caught, store.engine.begin() as conn:
                conn.execute(text("SET LOCAL statement_timeout = 200"))
                journey_events.append_tuples(conn, [row])
        assert is_transient(caught.value)
        with store.begin() as conn:  # the connection pool recovers; nothing was written
            assert conn.execute(select(events.c.seq)).all() == []
    finally:
        locker.dispose()
        store.close()
