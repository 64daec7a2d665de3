"""``renraku flows`` and ``renraku calls`` as a user runs them: a subprocess per command."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from cli_process import run_renraku

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RENRAKU = str(Path(sys.executable).parent / "renraku")


def run(tmp: Path, *args: str, code: int = 0) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENRAKU_")}
    env["RENRAKU_DB"] = f"sqlite:///{tmp / 'renraku.db'}"
    env["RENRAKU_CONFIG"] = str(tmp / "renraku.toml")
    proc = run_renraku([*args, "--json"], cwd=tmp, env=env, timeout=60)
    assert proc.returncode == code, proc.stderr + proc.stdout
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def setup(tmp: Path) -> None:
    script = tmp / "callees.yaml"
    script.write_text(
        'numbers:\n  "+819011111111": {outcome: answered, digits: ["1"]}\n'
        "default: {outcome: no-answer}\n",
        encoding="utf-8",
    )
    (tmp / "renraku.toml").write_text(f'[voice.simulator]\nscript = "{script}"\n', encoding="utf-8")
    run(tmp, "init")


def test_a_flow_is_validated_stored_versioned_listed_and_shown(tmp_path: Path) -> None:
    setup(tmp_path)
    seed = str(EXAMPLES / "seed-flow.json")
    checked = run(tmp_path, "flows", "validate", seed)
    assert checked["Actions"] == 8
    first = run(tmp_path, "flows", "create", seed)
    assert (first["Name"], first["Version"]) == ("pinpoint-connect-demo-flow-BB", 1)
    second = run(tmp_path, "flows", "create", seed)
    assert (second["Id"], second["Version"]) == (first["Id"], 2)
    listed = run(tmp_path, "flows", "list")
    assert [f["Name"] for f in listed["Flows"]] == ["pinpoint-connect-demo-flow-BB"]
    shown = run(tmp_path, "flows", "show", "pinpoint-connect-demo-flow-BB", "--version", "1")
    assert [v["Version"] for v in shown["Versions"]] == [1, 2]
    assert shown["Content"]["StartAction"] == "enable-logging"


def test_an_unsupported_action_is_refused_with_exit_code_3_naming_it(tmp_path: Path) -> None:
    setup(tmp_path)
    data = json.loads((EXAMPLES / "seed-flow.json").read_text(encoding="utf-8"))
    data["Actions"].append({"Identifier": "to-queue", "Type": "TransferContactToQueue"})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    for command in (("flows", "validate", str(bad)), ("flows", "create", str(bad))):
        out = run(tmp_path, *command, code=3)
        (problem,) = out["error"]["problems"]
        assert problem["path"] == "Actions[to-queue].Type"
        assert "TransferContactToQueue" in problem["message"]
    assert run(tmp_path, "flows", "list")["Flows"] == []


def test_a_call_placed_from_the_cli_is_recorded_with_transcript_and_path(tmp_path: Path) -> None:
    setup(tmp_path)
    run(tmp_path, "flows", "create", str(EXAMPLES / "seed-flow-mark-reached.json"))
    call = run(
        tmp_path,
        "calls",
        "place",
        "+819011111111",
        "--flow",
        "seed-flow-mark-reached",
        "-a",
        "UserId=User1",
        "--client-token",
        "t-1",
    )
    assert (call["Outcome"], call["Digits"]) == ("ANSWERED", "1")
    again = run(
        tmp_path,
        "calls",
        "place",
        "+819011111111",
        "--flow",
        "seed-flow-mark-reached",
        "--client-token",
        "t-1",
    )
    assert again["Id"] == call["Id"]
    missed = run(tmp_path, "calls", "place", "+819099999999", "--flow", "seed-flow-mark-reached")
    assert missed["Outcome"] == "NO_ANSWER"
    listed = run(tmp_path, "calls", "list")
    assert {c["Id"] for c in listed["Calls"]} == {call["Id"], missed["Id"]}
    shown = run(tmp_path, "calls", "show", call["Id"])
    assert [e["Voice"] for e in shown["Transcript"] if e["Kind"] == "Say"] == ["Kazuha", "Kazuha"]
    assert shown["Path"][-1] == "disconnect"
    assert run(tmp_path, "calls", "show", "nope", code=4)["error"]["type"] == "NotFound"
