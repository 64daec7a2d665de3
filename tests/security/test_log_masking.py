"""What providers' client libraries log at DEBUG while renraku sends (botocore's request headers,
twilio's request lines) passes through the masking the CLI installs: no credential, session
token or Authorization value survives, and recipients' addresses are masked. In process, with
caplog's handler carrying the same filter as the CLI's handlers."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import boto3
import pytest
from channel_support import add_endpoint, channel, delivery, make_app, moto_server
from pydantic import SecretStr

from renraku.channels.config import (
    EmailSettings,
    SesSettings,
    SmsSettings,
    TwilioSettings,
    WebhookSettings,
)
from renraku.channels.email_ses import SesTransport
from renraku.channels.sms_twilio import TwilioTransport
from renraku.masking import MaskingFilter
from renraku.simulators.twilio import TwilioSimulator, build_simulator
from renraku.store import Store

AWS_SECRET = "ses-5ecret-access-key-91ab"
AWS_SESSION = "ses-5ecret-session-token-72cd"
TWILIO_SID = "AC" + "7" * 32
TWILIO_TOKEN = "twilio-5ecret-auth-token-53ef"
SENDER = "notice@renraku.example"


@pytest.fixture
def masked_debug_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    masking = MaskingFilter(contacts=True)
    caplog.handler.addFilter(masking)
    try:
        yield caplog
    finally:
        caplog.handler.removeFilter(masking)


@pytest.fixture
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def test_ses_and_twilio_sends_log_no_credential_and_no_raw_address(
    sqlite_url: str, moto_url: str, masked_debug_log: pytest.LogCaptureFixture
) -> None:
    store = Store.open(sqlite_url)
    boto3.client(
        "sesv2",
        region_name="us-east-1",
        endpoint_url=moto_url,
        aws_access_key_id="AKIAABCDEFGHIJKLMNOP",
        aws_secret_access_key=AWS_SECRET,
    ).create_email_identity(EmailIdentity=SENDER)
    ses = EmailSettings(
        provider="ses",
        from_address=SENDER,
        ses=SesSettings(
            endpoint_url=moto_url,
            access_key_id="AKIAABCDEFGHIJKLMNOP",
            secret_access_key=SecretStr(AWS_SECRET),
            session_token=SecretStr(AWS_SESSION),
        ),
    )
    app_id = make_app(store)
    mail = add_endpoint(store, app_id, "EMAIL", f"hanako.{uuid.uuid4().hex[:6]}@example.jp")
    phone = add_endpoint(store, app_id, "SMS", "+819087654321")
    simulator = TwilioSimulator(build_simulator(TWILIO_SID, TWILIO_TOKEN))
    simulator.start()
    try:
        twilio = TwilioTransport(
            SmsSettings(
                provider="twilio",
                twilio=TwilioSettings(
                    account_sid=TWILIO_SID,
                    auth_token=SecretStr(TWILIO_TOKEN),
                    from_number="+815012345678",
                    base_url=simulator.url,
                ),
            ),
            WebhookSettings(),
        )
        [sms] = channel(twilio, store).deliver([delivery(phone, Body="お知らせ")])
        [email] = channel(SesTransport(ses), store).deliver(
            [delivery(mail, Subject="ご案内", TextPart="本文")]
        )
    finally:
        simulator.stop()
        store.close()
    assert (sms.outcome, email.outcome) == ("sent", "sent"), (sms.reason, email.reason)

    text = masked_debug_log.text
    assert "X-Amz-Security-Token" in text  # botocore logged the header: its value is gone
    assert "Authorization" in text
    for secret in (AWS_SECRET, AWS_SESSION, TWILIO_TOKEN, "AKIAABCDEFGHIJKLMNOP"):
        assert secret not in text
    assert mail.address not in text
    assert "h***@example.jp" in text
    assert "+819087654321" not in text
    assert "%2B819087654321" not in text
