"""Imports: ``ix_endpoints_latitude`` holds only endpoints that have a latitude.

The index serves one query: a GPS range compiles to ``latitude IS NOT NULL AND latitude BETWEEN
...`` (``renraku.store.segment_sql``), which a partial index on ``latitude IS NOT NULL`` answers
as before on both databases. Endpoints without a position (most imported customer lists have
none) no longer add an index entry each when written.

Revision ID: 0009_import_latitude_partial
Revises: 0009_import_index_insert
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_import_latitude_partial"
down_revision = "0009_import_index_insert"
branch_labels = None
depends_on = None

_HAS_LATITUDE = sa.text("latitude IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_endpoints_latitude", table_name="endpoints")
    op.create_index(
        "ix_endpoints_latitude",
        "endpoints",
        ["app_id", "latitude"],
        postgresql_where=_HAS_LATITUDE,
        sqlite_where=_HAS_LATITUDE,
    )


def downgrade() -> None:
    op.drop_index("ix_endpoints_latitude", table_name="endpoints")
    op.create_index("ix_endpoints_latitude", "endpoints", ["app_id", "latitude"])
