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

from renraku.domain.journeys.model import parse_duration
from renraku.domain.timefmt import iso, parse_iso
from renraku.engine.membership import depends_on, entry_relation
from renraku.store import admission
from renraku.store import journeys as journey_store
from renraku.store.segment_sql import tune_for_segments

CHUNK = 20_000
ANALYZE_AFTER = 1_000
SEGMENT_UPDATE_DELAY = timedelta(minutes=1)


def rules(journey: Any, now: datetime) -> admission.Admission:
    """What admitting into ``journey`` at ``now`` writes, and who may re-enter: at most
    ``EndpointReentryCap`` entries (absent: 1; 0: no limit), and only
    ``EndpointReentryInterval`` after finishing."""
    definition = journey.definition or {}
    limits = definition.get("Limits") or {}
    interval = limits.get("EndpointReentryInterval")
    gap = parse_duration(str(interval)) if interval else None
    return admission.Admission(
        app_id=journey.app_id,
        journey_id=journey.id,
        version=int(journey.version),
        start=str(definition.get("StartActivity")),
        now=iso(now),
        cap=int(limits.get("EndpointReentryCap", 1) or 0),
        finished_by=iso(now - gap) if gap is not None else None,
    )


def admit(
    conn: Connection, journey: Any, pairs: Sequence[tuple[str, str | None]], now: datetime
) -> int:
    """Admit the participants owning endpoints ``pairs`` (endpoint id, user id) into ``journey``
    (an event start); returns how many entered."""
    a = rules(journey, now)
    keys = admission.enqueue_pairs(conn, a, pairs)
    return admission.admit_queued(conn, a, keys=keys) if keys else 0


def run_due_entries(conn: Connection, now: datetime, *, chunk: int = CHUNK) -> int:
    """Segment entries that are due (first at publish or StartTime, then every RefreshFrequency),
    one chunk of at most ``chunk`` participants per journey per call (see :func:`run_entry`).
    Returns the participants admitted, and at least 1 while an entry is still under way, so a
    worker calls again (each call in its own transaction)."""
    return sum(run_entry(conn, j, now, chunk) for j in journey_store.due_entries(conn, iso(now)))


def run_entry(conn: Connection, journey: Any, now: datetime, chunk: int) -> int:
    """One step of the journey's due segment entry, in the caller's transaction.

    A run starts when none is under way: the segment's participants that may enter are queued
    (one statement over the segment's SQL: the entry's snapshot). Each step admits the next
    ``chunk`` of the queue after the run's cursor and moves the cursor; the step that finds no
    more ends the run (``next_entry_at`` moves to the next refresh, or is cleared). A crash between steps rolls back only the step under
    way: the queue still holds exactly who is left, and the next step admits them.
    """
    definition = journey.definition or {}
    end = (definition.get("Schedule") or {}).get("EndTime")
    segment_id = _start_segment(definition)
    if not segment_id or (end and parse_iso(str(end)) <= now):
        admission.finish(conn, journey.app_id, journey.id)
        _entry_done(conn, journey, now)
        return 0
    a = rules(journey, now)
    after = admission.cursor(conn, a.app_id, a.journey_id)
    starting = after is None
    if after is None:
        tune_for_segments(conn)
        admission.enqueue(conn, a, entry_relation(conn, journey.app_id, segment_id, now=now))
        after = ""
    last = admission.chunk_end(conn, a.app_id, a.journey_id, after, chunk)
    admitted = admission.admit_queued(conn, a, after=after, last=last)
    done = last is None
    if done:
        admission.finish(conn, a.app_id, a.journey_id)
        _entry_done(conn, journey, now)
    else:
        admission.advance(conn, a.app_id, a.journey_id, str(last))
    if admitted >= ANALYZE_AFTER and (starting or done) and conn.dialect.name == "postgresql":
        # Fresh statistics, or the planner (believing the journey has a handful of participants)
        # scans a whole journey for each participant a bulk update touches.
        conn.execute(text("ANALYZE participants"))
    return admitted if done else max(admitted, 1)


def _entry_done(conn: Connection, journey: Any, now: datetime) -> None:
    definition = journey.definition or {}
    end = (definition.get("Schedule") or {}).get("EndTime")
    refresh = definition.get("RefreshFrequency")
    next_at = None
    if refresh:
        candidate = now + parse_duration(str(refresh))
        if not (end and parse_iso(str(end)) <= candidate):
            next_at = iso(candidate)
    journey_store.entry_done(conn, journey.app_id, journey.id, next_at)


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
