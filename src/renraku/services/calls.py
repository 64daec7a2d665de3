"""Call use cases shared by every voice provider: place a call once per send, check destination and
capacity, record the call, finish it (outcome event + journey wake-up), mark a participant reached.

A provider supplies only a :class:`Dialer` (how to start a call). Refusals (bad number, country not
allowed, unknown flow) are recorded as calls with outcome FAILED and a reason, so the timeline shows
them; capacity refusals are transient and record nothing (the engine retries the same send later).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import phonenumbers
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from renraku.app import App
from renraku.channels.base import Delivery, DeliveryResult
from renraku.domain.endpoints import Endpoint, apply_update
from renraku.domain.timefmt import iso, parse_iso
from renraku.errors import InvalidInput, NotFound
from renraku.services import flows as flow_service
from renraku.store import apps as app_store
from renraku.store import calls as call_store
from renraku.store import endpoints as endpoint_store
from renraku.store import events as event_store

log = logging.getLogger("renraku.voice")

OUTCOMES = ("ANSWERED", "NO_ANSWER", "BUSY", "VOICEMAIL", "FAILED")


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
        _completed_event(conn, request.app_id, record, "FAILED", "", now, reason)
    return DeliveryResult(
        key=request.send_key or request.call_id,
        outcome="failed",
        provider=provider,
        provider_message_id=request.call_id,
        permanent=True,
        reason=reason,
    )


def _completed_event(
    conn: Connection,
    app_id: str,
    call: Mapping[str, Any],
    outcome: str,
    digits: str,
    at: str,
    reason: str | None,
) -> None:
    event_store.append(
        conn,
        app_id,
        "call.completed",
        occurred_at=at,
        send_key=call.get("SendKey"),
        endpoint_id=call.get("EndpointId"),
        user_id=call.get("UserId"),
        journey_id=call.get("JourneyId"),
        activity_id=call.get("ActivityId"),
        data={"Outcome": outcome, "Digits": digits, "CallId": call["Id"], "Reason": reason},
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
        finish(app, request.app_id, request.call_id, outcome="FAILED", reason=reason)
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


def wake(conn: Connection, app_id: str, send_key: str | None, at: str) -> None:
    """Tell the journey engine the send's outcome is known at ``at``."""
    if not send_key:
        return
    from renraku.engine.wake import wake_for_send  # the engine imports channels: import late

    wake_for_send(conn, app_id, send_key, at=at)


def finish(
    app: App,
    app_id: str,
    call_id: str,
    *,
    outcome: str,
    digits: str = "",
    reason: str | None = None,
    ended_at: str | None = None,
    answered_at: str | None = None,
    updates: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Record how a call ended, append ``call.completed`` and wake the journey. Idempotent: a
    call that already has an outcome keeps it."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown call outcome {outcome!r}")
    end = ended_at or app.now_iso()
    with app.store.begin() as conn:
        call = call_store.get(conn, app_id, call_id)
        if call["Outcome"] is not None:
            return call
        values: dict[str, Any] = dict(updates or {})
        values.update(
            {"Status": "ENDED", "Outcome": outcome, "Digits": digits[:64], "EndedAt": end}
        )
        if reason is not None:
            values["Reason"] = reason
        if answered_at is not None:
            values["AnsweredAt"] = answered_at
        call_store.update_call(conn, app_id, call_id, values)
        call = call_store.get(conn, app_id, call_id)
        _completed_event(conn, app_id, call, outcome, digits, end, reason)
        wake(conn, app_id, call["SendKey"], end)
    return call


def mark_reached(
    conn: Connection,
    app_id: str,
    *,
    user_id: str | None,
    endpoint_id: str | None,
    address: str,
    status: str,
    at: str,
) -> list[str]:
    """The call endpoint's ``CallStatus`` becomes ``status``; the user's other endpoints still
    PENDING become CANCELED. Returns the endpoint ids changed."""
    eps = endpoint_store.by_user(conn, app_id, user_id) if user_id else []
    if endpoint_id and not any(e.id == endpoint_id for e in eps):
        found = endpoint_store.find(conn, app_id, endpoint_id)
        eps += [found] if found is not None else []
    call_ep = next((e for e in eps if e.id == endpoint_id), None)
    if call_ep is None:
        phone = [e for e in eps if e.address == address]
        call_ep = next((e for e in phone if e.channel_type in ("VOICE", "CUSTOM")), None)
        call_ep = call_ep or (phone[0] if phone else None)
    changed = []
    for ep in eps:
        current = [v.upper() for v in ep.attributes.get("CallStatus", [])]
        if ep is call_ep:
            new = status
        elif current == ["PENDING"]:
            new = "CANCELED"
        else:
            continue
        changed.append(apply_update(ep, {"Attributes": {"CallStatus": [new]}}, now=at))
    endpoint_store.upsert_many(conn, changed)
    for ep in changed:
        event_store.append(
            conn,
            app_id,
            "endpoint.updated",
            occurred_at=at,
            user_id=ep.user_id,
            endpoint_id=ep.id,
            data={"Attributes": {"CallStatus": list(ep.attributes.get("CallStatus", []))}},
        )
    return [ep.id for ep in changed]


def list_calls(
    app: App,
    app_id: str,
    *,
    user_id: str | None = None,
    outcome: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    with app.store.connect() as conn:
        return call_store.list_calls(conn, app_id, user_id=user_id, outcome=outcome, limit=limit)


def show_call(app: App, app_id: str, call_id: str) -> dict[str, Any]:
    with app.store.connect() as conn:
        return call_store.get(conn, app_id, call_id)


def start_outbound(
    app: App,
    app_id: str,
    *,
    address: str,
    flow: str | None,
    attributes: Mapping[str, str] | None = None,
    origination: str | None = None,
    client_token: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> DeliveryResult:
    """Place one call outside any journey (Connect's StartOutboundVoiceContact, the CLI).

    ``client_token`` makes the request idempotent: the same token answers with the same call.
    The user named by ``attributes["UserId"]`` and their endpoint with this number (if any) are
    attached to the call, so its timeline and MarkReached find them.
    """
    attrs = {str(k): str(v) for k, v in (attributes or {}).items()}
    user_id = attrs.get("UserId")
    endpoint = Endpoint(
        app_id=app_id, id="", channel_type="VOICE", address=address, user_id=user_id
    )
    if user_id:
        with app.store.connect() as conn:
            mine = [
                e for e in endpoint_store.by_user(conn, app_id, user_id) if e.address == address
            ]
        preferred = [e for e in mine if e.channel_type in ("VOICE", "CUSTOM")] or mine
        if preferred:
            endpoint = preferred[0]
    key = f"outbound:{app_id}:{client_token}" if client_token else f"outbound:{uuid.uuid4()}"
    config: dict[str, Any] = {"Attributes": attrs, **(extra or {})}
    if flow:
        config["ContactFlowId"] = flow
    if origination:
        config["OriginationNumber"] = origination
    channel = app.channels.get("VOICE")
    if channel is None:
        raise NotFound("channel", "VOICE")
    delivery = Delivery(key=key, app_id=app_id, channel="VOICE", endpoint=endpoint, config=config)
    return channel.deliver([delivery])[0]


def stop(app: App, app_id: str, call_id: str) -> dict[str, Any]:
    """End a call now (StopContact). A call whose end was already computed for a later time (the
    simulator) ends now instead; one still running with a live provider is finished here."""
    now = app.now_iso()
    with app.store.begin() as conn:
        call = call_store.get(conn, app_id, call_id)
        if call["Outcome"] is not None:
            if call["EndedAt"] and call["EndedAt"] > now:
                call_store.update_call(
                    conn, app_id, call_id, {"EndedAt": now, "Reason": "stopped by StopContact"}
                )
            return call_store.get(conn, app_id, call_id)
    answered = call["AnsweredAt"] is not None and call["AnsweredAt"] <= now
    return finish(
        app,
        app_id,
        call_id,
        outcome="ANSWERED" if answered else "NO_ANSWER",
        reason="stopped by StopContact",
        ended_at=now,
    )


def save_progress(
    app: App,
    app_id: str,
    call_id: str,
    *,
    state: Mapping[str, Any] | None = None,
    transcript: list[dict[str, Any]] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Store a running call's flow state and the transcript entries added since the last save."""
    with app.store.begin() as conn:
        call = call_store.get(conn, app_id, call_id)
        updates: dict[str, Any] = dict(values or {})
        if state is not None:
            updates["State"] = dict(state)
            updates["Path"] = list(state.get("Path") or [])
            updates["Attributes"] = dict(state.get("Attributes") or {})
            updates["Digits"] = "".join(state.get("Inputs") or [])[:64]
        if transcript:
            updates["Transcript"] = [*(call["Transcript"] or []), *transcript]
        if updates:
            call_store.update_call(conn, app_id, call_id, updates)
        return call_store.get(conn, app_id, call_id)
