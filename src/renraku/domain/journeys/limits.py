"""Per-participant caps: the journey's DailyCap, TotalCap and TimeframeCap, and the cross-journey
frequency cap per user and channel from settings (at most N messages a day on a channel).

Counts are over :class:`SendFact` records: the participant's recent sends gathered by the engine
plus those made earlier in the same step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from renraku.domain.journeys.model import Journey, Participant, SendFact
from renraku.domain.timefmt import iso


def sent_now(journey_id: str, endpoint_id: str, channel: str, now: str) -> SendFact:
    return SendFact(journey_id, endpoint_id, channel, now)


def lookback(journey: Journey) -> timedelta:
    """How far back sends must be gathered for this journey's caps (at least one day)."""
    tf = journey.limits.get("TimeframeCap") or {}
    return timedelta(days=max(1, int(tf.get("Days") or 0)))


def cap_reason(
    journey: Journey,
    p: Participant,
    channel: str,
    sends: Sequence[SendFact],
    frequency_caps: Mapping[str, int],
    now: datetime,
) -> str | None:
    """Why one more send would break a cap (``DAILY_CAP``, ...), or None when it may go."""
    limits = journey.limits
    day_ago = iso(now - timedelta(days=1))
    mine = [s for s in sends if s.journey_id == journey.id]
    daily = int(limits.get("DailyCap") or 0)
    if daily and sum(1 for s in mine if s.created_at > day_ago) >= daily:
        return "DAILY_CAP"
    total = int(limits.get("TotalCap") or 0)
    if total and len([s for s in mine if s.created_at >= p.entered_at]) >= total:
        return "TOTAL_CAP"
    tf = limits.get("TimeframeCap") or {}
    if tf.get("Cap") and tf.get("Days"):
        since = iso(now - timedelta(days=int(tf["Days"])))
        if sum(1 for s in mine if s.created_at > since) >= int(tf["Cap"]):
            return "TIMEFRAME_CAP"
    per_day = int(frequency_caps.get(channel) or 0)
    if (
        per_day
        and sum(1 for s in sends if s.channel == channel and s.created_at > day_ago) >= per_day
    ):
        return "FREQUENCY_CAP"
    return None
