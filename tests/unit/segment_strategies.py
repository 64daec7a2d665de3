"""Hypothesis strategies for segment tests: endpoints and definitions over a small vocabulary, so
that random definitions select some endpoints and miss others (shared by unit and integration)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from renraku.domain.endpoints import Endpoint
from renraku.domain.segments import parse_segment_definition
from renraku.domain.segments.model import COMPARISON_OPERATORS, RECENCY_DURATIONS, SegmentDefinition
from renraku.domain.timefmt import iso

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
ATTRIBUTE_NAMES = ("CallStatus", "Tag")
VALUES = ("PENDING", "Pending", "COMPLETED", "CANCELED", "a b", "x,y", "日本")
DATE_VALUES = ("2026-11-20", "2026-11-26T10:00:00Z", "2026-12-01 09:00", "x2026-11-20", "2026-11")
CHANNELS = ("EMAIL", "SMS", "VOICE", "CUSTOM")
PLATFORMS = ("ios", "android")
COUNTRIES = ("JP", "US")
SOURCES = ("A", "B")  # A: an imported segment, B: a dimensional one (see the property tests)

attr_values = st.lists(st.sampled_from(VALUES + DATE_VALUES), min_size=1, max_size=3, unique=True)
attributes = st.dictionaries(st.sampled_from(ATTRIBUTE_NAMES), attr_values, max_size=2)
coordinate = st.tuples(
    st.floats(30, 40, allow_nan=False).map(lambda x: round(x, 4)),
    st.floats(130, 142, allow_nan=False).map(lambda x: round(x, 4)),
)


@st.composite
def endpoints(draw: st.DrawFn, app_id: str = "app", index: int = 0) -> Endpoint:
    location: dict[str, Any] = {}
    if draw(st.booleans()):
        location["Country"] = draw(st.sampled_from(COUNTRIES))
    if draw(st.booleans()):
        lat, lon = draw(coordinate)
        location.update(Latitude=lat, Longitude=lon)
    demographic = {}
    if draw(st.booleans()):
        demographic["Platform"] = draw(st.sampled_from(PLATFORMS))
    metrics = {}
    if draw(st.booleans()):
        metrics["score"] = float(draw(st.integers(0, 10)))
    hours = draw(st.none() | st.sampled_from([0, 1, 23, 24, 25, 24 * 7, 24 * 14 + 1, 24 * 40]))
    return Endpoint(
        app_id=app_id,
        id=f"ep{index}",
        channel_type=draw(st.sampled_from(CHANNELS)),
        address=f"addr{index}",
        user_id=draw(st.sampled_from(["u1", "u2", "u3", None])),
        attributes=draw(attributes),
        user_attributes=draw(st.dictionaries(st.just("Plan"), attr_values, max_size=1)),
        demographic=demographic,
        location=location,
        metrics=metrics,
        effective_date=None if hours is None else iso(NOW - timedelta(hours=hours)),
        creation_date=iso(NOW - timedelta(days=100)),
    )


@st.composite
def endpoint_lists(draw: st.DrawFn, app_id: str = "app") -> list[Endpoint]:
    n = draw(st.integers(3, 10))
    return [draw(endpoints(app_id, i)) for i in range(n)]


@st.composite
def attribute_dimension(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(
        ("INCLUSIVE", "EXCLUSIVE", "CONTAINS", "BEFORE", "AFTER", "ON", "BETWEEN")))  # fmt: skip
    if kind in ("INCLUSIVE", "EXCLUSIVE"):
        values = draw(st.lists(st.sampled_from(VALUES + DATE_VALUES[:3]), min_size=1, max_size=2,
                               unique=True))  # fmt: skip
    elif kind == "CONTAINS":
        values = draw(st.lists(st.sampled_from(("PEN", "ing", "a", ",", "2026")), min_size=1,
                               max_size=2, unique=True))  # fmt: skip
    else:
        dates = ("2026-11-20", "2026-11-26T23:30:00+09:00", "2026-12-01", "2026-11-01")
        picked = draw(st.lists(st.sampled_from(dates), min_size=2, max_size=2, unique=True))
        days = sorted(picked, key=lambda d: d[:10])
        values = days if kind == "BETWEEN" else days[:1]
    return {"AttributeType": kind, "Values": values}


def _set(values: tuple[str, ...]) -> Any:
    return st.fixed_dictionaries({
        "DimensionType": st.sampled_from(("INCLUSIVE", "EXCLUSIVE")),
        "Values": st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True),
    })  # fmt: skip


@st.composite
def dimensions(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in draw(st.lists(st.sampled_from(
        ("attr", "user", "channel", "platform", "country", "gps", "metric", "recency")),
        min_size=1, max_size=3, unique=True)):  # fmt: skip
        if kind == "attr":
            out["Attributes"] = {
                draw(st.sampled_from(ATTRIBUTE_NAMES)): draw(attribute_dimension())
            }
        elif kind == "user":
            out["UserAttributes"] = {"Plan": draw(attribute_dimension())}
        elif kind == "channel":
            out.setdefault("Demographic", {})["Channel"] = draw(_set(CHANNELS))
        elif kind == "platform":
            out.setdefault("Demographic", {})["Platform"] = draw(_set(PLATFORMS))
        elif kind == "country":
            out.setdefault("Location", {})["Country"] = draw(_set(COUNTRIES))
        elif kind == "gps":
            lat, lon = draw(coordinate)
            out.setdefault("Location", {})["GPSPoint"] = {
                "Coordinates": {"Latitude": lat, "Longitude": lon},
                "RangeInKilometers": float(draw(st.sampled_from((5, 100, 300, 800)))),
            }
        elif kind == "metric":
            out["Metrics"] = {"score": {
                "ComparisonOperator": draw(st.sampled_from(COMPARISON_OPERATORS)),
                "Value": draw(st.sampled_from((0.0, 3.0, 5.5, 10.0)))}}  # fmt: skip
        else:
            out["Behavior"] = {"Recency": {
                "Duration": draw(st.sampled_from(tuple(RECENCY_DURATIONS))),
                "RecencyType": draw(st.sampled_from(("ACTIVE", "INACTIVE")))}}  # fmt: skip
    return out


@st.composite
def groups(draw: st.DrawFn, sources: tuple[str, ...] = SOURCES) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 3))):
        group: dict[str, Any] = {
            "SourceType": draw(st.sampled_from(("ALL", "ANY"))),
            "Type": draw(st.sampled_from(("ALL", "ANY", "NONE"))),
        }
        blocks = draw(st.lists(dimensions(), max_size=2))
        if blocks:
            group["Dimensions"] = blocks
        named = draw(st.lists(st.sampled_from(sources), max_size=2, unique=True)) if sources else []
        if named:
            group["SourceSegments"] = [{"Id": s} for s in named]
        out.append(group)
    return {"Groups": out, "Include": draw(st.sampled_from(("ALL", "ANY", "NONE")))}


def definitions(sources: tuple[str, ...] = SOURCES) -> st.SearchStrategy[SegmentDefinition]:
    plain = dimensions().map(lambda d: {"Dimensions": d})
    grouped = groups(sources).map(lambda g: {"SegmentGroups": g})
    return st.one_of(plain, grouped).map(parse_segment_definition)
