"""Admitting participants: a segment snapshot at publish (and at each RefreshFrequency), or one
user at a time when an event matches the journey's EventStartCondition.

Re-entry of a participant that finished is governed by ``Limits.EndpointReentryCap`` (absent: 1,
enter once; 0: no limit) and ``Limits.EndpointReentryInterval`` (time since it finished).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from renraku.domain.endpoints import participant_key
from renraku.domain.journeys.model import parse_duration
from renraku.domain.timefmt import iso, parse_iso
from renraku.engine.membership import entry_pairs
from renraku.store import journey_events
from renraku.store import journeys as journey_store
from renraku.store import participants as participant_store

CHUNK = 20_000
ANALYZE_AFTER = 1_000


def admit(
    conn: Connection, journey: Any, pairs: Sequence[tuple[str, str | None]], now: datetime
) -> int:
    """Admit the participants owning endpoints ``pairs`` (endpoint id, user id) into ``journey``."""
    now_s = iso(now)
    definition = journey.definition or {}
    limits = definition.get("Limits") or {}
    cap = int(limits.get("EndpointReentryCap", 1) or 0)
    interval = limits.get("EndpointReentryInterval")
    gap = parse_duration(str(interval)) if interval else None
    start = str(definition.get("StartActivity"))
    who: dict[str, tuple[str | None, str | None]] = {}
    for endpoint_id, user_id in pairs:
        key = participant_key(endpoint_id, user_id)
        who.setdefault(key, (user_id, None if user_id else endpoint_id))
    keys = sorted(who)
    admitted = 0
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i : i + CHUNK]
        there = participant_store.existing(conn, journey.app_id, journey.id, chunk)
        fresh: list[dict[str, Any]] = []
        again: list[dict[str, Any]] = []
        entered: list[dict[str, Any]] = []
        for key in chunk:
            user_id, lone_id = who[key]
            old = there.get(key)
            row = {
                "app_id": journey.app_id,
                "journey_id": journey.id,
                "pkey": key,
                "user_id": user_id,
                "endpoint_id": lone_id,
                "version": journey.version,
                "entry": 1,
                "activity_id": start,
                "phase": "enter",
                "status": "ACTIVE",
                "wake_at": now_s,
                "attempt": 0,
                "entered_at": now_s,
                "activity_at": now_s,
                "data": {},
            }
            if old is None:
                fresh.append(row)
            elif old.status in participant_store.FINISHED_STATUSES and old.status != "CANCELLED":
                if cap and old.entry >= cap:
                    continue
                if gap is not None and parse_iso(old.activity_at) + gap > now:
                    continue
                row["entry"] = old.entry + 1
                again.append(row)
            else:
                continue
            entered.append(
                {
                    "app_id": journey.app_id,
                    "kind": "journey.entered",
                    "occurred_at": now_s,
                    "user_id": user_id,
                    "endpoint_id": lone_id,
                    "journey_id": journey.id,
                    "activity_id": start,
                    "data": {"Version": journey.version, "Entry": row["entry"]},
                }
            )
        participant_store.insert_new(conn, fresh)
        participant_store.reenter(conn, again)
        journey_events.append_many(conn, entered)
        admitted += len(entered)
    if admitted >= ANALYZE_AFTER and conn.dialect.name == "postgresql":
        # Fresh statistics, or the planner (believing the journey has a handful of participants)
        # scans a whole journey for each participant a bulk update touches.
        conn.execute(text("ANALYZE participants"))
    return admitted


def run_due_entries(conn: Connection, now: datetime) -> int:
    """Segment entries that are due (first at publish or StartTime, then every RefreshFrequency)."""
    total = 0
    for journey in journey_store.due_entries(conn, iso(now)):
        definition = journey.definition or {}
        schedule = definition.get("Schedule") or {}
        end = schedule.get("EndTime")
        seg = (definition.get("StartCondition") or {}).get("SegmentStartCondition") or {}
        if seg.get("SegmentId") and not (end and parse_iso(str(end)) <= now):
            total += admit(
                conn, journey, entry_pairs(conn, journey.app_id, seg["SegmentId"], now=now), now
            )
        refresh = definition.get("RefreshFrequency")
        next_at = None
        if refresh:
            candidate = now + parse_duration(str(refresh))
            if not (end and parse_iso(str(end)) <= candidate):
                next_at = iso(candidate)
        journey_store.entry_done(conn, journey.app_id, journey.id, next_at)
    return total
