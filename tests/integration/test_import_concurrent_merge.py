"""The staged merge of imports on PostgreSQL: when another transaction stores the same keys at
the same moment, the batch waits for it and still lands whole, nothing duplicated."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from renraku.domain.endpoints import Endpoint
from renraku.store import Store
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store
from renraku.store import segments as segment_store

NOW = "2026-12-01T00:00:00.000Z"
ROWS = 250  # above the store's COPY threshold: the staged path


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    opened = Store.open(pg_url)
    try:
        yield opened
    finally:
        opened.close()


def _rows(app_id: str, status: str) -> list[tuple[Any, ...]]:
    return [
        endpoint_store.driver_tuple(
            endpoint_store.to_row(
                Endpoint(
                    app_id=app_id,
                    id=f"ep-{i:04d}",
                    channel_type="SMS",
                    address=f"+8190{i:08d}",
                    user_id=f"user-{i}",
                    attributes={"CallStatus": [status]},
                    effective_date=NOW,
                    creation_date=NOW,
                )
            )
        )
        for i in range(ROWS)
    ]


def _waiting_on_a_lock(store: Store, pid: int) -> bool:
    with store.connect() as conn:
        wait = conn.execute(
            text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar()
    return wait == "Lock"


def test_a_batch_racing_another_writer_of_the_same_keys_lands_whole(store: Store) -> None:
    with store.begin() as conn:
        app_id = str(app_store.create_app(conn, "race", now=NOW)["Id"])
        segment_id = segment_store.import_segment_for(
            conn, app_id, "list", now=NOW, import_definition={}
        )
    first = store.engine.connect()
    tx = first.begin()
    endpoint_store.upsert_driver_tuples(first, _rows(app_id, "PENDING"), segment_id=segment_id)
    errors: list[BaseException] = []
    pid: list[int] = []

    def second_writer() -> None:
        try:
            with store.begin() as conn:
                pid.append(int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()))
                endpoint_store.upsert_driver_tuples(
                    conn, _rows(app_id, "COMPLETED"), segment_id=segment_id
                )
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    thread = threading.Thread(target=second_writer)
    thread.start()
    # The second writer found none of the keys stored (the first has not committed) and now
    # waits on the first's uncommitted keys: committing makes its plain INSERT collide.
    deadline = time.monotonic() + 20
    while not (pid and _waiting_on_a_lock(store, pid[0])):
        assert time.monotonic() < deadline, "the second writer never waited on the first"
        assert thread.is_alive(), f"the second writer ended early: {errors}"
        time.sleep(0.02)
    tx.commit()
    first.close()
    thread.join(30)
    assert not thread.is_alive()
    assert errors == []
    with store.connect() as conn:
        stored = endpoint_store.by_ids(conn, app_id, [f"ep-{i:04d}" for i in range(ROWS)])
        members = conn.execute(
            text("SELECT count(*) FROM segment_members WHERE segment_id = :s"), {"s": segment_id}
        ).scalar_one()
        index = conn.execute(
            text(
                "SELECT value, count(*) FROM endpoint_attribute_index "
                "WHERE app_id = :a AND name = 'CallStatus' GROUP BY value"
            ),
            {"a": app_id},
        ).all()
    assert len(stored) == ROWS
    assert {ep.attributes["CallStatus"][0] for ep in stored} == {"COMPLETED"}  # the later write
    assert members == ROWS
    assert [tuple(r) for r in index] == [("COMPLETED", ROWS)]
