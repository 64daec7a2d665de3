"""Segments in the pure core: Pinpoint's definition, its validation, the one-line filter and the
Python evaluator (which gives the same answer as the SQL compiler in ``renraku.store.segment_sql``).
"""

from __future__ import annotations

from renraku.domain.segments.evaluate import Members, Sources, endpoint_matches, great_circle_km
from renraku.domain.segments.filter import format_filter, parse_filter
from renraku.domain.segments.model import (
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
from renraku.domain.segments.parse import parse_segment_definition

__all__ = [
    "AttributeDimension",
    "Dimensions",
    "GPSPoint",
    "Members",
    "MetricDimension",
    "Recency",
    "SegmentDefinition",
    "SegmentGroup",
    "SetDimension",
    "SourceSegment",
    "Sources",
    "endpoint_matches",
    "format_filter",
    "great_circle_km",
    "parse_filter",
    "parse_segment_definition",
]
