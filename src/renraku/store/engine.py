"""Engines for SQLite (WAL, the embedded default) and PostgreSQL (psycopg 3), and migrations."""

from __future__ import annotations

from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from renraku.errors import ConfigError


def normalise_url(url: str) -> str:
    """Map the URLs people write to the drivers renraku uses (``postgresql://`` -> psycopg 3)."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _postgresql_session(dbapi_connection: Any, _record: Any) -> None:
    # JIT compiles renraku's short, wide queries (segment counts, claims) for longer than they
    # run; measured at a million endpoints it added over a second per segment count.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout, PostgreSQL pre-pings connections."""
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError as exc:
        raise ConfigError(f"database URL {url!r} is not valid: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _postgresql_session)
        return engine
    raise ConfigError(f"database URL {url!r}: renraku supports sqlite:/// and postgresql:// URLs")


def _alembic_config(engine_connection: Any) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("renraku.store") / "migrations"))
    cfg.attributes["connection"] = engine_connection
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to every head revision (idempotent).

    Features add migrations on their own branches from ``0001``; all heads are applied.
    """
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "heads")


def schema_is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration."""
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
        heads = set(ScriptDirectory.from_config(_alembic_config(connection)).get_heads())
    return current == heads
