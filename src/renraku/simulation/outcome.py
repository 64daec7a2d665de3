"""What one run did: reach per channel, per-activity counts, sends per hour, calls, costs.

Read from the run's database after :func:`renraku.simulation.scenario.run`; the demo's summary
and report and each run of a forecast are :class:`Outcome` values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from renraku.app import App
from renraku.domain.timefmt import parse_iso
from renraku.services import journeys as journey_service
from renraku.services import templates as template_service
from renraku.simulation.config import SimulationSettings
from renraku.simulation.scenario import Setup
from renraku.store import reach as reach_store

REACH_ROWS = (
    "reached by phone",
    "reached by SMS",
    "reached by email",
    "not reached",
    "opted out",
    "held for quiet hours",
)


@dataclass
class Outcome:
    """What one run did: the summary table, per-activity counts, sends per hour, costs."""

    seed: int
    users: int
    reach: dict[str, int]
    activities: dict[str, dict[str, int]]
    sends: dict[str, int]
    sends_per_hour: dict[str, dict[str, int]]
    calls: dict[str, int]
    call_minutes: int
    sms_segments: int
    peak_calls: int
    started: str
    finished: str | None
    hours_to_finish: float | None
    costs: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "Seed": self.seed,
            "Users": self.users,
            "Reach": self.reach,
            "Activities": self.activities,
            "Sends": self.sends,
            "SendsPerHour": self.sends_per_hour,
            "Calls": self.calls,
            "CallMinutes": self.call_minutes,
            "SmsSegments": self.sms_segments,
            "PeakConcurrentCalls": self.peak_calls,
            "Started": self.started,
            "Finished": self.finished,
            "HoursToFinish": self.hours_to_finish,
            "Costs": self.costs,
        }


def _status(attributes: Any) -> str:
    values = (attributes or {}).get("CallStatus") or [""]
    return str(values[0]).upper()


def outcome(app: App, setup: Setup, sim: SimulationSettings, seed: int, started: str) -> Outcome:
    """Summarise a finished run from the database."""
    app_id, journey_id = setup.app_id, setup.journey_id
    with app.store.connect() as conn:
        endpoints = reach_store.user_endpoints(conn, app_id)
        held = reach_store.users_with_event(conn, app_id, "send.deferred", journey_id)
        per_hour = reach_store.sends_per_hour(conn, app_id, journey_id)
        send_counts = reach_store.send_counts(conn, app_id, journey_id)
        calls = reach_store.journey_calls(conn, app_id, journey_id)
        last = reach_store.last_event_time(conn, app_id, journey_id)
        sms_sent = reach_store.sent_templates(conn, app_id, journey_id, "SMS")
    per_user: dict[str, dict[str, tuple[str, bool]]] = {}
    for user, channel, attributes, opt_out in endpoints:
        if user:
            per_user.setdefault(user, {})[channel] = (_status(attributes), opt_out == "ALL")
    reach = dict.fromkeys(REACH_ROWS, 0)
    for eps in per_user.values():
        phone = eps.get("VOICE") or eps.get("CUSTOM")
        if phone and phone[0] == "COMPLETED":
            reach["reached by phone"] += 1
        elif eps.get("SMS", ("", False))[0] == "COMPLETED":
            reach["reached by SMS"] += 1
        elif eps.get("EMAIL", ("", False))[0] == "COMPLETED":
            reach["reached by email"] += 1
        elif any(opted for _, opted in eps.values()):
            reach["opted out"] += 1
        else:
            reach["not reached"] += 1
    reach["held for quiet hours"] = len(held & set(per_user))
    metrics = journey_service.metrics(app, app_id, journey_id)
    activities = {
        a["JourneyActivityId"]: {k: int(v) for k, v in a["Metrics"].items()}
        for a in metrics["Activities"]
    }
    hours: dict[str, dict[str, int]] = {}
    for (hour, channel), n in sorted(per_hour.items()):
        hours.setdefault(f"{hour}:00Z", {})[channel] = n
    sends: dict[str, int] = {}
    for (channel, status), n in send_counts.items():
        if status == "sent":
            sends[channel] = sends.get(channel, 0) + n
    outcomes: dict[str, int] = {}
    minutes = 0
    for c in calls:
        outcomes[c["outcome"] or "UNKNOWN"] = outcomes.get(c["outcome"] or "UNKNOWN", 0) + 1
        if c["answered_at"] and c["ended_at"]:
            seconds = (parse_iso(c["ended_at"]) - parse_iso(c["answered_at"])).total_seconds()
            minutes += max(1, -(-int(seconds) // 60))
    sms_segments = _sms_segments(app, app_id, sms_sent)
    prices = sim.prices
    costs = {
        "SMS": round(sms_segments * prices.sms_segment, 4),
        "VOICE": round(minutes * prices.call_minute + len(calls) * prices.call_attempt, 4),
        "EMAIL": round(sends.get("EMAIL", 0) * prices.email, 4),
    }
    costs["Total"] = round(sum(costs.values()), 4)
    hours_to_finish = None
    if last is not None:
        hours_to_finish = round((parse_iso(last) - parse_iso(started)).total_seconds() / 3600, 2)
    return Outcome(
        seed=seed,
        users=len(per_user),
        reach=reach,
        activities=activities,
        sends=dict(sorted(sends.items())),
        sends_per_hour=hours,
        calls=dict(sorted(outcomes.items())),
        call_minutes=minutes,
        sms_segments=sms_segments,
        peak_calls=_peak(calls),
        started=started,
        finished=last,
        hours_to_finish=hours_to_finish,
        costs=costs,
    )


def _sms_segments(app: App, app_id: str, sent: list[tuple[str, str | None]]) -> int:
    """SMS segments of the messages sent, each template rendered for its recipient (a name in
    kanji can turn a GSM-7 text into UCS-2, and a long one into two parts)."""
    total = 0
    for endpoint_id, template in sent:
        if not template:
            total += 1
            continue
        preview = template_service.render_preview(
            app, app_id, template, "SMS", endpoint_id=endpoint_id
        )
        total += int((preview.get("Length") or {}).get("Segments", 1))
    return total


def _peak(calls: list[dict[str, Any]]) -> int:
    """Most calls in progress at once."""
    edges: list[tuple[str, int]] = []
    for c in calls:
        if c["placed_at"] and c["ended_at"]:
            edges += [(c["placed_at"], 1), (c["ended_at"], -1)]
    peak = current = 0
    for _, delta in sorted(edges, key=lambda e: (e[0], e[1])):
        current += delta
        peak = max(peak, current)
    return peak
