"""Request bodies of the native API. Field names are Pinpoint's, so the same JSON works in both.

Unknown fields are rejected (``extra="forbid"``); the domain rules then check values (addresses,
time zones, limits) and name every problem.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateApplication(Strict):
    Name: str = Field(min_length=1, max_length=256)
    tags: dict[str, str] = Field(default_factory=dict)


class EndpointUser(Strict):
    UserId: str | None = Field(default=None, max_length=256)
    UserAttributes: dict[str, list[str]] | None = None


class EndpointDemographic(Strict):
    AppVersion: str | None = None
    Locale: str | None = None
    Make: str | None = None
    Model: str | None = None
    ModelVersion: str | None = None
    Platform: str | None = None
    PlatformVersion: str | None = None
    Timezone: str | None = None


class EndpointLocation(Strict):
    City: str | None = None
    Country: str | None = None
    Latitude: float | None = None
    Longitude: float | None = None
    PostalCode: str | None = None
    Region: str | None = None


class EndpointRequest(Strict):
    """Pinpoint's ``EndpointRequest``: a partial update (given fields replace or merge)."""

    Address: str | None = Field(default=None, max_length=512)
    Attributes: dict[str, list[str]] | None = None
    ChannelType: str | None = None
    Demographic: EndpointDemographic | None = None
    EffectiveDate: str | None = None
    EndpointStatus: str | None = None
    Location: EndpointLocation | None = None
    Metrics: dict[str, float] | None = None
    OptOut: str | None = None
    RequestId: str | None = None
    User: EndpointUser | None = None

    def request(self) -> dict[str, Any]:
        """The fields given, as Pinpoint JSON."""
        return self.model_dump(exclude_unset=True, exclude_none=True)


class EndpointBatchItem(EndpointRequest):
    Id: str = Field(min_length=1, max_length=128)


class EndpointBatch(Strict):
    Item: list[EndpointBatchItem] = Field(min_length=1, max_length=100)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "ProblemDetails",
    "description": "RFC 9457 problem details; `errors` names each field at fault.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "message"],
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
    }


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem("Malformed request (e.g. invalid JSON)"),
    401: _problem("Bearer token not recognised"),
    403: _problem("Missing or invalid credentials, or another application's data"),
    404: _problem("No such application, endpoint, segment, journey, template or job"),
    409: _problem("Conflict with the current state"),
    413: _problem("Request body too large (server.max_body_bytes)"),
    422: _problem("Invalid input; `errors` names each field"),
    429: _problem("Too many requests for this key"),
}
