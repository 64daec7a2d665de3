"""Races around one send, made to happen on purpose instead of waiting for a loaded machine:

- a second result for a call that was already settled (the loser of a race between a slow
  worker and the reconciler that took its send over) must change nothing: before the fix it
  appended ``send.failed`` and woke the participant at once, so its VOICE step read the call as
  failed while the callee's "pressed 1" still lay ahead on the journey clock, and a customer who
  pressed 1 was sent an SMS;
- a send whose worker is handing it over (its lease long past) is not taken by reconciliation,
  so it is not handed over a second time;
- a retry whose failed hand-over did reach the provider is settled from the provider, not
  handed over again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from journey_helpers import journey_app, press_one, seed_customers, voice_seed_journey
from sqlalchemy import select, update

from renraku.app import App
from renraku.channels import recording
from renraku.channels.base import Delivery, DeliveryResult
from renraku.engine import ledger
from renraku.engine.worker import Worker
from renraku.services import journeys
from renraku.store import endpoints as endpoint_store
from renraku.store.events import events
from renraku.store.participants import participants
from renraku.store.sends import sends

START = "2026-03-05T01:00:00.000Z"


def _seed_pressed_user(app: App) -> str:
    """One customer who answers the call and presses 1; the seed journey published."""
    app_id, _ = seed_customers(app, 1)
    press_one(app, ["+819000000001"])
    created = journeys.create(app, app_id, voice_seed_journey())
    journeys.publish(app, app_id, created["Id"])
    return app_id


def _outgoing(app: App, key: str) -> ledger.Outgoing:
    with app.store.connect() as conn:
        row = conn.execute(select(sends).where(sends.c.key == key)).one()
        (endpoint,) = endpoint_store.by_ids(conn, row.app_id, [row.endpoint_id])
    return ledger.Outgoing(
        key=row.key,
        app_id=row.app_id,
        journey_id=row.journey_id,
        pkey=row.pkey,
        user_id=row.user_id,
        activity_id=row.activity_id,
        channel=row.channel,
        endpoint=endpoint,
        endpoint_id=row.endpoint_id,
        template=row.payload["template"],
        config=row.payload["config"],
    )


def _send_kinds(app: App) -> list[str]:
    with app.store.connect() as conn:
        return sorted(
            r.kind for r in conn.execute(select(events.c.kind).where(events.c.kind.like("send.%")))
        )


def test_a_late_failure_for_a_call_already_settled_neither_reports_it_nor_wakes_anyone(
    db_url: str,
) -> None:
    app = journey_app(db_url, start=START)
    try:
        _seed_pressed_user(app)
        worker = Worker(app)
        worker.tick()  # the call is placed and settled sent; the callee presses 1 at +45 s
        with app.store.connect() as conn:
            (key,) = [r.key for r in conn.execute(select(sends.c.key))]
            wake_at = conn.execute(select(participants.c.wake_at)).scalar_one()
        assert wake_at == "2026-03-05T01:00:45.000Z"

        # the loser of the race reports its own result (a cut connection, out of tries) late
        late = DeliveryResult(key, "failed", "recording", permanent=True, reason="cut")
        ledger.settle(app, [(_outgoing(app, key), late)], app.clock.now())

        with app.store.connect() as conn:
            assert conn.execute(select(sends.c.status)).scalar_one() == "sent"
            assert conn.execute(select(participants.c.wake_at)).scalar_one() == wake_at
        assert _send_kinds(app) == ["send.sent"]

        worker.run_for(timedelta(days=1))
        with app.store.connect() as conn:
            assert [d.channel for d in recording.deliveries(conn)] == ["VOICE"]
            assert conn.execute(select(participants.c.status)).scalar_one() == "FINISHED"
    finally:
        app.close()


class _Wrapped:
    """A transport around the recording one, answering lookups from it."""

    supports_lookup = True

    def __init__(self, inner: Any) -> None:
        self.inner, self.name = inner, inner.name

    def lookup(self, key: str) -> DeliveryResult | None:
        return self.inner.lookup(key)  # type: ignore[no-any-return]


class _HeldChannel(_Wrapped):
    """Each ``deliver`` waits until the test lets it through."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.entered, self.release = threading.Event(), threading.Event()

    def deliver(self, batch: Sequence[Delivery]) -> list[DeliveryResult]:
        self.entered.set()
        assert self.release.wait(60)
        return list(self.inner.deliver(batch))


def test_a_send_being_handed_over_is_not_taken_by_reconciliation_after_its_lease(
    pg_url: str,
) -> None:
    app = journey_app(pg_url, start=START, send_lease_seconds=0.01)
    other = journey_app(pg_url, start=START, send_lease_seconds=0.01)  # another worker
    try:
        _seed_pressed_user(app)
        held = _HeldChannel(app.channels["VOICE"])
        app.channels["VOICE"] = held
        slow = threading.Thread(target=Worker(app).tick)
        slow.start()
        try:
            assert held.entered.wait(60)
            with other.store.connect() as conn:  # the lease has long passed
                lease = conn.execute(select(sends.c.lease_until)).scalar_one()
            assert lease is not None
            assert ledger.reconcile(other, other.clock.now()) == 0
        finally:
            held.release.set()
            slow.join(60)
        with app.store.connect() as conn:
            assert recording.delivery_counts(conn) == {
                conn.execute(select(sends.c.key)).scalar_one(): 1
            }
            assert conn.execute(select(sends.c.status)).scalar_one() == "sent"
    finally:
        other.close()
        app.close()


class _LostAnswer(_Wrapped):
    """The provider takes each delivery, but its answer never arrives."""

    def deliver(self, batch: Sequence[Delivery]) -> list[DeliveryResult]:
        self.inner.deliver(batch)
        raise ConnectionError("connection reset while reading the answer")


def test_a_retry_that_reached_the_provider_is_settled_from_it_not_handed_over_again(
    db_url: str,
) -> None:
    app = journey_app(db_url, start=START)
    try:
        _seed_pressed_user(app)
        recorder = app.channels["VOICE"]
        app.channels["VOICE"] = _LostAnswer(recorder)
        Worker(app).tick()
        with app.store.connect() as conn:
            assert conn.execute(select(sends.c.status)).scalar_one() == "retry"
            conn.execute(update(sends).values(lease_until=0))  # the retry is due
            conn.commit()
        app.channels["VOICE"] = recorder
        assert ledger.reconcile(app, app.clock.now()) == 1
        with app.store.connect() as conn:
            row = conn.execute(select(sends)).one()
            assert (row.status, row.tries) == ("sent", 2)
            assert recording.delivery_counts(conn) == {row.key: 1}
        assert _send_kinds(app) == ["send.retry", "send.sent"]
    finally:
        app.close()
