"""The pure step function: ``step(journey, participant, facts, now) -> (participant, commands)``.

A step looks at the participant's current activity and either acts on it (sends, evaluates a split)
and moves on, or waits (``wake_at`` says until when). It reads nothing but its arguments and returns
commands (:class:`Send`, :class:`Emit`, :class:`SetAttributes`) for the engine to carry out.
:func:`advance` applies steps until the participant waits or leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from renraku.domain.journeys import limits
from renraku.domain.journeys.conditions import condition_holds, event_matches, simple_holds
from renraku.domain.journeys.model import (
    VOICE_BRANCH_OUTCOMES,
    Activity,
    Command,
    Emit,
    Facts,
    Journey,
    Participant,
    Send,
    SetAttributes,
    parse_duration,
    wait_deadline,
)
from renraku.domain.journeys.windows import Window, endpoint_zone
from renraku.domain.timefmt import iso as _iso
from renraku.domain.timefmt import parse_iso

# Steps format the same few instants over and over (a batch shares one ``now``).
iso = lru_cache(maxsize=4096)(_iso)

CHANNEL_OF = {
    "EMAIL": "EMAIL",
    "SMS": "SMS",
    "CUSTOM": "CUSTOM",
    "PUSH": "PUSH",
    "VOICE": "VOICE",
    "ContactCenter": "VOICE",
}
MAX_STEPS = 64  # per advance: validation rejects cycles without a wait, this is the backstop
DEFAULT_CALL_TIMEOUT = timedelta(minutes=30)

Result = tuple[Participant, list[Command]]
_FIELDS = tuple(f.name for f in fields(Participant))


# What steps change; the rest of a participant (who, which version and entry) never moves.
_STEP_FIELDS = frozenset(
    ("activity_id", "phase", "status", "wake_at", "attempt", "activity_at", "data")
)


def replace(p: Participant, **changes: Any) -> Participant:
    """``dataclasses.replace`` for a participant, without its per-call field inspection (a step
    makes one or two of these, and a worker millions of steps)."""
    if changes.keys() <= _STEP_FIELDS:
        get = changes.get
        return Participant(
            p.journey_id,
            p.pkey,
            p.user_id,
            p.endpoint_id,
            p.version,
            p.entry,
            get("activity_id", p.activity_id),
            get("phase", p.phase),
            get("status", p.status),
            get("wake_at", p.wake_at),
            get("attempt", p.attempt),
            p.entered_at,
            get("activity_at", p.activity_at),
            get("data", p.data),
        )
    for name in _FIELDS:
        if name not in changes:
            changes[name] = getattr(p, name)
    return Participant(**changes)


def send_key(p: Participant, activity_id: str, endpoint_id: str) -> str:
    """The idempotency key of one send: journey, version, entry, activity, attempt, endpoint, user."""
    return f"j/{p.journey_id}/v{p.version}/e{p.entry}/{activity_id}/a{p.attempt}/{endpoint_id}/{p.pkey}"


def bucket(*parts: object) -> int:
    """A stable number 0..99 for a participant at an activity (random splits, holdouts)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100


def _finish(p: Participant, status: str, now: str, reason: str) -> Result:
    done = replace(p, status=status, phase="done", wake_at=None, activity_at=now)
    kind = "journey.exited" if status == "EXITED" else "journey.finished"
    return done, [Emit(kind, p.activity_id, {"Reason": reason})]


def _leave(
    journey: Journey,
    act: Activity,
    p: Participant,
    now: str,
    label: str,
    target: Any,
    commands: list[Command] | None = None,
) -> Result:
    """Complete ``act`` through branch ``label`` to ``target`` (None/absent: the journey ends)."""
    cmds = list(commands or [])
    cmds.append(
        Emit("activity.completed", act.id, {"Type": act.kind, "Branch": label, "Next": target})
    )
    if not target:
        done, more = _finish(p, "FINISHED", now, "End" if act.kind == "End" else "NoNextActivity")
        return done, cmds + more
    moved = replace(
        p, activity_id=str(target), phase="enter", wake_at=now, attempt=0, activity_at=now, data={}
    )
    return moved, cmds


def _wait(p: Participant, until: datetime | None, data: Mapping[str, Any]) -> Result:
    return replace(p, phase="wait", wake_at=iso(until) if until else None, data=dict(data)), []


def _still_waiting(p: Participant) -> Result:
    until = p.data.get("until")
    return replace(p, wake_at=str(until) if until else None), []


def _targets(act: Activity, channel: str, facts: Facts, p: Participant) -> list[Any]:
    types = act.spec.get("EndpointTypes") if act.kind == "CUSTOM" else None
    wanted = set(types or [channel])
    only = set(p.data.get("only") or [])
    return [
        e
        for e in facts.endpoints
        if e.channel_type in wanted and e.active and not e.opted_out and (not only or e.id in only)
    ]


def _why_no_target(act: Activity, channel: str, facts: Facts) -> str:
    """OPTED_OUT or INACTIVE when the participant has endpoints of the channel but none usable."""
    types = set((act.spec.get("EndpointTypes") if act.kind == "CUSTOM" else None) or [channel])
    mine = [e for e in facts.endpoints if e.channel_type in types]
    if not mine:
        return "NO_ENDPOINT"
    if all(e.opted_out for e in mine):
        return "OPTED_OUT"
    return "INACTIVE" if all(not e.active for e in mine) else "NO_ENDPOINT"


def _message(
    journey: Journey, act: Activity, p: Participant, facts: Facts, now: datetime
) -> Result:
    now_s = iso(now)
    if p.phase == "wait":
        return _voice_wait(journey, act, p, facts, now)
    channel = CHANNEL_OF[act.kind]
    if act.kind == "PUSH":
        skip = Emit("send.skipped", act.id, {"Reason": "UNSUPPORTED_CHANNEL", "Channel": channel})
        return _leave(journey, act, p, now_s, "Next", act.spec.get("NextActivity"), [skip])
    targets = _targets(act, channel, facts, p)
    cmds: list[Command] = []
    if not targets:
        reason = _why_no_target(act, channel, facts)
        cmds.append(Emit("send.skipped", act.id, {"Reason": reason, "Channel": channel}))
        return _after_send(journey, act, p, now, [], cmds)
    window = journey_window(journey, channel)
    sent: list[str] = []
    deferred: dict[str, datetime] = {}
    counted = list(facts.sends)
    for ep in targets:
        open_at = window.next_open(now, endpoint_zone(ep, journey.definition))
        if open_at != now:
            if journey.wait_for_quiet_time and open_at is not None:
                deferred[ep.id] = open_at
            else:
                cmds.append(Emit("send.skipped", act.id, {"Reason": "QUIET_TIME"}, ep.id))
            continue
        capped = (
            limits.cap_reason(journey, p, channel, counted, facts.frequency_caps, now)
            if journey.limits or facts.frequency_caps
            else None
        )
        if capped:
            cmds.append(Emit("send.skipped", act.id, {"Reason": capped}, ep.id))
            continue
        key = send_key(p, act.id, ep.id)
        template = act.spec.get("TemplateName")
        cmds.append(Send(key, channel, ep.id, act.id, template, dict(act.spec)))
        counted.append(limits.sent_now(journey.id, ep.id, channel, now_s))
        sent.append(key)
    if deferred and not (sent and act.kind in ("VOICE", "ContactCenter")):
        until = min(deferred.values())
        cmds.append(Emit("send.deferred", act.id, {"Reason": "QUIET_TIME", "Until": iso(until)}))
        prior = list(p.data.get("keys") or [])
        data = {"only": sorted(deferred), "keys": prior + sent, "until": iso(until)}
        return replace(p, phase="enter", wake_at=iso(until), data=data), cmds
    for ep_id in deferred:  # a call already placed: the rest of the window is not waited for
        cmds.append(Emit("send.skipped", act.id, {"Reason": "QUIET_TIME"}, ep_id))
    return _after_send(journey, act, p, now, list(p.data.get("keys") or []) + sent, cmds)


def _after_send(
    journey: Journey,
    act: Activity,
    p: Participant,
    now: datetime,
    keys: list[str],
    cmds: list[Command],
) -> Result:
    if act.kind != "VOICE":
        return _leave(journey, act, p, iso(now), "Next", act.spec.get("NextActivity"), cmds)
    if not keys:
        return _voice_branch(journey, act, p, iso(now), "FAILED", "", None, (), cmds)
    timeout = act.spec.get("Timeout")
    until = (
        wait_deadline(timeout, now) if isinstance(timeout, Mapping) else now + DEFAULT_CALL_TIMEOUT
    )
    waited, _ = _wait(p, until, {"keys": keys, "until": iso(until)})
    return waited, cmds


_OUTCOME_RANK = {"ANSWERED": 0, "VOICEMAIL": 1, "BUSY": 2, "NO_ANSWER": 3, "FAILED": 4}


def _voice_wait(
    journey: Journey, act: Activity, p: Participant, facts: Facts, now: datetime
) -> Result:
    now_s = iso(now)
    keys = set(p.data.get("keys") or [])
    results = [
        e
        for e in facts.events
        if e.send_key in keys
        and e.occurred_at <= now_s
        and e.kind in ("call.completed", "send.failed")
    ]
    if results:

        def rank(e: Any) -> tuple[int, int]:
            outcome = e.data.get("Outcome", "FAILED") if e.kind == "call.completed" else "FAILED"
            return (0 if e.data.get("Digits") else 1, _OUTCOME_RANK.get(outcome, 5))

        best = min(results, key=rank)
        outcome = (
            str(best.data.get("Outcome", "FAILED")) if best.kind == "call.completed" else "FAILED"
        )
        digits = str(best.data.get("Digits") or "")
        others = [e.id for e in facts.endpoints]
        return _voice_branch(journey, act, p, now_s, outcome, digits, best.endpoint_id, others, [])
    if now_s >= str(p.data.get("until") or now_s):
        return _voice_branch(journey, act, p, now_s, "TIMEOUT", "", None, (), [])
    return _still_waiting(p)


def _reached_rule(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    mark = spec.get("MarkReached")
    if mark is True:
        return {}
    return mark if isinstance(mark, Mapping) else None


def _voice_branch(
    journey: Journey,
    act: Activity,
    p: Participant,
    now: str,
    outcome: str,
    digits: str,
    endpoint_id: str | None,
    others: Sequence[str],
    cmds: list[Command],
) -> Result:
    spec = act.spec
    data = {"Outcome": outcome, "Digits": digits, "Attempt": p.attempt + 1}
    cmds = [*cmds, Emit("call.outcome", act.id, data, endpoint_id)]
    rule = _reached_rule(spec)
    if rule is not None and endpoint_id:
        wanted = [str(d) for d in rule.get("Digits", ["1"])]
        reached = (digits in wanted) if wanted else outcome == "ANSWERED"
        if reached:
            attr = str(rule.get("Attribute", "CallStatus"))
            cmds.append(SetAttributes(endpoint_id, {attr: [str(rule.get("Reached", "COMPLETED"))]}))
            for other in others:
                if other != endpoint_id:
                    cmds.append(SetAttributes(other, {attr: [str(rule.get("Others", "CANCELED"))]}))
            cmds.append(Emit("call.reached", act.id, {"Digits": digits}, endpoint_id))
    retry = spec.get("Retry") or {}
    retry_on = retry.get("On", ["NO_ANSWER", "BUSY", "FAILED", "TIMEOUT"])
    if outcome in retry_on and p.attempt + 1 < int(retry.get("MaxAttempts", 1)):
        interval = parse_duration(str(retry.get("Interval", "PT1H")))
        until = iso(parse_iso(now) + interval)
        cmds.append(Emit("call.retry", act.id, {"Outcome": outcome, "Until": until}))
        retried = replace(
            p, phase="enter", attempt=p.attempt + 1, wake_at=until, data={"until": until}
        )
        return retried, cmds
    branches = spec.get("Branches") or {}
    by_digits = branches.get("Digits") or {}
    if digits and digits in by_digits:
        return _leave(journey, act, p, now, f"Digits:{digits}", by_digits[digits], cmds)
    for label, caught in VOICE_BRANCH_OUTCOMES.items():
        if caught == outcome and branches.get(label):
            return _leave(journey, act, p, now, label, branches[label], cmds)
    if outcome == "TIMEOUT" and branches.get("Timeout"):
        return _leave(journey, act, p, now, "Timeout", branches["Timeout"], cmds)
    return _leave(journey, act, p, now, "Next", spec.get("NextActivity"), cmds)


def _wait_activity(
    journey: Journey, act: Activity, p: Participant, facts: Facts, now: datetime
) -> Result:
    now_s = iso(now)
    if p.phase == "enter":
        until = wait_deadline(act.spec.get("WaitTime") or {}, now)
        if until > now:
            return _wait(p, until, {"until": iso(until)})
    elif now_s < str(p.data.get("until") or now_s):
        return _still_waiting(p)
    return _leave(journey, act, p, now_s, "Next", act.spec.get("NextActivity"))


def _evaluation_due(act: Activity, p: Participant, now: datetime) -> Result | None:
    """Hold a split for its EvaluationWaitTime; None when it is time to evaluate."""
    if p.phase == "enter":
        until = wait_deadline(act.spec.get("EvaluationWaitTime") or {}, now)
        if until > now:
            return _wait(p, until, {"until": iso(until)})
        return None
    if iso(now) < str(p.data.get("until") or iso(now)):
        return _still_waiting(p)
    return None


def _conditional(
    journey: Journey, act: Activity, p: Participant, facts: Facts, now: datetime
) -> Result:
    held = _evaluation_due(act, p, now)
    if held is not None:
        return held
    now_s = iso(now)
    if condition_holds(act.spec.get("Condition"), p, facts, now_s):
        return _leave(journey, act, p, now_s, "True", act.spec.get("TrueActivity"))
    return _leave(journey, act, p, now_s, "False", act.spec.get("FalseActivity"))


def _multi(journey: Journey, act: Activity, p: Participant, facts: Facts, now: datetime) -> Result:
    held = _evaluation_due(act, p, now)
    if held is not None:
        return held
    now_s = iso(now)
    for i, branch in enumerate(act.spec.get("Branches") or []):
        if simple_holds(branch.get("Condition") or {}, p, facts, now_s):
            return _leave(journey, act, p, now_s, f"Branch{i + 1}", branch.get("NextActivity"))
    return _leave(journey, act, p, now_s, "Default", act.spec.get("DefaultActivity"))


def _random(journey: Journey, act: Activity, p: Participant, facts: Facts, now: datetime) -> Result:
    roll = bucket(journey.id, act.id, p.pkey, p.entry)
    total = 0
    branches: Sequence[Mapping[str, Any]] = act.spec.get("Branches") or []
    for i, branch in enumerate(branches):
        total += int(branch.get("Percentage", 0))
        if roll < total:
            return _leave(journey, act, p, iso(now), f"Branch{i + 1}", branch.get("NextActivity"))
    return _leave(journey, act, p, iso(now), "None", None)


def _holdout(
    journey: Journey, act: Activity, p: Participant, facts: Facts, now: datetime
) -> Result:
    now_s = iso(now)
    if bucket(journey.id, act.id, p.pkey, p.entry) < int(act.spec.get("Percentage", 0)):
        done, cmds = _finish(p, "FINISHED", now_s, "Holdout")
        label = Emit("activity.completed", act.id, {"Type": act.kind, "Branch": "Holdout"})
        return done, [label, *cmds]
    return _leave(journey, act, p, now_s, "Next", act.spec.get("NextActivity"))


def _wait_for_event(
    journey: Journey, act: Activity, p: Participant, facts: Facts, now: datetime
) -> Result:
    now_s = iso(now)
    spec = act.spec
    if p.phase == "enter":
        timeout = spec.get("Timeout")
        until = wait_deadline(timeout, now) if isinstance(timeout, Mapping) else None
        return _wait(p, until, {"until": iso(until) if until else None})
    dims = (spec.get("EventFilter") or {}).get("Dimensions") or spec.get("Dimensions")
    source = spec.get("MessageActivity")
    for event in facts.events:
        if p.activity_at <= event.occurred_at <= now_s and event_matches(dims, event):
            if source and event.activity_id != source:
                continue
            return _leave(journey, act, p, now_s, "Event", spec.get("NextActivity"))
    until = p.data.get("until")
    if until and now_s >= str(until):
        return _leave(journey, act, p, now_s, "Timeout", spec.get("TimeoutActivity"))
    return _still_waiting(p)


def _end(journey: Journey, act: Activity, p: Participant, facts: Facts, now: datetime) -> Result:
    return _leave(journey, act, p, iso(now), "End", None)


Handler = Callable[[Journey, Activity, Participant, Facts, datetime], Result]
HANDLERS: dict[str, Handler] = {
    "EMAIL": _message,
    "SMS": _message,
    "CUSTOM": _message,
    "PUSH": _message,
    "VOICE": _message,
    "ContactCenter": _message,
    "Wait": _wait_activity,
    "ConditionalSplit": _conditional,
    "MultiCondition": _multi,
    "RandomSplit": _random,
    "Holdout": _holdout,
    "WaitForEvent": _wait_for_event,
    "End": _end,
}


def journey_window(journey: Journey, channel: str) -> Window:
    """The sending window of a journey version for a channel (built once per Journey)."""
    window = journey.windows.get(channel)
    if window is None:
        window = journey.windows[channel] = Window(journey.definition, channel)
    return window


def step(journey: Journey, p: Participant, facts: Facts, now: datetime) -> Result:
    """One step of participant ``p`` at its current activity."""
    now_s = iso(now)
    if p.status != "ACTIVE":
        return p, []
    exit_criteria = journey.exit_criteria
    if exit_criteria is not None and condition_holds(exit_criteria, p, facts, now_s):
        return _finish(p, "EXITED", now_s, "ExitCriteria")
    act = journey.activities.get(p.activity_id or "")
    if act is None:
        return _finish(p, "FINISHED", now_s, f"UnknownActivity:{p.activity_id}")
    return HANDLERS[act.kind](journey, act, p, facts, now)


def advance(
    journey: Journey, p: Participant, facts: Facts, now: datetime, *, max_steps: int = MAX_STEPS
) -> tuple[Participant, list[Command], int]:
    """Step ``p`` until it waits, leaves or ``max_steps`` pass; returns the steps taken too."""
    now_s = iso(now)
    commands: list[Command] = []
    steps = 0
    while (
        p.status == "ACTIVE" and p.wake_at is not None and p.wake_at <= now_s and steps < max_steps
    ):
        before = p
        p, cmds = step(journey, p, facts, now)
        commands.extend(cmds)
        steps += 1
        if p == before:
            break
        if journey.exit_criteria is not None and any(isinstance(c, SetAttributes) for c in cmds):
            break  # the next step's exit check must see the change: it waits for fresh facts
    return p, commands, steps
