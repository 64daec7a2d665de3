"""Provider callbacks already applied (replays change nothing).

Revision ID: 0008_webhook_receipts
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_webhook_receipts"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_receipts",
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("source", "key"),
    )
    op.create_index("ix_webhook_receipts_received", "webhook_receipts", ["source", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_receipts_received", table_name="webhook_receipts")
    op.drop_table("webhook_receipts")
