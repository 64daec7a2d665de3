"""Segments: the list with counts and the one-line filter builder (live count and preview as the
filter is typed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from renraku.domain.segments import parse_filter
from renraku.errors import InvalidInput, RenrakuError
from renraku.services import segments as segment_service
from renraku.store import dashboard_queries
from renraku.web.site import PREFIX, Ctx, Dashboard, page_errors, redirect, text_field

EXAMPLE = "ChannelType = EMAIL and Attributes.CallStatus = PENDING"
PREVIEW_ROWS = 10


def preview_view(dash: Dashboard, ctx: Ctx, where: str) -> dict[str, Any]:
    """Count and first endpoints of an unsaved filter, or the problems that stop it."""
    app_id = ctx.need_app()
    if not where.strip():
        return {"where": where, "problems": [], "counts": None, "rows": []}
    try:
        defn = parse_filter(where)
        with dash.app.store.connect() as conn:
            now = dash.app.clock.now()
            counts = dashboard_queries.draft_counts(conn, app_id, defn, now=now)
            rows = dashboard_queries.draft_preview(conn, app_id, defn, now=now, limit=PREVIEW_ROWS)
    except InvalidInput as exc:
        return {"where": where, "problems": list(exc.problems), "counts": None, "rows": []}
    except RenrakuError as exc:
        return {"where": where, "problems": [str(exc)], "counts": None, "rows": []}
    return {"where": where, "problems": [], "counts": counts, "rows": rows}


def segments_view(dash: Dashboard, ctx: Ctx) -> list[dict[str, Any]]:
    if ctx.app_id is None:
        return []
    items = segment_service.list_segments(dash.app, ctx.app_id)
    for item in items:
        try:
            item["Counts"] = segment_service.count(dash.app, ctx.app_id, item["Id"])
        except RenrakuError:
            item["Counts"] = None
    return items


def register(router: APIRouter, dash: Dashboard) -> None:
    @router.get("/segments")
    @page_errors(dash)
    async def segments(request: Request) -> Response:
        ctx = await dash.ctx(request)
        where = request.query_params.get("where", "")
        items = await run_in_threadpool(segments_view, dash, ctx)
        view = await run_in_threadpool(preview_view, dash, ctx, where) if ctx.app_id else {}
        return dash.render(
            "segments.html",
            request,
            ctx,
            nav="segments",
            items=items,
            example=EXAMPLE,
            name=request.query_params.get("name", ""),
            **view,
        )

    @router.post("/segments/preview")
    @page_errors(dash)
    async def preview(request: Request) -> Response:
        ctx = await dash.ctx(request)
        form = await dash.form(request, ctx)
        view = await run_in_threadpool(preview_view, dash, ctx, text_field(form, "where"))
        return dash.render("_segment_preview.html", request, ctx, **view)

    @router.post("/segments")
    @page_errors(dash)
    async def save(request: Request) -> Response:
        ctx = await dash.ctx(request)
        form = await dash.form(request, ctx)
        app_id = ctx.need_app()
        name, where = text_field(form, "name"), text_field(form, "where")
        created = await run_in_threadpool(
            lambda: segment_service.create(dash.app, app_id, name, where=where)
        )
        return redirect(
            f"{PREFIX}/segments", f"Segment {created['Name']} saved (id {created['Id']})."
        )
