"""The segment definition: Pinpoint's ``SegmentDimensions`` and ``SegmentGroups`` as frozen values.

A definition is either one ``Dimensions`` block (every dimension in it must hold) or
``SegmentGroups`` (groups combined by ``Include``; each group narrows its source segments, or every
endpoint when it names none, by its dimension blocks combined by ``Type``). ``to_json`` gives back
Pinpoint's JSON exactly as ``parse_segment_definition`` accepts it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

ATTRIBUTE_TYPES = ("INCLUSIVE", "EXCLUSIVE", "CONTAINS", "BEFORE", "AFTER", "ON", "BETWEEN")
DATE_ATTRIBUTE_TYPES = frozenset({"BEFORE", "AFTER", "ON", "BETWEEN"})
DIMENSION_TYPES = ("INCLUSIVE", "EXCLUSIVE")
# Pinpoint's SegmentDemographics fields; Channel is the endpoint's ChannelType.
DEMOGRAPHIC_DIMENSIONS = ("AppVersion", "Channel", "DeviceType", "Make", "Model", "Platform")
COMPARISON_OPERATORS = (
    "GREATER_THAN",
    "LESS_THAN",
    "GREATER_THAN_OR_EQUAL",
    "LESS_THAN_OR_EQUAL",
    "EQUAL",
)
RECENCY_DURATIONS = {"HR_24": 24, "DAY_7": 7 * 24, "DAY_14": 14 * 24, "DAY_30": 30 * 24}
RECENCY_TYPES = ("ACTIVE", "INACTIVE")
GROUP_TYPES = ("ALL", "ANY", "NONE")
SOURCE_TYPES = ("ALL", "ANY")
INCLUDE_TYPES = ("ALL", "ANY", "NONE")
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class AttributeDimension:
    """``{"AttributeType": ..., "Values": [...]}`` over an endpoint's (or user's) attribute."""

    attribute_type: str
    values: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"AttributeType": self.attribute_type, "Values": list(self.values)}


@dataclass(frozen=True, slots=True)
class SetDimension:
    """``{"DimensionType": INCLUSIVE|EXCLUSIVE, "Values": [...]}`` over one scalar field."""

    dimension_type: str
    values: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"DimensionType": self.dimension_type, "Values": list(self.values)}


@dataclass(frozen=True, slots=True)
class GPSPoint:
    """Endpoints within ``range_km`` (great-circle distance) of a point."""

    latitude: float
    longitude: float
    range_km: float

    def to_json(self) -> dict[str, Any]:
        return {
            "Coordinates": {"Latitude": self.latitude, "Longitude": self.longitude},
            "RangeInKilometers": self.range_km,
        }


@dataclass(frozen=True, slots=True)
class MetricDimension:
    """``{"ComparisonOperator": ..., "Value": ...}`` over one of the endpoint's metrics."""

    operator: str
    value: float

    def to_json(self) -> dict[str, Any]:
        return {"ComparisonOperator": self.operator, "Value": self.value}


@dataclass(frozen=True, slots=True)
class Recency:
    """Active (or inactive) within ``duration``, judged from the endpoint's EffectiveDate."""

    duration: str
    recency_type: str

    @property
    def hours(self) -> int:
        return RECENCY_DURATIONS[self.duration]

    def to_json(self) -> dict[str, Any]:
        return {"Recency": {"Duration": self.duration, "RecencyType": self.recency_type}}


@dataclass(frozen=True, slots=True)
class Dimensions:
    """One ``SegmentDimensions`` object: every dimension present must hold."""

    attributes: Mapping[str, AttributeDimension] = field(default_factory=dict)
    user_attributes: Mapping[str, AttributeDimension] = field(default_factory=dict)
    demographic: Mapping[str, SetDimension] = field(default_factory=dict)
    country: SetDimension | None = None
    gps: GPSPoint | None = None
    metrics: Mapping[str, MetricDimension] = field(default_factory=dict)
    recency: Recency | None = None

    def is_empty(self) -> bool:
        return not (
            self.attributes
            or self.user_attributes
            or self.demographic
            or self.country
            or self.gps
            or self.metrics
            or self.recency
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.attributes:
            out["Attributes"] = {k: v.to_json() for k, v in self.attributes.items()}
        if self.recency is not None:
            out["Behavior"] = self.recency.to_json()
        if self.demographic:
            out["Demographic"] = {k: v.to_json() for k, v in self.demographic.items()}
        location: dict[str, Any] = {}
        if self.country is not None:
            location["Country"] = self.country.to_json()
        if self.gps is not None:
            location["GPSPoint"] = self.gps.to_json()
        if location:
            out["Location"] = location
        if self.metrics:
            out["Metrics"] = {k: v.to_json() for k, v in self.metrics.items()}
        if self.user_attributes:
            out["UserAttributes"] = {k: v.to_json() for k, v in self.user_attributes.items()}
        return out


@dataclass(frozen=True, slots=True)
class SourceSegment:
    """A segment a group starts from; ``version`` pins one version (else the current one)."""

    id: str
    version: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Id": self.id}
        if self.version is not None:
            out["Version"] = self.version
        return out


@dataclass(frozen=True, slots=True)
class SegmentGroup:
    """Sources combined by ``source_type`` (none = every endpoint), narrowed by dimension blocks
    combined by ``group_type`` (ALL: all blocks hold; ANY: one does; NONE: none does)."""

    dimensions: tuple[Dimensions, ...] = ()
    sources: tuple[SourceSegment, ...] = ()
    source_type: str = "ALL"
    group_type: str = "ALL"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.dimensions:
            out["Dimensions"] = [d.to_json() for d in self.dimensions]
        if self.sources:
            out["SourceSegments"] = [s.to_json() for s in self.sources]
        out["SourceType"] = self.source_type
        out["Type"] = self.group_type
        return out


@dataclass(frozen=True, slots=True)
class SegmentDefinition:
    """A dimensional segment's definition: ``dimensions`` or ``groups`` (exactly one is used)."""

    dimensions: Dimensions | None = None
    groups: tuple[SegmentGroup, ...] = ()
    include: str = "ALL"

    @property
    def uses_groups(self) -> bool:
        return self.dimensions is None

    def source_ids(self) -> Iterator[str]:
        """Ids of the segments this definition names directly, in order."""
        for group in self.groups:
            for source in group.sources:
                yield source.id

    def to_json(self) -> dict[str, Any]:
        """``{"Dimensions": {...}}`` or ``{"SegmentGroups": {...}}``, as Pinpoint writes them."""
        if self.dimensions is not None:
            return {"Dimensions": self.dimensions.to_json()}
        return {
            "SegmentGroups": {
                "Groups": [g.to_json() for g in self.groups],
                "Include": self.include,
            }
        }
