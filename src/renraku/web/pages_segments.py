"""Segments: the list with counts and the one-line filter builder (live count and preview as the
filter is typed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from renraku.domain.segments import parse_filter
from renraku.errors import InvalidInput, NotFound, RenrakuError
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
            if item.get("SegmentType") != "IMPORT":
                item["Filter"] = segment_service.show(dash.app, ctx.app_id, item["Id"])["Filter"]
        except RenrakuError:
            item["Counts"] = None
    return items


def save_segment(dash: Dashboard, app_id: str, name: str, where: str) -> dict[str, Any]:
    """A new dynamic segment, or a new version of the one already called ``name``."""
    try:
        current = segment_service.require(dash.app, app_id, name.strip())
    except NotFound:
        return segment_service.create(dash.app, app_id, name, where=where)
    return segment_service.update(dash.app, app_id, current["Id"], where=where)


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
        saved = await run_in_threadpool(save_segment, dash, app_id, name, where)
        return redirect(
            f"{PREFIX}/segments",
            f"Segment {saved['Name']} saved as version {saved['Version']} (id {saved['Id']}).",
        )
