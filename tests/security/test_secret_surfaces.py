"""Secrets given to renraku never come back out of any surface: a real `renraku serve` (every
dashboard page once logged in, error pages, the settings and check routes of the API, metrics,
the OpenAPI document), the server's own DEBUG log, and the CLI's outputs and exports (config
show/check, segment export CSV, JSON listings), all run as subprocesses with distinctive values
for every provider credential, the master key, a database password, a dashboard password and an
API key. Contact data is masked in those logs by default."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from channel_support import free_port
from cryptography.fernet import Fernet

pytestmark = pytest.mark.xdist_group("secret-surfaces")  # one server for both tests

CLI = [sys.executable, "-c", "from renraku.cli import main; main()"]

PROVIDER_SECRETS = {
    "RENRAKU_SMS__TWILIO__AUTH_TOKEN": "sms-twilio-5ecret-a1b2",
    "RENRAKU_VOICE__TWILIO__AUTH_TOKEN": "voice-twilio-5ecret-c3d4",
    "RENRAKU_EMAIL__SMTP__PASSWORD": "smtp-5ecret-e5f6",
    "RENRAKU_EMAIL__SES__SECRET_ACCESS_KEY": "ses-5ecret-access-g7h8",
    "RENRAKU_EMAIL__SES__SESSION_TOKEN": "ses-5ecret-session-i9j0",
    "RENRAKU_SMS__AWS__SECRET_ACCESS_KEY": "awssms-5ecret-access-k1l2",
    "RENRAKU_SMS__AWS__SESSION_TOKEN": "awssms-5ecret-session-m3n4",
    "RENRAKU_SMS__SNS__SECRET_ACCESS_KEY": "sns-5ecret-access-o5p6",
    "RENRAKU_SMS__SNS__SESSION_TOKEN": "sns-5ecret-session-q7r8",
    "RENRAKU_VOICE__CONNECT__SECRET_ACCESS_KEY": "connect-5ecret-access-s9t0",
}
DASHBOARD_PASSWORD = "dash-5ecret-pass-u1v2"
DB_PASSWORD = "db-5ecret-pass-w3x4"
REDIS_PASSWORD = "redis-5ecret-pass-y5z6"
CONTACTS = "taro.yamada@example.com/+819012345678"


class World:
    """The demo's database served with every secret configured; everything seen is collected."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        closed = free_port()
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp),
            "RENRAKU_LOG_LEVEL": "DEBUG",
            "RENRAKU_APP": "demo",
            "RENRAKU_SERVER__MASTER_KEY": Fernet.generate_key().decode(),
            "RENRAKU_SMS__PROVIDER": "twilio",
            "RENRAKU_SMS__TWILIO__ACCOUNT_SID": "AC" + "5" * 32,
            "RENRAKU_SMS__TWILIO__FROM_NUMBER": "+15005550006",
            "RENRAKU_SMS__TWILIO__BASE_URL": f"http://127.0.0.1:{closed}",
            "RENRAKU_EMAIL__PROVIDER": "smtp",
            "RENRAKU_EMAIL__SMTP__HOST": "127.0.0.1",
            "RENRAKU_EMAIL__SMTP__PORT": str(closed),
            "RENRAKU_EMAIL__SMTP__USERNAME": "renraku",
            "RENRAKU_EMAIL__SES__ACCESS_KEY_ID": "AKIAABCDEFGHIJKLMNOP",
            **PROVIDER_SECRETS,
        }
        self.secrets = [*PROVIDER_SECRETS.values(), self.env["RENRAKU_SERVER__MASTER_KEY"]]
        self.seen: dict[str, str] = {}  # where -> text
        self.url = ""
        self.api_key = ""
        self.server: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        """Stop the server and keep its log."""
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(timeout=30)
        self.seen["server log"] = (self.tmp / "serve.log").read_text()

    def cli(self, *args: str, stdin: str | None = None, extra: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [*CLI, *args],
            env={**self.env, **(extra or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.tmp,
        )
        out = done.stdout + done.stderr
        self.seen["cli " + " ".join(args)] = out
        return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("secrets")
    w = World(tmp)
    w.cli("demo", "--users", "12", "--time-scale", "36000", "--out", "demo")
    w.env["RENRAKU_DB"] = f"sqlite:///{tmp / 'demo' / 'renraku.db'}"
    w.cli("dashboard-users", "create", "ops", "--password-stdin", stdin=DASHBOARD_PASSWORD + "\n")
    created = json.loads(subprocess.run(
        [*CLI, "keys", "create", "--admin", "--json"],
        env=w.env, capture_output=True, text=True, timeout=120, cwd=tmp, check=True,
    ).stdout)  # fmt: skip
    w.api_key = f"{created['AccessKeyId']}.{created['SecretAccessKey']}"
    w.secrets += [DASHBOARD_PASSWORD, created["SecretAccessKey"]]
    port = free_port()
    log = (tmp / "serve.log").open("w")
    w.server = server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--workers", "2", "--log-level", "debug"],
        env=w.env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
    )  # fmt: skip
    try:
        w.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180  # two worker processes on a busy machine
        while True:
            try:
                if httpx.get(w.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp / "serve.log").read_text()
            assert time.monotonic() < deadline, "renraku serve did not start"
            time.sleep(0.2)
        yield w
    finally:
        w.stop()
        log.close()


def _leaks(world: World) -> list[str]:
    return [
        f"{secret[:12]}... in {where}"
        for where, text in world.seen.items()
        for secret in world.secrets
        if secret in text
    ]


def _links(html: str) -> set[str]:
    return {h for h in re.findall(r'href="(/ui/[^"#]*)"', html) if "/static/" not in h}


def test_no_dashboard_page_api_route_or_server_log_line_shows_a_secret(world: World) -> None:
    url = world.url
    with httpx.Client(base_url=url, timeout=30, follow_redirects=True) as ui:
        login = ui.get("/ui/login")
        token = re.search(r'name="csrf_token" value="([^"]*)"', login.text)
        assert token is not None
        wrong = ui.post(
            "/ui/login", data={"name": "ops", "password": "wrong", "csrf_token": token[1]}
        )
        world.seen["wrong login"] = wrong.text
        ui.post(
            "/ui/login",
            data={"name": "ops", "password": DASHBOARD_PASSWORD, "csrf_token": token[1]},
        )
        # Every page the dashboard links to, two levels deep, then error pages.
        todo, done = (
            {"/ui/journeys", "/ui/segments", "/ui/imports", "/ui/people", "/ui/calls"},
            set(),
        )
        for _ in range(2):
            for path in sorted(todo - done):
                page = ui.get(path)
                done.add(path)
                world.seen[f"GET {path}"] = page.text + str(page.headers)
                todo |= _links(page.text)
        assert len(done) >= 15, sorted(done)
        assert any(p.startswith("/ui/calls/") and len(p) > 20 for p in done)
        assert any(p.startswith("/ui/people/") for p in done)
        for path in ("/ui/journeys/no-such-journey", "/ui/no-such-page", "/ui/calls/none"):
            world.seen[f"GET {path}"] = ui.get(path).text
        forged = ui.post("/ui/journeys", data={"csrf_token": "forged"})
        assert forged.status_code == 403
        world.seen["forged POST"] = forged.text

    key = {"Authorization": f"Bearer {world.api_key}"}
    with httpx.Client(base_url=url, timeout=60, headers=key) as api:
        for path in (
            "/api/v1/settings",
            "/api/v1/settings/check",
            "/metrics",
            "/api/v1/openapi.json",
        ):
            answer = api.get(path)
            assert answer.status_code == 200, (path, answer.text)
            world.seen[f"API {path}"] = answer.text
        assert "**" in world.seen["API /api/v1/settings"]
        bad_key = key["Authorization"][:-4] + "xxxx"
        refused = httpx.get(url + "/api/v1/apps", headers={"Authorization": bad_key})
        assert refused.status_code in (401, 403)
        world.seen["API wrong secret"] = refused.text
        unsigned = httpx.post(url + "/hooks/twilio/status", data={"MessageSid": "SM1"})
        assert unsigned.status_code == 403
        # A refused SNS message is logged with its reason, which quotes what the sender wrote.
        foreign = {"SignatureVersion": "2", "SigningCertURL": f"https://{CONTACTS}.pem"}
        assert httpx.post(url + "/hooks/sns", json=foreign).status_code == 403

    world.stop()
    log = world.seen["server log"]
    assert "Twilio webhook refused" in log  # renraku's own loggers reach the server's log
    assert _leaks(world) == []
    # Contacts are masked in it by default.
    assert "SNS message refused" in log
    assert "t***@example.com/+81********78.pem" in log
    assert re.findall(r"\+81\d{8,}|[\w.]{2,}@example\.(?:com|jp)", log) == []


def test_no_cli_output_or_export_shows_a_secret(world: World) -> None:
    world.cli("segments", "export", "seed-customers", "-o", "export.csv")
    world.seen["segment export CSV"] = (world.tmp / "export.csv").read_text()
    assert world.seen["segment export CSV"].count("\n") > 12  # the demo's endpoints, exported
    for report in ("report.html", "summary.json"):  # the demo's exported report
        world.seen[report] = (world.tmp / "demo" / report).read_text()
    world.cli("keys", "list", "--json")
    world.cli("timeline", "User1", "--json")
    # Every provider secret, a database password and a Redis password, in show and check.
    db_url = f"postgresql://renraku:{DB_PASSWORD}@127.0.0.1:{free_port()}/renraku"
    redis = {"RENRAKU_REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0"}
    shown = world.cli("--db", db_url, "config", "show", "--json", extra=redis)
    checked = world.cli("--db", db_url, "config", "check", "--json", extra=redis)
    world.secrets += [DB_PASSWORD, REDIS_PASSWORD]

    assert '"auth_token"' in shown
    assert '"redis_url"' in shown
    assert "FAIL" in checked  # the providers and the database were tried, and failed
    assert _leaks(world) == []
