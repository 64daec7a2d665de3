"""SMS through AWS End User Messaging (botocore Stubber checks requests against the real service
model) and through Amazon SNS (moto's server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.stub import ANY, Stubber
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
    sqlite_store,
)
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends
from pydantic import SecretStr

from renraku.channels.config import (
    AwsSmsSettings,
    PolicySettings,
    RetrySettings,
    SmsSettings,
    SnsSettings,
    WebhookSettings,
)
from renraku.channels.sms_aws import AwsSmsTransport
from renraku.channels.sms_sns import SnsTransport
from renraku.settings import Settings
from renraku.store import Store
from renraku.store import endpoints as endpoint_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """SQLite only: these tests are about the provider, not the store contract."""
    yield from sqlite_store(tmp_path)


def _sms_client() -> Any:
    return boto3.client(
        "pinpoint-sms-voice-v2",
        region_name="ap-northeast-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


SETTINGS = SmsSettings(
    provider="aws",
    aws=AwsSmsSettings(region="ap-northeast-1", origination_identity="+815011112222"),
    price_per_segment=0.0745,
)


def test_send_text_message_request_matches_the_service_model(store: Store) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "+819011111111", user_id="User1")
    client = _sms_client()
    body = "ご不在のためSMSでご連絡しました。" * 3  # 57 UCS-2 characters: 1 segment
    with Stubber(client) as stub:
        stub.add_response(
            "send_text_message",
            {"MessageId": "msg-0001"},
            {
                "DestinationPhoneNumber": "+819011111111",
                "OriginationIdentity": "+815011112222",
                "MessageBody": body,
                "MessageType": "TRANSACTIONAL",
                "Context": ANY,
            },
        )
        [result] = channel(AwsSmsTransport(SETTINGS, client), store).deliver(
            [delivery(ep, Body=body)]
        )
        stub.assert_no_pending_responses()

    assert result.outcome == "sent"
    assert result.provider_message_id == "msg-0001"
    assert result.data["Segments"] == 1
    assert result.data["EstimatedPrice"] == 0.0745
    assert [e["Kind"] for e in events_of(store, app_id, ep.id)] == ["sms.sent"]


def test_throttling_is_retried_and_then_succeeds(store: Store) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "+819011111111")
    client = _sms_client()
    sleeps: list[float] = []
    with Stubber(client) as stub:
        stub.add_client_error("send_text_message", "ThrottlingException", "Rate exceeded", 429)
        stub.add_response("send_text_message", {"MessageId": "msg-0002"})
        policies = PolicySettings(retry=RetrySettings(max_attempts=3, base_delay_seconds=0.1))
        [result] = channel(
            AwsSmsTransport(SETTINGS, client), store, policies=policies, sleeps=sleeps
        ).deliver([delivery(ep, Body="hello")])
    assert result.outcome == "sent"
    assert result.data["Attempts"] == 2
    assert len(sleeps) == 1


def test_opted_out_destination_conflict_opts_the_endpoint_out(store: Store) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "+819011111111")
    client = _sms_client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "send_text_message",
            "ConflictException",
            "destination opted out",
            400,
            response_meta={},
            modeled_fields={
                "Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT",
                "ResourceType": "opt-out-list",
                "ResourceId": "default",
            },
        )
        [result] = channel(AwsSmsTransport(SETTINGS, client), store).deliver(
            [delivery(ep, Body="x")]
        )
    assert result.outcome == "failed"
    assert result.permanent
    with store.connect() as conn:
        assert endpoint_store.get(conn, app_id, ep.id).opt_out == "ALL"


def test_access_denied_is_permanent_with_a_readable_reason(store: Store) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "+819011111111")
    client = _sms_client()
    with Stubber(client) as stub:
        stub.add_client_error("send_text_message", "AccessDeniedException", "not authorized", 403)
        [result] = channel(AwsSmsTransport(SETTINGS, client), store).deliver(
            [delivery(ep, Body="x")]
        )
    assert result.outcome == "failed"
    assert result.permanent
    assert result.reason == "AWS SMS AccessDeniedException: not authorized"


def test_a_body_over_ten_segments_is_refused_before_the_provider(store: Store) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "+819011111111")
    client = _sms_client()
    with Stubber(client):
        [result] = channel(AwsSmsTransport(SETTINGS, client), store).deliver(
            [delivery(ep, Body="あ" * 700)]
        )
    assert result.outcome == "failed"
    assert result.permanent
    assert "11 segments (UCS-2)" in (result.reason or "")


# -- SNS on moto's server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


def test_sns_publishes_to_the_phone_number_with_the_sms_type(store: Store, moto_url: str) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "+819077777777", user_id="User7")
    settings = SmsSettings(
        provider="sns",
        sns=SnsSettings(
            region="ap-northeast-1",
            endpoint_url=moto_url,
            access_key_id="testing",
            secret_access_key=SecretStr("testing"),
            sender_id="RENRAKU",
        ),
    )
    [result] = channel(SnsTransport(settings), store).deliver([delivery(ep, Body="テスト送信")])

    assert result.outcome == "sent"
    backend = sns_backends[DEFAULT_ACCOUNT_ID]["ap-northeast-1"]
    assert result.provider_message_id in backend.sms_messages
    number, message = backend.sms_messages[result.provider_message_id][:2]
    assert (number, message) == ("+819077777777", "テスト送信")
    assert [e["Kind"] for e in events_of(store, app_id, ep.id)] == ["sms.sent"]


# -- two-way SMS and delivery events through SNS ------------------------------------------------


@pytest.fixture
def hooks(store: Store) -> Iterator[tuple[httpx.Client, Any]]:
    settings = Settings(
        db="sqlite://",
        webhooks=WebhookSettings(sns_certificate_hosts=["127.0.0.1"], allow_http=True),
    )
    with (
        sns_signing() as signer,
        serve(hooks_api(make_renraku(store, settings))) as url,
        httpx.Client(base_url=url) as client,
    ):
        yield client, signer


def test_end_user_messaging_events_and_stop_replies_arrive_through_sns(
    store: Store, hooks: tuple[httpx.Client, Any]
) -> None:
    client, (key, cert_url) = hooks
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "+819011111111", user_id="User1")
    sms = _sms_client()
    with Stubber(sms) as stub:
        stub.add_response("send_text_message", {"MessageId": "msg-0100"})
        [sent] = channel(AwsSmsTransport(SETTINGS, sms), store).deliver([delivery(ep, Body="x")])
    assert sent.outcome == "sent"

    delivered = {"eventType": "TEXT_DELIVERED", "messageId": "msg-0100"}
    reply = {
        "originationNumber": "+819011111111",
        "destinationNumber": "+815011112222",
        "messageBody": "STOP",
        "inboundMessageId": "in-1",
    }
    for notification in (delivered, reply):
        posted = client.post(
            "/hooks/sns", content=json.dumps(signed_sns(key, cert_url, notification))
        )
        assert posted.status_code == 204
    kinds = [e["Kind"] for e in events_of(store, app_id, ep.id)]
    assert kinds == ["sms.sent", "sms.delivered", "sms.inbound", "endpoint.opted_out"]
    with store.connect() as conn:
        assert endpoint_store.get(conn, app_id, ep.id).opt_out == "ALL"


def test_config_check_reaches_sns_with_the_configured_credentials(moto_url: str) -> None:
    from renraku.channels.health import check_sms

    sns = SnsSettings(
        region="ap-northeast-1",
        endpoint_url=moto_url,
        access_key_id="testing",
        secret_access_key=SecretStr("testing"),
    )
    ok = check_sms(Settings(db="sqlite://", sms=SmsSettings(provider="sns", sns=sns)))
    assert ok == {
        "Component": "sms (sns)",
        "Status": "OK",
        "Detail": "SNS in ap-northeast-1 accepts the credentials",
    }
    down = sns.model_copy(update={"endpoint_url": f"http://127.0.0.1:{free_port()}"})
    failed = check_sms(Settings(db="sqlite://", sms=SmsSettings(provider="sns", sns=down)))
    assert failed["Status"] == "FAIL"
