"""Lambda-style functions in worker processes: context, environment, isolation, failures, and the
seed's status-update function calling back into renraku's Pinpoint API with unmodified boto3."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import live_server
from api_support import make_app as make_api_app
from channel_support import add_endpoint, delivery, make_app, sqlite_store

from renraku.channels.config import FunctionSettings, WebhookSettings
from renraku.channels.custom import CustomChannel
from renraku.errors import NotFound
from renraku.functions import FunctionFailed, invoke, run
from renraku.settings import Settings
from renraku.store import Store
from renraku.store import endpoints as endpoint_store

FIXTURES = Path(__file__).parent / "fixtures" / "functions"
SEED = Path(__file__).parents[2] / "examples" / "seed"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """SQLite only: these tests are about the provider, not the store contract."""
    yield from sqlite_store(tmp_path)


def _settings(**extra: Any) -> Settings:
    probe = FunctionSettings(
        handler="probe.handler",
        code=str(FIXTURES),
        environment={"GREETING": "こんにちは"},
        timeout_seconds=3,
    )
    return Settings(
        db="sqlite://",
        functions={"probe": probe, **extra},
        webhooks=WebhookSettings(public_url="http://127.0.0.1:9999"),
    )


def test_handler_gets_lambdas_context_and_its_own_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARENT_ONLY", "must not leak")
    result = invoke(_settings(), "probe", {})
    assert result["function_name"] == "probe"
    assert len(result["request_id"]) == 36
    assert 0 < result["remaining_ms"] <= 3000
    assert result["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:probe"
    assert result["cwd"] == str(FIXTURES)
    assert result["env"]["GREETING"] == "こんにちは"
    assert result["env"]["AWS_ENDPOINT_URL_PINPOINT"] == "http://127.0.0.1:9999"
    assert result["env"]["AWS_ENDPOINT_URL_CONNECT"] == "http://127.0.0.1:9999"
    assert result["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "probe"
    assert result["env"]["PARENT_ONLY"] is None
    assert result["imported_renraku_settings"] is False


def test_an_arn_names_the_configured_function() -> None:
    result = invoke(_settings(), "arn:aws:lambda:ap-northeast-1:123456789012:function:probe", {})
    assert result["function_name"] == "probe"


def test_logs_are_kept_with_lambdas_start_end_report_lines() -> None:
    outcome = run(_settings(), "probe", {})
    assert outcome.error is None
    lines = outcome.logs.splitlines()
    assert lines[0].startswith("START RequestId: ")
    assert "probe running probe" in lines
    assert lines[-1].startswith("REPORT RequestId: ")


@pytest.mark.parametrize(
    ("event", "error_type", "message"),
    [
        ({"action": "crash"}, "Runtime.ExitError", "ended without a result (exit code 7)"),
        (
            {"action": "sleep", "seconds": 30},
            "Sandbox.Timedout",
            "Task timed out after 1.00 seconds",
        ),
        ({"action": "raise"}, "RuntimeError", "the probe was told to fail"),
        ({"action": "unserialisable"}, "Runtime.MarshalError", "not JSON"),
    ],
)
def test_crashes_timeouts_and_exceptions_are_contained_and_reported(
    event: dict[str, Any], error_type: str, message: str
) -> None:
    outcome = run(_settings(), "probe", event, timeout_seconds=1)
    assert outcome.error_type == error_type
    assert outcome.error is not None
    assert message in outcome.error
    with pytest.raises(FunctionFailed, match=re.escape(message)):
        invoke(_settings(), "probe", event, timeout_seconds=1)


def test_a_missing_handler_module_is_an_import_error() -> None:
    broken = FunctionSettings(handler="nothing_here.handler", code=str(FIXTURES))
    outcome = run(_settings(broken=broken), "broken", {})
    assert outcome.error_type == "Runtime.ImportModuleError"
    assert outcome.error is not None
    assert "nothing_here" in outcome.error


def test_an_unknown_function_is_not_found_with_the_known_names() -> None:
    with pytest.raises(NotFound, match=r"known: probe"):
        run(_settings(), "nope", {})


def test_custom_channel_invokes_a_function_and_keeps_its_event_attributes(store: Store) -> None:
    app_id = make_app(store)
    ep = add_endpoint(store, app_id, "CUSTOM", "+819011111111", user_id="User1")
    settings = _settings(
        answer=FunctionSettings(handler="probe.handler", code=str(FIXTURES), timeout_seconds=5)
    )
    ch = CustomChannel(settings, store)
    d = delivery(ep, DeliveryUri="answer", Data="call")
    d_event = delivery(ep, DeliveryUri="arn:aws:lambda:us-east-1:000000000000:function:missing")
    [ok, missing] = ch.deliver([d, d_event])
    assert ok.outcome == "sent"
    assert ok.data["EventAttributes"] == {"Seen": "yes"}
    assert missing.outcome == "failed"
    assert missing.permanent
    assert "missing" in (missing.reason or "")


def test_the_seed_status_function_updates_endpoints_through_renrakus_pinpoint_api(
    sqlite_url: str, tmp_path: Path
) -> None:
    app = make_api_app(sqlite_url, tmp_path)
    try:
        app_id = make_app(app.store)
        rows = {}
        for channel, index, address in (
            ("CUSTOM", "User1-Custom", "+819011111111"),
            ("SMS", "User1-SMS", "+819011111111"),
            ("EMAIL", "User1-EMAIL", "test@example.com"),
        ):
            rows[channel] = add_endpoint(
                app.store,
                app_id,
                channel,
                address,
                user_id="User1",
                attributes={"Index": [index], "Status": ["Pending"]},
            )
        with live_server(app) as url:
            app.settings.webhooks.public_url = url
            app.settings.functions["update-call-status"] = FunctionSettings(
                code=str(SEED / "update_call_status"),
                application=app_id,
                environment={"APP_ID": app_id},
            )
            outcome = run(
                app.settings,
                "update-call-status",
                {"Details": {"Parameters": {"userId": "User1"}}},
                app=app,
            )
            assert outcome.error is None, outcome.logs
        with app.store.connect() as conn:
            status = {
                ch: endpoint_store.get(conn, app_id, ep.id).attributes["Status"]
                for ch, ep in rows.items()
            }
        assert status == {"CUSTOM": ["Pending"], "SMS": ["CANCELED"], "EMAIL": ["Pending"]}
    finally:
        app.close()


def test_a_python_module_function_runs_without_settings() -> None:
    result = invoke(_settings(), "python:renraku.functions.builtin:echo", {"hello": "世界"})
    assert result["Event"] == {"hello": "世界"}
    assert result["FunctionName"] == "python:renraku.functions.builtin:echo"


def test_a_warm_worker_keeps_module_state_and_a_crashed_one_is_replaced() -> None:
    warm = FunctionSettings(handler="probe.handler", code=str(FIXTURES), timeout_seconds=5)
    settings = _settings(warm=warm)  # a name of its own: no idle workers from other tests
    first = invoke(settings, "warm", {"action": "count"})
    second = invoke(settings, "warm", {"action": "count"})
    assert second["pid"] == first["pid"]
    assert (first["invocations"], second["invocations"]) == (1, 2)
    assert run(settings, "warm", {"action": "crash"}).error_type == "Runtime.ExitError"
    after = invoke(settings, "warm", {"action": "count"})
    assert after["pid"] != first["pid"]
    assert after["invocations"] == 1
