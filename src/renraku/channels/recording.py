"""The recording transport: every channel type, for tests, demos and benchmarks.

Each delivery is written to ``recorded_deliveries`` through the transport's own database
connection and committed before ``deliver`` returns, so the record survives the worker process
being killed right after; tests count deliveries per idempotency key across processes, and
:meth:`RecordingChannel.lookup` answers reconciliation from the same table.

What happens per address can be scripted in ``recording_call_scripts`` (:func:`script`): for
VOICE a call outcome, the digits pressed and the call's length (the ``call.completed`` event is
appended at placement time + length on the journey clock, and the waiting participant is woken
then); for the other channels ``TRANSIENT`` or ``PERMANENT`` makes the send fail that way.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from renraku.channels.base import Delivery, DeliveryResult
from renraku.domain.timefmt import iso
from renraku.store import journey_events
from renraku.store.bulk import insert_rows, one_of
from renraku.store.engine import make_engine
from renraku.store.schema import Json, metadata

if TYPE_CHECKING:
    from renraku.app import App

recorded_deliveries = Table(
    "recorded_deliveries",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("key", String(400), nullable=False),
    Column("app_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("address", String(512), nullable=False),
    Column("endpoint_id", String(128), nullable=False),
    Column("template", String(256)),
    Column("recorded_at", String(32), nullable=False),
    Column("data", Json, nullable=False),
    Index("ix_recorded_deliveries_key", "key"),
)

call_scripts = Table(
    "recording_call_scripts",
    metadata,
    Column("address", String(512), primary_key=True),
    Column("outcome", String(16), nullable=False),
    Column("digits", String(32), nullable=False),
    Column("duration_seconds", Float, nullable=False),
)

DEFAULT_CALL = ("ANSWERED", "", 30.0)


def script(
    conn: Connection,
    address: str,
    outcome: str,
    *,
    digits: str = "",
    duration_seconds: float = 30.0,
) -> None:
    """Decide what happens to deliveries to ``address`` (see the module docstring)."""
    ins = (
        postgresql.insert(call_scripts)
        if conn.dialect.name == "postgresql"
        else sqlite.insert(call_scripts)
    )
    row = {
        "address": address,
        "outcome": outcome,
        "digits": digits,
        "duration_seconds": duration_seconds,
    }
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=["address"], set_={k: v for k, v in row.items() if k != "address"}
        ),
        row,
    )


def script_many(conn: Connection, rows: Sequence[tuple[str, str, str, float]]) -> None:
    """Script many addresses at once: (address, outcome, digits, duration_seconds)."""
    for i in range(0, len(rows), 5000):
        ins = (
            postgresql.insert(call_scripts)
            if conn.dialect.name == "postgresql"
            else sqlite.insert(call_scripts)
        )
        conn.execute(
            ins.on_conflict_do_nothing(),
            [
                {"address": a, "outcome": o, "digits": d, "duration_seconds": s}
                for a, o, d, s in rows[i : i + 5000]
            ],
        )


def delivery_counts(conn: Connection) -> dict[str, int]:
    """How many times each key was handed to the recording transport."""
    rows = conn.execute(
        select(recorded_deliveries.c.key, func.count()).group_by(recorded_deliveries.c.key)
    )
    return {r[0]: int(r[1]) for r in rows}


def deliveries(conn: Connection, *, channel: str | None = None) -> list[Any]:
    stmt = select(recorded_deliveries).order_by(recorded_deliveries.c.seq)
    if channel:
        stmt = stmt.where(recorded_deliveries.c.channel == channel)
    return list(conn.execute(stmt))


class RecordingChannel:
    """Records deliveries of one channel type in the database (see the module docstring)."""

    supports_lookup = True

    def __init__(self, channel: str, db_url: str) -> None:
        self.name = "recording"
        self.channel = channel
        self._url = db_url
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._app: App | None = None

    def bind(self, app: App) -> None:
        """Use the App's journey clock for call outcomes, and connections of its store's engine
        (each delivery batch commits on a connection of its own, apart from the worker's)."""
        self._app = app
        self._engine = app.store.engine

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = make_engine(self._url)
            return self._engine

    def _now(self) -> Any:
        from datetime import UTC, datetime

        return self._app.clock.now() if self._app is not None else datetime.now(UTC)

    def deliver(self, batch: Sequence[Delivery]) -> list[DeliveryResult]:
        if not batch:
            return []
        from renraku.engine.wake import wake_many_for_sends

        now = self._now()
        results: list[DeliveryResult] = []
        with self.engine.begin() as conn:
            scripted = {
                r.address: r
                for r in conn.execute(
                    select(call_scripts).where(
                        one_of(conn, call_scripts.c.address, {d.endpoint.address for d in batch})
                    )
                )
            }
            rows: list[dict[str, Any]] = []
            calls: list[tuple[Delivery, Any]] = []
            for d in batch:
                s = scripted.get(d.endpoint.address)
                outcome = s.outcome if s is not None else None
                if outcome in ("TRANSIENT", "PERMANENT"):
                    results.append(
                        DeliveryResult(
                            d.key,
                            "failed",
                            "recording",
                            permanent=outcome == "PERMANENT",
                            reason=f"scripted {outcome.lower()} failure",
                        )
                    )
                    continue
                rows.append(
                    {
                        "key": d.key,
                        "app_id": d.app_id,
                        "channel": d.channel,
                        "address": d.endpoint.address,
                        "endpoint_id": d.endpoint.id,
                        "template": d.template,
                        "recorded_at": iso(now),
                        "data": {},
                    }
                )
                if d.channel == "VOICE":
                    calls.append((d, s))
                results.append(
                    DeliveryResult(d.key, "sent", "recording", provider_message_id=d.key)
                )
            if rows and conn.dialect.name == "postgresql":
                insert_rows(conn, recorded_deliveries, rows)
            elif rows:
                conn.execute(recorded_deliveries.insert(), rows)
            evs: list[dict[str, Any]] = []
            wakes: dict[str, list[tuple[str, str]]] = {}
            for d, s in calls:
                outcome, digits, seconds = (
                    (s.outcome, s.digits, s.duration_seconds) if s else DEFAULT_CALL
                )
                at = iso(now + timedelta(seconds=seconds))
                evs.append(
                    {
                        "app_id": d.app_id,
                        "kind": "call.completed",
                        "occurred_at": at,
                        "user_id": d.endpoint.user_id,
                        "endpoint_id": d.endpoint.id,
                        "journey_id": d.journey_id,
                        "activity_id": d.activity_id,
                        "send_key": d.key,
                        "data": {"Outcome": outcome, "Digits": digits, "CallId": d.key},
                    }
                )
                wakes.setdefault(d.app_id, []).append((d.key, at))
            journey_events.append_many(conn, evs)
            for app_id, pairs in wakes.items():
                wake_many_for_sends(conn, app_id, pairs)
        return results

    def lookup(self, key: str) -> DeliveryResult | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(recorded_deliveries.c.seq).where(recorded_deliveries.c.key == key).limit(1)
            ).first()
        if row is None:
            return None
        return DeliveryResult(key, "sent", "recording", provider_message_id=key)

    def close(self) -> None:
        if self._engine is not None and self._app is None:
            self._engine.dispose()
