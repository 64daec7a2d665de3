"""The ASGI application: ``create_api(app)`` and the factory ``renraku serve`` hands to uvicorn."""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DisconnectionError
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from renraku import __version__
from renraku.api import connect, hooks, problems, twiml
from renraku.api.auth import Authenticator
from renraku.api.aws.pinpoint.router import PinpointEndpoint
from renraku.api.keyring import KeyRing
from renraku.api.limits import BodyLimitMiddleware
from renraku.api.metrics import Metrics, MetricsMiddleware
from renraku.api.native import routes as native_routes
from renraku.api.native.deps import PrincipalDep, get_principal
from renraku.app import App, build_app
from renraku.settings import load_settings
from renraku.store import make_engine

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


class RenrakuAPI(FastAPI):
    """FastAPI, with every ``/v1/`` request sent straight to the Pinpoint surface.

    Pinpoint's routes have their own authentication, limits, error format and metrics; taking
    them before FastAPI's middleware and router spares the hot operations the framework's
    per-request work, and path routing would refuse ids that decode to control characters
    (``%0A``), which Pinpoint's surface must answer itself.
    """

    PINPOINT_PREFIX = "/v1/"
    pinpoint: PinpointEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.pinpoint is not None
            and scope["type"] == "http"
            and str(scope["path"]).startswith(self.PINPOINT_PREFIX)
        ):
            await self.pinpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_api(app: App) -> FastAPI:
    """The HTTP API over ``app``: health, metrics, native ``/api/v1`` and Pinpoint ``/v1``."""
    api = RenrakuAPI(
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
    api.add_middleware(MetricsMiddleware, metrics=metrics)
    # Pinpoint's surface takes every /v1/ request before FastAPI (see RenrakuAPI).
    api.pinpoint = PinpointEndpoint(app, auth, metrics)
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


# A pooled connection idle longer than this is pinged before use (see ping_when_idle).
IDLE_PING_SECONDS = 5.0


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Ping a pooled connection at checkout only when it sat idle for ``idle_seconds``.

    The store's engine pings on every checkout (a round trip per transaction); under load a
    connection is back in use within milliseconds and a ping finds nothing. One left idle may
    have been closed by the database (a restart, an idle timeout): that one is pinged, and a
    dead one replaced by the pool before anyone uses it.
    """

    def checked_in(_dbapi: Any, record: Any) -> None:
        record.info["renraku_idle_since"] = time.monotonic()

    def checked_out(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("renraku_idle_since")
        if since is not None and time.monotonic() - since <= idle_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi)
        except Exception as exc:
            raise DisconnectionError(f"a pooled connection is gone: {exc}") from exc
        if not alive:
            raise DisconnectionError("a pooled connection is gone")

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "connect", checked_in)
    event.listen(engine, "checkout", checked_out)


def api_from_environment() -> FastAPI:
    """uvicorn factory: settings from ``RENRAKU_*`` and ``RENRAKU_CONFIG``, as ``renraku serve``."""
    settings = load_settings()
    app = build_app(settings, migrate=os.environ.get(SCHEMA_READY_ENV) != "1")
    if app.store.dialect == "postgresql":
        # Ping only connections that sat idle, not every checkout (see ping_when_idle).
        old = app.store.engine
        app.store.engine = make_engine(settings.db, pool_pre_ping=False)
        ping_when_idle(app.store.engine)
        old.dispose()
    return create_api(app)
