"""The send ledger: a worker dying mid-send never loses or doubles a message; provider errors are
retried or recorded."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from journey_helpers import delivered, journey_app, seed_customers
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from renraku.app import App
from renraku.channels import recording
from renraku.channels.base import Delivery, DeliveryResult
from renraku.engine import ledger
from renraku.engine.worker import Worker
from renraku.services import journeys
from renraku.store.sends import sends

ONE_SMS = {
    "Name": "one sms",
    "StartCondition": {"SegmentStartCondition": {"SegmentId": "seed-customers"}},
    "StartActivity": "sms",
    "Activities": {
        "sms": {"SMS": {"TemplateName": "seed-sms", "NextActivity": "mail"}},
        "mail": {"EMAIL": {"TemplateName": "seed-email"}},
    },
}


class Dies:
    """A transport that kills the worker before or after handing the batch to the real one."""

    def __init__(self, inner: Any, *, after: bool, can_lookup: bool = True) -> None:
        self.inner = inner
        self.after = after
        self.name = "dying"
        self.supports_lookup = can_lookup

    def deliver(self, batch: Sequence[Delivery]) -> list[DeliveryResult]:
        if self.after:
            self.inner.deliver(batch)
        raise KeyboardInterrupt  # stands for SIGKILL: nothing after this line runs

    def lookup(self, key: str) -> DeliveryResult | None:
        return self.inner.lookup(key) if self.supports_lookup else None


def _statuses(app: App) -> dict[str, str]:
    with app.store.connect() as conn:
        return {r.key: r.status for r in conn.execute(select(sends.c.key, sends.c.status))}


def _counts(app: App) -> dict[str, int]:
    with app.store.connect() as conn:
        return recording.delivery_counts(conn)


def _crash_then_recover(app: App, app_id: str, *, after: bool, can_lookup: bool = True) -> None:
    created = journeys.create(app, app_id, ONE_SMS)
    journeys.publish(app, app_id, created["Id"])
    real = app.channels["SMS"]
    app.channels["SMS"] = Dies(real, after=after, can_lookup=can_lookup)  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        Worker(app).run_for(timedelta(minutes=5))
    assert set(_statuses(app).values()) == {"pending"}
    if can_lookup:
        app.channels["SMS"] = real
    else:
        app.channels["SMS"] = Dies(
            real, after=True, can_lookup=False
        ).inner  # provider back, no lookup
        app.channels["SMS"].supports_lookup = False  # type: ignore[attr-defined]
    Worker(app).run_for(timedelta(minutes=5))


def test_a_send_recorded_but_never_handed_over_is_delivered_once_after_the_lease(
    db_url: str,
) -> None:
    app = journey_app(db_url, send_lease_seconds=0.2)
    try:
        app_id, _ = seed_customers(app, 3)
        _crash_then_recover(app, app_id, after=False)
        counts = _counts(app)
        assert sorted(k.split("/")[-2] for k in counts if "/sms/" in k) == [
            "User1-SMS",
            "User2-SMS",
            "User3-SMS",
        ]
        assert set(counts.values()) == {1}
        assert set(_statuses(app).values()) == {"sent"}
        assert len(delivered(app, "EMAIL")) == 3
    finally:
        app.close()


def test_a_send_the_provider_took_before_the_worker_died_is_settled_not_resent(db_url: str) -> None:
    app = journey_app(db_url, send_lease_seconds=0.2)
    try:
        app_id, _ = seed_customers(app, 3)
        _crash_then_recover(app, app_id, after=True)
        assert set(_counts(app).values()) == {1}
        assert len(delivered(app, "SMS")) == 3
        assert set(_statuses(app).values()) == {"sent"}
    finally:
        app.close()


def test_a_provider_that_cannot_be_asked_leaves_the_send_unknown_and_skips_it(db_url: str) -> None:
    app = journey_app(db_url, send_lease_seconds=0.2)
    try:
        app_id, _ = seed_customers(app, 2)
        _crash_then_recover(app, app_id, after=True, can_lookup=False)
        assert set(_counts(app).values()) == {1}
        statuses = _statuses(app)
        assert sorted(v for k, v in statuses.items() if "/sms/" in k) == ["unknown", "unknown"]
    finally:
        app.close()


def test_transient_failures_are_retried_with_backoff_then_fail_and_permanent_ones_fail_at_once(
    db_url: str,
) -> None:
    app = journey_app(db_url, retry_base_seconds=0.01, max_send_tries=3)
    try:
        app_id, _ = seed_customers(app, 2)
        with app.store.begin() as conn:
            recording.script(conn, "+819000000001", "TRANSIENT")
            recording.script(conn, "+819000000002", "PERMANENT")
        created = journeys.create(app, app_id, ONE_SMS)
        journeys.publish(app, app_id, created["Id"])
        Worker(app).run_for(timedelta(minutes=5))
        with app.store.connect() as conn:
            rows = {
                r.endpoint_id: (r.status, r.tries)
                for r in conn.execute(select(sends))
                if r.channel == "SMS"
            }
        assert rows == {"User1-SMS": ("failed", 3), "User2-SMS": ("failed", 1)}
        assert len(delivered(app, "EMAIL")) == 2  # the journey goes on
        metrics = journeys.metrics(app, app_id, created["Id"])["Metrics"]
        assert metrics["FAILED"] == "2"
        assert metrics["RETRIED"] == "2"
    finally:
        app.close()


def test_a_settlement_the_database_refuses_is_retried_at_once_not_left_to_the_lease(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The provider took the sends, then the database failed the settlement (a statement
    timeout, a cut connection): the worker settles what it holds in a fresh transaction, so
    nothing waits for the 60 s lease and nothing is handed over twice."""
    app = journey_app(db_url)  # the default lease: a wait for it would take a minute
    real_settle = ledger._settle
    failures: list[int] = []

    def refuse_once(*args: Any, **kwargs: Any) -> None:
        if not failures:
            failures.append(1)
            raise OperationalError("UPDATE sends", {}, Exception("canceling statement"))
        real_settle(*args, **kwargs)

    monkeypatch.setattr(ledger, "_settle", refuse_once)
    try:
        app_id, _ = seed_customers(app, 3)
        created = journeys.create(app, app_id, ONE_SMS)
        journeys.publish(app, app_id, created["Id"])
        started = time.monotonic()
        Worker(app).run_for(timedelta(minutes=5))
        assert failures == [1]
        assert time.monotonic() - started < 30
        assert set(_statuses(app).values()) == {"sent"}
        assert set(_counts(app).values()) == {1}
        assert len(delivered(app, "SMS")) == 3
        assert len(delivered(app, "EMAIL")) == 3
    finally:
        app.close()
