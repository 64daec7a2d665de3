"""Email through SES v2 on moto's server, and SES events back through signed SNS notifications."""

from __future__ import annotations

import email
import email.policy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from channel_support import (
    add_endpoint,
    channel,
    delivery,
    events_of,
    free_port,
    hooks_api,
    make_app,
    make_renraku,
    moto_server,
    serve,
    signed_sns,
    sns_signing,
)
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from pydantic import SecretStr

from renraku.channels.config import EmailSettings, SesSettings, WebhookSettings
from renraku.channels.email_ses import SesTransport
from renraku.settings import Settings
from renraku.store import Store
from renraku.store import deliverability as dv
from renraku.store import endpoints as endpoint_store
from renraku.store import templates as template_store

SENDER = "notice@renraku.example"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def _ses_settings(moto_url: str) -> EmailSettings:
    return EmailSettings(
        provider="ses",
        from_address=SENDER,
        ses=SesSettings(
            region="us-east-1",
            endpoint_url=moto_url,
            access_key_id="testing",
            secret_access_key=SecretStr("testing"),
        ),
    )


@pytest.fixture
def ses(moto_url: str) -> EmailSettings:
    settings = _ses_settings(moto_url)
    client = boto3.client(
        "sesv2",
        region_name="us-east-1",
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_email_identity(EmailIdentity=SENDER)
    return settings


def _sent_raw() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def _setup(store: Store) -> tuple[str, Any]:
    app_id = make_app(store)
    with store.begin() as conn:
        template_store.put(
            conn,
            app_id,
            "notice",
            "EMAIL",
            {
                "Subject": "ご案内 {{User.UserAttributes.FirstName}}様",
                "TextPart": "本文 {{Address}}",
            },
            now="2026-11-26T03:00:00.000Z",
        )
    ep = add_endpoint(
        store,
        app_id,
        "EMAIL",
        f"{uuid.uuid4().hex[:8]}@example.jp",
        user_id="User1",
        user_attributes={"FirstName": ["花子"]},
    )
    return app_id, ep


def test_email_goes_out_through_ses_v2_with_its_mime_headers_intact(
    store: Store, ses: EmailSettings
) -> None:
    app_id, ep = _setup(store)
    before = len(_sent_raw())
    [result] = channel(SesTransport(ses), store).deliver([delivery(ep, "notice")])

    assert result.outcome == "sent"
    assert result.provider == "ses"
    raw = _sent_raw()[before:]
    assert len(raw) == 1
    parsed = email.message_from_string(raw[0].raw_data, policy=email.policy.default)
    assert str(parsed["Subject"]) == "ご案内 花子様"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [e["Kind"] for e in events_of(store, app_id, ep.id)] == ["email.sent"]


def test_unverified_sender_is_a_permanent_failure_with_ses_reason(
    store: Store, moto_url: str
) -> None:
    _, ep = _setup(store)
    settings = _ses_settings(moto_url).model_copy(
        update={"from_address": "nobody@unverified.example"}
    )
    [result] = channel(SesTransport(settings), store).deliver([delivery(ep, "notice")])
    assert result.outcome == "failed"
    assert result.permanent
    assert "MessageRejected" in (result.reason or "")


def test_unreachable_ses_endpoint_is_transient(store: Store) -> None:
    _, ep = _setup(store)
    settings = _ses_settings(f"http://127.0.0.1:{free_port()}")
    [result] = channel(SesTransport(settings), store).deliver([delivery(ep, "notice")])
    assert result.outcome == "failed"
    assert result.permanent is False


# -- SES notifications through SNS -----------------------------------------------------------


@pytest.fixture(scope="module")
def signing() -> Iterator[tuple[rsa.RSAPrivateKey, str]]:
    with sns_signing() as signer:
        yield signer


_sns = signed_sns


@pytest.fixture
def hooks(store: Store) -> Iterator[httpx.Client]:
    settings = Settings(
        db="sqlite://",
        webhooks=WebhookSettings(sns_certificate_hosts=["127.0.0.1"], allow_http=True),
    )
    with (
        serve(hooks_api(make_renraku(store, settings))) as url,
        httpx.Client(base_url=url) as client,
    ):
        yield client


def _sent_via_ses(store: Store, ses: EmailSettings) -> tuple[str, Any, str]:
    app_id, ep = _setup(store)
    [result] = channel(SesTransport(ses), store).deliver([delivery(ep, "notice")])
    assert result.provider_message_id is not None
    return app_id, ep, result.provider_message_id


@pytest.mark.parametrize("version", ["1", "2"])
def test_signed_delivery_notification_records_email_delivered_with_the_send_key(
    store: Store,
    ses: EmailSettings,
    signing: tuple[rsa.RSAPrivateKey, str],
    hooks: httpx.Client,
    version: str,
) -> None:
    app_id, ep, message_id = _sent_via_ses(store, ses)
    body = _sns(
        *signing,
        {
            "eventType": "Delivery",
            "mail": {"messageId": message_id},
            "delivery": {"smtpResponse": "250 ok"},
        },
        version,
    )
    response = hooks.post(
        "/hooks/ses", content=json.dumps(body), headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 204
    events = events_of(store, app_id, ep.id)
    assert [e["Kind"] for e in events] == ["email.sent", "email.delivered"]
    assert events[1]["SendKey"] == events[0]["SendKey"]


def test_permanent_bounce_suppresses_the_address(
    store: Store, ses: EmailSettings, signing: tuple[rsa.RSAPrivateKey, str], hooks: httpx.Client
) -> None:
    app_id, ep, message_id = _sent_via_ses(store, ses)
    notification = {
        "notificationType": "Bounce",
        "mail": {"messageId": message_id},
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General"},
    }
    assert (
        hooks.post("/hooks/ses", content=json.dumps(_sns(*signing, notification))).status_code
        == 204
    )
    assert events_of(store, app_id, ep.id)[-1]["Kind"] == "email.bounced"
    with store.connect() as conn:
        assert dv.suppressed(conn, app_id, [ep.address]) == {ep.address: "BOUNCE"}


def test_complaint_opts_the_endpoint_out(
    store: Store, ses: EmailSettings, signing: tuple[rsa.RSAPrivateKey, str], hooks: httpx.Client
) -> None:
    app_id, ep, message_id = _sent_via_ses(store, ses)
    notification = {"eventType": "Complaint", "mail": {"messageId": message_id}, "complaint": {}}
    assert (
        hooks.post("/hooks/ses", content=json.dumps(_sns(*signing, notification))).status_code
        == 204
    )
    kinds = [e["Kind"] for e in events_of(store, app_id, ep.id)]
    assert kinds == ["email.sent", "endpoint.opted_out", "email.complained"]
    with store.connect() as conn:
        assert endpoint_store.get(conn, app_id, ep.id).opt_out == "ALL"


def test_tampered_or_foreign_notifications_are_refused(
    store: Store, ses: EmailSettings, signing: tuple[rsa.RSAPrivateKey, str], hooks: httpx.Client
) -> None:
    app_id, ep, message_id = _sent_via_ses(store, ses)
    good = _sns(*signing, {"eventType": "Delivery", "mail": {"messageId": message_id}})
    tampered = {**good, "Message": good["Message"].replace("Delivery", "Complaint")}
    foreign = {**good, "SigningCertURL": "https://evil.example/cert.pem"}
    assert hooks.post("/hooks/ses", content=json.dumps(tampered)).status_code == 403
    assert hooks.post("/hooks/ses", content=json.dumps(foreign)).status_code == 403
    assert hooks.post("/hooks/ses", content="not json").status_code == 400
    assert [e["Kind"] for e in events_of(store, app_id, ep.id)] == ["email.sent"]


def test_config_check_says_whether_the_ses_sender_is_an_identity_of_the_account(
    moto_url: str,
) -> None:
    from renraku.channels.health import check_email

    settings = _ses_settings(moto_url)
    unknown = settings.model_copy(update={"from_address": "someone@not-an-identity.example"})
    failed = check_email(Settings(db="sqlite://", email=unknown))
    assert failed["Status"] == "FAIL"
    assert "not an identity of this account" in failed["Detail"]
    boto3.client(
        "sesv2",
        region_name="us-east-1",
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_email_identity(EmailIdentity="pending.example")
    pending = settings.model_copy(update={"from_address": "news@pending.example"})
    warned = check_email(Settings(db="sqlite://", email=pending))
    assert warned["Status"] == "WARN"
    assert "pending.example exists but is not verified yet" in warned["Detail"]
