"""Native routes for templates, application events and user timelines."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query

from renraku.api.native.deps import AppDep, Json, PrincipalDep, owned_app
from renraku.services import events as event_service
from renraku.services import templates as template_service
from renraku.store import events as event_store
from renraku.store import templates as template_store

router = APIRouter(prefix="/api/v1/apps/{app_id}")
TemplateType = Literal["EMAIL", "SMS", "VOICE"]


@router.get("/templates", tags=["templates"], summary="Templates, optionally of one type")
def list_templates(
    app: AppDep,
    principal: PrincipalDep,
    app_id: str,
    template_type: Annotated[TemplateType | None, Query(alias="type")] = None,
) -> Json:
    owned_app(app, principal, app_id)
    with app.store.connect() as conn:
        return {"Item": template_store.list_templates(conn, app_id, template_type=template_type)}


@router.put(
    "/templates/{template_type}/{name}",
    tags=["templates"],
    summary="Create or replace a template (every part is checked first)",
)
def put_template(
    app: AppDep,
    principal: PrincipalDep,
    app_id: str,
    template_type: TemplateType,
    name: str,
    body: Annotated[dict[str, Any], Body(description="Pinpoint's template request JSON.")],
) -> Json:
    owned_app(app, principal, app_id)
    return template_service.create_template(app, app_id, name, template_type, body)


@router.get("/templates/{template_type}/{name}", tags=["templates"], summary="A template")
def get_template(
    app: AppDep, principal: PrincipalDep, app_id: str, template_type: TemplateType, name: str
) -> Json:
    owned_app(app, principal, app_id)
    return template_service.get_template(app, app_id, name, template_type)


@router.delete("/templates/{template_type}/{name}", tags=["templates"], summary="Delete a template")
def delete_template(
    app: AppDep, principal: PrincipalDep, app_id: str, template_type: TemplateType, name: str
) -> Json:
    owned_app(app, principal, app_id)
    with app.store.begin() as conn:
        found = template_store.get(conn, app_id, name, template_type)
        template_store.remove(conn, app_id, name, template_type)
    return found


@router.post("/events", tags=["events"], summary="Record application events (Pinpoint's PutEvents)")
def put_events(
    app: AppDep,
    principal: PrincipalDep,
    app_id: str,
    body: Annotated[
        dict[str, Any] | list[dict[str, Any]],
        Body(description="An EventsRequest with BatchItem, or a list of flat events."),
    ],
) -> Json:
    owned_app(app, principal, app_id)
    return event_service.put_events(app, app_id, body)


@router.get(
    "/users/{user_id}/timeline", tags=["users"], summary="Everything that happened to a user"
)
def user_timeline(
    app: AppDep,
    principal: PrincipalDep,
    app_id: str,
    user_id: str,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Json:
    owned_app(app, principal, app_id)
    with app.store.connect() as conn:
        return {"Item": event_store.timeline(conn, app_id, user_id=user_id, limit=limit)}
