"""Segments: imported (static membership) and dimensional (a definition evaluated at use).

Every write of a segment's definition is a new ``Version`` (Pinpoint's); each version is kept in
``segment_versions`` so a journey can name the version it used and read it back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Connection,
    ForeignKeyConstraint,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from renraku.domain.segments import SegmentDefinition, parse_segment_definition
from renraku.errors import Conflict, NotFound
from renraku.store.schema import Json, endpoints, metadata, segment_members, segments

if TYPE_CHECKING:
    from renraku.store.segment_sql import Compiler, Predicate

# One row per (endpoint, attribute or user attribute, value), kept by triggers (migration 0002).
endpoint_attribute_index = Table(
    "endpoint_attribute_index",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("kind", String(1), nullable=False),  # A: Attributes, U: User.UserAttributes
    Column("name", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("channel_type", String(32), nullable=False),
    Column("participant", Text, nullable=False),  # u:USER, or e:ENDPOINT without a user
    Column("endpoint_id", String(128), nullable=False),
    PrimaryKeyConstraint(
        "app_id", "kind", "name", "value", "channel_type", "participant", "endpoint_id"
    ),
)

segment_versions = Table(
    "segment_versions",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("segment_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", String(256), nullable=False),
    Column("segment_type", String(16), nullable=False),
    Column("definition", Json, nullable=False),
    Column("creation_date", String(32), nullable=False),
    PrimaryKeyConstraint("app_id", "segment_id", "version"),
    ForeignKeyConstraint(
        ["app_id", "segment_id"], ["segments.app_id", "segments.id"], ondelete="CASCADE"
    ),
)

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
    _record_version(conn, app_id, seg_id)
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
    _record_version(conn, app_id, segment_id)


def _record_version(conn: Connection, app_id: str, segment_id: str) -> None:
    """Copy the segment's current definition into its version history."""
    row = _row_by_id(conn, app_id, segment_id)
    if row is None:
        return
    conn.execute(
        segment_versions.insert().values(
            app_id=app_id,
            segment_id=segment_id,
            version=row.version,
            name=row.name,
            segment_type=row.segment_type,
            definition=row.definition,
            creation_date=row.last_modified_date or row.creation_date,
        )
    )


def _row_by_id(conn: Connection, app_id: str, segment_id: str) -> Any:
    return conn.execute(
        select(segments).where(and_(segments.c.app_id == app_id, segments.c.id == segment_id))
    ).first()


def find_row(conn: Connection, app_id: str, key: str) -> Any:
    """The segments row for an id, or else a name (the newest of that name); None if neither."""
    row = _row_by_id(conn, app_id, key)
    if row is None:
        row = conn.execute(
            select(segments)
            .where(and_(segments.c.app_id == app_id, segments.c.name == key))
            .order_by(segments.c.creation_date.desc(), segments.c.id)
        ).first()
    return row


def row(conn: Connection, app_id: str, key: str) -> Any:
    found = find_row(conn, app_id, key)
    if found is None:
        raise NotFound("segment", key)
    return found


def create_dimensional(
    conn: Connection,
    app_id: str,
    *,
    name: str,
    definition: dict[str, Any],
    tags: dict[str, str],
    now: str,
    segment_id: str | None = None,
) -> str:
    """Store a new dimensional segment at version 1; ``definition`` is validated JSON."""
    seg_id = segment_id or uuid.uuid4().hex
    conn.execute(
        segments.insert().values(
            app_id=app_id,
            id=seg_id,
            name=name,
            segment_type="DIMENSIONAL",
            version=1,
            definition=definition,
            tags=tags,
            creation_date=now,
            last_modified_date=now,
        )
    )
    _record_version(conn, app_id, seg_id)
    return seg_id


def update_definition(
    conn: Connection,
    app_id: str,
    segment_id: str,
    *,
    now: str,
    definition: dict[str, Any] | None = None,
    name: str | None = None,
    tags: dict[str, str] | None = None,
) -> int:
    """Write a new version of a segment (Pinpoint's UpdateSegment); returns the new version."""
    current = _row_by_id(conn, app_id, segment_id)
    if current is None:
        raise NotFound("segment", segment_id)
    values: dict[str, Any] = {"version": current.version + 1, "last_modified_date": now}
    if definition is not None:
        kept = {k: v for k, v in dict(current.definition or {}).items() if k == "ImportDefinition"}
        values["definition"] = {**kept, **definition}
    if name is not None:
        values["name"] = name
    if tags is not None:
        values["tags"] = tags
    conn.execute(
        update(segments)
        .where(and_(segments.c.app_id == app_id, segments.c.id == segment_id))
        .values(**values)
    )
    _record_version(conn, app_id, segment_id)
    return int(values["version"])


def delete_segment(conn: Connection, app_id: str, segment_id: str) -> None:
    """Delete a segment with its members and versions."""
    where = and_(segment_members.c.app_id == app_id, segment_members.c.segment_id == segment_id)
    conn.execute(delete(segment_members).where(where))
    conn.execute(
        delete(segment_versions).where(
            and_(segment_versions.c.app_id == app_id, segment_versions.c.segment_id == segment_id)
        )
    )
    conn.execute(
        delete(segments).where(and_(segments.c.app_id == app_id, segments.c.id == segment_id))
    )


def versions(conn: Connection, app_id: str, segment_id: str) -> list[dict[str, Any]]:
    """Every stored version of a segment, oldest first, as SegmentResponse objects."""
    base = row(conn, app_id, segment_id)
    rows = conn.execute(
        select(segment_versions)
        .where(and_(segment_versions.c.app_id == app_id, segment_versions.c.segment_id == base.id))
        .order_by(segment_versions.c.version)
    )
    return [_version_response(base, r) for r in rows]


def get_version(conn: Connection, app_id: str, segment_id: str, version: int) -> dict[str, Any]:
    base = row(conn, app_id, segment_id)
    found = _version_row(conn, app_id, base.id, version)
    if found is None:
        raise NotFound("segment version", f"{segment_id} version {version}")
    return _version_response(base, found)


def _version_row(conn: Connection, app_id: str, segment_id: str, version: int) -> Any:
    return conn.execute(
        select(segment_versions).where(
            and_(
                segment_versions.c.app_id == app_id,
                segment_versions.c.segment_id == segment_id,
                segment_versions.c.version == version,
            )
        )
    ).first()


def _version_response(base: Any, ver: Any) -> dict[str, Any]:
    out = to_response(base)
    out.update(Name=ver.name, Version=ver.version, LastModifiedDate=ver.creation_date)
    for key in ("Dimensions", "SegmentGroups", "ImportDefinition"):
        out.pop(key, None)
        if key in (ver.definition or {}):
            out[key] = ver.definition[key]
    return out


def referrers(conn: Connection, app_id: str, segment_id: str) -> list[str]:
    """Ids of the segments whose current definition names ``segment_id`` as a source."""
    out = []
    for r in conn.execute(
        select(segments.c.id, segments.c.definition).where(
            and_(segments.c.app_id == app_id, segments.c.segment_type == "DIMENSIONAL")
        )
    ):
        groups = (r.definition or {}).get("SegmentGroups") or {}
        for group in groups.get("Groups") or []:
            if any(s.get("Id") == segment_id for s in group.get("SourceSegments") or []):
                out.append(str(r.id))
                break
    return out


@dataclass
class Resolver:
    """Reads segments (and pinned versions) once per use, for the compiler and the evaluator."""

    conn: Connection
    app_id: str
    _defs: dict[tuple[str, int | None], tuple[str, SegmentDefinition | None]] = field(
        default_factory=dict
    )

    def kind_and_definition(
        self, segment_id: str, version: int | None = None
    ) -> tuple[str, SegmentDefinition | None]:
        """(segment id, definition) for a dimensional segment, (id, None) for an imported one.

        The segment is looked up by id or name; a pinned ``version`` reads segment_versions.
        """
        key = (segment_id, version)
        if key not in self._defs:
            current = row(self.conn, self.app_id, segment_id)
            stored = current.definition
            kind = current.segment_type
            if version is not None and version != current.version:
                old = _version_row(self.conn, self.app_id, current.id, version)
                if old is None:
                    raise NotFound("segment version", f"{segment_id} version {version}")
                stored, kind = old.definition, old.segment_type
            defn = None
            if kind != "IMPORT":
                defn = parse_segment_definition(
                    {k: v for k, v in dict(stored).items() if k != "ImportDefinition"}
                )
            self._defs[key] = (str(current.id), defn)
        return self._defs[key]

    def compiler(self, *, now: datetime, depth: int = 0) -> Compiler:
        """A compiler whose source segments resolve through this resolver."""
        from renraku.store.segment_sql import Compiler

        return Compiler(
            self.conn.dialect.name,
            app_id=self.app_id,
            now=now,
            source=lambda s: self.predicate(s.id, now=now, version=s.version, _depth=depth + 1),
        )

    def predicate(
        self, segment_key: str, *, now: datetime, version: int | None = None, _depth: int = 0
    ) -> Predicate:
        """The predicate over ``endpoints`` for a stored segment (pinned ``version`` or current)."""
        from renraku.store.segment_sql import imported_members

        if _depth > 32:
            raise Conflict(
                f"segment {segment_key!r}: source segments refer to each other in a circle"
            )
        seg_id, defn = self.kind_and_definition(segment_key, version)
        if defn is None:
            return imported_members(self.app_id, seg_id)
        return self.compiler(now=now, depth=_depth).definition(defn)


def resolver(conn: Connection, app_id: str) -> Resolver:
    return Resolver(conn, app_id)
