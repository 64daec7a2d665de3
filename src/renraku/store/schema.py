"""The tables, as SQLAlchemy Core metadata. Migrations create them; this module only describes them.

Timestamps are ISO-8601 UTC strings (``2026-11-26T03:00:00.000Z``), Pinpoint's own format: they sort
as text and read the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# JSONB on PostgreSQL (indexable, containment operators), JSON text on SQLite.
Json = JSON().with_variant(JSONB(), "postgresql")

applications = Table(
    "applications",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("arn", String(512), nullable=False),
    Column("tags", Json, nullable=False),
    Column("creation_date", String(32), nullable=False),
    Index("ix_applications_name", "name"),
)

endpoints = Table(
    "endpoints",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("id", String(128), nullable=False),
    Column("channel_type", String(32), nullable=False),
    Column("address", String(512), nullable=False),
    Column("user_id", String(256)),
    Column("attributes", Json, nullable=False),
    Column("user_attributes", Json, nullable=False),
    Column("demographic", Json, nullable=False),
    Column("location", Json, nullable=False),
    Column("metrics", Json, nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("opt_out", String(8), nullable=False),
    Column("endpoint_status", String(16), nullable=False),
    Column("effective_date", String(32)),
    Column("creation_date", String(32), nullable=False),
    Column("cohort_id", String(16)),
    Column("request_id", String(128)),
    PrimaryKeyConstraint("app_id", "id"),
    ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    Index("ix_endpoints_user", "app_id", "user_id"),
    Index("ix_endpoints_channel", "app_id", "channel_type"),
    Index("ix_endpoints_address", "app_id", "address"),
)

segments = Table(
    "segments",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("id", String(64), nullable=False),
    Column("name", String(256), nullable=False),
    Column("segment_type", String(16), nullable=False),  # IMPORT | DIMENSIONAL
    Column("version", Integer, nullable=False),
    Column("definition", Json, nullable=False),  # Dimensions / SegmentGroups / ImportDefinition
    Column("tags", Json, nullable=False),
    Column("creation_date", String(32), nullable=False),
    Column("last_modified_date", String(32)),
    PrimaryKeyConstraint("app_id", "id"),
    ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    Index("ix_segments_name", "app_id", "name"),
)

segment_members = Table(
    "segment_members",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("segment_id", String(64), nullable=False),
    Column("endpoint_id", String(128), nullable=False),
    PrimaryKeyConstraint("app_id", "segment_id", "endpoint_id"),
    ForeignKeyConstraint(
        ["app_id", "segment_id"], ["segments.app_id", "segments.id"], ondelete="CASCADE"
    ),
)

import_jobs = Table(
    "import_jobs",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("id", String(64), nullable=False),
    Column("job_status", String(16), nullable=False),
    Column("definition", Json, nullable=False),
    Column("segment_id", String(64)),
    Column("total_processed", BigInteger, nullable=False),
    Column("total_failures", BigInteger, nullable=False),
    Column("total_pieces", Integer, nullable=False),
    Column("completed_pieces", Integer, nullable=False),
    Column("failed_pieces", Integer, nullable=False),
    # Resume point: the source piece and line the last committed batch ended at.
    Column("checkpoint", Json, nullable=False),
    Column("creation_date", String(32), nullable=False),
    Column("completion_date", String(32)),
    PrimaryKeyConstraint("app_id", "id"),
    ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
)

import_failures = Table(
    "import_failures",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("job_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("source", Text, nullable=False),
    Column("line", BigInteger),
    Column("column", String(256)),
    Column("value", Text),
    Column("reason", Text, nullable=False),
    PrimaryKeyConstraint("app_id", "job_id", "seq"),
    ForeignKeyConstraint(
        ["app_id", "job_id"], ["import_jobs.app_id", "import_jobs.id"], ondelete="CASCADE"
    ),
)

# Append-only: every step, send, delivery, call outcome and opt-out, readable as a timeline.
events = Table(
    "events",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("app_id", String(64), nullable=False),
    Column("occurred_at", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("user_id", String(256)),
    Column("endpoint_id", String(128)),
    Column("journey_id", String(64)),
    Column("activity_id", String(128)),
    Column("send_key", String(256)),
    Column("data", Json, nullable=False),
    ForeignKeyConstraint(["app_id"], ["applications.id"], ondelete="CASCADE"),
    Index("ix_events_user", "app_id", "user_id", "seq"),
    Index("ix_events_endpoint", "app_id", "endpoint_id", "seq"),
    Index("ix_events_journey", "app_id", "journey_id", "kind"),
    Index("ix_events_send", "send_key"),
)
