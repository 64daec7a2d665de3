"""Journey participants: admission, the claim-due-work statement per dialect, bulk saves, wakes.

The claim is the one place the engine takes work. PostgreSQL: ``SELECT ... FOR UPDATE SKIP
LOCKED`` so any number of workers take disjoint batches; the row locks live as long as the claiming
transaction, so a worker that dies releases them with its connection. SQLite: the same statement
without locks (one writer at a time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from renraku.domain.journeys.model import Participant
from renraku.store.bulk import one_of, update_by_key
from renraku.store.schema import Json, metadata

participants = Table(
    "participants",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("journey_id", String(64), nullable=False),
    Column("pkey", String(300), nullable=False),
    Column("user_id", String(256)),
    Column("endpoint_id", String(128)),
    Column("version", Integer, nullable=False),
    Column("entry", Integer, nullable=False),
    Column("activity_id", String(128)),
    Column("phase", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("wake_at", String(32)),
    Column("attempt", Integer, nullable=False),
    Column("entered_at", String(32), nullable=False),
    Column("activity_at", String(32), nullable=False),
    Column("data", Json, nullable=False),
    PrimaryKeyConstraint("app_id", "journey_id", "pkey"),
    ForeignKeyConstraint(
        ["app_id", "journey_id"], ["journeys.app_id", "journeys.id"], ondelete="CASCADE"
    ),
    Index(
        "ix_participants_due",
        "wake_at",
        postgresql_where=text("status = 'ACTIVE'"),
        sqlite_where=text("status = 'ACTIVE'"),
    ),
    Index("ix_participants_journey", "app_id", "journey_id", "status"),
    Index("ix_participants_user", "app_id", "user_id"),
)

FINISHED_STATUSES = ("FINISHED", "EXITED", "CANCELLED")


def from_row(r: Any) -> tuple[str, Participant]:
    """(app_id, participant) for a participants row."""
    return r.app_id, Participant(
        journey_id=r.journey_id,
        pkey=r.pkey,
        user_id=r.user_id,
        endpoint_id=r.endpoint_id,
        version=r.version,
        entry=r.entry,
        activity_id=r.activity_id,
        phase=r.phase,
        status=r.status,
        wake_at=r.wake_at,
        attempt=r.attempt,
        entered_at=r.entered_at,
        activity_at=r.activity_at,
        data=r.data or {},
    )


def to_row(app_id: str, p: Participant) -> dict[str, Any]:
    return {
        "app_id": app_id,
        "journey_id": p.journey_id,
        "pkey": p.pkey,
        "user_id": p.user_id,
        "endpoint_id": p.endpoint_id,
        "version": p.version,
        "entry": p.entry,
        "activity_id": p.activity_id,
        "phase": p.phase,
        "status": p.status,
        "wake_at": p.wake_at,
        "attempt": p.attempt,
        "entered_at": p.entered_at,
        "activity_at": p.activity_at,
        "data": dict(p.data),
    }


_CLAIMED = (
    "app_id",
    "journey_id",
    "pkey",
    "user_id",
    "endpoint_id",
    "version",
    "entry",
    "activity_id",
    "phase",
    "status",
    "wake_at",
    "attempt",
    "entered_at",
    "activity_at",
    "data",
)


def claim_due(conn: Connection, now: str, limit: int) -> list[tuple[str, Participant]]:
    """Take up to ``limit`` active participants due at ``now``, earliest first (see module doc)."""
    stmt = (
        select(*(participants.c[n] for n in _CLAIMED))
        .where(and_(participants.c.status == "ACTIVE", participants.c.wake_at <= now))
        .order_by(participants.c.wake_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    # Positional: a claimed batch is the engine's widest read, once per participant-step.
    return [
        (a, Participant(j, k, u, e, v, n, act, ph, st, w, at, ent, aat, d or {}))
        for a, j, k, u, e, v, n, act, ph, st, w, at, ent, aat, d in conn.execute(stmt).all()
    ]


_SAVED = ("activity_id", "phase", "status", "wake_at", "attempt", "activity_at", "data")


def save(conn: Connection, changed: Sequence[tuple[str, Participant]]) -> None:
    """Write the new state of claimed participants (one statement per chunk on PostgreSQL)."""
    update_by_key(
        conn,
        participants,
        ("app_id", "journey_id", "pkey"),
        _SAVED,
        [to_row(app_id, p) for app_id, p in changed],
    )


def existing(
    conn: Connection, app_id: str, journey_id: str, pkeys: Sequence[str]
) -> dict[str, Any]:
    """Rows of the given participants that already exist, by pkey."""
    out: dict[str, Any] = {}
    for i in range(0, len(pkeys), 5000):
        chunk = list(pkeys[i : i + 5000])
        rows = conn.execute(
            select(participants).where(
                and_(
                    participants.c.app_id == app_id,
                    participants.c.journey_id == journey_id,
                    participants.c.pkey.in_(chunk),
                )
            )
        )
        out.update({r.pkey: r for r in rows})
    return out


def insert_new(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert participants; one already there (a concurrent admission) is left alone."""
    if not rows:
        return
    ins = (
        postgresql.insert(participants)
        if conn.dialect.name == "postgresql"
        else sqlite.insert(participants)
    )
    for i in range(0, len(rows), 5000):
        conn.execute(ins.on_conflict_do_nothing(), list(rows[i : i + 5000]))


def reenter(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Restart finished participants at the start activity with their next entry number."""
    if not rows:
        return
    stmt = (
        update(participants)
        .where(
            and_(
                participants.c.app_id == bindparam("k_app"),
                participants.c.journey_id == bindparam("k_journey"),
                participants.c.pkey == bindparam("k_pkey"),
                or_(*(participants.c.status == s for s in FINISHED_STATUSES)),
            )
        )
        .values(
            version=bindparam("version"),
            entry=bindparam("entry"),
            activity_id=bindparam("activity_id"),
            phase="enter",
            status="ACTIVE",
            wake_at=bindparam("wake_at"),
            attempt=0,
            entered_at=bindparam("entered_at"),
            activity_at=bindparam("entered_at"),
            data={},
        )
    )
    conn.execute(
        stmt,
        [
            {
                "k_app": r["app_id"],
                "k_journey": r["journey_id"],
                "k_pkey": r["pkey"],
                "version": r["version"],
                "entry": r["entry"],
                "activity_id": r["activity_id"],
                "wake_at": r["wake_at"],
                "entered_at": r["entered_at"],
            }
            for r in rows
        ],
    )


def set_status_all(
    conn: Connection,
    app_id: str,
    journey_id: str,
    *,
    from_statuses: Iterable[str],
    to: str,
    now: str | None = None,
) -> int:
    """Move every participant of a journey in ``from_statuses`` to status ``to``."""
    values: dict[str, Any] = {"status": to}
    if to in FINISHED_STATUSES:
        values.update(phase="done", wake_at=None, activity_at=now)
    result = conn.execute(
        update(participants)
        .where(
            and_(
                participants.c.app_id == app_id,
                participants.c.journey_id == journey_id,
                participants.c.status.in_(list(from_statuses)),
            )
        )
        .values(**values)
    )
    return int(result.rowcount or 0)


def wake(conn: Connection, app_id: str, journey_id: str, pkey: str, at: str) -> bool:
    """Make a waiting participant due at ``at`` (if it is not due earlier already)."""
    result = conn.execute(
        update(participants)
        .where(
            and_(
                participants.c.app_id == app_id,
                participants.c.journey_id == journey_id,
                participants.c.pkey == pkey,
                participants.c.status.in_(("ACTIVE", "PAUSED")),
                or_(participants.c.wake_at.is_(None), participants.c.wake_at > at),
            )
        )
        .values(wake_at=at)
    )
    return bool(result.rowcount)


def wake_many(conn: Connection, app_id: str, wakes: Sequence[tuple[str, str, str]]) -> int:
    """:func:`wake` for many (journey id, pkey, at) at once."""
    earliest: dict[tuple[str, str], str] = {}
    for j, k, at in wakes:
        earliest[(j, k)] = min(at, earliest.get((j, k), at))
    rows = [
        {"app_id": app_id, "journey_id": j, "pkey": k, "wake_at": at}
        for (j, k), at in earliest.items()
    ]
    # Only those waiting longer than that: compare with the row's own new value.
    return update_by_key(
        conn,
        participants,
        ("app_id", "journey_id", "pkey"),
        ("wake_at",),
        rows,
        extra="t.status IN ('ACTIVE', 'PAUSED') AND (t.wake_at IS NULL OR t.wake_at > v.wake_at)",
    )


def wake_user(
    conn: Connection, app_id: str, user_ids: Sequence[str], endpoint_ids: Sequence[str], at: str
) -> int:
    """Make every waiting participant of these users (or lone endpoints) due at ``at``.

    Users are found through ``ix_participants_user`` (a participant keyed ``u:<id>`` has that
    user id); the participant key alone is no prefix of any index, so matching on it scanned
    every participant of the application."""
    found = 0
    waiting = and_(
        participants.c.status == "ACTIVE",
        participants.c.phase == "wait",
        or_(participants.c.wake_at.is_(None), participants.c.wake_at > at),
    )
    whom = []
    if user_ids:  # the key decides; the user id lets the index find the rows
        whom.append(
            and_(
                one_of(conn, participants.c.user_id, user_ids),
                one_of(conn, participants.c.pkey, [f"u:{u}" for u in user_ids]),
            )
        )
    if endpoint_ids:
        whom.append(one_of(conn, participants.c.pkey, [f"e:{e}" for e in endpoint_ids]))
    for who in whom:
        result = conn.execute(
            update(participants)
            .where(and_(participants.c.app_id == app_id, who, waiting))
            .values(wake_at=at)
        )
        found += int(result.rowcount or 0)
    return found


def next_wake(conn: Connection) -> str | None:
    """The earliest time any active participant is due."""
    value = conn.execute(
        select(func.min(participants.c.wake_at)).where(participants.c.status == "ACTIVE")
    ).scalar()
    return str(value) if value else None


def counts(conn: Connection, app_id: str, journey_id: str) -> dict[str, int]:
    rows = conn.execute(
        select(participants.c.status, func.count())
        .where(and_(participants.c.app_id == app_id, participants.c.journey_id == journey_id))
        .group_by(participants.c.status)
    )
    return {r[0]: int(r[1]) for r in rows}


def at_activities(conn: Connection, app_id: str, journey_id: str) -> dict[str, int]:
    rows = conn.execute(
        select(participants.c.activity_id, func.count())
        .where(
            and_(
                participants.c.app_id == app_id,
                participants.c.journey_id == journey_id,
                participants.c.status.in_(("ACTIVE", "PAUSED")),
            )
        )
        .group_by(participants.c.activity_id)
    )
    return {str(r[0]): int(r[1]) for r in rows}


def list_for(
    conn: Connection,
    app_id: str,
    journey_id: str,
    *,
    activity: str | None = None,
    status: str | None = None,
    limit: int = 1000,
) -> list[tuple[str, Participant]]:
    conds = [participants.c.app_id == app_id, participants.c.journey_id == journey_id]
    if activity:
        conds.append(participants.c.activity_id == activity)
    if status:
        conds.append(participants.c.status == status)
    rows = conn.execute(
        select(participants).where(and_(*conds)).order_by(participants.c.pkey).limit(limit)
    )
    return [from_row(r) for r in rows]
