"""Provider callbacks are verified and applied once: a correctly signed callback posted again
(captured and replayed, or retried by the provider) changes no state and emits no event, and the
provider gets an answer that stops its retries. Requests are real and signed, against a real
server over SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import channel_support as cs
import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from renraku.channels import unsubscribe
from renraku.channels.config import SmsSettings, TwilioSettings, WebhookSettings
from renraku.channels.sns_verify import string_to_sign
from renraku.domain.endpoints import Endpoint
from renraku.settings import Settings
from renraku.store import Store
from renraku.store import deliverability as dv
from renraku.store import endpoints as endpoint_store

TOKEN = "twilio-token-for-replay-tests"
NOW = "2026-11-26T03:00:00.000Z"


@pytest.fixture(scope="module")
def signing() -> Iterator[tuple[Any, str]]:
    with cs.sns_signing() as signer:
        yield signer


@pytest.fixture
def hooks(store: Store) -> Iterator[httpx.Client]:
    settings = Settings(
        db="sqlite://",
        sms=SmsSettings(
            provider="twilio",
            twilio=TwilioSettings(
                account_sid="AC" + "2" * 32, auth_token=SecretStr(TOKEN), from_number="+15005550006"
            ),
        ),
        webhooks=WebhookSettings(sns_certificate_hosts=["127.0.0.1"], allow_http=True),
    )
    app = cs.make_renraku(store, settings)
    with cs.serve(cs.hooks_api(app)) as url, httpx.Client(base_url=url, timeout=30) as client:
        app.settings = settings.model_copy(
            update={"webhooks": settings.webhooks.model_copy(update={"public_url": url})}
        )
        yield client


def _sent(store: Store, channel: str, address: str, provider: str, message_id: str) -> Endpoint:
    app_id = cs.make_app(store)
    ep = cs.add_endpoint(store, app_id, channel, address, user_id="User1")
    with store.begin() as conn:
        dv.record_message(
            conn,
            provider=provider,
            message_id=message_id,
            app_id=app_id,
            channel=channel,
            address=address,
            send_key=f"k-{message_id}",
            endpoint_id=ep.id,
            user_id="User1",
            status="sent",
            created_at=NOW,
            updated_at=NOW,
        )
    return ep


def _twilio_post(client: httpx.Client, path: str, form: dict[str, str]) -> httpx.Response:
    url = str(client.base_url).rstrip("/") + path
    signature = RequestValidator(TOKEN).compute_signature(url, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def _kinds(store: Store, ep: Endpoint) -> list[str]:
    return [e["Kind"] for e in cs.events_of(store, ep.app_id, ep.id)]


def test_a_replayed_twilio_status_callback_changes_nothing_and_is_answered_200(
    store: Store, hooks: httpx.Client
) -> None:
    ep = _sent(store, "SMS", "+819011110000", "twilio", "SM" + "a" * 32)
    form = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "AccountSid": "AC1"}

    first = _twilio_post(hooks, "/hooks/twilio/status", form)
    assert first.status_code == 204
    assert _kinds(store, ep) == ["sms.delivered"]

    for _ in range(3):
        again = _twilio_post(hooks, "/hooks/twilio/status", form)
        assert again.status_code == 200
        assert "already applied" in again.text
    assert _kinds(store, ep) == ["sms.delivered"]

    # A later status of the same message is a new report, applied once too.
    read = _twilio_post(hooks, "/hooks/twilio/status", {**form, "MessageStatus": "read"})
    assert read.status_code == 204
    assert _kinds(store, ep) == ["sms.delivered", "sms.status"]


def test_a_replayed_stop_does_not_opt_out_again_after_the_person_opted_back_in(
    store: Store, hooks: httpx.Client
) -> None:
    ep = _sent(store, "SMS", "+819022220000", "twilio", "SM" + "b" * 32)
    stop = {"MessageSid": "SM" + "c" * 32, "From": ep.address, "To": "+15005550006", "Body": "STOP"}
    start = {**stop, "MessageSid": "SM" + "d" * 32, "Body": "START"}

    answered = _twilio_post(hooks, "/hooks/twilio/inbound", stop)
    assert answered.status_code == 200
    assert "<Message>" in answered.text
    assert _twilio_post(hooks, "/hooks/twilio/inbound", start).status_code == 200
    kinds = _kinds(store, ep)

    replayed = _twilio_post(hooks, "/hooks/twilio/inbound", stop)
    assert replayed.status_code == 200
    assert "<Message>" not in replayed.text  # no second STOP reply goes out
    assert _kinds(store, ep) == kinds
    with store.connect() as conn:
        assert endpoint_store.get(conn, ep.app_id, ep.id).opt_out == "NONE"
        assert dv.suppressed(conn, ep.app_id, [ep.address]) == {}


def test_an_inbound_message_without_its_sid_is_refused(store: Store, hooks: httpx.Client) -> None:
    ep = _sent(store, "SMS", "+819033330000", "twilio", "SM" + "e" * 32)
    form = {"From": ep.address, "To": "+15005550006", "Body": "STOP"}
    assert _twilio_post(hooks, "/hooks/twilio/inbound", form).status_code == 400
    assert _kinds(store, ep) == []


def _resigned(key: Any, message: dict[str, Any], timestamp: datetime) -> dict[str, Any]:
    """``message`` with another Timestamp, signed again (a genuine SNS message of that time)."""
    out = {**message, "Timestamp": timestamp.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    out.pop("Signature")
    signature = key.sign(string_to_sign(out), padding.PKCS1v15(), hashes.SHA256())
    return {**out, "Signature": base64.b64encode(signature).decode()}


def test_a_replayed_sns_notification_is_applied_once_and_answered_200(
    store: Store, hooks: httpx.Client, signing: tuple[Any, str]
) -> None:
    ep = _sent(store, "EMAIL", "user1@example.jp", "ses", "ses-msg-1")
    complaint = {"eventType": "Complaint", "mail": {"messageId": "ses-msg-1"}, "complaint": {}}
    body = json.dumps(cs.signed_sns(*signing, complaint))

    assert hooks.post("/hooks/ses", content=body).status_code == 204
    kinds = _kinds(store, ep)
    assert kinds == ["endpoint.opted_out", "email.complained"]
    with store.begin() as conn:  # the person is let back in by the operator
        endpoint_store.upsert_many(conn, [replace(ep, opt_out="NONE")])
        dv.unsuppress(conn, ep.app_id, ep.address)

    again = hooks.post("/hooks/ses", content=body)
    assert again.status_code == 200
    assert "already applied" in again.text
    assert _kinds(store, ep) == kinds
    with store.connect() as conn:
        assert endpoint_store.get(conn, ep.app_id, ep.id).opt_out == "NONE"


def test_sns_messages_outside_the_time_window_are_refused_even_when_signed(
    store: Store, hooks: httpx.Client, signing: tuple[Any, str]
) -> None:
    ep = _sent(store, "EMAIL", "user2@example.jp", "ses", "ses-msg-2")
    key, _ = signing
    message = cs.signed_sns(*signing, {"eventType": "Delivery", "mail": {"messageId": "ses-msg-2"}})
    now = datetime.now(UTC)
    stale = _resigned(key, message, now - timedelta(hours=2))
    future = _resigned(key, message, now + timedelta(hours=1))
    for refused in (stale, future):
        response = hooks.post("/hooks/ses", content=json.dumps(refused))
        assert response.status_code == 403
        assert "Timestamp" in response.text
    assert _kinds(store, ep) == []
    # Within the window and correctly signed: accepted.
    fresh = _resigned(key, message, now - timedelta(minutes=30))
    assert hooks.post("/hooks/ses", content=json.dumps(fresh)).status_code == 204
    assert _kinds(store, ep) == ["email.delivered"]


def test_copies_of_one_sns_message_arriving_together_apply_once(
    store: Store, hooks: httpx.Client, signing: tuple[Any, str]
) -> None:
    ep = _sent(store, "EMAIL", "user3@example.jp", "ses", "ses-msg-3")
    body = json.dumps(
        cs.signed_sns(*signing, {"eventType": "Delivery", "mail": {"messageId": "ses-msg-3"}})
    )
    with ThreadPoolExecutor(6) as pool:
        codes = sorted(
            pool.map(lambda _: hooks.post("/hooks/ses", content=body).status_code, range(6))
        )
    assert codes == [200] * 5 + [204]
    assert _kinds(store, ep) == ["email.delivered"]


def test_an_unsubscribe_link_posted_again_opts_out_once(store: Store, hooks: httpx.Client) -> None:
    ep = _sent(store, "EMAIL", "user4@example.jp", "ses", "ses-msg-4")
    with store.begin() as conn:
        secret = dv.app_secret(conn, ep.app_id, now=NOW)
    link = unsubscribe.url(str(hooks.base_url), secret, ep.app_id, ep.id)
    form = {"List-Unsubscribe": "One-Click"}
    assert hooks.post(link, data=form).status_code == 200
    assert _kinds(store, ep) == ["endpoint.opted_out"]
    for _ in range(2):
        again = hooks.post(link, data=form)
        assert again.status_code == 200  # mail clients retry one-click posts: no error for them
        assert "Unsubscribed" in again.text
    assert _kinds(store, ep) == ["endpoint.opted_out"]
