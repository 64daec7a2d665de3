"""Native routes for journeys: create, validate, update, publish, pause, resume, cancel, delete,
metrics and participants. Bodies are Pinpoint's journey JSON plus renraku's additions (VOICE, End,
ExitCriteria)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status

from renraku.api.native.deps import AppDep, Json, PrincipalDep, owned_app
from renraku.services import journeys as journey_service

router = APIRouter(prefix="/api/v1/apps/{app_id}/journeys", tags=["journeys"])
JourneyBody = Annotated[dict[str, Any], Body(description="A journey definition (Pinpoint JSON).")]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a journey (as DRAFT)")
def create_journey(app: AppDep, principal: PrincipalDep, app_id: str, body: JourneyBody) -> Json:
    owned_app(app, principal, app_id)
    tags = body.get("tags") if isinstance(body.get("tags"), dict) else None
    definition = {k: v for k, v in body.items() if k != "tags"}
    return journey_service.create(app, app_id, definition, tags=tags)


@router.post("/validate", summary="Every problem a definition has, without storing it")
def validate_journey(app: AppDep, principal: PrincipalDep, app_id: str, body: JourneyBody) -> Json:
    owned_app(app, principal, app_id)
    found = journey_service.validate(app, app_id, body)
    return {
        "Valid": not found,
        "Problems": [{"path": p.path, "message": p.message} for p in found],
    }


@router.get("", summary="Every journey of the application")
def list_journeys(app: AppDep, principal: PrincipalDep, app_id: str) -> Json:
    owned_app(app, principal, app_id)
    return {"Item": journey_service.list_journeys(app, app_id)}


@router.get("/{journey_id}", summary="A journey")
def get_journey(app: AppDep, principal: PrincipalDep, app_id: str, journey_id: str) -> Json:
    owned_app(app, principal, app_id)
    return journey_service.show(app, app_id, journey_id)


@router.put("/{journey_id}", summary="Replace a journey's definition (a new version once live)")
def update_journey(
    app: AppDep, principal: PrincipalDep, app_id: str, journey_id: str, body: JourneyBody
) -> Json:
    owned_app(app, principal, app_id)
    return journey_service.update(app, app_id, journey_id, body)


@router.post("/{journey_id}/publish", summary="DRAFT -> ACTIVE after full validation")
def publish_journey(app: AppDep, principal: PrincipalDep, app_id: str, journey_id: str) -> Json:
    owned_app(app, principal, app_id)
    return journey_service.publish(app, app_id, journey_id)


@router.post("/{journey_id}/pause", summary="Hold every participant where it is")
def pause_journey(app: AppDep, principal: PrincipalDep, app_id: str, journey_id: str) -> Json:
    owned_app(app, principal, app_id)
    return journey_service.pause(app, app_id, journey_id)


@router.post("/{journey_id}/resume", summary="Continue a paused journey")
def resume_journey(app: AppDep, principal: PrincipalDep, app_id: str, journey_id: str) -> Json:
    owned_app(app, principal, app_id)
    return journey_service.resume(app, app_id, journey_id)


@router.post("/{journey_id}/cancel", summary="End the journey and every participant in it")
def cancel_journey(app: AppDep, principal: PrincipalDep, app_id: str, journey_id: str) -> Json:
    owned_app(app, principal, app_id)
    return journey_service.cancel(app, app_id, journey_id)


@router.delete(
    "/{journey_id}", summary="Delete a journey in any state, with its participants and sends"
)
def delete_journey(app: AppDep, principal: PrincipalDep, app_id: str, journey_id: str) -> Json:
    owned_app(app, principal, app_id)
    return journey_service.delete(app, app_id, journey_id)


@router.get("/{journey_id}/metrics", summary="Execution metrics, in total and per activity")
def journey_metrics(app: AppDep, principal: PrincipalDep, app_id: str, journey_id: str) -> Json:
    owned_app(app, principal, app_id)
    return journey_service.metrics(app, app_id, journey_id)


@router.get("/{journey_id}/participants", summary="Who is where in the journey")
def journey_participants(
    app: AppDep,
    principal: PrincipalDep,
    app_id: str,
    journey_id: str,
    activity: Annotated[str | None, Query(max_length=128)] = None,
    participant_status: Annotated[str | None, Query(alias="status", max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Json:
    owned_app(app, principal, app_id)
    items = journey_service.participants(
        app, app_id, journey_id, activity=activity, status=participant_status, limit=limit
    )
    return {"Item": items}
