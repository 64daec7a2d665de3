"""The send protocol around the channels: record, hand over, settle, and reconcile after a crash.

1. In the transaction that advances the participant, each send is recorded ``pending`` under its
   idempotency key with a wall-clock lease (:func:`ledger_rows`).
2. After that commits, the sends are handed to their channel (:func:`deliver`).
3. The results are settled (:func:`settle`): ``sent``; ``failed`` when permanent or out of tries;
   ``retry`` with backoff and jitter when transient.
4. :func:`reconcile` takes sends whose lease passed: a ``pending`` one (its worker died somewhere
   in steps 2-3) is looked up at the provider where it can be (found: settled as sent; not found:
   handed over now), else marked ``unknown`` and skipped or resent per ``on_unknown_send``;
   a ``retry`` one is handed over again.
A send is therefore never handed over twice unless the provider cannot be asked and the settings
say "resend".
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from renraku.channels.base import Delivery, DeliveryResult
from renraku.domain.endpoints import Endpoint
from renraku.domain.timefmt import iso
from renraku.store import endpoints as endpoint_store
from renraku.store import journey_events
from renraku.store import participants as participant_store
from renraku.store import sends as send_store

if TYPE_CHECKING:
    from renraku.app import App


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


def deliver(app: App, items: Sequence[Outgoing], now: datetime) -> None:
    """Hand recorded sends to their channels and settle the results."""
    if items:
        settle(app, _hand_over(app, items), now)


def settle(
    app: App,
    pairs: Sequence[tuple[Outgoing, DeliveryResult]],
    now: datetime,
    *,
    reconciled: bool = False,
) -> None:
    cfg = app.settings.journeys
    now_s = iso(now)
    wall = time.time()
    rows: list[dict[str, Any]] = []
    evs: list[dict[str, Any]] = []
    wake: list[Outgoing] = []
    for o, r in pairs:
        tries = o.tries + 1
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
    with app.store.begin() as conn:
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
        if r.status == "retry":
            again.append(o)
            continue
        channel = app.channels.get(r.channel)
        if channel is not None and getattr(channel, "supports_lookup", False):
            result = channel.lookup(r.key)
            if result is not None:
                found.append((o, result))
            else:
                again.append(o)
        elif cfg.on_unknown_send == "resend":
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
    if found:
        settle(app, found, now, reconciled=True)
    deliver(app, again, now)
    return len(rows)
