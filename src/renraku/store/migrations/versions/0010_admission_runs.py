"""Segment entries under way: where each one has got to in its admission queue.

Revision ID: 0010_admission_runs
Revises: 0009_admission_queue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_admission_runs"
down_revision = "0009_admission_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admission_runs",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("after", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "journey_id"),
        sa.ForeignKeyConstraint(
            ["app_id", "journey_id"], ["journeys.app_id", "journeys.id"], ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    op.drop_table("admission_runs")
