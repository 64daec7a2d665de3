"""Mounting the dashboard on the HTTP API: pages, static files, login redirect and ``/``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from renraku.web import (
    pages_auth,
    pages_calls,
    pages_imports,
    pages_journeys,
    pages_people,
    pages_segments,
)
from renraku.web.config import DashboardSettings
from renraku.web.site import PREFIX, CsrfRejected, Dashboard, LoginRequired
from renraku.web.uploads import Uploads

if TYPE_CHECKING:
    from renraku.app import App

STATIC = Path(__file__).parent / "static"


def dashboard_router(dash: Dashboard, uploads: Uploads) -> APIRouter:
    """Every dashboard page, relative to ``/ui``."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    @router.get("")
    @router.get("/")
    async def home() -> Response:
        return RedirectResponse(PREFIX + "/journeys", status_code=303)

    pages_auth.register(router, dash)
    pages_journeys.register(router, dash)
    pages_segments.register(router, dash)
    pages_imports.register(router, dash, uploads)
    pages_people.register(router, dash)
    pages_calls.register(router, dash)
    return router


def mount_dashboard(api: FastAPI, app: App, settings: DashboardSettings | None = None) -> None:
    """Serve the dashboard from ``api`` (``/ui``; ``/`` redirects there)."""
    settings = settings or getattr(app.settings, "dashboard", None) or DashboardSettings()
    if not settings.enabled:
        return
    dash = Dashboard(app, settings)
    uploads = Uploads(app, settings.max_upload_bytes)
    api.state.dashboard = dash
    api.include_router(dashboard_router(dash, uploads))
    api.mount(PREFIX + "/static", StaticFiles(directory=STATIC), name="dashboard-static")

    @api.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse(PREFIX + "/journeys", status_code=303)

    async def login_required(request: Request, exc: Exception) -> Response:
        if request.method == "GET" and "x-requested-with" not in request.headers:
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            from urllib.parse import quote

            return RedirectResponse(
                f"{PREFIX}/login?next={quote(target, safe='')}", status_code=303
            )
        return PlainTextResponse("login required", status_code=401)

    async def csrf_rejected(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(
            "the form's CSRF token is missing or wrong; reload the page and try again",
            status_code=403,
        )

    api.add_exception_handler(LoginRequired, login_required)
    api.add_exception_handler(CsrfRejected, csrf_rejected)
