"""Parsing and validating Connect flow-language JSON."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from renraku.domain.flows import parse_flow
from renraku.domain.flows.model import action_types
from renraku.errors import InvalidInput

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def seed() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "seed-flow.json").read_text(encoding="utf-8"))
    return data


def _problems(data: Any) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        parse_flow(data)
    return [str(p) for p in info.value.problems]


def test_the_seed_flow_parses_with_its_eight_actions_in_connects_language() -> None:
    flow = parse_flow(seed())
    assert flow.start_action == "enable-logging"
    assert len(flow.actions) == 8
    assert action_types(flow) == [
        "DisconnectParticipant",
        "GetParticipantInput",
        "InvokeLambdaFunction",
        "MessageParticipant",
        "UpdateContactAttributes",
        "UpdateContactTextToSpeechVoice",
        "UpdateFlowLoggingBehavior",
    ]
    ask = flow.action("ask-press-1")
    assert ask.conditions[0].operands == ("1",)
    assert ask.errors["InputTimeLimitExceeded"] == "disconnect"


def test_an_unsupported_action_is_rejected_naming_its_identifier_and_type() -> None:
    data = seed()
    data["Actions"].append(
        {"Identifier": "queue-it", "Type": "TransferContactToQueue", "Parameters": {}}
    )
    problems = _problems(data)
    assert len(problems) == 1
    assert "queue-it" in problems[0]
    assert "TransferContactToQueue" in problems[0]


def test_a_transition_to_a_missing_action_is_rejected_with_its_path() -> None:
    data = seed()
    data["Actions"][0]["Transitions"]["NextAction"] = "nowhere"
    problems = _problems(data)
    assert problems == [
        "Actions[enable-logging].Transitions: goes to 'nowhere', which is not an action of this flow"
    ]


def test_every_problem_is_reported_at_once() -> None:
    data = seed()
    data["Actions"][4]["Parameters"]["InvocationTimeLimitSeconds"] = "30"
    data["Actions"][3]["Transitions"]["Errors"].append(
        {"NextAction": "disconnect", "ErrorType": "Bogus"}
    )
    data["Actions"][1]["Parameters"].pop("TextToSpeechVoice")
    problems = _problems(data)
    assert len(problems) == 3
    assert any("InvocationTimeLimitSeconds" in p and "1..8" in p for p in problems)
    assert any("'Bogus' is not an error of GetParticipantInput" in p for p in problems)
    assert any("TextToSpeechVoice" in p for p in problems)


def test_a_flow_that_loops_without_waiting_for_input_is_rejected() -> None:
    data = {
        "Version": "2019-10-30",
        "StartAction": "a",
        "Actions": [
            {
                "Identifier": "a",
                "Type": "UpdateContactAttributes",
                "Parameters": {"Attributes": {"x": "1"}},
                "Transitions": {"NextAction": "b"},
            },
            {
                "Identifier": "b",
                "Type": "MessageParticipant",
                "Parameters": {"Text": "hello"},
                "Transitions": {"NextAction": "a"},
            },
        ],
    }
    problems = _problems(data)
    assert problems == ["Actions: loops without waiting for input: a -> b -> a"]


def test_a_loop_through_an_input_prompt_is_allowed() -> None:
    data = seed()
    ask = next(a for a in data["Actions"] if a["Identifier"] == "ask-press-1")
    ask["Transitions"]["Errors"][0]["NextAction"] = "ask-press-1"  # repeat on time-out
    flow = parse_flow(copy.deepcopy(data))
    assert flow.action("ask-press-1").errors["InputTimeLimitExceeded"] == "ask-press-1"


def test_a_wrong_version_a_missing_start_and_a_duplicate_identifier_are_all_named() -> None:
    data = seed()
    data["Version"] = "2020-01-01"
    data.pop("StartAction")
    data["Actions"].append(copy.deepcopy(data["Actions"][-1]))
    problems = _problems(data)
    assert any(p.startswith("Version:") for p in problems)
    assert any(p.startswith("StartAction:") for p in problems)
    assert any("'disconnect' is used twice" in p for p in problems)


def test_a_message_needs_exactly_one_of_text_ssml_or_prompt() -> None:
    data = seed()
    details = next(a for a in data["Actions"] if a["Identifier"] == "play-details")
    details["Parameters"]["SSML"] = "<speak>x</speak>"
    assert any("give one of Text, SSML, PromptId" in p for p in _problems(data))
    details["Parameters"] = {}
    assert any("needs Text, SSML or PromptId" in p for p in _problems(data))


def test_outbound_status_conditions_must_name_a_connect_status() -> None:
    data = seed()
    data["Actions"].insert(
        0,
        {
            "Identifier": "check",
            "Type": "CheckOutboundCallStatus",
            "Parameters": {},
            "Transitions": {
                "NextAction": "enable-logging",
                "Conditions": [
                    {
                        "NextAction": "disconnect",
                        "Condition": {"Operator": "Equals", "Operands": ["Voicemail"]},
                    }
                ],
            },
        },
    )
    assert any("'Voicemail' is not one of" in p for p in _problems(data))


def test_a_non_object_flow_is_rejected_plainly() -> None:
    assert _problems([1, 2]) == ["flow: a flow must be a JSON object"]


def test_actions_no_path_reaches_are_reported_as_warnings_not_refused() -> None:
    from renraku.services.flows import validate

    data = seed()
    assert validate(data)["Warnings"] == []
    data["Actions"].append(
        {
            "Identifier": "forgotten",
            "Type": "MessageParticipant",
            "Parameters": {"Text": "never said"},
            "Transitions": {"NextAction": "disconnect"},
        }
    )
    assert validate(data)["Warnings"] == ["Actions[forgotten]: no path from StartAction reaches it"]
