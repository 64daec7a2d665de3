"""SNS notifications, signature verified: SES delivery, bounce and complaint events; AWS End User
Messaging SMS events and inbound replies (two-way SMS).

A ``SubscriptionConfirmation`` with a valid signature is confirmed by fetching its SubscribeURL
(only on an SNS host); a ``Notification`` carries an SES event as JSON text in ``Message``.

Replays: a message whose signed ``Timestamp`` is outside ``webhooks.sns_max_age_seconds`` is
refused (403), and a Notification is applied once per ``MessageId``: SNS's own retry of a
delivered message, or a captured one posted again, is answered 200 (delivered, so SNS stops) and
changes nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from renraku.api.hooks.common import app_of
from renraku.api.hooks.replay import (
    DUPLICATE,
    AlreadyReceived,
    iso,
    receipt,
    sns_age_problem,
    wall_now,
)
from renraku.channels.sns_verify import CertificateCache, SnsVerificationError, host_allowed, verify
from renraku.services import delivery_events
from renraku.store import webhook_receipts as receipts
from renraku.store.webhook_receipts import Receipt

if TYPE_CHECKING:
    from renraku.app import App

router = APIRouter()
log = logging.getLogger("renraku.hooks.sns")
MAX_BODY = 256 * 1024  # SNS messages are at most 256 KiB


def _certificates(request: Request) -> CertificateCache:
    cache = getattr(request.app.state, "sns_certificates", None)
    if cache is None:
        cache = CertificateCache()
        request.app.state.sns_certificates = cache
    return cache


@router.post("/ses")
@router.post("/sns")
async def sns_message(request: Request) -> Response:
    app = app_of(request)
    hooks = app.settings.webhooks
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return Response("message too large", status_code=413)
    try:
        message: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Response("body is not JSON", status_code=400)
    if not isinstance(message, dict):
        return Response("body is not an SNS message", status_code=400)
    if hooks.verify_sns_signatures:
        try:
            await run_in_threadpool(
                verify,
                message,
                _certificates(request),
                hooks.sns_certificate_hosts,
                allow_http=hooks.allow_http,
            )
        except SnsVerificationError as exc:
            log.warning("SNS message refused: %s", exc)
            return Response(f"signature not valid: {exc}", status_code=403)
    now = wall_now()
    too_old = sns_age_problem(message.get("Timestamp"), hooks.sns_max_age_seconds, now)
    if too_old is not None:
        log.warning("SNS message refused: %s", too_old)
        return Response(f"message refused: {too_old}", status_code=403)
    kind = message.get("Type")
    if kind == "SubscriptionConfirmation":
        url = str(message.get("SubscribeURL", ""))
        if not host_allowed(url, hooks.sns_certificate_hosts, allow_http=hooks.allow_http):
            return Response("SubscribeURL is not an SNS host", status_code=400)
        async with httpx.AsyncClient(timeout=10.0) as client:
            confirmed = await client.get(url)
        return Response(status_code=200 if confirmed.is_success else 502)
    if kind != "Notification":
        return Response(status_code=204)
    try:
        notification = json.loads(str(message.get("Message", "")))
    except json.JSONDecodeError:
        return Response("Message is not an SES notification", status_code=400)
    if not isinstance(notification, dict):
        return Response("Message is not an SES notification", status_code=400)
    message_id = str(message.get("MessageId") or "")
    if not message_id:
        return Response("MessageId is required", status_code=400)
    try:
        await run_in_threadpool(_apply, app, notification, receipt("sns", message_id))
    except AlreadyReceived:
        return Response(DUPLICATE, status_code=200)
    oldest = iso(now - timedelta(seconds=hooks.sns_max_age_seconds))
    await run_in_threadpool(_forget_before, app, oldest)
    return Response(status_code=204)


def _forget_before(app: App, cutoff: str) -> None:
    """Receipts older than the window go: a message that old is refused by its Timestamp."""
    with app.store.begin() as conn:
        receipts.forget_before(conn, "sns", cutoff)


def _apply(app: App, notification: dict[str, Any], once: Receipt) -> None:
    if "originationNumber" in notification and "messageBody" in notification:
        # AWS End User Messaging two-way SMS: an inbound reply.
        delivery_events.inbound_sms(
            app,
            "aws-sms",
            str(notification["originationNumber"]),
            str(notification.get("destinationNumber", "")),
            str(notification["messageBody"]),
            receipt=once,
        )
    elif str(notification.get("eventType", "")).startswith("TEXT_"):
        # AWS End User Messaging SMS event destination: TEXT_DELIVERED, TEXT_BLOCKED ...
        status = AWS_SMS_STATUS.get(str(notification["eventType"]), "sent")
        delivery_events.provider_status(
            app,
            "aws-sms",
            str(notification.get("messageId", "")),
            status,
            error_code=None if status == "delivered" else str(notification["eventType"]),
            receipt=once,
        )
    else:
        delivery_events.email_notification(app, notification, receipt=once)


# AWS End User Messaging SMS event types -> the statuses renraku records (as Twilio names them).
AWS_SMS_STATUS = {
    "TEXT_DELIVERED": "delivered",
    "TEXT_SUCCESSFUL": "sent",
    "TEXT_QUEUED": "queued",
    "TEXT_PENDING": "sending",
    "TEXT_BLOCKED": "failed",
    "TEXT_TTL_EXPIRED": "undelivered",
    "TEXT_CARRIER_UNREACHABLE": "undelivered",
    "TEXT_INVALID": "failed",
    "TEXT_INVALID_MESSAGE": "failed",
    "TEXT_CARRIER_BLOCKED": "failed",
    "TEXT_UNREACHABLE": "undelivered",
    "TEXT_SPAM": "failed",
    "TEXT_UNKNOWN": "failed",
}
