"""Endpoints and users with Pinpoint's fields, and Pinpoint's partial-update rules.

An endpoint is one address on one channel. Endpoints sharing a ``User.UserId`` form a user; an endpoint
without one is its own user. Field names follow Amazon Pinpoint's ``EndpointResponse`` so that JSON can
round-trip unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class ChannelType(StrEnum):
    """Pinpoint's channel types; renraku sends on VOICE, SMS, EMAIL and CUSTOM."""

    VOICE = "VOICE"
    SMS = "SMS"
    EMAIL = "EMAIL"
    CUSTOM = "CUSTOM"
    PUSH = "PUSH"
    GCM = "GCM"
    APNS = "APNS"
    APNS_SANDBOX = "APNS_SANDBOX"
    APNS_VOIP = "APNS_VOIP"
    APNS_VOIP_SANDBOX = "APNS_VOIP_SANDBOX"
    ADM = "ADM"
    BAIDU = "BAIDU"
    IN_APP = "IN_APP"


PHONE_CHANNELS = frozenset({ChannelType.VOICE, ChannelType.SMS})

OPT_OUT_VALUES = ("ALL", "NONE")
ENDPOINT_STATUS_VALUES = ("ACTIVE", "INACTIVE")

DEMOGRAPHIC_FIELDS = (
    "AppVersion",
    "Locale",
    "Make",
    "Model",
    "ModelVersion",
    "Platform",
    "PlatformVersion",
    "Timezone",
)
LOCATION_FIELDS = ("City", "Country", "Latitude", "Longitude", "PostalCode", "Region")

# Pinpoint's documented per-endpoint limits.
MAX_ATTRIBUTES = 40
MAX_ATTRIBUTE_NAME = 50
MAX_ATTRIBUTE_VALUE = 100
MAX_ATTRIBUTE_VALUES = 50
MAX_USER_ATTRIBUTES = 40
MAX_METRICS = 40

_ID_NAMESPACE = uuid.UUID("6a1f0c3e-5d0b-4c53-9d8e-72656e72616b")


def derive_endpoint_id(app_id: str, channel: str, address: str, user_id: str | None) -> str:
    """A stable endpoint id from what identifies the row, so re-imports update in place."""
    key = "\x1f".join((app_id, channel, address, user_id or ""))
    return uuid.uuid5(_ID_NAMESPACE, key).hex


def participant_key(endpoint_id: str, user_id: str | None) -> str:
    """The key of the participant an endpoint belongs to: its user, else the endpoint alone."""
    return f"u:{user_id}" if user_id else f"e:{endpoint_id}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One address on one channel, with Pinpoint's fields."""

    app_id: str
    id: str
    channel_type: str
    address: str
    user_id: str | None = None
    attributes: Mapping[str, list[str]] = field(default_factory=dict)
    user_attributes: Mapping[str, list[str]] = field(default_factory=dict)
    demographic: Mapping[str, str] = field(default_factory=dict)
    location: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    opt_out: str = "NONE"
    endpoint_status: str = "ACTIVE"
    effective_date: str | None = None
    creation_date: str | None = None
    cohort_id: str | None = None
    request_id: str | None = None

    @property
    def participant(self) -> str:
        return participant_key(self.id, self.user_id)

    @property
    def opted_out(self) -> bool:
        return self.opt_out == "ALL"

    @property
    def active(self) -> bool:
        return self.endpoint_status == "ACTIVE"

    def to_pinpoint(self) -> dict[str, Any]:
        """Pinpoint's ``EndpointResponse`` shape."""
        out: dict[str, Any] = {
            "ApplicationId": self.app_id,
            "Id": self.id,
            "ChannelType": self.channel_type,
            "Address": self.address,
            "Attributes": {k: list(v) for k, v in self.attributes.items()},
            "Demographic": dict(self.demographic),
            "Location": dict(self.location),
            "Metrics": dict(self.metrics),
            "OptOut": self.opt_out,
            "EndpointStatus": self.endpoint_status,
            "User": {
                "UserAttributes": {k: list(v) for k, v in self.user_attributes.items()},
            },
        }
        if self.user_id is not None:
            out["User"]["UserId"] = self.user_id
        if self.effective_date is not None:
            out["EffectiveDate"] = self.effective_date
        if self.creation_date is not None:
            out["CreationDate"] = self.creation_date
        if self.cohort_id is not None:
            out["CohortId"] = self.cohort_id
        if self.request_id is not None:
            out["RequestId"] = self.request_id
        return out


def _merge_lists(
    old: Mapping[str, list[str]], new: Mapping[str, list[str]] | None
) -> dict[str, list[str]]:
    """Pinpoint's attribute merge: given keys replace, an empty list removes the key."""
    merged = {k: list(v) for k, v in old.items()}
    for key, values in (new or {}).items():
        if values:
            merged[key] = list(values)
        else:
            merged.pop(key, None)
    return merged


def apply_update(current: Endpoint, request: Mapping[str, Any], *, now: str) -> Endpoint:
    """Apply a validated Pinpoint ``EndpointRequest`` to ``current`` (partial update).

    Scalars given replace; ``Attributes``, ``User.UserAttributes`` and ``Metrics`` merge by key
    (an empty list removes an attribute); ``Demographic`` and ``Location`` merge by field.
    """
    user = request.get("User") or {}
    metrics = dict(current.metrics)
    metrics.update(request.get("Metrics") or {})
    demographic = dict(current.demographic)
    demographic.update(request.get("Demographic") or {})
    location = dict(current.location)
    location.update(request.get("Location") or {})
    return replace(
        current,
        channel_type=request.get("ChannelType", current.channel_type),
        address=request.get("Address", current.address),
        user_id=user.get("UserId", current.user_id),
        attributes=_merge_lists(current.attributes, request.get("Attributes")),
        user_attributes=_merge_lists(current.user_attributes, user.get("UserAttributes")),
        demographic=demographic,
        location=location,
        metrics=metrics,
        opt_out=request.get("OptOut", current.opt_out),
        endpoint_status=request.get("EndpointStatus", current.endpoint_status),
        effective_date=request.get("EffectiveDate", now),
        request_id=request.get("RequestId", current.request_id),
    )


def new_endpoint(
    app_id: str, endpoint_id: str, request: Mapping[str, Any], *, now: str
) -> Endpoint:
    """An endpoint created from a validated Pinpoint ``EndpointRequest``."""
    blank = Endpoint(
        app_id=app_id,
        id=endpoint_id,
        channel_type=str(request.get("ChannelType", "")),
        address=str(request.get("Address", "")),
        creation_date=now,
    )
    return apply_update(blank, request, now=now)
