"""Twilio voice end to end with real processes: ``renraku calls place`` asks the local Twilio
simulator for a call; the simulator's phone fetches TwiML from ``renraku serve`` (a subprocess),
hears the seed's prompts in Polly.Kazuha-Neural, presses 1, and the signed status callback settles
the call in the database the CLI reads."""

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

from renraku.channels.voice_simulator import parse_script
from renraku.simulators import twilio as twilio_sim
from renraku.simulators.twilio_calls import calls_router

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RENRAKU = str(Path(sys.executable).parent / "renraku")
SID = "AC" + "2" * 32
TOKEN = "serve-voice-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(tmp: Path, env: dict[str, str], *args: str) -> Any:
    proc = run_renraku([*args, "--json"], cwd=tmp, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout) if proc.stdout.strip() else None


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], Any]]:
    script = parse_script({"numbers": {"+819011111111": {"outcome": "answered", "digits": ["1"]}}})
    with twilio_sim.running(SID, TOKEN, routers=[calls_router(script)]) as sim:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        (tmp_path / "renraku.toml").write_text(
            f"""
[webhooks]
public_url = "{url}"

[voice]
provider = "twilio"

[voice.twilio]
account_sid = "{SID}"
auth_token = "{TOKEN}"
from_number = "+815012345678"
base_url = "{sim.url}"
""",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RENRAKU_", "AWS_"))}
        env["RENRAKU_DB"] = f"sqlite:///{tmp_path / 'renraku.db'}"
        env["RENRAKU_CONFIG"] = str(tmp_path / "renraku.toml")
        run(tmp_path, env, "init")
        run(tmp_path, env, "flows", "create", str(EXAMPLES / "seed-flow-mark-reached.json"))
        server = subprocess.Popen(
            [RENRAKU, "serve", "--port", str(port), "--log-level", "warning"],
            cwd=tmp_path,
            env=env,
        )
        try:
            deadline = time.monotonic() + 120  # a busy machine starts it slowly
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "renraku serve did not start"
                assert server.poll() is None, "renraku serve exited"
                time.sleep(0.05)
            yield tmp_path, env, sim
        finally:
            server.terminate()
            server.wait(timeout=20)


def test_a_twilio_call_runs_the_seed_flow_through_renraku_serve(world: Any) -> None:
    tmp, env, sim = world
    placed = run(tmp, env, "calls", "place", "+819011111111", "--flow", "seed-flow-mark-reached")
    assert placed["Provider"] == "twilio"
    deadline = time.monotonic() + 60
    call = placed
    while call["Outcome"] is None and time.monotonic() < deadline:
        time.sleep(0.5)
        call = run(tmp, env, "calls", "show", placed["Id"])
    assert (call["Outcome"], call["Digits"]) == ("ANSWERED", "1")
    assert call["Path"][-1] == "disconnect"
    (phone,) = httpx.get(f"{sim.url}/simulator/calls").json()["calls"]
    assert phone["pressed"] == ["1"]
    assert [h["voice"] for h in phone["heard"]] == ["Polly.Kazuha-Neural"] * 2
    assert phone["errors"] == []
