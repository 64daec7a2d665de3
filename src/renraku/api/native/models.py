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
