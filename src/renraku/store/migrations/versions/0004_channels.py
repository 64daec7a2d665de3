"""Channels: message templates, suppression list, rate buckets, webhook secrets, provider messages.

Revision ID: 0004_channels
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004_channels"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("template_type", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("parts", Json, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("tags", Json, nullable=False),
        sa.Column("creation_date", sa.String(32), nullable=False),
        sa.Column("last_modified_date", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "name", "template_type"),
        sa.ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "suppressions",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("address", sa.String(512), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "address"),
        sa.ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "rate_buckets",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "webhook_secrets",
        sa.Column("app_id", sa.String(64), primary_key=True),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "provider_messages",
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("message_id", sa.String(256), nullable=False),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(512), nullable=False),
        sa.Column("send_key", sa.String(256)),
        sa.Column("endpoint_id", sa.String(128)),
        sa.Column("user_id", sa.String(256)),
        sa.Column("journey_id", sa.String(64)),
        sa.Column("activity_id", sa.String(128)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("provider", "message_id"),
        sa.ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_provider_messages_send", "provider_messages", ["send_key"])


def downgrade() -> None:
    op.drop_index("ix_provider_messages_send", table_name="provider_messages")
    for name in (
        "provider_messages",
        "webhook_secrets",
        "rate_buckets",
        "suppressions",
        "templates",
    ):
        op.drop_table(name)
