"""Imports: the attribute index's insert trigger writes its rows without ``ON CONFLICT``.

The statement trigger of ``endpoints`` inserts the index rows of the endpoints a statement
inserted (migration 0002_segments). Those endpoints did not exist before the statement, and the
delete trigger removes an endpoint's rows with it, so none of their index rows can exist: the
rows (``SELECT DISTINCT``, unique among themselves) go in with a plain ``INSERT``. ``ON CONFLICT
DO NOTHING`` made PostgreSQL insert each row speculatively (a check of the key first, an extra WAL
record after), about a fifth of the backend's time per imported endpoint. A row that did exist
would now fail the statement instead of being skipped: an index out of step with its endpoints
is an error to see, not to hide. The update trigger, which deletes before it inserts, and SQLite
(row triggers, ``INSERT OR IGNORE``) are unchanged.

Revision ID: 0009_import_index_insert
Revises: 0002_segments_recency
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0009_import_index_insert"
down_revision = "0002_segments_recency"
branch_labels = None
depends_on = None

_BASE = importlib.import_module("renraku.store.migrations.versions.0002_segments")


def _replace_insert_function(body: str) -> None:
    op.execute(
        "CREATE OR REPLACE FUNCTION endpoint_attribute_index_insert() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace_insert_function(
        f"INSERT INTO endpoint_attribute_index ({_BASE._INDEX_COLUMNS}) "
        + _BASE._pg_rows("new_rows")
        + ";"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _replace_insert_function(_BASE._pg_insert("new_rows"))
