"""The send protocol around the channels: record, hand over, settle, and reconcile after a crash.

1. In the transaction that advances the participant, each send is recorded ``pending`` under its
   idempotency key with a wall-clock lease (:func:`ledger_rows`).
2. After that commits, the sends are handed to their channel (:func:`deliver`) and the results
   settled: ``sent``; ``failed`` when permanent or out of tries; ``retry`` with backoff and
   jitter when transient. On PostgreSQL the ledger rows stay locked (``FOR UPDATE``) from
   before the hand-over until the settlement commits, so while a worker is handing a send over
   no other worker can take it, however long the provider takes or the lease was.
3. :func:`reconcile` takes open sends whose lease passed and that no live worker holds (their
   worker died somewhere in step 2, or a retry is due). Where the channel can be asked by key,
   the provider is asked first (found: settled as it stands there; not found: handed over now),
   for a ``retry`` too, since a hand-over that failed on our side may have reached the
   provider. Otherwise a ``pending`` one is marked ``unknown`` and skipped or resent per
   ``on_unknown_send``, and a ``retry`` one is handed over again.
4. Only the worker that settles a row writes its events and wakes its participant: a late
   result for a send already settled (by a reconciler, say) changes nothing, so a call that
   went through can never also be reported failed.
A send is therefore never handed over twice unless the provider cannot be asked and the settings
say "resend".
"""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError

from renraku.channels.base import Delivery, DeliveryResult
from renraku.domain.endpoints import Endpoint
from renraku.domain.timefmt import iso
from renraku.errors import StoreError
from renraku.store import endpoints as endpoint_store
from renraku.store import is_transient, journey_events, retry_transient
from renraku.store import participants as participant_store
from renraku.store import sends as send_store
from renraku.store.bulk import one_of

if TYPE_CHECKING:
    from renraku.app import App

log = logging.getLogger("renraku.ledger")
# How long a worker keeps trying to settle results it holds while the database fails: past the
# send lease reconciliation would take the rows over anyway.
SETTLE_RETRY_SECONDS = 30.0


@dataclass(frozen=True)
class Outgoing:
    """A recorded send on its way to a channel."""

    key: str
    app_id: str
    journey_id: str
    pkey: str
    user_id: str | None
    activity_id: str
    channel: str
    endpoint: Endpoint | None
    endpoint_id: str
    template: str | None
    config: dict[str, Any] = field(default_factory=dict)
    tries: int = 0


def ledger_rows(items: Sequence[Outgoing], now: str, lease_until: float) -> list[dict[str, Any]]:
    return [
        {
            "key": o.key,
            "app_id": o.app_id,
            "journey_id": o.journey_id,
            "pkey": o.pkey,
            "user_id": o.user_id,
            "activity_id": o.activity_id,
            "endpoint_id": o.endpoint_id,
            "channel": o.channel,
            "status": "pending",
            "tries": 0,
            "lease_until": lease_until,
            "created_at": now,
            "settled_at": None,
            "provider": None,
            "provider_message_id": None,
            "reason": None,
            "payload": {"template": o.template, "config": o.config},
        }
        for o in items
    ]


def _hand_over(app: App, items: Sequence[Outgoing]) -> list[tuple[Outgoing, DeliveryResult]]:
    out: list[tuple[Outgoing, DeliveryResult]] = []
    by_channel: dict[str, list[Outgoing]] = defaultdict(list)
    for o in items:
        if o.endpoint is None:
            out.append(
                (
                    o,
                    DeliveryResult(
                        o.key,
                        "failed",
                        "engine",
                        permanent=True,
                        reason="the endpoint no longer exists",
                    ),
                )
            )
        else:
            by_channel[o.channel].append(o)
    for channel_name, group in by_channel.items():
        channel = app.channels.get(channel_name)
        if channel is None:
            out += [
                (
                    o,
                    DeliveryResult(
                        o.key,
                        "failed",
                        "engine",
                        permanent=True,
                        reason=f"no transport for channel {channel_name}",
                    ),
                )
                for o in group
            ]
            continue
        deliveries = [
            Delivery(
                key=o.key,
                app_id=o.app_id,
                channel=o.channel,
                endpoint=o.endpoint,
                template=o.template,
                config=o.config,
                journey_id=o.journey_id,
                activity_id=o.activity_id,
            )
            for o in group
            if o.endpoint is not None
        ]
        try:
            results = channel.deliver(deliveries)
        except Exception as exc:  # a transport that raises: transient, to be retried
            results = [
                DeliveryResult(d.key, "failed", channel.name, reason=f"{type(exc).__name__}: {exc}")
                for d in deliveries
            ]
        out += list(zip(group, results, strict=True))
    return out


def _lock_pending(conn: Connection, keys: Sequence[str]) -> dict[str, int]:
    """The ``pending`` ledger rows among ``keys`` with their tries, locked for the transaction.

    On PostgreSQL rows another transaction holds are skipped: their worker is handing them over
    or settling them, and will finish the job (or die and release them to reconciliation).
    """
    if not keys:
        return {}
    stmt = select(send_store.sends.c.key, send_store.sends.c.tries).where(
        one_of(conn, send_store.sends.c.key, keys), send_store.sends.c.status == "pending"
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return {r.key: int(r.tries) for r in conn.execute(stmt)}


def deliver(app: App, items: Sequence[Outgoing], now: datetime) -> None:
    """Hand recorded sends to their channels and settle the results (see step 2 above)."""
    if not items:
        return
    keys = [o.key for o in items]
    if app.store.dialect == "postgresql":
        pairs: list[tuple[Outgoing, DeliveryResult]] = []
        try:
            with app.store.begin() as conn:
                mine = _lock_pending(conn, keys)
                pairs = _hand_over(app, [o for o in items if o.key in mine])
                _settle(app, conn, pairs, mine, now)
        except (StoreError, DBAPIError) as exc:
            if not pairs or not is_transient(exc):
                raise  # nothing was handed over: the rows are as they were
            # The providers have these sends; settle what they answered in a fresh transaction
            # rather than leave the rows to reconciliation after their lease.
            settle_patiently(app, pairs, now)
        return
    # SQLite has one worker process: nobody else hands over, and holding a transaction open
    # across the hand-over would keep the channel's own writes waiting.
    with app.store.connect() as conn:
        mine = _lock_pending(conn, keys)
    pairs = _hand_over(app, [o for o in items if o.key in mine])
    settle_patiently(app, pairs, now)


def settle_patiently(
    app: App, pairs: Sequence[tuple[Outgoing, DeliveryResult]], now: datetime
) -> None:
    """:func:`settle`, tried again with backoff while the database fails transiently (a
    connection cut, a restart, a statement timeout). Settling twice is harmless: rows settled by
    an attempt whose commit did go through are no longer pending and are left alone. After
    :data:`SETTLE_RETRY_SECONDS` the error propagates and reconciliation settles the rows once
    their lease passes (asking the provider where it can)."""

    def note(exc: BaseException, pause: float) -> None:
        log.warning("settling %d sends failed, retrying in %.2f s: %s", len(pairs), pause, exc)

    retry_transient(
        lambda: settle(app, pairs, now),
        within=SETTLE_RETRY_SECONDS,
        max_delay=2.0,
        on_retry=note,
    )


def settle(
    app: App,
    pairs: Sequence[tuple[Outgoing, DeliveryResult]],
    now: datetime,
    *,
    reconciled: bool = False,
) -> None:
    """Settle results in a transaction of their own; rows no longer pending (settled meanwhile)
    or held by another worker are left alone, with no event and no wake-up."""
    if not pairs:
        return
    with app.store.begin() as conn:
        mine = _lock_pending(conn, [o.key for o, _ in pairs])
        _settle(app, conn, pairs, mine, now, reconciled=reconciled)


def _settle(
    app: App,
    conn: Connection,
    pairs: Sequence[tuple[Outgoing, DeliveryResult]],
    mine: dict[str, int],
    now: datetime,
    *,
    reconciled: bool = False,
) -> None:
    """Settle the results whose rows are locked in ``conn`` (``mine``: key -> tries so far)."""
    cfg = app.settings.journeys
    now_s = iso(now)
    wall = time.time()
    rows: list[dict[str, Any]] = []
    evs: list[dict[str, Any]] = []
    wake: list[Outgoing] = []
    for o, r in pairs:
        if o.key not in mine:
            continue
        tries = max(o.tries, mine[o.key]) + 1
        base = {
            "app_id": o.app_id,
            "occurred_at": now_s,
            "user_id": o.user_id,
            "endpoint_id": o.endpoint_id,
            "journey_id": o.journey_id,
            "activity_id": o.activity_id,
            "send_key": o.key,
        }
        if r.outcome == "sent":
            rows.append(
                {
                    "k": o.key,
                    "status": "sent",
                    "settled_at": now_s,
                    "provider": r.provider,
                    "pmid": r.provider_message_id,
                    "reason": None,
                    "lease_until": None,
                    "tries": tries,
                }
            )
            data: dict[str, Any] = {
                "Channel": o.channel,
                "Provider": r.provider,
                "MessageId": r.provider_message_id,
            }
            if reconciled:
                data["Reconciled"] = True
            evs.append({**base, "kind": "send.sent", "data": data})
        elif r.outcome == "unknown" or r.permanent or tries >= cfg.max_send_tries:
            status = "unknown" if r.outcome == "unknown" else "failed"
            rows.append(
                {
                    "k": o.key,
                    "status": status,
                    "settled_at": now_s,
                    "provider": r.provider,
                    "pmid": r.provider_message_id,
                    "reason": r.reason,
                    "lease_until": None,
                    "tries": tries,
                }
            )
            evs.append(
                {
                    **base,
                    "kind": f"send.{status}",
                    "data": {
                        "Channel": o.channel,
                        "Reason": r.reason,
                        "Permanent": r.permanent,
                        "Tries": tries,
                    },
                }
            )
            wake.append(o)
        else:
            delay = cfg.retry_base_seconds * (2 ** (tries - 1)) * (1 + random.random() / 2)  # noqa: S311
            rows.append(
                {
                    "k": o.key,
                    "status": "retry",
                    "settled_at": None,
                    "provider": r.provider,
                    "pmid": None,
                    "reason": r.reason,
                    "lease_until": wall + delay,
                    "tries": tries,
                }
            )
            evs.append(
                {
                    **base,
                    "kind": "send.retry",
                    "data": {"Channel": o.channel, "Reason": r.reason, "Try": tries},
                }
            )
    send_store.settle(conn, rows)
    journey_events.append_many(conn, evs)
    for o in wake:  # a call that never happened: the VOICE step branches on it now
        participant_store.wake(conn, o.app_id, o.journey_id, o.pkey, now_s)


def reconcile(app: App, now: datetime, *, limit: int = 500) -> int:
    """Recover sends whose lease passed (see the module docstring); returns how many."""
    cfg = app.settings.journeys
    with app.store.begin() as conn:
        rows = send_store.claim_stale(conn, time.time(), cfg.send_lease_seconds, limit)
        eps = {
            (e.app_id, e.id): e
            for app_id in {r.app_id for r in rows}
            for e in endpoint_store.by_ids(
                conn, app_id, [r.endpoint_id for r in rows if r.app_id == app_id]
            )
        }
    if not rows:
        return 0
    found: list[tuple[Outgoing, DeliveryResult]] = []
    again: list[Outgoing] = []
    for r in rows:
        payload = r.payload or {}
        o = Outgoing(
            key=r.key,
            app_id=r.app_id,
            journey_id=r.journey_id,
            pkey=r.pkey,
            user_id=r.user_id,
            activity_id=r.activity_id,
            channel=r.channel,
            endpoint=eps.get((r.app_id, r.endpoint_id)),
            endpoint_id=r.endpoint_id,
            template=payload.get("template"),
            config=dict(payload.get("config") or {}),
            tries=int(r.tries),
        )
        channel = app.channels.get(r.channel)
        if channel is not None and getattr(channel, "supports_lookup", False):
            result = channel.lookup(r.key)
            if result is not None:
                found.append((o, result))
            else:
                again.append(o)
        elif r.status == "retry" or cfg.on_unknown_send == "resend":
            again.append(o)
        else:
            found.append(
                (
                    o,
                    DeliveryResult(
                        r.key,
                        "unknown",
                        "engine",
                        reason="worker stopped mid-send; provider cannot be asked",
                    ),
                )
            )
    settle(app, found, now, reconciled=True)
    deliver(app, again, now)
    return len(rows)
