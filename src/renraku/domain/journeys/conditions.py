"""Split and exit conditions: Pinpoint's ``Condition`` / ``SimpleCondition`` over a participant.

Segment conditions read ``Facts.in_segment`` (computed by the engine, keyed by :func:`segment_key`);
event conditions read the participant's events since it entered. Event types may be written as
Pinpoint's (``_email.open``, ``EMAIL_OPEN``) or as renraku's event kinds (``email.opened``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from renraku.domain.journeys.model import Event, Facts, Participant

# Pinpoint spellings -> renraku event kinds (and, for calls, the outcome they require).
EVENT_ALIASES: dict[str, tuple[str, str | None]] = {
    "_email.send": ("send.sent", None),
    "_email.delivered": ("email.delivered", None),
    "EMAIL_DELIVERED": ("email.delivered", None),
    "_email.open": ("email.opened", None),
    "EMAIL_OPEN": ("email.opened", None),
    "EMAIL_OPENED": ("email.opened", None),
    "_email.click": ("email.clicked", None),
    "EMAIL_CLICK": ("email.clicked", None),
    "EMAIL_CLICKED": ("email.clicked", None),
    "_email.hardbounce": ("email.bounced", None),
    "_email.softbounce": ("email.bounced", None),
    "EMAIL_BOUNCED": ("email.bounced", None),
    "_email.complaint": ("email.complained", None),
    "_SMS.SUCCESS": ("sms.delivered", None),
    "SMS_DELIVERED": ("sms.delivered", None),
    "_SMS.FAILURE": ("sms.failed", None),
    "_SMS.OPTOUT": ("sms.opted_out", None),
    "CALL_ANSWERED": ("call.completed", "ANSWERED"),
    "CALL_NO_ANSWER": ("call.completed", "NO_ANSWER"),
    "CALL_BUSY": ("call.completed", "BUSY"),
    "CALL_VOICEMAIL": ("call.completed", "VOICEMAIL"),
    "CALL_FAILED": ("call.completed", "FAILED"),
}


def segment_key(simple: Mapping[str, Any]) -> str | None:
    """The ``Facts.in_segment`` key a simple condition reads, if it is a segment condition."""
    sc = simple.get("SegmentCondition")
    if isinstance(sc, Mapping) and sc.get("SegmentId"):
        return str(sc["SegmentId"])
    dims = simple.get("SegmentDimensions")
    if isinstance(dims, Mapping):
        return "dims:" + json.dumps(dims, sort_keys=True, separators=(",", ":"))
    return None


def simple_conditions(condition: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not isinstance(condition, Mapping):
        return []
    return [c for c in condition.get("Conditions") or [] if isinstance(c, Mapping)]


def _set_matches(dim: Mapping[str, Any] | None, values: Iterable[str]) -> bool:
    if not dim:
        return True
    wanted = {str(v) for v in dim.get("Values") or []}
    hit = any(str(v) in wanted for v in values)
    return not hit if dim.get("DimensionType") == "EXCLUSIVE" else hit


def _attr_matches(dim: Mapping[str, Any], value: Any) -> bool:
    wanted = [str(v) for v in dim.get("Values") or []]
    kind = dim.get("AttributeType", "INCLUSIVE")
    text = "" if value is None else str(value)
    if kind == "EXCLUSIVE":
        return text not in wanted
    if kind == "CONTAINS":
        return any(w in text for w in wanted)
    if kind == "BEFORE":
        return any(text < w for w in wanted)
    if kind == "AFTER":
        return any(text > w for w in wanted)
    return text in wanted


def _metric_matches(dim: Mapping[str, Any], value: Any) -> bool:
    try:
        x, y = float(value), float(dim.get("Value", 0))
    except (TypeError, ValueError):
        return False
    op = dim.get("ComparisonOperator", "EQUAL")
    return {
        "GREATER_THAN": x > y,
        "LESS_THAN": x < y,
        "GREATER_THAN_OR_EQUAL": x >= y,
        "LESS_THAN_OR_EQUAL": x <= y,
    }.get(op, x == y)


def event_type_names(event: Event) -> set[str]:
    """Every name an event answers to in an ``EventType`` dimension."""
    names = {event.kind}
    if event.data.get("EventType"):
        names.add(str(event.data["EventType"]))
    for alias, (kind, outcome) in EVENT_ALIASES.items():
        if kind == event.kind and (outcome is None or event.data.get("Outcome") == outcome):
            names.add(alias)
    return names


def event_matches(dimensions: Mapping[str, Any] | None, event: Event) -> bool:
    """Whether ``event`` passes Pinpoint ``EventDimensions`` (EventType, Attributes, Metrics)."""
    dims = dimensions or {}
    if not _set_matches(dims.get("EventType"), event_type_names(event)):
        return False
    attrs = event.data.get("Attributes") or {}
    for name, dim in (dims.get("Attributes") or {}).items():
        if not _attr_matches(dim, attrs.get(name)):
            return False
    metrics = event.data.get("Metrics") or {}
    return all(
        _metric_matches(dim, metrics.get(name)) for name, dim in (dims.get("Metrics") or {}).items()
    )


def simple_holds(
    simple: Mapping[str, Any], participant: Participant, facts: Facts, now: str
) -> bool:
    """Whether one ``SimpleCondition`` holds for the participant at ``now``."""
    key = segment_key(simple)
    if key is not None:
        return bool(facts.in_segment.get(key, False))
    ec = simple.get("EventCondition")
    if isinstance(ec, Mapping):
        activity = ec.get("MessageActivity")
        for event in facts.events:
            if event.occurred_at > now or event.occurred_at < participant.entered_at:
                continue
            if activity and event.activity_id != activity:
                continue
            if event_matches(ec.get("Dimensions"), event):
                return True
        return False
    return False


def condition_holds(
    condition: Mapping[str, Any] | None, participant: Participant, facts: Facts, now: str
) -> bool:
    """A ``Condition`` (``Conditions`` joined by ``Operator`` ALL or ANY; ALL when absent)."""
    simples = simple_conditions(condition)
    if not simples:
        return False
    results = (simple_holds(s, participant, facts, now) for s in simples)
    op = (condition or {}).get("Operator", "ALL")
    return any(results) if op == "ANY" else all(results)
