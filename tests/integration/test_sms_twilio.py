"""SMS through the twilio library against the local Twilio-compatible simulator, with status
callbacks and inbound replies posted (signed) to renraku's hooks on a real uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from channel_support import (
    add_endpoint,
    channel,
    delivery,
    events_of,
    hooks_api,
    make_app,
    make_renraku,
    serve,
    wait_for,
)
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from renraku.channels.config import SmsSettings, TwilioSettings, WebhookSettings
from renraku.channels.sms_twilio import TwilioTransport
from renraku.settings import Settings
from renraku.simulators.twilio import TwilioSimulator, build_simulator
from renraku.store import Store
from renraku.store import endpoints as endpoint_store

SID = "AC" + "1" * 32
TOKEN = "simulator-secret"
FROM = "+815012345678"


@pytest.fixture
def simulator() -> Iterator[TwilioSimulator]:
    sim = TwilioSimulator(build_simulator(SID, TOKEN))
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def wired(store: Store, simulator: TwilioSimulator) -> Iterator[dict[str, Any]]:
    """renraku's hooks served over ``store``, and a Twilio channel pointed at the simulator."""
    placeholder = Settings(db="sqlite://")
    app = make_renraku(store, placeholder)
    with serve(hooks_api(app)) as hooks_url:
        app.settings = Settings(
            db="sqlite://",
            sms=SmsSettings(
                provider="twilio",
                twilio=TwilioSettings(
                    account_sid=SID,
                    auth_token=SecretStr(TOKEN),
                    from_number=FROM,
                    base_url=simulator.url,
                ),
            ),
            webhooks=WebhookSettings(public_url=hooks_url),
        )
        transport = TwilioTransport(app.settings.sms, app.settings.webhooks)
        yield {
            "app": app,
            "hooks": hooks_url,
            "channel": channel(transport, store, public_url=hooks_url),
        }


def test_sms_goes_through_the_twilio_library_and_status_callbacks_become_events(
    store: Store, simulator: TwilioSimulator, wired: dict[str, Any]
) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "+819011111111", user_id="User1")
    d = delivery(ep, Body="お電話がつながりませんでした。折り返しお願いします。")
    [result] = wired["channel"].deliver([d])

    assert result.outcome == "sent"
    assert result.provider_message_id is not None
    assert result.provider_message_id.startswith("SM")
    recorded = simulator.state.messages[result.provider_message_id]
    assert recorded["to"] == "+819011111111"
    assert recorded["from"] == FROM
    assert result.data["Encoding"] == "UCS-2"
    assert result.data["Segments"] == 1

    kinds = wait_for(
        lambda: (
            [e["Kind"] for e in events_of(store, app_id, ep.id) if e["Kind"] == "sms.delivered"]
            and [e["Kind"] for e in events_of(store, app_id, ep.id)]
        )
    )
    assert kinds == ["sms.sent", "sms.status", "sms.delivered"]
    assert {e["SendKey"] for e in events_of(store, app_id, ep.id)} == {d.key}


def test_undelivered_status_becomes_a_failed_event_with_the_error_code(
    store: Store, wired: dict[str, Any]
) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "+15005550010")
    wired["channel"].deliver([delivery(ep, Body="hello")])
    failed = wait_for(
        lambda: [e for e in events_of(store, app_id, ep.id) if e["Kind"] == "sms.failed"]
    )
    assert failed[0]["Data"]["Status"] == "undelivered"
    assert failed[0]["Data"]["ErrorCode"] == "30003"


def test_stop_reply_opts_the_endpoint_out_answers_and_blocks_the_next_send(
    store: Store, simulator: TwilioSimulator, wired: dict[str, Any]
) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "+819022222222", user_id="User2")
    wired["channel"].deliver([delivery(ep, Body="first")])
    answer = httpx.post(
        simulator.url + "/simulator/inbound",
        json={
            "From": ep.address,
            "To": FROM,
            "Body": " 停止 ",
            "Url": wired["hooks"] + "/hooks/twilio/inbound",
        },
    ).json()

    assert answer["status"] == 200
    assert "unsubscribed" in answer["body"]
    assert "<Message>" in answer["body"]
    with store.connect() as conn:
        assert endpoint_store.get(conn, app_id, ep.id).opt_out == "ALL"
    assert "endpoint.opted_out" in [e["Kind"] for e in events_of(store, app_id, ep.id)]
    [again] = wired["channel"].deliver([delivery(ep, Body="second")])
    assert again.outcome == "failed"
    assert again.permanent
    assert len([m for m in simulator.state.messages.values() if m["to"] == ep.address]) == 1


def test_help_reply_answers_with_the_configured_text_and_changes_nothing(
    store: Store, simulator: TwilioSimulator, wired: dict[str, Any]
) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "+819033333333")
    answer = httpx.post(
        simulator.url + "/simulator/inbound",
        json={
            "From": ep.address,
            "To": FROM,
            "Body": "help",
            "Url": wired["hooks"] + "/hooks/twilio/inbound",
        },
    ).json()
    assert "Reply STOP to unsubscribe." in answer["body"]
    with store.connect() as conn:
        assert endpoint_store.get(conn, app_id, ep.id).opt_out == "NONE"


def test_callback_with_a_bad_signature_is_refused_and_records_nothing(
    store: Store, wired: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "+819044444444")
    [sent] = wired["channel"].deliver([delivery(ep, Body="x")])
    wait_for(lambda: [e for e in events_of(store, app_id, ep.id) if e["Kind"] == "sms.delivered"])
    url = wired["hooks"] + "/hooks/twilio/status"
    params = {"MessageSid": sent.provider_message_id or "", "MessageStatus": "failed"}
    forged = RequestValidator("not-the-token").compute_signature(url, params)
    response = httpx.post(url, data=params, headers={"X-Twilio-Signature": forged})
    unsigned = httpx.post(url, data=params)

    assert response.status_code == 403
    assert unsigned.status_code == 403
    assert "sms.failed" not in [e["Kind"] for e in events_of(store, app_id, ep.id)]
    assert any("bad X-Twilio-Signature" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("number", "code", "opted_out"),
    [
        ("+15005550001", "21211", False),
        ("+15005550009", "21614", False),
        ("+15005550004", "21610", True),
    ],
)
def test_provider_refusals_fail_only_that_endpoint_with_twilios_code(
    store: Store, wired: dict[str, Any], number: str, code: str, opted_out: bool
) -> None:
    app_id = make_app(store)
    bad = add_endpoint(store, app_id, "SMS", number)
    good = add_endpoint(store, app_id, "SMS", "+819055555555")
    results = wired["channel"].deliver([delivery(bad, Body="x"), delivery(good, Body="y")])
    assert [r.outcome for r in results] == ["failed", "sent"]
    assert results[0].permanent is True
    assert results[0].data["Code"] == code
    with store.connect() as conn:
        assert (endpoint_store.get(conn, app_id, bad.id).opt_out == "ALL") is opted_out


def test_wrong_credentials_fail_permanently_and_say_what_to_check(
    store: Store, simulator: TwilioSimulator
) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "+819066666666")
    settings = SmsSettings(
        provider="twilio",
        twilio=TwilioSettings(
            account_sid=SID, auth_token=SecretStr("wrong"), from_number=FROM, base_url=simulator.url
        ),
    )
    transport = TwilioTransport(settings, WebhookSettings())
    [result] = channel(transport, store).deliver([delivery(ep, Body="x")])
    assert result.outcome == "failed"
    assert result.permanent
    assert "check sms.twilio.account_sid and auth_token" in (result.reason or "")


def test_an_invalid_number_is_refused_before_reaching_the_provider(
    store: Store, simulator: TwilioSimulator, wired: dict[str, Any]
) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "SMS", "090-1111-1111")
    [result] = wired["channel"].deliver([delivery(ep, Body="x")])
    assert result.outcome == "failed"
    assert result.permanent
    assert "E.164" in (result.reason or "")
    assert simulator.state.messages == {}
