"""Contact flows and their versions: each save of a name adds a version; calls run the newest."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    ForeignKeyConstraint,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    insert,
    or_,
    select,
    update,
)

from renraku.errors import NotFound
from renraku.store.schema import Json, metadata

flows = Table(
    "flows",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("id", String(64), nullable=False),
    Column("name", String(256), nullable=False),
    Column("description", Text),
    Column("version", Integer, nullable=False),
    Column("creation_date", String(32), nullable=False),
    Column("last_modified_date", String(32), nullable=False),
    PrimaryKeyConstraint("app_id", "id"),
    ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    UniqueConstraint("app_id", "name", name="uq_flows_name"),
)

flow_versions = Table(
    "flow_versions",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("flow_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content", Json, nullable=False),
    Column("creation_date", String(32), nullable=False),
    PrimaryKeyConstraint("app_id", "flow_id", "version"),
    ForeignKeyConstraint(["app_id", "flow_id"], ["flows.app_id", "flows.id"], ondelete="CASCADE"),
)


def _summary(r: Any) -> dict[str, Any]:
    return {
        "Id": r.id,
        "Name": r.name,
        "Description": r.description,
        "Version": int(r.version),
        "CreationDate": r.creation_date,
        "LastModifiedDate": r.last_modified_date,
    }


def find(conn: Connection, app_id: str, key: str) -> dict[str, Any] | None:
    """A flow's summary by id, name, or a Connect ARN ending in ``contact-flow/ID``."""
    key = key.rsplit("contact-flow/", 1)[-1]
    row = conn.execute(
        select(flows).where(
            and_(flows.c.app_id == app_id, or_(flows.c.id == key, flows.c.name == key))
        )
    ).first()
    return None if row is None else _summary(row)


def get(conn: Connection, app_id: str, key: str) -> dict[str, Any]:
    found = find(conn, app_id, key)
    if found is None:
        raise NotFound("contact flow", key)
    return found


def content(conn: Connection, app_id: str, flow_id: str, version: int | None = None) -> Any:
    """The flow-language JSON of a version (the newest when ``version`` is None)."""
    if version is None:
        version = int(get(conn, app_id, flow_id)["Version"])
    row = conn.execute(
        select(flow_versions.c.content).where(
            and_(
                flow_versions.c.app_id == app_id,
                flow_versions.c.flow_id == flow_id,
                flow_versions.c.version == version,
            )
        )
    ).first()
    if row is None:
        raise NotFound("contact flow version", f"{flow_id}:{version}")
    return row.content


def save(
    conn: Connection,
    app_id: str,
    name: str,
    data: Mapping[str, Any],
    *,
    now: str,
    description: str | None = None,
) -> dict[str, Any]:
    """Store ``data`` as a new flow named ``name``, or as the next version of that flow."""
    existing = find(conn, app_id, name)
    if existing is None:
        flow_id = uuid.uuid4().hex
        version = 1
        conn.execute(
            insert(flows).values(
                app_id=app_id,
                id=flow_id,
                name=name,
                description=description,
                version=1,
                creation_date=now,
                last_modified_date=now,
            )
        )
    else:
        flow_id = existing["Id"]
        version = int(existing["Version"]) + 1
        values: dict[str, Any] = {"version": version, "last_modified_date": now}
        if description is not None:
            values["description"] = description
        conn.execute(
            update(flows)
            .where(and_(flows.c.app_id == app_id, flows.c.id == flow_id))
            .values(**values)
        )
    conn.execute(
        insert(flow_versions).values(
            app_id=app_id, flow_id=flow_id, version=version, content=dict(data), creation_date=now
        )
    )
    return get(conn, app_id, flow_id)


def list_flows(conn: Connection, app_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(flows).where(flows.c.app_id == app_id).order_by(flows.c.name))
    return [_summary(r) for r in rows]


def versions(conn: Connection, app_id: str, flow_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(flow_versions.c.version, flow_versions.c.creation_date)
        .where(and_(flow_versions.c.app_id == app_id, flow_versions.c.flow_id == flow_id))
        .order_by(flow_versions.c.version)
    )
    return [{"Version": int(r.version), "CreationDate": r.creation_date} for r in rows]
