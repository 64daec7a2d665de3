"""The contact-flow interpreter: a pure state machine over a validated :class:`Flow`.

``advance(flow, state, Answered(...))`` starts a call's flow; later calls of ``advance`` feed it
what happened next (digits, a time-out, a hang-up, a function's result, a transferred flow). Each
returns a :class:`Step`: the new state and the commands the phone side carries out in order (say a
prompt, gather digits, invoke a function, load a flow, mark the participant reached, disconnect).
The interpreter runs actions until it must wait for the callee or the outside world, never reads a
clock and does no I/O; runners persist the state between events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from renraku.domain.flows.call import (
    Answered,
    CallState,
    Command,
    Digits,
    Disconnect,
    Event,
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
    Step,
)
from renraku.domain.flows.model import Action, Flow
from renraku.domain.flows.values import resolve
from renraku.domain.flows.voices import language_of

# A flow that runs this many actions without waiting is stopped (TransferToFlow can loop
# across flows, which validation of one flow cannot see).
MAX_ACTIONS_WITHOUT_INPUT = 200
DEFAULT_INPUT_SECONDS = 5
DEFAULT_LAMBDA_SECONDS = 3

# The machine --------------------------------------------------------------------------------


def new_call(
    flow_id: str,
    *,
    contact_id: str,
    customer_address: str,
    attributes: Mapping[str, str] | None = None,
    instance_id: str = "",
    system_address: str = "",
) -> CallState:
    """A call placed but not yet answered."""
    return CallState(
        contact_id=contact_id,
        flow_id=flow_id,
        customer_address=customer_address,
        instance_id=instance_id,
        system_address=system_address,
        attributes=dict(attributes or {}),
    )


def function_name(arn: str) -> str:
    """``arn:aws:lambda:r:a:function:NAME[:qualifier]`` -> NAME; a bare name stays itself."""
    if ":function:" in arn:
        return arn.split(":function:", 1)[1].split(":", 1)[0]
    return arn


def flow_data(state: CallState) -> dict[str, Any]:
    """What references in a flow can read (``$.Attributes.X`` and friends)."""
    return {
        "Attributes": dict(state.attributes),
        "External": dict(state.external),
        "CustomerEndpoint": {"Address": state.customer_address, "Type": "TELEPHONE_NUMBER"},
        "SystemEndpoint": {"Address": state.system_address, "Type": "TELEPHONE_NUMBER"},
        "ContactId": state.contact_id,
        "InitialContactId": state.contact_id,
        "Channel": "VOICE",
        "StoredCustomerInput": state.stored_input,
        "LanguageCode": state.language,
        "TextToSpeechVoice": state.voice,
        "InstanceARN": instance_arn(state.instance_id),
    }


def instance_arn(instance_id: str) -> str:
    return f"arn:aws:connect:local:000000000000:instance/{instance_id}"


def contact_event(state: CallState, parameters: Mapping[str, str]) -> dict[str, Any]:
    """Connect's Lambda event for this call."""
    return {
        "Details": {
            "ContactData": {
                "Attributes": dict(state.attributes),
                "Channel": "VOICE",
                "ContactId": state.contact_id,
                "CustomerEndpoint": {"Address": state.customer_address, "Type": "TELEPHONE_NUMBER"},
                "InitialContactId": state.contact_id,
                "InitiationMethod": "API",
                "InstanceARN": instance_arn(state.instance_id),
                "LanguageCode": state.language,
                "PreviousContactId": state.contact_id,
                "Queue": None,
                "SystemEndpoint": {"Address": state.system_address, "Type": "TELEPHONE_NUMBER"},
                "MediaStreams": {},
            },
            "Parameters": dict(parameters),
        },
        "Name": "ContactFlowEvent",
    }


def _compare(op: str, value: str, operand: str) -> bool:
    if op == "Equals":
        return value == operand
    if op == "TextContains":
        return operand in value
    if op == "TextStartsWith":
        return value.startswith(operand)
    if op == "TextEndsWith":
        return value.endswith(operand)
    try:
        a, b = float(value), float(operand)
    except ValueError:
        return False
    return {
        "NumberEquals": a == b,
        "NumberGreaterThan": a > b,
        "NumberGreaterOrEqualTo": a >= b,
        "NumberLessThan": a < b,
        "NumberLessOrEqualTo": a <= b,
    }.get(op, False)


def _match(action: Action, value: str) -> str | None:
    for cond in action.conditions:
        if any(_compare(cond.operator, value, operand) for operand in cond.operands):
            return cond.next_action
    return None


def _prompt(action: Action, state: CallState, data: Mapping[str, Any]) -> Say | None:
    p = action.parameters
    text = resolve(p["Text"], data) if p.get("Text") else ""
    ssml = resolve(p["SSML"], data) if p.get("SSML") else ""
    prompt_id = resolve(p["PromptId"], data) if p.get("PromptId") else ""
    if not (text or ssml or prompt_id):
        return None
    return Say(
        action=action.identifier,
        text=text,
        ssml=ssml,
        prompt_id=prompt_id,
        voice=state.voice,
        engine=state.engine,
        language=state.language,
    )


def _gather(action: Action, state: CallState, data: Mapping[str, Any]) -> Gather:
    p = action.parameters
    stored = str(p.get("StoreInput", "False")).lower() == "true"
    validation = (p.get("InputValidation") or {}).get("CustomValidation") or {}
    dtmf = p.get("DTMFConfiguration") or {}
    return Gather(
        action=action.identifier,
        prompt=_prompt(action, state, data),
        timeout_seconds=float(p.get("InputTimeLimitSeconds", DEFAULT_INPUT_SECONDS)),
        max_digits=int(validation.get("MaximumLength", 20)) if stored else 1,
        terminator=str(dtmf.get("InputTerminationSequence", "#")) if stored else "",
    )


def pending(flow: Flow, state: CallState) -> tuple[Command, ...]:
    """What puts the phone back where the call waits (for a request the provider repeats): the
    input prompt still open, a disconnect when the call has ended, else nothing."""
    if state.done:
        return (Disconnect(state.end_reason or "flow ended"),)
    action = flow.actions.get(state.action or "")
    if state.waiting == "input" and action is not None:
        return (_gather(action, state, flow_data(state)),)
    return ()


def _end(state: CallState, reason: str) -> CallState:
    return replace(state, waiting="done", action=None, end_reason=reason)


def _error(flow: Flow, state: CallState, action: Action, kind: str) -> tuple[CallState, str | None]:
    target = action.on_error(kind)
    if target is None:
        return _end(state, f"{kind} at {action.identifier} ({action.type}) with no branch"), None
    return state, target


def _run(flow: Flow, state: CallState, start: str | None) -> Step:
    """Run actions from ``start`` until the flow waits or ends."""
    commands: list[Command] = []
    current = start
    for _ in range(MAX_ACTIONS_WITHOUT_INPUT):
        if current is None:
            if not state.done:
                state = _end(state, "flow ended")
                commands.append(Disconnect("flow ended"))
            return Step(state, tuple(commands))
        action = flow.action(current)
        state = replace(state, path=(*state.path, action.identifier))
        data = flow_data(state)
        p = action.parameters
        kind = action.type
        nxt: str | None = action.next_action
        if kind == "UpdateFlowLoggingBehavior":
            state = replace(state, logging=p.get("FlowLoggingBehavior") == "Enabled")
        elif kind == "UpdateContactTextToSpeechVoice":
            voice = resolve(p["TextToSpeechVoice"], data)
            engine = str(p.get("TextToSpeechEngine") or "Standard")
            language = str(p.get("LanguageCode") or language_of(voice))
            state = replace(state, voice=voice, engine=engine, language=language)
        elif kind == "UpdateContactData":
            if p.get("LanguageCode"):
                state = replace(state, language=resolve(p["LanguageCode"], data))
        elif kind == "MessageParticipant":
            say = _prompt(action, state, data)
            if say is None:
                state, nxt = _error(flow, state, action, "NoMatchingError")
            else:
                commands.append(say)
        elif kind == "GetParticipantInput":
            commands.append(_gather(action, state, data))
            return Step(replace(state, waiting="input", action=action.identifier), tuple(commands))
        elif kind == "UpdateContactAttributes":
            attrs = dict(state.attributes)
            for key, value in (p.get("Attributes") or {}).items():
                attrs[str(key)] = resolve(value, data)
            state = replace(state, attributes=attrs)
        elif kind == "InvokeLambdaFunction":
            arn = resolve(p["LambdaFunctionARN"], data)
            params = {
                str(k): resolve(v, data)
                for k, v in (p.get("LambdaInvocationAttributes") or {}).items()
            }
            commands.append(
                InvokeFunction(
                    action=action.identifier,
                    function=function_name(arn),
                    event=contact_event(state, params),
                    timeout_seconds=float(
                        p.get("InvocationTimeLimitSeconds", DEFAULT_LAMBDA_SECONDS)
                    ),
                    response_type=str(
                        (p.get("ResponseValidation") or {}).get("ResponseType", "STRING_MAP")
                    ),
                )
            )
            return Step(
                replace(state, waiting="function", action=action.identifier), tuple(commands)
            )
        elif kind == "Compare":
            target = _match(action, resolve(p["ComparisonValue"], data))
            if target is None:
                state, nxt = _error(flow, state, action, "NoMatchingCondition")
            else:
                nxt = target
        elif kind == "CheckOutboundCallStatus":
            target = _match(action, state.outbound_status)
            if target is None:
                state, nxt = _error(flow, state, action, "NoMatchingCondition")
            else:
                nxt = target
        elif kind == "TransferToFlow":
            ref = resolve(p["ContactFlowId"], data)
            commands.append(LoadFlow(action=action.identifier, flow_ref=ref))
            return Step(replace(state, waiting="flow", action=action.identifier), tuple(commands))
        elif kind == "MarkReached":
            commands.append(
                MarkReached(
                    action=action.identifier,
                    status=str(p.get("Status") or "COMPLETED"),
                    attribute=str(p.get("Attribute") or "CallStatus"),
                    others=str(p.get("Others") or "CANCELED"),
                )
            )
            state = replace(state, reached=True)
        elif kind in ("DisconnectParticipant", "EndFlowExecution"):
            state = _end(state, "flow disconnected" if kind == "DisconnectParticipant" else kind)
            commands.append(Disconnect(state.end_reason or "flow disconnected"))
            return Step(state, tuple(commands))
        if state.done:
            commands.append(Disconnect(state.end_reason or "flow ended"))
            return Step(state, tuple(commands))
        current = nxt
    state = _end(state, f"flow ran {MAX_ACTIONS_WITHOUT_INPUT} actions without input (a loop)")
    commands.append(Disconnect(state.end_reason or ""))
    return Step(state, tuple(commands))


def _continue(flow: Flow, state: CallState, target: str | None) -> Step:
    return _run(flow, replace(state, waiting="answer", action=None), target)


def _string_map(result: Any) -> bool:
    return isinstance(result, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in result.items()
    )


def advance(flow: Flow, state: CallState, event: Event) -> Step:
    """Feed ``event`` to the call; ``flow`` is the flow ``state.flow_id`` names (or, for
    :class:`FlowLoaded`, the flow transferred to)."""
    if state.done:
        return Step(state, ())
    if isinstance(event, HungUp):
        return Step(_end(state, event.reason), ())
    if isinstance(event, Answered):
        if state.waiting != "answer" or state.path:
            return Step(state, ())
        started = replace(state, outbound_status=event.status)
        return _run(flow, started, flow.start_action)
    if state.waiting == "flow" and isinstance(event, FlowLoaded):
        # ``flow`` is now the flow transferred to: run it from its start.
        return _continue(flow, replace(state, flow_id=event.flow_id), flow.start_action)
    action = flow.actions.get(state.action or "")
    if action is None:
        return Step(state, ())
    target: str | None
    if state.waiting == "input" and isinstance(event, Digits | InputTimeout):
        if isinstance(event, InputTimeout):
            state = replace(state, inputs=(*state.inputs, ""))
            state, target = _error(flow, state, action, "InputTimeLimitExceeded")
        else:
            digits = event.digits
            state = replace(state, inputs=(*state.inputs, digits))
            if str(action.parameters.get("StoreInput", "False")).lower() == "true":
                state, target = replace(state, stored_input=digits), action.next_action
            else:
                target = _match(action, digits)
                if target is None:
                    state, target = _error(flow, state, action, "NoMatchingCondition")
        if state.done:
            return Step(state, (Disconnect(state.end_reason or ""),))
        return _continue(flow, state, target)
    if state.waiting == "function" and isinstance(event, FunctionReturned | FunctionFailed):
        response_type = (action.parameters.get("ResponseValidation") or {}).get(
            "ResponseType", "STRING_MAP"
        )
        ok = isinstance(event, FunctionReturned) and (
            _string_map(event.result)
            if response_type == "STRING_MAP"
            else isinstance(event.result, Mapping)
        )
        if ok and isinstance(event, FunctionReturned):
            state = replace(state, external=dict(event.result))
            target = action.next_action
        else:
            state, target = _error(flow, state, action, "NoMatchingError")
        if state.done:
            return Step(state, (Disconnect(state.end_reason or ""),))
        return _continue(flow, state, target)
    if state.waiting == "flow" and isinstance(event, FlowMissing):
        state, target = _error(flow, state, action, "NoMatchingError")
        if state.done:
            return Step(state, (Disconnect(state.end_reason or ""),))
        return _continue(flow, state, target)
    return Step(state, ())
