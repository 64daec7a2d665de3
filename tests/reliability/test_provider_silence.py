"""Providers that accept and then fall silent, on a running seed journey (call, SMS, email):

- an SMS provider that takes every message but whose answer never reaches renraku (the request
  times out after the provider queued it): each send is retried, the retry asks the provider
  first, finds the message there and settles it as sent without handing it over again; the
  ledger, the journey metrics and the customer's timeline all say so;
- a voice provider that places every call but never reports how it ended: each VOICE step
  gives up at its timeout, says so, and the journey goes on to SMS and email.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from harness import seed_journey
from journey_helpers import journey_app
from sqlalchemy import select

from renraku.channels import recording
from renraku.channels.base import Delivery, DeliveryResult
from renraku.engine.worker import Worker
from renraku.services import journeys
from renraku.store import events as event_store
from renraku.store.participants import participants
from renraku.store.sends import sends

START = "2026-03-05T01:00:00.000Z"
USERS = 9


class _AnswerLost:
    """The provider queues each message; its answer never arrives (the request times out)."""

    supports_lookup = True

    def __init__(self, provider: Any) -> None:
        self.provider, self.name = provider, provider.name

    def deliver(self, batch: Sequence[Delivery]) -> list[DeliveryResult]:
        self.provider.deliver(batch)
        raise TimeoutError("no answer from the SMS provider within 10 s")

    def lookup(self, key: str) -> DeliveryResult | None:
        return self.provider.lookup(key)  # type: ignore[no-any-return]


def test_messages_accepted_whose_answer_never_came_are_reconciled_sent_once_and_shown_so(
    pg_url: str,
) -> None:
    app = journey_app(pg_url, start=START, retry_base_seconds=0.05)
    try:
        app_id, journey_id, users, pressed = seed_journey(app, USERS)
        app.channels["SMS"] = _AnswerLost(app.channels["SMS"])
        Worker(app).run_for(timedelta(days=1))

        with app.store.connect() as conn:
            ledger = {r.key: (r.channel, r.status, r.tries) for r in conn.execute(select(sends))}
            handed = recording.delivery_counts(conn)
            statuses = {r[0] for r in conn.execute(select(participants.c.status))}
            timeline = event_store.timeline(conn, app_id, user_id=users[-1])
        sms = sorted(k for k, (channel, _, _) in ledger.items() if channel == "SMS")
        assert len(sms) == USERS - len(pressed)
        assert {ledger[k][1:] for k in sms} == {("sent", 2)}  # one failed try, then found
        assert handed == dict.fromkeys(ledger, 1)  # nothing handed over twice
        assert statuses == {"FINISHED"}

        metrics = journeys.metrics(app, app_id, journey_id)
        sms_metrics = next(a for a in metrics["Activities"] if a["JourneyActivityId"] == "sms")
        assert sms_metrics["Metrics"]["RETRIED"] == str(len(sms))
        assert sms_metrics["Metrics"]["SENT"] == str(len(sms))
        assert metrics["Metrics"]["SENT"] == str(len(ledger))

        key = next(k for k in sms if k.endswith(f"u:{users[-1]}"))
        seen = [(e["Kind"], e["Data"]) for e in timeline if e["SendKey"] == key]
        assert [kind for kind, _ in seen] == ["send.retry", "send.sent"]
        assert "no answer from the SMS provider" in seen[0][1]["Reason"]
        assert seen[1][1]["Reconciled"] is True
    finally:
        app.close()


class _CallsNeverReported:
    """Places every call (the provider says yes) and never says how it ended."""

    name = "silent-voice"
    supports_lookup = False

    def __init__(self) -> None:
        self.placed: Counter[str] = Counter()

    def deliver(self, batch: Sequence[Delivery]) -> list[DeliveryResult]:
        self.placed.update(d.key for d in batch)
        return [DeliveryResult(d.key, "sent", self.name, provider_message_id=d.key) for d in batch]


def test_calls_placed_but_never_reported_time_out_visibly_and_the_journey_goes_on(
    pg_url: str,
) -> None:
    app = journey_app(pg_url, start=START)
    try:
        app_id, journey_id, users, _ = seed_journey(app, USERS)
        voice = _CallsNeverReported()
        app.channels["VOICE"] = voice
        Worker(app).run_for(timedelta(days=1))

        with app.store.connect() as conn:
            ledger = {r.key: (r.channel, r.status) for r in conn.execute(select(sends))}
            statuses = {r[0] for r in conn.execute(select(participants.c.status))}
            timeline = event_store.timeline(conn, app_id, user_id=users[0])
        calls = [k for k, (channel, _) in ledger.items() if channel == "VOICE"]
        assert voice.placed == Counter(dict.fromkeys(calls, 1))
        assert {ledger[k][1] for k in calls} == {"sent"}  # the provider did take each call
        # nobody could press 1, so everyone, even those who would have, got SMS and email
        assert sorted(channel for channel, _ in ledger.values()) == sorted(
            ["EMAIL", "SMS", "VOICE"] * USERS
        )
        assert statuses == {"FINISHED"}

        metrics = journeys.metrics(app, app_id, journey_id)["Metrics"]
        assert metrics["CALL_TIMEOUT"] == str(USERS)
        outcome = next(e for e in timeline if e["Kind"] == "call.outcome")
        assert outcome["Data"]["Outcome"] == "TIMEOUT"
        assert outcome["Time"] == "2026-03-05T01:30:00.000Z"  # the call's 30-minute timeout
    finally:
        app.close()
