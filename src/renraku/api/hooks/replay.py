"""Replay refusal for provider callbacks: receipts keyed per provider, SNS's signed Timestamp.

Twilio signs no time, so a Twilio callback is remembered by what makes it unique (the MessageSid
with its status; a call's sid, status and sequence number) and applied once. SNS signs its
``Timestamp``: a message older than ``webhooks.sns_max_age_seconds`` (or more than the skew ahead)
is refused, and one within the window is remembered by its ``MessageId``. Each provider gets the
answer that stops it retrying: a 2xx for a duplicate (it was delivered), see docs/security.md.
Twilio's receipts are forgotten after a retention (:class:`renraku.store.webhook_receipts.Expiry`),
run by the signed callbacks themselves at most once a minute per server process.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from renraku.store.webhook_receipts import AlreadyReceived, Expiry, Receipt

if TYPE_CHECKING:
    from renraku.app import App

FUTURE_SKEW = timedelta(minutes=5)
DUPLICATE = "duplicate: this callback was already applied"

__all__ = [
    "DUPLICATE",
    "AlreadyReceived",
    "Receipt",
    "expire_twilio_receipts",
    "receipt",
    "sns_age_problem",
    "wall_now",
]


def wall_now() -> datetime:
    """The wall clock (never the journey clock: replay windows are security)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def receipt(source: str, *parts: str) -> Receipt:
    """The receipt of a callback named by ``parts`` (joined with ``|``), received now."""
    return Receipt(source, "|".join(parts), iso(wall_now()))


def sns_age_problem(timestamp: object, max_age_seconds: int, now: datetime) -> str | None:
    """Why an SNS message with this ``Timestamp`` is refused, or None when it is fresh enough."""
    try:
        sent = datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
    except ValueError:
        return f"Timestamp {str(timestamp)[:40]!r} is not an ISO-8601 time"
    if sent.tzinfo is None:
        return f"Timestamp {str(timestamp)[:40]!r} has no time zone"
    if sent > now + FUTURE_SKEW:
        return f"Timestamp {timestamp} is in the future"
    if now - sent > timedelta(seconds=max_age_seconds):
        return f"Timestamp {timestamp} is older than {max_age_seconds} s: a replay"
    return None


async def expire_twilio_receipts(request: Request, app: App) -> None:
    """Forget Twilio receipts past their retention when this server process is due to (the
    :class:`Expiry` lives on the ASGI app's state: one per process)."""
    expiry = getattr(request.app.state, "twilio_receipt_expiry", None)
    if expiry is None:
        retention = timedelta(seconds=app.settings.webhooks.twilio_receipt_retention_seconds)
        expiry = request.app.state.twilio_receipt_expiry = Expiry(retention=retention)
    if expiry.due():
        await run_in_threadpool(expiry.run, app.store, wall_now())
