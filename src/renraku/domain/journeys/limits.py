"""Per-participant caps: the journey's DailyCap, TotalCap and TimeframeCap, and the cross-journey
frequency cap per user and channel from settings (at most N messages a day on a channel).

Counts are over :class:`SendFact` records: the participant's sends gathered by the engine (as far
back as :func:`lookback` says) plus those made earlier in the same step. TotalCap is Pinpoint's
"maximum number of messages the journey can send to a single participant during the course of the
journey": it counts every send of the journey (any version, any entry) to the participant, so a
participant that re-enters does not get a fresh allowance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from renraku.domain.journeys.model import Journey, Participant, SendFact
from renraku.domain.timefmt import iso, parse_iso


def sent_now(journey_id: str, endpoint_id: str, channel: str, now: str) -> SendFact:
    return SendFact(journey_id, endpoint_id, channel, now)


# Sends stamped at the very instant the journey was created still count (the lookback is strict).
_MARGIN = timedelta(days=1)
# With TotalCap and no known creation time: everything (an application older than this is unlikely).
_LIFETIME = timedelta(days=3650)


def lookback(journey: Journey, now: datetime) -> timedelta:
    """How far back from ``now`` sends must be gathered for this journey's caps (at least one day).

    TotalCap needs the journey's whole life, back to ``Journey.started_at``; the other caps need
    their own windows only, so journeys without TotalCap keep the facts query small.
    """
    tf = journey.limits.get("TimeframeCap") or {}
    window = timedelta(days=max(1, int(tf.get("Days") or 0)))
    if not int(journey.limits.get("TotalCap") or 0):
        return window
    if journey.started_at is None:
        return max(window, _LIFETIME)
    return max(window, now - parse_iso(journey.started_at) + _MARGIN)


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
    if total and len(mine) >= total:
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
