"""Dashboard login: redirects, refusals, cookie flags, CSRF on every POST, logout, users CLI."""

from __future__ import annotations

import httpx
from api_support import live_server
from journey_helpers import journey_app, seed_customers, voice_seed_journey
from starlette.requests import Request
from web_support import PASSWORD, csrf_of, dashboard, log_in, page_csrf

from renraku.services import journeys
from renraku.web import sessions
from renraku.web.config import DashboardSettings
from renraku.web.site import Dashboard


def test_pages_send_a_visitor_to_the_login_page_and_back_after_logging_in(
    migrated_sqlite_url: str,
) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        sessions.create_user(app, "admin", PASSWORD)
        with live_server(app) as base, httpx.Client(base_url=base) as client:
            first = client.get("/ui/people?q=x")
            assert first.status_code == 303
            assert first.headers["location"] == "/ui/login?next=%2Fui%2Fpeople%3Fq%3Dx"
            assert client.get("/").headers["location"] == "/ui/journeys"
            assert (
                client.get("/ui/calls/live", headers={"X-Requested-With": "fetch"}).status_code
                == 401
            )
            page = client.get(first.headers["location"])
            done = client.post(
                "/ui/login",
                data={
                    "name": "admin",
                    "password": PASSWORD,
                    "csrf_token": csrf_of(page.text),
                    "next": "/ui/people?q=x",
                },
            )
            assert done.status_code == 303
            assert done.headers["location"] == "/ui/people?q=x"
            cookie = next(
                c for c in done.headers.get_list("set-cookie") if c.startswith("renraku_session=")
            )
            flags = {part.strip().lower() for part in cookie.split(";")}
            assert {"httponly", "samesite=lax", "path=/ui"} <= flags
            assert "secure" not in flags  # plain http: a Secure cookie would never come back
            assert client.get("/ui/people?q=x").status_code == 200
    finally:
        app.close()


def test_a_login_never_leads_to_another_site(migrated_sqlite_url: str) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        sessions.create_user(app, "admin", PASSWORD)
        with live_server(app) as base, httpx.Client(base_url=base) as client:
            page = client.get("/ui/login")
            done = client.post(
                "/ui/login",
                data={
                    "name": "admin",
                    "password": PASSWORD,
                    "csrf_token": csrf_of(page.text),
                    "next": "//evil.example/ui/",
                },
            )
            assert done.headers["location"] == "/ui/journeys"
    finally:
        app.close()


def test_wrong_password_unknown_name_and_missing_form_token_are_refused(
    migrated_sqlite_url: str,
) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        sessions.create_user(app, "admin", PASSWORD)
        with live_server(app) as base, httpx.Client(base_url=base) as client:
            wrong = log_in(client, "admin", "not the password")
            unknown = log_in(client, "nobody", PASSWORD)
            for refused in (wrong, unknown):
                assert refused.status_code == 401
                assert "Wrong name or password." in refused.text
                assert "renraku_session" not in refused.headers.get("set-cookie", "")
            client.get("/ui/login")
            forged = client.post(
                "/ui/login", data={"name": "admin", "password": PASSWORD, "csrf_token": "forged"}
            )
            assert forged.status_code == 403
            assert client.get("/ui/journeys").status_code == 303
    finally:
        app.close()


def test_a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    migrated_sqlite_url: str,
) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        app_id, _ = seed_customers(app, 2)
        created = journeys.create(app, app_id, voice_seed_journey())
        with dashboard(app) as client:
            url = f"/ui/journeys/{created['Id']}/publish"
            assert client.post(url).status_code == 403
            assert client.post(url, data={"csrf_token": "guess"}).status_code == 403
            assert journeys.show(app, app_id, created["Id"])["State"] == "DRAFT"
            header = client.post(url, headers={"X-CSRF-Token": page_csrf(client)})
            assert header.status_code == 303
            assert journeys.show(app, app_id, created["Id"])["State"] == "ACTIVE"
    finally:
        app.close()


def test_logging_out_ends_the_session_for_good(migrated_sqlite_url: str) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        with dashboard(app) as client:
            token = client.cookies["renraku_session"]
            out = client.post("/ui/logout", data={"csrf_token": page_csrf(client)})
            assert out.status_code == 303
            assert out.headers["location"] == "/ui/login"
            client.cookies.set("renraku_session", token, path="/ui")
            assert client.get("/ui/journeys").status_code == 303
    finally:
        app.close()


def test_a_new_password_ends_existing_sessions(migrated_sqlite_url: str) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        with dashboard(app) as client:
            assert client.get("/ui/journeys").status_code == 200
            sessions.set_password(app, "admin", "another long password")
            assert client.get("/ui/journeys").status_code == 303
            assert log_in(client, "admin", "another long password").status_code == 303
    finally:
        app.close()


def _request(scheme: str) -> Request:
    scope = {
        "type": "http",
        "scheme": scheme,
        "server": ("renraku.example", 443 if scheme == "https" else 80),
        "method": "GET",
        "path": "/ui",
        "query_string": b"",
        "headers": [],
    }
    return Request(scope)


def test_session_cookies_are_secure_over_https_or_when_always_asked(
    migrated_sqlite_url: str,
) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        auto = Dashboard(app, DashboardSettings())
        assert auto.secure(_request("https"))
        assert not auto.secure(_request("http"))
        always = Dashboard(app, DashboardSettings(secure_cookies="always"))
        assert always.secure(_request("http"))
        never = Dashboard(app, DashboardSettings(secure_cookies="never"))
        assert not never.secure(_request("https"))
    finally:
        app.close()


def test_without_applications_every_page_says_how_to_create_one(migrated_sqlite_url: str) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        with dashboard(app) as client:
            for path in (
                "/ui/journeys",
                "/ui/segments",
                "/ui/imports",
                "/ui/people",
                "/ui/calls",
                "/ui/charts",
            ):
                page = client.get(path)
                assert page.status_code == 200, path
                assert "renraku apps create NAME" in page.text
    finally:
        app.close()


def test_the_chosen_application_is_the_one_every_page_shows(migrated_sqlite_url: str) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        first, _ = seed_customers(app, 1)
        journeys.create(app, first, {**voice_seed_journey(), "Name": "最初のジャーニー"})
        with app.store.begin() as conn:
            from renraku.store import apps as app_store

            second = app_store.create_app(conn, "二つ目", now=app.now_iso())["Id"]
        with dashboard(app) as client:
            assert "最初のジャーニー" in client.get("/ui/journeys").text
            csrf = page_csrf(client)
            moved = client.post(
                "/ui/app", data={"csrf_token": csrf, "app": second, "next": "/ui/journeys"}
            )
            assert moved.headers["location"] == "/ui/journeys"
            page = client.get("/ui/journeys").text
            assert "最初のジャーニー" not in page
            assert "二つ目" in page
            assert "No journeys yet." in page
            unknown = client.post("/ui/app", data={"csrf_token": csrf, "app": "nope"})
            assert unknown.status_code == 404
    finally:
        app.close()


def test_repeated_wrong_passwords_lock_the_name_for_a_while(migrated_sqlite_url: str) -> None:
    app = journey_app(migrated_sqlite_url)
    try:
        sessions.create_user(app, "admin", PASSWORD)
        with live_server(app) as base, httpx.Client(base_url=base) as client:
            for _ in range(10):
                assert log_in(client, "admin", "guess").status_code == 401
            locked = log_in(client, "ADMIN", PASSWORD)  # the right password, too late
            assert locked.status_code == 429
            assert "Too many failed logins" in locked.text
            assert "renraku_session" not in locked.headers.get("set-cookie", "")
    finally:
        app.close()
