"""Dashboard login: password check, sessions kept in the store, the selected application."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from renraku.domain.timefmt import iso
from renraku.store import apps as app_store
from renraku.store import dashboard_users as user_store
from renraku.web.security import (
    DECOY_HASH,
    hash_password,
    new_token,
    password_problem,
    token_hash,
    verify_password,
)

if TYPE_CHECKING:
    from renraku.app import App

NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-")


def _wall() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Session:
    """A logged-in user: the cookie token's hash, the name, the CSRF token, the application."""

    key: str
    user: str
    csrf: str
    app_id: str | None


def name_problem(name: str) -> str | None:
    if not 1 <= len(name) <= 64:
        return "1 to 64 characters"
    if not set(name) <= NAME_CHARS:
        return "letters, digits and . _ @ - only"
    return None


def create_user(app: App, name: str, password: str) -> dict[str, Any]:
    """Add a dashboard user with a salted scrypt hash of ``password``."""
    from renraku.errors import InvalidInput, Problem

    found = [
        Problem(path, why)
        for path, why in (("NAME", name_problem(name)), ("password", password_problem(password)))
        if why
    ]
    if found:
        raise InvalidInput(found, subject="dashboard user")
    with app.store.begin() as conn:
        return user_store.create_user(conn, name, hash_password(password), now=iso(_wall()))


def set_password(app: App, name: str, password: str) -> None:
    from renraku.errors import InvalidInput, Problem

    why = password_problem(password)
    if why:
        raise InvalidInput([Problem("password", why)], subject="dashboard user")
    with app.store.begin() as conn:
        user_store.set_password(conn, name, hash_password(password))


class Sessions:
    """Log in, look up and end sessions; sessions last ``hours`` of wall-clock time."""

    def __init__(self, app: App, hours: float) -> None:
        self.app = app
        self.hours = hours

    def login(self, name: str, password: str) -> tuple[str, Session] | None:
        """A new session token and its session when the password matches, else None."""
        with self.app.store.connect() as conn:
            row = user_store.find_user(conn, name)
        if not verify_password(password, row.password_hash if row else DECOY_HASH) or row is None:
            return None
        token, csrf = new_token(), new_token()
        now = _wall()
        with self.app.store.begin() as conn:
            user_store.purge_expired(conn, now=iso(now))
            user_store.create_session(
                conn,
                token_hash(token),
                row.name,
                csrf,
                app_id=None,
                now=iso(now),
                expires_at=iso(now + timedelta(hours=self.hours)),
            )
            user_store.touch_login(conn, row.name, now=iso(now))
        return token, Session(token_hash(token), row.name, csrf, None)

    def current(self, token: str | None) -> Session | None:
        if not token:
            return None
        key = token_hash(token)
        with self.app.store.connect() as conn:
            row = user_store.find_session(conn, key, now=iso(_wall()))
        if row is None:
            return None
        return Session(key, row.user_name, row.csrf_token, row.app_id)

    def logout(self, session: Session) -> None:
        with self.app.store.begin() as conn:
            user_store.end_session(conn, session.key)

    def select_app(self, session: Session, app_key: str) -> str:
        """Make ``app_key`` (id or name) the session's application; returns its id."""
        with self.app.store.begin() as conn:
            app_id = str(app_store.get_app(conn, app_key)["Id"])
            user_store.set_session_app(conn, session.key, app_id)
        return app_id

    def applications(self) -> list[dict[str, Any]]:
        with self.app.store.connect() as conn:
            return app_store.list_apps(conn)

    def app_for(self, session: Session) -> dict[str, Any] | None:
        """The session's application, else the configured one, else the first; None if none."""
        apps = self.applications()
        by_id = {str(a["Id"]): a for a in apps}
        if session.app_id in by_id:
            return by_id[str(session.app_id)]
        wanted = self.app.settings.app
        for a in apps:
            if wanted in (a["Id"], a["Name"]):
                return a
        return apps[0] if apps else None
