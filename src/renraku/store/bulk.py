"""Bulk writes and set membership, as one statement per chunk.

PostgreSQL: the rows travel as one JSON text parameter read back by
``json_populate_recordset(NULL::table, ...)``, which types every column as the table does. One
``json.dumps`` of the whole chunk (C code) replaces a Python-level array dump per column and value,
about a fifth of the client CPU of ``unnest(array, ...)`` for the same server work. SQLite: an
executemany of the same statement (per-row statements in one transaction are cheap there).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Table,
    TextClause,
    any_,
    bindparam,
    text,
)
from sqlalchemy.dialects import postgresql

_CHUNK = 10_000


def one_of(conn: Connection, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``: one parameter whatever the
    count, so the statement text (and its parse by driver and server) is the same every time."""
    listed = list(values)
    if conn.dialect.name == "postgresql":
        cond: ColumnElement[bool] = column == any_(
            bindparam(None, listed, type_=postgresql.ARRAY(column.type))
        )
        return cond
    inside: ColumnElement[bool] = column.in_(listed)
    return inside


def rows_json(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as one JSON array of objects, for :func:`recordset` (JSON columns stay nested)."""
    return json.dumps(list(rows), separators=(",", ":"))


def recordset(table: Table, param: str = "rows") -> str:
    """SQL for the rows of JSON parameter ``param`` typed as ``table``'s columns (PostgreSQL)."""
    return f"json_populate_recordset(NULL::{table.name}, CAST(:{param} AS json))"


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    suffix: str = "",
) -> list[Any]:
    """``INSERT INTO table (columns of the first row) SELECT ... FROM the rows`` on PostgreSQL, in
    chunks; ``suffix`` is appended (``ON CONFLICT ... RETURNING ...``); the returned rows of every
    chunk are returned. PostgreSQL only: other dialects insert through SQLAlchemy."""
    if not rows:
        return []
    names = ", ".join(rows[0])
    if conn.dialect.name != "postgresql":
        raise ValueError("insert_rows is PostgreSQL's path; use the table's insert elsewhere")
    stmt = text(
        f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {recordset(table)} {suffix}"
    )
    out: list[Any] = []
    for lo in range(0, len(rows), _CHUNK):
        result = conn.execute(stmt, {"rows": rows_json(rows[lo : lo + _CHUNK])})
        if result.returns_rows:
            out += result.all()
    return out


def _pin_key_lookups(conn: Connection, on: bool) -> None:
    if on:
        conn.exec_driver_sql("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
    else:
        conn.exec_driver_sql("RESET enable_hashjoin; RESET enable_mergejoin")


def _pg_update(table: Table, keys: Sequence[str], fields: Sequence[str], cond: str) -> TextClause:
    sets = ", ".join(f"{f} = v.{f}" for f in fields)
    return text(f"UPDATE {table.name} AS t SET {sets} FROM {recordset(table)} AS v WHERE {cond}")


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
    match = " AND ".join(f"t.{k} = v.{k}" for k in keys)
    cond = f"{match} AND ({extra})" if extra else match
    if conn.dialect.name != "postgresql":
        is_json = {n: isinstance(table.c[n].type, JSON) for n in (*keys, *fields)}

        def value(name: str, raw: Any) -> Any:
            return json.dumps(raw) if is_json[name] and raw is not None else raw

        lite_sets = ", ".join(f"{f} = :{f}" for f in fields)
        lite_cond = cond.replace("v.", ":")
        stmt = text(f"UPDATE {table.name} AS t SET {lite_sets} WHERE {lite_cond}")
        params = [{n: value(n, r[n]) for n in (*keys, *fields)} for r in rows]
        return int(conn.execute(stmt, params).rowcount or 0)
    stmt = _pg_update(table, keys, fields, cond)
    names = (*keys, *fields)
    # Each row is found by its primary key: without this the planner, misled by stale statistics
    # on a table that grew by bulk entry, hashes the whole table for every chunk.
    if by_key_only:
        _pin_key_lookups(conn, True)
    total = 0
    for lo in range(0, len(rows), _CHUNK):
        chunk = rows[lo : lo + _CHUNK]
        payload = rows_json({n: r[n] for n in names} for r in chunk)
        total += int(conn.execute(stmt, {"rows": payload}).rowcount or 0)
    # Only for this statement: later statements of the transaction (and the triggers they fire,
    # e.g. the endpoint attribute index) need hash joins.
    if by_key_only:
        _pin_key_lookups(conn, False)
    return total
