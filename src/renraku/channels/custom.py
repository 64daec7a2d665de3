"""The CUSTOM channel: Pinpoint's custom-channel event, to a webhook or a function.

A CUSTOM activity's ``DeliveryUri`` is an https URL (webhook, see ``custom_webhook``) or a function:
``arn:aws:lambda:REGION:ACCOUNT:function:NAME``, ``NAME`` or ``python:module:function``.
Deliveries that share an activity and a target go in batches of at most 50 endpoints, as Pinpoint
sends them; the answer ``{EndpointId: {"EventAttributes": {...}}}`` is kept per endpoint (in the
result's ``data`` and the event) for later splits. Opt-out and status are checked at send time.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from renraku.channels.base import Delivery, DeliveryResult
from renraku.channels.custom_webhook import event_attributes, post_event
from renraku.channels.pipeline import message_setting
from renraku.channels.policies import Backoff, ProviderError, RateLimiter, applies, screen
from renraku.domain.endpoints import Endpoint
from renraku.settings import Settings
from renraku.store import Store
from renraku.store import deliverability as dv
from renraku.store import endpoints as endpoint_store
from renraku.store import events as event_store

if TYPE_CHECKING:
    from renraku.app import App

BATCH = 50


def is_webhook(uri: str) -> bool:
    return uri.startswith(("https://", "http://"))


def custom_event(batch: Sequence[tuple[Delivery, Endpoint]], now: str) -> dict[str, Any]:
    """Pinpoint's custom-channel event for one batch (all deliveries share the activity)."""
    first = batch[0][0]
    endpoints = {}
    for _, endpoint in batch:
        entry = endpoint.to_pinpoint()
        entry.pop("ApplicationId", None)
        entry.pop("Id", None)
        endpoints[endpoint.id] = entry
    event: dict[str, Any] = {
        "ApplicationId": first.app_id,
        "JourneyId": first.journey_id,
        "ActivityId": first.activity_id,
        "ScheduledTime": now,
        "Data": message_setting(first.config, "Data") or "",
        "Endpoints": endpoints,
    }
    if first.config.get("CampaignId"):
        event["CampaignId"] = first.config["CampaignId"]
        event["TreatmentId"] = first.config.get("TreatmentId", "0")
    return event


class CustomChannel:
    """Sends CUSTOM deliveries to webhooks and functions."""

    name = "CUSTOM"

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        now: Callable[[], str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        from renraku.channels.pipeline import iso_now

        self.settings = settings
        self.store = store
        self.now = now or iso_now
        self._now_given = now is not None
        self.sleep = sleep
        self.backoff = Backoff(settings.policies.retry, rng or random.Random())  # noqa: S311
        self.rate_limiter = RateLimiter(store, settings.policies, sleep=sleep)

    def bind(self, app: App) -> None:
        """Stamp events with the App's clock (journey time), as the other channels do."""
        if not self._now_given:
            self.now = app.now_iso

    def lookup(self, key: str) -> DeliveryResult | None:
        with self.store.connect() as conn:
            row = dv.message_by_send_key(conn, key)
        if row is None:
            return None
        return DeliveryResult(key, "sent", row["provider"], provider_message_id=row["message_id"])

    def deliver(self, batch: Sequence[Delivery]) -> list[DeliveryResult]:
        results: dict[str, DeliveryResult] = {}
        ready: dict[tuple[str, str, str, str, str], list[tuple[Delivery, Endpoint]]] = {}
        with self.store.connect() as conn:
            for d in batch:
                known = dv.message_by_send_key(conn, d.key)
                if known is not None:
                    results[d.key] = DeliveryResult(
                        d.key,
                        "sent",
                        known["provider"],
                        known["message_id"],
                        data={"Duplicate": True},
                    )
                    continue
                endpoint = endpoint_store.find(conn, d.app_id, d.endpoint.id)
                reason = None
                if endpoint is not None and self.settings.policies.check_suppression:
                    found = dv.suppressed(conn, d.app_id, [endpoint.address])
                    reason = next(iter(found.values()), None)
                refusal = screen(endpoint, reason if applies(reason, "CUSTOM") else None)
                uri = str(d.config.get("DeliveryUri") or "")
                if refusal is None and not uri:
                    refusal = "the activity has no DeliveryUri"
                if refusal is not None or endpoint is None:
                    results[d.key] = self._failed(
                        d, d.endpoint, "suppressed" if uri else "failed", refusal or "", True
                    )
                    continue
                group = (
                    d.app_id,
                    d.journey_id or "",
                    d.activity_id or "",
                    uri,
                    json.dumps(message_setting(d.config, "Data") or ""),
                )
                ready.setdefault(group, []).append((d, endpoint))
        for (app_id, _, _, uri, _), items in ready.items():
            for start in range(0, len(items), BATCH):
                chunk = items[start : start + BATCH]
                for d, result in self._send(app_id, uri, chunk):
                    results[d.key] = result
        return [results[d.key] for d in batch]

    def _send(
        self, app_id: str, uri: str, chunk: list[tuple[Delivery, Endpoint]]
    ) -> list[tuple[Delivery, DeliveryResult]]:
        provider = "webhook" if is_webhook(uri) else "function"
        now = self.now()
        event = custom_event(chunk, now)
        request_id = str(uuid.uuid4())
        ids = [e.id for _, e in chunk]
        try:
            self.rate_limiter.acquire(provider)
            if provider == "webhook":
                with self.store.begin() as conn:
                    secret = dv.app_secret(conn, app_id, now=now)
                answer, attempts = post_event(
                    uri,
                    event,
                    secret,
                    self.settings.webhooks,
                    self.backoff,
                    self.sleep,
                    request_id=request_id,
                )
            else:
                answer, attempts = self._invoke(app_id, uri, event), 1
        except ProviderError as exc:
            return [
                (d, self._failed(d, e, "failed", exc.reason, exc.permanent, provider))
                for d, e in chunk
            ]
        attributes, ignored = event_attributes(answer, ids)
        out = []
        with self.store.begin() as conn:
            for d, endpoint in chunk:
                data: dict[str, Any] = {
                    "Provider": provider,
                    "Target": uri,
                    "RequestId": request_id,
                    "Attempts": attempts,
                }
                if endpoint.id in attributes:
                    data["EventAttributes"] = attributes[endpoint.id]
                if ignored:
                    data["AnswerIgnored"] = ignored
                dv.record_message(
                    conn,
                    provider=provider,
                    message_id=f"{request_id}:{endpoint.id}",
                    app_id=d.app_id,
                    channel="CUSTOM",
                    address=endpoint.address,
                    send_key=d.key,
                    endpoint_id=endpoint.id,
                    user_id=endpoint.user_id,
                    journey_id=d.journey_id,
                    activity_id=d.activity_id,
                    status="sent",
                    created_at=now,
                    updated_at=now,
                )
                self._event(conn, d, endpoint, "custom.sent", data, now)
                out.append(
                    (
                        d,
                        DeliveryResult(
                            d.key, "sent", provider, f"{request_id}:{endpoint.id}", data=data
                        ),
                    )
                )
        return out

    def _invoke(self, app_id: str, uri: str, event: dict[str, Any]) -> Any:
        from renraku import functions
        from renraku.app import App, SystemClock
        from renraku.errors import NotFound

        app = App(settings=self.settings, store=self.store, clock=SystemClock())
        try:
            result = functions.run(self.settings, uri, event, app=app, application=app_id)
        except NotFound as exc:
            raise ProviderError(str(exc), permanent=True, code="FunctionNotFound") from exc
        if result.error is not None:
            timed_out = result.error_type == "Sandbox.Timedout"
            raise ProviderError(
                f"function {result.function_name} failed: {result.error}",
                permanent=not timed_out,
                code=result.error_type,
            )
        return result.result

    def _failed(
        self,
        d: Delivery,
        endpoint: Endpoint,
        kind: str,
        reason: str,
        permanent: bool,
        provider: str = "custom",
    ) -> DeliveryResult:
        data = {"Provider": provider, "Reason": reason}
        with self.store.begin() as conn:
            self._event(conn, d, endpoint, f"custom.{kind}", data, self.now())
        return DeliveryResult(
            d.key, "failed", provider, permanent=permanent, reason=reason, data=data
        )

    def _event(
        self, conn: Any, d: Delivery, endpoint: Endpoint, kind: str, data: dict[str, Any], now: str
    ) -> None:
        event_store.append(
            conn,
            d.app_id,
            kind,
            occurred_at=now,
            user_id=endpoint.user_id,
            endpoint_id=endpoint.id,
            journey_id=d.journey_id,
            activity_id=d.activity_id,
            send_key=d.key,
            data=data,
        )
