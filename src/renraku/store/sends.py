"""The send ledger: every journey send, by idempotency key, recorded before the provider is called
and settled after; plus the database token buckets that pace sends across workers.

Statuses: ``pending`` (recorded; being or about to be handed over, under a lease in wall-clock
seconds), ``retry`` (a transient failure; handed over again once the lease passes), ``sent``,
``failed`` (permanent), ``unknown`` (the worker died mid-send and the provider cannot be asked).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from renraku.store.bulk import insert_rows, one_of, update_by_key
from renraku.store.schema import Json, metadata

sends = Table(
    "sends",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Column("journey_id", String(64), nullable=False),
    Column("pkey", String(300), nullable=False),
    Column("user_id", String(256)),
    Column("activity_id", String(128), nullable=False),
    Column("endpoint_id", String(128), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("tries", Integer, nullable=False),
    Column("lease_until", Float),
    Column("created_at", String(32), nullable=False),
    Column("settled_at", String(32)),
    Column("provider", String(64)),
    Column("provider_message_id", String(256)),
    Column("reason", Text),
    Column("payload", Json, nullable=False),
    Index("ix_sends_open", "status", "lease_until"),
    Index("ix_sends_user", "app_id", "user_id", "channel", "created_at"),
    Index("ix_sends_participant", "app_id", "journey_id", "pkey"),
)

rate_buckets = Table(
    "journey_rate_buckets",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

OPEN_STATUSES = ("pending", "retry")


def _insert(conn: Connection) -> Any:
    return postgresql.insert(sends) if conn.dialect.name == "postgresql" else sqlite.insert(sends)


def record(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> set[str]:
    """Record sends as ``pending`` before any provider sees them; returns the keys recorded now
    (a key recorded before is left alone and not returned: it must not be handed over again).

    PostgreSQL: one ``INSERT ... SELECT`` from the rows as JSON per chunk (:mod:`renraku.store.bulk`);
    SQLite: a multi-row insert.
    """
    if not rows:
        return set()
    if conn.dialect.name == "postgresql":
        found = insert_rows(conn, sends, rows, suffix="ON CONFLICT (key) DO NOTHING RETURNING key")
        return {r[0] for r in found}
    done: set[str] = set()
    stmt = _insert(conn).on_conflict_do_nothing(index_elements=["key"]).returning(sends.c.key)
    for lo in range(0, len(rows), 5000):
        done.update(conn.execute(stmt, list(rows[lo : lo + 5000])).scalars().all())
    return done


_SETTLED = (
    "status",
    "settled_at",
    "provider",
    "provider_message_id",
    "reason",
    "lease_until",
    "tries",
)


def settle(conn: Connection, results: Sequence[Mapping[str, Any]]) -> None:
    """Settle open sends: each mapping has k, status, settled_at, provider, pmid, reason,
    lease_until and tries (the new count of hand-overs)."""
    rows = [
        {
            "key": r["k"],
            "status": r["status"],
            "settled_at": r["settled_at"],
            "provider": r["provider"],
            "provider_message_id": r["pmid"],
            "reason": r["reason"],
            "lease_until": r["lease_until"],
            "tries": r["tries"],
        }
        for r in results
    ]
    update_by_key(
        conn,
        sends,
        ("key",),
        _SETTLED,
        rows,
        extra="t.status IN ('pending', 'retry')",
    )


def claim_stale(conn: Connection, wall_now: float, lease_seconds: float, limit: int) -> list[Any]:
    """Open sends whose lease has passed (their worker died or a retry is due), leased anew.

    They come back ``pending``: if the claimer dies too, the next one asks the provider first.
    The rows are returned as they were (a ``retry`` row says a redelivery is due).
    """
    stmt = (
        select(sends)
        .where(and_(sends.c.status.in_(OPEN_STATUSES), sends.c.lease_until <= wall_now))
        .order_by(sends.c.lease_until)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    rows = list(conn.execute(stmt))
    if rows:
        conn.execute(
            update(sends)
            .where(one_of(conn, sends.c.key, [r.key for r in rows]))
            .values(lease_until=wall_now + lease_seconds, status="pending")
        )
    return rows


def open_count(conn: Connection) -> tuple[int, float | None]:
    """How many sends are open, and the earliest lease end among them."""
    row = conn.execute(
        select(func.count(), func.min(sends.c.lease_until)).where(sends.c.status.in_(OPEN_STATUSES))
    ).one()
    return int(row[0]), (float(row[1]) if row[1] is not None else None)


def by_key(conn: Connection, key: str) -> Any:
    return conn.execute(select(sends).where(sends.c.key == key)).first()


def recent_for(
    conn: Connection, app_id: str, user_ids: Sequence[str], endpoint_ids: Sequence[str], since: str
) -> list[Any]:
    """Sends since ``since`` to these users (or lone endpoints), for caps."""
    out: list[Any] = []
    cols = (
        sends.c.journey_id,
        sends.c.endpoint_id,
        sends.c.channel,
        sends.c.created_at,
        sends.c.user_id,
        sends.c.pkey,
    )
    if user_ids:
        out += conn.execute(
            select(*cols).where(
                and_(
                    sends.c.app_id == app_id,
                    one_of(conn, sends.c.user_id, user_ids),
                    sends.c.created_at > since,
                )
            )
        ).all()
    if endpoint_ids:
        out += conn.execute(
            select(*cols).where(
                and_(
                    sends.c.app_id == app_id,
                    sends.c.user_id.is_(None),
                    one_of(conn, sends.c.endpoint_id, endpoint_ids),
                    sends.c.created_at > since,
                )
            )
        ).all()
    return out


def activities_of(conn: Connection, keys: Sequence[str]) -> dict[str, str]:
    """The journey activity of each send key given."""
    if not keys:
        return {}
    rows = conn.execute(
        select(sends.c.key, sends.c.activity_id).where(one_of(conn, sends.c.key, set(keys)))
    )
    return {r.key: r.activity_id for r in rows}


def status_counts(conn: Connection, app_id: str, journey_id: str) -> dict[tuple[str, str], int]:
    rows = conn.execute(
        select(sends.c.activity_id, sends.c.status, func.count())
        .where(and_(sends.c.app_id == app_id, sends.c.journey_id == journey_id))
        .group_by(sends.c.activity_id, sends.c.status)
    )
    return {(r[0], r[1]): int(r[2]) for r in rows}


def take_tokens(
    conn: Connection, key: str, wanted: int, *, rate: float, burst: float, at: float
) -> int:
    """Take up to ``wanted`` tokens from bucket ``key`` refilled at ``rate``/s (``at`` in seconds).

    The bucket row is locked for the transaction, so workers share one budget.
    """
    stmt = select(rate_buckets).where(rate_buckets.c.key == key)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        ins = (
            postgresql.insert(rate_buckets)
            if conn.dialect.name == "postgresql"
            else sqlite.insert(rate_buckets)
        )
        conn.execute(ins.on_conflict_do_nothing(), {"key": key, "tokens": burst, "updated_at": at})
        row = conn.execute(stmt).one()
    tokens = min(burst, float(row.tokens) + max(0.0, at - float(row.updated_at)) * rate)
    granted = max(0, min(wanted, int(tokens)))
    conn.execute(
        update(rate_buckets)
        .where(rate_buckets.c.key == key)
        .values(tokens=tokens - granted, updated_at=max(at, float(row.updated_at)))
    )
    return granted
