"""The seed's call-initiator function, unmodified, run by the functions runtime from a CUSTOM
delivery: its boto3 ``connect`` client reaches renraku's Connect-compatible API with the access
key renraku scoped to the application, and the call runs the seed's contact flow."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from voice_helpers import (
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
from renraku.channels.base import Delivery
from renraku.channels.config import FunctionSettings
from renraku.channels.custom import CustomChannel
from renraku.channels.voice_simulator import SimulatedVoice, parse_script
from renraku.services import calls as call_service
from renraku.services.call_functions import LocalInvoker

SEED = Path(__file__).parents[2] / "examples" / "seed"
ARN = "arn:aws:lambda:ap-northeast-1:000000000000:function:start-outbound-call"


def test_custom_delivery_runs_the_seed_function_which_places_the_call_through_boto3(
    sqlite_url: str,
) -> None:
    app, _ = make_app(sqlite_url)
    try:
        app_id, call_ep = seed_user(app)
        seed_flow(app, app_id)
        voice = app.channels["VOICE"]
        assert isinstance(voice, SimulatedVoice)
        voice._script = parse_script(
            {"numbers": {call_ep.address: {"outcome": "answered", "digits": ["1"]}}}
        )
        voice.invoker = LocalInvoker({SEED_FUNCTION: seed_status_function(app, app_id)})
        api = FastAPI()
        api.include_router(
            build_router(app, Authenticator(keyring.KeyRing(app), app.settings.server))
        )
        with serve(api) as url:
            app.settings.webhooks.public_url = url
            app.settings.functions["start-outbound-call"] = FunctionSettings(
                code=str(SEED / "start_outbound_call"),
                environment={
                    "INSTANCE_ID": app_id,
                    "QUEUE_ID": "queue-1",
                    "CONTACT_FLOW_ID": "pinpoint-connect-demo-flow-BB",
                    "AWS_REGION": "ap-northeast-1",
                },
                timeout_seconds=30,
            )
            channel = CustomChannel(app.settings, app.store)
            [result] = channel.deliver(
                [
                    Delivery(
                        key="seed-call-1",
                        app_id=app_id,
                        channel="CUSTOM",
                        endpoint=call_ep,
                        config={"DeliveryUri": ARN, "EndpointTypes": ["CUSTOM"]},
                        journey_id="seed",
                        activity_id="call",
                    )
                ]
            )
        assert result.outcome == "sent", result.reason
        calls = call_service.list_calls(app, app_id)
        assert len(calls) == 1
        assert call_status(app, app_id) == {
            "CUSTOM": "COMPLETED",
            "SMS": "CANCELED",
            "EMAIL": "CANCELED",
        }
        keys = keyring.list_keys(app, app_id)
        assert [k["Description"] for k in keys] == ["function:start-outbound-call"]
    finally:
        app.close()
