"""Bulk updates by key: one ``UPDATE ... FROM (VALUES ...)`` statement on PostgreSQL, an
executemany on SQLite (where per-row statements in one transaction are already cheap)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, column, update, values
from sqlalchemy.sql.elements import ColumnElement

_CHUNK = 5000


def update_by_key(
    conn: Connection,
    table: Table,
    keys: Sequence[str],
    fields: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    extra: Callable[[Mapping[str, Any]], Sequence[ColumnElement[bool]]] | None = None,
) -> int:
    """Set ``fields`` of the rows identified by ``keys`` (each mapping has keys and fields).

    ``extra(new)`` gives conditions added to every row's match; ``new[field]`` stands for the
    row's new value (e.g. "only when the new time is earlier").
    """
    if not rows:
        return 0
    if conn.dialect.name != "postgresql":
        new: dict[str, Any] = {f: bindparam(f"v_{f}") for f in fields}
        stmt = (
            update(table)
            .where(
                and_(
                    *(table.c[k] == bindparam(f"k_{k}") for k in keys),
                    *(extra(new) if extra else ()),
                )
            )
            .values(new)
        )
        params = [
            {**{f"k_{k}": r[k] for k in keys}, **{f"v_{f}": r[f] for f in fields}} for r in rows
        ]
        return int(conn.execute(stmt, params).rowcount or 0)
    names = [*keys, *fields]
    cols = [column(n, table.c[n].type) for n in names]
    total = 0
    for lo in range(0, len(rows), _CHUNK):
        chunk = rows[lo : lo + _CHUNK]
        v = values(*cols, name="v").data([tuple(r[n] for n in names) for r in chunk])
        new_v = {f: v.c[f] for f in fields}
        stmt = (
            update(table)
            .where(and_(*(table.c[k] == v.c[k] for k in keys), *(extra(new_v) if extra else ())))
            .values(new_v)
        )
        total += int(conn.execute(stmt).rowcount or 0)
    return total
