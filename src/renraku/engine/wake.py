"""Waking a participant when something it waits for happens (a call ended, a delivery report).

Transports call :func:`wake_for_send` in the transaction that appends their event, so the
participant that made the send becomes due at ``at`` (the event's time on the journey clock).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from renraku.store import participants, sends
from renraku.store.bulk import one_of


def wake_for_send(conn: Connection, app_id: str, send_key: str, at: str) -> bool:
    """Make the participant behind ``send_key`` due at ``at`` (ISO UTC); False if none waits.

    A participant already due earlier keeps its earlier time; an unknown key is ignored.
    """
    row = sends.by_key(conn, send_key)
    if row is None or row.app_id != app_id:
        return False
    return participants.wake(conn, app_id, row.journey_id, row.pkey, at)


def wake_many_for_sends(conn: Connection, app_id: str, wakes: Sequence[tuple[str, str]]) -> int:
    """:func:`wake_for_send` for many (send key, at) pairs in two statements."""
    if not wakes:
        return 0
    keys = list({k for k, _ in wakes})
    owners = {
        r.key: (r.journey_id, r.pkey)
        for r in conn.execute(
            select(sends.sends.c.key, sends.sends.c.journey_id, sends.sends.c.pkey).where(
                sends.sends.c.app_id == app_id, one_of(conn, sends.sends.c.key, keys)
            )
        )
    }
    return participants.wake_many(
        conn, app_id, [(*owners[k], at) for k, at in wakes if k in owners]
    )
