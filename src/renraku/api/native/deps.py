"""Dependencies the native routers share: the App and the authenticated caller."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from renraku.api.auth import Authenticator, Principal
from renraku.api.sigv4 import SignedRequest
from renraku.app import App
from renraku.errors import NotFound
from renraku.store import apps as app_store

# Declared for the OpenAPI document; verification itself is the Authenticator's.
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="`Authorization: Bearer ACCESS_KEY_ID.SECRET_ACCESS_KEY` (or a SigV4 signature).",
)


def get_app(request: Request) -> App:
    app: App = request.app.state.renraku
    return app


async def get_principal(
    request: Request,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The caller, from a bearer token or a SigV4 signature; raises AuthError otherwise."""
    auth: Authenticator = request.app.state.auth
    headers = {k.lower(): v for k, v in request.headers.items()}
    body = (
        b""
        if "authorization" not in headers or headers["authorization"].lower().startswith("bearer ")
        else await request.body()
    )
    signed = SignedRequest(
        method=request.method,
        raw_path=(request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1"),
        query_string=request.scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
    )
    return await run_in_threadpool(auth.authenticate, signed, now=datetime.now(UTC), services=None)


AppDep = Annotated[App, Depends(get_app)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
Json = dict[str, Any]


def owned_app(app: App, principal: Principal, app_id: str) -> Json:
    """The application ``app_id`` if the caller's key may use it (403 otherwise, 404 if absent)."""
    principal.require_app(app_id)
    with app.store.connect() as conn:
        record = app_store.get_app(conn, app_id)
    if record["Id"] != app_id:
        raise NotFound("application", app_id)
    return record
