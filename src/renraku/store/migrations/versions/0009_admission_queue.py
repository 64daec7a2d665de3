"""The journey admission queue: a segment entry's participants not yet admitted.

Revision ID: 0009_admission_queue
Revises: 0003_journeys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_admission_queue"
down_revision = "0003_journeys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admission_queue",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("pkey", sa.String(300), nullable=False),
        sa.Column("user_id", sa.String(256)),
        sa.Column("endpoint_id", sa.String(128)),
        sa.PrimaryKeyConstraint("app_id", "journey_id", "pkey"),
        sa.ForeignKeyConstraint(
            ["app_id", "journey_id"], ["journeys.app_id", "journeys.id"], ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("admission_queue")
