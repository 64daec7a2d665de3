"""Call records: finish a call (outcome event + journey wake-up), mark a participant reached,
place one call outside a journey, stop a call, read calls.

Placing calls (one per send, capacity, refusals) is :mod:`renraku.services.call_placement`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from renraku.app import App
from renraku.channels.base import Delivery, DeliveryResult
from renraku.domain.endpoints import Endpoint, apply_update
from renraku.errors import NotFound
from renraku.store import calls as call_store
from renraku.store import endpoints as endpoint_store
from renraku.store import events as event_store

OUTCOMES = ("ANSWERED", "NO_ANSWER", "BUSY", "VOICEMAIL", "FAILED")


def completed_event(
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
        completed_event(conn, app_id, call, outcome, digits, end, reason)
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
    attribute: str = "CallStatus",
    others: str = "CANCELED",
) -> list[str]:
    """The call endpoint's ``attribute`` becomes ``status``; the user's other endpoints whose
    ``attribute`` is still PENDING get ``others``. Returns the endpoint ids changed."""
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
        current = [v.upper() for v in ep.attributes.get(attribute, [])]
        if ep is call_ep:
            new = status
        elif current == ["PENDING"]:
            new = others
        else:
            continue
        changed.append(apply_update(ep, {"Attributes": {attribute: [new]}}, now=at))
    endpoint_store.upsert_many(conn, changed)
    for ep in changed:
        event_store.append(
            conn,
            app_id,
            "endpoint.updated",
            occurred_at=at,
            user_id=ep.user_id,
            endpoint_id=ep.id,
            data={"Attributes": {attribute: list(ep.attributes.get(attribute, []))}},
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


def sync(app: App, app_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """Ask the provider how calls still without an outcome went (Amazon Connect's
    DescribeContact); the calls that ended since. A provider that reports by itself (the
    simulator, Twilio's callbacks) has nothing to ask."""
    channel = app.channels.get("VOICE")
    poll = getattr(channel, "poll", None)
    if not callable(poll):
        return []
    with app.store.connect() as conn:
        waiting = call_store.pending(conn, app_id, str(getattr(channel, "provider", "")), limit)
    ended = []
    for call in waiting:
        result = poll(app_id, call["Id"])
        if result.get("Outcome") is not None:
            ended.append(result)
    return ended
