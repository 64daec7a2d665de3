"""The seed's flow on the voice simulator, on SQLite and PostgreSQL: every branch the deck draws."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from voice_helpers import (
    SEED_FUNCTION,
    call_status,
    delivery,
    make_app,
    seed_flow,
    seed_status_function,
    seed_user,
)

from renraku.app import App
from renraku.channels.voice_simulator import SimulatedVoice, parse_script
from renraku.errors import InvalidInput, StoreError
from renraku.services import call_placement as placement
from renraku.services import calls as call_service
from renraku.services.call_functions import LocalInvoker
from renraku.store import events as event_store


def _voice(
    app: App, script: dict[str, Any], handlers: dict[str, Any] | None = None
) -> SimulatedVoice:
    voice = app.channels["VOICE"]
    assert isinstance(voice, SimulatedVoice)
    voice._script = parse_script(script)
    voice.invoker = LocalInvoker(handlers or {})
    return voice


def _events(app: App, app_id: str, user: str = "User1") -> list[dict[str, Any]]:
    with app.store.connect() as conn:
        return event_store.timeline(conn, app_id, user_id=user)


def test_pressing_1_runs_the_function_plays_both_prompts_in_kazuha_and_marks_the_user(
    migrated_db_url: str,
) -> None:
    app, _clock = make_app(migrated_db_url)
    app_id, ep = seed_user(app)
    seed_flow(app, app_id)
    voice = _voice(
        app,
        {"numbers": {"+819011111111": {"outcome": "answered", "ring_seconds": 4, "digits": ["1"]}}},
        {SEED_FUNCTION: seed_status_function(app, app_id)},
    )
    (result,) = voice.deliver([delivery(app_id, ep)])
    assert result.outcome == "sent"
    call = call_service.show_call(app, app_id, result.provider_message_id or "")
    assert (call["Outcome"], call["Digits"], call["Reason"]) == (
        "ANSWERED",
        "1",
        "flow disconnected",
    )
    said = [e for e in call["Transcript"] if e["Kind"] == "Say"]
    assert [e["Action"] for e in said] == ["ask-press-1", "play-details", "play-updated"]
    assert all(e["Voice"] == "Kazuha" and e["Language"] == "ja-JP" for e in said)
    assert call["Attributes"]["var_UserId"] == "User1"
    assert call["Path"][-4:] == ["update-status", "play-details", "play-updated", "disconnect"]
    assert call["AnsweredAt"] == "2026-11-26T01:00:04.000Z"
    assert call["EndedAt"] > call["AnsweredAt"]
    assert call_status(app, app_id) == {
        "CUSTOM": "COMPLETED",
        "SMS": "CANCELED",
        "EMAIL": "CANCELED",
    }
    completed = [e for e in _events(app, app_id) if e["Kind"] == "call.completed"]
    assert len(completed) == 1
    assert completed[0]["SendKey"] == "send-1"
    assert completed[0]["Time"] == call["EndedAt"]
    assert completed[0]["Data"]["Outcome"] == "ANSWERED"
    assert completed[0]["Data"]["Digits"] == "1"
    app.close()


@pytest.mark.parametrize(
    ("callee", "outcome", "digits", "inputs"),
    [
        ({"outcome": "answered"}, "ANSWERED", "", [""]),  # time-out branch
        ({"outcome": "answered", "digits": ["2"]}, "ANSWERED", "2", ["2"]),  # default branch
        ({"outcome": "voicemail"}, "VOICEMAIL", "", [""]),
    ],
)
def test_time_out_default_and_voicemail_disconnect_without_the_function(
    migrated_sqlite_url: str, callee: dict[str, Any], outcome: str, digits: str, inputs: list[str]
) -> None:
    app, _ = make_app(migrated_sqlite_url)
    app_id, ep = seed_user(app)
    seed_flow(app, app_id)
    invoker_calls: list[Any] = []
    voice = _voice(
        app,
        {"numbers": {ep.address: callee}},
        {SEED_FUNCTION: lambda e, c: invoker_calls.append(e)},
    )
    (result,) = voice.deliver([delivery(app_id, ep)])
    call = call_service.show_call(app, app_id, result.provider_message_id or "")
    assert (call["Outcome"], call["Digits"]) == (outcome, digits)
    assert [e["Digits"] for e in call["Transcript"] if e["Kind"] == "Input"] == inputs
    assert call["Path"][-2:] == ["ask-press-1", "disconnect"]
    assert invoker_calls == []
    assert call_status(app, app_id) == {"CUSTOM": "Pending", "SMS": "Pending", "EMAIL": "Pending"}
    app.close()


@pytest.mark.parametrize(
    ("callee", "outcome", "reason"),
    [
        ({"outcome": "no-answer"}, "NO_ANSWER", "no answer"),
        ({"outcome": "busy"}, "BUSY", "busy"),
        ({"outcome": "failed"}, "FAILED", "network failure"),
    ],
)
def test_unanswered_calls_end_with_their_outcome_after_ringing(
    migrated_sqlite_url: str, callee: dict[str, Any], outcome: str, reason: str
) -> None:
    app, _ = make_app(migrated_sqlite_url)
    app_id, ep = seed_user(app)
    seed_flow(app, app_id)
    voice = _voice(app, {"numbers": {}, "default": callee})
    (result,) = voice.deliver([delivery(app_id, ep)])
    assert result.outcome == "sent"
    call = call_service.show_call(app, app_id, result.provider_message_id or "")
    assert (call["Outcome"], call["Reason"], call["Transcript"]) == (outcome, reason, [])
    app.close()


def test_a_callee_who_hangs_up_mid_prompt_ends_the_call_with_a_partial_transcript(
    migrated_sqlite_url: str,
) -> None:
    app, _ = make_app(migrated_sqlite_url)
    app_id, ep = seed_user(app)
    seed_flow(app, app_id)
    voice = _voice(
        app, {"numbers": {ep.address: {"outcome": "answered", "hangup_after": 2, "digits": ["1"]}}}
    )
    (result,) = voice.deliver([delivery(app_id, ep)])
    call = call_service.show_call(app, app_id, result.provider_message_id or "")
    assert call["Outcome"] == "ANSWERED"
    assert call["Reason"] == "customer hung up"
    assert call["Transcript"][-1]["Heard"] == "partial"
    assert call["Digits"] == ""
    app.close()


def test_a_failing_function_takes_the_error_branch_and_records_why(
    migrated_sqlite_url: str,
) -> None:
    app, _ = make_app(migrated_sqlite_url)
    app_id, ep = seed_user(app)
    seed_flow(app, app_id)

    def broken(event: Any, context: Any) -> Any:
        raise RuntimeError("pinpoint unreachable")

    voice = _voice(
        app,
        {"numbers": {ep.address: {"outcome": "answered", "digits": ["1"]}}},
        {SEED_FUNCTION: broken},
    )
    (result,) = voice.deliver([delivery(app_id, ep)])
    call = call_service.show_call(app, app_id, result.provider_message_id or "")
    function = next(e for e in call["Transcript"] if e["Kind"] == "Function")
    assert function["Ok"] is False
    assert "pinpoint unreachable" in function["Error"]
    assert call["Path"][-2:] == ["update-status", "disconnect"]
    app.close()


def test_one_send_key_never_places_two_calls(migrated_db_url: str) -> None:
    app, _ = make_app(migrated_db_url)
    app_id, ep = seed_user(app)
    seed_flow(app, app_id)
    voice = _voice(app, {"numbers": {}, "default": {"outcome": "no-answer"}})
    first = voice.deliver([delivery(app_id, ep)])[0]
    again = voice.deliver([delivery(app_id, ep)])[0]
    assert again.provider_message_id == first.provider_message_id
    assert len(call_service.list_calls(app, app_id)) == 1
    looked = voice.lookup("send-1")
    assert looked is not None
    assert looked.provider_message_id == first.provider_message_id
    assert voice.lookup("never-sent") is None
    app.close()


def test_bad_numbers_unknown_flows_and_disallowed_countries_are_recorded_refusals(
    migrated_sqlite_url: str,
) -> None:
    app, _ = make_app(migrated_sqlite_url, allowed_countries=["JP"])
    app_id, ep = seed_user(app)
    seed_flow(app, app_id)
    voice = _voice(app, {"numbers": {}, "default": {"outcome": "answered"}})
    from dataclasses import replace

    cases = {
        "bad-number": (replace(ep, address="090-1111-1111"), {}, "not an E.164"),
        "us-number": (replace(ep, address="+12025550123"), {}, "not allowed"),
        "no-flow": (ep, {"ContactFlowId": "missing-flow"}, "unknown or invalid contact flow"),
    }
    for key, (endpoint, config, why) in cases.items():
        (result,) = voice.deliver([delivery(app_id, endpoint, key=key, **config)])
        assert result.outcome == "failed", key
        assert result.permanent, key
        assert why in (result.reason or ""), key
        call = call_service.show_call(app, app_id, result.provider_message_id or "")
        assert (call["Status"], call["Outcome"]) == ("REFUSED", "FAILED")
    assert sum(e["Kind"] == "call.completed" for e in _events(app, app_id)) == 3
    app.close()


def test_the_simulator_queues_calls_beyond_the_concurrent_limit_until_a_line_frees(
    migrated_sqlite_url: str,
) -> None:
    app, _ = make_app(
        migrated_sqlite_url,
        capacity={"max_concurrent_calls": 1, "calls_per_second": 5, "max_queue_seconds": 45},
    )
    app_id, ep = seed_user(app)
    eps = [seed_user(app, f"U{i}", f"+81902222222{i}")[1] for i in range(2)]
    seed_flow(app, app_id)
    voice = _voice(app, {"numbers": {}, "default": {"outcome": "no-answer", "ring_seconds": 30}})
    first = voice.deliver([delivery(app_id, ep, key="a")])[0]
    second = voice.deliver([delivery(app_id, eps[0], key="b")])[0]
    assert second.outcome == "sent"
    a = call_service.show_call(app, app_id, first.provider_message_id or "")
    b = call_service.show_call(app, app_id, second.provider_message_id or "")
    assert b["PlacedAt"] == a["EndedAt"] == "2026-11-26T01:00:30.000Z"
    # The next free line is 60 s away: beyond max_queue_seconds, so the send is deferred.
    deferred = voice.deliver([delivery(app_id, eps[1], key="c")])[0]
    assert deferred.outcome == "failed"
    assert not deferred.permanent
    assert "max_queue_seconds" in (deferred.reason or "")
    app.close()


def test_the_simulator_paces_calls_to_calls_per_second(migrated_sqlite_url: str) -> None:
    app, _ = make_app(migrated_sqlite_url, capacity={"calls_per_second": 2})
    app_id, _ = seed_user(app)
    seed_flow(app, app_id)
    voice = _voice(app, {"numbers": {}, "default": {"outcome": "busy"}})
    eps = [seed_user(app, f"U{i}", f"+81903333333{i}")[1] for i in range(5)]
    results = voice.deliver([delivery(app_id, e, key=f"k{i}") for i, e in enumerate(eps)])
    placed = [
        call_service.show_call(app, app_id, r.provider_message_id or "")["PlacedAt"]
        for r in results
    ]
    assert placed == [
        "2026-11-26T01:00:00.000Z",
        "2026-11-26T01:00:00.000Z",
        "2026-11-26T01:00:01.000Z",
        "2026-11-26T01:00:01.000Z",
        "2026-11-26T01:00:02.000Z",
    ]
    app.close()


class _LiveDialer:
    """A provider that places calls now or not at all (as Twilio and Connect do)."""

    provider = "live"
    local_flows = False
    queues = False

    def dial(self, request: placement.CallRequest) -> str | None:
        return "live-" + request.call_id


def test_live_providers_are_refused_transiently_at_capacity_and_pass_when_the_clock_moves(
    migrated_sqlite_url: str,
) -> None:
    app, clock = make_app(
        migrated_sqlite_url, capacity={"calls_per_second": 1, "max_concurrent_calls": 5}
    )
    app_id, ep = seed_user(app)
    dialer = _LiveDialer()

    def request(key: str) -> placement.CallRequest:
        return placement.request_for(app, delivery(app_id, ep, key=key), dialer)

    assert placement.place(app, request("a"), dialer).outcome == "sent"
    refused = placement.place(app, request("b"), dialer)
    assert refused.outcome == "failed"
    assert not refused.permanent
    assert "calls_per_second" in (refused.reason or "")
    clock.advance(1)
    assert placement.place(app, request("b"), dialer).outcome == "sent"
    app.close()


def test_the_mark_reached_action_updates_call_status_without_any_function(
    migrated_db_url: str,
) -> None:
    app, _ = make_app(migrated_db_url)
    app_id, ep = seed_user(app)
    seed_flow(app, app_id, "seed-flow-mark-reached.json")
    voice = _voice(app, {"numbers": {ep.address: {"outcome": "answered", "digits": ["1"]}}})
    voice.deliver([delivery(app_id, ep, ContactFlowId="seed-flow-mark-reached")])
    assert call_status(app, app_id) == {
        "CUSTOM": "COMPLETED",
        "SMS": "CANCELED",
        "EMAIL": "CANCELED",
    }
    app.close()


def test_the_random_model_is_seeded_so_the_same_calls_get_the_same_outcomes(
    migrated_sqlite_url: str,
) -> None:
    outcomes = []
    for _ in range(2):
        app, _clock = make_app(
            migrated_sqlite_url.replace("renraku.db", f"r{len(outcomes)}.db"), simulator={"seed": 7}
        )
        app_id, _ep = seed_user(app)
        seed_flow(app, app_id)
        voice = _voice(app, {"numbers": {}})
        eps = [seed_user(app, f"R{i}", f"+8190444444{i:02d}")[1] for i in range(20)]
        voice.deliver([delivery(app_id, e, key=f"r{i}") for i, e in enumerate(eps)])
        outcomes.append(
            [
                c["Outcome"]
                for c in sorted(call_service.list_calls(app, app_id), key=lambda c: c["SendKey"])
            ]
        )
        app.close()
    assert outcomes[0] == outcomes[1]
    assert len(set(outcomes[0])) >= 2


def test_a_script_with_mistakes_is_rejected_naming_each_one() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_script(
            {
                "numbers": {
                    "+819011111111": {"outcome": "maybe"},
                    "0901111": {"outcome": "answered"},
                    "+819022222222": {"outcome": "answered", "digits": ["x"], "ring_seconds": -1},
                },
                "extra": 1,
            }
        )
    paths = sorted(p.path for p in info.value.problems)
    assert paths == [
        "script",
        "script.numbers.+819011111111.outcome",
        "script.numbers.+819022222222.digits[0]",
        "script.numbers.+819022222222.ring_seconds",
        "script.numbers.0901111",
    ]


def test_concurrent_workers_never_exceed_calls_per_second_together(migrated_db_url: str) -> None:
    app, _ = make_app(
        migrated_db_url, capacity={"calls_per_second": 3, "max_concurrent_calls": 100}
    )
    app_id, _ = seed_user(app)
    eps = [seed_user(app, f"C{i}", f"+81904444444{i}")[1] for i in range(8)]
    dialer = _LiveDialer()
    barrier = threading.Barrier(len(eps))
    outcomes: list[str] = []

    def worker(i: int) -> None:
        request = placement.request_for(app, delivery(app_id, eps[i], key=f"c{i}"), dialer)
        barrier.wait()
        try:
            outcomes.append(placement.place(app, request, dialer).outcome)
        except StoreError:  # SQLite's busy timeout under contention: a transient failure
            outcomes.append("failed")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(eps))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("sent") == 3
    assert len(call_service.list_calls(app, app_id)) == 3
    app.close()


def test_an_applications_own_country_list_replaces_the_global_one(migrated_sqlite_url: str) -> None:
    app, _ = make_app(
        migrated_sqlite_url, allowed_countries=["JP"], app_allowed_countries={"seed": ["US"]}
    )
    app_id, ep = seed_user(app)
    seed_flow(app, app_id)
    voice = _voice(app, {"numbers": {}, "default": {"outcome": "busy"}})
    (japan,) = voice.deliver([delivery(app_id, ep, key="jp")])
    assert japan.outcome == "failed"
    assert "calls to JP (+81) are not allowed" in (japan.reason or "")
    _, us = seed_user(app, "U-US", "+12025550123")
    (america,) = voice.deliver([delivery(app_id, us, key="us")])
    assert america.outcome == "sent"
    app.close()


def test_the_random_model_answers_by_the_callees_local_hour(migrated_sqlite_url: str) -> None:
    # 01:00 UTC is 10:00 in Tokyo: nobody answers at ten, everybody answers otherwise.
    app, clock = make_app(
        migrated_sqlite_url,
        simulator={
            "answer_rate": 1.0,
            "answer_rate_by_hour": {"10": 0.0},
            "voicemail_rate": 0.0,
            "busy_rate": 0.0,
            "failed_rate": 0.0,
        },
    )
    app_id, _ = seed_user(app)
    seed_flow(app, app_id)
    voice = _voice(app, {"numbers": {}})
    eps = [seed_user(app, f"H{i}", f"+81905555555{i}")[1] for i in range(6)]
    at_ten = voice.deliver([delivery(app_id, e, key=f"ten{i}") for i, e in enumerate(eps[:3])])
    clock.advance(3600)
    at_eleven = voice.deliver(
        [delivery(app_id, e, key=f"eleven{i}") for i, e in enumerate(eps[3:])]
    )
    outcome = {c["Id"]: c["Outcome"] for c in call_service.list_calls(app, app_id)}
    assert [outcome[r.provider_message_id or ""] for r in at_ten] == ["NO_ANSWER"] * 3
    assert [outcome[r.provider_message_id or ""] for r in at_eleven] == ["ANSWERED"] * 3
    app.close()


def test_hanging_up_during_the_closing_prompts_is_recorded_as_the_callees_hang_up(
    migrated_sqlite_url: str,
) -> None:
    app, _ = make_app(migrated_sqlite_url)
    app_id, ep = seed_user(app)
    seed_flow(app, app_id, "seed-flow-mark-reached.json")
    # The question takes about 6 s to speak, the key press 1.2 s: gone 3 s into the details.
    script = {"numbers": {ep.address: {"outcome": "answered", "hangup_after": 10, "digits": ["1"]}}}
    voice = _voice(app, script)
    (result,) = voice.deliver([delivery(app_id, ep, ContactFlowId="seed-flow-mark-reached")])
    call = call_service.show_call(app, app_id, result.provider_message_id or "")
    assert (call["Outcome"], call["Digits"]) == ("ANSWERED", "1")
    assert call["Reason"] == "customer hung up"
    assert [e["Heard"] for e in call["Transcript"] if e["Kind"] == "Say"] == ["full", "partial"]
    assert call["EndedAt"] == "2026-11-26T01:00:18.000Z"  # 8 s ringing + 10 s
    app.close()
