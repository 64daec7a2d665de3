"""Read-only queries behind a journey run's summary: who was reached and how, what was sent when,
which calls rang. Used by the demo, ``renraku simulate`` and the run report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, select

from renraku.store.calls import calls
from renraku.store.schema import endpoints, events
from renraku.store.sends import sends


@dataclass(frozen=True, slots=True)
class SentMessage:
    key: str
    app_id: str
    user_id: str | None
    endpoint_id: str
    channel: str
    created_at: str


def sent_messages(
    conn: Connection, app_id: str, journey_id: str, channels: Sequence[str], since: str
) -> list[SentMessage]:
    """Sends of ``channels`` the provider accepted, recorded at or after ``since``, oldest first."""
    rows = conn.execute(
        select(
            sends.c.key,
            sends.c.app_id,
            sends.c.user_id,
            sends.c.endpoint_id,
            sends.c.channel,
            sends.c.created_at,
        )
        .where(
            and_(
                sends.c.app_id == app_id,
                sends.c.journey_id == journey_id,
                sends.c.channel.in_(list(channels)),
                sends.c.status == "sent",
                sends.c.created_at >= since,
            )
        )
        .order_by(sends.c.created_at, sends.c.key)
    )
    return [SentMessage(*r) for r in rows]


def user_endpoints(conn: Connection, app_id: str) -> list[tuple[str | None, str, Any, str]]:
    """(user id, channel type, attributes, opt-out) of every endpoint of the application."""
    rows = conn.execute(
        select(endpoints.c.user_id, endpoints.c.channel_type, endpoints.c.attributes,
               endpoints.c.opt_out)
        .where(endpoints.c.app_id == app_id)
    )  # fmt: skip
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def users_with_event(conn: Connection, app_id: str, kind: str, journey_id: str | None) -> set[str]:
    """Users with at least one ``kind`` event (of ``journey_id`` when given)."""
    query = (
        select(events.c.user_id)
        .distinct()
        .where(and_(events.c.app_id == app_id, events.c.kind == kind))
    )
    if journey_id is not None:
        query = query.where(events.c.journey_id == journey_id)
    return {r[0] for r in conn.execute(query) if r[0]}


def sends_per_hour(conn: Connection, app_id: str, journey_id: str) -> dict[tuple[str, str], int]:
    """(hour "YYYY-MM-DDTHH", channel) -> sends recorded in that hour of journey time."""
    hour = func.substr(sends.c.created_at, 1, 13)
    rows = conn.execute(
        select(hour, sends.c.channel, func.count())
        .where(and_(sends.c.app_id == app_id, sends.c.journey_id == journey_id))
        .group_by(hour, sends.c.channel)
    )
    return {(r[0], r[1]): int(r[2]) for r in rows}


def send_counts(conn: Connection, app_id: str, journey_id: str) -> dict[tuple[str, str], int]:
    """(channel, status) -> number of sends."""
    rows = conn.execute(
        select(sends.c.channel, sends.c.status, func.count())
        .where(and_(sends.c.app_id == app_id, sends.c.journey_id == journey_id))
        .group_by(sends.c.channel, sends.c.status)
    )
    return {(r[0], r[1]): int(r[2]) for r in rows}


def journey_calls(conn: Connection, app_id: str, journey_id: str) -> list[dict[str, Any]]:
    """Outcome, digits and times of the journey's calls."""
    rows = conn.execute(
        select(calls.c.outcome, calls.c.digits, calls.c.placed_at, calls.c.answered_at,
               calls.c.ended_at, calls.c.status)
        .where(and_(calls.c.app_id == app_id, calls.c.journey_id == journey_id))
    )  # fmt: skip
    return [dict(r._mapping) for r in rows]


def last_event_time(conn: Connection, app_id: str, journey_id: str) -> str | None:
    """When the journey's last event happened (its participants' last step)."""
    value = conn.execute(
        select(func.max(events.c.occurred_at)).where(
            and_(events.c.app_id == app_id, events.c.journey_id == journey_id)
        )
    ).scalar_one()
    return str(value) if value else None


def sent_templates(
    conn: Connection, app_id: str, journey_id: str, channel: str
) -> list[tuple[str, str | None]]:
    """(endpoint id, template name) of every accepted send of ``channel``."""
    rows = conn.execute(
        select(sends.c.endpoint_id, sends.c.payload).where(
            and_(
                sends.c.app_id == app_id,
                sends.c.journey_id == journey_id,
                sends.c.channel == channel,
                sends.c.status == "sent",
            )
        )
    )
    return [(r[0], (r[1] or {}).get("template")) for r in rows]
