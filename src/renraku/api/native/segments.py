"""Native routes for segments: create, update, read, count, preview, export and delete."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.responses import PlainTextResponse
from pydantic import Field

from renraku.api.native.deps import AppDep, Json, PrincipalDep, owned_app
from renraku.api.native.models import Strict
from renraku.services import segments as segment_service

router = APIRouter(prefix="/api/v1/apps/{app_id}/segments", tags=["segments"])


class SegmentRequest(Strict):
    """A dimensional segment: Pinpoint's ``Dimensions`` or ``SegmentGroups``, or a one-line
    ``Filter`` (e.g. ``ChannelType = EMAIL AND Attributes.CallStatus = PENDING``)."""

    Name: str | None = Field(default=None, max_length=256)
    Dimensions: dict[str, Any] | None = None
    SegmentGroups: dict[str, Any] | None = None
    Filter: str | None = Field(default=None, max_length=10_000)
    tags: dict[str, str] | None = None

    def definition(self) -> dict[str, Any] | None:
        given = {
            k: v
            for k, v in (("Dimensions", self.Dimensions), ("SegmentGroups", self.SegmentGroups))
            if v is not None
        }
        return given or None


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a dimensional segment")
def create_segment(app: AppDep, principal: PrincipalDep, app_id: str, body: SegmentRequest) -> Json:
    owned_app(app, principal, app_id)
    return segment_service.create(
        app,
        app_id,
        body.Name or "",
        definition=body.definition(),
        where=body.Filter,
        tags=body.tags,
    )


@router.get("", summary="Every segment of the application")
def list_segments(app: AppDep, principal: PrincipalDep, app_id: str) -> Json:
    owned_app(app, principal, app_id)
    return {"Item": segment_service.list_segments(app, app_id)}


@router.get("/{segment}", summary="A segment by id or name (optionally one version)")
def get_segment(
    app: AppDep,
    principal: PrincipalDep,
    app_id: str,
    segment: str,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Json:
    owned_app(app, principal, app_id)
    return segment_service.show(app, app_id, segment, version=version)


@router.put("/{segment}", summary="Write a new version of a segment")
def update_segment(
    app: AppDep, principal: PrincipalDep, app_id: str, segment: str, body: SegmentRequest
) -> Json:
    owned_app(app, principal, app_id)
    return segment_service.update(
        app,
        app_id,
        segment,
        definition=body.definition(),
        where=body.Filter,
        name=body.Name,
        tags=body.tags,
    )


@router.delete("/{segment}", summary="Delete a segment")
def delete_segment(app: AppDep, principal: PrincipalDep, app_id: str, segment: str) -> Json:
    owned_app(app, principal, app_id)
    return segment_service.delete(app, app_id, segment)


@router.get("/{segment}/count", summary="Endpoints and users in the segment now")
def count_segment(app: AppDep, principal: PrincipalDep, app_id: str, segment: str) -> Json:
    owned_app(app, principal, app_id)
    return segment_service.count(app, app_id, segment)


@router.get("/{segment}/preview", summary="The first endpoints (or users) of the segment")
def preview_segment(
    app: AppDep,
    principal: PrincipalDep,
    app_id: str,
    segment: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    users: bool = False,
) -> Json:
    owned_app(app, principal, app_id)
    return {"Item": segment_service.preview(app, app_id, segment, limit=limit, users=users)}


@router.get(
    "/{segment}/export",
    summary="The segment's endpoints as CSV in the import format",
    response_class=PlainTextResponse,
)
def export_segment(app: AppDep, principal: PrincipalDep, app_id: str, segment: str) -> Any:
    owned_app(app, principal, app_id)
    out = io.StringIO()
    segment_service.export(app, app_id, segment, out)
    return PlainTextResponse(out.getvalue(), media_type="text/csv")
