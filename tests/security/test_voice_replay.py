"""Twilio voice callbacks replayed: a signed gather posted again does not run the flow (or its
functions) a second time, and a signed status callback posted again does not move the call's
status back. Real server, the local Twilio simulator placing the call (SQLite: the receipts'
store part runs on both dialects in test_webhook_replay.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator
from voice_helpers import delivery, seed_user, twilio_world

from renraku.app import App
from renraku.services import calls as call_service
from renraku.store import calls as call_store
from renraku.store import events as event_store

SID = "AC" + "3" * 32
TOKEN = "voice-replay-token"
PHONE = "+819011111111"


@pytest.fixture
def world(sqlite_url: str) -> Iterator[tuple[App, str, str]]:
    script = {"numbers": {PHONE: {"outcome": "answered", "digits": ["1"]}}}
    with twilio_world(sqlite_url, SID, TOKEN, script) as (app, app_id, _, public):
        yield app, app_id, public


def _signed_post(url: str, form: dict[str, str]) -> httpx.Response:
    signature = RequestValidator(TOKEN).compute_signature(url, form)
    return httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=30)


def _placed_call(app: App, app_id: str) -> str:
    """A call the simulator ran to its end (the callee pressed 1)."""
    _, ep = seed_user(app, "User1", PHONE)
    (result,) = app.channels["VOICE"].deliver([delivery(app_id, ep, key="replay-1")])
    call_id = result.provider_message_id or ""
    for _ in range(300):
        if call_service.show_call(app, app_id, call_id)["Outcome"] is not None:
            break
        time.sleep(0.05)
    assert call_service.show_call(app, app_id, call_id)["Outcome"] == "ANSWERED"
    return call_id


def _reopen(app: App, app_id: str, call_id: str, inputs: list[str]) -> dict[str, Any]:
    """The call put back at its open prompt, after ``inputs`` (as a flow asking again would)."""
    call = call_service.show_call(app, app_id, call_id)
    state = dict(
        call["State"], Waiting="input", Action="ask-press-1", EndReason=None, Inputs=inputs
    )
    with app.store.begin() as conn:
        call_store.update_call(conn, app_id, call_id, {"State": state, "Outcome": None})
    return call_service.show_call(app, app_id, call_id)


def _snapshot(app: App, app_id: str, call_id: str) -> tuple[Any, ...]:
    call = call_service.show_call(app, app_id, call_id)
    with app.store.connect() as conn:
        events = event_store.timeline(conn, app_id)
    return call["State"], call["Transcript"], call["Status"], len(events)


def test_a_captured_gather_replayed_at_a_later_prompt_runs_nothing(world: Any) -> None:
    app, app_id, public = world
    # The call waits at its prompt after one earlier input (the simulator's own call used input 0).
    call = _reopen(app, app_id, _placed_call(app, app_id), ["9"])
    base = f"{public}/twilio/voice/{call['Id']}"
    answer = _signed_post(base, {"CallSid": "CA1", "AnsweredBy": "human"})
    actions = re.findall(r'action="([^"]+)"', answer.text)
    assert actions == [f"{base}/gather?input=1"]

    gather = {"CallSid": "CA1", "Digits": "1"}
    assert _signed_post(actions[0], gather).status_code == 200
    after = _snapshot(app, app_id, call["Id"])
    assert after[0]["Inputs"] == ["9", "1"]
    assert after[0]["Path"][len(call["Path"]) :] == call["Path"][-4:]  # the flow ran on, once

    # The flow asks again; the captured answer to the first prompt is posted to it.
    _reopen(app, app_id, call["Id"], ["9", "1"])
    waiting = _snapshot(app, app_id, call["Id"])
    replayed = _signed_post(actions[0], gather)
    assert replayed.status_code == 200
    assert re.findall(r'action="([^"]+)"', replayed.text) == [f"{base}/gather?input=2"]
    assert _snapshot(app, app_id, call["Id"]) == waiting
    assert _signed_post(actions[0], gather).status_code == 200  # and again: still nothing
    assert _snapshot(app, app_id, call["Id"]) == waiting


def test_a_replayed_status_callback_never_moves_the_call_back(world: Any) -> None:
    app, app_id, public = world
    call = _reopen(app, app_id, _placed_call(app, app_id), [])
    url = f"{public}/twilio/voice/{call['Id']}/status"
    ringing = {"CallSid": "CA2", "CallStatus": "ringing", "SequenceNumber": "1"}
    in_progress = {"CallSid": "CA2", "CallStatus": "in-progress", "SequenceNumber": "2"}
    assert _signed_post(url, ringing).status_code == 204
    assert _signed_post(url, in_progress).status_code == 204
    before = _snapshot(app, app_id, call["Id"])
    assert before[2] == "IN_PROGRESS"

    replayed = _signed_post(url, ringing)
    assert replayed.status_code == 200
    assert "already applied" in replayed.text
    assert _snapshot(app, app_id, call["Id"]) == before


def test_a_gather_already_taken_is_not_applied_again_even_before_the_call_moves_on(
    world: Any,
) -> None:
    """The moment between two copies of one gather: the first has claimed it but the call's
    state does not show its input yet (here: the state put back). The second changes nothing."""
    app, app_id, public = world
    call = _reopen(app, app_id, _placed_call(app, app_id), ["9"])
    url = f"{public}/twilio/voice/{call['Id']}/gather?input=1"
    assert _signed_post(url, {"CallSid": "CA3", "Digits": "1"}).status_code == 200
    _reopen(app, app_id, call["Id"], ["9"])
    before = _snapshot(app, app_id, call["Id"])
    second = _signed_post(url, {"CallSid": "CA3", "Digits": "1"})
    assert second.status_code == 200
    assert re.findall(r'action="([^"]+)"', second.text) == [url]  # the prompt, again
    assert _snapshot(app, app_id, call["Id"]) == before
