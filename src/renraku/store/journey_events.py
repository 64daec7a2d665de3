"""Appending many timeline events fast: ``COPY`` on PostgreSQL, the events store elsewhere.

Same rows and meaning as :func:`renraku.store.events.append_many`; the journey engine appends
one event per step, so this is on its hot path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from renraku.store import events as event_store

_COLUMNS = (
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
_COPY_FROM = 500  # below this a multi-row INSERT is as quick


def append_many(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record many events (rows as for :func:`renraku.store.events.append_many`)."""
    if conn.dialect.name != "postgresql" or len(rows) < _COPY_FROM:
        event_store.append_many(conn, rows)
        return
    raw = conn.connection.driver_connection
    if raw is None:
        event_store.append_many(conn, rows)
        return
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY events ({', '.join(_COLUMNS)}) FROM STDIN") as copy,
    ):
        for r in rows:
            copy.write_row(
                (
                    r["app_id"],
                    r["occurred_at"],
                    r["kind"],
                    r.get("user_id"),
                    r.get("endpoint_id"),
                    r.get("journey_id"),
                    r.get("activity_id"),
                    r.get("send_key"),
                    json.dumps(dict(r.get("data") or {})),
                )
            )
