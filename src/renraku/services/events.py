"""Application events (Pinpoint's PutEvents): recorded on the timeline, they start journeys with a
matching EventStartCondition and wake participants that wait for events (WaitForEvent, event
conditions in splits and exit criteria).

Accepted shapes: Pinpoint's ``EventsRequest`` (``{"BatchItem": {endpoint id: {"Endpoint": {...},
"Events": {event id: {"EventType", "Timestamp", "Attributes", "Metrics"}}}}}``) or a list of flat
events ``{"EndpointId" | "UserId", "EventType", "Timestamp"?, "Attributes"?, "Metrics"?}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from renraku.domain.endpoints import Endpoint
from renraku.domain.journeys.conditions import event_matches
from renraku.domain.journeys.model import Event
from renraku.domain.timefmt import iso, parse_iso
from renraku.engine.entry import admit
from renraku.engine.membership import SegmentCache
from renraku.errors import InvalidInput, Problem
from renraku.store import endpoints as endpoint_store
from renraku.store import events as event_store
from renraku.store import journeys as journey_store
from renraku.store import participants as participant_store

if TYPE_CHECKING:
    from renraku.app import App

EVENT_KIND = "custom.event"


def _flatten(batch: Any) -> list[tuple[str, dict[str, Any]]]:
    """(id, flat event) pairs from either accepted shape; raises InvalidInput with paths."""
    out: list[tuple[str, dict[str, Any]]] = []
    found: list[Problem] = []
    if isinstance(batch, Mapping) and "BatchItem" in batch:
        for ep_id, item in (batch.get("BatchItem") or {}).items():
            for ev_id, ev in ((item or {}).get("Events") or {}).items():
                out.append((f"{ep_id}/{ev_id}", {**(ev or {}), "EndpointId": ep_id}))
    elif isinstance(batch, Sequence) and not isinstance(batch, str | bytes):
        out = [(str(i), dict(ev) if isinstance(ev, Mapping) else {}) for i, ev in enumerate(batch)]
    else:
        raise InvalidInput(
            [Problem("", "give an EventsRequest with BatchItem, or a list of events")],
            subject="events",
        )
    for where, ev in out:
        if not ev.get("EventType"):
            found.append(Problem(f"{where}.EventType", "required"))
        if not (ev.get("EndpointId") or ev.get("UserId")):
            found.append(Problem(where, "needs EndpointId or UserId"))
        if ev.get("Timestamp"):
            try:
                parse_iso(str(ev["Timestamp"]))
            except ValueError:
                found.append(Problem(f"{where}.Timestamp", "not an ISO-8601 time"))
    if found:
        raise InvalidInput(found, subject="events")
    return out


def put_events(app: App, app_id: str, batch: Any) -> dict[str, Any]:
    """Record events and act on them (see the module docstring); returns per-event results."""
    items = _flatten(batch)
    with app.store.begin() as conn:
        return _record(conn, app, app_id, items, {})


def put_events_together(
    app: App, batches: Sequence[tuple[str, Any]]
) -> list[dict[str, Any] | InvalidInput]:
    """Many independent PutEvents requests (application id, batch) in one transaction.

    Each outcome is what :func:`put_events` would have answered had the requests run one after
    another in this order: the per-event results, or the InvalidInput that refused that request
    alone (a refused request records nothing). If the transaction fails, the error is raised and
    nothing is recorded, so the caller can run the requests one by one.
    """
    flat: list[list[tuple[str, dict[str, Any]]] | InvalidInput] = []
    for _, batch in batches:
        try:
            flat.append(_flatten(batch))
        except InvalidInput as exc:
            flat.append(exc)
    outcomes: list[dict[str, Any] | InvalidInput] = []
    starters: dict[str, list[Any]] = {}
    with app.store.begin() as conn:
        for (app_id, _), items in zip(batches, flat, strict=True):
            if isinstance(items, InvalidInput):
                outcomes.append(items)
            else:
                outcomes.append(_record(conn, app, app_id, items, starters))
    return outcomes


def _record(
    conn: Connection,
    app: App,
    app_id: str,
    items: list[tuple[str, dict[str, Any]]],
    starters_by_app: dict[str, list[Any]],
) -> dict[str, Any]:
    """Record checked events in ``conn``'s transaction; journeys with an event start condition
    are read once per application (``starters_by_app`` keeps them for a group's transaction)."""
    now = app.clock.now()
    now_s = iso(now)
    results: dict[str, Any] = {}
    entered = woken = 0
    starters = starters_by_app.get(app_id)
    if starters is None:
        starters = starters_by_app[app_id] = journey_store.active_with_event_start(conn, app_id)
    for where, ev in items:
        targets: list[Endpoint]
        if ev.get("EndpointId"):
            found = endpoint_store.find(conn, app_id, str(ev["EndpointId"]))
            targets = [found] if found else []
        else:
            targets = endpoint_store.by_user(conn, app_id, str(ev["UserId"]))
        if not targets:
            results[where] = {"StatusCode": 404, "Message": "no such endpoint or user"}
            continue
        at = iso(parse_iso(str(ev["Timestamp"]))) if ev.get("Timestamp") else now_s
        user_id = targets[0].user_id
        endpoint_id = str(ev.get("EndpointId") or targets[0].id)
        data = {
            "EventType": ev["EventType"],
            "Attributes": dict(ev.get("Attributes") or {}),
            "Metrics": dict(ev.get("Metrics") or {}),
        }
        event_store.append(
            conn,
            app_id,
            EVENT_KIND,
            occurred_at=at,
            user_id=user_id,
            endpoint_id=endpoint_id,
            data=data,
        )
        probe = Event(kind=EVENT_KIND, occurred_at=at, endpoint_id=endpoint_id, data=data)
        for journey in starters:
            start = (journey.definition.get("StartCondition") or {}).get(
                "EventStartCondition"
            ) or {}
            if not event_matches((start.get("EventFilter") or {}).get("Dimensions"), probe):
                continue
            chosen = targets
            if start.get("SegmentId"):
                inside = SegmentCache(conn, app_id).members(str(start["SegmentId"]), targets, now)
                chosen = [t for t in targets if t.id in inside]
            if chosen:
                entered += admit(conn, journey, [(t.id, t.user_id) for t in chosen[:1]], now)
        woken += participant_store.wake_user(
            conn,
            app_id,
            [user_id] if user_id else [],
            [] if user_id else [endpoint_id],
            max(at, now_s),
        )
        results[where] = {"StatusCode": 202, "Message": "Accepted"}
    return {"Results": results, "Entered": entered, "Woken": woken}
