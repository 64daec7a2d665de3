"""The store contract: the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from renraku.domain.endpoints import Endpoint
from renraku.errors import Conflict, NotFound
from renraku.store import Store
from renraku.store import apps as app_store
from renraku.store import endpoints as endpoint_store

NOW = "2026-11-26T03:00:00.000Z"


def _app(store: Store, name: str = "default") -> str:
    with store.begin() as conn:
        return str(app_store.create_app(conn, name, now=NOW)["Id"])


def _ep(app_id: str, ep_id: str, channel: str, address: str, user: str | None) -> Endpoint:
    return Endpoint(
        app_id=app_id,
        id=ep_id,
        channel_type=channel,
        address=address,
        user_id=user,
        attributes={"CallStatus": ["PENDING"], "名前": ["山田 太郎"]},
        location={"Country": "JP", "Latitude": 35.68, "Longitude": 139.76},
        metrics={"score": 1.5},
        creation_date=NOW,
        effective_date=NOW,
    )


def test_schema_is_current_after_open(store: Store) -> None:
    assert store.is_current()


def test_application_names_are_unique_and_resolvable_by_id_or_name(store: Store) -> None:
    app_id = _app(store)
    with store.begin() as conn, pytest.raises(Conflict):
        app_store.create_app(conn, "default", now=NOW)
    with store.connect() as conn:
        assert app_store.get_app(conn, app_id)["Name"] == "default"
        assert app_store.get_app(conn, "default")["Id"] == app_id
        assert app_store.resolve_app(conn, None)["Id"] == app_id


def test_resolve_app_requires_a_choice_when_there_are_several(store: Store) -> None:
    _app(store, "a")
    _app(store, "b")
    with store.connect() as conn, pytest.raises(Conflict, match="--app"):
        app_store.resolve_app(conn, None)


def test_endpoints_round_trip_with_unicode_attributes_and_user_grouping(store: Store) -> None:
    app_id = _app(store)
    eps = [
        _ep(app_id, "e1", "VOICE", "+819011111111", "User1"),
        _ep(app_id, "e2", "SMS", "+819011111111", "User1"),
        _ep(app_id, "e3", "EMAIL", "test@example.com", "User1"),
        _ep(app_id, "e4", "EMAIL", "other@example.com", None),
    ]
    with store.begin() as conn:
        assert endpoint_store.upsert_many(conn, eps) == 4
    with store.connect() as conn:
        assert endpoint_store.get(conn, app_id, "e1") == eps[0]
        assert [e.id for e in endpoint_store.by_user(conn, app_id, "User1")] == ["e3", "e2", "e1"]
        assert endpoint_store.count_by_channel(conn, app_id) == {"VOICE": 1, "SMS": 1, "EMAIL": 2}


def test_upsert_replaces_fields_but_keeps_the_creation_date(store: Store) -> None:
    app_id = _app(store)
    first = _ep(app_id, "e1", "EMAIL", "a@example.com", "u")
    with store.begin() as conn:
        endpoint_store.upsert_many(conn, [first])
    later = replace(
        first,
        attributes={"CallStatus": ["COMPLETED"]},
        creation_date="2030-01-01T00:00:00.000Z",
        effective_date="2026-11-27T00:00:00.000Z",
    )
    with store.begin() as conn:
        endpoint_store.upsert_many(conn, [later])
    with store.connect() as conn:
        got = endpoint_store.get(conn, app_id, "e1")
    assert got.attributes == {"CallStatus": ["COMPLETED"]}
    assert got.creation_date == NOW
    assert got.effective_date == "2026-11-27T00:00:00.000Z"
    with store.connect() as conn:
        assert endpoint_store.count(conn, app_id) == 1


def test_applications_do_not_see_each_others_endpoints(store: Store) -> None:
    a = _app(store, "a")
    b = _app(store, "b")
    with store.begin() as conn:
        endpoint_store.upsert_many(conn, [_ep(a, "e1", "EMAIL", "x@example.com", "u")])
    with store.connect() as conn:
        with pytest.raises(NotFound):
            endpoint_store.get(conn, b, "e1")
        assert endpoint_store.by_user(conn, b, "u") == []


def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    app_id = _app(store)
    with pytest.raises(RuntimeError), store.begin() as conn:
        endpoint_store.upsert_many(conn, [_ep(app_id, "e1", "EMAIL", "x@example.com", "u")])
        raise RuntimeError("crash mid-batch")
    with store.connect() as conn:
        assert endpoint_store.count(conn, app_id) == 0


def test_deleting_an_application_deletes_its_endpoints(store: Store) -> None:
    app_id = _app(store)
    with store.begin() as conn:
        endpoint_store.upsert_many(conn, [_ep(app_id, "e1", "EMAIL", "x@example.com", "u")])
        app_store.delete_app(conn, "default")
    with store.connect() as conn:
        assert endpoint_store.count(conn, app_id) == 0
