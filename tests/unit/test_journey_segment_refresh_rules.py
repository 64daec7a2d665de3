"""RefreshOnSegmentUpdate: which journeys still admit people on segment updates, and validation
of the flag (and the journey's other booleans)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from renraku.domain.journeys import problems
from renraku.engine.entry import refreshes_on_update

NOW = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)


def _definition(**extra: Any) -> dict[str, Any]:
    return {
        "Name": "t",
        "StartCondition": {"SegmentStartCondition": {"SegmentId": "people"}},
        "StartActivity": "sms",
        "Activities": {"sms": {"SMS": {"TemplateName": "hello"}}},
        **extra,
    }


def test_only_segment_journeys_with_the_flag_and_before_their_end_refresh_on_update() -> None:
    assert refreshes_on_update(_definition(RefreshOnSegmentUpdate=True), NOW)
    assert not refreshes_on_update(_definition(RefreshOnSegmentUpdate=False), NOW)
    assert not refreshes_on_update(_definition(), NOW)
    ended = _definition(RefreshOnSegmentUpdate=True, Schedule={"EndTime": "2026-03-05T00:00:00Z"})
    assert not refreshes_on_update(ended, NOW)
    running = _definition(RefreshOnSegmentUpdate=True, Schedule={"EndTime": "2026-03-06T00:00:00Z"})
    assert refreshes_on_update(running, NOW)
    event_start = _definition(
        RefreshOnSegmentUpdate=True,
        StartCondition={"EventStartCondition": {"EventFilter": {"Dimensions": {}}}},
    )
    assert not refreshes_on_update(event_start, NOW)


def test_journey_booleans_must_be_true_or_false() -> None:
    found = problems(
        _definition(RefreshOnSegmentUpdate="yes", WaitForQuietTime=1, SendingSchedule=False)
    )
    paths = {p.path for p in found}
    assert {"RefreshOnSegmentUpdate", "WaitForQuietTime"} <= paths
    assert "SendingSchedule" not in paths
    assert not problems(_definition(RefreshOnSegmentUpdate=True))
