"""What a Pinpoint operation handler receives, and the registry of implemented operations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from renraku.api.auth import Principal
from renraku.app import App

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One validated call: the operation's input parameters (by botocore member name)."""

    app: App
    principal: Principal
    operation: str
    params: dict[str, Any]
    request_id: str

    @property
    def app_id(self) -> str:
        return str(self.params["ApplicationId"])

    def body(self, member: str) -> dict[str, Any]:
        value = self.params.get(member)
        return value if isinstance(value, dict) else {}

    def accepted(self, message: str = "Accepted") -> Payload:
        """Pinpoint's ``MessageBody``."""
        return {"Message": message, "RequestID": self.request_id}


Handler = Callable[[Call], Payload]
HANDLERS: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of Pinpoint operation ``name``."""

    def register(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return register
