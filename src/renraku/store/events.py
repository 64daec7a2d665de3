"""The append-only event log: what happened to whom, in order. Timelines read it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select

from renraku.store.schema import events


def append(
    conn: Connection,
    app_id: str,
    kind: str,
    *,
    occurred_at: str,
    user_id: str | None = None,
    endpoint_id: str | None = None,
    journey_id: str | None = None,
    activity_id: str | None = None,
    send_key: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> None:
    """Record one event."""
    conn.execute(
        insert(events).values(
            app_id=app_id,
            occurred_at=occurred_at,
            kind=kind,
            user_id=user_id,
            endpoint_id=endpoint_id,
            journey_id=journey_id,
            activity_id=activity_id,
            send_key=send_key,
            data=dict(data or {}),
        )
    )


def append_many(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record many events; each row has the keyword names of :func:`append` plus app_id and kind."""
    if rows:
        conn.execute(
            insert(events),
            [
                {
                    "app_id": r["app_id"],
                    "occurred_at": r["occurred_at"],
                    "kind": r["kind"],
                    "user_id": r.get("user_id"),
                    "endpoint_id": r.get("endpoint_id"),
                    "journey_id": r.get("journey_id"),
                    "activity_id": r.get("activity_id"),
                    "send_key": r.get("send_key"),
                    "data": dict(r.get("data") or {}),
                }
                for r in rows
            ],
        )


def timeline(
    conn: Connection,
    app_id: str,
    *,
    user_id: str | None = None,
    endpoint_ids: Sequence[str] = (),
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Events of a user (and of the given endpoints), oldest first."""
    conds = []
    if user_id is not None:
        conds.append(events.c.user_id == user_id)
    if endpoint_ids:
        conds.append(events.c.endpoint_id.in_(list(endpoint_ids)))
    if not conds:
        return []
    rows = conn.execute(
        select(events)
        .where(and_(events.c.app_id == app_id, or_(*conds)))
        .order_by(events.c.seq)
        .limit(limit)
    )
    return [
        {
            "Seq": r.seq,
            "Time": r.occurred_at,
            "Kind": r.kind,
            "UserId": r.user_id,
            "EndpointId": r.endpoint_id,
            "JourneyId": r.journey_id,
            "ActivityId": r.activity_id,
            "SendKey": r.send_key,
            "Data": r.data or {},
        }
        for r in rows
    ]
