"""Segment membership for the engine: the one place journeys call the segments module.

``members`` answers which of the given endpoints are in a segment (by id, or inline
``SegmentDimensions`` keyed ``dims:<json>``) using the pure evaluator on endpoints already loaded;
imported segments read ``segment_members``. ``entry_relation`` is a segment's endpoints for entry,
compiled to SQL by ``renraku.store.segment_sql``. ``depends_on`` tells whether a change to one
segment can change another's members (it is that segment, or built on it as a source).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, select

from renraku.domain.endpoints import Endpoint
from renraku.domain.segments import SegmentDefinition, endpoint_matches, parse_segment_definition
from renraku.errors import NotFound
from renraku.store import segment_sql
from renraku.store import segments as segment_store
from renraku.store.schema import segment_members


class SegmentCache:
    """Segment definitions read once per batch."""

    def __init__(self, conn: Connection, app_id: str) -> None:
        self.conn = conn
        self.app_id = app_id
        self._defs: dict[str, tuple[str, SegmentDefinition | None]] = {}
        self._ids: dict[str, str] = {}

    def definition(self, key: str) -> tuple[str, SegmentDefinition | None]:
        """(segment type, definition) for a segment id or a ``dims:`` key."""
        if key not in self._defs:
            if key.startswith("dims:"):
                self._defs[key] = (
                    "DIMENSIONAL",
                    parse_segment_definition({"Dimensions": json.loads(key[5:])}),
                )
            else:
                seg = segment_store.get(self.conn, self.app_id, key)
                self._ids[key] = str(seg["Id"])
                if seg["SegmentType"] == "IMPORT":
                    self._defs[key] = ("IMPORT", None)
                else:
                    body: dict[str, Any] = {
                        k: seg[k] for k in ("Dimensions", "SegmentGroups") if k in seg
                    }
                    self._defs[key] = ("DIMENSIONAL", parse_segment_definition(body))
        return self._defs[key]

    def imported(self, segment_id: str, endpoint_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        ids = list(endpoint_ids)
        for i in range(0, len(ids), 5000):
            rows = self.conn.execute(
                select(segment_members.c.endpoint_id).where(
                    and_(
                        segment_members.c.app_id == self.app_id,
                        segment_members.c.segment_id == segment_id,
                        segment_members.c.endpoint_id.in_(ids[i : i + 5000]),
                    )
                )
            )
            found.update(r[0] for r in rows)
        return found

    def members(self, key: str, endpoints: Sequence[Endpoint], now: datetime) -> set[str]:
        """Ids of ``endpoints`` that are in segment ``key`` at ``now``."""
        kind, defn = self.definition(key)
        if kind == "IMPORT" or defn is None:
            return self.imported(self._ids.get(key, key), [e.id for e in endpoints])

        def sources(seg_id: str) -> SegmentDefinition | None:
            return self.definition(seg_id)[1]

        out: set[str] = set()
        for ep in endpoints:

            def in_import(seg_id: str, ep: Endpoint = ep) -> bool:
                self.definition(seg_id)
                return ep.id in self.imported(self._ids.get(seg_id, seg_id), [ep.id])

            if endpoint_matches(defn, ep, now=now, members=in_import, sources=sources):
                out.add(ep.id)
        return out


def entry_relation(conn: Connection, app_id: str, segment_id: str, *, now: datetime) -> Select[Any]:
    """``SELECT id, user_id`` of every endpoint in the segment now (compiled to SQL by
    ``renraku.store.segment_sql``), for a set-based entry."""
    return segment_sql.matching_endpoints(conn, app_id, segment_id, now=now)


def depends_on(conn: Connection, app_id: str, segment_key: str, changed_id: str) -> bool:
    """Whether segment ``segment_key`` (id or name) is segment ``changed_id`` or draws on it
    through source segments, at any depth."""
    try:
        target = str(segment_store.get(conn, app_id, segment_key)["Id"])
    except NotFound:
        return False
    seen: set[str] = set()
    todo = [changed_id]
    while todo:
        current = todo.pop()
        if current == target:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(segment_store.referrers(conn, app_id, current))
    return False
