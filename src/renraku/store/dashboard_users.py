"""Dashboard users (name and salted scrypt hash) and their login sessions.

A session row is keyed by the SHA-256 of the random cookie token, so a leaked database does not
hand out live sessions; it carries the session's CSRF token and the application being viewed.
Times are ISO-8601 UTC strings on the wall clock (never the journey clock: sessions are security).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)

from renraku.errors import Conflict, NotFound
from renraku.store.schema import metadata

dashboard_users = Table(
    "dashboard_users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("last_login_at", String(32)),
)

dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_name", String(64), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("app_id", String(64)),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    ForeignKeyConstraint(["user_name"], ["dashboard_users.name"], ondelete="CASCADE"),
    Index("ix_dashboard_sessions_user", "user_name"),
)


def _user(r: Any) -> dict[str, Any]:
    return {"Name": r.name, "CreatedAt": r.created_at, "LastLoginAt": r.last_login_at}


def create_user(conn: Connection, name: str, password_hash: str, *, now: str) -> dict[str, Any]:
    """Add a user; Conflict when the name is taken."""
    if find_user(conn, name) is not None:
        raise Conflict(f"dashboard user {name!r} already exists")
    conn.execute(
        insert(dashboard_users).values(name=name, password_hash=password_hash, created_at=now)
    )
    return get_user(conn, name)


def find_user(conn: Connection, name: str) -> Any:
    """The user row (with ``password_hash``), or None."""
    return conn.execute(select(dashboard_users).where(dashboard_users.c.name == name)).first()


def get_user(conn: Connection, name: str) -> dict[str, Any]:
    row = find_user(conn, name)
    if row is None:
        raise NotFound("dashboard user", name)
    return _user(row)


def list_users(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(dashboard_users).order_by(dashboard_users.c.name))
    return [_user(r) for r in rows]


def set_password(conn: Connection, name: str, password_hash: str) -> None:
    """Replace the hash and end every session of the user."""
    get_user(conn, name)
    conn.execute(
        update(dashboard_users)
        .where(dashboard_users.c.name == name)
        .values(password_hash=password_hash)
    )
    conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.user_name == name))


def delete_user(conn: Connection, name: str) -> dict[str, Any]:
    """Remove the user and its sessions."""
    found = get_user(conn, name)
    conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.user_name == name))
    conn.execute(delete(dashboard_users).where(dashboard_users.c.name == name))
    return found


def touch_login(conn: Connection, name: str, *, now: str) -> None:
    conn.execute(
        update(dashboard_users).where(dashboard_users.c.name == name).values(last_login_at=now)
    )


def create_session(
    conn: Connection,
    token_hash: str,
    user_name: str,
    csrf_token: str,
    *,
    app_id: str | None,
    now: str,
    expires_at: str,
) -> None:
    conn.execute(
        insert(dashboard_sessions).values(
            token_hash=token_hash,
            user_name=user_name,
            csrf_token=csrf_token,
            app_id=app_id,
            created_at=now,
            expires_at=expires_at,
        )
    )


def find_session(conn: Connection, token_hash: str, *, now: str) -> Any:
    """The live session row for ``token_hash`` (expired ones are not returned), or None."""
    return conn.execute(
        select(dashboard_sessions).where(
            dashboard_sessions.c.token_hash == token_hash, dashboard_sessions.c.expires_at > now
        )
    ).first()


def set_session_app(conn: Connection, token_hash: str, app_id: str) -> None:
    conn.execute(
        update(dashboard_sessions)
        .where(dashboard_sessions.c.token_hash == token_hash)
        .values(app_id=app_id)
    )


def end_session(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.token_hash == token_hash))


def purge_expired(conn: Connection, *, now: str) -> int:
    """Delete expired sessions; returns how many."""
    result = conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.expires_at <= now))
    return int(result.rowcount or 0)
