"""RFC 9457 problem details for the native API: every error says where and why."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException

from renraku.api.auth import AuthError
from renraku.errors import Conflict, InvalidInput, NotFound, RenrakuError

log = logging.getLogger("renraku.api")

PROBLEM_TYPE = "https://renraku.dev/problems/"
MEDIA_TYPE = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem-details response: ``type``, ``title``, ``status``, ``detail`` and ``errors``."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + kind,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        head, rest = parts[0], parts[1:]
        return head + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in rest)
    return ".".join(parts)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"path": _location(tuple(e.get("loc", ()))), "message": str(e.get("msg", "invalid"))}
        for e in exc.errors()
    ]
    malformed = any(e.get("type") == "json_invalid" for e in exc.errors())
    status = 400 if malformed else 422
    detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
    return problem(
        status,
        "Malformed request" if malformed else "Invalid request",
        detail,
        kind="malformed-request" if malformed else "invalid-request",
        instance=request.url.path,
        errors=errors,
    )


async def _renraku(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RenrakuError)
    path = request.url.path
    if isinstance(exc, InvalidInput):
        errors = [{"path": p.path, "message": p.message} for p in exc.problems]
        return problem(
            422, "Invalid input", str(exc), kind="invalid-input", instance=path, errors=errors
        )
    if isinstance(exc, NotFound):
        return problem(404, "Not found", str(exc), kind="not-found", instance=path)
    if isinstance(exc, Conflict):
        return problem(409, "Conflict", str(exc), kind="conflict", instance=path)
    log.error("%s %s failed: %s", request.method, path, exc)
    return problem(500, "Server error", str(exc), kind="server-error", instance=path)


async def _auth(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthError)
    headers = {"Retry-After": "1"} if exc.status == 429 else None
    if exc.status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="renraku"'}
    return problem(
        exc.status,
        exc.code,
        exc.message,
        kind=exc.code,
        instance=request.url.path,
        headers=headers,
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem(
        exc.status_code,
        "HTTP error",
        str(exc.detail),
        kind=f"http-{exc.status_code}",
        instance=request.url.path,
        headers=dict(exc.headers or {}),
    )


async def _integrity(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)
    return problem(
        409,
        "Conflict",
        f"conflicting write: {exc.orig}",
        kind="conflict",
        instance=request.url.path,
    )


def install(api: FastAPI) -> None:
    """Register the handlers that turn exceptions into problem details."""
    api.add_exception_handler(RequestValidationError, _validation)
    api.add_exception_handler(RenrakuError, _renraku)
    api.add_exception_handler(AuthError, _auth)
    api.add_exception_handler(HTTPException, _http)
    api.add_exception_handler(IntegrityError, _integrity)
