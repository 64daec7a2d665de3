"""Caps: TotalCap counts every send of the journey to a participant, across re-entries, and the
lookback the engine gathers sends over covers the journey's life only when TotalCap asks for it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from renraku.domain.journeys import Participant, SendFact, build_journey
from renraku.domain.journeys.limits import cap_reason, lookback
from renraku.domain.timefmt import iso

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
CREATED = NOW - timedelta(days=90)


def _journey(limits: dict[str, Any], *, started_at: str | None = iso(CREATED)) -> Any:
    definition = {
        "Name": "t",
        "StartActivity": "sms",
        "Activities": {"sms": {"SMS": {"TemplateName": "x"}}},
        "Limits": limits,
    }
    return build_journey("app", "J", 1, definition, started_at=started_at)


def _participant(entry: int, entered: datetime) -> Participant:
    return Participant(
        journey_id="J",
        pkey="u:U1",
        user_id="U1",
        endpoint_id=None,
        version=1,
        entry=entry,
        activity_id="sms",
        phase="enter",
        status="ACTIVE",
        wake_at=iso(NOW),
        attempt=0,
        entered_at=iso(entered),
        activity_at=iso(NOW),
    )


def _sent(days_ago: float, journey_id: str = "J") -> SendFact:
    return SendFact(journey_id, "U1-SMS", "SMS", iso(NOW - timedelta(days=days_ago)))


def test_total_cap_counts_sends_from_earlier_entries_of_the_same_journey() -> None:
    journey = _journey({"TotalCap": 2})
    second_entry = _participant(2, NOW - timedelta(hours=1))
    earlier = [_sent(40), _sent(20)]  # both made during the first entry
    assert cap_reason(journey, second_entry, "SMS", earlier, {}, NOW) == "TOTAL_CAP"
    assert cap_reason(journey, second_entry, "SMS", earlier[:1], {}, NOW) is None


def test_total_cap_ignores_sends_of_other_journeys() -> None:
    journey = _journey({"TotalCap": 1})
    p = _participant(1, NOW - timedelta(hours=1))
    assert cap_reason(journey, p, "SMS", [_sent(3, "OTHER")], {}, NOW) is None
    assert cap_reason(journey, p, "SMS", [_sent(3, "OTHER"), _sent(3)], {}, NOW) == "TOTAL_CAP"


def test_daily_cap_still_counts_only_the_last_24_hours() -> None:
    journey = _journey({"DailyCap": 1})
    p = _participant(1, NOW - timedelta(days=3))
    assert cap_reason(journey, p, "SMS", [_sent(2)], {}, NOW) is None
    assert cap_reason(journey, p, "SMS", [_sent(0.5)], {}, NOW) == "DAILY_CAP"


def test_lookback_covers_the_journey_life_only_with_a_total_cap() -> None:
    assert lookback(_journey({"DailyCap": 3}), NOW) == timedelta(days=1)
    assert lookback(_journey({"TimeframeCap": {"Days": 7, "Cap": 2}}), NOW) == timedelta(days=7)
    with_total = lookback(_journey({"TotalCap": 5}), NOW)
    assert NOW - with_total < CREATED  # every send since the journey was created is gathered
    assert with_total < timedelta(days=92)  # and not much more
    old_timeframe = _journey({"TotalCap": 5, "TimeframeCap": {"Days": 30, "Cap": 2}})
    assert lookback(replace(old_timeframe, started_at=iso(NOW)), NOW) == timedelta(days=30)


def test_lookback_without_a_known_creation_time_takes_everything() -> None:
    unknown = lookback(_journey({"TotalCap": 5}, started_at=None), NOW)
    assert unknown >= timedelta(days=3650)
