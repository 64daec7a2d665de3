"""Endpoints: bulk upsert (COPY-staged on PostgreSQL), reads by id and by user, delete."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select

from renraku.domain.endpoints import Endpoint
from renraku.errors import NotFound
from renraku.store.schema import endpoints

# Columns an upsert replaces; creation_date is kept from the first write.
_REPLACED = (
    "channel_type",
    "address",
    "user_id",
    "attributes",
    "user_attributes",
    "demographic",
    "location",
    "metrics",
    "latitude",
    "longitude",
    "opt_out",
    "endpoint_status",
    "effective_date",
    "cohort_id",
    "request_id",
)


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def to_row(ep: Endpoint) -> dict[str, Any]:
    """The table row for ``ep``."""
    return {
        "app_id": ep.app_id,
        "id": ep.id,
        "channel_type": ep.channel_type,
        "address": ep.address,
        "user_id": ep.user_id,
        "attributes": dict(ep.attributes),
        "user_attributes": dict(ep.user_attributes),
        "demographic": dict(ep.demographic),
        "location": dict(ep.location),
        "metrics": dict(ep.metrics),
        "latitude": _float_or_none(ep.location.get("Latitude")),
        "longitude": _float_or_none(ep.location.get("Longitude")),
        "opt_out": ep.opt_out,
        "endpoint_status": ep.endpoint_status,
        "effective_date": ep.effective_date,
        "creation_date": ep.creation_date or ep.effective_date or "",
        "cohort_id": ep.cohort_id,
        "request_id": ep.request_id,
    }


def from_row(r: Any) -> Endpoint:
    """The endpoint in table row ``r``."""
    return Endpoint(
        app_id=r.app_id,
        id=r.id,
        channel_type=r.channel_type,
        address=r.address,
        user_id=r.user_id,
        attributes=r.attributes or {},
        user_attributes=r.user_attributes or {},
        demographic=r.demographic or {},
        location=r.location or {},
        metrics=r.metrics or {},
        opt_out=r.opt_out,
        endpoint_status=r.endpoint_status,
        effective_date=r.effective_date,
        creation_date=r.creation_date,
        cohort_id=r.cohort_id,
        request_id=r.request_id,
    )


def upsert_many(conn: Connection, eps: Sequence[Endpoint]) -> int:
    """Insert or replace ``eps`` (creation dates of existing endpoints are kept). Returns the count."""
    return upsert_rows(conn, [to_row(ep) for ep in eps])


# Below this many rows a plain multi-row INSERT is as fast as staging through COPY.
_COPY_THRESHOLD = 200
_COLUMNS = tuple(c.name for c in endpoints.columns)
_JSON_COLUMNS = frozenset({"attributes", "user_attributes", "demographic", "location", "metrics"})
_STAGE = "renraku_endpoint_stage"
_SQLITE_BULK_CACHE_KIB = 32 * 1024


# One encoder, built once: json.dumps with options builds a new one per call.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json_text(value: Any) -> str:
    return _ENCODE(value) if value else "{}"


# The column order of driver tuples, for code that prepares rows without importing the store.
COLUMNS = _COLUMNS
JSON_COLUMNS = _JSON_COLUMNS
_JSON_AT = tuple(i for i, c in enumerate(_COLUMNS) if c in _JSON_COLUMNS)
_APP_AT = _COLUMNS.index("app_id")
_ID_AT = _COLUMNS.index("id")


def driver_tuple(row: dict[str, Any]) -> tuple[Any, ...]:
    """A table row (as :func:`to_row` makes it) as the drivers take it: column order, JSON as text.

    Cheap to pickle, so import workers can prepare rows and the writer only sends them.
    """
    values = [row[c] for c in _COLUMNS]
    for i in _JSON_AT:
        values[i] = _json_text(values[i])
    return tuple(values)


def upsert_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or replace table rows (as :func:`to_row` makes them; ids unique within ``rows``)."""
    return upsert_driver_tuples(conn, [driver_tuple(r) for r in rows])


def upsert_driver_tuples(
    conn: Connection, rows: Sequence[tuple[Any, ...]], *, segment_id: str | None = None
) -> int:
    """Insert or replace rows made by :func:`driver_tuple` (ids unique within ``rows``).

    The bulk path of imports. PostgreSQL: COPY into a temporary staging table, then one
    ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` (and, given ``segment_id``, the rows join that
    static segment from the same staging table). SQLite: one prepared upsert, executemany.
    Existing endpoints keep their creation date.
    """
    if not rows:
        return 0
    cols = ", ".join(f'"{c}"' for c in _COLUMNS)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in _REPLACED)
    upsert = f"ON CONFLICT (app_id, id) DO UPDATE SET {updates}"
    if conn.dialect.name == "postgresql" and len(rows) >= _COPY_THRESHOLD:
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
            "(LIKE endpoints INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {_STAGE} ({cols}) FROM STDIN") as copy:
            for values in rows:
                copy.write_row(values)
        _merge_staged(conn, cols, upsert, segment_id)
        conn.exec_driver_sql(f"TRUNCATE {_STAGE}")
        return len(rows)
    if conn.dialect.name == "postgresql":
        marks = ", ".join("%s" for _ in _COLUMNS)
    else:
        marks = ", ".join("?" for _ in _COLUMNS)
        if len(rows) >= _COPY_THRESHOLD:
            # Bulk upserts touch index pages all over: a larger page cache (this connection only)
            # saves most of the re-reads.
            conn.exec_driver_sql(f"PRAGMA cache_size=-{_SQLITE_BULK_CACHE_KIB}")
    if conn.dialect.name == "postgresql" and len(rows) > 1:
        # One statement rather than one per row: the attribute index's statement-level
        # triggers then run once for all the rows (UpdateEndpoint's group commit).
        placeholders = ", ".join(f"({marks})" for _ in rows)
        conn.exec_driver_sql(
            f"INSERT INTO endpoints ({cols}) VALUES {placeholders} {upsert}",
            tuple(value for row in rows for value in row),
        )
    else:
        conn.exec_driver_sql(
            f"INSERT INTO endpoints ({cols}) VALUES ({marks}) {upsert}", list(rows)
        )
    if segment_id is not None:
        from renraku.store import segments as segment_store

        segment_store.add_members(conn, rows[0][_APP_AT], segment_id, (r[_ID_AT] for r in rows))
    return len(rows)


def _merge_staged(conn: Connection, cols: str, upsert: str, segment_id: str | None) -> None:
    """Write the staging table's rows into ``endpoints`` (and ``segment_id``'s members), each in
    one ``INSERT ... SELECT ... ON CONFLICT`` statement.

    A plain ``INSERT ... WHERE NOT EXISTS`` for new rows (saving ``ON CONFLICT``'s speculative
    insertion) was tried and measured 11 to 23% less server CPU per row, but its per-row probe
    is planned from the table's statistics: on a new or freshly grown ``endpoints`` the planner
    may probe ``ix_endpoints_effective`` (app, date, id) instead of the primary key, reading the
    whole application's entries per staged row, so a first large batch went quadratic (minutes
    for 60,000 rows). ``ON CONFLICT`` always checks the primary key.
    """
    conn.exec_driver_sql(f"INSERT INTO endpoints ({cols}) SELECT {cols} FROM {_STAGE} {upsert}")
    if segment_id is not None:
        conn.exec_driver_sql(
            "INSERT INTO segment_members (app_id, segment_id, endpoint_id) "
            f"SELECT app_id, %(segment)s, id FROM {_STAGE} ON CONFLICT DO NOTHING",
            {"segment": segment_id},
        )


def get(conn: Connection, app_id: str, endpoint_id: str) -> Endpoint:
    row = conn.execute(
        select(endpoints).where(and_(endpoints.c.app_id == app_id, endpoints.c.id == endpoint_id))
    ).first()
    if row is None:
        raise NotFound("endpoint", endpoint_id)
    return from_row(row)


def find(conn: Connection, app_id: str, endpoint_id: str) -> Endpoint | None:
    try:
        return get(conn, app_id, endpoint_id)
    except NotFound:
        return None


def by_user(conn: Connection, app_id: str, user_id: str) -> list[Endpoint]:
    rows = conn.execute(
        select(endpoints)
        .where(and_(endpoints.c.app_id == app_id, endpoints.c.user_id == user_id))
        .order_by(endpoints.c.channel_type, endpoints.c.id)
    )
    return [from_row(r) for r in rows]


def by_ids(conn: Connection, app_id: str, ids: Iterable[str]) -> list[Endpoint]:
    wanted = list(ids)
    if not wanted:
        return []
    rows = conn.execute(
        select(endpoints).where(and_(endpoints.c.app_id == app_id, endpoints.c.id.in_(wanted)))
    )
    return [from_row(r) for r in rows]


def count(conn: Connection, app_id: str) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(endpoints).where(endpoints.c.app_id == app_id)
        ).scalar_one()
    )


def count_by_channel(conn: Connection, app_id: str) -> dict[str, int]:
    rows = conn.execute(
        select(endpoints.c.channel_type, func.count())
        .where(endpoints.c.app_id == app_id)
        .group_by(endpoints.c.channel_type)
    )
    return {r[0]: int(r[1]) for r in rows}


def delete_one(conn: Connection, app_id: str, endpoint_id: str) -> Endpoint:
    ep = get(conn, app_id, endpoint_id)
    conn.execute(
        delete(endpoints).where(and_(endpoints.c.app_id == app_id, endpoints.c.id == endpoint_id))
    )
    return ep


def delete_user(conn: Connection, app_id: str, user_id: str) -> list[Endpoint]:
    eps = by_user(conn, app_id, user_id)
    if not eps:
        raise NotFound("user", user_id)
    conn.execute(
        delete(endpoints).where(and_(endpoints.c.app_id == app_id, endpoints.c.user_id == user_id))
    )
    return eps


def count_users(conn: Connection, app_id: str) -> int:
    """Distinct User.UserIds among the application's endpoints."""
    return int(
        conn.execute(
            select(func.count(func.distinct(endpoints.c.user_id))).where(
                endpoints.c.app_id == app_id
            )
        ).scalar_one()
    )
