"""Provider callbacks already applied, so that a replayed callback changes nothing.

A receipt names a callback by its source (``twilio-sms``, ``twilio-voice``, ``sns``) and a key the
provider makes unique per report (an SNS MessageId; a Twilio MessageSid with its status). Claiming
it in the same transaction as the change the callback makes means a callback is applied exactly
once, even when two copies arrive at the same moment: the second waits on the first's row and then
finds it taken. Times are wall-clock ISO-8601 UTC (security never follows the journey clock).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Column, Connection, Index, PrimaryKeyConstraint, String, Table, delete
from sqlalchemy.dialects import postgresql, sqlite

from renraku.store.schema import metadata

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
