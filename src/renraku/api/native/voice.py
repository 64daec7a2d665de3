"""Native routes for contact flows (Amazon Connect's flow language) and calls."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status

from renraku.api.native.deps import AppDep, Json, PrincipalDep, owned_app
from renraku.services import calls as call_service
from renraku.services import flows as flow_service

router = APIRouter(prefix="/api/v1/apps/{app_id}")
FlowBody = Annotated[dict[str, Any], Body(description="A contact flow (flow-language JSON).")]


@router.post("/flows/validate", tags=["flows"], summary="Check a flow without storing it")
def validate_flow(app: AppDep, principal: PrincipalDep, app_id: str, body: FlowBody) -> Json:
    owned_app(app, principal, app_id)
    return flow_service.validate(body, source="body")


@router.put(
    "/flows/{name}",
    tags=["flows"],
    status_code=status.HTTP_200_OK,
    summary="Store a flow (a new version when the name exists)",
)
def put_flow(
    app: AppDep,
    principal: PrincipalDep,
    app_id: str,
    name: str,
    body: FlowBody,
    description: Annotated[str | None, Query(max_length=1024)] = None,
) -> Json:
    owned_app(app, principal, app_id)
    return flow_service.create(app, app_id, body, name=name, description=description, source="body")


@router.get("/flows", tags=["flows"], summary="Every flow of the application")
def list_flows(app: AppDep, principal: PrincipalDep, app_id: str) -> Json:
    owned_app(app, principal, app_id)
    return {"Item": flow_service.list_all(app, app_id)}


@router.get(
    "/flows/{flow}", tags=["flows"], summary="A flow, its versions and one version's content"
)
def get_flow(
    app: AppDep,
    principal: PrincipalDep,
    app_id: str,
    flow: str,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Json:
    owned_app(app, principal, app_id)
    return flow_service.show(app, app_id, flow, version=version)


@router.get("/calls", tags=["calls"], summary="Calls, newest first")
def list_calls(
    app: AppDep,
    principal: PrincipalDep,
    app_id: str,
    user_id: Annotated[str | None, Query(max_length=256)] = None,
    outcome: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> Json:
    owned_app(app, principal, app_id)
    items = call_service.list_calls(app, app_id, user_id=user_id, outcome=outcome, limit=limit)
    return {"Item": items}


@router.get(
    "/calls/{call_id}", tags=["calls"], summary="One call: status, outcome, digits, transcript"
)
def get_call(app: AppDep, principal: PrincipalDep, app_id: str, call_id: str) -> Json:
    owned_app(app, principal, app_id)
    return call_service.show_call(app, app_id, call_id)
