"""Twilio webhooks: message status callbacks and inbound messages, ``X-Twilio-Signature`` checked.

Twilio's signature carries no time, so each callback is applied once: a status by its
(MessageSid, MessageStatus), an inbound message by its MessageSid. A replay changes nothing and
emits no event; it is answered 200 (Twilio stops on any 2xx), an inbound one with an empty
``<Response/>`` so no reply goes out twice.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from renraku.api.hooks.common import app_of, signed_urls
from renraku.api.hooks.replay import DUPLICATE, AlreadyReceived, expire_twilio_receipts, receipt
from renraku.services import delivery_events

router = APIRouter()
log = logging.getLogger("renraku.hooks.twilio")


async def _verified_form(request: Request) -> dict[str, str] | None:
    """The posted form when its signature is valid, else None (and a warning in the log)."""
    app = app_of(request)
    token = app.settings.sms.twilio.auth_token
    form = {k: str(v) for k, v in (await request.form()).items()}
    signature = request.headers.get("X-Twilio-Signature", "")
    if token is None:
        log.warning("Twilio webhook refused: sms.twilio.auth_token is not configured")
        return None
    validator = RequestValidator(token.get_secret_value())
    for url in signed_urls(request, app.settings.webhooks.public_url):
        if validator.validate(url, form, signature):
            await expire_twilio_receipts(request, app)
            return form
    log.warning(
        "Twilio webhook refused: bad X-Twilio-Signature on %s from %s",
        request.url.path,
        request.client.host if request.client else "?",
    )
    return None


@router.post("/twilio/status")
async def twilio_status(request: Request) -> Response:
    form = await _verified_form(request)
    if form is None:
        return Response("invalid signature", status_code=403)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if not sid or not status:
        return Response("MessageSid and MessageStatus are required", status_code=400)
    try:
        await run_in_threadpool(
            lambda: delivery_events.provider_status(
                app_of(request),
                "twilio",
                sid,
                status,
                error_code=form.get("ErrorCode") or None,
                receipt=receipt("twilio-sms", sid, status.lower()),
            )
        )
    except AlreadyReceived:
        return Response(DUPLICATE, status_code=200)
    return Response(status_code=204)


@router.post("/twilio/inbound")
async def twilio_inbound(request: Request) -> Response:
    form = await _verified_form(request)
    if form is None:
        return Response("invalid signature", status_code=403)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if not sid:
        return Response("MessageSid is required", status_code=400)
    twiml = MessagingResponse()
    try:
        outcome = await run_in_threadpool(
            lambda: delivery_events.inbound_sms(
                app_of(request),
                "twilio",
                form.get("From", ""),
                form.get("To", ""),
                form.get("Body", ""),
                receipt=receipt("twilio-sms", sid, "inbound"),
            )
        )
    except AlreadyReceived:
        return Response(str(twiml), media_type="application/xml")
    if outcome.reply:
        twiml.message(outcome.reply)
    return Response(str(twiml), media_type="application/xml")
