"""VOICE through Amazon Connect, checked with botocore's Stubber against the real service model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
import pytest
from botocore.stub import ANY, Stubber
from fastapi import FastAPI
from voice_helpers import delivery, make_app, seed_user, serve

from renraku.api.connect import build_router
from renraku.app import App
from renraku.channels.voice_connect import ConnectVoice, client_token
from renraku.services import calls as call_service
from renraku.store import events as event_store

INSTANCE = "11111111-2222-3333-4444-555555555555"
FLOW = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
CONTACT = "c0ffee00-0000-4000-8000-000000000001"


@pytest.fixture
def connect(migrated_sqlite_url: str) -> Iterator[tuple[App, str, Any, Stubber, ConnectVoice]]:
    app, _ = make_app(
        migrated_sqlite_url,
        provider="connect",
        connect={
            "instance_id": INSTANCE,
            "queue_id": "queue-1",
            "contact_flow_id": FLOW,
            "source_phone_number": "+815012345678",
            "answer_machine_detection": True,
        },
    )
    app_id, ep = seed_user(app)
    client = boto3.client(
        "connect", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    voice = app.channels["VOICE"]
    assert isinstance(voice, ConnectVoice)
    voice._client = client
    with Stubber(client) as stubber:
        yield app, app_id, ep, stubber, voice
        stubber.assert_no_pending_responses()
    app.close()


def test_a_voice_delivery_starts_an_outbound_contact_with_the_send_key_as_client_token(
    connect: Any,
) -> None:
    app, app_id, ep, stubber, voice = connect
    stubber.add_response(
        "start_outbound_voice_contact",
        {"ContactId": CONTACT},
        {
            "InstanceId": INSTANCE,
            "ContactFlowId": FLOW,
            "DestinationPhoneNumber": "+819011111111",
            "QueueId": "queue-1",
            "SourcePhoneNumber": "+815012345678",
            "Attributes": {"UserId": "User1", "EndpointId": ep.id},
            "ClientToken": "journey-1:User1:call:1",
            "AnswerMachineDetectionConfig": {
                "EnableAnswerMachineDetection": True,
                "AwaitAnswerMachinePrompt": True,
            },
        },
    )
    (result,) = voice.deliver(
        [delivery(app_id, ep, key="journey-1:User1:call:1", ContactFlowId="")]
    )
    assert result.outcome == "sent"
    call = call_service.show_call(app, app_id, result.provider_message_id)
    assert (call["ProviderCallId"], call["Provider"], call["Outcome"]) == (CONTACT, "connect", None)
    # The same send again is answered from the record: Connect is not called a second time.
    (again,) = voice.deliver([delivery(app_id, ep, key="journey-1:User1:call:1")])
    assert again.provider_message_id == result.provider_message_id


def test_syncing_asks_describe_contact_records_the_outcome_and_wakes_the_journey(
    connect: Any,
) -> None:
    app, app_id, ep, stubber, voice = connect
    stubber.add_response("start_outbound_voice_contact", {"ContactId": CONTACT}, None)
    (result,) = voice.deliver([delivery(app_id, ep, key="k-poll")])
    started = datetime(2026, 11, 26, 1, 0, 5, tzinfo=UTC)
    ended = datetime(2026, 11, 26, 1, 0, 40, tzinfo=UTC)
    stubber.add_response(
        "describe_contact",
        {
            "Contact": {
                "Id": CONTACT,
                "InitiationTimestamp": started,
                "ConnectedToSystemTimestamp": started,
                "DisconnectTimestamp": ended,
                "AnsweringMachineDetectionStatus": "HUMAN_ANSWERED",
                "DisconnectReason": "CONTACT_FLOW_DISCONNECT",
            }
        },
        {"InstanceId": INSTANCE, "ContactId": CONTACT},
    )
    stubber.add_response(
        "get_contact_attributes",
        {"Attributes": {"UserId": "User1", "Digits": "1"}},
        {"InstanceId": INSTANCE, "InitialContactId": CONTACT},
    )
    (call,) = call_service.sync(app, app_id)
    assert call["Id"] == result.provider_message_id
    assert (call["Outcome"], call["Digits"], call["EndedAt"]) == (
        "ANSWERED",
        "1",
        "2026-11-26T01:00:40.000Z",
    )
    with app.store.connect() as conn:
        events = event_store.timeline(conn, app_id, user_id="User1")
    (done,) = [e for e in events if e["Kind"] == "call.completed"]
    assert done["SendKey"] == "k-poll"
    assert done["Time"] == "2026-11-26T01:00:40.000Z"


def test_connect_refusals_become_recorded_permanent_failures(connect: Any) -> None:
    app, app_id, ep, stubber, voice = connect
    stubber.add_client_error(
        "start_outbound_voice_contact",
        service_error_code="DestinationNotAllowedException",
        service_message="Outbound calls to this country are not allowed",
        http_status_code=403,
        expected_params={
            "InstanceId": INSTANCE,
            "ContactFlowId": FLOW,
            "DestinationPhoneNumber": ANY,
            "QueueId": ANY,
            "SourcePhoneNumber": ANY,
            "Attributes": ANY,
            "ClientToken": "k-no",
            "AnswerMachineDetectionConfig": ANY,
        },
    )
    (result,) = voice.deliver([delivery(app_id, ep, key="k-no", ContactFlowId="")])
    assert result.outcome == "failed"
    assert result.permanent
    assert "DestinationNotAllowedException" in (result.reason or "")
    call = call_service.show_call(app, app_id, result.provider_message_id)
    assert call["Outcome"] == "FAILED"


def test_a_flow_in_connect_can_report_its_outcome_to_renraku(connect: Any) -> None:
    app, app_id, ep, stubber, voice = connect
    stubber.add_response("start_outbound_voice_contact", {"ContactId": CONTACT}, None)
    voice.deliver([delivery(app_id, ep, key="k-hook")])
    api = FastAPI()
    api.include_router(build_router(app))
    with serve(api) as url, httpx.Client(base_url=url) as http:
        bad = http.post(
            "/voice/connect/outcome",
            json={"InstanceId": app_id, "ContactId": CONTACT, "Outcome": "MAYBE"},
        )
        assert bad.status_code == 400
        assert bad.headers["x-amzn-ErrorType"] == "InvalidParameterException"
        ok = http.post(
            "/voice/connect/outcome",
            json={"InstanceId": app_id, "ContactId": CONTACT, "Outcome": "ANSWERED", "Digits": "1"},
        )
        assert ok.status_code == 200
        assert ok.json()["Outcome"] == "ANSWERED"
    (call,) = call_service.list_calls(app, app_id)
    assert (call["Outcome"], call["Digits"]) == ("ANSWERED", "1")


def test_long_send_keys_are_hashed_to_fit_connects_client_token() -> None:
    assert client_token("k" * 500) == "k" * 500
    assert len(client_token("k" * 501)) == 64
    assert client_token("k" * 501) != client_token("k" * 502)


def test_a_throttled_start_is_retried_with_the_same_client_token(connect: Any) -> None:
    app, app_id, ep, stubber, voice = connect
    stubber.add_client_error(
        "start_outbound_voice_contact",
        service_error_code="LimitExceededException",
        service_message="Rate exceeded",
        http_status_code=429,
    )
    stubber.add_response("start_outbound_voice_contact", {"ContactId": CONTACT}, None)
    (first,) = voice.deliver([delivery(app_id, ep, key="k-throttled")])
    assert first.outcome == "failed"
    assert not first.permanent
    assert call_service.list_calls(app, app_id) == []
    (second,) = voice.deliver([delivery(app_id, ep, key="k-throttled")])
    assert second.outcome == "sent"
    (call,) = call_service.list_calls(app, app_id)
    assert call["ProviderCallId"] == CONTACT
