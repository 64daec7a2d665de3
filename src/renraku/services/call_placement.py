"""Placing calls, shared by every voice provider: one call per send, destination and flow checks,
capacity shared by every worker, refusals recorded with their reason.

A provider supplies only a :class:`Dialer` (how to start a call). Refusals (bad number, country not
allowed, unknown flow, opted out) are recorded as calls with outcome FAILED and a reason, so the
timeline shows them; capacity refusals are transient and record nothing (the engine retries the
same send later).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import phonenumbers
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from renraku.app import App
from renraku.channels.base import Delivery, DeliveryResult
from renraku.domain.timefmt import iso, parse_iso
from renraku.errors import InvalidInput, NotFound
from renraku.services import calls
from renraku.services import flows as flow_service
from renraku.store import apps as app_store
from renraku.store import calls as call_store
from renraku.store import events as event_store

log = logging.getLogger("renraku.voice")


@dataclass(frozen=True, slots=True)
class CallRequest:
    """A call about to be placed, as every provider sees it."""

    app_id: str
    call_id: str
    address: str
    origination: str
    flow_id: str
    attributes: Mapping[str, str]
    send_key: str | None = None
    start_at: datetime | None = None  # when the call starts (a simulator may queue it)
    user_id: str | None = None
    endpoint_id: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)


class Dialer(Protocol):
    provider: str
    local_flows: bool  # True: renraku runs the flow (simulator, Twilio); False: Connect does
    queues: bool  # True: a call may be scheduled for a later free slot (the simulator)

    def dial(self, request: CallRequest) -> str | None:
        """Start the call; the provider's call id. Raises CallRefused or CallDeferred."""
        ...


class CallRefused(Exception):
    """The provider will never place this call (a permanent failure, recorded with its reason)."""


class CallDeferred(Exception):
    """Not now (capacity, throttling): the same send should be tried again later."""


def destination_problem(app: App, app_id: str, address: str) -> str | None:
    """Why ``address`` may not be called, or None: E.164 and the application's country allow-list."""
    try:
        number = phonenumbers.parse(address, None)
    except phonenumbers.NumberParseException:
        return f"{address!r} is not an E.164 phone number (like +819011111111)"
    if not address.startswith("+") or not phonenumbers.is_possible_number(number):
        return f"{address!r} is not an E.164 phone number (like +819011111111)"
    voice = app.settings.voice
    allowed = voice.allowed_countries
    if voice.app_allowed_countries:
        with app.store.connect() as conn:
            record = app_store.get_app(conn, app_id)
        for key in (record["Id"], record["Name"]):
            if key in voice.app_allowed_countries:
                allowed = voice.app_allowed_countries[key]
    region = phonenumbers.region_code_for_number(number) or "ZZ"
    if allowed and region not in {c.upper() for c in allowed}:
        return f"calls to {region} (+{number.country_code}) are not allowed; allowed: {allowed}"
    return None


def capacity_slot(conn: Connection, app: App, now: datetime) -> datetime | None:
    """The earliest moment from ``now`` at which a call may start within both limits (None when
    that is beyond ``max_queue_seconds``, or unknowable because calls in progress have no end)."""
    cap = app.settings.voice.capacity
    per_second = max(1, int(cap.calls_per_second))
    call_store.lock_capacity(conn)
    t = now
    for _ in range(1000):
        ends = call_store.active_ends(conn, iso(t))
        if len(ends) >= cap.max_concurrent_calls:
            free = ends[len(ends) - cap.max_concurrent_calls]
            if free is None:
                return None
            t = parse_iso(free)
            continue
        placed = call_store.placed_between(conn, iso(t - timedelta(seconds=1)), iso(t))
        if len(placed) >= per_second:
            t = parse_iso(placed[len(placed) - per_second]) + timedelta(seconds=1)
            continue
        return t if (t - now).total_seconds() <= cap.max_queue_seconds else None
    return None


def capacity_problem(conn: Connection, app: App, now: datetime) -> str | None:
    """Why no call may start at ``now`` (shared by every worker through the calls table)."""
    cap = app.settings.voice.capacity
    call_store.lock_capacity(conn)
    active = call_store.count_active(conn, iso(now))
    if active >= cap.max_concurrent_calls:
        return f"{active} calls in progress (max_concurrent_calls = {cap.max_concurrent_calls})"
    window = call_store.count_placed_between(conn, iso(now - timedelta(seconds=1)), iso(now))
    if window >= max(1, int(cap.calls_per_second)):
        return (
            f"{window} calls started in the last second (calls_per_second = {cap.calls_per_second})"
        )
    return None


def result_of(call: Mapping[str, Any], key: str, provider: str) -> DeliveryResult:
    if call["Status"] == "REFUSED":
        return DeliveryResult(
            key=key,
            outcome="failed",
            provider=provider,
            provider_message_id=call["Id"],
            permanent=True,
            reason=call["Reason"],
        )
    return DeliveryResult(
        key=key, outcome="sent", provider=provider, provider_message_id=call["Id"]
    )


def refuse(app: App, request: CallRequest, provider: str, reason: str) -> DeliveryResult:
    now = app.now_iso()
    record = {
        "Id": request.call_id,
        "SendKey": request.send_key,
        "Provider": provider,
        "FlowId": request.flow_id or None,
        "EndpointId": request.endpoint_id,
        "UserId": request.user_id,
        "CustomerAddress": request.address[:64],
        "SystemAddress": request.origination,
        "Status": "REFUSED",
        "Outcome": "FAILED",
        "Reason": reason,
        "PlacedAt": now,
        "EndedAt": now,
        "Attributes": dict(request.attributes),
        "JourneyId": request.config.get("JourneyId"),
        "ActivityId": request.config.get("ActivityId"),
    }
    with app.store.begin() as conn:
        call_store.insert_call(conn, request.app_id, record)
        calls.completed_event(conn, request.app_id, record, "FAILED", "", now, reason)
    return DeliveryResult(
        key=request.send_key or request.call_id,
        outcome="failed",
        provider=provider,
        provider_message_id=request.call_id,
        permanent=True,
        reason=reason,
    )


def request_for(app: App, delivery: Delivery, dialer: Dialer) -> CallRequest:
    """The call a VOICE delivery asks for."""
    config = delivery.config
    ep = delivery.endpoint
    attributes = {str(k): str(v) for k, v in (config.get("Attributes") or {}).items()}
    if ep.user_id:
        attributes.setdefault("UserId", ep.user_id)
    if ep.id:
        attributes.setdefault("EndpointId", ep.id)
    voice = app.settings.voice
    flow = str(config.get("ContactFlowId") or voice.default_flow or "")
    origination = str(config.get("OriginationNumber") or voice.origination_number or "")
    return CallRequest(
        app_id=delivery.app_id,
        call_id=str(uuid.uuid4()),
        address=ep.address,
        origination=origination,
        flow_id=flow,
        attributes=attributes,
        send_key=delivery.key,
        user_id=ep.user_id,
        endpoint_id=ep.id or None,
        config={**config, "JourneyId": delivery.journey_id, "ActivityId": delivery.activity_id},
    )


def place(app: App, request: CallRequest, dialer: Dialer) -> DeliveryResult:
    """Place ``request`` once: an earlier call for the same send key is answered, never redialled."""
    key = request.send_key or request.call_id
    if request.send_key:
        with app.store.connect() as conn:
            existing = call_store.by_send_key(conn, request.send_key)
        if existing is not None:
            return result_of(existing, key, dialer.provider)
    problem = destination_problem(app, request.app_id, request.address)
    flow_version: int | None = None
    if problem is None and dialer.local_flows:
        if not request.flow_id:
            problem = "no contact flow: set ContactFlowId on the activity or [voice] default_flow"
        else:
            try:
                with app.store.connect() as conn:
                    summary, _ = flow_service.load(conn, request.app_id, request.flow_id)
                request = replace(request, flow_id=summary["Id"])
                flow_version = int(summary["Version"])
            except (NotFound, InvalidInput) as exc:
                problem = f"unknown or invalid contact flow: {exc}"
    if problem is not None:
        return refuse(app, request, dialer.provider, problem)
    now_dt = app.clock.now()
    try:
        with app.store.begin() as conn:
            if dialer.queues:
                slot = capacity_slot(conn, app, now_dt)
                busy = None if slot is not None else "no free slot within max_queue_seconds"
                now_dt = slot or now_dt
                request = replace(request, start_at=slot)
            else:
                busy = capacity_problem(conn, app, now_dt)
            if busy is None:
                call_store.insert_call(
                    conn,
                    request.app_id,
                    {
                        "Id": request.call_id,
                        "SendKey": request.send_key,
                        "Provider": dialer.provider,
                        "FlowId": request.flow_id or None,
                        "FlowVersion": flow_version,
                        "EndpointId": request.endpoint_id,
                        "UserId": request.user_id,
                        "JourneyId": request.config.get("JourneyId"),
                        "ActivityId": request.config.get("ActivityId"),
                        "CustomerAddress": request.address,
                        "SystemAddress": request.origination,
                        "Status": "QUEUED",
                        "PlacedAt": iso(now_dt),
                        "Attributes": dict(request.attributes),
                    },
                )
                event_store.append(
                    conn,
                    request.app_id,
                    "call.placed",
                    occurred_at=iso(now_dt),
                    send_key=request.send_key,
                    endpoint_id=request.endpoint_id,
                    user_id=request.user_id,
                    data={"CallId": request.call_id, "Provider": dialer.provider},
                )
    except IntegrityError:
        # Another worker placed this send at the same moment: answer with its call.
        with app.store.connect() as conn:
            existing = call_store.by_send_key(conn, request.send_key or "")
        if existing is None:
            raise
        return result_of(existing, key, dialer.provider)
    if busy is not None:
        return DeliveryResult(
            key=key,
            outcome="failed",
            provider=dialer.provider,
            reason=f"capacity: {busy}",
            data={"RetryAfterSeconds": 1},
        )
    try:
        provider_id = dialer.dial(request)
    except CallDeferred as exc:
        # Certainly not placed (e.g. throttled): forget the row so the same send can try again.
        with app.store.begin() as conn:
            call_store.delete_call(conn, request.app_id, request.call_id)
        return DeliveryResult(key=key, outcome="failed", provider=dialer.provider, reason=str(exc))
    except Exception as exc:
        reason = str(exc) if isinstance(exc, CallRefused) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, CallRefused):
            log.exception("call %s failed while being placed", request.call_id)
        calls.finish(app, request.app_id, request.call_id, outcome="FAILED", reason=reason)
        return DeliveryResult(
            key=key,
            outcome="failed",
            provider=dialer.provider,
            provider_message_id=request.call_id,
            permanent=True,
            reason=reason,
        )
    if provider_id is not None:
        with app.store.begin() as conn:
            call_store.update_call(
                conn, request.app_id, request.call_id, {"ProviderCallId": provider_id}
            )
    return DeliveryResult(
        key=key, outcome="sent", provider=dialer.provider, provider_message_id=request.call_id
    )


def deliver_calls(
    app: App,
    batch: Sequence[Delivery],
    dialer: Dialer,
    adjust: Callable[[CallRequest], CallRequest] | None = None,
) -> list[DeliveryResult]:
    """The VOICE ``Channel.deliver`` of every transport: place each call once, refuse opted-out."""
    out = []
    for delivery in batch:
        request = request_for(app, delivery, dialer)
        if adjust is not None:
            request = adjust(request)
        if delivery.endpoint.opted_out:
            out.append(refuse(app, request, dialer.provider, "opted out"))
            continue
        out.append(place(app, request, dialer))
    return out


def lookup_call(app: App, key: str, provider: str) -> DeliveryResult | None:
    """The VOICE ``Channel.lookup``: what became of the call placed for send ``key``."""
    with app.store.connect() as conn:
        call = call_store.by_send_key(conn, key)
    return None if call is None else result_of(call, key, provider)
