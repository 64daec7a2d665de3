"""InvokeLambdaFunction through the functions runtime: a real worker process per invocation, the
flow's time limit honoured, a crash taking the error branch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from voice_helpers import EXAMPLES, delivery, seed_user

from renraku.app import App, build_app
from renraku.channels.voice_simulator import SimulatedVoice, parse_script
from renraku.services import calls as call_service
from renraku.services import flows as flow_service
from renraku.settings import Settings

HANDLER = """
import time


def lambda_handler(event, context):
    mode = event["Details"]["Parameters"]["mode"]
    if mode == "slow":
        time.sleep(30)
    if mode == "crash":
        raise ValueError("no such customer")
    return {"greeting": "hello " + event["Details"]["Parameters"]["userId"]}
"""


def _app(tmp_path: Path, migrated_sqlite_url: str) -> App:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "lambda_function.py").write_text(HANDLER, encoding="utf-8")
    settings = Settings(
        db=migrated_sqlite_url,
        functions={"update-call-status": {"code": str(code), "timeout_seconds": 20}},
    )
    app = build_app(settings)
    voice = app.channels["VOICE"]
    assert isinstance(voice, SimulatedVoice)
    voice._script = parse_script(
        {"numbers": {}, "default": {"outcome": "answered", "digits": ["1"]}}
    )
    return app


def _flow(app: App, app_id: str, mode: str, limit: str) -> None:
    data: dict[str, Any] = json.loads((EXAMPLES / "seed-flow.json").read_text(encoding="utf-8"))
    invoke = next(a for a in data["Actions"] if a["Identifier"] == "update-status")
    invoke["Parameters"]["LambdaInvocationAttributes"]["mode"] = mode
    invoke["Parameters"]["InvocationTimeLimitSeconds"] = limit
    details = next(a for a in data["Actions"] if a["Identifier"] == "play-details")
    details["Parameters"]["Text"] = "$.External.greeting"
    flow_service.create(app, app_id, data, name=f"flow-{mode}")


def _call(app: App, mode: str, limit: str) -> dict[str, Any]:
    app_id, ep = seed_user(app)
    _flow(app, app_id, mode, limit)
    (result,) = app.channels["VOICE"].deliver(
        [delivery(app_id, ep, key=mode, ContactFlowId=f"flow-{mode}")]
    )
    return call_service.show_call(app, app_id, result.provider_message_id or "")


def test_a_function_result_lands_in_external_and_is_spoken(
    tmp_path: Path, migrated_sqlite_url: str
) -> None:
    app = _app(tmp_path, migrated_sqlite_url)
    call = _call(app, "ok", "8")
    function = next(e for e in call["Transcript"] if e["Kind"] == "Function")
    assert function["Ok"] is True
    assert function["Result"] == {"greeting": "hello User1"}
    said = [e["Text"] for e in call["Transcript"] if e["Kind"] == "Say"]
    assert said[1] == "hello User1"
    app.close()


def test_a_function_over_its_time_limit_takes_the_error_branch(
    tmp_path: Path, migrated_sqlite_url: str
) -> None:
    app = _app(tmp_path, migrated_sqlite_url)
    call = _call(app, "slow", "1")
    function = next(e for e in call["Transcript"] if e["Kind"] == "Function")
    assert function["Ok"] is False
    assert "time" in function["Error"].lower()
    assert call["Path"][-2:] == ["update-status", "disconnect"]
    app.close()


def test_a_function_that_raises_takes_the_error_branch_with_its_message(
    tmp_path: Path, migrated_sqlite_url: str
) -> None:
    app = _app(tmp_path, migrated_sqlite_url)
    call = _call(app, "crash", "8")
    function = next(e for e in call["Transcript"] if e["Kind"] == "Function")
    assert "no such customer" in function["Error"]
    assert call["Path"][-2:] == ["update-status", "disconnect"]
    assert call["Outcome"] == "ANSWERED"
    app.close()
