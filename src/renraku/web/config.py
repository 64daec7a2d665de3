"""Dashboard settings: ``[dashboard]`` in ``renraku.toml`` or ``RENRAKU_DASHBOARD__*`` variables."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DashboardSettings(BaseModel):
    """The dashboard served by ``renraku serve`` under ``/ui``.

    ``secure_cookies``: ``auto`` marks the session cookie Secure when the request came over https
    (directly, or through a proxy whose X-Forwarded-Proto uvicorn trusts); ``always`` and ``never``
    force it either way.
    """

    enabled: bool = True
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    # Largest CSV accepted by the import page, in bytes.
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    # Seconds between refreshes of live counts (journey graph, calls, import progress).
    refresh_seconds: float = Field(default=5.0, ge=0.5, le=600)
