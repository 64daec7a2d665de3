"""Login, logout and choosing the application."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from renraku.web.security import LoginThrottle, csrf_matches, new_token
from renraku.web.site import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    Dashboard,
    page_errors,
    redirect,
    text_field,
)


def _safe_next(target: str) -> str:
    """Only a path inside the dashboard (never another site) may follow a login."""
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX + "/journeys"


def register(router: APIRouter, dash: Dashboard) -> None:
    throttle = LoginThrottle()

    @router.get("/login")
    async def login_page(request: Request) -> Response:
        token = new_token()
        response = dash.render(
            "login.html",
            request,
            login_csrf=token,
            next=_safe_next(request.query_params.get("next", "")),
            error="",
        )
        dash.set_cookie(response, request, LOGIN_CSRF_COOKIE, token)
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        given = text_field(form, CSRF_FIELD)
        target = _safe_next(text_field(form, "next"))
        if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE), given):
            return dash.render(
                "login.html",
                request,
                status_code=403,
                login_csrf=request.cookies.get(LOGIN_CSRF_COOKIE, ""),
                next=target,
                error="The form expired; please try again.",
            )
        name, password = text_field(form, "name").strip(), text_field(form, "password")
        key = name.lower()
        wait = throttle.wait_seconds(key, time.monotonic())
        if wait > 0:
            return dash.render(
                "login.html",
                request,
                status_code=429,
                login_csrf=given,
                next=target,
                error=f"Too many failed logins; try again in {int(wait // 60) + 1} minutes.",
            )
        result = await run_in_threadpool(dash.sessions.login, name, password)
        if result is None:
            throttle.failed(key, time.monotonic())
            return dash.render(
                "login.html",
                request,
                status_code=401,
                login_csrf=given,
                next=target,
                error="Wrong name or password.",
            )
        throttle.succeeded(key)
        token, _ = result
        response = redirect(target)
        dash.set_cookie(response, request, SESSION_COOKIE, token)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        ctx = await dash.ctx(request)
        await dash.form(request, ctx)
        await run_in_threadpool(dash.sessions.logout, ctx.session)
        response = redirect(PREFIX + "/login")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    @router.post("/app")
    @page_errors(dash)
    async def choose_app(request: Request) -> Response:
        ctx = await dash.ctx(request)
        form = await dash.form(request, ctx)
        await run_in_threadpool(dash.sessions.select_app, ctx.session, text_field(form, "app"))
        return redirect(_safe_next(text_field(form, "next")))
