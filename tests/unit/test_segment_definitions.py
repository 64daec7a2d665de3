"""Pinpoint's segment JSON is read verbatim, and every bad field is named by its path."""

from __future__ import annotations

from typing import Any

import pytest

from renraku.domain.segments import parse_segment_definition
from renraku.errors import InvalidInput

SEED = {
    "Dimensions": {
        "Demographic": {"Channel": {"DimensionType": "INCLUSIVE", "Values": ["EMAIL"]}},
        "Attributes": {"CallStatus": {"AttributeType": "INCLUSIVE", "Values": ["PENDING"]}},
    }
}

EVERY_DIMENSION: dict[str, Any] = {
    "Attributes": {
        "CallStatus": {"AttributeType": "EXCLUSIVE", "Values": ["COMPLETED", "CANCELED"]},
        "Due": {"AttributeType": "BETWEEN", "Values": ["2026-11-01", "2026-11-30T23:59:59Z"]},
    },
    "Behavior": {"Recency": {"Duration": "DAY_7", "RecencyType": "ACTIVE"}},
    "Demographic": {
        "AppVersion": {"DimensionType": "INCLUSIVE", "Values": ["1.2"]},
        "Channel": {"DimensionType": "EXCLUSIVE", "Values": ["SMS"]},
        "DeviceType": {"DimensionType": "INCLUSIVE", "Values": ["phone"]},
        "Make": {"DimensionType": "INCLUSIVE", "Values": ["Apple"]},
        "Model": {"DimensionType": "INCLUSIVE", "Values": ["iPhone"]},
        "Platform": {"DimensionType": "INCLUSIVE", "Values": ["ios"]},
    },
    "Location": {
        "Country": {"DimensionType": "INCLUSIVE", "Values": ["JP"]},
        "GPSPoint": {
            "Coordinates": {"Latitude": 35.681, "Longitude": 139.767},
            "RangeInKilometers": 30.0,
        },
    },
    "Metrics": {"score": {"ComparisonOperator": "GREATER_THAN_OR_EQUAL", "Value": 3.5}},
    "UserAttributes": {"Plan": {"AttributeType": "CONTAINS", "Values": ["gold"]}},
}


def _problems(obj: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        parse_segment_definition(obj)
    return {p.path: p.message for p in caught.value.problems}


def test_the_seed_dimensions_read_back_to_the_same_json() -> None:
    assert parse_segment_definition(SEED).to_json() == SEED


def test_every_dimension_type_reads_back_to_the_same_json() -> None:
    obj = {"Dimensions": EVERY_DIMENSION}
    assert parse_segment_definition(obj).to_json() == obj


def test_segment_groups_as_boto3_sends_them_read_back_unchanged() -> None:
    obj = {
        "SegmentGroups": {
            "Groups": [
                {
                    "Dimensions": [SEED["Dimensions"], EVERY_DIMENSION],
                    "SourceSegments": [{"Id": "abc", "Version": 2}, {"Id": "def"}],
                    "SourceType": "ANY",
                    "Type": "NONE",
                }
            ],
            "Include": "ANY",
        }
    }
    assert parse_segment_definition(obj).to_json() == obj


def test_a_write_segment_request_with_name_and_tags_is_accepted() -> None:
    defn = parse_segment_definition({"Name": "pending", "tags": {"team": "ops"}, **SEED})
    assert defn.to_json() == SEED


def test_omitted_attribute_and_dimension_types_default_to_inclusive() -> None:
    defn = parse_segment_definition(
        {
            "Dimensions": {
                "Attributes": {"CallStatus": {"Values": ["PENDING"]}},
                "Location": {"Country": {"Values": ["JP"]}},
            }
        }
    )
    assert defn.dimensions is not None
    assert defn.dimensions.attributes["CallStatus"].attribute_type == "INCLUSIVE"
    assert defn.dimensions.country is not None
    assert defn.dimensions.country.dimension_type == "INCLUSIVE"


def test_an_unknown_attribute_type_is_named_by_its_full_path_with_the_accepted_values() -> None:
    problems = _problems(
        {
            "SegmentGroups": {
                "Groups": [
                    {
                        "Dimensions": [
                            SEED["Dimensions"],
                            {"Attributes": {"CallStatus": {"AttributeType": "EQUALS",
                                                           "Values": ["x"]}}},
                        ]
                    }
                ]
            }
        }
    )  # fmt: skip
    path = "SegmentGroups.Groups[0].Dimensions[1].Attributes.CallStatus.AttributeType"
    assert list(problems) == [path]
    assert "'EQUALS'" in problems[path]
    assert "INCLUSIVE, EXCLUSIVE, CONTAINS, BEFORE, AFTER, ON, BETWEEN" in problems[path]


def test_every_problem_is_listed_at_once() -> None:
    problems = _problems(
        {
            "Dimensions": {
                "Attributes": {"A": {"AttributeType": "INCLUSIVE", "Values": []}},
                "Demographic": {"Channel": {"DimensionType": "INCLUSIVE", "Values": ["FAX"]}},
                "Metrics": {"score": {"ComparisonOperator": "ABOVE", "Value": 1}},
                "Colour": {},
            }
        }
    )
    assert set(problems) == {
        "Dimensions.Attributes.A.Values",
        "Dimensions.Demographic.Channel.Values[0]",
        "Dimensions.Metrics.score.ComparisonOperator",
        "Dimensions.Colour",
    }
    assert "empty value list" in problems["Dimensions.Attributes.A.Values"]
    assert "unknown channel 'FAX'" in problems["Dimensions.Demographic.Channel.Values[0]"]
    assert "GREATER_THAN" in problems["Dimensions.Metrics.score.ComparisonOperator"]
    assert "Attributes, Behavior, Demographic" in problems["Dimensions.Colour"]


@pytest.mark.parametrize(
    ("spec", "path", "fragment"),
    [
        ({"AttributeType": "BEFORE", "Values": ["26/11/2026"]}, "Values[0]", "malformed date"),
        ({"AttributeType": "ON", "Values": ["2026-02-30"]}, "Values[0]", "malformed date"),
        ({"AttributeType": "BETWEEN", "Values": ["2026-11-01"]}, "Values", "exactly 2 dates"),
        ({"AttributeType": "AFTER", "Values": ["2026-11-01", "2026-12-01"]}, "Values",
         "exactly 1 date"),
        ({"AttributeType": "BETWEEN", "Values": ["2026-12-01", "2026-11-01"]}, "Values",
         "earlier date first"),
        ({"AttributeType": "INCLUSIVE", "Values": "PENDING"}, "Values", "list of strings"),
        ({"AttributeType": "INCLUSIVE", "Values": [1]}, "Values[0]", "expected a string"),
    ],
)  # fmt: skip
def test_bad_attribute_dimensions_are_rejected_with_their_path(
    spec: dict[str, Any], path: str, fragment: str
) -> None:
    problems = _problems({"Dimensions": {"Attributes": {"Due": spec}}})
    full = f"Dimensions.Attributes.Due.{path}"
    assert full in problems
    assert fragment in problems[full]


@pytest.mark.parametrize(
    ("gps", "path", "fragment"),
    [
        ({"Coordinates": {"Latitude": 95, "Longitude": 0}, "RangeInKilometers": 1},
         "Coordinates.Latitude", "-90..90"),
        ({"Coordinates": {"Latitude": 35, "Longitude": 139}}, "RangeInKilometers", "required"),
        ({"Coordinates": {"Latitude": 35, "Longitude": 139}, "RangeInKilometers": 0},
         "RangeInKilometers", "greater than 0"),
        ({"RangeInKilometers": 5}, "Coordinates", "expected an object"),
    ],
)  # fmt: skip
def test_bad_gps_points_are_rejected_with_their_path(
    gps: dict[str, Any], path: str, fragment: str
) -> None:
    problems = _problems({"Dimensions": {"Location": {"GPSPoint": gps}}})
    full = f"Dimensions.Location.GPSPoint.{path}"
    assert fragment in problems[full]


def test_bad_recency_and_group_settings_are_named() -> None:
    problems = _problems(
        {
            "SegmentGroups": {
                "Groups": [
                    {
                        "Dimensions": [{"Behavior": {"Recency": {"Duration": "DAY_3"}}}],
                        "SourceSegments": [{"Version": 0}],
                        "SourceType": "NONE",
                        "Type": "SOME",
                    }
                ],
                "Include": "EVERY",
            }
        }
    )
    base = "SegmentGroups.Groups[0]"
    assert set(problems) == {
        f"{base}.Dimensions[0].Behavior.Recency.Duration",
        f"{base}.Dimensions[0].Behavior.Recency.RecencyType",
        f"{base}.SourceSegments[0].Id",
        f"{base}.SourceType",
        f"{base}.Type",
        "SegmentGroups.Include",
    }
    assert (
        "HR_24, DAY_7, DAY_14, DAY_30"
        in problems[f"{base}.Dimensions[0].Behavior.Recency.Duration"]
    )


def test_an_empty_group_list_and_a_missing_definition_are_rejected() -> None:
    assert (
        "non-empty list of groups"
        in _problems({"SegmentGroups": {"Groups": []}})["SegmentGroups.Groups"]
    )
    assert "Dimensions or SegmentGroups" in _problems({"Name": "x"})[""]


def test_dimensions_and_groups_together_are_rejected_unless_dimensions_is_empty() -> None:
    groups = {"Groups": [{"Dimensions": [SEED["Dimensions"]]}], "Include": "ALL"}
    assert "not both" in _problems({**SEED, "SegmentGroups": groups})[""]
    defn = parse_segment_definition({"Dimensions": {}, "SegmentGroups": groups})
    assert defn.uses_groups


def test_a_path_prefix_is_put_in_front_of_every_problem() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_segment_definition({"Dimensions": {"Metrics": {"m": {}}}}, path="WriteSegmentRequest")
    assert {p.path for p in caught.value.problems} == {
        "WriteSegmentRequest.Dimensions.Metrics.m.ComparisonOperator",
        "WriteSegmentRequest.Dimensions.Metrics.m.Value",
    }
