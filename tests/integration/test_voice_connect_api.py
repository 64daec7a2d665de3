"""The Connect-compatible API with an unmodified boto3 ``connect`` client, signed with SigV4 by a
renraku key, against a real uvicorn server; the seed's call-initiator function runs unmodified."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from fastapi import FastAPI
from voice_helpers import (
    EXAMPLES,
    SEED_FUNCTION,
    call_status,
    make_app,
    seed_flow,
    seed_status_function,
    seed_user,
    serve,
)

from renraku.api import keyring
from renraku.api.auth import Authenticator
from renraku.api.connect import build_router
from renraku.app import App
from renraku.channels.voice_simulator import SimulatedVoice, parse_script
from renraku.services import calls as call_service
from renraku.services import flows as flow_service
from renraku.services.call_functions import LocalInvoker

# The deck's call-initiator sample (Python 3.9, boto3), with the imports it relies on.
SEED_CALL_INITIATOR = """
import os
import boto3

connect = boto3.client('connect')
def lambda_handler(event, context):
    for key in event['Endpoints'].keys():
        connectResponse = connect.start_outbound_voice_contact(
            InstanceId = os.environ['INSTANCE_ID'],
            QueueId = os.environ['QUEUE_ID'],
            ContactFlowId = os.environ['CONTACT_FLOW_ID'],
            DestinationPhoneNumber = event['Endpoints'][key]['Address'],
            Attributes = {
                "UserId": event['Endpoints'][key]['User']['UserId'],
            }
        )
"""


@pytest.fixture
def served(migrated_db_url: str) -> Iterator[tuple[App, str, str, dict[str, Any]]]:
    app, _ = make_app(migrated_db_url)
    app_id, ep = seed_user(app)
    seed_flow(app, app_id)
    voice = app.channels["VOICE"]
    assert isinstance(voice, SimulatedVoice)
    voice._script = parse_script(
        {
            "numbers": {ep.address: {"outcome": "answered", "digits": ["1"]}},
            "default": {"outcome": "no-answer"},
        }
    )
    voice.invoker = LocalInvoker({SEED_FUNCTION: seed_status_function(app, app_id)})
    api = FastAPI()
    api.include_router(build_router(app, Authenticator(keyring.KeyRing(app), app.settings.server)))
    key = keyring.create_key(app, app_id)
    with serve(api) as url:
        yield app, app_id, url, key
    app.close()


def client(url: str, key: dict[str, Any]) -> Any:
    return boto3.client(
        "connect",
        endpoint_url=url,
        region_name="ap-northeast-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}),
    )


def test_start_describe_attributes_through_boto3_run_the_seed_flow(served: Any) -> None:
    app, app_id, url, key = served
    connect = client(url, key)
    started = connect.start_outbound_voice_contact(
        InstanceId=app_id,
        ContactFlowId="pinpoint-connect-demo-flow-BB",
        QueueId="queue-1",
        DestinationPhoneNumber="+819011111111",
        Attributes={"UserId": "User1"},
        ClientToken="token-1",
    )
    contact_id = started["ContactId"]
    again = connect.start_outbound_voice_contact(
        InstanceId=app_id,
        ContactFlowId="pinpoint-connect-demo-flow-BB",
        DestinationPhoneNumber="+819011111111",
        Attributes={"UserId": "User1"},
        ClientToken="token-1",
    )
    assert again["ContactId"] == contact_id
    attrs = connect.get_contact_attributes(InstanceId=app_id, InitialContactId=contact_id)
    assert attrs["Attributes"]["var_UserId"] == "User1"
    contact = connect.describe_contact(InstanceId=app_id, ContactId=contact_id)["Contact"]
    assert contact["Id"] == contact_id
    assert contact["Channel"] == "VOICE"
    assert contact["CustomerEndpoint"]["Address"] == "+819011111111"
    # The simulated call lasts beyond "now" on the fixed clock: still connected, not ended.
    assert "DisconnectTimestamp" not in contact
    assert call_status(app, app_id) == {
        "CUSTOM": "COMPLETED",
        "SMS": "CANCELED",
        "EMAIL": "CANCELED",
    }
    assert len(call_service.list_calls(app, app_id)) == 1


def test_connect_errors_arrive_as_botocore_error_codes(served: Any) -> None:
    app, app_id, url, key = served
    connect = client(url, key)

    def code(**kwargs: Any) -> str:
        params = {
            "InstanceId": app_id,
            "ContactFlowId": "pinpoint-connect-demo-flow-BB",
            "DestinationPhoneNumber": "+819011111111",
            **kwargs,
        }
        with pytest.raises(ClientError) as info:
            connect.start_outbound_voice_contact(**params)
        return str(info.value.response["Error"]["Code"])

    assert code(ContactFlowId="no-such-flow") == "ResourceNotFoundException"
    assert code(InstanceId="no-such-instance") == "ResourceNotFoundException"
    assert code(DestinationPhoneNumber="09011111111") == "InvalidParameterException"
    with pytest.raises(ClientError) as info:
        connect.describe_contact(InstanceId=app_id, ContactId="missing")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert call_service.list_calls(app, app_id) == []


def test_a_key_of_another_application_cannot_place_calls(served: Any) -> None:
    app, app_id, url, _key = served
    from renraku.store import apps as app_store

    with app.store.begin() as conn:
        other = app_store.create_app(conn, "other", now=app.now_iso())
    stranger = keyring.create_key(app, other["Id"])
    with pytest.raises(ClientError) as info:
        client(url, stranger).start_outbound_voice_contact(
            InstanceId=app_id,
            ContactFlowId="pinpoint-connect-demo-flow-BB",
            DestinationPhoneNumber="+819011111111",
        )
    assert info.value.response["Error"]["Code"] == "ForbiddenException"
    bad = {**stranger, "SecretAccessKey": "x" * 40}
    with pytest.raises(ClientError):
        client(url, bad).describe_contact(InstanceId=other["Id"], ContactId="x")
    assert call_service.list_calls(app, app_id) == []


def test_stop_contact_ends_a_running_call_and_refuses_an_ended_one(served: Any) -> None:
    _app, app_id, url, key = served
    connect = client(url, key)
    contact_id = connect.start_outbound_voice_contact(
        InstanceId=app_id,
        ContactFlowId="pinpoint-connect-demo-flow-BB",
        DestinationPhoneNumber="+819099999999",
    )["ContactId"]
    connect.stop_contact(InstanceId=app_id, ContactId=contact_id)
    contact = connect.describe_contact(InstanceId=app_id, ContactId=contact_id)["Contact"]
    assert contact["DisconnectReason"] == "API"
    with pytest.raises(ClientError) as info:
        # A different body: an identical signed request within the same second is a replay.
        connect.stop_contact(
            InstanceId=app_id, ContactId=contact_id, DisconnectReason={"Code": "again"}
        )
    assert info.value.response["Error"]["Code"] == "ContactNotFoundException"


def test_the_seeds_call_initiator_function_places_calls_unmodified(
    served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, app_id, url, key = served
    monkeypatch.setenv("AWS_ENDPOINT_URL_CONNECT", url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.setenv("INSTANCE_ID", app_id)
    monkeypatch.setenv("QUEUE_ID", "queue-1")
    monkeypatch.setenv("CONTACT_FLOW_ID", "pinpoint-connect-demo-flow-BB")
    # A fresh default session, as a new function process has (botocore caches credentials).
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    namespace: dict[str, Any] = {}
    exec(compile(SEED_CALL_INITIATOR, "call_initiator.py", "exec"), namespace)
    event = {
        "Endpoints": {
            "User1-Custom": {"Address": "+819011111111", "User": {"UserId": "User1"}},
            "User2-Custom": {"Address": "+819022222222", "User": {"UserId": "User2"}},
        }
    }
    namespace["lambda_handler"](event, None)
    calls = {c["CustomerAddress"]: c for c in call_service.list_calls(app, app_id)}
    assert calls["+819011111111"]["Outcome"] == "ANSWERED"
    assert calls["+819011111111"]["Attributes"]["UserId"] == "User1"
    assert calls["+819022222222"]["Outcome"] == "NO_ANSWER"
    assert os.environ["CONTACT_FLOW_ID"] == "pinpoint-connect-demo-flow-BB"


def test_contact_flows_are_created_versioned_described_and_listed_through_boto3(
    served: Any,
) -> None:
    _app, app_id, url, key = served
    connect = client(url, key)
    content = (EXAMPLES / "seed-flow-mark-reached.json").read_text(encoding="utf-8")
    created = connect.create_contact_flow(
        InstanceId=app_id, Name="reached", Type="CONTACT_FLOW", Content=content
    )
    flow_id = created["ContactFlowId"]
    assert created["ContactFlowArn"].endswith(f"/contact-flow/{flow_id}")
    connect.update_contact_flow_content(InstanceId=app_id, ContactFlowId=flow_id, Content=content)
    described = connect.describe_contact_flow(InstanceId=app_id, ContactFlowId=flow_id)
    assert described["ContactFlow"]["Name"] == "reached"
    assert described["ContactFlow"]["Version"] == 2
    assert json.loads(described["ContactFlow"]["Content"])["StartAction"] == "enable-logging"
    names = [
        f["Name"] for f in connect.list_contact_flows(InstanceId=app_id)["ContactFlowSummaryList"]
    ]
    assert sorted(names) == ["pinpoint-connect-demo-flow-BB", "reached"]
    started = connect.start_outbound_voice_contact(
        InstanceId=app_id, ContactFlowId=flow_id, DestinationPhoneNumber="+819011111111"
    )
    assert started["ContactId"]


def test_a_flow_renraku_cannot_run_is_refused_with_every_problem(served: Any) -> None:
    app, app_id, url, key = served
    connect = client(url, key)
    data = json.loads((EXAMPLES / "seed-flow.json").read_text(encoding="utf-8"))
    data["Actions"].append({"Identifier": "queue", "Type": "TransferContactToQueue"})
    data["StartAction"] = "nowhere"
    with pytest.raises(ClientError) as info:
        connect.create_contact_flow(
            InstanceId=app_id, Name="bad", Type="CONTACT_FLOW", Content=json.dumps(data)
        )
    error = info.value.response
    assert error["Error"]["Code"] == "InvalidContactFlowException"
    assert "TransferContactToQueue" in error["Error"]["Message"]
    with pytest.raises(ClientError) as dup:
        connect.create_contact_flow(
            InstanceId=app_id,
            Name="pinpoint-connect-demo-flow-BB",
            Type="CONTACT_FLOW",
            Content=(EXAMPLES / "seed-flow.json").read_text(encoding="utf-8"),
        )
    assert dup.value.response["Error"]["Code"] == "DuplicateResourceException"
    assert [f["Name"] for f in flow_service.list_all(app, app_id)] == [
        "pinpoint-connect-demo-flow-BB"
    ]
