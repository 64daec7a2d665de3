"""Journey validation names every problem with its path."""

from __future__ import annotations

from typing import Any

from renraku.domain.journeys import load_definition, problems

BASE: dict[str, Any] = {
    "Name": "ok",
    "StartCondition": {"SegmentStartCondition": {"SegmentId": "s"}},
    "StartActivity": "a",
    "Activities": {
        "a": {"SMS": {"TemplateName": "t", "NextActivity": "b"}},
        "b": {"Wait": {"WaitTime": {"WaitFor": "PT1H"}, "NextActivity": "c"}},
        "c": {"End": {}},
    },
}


def _paths(d: dict[str, Any]) -> dict[str, str]:
    return {p.path: p.message for p in problems(d)}


def test_a_well_formed_journey_has_no_problems() -> None:
    assert problems(BASE) == []


def test_dangling_unreachable_and_missing_start_are_reported_by_path() -> None:
    d = {
        **BASE,
        "StartActivity": "zz",
        "Activities": {
            **BASE["Activities"],
            "a": {"SMS": {"TemplateName": "t", "NextActivity": "nope"}},
        },
    }
    found = _paths(d)
    assert found["StartActivity"] == "no activity 'zz'"
    assert found["Activities.a.SMS"] == "Next goes to missing activity 'nope'"
    d2 = {**BASE, "Activities": {**BASE["Activities"], "orphan": {"End": {}}}}
    assert _paths(d2) == {"Activities.orphan": "unreachable from StartActivity"}


def test_a_cycle_without_a_wait_is_rejected_but_a_cycle_through_a_wait_is_fine() -> None:
    spin = {
        **BASE,
        "Activities": {
            "a": {"SMS": {"TemplateName": "t", "NextActivity": "b"}},
            "b": {"RandomSplit": {"Branches": [{"Percentage": 100, "NextActivity": "a"}]}},
        },
    }
    assert any("cycle without a wait" in m for m in _paths(spin).values())
    loop = {
        **BASE,
        "Activities": {
            **BASE["Activities"],
            "c": {"SMS": {"TemplateName": "t", "NextActivity": "b"}},
        },
    }
    assert problems(loop) == []


def test_percentages_limits_windows_and_unknown_types_are_checked() -> None:
    d = {
        **BASE,
        "Limits": {"DailyCap": 500, "MessagesPerSecond": 0, "TimeframeCap": {"Days": 90, "Cap": 1}},
        "QuietTime": {"Start": "25:00", "End": "08:00"},
        "Schedule": {"Timezone": "UTC+99"},
        "Activities": {
            **BASE["Activities"],
            "c": {
                "RandomSplit": {
                    "Branches": [
                        {"Percentage": 50, "NextActivity": "d"},
                        {"Percentage": 40, "NextActivity": "d"},
                    ]
                }
            },
            "d": {"Teleport": {}},
        },
    }
    found = _paths(d)
    assert found["Limits.DailyCap"] == "must be an integer from 0 to 100"
    assert found["Limits.MessagesPerSecond"] == "must be an integer from 1 to 20000"
    assert "Limits.TimeframeCap" in found
    assert found["QuietTime.Start"] == "'25:00' is not a time of day HH:MM"
    assert "Schedule.Timezone" in found
    assert found["Activities.c.RandomSplit.Branches"] == "percentages sum to 90, not 100"
    assert found["Activities.d.Teleport"].startswith("unknown activity type")


def test_push_is_accepted_as_json_but_reported_unsupported_and_voice_needs_a_flow() -> None:
    d = {
        **BASE,
        "Activities": {
            **BASE["Activities"],
            "c": {"PUSH": {"TemplateName": "p", "NextActivity": "e"}},
            "e": {"VOICE": {"Branches": {"Pressed": "e2"}}},
            "e2": {"End": {}},
        },
    }
    found = _paths(d)
    assert "not supported" in found["Activities.c.PUSH"]
    assert found["Activities.e.VOICE.ContactFlowId"] == "required: the contact flow to run"
    assert found["Activities.e.VOICE.Branches.Pressed"].startswith("unknown branch")


def test_yaml_and_boto3_wrapped_json_load_to_the_same_definition() -> None:
    yaml_text = "Name: ok\nStartActivity: a\nActivities:\n  a:\n    End: {}\n"
    wrapped = '{"WriteJourneyRequest": {"Name": "ok", "StartActivity": "a", "Activities": {"a": {"End": {}}}}}'
    assert load_definition(yaml_text) == load_definition(wrapped)
