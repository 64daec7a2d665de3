"""Read Pinpoint's segment JSON (``Dimensions`` or ``SegmentGroups``) into a SegmentDefinition.

Every problem is collected with its path (``SegmentGroups.Groups[0].Dimensions[1].Attributes.
CallStatus.AttributeType``) and what is accepted there; nothing is half-read. Checks that need the
store (a source segment that does not exist, a circular reference) are made by the service.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from renraku.domain.endpoints import ChannelType
from renraku.domain.segments.dates import definition_date
from renraku.domain.segments.model import (
    ATTRIBUTE_TYPES,
    COMPARISON_OPERATORS,
    DATE_ATTRIBUTE_TYPES,
    DEMOGRAPHIC_DIMENSIONS,
    DIMENSION_TYPES,
    GROUP_TYPES,
    INCLUDE_TYPES,
    RECENCY_DURATIONS,
    RECENCY_TYPES,
    SOURCE_TYPES,
    AttributeDimension,
    Dimensions,
    GPSPoint,
    MetricDimension,
    Recency,
    SegmentDefinition,
    SegmentGroup,
    SetDimension,
    SourceSegment,
)
from renraku.errors import InvalidInput, Problem

# Keys of a WriteSegmentRequest that are not part of the definition (read elsewhere).
_REQUEST_KEYS = ("Name", "tags")
_DIMENSION_KEYS = ("Attributes", "Behavior", "Demographic", "Location", "Metrics", "UserAttributes")
_CHANNELS = tuple(c.value for c in ChannelType)


def _at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _one_of(choices: tuple[str, ...]) -> str:
    return "one of " + ", ".join(choices)


class _Reader:
    """Collects problems while reading; every ``read_*`` returns a value or None."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def obj(self, value: Any, path: str) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.fail(path, f"expected an object, got {_kind(value)}")
            return None
        return value

    def known_keys(self, value: Mapping[str, Any], path: str, keys: tuple[str, ...]) -> None:
        for key in value:
            if key not in keys:
                self.fail(_at(path, str(key)), f"unknown field; accepted: {', '.join(keys)}")

    def choice(
        self, value: Any, path: str, choices: tuple[str, ...], default: str | None = None
    ) -> str | None:
        if value is None and default is not None:
            return default
        if value is None:
            self.fail(path, f"required; {_one_of(choices)}")
            return None
        if not isinstance(value, str) or value not in choices:
            self.fail(path, f"{value!r} is not accepted; {_one_of(choices)}")
            return None
        return value

    def number(self, value: Any, path: str) -> float | None:
        if value is None:
            self.fail(path, "required; a number")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"expected a number, got {_kind(value)}")
            return None
        if not math.isfinite(value):
            self.fail(path, "expected a finite number")
            return None
        return float(value)

    def values(self, value: Any, path: str) -> tuple[str, ...] | None:
        if value is None:
            self.fail(path, "required; a non-empty list of strings")
            return None
        if not isinstance(value, list):
            self.fail(path, f"expected a list of strings, got {_kind(value)}")
            return None
        if not value:
            self.fail(path, "empty value list; give at least one value")
            return None
        ok = True
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(_at(path, i), f"expected a string, got {_kind(item)}")
                ok = False
        return tuple(value) if ok else None

    def name(self, key: Any, path: str) -> bool:
        if not isinstance(key, str) or not key:
            self.fail(path, "a dimension name must be a non-empty string")
            return False
        if '"' in key or "\\" in key or any(ord(c) < 32 for c in key):
            self.fail(path, 'a dimension name cannot contain ", \\ or control characters')
            return False
        return True

    # -- dimensions ---------------------------------------------------------------------------

    def attribute_map(self, value: Any, path: str) -> dict[str, AttributeDimension]:
        out: dict[str, AttributeDimension] = {}
        mapping = self.obj(value, path)
        if mapping is None:
            return out
        for key, spec in mapping.items():
            here = _at(path, str(key))
            if not self.name(key, here):
                continue
            dim = self.attribute(spec, here)
            if dim is not None:
                out[key] = dim
        return out

    def attribute(self, value: Any, path: str) -> AttributeDimension | None:
        spec = self.obj(value, path)
        if spec is None:
            return None
        self.known_keys(spec, path, ("AttributeType", "Values"))
        kind = self.choice(
            spec.get("AttributeType"), _at(path, "AttributeType"), ATTRIBUTE_TYPES, "INCLUSIVE"
        )
        values = self.values(spec.get("Values"), _at(path, "Values"))
        if kind is None or values is None:
            return None
        if kind in DATE_ATTRIBUTE_TYPES:
            wanted = 2 if kind == "BETWEEN" else 1
            if len(values) != wanted:
                self.fail(
                    _at(path, "Values"),
                    f"{kind} takes exactly {wanted} date{'s' if wanted > 1 else ''}, "
                    f"got {len(values)}",
                )
                return None
            dates = []
            for i, item in enumerate(values):
                day = definition_date(item)
                if day is None:
                    self.fail(
                        _at(_at(path, "Values"), i),
                        f"malformed date {item!r}; use ISO-8601 (2026-11-26 or "
                        "2026-11-26T09:00:00Z)",
                    )
                    return None
                dates.append(day)
            if kind == "BETWEEN" and dates[0] > dates[1]:
                self.fail(_at(path, "Values"), "BETWEEN needs the earlier date first")
                return None
        return AttributeDimension(kind, values)

    def set_dimension(
        self, value: Any, path: str, allowed: tuple[str, ...] | None = None
    ) -> SetDimension | None:
        spec = self.obj(value, path)
        if spec is None:
            return None
        self.known_keys(spec, path, ("DimensionType", "Values"))
        kind = self.choice(
            spec.get("DimensionType"), _at(path, "DimensionType"), DIMENSION_TYPES, "INCLUSIVE"
        )
        values = self.values(spec.get("Values"), _at(path, "Values"))
        if values is not None and allowed is not None:
            for i, item in enumerate(values):
                if item not in allowed:
                    self.fail(
                        _at(_at(path, "Values"), i),
                        f"unknown channel {item!r}; {_one_of(allowed)}",
                    )
                    values = None
        if kind is None or values is None:
            return None
        return SetDimension(kind, values)

    def gps(self, value: Any, path: str) -> GPSPoint | None:
        spec = self.obj(value, path)
        if spec is None:
            return None
        self.known_keys(spec, path, ("Coordinates", "RangeInKilometers"))
        coords = self.obj(spec.get("Coordinates"), _at(path, "Coordinates"))
        lat = lon = None
        if coords is not None:
            self.known_keys(coords, _at(path, "Coordinates"), ("Latitude", "Longitude"))
            lat = self.number(coords.get("Latitude"), _at(_at(path, "Coordinates"), "Latitude"))
            lon = self.number(coords.get("Longitude"), _at(_at(path, "Coordinates"), "Longitude"))
            if lat is not None and not -90 <= lat <= 90:
                self.fail(_at(_at(path, "Coordinates"), "Latitude"), "must be within -90..90")
                lat = None
            if lon is not None and not -180 <= lon <= 180:
                self.fail(_at(_at(path, "Coordinates"), "Longitude"), "must be within -180..180")
                lon = None
        rng = self.number(spec.get("RangeInKilometers"), _at(path, "RangeInKilometers"))
        if rng is not None and rng <= 0:
            self.fail(_at(path, "RangeInKilometers"), "must be greater than 0")
            rng = None
        if lat is None or lon is None or rng is None:
            return None
        return GPSPoint(lat, lon, rng)

    def dimensions(self, value: Any, path: str) -> Dimensions | None:
        spec = self.obj(value, path)
        if spec is None:
            return None
        before = len(self.problems)
        self.known_keys(spec, path, _DIMENSION_KEYS)
        attributes: dict[str, AttributeDimension] = {}
        user_attributes: dict[str, AttributeDimension] = {}
        demographic: dict[str, SetDimension] = {}
        metrics: dict[str, MetricDimension] = {}
        country = gps = recency = None
        if spec.get("Attributes") is not None:
            attributes = self.attribute_map(spec["Attributes"], _at(path, "Attributes"))
        if spec.get("UserAttributes") is not None:
            user_attributes = self.attribute_map(
                spec["UserAttributes"], _at(path, "UserAttributes")
            )
        if spec.get("Behavior") is not None:
            recency = self.recency(spec["Behavior"], _at(path, "Behavior"))
        if spec.get("Demographic") is not None:
            here = _at(path, "Demographic")
            demo = self.obj(spec["Demographic"], here)
            if demo is not None:
                self.known_keys(demo, here, DEMOGRAPHIC_DIMENSIONS)
                for key in DEMOGRAPHIC_DIMENSIONS:
                    if demo.get(key) is not None:
                        allowed = _CHANNELS if key == "Channel" else None
                        dim = self.set_dimension(demo[key], _at(here, key), allowed)
                        if dim is not None:
                            demographic[key] = dim
        if spec.get("Location") is not None:
            here = _at(path, "Location")
            loc = self.obj(spec["Location"], here)
            if loc is not None:
                self.known_keys(loc, here, ("Country", "GPSPoint"))
                if loc.get("Country") is not None:
                    country = self.set_dimension(loc["Country"], _at(here, "Country"))
                if loc.get("GPSPoint") is not None:
                    gps = self.gps(loc["GPSPoint"], _at(here, "GPSPoint"))
        if spec.get("Metrics") is not None:
            here = _at(path, "Metrics")
            mapping = self.obj(spec["Metrics"], here)
            for key, metric in (mapping or {}).items():
                where = _at(here, str(key))
                if not self.name(key, where):
                    continue
                m = self.obj(metric, where)
                if m is None:
                    continue
                self.known_keys(m, where, ("ComparisonOperator", "Value"))
                op = self.choice(
                    m.get("ComparisonOperator"),
                    _at(where, "ComparisonOperator"),
                    COMPARISON_OPERATORS,
                )
                number = self.number(m.get("Value"), _at(where, "Value"))
                if op is not None and number is not None:
                    metrics[key] = MetricDimension(op, number)
        if len(self.problems) > before:
            return None
        return Dimensions(
            attributes=attributes,
            user_attributes=user_attributes,
            demographic=demographic,
            country=country,
            gps=gps,
            metrics=metrics,
            recency=recency,
        )

    def recency(self, value: Any, path: str) -> Recency | None:
        behavior = self.obj(value, path)
        if behavior is None:
            return None
        self.known_keys(behavior, path, ("Recency",))
        here = _at(path, "Recency")
        spec = self.obj(behavior.get("Recency"), here)
        if spec is None:
            return None
        self.known_keys(spec, here, ("Duration", "RecencyType"))
        duration = self.choice(
            spec.get("Duration"), _at(here, "Duration"), tuple(RECENCY_DURATIONS)
        )
        kind = self.choice(spec.get("RecencyType"), _at(here, "RecencyType"), RECENCY_TYPES)
        if duration is None or kind is None:
            return None
        return Recency(duration, kind)

    # -- groups -------------------------------------------------------------------------------

    def groups(self, value: Any, path: str) -> SegmentDefinition | None:
        spec = self.obj(value, path)
        if spec is None:
            return None
        self.known_keys(spec, path, ("Groups", "Include"))
        include = self.choice(spec.get("Include"), _at(path, "Include"), INCLUDE_TYPES, "ALL")
        raw = spec.get("Groups")
        here = _at(path, "Groups")
        if not isinstance(raw, list) or not raw:
            self.fail(here, "required; a non-empty list of groups")
            return None
        groups = [self.group(g, _at(here, i)) for i, g in enumerate(raw)]
        if include is None or any(g is None for g in groups):
            return None
        return SegmentDefinition(groups=tuple(g for g in groups if g is not None), include=include)

    def group(self, value: Any, path: str) -> SegmentGroup | None:
        spec = self.obj(value, path)
        if spec is None:
            return None
        before = len(self.problems)
        self.known_keys(spec, path, ("Dimensions", "SourceSegments", "SourceType", "Type"))
        source_type = self.choice(
            spec.get("SourceType"), _at(path, "SourceType"), SOURCE_TYPES, "ALL"
        )
        group_type = self.choice(spec.get("Type"), _at(path, "Type"), GROUP_TYPES, "ALL")
        dims: list[Dimensions] = []
        raw_dims = spec.get("Dimensions")
        if raw_dims is not None:
            if not isinstance(raw_dims, list):
                self.fail(_at(path, "Dimensions"), f"expected a list, got {_kind(raw_dims)}")
            else:
                for i, d in enumerate(raw_dims):
                    dim = self.dimensions(d, _at(_at(path, "Dimensions"), i))
                    if dim is not None:
                        dims.append(dim)
        sources: list[SourceSegment] = []
        raw_sources = spec.get("SourceSegments")
        if raw_sources is not None:
            here = _at(path, "SourceSegments")
            if not isinstance(raw_sources, list):
                self.fail(here, f"expected a list, got {_kind(raw_sources)}")
            else:
                for i, s in enumerate(raw_sources):
                    src = self.source(s, _at(here, i))
                    if src is not None:
                        sources.append(src)
        if len(self.problems) > before or source_type is None or group_type is None:
            return None
        return SegmentGroup(tuple(dims), tuple(sources), source_type, group_type)

    def source(self, value: Any, path: str) -> SourceSegment | None:
        spec = self.obj(value, path)
        if spec is None:
            return None
        self.known_keys(spec, path, ("Id", "Version"))
        seg_id = spec.get("Id")
        if not isinstance(seg_id, str) or not seg_id:
            self.fail(_at(path, "Id"), "required; the id of a segment")
            return None
        version = spec.get("Version")
        if version is not None and (
            isinstance(version, bool) or not isinstance(version, int) or version < 1
        ):
            self.fail(_at(path, "Version"), f"expected a version number >= 1, got {version!r}")
            return None
        return SourceSegment(seg_id, version)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def parse_segment_definition(obj: Mapping[str, Any], *, path: str = "") -> SegmentDefinition:
    """The definition in ``obj`` (``{"Dimensions": ...}`` or ``{"SegmentGroups": ...}``, as inside
    Pinpoint's WriteSegmentRequest; ``Name`` and ``tags`` are allowed and ignored here).

    Raises InvalidInput listing every problem, each with its path below ``path``.
    """
    reader = _Reader()
    top = reader.obj(obj, path or "WriteSegmentRequest")
    if top is None:
        raise InvalidInput(reader.problems, subject="segment definition")
    reader.known_keys(top, path, ("Dimensions", "SegmentGroups", *_REQUEST_KEYS))
    dims = top.get("Dimensions")
    groups = top.get("SegmentGroups")
    result: SegmentDefinition | None = None
    if dims is not None and groups is not None and dims != {}:
        reader.fail(path, "give Dimensions or SegmentGroups, not both")
    elif groups is not None:
        result = reader.groups(groups, _at(path, "SegmentGroups"))
    elif dims is not None:
        block = reader.dimensions(dims, _at(path, "Dimensions"))
        result = None if block is None else SegmentDefinition(dimensions=block)
    else:
        reader.fail(path, "a segment definition needs Dimensions or SegmentGroups")
    if reader.problems or result is None:
        raise InvalidInput(reader.problems, subject="segment definition")
    return result
