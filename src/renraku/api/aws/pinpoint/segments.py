"""Pinpoint segments: CreateSegment, GetSegment(s), GetSegmentVersion(s), UpdateSegment,
DeleteSegment."""

from __future__ import annotations

from typing import Any

from renraku.api.aws.pinpoint.calls import Call, Payload, operation
from renraku.api.aws.pinpoint.paging import paginate, with_next
from renraku.errors import InvalidInput, Problem
from renraku.services import segments as segment_service

_DEFINITION_KEYS = ("Dimensions", "SegmentGroups")
UNUSED_ROLE = "arn:aws:iam::000000000000:role/renraku-import-unused"


def _shaped(segment: Payload) -> Payload:
    """Fill the members Pinpoint's ImportDefinition requires but renraku does not use."""
    imported = segment.get("ImportDefinition")
    if not isinstance(imported, dict):
        return segment
    filled = {
        "ExternalId": "",
        "RoleArn": UNUSED_ROLE,
        **{k: v for k, v in imported.items() if v is not None},
    }
    filled.setdefault("Size", 0)
    return {**segment, "ImportDefinition": filled}


def _definition(request: dict[str, Any]) -> dict[str, Any] | None:
    given = {k: request[k] for k in _DEFINITION_KEYS if request.get(k) is not None}
    return given or None


@operation("CreateSegment")
def create_segment(call: Call) -> Payload:
    request = call.body("WriteSegmentRequest")
    if not request.get("Name"):
        raise InvalidInput([Problem("WriteSegmentRequest.Name", "required: the segment's name")])
    definition = _definition(request)
    if definition is None:
        raise InvalidInput(
            [Problem("WriteSegmentRequest", "give Dimensions or SegmentGroups")],
            subject="segment",
        )
    created = segment_service.create(
        call.app,
        call.app_id,
        str(request["Name"]),
        definition=definition,
        tags=request.get("tags"),
    )
    return _shaped(created)


@operation("GetSegment")
def get_segment(call: Call) -> Payload:
    return _shaped(segment_service.show(call.app, call.app_id, str(call.params["SegmentId"])))


@operation("GetSegmentVersion")
def get_segment_version(call: Call) -> Payload:
    version = str(call.params["Version"])
    if not version.isdigit():
        raise InvalidInput([Problem("version", f"{version!r} is not a version number")])
    return _shaped(
        segment_service.show(
            call.app, call.app_id, str(call.params["SegmentId"]), version=int(version)
        )
    )


@operation("GetSegments")
def get_segments(call: Call) -> Payload:
    items = [_shaped(x) for x in segment_service.list_segments(call.app, call.app_id)]
    page, token = paginate(items, call.params.get("PageSize"), call.params.get("Token"))
    return with_next({"Item": page}, token)


@operation("GetSegmentVersions")
def get_segment_versions(call: Call) -> Payload:
    items = [
        _shaped(x)
        for x in segment_service.versions(call.app, call.app_id, str(call.params["SegmentId"]))
    ]
    page, token = paginate(items, call.params.get("PageSize"), call.params.get("Token"))
    return with_next({"Item": page}, token)


@operation("UpdateSegment")
def update_segment(call: Call) -> Payload:
    request = call.body("WriteSegmentRequest")
    updated = segment_service.update(
        call.app,
        call.app_id,
        str(call.params["SegmentId"]),
        definition=_definition(request),
        name=request.get("Name"),
        tags=request.get("tags"),
    )
    return _shaped(updated)


@operation("DeleteSegment")
def delete_segment(call: Call) -> Payload:
    return _shaped(segment_service.delete(call.app, call.app_id, str(call.params["SegmentId"])))
