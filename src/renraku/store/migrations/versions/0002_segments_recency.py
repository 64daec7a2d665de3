"""Segments: an index on (application, EffectiveDate) that also holds the endpoint id.

A block such as ``Attributes.CallStatus = COMPLETED and Behavior.Recency active within DAY_7``
intersects the endpoints listed in the attribute index with those active since the cut-off,
both read from narrow indexes alone, and looks up only the endpoints in both (see
``renraku.store.segment_sql``), instead of every endpoint with the attribute.

Revision ID: 0002_segments_recency
Revises: 0002_segments
"""

from __future__ import annotations

from alembic import op

revision = "0002_segments_recency"
down_revision = "0002_segments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_endpoints_effective", "endpoints", ["app_id", "effective_date", "id"])


def downgrade() -> None:
    op.drop_index("ix_endpoints_effective", table_name="endpoints")
