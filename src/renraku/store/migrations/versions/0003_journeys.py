"""Journeys: definitions and versions, participants, the send ledger, clock, rate buckets and the
recording transport's tables.

Revision ID: 0003_journeys
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003_journeys"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "journeys",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", Json, nullable=False),
        sa.Column("tags", Json, nullable=False),
        sa.Column("creation_date", sa.String(32), nullable=False),
        sa.Column("last_modified_date", sa.String(32), nullable=False),
        sa.Column("next_entry_at", sa.String(32)),
        sa.Column("entry_runs", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("app_id", "id"),
        sa.ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_journeys_state", "journeys", ["state", "next_entry_at"])
    op.create_table(
        "journey_versions",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", Json, nullable=False),
        sa.Column("creation_date", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "journey_id", "version"),
        sa.ForeignKeyConstraint(
            ["app_id", "journey_id"], ["journeys.app_id", "journeys.id"], ondelete="CASCADE"
        ),
    )
    op.create_table(
        "participants",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("pkey", sa.String(300), nullable=False),
        sa.Column("user_id", sa.String(256)),
        sa.Column("endpoint_id", sa.String(128)),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("entry", sa.Integer, nullable=False),
        sa.Column("activity_id", sa.String(128)),
        sa.Column("phase", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("wake_at", sa.String(32)),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("entered_at", sa.String(32), nullable=False),
        sa.Column("activity_at", sa.String(32), nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.PrimaryKeyConstraint("app_id", "journey_id", "pkey"),
        sa.ForeignKeyConstraint(
            ["app_id", "journey_id"], ["journeys.app_id", "journeys.id"], ondelete="CASCADE"
        ),
    )
    op.create_index(
        "ix_participants_due",
        "participants",
        ["wake_at"],
        postgresql_where=sa.text("status = 'ACTIVE'"),
        sqlite_where=sa.text("status = 'ACTIVE'"),
    )
    op.create_index("ix_participants_journey", "participants", ["app_id", "journey_id", "status"])
    op.create_index("ix_participants_user", "participants", ["app_id", "user_id"])
    op.create_table(
        "sends",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("pkey", sa.String(300), nullable=False),
        sa.Column("user_id", sa.String(256)),
        sa.Column("activity_id", sa.String(128), nullable=False),
        sa.Column("endpoint_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("tries", sa.Integer, nullable=False),
        sa.Column("lease_until", sa.Float),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("settled_at", sa.String(32)),
        sa.Column("provider", sa.String(64)),
        sa.Column("provider_message_id", sa.String(256)),
        sa.Column("reason", sa.Text),
        sa.Column("payload", Json, nullable=False),
    )
    op.create_index("ix_sends_open", "sends", ["status", "lease_until"])
    op.create_index("ix_sends_user", "sends", ["app_id", "user_id", "channel", "created_at"])
    op.create_index("ix_sends_participant", "sends", ["app_id", "journey_id", "pkey"])
    op.create_table(
        "clock_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("now", sa.String(32), nullable=False),
        sa.Column("data", Json, nullable=False),
    )
    op.create_table(
        "journey_rate_buckets",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "recorded_deliveries",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(512), nullable=False),
        sa.Column("endpoint_id", sa.String(128), nullable=False),
        sa.Column("template", sa.String(256)),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("data", Json, nullable=False),
    )
    op.create_index("ix_recorded_deliveries_key", "recorded_deliveries", ["key"])
    op.create_table(
        "recording_call_scripts",
        sa.Column("address", sa.String(512), primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("digits", sa.String(32), nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "recording_call_scripts",
        "recorded_deliveries",
        "journey_rate_buckets",
        "clock_state",
        "sends",
        "participants",
        "journey_versions",
        "journeys",
    ):
        op.drop_table(table)
