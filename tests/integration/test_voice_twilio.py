"""The seed's flow over Twilio, end to end (provider behaviour: SQLite only; the store's part is
covered on both dialects by the simulator tests): renraku places the call with the twilio library against
the local Twilio simulator, whose phone fetches renraku's TwiML, hears the prompts and presses keys;
signed status callbacks settle the outcome."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from voice_helpers import call_status, delivery, seed_user, twilio_world

from renraku.app import App
from renraku.services import calls as call_service

SID = "AC" + "1" * 32
TOKEN = "voice-test-token"
SCRIPT = {
    "numbers": {
        "+819011111111": {"outcome": "answered", "digits": ["1"]},
        "+819022222222": {"outcome": "answered"},
        "+819033333333": {"outcome": "busy"},
        "+819044444444": {"outcome": "voicemail"},
    },
    "default": {"outcome": "no-answer"},
}


@pytest.fixture
def world(migrated_sqlite_url: str) -> Iterator[tuple[App, str, Any, str]]:
    with twilio_world(migrated_sqlite_url, SID, TOKEN, SCRIPT) as world:
        yield world


def wait_for_outcome(app: App, app_id: str, call_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        call = call_service.show_call(app, app_id, call_id)
        if call["Outcome"] is not None:
            return call
        time.sleep(0.05)
    raise AssertionError(f"call {call_id} never ended: {call}")


def place(app: App, app_id: str, user: str, phone: str, key: str) -> dict[str, Any]:
    _, ep = seed_user(app, user, phone)
    (result,) = app.channels["VOICE"].deliver([delivery(app_id, ep, key=key)])
    assert result.outcome == "sent", result.reason
    return wait_for_outcome(app, app_id, result.provider_message_id or "")


def heard(sim: Any, number: str) -> dict[str, Any]:
    calls = httpx.get(f"{sim.url}/simulator/calls").json()["calls"]
    (call,) = [c for c in calls if c["to"] == number]
    return dict(call)


def test_pressing_1_over_twilio_runs_the_seed_flow_in_polly_kazuha(world: Any) -> None:
    app, app_id, sim, _ = world
    call = place(app, app_id, "User1", "+819011111111", "tw-1")
    assert (call["Outcome"], call["Digits"]) == ("ANSWERED", "1")
    assert call["Path"][-4:] == ["update-status", "play-details", "play-updated", "disconnect"]
    phone = heard(sim, "+819011111111")
    assert phone["pressed"] == ["1"]
    assert [h["voice"] for h in phone["heard"]] == ["Polly.Kazuha-Neural"] * 3
    assert {h["language"] for h in phone["heard"]} == {"ja-JP"}
    assert "1を押して下さい" in phone["heard"][0]["text"]
    assert phone["errors"] == []
    assert call["ProviderCallId"] == phone["sid"]
    assert call_status(app, app_id) == {
        "CUSTOM": "COMPLETED",
        "SMS": "CANCELED",
        "EMAIL": "CANCELED",
    }


def test_silence_times_out_and_busy_and_voicemail_become_outcomes(world: Any) -> None:
    app, app_id, sim, _ = world
    silent = place(app, app_id, "User2", "+819022222222", "tw-2")
    assert (silent["Outcome"], silent["Digits"]) == ("ANSWERED", "")
    assert silent["Path"][-2:] == ["ask-press-1", "disconnect"]
    assert [e["TimedOut"] for e in silent["Transcript"] if e["Kind"] == "Input"] == [True]
    busy = place(app, app_id, "User3", "+819033333333", "tw-3")
    assert busy["Outcome"] == "BUSY"
    machine = place(app, app_id, "User4", "+819044444444", "tw-4")
    assert machine["Outcome"] == "VOICEMAIL"
    nobody = place(app, app_id, "User5", "+819055555555", "tw-5")
    assert nobody["Outcome"] == "NO_ANSWER"
    assert heard(sim, "+819044444444")["pressed"] == []


def test_twiml_requests_without_a_valid_signature_are_refused(world: Any) -> None:
    app, app_id, _, public = world
    _, ep = seed_user(app, "User6", "+819066666666")
    (result,) = app.channels["VOICE"].deliver([delivery(app_id, ep, key="tw-6")])
    call_id = result.provider_message_id
    for path in ("", "/gather", "/status"):
        response = httpx.post(
            f"{public}/twilio/voice/{call_id}{path}",
            data={"CallSid": "CA1", "Digits": "1", "CallStatus": "completed"},
            headers={"X-Twilio-Signature": "forged"},
        )
        assert response.status_code == 403
    wait_for_outcome(app, app_id, call_id or "")


def test_a_repeated_answer_request_repeats_the_open_prompt(world: Any) -> None:
    from twilio.request_validator import RequestValidator

    from renraku.store import calls as call_store

    app, app_id, _, public = world
    _, ep = seed_user(app, "User7", "+819022222222")
    (result,) = app.channels["VOICE"].deliver([delivery(app_id, ep, key="tw-7")])
    call = wait_for_outcome(app, app_id, result.provider_message_id or "")
    # Replay the answer on a call reset to its open prompt (as if Twilio asked twice).
    with app.store.begin() as conn:
        state = dict(call["State"], Waiting="input", Action="ask-press-1", EndReason=None)
        call_store.update_call(conn, app_id, call["Id"], {"State": state, "Outcome": None})
    url = f"{public}/twilio/voice/{call['Id']}"
    form = {"CallSid": "CA7", "AnsweredBy": "human"}
    signature = RequestValidator(TOKEN).compute_signature(url, form)
    answer = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200
    assert "<Gather" in answer.text
    assert "1を押して下さい" in answer.text
