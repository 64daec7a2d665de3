"""Twilio callback receipts are kept for their retention (7 days) and then forgotten: in bounded
batches, at most once a minute per server process, by the signed callbacks themselves. A replay
within the retention is still refused; receipts of other sources are left to their own rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import channel_support as cs
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from renraku.channels.config import SmsSettings, TwilioSettings
from renraku.domain.timefmt import iso
from renraku.settings import Settings
from renraku.store import Store
from renraku.store import deliverability as dv
from renraku.store import webhook_receipts as receipts
from renraku.store.webhook_receipts import AlreadyReceived, Expiry, Receipt

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
TOKEN = "twilio-token-for-expiry-tests"


def _claim(store: Store, source: str, key: str, age: timedelta) -> Receipt:
    once = Receipt(source, key, iso(NOW - age))
    with store.begin() as conn:
        receipts.claim(conn, once)
    return once


def _kept(store: Store) -> list[tuple[str, str]]:
    table = receipts.webhook_receipts
    with store.connect() as conn:
        rows = conn.execute(select(table.c.source, table.c.key).order_by(table.c.key)).all()
    return [(r[0], r[1]) for r in rows]


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_receipts_past_the_retention_go_in_bounded_batches_and_recent_ones_stay(
    store: Store,
) -> None:
    old, recent = timedelta(days=8), timedelta(days=6)
    for n in range(5):
        _claim(store, "twilio-sms", f"SM{n}|delivered", old)
    for n in range(2):
        _claim(store, "twilio-voice", f"CA{n}|completed|3", old)
    kept_sms = _claim(store, "twilio-sms", "SMkept|delivered", recent)
    _claim(store, "sns", "sns-message-old", timedelta(days=30))  # SNS forgets by its own window

    expiry = Expiry(batch=2, batches=2, monotonic=Ticks())
    assert expiry.retention == timedelta(days=7)
    assert expiry.run(store, NOW) == 4 + 2  # two batches of two SMS receipts, both voice ones
    assert ("twilio-sms", "SM4|delivered") in _kept(store)  # the bound left the newest old one
    assert expiry.run(store, NOW) == 1
    assert _kept(store) == [("twilio-sms", "SMkept|delivered"), ("sns", "sns-message-old")]

    with store.begin() as conn, pytest.raises(AlreadyReceived):
        receipts.claim(conn, kept_sms)  # a replay within the retention is still refused


def test_a_run_is_due_at_most_once_per_interval(store: Store) -> None:
    ticks = Ticks()
    expiry = Expiry(every_seconds=60, monotonic=ticks)
    _claim(store, "twilio-sms", "SM1|sent", timedelta(days=9))
    assert expiry.maybe_run(store, NOW) == 1
    _claim(store, "twilio-sms", "SM2|sent", timedelta(days=9))
    ticks.now += 59
    assert expiry.maybe_run(store, NOW) == 0
    assert _kept(store) == [("twilio-sms", "SM2|sent")]
    ticks.now += 1
    assert expiry.maybe_run(store, NOW) == 1
    assert _kept(store) == []


@pytest.fixture
def served(store: Store) -> Iterator[tuple[httpx.Client, Any]]:
    settings = Settings(
        db="sqlite://",
        sms=SmsSettings(
            provider="twilio",
            twilio=TwilioSettings(
                account_sid="AC" + "3" * 32, auth_token=SecretStr(TOKEN), from_number="+15005550006"
            ),
        ),
    )
    app = cs.make_renraku(store, settings)
    api = cs.hooks_api(app)
    with cs.serve(api) as url, httpx.Client(base_url=url, timeout=30) as client:
        app.settings = settings.model_copy(
            update={"webhooks": settings.webhooks.model_copy(update={"public_url": url})}
        )
        yield client, api


def _post_status(client: httpx.Client, sid: str, status: str, *, signed: bool = True) -> int:
    form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC1"}
    url = str(client.base_url).rstrip("/") + "/hooks/twilio/status"
    signature = RequestValidator(TOKEN).compute_signature(url, form) if signed else "forged"
    response = client.post(
        "/hooks/twilio/status", data=form, headers={"X-Twilio-Signature": signature}
    )
    return response.status_code


def test_signed_twilio_callbacks_forget_old_receipts_and_replays_within_retention_are_refused(
    store: Store, served: tuple[httpx.Client, Any]
) -> None:
    client, api = served
    app_id = cs.make_app(store)
    ep = cs.add_endpoint(store, app_id, "SMS", "+819044440000", user_id="User1")
    sid = "SM" + "f" * 32
    with store.begin() as conn:
        dv.record_message(
            conn,
            provider="twilio",
            message_id=sid,
            app_id=app_id,
            channel="SMS",
            address=ep.address,
            send_key="k-expiry",
            endpoint_id=ep.id,
            user_id="User1",
            status="sent",
            created_at=iso(NOW),
            updated_at=iso(NOW),
        )
    _claim(store, "twilio-sms", "SMold|delivered", timedelta(days=8))
    ticks = Ticks()
    api.state.twilio_receipt_expiry = Expiry(monotonic=ticks)  # the server process's expiry

    assert _post_status(client, sid, "bogus", signed=False) == 403
    assert ("twilio-sms", "SMold|delivered") in _kept(store)  # an unsigned post runs nothing

    assert _post_status(client, sid, "delivered") == 204
    assert _kept(store) == [("twilio-sms", f"{sid}|delivered")]  # the old receipt is gone

    ticks.now += 60  # the next minute: this callback runs the expiry again
    assert _post_status(client, sid, "delivered") == 200  # within the retention: refused
    assert [e["Kind"] for e in cs.events_of(store, app_id, ep.id)] == ["sms.delivered"]


def test_the_retention_comes_from_the_webhook_settings(
    store: Store, served: tuple[httpx.Client, Any]
) -> None:
    client, api = served
    app = api.state.renraku
    two_days = app.settings.webhooks.model_copy(
        update={"twilio_receipt_retention_seconds": 172_800}
    )
    app.settings = app.settings.model_copy(update={"webhooks": two_days})
    wall = datetime.now(UTC)  # the expiry runs on wall time
    with store.begin() as conn:  # past 2 days, within the default 7
        receipts.claim(conn, Receipt("twilio-sms", "SMthree|sent", iso(wall - timedelta(days=3))))
        receipts.claim(conn, Receipt("twilio-sms", "SMone|sent", iso(wall - timedelta(days=1))))
    assert _post_status(client, "SM" + "e" * 32, "delivered") in (200, 204)
    assert api.state.twilio_receipt_expiry.retention == timedelta(days=2)
    kept = _kept(store)
    assert ("twilio-sms", "SMthree|sent") not in kept
    assert ("twilio-sms", "SMone|sent") in kept
