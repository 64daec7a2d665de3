"""Records -> validated batches, in this process or in worker processes on the other cores.

Reading stays in the calling process (it is cheap and must follow the file in order); validation
and normalisation (phonenumbers, email-validator: the expensive part) run in a small pool of
spawned workers for large pieces. Results come back in file order, and at most ``ahead`` batches
are in flight, so memory stays flat however large the file.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from renraku.importing.failures import Failure
from renraku.importing.readers import Decoder, RawItem, Reader, SourceRecord
from renraku.importing.rows import RowContext, endpoint_row

# Pieces smaller than this are validated in-process: starting workers would cost more.
PARALLEL_MIN_BYTES = 8 << 20


# One encoder, built once: json.dumps with options builds a new one per call.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True)
class RowFormat:
    """How the store takes rows: column order, and which columns hold JSON text.

    Passed to workers so that they need not import the store (and SQLAlchemy): lighter workers.
    """

    columns: tuple[str, ...]
    json_columns: frozenset[str]

    def tuple_of(self, row: dict[str, Any]) -> tuple[Any, ...]:
        json_columns = self.json_columns
        return tuple(
            (_ENCODE(row[c]) if row[c] else "{}") if c in json_columns else row[c]
            for c in self.columns
        )


@dataclass
class ValidatedBatch:
    """One batch: rows ready for the store (unique ids), failures, and where reading stopped."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    processed: int = 0
    failed_rows: int = 0
    consumed: int = 0  # records of the piece read up to the end of this batch
    bytes_read: int = 0


def validate_records(
    ctx: RowContext, decoder: Decoder, row_format: RowFormat, items: list[RawItem]
) -> ValidatedBatch:
    """Decode and validate ``items`` into a batch (a later row with the same id replaces an earlier).

    Runs in worker processes: its arguments and result are plain picklable data.
    """
    batch = ValidatedBatch(processed=len(items))
    by_id: dict[str, tuple[Any, ...]] = {}
    decode = decoder.decode
    for item in items:
        record = item if isinstance(item, SourceRecord) else decode(item[0], item[1])
        row, failures = endpoint_row(ctx, record)
        if row is None:
            batch.failed_rows += 1
            batch.failures.extend(failures)
        else:
            by_id[row["id"]] = row_format.tuple_of(row)
    # In key order: the store's B-tree inserts then walk the index instead of jumping about.
    batch.ids = sorted(by_id)
    batch.rows = [by_id[i] for i in batch.ids]
    return batch


def _chunks(reader: Reader, batch_size: int, skip: int) -> Iterator[tuple[list[RawItem], int, int]]:
    """Raw items in lists of ``batch_size`` after skipping ``skip``: (items, consumed, bytes)."""
    consumed = 0
    chunk: list[RawItem] = []
    for record in reader.raw():
        consumed += 1
        if consumed <= skip:
            continue
        chunk.append(record)
        if len(chunk) >= batch_size:
            yield chunk, consumed, reader.bytes_read
            chunk = []
    yield chunk, consumed, reader.bytes_read


def default_workers(size: int | None) -> int:
    """How many validation workers suit a piece of ``size`` bytes on this machine."""
    cpus = os.cpu_count() or 1
    if cpus < 2 or size is None or size < PARALLEL_MIN_BYTES:
        return 0
    return min(cpus, 4)


def validated_batches(
    reader: Reader,
    ctx: RowContext,
    row_format: RowFormat,
    *,
    batch_size: int,
    skip: int = 0,
    workers: int = 0,
) -> Iterator[ValidatedBatch]:
    """Validated batches of ``reader``'s records in file order; the last one may be empty."""
    decoder = reader.decoder
    if workers <= 0:
        for records, consumed, bytes_read in _chunks(reader, batch_size, skip):
            batch = validate_records(ctx, decoder, row_format, records)
            batch.consumed, batch.bytes_read = consumed, bytes_read
            yield batch
        return
    ahead = workers * 2
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_ignore_interrupts
    ) as pool:
        pending: deque[tuple[Future[ValidatedBatch], int, int]] = deque()
        try:
            for records, consumed, bytes_read in _chunks(reader, batch_size, skip):
                pending.append(
                    (
                        pool.submit(validate_records, ctx, decoder, row_format, records),
                        consumed,
                        bytes_read,
                    )
                )
                if len(pending) >= ahead:
                    yield _settle(pending.popleft())
            while pending:
                yield _settle(pending.popleft())
        finally:
            for future, _, _ in pending:
                future.cancel()


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the importing process, which rolls back and stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _settle(item: tuple[Future[ValidatedBatch], int, int]) -> ValidatedBatch:
    future, consumed, bytes_read = item
    batch = future.result()
    batch.consumed, batch.bytes_read = consumed, bytes_read
    return batch
