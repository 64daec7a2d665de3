"""Import jobs and their per-row failures (tables ``import_jobs`` and ``import_failures``).

A job's counters, checkpoint and new failures are written by :func:`record_batch` in the same
transaction as the batch's endpoints, so the job record always matches what was committed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from renraku.errors import NotFound
from renraku.importing.failures import Failure
from renraku.store.schema import import_failures, import_jobs

MAX_LISTED_FAILURES = 100
UNFINISHED = ("CREATED", "IN_PROGRESS")


def create_job(
    conn: Connection,
    app_id: str,
    job_id: str,
    *,
    definition: Mapping[str, Any],
    total_pieces: int,
    checkpoint: Mapping[str, Any],
    now: str,
) -> None:
    """Record a new job in state CREATED."""
    conn.execute(
        insert(import_jobs).values(
            app_id=app_id,
            id=job_id,
            job_status="CREATED",
            definition=dict(definition),
            segment_id=None,
            total_processed=0,
            total_failures=0,
            total_pieces=total_pieces,
            completed_pieces=0,
            failed_pieces=0,
            checkpoint=dict(checkpoint),
            creation_date=now,
            completion_date=None,
        )
    )


def _where(app_id: str, job_id: str) -> Any:
    return and_(import_jobs.c.app_id == app_id, import_jobs.c.id == job_id)


def get_row(conn: Connection, app_id: str, job_id: str) -> Any:
    row = conn.execute(select(import_jobs).where(_where(app_id, job_id))).first()
    if row is None:
        raise NotFound("import job", job_id)
    return row


def find_unfinished(conn: Connection, app_id: str, definition: Mapping[str, Any]) -> Any | None:
    """The newest unfinished job of ``app_id`` with this exact definition (to resume), if any."""
    rows = conn.execute(
        select(import_jobs)
        .where(and_(import_jobs.c.app_id == app_id, import_jobs.c.job_status.in_(UNFINISHED)))
        .order_by(import_jobs.c.creation_date.desc())
    )
    wanted = dict(definition)
    for row in rows:
        if dict(row.definition or {}) == wanted:
            return row
    return None


def add_failures(
    conn: Connection, app_id: str, job_id: str, first_seq: int, failures: Sequence[Failure]
) -> int:
    """Insert ``failures`` numbered from ``first_seq``; returns the next free number."""
    if not failures:
        return first_seq
    conn.execute(
        insert(import_failures),
        [
            {
                "app_id": app_id,
                "job_id": job_id,
                "seq": first_seq + i,
                "source": f.source,
                "line": f.line,
                "column": f.column,
                "value": f.value,
                "reason": f.reason,
            }
            for i, f in enumerate(failures)
        ],
    )
    return first_seq + len(failures)


def record_batch(
    conn: Connection,
    app_id: str,
    job_id: str,
    *,
    processed: int,
    failed_rows: int,
    checkpoint: Mapping[str, Any],
    segment_id: str | None,
    completed_pieces: int,
    failed_pieces: int,
) -> None:
    """Add a committed batch's counts to the job and move its checkpoint (job IN_PROGRESS)."""
    conn.execute(
        update(import_jobs)
        .where(_where(app_id, job_id))
        .values(
            job_status="IN_PROGRESS",
            total_processed=import_jobs.c.total_processed + processed,
            total_failures=import_jobs.c.total_failures + failed_rows,
            checkpoint=dict(checkpoint),
            segment_id=segment_id,
            completed_pieces=completed_pieces,
            failed_pieces=failed_pieces,
        )
    )


def finish(
    conn: Connection,
    app_id: str,
    job_id: str,
    *,
    status: str,
    now: str,
    definition: Mapping[str, Any] | None = None,
) -> None:
    """Mark the job COMPLETED or FAILED."""
    values: dict[str, Any] = {"job_status": status, "completion_date": now}
    if definition is not None:
        values["definition"] = dict(definition)
    conn.execute(update(import_jobs).where(_where(app_id, job_id)).values(**values))


def failures(
    conn: Connection, app_id: str, job_id: str, *, limit: int | None = None
) -> Iterator[Failure]:
    """The job's failures in the order they were found."""
    stmt = (
        select(import_failures)
        .where(and_(import_failures.c.app_id == app_id, import_failures.c.job_id == job_id))
        .order_by(import_failures.c.seq)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    for r in conn.execute(stmt):
        yield Failure(r.source, r.line, r.column, r.value, r.reason)


def to_response(conn: Connection, row: Any) -> dict[str, Any]:
    """Pinpoint's ImportJobResponse for a job row (Failures: the first 100, as readable lines)."""
    definition = dict(row.definition or {})
    if row.segment_id:
        definition["SegmentId"] = row.segment_id
    out: dict[str, Any] = {
        "ApplicationId": row.app_id,
        "Id": row.id,
        "JobStatus": row.job_status,
        "Type": "IMPORT",
        "CreationDate": row.creation_date,
        "Definition": definition,
        "TotalProcessed": int(row.total_processed),
        "TotalFailures": int(row.total_failures),
        "TotalPieces": int(row.total_pieces),
        "CompletedPieces": int(row.completed_pieces),
        "FailedPieces": int(row.failed_pieces),
        "Failures": [str(f) for f in failures(conn, row.app_id, row.id, limit=MAX_LISTED_FAILURES)],
    }
    if row.completion_date:
        out["CompletionDate"] = row.completion_date
    return out


def get(conn: Connection, app_id: str, job_id: str) -> dict[str, Any]:
    return to_response(conn, get_row(conn, app_id, job_id))


def list_jobs(conn: Connection, app_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """The newest jobs first (Pinpoint's GetImportJobs order)."""
    rows = conn.execute(
        select(import_jobs)
        .where(import_jobs.c.app_id == app_id)
        .order_by(import_jobs.c.creation_date.desc(), import_jobs.c.id)
        .limit(limit)
    ).all()
    return [to_response(conn, r) for r in rows]
