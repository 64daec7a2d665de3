"""The one send path of every message channel: policies, rendering, the transport, records.

For each delivery of a batch: skip it if the provider already has it (same send key), re-read the
endpoint (opt-out and status are checked at send time), check the suppression list, render the
template, wait for a rate-limit token, hand it to the transport with retries, then record the
provider's message id and an event. Every outcome is a ``DeliveryResult``; nothing raises.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from renraku.channels import unsubscribe
from renraku.channels.base import Delivery, DeliveryResult
from renraku.channels.config import PolicySettings, WebhookSettings
from renraku.channels.policies import (
    Backoff,
    ProviderError,
    RateLimiter,
    applies,
    screen,
    with_retries,
)
from renraku.domain import templates as tpl
from renraku.domain.endpoints import Endpoint
from renraku.domain.timefmt import iso
from renraku.errors import NotFound
from renraku.store import Store
from renraku.store import deliverability as dv
from renraku.store import endpoints as endpoint_store
from renraku.store import events as event_store
from renraku.store import templates as template_store

if TYPE_CHECKING:
    from renraku.app import App

log = logging.getLogger("renraku.channels")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A delivery ready for its transport: the fresh endpoint and the rendered parts."""

    delivery: Delivery
    endpoint: Endpoint
    parts: Mapping[str, str]
    headers: Sequence[Mapping[str, str]] = ()
    unsubscribe_url: str | None = None
    missing: tuple[str, ...] = ()  # variables that had no value and no default (rendered empty)


@dataclass(frozen=True, slots=True)
class Sent:
    """What a transport reports for an accepted message."""

    message_id: str
    data: Mapping[str, Any] = field(default_factory=dict)


class Transport(Protocol):
    """One provider's way to send one rendered message."""

    provider: str
    channel: str  # EMAIL | SMS | VOICE

    def transmit(self, item: Outgoing) -> Sent:
        """Send ``item``; raise ProviderError when the provider refuses or fails."""
        ...

    def close(self) -> None:
        """Release connections held between messages of a batch."""
        ...


def message_setting(config: Mapping[str, Any], name: str) -> Any:
    """A message setting of an activity: at its top level, or in Pinpoint's ``MessageConfig``."""
    if config.get(name) not in (None, ""):
        return config[name]
    nested = config.get("MessageConfig")
    if isinstance(nested, Mapping) and nested.get(name) not in (None, ""):
        return nested[name]
    return None


INLINE_PARTS = (
    "Subject",
    "HtmlPart",
    "TextPart",
    "Body",
    "Title",
    "DefaultSubstitutions",
    "Headers",
)


@dataclass
class _BatchState:
    """Reads shared by the deliveries of one batch."""

    known: dict[str, dict[str, Any]] = field(default_factory=dict)
    endpoints: dict[tuple[str, str], Endpoint] = field(default_factory=dict)
    suppressed: dict[tuple[str, str], str] = field(default_factory=dict)
    templates: dict[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)


class PolicedChannel:
    """A ``Channel`` built from a transport and the shared policies (see the module docstring)."""

    def __init__(
        self,
        transport: Transport,
        store: Store,
        policies: PolicySettings,
        hooks: WebhookSettings,
        *,
        now: Callable[[], str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self.transport = transport
        self.name = transport.channel
        self.store = store
        self.policies = policies
        self.hooks = hooks
        self.now = now or (lambda: iso_now())
        self._now_given = now is not None
        self.sleep = sleep
        self.backoff = Backoff(policies.retry, rng or random.Random())  # noqa: S311 (jitter, not secrecy)
        self.rate_limiter = rate_limiter or RateLimiter(store, policies, sleep=sleep)

    def bind(self, app: App) -> None:
        """Stamp what this channel records (messages, events, suppressions) with the App's clock,
        so a journey on the virtual or accelerated clock sees its sends at journey time."""
        if not self._now_given:
            self.now = app.now_iso

    # -- Channel protocol ---------------------------------------------------------------------

    def deliver(self, batch: Sequence[Delivery]) -> list[DeliveryResult]:
        try:
            state = self._prefetch(batch)
            return [self._deliver_one(d, state) for d in batch]
        finally:
            try:
                self.transport.close()
            except Exception:  # closing must never lose results already obtained
                log.exception("closing %s transport failed", self.transport.provider)

    def _prefetch(self, batch: Sequence[Delivery]) -> _BatchState:
        """What the batch's checks read, in a few queries rather than several per message."""
        state = _BatchState()
        by_app: dict[str, list[str]] = {}
        for d in batch:
            by_app.setdefault(d.app_id, []).append(d.endpoint.id)
        with self.store.connect() as conn:
            state.known = dv.messages_by_send_keys(conn, [d.key for d in batch])
            for app_id, ids in by_app.items():
                found = endpoint_store.by_ids(conn, app_id, ids)
                state.endpoints.update({(app_id, e.id): e for e in found})
                if self.policies.check_suppression:
                    listed = dv.suppressed(conn, app_id, [e.address for e in found])
                    state.suppressed.update({(app_id, a): r for a, r in listed.items()})
        return state

    def lookup(self, key: str) -> DeliveryResult | None:
        with self.store.connect() as conn:
            row = dv.message_by_send_key(conn, key)
        if row is None:
            return None
        return DeliveryResult(
            key=key, outcome="sent", provider=row["provider"], provider_message_id=row["message_id"]
        )

    # -- one delivery ---------------------------------------------------------------------------

    def _deliver_one(self, d: Delivery, state: _BatchState) -> DeliveryResult:
        provider = self.transport.provider
        known = state.known.get(d.key)
        if known is not None:  # already accepted: never send twice
            return DeliveryResult(
                key=d.key,
                outcome="sent",
                provider=known["provider"],
                provider_message_id=known["message_id"],
                data={"Duplicate": True},
            )
        endpoint = state.endpoints.get((d.app_id, d.endpoint.id))
        reason_suppressed = None
        if endpoint is not None:
            reason_suppressed = state.suppressed.get(
                (d.app_id, dv.normalise_address(endpoint.address))
            )
            if not applies(reason_suppressed, self.name):
                reason_suppressed = None
        refusal = screen(endpoint, reason_suppressed)
        if refusal is not None or endpoint is None:
            return self._finish(d, d.endpoint, "suppressed", refusal or "", permanent=True)
        try:
            item = self._render(d, endpoint, state)
        except (tpl.RenderError, NotFound) as exc:
            return self._finish(d, endpoint, "failed", f"template: {exc}", permanent=True)
        except ProviderError as exc:
            return self._finish(d, endpoint, "failed", exc.reason, permanent=True)
        try:
            waited = self.rate_limiter.acquire(provider)
            sent, attempts = with_retries(
                lambda: self.transport.transmit(item), self.backoff, self.sleep
            )
        except ProviderError as exc:
            return self._provider_failure(d, endpoint, exc)
        except Exception as exc:  # an adapter bug must not crash the worker or lose the send
            log.exception("%s transport raised", provider)
            return self._finish(
                d,
                endpoint,
                "failed",
                f"{provider} error: {type(exc).__name__}: {exc}",
                permanent=False,
            )
        data = {
            "Provider": provider,
            "MessageId": sent.message_id,
            "Attempts": attempts,
            **sent.data,
        }
        if waited:
            data["RateLimitWaitSeconds"] = round(waited, 3)
        if item.missing:
            data["MissingVariables"] = list(item.missing)
        now = self.now()
        with self.store.begin() as conn:
            dv.record_message(
                conn,
                provider=provider,
                message_id=sent.message_id,
                app_id=d.app_id,
                channel=self.name,
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
            self._event(conn, d, endpoint, "sent", data, now)
        return DeliveryResult(
            key=d.key,
            outcome="sent",
            provider=provider,
            provider_message_id=sent.message_id,
            data=data,
        )

    def _render(self, d: Delivery, endpoint: Endpoint, state: _BatchState) -> Outgoing:
        ttype = "SMS" if self.name == "SMS" else self.name
        if d.template:
            cache_key = (d.app_id, d.template)
            cached = state.templates.get(cache_key)
            if cached is None:
                with self.store.connect() as conn:
                    cached = template_store.get(conn, d.app_id, d.template, ttype)
                state.templates[cache_key] = cached
            parts: Mapping[str, Any] = cached
        else:
            parts = {
                k: message_setting(d.config, k)
                for k in INLINE_PARTS
                if message_setting(d.config, k) is not None
            }
            if not parts:
                raise ProviderError(
                    "the activity names no template (TemplateName) and gives no message",
                    permanent=True,
                )
        unsubscribe_url = None
        if self.name == "EMAIL":
            secret = state.secrets.get(d.app_id)
            if secret is None:
                with self.store.begin() as conn:
                    secret = dv.app_secret(conn, d.app_id, now=self.now())
                state.secrets[d.app_id] = secret
            unsubscribe_url = unsubscribe.url(self.hooks.public_url, secret, d.app_id, endpoint.id)
        extra = {"UnsubscribeUrl": unsubscribe_url} if unsubscribe_url else None
        rendered = tpl.render(ttype, parts, endpoint, extra=extra)
        return Outgoing(
            d, endpoint, rendered.parts, rendered.headers, unsubscribe_url, rendered.missing
        )

    def _provider_failure(
        self, d: Delivery, endpoint: Endpoint, exc: ProviderError
    ) -> DeliveryResult:
        kind = "bounced" if exc.bounce else "failed"
        result = self._finish(d, endpoint, kind, exc.reason, permanent=exc.permanent, code=exc.code)
        if exc.bounce or exc.opt_out:
            now = self.now()
            with self.store.begin() as conn:
                dv.suppress(
                    conn,
                    d.app_id,
                    endpoint.address,
                    "BOUNCE" if exc.bounce else "STOP",
                    now=now,
                    detail=exc.reason,
                )
                if exc.opt_out and dv.opt_out_endpoint(conn, d.app_id, endpoint.id, now=now):
                    self._event(
                        conn,
                        d,
                        endpoint,
                        None,
                        {"Reason": exc.reason},
                        now,
                        kind="endpoint.opted_out",
                    )
        return result

    def _finish(
        self,
        d: Delivery,
        endpoint: Endpoint,
        kind: str,
        reason: str,
        *,
        permanent: bool,
        code: str | None = None,
    ) -> DeliveryResult:
        data: dict[str, Any] = {"Provider": self.transport.provider, "Reason": reason}
        if code:
            data["Code"] = code
        with self.store.begin() as conn:
            self._event(conn, d, endpoint, kind, data, self.now())
        return DeliveryResult(
            key=d.key,
            outcome="failed",
            provider=self.transport.provider,
            permanent=permanent,
            reason=reason,
            data=data,
        )

    def _event(
        self,
        conn: Any,
        d: Delivery,
        endpoint: Endpoint,
        suffix: str | None,
        data: Mapping[str, Any],
        now: str,
        *,
        kind: str | None = None,
    ) -> None:
        event_store.append(
            conn,
            d.app_id,
            kind or f"{self.name.lower()}.{suffix}",
            occurred_at=now,
            user_id=endpoint.user_id,
            endpoint_id=endpoint.id,
            journey_id=d.journey_id,
            activity_id=d.activity_id,
            send_key=d.key,
            data=dict(data),
        )


def iso_now() -> str:
    from datetime import UTC, datetime

    return iso(datetime.now(UTC))
