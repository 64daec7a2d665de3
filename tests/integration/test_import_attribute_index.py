"""Imports keep the attribute index exactly as the triggers' own SQL derives it from the stored
endpoints, on a first import and on a re-import that changes, adds and moves endpoints."""

from __future__ import annotations

import csv
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from renraku.app import App, build_app
from renraku.importing.synthetic import write_customer_csv
from renraku.services import imports as import_service
from renraku.services.imports import ImportOptions
from renraku.settings import load_settings
from renraku.store import apps as app_store

_BASE = importlib.import_module("renraku.store.migrations.versions.0002_segments")


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    built = build_app(load_settings(db=db_url))
    try:
        yield built
    finally:
        built.close()


def _expected(conn: Connection) -> set[tuple[str, ...]]:
    """The index rows the triggers' own SQL derives from the stored endpoints."""
    if conn.dialect.name == "postgresql":
        sql = _BASE._pg_rows("endpoints")
    else:
        sql = " UNION ".join(
            _BASE._sqlite_rows("e", kind, column, source="endpoints AS e, ")
            for kind, column in (("A", "attributes"), ("U", "user_attributes"))
        )
    return {tuple(r) for r in conn.exec_driver_sql(sql)}


def _stored(conn: Connection) -> set[tuple[str, ...]]:
    rows = conn.execute(
        text(
            "SELECT app_id, kind, name, value, channel_type, participant, endpoint_id "
            "FROM endpoint_attribute_index"
        )
    )
    return {tuple(r) for r in rows}


def _import(app: App, app_id: str, path: Path) -> None:
    job = import_service.run_import(
        app,
        app_id,
        ImportOptions(source=str(path), default_region="JP", batch_size=250, workers=0),
    )
    assert job["JobStatus"] == "COMPLETED"


def test_imports_and_reimports_keep_the_attribute_index_exact(app: App, tmp_path: Path) -> None:
    with app.store.begin() as conn:
        app_id = str(app_store.create_app(conn, "default", now=app.now_iso())["Id"])
    first = write_customer_csv(tmp_path / "customers.csv", 600)
    _import(app, app_id, first)
    with app.store.connect() as conn:
        stored = _stored(conn)
        assert stored == _expected(conn)
    # 600 endpoints with CallStatus and Index, all but the seed's three with a Name.
    assert len(stored) == 600 * 3 - 3

    # The same list edited: statuses and names change, a user id goes, rows are added.
    with first.open(encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    for i, row in enumerate(rows):
        if i % 4 == 0:
            row[3] = "COMPLETED"
        if i % 7 == 0:
            row[5] = "新しい 名前"
        if i % 50 == 1:
            row[2] = ""
    rows += [["EMAIL", f"new{i}@example.com", f"New{i}", "PENDING", f"New{i}", "", "", ""]
             for i in range(40)]  # fmt: skip
    header.append("User.UserAttributes.Plan")
    for i, row in enumerate(rows):
        row.append("gold" if i % 3 == 0 else "")
    second = tmp_path / "customers-edited.csv"
    with second.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([header, *rows])
    _import(app, app_id, second)
    with app.store.connect() as conn:
        stored = _stored(conn)
        assert stored == _expected(conn)
    completed = {r for r in stored if r[1:4] == ("A", "CallStatus", "COMPLETED")}
    assert len(completed) == 150
    assert any(r[5].startswith("e:") for r in stored)
    assert len({r for r in stored if r[1:4] == ("U", "Plan", "gold")}) > 200
