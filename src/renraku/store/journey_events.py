"""Appending many timeline events fast: one statement per chunk on PostgreSQL, the events store
elsewhere.

Same rows and meaning as :func:`renraku.store.events.append_many`; the journey engine appends
one event per step, so this is on its hot path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from renraku.store import events as event_store
from renraku.store.bulk import insert_rows
from renraku.store.schema import events

COLUMNS = (
    "app_id",
    "occurred_at",
    "kind",
    "user_id",
    "endpoint_id",
    "journey_id",
    "activity_id",
    "send_key",
    "data",
)


def append_many(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record many events (rows as for :func:`renraku.store.events.append_many`)."""
    if conn.dialect.name != "postgresql":
        event_store.append_many(conn, rows)
        return
    append_tuples(
        conn,
        [
            (
                r["app_id"],
                r["occurred_at"],
                r["kind"],
                r.get("user_id"),
                r.get("endpoint_id"),
                r.get("journey_id"),
                r.get("activity_id"),
                r.get("send_key"),
                dict(r.get("data") or {}),
            )
            for r in rows
        ],
    )


def append_tuples(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Record many events given as tuples in :data:`COLUMNS` order (data a JSON-able mapping)."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        event_store.append_many(conn, [dict(zip(COLUMNS, r, strict=True)) for r in rows])
        return
    insert_rows(conn, events, [dict(zip(COLUMNS, r, strict=True)) for r in rows])
