"""The import use case: a source (path, file:// or s3://) -> endpoints, an imported segment, a job.

Contract:
- Every piece is opened and its header checked before anything is written; a source that cannot be
  read at all records a FAILED job, writes no endpoint and raises ImportRejected.
- Rows stream in batches. Each batch (endpoints, segment members, failures and the job's counters
  and checkpoint) commits in one transaction, so an interrupted import never leaves half a batch.
- Running the same import again (same source, format, segment, encoding and region) resumes the
  unfinished job after its last committed batch; endpoint ids are stable, so nothing duplicates.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renraku.app import App
from renraku.engine import entry
from renraku.errors import ImportRejected, InvalidInput, Problem
from renraku.importing.failures import Failure
from renraku.importing.pipeline import (
    RowFormat,
    ValidatedBatch,
    default_workers,
    validated_batches,
)
from renraku.importing.readers import Reader, open_reader
from renraku.importing.rows import RowContext
from renraku.importing.sources import Piece, resolve_pieces
from renraku.store import endpoints as endpoint_store
from renraku.store import imports as job_store
from renraku.store import segments as segment_store

FORMATS = ("CSV", "JSON")


@dataclass(frozen=True)
class ImportOptions:
    """What to import and how (mirrors Pinpoint's ImportJobRequest, plus encoding and region)."""

    source: str
    format: str | None = None
    segment_name: str | None = None
    define_segment: bool = True
    encoding: str | None = None
    default_region: str | None = None
    batch_size: int | None = None
    workers: int | None = None  # validation worker processes; None: chosen by file size
    role_arn: str | None = None  # Pinpoint's RoleArn / ExternalId, kept in the job's Definition
    external_id: str | None = None


@dataclass
class Progress:
    """Where a running import is; handed to the progress callback after every batch."""

    piece: str = ""
    piece_index: int = 0
    pieces: int = 0
    bytes_done: int = 0
    bytes_total: int | None = None
    processed: int = 0
    failures: int = 0


ProgressFn = Callable[[Progress], None]


def source_url(source: str) -> str:
    """The job's S3Url: s3:// kept, local paths as absolute ``file://`` URLs."""
    if source.startswith("s3://"):
        return source
    if source.startswith("file://"):
        return source
    return Path(source).resolve().as_uri()


def default_segment_name(source: str) -> str:
    """The file (or prefix) name the segment is named after."""
    name = Path(source.rstrip("/").split("://", 1)[-1]).name
    return name or source


def _format_of(piece: Piece, fmt: str | None) -> str:
    return fmt or piece.suffix_format or "CSV"


def _definition(options: ImportOptions, fmt: str | None, region: str | None) -> dict[str, Any]:
    segment_name = options.segment_name or default_segment_name(options.source)
    return {
        "S3Url": source_url(options.source),
        "Format": fmt or "CSV",
        "DefineSegment": options.define_segment,
        "SegmentName": segment_name if options.define_segment else None,
        "RegisterEndpoints": True,
        "ExternalId": options.external_id,
        "RoleArn": options.role_arn,
        "Encoding": options.encoding,
        "DefaultRegion": region,
    }


def _checked_format(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    upper = fmt.strip().upper()
    upper = "JSON" if upper in ("JSONL", "NDJSON") else upper
    if upper not in FORMATS:
        raise InvalidInput([Problem("--format", f"{fmt!r}: use csv or json")], subject="import")
    return upper


def _fail_job(app: App, app_id: str, definition: dict[str, Any], exc: ImportRejected) -> None:
    """Record a job that failed before any row was written."""
    job_id = uuid.uuid4().hex
    now = app.now_iso()
    with app.store.begin() as conn:
        job_store.create_job(
            conn, app_id, job_id, definition=definition, total_pieces=0, checkpoint={}, now=now
        )
        job_store.add_failures(
            conn,
            app_id,
            job_id,
            0,
            [Failure(p.path, None, None, None, p.message) for p in exc.problems],
        )
        job_store.finish(conn, app_id, job_id, status="FAILED", now=now)


def _preflight(pieces: list[Piece], fmt: str | None, encoding: str | None) -> Reader:
    """Open every piece once to check it can be read; returns the first one, still open."""
    first = open_reader(pieces[0], _format_of(pieces[0], fmt), encoding)
    try:
        for piece in pieces[1:]:
            open_reader(piece, _format_of(piece, fmt), encoding).close()
    except BaseException:
        first.close()
        raise
    return first


def run_import(
    app: App, app_id: str, options: ImportOptions, *, progress: ProgressFn | None = None
) -> dict[str, Any]:
    """Import ``options.source`` into ``app_id``; returns the ImportJobResponse."""
    fmt = _checked_format(options.format)
    region = options.default_region or app.settings.imports.default_region
    batch_size = options.batch_size or app.settings.imports.batch_size
    definition = _definition(options, fmt, region)
    try:
        pieces = resolve_pieces(options.source, fmt)
        first_reader = _preflight(pieces, fmt, options.encoding)
    except ImportRejected as exc:
        _fail_job(app, app_id, definition, exc)
        raise
    definition["Format"] = _format_of(pieces[0], fmt)
    versions = [p.version for p in pieces]
    now = app.now_iso()
    with app.store.begin() as conn:
        job_row = job_store.find_unfinished(conn, app_id, definition)
        if job_row is not None and (job_row.checkpoint or {}).get("versions") != versions:
            job_store.finish(conn, app_id, job_row.id, status="FAILED", now=now)
            job_row = None
        if job_row is None:
            job_id = uuid.uuid4().hex
            checkpoint: dict[str, Any] = {
                "versions": versions,
                "piece": 0,
                "records": 0,
                "failure_seq": 0,
                "completed": 0,
                "failed": 0,
            }
            job_store.create_job(
                conn,
                app_id,
                job_id,
                definition=definition,
                total_pieces=len(pieces),
                checkpoint=checkpoint,
                now=now,
            )
            segment_id: str | None = None
        else:
            job_id = job_row.id
            checkpoint = dict(job_row.checkpoint)
            segment_id = job_row.segment_id
    runner = _Runner(
        app=app,
        app_id=app_id,
        job_id=job_id,
        definition=definition,
        checkpoint=checkpoint,
        segment_id=segment_id,
        batch_size=batch_size,
        region=region,
        now=now,
        progress=progress,
        state=Progress(pieces=len(pieces)),
        workers=options.workers,
    )
    runner.run(pieces, first_reader, fmt, options.encoding)
    with app.store.connect() as conn:
        return job_store.get(conn, app_id, job_id)


@dataclass
class _Runner:
    app: App
    app_id: str
    job_id: str
    definition: dict[str, Any]
    checkpoint: dict[str, Any]
    segment_id: str | None
    batch_size: int
    region: str | None
    now: str
    progress: ProgressFn | None
    state: Progress
    workers: int | None = None

    def run(
        self, pieces: list[Piece], first: Reader, fmt: str | None, encoding: str | None
    ) -> None:
        start_piece = int(self.checkpoint["piece"])
        total = sum(p.size or 0 for p in pieces)
        self.state.bytes_total = total or None
        done_bytes = sum(p.size or 0 for p in pieces[:start_piece])
        try:
            for index in range(start_piece, len(pieces)):
                piece = pieces[index]
                skip = int(self.checkpoint["records"]) if index == start_piece else 0
                self.state.piece, self.state.piece_index = piece.name, index
                try:
                    reader = (
                        first
                        if index == 0
                        else open_reader(piece, _format_of(piece, fmt), encoding)
                    )
                    try:
                        self._piece(reader, index, skip, done_bytes)
                    finally:
                        reader.close()
                except (OSError, ImportRejected) as exc:
                    # A piece that became unreadable after the check: the others still import.
                    self._piece_failed(index, piece, exc)
                done_bytes += piece.size or 0
        finally:
            first.close()
        self._complete()

    def _piece(self, reader: Reader, index: int, skip: int, done_bytes: int) -> None:
        ctx = RowContext(self.app_id, reader.piece.name, self.region, self.now)
        notes = list(reader.notes) if skip == 0 else []
        workers = self.workers if self.workers is not None else default_workers(reader.piece.size)
        row_format = RowFormat(endpoint_store.COLUMNS, endpoint_store.JSON_COLUMNS)
        batches = validated_batches(
            reader, ctx, row_format, batch_size=self.batch_size, skip=skip, workers=workers
        )
        pending: ValidatedBatch | None = None
        for batch in batches:
            # Flush one batch behind, so the last flush knows the piece is done.
            if pending is not None:
                self._flush(pending, index, piece_done=False, notes=notes)
                notes = []
                self.state.bytes_done = done_bytes + pending.bytes_read
                self._report()
            pending = batch
        if pending is None:
            pending = ValidatedBatch(consumed=skip)
        self._flush(pending, index, piece_done=True, notes=notes)
        self.state.bytes_done = done_bytes + (reader.piece.size or pending.bytes_read)
        self._report()

    def _flush(
        self, batch: ValidatedBatch, index: int, *, piece_done: bool, notes: list[Failure]
    ) -> None:
        checkpoint = dict(self.checkpoint)
        if piece_done:
            checkpoint.update(piece=index + 1, records=0, completed=checkpoint["completed"] + 1)
        else:
            checkpoint.update(piece=index, records=batch.consumed)
        with self.app.store.begin() as conn:
            if self.segment_id is None and self.definition["DefineSegment"]:
                self.segment_id = segment_store.import_segment_for(
                    conn,
                    self.app_id,
                    str(self.definition["SegmentName"]),
                    now=self.now,
                    import_definition=self._import_definition(),
                )
            endpoint_store.upsert_driver_tuples(conn, batch.rows, segment_id=self.segment_id)
            checkpoint["failure_seq"] = job_store.add_failures(
                conn,
                self.app_id,
                self.job_id,
                int(checkpoint["failure_seq"]),
                notes + batch.failures,
            )
            job_store.record_batch(
                conn,
                self.app_id,
                self.job_id,
                processed=batch.processed,
                failed_rows=batch.failed_rows,
                checkpoint=checkpoint,
                segment_id=self.segment_id,
                completed_pieces=int(checkpoint["completed"]),
                failed_pieces=int(checkpoint["failed"]),
            )
        self.checkpoint = checkpoint
        self.state.processed += batch.processed
        self.state.failures += batch.failed_rows

    def _piece_failed(self, index: int, piece: Piece, exc: Exception) -> None:
        checkpoint = dict(self.checkpoint)
        checkpoint.update(piece=index + 1, records=0, failed=checkpoint["failed"] + 1)
        failure = Failure(piece.name, None, None, None, f"reading stopped: {exc}")
        with self.app.store.begin() as conn:
            checkpoint["failure_seq"] = job_store.add_failures(
                conn, self.app_id, self.job_id, int(checkpoint["failure_seq"]), [failure]
            )
            job_store.record_batch(
                conn,
                self.app_id,
                self.job_id,
                processed=0,
                failed_rows=0,
                checkpoint=checkpoint,
                segment_id=self.segment_id,
                completed_pieces=int(checkpoint["completed"]),
                failed_pieces=int(checkpoint["failed"]),
            )
        self.checkpoint = checkpoint

    def _import_definition(self) -> dict[str, Any]:
        return {
            "ExternalId": None,
            "Format": self.definition["Format"],
            "RoleArn": None,
            "S3Url": self.definition["S3Url"],
            "Size": 0,
            "ChannelCounts": {},
        }

    def _complete(self) -> None:
        completed = int(self.checkpoint["completed"])
        status = "COMPLETED" if completed > 0 or not self.checkpoint["failed"] else "FAILED"
        with self.app.store.begin() as conn:
            if self.segment_id is not None:
                counts = segment_store.member_channel_counts(conn, self.app_id, self.segment_id)
                segment_store.refresh_import_definition(
                    conn,
                    self.app_id,
                    self.segment_id,
                    now=self.app.now_iso(),
                    changes={
                        "ChannelCounts": counts,
                        "Size": sum(counts.values()),
                        "S3Url": self.definition["S3Url"],
                        "Format": self.definition["Format"],
                    },
                )
            job_store.finish(conn, self.app_id, self.job_id, status=status, now=self.app.now_iso())
            entry.segment_changed(conn, self.app_id, self.app.now_iso())  # RefreshOnSegmentUpdate

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.state)


def get_job(app: App, app_id: str, job_id: str) -> dict[str, Any]:
    with app.store.connect() as conn:
        return job_store.get(conn, app_id, job_id)


def list_jobs(app: App, app_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    with app.store.connect() as conn:
        return job_store.list_jobs(conn, app_id, limit=limit)


def job_failures(app: App, app_id: str, job_id: str) -> Iterator[Failure]:
    """Every failure of a job, streamed (for ``--errors-out``)."""
    with app.store.connect() as conn:
        job_store.get_row(conn, app_id, job_id)
        yield from job_store.failures(conn, app_id, job_id)


def imported_segment(app: App, app_id: str, segment_id: str) -> dict[str, Any]:
    """The SegmentResponse of an import's segment (its ImportDefinition has ChannelCounts)."""
    with app.store.connect() as conn:
        return segment_store.get(conn, app_id, segment_id)
