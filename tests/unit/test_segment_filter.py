"""The one-line filter states the same definitions as Pinpoint's JSON, and both forms round-trip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from segment_strategies import NOW, definitions, endpoint_lists

from renraku.domain.endpoints import Endpoint
from renraku.domain.segments import (
    SegmentDefinition,
    endpoint_matches,
    format_filter,
    parse_filter,
    parse_segment_definition,
)
from renraku.errors import InvalidInput


def test_the_seed_filter_is_the_seed_dimensions_json() -> None:
    defn = parse_filter("ChannelType = EMAIL and Attributes.CallStatus = PENDING")
    assert defn.to_json() == {
        "Dimensions": {
            "Attributes": {"CallStatus": {"AttributeType": "INCLUSIVE", "Values": ["PENDING"]}},
            "Demographic": {"Channel": {"DimensionType": "INCLUSIVE", "Values": ["EMAIL"]}},
        }
    }
    assert format_filter(defn) == "ChannelType = EMAIL and Attributes.CallStatus = PENDING"


@pytest.mark.parametrize(
    "text",
    [
        "ChannelType in (SMS, VOICE) and Location.Country != JP",
        "Demographic.Make = Apple and Demographic.Platform not in (ios, android)",
        'Attributes.CallStatus contains (PEN, "a b") and UserAttributes.Plan before 2026-11-26',
        "Attributes.Due between 2026-11-01 and 2026-11-30T10:00:00Z",
        "Attributes.Due after 2026-11-01 and UserAttributes.Joined on 2026-01-02",
        "Location.GPSPoint within 12.5 km of (35.681, 139.767) and Metrics.score >= 3",
        "Metrics.score < -1.5 and Behavior.Recency inactive within DAY_30",
        'Attributes."Call Status" = "and" and Attributes.x = "日本"',
        "true",
        "[segment abc and ChannelType = EMAIL] or [Metrics.score > 1]",
        "[segment any(abc, def@3) and (ChannelType = SMS or Metrics.score = 2)]",
        "not ([segment abc] or [Attributes.CallStatus != PENDING])",
        "[(ChannelType = SMS and Attributes.A = 1) and (Attributes.A = 2)] and [true]",
        "[not (ChannelType = SMS or Demographic.Make = Apple)]",
    ],
)
def test_printed_filters_read_back_to_the_same_definition_and_text(text: str) -> None:
    defn = parse_filter(text)
    printed = format_filter(defn)
    assert printed == text
    assert parse_filter(printed) == defn
    assert parse_segment_definition(defn.to_json()) == defn


def test_keywords_and_symbols_in_values_are_quoted_when_printed() -> None:
    defn = parse_segment_definition(
        {"Dimensions": {"Attributes": {"Note": {"Values": ["or", "a=b", 'say "hi"', ""]}}}}
    )
    printed = format_filter(defn)
    assert printed == 'Attributes.Note in ("or", "a=b", "say \\"hi\\"", "")'
    assert parse_filter(printed) == defn


def test_values_keep_their_case_while_keywords_do_not_care() -> None:
    defn = parse_filter("ChannelType = EMAIL AND Attributes.CallStatus = Pending")
    assert defn.dimensions is not None
    assert defn.dimensions.attributes["CallStatus"].values == ("Pending",)


def test_a_repeated_dimension_becomes_groups_with_the_same_meaning() -> None:
    defn = parse_filter("Attributes.X != a and Attributes.X != b")
    assert defn.uses_groups
    assert format_filter(defn) == "[(Attributes.X != a) and (Attributes.X != b)]"


def test_an_unbracketed_or_is_one_group_of_any() -> None:
    defn = parse_filter("ChannelType = EMAIL or Attributes.CallStatus = PENDING")
    assert defn.to_json()["SegmentGroups"]["Groups"][0]["Type"] == "ANY"
    assert defn.to_json()["SegmentGroups"]["Include"] == "ALL"


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("ChannelType = FAX", 1, "unknown channel 'FAX'"),
        ("Colour = red", 1, "unknown dimension 'Colour'"),
        ("ChannelType ~ EMAIL", 13, "expected =, !=, in or not in"),
        ("ChannelType = 'EMAIL", 15, "unexpected character"),
        ("ChannelType = EMAIL and", 24, "expected a condition"),
        ("Attributes.Due before 2026-13-01", 1, "malformed date"),
        ("Attributes.X in ()", 18, "expected a value"),
        ("Metrics.score > many", 17, "expected a number"),
        ("Behavior.Recency active within DAY_3", 1, "DAY_7"),
        ("[ChannelType = SMS] and ChannelType = EMAIL", 2, "join [groups]"),
        ("(ChannelType = SMS", 19, "expected ')'"),
        ("", 1, "empty filter"),
    ],
)
def test_bad_filters_name_the_column_and_what_is_accepted(
    text: str, column: int, fragment: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_filter(text)
    (problem,) = caught.value.problems
    assert problem.path == f"filter:{column}"
    assert fragment in problem.message


def _same_answers(a: SegmentDefinition, b: SegmentDefinition, eps: list[Endpoint]) -> None:
    def members(seg: str) -> bool:
        return seg == "A"

    def sources(seg: str) -> SegmentDefinition | None:
        return None

    for ep in eps:
        left = endpoint_matches(a, ep, now=NOW, members=members, sources=sources)
        right = endpoint_matches(b, ep, now=NOW, members=members, sources=sources)
        assert left == right, (format_filter(a), ep)


@settings(max_examples=100, deadline=None)
@given(defn=definitions(), eps=endpoint_lists())
def test_any_definition_printed_and_read_back_means_the_same_and_prints_the_same(
    defn: SegmentDefinition, eps: list[Endpoint]
) -> None:
    text = format_filter(defn)
    again = parse_filter(text)
    assert format_filter(again) == text
    _same_answers(defn, again, eps)


@settings(max_examples=100, deadline=None)
@given(defn=definitions(sources=()))
def test_plain_dimensions_round_trip_through_the_filter_exactly(defn: SegmentDefinition) -> None:
    if defn.dimensions is None:
        return
    assert parse_filter(format_filter(defn)).to_json() == defn.to_json()
