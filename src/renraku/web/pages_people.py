"""People: search by user id, phone or email; a user's endpoints, calls and timeline."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from renraku.domain.endpoints import Endpoint
from renraku.errors import NotFound
from renraku.services import calls as call_service
from renraku.services import endpoints as endpoint_service
from renraku.store import dashboard_queries
from renraku.store import events as event_store
from renraku.web.site import Ctx, Dashboard, page_errors

TIMELINE_LIMIT = 2000


def group_people(found: list[Endpoint]) -> list[dict[str, Any]]:
    """Endpoints grouped by user (an endpoint without a user stands alone), in found order."""
    people: dict[str, dict[str, Any]] = {}
    for ep in found:
        key = ep.user_id or f"endpoint:{ep.id}"
        person = people.setdefault(key, {"UserId": ep.user_id, "Endpoints": []})
        person["Endpoints"].append(ep)
    return list(people.values())


def describe_event(event: dict[str, Any]) -> str:
    """A one-line reading of an event's data (outcome, digits, reason, state ...)."""
    data = event.get("Data") or {}
    parts = []
    for key in ("Outcome", "Digits", "Status", "Reason", "Branch", "Channel", "Keyword", "Until"):
        value = data.get(key)
        if value not in (None, "", []):
            parts.append(f"{key} {value}")
    return " · ".join(parts)


DELIVERY_PREFIXES = ("sms.", "email.", "delivery.", "custom.")


def delivery_states(events: list[dict[str, Any]]) -> dict[str, str]:
    """Send key -> the latest provider report about it (``sms.delivered``, ``email.bounced`` ...),
    so each send on the timeline shows where it got to."""
    out: dict[str, str] = {}
    for e in events:
        key = e.get("SendKey")
        if key and str(e["Kind"]).startswith(DELIVERY_PREFIXES):
            out[str(key)] = str(e["Kind"]).split(".", 1)[1]
    return out


def profile(eps: list[Endpoint]) -> dict[str, str]:
    """The user's attributes (``User.UserAttributes``), as the first endpoint carrying them says."""
    for ep in eps:
        if ep.user_attributes:
            return {k: ", ".join(v) for k, v in sorted(ep.user_attributes.items())}
    return {}


def person_view(dash: Dashboard, ctx: Ctx, user_id: str) -> dict[str, Any]:
    app_id = ctx.need_app()
    try:
        eps = endpoint_service.user_endpoints(dash.app, app_id, user_id)
    except NotFound:
        eps = [endpoint_service.get_endpoint(dash.app, app_id, user_id)]
        user_id = eps[0].user_id or user_id
    with dash.app.store.connect() as conn:
        events = event_store.timeline(
            conn,
            app_id,
            user_id=eps[0].user_id,
            endpoint_ids=[e.id for e in eps],
            limit=TIMELINE_LIMIT,
        )
    calls = call_service.list_calls(dash.app, app_id, user_id=eps[0].user_id, limit=200)
    if eps[0].user_id is None:
        calls = [c for c in calls if c.get("EndpointId") in {e.id for e in eps}]
    calls_by_id = {c["Id"]: c for c in calls}
    states = delivery_states(events)
    for e in events:
        e["Delivery"] = states.get(e["SendKey"]) if e["Kind"] == "send.sent" else None
        e["Summary"] = describe_event(e)
        call_id = (e.get("Data") or {}).get("CallId")
        e["Call"] = calls_by_id.get(call_id) if isinstance(call_id, str) else None
    opted_out = [e for e in eps if e.opt_out == "ALL"]
    shown: set[str] = set()
    newest_first = list(reversed(events))
    for e in newest_first:  # a call's transcript once, on its latest event
        call = e["Call"]
        e["CallRepeat"] = call is not None and call["Id"] in shown
        if call is not None:
            shown.add(call["Id"])
    return {
        "user_id": user_id,
        "endpoints": eps,
        "profile": profile(eps),
        "events": newest_first,
        "calls": calls,
        "opted_out": opted_out,
    }


def register(router: APIRouter, dash: Dashboard) -> None:
    @router.get("/people")
    @page_errors(dash)
    async def people(request: Request) -> Response:
        ctx = await dash.ctx(request)
        q = request.query_params.get("q", "").strip()[:256]
        found: list[Endpoint] = []
        if q and ctx.app_id:
            app_id = ctx.app_id

            def search() -> list[Endpoint]:
                with dash.app.store.connect() as conn:
                    return dashboard_queries.search_people(conn, app_id, q)

            found = await run_in_threadpool(search)
        return dash.render(
            "people.html", request, ctx, nav="people", q=q, people=group_people(found)
        )

    @router.get("/people/{user_id}")
    @page_errors(dash)
    async def person(request: Request, user_id: str) -> Response:
        ctx = await dash.ctx(request)
        view = await run_in_threadpool(person_view, dash, ctx, user_id)
        return dash.render("person.html", request, ctx, nav="people", **view)
