"""Schemathesis generates requests from the served OpenAPI document: no input gives a 5xx.

The server runs as a subprocess (`renraku serve`) on SQLite with an application, its seed list
and a segment, and the generated cases address that application with its own key, so requests
reach the validation and the services rather than stopping at authorization.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

RENRAKU = str(Path(sys.executable).parent / "renraku")
SEED_CSV = (
    "Channel,Address,User.UserID,Attributes.CallStatus,Attributes.Index\n"
    "CUSTOM,+819011111111,User1,Pending,User1-Custom\n"
    "SMS,+819011111111,User1,Pending,User1-SMS\n"
    "EMAIL,test@example.com,User1,Pending,User1-EMAIL\n"
)


def _cli(env: dict[str, str], *args: str) -> Any:
    proc = subprocess.run(
        [RENRAKU, *args, "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    seed = tmp / "seed.csv"
    seed.write_text(SEED_CSV, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RENRAKU_", "AWS_"))}
    env["RENRAKU_DB"] = f"sqlite:///{tmp / 'renraku.db'}"
    env["RENRAKU_SERVER__MASTER_KEY_FILE"] = str(tmp / "master.key")
    env["RENRAKU_SERVER__IMPORT_FILE_ROOTS"] = json.dumps([str(tmp)])
    app_id = _cli(env, "apps", "create", "fuzz")["Id"]
    _cli(env, "--app", "fuzz", "import", str(seed))
    key = _cli(env, "keys", "create", "--app", "fuzz")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (tmp / "serve.log").open("w")
    proc = subprocess.Popen(
        [RENRAKU, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a busy machine starts it slowly
        while True:
            assert proc.poll() is None, (tmp / "serve.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "renraku serve did not become ready"
            time.sleep(0.1)
        yield {
            "url": url,
            "app_id": app_id,
            "headers": {"Authorization": f"Bearer {key['AccessKeyId']}.{key['SecretAccessKey']}"},
            "log": tmp / "serve.log",
        }
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()


def test_generated_requests_never_get_a_server_error(served: dict[str, Any]) -> None:
    document = httpx.get(f"{served['url']}/api/v1/openapi.json", headers=served["headers"]).json()
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    operations = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() == "DELETE" and operation.path == "/api/v1/apps/{app_id}":
            continue  # it would delete the application and, with it, the key doing the testing
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            if case.path_parameters and "app_id" in case.path_parameters:
                case.path_parameters["app_id"] = served["app_id"]
            # Generated credentials would stop every request at the door; use the real key.
            case.headers = {**(case.headers or {}), **served["headers"]}
            response = case.call(base_url=served["url"])
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )
            case.validate_response(response, checks=[not_a_server_error])

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert operations >= 20
    # The generated requests reach the services: many succeed, many are refused as invalid.
    assert sum(n for code, n in statuses.items() if 200 <= code < 300) >= 10, statuses
    assert sum(n for code, n in statuses.items() if code in (400, 404, 409, 422)) >= 10, statuses
    print(sorted(statuses.items()))
    assert failures == [], "\n".join(failures) + "\n" + served["log"].read_text()[-3000:]
