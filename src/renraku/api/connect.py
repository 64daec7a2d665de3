"""Amazon Connect-compatible routes, so an unmodified ``boto3.client("connect")`` places calls.

``PUT /contact/outbound-voice`` (StartOutboundVoiceContact), ``GET /contacts/{InstanceId}/{ContactId}``
(DescribeContact), ``GET /contact/attributes/{InstanceId}/{InitialContactId}`` (GetContactAttributes)
and ``POST /contact/stop`` (StopContact), in Connect's rest-json wire format. ``InstanceId`` names a
renraku application (id, name, or a Connect instance ARN ending in it); ``ContactFlowId`` names a
stored flow (id, name or ARN). Calls go through the configured VOICE provider. Errors carry
``x-amzn-ErrorType`` and ``{"Message": ...}`` as Connect's do.

Mount with ``api.include_router(build_router(app, auth))``; ``auth`` (SigV4 or bearer keys) is
optional only for tests.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from renraku.api import connect_flows
from renraku.api.auth import Authenticator, AuthError, Principal
from renraku.api.sigv4 import SignedRequest
from renraku.app import App
from renraku.domain.flows.interpreter import instance_arn
from renraku.domain.timefmt import parse_iso
from renraku.errors import InvalidInput, NotFound, RenrakuError
from renraku.services import call_placement as placement
from renraku.services import calls as call_service
from renraku.services import flows as flow_service
from renraku.store import apps as app_store
from renraku.store import calls as call_store

log = logging.getLogger("renraku.api.connect")

SIGNING_SERVICES = frozenset({"connect"})
MAX_ATTRIBUTES = 32768  # Connect's limit on the total size of contact attributes (bytes)


Operation = Callable[[Principal | None, Mapping[str, Any]], Mapping[str, Any]]


class ConnectError(Exception):
    def __init__(
        self, status: int, code: str, message: str, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.extra = dict(extra or {})  # more members of the error body (e.g. "problems")


def _error(
    status: int, code: str, message: str, request_id: str, extra: Mapping[str, Any] | None = None
) -> Response:
    return Response(
        json.dumps({"Message": message, **(extra or {})}, ensure_ascii=False),
        status_code=status,
        media_type="application/json",
        headers={"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id},
    )


def _ok(payload: Mapping[str, Any], request_id: str) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        media_type="application/json",
        headers={"x-amzn-RequestId": request_id},
    )


def _epoch(text: str | None) -> float | None:
    return None if text is None else parse_iso(text).timestamp()


def _amd_status(call: Mapping[str, Any]) -> str:
    return {
        "ANSWERED": "HUMAN_ANSWERED",
        "VOICEMAIL": "VOICEMAIL_BEEP",
        "BUSY": "SIT_TONE_BUSY",
        "NO_ANSWER": "AMD_UNANSWERED",
        "FAILED": "AMD_ERROR",
    }.get(call.get("Outcome") or "", "AMD_UNRESOLVED")


def _disconnect_reason(call: Mapping[str, Any]) -> str:
    reason = call.get("Reason") or ""
    if "hung up" in reason:
        return "CUSTOMER_DISCONNECT"
    if reason.startswith("stopped"):
        return "API"
    if call.get("Outcome") in ("NO_ANSWER", "BUSY", "FAILED"):
        return "OUTBOUND_DESTINATION_ENDPOINT_ERROR"
    return "CONTACT_FLOW_DISCONNECT"


class ConnectApi:
    """The four operations, each authenticated and bound to one application."""

    def __init__(self, app: App, auth: Authenticator | None = None) -> None:
        self.app = app
        self.auth = auth

    # Plumbing --------------------------------------------------------------------------------

    async def _run(
        self,
        request: Request,
        op: Operation,
        **path: str,
    ) -> Response:
        request_id = str(uuid.uuid4())
        body = await request.body()
        return await run_in_threadpool(self._handle, request, body, op, path, request_id)

    def _handle(
        self,
        request: Request,
        body: bytes,
        op: Operation,
        path: Mapping[str, str],
        request_id: str,
    ) -> Response:
        principal = None
        status = 200
        try:
            principal = self._authenticate(request, body)
            params: dict[str, Any] = dict(path)
            if body.strip():
                try:
                    loaded = json.loads(body)
                except json.JSONDecodeError as exc:
                    raise ConnectError(
                        400, "InvalidRequestException", f"body is not JSON: {exc.msg}"
                    ) from exc
                except RecursionError as exc:
                    raise ConnectError(
                        400, "InvalidRequestException", "body is nested too deeply"
                    ) from exc
                if not isinstance(loaded, dict):
                    raise ConnectError(400, "InvalidRequestException", "body must be a JSON object")
                params.update(loaded)
            response = _ok(op(principal, params), request_id)
        except ConnectError as exc:
            status = exc.status
            response = _error(exc.status, exc.code, exc.message, request_id, exc.extra)
        except InvalidInput as exc:
            status = 400
            message = "; ".join(str(p) for p in exc.problems) or str(exc)
            response = _error(400, "InvalidParameterException", message, request_id)
        except NotFound as exc:
            status = 404
            response = _error(404, "ResourceNotFoundException", str(exc), request_id)
        except RenrakuError as exc:
            status = 500
            response = _error(500, "InternalServiceException", str(exc), request_id)
        except AuthError as exc:
            status = exc.status
            response = _error(exc.status, exc.code, exc.message, request_id)
        except Exception:  # never a bare 500: Connect's clients parse x-amzn-ErrorType
            log.exception("Connect request %s failed", request_id)
            status = 500
            response = _error(500, "InternalServiceException", "internal error", request_id)
        if principal is not None and self.auth is not None:
            self.auth.settle(principal, request.method, status)
        return response

    def _authenticate(self, request: Request, body: bytes) -> Principal | None:
        if self.auth is None:
            return None
        headers: dict[str, str] = {}
        for raw_name, raw_value in request.scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        signed = SignedRequest(
            method=request.method,
            raw_path=(request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1"),
            query_string=request.scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
        )
        return self.auth.authenticate(signed, now=datetime.now(UTC), services=SIGNING_SERVICES)

    def _app_id(self, principal: Principal | None, params: Mapping[str, Any]) -> str:
        instance = params.get("InstanceId")
        if not isinstance(instance, str) or not instance:
            raise ConnectError(400, "InvalidParameterException", "InstanceId is required")
        key = instance.rsplit("instance/", 1)[-1]
        with self.app.store.connect() as conn:
            try:
                app_id = str(app_store.get_app(conn, key)["Id"])
            except NotFound as exc:
                raise ConnectError(
                    404, "ResourceNotFoundException", f"instance {instance!r} not found"
                ) from exc
        if principal is not None:
            principal.require_app(app_id)
        return app_id

    def _call(self, app_id: str, contact_id: str) -> dict[str, Any]:
        with self.app.store.connect() as conn:
            call = call_store.find(conn, app_id, contact_id)
        if call is None:
            raise ConnectError(
                404, "ResourceNotFoundException", f"contact {contact_id!r} not found"
            )
        return call

    # Operations ------------------------------------------------------------------------------

    def start_outbound_voice_contact(
        self, principal: Principal | None, params: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        app_id = self._app_id(principal, params)
        for name in ("DestinationPhoneNumber", "ContactFlowId"):
            if not isinstance(params.get(name), str) or not params[name]:
                raise ConnectError(400, "InvalidParameterException", f"{name} is required")
        attributes = params.get("Attributes") or {}
        if not isinstance(attributes, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
        ):
            raise ConnectError(
                400, "InvalidParameterException", "Attributes must map strings to strings"
            )
        if len(json.dumps(attributes).encode()) > MAX_ATTRIBUTES:
            raise ConnectError(
                400, "InvalidParameterException", f"Attributes exceed {MAX_ATTRIBUTES} bytes"
            )
        number = params["DestinationPhoneNumber"]
        flow = params["ContactFlowId"]
        problem = placement.destination_problem(self.app, app_id, number)
        if problem is not None:
            code = "DestinationNotAllowedException" if "not allowed" in problem else None
            raise ConnectError(
                403 if code else 400,
                code or "InvalidParameterException",
                f"DestinationPhoneNumber: {problem}",
            )
        voice = self.app.channels.get("VOICE")
        if getattr(voice, "local_flows", True):
            with self.app.store.connect() as conn:
                try:
                    flow_service.load(conn, app_id, flow)
                except NotFound as exc:
                    raise ConnectError(
                        404, "ResourceNotFoundException", f"contact flow {flow!r} not found"
                    ) from exc
        amd = params.get("AnswerMachineDetectionConfig") or {}
        result = call_service.start_outbound(
            self.app,
            app_id,
            address=number,
            flow=flow,
            attributes=attributes,
            origination=params.get("SourcePhoneNumber"),
            client_token=params.get("ClientToken"),
            extra={
                "QueueId": params.get("QueueId"),
                "CampaignId": params.get("CampaignId"),
                "AnswerMachineDetectionConfig": amd if isinstance(amd, dict) else {},
            },
        )
        if result.outcome != "sent":
            if not result.permanent:
                raise ConnectError(429, "LimitExceededException", result.reason or "limit exceeded")
            raise ConnectError(
                403, "OutboundContactNotPermittedException", result.reason or "not permitted"
            )
        return {"ContactId": result.provider_message_id}

    def describe_contact(
        self, principal: Principal | None, params: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        app_id = self._app_id(principal, params)
        call = self._call(app_id, str(params["ContactId"]))
        now = self.app.now_iso()
        arn = instance_arn(app_id)
        contact: dict[str, Any] = {
            "Arn": f"{arn}/contact/{call['Id']}",
            "Id": call["Id"],
            "InitialContactId": call["Id"],
            "InitiationMethod": "API",
            "Channel": "VOICE",
            "InitiationTimestamp": _epoch(call["PlacedAt"]),
            "LastUpdateTimestamp": _epoch(min(now, call["EndedAt"] or now)),
            "CustomerEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": call["CustomerAddress"]},
            "Attributes": {k: str(v) for k, v in (call["Attributes"] or {}).items()},
        }
        if call["SystemAddress"]:
            contact["SystemEndpoint"] = {
                "Type": "TELEPHONE_NUMBER",
                "Address": call["SystemAddress"],
            }
        if call["AnsweredAt"] and call["AnsweredAt"] <= now:
            contact["ConnectedToSystemTimestamp"] = _epoch(call["AnsweredAt"])
        if call["EndedAt"] and call["EndedAt"] <= now:
            contact["DisconnectTimestamp"] = _epoch(call["EndedAt"])
            contact["DisconnectReason"] = _disconnect_reason(call)
            contact["AnsweringMachineDetectionStatus"] = _amd_status(call)
        return {"Contact": contact}

    def get_contact_attributes(
        self, principal: Principal | None, params: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        app_id = self._app_id(principal, params)
        call = self._call(app_id, str(params["InitialContactId"]))
        return {"Attributes": {k: str(v) for k, v in (call["Attributes"] or {}).items()}}

    def stop_contact(
        self, principal: Principal | None, params: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        app_id = self._app_id(principal, params)
        contact_id = params.get("ContactId")
        if not isinstance(contact_id, str) or not contact_id:
            raise ConnectError(400, "InvalidParameterException", "ContactId is required")
        call = self._call(app_id, contact_id)
        now = self.app.now_iso()
        if call["EndedAt"] and call["EndedAt"] <= now:
            raise ConnectError(410, "ContactNotFoundException", f"contact {contact_id} has ended")
        voice = self.app.channels.get("VOICE")
        stop = getattr(voice, "stop", None)
        if callable(stop):
            stop(call)
        call_service.stop(self.app, app_id, call["Id"])
        return {}

    def report_outcome(
        self, principal: Principal | None, params: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """renraku's own: a flow running in Amazon Connect reports how the call ended."""
        app_id = self._app_id(principal, params)
        contact_id = str(params.get("ContactId") or "")
        outcome = str(params.get("Outcome") or "")
        if outcome not in call_service.OUTCOMES:
            raise ConnectError(
                400, "InvalidParameterException", f"Outcome must be one of {call_service.OUTCOMES}"
            )
        with self.app.store.connect() as conn:
            call = call_store.find(conn, app_id, contact_id) or call_store.by_provider_id(
                conn, "connect", contact_id
            )
        if call is None or call["ApplicationId"] != app_id:
            raise ConnectError(
                404, "ResourceNotFoundException", f"contact {contact_id!r} not found"
            )
        done = call_service.finish(
            self.app, app_id, call["Id"], outcome=outcome, digits=str(params.get("Digits") or "")
        )
        return {"CallId": done["Id"], "Outcome": done["Outcome"]}


def build_router(app: App, auth: Authenticator | None = None) -> APIRouter:
    """The Connect-compatible routes over ``app`` (``auth``: the server's Authenticator)."""
    api = ConnectApi(app, auth)
    router = APIRouter(tags=["connect"], include_in_schema=False)

    def flow_op(
        op: Callable[[ConnectApi, Principal | None, Mapping[str, Any]], Mapping[str, Any]],
    ) -> Operation:
        return lambda principal, params: op(api, principal, params)

    @router.put("/contact/outbound-voice")
    async def start_outbound_voice_contact(request: Request) -> Response:
        return await api._run(request, api.start_outbound_voice_contact)

    @router.get("/contacts/{InstanceId}/{ContactId}")
    async def describe_contact(request: Request, InstanceId: str, ContactId: str) -> Response:
        return await api._run(
            request, api.describe_contact, InstanceId=InstanceId, ContactId=ContactId
        )

    @router.get("/contact/attributes/{InstanceId}/{InitialContactId}")
    async def get_contact_attributes(
        request: Request,
        InstanceId: str,
        InitialContactId: str,
    ) -> Response:
        return await api._run(
            request,
            api.get_contact_attributes,
            InstanceId=InstanceId,
            InitialContactId=InitialContactId,
        )

    @router.post("/contact/stop")
    async def stop_contact(request: Request) -> Response:
        return await api._run(request, api.stop_contact)

    @router.put("/contact-flows/{InstanceId}")
    async def create_contact_flow(request: Request, InstanceId: str) -> Response:
        return await api._run(
            request, flow_op(connect_flows.create_contact_flow), InstanceId=InstanceId
        )

    @router.get("/contact-flows/{InstanceId}/{ContactFlowId}")
    async def describe_contact_flow(
        request: Request,
        InstanceId: str,
        ContactFlowId: str,
    ) -> Response:
        return await api._run(
            request,
            flow_op(connect_flows.describe_contact_flow),
            InstanceId=InstanceId,
            ContactFlowId=ContactFlowId,
        )

    @router.post("/contact-flows/{InstanceId}/{ContactFlowId}/content")
    async def update_contact_flow_content(
        request: Request,
        InstanceId: str,
        ContactFlowId: str,
    ) -> Response:
        return await api._run(
            request,
            flow_op(connect_flows.update_contact_flow_content),
            InstanceId=InstanceId,
            ContactFlowId=ContactFlowId,
        )

    @router.get("/contact-flows-summary/{InstanceId}")
    async def list_contact_flows(request: Request, InstanceId: str) -> Response:
        return await api._run(
            request, flow_op(connect_flows.list_contact_flows), InstanceId=InstanceId
        )

    @router.post("/voice/connect/outcome")
    async def report_outcome(request: Request) -> Response:
        return await api._run(request, api.report_outcome)

    return router
