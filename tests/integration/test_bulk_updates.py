"""Bulk updates by key leave the rest of the transaction's planning alone (PostgreSQL).

The participant save pins its own plan to primary-key lookups; statements after it in the same
transaction, and the triggers they fire (the endpoint attribute index joins its old and new
transition tables), must still be free to hash-join, or they compare every row with every row.
"""

from __future__ import annotations

from sqlalchemy import text

from renraku.store import Store
from renraku.store.bulk import update_by_key
from renraku.store.schema import endpoints


def test_bulk_update_by_key_restores_join_settings_for_the_rest_of_the_transaction(
    pg_url: str,
) -> None:
    store = Store.open(pg_url)
    try:
        with store.begin() as conn:
            update_by_key(
                conn,
                endpoints,
                ("app_id", "id"),
                ("effective_date",),
                [{"app_id": "none", "id": "none", "effective_date": "2026-01-01T00:00:00.000Z"}],
            )
            assert conn.execute(text("SHOW enable_hashjoin")).scalar() == "on"
            assert conn.execute(text("SHOW enable_mergejoin")).scalar() == "on"
    finally:
        store.close()
