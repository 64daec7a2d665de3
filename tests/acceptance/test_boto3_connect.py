"""The seed's call-initiator function, unmodified, run by ``renraku functions invoke``: its
``boto3.client("connect")`` reaches ``renraku serve`` (a subprocess) and places the calls on the
voice simulator, which runs the seed's flow with MarkReached."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_process import run_renraku

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
RENRAKU = str(Path(sys.executable).parent / "renraku")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class World:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("RENRAKU_", "AWS_"))}
        self.env["RENRAKU_DB"] = f"sqlite:///{tmp / 'renraku.db'}"
        self.env["RENRAKU_CONFIG"] = str(tmp / "renraku.toml")

    def run(self, *args: str, code: int = 0) -> Any:
        proc = run_renraku([*args, "--json"], cwd=self.tmp, env=self.env, timeout=120)
        assert proc.returncode == code, proc.stderr + proc.stdout
        return json.loads(proc.stdout) if proc.stdout.strip() else None


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    (tmp_path / "callees.yaml").write_text(
        'numbers:\n  "+819011111111": {outcome: answered, digits: ["1"]}\n'
        "default: {outcome: no-answer}\n",
        encoding="utf-8",
    )
    (tmp_path / "renraku.toml").write_text(
        f"""
[webhooks]
public_url = "{w.url}"

[voice.simulator]
script = "{tmp_path / "callees.yaml"}"

[functions.start-outbound-call]
handler = "lambda_function.lambda_handler"
code = "{EXAMPLES / "seed" / "start_outbound_call"}"
application = "seed"
timeout_seconds = 60
environment = {{ INSTANCE_ID = "seed", QUEUE_ID = "queue-1", CONTACT_FLOW_ID = "seed-flow-mark-reached" }}
""",
        encoding="utf-8",
    )
    w.run("init")
    w.run("apps", "create", "seed")
    # The seed's customer list: one row per channel, CallStatus PENDING.
    rows = ["Id,ChannelType,Address,User.UserId,Attributes.CallStatus,Attributes.Index"]
    for user, phone in (("User1", "+819011111111"), ("User2", "+819022222222")):
        for channel, address in (("CUSTOM", phone), ("SMS", phone), ("EMAIL", f"{user}@x.jp")):
            rows.append(f"{user}-{channel},{channel},{address},{user},PENDING,{user}-{channel}")
    (tmp_path / "customers.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    w.run("--app", "seed", "import", str(tmp_path / "customers.csv"))
    w.run("--app", "seed", "flows", "create", str(EXAMPLES / "seed-flow-mark-reached.json"))
    server = subprocess.Popen(
        [RENRAKU, "serve", "--port", str(w.port), "--log-level", "warning"],
        cwd=tmp_path,
        env=w.env,
    )
    try:
        deadline = time.monotonic() + 120  # a busy machine starts it slowly
        while True:
            try:
                if httpx.get(f"{w.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "renraku serve did not start"
            assert server.poll() is None, "renraku serve exited"
            time.sleep(0.05)
        yield w
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_the_seeds_call_initiator_places_calls_through_renraku_serve(world: World) -> None:
    event = {
        "Endpoints": {
            "User1-CUSTOM": {"Address": "+819011111111", "User": {"UserId": "User1"}},
            "User2-CUSTOM": {"Address": "+819022222222", "User": {"UserId": "User2"}},
        }
    }
    (world.tmp / "event.json").write_text(json.dumps(event), encoding="utf-8")
    world.run(
        "functions", "invoke", "start-outbound-call", "--event", f"@{world.tmp / 'event.json'}"
    )
    calls = {c["CustomerAddress"]: c for c in world.run("--app", "seed", "calls", "list")["Calls"]}
    assert calls["+819011111111"]["Outcome"] == "ANSWERED"
    assert calls["+819011111111"]["Digits"] == "1"
    assert calls["+819011111111"]["UserId"] == "User1"
    assert calls["+819022222222"]["Outcome"] == "NO_ANSWER"
    user1 = world.run("--app", "seed", "endpoints", "user", "User1")["Item"]
    assert {e["ChannelType"]: e["Attributes"]["CallStatus"] for e in user1} == {
        "CUSTOM": ["COMPLETED"],
        "SMS": ["CANCELED"],
        "EMAIL": ["CANCELED"],
    }
    user2 = world.run("--app", "seed", "endpoints", "user", "User2")["Item"]
    assert {e["Attributes"]["CallStatus"][0] for e in user2} == {"PENDING"}
