"""EndpointRequest validation: Pinpoint's fields, limits and normalisation, every problem by path."""

from __future__ import annotations

from typing import Any

from renraku.domain.endpoint_rules import check_request, validate_endpoint_request


def _fields(request: dict[str, Any], *, creating: bool = True) -> dict[str, str]:
    _clean, issues = check_request(request, default_region="JP", creating=creating)
    return {issue.field: issue.reason for issue in issues}


def test_a_full_request_is_normalised() -> None:
    clean, issues = check_request(
        {
            "ChannelType": "sms",
            "Address": "090-1111-1111",
            "Attributes": {"CallStatus": ["PENDING"], "名前": ["山田 太郎"]},
            "User": {"UserId": " User1 ", "UserAttributes": {"Plan": ["gold"]}},
            "Metrics": {"score": "1.5"},
            "Demographic": {"timezone": "Asia/Tokyo", "Locale": "ja_JP"},
            "Location": {"Country": "JP", "latitude": "35.68", "Longitude": 139.76},
            "OptOut": "none",
            "EndpointStatus": "active",
            "EffectiveDate": "2026-11-26T12:00:00+09:00",
        },
        default_region="JP",
        creating=True,
    )
    assert issues == []
    assert clean == {
        "ChannelType": "SMS",
        "Address": "+819011111111",
        "Attributes": {"CallStatus": ["PENDING"], "名前": ["山田 太郎"]},
        "User": {"UserId": "User1", "UserAttributes": {"Plan": ["gold"]}},
        "Metrics": {"score": 1.5},
        "Demographic": {"Timezone": "Asia/Tokyo", "Locale": "ja_JP"},
        "Location": {"Country": "JP", "Latitude": 35.68, "Longitude": 139.76},
        "OptOut": "NONE",
        "EndpointStatus": "ACTIVE",
        "EffectiveDate": "2026-11-26T03:00:00.000Z",
    }


def test_creating_requires_channel_type_and_address() -> None:
    problems = _fields({})
    assert "ChannelType" in problems
    assert "Address" in problems


def test_partial_update_needs_neither_channel_nor_address() -> None:
    clean, issues = check_request(
        {"Attributes": {"CallStatus": ["COMPLETED"]}}, default_region=None, creating=False
    )
    assert issues == []
    assert clean == {"Attributes": {"CallStatus": ["COMPLETED"]}}


def test_partial_update_of_the_address_alone_is_still_normalised() -> None:
    clean, issues = check_request(
        {"Address": "Test@EXAMPLE.com"}, default_region=None, creating=False
    )
    assert issues == []
    assert clean["Address"] == "Test@example.com"


def test_unknown_channel_type_names_the_accepted_values() -> None:
    assert "expected one of" in _fields({"ChannelType": "FAX", "Address": "x"})["ChannelType"]


def test_address_is_checked_against_the_channel() -> None:
    reason = _fields({"ChannelType": "EMAIL", "Address": "not-an-email"})["Address"]
    assert "not a valid email address" in reason
    reason = _fields({"ChannelType": "VOICE", "Address": "12"})["Address"]
    assert "impossible phone number" in reason


def test_attribute_limits_follow_pinpoint() -> None:
    base = {"ChannelType": "EMAIL", "Address": "a@example.com"}
    long_name = "n" * 51
    assert (
        "over 50 characters"
        in _fields({**base, "Attributes": {long_name: ["v"]}})[f"Attributes.{long_name}"]
    )
    assert (
        "over 100 characters" in _fields({**base, "Attributes": {"a": ["v" * 101]}})["Attributes.a"]
    )
    assert "the limit is 50" in _fields({**base, "Attributes": {"a": ["v"] * 51}})["Attributes.a"]
    many = {f"k{i}": ["v"] for i in range(41)}
    assert "the limit is 40" in _fields({**base, "Attributes": many})["Attributes"]
    ok = {f"k{i}": ["v" * 100] for i in range(40)}
    assert _fields({**base, "Attributes": ok}) == {}


def test_user_attribute_and_metric_limits_follow_pinpoint() -> None:
    base = {"ChannelType": "EMAIL", "Address": "a@example.com"}
    problems = _fields({**base, "User": {"UserAttributes": {"x": ["v" * 101]}}})
    assert "over 100 characters" in problems["User.UserAttributes.x"]
    metrics = {f"m{i}": i for i in range(41)}
    assert "the limit is 40" in _fields({**base, "Metrics": metrics})["Metrics"]


def test_wrong_types_and_values_are_each_reported() -> None:
    problems = _fields(
        {
            "ChannelType": "EMAIL",
            "Address": "a@example.com",
            "Attributes": {"a": [1]},
            "Metrics": {"m": "lots"},
            "Location": {"Latitude": 91, "Planet": "Mars"},
            "Demographic": {"Timezone": "Mars/Olympus"},
            "OptOut": "MAYBE",
            "EndpointStatus": "GONE",
            "EffectiveDate": "yesterday",
            "Colour": "blue",
            "User": {"UserId": 7, "Nick": "x"},
        }
    )
    assert set(problems) == {
        "Attributes.a",
        "Metrics.m",
        "Location.Latitude",
        "Location.Planet",
        "Demographic.Timezone",
        "OptOut",
        "EndpointStatus",
        "EffectiveDate",
        "Colour",
        "User.UserId",
        "User.Nick",
    }


def test_empty_attribute_list_is_kept_so_a_partial_update_can_remove_it() -> None:
    clean, issues = check_request({"Attributes": {"a": []}}, default_region=None, creating=False)
    assert issues == []
    assert clean == {"Attributes": {"a": []}}


def test_problems_carry_the_path_and_the_value() -> None:
    _clean, problems = validate_endpoint_request(
        {"ChannelType": "SMS", "Address": "12"},
        path="EndpointRequest",
        default_region="JP",
        creating=True,
    )
    assert [p.path for p in problems] == ["EndpointRequest.Address"]
    assert "'12'" in problems[0].message
    assert "impossible" in problems[0].message
