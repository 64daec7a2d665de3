"""Lambda-style functions: ``handler(event, context)`` run in separate worker processes.

Declared in settings as ``[functions.NAME]`` (handler, code, environment, timeout_seconds,
application). Call :func:`invoke` (the return value, or :class:`FunctionFailed`) or
:func:`run` (a :class:`~renraku.functions.runtime.Invocation` with logs, duration and any error).
This package imports nothing heavy, because every worker process imports it first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from renraku.app import App
    from renraku.functions.runtime import Invocation
    from renraku.settings import Settings


class FunctionFailed(Exception):
    """A function did not return a result: unknown, crashed, timed out, raised, or bad output."""


def run(
    settings: Settings,
    name: str,
    event: Any,
    *,
    timeout_seconds: float | None = None,
    app: App | None = None,
    application: str | None = None,
) -> Invocation:
    """Run function ``name`` (a configured name, a Lambda ARN, or ``python:module:function``)."""
    from renraku.functions.runtime import run as _run

    return _run(
        settings, name, event, timeout_seconds=timeout_seconds, app=app, application=application
    )


def invoke(
    settings: Settings,
    name: str,
    event: Any,
    *,
    timeout_seconds: float | None = None,
    app: App | None = None,
    application: str | None = None,
) -> Any:
    """The function's return value; FunctionFailed (with the reason and logs) otherwise."""
    result = run(
        settings, name, event, timeout_seconds=timeout_seconds, app=app, application=application
    )
    if result.error is not None:
        raise FunctionFailed(result.error)
    return result.result


__all__ = ["FunctionFailed", "invoke", "run"]
