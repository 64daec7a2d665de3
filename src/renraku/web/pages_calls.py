"""Calls: those in progress now and the most recent ones; one call with its path and transcript."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from renraku.services import calls as call_service
from renraku.web.site import Ctx, Dashboard, page_errors

RECENT = 100


def calls_view(dash: Dashboard, ctx: Ctx) -> dict[str, Any]:
    if ctx.app_id is None:
        return {"live": [], "recent": []}
    recent = call_service.list_calls(dash.app, ctx.app_id, limit=RECENT)
    live = [c for c in recent if c.get("Status") != "ENDED"]
    return {"live": live, "recent": recent}


def register(router: APIRouter, dash: Dashboard) -> None:
    @router.get("/calls")
    @page_errors(dash)
    async def calls(request: Request) -> Response:
        ctx = await dash.ctx(request)
        view = await run_in_threadpool(calls_view, dash, ctx)
        return dash.render("calls.html", request, ctx, nav="calls", **view)

    @router.get("/calls/live")
    @page_errors(dash)
    async def live(request: Request) -> Response:
        ctx = await dash.ctx(request)
        view = await run_in_threadpool(calls_view, dash, ctx)
        return dash.render("_calls_live.html", request, ctx, **view)

    @router.get("/calls/{call_id}")
    @page_errors(dash)
    async def call(request: Request, call_id: str) -> Response:
        ctx = await dash.ctx(request)
        found = await run_in_threadpool(call_service.show_call, dash.app, ctx.need_app(), call_id)
        return dash.render("call.html", request, ctx, nav="calls", call=found)
