"""The Pinpoint-compatible surface: one raw ASGI endpoint that routes by botocore's model.

Bodies are the bare payload structures both ways; errors carry ``x-amzn-ErrorType`` and
``{"Message", "RequestID"}`` as Pinpoint's do, so unmodified boto3 clients parse them.

Every ``/v1/`` request comes here before FastAPI's middleware and router (see
``renraku.api.server``): the hot operations take a short path with no per-request framework
objects, and their store work runs in groups, one transaction for all the requests waiting
(:class:`GroupCommit`).
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from renraku.api.auth import Authenticator, AuthError, Principal
from renraku.api.aws.pinpoint import apps as _apps  # noqa: F401  (registers handlers)
from renraku.api.aws.pinpoint import events as _events  # noqa: F401
from renraku.api.aws.pinpoint import imports as _imports  # noqa: F401
from renraku.api.aws.pinpoint import journeys as _journeys  # noqa: F401
from renraku.api.aws.pinpoint import segments as _segments  # noqa: F401
from renraku.api.aws.pinpoint import templates as _templates  # noqa: F401
from renraku.api.aws.pinpoint.calls import HANDLERS, Call, Payload
from renraku.api.aws.pinpoint.endpoints import update_request
from renraku.api.aws.pinpoint.events import events_results
from renraku.api.aws.pinpoint.model import (
    SIGNING_NAME,
    Operation,
    RequestError,
    conform,
    pinpoint_model,
)
from renraku.api.group_commit import GroupCommit
from renraku.api.metrics import Metrics
from renraku.api.sigv4 import SignedRequest
from renraku.app import App
from renraku.domain.endpoints import Endpoint
from renraku.errors import Conflict, InvalidInput, NotFound, RenrakuError
from renraku.services import endpoints as endpoint_service
from renraku.services import events as event_service
from renraku.services.endpoints import EndpointUpdate
from renraku.store import apps as app_store

log = logging.getLogger("renraku.api.pinpoint")

SERVICES = frozenset({SIGNING_NAME})
ROUTE_KEY = "renraku.route"
# One encoder, built once (json.dumps with options builds a new one per call).
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_JSON = (b"content-type", b"application/json")

Headers = list[tuple[bytes, bytes]]


class Answer:
    """A response: status, headers (without content-length) and body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Headers, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    async def send(self, send: Send) -> None:
        headers = [*self.headers, (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def error_response(status: int, code: str, message: str, request_id: str) -> Answer:
    """An error exactly as Pinpoint sends one."""
    body = _ENCODE({"Message": message, "RequestID": request_id}).encode()
    return Answer(
        status,
        [
            _JSON,
            (b"x-amzn-errortype", code.encode()),
            (b"x-amzn-requestid", request_id.encode()),
        ],
        body,
    )


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
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


class _ClientGone(Exception):
    """The client disconnected before its request body arrived."""


class _TooLarge(Exception):
    """The request body is over ``server.max_body_bytes``."""


class PinpointEndpoint:
    """Authenticates, binds, authorizes and runs one Pinpoint operation per request (raw ASGI).

    Checking a request (signature, route, parameters) is CPU work done on the event loop; the
    store is reached from worker threads. UpdateEndpoint, GetEndpoint, GetUserEndpoints and
    PutEvents are handled in groups (one transaction for all the requests waiting, in a thread
    of their own); other operations run their handler in the shared thread pool. Key and
    application lookups that miss their caches also go to a thread.
    """

    # Bodies up to this size are parsed on the event loop; larger ones (PutEvents may carry
    # megabytes) in a worker thread, so that one request cannot stall the others.
    INLINE_BODY_BYTES = 64 * 1024

    def __init__(self, app: App, auth: Authenticator, metrics: Metrics | None = None) -> None:
        self.app = app
        self.auth = auth
        self.metrics = metrics
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
            name="updates",
            retry_transient=True,  # an update sets a state: written twice, it is the same
        )
        self.user_reads: GroupCommit[tuple[str, str], list[Endpoint]] = GroupCommit(
            lambda wanted: endpoint_service.users_endpoints_together(app, wanted),
            lambda one: endpoint_service.user_endpoints(app, *one),
            name="user-reads",
            retry_transient=True,
        )
        self.endpoint_reads: GroupCommit[tuple[str, str], Endpoint] = GroupCommit(
            lambda wanted: endpoint_service.endpoints_together(app, wanted),
            lambda one: endpoint_service.get_endpoint(app, *one),
            name="endpoint-reads",
            retry_transient=True,
        )
        self.event_writes: GroupCommit[tuple[str, Any], dict[str, Any]] = GroupCommit(
            lambda batches: event_service.put_events_together(app, batches),
            lambda one: event_service.put_events(app, *one),
            name="events",
        )
        # Operations answered from a group: a coroutine from the call to the payload.
        self._grouped: dict[str, Callable[[Call], Awaitable[Payload]]] = {
            "UpdateEndpoint": self._update_endpoint,
            "GetEndpoint": self._get_endpoint,
            "GetUserEndpoints": self._get_user_endpoints,
            "PutEvents": self._put_events,
        }
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            answer = await self.answer(scope, receive)
        except _ClientGone:
            return
        await answer.send(send)
        if self.metrics is not None:
            self._measure(scope, answer.status, time.perf_counter() - started)

    def _measure(self, scope: Scope, status: int, seconds: float) -> None:
        assert self.metrics is not None
        route = str(scope.get(ROUTE_KEY, "unmatched"))
        key = (str(scope["method"]), route, status)
        counter = self._counted.get(key)
        if counter is None:
            counter = self._counted[key] = self.metrics.requests.labels(key[0], route, str(status))
        counter.inc()
        timer = self._timed.get(route)
        if timer is None:
            timer = self._timed[route] = self.metrics.latency.labels(route)
        timer.observe(seconds)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def answer(self, scope: Scope, receive: Receive) -> Answer:
        """The response to one request (any unexpected failure: a Pinpoint-style 500)."""
        request_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        try:
            body = await self._body(scope, receive)
        except _TooLarge:
            answer = self._too_large(request_id)
            answer.headers.append((b"connection", b"close"))
            return answer
        try:
            return await self._handle(scope, body, request_id)
        except Exception:
            log.exception("request %s failed", request_id)
            return error_response(
                500,
                "InternalServerErrorException",
                "the server failed to handle the request",
                request_id,
            )

    async def _handle(self, scope: Scope, body: bytes, request_id: str) -> Answer:
        raw_path = scope.get("raw_path") or str(scope["path"]).encode()
        signed = SignedRequest(
            method=str(scope["method"]),
            raw_path=raw_path.decode("latin-1"),
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=_headers(scope),
            body=body,
        )
        principal: Principal | None = None
        params: dict[str, Any] = {}
        answer: Answer
        try:
            missing = self.auth.uncached_key(signed)
            if missing is not None:
                await run_in_threadpool(self.auth.keyring.lookup, missing)
            principal = self.auth.authenticate(signed, now=datetime.now(UTC), services=SERVICES)
            op, labels = self.model.match(signed.method, signed.raw_path)
            scope[ROUTE_KEY] = f"pinpoint:{op.name}"
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
            grouped = self._grouped.get(op.name)
            if grouped is not None:
                answer = self._render(op, await grouped(call), request_id)
            else:
                answer = await run_in_threadpool(
                    lambda: self._render(op, handler(call), request_id)
                )
        except AuthError as exc:
            answer = error_response(exc.status, exc.code, exc.message, request_id)
        except RequestError as exc:
            answer = error_response(exc.status, exc.code, exc.message, request_id)
        except RenrakuError as exc:
            status, code, message = _renraku_error(exc)
            if status >= 500:
                log.error("request %s failed: %s", request_id, exc)
            answer = error_response(status, code, message, request_id)
        except IntegrityError as exc:
            answer = await run_in_threadpool(
                self._integrity, exc, params.get("ApplicationId"), request_id
            )
        if principal is not None:
            self.auth.settle(principal, signed.method, answer.status)
        return answer

    async def _update_endpoint(self, call: Call) -> Payload:
        await self.endpoint_updates.submit(update_request(call))
        return call.accepted()

    async def _get_endpoint(self, call: Call) -> Payload:
        found = await self.endpoint_reads.submit((call.app_id, str(call.params["EndpointId"])))
        return found.to_pinpoint()

    async def _get_user_endpoints(self, call: Call) -> Payload:
        found = await self.user_reads.submit((call.app_id, str(call.params["UserId"])))
        return {"Item": [ep.to_pinpoint() for ep in found]}

    async def _put_events(self, call: Call) -> Payload:
        outcome = await self.event_writes.submit((call.app_id, call.body("EventsRequest")))
        return events_results(outcome)

    def _render(self, op: Operation, payload: Payload, request_id: str) -> Answer:
        shape = op.output_payload_shape()
        if shape is not None:
            payload = conform(payload, shape)
        return Answer(
            op.status,
            [_JSON, (b"x-amzn-requestid", request_id.encode())],
            _ENCODE(payload).encode(),
        )

    def _too_large(self, request_id: str) -> Answer:
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

    def _integrity(self, exc: IntegrityError, app_id: Any, request_id: str) -> Answer:
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
