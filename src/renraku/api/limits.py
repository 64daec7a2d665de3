"""Request body limits for the native API, answered as problem details.

``/api/`` requests may carry at most ``[server] max_body_bytes`` (uploads of import files:
``max_upload_bytes``), whether the size is declared in ``Content-Length`` or only found while
reading a chunked body. The Pinpoint surface applies the same limit in its own error format.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from renraku.api.config import ServerSettings

UPLOAD_SUFFIX = "/imports/upload"


class _TooLarge(HTTPException):
    """Raised while a route reads the body; FastAPI passes HTTPExceptions on unchanged."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _detail(limit))


class BodyLimitMiddleware:
    """Refuses native-API bodies over the limit with ``413`` problem details."""

    def __init__(self, app: ASGIApp, settings: ServerSettings) -> None:
        self.app = app
        self.settings = settings

    def limit_for(self, path: str) -> int:
        if path.endswith(UPLOAD_SUFFIX):
            return self.settings.max_upload_bytes
        return self.settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith("/api/"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(path)
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _refuse(scope, send, limit)
                return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if started:
                raise
            await _refuse(scope, send, limit)


def _detail(limit: int) -> str:
    return (
        f"the request body exceeds {limit} bytes (server.max_body_bytes, or "
        "server.max_upload_bytes for uploads)"
    )


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "type": "https://renraku.dev/problems/payload-too-large",
            "title": "Payload too large",
            "status": 413,
            "detail": _detail(limit),
            "instance": str(scope.get("path", "")),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
