"""Local-time sending windows: quiet time, open hours and closed days, in each endpoint's zone.

An endpoint's zone is its ``Demographic.Timezone`` (IANA name), else the zone estimated by the
journey's ``TimezoneEstimationMethods`` in their order (``PHONE_NUMBER``: its phone number;
``POSTAL_CODE``: its postal code and country; see :mod:`renraku.domain.zone_estimation`), else the
journey's ``Schedule.Timezone`` (``UTC+09``, ``UTC-03:30`` or an IANA name), else UTC. Windows are
applied in that zone with ``zoneinfo``, so daylight-saving changes move them with the wall clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from renraku.domain.zone_estimation import estimate
from renraku.domain.zone_estimation import phone_zone as phone_zone

WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_OFFSET = re.compile(r"^UTC(?:(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?)?$")
_HHMM = re.compile(r"^(?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d)$")
_HORIZON_DAYS = 40  # how far ahead the next open moment is searched


@lru_cache(maxsize=1024)
def parse_zone(name: str) -> tzinfo | None:
    """A zone from an IANA name or Pinpoint's ``UTC+09`` / ``UTC-03:30``; None if not a zone."""
    text = (name or "").strip()
    if not text:
        return None
    m = _OFFSET.match(text.upper())
    if m:
        if not m.group("sign"):
            return UTC
        minutes = int(m.group("h")) * 60 + int(m.group("m") or 0)
        if minutes > 14 * 60:
            return None
        sign = -1 if m.group("sign") == "-" else 1
        return timezone(timedelta(minutes=sign * minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_hhmm(text: str) -> time:
    """``HH:MM`` (24-hour); raises ValueError."""
    m = _HHMM.match(str(text).strip())
    if not m:
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    return time(int(m.group("h")), int(m.group("m")))


def endpoint_zone(endpoint: Any, definition: Mapping[str, Any]) -> tzinfo:
    """Where ``endpoint`` lives, by the rules in the module docstring."""
    zone = parse_zone(str((endpoint.demographic or {}).get("Timezone") or ""))
    if zone is not None:
        return zone
    methods = definition.get("TimezoneEstimationMethods") or ()
    if methods:
        zone = estimate(endpoint, methods)
        if zone is not None:
            return zone
    return journey_zone(definition)


def journey_zone(definition: Mapping[str, Any]) -> tzinfo:
    schedule = definition.get("Schedule") or {}
    return parse_zone(str(schedule.get("Timezone") or "")) or UTC


def _local(d: date, t: time, zone: tzinfo) -> datetime:
    """The instant of wall time ``d t`` in ``zone``; a time skipped by DST maps to after the gap."""
    naive = datetime.combine(d, t)
    aware = naive.replace(tzinfo=zone)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != naive:  # in a spring-forward gap: use the first valid instant after it
        aware = (naive + timedelta(hours=1)).replace(tzinfo=zone)
    return aware.astimezone(UTC)


class Window:
    """The sending rules for one channel: quiet time, open hours per weekday, closed days."""

    def __init__(self, definition: Mapping[str, Any], channel: str) -> None:
        qt = definition.get("QuietTime") or {}
        self.quiet: tuple[time, time] | None = None
        if qt.get("Start") and qt.get("End"):
            self.quiet = (parse_hhmm(qt["Start"]), parse_hhmm(qt["End"]))
        use_schedule = definition.get("SendingSchedule", True) is not False
        open_hours = (definition.get("OpenHours") or {}).get(channel) if use_schedule else None
        self.open: dict[str, list[tuple[time, time]]] | None = None
        if open_hours:
            self.open = {
                day: [(parse_hhmm(r["StartTime"]), parse_hhmm(r["EndTime"])) for r in rules]
                for day, rules in open_hours.items()
            }
        closed = (definition.get("ClosedDays") or {}).get(channel) if use_schedule else None
        self.closed: list[tuple[datetime, datetime]] = []
        for rule in closed or []:
            self.closed.append(
                (
                    datetime.fromisoformat(rule["StartDateTime"].rstrip("Z")).replace(tzinfo=None),
                    datetime.fromisoformat(rule["EndDateTime"].rstrip("Z")).replace(tzinfo=None),
                )
            )

    @property
    def unrestricted(self) -> bool:
        return self.quiet is None and self.open is None and not self.closed

    def allows(self, moment: datetime, zone: tzinfo) -> bool:
        """True when a message may be sent at ``moment`` to someone living in ``zone``."""
        local = moment.astimezone(zone)
        t = local.time().replace(tzinfo=None)
        if self.quiet is not None:
            start, end = self.quiet
            quiet = (t >= start or t < end) if start > end else (start <= t < end)
            if quiet:
                return False
        if self.open is not None:
            rules = self.open.get(WEEKDAYS[local.weekday()], [])
            if not any(a <= t < b for a, b in rules):
                return False
        naive = local.replace(tzinfo=None)
        return not any(a <= naive < b for a, b in self.closed)

    def _boundaries(self, day: date) -> Sequence[time]:
        out: list[time] = [time(0, 0)]
        if self.quiet is not None:
            out.append(self.quiet[1])
        if self.open is not None:
            for rules in self.open.values():
                out.extend(a for a, _ in rules)
        for _, b in self.closed:
            if b.date() == day:
                out.append(b.time())
        return out

    def next_open(self, moment: datetime, zone: tzinfo) -> datetime | None:
        """``moment`` if allowed, else the earliest later instant that is; None if none is near."""
        if self.unrestricted or self.allows(moment, zone):
            return moment
        first = moment.astimezone(zone).date()
        for offset in range(_HORIZON_DAYS):
            day = first + timedelta(days=offset)
            candidates = sorted({_local(day, t, zone) for t in self._boundaries(day)})
            for candidate in candidates:
                if candidate > moment and self.allows(candidate, zone):
                    return candidate
        return None
