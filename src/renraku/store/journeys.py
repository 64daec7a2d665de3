"""Journeys and their versions: definitions, state, the next segment entry time."""

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
    and_,
    func,
    or_,
    select,
    text,
    update,
)

from renraku.errors import NotFound
from renraku.store.participants import participants
from renraku.store.schema import Json, metadata
from renraku.store.sends import sends

journeys = Table(
    "journeys",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("id", String(64), nullable=False),
    Column("name", String(256), nullable=False),
    Column("state", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", Json, nullable=False),
    Column("tags", Json, nullable=False),
    Column("creation_date", String(32), nullable=False),
    Column("last_modified_date", String(32), nullable=False),
    Column("next_entry_at", String(32)),
    Column("entry_runs", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("app_id", "id"),
    ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    Index("ix_journeys_state", "state", "next_entry_at"),
)

journey_versions = Table(
    "journey_versions",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("journey_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", Json, nullable=False),
    Column("creation_date", String(32), nullable=False),
    PrimaryKeyConstraint("app_id", "journey_id", "version"),
    ForeignKeyConstraint(
        ["app_id", "journey_id"], ["journeys.app_id", "journeys.id"], ondelete="CASCADE"
    ),
)


def insert(
    conn: Connection,
    app_id: str,
    journey_id: str,
    definition: Mapping[str, Any],
    *,
    now: str,
    tags: Mapping[str, str] | None = None,
) -> None:
    """A new DRAFT journey at version 1."""
    conn.execute(
        journeys.insert().values(
            app_id=app_id,
            id=journey_id,
            name=str(definition.get("Name") or journey_id),
            state="DRAFT",
            version=1,
            definition=dict(definition),
            tags=dict(tags or {}),
            creation_date=now,
            last_modified_date=now,
            next_entry_at=None,
            entry_runs=0,
        )
    )
    conn.execute(
        journey_versions.insert().values(
            app_id=app_id,
            journey_id=journey_id,
            version=1,
            definition=dict(definition),
            creation_date=now,
        )
    )


def get(conn: Connection, app_id: str, key: str, *, for_update: bool = False) -> Any:
    """The journeys row with id (or else name) ``key``."""
    stmt = select(journeys).where(and_(journeys.c.app_id == app_id, journeys.c.id == key))
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        row = conn.execute(
            select(journeys)
            .where(and_(journeys.c.app_id == app_id, journeys.c.name == key))
            .order_by(journeys.c.creation_date.desc())
        ).first()
    if row is None:
        raise NotFound("journey", key)
    return row


def list_all(conn: Connection, app_id: str) -> list[Any]:
    return list(
        conn.execute(
            select(journeys).where(journeys.c.app_id == app_id).order_by(journeys.c.creation_date)
        )
    )


def version_definition(
    conn: Connection, app_id: str, journey_id: str, version: int
) -> dict[str, Any]:
    row = conn.execute(
        select(journey_versions.c.definition).where(
            and_(
                journey_versions.c.app_id == app_id,
                journey_versions.c.journey_id == journey_id,
                journey_versions.c.version == version,
            )
        )
    ).first()
    if row is None:
        raise NotFound("journey version", f"{journey_id} v{version}")
    return dict(row.definition)


def new_version(
    conn: Connection,
    app_id: str,
    journey_id: str,
    definition: Mapping[str, Any],
    *,
    now: str,
    bump: bool,
) -> int:
    """Store ``definition``: as a new version when ``bump`` (an active journey), else in place."""
    row = get(conn, app_id, journey_id)
    version = int(row.version) + (1 if bump else 0)
    if bump:
        conn.execute(
            journey_versions.insert().values(
                app_id=app_id,
                journey_id=journey_id,
                version=version,
                definition=dict(definition),
                creation_date=now,
            )
        )
    else:
        conn.execute(
            update(journey_versions)
            .where(
                and_(
                    journey_versions.c.app_id == app_id,
                    journey_versions.c.journey_id == journey_id,
                    journey_versions.c.version == version,
                )
            )
            .values(definition=dict(definition))
        )
    conn.execute(
        update(journeys)
        .where(and_(journeys.c.app_id == app_id, journeys.c.id == journey_id))
        .values(
            definition=dict(definition),
            version=version,
            last_modified_date=now,
            name=str(definition.get("Name") or row.name),
        )
    )
    return version


def set_state(
    conn: Connection,
    app_id: str,
    journey_id: str,
    state: str,
    *,
    now: str,
    next_entry_at: str | None = None,
    clear_entry: bool = False,
) -> None:
    values: dict[str, Any] = {"state": state, "last_modified_date": now}
    if next_entry_at is not None or clear_entry:
        values["next_entry_at"] = next_entry_at
    conn.execute(
        update(journeys)
        .where(and_(journeys.c.app_id == app_id, journeys.c.id == journey_id))
        .values(**values)
    )


def due_entries(conn: Connection, now: str) -> list[Any]:
    """Active journeys whose next segment entry (first or a refresh) is due.

    On PostgreSQL the rows are locked for the transaction and rows another worker holds are
    skipped, so each step of an entry run is taken by one worker at a time (the admission writes
    ``journey.entered`` only for the rows it actually inserted or re-entered, so even a racing
    admission enters nobody twice).
    """
    stmt = select(journeys).where(
        and_(
            journeys.c.state == "ACTIVE",
            journeys.c.next_entry_at.is_not(None),
            journeys.c.next_entry_at <= now,
        )
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(conn.execute(stmt))


def next_entry_time(conn: Connection) -> str | None:
    from sqlalchemy import func

    value = conn.execute(
        select(func.min(journeys.c.next_entry_at)).where(journeys.c.state == "ACTIVE")
    ).scalar()
    return str(value) if value else None


def entry_done(conn: Connection, app_id: str, journey_id: str, next_at: str | None) -> None:
    conn.execute(
        update(journeys)
        .where(and_(journeys.c.app_id == app_id, journeys.c.id == journey_id))
        .values(next_entry_at=next_at, entry_runs=journeys.c.entry_runs + 1)
    )


def active_with_event_start(conn: Connection, app_id: str) -> list[Any]:
    rows = conn.execute(
        select(journeys).where(and_(journeys.c.app_id == app_id, journeys.c.state == "ACTIVE"))
    )
    return [
        r
        for r in rows
        if ((r.definition or {}).get("StartCondition") or {}).get("EventStartCondition")
    ]


def delete(conn: Connection, app_id: str, journey_id: str) -> None:
    """Remove the journey with its versions, participants and sends, in the caller's transaction.

    Rows are deleted explicitly rather than left to ON DELETE CASCADE, which SQLite honours only
    with its foreign-key pragma on, and which ``sends`` (no foreign key) would not get at all.
    """
    for table in (sends, participants):
        conn.execute(
            table.delete().where(and_(table.c.app_id == app_id, table.c.journey_id == journey_id))
        )
    conn.execute(
        journey_versions.delete().where(
            and_(journey_versions.c.app_id == app_id, journey_versions.c.journey_id == journey_id)
        )
    )
    conn.execute(
        journeys.delete().where(and_(journeys.c.app_id == app_id, journeys.c.id == journey_id))
    )


def refresh_candidates(conn: Connection, app_id: str, before: str) -> list[Any]:
    """Active journeys of an application with ``RefreshOnSegmentUpdate: true`` that made their
    first segment entry and whose next one is not due by ``before``: those a segment update may
    bring forward. Called on every endpoint write, so the flag is tested in SQL (per dialect)."""
    if conn.dialect.name == "postgresql":
        flagged: Any = text("""journeys.definition @> '{"RefreshOnSegmentUpdate": true}'""")
    else:
        flagged = func.json_extract(journeys.c.definition, "$.RefreshOnSegmentUpdate") == 1
    return list(
        conn.execute(
            select(journeys.c.id, journeys.c.definition).where(
                and_(
                    journeys.c.app_id == app_id,
                    journeys.c.state == "ACTIVE",
                    journeys.c.entry_runs > 0,
                    or_(journeys.c.next_entry_at.is_(None), journeys.c.next_entry_at > before),
                    flagged,
                )
            )
        )
    )


def bring_entry_forward(conn: Connection, app_id: str, journey_id: str, at: str) -> None:
    """Make the journey's next segment entry due at ``at`` unless it is due sooner."""
    conn.execute(
        update(journeys)
        .where(
            and_(
                journeys.c.app_id == app_id,
                journeys.c.id == journey_id,
                journeys.c.state == "ACTIVE",
                or_(journeys.c.next_entry_at.is_(None), journeys.c.next_entry_at > at),
            )
        )
        .values(next_entry_at=at)
    )
