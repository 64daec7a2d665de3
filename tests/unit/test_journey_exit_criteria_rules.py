"""ExitCriteria before every step, in the pure core: a step that changes endpoint attributes ends
the participant's run, so its next step (and that step's exit check) sees the change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from renraku.domain.endpoints import Endpoint
from renraku.domain.journeys import (
    Event,
    Facts,
    Participant,
    Send,
    SetAttributes,
    advance,
    build_journey,
)
from renraku.domain.journeys.conditions import segment_key
from renraku.domain.timefmt import iso

NOW = datetime(2026, 5, 12, 3, 0, tzinfo=UTC)
REACHED_DIMS = {
    "Attributes": {"CallStatus": {"AttributeType": "INCLUSIVE", "Values": ["COMPLETED"]}}
}
DEFINITION: dict[str, Any] = {
    "Name": "call then sms",
    "StartActivity": "call",
    "Activities": {
        "call": {"VOICE": {"ContactFlowId": "f", "MarkReached": True, "NextActivity": "sms"}},
        "sms": {"SMS": {"TemplateName": "t"}},
    },
    "ExitCriteria": {"Conditions": [{"SegmentDimensions": REACHED_DIMS}]},
}
EPS = tuple(
    Endpoint(app_id="app", id=f"U1-{c}", channel_type=c, address="+819000000001", user_id="U1")
    for c in ("VOICE", "SMS")
)


def _calling(key: str) -> Participant:
    return Participant(
        journey_id="J",
        pkey="u:U1",
        user_id="U1",
        endpoint_id=None,
        version=1,
        entry=1,
        activity_id="call",
        phase="wait",
        status="ACTIVE",
        wake_at=iso(NOW),
        attempt=0,
        entered_at=iso(NOW - timedelta(minutes=5)),
        activity_at=iso(NOW - timedelta(minutes=5)),
        data={"keys": [key], "until": iso(NOW + timedelta(minutes=25))},
    )


def test_marking_the_participant_reached_stops_before_the_next_send_then_it_exits() -> None:
    journey = build_journey("app", "J", 1, DEFINITION)
    key = "j/J/v1/e1/call/a0/U1-VOICE/u:U1"
    pressed = Event(
        "call.completed",
        iso(NOW - timedelta(minutes=1)),
        send_key=key,
        endpoint_id="U1-VOICE",
        data={"Outcome": "ANSWERED", "Digits": "1"},
    )
    stale = Facts(endpoints=EPS, events=(pressed,), in_segment={})
    after, cmds, _ = advance(journey, _calling(key), stale, NOW)
    assert any(isinstance(c, SetAttributes) for c in cmds)
    assert not any(isinstance(c, Send) for c in cmds)  # the SMS waits for fresh facts
    assert (after.activity_id, after.phase, after.wake_at) == ("sms", "enter", iso(NOW))
    # The next claim reads the endpoints again: now in the exit segment, the participant leaves.
    key_of_exit = segment_key({"SegmentDimensions": REACHED_DIMS})
    assert key_of_exit is not None
    fresh = Facts(endpoints=EPS, in_segment={key_of_exit: True})
    gone, cmds, _ = advance(journey, after, fresh, NOW)
    assert gone.status == "EXITED"
    assert not any(isinstance(c, Send) for c in cmds)


def test_without_attribute_changes_a_run_goes_on_through_instant_activities() -> None:
    journey = build_journey("app", "J", 1, DEFINITION)
    key = "j/J/v1/e1/call/a0/U1-VOICE/u:U1"
    missed = Event("call.completed", iso(NOW), send_key=key, data={"Outcome": "NO_ANSWER"})
    after, cmds, _ = advance(journey, _calling(key), Facts(endpoints=EPS, events=(missed,)), NOW)
    assert [c.channel for c in cmds if isinstance(c, Send)] == ["SMS"]
    assert after.status == "FINISHED"


def test_without_exit_criteria_marking_reached_does_not_interrupt_the_run() -> None:
    plain = {k: v for k, v in DEFINITION.items() if k != "ExitCriteria"}
    journey = build_journey("app", "J", 1, plain)
    key = "j/J/v1/e1/call/a0/U1-VOICE/u:U1"
    pressed = Event(
        "call.completed",
        iso(NOW),
        send_key=key,
        endpoint_id="U1-VOICE",
        data={"Outcome": "ANSWERED", "Digits": "1"},
    )
    after, cmds, _ = advance(journey, _calling(key), Facts(endpoints=EPS, events=(pressed,)), NOW)
    assert any(isinstance(c, SetAttributes) for c in cmds)
    assert [c.channel for c in cmds if isinstance(c, Send)] == ["SMS"]  # nothing to re-check
    assert after.status == "FINISHED"
