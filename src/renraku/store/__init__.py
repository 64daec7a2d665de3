"""Storage adapter: SQLAlchemy Core over SQLite and PostgreSQL.

Each module holds the named statements for one noun and takes a ``Connection``, so a use case can
make several writes in one transaction (``with store.begin() as conn: ...``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError

from renraku.errors import StoreError
from renraku.store.engine import make_engine, migrate, schema_is_current

T = TypeVar("T")


class Store:
    """One database: an engine plus the schema's migrations."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate_schema: bool = True) -> Store:
        """Open the database at ``url`` and (by default) apply pending migrations."""
        store = cls(make_engine(url))
        if migrate_schema:
            try:
                migrate(store.engine)
            except OperationalError as exc:
                raise StoreError(f"cannot open database {url!r}: {exc.orig}") from exc
        return store

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def is_current(self) -> bool:
        return schema_is_current(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except (OperationalError, ProgrammingError) as exc:
            raise StoreError(f"database error: {exc.orig}") from exc

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads."""
        with self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()


def is_transient(exc: BaseException) -> bool:
    """A database failure that trying again can cure: a connection cut, the server restarting,
    a statement timeout (also when :meth:`Store.begin` has wrapped it in a StoreError)."""
    if isinstance(exc, StoreError):
        exc = exc.__cause__ or exc
    return isinstance(exc, (OperationalError, InterfaceError))


def retry_transient(
    fn: Callable[[], T],
    *,
    within: float,
    max_delay: float,
    on_retry: Callable[[BaseException, float], None],
    first_delay: float = 0.05,
) -> T:
    """``fn()``, tried again with doubling pauses (``first_delay`` up to ``max_delay``) while it
    fails with a transient database error (:func:`is_transient`); any other error, or one still
    failing ``within`` seconds after the first try, propagates. ``on_retry(error, pause)`` is
    called before each pause (to count and log)."""
    delay, started = first_delay, time.monotonic()
    while True:
        try:
            return fn()
        except (StoreError, DBAPIError) as exc:
            if not is_transient(exc) or time.monotonic() - started > within:
                raise
            on_retry(exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, max_delay)


__all__ = ["Store", "is_transient", "make_engine", "migrate", "retry_transient"]
