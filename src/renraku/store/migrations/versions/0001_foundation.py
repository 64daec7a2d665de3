"""Foundation: applications, endpoints, segments, segment members, import jobs and failures.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("arn", sa.String(512), nullable=False),
        sa.Column("tags", Json, nullable=False),
        sa.Column("creation_date", sa.String(32), nullable=False),
    )
    op.create_index("ix_applications_name", "applications", ["name"])
    op.create_table(
        "endpoints",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("channel_type", sa.String(32), nullable=False),
        sa.Column("address", sa.String(512), nullable=False),
        sa.Column("user_id", sa.String(256)),
        sa.Column("attributes", Json, nullable=False),
        sa.Column("user_attributes", Json, nullable=False),
        sa.Column("demographic", Json, nullable=False),
        sa.Column("location", Json, nullable=False),
        sa.Column("metrics", Json, nullable=False),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("opt_out", sa.String(8), nullable=False),
        sa.Column("endpoint_status", sa.String(16), nullable=False),
        sa.Column("effective_date", sa.String(32)),
        sa.Column("creation_date", sa.String(32), nullable=False),
        sa.Column("cohort_id", sa.String(16)),
        sa.Column("request_id", sa.String(128)),
        sa.PrimaryKeyConstraint("app_id", "id"),
        sa.ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_endpoints_user", "endpoints", ["app_id", "user_id"])
    op.create_index("ix_endpoints_channel", "endpoints", ["app_id", "channel_type"])
    op.create_index("ix_endpoints_address", "endpoints", ["app_id", "address"])
    op.create_table(
        "segments",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("segment_type", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", Json, nullable=False),
        sa.Column("tags", Json, nullable=False),
        sa.Column("creation_date", sa.String(32), nullable=False),
        sa.Column("last_modified_date", sa.String(32)),
        sa.PrimaryKeyConstraint("app_id", "id"),
        sa.ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_segments_name", "segments", ["app_id", "name"])
    op.create_table(
        "segment_members",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("segment_id", sa.String(64), nullable=False),
        sa.Column("endpoint_id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "segment_id", "endpoint_id"),
        sa.ForeignKeyConstraint(
            ["app_id", "segment_id"], ["segments.app_id", "segments.id"], ondelete="CASCADE"
        ),
    )
    op.create_table(
        "import_jobs",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("job_status", sa.String(16), nullable=False),
        sa.Column("definition", Json, nullable=False),
        sa.Column("segment_id", sa.String(64)),
        sa.Column("total_processed", sa.BigInteger, nullable=False),
        sa.Column("total_failures", sa.BigInteger, nullable=False),
        sa.Column("total_pieces", sa.Integer, nullable=False),
        sa.Column("completed_pieces", sa.Integer, nullable=False),
        sa.Column("failed_pieces", sa.Integer, nullable=False),
        sa.Column("checkpoint", Json, nullable=False),
        sa.Column("creation_date", sa.String(32), nullable=False),
        sa.Column("completion_date", sa.String(32)),
        sa.PrimaryKeyConstraint("app_id", "id"),
        sa.ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "import_failures",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("line", sa.BigInteger),
        sa.Column("column", sa.String(256)),
        sa.Column("value", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "job_id", "seq"),
        sa.ForeignKeyConstraint(
            ["app_id", "job_id"], ["import_jobs.app_id", "import_jobs.id"], ondelete="CASCADE"
        ),
    )

    op.create_table(
        "events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(256)),
        sa.Column("endpoint_id", sa.String(128)),
        sa.Column("journey_id", sa.String(64)),
        sa.Column("activity_id", sa.String(128)),
        sa.Column("send_key", sa.String(256)),
        sa.Column("data", Json, nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_events_user", "events", ["app_id", "user_id", "seq"])
    op.create_index("ix_events_endpoint", "events", ["app_id", "endpoint_id", "seq"])
    op.create_index("ix_events_journey", "events", ["app_id", "journey_id", "kind"])
    op.create_index("ix_events_send", "events", ["send_key"])


def downgrade() -> None:
    for table in (
        "events",
        "import_failures",
        "import_jobs",
        "segment_members",
        "segments",
        "endpoints",
        "applications",
    ):
        op.drop_table(table)
