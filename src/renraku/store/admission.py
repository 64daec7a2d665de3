"""Admission of participants into a journey, set-based: the entry queue and its statements.

A segment entry runs in two parts. :func:`enqueue` copies the segment's participants that may
enter (no participant row yet, or a finished one the re-entry rules let back in) into
``admission_queue`` with one ``INSERT ... SELECT`` over the segment's compiled SQL: that is the
entry's snapshot. :func:`admit_queued` then moves up to ``limit`` of them (in participant key
order) into ``participants``: finished ones are restarted by one ``UPDATE ... FROM``, new ones
inserted by one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` (a concurrent admission of the
same participant wins, and nobody enters twice), the ``journey.entered`` events of exactly the
rows written (``RETURNING``) appended in bulk, the queue rows deleted and the run's cursor
(``admission_runs``) moved past them, all in the caller's transaction. A crash between two chunks
leaves the queue holding exactly the participants not yet admitted, so the next run admits the
rest once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    ForeignKeyConstraint,
    PrimaryKeyConstraint,
    Select,
    String,
    Table,
    and_,
    case,
    delete,
    exists,
    literal,
    not_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from renraku.domain.endpoints import participant_key
from renraku.store import journey_events
from renraku.store.participants import participants
from renraku.store.schema import metadata

admission_queue = Table(
    "admission_queue",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("journey_id", String(64), nullable=False),
    Column("pkey", String(300), nullable=False),
    Column("user_id", String(256)),
    Column("endpoint_id", String(128)),
    PrimaryKeyConstraint("app_id", "journey_id", "pkey"),
    ForeignKeyConstraint(
        ["app_id", "journey_id"], ["journeys.app_id", "journeys.id"], ondelete="CASCADE"
    ),
)

admission_runs = Table(
    "admission_runs",
    metadata,
    Column("app_id", String(64), nullable=False),
    Column("journey_id", String(64), nullable=False),
    Column("after", String(300), nullable=False),
    PrimaryKeyConstraint("app_id", "journey_id"),
    ForeignKeyConstraint(
        ["app_id", "journey_id"], ["journeys.app_id", "journeys.id"], ondelete="CASCADE"
    ),
)

# Statuses a participant may re-enter from (a CANCELLED one never does).
REENTERABLE = ("FINISHED", "EXITED")


@dataclass(frozen=True, slots=True)
class Admission:
    """What an admission writes: the journey, its version and start activity, the instant, and
    the re-entry rules (``cap`` 0: no limit; ``finished_by``: only participants whose last
    activity is at or before this instant may re-enter, None: any)."""

    app_id: str
    journey_id: str
    version: int
    start: str
    now: str
    cap: int
    finished_by: str | None


def _insert_select(conn: Connection, table: Table, names: Sequence[str], query: Select[Any]) -> Any:
    ins = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return ins(table).from_select(list(names), query).on_conflict_do_nothing()


def may_reenter(a: Admission, p: Any = participants) -> ColumnElement[bool]:
    """The re-entry rules over a participants row ``p``: finished (not cancelled), under the cap,
    and finished long enough ago."""
    cond: ColumnElement[bool] = p.c.status.in_(REENTERABLE)
    if a.cap:
        cond = and_(cond, p.c.entry < a.cap)
    if a.finished_by is not None:
        cond = and_(cond, p.c.activity_at <= a.finished_by)
    return cond


def participant_columns(relation: Select[Any]) -> Select[Any]:
    """(pkey, user_id, endpoint_id) of the participants owning the endpoints of ``relation``
    (columns ``id``, ``user_id``), one row per participant: a user, else the endpoint alone
    (as ``renraku.domain.endpoints.participant_key``)."""
    s = relation.subquery("members")
    has_user = and_(s.c.user_id.is_not(None), s.c.user_id != "")
    pkey = case((has_user, literal("u:") + s.c.user_id), else_=literal("e:") + s.c.id)
    lone = case((has_user, literal(None, String)), else_=s.c.id)
    return select(pkey.label("pkey"), s.c.user_id, lone.label("endpoint_id")).distinct()


def enqueue(conn: Connection, a: Admission, relation: Select[Any]) -> None:
    """Start an entry run: queue the participants of ``relation`` (endpoint ``id``,
    ``user_id``) that may enter now (no participant row, or one that may re-enter), and record
    the run with its cursor before the first key."""
    m = participant_columns(relation).subquery("m")
    p = participants.alias("p")
    inside = exists(
        select(1).where(
            p.c.app_id == a.app_id,
            p.c.journey_id == a.journey_id,
            p.c.pkey == m.c.pkey,
            not_(may_reenter(a, p)),
        )
    )
    query = select(
        literal(a.app_id, String),
        literal(a.journey_id, String),
        m.c.pkey,
        m.c.user_id,
        m.c.endpoint_id,
    ).where(not_(inside))
    names = ("app_id", "journey_id", "pkey", "user_id", "endpoint_id")
    conn.execute(_insert_select(conn, admission_queue, names, query))
    conn.execute(admission_runs.insert().values(app_id=a.app_id, journey_id=a.journey_id, after=""))


def enqueue_pairs(
    conn: Connection, a: Admission, pairs: Sequence[tuple[str, str | None]]
) -> list[str]:
    """Queue the participants owning endpoints ``pairs`` (endpoint id, user id); their keys."""
    rows: dict[str, dict[str, Any]] = {}
    for endpoint_id, user_id in pairs:
        key = participant_key(endpoint_id, user_id)
        rows.setdefault(
            key,
            {
                "app_id": a.app_id,
                "journey_id": a.journey_id,
                "pkey": key,
                "user_id": user_id,
                "endpoint_id": None if user_id else endpoint_id,
            },
        )
    if rows:
        ins = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(ins(admission_queue).on_conflict_do_nothing(), list(rows.values()))
    return sorted(rows)


def cursor(conn: Connection, app_id: str, journey_id: str) -> str | None:
    """The key after which the journey's entry run continues; None: no run is under way."""
    found = conn.execute(
        select(admission_runs.c.after).where(_of(app_id, journey_id, admission_runs))
    ).scalar()
    return None if found is None else str(found)


def advance(conn: Connection, app_id: str, journey_id: str, last: str) -> None:
    """Everyone queued up to key ``last`` has been taken: continue after it."""
    conn.execute(
        update(admission_runs).where(_of(app_id, journey_id, admission_runs)).values(after=last)
    )


def finish(conn: Connection, app_id: str, journey_id: str) -> None:
    """End the journey's entry run: forget its cursor and anyone still queued."""
    conn.execute(delete(admission_runs).where(_of(app_id, journey_id, admission_runs)))
    conn.execute(delete(admission_queue).where(_of(app_id, journey_id)))


def _of(app_id: str, journey_id: str, q: Any = admission_queue) -> ColumnElement[bool]:
    return and_(q.c.app_id == app_id, q.c.journey_id == journey_id)


def chunk_end(conn: Connection, app_id: str, journey_id: str, after: str, limit: int) -> str | None:
    """The key ending the next ``limit`` queued participants after key ``after`` (None: fewer
    are left). Reading from the cursor, not from the queue's first key, keeps each step's index
    scans off the entries of the rows earlier steps deleted (dead until vacuumed)."""
    found = conn.execute(
        select(admission_queue.c.pkey)
        .where(_of(app_id, journey_id), admission_queue.c.pkey > after)
        .order_by(admission_queue.c.pkey)
        .offset(limit - 1)
        .limit(1)
    ).scalar()
    return None if found is None else str(found)


def _picked(
    a: Admission,
    q: Any,
    after: str | None,
    last: str | None,
    keys: Sequence[str] | None,
) -> ColumnElement[bool]:
    picked = _of(a.app_id, a.journey_id, q)
    if after is not None:
        picked = and_(picked, q.c.pkey > after)
    if last is not None:
        picked = and_(picked, q.c.pkey <= last)
    if keys is not None:
        picked = and_(picked, q.c.pkey.in_(list(keys)))
    return picked


def admit_queued(
    conn: Connection,
    a: Admission,
    *,
    after: str | None = None,
    last: str | None = None,
    keys: Sequence[str] | None = None,
) -> int:
    """Admit the queued participants of the journey with keys after ``after`` and up to
    ``last`` (None: no bound; ``keys``: exactly those), then take them off the queue. Returns
    how many entered."""
    q = admission_queue.alias("q")
    picked = _picked(a, q, after, last, keys)
    returned = (
        participants.c.pkey,
        participants.c.user_id,
        participants.c.endpoint_id,
        participants.c.entry,
    )
    again = conn.execute(
        update(participants)
        .where(
            participants.c.app_id == a.app_id,
            participants.c.journey_id == a.journey_id,
            participants.c.pkey == q.c.pkey,
            picked,
            may_reenter(a),
        )
        .values(
            version=a.version,
            entry=participants.c.entry + 1,
            activity_id=a.start,
            phase="enter",
            status="ACTIVE",
            wake_at=a.now,
            attempt=0,
            entered_at=a.now,
            activity_at=a.now,
            data={},
        )
        .returning(*returned)
    ).all()
    values: dict[str, Any] = {
        "app_id": literal(a.app_id, String),
        "journey_id": literal(a.journey_id, String),
        "pkey": q.c.pkey,
        "user_id": q.c.user_id,
        "endpoint_id": q.c.endpoint_id,
        "version": literal(a.version),
        "entry": literal(1),
        "activity_id": literal(a.start, String),
        "phase": literal("enter", String),
        "status": literal("ACTIVE", String),
        "wake_at": literal(a.now, String),
        "attempt": literal(0),
        "entered_at": literal(a.now, String),
        "activity_at": literal(a.now, String),
        "data": literal({}, participants.c.data.type),
    }
    fresh_rows = select(*values.values()).where(and_(true(), picked))
    names = list(values)
    fresh = conn.execute(
        _insert_select(conn, participants, names, fresh_rows).returning(*returned)
    ).all()
    conn.execute(delete(admission_queue).where(_picked(a, admission_queue, after, last, keys)))
    entered = [*again, *fresh]
    journey_events.append_many(
        conn,
        [
            {
                "app_id": a.app_id,
                "kind": "journey.entered",
                "occurred_at": a.now,
                "user_id": r.user_id,
                "endpoint_id": r.endpoint_id,
                "journey_id": a.journey_id,
                "activity_id": a.start,
                "data": {"Version": a.version, "Entry": r.entry},
            }
            for r in entered
        ],
    )
    return len(entered)


__all__ = [
    "Admission",
    "admission_queue",
    "admission_runs",
    "admit_queued",
    "advance",
    "chunk_end",
    "cursor",
    "enqueue",
    "enqueue_pairs",
    "finish",
    "may_reenter",
]
