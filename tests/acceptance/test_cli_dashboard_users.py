"""``renraku dashboard-users`` as an operator runs it: a subprocess per command."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cli_process import run_renraku


def run(tmp: Path, *args: str, stdin: str = "", code: int = 0) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RENRAKU_")}
    env["RENRAKU_DB"] = f"sqlite:///{tmp / 'renraku.db'}"
    proc = run_renraku([*args, "--json"], cwd=tmp, env=env, input=stdin, timeout=60)
    assert proc.returncode == code, proc.stderr + proc.stdout
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def test_users_are_created_listed_given_new_passwords_and_deleted(tmp_path: Path) -> None:
    made = run(tmp_path, "dashboard-users", "create", "admin", "--password-stdin",
               stdin="correct horse battery\n")  # fmt: skip
    assert made["Name"] == "admin"
    assert made["LastLoginAt"] is None
    # Without --password-stdin the password is asked twice (prompts on stderr).
    differ = run(tmp_path, "dashboard-users", "create", "ops",
                 stdin="first password\nsecond password\n", code=3)  # fmt: skip
    assert differ["error"]["problems"][0]["message"] == "the two entries differ"
    assert [u["Name"] for u in run(tmp_path, "dashboard-users", "list")] == ["admin"]
    changed = run(tmp_path, "dashboard-users", "password", "admin",
                  stdin="a brand new password\na brand new password\n")  # fmt: skip
    assert changed == {"Name": "admin"}
    assert run(tmp_path, "dashboard-users", "delete", "admin")["Name"] == "admin"
