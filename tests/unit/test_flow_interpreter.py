"""The contact-flow interpreter as a pure state machine, driven through the seed's flow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from renraku.domain.flows import (
    Answered,
    CallState,
    Digits,
    Disconnect,
    Flow,
    FlowLoaded,
    FlowMissing,
    FunctionFailed,
    FunctionReturned,
    Gather,
    HungUp,
    InputTimeout,
    InvokeFunction,
    LoadFlow,
    MarkReached,
    Say,
    advance,
    new_call,
    parse_flow,
)
from renraku.domain.flows.values import resolve

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> Flow:
    return parse_flow(json.loads((EXAMPLES / name).read_text(encoding="utf-8")))


def placed() -> CallState:
    return new_call(
        "seed",
        contact_id="c-1",
        customer_address="+819011111111",
        attributes={"UserId": "User1"},
        instance_id="app-1",
    )


def test_answering_runs_the_seed_flow_to_the_press_1_prompt_in_kazuhas_voice() -> None:
    step = advance(load("seed-flow.json"), placed(), Answered())
    assert step.state.waiting == "input"
    assert step.state.logging is True
    assert step.state.attributes["var_UserId"] == "User1"
    (gather,) = step.commands
    assert isinstance(gather, Gather)
    assert gather.timeout_seconds == 5
    assert gather.max_digits == 1
    assert gather.prompt is not None
    assert gather.prompt.voice == "Kazuha"
    assert gather.prompt.engine == "Neural"
    assert gather.prompt.language == "ja-JP"
    assert "1を押して下さい" in gather.prompt.text
    assert step.state.path == ("enable-logging", "set-voice", "set-user-id", "ask-press-1")


def test_pressing_1_invokes_the_function_with_connects_event_and_the_user_id() -> None:
    flow = load("seed-flow.json")
    step = advance(flow, advance(flow, placed(), Answered()).state, Digits("1"))
    (invoke,) = step.commands
    assert isinstance(invoke, InvokeFunction)
    assert invoke.function == "update-call-status"
    assert invoke.timeout_seconds == 8
    assert invoke.event["Name"] == "ContactFlowEvent"
    assert invoke.event["Details"]["Parameters"] == {"userId": "User1"}
    contact = invoke.event["Details"]["ContactData"]
    assert contact["Attributes"] == {"UserId": "User1", "var_UserId": "User1"}
    assert contact["CustomerEndpoint"]["Address"] == "+819011111111"
    assert step.state.waiting == "function"


def test_after_the_function_the_two_prompts_play_and_the_call_disconnects() -> None:
    flow = load("seed-flow.json")
    state = advance(flow, advance(flow, placed(), Answered()).state, Digits("1")).state
    step = advance(flow, state, FunctionReturned({"status": "ok"}))
    kinds = [type(c) for c in step.commands]
    assert kinds == [Say, Say, Disconnect]
    assert all(isinstance(c, Say) and c.voice == "Kazuha" for c in step.commands[:2])
    assert step.state.done
    assert step.state.external == {"status": "ok"}
    assert step.state.digits == "1"
    assert step.state.path[-4:] == ("update-status", "play-details", "play-updated", "disconnect")


def test_a_time_out_a_wrong_digit_each_end_the_call_without_the_function() -> None:
    flow = load("seed-flow.json")
    waiting = advance(flow, placed(), Answered()).state
    for event, recorded in ((InputTimeout(), ""), (Digits("2"), "2")):
        step = advance(flow, waiting, event)
        assert [type(c) for c in step.commands] == [Disconnect]
        assert step.state.done
        assert step.state.inputs == (recorded,)
        assert "update-status" not in step.state.path


def test_a_function_that_fails_or_returns_a_nested_map_takes_the_error_branch() -> None:
    flow = load("seed-flow.json")
    state = advance(flow, advance(flow, placed(), Answered()).state, Digits("1")).state
    for event in (FunctionFailed("timed out after 8s"), FunctionReturned({"a": {"b": "c"}})):
        step = advance(flow, state, event)
        assert [type(c) for c in step.commands] == [Disconnect]
        assert "play-details" not in step.state.path


def test_hanging_up_mid_prompt_ends_the_call_with_the_reason() -> None:
    flow = load("seed-flow.json")
    state = advance(flow, placed(), Answered()).state
    step = advance(flow, state, HungUp())
    assert step.state.done
    assert step.state.end_reason == "customer hung up"
    assert step.commands == ()
    assert advance(flow, step.state, Digits("1")).commands == ()


def test_mark_reached_is_a_command_and_the_flow_continues() -> None:
    flow = load("seed-flow-mark-reached.json")
    state = advance(flow, placed(), Answered()).state
    step = advance(flow, state, Digits("1"))
    assert isinstance(step.commands[0], MarkReached)
    assert isinstance(step.commands[1], Say)
    assert step.state.reached


def _flow(actions: list[dict[str, Any]], start: str = "a") -> Flow:
    return parse_flow({"Version": "2019-10-30", "StartAction": start, "Actions": actions})


def test_compare_branches_on_a_function_result_and_falls_to_no_matching_condition() -> None:
    flow = _flow(
        [
            {
                "Identifier": "a",
                "Type": "Compare",
                "Parameters": {"ComparisonValue": "$.Attributes.tier"},
                "Transitions": {
                    "Conditions": [
                        {
                            "NextAction": "gold",
                            "Condition": {"Operator": "NumberGreaterThan", "Operands": ["2"]},
                        }
                    ],
                    "Errors": [{"NextAction": "end", "ErrorType": "NoMatchingCondition"}],
                },
            },
            {
                "Identifier": "gold",
                "Type": "MessageParticipant",
                "Parameters": {"Text": "Hello $.Attributes.name, you are gold"},
                "Transitions": {"NextAction": "end"},
            },
            {"Identifier": "end", "Type": "DisconnectParticipant", "Parameters": {}},
        ]
    )
    high = new_call(
        "f", contact_id="c", customer_address="+1", attributes={"tier": "3", "name": "Ann"}
    )
    step = advance(flow, high, Answered())
    assert isinstance(step.commands[0], Say)
    assert step.commands[0].text == "Hello Ann, you are gold"
    low = new_call("f", contact_id="c", customer_address="+1", attributes={"tier": "1"})
    assert [type(c) for c in advance(flow, low, Answered()).commands] == [Disconnect]


def test_outbound_status_routes_voicemail_away_from_the_menu() -> None:
    flow = _flow(
        [
            {
                "Identifier": "a",
                "Type": "CheckOutboundCallStatus",
                "Parameters": {},
                "Transitions": {
                    "NextAction": "end",
                    "Conditions": [
                        {
                            "NextAction": "vm",
                            "Condition": {"Operator": "Equals", "Operands": ["VoicemailBeep"]},
                        }
                    ],
                    "Errors": [{"NextAction": "end", "ErrorType": "NoMatchingCondition"}],
                },
            },
            {
                "Identifier": "vm",
                "Type": "MessageParticipant",
                "Parameters": {"Text": "Please call us back."},
                "Transitions": {"NextAction": "end"},
            },
            {"Identifier": "end", "Type": "EndFlowExecution", "Parameters": {}},
        ]
    )
    call = new_call("f", contact_id="c", customer_address="+1")
    vm = advance(flow, call, Answered("VoicemailBeep"))
    assert [type(c) for c in vm.commands] == [Say, Disconnect]
    human = advance(flow, call, Answered("CallAnswered"))
    assert [type(c) for c in human.commands] == [Disconnect]


def test_transfer_to_flow_asks_for_the_flow_and_runs_it_from_its_start() -> None:
    first = _flow(
        [
            {
                "Identifier": "a",
                "Type": "TransferToFlow",
                "Parameters": {"ContactFlowId": "second"},
                "Transitions": {"Errors": [{"NextAction": "end", "ErrorType": "NoMatchingError"}]},
            },
            {"Identifier": "end", "Type": "DisconnectParticipant", "Parameters": {}},
        ]
    )
    second = _flow(
        [
            {
                "Identifier": "s",
                "Type": "MessageParticipant",
                "Parameters": {"Text": "second flow"},
                "Transitions": {"NextAction": "x"},
            },
            {"Identifier": "x", "Type": "DisconnectParticipant", "Parameters": {}},
        ],
        start="s",
    )
    step = advance(first, new_call("first", contact_id="c", customer_address="+1"), Answered())
    assert step.commands == (LoadFlow(action="a", flow_ref="second"),)
    moved = advance(second, step.state, FlowLoaded("second-id"))
    assert moved.state.flow_id == "second-id"
    assert [type(c) for c in moved.commands] == [Say, Disconnect]
    missing = advance(first, step.state, FlowMissing("no flow 'second'"))
    assert missing.state.path[-1] == "end"


def test_stored_input_collects_several_digits_into_stored_customer_input() -> None:
    flow = _flow(
        [
            {
                "Identifier": "a",
                "Type": "GetParticipantInput",
                "Parameters": {
                    "Text": "Enter your code",
                    "StoreInput": "True",
                    "InputTimeLimitSeconds": "10",
                    "InputValidation": {"CustomValidation": {"MaximumLength": "4"}},
                },
                "Transitions": {"NextAction": "b"},
            },
            {
                "Identifier": "b",
                "Type": "MessageParticipant",
                "Parameters": {"Text": "You entered $.StoredCustomerInput"},
                "Transitions": {"NextAction": "c"},
            },
            {"Identifier": "c", "Type": "DisconnectParticipant", "Parameters": {}},
        ]
    )
    step = advance(flow, new_call("f", contact_id="c", customer_address="+1"), Answered())
    gather = step.commands[0]
    assert isinstance(gather, Gather)
    assert (gather.max_digits, gather.terminator) == (4, "#")
    done = advance(flow, step.state, Digits("1234"))
    assert isinstance(done.commands[0], Say)
    assert done.commands[0].text == "You entered 1234"


def test_state_round_trips_through_json() -> None:
    flow = load("seed-flow.json")
    state = advance(flow, placed(), Answered()).state
    again = CallState.from_json(json.loads(json.dumps(state.to_json())))
    assert again == state
    assert advance(flow, again, Digits("1")).commands == advance(flow, state, Digits("1")).commands


def test_references_resolve_whole_values_and_inside_text() -> None:
    data = {"Attributes": {"UserId": "User1"}, "CustomerEndpoint": {"Address": "+81"}}
    assert resolve("$.Attributes.UserId", data) == "User1"
    assert resolve("$.Attributes.Missing", data) == ""
    assert resolve("call $.CustomerEndpoint.Address now", data) == "call +81 now"
    assert resolve("plain", data) == "plain"


def test_update_contact_data_sets_the_language_prompts_are_spoken_in() -> None:
    flow = _flow(
        [
            {
                "Identifier": "a",
                "Type": "UpdateContactData",
                "Parameters": {"LanguageCode": "en-GB"},
                "Transitions": {"NextAction": "b"},
            },
            {
                "Identifier": "b",
                "Type": "MessageParticipant",
                "Parameters": {"Text": "Hello"},
                "Transitions": {"NextAction": "c"},
            },
            {"Identifier": "c", "Type": "DisconnectParticipant", "Parameters": {}},
        ]
    )
    step = advance(flow, new_call("f", contact_id="c", customer_address="+1"), Answered())
    assert isinstance(step.commands[0], Say)
    assert step.commands[0].language == "en-GB"


def test_mark_reached_can_name_the_attribute_and_the_values() -> None:
    flow = _flow(
        [
            {
                "Identifier": "a",
                "Type": "MarkReached",
                "Parameters": {"Attribute": "Status", "Status": "DONE", "Others": "SKIP"},
                "Transitions": {"NextAction": "b"},
            },
            {"Identifier": "b", "Type": "DisconnectParticipant", "Parameters": {}},
        ]
    )
    step = advance(flow, new_call("f", contact_id="c", customer_address="+1"), Answered())
    assert step.commands[0] == MarkReached(
        action="a", status="DONE", attribute="Status", others="SKIP"
    )


def test_pending_repeats_the_open_prompt_and_hangs_up_an_ended_call() -> None:
    from renraku.domain.flows.interpreter import pending

    flow = load("seed-flow.json")
    fresh = placed()
    assert pending(flow, fresh) == ()
    waiting = advance(flow, fresh, Answered())
    assert pending(flow, waiting.state) == waiting.commands
    ended = advance(flow, waiting.state, InputTimeout()).state
    assert pending(flow, ended) == (Disconnect("flow disconnected"),)
