"""Validation of Pinpoint EndpointRequest JSON (being built)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from renraku.errors import Problem


def validate_endpoint_request(
    request: Mapping[str, Any], *, path: str, default_region: str | None, creating: bool
) -> tuple[dict[str, Any], list[Problem]]:
    return dict(request), []
