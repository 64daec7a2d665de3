"""Segments: imported (static membership) and dimensional (a definition evaluated at use)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from renraku.errors import NotFound
from renraku.store.schema import endpoints, segment_members, segments

SEGMENT_ARN = "arn:aws:mobiletargeting:local:000000000000:apps/{app}/segments/{seg}"


def to_response(r: Any) -> dict[str, Any]:
    """Pinpoint's SegmentResponse for a segments row."""
    definition = dict(r.definition or {})
    out: dict[str, Any] = {
        "ApplicationId": r.app_id,
        "Arn": SEGMENT_ARN.format(app=r.app_id, seg=r.id),
        "CreationDate": r.creation_date,
        "Id": r.id,
        "Name": r.name,
        "SegmentType": r.segment_type,
        "Version": r.version,
        "tags": dict(r.tags or {}),
    }
    if r.last_modified_date:
        out["LastModifiedDate"] = r.last_modified_date
    for key in ("Dimensions", "SegmentGroups", "ImportDefinition"):
        if key in definition:
            out[key] = definition[key]
    return out


def get(conn: Connection, app_id: str, key: str) -> dict[str, Any]:
    """A segment by id, or by name (the newest of that name)."""
    row = conn.execute(
        select(segments).where(and_(segments.c.app_id == app_id, segments.c.id == key))
    ).first()
    if row is None:
        row = conn.execute(
            select(segments)
            .where(and_(segments.c.app_id == app_id, segments.c.name == key))
            .order_by(segments.c.creation_date.desc())
        ).first()
    if row is None:
        raise NotFound("segment", key)
    return to_response(row)


def list_all(conn: Connection, app_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(segments).where(segments.c.app_id == app_id).order_by(segments.c.creation_date)
    )
    return [to_response(r) for r in rows]


def import_segment_for(
    conn: Connection, app_id: str, name: str, *, now: str, import_definition: dict[str, Any]
) -> str:
    """The id of the imported segment named ``name``, created on first use."""
    row = conn.execute(
        select(segments.c.id).where(
            and_(
                segments.c.app_id == app_id,
                segments.c.name == name,
                segments.c.segment_type == "IMPORT",
            )
        )
    ).first()
    if row is not None:
        return str(row.id)
    seg_id = uuid.uuid4().hex
    conn.execute(
        segments.insert().values(
            app_id=app_id,
            id=seg_id,
            name=name,
            segment_type="IMPORT",
            version=1,
            definition={"ImportDefinition": import_definition},
            tags={},
            creation_date=now,
            last_modified_date=now,
        )
    )
    return seg_id


def add_members(
    conn: Connection, app_id: str, segment_id: str, endpoint_ids: Iterable[str]
) -> None:
    """Add endpoints to a static segment (members already there are left alone)."""
    rows = [{"app_id": app_id, "segment_id": segment_id, "endpoint_id": e} for e in endpoint_ids]
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(segment_members).on_conflict_do_nothing(), rows)
    else:
        conn.execute(sqlite.insert(segment_members).on_conflict_do_nothing(), rows)


def member_channel_counts(conn: Connection, app_id: str, segment_id: str) -> dict[str, int]:
    """Members of a static segment by channel (members whose endpoint was deleted don't count)."""
    j = segment_members.join(
        endpoints,
        and_(
            endpoints.c.app_id == segment_members.c.app_id,
            endpoints.c.id == segment_members.c.endpoint_id,
        ),
    )
    rows = conn.execute(
        select(endpoints.c.channel_type, func.count())
        .select_from(j)
        .where(and_(segment_members.c.app_id == app_id, segment_members.c.segment_id == segment_id))
        .group_by(endpoints.c.channel_type)
    )
    return {r[0]: int(r[1]) for r in rows}


def refresh_import_definition(
    conn: Connection, app_id: str, segment_id: str, *, now: str, changes: dict[str, Any]
) -> None:
    """Update an imported segment's ImportDefinition (counts, size, source) after an import."""
    row = conn.execute(
        select(segments.c.definition, segments.c.version).where(
            and_(segments.c.app_id == app_id, segments.c.id == segment_id)
        )
    ).one()
    definition = dict(row.definition or {})
    before = dict(definition.get("ImportDefinition") or {})
    after = {**before, **changes}
    if after == before:
        return
    definition["ImportDefinition"] = after
    conn.execute(
        update(segments)
        .where(and_(segments.c.app_id == app_id, segments.c.id == segment_id))
        .values(definition=definition, version=row.version + 1, last_modified_date=now)
    )
