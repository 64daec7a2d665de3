"""Applications (Pinpoint's projects)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, func, insert, select

from renraku.errors import Conflict, NotFound
from renraku.store.schema import applications

ARN_PREFIX = "arn:aws:mobiletargeting:local:000000000000:apps/"


def _row(r: Any) -> dict[str, Any]:
    return {
        "Id": r.id,
        "Name": r.name,
        "Arn": r.arn,
        "tags": dict(r.tags or {}),
        "CreationDate": r.creation_date,
    }


def create_app(
    conn: Connection, name: str, *, now: str, tags: dict[str, str] | None = None
) -> dict[str, Any]:
    """Create an application; names are unique within a store."""
    name = name.strip()
    if not name:
        from renraku.errors import InvalidInput

        raise InvalidInput("application name must not be empty", subject="application")
    if conn.execute(select(applications.c.id).where(applications.c.name == name)).first():
        raise Conflict(f"an application named {name!r} already exists")
    app_id = uuid.uuid4().hex
    conn.execute(
        insert(applications).values(
            id=app_id, name=name, arn=ARN_PREFIX + app_id, tags=tags or {}, creation_date=now
        )
    )
    return {
        "Id": app_id,
        "Name": name,
        "Arn": ARN_PREFIX + app_id,
        "tags": tags or {},
        "CreationDate": now,
    }


def list_apps(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(applications).order_by(applications.c.creation_date))
    return [_row(r) for r in rows]


def get_app(conn: Connection, key: str) -> dict[str, Any]:
    """An application by id or by name."""
    row = conn.execute(select(applications).where(applications.c.id == key)).first()
    if row is None:
        row = conn.execute(select(applications).where(applications.c.name == key)).first()
    if row is None:
        raise NotFound("application", key)
    return _row(row)


def resolve_app(conn: Connection, key: str | None) -> dict[str, Any]:
    """The application named by ``key``; without one, the only application there is."""
    if key:
        return get_app(conn, key)
    count = conn.execute(select(func.count()).select_from(applications)).scalar_one()
    if count == 1:
        return _row(conn.execute(select(applications)).one())
    if count == 0:
        raise NotFound("application", "(none: run `renraku init` or `renraku apps create NAME`)")
    raise Conflict(f"there are {count} applications; choose one with --app NAME or RENRAKU_APP")


def delete_app(conn: Connection, key: str) -> dict[str, Any]:
    app = get_app(conn, key)
    conn.execute(applications.delete().where(applications.c.id == app["Id"]))
    return app
