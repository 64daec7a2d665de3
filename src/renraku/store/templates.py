"""Message templates (Pinpoint's EMAIL, SMS, VOICE and PUSH templates), one row per name and type.

Names are unique per application and template type, as in Pinpoint (where a name is unique per
type). ``version`` counts updates; the newest version is the one stored and used.
"""

from __future__ import annotations

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
    delete,
    insert,
    select,
    update,
)

from renraku.errors import Conflict, NotFound
from renraku.store.schema import Json, metadata

TEMPLATE_TYPES = ("EMAIL", "SMS", "VOICE", "PUSH")

templates = Table(
    "templates",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("name", String(128), nullable=False),
    Column("template_type", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column(
        "parts", Json, nullable=False
    ),  # Subject, HtmlPart, TextPart, Body, DefaultSubstitutions
    Column("description", Text),
    Column("tags", Json, nullable=False),
    Column("creation_date", String(32), nullable=False),
    Column("last_modified_date", String(32), nullable=False),
    PrimaryKeyConstraint("app_id", "name", "template_type"),
    ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
)


def _row(r: Any) -> dict[str, Any]:
    return {
        "TemplateName": r.name,
        "TemplateType": r.template_type,
        "Version": str(r.version),
        "TemplateDescription": r.description,
        "tags": dict(r.tags or {}),
        "CreationDate": r.creation_date,
        "LastModifiedDate": r.last_modified_date,
        **dict(r.parts or {}),
    }


def _key(app_id: str, name: str, template_type: str) -> Any:
    return (
        (templates.c.app_id == app_id)
        & (templates.c.name == name)
        & (templates.c.template_type == template_type.upper())
    )


def exists(conn: Connection, app_id: str, name: str, template_type: str) -> bool:
    """True when application ``app_id`` has a template ``name`` of ``template_type`` (EMAIL, SMS...)."""
    return (
        conn.execute(select(templates.c.version).where(_key(app_id, name, template_type))).first()
        is not None
    )


def put(
    conn: Connection,
    app_id: str,
    name: str,
    template_type: str,
    parts: dict[str, Any],
    *,
    now: str,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    create_only: bool = False,
) -> dict[str, Any]:
    """Create the template, or replace its parts as a new version (Conflict if ``create_only``)."""
    template_type = template_type.upper()
    current = conn.execute(
        select(templates.c.version).where(_key(app_id, name, template_type))
    ).first()
    if current is None:
        conn.execute(
            insert(templates).values(
                app_id=app_id,
                name=name,
                template_type=template_type,
                version=1,
                parts=parts,
                description=description,
                tags=tags or {},
                creation_date=now,
                last_modified_date=now,
            )
        )
    elif create_only:
        raise Conflict(f"a {template_type} template named {name!r} already exists")
    else:
        values: dict[str, Any] = {
            "version": current.version + 1,
            "parts": parts,
            "last_modified_date": now,
        }
        if description is not None:
            values["description"] = description
        if tags is not None:
            values["tags"] = tags
        conn.execute(update(templates).where(_key(app_id, name, template_type)).values(**values))
    return get(conn, app_id, name, template_type)


def get(conn: Connection, app_id: str, name: str, template_type: str) -> dict[str, Any]:
    """The template in Pinpoint's ``*TemplateResponse`` shape (parts at the top level)."""
    row = conn.execute(select(templates).where(_key(app_id, name, template_type))).first()
    if row is None:
        raise NotFound(f"{template_type.upper()} template", name)
    return _row(row)


def find(conn: Connection, app_id: str, name: str) -> list[dict[str, Any]]:
    """Every template called ``name`` whatever its type."""
    rows = conn.execute(
        select(templates)
        .where((templates.c.app_id == app_id) & (templates.c.name == name))
        .order_by(templates.c.template_type)
    )
    return [_row(r) for r in rows]


def list_templates(
    conn: Connection, app_id: str, *, template_type: str | None = None, prefix: str | None = None
) -> list[dict[str, Any]]:
    query = select(templates).where(templates.c.app_id == app_id)
    if template_type:
        query = query.where(templates.c.template_type == template_type.upper())
    if prefix:
        query = query.where(templates.c.name.startswith(prefix, autoescape=True))
    rows = conn.execute(query.order_by(templates.c.name, templates.c.template_type))
    return [_row(r) for r in rows]


def remove(conn: Connection, app_id: str, name: str, template_type: str) -> None:
    result = conn.execute(delete(templates).where(_key(app_id, name, template_type)))
    if result.rowcount == 0:
        raise NotFound(f"{template_type.upper()} template", name)
