"""Settings of the journey engine (``[journeys]`` in renraku.toml, ``RENRAKU_JOURNEYS__*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class JourneySettings(BaseModel):
    """Workers, the send ledger, cross-journey caps and pacing."""

    batch_size: int = Field(default=1000, ge=1, le=50_000)
    # Wall-clock seconds a recorded send may stay unsettled before recovery reconciles it; longer
    # than any provider call takes.
    send_lease_seconds: float = Field(default=60.0, gt=0)
    max_send_tries: int = Field(default=5, ge=1, le=50)
    retry_base_seconds: float = Field(default=2.0, ge=0)
    # A send whose worker died and whose provider cannot be asked: skip it or send again.
    on_unknown_send: Literal["skip", "resend"] = "skip"
    # Cross-journey frequency caps: at most N messages per user per channel in 24 hours.
    frequency_caps: dict[str, int] = Field(default_factory=dict)
    # Pacing per channel (messages per second, shared by every worker through the database).
    channel_rates: dict[str, float] = Field(default_factory=dict)
    # Channels served by the recording transport whatever else is configured (tests, benchmarks).
    record_channels: list[str] = Field(default_factory=list)
    idle_sleep_seconds: float = Field(default=0.5, gt=0)
