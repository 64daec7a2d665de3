"""Journeys: the list, a new journey from its JSON, the graph with live counts, the charts and the
publish / pause / resume / cancel buttons."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from renraku.errors import InvalidInput, Problem
from renraku.services import journeys as journey_service
from renraku.store import dashboard_queries
from renraku.web import charts
from renraku.web.graph import layout, render_svg
from renraku.web.site import PREFIX, Ctx, Dashboard, page_errors, redirect, text_field

ACTIONS = {
    "publish": journey_service.publish,
    "pause": journey_service.pause,
    "resume": journey_service.resume,
    "cancel": journey_service.cancel,
}
BUTTONS = {
    "DRAFT": ("publish", "cancel"),
    "ACTIVE": ("pause", "cancel"),
    "PAUSED": ("resume", "cancel"),
}
PARTICIPANT_ROWS = 50
SUMMARY = (
    ("Entered", "ENDPOINT_ENTERED"),
    ("In journey", "ENDPOINT_ACTIVE"),
    ("Finished", "ENDPOINT_FINISHED"),
    ("Exited", "ENDPOINT_EXITED"),
    ("Sent", "SENT"),
    ("Failed", "FAILED"),
    ("Held (quiet time)", "DEFERRED_QUIET_TIME"),
)


def journey_view(dash: Dashboard, ctx: Ctx, key: str) -> dict[str, Any]:
    """Everything the journey page and its live fragment show."""
    app_id = ctx.need_app()
    app = dash.app
    shown = journey_service.show(app, app_id, key)
    with app.store.connect() as conn:
        from renraku.store import journeys as journey_store

        definition = dict(journey_store.get(conn, app_id, key).definition or {})
        by_hour = dashboard_queries.sends_by_hour(conn, app_id, shown["Id"])
    metrics = journey_service.metrics(app, app_id, key)
    per_activity = {a["JourneyActivityId"]: a["Metrics"] for a in metrics["Activities"]}
    graph = layout(definition, per_activity)
    totals = {k: int(v) for k, v in metrics["Metrics"].items()}
    funnel = charts.reach_funnel(definition, metrics["Activities"])
    labels, series = charts.hourly_series(by_hour)
    return {
        "journey": shown,
        "definition_json": json.dumps(definition, ensure_ascii=False, indent=2),
        "graph_svg": render_svg(graph, title=f"Journey {shown['Name']}"),
        "graph": graph,
        "summary": [(label, totals.get(name, 0)) for label, name in SUMMARY],
        "funnel_svg": charts.bar_chart(
            funnel.channels,
            charts.FUNNEL_STAGES,
            {k: float(v) for k, v in funnel.values.items()},
            title="Reach by channel",
        )
        if funnel.channels
        else "",
        "sends_svg": charts.line_chart(
            labels, {k: [float(x) for x in v] for k, v in series.items()}, title="Sends per hour"
        )
        if labels
        else "",
        "buttons": BUTTONS.get(shown["State"], ()),
        "now": app.now_iso(),
    }


def register(router: APIRouter, dash: Dashboard) -> None:
    @router.get("/journeys")
    @page_errors(dash)
    async def journeys(request: Request) -> Response:
        ctx = await dash.ctx(request)
        items = (
            await run_in_threadpool(journey_service.list_journeys, dash.app, ctx.app_id)
            if ctx.app_id
            else []
        )
        return dash.render("journeys.html", request, ctx, nav="journeys", items=items)

    @router.post("/journeys")
    @page_errors(dash)
    async def create(request: Request) -> Response:
        ctx = await dash.ctx(request)
        form = await dash.form(request, ctx)
        app_id = ctx.need_app()
        text = text_field(form, "definition")
        try:
            definition = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                [Problem(f"line {exc.lineno} column {exc.colno}", exc.msg)], subject="journey JSON"
            ) from exc
        if not isinstance(definition, dict):
            raise InvalidInput([Problem("", "a JSON object")], subject="journey JSON")
        created = await run_in_threadpool(journey_service.create, dash.app, app_id, definition)
        return redirect(f"{PREFIX}/journeys/{created['Id']}", "Journey created as a draft.")

    @router.get("/journeys/{journey_id}")
    @page_errors(dash)
    async def journey(request: Request, journey_id: str) -> Response:
        ctx = await dash.ctx(request)
        view = await run_in_threadpool(journey_view, dash, ctx, journey_id)
        who = await run_in_threadpool(
            lambda: journey_service.participants(
                dash.app, ctx.need_app(), journey_id, limit=PARTICIPANT_ROWS
            )
        )
        return dash.render("journey.html", request, ctx, nav="journeys", participants=who, **view)

    @router.get("/journeys/{journey_id}/live")
    @page_errors(dash)
    async def live(request: Request, journey_id: str) -> Response:
        ctx = await dash.ctx(request)
        view = await run_in_threadpool(journey_view, dash, ctx, journey_id)
        return dash.render("_journey_live.html", request, ctx, **view)

    @router.get("/charts")
    @page_errors(dash)
    async def charts_page(request: Request) -> Response:
        ctx = await dash.ctx(request)
        items = (
            await run_in_threadpool(journey_service.list_journeys, dash.app, ctx.app_id)
            if ctx.app_id
            else []
        )
        wanted = request.query_params.get("journey", "")
        chosen = next((j for j in items if j["Id"] == wanted), None)
        if chosen is None and items:
            # The journey most recently changed among those that have run.
            ran = [j for j in items if j["State"] != "DRAFT"] or items
            chosen = max(ran, key=lambda j: str(j["LastModifiedDate"]))
        view = await run_in_threadpool(journey_view, dash, ctx, chosen["Id"]) if chosen else {}
        return dash.render(
            "charts.html", request, ctx, nav="charts", items=items, chosen=chosen, **view
        )

    @router.post("/journeys/{journey_id}/{action}")
    @page_errors(dash)
    async def act(request: Request, journey_id: str, action: str) -> Response:
        ctx = await dash.ctx(request)
        await dash.form(request, ctx)
        fn = ACTIONS.get(action)
        if fn is None:
            raise InvalidInput(
                [Problem("action", "one of " + ", ".join(ACTIONS))], subject="journey action"
            )
        done = await run_in_threadpool(fn, dash.app, ctx.need_app(), journey_id)
        return redirect(f"{PREFIX}/journeys/{done['Id']}", f"Journey is now {done['State']}.")
