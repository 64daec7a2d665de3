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
_INDEX_COLUMNS = "app_id, kind, name, value, channel_type, participant, endpoint_id"
_CHANGED = (
    "{o}.attributes IS {ne} {n}.attributes OR {o}.user_attributes IS {ne} {n}.user_attributes "
    "OR {o}.channel_type IS {ne} {n}.channel_type OR {o}.user_id IS {ne} {n}.user_id"
)
_TABLE = (
    "CREATE TABLE endpoint_attribute_index (app_id VARCHAR(64) NOT NULL, "
    "kind VARCHAR(1) NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, "
    "channel_type VARCHAR(32) NOT NULL, participant TEXT NOT NULL, "
    "endpoint_id VARCHAR(128) NOT NULL, "
    f"PRIMARY KEY ({_INDEX_COLUMNS}))"
)


def _sqlite_rows(r: str, kind: str, column: str, source: str = "") -> str:
    """The index rows of endpoint ``r`` (NEW, OLD, or a table alias given in ``source``)."""
    return (
        f"SELECT {r}.app_id, '{kind}', a.key, v.value, {r}.channel_type, "
        + _PARTICIPANT.format(r=r)
        + f", {r}.id FROM {source}json_each({r}.{column}) AS a, json_each(a.value) AS v "
        "WHERE a.type = 'array' AND v.type = 'text'"
    )


def _sqlite_index() -> None:
    op.execute(_TABLE + " WITHOUT ROWID")
    kinds = (("A", "attributes"), ("U", "user_attributes"))
    insert_new = " ".join(
        f"INSERT OR IGNORE INTO endpoint_attribute_index ({_INDEX_COLUMNS}) "
        + _sqlite_rows("NEW", kind, column)
        + ";"
        for kind, column in kinds
    )
    # Deleting the old rows by their full key needs no second index on the table.
    delete_old = " ".join(
        f"DELETE FROM endpoint_attribute_index WHERE ({_INDEX_COLUMNS}) IN ("
        + _sqlite_rows("OLD", kind, column)
        + ");"
        for kind, column in kinds
    )
    op.execute(
        "CREATE TRIGGER endpoint_attribute_index_insert AFTER INSERT ON endpoints "
        f"BEGIN {insert_new} END"
    )
    # Re-importing an unchanged endpoint leaves its index rows alone.
    op.execute(
        "CREATE TRIGGER endpoint_attribute_index_update AFTER UPDATE OF "
        "attributes, user_attributes, channel_type, user_id ON endpoints WHEN "
        + _CHANGED.format(o="OLD", n="NEW", ne="NOT")
        + f" BEGIN {delete_old} {insert_new} END"
    )
    op.execute(
        "CREATE TRIGGER endpoint_attribute_index_delete AFTER DELETE ON endpoints "
        f"BEGIN {delete_old} END"
    )
    for kind, column in kinds:
        op.execute(
            f"INSERT OR IGNORE INTO endpoint_attribute_index ({_INDEX_COLUMNS}) "
            + _sqlite_rows("e", kind, column, source="endpoints AS e, ")
        )


def _pg_rows(source: str) -> str:
    """The index rows of the endpoints in ``source`` (a table or a subquery)."""
    return (
        "SELECT DISTINCT r.app_id AS app_id, k.kind AS kind, a.key AS name, "
        "v.value #>> '{}' AS value, r.channel_type AS channel_type, "
        + _PARTICIPANT.format(r="r")
        + " AS participant, r.id AS endpoint_id "
        f"FROM {source} AS r "
        "CROSS JOIN LATERAL (VALUES ('A', r.attributes), ('U', r.user_attributes)) AS k(kind, doc) "
        "CROSS JOIN LATERAL jsonb_each(k.doc) AS a "
        "CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(a.value) = 'array' "
        "THEN a.value ELSE '[]'::jsonb END) AS v(value) "
        "WHERE jsonb_typeof(v.value) = 'string'"
    )


def _pg_insert(source: str) -> str:
    return (
        f"INSERT INTO endpoint_attribute_index ({_INDEX_COLUMNS}) "
        + _pg_rows(source)
        + " ON CONFLICT DO NOTHING;"
    )


def _pg_delete(source: str) -> str:
    keys = " AND ".join(f"x.{c} = d.{c}" for c in _INDEX_COLUMNS.split(", "))
    return f"DELETE FROM endpoint_attribute_index x USING ({_pg_rows(source)}) AS d WHERE {keys};"


def _pg_index() -> None:
    op.execute(_TABLE)
    changed = _CHANGED.format(o="o", n="n", ne="DISTINCT FROM")
    pair = "old_rows o JOIN new_rows n ON o.app_id = n.app_id AND o.id = n.id"
    bodies = {
        "insert": _pg_insert("new_rows"),
        "update": _pg_delete(f"(SELECT o.* FROM {pair} WHERE {changed})")
        + " "
        + _pg_insert(f"(SELECT n.* FROM {pair} WHERE {changed})"),
        "delete": _pg_delete("old_rows"),
    }
    tables = {
        "insert": "NEW TABLE AS new_rows",
        "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "OLD TABLE AS old_rows",
    }
    # Statement triggers with transition tables: one set-based write per statement, so bulk
    # imports (COPY then INSERT ... SELECT ... ON CONFLICT) pay no per-row trigger cost, and
    # re-imported endpoints whose attributes did not change are left alone.
    for event, body in bodies.items():
        op.execute(
            f"CREATE FUNCTION endpoint_attribute_index_{event}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER endpoint_attribute_index_{event} AFTER {event.upper()} ON endpoints "
            f"REFERENCING {tables[event]} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION endpoint_attribute_index_{event}()"
        )
    op.execute(_pg_insert("endpoints").rstrip(";"))


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
    # GPS ranges compile to a latitude band first (no trigonometry), which this index answers.
    op.create_index("ix_endpoints_latitude", "endpoints", ["app_id", "latitude"])
    if op.get_bind().dialect.name == "postgresql":
        _pg_index()
    else:
        _sqlite_index()


def downgrade() -> None:
    for trigger in ("insert", "update", "delete"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER endpoint_attribute_index_{trigger} ON endpoints")
        else:
            op.execute(f"DROP TRIGGER endpoint_attribute_index_{trigger}")
    op.drop_table("endpoint_attribute_index")
    if op.get_bind().dialect.name == "postgresql":
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP FUNCTION endpoint_attribute_index_{trigger}()")
    op.drop_index("ix_endpoints_latitude", table_name="endpoints")
    op.drop_table("segment_versions")
