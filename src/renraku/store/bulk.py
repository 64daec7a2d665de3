"""Bulk updates by key, as one statement per chunk.

PostgreSQL: ``UPDATE t SET ... FROM unnest(array, array, ...) AS v(...)``: one array parameter per
column, an order of magnitude faster than per-row statements or a VALUES list. SQLite: an
executemany of the same statement (per-row statements in one transaction are cheap there).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, Table, text
from sqlalchemy.dialects import postgresql

_CHUNK = 10_000


def update_by_key(
    conn: Connection,
    table: Table,
    keys: Sequence[str],
    fields: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    extra: str = "",
    by_key_only: bool = True,
) -> int:
    """Set ``fields`` of the rows identified by ``keys`` (each mapping has keys and fields).

    ``extra`` is an SQL condition added to every row's match, naming the table's columns as
    ``t.col`` and the row's new values as ``v.col`` (e.g. ``t.wake_at > v.wake_at``).
    ``by_key_only=False`` lets PostgreSQL's planner join as it likes: for tables whose triggers
    join transition tables (no hash join there means comparing every old row with every new one).
    """
    if not rows:
        return 0
    is_json = {n: isinstance(table.c[n].type, JSON) for n in (*keys, *fields)}

    def value(name: str, raw: Any) -> Any:
        return json.dumps(raw) if is_json[name] and raw is not None else raw

    name = table.name
    sets = ", ".join(f"{f} = v.{f}" for f in fields)
    match = " AND ".join(f"t.{k} = v.{k}" for k in keys)
    cond = f"{match} AND ({extra})" if extra else match
    if conn.dialect.name != "postgresql":
        lite_sets = ", ".join(f"{f} = :{f}" for f in fields)
        lite_cond = cond.replace("v.", ":")
        stmt = text(f"UPDATE {name} AS t SET {lite_sets} WHERE {lite_cond}")
        params = [{n: value(n, r[n]) for n in (*keys, *fields)} for r in rows]
        return int(conn.execute(stmt, params).rowcount or 0)
    names = [*keys, *fields]
    pg = postgresql.dialect()  # type: ignore[no-untyped-call]
    arrays = ", ".join(
        f"CAST(:p{i} AS {table.c[n].type.compile(dialect=pg)}[])" for i, n in enumerate(names)
    )
    stmt = text(
        f"UPDATE {name} AS t SET {sets} FROM unnest({arrays}) AS v({', '.join(names)}) WHERE {cond}"
    )
    # Each row is found by its primary key: without this the planner, misled by stale statistics
    # on a table that grew by bulk entry, hashes the whole table for every chunk.
    if by_key_only:
        conn.execute(text("SET LOCAL enable_hashjoin = off"))
        conn.execute(text("SET LOCAL enable_mergejoin = off"))
    total = 0
    for lo in range(0, len(rows), _CHUNK):
        chunk = rows[lo : lo + _CHUNK]
        arrays_of = {f"p{i}": [value(n, r[n]) for r in chunk] for i, n in enumerate(names)}
        total += int(conn.execute(stmt, arrays_of).rowcount or 0)
    # Only for this statement: later statements of the transaction (and the triggers they fire,
    # e.g. the endpoint attribute index) need hash joins.
    if by_key_only:
        conn.execute(text("RESET enable_hashjoin"))
        conn.execute(text("RESET enable_mergejoin"))
    return total
