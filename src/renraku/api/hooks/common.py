"""What the hook routers share: the App from the request, the public URL a provider signed."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from fastapi import Request

if TYPE_CHECKING:
    from renraku.app import App


def app_of(request: Request) -> App:
    return cast("App", request.app.state.renraku)


def signed_urls(request: Request, public_url: str) -> list[str]:
    """The URLs a provider may have signed: the configured public one, and the one received."""
    path = request.url.path
    query = f"?{request.url.query}" if request.url.query else ""
    return [public_url.rstrip("/") + path + query, str(request.url)]
