"""Shared fixtures: one store per test on SQLite and on PostgreSQL (an isolated schema each).

PostgreSQL is found at RENRAKU_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
Where it cannot be reached the PostgreSQL variants skip, except under CI=true, where they fail.

The migrations run once per test process: on SQLite into a template file that each ``store``
copies, on PostgreSQL into a scratch schema while the statements they execute are recorded, and
each ``store`` runs that script in its own schema (so do ``migrated_db_url`` and
``migrated_sqlite_url``). ``db_url``, ``pg_url`` and ``sqlite_url`` stay empty databases, for the
tests that migrate (or ``renraku init``) themselves.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from renraku.store import Store
from renraku.store.engine import make_engine, migrate, normalise_url

PG_URL = os.environ.get("RENRAKU_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(normalise_url(PG_URL))
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return str(exc).splitlines()[0]
    return None


_PG_PROBLEM: list[str | None] = []


def require_postgres() -> None:
    """Skip (or, under CI=true, fail) when PostgreSQL cannot be reached."""
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(_pg_reachable())
    problem = _PG_PROBLEM[0]
    if problem is not None:
        message = f"PostgreSQL at {PG_URL} is not reachable: {problem}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def _schema() -> Iterator[str]:
    """A URL whose connections use a fresh, private schema of the test database; dropped after."""
    require_postgres()
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose connections use a fresh, private schema in the test database."""
    with _schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'renraku.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for each dialect; tests using it form the store contract suite."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'renraku.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated by renraku once per test process, for copying."""
    path = tmp_path_factory.mktemp("template") / "renraku.db"
    Store.open(f"sqlite:///{path}").close()
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists(), f"{wal} is left after closing: a copy of {path} would miss it"
    return path


@pytest.fixture(scope="session")
def pg_schema_script() -> str | None:
    """What renraku's migrations execute on an empty PostgreSQL schema, recorded once per test
    process as one script (their introspecting SELECTs left out); None when a statement carries
    bound parameters, which a script cannot replay (then each store migrates)."""
    recorded: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not statement.lstrip().upper().startswith("SELECT"):
            recorded.append((statement, parameters))

    with _schema() as url:
        engine = make_engine(url)
        event.listen(engine, "before_cursor_execute", record)
        try:
            migrate(engine)
        finally:
            engine.dispose()
    if any(parameters for _, parameters in recorded):
        return None
    return ";\n".join(statement for statement, _ in recorded)


def migrated(url: str, request: pytest.FixtureRequest) -> str:
    """Give the empty database at ``url`` (from ``db_url``, ``pg_url`` or ``sqlite_url``) the
    schema the migrations build, from the per-process template; returns ``url``."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), str(parsed.database))
        return url
    script = request.getfixturevalue("pg_schema_script")
    if script is None:
        Store.open(url).close()
        return url
    import psycopg

    with psycopg.connect(url) as conn:  # libpq reads the schema from the URL's options
        conn.execute(script)
    return url


@pytest.fixture
def migrated_sqlite_url(sqlite_url: str, request: pytest.FixtureRequest) -> str:
    """``sqlite_url`` holding the migrated schema already (for tests that open it themselves and
    are not about migrating)."""
    return migrated(sqlite_url, request)


@pytest.fixture
def migrated_db_url(db_url: str, request: pytest.FixtureRequest) -> str:
    """``db_url`` holding the migrated schema already, on each dialect."""
    return migrated(db_url, request)


@pytest.fixture
def store(db_url: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A migrated store on each dialect (opened as renraku opens one: migrations are applied,
    here none is pending)."""
    opened = Store.open(migrated(db_url, request))
    try:
        yield opened
    finally:
        opened.close()


# Under ``pytest -n 2`` each worker takes the next test as it finishes one, so a long test that
# starts last keeps one worker busy while the other idles. Long tests therefore go first: those
# marked slow, then the reliability suite (real outages, crashes, waits), then the acceptance suite
# (a subprocess per command), then the rest in their usual order (modules stay together).
_FIRST = ("tests/reliability/", "tests/acceptance/")


def _rank(item: pytest.Item) -> int:
    if item.get_closest_marker("slow") is not None:
        return 0
    path = item.nodeid
    for rank, prefix in enumerate(_FIRST, start=1):
        if path.startswith(prefix):
            return rank
    return len(_FIRST) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: the order within each rank is kept
