"""The shared clock state: the virtual clock's time (and the accelerated clock's anchor), kept in
the database so the CLI, the server and every worker agree on "now"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Column, Connection, String, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from renraku.store.schema import Json, metadata

clock_state = Table(
    "clock_state",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("now", String(32), nullable=False),
    Column("data", Json, nullable=False),
)


def read(conn: Connection, name: str) -> Any:
    return conn.execute(select(clock_state).where(clock_state.c.name == name)).first()


def init(conn: Connection, name: str, now: str, data: Mapping[str, Any] | None = None) -> None:
    """Create the clock row if missing (an existing one is kept)."""
    ins = (
        postgresql.insert(clock_state)
        if conn.dialect.name == "postgresql"
        else sqlite.insert(clock_state)
    )
    conn.execute(ins.on_conflict_do_nothing(), {"name": name, "now": now, "data": dict(data or {})})


def write(conn: Connection, name: str, now: str, data: Mapping[str, Any] | None = None) -> None:
    values: dict[str, Any] = {"now": now}
    if data is not None:
        values["data"] = dict(data)
    conn.execute(update(clock_state).where(clock_state.c.name == name).values(**values))
