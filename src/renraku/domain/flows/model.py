"""Contact flows in Amazon Connect's flow language, parsed and validated whole.

A flow is ``{"Version": "2019-10-30", "StartAction": ID, "Actions": [{"Identifier", "Type",
"Parameters", "Transitions": {"NextAction", "Conditions", "Errors"}}], "Metadata": {...}}`` as the
Connect console exports it. :func:`parse_flow` accepts only actions renraku can run: a flow with any
other action is rejected with that action's identifier and type, so a flow never half-runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from renraku.errors import InvalidInput, Problem

FLOW_VERSION = "2019-10-30"

# Action type -> the error types its Transitions.Errors may name.
SUPPORTED_ACTIONS: Mapping[str, frozenset[str]] = {
    "UpdateFlowLoggingBehavior": frozenset(),
    "UpdateContactTextToSpeechVoice": frozenset({"NoMatchingError"}),
    "UpdateContactData": frozenset({"NoMatchingError"}),  # LanguageCode (the console's "Set voice")
    "MessageParticipant": frozenset({"NoMatchingError"}),
    "GetParticipantInput": frozenset(
        {"InputTimeLimitExceeded", "NoMatchingCondition", "NoMatchingError"}
    ),
    "UpdateContactAttributes": frozenset({"NoMatchingError"}),
    "InvokeLambdaFunction": frozenset({"NoMatchingError"}),
    "Compare": frozenset({"NoMatchingCondition", "NoMatchingError"}),
    "CheckOutboundCallStatus": frozenset({"NoMatchingCondition", "NoMatchingError"}),
    "TransferToFlow": frozenset({"NoMatchingError"}),
    "DisconnectParticipant": frozenset(),
    "EndFlowExecution": frozenset(),
    "MarkReached": frozenset({"NoMatchingError"}),  # renraku's own: the participant was reached
}
TERMINAL_ACTIONS = frozenset({"DisconnectParticipant", "EndFlowExecution"})
# Actions that wait for the callee; a cycle through none of them would spin forever.
INPUT_ACTIONS = frozenset({"GetParticipantInput"})

OPERATORS = frozenset(
    {
        "Equals",
        "NumberEquals",
        "NumberGreaterThan",
        "NumberGreaterOrEqualTo",
        "NumberLessThan",
        "NumberLessOrEqualTo",
        "TextContains",
        "TextStartsWith",
        "TextEndsWith",
    }
)
OUTBOUND_STATUSES = frozenset({"CallAnswered", "VoicemailBeep", "VoicemailNoBeep", "NotDetected"})
MAX_LAMBDA_SECONDS = 8
MAX_INPUT_SECONDS = 180


@dataclass(frozen=True, slots=True)
class Condition:
    """A branch: when ``operator`` holds for ``operands``, go to ``next_action``."""

    next_action: str
    operator: str
    operands: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Action:
    """One flow action with its parameters and transitions."""

    identifier: str
    type: str
    parameters: Mapping[str, Any]
    next_action: str | None = None
    conditions: tuple[Condition, ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)  # ErrorType -> NextAction

    def on_error(self, kind: str) -> str | None:
        """Where the flow goes on error ``kind`` (falling back to NoMatchingError)."""
        return self.errors.get(kind) or self.errors.get("NoMatchingError")


@dataclass(frozen=True, slots=True)
class Flow:
    """A validated flow: its start and its actions by identifier."""

    start_action: str
    actions: Mapping[str, Action]
    version: str = FLOW_VERSION
    source: Mapping[str, Any] = field(default_factory=dict)  # the JSON as given

    def action(self, identifier: str) -> Action:
        return self.actions[identifier]


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        return str(value)
    return None


def _parse_action(raw: Any, path: str, problems: list[Problem]) -> Action | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "each action must be a JSON object"))
        return None
    ident = raw.get("Identifier")
    kind = raw.get("Type")
    if not isinstance(ident, str) or not ident:
        problems.append(Problem(f"{path}.Identifier", "required: a non-empty string"))
        return None
    where = f"Actions[{ident}]"
    if not isinstance(kind, str) or not kind:
        problems.append(Problem(f"{where}.Type", "required: a non-empty string"))
        return None
    if kind not in SUPPORTED_ACTIONS:
        problems.append(
            Problem(
                f"{where}.Type",
                f"action {ident!r} has type {kind!r}, which renraku does not run; supported: "
                + ", ".join(sorted(SUPPORTED_ACTIONS)),
            )
        )
        return None
    params = raw.get("Parameters", {})
    if not isinstance(params, Mapping):
        problems.append(Problem(f"{where}.Parameters", "must be a JSON object"))
        params = {}
    trans = raw.get("Transitions", {})
    if not isinstance(trans, Mapping):
        problems.append(Problem(f"{where}.Transitions", "must be a JSON object"))
        trans = {}
    conditions: list[Condition] = []
    for i, cond in enumerate(trans.get("Conditions") or []):
        cpath = f"{where}.Transitions.Conditions[{i}]"
        body = cond.get("Condition") if isinstance(cond, Mapping) else None
        nxt = cond.get("NextAction") if isinstance(cond, Mapping) else None
        if not isinstance(body, Mapping) or not isinstance(nxt, str):
            problems.append(Problem(cpath, "needs NextAction and Condition {Operator, Operands}"))
            continue
        op = body.get("Operator")
        operands = body.get("Operands")
        if op not in OPERATORS:
            problems.append(
                Problem(f"{cpath}.Condition.Operator", f"{op!r} is not one of {sorted(OPERATORS)}")
            )
            continue
        if not isinstance(operands, list) or not operands or _text(operands[0]) is None:
            problems.append(Problem(f"{cpath}.Condition.Operands", "needs one or more values"))
            continue
        conditions.append(Condition(nxt, str(op), tuple(str(_text(o)) for o in operands)))
    errors: dict[str, str] = {}
    allowed = SUPPORTED_ACTIONS[kind]
    for i, err in enumerate(trans.get("Errors") or []):
        epath = f"{where}.Transitions.Errors[{i}]"
        if not isinstance(err, Mapping):
            problems.append(Problem(epath, "needs NextAction and ErrorType"))
            continue
        etype, nxt = err.get("ErrorType"), err.get("NextAction")
        if etype not in allowed:
            problems.append(
                Problem(
                    f"{epath}.ErrorType",
                    f"{etype!r} is not an error of {kind}; allowed: {sorted(allowed) or 'none'}",
                )
            )
            continue
        if not isinstance(nxt, str):
            problems.append(Problem(f"{epath}.NextAction", "required: an action identifier"))
            continue
        errors[str(etype)] = nxt
    nxt = trans.get("NextAction")
    if nxt is not None and not isinstance(nxt, str):
        problems.append(Problem(f"{where}.Transitions.NextAction", "must be an identifier"))
        nxt = None
    action = Action(ident, kind, dict(params), nxt, tuple(conditions), errors)
    _check_parameters(action, where, problems)
    return action


def _seconds(value: Any, where: str, limit: int, problems: list[Problem]) -> None:
    text = _text(value)
    try:
        number = float(text) if text is not None else -1.0
    except ValueError:
        number = -1.0
    if not 0 < number <= limit:
        problems.append(Problem(where, f"{value!r} must be a number of seconds in 1..{limit}"))


def _check_parameters(action: Action, where: str, problems: list[Problem]) -> None:
    p = action.parameters
    kind = action.type
    if kind in ("MessageParticipant", "GetParticipantInput"):
        given = [k for k in ("Text", "SSML", "PromptId") if p.get(k) not in (None, "")]
        if len(given) > 1:
            problems.append(
                Problem(f"{where}.Parameters", f"give one of Text, SSML, PromptId (got {given})")
            )
        if kind == "MessageParticipant" and not given:
            problems.append(Problem(f"{where}.Parameters", "needs Text, SSML or PromptId"))
    if kind == "GetParticipantInput":
        if "InputTimeLimitSeconds" in p:
            _seconds(
                p["InputTimeLimitSeconds"],
                f"{where}.Parameters.InputTimeLimitSeconds",
                MAX_INPUT_SECONDS,
                problems,
            )
        stored = str(p.get("StoreInput", "False")).lower() == "true"
        if not stored and not action.conditions and "NoMatchingCondition" not in action.errors:
            problems.append(
                Problem(f"{where}.Transitions", "needs Conditions on the digits (or StoreInput)")
            )
    if kind == "UpdateContactData" and "LanguageCode" in p and not _text(p.get("LanguageCode")):
        problems.append(Problem(f"{where}.Parameters.LanguageCode", "must be like ja-JP"))
    if kind == "UpdateContactTextToSpeechVoice" and not _text(p.get("TextToSpeechVoice")):
        problems.append(Problem(f"{where}.Parameters.TextToSpeechVoice", "required: a voice"))
    if kind == "UpdateContactAttributes":
        attrs = p.get("Attributes")
        if not isinstance(attrs, Mapping) or not attrs:
            problems.append(Problem(f"{where}.Parameters.Attributes", "needs key/value pairs"))
        else:
            for key, value in attrs.items():
                if _text(value) is None:
                    problems.append(
                        Problem(f"{where}.Parameters.Attributes.{key}", "must be a string")
                    )
    if kind == "InvokeLambdaFunction":
        if not _text(p.get("LambdaFunctionARN")):
            problems.append(Problem(f"{where}.Parameters.LambdaFunctionARN", "required"))
        if "InvocationTimeLimitSeconds" in p:
            _seconds(
                p["InvocationTimeLimitSeconds"],
                f"{where}.Parameters.InvocationTimeLimitSeconds",
                MAX_LAMBDA_SECONDS,
                problems,
            )
        rtype = (p.get("ResponseValidation") or {}).get("ResponseType", "STRING_MAP")
        if rtype not in ("STRING_MAP", "JSON"):
            problems.append(
                Problem(f"{where}.Parameters.ResponseValidation", "ResponseType: STRING_MAP|JSON")
            )
    if kind == "Compare" and _text(p.get("ComparisonValue")) is None:
        problems.append(Problem(f"{where}.Parameters.ComparisonValue", "required"))
    if kind == "CheckOutboundCallStatus":
        for i, cond in enumerate(action.conditions):
            for operand in cond.operands:
                if operand not in OUTBOUND_STATUSES:
                    problems.append(
                        Problem(
                            f"{where}.Transitions.Conditions[{i}]",
                            f"{operand!r} is not one of {sorted(OUTBOUND_STATUSES)}",
                        )
                    )
    if kind == "TransferToFlow" and not _text(p.get("ContactFlowId")):
        problems.append(Problem(f"{where}.Parameters.ContactFlowId", "required"))
    if kind == "UpdateFlowLoggingBehavior" and p.get("FlowLoggingBehavior") not in (
        "Enabled",
        "Disabled",
    ):
        problems.append(
            Problem(f"{where}.Parameters.FlowLoggingBehavior", "must be Enabled or Disabled")
        )
    if (
        kind not in TERMINAL_ACTIONS
        and kind != "TransferToFlow"
        and action.next_action is None
        and not action.conditions
        and not action.errors
    ):
        problems.append(Problem(f"{where}.Transitions.NextAction", "required"))


def _targets(action: Action) -> list[str]:
    out = [action.next_action] if action.next_action else []
    out += [c.next_action for c in action.conditions]
    out += list(action.errors.values())
    return out


def _find_silent_cycle(actions: Mapping[str, Action]) -> list[str] | None:
    """A cycle of actions none of which waits for the callee, if there is one."""
    graph = {
        ident: [t for t in _targets(a) if t in actions and actions[t].type not in INPUT_ACTIONS]
        for ident, a in actions.items()
        if a.type not in INPUT_ACTIONS
    }
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if colour.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in colour:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = 2
        return None

    for node in sorted(graph):
        if node not in colour:
            found = visit(node)
            if found:
                return found
    return None


def parse_flow(data: Any, *, source: str = "flow") -> Flow:
    """The flow in ``data`` (Connect flow-language JSON), or InvalidInput listing every problem."""
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        raise InvalidInput([Problem(source, "a flow must be a JSON object")], subject="flow")
    version = data.get("Version", FLOW_VERSION)
    if version != FLOW_VERSION:
        problems.append(Problem("Version", f"{version!r}: renraku reads {FLOW_VERSION!r}"))
    raw_actions = data.get("Actions")
    if not isinstance(raw_actions, Sequence) or isinstance(raw_actions, str) or not raw_actions:
        problems.append(Problem("Actions", "required: a non-empty list of actions"))
        raw_actions = []
    actions: dict[str, Action] = {}
    for i, raw in enumerate(raw_actions):
        try:
            action = _parse_action(raw, f"Actions[{i}]", problems)
            if action is not None:
                hash(action.identifier)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
            # a value of an unexpected type deep inside the action (found by fuzzing)
            problems.append(Problem(f"Actions[{i}]", f"has a value of the wrong shape ({exc})"))
            continue
        if action is None:
            continue
        if action.identifier in actions:
            problems.append(
                Problem(f"Actions[{i}].Identifier", f"{action.identifier!r} is used twice")
            )
            continue
        actions[action.identifier] = action
    start = data.get("StartAction")
    if not isinstance(start, str) or not start:
        problems.append(Problem("StartAction", "required: the identifier of the first action"))
        start = ""
    elif actions and start not in actions and not problems:
        problems.append(Problem("StartAction", f"{start!r} is not an action of this flow"))
    names = {
        r.get("Identifier")
        for r in raw_actions
        if isinstance(r, Mapping) and isinstance(r.get("Identifier"), str)
    }  # rejected ones count as known, so one problem is reported once
    for action in actions.values():
        for target in _targets(action):
            if target not in names:
                problems.append(
                    Problem(
                        f"Actions[{action.identifier}].Transitions",
                        f"goes to {target!r}, which is not an action of this flow",
                    )
                )
    if not problems:
        cycle = _find_silent_cycle(actions)
        if cycle:
            problems.append(
                Problem(
                    "Actions",
                    "loops without waiting for input: " + " -> ".join(cycle),
                )
            )
    if problems:
        raise InvalidInput(problems, subject=source)
    return Flow(start_action=start, actions=actions, version=str(version), source=dict(data))


def unreachable(flow: Flow) -> list[str]:
    """Actions no path from the start reaches (harmless, but usually a forgotten connection)."""
    seen: set[str] = set()
    todo = [flow.start_action]
    while todo:
        ident = todo.pop()
        if ident in seen or ident not in flow.actions:
            continue
        seen.add(ident)
        todo.extend(_targets(flow.actions[ident]))
    return sorted(set(flow.actions) - seen)


def action_types(flow: Flow) -> list[str]:
    """The distinct action types a flow uses, sorted."""
    return sorted({a.type for a in flow.actions.values()})
