"""Provider callbacks already applied, so that a replayed callback changes nothing.

A receipt names a callback by its source (``twilio-sms``, ``twilio-voice``, ``sns``) and a key the
provider makes unique per report (an SNS MessageId; a Twilio MessageSid with its status). Claiming
it in the same transaction as the change the callback makes means a callback is applied exactly
once, even when two copies arrive at the same moment: the second waits on the first's row and then
finds it taken. Times are wall-clock ISO-8601 UTC (security never follows the journey clock).

Receipts do not stay forever. SNS signs its Timestamp, so its receipts go once the signature window
has passed. Twilio signs no time but retries a callback for seconds only; its receipts are kept for
``TWILIO_RETENTION`` (7 days) and then forgotten by :class:`Expiry`, at most once a minute per
process and in bounded batches, so no callback waits on a long delete.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Connection,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite

from renraku.domain.timefmt import iso
from renraku.store.schema import metadata

if TYPE_CHECKING:
    from renraku.store import Store

webhook_receipts = Table(
    "webhook_receipts",
    metadata,
    Column("source", String(16), nullable=False),
    Column("key", String(200), nullable=False),
    Column("received_at", String(32), nullable=False),
    PrimaryKeyConstraint("source", "key"),
    Index("ix_webhook_receipts_received", "source", "received_at"),
)

MAX_KEY = 200
TWILIO_SOURCES = ("twilio-sms", "twilio-voice")
# Twilio retries a failed callback at most 5 times within 15 s (its connection overrides rc and tt);
# a week also covers clock trouble and callbacks held up in an outage, and a capture replayed later
# finds the message or call long settled.
TWILIO_RETENTION = timedelta(days=7)


class AlreadyReceived(Exception):
    """The callback was applied before. Raised inside the caller's transaction, which then rolls
    back and writes nothing."""


@dataclass(frozen=True, slots=True)
class Receipt:
    source: str
    key: str
    received_at: str

    @property
    def stored_key(self) -> str:
        """The key as stored: long keys become their SHA-256, so any key fits the column."""
        if len(self.key) <= MAX_KEY:
            return self.key
        return "sha256:" + hashlib.sha256(self.key.encode()).hexdigest()


def claim(conn: Connection, receipt: Receipt) -> None:
    """Record ``receipt``; AlreadyReceived when it was recorded before (by this or another
    transaction that committed)."""
    table = webhook_receipts
    ins = postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
    stmt = ins.on_conflict_do_nothing(index_elements=["source", "key"]).returning(table.c.key)
    row = conn.execute(
        stmt,
        {"source": receipt.source, "key": receipt.stored_key, "received_at": receipt.received_at},
    ).first()
    if row is None:
        raise AlreadyReceived(f"{receipt.source} callback {receipt.key} was already applied")


def release(conn: Connection, receipt: Receipt) -> None:
    """Forget ``receipt`` (its change failed, so the provider's retry must be applied)."""
    conn.execute(
        delete(webhook_receipts).where(
            (webhook_receipts.c.source == receipt.source)
            & (webhook_receipts.c.key == receipt.stored_key)
        )
    )


def forget_before(conn: Connection, source: str, cutoff: str) -> int:
    """Drop ``source``'s receipts older than ``cutoff`` (callbacks that old are refused anyway)."""
    result = conn.execute(
        delete(webhook_receipts).where(
            (webhook_receipts.c.source == source) & (webhook_receipts.c.received_at < cutoff)
        )
    )
    return int(result.rowcount or 0)


def forget_oldest(conn: Connection, source: str, cutoff: str, *, limit: int) -> int:
    """Drop at most ``limit`` of ``source``'s receipts received before ``cutoff``, oldest first
    (one short statement on the ``(source, received_at)`` index); how many went."""
    table = webhook_receipts
    oldest = (
        select(table.c.source, table.c.key)
        .where((table.c.source == source) & (table.c.received_at < cutoff))
        .order_by(table.c.received_at)
        .limit(limit)
    )
    result = conn.execute(delete(table).where(tuple_(table.c.source, table.c.key).in_(oldest)))
    return int(result.rowcount or 0)


class Expiry:
    """Forgets receipts of ``sources`` older than ``retention``: at most once per
    ``every_seconds`` (per instance: one per process), each time in transactions of at most
    ``batch`` rows and at most ``batches`` of them, so a backlog goes over several runs."""

    def __init__(
        self,
        *,
        sources: Sequence[str] = TWILIO_SOURCES,
        retention: timedelta = TWILIO_RETENTION,
        every_seconds: float = 60.0,
        batch: int = 500,
        batches: int = 10,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sources = tuple(sources)
        self.retention = retention
        self.every_seconds = every_seconds
        self.batch = batch
        self.batches = batches
        self._monotonic = monotonic
        self._next: float | None = None
        self._lock = threading.Lock()

    def due(self) -> bool:
        """True (and the next run scheduled) when a run is due now."""
        with self._lock:
            now = self._monotonic()
            if self._next is not None and now < self._next:
                return False
            self._next = now + self.every_seconds
            return True

    def run(self, store: Store, now: datetime) -> int:
        """Forget what is older than ``now`` minus the retention, within the bounds; how many."""
        cutoff = iso(now - self.retention)
        forgotten = 0
        for source in self.sources:
            for _ in range(self.batches):
                with store.begin() as conn:
                    gone = forget_oldest(conn, source, cutoff, limit=self.batch)
                forgotten += gone
                if gone < self.batch:
                    break
        return forgotten

    def maybe_run(self, store: Store, now: datetime) -> int:
        """:meth:`run` when it is due, else nothing (0)."""
        return self.run(store, now) if self.due() else 0
