"""Voice: contact flows with their versions, and call records.

Revision ID: 0005_voice
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005_voice"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("creation_date", sa.String(32), nullable=False),
        sa.Column("last_modified_date", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "id"),
        sa.ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("app_id", "name", name="uq_flows_name"),
    )
    op.create_table(
        "flow_versions",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("flow_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content", Json, nullable=False),
        sa.Column("creation_date", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "flow_id", "version"),
        sa.ForeignKeyConstraint(
            ["app_id", "flow_id"], ["flows.app_id", "flows.id"], ondelete="CASCADE"
        ),
    )
    op.create_table(
        "calls",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("send_key", sa.String(512)),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_call_id", sa.String(128)),
        sa.Column("flow_id", sa.String(64)),
        sa.Column("flow_version", sa.Integer),
        sa.Column("endpoint_id", sa.String(128)),
        sa.Column("user_id", sa.String(256)),
        sa.Column("journey_id", sa.String(64)),
        sa.Column("activity_id", sa.String(128)),
        sa.Column("customer_address", sa.String(64), nullable=False),
        sa.Column("system_address", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("digits", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("placed_at", sa.String(32), nullable=False),
        sa.Column("answered_at", sa.String(32)),
        sa.Column("ended_at", sa.String(32)),
        sa.Column("transcript", Json, nullable=False),
        sa.Column("attributes", Json, nullable=False),
        sa.Column("path", Json, nullable=False),
        sa.Column("state", Json, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "id"),
        sa.ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("send_key", name="uq_calls_send_key"),
    )
    op.create_index("ix_calls_contact", "calls", ["id"])
    op.create_index("ix_calls_provider", "calls", ["provider", "provider_call_id"])
    op.create_index("ix_calls_ended", "calls", ["ended_at"])
    op.create_index("ix_calls_placed", "calls", ["placed_at"])
    op.create_index("ix_calls_user", "calls", ["app_id", "user_id"])


def downgrade() -> None:
    op.drop_table("calls")
    op.drop_table("flow_versions")
    op.drop_table("flows")
