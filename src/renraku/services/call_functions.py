"""The one adapter between contact flows and the functions runtime (``InvokeLambdaFunction``).

A flow names a function by Lambda ARN or name; the runtime runs the function configured under
``[functions.NAME]``. Whatever goes wrong (unknown function, crash, time-out, a result that is not
JSON) becomes :class:`FunctionError`, which the flow takes as its error branch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from renraku.settings import Settings


class FunctionError(Exception):
    """A function could not give a result; the message says why."""


class FunctionInvoker(Protocol):
    def __call__(self, name: str, event: Mapping[str, Any], timeout_seconds: float) -> Any:
        """The function's return value, or FunctionError."""
        ...


class RuntimeInvoker:
    """Runs functions through ``renraku.functions`` (isolated worker processes)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, name: str, event: Mapping[str, Any], timeout_seconds: float) -> Any:
        try:
            runtime = importlib.import_module("renraku.functions")
        except ImportError as exc:  # the runtime is an optional part of an installation
            raise FunctionError(f"no functions runtime to run {name!r}") from exc
        invoke: Callable[..., Any] | None = getattr(runtime, "invoke", None)
        if invoke is None:
            raise FunctionError(f"the functions runtime cannot invoke {name!r}")
        try:
            return invoke(self.settings, name, dict(event), timeout_seconds=timeout_seconds)
        except Exception as exc:  # a function's failure must not end the worker
            raise FunctionError(f"function {name!r} failed: {exc}") from exc


class LocalInvoker:
    """Functions given as Python callables ``handler(event, context)`` (tests, embedding)."""

    def __init__(self, handlers: Mapping[str, Callable[[Any, Any], Any]]) -> None:
        self.handlers = dict(handlers)
        self.calls: list[tuple[str, Mapping[str, Any]]] = []

    def __call__(self, name: str, event: Mapping[str, Any], timeout_seconds: float) -> Any:
        self.calls.append((name, event))
        handler = self.handlers.get(name)
        if handler is None:
            raise FunctionError(f"no function named {name!r}")
        try:
            return handler(dict(event), None)
        except Exception as exc:
            raise FunctionError(f"function {name!r} raised {type(exc).__name__}: {exc}") from exc
