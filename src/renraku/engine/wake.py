"""Waking a participant when something it waits for happens (a call ended, a delivery report).

Transports call :func:`wake_for_send` in the transaction that appends their event, so the
participant that made the send becomes due at ``at`` (the event's time on the journey clock).
"""

from __future__ import annotations

from sqlalchemy import Connection

from renraku.store import participants, sends


def wake_for_send(conn: Connection, app_id: str, send_key: str, at: str) -> bool:
    """Make the participant behind ``send_key`` due at ``at`` (ISO UTC); False if none waits.

    A participant already due earlier keeps its earlier time; an unknown key is ignored.
    """
    row = sends.by_key(conn, send_key)
    if row is None or row.app_id != app_id:
        return False
    return participants.wake(conn, app_id, row.journey_id, row.pkey, at)
