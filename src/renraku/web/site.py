"""What every dashboard page shares: templates, the login guard, CSRF checks, cookies, errors."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from renraku.errors import Conflict, InvalidInput, NotFound, RenrakuError
from renraku.web.config import DashboardSettings
from renraku.web.security import csrf_matches
from renraku.web.sessions import Session, Sessions

if TYPE_CHECKING:
    from renraku.app import App

PREFIX = "/ui"
SESSION_COOKIE = "renraku_session"
LOGIN_CSRF_COOKIE = "renraku_login_csrf"
FLASH_COOKIE = "renraku_flash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# No inline scripts and nothing from elsewhere; inline SVG presentation attributes are styles.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

P = ParamSpec("P")


class LoginRequired(Exception):
    """No live session: pages redirect to the login page, background requests get 401."""


class CsrfRejected(Exception):
    """A POST without the session's CSRF token."""


@dataclass(frozen=True)
class Ctx:
    """A logged-in request: the session and the application being viewed (None: none exist)."""

    request: Request
    session: Session
    app_id: str | None
    app_name: str | None
    apps: list[dict[str, Any]]

    def need_app(self) -> str:
        if self.app_id is None:
            raise NotFound("application", "(none yet: create one with `renraku apps create`)")
        return self.app_id


class Dashboard:
    """The dashboard over one App: its settings, sessions and template environment."""

    def __init__(self, app: App, settings: DashboardSettings) -> None:
        self.app = app
        self.settings = settings
        self.sessions = Sessions(app, settings.session_hours)
        self.env = Environment(
            loader=PackageLoader("renraku.web", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals["prefix"] = PREFIX
        self.env.filters["q"] = lambda v: quote(str(v), safe="")
        self.env.filters["basename"] = lambda v: unquote(
            str(v or "").rstrip("/").rsplit("/", 1)[-1]
        )
        self.env.filters["svg"] = lambda v: Markup(v)  # noqa: S704 - built by our own renderers

    # ------------------------------------------------------------------ rendering

    def render(
        self,
        template_name: str,
        request: Request,
        ctx: Ctx | None = None,
        /,
        *,
        status_code: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        template = self.env.get_template(template_name)
        body = template.render(
            request=request,
            ctx=ctx,
            csrf=ctx.session.csrf if ctx else values.pop("login_csrf", ""),
            refresh_ms=int(self.settings.refresh_seconds * 1000),
            msg=unquote(request.cookies.get(FLASH_COOKIE, ""))[:300],
            **values,
        )
        response = HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
        if FLASH_COOKIE in request.cookies:
            response.delete_cookie(FLASH_COOKIE, path=PREFIX)
        return response

    def secure(self, request: Request) -> bool:
        mode = self.settings.secure_cookies
        return mode == "always" or (mode == "auto" and request.url.scheme == "https")

    def set_cookie(self, response: Response, request: Request, name: str, value: str) -> None:
        response.set_cookie(
            name,
            value,
            max_age=int(self.settings.session_hours * 3600),
            path=PREFIX,
            httponly=True,
            samesite="lax",
            secure=self.secure(request),
        )

    # ------------------------------------------------------------------ guards

    async def ctx(self, request: Request) -> Ctx:
        """The logged-in context of ``request``; raises LoginRequired."""
        session = await run_in_threadpool(
            self.sessions.current, request.cookies.get(SESSION_COOKIE)
        )
        if session is None:
            raise LoginRequired()
        apps = await run_in_threadpool(self.sessions.applications)
        chosen = await run_in_threadpool(self.sessions.app_for, session)
        return Ctx(
            request,
            session,
            str(chosen["Id"]) if chosen else None,
            str(chosen["Name"]) if chosen else None,
            apps,
        )

    async def form(self, request: Request, ctx: Ctx) -> FormData:
        """The POSTed form after checking its CSRF token (form field or X-CSRF-Token header)."""
        form = await request.form(max_part_size=4 * 1024 * 1024)
        given = form.get(CSRF_FIELD)
        token = given if isinstance(given, str) else request.headers.get(CSRF_HEADER)
        if not csrf_matches(ctx.session.csrf, token):
            await form.close()  # uploaded files are spooled to disk; let them go at once
            raise CsrfRejected()
        return form


def text_field(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value if isinstance(value, str) else default


def redirect(url: str, msg: str | None = None) -> RedirectResponse:
    """303 to ``url``; ``msg`` shows once on the next page (a short-lived cookie, so no page
    ever shows text that came from its own URL)."""
    response = RedirectResponse(url, status_code=303)
    if msg:
        response.set_cookie(
            FLASH_COOKIE, quote(msg, safe=""), max_age=60, path=PREFIX, httponly=True,
            samesite="lax",
        )  # fmt: skip
    return response


def status_of(exc: RenrakuError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, InvalidInput):
        return 422
    return 500


def page_errors(
    dash: Dashboard,
) -> Callable[[Callable[P, Awaitable[Response]]], Callable[P, Awaitable[Response]]]:
    """Render renraku errors raised by a page as an HTML error page (not problem+json)."""

    def wrap(fn: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
        @functools.wraps(fn)
        async def inner(*args: P.args, **kwargs: P.kwargs) -> Response:
            try:
                return await fn(*args, **kwargs)
            except RenrakuError as exc:
                request = kwargs.get("request")
                if not isinstance(request, Request):
                    raise
                ctx = await dash.ctx(request)
                problems = list(getattr(exc, "problems", ()))
                return dash.render(
                    "error.html",
                    request,
                    ctx,
                    status_code=status_of(exc),
                    message=str(exc) if not problems else f"invalid {exc.subject}",  # type: ignore[attr-defined]
                    problems=problems,
                )

        return inner

    return wrap
