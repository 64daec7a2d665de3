"""What providers tell renraku after a send: delivery status, bounces, complaints, inbound replies,
and unsubscribe links. Each becomes events (with the send's key) and, where the person asked or the
address is bad, an opt-out and a suppression-list entry."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from renraku.channels import unsubscribe as unsub
from renraku.domain.keywords import classify
from renraku.errors import InvalidInput, NotFound, Problem
from renraku.store import deliverability as dv
from renraku.store import endpoints as endpoint_store
from renraku.store import events as event_store
from renraku.store import webhook_receipts as receipts

if TYPE_CHECKING:
    from renraku.app import App

log = logging.getLogger("renraku.deliveries")

# Twilio MessageStatus -> event kind (intermediate states keep the status in the data).
SMS_STATUS_KINDS = {
    "delivered": "sms.delivered",
    "undelivered": "sms.failed",
    "failed": "sms.failed",
    "queued": "sms.status",
    "accepted": "sms.status",
    "sending": "sms.status",
    "sent": "sms.status",
    "scheduled": "sms.status",
    "canceled": "sms.failed",
    "read": "sms.status",
}


def _message_event(
    conn: Connection, msg: Mapping[str, Any], kind: str, now: str, data: dict[str, Any]
) -> None:
    event_store.append(
        conn,
        msg["app_id"],
        kind,
        occurred_at=now,
        user_id=msg.get("user_id"),
        endpoint_id=msg.get("endpoint_id"),
        journey_id=msg.get("journey_id"),
        activity_id=msg.get("activity_id"),
        send_key=msg.get("send_key"),
        data=data,
    )


def provider_status(
    app: App,
    provider: str,
    message_id: str,
    status: str,
    *,
    error_code: str | None = None,
    detail: Mapping[str, Any] | None = None,
    receipt: receipts.Receipt | None = None,
) -> str | None:
    """Record a provider's status report; the event kind written, or None for an unknown message.
    With ``receipt``, a report already applied raises AlreadyReceived and changes nothing."""
    kind = SMS_STATUS_KINDS.get(status.lower(), "sms.status")
    now = app.now_iso()
    with app.store.begin() as conn:
        msg = dv.message_by_id(conn, provider, message_id)
        if msg is None:
            log.warning("status %s for unknown %s message %s", status, provider, message_id)
            return None
        if receipt is not None:
            receipts.claim(conn, receipt)
        dv.set_message_status(conn, provider, message_id, status.lower(), now=now)
        data: dict[str, Any] = {"Provider": provider, "MessageId": message_id, "Status": status}
        if error_code:
            data["ErrorCode"] = error_code
        data.update(detail or {})
        _message_event(conn, msg, kind, now, data)
    return kind


@dataclass(frozen=True, slots=True)
class InboundOutcome:
    """What an inbound SMS did: its keyword, the endpoints it changed, and the reply to send."""

    keyword: str | None
    endpoints: tuple[tuple[str, str], ...]  # (app_id, endpoint_id)
    reply: str | None


def inbound_sms(
    app: App,
    provider: str,
    sender: str,
    recipient: str,
    body: str,
    *,
    receipt: receipts.Receipt | None = None,
) -> InboundOutcome:
    """Handle a reply: STOP opts the sender out, START back in, HELP answers with the help text.
    With ``receipt``, a reply already handled raises AlreadyReceived and changes nothing."""
    sms = app.settings.sms
    keyword = classify(body, sms.extra_stop_keywords)
    now = app.now_iso()
    changed: list[tuple[str, str]] = []
    with app.store.begin() as conn:
        if receipt is not None:
            receipts.claim(conn, receipt)
        latest = dv.latest_message_to(conn, sender, "SMS")
        scope = latest["app_id"] if latest else None
        targets = dv.endpoints_with_address(conn, sender, ["SMS"], app_id=scope)
        if not targets and scope is not None:
            targets = dv.endpoints_with_address(conn, sender, ["SMS"])
        for target in targets:
            data = {"Provider": provider, "From": sender, "To": recipient, "Body": body[:1600]}
            event_store.append(
                conn,
                target["app_id"],
                "sms.inbound",
                occurred_at=now,
                user_id=target["user_id"],
                endpoint_id=target["id"],
                data={**data, "Keyword": keyword},
            )
            if keyword == "STOP":
                dv.suppress(conn, target["app_id"], sender, "STOP", now=now, detail=body[:200])
                if dv.opt_out_endpoint(conn, target["app_id"], target["id"], now=now):
                    changed.append((target["app_id"], target["id"]))
                    _opt_event(conn, target, "endpoint.opted_out", now, {"Source": "SMS", **data})
            elif keyword == "START":
                dv.unsuppress(conn, target["app_id"], sender)
                if _opt_in(conn, target["app_id"], target["id"], now):
                    changed.append((target["app_id"], target["id"]))
                    _opt_event(conn, target, "endpoint.opted_in", now, {"Source": "SMS", **data})
    reply = {"STOP": sms.stop_reply, "HELP": sms.help_text, "START": None}.get(keyword or "")
    return InboundOutcome(keyword, tuple(changed), reply)


def _opt_event(
    conn: Connection, target: Mapping[str, Any], kind: str, now: str, data: dict[str, Any]
) -> None:
    event_store.append(
        conn,
        target["app_id"],
        kind,
        occurred_at=now,
        user_id=target.get("user_id"),
        endpoint_id=target["id"],
        data=data,
    )


def _opt_in(conn: Connection, app_id: str, endpoint_id: str, now: str) -> bool:
    from sqlalchemy import update

    from renraku.store.schema import endpoints

    result = conn.execute(
        update(endpoints)
        .where(
            (endpoints.c.app_id == app_id)
            & (endpoints.c.id == endpoint_id)
            & (endpoints.c.opt_out == "ALL")
        )
        .values(opt_out="NONE", effective_date=now)
    )
    return bool(result.rowcount)


def unsubscribe_target(app: App, app_id: str, endpoint_id: str, token: str) -> Mapping[str, Any]:
    """The endpoint an unsubscribe link names, after checking its token (InvalidInput if forged)."""
    with app.store.begin() as conn:
        secret = dv.app_secret(conn, app_id, now=app.now_iso())
        if not unsub.verify(secret, app_id, endpoint_id, token):
            raise InvalidInput([Problem("t", "this unsubscribe link is not valid")], subject="link")
        endpoint = endpoint_store.find(conn, app_id, endpoint_id)
    if endpoint is None:
        raise NotFound("endpoint", endpoint_id)
    return {
        "Address": endpoint.address,
        "OptOut": endpoint.opt_out,
        "ChannelType": endpoint.channel_type,
    }


def unsubscribe(app: App, app_id: str, endpoint_id: str, token: str, *, source: str) -> bool:
    """Opt the endpoint out and suppress its address; False if it had already opted out."""
    target = unsubscribe_target(app, app_id, endpoint_id, token)
    now = app.now_iso()
    with app.store.begin() as conn:
        endpoint = endpoint_store.get(conn, app_id, endpoint_id)
        dv.suppress(conn, app_id, str(target["Address"]), "UNSUBSCRIBE", now=now, detail=source)
        changed = dv.opt_out_endpoint(conn, app_id, endpoint_id, now=now)
        if changed:
            _opt_event(
                conn,
                {"app_id": app_id, "id": endpoint_id, "user_id": endpoint.user_id},
                "endpoint.opted_out",
                now,
                {"Source": source, "Channel": endpoint.channel_type},
            )
    return changed


def email_notification(
    app: App, notification: Mapping[str, Any], *, receipt: receipts.Receipt | None = None
) -> str | None:
    """Record an SES notification (event publishing or identity notifications); the event kind.
    With ``receipt``, a notification already applied raises AlreadyReceived and changes nothing."""
    kind_name = str(notification.get("eventType") or notification.get("notificationType") or "")
    mail = notification.get("mail") or {}
    message_id = str(mail.get("messageId") or "")
    now = app.now_iso()
    with app.store.begin() as conn:
        msg = dv.message_by_id(conn, "ses", message_id)
        if msg is None:
            log.warning("SES %s for unknown message %s", kind_name, message_id)
            return None
        if receipt is not None:
            receipts.claim(conn, receipt)
        data: dict[str, Any] = {"Provider": "ses", "MessageId": message_id, "Type": kind_name}
        if kind_name == "Delivery":
            kind = "email.delivered"
            data["SmtpResponse"] = (notification.get("delivery") or {}).get("smtpResponse")
        elif kind_name == "Bounce":
            bounce = notification.get("bounce") or {}
            permanent = bounce.get("bounceType") == "Permanent"
            kind = "email.bounced"
            data["BounceType"] = bounce.get("bounceType")
            data["BounceSubType"] = bounce.get("bounceSubType")
            if permanent:
                dv.suppress(
                    conn,
                    msg["app_id"],
                    msg["address"],
                    "BOUNCE",
                    now=now,
                    detail=str(bounce.get("bounceSubType")),
                )
        elif kind_name == "Complaint":
            kind = "email.complained"
            complaint = notification.get("complaint") or {}
            data["FeedbackType"] = complaint.get("complaintFeedbackType")
            dv.suppress(conn, msg["app_id"], msg["address"], "COMPLAINT", now=now)
            if msg.get("endpoint_id") and dv.opt_out_endpoint(
                conn, msg["app_id"], msg["endpoint_id"], now=now
            ):
                _opt_event(
                    conn,
                    {
                        "app_id": msg["app_id"],
                        "id": msg["endpoint_id"],
                        "user_id": msg.get("user_id"),
                    },
                    "endpoint.opted_out",
                    now,
                    {"Source": "complaint", "Channel": "EMAIL"},
                )
        elif kind_name in ("Reject", "RenderingFailure", "DeliveryDelay"):
            kind = "email.failed" if kind_name != "DeliveryDelay" else "email.delayed"
        elif kind_name in ("Open", "Click"):
            kind = f"email.{kind_name.lower()}ed" if kind_name == "Click" else "email.opened"
        else:
            kind = "email.status"
        dv.set_message_status(conn, "ses", message_id, kind.split(".")[1], now=now)
        _message_event(conn, msg, kind, now, data)
    return kind
