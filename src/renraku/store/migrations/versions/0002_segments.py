"""Segments: every version of a segment's definition, and the indexes dimensional segments use.

Revision ID: 0002_segments
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002_segments"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "segment_versions",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("segment_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("segment_type", sa.String(16), nullable=False),
        sa.Column("definition", Json, nullable=False),
        sa.Column("creation_date", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "segment_id", "version"),
        sa.ForeignKeyConstraint(
            ["app_id", "segment_id"], ["segments.app_id", "segments.id"], ondelete="CASCADE"
        ),
    )
    # Segments that existed before versions were kept start their history at their version.
    op.execute(
        "INSERT INTO segment_versions "
        "(app_id, segment_id, version, name, segment_type, definition, creation_date) "
        "SELECT app_id, id, version, name, segment_type, definition, "
        "COALESCE(last_modified_date, creation_date) FROM segments"
    )
    op.create_index("ix_segment_members_endpoint", "segment_members", ["app_id", "endpoint_id"])
    if op.get_bind().dialect.name == "postgresql":
        # Attribute INCLUSIVE/EXCLUSIVE compile to containment (@>), which this index answers.
        op.execute(
            "CREATE INDEX ix_endpoints_attributes ON endpoints USING gin (attributes jsonb_path_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_endpoints_attributes")
    op.drop_index("ix_segment_members_endpoint", table_name="segment_members")
    op.drop_table("segment_versions")
