"""``renraku config``, ``templates`` and ``functions`` as a user runs them: one subprocess each."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from cli_process import run_renraku

from renraku.simulators.twilio import running

RENRAKU = str(Path(sys.executable).parent / "renraku")
SEED = Path(__file__).resolve().parents[2] / "examples" / "seed"


def run(tmp: Path, *args: str, code: int = 0, env: dict[str, str] | None = None) -> Any:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RENRAKU_")}
    full["RENRAKU_DB"] = f"sqlite:///{tmp / 'renraku.db'}"
    full["RENRAKU_CONFIG"] = str(tmp / "renraku.toml")
    full.update(env or {})
    proc = run_renraku([*args, "--json"], cwd=tmp, env=full, timeout=60)
    assert proc.returncode == code, proc.stderr + proc.stdout
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_port() -> Iterator[int]:
    port = _port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_config_show_merges_file_and_environment_and_masks_secrets(tmp_path: Path) -> None:
    (tmp_path / "renraku.toml").write_text(
        '[email]\nprovider = "smtp"\n[email.smtp]\nhost = "mail.example"\nport = 25\n'
        'username = "mailer"\npassword = "hunter2-secret"\n'
        '[sms.twilio]\naccount_sid = "AC123"\nauth_token = "twilio-secret-token"\n'
        '[functions.f]\nenvironment = { QUEUE_ID = "q-1", API_TOKEN = "fn-secret-value" }\n',
        encoding="utf-8",
    )
    shown = run(
        tmp_path,
        "config",
        "show",
        env={"RENRAKU_EMAIL__SMTP__PORT": "2525", "RENRAKU_DB": "postgresql://u:dbpass@h/d"},
    )
    assert shown["email"]["smtp"]["host"] == "mail.example"
    assert shown["email"]["smtp"]["port"] == 2525  # the environment wins over the file
    assert shown["email"]["smtp"]["password"] == "**********"
    assert shown["sms"]["twilio"]["auth_token"] == "**********"
    assert shown["db"] == "postgresql://u:**********@h/d"
    assert shown["functions"]["f"]["environment"] == {"QUEUE_ID": "q-1", "API_TOKEN": "**********"}
    text = json.dumps(shown)
    assert "hunter2-secret" not in text
    assert "twilio-secret-token" not in text
    assert "dbpass" not in text
    assert "fn-secret-value" not in text


def test_config_check_reports_each_provider_and_fails_when_one_is_unreachable(
    tmp_path: Path, smtp_port: int
) -> None:
    with running(auth_token="good-token") as sim:
        sid = sim.state.account_sid
        config = (
            f'[email]\nprovider = "smtp"\n[email.smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
            f'[sms]\nprovider = "twilio"\n[sms.twilio]\naccount_sid = "{sid}"\n'
            f'auth_token = "good-token"\nbase_url = "{sim.url}"\n'
        )
        (tmp_path / "renraku.toml").write_text(config, encoding="utf-8")
        good = run(tmp_path, "config", "check")
        statuses = {c["Component"]: c["Status"] for c in good["Checks"]}
        assert good["Ok"] is True
        assert statuses["database"] == "OK"
        assert statuses["email (smtp)"] == "OK"
        assert statuses["sms (twilio)"] == "OK"

        bad_config = config.replace("good-token", "wrong-token").replace(
            str(smtp_port), str(_port())
        )
        (tmp_path / "renraku.toml").write_text(bad_config, encoding="utf-8")
        bad = run(tmp_path, "config", "check", code=1)
        details = {c["Component"]: (c["Status"], c["Detail"]) for c in bad["Checks"]}
        assert details["email (smtp)"][0] == "FAIL"
        assert "cannot reach SMTP server" in details["email (smtp)"][1]
        assert details["sms (twilio)"][0] == "FAIL"
        assert "check sms.twilio.account_sid and auth_token" in details["sms (twilio)"][1]
        assert "wrong-token" not in json.dumps(bad)


def test_templates_are_created_checked_rendered_and_deleted(tmp_path: Path) -> None:
    (tmp_path / "renraku.toml").write_text("", encoding="utf-8")
    run(tmp_path, "apps", "create", "seed")
    endpoint = {
        "ChannelType": "SMS",
        "Address": "+819011111111",
        "User": {"UserId": "User1", "UserAttributes": {"FirstName": ["太郎"]}},
        "Attributes": {"CallStatus": ["Pending"]},
    }
    run(tmp_path, "endpoints", "update", "ep1", json.dumps(endpoint))
    created = run(
        tmp_path,
        "templates",
        "create",
        "missed-call",
        "--type",
        "SMS",
        "--body",
        "{{User.UserAttributes.FirstName}}様、お電話がつながりませんでした。({{Attributes.CallStatus}})",
    )
    assert created["Version"] == "1"
    refused = run(
        tmp_path,
        "templates",
        "create",
        "bad",
        "--type",
        "SMS",
        "--body",
        "Hi {{FirstName}}",
        code=3,
    )
    assert refused["error"]["problems"][0]["path"] == "Body"
    rendered = run(
        tmp_path,
        "templates",
        "render",
        "missed-call",
        "--endpoint",
        "ep1",
        env={"RENRAKU_SMS__PRICE_PER_SEGMENT": "0.0745"},
    )
    assert rendered["Body"] == "太郎様、お電話がつながりませんでした。(Pending)"
    assert rendered["Length"]["Encoding"] == "UCS-2"
    assert rendered["Length"]["Segments"] == 1
    assert rendered["Length"]["EstimatedPrice"] == 0.0745
    assert [t["TemplateName"] for t in run(tmp_path, "templates", "list")["Item"]] == [
        "missed-call"
    ]
    run(tmp_path, "templates", "delete", "missed-call")
    assert run(tmp_path, "templates", "list")["Item"] == []


def test_functions_list_and_invoke_print_result_and_logs(tmp_path: Path) -> None:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "lambda_function.py").write_text(
        "import os\n"
        "def lambda_handler(event, context):\n"
        "    print('called with', event['n'])\n"
        "    return {'double': event['n'] * 2, 'greeting': os.environ['GREETING']}\n",
        encoding="utf-8",
    )
    (tmp_path / "event.json").write_text('{"n": 21}', encoding="utf-8")
    (tmp_path / "renraku.toml").write_text(
        '[functions.doubler]\nhandler = "lambda_function.lambda_handler"\ncode = "fn"\n'
        'environment = { GREETING = "hello" }\n',
        encoding="utf-8",
    )
    listed = run(tmp_path, "functions", "list")
    assert [f["FunctionName"] for f in listed["Functions"]] == ["doubler"]
    out = run(tmp_path, "functions", "invoke", "doubler", "--event", "@event.json")
    assert out["Payload"] == {"double": 42, "greeting": "hello"}
    assert "called with 21" in out["Logs"]
    failed = run(tmp_path, "functions", "invoke", "doubler", "--event", "{}", code=1)
    assert failed["FunctionError"] == "KeyError"


def test_the_seed_examples_declare_both_functions() -> None:
    import tomllib

    declared = tomllib.loads((SEED / "renraku.toml.example").read_text(encoding="utf-8"))
    for name, spec in declared["functions"].items():
        assert (SEED.parents[1] / spec["code"] / "lambda_function.py").is_file(), name


def test_suppression_list_and_webhook_secret_are_managed_from_the_command_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "renraku.toml").write_text("", encoding="utf-8")
    run(tmp_path, "apps", "create", "seed")
    assert run(tmp_path, "suppressions", "add", "Taro@Example.jp", "--detail", "asked by phone")[
        "Added"
    ]
    listed = run(tmp_path, "suppressions", "list")["Item"]
    assert [(i["Address"], i["Reason"], i["Detail"]) for i in listed] == [
        ("taro@example.jp", "MANUAL", "asked by phone")
    ]
    assert run(tmp_path, "suppressions", "remove", "taro@example.jp")["Removed"] is True
    secret = run(tmp_path, "webhooks", "secret")
    assert secret["Header"] == "X-Renraku-Signature"
    assert len(secret["Secret"]) >= 40
    assert run(tmp_path, "webhooks", "secret")["Secret"] == secret["Secret"]
    assert run(tmp_path, "webhooks", "secret", "--rotate")["Secret"] != secret["Secret"]
