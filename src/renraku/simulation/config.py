"""Settings of ``renraku simulate`` and the demo (``[simulation]`` in renraku.toml,
``RENRAKU_SIMULATION__*``): how simulated people answer SMS and email, and the price table.

How callees answer the phone (answer and press rates, by local hour) is the voice simulator's
own model: ``[voice.simulator]``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class PriceTable(BaseModel):
    """Prices used for cost estimates, in ``currency``."""

    currency: str = "USD"
    sms_segment: float = Field(default=0.08, ge=0)  # per SMS segment (GSM-7 160 / UCS-2 70 chars)
    call_minute: float = Field(default=0.03, ge=0)  # per started minute of an answered call
    call_attempt: float = Field(default=0.0, ge=0)  # per call placed, answered or not
    email: float = Field(default=0.0001, ge=0)  # per email


class ResponseModel(BaseModel):
    """What simulated people do with the messages they get (each a probability per message)."""

    sms_reply_rate: float = Field(default=0.3, ge=0, le=1)  # reply: reached by SMS
    sms_stop_rate: float = Field(default=0.03, ge=0, le=1)  # reply STOP: opted out
    email_click_rate: float = Field(default=0.2, ge=0, le=1)  # open the link: reached by email
    email_unsubscribe_rate: float = Field(default=0.02, ge=0, le=1)
    # A response comes this many minutes after the message (uniformly in between).
    delay_minutes_min: float = Field(default=2.0, ge=0)
    delay_minutes_max: float = Field(default=45.0, ge=0)


class SimulationSettings(BaseModel):
    """The response model, the price table and the defaults of a forecast."""

    responses: ResponseModel = ResponseModel()
    prices: PriceTable = PriceTable()
    seeds: int = Field(default=5, ge=1, le=1000)
    users: int = Field(default=200, ge=1, le=1_000_000)
    # Where the virtual clock starts (09:00 in Tokyo on a Tuesday).
    start: str = "2026-12-01T00:00:00.000Z"
    # Journey time between two looks at who responded (and two progress updates).
    step_minutes: float = Field(default=5.0, gt=0)
    # Journey time is simulated on a grid of this many seconds: work due within one tick is done
    # together (fewer, larger batches; the same seed gives the same run on the same grid).
    tick_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Journey time after which a run stops even if people are still inside.
    horizon_hours: float = Field(default=72.0, gt=0)
