"""Admitting participants: a segment snapshot at publish (and at each RefreshFrequency), or one
user at a time when an event matches the journey's EventStartCondition.

Re-entry of a participant that finished is governed by ``Limits.EndpointReentryCap`` (absent: 1,
enter once; 0: no limit) and ``Limits.EndpointReentryInterval`` (time since it finished).

With ``RefreshOnSegmentUpdate: true`` a change that may bring new members into the journey's
segment (endpoints written through the API or an import, a new version of the segment or of one
it draws on) calls :func:`segment_changed`, which brings the next entry forward to
:data:`SEGMENT_UPDATE_DELAY` from then instead of waiting for ``RefreshFrequency``. The delay
gathers a burst of updates (an import, a stream of UpdateEndpoint calls) into one entry run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from renraku.domain.endpoints import participant_key
from renraku.domain.journeys.model import parse_duration
from renraku.domain.timefmt import iso, parse_iso
from renraku.engine.membership import depends_on, entry_pairs
from renraku.store import journey_events
from renraku.store import journeys as journey_store
from renraku.store import participants as participant_store

CHUNK = 20_000
ANALYZE_AFTER = 1_000
SEGMENT_UPDATE_DELAY = timedelta(minutes=1)


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


def _start_segment(definition: Mapping[str, Any]) -> str | None:
    seg = (definition.get("StartCondition") or {}).get("SegmentStartCondition") or {}
    return str(seg["SegmentId"]) if seg.get("SegmentId") else None


def refreshes_on_update(definition: Mapping[str, Any], now: datetime) -> bool:
    """Whether the journey still admits new members when its segment changes: it has a segment
    start and ``RefreshOnSegmentUpdate: true``, and its ``Schedule.EndTime`` has not passed."""
    if definition.get("RefreshOnSegmentUpdate") is not True or not _start_segment(definition):
        return False
    end = (definition.get("Schedule") or {}).get("EndTime")
    return not (end and parse_iso(str(end)) <= now)


def segment_changed(
    conn: Connection, app_id: str, now: str, *, segment_id: str | None = None
) -> int:
    """Segment members of the application may have changed at ``now``: bring forward the next
    entry of its journeys that refresh on segment updates; returns how many.

    ``segment_id`` None: endpoints or an imported segment's members changed, any journey's
    segment may have new members. Given: that segment's definition changed, so only journeys
    whose segment is it or draws on it.
    """
    moment = parse_iso(now)
    due = iso(moment + SEGMENT_UPDATE_DELAY)
    brought = 0
    for row in journey_store.refresh_candidates(conn, app_id, due):
        definition = row.definition or {}
        if not refreshes_on_update(definition, moment):
            continue
        start = _start_segment(definition)
        if segment_id is not None and not (start and depends_on(conn, app_id, start, segment_id)):
            continue
        journey_store.bring_entry_forward(conn, app_id, row.id, due)
        brought += 1
    return brought
