"""Journeys, pure: definitions and validation, local-time windows, caps and the step function."""

from renraku.domain.journeys.model import (
    Activity,
    Emit,
    Event,
    Facts,
    Journey,
    Participant,
    Send,
    SendFact,
    SetAttributes,
    build_journey,
    load_definition,
    parse_duration,
)
from renraku.domain.journeys.step import advance, send_key, step
from renraku.domain.journeys.validation import problems, references

__all__ = [
    "Activity",
    "Emit",
    "Event",
    "Facts",
    "Journey",
    "Participant",
    "Send",
    "SendFact",
    "SetAttributes",
    "advance",
    "build_journey",
    "load_definition",
    "parse_duration",
    "problems",
    "references",
    "send_key",
    "step",
]
