"""API keys for the HTTP API.

Revision ID: 0006_api
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_api"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("app_id", sa.String(64)),
        sa.Column("description", sa.String(256), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("secret_encrypted", sa.String(512), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32)),
        sa.ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_api_keys_app", "api_keys", ["app_id"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_app", table_name="api_keys")
    op.drop_table("api_keys")
