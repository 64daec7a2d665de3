"""Settings of the VOICE channel: ``[voice]``, ``[voice.simulator]``, ``[voice.twilio]``,
``[voice.connect]`` and ``[voice.capacity]`` in ``renraku.toml`` (or ``RENRAKU_VOICE__...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class VoiceSimulatorSettings(BaseModel):
    """The embedded virtual phone network.

    ``script`` (JSON or YAML) says per E.164 number what the callee does; numbers it does not list
    follow its ``default`` entry, else the seeded random model below.
    """

    script: Path | None = None
    seed: int = 0
    answer_rate: float = Field(default=0.6, ge=0, le=1)
    voicemail_rate: float = Field(default=0.1, ge=0, le=1)  # of calls not answered by a person
    busy_rate: float = Field(default=0.05, ge=0, le=1)
    failed_rate: float = Field(default=0.01, ge=0, le=1)
    press_rate: float = Field(default=0.5, ge=0, le=1)  # answered callees who press the first key
    # Answer rate multipliers by local hour of day ("9": 1.2); hours not given count 1.0.
    answer_rate_by_hour: dict[str, float] = {}
    ring_seconds: float = Field(default=8.0, ge=0)
    no_answer_ring_seconds: float = Field(default=30.0, ge=0)
    characters_per_second: float = Field(default=8.0, gt=0)  # speech speed of prompts


class VoiceTwilioSettings(BaseModel):
    """Twilio Programmable Voice. ``public_url`` is where Twilio reaches renraku's TwiML routes
    (``renraku serve``; default: ``[webhooks] public_url``); ``base_url`` points the client at
    another host (the local simulator)."""

    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    public_url: str | None = None
    base_url: str | None = None
    machine_detection: bool = True
    timeout_seconds: int = Field(default=30, ge=5, le=600)  # ring time


class VoiceConnectSettings(BaseModel):
    """Amazon Connect ``StartOutboundVoiceContact``; the flow runs in Connect."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    instance_id: str | None = None
    queue_id: str | None = None
    contact_flow_id: str | None = None  # default when the activity names none
    source_phone_number: str | None = None
    answer_machine_detection: bool = False


class VoiceCapacity(BaseModel):
    """Limits shared by every worker (kept in the database): Connect's defaults."""

    max_concurrent_calls: int = Field(default=10, ge=1)
    calls_per_second: float = Field(default=2.0, gt=0)
    # The simulator queues a call for the next free slot up to this far ahead of the clock
    # (calls are computed whole); real providers refuse instead and the engine retries.
    max_queue_seconds: float = Field(default=3600.0, ge=0)


class VoiceSettings(BaseModel):
    """Which provider places calls, and the rules every call follows."""

    provider: Literal["simulator", "twilio", "connect"] = "simulator"
    default_flow: str | None = None  # flow id or name used when an activity names none
    origination_number: str | None = None
    # ISO region codes a call may go to ("JP", "US"); empty allows every country.
    allowed_countries: list[str] = []
    # Per application (id or name): its own allow-list, replacing the one above.
    app_allowed_countries: dict[str, list[str]] = {}
    max_call_seconds: int = Field(default=600, ge=10)
    capacity: VoiceCapacity = VoiceCapacity()
    simulator: VoiceSimulatorSettings = VoiceSimulatorSettings()
    twilio: VoiceTwilioSettings = VoiceTwilioSettings()
    connect: VoiceConnectSettings = VoiceConnectSettings()
