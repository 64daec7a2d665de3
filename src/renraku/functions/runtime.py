"""Run one function invocation in its own worker process, with its own environment.

The environment is built from scratch: a few variables the interpreter needs (PATH, HOME, LANG,
TMPDIR ...), Lambda's own (``AWS_LAMBDA_FUNCTION_NAME``, ``AWS_REGION`` ...), the endpoints of this
renraku for boto3 (``AWS_ENDPOINT_URL_PINPOINT``, ``AWS_ENDPOINT_URL_CONNECT``) with an access key
scoped to the function's application, then the function's own ``environment`` on top. A crash, a
time-out or an exception is reported in the :class:`Invocation`; it never escapes.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from renraku.channels.config import FunctionSettings
from renraku.errors import NotFound
from renraku.functions.pool import POOL

if TYPE_CHECKING:
    from renraku.app import App
    from renraku.settings import Settings

log = logging.getLogger("renraku.functions")
T = TypeVar("T")

INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SYSTEMROOT")
MAX_LOG_BYTES = 64 * 1024
ACCOUNT = "000000000000"


@dataclass
class Invocation:
    """What one invocation did."""

    function_name: str
    request_id: str
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    logs: str = ""
    duration_ms: float = 0.0
    exit_code: int | None = None
    stack_trace: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "FunctionName": self.function_name,
            "RequestId": self.request_id,
            "StatusCode": 200,
            "DurationMs": round(self.duration_ms, 1),
            "Payload": self.result,
            "Logs": self.logs,
        }
        if self.error is not None:
            out["FunctionError"] = self.error_type or "Unhandled"
            out["Payload"] = {
                "errorMessage": self.error,
                "errorType": self.error_type,
                "stackTrace": self.stack_trace,
            }
        return out


def function_name_of(target: str) -> str:
    """``arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`` or ``NAME`` -> ``NAME``."""
    if target.startswith("arn:"):
        parts = target.split(":")
        if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
            return parts[6]
        raise NotFound("function", target)
    return target


def resolve(settings: Settings, target: str) -> tuple[str, FunctionSettings]:
    """The configured function a target names (``python:module:function`` needs no settings)."""
    if target.startswith("python:"):
        handler = target[len("python:") :]
        if handler.count(":") != 1:
            raise NotFound("function", target)
        return target, FunctionSettings(handler=handler, code="")
    name = function_name_of(target)
    spec = settings.functions.get(name)
    if spec is None:
        known = ", ".join(sorted(settings.functions)) or "none configured"
        raise NotFound("function", f"{name} (known: {known})")
    return name, spec


def code_dir(spec: FunctionSettings, settings: Settings) -> str | None:
    """The absolute code directory; relative paths start at RENRAKU_CONFIG's directory or cwd."""
    if not spec.code:
        return None
    path = Path(spec.code).expanduser()
    if not path.is_absolute():
        base = os.environ.get("RENRAKU_CONFIG")
        path = (Path(base).resolve().parent if base else Path.cwd()) / path
    return str(path.resolve())


def environment(
    settings: Settings,
    name: str,
    spec: FunctionSettings,
    credentials: tuple[str, str] | None,
    region: str,
) -> dict[str, str]:
    """The worker's environment (see the module docstring for the layers)."""
    env = {k: os.environ[k] for k in INHERITED if k in os.environ}
    base = settings.webhooks.public_url.rstrip("/")
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_EXECUTION_ENV": "renraku_python",
            "AWS_ENDPOINT_URL_PINPOINT": base,
            "AWS_ENDPOINT_URL_CONNECT": base,
            "PYTHONUNBUFFERED": "1",
            "PYTHONIOENCODING": "utf-8",
        }
    )
    if credentials is not None:
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = credentials
    env.update(spec.environment)
    return env


def credentials_for(app: App, function: str, app_key: str) -> tuple[str, str] | None:
    """An access key of application ``app_key`` kept for this function (made on first use)."""
    from renraku.api import keyring
    from renraku.store import apps as app_store

    with app.store.connect() as conn:
        app_id = str(app_store.get_app(conn, app_key)["Id"])
    description = f"function:{function}"
    for key in keyring.list_keys(app, app_id):
        if key["Description"] == description and key["Status"] == "Active":
            found = keyring.KeyRing(app).lookup(str(key["AccessKeyId"]))
            if found is not None:
                return found.id, found.secret
    created = keyring.create_key(app, app_id, description=description)
    return str(created["AccessKeyId"]), str(created["SecretAccessKey"])


def run(
    settings: Settings,
    target: str,
    event: Any,
    *,
    timeout_seconds: float | None = None,
    app: App | None = None,
    application: str | None = None,
) -> Invocation:
    """Run one invocation; every failure is reported in the result, none raised (but NotFound)."""
    name, spec = resolve(settings, target)
    request_id = str(uuid.uuid4())
    region = spec.environment.get("AWS_REGION", "us-east-1")
    app_key = spec.application or application
    if app_key is None and isinstance(event, dict):
        app_key = event.get("ApplicationId")
    credentials = None
    if app_key:
        try:
            credentials = _with_app(settings, app, lambda a: credentials_for(a, name, str(app_key)))
        except Exception as exc:  # a function that never calls back must still run
            log.warning("no credentials for function %s: %s", name, exc)
    timeout = min(timeout_seconds or spec.timeout_seconds, spec.timeout_seconds)
    env = environment(settings, name, spec, credentials, region)
    return _spawn(name, spec, settings, event, env, request_id, region, timeout)


def _with_app(settings: Settings, app: App | None, use: Callable[[App], T]) -> T:
    if app is not None:
        return use(app)
    from renraku.app import build_app

    temporary = build_app(settings, migrate=False)
    try:
        return use(temporary)
    finally:
        temporary.close()


def _spawn(
    name: str,
    spec: FunctionSettings,
    settings: Settings,
    event: Any,
    env: dict[str, str],
    request_id: str,
    region: str,
    timeout: float,
) -> Invocation:
    started = time.monotonic()
    outcome = Invocation(function_name=name, request_id=request_id)
    with tempfile.TemporaryDirectory(prefix="renraku-fn-") as tmp:
        result_path = os.path.join(tmp, "result.json")
        request = {
            "handler": spec.handler,
            "code": code_dir(spec, settings),
            "event": event,
            "result_path": result_path,
            "context": {
                "function_name": name,
                "aws_request_id": request_id,
                "invoked_function_arn": f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}",
                "deadline_ms": int((time.time() + timeout) * 1000),
            },
        }
        try:
            json.dumps(event)
        except (TypeError, ValueError) as exc:
            outcome.error = f"the event is not JSON: {exc}"
            outcome.error_type = "InvalidRequestContentException"
            return outcome
        key = (name, spec.handler, request["code"], tuple(sorted(env.items())))
        worker = POOL.checkout(key, env, tempfile.gettempdir())
        run = worker.invoke(request, timeout)
        if run.timed_out or run.exit_code is not None:
            worker.kill()
        else:
            POOL.checkin(key, worker)
        timed_out = run.timed_out
        output = run.output
        outcome.duration_ms = (time.monotonic() - started) * 1000
        outcome.exit_code = run.exit_code
        text = output
        if len(text) > MAX_LOG_BYTES:
            text = text[:MAX_LOG_BYTES] + "\n... (logs truncated)"
        outcome.logs = (
            f"START RequestId: {request_id} Version: $LATEST\n{text}"
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {outcome.duration_ms:.2f} ms\n"
        )
        if timed_out:
            outcome.error = f"Task timed out after {timeout:.2f} seconds"
            outcome.error_type = "Sandbox.Timedout"
            return outcome
        try:
            with open(result_path, encoding="utf-8") as fh:
                body = json.load(fh)
        except (OSError, json.JSONDecodeError):
            outcome.error = (
                f"the function's process ended without a result (exit code {run.exit_code})"
            )
            outcome.error_type = "Runtime.ExitError"
            return outcome
    if body.get("ok"):
        outcome.result = body.get("result")
    else:
        outcome.error = f"{body.get('errorType')}: {body.get('errorMessage')}"
        outcome.error_type = str(body.get("errorType"))
        outcome.stack_trace = list(body.get("stackTrace") or [])
    return outcome
