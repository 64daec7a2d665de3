"""The pure step function: sends, waits, splits, calls, windows, caps and exits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from renraku.domain.endpoints import Endpoint
from renraku.domain.journeys import (
    Emit,
    Event,
    Facts,
    Participant,
    Send,
    SendFact,
    SetAttributes,
    advance,
    build_journey,
    step,
)
from renraku.domain.timefmt import iso

NOW = datetime(2026, 5, 12, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo, a Tuesday


def _journey(activities: dict[str, Any], start: str, **extra: Any) -> Any:
    d = {"Name": "t", "StartActivity": start, "Activities": activities, **extra}
    return build_journey("app", "J", 1, d)


def _p(activity: str, **kw: Any) -> Participant:
    base = Participant(
        journey_id="J",
        pkey="u:U1",
        user_id="U1",
        endpoint_id=None,
        version=1,
        entry=1,
        activity_id=activity,
        phase="enter",
        status="ACTIVE",
        wake_at=iso(NOW),
        attempt=0,
        entered_at=iso(NOW - timedelta(minutes=5)),
        activity_at=iso(NOW),
        data={},
    )
    return replace(base, **kw)


def _eps(tz: str = "Asia/Tokyo") -> tuple[Endpoint, ...]:
    demo = {"Timezone": tz}
    return (
        Endpoint(
            app_id="app",
            id="U1-VOICE",
            channel_type="VOICE",
            address="+819000000001",
            user_id="U1",
            demographic=demo,
        ),
        Endpoint(
            app_id="app",
            id="U1-SMS",
            channel_type="SMS",
            address="+819000000001",
            user_id="U1",
            demographic=demo,
        ),
        Endpoint(
            app_id="app",
            id="U1-EMAIL",
            channel_type="EMAIL",
            address="u1@example.com",
            user_id="U1",
            demographic=demo,
        ),
        Endpoint(
            app_id="app",
            id="U1-EMAIL-OLD",
            channel_type="EMAIL",
            address="old@example.com",
            user_id="U1",
            opt_out="ALL",
        ),
    )


def _sends(cmds: list[Any]) -> list[Send]:
    return [c for c in cmds if isinstance(c, Send)]


def test_email_activity_sends_to_active_opted_in_endpoints_and_moves_on() -> None:
    j = _journey(
        {"m": {"EMAIL": {"TemplateName": "t", "NextActivity": "n"}}, "n": {"End": {}}}, "m"
    )
    after, cmds = step(j, _p("m"), Facts(endpoints=_eps()), NOW)
    sends = _sends(cmds)
    assert [s.endpoint_id for s in sends] == ["U1-EMAIL"]
    assert sends[0].key == "j/J/v1/e1/m/a0/U1-EMAIL/u:U1"
    assert (after.activity_id, after.phase, after.wake_at) == ("n", "enter", iso(NOW))


def test_quiet_time_skips_a_send_unless_the_journey_waits_for_the_window() -> None:
    acts = {"m": {"SMS": {"TemplateName": "t", "NextActivity": "n"}}, "n": {"End": {}}}
    quiet = {"QuietTime": {"Start": "09:00", "End": "13:00"}}
    skipped, cmds = step(_journey(acts, "m", **quiet), _p("m"), Facts(endpoints=_eps()), NOW)
    assert _sends(cmds) == []
    assert any(isinstance(c, Emit) and c.data.get("Reason") == "QUIET_TIME" for c in cmds)
    assert skipped.activity_id == "n"
    waiting, cmds = step(
        _journey(acts, "m", WaitForQuietTime=True, **quiet), _p("m"), Facts(endpoints=_eps()), NOW
    )
    assert _sends(cmds) == []
    assert (waiting.activity_id, waiting.wake_at) == ("m", "2026-05-12T04:00:00.000Z")  # 13:00 JST
    later = datetime(2026, 5, 12, 4, 0, tzinfo=UTC)
    sent, cmds = step(
        _journey(acts, "m", WaitForQuietTime=True, **quiet), waiting, Facts(endpoints=_eps()), later
    )
    assert [s.endpoint_id for s in _sends(cmds)] == ["U1-SMS"]
    assert sent.activity_id == "n"


def test_daily_cap_and_cross_journey_frequency_cap_skip_with_their_reason() -> None:
    acts = {"m": {"SMS": {"TemplateName": "t", "NextActivity": "n"}}, "n": {"End": {}}}
    earlier = iso(NOW - timedelta(hours=2))
    capped = _journey(acts, "m", Limits={"DailyCap": 1})
    _, cmds = step(
        capped,
        _p("m"),
        Facts(endpoints=_eps(), sends=(SendFact("J", "U1-SMS", "SMS", earlier),)),
        NOW,
    )
    assert [c.data["Reason"] for c in cmds if isinstance(c, Emit) and c.kind == "send.skipped"] == [
        "DAILY_CAP"
    ]
    other = (
        SendFact("OTHER", "U1-SMS", "SMS", earlier),
        SendFact("OTHER2", "U1-SMS", "SMS", earlier),
    )
    facts = Facts(endpoints=_eps(), sends=other, frequency_caps={"SMS": 2})
    _, cmds = step(_journey(acts, "m"), _p("m"), facts, NOW)
    assert _sends(cmds) == []
    assert [c.data["Reason"] for c in cmds if isinstance(c, Emit) and c.kind == "send.skipped"] == [
        "FREQUENCY_CAP"
    ]


VOICE = {
    "call": {
        "VOICE": {
            "ContactFlowId": "f",
            "MarkReached": True,
            "Timeout": {"WaitFor": "PT10M"},
            "Branches": {"Digits": {"1": "thanks"}, "NoAnswer": "sms", "Timeout": "sms"},
            "NextActivity": "sms",
        }
    },
    "thanks": {"End": {}},
    "sms": {"SMS": {"TemplateName": "t"}},
}


def test_voice_call_waits_for_its_outcome_and_pressing_one_marks_the_user_reached() -> None:
    j = _journey(VOICE, "call")
    waiting, cmds = step(j, _p("call"), Facts(endpoints=_eps()), NOW)
    [call] = _sends(cmds)
    assert call.channel == "VOICE"
    assert (waiting.phase, waiting.wake_at) == ("wait", iso(NOW + timedelta(minutes=10)))
    ended = Event(
        "call.completed",
        iso(NOW + timedelta(seconds=40)),
        send_key=call.key,
        endpoint_id="U1-VOICE",
        data={"Outcome": "ANSWERED", "Digits": "1"},
    )
    early, _ = step(
        j, waiting, Facts(endpoints=_eps(), events=(ended,)), NOW + timedelta(seconds=20)
    )
    assert early.activity_id == "call"  # the call's end is in the future of the clock
    done, cmds = step(
        j, waiting, Facts(endpoints=_eps(), events=(ended,)), NOW + timedelta(seconds=40)
    )
    assert done.activity_id == "thanks"
    marks = {
        c.endpoint_id: c.attributes["CallStatus"] for c in cmds if isinstance(c, SetAttributes)
    }
    assert marks == {
        "U1-VOICE": ["COMPLETED"],
        "U1-SMS": ["CANCELED"],
        "U1-EMAIL": ["CANCELED"],
        "U1-EMAIL-OLD": ["CANCELED"],
    }


def test_voice_call_branches_on_no_answer_on_timeout_and_retries_when_asked() -> None:
    j = _journey(VOICE, "call")
    waiting, cmds = step(j, _p("call"), Facts(endpoints=_eps()), NOW)
    key = _sends(cmds)[0].key
    missed = Event("call.completed", iso(NOW), send_key=key, data={"Outcome": "NO_ANSWER"})
    after, _ = step(j, waiting, Facts(endpoints=_eps(), events=(missed,)), NOW)
    assert after.activity_id == "sms"
    timed_out, cmds = step(j, waiting, Facts(endpoints=_eps()), NOW + timedelta(minutes=10))
    assert timed_out.activity_id == "sms"
    assert [
        c.data["Outcome"] for c in cmds if isinstance(c, Emit) and c.kind == "call.outcome"
    ] == ["TIMEOUT"]
    retrying = dict(VOICE)
    retrying["call"] = {
        "VOICE": {**VOICE["call"]["VOICE"], "Retry": {"MaxAttempts": 2, "Interval": "PT2H"}}
    }
    j2 = _journey(retrying, "call")
    again, _ = step(j2, waiting, Facts(endpoints=_eps(), events=(missed,)), NOW)
    assert (again.activity_id, again.attempt, again.wake_at) == (
        "call",
        1,
        iso(NOW + timedelta(hours=2)),
    )
    _, cmds = step(j2, again, Facts(endpoints=_eps()), NOW + timedelta(hours=2))
    assert _sends(cmds)[0].key.endswith("/a1/U1-VOICE/u:U1")


def test_conditional_split_waits_its_evaluation_time_then_reads_segment_membership() -> None:
    acts = {
        "s": {
            "ConditionalSplit": {
                "Condition": {"Conditions": [{"SegmentCondition": {"SegmentId": "pending"}}]},
                "EvaluationWaitTime": {"WaitFor": "PT1H"},
                "TrueActivity": "yes",
                "FalseActivity": "no",
            }
        },
        "yes": {"End": {}},
        "no": {"End": {}},
    }
    j = _journey(acts, "s")
    held, _ = step(j, _p("s"), Facts(), NOW)
    assert (held.phase, held.wake_at) == ("wait", iso(NOW + timedelta(hours=1)))
    later = NOW + timedelta(hours=1)
    yes, _ = step(j, held, Facts(in_segment={"pending": True}), later)
    no, _ = step(j, held, Facts(in_segment={"pending": False}), later)
    assert (yes.activity_id, no.activity_id) == ("yes", "no")


def test_random_split_is_stable_per_participant_and_follows_the_percentages() -> None:
    acts = {
        "r": {
            "RandomSplit": {
                "Branches": [
                    {"Percentage": 30, "NextActivity": "a"},
                    {"Percentage": 70, "NextActivity": "b"},
                ]
            }
        },
        "a": {"End": {}},
        "b": {"End": {}},
    }
    j = _journey(acts, "r")
    picks = [step(j, _p("r", pkey=f"u:{i}"), Facts(), NOW)[0].activity_id for i in range(2000)]
    assert 500 < picks.count("a") < 700
    assert picks == [
        step(j, _p("r", pkey=f"u:{i}"), Facts(), NOW)[0].activity_id for i in range(2000)
    ]


def test_exit_criteria_end_the_participant_before_any_further_step() -> None:
    acts = {"m": {"EMAIL": {"TemplateName": "t"}}}
    j = _journey(
        acts, "m", ExitCriteria={"Conditions": [{"SegmentCondition": {"SegmentId": "done"}}]}
    )
    left, cmds = step(j, _p("m"), Facts(endpoints=_eps(), in_segment={"done": True}), NOW)
    assert left.status == "EXITED"
    assert _sends(cmds) == []


def test_wait_for_event_continues_on_a_matching_event_or_takes_the_timeout_branch() -> None:
    acts = {
        "w": {
            "WaitForEvent": {
                "EventFilter": {
                    "Dimensions": {
                        "EventType": {"DimensionType": "INCLUSIVE", "Values": ["_email.click"]}
                    }
                },
                "Timeout": {"WaitFor": "P1D"},
                "NextActivity": "clicked",
                "TimeoutActivity": "nudge",
            }
        },
        "clicked": {"End": {}},
        "nudge": {"End": {}},
    }
    j = _journey(acts, "w")
    waiting, _ = step(j, _p("w"), Facts(), NOW)
    click = Event("email.clicked", iso(NOW + timedelta(hours=3)))
    moved, _ = step(j, waiting, Facts(events=(click,)), NOW + timedelta(hours=3))
    assert moved.activity_id == "clicked"
    other = Event("email.opened", iso(NOW + timedelta(hours=3)))
    timed, _ = step(j, waiting, Facts(events=(other,)), NOW + timedelta(days=1))
    assert timed.activity_id == "nudge"


def test_advance_runs_through_instant_activities_and_stops_at_the_first_wait() -> None:
    acts = {
        "m": {"EMAIL": {"TemplateName": "t", "NextActivity": "w"}},
        "w": {"Wait": {"WaitTime": {"WaitFor": "PT1H"}, "NextActivity": "n"}},
        "n": {"End": {}},
    }
    j = _journey(acts, "m")
    p, cmds, steps = advance(j, _p("m"), Facts(endpoints=_eps()), NOW)
    assert (p.activity_id, p.phase, steps) == ("w", "wait", 2)
    assert len(_sends(cmds)) == 1
    p, _, _ = advance(j, p, Facts(), NOW + timedelta(hours=1))
    assert p.status == "FINISHED"
