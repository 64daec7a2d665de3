"""The worker process of one function invocation (``python -m renraku.functions.worker``).

Reads a JSON request on stdin, imports the handler from the function's code directory (which
becomes the working directory, as ``/var/task`` is on Lambda), calls ``handler(event, context)``
and writes the outcome as JSON to the request's ``result_path``. Whatever the function prints
goes to stdout/stderr, which the parent keeps as the invocation's logs.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The fields and method handlers commonly read from Lambda's context object."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.function_name: str = spec["function_name"]
        self.function_version: str = "$LATEST"
        self.invoked_function_arn: str = spec["invoked_function_arn"]
        self.memory_limit_in_mb: int = int(spec.get("memory_limit_in_mb", 128))
        self.aws_request_id: str = spec["aws_request_id"]
        self.log_group_name: str = f"/aws/lambda/{self.function_name}"
        self.log_stream_name: str = spec["aws_request_id"]
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline_ms: int = int(spec["deadline_ms"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _load(handler: str, code: str | None) -> Any:
    if ":" in handler:  # python:module:function form, importable from renraku's environment
        module_name, _, func = handler.partition(":")
    else:
        module_name, _, func = handler.rpartition(".")
        module_name = module_name.replace("/", ".")
    if code:
        os.chdir(code)
        sys.path.insert(0, code)
    module = importlib.import_module(module_name)
    return getattr(module, func)


_LOADED: dict[tuple[str, str | None], Any] = {}
MARKER = "\x1erenraku-invocation-end\x1e"


def main() -> int:
    if "--serve" in sys.argv[1:]:
        return serve()
    handle(json.loads(sys.stdin.read()))
    return 0


def serve() -> int:
    """Warm mode: one JSON request per line on stdin, until it closes."""
    requests = sys.stdin
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 (for the process's lifetime)
    for line in requests:
        if line.strip():
            handle(json.loads(line))
            sys.stdout.write(MARKER + "\n")
            sys.stdout.flush()
    return 0


def handle(request: dict[str, Any]) -> None:
    outcome: dict[str, Any]
    try:
        key = (request["handler"], request.get("code"))
        handler = _LOADED.get(key)
        if handler is None:
            handler = _LOADED[key] = _load(request["handler"], request.get("code"))
    except Exception as exc:
        outcome = {
            "ok": False,
            "errorType": "Runtime.ImportModuleError",
            "errorMessage": f"Unable to import handler {request['handler']!r}: {type(exc).__name__}: {exc}",
            "stackTrace": traceback.format_exc().splitlines(),
        }
    else:
        try:
            value = handler(request["event"], LambdaContext(request["context"]))
            outcome = {"ok": True, "result": value}
            json.dumps(outcome)
        except TypeError as exc:
            if "not JSON serializable" not in str(exc):
                outcome = _failure(exc)
            else:
                outcome = {
                    "ok": False,
                    "errorType": "Runtime.MarshalError",
                    "errorMessage": f"the result is not JSON: {exc}",
                    "stackTrace": [],
                }
        except Exception as exc:
            outcome = _failure(exc)
    sys.stdout.flush()
    sys.stderr.flush()
    with open(request["result_path"], "w", encoding="utf-8") as out:
        json.dump(outcome, out, ensure_ascii=False)


def _failure(exc: BaseException) -> dict[str, Any]:
    traceback.print_exc()
    return {
        "ok": False,
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exc().splitlines(),
    }


if __name__ == "__main__":
    sys.exit(main())
