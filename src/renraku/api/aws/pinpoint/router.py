"""The Pinpoint-compatible surface: one ASGI endpoint that routes by botocore's model.

Bodies are the bare payload structures both ways; errors carry ``x-amzn-ErrorType`` and
``{"Message", "RequestID"}`` as Pinpoint's do, so unmodified boto3 clients parse them.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from renraku.api.auth import Authenticator, AuthError, Principal
from renraku.api.aws.pinpoint import apps as _apps  # noqa: F401  (registers handlers)
from renraku.api.aws.pinpoint import events as _events  # noqa: F401
from renraku.api.aws.pinpoint import imports as _imports  # noqa: F401
from renraku.api.aws.pinpoint import journeys as _journeys  # noqa: F401
from renraku.api.aws.pinpoint import segments as _segments  # noqa: F401
from renraku.api.aws.pinpoint import templates as _templates  # noqa: F401
from renraku.api.aws.pinpoint.calls import HANDLERS, Call, Payload
from renraku.api.aws.pinpoint.endpoints import update_request
from renraku.api.aws.pinpoint.model import (
    SIGNING_NAME,
    Operation,
    RequestError,
    conform,
    pinpoint_model,
)
from renraku.api.group_commit import GroupCommit
from renraku.api.sigv4 import SignedRequest
from renraku.app import App
from renraku.domain.endpoints import Endpoint
from renraku.errors import Conflict, InvalidInput, NotFound, RenrakuError
from renraku.services import endpoints as endpoint_service
from renraku.services.endpoints import EndpointUpdate
from renraku.store import apps as app_store

log = logging.getLogger("renraku.api.pinpoint")

SERVICES = frozenset({SIGNING_NAME})
ROUTE_KEY = "renraku.route"


def error_response(status: int, code: str, message: str, request_id: str) -> Response:
    """An error exactly as Pinpoint sends one."""
    body = json.dumps({"Message": message, "RequestID": request_id}, ensure_ascii=False)
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id},
    )


def _headers(request: Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in request.scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


def _renraku_error(exc: RenrakuError) -> tuple[int, str, str]:
    if isinstance(exc, InvalidInput):
        return 400, "BadRequestException", "; ".join(str(p) for p in exc.problems) or str(exc)
    if isinstance(exc, NotFound):
        return 404, "NotFoundException", str(exc)
    if isinstance(exc, Conflict):
        return 409, "ConflictException", str(exc)
    return 500, "InternalServerErrorException", str(exc)


class PinpointEndpoint:
    """Authenticates, binds, authorizes and runs one Pinpoint operation per request.

    Checking a request (signature, route, parameters) is CPU work done on the event loop; the
    store is reached from worker threads: a handler runs in one, and UpdateEndpoint requests
    are written in groups, one transaction for all that arrive together (:class:`GroupCommit`).
    Key and application lookups that miss their caches also go to a thread.
    """

    # Bodies up to this size are parsed on the event loop; larger ones (PutEvents may carry
    # megabytes) in a worker thread, so that one request cannot stall the others.
    INLINE_BODY_BYTES = 64 * 1024

    def __init__(self, app: App, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth
        self.model = pinpoint_model()
        self.max_body = app.settings.server.max_body_bytes
        # Applications seen to exist, trusted for key_cache_seconds: saves a query per request.
        # A write racing an application's deletion fails on the foreign key and is re-checked.
        self._known_apps: dict[str, float] = {}
        self._app_ttl = app.settings.server.key_cache_seconds
        # Request ids need to be unique, not secret: a seeded generator spares the system call
        # for random bytes that uuid4 makes on every request.
        self._ids = random.Random()  # noqa: S311
        self.endpoint_updates: GroupCommit[EndpointUpdate, Endpoint] = GroupCommit(
            lambda updates: endpoint_service.update_endpoints_together(app, updates),
            lambda u: endpoint_service.update_endpoint(app, u.app_id, u.endpoint_id, u.request),
        )

    async def endpoint(self, request: Request) -> Response:
        request_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return self._too_large(request_id)
        body = await request.body()
        if len(body) > self.max_body:
            return self._too_large(request_id)
        signed = SignedRequest(
            method=request.method,
            raw_path=(request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1"),
            query_string=request.scope.get("query_string", b"").decode("latin-1"),
            headers=_headers(request),
            body=body,
        )
        principal: Principal | None = None
        params: dict[str, Any] = {}
        try:
            missing = self.auth.uncached_key(signed)
            if missing is not None:
                await run_in_threadpool(self.auth.keyring.lookup, missing)
            principal = self.auth.authenticate(signed, now=datetime.now(UTC), services=SERVICES)
            op, labels = self.model.match(signed.method, signed.raw_path)
            request.scope[ROUTE_KEY] = f"pinpoint:{op.name}"
            handler = HANDLERS.get(op.name)
            if handler is None:
                raise RequestError(
                    404,
                    "NotFoundException",
                    f"renraku does not implement the Pinpoint operation {op.name}",
                )
            query = dict(parse_qsl(signed.query_string, keep_blank_values=True))
            if len(body) <= self.INLINE_BODY_BYTES:
                params = self.model.bind(op, labels, query, body)
            else:
                params = await run_in_threadpool(self.model.bind, op, labels, query, body)
            if "ApplicationId" in params:
                app_id = str(params["ApplicationId"])
                principal.require_app(app_id)
                if self._known_apps.get(app_id, 0.0) <= time.monotonic():
                    await run_in_threadpool(self._check_app, app_id)
            call = Call(self.app, principal, op.name, params, request_id)
            if op.name == "UpdateEndpoint":
                await self.endpoint_updates.submit(update_request(call))
                response = self._render(op, call.accepted(), request_id)
            else:
                response = await run_in_threadpool(
                    lambda: self._render(op, handler(call), request_id)
                )
        except AuthError as exc:
            response = error_response(exc.status, exc.code, exc.message, request_id)
        except RequestError as exc:
            response = error_response(exc.status, exc.code, exc.message, request_id)
        except RenrakuError as exc:
            status, code, message = _renraku_error(exc)
            if status >= 500:
                log.error("request %s failed: %s", request_id, exc)
            response = error_response(status, code, message, request_id)
        except IntegrityError as exc:
            response = await run_in_threadpool(
                self._integrity, exc, params.get("ApplicationId"), request_id
            )
        if principal is not None:
            self.auth.settle(principal, signed.method, response.status_code)
        return response

    def _render(self, op: Operation, payload: Payload, request_id: str) -> Response:
        shape = op.output_payload_shape()
        if shape is not None:
            payload = conform(payload, shape)
        return Response(
            json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            status_code=op.status,
            media_type="application/json",
            headers={"x-amzn-RequestId": request_id},
        )

    def _too_large(self, request_id: str) -> Response:
        return error_response(
            413,
            "PayloadTooLargeException",
            f"request body exceeds {self.max_body} bytes (server.max_body_bytes)",
            request_id,
        )

    def _check_app(self, app_id: str) -> None:
        with self.app.store.connect() as conn:
            record: dict[str, Any] = app_store.get_app(conn, app_id)
        if record["Id"] != app_id:
            raise NotFound("application", app_id)
        if len(self._known_apps) > 10_000:
            self._known_apps.clear()
        self._known_apps[app_id] = time.monotonic() + self._app_ttl

    def _integrity(self, exc: IntegrityError, app_id: Any, request_id: str) -> Response:
        if isinstance(app_id, str):
            self._known_apps.pop(app_id, None)
            with self.app.store.connect() as conn:
                try:
                    app_store.get_app(conn, app_id)
                except NotFound as gone:
                    return error_response(404, "NotFoundException", str(gone), request_id)
        return error_response(
            409, "ConflictException", f"conflicting write: {exc.orig}", request_id
        )


class PinpointMiddleware:
    """Sends every request under ``/v1/`` to the Pinpoint endpoint before any routing.

    Path routing would refuse ids that decode to control characters (``%0A``); Pinpoint's
    surface must answer those itself, in its own error format.
    """

    PREFIX = "/v1/"

    def __init__(self, app: ASGIApp, endpoint: PinpointEndpoint) -> None:
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(self.PREFIX):
            response = await self.endpoint.endpoint(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
