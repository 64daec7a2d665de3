"""The one adapter between contact flows and the functions runtime (``InvokeLambdaFunction``).

A flow names a function by Lambda ARN or name; the runtime runs the function configured under
``[functions.NAME]``. Whatever goes wrong (unknown function, crash, time-out, a result that is not
JSON) becomes :class:`FunctionError`, which the flow takes as its error branch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from renraku import functions
from renraku.errors import RenrakuError
from renraku.settings import Settings

if TYPE_CHECKING:
    from renraku.app import App


class FunctionError(Exception):
    """A function could not give a result; the message says why."""


class FunctionInvoker(Protocol):
    def __call__(
        self,
        name: str,
        event: Mapping[str, Any],
        timeout_seconds: float,
        *,
        application: str | None = None,
    ) -> Any:
        """The function's return value, or FunctionError (``application``: the call's app)."""
        ...


class RuntimeInvoker:
    """Runs functions through ``renraku.functions`` (isolated worker processes, their own
    environment; a function calling back into renraku gets credentials for the call's app)."""

    def __init__(self, settings: Settings, app: App | None = None) -> None:
        self.settings = settings
        self.app = app

    def __call__(
        self,
        name: str,
        event: Mapping[str, Any],
        timeout_seconds: float,
        *,
        application: str | None = None,
    ) -> Any:
        try:
            return functions.invoke(
                self.settings,
                name,
                dict(event),
                timeout_seconds=timeout_seconds,
                app=self.app,
                application=application,
            )
        except functions.FunctionFailed as exc:
            raise FunctionError(f"function {name!r} failed: {exc}") from exc
        except RenrakuError as exc:  # unknown function, bad settings
            raise FunctionError(str(exc)) from exc


class LocalInvoker:
    """Functions given as Python callables ``handler(event, context)`` (tests, embedding)."""

    def __init__(self, handlers: Mapping[str, Callable[[Any, Any], Any]]) -> None:
        self.handlers = dict(handlers)
        self.calls: list[tuple[str, Mapping[str, Any]]] = []

    def __call__(
        self,
        name: str,
        event: Mapping[str, Any],
        timeout_seconds: float,
        *,
        application: str | None = None,
    ) -> Any:
        self.calls.append((name, event))
        handler = self.handlers.get(name)
        if handler is None:
            raise FunctionError(f"no function named {name!r}")
        try:
            return handler(dict(event), None)
        except Exception as exc:
            raise FunctionError(f"function {name!r} raised {type(exc).__name__}: {exc}") from exc
