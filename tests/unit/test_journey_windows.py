"""Local-time windows: quiet time, open hours, closed days, zones and daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from renraku.domain.endpoints import Endpoint
from renraku.domain.journeys.windows import Window, endpoint_zone, parse_zone, phone_zone


def _ep(address: str = "+12125550100", tz: str | None = None) -> Endpoint:
    return Endpoint(
        app_id="a",
        id="e",
        channel_type="SMS",
        address=address,
        demographic={"Timezone": tz} if tz else {},
    )


def test_quiet_time_spanning_midnight_blocks_the_night_and_reopens_at_its_end() -> None:
    w = Window({"QuietTime": {"Start": "21:00", "End": "08:00"}}, "SMS")
    tokyo = parse_zone("Asia/Tokyo")
    assert tokyo is not None
    night = datetime(2026, 3, 5, 14, 0, tzinfo=UTC)  # 23:00 in Tokyo
    assert not w.allows(night, tokyo)
    assert w.next_open(night, tokyo) == datetime(2026, 3, 5, 23, 0, tzinfo=UTC)  # 08:00 JST


def test_quiet_time_end_follows_the_wall_clock_across_spring_forward_in_new_york() -> None:
    w = Window({"QuietTime": {"Start": "21:00", "End": "08:00"}}, "SMS")
    ny = parse_zone("America/New_York")
    assert ny is not None
    # Saturday 7 March 2026 23:00 EST; clocks go forward on Sunday 8 March at 02:00.
    before = datetime(2026, 3, 8, 4, 0, tzinfo=UTC)
    opened = w.next_open(before, ny)
    assert opened == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # 08:00 EDT is 12:00 UTC, not 13:00
    assert opened is not None
    assert opened.astimezone(ny).hour == 8


def test_quiet_time_end_follows_the_wall_clock_across_fall_back_in_london() -> None:
    w = Window({"QuietTime": {"Start": "22:00", "End": "07:00"}}, "EMAIL")
    london = parse_zone("Europe/London")
    assert london is not None
    before = datetime(
        2026, 10, 24, 23, 30, tzinfo=UTC
    )  # 00:30 BST on the 25th, clocks go back at 02:00
    assert w.next_open(before, london) == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)  # 07:00 GMT


def test_open_hours_and_closed_days_move_a_send_to_the_next_open_weekday_morning() -> None:
    definition = {
        "OpenHours": {
            "VOICE": {
                d: [{"StartTime": "09:00", "EndTime": "17:00"}]
                for d in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")
            }
        },
        "ClosedDays": {
            "VOICE": [
                {
                    "Name": "holiday",
                    "StartDateTime": "2026-11-23T00:00:00",
                    "EndDateTime": "2026-11-24T00:00:00",
                }
            ]
        },
    }
    w = Window(definition, "VOICE")
    tokyo = parse_zone("Asia/Tokyo")
    assert tokyo is not None
    saturday_noon = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    # Monday the 23rd is closed, so Tuesday 09:00 JST.
    assert w.next_open(saturday_noon, tokyo) == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    assert Window(definition, "SMS").allows(saturday_noon, tokyo)


def test_endpoint_zone_prefers_demographic_then_phone_number_then_journey_zone() -> None:
    journey = {"TimezoneEstimationMethods": ["PHONE_NUMBER"], "Schedule": {"Timezone": "UTC+09"}}
    assert str(endpoint_zone(_ep(tz="Europe/London"), journey)) == "Europe/London"
    assert str(endpoint_zone(_ep("+12125550100"), journey)) == "America/New_York"
    assert endpoint_zone(_ep("+12125550100"), {"Schedule": {"Timezone": "UTC+09"}}) == timezone(
        timedelta(hours=9)
    )
    assert phone_zone("+14155550100") == parse_zone("America/Los_Angeles")


def test_pinpoint_offset_zones_parse_and_nonsense_does_not() -> None:
    assert parse_zone("UTC-03:30") == timezone(-timedelta(hours=3, minutes=30))
    assert parse_zone("UTC") == UTC
    assert parse_zone("UTC+15") is None
    assert parse_zone("Mars/Olympus") is None
