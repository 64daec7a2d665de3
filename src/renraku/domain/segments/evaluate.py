"""The pure evaluator: does one endpoint belong to a segment? Same meaning as the SQL compiler.

Attribute values compare case-sensitively (as Pinpoint does): ``PENDING`` is not ``Pending``.
An endpoint's attribute holds a list of values; INCLUSIVE matches when any of them is listed,
EXCLUSIVE when none is (so an endpoint without the attribute is EXCLUSIVE of every value), CONTAINS
when any of them contains any listed value as a substring. Demographic, Country and Channel compare
the endpoint's one value the same way. A missing metric or location never matches. Recency reads the
endpoint's EffectiveDate as its last activity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from renraku.domain.endpoints import Endpoint
from renraku.domain.segments.dates import definition_date, endpoint_date
from renraku.domain.segments.model import (
    EARTH_RADIUS_KM,
    AttributeDimension,
    Dimensions,
    GPSPoint,
    MetricDimension,
    Recency,
    SegmentDefinition,
    SegmentGroup,
    SetDimension,
)
from renraku.domain.timefmt import iso

Members = Callable[[str], bool]
Sources = Callable[[str], SegmentDefinition | None]

# Degrees to radians as one literal, so SQL and Python multiply by the very same double.
DEG = 0.017453292519943295
_MAX_DEPTH = 32


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance; the SQL compiler writes the same arithmetic in the same order."""
    s1 = math.sin((lat2 - lat1) * DEG / 2)
    s2 = math.sin((lon2 - lon1) * DEG / 2)
    h = s1 * s1 + math.cos(lat1 * DEG) * math.cos(lat2 * DEG) * s2 * s2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


def recency_cutoff(recency: Recency, now: datetime) -> str:
    """The EffectiveDate (ISO text) at or after which an endpoint counts as active."""
    return iso(now - timedelta(hours=recency.hours))


def attribute_matches(dim: AttributeDimension, values: Sequence[str]) -> bool:
    kind = dim.attribute_type
    if kind == "INCLUSIVE":
        return any(v in dim.values for v in values)
    if kind == "EXCLUSIVE":
        return not any(v in dim.values for v in values)
    if kind == "CONTAINS":
        return any(part in v for v in values for part in dim.values)
    days = [d for d in (endpoint_date(v) for v in values) if d is not None]
    bounds = [definition_date(v) or "" for v in dim.values]
    if kind == "BEFORE":
        return any(d < bounds[0] for d in days)
    if kind == "AFTER":
        return any(d > bounds[0] for d in days)
    if kind == "ON":
        return any(d == bounds[0] for d in days)
    return any(bounds[0] <= d <= bounds[1] for d in days)  # BETWEEN


def set_matches(dim: SetDimension, value: str | None) -> bool:
    listed = value is not None and value in dim.values
    return listed if dim.dimension_type == "INCLUSIVE" else not listed


def metric_matches(dim: MetricDimension, value: float | None) -> bool:
    if value is None:
        return False
    op = dim.operator
    if op == "GREATER_THAN":
        return value > dim.value
    if op == "LESS_THAN":
        return value < dim.value
    if op == "GREATER_THAN_OR_EQUAL":
        return value >= dim.value
    if op == "LESS_THAN_OR_EQUAL":
        return value <= dim.value
    return value == dim.value


def _float(value: object) -> float | None:
    # The same conversion the endpoint store applies to Location.Latitude/Longitude columns.
    try:
        return None if value is None or value == "" else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def gps_matches(dim: GPSPoint, location: Mapping[str, object]) -> bool:
    lat, lon = _float(location.get("Latitude")), _float(location.get("Longitude"))
    if lat is None or lon is None:
        return False
    return great_circle_km(dim.latitude, dim.longitude, lat, lon) <= dim.range_km


def recency_matches(dim: Recency, effective_date: str | None, now: datetime) -> bool:
    active = effective_date is not None and effective_date >= recency_cutoff(dim, now)
    return active if dim.recency_type == "ACTIVE" else not active


def dimensions_match(dims: Dimensions, ep: Endpoint, now: datetime) -> bool:
    """True when every dimension in ``dims`` holds for ``ep`` (an empty block always holds)."""
    for name, attr in dims.attributes.items():
        if not attribute_matches(attr, ep.attributes.get(name) or ()):
            return False
    for name, attr in dims.user_attributes.items():
        if not attribute_matches(attr, ep.user_attributes.get(name) or ()):
            return False
    for field, dim in dims.demographic.items():
        value = ep.channel_type if field == "Channel" else ep.demographic.get(field)
        if not set_matches(dim, value):
            return False
    if dims.country is not None:
        country = ep.location.get("Country")
        if not set_matches(dims.country, country if isinstance(country, str) else None):
            return False
    if dims.gps is not None and not gps_matches(dims.gps, ep.location):
        return False
    for name, metric in dims.metrics.items():
        if not metric_matches(metric, _float(ep.metrics.get(name))):
            return False
    return dims.recency is None or recency_matches(dims.recency, ep.effective_date, now)


def _combine(kind: str, results: list[bool]) -> bool:
    if kind == "ALL":
        return all(results)
    if kind == "ANY":
        return any(results)
    return not any(results)  # NONE


def endpoint_matches(
    defn: SegmentDefinition,
    endpoint: Endpoint,
    *,
    now: datetime,
    members: Members | None = None,
    sources: Sources | None = None,
    _depth: int = 0,
) -> bool:
    """Whether ``endpoint`` is in the segment ``defn`` at ``now``.

    A source segment is resolved with ``sources(id)`` (a dimensional segment's definition, or None
    for an imported one) and, when imported, ``members(id)`` answers whether this endpoint is one of
    its members. A definition naming source segments needs the callables it uses.
    """
    if defn.dimensions is not None:
        return dimensions_match(defn.dimensions, endpoint, now)
    if _depth > _MAX_DEPTH:
        raise ValueError("source segments nest too deeply (a circular reference?)")

    def source_matches(seg_id: str) -> bool:
        nested = sources(seg_id) if sources is not None else None
        if nested is not None:
            return endpoint_matches(
                nested, endpoint, now=now, members=members, sources=sources, _depth=_depth + 1
            )
        if members is None:
            raise ValueError(f"segment {seg_id!r} is a source; pass members= to evaluate it")
        return members(seg_id)

    def group_matches(group: SegmentGroup) -> bool:
        if group.sources:
            found = [source_matches(s.id) for s in group.sources]
            if not _combine(group.source_type, found):
                return False
        if not group.dimensions:
            return True
        return _combine(
            group.group_type, [dimensions_match(d, endpoint, now) for d in group.dimensions]
        )

    return _combine(defn.include, [group_matches(g) for g in defn.groups])
