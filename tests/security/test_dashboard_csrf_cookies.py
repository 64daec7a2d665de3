"""Dashboard sessions: cookies are HttpOnly and SameSite always, Secure when served over https
(a real TLS server) or when a TLS-terminating proxy is declared (`secure_cookies = "always"`),
and a cross-site POST riding the victim's cookie is refused, also with a valid token of another
session (the attacker's own)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from api_support import live_server
from channel_support import self_signed
from cryptography.hazmat.primitives import serialization
from journey_helpers import journey_app, seed_customers, voice_seed_journey
from web_support import PASSWORD, csrf_of, dashboard, log_in, page_csrf

from renraku.app import App
from renraku.services import journeys
from renraku.web import sessions
from renraku.web.config import DashboardSettings


@contextmanager
def _tls_server(app: App, tmp: Path) -> Iterator[str]:
    """``app`` served over https with a self-signed certificate for 127.0.0.1."""
    key, cert = self_signed("127.0.0.1", ip="127.0.0.1")
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    with live_server(app, ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as url:
        yield url


def _session_cookie(response: httpx.Response) -> str:
    [cookie] = [c for c in response.headers.get_list("set-cookie") if "renraku_session=" in c]
    return cookie.lower()


def test_over_https_the_session_cookie_is_secure_httponly_and_samesite(
    sqlite_url: str, tmp_path: Path
) -> None:
    app = journey_app(sqlite_url)
    try:
        sessions.create_user(app, "admin", PASSWORD)
        with _tls_server(app, tmp_path) as url, httpx.Client(base_url=url, verify=False) as tls:
            cookie = _session_cookie(log_in(tls))
        assert "; secure" in cookie
        assert "; httponly" in cookie
        assert "; samesite=lax" in cookie
        assert "; path=/ui" in cookie
    finally:
        app.close()


def _log_in_by_hand(base: str) -> httpx.Response:
    """Log in as a browser would, sending back whatever cookies the login page set (also Secure
    ones, which a TLS-terminating proxy would have carried over https)."""
    page = httpx.get(base + "/ui/login")
    cookies = "; ".join(c.split(";", 1)[0] for c in page.headers.get_list("set-cookie"))
    form = {"name": "admin", "password": PASSWORD, "csrf_token": csrf_of(page.text)}
    return httpx.post(base + "/ui/login", data=form, headers={"Cookie": cookies})


def test_over_plain_http_the_cookie_is_secure_only_when_a_tls_proxy_is_declared(
    sqlite_url: str,
) -> None:
    app = journey_app(sqlite_url)
    try:
        sessions.create_user(app, "admin", PASSWORD)
        with live_server(app) as base:
            cookie = _session_cookie(_log_in_by_hand(base))
        assert "; secure" not in cookie
        assert "; httponly" in cookie
        assert "; samesite=lax" in cookie
        app.settings.dashboard = DashboardSettings(secure_cookies="always")
        with live_server(app) as base:
            cookie = _session_cookie(_log_in_by_hand(base))
        assert "; secure" in cookie
        assert "; httponly" in cookie
        assert "; samesite=lax" in cookie
    finally:
        app.close()


def test_a_cross_site_post_with_the_victims_cookie_is_refused_and_changes_nothing(
    sqlite_url: str,
) -> None:
    app = journey_app(sqlite_url)
    try:
        app_id, _ = seed_customers(app, 2)
        created = journeys.create(app, app_id, voice_seed_journey())
        publish = f"/ui/journeys/{created['Id']}/publish"
        with dashboard(app, user="victim") as victim, dashboard(app, user="attacker") as attacker:
            attackers_token = page_csrf(attacker)
            foreign = {"Origin": "https://evil.example", "Referer": "https://evil.example/x"}
            for form in ({}, {"csrf_token": ""}, {"csrf_token": attackers_token}):
                refused = victim.post(publish, data=form, headers=foreign)
                assert refused.status_code == 403
                assert "CSRF" in refused.text
            assert journeys.show(app, app_id, created["Id"])["State"] == "DRAFT"
            # The victim's own page, with its own token, may.
            victims_token = csrf_of(victim.get(f"/ui/journeys/{created['Id']}").text)
            assert victims_token != attackers_token
            done = victim.post(publish, data={"csrf_token": victims_token})
            assert done.status_code == 303
            assert journeys.show(app, app_id, created["Id"])["State"] == "ACTIVE"
    finally:
        app.close()
