"""Structural validation of a journey definition, every problem with its path.

Checks the shape of each field, dangling and unreachable activities, a missing start, cycles that
never wait, random-split percentages, limits and windows. Whether named templates and segments
exist is checked by the service (it needs the store) with :func:`references`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from renraku.domain.journeys.conditions import simple_conditions
from renraku.domain.journeys.model import (
    ACTIVITY_KINDS,
    CALL_OUTCOMES,
    UNSUPPORTED_KINDS,
    VOICE_BRANCH_OUTCOMES,
    Activity,
    build_journey,
    parse_duration,
)
from renraku.domain.journeys.windows import WEEKDAYS, parse_hhmm, parse_zone
from renraku.errors import Problem

TOP_LEVEL = {
    "Activities",
    "CreationDate",
    "JourneyChannelSettings",
    "LastModifiedDate",
    "LocalTime",
    "Limits",
    "Name",
    "QuietTime",
    "RefreshFrequency",
    "RefreshOnSegmentUpdate",
    "Schedule",
    "StartActivity",
    "StartCondition",
    "State",
    "WaitForQuietTime",
    "SendingSchedule",
    "OpenHours",
    "ClosedDays",
    "TimezoneEstimationMethods",
    "ExitCriteria",
    "Description",
    "tags",
    "Id",
    "ApplicationId",
    "Arn",
    "Version",
}
LIMIT_RANGES = {
    "DailyCap": (0, 100),
    "TotalCap": (0, 100),
    "EndpointReentryCap": (0, 100),
    "MessagesPerSecond": (1, 20000),
}
CHANNELS = ("EMAIL", "SMS", "PUSH", "VOICE", "CUSTOM")
STATES = ("DRAFT", "ACTIVE", "COMPLETED", "CANCELLED", "CLOSED", "PAUSED")


def _duration(problems: list[Problem], path: str, value: Any) -> None:
    try:
        parse_duration(str(value))
    except ValueError as exc:
        problems.append(Problem(path, str(exc)))


def _instant(problems: list[Problem], path: str, value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        problems.append(Problem(path, f"{value!r} is not an ISO-8601 date and time"))
        return None


def _wait_time(problems: list[Problem], path: str, value: Any, *, required: bool) -> None:
    if value is None:
        if required:
            problems.append(Problem(path, "required (WaitFor or WaitUntil)"))
        return
    if not isinstance(value, Mapping) or not (value.get("WaitFor") or value.get("WaitUntil")):
        problems.append(Problem(path, "needs WaitFor (a duration like PT1H) or WaitUntil"))
        return
    if value.get("WaitFor"):
        _duration(problems, f"{path}.WaitFor", value["WaitFor"])
    if value.get("WaitUntil"):
        _instant(problems, f"{path}.WaitUntil", value["WaitUntil"])


def _condition(problems: list[Problem], path: str, cond: Any) -> None:
    if not isinstance(cond, Mapping) or not simple_conditions(cond):
        problems.append(Problem(path, "needs Conditions: a list of at least one condition"))
        return
    if cond.get("Operator", "ALL") not in ("ALL", "ANY"):
        problems.append(Problem(f"{path}.Operator", "must be ALL or ANY"))
    for i, simple in enumerate(cond.get("Conditions") or []):
        _simple(problems, f"{path}.Conditions[{i}]", simple)


def _simple(problems: list[Problem], path: str, simple: Any) -> None:
    kinds = [
        k
        for k in ("EventCondition", "SegmentCondition", "SegmentDimensions")
        if isinstance(simple, Mapping) and k in simple
    ]
    if len(kinds) != 1:
        problems.append(
            Problem(
                path, "needs exactly one of EventCondition, SegmentCondition, SegmentDimensions"
            )
        )
        return
    if kinds[0] == "SegmentCondition" and not (simple["SegmentCondition"] or {}).get("SegmentId"):
        problems.append(Problem(f"{path}.SegmentCondition.SegmentId", "required"))


def _activity(problems: list[Problem], path: str, body: Any) -> None:
    if not isinstance(body, Mapping):
        problems.append(Problem(path, "an activity is an object with one activity type key"))
        return
    kinds = [k for k in body if k in ACTIVITY_KINDS]
    unknown = [k for k in body if k not in ACTIVITY_KINDS and k not in ("Description", "Id")]
    for k in unknown:
        problems.append(
            Problem(f"{path}.{k}", f"unknown activity type (known: {', '.join(ACTIVITY_KINDS)})")
        )
    if len(kinds) != 1:
        if not unknown:
            problems.append(Problem(path, "needs exactly one activity type key"))
        return
    kind = kinds[0]
    spec = body[kind] if body[kind] is not None else {}
    here = f"{path}.{kind}"
    if not isinstance(spec, Mapping):
        problems.append(Problem(here, "must be an object"))
        return
    if kind in UNSUPPORTED_KINDS:
        problems.append(Problem(here, f"{kind} is accepted but not supported: no {kind} channel"))
    if kind in ("EMAIL", "SMS") and not spec.get("TemplateName"):
        problems.append(Problem(f"{here}.TemplateName", "required"))
    if kind == "CUSTOM":
        types = spec.get("EndpointTypes") or []
        if not types:
            problems.append(
                Problem(f"{here}.EndpointTypes", "required: the endpoint types to address")
            )
        for i, t in enumerate(types):
            if t not in CHANNELS and t not in ("GCM", "APNS", "BAIDU", "ADM", "IN_APP"):
                problems.append(Problem(f"{here}.EndpointTypes[{i}]", f"unknown channel {t!r}"))
    if kind == "VOICE":
        _voice(problems, here, spec)
    if kind == "Wait":
        _wait_time(problems, f"{here}.WaitTime", spec.get("WaitTime"), required=True)
    if (
        kind in ("ConditionalSplit", "MultiCondition")
        and spec.get("EvaluationWaitTime") is not None
    ):
        _wait_time(
            problems, f"{here}.EvaluationWaitTime", spec["EvaluationWaitTime"], required=False
        )
    if kind == "ConditionalSplit":
        _condition(problems, f"{here}.Condition", spec.get("Condition"))
    if kind == "MultiCondition":
        branches = spec.get("Branches") or []
        if not branches:
            problems.append(Problem(f"{here}.Branches", "needs at least one branch"))
        for i, b in enumerate(branches):
            _simple(problems, f"{here}.Branches[{i}].Condition", (b or {}).get("Condition"))
    if kind == "RandomSplit":
        branches = spec.get("Branches") or []
        total = sum(int((b or {}).get("Percentage") or 0) for b in branches)
        if total != 100:
            problems.append(Problem(f"{here}.Branches", f"percentages sum to {total}, not 100"))
    if kind == "Holdout" and not 0 <= int(spec.get("Percentage", -1)) <= 100:
        problems.append(Problem(f"{here}.Percentage", "required, 0 to 100"))
    if kind == "WaitForEvent":
        if spec.get("Timeout") is not None:
            _wait_time(problems, f"{here}.Timeout", spec["Timeout"], required=False)
        if not ((spec.get("EventFilter") or {}).get("Dimensions") or spec.get("Dimensions")):
            problems.append(Problem(f"{here}.EventFilter.Dimensions", "required: which event"))


def _voice(problems: list[Problem], here: str, spec: Mapping[str, Any]) -> None:
    if not spec.get("ContactFlowId"):
        problems.append(Problem(f"{here}.ContactFlowId", "required: the contact flow to run"))
    if spec.get("Timeout") is not None:
        _wait_time(problems, f"{here}.Timeout", spec["Timeout"], required=False)
    branches = spec.get("Branches") or {}
    allowed = {*VOICE_BRANCH_OUTCOMES, "Digits", "Timeout"}
    for label in branches:
        if label not in allowed:
            problems.append(
                Problem(
                    f"{here}.Branches.{label}",
                    f"unknown branch (known: {', '.join(sorted(allowed))})",
                )
            )
    retry = spec.get("Retry") or {}
    if retry:
        if not 1 <= int(retry.get("MaxAttempts", 1)) <= 10:
            problems.append(Problem(f"{here}.Retry.MaxAttempts", "1 to 10"))
        if retry.get("Interval") is not None:
            _duration(problems, f"{here}.Retry.Interval", retry["Interval"])
        for i, o in enumerate(retry.get("On") or []):
            if o not in (*CALL_OUTCOMES, "TIMEOUT"):
                problems.append(Problem(f"{here}.Retry.On[{i}]", f"unknown outcome {o!r}"))


def _windows(problems: list[Problem], d: Mapping[str, Any]) -> None:
    qt = d.get("QuietTime")
    if qt:
        for key in ("Start", "End"):
            try:
                parse_hhmm(str((qt or {}).get(key)))
            except ValueError as exc:
                problems.append(Problem(f"QuietTime.{key}", str(exc)))
    for channel, days in (d.get("OpenHours") or {}).items():
        if channel not in CHANNELS:
            problems.append(Problem(f"OpenHours.{channel}", "unknown channel"))
        for day, rules in (days or {}).items():
            if day not in WEEKDAYS:
                problems.append(
                    Problem(f"OpenHours.{channel}.{day}", "not a weekday (MONDAY..SUNDAY)")
                )
            for i, rule in enumerate(rules or []):
                for key in ("StartTime", "EndTime"):
                    try:
                        parse_hhmm(str((rule or {}).get(key)))
                    except ValueError as exc:
                        problems.append(Problem(f"OpenHours.{channel}.{day}[{i}].{key}", str(exc)))
    for channel, rules in (d.get("ClosedDays") or {}).items():
        for i, rule in enumerate(rules or []):
            for key in ("StartDateTime", "EndDateTime"):
                _instant(problems, f"ClosedDays.{channel}[{i}].{key}", (rule or {}).get(key))
    for i, m in enumerate(d.get("TimezoneEstimationMethods") or []):
        if m not in ("PHONE_NUMBER", "POSTAL_CODE"):
            problems.append(
                Problem(f"TimezoneEstimationMethods[{i}]", "PHONE_NUMBER or POSTAL_CODE")
            )
    for key in ("RefreshOnSegmentUpdate", "WaitForQuietTime", "SendingSchedule"):
        if key in d and d[key] is not None and not isinstance(d[key], bool):
            problems.append(Problem(key, f"must be true or false, not {d[key]!r}"))


def _limits_and_schedule(problems: list[Problem], d: Mapping[str, Any]) -> None:
    limits = d.get("Limits") or {}
    for key, (lo, hi) in LIMIT_RANGES.items():
        if key in limits and not (isinstance(limits[key], int) and lo <= limits[key] <= hi):
            problems.append(Problem(f"Limits.{key}", f"must be an integer from {lo} to {hi}"))
    if limits.get("EndpointReentryInterval"):
        _duration(problems, "Limits.EndpointReentryInterval", limits["EndpointReentryInterval"])
    tf = limits.get("TimeframeCap")
    if tf is not None and not (
        isinstance(tf, Mapping)
        and 1 <= int(tf.get("Days") or 0) <= 30
        and 1 <= int(tf.get("Cap") or 0) <= 100
    ):
        problems.append(Problem("Limits.TimeframeCap", "needs Days (1-30) and Cap (1-100)"))
    schedule = d.get("Schedule") or {}
    start = (
        _instant(problems, "Schedule.StartTime", schedule["StartTime"])
        if schedule.get("StartTime")
        else None
    )
    end = (
        _instant(problems, "Schedule.EndTime", schedule["EndTime"])
        if schedule.get("EndTime")
        else None
    )
    if start and end and start.tzinfo and end.tzinfo and end <= start:
        problems.append(Problem("Schedule.EndTime", "must be after Schedule.StartTime"))
    if schedule.get("Timezone") and parse_zone(str(schedule["Timezone"])) is None:
        problems.append(
            Problem("Schedule.Timezone", "not a zone (UTC+09, UTC-03:30 or an IANA name)")
        )
    if d.get("RefreshFrequency"):
        _duration(problems, "RefreshFrequency", d["RefreshFrequency"])
    if d.get("State") is not None and d["State"] not in STATES:
        problems.append(Problem("State", f"one of {', '.join(STATES)}"))
    sc = d.get("StartCondition") or {}
    if not (sc.get("SegmentStartCondition") or sc.get("EventStartCondition")):
        problems.append(
            Problem("StartCondition", "needs SegmentStartCondition or EventStartCondition")
        )
    seg = sc.get("SegmentStartCondition")
    if seg is not None and not (seg or {}).get("SegmentId"):
        problems.append(Problem("StartCondition.SegmentStartCondition.SegmentId", "required"))
    if d.get("ExitCriteria") is not None:
        _condition(problems, "ExitCriteria", d["ExitCriteria"])


def _graph(problems: list[Problem], d: Mapping[str, Any]) -> None:
    journey = build_journey("", "", 0, d)
    acts = journey.activities
    start = d.get("StartActivity")
    if not start:
        problems.append(Problem("StartActivity", "required: the id of the first activity"))
    elif start not in acts:
        problems.append(Problem("StartActivity", f"no activity {start!r}"))
    for act in acts.values():
        for label, target in act.successors():
            if target not in acts:
                problems.append(
                    Problem(
                        f"Activities.{act.id}.{act.kind}",
                        f"{label} goes to missing activity {target!r}",
                    )
                )
    if start in acts:
        seen = _reachable(acts, str(start))
        for act_id in acts:
            if act_id not in seen:
                problems.append(Problem(f"Activities.{act_id}", "unreachable from StartActivity"))
    for cycle in _cycles_without_wait(acts):
        problems.append(
            Problem(f"Activities.{cycle[0]}", f"cycle without a wait: {' -> '.join(cycle)}")
        )


def _reachable(acts: Mapping[str, Activity], start: str) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for _, t in acts[todo.pop()].successors():
            if t in acts and t not in seen:
                seen.add(t)
                todo.append(t)
    return seen


def _cycles_without_wait(acts: Mapping[str, Activity]) -> list[list[str]]:
    """Cycles through activities that never wait (they would spin without time passing)."""
    found: list[list[str]] = []
    colour: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        colour[node] = 1
        for _, t in acts[node].successors():
            if t not in acts or acts[t].waits:
                continue
            if colour.get(t) == 1:
                found.append([*path[path.index(t) :], t] if t in path else [node, t])
            elif t not in colour:
                visit(t, [*path, t])
        colour[node] = 2

    for act_id, act in acts.items():
        if act_id not in colour and not act.waits:
            visit(act_id, [act_id])
    return found


def problems(definition: Mapping[str, Any]) -> list[Problem]:
    """Every structural problem of ``definition``; empty when it may be published."""
    found: list[Problem] = []
    for key in definition:
        if key not in TOP_LEVEL:
            found.append(Problem(key, "unknown field"))
    if not str(definition.get("Name") or "").strip():
        found.append(Problem("Name", "required"))
    activities = definition.get("Activities")
    if not isinstance(activities, Mapping) or not activities:
        found.append(Problem("Activities", "required: an object of activities by id"))
        activities = {}
    for act_id, body in activities.items():
        _guarded(found, f"Activities.{act_id}", _activity, found, f"Activities.{act_id}", body)
    _guarded(found, "", _windows, found, definition)
    _guarded(found, "", _limits_and_schedule, found, definition)
    if not any(p.path.startswith("Activities.") and "type" in p.message for p in found):
        _guarded(found, "Activities", _graph, found, definition)
    return found


def _guarded(found: list[Problem], path: str, check: Any, *args: Any) -> None:
    """Run one check; a value of an unexpected type deep inside (a list where an object belongs,
    found by fuzzing) becomes a problem at ``path`` rather than a crash."""
    try:
        check(*args)
    except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
        found.append(Problem(path or "(definition)", f"has a value of the wrong shape ({exc})"))


def references(definition: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Named things the store must know: ``templates`` [(path, name:type)], ``segments`` [(path, id)]."""
    templates: list[tuple[str, str]] = []
    segments: list[tuple[str, str]] = []
    sc = (definition.get("StartCondition") or {}).get("SegmentStartCondition") or {}
    if sc.get("SegmentId"):
        segments.append(("StartCondition.SegmentStartCondition.SegmentId", str(sc["SegmentId"])))
    for act_id, body in (definition.get("Activities") or {}).items():
        if not isinstance(body, Mapping):
            continue
        for kind in ("EMAIL", "SMS", "VOICE", "PUSH"):
            spec = body.get(kind)
            if isinstance(spec, Mapping) and spec.get("TemplateName"):
                templates.append(
                    (f"Activities.{act_id}.{kind}.TemplateName", f"{spec['TemplateName']}:{kind}")
                )
        conds: list[tuple[str, Any]] = []
        cs = body.get("ConditionalSplit")
        if isinstance(cs, Mapping):
            for i, c in enumerate((cs.get("Condition") or {}).get("Conditions") or []):
                conds.append((f"Activities.{act_id}.ConditionalSplit.Condition.Conditions[{i}]", c))
        mc = body.get("MultiCondition")
        if isinstance(mc, Mapping):
            for i, b in enumerate(mc.get("Branches") or []):
                conds.append(
                    (
                        f"Activities.{act_id}.MultiCondition.Branches[{i}].Condition",
                        (b or {}).get("Condition"),
                    )
                )
        for path, c in conds:
            seg_id = ((c or {}).get("SegmentCondition") or {}).get("SegmentId")
            if seg_id:
                segments.append((f"{path}.SegmentCondition.SegmentId", str(seg_id)))
    for i, c in enumerate((definition.get("ExitCriteria") or {}).get("Conditions") or []):
        seg_id = ((c or {}).get("SegmentCondition") or {}).get("SegmentId")
        if seg_id:
            segments.append(
                (f"ExitCriteria.Conditions[{i}].SegmentCondition.SegmentId", str(seg_id))
            )
    return {"templates": templates, "segments": segments}
