"""Segments: every version of a segment's definition, and the indexes dimensional segments use.

``endpoint_attribute_index`` holds one row per (endpoint, attribute, value) with the endpoint's
channel and participant, kept current by triggers on ``endpoints`` (row triggers on SQLite,
statement triggers with transition tables on PostgreSQL). Counting or listing a segment made of
channel and attribute conditions (the seed's ``ChannelType = EMAIL and Attributes.CallStatus =
PENDING``) reads this narrow index alone instead of every wide endpoint row.

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


_PARTICIPANT = "CASE WHEN {r}.user_id IS NOT NULL THEN 'u:' || {r}.user_id ELSE 'e:' || {r}.id END"

_SQLITE_ROWS = (
    "SELECT {r}.app_id, '{kind}', a.key, v.value, {r}.channel_type, "
    + _PARTICIPANT
    + ", {r}.id FROM json_each({r}.{column}) AS a, json_each(a.value) AS v "
    "WHERE a.type = 'array' AND v.type = 'text'"
)

_PG_ROWS = (
    "SELECT DISTINCT {r}.app_id, k.kind, a.key, v.value #>> '{{}}', {r}.channel_type, "
    + _PARTICIPANT
    + ", {r}.id FROM {source} AS {r} "
    "CROSS JOIN LATERAL (VALUES ('A', {r}.attributes), ('U', {r}.user_attributes)) AS k(kind, doc) "
    "CROSS JOIN LATERAL jsonb_each(k.doc) AS a "
    "CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(a.value) = 'array' "
    "THEN a.value ELSE '[]'::jsonb END) AS v(value) "
    "WHERE jsonb_typeof(v.value) = 'string'"
)

_INDEX_COLUMNS = "app_id, kind, name, value, channel_type, participant, endpoint_id"


def _sqlite_index() -> None:
    op.execute(
        "CREATE TABLE endpoint_attribute_index (app_id VARCHAR(64) NOT NULL, "
        "kind VARCHAR(1) NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, "
        "channel_type VARCHAR(32) NOT NULL, participant TEXT NOT NULL, "
        "endpoint_id VARCHAR(128) NOT NULL, "
        f"PRIMARY KEY ({_INDEX_COLUMNS})) WITHOUT ROWID"
    )
    insert_new = " ".join(
        f"INSERT OR IGNORE INTO endpoint_attribute_index ({_INDEX_COLUMNS}) "
        + _SQLITE_ROWS.format(r="NEW", kind=kind, column=column)
        + ";"
        for kind, column in (("A", "attributes"), ("U", "user_attributes"))
    )
    delete_old = (
        "DELETE FROM endpoint_attribute_index WHERE app_id = OLD.app_id AND endpoint_id = OLD.id;"
    )
    op.execute(
        "CREATE TRIGGER endpoint_attribute_index_insert AFTER INSERT ON endpoints "
        f"BEGIN {insert_new} END"
    )
    op.execute(
        "CREATE TRIGGER endpoint_attribute_index_update AFTER UPDATE OF "
        "attributes, user_attributes, channel_type, user_id ON endpoints "
        f"BEGIN {delete_old} {insert_new} END"
    )
    op.execute(
        "CREATE TRIGGER endpoint_attribute_index_delete AFTER DELETE ON endpoints "
        f"BEGIN {delete_old} END"
    )
    for kind, column in (("A", "attributes"), ("U", "user_attributes")):
        op.execute(
            f"INSERT OR IGNORE INTO endpoint_attribute_index ({_INDEX_COLUMNS}) "
            + _SQLITE_ROWS.format(r="e", kind=kind, column=column).replace(
                "FROM json_each", "FROM endpoints AS e, json_each"
            )
        )


def _pg_index() -> None:
    op.execute(
        "CREATE TABLE endpoint_attribute_index (app_id VARCHAR(64) NOT NULL, "
        "kind VARCHAR(1) NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, "
        "channel_type VARCHAR(32) NOT NULL, participant TEXT NOT NULL, "
        "endpoint_id VARCHAR(128) NOT NULL, "
        f"PRIMARY KEY ({_INDEX_COLUMNS}))"
    )
    # Statement triggers with transition tables: one set-based write per statement, so bulk
    # imports (COPY then INSERT ... SELECT) pay no per-row trigger cost.
    op.execute(
        "CREATE FUNCTION endpoint_attribute_index_sync() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF TG_OP IN ('UPDATE', 'DELETE') THEN "
        "DELETE FROM endpoint_attribute_index x USING old_rows o "
        "WHERE x.app_id = o.app_id AND x.endpoint_id = o.id; "
        "END IF; "
        "IF TG_OP IN ('INSERT', 'UPDATE') THEN "
        f"INSERT INTO endpoint_attribute_index ({_INDEX_COLUMNS}) "
        + _PG_ROWS.format(r="n", source="new_rows")
        + " ON CONFLICT DO NOTHING; "
        "END IF; "
        "RETURN NULL; "
        "END $$"
    )
    op.execute(
        "CREATE TRIGGER endpoint_attribute_index_insert AFTER INSERT ON endpoints "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION endpoint_attribute_index_sync()"
    )
    op.execute(
        "CREATE TRIGGER endpoint_attribute_index_update AFTER UPDATE ON endpoints "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION endpoint_attribute_index_sync()"
    )
    op.execute(
        "CREATE TRIGGER endpoint_attribute_index_delete AFTER DELETE ON endpoints "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION endpoint_attribute_index_sync()"
    )
    op.execute(
        f"INSERT INTO endpoint_attribute_index ({_INDEX_COLUMNS}) "
        + _PG_ROWS.format(r="e", source="endpoints")
        + " ON CONFLICT DO NOTHING"
    )


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
    # GPS ranges compile to a latitude band first (no trigonometry), which this index answers.
    op.create_index("ix_endpoints_latitude", "endpoints", ["app_id", "latitude"])
    if op.get_bind().dialect.name == "postgresql":
        _pg_index()
    else:
        _sqlite_index()
    # Finding an endpoint's rows (trigger maintenance, further conditions on one endpoint).
    op.create_index(
        "ix_endpoint_attribute_index_endpoint",
        "endpoint_attribute_index",
        ["app_id", "endpoint_id", "kind", "name", "value"],
    )


def downgrade() -> None:
    for trigger in ("insert", "update", "delete"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER endpoint_attribute_index_{trigger} ON endpoints")
        else:
            op.execute(f"DROP TRIGGER endpoint_attribute_index_{trigger}")
    op.drop_table("endpoint_attribute_index")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION endpoint_attribute_index_sync()")
    op.drop_index("ix_endpoints_latitude", table_name="endpoints")
    op.drop_index("ix_segment_members_endpoint", table_name="segment_members")
    op.drop_table("segment_versions")
