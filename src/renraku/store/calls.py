"""Call records: one row per call placed (or refused), keyed by contact id and by send key.

The ``send_key`` is unique, so one send can never become two calls. Capacity counts (calls in
progress, calls started in the last second) read this table, so every worker shares them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from renraku.errors import NotFound
from renraku.store.schema import Json, metadata

calls = Table(
    "calls",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("id", String(64), nullable=False),
    Column("send_key", String(512)),
    Column("provider", String(32), nullable=False),
    Column("provider_call_id", String(128)),
    Column("flow_id", String(64)),
    Column("flow_version", Integer),
    Column("endpoint_id", String(128)),
    Column("user_id", String(256)),
    Column("journey_id", String(64)),
    Column("activity_id", String(128)),
    Column("customer_address", String(64), nullable=False),
    Column("system_address", String(64)),
    Column("status", String(16), nullable=False),  # QUEUED | RINGING | IN_PROGRESS | ENDED
    Column("outcome", String(16)),  # ANSWERED | NO_ANSWER | BUSY | VOICEMAIL | FAILED
    Column("digits", String(64), nullable=False),
    Column("reason", Text),
    Column("placed_at", String(32), nullable=False),
    Column("answered_at", String(32)),
    Column("ended_at", String(32)),
    Column("transcript", Json, nullable=False),
    Column("attributes", Json, nullable=False),
    Column("path", Json, nullable=False),
    Column("state", Json, nullable=False),
    PrimaryKeyConstraint("app_id", "id"),
    ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    UniqueConstraint("send_key", name="uq_calls_send_key"),
    Index("ix_calls_contact", "id"),
    Index("ix_calls_provider", "provider", "provider_call_id"),
    Index("ix_calls_ended", "ended_at"),
    Index("ix_calls_placed", "placed_at"),
    Index("ix_calls_user", "app_id", "user_id"),
)

_FIELDS = {
    "Id": "id",
    "SendKey": "send_key",
    "Provider": "provider",
    "ProviderCallId": "provider_call_id",
    "FlowId": "flow_id",
    "FlowVersion": "flow_version",
    "EndpointId": "endpoint_id",
    "UserId": "user_id",
    "JourneyId": "journey_id",
    "ActivityId": "activity_id",
    "CustomerAddress": "customer_address",
    "SystemAddress": "system_address",
    "Status": "status",
    "Outcome": "outcome",
    "Digits": "digits",
    "Reason": "reason",
    "PlacedAt": "placed_at",
    "AnsweredAt": "answered_at",
    "EndedAt": "ended_at",
    "Transcript": "transcript",
    "Attributes": "attributes",
    "Path": "path",
    "State": "state",
}


def _row(r: Any) -> dict[str, Any]:
    out = {"ApplicationId": r.app_id}
    out.update({name: getattr(r, col) for name, col in _FIELDS.items()})
    return out


def insert_call(conn: Connection, app_id: str, values: Mapping[str, Any]) -> None:
    """Insert a call; ``values`` uses the record's field names (Id, SendKey, ...)."""
    row = {"app_id": app_id, "digits": "", "transcript": [], "attributes": {}, "path": []}
    row["state"] = {}
    row.update({_FIELDS[k]: v for k, v in values.items()})
    conn.execute(insert(calls).values(**row))


def update_call(conn: Connection, app_id: str, call_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(
        update(calls)
        .where(and_(calls.c.app_id == app_id, calls.c.id == call_id))
        .values(**{_FIELDS[k]: v for k, v in values.items()})
    )


def delete_call(conn: Connection, app_id: str, call_id: str) -> None:
    conn.execute(delete(calls).where(and_(calls.c.app_id == app_id, calls.c.id == call_id)))


def find(conn: Connection, app_id: str, call_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(calls).where(and_(calls.c.app_id == app_id, calls.c.id == call_id))
    ).first()
    return None if row is None else _row(row)


def get(conn: Connection, app_id: str, call_id: str) -> dict[str, Any]:
    found = find(conn, app_id, call_id)
    if found is None:
        raise NotFound("call", call_id)
    return found


def by_send_key(conn: Connection, send_key: str) -> dict[str, Any] | None:
    row = conn.execute(select(calls).where(calls.c.send_key == send_key)).first()
    return None if row is None else _row(row)


def by_contact_id(conn: Connection, call_id: str) -> dict[str, Any] | None:
    """A call by its id alone (provider callbacks know no application)."""
    row = conn.execute(select(calls).where(calls.c.id == call_id)).first()
    return None if row is None else _row(row)


def by_provider_id(conn: Connection, provider: str, provider_call_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(calls).where(
            and_(calls.c.provider == provider, calls.c.provider_call_id == provider_call_id)
        )
    ).first()
    return None if row is None else _row(row)


def list_calls(
    conn: Connection,
    app_id: str,
    *,
    user_id: str | None = None,
    outcome: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Calls of an application, newest first."""
    conds = [calls.c.app_id == app_id]
    if user_id is not None:
        conds.append(calls.c.user_id == user_id)
    if outcome is not None:
        conds.append(calls.c.outcome == outcome)
    rows = conn.execute(
        select(calls).where(and_(*conds)).order_by(calls.c.placed_at.desc()).limit(limit)
    )
    return [_row(r) for r in rows]


def pending(conn: Connection, app_id: str, provider: str, limit: int = 100) -> list[dict[str, Any]]:
    """Calls of ``provider`` placed but without an outcome yet, oldest first."""
    rows = conn.execute(
        select(calls)
        .where(
            and_(calls.c.app_id == app_id, calls.c.provider == provider, calls.c.outcome.is_(None))
        )
        .order_by(calls.c.placed_at)
        .limit(limit)
    )
    return [_row(r) for r in rows]


def lock_capacity(conn: Connection) -> None:
    """Serialise capacity checks across workers until the transaction ends.

    PostgreSQL takes a transaction-scoped advisory lock. SQLite admits one writer at a time: a
    write that changes nothing, issued first, takes the write lock before anything is counted (a
    count read first and a write later could fail on a snapshot another worker has outdated).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(726574)"))
    else:
        conn.execute(update(calls).where(calls.c.id.is_(None)).values(status=calls.c.status))


def count_active(conn: Connection, now: str) -> int:
    """Calls in progress at ``now``: placed by then and not ended by then."""
    return len(active_ends(conn, now))


def count_placed_between(conn: Connection, start: str, end: str) -> int:
    """Calls placed in ``(start, end]`` (the calls-per-second window)."""
    return len(placed_between(conn, start, end))


def placed_between(conn: Connection, start: str, end: str) -> list[str]:
    """When the calls placed in ``(start, end]`` started, oldest first."""
    rows = conn.execute(
        select(calls.c.placed_at)
        .where(
            and_(calls.c.placed_at > start, calls.c.placed_at <= end, calls.c.status != "REFUSED")
        )
        .order_by(calls.c.placed_at)
    )
    return [r.placed_at for r in rows]


def active_ends(conn: Connection, now: str) -> list[str | None]:
    """When each call in progress at ``now`` ends (None: not known yet), soonest first."""
    # coalesce() keeps the planner on ix_calls_ended (few rows: calls not yet ended) rather than
    # ix_calls_placed (every call ever placed).
    rows = conn.execute(
        select(calls.c.ended_at).where(
            and_(
                func.coalesce(calls.c.placed_at, "") <= now,
                or_(calls.c.ended_at.is_(None), calls.c.ended_at > now),
                calls.c.status != "REFUSED",
            )
        )
    )
    ends = [r.ended_at for r in rows]
    return sorted(e for e in ends if e is not None) + [None] * ends.count(None)
