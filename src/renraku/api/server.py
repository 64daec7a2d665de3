"""The ASGI application: ``create_api(app)`` and the factory ``renraku serve`` hands to uvicorn."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from renraku import __version__
from renraku.api import connect, hooks, problems, twiml
from renraku.api.auth import Authenticator
from renraku.api.aws.pinpoint.router import PinpointEndpoint, PinpointMiddleware
from renraku.api.keyring import KeyRing
from renraku.api.limits import BodyLimitMiddleware
from renraku.api.metrics import Metrics, MetricsMiddleware
from renraku.api.native import routes as native_routes
from renraku.api.native.deps import PrincipalDep, get_principal
from renraku.app import App, build_app
from renraku.settings import load_settings

# Set by `renraku serve` once it has migrated the database, so workers do not race to migrate.
SCHEMA_READY_ENV = "RENRAKU_SERVE_SCHEMA_READY"
OPENAPI_PATH = "/api/v1/openapi.json"

DESCRIPTION = """\
renraku's native API. Every route except `/healthz` and `/readyz` needs an API key
(`renraku keys create --app A`); `/metrics` needs an administrator key unless
`[server] public_metrics = true`, and this document (`/api/v1/openapi.json`, `/api/v1/docs`) any
valid key. Send `Authorization: Bearer ACCESS_KEY_ID.SECRET_ACCESS_KEY`, or
sign the request with AWS SigV4 using the same pair. A key belongs to one application and can
only reach that application's data. Errors are RFC 9457 problem details
(`application/problem+json`) whose `errors` list names each field at fault.

The Pinpoint-compatible API (`/v1/...`, for boto3 via `AWS_ENDPOINT_URL_PINPOINT`) is described
by botocore's own service model and is not repeated here.
"""


def create_api(app: App) -> FastAPI:
    """The HTTP API over ``app``: health, metrics, native ``/api/v1`` and Pinpoint ``/v1``."""
    api = FastAPI(
        title="renraku",
        version=__version__,
        description=DESCRIPTION,
        # Served below behind a key instead of FastAPI's open routes.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    keyring = KeyRing(app)
    auth = Authenticator(keyring, app.settings.server)
    metrics = Metrics(app)
    api.state.renraku = app
    api.state.auth = auth
    api.state.metrics = metrics
    problems.install(api)

    @api.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: the database answers and its schema is current",
        responses={503: {"description": "Not ready"}},
    )
    async def readyz() -> Any:
        ready, detail = await run_in_threadpool(_readiness, app)
        if ready:
            return {"status": "ready"}
        return JSONResponse({"status": "not ready", "detail": detail}, status_code=503)

    @api.get("/metrics", include_in_schema=False)
    async def metrics_text(request: Request) -> Response:
        if not app.settings.server.public_metrics:
            principal = await get_principal(request, None)
            principal.require_admin("read /metrics")
        return await metrics.endpoint(request)

    @api.get(OPENAPI_PATH, include_in_schema=False)
    async def openapi_document(principal: PrincipalDep) -> JSONResponse:
        return JSONResponse(api.openapi())

    @api.get("/api/v1/docs", include_in_schema=False)
    async def openapi_ui(principal: PrincipalDep) -> HTMLResponse:
        # The document travels inside the page: the browser's own fetch of it would carry no key.
        encoded = base64.b64encode(json.dumps(api.openapi()).encode()).decode("ascii")
        return get_swagger_ui_html(
            openapi_url=f"data:application/json;base64,{encoded}", title="renraku API"
        )

    api.include_router(native_routes.router)
    # Provider webhooks and the voice surfaces check their own credentials (signatures, tokens).
    api.include_router(hooks.router)
    api.include_router(connect.build_router(app, auth))
    api.include_router(twiml.build_router(app))
    from renraku.web.mount import mount_dashboard

    mount_dashboard(api, app)  # the dashboard under /ui; / redirects there
    api.add_middleware(BodyLimitMiddleware, settings=app.settings.server)
    # Pinpoint's surface takes every /v1/ request before routing (see PinpointMiddleware).
    api.add_middleware(PinpointMiddleware, endpoint=PinpointEndpoint(app, auth))
    api.add_middleware(MetricsMiddleware, metrics=metrics)
    return api


def _readiness(app: App) -> tuple[bool, str]:
    try:
        with app.store.connect() as conn:
            conn.execute(text("select 1"))
        if not app.store.is_current():
            return False, "the database schema is not at the newest migration"
    except Exception as exc:
        return False, f"database unavailable: {exc}"
    return True, ""


def api_from_environment() -> FastAPI:
    """uvicorn factory: settings from ``RENRAKU_*`` and ``RENRAKU_CONFIG``, as ``renraku serve``."""
    settings = load_settings()
    app = build_app(settings, migrate=os.environ.get(SCHEMA_READY_ENV) != "1")
    return create_api(app)
