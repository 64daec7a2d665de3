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
from renraku.services.endpoints import users_endpoints_in
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
    another in this order: the per-event ``Results``, or the InvalidInput that refused that
    request alone (a refused request records nothing). If the transaction fails, the error is
    raised and nothing is recorded, so the caller can run the requests one by one.

    For an application without active journeys that start on events (nothing to admit), the
    group's work is set-based: one read of the endpoints and users named, one insert of every
    event, one update per wake-up time for the waiting participants (``Entered`` and ``Woken``
    are then not counted per request). Otherwise each request is recorded in turn.
    """
    flat: list[list[tuple[str, dict[str, Any]]] | InvalidInput] = []
    for _, batch in batches:
        try:
            flat.append(_flatten(batch))
        except InvalidInput as exc:
            flat.append(exc)
    outcomes: list[dict[str, Any] | InvalidInput] = [
        items if isinstance(items, InvalidInput) else {} for items in flat
    ]
    with app.store.begin() as conn:
        starters = {
            app_id: journey_store.active_with_event_start(conn, app_id)
            for app_id in sorted({app_id for app_id, _ in batches})
        }
        quiet = [
            (at, app_id, items)
            for at, ((app_id, _), items) in enumerate(zip(batches, flat, strict=True))
            if not isinstance(items, InvalidInput) and not starters[app_id]
        ]
        for at, results in zip(
            [at for at, _, _ in quiet], _record_together(conn, app, quiet), strict=True
        ):
            outcomes[at] = {"Results": results}
        for at, ((app_id, _), items) in enumerate(zip(batches, flat, strict=True)):
            if not isinstance(items, InvalidInput) and starters[app_id]:
                outcomes[at] = _record(conn, app, app_id, items, starters)
    return outcomes


def _record_together(
    conn: Connection,
    app: App,
    requests: Sequence[tuple[int, str, list[tuple[str, dict[str, Any]]]]],
) -> list[dict[str, Any]]:
    """Record the checked events of ``requests`` (for applications with no event-started
    journeys) set-wise; each request's per-event results."""
    if not requests:
        return []
    now_s = iso(app.clock.now())
    named: dict[str, tuple[set[str], set[str]]] = {}
    for _, app_id, items in requests:
        ids, users = named.setdefault(app_id, (set(), set()))
        for _, ev in items:
            if ev.get("EndpointId"):
                ids.add(str(ev["EndpointId"]))
            else:
                users.add(str(ev["UserId"]))
    by_id: dict[tuple[str, str | None], list[Endpoint]] = {}
    by_user: dict[tuple[str, str | None], list[Endpoint]] = {}
    for app_id, (ids, users) in named.items():
        by_id.update(((app_id, ep.id), [ep]) for ep in endpoint_store.by_ids(conn, app_id, ids))
        if users:
            by_user.update(users_endpoints_in(conn, app_id, users))
    rows: list[dict[str, Any]] = []
    wakes: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    answered: list[dict[str, Any]] = []
    for _, app_id, items in requests:
        results: dict[str, Any] = {}
        for where, ev in items:
            named_id = ev.get("EndpointId")
            if named_id:
                targets = by_id.get((app_id, str(named_id)))
            else:
                targets = by_user.get((app_id, str(ev["UserId"])))
            if not targets:
                results[where] = {"StatusCode": 404, "Message": "no such endpoint or user"}
                continue
            row = _event_row(app_id, ev, targets, now_s)
            rows.append(row)
            user_id, endpoint_id = row["user_id"], row["endpoint_id"]
            woken_users, woken_endpoints = wakes.setdefault(
                (app_id, max(row["occurred_at"], now_s)), (set(), set())
            )
            if user_id:
                woken_users.add(user_id)
            else:
                woken_endpoints.add(endpoint_id)
            results[where] = {"StatusCode": 202, "Message": "Accepted"}
        answered.append(results)
    event_store.append_many(conn, rows)
    for (app_id, at), (users, lone) in sorted(wakes.items()):
        participant_store.wake_user(conn, app_id, sorted(users), sorted(lone), at)
    return answered


def _event_row(
    app_id: str, ev: dict[str, Any], targets: list[Endpoint], now_s: str
) -> dict[str, Any]:
    """The event log row for checked event ``ev`` about ``targets`` (its endpoint or user's)."""
    return {
        "app_id": app_id,
        "kind": EVENT_KIND,
        "occurred_at": iso(parse_iso(str(ev["Timestamp"]))) if ev.get("Timestamp") else now_s,
        "user_id": targets[0].user_id,
        "endpoint_id": str(ev.get("EndpointId") or targets[0].id),
        "data": {
            "EventType": ev["EventType"],
            "Attributes": dict(ev.get("Attributes") or {}),
            "Metrics": dict(ev.get("Metrics") or {}),
        },
    }


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
        row = _event_row(app_id, ev, targets, now_s)
        at, user_id, endpoint_id, data = (
            row["occurred_at"],
            row["user_id"],
            row["endpoint_id"],
            row["data"],
        )
        event_store.append_many(conn, [row])
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
