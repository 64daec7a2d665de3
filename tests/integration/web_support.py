"""Helpers for dashboard tests: a live server over an App on the virtual clock, and a logged-in
HTTP client that reads CSRF tokens from the pages as a browser would."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from api_support import live_server

from renraku.app import App, build_app
from renraku.engine.config import JourneySettings
from renraku.settings import ClockSettings, Settings
from renraku.web import sessions

PASSWORD = "correct horse battery"
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    found = _CSRF_META.search(html) or _CSRF_FIELD.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def log_in(client: httpx.Client, name: str = "admin", password: str = PASSWORD) -> httpx.Response:
    page = client.get("/ui/login")
    return client.post(
        "/ui/login",
        data={"name": name, "password": password, "csrf_token": csrf_of(page.text)},
    )


@contextmanager
def dashboard(app: App, *, user: str = "admin") -> Iterator[httpx.Client]:
    """A client of a live server over ``app``, logged in as a newly created ``user``."""
    sessions.create_user(app, user, PASSWORD)
    with live_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        response = log_in(client, user)
        assert response.status_code == 303, response.text
        yield client


def page_csrf(client: httpx.Client, path: str = "/ui/journeys") -> str:
    return csrf_of(client.get(path).text)


def voice_dashboard_app(db_url: str, tmp_path: Path, script: dict[str, Any]) -> App:
    """The virtual clock from 10:00 in Tokyo; VOICE on the simulator following ``script``; SMS and
    EMAIL recorded."""
    script_path = tmp_path / "callees.json"
    script_path.write_text(json.dumps(script), encoding="utf-8")
    settings = Settings(
        db=db_url,
        clock=ClockSettings(mode="virtual", virtual_start="2026-03-05T01:00:00.000Z"),
        journeys=JourneySettings(record_channels=["SMS", "EMAIL", "CUSTOM"]),
        voice={"simulator": {"script": str(script_path)}},
    )
    return build_app(settings)
