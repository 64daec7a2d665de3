"""Functions that ship with renraku, addressable as ``python:renraku.functions.builtin:NAME``."""

from __future__ import annotations

from typing import Any


def echo(event: Any, context: Any) -> dict[str, Any]:
    """Return the event and who ran it: a smoke test for the runtime and for DeliveryUri wiring."""
    return {
        "FunctionName": context.function_name,
        "RequestId": context.aws_request_id,
        "Event": event,
    }


def accept_all(event: Any, context: Any) -> dict[str, Any]:
    """A custom-channel target that accepts every endpoint and marks it ``Accepted=true``."""
    endpoints = event.get("Endpoints", {}) if isinstance(event, dict) else {}
    return {endpoint_id: {"EventAttributes": {"Accepted": "true"}} for endpoint_id in endpoints}
