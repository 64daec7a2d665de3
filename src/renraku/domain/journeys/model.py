"""Journey definitions as frozen values: activities, the journey, participants, facts, commands.

A definition is Pinpoint's ``WriteJourneyRequest`` (JSON, or the same keys in YAML) plus renraku's
``VOICE``, ``WaitForEvent``, ``ExitCriteria`` and ``End``. :func:`build_journey` turns a definition
that passed :func:`renraku.domain.journeys.validation.problems` into a :class:`Journey`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import yaml

from renraku.domain.timefmt import parse_iso
from renraku.errors import InvalidInput, Problem

# Activity type keys, Pinpoint's first, then renraku's additions.
PINPOINT_KINDS = (
    "EMAIL",
    "SMS",
    "CUSTOM",
    "PUSH",
    "Wait",
    "ConditionalSplit",
    "MultiCondition",
    "RandomSplit",
    "Holdout",
    "ContactCenter",
)
RENRAKU_KINDS = ("VOICE", "WaitForEvent", "End")
ACTIVITY_KINDS = PINPOINT_KINDS + RENRAKU_KINDS
MESSAGE_KINDS = frozenset({"EMAIL", "SMS", "CUSTOM", "PUSH", "VOICE", "ContactCenter"})
UNSUPPORTED_KINDS = frozenset({"PUSH"})

CALL_OUTCOMES = ("ANSWERED", "NO_ANSWER", "BUSY", "VOICEMAIL", "FAILED")
# VOICE Branches keys -> the call outcome they catch ("Digits" and "Timeout" are handled apart).
VOICE_BRANCH_OUTCOMES = {
    "Answered": "ANSWERED",
    "NoAnswer": "NO_ANSWER",
    "Busy": "BUSY",
    "Voicemail": "VOICEMAIL",
    "Failed": "FAILED",
}

_DURATION_ISO = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_DURATION_SHORT = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


@lru_cache(maxsize=1024)
def parse_duration(text: str) -> timedelta:
    """An ISO-8601 duration (``PT1H``, ``P1DT12H``) or a short one (``1h30m``, ``45s``, ``2d``).

    Raises ValueError naming what is accepted. (Cached: waits parse the same few texts per step.)
    """
    value = str(text).strip()
    m = _DURATION_ISO.match(value.upper()) if value.upper().startswith("P") else None
    if m is None and value:
        m = _DURATION_SHORT.match(value.lower())
    if m is None or not any(m.groupdict().values()):
        raise ValueError(f"{text!r} is not a duration (use ISO-8601 like PT1H or short like 1h30m)")
    parts = {k: float(v) for k, v in m.groupdict().items() if v}
    return timedelta(
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


def load_definition(text: str, *, source: str = "<input>") -> dict[str, Any]:
    """A definition from JSON or YAML text (JSON is tried first; YAML is its superset for people)."""
    try:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise InvalidInput(
            [Problem(where, f"neither JSON nor YAML: {exc}")], subject="journey"
        ) from exc
    except RecursionError as exc:
        raise InvalidInput([Problem(source, "nested too deeply")], subject="journey") from exc
    if not isinstance(data, dict):
        raise InvalidInput([Problem(source, "a journey is a JSON/YAML object")], subject="journey")
    # boto3's create_journey wraps the definition as WriteJourneyRequest.
    inner = data.get("WriteJourneyRequest")
    return dict(inner) if isinstance(inner, dict) else data


@dataclass(frozen=True, slots=True)
class Activity:
    """One activity: its id, its type key (``kind``) and that key's settings (``spec``)."""

    id: str
    kind: str
    spec: Mapping[str, Any]
    description: str = ""

    def successors(self) -> list[tuple[str, str]]:
        """(label, activity id) of every edge leaving this activity."""
        s = self.spec
        out: list[tuple[str, str]] = []

        def add(label: str, value: Any) -> None:
            if isinstance(value, str) and value:
                out.append((label, value))

        add("Next", s.get("NextActivity"))
        if self.kind == "ConditionalSplit":
            add("True", s.get("TrueActivity"))
            add("False", s.get("FalseActivity"))
        elif self.kind == "MultiCondition":
            for i, b in enumerate(s.get("Branches") or []):
                if isinstance(b, Mapping):
                    add(f"Branch{i + 1}", b.get("NextActivity"))
            add("Default", s.get("DefaultActivity"))
        elif self.kind == "RandomSplit":
            for i, b in enumerate(s.get("Branches") or []):
                if isinstance(b, Mapping):
                    add(f"Branch{i + 1}", b.get("NextActivity"))
        elif self.kind == "WaitForEvent":
            add("Timeout", s.get("TimeoutActivity"))
        elif self.kind == "VOICE":
            branches = s.get("Branches") or {}
            if isinstance(branches, Mapping):
                for label, target in branches.items():
                    if label == "Digits" and isinstance(target, Mapping):
                        for digits, t in target.items():
                            add(f"Digits:{digits}", t)
                    else:
                        add(str(label), target)
        return out

    @property
    def waits(self) -> bool:
        """True when the activity always lets time pass before leaving (breaks cycles)."""
        s = self.spec
        if self.kind in ("Wait", "WaitForEvent", "VOICE"):
            return True
        if self.kind in ("ConditionalSplit", "MultiCondition"):
            ewt = s.get("EvaluationWaitTime") or {}
            return bool(ewt.get("WaitFor") or ewt.get("WaitUntil"))
        return False


@dataclass(frozen=True, slots=True)
class Journey:
    """A journey version, ready to run."""

    app_id: str
    id: str
    version: int
    name: str
    activities: Mapping[str, Activity]
    start_activity: str
    definition: Mapping[str, Any]
    # When the journey was created: no send of it can be older, so TotalCap looks back to here.
    started_at: str | None = None
    # Per-channel sending windows, built on first use (a cache: not part of the value).
    windows: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # Read from the definition once: every step of every participant asks.
    limits: Mapping[str, Any] = field(init=False, compare=False, repr=False)
    exit_criteria: Mapping[str, Any] | None = field(init=False, compare=False, repr=False)
    wait_for_quiet_time: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        ec = self.definition.get("ExitCriteria")
        object.__setattr__(self, "limits", self.definition.get("Limits") or {})
        object.__setattr__(
            self, "exit_criteria", ec if isinstance(ec, Mapping) and ec.get("Conditions") else None
        )
        object.__setattr__(
            self, "wait_for_quiet_time", bool(self.definition.get("WaitForQuietTime"))
        )


def build_journey(
    app_id: str,
    journey_id: str,
    version: int,
    definition: Mapping[str, Any],
    *,
    started_at: str | None = None,
) -> Journey:
    """The runnable journey for a definition that validated (``started_at``: when the journey,
    any version of it, was created)."""
    activities: dict[str, Activity] = {}
    for act_id, body in (definition.get("Activities") or {}).items():
        kind = next((k for k in ACTIVITY_KINDS if k in body), "End")
        spec = body.get(kind) or {}
        activities[act_id] = Activity(
            id=act_id, kind=kind, spec=spec, description=str(body.get("Description") or "")
        )
    return Journey(
        app_id=app_id,
        id=journey_id,
        version=version,
        name=str(definition.get("Name") or journey_id),
        activities=activities,
        start_activity=str(definition.get("StartActivity") or ""),
        definition=definition,
        started_at=started_at,
    )


def wait_deadline(spec: Mapping[str, Any], start: datetime) -> datetime:
    """When a Pinpoint ``WaitTime``-shaped object (``WaitFor`` / ``WaitUntil``) ends, from ``start``."""
    if spec.get("WaitUntil"):
        return parse_iso(str(spec["WaitUntil"]))
    if spec.get("WaitFor"):
        return start + parse_duration(str(spec["WaitFor"]))
    return start


@dataclass(frozen=True, slots=True)
class Participant:
    """Where one participant (a user, or an endpoint without a user) is in one journey."""

    journey_id: str
    pkey: str
    user_id: str | None
    endpoint_id: str | None
    version: int
    entry: int
    activity_id: str | None
    phase: str  # "enter": arrived, not yet acted; "wait": acted, waiting for time or an event
    status: str  # ACTIVE | FINISHED | EXITED | CANCELLED
    wake_at: str | None
    attempt: int
    entered_at: str
    activity_at: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    """An event the participant's steps may look at (deliveries, call outcomes, custom events)."""

    kind: str
    occurred_at: str
    send_key: str | None = None
    endpoint_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    activity_id: str | None = None  # the journey activity whose send the event is about


@dataclass(frozen=True, slots=True)
class SendFact:
    """A past send to the participant (for caps): which journey, endpoint, channel and when."""

    journey_id: str
    endpoint_id: str
    channel: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything a step may read besides the participant: gathered by the engine per batch."""

    endpoints: tuple[Any, ...] = ()  # renraku.domain.endpoints.Endpoint
    events: tuple[Event, ...] = ()
    in_segment: Mapping[str, bool] = field(default_factory=dict)
    sends: tuple[SendFact, ...] = ()
    frequency_caps: Mapping[str, int] = field(default_factory=dict)  # channel -> per user per day


@dataclass(frozen=True, slots=True)
class Send:
    """Hand one message to a channel, recorded under ``key`` before the provider is called."""

    key: str
    channel: str
    endpoint_id: str
    activity_id: str
    template: str | None
    config: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Emit:
    """Append an event to the participant's timeline (and the journey's metrics)."""

    kind: str
    activity_id: str | None
    data: Mapping[str, Any] = field(default_factory=dict)
    endpoint_id: str | None = None
    send_key: str | None = None


@dataclass(frozen=True, slots=True)
class SetAttributes:
    """Merge ``attributes`` into an endpoint's Attributes (VOICE ``MarkReached``)."""

    endpoint_id: str
    attributes: Mapping[str, list[str]]


Command = Send | Emit | SetAttributes
