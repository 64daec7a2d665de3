"""Secrets given to renraku (provider credentials, SMTP passwords, API secrets) never come back
out: not in ``config show``, not in ``config check``'s errors when the provider is unreachable,
not in the log lines of a command."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from harness import CLI

SECRETS = {
    "RENRAKU_SMS__TWILIO__AUTH_TOKEN": "tok-5ecret-twilio-81f2",
    "RENRAKU_SMS__TWILIO__ACCOUNT_SID": "AC00000000000000000000000000000000",
    "RENRAKU_SMS__TWILIO__FROM_NUMBER": "+15005550006",
    "RENRAKU_EMAIL__SMTP__PASSWORD": "pw-5ecret-smtp-77aa",
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(tmp_path: Path, *args: str) -> str:
    port = _closed_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "RENRAKU_DB": f"sqlite:///{tmp_path / 'r.db'}",
        "RENRAKU_SMS__PROVIDER": "twilio",
        "RENRAKU_SMS__TWILIO__BASE_URL": f"http://127.0.0.1:{port}",
        "RENRAKU_EMAIL__PROVIDER": "smtp",
        "RENRAKU_EMAIL__SMTP__HOST": "127.0.0.1",
        "RENRAKU_EMAIL__SMTP__PORT": str(port),
        "RENRAKU_EMAIL__SMTP__USERNAME": "renraku",
        "RENRAKU_LOG_LEVEL": "DEBUG",
        **SECRETS,
    }
    done = subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    return done.stdout + done.stderr


def test_config_show_and_a_failing_config_check_never_print_a_secret(tmp_path: Path) -> None:
    shown = _run(tmp_path, "config", "show", "--json")
    assert '"auth_token"' in shown  # the setting is there, its value is not
    checked = _run(tmp_path, "config", "check", "--json")
    assert checked.strip()
    for name, value in SECRETS.items():
        if "TOKEN" in name or "PASSWORD" in name:
            assert value not in shown
            assert value not in checked
