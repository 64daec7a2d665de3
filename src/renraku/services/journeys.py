"""Journey use cases for the CLI and the HTTP API: create, validate, update, publish, pause,
resume, cancel, show, metrics and participants, in Pinpoint's JourneyResponse and execution
metrics shapes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, func, select

from renraku.domain.journeys.model import MESSAGE_KINDS, build_journey
from renraku.domain.journeys.step import CHANNEL_OF
from renraku.domain.journeys.validation import problems, references
from renraku.domain.timefmt import parse_iso
from renraku.engine import entry
from renraku.errors import Conflict, InvalidInput, NotFound, Problem
from renraku.store import admission
from renraku.store import journeys as journey_store
from renraku.store import participants as participant_store
from renraku.store import segments as segment_store
from renraku.store import templates as template_store
from renraku.store.schema import events
from renraku.store.sends import sends

if TYPE_CHECKING:
    from renraku.app import App

JOURNEY_ARN = "arn:aws:mobiletargeting:local:000000000000:apps/{app}/journeys/{jid}"
RESPONSE_KEYS = (
    "Activities",
    "ClosedDays",
    "JourneyChannelSettings",
    "Limits",
    "LocalTime",
    "OpenHours",
    "QuietTime",
    "RefreshFrequency",
    "RefreshOnSegmentUpdate",
    "Schedule",
    "SendingSchedule",
    "StartActivity",
    "StartCondition",
    "TimezoneEstimationMethods",
    "WaitForQuietTime",
    "ExitCriteria",
)


def to_response(row: Any) -> dict[str, Any]:
    """Pinpoint's JourneyResponse (plus renraku's Version and ExitCriteria)."""
    d = row.definition or {}
    out: dict[str, Any] = {
        "ApplicationId": row.app_id,
        "Id": row.id,
        "Name": row.name,
        "State": row.state,
        "CreationDate": row.creation_date,
        "LastModifiedDate": row.last_modified_date,
        "Arn": JOURNEY_ARN.format(app=row.app_id, jid=row.id),
        "Version": row.version,
        "tags": dict(row.tags or {}),
    }
    out.update({k: d[k] for k in RESPONSE_KEYS if k in d})
    return out


def check(conn: Connection, app: App, app_id: str, definition: Mapping[str, Any]) -> list[Problem]:
    """Every problem with ``definition``: structure, then templates, segments and channels."""
    found = problems(definition)
    refs = references(definition)
    for path, named in refs["templates"]:
        name, kind = named.rsplit(":", 1)
        if not template_store.exists(conn, app_id, name, kind):
            found.append(Problem(path, f"no {kind} template named {name!r}"))
    for path, seg_id in refs["segments"]:
        try:
            segment_store.get(conn, app_id, seg_id)
        except NotFound:
            found.append(Problem(path, f"no segment {seg_id!r}"))
    for act_id, body in (definition.get("Activities") or {}).items():
        if not isinstance(body, Mapping):
            continue
        for kind in MESSAGE_KINDS:
            channel = CHANNEL_OF.get(kind)
            if kind in body and channel != "PUSH" and channel not in app.channels:
                found.append(
                    Problem(f"Activities.{act_id}.{kind}", f"no transport for channel {channel}")
                )
    return found


def validate(app: App, app_id: str, definition: Mapping[str, Any]) -> list[Problem]:
    with app.store.connect() as conn:
        return check(conn, app, app_id, definition)


def create(
    app: App, app_id: str, definition: Mapping[str, Any], *, tags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Store a journey as DRAFT (structural problems are rejected; publish checks the rest).

    ``State: ACTIVE`` in the definition publishes it at once, as Pinpoint does.
    """
    structural = problems(definition)
    if structural:
        raise InvalidInput(structural, subject="journey")
    journey_id = uuid.uuid4().hex
    body = {k: v for k, v in definition.items() if k != "State"}
    with app.store.begin() as conn:
        journey_store.insert(conn, app_id, journey_id, body, now=app.now_iso(), tags=tags)
    if definition.get("State") == "ACTIVE":
        return publish(app, app_id, journey_id)
    return show(app, app_id, journey_id)


def update(app: App, app_id: str, key: str, definition: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the definition: in place for a DRAFT, as a new version for an active or paused
    journey (participants inside keep the version they entered with)."""
    body = {k: v for k, v in definition.items() if k != "State"}
    with app.store.begin() as conn:
        row = journey_store.get(conn, app_id, key, for_update=True)
        if row.state in ("COMPLETED", "CANCELLED"):
            raise Conflict(f"journey {row.id} is {row.state} and cannot be changed")
        found = problems(body) if row.state == "DRAFT" else check(conn, app, app_id, body)
        if found:
            raise InvalidInput(found, subject="journey")
        journey_store.new_version(
            conn, app_id, row.id, body, now=app.now_iso(), bump=row.state != "DRAFT"
        )
        journey_id = row.id
    return show(app, app_id, journey_id)


def show(app: App, app_id: str, key: str) -> dict[str, Any]:
    with app.store.connect() as conn:
        return to_response(journey_store.get(conn, app_id, key))


def list_journeys(app: App, app_id: str) -> list[dict[str, Any]]:
    with app.store.connect() as conn:
        return [to_response(r) for r in journey_store.list_all(conn, app_id)]


def publish(app: App, app_id: str, key: str) -> dict[str, Any]:
    """DRAFT -> ACTIVE after full validation; segment entry runs at StartTime (or now)."""
    now = app.clock.now()
    with app.store.begin() as conn:
        row = journey_store.get(conn, app_id, key, for_update=True)
        if row.state != "DRAFT":
            raise Conflict(
                f"journey {row.id} is {row.state}; only a DRAFT journey can be published"
            )
        found = check(conn, app, app_id, row.definition or {})
        if found:
            raise InvalidInput(found, subject="journey")
        d = row.definition or {}
        start = (d.get("Schedule") or {}).get("StartTime")
        first: datetime = max(parse_iso(str(start)), now) if start else now
        segment_start = bool(
            ((d.get("StartCondition") or {}).get("SegmentStartCondition") or {}).get("SegmentId")
        )
        from renraku.domain.timefmt import iso

        journey_store.set_state(
            conn,
            app_id,
            row.id,
            "ACTIVE",
            now=iso(now),
            next_entry_at=iso(first) if segment_start else None,
            clear_entry=not segment_start,
        )
        journey_id = row.id
    return show(app, app_id, journey_id)


def _transition(
    app: App, app_id: str, key: str, allowed: tuple[str, ...], to: str
) -> dict[str, Any]:
    with app.store.begin() as conn:
        row = journey_store.get(conn, app_id, key, for_update=True)
        if row.state not in allowed:
            raise Conflict(f"journey {row.id} is {row.state}; cannot move to {to}")
        now = app.now_iso()
        journey_store.set_state(conn, app_id, row.id, to, now=now)
        if to == "PAUSED":
            participant_store.set_status_all(
                conn, app_id, row.id, from_statuses=("ACTIVE",), to="PAUSED"
            )
        elif to == "ACTIVE":
            participant_store.set_status_all(
                conn, app_id, row.id, from_statuses=("PAUSED",), to="ACTIVE"
            )
            if row.entry_runs and entry.refreshes_on_update(row.definition or {}, app.clock.now()):
                # Segment changes made while it was paused were not watched: look again now.
                journey_store.bring_entry_forward(conn, app_id, row.id, now)
        elif to == "CANCELLED":
            participant_store.set_status_all(
                conn, app_id, row.id, from_statuses=("ACTIVE", "PAUSED"), to="CANCELLED", now=now
            )
            admission.finish(conn, app_id, row.id)  # an entry under way admits no one more
        journey_id = row.id
    return show(app, app_id, journey_id)


def pause(app: App, app_id: str, key: str) -> dict[str, Any]:
    """Hold every participant where it is."""
    return _transition(app, app_id, key, ("ACTIVE",), "PAUSED")


def resume(app: App, app_id: str, key: str) -> dict[str, Any]:
    return _transition(app, app_id, key, ("PAUSED",), "ACTIVE")


def cancel(app: App, app_id: str, key: str) -> dict[str, Any]:
    """End the journey and every participant in it; nothing more is sent."""
    return _transition(app, app_id, key, ("DRAFT", "ACTIVE", "PAUSED"), "CANCELLED")


def delete(app: App, app_id: str, key: str) -> dict[str, Any]:
    """Delete a journey in any state, as Pinpoint does; answers the journey as it was.

    One transaction (the journey row locked on PostgreSQL) removes the journey, its versions,
    participants and sends together, so a running journey stops: nothing is left to wake or send.
    """
    with app.store.begin() as conn:
        row = journey_store.get(conn, app_id, key, for_update=True)
        before = to_response(row)
        journey_store.delete(conn, app_id, row.id)
    return before


def set_state(app: App, app_id: str, key: str, state: str) -> dict[str, Any]:
    """Pinpoint's UpdateJourneyState: ACTIVE (publish or resume), PAUSED, CANCELLED."""
    current = show(app, app_id, key)
    if state == "ACTIVE":
        return (
            publish(app, app_id, key) if current["State"] == "DRAFT" else resume(app, app_id, key)
        )
    if state == "PAUSED":
        return pause(app, app_id, key)
    if state == "CANCELLED":
        return cancel(app, app_id, key)
    raise InvalidInput(
        [Problem("State", "one of ACTIVE, PAUSED, CANCELLED")], subject="journey state"
    )


def _event_counts(
    conn: Connection, app_id: str, journey_id: str
) -> list[tuple[str | None, str, str | None, int]]:
    """(activity, kind, detail, count): detail is the Reason, Branch or Outcome where there is one."""
    detail = func.coalesce(
        events.c.data["Reason"].as_string(),
        events.c.data["Branch"].as_string(),
        events.c.data["Outcome"].as_string(),
    )
    rows = conn.execute(
        select(events.c.activity_id, events.c.kind, detail, func.count())
        .where(and_(events.c.app_id == app_id, events.c.journey_id == journey_id))
        .group_by(events.c.activity_id, events.c.kind, detail)
    )
    out = [(r[0], r[1], r[2], int(r[3])) for r in rows]
    delivery = conn.execute(
        select(sends.c.activity_id, events.c.kind, func.count())
        .select_from(events.join(sends, events.c.send_key == sends.c.key))
        .where(
            and_(
                sends.c.app_id == app_id,
                sends.c.journey_id == journey_id,
                events.c.journey_id.is_(None),
            )
        )
        .group_by(sends.c.activity_id, events.c.kind)
    )
    out += [(r[0], r[1], None, int(r[2])) for r in delivery]
    return out


_DELIVERED = ("email.delivered", "sms.delivered", "delivery.delivered", "delivered")


def _metric_names(kind: str, detail: str | None) -> list[str]:
    if kind == "send.sent":
        return ["SENT", "SUCCESS"]
    if kind == "send.failed":
        return ["FAILED", "FAILURE"]
    if kind == "send.unknown":
        return ["UNKNOWN"]
    if kind == "send.retry":
        return ["RETRIED"]
    if kind == "send.skipped" and detail:
        return [detail, "SKIPPED"]
    if kind == "send.deferred":
        return ["DEFERRED_QUIET_TIME"]
    if kind == "send.paced":
        return ["PACED"]
    if kind == "activity.completed":
        return ["COMPLETED", f"BRANCH_{detail}"] if detail else ["COMPLETED"]
    if kind == "call.outcome" and detail:
        return [f"CALL_{detail}"]
    if kind in _DELIVERED or kind.endswith(".delivered"):
        return ["DELIVERED"]
    if kind.startswith(("email.", "sms.", "call.")):
        return [kind.upper().replace(".", "_")]
    return []


def metrics(app: App, app_id: str, key: str) -> dict[str, Any]:
    """GetJourneyExecutionMetrics (journey totals) with every activity's metrics under Activities."""
    with app.store.connect() as conn:
        row = journey_store.get(conn, app_id, key)
        counts = participant_store.counts(conn, app_id, row.id)
        at = participant_store.at_activities(conn, app_id, row.id)
        rows = _event_counts(conn, app_id, row.id)
    total: dict[str, int] = {}
    per: dict[str, dict[str, int]] = {a: {} for a in (row.definition or {}).get("Activities") or {}}
    for activity, kind, detail, n in rows:
        if kind == "journey.entered":
            total["ENDPOINT_ENTERED"] = total.get("ENDPOINT_ENTERED", 0) + n
        for name in _metric_names(kind, detail):
            total[name] = total.get(name, 0) + n
            if activity in per:
                per[activity][name] = per[activity].get(name, 0) + n
    total["ENDPOINT_ACTIVE"] = counts.get("ACTIVE", 0) + counts.get("PAUSED", 0)
    total["ENDPOINT_LEFT"] = sum(counts.get(s, 0) for s in participant_store.FINISHED_STATUSES)
    total["ENDPOINT_FINISHED"] = counts.get("FINISHED", 0)
    total["ENDPOINT_EXITED"] = counts.get("EXITED", 0)
    total["ENDPOINT_CANCELLED"] = counts.get("CANCELLED", 0)
    journey = build_journey(app_id, row.id, row.version, row.definition or {})
    now = app.now_iso()
    activities = []
    for act_id, m in per.items():
        m["ENDPOINT_WAITING"] = at.get(act_id, 0)
        act = journey.activities.get(act_id)
        activities.append(
            {
                "ActivityType": act.kind.upper() if act else "",
                "ApplicationId": app_id,
                "JourneyActivityId": act_id,
                "JourneyId": row.id,
                "LastEvaluatedTime": now,
                "Metrics": {k: str(v) for k, v in sorted(m.items())},
            }
        )
    return {
        "ApplicationId": app_id,
        "JourneyId": row.id,
        "LastEvaluatedTime": now,
        "Metrics": {k: str(v) for k, v in sorted(total.items())},
        "Activities": activities,
    }


def activity_metrics(app: App, app_id: str, key: str, activity_id: str) -> dict[str, Any]:
    """GetJourneyExecutionActivityMetrics for one activity."""
    for item in metrics(app, app_id, key)["Activities"]:
        if item["JourneyActivityId"] == activity_id:
            return dict(item)
    raise NotFound("journey activity", activity_id)


def participants(
    app: App,
    app_id: str,
    key: str,
    *,
    activity: str | None = None,
    status: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    with app.store.connect() as conn:
        row = journey_store.get(conn, app_id, key)
        found = participant_store.list_for(
            conn, app_id, row.id, activity=activity, status=status, limit=limit
        )
    return [
        {
            "Participant": p.pkey,
            "UserId": p.user_id,
            "EndpointId": p.endpoint_id,
            "Version": p.version,
            "Entry": p.entry,
            "Activity": p.activity_id,
            "Phase": p.phase,
            "Status": p.status,
            "WakeAt": p.wake_at,
            "Attempt": p.attempt,
            "EnteredAt": p.entered_at,
            "ActivityAt": p.activity_at,
        }
        for _, p in found
    ]
