"""Read-only queries the dashboard needs and no use case offers yet: finding people by address,
counting and previewing a segment filter before it is saved, and sends per hour of a journey."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from renraku.domain.endpoints import Endpoint
from renraku.domain.segments import SegmentDefinition
from renraku.store import endpoints as endpoint_store
from renraku.store.schema import endpoints
from renraku.store.segment_sql import Predicate, compile_definition
from renraku.store.segments import resolver
from renraku.store.sends import sends


def search_people(conn: Connection, app_id: str, query: str, *, limit: int = 50) -> list[Endpoint]:
    """Endpoints whose user id or address equals ``query``, then those containing it
    (case-insensitive), exact matches first."""
    q = query.strip()
    if not q:
        return []
    pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    exact = or_(endpoints.c.user_id == q, endpoints.c.address == q, endpoints.c.id == q)
    like = or_(
        func.lower(endpoints.c.user_id).like(pattern, escape="\\"),
        func.lower(endpoints.c.address).like(pattern, escape="\\"),
    )
    found: dict[str, Endpoint] = {}
    for cond in (exact, like):
        rows = conn.execute(
            select(endpoints)
            .where(and_(endpoints.c.app_id == app_id, cond))
            .order_by(endpoints.c.user_id, endpoints.c.id)
            .limit(limit)
        )
        for r in rows:
            ep = endpoint_store.from_row(r)
            found.setdefault(ep.id, ep)
        if len(found) >= limit:
            break
    return list(found.values())[:limit]


def _draft_predicate(
    conn: Connection, app_id: str, defn: SegmentDefinition, now: datetime
) -> Predicate:
    res = resolver(conn, app_id)
    return compile_definition(
        defn,
        conn.dialect.name,
        app_id=app_id,
        now=now,
        source=lambda s: res.predicate(s.id, now=now, version=s.version),
    )


def draft_counts(
    conn: Connection, app_id: str, defn: SegmentDefinition, *, now: datetime
) -> dict[str, Any]:
    """``{"Count", "Users", "ByChannel"}`` of an unsaved definition (as segment counts are)."""
    where = and_(endpoints.c.app_id == app_id, _draft_predicate(conn, app_id, defn, now))
    matched = (
        select(endpoints.c.channel_type, endpoints.c.user_id, endpoints.c.id)
        .where(where)
        .cte("matched")
    )
    by_channel = {
        str(r[0]): int(r[1])
        for r in conn.execute(
            select(matched.c.channel_type, func.count())
            .group_by(matched.c.channel_type)
            .order_by(matched.c.channel_type)
        )
    }
    users = conn.execute(
        select(
            func.count(func.distinct(matched.c.user_id))
            + func.count()
            - func.count(matched.c.user_id)
        )
    ).scalar_one()
    return {"Count": sum(by_channel.values()), "Users": int(users), "ByChannel": by_channel}


def draft_preview(
    conn: Connection, app_id: str, defn: SegmentDefinition, *, now: datetime, limit: int = 10
) -> list[Endpoint]:
    """The first ``limit`` endpoints of an unsaved definition, in id order."""
    where = and_(endpoints.c.app_id == app_id, _draft_predicate(conn, app_id, defn, now))
    rows = conn.execute(select(endpoints).where(where).order_by(endpoints.c.id).limit(limit))
    return [endpoint_store.from_row(r) for r in rows]


def sends_by_hour(conn: Connection, app_id: str, journey_id: str) -> list[tuple[str, str, int]]:
    """(``YYYY-MM-DDTHH``, channel, sends recorded) for a journey, oldest hour first."""
    hour = func.substr(sends.c.created_at, 1, 13)
    rows = conn.execute(
        select(hour, sends.c.channel, func.count())
        .where(and_(sends.c.app_id == app_id, sends.c.journey_id == journey_id))
        .group_by(hour, sends.c.channel)
        .order_by(hour, sends.c.channel)
    )
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]
